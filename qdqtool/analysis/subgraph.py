"""The small subgraph drawn for one scale group: its Q/DQ nodes, the ops that joined them, one node of context on
each side, and the scale of every Q/DQ on the edge it produces.

    >>> sub = group_subgraph(GraphIndex(model), ["cat.Q", "cat.DQ", "cat"])
    >>> assert {n.name for n in sub.nodes} >= {"cat.Q", "cat.DQ", "cat"}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from qdqtool.ir.dataflow import dataflow_graph
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


def group_subgraph(index: GraphIndex, members: list[str], joints: list[str] = (),
                   flow: nx.MultiDiGraph | None = None) -> SubGraph:
    """The nodes ``members`` and ``joints`` present in ``index``, plus the producer of each Q's input and the
    readers of each DQ's output, with the edges between them in graph order.

    Args:
        index (GraphIndex): The model.
        members (list[str]): Q/DQ node names of the group.
        joints (list[str]): Names of the ops that joined the group (Concat, MaxPool ...). Defaults to ().
        flow (nx.MultiDiGraph): :func:`~qdqtool.ir.dataflow.dataflow_graph` of ``index``, when the caller draws
            several groups of one model. Defaults to None (built here).
    """
    flow = dataflow_graph(index) if flow is None else flow
    wanted: dict[int, str] = {}
    for name in members:
        found = index.find(name)
        if found is not None:
            wanted[found] = "q" if is_q(index.node_at(found)) else "dq"
    for name in joints:
        found = index.find(name)
        if found is not None:
            wanted.setdefault(found, "joint")
    for i, kind in list(wanted.items()):
        if kind == "q":
            for producer, _, tensor in flow.in_edges(i, keys=True):
                if tensor == index.inputs[i][0]:
                    wanted.setdefault(producer, "context")
        elif kind == "dq":
            for reader in flow.successors(i):
                wanted.setdefault(reader, "context")
    sub = SubGraph()
    nodes = sorted(wanted)
    for i in nodes:
        sub.nodes.append(DrawNode(index.name_of(i), index.ops[i], wanted[i]))
    part = flow.subgraph(nodes)
    for i in nodes:
        label = scale_label(index, index.node_at(i))
        for tensor in index.outputs[i]:
            for _, j, key in sorted(part.out_edges(i, keys=True), key=lambda e: e[1]):
                if key == tensor:
                    sub.edges.append(DrawEdge(index.name_of(i), index.name_of(j), tensor, label))
    return sub
