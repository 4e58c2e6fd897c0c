"""Run the original and the edited model in ONNX Runtime (CPU) and compare every output.

A global cosine over a detector output is dominated by its largest values (box coordinates in pixels) and can
stay at 0.999 while the class scores beside them were rounded to nothing. So each output is also compared per
channel group along its feature axis: the slices of the Concat that produced it when there is one (box rows
and class rows separately), else each channel of axis 1 (when a channel holds at least 16 values: a classifier's
(1, 1000) scores are compared as a whole). The gate uses the worst slice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import onnx

from qdqtool.errors import BadInputError, CheckFailed
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.shapes import tensor_shapes
from qdqtool.verify.metrics import Similarity, similarity
from qdqtool.verify.session import SessionError, first_line, ort_session

_MAX_CHANNEL_GROUPS = 4096
# A slice needs some values for its cosine to mean anything: a (1, 1000) classifier output sliced per class gives
# single numbers, whose cosine is +1 or -1 whatever the error.
_MIN_SLICE_VALUES = 16


@dataclass
class OutputCheck:
    """Metrics of one model output: over the whole tensor and per channel group."""

    name: str
    shape: tuple[int, ...]
    overall: Similarity
    axes: list[int]  # the axes along which slices were compared
    slices: list[Similarity] = field(default_factory=list)

    @property
    def worst(self) -> Similarity:
        return min([self.overall, *self.slices], key=lambda s: (s.cosine, s.snr_db))


@dataclass
class NumericCheck:
    """The comparison of two models on the same inputs. True when every slice meets ``min_cosine``."""

    outputs: list[OutputCheck]
    min_cosine: float
    inputs: str  # where the inputs came from, for the report

    @property
    def worst(self) -> tuple[OutputCheck, Similarity] | None:
        pairs = [(o, o.worst) for o in self.outputs]
        return min(pairs, key=lambda p: (p[1].cosine, p[1].snr_db)) if pairs else None

    @property
    def worst_cosine(self) -> float:
        worst = self.worst
        return worst[1].cosine if worst else 1.0

    def __bool__(self) -> bool:
        return self.worst_cosine >= self.min_cosine


def compare_models(
    original: onnx.ModelProto | str | os.PathLike,
    edited: onnx.ModelProto | str | os.PathLike,
    inputs: dict[str, np.ndarray],
    min_cosine: float = 0.99,
    inputs_label: str = "seeded random",
    reference_model: onnx.ModelProto | None = None,
) -> NumericCheck:
    """Run both models on ``inputs`` and compare their outputs.

    Args:
        original: The input model (path or ModelProto).
        edited: The edited model (path or ModelProto).
        inputs (dict): Input arrays by name.
        min_cosine (float): The worst slice must reach this cosine. Defaults to 0.99.
        inputs_label (str): Describes the inputs in the report. Defaults to "seeded random".
        reference_model (onnx.ModelProto): The original as a ModelProto, to find each output's Concat slices.
            Defaults to None (per-channel slices along axis 1).
    """
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
    try:
        ref_out = reference.run(None, inputs)
    except Exception as err:  # noqa: BLE001
        fix = ("give shapes with --input-shape or data with --inputs" if inputs_label.startswith("seeded")
               else f"check the arrays in {inputs_label} against the model's inputs")
        raise BadInputError(
            f"ONNX Runtime failed on the input model with these inputs ({first_line(err)}); {fix}"
        ) from None
    try:
        cand_out = candidate.run(None, inputs)
    except Exception as err:  # noqa: BLE001
        raise CheckFailed(f"ONNX Runtime failed on the edited model: {first_line(err)}") from None
    names = [o.name for o in reference.get_outputs()]
    splits = _concat_splits(reference_model, names) if reference_model is not None else {}
    checks = []
    for name, ref, cand in zip(names, ref_out, cand_out, strict=True):
        ref, cand = np.asarray(ref), np.asarray(cand)
        if not np.issubdtype(ref.dtype, np.number) or ref.shape != cand.shape:
            continue
        slices = []
        axes = set()
        for axis, label, start, stop in _slices_for(ref, splits.get(name)):
            index = [slice(None)] * ref.ndim
            index[axis] = slice(start, stop)
            slices.append(similarity(ref[tuple(index)], cand[tuple(index)], label))
            axes.add(axis)
        checks.append(OutputCheck(name, tuple(ref.shape), similarity(ref, cand), sorted(axes), slices))
    return NumericCheck(outputs=checks, min_cosine=min_cosine, inputs=inputs_label)


def _slices_for(ref: np.ndarray, splits: list[tuple[int, list[int]]] | None):
    """[(axis, label, start, stop)] for one output: its Concat slices, else each channel of axis 1."""
    slices = []
    for axis, sizes in splits or ():
        axis = axis % ref.ndim
        if sum(sizes) != ref.shape[axis] or min(sizes) * ref.size // ref.shape[axis] < _MIN_SLICE_VALUES:
            continue
        start = 0
        for size in sizes:
            slices.append((axis, f"axis {axis} [{start}:{start + size}]", start, start + size))
            start += size
    if slices:
        return slices
    if ref.ndim >= 2 and 1 < ref.shape[1] <= _MAX_CHANNEL_GROUPS and ref.size // ref.shape[1] >= _MIN_SLICE_VALUES:
        return [(1, f"channel {c}", c, c + 1) for c in range(ref.shape[1])]
    return []


def _concat_splits(model: onnx.ModelProto, outputs: list[str]) -> dict[str, list[tuple[int, list[int]]]]:
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
