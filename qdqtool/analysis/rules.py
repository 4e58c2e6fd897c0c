"""Backend rule files (``rules/<target>.toml``): which tensors a backend needs quantized alike.

The rules are data: an op or a whole rule is added in the TOML file, not here. This module only reads and
validates the file and answers "does this rule apply to this node?".

    >>> rules = load_rules("tensorrt")
    >>> assert rules.rule("concat").applies_to(concat_node, index)
"""

from __future__ import annotations

import difflib
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from qdqtool.errors import BadInputError
from qdqtool.ir.index import DEFAULT_DOMAINS, GraphIndex

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_TARGET = "tensorrt"
TENSOR_RULE_KINDS = ("several-q-readers", "dq-then-q")
_REQUIRES = ("", "all-inputs-quantized")


@dataclass
class Condition:
    """Attribute and constant-input conditions for one op type."""

    attrs: dict[str, object] = field(default_factory=dict)
    const_inputs: dict[int, float] = field(default_factory=dict)

    def holds(self, node: onnx.NodeProto, index: GraphIndex) -> bool:
        for name, accepted in self.attrs.items():
            value = _attribute_or_default(node, name, index.opset)
            options = accepted if isinstance(accepted, list) else [accepted]
            if not any(_same(value, option) for option in options):
                return False
        for i, expected in self.const_inputs.items():
            if len(node.input) <= i or not node.input[i]:
                continue  # absent input: ONNX's default (zero padding value) applies
            value = index.const_array(node.input[i])
            if value is None or not np.all(value == expected):
                return False
        return True


@dataclass
class Rule:
    """One [[rule]] of a rules file."""

    id: str
    why: str
    ops: tuple[str, ...] = ()
    inputs: str | tuple[int, ...] = "all"
    outputs: str | tuple[int, ...] = "all"
    require: str = ""
    tensor: str = ""  # for tensor rules (ops = [])
    when: dict[str, Condition] = field(default_factory=dict)

    def applies_to(self, node: onnx.NodeProto, index: GraphIndex) -> bool:
        if node.op_type not in self.ops or node.domain not in DEFAULT_DOMAINS:
            return False
        condition = self.when.get(node.op_type)
        return condition is None or condition.holds(node, index)

    def applies_at(self, index: GraphIndex, position: int) -> bool:
        """:meth:`applies_to` for the node at ``position``, read from the index (the node only for conditions)."""
        op = index.ops[position]
        if op not in self.ops or index.domains[position] not in DEFAULT_DOMAINS:
            return False
        return op not in self.when or self.applies_to(index.node_at(position), index)

    def selected_inputs(self, names: list[str], index: GraphIndex) -> list[str]:
        """The inputs (of a node's input names) this rule joins: the selected ones that are neither constants nor
        dequantized constants (one DQ of a shared constant would join every op reading it into one group)."""
        if self.inputs != "all":
            names = [names[i] for i in self.inputs if i < len(names)]
        is_fixed = index.is_fixed
        return [n for n in names if n and not is_fixed(n)]

    def selected_outputs(self, names: list[str]) -> list[str]:
        """The outputs (of a node's output names) this rule joins."""
        if self.outputs != "all":
            names = [names[i] for i in self.outputs if i < len(names)]
        return [n for n in names if n]


@dataclass
class RuleSet:
    """A parsed rules file."""

    name: str
    description: str
    path: Path
    symmetric: bool
    max_scale_ratio: float
    weighted_ops: tuple[str, ...]
    quantized_ops: tuple[str, ...]  # other ops the target runs quantized (with weighted_ops: sensitivity's layers)
    look_through: Rule
    rules: list[Rule]
    placement: dict[str, object]
    predictor: dict | None = None  # the [predictor] table, read by qdqtool.engine.predictor (None: no predictor)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    @property
    def op_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.ops]

    def tensor_rule(self, kind: str) -> Rule | None:
        return next((r for r in self.rules if r.tensor == kind), None)


def available_targets() -> list[str]:
    """Names of the rules files shipped with qdqtool."""
    return sorted(p.name[: -len(".toml")] for p in _rules_dir().iterdir() if p.name.endswith(".toml"))


def load_rules(target: str | None = None) -> RuleSet:
    """Load a shipped target by name (``tensorrt``, ``onnxruntime-cpu``) or a rules file by path.

    Args:
        target (str): Target name or path to a ``.toml`` file. Defaults to ``tensorrt``.
    """
    target = target or DEFAULT_TARGET
    path = Path(target)
    if not (target.endswith(".toml") or path.exists()):
        path = _rules_dir() / f"{target}.toml"
        if not path.exists():
            raise BadInputError(
                f"unknown target {target!r}: choose one of {', '.join(available_targets())} or give a rules .toml file"
            )
    if not path.is_file():
        raise BadInputError(f"{path}: no such rules file" if not path.exists() else f"{path}: not a rules .toml file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as err:
        raise BadInputError(f"{path}: not a valid TOML rules file: {err}") from None
    return _parse(data, path)


def _rules_dir() -> Path:
    # qdqtool/rules is a link to the repository's top-level rules/ (installed as a plain folder)
    return Path(__file__).parent.parent / "rules"


def _parse(data: dict, path: Path) -> RuleSet:
    def fail(msg: str) -> BadInputError:
        return BadInputError(f"{path}: {msg}")

    _known_keys(data, _TOP_KEYS, "the file", fail)
    target = data.get("target")
    if not isinstance(target, dict) or "name" not in target:
        raise fail("missing [target] table with a `name`")
    _known_keys(target, _TARGET_KEYS, "[target]", fail)
    if isinstance(data.get("look_through"), dict):
        _known_keys(data["look_through"], _LOOK_THROUGH_KEYS, "[look_through]", fail)
    rules = []
    for i, raw in enumerate(data.get("rule", [])):
        rules.append(_parse_rule(raw, f"rule #{i + 1}", fail))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise fail(f"duplicate rule ids in {ids}")
    look_through = parse_op_set(data.get("look_through", {}), "look-through", "[look_through]", path,
                                "float-only op between a DQ and a Q")
    try:
        ratio = float(target.get("max_scale_ratio", 16.0))
    except (TypeError, ValueError):
        raise fail("target.max_scale_ratio must be a number") from None
    if not 1.0 <= ratio < math.inf:  # NaN fails too
        raise fail(f"target.max_scale_ratio must be a finite number of at least 1, not {ratio}")
    return RuleSet(
        name=str(target["name"]),
        description=str(target.get("description", "")),
        path=path,
        symmetric=bool(target.get("symmetric", False)),
        max_scale_ratio=ratio,
        weighted_ops=tuple(target.get("weighted_ops", ["Conv", "ConvTranspose", "Gemm", "MatMul"])),
        quantized_ops=tuple(target.get("quantized_ops", [])),
        look_through=look_through,
        rules=rules,
        placement=dict(data.get("placement", {})),
        predictor=data["predictor"] if isinstance(data.get("predictor"), dict) else None,
    )


def parse_op_set(table: object, rule_id: str, where: str, path: Path, why: str) -> Rule:
    """A table of ``ops`` (with ``inputs`` and ``[when.<Op>]`` conditions as in a [[rule]]) read as one rule whose
    input 0 carries the data: look-through ops, and the predictor's commuting ops.

    Args:
        table (object): The TOML table.
        rule_id (str): The id the rule gets.
        where (str): The table's place in the file, for messages (``[look_through]``).
        path (Path): The rules file, for messages.
        why (str): The rule's one-line explanation.
    """
    if not isinstance(table, dict):
        raise BadInputError(f"{path}: {where} must be a table")
    raw = {"id": rule_id, "ops": table.get("ops", []), "inputs": table.get("inputs", [0]), "outputs": [0],
           "when": table.get("when", {}), "why": why}
    return _parse_rule(raw, where, lambda msg: BadInputError(f"{path}: {msg}"))


_TOP_KEYS = ("target", "rule", "look_through", "placement", "predictor")
_TARGET_KEYS = ("name", "description", "symmetric", "max_scale_ratio", "weighted_ops", "quantized_ops")
_RULE_KEYS = ("id", "why", "ops", "inputs", "outputs", "require", "tensor", "when")
_LOOK_THROUGH_KEYS = ("ops", "inputs", "when")


def _known_keys(table: dict, known: tuple[str, ...], where: str, fail) -> None:
    """A key this reader does not know is a typo until proven otherwise (qdqtool.toml says the same)."""
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
            raise fail(f"{where}: unknown key {key!r}{hint}")


def _parse_rule(raw: dict, where: str, fail) -> Rule:
    if not isinstance(raw, dict) or "id" not in raw:
        raise fail(f"{where}: every rule needs an `id`")
    rid = str(raw["id"])
    if not where.startswith("["):
        _known_keys(raw, _RULE_KEYS, f"rule {rid!r}", fail)
    ops = raw.get("ops", [])
    if not isinstance(ops, list) or not all(isinstance(o, str) for o in ops):
        raise fail(f"rule {rid!r}: `ops` must be a list of op type names")
    tensor = str(raw.get("tensor", ""))
    if not ops and tensor not in TENSOR_RULE_KINDS and not where.startswith("["):
        raise fail(f"rule {rid!r}: give `ops`, or `tensor` = one of {', '.join(TENSOR_RULE_KINDS)}")
    require = str(raw.get("require", ""))
    if require not in _REQUIRES:
        raise fail(f"rule {rid!r}: `require` must be one of {', '.join(r for r in _REQUIRES if r)}")
    when = {}
    conditions = raw.get("when", {})
    if not isinstance(conditions, dict):
        raise fail(f"rule {rid!r}: `when` must be a table of [when.<Op>] tables")
    for op, conds in conditions.items():
        if not isinstance(conds, dict):
            raise fail(f"rule {rid!r}: `when.{op}` must be a table")
        cond = Condition()
        for key, value in conds.items():
            if key.startswith("input") and key[5:].isdigit():
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                    raise fail(f"rule {rid!r}: `when.{op}.{key}` must be a number (the constant input's value), "
                               f"not {value!r}")
                cond.const_inputs[int(key[5:])] = float(value)
            elif isinstance(value, (str, int, float, bool)) or (
                    isinstance(value, list) and all(isinstance(v, (str, int, float, bool, list)) for v in value)):
                cond.attrs[key] = value
            else:
                raise fail(f"rule {rid!r}: `when.{op}.{key}` must be a value or a list of accepted values")
        when[op] = cond
    return Rule(
        id=rid, why=" ".join(str(raw.get("why", "")).split()), ops=tuple(ops),
        inputs=_selection(raw.get("inputs", "all"), rid, "inputs", fail),
        outputs=_selection(raw.get("outputs", "all"), rid, "outputs", fail),
        require=require, tensor=tensor, when=when,
    )


def _selection(value, rid: str, key: str, fail) -> str | tuple[int, ...]:
    if value == "all":
        return "all"
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return tuple(value)
    raise fail(f"rule {rid!r}: `{key}` must be \"all\" or a list of indices")


def _attribute_or_default(node: onnx.NodeProto, name: str, opset: int):
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    try:  # ONNX's own default for the attribute, at the model's opset
        schema = onnx.defs.get_schema(node.op_type, opset or onnx.defs.onnx_opset_version())
        default = schema.attributes[name].default_value
        if default.type == onnx.AttributeProto.UNDEFINED:
            return None
        value = onnx.helper.get_attribute_value(default)
        return value.decode() if isinstance(value, bytes) else value
    except (KeyError, onnx.defs.SchemaError):
        return None


def _same(value, option) -> bool:
    if isinstance(option, str) and isinstance(value, int):  # dtype names for Cast `to`
        return onnx.TensorProto.DataType.Name(value) == option if value in onnx.TensorProto.DataType.values() else False
    if isinstance(option, (int, float)) and isinstance(value, (int, float)):
        return float(value) == float(option)
    return value == option
