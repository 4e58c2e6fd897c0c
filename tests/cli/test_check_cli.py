"""`qdqtool check` and `qdqtool rules` through the real entry point: exit codes, outputs, the status line."""

from __future__ import annotations

import json

import onnx

from tests.gate import helpers
from tests.gate.helpers import trt_layer, write_engine

save = helpers.save  # the fixture


def test_passes_on_a_clean_model(qdqtool, save):
    run = qdqtool("check", save("yolov6_qat_int8_consistent"))
    assert run.code == 0
    assert run.out.splitlines()[-1].startswith("PASSED | 0 error(s), 0 warning(s), 0 info")


def test_fails_with_exit_1_and_a_failed_line(qdqtool, save):
    run = qdqtool("check", save("yolov6_qat_int8"))
    assert run.code == 1
    assert "QDQ101 concat-scale-mismatch" in run.out and "fix QDQ101, QDQ103: Run `qdqtool merge MODEL`" in run.out
    last = run.out.splitlines()[-1]
    assert last == "FAILED | 3 finding(s) fail the gate | 3 error(s), 3 warning(s), 0 info | fail on error"
    assert run.err == ""  # the FAILED line is the last word, in a terminal and in a merged CI log alike


def test_usage_errors(qdqtool, save, tmp_path):
    model = save("yolov6_qat_int8")
    run = qdqtool("check", model, "--profile", tmp_path / "profile.json")
    assert run.code == 2 and "give it with --engine" in run.err
    (tmp_path / "q.toml").write_text("")
    run = qdqtool("check", model, "--config", tmp_path / "q.toml", "--no-config")
    assert run.code == 2 and "contradict" in run.err


def test_sarif_uris_are_uri_references(qdqtool, save, tmp_path, monkeypatch):
    import shutil

    folder = tmp_path / "sp ace"
    folder.mkdir()
    model = folder / "my model#1.onnx"
    shutil.copyfile(save("yolov6_qat_int8"), model)
    monkeypatch.chdir(tmp_path)
    doc = json.loads(qdqtool("check", model, "--format", "sarif").out)
    uri = doc["runs"][0]["artifacts"][0]["location"]["uri"]
    assert uri == "sp%20ace/my%20model%231.onnx"


def test_fail_on(qdqtool, save):
    model = save("fan_out_int8_siblings")
    assert qdqtool("check", model).code == 0
    assert qdqtool("check", model, "--fail-on", "warning").code == 1
    assert qdqtool("check", save("yolov6_qat_int8"), "--fail-on", "never").code == 0


def test_machine_format_on_stdout_status_on_stderr(qdqtool, save):
    run = qdqtool("check", save("yolov6_qat_int8"), "--format", "json")
    assert run.code == 1
    doc = json.loads(run.out)
    assert doc["kind"] == "qdqtool-check" and doc["passed"] is False and doc["models"][0]["counts"]["failing"] == 3
    assert "FAILED |" in run.err


def test_output_file_gets_the_format_terminal_gets_pretty(qdqtool, save, tmp_path):
    out = tmp_path / "report.sarif"
    run = qdqtool("check", save("yolov6_qat_int8"), "--format", "sarif", "--output", out)
    assert run.code == 1
    assert json.loads(out.read_text())["version"] == "2.1.0"
    assert "QDQ101 concat-scale-mismatch" in run.out and f"wrote sarif to {out}" in run.out
    assert run.out.splitlines()[-1].startswith("FAILED |")


def test_every_format_writes(qdqtool, save, tmp_path):
    model = save("fan_out_int8_siblings")
    for fmt, marker in (("pretty", "PASSED |"), ("junit", "<testsuites"), ("github", "::warning file="),
                        ("markdown", "## qdqtool check: PASSED"), ("json", '"kind": "qdqtool-check"')):
        out = tmp_path / f"out.{fmt}"
        assert qdqtool("check", model, "--format", fmt, "--output", out).code == 0
        assert marker in out.read_text(), fmt


def test_several_models_from_pre_commit(qdqtool, save):
    run = qdqtool("check", save("yolov6_qat_int8_consistent"), save("fan_out_int8_siblings"))
    assert run.code == 0 and run.out.splitlines()[-1].startswith("PASSED | 2 models |")


def test_baseline_round_trip(qdqtool, save, tmp_path):
    model = save("yolov6_qat_int8")
    baseline = tmp_path / "baseline.json"
    assert qdqtool("check", model, "--format", "json", "--output", baseline).code == 1
    run = qdqtool("check", model, "--baseline", baseline)
    assert run.code == 0 and "| 6 in baseline |" in run.out.splitlines()[-1]


def test_engine_options(qdqtool, save, tmp_path):
    model = save("no_qdq")
    node = onnx.load(str(model)).graph.node[0].name  # an engine of this model names its nodes
    engine = write_engine(tmp_path / "engine", [trt_layer(node, "Reformat", ["fp32"], ["int8"], "QDQ")])
    run = qdqtool("check", model, "--engine", engine, "--max-qdq-layers", "0")
    assert run.code == 1 and "QDQ201" in run.out and "QDQ302" in run.out


def test_usage_and_input_errors_exit_2_with_one_line(qdqtool, save, tmp_path):
    model = save("no_qdq")
    not_onnx = tmp_path / "x.onnx"
    not_onnx.write_text("hello")
    cases = [
        ("check",),
        ("check", tmp_path / "missing.onnx"),
        ("check", not_onnx),
        ("check", model, "--disable", "QDQ999"),
        ("check", model, "--max-latency-regression", "lots"),
        ("check", model, model, "--baseline", tmp_path / "b.json"),
        ("check", model, "--format", "xml"),
        ("check", model, "--engine", tmp_path / "missing"),
        ("check", model, "--engine", tmp_path, "--predict"),
    ]
    for args in cases:
        run = qdqtool(*args)
        assert run.code == 2, (args, run.err)
        assert len(run.err.strip().splitlines()) == 1 and "Traceback" not in run.err, (args, run.err)


def test_predict_runs_the_engine_rules_on_the_cpu(qdqtool, save):
    run = qdqtool("check", save("resnet18_qat_residual"), "--predict", "--fail-on", "never")
    assert run.code == 0 and "QDQ201 unfused-qdq-layer" in run.out and "trt-sim prediction" in run.out


def test_config_error_is_bad_input(qdqtool, save, tmp_path):
    model = save("no_qdq")
    (tmp_path / "qdqtool.toml").write_text('fail_on = "error"\n')
    run = qdqtool("check", model)
    assert run.code == 2 and "did you mean 'fail-on'" in run.err
    assert qdqtool("check", model, "--no-config").code == 0


def test_rules_command(qdqtool):
    listing = qdqtool("rules")
    assert listing.code == 0 and "QDQ101" in listing.out and "QDQ303" in listing.out
    one = qdqtool("rules", "conv-not-int8")
    assert one.code == 0 and "fix:" in one.out and "QDQ203" in one.out
    rules = json.loads(qdqtool("rules", "--format", "json").out)
    assert {"id", "name", "side", "severity", "summary", "explanation", "fix", "options"} <= set(rules[0])
    assert qdqtool("rules", "--format", "markdown").out.startswith("| id | name |")
    assert qdqtool("rules", "QDQ000").code == 2
