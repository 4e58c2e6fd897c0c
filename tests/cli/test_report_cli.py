"""`qdqtool report` through the real entry point: the page, --annotate, exit codes."""

from __future__ import annotations

import onnx

from tests.gate import helpers
from tests.gate.helpers import ENGINE_JSON

save = helpers.save  # the fixture


def test_report_and_annotate(qdqtool, save, tmp_path):
    model = save("yolov6_qat_int8")
    page, annotated = tmp_path / "r.html", tmp_path / "annotated.onnx"
    before, after = helpers.engines_of(model, tmp_path / "engines")
    run = qdqtool("report", model, "-o", page, "--annotate", annotated, "--before", before, "--after", after,
                  "--drawing", "builtin")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == f"wrote {page}" and lines[1].startswith(f"wrote {annotated} (")
    assert lines[-1].startswith("PASSED | 6 of 6 group(s) changed | added error +")
    assert lines[-1].endswith("| engines improved")
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.count('class="qdq-drawing"') == 12
    assert any(p.key == "qdqtool.group" for n in onnx.load(str(annotated)).graph.node for p in n.metadata_props)


def test_default_output_beside_the_model_and_given_merged_model(qdqtool, save, tmp_path):
    model = save("yolov6_qat_int8")
    merged = tmp_path / "merged.onnx"
    assert qdqtool("merge", model, "-o", merged).code == 0
    run = qdqtool("report", model, "--merged", merged)
    assert run.code == 0 and (tmp_path / "yolov6_qat_int8.report.html").is_file()
    assert f"merged model: {merged}" in (tmp_path / "yolov6_qat_int8.report.html").read_text()


def test_failed_numeric_check_still_writes_the_report(qdqtool, save, tmp_path):
    run = qdqtool("report", save("yolov6_qat_int8"), "-o", tmp_path / "r.html", "--min-cosine", "1.0")
    assert run.code == 1 and run.out.splitlines()[-1].startswith("FAILED |")
    assert "FAILED: added error" in (tmp_path / "r.html").read_text() and "worst cosine" in run.out


def test_bad_input_exits_2(qdqtool, save, tmp_path):
    model = save("no_qdq")
    for args in (("report", tmp_path / "missing.onnx"), ("report", model, "--before", ENGINE_JSON / "trt84_before"),
                 ("report", model, "-o", model), ("report", model, "--drawing", "fancy")):
        run = qdqtool(*args)
        assert run.code == 2 and len(run.err.strip().splitlines()) == 1, (args, run.err)
    assert not (tmp_path / "no_qdq.report.html").exists()
