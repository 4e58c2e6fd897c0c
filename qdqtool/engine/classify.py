"""Give each engine layer a :class:`LayerClass`: did the Q/DQ fuse, or is a quantize/reformat kernel left?

The rules, in order (first match wins):

1. ``noop`` - ``LayerType`` NoOp (a reformat or shape op folded away; costs nothing, even when its name says
   "Reformatting CopyNode").
2. ``constant`` - ``LayerType``/``ParameterType`` Constant.
3. ``qdq`` - an unfused quantize/dequantize left standing: a Reformat with ``Origin: QDQ`` (TensorRT >= 8.4); a
   ``Scale`` layer from a Q/DQ (TensorRT 8.2: Int8 on exactly one side, or named after a Q/DQ node); a standalone
   layer named ``*_quantize_scale_node`` / ``*_dequantize_scale_node`` (onnx-tensorrt 8.0-8.2); a standalone
   QuantizeLinear / DequantizeLinear layer (a Quantize/Dequantize layer type, or a layer whose ONNX nodes are all
   Q/DQ nodes); a Myelin-generated kernel (``__myl_MulMinMaxRounCast``, layer type ``kgen``) whose op sequence is
   only a quantize or a dequantize (the rule, and how it keeps fused compute apart: engine/myelin.py).
4. ``reformat`` - Reformat with ``Origin: REFORMAT`` (or no Origin), and "Reformatting CopyNode ..." layers.
5. ``compute`` - convolutions, GEMM, pointwise, pooling, softmax, reductions, Myelin regions ...
6. ``other`` - everything else (shuffles, slices, padding, concatenations, ...).

Without a layer type (names-only verbosity) only the name can speak: rules 3 and 4 still work from the name, and a
layer is ``compute`` when one of its ONNX nodes has a compute op type.

    >>> from qdqtool.engine.report import Layer
    >>> assert classify_layer(Layer(name="QuantizeLinear_15", type="Reformat", origin="QDQ")) is LayerClass.QDQ
"""

from __future__ import annotations

from qdqtool.engine import myelin
from qdqtool.engine.onnx_names import QDQ_NAME_SUFFIXES, is_copy_node, is_qdq_node, name_tokens, op_type_of
from qdqtool.engine.report import Layer, LayerClass

# Substrings of LayerType / ParameterType that mean "does arithmetic" (case-insensitive).
COMPUTE_TYPES = (
    "convolution",
    "convactpool",
    "gemm",
    "matrixmultiply",
    "fullyconnected",
    "pointwise",
    "elementwise",
    "activation",
    "pooling",
    "softmax",
    "reduce",
    "scale",
    "norm",
    "lrn",
    "resize",
    "unary",
    "myelin",
    "kgen",
    "topk",
    "einsum",
    "rnn",
    "attention",
)
QDQ_TYPES = frozenset({"quantize", "dequantize", "quantizelinear", "dequantizelinear"})
# ONNX (and TF-ONNX) op types that do arithmetic, for names-only layers (lower case).
COMPUTE_OPS = frozenset(
    {
        "conv", "convtranspose", "conv2d", "depthwiseconv2dnative", "gemm", "matmul", "biasadd",
        "add", "sub", "mul", "div", "pow", "sqrt", "exp", "log", "erf", "neg", "abs", "reciprocal", "sum", "mean",
        "min", "max", "relu", "relu6", "clip", "sigmoid", "tanh", "leakyrelu", "prelu", "elu", "selu", "gelu",
        "hardsigmoid", "hardswish", "softplus", "silu", "swish", "maxpool", "averagepool", "avgpool",
        "globalaveragepool", "globalmaxpool", "softmax", "logsoftmax", "batchnormalization", "fusedbatchnormv3",
        "instancenormalization", "layernormalization", "groupnormalization", "reducemean", "reducesum",
        "reducemax", "reducemin", "reduceprod", "resize", "upsample", "einsum", "lrn",
    }
)  # fmt: skip


def _types(layer: Layer) -> list[str]:
    types = [layer.type, layer.raw.get("ParameterType")]
    return [t.lower() for t in types if isinstance(t, str) and t]


def _is_qdq_scale(layer: Layer) -> bool:
    """A TensorRT 8.2 ``Scale`` layer that is really a quantize/dequantize (TREx ``QDQLinter`` rule)."""
    in_int8 = any(t.dtype == "int8" for t in layer.inputs[:1])
    out_int8 = any(t.dtype == "int8" for t in layer.outputs[:1])
    if layer.inputs and layer.outputs and in_int8 != out_int8:
        return True
    return bool(layer.onnx_nodes) and all(is_qdq_node(n) for n in layer.onnx_nodes)


def _is_standalone_qdq(layer: Layer, types: list[str]) -> bool:
    if any(t in QDQ_TYPES for t in types):
        return True
    tokens = name_tokens(layer.name)
    if len(tokens) == 1 and tokens[0].endswith(QDQ_NAME_SUFFIXES):
        return True
    return bool(layer.onnx_nodes) and all(is_qdq_node(n) for n in layer.onnx_nodes)


def _is_myelin_qdq(layer: Layer) -> bool:
    """A Myelin kernel that only quantizes or dequantizes (engine/myelin.py), unless its Metadata names real compute
    nodes of the ONNX model (then it is that compute with the quantize fused in)."""
    if myelin.standalone_qdq(layer) is None:
        return False
    return not layer.onnx_nodes or all(is_qdq_node(n) for n in layer.onnx_nodes)


def classify_layer(layer: Layer) -> LayerClass:
    """The class of one layer (see the module docstring for the rules)."""
    types = _types(layer)
    origin = (layer.origin or "").upper()
    if "noop" in types:
        return LayerClass.NOOP
    if "constant" in types:
        return LayerClass.CONSTANT
    if origin == "QDQ":
        return LayerClass.QDQ
    if "scale" in types and _is_qdq_scale(layer):
        return LayerClass.QDQ
    if _is_standalone_qdq(layer, types):
        return LayerClass.QDQ
    if _is_myelin_qdq(layer):
        return LayerClass.QDQ
    if origin == "REFORMAT" or "reformat" in types or is_copy_node(layer.name):
        return LayerClass.REFORMAT
    if types:
        if any(key in t for t in types for key in COMPUTE_TYPES):
            return LayerClass.COMPUTE
        return LayerClass.OTHER
    return _classify_by_name(layer)


def _classify_by_name(layer: Layer) -> LayerClass:
    if layer.name.startswith("{ForeignNode["):
        return LayerClass.COMPUTE  # a Myelin region
    if "PWN(" in layer.name:
        return LayerClass.COMPUTE
    if any(op_type_of(node).lower() in COMPUTE_OPS for node in layer.onnx_nodes):
        return LayerClass.COMPUTE
    if not layer.onnx_nodes and layer.weights:
        return LayerClass.CONSTANT
    return LayerClass.OTHER


def is_convolution(layer: Layer) -> bool:
    """A convolution (or a GEMM TensorRT runs as one): by layer type, or by ONNX op type without one.

    Layer types name convolutions in every backend: TensorRT's CaskConvolution, ConvActPool, Deconvolution...;
    ONNX Runtime's QLinearConv, NhwcQLinearConv, ConvInteger, FusedConv.
    """
    types = _types(layer)
    if types:
        return any("conv" in t for t in types)
    return any(op_type_of(n).lower() in ("conv", "convtranspose", "conv2d") for n in layer.onnx_nodes)
