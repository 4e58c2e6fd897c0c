"""Markdown for ``qdqtool inspect --markdown`` and ``qdqtool diff --markdown`` (e.g. a pull-request comment)."""

from __future__ import annotations

from qdqtool.engine.diff import EngineDiff
from qdqtool.engine.report import EngineReport
from qdqtool.engine.summary import EngineSummary
from qdqtool.report import engine_rows as rows


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
    parts.append(table(rows.layer_header(report), [rows.layer_row(i, layer) for i, layer in enumerate(report.layers)]))
    return "\n".join(parts) + "\n"


def diff_markdown(diff: EngineDiff, top: int | None = None) -> str:
    """Verdict, totals, Q/DQ and reformat changes, fusion and precision changes, largest timing deltas."""
    parts = [f"## qdqtool diff: `{diff.before.source}` -> `{diff.after.source}`", "", f"**{diff.verdict_line}**", ""]
    parts.append(table(["", "before", "after"], rows.totals_rows(diff)))
    parts += ["", f"Layers: {rows.match_summary(diff)}.", ""] + _notes(diff.notes)
    parts += ["", "### Unfused Q/DQ layers", ""] + [f"- {line}" for line in rows.qdq_lines(diff)]
    for title, header, body in rows.diff_tables(diff, top):
        parts += ["", f"### {title}", "", table(header, body)]
    return "\n".join(parts) + "\n"
