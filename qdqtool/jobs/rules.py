"""The ``rules`` job: the lint rules of ``qdqtool check``, all of them or one by id or name."""

from __future__ import annotations

from qdqtool.gate.registry import LintRule, all_rules, find_rule


def lint_rules(key: str | None = None) -> list[LintRule]:
    """Every registered rule by id, or the one called ``key`` (BadInputError naming close ones otherwise)."""
    return [find_rule(key)] if key else all_rules()
