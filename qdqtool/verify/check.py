"""The numeric check as every job that edits a model runs it (merge, compare, report): its settings, the data set
and the float reference prepared before any work (so bad input stops the command early), then the check itself.

    >>> prepared = prepare_check(Path("model.onnx"), structure, CheckSettings(inputs="calib/", max_samples=8))
    >>> check = run_check(Path("model.onnx"), Path("merged.onnx"), prepared)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import onnx

from qdqtool.io.data.dataset import Dataset, open_inputs
from qdqtool.io.data.preprocess_config import preprocess_for
from qdqtool.verify.numerics import DEFAULT_MAX_ADDED_DB, NumericCheck, Progress, compare_models
from qdqtool.verify.reference import FloatReference


@dataclass(kw_only=True)
class CheckSettings:
    """How to check an edit numerically; "None means default". The requests of merge, compare and report are
    CheckSettings too (keyword fields), so the check's options are spelled once."""

    verify: bool = True  # run the check at all
    inputs: str | Path | None = None  # what --inputs names (qdqtool.io.data); None: seeded random data
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    seed: int = 0
    max_samples: int | None = None
    preprocess: dict[str, object] = field(default_factory=dict)  # command-line preprocessing settings
    use_config: bool = True  # read [preprocess] from the model's config file
    reference: Path | None = None  # the FP32 export; None: derived from the model
    max_added_error: float = DEFAULT_MAX_ADDED_DB  # dB any slice's error against float may grow
    min_cosine: float | None = None  # also require this cosine of the edited model against the original


@dataclass
class PreparedCheck:
    settings: CheckSettings
    structure: onnx.ModelProto
    data: Dataset
    reference: FloatReference


def prepare_check(model: Path, structure: onnx.ModelProto, settings: CheckSettings) -> PreparedCheck:
    """Open the data set and the reference for checking edits of ``model`` (BadInputError when either does not fit
    the model)."""
    preprocess = preprocess_for(model, settings.preprocess, settings.use_config)
    spec = None if settings.inputs is None else str(settings.inputs)
    data = open_inputs(spec, structure, shapes=settings.input_shapes, seed=settings.seed,
                       max_samples=settings.max_samples, preprocess=preprocess)
    reference = FloatReference.for_model(model, structure, settings.reference)
    return PreparedCheck(settings, structure, data, reference)


def run_check(original: Path | onnx.ModelProto, edited: Path | onnx.ModelProto, prepared: PreparedCheck,
              progress: Progress | None = None) -> NumericCheck:
    """The original and the edited model against float on the prepared data set."""
    settings = prepared.settings
    return compare_models(original, edited, prepared.data, prepared.reference, settings.max_added_error,
                          settings.min_cosine, prepared.structure, progress)
