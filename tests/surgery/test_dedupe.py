"""Dedupe and graph outputs: a duplicate Q whose output is a graph output has to stay, so dedupe leaves it and its
DQs as they are (re-pointing them would edit the model for nothing); when it comes first, it is the survivor."""

from __future__ import annotations

import onnx

from qdqtool.analysis.rules import load_rules
from qdqtool.surgery.merge import merge_scales
from tests.fixtures.builder import GraphBuilder

TRT = load_rules("tensorrt")


def sibling_qs(output_first: bool, shared: bool) -> onnx.ModelProto:
    """x read by Q/DQ pairs ``a`` and ``out``; ``out.q`` (the integers) is a graph output too. ``shared``: both
    pairs read one scale/zero-point pair (0.05), so they are already duplicates; else scales 0.05 and 0.07."""
    b = GraphBuilder("graph_output_q", style="int8")
    x = b.input("x", [1, 4, 8, 8])
    pairs = [("out", 0.05), ("a", 0.05 if shared else 0.07)]
    for name, scale in pairs if output_first else pairs[::-1]:
        b.output(b.qdq(x, scale, name, share="common" if shared else None))
    b.output("out.q")
    model = b.build()
    onnx.checker.check_model(model, full_check=True)
    return model


def readers(model: onnx.ModelProto, tensor: str) -> list[str]:
    return [n.name for n in model.graph.node if tensor in n.input]


def assert_graph_output_kept(model: onnx.ModelProto) -> None:
    onnx.checker.check_model(model, full_check=True)
    (producer,) = [n for n in model.graph.node if "out.q" in n.output]
    assert producer.name == "out.Q" and producer.input[0] == "x"
    assert "out.q" in {o.name for o in model.graph.output}


def test_a_duplicate_q_that_is_a_graph_output_is_left_as_it_is():
    """Already-shared duplicates, the graph-output Q second: nothing to remove, so nothing changes, byte for byte."""
    model = sibling_qs(output_first=False, shared=True)
    before = model.SerializeToString()
    result = merge_scales(model, TRT)
    assert not result.changed and result.deduplicated == []
    assert model.SerializeToString() == before
    assert readers(model, "out.q") == ["out.DQ"]


def test_after_unification_the_graph_output_q_keeps_its_dq_and_its_output():
    model = sibling_qs(output_first=False, shared=False)
    result = merge_scales(model, TRT)
    assert [a.action for a in result.actions] == ["unified"] and result.deduplicated == []
    assert_graph_output_kept(model)
    assert readers(model, "out.q") == ["out.DQ"] and readers(model, "a.q") == ["a.DQ"]


def test_a_graph_output_q_that_comes_first_survives_and_serves_the_duplicates_dq():
    model = sibling_qs(output_first=True, shared=True)
    result = merge_scales(model, TRT)
    assert result.deduplicated == ["a.Q"]
    assert_graph_output_kept(model)
    assert readers(model, "out.q") == ["out.DQ", "a.DQ"]
