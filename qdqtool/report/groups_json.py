"""The JSON documents of ``analyze`` and ``merge`` (schema_version 1).

Top level: ``schema_version``, ``tool``, ``command``, ``model``, ``target``, ``summary`` (counts), ``groups``
(id, rules, status, why, reasons, scale_min/scale_max/ratio, dtypes, zero_points, tensors, ops, members with
node/op/scale/zero_point/dtype), ``findings`` (placement problems), ``notes``; ``merge`` adds ``actions``
(per group: action, new_scale, new_zero_point, how), ``fixes`` (per placement edit of ``--fix``: fix, action,
node, tensor, nodes, params_from, scale, zero_point, how), ``deduplicated``, ``numeric_check`` and ``output``.
For a target with a predictor (tensorrt), ``analyze`` adds ``predicted_kernels`` (``backend``, ``before``,
``after_merge``, ``after_fix``: standalone Q/DQ kernels predicted by ``trt-sim``) and each group a
``predicted_kernels`` {``before``, ``after``}.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import TYPE_CHECKING

from qdqtool.analysis.groups import Analysis, GroupStatus, ScaleGroup
from qdqtool.surgery.unify import GroupAction

if TYPE_CHECKING:  # for type hints only: each is imported by the command that uses it
    from qdqtool.engine.predictor.kernels import KernelCounts
    from qdqtool.jobs.merge import MergeOutcome
    from qdqtool.surgery.placement import PlacementAction
    from qdqtool.verify.numerics import NumericCheck

SCHEMA_VERSION = 1


def _num(x: float) -> float | str:
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def group_dict(group: ScaleGroup) -> dict:
    return {
        "id": group.id,
        "rules": list(group.rules),
        "status": group.status.value,
        "why": group.why,
        "reasons": group.reasons,
        "scale_min": group.scale_min,
        "scale_max": group.scale_max,
        "ratio": _num(group.ratio),
        "dtypes": group.dtypes,
        "zero_points": group.zero_points,
        "tensors": group.tensors,
        "ops": group.ops,
        "members": [
            {
                "node": n.name,
                "op": "Q" if n.is_q else "DQ",
                "scale": float(n.params.scale.reshape(-1)[0]),
                "zero_point": int(n.params.zero_point.reshape(-1)[0]),
                "dtype": n.params.dtype,
                "per_channel": not n.params.per_tensor,
            }
            for q in group.quantizers
            for n in q.nodes
        ],
    }


def analysis_dict(
    analysis: Analysis, model: str, command: str, version: str, kernels: KernelCounts | None = None
) -> dict:
    doc = {
        "schema_version": SCHEMA_VERSION,
        "tool": f"qdqtool {version}",
        "command": command,
        "model": model,
        "target": analysis.target,
        "summary": {
            "qdq_nodes": sum(len(q.nodes) for q in analysis.quantizers),
            "activation_quantizers": len(analysis.activation_quantizers),
            "groups": len(analysis.groups),
            **{s.value: len(analysis.by_status(s)) for s in GroupStatus},
            "placement_findings": len(analysis.findings),
        },
        "groups": [group_dict(g) for g in analysis.groups],
        "findings": [
            {"kind": f.kind, "node": f.node, "tensor": f.tensor, "message": f.message, "quantized_by": f.quantized_by}
            for f in analysis.findings
        ],
        "notes": analysis.notes,
    }
    if kernels is not None:
        doc["predicted_kernels"] = {"backend": "trt-sim", "before": kernels.before, "after_merge": kernels.after_merge,
                                    "after_fix": kernels.after_fix}
        for group in doc["groups"]:
            before, after = kernels.groups[group["id"]]
            group["predicted_kernels"] = {"before": before, "after": after}
    return doc


def fix_dict(fix: PlacementAction) -> dict:
    return {**asdict(fix), "params_from": fix.params_from or None}


def action_dict(action: GroupAction) -> dict:
    return {
        "group": action.group,
        "action": action.action,
        "rule": action.rule,
        "members": action.members,
        "old_scales": action.old_scales,
        "new_scale": action.new_scale,
        "new_zero_point": action.new_zero_point,
        "how": action.how,
        "reasons": action.reasons,
    }


def check_dict(check: NumericCheck | None) -> dict | None:
    """The numeric check: each output's whole-tensor figures and its worst slice, against float and against the
    original (the keys ``cosine``, ``snr_db`` and ``max_abs`` of a slice: the edited model against the original)."""
    if check is None:
        return None

    def sim(s) -> dict:
        return {"cosine": s.cosine, "snr_db": _num(s.snr_db), "max_abs": s.max_abs}

    def part(s) -> dict:
        return {"slice": s.label, **sim(s.vs_original), "added_db": _num(s.added_db), "worst_sample": s.worst_sample,
                "original_vs_float": sim(s.original), "edited_vs_float": sim(s.edited)}

    return {
        "passed": bool(check),
        "max_added_error_db": check.max_added_db,
        "worst_added_db": _num(check.worst_added_db),
        "min_cosine": check.min_cosine,
        "worst_cosine": check.worst_cosine,
        "reference": check.reference,
        "inputs": check.inputs,
        "samples": check.samples,
        "random_inputs": check.random,
        "outputs": [
            {"name": o.name, "shape": list(o.shape), "axes": o.axes, "overall": part(o.overall), "worst": part(o.worst),
             "slices": len(o.slices)}
            for o in check.outputs
        ],
        "notes": list(check.notes),
    }


def merge_document(outcome: MergeOutcome, model: str, tool: str) -> dict:
    """The ``merge --json`` document: the ``analyze`` document of the input plus what merge did."""
    result = outcome.result
    doc = analysis_dict(result.analysis, model, "merge", tool)
    doc.update(
        actions=[action_dict(a) for a in result.actions],
        fixes=[fix_dict(f) for f in outcome.fixes],
        deduplicated=result.deduplicated,
        numeric_check=check_dict(outcome.check),
        output=str(outcome.written[0]) if outcome.written else None,
        dry_run=outcome.request.dry_run,
    )
    doc["notes"] = doc["notes"] + outcome.notes
    return doc
