"""What every job that writes a model checks before and after: the output path, and onnx.checker on the result."""

from __future__ import annotations

from pathlib import Path

import onnx

from qdqtool.errors import InternalError
from qdqtool.io.guard import check_target
from qdqtool.io.onnx_io import LoadedModel, external_locations


def check_output_path(output: Path, model: Path) -> None:
    """BadInputError when ``output`` may not be written (io/guard.py): over the model or another input, over a
    folder, a device or a link, or where nothing can be written."""
    check_target(output, inputs=[model])


def input_files(loaded: LoadedModel) -> list[Path]:
    """The files a loaded model came from: the .onnx file and its external data."""
    return [loaded.path, *(loaded.path.parent / location for location in external_locations(loaded.model))]


def checker_notes(written: Path, original: Path, job: str) -> list[str]:
    """onnx.checker on the written output. A model the input already broke the same way is noted, not blamed."""
    try:
        onnx.checker.check_model(str(written))
        return []
    except onnx.checker.ValidationError as err:
        problem = str(err).splitlines()[0]
    try:
        onnx.checker.check_model(str(original))
    except onnx.checker.ValidationError as err:
        return [f"the input model already fails onnx.checker ({str(err).splitlines()[0]}); so does the output"]
    raise InternalError(f"{job} wrote a model that fails onnx.checker though the input passes: {problem}")
