"""The ``qdqtool`` entry point: a click group that imports each command only when it is used.

Commands live one per file in ``qdqtool/cli/<name>.py`` and expose ``command``. A command whose module fails
to import is replaced by a stub that explains why, so one broken command never takes down the others
(Polygraphy's MissingTool idea).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from qdqtool.errors import QdqToolError

# name -> module under qdqtool.cli. The order is the order of `qdqtool --help`.
COMMANDS = {
    "analyze": "analyze",
    "merge": "merge",
    "sensitivity": "sensitivity",
    "partial": "partial",
    "build": "build",
    "compare": "compare",
    "inspect": "inspect",
    "diff": "diff",
    "check": "check",
    "rules": "rules",
    "report": "report",
}


def _load(name: str) -> click.Command | None:
    module = COMMANDS.get(name)
    if module is None:
        return None
    try:
        return importlib.import_module(f"qdqtool.cli.{module}").command
    except ModuleNotFoundError as err:
        if err.name == f"qdqtool.cli.{module}":
            return None  # not written yet: simply not offered
        return _broken(name, err)
    except Exception as err:  # noqa: BLE001 - any import failure becomes an explained stub
        return _broken(name, err)


def _broken(name: str, err: BaseException) -> click.Command:
    def run() -> None:
        raise QdqToolError(f"`qdqtool {name}` is unavailable: {type(err).__name__}: {err}")

    return click.Command(name, callback=run, help=f"(unavailable: {err})")


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _load(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _load(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qdqtool")
def cli() -> None:
    """Find and fix the Q/DQ scale mismatches that keep TensorRT (or ONNX Runtime) from fusing INT8 kernels.

    Add --debug to any command to see a traceback instead of a one-line error.
    """


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: exit 0 done, 1 a check failed, 2 bad input or usage (one line on stderr), 3 a bug.

    Args:
        argv (list[str]): The arguments; None (the console script, ``python -m qdqtool``) reads ``sys.argv``.
            Defaults to None.
    """
    _run(argv)


def _run(argv: list[str] | None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("QDQTOOL_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    if not args:
        args = ["--help"]  # `qdqtool` alone: the list of commands, not a usage error
    try:
        code = cli.main(args=args, prog_name="qdqtool", standalone_mode=False)
        if isinstance(code, int) and code:  # a command's click Exit(code) comes back as the return value
            sys.exit(code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except click.Abort:
        click.echo("qdqtool: aborted", err=True)
        sys.exit(130)
    except click.UsageError as err:
        if debug:
            traceback.print_exc()
        command = err.ctx.command_path if err.ctx else "qdqtool"
        click.echo(f"{command}: error: {err.format_message()}", err=True)
        sys.exit(2)
    except click.ClickException as err:
        click.echo(f"qdqtool: error: {err.format_message()}", err=True)
        sys.exit(2)
    except QdqToolError as err:
        if debug:
            traceback.print_exc()
        label = "error" if err.exit_code == 2 else "failed"
        click.echo(f"qdqtool: {label}: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:  # noqa: BLE001 - a bug: keep its traceback, but never exit 1 ("checked and failed")
        traceback.print_exc()
        click.echo("qdqtool: internal error (a bug in qdqtool, not in your model): please report the traceback above",
                   err=True)
        sys.exit(3)
    sys.exit(0)
