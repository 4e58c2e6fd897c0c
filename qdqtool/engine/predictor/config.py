"""What the predictor knows about TensorRT, read from the target's rules file (``[predictor]`` of ``tensorrt.toml``).

Op lists are data: the commuting ops are those of the rules named in ``commute_rules`` (with their ``when``
conditions), the weighted ops come from ``[target].weighted_ops``, the ops a residual Add may be fused as come from
``[placement].residual_add_ops``; the rest is the ``[predictor]`` table, each key commented there with its source.

    >>> config = PredictorRules.from_rules(load_rules("tensorrt"))
    >>> assert "Conv" in config.weighted_ops and config.commutes(maxpool_node, index)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import onnx

from qdqtool.analysis.rules import Rule, RuleSet
from qdqtool.errors import BadInputError
from qdqtool.ir.index import GraphIndex

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FLOAT_PRECISIONS = ("onnx", "fp16", "fp32")


@dataclass(frozen=True)
class PredictorRules:
    """The predictor's view of one rules file."""

    target: str
    commute: tuple[Rule, ...]
    concat: tuple[Rule, ...]
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

    @classmethod
    def from_rules(cls, rules: RuleSet, float_precision: str | None = None) -> PredictorRules:
        """Read the ``[predictor]`` table of ``rules``' file.

        Args:
            rules (RuleSet): A loaded rules file (``load_rules("tensorrt")``).
            float_precision (str): ``"onnx"``, ``"fp16"`` or ``"fp32"``. Defaults to the file's value.
        """
        try:
            table = tomllib.loads(rules.path.read_text(encoding="utf-8")).get("predictor")
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise BadInputError(f"{rules.path}: cannot read the [predictor] table: {err}") from None
        if not isinstance(table, dict):
            raise BadInputError(
                f"{rules.path}: no [predictor] table; the TensorRT predictor needs one (see rules/tensorrt.toml)"
            )

        def ops(key: str) -> frozenset[str]:
            value = table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise BadInputError(f"{rules.path}: predictor.{key} must be a list of names")
            return frozenset(value)

        def named_rules(key: str) -> tuple[Rule, ...]:
            found = []
            for rule_id in sorted(ops(key)):
                try:
                    found.append(rules.rule(rule_id))
                except KeyError:
                    raise BadInputError(f"{rules.path}: predictor.{key} names an unknown rule {rule_id!r}") from None
            return tuple(found)

        precision = float_precision or str(table.get("float_precision", "onnx"))
        if precision not in FLOAT_PRECISIONS:
            raise BadInputError(f"float precision {precision!r}: choose one of {', '.join(FLOAT_PRECISIONS)}")
        return cls(
            target=rules.name,
            commute=named_rules("commute_rules"),
            concat=named_rules("concat_rules"),
            look_through=rules.look_through,
            weighted_ops=frozenset(rules.weighted_ops),
            residual_add_ops=frozenset(rules.placement.get("residual_add_ops", [])),
            quantizable_ops=ops("quantizable_ops"),
            pointwise_ops=ops("pointwise_ops"),
            conv_builtin_activations=ops("conv_builtin_activations"),
            conv_pool_ops=ops("conv_pool_ops"),
            conv_pool_precisions=ops("conv_pool_precisions"),
            noop_ops=ops("noop_ops"),
            float_precision=precision,
        )

    def commuting_rule(self, node: onnx.NodeProto, index: GraphIndex) -> Rule | None:
        """The rule by which Q/DQ move across ``node`` (a look-through op counts), or None."""
        if self.look_through.applies_to(node, index):
            return self.look_through
        return next((r for r in self.commute if r.applies_to(node, index)), None)

    def is_concat(self, node: onnx.NodeProto, index: GraphIndex) -> bool:
        return any(r.applies_to(node, index) for r in self.concat)
