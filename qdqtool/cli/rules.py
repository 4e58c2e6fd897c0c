"""qdqtool rules: the documentation of every `qdqtool check` rule."""

from __future__ import annotations

import click

from qdqtool.jobs.rules import lint_rules
from qdqtool.report.console import terminal
from qdqtool.report.markdown_check import rules_markdown
from qdqtool.report.rules_doc import rule_detail, rule_dict, rules_table
from qdqtool.report.strict_json import dumps


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
        click.echo(dumps([rule_dict(r) for r in rules]), nl=False)
    elif fmt == "markdown":
        click.echo(rules_markdown(rules), nl=False)
    else:
        terminal().print(rule_detail(rules[0]) if rule else rules_table(rules))
