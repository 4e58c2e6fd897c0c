"""The rule registry: stable ids, complete documentation, and the place of the lint package in the layering."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from qdqtool.errors import BadInputError
from qdqtool.gate.registry import SIDES, all_rules, find_rule

# Ids are public (configs, waivers and baselines name them): this list only ever grows.
STABLE_IDS = {
    "QDQ100": "scale-mismatch", "QDQ101": "concat-scale-mismatch", "QDQ102": "move-through-scale-mismatch",
    "QDQ103": "fan-out-scale-mismatch", "QDQ104": "residual-add-scale-mismatch",
    "QDQ105": "requantize-scale-mismatch", "QDQ106": "qdq-pair-mismatch", "QDQ110": "unquantized-residual-skip",
    "QDQ111": "nonzero-zero-point", "QDQ112": "per-channel-activation", "QDQ113": "qdq-on-graph-output",
    "QDQ114": "unsupported-qdq-type", "QDQ115": "computed-scale", "QDQ201": "unfused-qdq-layer",
    "QDQ202": "reformat-time-share", "QDQ203": "conv-not-int8", "QDQ204": "float-compute-in-fp32",
    "QDQ301": "count-regression",
    "QDQ302": "qdq-layer-limit", "QDQ303": "latency-regression", "QDQ901": "unused-waiver",
}
PACKAGE = Path(__file__).resolve().parents[2] / "qdqtool"


def test_ids_and_names_never_change():
    assert {r.id: r.name for r in all_rules()} == STABLE_IDS


def test_every_rule_is_documented():
    prefix = {"onnx": "QDQ1", "engine": "QDQ2", "baseline": "QDQ3", "meta": "QDQ9"}
    for rule in all_rules():
        assert re.fullmatch(r"QDQ\d{3}", rule.id) and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
        assert rule.side in SIDES and rule.id.startswith(prefix[rule.side])
        assert rule.summary.endswith(".") and len(rule.explanation) > 60 and len(rule.fix) > 20, rule.id


def test_find_rule_by_id_or_name():
    assert find_rule("qdq101").name == "concat-scale-mismatch"
    assert find_rule("unfused-qdq-layer").id == "QDQ201"
    with pytest.raises(BadInputError, match="did you mean concat-scale-mismatch"):
        find_rule("concat-scale-mismatc")


def test_nothing_below_the_report_layer_imports_the_lint_package():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        layer = path.relative_to(PACKAGE).parts[0]
        if layer in ("report", "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path}: {n}" for n in names if n.startswith("qdqtool.report")]
    assert offenders == []
