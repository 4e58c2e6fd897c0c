"""Signals and pipes, as CI runners and shells deliver them: SIGTERM (timeout, docker stop, a cancelled job) cleans
up like Ctrl-C, and a closed stdout (``| head``) is not "checked and failed"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

from qdqtool.examples import example_model

ROOT = Path(__file__).resolve().parents[2]


def _ours(folder: Path) -> list[str]:
    """qdqtool's entries in a folder (ONNX Runtime writes a `.ses` session-id file into TMPDIR when imported)."""
    return [p.name for p in folder.iterdir() if p.name.lstrip(".").startswith("qdqtool")]


def _env(tmp: Path) -> dict:
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_a_check_leaves_nothing_behind(tmp_path, signum, code):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with example_model() as path:
        model = onnx.load(path)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    samples = np.random.default_rng(0).random((2000, *dims[1:]), dtype=np.float32)
    np.savez(tmp_path / "samples.npz", **{model.graph.input[0].name: samples})
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "qdqtool", "merge", "--example", "-o", out / "merged.onnx", "--inputs",
         tmp_path / "samples.npz"], env=_env(scratch), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60  # wait until the check is under way: its temporary folder exists
    while time.monotonic() < deadline and not _ours(scratch) and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the merge ended before it could be interrupted: " + process.stderr.read()
    time.sleep(0.3)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert not _ours(scratch), "temporary files left in TMPDIR"
    assert not out.exists() or not list(out.iterdir()), "a partial output or a .qdqtool-* folder was left"


def test_a_closed_stdout_is_not_a_failed_check(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "qdqtool", "analyze", "--example", "--json"], env=_env(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader went away (`| head -1` after its line) before anything was written
    _, err = process.communicate(timeout=60)
    assert process.returncode == 141, err  # 128 + SIGPIPE, as a shell reports it; never 1 ("checked and failed")
    assert b"Traceback" not in err and b"Exception ignored" not in err
