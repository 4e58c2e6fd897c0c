"""One test per TensorRT rule the predictor models, on the tiny graphs of tests/predictor/graphs.py."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from qdqtool.analysis.rules import load_rules
from qdqtool.engine.predictor import BACKEND, EngineReportFromTrtSim, predict_engine
from qdqtool.engine.report import EngineReport, Layer, LayerClass
from qdqtool.errors import BadInputError
from tests.predictor import graphs as G


def predict(builder, **kwargs) -> EngineReport:
    return predict_engine(builder.build(), **kwargs)


def qdq_names(report: EngineReport) -> list[str]:
    return [layer.name for layer in report.leftover_qdq]


def layer(report: EngineReport, token: str) -> Layer:
    """The one layer whose name has ``token`` as a `` + ``-separated part."""
    found = [x for x in report.layers if token in x.name.split(" + ") or f"PWN({token})" in x.name]
    assert len(found) == 1, f"{token}: {[x.name for x in report.layers]}"
    return found[0]


def out_dtype(report: EngineReport, token: str) -> str:
    return layer(report, token).outputs[0].dtype


def test_network_input_q_stays_and_weights_fold_into_the_named_conv():
    report = predict(G.conv_chain())
    assert qdq_names(report) == ["in.Q"]
    assert "network input" in report.leftover_qdq[0].raw["why"]
    conv = layer(report, "c1")
    # weight initializer and weight Q lead the name, as "conv1.weight + QuantizeLinear_7 + Conv_9"; the Relu is
    # built into the INT8 kernel and left out of the name, but the layer implements it and the activation pair
    assert conv.name == "c1.weight + c1.w.Q + c1" and conv.weights == ("c1.weight",)
    assert {"c1.relu", "mid.Q", "in.DQ"} <= set(conv.raw["implements"])
    assert [t.dtype for t in conv.inputs] == ["int8"] and conv.outputs[0].dtype == "int8"
    assert out_dtype(report, "c2") == "fp32"  # the network output: no Q behind it


def test_weighted_op_with_float_input_stays_float_and_names_its_relu():
    report = predict(G.conv_chain(out_q=False))
    c2 = layer(report, "c2")
    assert [t.dtype for t in c2.inputs] == ["fp32"]
    assert layer(report, "c1").name == "c1.weight + c1.w.Q + c1"  # c1 reads INT8 but c2 reads its output in float
    assert out_dtype(report, "c1") == "fp32"


@pytest.mark.parametrize("equal, kernels", [(True, ["in.Q"]), (False, ["in.Q", "a.Q", "b.Q"])])
def test_sibling_qs_merge_only_with_equal_scales(equal, kernels):
    report = predict(G.siblings(equal))
    assert qdq_names(report) == kernels
    assert out_dtype(report, "c1") == ("int8" if equal else "fp32")
    if not equal:
        assert "other parameters" in report.leftover_qdq[1].raw["why"]


def test_q_moves_back_across_maxpool_into_a_convactpool():
    report = predict(G.maxpool_after_conv(float_reader=False))
    assert qdq_names(report) == ["in.Q"]
    fused = layer(report, "pool")
    assert fused.name == "c1.weight + c1.w.Q + c1 + pool" and fused.type == "ConvActPool"
    assert fused.outputs[0].dtype == "int8"


def test_q_cannot_cross_a_maxpool_whose_output_is_also_read_in_float():
    report = predict(G.maxpool_after_conv(float_reader=True))
    assert qdq_names(report) == ["in.Q", "pool.out.Q"]
    assert "also read in float by skip.add" in report.leftover_qdq[1].raw["why"]
    assert out_dtype(report, "pool") == "fp32" and layer(report, "pool").type == "Pooling"


@pytest.mark.parametrize("equal", [True, False])
def test_dq_meeting_q_cancels_or_leaves_one_requantize(equal):
    report = predict(G.dq_maxpool_q(equal))
    assert layer(report, "pool").outputs[0].dtype == "int8"  # the DQ moved forward: MaxPool runs on INT8
    if equal:
        assert qdq_names(report) == ["in.Q"]
    else:
        assert qdq_names(report) == ["in.Q", "in.DQ + after.Q"]
        assert "requantize" in report.leftover_qdq[1].raw["why"]
        assert [t.dtype for t in report.leftover_qdq[1].inputs + report.leftover_qdq[1].outputs] == ["int8", "int8"]


@pytest.mark.parametrize("case, kernels", [
    ("equal", ["in.Q"]),
    ("unequal", ["in.Q", "b.out.DQ + cat.out.Q_clone_1"]),
    ("float-input", ["in.Q"]),
])
def test_concat_is_eliminated_and_requantizes_only_unequal_inputs(case, kernels):
    report = predict(G.concat(case))
    assert qdq_names(report) == kernels
    cat = layer(report, "cat")
    assert cat.cls is LayerClass.NOOP and cat.cost == 0
    assert [t.dtype for t in cat.inputs] == ["int8", "int8"]
    # the Q behind the Concat is cloned onto each input and fused into the convolution producing it
    assert out_dtype(report, "cb") == "int8"


@pytest.mark.parametrize("skip, reader, precision, kernels", [
    # Fig. 6: a float skip keeps the fused output float (and its Q for c2 stays: the Add reads it in float too)
    ("float", "q", "fp32", ["in.Q", "c2.in.Q", "next.Q"]),
    ("int8", "q", "int8", ["in.Q"]),  # Fig. 7: an INT8 skip, and the trailing Q fuses
    ("int8", "float", "fp32", ["in.Q", "res.DQ"]),  # INT8 skip but a float reader: the skip's DQ stays
])
def test_residual_add_fuses_into_the_conv_with_the_skip_precision(skip, reader, precision, kernels):
    report = predict(G.residual(skip, reader))
    fused = layer(report, "add")
    assert fused.name == "c2.weight + c2.w.Q + c2 + add + add.relu"
    assert fused.outputs[0].dtype == precision
    assert qdq_names(report) == kernels
    if skip == "float":
        why = report.leftover_qdq[2].raw["why"]
        assert "float skip" in why and "Fig. 6" in why


@pytest.mark.parametrize("out_q", [True, False])
def test_quantizable_pooling_is_int8_only_with_a_q_behind_it(out_q):
    report = predict(G.pooled(out_q))
    gap = layer(report, "gap")
    if out_q:  # Fig. 1: DQ + pooling + Q -> one INT8 pooling (the Q crossed the Flatten)
        assert qdq_names(report) == ["in.Q"] and gap.outputs[0].dtype == "int8"
        assert layer(report, "flat").cls is LayerClass.NOOP
    else:  # non-weighted layers with INT8 inputs need INT8 outputs: float pooling, standalone DQ
        assert qdq_names(report) == ["in.Q", "in.DQ"] and gap.outputs[0].dtype == "fp32"
        assert "recommendation 5" in report.leftover_qdq[1].raw["why"]


def test_silu_subgraph_fuses_into_the_convolution():
    report = predict(G.silu_conv())
    c1 = layer(report, "c1")
    assert c1.name == "c1.weight + c1.w.Q + c1 + PWN(act.Sigmoid, act.Mul)"
    assert c1.onnx_nodes == ("c1.w.Q", "c1", "act.Sigmoid", "act.Mul") and c1.outputs[0].dtype == "int8"


def test_report_is_predicted_with_bytes_moved_costs():
    report = predict(G.conv_chain())
    assert report.backend == BACKEND == "trt-sim" and not report.measured and not report.has_layer_times
    assert all(x.avg_ms is None for x in report.layers)
    assert any("not times" in note for note in report.notes)
    # the input Q reads 4*8*8 fp32 values and writes them as int8
    assert layer(report, "in.Q").cost == 256 * 4 + 256 * 1
    # c1: INT8 in and out (256 each), 4*4*3*3 INT8 weights, 4 fp32 biases
    assert layer(report, "c1").cost == 256 + 256 + 144 + 16
    assert EngineReport.from_dict(report.to_dict()) == report


def test_float_precision_fp16_halves_float_tensors():
    report = predict(G.conv_chain(), float_precision="fp16")
    assert layer(report, "in.Q").inputs[0].dtype == "fp16" and layer(report, "in.Q").cost == 256 * 2 + 256
    with pytest.raises(BadInputError, match="float precision"):
        predict(G.conv_chain(), float_precision="fp64")


def test_loader_defers_work_until_called(tmp_path):
    path = tmp_path / "m.onnx"
    calls = []

    def model() -> Path:
        calls.append(1)
        onnx.save(G.conv_chain().build(), path)
        return path

    loader = EngineReportFromTrtSim(model)
    assert not calls
    report = loader()
    assert calls and report.source == str(path) and qdq_names(report) == ["in.Q"]


def _rules_copy(tmp_path: Path, old: str, new: str, section: str = "[predictor]") -> Path:
    """The shipped tensorrt.toml with ``old`` replaced by ``new`` once, after the line ``section``."""
    text = load_rules("tensorrt").path.read_text(encoding="utf-8")
    head, marker, tail = text.partition(f"\n{section}\n")
    assert marker and old in tail
    path = tmp_path / "edited.toml"
    path.write_text(head + marker + tail.replace(old, new, 1), encoding="utf-8")
    return path


def test_commuting_ops_come_from_the_rules_file(tmp_path):
    no_maxpool = _rules_copy(tmp_path, 'ops = ["MaxPool", ', "ops = [", section="[predictor.commute]")
    report = predict(G.maxpool_after_conv(float_reader=False), rules=str(no_maxpool))
    assert qdq_names(report) == ["in.Q", "pool.out.Q"]  # the Q no longer crosses the MaxPool


def test_grouping_rules_do_not_change_a_prediction(tmp_path):
    """The predictor reads only its own [predictor] table: MaxPool taken out of the move-through *grouping* rule
    changes the groups, never the predicted engine."""
    no_maxpool = _rules_copy(tmp_path, 'ops = ["MaxPool", ', "ops = [", section="[[rule]]\nid = \"move-through\"")
    model = G.maxpool_after_conv(float_reader=False)
    edited, shipped = predict(model, rules=str(no_maxpool)), predict(model)
    assert [layer.name for layer in edited.layers] == [layer.name for layer in shipped.layers]
    assert qdq_names(edited) == qdq_names(shipped) == ["in.Q"]
    assert "MaxPool" not in load_rules(str(no_maxpool)).rule("move-through").ops


def test_quantizable_ops_come_from_the_rules_file(tmp_path):
    no_gap = _rules_copy(tmp_path, '"AveragePool", "GlobalAveragePool", ', '"AveragePool", ')
    report = predict(G.pooled(out_q=True), rules=str(no_gap))
    assert qdq_names(report) == ["in.Q", "in.DQ", "fc.in.Q"]


def test_a_rules_file_without_predictor_table_is_refused():
    with pytest.raises(BadInputError, match=r"no \[predictor\] table"):
        predict(G.conv_chain(), rules="onnxruntime-cpu")
