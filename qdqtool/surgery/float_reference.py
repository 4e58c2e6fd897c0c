"""The float model inside a Q/DQ model: every quantize/dequantize pair taken out, the network as trained.

What accuracy is judged against when the user has no FP32 export (``--reference``): a quantized network compared
with another quantized one measures how a tiny perturbation is amplified, not what an edit did.

- An activation pair Q -> DQ -> op: the op reads the Q's float input. A DQ that is a graph output becomes an
  Identity of it (the output keeps its name); a Q with a reader that is not a DQ stays, with its DQs.
- A pair whose range starts at 0 (zero point at the type's minimum) becomes a Clip to that range: ONNX Runtime's
  quantizer removes a Relu or a Clip(0, 6) in front of a Q whose range does the same clipping, so the pair is where
  the network's activation went (without it MobileNetV3's HardSwish grows without bound layer after layer).
- A weight quantized in the graph, Q(W) -> DQ -> Conv: the Conv reads the float initializer W.
- A weight stored as integers, DQ(W_int8) -> Conv: the Conv reads a new float initializer holding DQ's value
  (scale * (W - zero point), per channel along DQ's axis).
- A DQ of integer data from outside the graph (an int8 graph input) or of an integer op stays: there is no float
  value to go back to.

    >>> reference = float_reference(model)
    >>> assert not any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in reference.graph.node)
"""

from __future__ import annotations

import numpy as np
import onnx

from qdqtool.ir.editor import GraphEditor
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.names import unique_name
from qdqtool.ir.qdq import QRANGE, is_dq, is_q, read_params


def float_reference(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` without its Q/DQ pairs (see the module docstring); ``model`` is not modified."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    index = GraphIndex(copy)  # reads the model as it was
    editor = GraphEditor(copy)
    outputs = index.graph_outputs
    taken = set(index.initializers) | set(index.producer) | index.graph_inputs
    for q in index.of_type("QuantizeLinear"):
        node = index.node_at(q)
        if not is_q(node):
            continue
        readers = index.consumers.get(index.outputs[q][0], [])
        dqs = [r for r in readers if is_dq(index.node_at(r)) and index.inputs[r][0] == index.outputs[q][0]]
        if not dqs or len(dqs) != len(readers) or index.outputs[q][0] in outputs:
            continue  # an integer reader (or the graph) needs the quantized values
        source = _clipped(editor, index, q, index.inputs[q][0], taken)
        for dq in dqs:
            _bypass(editor, index, dq, source, outputs)
        editor.remove([index.name_of(q)])
    for dq in index.of_type("DequantizeLinear"):
        node = index.node_at(dq)
        data = index.inputs[dq][0]
        if not is_dq(node) or data in index.producer or not index.is_constant(data):
            continue  # after a Q (done above), of a graph input or of an integer op: stays
        name = unique_name(f"{data}.float", taken)
        editor.new_constant(name, _dequantized(index, node))
        _bypass(editor, index, dq, name, outputs)
    editor.commit()
    return copy


def _clipped(editor: GraphEditor, index: GraphIndex, q: int, source: str, taken: set[str]) -> str:
    """``source``, or a new Clip of it to the Q's range when that range starts at 0 (see the module docstring)."""
    params = read_params(index, index.node_at(q))
    if params is None or not params.per_tensor or params.dtype not in QRANGE:
        return source
    qmin, _ = QRANGE[params.dtype]
    if params.zero_point_value != qmin:
        return source
    low, high = params.represented_range()
    name = unique_name(f"{source}.clip", taken)
    scale_type = np.asarray(params.scale).dtype
    editor.new_constant(f"{name}.min", np.array(low, dtype=scale_type))
    editor.new_constant(f"{name}.max", np.array(high, dtype=scale_type))
    editor.insert("Clip", [source, f"{name}.min", f"{name}.max"], [name], name=name, before=index.name_of(q))
    return name


def _bypass(editor: GraphEditor, index: GraphIndex, dq: int, source: str, outputs: set[str]) -> None:
    """The readers of DQ ``dq`` read ``source``; the DQ goes (or, as a graph output, becomes an Identity of it)."""
    result = index.outputs[dq][0]
    if result in outputs:
        editor.make_identity(index.name_of(dq), source)
        return
    editor.reroute(result, source)
    editor.remove([index.name_of(dq)])


def _dequantized(index: GraphIndex, node: onnx.NodeProto) -> np.ndarray:
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

