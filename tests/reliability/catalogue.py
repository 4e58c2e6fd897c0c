"""The bad-input catalogue: awkward inputs and output paths a user hands a deployment tool, made by code here.

Each :class:`Case` writes its files into an empty folder and names the command lines to run there; every one must
end with exit 2, one line on stderr that contains ``says`` and no traceback, every input byte for byte as it was,
and nothing left behind (tests/reliability/test_catalogue.py). The README's table lists the same cases.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from qdqtool.examples import example_model

MODEL_COMMANDS = (("analyze", "{m}"), ("merge", "{m}", "-o", "out.onnx"), ("check", "{m}"),
                  ("report", "{m}", "-o", "out.html"), ("build", "{m}", "--backend", "trt-sim", "-o", "out"),
                  ("compare", "{m}", "--backend", "trt-sim"), ("sensitivity", "{m}"),
                  ("partial", "{m}", "-o", "out.onnx", "--keep-float", "1"))
ENGINE_COMMANDS = (("inspect", "{e}"), ("diff", "{e}", "{e}"), ("check", "example.onnx", "--engine", "{e}"))


@dataclass(frozen=True)
class Case:
    id: str
    what: str  # the README's words for it
    make: Callable[[Path], dict]  # writes the files; returns the names the commands use ({"m": "x.onnx"})
    commands: tuple[tuple[str, ...], ...]
    says: str  # a fragment of the one line the user gets


def example() -> onnx.ModelProto:
    with example_model() as path:
        return onnx.load(path)


def _save(folder: Path, model: onnx.ModelProto, name: str = "m.onnx") -> dict:
    onnx.save(model, folder / name)
    return {"m": name}


def _write(name: str, data: bytes) -> Callable[[Path], dict]:
    def make(folder: Path) -> dict:
        (folder / name).write_bytes(data)
        return {"m": name, "e": name}
    return make


def _with_scale(value: float) -> Callable[[Path], dict]:
    def make(folder: Path) -> dict:
        model = example()
        q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
        for i, tensor in enumerate(model.graph.initializer):
            if tensor.name == q.input[1]:
                model.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array(value, np.float32), tensor.name))
        return _save(folder, model)
    return make


def _zero_point_of_wrong_length(folder: Path) -> dict:
    model = example()
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    next(t for t in model.graph.initializer if t.name == q.input[2]).raw_data = b"\x00\x00\x00"
    return _save(folder, model)


def _graph_edit(edit: Callable[[onnx.ModelProto], None]) -> Callable[[Path], dict]:
    def make(folder: Path) -> dict:
        model = example()
        edit(model)
        return _save(folder, model)
    return make


def _dangling(model: onnx.ModelProto) -> None:
    model.graph.node[3].input[0] = "nothing_writes_this"


def _cycle(model: onnx.ModelProto) -> None:
    nodes = list(model.graph.node)
    nodes[2], nodes[5] = nodes[5], nodes[2]  # a reader before its writer: what a cycle looks like in node order
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def _duplicate_output(model: onnx.ModelProto) -> None:
    model.graph.node[4].output[0] = model.graph.node[2].output[0]


def _opset(version: int) -> Callable[[onnx.ModelProto], None]:
    def edit(model: onnx.ModelProto) -> None:
        model.opset_import[0].version = version
    return edit


def _ir_version(model: onnx.ModelProto) -> None:
    model.ir_version = 99


def _folder_model(folder: Path) -> dict:
    (folder / "m.onnx").mkdir()
    return {"m": "m.onnx", "e": "m.onnx"}


def _fifo(folder: Path) -> dict:
    os.mkfifo(folder / "m.onnx")
    return {"m": "m.onnx", "e": "m.onnx"}


def _truncated(folder: Path) -> dict:
    data = example().SerializeToString()
    (folder / "m.onnx").write_bytes(data[: len(data) // 2])
    return {"m": "m.onnx"}


def _named(name: str) -> Callable[[Path], dict]:
    return _write(name, b"")


def _model_and(extra: Callable[[Path], None]) -> Callable[[Path], dict]:
    def make(folder: Path) -> dict:
        _save(folder, example())
        extra(folder)
        return {"m": "m.onnx"}
    return make


def _hard_link(folder: Path) -> None:
    os.link(folder / "m.onnx", folder / "link.onnx")


def _symlink(folder: Path) -> None:
    _save(folder, example(), "other.onnx")
    os.symlink("other.onnx", folder / "link.onnx")


def _subfolder(folder: Path) -> None:
    (folder / "existing").mkdir()


def _a_file(folder: Path) -> None:
    (folder / "afile").write_text("not a folder\n")


def _external_data(folder: Path) -> dict:
    onnx.save(example(), folder / "a.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="a.onnx.data", size_threshold=0)
    return {"m": "a.onnx"}


def _engine(data: object) -> Callable[[Path], dict]:
    def make(folder: Path) -> dict:
        (folder / "layers.json").write_text(json.dumps(data))
        _save(folder, example(), "example.onnx")
        return {"e": "layers.json"}
    return make


def _engine_bytes(data: bytes) -> Callable[[Path], dict]:
    def make(folder: Path) -> dict:
        (folder / "layers.json").write_bytes(data)
        _save(folder, example(), "example.onnx")
        return {"e": "layers.json"}
    return make


def _engine_fifo(folder: Path) -> dict:
    os.mkfifo(folder / "layers.json")
    _save(folder, example(), "example.onnx")
    return {"e": "layers.json"}


def _rules(text: str) -> Callable[[Path], dict]:
    def make(folder: Path) -> dict:
        (folder / "rules.toml").write_text(text)
        return _save(folder, example())
    return make


RULES_HEAD = '[target]\nname = "mine"\n'
LAYERS = {"Layers": [{"Name": "conv", "LayerType": "CaskConvolution"}], "Bindings": ["x"]}
LONG = "a" * 300 + ".onnx"

CASES = (
    # --- models that are not models ---
    Case("empty-model", "an empty .onnx file", _write("m.onnx", b""), MODEL_COMMANDS, "m.onnx: empty file"),
    Case("truncated-model", "half of an .onnx file", _truncated, MODEL_COMMANDS, "m.onnx: not a readable ONNX"),
    Case("text-model", "a text file named .onnx", _write("m.onnx", b"hello\n"), MODEL_COMMANDS, "m.onnx: not a"),
    Case("folder-model", "a folder where a model is expected", _folder_model, MODEL_COMMANDS, "m.onnx: is a folder"),
    Case("missing-model", "a model that does not exist", lambda f: {"m": "gone.onnx"}, MODEL_COMMANDS, "gone.onnx"),
    Case("fifo-model", "a named pipe given as the model", _fifo, MODEL_COMMANDS, "not a regular file"),
    Case("unicode-name", "an empty model whose name has spaces and accents", _named("mödel ünï.onnx"),
         MODEL_COMMANDS, "mödel ünï.onnx: empty file"),
    Case("newline-name", "an empty model whose name holds a newline", _named("bad\nname.onnx"),
         MODEL_COMMANDS, "bad\\nname.onnx"),
    # --- numbers no quantizer can have ---
    Case("nan-scale", "a NaN scale", _with_scale(float("nan")), MODEL_COMMANDS, "its scale is NaN"),
    Case("inf-scale", "an infinite scale", _with_scale(float("inf")), MODEL_COMMANDS, "its scale is infinite"),
    Case("zero-scale", "a zero scale", _with_scale(0.0), MODEL_COMMANDS, "its scale is zero"),
    Case("negative-scale", "a negative scale", _with_scale(-0.05), MODEL_COMMANDS, "its scale is negative"),
    Case("denormal-scale", "a denormal scale", _with_scale(1e-40), MODEL_COMMANDS, "is denormal"),
    Case("zero-point-length", "a zero point whose raw data has the wrong length", _zero_point_of_wrong_length,
         MODEL_COMMANDS, "its data cannot be read"),
    # --- graphs that are not valid ---
    Case("dangling-input", "a node reading a tensor nothing writes", _graph_edit(_dangling), MODEL_COMMANDS,
         "m.onnx: the model is not a valid ONNX graph"),
    Case("cycle", "nodes out of order (a cycle)", _graph_edit(_cycle), MODEL_COMMANDS,
         "m.onnx: the model is not a valid ONNX graph"),
    Case("duplicate-output", "two nodes writing one tensor", _graph_edit(_duplicate_output), MODEL_COMMANDS,
         "is written twice"),
    Case("opset-9", "Q/DQ in an opset-9 model", _graph_edit(_opset(9)), MODEL_COMMANDS, "needs opset 10"),
    Case("opset-future", "an opset newer than onnx knows", _graph_edit(_opset(99)), MODEL_COMMANDS,
         "opset 99 is newer"),
    Case("ir-99", "IR version 99", _graph_edit(_ir_version), MODEL_COMMANDS, "IR version 99"),
    # --- output paths that must not be written ---
    Case("out-dotdot-input", "-o naming the input through a folder that does not exist", _model_and(lambda f: None),
         (("merge", "{m}", "-o", "sub/../m.onnx"), ("merge", "{m}", "-o", "./sub/../m.onnx", "--no-verify")),
         "would overwrite the input"),
    Case("out-hard-link", "-o a hard link to the input", _model_and(_hard_link),
         (("merge", "{m}", "-o", "link.onnx"),), "would overwrite the input"),
    Case("out-symlink", "-o a symbolic link", _model_and(_symlink), (("merge", "{m}", "-o", "link.onnx"),),
         "is a symbolic link"),
    Case("out-folder", "-o an existing folder", _model_and(_subfolder), (("merge", "{m}", "-o", "existing"),),
         "existing: is a folder"),
    Case("out-folder-html", "report -o an existing folder", _model_and(_subfolder),
         (("report", "{m}", "-o", "existing"),), "File 'existing' is a directory"),
    Case("out-under-file", "-o inside something that is a file", _model_and(_a_file),
         (("merge", "{m}", "-o", "afile/out.onnx"), ("inspect", "{m}", "-o", "afile/x.txt")), "is a file, not a"),
    Case("out-build-file", "build -o naming a file", _model_and(_a_file),
         (("build", "{m}", "--backend", "trt-sim", "-o", "afile"),), "Directory 'afile' is a file"),
    Case("out-proc", "-o into /proc", _model_and(lambda f: None), (("merge", "{m}", "-o", "/proc/qdqtool.onnx"),),
         "cannot write in /proc"),
    Case("out-device", "-o a character device", _model_and(lambda f: None),
         (("merge", "{m}", "-o", "/dev/null", "--no-verify"),), "not a regular file"),
    Case("out-too-long", "-o a name longer than the file system allows", _model_and(lambda f: None),
         (("merge", "{m}", "-o", LONG),), "longer than the file system allows"),
    Case("out-external-data", "-o the input's own external-data file", _external_data,
         (("merge", "{m}", "-o", "a.onnx.data", "--no-verify"),), "would overwrite the input a.onnx.data"),
    Case("inspect-over-input", "inspect X -o X", _engine(LAYERS), (("inspect", "{e}", "-o", "{e}"),),
         "would overwrite the input"),
    # --- engine JSON that is not ---
    Case("corrupt-json", "a JSON file cut short", _engine_bytes(b'{"Layers": [{"Name": '), ENGINE_COMMANDS,
         "layers.json: not JSON"),
    Case("binary-json", "binary bytes named .json", _engine_bytes(b"\x00\x01\x02\x03garbage"), ENGINE_COMMANDS,
         "layers.json: binary file, not JSON"),
    Case("empty-json", "an empty .json", _engine_bytes(b""), ENGINE_COMMANDS, "layers.json: empty file"),
    Case("profile-as-layers", "a profile given where layer information is expected",
         _engine([{"count": 3}, {"name": "conv", "averageMs": 1.0}]), ENGINE_COMMANDS, "per-layer profile"),
    Case("layers-not-a-list", '"Layers" holding a string', _engine({"Layers": "conv"}), ENGINE_COMMANDS,
         '"Layers" is a str'),
    Case("fifo-json", "a named pipe given as engine JSON", _engine_fifo, ENGINE_COMMANDS, "not a regular file"),
    # --- rules and options ---
    Case("rules-bad-when", "a [rule.when] condition that is not a number",
         _rules(RULES_HEAD + '[[rule]]\nid = "r"\nops = ["Resize"]\n[rule.when.Resize]\ninput1 = "x"\n'),
         (("analyze", "{m}", "--target", "rules.toml"),), "must be a number (the constant input's value)"),
    Case("rules-unknown-key", "a misspelt key in a rules file", _rules(RULES_HEAD + "max_scale_raito = 4\n"),
         (("analyze", "{m}", "--target", "rules.toml"),), "unknown key 'max_scale_raito'; did you mean"),
    Case("ratio-nan", "--max-scale-ratio nan", _model_and(lambda f: None),
         (("analyze", "{m}", "--max-scale-ratio", "nan"), ("merge", "{m}", "--max-scale-ratio", "nan")),
         "not a finite number"),
    Case("shape-too-large", "--input-shape far too large", _model_and(lambda f: None),
         (("merge", "{m}", "--input-shape", "images:1x3x100000000x100000000"),), "too large"),
)


def readme_rows() -> list[str]:
    """The README table's rows (test_catalogue checks the README holds them)."""
    rows = []
    for case in CASES:
        commands = ", ".join(dict.fromkeys(c[0] for c in case.commands))
        says = case.says.replace("|", "\\|")
        rows.append(f"| `{case.id}` | {case.what} | {commands} | exit 2: `…{says}…` |")
    return rows
