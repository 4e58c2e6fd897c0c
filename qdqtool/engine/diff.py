"""Diff two engines layer by layer: which Q/DQ fused, which fusions and precisions changed, what it cost.

Layers are paired by the first key that matches, in this order:

1. ``onnx_nodes`` - the same set of ONNX nodes.
2. ``onnx_overlap`` - the largest shared part of the ONNX node sets, Q/DQ nodes aside (a layer that absorbed or
   released nodes; a standalone Q never pairs with the layer that swallowed it).
3. ``weights`` - the same weight/constant names (``layer1.0.conv2.weight`` is stable across exports).
4. ``name`` - the same layer name (with differing numbering, only when type and shapes agree too).
5. ``signature`` - the same layer type, ONNX op types and tensor shapes (in order of appearance).

Two exports of one network often number their nodes differently (``Add_36`` in one, ``Add_42`` in the other), so
keys 1 and 2 are dropped when the numbering is seen to differ: a node set that stands for layers with different
weights, or one weight whose layer has other node names.

A pair is never made between layers whose weights differ. Each pair records the key that matched it.

    >>> from qdqtool.engine.report import EngineReport, Layer
    >>> a = EngineReport("tensorrt", "a", [Layer("w + Conv_1", "Conv", onnx_nodes=("Conv_1",), weights=("w",))])
    >>> b = EngineReport("tensorrt", "b", [Layer("w + Conv_5", "Conv", onnx_nodes=("Conv_5",), weights=("w",))])
    >>> assert diff_engines(a, b).pairs[0].key == "weights"
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cached_property

from qdqtool.engine.agreement import Agreement, prediction_and_engine, predictor_agreement
from qdqtool.engine.latency import Timings, judge_change
from qdqtool.engine.onnx_names import is_qdq_node, op_type_of
from qdqtool.engine.report import EngineReport, Layer, LayerClass
from qdqtool.engine.summary import EngineSummary, summarize

MATCH_KEYS = ("onnx_nodes", "onnx_overlap", "weights", "name", "signature")
DEFAULT_TIME_TOLERANCE = 0.02  # relative time changes within +-2 % count as unchanged (judge_change decides)


@dataclass
class LayerPair:
    """A layer of ``before`` and its counterpart in ``after``; one side is None when it has none."""

    before: Layer | None
    after: Layer | None
    key: str | None = None  # the MATCH_KEYS entry that paired them; None when unpaired
    absorbed: tuple[str, ...] = ()  # ONNX nodes the after layer implements and the before layer did not
    released: tuple[str, ...] = ()  # ONNX nodes the before layer implemented and the after layer does not

    @property
    def status(self) -> str:
        if self.before is None:
            return "added"
        return "removed" if self.after is None else "paired"

    @property
    def before_ms(self) -> float | None:
        return _layer_ms(self.before)

    @property
    def after_ms(self) -> float | None:
        return _layer_ms(self.after)

    @property
    def delta_cost(self) -> float | None:
        """Predicted cost (bytes moved) after - before; a missing side counts as 0. None when neither has one."""
        before = self.before.cost if self.before else None
        after = self.after.cost if self.after else None
        if before is None and after is None:
            return None
        return (after or 0.0) - (before or 0.0)

    @property
    def delta_ms(self) -> float | None:
        """after - before; a missing side counts as 0 ms. None when neither side was timed."""
        if self.before_ms is None and self.after_ms is None:
            return None
        return (self.after_ms or 0.0) - (self.before_ms or 0.0)

    @property
    def precision_changed(self) -> bool:
        if self.before is None or self.after is None:
            return False
        b, a = self.before.precision, self.after.precision
        return b is not None and a is not None and b != a


@dataclass
class QdqChange:
    """An unfused Q/DQ (or reformat) layer present on one side only."""

    layer: Layer
    fused_into: str | None = None  # the other engine's layer that implements its ONNX node, when known

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.layer.onnx_nodes


@dataclass
class EngineDiff:
    """The result of :func:`diff_engines`. True unless the after engine is worse (see ``verdict``)."""

    before: EngineReport
    after: EngineReport
    before_summary: EngineSummary
    after_summary: EngineSummary
    pairs: list[LayerPair]
    renumbered: bool  # ONNX node numbering differs between the two engines
    time_tolerance: float = DEFAULT_TIME_TOLERANCE
    notes: list[str] = field(default_factory=list)

    @property
    def paired(self) -> list[LayerPair]:
        return [p for p in self.pairs if p.status == "paired"]

    @property
    def removed(self) -> list[Layer]:
        return [p.before for p in self.pairs if p.status == "removed"]

    @property
    def added(self) -> list[Layer]:
        return [p.after for p in self.pairs if p.status == "added"]

    @cached_property
    def agreement(self) -> Agreement | None:
        """When one side is a trt-sim prediction and the other a real engine: how far the prediction is right."""
        pair = prediction_and_engine(self.before, self.after)
        return predictor_agreement(*pair) if pair is not None else None

    @property
    def key_counts(self) -> dict[str, int]:
        counts = Counter(p.key for p in self.paired)
        return {key: counts.get(key, 0) for key in MATCH_KEYS}

    def _gone(self, cls: LayerClass, side: str) -> list[QdqChange]:
        """Layers of ``cls`` on ``side`` whose counterpart is missing or of another class."""
        other = "after" if side == "before" else "before"
        changes = []
        for pair in self.pairs:
            layer, partner = getattr(pair, side), getattr(pair, other)
            if layer is not None and layer.cls is cls and (partner is None or partner.cls is not cls):
                changes.append(QdqChange(layer, self._fused_into(layer, other)))
        return changes

    def _fused_into(self, layer: Layer, side: str) -> str | None:
        if self.renumbered or not layer.onnx_nodes:
            return None
        report = self.after if side == "after" else self.before
        for candidate in report.layers:
            if candidate.cls is not layer.cls and set(layer.onnx_nodes) <= set(candidate.onnx_nodes):
                return candidate.name
        return None

    @property
    def qdq_removed(self) -> list[QdqChange]:
        """Unfused Q/DQ layers of ``before`` that ``after`` no longer has."""
        return self._gone(LayerClass.QDQ, "before")

    @property
    def qdq_added(self) -> list[QdqChange]:
        """Unfused Q/DQ layers that appeared in ``after``."""
        return self._gone(LayerClass.QDQ, "after")

    @property
    def reformat_removed(self) -> list[QdqChange]:
        return self._gone(LayerClass.REFORMAT, "before")

    @property
    def reformat_added(self) -> list[QdqChange]:
        return self._gone(LayerClass.REFORMAT, "after")

    @property
    def fusion_changes(self) -> list[LayerPair]:
        """Paired layers that absorbed or released ONNX nodes."""
        return [p for p in self.paired if p.absorbed or p.released]

    @property
    def precision_changes(self) -> list[LayerPair]:
        """Paired layers whose output precision changed."""
        return [p for p in self.paired if p.precision_changed]

    @property
    def timing_deltas(self) -> list[LayerPair]:
        """Every pair (and unpaired layer) with a time on either side, largest absolute change first."""
        timed = [p for p in self.pairs if p.delta_ms is not None]
        return sorted(timed, key=lambda p: abs(p.delta_ms or 0.0), reverse=True)

    @property
    def cost_deltas(self) -> list[LayerPair]:
        """For predicted reports (no times): pairs with a predicted cost, largest absolute change first."""
        costed = [p for p in self.pairs if p.delta_cost is not None and p.delta_ms is None]
        return sorted(costed, key=lambda p: abs(p.delta_cost or 0.0), reverse=True)

    def _changes(self) -> tuple[list[str], list[str]]:
        """(improvements, regressions) as short phrases."""
        better: list[str] = []
        worse: list[str] = []
        b, a = self.before_summary, self.after_summary
        for label, cls in (("unfused Q/DQ layers", "qdq"), ("reformat layers", "reformat")):
            nb, na = b.by_class[cls], a.by_class[cls]
            if na != nb:
                (better if na < nb else worse).append(f"{label} {nb} -> {na}")
        timings: list[tuple[str, Timings, Timings]] = []
        if b.layer_time_ms and a.layer_time_ms is not None:  # one sum each: judged by the tolerance alone
            timings.append(("sum of layer times", Timings((b.layer_time_ms,)), Timings((a.layer_time_ms,))))
        if b.latency and a.latency and b.latency.median > 0:  # repeated runs: judged noise-aware
            timings.append(("median latency", b.latency, a.latency))
        for label, tb, ta in timings:
            verdict, _ = judge_change(tb, ta, self.time_tolerance)
            phrase = f"{label} {tb.median:.3f} -> {ta.median:.3f} ms ({ta.median / tb.median - 1:+.1%})"
            if verdict == "faster":
                better.append(phrase)
            elif verdict == "regression":
                worse.append(phrase)
        return better, worse

    @property
    def verdict(self) -> str:
        """``improved``, ``regressed``, ``mixed`` or ``unchanged`` (times within ``time_tolerance`` are unchanged)."""
        better, worse = self._changes()
        if better and worse:
            return "mixed"
        if worse:
            return "regressed"
        return "improved" if better else "unchanged"

    @property
    def verdict_line(self) -> str:
        """``IMPROVED | unfused Q/DQ layers 10 -> 3 | ...``: the one line to read."""
        better, worse = self._changes()
        parts = better + worse
        if not parts:
            b, a = self.before_summary, self.after_summary
            parts = [f"unfused Q/DQ layers {b.by_class['qdq']} -> {a.by_class['qdq']}"]
        return " | ".join([self.verdict.upper(), *parts])

    def __bool__(self) -> bool:
        return self.verdict not in ("regressed", "mixed")


# --- matching -----------------------------------------------------------------------------------------------------


def _layer_ms(layer: Layer | None) -> float | None:
    """A layer's time for ranking: the median when the profile has one (one slow run must not top the list)."""
    if layer is None:
        return None
    return layer.median_ms if layer.median_ms is not None else layer.avg_ms


def _signature(layer: Layer) -> Hashable | None:
    if not layer.type:
        return None  # names-only: nothing but the name to compare
    shapes = tuple(t.shape for t in layer.inputs), tuple(t.shape for t in layer.outputs)
    if not any(shape is not None for side in shapes for shape in side):
        return None
    kind = layer.raw.get("ParameterType") or layer.type
    # Q/DQ absorbed into a layer do not make it another layer: a float engine's Conv + Relu is the QAT
    # engine's weight Q + Conv + Relu
    ops = {op_type_of(n) for n in layer.onnx_nodes}
    ops = (ops - {"QuantizeLinear", "DequantizeLinear"}) or ops  # a standalone Q/DQ layer stays one
    return (kind, tuple(sorted(ops)), *shapes)


def _key_function(key: str) -> Callable[[Layer], Hashable | None]:
    return {
        "onnx_nodes": lambda layer: frozenset(layer.onnx_nodes) or None,
        "weights": lambda layer: frozenset(layer.weights) or None,
        "name": lambda layer: layer.name,
        "signature": _signature,
    }[key]


def _weights_agree(a: Layer, b: Layer) -> bool:
    return not (a.weights and b.weights and set(a.weights) != set(b.weights))


def _nodes_by_op(layer: Layer) -> dict[str, set[str]]:
    by_op: dict[str, set[str]] = {}
    for node in layer.onnx_nodes:
        by_op.setdefault(op_type_of(node), set()).add(node)
    return by_op


def detect_renumbering(before: EngineReport, after: EngineReport) -> str | None:
    """Evidence that the two engines number their ONNX nodes differently, or None when none is seen."""
    after_by_nodes: dict[frozenset, list[Layer]] = {}
    after_by_weights: dict[frozenset, list[Layer]] = {}
    for layer in after.layers:
        if layer.onnx_nodes:
            after_by_nodes.setdefault(frozenset(layer.onnx_nodes), []).append(layer)
        if layer.weights:
            after_by_weights.setdefault(frozenset(layer.weights), []).append(layer)
    for layer in before.layers:
        for other in after_by_nodes.get(frozenset(layer.onnx_nodes), []) if layer.onnx_nodes else []:
            if not _weights_agree(layer, other):
                nodes = " + ".join(layer.onnx_nodes)
                return f"'{nodes}' is {' + '.join(layer.weights)} before and {' + '.join(other.weights)} after"
        same = after_by_weights.get(frozenset(layer.weights), []) if layer.weights else []
        if len(same) == 1:
            mine, theirs = _nodes_by_op(layer), _nodes_by_op(same[0])
            for op in sorted(set(mine) & set(theirs)):
                if mine[op] != theirs[op]:
                    return (
                        f"{' + '.join(layer.weights)} is {', '.join(sorted(mine[op]))} before and "
                        f"{', '.join(sorted(theirs[op]))} after"
                    )
    return None


def _match(before: list[Layer], after: list[Layer], renumbered: bool) -> dict[int, tuple[int, str]]:
    """before index -> (after index, key)."""
    matched: dict[int, tuple[int, str]] = {}
    taken: set[int] = set()
    for key in MATCH_KEYS:
        if key in ("onnx_nodes", "onnx_overlap") and renumbered:
            continue
        if key == "onnx_overlap":
            _match_overlap(before, after, matched, taken)
            continue
        value = _key_function(key)
        candidates: dict[Hashable, list[int]] = {}
        for j, layer in enumerate(after):
            v = value(layer)
            if j not in taken and v is not None:
                candidates.setdefault(v, []).append(j)
        for i, layer in enumerate(before):
            v = value(layer)
            if i in matched or v is None or v not in candidates:
                continue
            for j in candidates[v]:
                if j in taken or not _weights_agree(layer, after[j]):
                    continue
                if key == "name" and renumbered and _signature(layer) != _signature(after[j]):
                    continue
                matched[i] = (j, key)
                taken.add(j)
                break
    return matched


def _match_overlap(
    before: list[Layer], after: list[Layer], matched: dict[int, tuple[int, str]], taken: set[int]
) -> None:
    """Pair the remaining layers that share ONNX nodes other than Q/DQ, largest overlap first."""
    holders: dict[str, list[int]] = {}
    for j, layer in enumerate(after):
        if j not in taken:
            for node in layer.onnx_nodes:
                holders.setdefault(node, []).append(j)
    candidates = []
    for i, layer in enumerate(before):
        if i in matched:
            continue
        core = [n for n in layer.onnx_nodes if not is_qdq_node(n)]
        for j in {j for node in core for j in holders.get(node, [])}:
            if _weights_agree(layer, after[j]):
                shared = len(set(layer.onnx_nodes) & set(after[j].onnx_nodes))
                candidates.append((-shared, i, j))
    for _, i, j in sorted(candidates):
        if i not in matched and j not in taken:
            matched[i] = (j, "onnx_overlap")
            taken.add(j)


def _ordered(node_list: tuple[str, ...], keep: set[str]) -> tuple[str, ...]:
    return tuple(n for n in node_list if n in keep)


def _fusion_delta(before: Layer, after: Layer, renumbered: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(absorbed, released) ONNX nodes; by op type when the numbering differs."""
    if set(before.onnx_nodes) == set(after.onnx_nodes) or not before.onnx_nodes or not after.onnx_nodes:
        return (), ()
    if not renumbered:
        return (
            _ordered(after.onnx_nodes, set(after.onnx_nodes) - set(before.onnx_nodes)),
            _ordered(before.onnx_nodes, set(before.onnx_nodes) - set(after.onnx_nodes)),
        )
    count_b = Counter(op_type_of(n) for n in before.onnx_nodes)
    count_a = Counter(op_type_of(n) for n in after.onnx_nodes)
    return _extra(after.onnx_nodes, count_a - count_b), _extra(before.onnx_nodes, count_b - count_a)


def _extra(nodes: tuple[str, ...], surplus: Counter) -> tuple[str, ...]:
    """The last ``surplus[op]`` nodes of each op type (fused-in nodes come after the layer's own)."""
    picked: list[str] = []
    for op, count in surplus.items():
        picked.extend([n for n in nodes if op_type_of(n) == op][-count:])
    return _ordered(nodes, set(picked))


def diff_engines(
    before: EngineReport | Callable[[], EngineReport],
    after: EngineReport | Callable[[], EngineReport],
    time_tolerance: float | None = None,
) -> EngineDiff:
    """Pair the layers of two engines and describe what changed.

    Args:
        before (EngineReport | callable): The reference engine (or a loader returning it).
        after (EngineReport | callable): The engine to compare (or a loader returning it).
        time_tolerance (float): Relative time change below which times count as unchanged for the verdict.
            Defaults to None: 2 %.

    Returns:
        EngineDiff: pairs in engine order (removed layers at their ``before`` position, added ones after their
        nearest paired predecessor), the key that matched each pair, and the verdict.
    """
    before = before() if callable(before) else before
    after = after() if callable(after) else after
    tolerance = DEFAULT_TIME_TOLERANCE if time_tolerance is None else time_tolerance
    evidence = detect_renumbering(before, after)
    matched = _match(before.layers, after.layers, renumbered=evidence is not None)
    pairs: list[LayerPair] = []
    after_to_pair: dict[int, int] = {}
    for i, layer in enumerate(before.layers):
        if i in matched:
            j, key = matched[i]
            absorbed, released = _fusion_delta(layer, after.layers[j], evidence is not None)
            after_to_pair[j] = len(pairs)
            pairs.append(LayerPair(layer, after.layers[j], key, absorbed, released))
        else:
            pairs.append(LayerPair(layer, None))
    inserts: dict[int, list[LayerPair]] = {}
    anchor = -1
    for j, layer in enumerate(after.layers):
        if j in after_to_pair:
            anchor = after_to_pair[j]
        else:
            inserts.setdefault(anchor, []).append(LayerPair(None, layer))
    ordered = list(inserts.get(-1, []))
    for index, pair in enumerate(pairs):
        ordered.append(pair)
        ordered.extend(inserts.get(index, []))
    notes = []
    if evidence:
        notes.append(
            f"the two engines number their ONNX nodes differently ({evidence}): layers are paired by weight names, "
            "layer names and signatures, and fusion changes are judged by op type"
        )
    if before.backend != after.backend:
        notes.append(f"before comes from {before.backend} and after from {after.backend}: their layers are different "
                     "kernels, so counts and times compare backends, not the change to the model")
    paired = sum(p.before is not None and p.after is not None for p in ordered)
    largest = max(len(before.layers), len(after.layers))
    if largest and paired < 0.3 * largest:
        notes.append(f"only {paired} of {largest} layers pair up: are these two engines of one network?")
    for label, report in (("before", before), ("after", after)):
        if not report.detailed:
            notes.append(f"{label} has names-only layer information: precisions and shapes are not compared")
        if not report.measured:
            notes.append(f"{label} is predicted ({report.backend}): layer costs are estimates, not times")
        elif not report.has_layer_times:
            notes.append(f"{label} has no per-layer times: pass its profile JSON to compare times")
    return EngineDiff(
        before=before,
        after=after,
        before_summary=summarize(before),
        after_summary=summarize(after),
        pairs=ordered,
        renumbered=evidence is not None,
        time_tolerance=tolerance,
        notes=notes,
    )
