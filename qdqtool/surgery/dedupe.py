"""Find QuantizeLinear nodes that became exact duplicates on one tensor, and re-point their DQs.

After unification, sibling Qs on a fan-out tensor often carry identical parameters: one Q is enough. Their
DQ nodes are kept, one per consumer (dedicated Q/DQ pairs per consumer are what TensorRT's importer and
ONNX Runtime's QDQ selectors expect), and are simply re-pointed at the surviving Q. The survivor is the first
duplicate in node order, so every re-pointed reader still comes after its producer: the graph stays sorted.
"""

from __future__ import annotations

from collections import defaultdict

from qdqtool.analysis.groups import Analysis


def repoint_duplicate_quantizers(analysis: Analysis) -> list[int]:
    """Re-point the DQs of duplicate Q nodes at the first one; returns the duplicates' node indices.

    Duplicates read the same tensor with the same scale/zero-point tensors and attributes. The caller removes
    the returned nodes that nothing reads any more (``qdqtool.surgery.cleanup.remove_dead``).
    """
    index = analysis.index
    by_input: dict[str, list] = defaultdict(list)  # only Qs reading one tensor can be duplicates
    for quantizer in analysis.activation_quantizers:
        if quantizer.q is not None:
            by_input[quantizer.input].append(quantizer)
    by_signature: dict[tuple, list] = defaultdict(list)
    for siblings in by_input.values():
        if len(siblings) < 2:
            continue
        for quantizer in siblings:
            q = quantizer.q
            attrs = tuple(sorted((a.name, a.SerializeToString()) for a in q.node.attribute)) if q.has_attributes else ()
            by_signature[(*q.inputs, attrs)].append(quantizer)  # (find_quantizers keeps the default domain only)
    duplicates: list[int] = []
    for quantizers in by_signature.values():
        if len(quantizers) < 2:
            continue
        keep, *others = sorted(quantizers, key=lambda q: q.q.node_id)
        kept_output = keep.q.output
        for other in others:
            if other.q.output in index.graph_outputs:
                continue
            for dq in other.dqs:
                index.set_input(dq.node_id, 0, kept_output)
            duplicates.append(other.q.node_id)
    return sorted(duplicates)
