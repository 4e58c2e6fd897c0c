"""qdqtool: find and fix the Q/DQ scale mismatches that keep TensorRT from fusing INT8 kernels, and prove it.

    >>> import onnx, qdqtool
    >>> loaded = qdqtool.load_model("model.onnx")
    >>> analysis = qdqtool.find_scale_groups(loaded.model, qdqtool.load_rules("tensorrt"))
    >>> result = qdqtool.merge_scales(loaded.model, qdqtool.load_rules("tensorrt"))
    >>> qdqtool.save_model(result.model, "merged.onnx")
"""

from qdqtool.analysis.groups import find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.engine.predictor import predict_engine
from qdqtool.engine.report import EngineReport
from qdqtool.errors import QdqToolError
from qdqtool.io.onnx_io import load_model, save_model
from qdqtool.surgery.merge import merge_scales

__all__ = [
    "EngineReport",
    "QdqToolError",
    "find_scale_groups",
    "load_model",
    "load_rules",
    "merge_scales",
    "predict_engine",
    "save_model",
]
