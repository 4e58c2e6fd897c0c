"""The onnxruntime backend on real ONNX Runtime runs: optimised graph, profile, classes, files, errors."""

from __future__ import annotations

import json

import onnx
import pytest

from qdqtool.analysis.rules import load_rules
from qdqtool.engine.backends import BuildOptions, get_backend
from qdqtool.engine.ort_backend import EngineReportFromOrt, OrtTimer
from qdqtool.engine.ort_profile import classify_ort_node, engine_report_from_ort_profile, node_times, read_ort_profile
from qdqtool.engine.report import EngineReport, LayerClass
from qdqtool.errors import BadInputError
from qdqtool.surgery.merge import merge_scales
from tests.fixtures import ort_graphs as G

FAST = BuildOptions(warmup=1, iterations=3)


def _build(tmp_path, model: onnx.ModelProto, name: str, options: BuildOptions = FAST) -> EngineReport:
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return EngineReportFromOrt(path, tmp_path / name, options)()


def _layer(report: EngineReport, *types: str):
    return next(layer for layer in report.layers if layer.type in types)


def test_mismatched_maxpool_keeps_standalone_qdq_and_the_merged_one_does_not(tmp_path):
    before = _build(tmp_path, G.pool_chain(0.05, 0.07), "before")
    merged = merge_scales(G.pool_chain(0.05, 0.07), load_rules("onnxruntime-cpu")).model
    after = _build(tmp_path, merged, "after")

    pool = _layer(before, "MaxPool")
    assert pool.inputs[0].dtype == "fp32" and pool.cls is LayerClass.COMPUTE  # runs in float between DQ and Q
    assert len(before.leftover_qdq) == 6  # input Q, output DQ, and DQ/Q + Q/DQ around the MaxPool
    assert {"QuantizeLinear", "DequantizeLinear"} <= {layer.type for layer in before.leftover_qdq}

    pool = _layer(after, "NhwcMaxPool")
    assert pool.inputs[0].dtype == "uint8" and pool.outputs[0].dtype == "uint8"
    assert [layer.type for layer in after.leftover_qdq] == ["QuantizeLinear", "DequantizeLinear"]  # graph edges only
    assert len(after.of_class(LayerClass.REFORMAT)) < len(before.of_class(LayerClass.REFORMAT))


def test_layers_carry_classes_types_times_and_onnx_nodes(tmp_path):
    report = _build(tmp_path, G.pool_chain(), "model", BuildOptions(warmup=2, iterations=4))
    assert report.backend == "onnxruntime" and report.measured and report.detailed
    assert report.profile_runs == 4  # the warm-up runs are not averaged in
    assert all(layer.avg_ms is not None and layer.avg_ms > 0 for layer in report.layers)
    assert sum(layer.share for layer in report.layers) == pytest.approx(100.0)
    conv = _layer(report, "QLinearConv")
    assert conv.cls is LayerClass.COMPUTE and conv.raw["domain"] == "com.microsoft"
    assert conv.onnx_nodes == ("conv0",) and conv.weights == ("conv0.weight_quantized",)
    assert [t.dtype for t in conv.inputs] == ["uint8"]  # activations only, like TensorRT's layer inputs
    assert _layer(report, "Transpose").cls is LayerClass.REFORMAT
    assert report.latency is not None and report.latency.runs == 4
    assert report.bindings == ["input", "conv1_output_dequantized"]
    assert "1 thread(s)" in report.notes[0]


def test_files_are_written_and_engine_report_json_reads_back(tmp_path):
    report = _build(tmp_path, G.pool_chain(), "model")
    out = tmp_path / "model"
    assert sorted(p.name for p in out.iterdir()) == sorted(get_backend("onnxruntime").files)
    assert EngineReport.from_dict(json.loads((out / "engine_report.json").read_text())) == report
    optimized = onnx.load(str(out / "optimized.onnx"))
    assert [n.name or n.output[0] for n in optimized.graph.node] == [layer.name for layer in report.layers]
    again = engine_report_from_ort_profile(out / "optimized.onnx", out / "profile.json", warmup=1)
    assert [(a.name, a.avg_ms) for a in again.layers] == [(b.name, b.avg_ms) for b in report.layers]


def test_no_latency_when_not_asked(tmp_path):
    report = _build(tmp_path, G.pool_chain(), "model", BuildOptions(warmup=0, iterations=2, latency=False))
    assert report.latency is None and report.profile_runs == 2


@pytest.mark.parametrize("op_type, cls", [
    ("QuantizeLinear", LayerClass.QDQ), ("DequantizeLinear", LayerClass.QDQ), ("Transpose", LayerClass.REFORMAT),
    ("ReorderInput", LayerClass.REFORMAT), ("ReorderOutput", LayerClass.REFORMAT),
    ("QLinearConcat", LayerClass.COMPUTE),
    ("QLinearAdd", LayerClass.COMPUTE), ("NhwcMaxPool", LayerClass.COMPUTE), ("FusedConv", LayerClass.COMPUTE),
    ("Conv", LayerClass.COMPUTE), ("MaxPool", LayerClass.COMPUTE), ("Reshape", LayerClass.OTHER),
    ("Identity", LayerClass.NOOP), ("Constant", LayerClass.CONSTANT),
])
def test_classify_ort_node(op_type, cls):
    assert classify_ort_node(op_type) is cls


def _event(name: str, ts: int, dur: int, cat: str = "Node", op: str = "Conv") -> dict:
    return {"cat": cat, "name": name, "ts": ts, "dur": dur, "args": {"op_name": op}}


def test_node_times_drop_the_warmup_runs_and_sum_per_run():
    events = [
        _event("model_run", 0, 100, "Session"), _event("conv_kernel_time", 10, 50),  # warm-up
        _event("model_run", 200, 100, "Session"),
        _event("conv_kernel_time", 210, 20), _event("conv_kernel_time", 240, 4),
        _event("model_run", 400, 100, "Session"), _event("conv_kernel_time", 410, 30),
        _event("conv_fence_before", 405, 1),  # not a kernel time
    ]
    times, samples, runs = node_times(events, warmup=1)
    assert runs == 2 and times == {"conv": [0.024, 0.03]} and samples["conv"]["op_name"] == "Conv"


def test_unreadable_profile_is_bad_input(tmp_path):
    (tmp_path / "p.json").write_text('{"not": "a trace"}')
    with pytest.raises(BadInputError, match="not an ONNX Runtime profile"):
        read_ort_profile(tmp_path / "p.json")
    with pytest.raises(BadInputError, match="no such file"):
        read_ort_profile(tmp_path / "missing.json")


def test_bad_model_is_bad_input_and_writes_nothing(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(BadInputError, match="junk.onnx"):
        EngineReportFromOrt(tmp_path / "junk.onnx", tmp_path / "out", FAST)()
    assert not (tmp_path / "out").exists()
    model = G.pool_chain()
    model.graph.node[2].op_type, model.graph.node[2].domain = "NoSuchOp", "custom.domain"
    onnx.save(model, tmp_path / "unknown_op.onnx")
    with pytest.raises(BadInputError, match="ONNX Runtime cannot load it"):
        EngineReportFromOrt(tmp_path / "unknown_op.onnx", tmp_path / "out", FAST)()
    assert not (tmp_path / "out").exists()  # the session failed inside the build: nothing left behind
    with pytest.raises(BadInputError, match="no such file"):
        EngineReportFromOrt(tmp_path / "missing.onnx", tmp_path / "out", FAST)()


def test_builds_without_qdq_propagation_when_onnxruntime_rejects_its_own_graph(tmp_path):
    import onnxruntime as ort

    model = G.int8_pool_opset21()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        pytest.skip("this onnxruntime no longer rejects its QDQ propagation result")
    except Exception as err:  # noqa: BLE001
        assert "output_dtype" in str(err)
    report = _build(tmp_path, model, "model")
    assert _layer(report, "MaxPool") and "optimised without QDQPropagationTransformer" in report.notes[1]


def test_timer_runs_the_model(tmp_path):
    onnx.save(G.pool_chain(), tmp_path / "m.onnx")
    with OrtTimer(tmp_path / "m.onnx", None, FAST) as timer:
        times = timer.time(3)
    assert len(times) == 3 and all(t > 0 for t in times)
