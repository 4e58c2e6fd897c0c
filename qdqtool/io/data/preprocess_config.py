"""Where the image preprocessing comes from: the command line over ``[preprocess]`` of the model's config file
(``qdqtool.toml`` beside it, else ``[tool.qdqtool.preprocess]`` of the nearest pyproject.toml) over a preset over
the defaults."""

from __future__ import annotations

from pathlib import Path

from qdqtool.errors import BadInputError
from qdqtool.io.config import config_table, find_config
from qdqtool.io.data.images import Preprocess


def preprocess_for(model: Path, settings: dict[str, object] | None = None, use_config: bool = True) -> Preprocess:
    """The preprocessing of images fed to ``model``: ``settings`` (command-line keys, None values ignored) on top of
    the config file's ``[preprocess]`` table."""
    preprocess = Preprocess()
    config = find_config(model) if use_config else None
    if config is not None:
        table, where = config_table(config)
        section = table.get("preprocess")
        if section is not None:
            if not isinstance(section, dict):
                raise BadInputError(f"{where}: `preprocess` must be a table ([preprocess] in qdqtool.toml)")
            preprocess = preprocess.with_settings(section, f"{where} [preprocess]")
    if settings:
        preprocess = preprocess.with_settings(settings, "command line")
    return preprocess
