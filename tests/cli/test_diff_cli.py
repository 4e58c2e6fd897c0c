"""`qdqtool diff` through the real entry point: exit codes, tables, --json, --markdown, -o."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine_json"
BEFORE, AFTER = str(FIXTURES / "trt84_before"), str(FIXTURES / "trt84_after")


def run(capsys, *args: str) -> tuple[int, str, str]:
    result = run_cli(capsys, "diff", *args)
    return result.code, result.out, result.err


def test_help_documents_the_json_schema(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for word in (
        "schema_version",
        "verdict_line",
        "match_keys",
        "onnx_overlap",
        "fusion_changes",
        "--before-profile",
        "--after-timing",
        "--time-tolerance",
    ):
        assert word in out, word


def test_table_output_ends_with_the_verdict(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich folds long names at the 80 columns of a pipe
    code, out, err = run(capsys, BEFORE, AFTER)
    assert code == 0 and err == ""
    assert "Q/DQ layers gone (2)" in out and "QuantizeLinear_15" in out and "Fusion changes (1)" in out
    assert "MaxPool_12" in out and "Precision changes (2)" in out
    assert out.strip().splitlines()[-1].startswith("IMPROVED | unfused Q/DQ layers 3 -> 1")


def test_json_output(capsys):
    code, out, _ = run(capsys, BEFORE, AFTER, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["command"] == "diff" and doc["verdict"] == "improved"
    assert doc["renumbered"] is True
    assert doc["match_keys"] == {"onnx_nodes": 0, "onnx_overlap": 0, "weights": 4, "name": 1, "signature": 1}
    assert doc["totals"]["qdq_layers"] == {"before": 3, "after": 1, "delta": -2}
    assert doc["totals"]["layer_time_ms"]["before"] == pytest.approx(0.36)
    assert doc["totals"]["median_latency_ms"]["after"] == pytest.approx(0.205)
    assert doc["qdq"]["before"] == ["QuantizeLinear_2", "QuantizeLinear_15", "QuantizeLinear_40"]
    assert [c["nodes"] for c in doc["qdq"]["removed"]] == [["QuantizeLinear_15"], ["QuantizeLinear_40"]]
    [fusion] = doc["fusion_changes"]
    assert fusion["absorbed"] == ["MaxPool_12"] and fusion["key"] == "weights"
    assert {(p["precision_before"], p["precision_after"]) for p in doc["precision_changes"]} == {
        ("fp32", "int8"),
        ("fp16", "int8"),
    }
    deltas = [abs(p["delta_ms"]) for p in doc["timing"]]
    assert deltas == sorted(deltas, reverse=True)
    assert {p["status"] for p in doc["pairs"]} == {"paired", "removed"}


def test_markdown_for_a_pull_request(capsys):
    code, out, _ = run(capsys, str(FIXTURES / "trt10_metadata"), str(FIXTURES / "trt10_metadata_merged"), "--markdown")
    assert code == 0
    assert "**IMPROVED | unfused Q/DQ layers 2 -> 1" in out
    assert "| /act_quantizer/QuantizeLinear | fp16 -> int8 | 0.0050 | PWN(/act/Sigmoid, /act/Mul, " in out
    assert "| onnx_overlap | /act_quantizer/QuantizeLinear | - |" in out


def test_files_with_explicit_profiles(capsys):
    code, out, _ = run(
        capsys,
        str(FIXTURES / "names_only.layers.json"),
        str(FIXTURES / "trt84_after" / "layers.json"),
        "--before-profile",
        str(FIXTURES / "trt84_before" / "small.onnx.engine.profile.json"),
        "--after-profile",
        str(FIXTURES / "trt84_after" / "profile.json"),
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["totals"]["layer_time_ms"]["after"] == pytest.approx(0.205)
    assert doc["totals"]["median_latency_ms"] is None  # no timing files given
    assert any("names-only" in note for note in doc["notes"])


def test_regression_still_exits_0_and_the_verdict_line_is_never_wrapped(capsys):
    code, out, _ = run(capsys, AFTER, BEFORE)  # 80 columns: the verdict line is longer and stays whole
    assert code == 0
    assert out.strip().splitlines()[-1] == (
        "REGRESSED | unfused Q/DQ layers 1 -> 3 | reformat layers 0 -> 1 | sum of layer times 0.205 -> 0.360 ms "
        "(+75.6%) | median latency 0.205 -> 0.305 ms (+48.8%)"
    )


def test_top_limits_the_timing_rows(capsys):
    code, out, _ = run(capsys, BEFORE, AFTER, "--markdown", "--top", "2")
    assert code == 0 and "### Largest per-layer time changes (2 of 11)" in out


def test_output_file(capsys, tmp_path):
    target = tmp_path / "diff.md"
    code, out, err = run(capsys, BEFORE, AFTER, "--markdown", "-o", str(target))
    assert code == 0 and out == "" and "wrote" in err
    assert target.read_text().startswith("## qdqtool diff:")


def test_bad_input_exits_2(capsys, tmp_path):
    (tmp_path / "x.json").write_text("[1, 2]")
    code, out, err = run(capsys, BEFORE, str(tmp_path / "x.json"))
    assert code == 2 and out == "" and "JSON of another kind" in err and err.count("\n") == 1
    code, _, err = run(capsys, BEFORE)
    assert code == 2 and "Missing argument 'AFTER'" in err


def test_real_samples_resnet18(capsys, trt_samples):
    base = trt_samples / "trex-resnet18-pytorch-A100"
    code, out, _ = run(capsys, str(base / "qat"), str(base / "qat-residual"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["totals"]["qdq_layers"] == {"before": 10, "after": 3, "delta": -7}
    assert round(doc["totals"]["layer_time_ms"]["before"], 3) == 1.096
    assert round(doc["totals"]["layer_time_ms"]["after"], 3) == 0.731
    assert doc["match_keys"]["weights"] == 21
