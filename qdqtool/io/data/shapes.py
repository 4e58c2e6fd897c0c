"""What a model's inputs are (names, element types, dimensions) and the ``--input-shape`` option that fixes the
dynamic ones."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from qdqtool.errors import BadInputError
from qdqtool.io.onnx_io import graph_inputs


@dataclass(frozen=True)
class ModelInput:
    """One input a caller feeds: its name, numpy type and dimensions (None for a dynamic one)."""

    name: str
    dtype: np.dtype
    dims: tuple[int | None, ...]

    @property
    def batch(self) -> int | None:
        """The fixed first dimension, or None (dynamic, or a scalar input)."""
        return self.dims[0] if self.dims else None

    def shape(self, override: tuple[int, ...] | None = None) -> tuple[int, ...]:
        """A concrete shape: ``override`` (from ``--input-shape``), else the fixed dimensions with 1 for dynamic."""
        if override is not None:
            return tuple(override)
        return tuple(1 if d is None else d for d in self.dims)


def model_inputs(model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]] | None = None) -> list[ModelInput]:
    """The model's inputs (initializers left out), with dynamic dimensions fixed where ``shapes`` gives them."""
    found = []
    for value in graph_inputs(model.graph):
        tensor_type = value.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                     for d in tensor_type.shape.dim)
        found.append(ModelInput(value.name, np.dtype(helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)), dims))
    given = resolve_input_shapes(found, shapes or {})
    return [ModelInput(i.name, i.dtype, given[i.name]) if i.name in given else i for i in found]


# One input of 2**31 elements (8 GiB as float32) is past what any model here runs on a CPU, and past what ONNX
# Runtime's int32 shape arithmetic accepts in places.
MAX_INPUT_ELEMENTS = 2**31


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
        elements = math.prod(shape)
        if elements > MAX_INPUT_ELEMENTS:
            raise BadInputError(f"--input-shape {spec!r}: too large ({elements:.3g} elements, "
                                f"{elements * 4 / 2**30:.3g} GiB as float32; at most {MAX_INPUT_ELEMENTS:.3g})")
        shapes[name] = shape
    return shapes


def resolve_input_shapes(inputs: list[ModelInput], shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """``shapes`` by input name (the ``""`` shorthand of a single-input model resolved), or BadInputError unless each
    names an input of the model, has its rank and keeps its fixed dimensions."""
    by_name = {i.name: i for i in inputs}
    resolved: dict[str, tuple[int, ...]] = {}
    for name, shape in shapes.items():
        if name == "" and len(inputs) == 1:
            name = inputs[0].name
        if name not in by_name:
            raise BadInputError(f"--input-shape names unknown input {name!r}; the model's inputs are {list(by_name)}")
        dims = by_name[name].dims
        if dims and len(shape) != len(dims):
            raise BadInputError(f"--input-shape {name}: {len(shape)} dimensions given, the input has {len(dims)}")
        if dims and any(d is not None and d != s for d, s in zip(dims, shape, strict=True)):
            raise BadInputError(f"--input-shape {name}: {_dims(shape)} changes a fixed dimension of the model's "
                                f"{_dims(dims)}")
        resolved[name] = tuple(shape)
    return resolved


def check_input_shapes(model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]]) -> None:
    """BadInputError unless every --input-shape names an input of the model, has its rank and keeps its fixed
    dimensions."""
    model_inputs(model, shapes)


def _dims(dims: tuple[int | None, ...]) -> str:
    return "x".join("?" if d is None else str(d) for d in dims)
