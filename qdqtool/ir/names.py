"""New names for what qdqtool adds to a graph: never one the graph already uses."""

from __future__ import annotations

from typing import Protocol


class Names(Protocol):
    """The names taken so far: a set, or an index-backed view of a graph's names."""

    def __contains__(self, name: object) -> bool: ...

    def add(self, name: str) -> None: ...


def unique_name(name: str, taken: Names) -> str:
    """``name``, else ``name_2``, ``name_3``...: the first one not in ``taken``, which then holds it."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate
