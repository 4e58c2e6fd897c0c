"""Load and save ONNX models, with or without external data, never touching the input.

Saving keeps the input's layout: a model whose weights lived in an external-data file is written with its
weights in ``<output>.data``; a model too big for one protobuf (2 GB) always is.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from onnx.external_data_helper import set_external_data, write_external_data_tensors

from qdqtool.errors import BadInputError
from qdqtool.io.atomic import atomic_dir, publish
from qdqtool.io.guard import check_target, is_input, note_read, read_input

_PROTOBUF_LIMIT = 2**31 - 1


@dataclass
class LoadedModel:
    """A ModelProto and where it came from."""

    model: onnx.ModelProto
    path: Path
    external_data: bool  # some initializer was stored outside the .onnx file

    @property
    def graph(self) -> onnx.GraphProto:
        return self.model.graph


def _uses_external_data(model: onnx.ModelProto, data: bytes) -> bool:
    """Initializers or Constant-node tensors stored outside the file (what onnx.load would fetch).

    The nodes are walked only when the file mentions a Constant at all: reading every node's op type through
    protobuf is most of what onnx.load spends on a large graph without external data.
    """
    external = onnx.TensorProto.EXTERNAL
    if any(t.data_location == external for t in model.graph.initializer):
        return True
    return b"Constant" in data and any(
        a.t.data_location == external
        for n in model.graph.node if n.op_type == "Constant" for a in n.attribute if a.name == "value"
    )


def graph_inputs(graph: onnx.GraphProto, initializers: Container[str] | None = None) -> list[onnx.ValueInfoProto]:
    """The inputs a caller feeds: declared graph inputs that are not initializers (models of IR < 4 list every
    initializer as an input too).

    Args:
        graph (onnx.GraphProto): The graph.
        initializers (Container[str]): Its initializer names, when the caller has them. Defaults to None (read).
    """
    if initializers is None:
        initializers = {t.name for t in graph.initializer}
    return [v for v in graph.input if v.name not in initializers]


def read_structure(path: str | os.PathLike) -> onnx.ModelProto:
    """The model without its external data (graph, shapes, names, small initializers), or BadInputError.

    Args:
        path (str | PathLike): The ``.onnx`` file.
    """
    return _read(Path(path))[0]


def _read(path: Path) -> tuple[onnx.ModelProto, bytes]:
    """The model without its external data, and the bytes it was parsed from."""
    data = read_input(path, "an .onnx file")
    if not data:
        raise BadInputError(f"{path}: empty file, expected an ONNX model")
    try:
        model = onnx.load_model_from_string(data, format=_format_of(path))
    except (DecodeError, ValueError, RuntimeError, json_format.ParseError) as err:  # .json/.txt: onnx parses text
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        if isinstance(err, json_format.ParseError):
            reason = "it is JSON (for TensorRT layer information use `qdqtool inspect`)"
        raise BadInputError(f"{path}: not a readable ONNX model (truncated or another format?): {reason}") from None
    if not model.HasField("graph") or not model.opset_import or model.ir_version <= 0:
        raise BadInputError(f"{path}: not an ONNX model (no graph or opset); is this the right file?")
    check_graph(model, path)
    return model, data


def check_graph(model: onnx.ModelProto, path: str | os.PathLike) -> None:
    """BadInputError for a model no backend can load: an IR version or opset newer than this onnx knows. (What
    is wrong inside the graph, :meth:`qdqtool.ir.index.GraphIndex.check_valid` says, from the lists it reads
    anyway.)"""
    if model.ir_version > onnx.IR_VERSION:
        raise BadInputError(f"{path}: IR version {model.ir_version} is newer than this onnx {onnx.__version__} reads "
                            f"(up to {onnx.IR_VERSION}); is the file from a newer exporter?")
    newest = onnx.defs.onnx_opset_version()
    main = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if main is not None and main > newest:
        raise BadInputError(f"{path}: opset {main} is newer than this onnx {onnx.__version__} knows (up to {newest})")



def _format_of(path: Path) -> str:
    """The serialization onnx.load would pick for this file name (.json and .txt are text formats)."""
    return onnx.serialization.registry.get_format_from_file_extension(path.suffix) or "protobuf"


def external_locations(model: onnx.ModelProto) -> list[str]:
    """The external-data files the model's initializers point at (relative to the model's folder)."""
    found = []
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            found += [e.value for e in tensor.external_data if e.key == "location"]
    return list(dict.fromkeys(found))


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Read an ONNX file (external data included) or raise BadInputError with a one-line reason.

    Args:
        path (str | PathLike): The ``.onnx`` file.
    """
    path = Path(path)
    model, data = _read(path)
    external = _uses_external_data(model, data)
    del data
    if external:
        for location in external_locations(model):
            note_read(path.parent / location)
        try:
            onnx.load_external_data_for_model(model, str(path.parent))
        except (FileNotFoundError, OSError, ValueError, onnx.checker.ValidationError) as err:
            raise BadInputError(f"{path}: its external data could not be read: {err}") from None
    return LoadedModel(model=model, path=path, external_data=external)


class StagedModel:
    """A model written into a temporary folder beside its target, not yet visible under its final name."""

    def __init__(self, folder: Path, target: Path, files: list[str]) -> None:
        self.folder = folder
        self.target = target
        self._files = files

    @property
    def path(self) -> Path:
        """The written model file (external data beside it), e.g. for ONNX Runtime to load."""
        return self.folder / self.target.name

    def publish(self) -> list[Path]:
        """Move the files to their final names (data file first) and return them."""
        written = []
        for name in reversed(self._files):  # the data file first: never a model pointing at missing data
            publish(self.folder / name, self.target.parent / name)
            written.append(self.target.parent / name)
        return written[::-1]


@contextlib.contextmanager
def staged_model(
    model: onnx.ModelProto, path: str | os.PathLike, external_data: bool = False, size_hint: int | None = None,
    avoid: Iterable[str | os.PathLike] = (),
) -> Iterator[StagedModel]:
    """Write ``model`` for ``path`` into a temporary folder; only ``publish()`` makes it final.

    Whatever is not published is removed on exit, so a failed check or an error leaves no partial output.

    Args:
        model (onnx.ModelProto): The model. Not modified.
        path (str | PathLike): The target ``.onnx`` file.
        external_data (bool): Store initializers in ``<name>.data`` beside it. Forced on above 2 GB.
            Defaults to False.
        size_hint (int): The size of the file the model was read from, when known: far below 2 GB, the model's
            own size need not be computed (that walks the whole proto). Defaults to None.
        avoid (Iterable): Input files neither the model nor its external data may be written over (besides those
            this run read). Defaults to none.
    """
    path = Path(path)
    avoid = list(avoid)
    check_target(path, inputs=avoid)
    small = size_hint is not None and size_hint < _PROTOBUF_LIMIT // 2
    if not external_data and not small and model.ByteSize() > _PROTOBUF_LIMIT:
        external_data = True
    with atomic_dir(path.parent) as tmp:
        files = [path.name]
        if external_data:
            data_name = external_data_name(path, avoid)
            _save_with_external_data(model, tmp, path.name, data_name)
            if (tmp / data_name).exists():
                files.append(data_name)
        else:
            # the bytes directly: onnx.save_model would first walk every tensor in Python looking for
            # external data (most of its time on large graphs), and this model has none
            (tmp / path.name).write_bytes(model.SerializeToString())
        yield StagedModel(tmp, path, files)


def external_data_name(path: Path, avoid: Iterable[str | os.PathLike] = ()) -> str:
    """``out.onnx.data``, or ``out.onnx.1.data`` ... when that file is an input (another model's data)."""
    name, k = f"{path.name}.data", 0
    avoid = list(avoid)
    while is_input(path.parent / name, avoid) is not None:
        k += 1
        name = f"{path.name}.{k}.data"
    return name


def _save_with_external_data(model: onnx.ModelProto, folder: Path, name: str, data_name: str) -> None:
    """Write ``folder/name`` with every initializer of 1 KiB or more in ``folder/data_name``.

    What ``onnx.save_model(save_as_external_data=True)`` does, minus its check that ``data_name`` does not
    exist relative to the *current* directory (it refuses to write when the user's folder holds a file of that
    name, though the data goes to ``folder``).
    """
    copy = onnx.ModelProto()
    copy.CopyFrom(model)  # the data is moved out of the proto it is written from
    for tensor in copy.graph.initializer:
        if tensor.HasField("raw_data") and len(tensor.raw_data) >= 1024:
            set_external_data(tensor, data_name)
    write_external_data_tensors(copy, str(folder))
    (folder / name).write_bytes(copy.SerializeToString())


def save_model(model: onnx.ModelProto, path: str | os.PathLike, external_data: bool = False) -> list[Path]:
    """Write ``model`` to ``path`` atomically; returns the files written.

    Args:
        model (onnx.ModelProto): The model. Not modified.
        path (str | PathLike): The target ``.onnx`` file.
        external_data (bool): Store initializers in ``<name>.data`` beside it. Forced on above 2 GB.
            Defaults to False.
    """
    with staged_model(model, path, external_data) as staged:
        return staged.publish()
