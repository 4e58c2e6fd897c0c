"""``merge --fix residual-add``: the two placement fixes, their numeric check, idempotency, and what they buy.

What a fix buys is measured with the predictor (``trt-sim``) against what TensorRT did with the real models: the
ResNet-18 ``qat`` fixture must go from the 10 standalone Q/DQ of the real ``qat`` engine to the 3 of the real
``qat-residual`` engine, MobileNetV2 from 17 to 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from qdqtool.analysis.groups import find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.engine.predictor import predict_engine
from qdqtool.jobs.merge import MergeRequest, checked_merge
from qdqtool.surgery.merge import merge_scales
from qdqtool.surgery.placement import FIXES, apply_fixes
from tests.fixtures import models as M
from tests.fixtures.builder import GraphBuilder

RULES = load_rules("tensorrt")


def fixed(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list]:
    actions = apply_fixes(model, RULES, ["residual-add"])
    onnx.checker.check_model(model)  # also checks that the nodes are still topologically sorted
    return model, actions


def standalone(model: onnx.ModelProto) -> list[str]:
    return [layer.name for layer in predict_engine(model).leftover_qdq]


def test_fix_is_registered_by_name():
    assert "residual-add" in FIXES


@pytest.mark.parametrize("storage", ["initializer", "constant"])
def test_quantize_skip_copies_the_quantizer_already_reading_the_skip(storage):
    model, actions = fixed(M.resnet_block(skip="unquantized", scale_storage=storage))
    assert [(a.action, a.node, a.tensor, a.params_from) for a in actions] == [
        ("quantize-skip", "block1.add", "stem_out", "block1.conv1.in.Q"),
        ("quantize-skip", "block2.add", "block1_out", "block2.conv1.in.Q"),
    ]
    analysis = find_scale_groups(model, RULES)
    assert not analysis.findings
    # the Q already quantizing the skip serves the Add too: the fix adds only the Add's own DQ (no duplicate Q
    # for dedupe to remove, so every node the report names is in the output)
    assert [len(a.nodes) for a in actions] == [1, 1]
    dq = next(n for n in model.graph.node if n.name == actions[0].nodes[0])
    assert dq.op_type == "DequantizeLinear" and dq.input[0] == "block1.conv1.in.q"
    assert merge_scales(model, RULES).deduplicated == []


def test_fixes_are_idempotent():
    for model in (M.resnet_block(skip="unquantized"), M.resnet_block(skip="both"), M.resnet18("qat")):
        model, actions = fixed(model)
        assert actions
        before = model.SerializeToString()
        assert apply_fixes(model, RULES, ["residual-add"]) == []
        assert model.SerializeToString() == before


def test_checked_merge_runs_fixes_first_and_checks_them(tmp_path):
    path = tmp_path / "block.onnx"
    onnx.save(M.resnet_block(skip="unquantized"), path)
    outcome = checked_merge(MergeRequest(model=path, output=tmp_path / "out.onnx", fixes=("residual-add",)))
    assert outcome and outcome.changed and len(outcome.fixes) == 2
    assert outcome.check is not None and outcome.check.worst_cosine >= 0.99
    written = onnx.load(str(outcome.written[0]))
    assert standalone(onnx.load(str(path))) == ["stem.in.Q", "block1.conv1.in.Q", "block2.conv1.in.Q"]
    # the last block's output is the network output (float), so its INT8 skip needs a standalone DQ
    assert standalone(written) == ["stem.in.Q", "qdqtool/block2.add/skip_quantizer.DQ"]
    assert checked_merge(MergeRequest(model=path, dry_run=True, fixes=("residual-add",))).written == []


def test_resnet18_qat_becomes_what_tensorrt_built_for_qat_residual():
    model = M.resnet18("qat")
    assert len(standalone(model)) == 10  # the real qat engine
    model, actions = fixed(model)
    assert len(actions) == 8 and all(a.action == "quantize-skip" for a in actions)
    by_add = {a.node: a for a in actions}
    assert by_add["Add_36"].params_from == "QuantizeLinear_15"  # the MaxPool output, quantized for layer1.0.conv1
    # downsample blocks: nothing quantizes either input; the skip borrows the Q reading the block's result
    assert by_add["Add_97"].tensor == "Conv_95_output_0" and by_add["Add_97"].params_from == "QuantizeLinear_101"
    assert "borrows" in by_add["Add_97"].how
    merge_scales(model, RULES)
    report = predict_engine(model)
    # the real qat-residual engine: QuantizeLinear_2, DequantizeLinear_291 (the last block's skip), QuantizeLinear_298
    assert [x.name for x in report.leftover_qdq] == [
        "QuantizeLinear_2", "qdqtool/Add_244/skip_quantizer.DQ", "QuantizeLinear_250",
    ]
    adds = [x for x in report.layers if any(n.startswith("Add_") for n in x.onnx_nodes)]
    assert [x.precision for x in adds] == ["int8"] * 7 + ["fp32"]
    assert any(x.name == "conv1.weight + QuantizeLinear_7 + Conv_9 + MaxPool_12" for x in report.layers)


def test_mobilenet_v2_qat_becomes_what_tensorrt_built_with_quantized_residuals():
    model = M.mobilenet_v2("qat")
    assert len(standalone(model)) == 17
    model, actions = fixed(model)
    # Add(x, conv(x)): the skip is x even where x itself comes from a convolution (features.2.conv.2 -> Add_144)
    assert {a.node: a.tensor for a in actions}["Add_144"] == "Conv_94_output_0"
    merge_scales(model, RULES)
    assert standalone(model) == ["QuantizeLinear_2", "QuantizeLinear_854"]


def test_unquantize_branch_lets_the_add_fuse_into_the_convolution():
    model = M.resnet_block(skip="both", consistent=True)
    before = predict_engine(model)
    assert not any("block1.add" in x.name.split(" + ") and x.type == "Convolution" for x in before.layers)
    model, actions = fixed(model)
    assert [(a.action, a.node, a.nodes) for a in actions] == [
        ("unquantize-branch", "block1.add", ["block1.conv2.out.Q", "block1.conv2.out.DQ"]),
        ("unquantize-branch", "block2.add", ["block2.conv2.out.Q", "block2.conv2.out.DQ"]),
    ]
    assert not {n.name for n in model.graph.node} & {"block1.conv2.out.Q", "block1.conv2.out.DQ"}
    assert not {t.name for t in model.graph.initializer} & {"block1.conv2.out.scale"}
    after = predict_engine(model)
    name = "block1.conv2.weight + block1.conv2.w.Q + block1.conv2 + block1.add"
    fused = next(x for x in after.layers if x.name == name)
    assert [t.dtype for t in fused.inputs] == ["int8", "int8"] and fused.precision == "int8"
    assert len(after.layers) < len(before.layers)


def test_unquantize_branch_keeps_the_pair_when_the_other_input_is_float():
    b = GraphBuilder("float_skip", style="int8")
    x = b.qdq(b.input("x", [1, 4, 8, 8]), 0.05, "in")
    skip = b.relu(b.conv(x, 4, 3, name="c0"), "c0.relu")  # read by the Add only, never quantized
    y = b.qdq(b.conv(b.qdq(skip, 0.05, "c1.in"), 4, 3, name="c1"), 0.05, "c1.out")
    b.output(b.add(y, b.relu(skip, "other"), "add"))
    model = b.build()
    assert apply_fixes(model, RULES, ["residual-add"]) == []


def test_merge_cli_lists_fixes_in_the_table_and_the_json(qdqtool, tmp_path):  # noqa: F811 - pytest fixture
    path = tmp_path / "block.onnx"
    onnx.save(M.resnet_block(skip="unquantized"), path)
    run = qdqtool("merge", path, "--fix", "residual-add", "-o", tmp_path / "out.onnx")
    assert run.code == 0, run.err
    assert "Placement fixes" in run.out and "quantize-skip" in run.out and "2 placement fix(es)" in run.out
    run = qdqtool("merge", path, "--fix", "residual-add", "--json", "--dry-run")
    doc = json.loads(run.out)
    assert [f["action"] for f in doc["fixes"]] == ["quantize-skip", "quantize-skip"]
    assert doc["fixes"][0]["params_from"] == "block1.conv1.in.Q" and doc["fixes"][0]["scale"] > 0
    assert run.code == 0 and doc["output"] is None


def test_merge_cli_fix_failing_the_check_writes_nothing(qdqtool, tmp_path):  # noqa: F811
    path = tmp_path / "block.onnx"
    onnx.save(M.resnet_block(skip="unquantized"), path)
    out = tmp_path / "out.onnx"
    run = qdqtool("merge", path, "--fix", "residual-add", "--min-cosine", "1.0", "-o", out)
    assert run.code == 1 and not out.exists()
    assert "FAILED" in run.out


def test_merge_cli_rejects_an_unknown_fix(qdqtool, tmp_path):  # noqa: F811
    path = tmp_path / "block.onnx"
    onnx.save(M.resnet_block(), path)
    run = qdqtool("merge", path, "--fix", "everything")
    assert run.code == 2 and "everything" in run.err


def test_without_fix_merge_does_not_touch_placement(tmp_path: Path):
    path = tmp_path / "block.onnx"
    onnx.save(M.resnet_block(skip="unquantized"), path)
    outcome = checked_merge(MergeRequest(model=path, dry_run=True))
    assert outcome.fixes == [] and not outcome.changed


def test_both_fixes_together_on_a_partially_quantized_add():
    """Add(DQ(Q(conv)), x) with x quantized for another reader: the skip gets a pair, then the branch loses its."""
    b = GraphBuilder("partial", style="int8")
    x = b.relu(b.conv(b.qdq(b.input("x", [1, 4, 8, 8]), 0.05, "in"), 4, 3, name="c0"), "c0.relu")
    y = b.qdq(b.conv(b.qdq(x, 0.05, "c1.in"), 4, 3, name="c1"), 0.05, "c1.out")
    b.output(b.conv(b.qdq(b.relu(b.add(y, x, "add"), "add.relu"), 0.05, "head.in"), 4, 1, name="head"))
    model, actions = fixed(b.build())
    assert [(a.action, a.tensor) for a in actions] == [
        ("quantize-skip", "c0.relu_output_0"), ("unquantize-branch", "c1_output_0"),
    ]
    names = [x.name for x in predict_engine(model).layers]
    assert "c1.weight + c1.w.Q + c1 + add + add.relu" in names
    assert standalone(model) == ["in.Q"]


def test_new_skip_pair_gets_its_groups_parameters_after_merge():
    """The skip tensor is quantized by two readers with different scales: the new pair joins their group."""
    b = GraphBuilder("grouped", style="int8")
    x = b.relu(b.conv(b.qdq(b.input("x", [1, 4, 8, 8]), 0.05, "in"), 4, 3, name="c0"), "c0.relu")
    y = b.conv(b.qdq(x, 0.05, "a.in"), 4, 3, name="a")
    b.output(b.conv(b.qdq(x, 0.08, "b.in"), 4, 3, name="b"))
    b.output(b.relu(b.add(y, x, "add"), "add.relu"))
    model, actions = fixed(b.build())
    assert [(a.action, a.params_from, a.scale) for a in actions] == [("quantize-skip", "a.in.Q", pytest.approx(0.05))]
    result = merge_scales(model, RULES)
    group = next(a for a in result.actions if "a.in.Q" in a.members)
    assert group.action == "unified" and group.new_scale == pytest.approx(0.08)
    new_dq = next(n for n in model.graph.node if n.name == actions[0].nodes[-1])
    scale = onnx.numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == new_dq.input[1]))
    assert float(scale) == pytest.approx(0.08)
