"""EngineReportFromOrt: build (optimise), profile and time a model with ONNX Runtime on the CPU.

One InferenceSession with ``ORT_ENABLE_ALL`` (what a deployment uses: QDQ clean-up, NHWC and NCHWc layouts),
``optimized_model_filepath`` and profiling on, threads fixed (``intra_op_num_threads`` = ``inter_op_num_threads`` =
``threads``, sequential execution) so numbers are comparable. It runs ``warmup`` + ``iterations`` profiled
inferences on seeded random inputs, stops profiling (profiling adds a cost per node), then, after ``warmup`` more
runs, times ``iterations`` inferences end to end. Written into the output folder:

- ``optimized.onnx``: the graph ONNX Runtime runs (hardware specific once NCHWc is used);
- ``profile.json``: ONNX Runtime's own profile (Chrome trace events);
- ``engine_report.json``: the :class:`~qdqtool.engine.report.EngineReport` (``EngineReport.to_dict``).

    >>> report = EngineReportFromOrt(Path("model.onnx"), Path("ort"), BuildOptions(iterations=10))()
    >>> assert report.backend == "onnxruntime" and report.latency.median > 0
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import onnx

from qdqtool.engine.backends import BuildOptions, ProgressSink, output_folder
from qdqtool.engine.ort_profile import engine_report_from_ort_profile, read_ort_profile
from qdqtool.engine.report import SAVED_REPORT, EngineReport
from qdqtool.errors import BadInputError, first_line
from qdqtool.io.atomic import publish
from qdqtool.io.data.random_data import random_feed
from qdqtool.io.data.shapes import model_inputs
from qdqtool.io.onnx_io import read_structure
from qdqtool.verify.session import SessionError, ort_session

OPTIMIZED = "optimized.onnx"
PROFILE = "profile.json"
REPORT = SAVED_REPORT


def _session(model: Path, threads: int, optimized: Path | None = None, profile: Path | None = None):
    """The backend's session (see :func:`qdqtool.verify.session.ort_session`), or BadInputError naming the model."""
    try:
        return ort_session(model, threads=threads, optimized_path=optimized, profile_prefix=profile)
    except SessionError as err:
        raise BadInputError(f"{model}: ONNX Runtime cannot load it: {err}") from None


def _random_feed(model: Path, options: BuildOptions) -> dict:
    """Seeded random data for every graph input (dynamic dimensions from ``input_shapes``, else 1)."""
    return random_feed(model_inputs(read_structure(model), options.input_shapes), options.seed)


def _run(session, inputs: dict, model: Path) -> None:
    try:
        session.run(None, inputs)
    except Exception as err:  # noqa: BLE001
        raise BadInputError(
            f"{model}: ONNX Runtime failed to run it on random inputs ({first_line(err)}); "
            "give dynamic input shapes with --input-shape"
        ) from None


def _timed(session, inputs: dict, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, inputs)
        times.append((time.perf_counter() - start) * 1e3)
    return times


class EngineReportFromOrt:
    """Optimise, profile and time ``model`` with ONNX Runtime (CPU); write the files into ``output``.

    Args:
        model (Path): The ONNX model.
        output (Path): Folder for ``optimized.onnx``, ``profile.json`` and ``engine_report.json`` (created; files
            of the same names are replaced, atomically, only once everything succeeded).
        options (BuildOptions): Runs, threads, input shapes. Defaults to ``BuildOptions()``.
        progress (ProgressSink): Told about each phase. Defaults to None.
    """

    def __init__(self, model: Path, output: Path, options: BuildOptions | None = None,
                 progress: ProgressSink | None = None) -> None:
        self.model, self.output = Path(model), Path(output)
        self.options = options or BuildOptions()
        self.progress = progress or (lambda phase, done, total: None)

    def __call__(self) -> EngineReport:
        opts = self.options
        if not self.model.is_file():
            raise BadInputError(f"{self.model}: no such file")
        inputs = _random_feed(self.model, opts)
        with output_folder(self.output) as tmp:
            self.progress("optimising", None, None)
            session, fallback = _session(self.model, opts.threads, tmp / OPTIMIZED, tmp / "profile")
            runs = opts.warmup + opts.iterations
            for i in range(runs):
                self.progress("profiling", i, runs)
                _run(session, inputs, self.model)
            profile_file = Path(session.end_profiling())  # profiling stops here: the timed runs pay no overhead
            latency = None
            if opts.latency:
                self.progress("timing", None, opts.iterations)
                _timed(session, inputs, max(opts.warmup, 1))  # the first runs after profiling are slow
                latency = _timed(session, inputs, opts.iterations)
            del session
            optimized = onnx.load(str(tmp / OPTIMIZED), load_external_data=False)
            original = onnx.load(str(self.model), load_external_data=False)
            report = engine_report_from_ort_profile(
                optimized, read_ort_profile(profile_file), warmup=opts.warmup, original=original, latency_ms=latency,
                source=str(self.output), notes=[
                    f"onnxruntime {_version()}, CPUExecutionProvider, ORT_ENABLE_ALL, {opts.threads} thread(s); "
                    f"per-node times: mean of {opts.iterations} profiled runs after {opts.warmup} warm-up runs"
                    + (f"; latency: {opts.iterations} runs without profiling" if latency else ""),
                    *([fallback] if fallback else []),
                ],
            )
            profile_file.replace(tmp / PROFILE)
            (tmp / REPORT).write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
            for name in (OPTIMIZED, PROFILE, REPORT):
                publish(tmp / name, self.output / name)
        return report


def _version() -> str:
    import onnxruntime as ort

    return ort.__version__


class OrtTimer:
    """A LatencyTimer: one session (same options, no profiling) over ``model``, for compare's interleaved rounds."""

    def __init__(self, model: Path, output: Path | None = None, options: BuildOptions | None = None) -> None:
        self.model, self.options = Path(model), options or BuildOptions()
        self._session = None
        self._inputs: dict = {}

    def __enter__(self) -> OrtTimer:
        self._inputs = _random_feed(self.model, self.options)
        self._session, _ = _session(self.model, self.options.threads)
        _run(self._session, self._inputs, self.model)
        return self

    def __exit__(self, *exc: object) -> None:
        self._session = None

    def time(self, runs: int) -> list[float]:
        if self._session is None:
            raise RuntimeError("OrtTimer.time() outside `with OrtTimer(...)`")
        return _timed(self._session, self._inputs, runs)
