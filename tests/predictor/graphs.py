"""Tiny Q/DQ graphs, one per TensorRT rule the predictor models (built with the fixtures' GraphBuilder).

Every graph starts with ``x`` (1, 4, 8, 8) and a pair ``in`` on it, so the first convolution has an INT8 input.
Node names follow the builder: pair ``p`` is nodes ``p.Q`` / ``p.DQ``; a convolution ``c`` has weight pair
``c.w.Q`` / ``c.w.DQ`` and weight ``c.weight``.
"""

from __future__ import annotations

from tests.fixtures.builder import GraphBuilder

S = 0.05  # the common activation scale
OTHER = 0.08  # a different one


def _start(name: str) -> tuple[GraphBuilder, str]:
    b = GraphBuilder(name, style="int8")
    x = b.input("x", [1, 4, 8, 8])
    return b, b.qdq(x, S, "in")


def _head(b: GraphBuilder, x: str, scale: float, name: str) -> str:
    """A quantized 1x1 convolution reading ``x`` through pair ``name``: a reader that wants INT8."""
    return b.conv(b.qdq(x, scale, name), 4, 1, name=f"{name}.conv")


def conv_chain(out_q: bool = True) -> GraphBuilder:
    """in -> c1 -> Relu -> [pair mid] -> c2 -> output. Without ``out_q`` c2 reads c1's Relu in float."""
    b, x = _start("conv_chain")
    y = b.relu(b.conv(x, 4, 3, name="c1"), "c1.relu")
    if out_q:
        y = b.qdq(y, S, "mid")
    b.output(b.conv(y, 4, 3, name="c2"))
    return b


def siblings(equal: bool) -> GraphBuilder:
    """c1's Relu output read by two Qs (heads a and b), with equal or different scales."""
    b, x = _start("siblings")
    y = b.relu(b.conv(x, 4, 3, name="c1"), "c1.relu")
    b.output(_head(b, y, S, "a"))
    b.output(_head(b, y, S if equal else OTHER, "b"))
    return b


def maxpool_after_conv(float_reader: bool) -> GraphBuilder:
    """c1 -> Relu -> MaxPool -> pair pool.out -> head; with ``float_reader`` the MaxPool output also feeds an Add."""
    b, x = _start("maxpool")
    y = b.relu(b.conv(x, 4, 3, name="c1"), "c1.relu")
    p = b.maxpool(y, 3, 1, 1, "pool")
    out = _head(b, p, S, "pool.out")
    if float_reader:
        out = b.add(out, p, "skip.add")
    b.output(out)
    return b


def dq_maxpool_q(equal: bool) -> GraphBuilder:
    """in -> DQ -> MaxPool -> Q (same or another scale) -> head conv."""
    b, x = _start("dq_maxpool_q")
    p = b.maxpool(x, 3, 1, 1, "pool")
    b.output(_head(b, p, S if equal else OTHER, "after"))
    return b


def concat(case: str) -> GraphBuilder:
    """Two convolutions -> pairs -> Concat -> pair cat.out -> head.

    ``case``: "equal" (all pairs share S), "unequal" (branch 1 has another scale), "float-input" (branch 1 feeds the
    Concat without a pair: the Q after the Concat is cloned onto it and fused into its convolution).
    """
    b, x = _start("concat")
    a = b.qdq(b.conv(x, 4, 3, name="ca"), S, "a.out")
    c = b.conv(x, 4, 3, name="cb")
    if case != "float-input":
        c = b.qdq(c, S if case == "equal" else OTHER, "b.out")
    cat = b.concat([a, c], 1, "cat")
    b.output(b.conv(b.qdq(cat, S, "cat.out"), 4, 1, name="head"))
    return b


def residual(skip: str, reader: str = "q") -> GraphBuilder:
    """x1 = Relu(c0(in)); c2 = conv(pair(x1)); Add(c2, skip) -> Relu -> ``reader``.

    ``skip``: "float" (x1 itself) or "int8" (pair res on x1, the scale of the conv's pair). ``reader``: "q" (a
    quantized head conv reads the result) or "float" (a GlobalAveragePool, in float, reads it).
    """
    b, x = _start("residual")
    x1 = b.relu(b.conv(x, 4, 3, name="c0"), "c0.relu")
    y = b.conv(b.qdq(x1, S, "c2.in"), 4, 3, name="c2")
    s = x1 if skip == "float" else b.qdq(x1, S, "res")
    z = b.relu(b.add(y, s, "add"), "add.relu")
    if reader == "q":
        b.output(_head(b, z, S, "next"))
    else:
        b.output(b.global_average_pool(z, "gap"))
    return b


def pooled(out_q: bool) -> GraphBuilder:
    """in -> GlobalAveragePool -> Flatten -> [pair fc.in] -> Gemm: a quantizable non-weighted op."""
    b, x = _start("pooled")
    f = b.flatten(b.global_average_pool(x, "gap"), "flat")
    if out_q:
        f = b.qdq(f, S, "fc.in")
    b.output(b.gemm(f, 10, "fc"))
    return b


def silu_conv() -> GraphBuilder:
    """in -> c1 -> SiLU (Sigmoid, Mul) -> pair -> c2: a pointwise subgraph fused into c1."""
    b, x = _start("silu")
    y = b.silu(b.conv(x, 4, 3, name="c1"), "act")
    b.output(b.conv(b.qdq(y, S, "mid"), 4, 3, name="c2"))
    return b
