"""The layerwise model: every chosen layer once more, reading float activations through its own Q/DQ.

Local sensitivity (PPQ's "layerwise" analysis) asks how much error each layer makes by itself: its output when only
its own inputs and weights are quantized, from float inputs, against its float output. One model holds that for
every layer side by side, so one inference per sample answers it for all of them. Its inputs are the float tensors
the layers read (named as in the Q/DQ model: a Q's input, or a float activation), its outputs one per layer.

Built as a new model from copies of the layers, their activation Q and DQ nodes (re-pointed at the float input),
their weight DQs and the constants those read; the source model is not modified.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
from onnx import helper

from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import dequantized_q, is_dq


def layerwise_model(model: onnx.ModelProto, layers: list[str],
                    input_types: Mapping[str, np.dtype]) -> tuple[onnx.ModelProto, dict[str, str]]:
    """The layerwise model of ``layers`` (node names), and each layer's output in it.

    Args:
        model (onnx.ModelProto): The Q/DQ model.
        layers (list[str]): The layers (see `qdqtool.analysis.units`).
        input_types (Mapping[str, np.dtype]): The type of every float tensor it may read (from a float run).
    """
    index = GraphIndex(model)
    nodes: list[onnx.NodeProto] = []
    inputs: dict[str, None] = {}
    constants: set[str] = set()
    copied: dict[str, str] = {}  # weight DQ output -> its copy's output
    outputs: dict[str, str] = {}

    def constant_input(tensor: str) -> str:
        constants.add(tensor)
        producer = index.producer.get(tensor)
        if producer is not None and tensor not in copied:  # a Constant node
            nodes.append(_copy(index.node_at(producer), list(index.inputs[producer]), list(index.outputs[producer])))
            copied[tensor] = tensor
        return tensor

    for layer in layers:
        node_id = index.find(layer)
        node = index.node_at(node_id)
        feeds = []
        for slot, tensor in enumerate(node.input):
            dq = index.producer.get(tensor) if tensor else None
            if not tensor:
                feeds.append("")
            elif index.is_constant(tensor):
                feeds.append(constant_input(tensor))
            elif dq is not None and is_dq(index.node_at(dq)) and index.is_constant(index.inputs[dq][0]):
                if tensor not in copied:  # a weight (or bias) stored as integers: its DQ, once
                    copied[tensor] = f"{tensor}/layerwise"
                    dq_inputs = [constant_input(t) if t else "" for t in index.inputs[dq]]
                    nodes.append(_copy(index.node_at(dq), dq_inputs, [copied[tensor]]))
                feeds.append(copied[tensor])
            elif (q := dequantized_q(index, tensor)) is not None:
                source = index.inputs[q][0]
                if index.is_constant(source):  # a weight quantized in the graph: Q(W) -> DQ
                    source = constant_input(source)
                else:
                    inputs[source] = None
                stem = f"{layer}/layerwise/{slot}"
                q_inputs = [source, *(constant_input(t) if t else "" for t in index.inputs[q][1:])]
                nodes.append(_copy(index.node_at(q), q_inputs, [f"{stem}.q"]))
                dq_inputs = [f"{stem}.q", *(constant_input(t) if t else "" for t in index.inputs[dq][1:])]
                nodes.append(_copy(index.node_at(dq), dq_inputs, [f"{stem}.dq"]))
                feeds.append(f"{stem}.dq")
            else:  # a float activation
                inputs[tensor] = None
                feeds.append(tensor)
        outs = [f"{o}/layerwise" if o else "" for o in node.output]
        nodes.append(_copy(node, feeds, outs))
        outputs[layer] = outs[0]
    graph = helper.make_graph(
        nodes, f"{model.graph.name}_layerwise",
        [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(input_types[name])), None)
         for name in inputs],
        [onnx.ValueInfoProto(name=o) for o in outputs.values()],
        initializer=[index.initializers[name] for name in sorted(constants) if name in index.initializers],
    )
    built = helper.make_model(graph, opset_imports=list(model.opset_import))
    built.ir_version = model.ir_version
    return built, outputs


def with_outputs(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """A copy of ``model`` that also outputs the tensors ``names`` (for reading activations)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    have = {o.name for o in copy.graph.output}
    copy.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in have)
    return copy


def _copy(node: onnx.NodeProto, inputs: list[str], outputs: list[str]) -> onnx.NodeProto:
    """``node`` reading ``inputs`` and writing ``outputs``, named after its first (new, so unique) output."""
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    copy.name = f"{outputs[0]}/node"
    del copy.input[:]
    copy.input.extend(inputs)
    del copy.output[:]
    copy.output.extend(outputs)
    return copy
