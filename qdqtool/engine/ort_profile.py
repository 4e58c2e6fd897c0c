"""EngineReportFromOrtProfile: ONNX Runtime's optimised graph plus its profile JSON, read as an EngineReport.

Each node of the optimised graph (what ``SessionOptions.optimized_model_filepath`` saves) is one layer, named as
ONNX Runtime named it and typed by its op type. Classes:

- ``qdq``: a standalone QuantizeLinear / DequantizeLinear (also a weight DequantizeLinear ONNX Runtime could not
  fold into a QLinear op): exactly what a successful QDQ clean-up removes;
- ``reformat``: layout changes ONNX Runtime inserts, Transpose (NHWC transformer) and the NCHWc
  ReorderInput / ReorderOutput (``com.microsoft.nchwc``);
- ``compute``: QLinear* ops, convolutions and GEMMs in any domain, Nhwc*/Fused* ops and the arithmetic ops
  :mod:`qdqtool.engine.classify` knows;
- ``noop`` (Identity), ``constant`` (Constant), ``other`` (data movement: Reshape, Concat, Slice, ...).

Times come from the profile's node events (``cat == "Node"``, ``name == "<node>_kernel_time"``, ``dur`` in
microseconds): events of the first ``warmup`` ``model_run``\\ s are dropped, the rest are averaged per node.

    >>> report = EngineReportFromOrtProfile("optimized.onnx", "profile.json", warmup=2)()
    >>> assert all(layer.avg_ms is not None for layer in report.layers if layer.type == "QLinearConv")
"""

from __future__ import annotations

import bisect
import json
import math
import os
import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import onnx

from qdqtool.engine.classify import COMPUTE_OPS
from qdqtool.engine.latency import Timings
from qdqtool.engine.report import EngineReport, Layer, LayerClass, TensorInfo
from qdqtool.errors import BadInputError
from qdqtool.io.onnx_io import graph_inputs

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})
REFORMAT_OPS = frozenset({"Transpose", "ReorderInput", "ReorderOutput"})
_COMPUTE_PREFIXES = ("qlinear", "nhwc", "fused", "qgemm", "qattention", "qordered")
_ORT_COMPUTE = frozenset({"convinteger", "matmulinteger", "matmulintegertofloat", "dynamicquantizematmul",
                          "matmulnbits", "quickgelu", "biasgelu", "fastgelu", "skiplayernormalization"})
_DTYPES = {"float": "fp32", "float16": "fp16", "double": "fp64", "bfloat16": "bf16"}
_TOKEN = re.compile(r"_token_\d+$")
_KERNEL_TIME = "_kernel_time"


def classify_ort_node(op_type: str) -> LayerClass:
    """The class of one node of ONNX Runtime's optimised graph (see the module docstring)."""
    low = op_type.lower()
    if op_type in QDQ_OPS:
        return LayerClass.QDQ
    if op_type in REFORMAT_OPS:
        return LayerClass.REFORMAT
    if op_type == "Identity":
        return LayerClass.NOOP
    if op_type == "Constant":
        return LayerClass.CONSTANT
    if low.startswith(_COMPUTE_PREFIXES) or low in _ORT_COMPUTE or low in COMPUTE_OPS:
        return LayerClass.COMPUTE
    return LayerClass.OTHER


def normalize_dtype(name: str | None) -> str | None:
    """ONNX Runtime's type names ("float", "uint8") in the EngineReport spelling ("fp32", "uint8")."""
    return None if name is None else _DTYPES.get(name, name)


def read_ort_profile(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The events of an ONNX Runtime profile (``SessionOptions.enable_profiling``), or BadInputError."""
    path = Path(path)
    try:
        events = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file (expected an ONNX Runtime profile JSON)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInputError(f"{path}: not JSON ({err}); expected an ONNX Runtime profile") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) and "name" in e for e in events):
        raise BadInputError(f"{path}: not an ONNX Runtime profile (expected a list of trace events with a name)")
    return events


def node_times(events: list[dict[str, Any]], warmup: int = 0) -> tuple[dict[str, list[float]], dict[str, dict], int]:
    """Per node name, its time (ms) in each kept run; the args of one event per node; how many runs were kept.

    Args:
        events (list): Profile events.
        warmup (int): Leading ``model_run``\\ s to ignore. Defaults to 0.
    """
    runs = sorted((e["ts"], e["ts"] + e.get("dur", 0)) for e in events if e.get("name") == "model_run" and "ts" in e)
    kept = runs[warmup:]
    starts = [start for start, _ in kept]
    per_run: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    sample: dict[str, dict] = {}
    for event in events:
        name = event.get("name", "")
        if event.get("cat") != "Node" or not name.endswith(_KERNEL_TIME):
            continue
        node = name[: -len(_KERNEL_TIME)]
        if runs:
            run = bisect.bisect_right(starts, event.get("ts", 0)) - 1
            if run < 0 or event.get("ts", 0) > kept[run][1]:
                continue  # a warm-up run
        else:  # no run markers: every event is one sample
            run = len(per_run[node])
        per_run[node][run] += float(event.get("dur", 0)) / 1000.0
        sample.setdefault(node, event.get("args", {}))
    count = len(kept) if runs else max((len(t) for t in per_run.values()), default=0)
    return {node: list(times.values()) for node, times in per_run.items()}, sample, count


def _const_info(tensor: onnx.TensorProto) -> tuple[str | None, tuple[int, ...]]:
    return normalize_dtype(onnx.TensorProto.DataType.Name(tensor.data_type).lower()), tuple(tensor.dims)


def _tensors(names: list[str], shapes: list[dict] | None, consts: dict[str, onnx.TensorProto],
             activations_only: bool = False) -> list[TensorInfo]:
    """TensorInfo for a node's inputs or outputs, types and shapes from the profile's ``input_type_shape``.

    The profile omits inputs ONNX Runtime pre-packed (QLinearConv weights), so entries are matched in order and an
    initializer whose type and shape differ from the next entry is taken as pre-packed (described from the
    initializer itself). With ``activations_only`` initializers are left out, as TensorRT's layer inputs are.
    """
    entries = [(_DTYPES.get(t, t), tuple(d)) for e in (shapes or []) if isinstance(e, dict) for t, d in e.items()]
    infos, j = [], 0
    for name in (n for n in names if n):
        entry = entries[j] if j < len(entries) else None
        if name in consts:
            info = _const_info(consts[name])
            if entry == info:
                j += 1
            if not activations_only:
                infos.append(TensorInfo(name=name, shape=info[1], dtype=info[0]))
            continue
        j += 1
        infos.append(TensorInfo(name=name, shape=entry[1] if entry else None, dtype=entry[0] if entry else None))
    return infos


def _original_nodes(original: onnx.ModelProto) -> tuple[dict[str, str], set[str]]:
    """(tensor -> the node producing it, node names) of the model before optimisation."""
    producers = {out: node.name for node in original.graph.node for out in node.output if node.name}
    return producers, {node.name for node in original.graph.node if node.name}


def _layer(node: onnx.NodeProto, consts: dict[str, onnx.TensorProto], samples: dict[str, dict],
           times: dict[str, list[float]], original: tuple[dict[str, str], set[str]] | None) -> Layer:
    """One node of the optimised graph as a Layer. Its ONNX nodes: the original node of its name (without ONNX
    Runtime's ``_token_N`` suffix) and the original producers of its output tensors; itself without ``original``."""
    name = node.name or node.output[0]
    args = samples.get(name, {})
    node_runs = times.get(name)
    if original is None:
        onnx_nodes: tuple[str, ...] = (name,)
    else:
        producers, names = original
        own = _TOKEN.sub("", name)
        found = ([own] if own in names else []) + [producers[o] for o in node.output if o in producers]
        onnx_nodes = tuple(dict.fromkeys(found))
    raw = {"op_type": node.op_type, "domain": node.domain or "ai.onnx", "provider": args.get("provider")}
    return Layer(
        name=name,
        type=node.op_type,
        cls=classify_ort_node(node.op_type),
        inputs=_tensors(list(node.input), args.get("input_type_shape"), consts, activations_only=True),
        outputs=_tensors(list(node.output), args.get("output_type_shape"), consts),
        onnx_nodes=onnx_nodes,
        weights=_weight(node, consts),
        avg_ms=statistics.fmean(node_runs) if node_runs else None,
        median_ms=statistics.median(node_runs) if node_runs else None,
        raw=raw,
    )


def _weight(node: onnx.NodeProto, consts: dict[str, onnx.TensorProto]) -> tuple[str, ...]:
    """The node's largest constant input with more than one element: its weight, named as in the source model.

    Scales and zero points are left out: ONNX Runtime's ConstantSharing may replace equal ones by one initializer
    of another node's name, and ``merge`` renames activation scales, so they would not pair layers across builds.
    """
    sizes = {i: math.prod(consts[i].dims) for i in node.input if i in consts}
    largest = max(sizes, key=sizes.get, default=None)
    return (largest,) if largest is not None and sizes[largest] > 1 else ()


class EngineReportFromOrtProfile:
    """Build an :class:`EngineReport` from ONNX Runtime's optimised model and its profile.

    Args:
        optimized (ModelProto | path): The optimised model (``optimized_model_filepath``).
        profile (list | path): Profile events or the profile JSON. Defaults to None: no times.
        warmup (int): Leading runs of the profile to ignore. Defaults to 0.
        original (ModelProto): The model before optimisation, to name the ONNX nodes each layer stands for.
            Defaults to None: each layer stands for the node of its own name.
        latency_ms (list[float]): End-to-end latency of timed runs (without profiling). Defaults to None.
        source (str): Where it came from, for messages. Defaults to the optimised model's path.
        notes (list[str]): Caveats to carry in the report. Defaults to None.
    """

    def __init__(
        self,
        optimized: onnx.ModelProto | str | os.PathLike,
        profile: list[dict[str, Any]] | str | os.PathLike | None = None,
        warmup: int = 0,
        original: onnx.ModelProto | None = None,
        latency_ms: list[float] | None = None,
        source: str | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.optimized, self.profile, self.warmup, self.original = optimized, profile, warmup, original
        self.latency_ms, self.source, self.notes = latency_ms, source, notes

    def __call__(self) -> EngineReport:
        optimized, profile, warmup, original = self.optimized, self.profile, self.warmup, self.original
        latency_ms, source = self.latency_ms, self.source
        if not isinstance(optimized, onnx.ModelProto):
            source = source or str(optimized)
            optimized = onnx.load(str(optimized), load_external_data=False)
        events = read_ort_profile(profile) if isinstance(profile, (str, os.PathLike)) else profile
        times, samples, runs = node_times(events, warmup) if events is not None else ({}, {}, None)
        consts = {t.name: t for t in optimized.graph.initializer}
        names = _original_nodes(original) if original is not None else None
        layers = [_layer(node, consts, samples, times, names) for node in optimized.graph.node]
        total = sum(layer.avg_ms or 0.0 for layer in layers)
        if total > 0:
            for layer in layers:
                if layer.avg_ms is not None:
                    layer.share = 100.0 * layer.avg_ms / total
        notes = list(self.notes or [])
        unknown = sorted(set(times) - {layer.name for layer in layers})
        if unknown:
            notes.append(f"{len(unknown)} profiled node(s) are not in the optimised graph (subgraphs?): "
                         + ", ".join(unknown[:5]))
        return EngineReport(
            backend="onnxruntime",
            source=source or optimized.graph.name,
            layers=layers,
            latency=Timings(tuple(latency_ms)) if latency_ms else None,
            measured=True,
            detailed=True,
            notes=notes,
            bindings=[v.name for v in graph_inputs(optimized.graph)]
            + [v.name for v in optimized.graph.output],
            profile_runs=runs,
        )


def engine_report_from_ort_profile(*args: Any, **kwargs: Any) -> EngineReport:
    """Function form of :class:`EngineReportFromOrtProfile` (same arguments): read now."""
    return EngineReportFromOrtProfile(*args, **kwargs)()
