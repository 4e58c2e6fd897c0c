"""GraphEditor invariants, each checked on fixture graphs: no edit means no rewrite, insert/replace_input/remove
touch only what they name, commit writes the initializers back in order, and a value-neutral edit stays a valid
model that ONNX Runtime runs to the same outputs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from qdqtool.errors import InternalError
from qdqtool.ir.editor import GraphEditor
from tests.fixtures import models as M
from tests.fixtures.builder import GraphBuilder


def names(model: onnx.ModelProto) -> list[str]:
    return [n.name for n in model.graph.node]


def by_name(model: onnx.ModelProto) -> dict[str, bytes]:
    return {n.name: n.SerializeToString() for n in model.graph.node}


def run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


FIXTURES = {
    "fan_out": lambda: M.fan_out("int8", variant="siblings"),
    "yolov6-constant-scales": lambda: M.yolov6_qat("int8", scale_storage="constant"),
    "yolov6-uint8": lambda: M.yolov6_qat("uint8"),
}


@pytest.mark.parametrize("make", list(FIXTURES.values()), ids=list(FIXTURES))
def test_commit_without_edits_leaves_the_model_as_it_was(make):
    """commit() returns False and leaves the model byte-identical when nothing was edited."""
    model = make()
    before = model.SerializeToString()
    editor = GraphEditor(model)
    editor.node(model.graph.node[-1].name)
    editor.tensor(model.graph.input[0].name)  # reading is no edit
    assert editor.commit() is False
    assert model.SerializeToString() == before


@pytest.mark.parametrize("make", list(FIXTURES.values()), ids=list(FIXTURES))
def test_round_trip_of_a_dummy_change_leaves_the_model_identical(make):
    """A round trip with a change that undoes itself (insert a node, then remove it) commits the model unchanged,
    byte for byte."""
    model = make()
    before = model.SerializeToString()
    editor = GraphEditor(model)
    editor.insert("Identity", [model.graph.input[0].name], ["dummy.out"], name="dummy", before=model.graph.node[0].name)
    editor.remove(["dummy"])
    assert editor.commit() is True  # a round trip did happen
    assert model.SerializeToString() == before


def test_replace_input_to_the_same_tensor_is_no_change():
    """replace_input to the tensor already read gives 0 changes, and commit() then returns False."""
    model = M.fan_out("int8", variant="siblings")
    editor = GraphEditor(model)
    assert editor.replace_input("branch0.conv", "branch0.in.dq", "branch0.in.dq") == 0
    assert editor.commit() is False


def test_insert_goes_just_before_its_node_and_keeps_the_order():
    """insert() places the node just before `before`; the other nodes keep their order (and their content)."""
    model = M.yolov6_qat("int8")
    order, content = names(model), by_name(model)
    editor = GraphEditor(model)
    editor.insert("Identity", ["images"], ["images.copy"], name="inserted", before="neck.cat_p4")
    editor.insert("Identity", ["images.copy"], ["images.copy2"], name="inserted2", before="neck.cat_p4")
    editor.insert("Identity", ["images"], ["images.first"], name="at_front", before=order[0])
    assert editor.commit()
    at = order.index("neck.cat_p4")
    assert names(model) == ["at_front", *order[:at], "inserted", "inserted2", *order[at:]]
    after = by_name(model)
    assert {n: after[n] for n in order} == content


def test_replace_input_touches_only_the_named_reader():
    """replace_input changes only the named reader's inputs, and only where it read `old`."""
    model = M.fan_out("int8", variant="siblings")
    content = by_name(model)
    editor = GraphEditor(model)  # stem_out is read by the Qs of branch0, branch1 and branch2
    assert editor.replace_input("branch1.in.Q", "stem_out", "x") == 1
    assert editor.commit()
    after = by_name(model)
    changed = {n for n in content if after[n] != content[n]}
    assert changed == {"branch1.in.Q"}
    edited = next(n for n in model.graph.node if n.name == "branch1.in.Q")
    assert list(edited.input) == ["x", "branch1.in.scale", "branch1.in.zero_point"]


def test_remove_refuses_a_node_still_read_or_making_a_graph_output():
    """remove() raises InternalError for a node someone still reads or whose output is a graph output, and the
    model stays as it was."""
    model = M.fan_out("int8", variant="siblings")
    before = model.SerializeToString()
    editor = GraphEditor(model)
    with pytest.raises(InternalError, match="branch0.in.DQ"):
        editor.remove(["branch0.in.Q"])  # its DQ reads it
    with pytest.raises(InternalError, match="the graph"):
        editor.remove(["branch2.conv"])  # makes the graph output out2
    assert editor.commit() is False and model.SerializeToString() == before


def constant_scales() -> onnx.ModelProto:
    """x read by pairs ``a`` and ``b`` sharing one pair of Constant-node scales (``s``) and by pair ``c`` with its own;
    Add(a, b) and Relu(c) are the outputs."""
    b = GraphBuilder("constant_scales", style="int8", scale_storage="constant")
    x = b.input("x", [1, 4, 4, 4])
    ya, yb = b.qdq(x, 0.05, "a", share="s"), b.qdq(x, 0.05, "b", share="s")
    yc = b.qdq(x, 0.07, "c")
    b.output(b.add(ya, yb, "add", out="sum"))
    b.output(b.relu(yc, "relu", out="relu_out"))
    return b.build()


def test_remove_takes_the_constant_nodes_only_the_removed_nodes_read():
    """remove() also removes the Constant nodes that only the removed nodes read, and keeps those others still
    read."""
    model = constant_scales()
    order = names(model)
    assert {"s.scale.Constant", "c.scale.Constant", "c.zero_point.Constant"} <= set(order)
    editor = GraphEditor(model)
    editor.replace_input("relu", "c.dq", "x")
    editor.remove(["c.DQ", "c.Q"])  # c's scale and zero point are read by c alone
    editor.replace_input("add", "b.dq", "a.dq")
    editor.remove(["b.DQ", "b.Q"])  # b's are shared with a
    assert editor.commit()
    gone = {"c.DQ", "c.Q", "c.scale.Constant", "c.zero_point.Constant", "b.DQ", "b.Q"}
    assert names(model) == [n for n in order if n not in gone]
    onnx.checker.check_model(model, full_check=True)


def test_commit_writes_initializers_back_and_keeps_the_values():
    """commit keeps the initializer order, drops those the edit detached, keeps those nothing read before, appends
    new_constant()s; the model passes the full checker and ONNX Runtime gives the same outputs after a value-neutral
    insert + remove (branch0's Q/DQ pair replaced by an equal one)."""
    model = M.fan_out("int8", variant="siblings")
    model.graph.initializer.append(numpy_helper.from_array(np.arange(3, dtype=np.float32), "never.read"))
    x = np.random.default_rng(0).standard_normal((1, 8, 16, 16)).astype(np.float32)
    expected = run(model, {"x": x})
    initializers = [t.name for t in model.graph.initializer]
    scale = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "branch0.in.scale"))
    zero_point = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "branch0.in.zero_point"))
    editor = GraphEditor(model)
    editor.new_constant("b0.scale", scale)
    editor.new_constant("b0.zero_point", zero_point)
    editor.insert("QuantizeLinear", ["stem_out", "b0.scale", "b0.zero_point"], ["b0.q"], name="b0.Q",
                  before="branch0.conv")
    editor.insert("DequantizeLinear", ["b0.q", "b0.scale", "b0.zero_point"], ["b0.dq"], name="b0.DQ",
                  before="branch0.conv")
    assert editor.replace_input("branch0.conv", "branch0.in.dq", "b0.dq") == 1
    editor.remove(["branch0.in.DQ", "branch0.in.Q"])
    assert editor.commit()
    detached = {"branch0.in.scale", "branch0.in.zero_point"}
    assert [t.name for t in model.graph.initializer] == [
        *[n for n in initializers if n not in detached], "b0.scale", "b0.zero_point"]
    onnx.checker.check_model(model, full_check=True)
    got = run(model, {"x": x})
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


def with_subgraphs() -> onnx.ModelProto:
    """Pair ``a`` on x, read by an If (then: Add of the outer initializer ``outer_c``; else: Identity) and by a Loop
    (body: Add of ``outer_c`` to the carried value), and by a Relu."""
    b = GraphBuilder("subgraphs", style="int8")
    x = b.input("x", [1, 4])
    cond = b.input("cond", [], dtype=TensorProto.BOOL)
    y = b.qdq(x, 0.05, "a")
    outer = b.initializer("outer_c", np.ones((1, 4), np.float32))
    trips = b.initializer("trips", np.array(2, np.int64))
    value = helper.make_tensor_value_info
    then = helper.make_graph([helper.make_node("Add", [y, outer], ["t"], name="then.add")], "then", [],
                             [value("t", TensorProto.FLOAT, [1, 4])])
    other = helper.make_graph([helper.make_node("Identity", [y], ["e"], name="else.identity")], "else", [],
                              [value("e", TensorProto.FLOAT, [1, 4])])
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"], name="body.cond"),
         helper.make_node("Add", ["v_in", outer], ["v_out"], name="body.add")], "body",
        [value("i", TensorProto.INT64, []), value("c_in", TensorProto.BOOL, []),
         value("v_in", TensorProto.FLOAT, [1, 4])],
        [value("c_out", TensorProto.BOOL, []), value("v_out", TensorProto.FLOAT, [1, 4])])
    b.node("If", [cond], ["if_out"], name="if", shapes=[[1, 4]], dtype=TensorProto.FLOAT, then_branch=then,
           else_branch=other)
    b.node("Loop", [trips, "", y], ["loop_out"], name="loop", body=body, shapes=[[1, 4]], dtype=TensorProto.FLOAT)
    b.output("if_out")
    b.output("loop_out")
    b.output(b.relu(y, "relu", out="relu_out"))
    return b.build()


def bodies(model: onnx.ModelProto) -> dict[tuple[str, str], bytes]:
    return {(n.name, a.name): a.g.SerializeToString() for n in model.graph.node for a in n.attribute
            if a.type == onnx.AttributeProto.GRAPH}


def test_subgraphs_survive_an_edit_of_the_main_graph():
    """If and Loop bodies are unchanged, byte for byte, after an edit of the main graph is committed."""
    model = with_subgraphs()
    onnx.checker.check_model(model, full_check=True)
    before = bodies(model)
    editor = GraphEditor(model)
    editor.insert("Identity", ["x"], ["x.copy"], name="copy", before="a.Q")
    editor.replace_input("a.Q", "x", "x.copy")
    assert editor.commit()
    assert bodies(model) == before


def test_commit_keeps_what_untouched_nodes_carry():
    """Nodes an edit does not touch keep their doc_string and metadata_props (qdqtool's notes, users' waivers)."""
    model = M.fan_out("int8", variant="siblings")
    conv = next(n for n in model.graph.node if n.name == "branch2.conv")
    conv.doc_string = "qdqtool: waive fan-out (checked by hand)"
    entry = conv.metadata_props.add()
    entry.key, entry.value = "qdqtool.waive", "fan-out"
    content = by_name(model)
    editor = GraphEditor(model)
    editor.replace_input("branch1.in.Q", "stem_out", "x")
    assert editor.commit()
    assert by_name(model)["branch2.conv"] == content["branch2.conv"]
