"""diff_engines: pairing keys, renumbered exports, Q/DQ that fused, fusion and precision changes, verdict."""

from __future__ import annotations

import pytest

from qdqtool.engine.diff import detect_renumbering, diff_engines
from qdqtool.engine.load import engine_report_from_path
from qdqtool.engine.report import EngineReport, Layer, LayerClass


@pytest.fixture
def renumbered(engine_json):
    """Two exports of one small network (TensorRT 8.4 JSON): the node numbers differ, the weights do not."""
    return diff_engines(
        engine_report_from_path(engine_json / "trt84_before"), engine_report_from_path(engine_json / "trt84_after")
    )


@pytest.fixture
def same_export(engine_json):
    """One ONNX export before and after a merge (TensorRT 10 JSON with Metadata): one activation Q fused."""
    before = engine_report_from_path(engine_json / "trt10_metadata")
    after = engine_report_from_path(engine_json / "trt10_metadata_merged")
    return diff_engines(before, after)


def pairs_by_before(diff) -> dict[str, tuple[str | None, str | None]]:
    return {p.before.name: (p.after.name if p.after else None, p.key) for p in diff.pairs if p.before}


def test_renumbered_exports_pair_by_weights(renumbered):
    assert renumbered.renumbered
    assert "block.conv1.weight is Conv_22 before and Conv_26 after" in renumbered.notes[0]
    pairs = pairs_by_before(renumbered)
    assert pairs["block.conv2.weight + QuantizeLinear_32 + Conv_34 + Add_36 + Relu_37"] == (
        "block.conv2.weight + QuantizeLinear_36 + Conv_38 + Add_42 + Relu_43",
        "weights",
    )
    assert pairs["stem.weight + QuantizeLinear_7 + Conv_9"] == (
        "stem.weight + QuantizeLinear_7 + Conv_9 + MaxPool_12",
        "weights",
    )
    assert pairs["QuantizeLinear_2"] == ("QuantizeLinear_2", "name")
    assert pairs["copied_squeeze_after_(Unnamed Layer* 58) [Shuffle]"][1] == "signature"
    assert renumbered.key_counts == {"onnx_nodes": 0, "onnx_overlap": 0, "weights": 4, "name": 1, "signature": 1}


def test_renumbered_fusion_changes_are_judged_by_op_type(renumbered):
    # conv2 went from Add_36/Relu_37 to Add_42/Relu_43: renumbered, not a fusion change.
    changes = {p.before.name: (p.absorbed, p.released) for p in renumbered.fusion_changes}
    assert changes == {"stem.weight + QuantizeLinear_7 + Conv_9": (("MaxPool_12",), ())}


def test_renumbered_qdq_and_reformat_changes(renumbered):
    assert [c.layer.name for c in renumbered.qdq_removed] == ["QuantizeLinear_15", "QuantizeLinear_40"]
    assert [c.nodes for c in renumbered.qdq_removed] == [("QuantizeLinear_15",), ("QuantizeLinear_40",)]
    assert renumbered.qdq_added == []
    assert [c.layer.name for c in renumbered.reformat_removed] == [
        "Reformatting CopyNode for Output Tensor 0 to MaxPool_12"
    ]
    assert all(c.fused_into is None for c in renumbered.qdq_removed)  # unknowable across renumbered exports


def test_precision_changes(renumbered):
    changes = {p.after.name: (p.before.precision, p.after.precision) for p in renumbered.precision_changes}
    assert changes == {
        "stem.weight + QuantizeLinear_7 + Conv_9 + MaxPool_12": ("fp32", "int8"),
        "block.conv2.weight + QuantizeLinear_36 + Conv_38 + Add_42 + Relu_43": ("fp16", "int8"),
    }


def test_timing_deltas_largest_first_including_unpaired_layers(renumbered):
    deltas = renumbered.timing_deltas
    assert [abs(p.delta_ms) for p in deltas] == sorted((abs(p.delta_ms) for p in deltas), reverse=True)
    # ranked by the profiles' medians (averages 0.06 / 0.12 -> 0.08): one slow run must not top the list
    first = deltas[0]
    assert first.status == "removed" and first.before.name == "MaxPool_12" and first.delta_ms == pytest.approx(-0.0588)
    stem = next(p for p in deltas if p.before and p.before.name.startswith("stem."))
    assert stem.delta_ms == pytest.approx(0.0784 - 0.1176)


def test_pairs_keep_engine_order(renumbered):
    names = [(p.before or p.after).name for p in renumbered.pairs]
    assert names[:5] == [
        "QuantizeLinear_2",
        "stem.weight + QuantizeLinear_7 + Conv_9",
        "MaxPool_12",
        "Reformatting CopyNode for Output Tensor 0 to MaxPool_12",
        "QuantizeLinear_15",
    ]
    assert len(renumbered.pairs) == len(renumbered.paired) + len(renumbered.removed) + len(renumbered.added)
    assert len(renumbered.removed) == 5 and renumbered.added == []


def test_verdict_improved(renumbered):
    assert renumbered.verdict == "improved" and renumbered
    assert renumbered.verdict_line == (
        "IMPROVED | unfused Q/DQ layers 3 -> 1 | reformat layers 1 -> 0 | sum of layer times 0.360 -> 0.205 ms "
        "(-43.1%) | median latency 0.305 -> 0.205 ms (-32.8%)"
    )


def test_verdict_regressed_when_reversed(engine_json):
    diff = diff_engines(
        engine_report_from_path(engine_json / "trt84_after"), engine_report_from_path(engine_json / "trt84_before")
    )
    assert diff.verdict == "regressed" and not diff
    assert diff.verdict_line.startswith("REGRESSED | unfused Q/DQ layers 1 -> 3")
    assert [c.layer.name for c in diff.qdq_added] == ["QuantizeLinear_15", "QuantizeLinear_40"]


def test_verdict_unchanged_against_itself(engine_json):
    report = engine_report_from_path(engine_json / "trt84_before")
    diff = diff_engines(report, report)
    assert diff.verdict == "unchanged" and diff and not diff.renumbered
    assert diff.verdict_line == "UNCHANGED | unfused Q/DQ layers 3 -> 3"
    # the 8 layers that implement ONNX nodes pair by them; the reformat and the NoOps by name
    assert diff.key_counts == {"onnx_nodes": 8, "onnx_overlap": 0, "weights": 0, "name": 3, "signature": 0}
    assert not diff.fusion_changes and not diff.precision_changes and not diff.removed and not diff.added


def test_verdict_mixed_and_time_tolerance():
    def report(qdq: int, ms: float) -> EngineReport:
        layers = [
            Layer(
                f"QuantizeLinear_{i}",
                "Reformat",
                LayerClass.QDQ,
                onnx_nodes=(f"QuantizeLinear_{i}",),
                avg_ms=ms / max(qdq, 1),
            )
            for i in range(qdq)
        ]
        layers.append(
            Layer(
                "w + Conv_1", "CaskConvolution", LayerClass.COMPUTE, onnx_nodes=("Conv_1",), weights=("w",), avg_ms=1.0
            )
        )
        return EngineReport("tensorrt", "mem", layers)

    assert diff_engines(report(2, 0.1), report(1, 0.5)).verdict == "mixed"  # fewer Q/DQ, but slower
    assert diff_engines(report(1, 0.10), report(1, 0.11)).verdict == "unchanged"  # +0.9 %: within 2 %
    assert diff_engines(report(1, 0.10), report(1, 0.11), time_tolerance=0.005).verdict == "regressed"


def test_same_export_pairs_by_onnx_nodes(same_export):
    assert not same_export.renumbered and same_export.notes == []
    pairs = pairs_by_before(same_export)
    assert pairs["model.stem.weight + /stem/weight_quantizer/QuantizeLinear + /stem/Conv"][1] == "onnx_nodes"
    assert pairs["{ForeignNode[/pool/GlobalAveragePool.../flatten/Flatten]}"][1] == "onnx_nodes"
    assert pairs["Reformatting CopyNode for Input Tensor 0 to /fc/Gemm"][1] == "name"
    assert pairs["/Constant_3"][1] == "weights"


def test_same_export_names_the_layer_that_absorbed_the_qdq(same_export):
    fused = "PWN(/act/Sigmoid, /act/Mul, /act_quantizer/QuantizeLinear)"
    assert pairs_by_before(same_export)["/act/Sigmoid + /act/Mul"] == (fused, "onnx_overlap")
    [change] = same_export.fusion_changes
    assert change.absorbed == ("/act_quantizer/QuantizeLinear",) and change.released == ()
    [gone] = same_export.qdq_removed
    assert gone.layer.name == "/act_quantizer/QuantizeLinear" and gone.fused_into == fused
    assert same_export.verdict_line.startswith("IMPROVED | unfused Q/DQ layers 2 -> 1 | sum of layer times 0.056")


def test_weights_never_pair_conflicting_layers():
    a = Layer("w1 + Conv_1", "CaskConvolution", onnx_nodes=("Conv_1",), weights=("w1",))
    b = Layer("w2 + Conv_1", "CaskConvolution", onnx_nodes=("Conv_1",), weights=("w2",))
    diff = diff_engines(EngineReport("tensorrt", "a", [a]), EngineReport("tensorrt", "b", [b]))
    assert diff.paired == [] and len(diff.removed) == 1 and len(diff.added) == 1
    assert diff.renumbered  # the same node name stands for two different weights


def test_detect_renumbering_needs_evidence(engine_json):
    report = engine_report_from_path(engine_json / "trt84_before")
    assert detect_renumbering(report, report) is None


def test_names_only_diff_pairs_by_weights_and_names(engine_json):
    before = engine_report_from_path(engine_json / "names_only.layers.json")
    diff = diff_engines(before, engine_report_from_path(engine_json / "trt84_after"))
    assert diff.key_counts["signature"] == 0  # no types or shapes on one side
    assert diff.key_counts["weights"] == 4 and diff.precision_changes == []
    assert any("names-only" in note for note in diff.notes)
    assert any("before has no per-layer times" in note for note in diff.notes)


def test_loaders_are_called(engine_json):
    diff = diff_engines(
        lambda: engine_report_from_path(engine_json / "trt84_before"),
        lambda: engine_report_from_path(engine_json / "trt84_after"),
    )
    assert diff.verdict == "improved"
