"""qdqtool: find and fix the Q/DQ scale mismatches that keep TensorRT from fusing INT8 kernels, and prove it.

    >>> import onnx, qdqtool
    >>> loaded = qdqtool.load_model("model.onnx")
    >>> analysis = qdqtool.find_scale_groups(loaded.model, qdqtool.load_rules("tensorrt"))
    >>> result = qdqtool.merge_scales(loaded.model, qdqtool.load_rules("tensorrt"))
    >>> qdqtool.save_model(result.model, "merged.onnx")
"""

from __future__ import annotations

import importlib

# public name -> module that defines it; imported on first use, so `import qdqtool` (and every command, which
# imports its own modules) does not pay for the parts it does not use (PEP 562)
_EXPORTS = {
    "EngineReport": "qdqtool.engine.report",
    "QdqToolError": "qdqtool.errors",
    "find_scale_groups": "qdqtool.analysis.groups",
    "load_model": "qdqtool.io.onnx_io",
    "load_rules": "qdqtool.analysis.rules",
    "merge_scales": "qdqtool.surgery.merge",
    "predict_engine": "qdqtool.engine.predictor",
    "save_model": "qdqtool.io.onnx_io",
}

__all__ = sorted(_EXPORTS)


_SUBPACKAGES = ("io", "ir", "analysis", "surgery", "verify", "engine", "gate", "jobs", "report", "cli", "examples")


def __getattr__(name: str) -> object:
    if name in _SUBPACKAGES:  # `import qdqtool; qdqtool.surgery.merge...` as with eagerly imported subpackages
        return importlib.import_module(f"qdqtool.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qdqtool' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBPACKAGES))
