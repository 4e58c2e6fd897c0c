"""Q/DQ propagation: the graph rewrites TensorRT makes before it fuses anything.

Each pass cites the rule it models (TensorRT developer guide, "Explicit Quantization", TRT 8.x 7.4.3-7.4.5):

* :func:`fold_weights` - "constant folding of weight Q/DQ": a Q/DQ chain on a constant becomes INT8 weights of the
  layer reading it; the weight Q's name is kept, as TensorRT names ``conv1.weight + QuantizeLinear_7 + Conv_9``.
* :func:`merge_sibling_qs` - "Some Q/DQ graph-rewrite optimizations ... compare the quantization scale values between
  two or more Q/DQ layers and only perform the graph-rewrite if the compared quantization scales are equal"
  (7.4.5, Fig. 10): Q nodes reading one tensor with bit-equal parameters become one; others stay separate kernels.
* :func:`move_q_backward` / :func:`move_dq_forward` - "TensorRT propagates Q nodes backwards ... and DQ nodes
  forward" across ops that commute with them (7.4.3, Fig. 2). A Q crosses an op only when every reader of the op's
  output is a Q with the same parameters (otherwise float readers still need the float output). A Q after a Concat
  is cloned onto each input (TensorRT#2597: ``QuantizeLinear_432_clone_0``); DQs cross a Concat only when they agree.
* :func:`cancel_pairs` - a DQ meeting a Q: equal parameters cancel (the INT8 data passes through), unequal ones
  leave one requantize kernel (ModelOpt ``get_concat_eliminated_tensors``: "dq-q compute latency").

    >>> graph = SimGraph.from_index(index, rules)
    >>> propagate(graph)
    >>> assert not any(n.is_q and graph.dq_source(n.inputs[0]) for n in graph.alive())
"""

from __future__ import annotations

from qdqtool.engine.predictor.graph import SimGraph, SimNode
from qdqtool.ir.qdq import QParams

_MAX_ROUNDS = 32


def same_params(a: QParams | None, b: QParams | None) -> bool:
    """Bit-equal parameters (TensorRT compares scales for exact equality); unknown parameters never match."""
    return a is not None and b is not None and a.same_as(b)


def fold_weights(g: SimGraph) -> None:
    """Fold Q/DQ on constants into constants; record weight names on the weighted op that reads them."""
    for dq in [n for n in g.alive() if n.is_dq]:
        src = dq.inputs[0]
        chain = [dq]
        q = g.producer.get(src)
        if q is not None and q.is_q and g.is_constant(q.inputs[0]):
            src, chain = q.inputs[0], [q, dq]
        elif not g.is_constant(src):
            continue
        folded = dq.outputs[0]
        g.constants.add(folded)
        for reader in g.readers_of(folded):
            if reader.op in g.rules.weighted_ops and src not in reader.weights:
                reader.weights.append(src)
                reader.weight_nodes.append(chain[0].name)
        for node in chain:
            if node.is_q and len(g.readers_of(node.outputs[0])) > 1:
                continue  # another DQ still reads it; folded when that DQ is
            g.remove(node)
        g.weight_sources[folded] = src
    for q in [n for n in g.alive() if n.is_q and g.is_constant(n.inputs[0])]:
        g.constants.add(q.outputs[0])  # a lone Q on a constant: an INT8 constant
        g.remove(q)


def merge_sibling_qs(g: SimGraph, tensors: list[str] | None = None) -> bool:
    """Merge Q nodes reading one tensor with bit-equal parameters into the first of them (7.4.5, Fig. 10)."""
    changed = False
    if tensors is None:
        tensors = list({n.inputs[0] for n in g.alive() if n.is_q})
    for tensor in tensors:
        qs = sorted((r for r in g.readers_of(tensor) if r.is_q and r.inputs[0] == tensor), key=lambda n: n.order)
        kept: list[SimNode] = []
        for q in qs:
            twin = next((k for k in kept if same_params(k.params, q.params)), None)
            if twin is None or q.outputs[0] in g.graph_outputs:
                kept.append(q)
                continue
            for reader in g.readers_of(q.outputs[0]):
                for k, t in enumerate(reader.inputs):
                    if t == q.outputs[0]:
                        g.set_input(reader, k, twin.outputs[0])
            twin.onnx_nodes.extend(q.onnx_nodes)
            g.remove(q)
            changed = True
    return changed


def move_q_backward(g: SimGraph, q: SimNode) -> list[SimNode]:
    """Move ``q`` (and its equal siblings) in front of the commuting op or Concat producing its input.

    Returns the new Q nodes (one per data input of the crossed op), or [] when the move is not allowed.
    """
    op = g.producer.get(q.inputs[0])
    if op is None or not op.move or op.int8 or q.params is None or op.op in g.rules.q_stays_after_ops:
        return []
    if any(o in g.graph_outputs for o in op.outputs if o):
        return []
    readers: list[list[SimNode]] = []
    for out in op.outputs:
        rd = g.readers_of(out) if out else []
        if out and (not rd or any(not r.is_q or r.inputs[0] != out or not same_params(r.params, q.params) for r in rd)):
            return []  # a float reader (or another scale) still needs the float output
        readers.append(rd)
    data = [op.inputs[k] for k in op.data_inputs]
    if not data or any(not t or t in g.int8_tensors or g.is_constant(t) for t in data):
        return []
    absorbed = [name for rd in readers for r in rd for name in r.onnx_nodes]
    new = []
    for j, k in enumerate(op.data_inputs):
        source = op.inputs[k]
        out = g.fresh_tensor(source, "quantized")
        name = q.name if len(op.data_inputs) == 1 else f"{q.name}_clone_{j}"
        clone = SimNode(name=name, op=q.op, inputs=[source, *q.inputs[1:]], outputs=[out],
                        order=op.order - 1e-3 * (len(op.data_inputs) - j), proto=q.proto, params=q.params)
        clone.onnx_nodes = list(absorbed) if len(op.data_inputs) == 1 else [q.name]
        g.add(clone)
        g.set_input(op, k, out)
        g.int8_tensors.add(out)
        new.append(clone)
    for k, rd in enumerate(readers):
        if not rd:
            continue
        keep = rd[0].outputs[0]
        for extra in rd[1:]:  # equal siblings not merged yet: their readers move to the first one's output
            for reader in g.readers_of(extra.outputs[0]):
                g.set_input(reader, reader.inputs.index(extra.outputs[0]), keep)
            g.remove(extra)
        g.remove(rd[0])
        g.set_output(op, k, keep)
    op.int8 = True
    return new


def move_dq_forward(g: SimGraph, op: SimNode) -> bool:
    """Move the DQ(s) feeding the commuting op or Concat ``op`` behind it, so ``op`` runs on INT8 data."""
    if not op.move or op.int8:
        return False
    sources = [g.dq_source(op.inputs[k]) for k in op.data_inputs]
    if not sources or any(s is None or s.params is None for s in sources):
        return False
    if any(not same_params(s.params, sources[0].params) for s in sources[1:]):
        return False  # a Concat of unequal scales: TensorRT cannot share one INT8 buffer
    first = sources[0]
    for k, dq in zip(op.data_inputs, sources, strict=True):
        g.set_input(op, k, dq.inputs[0])
    moved = [dq for dq in dict.fromkeys(sources) if not g.readers_of(dq.outputs[0])
             and dq.outputs[0] not in g.graph_outputs]
    for dq in moved:
        g.remove(dq)
    for k, out in enumerate(op.outputs):
        if not out:
            continue
        quantized = g.fresh_tensor(out, "int8")
        g.set_output(op, k, quantized)
        g.int8_tensors.add(quantized)
        name = first.name if first in moved and len(op.outputs) == 1 else f"{first.name}_clone_{k}"
        dq = SimNode(name=name, op=first.op, inputs=[quantized, *first.inputs[1:]], outputs=[out],
                     order=op.order + 1e-3 * (k + 1), proto=first.proto, params=first.params)
        dq.onnx_nodes = [n for s in dict.fromkeys(sources) for n in s.onnx_nodes]
        g.add(dq)
    op.int8 = True
    return True


def cancel_pairs(g: SimGraph) -> bool:
    """DQ -> Q: equal parameters cancel; unequal ones become one ``Requantize`` node (one kernel)."""
    changed = False
    for q in [n for n in g.alive() if n.is_q]:
        dq = g.dq_source(q.inputs[0])
        if dq is None or q.outputs[0] in g.graph_outputs:
            continue
        source = dq.inputs[0]
        if same_params(dq.params, q.params):
            for reader in g.readers_of(q.outputs[0]):
                for k, t in enumerate(reader.inputs):
                    if t == q.outputs[0]:
                        g.set_input(reader, k, source)
            g.cancelled.extend(dq.onnx_nodes + q.onnx_nodes)
            g.remove(q)
        else:
            requant = SimNode(name=f"{dq.name} + {q.name}", op="Requantize", inputs=[source], outputs=[],
                              order=q.order, params=q.params)
            requant.onnx_nodes = dq.onnx_nodes + q.onnx_nodes
            requant.from_params = dq.params
            out = q.outputs[0]
            g.remove(q)
            requant.outputs = [out]
            g.add(requant)
        if not g.readers_of(dq.outputs[0]) and dq.outputs[0] not in g.graph_outputs:
            g.remove(dq)
        changed = True
    return changed


def propagate(g: SimGraph) -> SimGraph:
    """Run every pass to a fixed point; returns ``g`` (edited in place)."""
    fold_weights(g)
    for _ in range(_MAX_ROUNDS):
        changed = merge_sibling_qs(g)
        work = sorted((n for n in g.alive() if n.is_q), key=lambda n: -n.order)
        while work:
            q = work.pop()
            if not g.is_alive(q):
                continue
            new = move_q_backward(g, q)
            if new:
                changed = True
                merge_sibling_qs(g, [n.inputs[0] for n in new])
                work.extend(n for n in new if g.is_alive(n))
        for op in g.in_order():
            if op.move and move_dq_forward(g, op):
                changed = True
        changed |= cancel_pairs(g)
        if not changed:
            return g
    g.notes.append(f"Q/DQ propagation stopped after {_MAX_ROUNDS} rounds")
    return g
