"""qdqtool sensitivity: rank the layers and scale groups of a Q/DQ model by what their quantization costs."""

from __future__ import annotations

from pathlib import Path

import click

from qdqtool.cli.options import (
    check_options,
    check_settings_from,
    jobs_option,
    json_option,
    max_scale_ratio_option,
    ops_option,
    parse_ops,
    target_option,
    tool_version,
)
from qdqtool.cli.output import progress_display
from qdqtool.io.data.shapes import parse_input_shapes
from qdqtool.jobs.sensitivity import DIRECTIONS, METRICS, MODES, SensitivityRequest, run_sensitivity
from qdqtool.report.console import terminal
from qdqtool.report.sensitivity_report import sensitivity_document, sensitivity_renderable, sensitivity_status
from qdqtool.report.strict_json import dumps


@click.command("sensitivity")
@click.argument("model", type=click.Path(path_type=Path))
@target_option
@click.option("--mode", type=click.Choice(MODES), default="local", show_default=True,
              help="local: each layer's own error, one pass (3 inferences per sample); global: end to end, one "
                   "model per layer; both.")
@click.option("--direction", type=click.Choice(DIRECTIONS), default="float", show_default=True,
              help="Global mode: the model with only that layer in float, with only that layer quantized, or both.")
@click.option("--metric", type=click.Choice(METRICS), default="snr", show_default=True,
              help="What ranks the layers (on the worst output slice against float).")
@ops_option
@click.option("--no-groups", is_flag=True, help="Do not measure the scale groups.")
@click.option("--policy", type=click.Choice(["max", "output"]), default="max", show_default=True,
              help="The merge policy local mode judges the groups with (global mode measures both).")
@max_scale_ratio_option
@jobs_option
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True,
              help="Show the N most sensitive layers (--json has all).")
@check_options
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME:1x3x640x640",
              help="Shape for a dynamic input (repeatable); also the size of image inputs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of random inputs (without --inputs).")
@json_option
def command(model: Path, target: str | None, mode: str, direction: str, metric: str, ops: str | None,
            no_groups: bool, policy: str, max_scale_ratio: float | None, jobs: int, top: int,
            input_shapes: tuple[str, ...], seed: int, as_json: bool, **params) -> None:
    """Rank MODEL's quantized layers and scale groups by what their quantization costs against float.

    Units: each layer the target runs quantized (Conv, ConvTranspose, Gemm, MatMul and the ops of the target's
    `quantized_ops`) and each scale group `merge` would unify. --mode local measures, in one pass over --inputs,
    each layer's own error (only its inputs and weights quantized, from float inputs; PPQ's layerwise analysis),
    its accumulated error, and each group's unification error; --mode global measures end to end the model with
    only that layer in float (what `qdqtool partial` would gain) and/or only that layer quantized, and each group
    unified alone by each policy. Figures are SNR, cosine and MSE of the worst output slice, as in the numeric check.

    \b
    --json: schema_version, command "sensitivity", model, target, mode, direction, metric, ranked_by, inputs,
      reference, samples, random_inputs, base (global: the model as it is: snr_db, cosine, mse of the worst slice,
      worst, added_db, outputs[] {name, snr_db, cosine, mse} of each whole output),
      layers[] and groups[] ranked ({rank, id, kind, name, op_type, nodes, key, in_float, only_quantized,
      local {own, accumulated: {snr_db, cosine, mse}} | unified {policy: score}, local {added_db}}),
      tensors[] (local: per activation Q, onnxruntime qdq_loss_debug's qdq_err and xmodel_err), notes.
    Exit codes: 0 ranked, 2 bad input or usage.
    """
    request = SensitivityRequest(
        model=model, target=target, mode=mode, direction=direction, metric=metric,
        ops=parse_ops(ops), groups=not no_groups,
        policy=policy, max_scale_ratio=max_scale_ratio, jobs=jobs, input_shapes=parse_input_shapes(input_shapes),
        seed=seed, **check_settings_from(params))
    with progress_display(not as_json) as progress:
        result = run_sensitivity(request, progress)
    if as_json:
        click.echo(dumps(sensitivity_document(result, tool_version())), nl=False)
        return
    terminal().print(sensitivity_renderable(result, top))
    click.echo(sensitivity_status(result))
