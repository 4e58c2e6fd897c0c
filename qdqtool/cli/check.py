"""qdqtool check: the pre-deployment CI gate (lint rules on the model and the engine, baseline, waivers)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from qdqtool.cli.options import example_option, max_scale_ratio_option, target_option
from qdqtool.errors import BadInputError
from qdqtool.examples import example_model
from qdqtool.io.atomic import write_text
from qdqtool.jobs.check import FAIL_ON, CheckRequest, parse_percent, run_check
from qdqtool.report.check_json import check_json
from qdqtool.report.check_pretty import pretty_text, print_check, status_line
from qdqtool.report.console import terminal
from qdqtool.report.github import check_github
from qdqtool.report.junit import check_junit
from qdqtool.report.markdown_check import check_markdown
from qdqtool.report.sarif import check_sarif

FORMATS = {
    "json": check_json,
    "sarif": check_sarif,
    "junit": check_junit,
    "github": check_github,
    "markdown": check_markdown,
}
_PATH = click.Path(path_type=Path)


@click.command("check")
@click.argument("models", nargs=-1, type=_PATH)
@example_option
@target_option
@click.option("--engine", type=_PATH, default=None, metavar="PATH",
              help="The engine built from MODEL: layer-information JSON (trtexec --exportLayerInfo), a folder of "
                   "engine files, or a plan. Enables the engine rules (QDQ2xx).")
@click.option("--predict", is_flag=True,
              help="Predict the engine TensorRT would build on the CPU (trt-sim, no GPU) and run the engine rules "
                   "on it.")
@click.option("--strongly-typed/--no-strongly-typed", "strongly_typed", default=None,
              help="--predict: the build to predict, as `build` takes it: strongly typed (float layers in the "
                   "model's types) or TensorRT 10 INT8+FP16 flags (float layers in FP16). Default: strongly typed.")
@click.option("--profile", type=_PATH, default=None, help="Per-layer profile JSON of the engine (--exportProfile).")
@click.option("--timing", type=_PATH, default=None, help="Per-inference times of the engine (--exportTimes).")
@click.option("--baseline", type=_PATH, default=None,
              help="`qdqtool check --format json` output of the last accepted model/engine: findings it lists do "
                   "not fail the gate; worse counts and latency do (QDQ3xx).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default=None,
              help="Lowest severity that fails the gate. Default: the config's, else error.")
@click.option("--max-latency-regression", default=None, metavar="PCT",
              help="Allowed latency growth over the baseline, e.g. 3% (default 3%).")
@click.option("--max-qdq-layers", type=click.IntRange(min=0), default=None, metavar="N",
              help="Fail when the engine keeps more than N standalone Q/DQ layers.")
@max_scale_ratio_option
@click.option("--format", "fmt", type=click.Choice(["pretty", *FORMATS]), default="pretty", show_default=True,
              help="Output format.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Write --format to FILE (atomically); the terminal gets the pretty output.")
@click.option("--config", type=_PATH, default=None,
              help="Config file (qdqtool.toml or pyproject.toml). Default: qdqtool.toml beside each model, else "
                   "[tool.qdqtool] of the nearest pyproject.toml.")
@click.option("--no-config", is_flag=True, help="Ignore config files.")
@click.option("--enable", multiple=True, metavar="RULE", help="Run a rule the config disables (repeatable).")
@click.option("--disable", multiple=True, metavar="RULE", help="Do not run a rule (id or name; repeatable).")
def command(models: tuple[Path, ...], example: bool, target: str | None, engine: Path | None, predict: bool,
            strongly_typed: bool | None, profile: Path | None, timing: Path | None, baseline: Path | None,
            fail_on: str | None, max_latency_regression: str | None, max_qdq_layers: int | None,
            max_scale_ratio: float | None, fmt: str, output: Path | None, config: Path | None, no_config: bool,
            enable: tuple[str, ...], disable: tuple[str, ...]) -> None:
    """Lint MODELS for what keeps the target from fusing INT8, and gate a pipeline on it.

    ONNX rules (QDQ1xx) find mismatched scales at Concat / move-through ops / fan-out / residual Adds,
    unquantized residual skips, non-zero zero points, per-channel activations, Q/DQ on graph outputs,
    types the target cannot run. With --engine (or --predict, a CPU prediction of the TensorRT engine),
    engine rules (QDQ2xx) find standalone Q/DQ layers, too much time in reformats, and float convolutions in
    INT8 regions. With --baseline or --max-qdq-layers, gate rules
    (QDQ3xx) compare counts and latency. `qdqtool rules` documents every rule.

    Configuration: qdqtool.toml beside the model or [tool.qdqtool] in pyproject.toml (fail-on, target,
    baseline, max-latency-regression, max-qdq-layers, [rules.<id>] enabled/severity/options, [[waive]] rule +
    nodes + reason); the command line wins. Waivers can also be written on a node (metadata_props
    `qdqtool.waive` = "QDQ101: reason"). Waived findings are reported but never fail the gate.

    \b
    Formats: pretty (terminal), json (schema_version 1, see qdqtool.report.check_json; save it as the
    baseline), sarif (SARIF 2.1.0 for code scanning), junit (one test case per rule), github (workflow
    annotations), markdown (for $GITHUB_STEP_SUMMARY).
    Exit codes: 0 passed, 1 the gate failed, 2 bad input or usage.
    """
    if not models and not example:
        raise BadInputError("give one or more MODELs, or --example")
    with contextlib.ExitStack() as stack:
        if example:
            models = (*models, stack.enter_context(example_model()))
        request = CheckRequest(
            models=list(models), target=target, engine=engine, predict=predict, strongly_typed=strongly_typed,
            profile=profile, timing=timing,
            baseline=baseline, fail_on=fail_on, max_qdq_layers=max_qdq_layers, max_scale_ratio=max_scale_ratio,
            config=config, use_config=not no_config, enable=enable, disable=disable,
            max_latency_regression=None if max_latency_regression is None else parse_percent(
                max_latency_regression, "--max-latency-regression"),
        )
        result = run_check(request)
        if output is not None:
            write_text(output, pretty_text(result) if fmt == "pretty" else FORMATS[fmt](result))
        if output is not None or fmt == "pretty":
            console = terminal()
            print_check(console, result)
            if output is not None:
                console.print(f"wrote {fmt} to {output}")
            click.echo(status_line(result))  # never wrapped: CI logs grep for it
        else:
            click.echo(FORMATS[fmt](result), nl=False)
            click.echo(status_line(result), err=True)
        if not result:
            raise click.exceptions.Exit(1)  # the FAILED line is the last word

