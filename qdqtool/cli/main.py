"""The ``qdqtool`` entry point: a click group that imports each command only when it is used.

Commands live one per file in ``qdqtool/cli/<name>.py`` and expose ``command``. A command whose module fails
to import is replaced by a stub that explains why, so one broken command never takes down the others
(Polygraphy's MissingTool idea).
"""

from __future__ import annotations

import importlib
import os
import signal
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
        return _guarded(importlib.import_module(f"qdqtool.cli.{module}").command)
    except ModuleNotFoundError as err:
        if err.name == f"qdqtool.cli.{module}":
            return None  # not written yet: simply not offered
        return _broken(name, err)
    except Exception as err:  # noqa: BLE001 - any import failure becomes an explained stub
        return _broken(name, err)


# the options through which commands write: a file, or (click.Path(file_okay=False)) a folder they fill
OUTPUT_OPTIONS = ("output", "keep", "annotate")


def _guarded(command: click.Command) -> click.Command:
    """``command``, checking its outputs before it runs (io/guard.py): the inputs named on the command line are
    protected, and a target that cannot be written is refused before any work is done."""
    if getattr(command, "_qdqtool_guarded", False):  # loaded again (one process, several runs): guarded once
        return command
    invoke = command.invoke

    def guarded_invoke(ctx: click.Context):
        from qdqtool.io.guard import check_target

        inputs = [v for name, v in ctx.params.items() if name not in OUTPUT_OPTIONS for v in _paths(v)]
        for param in command.params:
            value = ctx.params.get(param.name)
            if param.name in OUTPUT_OPTIONS and value not in (None, "", "-"):
                folder = isinstance(param.type, click.Path) and not param.type.file_okay
                check_target(value, folder=folder, inputs=inputs)
        try:
            return invoke(ctx)
        except BrokenPipeError:
            raise PipeClosed() from None  # past click, which would turn it into exit 1

    command.invoke = guarded_invoke
    command._qdqtool_guarded = True
    return command


def _paths(value: object) -> list[str]:
    """The existing files and folders' files an option value names (a path, or a list of them)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    found = []
    for item in values:
        if isinstance(item, (str, os.PathLike)) and str(item) and os.path.exists(item):
            if os.path.isdir(item):
                found += [os.path.join(item, n) for n in os.listdir(item)]
            else:
                found.append(str(item))
    return found


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
    from qdqtool.io.guard import run_scope

    previous = signal.signal(signal.SIGTERM, _terminated) if _main_thread() else None
    try:
        with run_scope():
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
        click.echo(f"{command}: error: {one_line(err.format_message())}", err=True)
        sys.exit(2)
    except click.ClickException as err:
        click.echo(f"qdqtool: error: {one_line(err.format_message())}", err=True)
        sys.exit(2)
    except QdqToolError as err:
        if debug:
            traceback.print_exc()
        label = "error" if err.exit_code == 2 else "failed"
        click.echo(f"qdqtool: {label}: {one_line(str(err))}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Terminated:
        sys.exit(143)  # 128 + SIGTERM, what a shell reports for a process the signal ended
    except (BrokenPipeError, PipeClosed):
        # stdout closed early (`| head`): not "checked and failed" (1); what a shell reports for SIGPIPE
        _silence_stdout()
        sys.exit(141)
    except Exception:  # noqa: BLE001 - a bug: keep its traceback, but never exit 1 ("checked and failed")
        traceback.print_exc()
        click.echo("qdqtool: internal error (a bug in qdqtool, not in your model): please report the traceback above",
                   err=True)
        sys.exit(3)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    sys.exit(0)


def one_line(message: str) -> str:
    """An error message as one printable line: a newline, a tab or an escape code in a file name the user gave is
    shown escaped (``bad\\nname.onnx``), never sent to the terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in message)


class Terminated(BaseException):
    """SIGTERM (timeout, docker stop, a cancelled CI job): raised in the main thread so that every ``finally`` and
    ``with`` on the way out removes its temporary files, as Ctrl-C does."""


class PipeClosed(BaseException):
    """stdout was closed under a command (``| head``); a BaseException so that click does not turn it into exit 1."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not report the broken pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
