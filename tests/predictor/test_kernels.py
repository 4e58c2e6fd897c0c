"""The "predicted kernels" column of ``analyze``: standalone Q/DQ kernels per group, before and after merge."""

from __future__ import annotations

import json

import onnx

from qdqtool.analysis.groups import GroupStatus, find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.engine.predictor import predict_engine
from qdqtool.engine.predictor.kernels import merged_params, predict_kernels
from qdqtool.surgery.merge import merge_scales
from tests.fixtures import models as M

RULES = load_rules("tensorrt")


def kernels(model: onnx.ModelProto):
    analysis = find_scale_groups(model, RULES)
    return analysis, predict_kernels(analysis, RULES)


def test_unifying_a_group_removes_the_kernels_it_cost():
    analysis, counts = kernels(M.yolov6_qat())
    assert counts.after_merge < counts.before
    for group in analysis.groups:
        before, after = counts.groups[group.id]
        if group.status is GroupStatus.MISMATCHED:
            assert after < before, (group.id, group.rules, before, after)
        assert after <= before
    # consistent scales everywhere: what is left is the network input's Q, and what the Resizes cost: a Resize
    # with its Q after it runs in float (TensorRT 10, q_stays_after_ops), so that Q stays, and so does the Q
    # beside the Resize on the tensor it reads in float
    after = predict_engine(analysis.index, RULES, params=merged_params(analysis))
    assert sorted(layer.name for layer in after.leftover_qdq) == [
        "backbone.stem.in.Q", "neck.Rep_n3.in.Q_clone_1", "neck.upsample_feat0_quant.Q", "neck.upsample_feat1_quant.Q"
    ]
    assert counts.after_merge == 4 and counts.after_fix is None


def test_placement_problems_are_counted_after_the_fix_not_after_merge():
    analysis, counts = kernels(M.resnet18("qat"))
    assert (counts.before, counts.after_merge, counts.after_fix) == (10, 10, 3)
    # the three block-input groups are consistent already; each still costs the Q after its float residual Add
    assert set(counts.groups.values()) == {(1, 1)} and len(counts.groups) == 3


def test_no_column_for_a_target_without_predictor():
    model = M.yolov6_qat("uint8")
    rules = load_rules("onnxruntime-cpu")
    assert predict_kernels(find_scale_groups(model, rules), rules) is None


def test_analyze_shows_the_column_and_the_json_carries_it(qdqtool, tmp_path):  # noqa: F811 - pytest fixture
    path = tmp_path / "resnet18.onnx"
    onnx.save(M.resnet18("qat"), path)
    run = qdqtool("analyze", path)
    assert run.code == 0, run.err
    assert "kernels*" in run.out and "predicted for TensorRT" in run.out and "1 -> 1" in run.out
    line = ("predicted standalone Q/DQ kernels in the whole model (trt-sim): 10 now, 10 after merge, "
            "3 after merge --fix residual-add")
    assert line in run.out
    doc = json.loads(qdqtool("analyze", path, "--json").out)
    assert doc["predicted_kernels"] == {"backend": "trt-sim", "before": 10, "after_merge": 10, "after_fix": 3}
    assert all(g["predicted_kernels"] == {"before": 1, "after": 1} for g in doc["groups"])
    plain = qdqtool("analyze", path, "--no-predict")
    assert plain.code == 0 and "predicted" not in plain.out
    assert "predicted_kernels" not in json.loads(qdqtool("analyze", path, "--json", "--no-predict").out)


def test_predicted_merge_equals_predicting_the_merged_model():
    """The column predicts merge without writing it; the merged model itself must predict the same."""
    for model in (M.yolov6_qat(), M.fan_out(variant="move_through"), M.resnet_block(skip="both")):
        analysis, counts = kernels(model)
        merged = onnx.ModelProto()
        merged.CopyFrom(model)
        merge_scales(merged, RULES)
        assert counts.after_merge == len(predict_engine(merged).leftover_qdq)
