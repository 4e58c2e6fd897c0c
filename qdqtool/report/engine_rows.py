"""Rows of text for the engine reports, shared by the rich tables and the Markdown output.

Plain strings only (no rich markup), so both renderers show the same numbers.
"""

from __future__ import annotations

from qdqtool.engine.agreement import Agreement
from qdqtool.engine.diff import EngineDiff, LayerPair, QdqChange
from qdqtool.engine.report import EngineReport, Layer
from qdqtool.engine.summary import PERCENTILES, EngineSummary

LAYER_TIME_LABEL = "sum of layer times (profiled; not the engine latency)"


def ms(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def change(before: str, after: str) -> str:
    return before if before == after else f"{before} -> {after}"


def signed_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"


def counts(by: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in by.items() if value) or "-"


def summary_rows(report: EngineReport, summary: EngineSummary) -> list[tuple[str, str]]:
    """(label, value) lines describing one engine."""
    rows = [
        ("source", report.source),
        ("layers", f"{summary.layers} ({counts(summary.by_class)})"),
        ("unfused Q/DQ layers", str(summary.by_class["qdq"])),
        ("reformat layers", str(summary.by_class["reformat"])),
        ("layer types", counts(summary.by_type)),
        ("output precision", counts(summary.by_precision)),
    ]
    if summary.conv_total:
        share = pct(summary.conv_int8_share)
        rows.append(
            (
                "INT8 convolutions",
                f"{summary.conv_int8 if summary.conv_int8 is not None else '?'} of {summary.conv_total} ({share})",
            )
        )
    if summary.layer_time_ms is not None:
        n = report.profile_runs
        runs = f", averaged over {n} run{'s' if n != 1 else ''}" if n else ""
        rows.append((LAYER_TIME_LABEL, f"{ms(summary.layer_time_ms)} ms{runs}"))
        rows.append(
            (
                "time in Q/DQ + reformat layers",
                f"{ms(summary.qdq_reformat_ms)} ms ({pct(summary.qdq_reformat_share)} of the layer time)",
            )
        )
    if summary.latency:
        lat = summary.latency
        tails = ", ".join(f"p{q} {ms(lat.percentile(q))}" for q in PERCENTILES)
        rows.append(("end-to-end latency", f"median {ms(lat.median)} ms ({tails}; {lat.runs} runs)"))
    if report.opt_profiles > 1:
        rows.append(("optimization profile", f"{report.opt_profile} of {report.opt_profiles}"))
    return rows


def layer_row(index: int, layer: Layer) -> list[str]:
    """#, name, type, class, precision in -> out, avg ms (a predicted report's bytes moved, in kB), share."""
    inputs = ",".join(t.dtype or "?" for t in layer.inputs) or "-"
    outputs = ",".join(t.dtype or "?" for t in layer.outputs) or "-"
    return [
        str(index),
        layer.name,
        layer.type or "?",
        layer.cls.value,
        f"{inputs} -> {outputs}" if layer.inputs or layer.outputs else "-",
        ms(layer.avg_ms, 4) if layer.cost is None or layer.avg_ms is not None else f"{layer.cost / 1000:.1f} kB",
        pct(layer.share),
    ]


LAYER_HEADER = ["#", "layer", "type", "class", "precision in -> out", "avg ms", "share"]
PREDICTED_LAYER_HEADER = ["#", "layer", "type", "class", "precision in -> out", "cost (predicted)", "share"]


def layer_header(report: EngineReport) -> list[str]:
    """A prediction has costs in bytes moved where a built engine has times."""
    return LAYER_HEADER if report.measured else PREDICTED_LAYER_HEADER


def qdq_change_table(items: list[QdqChange]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) for Q/DQ or reformat layers present on one side: layer, [ONNX nodes,] precision, avg ms,
    [now fused into]; the bracketed columns only when they say more than the layer name."""
    show_nodes = any(item.nodes and item.nodes != (item.layer.name,) for item in items)
    show_fused = any(item.fused_into for item in items)
    header = ["layer"] + (["ONNX nodes"] if show_nodes else []) + ["precision", "avg ms"]
    header += ["now fused into"] if show_fused else []
    body = []
    for item in items:
        layer = item.layer
        inputs = ",".join(t.dtype or "?" for t in layer.inputs)
        outputs = ",".join(t.dtype or "?" for t in layer.outputs)
        row = [layer.name] + ([", ".join(item.nodes) or "-"] if show_nodes else [])
        row += [f"{inputs} -> {outputs}" if inputs or outputs else "-", ms(layer.avg_ms, 4)]
        row += [item.fused_into or "-"] if show_fused else []
        body.append(row)
    return header, body


def pair_name(pair: LayerPair) -> str:
    """The layer as it is now (the after name), or the side that exists."""
    return (pair.after or pair.before).name


def fusion_row(pair: LayerPair) -> list[str]:
    return [pair_name(pair), pair.key or "-", ", ".join(pair.absorbed) or "-", ", ".join(pair.released) or "-"]


FUSION_HEADER = ["layer (after)", "matched by", "absorbed", "released"]


def precision_row(pair: LayerPair) -> list[str]:
    return [pair_name(pair), pair.key or "-", f"{pair.before.precision} -> {pair.after.precision}"]


PRECISION_HEADER = ["layer (after)", "matched by", "output precision"]


def timing_row(pair: LayerPair) -> list[str]:
    return [pair_name(pair), pair.status, ms(pair.before_ms, 4), ms(pair.after_ms, 4), signed_ms(pair.delta_ms)]


TIMING_HEADER = ["layer (after, or the side that exists)", "status", "before ms", "after ms", "delta ms"]
COST_HEADER = ["layer (after, or the side that exists)", "status", "before kB", "after kB", "delta kB"]


def _kb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.1f}"


def cost_row(pair: LayerPair) -> list[str]:
    """Predicted bytes moved (never a time): trt-sim reports."""
    before = pair.before.cost if pair.before else None
    after = pair.after.cost if pair.after else None
    return [pair_name(pair), pair.status, _kb(before), _kb(after), f"{(pair.delta_cost or 0) / 1000:+.1f}"]


def totals_rows(diff: EngineDiff) -> list[list[str]]:
    """[what, before, after] lines for the diff totals."""
    b, a = diff.before_summary, diff.after_summary
    rows = [
        ["layers", str(b.layers), str(a.layers)],
        ["unfused Q/DQ layers", str(b.by_class["qdq"]), str(a.by_class["qdq"])],
        ["reformat layers", str(b.by_class["reformat"]), str(a.by_class["reformat"])],
        ["INT8 convolutions", f"{b.conv_int8}/{b.conv_total}", f"{a.conv_int8}/{a.conv_total}"],
        [LAYER_TIME_LABEL + ", ms", ms(b.layer_time_ms), ms(a.layer_time_ms)],
        ["time in Q/DQ + reformat layers, ms", ms(b.qdq_reformat_ms), ms(a.qdq_reformat_ms)],
    ]
    if b.latency or a.latency:
        rows.append(
            [
                "end-to-end median latency, ms",
                ms(b.latency.median if b.latency else None),
                ms(a.latency.median if a.latency else None),
            ]
        )
    return rows


DEFAULT_TOP = 15  # timing-delta rows shown in tables and Markdown


def qdq_lines(diff: EngineDiff) -> list[str]:
    """``before (10): QuantizeLinear_2, ...`` and the same for after."""
    lines = []
    for side, report in (("before", diff.before), ("after", diff.after)):
        names = ", ".join(layer.name for layer in report.leftover_qdq) or "none"
        lines.append(f"{side} ({len(report.leftover_qdq)}): {names}")
    return lines


def diff_tables(diff: EngineDiff, top: int | None = None) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every non-empty change table of a diff, in reading order.

    Args:
        diff (EngineDiff): The diff.
        top (int): Timing-delta rows to keep; 0 keeps all. Defaults to None: ``DEFAULT_TOP``.
    """
    top = DEFAULT_TOP if top is None else top
    tables = agreement_tables(diff.agreement, top) if diff.agreement is not None else []
    for title, items in (
        ("Q/DQ layers gone", diff.qdq_removed),
        ("Q/DQ layers new", diff.qdq_added),
        ("Reformat layers gone", diff.reformat_removed),
        ("Reformat layers new", diff.reformat_added),
    ):
        if items:
            tables.append((f"{title} ({len(items)})", *qdq_change_table(items)))
    for title, pairs, header, row in (
        ("Fusion changes", diff.fusion_changes, FUSION_HEADER, fusion_row),
        ("Precision changes", diff.precision_changes, PRECISION_HEADER, precision_row),
    ):
        if pairs:
            tables.append((f"{title} ({len(pairs)})", header, [row(p) for p in pairs]))
    deltas = diff.timing_deltas
    if deltas:
        shown = deltas[:top] if top else deltas
        title = f"Largest per-layer time changes ({len(shown)} of {len(deltas)})"
        tables.append((title, TIMING_HEADER, [timing_row(p) for p in shown]))
    costs = diff.cost_deltas
    if costs:
        shown = costs[:top] if top else costs
        title = f"Largest predicted cost changes, bytes moved ({len(shown)} of {len(costs)})"
        tables.append((title, COST_HEADER, [cost_row(p) for p in shown]))
    return tables


def match_summary(diff: EngineDiff) -> str:
    keys = ", ".join(f"{key} {n}" for key, n in diff.key_counts.items() if n) or "none"
    return f"{len(diff.paired)} paired ({keys}), {len(diff.removed)} only before, {len(diff.added)} only after"


AGREEMENT_HEADER = ["compared", "agree", "what it counts"]
DISAGREEMENT_HEADER = ["engine layer", "predicted as", "differs", "how"]


def agreement_rows(agreement: Agreement) -> list[list[str]]:
    """The predictor's accuracy against a real engine, one row per measure."""
    error = agreement.qdq_error
    qdq = f"{agreement.qdq_predicted} predicted, {agreement.qdq_real} in the engine"
    return [
        ["layers", str(agreement.layers), "engine compute layers the prediction has with the same ONNX nodes"],
        ["nodes", str(agreement.nodes), "ONNX compute nodes sharing a layer with the same nodes"],
        ["output precision", str(agreement.precision), "matched layers writing the same precision"],
        ["convolutions", str(agreement.convolutions), "same epilogue (activation, Add) and output precision"],
        ["standalone Q/DQ", qdq + (f" ({error:+.0%})" if error is not None else ""), "unfused quantize kernels"],
    ]


def agreement_tables(agreement: Agreement, top: int) -> list[tuple[str, list[str], list[list[str]]]]:
    """The agreement table, then the layers the prediction gets wrong (``top`` of them; 0: all)."""
    title = f"Predictor agreement: {agreement.predicted_source} against {agreement.real_source}"
    tables = [(title, AGREEMENT_HEADER, agreement_rows(agreement))]
    wrong = agreement.disagreements
    if wrong:
        shown = wrong[:top] if top else wrong
        body = [[d.real, " | ".join(d.predicted) or "-", d.what, d.detail] for d in shown]
        tables.append((f"Layers the prediction gets wrong ({len(shown)} of {len(wrong)})", DISAGREEMENT_HEADER, body))
    return tables
