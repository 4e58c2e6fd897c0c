"""qdqtool rules: the documentation of every `qdqtool check` rule."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from qdqtool.jobs.rules import lint_rules
from qdqtool.report.console import terminal
from qdqtool.report.markdown_check import rules_markdown


def _rule_dict(rule) -> dict:
    return {
        "id": rule.id, "name": rule.name, "side": rule.side, "severity": rule.severity.value,
        "summary": rule.summary, "explanation": rule.explanation, "fix": rule.fix,
        "options": [{"name": n, "default": d, "help": h} for n, d, h in rule.options],
    }


def _print_one(console: Console, rule) -> None:
    console.print(Text(f"{rule.id} {rule.name}", style="bold"), f"({rule.side} side, default {rule.severity.value})")
    console.print(f"  what: {rule.summary}")
    console.print(f"  why:  {rule.explanation}")
    console.print(f"  fix:  {rule.fix}")
    for name, default, help_text in rule.options:
        console.print(f"  option {name} (default {default}): {help_text}")


@click.command("rules")
@click.argument("rule", required=False)
@click.option("--format", "fmt", type=click.Choice(["pretty", "json", "markdown"]), default="pretty",
              show_default=True, help="pretty: a table (or one rule in full); json: all fields; markdown: a table.")
def command(rule: str | None, fmt: str) -> None:
    """Document the rules of `qdqtool check`: id, name, side, default severity, what, why, how to fix.

    Give RULE (an id such as QDQ101 or a name such as concat-scale-mismatch) to show one rule in full.
    Ids are stable: QDQ1xx read the ONNX model, QDQ2xx the engine (--engine), QDQ3xx compare with a
    baseline or a limit, QDQ9xx are about the check itself. Severities and options are set per rule in
    qdqtool.toml or [tool.qdqtool] of pyproject.toml ([rules.QDQ101] severity = "warning").

    --format json prints a list of {id, name, side, severity, summary, explanation, fix, options[]}.
    Exit codes: 0 printed, 2 unknown rule.
    """
    rules = lint_rules(rule)
    if fmt == "json":
        click.echo(json.dumps([_rule_dict(r) for r in rules], indent=2))
        return
    if fmt == "markdown":
        click.echo(rules_markdown(rules), nl=False)
        return
    console = terminal()
    if rule:
        _print_one(console, rules[0])
        return
    table = Table(title="qdqtool check rules", title_justify="left")
    for column in ("id", "name", "side", "severity", "what"):
        table.add_column(column, no_wrap=column != "what")
    for r in rules:
        table.add_row(r.id, r.name, r.side, r.severity.value, r.summary)
    console.print(table)
    console.print("`qdqtool rules RULE` shows why a rule matters and how to fix it.")
