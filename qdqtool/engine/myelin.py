"""Myelin-generated kernels (``__myl_*``, layer type ``kgen``): which of them are an unfused quantize or dequantize.

TensorRT 10 hands much of a Q/DQ network to its Myelin compiler. A quantize step that was not folded into a producer
then runs as a generated kernel named after its op sequence, each op cut to at most four letters:
``__myl_MulMinMaxRounCast_myl3_7`` (scale, clamp, round, cast to int8), ``__myl_CastMulMinMaxRounCast_...`` (the
same from FP16), tactic ``__myl_MulMinMaxRounCast_0x<hash>``; its ``Metadata`` may be empty. A dequantize is the
reverse, ``__myl_CastMul``: cast from int8, multiply by the scale. (Seen in TensorRT 10.16 INT8 engines of detectors
built with FP16 and optimisation level 5; naming as in NVIDIA's trtexec cookbook layer dumps, e.g.
``__myl_MulSum_myl4_1``, ``__myl_CastReshCast_myl4_4``.)

The rule, so that a kernel that merely ends in a quantize is kept apart:

- a kernel is an unfused **quantize** when every op in its name is quantize arithmetic (Mul, Div, Min, Max, Clip,
  Roun, Cast) or data movement (Resh, Tran, Move, Copy, Shuf, Slic, Conc), it rounds (Roun) and casts (Cast);
- it is an unfused **dequantize** when its ops are only Cast and Mul (plus data movement) and it starts with the
  Cast, and, where the layer lists tensor types, it reads int8;
- anything with other ops (``__myl_SiluCastMulMinMaxRounCast``: a SiLU whose output is quantized in the same kernel,
  ``__myl_AddMulMinMaxRounCast``: a residual add) is real compute with the quantize fused in, not a leftover.

Where the layer lists tensor types they must agree: a quantize writes int8 (or uint8), a dequantize reads it.
"""

from __future__ import annotations

import re

from qdqtool.engine.report import Layer

PREFIX = "__myl_"
QUANTIZE_OPS = frozenset({"Mul", "Div", "Min", "Max", "Clip", "Roun", "Cast"})
DEQUANTIZE_OPS = frozenset({"Cast", "Mul"})
MOVEMENT_OPS = frozenset({"Resh", "Tran", "Move", "Copy", "Shuf", "Slic", "Conc"})
INT8 = ("int8", "uint8")
# Myelin's own tensors (__myln_k_arg__bb1_3_myl4, __mye12...): not ONNX tensors
_INTERNAL = re.compile(r"^__my[a-z]")


def is_myelin_kernel(layer: Layer) -> bool:
    return layer.name.startswith(PREFIX) or (layer.tactic or "").startswith(PREFIX)


def ops_of(layer: Layer) -> list[str]:
    """``__myl_CastMulMinMaxRounCast_myl3_7`` -> ``["Cast", "Mul", "Min", "Max", "Roun", "Cast"]``."""
    for name in (layer.name, layer.tactic or ""):
        if name.startswith(PREFIX):
            ops = re.findall(r"[A-Z][a-z0-9]*", re.split(r"_myl\d|_0x", name[len(PREFIX):], maxsplit=1)[0])
            if ops:
                return ops
    return []


def standalone_qdq(layer: Layer) -> str | None:
    """``"quantize"`` or ``"dequantize"`` when ``layer`` is a Myelin kernel that does only that; else None."""
    if not is_myelin_kernel(layer):
        return None
    ops = ops_of(layer)
    arithmetic = [op for op in ops if op not in MOVEMENT_OPS]
    if not arithmetic:
        return None
    reads_int8 = _dtypes(layer.inputs) & set(INT8)
    writes_int8 = _dtypes(layer.outputs) & set(INT8)
    typed = bool(_dtypes(layer.inputs) or _dtypes(layer.outputs))
    if set(arithmetic) <= QUANTIZE_OPS and "Roun" in arithmetic and arithmetic[-1] == "Cast":
        if not typed or writes_int8:
            return "quantize"
    if set(arithmetic) <= DEQUANTIZE_OPS and arithmetic[0] == "Cast" and "Mul" in arithmetic:
        if (not typed or reads_int8) and not writes_int8:
            return "dequantize"
    return None


def onnx_tensors(layer: Layer) -> tuple[str, ...]:
    """The ONNX tensors a kernel reads and writes, by name (Myelin's internal tensors left out): where a kernel's
    Metadata is empty, these say which quantize of the model it is."""
    names = [t.name for t in (*layer.inputs, *layer.outputs)]
    return tuple(dict.fromkeys(n for n in names if n and not _INTERNAL.match(n)))


def _dtypes(tensors: list) -> set[str]:
    return {t.dtype for t in tensors if t.dtype}
