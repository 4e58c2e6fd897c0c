"""Write files so that a reader never sees half of one: write beside the target, then rename.

Every target passes the output-path guard (:mod:`qdqtool.io.guard`) when it is published: never over a file this
run read, a folder, a device or a link. A failed write leaves nothing: not the temporary folder, and not the folders
that were made for the output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from qdqtool.io.guard import check_target, os_error


@contextlib.contextmanager
def atomic_dir(target_dir: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder on the same file system as ``target_dir``; removed afterwards whatever happens.

    Write the files into it, then :func:`publish` them one by one (rename is atomic within a file system). The
    folders made for ``target_dir`` are removed again when the block fails and they are still empty.
    """
    target_dir = Path(target_dir)
    made = _missing_folders(target_dir)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".qdqtool-", dir=target_dir))
    except OSError as err:
        _remove_empty(made)
        raise os_error(target_dir, err) from None
    try:
        yield tmp
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        raise os_error(target_dir, err) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    _remove_empty(made)  # nothing published (a failed check): the folders made for it go too


def _missing_folders(folder: Path) -> list[Path]:
    """The folders ``mkdir(parents=True)`` would make for ``folder``, deepest first."""
    missing = []
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def publish(tmp_file: Path, target: str | os.PathLike) -> None:
    """Move a finished file from the temporary folder to its final name (atomic replace), through the guard."""
    check_target(target)
    os.replace(tmp_file, target)


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    target = Path(target)
    check_target(target)
    with atomic_dir(target.parent) as tmp:
        tmp_file = tmp / target.name
        tmp_file.write_bytes(data)
        publish(tmp_file, target)


def write_text(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes(target, text.encode("utf-8"))
