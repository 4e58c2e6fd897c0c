"""The numeric check of an edit: the original and the edited model against float, on the same samples.

Every accuracy figure is measured against the float reference (:mod:`qdqtool.verify.reference`: the user's FP32
export, or the float model inside the Q/DQ model). The check passes when, for every output and every slice of it,
the edit adds at most ``max_added_db`` to the error energy the original already had against float
(:mod:`qdqtool.verify.metrics`). Comparing the edited model with the quantized original alone would measure how a
quantized network amplifies a tiny perturbation, not harm: on a trained detector a merge that changed nothing
against float (cosine 0.20794 -> 0.20796) read 0.77 against the original.

A global figure over a detector output is dominated by its largest values (box coordinates in pixels) and can stay
fine while the class scores beside them were rounded to nothing. So each output is also judged per slice: the
slices of the Concat that produced it when there is one (box rows and class rows separately), else each channel of
axis 1 (when a channel holds at least 16 values: a classifier's (1, 1000) scores are judged as a whole). The worst
slice decides.

Samples stream: one feed at a time through the reference (cached), the original and the edited model, into running
sums, so memory stays flat in the number of samples.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx

from qdqtool.errors import BadInputError, CheckFailed, first_line
from qdqtool.io.data.dataset import RANDOM_WARNING, Dataset
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.shapes import tensor_shapes
from qdqtool.verify.metrics import SliceCheck, SliceErrors
from qdqtool.verify.reference import FloatReference
from qdqtool.verify.session import SessionError, ort_session

# 3 dB: an edit may at most double the error energy any slice already had against float. Measured (README,
# "Accuracy"): unifying the scale groups of two trained detectors quantized by onnxruntime added 0.015 dB (text
# detector) and at most 0.7 dB on the worst of 40 class-score slices, 0.1 dB on whole outputs (layout detector);
# the synthetic example models, whose made-up scales differ by up to 2.1x in a group, add 1.4 dB (merge) and 1.9 dB
# (the residual-add fix); rounding a detector's class rows to nothing (the forced 12,700:1 group of the
# extreme-ratio fixture) adds 45 dB to that slice. A stricter gate is --max-added-error 1.
DEFAULT_MAX_ADDED_DB = 3.0
_MAX_CHANNEL_GROUPS = 4096
# A slice needs some values for its figures to mean anything: a (1, 1000) classifier output sliced per class gives
# single numbers.
_MIN_SLICE_VALUES = 16

Progress = Callable[[str, "int | None", "int | None"], None]


@dataclass
class OutputCheck:
    """The figures of one model output: over the whole tensor and per slice."""

    name: str
    shape: tuple[int, ...]
    overall: SliceCheck
    axes: list[int]  # the axes along which slices were compared
    slices: list[SliceCheck] = field(default_factory=list)

    @property
    def worst(self) -> SliceCheck:
        """The slice the edit made worst (the whole output when it has no slices)."""
        return max([self.overall, *self.slices], key=lambda s: (s.added_db, -s.edited.cosine))


@dataclass
class NumericCheck:
    """The original and the edited model against float. True when no slice of any output got worse by more than
    ``max_added_db`` (and, when ``min_cosine`` is set, every slice of the edited model keeps that cosine against
    the original)."""

    outputs: list[OutputCheck]
    max_added_db: float
    inputs: str  # the data set, for reports
    reference: str  # the float reference, for reports
    samples: int = 0
    random: bool = False  # the inputs were seeded random data
    min_cosine: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def worst(self) -> tuple[OutputCheck, SliceCheck] | None:
        pairs = [(o, o.worst) for o in self.outputs]
        return max(pairs, key=lambda p: (p[1].added_db, -p[1].edited.cosine)) if pairs else None

    @property
    def worst_added_db(self) -> float:
        worst = self.worst
        return worst[1].added_db if worst else 0.0

    @property
    def worst_cosine(self) -> float:
        """The lowest cosine of the edited model against the original, over every slice (informative)."""
        cosines = [s.vs_original.cosine for o in self.outputs for s in (o.overall, *o.slices)]
        return min(cosines, default=1.0)

    def __bool__(self) -> bool:
        added = self.worst_added_db
        if math.isnan(added) or added > self.max_added_db:  # (-inf: the edit took every error away)
            return False
        return self.min_cosine is None or self.worst_cosine >= self.min_cosine

    def summary(self) -> str:
        """``added error +0.02 dB (limit 1 dB)`` or ``added error +24.50 dB > 1 dB``: what the check decided, for a
        status line (and ``worst cosine ... < min`` when the cosine against the original failed it)."""
        added = self.worst_added_db
        shown = f"{added:+.2f} dB" if math.isfinite(added) else f"{added} dB"
        if math.isnan(added) or added > self.max_added_db:
            return f"added error {shown} > {self.max_added_db:g} dB"
        text = f"added error {shown} (limit {self.max_added_db:g} dB)"
        if self.min_cosine is not None and self.worst_cosine < self.min_cosine:
            text += f" | worst cosine {self.worst_cosine:.6f} < {self.min_cosine}"
        return text


def _sessions(original, edited):
    try:
        reference, _ = ort_session(original, qdq_propagation=False)
    except SessionError as err:
        raise BadInputError(
            f"ONNX Runtime cannot run the input model ({err}); skip the check with --no-verify"
        ) from None
    try:
        candidate, _ = ort_session(edited, qdq_propagation=False)
    except SessionError as err:
        raise CheckFailed(f"ONNX Runtime cannot run the edited model: {err}") from None
    ref_io = ([i.name for i in reference.get_inputs()], [o.name for o in reference.get_outputs()])
    cand_io = ([i.name for i in candidate.get_inputs()], [o.name for o in candidate.get_outputs()])
    if ref_io != cand_io:
        raise BadInputError(
            f"the two models do not have the same inputs and outputs ({ref_io} vs {cand_io}): "
            "compare a model with its own merged version"
        )
    return reference, candidate


def compare_models(
    original: onnx.ModelProto | str | os.PathLike,
    edited: onnx.ModelProto | str | os.PathLike,
    data: Dataset,
    reference: FloatReference,
    max_added_db: float = DEFAULT_MAX_ADDED_DB,
    min_cosine: float | None = None,
    structure: onnx.ModelProto | None = None,
    progress: Progress | None = None,
) -> NumericCheck:
    """Run the float reference, the original and the edited model on every feed of ``data`` and judge the edit.

    Args:
        original: The input model (path or ModelProto).
        edited: The edited model (path or ModelProto).
        data (Dataset): The samples.
        reference (FloatReference): What accuracy is measured against.
        max_added_db (float): The most any slice's error against float may grow, in dB. Defaults to
            DEFAULT_MAX_ADDED_DB (3).
        min_cosine (float): Also require this cosine of every slice of the edited model against the original.
            Defaults to None (informative only).
        structure (onnx.ModelProto): The original's structure, to find each output's Concat slices. Defaults to None
            (per-channel slices along axis 1).
        progress (Progress): Told ``("checking", done, total)`` per sample. Defaults to None.
    """
    original_session, edited_session = _sessions(original, edited)
    names = [o.name for o in original_session.get_outputs()]
    splits = concat_splits(structure, names) if structure is not None else {}
    accumulators: dict[str, OutputErrors] = {}
    notes: list[str] = []
    fix = ("give shapes with --input-shape or data with --inputs" if data.random
           else f"check the samples of {data.label} against the model's inputs")
    samples = 0
    for k, feed in enumerate(data):
        if progress is not None:
            progress("checking", k, data.count)
        reference_out = reference.outputs(feed)
        try:
            original_out = original_session.run(names, feed)
        except Exception as err:  # noqa: BLE001
            raise BadInputError(
                f"ONNX Runtime failed on the input model with these inputs ({first_line(err)}); {fix}"
            ) from None
        try:
            edited_out = edited_session.run(names, feed)
        except Exception as err:  # noqa: BLE001
            raise CheckFailed(f"ONNX Runtime failed on the edited model: {first_line(err)}") from None
        for name, ref, orig, edit in zip(names, reference_out, original_out, edited_out, strict=True):
            ref, orig, edit = np.asarray(ref), np.asarray(orig), np.asarray(edit)
            if not np.issubdtype(orig.dtype, np.floating) or ref.shape != orig.shape or orig.shape != edit.shape:
                if name not in accumulators and not any(name in n for n in notes):
                    notes.append(f"output {name} is not compared: {orig.dtype} values, or shapes that differ "
                                 f"between the models ({ref.shape}, {orig.shape}, {edit.shape})")
                continue
            if name not in accumulators:
                accumulators[name] = OutputErrors(ref.shape, splits.get(name))
            elif accumulators[name].shape != ref.shape:
                notes.append(f"output {name}: sample {k} has shape {ref.shape}, the first had "
                             f"{accumulators[name].shape}; it is left out of this output's figures")
                continue
            accumulators[name].add(ref, orig, edit, k)
        samples = k + 1
    if progress is not None:
        progress("checking", samples, samples)
    outputs = [acc.result(name) for name, acc in accumulators.items()]
    if data.random:
        notes.insert(0, RANDOM_WARNING)
    return NumericCheck(outputs=outputs, max_added_db=max_added_db, inputs=data.label, reference=reference.label,
                        samples=samples, random=data.random, min_cosine=min_cosine, notes=notes)


class OutputErrors:
    """The running sums of one output: overall and per slice axis."""

    def __init__(self, shape: tuple[int, ...], splits: list[tuple[int, list[int]]] | None) -> None:
        self.shape = shape
        self.overall = SliceErrors.empty(["all"])
        self.axes: dict[int, tuple[SliceErrors, np.ndarray]] = {}
        plan: dict[int, list[tuple[str, int, int]]] = {}
        for axis, label, start, stop in _slices_for(shape, splits):
            plan.setdefault(axis, []).append((label, start, stop))
        for axis, slices in plan.items():
            starts = np.array([start for _, start, _ in slices])
            self.axes[axis] = (SliceErrors.empty([label for label, _, _ in slices]), starts)

    def add(self, ref: np.ndarray, orig: np.ndarray, edit: np.ndarray, sample: int) -> None:
        self.overall.add(ref, orig, edit, sample)
        for axis, (errors, starts) in self.axes.items():
            def reduce(values: np.ndarray, how: str, axis=axis, starts=starts) -> np.ndarray:
                along = np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)
                if how == "sum":
                    return np.add.reduceat(along.sum(axis=1), starts)
                return np.maximum.reduceat(along.max(axis=1, initial=0.0), starts)

            errors.add(ref, orig, edit, sample, reduce)

    def result(self, name: str) -> OutputCheck:
        slices = [s for errors, _ in self.axes.values() for s in errors.result()]
        return OutputCheck(name, tuple(self.shape), self.overall.result()[0], sorted(self.axes), slices)


def _slices_for(shape: tuple[int, ...], splits: list[tuple[int, list[int]]] | None):
    """[(axis, label, start, stop)] for one output: its Concat slices, else each channel of axis 1."""
    slices = []
    ndim, size = len(shape), math.prod(shape)
    for axis, sizes in splits or ():
        axis = axis % ndim
        if sum(sizes) != shape[axis] or min(sizes) * size // shape[axis] < _MIN_SLICE_VALUES:
            continue
        start = 0
        for size in sizes:
            slices.append((axis, f"axis {axis} [{start}:{start + size}]", start, start + size))
            start += size
    if slices:
        return slices
    axis = _feature_axis(shape)
    if axis is not None and 1 < shape[axis] <= _MAX_CHANNEL_GROUPS and size // shape[axis] >= _MIN_SLICE_VALUES:
        return [(axis, f"channel {c}", c, c + 1) for c in range(shape[axis])]
    return []


def _feature_axis(shape: tuple[int, ...]) -> int | None:
    """The axis whose entries are features (channels, classes, box coordinates): axis 1 of an NCHW map or of a
    (batch, features, anchors) head, the last axis of a (batch, anchors, features) head (PicoDet, DETR), i.e. of a
    rank-3 output the smaller of the two."""
    if len(shape) < 2:
        return None
    if len(shape) == 3 and shape[2] > 1 and (shape[1] <= 1 or shape[2] < shape[1]):
        return 2
    return 1


def concat_splits(model: onnx.ModelProto, outputs: list[str]) -> dict[str, list[tuple[int, list[int]]]]:
    """For outputs produced by a Concat: (axis, size of each input along it), also for uniform nested Concats.

    A detector head is often Concat(levels, axis=2) of Concat([box rows, class rows], axis=1): both splits are
    returned, so box rows and class rows are compared separately.
    """
    index = GraphIndex(model)
    if not any(o in index.producer and index.ops[index.producer[o]] == "Concat" for o in outputs):
        return {}
    shapes = tensor_shapes(index).shapes

    def split_of(tensor: str) -> list[tuple[int, list[int]]]:
        at = index.producer.get(tensor)
        if at is None or index.ops[at] != "Concat":
            return []
        node = index.node_at(at)
        rank = len(shapes.get(tensor) or [])
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        axis = axis % rank if rank else axis
        sizes = [(shapes.get(name) or [-1] * (axis + 1))[axis] for name in node.input]
        found = [(axis, sizes)] if sizes and min(sizes) > 0 else []
        children = [split_of(name) for name in node.input]
        if children and all(c == children[0] for c in children):  # every input split the same way
            found += [c for c in children[0] if c[0] != axis]
        return found

    return {o: split_of(o) for o in outputs if split_of(o)}
