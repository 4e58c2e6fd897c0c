"""remove_dead: what the edits left unused goes, what anything live still reads stays."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from qdqtool.ir.index import GraphIndex
from qdqtool.surgery.cleanup import remove_dead


def _model(ir_version: int = 8):
    """x -> Add(x, c) -> a -> Mul(a, c) -> y; c an initializer (listed in graph.input too, as IR < 4 did)."""
    c = numpy_helper.from_array(np.ones((1,), np.float32), "c")
    x = h.make_tensor_value_info("x", T.FLOAT, [1])
    graph = h.make_graph(
        [h.make_node("Add", ["x", "c"], ["a"], name="add"), h.make_node("Mul", ["a", "c"], ["y"], name="mul")],
        "g", [x, h.make_tensor_value_info("c", T.FLOAT, [1])], [h.make_tensor_value_info("y", T.FLOAT, [1])],
        initializer=[c])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = ir_version
    return model


def test_a_constant_read_by_a_live_node_stays():
    index = GraphIndex(_model())
    index.set_input(1, 1, "x")  # mul no longer reads c; add still does
    assert remove_dead(index, {"c"}, []) == (set(), [])
    assert "c" in index.initializers


def test_a_constant_read_only_by_a_removed_node_goes_with_its_graph_input_entry():
    model = _model(ir_version=3)
    index = GraphIndex(model)
    index.set_input(1, 1, "x")
    index.set_input(1, 0, "x")
    index.remove_nodes([0])  # add, the last reader of c, removed earlier: its inputs must not keep c alive
    assert remove_dead(index, {"c"}, []) == ({"c"}, [])
    assert "c" not in index.initializers and [i.name for i in model.graph.input] == ["x"]
    assert [t.name for t in model.graph.initializer] == []


def test_a_candidate_whose_output_is_still_read_stays():
    index = GraphIndex(_model())
    assert remove_dead(index, set(), [0]) == (set(), [])  # mul still reads a
    index.set_input(1, 0, "x")
    assert remove_dead(index, set(), [0]) == (set(), [0])
    assert [n.name for n in index.graph.node] == ["mul"]
