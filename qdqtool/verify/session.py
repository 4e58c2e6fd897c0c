"""The one place ONNX Runtime sessions are made: the numeric check, the ``onnxruntime`` backend and its timer.

Every session runs on the CPU provider with ONNX Runtime's own logging silenced (qdqtool reports errors itself, in
one line). ``threads`` fixes intra- and inter-op threads and sequential execution, for comparable timings; without
it ONNX Runtime picks its defaults (the numeric check only needs the values).

ONNX Runtime 1.32's QDQ propagation writes an invalid Q (``output_dtype`` int8 with a uint8 zero point) into some
opset-21 graphs with int8 DQ -> MaxPool and then refuses its own result. Moving Q/DQ does not change what a model
computes, so ``qdq_propagation`` chooses: ``False`` always runs without that pass (the numeric check, on both models
alike), ``True`` always with it, ``None`` with it and, when the session cannot be made, once more without it (the
backend, which says so in its report).

    >>> session, fallback = ort_session("model.onnx", threads=1)
    >>> assert fallback is None or "QDQPropagationTransformer" in fallback
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import onnx

from qdqtool.errors import first_line

QDQ_PROPAGATION = "QDQPropagationTransformer"
_PROTOBUF_LIMIT = 2**31 - 1


class SessionError(Exception):
    """ONNX Runtime could not make a session; the message is its first line. Callers say what that means."""


def ort_session(
    model: onnx.ModelProto | str | os.PathLike,
    *,
    threads: int | None = None,
    qdq_propagation: bool | None = None,
    optimized_path: Path | None = None,
    profile_prefix: Path | None = None,
    arena: bool = True,
) -> tuple[Any, str | None]:
    """An InferenceSession over ``model``, and a note when it needed the fallback without QDQ propagation.

    Args:
        model (ModelProto | path): The model; a ModelProto too big for one protobuf goes through a temporary file.
        threads (int): Fixed intra/inter-op threads and sequential execution. Defaults to ONNX Runtime's choice.
        qdq_propagation (bool): See the module docstring. Defaults to None (with it, falling back without it).
        optimized_path (Path): Where ONNX Runtime saves the optimised graph. Defaults to None.
        profile_prefix (Path): Turns profiling on, writing ``<prefix>_<time>.json``. Defaults to None.
        arena (bool): ONNX Runtime's CPU memory arena, which keeps the peak of every run allocated; off for
            sessions that output many activations (local sensitivity). Defaults to True.

    Raises:
        SessionError: ONNX Runtime refused the model (also without QDQ propagation, when it fell back).
    """
    import onnxruntime as ort  # imported on use: analysis and merge --no-verify never pay for it

    options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only
    if threads is not None:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
    if not arena:
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
    if optimized_path is not None:
        options.optimized_model_filepath = str(optimized_path)
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profile_prefix)
    with tempfile.TemporaryDirectory(prefix="qdqtool-session-") as tmp:
        source = _source(model, Path(tmp))

        def make(disabled: list[str]):
            return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"],
                                        disabled_optimizers=disabled)

        try:
            return make([] if qdq_propagation in (True, None) else [QDQ_PROPAGATION]), None
        except Exception as err:  # noqa: BLE001 - ORT raises many types; all mean "cannot load this model"
            if qdq_propagation is not None:
                raise SessionError(first_line(err)) from None
            refused = first_line(err)
        try:
            session = make([QDQ_PROPAGATION])
        except Exception:  # noqa: BLE001
            raise SessionError(refused) from None
    return session, (f"optimised without {QDQ_PROPAGATION}: with it ONNX Runtime rejected its own optimised graph "
                     f"({refused})")


def _source(model: onnx.ModelProto | str | os.PathLike, tmp: Path) -> bytes | str:
    """What InferenceSession reads: a path, the serialized model, or (above 2 GB) a file with external data."""
    if not isinstance(model, onnx.ModelProto):
        return str(model)
    if model.ByteSize() < _PROTOBUF_LIMIT:
        return model.SerializeToString()
    path = tmp / "model.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="model.onnx.data")
    return str(path)
