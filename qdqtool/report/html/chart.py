"""Horizontal bar charts (inline SVG): per-kernel time before and after, from an engine diff; layer sensitivity.

    >>> svg = kernel_time_chart(diff, top=10)
    >>> assert svg is None or svg.startswith('<svg class="qdq-chart"')
"""

from __future__ import annotations

from html import escape

from qdqtool.engine.diff import EngineDiff
from qdqtool.report.engine_rows import pair_name

BEFORE, AFTER = "#94a3b8", "#2563eb"
LABEL_W, BAR_W, ROW_H, BAR_H = 300, 420, 30, 11


def kernel_time_chart(diff: EngineDiff, top: int = 20) -> str | None:
    """Bars for the ``top`` layers with the largest time on either side; None when neither engine was timed."""
    timed = [p for p in diff.pairs if p.before_ms is not None or p.after_ms is not None]
    if not timed:
        return None
    timed.sort(key=lambda p: max(p.before_ms or 0.0, p.after_ms or 0.0), reverse=True)
    rows = timed[:top]
    scale = max(max(p.before_ms or 0.0, p.after_ms or 0.0) for p in rows) or 1.0
    width, height = LABEL_W + BAR_W + 90, 34 + ROW_H * len(rows)
    parts = [
        f'<svg class="qdq-chart" xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>Per-kernel time, before and after ({len(rows)} of {len(timed)} timed layers)</title>",
        f'<rect x="{LABEL_W}" y="6" width="12" height="10" fill="{BEFORE}"/>'
        f'<text x="{LABEL_W + 16}" y="15">before</text>'
        f'<rect x="{LABEL_W + 70}" y="6" width="12" height="10" fill="{AFTER}"/>'
        f'<text x="{LABEL_W + 86}" y="15">after</text>',
    ]
    for i, pair in enumerate(rows):
        y = 28 + i * ROW_H
        name = pair_name(pair)
        short = name if len(name) <= 46 else name[:45] + "…"
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H + 4}" text-anchor="end"><title>{escape(name)}</title>'
                     f"{escape(short)}</text>")
        for j, (value, color, side) in enumerate(((pair.before_ms, BEFORE, "before"), (pair.after_ms, AFTER, "after"))):
            if value is None:
                continue
            w = max(1.0, BAR_W * value / scale)
            by = y + j * (BAR_H + 1)
            parts.append(f'<rect class="bar-{side}" x="{LABEL_W}" y="{by}" width="{w:.1f}" height="{BAR_H}" '
                         f'fill="{color}"><title>{escape(name)}: {value:.4f} ms {side}</title></rect>'
                         f'<text x="{LABEL_W + w + 4:.1f}" y="{by + BAR_H - 1}" font-size="9">{value:.4f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def sensitivity_chart(rows: list[tuple[str, float, str]], title: str, unit: str) -> str | None:
    """One bar per (label, value, tooltip), longest for the largest value (values of 0 or less get no bar)."""
    if not rows:
        return None
    scale = max((v for _, v, _ in rows if v > 0), default=1.0) or 1.0
    width, height = LABEL_W + BAR_W + 90, 34 + (ROW_H - 12) * len(rows)
    parts = [
        f'<svg class="qdq-chart" id="sensitivity-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LABEL_W}" y="15">{escape(unit)}</text>',
    ]
    for i, (label, value, tip) in enumerate(rows):
        y = 24 + i * (ROW_H - 12)
        short = label if len(label) <= 46 else label[:45] + "…"
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 1}" text-anchor="end"><title>{escape(label)}</title>'
                     f"{escape(short)}</text>")
        w = max(1.0, BAR_W * value / scale) if value > 0 else 0.0
        parts.append(f'<rect class="bar-sensitivity" x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" '
                     f'fill="{AFTER}"><title>{escape(tip)}</title></rect>'
                     f'<text x="{LABEL_W + w + 4:.1f}" y="{y + BAR_H - 1}" font-size="9">{value:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)
