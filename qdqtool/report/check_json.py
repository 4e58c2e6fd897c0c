"""The JSON document of ``qdqtool check`` (schema_version 1); saved, it is the ``--baseline`` of a later run.

    {
      "schema_version": 1, "kind": "qdqtool-check", "tool": "qdqtool 0.1.0", "passed": true,
      "models": [{
        "model": "model.onnx", "target": "tensorrt", "config": "qdqtool.toml" | null,
        "baseline": "base.json" | null, "fail_on": "error", "passed": true,
        "counts": {"error", "warning", "info", "waived", "baselined", "failing", "fixed_since_baseline"},
        "metrics": {"groups", "blocking_groups", "placement_findings", "qdq_layers", "reformat_layers",
                    "conv_int8", "conv_total", "layer_time_ms", "qdq_reformat_share",
                    "latency": {"median_ms", "mad_ms", "runs", "source"} | null},
        "engine": {"source", "backend", "detailed", "measured", "layers"} | null,
        "rules": [{"id", "name", "side", "severity", "state": "ran|disabled|skipped", "reason", "findings"}],
        "findings": [{"rule", "name", "severity", "message", "nodes", "group", "layer", "fingerprint",
                      "waived": reason | null, "waived_by", "baselined", "gating", "fix"}],
        "notes": [...]
      }]
    }

Counts other than ``waived``/``baselined`` are of active findings; unknown numbers are null.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from qdqtool.gate.baseline import DOCUMENT_KIND
from qdqtool.gate.registry import Severity, Violation
from qdqtool.report.strict_json import dumps

if TYPE_CHECKING:  # for type hints only: report renders what a job returned
    from qdqtool.jobs.check import CheckResult, ModelCheck


def finding_dict(v: Violation, fail_on: str) -> dict:
    return {
        "rule": v.rule.id,
        "name": v.rule.name,
        "severity": v.severity.value,
        "message": v.message,
        "nodes": list(v.nodes),
        "group": v.group,
        "layer": v.layer,
        "fingerprint": v.fingerprint,
        "waived": v.waived,
        "waived_by": v.waived_by,
        "baselined": v.baselined,
        "gating": v.gates(fail_on),
        "fix": v.rule.fix,
    }


def model_dict(run: ModelCheck) -> dict:
    engine = run.engine
    return {
        "model": str(run.model),
        "target": run.target,
        "config": str(run.config) if run.config else None,
        "baseline": str(run.baseline) if run.baseline else None,
        "fail_on": run.fail_on,
        "passed": bool(run),
        "counts": {
            **{s.value: run.count(s) for s in Severity},
            "waived": len(run.waived),
            "baselined": len(run.baselined),
            "failing": len(run.failing),
            "fixed_since_baseline": run.fixed_since_baseline,
        },
        "metrics": run.metrics.to_dict(),
        "engine": None if engine is None else {
            "source": engine.source, "backend": engine.backend, "detailed": engine.detailed,
            "measured": engine.measured, "layers": len(engine.layers),
        },
        "rules": [
            {"id": s.rule.id, "name": s.rule.name, "side": s.rule.side, "severity": s.severity.value, "state": s.state,
             "reason": s.reason, "findings": sum(1 for v in run.violations if v.rule is s.rule)}
            for s in run.statuses
        ],
        "findings": [finding_dict(v, run.fail_on) for v in run.violations],
        "notes": run.notes,
    }


def check_document(result: CheckResult) -> dict:
    return {
        "schema_version": 1,
        "kind": DOCUMENT_KIND,
        "tool": f"qdqtool {version('qdqtool')}",
        "passed": bool(result),
        "models": [model_dict(run) for run in result.runs],
    }


def check_json(result: CheckResult) -> str:
    return dumps(check_document(result))
