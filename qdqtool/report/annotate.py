"""What qdqtool found, written into a copy of the model on the nodes concerned, so Netron shows it.

Each member Q/DQ node and each op that joined a scale group gets ``metadata_props`` (``qdqtool.group``,
``qdqtool.rule``, ``qdqtool.lint``, ``qdqtool.status``, ``qdqtool.scale`` = "0.045 -> 0.06") and one
``doc_string`` line starting with ``qdqtool:`` (earlier ``qdqtool:`` lines are replaced, other text is kept).
Residual Adds with a placement problem get the finding.

    >>> annotated, count = annotated_model(data)
    >>> assert any(p.key == "qdqtool.group" for n in annotated.graph.node for p in n.metadata_props)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import onnx

from qdqtool.analysis.groups import Finding, GroupStatus
from qdqtool.gate.onnx_rules import GROUP_RULES
from qdqtool.ir.notes import NodeNote, write_notes

if TYPE_CHECKING:  # for type hints only
    from qdqtool.jobs.report import GroupChange, ReportData

_PLACEMENT_RULE = "QDQ110"


def node_notes(changes: list[GroupChange], findings: list[Finding]) -> dict[str, NodeNote]:
    """The note of every node a group or a placement finding concerns, by node name."""
    notes: dict[str, NodeNote] = {}
    for change in changes:
        group = change.group
        lint = GROUP_RULES.get(group.rule, "QDQ100") if group.status is not GroupStatus.CONSISTENT else ""
        base = {"qdqtool.group": group.id, "qdqtool.rule": "+".join(group.rules), "qdqtool.status": group.status.value}
        if lint:
            base["qdqtool.lint"] = lint
        why = f"; {'; '.join(group.reasons)}" if group.reasons else ""
        for name, scale in change.before.items():
            after = change.after.get(name)
            scale_text = "removed (duplicate)" if after is None else (
                f"{scale:.6g}" if after == scale else f"{scale:.6g} -> {after:.6g}")
            line = f"group {group.id} ({base['qdqtool.rule']}, {group.status.value}{', ' + lint if lint else ''})" \
                   f": scale {scale_text}{why}"
            notes.setdefault(name, NodeNote({**base, "qdqtool.scale": scale_text}, line))
        for name in group.ops:
            notes.setdefault(name, NodeNote({**base, "qdqtool.scale": change.scale_change},
                                            f"joins group {group.id} ({base['qdqtool.rule']}): scale "
                                            f"{change.scale_change}"))
    for finding in findings:
        notes[finding.node] = NodeNote({"qdqtool.lint": _PLACEMENT_RULE, "qdqtool.finding": finding.kind},
                                       f"{_PLACEMENT_RULE} {finding.message}")
    return notes


def annotate_model(model: onnx.ModelProto, changes: list[GroupChange], findings: list[Finding]) -> int:
    """Annotate ``model`` in place; returns how many nodes were annotated.

    Args:
        model (onnx.ModelProto): The model (a copy: its file is not touched).
        changes (list[GroupChange]): Every scale group with its members' scales before and after the merge.
        findings (list[Finding]): Placement findings of the analysis.
    """
    return write_notes(model, node_notes(changes, findings))


def annotated_model(data: ReportData) -> tuple[onnx.ModelProto, int]:
    """A copy of the report's model with every note written, and how many nodes got one."""
    copy = onnx.ModelProto()
    copy.CopyFrom(data.original)
    return copy, annotate_model(copy, data.changes, data.analysis.findings)
