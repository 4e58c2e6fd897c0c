"""The report's drawings: subgraph extraction, our own SVG layout, Graphviz and its fallback, the bar chart."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from qdqtool.analysis.subgraph import group_subgraph
from qdqtool.engine.diff import diff_engines
from qdqtool.engine.load import engine_report_from_path
from qdqtool.ir.index import GraphIndex
from qdqtool.report.html.chart import kernel_time_chart
from qdqtool.report.html.graphviz import draw_with_graphviz, to_dot
from qdqtool.report.html.svg import NODE_H, draw_subgraph, layout
from tests.fixtures.models import yolov6_qat
from tests.gate.helpers import ENGINE_JSON

SVG = "{http://www.w3.org/2000/svg}"
P4 = ["neck.upsample_feat0_quant.Q", "neck.upsample_feat0_quant.DQ", "neck.Rep_p4.in.Q", "neck.Rep_p4.in.DQ",
      "backbone.ERBlock_4.0.in.Q", "backbone.ERBlock_4.0.in.DQ"]


@pytest.fixture(scope="module")
def p4():
    return group_subgraph(GraphIndex(yolov6_qat()), P4, ["neck.cat_p4"])


def test_subgraph_has_members_joint_context_and_scales(p4):
    kinds = {n.name: n.kind for n in p4.nodes}
    assert {name for name, kind in kinds.items() if kind in ("q", "dq")} == set(P4)
    assert kinds["neck.cat_p4"] == "joint" and kinds["neck.upsample0"] == "context"
    assert kinds["neck.Rep_p4.conv"] == "context"
    edge = next(e for e in p4.edges if e.src == "neck.upsample_feat0_quant.Q")
    assert edge.dst == "neck.upsample_feat0_quant.DQ" and edge.label == "s=0.045"
    assert all(e.src in kinds and e.dst in kinds for e in p4.edges)


def test_layout_puts_every_node_below_its_inputs_without_overlap(p4):
    pos = layout(p4)
    for e in p4.edges:
        assert pos[e.dst][1] >= pos[e.src][1] + NODE_H, (e.src, e.dst)
    assert len(set(pos.values())) == len(pos)


def test_own_drawing_is_valid_svg_with_names_scales_and_highlights(p4):
    svg = draw_subgraph(p4, "G2 <before>", {("neck.Rep_p4.in.Q", "neck.Rep_p4.in.DQ")})
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("class") == "qdq-drawing"
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert titles[0] == "G2 <before>" and "neck.cat_p4 (Concat)" in titles
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "edge-label"]
    assert "s=0.045" in labels and "s=0.06" in labels
    red = [line for line in root.iter(f"{SVG}line") if line.get("stroke") == "#dc2626"]
    assert len(red) == 1


def test_dot_text_quotes_names():
    from qdqtool.analysis.subgraph import DrawEdge, DrawNode, SubGraph

    sub = SubGraph([DrawNode('a"b', "Relu", "context"), DrawNode("c", "QuantizeLinear", "q")],
                   [DrawEdge('a"b', "c", "t", "s=0.5")])
    assert '"a\\"b" -> "c" [label="s=0.5"];' in to_dot(sub, "G1")
    assert '"a\\"b" -> "c" [label="s=0.5", color="#dc2626", fontcolor="#dc2626"];' in to_dot(sub, "G1", {('a"b', "c")})


def _fake_dot(folder: Path, body: str) -> str:
    path = folder / "dot"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_graphviz_missing_or_failing_falls_back_with_a_reason(p4, tmp_path):
    assert draw_with_graphviz(p4, "G2", set(), dot=str(tmp_path / "nowhere")) == (None, "Graphviz could not run "
        f"(FileNotFoundError: [Errno 2] No such file or directory: '{tmp_path / 'nowhere'}')")
    failing = _fake_dot(tmp_path, "echo 'Error: syntax error in line 1' >&2\nexit 1\n")
    svg, why = draw_with_graphviz(p4, "G2", set(), dot=failing)
    assert svg is None and why == "Graphviz failed (exit 1: Error: syntax error in line 1)"


def test_graphviz_output_is_inlined(p4, tmp_path):
    fake = _fake_dot(tmp_path, 'cat > /dev/null\necho \'<?xml version="1.0"?>\'\necho \'<!DOCTYPE svg>\'\n'
                               'echo \'<svg width="10pt"><g/></svg>\'\n')
    svg, why = draw_with_graphviz(p4, "G2", set(), dot=fake)
    assert why == "" and svg == '<svg class="qdq-drawing" width="10pt"><g/></svg>'


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed (optional)")
def test_real_graphviz(p4):
    svg, why = draw_with_graphviz(p4, "G2")
    assert why == "" and svg.startswith('<svg class="qdq-drawing"')
    assert "neck.cat_p4" in svg and "s=0.045" in svg


def test_kernel_time_chart():
    before = engine_report_from_path(ENGINE_JSON / "trt84_before")
    after = engine_report_from_path(ENGINE_JSON / "trt84_after")
    root = ET.fromstring(kernel_time_chart(diff_engines(before, after), top=5))
    bars = [r for r in root.iter(f"{SVG}rect") if (r.get("class") or "").startswith("bar-")]
    assert len([b for b in bars if b.get("class") == "bar-before"]) == 5
    widths = {r.find(f"{SVG}title").text: float(r.get("width")) for r in bars}
    assert max(widths, key=widths.get).endswith("0.1176 ms before")  # the profile median (average 0.12)
    untimed = engine_report_from_path(ENGINE_JSON / "names_only.layers.json")
    assert kernel_time_chart(diff_engines(untimed, untimed)) is None
