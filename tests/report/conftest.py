"""Fixtures for the output-format tests: one check with errors, a warning, a waiver and engine findings."""

from __future__ import annotations

import pytest

from qdqtool.jobs.check import CheckResult
from tests.gate import helpers
from tests.gate.helpers import lint, trt_layer, write_engine

save = helpers.save  # fixture

WAIVER = """
[[waive]]
rule = "QDQ101"
nodes = ["neck.cat_p4"]
reason = "accepted, 50% of P4 | see #12"
"""


@pytest.fixture
def check_result(save, tmp_path, monkeypatch) -> CheckResult:
    """yolov6_qat_int8 with one waived Concat finding and a standalone Q/DQ engine layer; cwd = the model's folder."""
    model = save("yolov6_qat_int8")
    (tmp_path / "qdqtool.toml").write_text(WAIVER)
    engine = write_engine(tmp_path / "engine", [trt_layer("neck.Rep_p4.in.Q", "Reformat", ["fp16"], ["int8"], "QDQ")])
    monkeypatch.chdir(tmp_path)
    return CheckResult([lint(model, use_config=True, engine=engine)])
