"""Lint rules for ``qdqtool check``: registry, ONNX-side and engine-side rules, config, waivers, baseline.

The package sits at the report level of the layering (it reads analysis and engine data); nothing below
``qdqtool.report`` imports it.
"""

from qdqtool.report.lint.registry import LintRule, Severity, Violation, all_rules, find_rule
from qdqtool.report.lint.run import CheckRequest, CheckResult, ModelCheck, run_check

__all__ = [
    "CheckRequest", "CheckResult", "ModelCheck", "LintRule", "Severity", "Violation", "all_rules", "find_rule",
    "run_check",
]
