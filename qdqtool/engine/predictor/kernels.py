"""How many standalone Q/DQ kernels each scale group costs, predicted before and after ``merge``.

This is the "predicted kernels" column of ``analyze``: the model is predicted as it is, as ``merge`` would leave
it (each unified group's members given the parameters ``merge``'s policy chooses, without editing the model), and,
when the analysis found placement problems, after ``merge --fix residual-add`` (run on a copy). A standalone kernel
counts for a group when it implements one of the group's Q/DQ nodes (a requantize kernel implements two).

    >>> counts = predict_kernels(analysis, load_rules("tensorrt"))
    >>> assert counts is None or all(a <= b for b, a in counts.groups.values())
"""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx

from qdqtool.analysis.groups import Analysis, GroupStatus
from qdqtool.analysis.rules import RuleSet
from qdqtool.engine.predictor.report import predict_engine
from qdqtool.engine.report import EngineReport
from qdqtool.ir.qdq import QParams
from qdqtool.surgery.merge import merge_scales
from qdqtool.surgery.placement import apply_fixes
from qdqtool.surgery.policy import choose_params

FIX = "residual-add"


@dataclass
class KernelCounts:
    """Predicted standalone Q/DQ kernels (``trt-sim``): the whole model, and per group (before, after merge)."""

    before: int
    after_merge: int
    after_fix: int | None = None  # after merge --fix residual-add, when the analysis found placement problems
    groups: dict[str, tuple[int, int]] = field(default_factory=dict)


def has_predictor(rules: RuleSet) -> bool:
    """True when the rules file has a ``[predictor]`` table (the TensorRT target does)."""
    return rules.predictor is not None


def predict_kernels(
    analysis: Analysis, rules: RuleSet, policy: str = "max", max_scale_ratio: float | None = None
) -> KernelCounts | None:
    """Standalone Q/DQ kernels before and after merge; None when ``rules`` has no predictor.

    Args:
        analysis (Analysis): ``find_scale_groups`` on the model (the model is not modified).
        rules (RuleSet): The target's rules.
        policy (str): The merge policy to predict. Defaults to ``"max"``.
        max_scale_ratio (float): As for merge. Defaults to the target's value.
    """
    if not has_predictor(rules) or not analysis.has_qdq:
        return None
    before = predict_engine(analysis.index, rules)
    after = predict_engine(analysis.index, rules, params=merged_params(analysis, policy))
    counts = KernelCounts(before=len(before.leftover_qdq), after_merge=len(after.leftover_qdq))
    if analysis.findings:
        fixed = predict_engine(_fixed_and_merged(analysis.index.model, rules, policy, max_scale_ratio), rules)
        counts.after_fix = len(fixed.leftover_qdq)
    before_at, after_at = _standalone_by_node(before), _standalone_by_node(after)
    for group in analysis.groups:
        counts.groups[group.id] = (_touching(before_at, group.nodes), _touching(after_at, group.nodes))
    return counts


def merged_params(analysis: Analysis, policy: str = "max") -> dict[str, QParams]:
    """The parameters ``merge`` gives each member of a mismatched group (node name -> parameters)."""
    params: dict[str, QParams] = {}
    for group in analysis.by_status(GroupStatus.MISMATCHED):
        chosen, _ = choose_params(group, policy)
        params.update((name, chosen) for name in group.nodes)
    return params


def _fixed_and_merged(model: onnx.ModelProto, rules: RuleSet, policy: str, ratio: float | None) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    apply_fixes(copy, rules, [FIX])
    merge_scales(copy, rules, policy, True, ratio)
    return copy


def _standalone_by_node(report: EngineReport) -> dict[str, list[int]]:
    """ONNX node name -> the standalone Q/DQ kernels (by position) implementing it."""
    found: dict[str, list[int]] = {}
    for i, layer in enumerate(report.leftover_qdq):
        for node in layer.raw.get("implements", ()):
            found.setdefault(node, []).append(i)
    return found


def _touching(by_node: dict[str, list[int]], members: list[str]) -> int:
    return len({i for name in members for i in by_node.get(name, ())})
