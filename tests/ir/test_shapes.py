"""Static shapes by ONNX shape inference (qdqtool.ir.shapes): inferred once per index, on a light copy that leaves
large initializers out, without touching the model."""

from __future__ import annotations

import math

import onnx

from qdqtool.ir import shapes as shapes_module
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.shapes import tensor_shapes
from tests.fixtures import models as M
from tests.fixtures.builder import GraphBuilder


def counting_inference(monkeypatch) -> list[onnx.ModelProto]:
    """Record every model handed to onnx.shape_inference.infer_shapes (the inference still runs)."""
    seen: list[onnx.ModelProto] = []
    infer = onnx.shape_inference.infer_shapes

    def recording(model, *args, **kwargs):
        seen.append(onnx.ModelProto.FromString(model.SerializeToString()))
        return infer(model, *args, **kwargs)

    monkeypatch.setattr(shapes_module.onnx.shape_inference, "infer_shapes", recording)
    return seen


def test_shapes_are_computed_once_per_index_and_leave_the_model_untouched(monkeypatch):
    """tensor_shapes runs inference once per index (a second call returns the same object) and leaves the model
    byte-identical."""
    seen = counting_inference(monkeypatch)
    model = M.yolov6_qat("int8")
    before = model.SerializeToString()
    index = GraphIndex(model)
    first = tensor_shapes(index)
    assert tensor_shapes(index) is first and index.shapes_cache is first
    assert len(seen) == 1
    assert model.SerializeToString() == before
    assert first.shapes["images"] == tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)
    assert tensor_shapes(GraphIndex(model)) is not first and len(seen) == 2  # a new index infers anew


def big_weight() -> onnx.ModelProto:
    """x (1, 16, 8, 8) -> pair -> Conv with 64 output channels (a 9,216-value weight) -> Reshape (1, 64, 64), the
    graph output, declared with three unknown dimensions: only inference can tell them."""
    b = GraphBuilder("big_weight", style="int8")
    x = b.qdq(b.input("x", [1, 16, 8, 8]), 0.05, "in")
    y = b.reshape(b.conv(x, 64, 3, name="conv"), [1, 64, -1], "reshape", out="y")
    b.output(y)
    model = b.build()
    for dim in model.graph.output[0].type.tensor_type.shape.dim:
        dim.Clear()
    onnx.checker.check_model(model, full_check=True)
    return model


def test_large_initializers_are_not_copied_into_the_inference_model(monkeypatch):
    """Large initializers are declared as inputs of their shape, not copied, in the model inference runs on; the
    shapes that depend on them (and on small constants, which stay) are still inferred."""
    seen = counting_inference(monkeypatch)
    model = big_weight()
    weight = next(t for t in model.graph.initializer if t.name == "conv.weight")
    assert math.prod(weight.dims) == 64 * 16 * 3 * 3
    shapes = tensor_shapes(GraphIndex(model))
    (light,) = seen
    kept = {t.name: math.prod(t.dims) for t in light.graph.initializer}
    assert "conv.weight" not in kept and all(count <= 64 for count in kept.values())
    assert "reshape.shape" in kept  # the Reshape target: small, so it stays
    declared = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in light.graph.input}
    assert declared["conv.weight"] == list(weight.dims)
    assert shapes.shapes["y"] == (1, 64, 64) and shapes.shapes["conv_output_0"] == (1, 64, 8, 8)
    assert shapes.shapes["conv.weight"] == (64, 16, 3, 3) and shapes.elem_types["y"] == onnx.TensorProto.FLOAT
    assert not shapes.notes
