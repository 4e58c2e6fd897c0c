"""What Polygraphy users already have: a data-loader script (``--data-loader-script loader.py:load_data``) and the
inputs ``polygraphy run --save-inputs inputs.json`` wrote, each read the way Polygraphy reads it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from qdqtool.errors import BadInputError
from qdqtool.io.data.shapes import ModelInput


def loader_script(path: Path, function: str, inputs: list[ModelInput]):
    """The feeds the function ``function`` of the script ``path`` returns (an iterable of dicts), as a Dataset.

    The script is imported as Polygraphy imports it (its folder first on ``sys.path``, so it can import its
    neighbours), under a name of its own, so a failing import is reported with its own error."""
    from qdqtool.io.data.dataset import Dataset

    if not path.is_file():
        raise BadInputError(f"{path}: no such data-loader script")
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(f"qdqtool_data_loader_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - importing a user's script runs its code
        line = (str(err).strip().splitlines() or [""])[0]
        raise BadInputError(f"{path}: cannot load the data loader, importing it raised {type(err).__name__}: "
                            f"{line}") from None
    finally:
        sys.path.remove(folder)
    load = getattr(module, function, None)
    if load is None:
        raise BadInputError(f"{path}: has no function {function!r} (name it after a colon: {path.name}:my_loader)")
    if not callable(load):
        raise BadInputError(f"{path}: {function} is not a function (Polygraphy calls it to get the feeds)")
    return Dataset(f"{path}:{function} (Polygraphy data loader)", "loader", None, inputs, load, source=path)


def saved_inputs(path: Path, inputs: list[ModelInput]):
    """The feeds ``polygraphy run --save-inputs`` wrote, read with Polygraphy's own JSON loader, as a Dataset."""
    from polygraphy.json import load_json

    from qdqtool.io.data.dataset import Dataset

    if not path.is_file():
        raise BadInputError(f"{path}: no such file")
    try:
        feeds = load_json(str(path), description="input data")
    except Exception as err:  # noqa: BLE001 - not JSON, or JSON Polygraphy cannot decode
        line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise BadInputError(f"{path}: not inputs saved by Polygraphy (polygraphy run --save-inputs): {line}") from None
    if isinstance(feeds, dict):
        feeds = [feeds]
    if not isinstance(feeds, list):
        raise BadInputError(f"{path}: holds a {type(feeds).__name__}, not a list of feeds (polygraphy run "
                            "--save-inputs writes one)")
    count = len(feeds)
    return Dataset(f"{path}: {count} sample{'s' if count != 1 else ''} (Polygraphy saved inputs)", "saved", count,
                   inputs, lambda: iter(feeds), source=path)
