"""The output-path guard: no command writes over a file it read, over a folder, a device or a link, or anywhere it
cannot write, and nothing is left behind when it refuses.

Every file qdqtool reads is noted (:func:`note_read`: the model, its external data, engine JSON, profiles,
baselines, configs, rules, input samples) by the ``io`` functions that read it. Every write goes through
:func:`check_target`, early (the CLI, before the work starts, with the inputs named on the command line) and again
when the file is published (:mod:`qdqtool.io.atomic`), against everything read by then. Paths are compared
resolved (symlinks, ``./``, ``..`` also through folders that do not exist yet, as the write would resolve them) and
by inode (hard links).

    >>> with run_scope():
    ...     note_read("m.onnx")
    ...     check_target("sub/../m.onnx")  # BadInputError: the output would overwrite the input m.onnx
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from qdqtool.errors import BadInputError


class _Reads:
    """The files read so far: resolved path and inode -> the path as the user named it."""

    def __init__(self) -> None:
        self.paths: dict[str, Path] = {}
        self.inodes: dict[tuple[int, int], Path] = {}

    def add(self, path: str | os.PathLike) -> None:
        path = Path(path)
        self.paths.setdefault(os.path.realpath(path), path)
        try:
            info = path.stat()
        except OSError:
            return
        if stat.S_ISREG(info.st_mode):
            self.inodes.setdefault((info.st_dev, info.st_ino), path)

    def find(self, path: str | os.PathLike) -> Path | None:
        found = self.paths.get(os.path.realpath(path))
        if found is not None:
            return found
        try:
            info = Path(path).stat()
        except OSError:
            return None
        return self.inodes.get((info.st_dev, info.st_ino))


_RUN: _Reads | None = None  # set for the length of one command (run_scope); a library caller has none


@contextlib.contextmanager
def run_scope() -> Iterator[None]:
    """One command's run: every file read inside it is protected from every write inside it."""
    global _RUN
    outer, _RUN = _RUN, _Reads()
    try:
        yield
    finally:
        _RUN = outer


def note_read(path: str | os.PathLike) -> None:
    """Remember that this run read ``path`` (so nothing may write over it); outside a run, nothing."""
    if _RUN is not None:
        _RUN.add(path)


def read_input(path: str | os.PathLike, what: str) -> bytes:
    """The bytes of the input file ``path``, noted as read; BadInputError (one line) when it is missing, a folder,
    not a regular file (a pipe, a device) or unreadable.

    Args:
        path (str | PathLike): The file.
        what (str): What it should be, for the messages (``"an .onnx file"``).
    """
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{_shown(path)}: no such file (expected {what})")
    if path.is_dir():
        raise BadInputError(f"{_shown(path)}: is a folder, expected {what}")
    if not path.is_file():
        raise BadInputError(f"{_shown(path)}: not a regular file (a pipe or a device), expected {what}; save it to a "
                            "file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise BadInputError(f"{_shown(path)}: cannot read it: {_reason(err)}") from None
    note_read(path)
    return data


def is_input(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Path | None:
    """The input (as the user named it) that ``path`` would overwrite, if any: one this run read, or one of
    ``inputs``."""
    extra = _Reads()
    for item in inputs:
        extra.add(item)
    found = extra.find(path)
    if found is None and _RUN is not None:
        found = _RUN.find(path)
    return found


def check_target(target: str | os.PathLike, *, folder: bool = False, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """BadInputError (one line) when ``target`` must not or cannot be written.

    Args:
        target (str | PathLike): The file (or, with ``folder``, the folder) to write.
        folder (bool): ``target`` is a folder the command fills. Defaults to False.
        inputs (Iterable): More inputs of this run to protect, beyond those already read. Defaults to none.
    """
    inputs = list(inputs)
    for path in inputs:
        note_read(path)
    target = Path(target)
    shown = _shown(target)
    _check_name(target, shown)  # first: a stat of an over-long name raises
    over = is_input(target, inputs)
    if over is not None:
        raise BadInputError(f"{shown}: the output would overwrite the input {_shown(over)}; choose another output")
    if folder:
        _check_folder_target(target, shown)
        return
    if os.path.islink(target):
        raise BadInputError(f"{shown}: is a symbolic link; name the file to write itself (qdqtool replaces files, "
                            "not links)")
    if target.exists():
        mode = target.stat().st_mode
        if stat.S_ISDIR(mode):
            raise BadInputError(f"{shown}: is a folder; give the name of the file to write")
        if not stat.S_ISREG(mode):
            raise BadInputError(f"{shown}: is not a regular file (a device, pipe or socket); choose a file to write")
    _check_writable_parent(target.parent if str(target.parent) else Path("."), shown)


def _check_folder_target(target: Path, shown: str) -> None:
    if target.exists() and not target.is_dir():
        raise BadInputError(f"{shown}: is a file, not a folder; give a folder for the output files")
    # the files it will hold are checked one by one when they are published: an input among them is refused then
    _check_writable_parent(target if target.is_dir() else target.parent, shown)


def _check_name(target: Path, shown: str) -> None:
    limit = _name_max(_existing_ancestor(target.parent))
    for part in target.parts:
        if len(os.fsencode(part)) > limit:
            raise BadInputError(f"{shown}: a name in this path is longer than the file system allows ({limit} bytes)")


def _check_writable_parent(parent: Path, shown: str) -> None:
    """The nearest existing folder must be a folder in which a file can be made (tried, then removed)."""
    existing = _existing_ancestor(parent)
    if not existing.is_dir():
        raise BadInputError(f"{shown}: {_shown(existing)} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise BadInputError(f"{shown}: cannot write in {_shown(existing)}: {_reason(err)}") from None


def _existing_ancestor(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder if folder.is_dir() else folder.parent, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _reason(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "no space left on the device"
    return err.strerror or str(err)


def _shown(path: Path) -> str:
    """A path as it can be shown on one line: control characters (a newline, escape codes) escaped."""
    text = str(path)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def os_error(target: str | os.PathLike, err: OSError) -> BadInputError:
    """A write that failed midway (a full disk, a quota, a read-only remount) as one line."""
    return BadInputError(f"{_shown(Path(target))}: cannot write the output: {_reason(err)}")
