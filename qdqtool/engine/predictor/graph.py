"""SimGraph: the small mutable graph the predictor rewrites the way TensorRT's optimiser does.

Built once from a :class:`GraphIndex` (the ModelProto is never edited): one :class:`SimNode` per ONNX node except
Constant nodes, Q/DQ parameters read through ``read_params``, tensor shapes from ONNX shape inference run on a copy
that leaves big initializers out. Rewrites (moving a Q, cancelling a DQ -> Q pair) keep the producer and reader maps
in step through :meth:`SimGraph.set_input` / :meth:`SimGraph.set_output` / :meth:`SimGraph.remove`, so passes
never patch both ends by hand.

    >>> g = SimGraph.from_index(GraphIndex(model), PredictorRules.from_rules(load_rules()))
    >>> node = g.producer["conv_out"]
    >>> assert all(node in g.readers[t] for t in node.inputs if t in g.readers)
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import onnx

from qdqtool.engine.predictor.config import PredictorRules
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import QParams, is_dq, is_q, read_params
from qdqtool.ir.shapes import tensor_shapes

# Bytes per element of the element types the cost estimate meets.
_WIDTH = {"int8": 1, "uint8": 1, "fp16": 2, "bf16": 2, "fp32": 4, "fp64": 8, "int32": 4, "int64": 8, "bool": 1}
_ONNX_DTYPES = {
    onnx.TensorProto.FLOAT: "fp32",
    onnx.TensorProto.FLOAT16: "fp16",
    onnx.TensorProto.BFLOAT16: "bf16",
    onnx.TensorProto.DOUBLE: "fp64",
    onnx.TensorProto.INT8: "int8",
    onnx.TensorProto.UINT8: "uint8",
    onnx.TensorProto.INT32: "int32",
    onnx.TensorProto.INT64: "int64",
    onnx.TensorProto.BOOL: "bool",
}


@dataclass(eq=False)
class SimNode:
    """One operation of the simulated graph.

    ``op`` is the ONNX op type, or ``"Requantize"`` for a DQ -> Q pair with unequal scales that became one kernel.
    """

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    order: float  # position in the ONNX graph; moved and cloned nodes sit just before the node they crossed
    proto: onnx.NodeProto | None = None
    params: QParams | None = None  # for Q, DQ and Requantize: the parameters of the output side
    move: str = ""  # "commute" (Q/DQ move across it) or "concat"
    data_inputs: tuple[int, ...] = ()  # for "commute"/"concat": the inputs Q/DQ move across
    int8: bool = False  # a commuting op that runs on INT8 data after propagation
    onnx_nodes: list[str] = field(default_factory=list)  # ONNX nodes this node stands for (itself, merged siblings)
    weights: list[str] = field(default_factory=list)  # weighted ops: folded weight initializers
    weight_nodes: list[str] = field(default_factory=list)  # weighted ops: folded weight Q (or DQ) nodes
    from_params: QParams | None = None  # for Requantize: the parameters of the input side

    @property
    def is_q(self) -> bool:
        return self.op == "QuantizeLinear"

    @property
    def is_dq(self) -> bool:
        return self.op == "DequantizeLinear"


class SimGraph:
    """Nodes, producers, readers, constants and shapes of the simulated graph."""

    def __init__(self, index: GraphIndex, rules: PredictorRules) -> None:
        self.index = index
        self.rules = rules
        self.nodes: list[SimNode] = []
        self.producer: dict[str, SimNode] = {}
        self.readers: dict[str, list[SimNode]] = defaultdict(list)
        self.constants: set[str] = set(index.initializers) | set(index.constant_nodes)
        self.graph_inputs = set(index.graph_inputs)
        self.graph_outputs = set(index.graph_outputs)
        self.shapes: dict[str, tuple[int, ...] | None] = {}
        self.elem_types: dict[str, int] = {}
        self.int8_tensors: set[str] = set()
        self.weight_sources: dict[str, str] = {}  # folded weight tensor -> the initializer it came from
        self.cancelled: list[str] = []  # Q/DQ nodes whose DQ -> Q pair cancelled (no kernel left)
        self.notes: list[str] = []
        self._fresh = itertools.count()
        self._dead: set[int] = set()

    @classmethod
    def from_index(
        cls, index: GraphIndex, rules: PredictorRules, params: Mapping[str, QParams] | None = None
    ) -> SimGraph:
        """Build the graph of ``index``'s model (which is left untouched).

        Args:
            index (GraphIndex): The model's index; its shapes are inferred once (``qdqtool.ir.shapes``).
            rules (PredictorRules): What the predictor knows about TensorRT.
            params (Mapping[str, QParams]): Parameters to use instead of the model's for these Q/DQ nodes (by
                name): a merge predicted without writing it. Defaults to None.
        """
        graph = cls(index, rules)
        graph._read_shapes()
        for i in index.live_ids():
            proto = index.node_at(i)
            if proto.op_type == "Constant" and proto.domain in ("", "ai.onnx"):
                continue
            node = SimNode(
                name=proto.name or proto.output[0], op=proto.op_type, inputs=list(proto.input),
                outputs=list(proto.output), order=float(i), proto=proto,
            )
            node.onnx_nodes.append(node.name)
            if is_q(proto) or is_dq(proto):
                dtype = None
                if is_dq(proto) and index.producer_node(proto.input[0]) is not None:
                    src = index.producer_node(proto.input[0])
                    if is_q(src):
                        p = read_params(index, src)
                        dtype = p.dtype if p else None
                node.params = params[node.name] if params and node.name in params else read_params(index, proto, dtype)
            elif rules.is_concat(proto, index):
                node.move = "concat"
                node.data_inputs = tuple(k for k, t in enumerate(proto.input) if t and t not in graph.constants)
            else:
                rule = rules.commuting_rule(proto, index)
                if rule is not None and len(proto.output) >= 1:
                    picked = range(len(proto.input)) if rule.inputs == "all" else rule.inputs
                    node.move = "commute"
                    inputs = proto.input
                    node.data_inputs = tuple(
                        k for k in picked if k < len(inputs) and inputs[k] and inputs[k] not in graph.constants
                    )
                    if len(node.data_inputs) != 1:
                        node.move, node.data_inputs = "", ()
            graph.add(node)
        for node in graph.nodes:
            if node.is_q:
                graph.int8_tensors.update(node.outputs)
        for name in graph.graph_inputs:
            if graph.elem_types.get(name) in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8):
                graph.int8_tensors.add(name)
        return graph

    # ---- editing ---------------------------------------------------------------------------------------------
    def add(self, node: SimNode) -> SimNode:
        self.nodes.append(node)
        for t in node.inputs:
            if t:
                self.readers[t].append(node)
        for t in node.outputs:
            if t:
                self.producer[t] = node
        return node

    def remove(self, node: SimNode) -> None:
        """Take ``node`` out of the graph (its inputs and outputs are unlinked)."""
        for t in node.inputs:
            if t and node in self.readers.get(t, ()):
                self.readers[t].remove(node)
        for t in node.outputs:
            if self.producer.get(t) is node:
                del self.producer[t]
        node.inputs, node.outputs = [], []
        self._dead.add(id(node))

    def set_input(self, node: SimNode, k: int, tensor: str) -> None:
        old = node.inputs[k]
        if old and node in self.readers.get(old, ()):
            self.readers[old].remove(node)
        node.inputs[k] = tensor
        if tensor:
            self.readers[tensor].append(node)

    def set_output(self, node: SimNode, k: int, tensor: str) -> None:
        old = node.outputs[k]
        if self.producer.get(old) is node:
            del self.producer[old]
        node.outputs[k] = tensor
        self.producer[tensor] = node

    def fresh_tensor(self, like: str, suffix: str) -> str:
        """A new tensor name derived from ``like``, with ``like``'s shape."""
        name = f"{like}/{suffix}{next(self._fresh)}"
        self.shapes[name] = self.shapes.get(like)
        self.elem_types[name] = self.elem_types.get(like, onnx.TensorProto.FLOAT)
        return name

    # ---- queries ---------------------------------------------------------------------------------------------
    def alive(self) -> list[SimNode]:
        return [n for n in self.nodes if id(n) not in self._dead]

    def is_alive(self, node: SimNode) -> bool:
        return id(node) not in self._dead

    def readers_of(self, tensor: str) -> list[SimNode]:
        return list(self.readers.get(tensor, ()))

    def is_constant(self, tensor: str) -> bool:
        return tensor in self.constants

    def data_inputs(self, node: SimNode) -> list[str]:
        """Inputs that are neither omitted nor constant."""
        return [t for t in node.inputs if t and t not in self.constants]

    def dq_source(self, tensor: str) -> SimNode | None:
        """The DQ producing ``tensor``, if any."""
        node = self.producer.get(tensor)
        return node if node is not None and node.is_dq else None

    def in_order(self) -> list[SimNode]:
        """Alive nodes by position: topological for a sorted ONNX graph, since a moved Q sits just before the op it
        crossed and a moved DQ just after it (cheaper than :meth:`toposorted`, for the propagation passes)."""
        return sorted(self.alive(), key=lambda n: n.order)

    def toposorted(self) -> list[SimNode]:
        """Alive nodes in topological order, ties broken by ONNX position (so the order reads like the model)."""
        nodes = self.alive()
        pending = {id(n): sum(1 for t in n.inputs if t and t in self.producer) for n in nodes}
        heap = [(n.order, i, n) for i, n in enumerate(nodes) if pending[id(n)] == 0]
        heapq.heapify(heap)
        serial = {id(n): i for i, n in enumerate(nodes)}
        result = []
        while heap:
            _, _, node = heapq.heappop(heap)
            result.append(node)
            for t in node.outputs:
                for reader in self.readers.get(t, ()):
                    pending[id(reader)] -= sum(1 for x in reader.inputs if x == t)
                    if pending[id(reader)] == 0:
                        heapq.heappush(heap, (reader.order, serial[id(reader)], reader))
        if len(result) != len(nodes):  # a cycle cannot come from a valid ONNX graph; keep the ONNX order then
            seen = {id(n) for n in result}
            result += sorted((n for n in nodes if id(n) not in seen), key=lambda n: n.order)
        return result

    # ---- sizes -----------------------------------------------------------------------------------------------
    def float_dtype(self, tensor: str) -> str:
        """The precision a float tensor is reported in (the ``float_precision`` setting)."""
        if self.rules.float_precision != "onnx":
            return self.rules.float_precision
        return _ONNX_DTYPES.get(self.elem_types.get(tensor, onnx.TensorProto.FLOAT), "fp32")

    def nbytes(self, tensor: str, dtype: str) -> int:
        """Bytes of ``tensor`` at ``dtype``; unknown or dynamic dimensions count as 1."""
        shape = self.shapes.get(tensor)
        if shape is None:
            return 0
        return math.prod(d if d > 0 else 1 for d in shape) * _WIDTH.get(dtype, 4)

    def constant_nbytes(self, name: str, dtype: str | None = None) -> int:
        """Bytes of a constant (weights), at ``dtype`` when given (INT8 weights after folding)."""
        tensor = self.index.initializers.get(name)
        if tensor is not None:
            count = math.prod(tensor.dims)
            own = _ONNX_DTYPES.get(tensor.data_type, "fp32")
        else:
            value = self.index.const_array(name)
            if value is None:
                return 0
            count, own = value.size, _ONNX_DTYPES.get(onnx.helper.np_dtype_to_tensor_dtype(value.dtype), "fp32")
        return count * _WIDTH.get(dtype or own, 4)

    def _read_shapes(self) -> None:
        """Static shapes of every tensor (ONNX shape inference, once per index: see :mod:`qdqtool.ir.shapes`)."""
        found = tensor_shapes(self.index)
        self.shapes, self.elem_types = dict(found.shapes), dict(found.elem_types)
        self.notes += found.notes
        if any(d < 0 for shape in found.shapes.values() if shape for d in shape):
            self.notes.append("dynamic dimensions count as 1 in the cost estimate")
