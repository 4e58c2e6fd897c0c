"""Remove what the edits left unused: detached scale/zero-point constants and re-pointed duplicate nodes."""

from __future__ import annotations

from qdqtool.ir.index import GraphIndex

_SUBGRAPH_OPS = ("If", "Loop", "Scan")


def remove_dead(
    index: GraphIndex, detached: set[str], candidates: list[int], known: set[int] | None = None,
    known_inputs: set[str] | None = None,
) -> tuple[list[str], list[int]]:
    """Delete the ``candidates`` nodes and ``detached`` constants that nothing reads any more.

    One pass over every node's inputs decides (after the edits): a candidate node whose output is still read
    somewhere, or a constant still read by a node outside the group, stays. Returns (removed constant names,
    removed node indices).

    Args:
        index (GraphIndex): The index the edits were planned on (node positions still valid).
        detached (set[str]): Scale/zero-point tensors that some node stopped reading.
        candidates (list[int]): Nodes whose readers were re-pointed elsewhere.
        known (set[int]): Nodes whose inputs the caller already knows (``known_inputs``): not read again, which
            on large graphs saves reading a third of them through protobuf. Defaults to None.
        known_inputs (set[str]): What the ``known`` nodes read. Defaults to None.
    """
    graph = index.graph
    skip = set(candidates) | (known or set())
    used: set[str] = set(known_inputs or ())
    update = used.update
    for i, node in enumerate(index.nodes):
        if i not in skip:
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
        positions = [index.initializers.position(name) for name in dead]  # no walk over every initializer
        for i in sorted((p for p in positions if p is not None), reverse=True):
            del graph.initializer[i]
        for i in reversed([i for i, item in enumerate(graph.input) if item.name in dead]):  # IR < 4 lists them
            del graph.input[i]
    return sorted(dead), dead_nodes
