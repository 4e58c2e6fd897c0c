"""Gate rules (``QDQ3xx``): compare this run with an accepted baseline and with absolute limits.

The baseline is the ``qdqtool check --format json`` document of an accepted model/engine. Counts must not get
worse; latency may grow by ``--max-latency-regression`` percent, and when both runs have repeated per-inference
times the growth must also stand out of the run-to-run noise (3 standard errors of the medians).
"""

from __future__ import annotations

from collections.abc import Iterator

from qdqtool.engine.latency import judge_change
from qdqtool.gate.context import LintContext
from qdqtool.gate.metrics import COUNTS, LatencyStats, Metrics
from qdqtool.gate.registry import Hit, Severity, Skip, register


def _baseline_metrics(ctx: LintContext) -> Metrics:
    if ctx.baseline is None:
        raise Skip("no baseline given (--baseline baseline.json)")
    return Metrics.from_dict(ctx.baseline.get("metrics"), str(ctx.baseline_path))


@register(
    "QDQ301", "count-regression", "baseline", Severity.ERROR,
    "A count got worse than in the baseline (blocking scale groups, unfused Q/DQ layers, INT8 convolutions ...).",
    """The baseline is the report of the last accepted model/engine; a new mismatched group, one more standalone
    Q/DQ or reformat layer, or fewer INT8 convolutions is a regression of the INT8 deployment.""",
    """Run `qdqtool check` on both models and compare the findings; when the change is intended, save a new
    baseline with `qdqtool check MODEL --format json --output baseline.json`.""",
)
def count_regression(ctx: LintContext) -> Iterator[Hit]:
    base = _baseline_metrics(ctx)
    now = ctx.metrics
    for name, (more_is_worse, label) in COUNTS.items():
        before, after = getattr(base, name), getattr(now, name)
        if before is None or after is None or before == after:
            continue
        if (after > before) == more_is_worse:
            yield Hit(message=f"{label}: {before} -> {after} ({after - before:+d}) compared with the baseline "
                      f"{ctx.baseline_path}", key=name)


@register(
    "QDQ302", "qdq-layer-limit", "baseline", Severity.ERROR,
    "The engine has more standalone Q/DQ layers than allowed (--max-qdq-layers).",
    """A hard cap on unfused quantize/dequantize layers, for pipelines that know how many their model may keep
    (e.g. the ones on graph inputs and outputs).""",
    "Fix the unfused layers (QDQ201), or raise --max-qdq-layers (`max-qdq-layers` in the config).",
)
def qdq_layer_limit(ctx: LintContext) -> Iterator[Hit]:
    limit = ctx.limits.max_qdq_layers
    if limit is None:
        raise Skip("no limit set (--max-qdq-layers N)")
    if ctx.metrics.qdq_layers is None:
        raise Skip("no engine given (--engine layers.json)")
    if ctx.metrics.qdq_layers > limit:
        yield Hit(message=f"{ctx.metrics.qdq_layers} unfused Q/DQ layers, more than the limit {limit}",
                  nodes=tuple(n for layer in ctx.engine.leftover_qdq for n in layer.onnx_nodes), key="qdq_layers")


def latency_regression_of(base: LatencyStats, now: LatencyStats, max_pct: float) -> tuple[bool, str]:
    """(regressed, explanation): slower by ``max_pct`` percent or more, and out of the noise when both have
    repeated runs (the one judgement of :func:`~qdqtool.engine.latency.judge_change`)."""
    verdict, why = judge_change(base, now, max_pct / 100.0)
    what = "median latency" if now.source == "timing" else "summed layer time"
    return verdict == "regression", f"{what} {why} (limit +{max_pct:g}%)"


@register(
    "QDQ303", "latency-regression", "baseline", Severity.ERROR,
    "The engine is slower than the baseline beyond --max-latency-regression.",
    """Compared on the median end-to-end latency when both runs have per-inference times (trtexec --exportTimes),
    and then only when the slowdown exceeds 3 standard errors of the two medians, so noise does not fail the gate;
    otherwise on the summed per-layer time.""",
    """Compare the engines with `qdqtool diff BEFORE AFTER` to find the layers that got slower; when the change is
    intended, save a new baseline.""",
)
def latency_regression(ctx: LintContext) -> Iterator[Hit]:
    base = _baseline_metrics(ctx)
    now = ctx.metrics.latency
    if now is None:
        raise Skip("no engine times (--engine with --profile or --timing)")
    if base.latency is None:
        raise Skip(f"the baseline {ctx.baseline_path} has no engine times")
    if base.latency.source != now.source:
        raise Skip(f"the baseline has {base.latency.source} times and this run {now.source} times; give the same kind")
    regressed, text = latency_regression_of(base.latency, now, ctx.limits.max_latency_regression)
    if regressed:
        yield Hit(message=text, key="latency")
