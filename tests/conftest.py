"""Fixtures every test folder uses: the real `qdqtool` entry point, and the real TensorRT samples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from qdqtool.cli.main import main


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
