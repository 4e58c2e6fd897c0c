"""Placement fixes (``merge --fix NAME``): move Q/DQ pairs where TensorRT needs them, before scales are unified.

Fixes are registered by name (:func:`register_fix`), so ``--fix`` lists what exists and a report can say which
fix made each edit. They read the model through the light index and edit it through the one
:class:`~qdqtool.ir.editor.GraphEditor`. Every edit is returned as a :class:`PlacementAction`.

``residual-add`` follows TensorRT's placement guidance for residual Adds (developer guide, "Q/DQ Layer-Placement
Recommendations", Fig. 6/7 and 9): "The precision of the first input to the element-wise addition layer
determines the precision of the output of the fusion", and "an extra pair of Q/DQ operators ... forces the
separation of the convolution operator from the element-wise addition operator".

1. *quantize-skip*: an Add fused into a convolution whose other (skip) input is float gets a Q/DQ pair on that
   skip input. Its parameters are those of a Q already quantizing the skip tensor for another reader (the pair
   then joins that Q's scale group, and merge gives it the group's parameters). When nothing quantizes the skip
   (both inputs come from convolutions, as in a downsample block), it borrows the parameters of the Q that reads
   the Add's result through ``[placement].result_through_ops``: the fused kernel writes INT8 at that scale anyway.
2. *unquantize-branch*: an Add whose convolution-branch input carries its own Q/DQ pair while the convolution
   output has no other reader (onnxruntime's quantizer and some ModelOpt settings emit this) loses that pair, so
   the Add can fuse into the convolution; the other input must stay quantized (it becomes the INT8 skip).

Both are idempotent: a second run finds nothing to do.

    >>> actions = apply_fixes(model, load_rules("tensorrt"), ["residual-add"])
    >>> assert all(a.fix == "residual-add" for a in actions)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx

from qdqtool.analysis.groups import find_scale_groups
from qdqtool.analysis.rules import RuleSet
from qdqtool.errors import BadInputError
from qdqtool.ir.editor import GraphEditor
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import is_dq, is_q, read_params


@dataclass
class PlacementAction:
    """One placement edit, reported like a group action."""

    fix: str  # the registered fix that made it ("residual-add")
    action: str  # "quantize-skip" or "unquantize-branch"
    node: str  # the Add
    tensor: str  # the tensor the pair was put on or taken from
    nodes: list[str] = field(default_factory=list)  # the Q/DQ nodes inserted or removed
    params_from: str = ""  # quantize-skip: the Q whose parameters the new pair copies
    scale: float | None = None
    zero_point: int | None = None
    how: str = ""  # one line: why, and where the parameters come from


FixFunction = Callable[[onnx.ModelProto, RuleSet], list[PlacementAction]]
FIXES: dict[str, FixFunction] = {}


def register_fix(name: str) -> Callable[[FixFunction], FixFunction]:
    """Register a placement fix under ``name`` (what ``merge --fix NAME`` runs)."""

    def register(function: FixFunction) -> FixFunction:
        if name in FIXES:
            raise ValueError(f"placement fix {name!r} is registered twice")
        FIXES[name] = function
        return function

    return register


def apply_fixes(model: onnx.ModelProto, rules: RuleSet, names: list[str] | tuple[str, ...]) -> list[PlacementAction]:
    """Run the named fixes on ``model`` (edited in place), in the order given.

    Args:
        model (onnx.ModelProto): The model to edit.
        rules (RuleSet): The target's rules (residual Add ops, weighted ops...).
        names (list[str]): Registered fix names (``residual-add``).
    """
    actions: list[PlacementAction] = []
    for name in names:
        if name not in FIXES:
            raise BadInputError(f"unknown placement fix {name!r}: choose one of {', '.join(sorted(FIXES))}")
        actions += FIXES[name](model, rules)
    return actions


@register_fix("residual-add")
def fix_residual_add(model: onnx.ModelProto, rules: RuleSet) -> list[PlacementAction]:
    """Quantize float skip inputs of residual Adds, then free convolution branches of their own Q/DQ pair."""
    return quantize_skips(model, rules) + unquantize_branches(model, rules)


# ---- 1. quantize-skip ----------------------------------------------------------------------------------------------


def quantize_skips(model: onnx.ModelProto, rules: RuleSet) -> list[PlacementAction]:
    """Insert a Q/DQ pair on the float input of each Add the analysis reports as a placement problem."""
    analysis = find_scale_groups(model, rules)
    index = analysis.index  # reads the model as it was before these edits
    editor = GraphEditor(model)
    adds = {index.name_of(i): i for i in _add_nodes(index, rules)}
    taken = ({index.node_at(i).name for i in index.live_ids()} | set(index.producer) | set(index.initializers)
             | index.graph_inputs)
    actions = []
    for finding in analysis.findings:
        position = adds.get(finding.node)
        if position is None:
            continue
        add = index.node_at(position)
        skip = _skip_input(index, rules, add, finding.tensor)
        if skip is None:
            continue
        source, how = _params_source(index, rules, add, skip)
        if source is None:
            continue
        params = read_params(index, source)
        inputs = _constants_before(index, editor, source, position, taken)
        prefix = _unique(f"qdqtool/{finding.node}/skip_quantizer", taken)
        names = []
        if source.input[0] == skip and index.producer[source.output[0]] < position:
            quantized = source.output[0]  # that Q already quantizes the skip: the Add gets a DQ of its own
        else:
            quantized = f"{prefix}.q"
            editor.insert("QuantizeLinear", [skip, *inputs], [quantized], f"{prefix}.Q", before=finding.node,
                          attrs=source.attribute)
            names.append(f"{prefix}.Q")
        editor.insert("DequantizeLinear", [quantized, *inputs], [f"{prefix}.dq"], f"{prefix}.DQ", before=finding.node,
                      attrs=[a for a in source.attribute if a.name in ("axis", "block_size")])
        names.append(f"{prefix}.DQ")
        editor.replace_input(finding.node, skip, f"{prefix}.dq")
        actions.append(PlacementAction(
            fix="residual-add", action="quantize-skip", node=finding.node, tensor=skip,
            nodes=names, params_from=source.name or source.output[0],
            scale=float(params.scale.reshape(-1)[0]) if params else None,
            zero_point=int(params.zero_point.reshape(-1)[0]) if params else None, how=how,
        ))
    editor.commit()
    return actions


def _add_nodes(index: GraphIndex, rules: RuleSet) -> list[int]:
    return index.of_type(*rules.placement.get("residual_add_ops", []))


def _skip_input(index: GraphIndex, rules: RuleSet, add: onnx.NodeProto, reported: str) -> str | None:
    """The Add input TensorRT will not fuse: the other one when exactly one input is a convolution output that
    only the Add reads (MobileNetV2's ``x + conv(x)``, where x itself may come from a convolution), else the
    input the analysis reported. None when that input is already dequantized."""
    fusable = [
        t for t in add.input
        if _from_weighted(index, rules, t) and len(index.consumers.get(t, ())) == 1 and t not in index.graph_outputs
    ]
    skip = next(t for t in add.input if t != fusable[0]) if len(fusable) == 1 else reported
    producer = index.producer_node(skip)
    return None if producer is not None and is_dq(producer) else skip


def _quantizers_of(index: GraphIndex, rules: RuleSet, tensor: str) -> list[onnx.NodeProto]:
    """Q nodes reading ``tensor``, directly or through look-through ops (Cast, Dropout)."""
    found, places = [], [tensor]
    for place in places:
        for reader in index.consumer_nodes(place):
            if is_q(reader):
                found.append(reader)
            elif rules.look_through.applies_to(reader, index) and len(places) < 16:
                places.append(reader.output[0])
    return found


def _params_source(
    index: GraphIndex, rules: RuleSet, add: onnx.NodeProto, skip: str
) -> tuple[onnx.NodeProto | None, str]:
    """The Q whose parameters the skip's new pair copies, and how it was chosen."""
    quantizers = _quantizers_of(index, rules, skip)
    for q in quantizers:
        if _usable(index, q):
            return q, f"copies {q.name or q.output[0]}, which already quantizes {skip} for another reader"
    if quantizers or not all(_from_weighted(index, rules, t) for t in add.input):
        return None, ""
    through = set(rules.placement.get("result_through_ops", []))
    tensor = add.output[0]
    for _ in range(8):  # a short chain of activations between the Add and the next quantizers
        readers = index.consumer_nodes(tensor)
        found = sorted((r for r in readers if is_q(r) and _usable(index, r)), key=lambda r: index.producer[r.output[0]])
        if found:
            return found[0], (f"nothing quantizes {skip}; borrows {found[0].name or found[0].output[0]}, which "
                              f"quantizes the Add's result {tensor} (the fused kernel writes INT8 at that scale)")
        nxt = [r for r in readers if r.op_type in through]
        if len(readers) != 1 or not nxt or tensor in index.graph_outputs:
            break
        tensor = nxt[0].output[0]
    return None, ""


def _usable(index: GraphIndex, q: onnx.NodeProto) -> bool:
    params = read_params(index, q)
    return params is not None and params.per_tensor and params.supported


def _from_weighted(index: GraphIndex, rules: RuleSet, tensor: str) -> bool:
    node = index.producer_node(tensor)
    return node is not None and node.op_type in rules.weighted_ops


def _constants_before(
    index: GraphIndex, editor: GraphEditor, source: onnx.NodeProto, position: int, taken: set[str]
) -> list[str]:
    """The scale/zero-point inputs a new node before node ``position`` can read: ``source``'s own tensors when they
    exist before it (initializers, earlier Constant nodes), else new initializers holding their values."""
    names = []
    for name in source.input[1:3]:
        if not name or name in index.initializers or index.constant_nodes.get(name, position) < position:
            names.append(name)
            continue
        copy = _unique(f"{name}.copy", taken)
        editor.new_constant(copy, np.asarray(index.const_array(name)))
        names.append(copy)
    return names


_DERIVED = ("", ".Q", ".DQ", ".q", ".dq")  # the node and tensor names a fix makes from one prefix


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``...: the first whose derived node and tensor names are all free."""
    candidate, n = name, 1
    while any(candidate + suffix in taken for suffix in _DERIVED):
        n += 1
        candidate = f"{name}_{n}"
    taken.update(candidate + suffix for suffix in _DERIVED)
    return candidate


# ---- 2. unquantize-branch ------------------------------------------------------------------------------------------


def unquantize_branches(model: onnx.ModelProto, rules: RuleSet) -> list[PlacementAction]:
    """Remove the Q/DQ pair between a convolution and the residual Add it could fuse with."""
    index = GraphIndex(model)  # reads the model as it was before these edits
    editor = GraphEditor(model)
    actions = []
    for position in _add_nodes(index, rules):
        add = index.node_at(position)
        if len(add.input) != 2 or any(not t or index.is_fixed(t) for t in add.input):
            continue
        branches = [b for k in range(2) if (b := _quantized_branch(index, rules, add, k)) is not None]
        if not branches:
            continue
        k, q_at, dq_at, conv_at = max(branches, key=lambda b: b[3])  # TensorRT fuses the Add into the later conv
        other = index.producer_node(add.input[1 - k])
        if other is None or not is_dq(other):
            continue  # without an INT8 skip, freeing the branch would leave the fused output float
        name, q = index.name_of(position), index.node_at(q_at)
        editor.replace_input(name, add.input[k], q.input[0])
        editor.remove([index.name_of(dq_at), index.name_of(q_at)])
        actions.append(PlacementAction(
            fix="residual-add", action="unquantize-branch", node=name, tensor=q.input[0],
            nodes=[index.name_of(q_at), index.name_of(dq_at)],
            how=(f"{index.name_of(conv_at)} feeds {name} through its own Q/DQ pair; without it TensorRT fuses "
                 f"the Add into the convolution and keeps the other input as the INT8 skip"),
        ))
    editor.commit()
    return actions


def _quantized_branch(
    index: GraphIndex, rules: RuleSet, add: onnx.NodeProto, k: int
) -> tuple[int, int, int, int] | None:
    """(k, Q, DQ, conv ids) when input ``k`` of ``add`` is conv -> Q -> DQ with no other reader on the way."""
    tensor = add.input[k]
    producer, consumers, outputs = index.producer, index.consumers, index.graph_outputs
    dq_at = producer.get(tensor)
    if dq_at is None or not is_dq(index.node_at(dq_at)) or len(consumers.get(tensor, ())) != 1 or tensor in outputs:
        return None
    q_tensor = index.inputs[dq_at][0]
    q_at = producer.get(q_tensor)
    if q_at is None or not is_q(index.node_at(q_at)) or len(consumers.get(q_tensor, ())) != 1:
        return None
    source = index.inputs[q_at][0]
    conv_at = producer.get(source)
    if conv_at is None or index.ops[conv_at] not in rules.weighted_ops:
        return None
    if len(consumers.get(source, ())) != 1 or source in outputs:
        return None
    return k, q_at, dq_at, conv_at


# the other registered fixes live in their own modules; importing them here registers them with FIXES
from qdqtool.surgery import symmetric  # noqa: E402, F401
