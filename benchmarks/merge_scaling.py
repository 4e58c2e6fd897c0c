"""How `merge --no-verify` scales with graph size, against a bare onnx.load + onnx.save of the same file.

    python benchmarks/merge_scaling.py            # ~2k, ~20k, ~50k nodes
    python benchmarks/merge_scaling.py --sizes 2000 --repeat 5

Each graph is a chain of YOLO-like QAT blocks (conv, MaxPool, a fan-out, a Concat), every block with mismatched
scales, so merge has real work on every block. Reported per size, in one run: the round trip (load + save),
merge in process (load + analyze + unify + dedupe + atomic save: what `checked_merge(..., verify=False)`
does), their ratio, and the wall times of the `qdqtool merge --no-verify` command and of a `python -c` script doing
the bare load + save (both add interpreter start and imports; each is run once first, so page cache and compiled
modules are warm for both, as after `pip install .`). Target: merge at most 1.5x the round trip, growing linearly.
In-process times are the best of --repeat runs, command times the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qdqtool.jobs.merge import MergeRequest, checked_merge  # noqa: E402
from tests.fixtures.builder import GraphBuilder  # noqa: E402

CHANNELS = 8


def qat_chain(target_nodes: int, seed: int = 0) -> onnx.ModelProto:
    """A QAT graph of about ``target_nodes`` nodes (22 per block)."""
    b = GraphBuilder("chain", style="int8", seed=seed)
    x = b.input("x", [1, CHANNELS, 8, 8])
    blocks = max(1, target_nodes // 22)
    for i in range(blocks):
        s = 0.01 * (1 + (i % 7) / 10)
        a = b.qdq(x, s, f"b{i}.in")
        y = b.relu(b.conv(a, CHANNELS, 1, name=f"b{i}.conv1"), name=f"b{i}.relu1")
        p = b.maxpool(b.qdq(y, s * 1.1, f"b{i}.mp"), 3, 1, 1, name=f"b{i}.maxpool")
        left = b.qdq(p, s * 1.2, f"b{i}.mpo")
        right = b.qdq(y, s * 1.3, f"b{i}.side")
        z = b.qdq(b.concat([left, right], 1, name=f"b{i}.concat"), s * 1.4, f"b{i}.cat")
        x = b.relu(b.conv(z, CHANNELS, 1, name=f"b{i}.conv2"), name=f"b{i}.relu2")
    b.output(x)
    return b.build()


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(nodes: int, repeat: int, workdir: Path) -> dict:
    model = qat_chain(nodes)
    path = workdir / f"chain_{nodes}.onnx"
    onnx.save(model, path)
    out = workdir / f"chain_{nodes}.merged.onnx"
    n_nodes = len(model.graph.node)

    def round_trip():
        onnx.save(onnx.load(path), workdir / "roundtrip.onnx")

    def merge():
        checked_merge(MergeRequest(model=path, output=out, verify=False))

    t_rt = best_of(round_trip, repeat)
    t_merge = best_of(merge, repeat)
    def wall(args: list[str]) -> float:
        # Python's default: modules compiled once and cached (an environment with PYTHONDONTWRITEBYTECODE and an
        # editable install would otherwise compile qdqtool on every run, which `pip install .` does not)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run(args, check=True, capture_output=True, env=env)  # warm-up: caches, page cache
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(args, check=True, capture_output=True, env=env)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    cli = wall([sys.executable, "-m", "qdqtool", "merge", str(path), "-o", str(out), "--no-verify"])
    script = f"import onnx; onnx.save(onnx.load({str(path)!r}), {str(workdir / 'roundtrip.onnx')!r})"
    cli_rt = wall([sys.executable, "-c", script])
    return {"nodes": n_nodes, "mb": path.stat().st_size / 1e6, "round_trip": t_rt, "merge": t_merge,
            "ratio": t_merge / t_rt, "cli": cli, "cli_rt": cli_rt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 50000])
    parser.add_argument("--repeat", type=int, default=3, help="best of N for in-process times, median for the CLI")
    args = parser.parse_args()
    print("| nodes | file MB | load+save s | merge s (in process) | merge / round trip | merge s/knode | "
          "`qdqtool merge --no-verify` wall s | `python -c` load+save wall s | wall / wall |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            r = measure(size, args.repeat, Path(tmp))
            print(f"| {r['nodes']} | {r['mb']:.2f} | {r['round_trip']:.3f} | {r['merge']:.3f} | {r['ratio']:.2f}x | "
                  f"{1000 * r['merge'] / r['nodes']:.4f} | {r['cli']:.2f} | {r['cli_rt']:.2f} | "
                  f"{r['cli'] / r['cli_rt']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
