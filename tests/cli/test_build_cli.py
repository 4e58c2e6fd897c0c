"""`qdqtool build`: the real entry point, exit codes, files, and what it prints."""

from __future__ import annotations

import json

import onnx
import pytest

from qdqtool._lazy import is_available
from tests.fixtures import ort_graphs as G

FAST = ("--warmup", "1", "--iterations", "3")


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "pool.onnx"
    onnx.save(G.pool_chain(), path)
    return path


def test_onnxruntime_build_writes_the_files_and_ends_with_passed(qdqtool, model, tmp_path):
    run = qdqtool("build", model, "-o", tmp_path / "ort", *FAST)
    assert run.code == 0, run.err
    assert {p.name for p in (tmp_path / "ort").iterdir()} == {"optimized.onnx", "profile.json", "engine_report.json"}
    status = run.out[run.out.rindex("PASSED | "):]
    assert status.startswith("PASSED | onnxruntime: 13 layers, 6 leftover Q/DQ | median latency ")
    assert str(tmp_path / "ort" / "engine_report.json") in status.replace("\n", "")
    assert "QLinearConv" in run.out and "unfused Q/DQ layers" in run.out


def test_json_is_the_inspect_document_of_the_build(qdqtool, model, tmp_path):
    run = qdqtool("build", model, "-o", tmp_path / "ort", "--threads", "2", "--json", *FAST)
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["command"] == "build" and doc["schema_version"] == 1 and doc["output"] == str(tmp_path / "ort")
    assert doc["files"] == ["optimized.onnx", "profile.json", "engine_report.json"]
    assert doc["engine"]["backend"] == "onnxruntime" and doc["summary"]["by_class"]["qdq"] == 6
    assert doc["summary"]["latency"]["runs"] == 3 and "2 thread(s)" in doc["engine"]["notes"][0]
    assert all(layer["avg_ms"] is not None for layer in doc["layers"])


def test_markdown(qdqtool, model, tmp_path):
    run = qdqtool("build", model, "-o", tmp_path / "ort", "--markdown", *FAST)
    assert run.code == 0 and run.out.startswith("## qdqtool inspect") and "| QLinearConv |" in run.out


@pytest.mark.skipif(is_available("tensorrt"), reason="TensorRT is installed")
def test_tensorrt_without_tensorrt_exits_2_with_one_line_and_writes_nothing(qdqtool, model, tmp_path):
    run = qdqtool("build", model, "--backend", "tensorrt", "-o", tmp_path / "trt", "--input-shape", "1x3x16x16")
    assert run.code == 2 and run.out == ""
    assert len(run.err.strip().splitlines()) == 1
    assert "qdqtool[tensorrt]" in run.err and f"trtexec --onnx={model}" in run.err
    assert "--shapes=input:1x3x16x16" in run.err
    assert not (tmp_path / "trt").exists()


@pytest.mark.parametrize("args, message", [
    (("missing.onnx", "-o", "out"), "no such file"),
    (("{model}", "-o", "out", "--json", "--markdown"), "exclude each other"),
    (("{model}", "-o", "out", "--workspace", "lots"), "expected a size"),
    (("{model}", "-o", "out", "--backend", "tpu"), "'tpu' is not one of"),
    (("{model}", "-o", "out", "--input-shape", "input:1xAx3"), "expected NAME:1x3x640x640"),
    (("{model}",), "Missing option '-o'"),
])
def test_bad_usage_exits_2_with_one_line(qdqtool, model, tmp_path, args, message):
    run = qdqtool("build", *(str(a).format(model=model) for a in args))
    assert run.code == 2 and message in run.err and len(run.err.strip().splitlines()) == 1


def test_not_a_model_exits_2(qdqtool, tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"\x00junk")
    run = qdqtool("build", tmp_path / "junk.onnx", "-o", tmp_path / "out")
    assert run.code == 2 and "junk.onnx" in run.err and len(run.err.strip().splitlines()) == 1


def test_help_lists_the_backends_and_the_files(qdqtool):
    run = qdqtool("build", "--help")
    assert run.code == 0
    for text in ("onnxruntime", "tensorrt", "optimized.onnx", "layers.json", "--strongly-typed", "--timing-cache",
                 "--builder-optimization-level", "--workspace", "--threads"):
        assert text in run.out
