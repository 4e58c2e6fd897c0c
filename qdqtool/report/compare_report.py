"""``qdqtool compare`` output: the JSON document (schema in the command's docstring), Markdown and rich tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from qdqtool.engine.latency import LatencyComparison
from qdqtool.engine.report import EngineReport, LayerClass
from qdqtool.report.engine_json import diff_document
from qdqtool.report.engine_markdown import table
from qdqtool.report.groups_json import check_dict

if TYPE_CHECKING:  # for type hints only: report renders what a job returned
    from qdqtool.jobs.compare import CompareResult

SCHEMA_VERSION = 1


def _count(report: EngineReport | None, cls: LayerClass) -> int | None:
    return len(report.of_class(cls)) if report is not None else None


def _names(result: CompareResult, attribute: str) -> list[str]:
    return [change.layer.name for change in getattr(result.diff, attribute)] if result.diff is not None else []


def _latency(lat: LatencyComparison | None) -> dict[str, Any] | None:
    if lat is None:
        return None
    return {
        "verdict": lat.verdict, "reason": lat.reason, "rounds": len(lat.before.values), "iterations": lat.iterations,
        "tolerance": lat.tolerance, "change": lat.change,
        "before_ms": lat.before.to_dict(), "after_ms": lat.after.to_dict(), "ratio": lat.ratios.to_dict(),
    }


def compare_document(result: CompareResult, version: str) -> dict[str, Any]:
    """The ``compare --json`` document."""
    request, merge = result.request, result.merge.result
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": f"qdqtool {version}",
        "command": "compare",
        "model": str(request.model),
        "backend": request.backend,
        "target": result.target,
        "policy": request.policy,
        "status": result.status,
        "status_line": result.status_line(),
        "merge": {"changed": result.changed, "unified": len(merge.unified), "refused": len(merge.refused),
                  "deduplicated": list(merge.deduplicated), "numeric_check": check_dict(result.merge.check)},
        "leftover_qdq": {"before": _count(result.before, LayerClass.QDQ), "after": _count(result.after, LayerClass.QDQ),
                         "removed": _names(result, "qdq_removed"), "added": _names(result, "qdq_added")},
        "reformat": {"before": _count(result.before, LayerClass.REFORMAT),
                     "after": _count(result.after, LayerClass.REFORMAT)},
        "layers": {"before": len(result.before.layers) if result.before else None,
                   "after": len(result.after.layers) if result.after else None},
        "latency": _latency(result.latency),
        "diff": diff_document(result.diff) if result.diff is not None else None,  # a diff is falsy when it regressed
        "artefacts": str(result.artefacts) if result.artefacts else None,
        "notes": list(result.notes),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _range(low: float, high: float) -> str:
    return f"{low:.3f}-{high:.3f}"


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)


def summary_rows(result: CompareResult) -> list[list[str]]:
    """(what, before, after) rows: leftover Q/DQ, reformat and layer counts, latency median and spread."""
    b, a = result.before, result.after
    rows = [
        ["leftover Q/DQ layers", _num(_count(b, LayerClass.QDQ)), _num(_count(a, LayerClass.QDQ))],
        ["reformat layers", _num(_count(b, LayerClass.REFORMAT)), _num(_count(a, LayerClass.REFORMAT))],
        ["layers", _num(len(b.layers) if b else None), _num(len(a.layers) if a else None)],
    ]
    lat = result.latency
    if lat is not None:
        rows += [
            ["latency median (ms)", _ms(lat.before.median), _ms(lat.after.median)],
            ["latency min-max (ms)", _range(lat.before.low, lat.before.high), _range(lat.after.low, lat.after.high)],
            ["latency quartiles (ms)", _range(lat.before.q1, lat.before.q3), _range(lat.after.q1, lat.after.q3)],
        ]
    return rows


def detail_lines(result: CompareResult) -> list[str]:
    """One line each: merge, numeric check, latency verdict, Q/DQ gone and new, notes."""
    merge = result.merge.result
    lines = [f"merge ({result.target}, policy {result.request.policy}): {len(merge.unified)} group(s) unified, "
             f"{len(merge.refused)} refused, {len(merge.deduplicated)} duplicate Q node(s) removed"]
    check = result.merge.check
    if check is not None:
        verdict = "passed" if check else "FAILED"
        lines.append(f"numeric check {verdict}: {check.summary()} against the {check.reference}, on {check.inputs}")
        lines += [f"note: {note}" for note in check.notes if check.random and "random" in note]
    if result.latency is not None:
        lines.append(f"latency: {result.latency.verdict} ({result.latency.change:+.1%}): {result.latency.reason}")
    gone, new = _names(result, "qdq_removed"), _names(result, "qdq_added")
    if result.diff is not None:
        lines.append(f"Q/DQ layers gone ({len(gone)}): {', '.join(gone) or 'none'}")
        lines.append(f"Q/DQ layers new ({len(new)}): {', '.join(new) or 'none'}")
    if result.artefacts:
        lines.append(f"artefacts kept in {result.artefacts} (before/, after/, the merged model)")
    lines += [f"note: {note}" for note in result.notes]
    return lines


def compare_markdown(result: CompareResult) -> str:
    request = result.request
    parts = [f"## qdqtool compare: `{request.model}` on {request.backend} (target {result.target})", "",
             f"**{result.status_line()}**", ""]
    if result.changed:
        parts += [table(["", "before", "after"], summary_rows(result)), ""]
    parts += [f"- {line}" for line in detail_lines(result)]
    return "\n".join(parts) + "\n"


def compare_renderable(result: CompareResult) -> RenderableType:
    items: list[RenderableType] = []
    if result.changed:
        grid = Table(title=f"{result.request.model} on {result.request.backend}", title_justify="left")
        for column in ("", "before", "after"):
            grid.add_column(column, justify="left" if not column else "right")
        for row in summary_rows(result):
            grid.add_row(*row)
        items.append(grid)
    items += [Text(line) for line in detail_lines(result)]
    style = "green" if result.status != "failed" else "bold red"
    items.append(Text(result.status_line(), style=style))
    return Group(*items)
