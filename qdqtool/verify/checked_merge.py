"""The whole ``merge`` job as one library call: load, unify, check numerically, write atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from qdqtool.analysis.rules import load_rules
from qdqtool.errors import BadInputError
from qdqtool.io.onnx_io import load_model, staged_model
from qdqtool.surgery.merge import MergeResult, merge_scales
from qdqtool.surgery.placement import PlacementAction, apply_fixes
from qdqtool.verify.inputs import load_npz, random_inputs
from qdqtool.verify.numerics import NumericCheck, compare_models


@dataclass
class MergeRequest:
    """Everything ``qdqtool merge`` needs; "None means default"."""

    model: Path
    output: Path | None = None  # None: <model>.merged.onnx beside the input
    target: str | None = None
    policy: str = "max"
    dedupe: bool = True
    max_scale_ratio: float | None = None
    dry_run: bool = False
    verify: bool = True
    min_cosine: float = 0.99
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    inputs: Path | None = None  # .npz with user data
    seed: int = 0
    fixes: tuple[str, ...] = ()  # placement fixes run before unification (``--fix residual-add``)

    def output_path(self) -> Path:
        if self.output is not None:
            return self.output
        return self.model.with_name(self.model.stem + ".merged.onnx")


@dataclass
class MergeOutcome:
    """The result of a merge job. True when nothing failed."""

    request: MergeRequest
    result: MergeResult
    check: NumericCheck | None
    written: list[Path]
    fixes: list[PlacementAction] = field(default_factory=list)  # placement edits made before unification

    @property
    def changed(self) -> bool:
        return bool(self.fixes) or self.result.changed

    def __bool__(self) -> bool:
        return self.check is None or bool(self.check)


def checked_merge(request: MergeRequest) -> MergeOutcome:
    """Run merge: the input file is never modified; the output is written only if the check passes.

    The merged model is first written beside its target under a temporary name; ONNX Runtime checks that file
    against the input file (both read from disk, so models over 2 GB with external data work), and only then is
    it renamed into place.

    Args:
        request (MergeRequest): What to do.
    """
    if not request.dry_run and os.path.abspath(request.output_path()) == os.path.abspath(request.model):
        raise BadInputError(f"{request.model}: the output would overwrite the input; choose another -o")
    rules = load_rules(request.target)
    loaded = load_model(request.model)
    fixes = apply_fixes(loaded.model, rules, request.fixes) if request.fixes else []
    result = merge_scales(loaded.model, rules, request.policy, request.dedupe, request.max_scale_ratio)
    if request.dry_run or not result.analysis.has_qdq:
        return MergeOutcome(request=request, result=result, check=None, written=[], fixes=fixes)
    check = None
    with staged_model(result.model, request.output_path(), external_data=loaded.external_data) as staged:
        if request.verify and (result.changed or fixes):
            check = _check(request, staged.path)
        written = staged.publish() if check is None or check else []
    return MergeOutcome(request=request, result=result, check=check, written=written, fixes=fixes)


def _check(request: MergeRequest, merged: Path) -> NumericCheck:
    # the input's structure only (weights stay on disk): for its input shapes and its output Concats
    reference = onnx.load(str(request.model), load_external_data=False)
    if request.inputs is not None:
        data, label = load_npz(request.inputs, reference), f"{request.inputs}"
    else:
        data = random_inputs(reference, request.input_shapes, request.seed)
        label = f"seeded random (seed {request.seed})"
    return compare_models(request.model, merged, data, request.min_cosine, label, reference_model=reference)
