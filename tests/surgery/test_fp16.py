"""``merge --fix fp16`` (surgery/fp16.py): the float regions TensorRT runs outside INT8 get FP16 types; everything
quantized stays byte for byte, the model stays valid, runs in ONNX Runtime and is judged against float."""

from __future__ import annotations

import copy

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from qdqtool.engine.predictor import predict_engine
from qdqtool.gate.engine_rules import _float_compute
from qdqtool.jobs.merge import MergeRequest, checked_merge
from qdqtool.surgery.fp16 import cast_float_regions
from tests.fixtures import models as M
from tests.fixtures.registry import get


def _qdq_part(model: onnx.ModelProto) -> list:
    """Every Q/DQ node (but for the name of the tensor it reads, which a Cast may now write) and the initializers
    they read, serialized: what the fix must not touch."""
    inits = {t.name: t for t in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    parts = []
    for node in nodes:
        node = copy.deepcopy(node)
        parts += [inits[t].SerializeToString() for t in node.input[1:] if t in inits]
        node.input[0] = ""
        parts.append(node.SerializeToString())
    return parts


def _run(model: onnx.ModelProto, feed: dict) -> list:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)


def test_the_float_layers_run_fp16_and_the_quantized_part_is_untouched(tmp_path):
    model = M.resnet18("qat")
    before = predict_engine(model)
    assert {layer.precision for layer in _float_compute(before)} == {"fp32"}
    outcome = checked_merge(MergeRequest(model=_save(model, tmp_path / "m.onnx"), output=tmp_path / "o.onnx",
                                         fixes=("fp16",), verify=False))
    merged = onnx.load(tmp_path / "o.onnx")
    onnx.checker.check_model(merged, full_check=True)
    assert [a.node for a in outcome.fixes] == ["MaxPool_12", "GlobalAveragePool_246"]
    after = predict_engine(merged)
    assert {layer.precision for layer in _float_compute(after)} == {"fp16"}
    assert len(after.leftover_qdq) == len(before.leftover_qdq)  # the INT8 fusions are the same
    plain = checked_merge(MergeRequest(model=tmp_path / "m.onnx", output=tmp_path / "p.onnx", verify=False))
    assert plain.written and _qdq_part(merged) == _qdq_part(onnx.load(tmp_path / "p.onnx"))
    casts = [n for n in merged.graph.node if n.op_type == "Cast"]
    assert len(casts) == 4  # into and out of each of the two float regions
    feed = {merged.graph.input[0].name: np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)}
    (a,), (b,) = _run(onnx.load(tmp_path / "p.onnx"), feed), _run(merged, feed)
    assert b.dtype == np.float32 and np.abs(a - b).max() <= 0.01 * np.abs(a).max()


def test_running_it_again_changes_nothing(tmp_path):
    once = M.resnet18("qat")
    assert cast_float_regions(once, ["MaxPool_12", "GlobalAveragePool_246"])
    twice = copy.deepcopy(once)
    assert cast_float_regions(twice, ["MaxPool_12", "GlobalAveragePool_246"]) == [] and twice == once


def _graph(nodes, inits, out="y"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 2, 8, 8])
    return helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits),
                             opset_imports=[helper.make_opsetid("", 13)])


def test_what_keeps_its_type():
    """Graph outputs' producers (the model keeps its I/O types), Q/DQ and Cast nodes, and inputs typed otherwise
    than the op's output (Resize's float scales) are left alone; an initializer only region nodes read goes FP16."""
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [1], [0.5])
    model = _graph([
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Resize", ["r", "", "scales"], ["u"], name="resize", mode="nearest"),
        helper.make_node("Add", ["u", "bias"], ["a"], name="add"),
        helper.make_node("Cast", ["a"], ["c"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Sigmoid", ["c"], ["y"], name="sigmoid"),
    ], [scales, bias])
    actions = cast_float_regions(model, ["relu", "resize", "add", "cast", "sigmoid"])
    assert [a.node for a in actions] == ["relu", "resize", "add"]
    onnx.checker.check_model(model, full_check=True)
    inits = {t.name: t.data_type for t in model.graph.initializer}
    assert inits == {"scales": TensorProto.FLOAT, "bias": TensorProto.FLOAT16}
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    feed = {"x": np.linspace(-1, 1, 32, dtype=np.float32).reshape(1, 2, 4, 4)}
    (y,) = _run(model, feed)
    expected = 1 / (1 + np.exp(-(np.maximum(feed["x"], 0).repeat(2, 2).repeat(2, 3) + 0.5)))
    assert y.dtype == np.float32 and np.allclose(y, expected, atol=1e-3)


def test_on_a_trained_detector_it_is_judged_against_float(quantized_model, text_image_dir, tmp_path):
    """PP-OCRv4 text detection quantized by onnxruntime: its float layers (the head's upsampling between Q/DQ)
    go FP16, and on drawn pages that costs next to nothing against the FP32 export's outputs."""
    model = quantized_model("ppocr_det", "int8")
    assert _float_compute(predict_engine(onnx.load(model)))
    outcome = checked_merge(MergeRequest(model=model, output=tmp_path / "o.onnx", fixes=("fp16",),
                                         input_shapes={"x": (1, 3, 480, 480)}, inputs=str(text_image_dir),
                                         preprocess={"preset": "ppocr-det"}))
    assert outcome.fixes and outcome.written and outcome.check and not outcome.check.random
    (output,) = outcome.check.outputs
    assert abs(output.overall.added_db) < 0.5
    fixed = onnx.load(tmp_path / "o.onnx")
    left = [layer.onnx_nodes for layer in _float_compute(predict_engine(fixed)) if layer.precision == "fp32"]
    assert left == [("p2o.Sigmoid.0",)]  # 140 float layers in FP16 but the one that writes the graph output


def _save(model: onnx.ModelProto, path):
    onnx.save(model, path)
    return path


def test_registered_as_a_merge_fix():
    from qdqtool.jobs.choices import fixes

    assert "fp16" in fixes() and get("resnet18_qat") is not None
