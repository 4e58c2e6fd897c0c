"""EngineReport from TensorRT JSON: layers, profile join, multi-profile engines, folders, the path dispatcher."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qdqtool.engine.load import engine_report_from_path
from qdqtool.engine.report import LayerClass
from qdqtool.engine.trt_report import (
    EngineReportFromTrtJson,
    dtype_from_format,
    engine_report_from_trt_json,
    find_engine_files,
)
from qdqtool.errors import BadInputError


def classes(report) -> list[str]:
    return [layer.cls.value for layer in report.layers]


@pytest.mark.parametrize(
    "fmt, dtype",
    [
        ("Row major linear FP32", "fp32"),
        ("Channel major FP16 format where channel % 8 == 0", "fp16"),
        ("Thirty-two wide channel vectorized row major Int8 format", "int8"),
        ("Row major linear UInt8 format", "uint8"),
        ("Row major linear BFloat16 format", "bf16"),
        ("Row major linear FP8 format", "fp8"),
        ("Row major linear Int32 format", "int32"),
        ("Row major linear Int64 format", "int64"),
        ("Row major linear Int4 format", "int4"),
        ("Row major linear Bool format", "bool"),
        ("Channel major FP32 format where channel % 4 == 0", "fp32"),
        ("Something new", None),
        (None, None),
    ],
)
def test_dtype_from_format(fmt, dtype):
    assert dtype_from_format(fmt) == dtype


def test_trt84_folder_with_trex_naming(engine_json):
    report = engine_report_from_path(engine_json / "trt84_before")
    assert report.source.endswith("trt84_before")
    assert classes(report) == [
        "qdq",
        "compute",
        "compute",
        "reformat",
        "qdq",
        "compute",
        "compute",
        "qdq",
        "noop",
        "compute",
        "noop",
    ]
    conv2 = report.layers[6]
    assert [t.dtype for t in conv2.inputs] == ["int8", "fp16"] and conv2.precision == "fp16"
    assert conv2.inputs[0].shape == (8, 16, 16, 16)
    assert conv2.tactic == "sm80_xmma_fprop_implicit_gemm_interleaved_i8f16_f16_c2"
    assert conv2.onnx_nodes == ("QuantizeLinear_32", "Conv_34", "Add_36", "Relu_37")
    assert conv2.weights == ("block.conv2.weight",)
    assert conv2.avg_ms == 0.05 and conv2.median_ms == pytest.approx(0.049)
    assert conv2.share == pytest.approx(100 * 0.05 / 0.36, rel=1e-3)
    assert report.latency.values == (0.300, 0.310, 0.305, 0.320, 0.302)
    assert report.profile_runs == 100 and report.detailed and report.notes == []


def test_plain_naming_folder(engine_json):
    report = engine_report_from_path(engine_json / "trt84_after")
    assert len(report.layers) == 6 and report.has_layer_times and report.latency is not None
    assert report.layers[1].type == "ConvActPool" and report.layers[1].precision == "int8"


def test_trt10_metadata_file(engine_json):
    report = engine_report_from_path(
        engine_json / "trt10_metadata" / "layers.json", profile=engine_json / "trt10_metadata" / "profile.json"
    )
    by_name = {layer.name: layer for layer in report.layers}
    pointwise = by_name["/act/Sigmoid + /act/Mul"]  # the \x1E in the name became " + "
    assert pointwise.onnx_nodes == ("/act/Sigmoid", "/act/Mul")
    assert pointwise.avg_ms == 0.006  # the profile name carries the same \x1E and still joins
    stem = report.layers[1]
    assert stem.onnx_nodes == (
        "/stem/input_dequantizer/DequantizeLinear",
        "/stem/weight_quantizer/QuantizeLinear",
        "/stem/weight_dequantizer/DequantizeLinear",
        "/stem/Conv",
    )
    assert stem.weights == ("model.stem.weight",)
    assert by_name["/Constant_3"].cls is LayerClass.CONSTANT
    assert by_name["{ForeignNode[/pool/GlobalAveragePool.../flatten/Flatten]}"].cls is LayerClass.COMPUTE
    assert [layer.name for layer in report.leftover_qdq] == [
        "/input_quantizer/QuantizeLinear",
        "/act_quantizer/QuantizeLinear",
    ]
    assert report.bindings == ["images", "logits"]


def test_names_only_is_inspected_and_says_so(engine_json):
    report = engine_report_from_path(engine_json / "names_only.layers.json")
    assert not report.detailed
    assert [layer.name for layer in report.leftover_qdq] == [
        "QuantizeLinear_2",
        "QuantizeLinear_15",
        "QuantizeLinear_40",
    ]
    assert report.layers[1].weights == ("stem.weight",) and report.layers[1].type == ""
    assert any("names-only" in note and "--profilingVerbosity=detailed" in note for note in report.notes)


def test_names_only_with_a_profile(engine_json):
    report = engine_report_from_path(
        engine_json / "names_only.layers.json", profile=engine_json / "trt84_before" / "small.onnx.engine.profile.json"
    )
    assert report.has_layer_times and report.layers[1].avg_ms == 0.12


def test_multi_profile_picks_the_profile_the_profile_json_timed(engine_json):
    report = engine_report_from_path(engine_json / "multi_profile")
    assert report.opt_profile == 1 and report.opt_profiles == 2
    assert [layer.name for layer in report.layers] == [
        "/input_quantizer/QuantizeLinear",
        "model.conv.weight + /conv/weight_quantizer/QuantizeLinear + /conv/Conv",
    ]
    assert report.layers[0].inputs[0].shape == (4, 3, 32, 32)  # profile 1's shapes
    assert [layer.avg_ms for layer in report.layers] == [0.011, 0.033]
    assert report.bindings == ["images", "out"]
    assert any("2 optimization profiles; showing profile 1" in note for note in report.notes)


def test_multi_profile_without_profile_json_defaults_to_profile_0(engine_json):
    report = engine_report_from_trt_json(engine_json / "multi_profile" / "layers.json")
    assert report.opt_profile == 0 and report.layers[0].inputs[0].shape == (1, 3, 32, 32)
    chosen = engine_report_from_trt_json(engine_json / "multi_profile" / "layers.json", opt_profile=1)
    assert chosen.layers[0].inputs[0].shape == (4, 3, 32, 32)


def test_multi_profile_errors(engine_json):
    layers = engine_json / "multi_profile" / "layers.json"
    with pytest.raises(BadInputError, match="no optimization profile 3 \\(it has 0, 1\\)"):
        engine_report_from_trt_json(layers, opt_profile=3)
    with pytest.raises(BadInputError, match="times optimization profile 1 but profile 0 was chosen"):
        engine_report_from_trt_json(layers, engine_json / "multi_profile" / "profile.json", opt_profile=0)


def test_profile_naming_unknown_layers_is_bad_input(engine_json):
    with pytest.raises(BadInputError, match=r"names 11 layer\(s\) that .*trt10_metadata.* does not have"):
        engine_report_from_trt_json(
            engine_json / "trt10_metadata" / "layers.json",
            engine_json / "trt84_before" / "small.onnx.engine.profile.json",
        )


def test_profile_missing_some_layers_is_a_note(engine_json):
    records = json.loads((engine_json / "trt84_before" / "small.onnx.engine.profile.json").read_text())
    report = engine_report_from_trt_json(engine_json / "trt84_before" / "small.onnx.engine.graph.json", records[:4])
    assert [layer.avg_ms for layer in report.layers[:3]] == [0.03, 0.12, 0.06]
    assert report.layers[3].avg_ms is None
    assert any(note.startswith("8 layer(s) have no profile record") for note in report.notes)


def test_repeated_layer_names_join_in_order():
    layers = {"Layers": [{"Name": "dup", "LayerType": "NoOp"}, {"Name": "dup", "LayerType": "NoOp"}]}
    profile = [{"count": 1}, {"name": "dup", "averageMs": 0.1}, {"name": "dup", "averageMs": 0.2}]
    report = engine_report_from_trt_json(layers, profile)
    assert [layer.avg_ms for layer in report.layers] == [0.1, 0.2]
    assert [layer.share for layer in report.layers] == pytest.approx([100 / 3, 200 / 3])  # computed when absent
    with pytest.raises(BadInputError, match="names 1 layer"):
        engine_report_from_trt_json(layers, profile + [{"name": "dup", "averageMs": 0.3}])


def test_loader_form_reads_only_when_called(engine_json):
    calls = []

    def layers():
        calls.append("layers")
        return engine_json / "trt84_after" / "layers.json"

    loader = EngineReportFromTrtJson(layers, profile=engine_json / "trt84_after" / "profile.json")
    assert calls == []
    report = loader()
    assert calls == ["layers"] and len(report.layers) == 6 and report.has_layer_times


def test_find_engine_files_ignores_trex_metadata(engine_json):
    files = find_engine_files(engine_json / "trt84_before")
    assert files.layers.name == "small.onnx.engine.graph.json"
    assert files.profile.name == "small.onnx.engine.profile.json"
    assert files.timing.name == "small.onnx.engine.timing.json"
    assert files.plan is None


def test_folder_with_two_engines_is_bad_input(engine_json, tmp_path):
    shutil.copy(engine_json / "trt84_before" / "small.onnx.engine.graph.json", tmp_path / "a.graph.json")
    shutil.copy(engine_json / "trt84_before" / "small.onnx.engine.graph.json", tmp_path / "layers.json")
    with pytest.raises(BadInputError, match="holds 2 layer-information files"):
        engine_report_from_path(tmp_path)


def test_folder_without_engine_files_is_bad_input(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadInputError, match="no engine files"):
        engine_report_from_path(tmp_path)


def test_explicit_profile_wins_over_the_folder_one(engine_json, tmp_path):
    shutil.copytree(engine_json / "trt84_after", tmp_path / "after")
    records = json.loads((tmp_path / "after" / "profile.json").read_text())
    records[1]["averageMs"] = 9.0
    (tmp_path / "other.json").write_text(json.dumps(records))
    report = engine_report_from_path(tmp_path / "after", profile=tmp_path / "other.json")
    assert report.layers[0].avg_ms == 9.0


@pytest.mark.parametrize(
    "name, fix",
    [
        ("small.onnx.engine.profile.json", "pass the layer-information JSON and add --profile"),
        ("small.onnx.engine.timing.json", "pass the layer-information JSON and add --timing"),
        ("small.onnx.engine.profile.metadata.json", "TREx profiling-log summary"),
        ("small.onnx.engine.build.metadata.json", "TREx build-log summary"),
    ],
)
def test_other_kinds_given_as_the_engine_say_what_to_do(engine_json, name, fix):
    with pytest.raises(BadInputError, match=fix):
        engine_report_from_path(engine_json / "trt84_before" / name)


def test_onnx_model_given_as_the_engine(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07\x12\x04onnx")
    with pytest.raises(BadInputError, match="an ONNX model, not an engine; build it"):
        engine_report_from_path(model)


def test_missing_and_empty_paths(tmp_path):
    with pytest.raises(BadInputError, match="no such file or folder"):
        engine_report_from_path(tmp_path / "missing.json")
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(BadInputError, match="empty file"):
        engine_report_from_path(tmp_path / "empty.json")


def test_json_without_extension_is_read_as_json(engine_json, tmp_path):
    target = tmp_path / "layers"
    target.write_bytes((Path(engine_json) / "trt84_after" / "layers.json").read_bytes())
    assert len(engine_report_from_path(target).layers) == 6


def _as_tensorrt_11(info: dict) -> dict:
    """TensorRT 10 layer information rewritten in TensorRT 11's schema (TensorRT 11 migration guide, "IEngineInspector
    JSON Output"): "Bindings" (names) become "I/O Tensors" objects, each layer tensor's "Format/Datatype" splits
    into "Datatype" and "Format"."""
    def split(tensor: dict) -> dict:
        tensor = dict(tensor)
        combined = tensor.pop("Format/Datatype")
        dtype = next(t for key, t in (("Int8", "Int8"), ("FP16", "Half"), ("FP32", "Float")) if key in combined)
        return {**tensor, "Datatype": dtype, "Format": combined.replace("FP32", "").replace("FP16", "").strip()}

    layers = [{**layer, "Inputs": [split(t) for t in layer.get("Inputs", [])],
               "Outputs": [split(t) for t in layer.get("Outputs", [])]} for layer in info["Layers"]]
    tensors = [{"Name": name, "IOMode": "Input" if i == 0 else "Output", "DataType": "Float",
                "Dimensions": [1, 3, 64, 64], "Location": "Device", "IsShapeInferenceIO": False}
               for i, name in enumerate(info.get("Bindings", []))]
    return {"Layers": layers, "I/O Tensors": tensors}


def test_tensorrt_11_layer_information_reads_as_tensorrt_10(engine_json):
    ten = json.loads((engine_json / "trt10_metadata" / "layers.json").read_text())
    ten.setdefault("Bindings", ["images", "output"])
    eleven = _as_tensorrt_11(ten)
    assert "Format/Datatype" not in json.dumps(eleven) and "Bindings" not in eleven
    a, b = engine_report_from_trt_json(ten), engine_report_from_trt_json(eleven)
    assert b.bindings == a.bindings == ten["Bindings"]
    assert [(layer.cls, layer.precision, [t.dtype for t in layer.inputs]) for layer in b.layers] == \
        [(layer.cls, layer.precision, [t.dtype for t in layer.inputs]) for layer in a.layers]
    assert {layer.precision for layer in b.layers} >= {"int8", "fp16"} and len(b.leftover_qdq) == 2
    conv = next(layer for layer in b.layers if "Conv" in layer.name)
    assert conv.inputs[0].format.startswith("Int8 ")  # both fields kept, type first, as Polygraphy joins them


def test_tensorrt_11_datatype_wins_over_a_format_that_names_another():
    report = engine_report_from_trt_json({"Layers": [{
        "Name": "conv", "LayerType": "CaskConvolution",
        "Inputs": [{"Name": "x", "Datatype": "Half", "Format": "Channel major FP16 format where channel % 8 == 0"}],
        "Outputs": [{"Name": "y", "Datatype": "Int8", "Format": "Row major linear FP32 layout"}]}]})
    assert report.layers[0].precision == "int8" and report.layers[0].inputs[0].dtype == "fp16"
