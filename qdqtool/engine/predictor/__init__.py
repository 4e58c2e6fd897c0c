"""The TensorRT fusion predictor (``--backend trt-sim``): what TensorRT would build, predicted on the CPU."""

from qdqtool.engine.predictor.config import PredictorRules
from qdqtool.engine.predictor.report import (
    BACKEND,
    EngineReportFromTrtSim,
    engine_report_from_trt_sim,
    predict_engine,
)

__all__ = ["BACKEND", "EngineReportFromTrtSim", "PredictorRules", "engine_report_from_trt_sim", "predict_engine"]
