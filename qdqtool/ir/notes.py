"""qdqtool's notes on the nodes of a model (``metadata_props`` and a ``doc_string`` line), so Netron shows them.

A node's earlier qdqtool notes are replaced; everything else is kept, waivers written by users included
(``qdqtool.waive`` and ``qdqtool: waive ...`` lines).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import onnx

PREFIX = "qdqtool."
WAIVER_KEY = "qdqtool.waive"
_DOC_PREFIX = "qdqtool: "


@dataclass(frozen=True)
class NodeNote:
    """What to write on one node: ``metadata_props`` entries (keys start with ``qdqtool.``) and one doc line."""

    props: Mapping[str, str]
    line: str


def write_notes(model: onnx.ModelProto, notes: Mapping[str, NodeNote]) -> int:
    """Write ``notes`` (by node name, or first output for unnamed nodes) into ``model``; returns how many nodes.

    Args:
        model (onnx.ModelProto): The model to edit in place (give a copy to keep the original).
        notes (Mapping[str, NodeNote]): The note for each node.
    """
    written = 0
    for node in model.graph.node:
        note = notes.get(node.name or (node.output[0] if node.output else ""))
        if note is None:
            continue
        keep = [(p.key, p.value) for p in node.metadata_props if not p.key.startswith(PREFIX) or p.key == WAIVER_KEY]
        del node.metadata_props[:]
        for key, value in keep + list(note.props.items()):
            entry = node.metadata_props.add()
            entry.key, entry.value = key, value
        lines = [x for x in node.doc_string.splitlines()
                 if not x.startswith(_DOC_PREFIX) or x.startswith(_DOC_PREFIX + "waive")]
        node.doc_string = "\n".join([*lines, _DOC_PREFIX + note.line])
        written += 1
    return written
