"""The fixture builders: valid ONNX, runnable in ONNX Runtime, deterministic, and shaped as their docstrings say."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from tests.fixtures import make_example
from tests.fixtures import models as m
from tests.fixtures.builder import FixtureError, GraphBuilder
from tests.fixtures.registry import FIXTURES, get

_BUILT: dict[str, onnx.ModelProto] = {}


def built(name: str) -> onnx.ModelProto:
    """Build each registered fixture once per test session."""
    if name not in _BUILT:
        _BUILT[name] = get(name).build()
    return _BUILT[name]


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    # onnxruntime 1.32's QDQPropagationTransformer builds an invalid QuantizeLinear (uint8 zero point with
    # output_dtype INT8) for DQ(int8) → MaxPool at opset 21 (microsoft/onnxruntime#27845 family); turn it off there.
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    disabled = ["QDQPropagationTransformer"] if opset >= 21 else None
    return ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"], disabled_optimizers=disabled
    )


def run_seeded(model: onnx.ModelProto, seed: int = 0) -> list[np.ndarray]:
    sess = session(model)
    rng = np.random.default_rng(seed)
    feeds = {i.name: rng.standard_normal(i.shape).astype(np.float32) for i in sess.get_inputs()}
    return sess.run(None, feeds)


def nodes_by_name(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {n.name: n for n in model.graph.node}


def const_value(model: onnx.ModelProto, tensor: str) -> np.ndarray:
    """Value of an initializer or Constant-node output."""
    for init in model.graph.initializer:
        if init.name == tensor:
            return numpy_helper.to_array(init)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == tensor:
            return numpy_helper.to_array(node.attribute[0].t)
    raise KeyError(tensor)


def qparams(model: onnx.ModelProto, node_name: str) -> tuple:
    """(scale bytes, zero-point bytes, zero-point dtype) of a Q or DQ node, comparable across nodes."""
    node = nodes_by_name(model)[node_name]
    scale, zp = const_value(model, node.input[1]), const_value(model, node.input[2])
    return scale.tobytes(), zp.tobytes(), zp.dtype.str


def distinct_params(model: onnx.ModelProto, group: tuple[str, ...]) -> set:
    return {qparams(model, n) for n in group}


# ------------------------------------------------------------------------------------------------------ every fixture


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_passes_full_checker(fixture):
    onnx.checker.check_model(built(fixture.name), full_check=True)


@pytest.mark.parametrize("fixture", [f for f in FIXTURES if f.runs_in_ort], ids=lambda f: f.name)
def test_runs_in_onnxruntime(fixture):
    outputs = run_seeded(built(fixture.name))
    assert outputs and all(np.isfinite(o).all() for o in outputs)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_builds_are_byte_identical(fixture):
    assert fixture.build().SerializeToString() == built(fixture.name).SerializeToString()


def test_registry_names_are_unique_and_groups_left_open():
    names = [f.name for f in FIXTURES]
    assert len(names) == len(set(names))
    assert all(f.expected_groups is None for f in FIXTURES)
    with pytest.raises(KeyError, match="known:"):
        get("nope")


# ---------------------------------------------------------------------------------------------------- shipped example


def test_shipped_example_equals_fresh_build():
    data = make_example.EXAMPLE_PATH.read_bytes()
    assert len(data) < make_example.MAX_BYTES
    assert data == make_example.build_example().SerializeToString()
    assert (make_example.EXAMPLE_PATH.parent / "__init__.py").exists()


def test_make_example_writes_the_file(tmp_path):
    path = make_example.main(tmp_path / "ex.onnx")
    assert path.read_bytes() == make_example.EXAMPLE_PATH.read_bytes()
    assert list(tmp_path.iterdir()) == [path]


# ------------------------------------------------------------------------------------------------ documented groups


def _assert_pairs_exist(model: onnx.ModelProto, group: tuple[str, ...]) -> None:
    nodes = nodes_by_name(model)
    for q, dq in zip(group[::2], group[1::2], strict=True):
        assert nodes[q].op_type == "QuantizeLinear", q
        assert nodes[dq].op_type == "DequantizeLinear", dq
        assert nodes[dq].input[0] == nodes[q].output[0], f"{dq} does not read {q}"


@pytest.mark.parametrize("style", ["int8", "uint8"])
def test_yolov6_groups_mismatched_by_default_and_consistent_on_request(style):
    default, consistent = m.yolov6_qat(style), m.yolov6_qat(style, consistent=True)
    for name, group in m.YOLOV6_GROUPS.items():
        _assert_pairs_exist(default, group)
        assert len(distinct_params(default, group)) > 1, name
        assert len(distinct_params(consistent, group)) == 1, name
    zps = {const_value(default, n.input[2]).item() for n in default.graph.node if n.name.endswith(".in.Q")}
    assert (style == "uint8") == (zps != {0})


def test_yolov6_structure_behind_the_groups():
    model = built("yolov6_qat_int8")
    nodes = nodes_by_name(model)
    readers = {}
    for n in model.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n.name)
    # SPPF: the Concat reads x and the three MaxPool outputs, in float; cv2's Q reads its output.
    assert list(nodes["backbone.sppf.cat"].input) == ["sppf_x", "sppf_y1", "sppf_y2", "sppf_y3"]
    assert nodes["backbone.sppf.cv2.in.Q"].input[0] == "sppf_cat"
    assert {nodes[m_].input[1] for m_ in pair_qs(m.YOLOV6_GROUPS["sppf"][:6])} == {m.YOLOV6_SHARED_SCALE}
    # P4 Concat input feat_p4 is also read by ERBlock_4.0's Q (the yolov7 rule).
    assert set(readers["feat_p4"]) == {"neck.cat_p4", "backbone.ERBlock_4.0.in.Q"}
    assert nodes["neck.cat_p4"].input[0] == "neck.upsample_feat0_quant.dq"
    # fpn_out1 is read by the Resize (→ upsample_feat1_quant) and the bottom-up Concat.
    assert set(readers["fpn_out1"]) == {"neck.upsample1", "neck.cat_n3"}
    # Fan-outs.
    assert set(readers["pan_out2"]) == {"neck.downsample2.in.Q", "detect.stems.0.in.Q"}
    for i in (0, 1):
        assert set(readers[f"stem_out_{i}"]) == {f"detect.cls_convs.{i}.in.Q", f"detect.reg_convs.{i}.in.Q"}
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, 8, 320]


def pair_qs(group: tuple[str, ...]) -> list[str]:
    """The Q node of each (Q, DQ) pair in a group."""
    return list(group[::2])


def test_yolov6_storage_options():
    const = built("yolov6_qat_int8_constants")
    assert not [i for i in const.graph.initializer if i.name.endswith((".scale", ".zero_point"))]
    assert any(n.op_type == "Constant" for n in const.graph.node)
    sep = built("yolov6_qat_int8_separate")
    nodes = nodes_by_name(sep)
    q, dq = nodes["neck.Rep_p4.in.Q"], nodes["neck.Rep_p4.in.DQ"]
    assert q.input[1] != dq.input[1] and q.input[2] != dq.input[2]
    assert qparams(sep, q.name) == qparams(sep, dq.name)


@pytest.mark.parametrize("skip", m.RESNET_BLOCK_SKIPS)
@pytest.mark.parametrize("style", ["int8", "uint8"])
def test_resnet_block_groups_and_placement(style, skip):
    default = m.resnet_block(style, skip=skip)
    consistent = m.resnet_block(style, skip=skip, consistent=True)
    nodes = nodes_by_name(default)
    for name, prefixes in m.resnet_block_group_prefixes(skip).items():
        group = m.pair_nodes(*prefixes)
        _assert_pairs_exist(default, group)
        assert len({nodes[q].input[0] for q in pair_qs(group)[:2]}) == 1, f"{name}: conv1.in and residual share x"
        assert len(distinct_params(default, group)) > 1
        assert len(distinct_params(consistent, group)) == 1
    dq_outputs = {n.output[0] for n in default.graph.node if n.op_type == "DequantizeLinear"}
    for i in (1, 2):
        add = nodes[f"block{i}.add"]
        quantized = [x in dq_outputs for x in add.input]
        assert quantized == {"unquantized": [False, False], "quantized": [False, True], "both": [True, True]}[skip]
    assert m.resnet_block_placement_problems(skip) == (("block1.add", "block2.add") if skip == "unquantized" else ())


@pytest.mark.parametrize("variant", m.FAN_OUT_VARIANTS)
def test_fan_out_groups(variant):
    default, consistent = m.fan_out(variant=variant), m.fan_out(variant=variant, consistent=True)
    for name, prefixes in m.fan_out_group_prefixes(variant).items():
        group = m.pair_nodes(*prefixes)
        _assert_pairs_exist(default, group)
        assert len(distinct_params(default, group)) == len(prefixes), name
        assert len(distinct_params(consistent, group)) == 1, name
    ops = {n.op_type for n in default.graph.node}
    if variant == "move_through":
        assert {"Reshape", "Transpose", "Split", "Slice", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Pad"} <= ops
        casts = [n for n in default.graph.node if n.op_type == "Cast"]
        assert [a.i for n in casts for a in n.attribute] == [onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT]


def test_edge_case_fixtures():
    model = built("per_channel_activation")
    _assert_pairs_exist(model, m.pair_nodes(*m.PER_CHANNEL_ACTIVATION_GROUP_PREFIXES["concat"]))
    assert const_value(model, nodes_by_name(model)["pcact.a.Q"].input[1]).shape == (4,)

    model = built("mixed_dtypes")
    _assert_pairs_exist(model, m.pair_nodes(*m.MIXED_DTYPES_GROUP_PREFIXES["concat"]))
    assert {qparams(model, n)[2] for n in ("mixed.a.Q", "mixed.b.Q")} == {"|i1", "|u1"}

    model = built("extreme_ratio")
    group = m.pair_nodes(*m.EXTREME_RATIO_GROUP_PREFIXES["detect_concat"])
    _assert_pairs_exist(model, group)
    scales = [float(const_value(model, nodes_by_name(model)[q].input[1])) for q in pair_qs(group)]
    assert max(scales) / min(scales) > 10_000
    out = run_seeded(model)[0]
    assert np.abs(out[0, :4]).max() > 5 and 0 < out[0, 4:].max() <= 0.01 + 1e-6

    model = built("fp8_and_int4")
    assert model.opset_import[0].version == 21
    types = {i.data_type for i in model.graph.initializer}
    assert {onnx.TensorProto.INT4, onnx.TensorProto.FLOAT8E4M3FN} <= types
    assert any(a.name == "block_size" for n in model.graph.node for a in n.attribute)

    model = built("no_qdq")
    assert not [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]


def test_ort_quantized_small_cnn_is_a_real_quantizer_output(tmp_path):
    model = m.ort_quantized_small_cnn(tmp_path)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") >= 5 and "Concat" in ops and "Resize" in ops and "MaxPool" in ops
    zps = [const_value(model, n.input[2]) for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert all(z.dtype == np.uint8 for z in zps)
    group = m.ORT_SMALL_CNN_GROUPS["concat"]  # onnxruntime 1.32's placement
    _assert_pairs_exist(model, group)
    assert len(distinct_params(model, group)) > 1
    assert model.SerializeToString() == built("ort_quantized_small_cnn").SerializeToString()


# ------------------------------------------------------------------------------------------- torchvision-like models

_TORCHVISION = [(m.resnet18, p) for p in m.RESNET18_PLACEMENTS] + [
    (m.mobilenet_v2, p) for p in m.MOBILENET_V2_PLACEMENTS
]


@pytest.mark.parametrize(("builder", "placement"), _TORCHVISION, ids=lambda v: getattr(v, "__name__", v))
def test_torchvision_models_named_like_the_real_engines(builder, placement):
    model = built(f"{builder.__name__}_{placement.replace('-', '_')}")
    nodes = nodes_by_name(model)
    engine = m.RESNET18_ENGINE_NODES if builder is m.resnet18 else m.MOBILENET_V2_ENGINE_NODES
    for name in engine[placement]:
        assert nodes[name].op_type == name.rsplit("_", 1)[0], name
    groups = (m.RESNET18_GROUPS if builder is m.resnet18 else m.MOBILENET_V2_GROUPS)[placement]
    for group in groups.values():
        _assert_pairs_exist(model, group)
        assert len({nodes[q].input[0] for q in pair_qs(group)}) == 1
        assert len(distinct_params(model, group)) == 1
    # Every other activation Q reads a tensor no other Q reads.
    inits = {i.name for i in model.graph.initializer}
    act_qs = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] not in inits]
    grouped = {q for g in groups.values() for q in pair_qs(g)}
    read = [n.input[0] for n in act_qs if n.name not in grouped]
    assert len(read) == len(set(read))
    dq_outputs = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    adds = [n for n in model.graph.node if n.op_type == "Add"]
    float_skip = (m.RESNET18_FLOAT_SKIP_ADDS if builder is m.resnet18 else m.MOBILENET_V2_FLOAT_SKIP_ADDS)[placement]
    assert tuple(a.name for a in adds if not any(i in dq_outputs for i in a.input)) == float_skip
    # torchvision parameter names on the weights.
    assert "conv1.weight" in inits or "features.0.0.weight" in inits
    assert "layer4.1.conv2.weight" in inits or "features.17.conv.2.weight" in inits


def test_mobilenet_width_keeps_topology_and_names():
    small, full = m.mobilenet_v2("qat-residual"), m.mobilenet_v2("qat-residual", width=1.0)
    assert [n.name for n in small.graph.node] == [n.name for n in full.graph.node]
    weight = {i.name: i.dims for i in full.graph.initializer}
    assert list(weight["features.17.conv.2.weight"]) == [320, 960, 1, 1]


# ---------------------------------------------------------------------------------------------------- builder errors


@pytest.mark.parametrize("opset", [12, 22])
def test_builder_rejects_opsets_outside_13_to_21(opset):
    with pytest.raises(FixtureError, match="13..21"):
        GraphBuilder("g", opset=opset)


def test_builder_rejects_bad_arguments():
    with pytest.raises(FixtureError, match="style"):
        GraphBuilder("g", style="int4")
    with pytest.raises(FixtureError, match="skip"):
        m.resnet_block(skip="sometimes")
    with pytest.raises(FixtureError, match="placement"):
        m.mobilenet_v2("qat-residual-qgap")
    b = GraphBuilder("g", style="uint8")
    x = b.input("x", [1, 1, 2, 2])
    with pytest.raises(FixtureError, match="zero point"):
        b.qdq(x, 0.1, "p", zero_point=300)
    b.qdq(x, 0.1, "a", share="s")
    with pytest.raises(FixtureError, match="another value"):
        b.qdq(x, 0.2, "b", share="s")
    b.relu(x, "r")
    with pytest.raises(FixtureError, match="used twice"):
        b.relu(x, "r")
