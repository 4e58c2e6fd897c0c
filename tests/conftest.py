"""Run the real `qdqtool` entry point in-process and capture what a user sees."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qdqtool.cli.main import main


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def qdqtool(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> Run:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in args])
        captured = capsys.readouterr()
        return Run(int(exit_info.value.code or 0), captured.out, captured.err)

    return run
