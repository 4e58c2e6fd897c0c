"""The numeric check against float: per-output figures, Concat slices, per-channel fallback, the worst slice
decides, and what an edit added to the error the model already had."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from qdqtool.errors import BadInputError
from qdqtool.io.data import model_inputs, open_inputs, parse_input_shapes
from qdqtool.io.data.dataset import in_memory
from qdqtool.io.data.random_data import random_feed
from qdqtool.verify.metrics import SliceErrors, added_db, similarity
from qdqtool.verify.numerics import compare_models
from qdqtool.verify.reference import FloatReference
from tests.fixtures import models as M


def check(original: onnx.ModelProto, edited: onnx.ModelProto, data=None, **kwargs):
    """compare_models on in-memory models against the float model derived from ``original``."""
    data = data if data is not None else open_inputs(None, original)
    return compare_models(original, edited, data, FloatReference.for_model(original), structure=original, **kwargs)


def test_similarity_metrics():
    a = np.array([1.0, 2.0, 3.0])
    same = similarity(a, a)
    assert same.cosine == pytest.approx(1.0) and same.snr_db == float("inf") and same.max_abs == 0
    noisy = similarity(a, a + 0.1)
    assert 0.99 < noisy.cosine < 1 and noisy.snr_db == pytest.approx(10 * np.log10(14 / 0.03))
    assert similarity(np.zeros(3), np.zeros(3)).cosine == 1.0
    assert similarity(a, np.zeros(3)).cosine == 0.0


def test_added_error_is_the_ratio_of_the_two_errors_against_float():
    ref = np.linspace(-1, 1, 64)
    acc = SliceErrors.empty(["all"])
    acc.add(ref, ref + 0.01, ref + 0.02, sample=0)  # twice the error amplitude: four times the energy
    (result,) = acc.result()
    assert result.added_db == pytest.approx(10 * np.log10(4), abs=1e-6)
    assert result.original.snr_db - result.edited.snr_db == pytest.approx(result.added_db)
    assert added_db(np.array([1.0]), np.array([0.0]), np.array([1e-15]))[0] < 0.01  # float noise is no error


def test_the_worst_sample_is_where_the_edit_added_most():
    ref = np.linspace(-1, 1, 64)
    acc = SliceErrors.empty(["all"])
    for k, extra in enumerate((0.01, 0.05, 0.01)):
        acc.add(ref, ref + 0.01, ref + extra, sample=k)
    assert acc.result()[0].worst_sample == 1


def test_identical_models_add_nothing_and_slices_follow_the_head_concats():
    model = M.yolov6_qat("int8")
    result = check(model, model)
    assert result and result.worst_added_db == pytest.approx(0.0) and result.worst_cosine == pytest.approx(1.0)
    (output,) = result.outputs
    labels = {s.label for s in output.slices}
    assert {"axis 1 [0:4]", "axis 1 [4:8]", "axis 2 [0:256]", "axis 2 [256:320]"} == labels
    assert output.overall.original.cosine < 1.0  # the quantized model against its float model: not equal


def test_per_channel_fallback_when_no_concat():
    model = M.resnet_block("int8")
    (output,) = check(model, model).outputs
    assert output.axes == [1] and len(output.slices) == output.shape[1]


def test_random_inputs_are_seeded_and_shaped():
    model = M.yolov6_qat("int8")
    a, b = random_feed(model_inputs(model), seed=3), random_feed(model_inputs(model), seed=3)
    assert np.array_equal(a["images"], b["images"]) and a["images"].shape == (1, 3, 64, 64)
    assert not np.array_equal(a["images"], random_feed(model_inputs(model), seed=4)["images"])
    with pytest.raises(BadInputError, match="changes a fixed dimension"):  # ONNX Runtime would refuse it later
        model_inputs(model, {"images": (2, 3, 64, 64)})


def test_dynamic_dimensions_default_to_one_or_the_given_shape():
    model = M.no_qdq()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for d, param in ((dims[0], "batch"), (dims[2], "height"), (dims[3], "width")):
        d.dim_param = param
    name = model.graph.input[0].name
    assert random_feed(model_inputs(model))[name].shape == (1, 3, 1, 1)
    assert random_feed(model_inputs(model, parse_input_shapes([f"{name}:4x3x32x32"])))[name].shape == (4, 3, 32, 32)


def test_input_shape_errors():
    with pytest.raises(BadInputError):
        parse_input_shapes(["x:1xfoo"])
    with pytest.raises(BadInputError):
        parse_input_shapes(["x:0x3"])
    with pytest.raises(BadInputError, match="unknown input"):
        model_inputs(M.yolov6_qat("int8"), {"nope": (1, 3, 64, 64)})


def test_a_model_ort_cannot_run_is_bad_input():
    model = M.no_qdq()
    broken = onnx.ModelProto()
    broken.CopyFrom(model)
    broken.graph.node[0].op_type = "NoSuchOp"
    with pytest.raises(BadInputError, match="--no-verify"):
        compare_models(broken, model, open_inputs(None, model), FloatReference.for_model(model))


def test_classifier_scores_are_compared_as_a_whole():
    """A (1, N) output sliced per class would compare single numbers: it is compared whole."""
    from tests.fixtures.builder import GraphBuilder

    b = GraphBuilder("classifier", style="int8")
    x = b.qdq(b.input("x", [1, 16]), 0.05, "in")
    b.output(b.gemm(x, 10, "fc"))
    model = b.build()
    (output,) = check(model, model).outputs
    assert output.slices == [] and output.worst.label == "all"


def test_figures_sum_over_every_sample():
    """Three samples give the figures of their concatenation, not of the last one."""
    model = M.resnet_block("int8")
    inputs = model_inputs(model)
    feeds = [random_feed(inputs, seed) for seed in range(3)]
    together = check(model, model, in_memory(feeds, model))
    assert together.samples == 3
    single = [check(model, model, in_memory([f], model)).outputs[0].overall.original for f in feeds]
    overall = together.outputs[0].overall.original
    assert min(s.snr_db for s in single) <= overall.snr_db <= max(s.snr_db for s in single)
    assert overall.max_abs == pytest.approx(max(s.max_abs for s in single))
