"""GraphEditor: the one place where nodes are inserted into a model or taken out of it, on onnx-graphsurgeon.

graphsurgeon keeps every edge consistent (a node's inputs and a tensor's readers change together), so a fix
never patches both ends by hand. Edits are made on the imported graph and written back into the ModelProto once,
by :meth:`GraphEditor.commit`, and only when something changed: a model a fix leaves alone is not rewritten.

Written back: the nodes in their list order (new nodes go where :meth:`insert` puts them; nothing is re-sorted,
so the rest of the model keeps its order and its groups their numbering). A node the edit did not touch is
written back as it was, byte for byte (its doc_string, metadata and subgraphs included); a node whose inputs
changed keeps its doc_string and metadata. Initializers stay in their order, new ones last; those an edit
detached go, those nothing read before the edit stay. The model's other fields (opsets, metadata, functions) are
not touched.

The light :class:`~qdqtool.ir.index.GraphIndex` stays the reader, and the writer of what must be fast: scale
edits and the clean-up of the nodes ``merge`` leaves unread (a graphsurgeon round trip costs 12-15x a bare
load + save on large graphs).

Every operation costs a dictionary lookup: nodes and tensors are found through maps built once and kept in step,
insertions and removals are recorded and spliced into the node list by :meth:`commit` (graphsurgeon's own
``graph.tensors()`` walks every node, and ``list.index`` compares nodes field by field).

    >>> editor = GraphEditor(model)
    >>> editor.insert("DequantizeLinear", ["x.q", "s", "zp"], ["x.dq"], name="x.DQ", before="add")
    >>> editor.replace_input("add", "x", "x.dq")
    >>> assert editor.commit()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import onnx

from qdqtool.errors import InternalError
from qdqtool.ir.index import INITIALIZERS_AS_INPUTS_BEFORE


def _gs():
    import onnx_graphsurgeon as gs  # imported on use: only the jobs that change structure need it

    return gs


class GraphEditor:
    """Structural edits of ``model``'s main graph (see the module docstring).

    Args:
        model (onnx.ModelProto): The model, edited in place by :meth:`commit`.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        from onnx_graphsurgeon.logger import G_LOGGER

        gs = _gs()
        self.model = model
        severity = G_LOGGER.severity
        G_LOGGER.severity = G_LOGGER.ERROR  # its warnings are about the user's model, not about the edit
        try:
            self.graph = gs.import_onnx(model)
        finally:
            G_LOGGER.severity = severity
        self._initializers = {t.name for t in model.graph.initializer}
        self._start()

    def _start(self) -> None:
        """The maps of the graph as it is now (at import, and after a commit)."""
        nodes = self.graph.nodes
        # the NodeProto each node came from (graphsurgeon imports them one for one, in order)
        self._protos = {id(node): proto for node, proto in zip(nodes, self.model.graph.node, strict=True)}
        self._by_name: dict[str, object] = {}
        for node in nodes:
            self._by_name.setdefault(_name_of(node), node)
        self._tensors = self.graph.tensors()  # name -> tensor (graphsurgeon walks every node for it: once)
        self._inserted: dict[int, list] = {}  # id(node) -> new nodes to put in front of it
        self._removed: set[int] = set()
        self._touched: set[int] = set()  # ids of imported nodes whose inputs or op an edit changed
        self._changed = False

    # ---- reading -------------------------------------------------------------------------------------------------
    def node(self, name: str):
        """The graphsurgeon node called ``name`` (its first output's name for an unnamed node)."""
        node = self._by_name.get(name)
        if node is None or id(node) in self._removed:
            raise InternalError(f"no node {name!r} in the graph being edited")
        return node

    def tensor(self, name: str):
        """The graphsurgeon tensor called ``name`` (also a constant made by :meth:`new_constant`)."""
        found = self._tensors.get(name)
        if found is None:
            raise InternalError(f"no tensor {name!r} in the graph being edited")
        return found

    # ---- editing -------------------------------------------------------------------------------------------------
    def new_constant(self, name: str, value: np.ndarray) -> None:
        """A new initializer ``name`` holding ``value``, for nodes inserted after this call to read."""
        if name in self._tensors:
            raise InternalError(f"tensor {name!r} exists already")
        self._tensors[name] = _gs().Constant(name, np.asarray(value))

    def insert(self, op: str, inputs: Sequence[str], outputs: Sequence[str], name: str, before: str,
               attrs: Iterable[onnx.AttributeProto] = ()) -> None:
        """Add a node reading the tensors ``inputs`` ("" for an omitted one) and writing the new tensors
        ``outputs``, placed just before the node ``before`` in the node list.

        Args:
            op (str): The op type.
            inputs (Sequence[str]): Tensor names the node reads.
            outputs (Sequence[str]): Names of the tensors it writes (new).
            name (str): The node's name.
            before (str): The node the new one goes in front of.
            attrs (Iterable[AttributeProto]): Attributes, e.g. copied from the Q whose parameters it takes.
                Defaults to none.
        """
        gs = _gs()
        anchor = self.node(before)
        feeds = [self.tensor(t) if t else gs.Variable.empty() for t in inputs]
        made = []
        for o in outputs:
            if o in self._tensors:
                raise InternalError(f"tensor {o!r} exists already")
            made.append(self._tensors.setdefault(o, gs.Variable(o)))
        node = gs.Node(op=op, name=name, inputs=feeds, outputs=made,
                       attrs={a.name: onnx.helper.get_attribute_value(a) for a in attrs})
        self._inserted.setdefault(id(anchor), []).append(node)
        self._by_name.setdefault(name, node)
        self._changed = True

    def replace_input(self, reader: str, old: str, new: str) -> int:
        """Make the node ``reader`` read tensor ``new`` wherever it read ``old``; returns how many inputs changed."""
        if old == new:
            return 0
        return self._rewire(self.node(reader), old, self.tensor(new))

    def reroute(self, old: str, new: str) -> int:
        """Make every node reading tensor ``old`` read ``new`` instead; returns how many inputs changed."""
        if old == new:
            return 0
        replacement = self.tensor(new)
        readers = {id(r): r for r in self.tensor(old).outputs}  # (graphsurgeon nodes are not hashable)
        return sum(self._rewire(reader, old, replacement) for reader in readers.values())

    def _rewire(self, node, old: str, replacement) -> int:
        changed = 0
        for k, tensor in enumerate(node.inputs):
            if tensor.name == old:
                node.inputs[k] = replacement
                changed += 1
        if changed:
            self._touched.add(id(node))
            self._changed = True
        return changed

    def make_identity(self, name: str, source: str) -> None:
        """Turn the node ``name`` into an Identity of tensor ``source``, keeping its outputs (and so their names:
        a graph output stays one)."""
        node = self.node(name)
        node.op, node.attrs, node.domain = "Identity", {}, None
        node.inputs.clear()
        node.inputs.append(self.tensor(source))
        self._touched.add(id(node))
        self._changed = True

    def remove(self, names: Iterable[str]) -> None:
        """Take the named nodes out of the graph (nothing may read their outputs any more), with the Constant
        nodes that only they read (their scales and zero points)."""
        outputs = {t.name for t in self.graph.outputs}
        for name in names:
            node = self.node(name)
            readers = [r.name for out in node.outputs for r in out.outputs]
            if readers or any(out.name in outputs for out in node.outputs):
                raise InternalError(f"cannot remove {name}: {', '.join(readers) or 'the graph'} still reads it")
            feeds = list(node.inputs)
            node.inputs.clear()
            node.outputs.clear()
            self._removed.add(id(node))
            self._changed = True
            for tensor in feeds:
                makers = [m for m in tensor.inputs if m.op == "Constant" and id(m) not in self._removed]
                if makers and not tensor.outputs and tensor.name not in outputs:
                    self.remove([_name_of(makers[0]) or tensor.name])

    # ---- writing back --------------------------------------------------------------------------------------------
    def commit(self) -> bool:
        """Write the edited graph back into the model; False (and nothing written) when nothing changed.

        Only the node list is exported; initializers stay as they are, but for those an edit detached (removed)
        and those a new node reads (appended).
        """
        if not self._changed:
            return False
        from onnx_graphsurgeon.exporters.onnx_exporter import OnnxExporter

        gs = _gs()
        nodes = []
        removed = self._removed
        for node in self.graph.nodes:
            nodes += (new for new in self._inserted.get(id(node), ()) if id(new) not in removed)
            if id(node) not in removed:
                nodes.append(node)
        self.graph.nodes = nodes
        graph = self.model.graph
        read_before = {i for n in graph.node for i in n.input} & self._initializers
        tensors = self.graph.tensors()
        protos = [self._written(node, OnnxExporter) for node in nodes]
        detached = {name for name in read_before if name not in tensors}
        new = [OnnxExporter.export_tensor_proto(t) for name, t in tensors.items()
               if isinstance(t, gs.Constant) and name not in self._initializers]
        del graph.node[:]
        graph.node.extend(protos)
        if detached:
            kept = [t for t in graph.initializer if t.name not in detached]
            del graph.initializer[:]
            graph.initializer.extend(kept)
            inputs = [v for v in graph.input if v.name not in detached]  # IR < 4 lists initializers as inputs
            if len(inputs) != len(graph.input):
                del graph.input[:]
                graph.input.extend(inputs)
        graph.initializer.extend(new)
        if new and self.model.ir_version < INITIALIZERS_AS_INPUTS_BEFORE:  # IR < 4: every initializer is an input
            graph.input.extend(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in new)
        self._initializers = {t.name for t in graph.initializer}
        self._start()
        return True

    def _written(self, node, exporter) -> onnx.NodeProto:
        """The NodeProto to write for ``node``: its original when untouched, else an export keeping its notes."""
        original = self._protos.get(id(node))
        if original is not None and id(node) not in self._touched:
            return original
        proto = exporter.export_node(node)
        if original is not None:
            if original.doc_string:
                proto.doc_string = original.doc_string
            proto.metadata_props.extend(original.metadata_props)
        return proto


def _name_of(node) -> str:
    return node.name or (node.outputs[0].name if node.outputs else "")
