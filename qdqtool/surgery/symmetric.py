"""``merge --fix symmetric``: asymmetric activation Q/DQ rewritten as TensorRT's symmetric int8.

TensorRT accepts zero points of 0 only (its ONNX parser: "TensorRT only supports symmetric quantization"), while
onnxruntime's ``quantize_static`` writes uint8 activations with a zero point by default; on such an export every
Concat group is refused (its members' zero points differ). Each activation quantizer (a Q and its DQs, per tensor)
that is not int8 with zero point 0 (uint8 too: TensorRT quantizes to int8) gets int8 parameters with zero point 0
whose range covers the real range it had: scale = max(|low|, |high|) / 127.

A range that started at 0 was also a Relu (onnxruntime's quantizer removes a Relu or Clip(0, 6) in front of such a
Q: the range does the clipping), so that Q gets an explicit Relu in front of it; it keeps half the levels it had,
and the numeric check of the merge says what that cost. Weights, DQs of integer graph inputs and per-channel
quantizers are left alone. Runs before grouping, so the groups then see equal zero points; idempotent.
"""

from __future__ import annotations

import numpy as np
import onnx

from qdqtool.analysis.rules import RuleSet
from qdqtool.ir.editor import GraphEditor
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.names import unique_name
from qdqtool.ir.qdq import DTYPE_CODES, QRANGE, find_activation_quantizers
from qdqtool.surgery.cleanup import remove_dead
from qdqtool.surgery.placement import PlacementAction, register_fix


@register_fix("symmetric")
def fix_symmetric(model: onnx.ModelProto, rules: RuleSet) -> list[PlacementAction]:
    """Rewrite every asymmetric per-tensor activation quantizer of ``model`` (in place) as symmetric int8."""
    _relu_before_clipping_qs(model)
    index = GraphIndex(model)
    quantizers, _ = find_activation_quantizers(index)
    taken = set(index.initializers) | set(index.producer) | index.graph_inputs
    actions, new, detached = [], [], set()
    for quantizer in quantizers:
        params = quantizer.params
        if not _to_rewrite(quantizer):
            continue
        low, high = params.represented_range()
        scale_type = np.asarray(params.scale).dtype
        scale = np.asarray(max(abs(low), abs(high)) / QRANGE["int8"][1], dtype=scale_type)
        stem = f"qdqtool/symmetric/{quantizer.name}"
        scale_name, zp_name = unique_name(f"{stem}/scale", taken), unique_name(f"{stem}/zero_point", taken)
        new += [(scale_name, onnx.helper.np_dtype_to_tensor_dtype(scale_type), scale.tobytes()),
                (zp_name, DTYPE_CODES["int8"], np.zeros((), np.int8).tobytes())]
        members = [n.node_id for n in quantizer.nodes]
        detached.update(t for m in members for t in index.inputs[m][1:3] if t)
        index.set_inputs(members, 1, scale_name, zp_name)
        actions.append(PlacementAction(
            fix="symmetric", action="make-symmetric", node=quantizer.name, tensor=quantizer.input or "",
            nodes=[n.name for n in quantizer.nodes], params_from=f"{params.dtype} range", scale=float(scale),
            zero_point=0, how=f"{params.dtype} zero point {params.zero_point_value}, range [{low:.4g}, {high:.4g}] "
                              f"-> int8 scale {float(scale):.6g}, zero point 0"))
    if actions:
        index.initializers.add_scalars(new)
        remove_dead(index, detached, [])
    return actions


def _to_rewrite(quantizer) -> bool:
    params = quantizer.params
    return (quantizer.q is not None and params is not None and params.per_tensor and params.dtype in QRANGE
            and not (params.dtype == "int8" and params.zero_point_value == 0) and quantizer.self_consistent)


def _relu_before_clipping_qs(model: onnx.ModelProto) -> None:
    """A Relu in front of each Q to rewrite whose range starts at 0 (structure first, through the editor)."""
    index = GraphIndex(model)
    quantizers, _ = find_activation_quantizers(index)
    clipping = [q for q in quantizers if _to_rewrite(q) and q.params.starts_at_zero]
    if not clipping:
        return
    editor = GraphEditor(model)
    taken = set(index.initializers) | set(index.producer) | index.graph_inputs
    for quantizer in clipping:
        name = unique_name(f"{quantizer.input}/relu", taken)
        editor.insert("Relu", [quantizer.input], [name], name=name, before=quantizer.name)
        editor.replace_input(quantizer.name, quantizer.input, name)
    editor.commit()
