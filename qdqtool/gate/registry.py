"""The lint rule registry: every ``qdqtool check`` rule has a stable id, a name, a severity and its documentation.

A rule is a function registered with :func:`register`; it reads a :class:`~qdqtool.gate.context.LintContext`
and yields :class:`Hit` objects (or raises :class:`Skip` when it cannot run, e.g. no engine was given). Ids never
change meaning: ``QDQ1xx`` read the ONNX model, ``QDQ2xx`` the engine report, ``QDQ3xx`` compare with a baseline,
``QDQ9xx`` are about the check itself.

    >>> rule = find_rule("concat-scale-mismatch")
    >>> assert rule.id == "QDQ101" and find_rule("qdq101") is rule
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from qdqtool.errors import BadInputError, InternalError

SIDES = ("onnx", "engine", "baseline", "meta")  # also the order rules run in
_RULE_MODULES = ("onnx_rules", "engine_rules", "baseline_rules", "meta_rules")


class Severity(str, Enum):
    """How bad a finding is; ``--fail-on`` picks the lowest severity that fails the gate."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]

    @classmethod
    def parse(cls, value: object, where: str) -> Severity:
        try:
            return cls(str(value).lower())
        except ValueError:
            raise BadInputError(f"{where}: severity {value!r} is not one of error, warning, info") from None


class Skip(Exception):
    """Raised by a rule that cannot run on this input; the message says why (and what would make it run)."""


@dataclass
class Hit:
    """One problem a rule found, before configuration (severity, waivers, baseline) is applied.

    ``nodes`` are ONNX node names, the first being where the problem is (for waivers and SARIF locations).
    """

    message: str
    nodes: tuple[str, ...] = ()
    group: str | None = None
    layer: str | None = None  # engine layer name, for engine-side rules
    key: str | None = None  # what identifies the problem across runs when nodes do not (a metric name)


@dataclass(frozen=True)
class LintRule:
    """A registered rule and its documentation (shown by ``qdqtool rules``)."""

    id: str
    name: str
    side: str
    severity: Severity
    summary: str  # one line: what is wrong
    explanation: str  # why it matters
    fix: str  # what to do
    check: Callable[..., Iterable[Hit]] = field(repr=False, compare=False)
    options: tuple[tuple[str, object, str], ...] = ()  # (name, default, help)

    @property
    def label(self) -> str:
        return f"{self.id} {self.name}"

    def default_options(self) -> dict[str, object]:
        return {name: default for name, default, _ in self.options}


@dataclass
class Violation:
    """A finding of ``qdqtool check``: a hit with its effective severity, waiver and baseline state."""

    rule: LintRule
    severity: Severity
    message: str
    nodes: tuple[str, ...] = ()
    group: str | None = None
    layer: str | None = None
    key: str | None = None
    waived: str | None = None  # the waiver's reason
    waived_by: str | None = None  # where the waiver was written
    baselined: bool = False  # the same finding is in the baseline

    @property
    def where(self) -> str:
        """The node (or engine layer) the finding is anchored at, for one-line displays."""
        if self.layer:
            return self.layer
        return self.nodes[0] if self.nodes else ""

    @property
    def fingerprint(self) -> str:
        """Stable across runs: rule id plus the node names (or layer / metric); group ids are not used."""
        parts = [self.rule.id, self.key or "", self.layer or "", *sorted(self.nodes)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]

    def gates(self, fail_on: str) -> bool:
        """True when this finding fails the gate at ``fail_on`` (``error``, ``warning`` or ``never``)."""
        if self.waived is not None or self.baselined or fail_on == "never":
            return False
        return self.severity.rank >= Severity(fail_on).rank


_REGISTRY: dict[str, LintRule] = {}


def register(
    id: str,
    name: str,
    side: str,
    severity: Severity,
    summary: str,
    explanation: str,
    fix: str,
    options: tuple[tuple[str, object, str], ...] = (),
) -> Callable[[Callable[..., Iterable[Hit]]], Callable[..., Iterable[Hit]]]:
    """Register a rule function under a stable id (the ``Graph.register`` idea). Returns the function unchanged.

    Args:
        id (str): ``QDQ`` + three digits; never reused for another meaning.
        name (str): kebab-case name, also accepted wherever an id is.
        side (str): one of ``SIDES``.
        severity (Severity): Default severity (configurable per rule).
        summary, explanation, fix (str): The documentation ``qdqtool rules`` prints.
        options (tuple): ``(name, default, help)`` of the rule's options (set in the config file).
    """
    if side not in SIDES:
        raise InternalError(f"rule {id}: side {side!r} is not one of {SIDES}")

    def decorate(fn: Callable[..., Iterable[Hit]]) -> Callable[..., Iterable[Hit]]:
        if id in _REGISTRY or any(r.name == name for r in _REGISTRY.values()):
            raise InternalError(f"lint rule {id} {name} registered twice")
        _REGISTRY[id] = LintRule(id, name, side, severity, summary, " ".join(explanation.split()),
                                 " ".join(fix.split()), fn, options)
        return fn

    return decorate


def _load() -> None:
    for module in _RULE_MODULES:
        importlib.import_module(f"qdqtool.gate.{module}")


def all_rules() -> list[LintRule]:
    """Every registered rule, by id."""
    _load()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def find_rule(key: str) -> LintRule:
    """A rule by id (any case) or name; BadInputError naming the closest ones otherwise."""
    rules = all_rules()
    wanted = key.strip().lower()
    for rule in rules:
        if wanted in (rule.id.lower(), rule.name):
            return rule
    names = [r.id for r in rules] + [r.name for r in rules]
    close = difflib.get_close_matches(key, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `qdqtool rules` lists them"
    raise BadInputError(f"unknown lint rule {key!r}{hint}")
