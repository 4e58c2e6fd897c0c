"""The terminal console every command prints to.

rich lays tables out for 80 columns when stdout is not a terminal (a pipe, a CI log), which squeezes the columns
that matter most (status, action) to nothing. Logs are wide, so a command writing to a pipe lays its tables out
for 160 columns unless COLUMNS says otherwise.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

PIPE_WIDTH = 160


def terminal(stderr: bool = False) -> Console:
    """A Console for stdout (or stderr), wide when it is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and "COLUMNS" not in os.environ:
        width = PIPE_WIDTH
    # names from models and engines (`[/pool/Gap]`, `:x:`) are text: no markup, no emoji codes
    return Console(stderr=stderr, width=width, markup=False, emoji=False)
