"""qdqtool report: one self-contained HTML page about a model, its merge and its engines (and Netron annotations)."""

from __future__ import annotations

from pathlib import Path

import click

from qdqtool.cli.options import (
    check_options,
    check_settings_from,
    max_scale_ratio_option,
    policy_option,
    target_option,
)
from qdqtool.cli.output import progress_display
from qdqtool.io.atomic import write_text
from qdqtool.io.data.shapes import parse_input_shapes
from qdqtool.io.onnx_io import save_model
from qdqtool.jobs.report import ReportRequest, collect_report
from qdqtool.report.annotate import annotated_model
from qdqtool.report.html.page import DRAWINGS, render_html, status_line

_PATH = click.Path(path_type=Path)


@click.command("report")
@click.argument("model", type=_PATH)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file. Default: MODEL.report.html beside the model.")
@click.option("--merged", type=_PATH, default=None,
              help="The merged model to compare with. Default: merge MODEL in memory (nothing is written).")
@click.option("--before", type=_PATH, default=None, help="Engine built from MODEL (layer JSON, folder or plan).")
@click.option("--after", type=_PATH, default=None, help="Engine built from the merged model.")
@click.option("--before-profile", type=_PATH, default=None, help="Per-layer profile JSON of --before.")
@click.option("--after-profile", type=_PATH, default=None, help="Per-layer profile JSON of --after.")
@click.option("--annotate", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="OUT.onnx",
              help="Also write a copy of MODEL whose nodes carry their group, rule and scale change (for Netron).")
@target_option
@max_scale_ratio_option
@policy_option
@click.option("--no-verify", is_flag=True, help="Skip the ONNX Runtime numeric check.")
@check_options
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME:1x3x640x640",
              help="Shape for a dynamic input of the numeric check (repeatable); also the size of image inputs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random check inputs.")
@click.option("--sensitivity", type=click.Choice(["local", "global"]), default=None,
              help="Also rank the layers by sensitivity (see `qdqtool sensitivity --help`) and chart them.")
@click.option("--drawing", type=click.Choice(DRAWINGS), default="auto", show_default=True,
              help="auto: Graphviz when its `dot` is installed, else qdqtool's own SVG layout; builtin: always ours.")
def command(model: Path, output: Path | None, merged: Path | None, before: Path | None, after: Path | None,
            before_profile: Path | None, after_profile: Path | None, annotate: Path | None, target: str | None,
            max_scale_ratio: float | None, policy: str, no_verify: bool, input_shapes: tuple[str, ...], seed: int,
            drawing: str, sensitivity: str | None, **params) -> None:
    """Write one self-contained HTML report about MODEL: what merging its scales changes, and what it did.

    The page (no network access needed to view it) holds the scale-group table; for each group the merge
    changes, a before/after drawing of its subgraph with the scales on the edges; with --before/--after,
    the engine diff (totals, Q/DQ layers gone or new, fusion, precision and time changes) and a bar chart of
    per-kernel time before and after; and the numeric check: the original and the merged model against
    float on --inputs (see `qdqtool merge --help`).

    --annotate OUT.onnx writes a copy of MODEL whose Q/DQ nodes and joining ops carry metadata_props
    (qdqtool.group, qdqtool.rule, qdqtool.lint, qdqtool.status, qdqtool.scale) and a `qdqtool:` doc_string line.
    Exit codes: 0 written, 1 the numeric check failed (the report is still written), 2 bad input or usage.
    """
    output = output or model.with_name(model.stem + ".report.html")
    request = ReportRequest(
        model=model, merged=merged, before=before, after=after, before_profile=before_profile,
        after_profile=after_profile, target=target, max_scale_ratio=max_scale_ratio, policy=policy,
        verify=not no_verify, input_shapes=parse_input_shapes(input_shapes), seed=seed,
        outputs=tuple(p for p in (output, annotate) if p is not None), sensitivity=sensitivity,
        **check_settings_from(params),
    )
    with progress_display() as progress:
        data = collect_report(request, progress)
    write_text(output, render_html(data, drawing))
    click.echo(f"wrote {output}")
    if annotate is not None:
        annotated, count = annotated_model(data)
        save_model(annotated, annotate)
        click.echo(f"wrote {annotate} ({count} annotated node(s))")
    click.echo(status_line(data))
    if data.check is not None and not data.check:
        raise click.exceptions.Exit(1)  # the FAILED line is the last word
