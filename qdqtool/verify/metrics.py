"""Accuracy figures against float: what the original model's error is, what the edited model's is, and what the
edit added, for a whole output and for each of its slices, summed over every sample.

For each slice the sums of a few products are kept (signal, the two errors against the float reference, the
difference of the two models, the dot products the cosines need) and maxima of the absolute errors, so any number
of samples costs constant memory. The figures:

- ``cosine`` and ``SNR dB`` (10 log10 of signal over error energy) of the original and of the edited model, each
  against the float reference; ``max |err|`` the largest absolute error;
- ``added dB``: 10 log10 of the edited model's error energy over the original's, what the edit added to the error
  the model already had (0: nothing; 3 dB: twice the error energy; negative: the edit reduced it). An error below
  one part in 10^12 of the signal counts as none (float arithmetic on the same values);
- the sample where the edit added most, and the edited model against the original (an informative figure: two
  quantized models compared with each other measure how a perturbation is amplified, not harm).

Not Polygraphy's comparators: ``CompareFunc.simple`` judges element-wise absolute and relative tolerances per output
of one pair of runs; what is needed here is energy ratios (SNR, cosine) of two models against a third, per Concat
slice, summed over a stream of samples. Its DataLoader and its saved-inputs reader are used (``qdqtool.io.data``).

    >>> acc = SliceErrors.empty(["all"])
    >>> acc.add(*[np.array([[1.0, 2.0]])] * 3, sample=0)
    >>> assert acc.result()[0].added_db == 0.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_TINY = 1e-12  # error energy below this share of the signal is float arithmetic, not an error


@dataclass
class Similarity:
    """Cosine similarity, signal-to-noise ratio (dB) and max absolute error of one slice, against a reference."""

    label: str
    cosine: float
    snr_db: float
    max_abs: float
    mse: float = math.nan  # mean squared error


@dataclass
class SliceCheck:
    """One slice of one output (or the whole output), over every sample."""

    label: str
    original: Similarity  # the original model against float
    edited: Similarity  # the edited model against float
    added_db: float  # what the edit added to the original's error energy, in dB
    worst_sample: int  # the sample where it added most
    vs_original: Similarity  # the edited model against the original (informative)


def _cosine(dot: float, a: float, b: float) -> float:
    if a == 0 and b == 0:
        return 1.0
    if a == 0 or b == 0:
        return 0.0
    return float(max(-1.0, min(1.0, dot / math.sqrt(a * b))))


def _snr(signal: float, noise: float) -> float:
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10 * math.log10(signal / noise)


def added_db(signal: np.ndarray, original: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """10 log10 of edited over original error energy, errors below ``_TINY`` of the signal counted as none."""
    floor = np.maximum(signal, 1e-300) * _TINY
    return 10 * np.log10((edited + floor) / (original + floor))


# the sums kept per slice: signal, the two models' squares and dot products, their errors against float and their
# difference; and maxima of the absolute errors
_SUMS = ("rr", "oo", "ee", "ro", "re", "oe", "err_o", "err_e", "diff", "n")
_MAXES = ("max_o", "max_e", "max_diff")


@dataclass
class SliceErrors:
    """The running sums of a set of slices of one output (see the module docstring)."""

    labels: list[str]
    sums: dict[str, np.ndarray]
    maxes: dict[str, np.ndarray]
    worst: np.ndarray  # per slice: the largest per-sample added dB so far
    worst_at: np.ndarray  # and its sample

    @classmethod
    def empty(cls, labels: list[str]) -> SliceErrors:
        n = len(labels)
        return cls(labels, {k: np.zeros(n) for k in _SUMS}, {k: np.zeros(n) for k in _MAXES},
                   np.full(n, -np.inf), np.zeros(n, dtype=np.int64))

    def add(self, reference: np.ndarray, original: np.ndarray, edited: np.ndarray, sample: int,
            reduce=None) -> None:
        """Add one sample. ``reduce(values, how)`` turns an element-wise array into one value per slice (``how`` is
        ``"sum"`` or ``"max"``); without it the whole array is one slice."""
        if reduce is None:
            def reduce(values: np.ndarray, how: str) -> np.ndarray:
                return np.array([values.sum() if how == "sum" else values.max(initial=0.0)])

        r, o, e = (np.asarray(a, dtype=np.float64) for a in (reference, original, edited))
        d_o, d_e, d_oe = o - r, e - r, e - o
        sample_sums = {
            "rr": reduce(r * r, "sum"), "oo": reduce(o * o, "sum"), "ee": reduce(e * e, "sum"),
            "ro": reduce(r * o, "sum"), "re": reduce(r * e, "sum"), "oe": reduce(o * e, "sum"),
            "err_o": reduce(d_o * d_o, "sum"), "err_e": reduce(d_e * d_e, "sum"), "diff": reduce(d_oe * d_oe, "sum"),
            "n": reduce(np.ones(r.shape), "sum"),
        }
        for key, values in sample_sums.items():
            self.sums[key] += values
        for key, values in (("max_o", d_o), ("max_e", d_e), ("max_diff", d_oe)):
            np.maximum(self.maxes[key], reduce(np.abs(values), "max"), out=self.maxes[key])
        added = added_db(sample_sums["rr"], sample_sums["err_o"], sample_sums["err_e"])
        better = added > self.worst
        self.worst = np.where(better, added, self.worst)
        self.worst_at = np.where(better, sample, self.worst_at)

    def result(self) -> list[SliceCheck]:
        s, m = self.sums, self.maxes
        added = added_db(s["rr"], s["err_o"], s["err_e"])
        n = np.maximum(s["n"], 1)
        checks = []
        for k, label in enumerate(self.labels):
            checks.append(SliceCheck(
                label=label,
                original=Similarity(label, _cosine(s["ro"][k], s["rr"][k], s["oo"][k]), _snr(s["rr"][k], s["err_o"][k]),
                                    float(m["max_o"][k]), float(s["err_o"][k] / n[k])),
                edited=Similarity(label, _cosine(s["re"][k], s["rr"][k], s["ee"][k]), _snr(s["rr"][k], s["err_e"][k]),
                                  float(m["max_e"][k]), float(s["err_e"][k] / n[k])),
                added_db=float(added[k]),
                worst_sample=int(self.worst_at[k]),
                vs_original=Similarity(label, _cosine(s["oe"][k], s["oo"][k], s["ee"][k]),
                                       _snr(s["oo"][k], s["diff"][k]), float(m["max_diff"][k]),
                                       float(s["diff"][k] / n[k])),
            ))
        return checks


def similarity(reference: np.ndarray, candidate: np.ndarray, label: str = "all") -> Similarity:
    """Cosine, SNR and max error of ``candidate`` against ``reference`` (one pair of arrays)."""
    acc = SliceErrors.empty([label])
    acc.add(reference, reference, candidate, 0)
    return acc.result()[0].edited
