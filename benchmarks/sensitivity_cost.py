"""What `qdqtool sensitivity` costs on a trained model at 640x640, against its floors and onnxruntime's own tool.

    python benchmarks/sensitivity_cost.py                     # global (8 samples) and local (6 samples)
    python benchmarks/sensitivity_cost.py --only local --samples 6 9 12

Model: PP-OCRv4's trained DBNet text detector (rapidocr-onnxruntime's wheel, fetched as the tests do) quantized
int8 by onnxruntime, run at 640x640 on drawn text pages; its 64 convolutions are the units (``--ops Conv,
ConvTranspose``).

- global: end to end, one model per layer in float. Floor: units x samples x one inference (the fastest of 16
  inferences of the original model, timed in the same process); target at most 1.5x. Measured in one process
  (where a layer near the head runs only its changed region) and with 2 worker processes (whole models).
- local: qdqtool's one pass (3 inferences per sample for all layers) against onnxruntime's
  ``qdq_loss_debug`` (``modify_model_output_intermediate_tensors`` + ``collect_activations`` on both models +
  ``compute_activation_error``), on the same samples with the FP32 model the quantizer saw; each in its own
  process, so the peak resident memory (``ru_maxrss``) is its own. Both give the same per-tensor SQNR (the tests
  assert 0.1 dB; here the largest difference is printed).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = 640
OPS = ("Conv", "ConvTranspose")


def _feeds(n: int) -> list[dict[str, np.ndarray]]:
    from tests.fixtures import trained as T

    return [{"x": T.ppocr_det_input(im, limit_side_len=SIZE)} for im in T.text_images(n, (SIZE, SIZE), seed=7)]


def _models() -> tuple[Path, Path]:
    from tests.fixtures import trained as T

    return T.quantized_model("ppocr_det", "int8"), T.preprocessed_model("ppocr_det")


def global_cost(samples: int, jobs: int) -> dict:
    import onnx

    from qdqtool.analysis.rules import load_rules
    from qdqtool.analysis.units import layer_units
    from qdqtool.io.data.dataset import in_memory
    from qdqtool.ir.index import GraphIndex
    from qdqtool.verify.reference import FloatReference
    from qdqtool.verify.scoring import Scorer, Variant
    from qdqtool.verify.session import ort_session

    path, _ = _models()
    model = onnx.load(path)
    feeds = _feeds(samples)
    units = [u for u in layer_units(GraphIndex(model), load_rules("tensorrt")) if u.op_type in OPS]
    session, _ = ort_session(model, qdq_propagation=False)
    session.run(None, feeds[0])
    one = min(_timed(lambda f=f: session.run(None, f)) for f in feeds * 2)  # the fastest: the strictest floor
    scorer = Scorer(model, in_memory(feeds, model, "pages"), FloatReference.for_model(path), jobs=jobs)
    start = time.perf_counter()
    list(scorer.score_all([Variant("float", u.nodes) for u in units]))
    seconds = time.perf_counter() - start
    floor = len(units) * samples * one
    return {"units": len(units), "samples": samples, "jobs": jobs, "one_ms": one * 1000, "seconds": seconds,
            "floor_s": floor, "ratio": seconds / floor}


def local_cost(samples: int, which: str) -> dict:
    import onnx

    path, fp32 = _models()
    feeds = _feeds(samples)
    start = time.perf_counter()
    if which == "qdqtool":
        from qdqtool.analysis.rules import load_rules
        from qdqtool.analysis.units import layer_units
        from qdqtool.io.data.dataset import in_memory
        from qdqtool.ir.index import GraphIndex
        from qdqtool.verify.local import local_sensitivity

        model = onnx.load(path)
        result = local_sensitivity(model, layer_units(GraphIndex(model), load_rules("tensorrt")), [],
                                   in_memory(feeds, model, "pages"), onnx.load(fp32))
        sqnr = {t.tensor: t.xmodel.snr_db for t in result.tensors}
    else:
        from onnxruntime.quantization import qdq_loss_debug as debug

        with tempfile.TemporaryDirectory() as tmp:
            q, f = Path(tmp) / "q.onnx", Path(tmp) / "f.onnx"
            debug.modify_model_output_intermediate_tensors(str(path), str(q))
            debug.modify_model_output_intermediate_tensors(str(fp32), str(f))
            matched = debug.create_activation_matching(debug.collect_activations(str(q), feeds),
                                                       debug.collect_activations(str(f), feeds))
            sqnr = {k: v["xmodel_err"] for k, v in debug.compute_activation_error(matched).items()}
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"which": which, "samples": samples, "seconds": seconds, "peak_mb": peak, "tensors": len(sqnr),
            "sqnr": {k: (v if np.isfinite(v) else None) for k, v in sqnr.items()}}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _child(kind: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, *args], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["global", "local"], default=None)
    parser.add_argument("--samples", type=int, nargs="+", default=None)
    parser.add_argument("--child", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = global_cost(int(rest[0]), int(rest[1])) if kind == "global" else local_cost(int(rest[0]), rest[1])
        print(json.dumps(result))
        return
    if args.only in (None, "global"):
        print("| units | samples | jobs | one inference ms | global s | units x samples x inference s | ratio |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for samples in args.samples or [8]:
            for jobs in (1, 2):
                r = _child("global", str(samples), str(jobs))
                print(f"| {r['units']} | {r['samples']} | {r['jobs']} | {r['one_ms']:.0f} | {r['seconds']:.1f} | "
                      f"{r['floor_s']:.1f} | {r['ratio']:.2f}x |", flush=True)
    if args.only in (None, "local"):
        print("\n| samples | tool | s | peak resident MB | tensors | largest SQNR difference dB |")
        print("|---:|---|---:|---:|---:|---:|")
        for samples in args.samples or [6]:
            ours, theirs = _child("local", str(samples), "qdqtool"), _child("local", str(samples), "qdq_loss_debug")
            diffs = [abs(ours["sqnr"][k] - v) for k, v in theirs["sqnr"].items()
                     if v is not None and ours["sqnr"].get(k) is not None]
            for r in (ours, theirs):
                print(f"| {samples} | {r['which']} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {r['tensors']} | "
                      f"{max(diffs):.4f} |", flush=True)


if __name__ == "__main__":
    main()
