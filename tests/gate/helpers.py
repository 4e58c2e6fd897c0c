"""Helpers for the `qdqtool check` and `qdqtool report` tests: save a model, run the check, pick findings.

The fixtures are imported by the conftest.py of tests/check, tests/report and tests/cli.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import onnx
import pytest

from qdqtool.jobs.check import CheckRequest, ModelCheck, check_model
from tests.fixtures.registry import get

ENGINE_JSON = Path(__file__).resolve().parents[1] / "fixtures" / "engine_json"


def lint(path: Path, **options) -> ModelCheck:
    """Run the check on one model without looking for config files (unless use_config=True or config= is given)."""
    options.setdefault("use_config", False)
    return check_model(path, CheckRequest(models=[path], **options))


def ids(run: ModelCheck) -> list[str]:
    """The rule ids that found something."""
    return sorted({v.rule.id for v in run.violations})


def by_rule(run: ModelCheck, rule_id: str) -> list:
    return [v for v in run.violations if v.rule.id == rule_id]


@pytest.fixture
def save(tmp_path: Path) -> Callable[..., Path]:
    """save("yolov6_qat_int8") or save(model, "name.onnx"): write a model into tmp_path, return its path."""

    def _save(model: str | onnx.ModelProto, filename: str | None = None) -> Path:
        if isinstance(model, str):
            filename = filename or f"{model}.onnx"
            model = get(model).build()
        path = tmp_path / (filename or "model.onnx")
        onnx.save(model, str(path))
        return path

    return _save



def trt_layer(name: str, layer_type: str, inputs: list[str], outputs: list[str], origin: str | None = None) -> dict:
    """One detailed TensorRT layer-information entry; dtypes as short names ("int8", "fp16", "fp32")."""
    formats = {
        "int8": "Thirty-two wide channel vectorized row major Int8 format",
        "fp16": "Row major linear FP16 format",
        "fp32": "Row major linear FP32",
    }
    layer = {
        "Name": name,
        "LayerType": layer_type,
        "Inputs": [{"Name": f"{name}.in{i}", "Dimensions": [1, 8, 8, 8], "Format/Datatype": formats[d]}
                   for i, d in enumerate(inputs)],
        "Outputs": [{"Name": f"{name}.out{i}", "Dimensions": [1, 8, 8, 8], "Format/Datatype": formats[d]}
                    for i, d in enumerate(outputs)],
    }
    if origin:
        layer["Origin"] = origin
    return layer


def write_engine(folder: Path, layers: list[dict], times_ms: dict[str, float] | None = None,
                 latencies_ms: list[float] | None = None) -> Path:
    """Write layers.json (+ profile.json, timing.json) as trtexec does; return the folder."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "layers.json").write_text(json.dumps({"Layers": layers, "Bindings": []}))
    if times_ms is not None:
        total = sum(times_ms.values())
        records = [{"name": n, "timeMs": t * 10, "averageMs": t, "medianMs": t, "percentage": 100 * t / total}
                   for n, t in times_ms.items()]
        (folder / "profile.json").write_text(json.dumps([{"count": 10}, *records]))
    if latencies_ms is not None:
        (folder / "timing.json").write_text(json.dumps([{"latencyMs": v} for v in latencies_ms]))
    return folder


def engines_of(model: Path, folder: Path, backend: str = "trt-sim") -> tuple[Path, Path]:
    """Engine reports of ``model`` and of its merged version, built as `qdqtool build --backend BACKEND` does: a
    before/after pair that really comes from the model (what `report --before/--after` expects). ``trt-sim``
    predicts (no times); ``onnxruntime`` builds and profiles for real (per-kernel times)."""
    from qdqtool.analysis.rules import load_rules
    from qdqtool.engine.backends import BuildOptions, get_backend
    from qdqtool.surgery.merge import merge_scales

    merged_model = onnx.load(str(model))
    merge_scales(merged_model, load_rules("tensorrt"))
    merged = folder / "merged.onnx"
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(merged_model, str(merged))
    loader = get_backend(backend).loader()
    options = BuildOptions(warmup=1, iterations=3, latency=False)
    for side, source in (("before", model), ("after", merged)):
        loader(source, folder / side, options, None)()
    return folder / "before", folder / "after"


MYELIN_DTYPE = {"int8": "Int8", "fp16": "Half", "fp32": "Float"}


def kgen(ops: str, n: int, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]],
         metadata: str = "") -> dict:
    """A Myelin kernel record; tensors as (name, dtype); without an execution context TensorRT writes the bare type."""
    return {
        "Name": f"__myl_{ops}_myl0_{n}", "LayerType": "kgen",
        "Inputs": [_myelin_tensor(name, d) for name, d in inputs],
        "Outputs": [_myelin_tensor(name, d) for name, d in outputs],
        "TacticName": f"__myl_{ops}_0x5baf2d6e1c0a4b3f9e8d7c6b5a493827", "StreamId": 0, "Metadata": metadata,
    }


def _myelin_tensor(name: str, dtype: str) -> dict:
    return {"Name": name, "Dimensions": [1, 16, 20, 20], "Format/Datatype": MYELIN_DTYPE[dtype]}


def internal(i: int) -> str:
    return f"__myln_k_arg__bb1_{i}_myl0"
