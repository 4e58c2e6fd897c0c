"""``run_check``: the whole ``qdqtool check`` job as one library call (the CLI only parses options into a request).

For each model: load the configuration, analyse the model, read the engine report and the baseline when given,
run every enabled rule (ONNX side, engine side, baseline, then the meta rules), apply waivers and the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qdqtool.analysis.groups import Analysis, find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.engine.load import engine_report_from_path
from qdqtool.engine.model_match import require_engine_of
from qdqtool.engine.predictor import predict_engine
from qdqtool.engine.report import EngineReport
from qdqtool.engine.summary import EngineSummary, summarize
from qdqtool.errors import BadInputError, names_the_model
from qdqtool.gate.baseline import load_baseline
from qdqtool.gate.config import FAIL_ON, CheckConfig, load_config, parse_percent
from qdqtool.gate.context import Limits, LintContext
from qdqtool.gate.metrics import Metrics, metrics_from
from qdqtool.gate.registry import SIDES, Hit, LintRule, Severity, Skip, Violation, all_rules, find_rule
from qdqtool.gate.waivers import Waiver, inline_waivers
from qdqtool.io.config import find_config
from qdqtool.io.onnx_io import load_model

DEFAULT_MAX_LATENCY_REGRESSION = 3.0
__all__ = ["FAIL_ON", "CheckRequest", "CheckResult", "ModelCheck", "RuleStatus", "check_model", "parse_percent",
           "run_check"]


@dataclass
class CheckRequest:
    """Everything ``qdqtool check`` needs; "None means default" (then the config file, then the built-in)."""

    models: list[Path]
    target: str | None = None
    engine: Path | None = None  # layer JSON, engine folder or plan
    predict: bool = False  # predict the engine on the CPU (trt-sim) instead of reading one
    strongly_typed: bool | None = None  # the build --predict predicts (build's option); None: the rules file's
    profile: Path | None = None
    timing: Path | None = None
    baseline: Path | None = None
    fail_on: str | None = None
    max_latency_regression: float | None = None  # percent
    max_qdq_layers: int | None = None
    max_scale_ratio: float | None = None
    config: Path | None = None  # explicit config file; None: look beside each model
    use_config: bool = True
    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()


@dataclass
class RuleStatus:
    """Whether a rule ran on a model, and with which severity."""

    rule: LintRule
    state: str  # "ran", "disabled", "skipped"
    severity: Severity
    reason: str = ""  # why disabled or skipped


@dataclass
class ModelCheck:
    """The check of one model. True when no finding fails the gate."""

    model: Path
    target: str
    fail_on: str
    violations: list[Violation]
    statuses: list[RuleStatus]
    metrics: Metrics
    analysis: Analysis
    config: Path | None = None
    engine: EngineReport | None = None
    engine_summary: EngineSummary | None = None
    baseline: Path | None = None
    fixed_since_baseline: int = 0  # baseline findings no longer present
    notes: list[str] = field(default_factory=list)

    @property
    def failing(self) -> list[Violation]:
        return [v for v in self.violations if v.gates(self.fail_on)]

    def count(self, severity: Severity) -> int:
        """Active findings (not waived, not in the baseline) of one severity."""
        return sum(1 for v in self.violations if v.severity is severity and not v.waived and not v.baselined)

    @property
    def waived(self) -> list[Violation]:
        return [v for v in self.violations if v.waived is not None]

    @property
    def baselined(self) -> list[Violation]:
        return [v for v in self.violations if v.baselined]

    def __bool__(self) -> bool:
        return not self.failing


@dataclass
class CheckResult:
    """All models of one ``qdqtool check``. True when every model passed."""

    runs: list[ModelCheck]

    @property
    def failing(self) -> list[Violation]:
        return [v for run in self.runs for v in run.failing]

    def count(self, severity: Severity) -> int:
        return sum(run.count(severity) for run in self.runs)

    def __bool__(self) -> bool:
        return all(self.runs)


def _settings_for(rule: LintRule, config: CheckConfig, request: CheckRequest, enable: set[str], disable: set[str]):
    settings = config.rules.get(rule.id)
    enabled = True if settings is None or settings.enabled is None else settings.enabled
    where = f"in {config.source.name}" if config.source else ""
    reason = f"disabled {where}".strip() if not enabled else ""
    if rule.id in enable:
        enabled, reason = True, ""
    if rule.id in disable:
        enabled, reason = False, "disabled by --disable"
    severity = settings.severity if settings and settings.severity else rule.severity
    options = {**rule.default_options(), **(settings.options if settings else {})}
    return enabled, reason, severity, {k.replace("-", "_"): v for k, v in options.items()}


def _apply_waivers(violations: list[Violation], waivers: list[Waiver]) -> list[Waiver]:
    used: set[int] = set()
    for violation in violations:
        names = violation.nodes + ((violation.layer,) if violation.layer else ())
        for i, waiver in enumerate(waivers):
            if waiver.matches(violation.rule.id, names):
                used.add(i)
                if violation.waived is None:
                    violation.waived, violation.waived_by = waiver.reason, waiver.source
    return [w for i, w in enumerate(waivers) if i not in used]


@names_the_model(lambda model, request: model)
def check_model(model: Path, request: CheckRequest) -> ModelCheck:
    """Run every enabled rule on one model (see the module docstring)."""
    config_path = request.config if request.config is not None else (
        find_config(model) if request.use_config else None
    )
    config = load_config(config_path)
    fail_on = request.fail_on or config.fail_on or "error"
    rules = load_rules(request.target or config.target)
    loaded = load_model(model)
    ratio = request.max_scale_ratio if request.max_scale_ratio is not None else config.max_scale_ratio
    analysis = find_scale_groups(loaded.model, rules, ratio)
    if request.predict:
        precision = None if request.strongly_typed is None else ("onnx" if request.strongly_typed else "fp16")
        engine = predict_engine(loaded.model, rules, precision, source=str(model))
    elif request.engine:
        engine = engine_report_from_path(request.engine, request.profile, request.timing)
        require_engine_of(engine, loaded.model, str(model))
    else:
        engine = None
    summary = summarize(engine) if engine is not None else None
    baseline_path = request.baseline or config.baseline
    baseline = load_baseline(baseline_path, model) if baseline_path else None
    limits = Limits(
        max_latency_regression=next(
            (v for v in (request.max_latency_regression, config.max_latency_regression) if v is not None),
            DEFAULT_MAX_LATENCY_REGRESSION,
        ),
        max_qdq_layers=request.max_qdq_layers if request.max_qdq_layers is not None else config.max_qdq_layers,
    )
    metrics = metrics_from(analysis, engine, summary)
    ctx = LintContext(model_path=model, model=loaded.model, rules=rules, analysis=analysis, metrics=metrics,
                      engine=engine, engine_summary=summary, baseline=baseline, baseline_path=baseline_path,
                      limits=limits)
    enable = {find_rule(k).id for k in request.enable}
    disable = {find_rule(k).id for k in request.disable}
    waivers = config.waivers + inline_waivers(loaded.model, str(model), lambda key: find_rule(key).id)
    statuses: list[RuleStatus] = []
    violations: list[Violation] = []
    for side in SIDES:
        if side == "meta":
            ctx.unused_waivers = _apply_waivers(violations, waivers)
        for rule in (r for r in all_rules() if r.side == side):
            enabled, reason, severity, options = _settings_for(rule, config, request, enable, disable)
            if not enabled:
                statuses.append(RuleStatus(rule, "disabled", severity, reason))
                continue
            try:
                hits: list[Hit] = list(rule.check(ctx, **options))
            except Skip as skip:
                statuses.append(RuleStatus(rule, "skipped", severity, str(skip)))
                continue
            statuses.append(RuleStatus(rule, "ran", severity))
            violations += [Violation(rule=rule, severity=severity, message=h.message, nodes=h.nodes, group=h.group,
                                     layer=h.layer, key=h.key) for h in hits]
    fixed = 0
    if baseline is not None:
        known = {f.get("fingerprint") for f in baseline.get("findings", []) if isinstance(f, dict)}
        for violation in violations:
            violation.baselined = violation.fingerprint in known and violation.rule.side != "baseline"
        fixed = len(known - {v.fingerprint for v in violations})
    return ModelCheck(
        model=model, target=rules.name, fail_on=fail_on, violations=violations, statuses=statuses, metrics=metrics,
        analysis=analysis, config=config_path, engine=engine, engine_summary=summary, baseline=baseline_path,
        fixed_since_baseline=fixed, notes=list(analysis.notes) + (list(engine.notes) if engine else []),
    )


def run_check(request: CheckRequest) -> CheckResult:
    """Check every model of ``request``.

    Args:
        request (CheckRequest): What to check and how.

    Returns:
        CheckResult: one ModelCheck per model, true when none has a finding that fails the gate.
    """
    if not request.models:
        raise BadInputError("give at least one MODEL")
    if len(request.models) > 1 and (request.engine or request.baseline):
        raise BadInputError("--engine and --baseline describe one model: check one MODEL with them")
    if (request.profile or request.timing) and not request.engine:
        raise BadInputError("--profile and --timing describe an engine: give it with --engine too")
    if request.config is not None and not request.use_config:
        raise BadInputError("--config and --no-config contradict each other: give one")
    if request.predict and request.engine:
        raise BadInputError("give --engine (a built engine) or --predict (predict one on the CPU), not both")
    if request.strongly_typed is not None and not request.predict:
        raise BadInputError("--strongly-typed / --no-strongly-typed choose the build --predict predicts: add --predict")
    return CheckResult(runs=[check_model(model, request) for model in request.models])
