"""GraphIndex: op types, inputs, outputs, producers, consumers and constants of a ModelProto.

This is the light index the analysis and scale edits run on (no copy of the graph, no onnx-graphsurgeon
import/export): on a 49k-node graph a graphsurgeon round trip costs 12-15x a bare load + save. Structural edits
that insert nodes go through :class:`qdqtool.ir.editor.GraphEditor` instead.

A node is referred to by its *id*: its position in the graph when the index was built. Ids never shift: after
:meth:`GraphIndex.remove_nodes` every id still names the node it named (a removed one as it was), so an id taken
before an edit is still right after it.

    >>> index = GraphIndex(model)
    >>> conv = index.node_at(index.producer["conv_out"])
    >>> assert all("conv_out" in index.inputs[i] for i in index.consumers["conv_out"])
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

import numpy as np
import onnx
from onnx import numpy_helper

from qdqtool.errors import BadInputError, InvalidGraph, first_line
from qdqtool.io.onnx_io import graph_inputs

DEFAULT_DOMAINS = ("", "ai.onnx")  # the standard ONNX operator set
INITIALIZERS_AS_INPUTS_BEFORE = 4  # IR version from which initializers need not be graph inputs


class GraphIndex:
    """Index over the main graph of a model.

    One pass copies every node's op type, inputs and outputs into Python lists (``ops``, ``inputs``,
    ``outputs``): a protobuf field costs a fraction of a microsecond per read, and the analysis and the
    clean-up after an edit read them many times. Rewire node inputs with :meth:`set_input` and remove nodes
    with :meth:`remove_nodes`; node ids stay those of the indexed graph (:meth:`node_at`). The graph's repeated
    field is private: a position in it shifts with every removal. After nodes are inserted, build a new index.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self._nodes = self.graph.node  # the repeated field: positions in it shift with removals, ids do not
        self.opset = next(
            (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0
        )
        self.ops: list[str] = []
        self.domains: list[str] = []
        self.inputs: list[list[str]] = []  # node id -> its input names ("" for an omitted input)
        self.outputs: list[list[str]] = []
        ops, domains, inputs, outputs = self.ops.append, self.domains.append, self.inputs.append, self.outputs.append
        for node in self._nodes:  # slicing a repeated field copies it in C: the cheapest read there is
            ops(node.op_type)
            domains(node.domain)
            inputs(node.input[:])
            outputs(node.output[:])
        self.by_op: dict[str, list[int]] = defaultdict(list)
        for i, op in enumerate(self.ops):
            self.by_op[op].append(i)
        self.initializers: _Initializers = _Initializers(self.graph, model.ir_version)
        self.graph_inputs = {v.name for v in graph_inputs(self.graph, self.initializers.where)}
        self.graph_outputs = {v.name for v in self.graph.output}
        self.constant_nodes: dict[str, int] = {}  # tensor -> index of the Constant node making it
        for i in self.by_op.get("Constant", ()):
            if self.domains[i] in DEFAULT_DOMAINS:
                self.constant_nodes[self.outputs[i][0]] = i
        self._producer: dict[str, int] | None = None
        self._consumers: dict[str, list[int]] | None = None
        self._const_cache: dict[str, tuple[np.ndarray | None, int | None]] = {}
        self.params_cache: dict[tuple, object] = {}  # Q/DQ parameters by what they are read from (ir.qdq)
        self.shapes_cache: object | None = None  # tensor shapes by ONNX shape inference (ir.shapes), when asked
        self.removed: list[int] = []  # ids of the nodes removed through remove_nodes, sorted
        self._removed_nodes: dict[int, onnx.NodeProto] = {}
        self._by_name: dict[str, int] | None = None
        self._dequantized_constants: set[str] | None = None

    def check_valid(self) -> None:
        """BadInputError (naming the node) for a graph no backend can load: a node reading a tensor nothing provides
        (or only a later node: a cycle, or nodes out of the topological order ONNX requires), a tensor written
        twice, a graph output nothing writes, Q/DQ before opset 10 (when they came). One pass over the lists the
        index holds anyway: about a tenth of what building it costs."""
        known = set(self.initializers.where)
        known.update(v.name for v in self.graph.input)
        known.add("")
        superset, add = known.issuperset, known.add
        for i, (inputs, outputs) in enumerate(zip(self.inputs, self.outputs, strict=True)):
            if not superset(inputs):
                missing = next(n for n in inputs if n not in known)
                raise InvalidGraph(
                    f"the model is not a valid ONNX graph: node {self.name_of(i)!r} reads {missing!r}, which no "
                    "earlier node, initializer or graph input provides (a dangling input, a cycle, or nodes out "
                    "of topological order)")
            for name in outputs:
                if name and name in known:
                    raise InvalidGraph(f"the model is not a valid ONNX graph: tensor {name!r} is written twice "
                                        f"(again by node {self.name_of(i)!r})")
                add(name)
        for name in self.graph_outputs:
            if name not in known:
                raise InvalidGraph(f"the model is not a valid ONNX graph: its output {name!r} is written by no node")
        if 0 < self.opset < 10:
            qdq = [i for op in ("QuantizeLinear", "DequantizeLinear") for i in self.by_op.get(op, ())
                   if self.domains[i] in DEFAULT_DOMAINS]
            if qdq:
                raise InvalidGraph(f"node {self.name_of(qdq[0])!r} is a {self.ops[qdq[0]]}, which needs opset 10 or "
                                    f"later; the model declares opset {self.opset}")

    def __len__(self) -> int:
        """How many nodes were indexed (removed ones included: ids run from 0 to ``len(index) - 1``)."""
        return len(self.ops)

    def live_ids(self) -> list[int]:
        """Ids of the nodes still in the graph, in graph order."""
        if not self.removed:
            return list(range(len(self.ops)))
        gone = self._removed_nodes
        return [i for i in range(len(self.ops)) if i not in gone]

    def name_of(self, node_id: int) -> str:
        """The node's name, or its first output when it has none (how reports and fixes name nodes)."""
        name = self.node_at(node_id).name
        return name or (self.outputs[node_id][0] if self.outputs[node_id] else "")

    def find(self, name: str) -> int | None:
        """The id of the node still in the graph called ``name`` (see :meth:`name_of`), or None."""
        if self._by_name is None:
            self._by_name = {}
            for i in self.live_ids():
                self._by_name.setdefault(self.name_of(i), i)
        found = self._by_name.get(name)
        return None if found is None or found in self._removed_nodes else found

    def of_type(self, *ops: str) -> list[int]:
        """Ids of the nodes of the given op types still in the graph, in node order."""
        if len(ops) == 1:
            found = self.by_op.get(ops[0], [])
        else:
            found = sorted(i for op in ops for i in self.by_op.get(op, ()))
        if self.removed:
            gone = self._removed_nodes
            return [i for i in found if i not in gone]
        return found

    @property
    def producer(self) -> dict[str, int]:
        """Tensor name -> id of the node still in the graph producing it (computed on first use)."""
        if self._producer is None:
            gone = self._removed_nodes
            self._producer = {name: i for i, names in enumerate(self.outputs) if i not in gone for name in names}
        return self._producer

    @property
    def consumers(self) -> dict[str, list[int]]:
        """Tensor name -> ids of the nodes still in the graph reading it, one entry per input slot, in node order
        (computed on first use, kept up to date by :meth:`set_input` and :meth:`remove_nodes`)."""
        if self._consumers is None:
            consumers: dict[str, list[int]] = {}
            gone = self._removed_nodes
            for i, names in enumerate(self.inputs):
                if i in gone:
                    continue
                for name in names:
                    readers = consumers.get(name)
                    if readers is None:
                        consumers[name] = [i]
                    else:
                        readers.append(i)
            self._consumers = consumers
        return self._consumers

    def set_input(self, node_id: int, slot: int, *names: str) -> None:
        """Make inputs ``slot``, ``slot + 1``... of node ``node_id`` read ``names`` (appended past the end)."""
        self.set_inputs((node_id,), slot, *names)

    def _set_input_tracked(self, position: int, slot: int, names: tuple[str, ...]) -> None:
        """:meth:`set_input` where inputs are appended or the consumers map must follow."""
        node_inputs = self.node_at(position).input
        current = self.inputs[position]
        consumers = self._consumers
        for k, name in enumerate(names, slot):
            old = current[k] if k < len(current) else None
            if old is None:
                node_inputs.append(name)
                current.append(name)
            else:
                node_inputs[k] = name
                current[k] = name
            if consumers is not None and old != name:  # one entry per slot read, in node order
                if old is not None:
                    consumers[old].remove(position)
                bisect.insort(consumers.setdefault(name, []), position)

    def node_at(self, node_id: int) -> onnx.NodeProto:
        """The node of id ``node_id``, also after :meth:`remove_nodes` (a removed node as it was)."""
        if not self.removed:
            return self._nodes[node_id]
        gone = self._removed_nodes.get(node_id)
        if gone is not None:
            return gone
        return self._nodes[node_id - bisect.bisect_left(self.removed, node_id)]

    def is_removed(self, node_id: int) -> bool:
        return node_id in self._removed_nodes

    def remove_nodes(self, node_ids: Iterable[int]) -> None:
        """Delete nodes by id. The op, input and output lists keep describing every id (a removed node as it was);
        the producer and consumers maps, when built, forget the removed nodes; :meth:`node_at` still finds every
        node, removed ones included (reports name them)."""
        ids = set(node_ids) - self._removed_nodes.keys()
        for i in ids:
            self._removed_nodes[i] = self.node_at(i)  # (a message deleted from the graph stays readable)
        delete_positions(self._nodes, {i - bisect.bisect_left(self.removed, i) for i in ids})
        self.removed = sorted(self._removed_nodes)
        if self._producer is not None:
            for i in ids:
                for name in self.outputs[i]:
                    if self._producer.get(name) == i:
                        del self._producer[name]
        if self._consumers is not None:
            for name in {name for i in ids for name in self.inputs[i]}:
                readers = self._consumers.get(name)
                if readers is not None:
                    readers[:] = [r for r in readers if r not in ids]

    def remove_initializers(self, names: set[str]) -> None:
        """Delete these initializers, and their entries in the graph's inputs (IR < 4 lists initializers there)."""
        self.initializers.remove(names)
        graph_inputs = self.graph.input
        for i in reversed([i for i, item in enumerate(graph_inputs) if item.name in names]):
            del graph_inputs[i]

    def set_inputs(self, node_ids: Iterable[int], slot: int, *names: str) -> None:
        """:meth:`set_input` for many nodes at once (merge rewires every member of every group)."""
        end = slot + len(names)
        node_at = self._nodes.__getitem__ if not self.removed else self.node_at
        inputs = self.inputs
        for position in node_ids:
            current = inputs[position]
            if self._consumers is None and end <= len(current):  # the common case, kept short
                node_at(position).input[slot:end] = names
                current[slot:end] = names
            else:
                self._set_input_tracked(position, slot, names)

    # ---- constants -------------------------------------------------------------------------------
    def is_constant(self, name: str) -> bool:
        """True for initializers and Constant-node outputs (not graph inputs that shadow an initializer)."""
        return name in self.initializers or name in self.constant_nodes

    def is_fixed(self, name: str) -> bool:
        """A constant, or a constant's dequantized value (the output of a DQ of a constant: a weight, a bias, or
        a scalar such as HardSwish's 3 that onnxruntime's quantizer dequantizes once for every reader)."""
        if name in self.initializers or name in self.constant_nodes:
            return True
        if self._dequantized_constants is None:
            inputs, outputs = self.inputs, self.outputs
            self._dequantized_constants = {
                outputs[i][0] for i in self.of_type("DequantizeLinear")
                if self.domains[i] in DEFAULT_DOMAINS and inputs[i] and self.is_constant(inputs[i][0])
            }
        return name in self._dequantized_constants

    def const_array(self, name: str) -> np.ndarray | None:
        """The value of a constant tensor, or None if ``name`` is not constant. Read-only view, cached."""
        return self._const(name)[0]

    def const_dtype(self, name: str) -> int | None:
        """The ONNX element type of a constant tensor, or None."""
        cached = self._const_cache.get(name)
        if cached is not None:
            return cached[1]
        position = self.initializers.where.get(name)
        if position is not None:
            return self.initializers.tensors[position].data_type
        tensor = self._constant_node_tensor(name)
        return None if tensor is None else tensor.data_type

    def const_entry(self, name: str) -> tuple[np.ndarray | None, int | None]:
        """(value, ONNX element type) of a constant, or (None, None)."""
        return self._const(name)

    def _const(self, name: str) -> tuple[np.ndarray | None, int | None]:
        """(value, element type) of a constant, read once: the TensorProto is touched a single time."""
        cached = self._const_cache.get(name)
        if cached is not None:
            return cached
        entry: tuple[np.ndarray | None, int | None] = (None, None)
        position = self.initializers.where.get(name)
        if position is not None:
            tensor = self.initializers.tensors[position]
            try:
                entry = (tensor_to_array(tensor), tensor.data_type)
            except (ValueError, TypeError) as err:  # raw data of the wrong length for its type and shape, ...
                raise BadInputError(f"initializer {name!r}: its data cannot be read as "
                                    f"{onnx.TensorProto.DataType.Name(tensor.data_type)} of shape "
                                    f"{list(tensor.dims)}: {first_line(err)}") from None
        elif name in self.constant_nodes:
            node = self.node_at(self.constant_nodes[name])
            tensor = self._constant_node_tensor(name)
            entry = (_constant_node_value(node), None if tensor is None else tensor.data_type)
        self._const_cache[name] = entry
        return entry

    def _constant_node_tensor(self, name: str) -> onnx.TensorProto | None:
        if name in self.constant_nodes:
            for attr in self.node_at(self.constant_nodes[name]).attribute:
                if attr.name == "value":
                    return attr.t
        return None

    # ---- navigation ------------------------------------------------------------------------------
    def producer_node(self, tensor: str) -> onnx.NodeProto | None:
        i = self.producer.get(tensor)
        return None if i is None else self.node_at(i)

    def consumer_nodes(self, tensor: str) -> list[onnx.NodeProto]:
        return [self.node_at(i) for i in self.consumers.get(tensor, ())]

    def names_used_by_subgraphs(self) -> set[str]:
        """Outer-scope names read inside If/Loop/Scan bodies (an initializer they read must not be removed)."""
        used: set[str] = set()

        def walk(nodes) -> None:
            for node in nodes:
                for attr in node.attribute:
                    bodies = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
                    for body in bodies:
                        for inner in body.node:
                            used.update(inner.input)
                        walk(body.node)

        walk(self._nodes)
        return used


class _Initializers(Mapping):
    """Initializers by name. Only the names are read up front: wrapping every TensorProto costs far more.

    ``where`` (name -> position) and ``tensors`` (the repeated field) are plain attributes for hot loops that cannot
    afford a method call per lookup; :meth:`remove` and :meth:`add_scalars` keep them in step.
    """

    def __init__(self, graph: onnx.GraphProto, ir_version: int = INITIALIZERS_AS_INPUTS_BEFORE) -> None:
        self.tensors = graph.initializer
        # before IR 4 every initializer is a graph input too (ONNX IR spec, "Graphs"): new ones get theirs
        self._inputs = graph.input if ir_version < INITIALIZERS_AS_INPUTS_BEFORE else None
        self._names = [t.name for t in self.tensors]
        self.where: dict[str, int] = {name: i for i, name in enumerate(self._names)}

    def remove(self, names: Iterable[str]) -> None:
        """Delete these initializers; the positions of the others are renumbered from the names kept."""
        gone = self.positions(names)
        delete_positions(self.tensors, gone)
        self._names = [name for i, name in enumerate(self._names) if i not in gone]
        self.where = {name: i for i, name in enumerate(self._names)}

    def add_scalars(self, entries: Iterable[tuple[str, int, bytes]]) -> None:
        """Append one-value initializers given as (name, element type, raw bytes); the name map follows.

        Built in place: ``extend`` would copy each TensorProto."""
        add, where, names = self.tensors.add, self.where, self._names
        for name, data_type, raw_data in entries:
            add(name=name, data_type=data_type, raw_data=raw_data)
            where[name] = len(names)
            names.append(name)
            if self._inputs is not None:
                self._inputs.append(onnx.helper.make_tensor_value_info(name, data_type, []))

    def __getitem__(self, name: str) -> onnx.TensorProto:
        return self.tensors[self.where[name]]

    def __contains__(self, name: object) -> bool:
        return name in self.where

    def __iter__(self) -> Iterator[str]:
        return iter(self.where)

    def __len__(self) -> int:
        return len(self.where)

    def get(self, name: str, default: onnx.TensorProto | None = None) -> onnx.TensorProto | None:
        position = self.where.get(name)  # (Mapping.get goes through an exception for a missing key)
        return default if position is None else self.tensors[position]

    def positions(self, names: Iterable[str]) -> set[int]:
        """Where the initializers among ``names`` sit in ``graph.initializer``."""
        get = self.where.get
        return {p for p in map(get, names) if p is not None}


# element types whose raw bytes numpy reads directly (little-endian, as ONNX stores them)
RAW_NP_TYPES = {
    code: np.dtype(t).newbyteorder("<")
    for code, t in (
        (onnx.TensorProto.FLOAT, np.float32), (onnx.TensorProto.FLOAT16, np.float16),
        (onnx.TensorProto.DOUBLE, np.float64), (onnx.TensorProto.INT8, np.int8), (onnx.TensorProto.UINT8, np.uint8),
        (onnx.TensorProto.INT16, np.int16), (onnx.TensorProto.UINT16, np.uint16),
        (onnx.TensorProto.INT32, np.int32), (onnx.TensorProto.INT64, np.int64),
    )
}


def tensor_to_array(tensor: onnx.TensorProto) -> np.ndarray:
    """A TensorProto as numpy: raw data becomes a read-only array over its bytes (no copy, no parse)."""
    raw = tensor.raw_data  # (empty when the data is external and not loaded, or stored in typed fields)
    np_type = RAW_NP_TYPES.get(tensor.data_type) if raw else None
    if np_type is not None:
        shape = tensor.dims[:]  # (a slice copies in C; iterating the field costs twice as much)
        if len(raw) == np_type.itemsize * math.prod(shape):  # else: malformed; numpy_helper says how
            return np.ndarray(shape, np_type, raw)
    return numpy_helper.to_array(tensor)


def _constant_node_value(node: onnx.NodeProto) -> np.ndarray | None:
    for a in node.attribute:
        if a.name == "value":
            return tensor_to_array(a.t)
        if a.name == "value_float":
            return np.array(a.f, dtype=np.float32)
        if a.name == "value_floats":
            return np.array(list(a.floats), dtype=np.float32)
        if a.name == "value_int":
            return np.array(a.i, dtype=np.int64)
        if a.name == "value_ints":
            return np.array(list(a.ints), dtype=np.int64)
    return None


def delete_positions(field, positions: set[int]) -> None:
    """Delete the items at ``positions`` from a repeated protobuf field, one slice per run of neighbours
    (each deletion shifts the tail: thousands of single deletions cost tens of milliseconds)."""
    runs: list[list[int]] = []
    for i in sorted(positions):
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    for start, stop in reversed(runs):
        del field[start:stop]
