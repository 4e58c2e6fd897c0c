"""Rules about the check itself (``QDQ9xx``)."""

from __future__ import annotations

from collections.abc import Iterator

from qdqtool.gate.context import LintContext
from qdqtool.gate.registry import Hit, Severity, register


@register(
    "QDQ901", "unused-waiver", "meta", Severity.INFO,
    "A waiver matched no finding.",
    """The problem it waived is gone (or the node was renamed); a stale waiver would silently hide the next
    finding on a node of that name.""",
    "Delete the waiver (or fix its rule id / node name).",
)
def unused_waiver(ctx: LintContext) -> Iterator[Hit]:
    for waiver in ctx.unused_waivers:
        yield Hit(message=f"waiver for {waiver.rule} on {', '.join(waiver.nodes)} ({waiver.source}) matched nothing",
                  nodes=waiver.nodes, key=f"{waiver.rule}:{waiver.source}")
