"""The model as a networkx graph, for the queries that are graph questions: what lies downstream of a node, the
neighbourhood drawn for a scale group.

Nodes are node ids of the :class:`~qdqtool.ir.index.GraphIndex` (removed nodes left out); an edge runs from the
node producing a tensor to each node reading it, keyed by the tensor's name. Building it costs about half a second
on a 40k-node graph, so merge never does: the analysis and the scale edits run on the index alone.

    >>> flow = dataflow_graph(index)
    >>> assert all(tensor in index.outputs[a] for a, b, tensor in flow.edges(keys=True))
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from qdqtool.ir.index import GraphIndex


def dataflow_graph(index: GraphIndex) -> nx.MultiDiGraph:
    """Every node still in the graph, and an edge per tensor read (producer -> reader, key = tensor name)."""
    producer = index.producer
    live = index.live_ids()
    flow = nx.MultiDiGraph()
    flow.add_nodes_from(live)
    inputs = index.inputs
    flow.add_edges_from(
        (producer[t], i, t) for i in live for t in inputs[i] if t in producer and not index.is_removed(producer[t])
    )
    return flow


def downstream(flow: nx.MultiDiGraph, node_ids: Iterable[int]) -> set[int]:
    """The nodes whose inputs depend on any of ``node_ids`` (those nodes excluded)."""
    found: set[int] = set()
    for node_id in node_ids:
        if node_id not in found:
            found |= nx.descendants(flow, node_id)
    return found - set(node_ids)
