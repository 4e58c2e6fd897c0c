"""The small subgraph drawn for one scale group: its Q/DQ nodes, the ops that joined them, one node of context on
each side, and the scale of every Q/DQ on the edge it produces.

    >>> sub = group_subgraph(GraphIndex(model), ["cat.Q", "cat.DQ", "cat"])
    >>> assert {n.name for n in sub.nodes} >= {"cat.Q", "cat.DQ", "cat"}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import is_dq, is_q, read_params


@dataclass
class DrawNode:
    name: str
    op: str
    kind: str  # "q", "dq", "joint" (the op that joined the group), "context"


@dataclass
class DrawEdge:
    src: str
    dst: str
    tensor: str
    label: str = ""  # the scale (and non-zero zero point) of the Q/DQ producing the tensor


@dataclass
class SubGraph:
    nodes: list[DrawNode] = field(default_factory=list)
    edges: list[DrawEdge] = field(default_factory=list)


def scale_label(index: GraphIndex, node) -> str:
    """``s=0.05`` (``zp=3`` when not zero; ``s=per-channel`` for vectors) for a Q/DQ node; "" otherwise."""
    if not (is_q(node) or is_dq(node)):
        return ""
    params = read_params(index, node)
    if params is None:
        return "s=computed"
    if params.scale.size > 1:
        return f"s=per-channel ({params.scale.size})"
    zero = int(params.zero_point.reshape(-1)[0])
    return f"s={float(params.scale.reshape(-1)[0]):.5g}" + (f" zp={zero}" if zero else "")


def group_subgraph(index: GraphIndex, members: list[str], joints: list[str] = ()) -> SubGraph:
    """The nodes ``members`` and ``joints`` present in ``index``, plus the producer of each Q's input and the
    consumers of each DQ's output, with the edges between them in graph order.

    Args:
        index (GraphIndex): The model.
        members (list[str]): Q/DQ node names of the group.
        joints (list[str]): Names of the ops that joined the group (Concat, MaxPool ...). Defaults to ().
    """
    by_name = {(n.name or n.output[0]): i for i, n in enumerate(index.nodes)}
    wanted: dict[int, str] = {}
    for name in members:
        if name in by_name:
            wanted[by_name[name]] = "q" if is_q(index.nodes[by_name[name]]) else "dq"
    for name in joints:
        if name in by_name:
            wanted.setdefault(by_name[name], "joint")
    for i, kind in list(wanted.items()):
        node = index.nodes[i]
        if kind == "q" and node.input:
            producer = index.producer.get(node.input[0])
            if producer is not None:
                wanted.setdefault(producer, "context")
        if kind == "dq":
            for consumer in index.consumers.get(node.output[0], ()):
                wanted.setdefault(consumer, "context")
    sub = SubGraph()
    for i in sorted(wanted):
        node = index.nodes[i]
        sub.nodes.append(DrawNode(node.name or node.output[0], node.op_type, wanted[i]))
    for i in sorted(wanted):
        node = index.nodes[i]
        label = scale_label(index, node)
        for tensor in node.output:
            for j in index.consumers.get(tensor, ()):
                if j in wanted:
                    dst = index.nodes[j]
                    sub.edges.append(DrawEdge(node.name or node.output[0], dst.name or dst.output[0], tensor, label))
    return sub
