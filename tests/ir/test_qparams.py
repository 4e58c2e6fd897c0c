"""Q/DQ parameters (qdqtool.ir.qdq.QParams): equal when their ParamsKey is, the same from raw scalars as from arrays,
arrays made only when asked for, and read once per key of what determines them."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import (
    DTYPE_NAMES,
    ParamsKey,
    QParams,
    find_quantizers,
    params_from_arrays,
    params_from_scalar_tensors,
    read_params,
)
from tests.fixtures import models as M
from tests.fixtures.builder import GraphBuilder


def activation_constants(model: onnx.ModelProto) -> list[tuple[onnx.TensorProto, onnx.TensorProto]]:
    """(scale, zero point) initializers of every activation QuantizeLinear of ``model``."""
    index = GraphIndex(model)
    return [(index.initializers[q.inputs[1]], index.initializers[q.inputs[2]])
            for q in (quantizer.q for quantizer in find_quantizers(index, weights=False)) if q is not None]


def node(model: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.name == name)


def test_equality_and_hash_follow_the_params_key():
    """QParams are equal, and hash alike, exactly when their ParamsKey (dtype, scale, zero_point, axis, block_size)
    is equal, whatever arrays they carry."""
    assert ParamsKey._fields == ("dtype", "scale", "zero_point", "axis", "block_size")
    scale, zero_point = activation_constants(M.yolov6_qat("uint8"))[0]
    base = params_from_scalar_tensors(scale, zero_point)
    twin = QParams(base.key, scale=np.array([9.0], np.float32), zero_point=np.array([1], np.uint8))
    assert base == twin and hash(base) == hash(twin) and len({base, twin}) == 1 and base.same_as(twin)
    changes = {"dtype": "int8", "scale": base.key.scale * 2, "zero_point": base.key.zero_point + 1, "axis": 1,
               "block_size": 32}
    for field, value in changes.items():
        other = QParams(base.key._replace(**{field: value}), raw=base._raw)
        assert other != base and not other.same_as(base), field
        assert len({base, other}) == 2, field
    assert base != base.key  # a QParams is not its key tuple


@pytest.mark.parametrize("style", ["int8", "uint8"])
def test_scalar_tensors_and_arrays_give_equal_params(style):
    """params_from_scalar_tensors and params_from_arrays give equal QParams for the same per-tensor values (float32,
    float16 and double scales)."""
    pairs = activation_constants(M.yolov6_qat(style))
    for width in (np.float16, np.float64):  # the same values stored in the other float types
        pairs += [(numpy_helper.from_array(numpy_helper.to_array(s).astype(width), s.name), z) for s, z in pairs[:3]]
    assert len(pairs) > 20
    for scale, zero_point in pairs:
        raw = params_from_scalar_tensors(scale, zero_point)
        arrays = params_from_arrays(numpy_helper.to_array(scale), numpy_helper.to_array(zero_point),
                                    DTYPE_NAMES[zero_point.data_type])
        assert raw is not None and raw == arrays and hash(raw) == hash(arrays), scale.name
        assert raw.key.dtype == style and raw.per_tensor and raw.axis is None


def test_raw_params_make_arrays_only_when_read():
    """Parameters from raw scalar tensors hold no numpy arrays until .scale / .zero_point are read (comparing,
    hashing and the one scale value do not make them)."""
    model = M.yolov6_qat("int8")
    index = GraphIndex(model)
    params = read_params(index, node(model, "backbone.stem.in.Q"))
    assert params._scale is None and params._zero_point is None
    assert params.scale_value == float(np.float32(0.02)) and params.zero_point_value == 0
    assert params == params_from_arrays(np.array(0.02, np.float32), np.array(0, np.int8), "int8")
    hash(params)
    assert params.represented_range()[1] > 0
    assert params._scale is None and params._zero_point is None
    assert params.scale.reshape(-1)[0] == np.float32(0.02) and params._scale is not None
    assert params.zero_point.dtype == np.int8 and params._zero_point is not None
    assert params.scale.shape == (1,) * len(index.initializers["backbone.stem.in.scale"].dims)


def test_read_params_caches_one_entry_per_key():
    """read_params files one entry per (scale, zero point, type source, attributes): a Q and its DQs on the same
    constants share one QParams object (weights with an axis too); equal values on separate constants get their own
    entries."""
    model = M.yolov6_qat("int8")
    index = GraphIndex(model)
    for pair in ("backbone.stem.in", "neck.Rep_p4.in", "backbone.stem.conv.w"):
        entries = len(index.params_cache)
        q, dq = node(model, f"{pair}.Q"), node(model, f"{pair}.DQ")
        assert read_params(index, q) is read_params(index, dq) is read_params(index, q), pair
        assert len(index.params_cache) == entries + 1, pair
    stem = next(quantizer for quantizer in find_quantizers(index) if quantizer.name == "backbone.stem.in.Q")
    assert stem.q.params is stem.dqs[0].params is read_params(index, node(model, "backbone.stem.in.Q"))
    separate = M.yolov6_qat("int8", separate=True)
    index = GraphIndex(separate)
    q, dq = node(separate, "backbone.stem.in.Q"), node(separate, "backbone.stem.in.DQ")
    assert q.input[1] != dq.input[1]
    from_q, from_dq = read_params(index, q), read_params(index, dq)
    assert from_q == from_dq and from_q is not from_dq and len(index.params_cache) == 2


def blocked_beside_plain() -> onnx.ModelProto:
    """Opset 21: x (4,) read by pair ``plain`` (no attributes) and by pair ``blk`` (axis 0, block_size 4), both on
    the one-value constants ``s.scale`` / ``s.zero_point`` (shape (1,))."""
    b = GraphBuilder("blocked", style="int8", opset=21)
    x = b.input("x", [4])
    b.output(b.qdq(x, np.array([0.05], np.float32), "plain", share="s"))
    q = b.node("QuantizeLinear", [x, "s.scale", "s.zero_point"], "blk.q", name="blk.Q", dtype=TensorProto.INT8,
               axis=0, block_size=4)
    b.output(b.node("DequantizeLinear", [q, "s.scale", "s.zero_point"], "blk.dq", name="blk.DQ",
                    dtype=TensorProto.FLOAT, axis=0, block_size=4))
    model = b.build()
    onnx.checker.check_model(model, full_check=True)
    return model


def test_block_size_from_opset_21_gives_another_entry():
    """From opset 21 block_size changes what a one-value scale means: nodes carrying it get their own cache entry
    (shared by that Q and its DQ) and parameters unequal to those of plain nodes on the same constants."""
    model = blocked_beside_plain()
    index = GraphIndex(model)
    plain_q, plain_dq = read_params(index, node(model, "plain.Q")), read_params(index, node(model, "plain.DQ"))
    blocked_q, blocked_dq = read_params(index, node(model, "blk.Q")), read_params(index, node(model, "blk.DQ"))
    assert plain_q is plain_dq and blocked_q is blocked_dq and len(index.params_cache) == 2
    assert plain_q.block_size == 0 and blocked_q.block_size == 4
    assert plain_q != blocked_q and plain_q.key._replace(block_size=4) == blocked_q.key


def test_denormal_float16_scales_are_valid_and_float32_ones_are_not():
    """ModelOpt writes float16 scales below float16's smallest normal value (6.1e-05) for FP16 models (seen: 1.01e-05
    on an int8 YOLO26n): they widen to normal float32 values; a float32 scale backends flush to zero is refused."""
    from qdqtool.ir.qdq import BadParams, check_scales

    for value in (3.05e-05, 1.01e-05, 6e-08):
        check_scales(np.array([value], np.float16))
    check_scales(np.array([1e-30], np.float32))
    with pytest.raises(BadParams, match="denormal in float32"):
        check_scales(np.array([1e-40], np.float32))
