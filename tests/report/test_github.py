"""GitHub workflow commands: one annotation per active finding, escaped; a closing notice."""

from __future__ import annotations

from qdqtool.report.github import check_github, escape_data, escape_property


def test_escaping():
    assert escape_data("50% done\nnext\r") == "50%25 done%0Anext%0D"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_annotations(check_result):
    lines = check_github(check_result).splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    assert len(errors) == 3  # two Concat groups (the third is waived) and the standalone Q/DQ layer
    assert all(line.startswith("::error file=yolov6_qat_int8.onnx,line=1,title=QDQ") for line in errors)
    assert len(warnings) == 3 and all("QDQ103 fan-out-scale-mismatch" in w for w in warnings)
    assert not any("neck.cat_p4" in line.split("::")[2].split(" ")[0] for line in errors)
    assert all("\n" not in line for line in lines)
    assert lines[-1] == "::notice title=qdqtool check::qdqtool check FAILED: 3 finding(s) fail the gate"
