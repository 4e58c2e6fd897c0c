"""Write what qdqtool found into a copy of the model, on the nodes concerned, so Netron shows it.

Each member Q/DQ node and each op that joined a scale group gets ``metadata_props`` (``qdqtool.group``,
``qdqtool.rule``, ``qdqtool.lint``, ``qdqtool.status``, ``qdqtool.scale`` = "0.045 -> 0.06") and one
``doc_string`` line starting with ``qdqtool:`` (earlier ``qdqtool:`` lines are replaced, other text is kept).
Residual Adds with a placement problem get the finding.

    >>> annotate_model(model, data.changes, data.analysis.findings)
    >>> assert any(p.key == "qdqtool.group" for n in model.graph.node for p in n.metadata_props)
"""

from __future__ import annotations

import onnx

from qdqtool.analysis.groups import Finding, GroupStatus
from qdqtool.gate.onnx_rules import GROUP_RULES
from qdqtool.jobs.report import GroupChange

PREFIX = "qdqtool."
_PLACEMENT_RULE = "QDQ110"


def _set(node: onnx.NodeProto, props: dict[str, str], line: str) -> None:
    keep = [(p.key, p.value) for p in node.metadata_props if not p.key.startswith(PREFIX) or p.key == "qdqtool.waive"]
    del node.metadata_props[:]
    for key, value in keep + list(props.items()):
        entry = node.metadata_props.add()
        entry.key, entry.value = key, value
    lines = [x for x in node.doc_string.splitlines() if not x.startswith("qdqtool: ") or x.startswith("qdqtool: waive")]
    node.doc_string = "\n".join([*lines, f"qdqtool: {line}"])


def annotate_model(model: onnx.ModelProto, changes: list[GroupChange], findings: list[Finding]) -> int:
    """Annotate ``model`` in place; returns how many nodes were annotated.

    Args:
        model (onnx.ModelProto): The model (a copy: its file is not touched).
        changes (list[GroupChange]): Every scale group with its members' scales before and after the merge.
        findings (list[Finding]): Placement findings of the analysis.
    """
    nodes = {(n.name or n.output[0]): n for n in model.graph.node}
    done: set[str] = set()
    for change in changes:
        group = change.group
        lint = GROUP_RULES.get(group.rule, "QDQ100") if group.status is not GroupStatus.CONSISTENT else ""
        base = {"qdqtool.group": group.id, "qdqtool.rule": "+".join(group.rules), "qdqtool.status": group.status.value}
        if lint:
            base["qdqtool.lint"] = lint
        why = f"; {'; '.join(group.reasons)}" if group.reasons else ""
        for name, scale in change.before.items():
            if name not in nodes:
                continue
            after = change.after.get(name)
            scale_text = "removed (duplicate)" if after is None else (
                f"{scale:.6g}" if after == scale else f"{scale:.6g} -> {after:.6g}")
            line = f"group {group.id} ({base['qdqtool.rule']}, {group.status.value}{', ' + lint if lint else ''})" \
                   f": scale {scale_text}{why}"
            _set(nodes[name], {**base, "qdqtool.scale": scale_text}, line)
            done.add(name)
        for name in group.ops:
            if name in nodes and name not in done:
                _set(nodes[name], {**base, "qdqtool.scale": change.scale_change},
                     f"joins group {group.id} ({base['qdqtool.rule']}): scale {change.scale_change}")
                done.add(name)
    for finding in findings:
        if finding.node in nodes:
            _set(nodes[finding.node], {"qdqtool.lint": _PLACEMENT_RULE, "qdqtool.finding": finding.kind},
                 f"{_PLACEMENT_RULE} {finding.message}")
            done.add(finding.node)
    return len(done)
