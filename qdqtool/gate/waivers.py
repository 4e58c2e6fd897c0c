"""Waivers: accepted findings, by rule and node name, each with the reason it is accepted.

Waivers come from the config file (``[[waive]]``) or from the model itself, on the node concerned:

- ``metadata_props`` key ``qdqtool.waive`` with the value ``QDQ101: reason`` (one waiver per line), or
- a ``doc_string`` line ``qdqtool: waive QDQ101: reason``.

A waived finding is still reported, with its reason, but never fails the gate.

    >>> w = Waiver(rule="QDQ101", nodes=("head/Concat_*",), reason="accepted")
    >>> assert w.matches("QDQ101", ("head/Concat_3",)) and not w.matches("QDQ102", ("head/Concat_3",))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

import onnx

from qdqtool.errors import BadInputError
from qdqtool.ir.notes import WAIVER_KEY

METADATA_KEY = WAIVER_KEY  # the one key, shared with the notes that annotate keep
_DOC_LINE = re.compile(r"^\s*qdqtool:\s*waive\s+(.*)$", re.IGNORECASE)
_ENTRY = re.compile(r"^\s*([A-Za-z0-9-]+)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class Waiver:
    rule: str  # rule id
    nodes: tuple[str, ...]  # node or engine layer names (shell-style patterns)
    reason: str
    source: str = ""  # where it was written, for messages

    def matches(self, rule_id: str, names: tuple[str, ...]) -> bool:
        return rule_id == self.rule and any(fnmatchcase(name, pattern) for name in names for pattern in self.nodes)


def _parse_entry(text: str, node: str, where: str, resolve) -> Waiver:
    match = _ENTRY.match(text)
    if not match or not match.group(2):
        raise BadInputError(
            f"{where}: waiver {text.strip()!r} on node {node} must read 'QDQ101: reason' "
            "(a rule and why it is accepted)"
        )
    return Waiver(rule=resolve(match.group(1)), nodes=(node,), reason=match.group(2), source=f"{where}, node {node}")


def inline_waivers(model: onnx.ModelProto, where: str, resolve) -> list[Waiver]:
    """Waivers written on the nodes of ``model`` (see the module docstring).

    Args:
        model (onnx.ModelProto): The model.
        where (str): The model file, for messages.
        resolve (callable): Maps a rule id or name to its id (raises BadInputError for unknown rules).
    """
    waivers = []
    for node in model.graph.node:
        name = node.name or (node.output[0] if node.output else "")
        for prop in node.metadata_props:
            if prop.key == METADATA_KEY:
                lines = [line for line in prop.value.splitlines() if line.strip()]
                waivers += [_parse_entry(line, name, where, resolve) for line in lines]
        for line in node.doc_string.splitlines():
            match = _DOC_LINE.match(line)
            if match:
                waivers.append(_parse_entry(match.group(1), name, where, resolve))
    return waivers
