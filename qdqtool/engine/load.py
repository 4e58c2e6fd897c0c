"""EngineReportFromPath: one entry point for whatever the user points at.

A folder (``*.graph.json`` / ``*.profile.json`` / ``*.timing.json``, or ``layers.json`` / ``profile.json`` /
``timing.json``, or an engine plan, or the ``engine_report.json`` that ``qdqtool build`` writes for any backend), a
layer-information JSON, a saved ``engine_report.json``, or an engine plan (``.plan``, ``.engine``, or any binary
file). Explicit profile and timing files win over the ones found in a folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from qdqtool.engine.report import REPORT_FORMAT, SAVED_REPORT, EngineReport
from qdqtool.engine.trt_plan import engine_report_from_plan
from qdqtool.engine.trt_report import PLAN_SUFFIXES, engine_report_from_trt_json, find_engine_files
from qdqtool.errors import BadInputError
from qdqtool.io import trt_json

_FIX = {
    "profile": "pass the layer-information JSON and add --profile {path}",
    "timing": "pass the layer-information JSON and add --timing {path}",
    "trex-build-metadata": "pass the *.graph.json beside it (or the folder)",
    "trex-profile-metadata": "pass the *.graph.json beside it (or the folder)",
    "trex-device-metadata": "pass the *.graph.json beside it (or the folder)",
}


def _is_binary(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(4096)
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start < len(head) - 4  # a cut multi-byte character at the end is still text
    return False


def _saved_report(path: Path) -> EngineReport:
    """An EngineReport that `qdqtool build` saved (``engine_report.json``)."""
    try:
        return EngineReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as err:
        raise BadInputError(f"{path}: not a readable engine report ({err})") from None


def engine_report_from_path(
    path: str | os.PathLike,
    profile: str | os.PathLike | None = None,
    timing: str | os.PathLike | None = None,
    opt_profile: int | None = None,
) -> EngineReport:
    """Read an engine report from a folder, a layer-information JSON or an engine plan.

    Args:
        path (str | PathLike): What to read.
        profile (str | PathLike): Per-layer profile JSON. Defaults to None: the one in the folder, if any.
        timing (str | PathLike): Per-inference timing JSON. Defaults to None: the one in the folder, if any.
        opt_profile (int): Optimization profile of a multi-profile engine. Defaults to None.
    """
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{path}: no such file or folder")
    if path.is_dir() and (path / SAVED_REPORT).is_file():  # written by `qdqtool build` (any backend)
        return _saved_report(path / SAVED_REPORT)
    if path.is_dir():
        files = find_engine_files(path)
        profile = profile or files.profile
        timing = timing or files.timing
        if files.layers is None:
            return engine_report_from_plan(files.plan, profile, timing, opt_profile)
        return engine_report_from_trt_json(files.layers, profile, timing, opt_profile, source=str(path))
    if not path.is_file():
        raise BadInputError(f"{path}: not a regular file (a pipe or a device); save the engine's JSON or plan to a "
                            "file")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: empty file, expected layer-information JSON or an engine plan")
    if path.suffix == ".onnx":
        raise BadInputError(
            f"{path}: an ONNX model, not an engine; build it and export the layer information "
            f"(trtexec --onnx={path.name} --saveEngine=engine.plan --exportLayerInfo=layers.json "
            "--profilingVerbosity=detailed), then inspect layers.json"
        )
    if path.suffix in PLAN_SUFFIXES or (path.suffix.lower() != ".json" and _is_binary(path)):
        return engine_report_from_plan(path, profile, timing, opt_profile)
    data = trt_json.read_json(path, "layers")
    if isinstance(data, dict) and data.get("format") == REPORT_FORMAT:
        return _saved_report(path)
    kind = trt_json.kind_of(data)
    if kind in _FIX:
        raise BadInputError(f"{path}: this is {trt_json.KIND_HELP[kind]}; {_FIX[kind].format(path=path)}")
    info = trt_json.layer_info_from_data(data, str(path))
    return engine_report_from_trt_json(info, profile, timing, opt_profile)
