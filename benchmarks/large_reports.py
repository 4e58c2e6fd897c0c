"""How long the human and machine reports take on large inputs (issue 15's slow paths).

    python benchmarks/large_reports.py

- `qdqtool inspect` of a 33,000-layer engine JSON (convolutions, Reformat Q/DQ and Myelin quantize kernels), as
  a table and with --json;
- `qdqtool check --predict` of a ~20,000-node Q/DQ chain (benchmarks/merge_scaling.py's graph), against
  `qdqtool merge --no-verify` of the same file.

Wall times of the commands, median of --repeat runs (interpreter start and imports included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from merge_scaling import qat_chain  # noqa: E402

FP32, INT8, HALF = "Row major linear FP32", "Thirty-two wide channel vectorized row major Int8 format", "Half"


def engine(layers: int) -> dict:
    found = []
    for i in range(layers):
        tensor = {"Dimensions": [1, 64, 80, 80]}
        if i % 3 == 0:
            found.append({"Name": f"/model.{i}/conv/Conv + /model.{i}/act/Relu", "LayerType": "CaskConvolution",
                          "Inputs": [{**tensor, "Name": f"t{i}", "Format/Datatype": INT8}],
                          "Outputs": [{**tensor, "Name": f"t{i + 1}", "Format/Datatype": INT8}],
                          "Metadata": f"[ONNX Layer: /model.{i}/conv/Conv]\x1f[ONNX Layer: /model.{i}/act/Relu]"})
        elif i % 3 == 1:
            found.append({"Name": f"/model.{i}/q/QuantizeLinear", "LayerType": "Reformat", "Origin": "QDQ",
                          "Inputs": [{**tensor, "Name": f"t{i}", "Format/Datatype": FP32}],
                          "Outputs": [{**tensor, "Name": f"t{i + 1}", "Format/Datatype": INT8}]})
        else:
            found.append({"Name": f"__myl_CastMulMinMaxRounCast_myl0_{i}", "LayerType": "kgen", "Metadata": "",
                          "Inputs": [{**tensor, "Name": f"t{i}", "Format/Datatype": HALF}],
                          "Outputs": [{**tensor, "Name": f"__myln_k_arg__bb1_{i}_myl0", "Format/Datatype": "Int8"}]})
    return {"Layers": found, "Bindings": ["images", "output"]}


def wall(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qdqtool", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=33000)
    parser.add_argument("--nodes", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        layers, model = Path(tmp) / "layers.json", Path(tmp) / "chain.onnx"
        layers.write_text(json.dumps(engine(args.layers)))
        onnx.save(qat_chain(args.nodes), model)
        nodes = len(onnx.load(model).graph.node)
        merged = str(Path(tmp) / "merged.onnx")
        runs = [(f"inspect, {args.layers} layers, table", ["inspect", str(layers)]),
                (f"inspect, {args.layers} layers, --json", ["inspect", str(layers), "--json"]),
                (f"check --predict, {nodes} nodes", ["check", str(model), "--predict"]),
                (f"merge --no-verify, {nodes} nodes", ["merge", str(model), "-o", merged, "--no-verify"])]
        print("| what | wall s |\n|---|---:|")
        for what, command in runs:
            print(f"| {what} | {wall(command, args.repeat):.1f} |")

if __name__ == "__main__":
    main()
