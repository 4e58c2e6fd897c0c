"""How well a trt-sim prediction agrees with a real engine of the same ONNX: the predictor's own accuracy report.

Layers are compared by the ONNX compute nodes they implement (Q/DQ nodes and weights aside: TensorRT names those
in some versions and not in others), never by name:

* **layers**: real compute layers whose node set the prediction has as one layer;
* **nodes**: ONNX compute nodes whose layer-mates (the other nodes of their layer) are the same in both;
* **output precision**: of the layers matched, those with the same output precision (INT8, FP16, FP32);
* **convolutions**: of the convolutions both sides have, those fused with the same epilogue (activation and Add
  fused or not: the same layer) *and* written in the same precision;
* **standalone Q/DQ**: the counts of unfused quantize/dequantize kernels.

Reformat copies and no-ops are left out (the predictor does not predict reformats), and so are real layers that
name no ONNX node (Myelin kernels without Metadata).

    >>> agreement = predictor_agreement(predicted, engine)
    >>> assert 0.0 <= agreement.layers.share <= 1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qdqtool.engine.classify import is_convolution
from qdqtool.engine.onnx_names import is_qdq_node
from qdqtool.engine.report import EngineReport, Layer, LayerClass

_LEFT_OUT = (LayerClass.REFORMAT, LayerClass.NOOP, LayerClass.CONSTANT, LayerClass.QDQ)


@dataclass(frozen=True)
class Share:
    """``agree`` of ``compared``."""

    agree: int
    compared: int

    @property
    def share(self) -> float | None:
        return self.agree / self.compared if self.compared else None

    def __str__(self) -> str:
        share = self.share
        return f"{self.agree} of {self.compared}" + (f" ({share:.0%})" if share is not None else "")


@dataclass(frozen=True)
class Disagreement:
    """One real layer the prediction gets wrong, and how."""

    real: str  # the engine's layer name
    predicted: tuple[str, ...]  # the predicted layers holding its nodes
    what: str  # "fusion" or "precision"
    detail: str


@dataclass
class Agreement:
    """The result of :func:`predictor_agreement`."""

    predicted_source: str
    real_source: str
    layers: Share
    nodes: Share
    precision: Share
    convolutions: Share
    qdq_predicted: int
    qdq_real: int
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def qdq_error(self) -> float | None:
        """(predicted - real) / real standalone Q/DQ kernels; None for an engine with none."""
        return (self.qdq_predicted - self.qdq_real) / self.qdq_real if self.qdq_real else None


def compute_nodes(layer: Layer) -> frozenset[str]:
    """The ONNX nodes of ``layer`` that compute: its Q/DQ nodes and weights left out."""
    weights = set(layer.weights)
    return frozenset(n for n in layer.onnx_nodes if not is_qdq_node(n) and n not in weights)


def _precision(layer: Layer) -> str | None:
    dtypes = [t.dtype for t in layer.outputs if t.dtype]
    return dtypes[0] if dtypes else None


def _compared(report: EngineReport) -> list[tuple[Layer, frozenset[str]]]:
    found = []
    for layer in report.layers:
        nodes = compute_nodes(layer)
        if layer.cls not in _LEFT_OUT and nodes:
            found.append((layer, nodes))
    return found


def predictor_agreement(predicted: EngineReport, real: EngineReport) -> Agreement:
    """Compare a prediction (``measured=False``) with a real engine of the same ONNX model."""
    mine = _compared(predicted)
    theirs = _compared(real)
    my_layer_of = {node: (layer, nodes) for layer, nodes in mine for node in nodes}
    by_nodes = {nodes: layer for layer, nodes in mine}
    layers = precision = conv_agree = conv_compared = nodes_agree = nodes_compared = 0
    disagreements: list[Disagreement] = []
    for layer, nodes in theirs:
        holders = tuple(dict.fromkeys(my_layer_of[n][0].name for n in nodes if n in my_layer_of))
        partner = by_nodes.get(nodes)
        for node in nodes:
            if node in my_layer_of:
                nodes_compared += 1
                nodes_agree += my_layer_of[node][1] == nodes
        same_precision = partner is not None and _precision(partner) == _precision(layer)
        if partner is None:
            if holders:
                disagreements.append(Disagreement(layer.name, holders, "fusion",
                                                  "TensorRT fused these nodes differently"))
        else:
            layers += 1
            precision += same_precision
            if not same_precision:
                disagreements.append(Disagreement(
                    layer.name, holders, "precision",
                    f"TensorRT writes {_precision(layer)}, predicted {_precision(partner)}"))
        if is_convolution(layer) and holders:
            conv_compared += 1
            conv_agree += same_precision
    return Agreement(
        predicted_source=predicted.source,
        real_source=real.source,
        layers=Share(layers, len(theirs)),
        nodes=Share(nodes_agree, nodes_compared),
        precision=Share(precision, layers),
        convolutions=Share(conv_agree, conv_compared),
        qdq_predicted=len(predicted.leftover_qdq),
        qdq_real=len(real.leftover_qdq),
        disagreements=disagreements,
    )


def prediction_and_engine(before: EngineReport, after: EngineReport) -> tuple[EngineReport, EngineReport] | None:
    """(prediction, engine) when exactly one of the two is a prediction, else None."""
    if before.measured == after.measured:
        return None
    return (after, before) if before.measured else (before, after)
