"""JUnit XML output of ``qdqtool check``: one test suite per model, one test case per rule.

A rule's test case fails when it has findings that fail the gate (``--fail-on``); findings that do not (lower
severity, waived, in the baseline) are listed in its ``system-out``. Disabled rules and rules that could not run
(no engine, no baseline) are skipped, with the reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from qdqtool.gate.registry import Violation

if TYPE_CHECKING:  # for type hints only: report renders what a job returned
    from qdqtool.jobs.check import CheckResult, ModelCheck


def _line(v: Violation) -> str:
    state = f" [waived: {v.waived}]" if v.waived is not None else " [in baseline]" if v.baselined else ""
    return f"{v.severity.value}: {v.message}{state}"


def _suite(run: ModelCheck) -> ET.Element:
    suite = ET.Element("testsuite", name=f"qdqtool check {run.model}")
    tests = failures = skipped = 0
    for status in run.statuses:
        rule = status.rule
        case = ET.SubElement(suite, "testcase", classname=f"qdqtool.{rule.side}", name=f"{rule.id} {rule.name}",
                             time="0")
        tests += 1
        if status.state != "ran":
            ET.SubElement(case, "skipped", message=status.reason or status.state)
            skipped += 1
            continue
        found = [v for v in run.violations if v.rule is rule]
        gating = [v for v in found if v.gates(run.fail_on)]
        if gating:
            failures += 1
            failure = ET.SubElement(case, "failure", type=status.severity.value,
                                    message=f"{len(gating)} finding(s): {rule.summary}")
            failure.text = "\n".join(_line(v) for v in gating) + f"\nfix: {rule.fix}\n"
        rest = [v for v in found if v not in gating]
        if rest:
            ET.SubElement(case, "system-out").text = "\n".join(_line(v) for v in rest) + "\n"
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    suite.set("time", "0")
    return suite


def check_junit(result: CheckResult) -> str:
    """The JUnit XML document (a string) of a check."""
    root = ET.Element("testsuites", name="qdqtool check")
    suites = [_suite(run) for run in result.runs]
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key)) for s in suites)))
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
