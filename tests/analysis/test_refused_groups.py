"""A group with a DQ of integer data from outside the graph is refused (README: "a DQ of integer data from outside
the graph"): the integers are fixed, so that DQ's scale cannot change without changing what the values mean."""

from __future__ import annotations

import json

import onnx
from onnx import TensorProto

from qdqtool.analysis.groups import GroupStatus, find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.surgery.merge import merge_scales
from tests.fixtures.builder import GraphBuilder

TRT = load_rules("tensorrt")
REASON = "dequantize integer data from outside the graph"


def integer_input_concat() -> onnx.ModelProto:
    """Concat(DQ(int8 graph input), DQ(Q(y))) -> Q: three quantizers of one Concat, scales 0.05, 0.06, 0.07
    (all symmetric int8, ratio 1.4: nothing else would refuse the group)."""
    b = GraphBuilder("integer_input", style="int8")
    external = b.dequantize(b.input("codes", [1, 4, 8, 8], TensorProto.INT8), 0.05, "codes")
    inside = b.qdq(b.input("y", [1, 4, 8, 8]), 0.06, "y")
    b.output(b.qdq(b.concat([external, inside], 1, "cat"), 0.07, "out"))
    model = b.build()
    onnx.checker.check_model(model, full_check=True)
    return model


def test_a_dq_of_an_integer_graph_input_refuses_its_group():
    (group,) = find_scale_groups(integer_input_concat(), TRT).groups
    assert set(group.nodes) == {"codes.DQ", "y.Q", "y.DQ", "out.Q", "out.DQ"}
    assert group.status is GroupStatus.REFUSED
    (reason,) = [r for r in group.reasons if REASON in r]
    assert "codes.DQ" in reason and "y.Q" not in reason  # names the DQ of the graph input, not the others


def test_merge_leaves_the_refused_group_and_the_integer_inputs_scale_alone():
    model = integer_input_concat()
    before = onnx.ModelProto()
    before.CopyFrom(model)
    result = merge_scales(model, TRT)
    assert [a.action for a in result.actions] == ["refused"] and not result.changed
    assert model.SerializeToString() == before.SerializeToString()


def test_analyze_json_reports_the_refusal_and_its_reason(qdqtool, tmp_path):
    path = tmp_path / "integer_input.onnx"
    onnx.save(integer_input_concat(), path)
    run = qdqtool("analyze", path, "--json", "--no-predict")
    assert run.code == 0, run.err
    (group,) = json.loads(run.out)["groups"]
    assert group["status"] == "refused"
    assert any(REASON in r and "codes.DQ" in r for r in group["reasons"])
