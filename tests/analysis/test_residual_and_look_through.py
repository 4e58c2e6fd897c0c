"""Two rules of rules/tensorrt.toml that only matter on small graphs: the residual Add joins its inputs only when
both are dequantized (``require = "all-inputs-quantized"``), and a Dropout between a DQ and a Q is looked through."""

from __future__ import annotations

import numpy as np
import onnx

from qdqtool.analysis.groups import GroupStatus, find_scale_groups
from qdqtool.analysis.rules import load_rules
from tests.fixtures.builder import GraphBuilder
from tests.fixtures.models import pair_nodes

TRT = load_rules("tensorrt")


def groups_of(model: onnx.ModelProto) -> dict[frozenset[str], tuple[str, ...]]:
    """Member nodes of each group -> the rules that formed it."""
    onnx.checker.check_model(model, full_check=True)
    return {frozenset(g.nodes): g.rules for g in find_scale_groups(model, TRT).groups}


def add_of(dequantized_skip: bool) -> onnx.ModelProto:
    """Add(DQ(Q(x)), skip) where the skip is quantized for another reader only, or dequantized itself."""
    b = GraphBuilder("residual", style="int8")
    x = b.input("x", [1, 4, 8, 8])
    skip = b.relu(x, "relu")
    branch = b.qdq(x, 0.05, "branch")
    b.output(b.qdq(skip, 0.07, "reader"))  # the skip tensor is quantized for this other reader
    b.output(b.add(branch, b.qdq(skip, 0.07, "skip") if dequantized_skip else skip, "add"))
    return b.build()


def test_an_add_with_one_dequantized_input_is_a_placement_finding_not_a_group():
    """Joining the float skip with the dequantized input would drag the skip's other quantizer into a group that
    TensorRT never forms (the Add runs in float): the rule requires every input to be dequantized."""
    model = add_of(dequantized_skip=False)
    assert groups_of(model) == {}
    (finding,) = find_scale_groups(model, TRT).findings
    assert (finding.kind, finding.node, finding.tensor) == ("residual-add-partially-quantized", "add", "relu_output_0")
    assert finding.quantized_by == ["reader.Q"]


def test_an_add_with_both_inputs_dequantized_forms_a_residual_add_group():
    model = add_of(dequantized_skip=True)
    groups = groups_of(model)
    # the skip's pair also meets the other reader's Q on the Relu output (fan-out), which joins the same group
    assert groups == {frozenset(pair_nodes("branch", "skip", "reader")): ("fan-out", "residual-add")}
    analysis = find_scale_groups(model, TRT)
    assert not analysis.findings and analysis.groups[0].status is GroupStatus.MISMATCHED


def dropout(b: GraphBuilder, x: str, name: str) -> str:
    """An inference-time Dropout (ratio 0.5, not training): the identity, float in and out."""
    return b.node("Dropout", [x, b.initializer(f"{name}.ratio", np.array(0.5, np.float32))], name=name)


def test_a_dq_then_q_through_dropout_is_one_place():
    """DQ -> Dropout -> Q with unequal scales is a requantize, as DQ -> Q is: Dropout is a look-through op."""
    b = GraphBuilder("dropout", style="int8")
    x = b.qdq(b.input("x", [1, 4, 8, 8]), 0.05, "first")
    b.output(b.qdq(dropout(b, x, "drop"), 0.07, "second"))
    assert groups_of(b.build()) == {frozenset(pair_nodes("first", "second")): ("requantize",)}


def test_a_concat_input_through_dropout_joins_the_concat_group():
    """Concat(Dropout(DQ_a), DQ_b) -> Q_c: the pair before the Dropout meets the Concat like the direct input."""
    b = GraphBuilder("concat_dropout", style="int8")
    a = b.qdq(b.input("a", [1, 4, 8, 8]), 0.05, "a")
    c = b.qdq(b.input("c", [1, 4, 8, 8]), 0.06, "c")
    b.output(b.qdq(b.concat([dropout(b, a, "drop"), c], 1, "cat"), 0.07, "out"))
    assert groups_of(b.build()) == {frozenset(pair_nodes("a", "c", "out")): ("concat",)}
