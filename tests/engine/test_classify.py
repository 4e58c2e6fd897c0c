"""Layer classes: compute / qdq / reformat / noop / constant / other, exactly as issue 3 defines them."""

from __future__ import annotations

import pytest

from qdqtool.engine.classify import classify_layer, is_convolution
from qdqtool.engine.report import LayerClass
from qdqtool.engine.trt_report import layer_from_trt

F32, F16, I8 = "Row major linear FP32", "Row major linear FP16 format", "Row major Int8 format"


def raw(name: str, ltype: str | None = None, ins=(F32,), outs=(F32,), **extra) -> dict:
    d = {
        "Name": name,
        "Inputs": [{"Name": f"i{k}", "Dimensions": [1, 8], "Format/Datatype": f} for k, f in enumerate(ins)],
        "Outputs": [{"Name": f"o{k}", "Dimensions": [1, 8], "Format/Datatype": f} for k, f in enumerate(outs)],
    }
    if ltype:
        d["LayerType"] = ltype
    d.update(extra)
    return d


def cls(entry) -> LayerClass:
    return layer_from_trt(entry).cls


@pytest.mark.parametrize(
    "entry, expected",
    [
        # qdq: Reformat with Origin QDQ (TensorRT >= 8.4)
        (raw("QuantizeLinear_98", "Reformat", (F16,), (I8,), Origin="QDQ", ParameterType="Reformat"), "qdq"),
        (raw("QuantLinearNode__838", "Reformat", (F32,), (I8,), Origin="QDQ"), "qdq"),
        # qdq: Scale layers from Q/DQ (TensorRT 8.2): Int8 on exactly one side ...
        (raw("QuantizeLinear_2", "Scale", (F32,), (I8,), ParameterType="Scale", Mode="UNIFORM"), "qdq"),
        (raw("DequantizeLinear_9", "Scale", (I8,), (F32,), ParameterType="Scale"), "qdq"),
        # ... or named after a Q/DQ node
        (raw("QuantizeLinear_4_quantize_scale_node", "Scale", (F32,), (F32,)), "qdq"),
        # a real Scale (batch norm) is compute
        (raw("BatchNormalization_18", "Scale", (F32,), (F32,), ParameterType="Scale"), "compute"),
        # qdq: standalone *_quantize_scale_node / *_dequantize_scale_node (onnx-tensorrt 8.0-8.2)
        (raw("Relu_5_dequantize_scale_node", "PointWise", (I8,), (F32,)), "qdq"),
        # qdq: standalone QuantizeLinear / DequantizeLinear layers
        (raw("/conv/input_quantizer/QuantizeLinear", "PointWiseV2", (F16,), (I8,)), "qdq"),
        (raw("q", "Quantize", (F16,), (I8,)), "qdq"),
        (raw("dq", "Dequantize", (I8,), (F16,)), "qdq"),
        # ... but not when fused into a conv
        (raw("w + QuantizeLinear_8_quantize_scale_node + Conv_12", "CaskConvolution", (I8,), (I8,)), "compute"),
        # reformat
        (
            raw(
                "Reformatting CopyNode for Output Tensor 0 to MaxPool_12", "Reformat", (F32,), (F16,), Origin="REFORMAT"
            ),
            "reformat",
        ),
        (raw("Reformatting CopyNode for Input Tensor 0 to X", "SomethingNew", (F32,), (F16,)), "reformat"),
        (raw("odd_reformat", "Reformat", (F32,), (F16,), Origin="REFORMAT"), "reformat"),
        # noop wins over the CopyNode name: a folded-away reformat costs nothing
        (raw("Reformatting CopyNode for Input Tensor 0 to fc", "NoOp", (I8,), (I8,)), "noop"),
        (raw("copied_squeeze_after_(Unnamed Layer* 307) [ElementWise]", "NoOp"), "noop"),
        # constant
        (raw("/Constant_3", "Constant", (), (F32,), ParameterType="Constant"), "constant"),
        # compute
        (raw("w + QuantizeLinear_7 + Conv_9", "CaskConvolution", (I8,), (F32,)), "compute"),
        (raw("w + Q + Conv_9 + MaxPool_12", "ConvActPool", (I8,), (I8,)), "compute"),
        (raw("dw", "CudaDepthwiseConvolution", (I8,), (I8,)), "compute"),
        (raw("MaxPool_12", "TiledPooling", ParameterType="Pooling"), "compute"),
        (raw("/fc/Gemm", "CaskGemmMatrixMultiply", ParameterType="MatrixMultiply"), "compute"),
        (raw("PWN(Clip_3)", "PointWiseV2"), "compute"),
        (raw("{ForeignNode[/a/Conv.../b/Relu]}", "Myelin"), "compute"),
        (raw("Softmax_9", "CudaSoftMax"), "compute"),
        # other
        (raw("resnet50/pool1_pad/Pad", "Padding", ParameterType="Padding"), "other"),
        (raw("resnet50/conv1_conv/Conv2D__6", "Shuffle", ParameterType="Shuffle"), "other"),
        (raw("Concat_5", "Concatenation"), "other"),
    ],
)
def test_detailed_layers(entry, expected):
    assert cls(entry).value == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("QuantizeLinear_15", "qdq"),
        ("DequantizeLinear_291", "qdq"),
        ("QuantizeLinear_98_quantize_scale_node", "qdq"),
        ("/model/input_quantizer/QuantizeLinear", "qdq"),
        ("Reformatting CopyNode for Output Tensor 0 to MaxPool_12", "reformat"),
        ("conv1.weight + QuantizeLinear_7 + Conv_9", "compute"),
        ("MaxPool_12", "compute"),
        ("PWN(Clip_3)", "compute"),
        ("{ForeignNode[/a/Conv.../b/Relu]}", "compute"),
        ("model.0.conv.weight", "constant"),
        ("copied_squeeze_after_(Unnamed Layer* 307) [ElementWise]", "other"),
        ("Reshape_4", "other"),
    ],
)
def test_names_only_layers_are_classified_from_the_name(name, expected):
    assert cls(name).value == expected


def test_is_convolution():
    assert is_convolution(layer_from_trt(raw("w + Conv_9", "CaskConvolution")))
    assert is_convolution(layer_from_trt(raw("w + Q + Conv_9 + MaxPool_12", "ConvActPool")))
    assert not is_convolution(layer_from_trt(raw("MaxPool_12", "TiledPooling", ParameterType="Pooling")))
    assert is_convolution(layer_from_trt("w + QuantizeLinear_7 + Conv_9"))  # names only: by op type
    assert not is_convolution(layer_from_trt("QuantizeLinear_7"))


def test_classify_layer_is_the_same_function_the_loader_uses():
    layer = layer_from_trt(raw("QuantizeLinear_98", "Reformat", (F16,), (I8,), Origin="QDQ"))
    assert classify_layer(layer) is layer.cls is LayerClass.QDQ
    assert layer.is_leftover_qdq
