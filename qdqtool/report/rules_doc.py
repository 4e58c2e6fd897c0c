"""The documentation of the check rules (``qdqtool rules``): one rule in full, the table of all, their JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # for type hints only: report renders what a job returned
    from qdqtool.gate.registry import LintRule


def rule_dict(rule: LintRule) -> dict:
    """``{id, name, side, severity, summary, explanation, fix, options[]}``: one rule for ``--format json``."""
    return {
        "id": rule.id, "name": rule.name, "side": rule.side, "severity": rule.severity.value,
        "summary": rule.summary, "explanation": rule.explanation, "fix": rule.fix,
        "options": [{"name": n, "default": d, "help": h} for n, d, h in rule.options],
    }


def rule_detail(rule: LintRule) -> RenderableType:
    """One rule in full: what it finds, why it matters, how to fix it, its options."""
    lines: list[RenderableType] = [
        Text.assemble((f"{rule.id} {rule.name}", "bold"), f" ({rule.side} side, default {rule.severity.value})"),
        Text(f"  what: {rule.summary}"), Text(f"  why:  {rule.explanation}"), Text(f"  fix:  {rule.fix}"),
    ]  # Text, not markup: rule texts quote config tables such as [rules.QDQ101]
    lines += [Text(f"  option {name} (default {default}): {help_text}") for name, default, help_text in rule.options]
    return Group(*lines)


def rules_table(rules: list[LintRule]) -> RenderableType:
    """Every rule, a row each, and how to read one in full."""
    table = Table(title="qdqtool check rules", title_justify="left")
    for column in ("id", "name", "side", "severity", "what"):
        table.add_column(column, no_wrap=column != "what")
    for r in rules:
        table.add_row(r.id, r.name, r.side, r.severity.value, r.summary)
    return Group(table, "`qdqtool rules RULE` shows why a rule matters and how to fix it.")
