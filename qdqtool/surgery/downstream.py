"""The part of an edited model that an edit can change: its changed nodes and everything downstream of them.

Scoring a layer in float end to end need not run the whole model again: what lies upstream of the layer computes
the same values as in the original, so the sub-model of the changed nodes and their descendants, fed the original
model's activations where it reads from upstream (its *frontier*), gives the same outputs. For a layer near the
head that is a small part of the model.

A node is *changed* when the edit made it (a Clip) or changed its inputs (the layers put in float): compared with
the original by name and inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import onnx
from onnx import helper

from qdqtool.ir.dataflow import dataflow_graph, downstream
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import dequantized_q, is_dq


@dataclass(frozen=True)
class Region:
    """The changed part of an edited model."""

    nodes: tuple[int, ...]  # node ids of the edited model, in graph order
    frontier: tuple[str, ...]  # tensors it reads from upstream (the original computes the same values)
    outputs: tuple[str, ...]  # graph outputs it produces (the others are the original's)
    share: float  # its nodes over all nodes: what running it costs, roughly


def changed_region(original: onnx.ModelProto, edited: onnx.ModelProto) -> Region:
    """The nodes of ``edited`` an edit can change, and what they read from the unchanged part."""
    before = {n.name or (n.output[0] if n.output else ""): tuple(n.input) for n in original.graph.node}
    index = GraphIndex(edited)
    live = index.live_ids()
    changed = [i for i in live if before.get(index.name_of(i)) != tuple(index.inputs[i])]
    flow: nx.MultiDiGraph = dataflow_graph(index)
    return _region(index, set(changed) | downstream(flow, changed))


def _region(index: GraphIndex, region: set[int], read: Callable[[int, str], str] = lambda node_id, tensor: tensor,
            ) -> Region:
    """The Region of these nodes: what they read from outside (``read`` says which tensor a node's input stands
    for), the graph outputs they make, their share of the model; DQs pulled in, constants' makers added."""
    produced = {t for i in region for t in index.outputs[i]}
    frontier = dict.fromkeys(read(i, t) for i in sorted(region) for t in index.inputs[i]
                             if t and t not in produced and not index.is_fixed(t))
    outputs = tuple(o.name for o in index.graph.output if o.name in produced)
    share = len(region) / max(1, len(index.live_ids()))
    region, frontier = _pull_dequantizers(index, region, frontier)
    return Region(tuple(sorted(_with_constants(index, region))), tuple(frontier), outputs, share)


def _pull_dequantizers(index: GraphIndex, region: set[int], frontier: dict[str, None]):
    """A frontier tensor a DQ makes from a Q's output: the DQ joins the region and the frontier moves to the integer
    tensor, so ONNX Runtime fuses that DQ into its reader as in the whole model (a float input would run the reader
    in float: other numbers) and the cache holds a quarter of the bytes."""
    moved: dict[str, None] = {}
    region = set(region)
    for tensor in frontier:
        dq = index.producer.get(tensor)
        if dq is not None and is_dq(index.node_at(dq)) and not index.is_fixed(tensor):
            region.add(dq)
            moved[index.inputs[dq][0]] = None
        else:
            moved[tensor] = None
    return region, moved


def _with_constants(index: GraphIndex, region: set[int]) -> set[int]:
    """The region and the nodes making the constants it reads: Constant nodes, DQs of stored weights."""
    found = set(region)
    todo = [t for i in region for t in index.inputs[i]]
    while todo:
        tensor = todo.pop()
        maker = index.producer.get(tensor) if tensor and index.is_fixed(tensor) else None
        if maker is not None and maker not in found:
            found.add(maker)
            todo += index.inputs[maker]
    return found


def region_model(edited: onnx.ModelProto, region: Region, types: Mapping[str, np.dtype]) -> onnx.ModelProto:
    """The region as a model of its own: the frontier as inputs (``types``: their element types), its graph outputs."""
    index = GraphIndex(edited)
    nodes = [index.node_at(i) for i in region.nodes]
    read = {t for n in nodes for t in n.input}
    graph = helper.make_graph(
        nodes, f"{edited.graph.name}_region",
        [helper.make_tensor_value_info(t, helper.np_dtype_to_tensor_dtype(np.dtype(types[t])), None)
         for t in region.frontier],
        [onnx.ValueInfoProto(name=o) for o in region.outputs],
        initializer=[t for t in edited.graph.initializer if t.name in read],
    )
    model = helper.make_model(graph, opset_imports=list(edited.opset_import))
    model.ir_version = edited.ir_version
    return model


def float_region(index: GraphIndex, flow: nx.MultiDiGraph, layers: list[str]) -> Region:
    """What `changed_region` will find for ``layers`` put in float, read off the original model (so the
    activations it needs can be cached before any variant is built): the layers and their descendants; the
    frontier with each quantized input replaced by the float tensor its Q reads."""
    starts = {index.find(name) for name in layers}

    def read(node_id: int, tensor: str) -> str:
        q = dequantized_q(index, tensor) if node_id in starts else None
        return index.inputs[q][0] if q is not None else tensor  # in float it reads the Q's input (or a Clip of it)

    return _region(index, starts | downstream(flow, starts), read)
