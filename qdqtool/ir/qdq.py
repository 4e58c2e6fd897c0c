"""Quantizers: the Q/DQ nodes of a graph, grouped the way their parameters are coupled.

A *quantizer* is one QuantizeLinear and the DequantizeLinear nodes that read its output (they must share one
scale and zero point, or the pair itself changes the values), or a DequantizeLinear with no Q in front of it
(weights stored as int8, int8 graph inputs).

    >>> quantizers = find_quantizers(GraphIndex(model))
    >>> q = quantizers[0]
    >>> assert q.nodes[0] in (q.q, *q.dqs)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from qdqtool.ir.index import GraphIndex, attr

# ONNX element type -> short name used in reports and rules
DTYPE_NAMES = {
    onnx.TensorProto.INT8: "int8",
    onnx.TensorProto.UINT8: "uint8",
    onnx.TensorProto.INT16: "int16",
    onnx.TensorProto.UINT16: "uint16",
    onnx.TensorProto.INT32: "int32",
}
for _name, _label in (
    ("FLOAT8E4M3FN", "fp8e4m3fn"), ("FLOAT8E4M3FNUZ", "fp8e4m3fnuz"), ("FLOAT8E5M2", "fp8e5m2"),
    ("FLOAT8E5M2FNUZ", "fp8e5m2fnuz"), ("INT4", "int4"), ("UINT4", "uint4"), ("FLOAT4E2M1", "fp4e2m1"),
    ("INT2", "int2"), ("UINT2", "uint2"), ("FLOAT8E8M0", "fp8e8m0"),
):
    if hasattr(onnx.TensorProto, _name):
        DTYPE_NAMES[getattr(onnx.TensorProto, _name)] = _label

DTYPE_CODES = {name: code for code, name in DTYPE_NAMES.items()}

# integer range of the dtypes whose scales qdqtool unifies
QRANGE = {"int8": (-128, 127), "uint8": (0, 255)}

_DEFAULT_DOMAINS = ("", "ai.onnx")


def is_q(node: onnx.NodeProto) -> bool:
    return node.op_type == "QuantizeLinear" and node.domain in _DEFAULT_DOMAINS


def is_dq(node: onnx.NodeProto) -> bool:
    return node.op_type == "DequantizeLinear" and node.domain in _DEFAULT_DOMAINS


@dataclass
class QParams:
    """Scale, zero point and quantized type of one Q or DQ node."""

    scale: np.ndarray
    zero_point: np.ndarray  # zeros when the input is omitted
    dtype: str  # "int8", "uint8", "fp8e4m3fn", "int4", ... or "unknown"
    axis: int | None = None  # set for per-channel (non-scalar scale)
    block_size: int = 0

    @property
    def per_tensor(self) -> bool:
        return self.scale.size == 1 and self.block_size == 0

    @property
    def supported(self) -> bool:
        """int8/uint8, per-tensor or per-channel, not blocked: the parameters qdqtool knows how to unify."""
        return self.dtype in QRANGE and self.block_size == 0

    def same_as(self, other: QParams) -> bool:
        """Bit-equal parameters (TensorRT compares scales for exact equality)."""
        return (
            self.dtype == other.dtype
            and self.scale.shape == other.scale.shape
            and np.array_equal(self.scale.astype(np.float32), other.scale.astype(np.float32))
            and np.array_equal(self.zero_point.astype(np.int64), other.zero_point.astype(np.int64))
        )

    def represented_range(self) -> tuple[float, float]:
        """The real-valued interval a per-tensor quantizer can represent."""
        qmin, qmax = QRANGE[self.dtype]
        s = float(self.scale.reshape(-1)[0])
        z = int(self.zero_point.reshape(-1)[0])
        return s * (qmin - z), s * (qmax - z)


@dataclass
class QdqNode:
    """A QuantizeLinear or DequantizeLinear node with its parameters read from the graph."""

    index: int
    node: onnx.NodeProto
    params: QParams | None  # None when the scale is not a constant

    @property
    def name(self) -> str:
        return self.node.name or self.node.output[0]

    @property
    def is_q(self) -> bool:
        return is_q(self.node)

    @property
    def scale_name(self) -> str:
        return self.node.input[1]

    @property
    def zero_point_name(self) -> str:
        return self.node.input[2] if len(self.node.input) > 2 else ""


@dataclass
class Quantizer:
    """One set of coupled Q/DQ nodes (see module docstring)."""

    id: int
    q: QdqNode | None
    dqs: list[QdqNode] = field(default_factory=list)
    input: str | None = None  # the float tensor the Q reads (None for a DQ-only quantizer)
    is_weight: bool = False  # the quantized tensor is a constant (weights)

    @property
    def nodes(self) -> list[QdqNode]:
        return ([self.q] if self.q else []) + self.dqs

    @property
    def outputs(self) -> list[str]:
        """The float tensors its DQ nodes produce."""
        return [dq.node.output[0] for dq in self.dqs]

    @property
    def params(self) -> QParams | None:
        """The parameters of the Q (or first DQ): what the quantizer means."""
        first = self.nodes[0]
        return first.params

    @property
    def name(self) -> str:
        return self.nodes[0].name

    @property
    def self_consistent(self) -> bool:
        """Q and all its DQs carry equal parameters."""
        ref = self.params
        return ref is not None and all(n.params is not None and n.params.same_as(ref) for n in self.nodes)

    @property
    def fixed_source(self) -> bool:
        """A DQ-only activation quantizer: its int8 input comes from outside (graph input), so its scale is fixed."""
        return self.q is None and not self.is_weight


def read_params(index: GraphIndex, node: onnx.NodeProto, input_dtype: str | None = None) -> QParams | None:
    """Read scale / zero point / dtype of a Q or DQ node from constants; None if the scale is computed."""
    scale = index.const_array(node.input[1]) if len(node.input) > 1 else None
    if scale is None:
        return None
    zp_name = node.input[2] if len(node.input) > 2 else ""
    zero_point = index.const_array(zp_name) if zp_name else None
    if zp_name and zero_point is None:
        return None
    if zp_name:
        dtype = DTYPE_NAMES.get(index.const_dtype(zp_name), "unknown")
    elif is_q(node):
        # opset 21 names the type in `output_dtype`; before that a Q without zero point is uint8
        dtype = DTYPE_NAMES.get(attr(node, "output_dtype", 0) or onnx.TensorProto.UINT8, "unknown")
    else:
        dtype = input_dtype or "unknown"
    if zero_point is None:
        zero_point = np.zeros(scale.shape, dtype=np.int64)
    return QParams(
        scale=scale,
        zero_point=zero_point,
        dtype=dtype,
        axis=attr(node, "axis", 1) if scale.size > 1 else None,
        block_size=attr(node, "block_size", 0) or 0,
    )


def _input_dtype(index: GraphIndex, tensor: str) -> str | None:
    """The integer type of a DQ input that is a constant or a graph input."""
    code = index.const_dtype(tensor)
    if code is None:
        for value in index.graph.input:
            if value.name == tensor and value.type.HasField("tensor_type"):
                code = value.type.tensor_type.elem_type
    return DTYPE_NAMES.get(code) if code is not None else None


def find_quantizers(index: GraphIndex) -> list[Quantizer]:
    """All quantizers of the main graph, in node order."""
    quantizers: list[Quantizer] = []
    claimed: set[int] = set()
    for i, node in enumerate(index.nodes):
        if not is_q(node):
            continue
        q_node = QdqNode(i, node, read_params(index, node))
        dqs = []
        for j in index.consumers.get(node.output[0], ()):
            if is_dq(index.nodes[j]):
                dtype = q_node.params.dtype if q_node.params else None
                dqs.append(QdqNode(j, index.nodes[j], read_params(index, index.nodes[j], dtype)))
                claimed.add(j)
        quantizers.append(
            Quantizer(id=len(quantizers), q=q_node, dqs=dqs, input=node.input[0],
                      is_weight=index.is_constant(node.input[0]))
        )
    for i, node in enumerate(index.nodes):
        if is_dq(node) and i not in claimed:
            dq = QdqNode(i, node, read_params(index, node, _input_dtype(index, node.input[0])))
            quantizers.append(
                Quantizer(id=len(quantizers), q=None, dqs=[dq], input=None,
                          is_weight=index.is_constant(node.input[0]))
            )
    return quantizers
