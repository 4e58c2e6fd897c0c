"""GitHub Actions workflow commands (``::error file=...::message``): annotations on the pull request.

Findings that fail the gate become ``::error``, other active ones ``::warning`` or ``::notice`` by severity;
waived findings and those in the baseline are not annotated. Values are escaped as the runner expects
(``%``, CR and LF everywhere; ``:`` and ``,`` in properties too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdqtool.gate.registry import Severity
from qdqtool.report.sarif import artifact_uri

if TYPE_CHECKING:  # for type hints only: report renders what a job returned
    from qdqtool.jobs.check import CheckResult


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def check_github(result: CheckResult) -> str:
    """One workflow command per active finding, then a notice with the verdict."""
    lines = []
    for run in result.runs:
        path = artifact_uri(run.model)
        for v in run.violations:
            if v.waived is not None or v.baselined:
                continue
            if v.gates(run.fail_on):
                command = "error"
            else:
                command = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}[v.severity]
                command = "warning" if command == "error" else command  # not gating: never shown as an error
            title = escape_property(f"{v.rule.id} {v.rule.name}")
            where = f" [{v.where}]" if v.where and v.where not in v.message else ""
            lines.append(f"::{command} file={escape_property(path)},line=1,title={title}::"
                         f"{escape_data(v.message + where + ' - fix: ' + v.rule.fix)}")
    failing = len(result.failing)
    verdict = f"qdqtool check FAILED: {failing} finding(s) fail the gate" if failing else "qdqtool check PASSED"
    lines.append(f"::notice title=qdqtool check::{escape_data(verdict)}")
    return "\n".join(lines) + "\n"
