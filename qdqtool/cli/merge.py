"""qdqtool merge: unify the scales of each mismatched group, write a new model, check it with ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

from qdqtool.cli.options import (
    check_options,
    check_settings_from,
    example_option,
    fix_option,
    json_option,
    max_scale_ratio_option,
    model_or_example,
    policy_option,
    target_option,
    tool_version,
)
from qdqtool.cli.output import progress_display
from qdqtool.errors import CheckFailed
from qdqtool.examples import EXAMPLE
from qdqtool.io.data.shapes import parse_input_shapes
from qdqtool.jobs.merge import MergeRequest, checked_merge
from qdqtool.report.console import terminal
from qdqtool.report.groups_json import merge_document
from qdqtool.report.groups_table import fixes_table, print_analysis, print_check, summary_line
from qdqtool.report.merge_lines import failure_hint, status_line
from qdqtool.report.strict_json import dumps


@click.command("merge")
@click.argument("model", type=click.Path(path_type=Path), required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Output model. Default: MODEL.merged.onnx beside the input; ./yolov6_qat.merged.onnx for --example.")
@example_option
@target_option
@policy_option
@max_scale_ratio_option
@fix_option
@click.option("--dedupe/--no-dedupe", default=True, show_default=True,
              help="Merge Q nodes that became exact duplicates on one tensor.")
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.option("--no-verify", is_flag=True, help="Skip the ONNX Runtime numeric check.")
@check_options
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME:1x3x640x640",
              help="Shape for a dynamic input of the numeric check (repeatable); also the size of image inputs. "
                   "Unset dynamic dims are 1.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random check inputs.")
@json_option
def command(model: Path | None, output: Path | None, example: bool, target: str | None, policy: str,
            max_scale_ratio: float | None, fixes: tuple[str, ...], dedupe: bool, dry_run: bool, no_verify: bool,
            input_shapes: tuple[str, ...], seed: int, as_json: bool, **params) -> None:
    """Unify the scales of every mismatched scale group of MODEL and write a new model.

    Every member of a consistent group ends up reading one shared scale/zero-point initializer; groups that
    cannot share parameters are refused and left unchanged. The original and the merged model then run in
    ONNX Runtime on the same samples (--inputs: images, an .npz, a Polygraphy data loader), both against the
    float model (--reference, else the one inside MODEL), and each output is judged overall and per slice:
    the check fails when the merge adds more than --max-added-error dB to any slice's error against float.
    The input file is never modified; the output is written atomically, and only when the check passes.

    --fix residual-add first moves Q/DQ pairs where TensorRT needs them around residual Adds (each edit is
    listed, and checked numerically with the rest).

    --json prints the `analyze --json` document plus actions (per group: action, new_scale, new_zero_point, how),
    fixes, deduplicated, numeric_check (passed, max_added_error_db, worst_added_db, min_cosine, worst_cosine,
    reference, inputs, samples, random_inputs, outputs with overall and worst slice: added_db, worst_sample,
    original_vs_float and edited_vs_float {cosine, snr_db, max_abs}, and the merged model against the original:
    cosine, snr_db, max_abs; notes), output and dry_run.
    Exit codes: 0 done (or nothing to do), 1 the numeric check failed, 2 bad input or usage.
    """
    if example:
        output = output or Path.cwd() / "yolov6_qat.merged.onnx"
    with model_or_example(model, example) as source:
        request = MergeRequest(
            model=source, output=output, target=target, policy=policy, dedupe=dedupe,
            max_scale_ratio=max_scale_ratio, dry_run=dry_run, verify=not no_verify,
            input_shapes=parse_input_shapes(input_shapes), seed=seed, fixes=tuple(fixes), **check_settings_from(params),
        )
        with progress_display(not as_json) as progress:
            outcome = checked_merge(request, progress)
    result = outcome.result
    if as_json:
        doc = merge_document(outcome, f"example:{EXAMPLE}" if example else str(model), tool_version())
        click.echo(dumps(doc), nl=False)
    else:
        console = terminal()
        if outcome.fixes:
            console.print(fixes_table(outcome.fixes))
        print_analysis(console, result.analysis, result.actions)
        if result.deduplicated:
            console.print(f"deduplicated {len(result.deduplicated)} Q node(s): {', '.join(result.deduplicated[:6])}"
                          + (" ..." if len(result.deduplicated) > 6 else ""))
        if outcome.check is not None:
            print_check(console, outcome.check)
        for note in outcome.notes:
            console.print(Text(f"note: {note}", style="dim"))
        click.echo(summary_line(result.analysis))
        if not outcome:
            click.echo(failure_hint(outcome))
        click.echo(status_line(outcome))
    if not outcome:
        if not as_json:
            raise click.exceptions.Exit(1)  # the FAILED line above is the last word
        raise CheckFailed(f"numeric check failed: {outcome.check.summary()}; nothing written; {failure_hint(outcome)}")
