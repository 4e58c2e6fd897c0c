"""merge_scales on the fixtures: groups end up sharing one initializer, the graph stays valid, twice is once."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from qdqtool.analysis.groups import GroupStatus, find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.io.data import model_inputs
from qdqtool.io.data.random_data import random_feed
from qdqtool.ir.qdq import params_from_arrays
from qdqtool.surgery.merge import merge_scales
from qdqtool.surgery.policy import union_of_ranges
from tests.fixtures import models as M

TRT = load_rules("tensorrt")
ORT = load_rules("onnxruntime-cpu")


def copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def run(model: onnx.ModelProto, seed: int = 0) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, random_feed(model_inputs(model), seed=seed))


CASES = [
    ("yolov6-int8", lambda: M.yolov6_qat("int8"), TRT),
    ("yolov6-int8-constants", lambda: M.yolov6_qat("int8", scale_storage="constant"), TRT),
    ("yolov6-int8-separate", lambda: M.yolov6_qat("int8", separate=True), TRT),
    ("yolov6-uint8-ort", lambda: M.yolov6_qat("uint8"), ORT),
    ("resnet-both", lambda: M.resnet_block("int8", skip="both"), TRT),
    ("fan-out", lambda: M.fan_out("int8", variant="move_through"), TRT),
    ("fan-out-uint8-ort", lambda: M.fan_out("uint8", variant="siblings"), ORT),
]


@pytest.mark.parametrize("name, build, rules", CASES, ids=[c[0] for c in CASES])
def test_merge_leaves_no_inconsistent_group_and_a_valid_graph(name, build, rules):
    original = build()
    model = copy(original)
    result = merge_scales(model, rules)
    assert result.unified, "every case has mismatched groups"
    onnx.checker.check_model(model, full_check=True)
    after = find_scale_groups(model, rules)
    assert {g.status for g in after.groups} <= {GroupStatus.CONSISTENT, GroupStatus.REFUSED}
    for group in after.groups:
        if group.status is GroupStatus.CONSISTENT:
            assert group.is_shared, f"{group.id}: members must read one shared scale/zero-point initializer"
    # runs in ONNX Runtime and stays close to the original
    ours, theirs = run(model), run(original)
    for a, b in zip(ours, theirs, strict=True):
        cos = float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b)))
        assert cos > 0.98
    # idempotent: merging again changes nothing, byte for byte
    again = copy(model)
    second = merge_scales(again, rules)
    assert not second.changed
    assert again.SerializeToString() == model.SerializeToString()


def test_max_policy_takes_the_largest_scale_exactly():
    model = M.yolov6_qat("int8")
    before = {frozenset(g.nodes): g.scale_max for g in find_scale_groups(model, TRT).groups}
    result = merge_scales(model, TRT)
    for action in result.unified:
        assert action.new_scale == before[frozenset(action.members)]
        assert action.new_zero_point == 0


def test_output_policy_aligns_to_the_q_reading_the_group_output():
    model = M.yolov6_qat("int8")
    result = merge_scales(model, TRT, policy="output")
    sppf = next(a for a in result.actions if "backbone.sppf.cv2.in.Q" in a.members)
    assert sppf.new_scale == pytest.approx(0.08)
    p4 = next(a for a in result.actions if "neck.Rep_p4.in.Q" in a.members)
    assert p4.new_scale == pytest.approx(0.06) and p4.how == "the output Q"


def test_refused_groups_are_left_unchanged():
    model = M.extreme_ratio()
    before = model.SerializeToString()
    result = merge_scales(model, TRT)
    assert [a.action for a in result.actions] == ["refused"]
    assert model.SerializeToString() == before


def test_a_scale_tensor_shared_with_a_non_member_is_not_changed_in_place():
    from tests.fixtures.builder import GraphBuilder

    b = GraphBuilder("shared", style="int8")
    x = b.input("x", [1, 4, 8, 8])
    a = b.qdq(x, 0.02, "a", share="common")  # member of the Concat group
    other = b.qdq(b.relu(x, "relu"), 0.02, "other", share="common")  # same constant, not in the group
    c = b.qdq(b.input("y", [1, 4, 8, 8]), 0.05, "c")
    cat = b.concat([a, c], 1, "cat", "cat_out")
    b.output(b.qdq(cat, 0.05, "out"))
    b.output(other)
    model = b.build()
    merge_scales(model, TRT)
    onnx.checker.check_model(model, full_check=True)
    nodes = {n.name: n for n in model.graph.node}
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert nodes["other.Q"].input[1] == "common.scale" and float(inits["common.scale"]) == pytest.approx(0.02)
    assert nodes["a.Q"].input[1] != "common.scale"
    assert float(inits[nodes["a.Q"].input[1]]) == pytest.approx(0.05)


def test_dedupe_merges_duplicate_sibling_qs_and_keeps_dedicated_dqs():
    model = M.fan_out("int8", variant="siblings")
    result = merge_scales(model, TRT)
    assert len(result.deduplicated) == 2
    qs = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "stem_out"]
    assert len(qs) == 1
    dqs = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == qs[0].output[0]]
    assert len(dqs) == 3
    undeduped = M.fan_out("int8", variant="siblings")
    assert not merge_scales(undeduped, TRT, dedupe=False).deduplicated
    assert sum(n.input[0] == "stem_out" for n in undeduped.graph.node if n.op_type == "QuantizeLinear") == 3


def test_unnamed_members_keep_their_names_and_inputs_after_nodes_are_removed():
    model = M.fan_out("int8", variant="siblings")
    for node in model.graph.node:
        node.name = ""  # names then come from each node's output, which the removal of nodes must not shift
    before = {g.id: (g.nodes, [(n.scale_name, n.zero_point_name) for q in g.quantizers for n in q.nodes])
              for g in find_scale_groups(copy(model), TRT).groups}
    result = merge_scales(model, TRT)
    assert result.deduplicated
    outputs = {n.output[0] for n in model.graph.node} | set(result.deduplicated)
    for group in result.analysis.groups:
        assert group.nodes == before[group.id][0]
        assert set(group.nodes) <= outputs
        after = [(n.scale_name, n.zero_point_name) for q in group.quantizers for n in q.nodes]
        kept = [pair for pair, q in zip(after, [n for q in group.quantizers for n in q.nodes], strict=True)
                if q.name not in result.deduplicated]
        assert len(set(kept)) == 1 and kept[0] != before[group.id][1][0]  # one shared pair, the group's own


def test_union_of_ranges_for_uint8():
    a = params_from_arrays(np.array(0.1, np.float32), np.array(128, np.uint8), "uint8")  # [-12.8, 12.7]
    b = params_from_arrays(np.array(0.05, np.float32), np.array(0, np.uint8), "uint8")  # [0, 12.75]
    merged = union_of_ranges([a, b])
    lo, hi = merged.represented_range()
    assert lo <= -12.8 + 1e-6 and hi >= 12.75 - 1e-6
    assert merged.dtype == "uint8" and 0 <= int(merged.zero_point) <= 255
    # a member whose range covers the others is returned bit for bit
    wide = params_from_arrays(np.array(0.2, np.float32), np.array(128, np.uint8), "uint8")
    assert union_of_ranges([a, wide, b]) is wide


def test_merge_leaves_the_callers_garbage_collector_as_it_was():
    import gc

    model = M.yolov6_qat("int8")
    gc.collect()
    gc.freeze()  # e.g. a server that froze its objects before forking workers
    try:
        frozen = gc.get_freeze_count()
        merge_scales(model, TRT)
        # still frozen (a few frozen objects may have been freed meanwhile), and collecting again
        assert frozen - 100 <= gc.get_freeze_count() <= frozen and gc.isenabled()
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        merge_scales(M.yolov6_qat("int8"), TRT)
        assert not gc.isenabled()
    finally:
        gc.enable()
