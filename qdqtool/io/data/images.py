"""Images as samples: a folder, a glob or one file, read with Pillow and preprocessed into the model's input.

Pillow is the image library here: pure wheels for every platform, no native runtime to install (OpenCV's wheels are
~60 MB and bring their own FFmpeg), and it reads every format calibration sets come in.

Preprocessing, in order: read (EXIF orientation applied), RGB (or grayscale for a one-channel input), resize to the
input's height x width (``stretch``, or ``letterbox``: keep the aspect ratio and pad), swap to BGR if asked, then
``(pixel * scale - mean) / std`` per channel, NCHW or NHWC, the input's element type. The size comes from the model
input, or ``--input-shape`` / ``size`` for dynamic dimensions. Each setting comes from, in that order of priority:
the command line, ``[preprocess]`` of ``qdqtool.toml`` / ``[tool.qdqtool.preprocess]`` of pyproject.toml, a preset,
the defaults below.

    >>> data = image_set("calib/", inputs, PRESETS["yolo"])
    >>> assert next(iter(data))["images"].shape == (1, 3, 640, 640)
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from qdqtool.errors import BadInputError
from qdqtool.io.data.shapes import ModelInput

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")
RESIZES = ("stretch", "letterbox")
COLORS = ("rgb", "bgr")
LAYOUTS = ("nchw", "nhwc")


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes a model input (see the module docstring). None: taken from the model."""

    size: tuple[int, int] | None = None  # (height, width)
    resize: str = "stretch"
    pad_value: float = 114.0  # letterbox padding, in pixel values (0-255)
    color: str = "rgb"
    scale: float = 1 / 255
    mean: tuple[float, ...] = (0.0,)  # per channel (one value: every channel), after scaling
    std: tuple[float, ...] = (1.0,)
    layout: str | None = None  # "nchw" / "nhwc"
    dtype: str | None = None  # numpy type name
    preset: str | None = None  # the preset these settings started from, for reports

    def with_settings(self, settings: dict[str, object], where: str) -> Preprocess:
        """These settings with ``settings`` (config or command-line keys, ``-`` or ``_``) applied on top; a
        ``preset`` key first replaces the base. BadInputError naming the key for a value that cannot be."""
        settings = {k.replace("-", "_"): v for k, v in settings.items() if v is not None}
        base = self
        if "preset" in settings:
            name = str(settings.pop("preset"))
            if name not in PRESETS:
                raise BadInputError(f"{where}: unknown preset {name!r}; presets: {', '.join(sorted(PRESETS))}")
            base = PRESETS[name]
        known = {f.name for f in fields(Preprocess)} - {"preset"}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise BadInputError(f"{where}: unknown preprocessing key(s) {unknown}; known: {', '.join(sorted(known))}")
        return replace(base, **{k: _value(k, v, where) for k, v in settings.items()})

    def describe(self) -> str:
        parts = [f"preset {self.preset}"] if self.preset else []
        parts.append(self.resize + (f" (pad {self.pad_value:g})" if self.resize == "letterbox" else ""))
        parts.append(self.color.upper())
        parts.append(f"x{self.scale:.6g}")
        if any(self.mean) or any(s != 1 for s in self.std):
            parts.append(f"mean {_floats(self.mean)} std {_floats(self.std)}")
        return ", ".join(parts)


# Presets for common model families; each says where its numbers come from.
PRESETS = {
    # ultralytics YOLOv5/v8/11 and YOLOv6/v7 exports: LetterBox(auto=False) with (114, 114, 114) padding, RGB,
    # /255, no mean or std (ultralytics/data/augment.py LetterBox; ultralytics/engine/predictor.py preprocess).
    "yolo": Preprocess(resize="letterbox", pad_value=114.0, color="rgb", scale=1 / 255, preset="yolo"),
    # torchvision ImageNet classifiers: RGB, /255, ImageNet mean and std (torchvision.transforms._presets
    # ImageClassification; the resize here is a plain stretch to the input size, not resize + center crop).
    "imagenet": Preprocess(resize="stretch", color="rgb", scale=1 / 255, mean=(0.485, 0.456, 0.406),
                           std=(0.229, 0.224, 0.225), preset="imagenet"),
    # PP-OCR text detectors (DBNet) as RapidOCR runs them: RGB read, turned to BGR (rapidocr_onnxruntime
    # utils/load_image.py:71-72), stretched to a size that is a multiple of 32 (ch_ppocr_det/utils.py:45-70; give it
    # with --input-shape x:1x3xHxW), (x / 255 - 0.5) / 0.5 (ch_ppocr_det/utils.py:16-40, config.yaml:27-28).
    "ppocr-det": Preprocess(resize="stretch", color="bgr", scale=1 / 255, mean=(0.5,), std=(0.5,), preset="ppocr-det"),
    # PaddleDetection PicoDet exports as RapidLayout runs them: BGR (rapid_layout utils/load_image.py:96-97),
    # stretched to the input size (model_handler/pp/pre_process.py:30-33), /255 and ImageNet's mean and std applied
    # to the BGR channels as they come (pp/pre_process.py:16-18, 35-36).
    "picodet": Preprocess(resize="stretch", color="bgr", scale=1 / 255, mean=(0.485, 0.456, 0.406),
                          std=(0.229, 0.224, 0.225), preset="picodet"),
}


def _floats(values: tuple[float, ...]) -> str:
    return "/".join(f"{v:g}" for v in values)


def _value(key: str, value: object, where: str) -> object:
    try:
        if key == "size":
            if isinstance(value, str):
                value = [int(v) for v in value.lower().split("x")]
            height, width = (int(v) for v in value)  # type: ignore[union-attr]
            if height <= 0 or width <= 0:
                raise ValueError
            return height, width
        if key in ("mean", "std"):
            if isinstance(value, str):
                value = value.split(",")
            values = tuple(float(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
            if key == "std" and any(v == 0 for v in values):
                raise ValueError
            return values
        if key in ("scale", "pad_value"):
            if isinstance(value, str) and "/" in value:  # "1/255"
                top, _, bottom = value.partition("/")
                return float(top) / float(bottom)
            return float(value)  # type: ignore[arg-type]
        choices = {"resize": RESIZES, "color": COLORS, "layout": LAYOUTS}.get(key)
        text = str(value).lower()
        if choices is not None and text not in choices:
            raise ValueError
        if key == "dtype":
            np.dtype(text)
        return text
    except (TypeError, ValueError, ZeroDivisionError):
        hint = {"size": "HxW, e.g. 640x640", "mean": "numbers, e.g. 0.485,0.456,0.406", "std": "non-zero numbers",
                "scale": "a number, e.g. 1/255", "pad_value": "a pixel value, e.g. 114",
                "resize": " or ".join(RESIZES), "color": " or ".join(COLORS), "layout": " or ".join(LAYOUTS),
                "dtype": "a numpy type, e.g. float32"}[key]
        raise BadInputError(f"{where}: {key.replace('_', '-')} = {value!r} is not valid ({hint})") from None


def looks_like_images(spec: str) -> bool:
    """A folder, a glob pattern or an image file."""
    path = Path(spec)
    return path.is_dir() or glob.has_magic(spec) or path.suffix.lower() in IMAGE_SUFFIXES


def _image_paths(spec: str) -> list[Path]:
    path = Path(spec)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        where = f"{path}: no images (PNG, JPEG, BMP, WebP, TIFF) in this folder"
    elif glob.has_magic(spec):
        found = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        where = f"{spec}: the pattern matches no images"
    else:
        if not path.is_file():
            raise BadInputError(f"{path}: no such image")
        found, where = [path], ""
    if not found:
        raise BadInputError(where)
    return found


def _layout(spec: ModelInput, preprocess: Preprocess) -> str:
    if preprocess.layout is not None:
        return preprocess.layout
    if len(spec.dims) != 4:
        raise BadInputError(f"input {spec.name} has {len(spec.dims)} dimensions: images need a 4-dimensional input "
                            "(batch, channels, height, width)")
    if spec.dims[1] in (1, 3):
        return "nchw"
    if spec.dims[3] in (1, 3):
        return "nhwc"
    raise BadInputError(f"input {spec.name} ({spec.dims}): cannot tell its channel axis; give --layout nchw or nhwc")


def plan(spec: ModelInput, preprocess: Preprocess) -> tuple[str, int, int, int, int, np.dtype]:
    """(layout, batch, channels, height, width, dtype) the images must become, or BadInputError saying what does
    not fit the model."""
    layout = _layout(spec, preprocess)
    if len(spec.dims) != 4:
        raise BadInputError(f"input {spec.name}: {layout} images need 4 dimensions, it has {len(spec.dims)}")
    batch, *rest = spec.dims
    channels, height, width = (rest[0], rest[1], rest[2]) if layout == "nchw" else (rest[2], rest[0], rest[1])
    if channels not in (1, 3):
        raise BadInputError(f"input {spec.name}: {channels} channels in {layout} order; images give 1 or 3 (is the "
                            "layout right? --layout nchw or nhwc)")
    if preprocess.size is not None:
        if (height not in (None, preprocess.size[0])) or (width not in (None, preprocess.size[1])):
            raise BadInputError(f"input {spec.name}: size {preprocess.size[0]}x{preprocess.size[1]} does not fit the "
                                f"model's {height}x{width}")
        height, width = preprocess.size
    if height is None or width is None:
        raise BadInputError(f"input {spec.name} has a dynamic height or width: give the image size with --input-shape "
                            f"{spec.name}:1x3xHxW or size = \"HxW\" in [preprocess]")
    for name, values in (("mean", preprocess.mean), ("std", preprocess.std)):
        if len(values) not in (1, channels):
            raise BadInputError(f"input {spec.name}: {len(values)} {name} values for {channels} channel(s)")
    dtype = np.dtype(preprocess.dtype) if preprocess.dtype else spec.dtype
    if dtype.kind != "f" and (preprocess.scale != 1 or any(preprocess.mean) or any(s != 1 for s in preprocess.std)):
        raise BadInputError(f"input {spec.name} is {dtype}: give scale = 1, no mean and std for integer pixels")
    return layout, batch or 1, channels, height, width, dtype


def load_image(path: Path, channels: int, height: int, width: int, preprocess: Preprocess) -> np.ndarray:
    """One image as float32 HxWxC pixels (0-255), resized as ``preprocess`` says."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as raw:
            image = ImageOps.exif_transpose(raw).convert("L" if channels == 1 else "RGB")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as err:
        raise BadInputError(f"{path}: not a readable image ({err})") from None
    if preprocess.resize == "letterbox":
        ratio = min(width / image.width, height / image.height)
        inner = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
        canvas = Image.new(image.mode, (width, height), int(preprocess.pad_value) if channels == 1 else
                           (int(preprocess.pad_value),) * 3)
        canvas.paste(image.resize(inner, Image.BILINEAR), ((width - inner[0]) // 2, (height - inner[1]) // 2))
        image = canvas
    elif image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def to_input(pixels: list[np.ndarray], layout: str, dtype: np.dtype, preprocess: Preprocess) -> np.ndarray:
    """A batch of HxWxC pixel arrays as the model's input array."""
    batch = np.stack(pixels)  # N, H, W, C
    if preprocess.color == "bgr" and batch.shape[-1] == 3:
        batch = batch[..., ::-1]
    if dtype.kind == "f":
        mean = np.asarray(preprocess.mean, np.float32)
        std = np.asarray(preprocess.std, np.float32)
        batch = (batch * np.float32(preprocess.scale) - mean) / std
    if layout == "nchw":
        batch = batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch, dtype=dtype)


def image_set(spec: str, inputs: list[ModelInput], preprocess: Preprocess):
    """The images ``spec`` names as a Dataset: batches of the model's batch size, last partial batch left out."""
    from qdqtool.io.data.dataset import Dataset

    if len(inputs) != 1:
        raise BadInputError(f"{spec}: images feed a model with one input; this one has {len(inputs)} "
                            f"({', '.join(i.name for i in inputs)}): give an .npz or a Polygraphy data loader")
    target = inputs[0]
    layout, batch, channels, height, width, dtype = plan(target, preprocess)
    paths = _image_paths(spec)
    count = len(paths) // batch
    if count == 0:
        raise BadInputError(f"{spec}: {len(paths)} image(s), fewer than the model's batch of {batch}")

    def make():
        for k in range(count):
            group = paths[k * batch:(k + 1) * batch]
            pixels = [load_image(p, channels, height, width, preprocess) for p in group]
            yield {target.name: to_input(pixels, layout, dtype, preprocess)}

    noun = "image" if batch == 1 else f"batch of {batch} images"
    plural = "s" if count != 1 else ""
    label = f"{spec}: {count} {noun}{plural}, {height}x{width}, {preprocess.describe()}"
    return Dataset(label, "images", count, [target], make, source=Path(spec))
