"""The ``build`` job: build one model on a backend, profile and time it; the backend writes its files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qdqtool.engine.backends import BACKENDS, BuildOptions, ProgressSink, get_backend
from qdqtool.engine.report import EngineReport
from qdqtool.engine.summary import EngineSummary, summarize

__all__ = ["BACKENDS", "BuildOptions", "BuildResult", "build"]


@dataclass
class BuildResult:
    report: EngineReport
    summary: EngineSummary
    output: Path
    files: tuple[str, ...]  # what the backend wrote into ``output``


def build(model: Path, backend: str, output: Path, options: BuildOptions,
          progress: ProgressSink | None = None) -> BuildResult:
    """Build ``model`` with ``backend`` into the folder ``output``.

    Args:
        model (Path): The ONNX model.
        backend (str): A registered backend name (``onnxruntime``, ``tensorrt``, ``trt-sim``).
        output (Path): The folder for the backend's files.
        options (BuildOptions): Runs, threads, shapes and the TensorRT settings.
        progress (ProgressSink): Told about each phase. Defaults to None.
    """
    chosen = get_backend(backend)
    report = chosen.loader()(model, output, options, progress)()
    return BuildResult(report=report, summary=summarize(report), output=output, files=chosen.files)
