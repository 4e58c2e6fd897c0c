"""How long the TensorRT predictor (trt-sim) takes on YOLO-style Q/DQ graphs of growing size (issue 14's target:
under a second for 1,000 nodes).

    python benchmarks/predict_speed.py [--repeat 5]

The graphs are tests/fixtures/yolo.py's detector with more bottlenecks per C2f (ModelOpt Q/DQ placement, ultralytics
node names); the time is `predict_engine` in process (shape inference, propagation, fusion), median of --repeat
runs, model already in memory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qdqtool.engine.predictor import predict_engine  # noqa: E402
from tests.fixtures.yolo import yolo_c2f  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| bottlenecks per C2f | ONNX nodes | predicted layers | predict (s) |")
    print("|---|---|---|---|")
    for n in (1, 8, 16, 24):
        model = yolo_c2f(bottlenecks=n)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = predict_engine(model)
            times.append(time.perf_counter() - start)
        print(f"| {n} | {len(model.graph.node)} | {len(report.layers)} | {statistics.median(times):.3f} |")


if __name__ == "__main__":
    main()
