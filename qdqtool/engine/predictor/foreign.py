"""Myelin regions: the float attention blocks TensorRT hands to Myelin whole, as one ``{ForeignNode[a...b]}`` layer.

A region grows from each anchor op (``[predictor.foreign].anchors``: Softmax) over the region ops of the rules file,
in both directions, until it meets an op it does not take. Element-wise ops join only when they have one data input
(a scaling by a constant, not a SiLU's Mul). With ``quantized = true`` MatMuls with quantized inputs join too, with
the Q/DQ between region ops and, going back from a region op, the INT8 data movement feeding its quantized inputs:
ModelOpt's INT8 placement quantizes the attention MatMuls for TensorRT's fused attention (``--disable_mha_qdq``
turns that off), and those Q/DQ are fused into the region. Q/DQ left at its edges belong to the layers beyond.

    >>> regions = foreign_regions(graph)
    >>> assert all(len(nodes) > 1 for nodes in regions)
"""

from __future__ import annotations

from qdqtool.engine.predictor.graph import SimGraph, SimNode

_ELEMENTWISE = frozenset({"Mul", "Div", "Add", "Sub"})


def _joins(g: SimGraph, node: SimNode, taken: set[int]) -> bool:
    rules = g.rules
    if id(node) in taken:
        return False
    if node.is_q or node.is_dq or node.op == "Requantize":
        return rules.foreign_quantized
    if node.op not in rules.foreign_ops or (node.int8 and not rules.foreign_quantized):
        return False
    data = g.data_inputs(node)
    if node.op in rules.weighted_ops and any(g.dq_source(t) is not None for t in data):
        return rules.foreign_quantized
    return not (node.op in _ELEMENTWISE and len(data) != 1)


def foreign_regions(g: SimGraph) -> list[list[SimNode]]:
    """The Myelin regions of ``g``, each in model order; regions of one node are left to the other rules."""
    if not g.rules.foreign_anchor_ops:
        return []
    taken: set[int] = set()
    regions = []
    for anchor in g.in_order():
        if anchor.op not in g.rules.foreign_anchor_ops or anchor.int8 or not _joins(g, anchor, taken):
            continue
        region, todo = [anchor], [anchor]
        taken.add(id(anchor))
        while todo:
            node = todo.pop()
            producers = [g.producer[t] for t in g.data_inputs(node) if t in g.producer]
            readers = [r for t in node.outputs if t for r in g.readers_of(t)]
            # INT8 data movement joins only on the way back from a region op (what feeds its quantized inputs);
            # going forward it belongs to the layer it feeds
            readers = [r for r in readers if r.is_q or r.is_dq or not r.int8]
            for other in producers + readers:
                if _joins(g, other, taken):
                    taken.add(id(other))
                    region.append(other)
                    todo.append(other)
        region = _trimmed(g, sorted(region, key=lambda n: n.order))
        if sum(1 for n in region if not (n.is_q or n.is_dq)) > 1:
            regions.append(region)
        else:
            taken.difference_update(map(id, region))
    return regions


def _trimmed(g: SimGraph, region: list[SimNode]) -> list[SimNode]:
    """The region without Q/DQ at its edges: a Q whose data leaves the region, or a DQ reading data from outside,
    belongs to the layer on the other side (it is fused there or stays standalone)."""
    inside = set(map(id, region))
    while True:
        produced = {t for n in region for t in n.outputs if t}
        edge = [n for n in region if (n.is_q or n.is_dq) and (
            any(t and t not in produced for t in n.inputs[:1])
            and any(r is not None and id(r) not in inside for t in n.outputs for r in g.readers_of(t))
            or all(id(r) not in inside for t in n.outputs for r in g.readers_of(t)))]
        if not edge:
            return region
        for n in edge:
            inside.discard(id(n))
        region = [n for n in region if id(n) in inside]
