"""The whole ``merge`` job as one library call: load, unify, check numerically, write atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import onnx

from qdqtool.analysis.rules import load_rules
from qdqtool.errors import BadInputError, names_the_model
from qdqtool.io.data.shapes import check_input_shapes
from qdqtool.io.onnx_io import load_model, read_structure, staged_model
from qdqtool.jobs.writing import check_output_path, checker_notes, input_files
from qdqtool.surgery.fp16 import FIX as FP16
from qdqtool.surgery.merge import MergeResult, merge_scales
from qdqtool.verify.check import CheckSettings, prepare_check, run_check
from qdqtool.verify.numerics import Progress
from qdqtool.verify.session import QDQ_PROPAGATION, SessionError, ort_session

if TYPE_CHECKING:  # imported when used: --fix and the numeric check are optional steps
    from qdqtool.surgery.placement import PlacementAction
    from qdqtool.verify.check import PreparedCheck
    from qdqtool.verify.group_judge import GroupJudgement
    from qdqtool.verify.numerics import NumericCheck

MIN_ERROR = "min-error"  # --policy: measured per group on the data (qdqtool.verify.group_judge)


@dataclass
class MergeRequest(CheckSettings):
    """Everything ``qdqtool merge`` needs; "None means default" (the numeric check's fields: CheckSettings)."""

    model: Path
    output: Path | None = None  # None: <model>.merged.onnx beside the input
    target: str | None = None
    policy: str = "max"
    dedupe: bool = True
    max_scale_ratio: float | None = None
    dry_run: bool = False
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
    notes: list[str] = field(default_factory=list)  # e.g. the input already fails onnx.checker

    @property
    def changed(self) -> bool:
        return bool(self.fixes) or self.result.changed

    def __bool__(self) -> bool:
        return self.check is None or bool(self.check)


@names_the_model(lambda request, progress=None: request.model)
def checked_merge(request: MergeRequest, progress: Progress | None = None) -> MergeOutcome:
    """Run merge: the input file is never modified; the output is written only if the check passes.

    The merged model is first written beside its target under a temporary name; ONNX Runtime checks that file
    against the input file and the float reference (all read from disk, so models over 2 GB with external data
    work), and only then is it renamed into place. The data set and the reference are opened before the merge, so
    a data set or a reference that does not fit the model stops the command before any work.

    Args:
        request (MergeRequest): What to do.
        progress (Progress): Told about the numeric check's samples. Defaults to None.
    """
    if not request.dry_run:
        check_output_path(request.output_path(), request.model)
    rules = load_rules(request.target)
    loaded = load_model(request.model)
    check_input_shapes(loaded.model, request.input_shapes)  # a wrong option is wrong in a dry run too
    prepared = None
    if request.verify and not request.dry_run:
        prepared = prepare_check(Path(request.model), read_structure(request.model), request)
    fixes = []
    placement = [f for f in request.fixes if f != FP16]
    if placement:
        from qdqtool.surgery.placement import apply_fixes

        fixes = apply_fixes(loaded.model, rules, placement)
    notes: list[str] = []
    judgement = None
    if prepared is not None and (request.inputs is not None or request.policy == MIN_ERROR):
        judgement, chosen_notes = _judge_groups(loaded.model, rules, request, prepared, progress)
        notes += chosen_notes
    elif request.policy == MIN_ERROR:
        raise BadInputError("--policy min-error measures each group on the data: it needs the numeric check "
                            "(drop --no-verify / --dry-run)")
    result = merge_scales(loaded.model, rules, "max" if request.policy == MIN_ERROR else request.policy,
                          request.dedupe, request.max_scale_ratio,
                          chosen=judgement.chosen if judgement else None,
                          refuse=judgement.refuse if judgement else None)
    if FP16 in request.fixes:
        fixes += _cast_float_regions(result.model, rules)
    if judgement is not None:
        for action in result.actions:
            if action.action == "unified" and action.group in judgement.added_db and request.policy != MIN_ERROR:
                action.how += f"; adds {judgement.added_db[action.group]:+.2f} dB on the data"
    if request.dry_run or not result.analysis.has_qdq:
        return MergeOutcome(request=request, result=result, check=None, written=[], fixes=fixes)
    check = None
    try:
        with staged_model(result.model, request.output_path(), external_data=loaded.external_data,
                          avoid=input_files(loaded),  # also not over its external data
                          size_hint=Path(request.model).stat().st_size) as staged:
            if request.verify and (result.changed or fixes):
                notes += checker_notes(staged.path, request.model, "merge")
                check = _check(request.model, staged.path, prepared, progress)
                notes += _ort_default_session_note(request.model, loaded.model)
            written = staged.publish() if check is None or check else []
    except OSError as err:
        raise BadInputError(f"{request.output_path()}: cannot write the output: {err.strerror or err}") from None
    return MergeOutcome(request=request, result=result, check=check, written=written, fixes=fixes, notes=notes)


def _cast_float_regions(model, rules) -> list:
    """``--fix fp16``, after the merge: the nodes of the layers TensorRT would run in a float precision (predicted on
    the merged model, strongly typed) get FP16 types (surgery/fp16.py)."""
    from qdqtool.engine.predictor import predict_engine
    from qdqtool.engine.report import LayerClass
    from qdqtool.surgery.fp16 import cast_float_regions

    engine = predict_engine(model, rules, float_precision="onnx")
    floats = [n for layer in engine.layers if layer.cls is not LayerClass.QDQ
              and not any(t.dtype in ("int8", "uint8") for t in (*layer.inputs, *layer.outputs))
              for n in layer.onnx_nodes]
    return cast_float_regions(model, floats)


def _judge_groups(model: onnx.ModelProto, rules, request: MergeRequest, prepared: PreparedCheck,
                  progress: Progress | None) -> tuple[GroupJudgement | None, list[str]]:
    """Each mismatched group unified alone and measured on the data (refusals, min-error's parameters)."""
    from qdqtool.analysis.groups import GroupStatus, find_scale_groups
    from qdqtool.verify.group_judge import judge_groups
    from qdqtool.verify.scoring import Scorer

    analysis = find_scale_groups(model, rules, request.max_scale_ratio)
    if not analysis.by_status(GroupStatus.MISMATCHED):
        return None, []
    scorer = Scorer(model, prepared.data, prepared.reference)
    judgement = judge_groups(analysis, scorer, str(rules.path), request.policy, request.max_added_error,
                             request.max_scale_ratio, progress)
    if request.policy != MIN_ERROR or not judgement.chosen:
        return judgement, []

    def merged(chosen) -> onnx.ModelProto:
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        return merge_scales(copy, rules, "max", request.dedupe, request.max_scale_ratio, chosen=chosen,
                            refuse=judgement.refuse).model

    # the groups were measured one at a time: keep min-error's choice only if, together, it adds no more than max
    by_choice, by_max = scorer.score_model(merged(judgement.chosen)), scorer.score_model(merged(None))
    if by_choice.added_db <= by_max.added_db:
        return judgement, []
    judgement.chosen = {}
    return judgement, [f"--policy min-error: the groups' best parameters, together, add {by_choice.added_db:+.2f} dB "
                       f"against {by_max.added_db:+.2f} dB for max; max was used"]


def _ort_default_session_note(model_path: Path, model: onnx.ModelProto) -> list[str]:
    """ONNX Runtime 1.32 rejects some opset-21 int8 Q/DQ graphs with its default optimisations (its
    QDQPropagationTransformer writes an invalid Q); the check runs without that pass. Tell the user when their
    model is one of them, so a PASSED output is not a surprise in their runtime."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 21:
        return []
    try:
        ort_session(model_path, qdq_propagation=True)
    except SessionError as err:
        return [f"ONNX Runtime's default session rejects this model, the input as well ({err}); "
                f"load it with disabled_optimizers=['{QDQ_PROPAGATION}'], as the numeric check did"]
    return []


def _check(model: Path, merged: Path, prepared: PreparedCheck, progress: Progress | None) -> NumericCheck:
    return run_check(model, merged, prepared, progress)
