"""`qdqtool compare --backend onnxruntime` over the fixture models, as one Markdown table.

    python benchmarks/compare_fixtures.py                       # every fixture that runs in ONNX Runtime
    python benchmarks/compare_fixtures.py -o compare.md --rounds 9 --iterations 50
    python benchmarks/compare_fixtures.py --only pool_chain yolov6_qat_uint8 --target tensorrt

Models: the registry of tests/fixtures (`FIXTURES`, those marked to run in ONNX Runtime) and the small uint8 graphs
of tests/engine/ort_graphs.py in ONNX Runtime's own scale style, with mismatched scales around MaxPool, Resize and
Reshape (plus a fan-out and a mixed-scale Concat). Each model is compared by the real command (`python -m qdqtool
compare ... --json`, one process per model); the table quotes its JSON: groups unified, leftover standalone
Q/DQ before -> after, latency median before -> after with the min-max of the round medians, the verdict
(faster / no gain / regression), what the merge added to the worst slice's error against float (dB) and the
status.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures import ort_graphs  # noqa: E402
from tests.fixtures.registry import FIXTURES  # noqa: E402

ORT_GRAPHS = {
    "ort_graphs.pool_chain": ort_graphs.pool_chain,
    "ort_graphs.resize_chain": ort_graphs.resize_chain,
    "ort_graphs.reshape_chain": ort_graphs.reshape_chain,
    "ort_graphs.fan_out": ort_graphs.fan_out,
    "ort_graphs.concat_mixed": ort_graphs.concat_mixed,
}
HEADER = ["model", "unified", "leftover Q/DQ", "latency median ms", "min-max ms (before / after)", "change",
          "latency", "added dB", "status"]


def models() -> dict:
    found = {name: build for name, build in ORT_GRAPHS.items()}
    found.update({f.name: f.build for f in FIXTURES if f.runs_in_ort})
    return found


def run_compare(path: Path, args: argparse.Namespace) -> tuple[int, dict | None, str]:
    command = [sys.executable, "-m", "qdqtool", "compare", str(path), "--backend", "onnxruntime", "--json",
               "--rounds", str(args.rounds), "--iterations", str(args.iterations), "--warmup", str(args.warmup),
               "--threads", str(args.threads)]
    if args.target:
        command += ["--target", args.target]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode not in (0, 1):
        return done.returncode, None, (done.stderr.strip().splitlines() or ["?"])[-1]
    return done.returncode, json.loads(done.stdout), ""


def row(name: str, code: int, doc: dict | None, error: str) -> list[str]:
    if doc is None:
        return [name, "-", "-", "-", "-", "-", "-", "-", f"error (exit {code}): {error[:80]}"]
    q = doc["leftover_qdq"]
    check = doc["merge"]["numeric_check"]
    added = f"{check['worst_added_db']:+.2f}" if check else "-"
    lat = doc["latency"]
    if lat is None:
        latency = spread = change = verdict = "-"
    else:
        b, a = lat["before_ms"], lat["after_ms"]
        latency = f"{b['median']:.3f} -> {a['median']:.3f}"
        spread = f"{b['min']:.3f}-{b['max']:.3f} / {a['min']:.3f}-{a['max']:.3f}"
        change, verdict = f"{lat['change']:+.1%}", lat["verdict"]
    leftover = "-" if q["before"] is None else f"{q['before']} -> {q['after']}"
    status = doc["status"] + (" (numeric check)" if check and not check["passed"] else "")
    return [name, str(doc["merge"]["unified"]), leftover, latency, spread, change, verdict, added, status]


def environment(args: argparse.Namespace) -> str:
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    target = args.target or "onnxruntime-cpu (the backend's default)"
    return (f"onnxruntime {onnxruntime.__version__}, CPUExecutionProvider, {args.threads} thread(s), {cpu}; "
            f"target {target}; {args.rounds} interleaved rounds of {args.iterations} runs after {args.warmup} "
            "warm-up runs per model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=None, help="Also write the Markdown to this file.")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="Compare only these models.")
    parser.add_argument("--target", default=None, help="Rules to merge for (default: onnxruntime-cpu).")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    chosen = models()
    if args.only:
        unknown = set(args.only) - set(chosen)
        if unknown:
            parser.error(f"unknown model(s) {sorted(unknown)}; known: {', '.join(chosen)}")
        chosen = {name: chosen[name] for name in args.only}
    rows = []
    with tempfile.TemporaryDirectory(prefix="qdqtool-bench-") as tmp:
        for name, build in chosen.items():
            path = Path(tmp) / f"{name}.onnx"
            onnx.save(build(), path)
            rows.append(row(name, *run_compare(path, args)))
            print(f"  {' | '.join(rows[-1])}", file=sys.stderr)
    lines = [f"Environment: {environment(args)}.", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.output:
        args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
