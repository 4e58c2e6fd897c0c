"""ONNX nodes and weights read from TensorRT layer names and Metadata."""

from __future__ import annotations

import pytest

from qdqtool.engine.onnx_names import (
    is_copy_node,
    is_qdq_node,
    metadata_nodes,
    name_tokens,
    normalize_name,
    onnx_names,
    op_type_of,
    split_profile,
    token_kind,
)


def test_fused_conv_name_separates_weights_from_nodes():
    nodes, weights = onnx_names("layer1.0.conv2.weight + QuantizeLinear_32 + Conv_34 + Add_36 + Relu_37")
    assert nodes == ("QuantizeLinear_32", "Conv_34", "Add_36", "Relu_37")
    assert weights == ("layer1.0.conv2.weight",)


def test_builder_tokens_are_dropped_and_bias_is_a_weight():
    name = (
        "fc.weight + QuantizeLinear_255 + Gemm_257 + fc.bias + (Unnamed Layer* 306) [Shuffle] + "
        "unsqueeze_node_after_fc.bias + (Unnamed Layer* 306) [Shuffle]_(Unnamed Layer* 306) [Shuffle]_output + "
        "(Unnamed Layer* 307) [ElementWise]"
    )
    assert onnx_names(name) == (("QuantizeLinear_255", "Gemm_257"), ("fc.weight", "fc.bias"))


def test_pointwise_and_myelin_wrappers_are_opened():
    assert name_tokens("w + Conv_12 + PWN(Clip_16)") == ["w", "Conv_12", "Clip_16"]
    assert name_tokens("PWN(PWN(/a/Sigmoid), PWN(/a/Mul))") == ["/a/Sigmoid", "/a/Mul"]
    assert name_tokens("{ForeignNode[/stem/Conv.../head/Relu]}") == ["/stem/Conv", "/head/Relu"]
    assert name_tokens("Conv_45 + Relu_46 || Conv_52 + Relu_53") == ["Conv_45", "Relu_46", "Conv_52", "Relu_53"]


def test_copy_node_implements_no_onnx_node_even_when_it_names_a_fused_layer():
    name = "Reformatting CopyNode for Input Tensor 0 to fc.weight + QuantizeLinear_255 + Gemm_257"
    assert is_copy_node(name)
    assert onnx_names(name) == ((), ())
    assert not is_copy_node("QuantizeLinear_2")


def test_trt10_metadata_replaces_the_name_for_nodes_but_weights_still_come_from_the_name():
    meta = "[ONNX Layer: /stem/weight_q/QuantizeLinear]\x1f[ONNX Layer: /stem/Conv]"
    nodes, weights = onnx_names("model.stem.weight + /stem/weight_q/QuantizeLinear + /stem/Conv", meta)
    assert nodes == ("/stem/weight_q/QuantizeLinear", "/stem/Conv")
    assert weights == ("model.stem.weight",)


@pytest.mark.parametrize("sep", ["\x1e", "\x1f"])
def test_metadata_separators(sep):
    assert metadata_nodes(f"[ONNX Layer: /a/Conv]{sep}[ONNX Layer: /a/Relu]") == ["/a/Conv", "/a/Relu"]
    assert metadata_nodes(f"/a/Conv{sep}/a/Relu") == ["/a/Conv", "/a/Relu"]  # without the wrapper
    assert normalize_name(f"/a/Conv{sep}/a/Relu") == "/a/Conv + /a/Relu"
    assert metadata_nodes(None) == [] and metadata_nodes("") == []


def test_constant_in_metadata_is_a_weight():
    assert onnx_names("/Constant_3", "[ONNX Layer: /Constant_3]") == ((), ("/Constant_3",))


@pytest.mark.parametrize(
    "token, kind",
    [
        ("conv1.weight", "weight"),
        ("features.0.0.weight", "weight"),
        ("model.head.bias", "weight"),
        ("onnx::Conv_123", "weight"),
        ("resnet50/quant_conv1_conv/LastValueQuant/QuantizeAndDequantizeV4/ReadVariableOp:0", "weight"),
        ("Constant_12", "weight"),
        ("/model/Constant_output_0", "weight"),
        ("(Unnamed Layer* 306) [Shuffle]", "builder"),
        ("copied_squeeze_after_(Unnamed Layer* 307) [ElementWise]", "builder"),
        ("reshape_after_Gemm_48", "builder"),
        ("Conv_9", "node"),
        ("/layer1/layer1.0/conv1/Conv", "node"),
        ("QuantLinearNode__838", "node"),
        ("resnet50/conv2_block1_add/add", "node"),
    ],
)
def test_token_kinds(token, kind):
    assert token_kind(token) == kind


def test_trt82_suffixes_are_stripped_from_nodes():
    nodes, _ = onnx_names("features.0.0.weight + QuantizeLinear_8_quantize_scale_node + Conv_12")
    assert nodes == ("QuantizeLinear_8", "Conv_12")
    assert onnx_names("DequantizeLinear_33_dequantize_scale_node") == (("DequantizeLinear_33",), ())


@pytest.mark.parametrize(
    "node, op",
    [
        ("Conv_9", "Conv"),
        ("Add_36", "Add"),
        ("/layer1/layer1.0/conv1/Conv", "Conv"),
        ("/model/Add_1", "Add"),
        ("QuantLinearNode__838", "QuantLinearNode"),
        ("QuantizeLinear_98_quantize_scale_node", "QuantizeLinear"),
        ("MaxPool", "MaxPool"),
    ],
)
def test_op_type_of(node, op):
    assert op_type_of(node) == op


def test_is_qdq_node():
    assert is_qdq_node("QuantizeLinear_15")
    assert is_qdq_node("/conv/_input_quantizer/DequantizeLinear")
    assert is_qdq_node("QuantLinearNode__838")
    assert is_qdq_node("Whatever_7_dequantize_scale_node")
    assert not is_qdq_node("Conv_9")
    assert not is_qdq_node("/quantizer_scale/Mul")


def test_split_profile():
    assert split_profile("conv1 + Relu_2 [profile 1]") == ("conv1 + Relu_2", 1)
    assert split_profile("conv1 + Relu_2") == ("conv1 + Relu_2", 0)
    assert split_profile("images [profile 12]") == ("images", 12)
