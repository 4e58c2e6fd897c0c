"""JUnit XML: one test case per rule; failures for gating findings, skips for rules that did not run."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from qdqtool.report.junit import check_junit


def test_one_case_per_rule_with_failures_and_skips(check_result):
    root = ET.fromstring(check_junit(check_result))
    (suite,) = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert len(cases) == len(check_result.runs[0].statuses) == int(suite.get("tests")) == int(root.get("tests"))
    concat = cases["QDQ101 concat-scale-mismatch"]
    (failure,) = concat.findall("failure")
    assert failure.get("message").startswith("2 finding(s)") and "neck.cat_p3" in failure.text
    assert "waived: accepted, 50% of P4" in concat.find("system-out").text
    fan_out = cases["QDQ103 fan-out-scale-mismatch"]
    assert fan_out.find("failure") is None and "warning:" in fan_out.find("system-out").text
    assert cases["QDQ201 unfused-qdq-layer"].find("failure") is not None
    skipped = cases["QDQ303 latency-regression"].find("skipped")
    assert "no baseline" in skipped.get("message")
    assert cases["QDQ106 qdq-pair-mismatch"].find("failure") is None
    assert suite.get("failures") == "2" and int(suite.get("skipped")) >= 3
