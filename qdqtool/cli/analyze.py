"""qdqtool analyze: list the Q/DQ scale groups that block fusion on a backend, and why (read-only)."""

from __future__ import annotations

from pathlib import Path

import click

from qdqtool.cli.options import (
    example_option,
    json_option,
    max_scale_ratio_option,
    model_or_example,
    target_option,
    tool_version,
)
from qdqtool.jobs.analyze import AnalyzeRequest, analyze
from qdqtool.report.console import terminal
from qdqtool.report.groups_json import analysis_dict
from qdqtool.report.groups_table import kernels_line, print_analysis, summary_line
from qdqtool.report.strict_json import dumps


@click.command("analyze")
@click.argument("model", type=click.Path(path_type=Path), required=False)
@example_option
@target_option
@max_scale_ratio_option
@click.option("--predict/--no-predict", default=True, show_default=True,
              help="Add the kernels TensorRT would leave standalone, before and after merge (CPU predictor, "
                   "targets with a [predictor] table only).")
@json_option
def command(model: Path | None, example: bool, target: str | None, max_scale_ratio: float | None, predict: bool,
            as_json: bool) -> None:
    """List the scale groups of MODEL that a backend needs to share one scale, and whether they do.

    A scale group is a set of activation Q/DQ nodes meeting at a Concat, across an op that Q/DQ move across
    (MaxPool, Resize, Reshape...), on one tensor read by several Qs, or at a quantized residual Add. Groups are
    consistent, mismatched (`qdqtool merge` unifies them) or refused (with the reason). Residual Adds whose skip
    input is not quantized are listed as placement findings. Nothing is written.

    For the tensorrt target the "kernels*" column gives the standalone Q/DQ kernels each group costs before ->
    after `qdqtool merge`, predicted on the CPU (`--backend trt-sim`): predicted, never measured. The line below
    the table counts every standalone kernel, in groups or not (the network input's Q always stands alone).

    --json prints one document: schema_version (1), tool, command, model, target, summary (counts by status,
    placement findings), groups (id, rules, status, why, reasons, scale_min, scale_max, ratio, dtypes,
    zero_points, tensors, ops, members: node/op/scale/zero_point/dtype), findings, notes, and
    predicted_kernels when predicted.
    Exit codes: 0 analysed (also when there is nothing to do), 2 bad input.
    """
    with model_or_example(model, example) as path:
        result = analyze(AnalyzeRequest(model=path, target=target, max_scale_ratio=max_scale_ratio, predict=predict))
    if as_json:
        doc = analysis_dict(result.analysis, str(path), "analyze", tool_version(), result.kernels)
        click.echo(dumps(doc), nl=False)
        return
    print_analysis(terminal(), result.analysis, kernels=result.kernels)
    click.echo(summary_line(result.analysis))
    if result.kernels is not None:
        click.echo(kernels_line(result.kernels))
