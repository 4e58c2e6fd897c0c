"""Myelin regions: the float attention blocks TensorRT hands to Myelin whole, as one ``{ForeignNode[a...b]}`` layer.

A region grows from each anchor op (``[predictor.foreign].anchors``: Softmax) over the region ops of the rules file,
in both directions, until it meets a Q/DQ, a weighted op with a quantized input, or an op it does not take.
Element-wise ops join only when they have one data input (a scaling by a constant, not a SiLU's Mul).

    >>> regions = foreign_regions(graph)
    >>> assert all(len(nodes) > 1 for nodes in regions)
"""

from __future__ import annotations

from qdqtool.engine.predictor.graph import SimGraph, SimNode

_ELEMENTWISE = frozenset({"Mul", "Div", "Add", "Sub"})


def _joins(g: SimGraph, node: SimNode, taken: set[int]) -> bool:
    rules = g.rules
    if id(node) in taken or node.op not in rules.foreign_ops or node.is_q or node.is_dq or node.int8:
        return False
    data = g.data_inputs(node)
    if node.op in rules.weighted_ops and any(g.dq_source(t) is not None for t in data):
        return False
    return not (node.op in _ELEMENTWISE and len(data) != 1)


def foreign_regions(g: SimGraph) -> list[list[SimNode]]:
    """The Myelin regions of ``g``, each in model order; regions of one node are left to the other rules."""
    if not g.rules.foreign_anchor_ops:
        return []
    taken: set[int] = set()
    regions = []
    for anchor in g.in_order():
        if anchor.op not in g.rules.foreign_anchor_ops or not _joins(g, anchor, taken):
            continue
        region, todo = [anchor], [anchor]
        taken.add(id(anchor))
        while todo:
            node = todo.pop()
            neighbours = [g.producer[t] for t in g.data_inputs(node) if t in g.producer]
            neighbours += [r for t in node.outputs if t for r in g.readers_of(t)]
            for other in neighbours:
                if _joins(g, other, taken):
                    taken.add(id(other))
                    region.append(other)
                    todo.append(other)
        if len(region) > 1:
            regions.append(sorted(region, key=lambda n: n.order))
        else:
            taken.discard(id(anchor))
    return regions
