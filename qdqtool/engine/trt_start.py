"""Starting TensorRT: import it, check the Polygraphy it needs, and see that it can start on this machine.

TensorRT can be importable and still unusable: pip installs its Python bindings and libraries on any Linux machine,
and without a usable NVIDIA GPU and driver ``trt.Builder(logger)`` / ``trt.Runtime(logger)`` raise
``TypeError: pybind11::init(): factory function returned nullptr``. Every command that needs TensorRT asks here
first, so that case is one line naming what to do instead, before any work is done.

Polygraphy floors per TensorRT major (measured against the real bindings, tests/tensorrt_real):

- 10: Polygraphy 0.49.14, the first with ``EngineFromPath`` (``compare`` times a saved plan through it);
- 11: Polygraphy 0.53.4; up to 0.50.3 its TensorRT loaders read ``trt.IStreamReader``, which TensorRT 11 removed.
"""

from __future__ import annotations

import re
from types import ModuleType

from qdqtool._lazy import require
from qdqtool.errors import MissingDependencyError, QdqToolError, first_line

POLYGRAPHY_FLOOR = {10: (0, 49, 14), 11: (0, 53, 4)}
STRONGLY_TYPED_ONLY_FROM = 11  # TensorRT 11 builds strongly typed networks only (no INT8/FP16 builder flags)


class TensorRtUnusable(QdqToolError):
    """TensorRT is installed but cannot start here (no usable GPU or driver)."""


def major_of(version: str) -> int | None:
    """``"10.16.1.11"`` -> 10; None when the version cannot be read."""
    match = re.match(r"\s*(\d+)", version or "")
    return int(match.group(1)) if match else None


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def import_tensorrt(purpose: str, route: str) -> ModuleType:
    """Import TensorRT and check that the installed Polygraphy can drive it.

    Args:
        purpose (str): What it is needed for, e.g. ``"--backend tensorrt"``.
        route (str): How to get the same result without it (a trtexec command, a CPU backend).

    Raises:
        MissingDependencyError: TensorRT is not installed, or Polygraphy is too old for it.
    """
    trt = require("tensorrt", purpose, route=route)
    import polygraphy

    version = getattr(trt, "__version__", "")
    major = min(max(major_of(version) or 0, min(POLYGRAPHY_FLOOR)), max(POLYGRAPHY_FLOOR))
    floor = POLYGRAPHY_FLOOR[major]
    have = getattr(polygraphy, "__version__", "0")
    if _version_tuple(have) < floor:
        need = ".".join(map(str, floor))
        raise MissingDependencyError(
            f"{purpose}: TensorRT {version} needs polygraphy>={need}, this is polygraphy {have}: "
            f"`pip install 'polygraphy>={need}'`"
        )
    return trt


def start(trt: ModuleType, purpose: str, route: str, what: str = "Builder") -> None:
    """Create (and drop) a ``trt.Builder`` or ``trt.Runtime``: the cheapest proof that TensorRT can run here.

    Raises:
        TensorRtUnusable: the bindings' factory failed (no usable GPU or driver), as one line with ``route``.
    """
    version = getattr(trt, "__version__", "?")
    try:
        logger = trt.Logger(trt.Logger.ERROR)
        made = getattr(trt, what)(logger)
    except Exception as err:  # noqa: BLE001 - the bindings raise TypeError (nullptr), CUDA errors raise others
        raise TensorRtUnusable(
            f"{purpose}: TensorRT {version} is installed but cannot start here ({first_line(err)}); it needs an "
            f"NVIDIA GPU with a working driver: {route}"
        ) from None
    if made is None:
        raise TensorRtUnusable(f"{purpose}: TensorRT {version} could not create a {what} here: {route}")
    del made


def strongly_typed_by_default(version: str | None) -> bool:
    """TensorRT 11 and later build strongly typed only; 10 and before default to a weakly typed INT8+FP16 build."""
    return (major_of(version or "") or 0) >= STRONGLY_TYPED_ONLY_FROM


def trtexec_precision_flags(strongly_typed: bool | None, version: str | None) -> str:
    """The trtexec flags that pick the build mode (``strongly_typed`` None: the version's default) for the installed
    TensorRT (``version`` None: not installed).

    trtexec 11 has no precision flags and needs no ``--stronglyTyped`` (always on; TensorRT 11 migration guide,
    "trtexec Command-Line Usage"); trtexec 10 takes ``--stronglyTyped`` or ``--int8 --fp16``.
    """
    major = major_of(version or "")
    if major is not None and major >= STRONGLY_TYPED_ONLY_FROM:
        return ""
    if strongly_typed is None and major is not None:
        strongly_typed = strongly_typed_by_default(version)
    return "--stronglyTyped" if strongly_typed else "--int8 --fp16"


def trtexec_version_note(version: str | None) -> str:
    """Said after a trtexec command written without knowing the GPU machine's TensorRT (``version`` None)."""
    return "" if version else " (on TensorRT 11, drop --int8/--fp16/--stronglyTyped: it builds strongly typed only)"

