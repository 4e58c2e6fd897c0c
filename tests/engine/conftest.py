"""Fixtures for the engine-report tests: our own small TensorRT JSON files (real samples: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

ENGINE_JSON = Path(__file__).resolve().parents[1] / "fixtures" / "engine_json"


@pytest.fixture
def engine_json() -> Path:
    """tests/fixtures/engine_json: small engines in TensorRT's JSON formats, written for these tests."""
    return ENGINE_JSON

