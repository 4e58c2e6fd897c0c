"""Output paths that are awkward but allowed: they must work, and never hurt an input."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import onnx

from tests.conftest import run_cli
from tests.fixtures import models as M
from tests.reliability.catalogue import example

ROOT = Path(__file__).resolve().parents[2]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_outputs_external_data_never_lands_on_an_inputs(tmp_path, capsys, monkeypatch):
    """a.onnx keeps its weights in b.onnx.data, the very name `-o b.onnx` would give its own data."""
    monkeypatch.chdir(tmp_path)
    onnx.save(M.resnet18("qat"), "a.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="b.onnx.data", size_threshold=0)  # weights of 1 KiB and more go to the output's data file
    before = {name: _digest(tmp_path / name) for name in ("a.onnx", "b.onnx.data")}
    run = run_cli(capsys, "merge", "a.onnx", "-o", "b.onnx", "--no-verify")
    assert run.code == 0, run.err
    assert {name: _digest(tmp_path / name) for name in before} == before
    onnx.checker.check_model(onnx.load("a.onnx"), full_check=True)  # the input still loads, with its data
    onnx.checker.check_model(onnx.load("b.onnx"), full_check=True)
    merged = onnx.load("b.onnx", load_external_data=False)
    locations = {e.value for t in merged.graph.initializer for e in t.external_data if e.key == "location"}
    assert locations == {"b.onnx.1.data"}


def test_concurrent_runs_on_one_output_leave_one_whole_model(tmp_path):
    onnx.save(example(), tmp_path / "m.onnx")
    command = [sys.executable, "-m", "qdqtool", "merge", "m.onnx", "-o", "out.onnx"]
    runs = [subprocess.Popen(command, cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for run in runs:
        _, err = run.communicate(timeout=180)
        assert run.returncode == 0, err
    onnx.checker.check_model(onnx.load(tmp_path / "out.onnx"), full_check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "out.onnx"]  # no .qdqtool-* left


def test_names_with_spaces_and_unicode_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    onnx.save(example(), "mödel ünï.onnx")
    run = run_cli(capsys, "merge", "mödel ünï.onnx", "-o", "dir with space/ergebnis ü.onnx")
    assert run.code == 0, run.err
    onnx.checker.check_model(onnx.load("dir with space/ergebnis ü.onnx"))
