"""`qdqtool analyze` and `qdqtool merge` through the real entry point: exit codes, outputs, error paths."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
import pytest

from qdqtool.analysis.groups import GroupStatus, find_scale_groups
from qdqtool.analysis.rules import load_rules
from tests.fixtures import models as M


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, path)
    return path


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def yolo(tmp_path) -> Path:
    return save(M.yolov6_qat("int8"), tmp_path / "yolo.onnx")


def test_analyze_lists_groups_and_writes_nothing(qdqtool, yolo):
    before = sorted(p.name for p in yolo.parent.iterdir())
    run = qdqtool("analyze", yolo)
    assert run.code == 0, run.err
    assert "concat+move-through" in run.out and "fan-out" in run.out
    assert "6 scale group(s) for tensorrt: 0 consistent, 6 mismatched, 0 refused" in run.out
    assert sorted(p.name for p in yolo.parent.iterdir()) == before


def test_analyze_json(qdqtool, yolo):
    run = qdqtool("analyze", yolo, "--json")
    doc = json.loads(run.out)
    assert doc["schema_version"] == 1 and doc["command"] == "analyze" and doc["target"] == "tensorrt"
    assert doc["summary"]["groups"] == 6 and doc["summary"]["mismatched"] == 6
    group = doc["groups"][0]
    for key in ("id", "rules", "status", "why", "scale_min", "scale_max", "ratio", "dtypes", "zero_points",
                "tensors", "members"):
        assert key in group
    assert {m["op"] for m in group["members"]} == {"Q", "DQ"}


def test_analyze_placement_findings(qdqtool, tmp_path):
    path = save(M.resnet_block("int8", skip="unquantized"), tmp_path / "resnet.onnx")
    run = qdqtool("analyze", path)
    assert run.code == 0
    assert run.out.count("placement: block") == 2 and "already quantized for block1.conv1.in.Q" in run.out


def test_merge_writes_a_valid_model_and_never_touches_the_input(qdqtool, yolo, tmp_path):
    before = digest(yolo)
    out = tmp_path / "merged.onnx"
    run = qdqtool("merge", yolo, "-o", out)
    assert run.code == 0, run.err
    assert run.out.strip().splitlines()[-1].startswith("PASSED | 6 group(s) unified, 0 refused | added error +")
    assert digest(yolo) == before
    merged = onnx.load(out)
    onnx.checker.check_model(merged, full_check=True)
    after = find_scale_groups(merged, load_rules())
    assert {g.status for g in after.groups} == {GroupStatus.CONSISTENT}
    # atomic write: no temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged.onnx", "yolo.onnx"]
    # merging the merged model again changes nothing
    again = tmp_path / "again.onnx"
    assert qdqtool("merge", out, "-o", again).code == 0
    assert again.read_bytes() == out.read_bytes()


def test_merge_default_output_name_and_no_verify(qdqtool, yolo):
    run = qdqtool("merge", yolo, "--no-verify", "--json")
    assert run.code == 0 and json.loads(run.out)["numeric_check"] is None
    assert (yolo.parent / "yolo.merged.onnx").exists()


def test_merge_json_and_dry_run(qdqtool, yolo):
    run = qdqtool("merge", yolo, "--dry-run", "--json")
    assert run.code == 0
    doc = json.loads(run.out)
    assert doc["dry_run"] and doc["output"] is None and doc["numeric_check"] is None
    assert [a["action"] for a in doc["actions"]] == ["unified"] * 6
    assert not (yolo.parent / "yolo.merged.onnx").exists()
    run = qdqtool("merge", yolo, "--json")
    doc = json.loads(run.out)
    check = doc["numeric_check"]
    assert check["passed"] and check["worst_added_db"] <= check["max_added_error_db"] == 3.0
    assert check["random_inputs"] and "random" in check["notes"][0] and "derived" in check["reference"]
    assert check["outputs"][0]["axes"] == [1, 2]  # box rows / class rows and the two anchor levels
    assert doc["deduplicated"] and doc["output"].endswith("yolo.merged.onnx")


def test_merge_example(qdqtool, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = qdqtool("merge", "--example")
    assert run.code == 0, run.err
    assert "PASSED" in run.out
    onnx.checker.check_model(onnx.load(tmp_path / "yolov6_qat.merged.onnx"), full_check=True)


def test_a_destroyed_branch_fails_the_check_even_when_the_global_cosine_is_perfect(qdqtool, tmp_path):
    path = save(M.extreme_ratio(), tmp_path / "extreme.onnx")
    refused = qdqtool("merge", path, "--dry-run", "--json")
    assert refused.code == 0 and json.loads(refused.out)["actions"][0]["action"] == "refused"
    forced = qdqtool("merge", path, "--max-scale-ratio", "1e6", "--json")
    assert forced.code == 1
    check = json.loads(forced.out)["numeric_check"]
    output = check["outputs"][0]
    assert output["overall"]["edited_vs_float"]["cosine"] > 0.999  # the boxes dominate the whole-tensor cosine
    assert output["overall"]["added_db"] < 0.1  # and its error against float
    worst = output["worst"]
    assert worst["slice"] == "axis 1 [4:8]" and worst["added_db"] > 20  # class rows destroyed
    assert worst["original_vs_float"]["cosine"] > 0.99 and worst["edited_vs_float"]["cosine"] < 0.5
    assert "numeric check failed" in forced.err and forced.err.count("\n") == 1
    assert not (tmp_path / "extreme.merged.onnx").exists()


def test_min_cosine_threshold(qdqtool, yolo):
    assert qdqtool("merge", yolo, "--min-cosine", "0.999999").code == 1
    assert qdqtool("merge", yolo, "--min-cosine", "0.9").code == 0


def test_user_inputs_and_input_shapes(qdqtool, yolo, tmp_path):
    import numpy as np

    data = tmp_path / "inputs.npz"
    np.savez(data, images=np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32))
    run = qdqtool("merge", yolo, "--inputs", data, "--min-cosine", "0.9", "--json")
    check = json.loads(run.out)["numeric_check"]
    assert run.code == 0 and check["inputs"] == f"{data}: 1 sample" and not check["random_inputs"]
    bad = qdqtool("merge", yolo, "--input-shape", "nope:1x3", "--json")
    assert bad.code == 2 and "unknown input" in bad.err


def test_no_qdq_is_nothing_to_do(qdqtool, tmp_path):
    path = save(M.no_qdq(), tmp_path / "float.onnx")
    run = qdqtool("merge", path)
    assert run.code == 0 and "nothing to do" in run.out
    assert not (tmp_path / "float.merged.onnx").exists()
    assert qdqtool("analyze", path).code == 0


def test_opset21_model_is_checked(qdqtool, tmp_path):
    path = save(M.yolov6_qat("int8", opset=21), tmp_path / "y21.onnx")
    run = qdqtool("merge", path)
    assert run.code == 0, run.err


@pytest.mark.parametrize("command", ["analyze", "merge"])
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.onnx", "no such file"),
        (lambda d: d, "is a folder"),
        (lambda d: write(d / "empty.onnx", b""), "empty file"),
        (lambda d: write(d / "text.onnx", b"hello, I am not a model\n"), "ONNX"),
        (lambda d: write(d / "cut.onnx", M.yolov6_qat().SerializeToString()[:5000]), "truncated"),
    ],
    ids=["missing", "folder", "empty", "not-onnx", "truncated"],
)
def test_bad_input_is_one_line_and_exit_2(qdqtool, tmp_path, command, make, message):
    run = qdqtool(command, make(tmp_path))
    assert run.code == 2
    assert message in run.err and run.err.count("\n") == 1 and "Traceback" not in run.err


def test_usage_errors(qdqtool, yolo):
    for args in (["merge"], ["merge", yolo, "--example"], ["merge", yolo, "--policy", "min"],
                 ["analyze", yolo, "--target", "nope"], ["merge", yolo, "-o", yolo]):
        run = qdqtool(*args)
        assert run.code == 2, args
        assert run.err.count("\n") == 1 and "Traceback" not in run.err, args


def test_debug_shows_the_traceback(qdqtool, tmp_path):
    run = qdqtool("analyze", tmp_path / "missing.onnx", "--debug")
    assert run.code == 2 and "Traceback" in run.err


def test_help_works_for_every_command(qdqtool):
    run = qdqtool("--help")
    assert run.code == 0
    for name in ("analyze", "merge"):
        assert name in run.out
        assert qdqtool(name, "--help").code == 0


def test_large_group_tables_show_the_groups_that_need_work_first(qdqtool, tmp_path):
    from benchmarks.merge_scaling import qat_chain
    from qdqtool.report.groups_table import MAX_ROWS

    path = save(qat_chain(1500), tmp_path / "chain.onnx")
    run = qdqtool("analyze", path, "--no-predict")
    groups = len(find_scale_groups(onnx.load(path), load_rules()).groups)
    assert groups > MAX_ROWS
    assert f"... {groups - MAX_ROWS} more group(s) not shown" in run.out
    assert len(json.loads(qdqtool("analyze", path, "--json", "--no-predict").out)["groups"]) == groups


def test_narrow_terminals_keep_the_status_column(yolo, monkeypatch, capsys):
    from tests.conftest import run_cli

    monkeypatch.setenv("COLUMNS", "80")
    run = run_cli(capsys, "analyze", yolo, "--no-predict")
    assert run.code == 0
    rows = [line for line in run.out.splitlines() if line.startswith("│ G")]
    assert len(rows) == 6 and all("mismatched" in row and len(row) <= 80 for row in rows)


def test_report_refuses_a_merged_model_of_another_network(qdqtool, yolo, tmp_path):
    other = save(M.resnet_block("int8"), tmp_path / "other.onnx")
    run = qdqtool("report", yolo, "--merged", other, "-o", tmp_path / "r.html")
    assert run.code == 2 and "same inputs and outputs" in run.err and "Traceback" not in run.err


def test_output_paths_that_cannot_be_used(qdqtool, yolo, tmp_path):
    link = tmp_path / "link.onnx"
    link.symlink_to(yolo)
    before = digest(yolo)
    run = qdqtool("merge", link, "-o", yolo)
    assert run.code == 2 and "overwrite the input" in run.err and digest(yolo) == before
    (tmp_path / "folder").mkdir()
    run = qdqtool("merge", yolo, "-o", tmp_path / "folder")
    assert run.code == 2 and "is a folder" in run.err
    (tmp_path / "file.txt").write_text("x")
    run = qdqtool("merge", yolo, "-o", tmp_path / "file.txt" / "out.onnx")
    assert run.code == 2 and "is a file, not a folder" in run.err and run.err.count("\n") == 1
    run = qdqtool("analyze", yolo, "--target", tmp_path)
    assert run.code == 2 and "not a rules .toml file" in run.err


def test_example_leaves_nothing_behind(qdqtool, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.chdir(tmp_path)
    before = set(Path(tempfile.gettempdir()).glob("qdqtool-*"))
    assert qdqtool("merge", "--example", "--dry-run").code == 0
    assert set(Path(tempfile.gettempdir()).glob("qdqtool-*")) == before
    assert list(tmp_path.iterdir()) == []


def test_a_failed_check_ends_with_the_failed_line(qdqtool, yolo):
    run = qdqtool("merge", yolo, "--min-cosine", "0.999999")
    assert run.code == 1 and run.out.splitlines()[-1].startswith("FAILED | ") and run.err == ""
    assert "lower --max-scale-ratio" in run.out.splitlines()[-2]


def test_no_verify_is_not_called_a_pass(qdqtool, yolo, tmp_path):
    run = qdqtool("merge", yolo, "--no-verify", "-o", tmp_path / "out.onnx")
    assert run.code == 0 and run.out.splitlines()[-1].startswith("UNCHECKED | 6 group(s) unified")


def test_input_shapes_are_checked_in_a_dry_run_too(qdqtool, yolo):
    for shape in ("nope:1x3x64x64", "images:1x3x64", ):
        run = qdqtool("merge", yolo, "--dry-run", "--input-shape", shape)
        assert run.code == 2, shape
    run = qdqtool("merge", yolo, "--input-shape", "images:1x3x64x64", "--input-shape", "images:2x3x64x64")
    assert run.code == 2 and "given twice" in run.err


def test_opset21_outputs_say_when_onnxruntime_default_session_rejects_them(qdqtool, tmp_path):
    path = save(M.yolov6_qat("int8", opset=21), tmp_path / "y21.onnx")
    run = qdqtool("merge", path, "--json")
    notes = json.loads(run.out)["notes"]
    import onnxruntime as ort

    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        rejected = False
    except Exception:  # noqa: BLE001
        rejected = True
    assert any("default session rejects" in n for n in notes) == rejected


def test_the_collector_pauses_only_inside_merges_hot_section(qdqtool, yolo, tmp_path, monkeypatch):
    """Python's cycle collector is off while merge builds its many small objects, and on everywhere else: the
    numeric check, rendering, and every other command."""
    import gc

    from qdqtool.surgery import merge as merge_module
    from qdqtool.verify import check as numerics

    seen: dict[str, bool] = {}
    unify, compare = merge_module.unify_groups, numerics.compare_models

    def spy_unify(*args, **kwargs):
        seen["unify"] = gc.isenabled()
        return unify(*args, **kwargs)

    def spy_compare(*args, **kwargs):
        seen["check"] = gc.isenabled()
        return compare(*args, **kwargs)

    monkeypatch.setattr(merge_module, "unify_groups", spy_unify)
    monkeypatch.setattr(numerics, "compare_models", spy_compare)
    assert gc.isenabled()
    assert qdqtool("merge", yolo, "-o", tmp_path / "out.onnx").code == 0
    assert seen == {"unify": False, "check": True} and gc.isenabled()
    assert qdqtool("analyze", yolo).code == 0 and gc.isenabled()
