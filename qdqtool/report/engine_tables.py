"""Rich tables for ``qdqtool inspect`` and ``qdqtool diff`` (the default, human output)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from qdqtool.engine.diff import EngineDiff
from qdqtool.engine.report import EngineReport, LayerClass
from qdqtool.engine.summary import EngineSummary
from qdqtool.report import engine_rows as rows

_CLASS_STYLE = {
    LayerClass.QDQ.value: "bold red",
    LayerClass.REFORMAT.value: "yellow",
    LayerClass.NOOP.value: "dim",
    LayerClass.CONSTANT.value: "dim",
}
_VERDICT_STYLE = {"improved": "bold green", "regressed": "bold red", "mixed": "bold yellow", "unchanged": "bold"}


# Above this many rows a table is laid out here, not by rich: rich measures and folds every cell (a 33k-layer
# engine took 14 s to print); this layout pads columns to their widest cell and never folds.
PLAIN_FROM_ROWS = 2000


def _plain_table(title: str, header: list[str], body: list[list[str]],
                 styles: list[str | None] | None = None) -> Text:
    widths = [max(len(header[c]), *(len(row[c]) for row in body)) for c in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    text = Text(f"{title}\n", style="italic")
    text.append(line(header) + "\n", style="bold")
    text.append("  ".join("-" * w for w in widths) + "\n")
    for i, row in enumerate(body):
        text.append(line(row) + "\n", style=styles[i] if styles else None)
    return text


def _table(title: str, header: list[str], body: list[list[str]],
           styles: list[str | None] | None = None) -> Table | Text:
    if len(body) >= PLAIN_FROM_ROWS:
        return _plain_table(title, header, body, styles)
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in header:
        table.add_column(column, overflow="fold")
    for i, row in enumerate(body):
        table.add_row(*row, style=styles[i] if styles else None)
    return table


def _key_value(title: str, pairs: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in pairs:
        table.add_row(key, value)
    return table


def _notes(notes: list[str]) -> list[Text]:
    return [Text(f"note: {note}", style="italic") for note in notes]


def inspect_renderable(report: EngineReport, summary: EngineSummary) -> RenderableType:
    """Summary, then every layer (unfused Q/DQ in red, reformats in yellow)."""
    body = [rows.layer_row(i, layer) for i, layer in enumerate(report.layers)]
    styles = [_CLASS_STYLE.get(layer.cls.value) for layer in report.layers]
    parts: list[RenderableType] = [
        _table(f"Layers of {report.source}", rows.layer_header(report), body, styles),
        _key_value("Summary", rows.summary_rows(report, summary)),
        *_notes(report.notes),
    ]
    return Group(*parts)


def diff_renderable(diff: EngineDiff, top: int | None = None) -> RenderableType:
    """Totals, Q/DQ and reformat changes, fusion and precision changes, largest timing deltas, verdict line last."""
    parts: list[RenderableType] = [
        _table("Totals", ["", "before", "after"], rows.totals_rows(diff)),
        Text(f"Layers: {rows.match_summary(diff)}"),
        *[Text(f"Unfused Q/DQ {line}") for line in rows.qdq_lines(diff)],
        *[_table(title, header, body) for title, header, body in rows.diff_tables(diff, top)],
        *_notes(diff.notes),
        Text(diff.verdict_line, style=_VERDICT_STYLE[diff.verdict], no_wrap=True, overflow="ignore"),
    ]
    return Group(*parts)


def render(renderable: RenderableType, width: int | None = None) -> str:
    """Render to plain text (no colour codes) at ``width`` columns (defaults to 120)."""
    console = Console(width=width or 120, record=True, force_terminal=False, color_system=None, markup=False,
                      emoji=False)
    with console.capture() as capture:
        console.print(renderable, crop=False)
    return capture.get()


def build_status_line(report: EngineReport, output: Path, files: tuple[str, ...]) -> str:
    """``PASSED | onnxruntime: 13 layers, 6 leftover Q/DQ | median latency 0.025 ms | wrote ...``."""
    latency = f" | median latency {report.latency.median:.3f} ms" if report.latency else ""
    backend = report.backend + (f", {report.build_mode.split(' (')[0]} build" if report.build_mode else "")
    return (f"PASSED | {backend}: {len(report.layers)} layers, {len(report.leftover_qdq)} leftover Q/DQ"
            f"{latency} | wrote {', '.join(str(output / f) for f in files)}")
