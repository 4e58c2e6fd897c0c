"""Remove what the edits left unused: detached scale/zero-point constants and re-pointed duplicate nodes."""

from __future__ import annotations

from itertools import chain, pairwise

from qdqtool.ir.index import GraphIndex

_SUBGRAPH_OPS = ("If", "Loop", "Scan")


def remove_dead(index: GraphIndex, detached: set[str], candidates: list[int]) -> tuple[set[str], list[int]]:
    """Delete the ``candidates`` nodes and ``detached`` constants that nothing reads any more.

    One pass over the index's input lists decides (after the edits, which went through
    :meth:`GraphIndex.set_input`): a candidate node whose output is still read somewhere, or a constant still
    read by any other node, stays. Returns (removed constant names, removed node ids).

    Args:
        index (GraphIndex): The index the edits were made through.
        detached (set[str]): Scale/zero-point tensors that some node stopped reading.
        candidates (list[int]): Ids of the nodes whose readers were re-pointed elsewhere.
    """
    inputs = index.inputs
    skipped = set(candidates) | set(index.removed)  # a removed node's lists stay readable: it reads nothing now
    bounds = [-1, *sorted(skipped), len(inputs)]
    others = chain.from_iterable(inputs[a + 1:b] for a, b in pairwise(bounds))  # every live node but the candidates
    used = set(chain.from_iterable(others))
    used |= index.graph_outputs
    if index.of_type(*_SUBGRAPH_OPS):
        used |= index.names_used_by_subgraphs()
    outputs = index.outputs
    dead_nodes = [i for i in candidates if used.isdisjoint(outputs[i])]
    dead = detached - used
    remove = set(dead_nodes) | {index.constant_nodes[n] for n in dead if n in index.constant_nodes}
    index.remove_nodes(remove)
    if dead:
        index.remove_initializers(dead)
    return dead, dead_nodes
