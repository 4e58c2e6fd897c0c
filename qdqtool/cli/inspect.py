"""qdqtool inspect: what an engine is made of, and which Q/DQ failed to fuse."""

from __future__ import annotations

from pathlib import Path

import click

from qdqtool.cli.options import json_option, markdown_option, opt_profile_option, report_file_option
from qdqtool.cli.output import check_formats, emit
from qdqtool.jobs.inspect import inspect_engine
from qdqtool.report.engine_json import dumps, inspect_document
from qdqtool.report.engine_markdown import inspect_markdown
from qdqtool.report.engine_tables import inspect_renderable

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("inspect")
@click.argument("engine", type=click.Path(path_type=Path))
@click.option(
    "--profile", type=_FILE, default=None, help="Per-layer profile JSON of the same engine (trtexec --exportProfile)."
)
@click.option(
    "--timing",
    type=_FILE,
    default=None,
    help="Per-inference times of the same engine (trtexec --exportTimes), for end-to-end latency.",
)
@opt_profile_option
@json_option
@markdown_option
@report_file_option
def command(
    engine: Path,
    profile: Path | None,
    timing: Path | None,
    opt_profile: int | None,
    as_json: bool,
    as_markdown: bool,
    output: str | None,
) -> None:
    """Inspect a TensorRT engine: layers, precisions, times, and the Q/DQ that did not fuse.

    ENGINE is a layer-information JSON (trtexec --exportLayerInfo=layers.json --profilingVerbosity=detailed),
    a folder holding one engine's files (*.graph.json / *.profile.json / *.timing.json as TREx writes them,
    or layers.json / profile.json / timing.json), or an engine.plan (needs the qdqtool[tensorrt] extra and a
    GPU). Names-only layer information (the trtexec default) is inspected as far as names allow.

    Each layer gets a class: compute, qdq (an unfused quantize/dequantize left standing), reformat, noop,
    constant or other. The summed layer time is a sum of profiled layer times, not the engine latency; the
    latency comes from --timing.

    \b
    --json prints one document:
      schema_version  1
      command         "inspect"
      engine          {source, backend, detailed, measured, opt_profile, opt_profiles,
                       profile_runs, bindings[], notes[]}
      summary         {layers, by_class{compute,qdq,reformat,noop,constant,other}, by_type{},
                       by_precision{}, conv_total, conv_int8, conv_int8_share, layer_time_ms,
                       qdq_ms, reformat_ms, qdq_reformat_ms, qdq_reformat_share,
                       latency: null | {runs, median_ms, mean_ms, min_ms, max_ms,
                                        percentiles_ms{p50,p90,p95,p99}}}
      layers[]        {name, type, class, origin, precision, tactic, onnx_nodes[], weights[],
                       avg_ms, median_ms, share, inputs[], outputs[]}
                       (tensors: {name, shape, dtype, format})
    Times are milliseconds, shares percent; unknown values are null.

    Exit codes: 0 done, 2 bad input or usage (one line on stderr).
    """
    check_formats(as_json, as_markdown)
    found = inspect_engine(engine, profile=profile, timing=timing, opt_profile=opt_profile)
    if as_json:
        emit(dumps(inspect_document(found.report, found.summary)), None, output)
    elif as_markdown:
        emit(inspect_markdown(found.report, found.summary), None, output)
    else:
        emit(None, inspect_renderable(found.report, found.summary), output)
