"""``merge --inputs data.npz``: the numeric check runs on the given arrays, not only under their file's name.

The model's merged output equals the original exactly for some inputs and not for others: two sibling Qs of
scales 1/16 and 1/8 on one tensor become one Q of 1/8, which changes every value that is not a multiple of 1/8.
On multiples of 1/8 the check must find the outputs bit-equal; on random data it must not.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from qdqtool.jobs.merge import MergeRequest, checked_merge
from tests.fixtures.builder import GraphBuilder

SHAPE = (1, 4, 8, 8)


@pytest.fixture
def siblings(tmp_path):
    b = GraphBuilder("siblings", style="int8")
    x = b.input("x", SHAPE)
    b.output(b.qdq(x, 1 / 16, "fine"))
    b.output(b.qdq(x, 1 / 8, "coarse"))
    path = tmp_path / "siblings.onnx"
    onnx.save(b.build(), path)
    return path


def npz(path, x: np.ndarray):
    np.savez(path, x=x.astype(np.float32))
    return path


def on_eighths(tmp_path):
    """Multiples of 1/8 inside both ranges (|x| <= 7.875): quantized the same by either scale."""
    return npz(tmp_path / "eighths.npz", np.random.default_rng(1).integers(-63, 64, SHAPE) / 8)


def off_eighths(tmp_path):
    """Odd multiples of 1/16: every value rounds differently at 1/8."""
    return npz(tmp_path / "sixteenths.npz", (2 * np.random.default_rng(1).integers(-60, 60, SHAPE) + 1) / 16)


def check_on(model, data, tmp_path):
    outcome = checked_merge(MergeRequest(model=model, output=tmp_path / "merged.onnx", inputs=data,
                                         max_added_error=100.0))
    assert outcome.result.unified and outcome.check is not None
    assert outcome.check.inputs == f"{data}: 1 sample"
    return {o.name: o for o in outcome.check.outputs}


def test_the_check_runs_on_the_given_arrays(siblings, tmp_path):
    exact = check_on(siblings, on_eighths(tmp_path), tmp_path)
    assert {name: o.overall.vs_original.max_abs for name, o in exact.items()} == {"fine.dq": 0.0, "coarse.dq": 0.0}
    assert all(s.vs_original.max_abs == 0.0 for o in exact.values() for s in o.slices)
    # on multiples of 1/8 neither scale loses anything against float either
    assert all(o.overall.original.max_abs == o.overall.edited.max_abs == 0.0 for o in exact.values())
    changed = check_on(siblings, off_eighths(tmp_path), tmp_path)
    assert changed["coarse.dq"].overall.vs_original.max_abs == 0.0  # its scale was already the group's
    assert changed["fine.dq"].overall.vs_original.max_abs == pytest.approx(1 / 16)  # every value moved half a step
    assert changed["fine.dq"].overall.vs_original.cosine < 0.9999
    fine = changed["fine.dq"].overall
    assert fine.original.max_abs == 0.0 and fine.edited.max_abs == pytest.approx(1 / 16)  # against float too


def test_merge_cli_reports_the_numbers_of_the_given_arrays(qdqtool, siblings, tmp_path):
    run = qdqtool("merge", siblings, "--inputs", on_eighths(tmp_path), "--json")
    assert run.code == 0, run.err
    check = json.loads(run.out)["numeric_check"]
    assert check["inputs"] == f"{tmp_path / 'eighths.npz'}: 1 sample"
    assert [o["overall"]["max_abs"] for o in check["outputs"]] == [0.0, 0.0]
    assert [o["overall"]["edited_vs_float"]["max_abs"] for o in check["outputs"]] == [0.0, 0.0]
