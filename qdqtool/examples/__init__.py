"""The example QAT model shipped with qdqtool (built by tests/fixtures/make_example.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

EXAMPLE = "yolov6_qat.onnx"


@contextlib.contextmanager
def example_model() -> Iterator[Path]:
    """The path of the bundled YOLOv6-style QAT model (read only, like every input)."""
    with resources.as_file(resources.files(__name__) / EXAMPLE) as path:
        yield Path(path)
