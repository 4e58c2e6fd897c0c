"""Large inputs still print whole: above 2,000 rows the layer table is laid out without rich (which measured and
folded every cell: 17.8 s for 33k layers; benchmarks/large_reports.py has the figures)."""

from __future__ import annotations

import json

from qdqtool.report.engine_tables import PLAIN_FROM_ROWS
from tests.conftest import run_cli


def test_a_large_engine_prints_every_layer(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    count = PLAIN_FROM_ROWS + 500
    layers = [{"Name": f"[/model.{i}/conv/Conv]", "LayerType": "CaskConvolution",
               "Inputs": [{"Name": f"t{i}", "Format/Datatype": "Row major Int8 format"}],
               "Outputs": [{"Name": f"t{i + 1}", "Format/Datatype": "Row major Int8 format"}]} for i in range(count)]
    (tmp_path / "layers.json").write_text(json.dumps({"Layers": layers}))
    run = run_cli(capsys, "inspect", tmp_path / "layers.json")
    assert run.code == 0, run.err
    rows = [line for line in run.out.splitlines() if "[/model." in line]
    assert len(rows) == count and rows[0].split()[:2] == ["0", "[/model.0/conv/Conv]"]  # names are text, not markup
    assert "Summary" in run.out and f"{count} (compute {count})" in run.out
