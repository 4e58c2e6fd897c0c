"""Partial quantization: chosen layers back in float, the rest of the model as it was.

A layer in float reads the float values of its quantized inputs and weights; a Q or DQ that nothing reads any
more goes with it, one that another layer still reads stays (`qdqtool.surgery.dequantize`). So the result stays
an explicit-quantization model: no half pairs, scales untouched (every scale group stays as consistent as it was),
weights of float layers float.
"""

from __future__ import annotations

from collections.abc import Collection

import onnx

from qdqtool.surgery.dequantize import float_inputs


def float_layers(model: onnx.ModelProto, layers: Collection[str]) -> onnx.ModelProto:
    """A copy of ``model`` with the named layers in float."""
    return float_inputs(model, readers=layers)


def quantized_only(model: onnx.ModelProto, layers: Collection[str]) -> onnx.ModelProto:
    """A copy of ``model`` in float but for the named layers, which keep their quantized inputs and weights."""
    return float_inputs(model, keep=layers)
