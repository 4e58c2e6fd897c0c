"""Reading and validating TensorRT's layer-information, profile and timing JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qdqtool.errors import BadInputError
from qdqtool.io import trt_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine_json"
GRAPH = FIXTURES / "trt84_before" / "small.onnx.engine.graph.json"
PROFILE = FIXTURES / "trt84_before" / "small.onnx.engine.profile.json"
TIMING = FIXTURES / "trt84_before" / "small.onnx.engine.timing.json"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_kind_of_recognises_every_file_kind():
    assert trt_json.kind_of(json.loads(GRAPH.read_text())) == "layers"
    assert trt_json.kind_of(json.loads(PROFILE.read_text())) == "profile"
    assert trt_json.kind_of(json.loads(TIMING.read_text())) == "timing"
    meta = FIXTURES / "trt84_before" / "small.onnx.engine.profile.metadata.json"
    assert trt_json.kind_of(json.loads(meta.read_text())) == "trex-profile-metadata"
    assert trt_json.kind_of({"model_options": {}}) == "trex-build-metadata"
    assert trt_json.kind_of([{"Name": "A100", "ComputeCapability": [8, 0]}]) == "trex-device-metadata"
    assert trt_json.kind_of([{"count": 3}]) == "profile"
    assert trt_json.kind_of({"foo": 1}) is None
    assert trt_json.kind_of([1, 2]) is None
    assert trt_json.kind_of("text") is None


def test_detailed_layer_info():
    info = trt_json.read_layer_info(GRAPH)
    assert info.detailed
    assert len(info.layers) == 11
    assert info.layers[0]["Name"] == "QuantizeLinear_2"
    assert info.bindings == ["input", "logits"]


def test_names_only_layer_info():
    info = trt_json.read_layer_info(FIXTURES / "names_only.layers.json")
    assert not info.detailed
    assert info.layers[1] == "stem.weight + QuantizeLinear_7 + Conv_9"


def test_profile_with_median():
    profile = trt_json.read_profile(PROFILE)
    assert profile.runs == 100
    assert len(profile.records) == 11
    first = profile.records[0]
    assert (first.name, first.average_ms, first.median_ms) == ("QuantizeLinear_2", 0.03, pytest.approx(0.0294))
    assert first.percentage == pytest.approx(100 * 0.03 / 0.36, rel=1e-3)


def test_profile_without_median_is_accepted():
    profile = trt_json.read_profile(FIXTURES / "trt82_scale" / "model.profile.json")
    assert profile.runs == 1000
    assert all(r.median_ms is None for r in profile.records)
    assert profile.records[1].average_ms == 0.03


def test_timing_latencies():
    timing = trt_json.read_timing(TIMING)
    assert timing.latencies_ms == [0.300, 0.310, 0.305, 0.320, 0.302]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty file"),
        ("   \n", "empty file"),
        ("{not json", "not JSON (line 1"),
        (b"\x00\x01\xfe\xff", "binary file, not JSON"),
        ("{}", "holds an empty object"),
        ("[]", "holds an empty list"),
        ('{"foo": 1}', "JSON of another kind (an object with keys foo)"),
        ('{"Layers": []}', "lists no layers"),
        ('{"Layers": {"a": 1}}', '"Layers" is an object'),
        ('{"Layers": ["a", {"Name": "b"}]}', "mixes names and layer objects"),
        ('{"Layers": [{"LayerType": "Reformat"}]}', 'layer 0 has no "Name"'),
    ],
)
def test_bad_layer_info_is_one_line(tmp_path, content, message):
    path = write(tmp_path, "layers.json", content)
    with pytest.raises(BadInputError, match="layers.json") as err:
        trt_json.read_layer_info(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_profile_given_as_layer_info_names_its_kind():
    with pytest.raises(BadInputError, match=r"per-layer profile JSON \(trtexec --exportProfile\), expected a layer"):
        trt_json.read_layer_info(PROFILE)


def test_layer_info_given_as_profile_names_its_kind():
    with pytest.raises(BadInputError, match=r"layer-information JSON .*, expected a per-layer profile"):
        trt_json.read_profile(GRAPH)


def test_timing_given_as_profile_names_its_kind():
    with pytest.raises(BadInputError, match=r"timing JSON .*, expected a per-layer profile"):
        trt_json.read_profile(TIMING)


def test_profile_given_as_timing_names_its_kind():
    with pytest.raises(BadInputError, match=r"per-layer profile JSON .*, expected a per-inference timing"):
        trt_json.read_timing(PROFILE)


@pytest.mark.parametrize(
    "records, message",
    [
        ([{"count": 5}], "holds no layer records"),
        ([{"count": 5}, {"averageMs": 0.1}], 'record 1 has no "name"'),
        ([{"name": "a", "averageMs": "fast"}], 'no numeric "averageMs"'),
        ([{"name": "a", "averageMs": 0.1, "medianMs": True}], 'no numeric "medianMs"'),
    ],
)
def test_bad_profile_records(tmp_path, records, message):
    path = write(tmp_path, "profile.json", json.dumps(records))
    with pytest.raises(BadInputError, match=message):
        trt_json.read_profile(path)


def test_bad_timing_record(tmp_path):
    path = write(tmp_path, "timing.json", json.dumps([{"latencyMs": 0.3}, {"latencyMs": None, "computeMs": 1}]))
    with pytest.raises(BadInputError, match='timing record 1 has no numeric "latencyMs"'):
        trt_json.read_timing(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(BadInputError, match="no such file"):
        trt_json.read_profile(tmp_path / "nope.json")
    with pytest.raises(BadInputError, match="is a folder"):
        trt_json.read_timing(tmp_path)
