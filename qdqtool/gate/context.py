"""What a lint rule may read: the model and its analysis, the engine report, the baseline, the gate limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import onnx

from qdqtool.analysis.groups import Analysis
from qdqtool.analysis.rules import RuleSet
from qdqtool.engine.report import EngineReport
from qdqtool.engine.summary import EngineSummary
from qdqtool.gate.metrics import Metrics


@dataclass
class Limits:
    """Gate thresholds that are not per-rule options (command line > config file > defaults)."""

    max_latency_regression: float = 3.0  # percent
    max_qdq_layers: int | None = None


@dataclass
class LintContext:
    """Everything the rules of one ``qdqtool check`` run read. Rules never modify it."""

    model_path: Path
    model: onnx.ModelProto
    rules: RuleSet
    analysis: Analysis
    metrics: Metrics
    engine: EngineReport | None = None
    engine_summary: EngineSummary | None = None
    baseline: dict | None = None  # a previous `qdqtool check --format json` document
    baseline_path: Path | None = None
    limits: Limits = field(default_factory=Limits)
    unused_waivers: list = field(default_factory=list)  # filled before the meta rules run
