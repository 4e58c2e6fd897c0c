"""Everything ``qdqtool report`` shows, gathered by one library call (the page only renders it).

Without ``--merged`` the model is merged in memory (``checked_merge`` into a temporary folder, numerically checked);
with it, the given merged model is compared with the original. ``--before``/``--after`` engines are diffed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import onnx

from qdqtool.analysis.groups import Analysis, ScaleGroup, find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.analysis.subgraph import SubGraph, group_subgraph
from qdqtool.engine.diff import EngineDiff, diff_engines
from qdqtool.engine.load import engine_report_from_path
from qdqtool.engine.model_match import require_engine_of
from qdqtool.errors import BadInputError, names_the_model
from qdqtool.io.onnx_io import load_model, read_structure
from qdqtool.ir.dataflow import dataflow_graph
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import read_params
from qdqtool.jobs.merge import MergeRequest, checked_merge
from qdqtool.jobs.sensitivity import SensitivityRequest, SensitivityResult, run_sensitivity
from qdqtool.surgery.policy import POLICIES
from qdqtool.surgery.unify import GroupAction
from qdqtool.verify.check import CheckSettings, prepare_check, run_check
from qdqtool.verify.numerics import NumericCheck, Progress


@dataclass
class ReportRequest(CheckSettings):
    """What ``qdqtool report`` needs; "None means default" (the numeric check's fields: CheckSettings)."""

    model: Path
    merged: Path | None = None
    before: Path | None = None  # engine before the merge (layer JSON, folder or plan)
    after: Path | None = None
    before_profile: Path | None = None
    after_profile: Path | None = None
    target: str | None = None
    max_scale_ratio: float | None = None
    policy: str = "max"
    outputs: tuple[Path, ...] = ()  # the files the command will write (the page, --annotate): never the model
    sensitivity: str | None = None  # also rank the layers: "local" or "global" (qdqtool.jobs.sensitivity)


@dataclass
class GroupChange:
    """The scales of one group's members before and after the merge (None: the node is gone, deduplicated)."""

    group: ScaleGroup
    before: dict[str, float | None]
    after: dict[str, float | None]
    action: GroupAction | None = None

    @property
    def changed(self) -> bool:
        return any(self.after.get(name) != scale for name, scale in self.before.items())

    @property
    def scale_change(self) -> str:
        """``0.03, 0.05 -> 0.05`` (distinct scales, in order of appearance)."""
        def distinct(values) -> str:
            seen = list(dict.fromkeys(f"{v:.6g}" for v in values if v is not None))
            return ", ".join(seen) or "-"

        before, after = distinct(self.before.values()), distinct(self.after.values())
        return before if before == after else f"{before} -> {after}"


@dataclass
class ReportData:
    request: ReportRequest
    original: onnx.ModelProto
    analysis: Analysis
    merged: onnx.ModelProto | None
    merged_label: str  # where the merged model came from
    changes: list[GroupChange]
    check: NumericCheck | None
    diff: EngineDiff | None
    notes: list[str] = field(default_factory=list)
    drawings: dict[str, tuple[SubGraph, SubGraph]] = field(default_factory=dict)  # group id -> (before, after)
    sensitivity: SensitivityResult | None = None

    @property
    def changed(self) -> list[GroupChange]:
        return [c for c in self.changes if c.changed]


def member_scales(index: GraphIndex, names: list[str]) -> dict[str, float | None]:
    """The per-tensor scale of each named Q/DQ node in ``index`` (None when the node is not there)."""
    scales: dict[str, float | None] = {}
    for name in names:
        found = index.find(name)
        params = read_params(index, index.node_at(found)) if found is not None else None
        scales[name] = float(params.scale.reshape(-1)[0]) if params is not None else None
    return scales


def _drawings(analysis: Analysis, merged: GraphIndex, changes: list[GroupChange]) -> dict[str, tuple]:
    """The before/after subgraph of every group the merge changed."""
    changed = [c for c in changes if c.changed]
    if not changed:
        return {}
    before_flow, after_flow = dataflow_graph(analysis.index), dataflow_graph(merged)
    return {
        c.group.id: (group_subgraph(analysis.index, list(c.before), c.group.ops, before_flow),
                     group_subgraph(merged, list(c.before), c.group.ops, after_flow))
        for c in changed
    }


def _refuse_overwriting(request: ReportRequest) -> None:
    model = request.model.resolve()
    for target in request.outputs:
        if target.resolve() == model:
            raise BadInputError(f"{target}: would overwrite the model; choose another file")


def _merge_in_memory(request: ReportRequest, tmp: Path, progress: Progress | None
                     ) -> tuple[onnx.ModelProto, list[GroupAction], NumericCheck]:
    check = {f.name: getattr(request, f.name) for f in fields(CheckSettings)}
    outcome = checked_merge(MergeRequest(
        model=request.model, output=tmp / "merged.onnx", target=request.target, policy=request.policy,
        max_scale_ratio=request.max_scale_ratio, **check,
    ), progress)
    return outcome.result.model, outcome.result.actions, outcome.check


@names_the_model(lambda request, progress=None: request.model)
def collect_report(request: ReportRequest, progress: Progress | None = None) -> ReportData:
    """Analyse, merge (or read the merged model), check numerically and diff the engines.

    Args:
        request (ReportRequest): What to report on.
        progress (Progress): Told about the numeric check's samples. Defaults to None.
    """
    if (request.before is None) != (request.after is None):
        raise BadInputError("give both --before and --after (the engines built before and after the merge)")
    _refuse_overwriting(request)
    original = load_model(request.model).model
    analysis = find_scale_groups(original, load_rules(request.target), request.max_scale_ratio)
    actions: list[GroupAction] = []
    check = None
    notes: list[str] = []
    if request.merged is not None:
        prepared = prepare_check(request.model, read_structure(request.model), request) if request.verify else None
        merged = load_model(request.merged).model
        label = str(request.merged)
        if prepared is not None:
            check = run_check(request.model, request.merged, prepared, progress)
    else:
        with tempfile.TemporaryDirectory(prefix="qdqtool-report-") as tmp:
            merged, actions, check = _merge_in_memory(request, Path(tmp), progress)
        label = f"qdqtool merge --policy {request.policy} (in memory, not written)"
    if not request.verify:
        notes.append("numeric check skipped (--no-verify)")
    merged_index = GraphIndex(merged)
    by_group = {a.group: a for a in actions}
    changes = []
    for group in analysis.groups:
        before = {n.name: float(n.params.scale.reshape(-1)[0]) if n.params else None
                  for q in group.quantizers for n in q.nodes}
        changes.append(GroupChange(group, before, member_scales(merged_index, list(before)), by_group.get(group.id)))
    diff = None
    if request.before is not None:
        before_engine = engine_report_from_path(request.before, request.before_profile)
        require_engine_of(before_engine, original, str(request.model))
        diff = diff_engines(before_engine, engine_report_from_path(request.after, request.after_profile))
    sensitivity = None
    if request.sensitivity is not None:
        settings = {f.name: getattr(request, f.name) for f in fields(CheckSettings)}
        sensitivity = run_sensitivity(SensitivityRequest(
            model=request.model, target=request.target, mode=request.sensitivity,
            max_scale_ratio=request.max_scale_ratio,
            policy=request.policy if request.policy in POLICIES else "max", **settings), progress)
    return ReportData(request=request, original=original, analysis=analysis, merged=merged, merged_label=label,
                      changes=changes, check=check, diff=diff, notes=notes + list(analysis.notes),
                      drawings=_drawings(analysis, merged_index, changes), sensitivity=sensitivity)
