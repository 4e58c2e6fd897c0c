"""rules/onnxruntime-cpu.toml says what ONNX Runtime needs; these tests check each statement against the installed
onnxruntime by building DQ -> op -> Q graphs, optimising them (ORT_ENABLE_ALL) and reading the optimised graph.

"Dropped" means ONNX Runtime removed the DQ before and the Q after the op, so the op reads the integers (its input
comes from a QuantizeLinear); "kept" means it runs in float between a standalone DequantizeLinear and QuantizeLinear.
"""

from __future__ import annotations

import onnx
import pytest

from qdqtool.analysis.groups import GroupStatus, find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.ir.index import GraphIndex
from qdqtool.surgery.merge import merge_scales
from tests.fixtures import ort_graphs as G

RULES = load_rules("onnxruntime-cpu")
MOVE_THROUGH = RULES.rule("move-through")
QDQ = ("QuantizeLinear", "DequantizeLinear")


def _reads_integers(model: onnx.ModelProto, op_type: str, tmp_path) -> bool:
    producers = G.producer_ops(G.ort_optimize(model, tmp_path), op_type)
    assert producers, f"{op_type} vanished from the optimised graph"
    return all(p == "QuantizeLinear" for p in producers)


def test_the_file_names_only_the_rules_onnxruntime_needs():
    assert [r.id for r in RULES.rules] == ["move-through", "fan-out"]
    assert RULES.tensor_rule("dq-then-q") is None
    assert not RULES.symmetric  # uint8 with zero points is ONNX Runtime's own style


@pytest.mark.parametrize("op_type", MOVE_THROUGH.ops)
def test_every_move_through_op_is_dropped_only_with_equal_scales(op_type, tmp_path):
    opset = 13
    assert _reads_integers(G.drop_graph(op_type, 0.1, 0.1, opset=opset), op_type, tmp_path)
    assert not _reads_integers(G.drop_graph(op_type, 0.1, 0.2, opset=opset), op_type, tmp_path)


@pytest.mark.parametrize("op_type", ["MaxPool", "Reshape", "Transpose"])
def test_int8_behaves_like_uint8(op_type, tmp_path):
    assert _reads_integers(G.drop_graph(op_type, 0.1, 0.1, dtype="int8"), op_type, tmp_path)
    assert not _reads_integers(G.drop_graph(op_type, 0.1, 0.2, dtype="int8"), op_type, tmp_path)


def test_equal_scale_is_not_enough_when_zero_points_differ(tmp_path):
    model = G.drop_graph("MaxPool", 0.1, 0.1, zero_point_in=128, zero_point_out=100)
    assert not _reads_integers(model, "MaxPool", tmp_path)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_is_dropped_only_in_nearest_mode(mode, tmp_path):
    model = G.drop_graph("Resize", 0.1, 0.1, attrs={"mode": mode})
    assert not _reads_integers(model, "Resize", tmp_path)
    assert not _applies(G.drop_graph("Resize", 0.1, 0.2, attrs={"mode": mode}), "Resize")
    assert _applies(G.drop_graph("Resize", 0.1, 0.2), "Resize")


@pytest.mark.parametrize("op_type", ["Pad", "SpaceToDepth"])
def test_unlisted_data_movement_ops_keep_their_qdq_even_with_equal_scales(op_type, tmp_path):
    assert op_type not in MOVE_THROUGH.ops
    assert not _reads_integers(G.drop_graph(op_type, 0.1, 0.1), op_type, tmp_path)


def test_conditions_the_file_cannot_express_are_real(tmp_path):
    """Documented in the file's header: opset >= 12 for MaxPool, 8-bit only for MaxPool (int16 Reshape is fine)."""
    assert not _reads_integers(G.drop_graph("MaxPool", 0.1, 0.1, opset=11), "MaxPool", tmp_path)
    assert _reads_integers(G.drop_graph("MaxPool", 0.1, 0.1, opset=12), "MaxPool", tmp_path)
    assert not _reads_integers(G.drop_graph("MaxPool", 0.1, 0.1, dtype="int16", opset=21), "MaxPool", tmp_path)
    assert _reads_integers(G.drop_graph("Reshape", 0.1, 0.1, dtype="int16", opset=21), "Reshape", tmp_path)


@pytest.mark.parametrize("op_type, fused", [
    ("AveragePool", "QLinearAveragePool"), ("GlobalAveragePool", "QLinearGlobalAveragePool"),
    ("Sigmoid", "QLinearSigmoid"), ("LeakyRelu", "QLinearLeakyRelu"), ("Softmax", "QLinearSoftmax"),
])
def test_unary_qlinear_ops_take_unequal_scales(op_type, fused, tmp_path):
    optimized = G.ort_optimize(G.drop_graph(op_type, 0.1, 0.2), tmp_path)
    assert G.count_ops(optimized, fused) == 1 and G.count_ops(optimized, op_type) == 0
    assert G.count_ops(optimized, *QDQ) == 2  # the graph's own input Q and output DQ only
    assert op_type not in MOVE_THROUGH.ops


@pytest.mark.parametrize("op_type", ["Concat", "Add", "Mul", "Where", "MatMul"])
def test_multi_input_qlinear_ops_take_unequal_scales(op_type, tmp_path):
    optimized = G.ort_optimize(G.binary_graph(op_type, 0.1, 0.2, 0.3), tmp_path)
    assert G.count_ops(optimized, f"QLinear{op_type}") == 1 and G.count_ops(optimized, op_type) == 0
    assert G.count_ops(optimized, "DequantizeLinear") == 1  # only the output's
    assert not any(op_type in rule.ops for rule in RULES.rules)


def test_requantize_folds_whatever_the_scales(tmp_path):
    for scales in ((0.05, 0.05), (0.05, 0.07)):
        optimized = G.ort_optimize(G.requantize_chain(*scales), tmp_path)
        assert G.count_ops(optimized, *QDQ) == 2 and G.count_ops(optimized, "QLinearConv") == 2


def test_fan_out_blocks_the_producer_fusion_until_the_siblings_share_initializers(tmp_path):
    for scales in ((0.05, 0.07), (0.05, 0.05)):  # equal values in separate initializers are not enough
        optimized = G.ort_optimize(G.fan_out(*scales), tmp_path)
        assert G.count_ops(optimized, "QLinearConv") == 2, scales
    merged = merge_scales(G.fan_out(0.05, 0.07), RULES).model
    assert G.count_ops(G.ort_optimize(merged, tmp_path), "QLinearConv") == 3


def test_fan_out_caveat_int8_merge_can_cost_a_qlinear_add(tmp_path):
    """The caveat in the file's header: measured, so compare must be used on int8 models."""
    for dtype, fused_after in (("uint8", 1), ("int8", 0)):
        assert G.count_ops(G.ort_optimize(G.fan_out_add(dtype), tmp_path), "QLinearAdd") == 1
        merged = merge_scales(G.fan_out_add(dtype), RULES).model
        assert G.count_ops(G.ort_optimize(merged, tmp_path), "QLinearAdd") == fused_after, dtype


def test_merge_for_onnxruntime_removes_the_standalone_qdq_around_maxpool(tmp_path):
    model = G.pool_chain(0.05, 0.07)
    analysis = find_scale_groups(model, RULES)
    assert [(g.rules, g.status) for g in analysis.groups] == [(("move-through",), GroupStatus.MISMATCHED)]
    before = G.ort_optimize(model, tmp_path)
    after = G.ort_optimize(merge_scales(G.pool_chain(0.05, 0.07), RULES).model, tmp_path)
    assert G.count_ops(before, *QDQ) == 6 and G.count_ops(after, *QDQ) == 2
    assert G.count_ops(before, "MaxPool") == 1 and G.count_ops(after, "NhwcMaxPool") == 1
    assert G.count_ops(after, "Transpose") < G.count_ops(before, "Transpose")


def test_concat_groups_are_a_tensorrt_matter_only():
    model = G.concat_mixed()
    assert find_scale_groups(model, RULES).groups == []
    assert find_scale_groups(model, load_rules("tensorrt")).groups


def _applies(model: onnx.ModelProto, op_type: str) -> bool:
    node = next(n for n in model.graph.node if n.op_type == op_type)
    return MOVE_THROUGH.applies_to(node, GraphIndex(model))
