"""The predictor against the real TensorRT engines of ../shared/trt-samples (TREx, TensorRT 8.2/8.4).

The fixtures rebuild each engine's ONNX model (torchvision topology, pytorch-quantization placement, the real
export's node names). Nothing here is tuned to a count: the counts and names below are what TensorRT built, and
where the prediction differs the failure message says which rule of the predictor disagrees with TensorRT.

The first tests need only the fixtures (facts copied from the engines, so a fresh clone checks them); the
layer-by-layer comparison reads the sample files and skips when they are absent.
"""

from __future__ import annotations

import pytest

from qdqtool.engine.agreement import predictor_agreement
from qdqtool.engine.predictor import predict_engine
from qdqtool.engine.report import EngineReport, Layer, LayerClass
from qdqtool.engine.trt_report import engine_report_from_trt_json
from tests.fixtures import models as M

# (fixture, placement) -> the real engine's layer file, and its standalone Q/DQ layers in engine order.
ENGINES = {
    ("resnet18", "qat"): (
        "trex-resnet18-pytorch-A100/qat/resnet-qat.onnx.engine.graph.json",
        "QuantizeLinear_2 QuantizeLinear_15 QuantizeLinear_40 QuantizeLinear_65 QuantizeLinear_101 QuantizeLinear_126 "
        "QuantizeLinear_162 QuantizeLinear_187 QuantizeLinear_223 QuantizeLinear_250",
    ),
    ("resnet18", "qat-residual"): (
        "trex-resnet18-pytorch-A100/qat-residual/resnet-qat-residual.onnx.engine.graph.json",
        "QuantizeLinear_2 DequantizeLinear_291 QuantizeLinear_298",
    ),
    ("resnet18", "qat-residual-qgap"): (
        "trex-resnet18-pytorch-A100/qat-residual-qgap/resnet-qat-residual-qgap.onnx.engine.graph.json",
        "QuantizeLinear_2",
    ),
    ("mobilenet_v2", "qat"): (
        "trex-mobilenet-qat-trt84-titanrtx/mobilenet.qat.onnx.engine.graph.json",
        "QuantizeLinear_2 QuantizeLinear_98 QuantizeLinear_147 QuantizeLinear_195 QuantizeLinear_244 "
        "QuantizeLinear_293 QuantizeLinear_341 QuantizeLinear_390 QuantizeLinear_439 QuantizeLinear_488 "
        "QuantizeLinear_536 QuantizeLinear_585 QuantizeLinear_634 QuantizeLinear_682 QuantizeLinear_731 "
        "QuantizeLinear_780 QuantizeLinear_854",
    ),
    ("mobilenet_v2", "qat-residual"): (
        "trex-mobilenetv2-residuals-qat-trt84-titanrtx/mobilenet_v2_residuals.qat.onnx.engine.graph.json",
        "QuantizeLinear_2 QuantizeLinear_757",
    ),
}
# The same two MobileNetV2 engines built by TensorRT 8.2 (standalone Q as "Scale" layers).
TRT82 = {
    ("mobilenet_v2", "qat"): "trex-v010-mobilenet-qat-trt82-scale-layers/mobilenet.qat.onnx.engine.graph.json",
    ("mobilenet_v2", "qat-residual"): (
        "trex-v010-mobilenetv2-residuals-qat-trt82-scale-layers/mobilenet_v2_residuals.qat.onnx.engine.graph.json"
    ),
}
# Output precision of the conv + residual-Add layers in the real ResNet-18 engines, in model order: FP16 after a
# float skip (qat); INT8 with quantized skips, except the last block, read in float by the GlobalAveragePool.
RESNET18_ADD_PRECISION = {
    "qat": ["float"] * 8,
    "qat-residual": ["int8"] * 7 + ["float"],
    "qat-residual-qgap": ["int8"] * 8,
}

_PREDICTED: dict[tuple[str, str], EngineReport] = {}


def predicted(model: str, placement: str) -> EngineReport:
    key = (model, placement)
    if key not in _PREDICTED:
        _PREDICTED[key] = predict_engine(getattr(M, model)(placement))
    return _PREDICTED[key]


def kind(dtype: str | None) -> str:
    return "int8" if dtype == "int8" else "float"


@pytest.mark.parametrize("key", list(ENGINES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_standalone_qdq_layers_are_those_tensorrt_left(key):
    report = predicted(*key)
    expected = ENGINES[key][1].split()
    names = [layer.name for layer in report.leftover_qdq]
    why = {layer.name: layer.raw.get("why", "") for layer in report.leftover_qdq}
    extra = [f"{n} (predicted standalone because: {why[n]})" for n in names if n not in expected]
    missing = [f"{n} (TensorRT left it standalone; the predictor fused it)" for n in expected if n not in names]
    assert not extra and not missing, "; ".join(extra + missing)
    assert len(names) == len(expected)


@pytest.mark.parametrize("placement", list(RESNET18_ADD_PRECISION))
def test_resnet18_conv_add_precision_matches_the_engine(placement):
    report = predicted("resnet18", placement)
    fused = [layer for layer in report.layers if any(n.startswith("Add_") for n in layer.onnx_nodes)]
    assert all(layer.type == "Convolution" for layer in fused)
    assert [kind(layer.precision) for layer in fused] == RESNET18_ADD_PRECISION[placement], [
        (layer.name, layer.precision, layer.raw.get("why")) for layer in fused
    ]


def _diagnose(real: Layer | None, mine: Layer | None, name: str) -> str:
    """Which rule disagrees with TensorRT for one layer."""
    if mine is None:
        return (f"{name}: TensorRT built this layer; the predictor fused these nodes differently (a fusion or "
                "propagation rule is missing or too eager)")
    if real is None:
        why = mine.raw.get("why") or "no rule joined it to a neighbour"
        return f"{mine.name}: predicted as its own layer ({why}); TensorRT fused it (a predictor rule is too strict)"
    return (f"{name}: TensorRT {[kind(t.dtype) for t in real.inputs]} -> {[kind(t.dtype) for t in real.outputs]}, "
            f"predicted {[kind(t.dtype) for t in mine.inputs]} -> {[kind(t.dtype) for t in mine.outputs]} "
            f"(the precision rule for {mine.type} layers disagrees)")


@pytest.mark.parametrize("key", list(ENGINES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_layer_matches_the_real_engine(trt_samples, key):
    real = engine_report_from_trt_json(trt_samples / ENGINES[key][0])
    mine = predicted(*key)
    ignored = (LayerClass.REFORMAT, LayerClass.NOOP)  # layout copies and folded shuffles: not predicted
    real_layers = {layer.onnx_nodes: layer for layer in real.layers if layer.cls not in ignored}
    my_layers = {layer.onnx_nodes: layer for layer in mine.layers if layer.cls not in ignored}
    problems = [_diagnose(real_layers[k], None, real_layers[k].name) for k in real_layers if k not in my_layers]
    problems += [_diagnose(None, my_layers[k], my_layers[k].name) for k in my_layers if k not in real_layers]
    for nodes in real_layers.keys() & my_layers.keys():
        r, m = real_layers[nodes], my_layers[nodes]
        same = [kind(t.dtype) for t in r.inputs + r.outputs] == [kind(t.dtype) for t in m.inputs + m.outputs]
        if not same or r.cls is not m.cls:
            problems.append(_diagnose(r, m, r.name))
    assert not problems, "\n".join(problems)
    # names are TensorRT's, token for token (the Gemm's builder-made tokens aside)
    real_names = {layer.name.split(" + (Unnamed")[0] for layer in real.layers}
    assert {layer.name for layer in mine.layers if layer.cls not in ignored} <= real_names


@pytest.mark.parametrize("key", list(TRT82), ids=lambda k: f"{k[0]}-{k[1]}")
def test_tensorrt_82_scale_layers_give_the_same_standalone_kernels(trt_samples, key):
    real = engine_report_from_trt_json(trt_samples / TRT82[key])
    assert [layer.name for layer in real.leftover_qdq] == [layer.name for layer in predicted(*key).leftover_qdq]


# The agreement table of `qdqtool diff PREDICTION ENGINE` against each real engine, predicted as the weakly typed
# --int8 --fp16 builds they are: (layers, nodes, output precision, convolutions) as (agree, compared). Fusion is
# right everywhere; the precision misses are TensorRT keeping a float layer in FP32 where FP16 was allowed (the
# first convolution and pooling, the classifier), which the predictor does not model.
AGREEMENT = {
    ("resnet18", "qat"): ((23, 23), (39, 39), (20, 23), (19, 21)),
    ("resnet18", "qat-residual"): ((22, 22), (39, 39), (19, 22), (19, 21)),
    ("resnet18", "qat-residual-qgap"): ((22, 22), (39, 39), (21, 22), (20, 21)),
    ("mobilenet_v2", "qat"): ((54, 54), (99, 99), (50, 54), (49, 53)),
    ("mobilenet_v2", "qat-residual"): ((54, 54), (99, 99), (53, 54), (52, 53)),
}


@pytest.mark.parametrize("key", list(AGREEMENT), ids=lambda k: f"{k[0]}-{k[1]}")
def test_agreement_table_against_the_real_engine(trt_samples, key):
    real = engine_report_from_trt_json(trt_samples / ENGINES[key][0])
    agreement = predictor_agreement(predict_engine(getattr(M, key[0])(key[1]), float_precision="fp16"), real)
    shares = [agreement.layers, agreement.nodes, agreement.precision, agreement.convolutions]
    assert [(s.agree, s.compared) for s in shares] == list(AGREEMENT[key])
    assert agreement.qdq_predicted == agreement.qdq_real == len(ENGINES[key][1].split())
    assert {d.what for d in agreement.disagreements} <= {"precision"}
