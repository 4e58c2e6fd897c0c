"""Scoring many variants of one model against float on one data set: what `sensitivity` and `partial` run.

The samples, the float reference's outputs and the original model's outputs are computed once and kept in memory
(outputs, not activations: a detector's heads, a few MB per sample); each variant then costs one ONNX Runtime
session and one inference per sample. ``jobs`` worker processes score variants side by side, each with its own
copy of that state and single-threaded sessions (spawned, not forked: ONNX Runtime's thread pools do not survive a
fork).

In one process, a layer put in float near the head of the model is not run whole: only the nodes the edit changed
and those downstream of them (`qdqtool.surgery.downstream`), fed the original model's activations where they read
from upstream, cached per sample once for all variants (up to `CACHE_BYTES`), when that region is at most
`MAX_SHARE` of the model.

A variant's `Score` is its error against float on the **worst slice** of any output, as the numeric check judges
(`qdqtool.verify.numerics`): SNR (dB), cosine and MSE, and what it added to the original model's error (dB,
negative when it removed error).
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import onnx

from qdqtool.analysis.rules import load_rules
from qdqtool.errors import BadInputError, CheckFailed, first_line
from qdqtool.io.data.dataset import Dataset
from qdqtool.ir.dataflow import dataflow_graph
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import QParams
from qdqtool.surgery.downstream import Region, changed_region, float_region, region_model
from qdqtool.surgery.layerwise import with_outputs
from qdqtool.surgery.merge import merge_scales
from qdqtool.surgery.partial import float_layers, quantized_only
from qdqtool.verify.metrics import SliceCheck
from qdqtool.verify.numerics import OutputErrors, concat_splits
from qdqtool.verify.reference import FloatReference
from qdqtool.verify.session import SessionError, ort_session

METRICS = ("snr", "cosine", "mse")
MAX_SHARE = 0.6  # run only the changed region when it has at most this share of the nodes
CACHE_BYTES = 2 << 30  # the original's activations kept for those regions, all samples together

Progress = Callable[[str, int | None, int | None], None]


@dataclass(frozen=True)
class Score:
    """One model against float on the data set, judged by its worst slice (see the module docstring)."""

    snr_db: float  # the lowest SNR of any output or slice against float
    cosine: float  # the lowest cosine
    mse: float  # the MSE of the slice with the lowest SNR
    worst: str  # where that is: "output" or "output, slice"
    added_db: float  # the most this model added to the original's error on any slice (negative: it removed some)
    outputs: tuple[tuple[str, float, float, float], ...] = ()  # per output, whole: (name, SNR dB, cosine, MSE)

    def value(self, metric: str) -> float:
        """The figure ``metric`` ranks by, larger is better (MSE negated)."""
        return {"snr": self.snr_db, "cosine": self.cosine, "mse": -self.mse}[metric]

    def to_dict(self) -> dict[str, float | str]:
        return {"snr_db": self.snr_db, "cosine": self.cosine, "mse": self.mse, "worst": self.worst,
                "added_db": self.added_db,
                "outputs": [{"name": n, "snr_db": snr, "cosine": cos, "mse": mse} for n, snr, cos, mse in self.outputs]}


@dataclass(frozen=True)
class Variant:
    """A model to score: the original with ``layers`` in float (``"float"``), with only ``layers`` quantized
    (``"only"``), or with one scale ``group`` unified (``"group"``: by ``policy``, or to ``params``)."""

    kind: str  # "float", "only" or "group"
    layers: tuple[str, ...] = ()
    group: str | None = None
    policy: str = "max"
    params: QParams | None = None
    rules: str = "tensorrt"  # the target (name or rules file) that finds the group
    max_scale_ratio: float | None = None

    def build(self, model: onnx.ModelProto) -> onnx.ModelProto:
        if self.kind == "float":
            return float_layers(model, self.layers)
        if self.kind == "only":
            return quantized_only(model, self.layers)
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        chosen = {self.group: (self.params, "measured")} if self.params is not None else None
        return merge_scales(copy, load_rules(self.rules), self.policy, True, self.max_scale_ratio,
                            only={self.group}, chosen=chosen).model


class _State:
    """What scoring needs, computed once: the samples, float's outputs, the original's outputs."""

    def __init__(self, model: onnx.ModelProto, feeds: list[dict[str, np.ndarray]], names: list[str],
                 reference: list[list[np.ndarray]], original: list[list[np.ndarray]],
                 splits: dict[str, list[tuple[int, list[int]]]], threads: int | None) -> None:
        self.model, self.feeds, self.names = model, feeds, names
        self.reference, self.original, self.splits, self.threads = reference, original, splits, threads

    def score_outputs(self, outputs: list[list[np.ndarray]]) -> Score:
        accumulators: dict[str, OutputErrors] = {}
        for k, (ref, orig, edit) in enumerate(zip(self.reference, self.original, outputs, strict=True)):
            for name, r, o, e in zip(self.names, ref, orig, edit, strict=True):
                r, o, e = np.asarray(r), np.asarray(o), np.asarray(e)
                if not np.issubdtype(o.dtype, np.floating) or r.shape != o.shape or o.shape != e.shape:
                    continue
                accumulators.setdefault(name, OutputErrors(r.shape, self.splits.get(name))).add(r, o, e, k)
        found: list[tuple[str, SliceCheck]] = []
        per_output = []
        for name, acc in accumulators.items():
            result = acc.result(name)
            found += [(name, result.overall)] + [(f"{name}, {s.label}", s) for s in result.slices]
            whole = result.overall.edited
            per_output.append((name, whole.snr_db, whole.cosine, whole.mse))
        if not found:
            raise BadInputError("no output of the model can be compared with float (none is a float tensor of the "
                                "reference's shape)")
        where, worst = min(found, key=lambda item: item[1].edited.snr_db)
        added = max(s.added_db for _, s in found)
        return Score(worst.edited.snr_db, min(s.edited.cosine for _, s in found), worst.edited.mse, where, added,
                     tuple(per_output))

    def run(self, model: onnx.ModelProto) -> list[list[np.ndarray]]:
        return _run_variant(model, self.threads, self.names, self.feeds)

    def score(self, variant: Variant) -> Score:
        return self.score_outputs(self.run(variant.build(self.model)))


class Scorer:
    """Scores variants of ``model`` against float on ``data`` (see the module docstring).

    Args:
        model (onnx.ModelProto): The Q/DQ model (not modified).
        data (Dataset): The samples (read once, kept in memory).
        reference (FloatReference): The float model (its outputs from the cache when they are there).
        jobs (int): Worker processes for `score_all`. Defaults to 1 (in this process).
    """

    def __init__(self, model: onnx.ModelProto, data: Dataset, reference: FloatReference, jobs: int = 1) -> None:
        feeds = list(data)
        if not feeds:
            raise BadInputError(f"{data.label}: no samples")
        reference_out = [reference.outputs(feed) for feed in feeds]
        names = [o.name for o in model.graph.output]
        self.jobs = max(1, jobs)
        self.samples = len(feeds)
        self._state = _State(model, feeds, names, reference_out, [], concat_splits(model, names),
                             None if self.jobs == 1 else 1)
        try:
            self._state.original = self._state.run(model)
        except CheckFailed as err:
            raise BadInputError(str(err).replace("a variant of the model", "the input model")) from None
        self.base = self._state.score_outputs(self._state.original)  # the original model itself

    def score(self, variant: Variant) -> Score:
        """One variant, in this process."""
        return self._state.score(variant)

    def score_model(self, model: onnx.ModelProto) -> Score:
        """Any model with the original's inputs and outputs (e.g. a merged one)."""
        return self._state.score_outputs(self._state.run(model))

    def score_all(self, variants: list[Variant], progress: Progress | None = None,
                  what: str = "scoring") -> Iterator[tuple[Variant, Score]]:
        """Each variant with its score, in order; in ``jobs`` worker processes when more than one."""
        total = len(variants)
        if progress is not None:
            progress(what, 0, total)
        results: Iterable[Score]
        if self.jobs == 1 or total < 2:
            results = self._in_process(variants)
            pool = None
        else:
            state = self._state
            pool = ProcessPoolExecutor(
                max_workers=min(self.jobs, total), mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(state.model.SerializeToString(), state.feeds, state.names,
                                                    state.reference, state.original, state.splits))
            results = pool.map(_score_in_worker, variants)
        try:
            for done, (variant, score) in enumerate(zip(variants, results, strict=True), start=1):
                if progress is not None:
                    progress(what, done, total)
                yield variant, score
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)


    def _in_process(self, variants: list[Variant]) -> Iterator[Score]:
        """Score each variant here; layers in float near the head run only their changed region."""
        state = self._state
        index = GraphIndex(state.model)
        flow = dataflow_graph(index)
        planned = [float_region(index, flow, list(v.layers)) for v in variants if v.kind == "float"]
        cache = _RegionCache(state, [r for r in planned if r.share <= MAX_SHARE and r.outputs])
        for variant in variants:
            model = variant.build(state.model)
            region = changed_region(state.model, model) if variant.kind == "float" and cache.activations else None
            if region is not None and region.share <= MAX_SHARE and region.outputs and cache.covers(region):
                yield state.score_outputs(cache.run(model, region))
            else:
                yield state.score_outputs(state.run(model))


class _RegionCache:
    """The original model's activations that the chosen regions read, per sample (see the module docstring)."""

    def __init__(self, state: _State, regions: list[Region]) -> None:
        self.state = state
        self.activations: list[dict[str, np.ndarray]] = []
        self.kept: set[str] = set()
        if not regions:
            return
        wanted = sorted({t for r in regions for t in r.frontier} - set(state.feeds[0]))
        self._session, _ = ort_session(with_outputs(state.model, wanted), qdq_propagation=False, arena=False)
        probe = dict(zip(wanted, self._original(wanted, state.feeds[0]), strict=True))
        budget = CACHE_BYTES / len(state.feeds)
        for region in sorted(regions, key=lambda r: r.share):  # the cheapest regions first, while memory lasts
            new = set(region.frontier) - self.kept - set(state.feeds[0])
            cost = sum(probe[t].nbytes for t in new)
            if cost > budget:
                continue
            budget -= cost
            self.kept |= new
        names = sorted(self.kept)
        self.activations = [{**feed, **dict(zip(names, self._original(names, feed), strict=True))}
                            for feed in state.feeds]

    def _original(self, names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self._session.run(names, feed) if names else []

    def covers(self, region: Region) -> bool:
        return bool(self.activations) and all(t in self.activations[0] for t in region.frontier)

    def run(self, model: onnx.ModelProto, region: Region) -> list[list[np.ndarray]]:
        """The variant's outputs: the region's from its own small model, the rest the original's."""
        state = self.state
        sub = region_model(model, region, {t: self.activations[0][t].dtype for t in region.frontier})
        feeds = [{t: activations[t] for t in region.frontier} for activations in self.activations]
        outputs = []
        for k, run in enumerate(_run_variant(sub, state.threads, list(region.outputs), feeds)):
            produced = dict(zip(region.outputs, run, strict=True))
            outputs.append([produced.get(name, original) for name, original in
                            zip(state.names, state.original[k], strict=True)])
        return outputs


def _run_variant(model: onnx.ModelProto, threads: int | None, names: list[str],
                 feeds: list[dict[str, np.ndarray]]) -> list[list[np.ndarray]]:
    """``names`` of ``model`` on every feed, in a new session; ONNX Runtime's refusal as CheckFailed (a variant
    qdqtool built from the input, which did run)."""
    try:
        session, _ = ort_session(model, threads=threads, qdq_propagation=False)
    except SessionError as err:
        raise CheckFailed(f"ONNX Runtime cannot run a variant of the model: {err}") from None
    try:
        return [session.run(names, feed) for feed in feeds]
    except Exception as err:  # noqa: BLE001 - ORT raises many types
        raise CheckFailed(f"ONNX Runtime failed on a variant of the model: {first_line(err)}") from None


_WORKER: _State | None = None


def _init_worker(model: bytes, feeds, names, reference, original, splits) -> None:
    global _WORKER
    _WORKER = _State(onnx.load_from_string(model), feeds, names, reference, original, splits, threads=1)


def _score_in_worker(variant: Variant) -> Score:
    assert _WORKER is not None
    return _WORKER.score(variant)


def gain(score: Score, base: Score, metric: str) -> float:
    """How much better ``score`` is than ``base`` by ``metric`` (dB for SNR, cosine points, MSE decrease)."""
    value = score.value(metric) - base.value(metric)
    return 0.0 if math.isnan(value) else value
