"""The ``sensitivity`` job: which layers and scale groups cost the most accuracy against float, ranked.

Units come from `qdqtool.analysis.units`: each layer the target runs quantized, and each scale group the merge
would unify. Modes:

- ``local`` (`qdqtool.verify.local`): one pass over the data, three inferences per sample for every layer at once:
  each layer's own error (only its inputs and weights quantized, from float inputs) and its accumulated error;
  each group's error from unification, on its members' float inputs.
- ``global`` (`qdqtool.verify.scoring`): end to end, one model per unit and direction: the model with only that
  layer in float (what `partial` would buy) and/or with only that layer quantized; per group, the model with only
  that group unified, by each policy.

The ranking: by the global "in float" gain when it was measured, else by the local own error; ties in graph
order, so a ranking is the same for the same data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from qdqtool.analysis.groups import find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.analysis.units import Unit, group_units, layer_units
from qdqtool.errors import BadInputError, names_the_model
from qdqtool.io.onnx_io import load_model
from qdqtool.surgery.policy import POLICIES
from qdqtool.verify.check import CheckSettings, prepare_check
from qdqtool.verify.local import GroupLocal, LayerLocal, LocalResult, local_sensitivity
from qdqtool.verify.numerics import Progress
from qdqtool.verify.scoring import METRICS, Score, Scorer, Variant, gain

MODES = ("local", "global", "both")
DIRECTIONS = ("float", "only", "both")


@dataclass(kw_only=True)
class SensitivityRequest(CheckSettings):
    """What ``qdqtool sensitivity`` measures; the data and the reference are CheckSettings fields."""

    model: Path
    target: str | None = None
    mode: str = "local"
    direction: str = "float"  # global mode: this layer in float, only this layer quantized, or both
    metric: str = "snr"
    ops: tuple[str, ...] = ()  # only layers of these op types; () all
    groups: bool = True  # measure the scale groups too
    policy: str = "max"  # the policy local mode judges groups with
    max_scale_ratio: float | None = None
    jobs: int = 1


@dataclass
class UnitRow:
    """One unit's figures; ``key`` ranks it (larger: more sensitive)."""

    unit: Unit
    key: float = 0.0
    rank: int = 0
    in_float: Score | None = None  # global: the model with this layer in float
    only_quantized: Score | None = None  # global: the float model with only this layer quantized
    local: LayerLocal | None = None
    unified: dict[str, Score] = field(default_factory=dict)  # global, groups: policy -> the model with it unified
    group_local: GroupLocal | None = None


@dataclass
class SensitivityResult:
    request: SensitivityRequest
    target: str
    layers: list[UnitRow]  # ranked, most sensitive first
    groups: list[UnitRow]  # ranked
    base: Score | None  # global: the model as it is, against float
    local: LocalResult | None
    inputs: str
    reference: str
    samples: int
    random: bool
    ranked_by: str
    notes: list[str] = field(default_factory=list)


@names_the_model(lambda request, progress=None: request.model)
def run_sensitivity(request: SensitivityRequest, progress: Progress | None = None) -> SensitivityResult:
    """Measure and rank every unit of ``request.model`` (see the module docstring)."""
    for value, allowed, what in ((request.mode, MODES, "--mode"), (request.direction, DIRECTIONS, "--direction"),
                                 (request.metric, METRICS, "--metric"), (request.policy, POLICIES, "--policy")):
        if value not in allowed:
            raise BadInputError(f"{what} {value!r}: choose one of {', '.join(allowed)}")
    rules = load_rules(request.target)
    model = load_model(request.model).model
    analysis = find_scale_groups(model, rules, request.max_scale_ratio)
    layers = layer_units(analysis.index, rules)
    if request.ops:
        layers = [u for u in layers if u.op_type in request.ops]
    groups = group_units(analysis) if request.groups else []
    if not layers and not groups:
        of = f" of type {', '.join(request.ops)}" if request.ops else ""
        raise BadInputError(f"{request.model}: no quantized layer{of} and no scale group to measure")
    prepared = prepare_check(request.model, model, request)
    layer_rows = [UnitRow(u) for u in layers]
    group_rows = [UnitRow(u) for u in groups]
    base, local = None, None
    notes: list[str] = []
    samples = 0
    if request.mode in ("local", "both"):
        by_id = {g.id: g for g in analysis.groups}
        reference = onnx.load(request.reference) if request.reference is not None else None
        local = local_sensitivity(model, layers, [(u, by_id[u.id]) for u in groups], prepared.data, reference,
                                  request.policy, progress)
        for row, entry in zip(layer_rows, local.layers, strict=True):
            row.local = entry
        for row, entry in zip(group_rows, local.groups, strict=True):
            row.group_local = entry
        samples = local.samples
    if request.mode in ("global", "both"):
        scorer = Scorer(model, prepared.data, prepared.reference, request.jobs)
        base, samples = scorer.base, scorer.samples
        variants: list[tuple[UnitRow, str, Variant]] = []
        for row in layer_rows:
            if request.direction in ("float", "both"):
                variants.append((row, "float", Variant("float", row.unit.nodes)))
            if request.direction in ("only", "both"):
                variants.append((row, "only", Variant("only", row.unit.nodes)))
        target = str(rules.path)
        for row in group_rows:
            for policy in POLICIES:
                variants.append((row, policy, Variant("group", group=row.unit.id, policy=policy, rules=target,
                                                      max_scale_ratio=request.max_scale_ratio)))
        scored = scorer.score_all([v for _, _, v in variants], progress, "global")
        for (row, what, _), (_, score) in zip(variants, scored, strict=True):
            if what == "float":
                row.in_float = score
            elif what == "only":
                row.only_quantized = score
            else:
                row.unified[what] = score
    ranked_by = _rank(layer_rows, group_rows, request, base)
    if prepared.data.random:
        notes.insert(0, "inputs are seeded random data: a ranking on random inputs says little about a trained "
                        "model; give real samples with --inputs")
    return SensitivityResult(
        request=request, target=rules.name, layers=layer_rows, groups=group_rows, base=base, local=local,
        inputs=prepared.data.label, reference=(local.reference if local is not None and base is None
                                               else prepared.reference.label),
        samples=samples,
        random=prepared.data.random, ranked_by=ranked_by, notes=notes)


def _rank(layers: list[UnitRow], groups: list[UnitRow], request: SensitivityRequest, base: Score | None) -> str:
    metric = request.metric
    if base is not None and request.direction in ("float", "both"):
        for row in layers:
            row.key = gain(row.in_float, base, metric)
        how = f"global: what putting the layer in float gains ({metric})"
    elif base is not None:
        for row in layers:
            row.key = -row.only_quantized.value(metric)
        how = f"global: the error of the float model with only that layer quantized ({metric})"
    else:
        for row in layers:
            row.key = -_local_value(row.local, metric)
        how = f"local: the layer's own error ({metric})"
    for row in groups:
        if row.unified:  # what unifying it by the policy adds to the error against float
            row.key = row.unified[request.policy].added_db
        elif row.group_local is not None:
            row.key = row.group_local.added_db
    for rows in (layers, groups):
        order = sorted(range(len(rows)), key=lambda i: (-_finite(rows[i].key), i))
        rows[:] = [rows[i] for i in order]
        for rank, row in enumerate(rows, start=1):
            row.rank = rank
    return how


def _local_value(entry: LayerLocal | None, metric: str) -> float:
    if entry is None:
        return 0.0
    own = entry.own
    return {"snr": own.snr_db, "cosine": own.cosine, "mse": -own.mse}[metric]


def _finite(value: float) -> float:
    if math.isnan(value):
        return -math.inf
    return value
