"""Engine-side lint rules (``QDQ2xx``): read the engine report (``--engine``), whatever backend produced it."""

from __future__ import annotations

from collections.abc import Iterator

from qdqtool.analysis.groups import ScaleGroup
from qdqtool.engine.classify import is_convolution
from qdqtool.engine.report import EngineReport, Layer, LayerClass
from qdqtool.gate.context import LintContext
from qdqtool.gate.registry import Hit, Severity, Skip, register
from qdqtool.ir.qdq import is_dq


def _engine(ctx: LintContext) -> EngineReport:
    if ctx.engine is None:
        raise Skip("no engine given (--engine layers.json or a folder of engine files, or --predict)")
    return ctx.engine


def _predicted(engine: EngineReport) -> str:
    return "" if engine.measured else f" ({engine.backend} prediction)"


def _groups_by_node(ctx: LintContext) -> dict[str, tuple[int, ScaleGroup]]:
    """Each member node of a blocking group -> (the group's place in the list, the group): built once per rule run,
    where asking every group for every layer was quadratic (25 s on a 20k-node model)."""
    found: dict[str, tuple[int, ScaleGroup]] = {}
    for position, group in enumerate(ctx.analysis.blocking):
        for name in group.nodes:
            found.setdefault(name, (position, group))
    return found


def _group_of(groups: dict[str, tuple[int, ScaleGroup]], nodes: tuple[str, ...]) -> ScaleGroup | None:
    """The first blocking group holding one of ``nodes``."""
    hits = [groups[n] for n in nodes if n in groups]
    return min(hits, key=lambda hit: hit[0])[1] if hits else None


@register(
    "QDQ201", "unfused-qdq-layer", "engine", Severity.ERROR,
    "The engine runs a quantize or dequantize as a standalone layer.",
    """Every Q/DQ of a well-formed QAT model fuses into a neighbouring layer; one left standing costs a full read
    and write of the tensor and usually means a scale mismatch or a Q/DQ placed where nothing can absorb it. The
    Q of a float network input is the exception: TensorRT always runs it as a kernel of its own (every real QAT
    engine keeps it), so it is not reported.""",
    """Look up the layer's ONNX nodes with `qdqtool analyze MODEL`: a mismatched scale group is fixed by `qdqtool
    merge`, a Q/DQ on a graph output or after an unquantized skip input by moving it (QDQ113, QDQ110).""",
)
def unfused_qdq_layer(ctx: LintContext) -> Iterator[Hit]:
    engine = _engine(ctx)
    input_qs = _network_input_quantizers(ctx)
    groups = _groups_by_node(ctx)
    by_tensor: dict[str, list[str]] | None = None
    for layer in engine.leftover_qdq:
        if not layer.onnx_nodes and layer.onnx_tensors and by_tensor is None:
            by_tensor = _qdq_by_tensor(ctx)
        onnx_nodes = layer.onnx_nodes or _qdq_nodes_at(by_tensor or {}, layer.onnx_tensors)
        if onnx_nodes and set(onnx_nodes) <= input_qs:
            continue
        group = _group_of(groups, onnx_nodes)
        cause = f"; its ONNX node is in mismatched scale group {group.id}" if group else ""
        nodes = f" (ONNX: {', '.join(onnx_nodes[:4])})" if onnx_nodes else ""
        if not onnx_nodes and layer.onnx_tensors:
            nodes = f" (ONNX tensors: {', '.join(layer.onnx_tensors[:4])})"
        time = f", {layer.avg_ms:.4f} ms" if layer.avg_ms is not None else ""
        yield Hit(message=f"standalone Q/DQ layer {layer.name}{nodes}{time}{cause}{_predicted(engine)}",
                  nodes=onnx_nodes,
                  layer=layer.name, group=group.id if group else None)


def _qdq_nodes_at(by_tensor: dict[str, list[str]], tensors: tuple[str, ...]) -> tuple[str, ...]:
    """The model's Q/DQ nodes that read or write one of ``tensors``: who a generated kernel with empty Metadata is."""
    return tuple(dict.fromkeys(n for t in tensors for n in by_tensor.get(t, ())))


def _qdq_by_tensor(ctx: LintContext) -> dict[str, list[str]]:
    """Tensor -> the Q/DQ nodes reading (as data) or writing it; built once per rule run."""
    index = ctx.analysis.index
    found: dict[str, list[str]] = {}
    for i in (*index.of_type("QuantizeLinear"), *index.of_type("DequantizeLinear")):
        for tensor in {*index.inputs[i][:1], *index.outputs[i][:1]}:
            found.setdefault(tensor, []).append(index.name_of(i))
    return found


@register(
    "QDQ202", "reformat-time-share", "engine", Severity.WARNING,
    "Too much of the engine's layer time goes to Q/DQ and reformat layers.",
    """Unfused quantize/dequantize layers and the reformats around them only convert data; above a few percent of
    the summed layer time they are the cost of the INT8 fusions that did not happen.""",
    """Fix the unfused Q/DQ layers first (QDQ201); the remaining reformats often come from layout changes around
    float layers in an INT8 region (QDQ203).""",
    options=(("max-share", 10.0, "percent of the summed layer time allowed in Q/DQ + reformat layers"),),
)
def reformat_time_share(ctx: LintContext, max_share: float = 10.0) -> Iterator[Hit]:
    if not _engine(ctx).measured:
        raise Skip(f"a {ctx.engine.backend} prediction has no times (give a built engine with --engine)")
    summary = ctx.engine_summary
    share = summary.qdq_reformat_share if summary else None
    if share is None:
        raise Skip("the engine report has no per-layer times (add --profile profile.json)")
    if share > float(max_share):
        layers = sorted(
            (layer for layer in ctx.engine.layers if layer.cls in (LayerClass.QDQ, LayerClass.REFORMAT)),
            key=lambda layer: layer.avg_ms or 0.0, reverse=True,
        )
        top = ", ".join(f"{layer.name} {layer.avg_ms or 0.0:.4f} ms" for layer in layers[:3])
        yield Hit(
            message=f"{share:.1f}% of the summed layer time ({summary.qdq_reformat_ms:.4f} of "
            f"{summary.layer_time_ms:.4f} ms) is in Q/DQ and reformat layers, above {float(max_share):g}%; "
            f"largest: {top}",
            nodes=tuple(n for layer in layers[:3] for n in layer.onnx_nodes), key="qdq_reformat_share",
        )


def _network_input_quantizers(ctx: LintContext) -> set[str]:
    """Q nodes that quantize a float graph input (through nothing else)."""
    index = ctx.analysis.index
    return {index.name_of(i) for i in index.of_type("QuantizeLinear") if index.inputs[i][0] in index.graph_inputs}


def _int8_region(ctx: LintContext, layer: Layer) -> str | None:
    """The ONNX Conv this layer implements when that Conv reads a dequantized input (an INT8 region)."""
    index = ctx.analysis.index
    for name in layer.onnx_nodes:
        found = index.find(name)
        node = None if found is None else index.node_at(found)
        if node is None or node.op_type not in ctx.rules.weighted_ops or not node.input:
            continue
        producer = index.producer_node(node.input[0])
        while producer is not None and ctx.rules.look_through.applies_to(producer, index):
            producer = index.producer_node(producer.input[0])
        if producer is not None and is_dq(producer):
            return name
    return None


@register(
    "QDQ203", "conv-not-int8", "engine", Severity.WARNING,
    "A convolution whose ONNX input is quantized does not run in INT8 in the engine.",
    """The model asks for an INT8 convolution (its input comes from a DequantizeLinear), but the builder chose a
    float kernel: the Q/DQ around it did not fuse, usually because of a scale mismatch next to it or a missing
    quantizer on one of its inputs.""",
    """Check the scale groups touching the convolution's input and output (`qdqtool analyze`), and that its
    weights are quantized; rebuild and compare with `qdqtool diff`.""",
)
def conv_not_int8(ctx: LintContext) -> Iterator[Hit]:
    engine = _engine(ctx)
    if not engine.detailed:
        raise Skip("names-only layer information has no precisions (rebuild with --profilingVerbosity=detailed)")
    for layer in engine.layers:
        if not is_convolution(layer) or not layer.inputs or layer.inputs[0].dtype in (None, "int8"):
            continue
        conv = _int8_region(ctx, layer)
        if conv is None:
            continue
        yield Hit(message=f"{layer.name} implements {conv}, whose input is quantized, but reads "
                  f"{layer.inputs[0].dtype}{_predicted(engine)}", nodes=layer.onnx_nodes, layer=layer.name)


FLOATS = ("fp32", "fp16", "bf16")


def _float_compute(engine: EngineReport) -> list[Layer]:
    """Compute layers that run in a float precision (neither read nor write int8)."""
    return [layer for layer in engine.layers if layer.cls is LayerClass.COMPUTE and layer.precision in FLOATS
            and not any(t.dtype == "int8" for t in layer.inputs)]


@register(
    "QDQ204", "float-compute-in-fp32", "engine", Severity.WARNING,
    "Much of the engine's float compute runs in FP32.",
    """A strongly typed build (TensorRT 11's only mode; TensorRT 10 with --stronglyTyped) runs every layer outside
    the Q/DQ-fused INT8 regions in the ONNX model's own float type, with no FP16 flag to lower it. A QAT model
    exported in FP32 then runs its float parts (detection heads, attention, activations between INT8 regions) in
    FP32, and the INT8 engine can end up slower than a plain FP16 one (a QAT INT8 YOLO measured 0.86 ms against
    0.78 ms for FP16 on TensorRT 11.2 until its head was cast to FP16). The share is of the float compute layers'
    time (a built engine with a profile), predicted cost (--predict) or count.""",
    """Cast the float regions to FP16 in the ONNX, leaving every Q/DQ and INT8 layer as it is: `qdqtool merge MODEL
    --fix fp16` does that and checks the result against the float reference (ModelOpt AutoCast is NVIDIA's tool for
    the same); on TensorRT 10, a weakly typed --int8 --fp16 build does it at build time.""",
    options=(("max-share", 20.0, "percent of the float compute allowed to run in FP32"),),
)
def float_compute_in_fp32(ctx: LintContext, max_share: float = 20.0) -> Iterator[Hit]:
    engine = _engine(ctx)
    if not engine.detailed:
        raise Skip("names-only layer information has no precisions (rebuild with --profilingVerbosity=detailed)")
    layers = _float_compute(engine)
    if not layers:
        return
    weight, basis = _weights(engine, layers)
    fp32 = [layer for layer in layers if layer.precision == "fp32"]
    total = sum(weight(layer) for layer in layers)
    share = 100.0 * sum(weight(layer) for layer in fp32) / total if total else 0.0
    if fp32 and share > float(max_share):
        names = ", ".join(layer.name for layer in fp32[:3]) + (", ..." if len(fp32) > 3 else "")
        yield Hit(message=f"{share:.0f}% of the float compute ({basis}) runs in FP32: {len(fp32)} of {len(layers)} "
                          f"float layers ({names}), above {float(max_share):g}%{_predicted(engine)}",
                  nodes=tuple(n for layer in fp32[:3] for n in layer.onnx_nodes), layer=fp32[0].name,
                  key="fp32_float_share")


def _weights(engine: EngineReport, layers: list[Layer]):
    if engine.measured and all(layer.avg_ms is not None for layer in layers):
        return (lambda layer: layer.avg_ms), "by layer time"
    if all(layer.cost is not None for layer in layers):
        return (lambda layer: layer.cost), "by predicted bytes moved"
    return (lambda layer: 1.0), "by layer count"
