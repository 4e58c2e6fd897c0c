"""The architecture holds: imports flow one way, every module imports without the optional extras, and every
command answers --help."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import qdqtool

PACKAGE = Path(qdqtool.__file__).parent
# io -> ir -> analysis -> surgery -> verify -> engine -> gate -> jobs -> report -> cli; errors and _lazy below all
LAYERS = ["errors", "_lazy", "io", "ir", "analysis", "surgery", "verify", "engine", "gate", "jobs", "report", "cli"]


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


def test_every_module_imports_without_tensorrt():
    missing = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="qdqtool."):
        if info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError as err:
            missing.append(f"{info.name}: {err}")
    assert not missing, "\n".join(missing)
    assert "tensorrt" not in sys.modules, "TensorRT must only be imported when a command needs it"


@pytest.mark.parametrize("command", ["analyze", "merge", "build", "compare", "inspect", "diff", "check", "rules",
                                     "report"])
def test_every_command_has_help_in_a_fresh_interpreter(command):
    run = subprocess.run([sys.executable, "-m", "qdqtool", command, "--help"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "Usage: qdqtool " + command in run.stdout
    assert "unavailable" not in run.stdout
