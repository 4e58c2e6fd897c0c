"""The worst slice decides the numeric check: an output whose overall cosine against float looks fine fails when one
slice (a Concat input, or a channel) was destroyed, as when a detector's class rows are rounded away beside large box
rows."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from qdqtool.io.data import open_inputs
from qdqtool.verify.numerics import compare_models
from qdqtool.verify.reference import FloatReference
from tests.fixtures.builder import GraphBuilder

SHAPE = [1, 4, 8, 8]


def concat_of(small_sign: float) -> onnx.ModelProto:
    """Concat([100 x, sign * x], axis 1): the large rows dominate the overall cosine."""
    b = GraphBuilder("concat_rows")
    x = b.input("x", SHAPE)
    large = b.node("Mul", [x, b.initializer("hundred", np.array(100.0, np.float32))], name="large")
    small = b.node("Mul", [x, b.initializer("sign", np.array(small_sign, np.float32))], name="small")
    b.output(b.concat([large, small], 1, "cat", "rows"))
    return b.build()


def channels_of(last_sign: float) -> onnx.ModelProto:
    """x times (100, 100, 100, sign) per channel: no Concat, so each channel of axis 1 is a slice."""
    b = GraphBuilder("channels")
    x = b.input("x", SHAPE)
    weights = np.array([100, 100, 100, last_sign], np.float32).reshape(1, 4, 1, 1)
    b.output(b.node("Mul", [x, b.initializer("weights", weights)], "scaled", name="scale"))
    return b.build()


@pytest.mark.parametrize("build, worst", [(concat_of, "axis 1 [4:8]"), (channels_of, "channel 3")],
                         ids=["concat-slice", "channel"])
def test_one_failed_slice_fails_the_check_although_the_overall_cosine_passes(build, worst):
    original, edited = build(1.0), build(-1.0)  # the edit flips the sign of the small part only
    reference = FloatReference.for_model(original)
    check = compare_models(original, edited, open_inputs(None, original), reference, structure=original)
    (output,) = check.outputs
    assert output.overall.edited.cosine > 0.999  # the whole tensor against float looks fine
    assert output.worst.label == worst and output.worst.edited.cosine == pytest.approx(-1.0)
    assert output.worst.added_db > 100  # the original was exact there
    checked, worst_slice = check.worst
    assert checked is output and worst_slice.label == worst
    assert check.worst_cosine == pytest.approx(-1.0)  # against the original too
    assert not check
    same = compare_models(original, build(1.0), open_inputs(None, original), reference, structure=original)
    assert same and same.worst_added_db == pytest.approx(0.0) and same.worst_cosine == pytest.approx(1.0)
