"""qdqtool sensitivity / partial / report --sensitivity as a user runs them (the synthetic YOLOv6-style fixture:
fast; the trained-model behaviour is in tests/jobs/test_sensitivity.py)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from tests.fixtures import models as M


@pytest.fixture
def yolo(tmp_path):
    path = tmp_path / "yolo.onnx"
    onnx.save(M.yolov6_qat("int8"), path)
    np.savez(tmp_path / "calib.npz", images=np.random.default_rng(0).random((3, 3, 64, 64), dtype=np.float32))
    return path


def test_sensitivity_json_ranks_every_layer_and_group(qdqtool, yolo, tmp_path):
    run = qdqtool("sensitivity", yolo, "--inputs", tmp_path / "calib.npz", "--mode", "both", "--json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["command"] == "sensitivity" and doc["samples"] == 3 and not doc["random_inputs"]
    assert [r["rank"] for r in doc["layers"]] == list(range(1, 26))
    assert {r["op_type"] for r in doc["layers"]} == {"Conv"}
    keys = [r["key"] for r in doc["layers"]]
    assert keys == sorted(keys, reverse=True)
    assert all({"in_float", "local"} <= set(r) for r in doc["layers"])
    assert [o["name"] for o in doc["base"]["outputs"]] == ["outputs"]  # per output, beside the worst slice
    assert doc["base"]["snr_db"] <= doc["base"]["outputs"][0]["snr_db"]
    assert len(doc["groups"]) == 6 and all(set(r["unified"]) == {"max", "output"} for r in doc["groups"])
    assert doc["tensors"] and all("qdq_err" in t for t in doc["tensors"])


def test_sensitivity_table_and_the_random_data_warning(qdqtool, yolo):
    run = qdqtool("sensitivity", yolo, "--top", "3")
    assert run.code == 0, run.err
    assert "Layers, most sensitive first (the first 3 of 25)" in run.out
    assert "inputs are seeded random data" in run.out
    assert run.out.rstrip().splitlines()[-1].startswith("PASSED | 25 layer(s), 6 group(s) ranked | most sensitive: L")


def test_partial_writes_keep_float_layers_and_prices_each_step(qdqtool, yolo, tmp_path):
    out = tmp_path / "partial.onnx"
    before = yolo.read_bytes()
    run = qdqtool("partial", yolo, "--inputs", tmp_path / "calib.npz", "--keep-float", "2", "--rank", "local",
                  "-o", out, "--json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["reached"] is None and len(doc["float_layers"]) <= 2 and doc["output"] == str(out)
    assert all({"kernels", "bytes_moved", "precision"} <= set(s["trt_sim"]) for s in doc["steps"])
    assert out.is_file() and yolo.read_bytes() == before
    assert doc["final"]["score"]["snr_db"] >= doc["start"]["score"]["snr_db"]


def test_partial_unreachable_target_is_exit_1_and_writes_nothing(qdqtool, yolo, tmp_path):
    out = tmp_path / "partial.onnx"
    run = qdqtool("partial", yolo, "--inputs", tmp_path / "calib.npz", "--target-cosine", "1", "--ops", "ConvTranspose",
                  "-o", out)
    assert run.code == 1 and not out.exists()
    assert run.out.rstrip().splitlines()[-1].startswith("FAILED | target cosine 1.0 not reached: best cosine")


@pytest.mark.parametrize("args, message", [
    ([], "say when to stop"),
    (["--target-snr", "20", "--target-cosine", "0.9"], "give one target"),
    (["--keep-float", "1", "--ops", "Nothing"], None),
])
def test_partial_bad_usage_is_one_line(qdqtool, yolo, tmp_path, args, message):
    run = qdqtool("partial", yolo, *args, "-o", tmp_path / "p.onnx")
    if message is None:  # no layer of that type: nothing to put in float, the model is written as it is
        assert run.code == 0, run.err
        return
    assert run.code == 2 and message in run.err and run.err.count("\n") == 1
    assert not (tmp_path / "p.onnx").exists()


def test_sensitivity_with_no_units_is_one_line(qdqtool, tmp_path):
    path = tmp_path / "plain.onnx"
    onnx.save(M.no_qdq(), path)
    run = qdqtool("sensitivity", path)
    assert run.code == 2 and "no quantized layer and no scale group" in run.err and run.err.count("\n") == 1


def test_report_charts_the_sensitivity(qdqtool, yolo, tmp_path):
    page = tmp_path / "report.html"
    run = qdqtool("report", yolo, "--inputs", tmp_path / "calib.npz", "--sensitivity", "local", "-o", page)
    assert run.code == 0, run.err
    html = page.read_text()
    assert '<section id="sensitivity">' in html and html.count('class="bar-sensitivity"') == 25
