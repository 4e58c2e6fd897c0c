"""EngineReport: the one description of a built (or predicted) engine that every backend produces.

TensorRT JSON, a real Polygraphy build, ONNX Runtime's optimized graph + profile and the CPU predictor all
produce an ``EngineReport``, so ``diff``, ``check`` and ``report`` never branch on the backend.

    >>> layer = Layer(name="QuantizeLinear_15", type="Reformat", cls=LayerClass.QDQ)
    >>> assert layer.is_leftover_qdq
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from qdqtool.engine.latency import Timings

REPORT_FORMAT = "qdqtool-engine-report"  # the "format" key of engine_report.json (EngineReport.to_dict)
SAVED_REPORT = "engine_report.json"  # the file name `qdqtool build` gives it, for every backend
REPORT_VERSION = 1


class LayerClass(str, Enum):
    """What a layer is, for the question "did the Q/DQ fuse?"."""

    COMPUTE = "compute"  # convolutions, GEMM, pointwise, pooling ...
    QDQ = "qdq"  # an unfused quantize/dequantize left standing
    REFORMAT = "reformat"  # layout/precision conversion inserted by the builder
    NOOP = "noop"
    CONSTANT = "constant"
    OTHER = "other"


@dataclass
class TensorInfo:
    """One input or output of a layer."""

    name: str
    shape: tuple[int, ...] | None = None
    dtype: str | None = None  # normalised: "int8", "uint8", "fp16", "fp32", "bf16", "fp8", "int4", "int32", ...
    format: str | None = None  # the backend's own format string, kept verbatim


@dataclass
class Layer:
    """One kernel (or fused group of ONNX nodes) of an engine."""

    name: str
    type: str  # the backend's layer type: LayerType for TensorRT, op_type for ONNX Runtime
    cls: LayerClass = LayerClass.OTHER
    origin: str | None = None  # TensorRT "Origin" ("QDQ", "REFORMAT") when present
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    tactic: str | None = None
    onnx_nodes: tuple[str, ...] = ()  # the ONNX nodes this layer implements
    weights: tuple[str, ...] = ()  # weight/constant tokens carried by the layer (stable across exports)
    onnx_tensors: tuple[str, ...] = ()  # ONNX tensors a generated Q/DQ kernel reads/writes (when Metadata is empty)
    avg_ms: float | None = None  # measured average time per inference
    median_ms: float | None = None
    share: float | None = None  # percent of the summed layer time
    cost: float | None = None  # predicted cost (bytes moved) when the backend cannot measure
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def is_leftover_qdq(self) -> bool:
        return self.cls is LayerClass.QDQ

    @property
    def precision(self) -> str | None:
        """Output precision (the first output's dtype), as TREx reports it."""
        return self.outputs[0].dtype if self.outputs else None


@dataclass
class EngineReport:
    """Layers plus what is known about how they were obtained.

    ``measured`` is False for the predictor: its ``cost`` values are estimates and never presented as times.
    """

    backend: str  # "tensorrt", "onnxruntime", "trt-sim"
    source: str  # where it came from (file or folder), for messages
    layers: list[Layer] = field(default_factory=list)
    latency: Timings | None = None  # end-to-end (ms per inference), when a timing file or a real run gave it
    measured: bool = True
    detailed: bool = True  # False when TensorRT wrote names only (ProfilingVerbosity.LAYER_NAMES_ONLY)
    notes: list[str] = field(default_factory=list)
    bindings: list[str] = field(default_factory=list)  # the engine's input/output tensors (TensorRT "Bindings")
    opt_profile: int | None = None  # the optimization profile the layers belong to
    opt_profiles: int = 1  # how many optimization profiles the engine has
    profile_runs: int | None = None  # how many inferences the per-layer times were averaged over
    build_mode: str | None = None  # for a prediction: the TensorRT build it predicts (strongly or weakly typed)

    def of_class(self, cls: LayerClass) -> list[Layer]:
        return [layer for layer in self.layers if layer.cls is cls]

    @property
    def leftover_qdq(self) -> list[Layer]:
        return self.of_class(LayerClass.QDQ)

    @property
    def has_layer_times(self) -> bool:
        """True when per-layer times were measured (a profile was read)."""
        return self.measured and any(layer.avg_ms is not None for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as JSON-ready data (``engine_report.json``); :meth:`from_dict` reads it back.

            >>> assert EngineReport.from_dict(report.to_dict()) == report
        """
        data = asdict(self)
        for layer in data["layers"]:
            layer["cls"] = LayerClass(layer["cls"]).value
        data["latency"] = {"runs_ms": list(self.latency.values)} if self.latency is not None else None
        return {"format": REPORT_FORMAT, "version": REPORT_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineReport:
        """Rebuild a report written by :meth:`to_dict`. Raises ValueError (naming the field) on another document."""
        if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
            raise ValueError(f"not a {REPORT_FORMAT} document (no \"format\": \"{REPORT_FORMAT}\")")
        if data.get("version") != REPORT_VERSION:
            raise ValueError(f"{REPORT_FORMAT} version {data.get('version')!r}; this qdqtool reads {REPORT_VERSION}")
        fields = {k: v for k, v in data.items() if k not in ("format", "version")}
        try:
            fields["layers"] = [_layer_from_dict(layer) for layer in fields.get("layers", [])]
            latency = fields.get("latency")
            fields["latency"] = Timings(tuple(float(v) for v in latency["runs_ms"])) if latency else None
            return cls(**fields)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"malformed {REPORT_FORMAT} document: {type(err).__name__}: {err}") from None


def _tensor_from_dict(data: dict[str, Any]) -> TensorInfo:
    shape = data.get("shape")
    return TensorInfo(name=data["name"], shape=tuple(shape) if shape is not None else None, dtype=data.get("dtype"),
                      format=data.get("format"))


def _layer_from_dict(data: dict[str, Any]) -> Layer:
    data = dict(data)
    data["cls"] = LayerClass(data.get("cls", LayerClass.OTHER.value))
    data["inputs"] = [_tensor_from_dict(t) for t in data.get("inputs", [])]
    data["outputs"] = [_tensor_from_dict(t) for t in data.get("outputs", [])]
    data["onnx_nodes"] = tuple(data.get("onnx_nodes", ()))
    data["weights"] = tuple(data.get("weights", ()))
    data["onnx_tensors"] = tuple(data.get("onnx_tensors", ()))
    return Layer(**data)
