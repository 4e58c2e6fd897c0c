"""README.md, run: every ``$ command`` it quotes, checked against the output lines it quotes after it.

What is run. Each line starting with ``$ `` inside a fenced block of README.md is one test case, run as a
subprocess (``qdqtool ...`` as ``python -m qdqtool ...``, ``python ...`` with this interpreter) with
``PYTHONPATH`` set to this checkout, so the subprocess imports this checkout's ``qdqtool`` and ``tests.fixtures``
(what the README means by "from the repository root"). The set-up command the README gives in its prose
(```python -c "... onnx.save(...)"```) runs too, as its own case. Commands run in README order in one temporary
folder, since later commands read what earlier ones wrote; a case selected alone first runs the earlier commands
of its folder. A block after prose that says to run it "from there" after a ```../shared/...``` folder runs in
that folder beside the repository, and skips when it is absent (the ``trt_samples`` fixture). Commands that need
TensorRT (``--backend tensorrt``, a ``.plan``/``.engine`` file) skip without it.

What is compared. The lines quoted after a command (up to the next ``$`` line or the end of the block; blank
lines dropped) must all appear in the command's output, in order; a line that is just ``…`` marks elided output,
and a quote that does not end with ``…`` must reach the end of the output (its last line is the output's last
line, table borders aside). Both sides go through ``normalise``:

1. The output's temporary folder (the folder the commands run in) becomes ``/home/you/``, the README's.
2. Spaces: trailing ones dropped, runs of spaces made one (rich pads and right-justifies table cells).
3. Table borders: a run of one box-drawing rule character (``━`` or ``─``) becomes one, so a border compares by
   its column count, not the column widths.
4. Layout: the commands run with ``COLUMNS=1000`` so that rich wraps neither a line nor a table cell, and the
   README's wrapped lines are joined back: a table row whose cells are partly empty, right after a row of the
   same table, is the continuation of that row (its cells are appended to the row's cells); a README text line
   that the output's line continues is joined with the next README text line(s). So wrapping positions and
   column widths are not compared (the README was rendered at 120 columns, a few quotes at other widths), but
   every word and every cell is.
5. Measured values, only in ``compare`` (it times the two models, and the verdict flakes on a loaded machine):
   the numbers of the ``latency median/min-max/quartiles (ms)`` table rows, the ``latency: <verdict> (...):
   after/before median ...`` sentence and the status line's leading ``PASSED``/``FAILED`` and ``latency X -> Y
   ms (+-P%, <verdict>)`` part become ``<measured>``/``<status>``; the leftover Q/DQ counts, the Q/DQ layer names
   and the worst cosine stay exact. Nothing else is replaced: scales, cosines of the seeded checks, counts, and
   the times that ``inspect``/``diff`` read from the stored TREx sample files are compared exactly.

The exit code must be what the README implies: 1 when the quote ends with a ``FAILED | ...`` line, else 0 (and
``compare`` may also exit 1 when its latency verdict is ``regression``, the measured part). A trailing
``# ends X ...`` comment on a ``$`` line means the output's last line starts with ``X``.

Besides the commands: the rules table (``| id | name | side | default | what |``) against ``qdqtool rules
--format json``, and the exit-code table against the CLI's behaviour.

README quotes that the current program does not reproduce are listed in ``KNOWN_MISMATCHES`` (strict xfail).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
WIDTH = 1000  # wide enough that rich wraps no line and no table cell of any README command
ELLIPSIS = "…"
HOME = "/home/you/"  # where the README's commands ran

# README command (as written, comment stripped) -> why its quote does not match the current program.
KNOWN_MISMATCHES: dict[str, str] = {}


# --- the README's commands -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    line: int  # README.md line of the `$` (or of the prose's set-up command)
    command: str  # as written, without a trailing `# comment`
    comment: str  # the trailing comment, "" when none
    quoted: tuple[str, ...]  # the output lines quoted after it, as written ("…" kept, blank lines dropped)
    where: str | None  # folder relative to the repository root to run in; None: the temporary folder

    @property
    def argv(self) -> list[str]:
        words = shlex.split(self.command)
        if words[0] == "qdqtool":
            return [sys.executable, "-m", "qdqtool", *words[1:]]
        if words[0] == "python":
            return [sys.executable, *words[1:]]
        raise AssertionError(f"README.md:{self.line}: cannot run `{self.command}` (neither qdqtool nor python)")

    @property
    def id(self) -> str:
        if self.command.startswith("python -c"):
            written = re.findall(r"'([^']+\.onnx)'", self.command)
            return f"README.md:{self.line} python -c (writes {', '.join(written)})"
        return f"README.md:{self.line} {' '.join(self.command.split())}"


_FENCE = re.compile(r"^```")
_RUN_FROM = re.compile(r"`(\.\./shared/[^`]+)`[^`]*?\brun from there\b", re.S)
_PROSE_SETUP = re.compile(r"`(python -c \"[^`\"]*\")`")
_COMMENT = re.compile(r"\s+#\s(.*)$")


def readme_steps(text: str) -> list[Step]:
    """The set-up commands of the prose and the `$` commands of the fenced blocks, in README order."""
    lines = text.splitlines()
    steps: list[Step] = []
    prose: list[tuple[int, str]] = []  # (line number, text) since the last block
    i = 0
    while i < len(lines):
        if not _FENCE.match(lines[i]):
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        steps += _prose_setup(prose)
        paragraph = "\n".join(t for _, t in prose)
        found = _RUN_FROM.search(paragraph)
        where = found.group(1) if found else None
        prose = []
        end = next((j for j in range(i + 1, len(lines)) if _FENCE.match(lines[j])), len(lines))
        current: tuple[int, str] | None = None
        quoted: list[str] = []
        for j in range(i + 1, end):
            if lines[j].startswith("$ "):
                if current:
                    steps.append(_step(*current, quoted, where))
                current, quoted = (j + 1, lines[j][2:]), []
            elif current and lines[j].strip():
                quoted.append(lines[j])
        if current:
            steps.append(_step(*current, quoted, where))
        i = end + 1
    return steps + _prose_setup(prose)


def _step(line: int, written: str, quoted: list[str], where: str | None) -> Step:
    comment = _COMMENT.search(written)
    command = written[: comment.start()] if comment else written
    return Step(line, command.strip(), comment.group(1).strip() if comment else "", tuple(quoted), where)


def _prose_setup(prose: list[tuple[int, str]]) -> list[Step]:
    if not prose:
        return []
    first, text = prose[0][0], "\n".join(t for _, t in prose)
    return [Step(first + text.count("\n", 0, m.start()), m.group(1).replace("\n", " "), "", (), None)
            for m in _PROSE_SETUP.finditer(text)]


README_TEXT = README.read_text(encoding="utf-8")
STEPS = readme_steps(README_TEXT)


# --- the normaliser (see the module docstring) -----------------------------------------------------------------

_MEASURED = (  # compare only: what it measures, and what follows from the measurement
    (re.compile(r"^(│ latency (?:median|min-max|quartiles) \(ms\) │).*$", re.M), r"\1 <measured> │ <measured> │"),
    (re.compile(r"latency: (?:faster|no gain|regression) \([+-]\d+\.\d%\): after/before median [\s\S]{0,300}?"
                r"(?:tolerance in most rounds|within the \d+% tolerance|no change can be claimed|not a gain)"),
     "latency: <measured>"),
    (re.compile(r"^(?:PASSED|FAILED) \| (leftover Q/DQ \d+ -> \d+ \| )?latency \d+\.\d+ -> \d+\.\d+ ms "
                r"\([+-]\d+\.\d%, (?:faster|no gain|regression)\)", re.M),
     r"<status> | \1latency <measured>"),
)
_BOX = "│┃┏┓┗┛┡┩┠┨╇╈┳┻╋━─┌┐└┘├┤┬┴┼╭╮╰╯"


def normalise(text: str, measured: bool) -> list[str]:
    """Steps 2, 3 and 5 of the module docstring, line by line; blank lines dropped."""
    lines = [re.sub(r" +", " ", re.sub(r"([━─])\1+", r"\1", line)).strip() for line in text.splitlines()]
    text = "\n".join(line for line in lines if line)
    if measured:
        for pattern, replacement in _MEASURED:
            text = pattern.sub(replacement, text)
    return text.splitlines()


@dataclass
class Item:
    kind: str  # "row" (a table row), "border", "text" or "gap" (the README's "…")
    text: str
    cells: list[str] | None = None


def items(lines: list[str]) -> list[Item]:
    """Step 4: table rows with their continuation rows joined back; other lines as they are."""
    out: list[Item] = []
    for line in lines:
        if line == ELLIPSIS:
            out.append(Item("gap", line))
        elif line[0] in "│┃" and line[-1] == line[0] and len(line) > 1:
            sep = line[0]
            cells = [c.strip() for c in line[1:-1].split(sep)]
            last = out[-1] if out else None
            if (last and last.kind == "row" and last.text[0] == sep and len(last.cells) == len(cells)
                    and "" in cells):
                last.cells = [" ".join(c for c in pair if c) for pair in zip(last.cells, cells, strict=True)]
                last.text = _row(sep, last.cells)
            else:
                out.append(Item("row", _row(sep, cells), cells))
        elif all(ch in _BOX or ch == " " for ch in line):
            out.append(Item("border", line))
        else:
            out.append(Item("text", line))
    return out


def _row(sep: str, cells: list[str]) -> str:
    return re.sub(r" +", " ", f"{sep} " + f" {sep} ".join(cells) + f" {sep}")


def missing(quoted: list[Item], output: list[Item]) -> str | None:
    """Why ``quoted`` is not an ordered sub-sequence of ``output`` (None when it is): the first line not found."""
    cursor, last = 0, -1
    i = 0
    while i < len(quoted):
        q = quoted[i]
        if q.kind == "gap":
            i += 1
            continue
        found = None
        for k in range(cursor, len(output)):
            o = output[k]
            if q.kind != "text":
                if o.text == q.text:
                    found = (k, i)
                    break
                continue
            if o.kind != "text":
                continue
            joined, j = q.text, i
            while True:  # a README text line the output's line continues: join the next README text line(s)
                if o.text == joined:
                    found = (k, j)
                    break
                if not (o.text.startswith(joined + " ") and j + 1 < len(quoted) and quoted[j + 1].kind == "text"):
                    break
                j += 1
                joined += " " + quoted[j].text
            if found:
                break
        if found is None:
            return f"not found after output line {cursor} (in order): {q.text!r}"
        last, i = found[0], found[1] + 1
        cursor = last + 1
    real = [q for q in quoted if q.kind != "gap"]
    if real and quoted[-1].kind != "gap":
        end = max((k for k, o in enumerate(output) if o.kind != "border"), default=-1)
        if last != end:
            return f"the quote ends with {real[-1].text!r}, but the output goes on to {output[end].text!r}"
    return None


# --- running them ------------------------------------------------------------------------------------------------


@dataclass
class Ran:
    code: int
    out: str
    err: str


class Runner:
    """Runs the README's commands once each, in README order within each folder."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.done: dict[int, Ran] = {}
        self.env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "QDQTOOL_DEBUG", "COLUMNS")}
        self.env.update(COLUMNS=str(WIDTH), LINES="50",
                        PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))

    def cwd(self, step: Step) -> Path:
        return self.tmp if step.where is None else (REPO / step.where).resolve()

    def run(self, step: Step) -> Ran:
        for earlier in STEPS:
            if earlier.line >= step.line:
                break
            if earlier.where == step.where and earlier.line not in self.done:
                self._run(earlier)
        return self.done[step.line] if step.line in self.done else self._run(step)

    def _run(self, step: Step) -> Ran:
        proc = subprocess.run(step.argv, cwd=self.cwd(step), env=self.env, capture_output=True, text=True,
                              timeout=300)
        out = proc.stdout
        for tmp in {str(self.tmp.resolve()), str(self.tmp)}:
            out = out.replace(tmp + os.sep, HOME)
        self.done[step.line] = Ran(proc.returncode, out, proc.stderr)
        return self.done[step.line]


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> Runner:
    return Runner(tmp_path_factory.mktemp("readme"))


def _needs_tensorrt(step: Step) -> bool:
    words = shlex.split(step.command)
    return ("--backend" in words and "tensorrt" in words) or any(w.endswith((".plan", ".engine")) for w in words)


def _case(step: Step):
    marks = []
    if step.command in KNOWN_MISMATCHES:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_MISMATCHES[step.command]))
    return pytest.param(step, id=step.id, marks=marks)


def test_readme_quotes_commands():
    """The parser found the README's commands (so an empty parameter list cannot pass for a green README)."""
    assert len([s for s in STEPS if s.command.startswith("qdqtool ")]) >= 10, [s.id for s in STEPS]
    assert any(s.where for s in STEPS), "no block found that runs from ../shared/..."
    assert len([s for s in STEPS if s.command.startswith("python -c")]) >= 2
    assert set(KNOWN_MISMATCHES) <= {s.command for s in STEPS}, "KNOWN_MISMATCHES names a command not in README"


@pytest.mark.parametrize("step", [_case(s) for s in STEPS])
def test_readme_command(step: Step, runner: Runner, request):
    if step.where is not None:
        request.getfixturevalue("trt_samples")  # skips without ../shared/trt-samples
        if not runner.cwd(step).is_dir():
            pytest.skip(f"{runner.cwd(step)} not found")
    if _needs_tensorrt(step) and importlib.util.find_spec("tensorrt") is None:
        pytest.skip("needs TensorRT and an NVIDIA GPU")
    ran = runner.run(step)
    shown = f"$ {step.command}\n(exit {ran.code})\n{ran.out}\n--- stderr ---\n{ran.err}"

    measured = shlex.split(step.command)[1:2] == ["compare"]
    quoted = items(normalise("\n".join(step.quoted), measured))
    output = items(normalise(ran.out, measured))

    real = [q for q in quoted if q.kind != "gap"]
    expected = 1 if real and real[-1].text.startswith("FAILED |") else 0
    allowed = {expected}
    if measured and re.search(r"^latency: regression ", ran.out, re.M):
        allowed.add(1)  # the measured part: a regression beyond the noise exits 1
    assert ran.code in allowed, f"exit {ran.code}, README implies {expected}\n{shown}"

    ends = re.fullmatch(r"ends (.+?)\s*(?:\.\.\.|…)?", step.comment)
    if ends:
        last = next((o.text for o in reversed(output) if o.kind != "border"), "")
        assert last.startswith(ends.group(1)), f"README: `# {step.comment}`; last line {last!r}\n{shown}"

    problem = missing(quoted, output)
    assert problem is None, f"README.md:{step.line}: {problem}\n{shown}"


# --- the tables ---------------------------------------------------------------------------------------------------


def _markdown_table(header: str) -> list[list[str]]:
    """The rows (cells, backticks stripped) of the README table whose header line is ``header``."""
    lines = README_TEXT.splitlines()
    assert header in lines, f"README.md has no table `{header}`"
    rows = []
    for line in lines[lines.index(header) + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip().strip("`") for c in line.strip().strip("|").split("|")])
    return rows


def test_rules_table_is_qdqtool_rules(qdqtool):
    ran = qdqtool("rules", "--format", "json")
    assert ran.code == 0, ran.err
    rules = [[r["id"], r["name"], r["side"], r["severity"], r["summary"]] for r in json.loads(ran.out)]
    assert _markdown_table("| id | name | side | default | what |") == rules


def test_exit_code_table(qdqtool, tmp_path, monkeypatch):
    """0, 1, 2, 3 as the table says: 1 is `check --example` above; 2 and 3 here; 0 for a model without Q/DQ."""
    table = {int(code): meaning for code, meaning in _markdown_table("| code | meaning |")}
    assert sorted(table) == [0, 1, 2, 3, 130, 141, 143]  # 130, 141, 143: tests/reliability/test_signals.py
    assert "nothing to do" in table[0] and "CI gate" in table[1] and "no traceback" in table[2]

    import onnx
    from onnx import TensorProto, helper

    monkeypatch.chdir(tmp_path)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "plain",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), "plain.onnx")
    assert qdqtool("merge", "plain.onnx").code == 0  # "nothing to do"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.onnx"]

    bad = qdqtool("merge", "missing.onnx")  # bad input: one line on stderr, no traceback, nothing written
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1 and "Traceback" not in bad.err, bad
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.onnx"]
    assert "Traceback" in qdqtool("merge", "missing.onnx", "--debug").err  # "add --debug for one"

    from qdqtool.cli import main as entry

    def bug(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(entry.cli, "main", bug)
    broken = qdqtool("merge", "plain.onnx")  # a bug: exit 3 with the traceback
    assert broken.code == 3 and "Traceback" in broken.err and "RuntimeError: a bug" in broken.err, broken
