"""Bad ``--inputs`` and ``--reference`` through every command that runs a model: one line on stderr, exit 2, and
nothing written: not the output model, not a report, not a temporary file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from qdqtool.surgery.float_reference import float_reference
from tests.fixtures import models as M


def _write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _pictures(folder: Path) -> Path:
    folder.mkdir()
    for k in range(2):
        Image.fromarray(np.full((48, 80, 3), 40 * k, np.uint8)).save(folder / f"img{k}.png")
    return folder


def _batch_of_two(tmp_path: Path) -> Path:
    """The model at batch 2, given 3 samples."""
    model = M.yolov6_qat("int8")
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2
    onnx.save(model, tmp_path / "work" / "model.onnx")
    np.savez(tmp_path / "odd.npz", images=np.zeros((3, 3, 64, 64), np.float32))
    return tmp_path / "odd.npz"


def _other_reference(tmp_path: Path) -> Path:
    reference = float_reference(M.yolov6_qat("int8"))
    reference.graph.output[0].name = "scores"
    for node in reference.graph.node:
        node.output[:] = ["scores" if o == "outputs" else o for o in node.output]
    onnx.save(reference, tmp_path / "other_fp32.onnx")
    return tmp_path / "other_fp32.onnx"


RAISING_LOADER = "def load_data():\n    raise OSError('no camera')\n"

# (name, what writes the case's files outside the work folder and returns its arguments, what stderr must say)
CASES = [
    ("no-images", lambda d: ["--inputs", (d / "empty").mkdir() or d / "empty"], "no images"),
    ("unreadable-image", lambda d: ["--inputs", _write(d / "bad.png", b"not a png")], "not a readable image"),
    ("preprocess-size", lambda d: ["--inputs", _pictures(d / "pics"), "--input-shape", "images:1x3x32x32"],
     "input-shape"),
    ("preprocess-mean", lambda d: ["--inputs", _pictures(d / "pics"), "--mean", "0.5,0.5"], "mean"),
    ("npz-batch", lambda d: ["--inputs", _batch_of_two(d)], "not a multiple of the model's batch 2"),
    ("loader-raises", lambda d: ["--inputs", _write(d / "loader.py", RAISING_LOADER)],
     "the data loader failed at sample 0: OSError: no camera"),
    ("reference-outputs", lambda d: ["--reference", _other_reference(d)], "the reference has other outputs"),
]

COMMANDS = {
    "merge": lambda work: ["merge", work / "model.onnx", "-o", work / "merged.onnx"],
    "compare": lambda work: ["compare", work / "model.onnx", "--backend", "onnxruntime", "--keep", work / "compare"],
    "report": lambda work: ["report", work / "model.onnx", "-o", work / "report.html"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_bad_inputs_are_one_line_exit_2_and_write_nothing(qdqtool, tmp_path, command, case):
    _, make, message = next(c for c in CASES if c[0] == case)
    work = tmp_path / "work"
    work.mkdir()
    onnx.save(M.yolov6_qat("int8"), work / "model.onnx")  # the batch case overwrites it
    extra = make(tmp_path)
    before = sorted(p.name for p in work.iterdir())
    run = qdqtool(*COMMANDS[command](work), *extra)
    assert run.code == 2, run.err
    assert message in run.err, run.err
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    assert sorted(p.name for p in work.iterdir()) == before  # nothing written, no temporary left behind
