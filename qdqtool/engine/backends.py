"""The backends ``build`` and ``compare`` can use: a small registry, name -> loader (and latency timer).

A backend is registered once, in :data:`BACKENDS` below (one :class:`Backend` entry). Its loader and timer are given
as ``"module:attribute"`` strings and imported only when that backend is used, so ``qdqtool build --help`` never
imports ONNX Runtime or TensorRT.

- ``loader(model, output, options, progress)`` returns a callable (a Polygraphy-style loader) that builds ``model``,
  writes the backend's files into the folder ``output`` and returns an :class:`~qdqtool.engine.report.EngineReport`.
- ``timer(model, output, options)`` returns a :class:`LatencyTimer` over what the loader wrote (or the model), for
  ``compare``'s interleaved latency rounds. A backend that cannot run the model (a predictor) has no timer.

    >>> backend = get_backend("onnxruntime")
    >>> report = backend.loader()(Path("model.onnx"), Path("out"), BuildOptions(iterations=10), None)()
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from qdqtool.errors import BadInputError, InternalError
from qdqtool.io.atomic import atomic_dir

# progress(phase, done, total): what a long build is doing; done/total are None when unknown.
ProgressSink = Callable[[str, "int | None", "int | None"], None]


@dataclass
class BuildOptions:
    """How to build and measure one model. "None means default"; backends ignore options that are not theirs."""

    warmup: int = 5  # untimed runs before profiling and timing
    iterations: int = 20  # profiled runs (per-layer times) and, with `latency`, timed runs (end-to-end)
    latency: bool = True  # time `iterations` end-to-end runs after profiling (compare times on its own)
    threads: int = 1  # onnxruntime: intra_op_num_threads and inter_op_num_threads
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # for dynamic inputs
    seed: int = 0  # of the random input data
    # TensorRT
    strongly_typed: bool | None = None  # None: strongly typed on TensorRT >= 11, weakly typed (INT8+FP16) before
    timing_cache: Path | None = None  # read before and written after the build
    builder_optimization_level: int | None = None
    workspace: int | None = None  # bytes (MemoryPoolType.WORKSPACE)


class LatencyTimer(Protocol):
    """Runs one built model repeatedly; a context manager that frees the runtime on exit."""

    def __enter__(self) -> LatencyTimer: ...

    def __exit__(self, *exc: object) -> None: ...

    def time(self, runs: int) -> list[float]:
        """Run the model ``runs`` times; the end-to-end time of each run in milliseconds."""
        ...


@dataclass(frozen=True)
class Backend:
    """One entry of the registry."""

    name: str
    summary: str  # one line for --help
    loader_path: str  # "module:attribute" of loader(model, output, options, progress) -> () -> EngineReport
    timer_path: str | None = None  # "module:attribute" of timer(model, output, options) -> LatencyTimer
    default_target: str = "tensorrt"  # the rules file `compare` merges for by default
    files: tuple[str, ...] = ()  # what `build` writes into the output folder

    def loader(self) -> Callable[..., Callable[[], Any]]:
        return _resolve(self.loader_path)

    def timer(self) -> Callable[..., LatencyTimer] | None:
        return _resolve(self.timer_path) if self.timer_path else None


@contextlib.contextmanager
def output_folder(output: Path) -> Iterator[Path]:
    """A temporary folder beside ``output`` to write a build into (publish the files from it when done).

    On failure nothing is left behind: not the temporary folder, and not ``output`` itself if it was created here.
    """
    created = not output.exists()
    try:
        with atomic_dir(output) as tmp:
            yield tmp
    except BaseException:
        if created and output.is_dir() and not any(output.iterdir()):
            output.rmdir()
        raise


def _resolve(path: str) -> Any:
    module, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as err:
        raise InternalError(f"backend entry {path!r} cannot be loaded: {err}") from err


BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend) -> Backend:
    """Add ``backend`` to the registry; a name may be registered once."""
    if backend.name in BACKENDS:
        raise InternalError(f"backend {backend.name!r} is registered twice")
    BACKENDS[backend.name] = backend
    return backend


def get_backend(name: str) -> Backend:
    """The backend called ``name``, or BadInputError naming the ones there are."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise BadInputError(f"unknown backend {name!r}: choose one of {', '.join(available_backends())}") from None


def available_backends() -> list[str]:
    return list(BACKENDS)


# --- the registry ---------------------------------------------------------------------------------------------------

register_backend(Backend(
    name="onnxruntime",
    summary="ONNX Runtime CPU, all graph optimisations; real runs, per-node profile",
    loader_path="qdqtool.engine.ort_backend:EngineReportFromOrt",
    timer_path="qdqtool.engine.ort_backend:OrtTimer",
    default_target="onnxruntime-cpu",
    files=("optimized.onnx", "profile.json", "engine_report.json"),
))
register_backend(Backend(
    name="tensorrt",
    summary="TensorRT through Polygraphy (needs qdqtool[tensorrt] and a GPU)",
    loader_path="qdqtool.engine.trt_backend:EngineReportFromTrt",
    timer_path="qdqtool.engine.trt_backend:TrtTimer",
    default_target="tensorrt",
    files=("engine.plan", "layers.json", "profile.json", "timing.json", "engine_report.json"),
))
register_backend(Backend(
    name="trt-sim",
    summary="TensorRT predicted on the CPU (no GPU): Q/DQ propagation and fusion rules from rules/tensorrt.toml",
    loader_path="qdqtool.engine.predictor.report:EngineReportFromTrtSim",
    default_target="tensorrt",
    files=("engine_report.json",),
))
