"""Write files so that a reader never sees half of one: write beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_dir(target_dir: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder on the same file system as ``target_dir``; removed afterwards whatever happens.

    Write the files into it, then :func:`publish` them one by one (rename is atomic within a file system).
    """
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".qdqtool-", dir=target_dir))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(tmp_file: Path, target: str | os.PathLike) -> None:
    """Move a finished file from the temporary folder to its final name (atomic replace)."""
    os.replace(tmp_file, target)


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    target = Path(target)
    with atomic_dir(target.parent) as tmp:
        tmp_file = tmp / target.name
        tmp_file.write_bytes(data)
        publish(tmp_file, target)


def write_text(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes(target, text.encode("utf-8"))
