"""The networkx view of the index (qdqtool.ir.dataflow): its edges are real reads, removed nodes are not in it."""

from __future__ import annotations

import onnx

from qdqtool.ir.dataflow import dataflow_graph
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
