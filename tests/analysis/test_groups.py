"""The exact scale groups found on the fixture graphs, per target, and what each group reports."""

from __future__ import annotations

import onnx
import pytest

from qdqtool.analysis.groups import GroupStatus, find_scale_groups
from qdqtool.analysis.rules import load_rules
from tests.fixtures import models as M

TRT = load_rules("tensorrt")
ORT = load_rules("onnxruntime-cpu")


def group_sets(analysis) -> set[frozenset[str]]:
    return {frozenset(g.nodes) for g in analysis.groups}


def expected(groups: dict[str, tuple[str, ...]]) -> set[frozenset[str]]:
    return {frozenset(nodes) for nodes in groups.values()}


@pytest.mark.parametrize("style", ["int8", "uint8"])
@pytest.mark.parametrize(
    "variant",
    [{}, {"scale_storage": "constant"}, {"separate": True}, {"opset": 17}, {"opset": 21}],
    ids=["initializers", "constant-nodes", "separate-constants", "opset17", "opset21"],
)
def test_yolov6_groups_are_exactly_the_documented_ones(style, variant):
    analysis = find_scale_groups(M.yolov6_qat(style, **variant), TRT)
    assert group_sets(analysis) == expected(M.YOLOV6_GROUPS)
    assert not analysis.findings
    assert not analysis.notes


def test_yolov6_group_rules_and_details():
    analysis = find_scale_groups(M.yolov6_qat("int8"), TRT)
    by_members = {frozenset(g.nodes): g for g in analysis.groups}
    sppf = by_members[frozenset(M.YOLOV6_GROUPS["sppf"])]
    assert set(sppf.rules) == {"concat", "move-through"}
    assert sppf.status is GroupStatus.MISMATCHED
    assert sppf.scale_min == pytest.approx(0.05) and sppf.scale_max == pytest.approx(0.08)
    assert sppf.ratio == pytest.approx(1.6)
    assert sppf.dtypes == ["int8"] and sppf.zero_points == [0]
    assert "sppf_cat" in sppf.tensors and "backbone.sppf.cat" in sppf.ops
    # the Q reading the Concat output is the group's output member (used by --policy output)
    outputs = {q.name for q in sppf.quantizers if q.id in sppf.output_ids}
    assert outputs == {"backbone.sppf.cv2.in.Q"}
    head = by_members[frozenset(M.YOLOV6_GROUPS["head0_fanout"])]
    assert head.rules == ("fan-out",)
    # group ids follow node order and are stable
    assert [g.id for g in analysis.groups] == [f"G{i}" for i in range(1, len(analysis.groups) + 1)]


def test_consistent_groups_are_reported_as_consistent():
    analysis = find_scale_groups(M.yolov6_qat("int8", consistent=True), TRT)
    assert group_sets(analysis) == expected(M.YOLOV6_GROUPS)
    assert {g.status for g in analysis.groups} == {GroupStatus.CONSISTENT}
    assert not analysis.blocking


def test_uint8_zero_points_that_differ_are_refused_for_a_symmetric_target():
    analysis = find_scale_groups(M.yolov6_qat("uint8"), TRT)
    assert {g.status for g in analysis.groups} == {GroupStatus.REFUSED}
    assert all(any("zero points differ" in r for r in g.reasons) for g in analysis.groups)


def test_uint8_groups_for_onnxruntime_follow_its_own_rules():
    analysis = find_scale_groups(M.yolov6_qat("uint8"), ORT)
    sets = group_sets(analysis)
    # ONNX Runtime needs no Concat group (QLinearConcat takes mixed scales) but does need fan-out siblings equal
    assert frozenset(M.YOLOV6_GROUPS["head0_fanout"]) in sets
    assert frozenset(M.YOLOV6_GROUPS["p4_concat"]) not in sets
    assert all("concat" not in g.rules for g in analysis.groups)
    # and the uint8 zero points are fine there: the fan-out groups are fixable
    fanout = next(g for g in analysis.groups if frozenset(g.nodes) == frozenset(M.YOLOV6_GROUPS["head0_fanout"]))
    assert fanout.status is GroupStatus.MISMATCHED


@pytest.mark.parametrize("style", ["int8", "uint8"])
@pytest.mark.parametrize("skip", M.RESNET_BLOCK_SKIPS)
def test_resnet_block_groups_and_placement(style, skip):
    analysis = find_scale_groups(M.resnet_block(style, skip=skip), TRT)
    assert group_sets(analysis) == {
        frozenset(M.pair_nodes(*p)) for p in M.resnet_block_group_prefixes(skip).values()
    }
    problems = {f.node for f in analysis.findings}
    assert problems == set(M.resnet_block_placement_problems(skip))
    for finding in analysis.findings:
        assert finding.kind == "residual-add-unquantized-skip"
        # the skip tensor is already quantized for the next block's conv: the fix can reuse those parameters
        assert finding.quantized_by == [finding.node.replace(".add", ".conv1.in.Q")]
    if skip == "both":
        rules = {r for g in analysis.groups for r in g.rules}
        assert "residual-add" in rules


@pytest.mark.parametrize("variant", ["siblings", "move_through"])
def test_fan_out_and_move_through_groups(variant):
    analysis = find_scale_groups(M.fan_out("int8", variant=variant), TRT)
    assert group_sets(analysis) == {
        frozenset(M.pair_nodes(*p)) for p in M.fan_out_group_prefixes(variant).values()
    }


def test_float_only_cast_between_dq_and_q_is_looked_through():
    analysis = find_scale_groups(M.fan_out("int8", variant="move_through"), TRT)
    (cast_group,) = [g for g in analysis.groups if "mt.cast.in.Q" in g.nodes]
    assert set(cast_group.nodes) == set(M.pair_nodes("mt.cast.in", "mt.cast.out"))
    assert cast_group.rules == ("requantize",)  # the DQ meets the Q once the Casts are looked through


def test_per_channel_activation_member_is_refused():
    analysis = find_scale_groups(M.per_channel_activation(), TRT)
    assert len(analysis.groups) == 1
    group = analysis.groups[0]
    assert group.status is GroupStatus.REFUSED
    assert any("per-channel" in r for r in group.reasons)


def test_mixed_dtypes_are_refused():
    analysis = find_scale_groups(M.mixed_dtypes(), TRT)
    assert [g.status for g in analysis.groups] == [GroupStatus.REFUSED]
    assert any("different types" in r for r in analysis.groups[0].reasons)


def test_extreme_scale_ratio_is_refused_unless_the_limit_is_raised():
    model = M.extreme_ratio()
    analysis = find_scale_groups(model, TRT)
    (group,) = analysis.groups
    assert group.ratio > 10_000
    assert group.status is GroupStatus.REFUSED
    assert "scale ratio" in group.reasons[0] and "extreme.cls" in group.reasons[0]
    forced = find_scale_groups(model, TRT, max_scale_ratio=1e6)
    assert forced.groups[0].status is GroupStatus.MISMATCHED


def test_fp8_and_int4_are_recognised_and_left_alone_with_a_note():
    analysis = find_scale_groups(M.fp8_and_int4(), TRT)
    notes = " ".join(analysis.notes)
    assert "fp8e4m3fn" in notes and "int4" in notes
    for group in analysis.groups:
        assert all(n.params.dtype in ("int8", "uint8") for q in group.quantizers for n in q.nodes)


def test_model_without_qdq_has_nothing_to_do():
    analysis = find_scale_groups(M.no_qdq(), TRT)
    assert not analysis.has_qdq and not analysis.groups and not analysis.findings


def test_weights_are_never_grouped():
    model = M.yolov6_qat("int8")
    analysis = find_scale_groups(model, TRT)
    weights = [q for q in analysis.quantizers if q.is_weight]
    assert weights and all(not q.params.per_tensor for q in weights)
    grouped = {q.id for g in analysis.groups for q in g.quantizers}
    assert grouped.isdisjoint(q.id for q in weights)


def test_every_quantizer_is_listed_once_in_node_order_weights_included_also_after_a_merge():
    from qdqtool.ir.index import GraphIndex
    from qdqtool.ir.qdq import find_quantizers
    from qdqtool.surgery.merge import merge_scales

    for model in (M.yolov6_qat("int8"), M.ort_quantized_small_cnn(), M.fp8_and_int4()):
        expected = [(q.name, q.is_weight, [n.name for n in q.nodes]) for q in find_quantizers(GraphIndex(model))]
        analysis = find_scale_groups(model, TRT)
        assert analysis.weight_quantizers == sum(w for _, w, _ in expected)
        listed = [(q.name, q.is_weight, [n.name for n in q.nodes]) for q in analysis.quantizers]
        assert listed == expected
        assert len({q.id for q in analysis.quantizers}) == len(expected)
        assert analysis.activation_quantizers == [q for q in analysis.quantizers if not q.is_weight]
    model = M.fan_out("int8", variant="siblings")  # dedupe removes nodes: weights asked for afterwards still match
    expected = [(q.name, [n.name for n in q.nodes]) for q in find_quantizers(GraphIndex(model)) if q.is_weight]
    result = merge_scales(model, TRT)
    assert result.deduplicated
    assert [(q.name, [n.name for n in q.nodes]) for q in result.analysis.quantizers if q.is_weight] == expected


def test_real_quantizer_output(tmp_path):
    """onnxruntime.quantization.quantize_static (QDQ format): analyze and merge a real quantizer's output."""
    from qdqtool.io.data import open_inputs
    from qdqtool.surgery.merge import merge_scales
    from qdqtool.verify.numerics import compare_models
    from qdqtool.verify.reference import FloatReference

    model = M.ort_quantized_small_cnn(tmp_path)
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    analysis = find_scale_groups(model, ORT)
    for group in analysis.groups:
        # ORT's quantizer gives a move-through op's output the input's own scale initializer
        if group.rules == ("move-through",):
            assert group.status is GroupStatus.CONSISTENT
    trt = find_scale_groups(model, TRT)
    assert group_sets(trt) == expected(M.ORT_SMALL_CNN_GROUPS)
    (group,) = trt.groups
    assert group.status is GroupStatus.MISMATCHED and group.dtypes == ["uint8"]
    merged = onnx.ModelProto()
    merged.CopyFrom(model)
    result = merge_scales(merged, TRT)
    assert [a.action for a in result.actions] == ["unified"]
    onnx.checker.check_model(merged, full_check=True)
    assert {g.status for g in find_scale_groups(merged, TRT).groups} == {GroupStatus.CONSISTENT}
    check = compare_models(model, merged, open_inputs(None, model), FloatReference.for_model(model), structure=model)
    assert check, check.worst


def _dq_relu_q():
    from tests.fixtures.builder import GraphBuilder

    b = GraphBuilder("relu_between", style="int8")
    x = b.qdq(b.input("x", [1, 4, 4, 4]), 0.02, "a")
    y = b.qdq(b.relu(x, "relu"), 0.03, "b")
    b.output(y)
    return b.build()


def test_a_user_rule_file_adds_an_op_without_python(tmp_path):
    """Relu is not a move-through op in the shipped TensorRT rules; a user's rules file can make it one."""
    model = _dq_relu_q()
    assert not find_scale_groups(model, TRT).groups
    custom = tmp_path / "custom.toml"
    custom.write_text(TRT.path.read_text().replace('ops = ["MaxPool",', 'ops = ["Relu", "MaxPool",'))
    rules = load_rules(str(custom))
    (group,) = find_scale_groups(model, rules).groups
    assert set(group.nodes) == set(M.pair_nodes("a", "b")) and group.rules == ("move-through",)


def test_a_user_rule_file_adds_a_whole_rule(tmp_path):
    custom = tmp_path / "relu-rule.toml"
    custom.write_text(TRT.path.read_text() + """
[[rule]]
id = "relu-passthrough"
ops = ["Relu"]
inputs = [0]
outputs = "all"
why = "a user's backend runs Relu on integers"
""")
    (group,) = find_scale_groups(_dq_relu_q(), load_rules(str(custom))).groups
    assert group.rules == ("relu-passthrough",) and group.why == "a user's backend runs Relu on integers"


def test_mobilenet_skip_is_the_tensor_read_elsewhere_not_the_conv_branch():
    """MobileNetV2's Add(x, conv(x)) where x is itself a convolution's output: the skip is x, read by the next
    block's Q too, never the branch that only the Add reads."""
    model = M.mobilenet_v2("qat")
    analysis = find_scale_groups(model, TRT)
    assert {f.node for f in analysis.findings} == set(M.MOBILENET_V2_FLOAT_SKIP_ADDS["qat"])
    readers = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node.name)
    for finding in analysis.findings:
        assert len(readers[finding.tensor]) > 1, finding
        assert finding.quantized_by, finding


@pytest.mark.parametrize("placement", ["qat", "qat-residual", "qat-residual-qgap"])
def test_resnet18_groups(placement):
    analysis = find_scale_groups(M.resnet18(placement), TRT)
    assert group_sets(analysis) == expected(M.RESNET18_GROUPS[placement])
    assert {g.status for g in analysis.groups} <= {GroupStatus.CONSISTENT}
    assert {f.node for f in analysis.findings} == set(M.RESNET18_FLOAT_SKIP_ADDS.get(placement, ()))


@pytest.mark.parametrize("placement", ["qat", "qat-residual"])
def test_mobilenet_v2_groups(placement):
    analysis = find_scale_groups(M.mobilenet_v2(placement), TRT)
    assert group_sets(analysis) == expected(M.MOBILENET_V2_GROUPS[placement])
