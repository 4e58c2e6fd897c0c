"""Scale policies: which one scale and zero point a mismatched group gets.

- ``max``: the union of the members' represented ranges, so nothing any member could represent is clipped.
  For symmetric int8 that is simply the largest scale.
- ``output``: the parameters of the Q that reads the group's output (the consumer decides, as PPQ's
  "Align to Output" and NVIDIA's yolov7 rules do); when several output Qs disagree, the union of theirs.
"""

from __future__ import annotations

import numpy as np

from qdqtool.analysis.groups import ScaleGroup
from qdqtool.errors import InternalError
from qdqtool.ir.qdq import QRANGE, QParams, params_from_arrays

POLICIES = ("max", "output")


def choose_params(group: ScaleGroup, policy: str) -> tuple[QParams, str]:
    """The parameters the group gets, and a short note on how they were chosen."""
    if policy not in POLICIES:
        raise InternalError(f"unknown policy {policy!r}")
    members = group.params
    note = "union of member ranges"
    if policy == "output":
        outputs = [n.params for q in group.quantizers if q.id in group.output_ids for n in q.nodes]
        if outputs:
            members, note = outputs, "the output Q" if len({p.key for p in outputs}) == 1 else "union of output Qs"
        else:
            note = "no Q reads the group's output: union of member ranges"
    return union_of_ranges(members), note


def union_of_ranges(members: list[QParams]) -> QParams:
    """The parameters whose range covers every member's range.

    When one member's range already covers all others, that member's parameters are returned bit for bit, so
    merging twice changes nothing and symmetric int8 gets exactly the largest existing scale.
    """
    ranges = [p.represented_range() for p in members]
    lo = min([r[0] for r in ranges])
    hi = max([r[1] for r in ranges])
    for p, (plo, phi) in zip(members, ranges, strict=True):
        if plo <= lo and phi >= hi:
            return p
    ref = members[0]
    qmin, qmax = QRANGE[ref.dtype]
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / (qmax - qmin)
    zero_point = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    # the rounded zero point may shift the range: widen the scale until both ends are covered
    candidates = [scale]
    if zero_point != qmax:
        candidates.append(hi / (qmax - zero_point))
    if zero_point != qmin:
        candidates.append(lo / (qmin - zero_point))
    scale = max(candidates)
    scale_type = ref.scale.dtype.type
    # rounding to the scale's own float type must not shrink the range (compared as Python floats: NumPy 2 would
    # round the Python float to the scale's type first, and the rounded value always equals itself)
    if float(scale_type(scale)) < scale:
        scale = np.nextafter(scale_type(scale), scale_type(np.inf))
    return params_from_arrays(np.array(scale, dtype=ref.scale.dtype), np.array(zero_point, dtype=ref.zero_point.dtype),
                              ref.dtype)
