"""The HTML page of ``qdqtool report``: one self-contained file (inline CSS and SVG, no network access).

Sections (with their element ids): ``summary``, ``groups`` (the scale-group table), ``drawings`` (before/after
subgraph of each changed group, scales on the edges), ``engine-diff`` (totals and change tables), ``kernel-times``
(bar chart of per-kernel time), ``numeric-check``, ``notes``. A Content-Security-Policy forbids every external
load; a short inline script (allowed by its hash) records on ``<html>`` how many drawings and tables the browser
laid out (``data-svg-rendered``, ``data-tables-rendered``), so a headless browser can tell that the page rendered.
"""

from __future__ import annotations

import base64
import hashlib
import math
from html import escape
from importlib.metadata import version
from typing import TYPE_CHECKING

from qdqtool.gate.onnx_rules import GROUP_RULES
from qdqtool.report.check_rows import HEADER, NUMERIC, check_rows
from qdqtool.report.check_rows import title as check_title
from qdqtool.report.engine_rows import diff_tables, match_summary, totals_rows
from qdqtool.report.html.chart import kernel_time_chart, sensitivity_chart
from qdqtool.report.html.graphviz import draw_with_graphviz
from qdqtool.report.html.svg import draw_subgraph

if TYPE_CHECKING:  # for type hints only: report renders what a job returned
    from qdqtool.jobs.report import ReportData

DRAWINGS = ("auto", "builtin")

_SELF_CHECK = """(function () {
  var svgs = document.querySelectorAll("svg.qdq-drawing, svg.qdq-chart"), drawn = 0, laid = 0;
  svgs.forEach(function (s) { var b = s.getBoundingClientRect(); if (b.width > 0 && b.height > 0) drawn++; });
  var tables = document.querySelectorAll("table");
  tables.forEach(function (t) {
    if (t.getBoundingClientRect().height > 0 && getComputedStyle(t).borderCollapse === "collapse") laid++;
  });
  document.documentElement.setAttribute("data-svg-rendered", drawn + "/" + svgs.length);
  document.documentElement.setAttribute("data-tables-rendered", laid + "/" + tables.length);
})();"""

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #0f172a; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #cbd5e1; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #cbd5e1; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f1f5f9; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #15803d; font-weight: bold; } .fail { color: #b91c1c; font-weight: bold; }
.mismatched { color: #a16207; } .refused { color: #b91c1c; } .consistent { color: #15803d; }
figure { margin: 12px 0 28px; } figcaption { font-weight: bold; margin-bottom: 6px; }
.pair { display: flex; gap: 24px; align-items: flex-start; overflow-x: auto; }
.pair > div > p { margin: 0 0 4px; color: #475569; }
.note { color: #475569; }
"""


def _table(header: list[str], rows: list[list[str]], table_id: str | None = None, numeric: set[int] = frozenset()):
    attr = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{escape(str(c))}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _groups_section(data: ReportData) -> str:
    rows = []
    for change in data.changes:
        g = change.group
        lint = GROUP_RULES.get(g.rule, "QDQ100") if g.status.value != "consistent" else "-"
        if g.reasons:
            what = "; ".join(g.reasons)
        elif None in change.after.values():
            what = "unified, duplicate Q removed"
        else:
            what = "unified" if change.changed else g.status.value
        rows.append([g.id, lint, "+".join(g.rules), g.status.value, f"{len(g.quantizers)}: " +
                     ", ".join(q.name for q in g.quantizers[:4]) + (" …" if len(g.quantizers) > 4 else ""),
                     change.scale_change, f"{g.ratio:.3g}", what])
    header = ["group", "lint rule", "backend rules", "status", "quantizers", "scales (before -> after)", "ratio",
              "result"]
    table = _table(header, rows, "groups-table", {6}) if rows else "<p>The model has no scale groups.</p>"
    findings = "".join(f"<li>{escape(f.message)}</li>" for f in data.analysis.findings)
    placement = f"<h3>Placement findings</h3><ul>{findings}</ul>" if findings else ""
    return f'<section id="groups"><h2>Scale groups ({data.analysis.target})</h2>{table}{placement}</section>'


def _draw(sub, title: str, drawing: str, highlight: set[str], fallbacks: list[str]) -> str:
    if drawing == "auto":
        svg, why = draw_with_graphviz(sub, title, highlight)
        if svg is not None:
            return svg
        fallbacks.append(why)
    return draw_subgraph(sub, title, highlight)


def _drawings_section(data: ReportData, drawing: str) -> tuple[str, str]:
    """(section html, how the drawings were made)."""
    changed = data.changed
    if not changed or data.merged is None:
        return ('<section id="drawings"><h2>Changed groups</h2><p>No group changed.</p></section>',
                "no drawings")
    fallbacks: list[str] = []
    figures = []
    for change in changed:
        g = change.group
        before, after = data.drawings[g.id]
        old = {(e.src, e.dst): e.label for e in before.edges}
        new_labels = {(e.src, e.dst) for e in after.edges if e.label and old.get((e.src, e.dst)) != e.label}
        figures.append(
            f'<figure id="drawing-{escape(g.id)}"><figcaption>{escape(g.id)} ({escape("+".join(g.rules))}): '
            f"scale {escape(change.scale_change)}</figcaption><div class=pair>"
            f"<div><p>before</p>{_draw(before, f'{g.id} before', drawing, set(), fallbacks)}</div>"
            f"<div><p>after</p>{_draw(after, f'{g.id} after', drawing, new_labels, fallbacks)}</div>"
            "</div></figure>"
        )
    how = "Graphviz" if drawing == "auto" and not fallbacks else "qdqtool's own SVG layout"
    if fallbacks:
        how += f" ({fallbacks[0]})"
    legend = ('<p class=note>Yellow: QuantizeLinear, blue: DequantizeLinear, red: the op that joins the group, grey: '
              "neighbours. Edge labels: the scale of the Q/DQ producing the tensor (red: changed by the merge). "
              f"Drawn with {escape(how)}.</p>")
    return (f'<section id="drawings"><h2>Changed groups ({len(changed)})</h2>{legend}{"".join(figures)}</section>',
            how)


def _engine_section(data: ReportData) -> str:
    diff = data.diff
    if diff is None:
        return ('<section id="engine-diff"><h2>Engine diff</h2><p>No engines given (--before and --after).</p>'
                '</section><section id="kernel-times"><h2>Per-kernel time</h2><p>No engines given.</p></section>')
    verdict = escape(diff.verdict_line)
    css = "pass" if diff else "fail"
    parts = [f'<section id="engine-diff"><h2>Engine diff</h2><p class={css}>{verdict}</p>',
             f"<p>{escape(diff.before.source)} -> {escape(diff.after.source)}; layers {escape(match_summary(diff))}"
             "</p>", _table(["", "before", "after"], totals_rows(diff), "engine-totals", {1, 2})]
    for title, header, rows in diff_tables(diff):
        parts.append(f"<h3>{escape(title)}</h3>" + _table(header, rows))
    parts += [f"<p class=note>{escape(n)}</p>" for n in diff.notes]
    parts.append("</section>")
    chart = kernel_time_chart(diff)
    parts.append('<section id="kernel-times"><h2>Per-kernel time, before and after</h2>'
                 + (chart or "<p>Neither engine has per-layer times (give the profile JSON).</p>") + "</section>")
    return "".join(parts)


def _check_section(data: ReportData) -> str:
    check = data.check
    if check is None:
        why = "skipped (--no-verify)" if not data.request.verify else "not needed: nothing changed"
        return f'<section id="numeric-check"><h2>Numeric check</h2><p>{why}</p></section>'
    verdict = (f'<p class={"pass" if check else "fail"}>{"PASSED" if check else "FAILED"}: {escape(check.summary())}; '
               f"ONNX Runtime CPU</p>")
    rows = [cells for cells, _ in check_rows(check)]
    table = _table(HEADER, rows, "numeric-table", NUMERIC)
    notes = "".join(f"<p class={'fail' if check.random and 'random' in n else 'note'}>{escape(n)}</p>"
                    for n in check.notes)
    return f'<section id="numeric-check"><h2>{escape(check_title(check))}</h2>{verdict}{table}{notes}</section>'


def _sensitivity_section(data: ReportData, top: int = 30) -> str:
    result = data.sensitivity
    if result is None:
        return ""
    rows = []
    for row in result.layers[:top]:
        label = f"{row.unit.id} {row.unit.name} ({row.unit.op_type})"
        if row.in_float is not None and result.base is not None:
            value = row.in_float.snr_db - result.base.snr_db
            rows.append((label, value, f"{label}: in float the model's SNR against float is {row.in_float.snr_db:.2f} "
                                       f"dB ({value:+.2f} dB)"))
        elif row.local is not None:
            value = row.local.own.snr_db if math.isfinite(row.local.own.snr_db) else 0.0
            rows.append((label, value, f"{label}: its own SNR {row.local.own.snr_db:.2f} dB, accumulated "
                                       f"{row.local.accumulated.snr_db:.2f} dB"))
    unit = ("gain in the model's worst-slice SNR with the layer in float (dB)" if result.base is not None
            else "the layer's own SNR against float, dB (shorter: more sensitive)")
    chart = sensitivity_chart(rows, f"Layer sensitivity ({result.ranked_by})", unit)
    notes = "".join(f"<p class=note>{escape(n)}</p>" for n in result.notes)
    return (f'<section id="sensitivity"><h2>Sensitivity: the {len(rows)} most sensitive of {len(result.layers)} '
            f"layers</h2><p>ranked by {escape(result.ranked_by)}, against {escape(result.reference)}, on "
            f"{escape(result.inputs)}</p>{chart or '<p>no layer</p>'}{notes}</section>")


def _summary(data: ReportData, how: str) -> str:
    counts = {s: sum(1 for c in data.changes if c.group.status.value == s) for s in ("consistent", "mismatched",
                                                                                      "refused")}
    items = [
        f"{len(data.changes)} scale group(s): {counts['consistent']} consistent, {counts['mismatched']} mismatched, "
        f"{counts['refused']} refused; {len(data.changed)} changed by the merge",
        f"merged model: {data.merged_label}",
        f"drawings: {how}",
    ]
    if data.check is not None:
        items.append(f"numeric check: {'PASSED' if data.check else 'FAILED'} ({data.check.summary()})")
    if data.diff is not None:
        items.append(f"engines: {data.diff.verdict_line}")
    return '<section id="summary"><ul>' + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul></section>"


def render_html(data: ReportData, drawing: str = "auto") -> str:
    """The report page.

    Args:
        data (ReportData): What ``collect_report`` gathered.
        drawing (str): ``"auto"`` (Graphviz when installed, else the built-in layout) or ``"builtin"``.
            Defaults to ``"auto"``.
    """
    digest = base64.b64encode(hashlib.sha256(_SELF_CHECK.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'"
    drawings, how = _drawings_section(data, drawing)
    notes = "".join(f"<li>{escape(n)}</li>" for n in data.notes)
    title = f"qdqtool report: {data.request.model.name}"
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class=note>{escape(str(data.request.model))}, target "
        f"{escape(data.analysis.target)}; qdqtool {escape(version('qdqtool'))}</p>"
        + _summary(data, how) + _groups_section(data) + drawings + _engine_section(data) + _check_section(data)
        + _sensitivity_section(data)
        + f'<section id="notes"><h2>Notes</h2><ul>{notes or "<li>none</li>"}</ul></section>'
        + f"<script>{_SELF_CHECK}</script></body></html>\n"
    )


def status_line(data: ReportData) -> str:
    """``PASSED | 6 of 6 group(s) changed | added error +0.01 dB (limit 1 dB) | engines improved`` (or
    ``FAILED | ...``)."""
    changed = f"{len(data.changed)} of {len(data.changes)} group(s) changed"
    check = data.check
    if check is not None and not check:
        return f"FAILED | {changed} | {check.summary()}"
    checked = f" | {check.summary()}" if check is not None else ""
    engines = f" | engines {data.diff.verdict}" if data.diff is not None else ""
    return f"PASSED | {changed}{checked}{engines}"
