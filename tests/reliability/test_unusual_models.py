"""Models the code might not expect, from older exporters and other tools: they must work, and the output load."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import run_cli
from tests.reliability.catalogue import example


def test_an_ir_3_model_lists_its_new_scales_as_inputs(tmp_path, capsys, monkeypatch):
    """Before IR 4 every initializer is also a graph input; the unified scales merge adds must be too."""
    monkeypatch.chdir(tmp_path)
    model = example()
    for tensor in model.graph.initializer:
        model.graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    model.ir_version = 3
    onnx.save(model, "ir3.onnx")
    for command in (("merge", "ir3.onnx", "-o", "out.onnx"), ("report", "ir3.onnx", "-o", "out.html")):
        run = run_cli(capsys, *command)
        assert run.code == 0, run.err
    merged = onnx.load("out.onnx")
    onnx.checker.check_model(merged, full_check=True)
    assert merged.ir_version == 3
    assert {t.name for t in merged.graph.initializer} <= {v.name for v in merged.graph.input}


def test_external_data_inside_an_if_branch(tmp_path, capsys, monkeypatch):
    """A subgraph holding its own Q/DQ and a weight stored as external data, beside the main graph's groups."""
    monkeypatch.chdir(tmp_path)
    model = example()
    weight = numpy_helper.from_array(np.random.default_rng(0).random(4096).astype(np.float32), "branch.w")
    scale = numpy_helper.from_array(np.array(0.02, np.float32), "branch.s")
    zero = numpy_helper.from_array(np.array(0, np.int8), "branch.z")
    body = [helper.make_node("QuantizeLinear", ["branch.w", "branch.s", "branch.z"], ["branch.q"], name="branch.Q"),
            helper.make_node("DequantizeLinear", ["branch.q", "branch.s", "branch.z"], ["branch.dq"], name="branch.DQ"),
            helper.make_node("ReduceSum", ["branch.dq"], ["r1"], name="branch.sum", keepdims=0)]
    then = helper.make_graph(body, "then", [], [helper.make_tensor_value_info("r1", TensorProto.FLOAT, [])],
                             [weight, scale, zero])
    one = numpy_helper.from_array(np.array(1.0, np.float32))
    other = helper.make_graph([helper.make_node("Constant", [], ["r2"], value=one)], "else", [],
                              [helper.make_tensor_value_info("r2", TensorProto.FLOAT, [])])
    model.graph.initializer.append(numpy_helper.from_array(np.array(True), "cond"))
    model.graph.node.append(helper.make_node("If", ["cond"], ["extra"], then_branch=then, else_branch=other,
                                             name="branch.if"))
    model.graph.output.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, []))
    onnx.save(model, "sub.onnx", save_as_external_data=True, all_tensors_to_one_file=True, location="sub.onnx.data",
              size_threshold=1024)
    for command in (("merge", "sub.onnx", "-o", "out.onnx"), ("merge", "sub.onnx", "-o", "raw.onnx", "--no-verify")):
        run = run_cli(capsys, *command)
        assert run.code == 0, run.err
    for name in ("out.onnx", "raw.onnx"):
        onnx.checker.check_model(onnx.load(name), full_check=True)  # loads, external data included
