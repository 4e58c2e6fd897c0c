"""merge on a model over the 2 GB protobuf limit (external data), end to end with the numeric check.

    python benchmarks/large_model.py [--gb 2.2] [--keep DIR]

Builds a QAT graph whose weights (one large embedding table read by a Gather, plus the usual conv/Concat/MaxPool
Q/DQ structure) exceed 2 GB, saves it with external data, runs `qdqtool merge` on it and checks that the output
keeps the external-data layout and loads. Needs about 3x the model size in free disk and 4x in memory, so it is a
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.builder import GraphBuilder  # noqa: E402


def big_model(gb: float, folder: Path) -> onnx.ModelProto:
    """The model, its big table already written to ``folder/large.onnx.data`` (protobuf cannot hold it)."""
    b = GraphBuilder("large", style="int8")
    x = b.input("x", [1, 8, 8, 8])
    y = b.relu(b.conv(b.qdq(x, 0.02, "in"), 8, 3, name="conv"), "relu")
    left = b.qdq(b.maxpool(b.qdq(y, 0.03, "mp.in"), 3, 1, 1, "mp"), 0.035, "mp.out")
    right = b.qdq(y, 0.04, "side")
    cat = b.qdq(b.concat([left, right], 1, "cat", "cat_out"), 0.05, "cat.out")
    b.output(cat)
    model = b.build()
    rows = int(gb * 2**30 / 4 / 256)
    with open(folder / "large.onnx.data", "wb") as f:
        chunk = np.ones((1 << 16, 256), np.float32).tobytes()
        for _ in range(rows >> 16):
            f.write(chunk)
        f.write(np.ones((rows % (1 << 16), 256), np.float32).tobytes())
    table = TensorProto(name="embedding.weight", data_type=TensorProto.FLOAT, dims=[rows, 256])
    table.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "large.onnx.data"), ("offset", "0"), ("length", str(rows * 256 * 4))):
        entry = table.external_data.add()
        entry.key, entry.value = key, value
    model.graph.initializer.append(table)
    model.graph.initializer.append(numpy_helper.from_array(np.array([0, rows - 1], np.int64), "ids"))
    model.graph.node.append(helper.make_node("Gather", ["embedding.weight", "ids"], ["embedded"], name="embed"))
    model.graph.output.append(helper.make_tensor_value_info("embedded", TensorProto.FLOAT, [2, 256]))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=2.2)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="qdqtool-large-"))
    try:
        run(args.gb, work)
    finally:
        if args.keep is None:  # several GB: never left behind, whatever happened
            shutil.rmtree(work, ignore_errors=True)


def run(gb: float, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    source = work / "large.onnx"
    start = time.perf_counter()
    model = big_model(gb, work)
    onnx.save_model(model, source)
    print(f"built and saved {gb} GB in {time.perf_counter() - start:.1f} s")
    out = work / "large.merged.onnx"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "qdqtool", "merge", str(source), "-o", str(out)],
                          capture_output=True, text=True)
    print(f"qdqtool merge: exit {done.returncode} in {time.perf_counter() - start:.1f} s")
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr)
    data = work / "large.merged.onnx.data"
    print(f"{out.name}: {out.stat().st_size} bytes; {data.name}: {data.stat().st_size / 2**30:.2f} GiB")
    onnx.checker.check_model(str(out))
    print("onnx.checker: ok")

if __name__ == "__main__":
    main()
