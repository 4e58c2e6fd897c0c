"""Every case of the bad-input catalogue (tests/reliability/catalogue.py) through every command that reads that kind
of input: exit 2, one line on stderr saying what is wrong, no traceback, every input byte for byte as it was, and
nothing left behind, neither beside the files nor in the temporary folder."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.reliability.catalogue import CASES, readme_rows

README = Path(__file__).resolve().parents[2] / "README.md"


def _snapshot(folder: Path) -> dict[str, object]:
    """Every entry under ``folder``: a file's bytes, a link's target, a folder, a pipe."""
    seen: dict[str, object] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            rel = str(path.relative_to(folder))
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                seen[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(mode):
                seen[rel] = path.read_bytes()
            else:
                seen[rel] = ("dir" if stat.S_ISDIR(mode) else "special", stat.S_IFMT(mode))
    return seen




RUNS = [(case, command) for case in CASES for command in case.commands]


@pytest.mark.parametrize("case, command", RUNS, ids=[f"{c.id}-{cmd[0]}-{i}" for i, (c, cmd) in enumerate(RUNS)])
def test_bad_input_gets_one_line_and_exit_2_and_nothing_changes(case, command, tmp_path, tmp_path_factory, capsys,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    names = case.make(tmp_path)
    args = [part.format(**names) for part in command]
    scratch = tmp_path_factory.mktemp("tmpdir")  # this run's own TMPDIR: nothing else writes there
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = _snapshot(tmp_path)
    run = run_cli(capsys, *args)
    assert run.code == 2, (args, run.code, run.err)
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert case.says in lines[0], (case.says, lines[0])
    assert _snapshot(tmp_path) == before, "an input changed or an output was left behind"
    ours = [n for n in os.listdir(scratch) if n.lstrip(".").startswith("qdqtool")]  # ONNX Runtime leaves a .ses
    assert not ours, f"temporary files left behind: {ours}"


def test_the_readme_lists_every_case():
    text = README.read_text(encoding="utf-8")
    missing = [row for row in readme_rows() if row not in text]
    assert not missing, "README's bad-input table lacks:\n" + "\n".join(missing)
