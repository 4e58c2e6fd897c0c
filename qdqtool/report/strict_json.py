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


# Above this size the document is written compact: Python's json indents only in its pure-Python encoder, about
# 5x slower than the C one (a 33k-layer engine: seconds).
INDENT_UP_TO = 2_000_000  # characters of the compact form


def dumps(document: Any, indent: int = 2) -> str:
    """The document as strict JSON, with a final newline; indented unless it is very large."""
    try:  # most documents hold no NaN or infinity: find out in C before walking them in Python
        compact = json.dumps(document, allow_nan=False, separators=(",", ":"))
    except ValueError:
        document = finite(document)
        compact = json.dumps(document, allow_nan=False, separators=(",", ":"))
    if len(compact) > INDENT_UP_TO:
        return compact + "\n"
    return json.dumps(document, indent=indent, allow_nan=False) + "\n"
