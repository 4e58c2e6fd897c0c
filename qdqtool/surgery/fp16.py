"""``merge --fix fp16``: the float regions of a Q/DQ model cast to FP16, for strongly typed builds.

A strongly typed build (TensorRT 11's only mode, TensorRT 10 with ``--stronglyTyped``) runs every layer outside the
Q/DQ-fused INT8 regions in the ONNX model's own float type: a QAT model exported in FP32 runs its head in FP32 (gate
rule QDQ204). This edit gives those nodes FP16 types, as NVIDIA's migration guide asks ("use ModelOpt AutoCast to
produce a mixed-precision model before building"), and leaves everything TensorRT runs in INT8 exactly as it was:

- which nodes: the ones the caller names, the nodes of layers the TensorRT predictor puts in a float precision
  (the ``merge`` job asks it); never a Q/DQ node, a node that writes a graph output (the model keeps its I/O
  types), a node of another domain, or one whose output type an attribute sets (Cast, ConstantOfShape ...);
- which of their inputs and outputs: by the op's schema, those typed like its first output (``T``), when ``T``
  admits float16; a Resize's float ``scales`` and the like keep their type;
- at the region's edges: a Cast to FP16 where a region node reads a float tensor from outside (an INT8 kernel's
  output, a graph input), a Cast back to FP32 where something outside (a QuantizeLinear, a graph output's producer)
  reads a region tensor; an FP32 initializer only region nodes read becomes FP16 itself.

The Q/DQ nodes, their scales and zero points are not touched: scales stay FP32 at any opset (FP16 scales need
opset 19). onnxconverter-common's ``convert_float_to_float16`` was tried first: on a Q/DQ model it also rounds the
scales of blocked Q/DQ nodes through FP16 (it converts their Constant producers and casts back), which changes
every quantizer it touches. Idempotent: a region already in FP16 has no FP32 tensors left to convert.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from qdqtool.ir.editor import GraphEditor
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.names import unique_name
from qdqtool.surgery.placement import PlacementAction

FIX = "fp16"
_NEVER = frozenset({"QuantizeLinear", "DequantizeLinear", "Cast", "CastLike", "Constant", "ConstantOfShape",
                    "EyeLike", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike"})


def cast_float_regions(model: onnx.ModelProto, nodes: Iterable[str]) -> list[PlacementAction]:
    """Give the named float nodes of ``model`` FP16 types (in place; see the module docstring).

    Args:
        model (onnx.ModelProto): The model.
        nodes (Iterable[str]): Names of the nodes to run in FP16 (others are left alone).

    Returns:
        One action per region node converted.
    """
    index = GraphIndex(model)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    types = _float_types(model)
    graph_outputs = {o.name for o in model.graph.output}
    region: dict[str, tuple[list[int], list[int]]] = {}  # node -> (its T inputs, its T outputs)
    for name in dict.fromkeys(nodes):
        node_id = index.find(name)
        node = None if node_id is None else index.node_at(node_id)
        if node is None or node.op_type in _NEVER or node.domain not in ("", "ai.onnx"):
            continue
        if any(a.name in ("to", "dtype") for a in node.attribute) or set(node.output) & graph_outputs:
            continue
        slots = _t_slots(node, opset)
        if slots is None:
            continue
        ins = [i for i in slots[0] if i < len(node.input) and types.get(node.input[i]) == TensorProto.FLOAT]
        outs = [i for i in slots[1] if i < len(node.output) and types.get(node.output[i]) == TensorProto.FLOAT]
        if outs:
            region[name] = (ins, outs)
    if not region:
        return []
    return _convert(model, index, region, types)


def _convert(model: onnx.ModelProto, index: GraphIndex, region: dict[str, tuple[list[int], list[int]]],
             types: dict[str, int]) -> list[PlacementAction]:
    order = {index.name_of(i): i for i in range(len(index.ops)) if index.node_at(i) is not None}
    consumers = index.consumers

    def readers(tensor: str) -> list[str]:
        return list(dict.fromkeys(index.name_of(i) for i in consumers.get(tensor, ())))

    made = {t for name in region for i in region[name][1] for t in [index.node_at(index.find(name)).output[i]]}
    initializers = {t.name: t for t in model.graph.initializer}
    taken = set(index.initializers) | set(index.producer) | index.graph_inputs
    editor = GraphEditor(model)
    to_fp16: set[str] = set()
    cast_in: dict[str, str] = {}
    for name in sorted(region, key=order.__getitem__):
        node = index.node_at(index.find(name))
        for i in region[name][0]:
            t = node.input[i]
            if t in made:
                continue
            init = initializers.get(t)
            if (init is not None and init.data_location != TensorProto.EXTERNAL
                    and all(r in region for r in readers(t))):
                to_fp16.add(t)
                continue
            if t not in cast_in:
                cast_in[t] = unique_name(f"{t}/fp16", taken)
                taken.add(cast_in[t])
                editor.insert("Cast", [t], [cast_in[t]], name=cast_in[t], before=name,
                              attrs=[onnx.helper.make_attribute("to", TensorProto.FLOAT16)])
            editor.replace_input(name, t, cast_in[t])
    for name in sorted(region, key=order.__getitem__):
        node = index.node_at(index.find(name))
        for i in region[name][1]:
            t = node.output[i]
            outside = [r for r in readers(t) if r not in region]
            if not outside:
                continue
            back = unique_name(f"{t}/fp32", taken)
            taken.add(back)
            first = min(outside, key=order.__getitem__)
            editor.insert("Cast", [t], [back], name=back, before=first,
                          attrs=[onnx.helper.make_attribute("to", TensorProto.FLOAT)])
            for reader in outside:
                editor.replace_input(reader, t, back)
    editor.commit()
    for k, init in enumerate(model.graph.initializer):
        if init.name in to_fp16:
            model.graph.initializer[k].CopyFrom(
                numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    retyped = made | to_fp16
    kept = [v for v in model.graph.value_info if v.name not in retyped]  # shape inference gives them their new type
    del model.graph.value_info[:]
    model.graph.value_info.extend(kept)
    return [PlacementAction(fix=FIX, action="cast-fp16", node=name, tensor="",
                            how=f"runs in FP16 ({len(region[name][0])} input(s), {len(region[name][1])} output(s))")
            for name in sorted(region, key=order.__getitem__)]


def _t_slots(node: onnx.NodeProto, opset: int) -> tuple[list[int], list[int]] | None:
    """(input indices, output indices) typed like the node's first output, when that type admits float16."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain or "")
    except onnx.defs.SchemaError:
        return None
    if not schema.outputs:
        return None
    t = schema.outputs[0].type_str
    allowed = next((c.allowed_type_strs for c in schema.type_constraints if c.type_param_str == t), [t])
    if "tensor(float16)" not in allowed:
        return None
    formal_in = schema.inputs
    ins = [i for i in range(len(node.input))
           if formal_in and formal_in[min(i, len(formal_in) - 1)].type_str == t]
    outs = [j for j in range(len(node.output))
            if schema.outputs[min(j, len(schema.outputs) - 1)].type_str == t]
    return ins, outs


def _float_types(model: onnx.ModelProto) -> dict[str, int]:
    """The element type of every tensor that shape inference can type (without touching the model)."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    types = {}
    for v in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        types[v.name] = v.type.tensor_type.elem_type
    for t in model.graph.initializer:
        types[t.name] = t.data_type
    return types
