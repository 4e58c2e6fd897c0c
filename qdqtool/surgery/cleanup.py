"""Remove what the edits left unused: detached scale/zero-point constants and re-pointed duplicate nodes."""

from __future__ import annotations

from qdqtool.ir.index import GraphIndex

_SUBGRAPH_OPS = ("If", "Loop", "Scan")


def remove_dead(index: GraphIndex, detached: set[str], candidates: list[int]) -> tuple[list[str], list[int]]:
    """Delete the ``candidates`` nodes and ``detached`` constants that nothing reads any more.

    One pass over every node's inputs decides (after the edits): a candidate node whose output is still read
    somewhere, or a constant still read by a node outside the group, stays. Returns (removed constant names,
    removed node indices).

    Args:
        index (GraphIndex): The index the edits were planned on (node positions still valid).
        detached (set[str]): Scale/zero-point tensors that some node stopped reading.
        candidates (list[int]): Nodes whose readers were re-pointed elsewhere.
    """
    graph = index.graph
    candidate_set = set(candidates)
    used: set[str] = set()
    update = used.update
    for i, node in enumerate(index.nodes):
        if i not in candidate_set:
            update(node.input)
    used |= index.graph_outputs
    if index.of_type(*_SUBGRAPH_OPS):
        used |= index.names_used_by_subgraphs()
    dead_nodes = [i for i in candidates if not set(index.nodes[i].output) & used]
    dead = {name for name in detached if name not in used}
    remove = set(dead_nodes) | {index.constant_nodes[n] for n in dead if n in index.constant_nodes}
    for i in sorted(remove, reverse=True):
        del graph.node[i]
    if dead:
        for container in (graph.initializer, graph.input):  # IR < 4 lists initializers as inputs too
            for i in reversed([i for i, item in enumerate(container) if item.name in dead]):
                del container[i]
    return sorted(dead), dead_nodes
