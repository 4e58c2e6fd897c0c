"""The predictor on real detector architectures with ModelOpt's QAT Q/DQ placement, exported here (issue 14).

    pip install torch==2.14.1 torchvision==0.29.1 ultralytics onnxslim "nvidia-modelopt[onnx]" huggingface_hub
    pip install -e .
    python benchmarks/ultralytics_modelopt.py [yolo26n.yaml yolo11n.yaml yolov8n.yaml]

Each model is built from its ultralytics config (random weights: nothing is downloaded), fused as ultralytics' export
does, quantized by ModelOpt's PyTorch INT8 configuration (``mtq.INT8_DEFAULT_CFG``, calibrated on two batches of
random images: the placement does not depend on the data), exported to ONNX (opset 17) and simplified with
onnxslim. The predictor then predicts a weakly typed ``--int8 --fp16`` TensorRT 10 build, with the rules file as
it is and with the TensorRT 8 rules only (the TensorRT 10 keys taken out), and prints standalone Q/DQ kernels, how
many convolutions the TensorRT 10 rules change, and the prediction time. There is no engine to compare with here;
issue 14 reports 50 standalone Q/DQ kernels for the real TensorRT 10.16 engine of a trained YOLO26n.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

TENSORRT_10_KEYS = ("int8_epilogue_apart_before", "pointwise_joins_ops", "q_stays_after_ops")


def export(config: str, path: Path) -> None:
    import modelopt.torch.quantization as mtq
    import onnx
    import onnxslim
    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)  # the random weights, so that runs agree
    model = YOLO(config).model.eval()
    model.fuse()
    for module in model.modules():  # the Detect head's export mode, as ultralytics' ONNX export sets it
        if module.__class__.__name__.endswith("Detect"):
            module.export, module.format, module.dynamic = True, "onnx", False
    images = torch.rand(8, 3, 640, 640, generator=torch.Generator().manual_seed(0))

    def calibrate(quantized: torch.nn.Module) -> None:
        with torch.no_grad():
            for batch in images.split(4):
                quantized(batch)

    model = mtq.quantize(model, mtq.INT8_DEFAULT_CFG, calibrate)
    raw = path.with_suffix(".raw.onnx")
    with torch.no_grad():
        torch.onnx.export(model, images[:1], raw, opset_version=17, input_names=["images"],
                          output_names=["output0"], dynamo=False)
    onnx.save(onnxslim.slim(onnx.load(raw)), path)


def tensorrt8_rules(folder: Path) -> Path:
    from qdqtool.analysis.rules import load_rules

    text = Path(load_rules("tensorrt").path).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith(TENSORRT_10_KEYS)]
    path = folder / "tensorrt8.toml"
    path.write_text("\n".join(lines).replace("[predictor.foreign]", "[predictor.foreign_unused]"), encoding="utf-8")
    return path


def convolutions(report) -> dict[str, tuple]:
    from qdqtool.engine.agreement import compute_nodes

    found = {}
    for layer in report.layers:
        convs = [n for n in layer.onnx_nodes if n.endswith("/Conv")]
        if convs:
            found[convs[0]] = (compute_nodes(layer), layer.precision)
    return found


def main(configs: list[str]) -> None:
    import onnx

    from qdqtool.engine.predictor import predict_engine

    print("| model | ONNX nodes | standalone Q/DQ (TensorRT 10 rules) | (TensorRT 8 rules) | convolutions | "
          "epilogues the TensorRT 10 rules change | predict (s) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old_rules = tensorrt8_rules(folder)
        for config in configs:
            path = folder / f"{Path(config).stem}.qat.onnx"
            export(config, path)
            model = onnx.load(path)
            start = time.perf_counter()
            new = predict_engine(model, "tensorrt", float_precision="fp16")
            seconds = time.perf_counter() - start
            old = predict_engine(model, str(old_rules), float_precision="fp16")
            a, b = convolutions(new), convolutions(old)
            changed = sum(1 for conv in a if a[conv][0] != b.get(conv, (None,))[0])
            print(f"| {Path(config).stem} | {len(model.graph.node)} | {len(new.leftover_qdq)} | "
                  f"{len(old.leftover_qdq)} | {len(a)} | {changed} | {seconds:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["yolo26n.yaml", "yolo11n.yaml", "yolov8n.yaml"])
