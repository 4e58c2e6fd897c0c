"""EngineReportFromTrt: build a TensorRT engine through Polygraphy's loaders, profile it and time it.

The build is Polygraphy's chain, assembled by :func:`trt_loaders` without importing TensorRT (Polygraphy's loaders
only import it when called):

    NetworkFromOnnxPath(model, strongly_typed=...)
      -> EngineFromNetwork(network, PostprocessConfig(CreateConfig(...), SetBuildLimits(...)), save_timing_cache=...)
      -> SaveEngine(engine, "engine.plan")

Two paths, picked by the installed TensorRT version (override with ``strongly_typed``):

- TensorRT 10, weakly typed: ``CreateConfig(int8=True, fp16=True)``; the builder may pick INT8 where Q/DQ allow it.
- strongly typed (TensorRT >= 11, where it is the only mode): no precision flags; the Q/DQ nodes alone decide.

Always ``ProfilingVerbosity.DETAILED`` (so layer information names the fused ONNX nodes); ``timing_cache`` is read
before and written after the build; ``builder_optimization_level`` and ``workspace`` (MemoryPoolType.WORKSPACE) when
given; input shapes of dynamic models become one Polygraphy ``Profile`` (min = opt = max). The build reports its
phases to ``progress`` through TensorRT's IProgressMonitor (TensorRT >= 10).

After the build, in the same formats ``qdqtool inspect`` reads: ``layers.json`` (IEngineInspector, JSON),
``profile.json`` (per-layer times from an IProfiler over ``iterations`` runs after ``warmup``, as
``trtexec --exportProfile`` writes it) and ``timing.json`` (end-to-end time of ``iterations`` more runs without the
profiler, one ``{"latencyMs": ...}`` record per inference as in ``trtexec --exportTimes``; Polygraphy's runner times a
whole inference, copies included, so the H2D/compute/D2H split is not recorded), plus ``engine_report.json``.

Without TensorRT (or without a GPU) nothing is built: MissingDependencyError (exit 2) names ``qdqtool[tensorrt]`` and
the ``trtexec`` command that writes the same files on a GPU machine.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from polygraphy.backend.trt import (
    CreateConfig,
    EngineFromNetwork,
    EngineFromPath,
    NetworkFromOnnxPath,
    PostprocessConfig,
    Profile,
    SaveEngine,
    TrtRunner,
)
from polygraphy.logger import G_LOGGER

from qdqtool._lazy import require
from qdqtool.engine.backends import BACKENDS, BuildOptions, ProgressSink, output_folder
from qdqtool.engine.report import SAVED_REPORT, EngineReport
from qdqtool.engine.trt_report import engine_report_from_trt_json
from qdqtool.engine.trt_start import (
    import_tensorrt,
    major_of,
    start,
    strongly_typed_by_default,
    trtexec_precision_flags,
    trtexec_version_note,
)
from qdqtool.errors import BadInputError, QdqToolError, first_line
from qdqtool.io.atomic import publish
from qdqtool.io.data.random_data import random_feed
from qdqtool.io.data.shapes import model_inputs
from qdqtool.io.onnx_io import graph_inputs

PLAN, LAYERS, PROFILE, TIMING = "engine.plan", "layers.json", "profile.json", "timing.json"
REPORT = SAVED_REPORT


def resolve_strongly_typed(requested: bool | None, trt_version: str) -> bool:
    """Strongly typed or not: as requested, else by version (TensorRT >= 11: strongly typed, before: weakly typed).

    Raises BadInputError for a weakly typed build on TensorRT 11 or later, which cannot make one.
    """
    if major_of(trt_version) is None:
        raise BadInputError(f"cannot read the TensorRT version {trt_version!r}")
    only = strongly_typed_by_default(trt_version)
    if requested is None:
        return only
    if not requested and only:
        raise BadInputError(
            f"TensorRT {trt_version} builds strongly typed networks only; drop --no-strongly-typed"
        )
    return requested


def _input_names(model: Path) -> list[str]:
    try:
        proto = onnx.load(str(model), load_external_data=False)
    except Exception as err:  # noqa: BLE001 - protobuf and OS errors alike
        raise BadInputError(f"{model}: not a readable ONNX model: {err}") from None
    return [v.name for v in graph_inputs(proto.graph)]


def _shapes(model: Path, input_shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """``input_shapes`` with the ``""`` shorthand (single input) resolved to the input's name."""
    shapes = dict(input_shapes)
    if "" in shapes:
        names = _input_names(model)
        if len(names) != 1:
            raise BadInputError(f"--input-shape without a name needs a single-input model; inputs are {names}")
        shapes[names[0]] = shapes.pop("")
    return shapes


class SetBuildLimits:
    """The PostprocessConfig step: detailed profiling verbosity always, and the workspace limit when given.

    A step rather than CreateConfig arguments because both need TensorRT enums, which must not be imported before
    the build runs (CreateConfig sets DETAILED by default too; this makes it explicit).
    """

    def __init__(self, workspace: int | None = None) -> None:
        self.workspace = workspace

    def __call__(self, builder: Any, network: Any, config: Any) -> None:
        trt = require("tensorrt", "building with --backend tensorrt")
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
        if self.workspace is not None:
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.workspace)


@dataclass
class TrtLoaders:
    """The Polygraphy loader chain of one build; nothing runs until ``save()`` is called."""

    network: NetworkFromOnnxPath
    create_config: CreateConfig
    config: PostprocessConfig
    engine: EngineFromNetwork
    save: SaveEngine
    strongly_typed: bool


def trt_loaders(model: Path, plan: Path, options: BuildOptions, trt_version: str,
                progress_monitor: Any = None) -> TrtLoaders:
    """Assemble the build as Polygraphy loaders (see the module docstring). Does not import TensorRT.

    Args:
        model (Path): The ONNX model.
        plan (Path): Where SaveEngine writes the engine.
        options (BuildOptions): Strongly typed or not, timing cache, optimisation level, workspace, input shapes.
        trt_version (str): The TensorRT version the build is for (``tensorrt.__version__``).
        progress_monitor (trt.IProgressMonitor): Passed to CreateConfig. Defaults to None.
    """
    strongly_typed = resolve_strongly_typed(options.strongly_typed, trt_version)
    shapes = _shapes(model, options.input_shapes)
    profiles = None
    if shapes:
        profile = Profile()
        for name, shape in shapes.items():
            profile.add(name, min=shape, opt=shape, max=shape)
        profiles = [profile]
    cache = str(options.timing_cache) if options.timing_cache else None
    precision = {} if strongly_typed else {"int8": True, "fp16": True}
    with G_LOGGER.verbosity():  # Polygraphy logs to stdout; qdqtool's stdout may be a JSON document
        network = NetworkFromOnnxPath(str(model), strongly_typed=strongly_typed)
        create = CreateConfig(
            **precision, profiles=profiles, load_timing_cache=cache,
            builder_optimization_level=options.builder_optimization_level, progress_monitor=progress_monitor,
        )
        config = PostprocessConfig(create, SetBuildLimits(options.workspace))
        engine = EngineFromNetwork(network, config=config, save_timing_cache=cache)
        save = SaveEngine(engine, str(plan))
    return TrtLoaders(network=network, create_config=create, config=config, engine=engine, save=save,
                      strongly_typed=strongly_typed)


def trtexec_command(model: Path, output: Path, options: BuildOptions, trt_version: str | None = None) -> str:
    """The trtexec command that writes the files ``build --backend tensorrt`` would (on a GPU machine).

    Args:
        trt_version (str): The TensorRT the command is for; None: unknown (the flags then say what differs on 11).
    """
    parts = [f"trtexec --onnx={model}", f"--saveEngine={output / PLAN}", f"--exportLayerInfo={output / LAYERS}",
             f"--exportProfile={output / PROFILE}", f"--exportTimes={output / TIMING}",
             "--profilingVerbosity=detailed", "--separateProfileRun"]
    flags = trtexec_precision_flags(options.strongly_typed, trt_version)
    if flags:
        parts.append(flags)
    if options.input_shapes:
        shapes = _shapes(model, options.input_shapes)
        parts.append("--shapes=" + ",".join(f"{n}:{'x'.join(map(str, s))}" for n, s in shapes.items()))
    if options.timing_cache:
        parts.append(f"--timingCacheFile={options.timing_cache}")
    if options.builder_optimization_level is not None:
        parts.append(f"--builderOptimizationLevel={options.builder_optimization_level}")
    if options.workspace is not None:
        parts.append(f"--memPoolSize=workspace:{options.workspace // (1 << 20)}M")
    return " ".join(parts)


def gpu_route(model: Path, output: Path, options: BuildOptions, trt_version: str | None) -> str:
    """What to do without a usable GPU here: the trtexec command for a GPU machine, and the CPU predictor."""
    predictor = "; or predict on this CPU with `--backend trt-sim`" if "trt-sim" in BACKENDS else ""
    return (f"on a machine with an NVIDIA GPU, write the same files with "
            f"`{trtexec_command(model, output, options, trt_version)}`{trtexec_version_note(trt_version)} and read "
            f"them with "
            f"`qdqtool inspect {output}`{predictor}")


def require_tensorrt(model: Path, output: Path, options: BuildOptions) -> Any:
    """Import TensorRT and start a builder, or raise a one-line error with the GPU route that fits what is installed
    (MissingDependencyError without TensorRT or with a too old Polygraphy, TensorRtUnusable without a GPU)."""
    trt = import_tensorrt("--backend tensorrt", gpu_route(model, output, options, None))
    start(trt, "--backend tensorrt", gpu_route(model, output, options, trt.__version__))
    return trt


def _progress_monitor(trt: Any, progress: ProgressSink | None) -> Any:
    """A trt.IProgressMonitor forwarding phases to ``progress`` (None before TensorRT 10, or without a sink)."""
    if progress is None or not hasattr(trt, "IProgressMonitor"):
        return None

    class Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.steps: dict[str, int] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self.steps[phase_name] = num_steps
            progress(phase_name, 0, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            progress(phase_name, step + 1, self.steps.get(phase_name))
            return True  # never cancel

        def phase_finish(self, phase_name: str) -> None:
            total = self.steps.pop(phase_name, None)
            progress(phase_name, total, total)

    return Monitor()


def _profiler(trt: Any) -> Any:
    class LayerTimes(trt.IProfiler):
        """Collects IProfiler.report_layer_time calls: per layer, one time per inference."""

        def __init__(self) -> None:
            trt.IProfiler.__init__(self)
            self.times: dict[str, list[float]] = {}

        def report_layer_time(self, layer_name: str, ms: float) -> None:
            self.times.setdefault(layer_name, []).append(ms)

    return LayerTimes()


def profile_records(times: dict[str, list[float]], runs: int) -> list[dict[str, Any]]:
    """Per-layer times in the ``trtexec --exportProfile`` format: ``[{"count": N}, {"name", "timeMs", ...}]``."""
    total = sum(sum(v) for v in times.values()) or 1.0
    records: list[dict[str, Any]] = [{"count": runs}]
    for name, values in times.items():
        records.append({"name": name, "timeMs": sum(values), "averageMs": sum(values) / len(values),
                        "medianMs": statistics.median(values), "percentage": 100.0 * sum(values) / total})
    return records


def timing_records(latencies_ms: list[float]) -> list[dict[str, float]]:
    """End-to-end times in the ``trtexec --exportTimes`` layout: one record per inference, with ``latencyMs`` only
    (the one key this runner measures; TREx and ``qdqtool inspect`` read only that one)."""
    return [{"latencyMs": ms} for ms in latencies_ms]


class EngineReportFromTrt:
    """Build ``model`` with TensorRT (through Polygraphy), profile and time it; write the files into ``output``.

    Args:
        model (Path): The ONNX model.
        output (Path): Folder for engine.plan, layers.json, profile.json, timing.json, engine_report.json (written
            only once everything succeeded).
        options (BuildOptions): See :func:`trt_loaders`; ``warmup``/``iterations`` for profiling and timing.
        progress (ProgressSink): Receives the builder's phases. Defaults to None.
    """

    def __init__(self, model: Path, output: Path, options: BuildOptions | None = None,
                 progress: ProgressSink | None = None) -> None:
        self.model, self.output = Path(model), Path(output)
        self.options = options or BuildOptions()
        self.progress = progress

    def __call__(self) -> EngineReport:
        if not self.model.is_file():
            raise BadInputError(f"{self.model}: no such file")
        trt = require_tensorrt(self.model, self.output, self.options)
        opts = self.options
        inputs = random_feed(model_inputs(onnx.load(str(self.model), load_external_data=False), opts.input_shapes),
                             opts.seed)
        with output_folder(self.output) as tmp:
            loaders = trt_loaders(self.model, tmp / PLAN, opts, trt.__version__, _progress_monitor(trt, self.progress))
            try:
                with G_LOGGER.verbosity():
                    engine = loaders.save()
                    layers, profile, timing = self._measure(trt, engine, inputs)
            except Exception as err:  # noqa: BLE001 - Polygraphy, TensorRT and CUDA errors alike: no GPU, bad model
                raise QdqToolError(
                    f"TensorRT {trt.__version__} could not build or run {self.model}: {first_line(err)}; on a machine "
                    f"with a usable NVIDIA GPU, write the same files with "
                    f"`{trtexec_command(self.model, self.output, opts, trt.__version__)}`"
                ) from None
            files = {LAYERS: layers, PROFILE: profile, TIMING: timing or None}  # no timing.json without timed runs
            for name, data in files.items():
                if data is not None:
                    (tmp / name).write_text(json.dumps(data, indent=1), encoding="utf-8")
            report = engine_report_from_trt_json(layers, profile, timing or None, source=str(self.output))
            report.notes.append(
                f"TensorRT {trt.__version__}, {'strongly typed' if loaders.strongly_typed else 'INT8+FP16 flags'}; "
                f"per-layer times: IProfiler over {opts.iterations} runs after {opts.warmup} warm-up runs"
            )
            (tmp / REPORT).write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
            for name in (PLAN, *[n for n, data in files.items() if data is not None], REPORT):
                publish(tmp / name, self.output / name)
        return report

    def _measure(self, trt: Any, engine: Any, inputs: dict) -> tuple[dict, list, list]:
        opts = self.options
        profiler = _profiler(trt)
        with TrtRunner(engine) as runner:
            for _ in range(opts.warmup):
                runner.infer(inputs)
            runner.context.profiler = profiler
            for _ in range(opts.iterations):
                runner.infer(inputs)
            inspector = engine.create_engine_inspector()
            inspector.execution_context = runner.context  # concrete shapes and formats
            layers = json.loads(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
        latencies: list[float] = []
        if opts.latency:
            with TrtRunner(engine) as runner:  # a fresh context: no profiler cost in the timed runs
                for _ in range(opts.warmup):
                    runner.infer(inputs)
                for _ in range(opts.iterations):
                    runner.infer(inputs)
                    latencies.append(runner.last_inference_time() * 1e3)
        return layers, profile_records(profiler.times, opts.iterations), timing_records(latencies)


class TrtTimer:
    """A LatencyTimer over ``output/engine.plan`` (Polygraphy's TrtRunner), for compare's interleaved rounds."""

    def __init__(self, model: Path, output: Path, options: BuildOptions | None = None) -> None:
        self.model, self.output = Path(model), Path(output)
        self.options = options or BuildOptions()
        self._runner: Any = None
        self._inputs: dict = {}

    def __enter__(self) -> TrtTimer:
        require_tensorrt(self.model, self.output, self.options)
        self._inputs = random_feed(model_inputs(onnx.load(str(self.model), load_external_data=False),
                                                self.options.input_shapes), self.options.seed)
        try:
            with G_LOGGER.verbosity():
                self._runner = TrtRunner(EngineFromPath(str(self.output / PLAN)))
                self._runner.activate()
        except Exception as err:  # noqa: BLE001 - Polygraphy, TensorRT and CUDA errors alike
            self._runner = None
            raise self._failed("load", err) from None
        return self

    def _failed(self, doing: str, err: BaseException) -> QdqToolError:
        return QdqToolError(f"TensorRT could not {doing} the engine {self.output / PLAN} for timing: "
                            f"{first_line(err)}")

    def __exit__(self, *exc: object) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            try:
                with G_LOGGER.verbosity():
                    runner.deactivate()
            except Exception as err:  # noqa: BLE001 - a failed free must not hide the error being raised
                if exc[0] is None:
                    raise self._failed("free", err) from None

    def time(self, runs: int) -> list[float]:
        times = []
        try:
            with G_LOGGER.verbosity():
                for _ in range(runs):
                    self._runner.infer(self._inputs)
                    times.append(self._runner.last_inference_time() * 1e3)
        except Exception as err:  # noqa: BLE001 - CUDA errors (out of memory, lost device) mid-run
            raise self._failed("run", err) from None
        return times
