"""The numbers that answer "did the Q/DQ fuse?" for one engine.

The summed per-layer time is reported as what it is, a sum of profiled layer times (the profiler adds overhead per
layer, and layers may overlap), never as the engine latency; end-to-end latency comes only from a timing file.

    >>> from qdqtool.engine.report import EngineReport, Layer, LayerClass
    >>> s = summarize(EngineReport("tensorrt", "mem", [Layer("Q_1", "Reformat", LayerClass.QDQ, avg_ms=0.5)]))
    >>> assert s.by_class["qdq"] == 1 and s.qdq_reformat_ms == 0.5 and s.latency is None
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from qdqtool.engine.classify import is_convolution
from qdqtool.engine.latency import Timings
from qdqtool.engine.report import EngineReport, LayerClass

PERCENTILES = (50, 90, 95, 99)


@dataclass
class EngineSummary:
    """Counts, precision and time of one engine."""

    layers: int
    by_class: dict[str, int]
    by_type: dict[str, int]
    by_precision: dict[str, int]  # output precision; "unknown" with names-only verbosity
    conv_total: int
    conv_int8: int | None  # None when precisions are unknown
    layer_time_ms: float | None  # sum of per-layer average times; None without a profile
    qdq_ms: float | None
    reformat_ms: float | None
    latency: Timings | None  # end-to-end, ms per inference

    @property
    def qdq_reformat_ms(self) -> float | None:
        if self.qdq_ms is None or self.reformat_ms is None:
            return None
        return self.qdq_ms + self.reformat_ms

    @property
    def qdq_reformat_share(self) -> float | None:
        """Percent of the summed layer time spent in ``qdq`` + ``reformat`` layers."""
        if not self.layer_time_ms or self.qdq_reformat_ms is None:
            return None
        return 100.0 * self.qdq_reformat_ms / self.layer_time_ms

    @property
    def conv_int8_share(self) -> float | None:
        """Percent of the convolutions that read INT8."""
        if self.conv_int8 is None or not self.conv_total:
            return None
        return 100.0 * self.conv_int8 / self.conv_total

    def to_dict(self) -> dict:
        data = asdict(self)
        lat = self.latency
        data["latency"] = None if lat is None else {
            "runs": lat.runs, "median_ms": lat.median, "mean_ms": lat.mean, "min_ms": lat.low, "max_ms": lat.high,
            "percentiles_ms": {f"p{q}": lat.percentile(q) for q in PERCENTILES},
        }
        data["qdq_reformat_ms"] = self.qdq_reformat_ms
        data["qdq_reformat_share"] = self.qdq_reformat_share
        data["conv_int8_share"] = self.conv_int8_share
        return data


def _time(report: EngineReport, cls: LayerClass | None = None) -> float | None:
    if not report.has_layer_times:
        return None
    return sum((layer.avg_ms or 0.0 for layer in report.layers if cls is None or layer.cls is cls), 0.0)


def summarize(report: EngineReport) -> EngineSummary:
    """Summarise one engine report.

    Args:
        report (EngineReport): The engine.

    Returns:
        EngineSummary: counts per class, type and precision; INT8 share of convolutions; summed layer time and the
        part of it spent in unfused Q/DQ and reformat layers; end-to-end latency when the report has it.
    """
    layers = report.layers
    convs = [layer for layer in layers if is_convolution(layer)]
    known = all(conv.inputs and conv.inputs[0].dtype for conv in convs) and report.detailed
    # 8-bit integer inputs: TensorRT's int8 and ONNX Runtime's uint8 QLinearConv alike
    conv_int8 = sum(conv.inputs[0].dtype in ("int8", "uint8") for conv in convs) if known else None
    return EngineSummary(
        layers=len(layers),
        by_class={cls.value: len(report.of_class(cls)) for cls in LayerClass},
        by_type=dict(Counter(layer.type or "unknown" for layer in layers).most_common()),
        by_precision=dict(Counter(layer.precision or "unknown" for layer in layers).most_common()),
        conv_total=len(convs),
        conv_int8=conv_int8,
        layer_time_ms=_time(report),
        qdq_ms=_time(report, LayerClass.QDQ),
        reformat_ms=_time(report, LayerClass.REFORMAT),
        latency=report.latency if report.latency and report.latency.runs else None,
    )
