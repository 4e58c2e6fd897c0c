"""EngineReportFromPlan: an :class:`EngineReport` from a serialized engine (``engine.plan``), through TensorRT.

TensorRT is optional: it is imported only when a plan is read, through :func:`qdqtool._lazy.require`, and its
absence is a one-line error naming the ``qdqtool[tensorrt]`` extra and the trtexec JSON route.

What can be known about a plan file is limited. NVIDIA does not document the plan format: a plan is a "serialized
binary blob", loadable only by the TensorRT version that built it (unless built version-compatible), and "the
general runtime has no separate compatibility preflight API: deserialize ..., require a non-null engine, and inspect
the TensorRT logger" (TensorRT support matrix, Engine Portability). So, without TensorRT, only files that are surely
not engines (empty, text, JSON, ONNX) are recognised; with TensorRT, a failed deserialization is reported with what
TensorRT logged, which is what tells a foreign-version engine from a file that is no engine at all.

    >>> check_plan_bytes(bytes(range(256)), "engine.plan")  # binary: may be an engine, only TensorRT can tell
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qdqtool.engine.report import EngineReport
from qdqtool.engine.trt_report import ProfileInput, TimingInput, engine_report_from_trt_json
from qdqtool.engine.trt_start import import_tensorrt
from qdqtool.errors import BadInputError, first_line
from qdqtool.io import trt_json
from qdqtool.io.guard import read_input

_TEXT_PROBE = 4096


def check_plan_bytes(data: bytes, source: str) -> None:
    """Raise BadInputError when a file's content shows it is certainly not a serialized engine.

    Args:
        data (bytes): The file's content.
        source (str): The file, for messages.
    """
    if not data:
        raise BadInputError(f"{source}: empty file, not a TensorRT engine")
    if _is_onnx(data):
        raise BadInputError(
            f"{source}: an ONNX model, not a TensorRT engine; build it (`qdqtool build {source} --backend tensorrt`, "
            "or trtexec --onnx=...) or analyze it (`qdqtool analyze`)"
        )
    if b"\x00" in data[:_TEXT_PROBE]:
        return  # binary: may be an engine; only TensorRT can tell
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    what = "a text file"
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            kind = trt_json.kind_of(json.loads(text))
        except json.JSONDecodeError:
            kind = None
        what = trt_json.KIND_HELP[kind] if kind else "a JSON or text file"
        if kind == "layers":
            raise BadInputError(
                f"{source}: not a TensorRT engine but {what}; rename it to .json and run `qdqtool inspect` on it"
            )
    raise BadInputError(f"{source}: not a TensorRT engine (it is {what}; a serialized engine is a binary file)")


def _is_onnx(data: bytes) -> bool:
    """A serialized ONNX ModelProto (protobuf parses almost anything: ask for a graph with nodes and an opset)."""
    import onnx
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError):
        return False
    return model.ir_version > 0 and bool(model.opset_import) and len(model.graph.node) > 0


def _make_logger(trt: Any) -> Any:
    class _Collect(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                self.errors.append(str(msg).strip())

    return _Collect()


def _deserialize_error(path: Path, version: str, said: str) -> BadInputError:
    said = " ".join(said.split()) or "no message"
    if "version" in said.lower():
        what = f"an engine built by another TensorRT version than this {version}"
    else:
        what = f"not an engine TensorRT {version} can load (not an engine, or built by another TensorRT version"
        what += " or for another GPU/platform)"
    return BadInputError(
        f"{path}: {what}; TensorRT says: {said}. Engines load only with the TensorRT version that built them "
        "(unless built version-compatible): rebuild it here, or export the JSON on the machine that built it "
        "(trtexec --loadEngine=... --exportLayerInfo=... --profilingVerbosity=detailed)"
    )


def engine_report_from_plan(
    path: str | os.PathLike,
    profile: ProfileInput | Callable[[], ProfileInput] = None,
    timing: TimingInput | Callable[[], TimingInput] = None,
    opt_profile: int | None = None,
) -> EngineReport:
    """Deserialize an engine with TensorRT and read its layers with ``IEngineInspector``.

    Args:
        path (str | PathLike): The ``.plan`` / ``.engine`` file.
        profile: Per-layer profile JSON of the same engine (``--exportProfile``). Defaults to None.
        timing: Per-inference times of the same engine (``--exportTimes``). Defaults to None.
        opt_profile (int): Optimization profile to report. Defaults to None (see ``engine_report_from_trt_json``).

    Raises:
        BadInputError: the file is not an engine, or not one this TensorRT can load.
        MissingDependencyError: TensorRT is not installed.
    """
    path = Path(path)
    data = read_input(path, "a TensorRT engine")
    check_plan_bytes(data, str(path))
    trt = import_tensorrt(f"reading the engine {path.name}", route=(
        f"on a machine with TensorRT, export what it holds with `trtexec --loadEngine={path} "
        "--exportLayerInfo=layers.json --exportProfile=profile.json --profilingVerbosity=detailed` and run "
        "`qdqtool inspect layers.json --profile profile.json` here"
    ))
    logger = _make_logger(trt)
    version = getattr(trt, "__version__", "?")
    try:
        runtime = trt.Runtime(logger)
    except Exception as err:  # noqa: BLE001 - no usable GPU or driver: the bindings' factory returns nullptr
        raise BadInputError(
            f"{path}: TensorRT {version} is installed but cannot start its runtime here ({first_line(err)}): reading a "
            "plan needs an NVIDIA GPU; on the machine that built it run `trtexec --loadEngine=... "
            "--exportLayerInfo=layers.json --profilingVerbosity=detailed` and inspect layers.json here"
        ) from None
    from polygraphy.backend.trt import EngineFromBytes
    from polygraphy.logger import G_LOGGER

    try:  # the bytes read above (Polygraphy's EngineFromPath would read the file again)
        with G_LOGGER.verbosity(G_LOGGER.CRITICAL):  # Polygraphy's own log: qdqtool says what went wrong
            engine = EngineFromBytes(data, runtime=runtime)()
    except Exception as err:  # noqa: BLE001 - Polygraphy and the bindings raise various types for a bad blob
        raise _deserialize_error(path, version, "; ".join([*logger.errors, first_line(err)])) from None
    if engine is None:
        raise _deserialize_error(path, version, "; ".join(logger.errors))
    inspector = engine.create_engine_inspector()
    try:  # shapes of dynamic-shape engines are resolved only with an execution context
        inspector.execution_context = engine.create_execution_context()
    except Exception:  # noqa: BLE001 - no GPU memory for a context: the static information is still useful
        pass
    text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
    try:
        info = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        raise BadInputError(f"{path}: TensorRT returned no layer information for this engine") from None
    return engine_report_from_trt_json(info, profile, timing, opt_profile, source=str(path))


class EngineReportFromPlan:
    """Loader form of :func:`engine_report_from_plan`: configure now, deserialize when called."""

    def __init__(
        self,
        path: str | os.PathLike,
        profile: ProfileInput | Callable[[], ProfileInput] = None,
        timing: TimingInput | Callable[[], TimingInput] = None,
        opt_profile: int | None = None,
    ) -> None:
        self.path, self.profile, self.timing, self.opt_profile = path, profile, timing, opt_profile

    def __call__(self) -> EngineReport:
        return engine_report_from_plan(self.path, self.profile, self.timing, self.opt_profile)
