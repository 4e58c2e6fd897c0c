"""A union-find over hashable keys (path halving, union by size). A key never joined is its own root and
costs nothing: large graphs ask about many tensors that no rule joins."""

from __future__ import annotations

from collections.abc import Hashable


class UnionFind:
    def __init__(self) -> None:
        self._parent: dict[Hashable, Hashable] = {}
        self._size: dict[Hashable, int] = {}

    def find(self, key: Hashable) -> Hashable:
        parent = self._parent
        if key not in parent:
            return key
        while True:
            up = parent[key]
            if up == key:
                return key
            parent[key] = key = parent[up]

    def union(self, a: Hashable, b: Hashable) -> Hashable:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        size = self._size
        sa, sb = size.get(ra, 1), size.get(rb, 1)
        if sa < sb:
            ra, rb = rb, ra
        parent = self._parent
        parent[rb] = ra
        parent.setdefault(ra, ra)
        size[ra] = sa + sb
        return ra

    def roots(self) -> dict[Hashable, Hashable]:
        """Every joined key and its root, for loops that look up many keys: ``roots.get(key, key)`` is the
        root of any key, without a method call."""
        return {key: self.find(key) for key in list(self._parent)}
