"""Latency: one statistics type for repeated measurements, and one judgement of "is it faster or slower?".

:class:`Timings` holds repeated measurements (milliseconds, or the per-round ratios of two models) and every
statistic qdqtool reports about them. :func:`judge_change` is the only place that decides whether a latency changed:
the change must reach the tolerance (the change that counts as none) and stand out of the noise:

- paired rounds (``compare``: both models timed in interleaved rounds A B, B A, ..., so a drift of the machine
  cancels in the per-round ratios after/before): the change is the median ratio - 1, and at least three quarters
  of the rounds must agree (upper quartile of the ratios below 1 for ``faster``, lower quartile above 1 for
  ``regression``), and the median latency must have moved the same way;
- two separate runs (``check`` against a baseline): the change is the ratio of the medians - 1, and the difference
  of the medians must exceed 3 standard errors of the two medians (a robust sigma from their median absolute
  deviations); a single value on either side has no noise to test against, which the reason says.

Anything else is ``no gain``. So a verdict never claims more than the numbers show: ``faster`` requires a lower
median after than before.

    >>> verdict = judge_latency([10.0, 10.1, 9.9, 10.0, 10.2], [8.0, 8.1, 7.9, 8.0, 8.2])
    >>> assert verdict.verdict == "faster" and verdict.after.median < verdict.before.median
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from qdqtool.engine.backends import LatencyTimer

MIN_ROUNDS = 5
# Two sessions of one model timed against each other (A/A) on a shared CPU differed by up to ~3 % in their medians,
# with all rounds agreeing (memory placement), so a smaller change is not claimed by `compare`.
DEFAULT_TOLERANCE = 0.05
NOISE_SIGMAS = 3.0
VERDICTS = ("faster", "no gain", "regression")


@dataclass(frozen=True)
class Timings:
    """Repeated measurements of one quantity (milliseconds, or per-round ratios), and their statistics.

        >>> t = Timings((1.0, 2.0, 3.0))
        >>> assert t.median == 2.0 and t.runs == 3 and t.low == 1.0
    """

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))

    @property
    def runs(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.values, q))

    @property
    def q1(self) -> float:
        return self.percentile(25)

    @property
    def q3(self) -> float:
        return self.percentile(75)

    @property
    def mad(self) -> float:
        """Median absolute deviation from the median (0 for one value)."""
        median = self.median
        return statistics.median(abs(v - median) for v in self.values)

    @property
    def noise(self) -> float:
        """Standard error of the median from a robust sigma (1.4826 * MAD); 0 without repeated runs."""
        return standard_error(self.mad, self.runs)

    def to_dict(self) -> dict[str, float | list[float]]:
        return {"median": self.median, "q1": self.q1, "q3": self.q3, "min": self.low, "max": self.high,
                "values": list(self.values)}


def standard_error(mad: float, runs: int) -> float:
    """Standard error of a median of ``runs`` values whose median absolute deviation is ``mad``."""
    return 1.2533 * 1.4826 * mad / math.sqrt(runs) if runs >= 2 else 0.0


class Estimate(Protocol):
    """What :func:`judge_change` needs of each side: a :class:`Timings`, or a stored summary of one."""

    @property
    def median(self) -> float: ...

    @property
    def noise(self) -> float: ...

    @property
    def runs(self) -> int: ...


def judge_change(before: Estimate, after: Estimate, tolerance: float,
                 ratios: Timings | None = None) -> tuple[str, str]:
    """``(verdict, reason)``: ``faster``, ``regression`` or ``no gain`` (see the module docstring).

    Args:
        before (Estimate): The reference (the original model, the baseline).
        after (Estimate): The candidate.
        tolerance (float): Relative change that counts as none (0.05 for 5%).
        ratios (Timings): Per-round ratios after/before of paired, interleaved rounds. Defaults to None (two
            separate runs).
    """
    if ratios is not None:
        change = ratios.median - 1.0
        where = (f"after/before median {ratios.median:.3f} (quartiles {ratios.q1:.3f}-{ratios.q3:.3f}) over "
                 f"{ratios.runs} interleaved rounds")
        faster_agrees, slower_agrees = ratios.q3 < 1, ratios.q1 > 1
        disagree = "the rounds disagree (noise), no change can be claimed"
    else:
        change = after.median / before.median - 1.0 if before.median > 0 else math.inf
        where = f"{before.median:.4f} -> {after.median:.4f} ms ({change:+.1%})"
        if before.runs >= 2 and after.runs >= 2:
            noise = math.hypot(before.noise, after.noise)
            where += f"; noise {noise:.4f} ms over {before.runs} and {after.runs} runs"
            beyond = abs(after.median - before.median) > NOISE_SIGMAS * noise
            faster_agrees = slower_agrees = beyond
            disagree = "within the noise"
        else:
            where += "; single values, not noise-aware (give per-inference times with --timing)"
            faster_agrees = slower_agrees = True
            disagree = ""
    if change <= -tolerance and faster_agrees and after.median < before.median:
        return "faster", f"{where}: faster by more than the {tolerance:.0%} tolerance" + (
            " in most rounds" if ratios is not None else "")
    if change >= tolerance and slower_agrees and after.median > before.median:
        return "regression", f"{where}: slower by more than the {tolerance:.0%} tolerance" + (
            " in most rounds" if ratios is not None else "")
    if abs(change) < tolerance:
        return "no gain", f"{where}: within the {tolerance:.0%} tolerance"
    return "no gain", f"{where}: {disagree}"


@dataclass
class LatencyComparison:
    """Round medians before and after, their paired ratios and the verdict. True unless ``regression``."""

    before: Timings
    after: Timings
    ratios: Timings  # after / before, per round
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
        tolerance (float): Relative change that counts as no change. Defaults to ``DEFAULT_TOLERANCE`` (5%).
        iterations (int): Runs per round, for the report. Defaults to None.
    """
    tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
    if len(before) != len(after) or len(before) < MIN_ROUNDS:
        raise ValueError(f"need two equal lists of at least {MIN_ROUNDS} rounds, got {len(before)} and {len(after)}")
    if min(before) <= 0 or min(after) <= 0:
        raise ValueError("latencies must be positive")
    a, b = Timings(tuple(before)), Timings(tuple(after))
    ratios = Timings(tuple(y / x for x, y in zip(before, after, strict=True)))
    verdict, why = judge_change(a, b, tolerance, ratios)
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
