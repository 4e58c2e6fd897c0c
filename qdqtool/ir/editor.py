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

    >>> editor = GraphEditor(model)
    >>> dq = editor.insert("DequantizeLinear", ["x.q", "s", "zp"], ["x.dq"], name="x.DQ", before="add")
    >>> editor.replace_input("add", "x", "x.dq")
    >>> assert editor.commit()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import onnx

from qdqtool.errors import InternalError


def _gs():
    import onnx_graphsurgeon as gs  # imported on use: only placement fixes and partial quantization edit structure

    return gs


class GraphEditor:
    """Structural edits of ``model``'s main graph (see the module docstring).

    Args:
        model (onnx.ModelProto): The model, edited in place by :meth:`commit`.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        gs = _gs()
        self.model = model
        from onnx_graphsurgeon.logger import G_LOGGER

        severity = G_LOGGER.severity
        G_LOGGER.severity = G_LOGGER.ERROR  # its warnings are about the user's model, not about the edit
        try:
            self.graph = gs.import_onnx(model)
        finally:
            G_LOGGER.severity = severity
        self._initializers = {t.name for t in model.graph.initializer}
        self._new_constants: dict = {}  # name -> gs.Constant made by new_constant, until a node reads it
        # the NodeProto each imported node came from (graphsurgeon imports them one for one, in order)
        self._protos = {id(node): proto for node, proto in zip(self.graph.nodes, model.graph.node, strict=True)}
        self._touched: set[int] = set()  # ids of imported nodes whose inputs an edit changed
        self._changed = False

    # ---- reading -------------------------------------------------------------------------------------------------
    def node(self, name: str):
        """The graphsurgeon node called ``name`` (its first output's name for an unnamed node)."""
        for node in self.graph.nodes:
            if (node.name or (node.outputs[0].name if node.outputs else "")) == name:
                return node
        raise InternalError(f"no node {name!r} in the graph being edited")

    def tensor(self, name: str):
        """The graphsurgeon tensor called ``name`` (also a constant made by :meth:`new_constant`)."""
        found = self._new_constants.get(name) or self.graph.tensors().get(name)
        if found is None:
            raise InternalError(f"no tensor {name!r} in the graph being edited")
        return found

    # ---- editing -------------------------------------------------------------------------------------------------
    def new_constant(self, name: str, value: np.ndarray) -> None:
        """A new initializer ``name`` holding ``value``, for nodes inserted after this call to read."""
        if name in self._new_constants or name in self.graph.tensors():
            raise InternalError(f"tensor {name!r} exists already")
        self._new_constants[name] = _gs().Constant(name, np.asarray(value))

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
        feeds = [self.tensor(t) if t else gs.Variable.empty() for t in inputs]
        made = [gs.Variable(o) for o in outputs]
        node = gs.Node(op=op, name=name, inputs=feeds, outputs=made,
                       attrs={a.name: onnx.helper.get_attribute_value(a) for a in attrs})
        self.graph.nodes.insert(self.graph.nodes.index(self.node(before)), node)
        self._changed = True

    def replace_input(self, reader: str, old: str, new: str) -> int:
        """Make the node ``reader`` read tensor ``new`` wherever it read ``old``; returns how many inputs changed."""
        if old == new:
            return 0
        node = self.node(reader)
        replacement = self.tensor(new)
        changed = 0
        for k, tensor in enumerate(node.inputs):
            if tensor.name == old:
                node.inputs[k] = replacement
                changed += 1
        if changed:
            self._touched.add(id(node))
            self._changed = True
        return changed

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
            self.graph.nodes.remove(node)
            for tensor in feeds:
                makers = [m for m in tensor.inputs if m.op == "Constant"]
                if makers and not tensor.outputs and tensor.name not in outputs:
                    self.remove([makers[0].name or tensor.name])
            self._changed = True

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
        graph = self.model.graph
        read_before = {i for n in graph.node for i in n.input} & self._initializers
        tensors = self.graph.tensors()
        nodes = [self._written(node, OnnxExporter) for node in self.graph.nodes]
        detached = {name for name in read_before if name not in tensors}
        new = [OnnxExporter.export_tensor_proto(t) for name, t in tensors.items()
               if isinstance(t, gs.Constant) and name not in self._initializers]
        del graph.node[:]
        graph.node.extend(nodes)
        if detached:
            kept = [t for t in graph.initializer if t.name not in detached]
            del graph.initializer[:]
            graph.initializer.extend(kept)
        graph.initializer.extend(new)
        self._initializers = {t.name for t in graph.initializer}
        self._new_constants.clear()
        self._protos = {id(node): proto for node, proto in zip(self.graph.nodes, graph.node, strict=True)}
        self._touched.clear()
        self._changed = False
        return True

    def _written(self, node, exporter) -> onnx.NodeProto:
        """The NodeProto to write for ``node``: its original when untouched, else an export keeping its notes."""
        original = self._protos.get(id(node))
        if original is not None and id(node) not in self._touched:
            return original
        proto = exporter.export_node(node)
        if original is not None:
            proto.doc_string = original.doc_string
            proto.metadata_props.extend(original.metadata_props)
        return proto
