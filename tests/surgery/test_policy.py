"""The ``max`` policy on asymmetric members: the one scale a group gets covers every member's range after it is
rounded to the scale's own float type (float32, float16), so merging never clips what a member could represent."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from qdqtool.analysis.rules import load_rules
from qdqtool.surgery.merge import merge_scales
from tests.fixtures.builder import GraphBuilder

ORT = load_rules("onnxruntime-cpu")  # asymmetric: uint8 members with different zero points are merged, not refused
QMIN, QMAX = 0, 255
FLOAT_TYPES = {np.float32: (TensorProto.FLOAT, 13), np.float16: (TensorProto.FLOAT16, 19)}  # float16 scales: opset 19


def member_pairs(ftype, count: int = 32) -> list[tuple[tuple[float, int], tuple[float, int]]]:
    """Pairs of uint8 (scale, zero point) whose union needs a new scale: one mostly negative range (zero point
    150..255), one mostly positive (0..99), neither covering the other. A seeded numeric search: about half of
    them need a scale that rounds down to the nearest ``ftype``, so a guard that fails shows."""
    rng = np.random.default_rng(0)
    pairs = []
    while len(pairs) < count:
        low = (float(ftype(rng.integers(10, 200) / 1000)), int(rng.integers(150, 256)))
        high = (float(ftype(rng.integers(10, 200) / 1000)), int(rng.integers(0, 100)))
        (a_lo, a_hi), (b_lo, b_hi) = represented(*low), represented(*high)
        if not (a_lo <= b_lo and a_hi >= b_hi) and not (b_lo <= a_lo and b_hi >= a_hi):
            pairs.append((low, high))
    return pairs


def represented(scale: float, zero_point: int) -> tuple[float, float]:
    return scale * (QMIN - zero_point), scale * (QMAX - zero_point)


def sibling_groups(pairs, ftype) -> onnx.ModelProto:
    """One fan-out group per pair: graph input x{i} read by two uint8 Q/DQ pairs with the pair's parameters, the
    scales stored in ``ftype``."""
    elem, opset = FLOAT_TYPES[ftype]
    b = GraphBuilder(f"union_{np.dtype(ftype).name}", style="uint8", opset=opset)
    for i, members in enumerate(pairs):
        x = b.input(f"x{i}", [1, 4], elem)
        for k, (scale, zero_point) in enumerate(members):
            p = f"g{i}.m{k}"
            params = [b.initializer(f"{p}.scale", np.array(scale, ftype)),
                      b.initializer(f"{p}.zero_point", np.array(zero_point, np.uint8))]
            q = b.node("QuantizeLinear", [x, *params], f"{p}.q", name=f"{p}.Q", dtype=TensorProto.UINT8)
            b.output(b.node("DequantizeLinear", [q, *params], f"{p}.dq", name=f"{p}.DQ", dtype=elem))
    model = b.build()
    onnx.checker.check_model(model, full_check=True)
    return model


@pytest.mark.parametrize("ftype", list(FLOAT_TYPES), ids=["float32", "float16"])
def test_the_merged_scale_covers_every_members_range_after_rounding(ftype):
    pairs = member_pairs(ftype)
    model = sibling_groups(pairs, ftype)
    result = merge_scales(model, ORT)
    assert len(result.unified) == len(pairs)
    onnx.checker.check_model(model, full_check=True)
    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    rounds_down = 0
    for i, members in enumerate(pairs):
        ranges = [represented(*m) for m in members]
        lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
        assert not any(r[0] <= lo and r[1] >= hi for r in ranges), "the union must need a new scale"
        (q,) = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == f"x{i}"]
        scale, zero_point = values[q.input[1]], values[q.input[2]]
        assert scale.dtype == ftype and zero_point.dtype == np.uint8
        scale, zero_point = float(scale), int(zero_point)
        new_lo, new_hi = represented(scale, zero_point)
        assert new_lo <= lo and new_hi >= hi, f"group {i}: {members} -> ({scale!r}, {zero_point}) clips"
        # the smallest scale covering both ends at this zero point, in float64: rounded to nearest it would shrink
        needed = max(hi / (QMAX - zero_point) if zero_point < QMAX else 0.0,
                     lo / (QMIN - zero_point) if zero_point > QMIN else 0.0)
        rounds_down += float(ftype(needed)) < needed
    assert rounds_down >= 5, "the pairs must include cases where rounding to nearest goes down"
