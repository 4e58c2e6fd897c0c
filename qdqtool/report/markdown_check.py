"""Markdown for ``qdqtool check`` (fits ``$GITHUB_STEP_SUMMARY`` and pull-request comments) and the rules table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdqtool.gate.registry import LintRule, Severity, Violation

if TYPE_CHECKING:  # for type hints only: report renders what a job returned
    from qdqtool.jobs.check import CheckResult, ModelCheck


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>").replace("\r", "")


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def _finding_row(v: Violation, fail_on: str) -> list[object]:
    mark = "❌" if v.gates(fail_on) else {"error": "🔴", "warning": "🟡", "info": "🔵"}[v.severity.value]
    return [mark, f"`{v.rule.id}` {v.rule.name}", f"`{v.where}`" if v.where else "-", v.message]


def _model_section(run: ModelCheck) -> list[str]:
    verdict = "✅ PASSED" if run else "❌ FAILED"
    lines = [f"### {verdict}: `{run.model}`", ""]
    lines.append(f"Target **{run.target}**, fail on **{run.fail_on}**"
                 + (f", config `{run.config}`" if run.config else "")
                 + (f", baseline `{run.baseline}`" if run.baseline else "") + ".")
    lines.append("")
    counts = [[s.value, run.count(s)] for s in Severity]
    counts += [["waived", len(run.waived)], ["in baseline", len(run.baselined)], ["failing the gate", len(run.failing)]]
    lines += _table(["findings", "count"], counts)
    active = [v for v in run.violations if v.waived is None and not v.baselined]
    if active:
        lines += ["", "| | rule | where | finding |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(cell(c) for c in _finding_row(v, run.fail_on)) + " |" for v in active]
        fixes: dict[str, list[str]] = {}
        for v in active:
            if f"`{v.rule.id}` {v.rule.name}" not in fixes.get(v.rule.fix, []):
                fixes.setdefault(v.rule.fix, []).append(f"`{v.rule.id}` {v.rule.name}")
        lines += ["", "**How to fix**", ""]
        lines += [f"- {', '.join(names)}: {fix}" for fix, names in fixes.items()]
    quiet = [v for v in run.violations if v.waived is not None or v.baselined]
    if quiet:
        lines += ["", f"<details><summary>Waived or in the baseline ({len(quiet)})</summary>", ""]
        rows = [[f"`{v.rule.id}`", f"`{v.where}`" if v.where else "-",
                 f"waived: {v.waived}" if v.waived is not None else "in baseline", v.message] for v in quiet]
        lines += _table(["rule", "where", "why not failing", "finding"], rows)
        lines += ["", "</details>"]
    skipped = [s for s in run.statuses if s.state != "ran"]
    if skipped:
        lines += ["", f"<details><summary>Rules not run ({len(skipped)})</summary>", ""]
        lines += [f"- `{s.rule.id}` {s.rule.name}: {s.reason}" for s in skipped]
        lines += ["", "</details>"]
    return lines


def check_markdown(result: CheckResult) -> str:
    """A Markdown summary of a check."""
    verdict = "PASSED" if result else "FAILED"
    lines = [f"## qdqtool check: {verdict}", ""]
    for run in result.runs:
        lines += _model_section(run) + [""]
    return "\n".join(lines).rstrip() + "\n"


def rules_markdown(rules: list[LintRule]) -> str:
    """The rules as one Markdown table (for the README)."""
    rows = [[f"`{r.id}`", f"`{r.name}`", r.side, r.severity.value, r.summary, r.fix] for r in rules]
    return "\n".join(_table(["id", "name", "side", "default severity", "what", "fix"], rows)) + "\n"
