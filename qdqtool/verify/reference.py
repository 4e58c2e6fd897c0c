"""The float reference every accuracy figure is measured against, and the cache of its outputs.

The reference is the user's FP32 export (``--reference model_fp32.onnx``, checked to have the model's inputs and
outputs), or else the float model inside the Q/DQ model (:func:`qdqtool.surgery.float_reference.float_reference`:
every Q/DQ pair removed, weights back in float). Either is named as such in every report.

Its outputs are computed once per model and sample and kept on disk, so repeated runs do not pay for them: one
``.npz`` per sample under ``<cache>/reference-outputs/<model key>/<sample key>.npz``, where the model key hashes the
reference's file (for a derived reference: the Q/DQ model's file and the derivation's version) and the sample key
the input arrays (names, types, shapes, bytes). The cache folder is ``$QDQTOOL_CACHE``, else
``$XDG_CACHE_HOME/qdqtool``, else ``~/.cache/qdqtool``; ``QDQTOOL_CACHE=off`` turns it off. Files are written
atomically, so concurrent runs share it safely.

    >>> reference = FloatReference.for_model(Path("model.onnx"), structure)
    >>> outputs = reference.outputs(feed)  # computed on first use, then read from the cache
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from qdqtool.errors import BadInputError
from qdqtool.io.atomic import write_bytes
from qdqtool.io.data.shapes import model_inputs
from qdqtool.io.onnx_io import load_model, read_structure
from qdqtool.verify.session import SessionError, ort_session

DERIVATION = "float-reference-1"  # bump when float_reference() changes what it derives
_CHUNK = 1 << 20


def cache_root() -> Path | None:
    """Where reference outputs are kept (see the module docstring); None when the cache is off."""
    configured = os.environ.get("QDQTOOL_CACHE")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "no") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "qdqtool"


def file_key(path: Path, salt: str = "") -> str:
    """A hash of a model file's bytes, and of the name, size and time of each external-data file it names."""
    digest = hashlib.blake2b(salt.encode(), digest_size=16)
    external, tail = False, b""
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            external = external or b"location" in tail + chunk  # (only a model with external data names one)
            tail = chunk[-8:]
    locations = set()
    if external:
        for tensor in read_structure(path).graph.initializer:
            locations.update(e.value for e in tensor.external_data if e.key == "location")
    for name in sorted(locations):
        other = path.parent / name
        stat = other.stat() if other.is_file() else None
        digest.update(f"{name}:{stat.st_size if stat else -1}:{stat.st_mtime_ns if stat else -1}".encode())
    return digest.hexdigest()


def feed_key(feed: dict[str, np.ndarray]) -> str:
    """A hash of one feed: every input's name, type, shape and bytes."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(feed):
        array = np.ascontiguousarray(feed[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


@dataclass
class FloatReference:
    """The float model (see the module docstring) and its cached outputs."""

    label: str  # how reports name it
    kind: str  # "file" (the user's FP32 export) or "derived" (Q/DQ removed from the model)
    key: str  # the cache's model key
    load: Any = field(repr=False)  # () -> ModelProto | path, called when a sample is not cached
    output_names: list[str] = field(default_factory=list)
    hits: int = 0  # samples read from the cache, and computed
    misses: int = 0
    _session: Any = field(default=None, init=False, repr=False)

    @classmethod
    def for_model(cls, model: Path | onnx.ModelProto, structure: onnx.ModelProto | None = None,
                  given: Path | None = None) -> FloatReference:
        """The reference of the Q/DQ model ``model``: ``given`` (checked against ``structure``), else derived.

        Args:
            model (Path | onnx.ModelProto): The Q/DQ model's file (or the model itself).
            structure (onnx.ModelProto): Its structure (no weights needed), for names and shapes. Defaults to
                the model's (read from its file).
            given (Path): The user's FP32 export. Defaults to None (derive it).
        """
        if structure is None:
            structure = model if isinstance(model, onnx.ModelProto) else read_structure(model)
        names = [o.name for o in structure.graph.output]
        in_memory = isinstance(model, onnx.ModelProto)
        name = structure.graph.name or "the model" if in_memory else model.name
        if given is None:
            def derive() -> onnx.ModelProto:
                from qdqtool.surgery.float_reference import float_reference

                return float_reference(model if in_memory else load_model(model).model)

            key = (hashlib.blake2b(DERIVATION.encode() + model.SerializeToString(), digest_size=16).hexdigest()
                   if in_memory else file_key(model, DERIVATION))
            return cls(f"float model derived from {name} (Q/DQ removed)", "derived", key, derive, names)
        _check_compatible(read_structure(given), structure, given, name)
        return cls(f"FP32 export {given}", "file", file_key(given, "file"), lambda: given, names)

    def outputs(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The reference's outputs on ``feed``, in the model's output order (from the cache when there)."""
        root = cache_root()
        path = root / "reference-outputs" / self.key / f"{feed_key(feed)}.npz" if root is not None else None
        if path is not None and path.is_file():
            cached = _read_cached(path, self.output_names)
            if cached is not None:
                self.hits += 1
                return cached
        outputs = self._run(feed)
        self.misses += 1
        if path is not None:
            buffer = io.BytesIO()
            np.savez(buffer, **{f"o{k}": array for k, array in enumerate(outputs)})
            try:
                write_bytes(path, buffer.getvalue())
            except OSError:
                pass  # a cache that cannot be written (read-only home) only costs time
        return outputs

    def _run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self._session is None:
            try:
                self._session, _ = ort_session(self.load())
            except SessionError as err:
                raise BadInputError(f"ONNX Runtime cannot run the float reference ({self.label}): {err}") from None
        try:
            run = self._session.run(self.output_names, feed)
        except Exception as err:  # noqa: BLE001 - ORT raises many types
            line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise BadInputError(f"ONNX Runtime failed on the float reference with these inputs ({line})") from None
        return [np.asarray(a) for a in run]


def _read_cached(path: Path, names: list[str]) -> list[np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = [npz[f"o{k}"] for k in range(len(names))]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return None  # half a file from a killed run, or another layout: computed again
    return arrays


def _check_compatible(reference: onnx.ModelProto, model: onnx.ModelProto, path: Path, model_name: str) -> None:
    """BadInputError unless the reference has the model's inputs and outputs (names, ranks, fixed dimensions)."""
    def described(values) -> dict[str, tuple]:
        return {v.name: tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                              for d in v.type.tensor_type.shape.dim) for v in values}

    ours_in = {i.name: i.dims for i in model_inputs(model)}
    theirs_in = {i.name: i.dims for i in model_inputs(reference)}
    ours_out, theirs_out = described(model.graph.output), described(reference.graph.output)
    for what, ours, theirs in (("inputs", ours_in, theirs_in), ("outputs", ours_out, theirs_out)):
        if list(ours) != list(theirs):
            raise BadInputError(f"{path}: the reference has other {what} ({', '.join(theirs) or 'none'}) than "
                                f"{model_name} ({', '.join(ours)}); give the FP32 export of this model")
        for name, dims in ours.items():
            other = theirs[name]
            fits = len(dims) == len(other) and all(a is None or b is None or a == b for a, b in zip(dims, other,
                                                                                               strict=True))
            if not fits:
                raise BadInputError(f"{path}: {what[:-1]} {name} has shape {_shape(other)} in the reference and "
                                    f"{_shape(dims)} in {model_name}")


def _shape(dims: tuple) -> str:
    return "x".join("?" if d is None else str(d) for d in dims) or "a scalar"
