"""--annotate: the model's nodes carry their group, rule and scale change (metadata_props and doc_string)."""

from __future__ import annotations

import copy

import onnx

from qdqtool.jobs.report import ReportRequest, collect_report
from qdqtool.report.annotate import annotate_model
from tests.fixtures.models import resnet_block


def _props(node: onnx.NodeProto) -> dict[str, str]:
    return {p.key: p.value for p in node.metadata_props}


def test_members_and_joints_are_annotated(save):
    data = collect_report(ReportRequest(model=save("yolov6_qat_int8"), verify=False))
    model = copy.deepcopy(data.original)
    node = next(n for n in model.graph.node if n.name == "neck.Rep_p4.in.Q")
    node.doc_string = "exported by torch\nqdqtool: waive QDQ101: kept"
    count = annotate_model(model, data.changes, data.analysis.findings)
    nodes = {n.name: n for n in model.graph.node}
    assert count == sum(len(c.before) for c in data.changes) + len({op for c in data.changes for op in c.group.ops})
    p4 = _props(nodes["neck.Rep_p4.in.Q"])
    assert p4 == {"qdqtool.group": p4["qdqtool.group"], "qdqtool.rule": "concat+move-through",
                  "qdqtool.status": "mismatched", "qdqtool.lint": "QDQ101", "qdqtool.scale": "0.06"}
    upsample = _props(nodes["neck.upsample_feat0_quant.DQ"])
    assert upsample["qdqtool.scale"] == "0.045 -> 0.06" and upsample["qdqtool.group"] == p4["qdqtool.group"]
    assert _props(nodes["neck.cat_p4"])["qdqtool.scale"] == "0.029, 0.045, 0.06 -> 0.06"
    assert nodes["neck.Rep_p4.in.Q"].doc_string.splitlines() == [
        "exported by torch", "qdqtool: waive QDQ101: kept",
        f"qdqtool: group {p4['qdqtool.group']} (concat+move-through, mismatched, QDQ101): scale 0.06"]
    assert not _props(nodes["backbone.stem.conv"])
    annotate_model(model, data.changes, data.analysis.findings)  # again: replaced, not repeated
    again = nodes["neck.Rep_p4.in.Q"]
    assert len(again.doc_string.splitlines()) == 3 and len(again.metadata_props) == 5
    onnx.checker.check_model(model)


def test_placement_findings_are_annotated(save):
    data = collect_report(ReportRequest(model=save(resnet_block(skip="unquantized")), verify=False))
    model = copy.deepcopy(data.original)
    annotate_model(model, data.changes, data.analysis.findings)
    adds = [n for n in model.graph.node if n.op_type == "Add"]
    assert adds and all(_props(n)["qdqtool.lint"] == "QDQ110" for n in adds)
    assert all(n.doc_string.startswith("qdqtool: QDQ110 ") for n in adds)
