"""``qdqtool check`` configuration: ``qdqtool.toml`` beside the model, else ``[tool.qdqtool]`` of the nearest
``pyproject.toml`` above it. The command line wins over both.

    # qdqtool.toml (the same keys go under [tool.qdqtool] in pyproject.toml)
    target = "tensorrt"
    fail-on = "warning"                 # error | warning | never
    baseline = "ci/qdq-baseline.json"   # relative to this file
    max-latency-regression = "3%"
    max-qdq-layers = 2

    [rules.QDQ103]                      # a rule id or name
    severity = "error"
    [rules.reformat-time-share]
    max-share = 5.0                     # a rule option
    [rules.QDQ113]
    enabled = false

    [[waive]]                           # by node (or engine layer) name; shell-style patterns allowed
    rule = "QDQ101"
    nodes = ["/model/head/Concat_3"]
    reason = "box and class branches: one scale would clip the class scores (accepted 2024-05, #42)"
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from qdqtool.errors import BadInputError
from qdqtool.gate.registry import Severity, find_rule
from qdqtool.gate.waivers import Waiver
from qdqtool.io.config import config_table

FAIL_ON = ("error", "warning", "never")
_KEYS = ("target", "fail-on", "baseline", "max-latency-regression", "max-qdq-layers", "max-scale-ratio", "rules",
         "waive", "preprocess")  # [preprocess] is read by the input data sets (qdqtool.io.data)


@dataclass
class RuleSettings:
    """Per-rule settings from the config; None means "the rule's default"."""

    enabled: bool | None = None
    severity: Severity | None = None
    options: dict[str, object] = field(default_factory=dict)


@dataclass
class CheckConfig:
    """The parsed configuration (all values optional)."""

    source: Path | None = None
    target: str | None = None
    fail_on: str | None = None
    baseline: Path | None = None
    max_latency_regression: float | None = None
    max_qdq_layers: int | None = None
    max_scale_ratio: float | None = None
    rules: dict[str, RuleSettings] = field(default_factory=dict)  # by rule id
    waivers: list[Waiver] = field(default_factory=list)


def parse_percent(value: object, where: str) -> float:
    """``"3%"``, ``"3"`` or ``3`` -> 3.0 (percent)."""
    text = str(value).strip().rstrip("%").strip()
    try:
        number = float(text)
    except ValueError:
        raise BadInputError(f"{where}: {value!r} is not a percentage (write it like 3% or 2.5)") from None
    if number < 0:
        raise BadInputError(f"{where}: {value!r} must not be negative")
    return number


def load_config(path: Path | None) -> CheckConfig:
    """Parse a config file (``qdqtool.toml`` or a ``pyproject.toml``); an empty config for None."""
    if path is None:
        return CheckConfig()
    data, where = config_table(path)
    return _parse(data, path, where)


def _unknown(key: str, known: tuple[str, ...], where: str) -> BadInputError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
    return BadInputError(f"{where}: unknown key {key!r}{hint}")


def _parse(data: dict, path: Path, where: str) -> CheckConfig:
    for key in data:
        if key not in _KEYS:
            raise _unknown(key, _KEYS, where)
    config = CheckConfig(source=path)
    if "target" in data:
        config.target = str(data["target"])
    if "fail-on" in data:
        if data["fail-on"] not in FAIL_ON:
            raise BadInputError(f"{where}: fail-on = {data['fail-on']!r} is not one of {', '.join(FAIL_ON)}")
        config.fail_on = data["fail-on"]
    if "baseline" in data:
        config.baseline = path.parent / str(data["baseline"])
    if "max-latency-regression" in data:
        config.max_latency_regression = parse_percent(data["max-latency-regression"], f"{where} max-latency-regression")
    for key, attr, kind in (("max-qdq-layers", "max_qdq_layers", int), ("max-scale-ratio", "max_scale_ratio", float)):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise BadInputError(f"{where}: {key} = {value!r} must be a non-negative number")
            setattr(config, attr, kind(value))
    rules = data.get("rules", {})
    if not isinstance(rules, dict):
        raise BadInputError(f"{where}: `rules` must be a table of rule tables ([rules.QDQ101])")
    for key, raw in rules.items():
        rule = find_rule(key)
        config.rules[rule.id] = _rule_settings(raw, rule, f"{where} rules.{key}")
    waivers = data.get("waive", [])
    if not isinstance(waivers, list):
        raise BadInputError(f"{where}: `waive` must be an array of tables ([[waive]])")
    for i, raw in enumerate(waivers, 1):
        config.waivers.append(_waiver(raw, f"{where} waive #{i}"))
    return config


def _rule_settings(raw: object, rule, where: str) -> RuleSettings:
    if not isinstance(raw, dict):
        raise BadInputError(f"{where}: must be a table (enabled, severity, options)")
    settings = RuleSettings()
    known = ("enabled", "severity", *(name for name, _, _ in rule.options))
    for key, value in raw.items():
        if key == "enabled":
            if not isinstance(value, bool):
                raise BadInputError(f"{where}: enabled = {value!r} must be true or false")
            settings.enabled = value
        elif key == "severity":
            settings.severity = Severity.parse(value, where)
        elif key in known:
            settings.options[key] = value
        else:
            raise _unknown(key, known, where)
    return settings


def _waiver(raw: object, where: str) -> Waiver:
    if not isinstance(raw, dict):
        raise BadInputError(f"{where}: must be a table with rule, nodes and reason")
    for key in raw:
        if key not in ("rule", "nodes", "reason"):
            raise _unknown(key, ("rule", "nodes", "reason"), where)
    if "rule" not in raw:
        raise BadInputError(f"{where}: give the `rule` it waives (an id such as QDQ101)")
    nodes = raw.get("nodes")
    if isinstance(nodes, str):
        nodes = [nodes]
    if not nodes or not all(isinstance(n, str) and n for n in nodes):
        raise BadInputError(f"{where}: give `nodes`, a list of node (or engine layer) names")
    reason = str(raw.get("reason", "")).strip()
    if not reason:
        raise BadInputError(f"{where}: a waiver needs a `reason` (why the finding is accepted)")
    return Waiver(rule=find_rule(str(raw["rule"])).id, nodes=tuple(nodes), reason=reason, source=where)
