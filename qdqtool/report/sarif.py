"""SARIF 2.1.0 output of ``qdqtool check`` (GitHub code scanning, VS Code SARIF viewer, ...).

One run; the driver lists every rule with its documentation. Each result points at the model file (relative to
the working directory when it lies below it, so code scanning matches it to the repository) with the node names in
the message and as logical locations. An ONNX file has no lines, so the region is line 1, which code scanning
needs to show an alert. Waived findings carry an external suppression with the reason; with a baseline, results
say whether they are new or unchanged. ``partialFingerprints`` use node names, so alerts survive re-exports that
keep the names.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from qdqtool.gate.registry import LintRule, Severity, Violation, all_rules
from qdqtool.report.strict_json import dumps

if TYPE_CHECKING:  # for type hints only: report renders what a job returned
    from qdqtool.jobs.check import CheckResult, ModelCheck

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def artifact_uri(path: Path) -> str:
    """A repository-relative path when ``path`` is below the working directory, else a ``file://`` URI."""
    absolute = path.resolve()
    try:
        return quote(absolute.relative_to(Path.cwd().resolve()).as_posix())  # a URI reference: spaces, '#' escaped
    except ValueError:
        return absolute.as_uri()


def _rule_descriptor(rule: LintRule) -> dict:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.explanation},
        "help": {
            "text": f"Fix: {rule.fix}",
            "markdown": f"**{rule.summary}**\n\n{rule.explanation}\n\n**Fix:** {rule.fix}",
        },
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": ["qdq", "int8", rule.side], "side": rule.side},
    }


def _result(v: Violation, run: ModelCheck, rule_index: dict[str, int], artifact: int) -> dict:
    location: dict = {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(run.model), "index": artifact},
            "region": {"startLine": 1},
        }
    }
    logical = [{"name": n, "kind": "member"} for n in v.nodes[:20]]
    if v.layer:
        logical.insert(0, {"name": v.layer, "kind": "object", "fullyQualifiedName": f"engine::{v.layer}"})
    if logical:
        location["logicalLocations"] = logical
    nodes = f" [nodes: {', '.join(v.nodes[:8])}{' ...' if len(v.nodes) > 8 else ''}]" if v.nodes else ""
    result: dict = {
        "ruleId": v.rule.id,
        "ruleIndex": rule_index[v.rule.id],
        "level": _LEVEL[v.severity],
        "message": {"text": f"{v.message}{nodes}"},
        "locations": [location],
        "partialFingerprints": {"qdqtoolFinding/v1": v.fingerprint},
        "properties": {"group": v.group, "gating": v.gates(run.fail_on)},
    }
    if v.waived is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": v.waived}]
    if run.baseline is not None:
        result["baselineState"] = "unchanged" if v.baselined else "new"
    return result


def check_sarif(result: CheckResult) -> str:
    """The SARIF log (a JSON string) of a check."""
    rules = all_rules()
    rule_index = {rule.id: i for i, rule in enumerate(rules)}
    artifacts = []
    results = []
    for i, run in enumerate(result.runs):
        artifacts.append({"location": {"uri": artifact_uri(run.model)}, "roles": ["analysisTarget"]})
        results += [_result(v, run, rule_index, i) for v in run.violations]
    notifications = [
        {"level": "note", "message": {"text": note}} for run in result.runs for note in run.notes
    ]
    log = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "qdqtool",
                "version": version("qdqtool"),
                "rules": [_rule_descriptor(rule) for rule in rules],
            }},
            "invocations": [{
                "executionSuccessful": True,
                "workingDirectory": {"uri": Path(os.getcwd()).resolve().as_uri().rstrip("/") + "/"},
                "toolExecutionNotifications": notifications,
            }],
            "artifacts": artifacts,
            "results": results,
            "properties": {"passed": bool(result), "targets": sorted({run.target for run in result.runs})},
        }],
    }
    return dumps(log)
