"""The networkx view of the index (qdqtool.ir.dataflow): its edges are real reads, removed nodes are not in it, and
downstream() is the transitive closure over the readers of a tensor."""

from __future__ import annotations

from collections import defaultdict

import onnx

from qdqtool.ir.dataflow import dataflow_graph, downstream
from qdqtool.ir.index import GraphIndex
from tests.fixtures import models as M


def edited_yolov6() -> tuple[onnx.ModelProto, GraphIndex, list[int]]:
    """The YOLOv6 fixture with two activation pairs taken out through the index (their readers re-pointed)."""
    model = M.yolov6_qat("int8")
    index = GraphIndex(model)
    removed = []
    for prefix in ("neck.upsample_feat0_quant", "backbone.sppf.m.1.in"):
        q, dq = index.find(f"{prefix}.Q"), index.find(f"{prefix}.DQ")
        for reader in index.consumers[index.outputs[dq][0]][:]:
            index.set_input(reader, index.inputs[reader].index(index.outputs[dq][0]), index.inputs[q][0])
        index.remove_nodes([q, dq])
        removed += [q, dq]
    return model, index, removed


def readers_by_scan(model: onnx.ModelProto, index: GraphIndex) -> dict[int, set[int]]:
    """Node id -> ids of the nodes reading one of its outputs, by brute force over ``model.graph.node``."""
    live = index.live_ids()
    made_by = {t: i for i, node in zip(live, model.graph.node, strict=True) for t in node.output}
    readers: dict[int, set[int]] = defaultdict(set)
    for i, node in zip(live, model.graph.node, strict=True):
        for t in node.input:
            if t in made_by:
                readers[made_by[t]].add(i)
    return readers


def test_every_edge_is_a_tensor_its_producer_writes_and_its_reader_reads():
    """Every edge (a, b, tensor) has tensor among a's outputs and b's inputs, and every read of a tensor a live
    node makes is an edge."""
    model, index, _ = edited_yolov6()
    flow = dataflow_graph(index)
    edges = set(flow.edges(keys=True))
    assert edges
    for a, b, tensor in edges:
        assert tensor in index.outputs[a] and tensor in index.inputs[b]
        assert tensor in index.node_at(a).output and tensor in index.node_at(b).input
    live = index.live_ids()
    made_by = {t: i for i, node in zip(live, model.graph.node, strict=True) for t in node.output}
    reads = {(made_by[t], i, t) for i, node in zip(live, model.graph.node, strict=True) for t in node.input
             if t in made_by}
    assert edges == reads


def test_removed_nodes_are_absent():
    """Removed nodes are not nodes of the dataflow graph, and no edge starts or ends at one."""
    _, index, removed = edited_yolov6()
    flow = dataflow_graph(index)
    assert sorted(flow.nodes) == index.live_ids()
    assert not set(removed) & set(flow.nodes)
    assert not any(a in removed or b in removed for a, b in flow.edges())


def test_downstream_is_the_transitive_closure_over_readers():
    """downstream() of a node (or of several) equals a brute-force transitive closure over the readers of its
    outputs, the start nodes excluded."""
    model, index, _ = edited_yolov6()
    flow = dataflow_graph(index)
    readers = readers_by_scan(model, index)

    def closure(starts: list[int]) -> set[int]:
        seen: set[int] = set()
        todo = list(starts)
        while todo:
            for r in readers.get(todo.pop(), ()):
                if r not in seen:
                    seen.add(r)
                    todo.append(r)
        return seen - set(starts)

    live = index.live_ids()
    for node_id in live:
        assert downstream(flow, [node_id]) == closure([node_id]), index.name_of(node_id)
    for starts in ([live[0], live[5]], [live[40], live[3], live[41]], index.of_type("Concat")):
        assert downstream(flow, starts) == closure(starts)
