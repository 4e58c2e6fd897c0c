"""engine.plan through TensorRT: lazy import, the missing-extra message, what is (and is not) an engine.

No GPU reaches these tests, so the TensorRT side is a stand-in module (tests/fixtures/fake_tensorrt.py) whose
surface tests/tensorrt_real checks against the real bindings; the real-TensorRT test skips without a GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qdqtool.engine.load import engine_report_from_path
from qdqtool.engine.trt_plan import EngineReportFromPlan, check_plan_bytes, engine_report_from_plan
from qdqtool.errors import BadInputError, MissingDependencyError
from tests.fixtures.fake_tensorrt import fake_module
from tests.tensorrt_real.bindings import why_tensorrt_cannot_run

BLOB = b"\x00\x01binary engine blob\x00" * 8

pytestmark = pytest.mark.tensorrt  # also run against the real bindings (tests/tensorrt_real)


@pytest.fixture
def plan(tmp_path) -> Path:
    path = tmp_path / "engine.plan"
    path.write_bytes(BLOB)
    return path


@pytest.fixture
def no_tensorrt(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` raise ImportError


def fake_tensorrt(monkeypatch, deserialize, info: str | None = None, context_error: bool = True):
    """Install a stand-in ``tensorrt`` module (tests/fixtures/fake_tensorrt.py, checked against the real bindings by
    tests/tensorrt_real); ``deserialize(logger, data, make_engine)`` plays the runtime."""
    return fake_module(monkeypatch, "10.9.0", deserialize, info, context_error)


def test_without_tensorrt_one_line_names_the_extra_and_the_json_route(plan, no_tensorrt):
    with pytest.raises(MissingDependencyError) as err:
        engine_report_from_plan(plan)
    message = str(err.value)
    assert "\n" not in message
    assert "pip install 'qdqtool[tensorrt]'" in message
    assert "trtexec" in message and "--exportLayerInfo=" in message and "--exportProfile=" in message
    assert "--profilingVerbosity=detailed" in message
    assert "engine.plan" in message


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file, not a TensorRT engine"),
        (b"hello, I am a README\n", "not a TensorRT engine (it is a text file; a serialized engine is a binary"),
        (b'[{"count": 3}, {"name": "a", "averageMs": 1}]', "not a TensorRT engine (it is a per-layer profile JSON"),
        (b'{"Layers": ["a"]}', "not a TensorRT engine but a layer-information JSON"),
        (b"{broken", "not a TensorRT engine (it is a JSON or text file"),
    ],
)
def test_files_that_are_surely_not_engines_are_recognised_without_tensorrt(tmp_path, no_tensorrt, content, message):
    path = tmp_path / "model.engine"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=message.replace("(", r"\(")):
        engine_report_from_plan(path)


def test_a_binary_file_may_be_an_engine():
    assert check_plan_bytes(BLOB, "x.plan") is None  # only TensorRT can tell


def test_engine_from_another_tensorrt_version(monkeypatch, plan):
    def deserialize(logger, data, engine):
        logger.log(
            logger.Severity.ERROR,
            "IRuntime::deserializeCudaEngine: Error Code 1: Serialization "
            "(Serialization assertion stdVersionRead == kSERIALIZATION_VERSION failed."
            "Version tag does not match. Note: Current Version: 238, Serialized "
            "Engine Version: 213)",
        )
        return None

    fake_tensorrt(monkeypatch, deserialize)
    with pytest.raises(BadInputError) as err:
        engine_report_from_plan(plan)
    message = str(err.value)
    assert "an engine built by another TensorRT version than this 10.9.0" in message
    assert "Serialized Engine Version: 213" in message and "\n" not in message


def test_file_tensorrt_cannot_load_for_another_reason(monkeypatch, plan):
    def deserialize(logger, data, engine):
        logger.log(logger.Severity.WARNING, "some warning")
        logger.log(logger.Severity.ERROR, "Magic tag does not match")
        return None

    fake_tensorrt(monkeypatch, deserialize)
    with pytest.raises(BadInputError, match=r"not an engine TensorRT 10.9.0 can load .*TensorRT says: Magic tag") as e:
        engine_report_from_plan(plan)
    assert "some warning" not in str(e.value)


def test_deserializer_that_raises(monkeypatch, plan):
    def deserialize(logger, data, engine):
        raise TypeError("bad blob")

    fake_tensorrt(monkeypatch, deserialize)
    with pytest.raises(BadInputError, match="TensorRT says: bad blob"):
        engine_report_from_plan(plan)


def test_engine_is_read_through_the_engine_inspector(monkeypatch, plan, engine_json):
    seen = {}

    def deserialize(logger, data, engine):
        seen["data"] = data
        return engine()

    info = (engine_json / "trt10_metadata" / "layers.json").read_text()
    fake_tensorrt(monkeypatch, deserialize, info=info)
    report = engine_report_from_path(plan, profile=engine_json / "trt10_metadata" / "profile.json")
    assert seen["data"] == BLOB
    assert report.source == str(plan)
    assert len(report.layers) == 9 and len(report.leftover_qdq) == 2 and report.has_layer_times
    assert EngineReportFromPlan(plan)().layers[0].name == "/input_quantizer/QuantizeLinear"


def test_engine_without_layer_information(monkeypatch, plan):
    fake_tensorrt(monkeypatch, lambda logger, data, engine: engine(), info=None, context_error=False)
    with pytest.raises(BadInputError, match="TensorRT returned no layer information"):
        engine_report_from_plan(plan)


def test_importing_qdqtool_never_imports_tensorrt(tmp_path, engine_json):
    """A `tensorrt` that explodes on import must not matter until a plan is read."""
    (tmp_path / "tensorrt.py").write_text("raise RuntimeError('tensorrt was imported')\n")
    code = (
        "import sys; from qdqtool.cli.main import main\n"
        "import qdqtool.engine.trt_plan, qdqtool.engine.load, qdqtool.cli.inspect, qdqtool.cli.diff\n"
        f"main(['inspect', {str(engine_json / 'trt84_after')!r}, '--json'])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["summary"]["by_class"]["qdq"] == 1


@pytest.mark.skipif(why_tensorrt_cannot_run() is not None, reason=str(why_tensorrt_cannot_run()))
def test_real_tensorrt_rejects_a_non_engine(plan):
    with pytest.raises(BadInputError, match="TensorRT says"):
        engine_report_from_plan(plan)


def test_folder_holding_a_plan_and_its_profile(monkeypatch, tmp_path, engine_json):
    (tmp_path / "model.engine").write_bytes(BLOB)
    (tmp_path / "profile.json").write_bytes((engine_json / "trt10_metadata" / "profile.json").read_bytes())
    info = (engine_json / "trt10_metadata" / "layers.json").read_text()
    fake_tensorrt(monkeypatch, lambda logger, data, engine: engine(), info=info)
    report = engine_report_from_path(tmp_path)
    assert report.source == str(tmp_path / "model.engine") and report.has_layer_times


def test_folder_holding_a_plan_without_tensorrt(tmp_path, no_tensorrt):
    (tmp_path / "model.plan").write_bytes(BLOB)
    with pytest.raises(MissingDependencyError, match="qdqtool\\[tensorrt\\]"):
        engine_report_from_path(tmp_path)
