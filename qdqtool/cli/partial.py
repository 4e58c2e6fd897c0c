"""qdqtool partial: put the most sensitive layers back in float until the model is close enough to float."""

from __future__ import annotations

from pathlib import Path

import click

from qdqtool.cli.options import (
    FiniteRange,
    check_options,
    check_settings_from,
    jobs_option,
    json_option,
    ops_option,
    parse_ops,
    target_option,
    tool_version,
)
from qdqtool.cli.output import progress_display
from qdqtool.errors import CheckFailed
from qdqtool.io.data.shapes import parse_input_shapes
from qdqtool.jobs.partial import RANKINGS, PartialRequest, run_partial
from qdqtool.report.console import terminal
from qdqtool.report.sensitivity_report import partial_document, partial_renderable, partial_status
from qdqtool.report.strict_json import dumps


@click.command("partial")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Output model. Default: MODEL.partial.onnx beside the input.")
@click.option("--keep-float", type=click.IntRange(min=0), default=None, metavar="K",
              help="Put at most K layers in float.")
@click.option("--target-snr", type=float, default=None, metavar="DB",
              help="Stop when the worst output slice's SNR against float reaches DB.")
@click.option("--target-cosine", type=FiniteRange(-1.0, 1.0), default=None, metavar="C",
              help="Stop when the worst output slice's cosine against float reaches C.")
@click.option("--rank", type=click.Choice(RANKINGS), default="global", show_default=True,
              help="global: what each layer alone in float gains, end to end; local: the layers' own error.")
@ops_option
@click.option("--max-kernels", type=click.IntRange(min=0), default=None, metavar="N",
              help="Stop before a layer would leave more than N standalone Q/DQ kernels (trt-sim prediction).")
@click.option("--max-bytes", type=FiniteRange(min=0.0), default=None, metavar="BYTES",
              help="Stop before a layer would make the engine move more than BYTES (trt-sim prediction).")
@target_option
@jobs_option
@check_options
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME:1x3x640x640",
              help="Shape for a dynamic input (repeatable); also the size of image inputs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of random inputs (without --inputs).")
@json_option
def command(model: Path, output: Path | None, keep_float: int | None, target_snr: float | None,
            target_cosine: float | None, rank: str, ops: str | None, max_kernels: int | None,
            max_bytes: float | None, target: str | None, jobs: int, input_shapes: tuple[str, ...], seed: int,
            as_json: bool, **params) -> None:
    """Put MODEL's most quantization-sensitive layers back in float until it is close enough to float.

    The layers are ranked (--rank), then taken greedily: each next layer goes to float together with those already
    taken, the whole model is measured against float on --inputs, and the layer stays in float only if that helped.
    It stops at --target-snr / --target-cosine (of the worst output slice), after --keep-float layers, or before
    --max-kernels / --max-bytes of the TensorRT prediction would be exceeded. Every step shows what it bought and
    what it costs (trt-sim: standalone Q/DQ kernels, the layer's precision, bytes moved). A layer in float reads
    float inputs and weights; Q/DQ nodes nothing reads any more go, scales are untouched. The result is checked
    like a merge and written atomically; the input is never modified.

    --json: schema_version, command "partial", model, status, status_line, target {snr_db, cosine, keep_float},
    reached, ranked_by, inputs, reference, samples, start and final {score, trt_sim {kernels, bytes_moved}},
    steps[] {step, unit, layer, op_type, kept, why, score, trt_sim {kernels, bytes_moved, precision}},
    float_layers[], numeric_check, output, notes.
    Exit codes: 0 written, 1 the target was not reached or the check failed (nothing written), 2 bad input or usage.
    """
    request = PartialRequest(
        model=model, output=output, keep_float=keep_float, target_snr=target_snr, target_cosine=target_cosine,
        rank=rank, ops=parse_ops(ops),
        max_kernels=max_kernels, max_bytes=max_bytes, target=target, jobs=jobs,
        input_shapes=parse_input_shapes(input_shapes), seed=seed, **check_settings_from(params))
    with progress_display(not as_json) as progress:
        result = run_partial(request, progress)
    if as_json:
        click.echo(dumps(partial_document(result, tool_version())), nl=False)
        if not result:
            raise CheckFailed(partial_status(result).removeprefix("FAILED | "))
        return
    terminal().print(partial_renderable(result))
    click.echo(partial_status(result))
    if not result:
        raise click.exceptions.Exit(1)  # the FAILED line is the last word
