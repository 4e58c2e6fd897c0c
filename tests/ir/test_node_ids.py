"""GraphIndex node ids never shift: after any removals, in one call or several, every id still names the node it
named when the index was built (removed ones as they were), and edits through an id reach that node."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from qdqtool.ir.index import GraphIndex

N = 10


def chain() -> onnx.ModelProto:
    """x -> Relu n0 -> Relu n1 -> ... -> Relu n9 (output t{k}); every third node is unnamed (named by its output)."""
    nodes = [helper.make_node("Relu", ["x" if k == 0 else f"t{k - 1}"], [f"t{k}"], name="" if k % 3 == 1 else f"n{k}")
             for k in range(N)]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info(f"t{N - 1}", TensorProto.FLOAT, [1])])
    return helper.make_model(graph)


def name(k: int) -> str:
    return "" if k % 3 == 1 else f"n{k}"


PLANS = {
    "first": [[0]],
    "last": [[N - 1]],
    "a-run": [[3, 4, 5]],
    "neighbours-one-by-one": [[4], [5], [3]],
    "earlier-after-later": [[7], [2], [5, 6]],
    "scattered": [[1, 8], [0, 4, 9], [2]],
    "repeats-ignored": [[2, 3], [3, 6], [2]],
}


@pytest.mark.parametrize("plan", list(PLANS.values()), ids=list(PLANS))
def test_ids_name_the_same_nodes_after_removals(plan):
    model = chain()
    index = GraphIndex(model)
    removed: set[int] = set()
    for step in plan:
        index.remove_nodes(step)
        removed |= set(step)
        live = [k for k in range(N) if k not in removed]
        assert len(index) == N
        assert index.live_ids() == live
        assert [list(n.output) for n in model.graph.node] == [[f"t{k}"] for k in live]
        for k in range(N):
            node = index.node_at(k)  # removed ones too, as they were
            assert (node.name, list(node.output)) == (name(k), [f"t{k}"]), f"id {k} after removing {sorted(removed)}"
            assert index.name_of(k) == (name(k) or f"t{k}")
            assert index.find(name(k) or f"t{k}") == (None if k in removed else k)


def test_edits_through_an_id_reach_its_node_after_removals():
    model = chain()
    index = GraphIndex(model)
    index.remove_nodes([2, 3])
    index.remove_nodes([6])
    for k in (0, 1, 4, 5, 7, 8, 9):
        index.set_input(k, 0, f"edited{k}")
    index.set_inputs([4, 9], 0, "in_bulk")
    inputs = {n.output[0]: n.input[0] for n in model.graph.node}
    assert inputs == {"t0": "edited0", "t1": "edited1", "t4": "in_bulk", "t5": "edited5", "t7": "edited7",
                      "t8": "edited8", "t9": "in_bulk"}
    assert [index.node_at(k).input[0] for k in (4, 5, 9)] == ["in_bulk", "edited5", "in_bulk"]
