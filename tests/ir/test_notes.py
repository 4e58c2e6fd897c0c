"""qdqtool's notes on nodes (qdqtool.ir.notes): written again, they replace qdqtool's earlier ones and keep the
user's metadata and waivers."""

from __future__ import annotations

import onnx

from qdqtool.ir.notes import NodeNote, write_notes
from tests.fixtures import models as M


def props(node: onnx.NodeProto) -> list[tuple[str, str]]:
    return [(p.key, p.value) for p in node.metadata_props]


def test_write_notes_replaces_earlier_notes_and_keeps_users_lines():
    """write_notes replaces qdqtool's earlier notes, keeps user metadata and `qdqtool.waive` / `qdqtool: waive`
    lines, and returns how many nodes it wrote."""
    model = M.fan_out("int8", variant="siblings")
    nodes = {n.name: n for n in model.graph.node}
    conv = nodes["branch0.conv"]
    for key, value in (("author", "me"), ("qdqtool.group", "G7"), ("qdqtool.waive", "fan-out"), ("qdqtool.old", "x")):
        entry = conv.metadata_props.add()
        entry.key, entry.value = key, value
    conv.doc_string = "\n".join(["user text", "qdqtool: group G7 (old)", "qdqtool: waive fan-out (reviewed)", "more"])
    unnamed = nodes["branch1.in.Q"]
    unnamed.name = ""  # addressed by its first output
    untouched = nodes["branch2.conv"].SerializeToString()
    notes = {
        "branch0.conv": NodeNote({"qdqtool.group": "G1", "qdqtool.rule": "fan-out"}, "group G1 (fan-out)"),
        "branch1.in.q": NodeNote({"qdqtool.group": "G1"}, "member of G1"),
        "no.such.node": NodeNote({"qdqtool.group": "G9"}, "never written"),
    }
    assert write_notes(model, notes) == 2
    assert write_notes(model, notes) == 2  # written again: the same notes, not two copies
    assert props(conv) == [("author", "me"), ("qdqtool.waive", "fan-out"), ("qdqtool.group", "G1"),
                           ("qdqtool.rule", "fan-out")]
    assert conv.doc_string.splitlines() == ["user text", "qdqtool: waive fan-out (reviewed)", "more",
                                            "qdqtool: group G1 (fan-out)"]
    assert props(unnamed) == [("qdqtool.group", "G1")] and unnamed.doc_string == "qdqtool: member of G1"
    assert nodes["branch2.conv"].SerializeToString() == untouched
    assert write_notes(model, {}) == 0
