"""--baseline, --max-qdq-layers and the noise-aware latency comparison (QDQ3xx)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from qdqtool.errors import BadInputError
from qdqtool.gate.baseline_rules import latency_regression_of
from qdqtool.gate.metrics import LatencyStats
from qdqtool.jobs.check import CheckResult
from qdqtool.report.check_json import check_json
from tests.gate.helpers import by_rule, ids, lint, trt_layer, write_engine


def _save_baseline(run, path):
    path.write_text(check_json(CheckResult([run])))
    return path


def test_findings_in_the_baseline_do_not_fail_the_gate(save, tmp_path):
    model = save("yolov6_qat_int8")
    first = lint(model)
    assert not first
    baseline = _save_baseline(first, tmp_path / "baseline.json")
    again = lint(model, baseline=baseline)
    assert again and len(again.baselined) == len(first.violations) == 6
    assert not by_rule(again, "QDQ301") and again.fixed_since_baseline == 0


def test_new_findings_and_worse_counts_fail(save, tmp_path):
    baseline = _save_baseline(lint(save("yolov6_qat_int8_consistent")), tmp_path / "baseline.json")
    run = lint(save("yolov6_qat_int8"), baseline=baseline)
    (count,) = by_rule(run, "QDQ301")
    assert "mismatched or refused scale groups: 0 -> 6 (+6)" in count.message
    assert {v.rule.id for v in run.failing} == {"QDQ101", "QDQ301"}


def test_fixed_findings_are_counted(save, tmp_path):
    baseline = _save_baseline(lint(save("yolov6_qat_int8")), tmp_path / "baseline.json")
    run = lint(save("yolov6_qat_int8_consistent"), baseline=baseline)
    assert run and run.fixed_since_baseline == 6 and run.violations == []


def test_baseline_must_be_a_check_document(save, tmp_path):
    model = save("no_qdq")
    analyze = tmp_path / "analyze.json"
    analyze.write_text(json.dumps({"schema_version": 1, "command": "analyze"}))
    with pytest.raises(BadInputError, match="a `qdqtool analyze` document"):
        lint(model, baseline=analyze)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(BadInputError, match="not JSON"):
        lint(model, baseline=broken)
    with pytest.raises(BadInputError, match="no such baseline"):
        lint(model, baseline=tmp_path / "missing.json")


def test_max_qdq_layers(save, tmp_path):
    model = save("no_qdq")
    names = [n.name for n in onnx.load(str(model)).graph.node][:3]  # an engine of this model names its nodes
    layers = [trt_layer(name, "Reformat", ["fp32"], ["int8"], origin="QDQ") for name in names]
    engine = write_engine(tmp_path / "engine", layers)
    (v,) = by_rule(lint(model, engine=engine, max_qdq_layers=2), "QDQ302")
    assert "3 unfused Q/DQ layers, more than the limit 2" in v.message
    assert "QDQ302" not in ids(lint(model, engine=engine, max_qdq_layers=3))


def _stats(rng, median, spread, runs):
    values = rng.normal(median, spread, runs)
    m = float(np.median(values))
    return LatencyStats(m, float(np.median(np.abs(values - m))), runs, "timing")


def test_latency_regression_is_noise_aware():
    rng = np.random.default_rng(0)
    base = _stats(rng, 1.0, 0.001, 500)
    assert latency_regression_of(base, _stats(rng, 1.05, 0.001, 500), 3.0)[0]  # +5 %, tight runs
    assert not latency_regression_of(base, _stats(rng, 1.02, 0.001, 500), 3.0)[0]  # +2 % is allowed
    noisy_base, noisy_now = _stats(rng, 1.0, 0.5, 5), _stats(rng, 1.05, 0.5, 5)
    regressed, text = latency_regression_of(noisy_base, noisy_now, 3.0)
    assert not regressed and "within the noise" in text, text


def test_single_values_compare_on_the_threshold_alone():
    base, now = LatencyStats(1.0, 0.0, 1, "layer-sum"), LatencyStats(1.04, 0.0, 1, "layer-sum")
    regressed, text = latency_regression_of(base, now, 3.0)
    assert regressed and "not noise-aware" in text and "+4.0%" in text


def test_latency_regression_end_to_end(save, tmp_path):
    model = save("no_qdq")
    layers = [trt_layer("conv1", "CaskConvolution", ["fp16"], ["fp16"])]
    rng = np.random.default_rng(1)
    fast = write_engine(tmp_path / "fast", layers, latencies_ms=list(rng.normal(1.0, 0.002, 200)))
    slow = write_engine(tmp_path / "slow", layers, latencies_ms=list(rng.normal(1.10, 0.002, 200)))
    baseline = _save_baseline(lint(model, engine=fast), tmp_path / "baseline.json")
    (v,) = by_rule(lint(model, engine=slow, baseline=baseline), "QDQ303")
    assert "median latency" in v.message and "+10." in v.message
    assert not by_rule(lint(model, engine=slow, baseline=baseline, max_latency_regression=15.0), "QDQ303")


def test_real_engine_regression_against_a_better_baseline(save, trt_samples, tmp_path):
    """Going back from the residual placement to the default one: more standalone Q/DQ and a slower engine."""
    engines = trt_samples / "trex-resnet18-pytorch-A100"
    good = lint(save("resnet18_qat_residual"), engine=engines / "qat-residual")
    baseline = _save_baseline(good, tmp_path / "baseline.json")
    run = lint(save("resnet18_qat"), engine=engines / "qat", baseline=baseline)
    messages = " | ".join(v.message for v in by_rule(run, "QDQ301"))
    assert "unfused Q/DQ engine layers: 3 -> 10 (+7)" in messages
    (latency,) = by_rule(run, "QDQ303")
    assert "median latency" in latency.message and "noise" in latency.message
    assert not run
