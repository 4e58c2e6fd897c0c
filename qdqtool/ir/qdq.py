"""Quantizers: the Q/DQ nodes of a graph, grouped the way their parameters are coupled.

A *quantizer* is one QuantizeLinear and the DequantizeLinear nodes that read its output (they must share one
scale and zero point, or the pair itself changes the values), or a DequantizeLinear with no Q in front of it
(weights stored as int8, int8 graph inputs).

    >>> quantizers = find_quantizers(GraphIndex(model))
    >>> q = quantizers[0]
    >>> assert q.nodes[0] in (q.q, *q.dqs)
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import onnx

from qdqtool.errors import BadInputError
from qdqtool.ir.index import DEFAULT_DOMAINS, RAW_NP_TYPES, GraphIndex

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



def is_q(node: onnx.NodeProto) -> bool:
    return node.op_type == "QuantizeLinear" and node.domain in DEFAULT_DOMAINS


def is_dq(node: onnx.NodeProto) -> bool:
    return node.op_type == "DequantizeLinear" and node.domain in DEFAULT_DOMAINS


def dequantized_q(index: GraphIndex, tensor: str) -> int | None:
    """The Q of the pair Q -> DQ whose DQ writes ``tensor`` (its id), or None: ``tensor`` is not a DQ's output, or
    the DQ reads stored integers rather than a Q."""
    dq = index.producer.get(tensor)
    if dq is None or not is_dq(index.node_at(dq)):
        return None
    q = index.producer.get(index.inputs[dq][0])
    return q if q is not None and is_q(index.node_at(q)) else None


class ParamsKey(NamedTuple):
    """What equality of parameters means: bit-equal scales and zero points of one type, axis and block size.

    Per tensor, ``scale`` is a Python float (it holds a float32 or float16 value exactly) and ``zero_point`` an int;
    per channel both are the raw bytes of the values (float32 and int64).
    """

    dtype: str
    scale: float | bytes
    zero_point: int | bytes
    axis: int | None
    block_size: int


class QParams:
    """Scale, zero point and quantized type of one Q or DQ node; equal when their :class:`ParamsKey` is.

    Made by :func:`params_from_arrays` or, for nearly every activation Q/DQ, :func:`params_from_scalar_tensors`,
    which keeps the raw bytes of the two one-value initializers and makes numpy arrays only on first use: a large
    graph has tens of thousands of parameters and most are only compared.
    """

    __slots__ = ("key", "dtype", "axis", "block_size", "one_value", "_scale", "_zero_point", "_raw")

    def __init__(self, key: ParamsKey, scale: np.ndarray | None = None, zero_point: np.ndarray | None = None,
                 raw: tuple | None = None) -> None:
        """``scale``/``zero_point`` as arrays, or ``raw``: (scale bytes, its type, zero-point bytes, its type, and
        the two TensorProtos, whose shapes are read only when arrays are made) of one-value tensors."""
        self.key = key
        # "int8", "uint8", "fp8e4m3fn", "int4", ... or "unknown"; axis only per channel (non-scalar scale)
        self.dtype, scale_key, _, self.axis, self.block_size = key
        self.one_value = scale_key.__class__ is not bytes  # one scale (per tensor, or a one-channel axis)
        self._scale, self._zero_point, self._raw = scale, zero_point, raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QParams) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def same_as(self, other: QParams) -> bool:
        """Bit-equal parameters (TensorRT compares scales for exact equality)."""
        return self.key == other.key

    @property
    def scale(self) -> np.ndarray:
        if self._scale is None:
            self._arrays()
        return self._scale

    @property
    def zero_point(self) -> np.ndarray:
        if self._zero_point is None:
            self._arrays()
        return self._zero_point

    def _arrays(self) -> None:
        scale_raw, scale_type, zp_raw, zp_type, scale, zero_point = self._raw
        # one value: every dimension is 1, so the number of dimensions gives the shape
        self._scale = np.ndarray((1,) * len(scale.dims), RAW_NP_TYPES[scale_type], scale_raw)
        self._zero_point = np.ndarray((1,) * len(zero_point.dims), RAW_NP_TYPES[zp_type], zp_raw)

    @property
    def per_tensor(self) -> bool:
        return self.one_value and self.block_size == 0

    @property
    def supported(self) -> bool:
        """int8/uint8, per-tensor or per-channel, not blocked: the parameters qdqtool knows how to unify."""
        return self.dtype in QRANGE and self.block_size == 0

    @property
    def scale_value(self) -> float:
        """The (first) scale as a Python float."""
        return self.key.scale if self.one_value else float(self.scale.reshape(-1)[0])

    @property
    def zero_point_value(self) -> int:
        """The (first) zero point as a Python int."""
        return self.key.zero_point if self.one_value else int(self.zero_point.reshape(-1)[0])

    @property
    def starts_at_zero(self) -> bool:
        """Per tensor, with the zero point at the type's minimum: the range is [0, max], which also does a Relu's
        clipping (onnxruntime's quantizer removes a Relu or Clip(0, 6) in front of such a Q)."""
        return self.per_tensor and self.dtype in QRANGE and self.zero_point_value == QRANGE[self.dtype][0]

    def represented_range(self) -> tuple[float, float]:
        """The real-valued interval a per-tensor quantizer can represent."""
        qmin, qmax = QRANGE[self.dtype]
        s, z = self.scale_value, self.zero_point_value
        return s * (qmin - z), s * (qmax - z)

    def raw_scalars(self) -> tuple[int, bytes, int, bytes] | None:
        """(scale type, scale bytes, zero-point type, zero-point bytes) as read from the graph, for parameters
        made by :func:`params_from_scalar_tensors`; None otherwise."""
        if self._raw is None:
            return None
        scale_raw, scale_type, zp_raw, zp_type, _, _ = self._raw
        return scale_type, scale_raw, zp_type, zp_raw

    def __repr__(self) -> str:
        if self.one_value:
            return f"QParams({self.dtype}, scale={self.key.scale:.6g}, zero_point={self.key.zero_point})"
        return f"QParams({self.dtype}, {self.scale.size} scales, axis={self.axis}, block_size={self.block_size})"


class BadParams(BadInputError):
    """A scale or zero point no quantizer can have (NaN, infinite, zero, negative or denormal scale; a zero point of
    another shape or type); :func:`read_params` names the node."""


# Below float32's smallest normal value a scale is flushed to zero (TensorRT and ONNX Runtime compute in float32).
# Denormal float16 scales are valid: they widen to normal float32 values, and ModelOpt writes them for FP16 models.
_FLUSHED = float(np.finfo(np.float32).tiny)


def check_scales(scale: np.ndarray) -> None:
    """BadParams unless every scale is finite, positive and not flushed to zero in float32."""
    values = np.asarray(scale)
    if values.dtype.kind != "f":
        raise BadParams(f"its scale is of type {values.dtype}, not a float type")
    if values.size == 0:
        raise BadParams("its scale is empty")
    flat = values.astype(np.float64).reshape(-1)
    for what, bad in (("NaN", np.isnan(flat)), ("infinite", np.isinf(flat)), ("zero", flat == 0),
                      ("negative", flat < 0)):
        if bad.any():
            raise BadParams(f"its scale is {what} ({float(flat[bad][0])}); a scale must be a finite positive number")
    if (flat < _FLUSHED).any():
        raise BadParams(f"its scale {flat[flat < _FLUSHED][0]:.3g} is denormal in float32 (below {_FLUSHED:.3g}): "
                        "backends flush it to zero")


def params_from_arrays(scale: np.ndarray, zero_point: np.ndarray, dtype: str, axis: int | None = None,
                       block_size: int = 0) -> QParams:
    """Parameters from numpy values (per tensor or per channel). Python floats hold float32/float16 values exactly,
    so equal keys mean bit-equal scales. BadParams for a scale no quantizer can have, or a zero point whose size
    does not fit the scale's."""
    check_scales(scale)
    quantized_type = zero_point.dtype.kind in "iub" or any(k in zero_point.dtype.name for k in ("float8", "int4"))
    if zero_point.size not in (0, 1, scale.size) or (zero_point.size and not quantized_type):
        raise BadParams(f"its zero point ({zero_point.dtype}, {zero_point.size} values) does not fit its scale "
                        f"({scale.size} values): it must be an integer tensor of the scale's shape")
    if scale.size == 1:
        zp = int(zero_point.reshape(-1)[0]) if zero_point.size else 0
        key = ParamsKey(dtype, float(scale.item()), zp, None, block_size)
    else:
        key = ParamsKey(dtype, scale.astype(np.float32).tobytes(),
                        np.broadcast_to(zero_point, scale.shape).astype(np.int64).tobytes(), axis, block_size)
    return QParams(key, scale=scale, zero_point=zero_point)


def params_from_scalar_tensors(scale: onnx.TensorProto, zero_point: onnx.TensorProto) -> QParams | None:
    """Per-tensor parameters from two one-value tensors stored as raw data; None for anything else."""
    scale_raw, zp_raw = scale.raw_data, zero_point.raw_data
    scale_type, zp_type = scale.data_type, zero_point.data_type
    if scale_type not in _FLOAT_SCALES or zp_type not in _INTEGER_ZERO_POINTS:
        return None
    scale_format, zp_format = _SCALAR_FORMATS[scale_type], _SCALAR_FORMATS[zp_type]
    if len(scale_raw) != scale_format.size or len(zp_raw) != zp_format.size:
        return None
    value = scale_format.unpack(scale_raw)[0]
    if not (0 < value < math.inf) or value < _SCALAR_TINY[scale_type]:  # NaN fails the first test
        check_scales(np.asarray(value, dtype=_SCALAR_NUMPY[scale_type]))
    key = ParamsKey(DTYPE_NAMES.get(zp_type, "unknown"), value, zp_format.unpack(zp_raw)[0], None, 0)
    return QParams(key, raw=(scale_raw, scale_type, zp_raw, zp_type, scale, zero_point))


_SCALAR_NUMPY = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16,
                 onnx.TensorProto.DOUBLE: np.float64}
_SCALAR_TINY = {code: _FLUSHED for code in _SCALAR_NUMPY}
# what one-value parameters may be stored as: a float scale (what ONNX allows) and an integer zero point
_FLOAT_SCALES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
_INTEGER_ZERO_POINTS = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.INT16,
                        onnx.TensorProto.UINT16, onnx.TensorProto.INT32}
_SCALAR_FORMATS = {code: struct.Struct("<" + RAW_NP_TYPES[code].char) for code in _FLOAT_SCALES | _INTEGER_ZERO_POINTS}


class QdqNode:
    """A QuantizeLinear or DequantizeLinear node, by its id in the index; its parameters are read from the graph on
    first use. The NodeProto itself is fetched only when needed (attributes, name): merge reads most nodes through
    the index alone.

    Args:
        node_id (int): The node's id in ``graph``.
        graph (GraphIndex): The index it belongs to.
        reads (QdqNode): For a DQ of a Q: that Q, whose type a DQ without zero point dequantizes (read only if
            needed). Defaults to None.
        input_dtype (str): For a DQ of a constant or a graph input: the integer type it reads. Defaults to None.
    """

    __slots__ = ("node_id", "graph", "_reads", "_input_dtype", "_params", "_read", "_attributes")

    def __init__(self, node_id: int, graph: GraphIndex, reads: QdqNode | None = None,
                 input_dtype: str | None = None) -> None:
        self.node_id = node_id
        self.graph = graph
        self._reads = reads
        self._input_dtype = input_dtype
        self._read = False
        self._params: QParams | None = None
        self._attributes: bool | None = None

    @property
    def node(self) -> onnx.NodeProto:
        return self._node()

    @property
    def params(self) -> QParams | None:
        """Scale, zero point and type; None when the scale is not a constant."""
        if not self._read:
            graph = self.graph
            dtype = self._input_dtype if self._reads is None else self._reads._produced_dtype
            try:
                self._params = _read_params(graph, self._node, graph.inputs[self.node_id], dtype,
                                            self._has_attributes)
            except BadParams as err:
                node = self._node()
                raise BadInputError(f"{node.op_type} {node.name or node.output[0]!r}: {err}") from None
            self._read = True
        return self._params

    def _node(self) -> onnx.NodeProto:
        return self.graph.node_at(self.node_id)

    def _produced_dtype(self) -> str | None:
        params = self.params
        return params.dtype if params is not None else None

    @property
    def has_attributes(self) -> bool:
        """The node carries attributes (axis, block_size, output_dtype, saturate). Read once."""
        return self._has_attributes()

    def _has_attributes(self) -> bool:
        if self._attributes is None:
            self._attributes = len(self.node.attribute) > 0
        return self._attributes

    @property
    def scale_value(self) -> float:
        """The (first) scale as a Python float."""
        return self.params.scale_value

    @property
    def name(self) -> str:
        return self.node.name or self.output

    @property
    def is_q(self) -> bool:
        graph, i = self.graph, self.node_id
        return graph.ops[i] == "QuantizeLinear" and graph.domains[i] in DEFAULT_DOMAINS

    @property
    def inputs(self) -> list[str]:
        """The node's input names (the index's copy, which :meth:`GraphIndex.set_input` keeps current)."""
        return self.graph.inputs[self.node_id]

    @property
    def output(self) -> str:
        return self.graph.outputs[self.node_id][0]

    @property
    def scale_name(self) -> str:
        return self.inputs[1]

    @property
    def zero_point_name(self) -> str:
        inputs = self.inputs
        return inputs[2] if len(inputs) > 2 else ""

    def __repr__(self) -> str:
        return f"QdqNode({self.name!r})"


class Quantizer:
    """One set of coupled Q/DQ nodes (see module docstring). A plain slotted class: the analysis touches these
    tens of thousands of times on large graphs."""

    __slots__ = ("id", "q", "dqs", "input", "is_weight", "nodes", "outputs")

    def __init__(
        self, id: int, q: QdqNode | None, dqs: list[QdqNode] | None = None, input: str | None = None,
        is_weight: bool = False,
    ) -> None:
        self.id = id
        self.q = q
        self.dqs = dqs if dqs is not None else []
        self.input = input  # the float tensor the Q reads (None for a DQ-only quantizer)
        self.is_weight = is_weight  # the quantized tensor is a constant (weights)
        self.nodes: list[QdqNode] = [q] if q else []
        self.outputs: list[str] = []  # the float tensors its DQ nodes produce
        if self.dqs:
            self.finish()

    def finish(self) -> None:
        """Recompute ``nodes`` and ``outputs`` after DQs were added."""
        self.nodes = ([self.q] if self.q else []) + self.dqs
        if self.dqs:
            outputs = self.dqs[0].graph.outputs
            self.outputs = [outputs[dq.node_id][0] for dq in self.dqs]
        else:
            self.outputs = []

    def add_dq(self, dq: QdqNode, output: str) -> None:
        """Attach a DQ reading this quantizer's Q (``output``: the float tensor it produces)."""
        self.dqs.append(dq)
        self.nodes.append(dq)
        self.outputs.append(output)

    def __repr__(self) -> str:
        return f"Quantizer({self.id}, {self.name!r})"

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


def _int_attrs(node: onnx.NodeProto) -> dict[str, int]:
    """The integer attributes of a Q/DQ node (axis, block_size, output_dtype, saturate)."""
    return {a.name: a.i for a in node.attribute if a.type == onnx.AttributeProto.INT} if node.attribute else {}


def quantized_type(
    index: GraphIndex, node: onnx.NodeProto, input_dtype: str | Callable[[], str | None] | None = None,
    attrs: dict[str, int] | None = None, inputs: list[str] | None = None,
) -> tuple[str, int]:
    """(type name, block size) of a Q/DQ node, read without touching the scale or zero-point values.

    ``input_dtype`` (or a function giving it, called only when needed) is the type a DQ without zero point reads;
    ``inputs`` the node's input names when the caller has them.
    """
    if attrs is None:  # only the two attributes that matter here, both from opset 21 (most Q/DQ carry an axis)
        attrs = {} if index.opset < _BLOCKS_OPSET else {
            a.name: a.i for a in node.attribute if a.name in ("block_size", "output_dtype")
        }
    if inputs is None:
        inputs = node.input
    zp_name = inputs[2] if len(inputs) > 2 else ""
    if zp_name:
        dtype = DTYPE_NAMES.get(index.const_dtype(zp_name), "unknown")
    elif is_q(node):
        # opset 21 names the type in `output_dtype`; before that a Q without zero point is uint8
        dtype = DTYPE_NAMES.get(attrs.get("output_dtype") or onnx.TensorProto.UINT8, "unknown")
    else:
        dtype = (input_dtype() if callable(input_dtype) else input_dtype) or "unknown"
    return dtype, attrs.get("block_size", 0)


def read_params(
    index: GraphIndex, node: onnx.NodeProto, input_dtype: str | Callable[[], str | None] | None = None
) -> QParams | None:
    """Read scale / zero point / dtype of a Q or DQ node from constants; None if the scale is computed.

    Memoised per graph on what determines the answer, so a Q and its DQ reading the same constants cost one
    read (this is the hot path of the analysis on large graphs).
    """
    try:
        return _read_params(index, lambda: node, node.input[:], input_dtype)
    except BadParams as err:
        raise BadInputError(f"{node.op_type} {node.name or node.output[0]!r}: {err}") from None


# block_size and output_dtype, the attributes that change what a one-value scale means, came with opset 21
_BLOCKS_OPSET = 21
_UNREAD = object()


def _read_params(
    index: GraphIndex, get_node: Callable[[], onnx.NodeProto], inputs,
    input_dtype: str | Callable[[], str | None] | None, has_attributes: Callable[[], bool] | None = None,
) -> QParams | None:
    """:func:`read_params` with the node's input names (the index holds them); the node itself, and whether it
    has attributes, are asked for only when they matter.

    Cached on the index under one key shape: (scale, zero point, what gives the type when there is no zero point,
    attributes). Parameters that no attribute can change are filed with no attributes, so a Q and its DQs reading
    the same constants share one entry.
    """
    if has_attributes is None:
        def has_attributes() -> bool:
            return len(get_node().attribute) > 0
    cache = index.params_cache
    if len(inputs) == 3 and inputs[2]:  # the common case: scale and zero point given
        scale_name, zp_name = inputs[1], inputs[2]
        plain = (scale_name, zp_name, "", ())
        if index.opset < _BLOCKS_OPSET:  # one scale value means the same whatever axis or saturate say
            hit = cache.get(plain, _UNREAD)
            if hit is _UNREAD:
                one = _one_value_params(index, scale_name, zp_name)
                if one is not None:
                    cache[plain] = one
                    return one
            elif hit is not None and hit.one_value:
                return hit
        if not has_attributes():
            hit = cache.get(plain, _UNREAD)
            if hit is _UNREAD:
                hit = cache[plain] = _one_value_params(index, scale_name, zp_name) or _array_params(
                    index, scale_name, zp_name)
            return hit
    # attributes (axis, block_size, output_dtype) or no zero point: the type may come from elsewhere
    if len(inputs) < 2:
        return None
    node = get_node()
    attrs = _int_attrs(node)
    zp_name = inputs[2] if len(inputs) > 2 else ""
    if not zp_name and callable(input_dtype):
        input_dtype = input_dtype()
    key = (inputs[1], zp_name, "" if zp_name else (node.op_type, input_dtype), tuple(attrs.items()))
    if key in cache:
        return cache[key]
    scale = index.const_array(inputs[1])
    zero_point = index.const_array(zp_name) if zp_name else None
    params = None
    if scale is not None and (zero_point is not None or not zp_name):
        dtype, block_size = quantized_type(index, node, input_dtype, attrs)
        params = params_from_arrays(
            scale, np.zeros(scale.shape, dtype=np.int64) if zero_point is None else zero_point, dtype,
            attrs.get("axis", 1) if scale.size > 1 else None, block_size,
        )
    cache[key] = params
    return params


def _array_params(index: GraphIndex, scale_name: str, zp_name: str) -> QParams | None:
    """Parameters of a node without attributes, from constants of any kind (Constant nodes, per channel)."""
    scale, _ = index.const_entry(scale_name)
    zero_point, zp_type = index.const_entry(zp_name)
    if scale is None or zero_point is None:
        return None
    return params_from_arrays(scale, zero_point, DTYPE_NAMES.get(zp_type, "unknown"), 1 if scale.size > 1 else None)


def _one_value_params(index: GraphIndex, scale_name: str, zp_name: str) -> QParams | None:
    """Per-tensor parameters straight from two one-value initializers, or None (then read them as arrays)."""
    initializers = index.initializers
    where = initializers.where
    scale_at, zp_at = where.get(scale_name), where.get(zp_name)
    if scale_at is None or zp_at is None:
        return None
    tensors = initializers.tensors
    return params_from_scalar_tensors(tensors[scale_at], tensors[zp_at])


def input_dtype(index: GraphIndex, tensor: str) -> str | None:
    """The integer type of a DQ input that is a constant or a graph input."""
    code = index.const_dtype(tensor)
    if code is None:
        for value in index.graph.input:
            if value.name == tensor and value.type.HasField("tensor_type"):
                code = value.type.tensor_type.elem_type
    return DTYPE_NAMES.get(code) if code is not None else None


def find_quantizers(
    index: GraphIndex, activations: bool = True, weights: bool = True, first_id: int = 0
) -> list[Quantizer]:
    """The quantizers of the main graph: those led by a Q in the Q's node order, then DQ-only ones in node order.

    Args:
        index (GraphIndex): The graph's index (also after nodes were removed through it).
        activations (bool): Include the quantizers of activations. Defaults to True.
        weights (bool): Include those of weights (the quantized tensor is a constant). Defaults to True.
        first_id (int): The id of the first quantizer (ids are unique within one analysis). Defaults to 0.
    """
    return _find_quantizers(index, activations, weights, first_id)[0]


def find_activation_quantizers(index: GraphIndex) -> tuple[list[Quantizer], list[int]]:
    """The quantizers of activations, and the position of the first node of every weight quantizer (for
    :func:`weight_types`): a large graph has thousands of weights, and the analysis only needs their types."""
    return _find_quantizers(index, True, False, 0)


def _find_quantizers(
    index: GraphIndex, activations: bool, weights: bool, first_id: int
) -> tuple[list[Quantizer], list[int]]:
    # the hot loop of large graphs: the index's lists, no protobuf read but the node itself
    quantizers: list[Quantizer] = []
    left_out: list[int] = []  # first nodes of the quantizers not wanted
    by_output: dict[str, Quantizer] = {}
    not_wanted: set[str] = set()  # outputs of Qs not wanted: their DQs are not either
    inputs, outputs, domains = index.inputs, index.outputs, index.domains
    initializers, constant_nodes = index.initializers.where, index.constant_nodes
    for i in index.of_type("QuantizeLinear"):
        if domains[i] not in DEFAULT_DOMAINS:
            continue
        source = inputs[i][0]
        is_weight = source in initializers or source in constant_nodes
        if not (weights if is_weight else activations):
            not_wanted.add(outputs[i][0])
            left_out.append(i)
            continue
        q = Quantizer(first_id + len(quantizers), QdqNode(i, index), None, source, is_weight)
        quantizers.append(q)
        by_output[outputs[i][0]] = q
    for i in index.of_type("DequantizeLinear"):
        if domains[i] not in DEFAULT_DOMAINS:
            continue
        source = inputs[i][0]
        owner = by_output.get(source)
        if owner is not None:
            owner.add_dq(QdqNode(i, index, reads=owner.q), outputs[i][0])
        elif source not in not_wanted:
            is_weight = source in initializers or source in constant_nodes
            if weights if is_weight else activations:
                dq = QdqNode(i, index, input_dtype=input_dtype(index, source))
                quantizers.append(Quantizer(first_id + len(quantizers), None, [dq], None, is_weight))
            else:
                left_out.append(i)
    return quantizers, left_out


def in_quantizer_order(quantizers: list[Quantizer]) -> list[Quantizer]:
    """The order :func:`find_quantizers` gives, for quantizers gathered from several calls."""
    led = sorted((q for q in quantizers if q.q is not None), key=lambda q: q.q.node_id)
    return led + sorted((q for q in quantizers if q.q is None), key=lambda q: q.dqs[0].node_id)


def weight_types(index: GraphIndex, positions: list[int]) -> list[tuple[int, str, int]]:
    """(position, type, block size) of the first nodes of weight quantizers, from the index and two fields of
    their zero-point tensor: what notes need about weights, without a quantizer object for each."""
    found = []
    inputs = index.inputs
    for i in positions:
        names = inputs[i]
        if len(names) > 2 and names[2] and index.opset < _BLOCKS_OPSET:  # the zero point's type is the type
            found.append((i, DTYPE_NAMES.get(index.const_dtype(names[2]), "unknown"), 0))
            continue
        node = index.node_at(i)
        if node is None:
            continue
        without_zero_point = len(names) < 3 or not names[2]
        read = input_dtype(index, names[0]) if index.ops[i] == "DequantizeLinear" and without_zero_point else None
        found.append((i, *quantized_type(index, node, read, inputs=names)))
    return found
