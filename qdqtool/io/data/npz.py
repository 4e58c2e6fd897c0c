"""Sample sets in an ``.npz``: one array per model input, whose first axis holds the samples.

An array whose first axis is a multiple of the model's fixed batch B (1 when the batch is dynamic) holds
``n / B`` feeds of B samples each; an array with one dimension less than the input is one sample.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from qdqtool.errors import BadInputError
from qdqtool.io.data.shapes import ModelInput


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz (read once, into memory), or BadInputError."""
    if not path.exists():
        raise BadInputError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise BadInputError(f"{path}: not an .npz file (write one with numpy.savez(path, input_name=array, ...))")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise BadInputError(f"{path}: not a readable .npz file: {err}") from None


def samples(path: Path, inputs: list[ModelInput]):
    """The feeds of an .npz for a model with these inputs, as a Dataset."""
    from qdqtool.io.data.dataset import Dataset

    data = read_npz(path)
    missing = [i.name for i in inputs if i.name not in data]
    if missing:
        raise BadInputError(f"{path}: has no array for input(s) {missing} (it holds {sorted(data)})")
    batches: dict[str, np.ndarray] = {}
    counts = {}
    for spec in inputs:
        array = data[spec.name]
        if spec.dims and array.ndim == len(spec.dims) - 1:  # one sample without its batch axis
            array = array[None]
        if not spec.dims or array.ndim == 0:
            raise BadInputError(f"{path}: input {spec.name} is a scalar; an .npz gives it once per sample on axis 0")
        batch = spec.batch or 1
        if array.shape[0] % batch:
            raise BadInputError(f"{path}: array {spec.name} has {array.shape[0]} samples on its first axis, not a "
                                f"multiple of the model's batch {batch}")
        batches[spec.name] = array
        counts[spec.name] = array.shape[0] // batch
    if len(set(counts.values())) > 1:
        raise BadInputError(f"{path}: the arrays hold different numbers of batches ({counts})")
    count = next(iter(counts.values()))
    sizes = {spec.name: spec.batch or 1 for spec in inputs}

    def make():
        for k in range(count):
            yield {name: array[k * sizes[name]:(k + 1) * sizes[name]] for name, array in batches.items()}

    noun = "sample" if all(s == 1 for s in sizes.values()) else "batch"
    return Dataset(f"{path}: {count} {noun}{'s' if count != 1 else ''}", "npz", count, inputs, make, source=path)
