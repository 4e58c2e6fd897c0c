"""Sensitivity and partial quantization on a trained model quantized by a third-party tool: PP-OCRv4's text detector
quantized int8 by onnxruntime (tests/fixtures/trained.py; skipped when the wheel cannot be had), on drawn pages.

What must hold: rankings are the same for the same data; the top-ranked layer in float helps more than the
bottom-ranked one; local sensitivity gives onnxruntime qdq_loss_debug's per-tensor SQNRs; partial reaches a cosine
target with fewer float layers than taking layers in model order and never more than the naive ranking; the result
is a valid explicit-quantization model; --policy min-error never adds more than max; --fix symmetric makes the
uint8 export's groups unifiable.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest

from qdqtool.analysis.groups import GroupStatus, find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.analysis.units import layer_units
from qdqtool.io.data.dataset import in_memory
from qdqtool.ir.index import GraphIndex
from qdqtool.jobs.merge import MergeRequest, checked_merge
from qdqtool.jobs.partial import PartialRequest, run_partial
from qdqtool.jobs.sensitivity import SensitivityRequest, run_sensitivity
from qdqtool.surgery.partial import float_layers, quantized_only
from qdqtool.verify.local import local_sensitivity
from qdqtool.verify.reference import FloatReference
from qdqtool.verify.scoring import Scorer, Variant

SHAPE = {"x": (1, 3, 480, 480)}
CONVS = ("Conv", "ConvTranspose")
QDQ = ("QuantizeLinear", "DequantizeLinear")


@pytest.fixture(scope="module")
def text(quantized_model, trained_feeds, tmp_path_factory):
    """(the int8 model, an .npz of 3 drawn pages, the feeds)."""
    feeds = trained_feeds("ppocr_det", 3, seed=4)
    npz = tmp_path_factory.mktemp("pages") / "pages.npz"
    np.savez(npz, x=np.concatenate([f["x"] for f in feeds]))
    return quantized_model("ppocr_det", "int8"), npz, feeds


def _request(cls, model: Path, npz: Path, **kwargs):
    return cls(model=model, inputs=npz, input_shapes=SHAPE, **kwargs)


def _producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {o: n for n in model.graph.node for o in n.output}


def _no_half_pairs(model: onnx.ModelProto) -> None:
    """Every Q is read, only by DQs; every DQ is read (or a graph output) and reads a Q or a constant."""
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    producers = _producers(model)
    outputs = {o.name for o in model.graph.output}
    constants = {t.name for t in model.graph.initializer} | {n.output[0] for n in model.graph.node
                                                            if n.op_type == "Constant"}
    for node in model.graph.node:
        if node.op_type == "QuantizeLinear":
            assert readers.get(node.output[0]), f"{node.name}: a Q nothing reads"
            assert all(r.op_type == "DequantizeLinear" for r in readers[node.output[0]]), node.name
        if node.op_type == "DequantizeLinear":
            assert readers.get(node.output[0]) or node.output[0] in outputs, f"{node.name}: a DQ nothing reads"
            source = producers.get(node.input[0])
            assert node.input[0] in constants or (source is not None and source.op_type == "QuantizeLinear")


def test_layers_in_float_leave_a_valid_explicit_quantization_model(text):
    path, _, _ = text
    model = onnx.load(path)
    rules = load_rules("tensorrt")
    units = layer_units(GraphIndex(model), rules)
    assert {u.op_type for u in units} >= {"Conv", "Add", "Mul"} and len(units) > 100
    chosen = [u.name for u in units if u.op_type in CONVS][:8]
    edited = float_layers(model, chosen)
    onnx.checker.check_model(edited)
    _no_half_pairs(edited)
    producers = _producers(edited)
    for node in edited.graph.node:
        if node.name in chosen:  # reads float activations and float weights now
            assert all(producers.get(i) is None or producers[i].op_type not in QDQ for i in node.input), node.name
            weight = next(t for t in edited.graph.initializer if t.name == node.input[1])
            assert weight.data_type == onnx.TensorProto.FLOAT
    before, after = find_scale_groups(model, rules), find_scale_groups(edited, rules)
    assert len(after.by_status(GroupStatus.MISMATCHED)) <= len(before.by_status(GroupStatus.MISMATCHED))
    assert len(after.findings) <= len(before.findings)
    assert {u.name for u in layer_units(GraphIndex(edited), rules)}.isdisjoint(chosen)  # and idempotent
    assert float_layers(edited, chosen).SerializeToString() == edited.SerializeToString()
    only = quantized_only(model, [chosen[0]])
    quantized_readers = {n.name for n in only.graph.node if n.op_type not in QDQ and any(
        _producers(only).get(i) is not None and _producers(only)[i].op_type == "DequantizeLinear" for i in n.input)}
    assert quantized_readers == {chosen[0]}


def test_rankings_are_deterministic_and_the_top_unit_helps_more_than_the_bottom(text):
    path, npz, feeds = text
    request = _request(SensitivityRequest, path, npz, mode="both", ops=CONVS)
    first, second = run_sensitivity(request), run_sensitivity(request)
    assert [r.unit.id for r in first.layers] == [r.unit.id for r in second.layers]
    assert [r.unit.id for r in first.groups] == [r.unit.id for r in second.groups]
    assert first.samples == 3 and not first.random and len(first.layers) == 64
    top, bottom = first.layers[0], first.layers[-1]
    assert top.in_float.snr_db > first.base.snr_db > bottom.in_float.snr_db - 1e-9
    assert top.key > bottom.key
    model = onnx.load(path)
    scorer = Scorer(model, in_memory(feeds, model, "pages"), FloatReference.for_model(path))
    # the ranking ran only the changed region of each variant: the same up to rounding of differently fused kernels
    assert scorer.score(Variant("float", (top.unit.name,))).snr_db == pytest.approx(top.in_float.snr_db, abs=0.05)
    assert all(r.local is not None and r.local.own.count for r in first.layers)
    assert all(r.unified and r.group_local is not None for r in first.groups)


def test_local_sensitivity_gives_onnxruntime_qdq_loss_debugs_sqnr(text, tmp_path):
    """onnxruntime.quantization.qdq_loss_debug on the same model, its FP32 (pre-processed) export and samples: every
    activation's qdq_err and xmodel_err within 0.1 dB (both exact where the Q/DQ changes nothing)."""
    from onnxruntime.quantization import qdq_loss_debug as debug

    from tests.fixtures import trained

    path, _, feeds = text
    fp32 = trained.preprocessed_model("ppocr_det")
    feeds = feeds[:2]
    augmented = {}
    for name, source in (("q", path), ("f", fp32)):
        augmented[name] = tmp_path / f"{name}.onnx"
        debug.modify_model_output_intermediate_tensors(str(source), str(augmented[name]))
    matched = debug.create_activation_matching(debug.collect_activations(str(augmented["q"]), feeds),
                                               debug.collect_activations(str(augmented["f"]), feeds))
    theirs = debug.compute_activation_error(matched)
    model = onnx.load(path)
    result = local_sensitivity(model, layer_units(GraphIndex(model), load_rules("tensorrt")), [],
                               in_memory(feeds, model, "pages"), onnx.load(fp32))
    assert result.reference == "the FP32 export"
    ours = {t.tensor: (t.qdq.snr_db, t.xmodel.snr_db) for t in result.tensors}
    assert len(ours) > 200 and set(theirs) == set(ours)
    for tensor, errors in theirs.items():
        for mine, their in zip(ours[tensor], (errors["qdq_err"], errors["xmodel_err"]), strict=True):
            if math.isinf(mine):  # no error at all: onnxruntime floors the error at float epsilon
                assert their > 100, tensor
            else:
                assert mine == pytest.approx(their, abs=0.1), tensor


def test_partial_reaches_the_target_with_fewer_float_layers_than_model_order(text, tmp_path):
    path, npz, feeds = text
    model = onnx.load(path)
    scorer = Scorer(model, in_memory(feeds, model, "pages"), FloatReference.for_model(path))
    target = scorer.base.cosine + 0.25 * (1 - scorer.base.cosine)  # a quarter of the way to float
    result = run_partial(_request(PartialRequest, path, npz, output=tmp_path / "partial.onnx", target_cosine=target,
                                  ops=CONVS))
    assert result.reached and result.written == [tmp_path / "partial.onnx"] and result.check
    assert result.final.cosine >= target > result.base.cosine
    taken = len(result.floated)
    assert 1 <= taken <= len(result.steps)
    current = result.base.cosine
    for step in result.steps:  # re-measured: a layer stays in float only if the whole model got better
        assert step.kept == (step.score.cosine > current), step
        current = step.score.cosine if step.kept else current
    assert [s.unit for s in result.steps if s.kept] == result.floated
    assert all(s.cost.kernels >= 0 and s.cost.precisions.get(s.unit.name) for s in result.steps)

    def layers_needed(order: list[str], limit: int) -> int:
        for k in range(1, limit + 1):
            if scorer.score(Variant("float", tuple(order[:k]))).cosine >= target:
                return k
        return limit + 1

    convs = [u.name for u in layer_units(GraphIndex(model), load_rules("tensorrt")) if u.op_type in CONVS]
    assert taken < layers_needed(convs, 2 * taken)  # model order needs more
    sensitivity = run_sensitivity(_request(SensitivityRequest, path, npz, mode="global", ops=CONVS,
                                           metric="cosine", groups=False))
    naive = [r.unit.name for r in sensitivity.layers]  # the same ranking, taken without re-measuring
    assert taken <= layers_needed(naive, taken)
    written = onnx.load(tmp_path / "partial.onnx")
    onnx.checker.check_model(written)
    _no_half_pairs(written)
    again = run_partial(_request(PartialRequest, tmp_path / "partial.onnx", npz, output=tmp_path / "again.onnx",
                                 target_cosine=target, ops=CONVS))  # idempotent: nothing left to do
    assert again.reached and not again.steps and not again.floated
    assert onnx.load(tmp_path / "again.onnx").graph == written.graph


def test_partial_says_when_the_target_cannot_be_reached_and_writes_nothing(text, tmp_path):
    path, npz, _ = text
    before = path.read_bytes()
    result = run_partial(_request(PartialRequest, path, npz, output=tmp_path / "p.onnx", target_cosine=0.99999,
                                  ops=("ConvTranspose",)))
    assert result.reached is False and not result.written and not (tmp_path / "p.onnx").exists()
    assert result.final.cosine < 0.99999 and path.read_bytes() == before


def test_partial_stops_before_the_kernel_budget(text, tmp_path):
    path, npz, _ = text
    result = run_partial(_request(PartialRequest, path, npz, output=tmp_path / "p.onnx", keep_float=5, ops=CONVS,
                                  max_kernels=0))
    assert result.reached is None and not result.floated and len(result.steps) == 1
    assert "--max-kernels 0" in result.steps[0].why and result.written  # the model as it was, checked nothing


def test_min_error_never_adds_more_than_max_and_groups_are_judged_on_the_data(text, tmp_path):
    path, npz, _ = text
    outcomes = {policy: checked_merge(_request(MergeRequest, path, npz, output=tmp_path / f"{policy}.onnx",
                                               policy=policy)) for policy in ("max", "min-error")}
    assert all(o.written and o.check for o in outcomes.values())
    assert outcomes["min-error"].check.worst_added_db <= outcomes["max"].check.worst_added_db + 1e-9
    assert all("on the data" in a.how for a in outcomes["min-error"].result.unified)
    strict = checked_merge(_request(MergeRequest, path, npz, output=tmp_path / "strict.onnx", max_added_error=-1.0))
    refused = strict.result.refused  # every group adds more than -1 dB: refused for accuracy, none unified
    assert refused and not strict.result.unified
    assert all(any("accuracy" in r for r in a.source.reasons) for a in refused)


def test_symmetric_fix_makes_the_uint8_exports_groups_unifiable(quantized_model, text, tmp_path):
    _, npz, _ = text
    path = quantized_model("ppocr_det", "uint8")
    plain = checked_merge(_request(MergeRequest, path, npz, output=tmp_path / "plain.onnx"))
    assert plain.result.refused and not plain.result.unified  # zero points differ: TensorRT cannot share them
    fixed = checked_merge(_request(MergeRequest, path, npz, output=tmp_path / "fixed.onnx", fixes=("symmetric",)))
    assert fixed.result.unified and not fixed.result.refused and fixed.check and fixed.written
    assert {a.fix for a in fixed.fixes} == {"symmetric"}
    model = onnx.load(tmp_path / "fixed.onnx")
    index = GraphIndex(model)
    from qdqtool.ir.qdq import find_activation_quantizers

    quantizers, _ = find_activation_quantizers(index)
    assert all(q.params.zero_point_value == 0 and q.params.dtype == "int8" for q in quantizers
               if q.q is not None and q.params is not None and q.params.per_tensor)
    again = checked_merge(_request(MergeRequest, tmp_path / "fixed.onnx", npz, output=tmp_path / "again.onnx",
                                   fixes=("symmetric",)))
    assert not again.fixes  # idempotent
