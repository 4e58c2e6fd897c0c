"""Draw a small subgraph as inline SVG, without Graphviz: layers top to bottom, scales on the edges.

The layout is the classic layered one, kept simple for graphs of a few dozen nodes: each node sits one layer below
its lowest predecessor (longest path), nodes of a layer are ordered by the mean position of their predecessors,
and edges are straight lines with an arrow and their label at the middle.

    >>> svg = draw_subgraph(SubGraph([DrawNode("a.Q", "QuantizeLinear", "q")], []), "G1 before")
    >>> assert svg.startswith("<svg") and "a.Q" in svg
"""

from __future__ import annotations

from html import escape

from qdqtool.analysis.subgraph import SubGraph

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 168, 38, 28, 64, 16
FILL = {"q": "#fde68a", "dq": "#bfdbfe", "joint": "#fecaca", "context": "#e5e7eb"}
_MAX_CHARS = 24


def _short(text: str, limit: int = _MAX_CHARS) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


def layout(sub: SubGraph) -> dict[str, tuple[float, float]]:
    """Centre (x, y) of every node."""
    names = [n.name for n in sub.nodes]
    preds: dict[str, list[str]] = {n: [] for n in names}
    for e in sub.edges:
        if e.src in preds and e.dst in preds and e.src != e.dst:
            preds[e.dst].append(e.src)
    level: dict[str, int] = {}
    for name in names:  # nodes are in graph (topological) order
        level[name] = 1 + max((level[p] for p in preds[name] if p in level), default=-1)
    layers: dict[int, list[str]] = {}
    for name in names:
        layers.setdefault(level[name], []).append(name)
    width = max(len(v) for v in layers.values()) if layers else 1
    position: dict[str, tuple[float, float]] = {}
    for depth in sorted(layers):
        row = layers[depth]
        if depth:
            row.sort(key=lambda n: sum(position[p][0] for p in preds[n]) / len(preds[n]) if preds[n] else 0.0)
        offset = (width - len(row)) * (NODE_W + GAP_X) / 2
        for i, name in enumerate(row):
            x = MARGIN + offset + i * (NODE_W + GAP_X) + NODE_W / 2
            position[name] = (x, MARGIN + depth * (NODE_H + GAP_Y) + NODE_H / 2)
    return position


def draw_subgraph(sub: SubGraph, title: str, highlight: set[tuple[str, str]] | None = None) -> str:
    """One ``<svg class="qdq-drawing">`` element. Edges (src, dst) in ``highlight`` are drawn in red."""
    position = layout(sub)
    highlight = highlight or set()
    width = max((x for x, _ in position.values()), default=0) + NODE_W / 2 + MARGIN
    height = max((y for _, y in position.values()), default=0) + NODE_H / 2 + MARGIN
    parts = [
        f'<svg class="qdq-drawing" xmlns="http://www.w3.org/2000/svg" role="img" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#475569"/></marker></defs>',
    ]
    for e in sub.edges:
        if e.src not in position or e.dst not in position:
            continue
        (x1, y1), (x2, y2) = position[e.src], position[e.dst]
        y1, y2 = y1 + NODE_H / 2, y2 - NODE_H / 2
        color = "#dc2626" if (e.src, e.dst) in highlight else "#475569"
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
                     f'stroke-width="1.4" marker-end="url(#arrow)"><title>{escape(e.tensor)}</title></line>')
        if e.label:
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2
            parts.append(f'<text class="edge-label" x="{mx + 4:.1f}" y="{my:.1f}" fill="{color}">'
                         f"{escape(e.label)}</text>")
    for n in sub.nodes:
        x, y = position[n.name]
        parts.append(
            f'<g class="node node-{n.kind}"><title>{escape(n.name)} ({escape(n.op)})</title>'
            f'<rect x="{x - NODE_W / 2:.1f}" y="{y - NODE_H / 2:.1f}" width="{NODE_W}" height="{NODE_H}" rx="5" '
            f'fill="{FILL[n.kind]}" stroke="#334155"/>'
            f'<text x="{x:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-weight="bold">{escape(n.op)}</text>'
            f'<text x="{x:.1f}" y="{y + 11:.1f}" text-anchor="middle">{escape(_short(n.name))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
