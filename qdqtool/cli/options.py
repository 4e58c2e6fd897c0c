"""Option sets shared by several commands (click decorators), so each is spelled and documented once."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

import click

from qdqtool.errors import BadInputError
from qdqtool.examples import example_model
from qdqtool.jobs import choices


def target_option(f):
    return click.option(
        "--target", "-t", default=None, metavar="NAME|FILE",
        help=f"Backend rules: {', '.join(choices.targets())} or a rules .toml file. Default: tensorrt (for compare: "
             "the backend's own rules).",
    )(f)


class FiniteRange(click.FloatRange):
    """click.FloatRange that refuses NaN and infinities: FloatRange lets NaN through (every comparison with it is
    false) and infinity past a minimum."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value} is not a finite number", param, ctx)
        return number


def max_scale_ratio_option(f):
    return click.option(
        "--max-scale-ratio", type=FiniteRange(min=1.0), default=None,
        help="Refuse groups whose largest/smallest scale exceeds this (default: the target's, 16).",
    )(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")(f)


# --- engine reports (inspect, diff) ---------------------------------------------------------------------------------


def markdown_option(f):
    return click.option("--markdown", "as_markdown", is_flag=True,
                        help="Print Markdown (e.g. for a pull-request comment) instead of tables.")(f)


def report_file_option(f):
    return click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
                         help="Write the report to this file (atomically) instead of printing it.")(f)


def opt_profile_option(f):
    return click.option("--opt-profile", type=click.IntRange(min=0), default=None, metavar="N",
                        help="Optimization profile of a multi-profile engine (layers named '... [profile N]'). "
                             "Default: the one the profile JSON timed, else 0.")(f)


# --- building engines (build, compare) ------------------------------------------------------------------------------


def _parse_size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """``4G``, ``512M``, ``1024K`` or plain bytes -> bytes."""
    if value is None:
        return None
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = value.strip().upper().removesuffix("IB").removesuffix("B")
    try:
        if text and text[-1] in units:
            size = int(float(text[:-1]) * units[text[-1]])
        else:
            size = int(text)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a size such as 4G, 512M or 1073741824") from None
    if size <= 0:
        raise click.BadParameter(f"{value!r}: must be positive")
    return size


def backend_option(f):
    backends = choices.backends()
    lines = "; ".join(f"{name}: {summary}" for name, summary in backends.items())
    return click.option("--backend", "-b", type=click.Choice(list(backends)), default="onnxruntime",
                        show_default=True, help=f"Where to build. {lines}.")(f)


def build_options(f):
    """The options of BuildOptions: runs, threads, input shapes, and the TensorRT build settings."""
    from pathlib import Path

    options = [
        click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True,
                     help="Untimed runs before profiling and before timing."),
        click.option("--iterations", type=click.IntRange(min=1), default=20, show_default=True,
                     help="Profiled runs (per-layer times) and timed runs (latency)."),
        click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
                     help="onnxruntime: intra- and inter-op threads (fixed, for stable numbers)."),
        click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME:1x3x640x640",
                     help="Shape of a dynamic input (repeatable); unset dynamic dimensions are 1."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random input data."),
        click.option("--strongly-typed/--no-strongly-typed", "strongly_typed", default=None,
                     help="tensorrt: strongly typed network (Q/DQ alone decide precision) or INT8+FP16 flags. "
                          "Default: strongly typed on TensorRT >= 11, flags on TensorRT 10."),
        click.option("--timing-cache", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="tensorrt: timing cache file, read before and written after the build."),
        click.option("--builder-optimization-level", type=click.IntRange(0, 5), default=None,
                     help="tensorrt: builder optimization level (TensorRT's default: 3)."),
        click.option("--workspace", callback=_parse_size, default=None, metavar="SIZE",
                     help="tensorrt: workspace memory pool limit, e.g. 4G or 512M."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_options_from(params: dict):
    """BuildOptions from the values of :func:`build_options` (popped from ``params``)."""
    from qdqtool.io.data.shapes import parse_input_shapes
    from qdqtool.jobs.build import BuildOptions

    return BuildOptions(
        warmup=params.pop("warmup"), iterations=params.pop("iterations"), threads=params.pop("threads"),
        input_shapes=parse_input_shapes(params.pop("input_shapes")), seed=params.pop("seed"),
        strongly_typed=params.pop("strongly_typed"), timing_cache=params.pop("timing_cache"),
        builder_optimization_level=params.pop("builder_optimization_level"), workspace=params.pop("workspace"),
    )


def fix_option(f):
    return click.option(
        "--fix", "fixes", multiple=True, type=click.Choice(choices.fixes()),
        help="Placement fix to run before unifying (repeatable). residual-add: put a Q/DQ on the float skip "
             "input of residual Adds, and drop the Q/DQ pair between a convolution and the Add it can fuse with.",
    )(f)


def example_option(f):
    return click.option(
        "--example", is_flag=True, help="Use the example YOLOv6-style QAT model shipped with qdqtool as MODEL.",
    )(f)


@contextlib.contextmanager
def model_or_example(model: Path | None, example: bool) -> Iterator[Path]:
    """MODEL, or the bundled example with --example (exactly one of them)."""
    if example == (model is not None):
        raise BadInputError("give a MODEL or --example (one of them)")
    if example:
        with example_model() as path:
            yield path
    else:
        yield model


def policy_option(f):
    return click.option(
        "--policy", type=click.Choice(choices.policies()), default="max", show_default=True,
        help="How a group's one scale is chosen. max: the union of the members' ranges (no clipping); output: the "
             "Q reading the group's output; min-error (merge): per group, of max, output and scales between, the "
             "one that adds least error against float on --inputs.",
    )(f)


# the image preprocessing options: name -> (click type, help); each is also a key of [preprocess] in the config
_PREPROCESS = {
    "preset": (None, "Preprocessing of a model family: {presets} (each documented in qdqtool/io/data/images.py)."),
    "resize": (click.Choice(["stretch", "letterbox"]), "Images: stretch to the input size, or letterbox (keep the "
                                                       "aspect ratio, pad)."),
    "pad-value": (float, "Images: letterbox padding, a pixel value (default 114)."),
    "color": (click.Choice(["rgb", "bgr"]), "Images: channel order (default rgb)."),
    "scale": (None, "Images: pixel multiplier before mean/std, e.g. 1/255 (the default)."),
    "mean": (None, "Images: per-channel mean after scaling, e.g. 0.485,0.456,0.406 (default 0)."),
    "std": (None, "Images: per-channel std after scaling, e.g. 0.229,0.224,0.225 (default 1)."),
    "layout": (click.Choice(["nchw", "nhwc"]), "Images: input layout (default: from the model's input shape)."),
    "dtype": (None, "Images: input element type (default: the model input's)."),
}


def check_options(f):
    """The numeric check's options (merge, compare, report): the data set, its preprocessing, the float reference
    and the tolerance. Read back with :func:`check_settings_from`."""
    presets = ", ".join(sorted(choices.presets()))
    options = [
        click.option("--inputs", default=None, metavar="DATA",
                     help="Samples for the numeric check: an .npz (one array per input, samples on the first axis), "
                          "a folder or glob of images, a Polygraphy data-loader script (loader.py[:load_data]) or "
                          "Polygraphy's saved inputs (inputs.json). Default: seeded random data (says little about "
                          "a trained model)."),
        click.option("--max-samples", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Use at most N samples (batches) of --inputs."),
        click.option("--reference", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     metavar="FP32.onnx",
                     help="The model's FP32 export, what accuracy is measured against. Default: the float model "
                          "derived from MODEL (every Q/DQ pair removed)."),
        click.option("--max-added-error", type=FiniteRange(min=0.0), default=None, metavar="DB",
                     help="The check fails (exit 1) when the edit makes any output slice's error against float grow "
                          "by more than DB decibels (default 3: twice the error energy)."),
        click.option("--min-cosine", type=FiniteRange(-1.0, 1.0), default=None,
                     help="Also fail when a slice of the edited model falls below this cosine against the original "
                          "(informative only by default: two quantized models compared with each other measure "
                          "chaos, not harm)."),
    ]
    for name, (kind, text) in _PREPROCESS.items():
        options.append(click.option(f"--{name}", f"pre_{name.replace('-', '_')}", type=kind, default=None,
                                    help=text.format(presets=presets)))
    for option in reversed(options):
        f = option(f)
    return f


def check_settings_from(params: dict) -> dict:
    """The CheckSettings fields from the values of :func:`check_options` (popped from ``params``)."""
    settings = {"inputs": params.pop("inputs"), "max_samples": params.pop("max_samples"),
                "reference": params.pop("reference"), "min_cosine": params.pop("min_cosine")}
    added = params.pop("max_added_error")
    if added is not None:
        settings["max_added_error"] = added
    settings["preprocess"] = {name: params.pop(f"pre_{name.replace('-', '_')}") for name in _PREPROCESS}
    return settings


def tool_version() -> str:
    """qdqtool's installed version (importlib.metadata costs 15 ms to import: only JSON output needs it)."""
    from importlib.metadata import version

    return version("qdqtool")


# --- sensitivity, partial ------------------------------------------------------------------------------------------


def ops_option(f):
    return click.option("--ops", default=None, metavar="OP[,OP]",
                        help="Only layers of these op types (e.g. Conv,ConvTranspose). Default: every op the target "
                             "runs quantized.")(f)


def jobs_option(f):
    return click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
                        help="Worker processes for the end-to-end measurements (single-threaded sessions each).")(f)


def parse_ops(value: str | None) -> tuple[str, ...]:
    """``--ops Conv,Gemm`` as a tuple of op types."""
    return tuple(o.strip() for o in value.split(",") if o.strip()) if value else ()
