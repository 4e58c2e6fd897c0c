"""The architecture holds: imports flow one way, the CLI only parses and renders, the renderers run no model,
every module imports without the optional extras, and every command answers --help."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import qdqtool

PACKAGE = Path(qdqtool.__file__).parent
# io -> ir -> analysis -> surgery -> verify -> engine -> gate -> jobs -> report -> cli; errors and _lazy below all
LAYERS = ["errors", "_lazy", "io", "ir", "analysis", "surgery", "verify", "engine", "gate", "jobs", "report", "cli"]


def _imports(path: Path, type_checking: bool = True) -> list[str]:
    """The modules ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``); with ``type_checking`` False,
    imports under ``if TYPE_CHECKING:`` are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                skipped |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def _layer(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    name = parts[0] if len(parts) > 1 else path.stem
    return name if name in LAYERS else None


def test_no_module_imports_upward():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = []
    for path in PACKAGE.rglob("*.py"):
        layer = _layer(path)
        if layer is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "qdqtool" and len(parts) > 1 and rank.get(parts[1], -1) > rank[layer]:
                    upward.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not upward, "\n".join(upward)


def test_imports_are_absolute():
    """Relative imports would slip past the layer tests above, which read ``qdqtool.<layer>`` names."""
    relative = [f"{path.relative_to(PACKAGE)}:{node.lineno}" for path in PACKAGE.rglob("*.py")
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert not relative, "\n".join(relative)


GRAPH_FIELDS = {"node", "input", "output", "initializer", "value_info"}
EDITING_CALLS = {"extend", "append", "add", "insert", "remove", "pop", "ClearField", "CopyFrom", "MergeFrom"}


def _graph_field(node: ast.AST) -> bool:
    """``x.node``, ``x.input[i]`` ... of something other than ``self`` (an object's own ``self.output`` is not a
    graph)."""
    while isinstance(node, ast.Subscript):
        node = node.value
    return (isinstance(node, ast.Attribute) and node.attr in GRAPH_FIELDS
            and not (isinstance(node.value, ast.Name) and node.value.id == "self"))


def test_only_ir_and_surgery_edit_graphs():
    """Graph edits have one owner: ir/ (the index and the editor) and surgery/ (every edit, through them)."""
    writes = []
    for path in PACKAGE.rglob("*.py"):
        if _layer(path) in ("ir", "surgery"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Assign | ast.Delete):
                targets = node.targets
            elif isinstance(node, ast.AugAssign):
                targets = [node.target]
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in EDITING_CALLS):
                targets = [node.func.value]
            writes += [f"{path.relative_to(PACKAGE)}:{node.lineno}" for t in targets if _graph_field(t)]
    assert not writes, "\n".join(writes)


# what a command of cli/ may import from qdqtool: the jobs it calls, the renderers, and the shared option and
# output helpers; everything about graphs, engines and numerics lives below jobs/
CLI_MAY_IMPORT = ("qdqtool.jobs", "qdqtool.report", "qdqtool.errors", "qdqtool.examples", "qdqtool.io",
                  "qdqtool.cli.options", "qdqtool.cli.output")
GRAPH_LIBRARIES = ("onnx", "onnxruntime", "onnx_graphsurgeon", "networkx", "numpy", "polygraphy", "tensorrt")


def test_cli_holds_no_graph_logic_and_no_command_imports_another():
    found = []
    for path in _modules("cli"):
        for module in _imports(path):
            top = module.split(".")[0]
            if top in GRAPH_LIBRARIES:
                found.append(f"cli/{path.name} imports {module}")
            allowed = module in ("qdqtool", "qdqtool.cli") or module.startswith(CLI_MAY_IMPORT)
            if top == "qdqtool" and not allowed:
                found.append(f"cli/{path.name} imports {module}")
    assert not found, "\n".join(found)


# running a model (ONNX Runtime, TensorRT, a backend, the predictor, a job) is not a renderer's business
RUNS_MODELS = ("onnxruntime", "tensorrt", "polygraphy", "qdqtool.jobs", "qdqtool.engine.backends",
               "qdqtool.engine.ort_backend", "qdqtool.engine.trt_backend", "qdqtool.engine.trt_plan",
               "qdqtool.engine.predictor", "qdqtool.verify.numerics", "qdqtool.verify.session")


def test_report_runs_no_model():
    found = []
    for path in _modules("report"):
        for module in _imports(path, type_checking=False):  # type hints of job results are fine
            if module.startswith(RUNS_MODELS):
                found.append(f"report/{path.relative_to(PACKAGE / 'report')} imports {module}")
    assert not found, "\n".join(found)


@pytest.mark.tensorrt
def test_every_module_imports_without_tensorrt():
    """In a fresh interpreter: another test (or --trt-bindings) may have imported TensorRT into this one."""
    code = (
        "import importlib, pkgutil, sys\n"
        f"for info in pkgutil.walk_packages([{str(PACKAGE)!r}], prefix='qdqtool.'):\n"
        "    if not info.name.endswith('__main__'):\n"
        "        importlib.import_module(info.name)\n"
        "print('tensorrt' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False", "TensorRT must only be imported when a command needs it"


@pytest.mark.parametrize("command", ["analyze", "merge", "build", "compare", "inspect", "diff", "check", "rules",
                                     "report"])
def test_every_command_has_help_in_a_fresh_interpreter(command):
    run = subprocess.run([sys.executable, "-m", "qdqtool", command, "--help"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "Usage: qdqtool " + command in run.stdout
    assert "unavailable" not in run.stdout
