"""Accuracy-aware merging: each scale group's unification measured on the data, against float.

With real samples (``merge --inputs``), every mismatched group is unified alone and the model scored end to end
(`qdqtool.verify.scoring`): a group whose unification adds more than the limit to any output slice's error against
float is refused (accuracy) with that measured cost; ``--policy min-error`` tries, per group, the ``max`` and
``output`` parameters and scales in between, and keeps the one that adds least on the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qdqtool.analysis.groups import Analysis, GroupStatus, ScaleGroup
from qdqtool.ir.qdq import QParams, params_from_arrays
from qdqtool.surgery.policy import choose_params
from qdqtool.verify.scoring import Progress, Scorer, Variant

MIN_ERROR = "min-error"
BETWEEN = 3  # scales tried between the output Q's and the union of ranges, geometrically spaced


@dataclass
class GroupJudgement:
    """What measuring each group decided."""

    added_db: dict[str, float] = field(default_factory=dict)  # group -> what its chosen unification adds
    refuse: dict[str, str] = field(default_factory=dict)  # group -> why (accuracy)
    chosen: dict[str, tuple[QParams, str]] = field(default_factory=dict)  # min-error: group -> parameters, how


def judge_groups(analysis: Analysis, scorer: Scorer, rules: str, policy: str, max_added_db: float,
                 max_scale_ratio: float | None = None, progress: Progress | None = None) -> GroupJudgement:
    """Measure every mismatched group of ``analysis`` alone (see the module docstring).

    Args:
        analysis (Analysis): The groups of the model the scorer scores.
        scorer (Scorer): Scores variants of that model against float.
        rules (str): The rules file that found the groups (passed to worker processes).
        policy (str): ``max``, ``output`` or ``min-error``.
        max_added_db (float): Refuse a group whose unification adds more than this (dB).
        max_scale_ratio (float): As for the merge. Defaults to the target's.
        progress (Progress): Told about each measurement. Defaults to None.
    """
    groups = analysis.by_status(GroupStatus.MISMATCHED)
    candidates = {g.id: _candidates(g, policy) for g in groups}
    variants = [Variant("group", group=g.id, params=params, rules=rules, max_scale_ratio=max_scale_ratio)
                for g in groups for params, _ in candidates[g.id]]
    scores = iter(score for _, score in scorer.score_all(variants, progress, "judging groups"))
    judgement = GroupJudgement()
    for group in groups:
        measured = [(next(scores).added_db, k) for k in range(len(candidates[group.id]))]
        added, best = min(measured)  # ties: the first candidate (the policy's own, or max)
        params, how = candidates[group.id][best]
        judgement.added_db[group.id] = added
        if policy == MIN_ERROR:
            judgement.chosen[group.id] = (params, f"min-error: {how}, adds {added:+.2f} dB on the data "
                                                  f"(max: {measured[0][0]:+.2f} dB)")
        if added > max_added_db:
            judgement.refuse[group.id] = (f"accuracy: unifying it adds {added:+.2f} dB to the error against float "
                                          f"on the data (limit {max_added_db:g} dB)")
    return judgement


def _candidates(group: ScaleGroup, policy: str) -> list[tuple[QParams, str]]:
    """The parameters to measure: the policy's, or for min-error max first, then output and scales between."""
    if policy != MIN_ERROR:
        return [choose_params(group, policy)]
    widest, how = choose_params(group, "max")
    found = [(widest, how)]
    output, how = choose_params(group, "output")
    if not output.same_as(widest):
        found.append((output, how))
    low, high = sorted((float(output.scale_value), float(widest.scale_value)))
    if low > 0 and high > low:
        for scale in np.geomspace(low, high, BETWEEN + 2)[1:-1]:
            params = params_from_arrays(np.array(scale, dtype=widest.scale.dtype),
                                        np.array(widest.zero_point_value, dtype=widest.zero_point.dtype),
                                        widest.dtype)
            found.append((params, f"scale {scale:.6g} between the output Q's and the union of ranges"))
    return found
