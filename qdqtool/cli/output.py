"""How commands put their output on the terminal or into a file: shared by several commands, owned by none."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import click
from rich.console import RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from qdqtool.io.atomic import write_text
from qdqtool.report.console import terminal
from qdqtool.report.engine_tables import render


def check_formats(as_json: bool, as_markdown: bool) -> None:
    if as_json and as_markdown:
        raise click.UsageError("--json and --markdown exclude each other")


def emit(text: str | None, renderable: RenderableType | None, output: str | None) -> None:
    """Print the report (text, or a rich renderable), or write it atomically to ``output``."""
    if output:
        write_text(output, text if text is not None else render(renderable))
        click.echo(f"wrote {output}", err=True)
    elif text is not None:
        click.echo(text, nl=False)
    else:
        terminal().print(renderable, crop=False)  # the verdict line must stay whole


@contextlib.contextmanager
def progress_display(enabled: bool = True) -> Iterator[Callable[[str, int | None, int | None], None] | None]:
    """A spinner with the current phase, a bar when the phase has steps, the elapsed time and, when the phase knows
    its total, the time left (stderr, transient).

    Yields None (no display) when disabled or when stderr is not a terminal.
    """
    console = terminal(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def sink(phase: str, done: int | None, total: int | None) -> None:
            bar.update(task, description=phase, completed=done or 0, total=total)

        yield sink
