"""Rich tables for ``analyze`` and ``merge``: one row per scale group, then placement findings and notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from qdqtool.analysis.groups import Analysis, GroupStatus, ScaleGroup
from qdqtool.report import check_rows as rows
from qdqtool.surgery.unify import GroupAction

if TYPE_CHECKING:  # for type hints only: each is imported by the command that uses it
    from qdqtool.engine.predictor.kernels import KernelCounts
    from qdqtool.surgery.placement import PlacementAction
    from qdqtool.verify.numerics import NumericCheck

_STATUS_STYLE = {GroupStatus.CONSISTENT: "green", GroupStatus.MISMATCHED: "yellow", GroupStatus.REFUSED: "red"}


def _members(group: ScaleGroup, shown: int = 1) -> str:
    names = [q.name for q in group.quantizers]
    text = ", ".join(names[:shown])
    return text + (f" +{len(names) - shown}" if len(names) > shown else "")


def _action_text(group: ScaleGroup, action: GroupAction | None) -> Text:
    if action is None:
        style = _STATUS_STYLE[group.status]
        label = group.status.value
        if group.status is GroupStatus.REFUSED:
            label += ": " + "; ".join(group.reasons)
        return Text(label, style=style)
    if action.action == "unified":
        return Text(f"unified -> {action.new_scale:.6g}" + (f" zp {action.new_zero_point}" if action.new_zero_point
                                                              else ""), style="yellow")
    if action.action == "refused":
        return Text("refused: " + "; ".join(action.reasons), style="red")
    if action.action == "shared":
        return Text("already equal; now one initializer", style="green")
    return Text("already consistent", style="green")


def groups_table(
    analysis: Analysis, actions: list[GroupAction] | None = None, kernels: KernelCounts | None = None,
    compact: bool = False,
) -> Table:
    """One row per group. ``compact`` (narrow terminals) leaves the scales out and shortens the members."""
    by_group = {a.group: a for a in actions or []}
    table = Table(title=f"Scale groups for {analysis.target}", title_justify="left", expand=False)
    table.add_column("id", no_wrap=True, min_width=3)
    table.add_column("rule", no_wrap=True)
    table.add_column("Q/DQ members", no_wrap=True, overflow="ellipsis", max_width=14 if compact else 34)
    if not compact:
        table.add_column("scales", no_wrap=True)
    table.add_column("ratio", justify="right", no_wrap=True, min_width=5)
    table.add_column("action" if actions is not None else "status", min_width=10)
    if kernels is not None:
        table.add_column("kernels*", justify="right", no_wrap=True)
        table.caption = "* standalone Q/DQ kernels the group costs, predicted for TensorRT: now -> after merge"
        table.caption_justify = "left"
    for g in _shown(analysis.groups):
        kernel_cell = [_kernels_text(*kernels.groups[g.id])] if kernels is not None else []
        scales = f"{g.scale_min:.4g} .. {g.scale_max:.4g}" + (f" {'/'.join(g.dtypes)}" if g.dtypes != ["int8"] else "")
        table.add_row(
            g.id,
            "+".join(g.rules),
            f"{len(g.quantizers)}: {_members(g)}",
            *([] if compact else [scales]),
            f"{g.ratio:.3g}",
            _action_text(g, by_group.get(g.id) if actions is not None else None),
            *kernel_cell,
        )
    return table


MAX_ROWS = 40  # a terminal table of thousands of groups helps nobody (and takes seconds to lay out)


def _shown(groups: list[ScaleGroup]) -> list[ScaleGroup]:
    """The groups the table shows: all of them up to MAX_ROWS, else the ones that need work first."""
    if len(groups) <= MAX_ROWS:
        return groups
    order = {GroupStatus.REFUSED: 0, GroupStatus.MISMATCHED: 1, GroupStatus.CONSISTENT: 2}
    first = sorted(groups, key=lambda g: (order[g.status], -g.ratio))[:MAX_ROWS]
    keep = {id(g) for g in first}
    return [g for g in groups if id(g) in keep]


def _kernels_text(before: int, after: int) -> Text:
    """Standalone Q/DQ kernels the group costs (trt-sim), before -> after merge."""
    return Text(f"{before} -> {after}", style="green" if after < before else "")


def fixes_table(fixes: list[PlacementAction]) -> Table:
    """One row per placement edit of ``merge --fix``."""
    table = Table(title="Placement fixes", title_justify="left", expand=False)
    for column in ("fix", "action", "Add", "tensor", "Q/DQ", "parameters"):
        table.add_column(column)
    shown: dict[str, int] = {}
    for f in fixes:
        shown[f.fix] = shown.get(f.fix, 0) + 1
        if shown[f.fix] <= MAX_ROWS:
            params = f"{f.scale:.6g} from {f.params_from}" if f.scale is not None else ""
            table.add_row(f.fix, f.action, f.node, f.tensor, ", ".join(f.nodes), params)
    for fix, count in shown.items():
        if count > MAX_ROWS:  # (--json lists every edit)
            table.add_row(fix, f"... {count - MAX_ROWS} more", "", "", "", "")
    return table


def kernels_line(kernels: KernelCounts) -> str:
    """``predicted standalone Q/DQ kernels in the whole model (trt-sim): 10 now, 10 after merge, 3 after ...``."""
    line = (f"predicted standalone Q/DQ kernels in the whole model (trt-sim): {kernels.before} now, "
            f"{kernels.after_merge} after merge")
    if kernels.after_fix is not None and kernels.after_fix != kernels.after_merge:
        line += f", {kernels.after_fix} after merge --fix residual-add"
    return line


def print_analysis(
    console: Console, analysis: Analysis, actions: list[GroupAction] | None = None,
    kernels: KernelCounts | None = None,
) -> None:
    if analysis.groups:
        console.print(groups_table(analysis, actions, kernels, compact=console.width < 110))
        if len(analysis.groups) > MAX_ROWS:
            console.print(Text(f"... {len(analysis.groups) - MAX_ROWS} more group(s) not shown (refused and "
                               "mismatched first, widest ratio first); --json lists every group", style="dim"))
    for f in analysis.findings:
        hint = f" (already quantized for {', '.join(f.quantized_by)})" if f.quantized_by else ""
        console.print(Text(f"placement: {f.message}{hint}", style="magenta"))
    for note in analysis.notes:
        console.print(Text(f"note: {note}", style="dim"))


def summary_line(analysis: Analysis) -> str:
    if not analysis.has_qdq:
        return "nothing to do: the model has no QuantizeLinear/DequantizeLinear nodes"
    counts = {s: len(analysis.by_status(s)) for s in GroupStatus}
    parts = [
        f"{len(analysis.groups)} scale group(s) for {analysis.target}: {counts[GroupStatus.CONSISTENT]} consistent, "
        f"{counts[GroupStatus.MISMATCHED]} mismatched, {counts[GroupStatus.REFUSED]} refused"
    ]
    if analysis.findings:
        parts.append(f"{len(analysis.findings)} placement finding(s)")
    return "; ".join(parts)


def print_check(console: Console, check: NumericCheck) -> None:
    """The numeric check (rows: :mod:`qdqtool.report.check_rows`; the max errors are in --json and the HTML page),
    then its notes (random inputs said loudly)."""
    console.print(Text(rows.title(check)))
    table = Table()
    for k, column in enumerate(rows.HEADER):
        if k != rows.MAX_ERR:
            table.add_column(column, justify="right" if k in rows.NUMERIC else "left")
    for cells, over in rows.check_rows(check):
        cells = list(cells)
        cells[rows.ADDED] = Text(cells[rows.ADDED], style="red" if over else "")
        table.add_row(*rows.compact(cells))
    console.print(table)
    for note in check.notes:
        console.print(Text(f"note: {note}", style="bold yellow" if check.random and "random" in note else "dim"))
