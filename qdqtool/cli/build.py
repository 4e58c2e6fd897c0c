"""qdqtool build: build one model on a backend, profile and time it, and write what inspect and diff read."""

from __future__ import annotations

from pathlib import Path

import click

from qdqtool.cli.options import (
    backend_option,
    build_options,
    build_options_from,
    json_option,
    markdown_option,
    tool_version,
)
from qdqtool.cli.output import check_formats, progress_display
from qdqtool.jobs.build import build
from qdqtool.report.console import terminal
from qdqtool.report.engine_json import dumps, inspect_document
from qdqtool.report.engine_markdown import inspect_markdown
from qdqtool.report.engine_tables import build_status_line, inspect_renderable


@click.command("build")
@click.argument("model", type=click.Path(path_type=Path))
@backend_option
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the backend's files (created; files of the same names are replaced).")
@build_options
@json_option
@markdown_option
def command(model: Path, backend: str, output: Path, as_json: bool, as_markdown: bool, **params) -> None:
    """Build MODEL on a backend, profile it and time it; write files that `inspect` and `diff` read later.

    \b
    onnxruntime (CPU, real runs): one session with all graph optimisations (ORT_ENABLE_ALL), fixed
      threads (--threads), --warmup + --iterations profiled runs, then --iterations timed runs without
      profiling. Writes optimized.onnx (the graph ONNX Runtime runs), profile.json (ONNX Runtime's own
      profile) and engine_report.json. Each node of the optimised graph is one layer: QLinearConv,
      QLinearConcat, ... are compute; a standalone QuantizeLinear/DequantizeLinear is qdq; Transpose and
      the NCHWc ReorderInput/ReorderOutput are reformat.
    tensorrt (needs qdqtool[tensorrt] and a GPU): Polygraphy's NetworkFromOnnxPath -> CreateConfig ->
      EngineFromNetwork -> SaveEngine, detailed profiling verbosity, INT8+FP16 flags on TensorRT 10 or
      strongly typed (TensorRT >= 11; --strongly-typed/--no-strongly-typed). Writes engine.plan,
      layers.json (IEngineInspector), profile.json and timing.json (trtexec --exportProfile /
      --exportTimes formats) and engine_report.json. Without TensorRT it exits 2 and prints the trtexec
      command that writes the same files on a GPU machine.

    Random inputs are seeded (--seed); give dynamic input shapes with --input-shape. Prints the engine
    summary and its layers (as `inspect` does), then a PASSED line with the files written.

    --json prints the `inspect --json` document with "command": "build" and two more keys: "output"
    (the folder) and "files" (the names written). Exit codes: 0 built, 2 bad input, usage, or a missing
    runtime (one line on stderr).
    """
    check_formats(as_json, as_markdown)
    options = build_options_from(params)
    with progress_display(not (as_json or as_markdown)) as progress:
        result = build(model, backend, output, options, progress)
    if as_json:
        doc = inspect_document(result.report, result.summary)
        doc.update(command="build", tool=f"qdqtool {tool_version()}", output=str(output), files=list(result.files))
        click.echo(dumps(doc), nl=False)
    elif as_markdown:
        click.echo(inspect_markdown(result.report, result.summary), nl=False)
    else:
        console = terminal()
        console.print(inspect_renderable(result.report, result.summary))
        console.print(build_status_line(result.report, output, result.files))
