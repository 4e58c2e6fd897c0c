"""The ``analyze`` job: load a model, find its scale groups for a target, and predict what they cost TensorRT."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qdqtool.analysis.groups import Analysis, find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.engine.predictor.kernels import KernelCounts, predict_kernels
from qdqtool.errors import names_the_model
from qdqtool.io.onnx_io import load_model


@dataclass
class AnalyzeRequest:
    """What ``qdqtool analyze`` needs; "None means default"."""

    model: Path
    target: str | None = None
    max_scale_ratio: float | None = None
    predict: bool = True  # add the predicted standalone Q/DQ kernels (targets with a predictor only)


@dataclass
class AnalyzeResult:
    request: AnalyzeRequest
    analysis: Analysis
    kernels: KernelCounts | None  # None without --predict or for a target without a predictor


@names_the_model(lambda request: request.model)
def analyze(request: AnalyzeRequest) -> AnalyzeResult:
    """Find the scale groups of ``request.model`` (read only: nothing is written).

    Args:
        request (AnalyzeRequest): What to analyse.
    """
    rules = load_rules(request.target)
    loaded = load_model(request.model)
    analysis = find_scale_groups(loaded.model, rules, request.max_scale_ratio)
    kernels = predict_kernels(analysis, rules, max_scale_ratio=request.max_scale_ratio) if request.predict else None
    return AnalyzeResult(request=request, analysis=analysis, kernels=kernels)
