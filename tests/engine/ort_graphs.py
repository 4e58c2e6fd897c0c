"""Small uint8 QDQ graphs in ONNX Runtime's own style, for the onnxruntime backend, compare and rules tests.

Activations are uint8 with a zero point (0 after a Relu, as ``onnxruntime.quantization`` picks for a range that
starts at 0), weights are int8 per channel and stored already quantized behind a lone DequantizeLinear, and names
follow the quantizer (``<tensor>_QuantizeLinear``, ``<tensor>_scale``, ``<tensor>_zero_point``). Each Q/DQ pair has
its own scale/zero-point initializers, as the quantizer writes them. Everything is seeded, so every call returns
the same bytes.

    >>> model = pool_chain(pool_in=0.05, pool_out=0.07)   # DQ -> MaxPool -> Q with unequal scales
    >>> assert any(n.op_type == "MaxPool" for n in model.graph.node)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT = "input"
_NP = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16}


class QdqGraph:
    """Append nodes with Q/DQ pairs, int8 convolutions and a few data-movement ops."""

    def __init__(self, dtype: str = "uint8", seed: int = 0) -> None:
        self.dtype = dtype
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def qdq(self, x: str, scale: float, zero_point: int = 0, name: str | None = None) -> str:
        """Q then DQ of ``x`` with their own (equal) parameter initializers; returns the DQ output."""
        name = name or x
        s = self.const(f"{name}_scale", np.array(scale, np.float32))
        z = self.const(f"{name}_zero_point", np.array(zero_point, _NP[self.dtype]))
        self.nodes.append(helper.make_node("QuantizeLinear", [x, s, z], [f"{name}_quantized"],
                                           name=f"{name}_QuantizeLinear"))
        self.nodes.append(helper.make_node("DequantizeLinear", [f"{name}_quantized", s, z], [f"{name}_dequantized"],
                                           name=f"{name}_DequantizeLinear"))
        return f"{name}_dequantized"

    def conv(self, x: str, cin: int, cout: int, name: str, relu: bool = True) -> str:
        """An int8 per-channel weight DQ, a 3x3 Conv (padding 1) and optionally a Relu."""
        w = self.rng.integers(-127, 128, size=(cout, cin, 3, 3)).astype(np.int8)
        wq = self.const(f"{name}.weight_quantized", w)
        ws = self.const(f"{name}.weight_scale", np.full(cout, 0.004, np.float32))
        wz = self.const(f"{name}.weight_zero_point", np.zeros(cout, np.int8))
        self.nodes.append(helper.make_node("DequantizeLinear", [wq, ws, wz], [f"{name}.weight"],
                                           name=f"{name}.weight_DequantizeLinear", axis=0))
        self.nodes.append(helper.make_node("Conv", [x, f"{name}.weight"], [f"{name}_output"], name=name,
                                           kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        if not relu:
            return f"{name}_output"
        self.nodes.append(helper.make_node("Relu", [f"{name}_output"], [f"{name}_relu"], name=f"{name}_relu"))
        return f"{name}_relu"

    def op(self, op_type: str, inputs: Sequence[str], name: str, outputs: int = 1, **attrs) -> list[str]:
        outs = [f"{name}_output" if outputs == 1 else f"{name}_output_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=name, **attrs))
        return outs

    def build(self, input_shape: Sequence[int], outputs: Sequence[str], opset: int = 13,
              name: str = "ort_qdq") -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, name, [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, list(input_shape))],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="qdqtool-tests")
        model.ir_version = 8
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)  # fills in the output shapes
        onnx.checker.check_model(model, full_check=True)
        return model


def _between_convs(middle, pool_in: float, pool_out: float, seed: int, size: int = 16) -> onnx.ModelProto:
    g = QdqGraph(seed=seed)
    x = g.qdq(INPUT, 0.02, 128)
    y = g.qdq(g.conv(x, 3, 8, "conv0"), pool_in, 0, name="conv0_relu")
    y = middle(g, y)
    y = g.qdq(y, pool_out, 0, name="middle_output")
    y = g.qdq(g.conv(y, 8, 8, "conv1", relu=False), 0.1, 128, name="conv1_output")
    return g.build([1, 3, size, size], [y])


def pool_chain(pool_in: float = 0.05, pool_out: float = 0.07, seed: int = 0) -> onnx.ModelProto:
    """conv0 -> Q/DQ -> MaxPool -> Q/DQ -> conv1: the MaxPool's DQ and Q carry ``pool_in`` and ``pool_out``."""
    return _between_convs(lambda g, y: g.op("MaxPool", [y], "pool", kernel_shape=[2, 2], strides=[2, 2])[0],
                          pool_in, pool_out, seed)


def resize_chain(pool_in: float = 0.05, pool_out: float = 0.07, seed: int = 0) -> onnx.ModelProto:
    """conv0 -> Q/DQ -> Resize (nearest, x2) -> Q/DQ -> conv1."""
    def middle(g: QdqGraph, y: str) -> str:
        scales = g.const("upsample_scales", np.array([1, 1, 2, 2], np.float32))
        return g.op("Resize", [y, "", scales], "upsample", mode="nearest")[0]

    return _between_convs(middle, pool_in, pool_out, seed, size=8)


def reshape_chain(pool_in: float = 0.05, pool_out: float = 0.07, seed: int = 0) -> onnx.ModelProto:
    """conv0 -> Q/DQ -> Reshape (1x8x16x16 -> 1x16x8x16) -> Q/DQ -> conv1 (reading 8 channels of 2x the height)."""
    def middle(g: QdqGraph, y: str) -> str:
        shape = g.const("reshape_shape", np.array([1, 8, 32, 8], np.int64))
        return g.op("Reshape", [y, shape], "reshape")[0]

    return _between_convs(middle, pool_in, pool_out, seed)


def fan_out(scale_a: float = 0.05, scale_b: float = 0.07, seed: int = 0) -> onnx.ModelProto:
    """conv0 read by two sibling Q nodes (``scale_a``, ``scale_b``), each feeding a convolution."""
    g = QdqGraph(seed=seed)
    x = g.qdq(INPUT, 0.02, 128)
    y = g.conv(x, 3, 8, "conv0")
    a = g.qdq(y, scale_a, 0, name="branch_a_input")
    b = g.qdq(y, scale_b, 0, name="branch_b_input")
    ya = g.qdq(g.conv(a, 8, 8, "conv_a", relu=False), 0.1, 128, name="conv_a_output")
    yb = g.qdq(g.conv(b, 8, 8, "conv_b", relu=False), 0.1, 128, name="conv_b_output")
    return g.build([1, 3, 16, 16], [ya, yb])


def concat_mixed(seed: int = 0) -> onnx.ModelProto:
    """Two convolutions with unequal output scales concatenated (ONNX Runtime's QLinearConcat takes both)."""
    g = QdqGraph(seed=seed)
    x = g.qdq(INPUT, 0.02, 128)
    a = g.qdq(g.conv(x, 3, 4, "conv_a"), 0.05, 0)
    b = g.qdq(g.conv(x, 3, 4, "conv_b"), 0.09, 0)
    y = g.qdq(g.op("Concat", [a, b], "concat", axis=1)[0], 0.09, 0)
    y = g.qdq(g.conv(y, 8, 8, "conv_c", relu=False), 0.1, 128, name="conv_c_output")
    return g.build([1, 3, 16, 16], [y])


def drop_graph(op_type: str, scale_in: float, scale_out: float, *, dtype: str = "uint8", opset: int = 13,
               zero_point_in: int | None = None, zero_point_out: int | None = None,
               attrs: dict | None = None) -> onnx.ModelProto:
    """input -> Q -> DQ -> ``op_type`` -> Q -> DQ (-> output, one pair per op output): the smallest graph in which
    ONNX Runtime's QDQ clean-up can drop the DQ and Q around the op.

    Constant inputs are chosen per op so that the op is valid on a 1x4x8x8 input.
    """
    g = QdqGraph(dtype=dtype)
    default_zp = 128 if dtype == "uint8" else 0
    x = g.qdq(INPUT, scale_in, default_zp if zero_point_in is None else zero_point_in, name="op_input")
    kwargs = dict(attrs or {})
    inputs, outputs = [x], 1
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    if op_type in ("MaxPool", "AveragePool"):
        kwargs = {"kernel_shape": [2, 2], "strides": [2, 2], **kwargs}
    elif op_type == "Resize":
        inputs += ["", g.const("resize_scales", np.array([1, 1, 2, 2], np.float32))]
        kwargs = {"mode": "nearest", **kwargs}
    elif op_type == "Reshape":
        inputs.append(g.const("shape", i64(1, 4, 64)))
    elif op_type == "Transpose":
        kwargs = {"perm": [0, 2, 3, 1], **kwargs}
    elif op_type in ("Squeeze", "Unsqueeze"):
        inputs.append(g.const("axes", i64(0)))
    elif op_type == "Slice":
        inputs += [g.const("starts", i64(0)), g.const("ends", i64(4)), g.const("slice_axes", i64(3))]
    elif op_type == "Gather":
        inputs.append(g.const("indices", i64(0, 2)))
        kwargs = {"axis": 1, **kwargs}
    elif op_type == "GatherElements":
        inputs.append(g.const("indices", np.zeros((1, 4, 8, 8), np.int64)))
        kwargs = {"axis": 1, **kwargs}
    elif op_type == "Expand":
        inputs.append(g.const("shape", i64(2, 4, 8, 8)))
    elif op_type == "Tile":
        inputs.append(g.const("repeats", i64(1, 1, 2, 1)))
    elif op_type in ("ReduceMax", "ReduceMin") and opset < 18:
        kwargs = {"axes": [1], **kwargs}
    elif op_type in ("DepthToSpace", "SpaceToDepth"):
        kwargs = {"blocksize": 2, **kwargs}
    elif op_type == "Pad":
        inputs.append(g.const("pads", i64(0, 0, 1, 1, 0, 0, 1, 1)))
    elif op_type == "Split":
        inputs.append(g.const("split", i64(2, 2)))
        kwargs = {"axis": 1, **kwargs}
        outputs = 2
    ys = g.op(op_type, inputs, "op", outputs=outputs, **kwargs)
    zp_out = default_zp if zero_point_out is None else zero_point_out
    outs = [g.qdq(y, scale_out, zp_out, name=f"op_output_{i}") for i, y in enumerate(ys)]
    return g.build([1, 4, 8, 8], outs, opset=opset, name=f"drop_{op_type}")


def binary_graph(op_type: str, scale_a: float, scale_b: float, scale_out: float) -> onnx.ModelProto:
    """The input through two Q/DQ pairs (``scale_a``, ``scale_b``) into a two-input op (Concat on axis 1, Add, Mul,
    Where, MatMul), then Q/DQ with ``scale_out``."""
    g = QdqGraph()
    a = g.qdq(INPUT, scale_a, 128, name="a")
    b = g.qdq(INPUT, scale_b, 128, name="b")
    inputs, attrs = [a, b], {}
    if op_type == "Concat":
        attrs = {"axis": 1}
    elif op_type == "Where":
        inputs = [g.const("condition", np.ones((1, 4, 8, 8), bool)), a, b]
    y = g.qdq(g.op(op_type, inputs, "op", **attrs)[0], scale_out, 128, name="op_output")
    return g.build([1, 4, 8, 8], [y], name=f"binary_{op_type}")


def requantize_chain(scale_1: float = 0.05, scale_2: float = 0.07, seed: int = 0) -> onnx.ModelProto:
    """conv0 -> Q1/DQ1 -> Q2/DQ2 -> conv1: a requantize from ``scale_1`` to ``scale_2``."""
    g = QdqGraph(seed=seed)
    x = g.qdq(INPUT, 0.02, 128)
    y = g.qdq(g.conv(x, 3, 8, "conv0"), scale_1, 0, name="first")
    y = g.qdq(y, scale_2, 0, name="second")
    y = g.qdq(g.conv(y, 8, 8, "conv1", relu=False), 0.1, 128, name="conv1_output")
    return g.build([1, 3, 16, 16], [y])


def fan_out_add(dtype: str = "int8", scale_a: float = 0.05, scale_b: float = 0.07) -> onnx.ModelProto:
    """relu(input) read by two sibling Qs: one feeds a float Sigmoid, the other a quantized Add with the input."""
    g = QdqGraph(dtype=dtype)
    zp = 128 if dtype == "uint8" else 0
    r = g.op("Relu", [INPUT], "relu")[0]
    side = g.op("Sigmoid", [g.qdq(r, scale_a, zp, name="side")], "side_op")[0]
    skip = g.qdq(r, scale_b, zp, name="skip")
    y = g.qdq(g.op("Add", [g.qdq(INPUT, 0.07, zp, name="other"), skip], "add")[0], 0.1, zp, name="add_output")
    return g.build([1, 4, 8, 8], [y, side], name=f"fan_out_add_{dtype}")


def int8_pool_opset21() -> onnx.ModelProto:
    """int8 DQ -> MaxPool -> Relu at opset 21: ONNX Runtime 1.32's QDQ propagation writes a Q with output_dtype int8
    and a uint8 zero point here, then rejects its own graph."""
    g = QdqGraph(dtype="int8")
    y = g.op("MaxPool", [g.qdq(INPUT, 0.1, 0, name="a")], "pool", kernel_shape=[2, 2], strides=[2, 2])[0]
    return g.build([1, 4, 8, 8], [g.op("Relu", [y], "relu")[0]], opset=21, name="int8_pool_opset21")


def ort_optimize(model: onnx.ModelProto, tmp_path) -> onnx.ModelProto:
    """The graph ONNX Runtime (CPU, ORT_ENABLE_ALL) runs for ``model``, read back from ``optimized_model_filepath``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    path = tmp_path / f"{model.graph.name}.optimized.onnx"
    options.optimized_model_filepath = str(path)
    ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return onnx.load(str(path))


def producer_ops(model: onnx.ModelProto, op_type: str) -> list[str]:
    """For each node of ``op_type`` (any domain), the op type that produces its first input ("" for a graph input)."""
    producers = {out: node.op_type for node in model.graph.node for out in node.output}
    return [producers.get(node.input[0], "") for node in model.graph.node if node.op_type == op_type]


def count_ops(model: onnx.ModelProto, *op_types: str) -> int:
    return sum(node.op_type in op_types for node in model.graph.node)
