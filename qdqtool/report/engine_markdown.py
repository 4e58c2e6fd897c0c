"""Markdown for ``qdqtool inspect --markdown`` and ``qdqtool diff --markdown`` (e.g. a pull-request comment)."""

from __future__ import annotations

from qdqtool.engine.diff import EngineDiff
from qdqtool.engine.report import EngineReport
from qdqtool.engine.summary import EngineSummary
from qdqtool.report import engine_rows as rows

DEFAULT_TOP = 15  # timing-delta rows shown in a diff


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def _notes(notes: list[str]) -> list[str]:
    return [f"> note: {note}" for note in notes]


def inspect_markdown(report: EngineReport, summary: EngineSummary) -> str:
    """A summary table, the unfused Q/DQ layers and every layer."""
    parts = [f"## qdqtool inspect: `{report.source}`", ""]
    parts.append(table(["", ""], [list(r) for r in rows.summary_rows(report, summary)]))
    parts += [""] + _notes(report.notes)
    qdq = report.leftover_qdq
    parts += ["", f"### Unfused Q/DQ layers ({len(qdq)})", ""]
    if qdq:
        body = [[layer.name, ", ".join(layer.onnx_nodes) or "-", rows.ms(layer.avg_ms, 4)] for layer in qdq]
        parts.append(table(["layer", "ONNX nodes", "avg ms"], body))
    else:
        parts.append("None: every Q/DQ fused.")
    parts += ["", "### Layers", ""]
    parts.append(table(rows.LAYER_HEADER, [rows.layer_row(i, layer) for i, layer in enumerate(report.layers)]))
    return "\n".join(parts) + "\n"


def diff_markdown(diff: EngineDiff, top: int | None = None) -> str:
    """Verdict, totals, Q/DQ and reformat changes, fusion and precision changes, largest timing deltas."""
    top = DEFAULT_TOP if top is None else top
    parts = [f"## qdqtool diff: `{diff.before.source}` -> `{diff.after.source}`", "", f"**{diff.verdict_line}**", ""]
    parts.append(table(["", "before", "after"], rows.totals_rows(diff)))
    parts += ["", f"Layers: {rows.match_summary(diff)}.", ""] + _notes(diff.notes)
    b_qdq = ", ".join(layer.name for layer in diff.before.leftover_qdq) or "none"
    a_qdq = ", ".join(layer.name for layer in diff.after.leftover_qdq) or "none"
    parts += [
        "",
        "### Unfused Q/DQ layers",
        "",
        f"- before ({len(diff.before.leftover_qdq)}): {b_qdq}",
        f"- after ({len(diff.after.leftover_qdq)}): {a_qdq}",
    ]
    sections = [
        ("Q/DQ layers gone", diff.qdq_removed),
        ("Q/DQ layers new", diff.qdq_added),
        ("Reformat layers gone", diff.reformat_removed),
        ("Reformat layers new", diff.reformat_added),
    ]
    for title, items in sections:
        if items:
            parts += ["", f"### {title} ({len(items)})", ""]
            parts.append(table(*rows.qdq_change_table(items)))
    if diff.fusion_changes:
        parts += ["", f"### Fusion changes ({len(diff.fusion_changes)})", ""]
        parts.append(table(rows.FUSION_HEADER, [rows.fusion_row(p) for p in diff.fusion_changes]))
    if diff.precision_changes:
        parts += ["", f"### Precision changes ({len(diff.precision_changes)})", ""]
        parts.append(table(rows.PRECISION_HEADER, [rows.precision_row(p) for p in diff.precision_changes]))
    deltas = diff.timing_deltas
    if deltas:
        shown = deltas[:top] if top else deltas
        parts += ["", f"### Largest per-layer time changes ({len(shown)} of {len(deltas)})", ""]
        parts.append(table(rows.TIMING_HEADER, [rows.timing_row(p) for p in shown]))
    return "\n".join(parts) + "\n"
