"""Draw a subgraph with Graphviz when its ``dot`` program is installed; say why not otherwise.

Graphviz is optional: :func:`draw_with_graphviz` returns ``(None, reason)`` when ``dot`` is missing, fails or
times out, and the caller falls back to the project's own drawing (:mod:`qdqtool.report.html.svg`).
"""

from __future__ import annotations

import re
import shutil
import subprocess

from qdqtool.analysis.subgraph import SubGraph
from qdqtool.report.html.svg import FILL

TIMEOUT_S = 10.0
_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(sub: SubGraph, title: str, highlight: set[tuple[str, str]] = frozenset()) -> str:
    """The DOT text of a subgraph (top to bottom, scales as edge labels, ``highlight`` edges in red)."""
    lines = [f"digraph {_quote(title)} {{", "rankdir=TB;", 'node [shape=box, style="rounded,filled", '
             'fontname="sans-serif", fontsize=10];', 'edge [fontname="sans-serif", fontsize=9];']
    for n in sub.nodes:
        lines.append(f"{_quote(n.name)} [label={_quote(n.op + chr(10) + n.name)}, fillcolor={_quote(FILL[n.kind])}];")
    for e in sub.edges:
        attrs = [f"label={_quote(e.label)}"] if e.label else []
        if (e.src, e.dst) in highlight:
            attrs += ['color="#dc2626"', 'fontcolor="#dc2626"']
        lines.append(f"{_quote(e.src)} -> {_quote(e.dst)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_with_graphviz(
    sub: SubGraph, title: str, highlight: set[tuple[str, str]] = frozenset(), dot: str | None = None
) -> tuple[str | None, str]:
    """(inline ``<svg class="qdq-drawing">``, "") from Graphviz, or (None, why it could not be used).

    Args:
        sub (SubGraph): What to draw.
        title (str): Graph title.
        highlight (set): (src, dst) of the edges to draw in red. Defaults to none.
        dot (str): The ``dot`` program. Defaults to None: ``dot`` on PATH.
    """
    program = dot or shutil.which("dot")
    if program is None:
        return None, "Graphviz is not installed"
    try:
        done = subprocess.run([program, "-Tsvg"], input=to_dot(sub, title, highlight), capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"Graphviz could not run ({type(err).__name__}: {err})"
    if done.returncode != 0 or "<svg" not in done.stdout:
        first = (done.stderr.strip().splitlines() or ["no SVG output"])[0]
        return None, f"Graphviz failed (exit {done.returncode}: {first})"
    svg = _PROLOG.sub("", done.stdout, count=1).strip()
    return svg.replace("<svg", '<svg class="qdq-drawing"', 1), ""
