"""Error types.

User-facing problems raise a ``QdqToolError`` subclass: the CLI prints its message on one line and exits 2
(or 1 for ``CheckFailed``). A bug raises ``InternalError``, which sits outside that hierarchy on purpose so
that it keeps its traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


class QdqToolError(Exception):
    """A problem the user can fix: bad input, bad usage, a missing optional dependency."""

    exit_code = 2


class BadInputError(QdqToolError):
    """An input file or argument that qdqtool cannot use (not ONNX, truncated, wrong JSON kind...)."""


class InvalidGraph(BadInputError):
    """A graph no backend can load (a dangling input, a cycle, a tensor written twice...). Raised where the graph is
    read, which does not know the file; :func:`names_the_model` puts the file in front."""

    named = False


def names_the_model(path_of: Callable[..., object]) -> Callable:
    """Decorate a job: an InvalidGraph from inside it names the model file (``path_of`` gets the job's arguments)."""

    def decorate(job: Callable) -> Callable:
        @functools.wraps(job)
        def run(*args, **kwargs):
            try:
                return job(*args, **kwargs)
            except InvalidGraph as err:
                if err.named:
                    raise
                named = InvalidGraph(f"{path_of(*args, **kwargs)}: {err}")
                named.named = True
                raise named from None

        return run

    return decorate


class MissingDependencyError(QdqToolError):
    """An optional runtime (TensorRT) is not installed; the message names the extra and the CPU route."""


class CheckFailed(QdqToolError):
    """A check ran and failed (numeric threshold, CI gate): exit 1."""

    exit_code = 1


class InternalError(Exception):
    """A bug in qdqtool. Not a QdqToolError, so it is never swallowed into a one-line message."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): what a one-line error quotes."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
