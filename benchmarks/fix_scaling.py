"""How `merge --fix residual-add` scales with the number of residual Adds (every edit through the graph editor).

    python benchmarks/fix_scaling.py                  # 200, 1000 and 2000 blocks
    python benchmarks/fix_scaling.py --blocks 500 --repeat 3

Each model is a chain of N ResNet basic blocks (the `resnet_block` fixture's, 8 channels at 8x8) whose skip inputs
are float (pytorch-quantization's default placement): every block's Add is one fix (a DQ for the skip from the Q
already reading it), so the work grows with N. Reported per
size: the time of `checked_merge(..., fixes=("residual-add",), verify=False)` (load, the fixes through
onnx-graphsurgeon's editor, merge, save), per block, and the round trip onnx.load + onnx.save of the same file for
scale. Target: linear in N (the editor keeps its producer and consumer maps in step rather than searching the graph
per edit; before that, 2,000 Adds took 314 s). Best of --repeat runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.merge_scaling import best_of  # noqa: E402
from qdqtool.jobs.merge import MergeRequest, checked_merge  # noqa: E402
from tests.fixtures.builder import GraphBuilder  # noqa: E402


def residual_chain(blocks: int) -> onnx.ModelProto:
    """N basic blocks, each Add reading a float skip that a Q also reads (for the next convolution)."""
    b = GraphBuilder("residual_chain", style="int8")
    x = b.relu(b.conv(b.qdq(b.input("x", [1, 3, 8, 8]), 0.02, "stem.in"), 8, 3, 1, "stem.conv"), "stem.relu")
    for i in range(blocks):
        y = b.relu(b.conv(b.qdq(x, 0.03, f"b{i}.conv1.in"), 8, 3, 1, f"b{i}.conv1"), f"b{i}.relu1")
        y = b.conv(b.qdq(y, 0.025, f"b{i}.conv2.in"), 8, 3, 1, f"b{i}.conv2")
        x = b.relu(b.add(y, x, f"b{i}.add"), f"b{i}.relu2")
    b.output(x)
    return b.build()


def measure(blocks: int, folder: Path, repeat: int) -> str:
    path, out = folder / f"residual_{blocks}.onnx", folder / "fixed.onnx"
    model = residual_chain(blocks)
    onnx.save(model, path)
    fixes: list[int] = []

    def fix() -> None:
        outcome = checked_merge(MergeRequest(model=path, output=out, fixes=("residual-add",), verify=False))
        fixes.append(len(outcome.fixes))

    round_trip = best_of(lambda: onnx.save(onnx.load(path), out), repeat)
    seconds = best_of(fix, repeat)
    assert fixes[-1] == blocks, (fixes[-1], blocks)  # one fix per Add
    return (f"| {blocks} | {len(model.graph.node)} | {round_trip:.3f} | {seconds:.2f} | "
            f"{seconds / blocks * 1000:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[200, 1000, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| residual Adds | nodes | load+save s | merge --fix residual-add s | ms per Add |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="qdqtool-bench-") as tmp:
        for blocks in args.blocks:
            print(measure(blocks, Path(tmp), args.repeat), flush=True)


if __name__ == "__main__":
    main()
