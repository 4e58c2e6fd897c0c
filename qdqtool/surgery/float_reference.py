"""The float model inside a Q/DQ model: every quantize/dequantize pair taken out, the network as trained.

What accuracy is judged against when the user has no FP32 export (``--reference``): a quantized network compared
with another quantized one measures how a tiny perturbation is amplified, not what an edit did. How each pair goes
(Clip for a range that starts at 0, weights dequantized, integer data left alone): `qdqtool.surgery.dequantize`.

    >>> reference = float_reference(model)
    >>> assert not any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in reference.graph.node)
"""

from __future__ import annotations

import onnx

from qdqtool.surgery.dequantize import float_inputs


def float_reference(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` without its Q/DQ pairs; ``model`` is not modified."""
    return float_inputs(model)
