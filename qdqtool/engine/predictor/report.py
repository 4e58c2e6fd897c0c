"""EngineReportFromTrtSim: predict, on the CPU, the layers TensorRT would build from a Q/DQ ONNX model.

The result is an :class:`EngineReport` like a real build's, marked ``measured=False``: layer names are the fused
ONNX nodes joined by `` + `` as TensorRT writes them (``conv1.weight + QuantizeLinear_7 + Conv_9 + MaxPool_12``),
each layer has a class, per-tensor precisions and a ``cost`` (bytes read and written: activations at their
predicted precision, plus weights), never a time. ``layer.raw["why"]`` says why a standalone Q/DQ could not fuse.

    >>> report = engine_report_from_trt_sim("model.onnx")
    >>> assert report.backend == "trt-sim" and not report.measured
    >>> assert all(layer.cost is not None for layer in report.layers)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import onnx

from qdqtool.analysis.rules import RuleSet, load_rules
from qdqtool.engine.backends import BuildOptions, ProgressSink
from qdqtool.engine.predictor.config import PredictorRules
from qdqtool.engine.predictor.fusion import LayerPlan, plan_layers
from qdqtool.engine.predictor.graph import SimGraph
from qdqtool.engine.predictor.propagation import propagate
from qdqtool.engine.report import EngineReport, Layer, LayerClass, TensorInfo
from qdqtool.errors import InvalidGraph
from qdqtool.io.atomic import atomic_dir, publish
from qdqtool.io.onnx_io import load_model
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import QParams

BACKEND = "trt-sim"
REPORT = "engine_report.json"
ModelInput = str | os.PathLike | onnx.ModelProto | GraphIndex


def _layer(g: SimGraph, plan: LayerPlan) -> Layer:
    def info(tensor: str, dtype: str) -> TensorInfo:
        shape = g.shapes.get(tensor)
        return TensorInfo(name=tensor, shape=tuple(shape) if shape is not None else None, dtype=dtype)

    cost = 0
    if plan.cls is not LayerClass.NOOP:
        cost = sum(g.nbytes(t, d) for t, d in plan.inputs + plan.outputs)
        cost += sum(g.constant_nbytes(w, d or None) for w, d in plan.weight_bytes)
    raw = {"predicted": True, "implements": list(dict.fromkeys(plan.implements))}
    if plan.why:
        raw["why"] = plan.why
    return Layer(
        name=plan.name,
        type=plan.type,
        cls=plan.cls,
        origin=plan.origin,
        inputs=[info(t, d) for t, d in plan.inputs],
        outputs=[info(t, d) for t, d in plan.outputs],
        onnx_nodes=tuple(dict.fromkeys(plan.node_tokens)),
        weights=tuple(plan.weights),
        cost=float(cost),
        raw=raw,
    )


def _index_of(model: ModelInput) -> tuple[GraphIndex, str]:
    if isinstance(model, GraphIndex):
        return model, model.graph.name or "<model>"
    if isinstance(model, onnx.ModelProto):
        index, source = GraphIndex(model), model.graph.name or "<model>"
    else:
        index, source = GraphIndex(load_model(model).model), str(model)
    try:
        index.check_valid()
    except InvalidGraph as err:
        raise InvalidGraph(f"{source}: {err}") from None
    return index, source


def _asymmetric(graph: SimGraph) -> list[str]:
    """A note on Q/DQ TensorRT's ONNX parser refuses: non-zero zero points ("TensorRT only supports symmetric
    quantization", onnx-tensorrt QuantDequantLinearHelper); uint8 zero points are converted to int8."""
    names = [
        n.name for n in graph.alive()
        if (n.is_q or n.is_dq) and n.params is not None and n.params.zero_point.size and n.params.zero_point.any()
    ]
    if not names:
        return []
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return [f"{len(names)} Q/DQ node(s) have non-zero zero points ({shown}): TensorRT's ONNX parser refuses them "
            "(it supports symmetric quantization only); they are predicted as if accepted"]


def predict_engine(
    model: ModelInput | Callable[[], ModelInput],
    rules: RuleSet | str | None = None,
    float_precision: str | None = None,
    source: str | None = None,
    *,
    params: Mapping[str, QParams] | None = None,
) -> EngineReport:
    """Predict the engine TensorRT would build from ``model``.

    Args:
        model (path | ModelProto | GraphIndex | callable): The Q/DQ ONNX model (never modified).
        rules (RuleSet | str): The rules, or a target name / rules file. Defaults to ``tensorrt``.
        float_precision (str): ``"onnx"``, ``"fp16"`` or ``"fp32"`` for float layers. Defaults to the rules file's.
        source (str): Where the model came from, for messages. Defaults to the path or the graph name.
        params (Mapping[str, QParams]): Predict as if these Q/DQ nodes (by name) carried these parameters, e.g. the
            ones ``merge`` would give them. Defaults to None.

    Returns:
        EngineReport: ``backend="trt-sim"``, ``measured=False``; each layer's ``cost`` is bytes moved.
    """
    model = model() if callable(model) else model
    ruleset = rules if isinstance(rules, RuleSet) else load_rules(rules)
    config = PredictorRules.from_rules(ruleset, float_precision)
    index, where = _index_of(model)
    graph = SimGraph.from_index(index, config, params)
    asymmetric = _asymmetric(graph)
    propagate(graph)
    layers = [_layer(graph, plan) for plan in plan_layers(graph)]
    notes = [
        f"predicted by qdqtool's TensorRT fusion simulator from {Path(ruleset.path).name}, not built: layer costs "
        "are bytes moved, not times",
        f"predicts a {config.build_mode}",
        "reformat (layout/precision copy) layers are not predicted: TensorRT picks them with the kernels' tactics",
        *asymmetric,
        *graph.notes,
    ]
    return EngineReport(
        backend=BACKEND,
        source=source or where,
        layers=layers,
        measured=False,
        notes=notes,
        bindings=sorted(index.graph_inputs) + [o.name for o in index.graph.output],
        build_mode=config.build_mode,
    )


class EngineReportFromTrtSim:
    """Loader form of :func:`predict_engine`, and the ``trt-sim`` backend of ``build`` / ``compare``.

    Configure now, predict when called. ``model`` may be a value or a callable returning one, so a chain is built
    before anything is read. With ``output``, ``engine_report.json`` (``EngineReport.to_dict``) is written there,
    atomically, as every backend does.

    Args:
        model (path | ModelProto | GraphIndex | callable): The Q/DQ ONNX model.
        output (Path): Folder for ``engine_report.json``. Defaults to None (nothing written).
        options (BuildOptions): Only ``strongly_typed`` is read: True predicts float layers in the model's types
            (strongly typed), False in FP16 (a weakly typed INT8+FP16 build). Defaults to the rules file's choice.
        progress (ProgressSink): Told about each phase. Defaults to None.
        rules (RuleSet | str): Defaults to ``tensorrt``.
        float_precision (str): Overrides ``options``: ``"onnx"``, ``"fp16"`` or ``"fp32"``.
        source (str): For messages. Defaults to the model path.
    """

    def __init__(
        self,
        model: ModelInput | Callable[[], ModelInput],
        output: str | os.PathLike | None = None,
        options: BuildOptions | None = None,
        progress: ProgressSink | None = None,
        *,
        rules: RuleSet | str | None = None,
        float_precision: str | None = None,
        source: str | None = None,
    ) -> None:
        self.model, self.output, self.options, self.progress = model, output, options, progress
        self.rules, self.float_precision, self.source = rules, float_precision, source

    def __call__(self) -> EngineReport:
        precision = self.float_precision
        if precision is None and self.options is not None and self.options.strongly_typed is not None:
            precision = "onnx" if self.options.strongly_typed else "fp16"
        if self.progress is not None:
            self.progress("predicting", None, None)
        report = predict_engine(self.model, self.rules, precision, self.source)
        if self.output is not None:
            with atomic_dir(self.output) as tmp:
                (tmp / REPORT).write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
                publish(tmp / REPORT, Path(self.output) / REPORT)
        return report


def engine_report_from_trt_sim(
    model: ModelInput | Callable[[], ModelInput],
    output: str | os.PathLike | None = None,
    options: BuildOptions | None = None,
    progress: ProgressSink | None = None,
    **kwargs,
) -> EngineReport:
    """Functional form of :class:`EngineReportFromTrtSim` (same arguments): predict now."""
    return EngineReportFromTrtSim(model, output, options, progress, **kwargs)()
