"""Summary numbers: counts per class/type/precision, INT8 share of convolutions, Q/DQ + reformat time, latency."""

from __future__ import annotations

import pytest

from qdqtool.engine.latency import Timings
from qdqtool.engine.load import engine_report_from_path
from qdqtool.engine.report import EngineReport, Layer, LayerClass, TensorInfo
from qdqtool.engine.summary import summarize


def test_trt84_fixture_summary(engine_json):
    s = summarize(engine_report_from_path(engine_json / "trt84_before"))
    assert s.layers == 11
    assert s.by_class == {"compute": 5, "qdq": 3, "reformat": 1, "noop": 2, "constant": 0, "other": 0}
    assert s.by_type == {"Reformat": 4, "CaskConvolution": 4, "NoOp": 2, "TiledPooling": 1}
    assert s.by_precision == {"int8": 5, "fp32": 4, "fp16": 2}
    assert (s.conv_total, s.conv_int8, s.conv_int8_share) == (4, 4, 100.0)
    assert s.layer_time_ms == pytest.approx(0.36)
    assert s.qdq_ms == pytest.approx(0.06)  # QuantizeLinear_2, _15, _40
    assert s.reformat_ms == pytest.approx(0.02)  # the CopyNode after MaxPool; the NoOp one costs nothing
    assert s.qdq_reformat_ms == pytest.approx(0.08)
    assert s.qdq_reformat_share == pytest.approx(100 * 0.08 / 0.36)
    assert s.latency.runs == 5 and s.latency.median == pytest.approx(0.305)


def test_int8_share_counts_convolutions_reading_int8():
    def conv(dtype: str) -> Layer:
        return Layer("c", "CaskConvolution", LayerClass.COMPUTE, inputs=[TensorInfo("x", (1,), dtype)])

    report = EngineReport("tensorrt", "mem", [conv("int8"), conv("fp16"), conv("int8"), conv("fp32")])
    s = summarize(report)
    assert (s.conv_total, s.conv_int8, s.conv_int8_share) == (4, 2, 50.0)


def test_without_profile_times_are_unknown_not_zero(engine_json):
    s = summarize(engine_report_from_path(engine_json / "trt10_metadata" / "layers.json"))
    assert s.layer_time_ms is None and s.qdq_ms is None and s.qdq_reformat_share is None
    assert s.latency is None
    assert s.by_class["qdq"] == 2 and s.by_class["constant"] == 1


def test_names_only_has_no_precisions(engine_json):
    s = summarize(engine_report_from_path(engine_json / "names_only.layers.json"))
    assert s.by_precision == {"unknown": 11} and s.by_type == {"unknown": 11}
    assert s.conv_total == 3 and s.conv_int8 is None and s.conv_int8_share is None
    assert s.by_class["qdq"] == 3


def test_no_qdq_or_reformat_time_is_zero_not_unknown(engine_json):
    s = summarize(engine_report_from_path(engine_json / "multi_profile"))
    assert s.reformat_ms == 0.0 and isinstance(s.reformat_ms, float)
    assert s.qdq_reformat_ms == pytest.approx(0.011)


def test_latency_percentiles():
    lat = summarize(EngineReport("tensorrt", "mem", latency=Timings(tuple(float(x) for x in range(1, 101))))).to_dict()
    lat = lat["latency"]
    assert [lat[k] for k in ("runs", "median_ms", "min_ms", "max_ms", "mean_ms")] == [100, 50.5, 1.0, 100.0, 50.5]
    assert lat["percentiles_ms"]["p99"] == pytest.approx(99.01)
    assert lat["percentiles_ms"]["p90"] == pytest.approx(90.1)
    assert list(lat["percentiles_ms"]) == ["p50", "p90", "p95", "p99"]


def test_summary_uses_the_report_latency_not_the_layer_sum():
    layer = Layer("a", "CaskConvolution", LayerClass.COMPUTE, avg_ms=5.0)
    s = summarize(EngineReport("tensorrt", "mem", [layer], latency=Timings((1.0, 2.0, 3.0))))
    assert s.layer_time_ms == 5.0 and s.latency.median == 2.0


def test_to_dict_carries_the_derived_numbers(engine_json):
    d = summarize(engine_report_from_path(engine_json / "trt84_after")).to_dict()
    assert d["qdq_reformat_ms"] == pytest.approx(0.03) and d["conv_int8_share"] == 100.0
    assert d["latency"]["percentiles_ms"]["p50"] == pytest.approx(0.205)
