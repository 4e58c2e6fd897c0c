"""How figures in dB are written in every table: ``inf`` for no error at all, ``-inf`` for no signal."""

from __future__ import annotations

import math


def db(value: float, digits: int = 1) -> str:
    """An SNR-like figure: ``26.5``, ``inf`` (no error), ``-inf`` (no signal)."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"


def signed_db(value: float) -> str:
    """What an edit added, in dB: ``+0.85``, ``-1.45`` (and ``inf``/``nan`` as they are)."""
    return f"{value:+.2f}" if math.isfinite(value) else str(value)
