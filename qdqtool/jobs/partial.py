"""The ``partial`` job: put the most sensitive layers back in float until the model is close enough to float.

1. Rank the layers (`qdqtool.jobs.sensitivity`: ``global`` by default, what each layer in float gains end to end;
   ``local`` by their own error, faster).
2. Greedy with re-measurement: take the next layer of the ranking, put it in float *together with those already
   taken*, measure the whole model against float; keep it only if the model got better (layers interact: one that
   helped alone may not help any more). Stop at the target (``--target-snr``, ``--target-cosine``), after
   ``--keep-float`` layers, or before a layer would push the predicted TensorRT cost past ``--max-kernels`` /
   ``--max-bytes``.
3. Each step is priced by the TensorRT predictor (trt-sim): standalone Q/DQ kernels, the layer's precision, bytes
   moved, so what accuracy costs in speed is on the same line.
4. The result is checked like a merge (against float, on the same data) and written atomically; when the target
   cannot be reached nothing is written and the best that was reached is said.

Running it again on its output changes nothing: the layers in float are no longer quantized layers, and the model
already meets the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import onnx

from qdqtool.analysis.groups import find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.analysis.units import Unit, layer_units
from qdqtool.engine.predictor.report import predict_engine
from qdqtool.engine.report import EngineReport
from qdqtool.errors import BadInputError, names_the_model
from qdqtool.io.onnx_io import load_model, staged_model
from qdqtool.jobs.writing import check_output_path, checker_notes, input_files
from qdqtool.surgery.partial import float_layers
from qdqtool.verify.check import CheckSettings, prepare_check, run_check
from qdqtool.verify.local import local_sensitivity
from qdqtool.verify.numerics import NumericCheck, Progress
from qdqtool.verify.scoring import Score, Scorer, Variant, gain

RANKINGS = ("global", "local")


@dataclass(kw_only=True)
class PartialRequest(CheckSettings):
    """What ``qdqtool partial`` does; the data and the reference are CheckSettings fields."""

    model: Path
    output: Path | None = None  # None: <model>.partial.onnx beside the input
    target: str | None = None  # the rules that say which layers are quantized (default tensorrt)
    keep_float: int | None = None  # put at most this many layers in float
    target_snr: float | None = None  # stop when the worst slice's SNR against float reaches this (dB)
    target_cosine: float | None = None  # ... its cosine
    rank: str = "global"
    ops: tuple[str, ...] = ()  # only layers of these op types
    max_kernels: int | None = None  # stop before the predicted standalone Q/DQ kernels exceed this
    max_bytes: float | None = None  # stop before the predicted bytes moved exceed this
    jobs: int = 1

    def output_path(self) -> Path:
        return self.output if self.output is not None else self.model.with_name(self.model.stem + ".partial.onnx")

    @property
    def metric(self) -> str:
        return "cosine" if self.target_cosine is not None else "snr"

    def reached(self, score: Score) -> bool:
        if self.target_cosine is not None:
            return score.cosine >= self.target_cosine
        if self.target_snr is not None:
            return score.snr_db >= self.target_snr
        return False


@dataclass(frozen=True)
class Cost:
    """What trt-sim predicts for one model."""

    kernels: int  # standalone Q/DQ kernels left
    bytes_moved: float
    precisions: dict[str, str]  # layer node -> the precision of the engine layer that runs it

    @classmethod
    def of(cls, report: EngineReport) -> Cost:
        precisions = {node: layer.precision or "?" for layer in report.layers for node in layer.onnx_nodes}
        return cls(len(report.leftover_qdq), sum(layer.cost or 0.0 for layer in report.layers), precisions)


@dataclass
class Step:
    """One layer tried: taken (``kept``) or not, the model's score and cost with it."""

    number: int
    unit: Unit
    kept: bool
    score: Score
    cost: Cost
    why: str  # "better", "no gain", "over --max-kernels" ...


@dataclass
class PartialResult:
    request: PartialRequest
    base: Score
    base_cost: Cost
    steps: list[Step]
    floated: list[Unit]
    final: Score
    final_cost: Cost
    ranked_by: str
    inputs: str
    reference: str
    samples: int
    check: NumericCheck | None = None
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def reached(self) -> bool | None:
        """True/False for a target, None for --keep-float alone."""
        r = self.request
        if r.target_snr is None and r.target_cosine is None:
            return None
        return r.reached(self.final)

    def __bool__(self) -> bool:
        return self.reached is not False and (self.check is None or bool(self.check))


@names_the_model(lambda request, progress=None: request.model)
def run_partial(request: PartialRequest, progress: Progress | None = None) -> PartialResult:
    """Rank, take layers to float greedily, check and write (see the module docstring)."""
    goals = [g for g in (request.keep_float, request.target_snr, request.target_cosine) if g is not None]
    if not goals:
        raise BadInputError("say when to stop: --keep-float K, --target-snr DB or --target-cosine C")
    if request.target_snr is not None and request.target_cosine is not None:
        raise BadInputError("--target-snr and --target-cosine: give one target")
    if request.rank not in RANKINGS:
        raise BadInputError(f"--rank {request.rank!r}: choose one of {', '.join(RANKINGS)}")
    if request.keep_float is not None and request.keep_float < 0:
        raise BadInputError("--keep-float must be 0 or more")
    check_output_path(request.output_path(), request.model)
    rules = load_rules(request.target)
    loaded = load_model(request.model)
    model = loaded.model
    layers = layer_units(find_scale_groups(model, rules).index, rules)
    if request.ops:
        layers = [u for u in layers if u.op_type in request.ops]
    prepared = prepare_check(request.model, model, request)
    scorer = Scorer(model, prepared.data, prepared.reference, request.jobs)
    base, base_cost = scorer.base, _cost(model)
    ranking, ranked_by = _ranking(model, layers, scorer, prepared, request, progress)
    steps: list[Step] = []
    floated: list[Unit] = []
    current, current_cost, kept_model = base, base_cost, model
    limit = request.keep_float if request.keep_float is not None else len(ranking)
    for unit in ranking:
        if request.reached(current) or len(floated) >= limit:
            break
        candidate = float_layers(model, [u.name for u in floated] + [unit.name])
        score, cost = scorer.score_model(candidate), _cost(candidate)
        over = _over_budget(cost, request)
        better = score.value(request.metric) > current.value(request.metric)
        steps.append(Step(len(steps) + 1, unit, better and not over, score, cost,
                          over or ("better" if better else "no gain")))
        if progress is not None:
            progress("partial", len(steps), len(ranking))
        if over:
            break
        if better:
            floated.append(unit)
            current, current_cost, kept_model = score, cost, candidate
    result = PartialResult(request=request, base=base, base_cost=base_cost, steps=steps, floated=floated,
                           final=current, final_cost=current_cost, ranked_by=ranked_by,
                           inputs=prepared.data.label, reference=prepared.reference.label, samples=scorer.samples)
    if prepared.data.random:
        result.notes.append("inputs are seeded random data: which layers matter on random inputs says little about "
                            "a trained model; give real samples with --inputs")
    if result.reached is False:
        return result  # nothing written: the FAILED line says what the best was
    try:
        with staged_model(kept_model, request.output_path(), external_data=loaded.external_data,
                          avoid=input_files(loaded),  # also not over its external data
                          size_hint=Path(request.model).stat().st_size) as staged:
            result.notes += checker_notes(staged.path, request.model, "partial")
            if floated:
                result.check = run_check(request.model, staged.path, prepared, progress)
            result.written = staged.publish() if result.check is None or result.check else []
    except OSError as err:
        raise BadInputError(f"{request.output_path()}: cannot write the output: {err.strerror or err}") from None
    return result


def _ranking(model: onnx.ModelProto, layers: list[Unit], scorer: Scorer, prepared, request: PartialRequest,
             progress: Progress | None) -> tuple[list[Unit], str]:
    """The layers, most worth putting in float first (ties in graph order)."""
    if request.rank == "local":
        local = local_sensitivity(model, layers, [], prepared.data, _fp32(request), progress=progress)
        keys = [-(e.own.cosine if request.metric == "cosine" else e.own.snr_db) for e in local.layers]
        how = "local: the layers' own error"
    else:
        scored = scorer.score_all([Variant("float", u.nodes) for u in layers], progress, "ranking")
        keys = [gain(score, scorer.base, request.metric) for _, score in scored]
        how = "global: what each layer alone in float gains"
    order = sorted(range(len(layers)), key=lambda i: (-keys[i], i))
    return [layers[i] for i in order], how


def _fp32(request: PartialRequest) -> onnx.ModelProto | None:
    return onnx.load(request.reference) if request.reference is not None else None


def _cost(model: onnx.ModelProto) -> Cost:
    return Cost.of(predict_engine(model, "tensorrt"))


def _over_budget(cost: Cost, request: PartialRequest) -> str:
    if request.max_kernels is not None and cost.kernels > request.max_kernels:
        return f"stopped: {cost.kernels} standalone Q/DQ kernels > --max-kernels {request.max_kernels}"
    if request.max_bytes is not None and cost.bytes_moved > request.max_bytes:
        return f"stopped: {cost.bytes_moved:.4g} bytes moved > --max-bytes {request.max_bytes:.4g}"
    return ""
