"""Names qdqtool gives new tensors never take a graph input's name: a graph input may be called anything, also
exactly what unify (``qdqtool/G1/scale``) or the residual-add fix (``<scale>.copy``, ``qdqtool/<add>/skip_quantizer``
.q/.dq) would generate. Taking it would give the graph two definitions of one name."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from qdqtool.analysis.rules import load_rules
from qdqtool.surgery.merge import merge_scales
from qdqtool.surgery.placement import apply_fixes
from tests.fixtures.builder import GraphBuilder

TRT = load_rules("tensorrt")


def with_inputs_named(b: GraphBuilder, names: tuple[str, ...], x: str) -> None:
    """Graph inputs called ``names``, each read by its own Add (``reads <name>``) into a graph output."""
    for name in names:
        b.output(b.node("Add", [x, b.input(name, b.shapes[x])], name=f"reads {name}"))


def assert_inputs_kept(model: onnx.ModelProto, names: tuple[str, ...]) -> None:
    """Valid, every such input still a graph input read by its Add, and nothing else defines or reads it."""
    onnx.checker.check_model(model, full_check=True)
    defined = {t.name for t in model.graph.initializer} | {o for n in model.graph.node for o in n.output}
    assert not defined & set(names)
    assert set(names) <= {v.name for v in model.graph.input}
    for name in names:
        assert [n.name for n in model.graph.node if name in n.input] == [f"reads {name}"]


def fan_out_with_inputs(names: tuple[str, ...]) -> onnx.ModelProto:
    """x read by two Q/DQ pairs of scales 0.05 and 0.07: group G1, which unify gives new initializers."""
    b = GraphBuilder("names", style="int8")
    x = b.input("x", [1, 4, 8, 8])
    b.output(b.qdq(x, 0.05, "a"))
    b.output(b.qdq(x, 0.07, "b"))
    with_inputs_named(b, names, x)
    return b.build()


def test_unify_does_not_name_the_groups_scale_like_a_graph_input():
    names = ("qdqtool/G1/scale", "qdqtool/G1/zero_point")
    model = fan_out_with_inputs(names)
    result = merge_scales(model, TRT)
    assert [(a.group, a.action) for a in result.unified] == [("G1", "unified")]
    assert_inputs_kept(model, names)
    initializers = {t.name for t in model.graph.initializer}
    members = [n for n in model.graph.node if n.name in ("a.Q", "a.DQ", "b.DQ")]
    assert len(members) == 3 and all(set(n.input[1:]) <= initializers for n in members)  # constants, not inputs
    # and the model runs with the input fed: the Add reads the fed array, the Q/DQ their constant scale
    feed = {"x": np.ones((1, 4, 8, 8), np.float32), **{n: np.full((1, 4, 8, 8), 2.0, np.float32) for n in names}}
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed), strict=True))
    assert all(np.all(outputs[f"reads {n}_output_0"] == 3.0) for n in names)


def late_quantized_skip(names: tuple[str, ...]) -> onnx.ModelProto:
    """Add(conv(x), c0.relu) where the skip c0.relu is quantized only after the Add (``late.in``, its scale in
    Constant nodes after the Add): the fix inserts a Q/DQ pair before the Add, reading copies of those constants
    (``late.in.scale.copy``, ``late.in.zero_point.copy``)."""
    b = GraphBuilder("late", style="int8", scale_storage="constant")
    x = b.input("x", [1, 4, 8, 8])
    skip = b.relu(b.conv(b.qdq(x, 0.05, "in"), 4, 3, name="c0"), "c0.relu")
    branch = b.conv(b.qdq(x, 0.05, "b.in"), 4, 3, name="c1")
    b.output(b.add(branch, skip, "add"))
    b.output(b.conv(b.qdq(skip, 0.04, "late.in"), 4, 3, name="c2"))
    with_inputs_named(b, names, x)
    return b.build()


def test_the_residual_add_fix_does_not_name_its_constant_copies_like_a_graph_input():
    names = ("late.in.scale.copy", "late.in.zero_point.copy")
    model = late_quantized_skip(names)
    (action,) = apply_fixes(model, TRT, ["residual-add"])
    assert (action.action, action.params_from) == ("quantize-skip", "late.in.Q")
    assert_inputs_kept(model, names)
    new = [n for n in model.graph.node if n.name in action.nodes]
    assert [n.op_type for n in new] == ["QuantizeLinear", "DequantizeLinear"]
    initializers = {t.name for t in model.graph.initializer}
    assert all(set(n.input[1:]) <= initializers for n in new)  # the copies are constants of their own


@pytest.mark.parametrize("suffix", [".q", ".dq"])
def test_the_residual_add_fix_does_not_name_its_pair_like_a_graph_input(suffix):
    names = (f"qdqtool/add/skip_quantizer{suffix}",)
    model = late_quantized_skip(names)
    apply_fixes(model, TRT, ["residual-add"])
    assert_inputs_kept(model, names)
