"""What every job that writes a model checks before and after: the output path, and onnx.checker on the result."""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from qdqtool.errors import BadInputError, InternalError


def check_output_path(output: Path, model: Path) -> None:
    """BadInputError when ``output`` is a folder or the input itself (also through links)."""
    if output.exists() and output.is_dir():
        raise BadInputError(f"{output}: is a folder; give the output model's file name with -o")
    if output.exists() and os.path.samefile(output, model):
        raise BadInputError(f"{model}: the output would overwrite the input; choose another -o")


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
