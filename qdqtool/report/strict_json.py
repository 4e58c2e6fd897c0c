"""JSON documents as the JSON standard has them: no ``NaN`` or ``Infinity`` (Python's json writes both by
default, and strict readers, jq and JavaScript's JSON.parse among them, reject the document). A value that is
not finite is written as ``null``; each document's schema says which fields may be null.

    >>> dumps({"snr_db": float("inf")})
    '{\\n  "snr_db": null\\n}\\n'
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by None (in lists, tuples and dicts too)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(document: Any, indent: int = 2) -> str:
    """The document as strict JSON, with a final newline."""
    return json.dumps(finite(document), indent=indent, allow_nan=False) + "\n"
