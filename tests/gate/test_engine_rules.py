"""Engine-side lint rules (QDQ2xx) on small engine files written here and on real TensorRT samples."""

from __future__ import annotations

import onnx
import pytest

from tests.gate.helpers import ENGINE_JSON, by_rule, ids, internal, kgen, lint, trt_layer, write_engine

YOLO_LAYERS = [
    trt_layer("backbone.stem.in.Q", "Reformat", ["fp32"], ["int8"], origin="QDQ"),
    trt_layer("backbone.stem.conv + backbone.stem.act", "CaskConvolution", ["int8"], ["int8"]),
    trt_layer("neck.Rep_p4.in.Q", "Reformat", ["fp16"], ["int8"], origin="QDQ"),
    trt_layer("neck.Rep_p4.conv + neck.Rep_p4.act", "CaskConvolution", ["fp16"], ["fp16"]),
    trt_layer("Reformatting CopyNode for Input Tensor 0 to detect.cat", "Reformat", ["fp16"], ["fp32"],
              origin="REFORMAT"),
]
YOLO_TIMES = {
    "backbone.stem.in.Q": 0.01,
    "backbone.stem.conv + backbone.stem.act": 0.10,
    "neck.Rep_p4.in.Q": 0.02,
    "neck.Rep_p4.conv + neck.Rep_p4.act": 0.20,
    "Reformatting CopyNode for Input Tensor 0 to detect.cat": 0.03,
}


def test_engine_rules_skip_without_an_engine(save):
    run = lint(save("yolov6_qat_int8"))
    states = {s.rule.id: (s.state, s.reason) for s in run.statuses if s.rule.side == "engine"}
    assert {state for state, _ in states.values()} == {"skipped"}
    assert "--engine" in states["QDQ201"][1]


def test_unfused_qdq_layers_name_the_onnx_nodes_and_their_group(save, tmp_path):
    engine = write_engine(tmp_path / "engine", YOLO_LAYERS, YOLO_TIMES)
    run = lint(save("yolov6_qat_int8"), engine=engine)
    found = {v.layer: v for v in by_rule(run, "QDQ201")}
    # the network input's Q (backbone.stem.in.Q) stands alone in every TensorRT engine: not a finding
    assert set(found) == {"neck.Rep_p4.in.Q"}
    grouped = found["neck.Rep_p4.in.Q"]
    assert grouped.group is not None and f"mismatched scale group {grouped.group}" in grouped.message
    assert grouped.nodes == ("neck.Rep_p4.in.Q",)


def test_conv_in_an_int8_region_running_fp16(save, tmp_path):
    engine = write_engine(tmp_path / "engine", YOLO_LAYERS, YOLO_TIMES)
    (v,) = by_rule(lint(save("yolov6_qat_int8"), engine=engine), "QDQ203")
    assert v.layer == "neck.Rep_p4.conv + neck.Rep_p4.act" and "reads fp16" in v.message


def test_conv_reading_float_by_design_is_not_flagged(save, tmp_path):
    layers = [trt_layer("conv1", "CaskConvolution", ["fp16"], ["fp16"])]
    run = lint(save("no_qdq"), engine=write_engine(tmp_path / "engine", layers))
    assert "QDQ203" not in ids(run)


def test_reformat_time_share_threshold_and_option(save, tmp_path):
    engine = write_engine(tmp_path / "engine", YOLO_LAYERS, YOLO_TIMES)
    model = save("yolov6_qat_int8")
    (v,) = by_rule(lint(model, engine=engine), "QDQ202")
    assert "16.7% of the summed layer time" in v.message and "above 10%" in v.message
    config = tmp_path / "qdqtool.toml"
    config.write_text("[rules.QDQ202]\nmax-share = 20\n")
    assert not by_rule(lint(model, engine=engine, config=config), "QDQ202")


def test_reformat_time_share_needs_a_profile(save, tmp_path):
    run = lint(save("yolov6_qat_int8"), engine=write_engine(tmp_path / "engine", YOLO_LAYERS))
    status = next(s for s in run.statuses if s.rule.id == "QDQ202")
    assert status.state == "skipped" and "--profile" in status.reason
    assert by_rule(run, "QDQ201"), "the other engine rules still run"


def test_names_only_engine_skips_the_precision_rule(save):
    run = lint(save("resnet18_qat"), engine=ENGINE_JSON / "names_only.layers.json")  # names of its own nodes
    status = next(s for s in run.statuses if s.rule.id == "QDQ203")
    assert status.state == "skipped" and "names-only" in status.reason


def test_real_engines_count_the_unfused_quantizers(save, trt_samples):
    """pytorch-quantization's ResNet-18 placements on an A100 (TREx samples): 10, 3 and 1 standalone Q/DQ, one of
    them always the network input's Q (QuantizeLinear_2), which TensorRT cannot fuse and QDQ201 does not report."""
    counts = {}
    for name, folder in (("resnet18_qat", "qat"), ("resnet18_qat_residual", "qat-residual"),
                         ("resnet18_qat_residual_qgap", "qat-residual-qgap")):
        run = lint(save(name), engine=trt_samples / "trex-resnet18-pytorch-A100" / folder)
        counts[name] = len(by_rule(run, "QDQ201"))
        assert run.metrics.conv_int8 == run.metrics.conv_total == 21
    assert counts == {"resnet18_qat": 9, "resnet18_qat_residual": 2, "resnet18_qat_residual_qgap": 0}


def test_predicted_engine_without_a_gpu(save):
    """--predict: the CPU prediction of the TensorRT engine finds the same 10 and 3 standalone Q/DQ as the real ones."""
    default = lint(save("resnet18_qat"), predict=True)
    found = by_rule(default, "QDQ201")
    assert len(found) == 9 and all(v.message.endswith("(trt-sim prediction)") for v in found)  # + the input Q
    status = next(s for s in default.statuses if s.rule.id == "QDQ202")
    assert status.state == "skipped" and "prediction has no times" in status.reason
    assert default.metrics.qdq_layers == 10 and default.metrics.latency is None
    assert len(by_rule(lint(save("resnet18_qat_residual"), predict=True), "QDQ201")) == 2
    merged_and_fixed = lint(save("resnet18_qat_residual_qgap"), predict=True)
    assert by_rule(merged_and_fixed, "QDQ201") == [] and merged_and_fixed  # a clean model passes the CPU gate


def test_an_engine_of_another_network_is_refused(save, trt_samples):
    """A ResNet-18 engine given with a YOLO model names ONNX nodes the model does not have: bad input, not 10 errors."""
    from qdqtool.errors import BadInputError

    with pytest.raises(BadInputError, match="give the engine built from this model"):
        lint(save("yolov6_qat_int8"), engine=trt_samples / "trex-resnet18-pytorch-A100" / "qat")


# --- Myelin-generated Q/DQ kernels (engine/myelin.py; tests/engine/test_myelin.py) ---

def test_the_gate_finds_the_onnx_node_of_a_kernel_with_empty_metadata(save, tmp_path):
    path = save("yolov6_qat_int8")
    q = next(n for n in onnx.load(path).graph.node if n.name == "neck.Rep_p4.in.Q")
    layers = [kgen("CastMulMinMaxRounCast", 0, [(q.input[0], "fp16")], [(internal(1), "int8")]),
              trt_layer("neck.Rep_p4.conv + neck.Rep_p4.act", "CaskConvolution", ["int8"], ["fp16"])]
    (hit,) = by_rule(lint(path, engine=write_engine(tmp_path / "engine", layers)), "QDQ201")
    assert hit.nodes == ("neck.Rep_p4.in.Q",) and hit.group is not None
    assert "mismatched scale group" in hit.message


def test_the_gate_names_the_tensors_when_the_model_has_no_such_node(save, tmp_path):
    layers = [kgen("CastMulMinMaxRounCast", 0, [("/elsewhere/Mul_output_0", "fp16")], [(internal(1), "int8")])]
    (hit,) = by_rule(lint(save("yolov6_qat_int8"), engine=write_engine(tmp_path / "engine", layers)), "QDQ201")
    assert "ONNX tensors: /elsewhere/Mul_output_0" in hit.message


# --- QDQ204: float compute left in FP32 (strongly typed builds) ---

def _float_head(precision: str) -> list[dict]:
    return [trt_layer("neck.Rep_p3.conv + neck.Rep_p3.act", "CaskConvolution", ["int8"], ["int8"]),
            trt_layer("detect.cls_preds.0.conv", "CaskConvolution", [precision], [precision]),
            trt_layer("PWN(detect.cls_sigmoid.0)", "PointWise", [precision], [precision]),
            trt_layer("detect.cls_preds.1.conv", "CaskConvolution", ["fp16"], ["fp16"])]


def test_float_compute_left_in_fp32_is_reported_with_its_share(save, tmp_path):
    engine = write_engine(tmp_path / "engine", _float_head("fp32"),
                          {"neck.Rep_p3.conv + neck.Rep_p3.act": 0.5, "detect.cls_preds.0.conv": 0.3,
                           "PWN(detect.cls_sigmoid.0)": 0.1, "detect.cls_preds.1.conv": 0.1})
    (hit,) = by_rule(lint(save("yolov6_qat_int8"), engine=engine), "QDQ204")
    assert "80% of the float compute (by layer time) runs in FP32: 2 of 3 float layers" in hit.message
    assert hit.layer == "detect.cls_preds.0.conv" and hit.nodes[0] == "detect.cls_preds.0.conv"


def test_float_compute_in_fp16_passes_and_the_limit_is_an_option(save, tmp_path):
    model = save("yolov6_qat_int8")
    assert not by_rule(lint(model, engine=write_engine(tmp_path / "a", _float_head("fp16"))), "QDQ204")
    engine = write_engine(tmp_path / "b", _float_head("fp32"))  # no profile: by count, 2 of 3
    assert "by layer count" in by_rule(lint(model, engine=engine), "QDQ204")[0].message
    config = tmp_path / "qdqtool.toml"
    config.write_text("[rules.QDQ204]\nmax-share = 70\n")
    assert not by_rule(lint(model, engine=engine, config=config), "QDQ204")


def test_a_strongly_typed_prediction_of_an_fp32_export_reports_it(save):
    """trt-sim predicts float layers in the ONNX's own type by default (what a strongly typed build does)."""
    (hit,) = by_rule(lint(save("resnet18_qat"), predict=True), "QDQ204")  # pooling and FC after the last DQ
    assert "100% of the float compute (by predicted bytes moved) runs in FP32" in hit.message
    assert "trt-sim prediction" in hit.message
