"""`qdqtool compare`: the real entry point, exit codes, the JSON document, --keep, --markdown."""

from __future__ import annotations

import json

import onnx
import pytest

from qdqtool.engine import backends
from qdqtool.engine.backends import Backend
from tests.fixtures import ort_graphs as G

FAST = ("--warmup", "1", "--iterations", "3", "--rounds", "5")


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "pool.onnx"
    onnx.save(G.pool_chain(), path)
    return path


def test_json_document(qdqtool, model):
    run = qdqtool("compare", model, "--json", *FAST)
    doc = json.loads(run.out)
    assert run.code == (0 if doc["status"] == "passed" else 1)
    assert doc["schema_version"] == 1 and doc["command"] == "compare" and doc["backend"] == "onnxruntime"
    assert doc["target"] == "onnxruntime-cpu" and doc["merge"]["unified"] == 1 and doc["merge"]["changed"]
    assert doc["merge"]["numeric_check"]["passed"] is True
    assert doc["leftover_qdq"]["before"] == 6 and doc["leftover_qdq"]["after"] == 2
    assert len(doc["leftover_qdq"]["removed"]) == 4 and doc["leftover_qdq"]["added"] == []
    lat = doc["latency"]
    assert lat["verdict"] in ("faster", "no gain", "regression") and lat["rounds"] == 5 and lat["iterations"] == 3
    assert len(lat["before_ms"]["values"]) == 5 and lat["before_ms"]["min"] <= lat["before_ms"]["median"]
    if lat["verdict"] == "faster":
        assert lat["after_ms"]["median"] < lat["before_ms"]["median"]
    assert doc["diff"]["command"] == "diff" and doc["artefacts"] is None
    assert doc["status_line"].split(" | ")[1] == "leftover Q/DQ 6 -> 2"


def test_tables_and_the_status_line(qdqtool, model):
    run = qdqtool("compare", model, *FAST)
    assert run.code in (0, 1)
    assert "leftover Q/DQ layers" in run.out and "latency quartiles (ms)" in run.out
    status = "PASSED" if run.code == 0 else "FAILED"
    assert f"{status} | leftover Q/DQ 6 -> 2 | latency " in run.out


def test_markdown_and_keep(qdqtool, model, tmp_path):
    keep = tmp_path / "kept"
    run = qdqtool("compare", model, "--markdown", "--keep", keep, *FAST)
    assert run.code in (0, 1)
    assert run.out.startswith("## qdqtool compare:") and "| leftover Q/DQ layers | 6 | 2 |" in run.out
    doc = json.loads((keep / "compare.json").read_text())
    assert doc["artefacts"] == str(keep) and (keep / "pool.merged.onnx").is_file()
    assert (keep / "before" / "engine_report.json").is_file() and (keep / "after" / "optimized.onnx").is_file()


def test_nothing_to_merge_exits_0(qdqtool, tmp_path):
    path = tmp_path / "concat.onnx"
    onnx.save(G.concat_mixed(), path)
    run = qdqtool("compare", path, "--json", *FAST)
    doc = json.loads(run.out)
    assert run.code == 0 and doc["status"] == "nothing to merge" and doc["latency"] is None
    assert doc["leftover_qdq"]["before"] is None


def test_numeric_check_failure_exits_1(qdqtool, model):
    run = qdqtool("compare", model, "--min-cosine", "1.0", *FAST)
    assert run.code == 1 and run.out.splitlines()[-1].startswith("FAILED | leftover Q/DQ 6 -> 2")
    assert "< 1.0" in run.out and run.err == ""  # the FAILED line is the last word
    as_json = qdqtool("compare", model, "--min-cosine", "1.0", "--json", *FAST)
    assert as_json.code == 1 and as_json.err.startswith("qdqtool: failed: leftover Q/DQ 6 -> 2")


def test_a_regression_exits_1(qdqtool, model, monkeypatch):
    onnxruntime = backends.BACKENDS["onnxruntime"]
    monkeypatch.setitem(backends.BACKENDS, "onnxruntime", Backend(
        name="onnxruntime", summary=onnxruntime.summary, loader_path=onnxruntime.loader_path,
        timer_path="tests.jobs.test_compare:SlowerAfter", default_target=onnxruntime.default_target))
    run = qdqtool("compare", model, *FAST)
    assert run.code == 1 and "(+20.0%, regression)" in run.out and "FAILED |" in run.out


@pytest.mark.parametrize("args, message", [
    (("missing.onnx",), "missing.onnx"),
    (("{model}", "--rounds", "3"), "3 is not in the range x>=5"),
    (("{model}", "--target", "nope"), "unknown target 'nope'"),
    (("{model}", "--json", "--markdown"), "exclude each other"),
])
def test_bad_usage_exits_2_with_one_line(qdqtool, model, args, message):
    run = qdqtool("compare", *(str(a).format(model=model) for a in args))
    assert run.code == 2 and message in run.err and len(run.err.strip().splitlines()) == 1


def test_help_documents_the_schema_and_the_verdicts(qdqtool):
    run = qdqtool("compare", "--help")
    assert run.code == 0
    for text in ("schema_version", "leftover_qdq", "regression", "no gain", "--keep", "--rounds", "--tolerance"):
        assert text in run.out


def test_compare_runs_placement_fixes_too(qdqtool, tmp_path):
    """`compare --fix residual-add` on the predictor: the float skips get their Q/DQ and fewer Q/DQ stay standalone."""
    import onnx

    from tests.fixtures import models as M

    path = tmp_path / "resnet_block.onnx"
    onnx.save(M.resnet_block("int8", skip="unquantized"), path)
    plain = qdqtool("compare", path, "--backend", "trt-sim", "--json")
    assert plain.code == 0 and json.loads(plain.out)["status"] == "nothing to merge"
    fixed = qdqtool("compare", path, "--backend", "trt-sim", "--fix", "residual-add", "--json")
    assert fixed.code == 0, fixed.err
    doc = json.loads(fixed.out)
    assert doc["status"] == "passed" and doc["leftover_qdq"]["after"] < doc["leftover_qdq"]["before"]
