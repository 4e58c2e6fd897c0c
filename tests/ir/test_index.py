"""GraphIndex and quantizers: what the light index answers about a ModelProto."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h

from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import find_quantizers
from tests.fixtures import models as M


def test_producers_consumers_and_constants():
    model = M.yolov6_qat("int8", scale_storage="constant")
    index = GraphIndex(model)
    conv = index.producer_node("feat_p3")
    assert conv is not None and "feat_p3" in conv.output
    assert {n.name for n in index.consumer_nodes("feat_p3")} >= {"neck.cat_p3"}
    scale = "backbone.stem.in.scale"
    assert index.is_constant(scale) and scale in index.constant_nodes and scale not in index.initializers
    assert float(index.const_array(scale)) == np.float32(0.02)
    assert index.const_dtype(scale) == T.FLOAT
    assert "images" in index.graph_inputs and "outputs" in index.graph_outputs
    assert index.of_type("MaxPool") == sorted(index.of_type("MaxPool"))


def test_positions_as_indexed_survive_removals_and_edits():
    model = M.fan_out("int8", variant="siblings")
    index = GraphIndex(model)
    names = [n.name for n in model.graph.node]
    index.set_input(6, 1, "new_scale")
    index.remove_nodes([3, 7])
    index.remove_nodes([5, 7])  # positions stay those of the indexed graph, repeats are ignored
    assert [index.node_at(i).name for i in (3, 5, 7)] == [names[3], names[5], names[7]]  # removed, still named
    assert index.removed == [3, 5, 7]
    kept = [i for i in range(len(names)) if i not in (3, 5, 7)]
    assert [index.node_at(i).name for i in kept] == [n.name for n in model.graph.node]
    assert index.node_at(6).input[1] == index.inputs[6][1] == "new_scale"
    index.set_input(8, 0, "after_removal")  # edits after a removal reach the node indexed there
    index.set_inputs([9], 0, "in_bulk")
    assert index.node_at(8).name == names[8] and index.node_at(8).input[0] == "after_removal"
    assert index.node_at(9).input[0] == index.inputs[9][0] == "in_bulk"
    weight = [t.name for t in model.graph.initializer if "conv.weight" in t.name][-1]
    dead = [t.name for t in model.graph.initializer[:3]]
    index.initializers.remove(dead)
    assert not any(name in index.initializers for name in dead)
    assert index.initializers[weight].name == weight  # positions are read again after a removal


def test_initializers_are_read_lazily_by_name():
    model = M.yolov6_qat("int8")
    index = GraphIndex(model)
    names = [t.name for t in model.graph.initializer]
    assert list(index.initializers) == names and len(index.initializers) == len(names)
    assert index.initializers[names[3]].name == names[3] and "no such" not in index.initializers


def test_quantizers_couple_a_q_with_its_dqs_and_spot_weights():
    quantizers = find_quantizers(GraphIndex(M.yolov6_qat("int8")))
    stem = next(q for q in quantizers if q.name == "backbone.stem.in.Q")
    assert [dq.name for dq in stem.dqs] == ["backbone.stem.in.DQ"] and stem.outputs == ["backbone.stem.in.dq"]
    assert not stem.is_weight and stem.params.per_tensor and stem.params.dtype == "int8"
    weight = next(q for q in quantizers if q.name == "backbone.stem.conv.w.Q")
    assert weight.is_weight and weight.params.axis == 0 and not weight.params.per_tensor
    uint8 = find_quantizers(GraphIndex(M.yolov6_qat("uint8")))
    weight_dq = next(q for q in uint8 if q.q is None)  # onnxruntime stores int8 weights behind a lone DQ
    assert weight_dq.is_weight and weight_dq.params.dtype == "int8"


def test_names_read_inside_subgraphs():
    then = h.make_graph([h.make_node("Add", ["x", "outer_c"], ["y"])], "then", [],
                        [h.make_tensor_value_info("y", T.FLOAT, [1])])
    other = h.make_graph([h.make_node("Identity", ["x"], ["y2"])], "else", [],
                         [h.make_tensor_value_info("y2", T.FLOAT, [1])])
    graph = h.make_graph(
        [h.make_node("If", ["cond"], ["out"], then_branch=then, else_branch=other)], "g",
        [h.make_tensor_value_info("cond", T.BOOL, []), h.make_tensor_value_info("x", T.FLOAT, [1])],
        [h.make_tensor_value_info("out", T.FLOAT, [1])],
        [onnx.numpy_helper.from_array(np.ones(1, np.float32), "outer_c")],
    )
    assert GraphIndex(h.make_model(graph)).names_used_by_subgraphs() == {"x", "outer_c"}
