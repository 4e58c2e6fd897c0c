"""The ``trt-sim`` backend of ``build`` and ``compare``: registered, writes engine_report.json, never times."""

from __future__ import annotations

import json

import onnx

from qdqtool.engine.backends import BuildOptions, get_backend
from qdqtool.engine.predictor import engine_report_from_trt_sim
from qdqtool.engine.report import EngineReport
from tests.fixtures import models as M


def test_registered_without_a_timer(tmp_path):
    backend = get_backend("trt-sim")
    assert backend.timer() is None and backend.files == ("engine_report.json",)
    path = tmp_path / "m.onnx"
    onnx.save(M.resnet18("qat-residual"), path)
    phases = []
    report = backend.loader()(path, tmp_path / "out", BuildOptions(strongly_typed=False),
                              lambda phase, done, total: phases.append(phase))()
    assert phases == ["predicting"]
    assert len(report.leftover_qdq) == 3 and not report.measured
    assert {t.dtype for layer in report.layers for t in layer.outputs} == {"int8", "fp16"}  # weakly typed: FP16
    saved = EngineReport.from_dict(json.loads((tmp_path / "out" / "engine_report.json").read_text()))
    assert saved == report


def test_build_and_compare_cli(qdqtool, tmp_path):  # noqa: F811 - pytest fixture
    path = tmp_path / "m.onnx"
    onnx.save(M.yolov6_qat(), path)
    run = qdqtool("build", path, "--backend", "trt-sim", "-o", tmp_path / "pred", "--json")
    assert run.code == 0, run.err
    assert (tmp_path / "pred" / "engine_report.json").is_file()
    run = qdqtool("compare", path, "--backend", "trt-sim", "--json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    # the predicted engines before and after merge: every mismatched group unified; the input Q and the three
    # Qs the float Resizes cost are left (test_kernels names them)
    assert doc["backend"] == "trt-sim" and doc["latency"] is None
    assert (doc["leftover_qdq"]["before"], doc["leftover_qdq"]["after"]) == (21, 4)


def test_functional_form_takes_the_loader_arguments(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(M.resnet18("qat-residual-qgap"), path)
    report = engine_report_from_trt_sim(path, tmp_path / "out", float_precision="fp32")
    assert [layer.name for layer in report.leftover_qdq] == ["QuantizeLinear_2"]
    assert (tmp_path / "out" / "engine_report.json").is_file()


def test_the_build_mode_decides_the_float_precision(tmp_path):
    """Strongly typed (TensorRT 11, or 10 with --strongly-typed): float layers in the ONNX's own type, FP32 for an
    FP32 export; weakly typed with FP16 allowed (TensorRT 10 --int8 --fp16): FP16. Unset: the rules file's choice,
    strongly typed."""
    path = tmp_path / "m.onnx"
    onnx.save(M.resnet18("qat"), path)
    backend = get_backend("trt-sim")

    def float_precisions(options: BuildOptions, folder: str) -> set:
        report = backend.loader()(path, tmp_path / folder, options, None)()
        return {layer.precision for layer in report.layers if layer.cls.value == "compute"
                and not any(t.dtype == "int8" for t in layer.inputs)}

    assert float_precisions(BuildOptions(strongly_typed=True), "strong") == {"fp32"}
    assert float_precisions(BuildOptions(strongly_typed=False), "weak") == {"fp16"}
    assert float_precisions(BuildOptions(), "default") == {"fp32"}
