"""The one place optional runtimes are imported (Polygraphy's ``lazy_import`` idea, without the magic).

``import qdqtool`` and every ``--help`` must work with the core dependencies alone, so TensorRT is only
imported when a command really needs it, through :func:`require`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from qdqtool.errors import MissingDependencyError

# module name -> (pip extra that provides it, how to get the same result without it)
_OPTIONAL = {
    "tensorrt": (
        "qdqtool[tensorrt]",
        "without a GPU, export the JSON with `trtexec --onnx=model.onnx --saveEngine=engine.plan "
        "--exportLayerInfo=layers.json --exportProfile=profile.json --profilingVerbosity=detailed` on a GPU machine "
        "and run `qdqtool inspect layers.json --profile profile.json`",
    ),
}


def require(module: str, purpose: str, route: str | None = None) -> ModuleType:
    """Import ``module`` or raise MissingDependencyError naming the extra and the CPU route.

    Args:
        module (str): The module to import, e.g. ``"tensorrt"``.
        purpose (str): What it is needed for, e.g. ``"reading engine.plan"``.
        route (str): How to get the same result without it. Defaults to the module's general route.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        extra, default_route = _OPTIONAL.get(module, (module, ""))
        route = default_route if route is None else route
        hint = f"; {route}" if route else ""
        raise MissingDependencyError(
            f"{purpose} needs the `{module}` package ({err}): install it with `pip install '{extra}'`{hint}"
        ) from None


def is_available(module: str) -> bool:
    """True when ``module`` can be imported (without importing qdqtool's error path)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
