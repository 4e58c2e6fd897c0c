"""What the numeric check costs on N samples once the float reference is cached, against the bare inferences.

    python benchmarks/check_cost.py                 # the trained text detector (480x480) and the bundled example
    python benchmarks/check_cost.py --samples 32 --repeat 5

The check of an edit runs the original and the edited model on every sample and compares both with the float
model's outputs, which come from the on-disk cache after the first run. Its floor is N x (original + edited)
inferences; what it adds is reading the samples, the cached reference, and the per-slice error sums. Reported per
model: the bare inferences (two ONNX Runtime sessions made as the check makes them, then each run on N samples held
in memory), the check (`run_check`, sessions, data and reference reads included), and their ratio. Target: at most
1.2x. Times are the best of --repeat runs, each pair run back to back so load on the machine hits both alike.

Models: PP-OCRv4's trained DBNet text detector (rapidocr-onnxruntime's wheel, downloaded like the tests do; skipped
with the reason when it cannot be had) quantized int8 by onnxruntime, on N drawn text pages (an .npz); and the bundled
example (64x64) on N seeded random samples, where the sessions are most of the time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qdqtool.jobs.merge import MergeRequest, checked_merge  # noqa: E402
from qdqtool.verify.check import CheckSettings, prepare_check, run_check  # noqa: E402
from qdqtool.verify.session import ort_session  # noqa: E402


def bare_inferences(original: Path, edited: Path, feeds: list[dict[str, np.ndarray]]) -> float:
    """Seconds for two sessions as the check makes them and N runs of each."""
    start = time.perf_counter()
    a, _ = ort_session(original, qdq_propagation=False)
    b, _ = ort_session(edited, qdq_propagation=False)
    for feed in feeds:
        a.run(None, feed)
        b.run(None, feed)
    return time.perf_counter() - start


def measure(name: str, model: Path, settings: CheckSettings, work: Path, repeat: int) -> list[str]:
    merged = work / f"{model.stem}.merged.onnx"
    outcome = checked_merge(MergeRequest(model=model, output=merged, verify=False))
    if not outcome.written:
        merged.write_bytes(model.read_bytes())  # nothing to merge: check the model against itself
    prepared = prepare_check(model, onnx.load(model, load_external_data=False), settings)
    feeds = list(prepared.data)
    run_check(model, merged, prepared)  # fills the reference cache
    bare, check = [], []
    for _ in range(repeat):
        bare.append(bare_inferences(model, merged, feeds))
        start = time.perf_counter()
        result = run_check(model, merged, prepared)
        check.append(time.perf_counter() - start)
    assert result.samples == len(feeds)
    best_bare, best_check = min(bare), min(check)
    return [name, str(len(feeds)), f"{best_bare / (2 * len(feeds)) * 1000:.1f}", f"{best_bare:.2f}",
            f"{best_check:.2f}", f"{best_check / best_bare:.2f}x"]


def text_detector(work: Path, samples: int) -> tuple[Path, CheckSettings] | str:
    from tests.fixtures import trained as T
    from tests.fixtures.trained import ModelUnavailable

    try:
        model = T.quantized_model("ppocr_det", "int8")
    except ModelUnavailable as err:
        return f"the trained text detector cannot be had: {err}"
    folder = work / "pages"
    T.save_images(T.text_images(samples, (480, 480), seed=3), folder)
    npz = work / "pages.npz"  # preprocessed once, as a calibration set usually is
    from qdqtool.io.data import open_inputs
    from qdqtool.io.data.preprocess_config import preprocess_for

    structure = onnx.load(model, load_external_data=False)
    data = open_inputs(str(folder), structure, shapes={"x": (1, 3, 480, 480)},
                       preprocess=preprocess_for(model, {"preset": "ppocr-det"}, use_config=False))
    np.savez(npz, x=np.concatenate([feed["x"] for feed in data]))
    return model, CheckSettings(inputs=npz, input_shapes={"x": (1, 3, 480, 480)})


def bundled_example(work: Path, samples: int) -> tuple[Path, CheckSettings]:
    from qdqtool.examples import example_model

    model = work / "yolov6_qat.onnx"
    with example_model() as bundled:
        model.write_bytes(bundled.read_bytes())
    rng = np.random.default_rng(0)
    npz = work / "random.npz"
    np.savez(npz, images=rng.random((samples, 3, 64, 64), dtype=np.float32))
    return model, CheckSettings(inputs=npz)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qdqtool-bench-") as tmp:
        work = Path(tmp)
        os.environ["QDQTOOL_CACHE"] = str(work / "cache")  # a cold cache, warmed by the first check
        rows = [["model", "samples", "one inference ms", "bare inferences s", "check s", "check / bare"]]
        found = text_detector(work, args.samples)
        if isinstance(found, str):
            print(f"skipped: {found}", file=sys.stderr)
        else:
            rows.append(measure("PP-OCRv4 text detector, int8, 480x480", *found, work, args.repeat))
        rows.append(measure("bundled example, 64x64", *bundled_example(work, args.samples), work, args.repeat))
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows[1:]:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
