"""Property tests on random Q/DQ graphs (Hypothesis): DAGs of Conv, Concat, MaxPool, Resize, Split, Add and Reshape
over a pool of live tensors (so fan-out and joins come by themselves), with random scales, scale tensors shared
between pairs, and Constant-node scales. For every graph:

- analyze never crashes;
- merge's output passes onnx.checker, runs in ONNX Runtime, and a second merge changes nothing;
- no group that merge can fix is left mismatched;
- every node outside the groups merge changed, and every initializer they read, is byte for byte as it was.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdqtool.analysis.groups import GroupStatus, find_scale_groups
from qdqtool.analysis.rules import load_rules
from qdqtool.jobs.merge import MergeRequest, checked_merge
from tests.fixtures.builder import GraphBuilder

C, H = 4, 8  # every live tensor is (1, C, H, H): any op's output can feed any other
OPS = ("conv", "pool", "resize", "concat", "add", "split", "reshape")


@st.composite
def qdq_graphs(draw) -> onnx.ModelProto:
    storage = draw(st.sampled_from(["initializer", "constant"]))
    b = GraphBuilder("random", style="int8", seed=draw(st.integers(0, 10)), scale_storage=storage)
    live = [b.input("x", [1, C, H, H])]
    shared: dict[str, float] = {}  # pair name -> its scale: pairs whose constants another pair may share
    count = 0

    def scale() -> float:
        return draw(st.sampled_from([0.01, 0.013, 0.02, 0.027, 0.04, 0.05, 0.08]))

    def pair(x: str) -> str:
        nonlocal count
        count += 1
        name = f"p{count}"
        if storage == "initializer" and shared and draw(st.booleans()):
            other = draw(st.sampled_from(sorted(shared)))
            return b.qdq(x, shared[other], name=name, share=other)
        shared[name] = scale()
        return b.qdq(x, shared[name], name=name)

    def pick() -> str:
        return draw(st.sampled_from(live))

    for step in range(draw(st.integers(2, 9))):
        op = draw(st.sampled_from(OPS))
        n = f"n{step}"
        if op == "conv":
            out = b.relu(b.conv(pair(pick()), C, 3, pad=1, name=n), name=f"{n}.relu")
        elif op == "pool":
            out = b.maxpool(pair(pick()), 3, 1, 1, name=n)
        elif op == "resize":
            up = b.resize(pair(pick()), 2.0, name=n)
            out = b.maxpool(pair(up), 2, 2, 0, name=f"{n}.down")
        elif op == "concat":
            joined = b.concat([pair(pick()), pair(pick())], axis=1, name=n)
            out = b.conv(pair(joined), C, 1, name=f"{n}.conv")
        elif op == "add":
            a, c = pick(), pick()
            out = b.add(pair(a) if draw(st.booleans()) else a, pair(c), name=n)
        elif op == "split":
            left, right = b.split(pair(pick()), [C // 2, C // 2], axis=1, name=n)
            out = b.concat([pair(left), pair(right)], axis=1, name=f"{n}.cat")
        else:
            flat = b.reshape(pair(pick()), [1, C, H * H], name=n)
            out = b.reshape(flat, [1, C, H, H], name=f"{n}.back")
        live.append(out)
    b.output(live[-1])
    return b.build()


SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,  # the same graphs in every CI run
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RULES = load_rules("tensorrt")


def _run(model: onnx.ModelProto) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, C, H, H)).astype(np.float32)
    return session.run(None, {"x": x})


@SETTINGS
@given(model=qdq_graphs())
def test_analyze_never_crashes(model):
    analysis = find_scale_groups(model, RULES)
    assert all(g.status in GroupStatus for g in analysis.groups)


@SETTINGS
@given(model=qdq_graphs())
def test_merge_is_valid_idempotent_and_touches_only_its_groups(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("merge")
    onnx.save(model, folder / "m.onnx")
    first = checked_merge(MergeRequest(model=folder / "m.onnx", output=folder / "o.onnx", verify=False))
    if not first.changed:  # nothing to unify: the output, if written, is the input byte for byte
        assert not (folder / "o.onnx").exists() or (folder / "o.onnx").read_bytes() == (folder / "m.onnx").read_bytes()
        return
    merged = onnx.load(folder / "o.onnx")
    onnx.checker.check_model(merged, full_check=True)
    _run(merged)
    after = find_scale_groups(merged, RULES)
    assert not [g.id for g in after.groups if g.status is GroupStatus.MISMATCHED], "a fixable group was left"
    second = checked_merge(MergeRequest(model=folder / "o.onnx", output=folder / "o2.onnx", verify=False))
    assert not second.changed  # idempotent: nothing left to do, and what is written is what was read
    assert not (folder / "o2.onnx").exists() or (folder / "o2.onnx").read_bytes() == (folder / "o.onnx").read_bytes()
    changed = {a.group for a in first.result.actions if a.action in ("unified", "shared")}
    touched = {n for g in first.result.analysis.groups if g.id in changed for n in g.nodes}
    touched |= set(first.result.deduplicated)
    before = {n.name: n for n in model.graph.node}
    now = {n.name: n for n in merged.graph.node}
    readers: dict[str, set[str]] = {}
    for node in model.graph.node:
        for t in node.input:
            readers.setdefault(t, set()).add(node.name)
    # a duplicate Q that dedupe removed hands its readers to the Q it duplicated
    for name in first.result.deduplicated:
        touched |= {r for o in before[name].output for r in readers.get(o, set())}
    # a Constant node holding a changed pair's old scale goes with it (nothing reads it any more)
    touched |= {n.name for n in model.graph.node if n.op_type == "Constant"
                and all(readers.get(o, set()) <= touched for o in n.output)}
    for name, node in before.items():
        if name not in touched:
            assert name in now and now[name].SerializeToString() == node.SerializeToString(), name
    read_by_untouched = {t for n in before.values() if n.name not in touched for t in n.input}
    inits_before = {t.name: t.SerializeToString() for t in model.graph.initializer}
    inits_now = {t.name: t.SerializeToString() for t in merged.graph.initializer}
    for name in read_by_untouched & set(inits_before):
        assert inits_now.get(name) == inits_before[name], name
