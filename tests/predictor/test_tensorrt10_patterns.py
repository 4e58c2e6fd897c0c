"""The predictor on a YOLOv8/11-style detector against a TensorRT 10 engine of it, node by node.

The engine (tests/fixtures/trt10_yolo.py) is written by hand from what issue 14 reports of a real TensorRT 10.16
INT8 engine of a ModelOpt-QAT YOLO26n; no public engine of that kind could be found to test against (see the
README, "Predict TensorRT on the CPU"). The comparison goes through `qdqtool diff`'s agreement table, so these
tests also check the predictor's accuracy report itself.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import onnx
import pytest
import tomllib

from qdqtool.analysis.rules import load_rules
from qdqtool.engine.agreement import predictor_agreement
from qdqtool.engine.predictor import predict_engine
from qdqtool.engine.report import LayerClass, TensorInfo
from qdqtool.engine.trt_report import engine_report_from_trt_json
from tests.fixtures.trt10_yolo import yolo_c2f_engine
from tests.fixtures.yolo import yolo_c2f


@pytest.fixture(scope="module")
def engine():
    return engine_report_from_trt_json(yolo_c2f_engine())


@pytest.fixture(scope="module")
def predicted():
    return predict_engine(yolo_c2f(), float_precision="fp16")


def _layer_with(report, node):
    return next(layer for layer in report.layers if node in layer.onnx_nodes)


def test_the_prediction_agrees_with_the_engine_node_by_node(predicted, engine):
    agreement = predictor_agreement(predicted, engine)
    assert not agreement.disagreements, agreement.disagreements
    assert agreement.layers.agree == agreement.layers.compared == 47
    assert agreement.convolutions.compared == 33 and agreement.convolutions.share == 1.0
    assert (agreement.qdq_predicted, agreement.qdq_real) == (26, 26)


def test_silu_before_a_split_or_residual_add_is_its_own_fp16_pointwise_layer(predicted):
    cv1 = _layer_with(predicted, "/model.2/cv1/conv/Conv")
    assert "/model.2/cv1/act/Sigmoid" not in cv1.onnx_nodes and cv1.precision == "fp16"
    silu = _layer_with(predicted, "/model.2/cv1/act/Sigmoid")
    assert silu.type == "PointWise" and silu.name == "PWN(/model.2/cv1/act/Sigmoid, /model.2/cv1/act/Mul)"
    residual = _layer_with(predicted, "/model.2/m.0/Add")
    assert residual.name == "PWN(PWN(/model.2/m.0/cv2/act/Sigmoid, /model.2/m.0/cv2/act/Mul), /model.2/m.0/Add)"
    assert residual.precision == "fp16"
    # going on to a quantize, the SiLU stays in the INT8 convolution
    inner = _layer_with(predicted, "/model.2/m.0/cv1/conv/Conv")
    assert "/model.2/m.0/cv1/act/Mul" in inner.onnx_nodes and inner.precision == "int8"


def test_maxpool_runs_int8_and_resize_with_the_quantize_after_it_runs_in_float(predicted):
    assert _layer_with(predicted, "/model.6/m_1/MaxPool").precision == "int8"
    assert _layer_with(predicted, "/model.7/Resize").precision == "fp16"


def test_attention_is_one_foreign_node(predicted):
    region = _layer_with(predicted, "/model.6/psa/attn/Softmax")
    assert region.name == "{ForeignNode[/model.6/psa/attn/Reshape.../model.6/psa/attn/Reshape_1]}"
    assert {"/model.6/psa/attn/MatMul", "/model.6/psa/attn/MatMul_1"} <= set(region.onnx_nodes)
    assert region.cls is LayerClass.COMPUTE


def test_the_rules_make_the_difference(tmp_path, engine):
    """The TensorRT 8 rules alone (the new keys taken out of the rules file) disagree with the TensorRT 10
    engine: the agreement table must show it, and the new rules must be what fixes it."""
    text = Path(load_rules("tensorrt").path).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    for key in ("int8_epilogue_apart_before", "pointwise_joins_ops", "q_stays_after_ops"):
        assert key in data["predictor"], key
    old = "\n".join(line for line in text.splitlines() if not line.startswith(
        ("int8_epilogue_apart_before", "pointwise_joins_ops", "q_stays_after_ops")))
    old = old.replace("[predictor.foreign]", "[predictor.foreign_unused]")
    path = tmp_path / "trt8.toml"
    path.write_text(old, encoding="utf-8")
    agreement = predictor_agreement(predict_engine(yolo_c2f(), str(path), float_precision="fp16"), engine)
    assert agreement.convolutions.share < 0.9 and agreement.layers.share < 0.9
    assert any(d.real.startswith("{ForeignNode[") for d in agreement.disagreements)


def test_a_wrong_precision_or_fusion_in_the_engine_is_reported(predicted, engine):
    layers = list(engine.layers)
    conv = next(i for i, layer in enumerate(layers) if layer.name.startswith("/model.3/conv/Conv"))
    wrong = dataclasses.replace(layers[conv], outputs=[TensorInfo("x", None, "fp16")])
    silu = next(i for i, layer in enumerate(layers) if layer.name.startswith("PWN(/model.2/cv1/act/Sigmoid"))
    cv1 = next(i for i, layer in enumerate(layers) if layer.name == "/model.2/cv1/conv/Conv")
    merged = dataclasses.replace(layers[cv1], onnx_nodes=layers[cv1].onnx_nodes + layers[silu].onnx_nodes)
    layers[conv], layers[cv1] = wrong, merged
    del layers[silu]
    agreement = predictor_agreement(predicted, dataclasses.replace(engine, layers=layers))
    assert {(d.what, d.real.split(" ")[0]) for d in agreement.disagreements} == {
        ("precision", "/model.3/conv/Conv"), ("fusion", "/model.2/cv1/conv/Conv")}
    assert agreement.convolutions.agree == agreement.convolutions.compared - 2
    assert agreement.layers.compared == 46 and agreement.layers.agree == 45


def test_strongly_typed_prediction_keeps_the_model_float_type(engine):
    strongly = predict_engine(yolo_c2f(), float_precision="onnx")
    assert strongly.build_mode.startswith("strongly typed")
    assert _layer_with(strongly, "/model.7/Resize").precision == "fp32"
    # against an --fp16 engine only the precision of the float layers differs
    agreement = predictor_agreement(strongly, engine)
    assert agreement.layers.share == 1.0 and agreement.precision.share < 1.0
    assert {d.what for d in agreement.disagreements} == {"precision"}


def test_diff_of_a_prediction_and_an_engine_prints_the_agreement(qdqtool, tmp_path):
    model, layers = tmp_path / "yolo.onnx", tmp_path / "engine.layers.json"
    onnx.save(yolo_c2f(), model)
    layers.write_text(json.dumps(yolo_c2f_engine()), encoding="utf-8")
    run = qdqtool("build", model, "--backend", "trt-sim", "--no-strongly-typed", "-o", tmp_path / "pred")
    assert run.code == 0, run.err
    run = qdqtool("diff", tmp_path / "pred" / "engine_report.json", layers, "--json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)["agreement"]
    assert doc["convolutions"] == {"agree": 33, "compared": 33, "share": 1.0}
    assert doc["standalone_qdq"] == {"predicted": 26, "engine": 26, "relative_error": 0.0}
    table = qdqtool("diff", tmp_path / "pred" / "engine_report.json", layers)
    assert "Predictor agreement" in table.out and "33 of 33 (100%)" in table.out
    # two real engines (or two predictions): no agreement table
    assert json.loads(qdqtool("diff", layers, layers, "--json").out)["agreement"] is None


def test_check_predict_says_which_build_it_predicts(qdqtool, tmp_path):
    model = tmp_path / "yolo.onnx"
    onnx.save(yolo_c2f(), model)
    weak = qdqtool("check", model, "--predict", "--no-strongly-typed", "--format", "json")
    strong = qdqtool("check", model, "--predict", "--format", "json")
    assert weak.code in (0, 1) and strong.code in (0, 1), weak.err + strong.err
    assert "--int8 --fp16" in weak.out and "strongly typed" in strong.out
    refused = qdqtool("check", model, "--no-strongly-typed")
    assert refused.code == 2 and "add --predict" in refused.err



def test_concat_copies_count_as_reformats_and_the_concat_as_eliminated(predicted, engine):
    copies = [layer for layer in engine.layers if layer.origin == "CONCAT"]
    assert copies and all(layer.cls is LayerClass.REFORMAT for layer in copies)
    assert all(t.dtype == "int8" for layer in copies for t in layer.inputs + layer.outputs)
    concat = _layer_with(predicted, "/model.2/Concat")
    assert concat.cls is LayerClass.NOOP and concat.precision == "int8"


def test_build_line_names_the_build_it_predicts(qdqtool, tmp_path):
    model = tmp_path / "yolo.onnx"
    onnx.save(yolo_c2f(), model)
    weak = qdqtool("build", model, "--backend", "trt-sim", "--no-strongly-typed", "-o", tmp_path / "weak")
    strong = qdqtool("build", model, "--backend", "trt-sim", "-o", tmp_path / "strong")
    assert "trt-sim, weakly typed INT8 + FP16 build:" in weak.out
    assert "trt-sim, strongly typed build:" in strong.out
    saved = json.loads((tmp_path / "weak" / "engine_report.json").read_text(encoding="utf-8"))
    assert saved["build_mode"].startswith("weakly typed INT8 + FP16")


def test_quantized_attention_is_one_foreign_node_with_its_qdq_fused():
    """ModelOpt's ONNX INT8 placement quantizes the attention MatMuls: the Q/DQ between them are fused into the
    Myelin region, not left standalone."""
    plain = predict_engine(yolo_c2f(), float_precision="fp16")
    quantized = predict_engine(yolo_c2f(quantized_attention=True), float_precision="fp16")
    region = _layer_with(quantized, "/model.6/psa/attn/Softmax")
    assert region.name == _layer_with(plain, "/model.6/psa/attn/Softmax").name
    inside = [n for n in region.onnx_nodes if "/attn/MatMul" in n and "quantizer" in n]
    assert len(inside) == 8  # the Q and DQ of both inputs of both MatMuls
    assert not any("/attn/MatMul" in n for layer in quantized.leftover_qdq for n in layer.onnx_nodes)
    # v's quantize, now shared by MatMul_1 and the pe convolution (one tensor, one scale: merged siblings), is
    # written by the region: one standalone quantize fewer
    assert "/model.6/psa/attn/pe/conv/input_quantizer/QuantizeLinear" in region.onnx_nodes
    assert len(quantized.leftover_qdq) == len(plain.leftover_qdq) - 1


def test_the_model_readers_keep_the_silu_apart_even_when_the_qs_cross_the_chunk():
    """A C3k2 chunk whose halves are both read by equal Qs: the Qs move back across the Slices onto the SiLU's
    output, yet TensorRT 10 kept that SiLU a PointWise layer with an FP16 output [issue 14:
    "PWN(/model.13/cv1/act/Sigmoid, /model.13/cv1/act/Mul)"], so the model's readers decide, and the quantize
    stays standalone after it."""
    from tests.fixtures.builder import GraphBuilder

    b = GraphBuilder("chunk", style="int8", opset=17)
    x = b.qdq(b.input("x", [1, 8, 16, 16]), 0.05, "in")
    y = b.conv(x, 16, 3, 1, "/model.13/cv1/conv/Conv")
    y = b.node("Mul", [y, b.node("Sigmoid", [y], name="/model.13/cv1/act/Sigmoid")], name="/model.13/cv1/act/Mul")
    halves = [b.slice(y, [0], [8], [1], "/model.13/Slice"), b.slice(y, [8], [16], [1], "/model.13/Slice_1")]
    outs = [b.conv(b.qdq(h, 0.04, f"q{i}"), 8, 1, 1, f"/model.13/m.{i}/conv/Conv") for i, h in enumerate(halves)]
    b.output(b.add(outs[0], outs[1], "sum"))
    report = predict_engine(b.build(), float_precision="fp16")
    silu = _layer_with(report, "/model.13/cv1/act/Sigmoid")
    assert silu.name == "PWN(/model.13/cv1/act/Sigmoid, /model.13/cv1/act/Mul)" and silu.precision == "fp16"
    assert _layer_with(report, "/model.13/Slice").precision == "int8"  # the merged Q crossed both Slices
    assert any("q0.Q" in layer.onnx_nodes for layer in report.leftover_qdq)
