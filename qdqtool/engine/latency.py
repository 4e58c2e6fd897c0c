"""Is the merged model faster? Interleaved latency rounds and a noise-aware verdict.

Both models are timed in rounds, interleaved (A B, B A, A B, ...: the first of a round alternates, so neither
model always runs on a machine warmed or disturbed by the other). A round is ``iterations`` runs of one model and
yields their median. The verdict looks at the per-round ratios after/before (paired, so a drift of the machine
during the measurement cancels out):

- ``faster``: the median ratio is at or below ``1 - tolerance``, the upper quartile of the ratios is below 1 (the
  large majority of rounds was faster) and the median latency went down;
- ``regression``: the mirror image (median ratio at or above ``1 + tolerance``, lower quartile above 1, median
  latency up);
- ``no gain``: anything else: a change within the tolerance or within the noise.

So a verdict never claims more than the numbers show: ``faster`` requires a lower median after than before.

    >>> verdict = judge_latency([10.0, 10.1, 9.9, 10.0, 10.2], [8.0, 8.1, 7.9, 8.0, 8.2])
    >>> assert verdict.verdict == "faster" and verdict.after.median < verdict.before.median
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import numpy as np

from qdqtool.engine.backends import LatencyTimer

MIN_ROUNDS = 5
# Two sessions of one model timed against each other (A/A) on a shared CPU differed by up to ~3 % in their medians,
# with all rounds agreeing (memory placement), so a smaller change is not claimed.
DEFAULT_TOLERANCE = 0.05
VERDICTS = ("faster", "no gain", "regression")


@dataclass
class Spread:
    """Median and spread of a list of times (ms) or ratios."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def q1(self) -> float:
        return float(np.percentile(self.values, 25))

    @property
    def q3(self) -> float:
        return float(np.percentile(self.values, 75))

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def to_dict(self) -> dict[str, float | list[float]]:
        return {"median": self.median, "q1": self.q1, "q3": self.q3, "min": self.low, "max": self.high,
                "values": list(self.values)}


@dataclass
class LatencyComparison:
    """Round medians before and after, their paired ratios and the verdict. True unless ``regression``."""

    before: Spread
    after: Spread
    ratios: Spread  # after / before, per round
    tolerance: float
    verdict: str
    reason: str
    iterations: int | None = None  # runs per round
    notes: list[str] = field(default_factory=list)

    @property
    def change(self) -> float:
        """Relative change of the median latency (after / before - 1)."""
        return self.after.median / self.before.median - 1.0

    def __bool__(self) -> bool:
        return self.verdict != "regression"


def judge_latency(before: list[float], after: list[float], tolerance: float | None = None,
                  iterations: int | None = None) -> LatencyComparison:
    """The verdict on paired round times (see the module docstring).

    Args:
        before (list[float]): Round medians of the original model, in round order.
        after (list[float]): Round medians of the merged model, same rounds.
        tolerance (float): Relative change that counts as no change. Defaults to 0.03.
        iterations (int): Runs per round, for the report. Defaults to None.
    """
    tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
    if len(before) != len(after) or len(before) < MIN_ROUNDS:
        raise ValueError(f"need two equal lists of at least {MIN_ROUNDS} rounds, got {len(before)} and {len(after)}")
    if min(before) <= 0 or min(after) <= 0:
        raise ValueError("latencies must be positive")
    a, b = Spread(list(before)), Spread(list(after))
    ratios = Spread([y / x for x, y in zip(before, after, strict=True)])
    rounds = f"{len(before)} interleaved rounds"
    where = f"after/before median {ratios.median:.3f} (quartiles {ratios.q1:.3f}-{ratios.q3:.3f}) over {rounds}"
    if ratios.median <= 1 - tolerance and ratios.q3 < 1 and b.median < a.median:
        verdict, why = "faster", f"{where}: faster by more than the {tolerance:.0%} tolerance in most rounds"
    elif ratios.median >= 1 + tolerance and ratios.q1 > 1 and b.median > a.median:
        verdict, why = "regression", f"{where}: slower by more than the {tolerance:.0%} tolerance in most rounds"
    elif abs(ratios.median - 1) < tolerance:
        verdict, why = "no gain", f"{where}: within the {tolerance:.0%} tolerance"
    else:
        verdict, why = "no gain", f"{where}: the rounds disagree (noise), no change can be claimed"
    return LatencyComparison(before=a, after=b, ratios=ratios, tolerance=tolerance, verdict=verdict, reason=why,
                             iterations=iterations)


def same_layers_verdict(comparison: LatencyComparison) -> LatencyComparison:
    """``no gain`` whatever the times: the two builds run the same layers, so a difference is measurement bias."""
    comparison.verdict = "no gain"
    comparison.reason = (f"after/before median {comparison.ratios.median:.3f}, but both builds run the same layers "
                         "(types, classes, precisions): a time difference here is measurement bias, not a gain")
    return comparison


def interleaved_rounds(before: LatencyTimer, after: LatencyTimer, rounds: int,
                       iterations: int) -> tuple[list[float], list[float]]:
    """Time both models in ``rounds`` interleaved rounds of ``iterations`` runs; the median of each round.

    Args:
        before (LatencyTimer): The original model (entered).
        after (LatencyTimer): The merged model (entered).
        rounds (int): How many rounds (at least 5).
        iterations (int): Runs per round and model.
    """
    if rounds < MIN_ROUNDS:
        raise ValueError(f"need at least {MIN_ROUNDS} rounds, got {rounds}")
    medians: dict[int, list[float]] = {0: [], 1: []}
    timers = (before, after)
    for r in range(rounds):
        for side in ((0, 1) if r % 2 == 0 else (1, 0)):
            medians[side].append(statistics.median(timers[side].time(iterations)))
    return medians[0], medians[1]
