"""Read and validate the JSON files TensorRT tools write about an engine.

Three kinds, all written by ``trtexec`` (and the first also by ``IEngineInspector``):

- layer information (``--exportLayerInfo``): ``{"Layers": [...], "Bindings": [...]}``; each layer is a dict with
  ``--profilingVerbosity=detailed`` and a bare name otherwise;
- per-layer profile (``--exportProfile``): ``[{"count": N}, {"name", "timeMs", "averageMs", ["medianMs"],
  "percentage"}, ...]`` (``medianMs`` appeared with TensorRT 8.4);
- per-inference times (``--exportTimes``): ``[{"startEnqMs", ..., "latencyMs"}, ...]``.

These functions only check that a file is what it claims to be and return its content; turning layers into an
``EngineReport`` is :mod:`qdqtool.engine.trt_report`'s job. Every problem raises ``BadInputError`` with one line
that names the file and what to do.

    >>> info = layer_info_from_data({"Layers": ["conv1 + Relu_2"], "Bindings": ["x"]}, "mem")
    >>> assert not info.detailed and info.layers == ["conv1 + Relu_2"]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdqtool.errors import BadInputError
from qdqtool.io.guard import read_input

# What each kind is and the trtexec flag that writes it, for messages.
KIND_HELP = {
    "layers": "a layer-information JSON (trtexec --exportLayerInfo)",
    "profile": "a per-layer profile JSON (trtexec --exportProfile)",
    "timing": "a per-inference timing JSON (trtexec --exportTimes)",
    "trex-build-metadata": "a TREx build-log summary (*.build.metadata.json)",
    "trex-profile-metadata": "a TREx profiling-log summary (*.profile.metadata.json)",
    "trex-device-metadata": "a TREx device-properties dump (*.engine.metadata.json)",
}


@dataclass
class LayerInfo:
    """The content of a layer-information JSON."""

    source: str
    layers: list[Any]  # dicts (detailed verbosity) or strings (names only)
    bindings: list[str] = field(default_factory=list)

    @property
    def detailed(self) -> bool:
        return bool(self.layers) and isinstance(self.layers[0], dict)


@dataclass
class ProfileRecord:
    """One layer of a ``--exportProfile`` file; times in milliseconds."""

    name: str
    time_ms: float  # total over all profiled runs
    average_ms: float
    median_ms: float | None = None  # absent before TensorRT 8.4
    percentage: float | None = None  # share of the summed layer time


@dataclass
class Profile:
    """The content of a ``--exportProfile`` file."""

    source: str
    records: list[ProfileRecord]
    runs: int | None = None  # the leading {"count": N}


@dataclass
class Timing:
    """The end-to-end latency of each timed inference of a ``--exportTimes`` file."""

    source: str
    latencies_ms: list[float]


def read_json(path: str | os.PathLike, expected: str) -> Any:
    """Parse a JSON file or raise BadInputError saying why it is unusable.

    Args:
        path (str | PathLike): The file.
        expected (str): What it should be (a ``KIND_HELP`` key), for the message.
    """
    path = Path(path)
    what = KIND_HELP.get(expected, expected)
    data = read_input(path, what)
    if not data.strip():
        raise BadInputError(f"{path}: empty file, expected {what}; re-run the export that writes it")
    try:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a byte-order mark (PowerShell's `>` writes it)
            return json.loads(data.decode("utf-16"))
        if b"\x00" in data[:4096]:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: binary file, not JSON (expected {what})") from None
    except json.JSONDecodeError as err:
        raise BadInputError(
            f"{path}: not JSON (line {err.lineno}, column {err.colno}: {err.msg}); expected {what}"
        ) from None


def kind_of(data: Any) -> str | None:
    """Which TensorRT/TREx JSON this is (a ``KIND_HELP`` key), or None when it is none of them."""
    if isinstance(data, dict):
        if "Layers" in data:
            return "layers"
        if "performance_summary" in data or "inference_options" in data:
            return "trex-profile-metadata"
        if "build_options" in data or "model_options" in data:
            return "trex-build-metadata"
        return None
    if isinstance(data, list) and data:
        records = [r for r in data if isinstance(r, dict)]
        if len(records) != len(data):
            return None
        if any("latencyMs" in r for r in records):
            return "timing"
        if any("averageMs" in r for r in records) or records[0].keys() == {"count"}:
            return "profile"
        if any("ComputeCapability" in r for r in records):
            return "trex-device-metadata"
    return None


def _wrong_kind(source: str, data: Any, expected: str) -> BadInputError:
    if data in ([], {}):
        return BadInputError(f"{source}: holds {_describe(data)}, expected {KIND_HELP[expected]}; re-run the export")
    kind = kind_of(data)
    got = KIND_HELP[kind] if kind else f"JSON of another kind ({_describe(data)})"
    return BadInputError(f"{source}: this is {got}, expected {KIND_HELP[expected]}")


def _describe(data: Any) -> str:
    if isinstance(data, dict):
        keys = ", ".join(list(data)[:4])
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(data, list):
        return f"a list of {len(data)} items" if data else "an empty list"
    return f"a {type(data).__name__}"


def layer_info_from_data(data: Any, source: str) -> LayerInfo:
    """Validate parsed layer-information JSON (from a file or ``IEngineInspector.get_engine_information``).

    Args:
        data (Any): The parsed JSON.
        source (str): Where it came from, for messages.
    """
    if kind_of(data) != "layers":
        raise _wrong_kind(source, data, "layers")
    layers = data["Layers"]
    if not isinstance(layers, list):
        raise BadInputError(f'{source}: "Layers" is {_describe(layers)}, expected a list of layers')
    if not layers:
        raise BadInputError(
            f"{source}: the engine lists no layers (built with ProfilingVerbosity NONE?); "
            "rebuild with `trtexec --profilingVerbosity=detailed`"
        )
    if all(isinstance(layer, str) for layer in layers):
        pass  # LAYER_NAMES_ONLY verbosity
    elif all(isinstance(layer, dict) for layer in layers):
        for i, layer in enumerate(layers):
            if not isinstance(layer.get("Name"), str):
                raise BadInputError(f'{source}: layer {i} has no "Name"; is this TensorRT layer information?')
    else:
        raise BadInputError(f'{source}: "Layers" mixes names and layer objects; re-export the file')
    return LayerInfo(source=source, layers=layers, bindings=io_tensor_names(data))


def io_tensor_names(data: dict) -> list[str]:
    """The engine's input and output tensors: TensorRT 10's ``"Bindings"`` (names) or TensorRT 11's
    ``"I/O Tensors"`` (objects with ``"Name"``, ``"IOMode"``, ``"DataType"``, ...; TensorRT 11 migration guide,
    "IEngineInspector JSON Output")."""
    tensors = data.get("I/O Tensors")
    if isinstance(tensors, list):
        return [str(t.get("Name", "")) if isinstance(t, dict) else str(t) for t in tensors]
    bindings = data.get("Bindings", [])
    return [str(b) for b in bindings] if isinstance(bindings, list) else []


def read_layer_info(path: str | os.PathLike) -> LayerInfo:
    """Read a ``trtexec --exportLayerInfo`` file."""
    return layer_info_from_data(read_json(path, "layers"), str(path))


def _number(record: dict, key: str, source: str, index: int, required: bool = True) -> float | None:
    value = record.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInputError(f'{source}: profile record {index} has no numeric "{key}"; re-export the profile')
    return float(value)


def profile_from_data(data: Any, source: str) -> Profile:
    """Validate parsed ``--exportProfile`` JSON."""
    if kind_of(data) != "profile":
        raise _wrong_kind(source, data, "profile")
    runs = None
    records: list[ProfileRecord] = []
    for i, record in enumerate(data):
        if "name" not in record:
            if "count" in record:
                count = record["count"]
                if isinstance(count, bool) or not isinstance(count, (int, float)) or count != count or count < 0:
                    raise BadInputError(f'{source}: profile record {i} has a "count" of {count!r}, not a number of '
                                        "runs; re-export the profile")
                runs = int(count)
                continue
            raise BadInputError(f'{source}: profile record {i} has no "name"; re-export the profile')
        if not isinstance(record["name"], str):
            raise BadInputError(f'{source}: profile record {i} has a "name" of {record["name"]!r}, not a layer name')
        records.append(
            ProfileRecord(
                name=record["name"],
                time_ms=_number(record, "timeMs", source, i, required=False) or 0.0,
                average_ms=_number(record, "averageMs", source, i),
                median_ms=_number(record, "medianMs", source, i, required=False),
                percentage=_number(record, "percentage", source, i, required=False),
            )
        )
    if not records:
        raise BadInputError(f"{source}: the profile holds no layer records; re-run `trtexec --exportProfile=...`")
    return Profile(source=source, records=records, runs=runs)


def read_profile(path: str | os.PathLike) -> Profile:
    """Read a ``trtexec --exportProfile`` file."""
    return profile_from_data(read_json(path, "profile"), str(path))


def timing_from_data(data: Any, source: str) -> Timing:
    """Validate parsed ``--exportTimes`` JSON."""
    if kind_of(data) != "timing":
        raise _wrong_kind(source, data, "timing")
    latencies = []
    for i, record in enumerate(data):
        value = record.get("latencyMs")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInputError(f'{source}: timing record {i} has no numeric "latencyMs"; re-export the times')
        latencies.append(float(value))
    return Timing(source=source, latencies_ms=latencies)


def read_timing(path: str | os.PathLike) -> Timing:
    """Read a ``trtexec --exportTimes`` file."""
    return timing_from_data(read_json(path, "timing"), str(path))
