"""qdqtool compare: merge, build the original and the merged model on a backend, diff them, and judge the result."""

from __future__ import annotations

from pathlib import Path

import click

from qdqtool.cli.options import (
    FiniteRange,
    backend_option,
    build_options,
    build_options_from,
    check_options,
    check_settings_from,
    fix_option,
    json_option,
    markdown_option,
    max_scale_ratio_option,
    policy_option,
    target_option,
    tool_version,
)
from qdqtool.cli.output import check_formats, progress_display
from qdqtool.errors import CheckFailed
from qdqtool.io.atomic import write_text
from qdqtool.jobs.compare import DEFAULT_TOLERANCE, MIN_ROUNDS, CompareRequest, compare
from qdqtool.report.compare_report import compare_document, compare_markdown, compare_renderable
from qdqtool.report.console import terminal
from qdqtool.report.strict_json import dumps


@click.command("compare")
@click.argument("model", type=click.Path(path_type=Path))
@backend_option
@target_option
@policy_option
@max_scale_ratio_option
@fix_option
@check_options
@click.option("--rounds", type=click.IntRange(min=MIN_ROUNDS), default=7, show_default=True,
              help="Interleaved latency rounds per model; each round is --iterations runs.")
@click.option("--tolerance", type=FiniteRange(min=0.0), default=DEFAULT_TOLERANCE * 100, show_default=True,
              metavar="PCT", help="Latency changes within this many percent are 'no gain'.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep every artefact here: the merged model, before/ and after/ (the backend's files), "
                   "compare.json.")
@build_options
@json_option
@markdown_option
def command(model: Path, backend: str, target: str | None, policy: str, max_scale_ratio: float | None,
            fixes: tuple[str, ...], rounds: int, tolerance: float,
            keep: Path | None, as_json: bool, as_markdown: bool, **params) -> None:
    """Merge MODEL, build the original and the merged model on a backend, diff them, and say if it paid off.

    Steps: `merge` for --target (default: the backend's own rules, onnxruntime-cpu for onnxruntime), with
    its numeric check; `build` of both models (see `qdqtool build --help`); the layer diff of `qdqtool
    diff`; then both models are timed in --rounds interleaved rounds (A B, B A, ...) of --iterations runs,
    and the per-round ratios after/before decide the latency verdict:

    \b
      faster      median ratio <= 1 - tolerance, upper quartile < 1, and the median latency went down
      regression  median ratio >= 1 + tolerance, lower quartile > 1, and the median latency went up
      no gain     anything else: within the tolerance, the rounds disagree (noise), or both builds
                  run the same layers (then a time difference is measurement bias)

    The verdict line reads e.g. `PASSED | leftover Q/DQ 6 -> 2 | latency 0.025 -> 0.022 ms (-13.1%,
    faster) | added error -0.13 dB (limit 3 dB)`. Only measured numbers are reported; nothing is built when the
    merge changes nothing ("nothing to merge").

    \b
    --json prints one document:
      schema_version  1
      tool, command   "qdqtool <version>", "compare"
      model, backend, target, policy
      status          "passed" | "failed" | "nothing to merge"
      status_line     the verdict line as printed
      merge           {changed, unified, refused, deduplicated[], numeric_check: null | {passed,
                       max_added_error_db, worst_added_db, reference, inputs, outputs[], ...}
                       (as in `merge --json`)}
      leftover_qdq    {before, after: counts of standalone Q/DQ layers, removed[], added[]: layer names}
      reformat        {before, after}     layers {before, after}
      latency         null (nothing built, or a backend that cannot run models) | {verdict, reason,
                       rounds, iterations, tolerance, change (after/before - 1 of the medians),
                       before_ms, after_ms: {median, q1, q3, min, max, values[] (round medians)},
                       ratio: {same keys, per-round after/before}}
      diff            null | the `diff --json` document of the two builds (its own verdict judges the
                       layers and the profiled layer sums; the decision is `status`)
      artefacts       the --keep folder or null
      notes[]
    Counts are null when nothing was built; times are milliseconds.

    Exit codes: 0 passed or nothing to merge; 1 the merged model is slower beyond the noise
    ("regression") or fails the numeric check; 2 bad input, usage, or a missing runtime.
    """
    check_formats(as_json, as_markdown)
    request = CompareRequest(
        model=model, backend=backend, target=target, policy=policy, max_scale_ratio=max_scale_ratio,
        fixes=fixes, **check_settings_from(params), build=build_options_from(params), rounds=rounds,
        tolerance=tolerance / 100.0, keep=keep,
    )
    with progress_display(not (as_json or as_markdown)) as progress:
        result = compare(request, progress)
    document = compare_document(result, tool_version())
    if keep is not None:
        write_text(keep / "compare.json", dumps(document))
    if as_json:
        click.echo(dumps(document), nl=False)
    elif as_markdown:
        click.echo(compare_markdown(result), nl=False)
    else:
        terminal().print(compare_renderable(result))
    if not result:
        if as_json or as_markdown:  # the document is on stdout: say why on stderr
            raise CheckFailed(result.status_line().removeprefix("FAILED | "))
        raise click.exceptions.Exit(1)  # the FAILED line above is the last word
