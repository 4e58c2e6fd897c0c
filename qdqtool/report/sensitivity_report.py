"""The output of ``qdqtool sensitivity`` and ``qdqtool partial``: rich tables, status lines, JSON documents."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from qdqtool.report.numbers import db, signed_db

if TYPE_CHECKING:  # for type hints only: report renders what a job returned
    from qdqtool.jobs.partial import Cost, PartialResult, Step
    from qdqtool.jobs.sensitivity import SensitivityResult, UnitRow
    from qdqtool.verify.scoring import Score


def _db(value: float) -> str:
    return db(value, 2)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def score_text(score: Score) -> str:
    return f"SNR {_db(score.snr_db)} dB, cosine {score.cosine:.4f} ({score.worst})"


# --- sensitivity ---------------------------------------------------------------------------------------------------


def sensitivity_renderable(result: SensitivityResult, top: int | None = None) -> RenderableType:
    """The ranked layers (the ``top`` first), the ranked groups, and the notes."""
    parts: list[RenderableType] = [Text(
        f"Sensitivity of {result.request.model} for {result.target}: {len(result.layers)} layer(s), "
        f"{len(result.groups)} scale group(s), against {result.reference}, on {result.inputs} "
        f"({result.samples} sample(s)); ranked by {result.ranked_by}")]
    if result.base is not None:
        parts.append(Text(f"the model as it is: {score_text(result.base)}"))
    if result.layers:
        parts.append(_layers_table(result, top))
    if result.groups:
        parts.append(_groups_table(result))
    parts += [Text(f"note: {n}", style="dim") for n in result.notes]
    return Group(*parts)


def _layers_table(result: SensitivityResult, top: int | None) -> Table:
    rows = result.layers[:top] if top else result.layers
    shown = "" if len(rows) == len(result.layers) else f" (the first {len(rows)} of {len(result.layers)})"
    table = Table(title=f"Layers, most sensitive first{shown}", title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("unit")
    table.add_column("layer")
    table.add_column("op")
    has_float = any(r.in_float is not None for r in rows)
    has_only = any(r.only_quantized is not None for r in rows)
    has_local = any(r.local is not None for r in rows)
    if has_float:
        table.add_column("in float: SNR dB", justify="right")
        table.add_column("gain dB", justify="right")
    if has_only:
        table.add_column("only it quantized: SNR dB", justify="right")
    if has_local:
        table.add_column("own SNR dB", justify="right")
        table.add_column("accumulated SNR dB", justify="right")
    base = result.base
    for row in rows:
        cells = [str(row.rank), row.unit.id, row.unit.name, row.unit.op_type]
        if has_float:
            f = row.in_float
            cells += [_db(f.snr_db) if f else "-", signed_db(f.snr_db - base.snr_db) if f and base else "-"]
        if has_only:
            cells.append(_db(row.only_quantized.snr_db) if row.only_quantized else "-")
        if has_local:
            cells += [_db(row.local.own.snr_db), _db(row.local.accumulated.snr_db)] if row.local else ["-", "-"]
        table.add_row(*cells)
    return table


def _groups_table(result: SensitivityResult) -> Table:
    table = Table(title="Scale groups, most costly to unify first", title_justify="left")
    for column in ("rank", "group", "rule", "members"):
        table.add_column(column, justify="right" if column == "rank" else "left")
    policies = sorted({p for r in result.groups for p in r.unified})
    for policy in policies:
        table.add_column(f"unified ({policy}): added dB", justify="right")
    has_local = any(r.group_local is not None for r in result.groups)
    if has_local:
        table.add_column("local: added dB", justify="right")
    for row in result.groups:
        cells = [str(row.rank), row.unit.id, row.unit.op_type, f"{len(row.unit.nodes)}: {row.unit.name}"]
        cells += [signed_db(row.unified[p].added_db) if p in row.unified else "-" for p in policies]
        if has_local:
            cells.append(signed_db(row.group_local.added_db) if row.group_local else "-")
        table.add_row(*cells)
    return table


def sensitivity_status(result: SensitivityResult) -> str:
    top = result.layers[0] if result.layers else None
    most = f" | most sensitive: {top.unit.id} {top.unit.label}" if top else ""
    return f"PASSED | {len(result.layers)} layer(s), {len(result.groups)} group(s) ranked{most}"


def _score_dict(score: Score | None) -> dict | None:
    if score is None:
        return None

    def clean(value):
        if isinstance(value, float):
            return _finite(value)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return clean(score.to_dict())


def _energy_dict(energy) -> dict:
    return {k: _finite(v) for k, v in energy.to_dict().items()}


def _row_dict(row: UnitRow) -> dict:
    doc = {"rank": row.rank, "id": row.unit.id, "kind": row.unit.kind, "name": row.unit.name,
           "op_type": row.unit.op_type, "nodes": list(row.unit.nodes), "key": _finite(row.key)}
    if row.in_float is not None:
        doc["in_float"] = _score_dict(row.in_float)
    if row.only_quantized is not None:
        doc["only_quantized"] = _score_dict(row.only_quantized)
    if row.local is not None:
        doc["local"] = {"own": _energy_dict(row.local.own), "accumulated": _energy_dict(row.local.accumulated)}
    if row.unified:
        doc["unified"] = {p: _score_dict(s) for p, s in row.unified.items()}
    if row.group_local is not None:
        doc["local"] = {"added_db": _finite(row.group_local.added_db)}
    return doc


def sensitivity_document(result: SensitivityResult, tool: str) -> dict:
    """``qdqtool sensitivity --json``."""
    doc = {
        "schema_version": 1, "tool": tool, "command": "sensitivity", "model": str(result.request.model),
        "target": result.target, "mode": result.request.mode, "direction": result.request.direction,
        "metric": result.request.metric, "ranked_by": result.ranked_by, "inputs": result.inputs,
        "reference": result.reference, "samples": result.samples, "random_inputs": result.random,
        "base": _score_dict(result.base), "layers": [_row_dict(r) for r in result.layers],
        "groups": [_row_dict(r) for r in result.groups], "notes": result.notes,
    }
    if result.local is not None:
        doc["tensors"] = [{"tensor": t.tensor, "qdq_err": _finite(t.qdq.snr_db), "xmodel_err": _finite(t.xmodel.snr_db)}
                          for t in result.local.tensors]
    return doc


# --- partial -------------------------------------------------------------------------------------------------------


def _cost_text(cost: Cost) -> str:
    return f"{cost.kernels} Q/DQ kernels, {cost.bytes_moved / 1e6:.2f} MB moved"


def partial_renderable(result: PartialResult) -> RenderableType:
    parts: list[RenderableType] = [Text(
        f"Partial quantization of {result.request.model}: ranked by {result.ranked_by}; against {result.reference}, "
        f"on {result.inputs} ({result.samples} sample(s))")]
    parts.append(Text(f"start: {score_text(result.base)}; trt-sim: {_cost_text(result.base_cost)}"))
    table = Table(title="Steps (each measured end to end with the layers taken before it)", title_justify="left")
    for column in ("step", "unit", "layer", "op", "SNR dB", "cosine", "Q/DQ kernels", "MB moved",
                   "its precision", "result"):
        table.add_column(column, justify="right" if column in ("step", "SNR dB", "cosine", "Q/DQ kernels",
                                                               "MB moved") else "left")
    for step in result.steps:
        table.add_row(*_step_cells(step))
    if result.steps:
        parts.append(table)
    if result.check is not None:
        parts.append(Text(f"numeric check of the written model: {result.check.summary()} against "
                          f"{result.check.reference}"))
    parts += [Text(f"note: {n}", style="dim") for n in result.notes]
    return Group(*parts)


def _step_cells(step: Step) -> list[str]:
    return [str(step.number), step.unit.id, step.unit.name, step.unit.op_type, _db(step.score.snr_db),
            f"{step.score.cosine:.4f}", str(step.cost.kernels), f"{step.cost.bytes_moved / 1e6:.2f}",
            step.cost.precisions.get(step.unit.name, "?"), step.why]


def partial_status(result: PartialResult) -> str:
    r = result.request
    floated = f"{len(result.floated)} layer(s) in float"
    reached = (f"cosine {result.base.cosine:.4f} -> {result.final.cosine:.4f}" if r.target_cosine is not None
               else f"SNR {_db(result.base.snr_db)} -> {_db(result.final.snr_db)} dB")
    cost = f"Q/DQ kernels {result.base_cost.kernels} -> {result.final_cost.kernels}"
    if result.reached is False:
        goal = f"cosine {r.target_cosine}" if r.target_cosine is not None else f"SNR {r.target_snr} dB"
        return (f"FAILED | target {goal} not reached: best {reached} with {floated} ({len(result.steps)} tried) | "
                f"{cost}; nothing written")
    if result.check is not None and not result.check:
        return f"FAILED | {floated} | {reached} | {result.check.summary()}; nothing written"
    where = f" | wrote {result.written[0]}" if result.written else ""
    return f"PASSED | {floated} | {reached} | {cost}{where}"


def partial_document(result: PartialResult, tool: str) -> dict:
    """``qdqtool partial --json``."""
    def cost(c: Cost) -> dict:
        return {"kernels": c.kernels, "bytes_moved": c.bytes_moved}

    r = result.request
    return {
        "schema_version": 1, "tool": tool, "command": "partial", "model": str(r.model),
        "status": "passed" if result else "failed", "status_line": partial_status(result),
        "target": {"snr_db": r.target_snr, "cosine": r.target_cosine, "keep_float": r.keep_float},
        "reached": result.reached, "ranked_by": result.ranked_by, "inputs": result.inputs,
        "reference": result.reference, "samples": result.samples,
        "start": {"score": _score_dict(result.base), "trt_sim": cost(result.base_cost)},
        "steps": [{"step": s.number, "unit": s.unit.id, "layer": s.unit.name, "op_type": s.unit.op_type,
                   "kept": s.kept, "why": s.why, "score": _score_dict(s.score), "trt_sim": {
                       **cost(s.cost), "precision": s.cost.precisions.get(s.unit.name)}} for s in result.steps],
        "float_layers": [u.name for u in result.floated],
        "final": {"score": _score_dict(result.final), "trt_sim": cost(result.final_cost)},
        "numeric_check": None if result.check is None else {"passed": bool(result.check),
                                                            "summary": result.check.summary()},
        "output": str(result.written[0]) if result.written else None, "notes": result.notes,
    }
