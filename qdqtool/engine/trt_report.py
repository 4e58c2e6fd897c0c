"""EngineReportFromTrtJson: an :class:`EngineReport` from TensorRT's layer-information, profile and timing JSON.

Works on a machine without TensorRT or a GPU: the files come from ``trtexec --exportLayerInfo=...
--exportProfile=... --exportTimes=... --profilingVerbosity=detailed`` (or from ``IEngineInspector``).

    >>> report = engine_report_from_trt_json({"Layers": ["QuantizeLinear_2", "w + QuantizeLinear_5 + Conv_7"]})
    >>> assert [layer.cls.value for layer in report.layers] == ["qdq", "compute"] and not report.detailed
"""

from __future__ import annotations

import os
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdqtool.engine import myelin
from qdqtool.engine.classify import classify_layer
from qdqtool.engine.latency import Timings
from qdqtool.engine.onnx_names import normalize_name, onnx_names, split_profile
from qdqtool.engine.report import EngineReport, Layer, LayerClass, TensorInfo
from qdqtool.errors import BadInputError
from qdqtool.io import trt_json
from qdqtool.io.trt_json import LayerInfo, Profile, Timing

# Substrings of TensorRT's "Format/Datatype" strings -> normalised dtype; checked in this order (Polygraphy derives
# the dtype the same way, by substring).
_DTYPES = (
    ("bfloat16", "bf16"),
    ("bf16", "bf16"),
    ("uint8", "uint8"),
    ("int8", "int8"),
    ("int64", "int64"),
    ("int32", "int32"),
    ("int4", "int4"),
    ("fp8", "fp8"),
    ("e4m3", "fp8"),
    ("fp4", "fp4"),
    ("e2m1", "fp4"),
    ("fp16", "fp16"),
    ("half", "fp16"),
    ("fp32", "fp32"),
    ("float", "fp32"),
    ("bool", "bool"),
)

LayersInput = str | os.PathLike | dict | LayerInfo
ProfileInput = str | os.PathLike | list | Profile | None
TimingInput = str | os.PathLike | list | Timing | None


def dtype_from_format(fmt: str | None) -> str | None:
    """``"Thirty-two wide channel vectorized row major Int8 format"`` -> ``"int8"``; None when unknown."""
    if not fmt:
        return None
    low = fmt.lower()
    return next((dtype for key, dtype in _DTYPES if key in low), None)


def tensor_format(raw: dict) -> str | None:
    """A layer tensor's format and type as one string: TensorRT <= 10 writes ``"Format/Datatype"`` (``"Row major
    linear FP32"``), TensorRT 11 splits it into ``"Datatype"`` and ``"Format"``; joined here in that order, as
    Polygraphy's engine reader does."""
    combined = raw.get("Format/Datatype")
    if isinstance(combined, str):
        return combined
    parts = [raw.get(key) for key in ("Datatype", "DataType", "Format")]
    joined = " ".join(str(p) for p in parts if isinstance(p, str) and p)
    return joined or None


def _split_dtype(raw: dict) -> str | None:
    """TensorRT 11's own ``"Datatype"`` field, which is the type even where ``"Format"`` names another."""
    value = raw.get("Datatype", raw.get("DataType"))
    return dtype_from_format(value) if isinstance(value, str) else None


def _tensor(raw: Any) -> TensorInfo:
    if not isinstance(raw, dict):
        return TensorInfo(name=str(raw))
    dims = raw.get("Dimensions")
    whole = isinstance(dims, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in dims)
    shape = tuple(dims) if whole else None
    fmt = tensor_format(raw)
    return TensorInfo(
        name=split_profile(normalize_name(str(raw.get("Name", ""))))[0],
        shape=shape,
        dtype=_split_dtype(raw) or dtype_from_format(fmt),
        format=fmt,
    )


def layer_from_trt(raw: dict | str) -> Layer:
    """One :class:`Layer` from a layer-information entry (a dict, or a bare name with names-only verbosity)."""
    if isinstance(raw, str):
        name = split_profile(normalize_name(raw))[0]
        nodes, weights = onnx_names(name)
        layer = Layer(name=name, type="", onnx_nodes=nodes, weights=weights, raw={"Name": raw})
    else:
        name = split_profile(normalize_name(raw["Name"]))[0]
        metadata = raw.get("Metadata")
        nodes, weights = onnx_names(name, metadata if isinstance(metadata, str) else None)
        tactic = _text(raw.get("TacticName")) or _text(raw.get("TacticValue"))
        layer = Layer(
            name=name,
            type=_text(raw.get("LayerType")) or _text(raw.get("ParameterType")) or "",
            origin=_text(raw.get("Origin")),
            inputs=[_tensor(t) for t in _list(raw.get("Inputs"))],
            outputs=[_tensor(t) for t in _list(raw.get("Outputs"))],
            tactic=tactic,
            onnx_nodes=nodes,
            weights=weights,
            raw=raw,
        )
    layer.cls = classify_layer(layer)
    if layer.cls is LayerClass.QDQ and myelin.is_myelin_kernel(layer):
        layer.onnx_tensors = myelin.onnx_tensors(layer)
    return layer


def _text(value: Any) -> str | None:
    """A string field as TensorRT writes it, or None: a field of another type (a hand-edited or foreign file)
    carries nothing this reader can trust."""
    return value if isinstance(value, str) and value else None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _resolve(value: Any) -> Any:
    return value() if callable(value) else value


def _as_layer_info(layers: LayersInput) -> LayerInfo:
    if isinstance(layers, LayerInfo):
        return layers
    if isinstance(layers, dict):
        return trt_json.layer_info_from_data(layers, "<layer information>")
    return trt_json.read_layer_info(layers)


def _as_profile(profile: ProfileInput) -> Profile | None:
    return _as(profile, Profile, trt_json.profile_from_data, trt_json.read_profile, "<profile>")


def _as_timing(timing: TimingInput) -> Timing | None:
    return _as(timing, Timing, trt_json.timing_from_data, trt_json.read_timing, "<timing>")


def _as(value: Any, kind: type, from_data: Callable, read: Callable, label: str) -> Any:
    """None, an already-read ``kind``, parsed JSON (a list) or a path -> ``kind`` or None."""
    if value is None or isinstance(value, kind):
        return value
    return from_data(value, label) if isinstance(value, list) else read(value)


def _profile_of(raw: Any) -> int:
    name = raw if isinstance(raw, str) else raw["Name"]
    return split_profile(normalize_name(name))[1]


def _pick_opt_profile(info: LayerInfo, profile: Profile | None, opt_profile: int | None) -> tuple[int, list[int]]:
    present = sorted({_profile_of(raw) for raw in info.layers})
    if opt_profile is None and profile is not None:
        timed = {split_profile(normalize_name(r.name))[1] for r in profile.records}
        if len(timed) == 1:
            opt_profile = timed.pop()
    chosen = 0 if opt_profile is None else opt_profile
    if chosen not in present:
        listed = ", ".join(str(p) for p in present)
        raise BadInputError(
            f"{info.source}: the engine has no optimization profile {chosen} (it has {listed}); pick one of those"
        )
    return chosen, present


def _attach_profile(layers: list[Layer], profile: Profile, opt_profile: int, layer_source: str) -> list[str]:
    """Copy times onto the layers (joined by name, in order for repeated names); return notes."""
    by_name: dict[str, deque[Layer]] = defaultdict(deque)
    for layer in layers:
        by_name[layer.name].append(layer)
    unknown = []
    for record in profile.records:
        name, index = split_profile(normalize_name(record.name))
        if index != opt_profile:
            raise BadInputError(
                f"{profile.source}: times optimization profile {index} but profile {opt_profile} was chosen; "
                f"pass --opt-profile {index} or the profile JSON of profile {opt_profile}"
            )
        queue = by_name.get(name)
        if not queue:
            unknown.append(name)
            continue
        layer = queue.popleft()
        layer.avg_ms = record.average_ms
        layer.median_ms = record.median_ms
        layer.share = record.percentage
    if unknown:
        example = unknown[0] if len(unknown[0]) <= 80 else unknown[0][:77] + "..."
        raise BadInputError(
            f"{profile.source}: names {len(unknown)} layer(s) that {layer_source} does not have (e.g. '{example}'); "
            "both files must come from the same engine "
            "(trtexec --loadEngine=E --exportLayerInfo=... --exportProfile=...)"
        )
    notes = []
    untimed = [layer.name for layer in layers if layer.avg_ms is None]
    if untimed:
        notes.append(f"{len(untimed)} layer(s) have no profile record (e.g. '{untimed[0]}'); their time is unknown")
    total = sum(layer.avg_ms or 0.0 for layer in layers)
    if total > 0 and any(layer.avg_ms is not None and layer.share is None for layer in layers):
        for layer in layers:
            if layer.avg_ms is not None and layer.share is None:
                layer.share = 100.0 * layer.avg_ms / total
    return notes


def engine_report_from_trt_json(
    layers: LayersInput | Callable[[], LayersInput],
    profile: ProfileInput | Callable[[], ProfileInput] = None,
    timing: TimingInput | Callable[[], TimingInput] = None,
    opt_profile: int | None = None,
    source: str | None = None,
) -> EngineReport:
    """Build an :class:`EngineReport` from TensorRT JSON.

    Args:
        layers (path | dict | LayerInfo | callable): Layer information (``--exportLayerInfo`` or IEngineInspector).
        profile (path | list | Profile | callable): Per-layer profile (``--exportProfile``). Defaults to None.
        timing (path | list | Timing | callable): Per-inference times (``--exportTimes``). Defaults to None.
        opt_profile (int): Which optimization profile to report for a multi-profile engine. Defaults to None: the
            profile the profile JSON timed, else 0.
        source (str): Where the engine came from, for messages. Defaults to None: the layer file.

    Returns:
        EngineReport: One layer per engine layer of the chosen optimization profile, with times when a profile was
        given and end-to-end latency when a timing file was given.
    """
    info = _as_layer_info(_resolve(layers))
    prof = _as_profile(_resolve(profile))
    times = _as_timing(_resolve(timing))
    chosen, present = _pick_opt_profile(info, prof, opt_profile)
    notes: list[str] = []
    kept = [raw for raw in info.layers if _profile_of(raw) == chosen]
    result = [layer_from_trt(raw) for raw in kept]
    if len(present) > 1:
        notes.append(
            f"the engine has {len(present)} optimization profiles; showing profile {chosen} "
            "(choose another with --opt-profile)"
        )
    if not info.detailed:
        notes.append(
            "names-only layer information: types, precisions and shapes are unknown; rebuild with "
            "`trtexec --profilingVerbosity=detailed` for the full report"
        )
    if prof is not None:
        notes.extend(_attach_profile(result, prof, chosen, info.source))
    bindings = [split_profile(normalize_name(b)) for b in info.bindings]
    return EngineReport(
        backend="tensorrt",
        source=source or info.source,
        layers=result,
        latency=Timings(tuple(times.latencies_ms)) if times and times.latencies_ms else None,
        measured=True,
        detailed=info.detailed,
        notes=notes,
        bindings=[name for name, index in bindings if index == chosen],
        opt_profile=chosen,
        opt_profiles=len(present),
        profile_runs=prof.runs if prof else None,
    )


class EngineReportFromTrtJson:
    """Loader form of :func:`engine_report_from_trt_json`: configure now, read when called.

    Each argument may be a value or a callable returning one, so a chain is built before anything is read.
    """

    def __init__(
        self,
        layers: LayersInput | Callable[[], LayersInput],
        profile: ProfileInput | Callable[[], ProfileInput] = None,
        timing: TimingInput | Callable[[], TimingInput] = None,
        opt_profile: int | None = None,
        source: str | None = None,
    ) -> None:
        self.layers, self.profile, self.timing = layers, profile, timing
        self.opt_profile, self.source = opt_profile, source

    def __call__(self) -> EngineReport:
        return engine_report_from_trt_json(self.layers, self.profile, self.timing, self.opt_profile, self.source)


# --- folders ------------------------------------------------------------------------------------------------------

# (layer info, profile, timing) names: the TREx/trtexec-script suffixes, then plain names.
_SUFFIXES = (".graph.json", ".profile.json", ".timing.json")
_PLAIN = ("layers.json", "profile.json", "timing.json")
PLAN_SUFFIXES = (".plan", ".engine", ".trt")


@dataclass
class EngineFiles:
    """The files of one engine found in a folder."""

    folder: Path
    layers: Path | None = None
    profile: Path | None = None
    timing: Path | None = None
    plan: Path | None = None


def _one(folder: Path, found: list[Path], what: str) -> Path | None:
    if len(found) > 1:
        names = ", ".join(p.name for p in found[:3])
        raise BadInputError(f"{folder}: holds {len(found)} {what} files ({names}); pass the files you mean directly")
    return found[0] if found else None


def find_engine_files(folder: str | os.PathLike) -> EngineFiles:
    """Find one engine's files in a folder: ``*.graph.json``/``*.profile.json``/``*.timing.json`` (the naming of
    TREx and the trt-samples), or ``layers.json``/``profile.json``/``timing.json``, or an engine plan.

    Raises BadInputError when the folder holds none, or files of several engines.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    found = [
        _one(folder, [p for p in files if p.name.endswith(suffix) or p.name == plain], what)
        for suffix, plain, what in zip(_SUFFIXES, _PLAIN, ("layer-information", "profile", "timing"), strict=True)
    ]
    layers, profile, timing = found
    plan = None
    if layers is None:
        plan = _one(folder, [p for p in files if p.suffix in PLAN_SUFFIXES], "engine plan")
    if layers is None and plan is None:
        raise BadInputError(
            f"{folder}: no engine files (expected *.graph.json or layers.json from `trtexec --exportLayerInfo`, "
            "optionally *.profile.json / profile.json and *.timing.json / timing.json, or an engine .plan)"
        )
    return EngineFiles(folder=folder, layers=layers, profile=profile, timing=timing, plan=plan)
