"""Loading and saving models: external data kept, big models forced to external data, atomic writes."""

from __future__ import annotations

import onnx
import pytest

import qdqtool.io.onnx_io as onnx_io
from qdqtool.analysis.rules import load_rules
from qdqtool.errors import BadInputError
from qdqtool.io.onnx_io import load_model, save_model
from qdqtool.jobs.merge import MergeRequest, checked_merge
from tests.fixtures import models as M


def test_external_data_layout_is_kept(tmp_path):
    source = tmp_path / "in" / "model.onnx"
    source.parent.mkdir()
    onnx.save_model(M.yolov6_qat("int8"), source, save_as_external_data=True, location="model.weights",
                    size_threshold=1024)
    loaded = load_model(source)
    assert loaded.external_data
    out = tmp_path / "out" / "merged.onnx"
    outcome = checked_merge(MergeRequest(model=source, output=out))
    assert outcome, "numeric check"
    assert out.exists() and (out.parent / "merged.onnx.data").exists()
    assert out.stat().st_size < (out.parent / "merged.onnx.data").stat().st_size
    merged = onnx.load(out)
    onnx.checker.check_model(str(out), full_check=True)
    assert len(merged.graph.node) < len(M.yolov6_qat("int8").graph.node)  # deduplicated
    # the input and its data file are untouched
    assert sorted(p.name for p in source.parent.iterdir()) == ["model.onnx", "model.weights"]


def test_missing_external_data_is_bad_input(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save_model(M.yolov6_qat("int8"), path, save_as_external_data=True, location="w.bin", size_threshold=1024)
    (tmp_path / "w.bin").unlink()
    with pytest.raises(onnx_io.BadInputError, match="external data"):
        load_model(path)


def test_a_tensor_marked_external_without_a_location_is_bad_input(tmp_path):
    from onnx import TensorProto, helper

    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4], data_location=TensorProto.EXTERNAL)
    weight.external_data.add(key="offset", value="0")  # no "location": the file cannot say where the data is
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [weight],
    )
    path = tmp_path / "broken.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    with pytest.raises(onnx_io.BadInputError, match="external data could not be read"):
        load_model(path)


def test_models_above_the_protobuf_limit_are_written_with_external_data(tmp_path, monkeypatch):
    """The 2 GB protobuf limit, scaled down: above it, save_model switches to external data by itself."""
    model = M.yolov6_qat("int8")
    monkeypatch.setattr(onnx_io, "_PROTOBUF_LIMIT", model.ByteSize() // 2)
    written = save_model(model, tmp_path / "big.onnx")
    assert [p.name for p in written] == ["big.onnx", "big.onnx.data"]
    reloaded = load_model(tmp_path / "big.onnx")
    assert reloaded.external_data
    assert find_groups(reloaded.model) == find_groups(model)


def find_groups(model):
    from qdqtool.analysis.groups import find_scale_groups

    return [sorted(g.nodes) for g in find_scale_groups(model, load_rules()).groups]


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.onnx"
    target.write_bytes(b"previous")

    def explode(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(onnx_io, "publish", explode)
    with pytest.raises(BadInputError, match="cannot write the output: disk full"):  # one line, exit 2
        save_model(M.no_qdq(), target)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.onnx"]


def test_external_data_output_can_be_written_again_and_beside_a_same_named_file(tmp_path, monkeypatch):
    """onnx.save_model refuses when <out>.data exists relative to the *current* folder; ours writes regardless."""
    source = tmp_path / "model.onnx"
    onnx.save_model(M.yolov6_qat("int8"), source, save_as_external_data=True, location="model.data",
                    size_threshold=1024)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.onnx.data").write_bytes(b"an unrelated file in the current folder")
    out = tmp_path / "sub" / "out.onnx"
    for _ in range(2):
        assert checked_merge(MergeRequest(model=source, output=out)).written
        onnx.checker.check_model(str(out), full_check=True)
    assert (tmp_path / "out.onnx.data").read_bytes() == b"an unrelated file in the current folder"


def test_json_is_not_an_onnx_model(tmp_path):
    path = tmp_path / "layers.json"
    path.write_text('{"Layers": [], "Bindings": []}')
    with pytest.raises(onnx_io.BadInputError, match="it is JSON .*qdqtool inspect"):
        load_model(path)
