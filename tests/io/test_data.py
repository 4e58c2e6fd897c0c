"""Input data sets: .npz sample sets, image folders and globs with preprocessing, Polygraphy data loaders and saved
inputs give the same feeds for the same data; what does not fit the model is one clear line (BadInputError)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qdqtool.errors import BadInputError
from qdqtool.io.data import PRESETS, Preprocess, model_inputs, open_inputs
from qdqtool.io.data.images import load_image, to_input
from tests.fixtures import models as M

MODEL = M.yolov6_qat("int8")  # one input, images 1x3x64x64


def _pictures(folder: Path, count: int, size: tuple[int, int] = (80, 48)) -> list[Path]:
    """Deterministic pictures: gradients with a bright box (a different place in each)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        width, height = size
        pixels = np.zeros((height, width, 3), np.uint8)
        pixels[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
        pixels[..., 1] = np.linspace(255, 0, height, dtype=np.uint8)[:, None]
        pixels[5 + 3 * k:20 + 3 * k, 10:30, 2] = 255
        path = folder / f"img{k:02d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def _write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _feeds(spec, **kwargs) -> list[dict[str, np.ndarray]]:
    return list(open_inputs(str(spec), MODEL, **kwargs))


def test_npz_sample_sets_run_one_batch_at_a_time(tmp_path):
    samples = np.random.default_rng(0).random((5, 3, 64, 64), dtype=np.float32)
    np.savez(tmp_path / "calib.npz", images=samples)
    data = open_inputs(str(tmp_path / "calib.npz"), MODEL)
    assert data.count == 5 and "5 samples" in data.label and not data.random
    feeds = list(data)
    assert len(feeds) == 5 and all(f["images"].shape == (1, 3, 64, 64) for f in feeds)
    assert np.array_equal(feeds[3]["images"][0], samples[3])
    assert len(_feeds(tmp_path / "calib.npz", max_samples=2)) == 2
    np.savez(tmp_path / "one.npz", images=samples[0])  # one sample without its batch axis
    assert [f["images"].shape for f in _feeds(tmp_path / "one.npz")] == [(1, 3, 64, 64)]


def test_images_folder_glob_and_npz_give_the_same_feeds(tmp_path):
    paths = _pictures(tmp_path / "images", 3)
    preprocess = PRESETS["imagenet"]
    from_folder = _feeds(tmp_path / "images", preprocess=preprocess)
    from_glob = _feeds(tmp_path / "images" / "img*.png", preprocess=preprocess)
    stacked = np.concatenate([f["images"] for f in from_folder])
    np.savez(tmp_path / "same.npz", images=stacked)
    from_npz = _feeds(tmp_path / "same.npz")
    script = tmp_path / "loader.py"
    script.write_text(
        "import numpy as np\n"
        f"ARRAYS = np.load({str(tmp_path / 'same.npz')!r})['images']\n"
        "def load_data():\n"
        "    for k in range(len(ARRAYS)):\n"
        "        yield {'images': ARRAYS[k:k + 1]}\n"
        "def other():\n"
        "    return [{'images': ARRAYS[:1]}]\n"
    )
    from_loader = _feeds(script)
    from_named = _feeds(f"{script}:other")
    from polygraphy.json import save_json

    save_json([dict(f) for f in from_folder], str(tmp_path / "inputs.json"))
    from_saved = _feeds(tmp_path / "inputs.json")
    assert len(paths) == len(from_folder) == len(from_glob) == len(from_npz) == len(from_loader) == len(from_saved)
    for feeds in (from_glob, from_npz, from_loader, from_saved):
        for a, b in zip(from_folder, feeds, strict=True):
            assert np.array_equal(a["images"], b["images"])
    assert np.array_equal(from_named[0]["images"], from_folder[0]["images"])
    image = from_folder[0]["images"]
    assert image.shape == (1, 3, 64, 64) and image.dtype == np.float32
    # ImageNet normalisation of the blue box (255): (1 - 0.406) / 0.225
    assert image[0, 2].max() == pytest.approx((1.0 - 0.406) / 0.225, rel=1e-5)


def test_letterbox_pads_and_keeps_the_aspect_ratio(tmp_path):
    (path,) = _pictures(tmp_path / "wide", 1, size=(128, 32))
    pixels = load_image(path, 3, 64, 64, PRESETS["yolo"])
    assert pixels.shape == (64, 64, 3)
    assert np.all(pixels[:16] == 114) and np.all(pixels[-16:] == 114)  # 128x32 -> 64x16, centered
    assert not np.all(pixels[16:48] == 114)
    batch = to_input([pixels], "nchw", np.dtype(np.float32), PRESETS["yolo"])
    assert batch.shape == (1, 3, 64, 64) and batch.max() <= 1.0
    bgr = to_input([pixels], "nhwc", np.dtype(np.float32), Preprocess(color="bgr"))
    assert np.array_equal(bgr[0, ..., 0], batch[0, 2])


def test_settings_from_keys_and_presets():
    settings = Preprocess().with_settings({"preset": "yolo", "pad-value": "0", "mean": "0.5,0.5,0.5",
                                           "scale": "1/127.5", "size": "32x48"}, "test")
    assert settings.resize == "letterbox" and settings.pad_value == 0 and settings.mean == (0.5, 0.5, 0.5)
    assert settings.scale == pytest.approx(1 / 127.5) and settings.size == (32, 48) and settings.preset == "yolo"
    with pytest.raises(BadInputError, match="unknown preset"):
        Preprocess().with_settings({"preset": "nope"}, "test")
    with pytest.raises(BadInputError, match="std"):
        Preprocess().with_settings({"std": "0"}, "test")
    with pytest.raises(BadInputError, match="unknown preprocessing key"):
        Preprocess().with_settings({"colour": "rgb"}, "test")


def test_nothing_is_seeded_random_data_said_loudly():
    data = open_inputs(None, MODEL, seed=7)
    assert data.random and data.count == 1 and "seed 7" in data.label
    (feed,) = list(data)
    assert feed["images"].shape == (1, 3, 64, 64) and 0 <= feed["images"].min() and feed["images"].max() < 1


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "empty").mkdir() or d / "empty", "no images"),
    (lambda d: _write(d / "bad.png", b"not a png"), "not a readable image"),
    (lambda d: np.savez(d / "odd.npz", images=np.zeros((3, 3, 64, 64), np.float32)) or d / "odd.npz", None),
    (lambda d: np.savez(d / "wrong.npz", other=np.zeros(3)) or d / "wrong.npz", "no array for input"),
    (lambda d: _write(d / "junk.npz", b"junk"), "not an .npz"),
    (lambda d: np.savez(d / "shape.npz", images=np.zeros((2, 3, 32, 32), np.float32)) or d / "shape.npz",
     "does not fit the model"),
    (lambda d: _write(d / "raises.py", "def load_data():\n    raise RuntimeError('no camera')\n"),
     "the data loader failed at sample 0: RuntimeError: no camera"),
    (lambda d: _write(d / "broken.py", "import no_such_module\n"),
     "cannot load the data loader, importing it raised ModuleNotFoundError"),
    (lambda d: _write(d / "empty.py", "def load_data():\n    return []\n"), "no samples"),
    (lambda d: _write(d / "notjson.json", "{oops"), "not inputs saved by Polygraphy"),
    (lambda d: d / "missing.npz", "no such file"),
    (lambda d: _write(d / "model.txt", "x"), "not a data set"),
], ids=["no-images", "unreadable-image", "npz-batch", "npz-names", "npz-junk", "npz-shape", "loader-raises",
        "loader-import", "loader-empty", "saved-not-json", "missing", "unknown-kind"])
def test_bad_data_is_one_line(tmp_path, make, message):
    spec = make(tmp_path)
    if message is None:  # a batch-2 model given 3 samples
        model = M.yolov6_qat("int8")
        model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2
        with pytest.raises(BadInputError, match="not a multiple of the model's batch 2") as err:
            list(open_inputs(str(spec), model))
    else:
        with pytest.raises(BadInputError, match=message) as err:
            list(open_inputs(str(spec), MODEL))
    assert "\n" not in str(err.value)


def test_preprocessing_that_does_not_fit_the_model_is_refused(tmp_path):
    _pictures(tmp_path / "images", 2)
    with pytest.raises(BadInputError, match="does not fit the model's 64x64"):
        open_inputs(str(tmp_path / "images"), MODEL, preprocess=Preprocess(size=(32, 32)))
    with pytest.raises(BadInputError, match="3 mean values for 1 channel"):
        grey = M.yolov6_qat("int8")
        grey.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 1
        open_inputs(str(tmp_path / "images"), grey, preprocess=PRESETS["imagenet"])
    dynamic = M.yolov6_qat("int8")
    for d in dynamic.graph.input[0].type.tensor_type.shape.dim[2:]:
        d.dim_param = "size"
    with pytest.raises(BadInputError, match="dynamic height or width"):
        open_inputs(str(tmp_path / "images"), dynamic)
    sized = list(open_inputs(str(tmp_path / "images"), dynamic, shapes={"images": (1, 3, 32, 48)}))
    assert sized[0]["images"].shape == (1, 3, 32, 48)
    two_inputs = M.no_qdq()
    two_inputs.graph.input.extend([two_inputs.graph.input[0]])
    two_inputs.graph.input[1].name = "second"
    with pytest.raises(BadInputError, match="images feed a model with one input"):
        open_inputs(str(tmp_path / "images"), two_inputs)


def test_saved_inputs_round_trip_through_polygraphy(tmp_path):
    """What `polygraphy run --save-inputs` writes (Polygraphy's own JSON of a list of feeds) is read back."""
    from polygraphy.json import save_json

    feeds = [{"images": np.full((1, 3, 64, 64), k, np.float32)} for k in range(3)]
    save_json(feeds, str(tmp_path / "inputs.json"))
    assert json.loads((tmp_path / "inputs.json").read_text())  # real JSON on disk
    read = _feeds(tmp_path / "inputs.json")
    assert [float(f["images"].mean()) for f in read] == [0.0, 1.0, 2.0]


def test_model_inputs_name_types_and_dynamic_dimensions():
    (spec,) = model_inputs(MODEL)
    assert (spec.name, spec.dtype, spec.dims, spec.batch) == ("images", np.float32, (1, 3, 64, 64), 1)


@pytest.mark.parametrize("name, preset", [("ppocr_det", "ppocr-det"), ("layout_cdla", "picodet")])
def test_presets_preprocess_as_the_packages_do(trained_model, name, preset, tmp_path):
    """An image folder with a preset gives the arrays the models' own packages make (tests/fixtures/trained.py cites
    their code), up to Pillow's resampling: the drawn pages are already at the input size, so nothing is resized."""
    import onnx

    from tests.fixtures import trained

    model = onnx.load(str(trained_model(name)), load_external_data=False)
    images = trained.model_images(name, 3, seed=2)
    trained.save_images(images, tmp_path / "pages")
    expected = trained.model_inputs(name, images)
    height, width = trained.MODELS[name].input_hw
    spec = trained.MODELS[name].input_name
    feeds = list(open_inputs(str(tmp_path / "pages"), model, preprocess=PRESETS[preset],
                             shapes={spec: (1, 3, height, width)}))
    assert len(feeds) == len(expected)
    for got, want in zip(feeds, expected, strict=True):
        assert got[spec].shape == want[spec].shape
        np.testing.assert_allclose(got[spec], want[spec], rtol=0, atol=1e-6)
