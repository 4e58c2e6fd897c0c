"""What must hold on the real TensorRT files in ../shared/trt-samples (issue 3, "Must hold on the real samples").

The files stay beside the repository (CI clones the repo next to shared/); these tests skip when they are absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qdqtool.engine.classify import is_convolution
from qdqtool.engine.diff import diff_engines
from qdqtool.engine.load import engine_report_from_path
from qdqtool.engine.report import LayerClass
from qdqtool.engine.summary import summarize
from qdqtool.engine.trt_report import find_engine_files

RESNET = "trex-resnet18-pytorch-A100"


def sample_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("*.graph.json"))


@pytest.mark.parametrize(
    "variant, qdq",
    [("qat", 10), ("qat-residual", 3), ("qat-residual-qgap", 1), ("fp16", 0), ("fp32", 0)],
)
def test_resnet18_unfused_qdq_counts(trt_samples, variant, qdq):
    report = engine_report_from_path(trt_samples / RESNET / variant)
    assert len(report.leftover_qdq) == qdq


@pytest.fixture
def resnet_diff(trt_samples):
    return diff_engines(
        engine_report_from_path(trt_samples / RESNET / "qat"),
        engine_report_from_path(trt_samples / RESNET / "qat-residual"),
    )


def test_resnet18_diff_pairs_every_convolution_by_its_weight_name(resnet_diff):
    convs_before = [layer for layer in resnet_diff.before.layers if is_convolution(layer)]
    convs_after = [layer for layer in resnet_diff.after.layers if is_convolution(layer)]
    assert len(convs_before) == len(convs_after) == 21
    conv_pairs = [p for p in resnet_diff.paired if is_convolution(p.before)]
    assert len(conv_pairs) == 21
    for pair in conv_pairs:
        assert pair.key == "weights"
        assert pair.before.weights == pair.after.weights and pair.before.weights
    assert resnet_diff.renumbered  # Add_36 in one export is Add_42 in the other


def test_resnet18_diff_residual_convs_go_from_fp16_to_int8(resnet_diff):
    residual = [
        p
        for p in resnet_diff.precision_changes
        if any(n.startswith("Add_") for n in p.before.onnx_nodes + p.after.onnx_nodes)
    ]
    assert len(residual) == 11  # every conv that carries a residual Add on either side ...
    flips = {(p.before.precision, p.after.precision) for p in residual}
    assert flips == {("fp16", "int8"), ("fp16", "fp32")}  # ... all FP16 before; the last one feeds a float GAP
    assert sum(p.after.precision == "int8" for p in residual) == 10
    named = {p.before.weights[0]: (p.before.precision, p.after.precision) for p in residual}
    assert named["layer1.0.conv2.weight"] == ("fp16", "int8")


def test_resnet18_diff_maxpool_absorbed_into_the_first_convolution(resnet_diff):
    conv1 = next(p for p in resnet_diff.paired if p.before.weights == ("conv1.weight",))
    assert conv1.absorbed == ("MaxPool_12",) and conv1.released == ()
    assert conv1.after.type == "ConvActPool"
    assert "MaxPool_12" in [layer.name for layer in resnet_diff.removed]


def test_resnet18_diff_names_the_unfused_qdq_on_each_side(resnet_diff):
    before = [layer.name for layer in resnet_diff.before.leftover_qdq]
    after = [layer.name for layer in resnet_diff.after.leftover_qdq]
    assert len(before) == 10 and before[:3] == ["QuantizeLinear_2", "QuantizeLinear_15", "QuantizeLinear_40"]
    assert after == ["QuantizeLinear_2", "DequantizeLinear_291", "QuantizeLinear_298"]
    assert [c.layer.name for c in resnet_diff.qdq_added] == ["DequantizeLinear_291"]
    assert len(resnet_diff.qdq_removed) == 8
    assert "unfused Q/DQ layers 10 -> 3" in resnet_diff.verdict_line


def test_resnet18_diff_layer_time_totals(resnet_diff):
    assert round(resnet_diff.before_summary.layer_time_ms, 3) == 1.096
    assert round(resnet_diff.after_summary.layer_time_ms, 3) == 0.731
    assert "sum of layer times 1.096 -> 0.731 ms" in resnet_diff.verdict_line
    assert resnet_diff.verdict == "improved"
    # end-to-end latency comes from the timing files, never from the layer sum
    assert resnet_diff.before_summary.latency.median != pytest.approx(resnet_diff.before_summary.layer_time_ms)


def test_mobilenet_v2_residuals_17_to_2_standalone_q(trt_samples):
    before = engine_report_from_path(trt_samples / "trex-mobilenet-qat-trt84-titanrtx")
    after = engine_report_from_path(trt_samples / "trex-mobilenetv2-residuals-qat-trt84-titanrtx")
    for report, count in ((before, 17), (after, 2)):
        qdq = report.leftover_qdq
        assert len(qdq) == count
        assert all(layer.type == "Reformat" and layer.origin == "QDQ" for layer in qdq)
        assert all(layer.name.startswith("QuantizeLinear_") for layer in qdq)  # standalone Q layers
        assert all(layer.precision == "int8" for layer in qdq)
    diff = diff_engines(before, after)
    assert "unfused Q/DQ layers 17 -> 2" in diff.verdict_line


@pytest.mark.parametrize(
    "folder, count",
    [("trex-v010-mobilenet-qat-trt82-scale-layers", 17), ("trex-v010-mobilenetv2-residuals-qat-trt82-scale-layers", 2)],
)
def test_trt82_scale_layers_are_qdq(trt_samples, folder, count):
    report = engine_report_from_path(trt_samples / folder)
    qdq = report.leftover_qdq
    assert len(qdq) == count
    assert all(layer.type == "Scale" for layer in qdq)
    assert not [layer for layer in report.layers if layer.type == "Scale" and layer.cls is not LayerClass.QDQ]


def test_every_sample_folder_inspects_and_profiles_join_one_to_one(trt_samples):
    folders = sample_folders(trt_samples)
    assert len(folders) == 11
    for folder in folders:
        files = find_engine_files(folder)
        report = engine_report_from_path(folder)
        records = [r for r in json.loads(files.profile.read_text()) if "name" in r]
        assert len(records) == len(report.layers), folder
        assert all(layer.avg_ms is not None for layer in report.layers), folder
        assert report.notes == [], folder
        assert summarize(report).layer_time_ms > 0
