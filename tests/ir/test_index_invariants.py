"""GraphIndex invariants, each checked on fixture graphs: ids never shift, removed nodes stay out of the
answers, input edits keep the index and the NodeProtos identical, the producer/consumer maps agree with a scan of
the model, and an index edited through remove_nodes analyses like a fresh one (the review's bug)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from qdqtool.analysis.groups import Analysis, find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import is_dq, is_q
from qdqtool.surgery.merge import merge_scales
from tests.fixtures import models as M
from tests.fixtures.builder import GraphBuilder

TRT = load_rules("tensorrt")


def yolov6(**kwargs) -> onnx.ModelProto:
    """The small YOLOv6 fixture with every fifth node unnamed (so name_of falls back to the first output)."""
    model = M.yolov6_qat("int8", **kwargs)
    for node in model.graph.node[::5]:
        node.name = ""
    return model


def remove_pair(index: GraphIndex, prefix: str) -> list[int]:
    """Take the activation pair ``prefix`` out by hand: its DQ's readers read the Q's input, then both go."""
    q, dq = index.find(f"{prefix}.Q"), index.find(f"{prefix}.DQ")
    assert q is not None and dq is not None, prefix
    source, made = index.inputs[q][0], index.outputs[dq][0]
    for reader in [i for i in index.live_ids() if made in index.inputs[i]]:
        for slot, name in enumerate(index.inputs[reader]):
            if name == made:
                index.set_input(reader, slot, source)
    index.remove_nodes([q, dq])
    return [q, dq]


def scan(model: onnx.ModelProto, ids: list[int]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Producer and consumer maps by brute force over ``model.graph.node`` (node k has id ``ids[k]``)."""
    producer: dict[str, int] = {}
    consumers: dict[str, list[int]] = defaultdict(list)
    for node_id, node in zip(ids, model.graph.node, strict=True):
        for name in node.output:
            producer[name] = node_id
        for name in node.input:
            if name:
                consumers[name].append(node_id)
    return producer, dict(consumers)


def assert_maps_agree(index: GraphIndex, producer: dict[str, int], consumers: dict[str, list[int]]) -> None:
    assert index.producer == producer
    names = {n for n in index.consumers if n} | set(consumers)  # ("" for an omitted input is no tensor)
    assert {n: index.consumers.get(n, []) for n in names} == {n: consumers.get(n, []) for n in names}


def groups_of(analysis: Analysis) -> list[tuple]:
    return [(g.id, g.rules, g.nodes, g.tensors, g.ops, g.status, g.reasons,
             sorted(q.name for q in g.quantizers if q.id in g.output_ids)) for g in analysis.groups]


def test_ids_never_shift_and_live_ids_follow_the_graph():
    """Ids never shift: after removals node_at(id) is the same NodeProto content for every id; live_ids() is
    exactly the ids not removed, in graph order, and matches model.graph.node."""
    model = yolov6()
    index = GraphIndex(model)
    before = [node.SerializeToString() for node in model.graph.node]
    removed: set[int] = set()
    for step in ([0, 1], [len(before) - 1], [7, 3, 40, 41, 42], [2, 8, 3]):
        index.remove_nodes(step)
        removed |= set(step)
        assert [index.node_at(i).SerializeToString() for i in range(len(before))] == before
        live = [i for i in range(len(before)) if i not in removed]
        assert index.live_ids() == live and index.removed == sorted(removed)
        assert [n.SerializeToString() for n in model.graph.node] == [before[i] for i in live]


def test_removed_nodes_are_never_found():
    """of_type() and find() never return a removed node; name_of(id) is the node's name, or its first output for
    an unnamed node."""
    model = yolov6()
    index = GraphIndex(model)
    nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in model.graph.node]
    assert index.find(index.name_of(0)) == 0  # the name map is built before the removals
    gone = set(index.of_type("QuantizeLinear")[::3]) | set(index.of_type("Concat")[:1]) | {0, 5}
    index.remove_nodes(gone)
    for op in {n.op_type for n in nodes}:
        assert index.of_type(op) == [i for i in index.live_ids() if nodes[i].op_type == op]
    assert index.of_type("QuantizeLinear", "Concat", "Conv") == [
        i for i in index.live_ids() if nodes[i].op_type in ("QuantizeLinear", "Concat", "Conv")]
    assert any(not n.name for n in nodes)
    for i, node in enumerate(nodes):
        assert index.name_of(i) == (node.name or node.output[0])
        assert index.find(index.name_of(i)) == (None if i in gone else i)


@pytest.mark.parametrize("consumers_first", [False, True], ids=["lazy-consumers", "consumers-built-first"])
def test_set_input_keeps_index_and_nodeproto_identical(consumers_first):
    """set_input/set_inputs keep index.inputs and the NodeProto inputs identical (overwrite, append past the end,
    after removals); with the consumers map built first it stays sorted, one entry per slot read."""
    model = yolov6()
    index = GraphIndex(model)
    if consumers_first:
        assert index.consumers
    qs, dqs = index.of_type("QuantizeLinear"), index.of_type("DequantizeLinear")
    concat = index.of_type("Concat")[0]
    index.set_input(qs[0], 1, "s.new")  # overwrite in place
    index.set_input(qs[1], 2, "zp.new", "extra.a", "extra.b")  # overwrite, then append past the end
    index.remove_nodes([qs[2], dqs[2], 1])
    index.set_input(qs[3], 0, "x.after_removal")
    index.set_inputs([qs[4], dqs[4], dqs[5]], 1, "shared.scale", "shared.zero_point")
    index.set_inputs([qs[6], dqs[6]], 3, "appended")
    first = index.inputs[concat][0]
    index.set_input(concat, 1, first)  # the Concat now reads one tensor twice
    for i in range(len(index)):
        assert list(index.node_at(i).input) == index.inputs[i], index.name_of(i)
    assert index.inputs[qs[1]][2:] == ["zp.new", "extra.a", "extra.b"]
    assert index.inputs[qs[6]][3] == "appended"
    reads: dict[str, list[int]] = defaultdict(list)
    for i in index.live_ids():  # removed nodes read nothing any more
        for name in index.inputs[i]:
            reads[name].append(i)
    for name in set(reads) | set(index.consumers):
        assert index.consumers.get(name, []) == reads.get(name, []), name  # sorted, one entry per slot
    assert index.consumers[first].count(concat) == 2


def test_producer_and_consumer_maps_agree_with_a_scan_of_the_model():
    """The producer and consumers maps agree with a brute-force scan of the model, as built and after input edits
    made through the index."""
    model = yolov6(scale_storage="constant")
    index = GraphIndex(model)
    ids = list(range(len(model.graph.node)))
    assert_maps_agree(index, *scan(model, ids))
    dqs = index.of_type("DequantizeLinear")
    index.set_inputs(dqs[:4], 1, index.inputs[dqs[5]][1])
    index.set_input(dqs[6], 0, "images")
    index.set_input(dqs[7], 3, "appended")
    assert_maps_agree(index, *scan(model, ids))


def test_producer_and_consumer_maps_agree_with_a_scan_after_removals():
    """The producer and consumers maps agree with a brute-force scan of the model after nodes were removed through
    the index."""
    model = yolov6()
    index = GraphIndex(model)
    assert index.consumers and index.producer
    remove_pair(index, "neck.upsample_feat0_quant")
    assert_maps_agree(index, *scan(model, index.live_ids()))


def constants_still_read() -> onnx.ModelProto:
    """Concat(a.dq, b.dq) with pair ``e`` beside ``a`` on relu1's output: one group {a, e, b}, whose scale and
    zero-point constants (``s1``, ``s2``) pairs ``c`` and ``d`` outside the group also read."""
    b = GraphBuilder("constants_still_read", style="int8")
    x, z = b.input("x", [1, 4, 4, 4]), b.input("z", [1, 4, 4, 4])
    t1, t2 = b.relu(x, "relu1"), b.relu(z, "relu2")
    a, e = b.qdq(t1, 0.05, "a", share="s1"), b.qdq(t1, 0.05, "e", share="s1")
    b.output(b.concat([a, b.qdq(t2, 0.07, "b", share="s2")], 1, "cat", out="cat_out"))
    b.output(b.relu(e, "relu_e", out="e_out"))
    b.output(b.qdq(x, 0.05, "c", share="s1"))
    b.output(b.qdq(z, 0.07, "d", share="s2"))
    return b.build()


def merged(model: onnx.ModelProto) -> GraphIndex:
    """merge_scales' index: groups unified, then dedupe removed the duplicate Qs through it."""
    index = merge_scales(model, TRT).analysis.index
    assert index.removed and all(is_q(index.node_at(i)) for i in index.removed)
    return index


def by_hand(model: onnx.ModelProto) -> GraphIndex:
    """Two activation pairs removed by hand (set_input + remove_nodes), on an index analysed before the edit."""
    index = GraphIndex(model)
    find_scale_groups(index, TRT)  # the caches are filled before the edit
    removed = remove_pair(index, "neck.upsample_feat0_quant") + remove_pair(index, "backbone.sppf.m.1.in")
    assert {index.name_of(i) for i in removed} == {"neck.upsample_feat0_quant.Q", "neck.upsample_feat0_quant.DQ",
                                                  "backbone.sppf.m.1.in.Q", "backbone.sppf.m.1.in.DQ"}
    return index


REVIEW_CASES = {
    "merge-dedupe": (lambda: M.yolov6_qat("int8"), merged),
    "pairs-removed-by-hand": (yolov6, by_hand),
    "merge-dedupe-constants-still-read": pytest.param(
        (constants_still_read, merged)),
}


@pytest.mark.parametrize("case", list(REVIEW_CASES.values()), ids=list(REVIEW_CASES))
def test_review_bug_find_scale_groups_on_an_index_after_removals(case):
    """The review's bug: find_scale_groups on an index that nodes were removed through names only joining ops still
    in the graph (no Q/DQ) and finds the groups a fresh GraphIndex of the edited model finds."""
    make, edit = case
    model = make()
    index = edit(model)
    onnx.checker.check_model(model, full_check=True)
    analysis = find_scale_groups(index, TRT)
    live = {index.name_of(i): i for i in index.live_ids()}
    for group in analysis.groups:
        for op in group.ops:
            assert op in live and not index.is_removed(live[op]), op
            node = index.node_at(live[op])
            assert not (is_q(node) or is_dq(node)), op
        assert all(not index.is_removed(n.node_id) for q in group.quantizers for n in q.nodes)
    fresh = find_scale_groups(GraphIndex(model), TRT)
    assert fresh.groups and groups_of(analysis) == groups_of(fresh)


def two_convs_into_an_add() -> onnx.ModelProto:
    """in.dq -> convs ca and cb -> Add; ca's output is also read by the pair ``side`` (-> Relu -> output)."""
    b = GraphBuilder("two_convs", style="int8")
    x = b.qdq(b.input("x", [1, 4, 8, 8]), 0.05, "in")
    ca, cb = b.conv(x, 4, 3, name="ca"), b.conv(x, 4, 3, name="cb")
    b.output(b.add(ca, cb, "add", out="sum"))
    b.output(b.relu(b.qdq(ca, 0.1, "side"), "side_relu", out="side_out"))
    return b.build()


def test_find_scale_groups_findings_on_an_index_after_removals():
    """find_scale_groups on an index that nodes were removed through reports the placement findings a fresh
    GraphIndex of the edited model reports."""
    model = two_convs_into_an_add()
    index = GraphIndex(model)
    remove_pair(index, "side")
    index.set_input(index.find("side_relu"), 0, "in.dq")  # now only the Add reads ca's output
    onnx.checker.check_model(model, full_check=True)
    found = [(f.kind, f.node, f.tensor) for f in find_scale_groups(index, TRT).findings]
    assert found == [(f.kind, f.node, f.tensor) for f in find_scale_groups(GraphIndex(model), TRT).findings]


def test_initializer_lookups_after_removal():
    """After initializers.remove(names), every remaining name looks up its own tensor (positions read again)."""
    model = M.yolov6_qat("int8")
    values = {t.name: numpy_helper.to_array(t).copy() for t in model.graph.initializer}
    index = GraphIndex(model)
    names = list(index.initializers)
    assert index.initializers[names[-1]].name == names[-1]  # positions are cached before the removal
    dead = set(names[::4]) | {names[1], names[-1]}
    index.initializers.remove(dead)
    remaining = [n for n in names if n not in dead]
    assert list(index.initializers) == remaining == [t.name for t in model.graph.initializer]
    assert len(index.initializers) == len(remaining)
    for name in remaining:
        tensor = index.initializers[name]
        assert tensor.name == name and index.initializers.get(name) is not None
        assert np.array_equal(numpy_helper.to_array(tensor), values[name])
    assert all(name not in index.initializers and index.initializers.get(name) is None for name in dead)
