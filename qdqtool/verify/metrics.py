"""Similarity metrics between a reference output and a candidate output."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Similarity:
    """Cosine similarity, signal-to-noise ratio (dB) and max absolute error of one slice of an output."""

    label: str
    cosine: float
    snr_db: float
    max_abs: float


def similarity(reference: np.ndarray, candidate: np.ndarray, label: str = "all") -> Similarity:
    ref = reference.astype(np.float64).ravel()
    cand = candidate.astype(np.float64).ravel()
    ref_norm, cand_norm = np.linalg.norm(ref), np.linalg.norm(cand)
    if ref_norm == 0 and cand_norm == 0:
        cosine = 1.0
    elif ref_norm == 0 or cand_norm == 0:
        cosine = 0.0
    else:
        cosine = float(np.dot(ref, cand) / (ref_norm * cand_norm))
    noise = float(np.sum((ref - cand) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0:
        snr = math.inf
    elif signal == 0:
        snr = -math.inf
    else:
        snr = 10 * math.log10(signal / noise)
    max_abs = float(np.max(np.abs(ref - cand))) if ref.size else 0.0
    return Similarity(label=label, cosine=cosine, snr_db=snr, max_abs=max_abs)
