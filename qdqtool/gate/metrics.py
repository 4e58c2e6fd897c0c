"""The counts and times ``qdqtool check`` records, so a later run can compare itself with an accepted one.

Latency keeps its median, its median absolute deviation and the number of runs: enough to tell a regression
from run-to-run noise without storing every run.

    >>> m = Metrics(groups=3, blocking_groups=1, placement_findings=0)
    >>> assert Metrics.from_dict(m.to_dict(), "mem") == m
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from qdqtool.analysis.groups import Analysis
from qdqtool.engine.latency import Timings, standard_error
from qdqtool.engine.report import EngineReport
from qdqtool.engine.summary import EngineSummary
from qdqtool.errors import BadInputError

# count metrics and whether more is worse (True) or better (False), with their labels
COUNTS = {
    "blocking_groups": (True, "mismatched or refused scale groups"),
    "placement_findings": (True, "residual Adds with an unquantized input"),
    "qdq_layers": (True, "unfused Q/DQ engine layers"),
    "reformat_layers": (True, "reformat engine layers"),
    "conv_int8": (False, "INT8 convolutions"),
}


@dataclass
class LatencyStats:
    """What a baseline keeps of an engine's :class:`~qdqtool.engine.latency.Timings`: the median end-to-end latency
    (or summed layer time) and its spread, in milliseconds. An :class:`~qdqtool.engine.latency.Estimate` for
    :func:`~qdqtool.engine.latency.judge_change`."""

    median_ms: float
    mad_ms: float  # median absolute deviation; 0 for one run
    runs: int
    source: str  # "timing" (per-inference times) or "layer-sum" (summed per-layer profile averages)

    @classmethod
    def of(cls, timings: Timings, source: str) -> LatencyStats:
        return cls(timings.median, timings.mad, timings.runs, source)

    @property
    def median(self) -> float:
        return self.median_ms

    @property
    def noise(self) -> float:
        """Standard error of the median, from a robust sigma (1.4826 * MAD); 0 without repeated runs."""
        return standard_error(self.mad_ms, self.runs)


@dataclass
class Metrics:
    groups: int
    blocking_groups: int
    placement_findings: int
    qdq_layers: int | None = None
    reformat_layers: int | None = None
    conv_int8: int | None = None
    conv_total: int | None = None
    layer_time_ms: float | None = None
    qdq_reformat_share: float | None = None
    latency: LatencyStats | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object, source: str) -> Metrics:
        if not isinstance(data, dict):
            raise BadInputError(f"{source}: `metrics` is not an object; save the baseline with "
                                "`qdqtool check MODEL --format json --output baseline.json`")
        try:
            latency = data.get("latency")
            return cls(**{**data, "latency": LatencyStats(**latency) if latency else None})
        except TypeError as err:
            raise BadInputError(f"{source}: `metrics` does not have the expected fields ({err})") from None


def latency_stats(engine: EngineReport, summary: EngineSummary) -> LatencyStats | None:
    """From per-inference times when the report has them, else the summed layer time (one value)."""
    if engine.latency and engine.latency.runs:
        return LatencyStats.of(engine.latency, "timing")
    if summary.layer_time_ms is not None:
        return LatencyStats.of(Timings((summary.layer_time_ms,)), "layer-sum")
    return None


def metrics_from(analysis: Analysis, engine: EngineReport | None, summary: EngineSummary | None) -> Metrics:
    metrics = Metrics(
        groups=len(analysis.groups),
        blocking_groups=len(analysis.blocking),
        placement_findings=len(analysis.findings),
    )
    if engine is not None and summary is not None:
        metrics.qdq_layers = summary.by_class["qdq"]
        metrics.reformat_layers = summary.by_class["reformat"]
        metrics.conv_int8 = summary.conv_int8
        metrics.conv_total = summary.conv_total
        metrics.layer_time_ms = summary.layer_time_ms
        metrics.qdq_reformat_share = summary.qdq_reformat_share
        metrics.latency = latency_stats(engine, summary) if engine.measured else None
    return metrics
