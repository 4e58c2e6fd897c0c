"""Taking quantization out: nodes read the float values their DQ inputs stand for.

The float reference takes it out everywhere (`float_reference`); partial quantization takes it out of the inputs of
chosen layers (`float_inputs`), and "only this layer quantized" out of every other node's. One set of rules for all:

- An activation pair Q -> DQ -> op: the op reads the Q's float input. A pair whose range starts at 0 (zero point at
  the type's minimum) gives a Clip to that range instead: ONNX Runtime's quantizer removes a Relu or a Clip(0, 6) in
  front of a Q whose range does the same clipping, so the pair is where the network's activation went (without it
  MobileNetV3's HardSwish grows without bound layer after layer). A Q with a reader that is not a DQ, or that is a
  graph output, stays with its DQs: an integer reader needs the quantized values.
- A weight quantized in the graph, Q(W) -> DQ -> Conv: the Conv reads the float initializer W.
- A weight stored as integers, DQ(W_int8) -> Conv: the Conv reads a new float initializer holding DQ's value
  (scale * (W - zero point), per channel along DQ's axis).
- A DQ of integer data from outside the graph (an int8 graph input) or of an integer op stays.

A DQ or Q that nothing reads any more goes, so no half pair is left behind; one still read by another node stays.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import onnx

from qdqtool.ir.editor import GraphEditor
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.names import unique_name
from qdqtool.ir.qdq import is_dq, is_q, read_params


def float_inputs(model: onnx.ModelProto, readers: Collection[str] | None = None,
                 keep: Collection[str] = ()) -> onnx.ModelProto:
    """A copy of ``model`` whose nodes named in ``readers`` read float values where they read a DQ (see the module
    docstring); ``model`` is not modified.

    Args:
        model (onnx.ModelProto): The Q/DQ model.
        readers (Collection[str]): The nodes to put in float. Defaults to None: every node but ``keep``, and the
            graph's outputs.
        keep (Collection[str]): With ``readers`` None, the nodes that stay quantized. Defaults to none.
    """
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    _Dequantizer(copy).run(None if readers is None else set(readers), set(keep))
    return copy


class _Dequantizer:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.index = GraphIndex(model)  # reads the model as it was
        self.editor = GraphEditor(model)
        index = self.index
        self.taken = set(index.initializers) | set(index.producer) | index.graph_inputs
        self.sources: dict[int, str | None] = {}  # DQ id -> the float tensor it stands for (None: it stays)

    def run(self, readers: set[str] | None, keep: set[str]) -> None:
        index, editor = self.index, self.editor
        touched: set[int] = set()
        for node_id in index.live_ids():
            node = index.node_at(node_id)
            name = index.name_of(node_id)
            if is_dq(node) or name in keep or (readers is not None and (is_q(node) or name not in readers)):
                continue  # (everywhere, a Q reading a DQ, a requantize, reads the float value too)
            for tensor in dict.fromkeys(index.inputs[node_id]):
                dq = index.producer.get(tensor)
                if dq is None or not is_dq(index.node_at(dq)) or (source := self._source(dq)) is None:
                    continue
                editor.replace_input(name, tensor, source)
                touched.add(dq)
        if readers is None:  # a DQ that is a graph output becomes an Identity of the float value (same name)
            for dq in index.of_type("DequantizeLinear"):
                if index.outputs[dq][0] in index.graph_outputs and (source := self._source(dq)) is not None:
                    editor.make_identity(index.name_of(dq), source)
                    touched.add(dq)  # (its Q may now be unread)
        self._remove_unread(touched)
        editor.commit()

    def _remove_unread(self, dqs: set[int]) -> None:
        index, editor = self.index, self.editor
        outputs = index.graph_outputs
        qs = set()
        for dq in sorted(dqs):
            if not editor.tensor(index.outputs[dq][0]).outputs and index.outputs[dq][0] not in outputs:
                editor.remove([index.name_of(dq)])
            if (q := index.producer.get(index.inputs[dq][0])) is not None and is_q(index.node_at(q)):
                qs.add(q)
        for q in sorted(qs):
            if not editor.tensor(index.outputs[q][0]).outputs and index.outputs[q][0] not in outputs:
                editor.remove([index.name_of(q)])

    def _source(self, dq: int) -> str | None:
        if dq not in self.sources:
            self.sources[dq] = self._find_source(dq)
        return self.sources[dq]

    def _find_source(self, dq: int) -> str | None:
        index = self.index
        data = index.inputs[dq][0]
        q = index.producer.get(data)
        if q is not None and is_q(index.node_at(q)):
            readers = index.consumers.get(data, [])
            if data in index.graph_outputs or not all(
                    is_dq(index.node_at(r)) and index.inputs[r][0] == data for r in readers):
                return None  # an integer reader (or the graph) needs the quantized values
            return self._clipped(q)
        if q is None and index.is_constant(data):  # integer weights stored in an initializer
            name = unique_name(f"{data}.float", self.taken)
            self.editor.new_constant(name, dequantized(index, index.node_at(dq)))
            return name
        return None  # of a graph input or of an integer op

    def _clipped(self, q: int) -> str:
        """The Q's float input, or a Clip of it to the Q's range when that range starts at 0."""
        index = self.index
        key = -1 - q  # cached beside the DQs, by a negative key
        if key in self.sources:
            return self.sources[key]
        source = index.inputs[q][0]
        params = read_params(index, index.node_at(q))
        if params is not None and params.starts_at_zero and not index.is_constant(source):
            low, high = params.represented_range()
            name = unique_name(f"{source}.clip", self.taken)
            scale_type = np.asarray(params.scale).dtype
            self.editor.new_constant(f"{name}.min", np.array(low, dtype=scale_type))
            self.editor.new_constant(f"{name}.max", np.array(high, dtype=scale_type))
            self.editor.insert("Clip", [source, f"{name}.min", f"{name}.max"], [name], name=name,
                               before=index.name_of(q))
            source = name
        self.sources[key] = source
        return source


def dequantized(index: GraphIndex, node: onnx.NodeProto) -> np.ndarray:
    """The float value a DQ of a constant produces: scale * (x - zero point), broadcast along its axis."""
    x = np.asarray(index.const_array(node.input[0])).astype(np.float32)
    scale = np.asarray(index.const_array(node.input[1]), dtype=np.float32)
    zero = (np.asarray(index.const_array(node.input[2])).astype(np.float32)
            if len(node.input) > 2 and node.input[2] else np.zeros_like(scale))
    if scale.size > 1:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1) % x.ndim
        shape = [1] * x.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(index.const_dtype(node.input[1]) or onnx.TensorProto.FLOAT)
    return ((x - zero) * scale).astype(dtype)
