"""Sensitivity units: what `qdqtool sensitivity` measures and `qdqtool partial` can put back in float.

- A **layer**: a node the target runs quantized (its rules' ``weighted_ops`` and ``quantized_ops``) that reads at
  least one activation through a Q/DQ pair. Putting it in float means it reads the float values of its inputs and
  weights (`qdqtool.surgery.dequantize.float_inputs`); every other reader of those tensors stays as it was.
- A **scale group** the merge would unify (mismatched): what unifying it adds.

Layers are numbered L1, L2 ... in graph order, so ids are stable for a given model; groups keep their analysis id.

    >>> units = layer_units(GraphIndex(model), load_rules("tensorrt"))
    >>> units[0].id, units[0].name, units[0].op_type
    ('L1', 'backbone.stem.conv', 'Conv')
"""

from __future__ import annotations

from dataclasses import dataclass

from qdqtool.analysis.groups import Analysis, GroupStatus
from qdqtool.analysis.rules import RuleSet
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import dequantized_q


@dataclass(frozen=True)
class Unit:
    """One thing to measure: a layer (``kind="layer"``) or a scale group (``kind="group"``)."""

    id: str  # L1, L2 ... for layers (graph order); the group's id (G1 ...) for groups
    kind: str  # "layer" or "group"
    name: str  # the layer's node, or the group's first Q/DQ member
    op_type: str  # the layer's op type, or the rule that made the group
    nodes: tuple[str, ...]  # the layer's node, or the group's Q/DQ members

    @property
    def label(self) -> str:
        return f"{self.name} ({self.op_type})"


def layer_units(index: GraphIndex, rules: RuleSet) -> list[Unit]:
    """The layers of the model the target runs quantized, in graph order (see the module docstring)."""
    ops = set(rules.weighted_ops) | set(rules.quantized_ops)
    units = []
    for node_id in index.live_ids():
        if index.ops[node_id] in ops and any(_quantized_activation(index, t) for t in index.inputs[node_id]):
            name = index.name_of(node_id)
            units.append(Unit(f"L{len(units) + 1}", "layer", name, index.ops[node_id], (name,)))
    return units


def group_units(analysis: Analysis) -> list[Unit]:
    """The scale groups the merge would unify, one unit each."""
    return [Unit(g.id, "group", g.nodes[0], g.rule, tuple(g.nodes))
            for g in analysis.by_status(GroupStatus.MISMATCHED)]


def _quantized_activation(index: GraphIndex, tensor: str) -> bool:
    """``tensor`` is a DQ's output whose data comes from a Q of an activation (not of weights)."""
    q = dequantized_q(index, tensor)
    return q is not None and not index.is_fixed(index.inputs[q][0])
