"""Shared fixtures for the engine-report tests: our own small TensorRT JSON files, and the real samples."""

from __future__ import annotations

from pathlib import Path

import pytest

ENGINE_JSON = Path(__file__).resolve().parents[1] / "fixtures" / "engine_json"
# ../shared/trt-samples beside the repository (CI clones the repo next to shared/); never copied into the project.
TRT_SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "trt-samples"


@pytest.fixture
def engine_json() -> Path:
    """tests/fixtures/engine_json: small engines in TensorRT's JSON formats, written for these tests."""
    return ENGINE_JSON


@pytest.fixture
def trt_samples() -> Path:
    """The real TensorRT sample files (../shared/trt-samples); skips the test when they are absent."""
    if not TRT_SAMPLES.is_dir():
        pytest.skip(f"real TensorRT samples not found at {TRT_SAMPLES.resolve()} (they live beside the repo in CI)")
    return TRT_SAMPLES
