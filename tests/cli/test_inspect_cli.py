"""`qdqtool inspect` through the real entry point: exit codes, tables, --json, --markdown, -o."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine_json"


def run(capsys, *args: str) -> tuple[int, str, str]:
    result = run_cli(capsys, "inspect", *args)
    return result.code, result.out, result.err


def test_help_documents_the_json_schema(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for word in (
        "schema_version",
        "by_class",
        "qdq_reformat_share",
        "onnx_nodes",
        "--profile",
        "--timing",
        "--opt-profile",
        "qdqtool[tensorrt]",
    ):
        assert word in out, word


def test_table_output(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich folds long names at the 80 columns of a pipe
    code, out, err = run(capsys, str(FIXTURES / "trt84_before"))
    assert code == 0 and err == ""
    assert "QuantizeLinear_15" in out and "Summary" in out
    assert "unfused Q/DQ layers" in out and "sum of layer times (profiled; not the engine latency)" in out
    assert "end-to-end latency" in out and "median 0.305 ms" in out


def test_json_output(capsys):
    code, out, _ = run(capsys, str(FIXTURES / "trt84_before"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["command"] == "inspect"
    assert doc["engine"]["detailed"] is True and doc["engine"]["bindings"] == ["input", "logits"]
    assert doc["summary"]["by_class"]["qdq"] == 3
    assert doc["summary"]["layer_time_ms"] == pytest.approx(0.36)
    assert doc["summary"]["latency"]["percentiles_ms"]["p99"] == pytest.approx(0.3196)
    layer = doc["layers"][6]
    assert layer["class"] == "compute" and layer["precision"] == "fp16"
    assert layer["onnx_nodes"] == ["QuantizeLinear_32", "Conv_34", "Add_36", "Relu_37"]
    assert layer["weights"] == ["block.conv2.weight"]
    assert layer["inputs"][1] == {
        "name": "pool_out",
        "shape": [8, 16, 16, 16],
        "dtype": "fp16",
        "format": "Channel major FP16 format where channel % 8 == 0",
    }


def test_markdown_output(capsys):
    code, out, _ = run(
        capsys,
        str(FIXTURES / "trt10_metadata" / "layers.json"),
        "--markdown",
        "--profile",
        str(FIXTURES / "trt10_metadata" / "profile.json"),
    )
    assert code == 0
    assert out.startswith("## qdqtool inspect:")
    assert "### Unfused Q/DQ layers (2)" in out
    assert "| /act_quantizer/QuantizeLinear | /act_quantizer/QuantizeLinear | 0.0050 |" in out


def test_names_only_says_detailed_gives_more(capsys):
    code, out, _ = run(capsys, str(FIXTURES / "names_only.layers.json"), "--markdown")
    assert code == 0 and "names-only layer information" in out and "--profilingVerbosity=detailed" in out
    assert "### Unfused Q/DQ layers (3)" in out


def test_multi_profile_option(capsys):
    code, out, _ = run(capsys, str(FIXTURES / "multi_profile" / "layers.json"), "--opt-profile", "1", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["engine"]["opt_profile"] == 1 and doc["engine"]["opt_profiles"] == 2
    assert doc["layers"][0]["inputs"][0]["shape"] == [4, 3, 32, 32]


def test_output_file_is_written(capsys, tmp_path):
    target = tmp_path / "report.json"
    code, out, err = run(capsys, str(FIXTURES / "trt84_after"), "--json", "-o", str(target))
    assert code == 0 and out == "" and f"wrote {target}" in err
    assert json.loads(target.read_text())["summary"]["by_class"]["qdq"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left behind
    code, _, _ = run(capsys, str(FIXTURES / "trt84_after"), "-o", str(tmp_path / "report.txt"))
    assert code == 0 and "QuantizeLinear_2" in (tmp_path / "report.txt").read_text()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file or folder"),
        ("", "empty file"),
        ("{oops", "not JSON"),
        ('{"hello": 1}', "JSON of another kind"),
        ((FIXTURES / "trt84_before" / "small.onnx.engine.profile.json").read_text(), "add --profile"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, content, message):
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, str(path))
    assert code == 2 and out == ""
    assert err.startswith("qdqtool: error: ") and message in err
    assert err.count("\n") == 1


def test_profile_naming_unknown_layers_exits_2(capsys):
    code, _, err = run(
        capsys,
        str(FIXTURES / "trt84_after" / "layers.json"),
        "--profile",
        str(FIXTURES / "trt84_before" / "small.onnx.engine.profile.json"),
    )
    assert code == 2 and "does not have" in err and err.count("\n") == 1


def test_engine_plan_without_tensorrt_exits_2_naming_the_extra(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    plan = tmp_path / "engine.plan"
    plan.write_bytes(b"\x00\x01\x02binary")
    code, out, err = run(capsys, str(plan))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "qdqtool[tensorrt]" in err and "trtexec" in err and "--exportLayerInfo" in err


def test_text_file_named_plan_is_not_an_engine(capsys, tmp_path):
    plan = tmp_path / "engine.plan"
    plan.write_text("not an engine\n")
    code, _, err = run(capsys, str(plan))
    assert code == 2 and "not a TensorRT engine" in err


def test_json_and_markdown_exclude_each_other(capsys):
    code, _, err = run(capsys, str(FIXTURES / "trt84_after"), "--json", "--markdown")
    assert code == 2 and "exclude each other" in err


def test_real_sample_folder(capsys, trt_samples):
    folder = trt_samples / "trex-resnet18-pytorch-A100" / "qat"
    code, out, _ = run(capsys, str(folder), "--json")
    assert code == 0 and json.loads(out)["summary"]["by_class"]["qdq"] == 10
