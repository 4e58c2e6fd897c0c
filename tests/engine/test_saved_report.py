"""`qdqtool build` output reads back: inspect and diff work on a build folder or its engine_report.json."""

from __future__ import annotations

import json

import onnx
import pytest

from qdqtool._lazy import is_available
from qdqtool.engine.load import engine_report_from_path
from qdqtool.engine.report import SAVED_REPORT
from tests.fixtures.ort_graphs import pool_chain


def test_build_folder_inspects_and_diffs(qdqtool, tmp_path):
    model = tmp_path / "pool.onnx"
    onnx.save(pool_chain(), model)
    out = tmp_path / "ort"
    assert qdqtool("build", model, "--backend", "onnxruntime", "-o", out, "--iterations", "3").code == 0
    report = engine_report_from_path(out)
    assert report.backend == "onnxruntime" and report.leftover_qdq
    assert engine_report_from_path(out / SAVED_REPORT).layers == report.layers
    run = qdqtool("inspect", out, "--json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["summary"]["conv_total"] == 2 and doc["summary"]["conv_int8"] == 2  # uint8 QLinearConv
    assert qdqtool("diff", out, out).code == 0


def test_a_broken_saved_report_is_bad_input(qdqtool, tmp_path):
    (tmp_path / SAVED_REPORT).write_text(json.dumps({"format": "qdqtool-engine-report"}))
    run = qdqtool("inspect", tmp_path)
    assert run.code == 2 and "not a readable engine report" in run.err


def test_predicted_folders_diff_and_say_they_are_predictions(qdqtool, tmp_path):
    from tests.fixtures import models as M

    model = tmp_path / "resnet.onnx"
    onnx.save(M.resnet_block("int8", skip="quantized"), model)
    assert qdqtool("build", model, "--backend", "trt-sim", "-o", tmp_path / "p").code == 0
    run = qdqtool("diff", tmp_path / "p", tmp_path / "p")
    assert run.code == 0 and "before is predicted (trt-sim)" in run.out and "profile JSON" not in run.out


def test_an_onnx_model_named_like_an_engine_is_recognised(qdqtool, tmp_path):
    plan = tmp_path / "model.plan"
    onnx.save(pool_chain(), plan)
    run = qdqtool("inspect", plan)
    assert run.code == 2 and "an ONNX model, not a TensorRT engine" in run.err


def test_diff_says_when_backends_or_networks_differ(qdqtool, tmp_path):
    model = tmp_path / "pool.onnx"
    onnx.save(pool_chain(), model)
    for backend in ("onnxruntime", "trt-sim"):
        assert qdqtool("build", model, "--backend", backend, "-o", tmp_path / backend, "--iterations", "2").code == 0
    run = qdqtool("diff", tmp_path / "onnxruntime", tmp_path / "trt-sim")
    assert run.code == 0 and "before comes from onnxruntime and after from trt-sim" in run.out


@pytest.mark.tensorrt
def test_compare_on_tensorrt_without_it_fails_before_merging(qdqtool, tmp_path):
    model = tmp_path / "pool.onnx"
    onnx.save(pool_chain(), model)
    run = qdqtool("compare", model, "--backend", "tensorrt", "--keep", tmp_path / "keep")
    assert run.code == 2 and run.err.count("\n") == 1
    # without TensorRT: the extra; with TensorRT but no GPU (the bindings of `pytest --trt-bindings`): it cannot start
    why = "qdqtool[tensorrt]" if not is_available("tensorrt") else "is installed but cannot start here"
    assert why in run.err and "qdqtool diff before after" in run.err and "--backend trt-sim" in run.err
    assert not (tmp_path / "keep").exists()


def test_predicted_diffs_rank_layers_by_predicted_cost(tmp_path):
    from qdqtool.engine.diff import diff_engines
    from qdqtool.engine.predictor import predict_engine
    from tests.fixtures import models as M

    diff = diff_engines(predict_engine(M.resnet18("qat")), predict_engine(M.resnet18("qat-residual")))
    costs = diff.cost_deltas
    assert costs and not diff.timing_deltas  # predictions have no times: bytes moved rank the changes instead
    assert [abs(p.delta_cost) for p in costs] == sorted((abs(p.delta_cost) for p in costs), reverse=True)
