"""Accuracy against float on trained models: onnxruntime-quantized PP-OCRv4 (text detector) and PicoDet (document
layout) from PyPI wheels, on pages drawn in the tests (tests/fixtures/trained.py; skipped when a wheel cannot be had).

merge passes where the unification adds nothing against float, the check fails where an edit rounds a branch away,
the float model qdqtool derives agrees with the real FP32 export, and every way of giving the same samples (an image
folder with a preset, an .npz, a Polygraphy data loader, Polygraphy's saved inputs) gives the same figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from qdqtool.io.data import open_inputs
from qdqtool.io.data.dataset import in_memory
from qdqtool.jobs.merge import MergeRequest, checked_merge
from qdqtool.verify.numerics import compare_models
from qdqtool.verify.reference import FloatReference
from tests.fixtures import trained

TEXT_SHAPE = {"x": (1, 3, 480, 480)}


def _merge(model: Path, tmp_path: Path, **kwargs):
    return checked_merge(MergeRequest(model=model, output=tmp_path / "merged.onnx", input_shapes=TEXT_SHAPE,
                                      **kwargs))


def test_merge_passes_where_it_adds_nothing_against_float(quantized_model, text_image_dir, tmp_path):
    model = quantized_model("ppocr_det", "int8")
    outcome = _merge(model, tmp_path, inputs=str(text_image_dir), preprocess={"preset": "ppocr-det"})
    check = outcome.check
    assert outcome.result.unified and outcome.written and check and check.samples == 6 and not check.random
    (output,) = check.outputs
    assert output.overall.original.cosine < 0.97  # the quantized model is far from float already...
    assert abs(output.overall.added_db) < 0.2  # ...and the merge adds (almost) nothing to that
    assert output.overall.vs_original.cosine < 0.9999  # though the outputs did move


def test_the_check_fails_where_an_edit_rounds_a_branch_away(quantized_model, trained_feeds, tmp_path):
    """A 64 times coarser scale on the pair that feeds the stride-8 head of the layout detector (one convolution whose
    output is split into class scores and box distributions): the check fails through those two outputs, and the
    heads of the other strides stay within the limit."""
    path = quantized_model("layout_cdla", "int8")
    original = onnx.load(str(path))
    edited = onnx.ModelProto()
    edited.CopyFrom(original)
    producer = {o: n for n in edited.graph.node for o in n.output}
    head = producer["transpose_0.tmp_0"]  # class scores, stride 8
    while head.op_type != "DequantizeLinear":  # walk up to the last dequantized tensor before the head
        head = producer[head.input[0]]
    scales = {t.name: t for t in edited.graph.initializer}
    scale = scales[head.input[1]]
    value = onnx.numpy_helper.to_array(scale) * np.float32(64)
    scale.CopyFrom(onnx.numpy_helper.from_array(value.astype(np.float32), scale.name))
    data = in_memory(trained_feeds("layout_cdla", 3), original, "drawn document pages")
    check = compare_models(path, edited, data, FloatReference.for_model(path), structure=original)
    assert not check
    worst_output, worst_slice = check.worst
    stride8 = {"transpose_0.tmp_0", "transpose_1.tmp_0"}
    assert worst_output.name in stride8 and worst_slice.added_db > 10
    assert all(o.worst.added_db < check.max_added_db for o in check.outputs if o.name not in stride8)


def test_the_derived_reference_agrees_with_the_fp32_export(quantized_model, trained_model, text_image_dir, tmp_path):
    model = quantized_model("ppocr_det", "int8")
    derived = _merge(model, tmp_path, inputs=str(text_image_dir), preprocess={"preset": "ppocr-det"}).check
    given = _merge(model, tmp_path, inputs=str(text_image_dir), preprocess={"preset": "ppocr-det"},
                   reference=trained_model("ppocr_det")).check
    assert "derived" in derived.reference and "FP32 export" in given.reference
    (a,), (b,) = derived.outputs, given.outputs
    assert bool(derived) == bool(given)
    assert a.overall.added_db == pytest.approx(b.overall.added_db, abs=0.05)
    assert a.overall.original.cosine == pytest.approx(b.overall.original.cosine, abs=0.01)


def test_every_way_of_giving_the_samples_gives_the_same_figures(quantized_model, text_image_dir, tmp_path):
    model = quantized_model("ppocr_det", "int8")
    structure = onnx.load(str(model), load_external_data=False)
    feeds = list(open_inputs(str(text_image_dir), structure, preprocess=trained_preset(), shapes=TEXT_SHAPE))
    np.savez(tmp_path / "pages.npz", x=np.concatenate([f["x"] for f in feeds]))
    (tmp_path / "loader.py").write_text(
        "import numpy as np\n"
        f"PAGES = np.load({str(tmp_path / 'pages.npz')!r})['x']\n"
        "def load_data():\n"
        "    for page in PAGES:\n"
        "        yield {'x': page[None]}\n"
    )
    from polygraphy.json import save_json

    save_json(feeds, str(tmp_path / "inputs.json"))
    figures = []
    for spec, preprocess in ((str(text_image_dir), {"preset": "ppocr-det"}), (str(tmp_path / "pages.npz"), {}),
                             (str(tmp_path / "loader.py"), {}), (str(tmp_path / "inputs.json"), {})):
        check = _merge(model, tmp_path, inputs=spec, preprocess=preprocess).check
        (output,) = check.outputs
        figures.append((check.samples, output.overall.added_db, output.overall.original.snr_db,
                        output.overall.edited.cosine, output.overall.worst_sample))
    assert figures[0][0] == 6 and all(f == figures[0] for f in figures), figures


def test_the_reference_is_computed_once_per_model_and_sample(quantized_model, text_image_dir, tmp_path,
                                                             reference_cache):
    model = quantized_model("ppocr_det", "int8")
    structure = onnx.load(str(model), load_external_data=False)
    data = open_inputs(str(text_image_dir), structure, preprocess=trained_preset(), shapes=TEXT_SHAPE,
                       max_samples=2)
    first = FloatReference.for_model(model, structure)
    second = FloatReference.for_model(model, structure)
    for feed in data:
        a, b = first.outputs(feed), second.outputs(feed)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert second.misses == 0 and second.hits == 2 and first.key == second.key
    assert any(reference_cache.rglob("*.npz"))


def trained_preset():
    from qdqtool.io.data import PRESETS

    return PRESETS["ppocr-det"]


@pytest.fixture(autouse=True)
def _needs_the_models(trained_model):
    trained_model("ppocr_det")  # skips every test of this file, with the reason, when the wheel cannot be had
    assert trained.MODELS["ppocr_det"].input_name == "x"
