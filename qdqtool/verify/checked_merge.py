"""The whole ``merge`` job as one library call: load, unify, check numerically, write atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from qdqtool.analysis.rules import load_rules
from qdqtool.errors import BadInputError
from qdqtool.io.onnx_io import load_model, save_model
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

    Args:
        request (MergeRequest): What to do.
    """
    if not request.dry_run and os.path.abspath(request.output_path()) == os.path.abspath(request.model):
        raise BadInputError(f"{request.model}: the output would overwrite the input; choose another -o")
    rules = load_rules(request.target)
    loaded = load_model(request.model)
    original_bytes_needed = request.verify and not request.dry_run
    original = onnx.ModelProto()
    if original_bytes_needed:
        original.CopyFrom(loaded.model)
    fixes = apply_fixes(loaded.model, rules, request.fixes) if request.fixes else []
    result = merge_scales(loaded.model, rules, request.policy, request.dedupe, request.max_scale_ratio)
    check = None
    if original_bytes_needed and (result.changed or fixes):
        if request.inputs is not None:
            data, label = load_npz(request.inputs, original), f"{request.inputs}"
        else:
            data, label = random_inputs(original, request.input_shapes, request.seed), f"seeded random (seed {request.seed})"
        check = compare_models(original, result.model, data, request.min_cosine, label, reference_model=original)
    written: list[Path] = []
    if not request.dry_run and (check is None or check) and result.analysis.has_qdq:
        written = save_model(result.model, request.output_path(), external_data=loaded.external_data)
    return MergeOutcome(request=request, result=result, check=check, written=written, fixes=fixes)
