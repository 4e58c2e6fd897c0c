"""Baselines: the saved ``qdqtool check --format json`` document of the last accepted model and engine."""

from __future__ import annotations

import json
from pathlib import Path

from qdqtool.errors import BadInputError

DOCUMENT_KIND = "qdqtool-check"  # the "kind" of a check document, what marks a file as a baseline


def load_baseline(path: Path, model: Path) -> dict:
    """The entry for ``model`` of a saved ``qdqtool check --format json`` document."""
    save = "save one with `qdqtool check MODEL --format json --output baseline.json`"
    if not path.is_file():
        raise BadInputError(f"{path}: no such baseline file; {save}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInputError(f"{path}: the baseline is not JSON ({err}); {save}") from None
    if not isinstance(doc, dict) or doc.get("kind") != DOCUMENT_KIND:
        what = f"a `qdqtool {doc.get('command')}` document" if isinstance(doc, dict) and "command" in doc else "not"
        raise BadInputError(f"{path}: {what} a `qdqtool check --format json` report; {save}")
    if doc.get("schema_version") != 1:
        raise BadInputError(f"{path}: baseline schema_version {doc.get('schema_version')} is not 1; {save}")
    entries = doc.get("models") or []
    if len(entries) == 1:
        return entries[0]
    named = [e for e in entries if Path(str(e.get("model", ""))).name == model.name]
    if len(named) != 1:
        raise BadInputError(f"{path}: holds {len(entries)} models and none (or several) named {model.name}")
    return named[0]
