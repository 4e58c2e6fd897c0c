"""JSON documents for ``qdqtool inspect --json`` and ``qdqtool diff --json``.

The shapes are documented in the two commands' docstrings (their ``--help``); ``SCHEMA_VERSION`` changes when a
field is removed or changes meaning (adding a field does not).
"""

from __future__ import annotations

from typing import Any

from qdqtool.engine.agreement import Agreement, Share
from qdqtool.engine.diff import EngineDiff, LayerPair, QdqChange
from qdqtool.engine.report import EngineReport, Layer, TensorInfo
from qdqtool.engine.summary import EngineSummary
from qdqtool.report.strict_json import dumps as strict_dumps

SCHEMA_VERSION = 1


def _tensor(t: TensorInfo) -> dict[str, Any]:
    return {
        "name": t.name,
        "shape": list(t.shape) if t.shape is not None else None,
        "dtype": t.dtype,
        "format": t.format,
    }


def layer_dict(layer: Layer) -> dict[str, Any]:
    return {
        "name": layer.name,
        "type": layer.type or None,
        "class": layer.cls.value,
        "origin": layer.origin,
        "precision": layer.precision,
        "inputs": [_tensor(t) for t in layer.inputs],
        "outputs": [_tensor(t) for t in layer.outputs],
        "tactic": layer.tactic,
        "onnx_nodes": list(layer.onnx_nodes),
        "weights": list(layer.weights),
        "avg_ms": layer.avg_ms,
        "median_ms": layer.median_ms,
        "share": layer.share,
    }


def engine_dict(report: EngineReport) -> dict[str, Any]:
    return {
        "source": report.source,
        "backend": report.backend,
        "detailed": report.detailed,
        "measured": report.measured,
        "opt_profile": report.opt_profile,
        "opt_profiles": report.opt_profiles,
        "profile_runs": report.profile_runs,
        "bindings": list(report.bindings),
        "notes": list(report.notes),
    }


def inspect_document(report: EngineReport, summary: EngineSummary) -> dict[str, Any]:
    """The ``inspect --json`` document."""
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "inspect",
        "engine": engine_dict(report),
        "summary": summary.to_dict(),
        "layers": [layer_dict(layer) for layer in report.layers],
    }


def _name(layer: Layer | None) -> str | None:
    return layer.name if layer else None


def _pair(pair: LayerPair) -> dict[str, Any]:
    return {
        "before": _name(pair.before),
        "after": _name(pair.after),
        "status": pair.status,
        "key": pair.key,
        "class_before": pair.before.cls.value if pair.before else None,
        "class_after": pair.after.cls.value if pair.after else None,
        "precision_before": pair.before.precision if pair.before else None,
        "precision_after": pair.after.precision if pair.after else None,
        "before_ms": pair.before_ms,
        "after_ms": pair.after_ms,
        "delta_ms": pair.delta_ms,
        "absorbed": list(pair.absorbed),
        "released": list(pair.released),
    }


def _change(item: QdqChange) -> dict[str, Any]:
    return {
        "layer": item.layer.name,
        "nodes": list(item.nodes),
        "precision": item.layer.precision,
        "avg_ms": item.layer.avg_ms,
        "fused_into": item.fused_into,
    }


def _total(before: float | int | None, after: float | int | None) -> dict[str, Any]:
    delta = after - before if before is not None and after is not None else None
    return {"before": before, "after": after, "delta": delta}


def diff_document(diff: EngineDiff) -> dict[str, Any]:
    """The ``diff --json`` document."""
    b, a = diff.before_summary, diff.after_summary
    latency = None
    if b.latency and a.latency:
        latency = _total(b.latency.median, a.latency.median)
    qdq_names = {
        side: [layer.name for layer in r.leftover_qdq] for side, r in (("before", diff.before), ("after", diff.after))
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "diff",
        "verdict": diff.verdict,
        "verdict_line": diff.verdict_line,
        "before": {"engine": engine_dict(diff.before), "summary": b.to_dict()},
        "after": {"engine": engine_dict(diff.after), "summary": a.to_dict()},
        "renumbered": diff.renumbered,
        "notes": list(diff.notes),
        "match_keys": diff.key_counts,
        "totals": {
            "layers": _total(b.layers, a.layers),
            "qdq_layers": _total(b.by_class["qdq"], a.by_class["qdq"]),
            "reformat_layers": _total(b.by_class["reformat"], a.by_class["reformat"]),
            "layer_time_ms": _total(b.layer_time_ms, a.layer_time_ms),
            "qdq_reformat_ms": _total(b.qdq_reformat_ms, a.qdq_reformat_ms),
            "median_latency_ms": latency,
        },
        "qdq": {
            **qdq_names,
            "removed": [_change(c) for c in diff.qdq_removed],
            "added": [_change(c) for c in diff.qdq_added],
        },
        "reformat": {
            "removed": [_change(c) for c in diff.reformat_removed],
            "added": [_change(c) for c in diff.reformat_added],
        },
        "fusion_changes": [_pair(p) for p in diff.fusion_changes],
        "precision_changes": [_pair(p) for p in diff.precision_changes],
        "timing": [_pair(p) for p in diff.timing_deltas],
        "cost": [{**_pair(p), "delta_cost_bytes": p.delta_cost} for p in diff.cost_deltas],  # predicted reports
        "pairs": [_pair(p) for p in diff.pairs],
        "agreement": _agreement(diff.agreement),
    }


def dumps(document: dict[str, Any]) -> str:
    return strict_dumps(document)


def _share(share: Share) -> dict[str, Any]:
    return {"agree": share.agree, "compared": share.compared, "share": share.share}


def _agreement(agreement: Agreement | None) -> dict[str, Any] | None:
    """A prediction against a real engine (None unless exactly one side of the diff is a prediction)."""
    if agreement is None:
        return None
    return {
        "predicted": agreement.predicted_source,
        "engine": agreement.real_source,
        "layers": _share(agreement.layers),
        "nodes": _share(agreement.nodes),
        "output_precision": _share(agreement.precision),
        "convolutions": _share(agreement.convolutions),
        "standalone_qdq": {"predicted": agreement.qdq_predicted, "engine": agreement.qdq_real,
                           "relative_error": agreement.qdq_error},
        "disagreements": [{"engine_layer": d.real, "predicted": list(d.predicted), "differs": d.what,
                           "detail": d.detail} for d in agreement.disagreements],
    }
