"""TensorRT's real Python bindings, importable on a machine without TensorRT's libraries or a GPU.

``prepare("10.16.1.11")`` installs the ``tensorrt-cu12-bindings`` wheel of that release (about 1.3 MB, from PyPI,
the way CI installs any package) into a cache folder, adds the ``tensorrt`` package that the ``tensorrt-cu12`` sdist
ships (``from tensorrt_bindings import *`` plus ``__version__``), and compiles ``standins.c`` into
``libnvinfer.so.N``, ``libnvinfer_plugin.so.N`` and ``libnvonnxparser.so.N``. ``activate`` loads the stand-ins
(``RTLD_GLOBAL``: the dynamic linker then resolves ``tensorrt.so``'s ``NEEDED`` entries by soname to them) and puts
the bindings first on ``sys.path``. After that, ``import tensorrt`` is TensorRT's own module: its classes, enums and
pybind signatures; ``trt.Builder``/``trt.Runtime`` fail as on a machine without a usable GPU.

Used by ``tests/conftest.py`` for ``pytest --trt-bindings VERSION`` (what ``.ci/run`` does for one 10.x and one 11.x
release).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

STANDINS = Path(__file__).with_name("standins.c")
CACHE = Path(os.environ.get("QDQTOOL_TEST_CACHE", Path.home() / ".cache" / "qdqtool-tests")) / "tensorrt"
# soname stem -> the -D that selects its functions in standins.c
LIBRARIES = {"libnvinfer": "STANDIN_NVINFER", "libnvinfer_plugin": "STANDIN_PLUGIN",
             "libnvonnxparser": "STANDIN_PARSER"}
TENSORRT_INIT = (
    '"""What the tensorrt-cu12 sdist installs as `tensorrt`: the bindings under their usual name."""\n'
    "from tensorrt_bindings import *  # noqa: F401,F403\n"
    "from tensorrt_bindings import __version__  # noqa: F401\n"
)


class Unavailable(Exception):
    """The bindings cannot be set up here (no C compiler, no network, no wheel for this Python); says why."""


@dataclass(frozen=True)
class Bindings:
    version: str
    site: Path  # holds tensorrt_bindings/ and tensorrt/
    lib: Path  # holds the stand-in libraries

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def compiler() -> str | None:
    """The C compiler to use: $CC, else cc or gcc on PATH."""
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name and shutil.which(name):
            return name
    return None


def prepare(version: str, cache: Path = CACHE) -> Bindings:
    """Install the bindings of TensorRT ``version`` and build the stand-ins, once per cache folder."""
    major = version.split(".")[0]
    root = cache / version
    bindings = Bindings(version, root / "site", root / "lib")
    if not (bindings.site / "tensorrt_bindings").is_dir():
        tmp = root / "site.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", str(tmp),
             f"tensorrt-cu12-bindings=={version}"], capture_output=True, text=True,
        )
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unavailable(f"pip could not install tensorrt-cu12-bindings=={version}: {said}")
        (tmp / "tensorrt").mkdir(exist_ok=True)
        (tmp / "tensorrt" / "__init__.py").write_text(TENSORRT_INIT)
        shutil.rmtree(bindings.site, ignore_errors=True)
        tmp.rename(bindings.site)
    cc = compiler()
    bindings.lib.mkdir(parents=True, exist_ok=True)
    for stem, define in LIBRARIES.items():
        target = bindings.lib / f"{stem}.so.{major}"
        if target.is_file() and target.stat().st_mtime >= STANDINS.stat().st_mtime:
            continue
        if cc is None:
            raise Unavailable("no C compiler (cc, gcc or $CC) to build the TensorRT library stand-ins")
        partial = target.with_suffix(target.suffix + ".partial")
        done = subprocess.run(
            [cc, "-shared", "-fPIC", "-O1", f"-D{define}", f"-Wl,-soname,{target.name}", "-o", str(partial),
             str(STANDINS)], capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise Unavailable(f"{cc} could not build {target.name}: {done.stderr.strip()[:300]}")
        partial.rename(target)
    return bindings


def activate(bindings: Bindings) -> None:
    """Load the stand-ins and make ``import tensorrt`` the real bindings (for this process and its children)."""
    for stem in LIBRARIES:
        ctypes.CDLL(str(bindings.lib / f"{stem}.so.{bindings.major}"), mode=ctypes.RTLD_GLOBAL)
    sys.path.insert(0, str(bindings.site))
    # Children (the CLI run as a command) find them the same way.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(bindings.site), os.environ.get("PYTHONPATH")]))
    os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(bindings.lib),
                                                                    os.environ.get("LD_LIBRARY_PATH")]))
    import tensorrt

    if tensorrt.__version__ != bindings.version:
        raise Unavailable(f"imported tensorrt {tensorrt.__version__} from {tensorrt.__file__}, "
                          f"not the prepared {bindings.version}")


def why_tensorrt_cannot_run() -> str | None:
    """None where TensorRT is installed and can start (a GPU); else the reason, for a skip."""
    from qdqtool.engine.trt_start import start
    from qdqtool.errors import QdqToolError

    try:
        import tensorrt
    except ImportError:
        return "needs TensorRT and an NVIDIA GPU (pip install 'qdqtool[tensorrt]')"
    try:
        start(tensorrt, "this test", "")
    except QdqToolError as exc:
        return f"needs an NVIDIA GPU: {exc}"
    return None
