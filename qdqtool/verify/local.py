"""Local sensitivity: each layer's own error under quantization, and where error piles up, in one pass over the data.

Three inferences per sample, whatever the number of layers:

1. the float model, with the tensors the layers read and write as extra outputs;
2. the Q/DQ model, with the same tensors as extra outputs (each Q/DQ pair's output is computed from its input
   in numpy, as ONNX Runtime computes it, rather than held as one more output);
3. the layerwise model (`qdqtool.surgery.layerwise`): every layer once more, reading run 1's float inputs through
   its own Q/DQ.

Per layer: **own** error, the layerwise output (run 3) against the float output (run 1), PPQ's layerwise
analysis; **accumulated** error, the Q/DQ model's output of the layer (run 2) against float (run 1). Per activation
Q, the figures of onnxruntime's ``qdq_loss_debug``: ``qdq_err``, the SQNR of the DQ's output against the Q's input
in the Q/DQ model, and ``xmodel_err``, against the float model's tensor of that name. Per scale group: the error of
quantizing each member's float input with the group's unified parameters against its own (numpy, no inference).

Tensors are matched by name, so the float model is the user's FP32 export when it has every tensor needed (an
export quantized by onnxruntime keeps its names), else the float model derived from the Q/DQ model. Only running
sums are kept, and one model's activations at a time beside the float ones: memory does not grow with the
number of samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx

from qdqtool.analysis.groups import ScaleGroup
from qdqtool.analysis.units import Unit
from qdqtool.errors import BadInputError, CheckFailed, first_line
from qdqtool.io.data.dataset import Dataset
from qdqtool.ir.index import GraphIndex
from qdqtool.ir.qdq import QRANGE, QParams, dequantized_q, is_dq, is_q, read_params
from qdqtool.surgery.float_reference import float_reference
from qdqtool.surgery.layerwise import layerwise_model, with_outputs
from qdqtool.surgery.policy import choose_params
from qdqtool.verify.session import SessionError, ort_session

Progress = Callable[[str, int | None, int | None], None]


@dataclass
class Energy:
    """Running sums for one comparison: signal energy, error energy, their dot products, element count."""

    signal: float = 0.0
    noise: float = 0.0
    dot: float = 0.0
    other: float = 0.0
    count: int = 0

    def add(self, reference: np.ndarray, candidate: np.ndarray) -> None:
        r, c = np.asarray(reference).ravel(), np.asarray(candidate).ravel()
        d = c - r

        def dot(a: np.ndarray, b: np.ndarray) -> float:  # summed in float64 without a float64 copy of either
            return float(np.einsum("i,i->", a, b, dtype=np.float64))

        self.signal += dot(r, r)
        self.noise += dot(d, d)
        self.dot += dot(r, c)
        self.other += dot(c, c)
        self.count += r.size

    @property
    def snr_db(self) -> float:
        if self.noise == 0:
            return math.inf
        return -math.inf if self.signal == 0 else 10 * math.log10(self.signal / self.noise)

    @property
    def cosine(self) -> float:
        if self.signal == 0 or self.other == 0:
            return 1.0 if self.signal == self.other else 0.0
        return max(-1.0, min(1.0, self.dot / math.sqrt(self.signal * self.other)))

    @property
    def mse(self) -> float:
        return self.noise / self.count if self.count else math.nan

    def to_dict(self) -> dict[str, float]:
        return {"snr_db": self.snr_db, "cosine": self.cosine, "mse": self.mse}


@dataclass
class LayerLocal:
    unit: Unit
    own: Energy = field(default_factory=Energy)  # layerwise: only this layer quantized, from float inputs
    accumulated: Energy = field(default_factory=Energy)  # the Q/DQ model's output of the layer against float


@dataclass
class TensorLocal:
    """One activation Q: onnxruntime qdq_loss_debug's two SQNRs."""

    tensor: str  # the Q's input
    qdq: Energy = field(default_factory=Energy)  # DQ output against the Q's input, in the Q/DQ model
    xmodel: Energy = field(default_factory=Energy)  # DQ output against the float model's tensor


@dataclass
class GroupLocal:
    unit: Unit
    params: QParams  # what the policy would give the group
    own: Energy = field(default_factory=Energy)  # each member quantizing its float input with its own parameters
    unified: Energy = field(default_factory=Energy)  # ... with the group's

    @property
    def added_db(self) -> float:
        if self.own.noise == 0:
            return 0.0 if self.unified.noise == 0 else math.inf
        return 10 * math.log10(max(self.unified.noise, 1e-300) / self.own.noise)


@dataclass
class LocalResult:
    layers: list[LayerLocal]
    tensors: list[TensorLocal]
    groups: list[GroupLocal]
    reference: str  # which float model the tensors came from
    samples: int


def local_sensitivity(model: onnx.ModelProto, layers: list[Unit], groups: list[tuple[Unit, ScaleGroup]],
                      data: Dataset, reference: onnx.ModelProto | None = None, policy: str = "max",
                      progress: Progress | None = None) -> LocalResult:
    """Each layer's own and accumulated error, each activation Q's SQNRs, each group's unification error.

    Args:
        model (onnx.ModelProto): The Q/DQ model.
        layers (list[Unit]): Its layer units.
        groups (list[tuple[Unit, ScaleGroup]]): Scale-group units and their groups.
        data (Dataset): The samples.
        reference (onnx.ModelProto): The FP32 export, used when it holds every tensor needed. Defaults to None.
        policy (str): The merge policy the groups are judged with. Defaults to "max".
        progress (Progress): Told ``("local", done, total)`` per sample. Defaults to None.
    """
    index = GraphIndex(model)
    quantizers = _activation_quantizers(index)
    layer_inputs = {u.name: _float_inputs(index, u.name) for u in layers}
    wanted = {x for x, _ in quantizers} | {t for ts in layer_inputs.values() for t in ts}
    layer_outputs = {u.name: index.outputs[index.find(u.name)][0] for u in layers}
    wanted |= set(layer_outputs.values())
    fed = index.graph_inputs  # the samples give these; they are not outputs
    float_model, label = _float_model(model, reference, wanted - fed)
    float_session = _session(with_outputs(float_model, sorted(wanted - fed)), "the float model")
    qdq_names = sorted(({x for x, _ in quantizers} | set(layer_outputs.values())) - fed)  # DQ(Q(x)): numpy
    qdq_session = _session(with_outputs(model, qdq_names), "the Q/DQ model")
    result = LocalResult([LayerLocal(u) for u in layers], [TensorLocal(x) for x, _ in quantizers],
                         [GroupLocal(u, choose_params(g, policy)[0]) for u, g in groups], label, 0)
    members = {u.id: [(index.inputs[q.nodes[0].node_id][0], q.params) for q in g.quantizers if q.q is not None]
               for u, g in groups}
    layerwise = None
    float_names = [o.name for o in float_session.get_outputs()]
    for k, feed in enumerate(data):
        if progress is not None:
            progress("local", k, data.count)
        # one model's activations at a time beside the float ones: memory is two runs' worth, whatever the data
        floats = {**feed, **dict(zip(float_names, _run(float_session, feed, "the float model"), strict=True))}
        quantized = {**feed, **dict(zip(qdq_names, _run(qdq_session, feed, "the Q/DQ model", qdq_names),
                                        strict=True))}
        for entry in result.layers:
            out = layer_outputs[entry.unit.name]
            entry.accumulated.add(floats[out], quantized[out])
        for entry, (x, params) in zip(result.tensors, quantizers, strict=True):
            dequantized = fake_quantize(quantized[x], params)
            entry.qdq.add(quantized[x], dequantized)
            entry.xmodel.add(floats[x], dequantized)
        del quantized, dequantized
        if layerwise is None:
            built, outputs = layerwise_model(model, [u.name for u in layers],
                                             {t: floats[t].dtype for ts in layer_inputs.values() for t in ts})
            layerwise = (_session(built, "the layerwise model"), [i.name for i in built.graph.input], outputs)
        session, names, outputs = layerwise
        own = dict(zip(outputs.values(), _run(session, {n: floats[n] for n in names}, "the layerwise model",
                                              list(outputs.values())), strict=True))
        for entry in result.layers:
            entry.own.add(floats[layer_outputs[entry.unit.name]], own[outputs[entry.unit.name]])
        del own
        for entry in result.groups:
            for x, params in members[entry.unit.id]:
                if x in floats and params is not None:
                    entry.own.add(floats[x], fake_quantize(floats[x], params))
                    entry.unified.add(floats[x], fake_quantize(floats[x], entry.params))
        result.samples = k + 1
    if progress is not None:
        progress("local", result.samples, result.samples)
    return result


def fake_quantize(x: np.ndarray, params: QParams) -> np.ndarray:
    """DQ(Q(x)) as ONNX Runtime computes them for per-tensor parameters: x / scale in x's float type, rounded half
    to even, plus the zero point, saturated; then (q - zero point) * scale."""
    qmin, qmax = QRANGE[params.dtype]
    x = np.asarray(x)
    scale = np.asarray(params.scale, dtype=x.dtype).reshape(())
    zero = int(params.zero_point_value)
    q = np.clip(np.rint(x / scale) + zero, qmin, qmax)
    return ((q - zero) * scale).astype(x.dtype, copy=False)


def _activation_quantizers(index: GraphIndex) -> list[tuple[str, QParams]]:
    """(the Q's input, its parameters) of every per-tensor activation Q read by a DQ."""
    found = []
    for q in index.of_type("QuantizeLinear"):
        if not is_q(index.node_at(q)) or index.is_fixed(index.inputs[q][0]):
            continue
        dqs = [r for r in index.consumers.get(index.outputs[q][0], []) if is_dq(index.node_at(r))]
        params = read_params(index, index.node_at(q))
        if dqs and params is not None and params.per_tensor and params.dtype in QRANGE:
            found.append((index.inputs[q][0], params))
    return found


def _float_inputs(index: GraphIndex, layer: str) -> list[str]:
    """The float tensors the layer's layerwise copy reads: its Q's inputs, its float activations."""
    found = []
    for tensor in index.inputs[index.find(layer)]:
        if not tensor or index.is_fixed(tensor):
            continue
        dq = index.producer.get(tensor)
        if dq is not None and is_dq(index.node_at(dq)):
            q = dequantized_q(index, tensor)
            if q is not None and not index.is_constant(index.inputs[q][0]):
                found.append(index.inputs[q][0])
        else:
            found.append(tensor)
    return found


def _float_model(model: onnx.ModelProto, reference: onnx.ModelProto | None,
                 wanted: set[str]) -> tuple[onnx.ModelProto, str]:
    if reference is not None:
        names = {o for n in reference.graph.node for o in n.output} | {i.name for i in reference.graph.input}
        missing = wanted - names
        if not missing:
            return reference, "the FP32 export"
    return float_reference(model), "the float model derived from the Q/DQ model (Q/DQ removed)"


def _session(model: onnx.ModelProto, what: str):
    try:
        session, _ = ort_session(model, qdq_propagation=False, arena=False)
    except SessionError as err:
        raise BadInputError(f"ONNX Runtime cannot run {what} for local sensitivity: {err}") from None
    return session


def _run(session, feed: dict, what: str, names: list[str] | None = None) -> list[np.ndarray]:
    try:
        return session.run(names, feed)
    except Exception as err:  # noqa: BLE001 - ORT raises many types
        raise CheckFailed(f"ONNX Runtime failed on {what}: {first_line(err)}") from None
