"""What the predictor knows about TensorRT: the ``[predictor]`` table of the target's rules file (``tensorrt.toml``).

The table stands alone: its op lists (weighted, residual-Add, quantizable, pointwise ... ops) and its commuting,
Concat and look-through ops (``[predictor.commute]``, ``[predictor.concat]``, ``[predictor.look_through]``, with
``when`` conditions as in a ``[[rule]]``) are its own, so the grouping rules of the same file can change without
changing a prediction. Each key is commented there with its source.

    >>> config = PredictorRules.from_rules(load_rules("tensorrt"))
    >>> assert "Conv" in config.weighted_ops and config.commuting_rule(maxpool_node, index) is not None
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from qdqtool.analysis.rules import Rule, RuleSet, parse_op_set
from qdqtool.errors import BadInputError
from qdqtool.ir.index import GraphIndex

FLOAT_PRECISIONS = ("onnx", "fp16", "fp32")
# What each float precision predicts, as `build` names the mode (--strongly-typed / --no-strongly-typed).
BUILD_MODES = {
    "onnx": "strongly typed (TensorRT 11, or TensorRT 10 --stronglyTyped): float layers in the model's own types",
    "fp16": "weakly typed INT8 + FP16 (TensorRT 10 --int8 --fp16): float layers in FP16",
    "fp32": "weakly typed INT8 only (TensorRT 10 --int8): float layers in FP32",
}


def _flag(table: dict, key: str, path: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise BadInputError(f"{path}: predictor.foreign.{key} must be true or false")
    return value


def _names(table: dict, key: str, path: str) -> frozenset[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInputError(f"{path}: predictor.foreign.{key} must be a list of names")
    return frozenset(value)


@dataclass(frozen=True)
class PredictorRules:
    """The predictor's view of one rules file."""

    target: str
    commute: Rule
    concat: Rule
    look_through: Rule
    weighted_ops: frozenset[str]
    residual_add_ops: frozenset[str]
    quantizable_ops: frozenset[str]
    pointwise_ops: frozenset[str]
    conv_builtin_activations: frozenset[str]
    conv_pool_ops: frozenset[str]
    conv_pool_precisions: frozenset[str]
    noop_ops: frozenset[str]
    float_precision: str
    int8_epilogue_apart_before: frozenset[str] = frozenset()
    pointwise_joins_ops: frozenset[str] = frozenset()
    q_stays_after_ops: frozenset[str] = frozenset()
    foreign_anchor_ops: frozenset[str] = frozenset()
    foreign_ops: frozenset[str] = frozenset()
    foreign_quantized: bool = False

    @classmethod
    def from_rules(cls, rules: RuleSet, float_precision: str | None = None) -> PredictorRules:
        """Read the ``[predictor]`` table of ``rules``' file.

        Args:
            rules (RuleSet): A loaded rules file (``load_rules("tensorrt")``); only its ``predictor`` table is read.
            float_precision (str): ``"onnx"``, ``"fp16"`` or ``"fp32"``. Defaults to the file's value.
        """
        table = rules.predictor
        if table is None:
            raise BadInputError(
                f"{rules.path}: no [predictor] table; the TensorRT predictor needs one (see rules/tensorrt.toml)"
            )

        def ops(key: str) -> frozenset[str]:
            value = table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise BadInputError(f"{rules.path}: predictor.{key} must be a list of names")
            return frozenset(value)

        def op_set(key: str, why: str) -> Rule:
            return parse_op_set(table.get(key, {}), f"predictor-{key}", f"[predictor.{key}]", rules.path, why)

        foreign = table.get("foreign", {})
        if not isinstance(foreign, dict):
            raise BadInputError(f"{rules.path}: [predictor.foreign] must be a table")
        precision = float_precision or str(table.get("float_precision", "onnx"))
        if precision not in FLOAT_PRECISIONS:
            raise BadInputError(f"float precision {precision!r}: choose one of {', '.join(FLOAT_PRECISIONS)}")
        return cls(
            target=rules.name,
            commute=op_set("commute", "Q/DQ propagate across it"),
            concat=op_set("concat", "TensorRT writes every input into one buffer"),
            look_through=op_set("look_through", "float-only op Q/DQ move across"),
            weighted_ops=ops("weighted_ops"),
            residual_add_ops=ops("residual_add_ops"),
            quantizable_ops=ops("quantizable_ops"),
            pointwise_ops=ops("pointwise_ops"),
            conv_builtin_activations=ops("conv_builtin_activations"),
            conv_pool_ops=ops("conv_pool_ops"),
            conv_pool_precisions=ops("conv_pool_precisions"),
            noop_ops=ops("noop_ops"),
            float_precision=precision,
            int8_epilogue_apart_before=ops("int8_epilogue_apart_before"),
            pointwise_joins_ops=ops("pointwise_joins_ops"),
            q_stays_after_ops=ops("q_stays_after_ops"),
            foreign_anchor_ops=_names(foreign, "anchors", rules.path),
            foreign_ops=_names(foreign, "ops", rules.path),
            foreign_quantized=_flag(foreign, "quantized", rules.path),
        )

    @property
    def build_mode(self) -> str:
        """The TensorRT build this configuration predicts, in words."""
        return BUILD_MODES[self.float_precision]

    def commuting_rule(self, node: onnx.NodeProto, index: GraphIndex) -> Rule | None:
        """The rule by which Q/DQ move across ``node`` (a look-through op counts), or None."""
        for rule in (self.look_through, self.commute):
            if rule.applies_to(node, index):
                return rule
        return None

    def is_concat(self, node: onnx.NodeProto, index: GraphIndex) -> bool:
        return self.concat.applies_to(node, index)
