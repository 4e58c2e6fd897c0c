"""Give every member of a scale group one shared scale / zero-point pair of initializers.

Edits are made on the ModelProto through the light index (no graph copy): only the scale and zero-point
inputs of member Q/DQ nodes are rewired, to new initializers owned by the group. A tensor shared with nodes
outside the group is never changed in place; tensors nobody reads any more are removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from qdqtool.analysis.groups import Analysis, GroupStatus, ScaleGroup
from qdqtool.ir.qdq import DTYPE_CODES, QParams
from qdqtool.surgery.policy import choose_params


@dataclass
class GroupAction:
    """What merge did (or would do) to one group."""

    group: str
    action: str  # "unified", "shared" (already equal, now one initializer), "none", "refused"
    rule: str
    members: list[str]
    old_scales: list[float]
    new_scale: float | None = None
    new_zero_point: int | None = None
    how: str = ""  # how the parameters were chosen
    reasons: list[str] = field(default_factory=list)

    @property
    def changes_values(self) -> bool:
        return self.action == "unified"


def unify_groups(analysis: Analysis, policy: str = "max") -> list[GroupAction]:
    """Rewire the members of each group to one scale/zero-point pair; edits ``analysis.index.model`` in place.

    Args:
        analysis (Analysis): The result of ``find_scale_groups`` on the model to edit.
        policy (str): ``"max"`` or ``"output"`` (see ``qdqtool.surgery.policy``). Defaults to ``"max"``.
    """
    index = analysis.index
    graph = index.graph
    taken = set(index.initializers) | set(index.producer) | index.graph_inputs
    detached: set[str] = set()
    actions = []
    new_initializers = []
    for group in analysis.groups:
        action = _action_for(group)
        actions.append(action)
        if group.status is GroupStatus.REFUSED:
            continue
        if group.status is GroupStatus.CONSISTENT:
            if group.is_shared:
                continue
            params, how = group.quantizers[0].params, "already equal"
            action.action = "shared"
        else:
            params, how = choose_params(group, policy)
            action.action = "unified"
        action.how = how
        action.new_scale = float(params.scale.reshape(-1)[0])
        action.new_zero_point = int(params.zero_point.reshape(-1)[0])
        scale_name = _unique(f"qdqtool/{group.id}/scale", taken)
        zp_name = _unique(f"qdqtool/{group.id}/zero_point", taken)
        new_initializers += _initializers(params, scale_name, zp_name)
        for q in group.quantizers:
            for member in q.nodes:
                node = member.node
                detached.update(n for n in node.input[1:3] if n)
                node.input[1] = scale_name
                if len(node.input) > 2:
                    node.input[2] = zp_name
                else:
                    node.input.append(zp_name)
    if new_initializers:
        graph.initializer.extend(new_initializers)
        remove_unused_constants(index.model, detached)
    return actions


def _action_for(group: ScaleGroup) -> GroupAction:
    return GroupAction(
        group=group.id,
        action="refused" if group.status is GroupStatus.REFUSED else "none",
        rule=group.rule,
        members=group.nodes,
        old_scales=group.scales,
        reasons=list(group.reasons),
    )


def _initializers(params: QParams, scale_name: str, zp_name: str) -> list[onnx.TensorProto]:
    scale = numpy_helper.from_array(np.asarray(params.scale).reshape(()), scale_name)
    zp = onnx.helper.make_tensor(zp_name, DTYPE_CODES[params.dtype], [], [int(params.zero_point.reshape(-1)[0])])
    return [scale, zp]


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def remove_unused_constants(model: onnx.ModelProto, candidates: set[str]) -> list[str]:
    """Remove the initializers and Constant nodes among ``candidates`` that nothing reads any more."""
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    used |= {o.name for o in graph.output}
    used |= _subgraph_inputs(graph)
    dead = candidates - used
    if not dead:
        return []
    _delete_where(graph.initializer, lambda t: t.name in dead)
    _delete_where(graph.input, lambda v: v.name in dead)  # IR < 4 lists initializers as inputs too
    _delete_where(graph.node, lambda n: n.op_type == "Constant" and n.output[0] in dead)
    return sorted(dead)


def _delete_where(container, predicate) -> None:
    """Delete matching items of a repeated protobuf field in place (no copy of the survivors)."""
    for i in reversed([i for i, item in enumerate(container) if predicate(item)]):
        del container[i]


def _subgraph_inputs(graph: onnx.GraphProto) -> set[str]:
    used: set[str] = set()
    for node in graph.node:
        for a in node.attribute:
            subs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
            for sub in subs:
                used |= {name for n in sub.node for name in n.input} | _subgraph_inputs(sub)
    return used
