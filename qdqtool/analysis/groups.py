"""Scale groups: the activation quantizers a backend needs to carry one scale and zero point.

Tensors are joined into *quantization domains* by the rules of the target (``rules/<target>.toml``): a
Concat joins its inputs and output, a MaxPool its input and output, a quantizer the tensor it reads and the
tensors its DQs produce. Every activation quantizer reading or producing a tensor of one domain belongs to
that domain's group. A domain becomes a reported group when it holds two or more quantizers and at least one
rule of the target explains why they meet.

    >>> analysis = find_scale_groups(model, load_rules("tensorrt"))
    >>> assert all(len(g.quantizers) >= 2 for g in analysis.groups)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import onnx

from qdqtool.analysis.rules import RuleSet
from qdqtool.analysis.union_find import UnionFind
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import (
    QRANGE,
    QParams,
    Quantizer,
    find_activation_quantizers,
    find_quantizers,
    in_quantizer_order,
    is_dq,
    weight_types,
)


class GroupStatus(str, Enum):
    CONSISTENT = "consistent"  # all members already carry equal parameters
    MISMATCHED = "mismatched"  # parameters differ and can be unified
    REFUSED = "refused"  # parameters differ but cannot (or should not) be unified; left unchanged


@dataclass
class ScaleGroup:
    """Activation quantizers that must share one scale and zero point.

        >>> assert group.ratio >= 1.0 and group.rule in group.rules
    """

    id: str
    rules: tuple[str, ...]  # rule ids that explain the group, in rules-file order
    quantizers: list[Quantizer]
    tensors: list[str]
    ops: list[str]  # the nodes whose rules joined the tensors
    output_ids: frozenset[int]  # quantizers reading the group's output (for --policy output)
    status: GroupStatus = GroupStatus.CONSISTENT
    reasons: list[str] = field(default_factory=list)  # why refused
    why: str = ""
    _params: list[QParams] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def rule(self) -> str:
        return self.rules[0]

    @property
    def nodes(self) -> list[str]:
        """Names of all member Q and DQ nodes."""
        return [n.name for q in self.quantizers for n in q.nodes]

    @property
    def params(self) -> list[QParams]:
        """The parameters of every member node that has constant ones, in member order (read once)."""
        if self._params is None:
            self._params = [p for q in self.quantizers for n in q.nodes if (p := n.params) is not None]
        return self._params

    @property
    def scales(self) -> list[float]:
        return [p.scale_value for p in self.params]

    @property
    def scale_min(self) -> float:
        return min(self.scales)

    @property
    def scale_max(self) -> float:
        return max(self.scales)

    @property
    def ratio(self) -> float:
        return _ratio(self.scales)

    @property
    def dtypes(self) -> list[str]:
        return sorted({p.dtype for p in self.params})

    @property
    def zero_points(self) -> list[int]:
        points: set[int] = set()
        for p in self.params:
            if p.one_value:
                points.add(p.zero_point_value)
            else:  # per channel
                points.update(int(z) for z in p.zero_point.ravel())
        return sorted(points)

    @property
    def is_shared(self) -> bool:
        """Every member node already reads the same scale and zero-point tensors."""
        return len({(n.scale_name, n.zero_point_name) for q in self.quantizers for n in q.nodes}) == 1


@dataclass
class Finding:
    """A placement problem: something no scale edit can fix (reported; fixed by ``merge --fix``)."""

    kind: str  # "residual-add-unquantized-skip", "residual-add-partially-quantized"
    node: str  # the node concerned (the Add)
    tensor: str  # the unquantized tensor
    message: str
    quantized_by: list[str] = field(default_factory=list)  # Q nodes already quantizing `tensor` for other readers


@dataclass
class Analysis:
    """What ``analyze`` found on a model for one target."""

    target: str
    groups: list[ScaleGroup]
    findings: list[Finding]
    notes: list[str]
    activation_quantizers: list[Quantizer]
    index: GraphIndex
    weight_quantizers: int = 0  # how many; built as Quantizer objects only when someone asks for them
    _quantizers: list[Quantizer] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def quantizers(self) -> list[Quantizer]:
        """Every quantizer, weights included, in node order (see :func:`find_quantizers`)."""
        if self._quantizers is None:
            weights = find_quantizers(self.index, activations=False, first_id=len(self.activation_quantizers))
            self._quantizers = in_quantizer_order(self.activation_quantizers + weights)
        return self._quantizers

    @property
    def has_qdq(self) -> bool:
        return bool(self.activation_quantizers) or self.weight_quantizers > 0

    def by_status(self, status: GroupStatus) -> list[ScaleGroup]:
        return [g for g in self.groups if g.status is status]

    @property
    def blocking(self) -> list[ScaleGroup]:
        """Groups whose scales disagree (mismatched or refused)."""
        return [g for g in self.groups if g.status is not GroupStatus.CONSISTENT]


def find_scale_groups(
    model: onnx.ModelProto | GraphIndex, rules: RuleSet, max_scale_ratio: float | None = None
) -> Analysis:
    """Find the scale groups of ``model`` under ``rules``.

    Args:
        model (onnx.ModelProto | GraphIndex): The model, or an index already built over it.
        rules (RuleSet): The target's rules (``load_rules("tensorrt")``).
        max_scale_ratio (float): Refuse groups whose max/min scale exceeds this. Defaults to the target's value.
    """
    index = model if isinstance(model, GraphIndex) else GraphIndex(model)
    index.check_valid()
    ratio_limit = rules.max_scale_ratio if max_scale_ratio is None else max_scale_ratio
    quantizers, weight_positions = find_activation_quantizers(index)  # weights are never grouped
    weights = weight_types(index, weight_positions)
    notes = _notes(index, quantizers, weights)
    active = [q for q in quantizers if (p := q.params) is not None and p.supported]
    inputs_of, outputs_of = index.inputs, index.outputs

    # 1. look-through ops: a tensor and the tensor after a float-only op are one place
    through = UnionFind()
    look_through = [i for i in index.of_type(*rules.look_through.ops) if rules.look_through.applies_at(index, i)]
    for i in look_through:
        through.union(inputs_of[i][0], outputs_of[i][0])
    places = through.roots()  # tensor -> its place; places.get(t, t) for any tensor (no call: hot loops below)

    # 2. domains: look-through places, joined by quantizers and by the op rules
    domains = UnionFind()
    join = domains.union
    for i in look_through:
        join(inputs_of[i][0], outputs_of[i][0])
    readers: dict[str, list[Quantizer]] = defaultdict(list)  # place -> the quantizers reading it
    producers: dict[str, list[Quantizer]] = defaultdict(list)  # place -> the quantizers whose DQs make it
    for q in active:
        source = q.input
        if source is not None:
            readers[places.get(source, source)].append(q)
        for out in q.outputs:
            producers[places.get(out, out)].append(q)
            if source is not None:
                join(source, out)
    hits: list[tuple[str, int, list[str], list[str]]] = []  # (rule id, node position, joined, outputs)
    findings: list[Finding] = []
    for rule in rules.op_rules:
        applies, select_inputs, select_outputs = rule.applies_at, rule.selected_inputs, rule.selected_outputs
        all_quantized = rule.require == "all-inputs-quantized"
        for i in index.of_type(*rule.ops):
            if not applies(index, i):
                continue
            inputs = select_inputs(inputs_of[i], index)
            if all_quantized and (len(inputs) < 2 or not all(_from_dq(index, rules, t) for t in inputs)):
                continue  # partial quantization is a placement question, see _placement
            outputs = select_outputs(outputs_of[i])
            tensors = inputs + outputs
            if not tensors:
                continue
            first = tensors[0]
            for t in tensors[1:]:
                join(first, t)
            hits.append((rule.id, i, tensors, outputs))
    findings.extend(_placement(index, rules, readers, places))

    # 3. collect the quantizers of each domain and keep the domains a rule explains
    members: dict[object, list[Quantizer]] = defaultdict(list)
    domain_tensors: dict[object, set[str]] = defaultdict(set)
    root_of = domains.find
    for q in active:
        root = root_of(q.input if q.input is not None else q.outputs[0])
        members[root].append(q)
        tensors = domain_tensors[root]
        if q.input:
            tensors.add(q.input)
        tensors.update(q.outputs)
    explained: dict[object, set[str]] = defaultdict(set)
    joined_ops: dict[object, list[str]] = defaultdict(list)
    output_ids: dict[object, set[int]] = defaultdict(set)
    # A rule op's output is the domain's output unless the domain goes on from it: into another rule op,
    # directly or through a quantizer (Resize -> Q/DQ -> Concat).
    rule_inputs = {places.get(t, t) for _, _, tensors, outputs in hits for t in tensors if t not in outputs}
    interior = rule_inputs | {
        places.get(q.input, q.input) for at in rule_inputs for q in producers.get(at, ()) if q.input is not None
    }
    for rule_id, i, tensors, outputs in hits:
        root = root_of(tensors[0])
        if root not in members:
            continue
        explained[root].add(rule_id)
        joined_ops[root].append(index.name_of(i))
        domain_tensors[root].update(tensors)
        for out in outputs:
            if places.get(out, out) not in interior:
                output_ids[root].update(q.id for q in readers.get(places.get(out, out), ()))
    fan_out = rules.tensor_rule("several-q-readers")
    requant = rules.tensor_rule("dq-then-q")
    for at, qs in readers.items():
        root = root_of(at)
        if fan_out and len(qs) >= 2:
            explained[root].add(fan_out.id)
            if not joined_ops[root]:
                output_ids[root].update(q.id for q in qs)
        if requant and producers.get(at):
            explained[root].add(requant.id)
            output_ids[root].update(q.id for q in qs)

    order = {r.id: i for i, r in enumerate(rules.rules)}
    why = {r.id: r.why for r in rules.rules}
    groups: list[ScaleGroup] = []
    for root, qs in members.items():
        if len(qs) < 2 or not explained[root]:
            continue
        qs.sort(key=_first_position)
        rule_ids = tuple(sorted(explained[root], key=order.get))
        group = ScaleGroup(
            id="",
            rules=rule_ids,
            quantizers=qs,
            tensors=sorted(domain_tensors[root] - {""}),
            ops=joined_ops[root],
            output_ids=frozenset(output_ids[root] & {q.id for q in qs}),
            why=why[rule_ids[0]],
        )
        _judge(group, rules, ratio_limit)
        groups.append(group)
    groups.sort(key=lambda g: _first_position(g.quantizers[0]))
    for i, group in enumerate(groups, 1):
        group.id = f"G{i}"
    return Analysis(target=rules.name, groups=groups, findings=findings, notes=notes, activation_quantizers=quantizers,
                    index=index, weight_quantizers=len(weights))


def _first_position(q: Quantizer) -> int:
    return q.nodes[0].node_id


def _judge(group: ScaleGroup, rules: RuleSet, ratio_limit: float) -> None:
    """Set the group's status: consistent, mismatched (fixable) or refused (with reasons)."""
    params = group.params
    keys = [p.key for p in params]
    if keys.count(keys[0]) == len(keys):
        group.status = GroupStatus.CONSISTENT
        return
    reasons = []
    if all(p.one_value for p in params):  # per tensor: type, scale and zero point are all in the keys
        dtypes, zps = sorted({k.dtype for k in keys}), sorted({k.zero_point for k in keys})
        scales = [k.scale for k in keys]
        per_channel = [q.name for q in group.quantizers if q.params.block_size]
    else:
        dtypes, zps, scales = group.dtypes, group.zero_points, group.scales
        per_channel = [q.name for q in group.quantizers if not q.params.per_tensor]
    if per_channel:
        reasons.append(f"per-channel activation quantization ({', '.join(per_channel)}) cannot share one scale")
    if len(dtypes) > 1:
        reasons.append(f"members have different types ({', '.join(dtypes)})")
    if rules.symmetric and len(zps) > 1 and any(zps):
        reasons.append(f"zero points differ ({', '.join(map(str, zps))}); {rules.name} needs symmetric quantization")
    fixed = [q.name for q in group.quantizers if q.fixed_source]
    if fixed:
        reasons.append(f"{', '.join(fixed)} dequantize integer data from outside the graph; their scale is fixed")
    ratio = _ratio(scales)
    if ratio > ratio_limit:
        smallest = min(scales)
        small = next(q.name for q in group.quantizers for n in q.nodes if n.params and n.scale_value == smallest)
        levels = max(1, int(np.floor(255 / ratio)))
        reasons.append(
            f"scale ratio {ratio:.4g} exceeds the limit {ratio_limit:g}: one scale would leave "
            f"{small} about {levels} of 256 levels (raise --max-scale-ratio to force)"
        )
    group.status = GroupStatus.REFUSED if reasons else GroupStatus.MISMATCHED
    group.reasons = reasons


def _ratio(scales: list[float]) -> float:
    smallest = min(scales)
    return max(scales) / smallest if smallest > 0 else float("inf")


def _source(index: GraphIndex, rules: RuleSet, tensor: str) -> onnx.NodeProto | None:
    """The node that makes ``tensor``, looking through float-only ops (Cast...)."""
    node = index.producer_node(tensor)
    while node is not None and rules.look_through.applies_to(node, index):
        node = index.producer_node(node.input[0])
    return node


def _from_dq(index: GraphIndex, rules: RuleSet, tensor: str) -> bool:
    """The tensor is the output of a DQ, possibly through look-through ops."""
    node = _source(index, rules, tensor)
    return node is not None and is_dq(node)


def _from_int8_op(index: GraphIndex, rules: RuleSet, tensor: str) -> bool:
    """The tensor is the float output of a weighted op (Conv, Gemm...) whose data input is quantized."""
    node = _source(index, rules, tensor)
    return (
        node is not None and node.op_type in rules.weighted_ops and bool(node.input)
        and _from_dq(index, rules, node.input[0])
    )


def _skip_of_two_convs(index: GraphIndex, add: onnx.NodeProto) -> str:
    """Both inputs come from convolutions: the branch is the one only the Add reads; the skip is read elsewhere too
    (MobileNetV2's Add(x, conv(x)) where x is itself a convolution's output). The second input when both qualify."""
    readers = [len(index.consumers.get(t, ())) for t in add.input]
    if readers[1] == 1 and readers[0] > 1:
        return add.input[0]
    return add.input[1]


def _placement(index: GraphIndex, rules: RuleSet, readers, places: dict[str, str]) -> list[Finding]:
    """Residual Adds where quantization stops at one input (reported, fixed by ``merge --fix residual-add``)."""
    findings = []
    for i in index.of_type(*rules.placement.get("residual_add_ops", [])):
        node = index.node_at(i)
        if len(node.input) != 2 or any(index.is_fixed(t) for t in node.input):
            continue
        kinds = [
            "dq" if _from_dq(index, rules, t) else "int8-op" if _from_int8_op(index, rules, t) else "float"
            for t in node.input
        ]
        name = node.name or node.output[0]
        if kinds.count("float") == 2 or kinds.count("dq") == 2 or sorted(kinds) == ["dq", "int8-op"]:
            continue
        if "dq" in kinds:  # one input dequantized, the other float: the Add runs in float
            skip = node.input[kinds.index("float")]
            kind = "residual-add-partially-quantized"
            message = f"{name}: input {skip} is not quantized while the other input is; the Add runs in float"
        else:  # convolution output + an unquantized skip
            two_convs = kinds == ["int8-op", "int8-op"]
            skip = _skip_of_two_convs(index, node) if two_convs else node.input[kinds.index("float")]
            kind = "residual-add-unquantized-skip"
            message = f"{name}: skip input {skip} is not quantized; " + " ".join(
                str(rules.placement.get("why_unquantized_skip", "")).split()
            )
        quantized_by = [q.q.name for q in readers.get(places.get(skip, skip), ()) if q.q is not None]
        findings.append(Finding(kind=kind, node=name, tensor=skip, message=message, quantized_by=quantized_by))
    return findings


def _notes(index: GraphIndex, quantizers: list[Quantizer], weights: list[tuple[int, str, int]]) -> list[str]:
    """Notes on the Q/DQ qdqtool leaves alone (fp8, int4, blocked, computed scales), listed in quantizer order."""
    left_alone: list[tuple[tuple[bool, int], str, str]] = []  # (order, kind, name)
    for q in quantizers:
        first = q.nodes[0]
        p = first.params
        kind = "scale computed at run time" if p is None else _unsupported(p.dtype, p.block_size)
        if kind:
            left_alone.append(((q.q is None, first.node_id), kind, q.name))
    for position, dtype, block_size in weights:
        kind = _unsupported(dtype, block_size)
        if kind:
            node = index.node_at(position)
            led = index.ops[position] == "QuantizeLinear"
            left_alone.append(((not led, position), kind, node.name or index.outputs[position][0]))
    unsupported = defaultdict(list)
    for _, kind, name in sorted(left_alone, key=lambda item: item[0]):
        unsupported[kind].append(name)
    notes = []
    for kind, names in unsupported.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        notes.append(f"{len(names)} Q/DQ of type {kind} left alone ({shown})")
    return notes


def _unsupported(dtype: str, block_size: int) -> str:
    """Why qdqtool leaves Q/DQ of this type alone ("" when it does not)."""
    if block_size:
        return f"blocked {dtype} (block_size {block_size})"
    return dtype if dtype not in QRANGE else ""
