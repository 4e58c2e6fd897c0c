"""ONNX-side lint rules (``QDQ1xx``): what the QAT model itself does that keeps the backend from fusing INT8.

Scale-group rules read ``find_scale_groups``: one finding per mismatched or refused group, filed under the rule
of the group's first backend rule (``concat`` -> QDQ101 ...). Groups explained only by a rule of a custom rules
file fall under QDQ100.
"""

from __future__ import annotations

from collections.abc import Iterator

from qdqtool.analysis.groups import GroupStatus, ScaleGroup
from qdqtool.gate.context import LintContext
from qdqtool.gate.registry import Hit, Severity, Skip, register
from qdqtool.ir.qdq import Quantizer, is_dq, is_q

# Q/DQ element types each shipped target can run; others are reported by QDQ114 (the rule's `types` option wins).
SUPPORTED_TYPES = {
    # TensorRT 10: INT8; FP8 E4M3 (compute capability >= 8.9); INT4 for weight-only, block-quantized weights.
    "tensorrt": ("int8", "fp8e4m3fn", "int4"),
    "onnxruntime-cpu": ("int8", "uint8", "int16", "uint16", "int4", "uint4"),
}
_WEIGHT_ONLY_TYPES = {"tensorrt": ("int4",)}


def _members(group: ScaleGroup, shown: int = 4) -> str:
    names = [q.name for q in group.quantizers]
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _group_hits(ctx: LintContext, rule_id: str | None) -> Iterator[Hit]:
    """Blocking groups filed under ``rule_id`` (None: groups whose first rule has no lint rule of its own)."""
    for group in ctx.analysis.blocking:
        mapped = GROUP_RULES.get(group.rule)
        if mapped != rule_id:
            continue
        at = f" at {', '.join(group.ops[:3])}" if group.ops else ""
        message = (
            f"{group.id}{at}: {len(group.quantizers)} quantizers ({_members(group)}) carry different scales "
            f"{group.scale_min:.6g} .. {group.scale_max:.6g} (ratio {group.ratio:.3g})"
        )
        if len(group.rules) > 1:
            message += f"; joined by {' + '.join(group.rules)}"
        if group.status is GroupStatus.REFUSED:
            message += "; `qdqtool merge` refuses it: " + "; ".join(group.reasons)
        else:
            message += "; `qdqtool merge` can unify it"
        yield Hit(message=message, nodes=tuple(group.ops) + tuple(group.nodes), group=group.id)


_MERGE_FIX = """Run `qdqtool merge MODEL` to give every member one scale (checked numerically with ONNX Runtime), or
calibrate the quantizers of the group together in the QAT script. A refused group needs the reason in the message
fixed first."""


# One rule per backend group rule: (lint id, name, backend rule id or None, severity, summary, explanation).
_GROUP_RULE_DOCS = (
    ("QDQ100", "scale-mismatch", None, Severity.ERROR,
     "Q/DQ that the target needs to share one scale carry different scales.",
     """A group found by a rule of a custom rules file: the backend compares the members' scales for exact
     equality and runs a standalone requantize kernel when they differ."""),
    ("QDQ101", "concat-scale-mismatch", "concat", Severity.ERROR,
     "The inputs and the output of a Concat are quantized with different scales.",
     """TensorRT removes a Concat by writing every input into one buffer, which needs one scale for all inputs and
     the output; unequal scales leave a requantize kernel per input and keep the producers from writing INT8."""),
    ("QDQ102", "move-through-scale-mismatch", "move-through", Severity.ERROR,
     "Q/DQ on either side of an op they move across (MaxPool, Resize, Reshape ...) carry different scales.",
     """TensorRT propagates DQ forward and Q backward across ops that commute with them and merges the Q/DQ that
     meet only when their scales are equal; otherwise a standalone (re)quantize kernel stays."""),
    ("QDQ103", "fan-out-scale-mismatch", "fan-out", Severity.WARNING,
     "One tensor is read by several Q nodes with different scales.",
     """TensorRT hoists sibling Q nodes into one quantize (and fuses it into the producer) only when their scales
     are bit-equal; with different scales the producer keeps a float output and each Q runs as its own kernel."""),
    ("QDQ104", "residual-add-scale-mismatch", "residual-add", Severity.ERROR,
     "Both inputs of a residual Add are quantized, with different scales.",
     """An Add with two quantized inputs runs as one INT8 element-wise kernel (or fuses into the convolution) only
     when both inputs share a scale."""),
    ("QDQ105", "requantize-scale-mismatch", "requantize", Severity.WARNING,
     "A DQ output is quantized again by a Q with another scale.",
     """A DQ followed by a Q cancels only when both carry the same scale; otherwise the backend runs a standalone
     requantize kernel."""),
)


def _group_rule(rule_id: str | None):
    def check(ctx: LintContext) -> Iterator[Hit]:
        yield from _group_hits(ctx, rule_id)

    return check


# backend rule id (rules/<target>.toml) -> lint rule id
GROUP_RULES = {backend: lint_id for lint_id, _, backend, *_ in _GROUP_RULE_DOCS if backend}

for _id, _name, _backend, _severity, _summary, _why in _GROUP_RULE_DOCS:
    register(_id, _name, "onnx", _severity, _summary, _why, _MERGE_FIX)(_group_rule(_id if _backend else None))


@register(
    "QDQ106", "qdq-pair-mismatch", "onnx", Severity.ERROR,
    "A DequantizeLinear does not use the scale or zero point of the QuantizeLinear it reads.",
    """A Q/DQ pair with different parameters changes the values it passes (it rescales them), so no backend may
    fold it away; it is almost always an export bug.""",
    "Give the DQ the Q's scale and zero point (or point both at one initializer).",
)
def qdq_pair_mismatch(ctx: LintContext) -> Iterator[Hit]:
    for q in ctx.analysis.quantizers:
        if q.q is None or not q.dqs or q.params is None or q.self_consistent:
            continue
        if any(n.params is None for n in q.nodes):
            continue  # a computed scale: QDQ115's business
        bad = [dq for dq in q.dqs if not dq.params.same_as(q.params)]
        scales = ", ".join(f"{dq.name} {float(dq.params.scale.reshape(-1)[0]):.6g}" for dq in bad)
        yield Hit(
            message=f"{q.name} quantizes with scale {float(q.params.scale.reshape(-1)[0]):.6g} but {scales} "
            "dequantize(s) with other parameters",
            nodes=(q.name, *(dq.name for dq in bad)),
        )


@register(
    "QDQ110", "unquantized-residual-skip", "onnx", Severity.WARNING,
    "A residual Add has one quantized input and one that is not quantized.",
    """TensorRT fuses the Add into the convolution that produces one input, and the fused output takes the
    precision of the other input: with an unquantized skip input it stays FP16/FP32, and the next quantized layer
    needs a standalone Q (TensorRT developer guide, Q/DQ placement).""",
    """Put a Q/DQ pair on the skip input; when the tensor is already quantized for another reader, reuse that
    quantizer (the yolov7 QAT rules share the block input's quantizer across both Add inputs).""",
)
def unquantized_residual_skip(ctx: LintContext) -> Iterator[Hit]:
    for finding in ctx.analysis.findings:
        by = ", ".join(finding.quantized_by)
        hint = f" (already quantized by {by} for other readers)" if by else ""
        yield Hit(message=finding.message + hint, nodes=(finding.node,))


def _nonzero(q: Quantizer) -> bool:
    return q.params is not None and bool(q.params.zero_point.any())


@register(
    "QDQ111", "nonzero-zero-point", "onnx", Severity.ERROR,
    "A Q/DQ has a non-zero zero point on a target that needs symmetric quantization.",
    """TensorRT accepts only symmetric quantization: every zero point must be 0 (IQuantizeLayer), so the model is
    rejected or the layer falls back to float. Q/DQ of a type the target cannot run at all (UINT8 for TensorRT) are
    reported by QDQ114 instead.""",
    """Re-export with symmetric INT8 quantization (zero point 0): for example `quant_min=-128, quant_max=127,
    qscheme=torch.per_tensor_symmetric`, or `ActivationSymmetric=True` in onnxruntime.quantization.""",
)
def nonzero_zero_point(ctx: LintContext) -> Iterator[Hit]:
    if not ctx.rules.symmetric:
        raise Skip(f"target {ctx.rules.name} accepts asymmetric quantization")
    runs = SUPPORTED_TYPES.get(ctx.rules.name)
    for q in ctx.analysis.quantizers:
        if _nonzero(q) and (runs is None or q.params.dtype in runs):  # other types are QDQ114's finding
            zps = sorted({int(z) for z in q.params.zero_point.ravel()})
            shown = ", ".join(map(str, zps[:4])) + (" ..." if len(zps) > 4 else "")
            kind = "weight" if q.is_weight else "activation"
            yield Hit(message=f"{q.name} ({kind}, {q.params.dtype}) has zero point(s) {shown}; {ctx.rules.name} "
                      "needs 0", nodes=tuple(n.name for n in q.nodes))


@register(
    "QDQ112", "per-channel-activation", "onnx", Severity.ERROR,
    "An activation (not a weight) is quantized per channel.",
    """TensorRT supports per-channel scales only for weights (constant inputs); an activation quantizer with a
    per-channel scale is rejected, and no per-channel activation can share a scale with its scale group.""",
    "Calibrate the activation per tensor (one scale), as pytorch-quantization and ModelOpt do by default.",
)
def per_channel_activation(ctx: LintContext) -> Iterator[Hit]:
    for q in ctx.analysis.activation_quantizers:
        p = q.params
        if p is not None and p.scale.size > 1 and not p.block_size:
            yield Hit(message=f"{q.name} quantizes an activation with {p.scale.size} scales along axis {p.axis}",
                      nodes=tuple(n.name for n in q.nodes))


@register(
    "QDQ113", "qdq-on-graph-output", "onnx", Severity.WARNING,
    "A graph output is produced by a QuantizeLinear or DequantizeLinear node.",
    """A Q/DQ pair at the end of the graph has no consumer to fuse into: the backend runs it as a standalone
    quantize/dequantize kernel (and a Q output makes the graph output INT8).""",
    "Remove the trailing Q/DQ pair so the last layer writes the float output directly.",
)
def qdq_on_graph_output(ctx: LintContext) -> Iterator[Hit]:
    index = ctx.analysis.index
    for output in index.graph.output:
        node = index.producer_node(output.name)
        if node is None or not (is_q(node) or is_dq(node)):
            continue
        name = node.name or node.output[0]
        kind = "QuantizeLinear" if is_q(node) else "DequantizeLinear"
        yield Hit(message=f"graph output {output.name} is produced by {kind} {name}", nodes=(name,))


@register(
    "QDQ114", "unsupported-qdq-type", "onnx", Severity.ERROR,
    "Q/DQ of a type the target cannot run (FP8, INT4, blocked, 16-bit ...).",
    """The target has no kernel for this quantized type (TensorRT: FP8 E4M3 needs compute capability 8.9+, INT4
    is for block-quantized weights only, UINT8 and FP8 E5M2 are not supported), so the build fails or the layers
    run in float; qdqtool also leaves such Q/DQ alone when merging.""",
    """Quantize for the target's types, or choose the target that runs them (--target); set the rule's `types`
    option to the types your deployment GPU supports (e.g. ["int8"] before Ada/Hopper).""",
    options=(("types", None, "list of supported types; default: the target's (tensorrt: int8, fp8e4m3fn, int4)"),),
)
def unsupported_qdq_type(ctx: LintContext, types: list[str] | None = None) -> Iterator[Hit]:
    supported = tuple(types) if types is not None else SUPPORTED_TYPES.get(ctx.rules.name)
    if supported is None:
        raise Skip(f"no list of supported types for target {ctx.rules.name}; set the rule's `types` option")
    weight_only = _WEIGHT_ONLY_TYPES.get(ctx.rules.name, ()) if types is None else ()
    for q in ctx.analysis.quantizers:
        p = q.params
        if p is None:
            continue
        if p.dtype not in supported:
            why = f"type {p.dtype} is not supported by {ctx.rules.name} (supported: {', '.join(supported)})"
        elif p.dtype in weight_only and not q.is_weight:
            why = f"{p.dtype} is supported by {ctx.rules.name} for weights only, not activations"
        else:
            continue
        yield Hit(message=f"{q.name}: {why}", nodes=tuple(n.name for n in q.nodes))


@register(
    "QDQ115", "computed-scale", "onnx", Severity.WARNING,
    "A Q/DQ reads a scale or zero point that is computed in the graph, not a constant.",
    """TensorRT needs constant (build-time) scales for explicit quantization; a computed scale is either folded by
    a constant-folding pass or rejected, and qdqtool cannot analyse or merge it.""",
    "Fold the scale computation (`polygraphy surgeon sanitize --fold-constants`) or export constant scales.",
)
def computed_scale(ctx: LintContext) -> Iterator[Hit]:
    for q in ctx.analysis.quantizers:
        for node in q.nodes:
            if node.params is None:
                yield Hit(message=f"{node.name} reads a scale or zero point computed at run time "
                          f"({node.node.input[1]})", nodes=(node.name,))
