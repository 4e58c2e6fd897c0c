"""Inputs for the numeric check: seeded random data shaped like the model's inputs, or the user's .npz."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from qdqtool.errors import BadInputError
from qdqtool.io.onnx_io import graph_inputs


def parse_input_shapes(specs: list[str] | tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """Parse ``name:1x3x640x640`` options into a dict (``name:`` may be omitted for a single input)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, _, dims = spec.rpartition(":")
        try:
            shape = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            raise BadInputError(f"--input-shape {spec!r}: expected NAME:1x3x640x640") from None
        if any(d <= 0 for d in shape):
            raise BadInputError(f"--input-shape {spec!r}: dimensions must be positive")
        if name in shapes:
            raise BadInputError(f"--input-shape {spec!r}: {name or 'the input'} is given twice")
        shapes[name] = shape
    return shapes


def check_input_shapes(model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]]) -> None:
    """BadInputError unless every --input-shape names an input of the model and has its rank."""
    if not shapes:
        return
    inputs = {v.name: v for v in graph_inputs(model.graph)}
    for name, shape in shapes.items():
        if name == "" and len(inputs) == 1:
            name = next(iter(inputs))
        if name not in inputs:
            raise BadInputError(f"--input-shape names unknown input {name!r}; the model's inputs are {list(inputs)}")
        rank = len(inputs[name].type.tensor_type.shape.dim)
        if rank and len(shape) != rank:
            raise BadInputError(f"--input-shape {name}: {len(shape)} dimensions given, the input has {rank}")


def random_inputs(
    model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]] | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """Seeded standard-normal data for every graph input; dynamic dimensions from ``shapes``, else 1."""
    shapes = dict(shapes or {})
    inputs = graph_inputs(model.graph)
    if "" in shapes and len(inputs) == 1:
        shapes[inputs[0].name] = shapes.pop("")
    check_input_shapes(model, shapes)
    rng = np.random.default_rng(seed)
    data = {}
    for value in inputs:
        tensor_type = value.type.tensor_type
        if value.name in shapes:
            shape = shapes[value.name]
        else:
            dims = tensor_type.shape.dim
            shape = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in dims)
        np_type = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
        if np.issubdtype(np_type, np.floating):
            data[value.name] = rng.standard_normal(shape).astype(np_type)
        elif np_type == np.bool_:
            data[value.name] = np.zeros(shape, dtype=np.bool_)
        else:
            data[value.name] = rng.integers(0, 2, size=shape).astype(np_type)
    return data


def timing_feed(
    model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]] | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """One feed for profiling and timing a build (values do not matter there, shapes and types do), from
    Polygraphy's DataLoader: what ``polygraphy run`` would feed, shaped by ``shapes`` for dynamic dimensions."""
    from polygraphy.common import TensorMetadata
    from polygraphy.comparator import DataLoader
    from polygraphy.logger import G_LOGGER

    shapes = dict(shapes or {})
    inputs = graph_inputs(model.graph)
    if "" in shapes and len(inputs) == 1:
        shapes[inputs[0].name] = shapes.pop("")
    check_input_shapes(model, shapes)
    metadata = TensorMetadata()
    for value in inputs:
        tensor_type = value.type.tensor_type
        shape = shapes.get(value.name) or tuple(
            d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in tensor_type.shape.dim)
        metadata.add(value.name, dtype=helper.tensor_dtype_to_np_dtype(tensor_type.elem_type), shape=shape)
    with G_LOGGER.verbosity(G_LOGGER.CRITICAL):  # Polygraphy logs to stdout; qdqtool's stdout may be JSON
        loader = DataLoader(seed=seed, input_metadata=metadata)
        loader.input_metadata = metadata
        return dict(loader[0])


def load_npz(path: str | os.PathLike, model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Read user inputs from an .npz whose keys are the model's input names."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise BadInputError(f"{path}: not an .npz file (write one with numpy.savez(path, input_name=array, ...))")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise BadInputError(f"{path}: not a readable .npz file: {err}") from None
    names = [v.name for v in graph_inputs(model.graph)]
    missing = [n for n in names if n not in data]
    if missing:
        raise BadInputError(f"{path}: has no array for input(s) {missing} (it holds {sorted(data)})")
    return {n: data[n] for n in names}


def check_inputs(
    model: onnx.ModelProto, path: str | os.PathLike | None, shapes: dict[str, tuple[int, ...]], seed: int
) -> tuple[dict[str, np.ndarray], str]:
    """The inputs of a numeric check and how the report names them: the user's .npz, else seeded random data."""
    if path is not None:
        return load_npz(path, model), str(path)
    return random_inputs(model, shapes, seed), f"seeded random (seed {seed})"
