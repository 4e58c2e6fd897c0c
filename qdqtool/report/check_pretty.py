"""The terminal output of ``qdqtool check`` (rich), ending with a ``PASSED | ...`` or ``FAILED | ...`` line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from qdqtool.gate.registry import Severity

if TYPE_CHECKING:  # for type hints only: report renders what a job returned
    from qdqtool.jobs.check import CheckResult, ModelCheck

_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def _findings_table(run: ModelCheck) -> Table:
    table = Table(title=f"qdqtool check {run.model} (target {run.target}, fail on {run.fail_on})",
                  title_justify="left", expand=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("where")
    table.add_column("finding")
    for v in run.violations:
        label = Text(v.severity.value, style=_STYLE[v.severity])
        if v.gates(run.fail_on):
            label.append(" (gate)", style="bold red")
        finding = Text(v.message)
        if v.waived is not None:
            label = Text(f"waived {v.severity.value}", style="dim")
            finding.append(f"\nwaived: {v.waived}", style="dim")
        elif v.baselined:
            label = Text(f"baseline {v.severity.value}", style="dim")
        table.add_row(label, f"{v.rule.id} {v.rule.name}", v.where or "-", finding)
    return table


def print_model_check(console: Console, run: ModelCheck) -> None:
    if run.violations:
        console.print(_findings_table(run))
        fixes: dict[str, list[str]] = {}
        for v in run.violations:
            if v.waived is None and not v.baselined and v.rule.id not in fixes.get(v.rule.fix, []):
                fixes.setdefault(v.rule.fix, []).append(v.rule.id)
        for fix, rule_ids in fixes.items():
            console.print(Text(f"fix {', '.join(rule_ids)}: {fix}", style="cyan"))
    else:
        console.print(f"{run.model}: no findings (target {run.target})")
    by_reason: dict[str, list[str]] = {}
    for status in run.statuses:
        if status.state == "skipped":
            by_reason.setdefault(status.reason, []).append(status.rule.id)
    if by_reason:
        text = "; ".join(f"{', '.join(ids)}: {reason}" for reason, ids in by_reason.items())
        console.print(Text(f"not run: {text}", style="dim"))
    for note in run.notes:
        console.print(Text(f"note: {note}", style="dim"))


def status_line(result: CheckResult) -> str:
    """``PASSED | 0 error(s), 2 warning(s), 1 info | 1 waived | fail on error``."""
    labels = {Severity.ERROR: "error(s)", Severity.WARNING: "warning(s)", Severity.INFO: "info"}
    counts = ", ".join(f"{result.count(s)} {labels[s]}" for s in Severity)
    quiet = []
    waived = sum(len(run.waived) for run in result.runs)
    baselined = sum(len(run.baselined) for run in result.runs)
    if waived:
        quiet.append(f"{waived} waived")
    if baselined:
        quiet.append(f"{baselined} in baseline")
    fail_on = ", ".join(sorted({run.fail_on for run in result.runs}))
    models = f"{len(result.runs)} models | " if len(result.runs) > 1 else ""
    parts = [f"{models}{counts}", *quiet, f"fail on {fail_on}"]
    if result:
        return "PASSED | " + " | ".join(parts)
    return f"FAILED | {len(result.failing)} finding(s) fail the gate | " + " | ".join(parts)


def print_check(console: Console, result: CheckResult) -> None:
    for run in result.runs:
        print_model_check(console, run)


def pretty_text(result: CheckResult) -> str:
    """The terminal output as plain text, 120 columns wide (what ``--format pretty --output FILE`` writes)."""
    console = Console(width=120, record=True, force_terminal=False, color_system=None, markup=False, emoji=False)
    with console.capture() as capture:
        print_check(console, result)
    return capture.get() + status_line(result) + "\n"
