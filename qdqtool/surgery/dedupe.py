"""Merge QuantizeLinear nodes that became exact duplicates on one tensor.

After unification, sibling Qs on a fan-out tensor often carry identical parameters: one Q is enough. Their
DQ nodes are kept, one per consumer (dedicated Q/DQ pairs per consumer are what TensorRT's importer and
ONNX Runtime's QDQ selectors expect), and are simply re-pointed at the surviving Q. The survivor is the first
duplicate in node order, so every re-pointed reader still comes after its producer: the graph stays sorted.
"""

from __future__ import annotations

from collections import defaultdict

import onnx

from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import is_q
from qdqtool.surgery.unify import _delete_where


def _signature(node: onnx.NodeProto) -> tuple:
    attrs = tuple(sorted((a.name, a.SerializeToString()) for a in node.attribute))
    return (node.input[0], tuple(node.input[1:]), attrs, node.domain)


def dedupe_quantizers(model: onnx.ModelProto) -> list[str]:
    """Remove duplicate Q nodes (same input, same scale/zero-point tensors, same attributes); returns their names.

    Args:
        model (onnx.ModelProto): Edited in place.
    """
    index = GraphIndex(model)
    outputs = index.graph_outputs
    by_signature: dict[tuple, list[int]] = defaultdict(list)
    for i, node in enumerate(index.nodes):
        if is_q(node) and node.output[0] not in outputs:
            by_signature[_signature(node)].append(i)
    rename: dict[str, str] = {}
    removed: set[int] = set()
    for positions in by_signature.values():
        keep, *duplicates = positions
        for i in duplicates:
            rename[index.nodes[i].output[0]] = index.nodes[keep].output[0]
            removed.add(i)
    if not removed:
        return []
    names = [index.nodes[i].name or index.nodes[i].output[0] for i in sorted(removed)]
    for node in index.nodes:
        for k, name in enumerate(node.input):
            if name in rename:
                node.input[k] = rename[name]
    dead_outputs = set(rename)
    _delete_where(model.graph.node, lambda n: is_q(n) and n.output[0] in dead_outputs)
    _delete_where(model.graph.value_info, lambda v: v.name in dead_outputs)
    return names
