"""qdqtool against TensorRT's real Python API (``pytest -m tensorrt --trt-bindings VERSION``; .ci/run runs it for one
10.x and one 11.x release).

The bindings are real (the ``tensorrt-cu12-bindings`` wheel); only the C libraries behind them are stand-ins
(standins.c), so the classes, enums and pybind signatures are TensorRT's own and every factory fails as it does on a
machine without a usable GPU. What is checked:

- every ``trt.X.Y`` name qdqtool's code reads exists (found by reading the code, so a new use is checked too);
- every member of the test fakes (tests/fixtures/fake_tensorrt.py) exists on the real class it plays, with the same
  parameters, so the tests that drive qdqtool through the fakes test calls the real API accepts;
- qdqtool's hook subclasses (ILogger, IProfiler, IProgressMonitor) subclass the real interfaces, override them with
  their signatures, and work when called;
- with no GPU, ``build``, ``inspect`` and ``compare`` end in one line on stderr and exit 2, with advice that fits the
  installed TensorRT and names no file that will be gone.
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

import qdqtool
from qdqtool.engine.backends import BuildOptions
from qdqtool.errors import MissingDependencyError
from tests.fixtures import fake_tensorrt
from tests.fixtures import ort_graphs as G

pytestmark = pytest.mark.tensorrt

PACKAGE = Path(qdqtool.__file__).parent


def _resolve(root, dotted: str):
    for part in dotted.split("."):
        root = getattr(root, part)
    return root


def _overloads(member) -> list[list[tuple[str, bool]]]:
    """(parameter, has a default) of each signature a pybind function's docstring gives, without self."""
    name = getattr(member, "__name__", "")
    found = []
    for line in (member.__doc__ or "").splitlines():
        match = re.match(rf"\s*(?:\d+\.\s*)?{re.escape(name)}\((.*)\)\s*(->.*)?$", line)
        if match and match.group(1) != "*args, **kwargs":
            params = [p.strip() for p in re.split(r",\s*(?![^\[]*\])", match.group(1)) if p.strip()]
            found.append([(p.split(":")[0].strip(), "=" in p) for p in params if p.split(":")[0].strip() != "self"])
    return found


def _params(function) -> list[str]:
    return [p for p in inspect.signature(function).parameters if p != "self"]


def _agrees(fake_params: list[str], overloads: list[list[tuple[str, bool]]]) -> bool:
    """The fake takes the parameters of one real overload, by name and order; it may leave out trailing ones with
    defaults (qdqtool never passes them)."""
    for real in overloads:
        names = [n for n, _ in real]
        if names[: len(fake_params)] == fake_params and all(default for _, default in real[len(fake_params):]):
            return True
    return False


def _tensorrt_names_in_qdqtool() -> set[str]:
    """Every ``trt.A.B`` chain in qdqtool's code (``trt`` is what the code calls the imported module)."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                chain, inner = [node.attr], node.value
                while isinstance(inner, ast.Attribute):
                    chain.append(inner.attr)
                    inner = inner.value
                if isinstance(inner, ast.Name) and inner.id == "trt":
                    names.add(".".join(reversed(chain)))
    return names


def test_the_bindings_are_tensorrts_own(real_tensorrt):
    assert real_tensorrt.__file__.endswith("tensorrt/__init__.py")
    assert type(real_tensorrt.ILogger).__name__ == "pybind11_type"
    with pytest.raises(TypeError, match="nullptr"):  # what a machine without a usable GPU says
        real_tensorrt.Builder(real_tensorrt.Logger())


def test_every_tensorrt_name_qdqtool_reads_exists(real_tensorrt):
    names = _tensorrt_names_in_qdqtool()
    assert {"ILogger.Severity.ERROR", "LayerInformationFormat.JSON", "ProfilingVerbosity.DETAILED",
            "MemoryPoolType.WORKSPACE", "IProfiler", "Runtime", "Logger.ERROR"} <= names  # the scan finds them
    prefixes = {n.rsplit(".", 1)[0] for n in names if "." in n}
    missing = []
    for name in sorted(names - prefixes):
        if name.split(".")[-1].startswith("__"):
            continue  # __version__, __init__: module and Python protocol, not TensorRT's API
        try:
            _resolve(real_tensorrt, name)
        except AttributeError:
            missing.append(name)
    assert not missing, f"TensorRT {real_tensorrt.__version__} has no {missing}"


@pytest.mark.parametrize("fake", list(fake_tensorrt.PLAYS), ids=lambda f: fake_tensorrt.PLAYS[f])
def test_each_fake_has_the_real_members_and_signatures(real_tensorrt, fake):
    real = _resolve(real_tensorrt, fake_tensorrt.PLAYS[fake])
    if inspect.isfunction(fake):
        assert _agrees(_params(fake), _overloads(real)), (_params(fake), _overloads(real))
        return
    problems = []
    for name, member in vars(fake).items():
        if name.startswith("_") and name != "__init__" or name in fake_tensorrt.CONTROLS:
            continue
        if name == "__init__" and fake in fake_tensorrt.MADE_BY_TENSORRT:
            continue  # TensorRT creates these; the fake's constructor is the fake runtime's business
        if not hasattr(real, name):
            problems.append(f"{name}: not on the real {real.__name__}")
        elif inspect.isfunction(member):
            overloads = _overloads(getattr(real, name))
            if not overloads or not _agrees(_params(member), overloads):
                problems.append(f"{name}{_params(member)}: the real one takes {overloads}")
    for slot in getattr(fake, "__slots__", ()):
        if slot not in fake_tensorrt.CONTROLS and not isinstance(getattr(real, slot, None), property):
            problems.append(f"{slot}: not a property of the real {real.__name__}")
    assert not problems, problems


def test_the_fake_enums_are_real_members(real_tensorrt):
    for name, members in fake_tensorrt.ENUMS.items():
        enum = _resolve(real_tensorrt, name)
        assert set(members) <= set(enum.__members__), (name, set(members) - set(enum.__members__))


def test_the_hooks_subclass_and_override_the_real_interfaces(real_tensorrt):
    from qdqtool.engine.trt_backend import _profiler, _progress_monitor
    from qdqtool.engine.trt_plan import _make_logger

    trt = real_tensorrt
    logger = _make_logger(trt)
    profiler = _profiler(trt)
    seen = []
    monitor = _progress_monitor(trt, lambda *a: seen.append(a))
    for hook, base in ((logger, trt.ILogger), (profiler, trt.IProfiler), (monitor, trt.IProgressMonitor)):
        assert isinstance(hook, base)
        for name, member in vars(type(hook)).items():
            if callable(member) and not name.startswith("_"):
                assert _agrees(_params(member), _overloads(getattr(base, name))), (base.__name__, name)
    logger.log(trt.ILogger.Severity.WARNING, "ignored")
    logger.log(trt.ILogger.Severity.ERROR, " kept ")
    assert logger.errors == ["kept"]
    profiler.report_layer_time("conv", 0.5)
    assert profiler.times == {"conv": [0.5]}
    monitor.phase_start("Building", None, 2)
    assert monitor.step_complete("Building", 0) is True
    monitor.phase_finish("Building")
    assert seen == [("Building", 0, 2), ("Building", 1, 2), ("Building", 2, 2)]


def test_the_build_config_step_sets_real_enums(real_tensorrt):
    from qdqtool.engine.trt_backend import SetBuildLimits

    config = fake_tensorrt.IBuilderConfig()
    SetBuildLimits(1 << 30)(None, None, config)
    assert config.profiling_verbosity == real_tensorrt.ProfilingVerbosity.DETAILED
    assert config.pools == [(real_tensorrt.MemoryPoolType.WORKSPACE, 1 << 30)]


def test_the_build_mode_fits_the_major(real_tensorrt, tmp_path):
    from qdqtool.engine.trt_backend import trt_loaders

    model = tmp_path / "m.onnx"
    onnx.save(G.pool_chain(), model)
    loaders = trt_loaders(model, tmp_path / "e.plan", BuildOptions(), real_tensorrt.__version__)
    eleven = int(real_tensorrt.__version__.split(".")[0]) >= 11
    assert loaders.strongly_typed is eleven
    assert (loaders.create_config.int8, loaders.create_config.fp16) == ((False, False) if eleven else (True, True))
    if eleven:  # the INT8/FP16 builder flags a weakly typed build would set are gone
        assert not hasattr(real_tensorrt.BuilderFlag, "INT8") and not hasattr(real_tensorrt.BuilderFlag, "FP16")
    else:
        assert hasattr(real_tensorrt.BuilderFlag, "INT8") and hasattr(real_tensorrt.BuilderFlag, "FP16")


def test_polygraphy_floor_fits_the_major(real_tensorrt, monkeypatch):
    import polygraphy

    from qdqtool.engine.trt_start import import_tensorrt

    assert import_tensorrt("test", "") is real_tensorrt  # the installed Polygraphy is new enough
    eleven = int(real_tensorrt.__version__.split(".")[0]) >= 11
    too_old, enough = ("0.50.3", "0.53.4") if eleven else ("0.49.9", "0.49.14")
    monkeypatch.setattr(polygraphy, "__version__", too_old)
    with pytest.raises(MissingDependencyError, match=f"needs polygraphy>={enough}, this is polygraphy {too_old}"):
        import_tensorrt("--backend tensorrt", "")
    monkeypatch.setattr(polygraphy, "__version__", enough)
    assert import_tensorrt("test", "") is real_tensorrt


# --- no GPU: every command that needs TensorRT ends in one line and exit 2 ---

def _command(*args) -> subprocess.CompletedProcess:
    """qdqtool as a command: the dynamic linker resolves the bindings' libraries the way a user's shell would."""
    return subprocess.run([sys.executable, "-m", "qdqtool", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def model(tmp_path) -> Path:
    path = tmp_path / "pool.onnx"
    onnx.save(G.pool_chain(), path)
    return path


def _one_line_exit_2(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1, run.stderr
    return run.stderr


def _flags_fit(message: str, version: str) -> None:
    if int(version.split(".")[0]) >= 11:
        assert "--int8" not in message and "--fp16" not in message and "--stronglyTyped" not in message
    else:
        assert "--int8 --fp16" in message


def test_build_without_a_gpu(real_tensorrt, model, tmp_path):
    err = _one_line_exit_2(_command("build", model, "--backend", "tensorrt", "-o", tmp_path / "out"))
    assert f"TensorRT {real_tensorrt.__version__} is installed but cannot start here" in err
    assert f"trtexec --onnx={model}" in err and "--backend trt-sim" in err
    _flags_fit(err, real_tensorrt.__version__)
    assert not (tmp_path / "out").exists()


def test_strongly_typed_build_advice_on_tensorrt_10(real_tensorrt, model, tmp_path):
    run = _command("build", model, "--backend", "tensorrt", "--strongly-typed", "-o", tmp_path / "out")
    err = _one_line_exit_2(run)
    if int(real_tensorrt.__version__.split(".")[0]) >= 11:
        assert "--stronglyTyped" not in err  # always on in trtexec 11
    else:
        assert "--stronglyTyped" in err and "--int8" not in err


def test_inspect_a_plan_without_a_gpu(real_tensorrt, tmp_path):
    plan = tmp_path / "engine.plan"
    plan.write_bytes(b"\x00\x01not really an engine\x00" * 16)
    err = _one_line_exit_2(_command("inspect", plan))
    assert f"TensorRT {real_tensorrt.__version__} is installed but cannot start its runtime here" in err
    assert "--exportLayerInfo=layers.json" in err


def test_compare_fails_before_merging_and_names_no_temporary_file(real_tensorrt, model, tmp_path):
    err = _one_line_exit_2(_command("compare", model, "--backend", "tensorrt"))
    assert "cannot start here" in err and "qdqtool diff before after" in err
    assert "qdqtool-compare-" not in err  # the folder compare would have worked in, gone by now
    _flags_fit(err, real_tensorrt.__version__)
    err = _one_line_exit_2(_command("compare", model, "--backend", "tensorrt", "--keep", tmp_path / "keep"))
    assert not (tmp_path / "keep").exists() and not list(tmp_path.glob("*.merged.onnx"))


def test_the_timer_without_a_gpu_is_one_line(real_tensorrt, model, tmp_path):
    from qdqtool.engine.trt_backend import TrtTimer
    from qdqtool.errors import QdqToolError

    with pytest.raises(QdqToolError) as err:
        with TrtTimer(model, tmp_path):
            pass
    assert err.value.exit_code == 2 and "\n" not in str(err.value) and "cannot start here" in str(err.value)
