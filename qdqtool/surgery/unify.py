"""Give every member of a scale group one shared scale / zero-point pair of initializers.

Edits are made on the ModelProto through the light index (no graph copy): only the scale and zero-point
inputs of member Q/DQ nodes are rewired, to new initializers owned by the group. A tensor shared with nodes
outside the group is never changed in place; tensors nobody reads any more are removed afterwards
(:func:`qdqtool.surgery.cleanup.remove_dead`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import onnx

from qdqtool.analysis.groups import Analysis, GroupStatus, ScaleGroup
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.names import unique_name
from qdqtool.ir.qdq import DTYPE_CODES, QParams
from qdqtool.surgery.policy import choose_params


@dataclass
class GroupAction:
    """What merge did (or would do) to one group."""

    source: ScaleGroup = field(repr=False)
    action: str  # "unified", "shared" (already equal, now one initializer), "none", "refused"
    new_scale: float | None = None
    new_zero_point: int | None = None
    how: str = ""  # how the parameters were chosen

    @property
    def group(self) -> str:
        return self.source.id

    @property
    def rule(self) -> str:
        return self.source.rule

    @property
    def members(self) -> list[str]:
        """Names of the member Q/DQ nodes (read when reported, not while merging)."""
        return self.source.nodes

    @property
    def old_scales(self) -> list[float]:
        return self.source.scales

    @property
    def reasons(self) -> list[str]:
        return self.source.reasons


@dataclass
class Unification:
    """The actions taken, and the constant tensors some member stopped reading (candidates for removal)."""

    actions: list[GroupAction]
    detached: set[str]


def unify_groups(analysis: Analysis, policy: str = "max", only: Collection[str] | None = None,
                 chosen: Mapping[str, tuple[QParams, str]] | None = None) -> Unification:
    """Rewire the members of each group to one scale/zero-point pair; edits ``analysis.index.model`` in place.

    Args:
        analysis (Analysis): The result of ``find_scale_groups`` on the model to edit.
        policy (str): ``"max"`` or ``"output"`` (see ``qdqtool.surgery.policy``). Defaults to ``"max"``.
        only (Collection[str]): Unify only these groups (ids); the others are left as they are. Defaults to all.
        chosen (Mapping[str, tuple[QParams, str]]): Parameters (and how they were chosen) for some groups, in place
            of the policy's (``--policy min-error`` measures them). Defaults to none.
    """
    index = analysis.index
    taken = _Taken(index)
    inputs_of = index.inputs
    detached: set[str] = set()
    actions = []
    new_initializers = []
    for group in analysis.groups:
        action = _action_for(group)
        actions.append(action)
        if group.status is GroupStatus.REFUSED or (group.status is GroupStatus.CONSISTENT and group.is_shared) \
                or (only is not None and group.id not in only):
            continue
        if group.status is GroupStatus.CONSISTENT:
            params, action.action, action.how = group.quantizers[0].params, "shared", "already equal"
        else:
            params, action.how = (chosen or {}).get(group.id) or choose_params(group, policy)
            action.action = "unified"
        action.new_scale = params.scale_value
        action.new_zero_point = params.zero_point_value
        scale_name = unique_name(f"qdqtool/{group.id}/scale", taken)
        zp_name = unique_name(f"qdqtool/{group.id}/zero_point", taken)
        new_initializers += _initializers(params, scale_name, zp_name)
        members = [member.node_id for q in group.quantizers for member in q.nodes]
        detached.update(*[inputs_of[position][1:3] for position in members])
        index.set_inputs(members, 1, scale_name, zp_name)  # (zp appended where it was omitted)
    index.initializers.add_scalars(new_initializers)
    detached.discard("")  # (an omitted zero point)
    return Unification(actions=actions, detached=detached)


def _action_for(group: ScaleGroup) -> GroupAction:
    return GroupAction(source=group, action="refused" if group.status is GroupStatus.REFUSED else "none")


def _initializers(params: QParams, scale_name: str, zp_name: str) -> list[tuple[str, int, bytes]]:
    """(name, element type, raw bytes) of the scalar scale (in the members' float type) and zero point."""
    raw = params.raw_scalars()
    if raw is not None and raw[2] == DTYPE_CODES[params.dtype]:  # a member's own bytes: nothing to convert
        scale_type, scale_raw, zp_type, zp_raw = raw
        return [(scale_name, scale_type, scale_raw), (zp_name, zp_type, zp_raw)]
    scale_array = np.asarray(params.scale).reshape(())
    np_zp = np.int8 if params.dtype == "int8" else np.uint8
    return [
        (scale_name, onnx.helper.np_dtype_to_tensor_dtype(scale_array.dtype), scale_array.tobytes()),
        (zp_name, DTYPE_CODES[params.dtype], np.asarray(params.zero_point).reshape(()).astype(np_zp).tobytes()),
    ]


class _Taken:
    """The tensor names in use: initializers, Constant outputs, graph inputs, and the names given out here."""

    def __init__(self, index: GraphIndex) -> None:
        self._index = index
        self._given: set[str] = set()

    def __contains__(self, name: str) -> bool:
        index = self._index
        return (name in self._given or name in index.initializers or name in index.constant_nodes
                or name in index.graph_inputs)

    def add(self, name: str) -> None:
        self._given.add(name)

