"""qdqtool diff: what changed between two engines of one network (e.g. before and after `qdqtool merge`)."""

from __future__ import annotations

from pathlib import Path

import click

from qdqtool.cli.options import FiniteRange, json_option, markdown_option, opt_profile_option, report_file_option
from qdqtool.cli.output import check_formats, emit
from qdqtool.jobs.inspect import diff as diff_engines
from qdqtool.report.engine_json import diff_document, dumps
from qdqtool.report.engine_markdown import diff_markdown
from qdqtool.report.engine_tables import diff_renderable

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("diff")
@click.argument("before", type=click.Path(path_type=Path))
@click.argument("after", type=click.Path(path_type=Path))
@click.option("--before-profile", type=_FILE, default=None, help="Per-layer profile JSON of BEFORE.")
@click.option("--after-profile", type=_FILE, default=None, help="Per-layer profile JSON of AFTER.")
@click.option("--before-timing", type=_FILE, default=None, help="Per-inference times of BEFORE (--exportTimes).")
@click.option("--after-timing", type=_FILE, default=None, help="Per-inference times of AFTER (--exportTimes).")
@opt_profile_option
@click.option(
    "--time-tolerance",
    type=FiniteRange(min=0.0),
    default=2.0,
    show_default=True,
    metavar="PCT",
    help="Time changes within this many percent count as unchanged in the verdict.",
)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=15,
    show_default=True,
    help="Per-layer time changes to list in tables and Markdown (0: all; --json lists all).",
)
@json_option
@markdown_option
@report_file_option
def command(
    before: Path,
    after: Path,
    before_profile: Path | None,
    after_profile: Path | None,
    before_timing: Path | None,
    after_timing: Path | None,
    opt_profile: int | None,
    time_tolerance: float,
    top: int,
    as_json: bool,
    as_markdown: bool,
    output: str | None,
) -> None:
    """Diff two TensorRT engines of one network, layer by layer, keyed by the ONNX nodes each layer implements.

    BEFORE and AFTER are what `qdqtool inspect` reads: layer-information JSON (add --before-profile /
    --after-profile for times), folders holding one engine's files, or engine plans. One of them may be a
    trt-sim prediction (`qdqtool build MODEL --backend trt-sim`): then an agreement table says how far the
    prediction matches the real engine (layers, nodes, output precision, convolutions, standalone Q/DQ).

    Layers are paired by the set of ONNX nodes they implement (onnx_nodes), then by the largest shared
    part of it (onnx_overlap: a layer that absorbed or released nodes), then by weight names (weights:
    stable across exports), then layer names (name), then type + tensor shapes (signature). When the two
    exports number their nodes differently (Add_36 vs Add_42) the two node keys are dropped. Each pair
    says which key matched it. The report
    lists the unfused Q/DQ and reformat layers that disappeared or appeared (with their ONNX nodes), layers
    whose fusion changed (the ONNX nodes absorbed or released), output-precision changes, per-layer time
    changes (largest first), the totals and a verdict line: IMPROVED, REGRESSED, MIXED or UNCHANGED, judged
    on the unfused Q/DQ and reformat counts, the summed layer time and the median end-to-end latency.

    \b
    --json prints one document:
      schema_version     1
      command            "diff"
      verdict            "improved" | "regressed" | "mixed" | "unchanged"
      verdict_line       the verdict line as printed
      before, after      {engine: {...as in inspect}, summary: {...as in inspect}}
      renumbered         true when the ONNX node numbering differs between the engines
      notes[]            caveats (renumbering, names-only input, missing times)
      match_keys         {onnx_nodes, onnx_overlap, weights, name, signature}: pairs per key
      totals             {layers, qdq_layers, reformat_layers, layer_time_ms, qdq_reformat_ms,
                          median_latency_ms}: each {before, after, delta} (median_latency_ms null
                          unless both sides have a timing file)
      qdq                {before[], after[]: layer names, removed[], added[]:
                          {layer, nodes[], precision, avg_ms, fused_into}}
      reformat           {removed[], added[]} (same items)
      fusion_changes[]   pairs whose ONNX nodes changed
      precision_changes[] pairs whose output precision changed
      timing[]           pairs and unpaired layers with a time, largest |delta_ms| first
      pairs[]            every layer in engine order: {before, after, status (paired|removed|added),
                          key, class_before, class_after, precision_before, precision_after,
                          before_ms, after_ms, delta_ms, absorbed[], released[]}
      agreement          null, or when one side is a trt-sim prediction and the other a real engine of the
                         same ONNX: the predictor's accuracy, compared by the ONNX compute nodes of each layer:
                         {predicted, engine, layers, nodes, output_precision, convolutions: {agree, compared,
                         share}, standalone_qdq {predicted, engine, relative_error}, disagreements[]
                         {engine_layer, predicted[], differs (fusion|precision), detail}}
    Times are milliseconds; unknown values are null.

    Exit codes: 0 the diff was produced, whatever the verdict; 2 bad input or usage (one line on stderr).
    """
    check_formats(as_json, as_markdown)
    diff = diff_engines(before, after, before_profile, after_profile, before_timing, after_timing, opt_profile,
                        time_tolerance=time_tolerance / 100.0)
    if as_json:
        emit(dumps(diff_document(diff)), None, output)
    elif as_markdown:
        emit(diff_markdown(diff, top=top), None, output)
    else:
        emit(None, diff_renderable(diff, top=top), output)
