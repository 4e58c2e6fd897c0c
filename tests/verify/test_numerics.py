"""The numeric check: per-output metrics, Concat slices, per-channel fallback, worst slice decides."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from qdqtool.errors import BadInputError
from qdqtool.io.inputs import load_npz, parse_input_shapes, random_inputs
from qdqtool.verify.metrics import similarity
from qdqtool.verify.numerics import compare_models
from tests.fixtures import models as M


def test_similarity_metrics():
    a = np.array([1.0, 2.0, 3.0])
    same = similarity(a, a)
    assert same.cosine == pytest.approx(1.0) and same.snr_db == float("inf") and same.max_abs == 0
    noisy = similarity(a, a + 0.1)
    assert 0.99 < noisy.cosine < 1 and noisy.snr_db == pytest.approx(10 * np.log10(14 / 0.03))
    assert similarity(np.zeros(3), np.zeros(3)).cosine == 1.0
    assert similarity(a, np.zeros(3)).cosine == 0.0


def test_identical_models_pass_and_slices_follow_the_head_concats():
    model = M.yolov6_qat("int8")
    check = compare_models(model, model, random_inputs(model), reference_model=model)
    assert check and check.worst_cosine == pytest.approx(1.0)
    (output,) = check.outputs
    labels = {s.label for s in output.slices}
    assert {"axis 1 [0:4]", "axis 1 [4:8]", "axis 2 [0:256]", "axis 2 [256:320]"} == labels


def test_per_channel_fallback_when_no_concat():
    model = M.resnet_block("int8")
    check = compare_models(model, model, random_inputs(model), reference_model=model)
    (output,) = check.outputs
    assert output.axes == [1] and len(output.slices) == output.shape[1]


def test_random_inputs_are_seeded_and_shaped():
    model = M.yolov6_qat("int8")
    a, b = random_inputs(model, seed=3), random_inputs(model, seed=3)
    assert np.array_equal(a["images"], b["images"]) and a["images"].shape == (1, 3, 64, 64)
    assert random_inputs(model, {"images": (2, 3, 64, 64)})["images"].shape == (2, 3, 64, 64)


def test_dynamic_dimensions_default_to_one_or_the_given_shape():
    model = M.no_qdq()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    assert random_inputs(model)[model.graph.input[0].name].shape[0] == 1
    name = model.graph.input[0].name
    assert random_inputs(model, parse_input_shapes([f"{name}:4x3x32x32"]))[name].shape == (4, 3, 32, 32)


def test_input_shape_and_npz_errors(tmp_path):
    with pytest.raises(BadInputError):
        parse_input_shapes(["x:1xfoo"])
    with pytest.raises(BadInputError):
        parse_input_shapes(["x:0x3"])
    model = M.yolov6_qat("int8")
    np.savez(tmp_path / "wrong.npz", other=np.zeros(3))
    with pytest.raises(BadInputError, match="no array for input"):
        load_npz(tmp_path / "wrong.npz", model)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(BadInputError):
        load_npz(tmp_path / "junk.npz", model)


def test_a_model_ort_cannot_run_is_bad_input():
    model = M.no_qdq()
    broken = onnx.ModelProto()
    broken.CopyFrom(model)
    broken.graph.node[0].op_type = "NoSuchOp"
    with pytest.raises(BadInputError, match="--no-verify"):
        compare_models(broken, model, random_inputs(model))


def test_classifier_scores_are_compared_as_a_whole():
    """A (1, N) output sliced per class would compare single numbers (cosine +-1): it is compared whole."""
    from tests.fixtures.builder import GraphBuilder

    b = GraphBuilder("classifier", style="int8")
    x = b.qdq(b.input("x", [1, 16]), 0.05, "in")
    b.output(b.gemm(x, 10, "fc"))
    model = b.build()
    check = compare_models(model, model, random_inputs(model), reference_model=model)
    (output,) = check.outputs
    assert output.slices == [] and output.worst.label == "all"
