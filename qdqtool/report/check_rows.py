"""The rows of the numeric check, shared by the terminal table, the HTML page and Markdown: per output, the whole
tensor and its worst slice, the original and the edited model against float, what the edit added, and the edited
model against the original (informative)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from qdqtool.report.numbers import db, signed_db

if TYPE_CHECKING:  # for type hints only
    from qdqtool.verify.numerics import NumericCheck

HEADER = ["output", "slice", "cosine vs float", "SNR dB vs float", "max |err| vs float", "added dB", "worst sample",
          "cosine vs original"]
NUMERIC = {2, 3, 4, 5, 6, 7}  # right-aligned columns
ADDED = 5
MAX_ERR = 4  # left out of the terminal table (in --json and the HTML page)


def title(check: NumericCheck) -> str:
    return f"Numeric check against the {check.reference}, on {check.inputs}"


def compact(cells: list[str]) -> list[str]:
    """A row (or the header) without the max-error column, for an 80-120 column terminal."""
    return cells[:MAX_ERR] + cells[MAX_ERR + 1:]


def check_rows(check: NumericCheck) -> list[tuple[list[str], bool]]:
    """(cells, over the limit) for every output's whole tensor and, when it has slices, its worst slice."""
    rows = []
    for o in check.outputs:
        for s in [o.overall] + ([o.worst] if o.worst is not o.overall else []):
            over = math.isnan(s.added_db) or s.added_db > check.max_added_db
            rows.append(([
                o.name if s is o.overall else "", s.label, f"{s.original.cosine:.6f} -> {s.edited.cosine:.6f}",
                f"{db(s.original.snr_db)} -> {db(s.edited.snr_db)}",
                f"{s.original.max_abs:.4g} -> {s.edited.max_abs:.4g}",
                signed_db(s.added_db),
                str(s.worst_sample) if check.samples > 1 else "-", f"{s.vs_original.cosine:.6f}",
            ], over))
    return rows
