"""compare: merge a model, build the original and the merged one on a backend, diff them, and judge the result.

Steps: :func:`~qdqtool.jobs.merge.checked_merge` (the merge job with its numeric check) writes the merged
model; the backend builds both models (``before/`` and ``after/``); :func:`~qdqtool.engine.diff.diff_engines`
pairs their layers; when the backend can run models, both are timed in interleaved rounds and
:func:`~qdqtool.engine.latency.judge_latency` decides ``faster`` / ``no gain`` / ``regression``.

The result is False (exit 1 in the CLI) when the merged model is slower beyond the noise or fails the numeric
check. It never claims an improvement its numbers do not show: the latency verdict comes from the measured
rounds only (and is ``no gain`` when both builds run the same layers: then a difference is measurement bias),
and the leftover Q/DQ counts from the built engines only.

    >>> result = compare(CompareRequest(model=Path("model.onnx"), backend="onnxruntime"))
    >>> assert result.status in ("passed", "failed", "nothing to merge")
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from qdqtool.engine.backends import Backend, BuildOptions, LatencyTimer, ProgressSink, get_backend
from qdqtool.engine.diff import EngineDiff, diff_engines
from qdqtool.engine.latency import (
    DEFAULT_TOLERANCE,
    MIN_ROUNDS,
    LatencyComparison,
    interleaved_rounds,
    judge_latency,
    same_layers_verdict,
)
from qdqtool.engine.report import EngineReport
from qdqtool.engine.trt_start import import_tensorrt, start, trtexec_precision_flags, trtexec_version_note
from qdqtool.errors import BadInputError
from qdqtool.io.onnx_io import save_model
from qdqtool.jobs.merge import MergeOutcome, MergeRequest, checked_merge
from qdqtool.verify.check import CheckSettings


@dataclass
class CompareRequest(CheckSettings):
    """Everything ``qdqtool compare`` needs; "None means default" (the numeric check's fields: CheckSettings; its
    input shapes and seed are the build's)."""

    model: Path
    backend: str = "onnxruntime"
    target: str | None = None  # None: the backend's own rules (onnxruntime -> onnxruntime-cpu)
    policy: str = "max"
    dedupe: bool = True
    max_scale_ratio: float | None = None
    fixes: tuple[str, ...] = ()  # placement fixes run before unifying (`merge --fix`)
    build: BuildOptions = field(default_factory=BuildOptions)
    rounds: int = 7  # interleaved latency rounds (at least 5)
    tolerance: float = DEFAULT_TOLERANCE  # relative latency change that counts as none
    keep: Path | None = None  # keep every artefact here; None: a temporary folder, removed


@dataclass
class CompareResult:
    """What compare found. True unless the merged model is slower beyond the noise or fails the numeric check."""

    request: CompareRequest
    target: str
    merge: MergeOutcome
    before: EngineReport | None = None  # None when there was nothing to merge
    after: EngineReport | None = None
    diff: EngineDiff | None = None
    latency: LatencyComparison | None = None  # None when the backend cannot time models (a predictor)
    artefacts: Path | None = None  # the --keep folder
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.merge.changed  # unified groups, deduplicated Qs or placement fixes

    @property
    def numeric_ok(self) -> bool:
        return bool(self.merge)

    @property
    def qdq_counts(self) -> tuple[int, int] | None:
        if self.before is None or self.after is None:
            return None
        return len(self.before.leftover_qdq), len(self.after.leftover_qdq)

    @property
    def status(self) -> str:
        if not self.changed:
            return "nothing to merge"
        return "passed" if self else "failed"

    def __bool__(self) -> bool:
        return self.numeric_ok and (self.latency is None or bool(self.latency))

    def status_line(self) -> str:
        """``PASSED | leftover Q/DQ 6 -> 2 | latency 0.210 -> 0.180 ms (-14.3 %, faster) | worst cosine 0.9999``."""
        if not self.changed:
            return f"PASSED | nothing to merge for {self.target}: every scale group is consistent or refused"
        parts = [self.status.upper()]
        counts = self.qdq_counts
        if counts:
            parts.append(f"leftover Q/DQ {counts[0]} -> {counts[1]}")
        lat = self.latency
        if lat is not None:
            parts.append(f"latency {lat.before.median:.3f} -> {lat.after.median:.3f} ms ({lat.change:+.1%}, "
                         f"{lat.verdict})")
        else:
            parts.append("latency not measured")
        check = self.merge.check
        if check is not None:
            parts.append(check.summary())
        return " | ".join(parts)


def _signature(report: EngineReport) -> list[tuple]:
    """What decides the speed of an engine: each layer's type, class and tensor types, in order."""
    return [(layer.type, layer.cls, tuple(t.dtype for t in layer.inputs), tuple(t.dtype for t in layer.outputs))
            for layer in report.layers]


def _build(backend: Backend, model: Path, folder: Path, options: BuildOptions,
           progress: ProgressSink | None, label: str) -> EngineReport:
    def tell(phase: str, done: int | None, total: int | None) -> None:
        if progress is not None:
            progress(f"{label}: {phase}", done, total)

    return backend.loader()(model, folder, options, tell)()


def _time_both(timer: Callable[..., LatencyTimer], request: CompareRequest, merged: Path,
               work: Path) -> LatencyComparison:
    """Warm both models up, time them in interleaved rounds and judge the round medians."""
    opts = request.build
    with timer(Path(request.model), work / "before", opts) as a, timer(merged, work / "after", opts) as b:
        a.time(opts.warmup)
        b.time(opts.warmup)
        rounds_a, rounds_b = interleaved_rounds(a, b, request.rounds, opts.iterations)
    return judge_latency(rounds_a, rounds_b, request.tolerance, opts.iterations)


def _gpu_route(request: CompareRequest, trt_version: str | None) -> str:
    """compare on a GPU machine by hand. Names only the user's files and folders to create: never the temporary
    folder this run would have used, which is gone when the message is read."""
    stem = Path(request.model).stem
    flags = trtexec_precision_flags(request.build.strongly_typed, trt_version)
    return (f"merge here with `qdqtool merge {request.model} -o {stem}.merged.onnx`, then on a machine with a GPU "
            f"build both with `trtexec --onnx=M --saveEngine=D/engine.plan --exportLayerInfo=D/layers.json "
            f"--exportProfile=D/profile.json --exportTimes=D/timing.json --profilingVerbosity=detailed"
            f"{' ' + flags if flags else ''}`{trtexec_version_note(trt_version)} (M, D = {request.model}, before "
            f"and {stem}.merged.onnx, after) and run "
            "`qdqtool diff before after`; or compare on this CPU with --backend trt-sim")


def _start_tensorrt(request: CompareRequest) -> None:
    trt = import_tensorrt("compare --backend tensorrt", _gpu_route(request, None))
    start(trt, "compare --backend tensorrt", _gpu_route(request, trt.__version__))


def compare(request: CompareRequest, progress: ProgressSink | None = None) -> CompareResult:
    """Merge, build both models, diff and judge (see the module docstring).

    Args:
        request (CompareRequest): What to compare.
        progress (ProgressSink): Told about each phase. Defaults to None.
    """
    if request.rounds < MIN_ROUNDS:
        raise BadInputError(f"--rounds {request.rounds}: at least {MIN_ROUNDS} interleaved rounds are needed")
    backend = get_backend(request.backend)
    if backend.name == "tensorrt":  # fail before merging, with the whole GPU-less route
        _start_tensorrt(request)
    target = request.target or backend.default_target
    work = Path(request.keep) if request.keep else Path(tempfile.mkdtemp(prefix="qdqtool-compare-"))
    created = request.keep is None or not work.exists()
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _compare(request, backend, target, work, progress)
    except BadInputError:  # bad input writes nothing: not even the --keep folder
        if created:
            shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if request.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _compare(request: CompareRequest, backend: Backend, target: str, work: Path,
             progress: ProgressSink | None) -> CompareResult:
    merged = work / f"{Path(request.model).stem}.merged.onnx"
    if progress is not None:
        progress("merging", None, None)
    check = {f.name: getattr(request, f.name) for f in fields(CheckSettings)}
    check.update(input_shapes=request.build.input_shapes, seed=request.build.seed, verify=True)
    outcome = checked_merge(MergeRequest(
        model=Path(request.model), output=merged, target=target, policy=request.policy, dedupe=request.dedupe,
        max_scale_ratio=request.max_scale_ratio, fixes=request.fixes, **check,
    ), progress)
    result = CompareResult(request=request, target=target, merge=outcome,
                           artefacts=Path(request.keep) if request.keep else None)
    if not outcome.changed:
        return result
    if not outcome.written:  # the numeric check failed: build it anyway, to show what the merge would have done
        save_model(outcome.result.model, merged)
        result.notes.append("the merged model failed the numeric check; it was built only to show the difference")
    options = replace(request.build, latency=False)  # latency comes from the interleaved rounds below
    before = _build(backend, Path(request.model), work / "before", options, progress, "before")
    after = _build(backend, merged, work / "after", options, progress, "after")
    timer = backend.timer()
    if timer is None:
        result.notes.append(f"the {backend.name} backend cannot run models: latency not measured")
    else:
        if progress is not None:
            progress("timing", None, request.rounds)
        result.latency = _time_both(timer, request, merged, work)
        if _signature(before) == _signature(after):
            same_layers_verdict(result.latency)
        before.latency = result.latency.before  # the diff shows the same numbers
        after.latency = result.latency.after
    result.before, result.after = before, after
    result.diff = diff_engines(before, after, time_tolerance=request.tolerance)
    if len(after.leftover_qdq) > len(before.leftover_qdq):
        result.notes.append(f"the merged model has MORE standalone Q/DQ layers ({len(before.leftover_qdq)} -> "
                            f"{len(after.leftover_qdq)}): the merge did not help {backend.name} here")
    for note in dict.fromkeys(before.notes + after.notes):  # how each was built, and any fallback it needed
        sides = [label for label, report in (("before", before), ("after", after)) if note in report.notes]
        result.notes.append(f"{' and '.join(sides)}: {note}")
    return result
