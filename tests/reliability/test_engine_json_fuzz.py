"""Mangled engine JSON through inspect, diff and check: whatever the fields hold, a clear line (exit 2) or a report
(exit 0), never a traceback. Hypothesis mangles our own engine fixtures (tests/fixtures/engine_json): values of
the wrong type, numbers as strings, nulls at any depth, missing and extra fields."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli

ENGINE_JSON = Path(__file__).resolve().parents[1] / "fixtures" / "engine_json"
LAYERS = json.loads((ENGINE_JSON / "trt10_metadata" / "layers.json").read_text())
PROFILE = json.loads((ENGINE_JSON / "trt10_metadata" / "profile.json").read_text())

ODD = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                st.text(max_size=6), st.just("12"), st.just([]), st.just({}), st.just([None]),
                st.just({"Name": None}), st.lists(st.integers(), max_size=3))


def _paths(value, prefix=()):
    """Every place in a JSON value (as a path of keys and indices)."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:4]):  # a few layers are enough
            yield from _paths(v, (*prefix, i))


def _set(document, path, value):
    if not path:
        return value
    inner = document
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = value
    return document


@st.composite
def mangled(draw, original):
    places = list(_paths(original))
    document = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(places))
        try:
            document = _set(document, path, copy.deepcopy(draw(ODD)))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change removed that place
    return document


SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,  # the same examples in every CI run
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


def _no_traceback(run) -> None:
    assert run.code in (0, 2), run.err
    assert "Traceback" not in run.err and "internal error" not in run.err
    if run.code == 2:
        assert run.err.count("\n") == 1, run.err


@pytest.mark.parametrize("as_json", [False, True])
@SETTINGS
@given(layers=mangled(LAYERS))
def test_inspect_never_tracebacks_on_mangled_layers(tmp_path, capsys, layers, as_json):
    path = tmp_path / "layers.json"
    path.write_text(json.dumps(layers))
    _no_traceback(run_cli(capsys, "inspect", path, *(["--json"] if as_json else [])))


@SETTINGS
@given(profile=mangled(PROFILE))
def test_inspect_never_tracebacks_on_a_mangled_profile(tmp_path, capsys, profile):
    (tmp_path / "profile.json").write_text(json.dumps(profile))
    _no_traceback(run_cli(capsys, "inspect", ENGINE_JSON / "trt10_metadata" / "layers.json", "--profile",
                          tmp_path / "profile.json"))


@SETTINGS
@given(layers=mangled(LAYERS))
def test_diff_never_tracebacks_on_mangled_layers(tmp_path, capsys, layers):
    path = tmp_path / "after.json"
    path.write_text(json.dumps(layers))
    _no_traceback(run_cli(capsys, "diff", ENGINE_JSON / "trt10_metadata" / "layers.json", path))
