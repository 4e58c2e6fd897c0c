"""merge_scales: unify every fixable scale group of a model, then drop Q nodes that became duplicates."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

import onnx

from qdqtool.analysis.groups import Analysis, GroupStatus, find_scale_groups
from qdqtool.analysis.rules import RuleSet
from qdqtool.ir.qdq import QParams
from qdqtool.surgery.cleanup import remove_dead
from qdqtool.surgery.dedupe import repoint_duplicate_quantizers
from qdqtool.surgery.unify import GroupAction, unify_groups


@dataclass
class MergeResult:
    """What merge did. ``analysis`` describes the model *before* the edits."""

    model: onnx.ModelProto
    analysis: Analysis
    actions: list[GroupAction]
    deduplicated: list[str] = field(default_factory=list)  # names of removed duplicate Q nodes

    @property
    def changed(self) -> bool:
        return bool(self.deduplicated) or any(a.action in ("unified", "shared") for a in self.actions)

    @property
    def unified(self) -> list[GroupAction]:
        return [a for a in self.actions if a.action == "unified"]

    @property
    def refused(self) -> list[GroupAction]:
        return [a for a in self.actions if a.action == "refused"]


def merge_scales(
    model: onnx.ModelProto,
    rules: RuleSet,
    policy: str = "max",
    dedupe: bool = True,
    max_scale_ratio: float | None = None,
    *,
    only: Collection[str] | None = None,
    chosen: Mapping[str, tuple[QParams, str]] | None = None,
    refuse: Mapping[str, str] | None = None,
) -> MergeResult:
    """Unify the scale groups of ``model`` for ``rules``' target. Edits ``model`` in place.

    Args:
        model (onnx.ModelProto): The model (its file is never touched; pass a copy to keep the original).
        rules (RuleSet): The target's rules.
        policy (str): ``"max"`` or ``"output"``. Defaults to ``"max"``.
        dedupe (bool): Merge Q nodes that became exact duplicates. Defaults to True.
        max_scale_ratio (float): Refuse groups above this max/min scale ratio. Defaults to the target's value.
        only (Collection[str]): Unify only these groups (ids). Defaults to all.
        chosen (Mapping[str, tuple[QParams, str]]): Measured parameters for some groups (``--policy min-error``).
        refuse (Mapping[str, str]): Groups to refuse (id -> why), e.g. those whose unification adds too much
            error on the data. Defaults to none.
    """
    with _no_gc():
        analysis = find_scale_groups(model, rules, max_scale_ratio)
        for group in analysis.groups:
            if refuse and group.id in refuse and group.status is GroupStatus.MISMATCHED:
                group.status = GroupStatus.REFUSED
                group.reasons.append(refuse[group.id])
        index = analysis.index
        unification = unify_groups(analysis, policy, only, chosen)
        duplicates = repoint_duplicate_quantizers(analysis) if dedupe else []
        if not unification.detached and not duplicates:
            return MergeResult(model=model, analysis=analysis, actions=unification.actions)
        names = {i: index.name_of(i) for i in duplicates}
        _, removed = remove_dead(index, unification.detached, duplicates)
    return MergeResult(model=model, analysis=analysis, actions=unification.actions,
                       deduplicated=[names[i] for i in removed])


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The analysis allocates a few small objects per node and frees nothing until it is done: Python's cyclic
    collector would rescan them over and over (15% of merge time on a 45k-node graph). Off while it runs.

    They outlive the call (the result holds them), so they are handed back as old objects (freeze, then unfreeze
    into the oldest generation): otherwise the first young collection after re-enabling walks all of them at
    once (another 5%). Not when the caller froze objects itself: unfreezing would undo that.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
