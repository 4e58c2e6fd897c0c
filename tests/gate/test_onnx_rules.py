"""ONNX-side lint rules (QDQ1xx): each fires on the model that has the problem and stays quiet on the one without."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from onnx import TensorProto

from qdqtool.analysis.rules import load_rules
from qdqtool.gate.registry import Severity
from tests.fixtures.builder import GraphBuilder
from tests.fixtures.models import fp8_and_int4, resnet_block, resnet_block_placement_problems
from tests.gate.helpers import by_rule, ids, lint


def _residual_add(scale_a: float, scale_b: float, zero_point: int = 0) -> GraphBuilder:
    """x -> two convs -> Q/DQ on each -> Add (both inputs quantized) -> Q/DQ -> output."""
    b = GraphBuilder("residual", style="int8")
    x = b.qdq(b.input("x", [1, 4, 8, 8]), 0.02, "in")
    left = b.qdq(b.conv(x, 4, 3, 1, "conv_a"), scale_a, "left", zero_point=zero_point)
    right = b.qdq(b.conv(x, 4, 3, 1, "conv_b"), scale_b, "right")
    y = b.add(left, right, "add")
    b.output(b.conv(b.qdq(y, 0.05, "sum"), 4, 1, 1, "head", out="output"))
    return b


def test_clean_model_has_no_findings(save):
    run = lint(save("yolov6_qat_int8_consistent"))
    assert run.violations == [] and run
    assert {s.state for s in run.statuses if s.rule.side == "onnx"} == {"ran"}


def test_concat_mismatch_is_an_error_per_group_with_node_names(save):
    run = lint(save("yolov6_qat_int8"))
    concat = by_rule(run, "QDQ101")
    assert {v.nodes[0] for v in concat} == {"backbone.sppf.cat", "neck.cat_p4", "neck.cat_p3"}
    p4 = next(v for v in concat if v.nodes[0] == "neck.cat_p4")
    assert {"neck.Rep_p4.in.Q", "backbone.ERBlock_4.0.in.Q"} <= set(p4.nodes)
    assert p4.severity is Severity.ERROR and p4.group and p4.group in p4.message
    assert "`qdqtool merge` can unify it" in p4.message
    assert not run and len(run.failing) == 3


def test_fan_out_mismatch_is_a_warning(save):
    run = lint(save("fan_out_int8_siblings"))
    assert ids(run) == ["QDQ103"]
    (v,) = by_rule(run, "QDQ103")
    assert v.severity is Severity.WARNING and {"branch0.in.Q", "branch1.in.Q", "branch2.in.Q"} <= set(v.nodes)
    assert run, "warnings do not fail the default gate"
    run.fail_on = "warning"
    assert not run


def test_move_through_and_requantize(save):
    run = lint(save("fan_out_int8_move_through"))
    move = by_rule(run, "QDQ102")
    assert any("mt.reshape.in.Q" in v.nodes and "mt.transpose.out.Q" in v.nodes for v in move)
    assert by_rule(run, "QDQ105")


def test_residual_add_mismatch(save):
    run = lint(save(_residual_add(0.03, 0.05).build()))
    (v,) = by_rule(run, "QDQ104")
    assert {"left.Q", "right.Q"} <= set(v.nodes) and v.nodes[0] == "add"
    assert lint(save(_residual_add(0.03, 0.03).build(), "same.onnx")).violations == []


def test_refused_group_says_why(save):
    run = lint(save("extreme_ratio"))
    (v,) = by_rule(run, "QDQ101")
    assert "refuses it" in v.message and "scale ratio" in v.message


def test_group_of_a_custom_rule_falls_under_qdq100(save, tmp_path):
    rules = (load_rules("tensorrt").path).read_text().replace('id = "concat"', 'id = "my-concat"')
    custom = tmp_path / "custom.toml"
    custom.write_text(rules)
    run = lint(save("yolov6_qat_int8"), target=str(custom))
    assert len(by_rule(run, "QDQ100")) == 3 and not by_rule(run, "QDQ101")


def test_qdq_pair_mismatch(save):
    b = GraphBuilder("pair", style="int8")
    q = b.quantize(b.input("x", [1, 4, 8, 8]), 0.02, "a")
    y = b.dequantize(q, 0.04, "b")
    b.output(b.conv(y, 4, 1, 1, "conv", out="output"))
    (v,) = by_rule(lint(save(b.build())), "QDQ106")
    assert v.nodes == ("a.Q", "b.DQ") and "0.02" in v.message and "0.04" in v.message


def test_unquantized_residual_skip(save):
    run = lint(save(resnet_block(skip="unquantized")))
    found = by_rule(run, "QDQ110")
    assert sorted(v.nodes[0] for v in found) == sorted(resnet_block_placement_problems("unquantized")) != []
    assert all("already quantized by" in v.message for v in found)
    assert not by_rule(lint(save(resnet_block(skip="quantized"), "q.onnx")), "QDQ110")


def test_nonzero_zero_point_only_on_symmetric_targets(save):
    path = save(_residual_add(0.03, 0.03, zero_point=3).build())
    (v,) = by_rule(lint(path), "QDQ111")
    assert v.nodes == ("left.Q", "left.DQ") and "zero point(s) 3" in v.message
    skipped = lint(path, target="onnxruntime-cpu")
    assert not by_rule(skipped, "QDQ111")
    assert next(s for s in skipped.statuses if s.rule.id == "QDQ111").state == "skipped"


def test_uint8_is_an_unsupported_type_for_tensorrt_not_also_a_zero_point_finding(save):
    run = lint(save("fan_out_uint8_siblings"))
    assert "QDQ114" in ids(run) and "QDQ111" not in ids(run)
    assert "QDQ114" not in ids(lint(save("fan_out_uint8_siblings", "ort.onnx"), target="onnxruntime-cpu"))


def test_per_channel_activation(save):
    (v,) = by_rule(lint(save("per_channel_activation")), "QDQ112")
    assert v.nodes == ("pcact.a.Q", "pcact.a.DQ") and "4 scales" in v.message


def test_qdq_on_graph_output(save):
    b = GraphBuilder("tail", style="int8")
    x = b.qdq(b.input("x", [1, 4, 8, 8]), 0.02, "in")
    b.output(b.qdq(b.conv(x, 4, 1, 1, "conv"), 0.05, "tail"))
    (v,) = by_rule(lint(save(b.build())), "QDQ113")
    assert v.nodes == ("tail.DQ",)


def test_fp8_and_int4_depend_on_the_target_and_the_types_option(save, tmp_path):
    path = save(fp8_and_int4())
    assert "QDQ114" not in ids(lint(path))  # TensorRT 10 runs fp8 e4m3 and int4 weights
    ort = by_rule(lint(path, target="onnxruntime-cpu"), "QDQ114")
    assert [v.nodes[0] for v in ort] == ["fp8.act.Q"]
    config = tmp_path / "qdqtool.toml"
    config.write_text('[rules.unsupported-qdq-type]\ntypes = ["int8"]\n')
    old_gpu = by_rule(lint(path, config=config), "QDQ114")
    assert sorted(v.nodes[0] for v in old_gpu) == ["conv1.w4.DQ", "conv2.w4blk.DQ", "fp8.act.Q"]


def test_int4_activation_is_weight_only_on_tensorrt(save):
    b = GraphBuilder("int4act", style="int8", opset=21)
    x = b.qdq(b.input("x", [1, 4, 8, 8]), 0.5, "act4", qtype="int4")
    b.output(b.conv(b.qdq(x, 0.02, "in"), 4, 1, 1, "conv", out="output"))
    (v,) = by_rule(lint(save(b.build())), "QDQ114")
    assert v.nodes[0] == "act4.Q" and "weights only" in v.message


def test_computed_scale(save):
    b = GraphBuilder("computed", style="int8")
    x = b.input("x", [1, 4, 8, 8])
    scale = b.node("Mul", [b.initializer("s0", np.array(0.01, np.float32)),
                           b.initializer("two", np.array(2.0, np.float32))], name="scale_mul", shapes=[[]])
    zp = b.initializer("zp", np.array(0, np.int8))
    q = b.node("QuantizeLinear", [x, scale, zp], name="dyn.Q", dtype=TensorProto.INT8)
    y = b.node("DequantizeLinear", [q, scale, zp], name="dyn.DQ", dtype=TensorProto.FLOAT)
    b.output(b.conv(y, 4, 1, 1, "conv", out="output"))
    found = by_rule(lint(save(b.build())), "QDQ115")
    assert sorted(v.nodes[0] for v in found) == ["dyn.DQ", "dyn.Q"]


@pytest.mark.parametrize("name", ["no_qdq", "resnet18_qat_residual", "mobilenet_v2_qat_residual"])
def test_well_formed_models_pass(save, name):
    run = lint(save(name))
    assert run and run.violations == []


def test_example_model_shipped_with_the_package(tmp_path):
    from importlib import resources

    with resources.as_file(resources.files("qdqtool.examples") / "yolov6_qat.onnx") as source:
        path = tmp_path / "yolov6_qat.onnx"
        shutil.copyfile(source, path)
    run = lint(path)
    assert ids(run) == ["QDQ101", "QDQ103"] and not run
