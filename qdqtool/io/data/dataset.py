"""Dataset: what ``--inputs`` names, read as feeds (one dict of input arrays per inference), and how to open it.

``--inputs`` takes, by what it names:

- an ``.npz`` with one array per model input. An array whose first axis is a multiple of the model's fixed batch
  (1 for a dynamic batch) is a set of samples, run one batch at a time; one sample without its batch axis is
  taken as a batch of one.
- a folder of images (PNG, JPEG, BMP, WebP), a glob (``"calib/*.jpg"``) or one image, preprocessed as
  :class:`~qdqtool.io.data.images.Preprocess` says (options, ``[preprocess]`` in the config file, presets).
- a Polygraphy data-loader script, ``loader.py`` or ``loader.py:function`` (Polygraphy's
  ``--data-loader-script`` convention; the function defaults to ``load_data`` and returns an iterable of feeds).
- Polygraphy's saved inputs, a ``.json`` file written by ``polygraphy run --save-inputs``, read with
  Polygraphy's own JSON loader.
- nothing: seeded random data (Polygraphy's DataLoader, uniform in [0, 1)), one feed, marked ``random``: every
  report then says that figures on random inputs say little about a trained model.

Every feed is checked against the model's inputs (names, rank, fixed dimensions, element type) before it runs, so
a wrong data set is one line naming the file and the sample, never an ONNX Runtime error.

    >>> data = open_inputs("calib.npz", model, max_samples=8)
    >>> assert all(set(feed) == {i.name for i in model_inputs(model)} for feed in data)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from qdqtool.errors import BadInputError
from qdqtool.io.data import images, npz, polygraphy_data, random_data
from qdqtool.io.data.images import Preprocess
from qdqtool.io.data.shapes import ModelInput, model_inputs

Feed = dict[str, np.ndarray]
RANDOM_WARNING = ("inputs are seeded random data: figures on random inputs say little about a trained model; give "
                  "real samples with --inputs (images, an .npz, a Polygraphy data loader)")


@dataclass
class Dataset:
    """A data set of feeds. Iterating it reads the feeds afresh and checks each against the model's inputs (it is a
    Polygraphy data loader: anything that takes one takes this).

    Attributes:
        label (str): How reports name it (``calib.npz: 6 samples``).
        kind (str): ``npz``, ``images``, ``loader``, ``saved`` or ``random``.
        count (int | None): How many feeds, when known before reading them (not for loader scripts).
        inputs (list[ModelInput]): The model inputs each feed must give.
        source (Path | None): The file or folder, for messages.
    """

    label: str
    kind: str
    count: int | None
    inputs: list[ModelInput]
    make: Callable[[], Iterable[Feed]]
    source: Path | None = None
    max_samples: int | None = None

    @property
    def random(self) -> bool:
        return self.kind == "random"

    def __iter__(self) -> Iterator[Feed]:
        where = str(self.source) if self.source is not None else self.label
        feeds = None
        for k in itertools.count():
            try:
                if feeds is None:  # (calling a loader script's function runs the user's code too)
                    feeds = iter(self.make())
                    if self.max_samples is not None:
                        feeds = itertools.islice(feeds, self.max_samples)
                feed = next(feeds)
            except StopIteration:
                if k == 0:
                    raise BadInputError(f"{where}: gives no samples") from None
                return
            except BadInputError:
                raise
            except Exception as err:  # noqa: BLE001 - a user's loader script may raise anything
                line = (str(err).strip().splitlines() or [""])[0]
                raise BadInputError(f"{where}: the data loader failed at sample {k}: {type(err).__name__}: "
                                    f"{line}") from None
            yield check_feed(feed, self.inputs, where, k)


def check_feed(feed: object, inputs: list[ModelInput], where: str, k: int) -> Feed:
    """``feed`` as arrays of the model's types, or BadInputError naming the sample and what does not fit."""
    if not isinstance(feed, dict):
        raise BadInputError(f"{where}: sample {k} is a {type(feed).__name__}, expected a dict of input name -> array")
    names = [i.name for i in inputs]
    missing = [n for n in names if n not in feed]
    if missing:
        raise BadInputError(f"{where}: sample {k} has no array for input(s) {missing} (it holds {sorted(feed)})")
    checked = {}
    for spec in inputs:
        array = np.asarray(feed[spec.name])
        if spec.dims and array.ndim != len(spec.dims):
            raise BadInputError(f"{where}: sample {k}, input {spec.name}: {array.ndim} dimensions {array.shape}, "
                                f"the model takes {len(spec.dims)} ({_dims(spec)})")
        wrong = [i for i, (n, d) in enumerate(zip(array.shape, spec.dims, strict=False)) if d is not None and n != d]
        if wrong:
            raise BadInputError(f"{where}: sample {k}, input {spec.name}: shape {array.shape} does not fit the model's "
                                f"{_dims(spec)} (dimension {wrong[0]})")
        if array.dtype != spec.dtype:
            if array.dtype.kind != spec.dtype.kind and not (array.dtype.kind in "iu" and spec.dtype.kind in "iu"):
                raise BadInputError(f"{where}: sample {k}, input {spec.name}: {array.dtype} data for a "
                                    f"{spec.dtype} input")
            array = array.astype(spec.dtype)
        checked[spec.name] = array
    return checked


def _dims(spec: ModelInput) -> str:
    return "x".join("?" if d is None else str(d) for d in spec.dims) or "a scalar"


def in_memory(feeds: list[Feed], model: onnx.ModelProto, label: str = "given arrays") -> Dataset:
    """A data set of feeds already in memory (for library callers and tests)."""
    return Dataset(label, "arrays", len(feeds), model_inputs(model), lambda: iter(feeds))


def open_inputs(
    spec: str | Path | None,
    model: onnx.ModelProto,
    *,
    shapes: dict[str, tuple[int, ...]] | None = None,
    seed: int = 0,
    max_samples: int | None = None,
    preprocess: Preprocess | None = None,
) -> Dataset:
    """The data set ``spec`` names, for ``model`` (see the module docstring).

    Args:
        spec (str | Path | None): What ``--inputs`` gave; None for seeded random data.
        model (onnx.ModelProto): The model the feeds are for (its structure is enough).
        shapes (dict): ``--input-shape`` values, for dynamic dimensions (and the image size). Defaults to none.
        seed (int): Seed of the random data. Defaults to 0.
        max_samples (int): Read at most this many feeds. Defaults to all.
        preprocess (Preprocess): How images become arrays. Defaults to ``Preprocess()`` (see its fields).
    """
    inputs = model_inputs(model, shapes)
    if max_samples is not None and max_samples < 1:
        raise BadInputError(f"--max-samples {max_samples}: give 1 or more")
    if spec is None:
        return Dataset(f"seeded random (seed {seed})", "random", 1, inputs, random_data.feeds(inputs, seed))
    text = str(spec)
    script, _, function = text.partition(":") if ".py:" in text else (text, "", "")
    path = Path(script)
    if path.suffix == ".py":
        dataset = polygraphy_data.loader_script(path, function or "load_data", inputs)
    elif path.suffix == ".json":
        dataset = polygraphy_data.saved_inputs(path, inputs)
    elif path.suffix == ".npz":
        dataset = npz.samples(path, inputs)
    elif images.looks_like_images(text):
        dataset = images.image_set(text, inputs, preprocess or Preprocess())
    elif path.exists():
        raise BadInputError(f"{path}: not a data set qdqtool reads: give an .npz, a folder or glob of images, a "
                            "Polygraphy data-loader script (.py[:function]) or saved inputs (.json)")
    else:
        raise BadInputError(f"{path}: no such file or folder (--inputs)")
    dataset.max_samples = max_samples
    if max_samples is not None and dataset.count is not None:
        dataset.count = min(dataset.count, max_samples)
    return dataset
