"""qdqtool's configuration files: ``qdqtool.toml`` beside the model, else ``[tool.qdqtool]`` of the nearest
``pyproject.toml`` above it (the nearest pyproject.toml is the project's: the search stops there, as ruff's does).

This module finds and reads the file; each part of qdqtool parses its own keys (``check`` the gate's, the input
data sets the ``[preprocess]`` table).
"""

from __future__ import annotations

import sys
from pathlib import Path

from qdqtool.errors import BadInputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "qdqtool.toml"


def find_config(model: Path) -> Path | None:
    """``qdqtool.toml`` beside the model, else the nearest ``pyproject.toml`` above it that has [tool.qdqtool]."""
    folder = model.resolve().parent
    beside = folder / CONFIG_NAME
    if beside.is_file():
        return beside
    for parent in (folder, *folder.parents):
        candidate = parent / "pyproject.toml"
        if candidate.is_file():
            if "qdqtool" in read_toml(candidate).get("tool", {}):
                return candidate
            return None
    return None


def read_toml(path: Path) -> dict:
    """A TOML file as a dict, or BadInputError with a one-line reason."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise BadInputError(f"{path}: not valid TOML: {err}") from None
    except OSError as err:
        raise BadInputError(f"{path}: cannot be read: {err.strerror}") from None


def config_table(path: Path) -> tuple[dict, str]:
    """The qdqtool table of a config file (all of ``qdqtool.toml``, ``[tool.qdqtool]`` of a pyproject.toml) and how
    messages name it."""
    if not path.is_file():
        raise BadInputError(f"{path}: no such config file")
    data = read_toml(path)
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("qdqtool")
        if table is None:
            raise BadInputError(f"{path}: has no [tool.qdqtool] table")
        return table, f"{path} [tool.qdqtool]"
    return data, str(path)
