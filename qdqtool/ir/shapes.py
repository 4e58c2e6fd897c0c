"""Static tensor shapes and element types of a model, by ONNX shape inference, read once per index.

Inference runs on a light copy of the graph: initializers larger than a few values are left out (declared as
inputs of their shape instead), so a model with gigabytes of weights is inferred as fast as its structure.

    >>> shapes = tensor_shapes(index)
    >>> assert shapes.shapes["images"] == (1, 3, 640, 640)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import onnx

from qdqtool.ir.index import GraphIndex

# Initializers up to this many elements stay in the inference copy (Reshape targets, Resize scales...).
_SMALL_CONSTANT = 64


@dataclass(frozen=True)
class TensorShapes:
    """Shapes (``-1`` for an unknown or dynamic dimension, None for an unknown rank) and ONNX element types."""

    shapes: dict[str, tuple[int, ...] | None]
    elem_types: dict[str, int]
    notes: list[str] = field(default_factory=list)  # why some shapes are missing


def tensor_shapes(index: GraphIndex) -> TensorShapes:
    """The shapes of every tensor of ``index``'s model (inferred on first use, then kept on the index)."""
    if index.shapes_cache is None:
        index.shapes_cache = _infer(index.model)
    return index.shapes_cache


def _infer(model: onnx.ModelProto) -> TensorShapes:
    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    graph = light.graph
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    graph.value_info.extend(model.graph.value_info)
    declared = {v.name for v in model.graph.input}
    for tensor in model.graph.initializer:
        count = math.prod(tensor.dims)
        if count <= _SMALL_CONSTANT and tensor.data_location != onnx.TensorProto.EXTERNAL:
            graph.initializer.append(tensor)
        elif tensor.name not in declared:
            graph.input.append(onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    notes = []
    try:
        inferred = onnx.shape_inference.infer_shapes(light, strict_mode=False).graph
        values = list(inferred.value_info) + list(inferred.input) + list(inferred.output)
    except Exception as err:  # noqa: BLE001 - shapes are a help, never a reason to stop
        notes.append(f"shape inference failed ({type(err).__name__}); costs and slices use only declared shapes")
        values = list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output)
    shapes: dict[str, tuple[int, ...] | None] = {}
    elem_types: dict[str, int] = {}
    for value in values:
        if not value.type.HasField("tensor_type"):
            continue
        tt = value.type.tensor_type
        elem_types[value.name] = tt.elem_type
        if not tt.HasField("shape"):
            shapes[value.name] = None
            continue
        shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim)
    for tensor in model.graph.initializer:
        shapes.setdefault(tensor.name, tuple(tensor.dims))
        elem_types.setdefault(tensor.name, tensor.data_type)
    return TensorShapes(shapes=shapes, elem_types=elem_types, notes=notes)
