"""The tensorrt backend without TensorRT: config assembly as Polygraphy loaders, the missing-TensorRT error, the
file formats it writes (read back by inspect's readers), and its TensorRT callbacks driven by a stand-in module.

Nothing here builds an engine. The last test does, and only runs where TensorRT and a GPU are present.
"""

from __future__ import annotations

import subprocess
import sys
import types

import onnx
import pytest
from polygraphy.backend.trt import (
    CreateConfig,
    EngineFromNetwork,
    NetworkFromOnnxPath,
    PostprocessConfig,
    Profile,
    SaveEngine,
)

from qdqtool._lazy import is_available
from qdqtool.engine.backends import BuildOptions
from qdqtool.engine.trt_backend import (
    EngineReportFromTrt,
    SetBuildLimits,
    _progress_monitor,
    profile_records,
    resolve_strongly_typed,
    timing_records,
    trt_loaders,
    trtexec_command,
)
from qdqtool.engine.trt_report import engine_report_from_trt_json
from qdqtool.errors import BadInputError, MissingDependencyError
from qdqtool.io import trt_json
from tests.fixtures import ort_graphs as G
from tests.fixtures.fake_tensorrt import IBuilderConfig, fake_module
from tests.tensorrt_real.bindings import why_tensorrt_cannot_run

NO_TENSORRT = not is_available("tensorrt")
CANNOT_RUN = why_tensorrt_cannot_run()  # None only with TensorRT and a GPU

pytestmark = pytest.mark.tensorrt  # also run against the real bindings (tests/tensorrt_real)


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(G.pool_chain(), path)
    return path


def test_importing_and_assembling_never_imports_tensorrt(tmp_path, model):
    code = (
        "import sys; from pathlib import Path\n"
        "from qdqtool.engine.backends import BuildOptions\n"
        "from qdqtool.engine.trt_backend import trt_loaders\n"
        f"trt_loaders(Path({str(model)!r}), Path({str(tmp_path / 'e.plan')!r}),\n"
        "            BuildOptions(workspace=1 << 30, input_shapes={'': (1, 3, 16, 16)}), '10.8')\n"
        "print('tensorrt' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"  # and Polygraphy printed nothing to stdout


@pytest.mark.parametrize("version, requested, expected", [
    ("10.8.0", None, False), ("10.13.3.9", None, False), ("11.3.0", None, True),
    ("10.8.0", True, True), ("10.8.0", False, False), ("11.0.0", True, True),
])
def test_strongly_typed_by_version_or_request(version, requested, expected):
    assert resolve_strongly_typed(requested, version) is expected


def test_tensorrt_11_cannot_build_weakly_typed():
    with pytest.raises(BadInputError, match="strongly typed networks only; drop --no-strongly-typed"):
        resolve_strongly_typed(False, "11.3.0")


def test_tensorrt_10_build_is_weakly_typed_with_int8_and_fp16(tmp_path, model):
    loaders = trt_loaders(model, tmp_path / "engine.plan", BuildOptions(), "10.8.0")
    assert isinstance(loaders.network, NetworkFromOnnxPath) and loaders.network.strongly_typed is False
    assert loaders.network.path == str(model)
    assert isinstance(loaders.create_config, CreateConfig)
    assert loaders.create_config.int8 and loaders.create_config.fp16
    assert not (loaders.create_config.fp8 or loaders.create_config.bf16 or loaders.create_config.tf32)
    assert isinstance(loaders.config, PostprocessConfig) and loaders.config._config is loaders.create_config
    assert isinstance(loaders.engine, EngineFromNetwork) and loaders.engine._config is loaders.config
    assert loaders.engine._network is loaders.network
    assert isinstance(loaders.save, SaveEngine) and loaders.save.path == str(tmp_path / "engine.plan")
    assert loaders.save._engine is loaders.engine


def test_strongly_typed_build_sets_no_precision_flags(tmp_path, model):
    loaders = trt_loaders(model, tmp_path / "engine.plan", BuildOptions(), "11.3.0")
    assert loaders.strongly_typed and loaders.network.strongly_typed is True
    config = loaders.create_config
    assert not (config.int8 or config.fp16 or config.bf16 or config.fp8 or config.tf32)


def test_build_settings_reach_the_loaders(tmp_path, model):
    options = BuildOptions(timing_cache=tmp_path / "timing.cache", builder_optimization_level=5, workspace=2 << 30,
                           input_shapes={"": (2, 3, 16, 16)})
    loaders = trt_loaders(model, tmp_path / "engine.plan", options, "10.8.0", progress_monitor="monitor")
    config = loaders.create_config
    assert config.timing_cache_path == str(tmp_path / "timing.cache")  # read before the build ...
    assert loaders.engine.timing_cache_path == str(tmp_path / "timing.cache")  # ... and written after it
    assert config.builder_optimization_level == 5 and config.progress_monitor == "monitor"
    assert config.profiling_verbosity is None  # Polygraphy's default: DETAILED; SetBuildLimits sets it explicitly
    assert loaders.config._func.workspace == 2 << 30
    (profile,) = config.profiles
    assert list(profile) == ["input"]  # the name-less shape went to the single input
    assert profile["input"].min == profile["input"].opt == profile["input"].max == (2, 3, 16, 16)


def test_no_profile_without_shapes(tmp_path, model):
    assert trt_loaders(model, tmp_path / "e.plan", BuildOptions(), "10.8.0").create_config.profiles == [Profile()]


def _fake_tensorrt(monkeypatch) -> types.ModuleType:
    """A stand-in `tensorrt` module (tests/fixtures/fake_tensorrt.py, checked against the real bindings)."""
    return fake_module(monkeypatch, "10.8.0")


def test_set_build_limits_sets_detailed_verbosity_and_the_workspace(monkeypatch):
    _fake_tensorrt(monkeypatch)
    config = IBuilderConfig()
    SetBuildLimits(1 << 30)(None, None, config)
    assert config.profiling_verbosity == "DETAILED" and config.pools == [("WORKSPACE", 1 << 30)]
    config = IBuilderConfig()
    SetBuildLimits(None)(None, None, config)
    assert config.profiling_verbosity == "DETAILED" and config.pools == []


def test_progress_monitor_forwards_the_builder_phases(monkeypatch):
    fake = _fake_tensorrt(monkeypatch)
    seen = []
    monitor = _progress_monitor(fake, lambda phase, done, total: seen.append((phase, done, total)))
    assert isinstance(monitor, fake.IProgressMonitor)
    monitor.phase_start("Building engine", None, 3)
    assert monitor.step_complete("Building engine", 0) is True  # never cancels the build
    monitor.phase_finish("Building engine")
    assert seen == [("Building engine", 0, 3), ("Building engine", 1, 3), ("Building engine", 3, 3)]
    assert _progress_monitor(fake, None) is None
    del fake.IProgressMonitor  # TensorRT before 10: no monitor, the CLI's spinner shows the elapsed time
    assert _progress_monitor(fake, seen.append) is None


def test_written_profile_and_timing_are_what_inspect_reads():
    profile = profile_records({"conv1 + Relu_2": [0.5, 0.7, 0.6], "QuantizeLinear_7": [0.1, 0.1, 0.1]}, runs=3)
    parsed = trt_json.profile_from_data(profile, "mem")
    assert parsed.runs == 3 and [r.name for r in parsed.records] == ["conv1 + Relu_2", "QuantizeLinear_7"]
    assert parsed.records[0].average_ms == pytest.approx(0.6) and parsed.records[0].median_ms == pytest.approx(0.6)
    assert sum(r.percentage for r in parsed.records) == pytest.approx(100.0)
    timing = timing_records([1.0, 1.2, 1.1])
    assert trt_json.timing_from_data(timing, "mem").latencies_ms == [1.0, 1.2, 1.1]
    layers = {"Layers": [{"Name": "conv1 + Relu_2", "LayerType": "CaskConvolution"},
                         {"Name": "QuantizeLinear_7", "LayerType": "Reformat", "Origin": "QDQ"}],
              "Bindings": ["input", "output"]}
    report = engine_report_from_trt_json(layers, profile, timing, source="mem")
    assert [layer.avg_ms for layer in report.layers] == [pytest.approx(0.6), pytest.approx(0.1)]
    assert len(report.leftover_qdq) == 1 and report.latency.median == pytest.approx(1.1)


def test_trtexec_command_writes_the_same_files(tmp_path, model):
    options = BuildOptions(input_shapes={"input": (1, 3, 16, 16)}, timing_cache=tmp_path / "t.cache",
                           builder_optimization_level=4, workspace=4 << 30)
    command = trtexec_command(model, tmp_path / "out", options)
    for part in (f"--onnx={model}", f"--saveEngine={tmp_path / 'out' / 'engine.plan'}",
                 f"--exportLayerInfo={tmp_path / 'out' / 'layers.json'}", "--exportProfile=", "--exportTimes=",
                 "--profilingVerbosity=detailed", "--int8 --fp16", "--shapes=input:1x3x16x16",
                 f"--timingCacheFile={tmp_path / 't.cache'}", "--builderOptimizationLevel=4",
                 "--memPoolSize=workspace:4096M"):
        assert part in command
    strongly = trtexec_command(model, tmp_path / "out", BuildOptions(strongly_typed=True))
    assert "--stronglyTyped" in strongly and "--int8" not in strongly


@pytest.mark.skipif(not NO_TENSORRT, reason="TensorRT is installed")
def test_without_tensorrt_one_line_names_the_extra_and_trtexec_and_writes_nothing(tmp_path, model):
    with pytest.raises(MissingDependencyError) as err:
        EngineReportFromTrt(model, tmp_path / "out", BuildOptions())()
    message = str(err.value)
    assert "\n" not in message and "pip install 'qdqtool[tensorrt]'" in message
    assert f"trtexec --onnx={model}" in message and "--exportLayerInfo=" in message
    assert not (tmp_path / "out").exists()


def test_a_tensorrt_that_cannot_build_says_so_in_one_line_and_writes_nothing(tmp_path, model):
    """TensorRT importable but unusable (here: a stand-in module, in a subprocess so no import state leaks)."""
    code = (
        "import sys, types\n"
        "fake = types.ModuleType('tensorrt'); fake.__version__ = '10.8.0'; sys.modules['tensorrt'] = fake\n"
        "from pathlib import Path\n"
        "from qdqtool.engine.backends import BuildOptions\n"
        "from qdqtool.engine.trt_backend import EngineReportFromTrt\n"
        "from qdqtool.errors import QdqToolError\n"
        "try:\n"
        f"    EngineReportFromTrt(Path({str(model)!r}), Path({str(tmp_path / 'out')!r}), BuildOptions())()\n"
        "except QdqToolError as err:\n"
        "    print(err.exit_code, err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("2 --backend tensorrt: TensorRT 10.8.0 is installed but cannot start here")
    assert out.count("\n") == 1 and f"trtexec --onnx={model}" in out and "--int8 --fp16`" in out
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(CANNOT_RUN is not None, reason=str(CANNOT_RUN))
def test_real_build_writes_what_inspect_reads(tmp_path, model):  # pragma: no cover - never runs without a GPU
    from qdqtool.engine.load import engine_report_from_path

    report = EngineReportFromTrt(model, tmp_path / "out", BuildOptions(warmup=2, iterations=5))()
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"engine.plan", "layers.json", "profile.json",
                                                               "timing.json", "engine_report.json"}
    again = engine_report_from_path(tmp_path / "out")
    assert [layer.name for layer in again.layers] == [layer.name for layer in report.layers]
    assert report.has_layer_times and report.latency is not None
