"""Tables written to a pipe or a CI log are laid out wide, so no column is squeezed away."""

from __future__ import annotations

from qdqtool.report.console import PIPE_WIDTH, terminal


def test_pipes_get_a_wide_console(monkeypatch, capsys):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert terminal().width == PIPE_WIDTH  # pytest captures stdout: not a terminal
    monkeypatch.setenv("COLUMNS", "90")
    assert terminal().width == 90
