"""Markdown summary for $GITHUB_STEP_SUMMARY, and the rules table."""

from __future__ import annotations

from qdqtool.gate.registry import all_rules
from qdqtool.report.markdown_check import cell, check_markdown, rules_markdown


def test_summary(check_result):
    text = check_markdown(check_result)
    assert text.startswith("## qdqtool check: FAILED\n")
    assert "### ❌ FAILED: `" in text and "| failing the gate | 3 |" in text
    assert "| ❌ | `QDQ101` concat-scale-mismatch | `neck.cat_p3` |" in text
    assert "waived: accepted, 50% of P4 \\| see #12" in text, "a | inside a cell is escaped"
    assert "<summary>Rules not run" in text and "`QDQ303` latency-regression: no baseline" in text


def test_cell_escapes_pipes_and_newlines():
    assert cell("a|b\nc") == "a\\|b<br>c"


def test_rules_table_lists_every_rule():
    table = rules_markdown(all_rules()).splitlines()
    assert table[0] == "| id | name | side | default severity | what | fix |"
    assert len(table) == 2 + len(all_rules())
