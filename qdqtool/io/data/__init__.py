"""Input data sets: what ``--inputs`` names (an .npz, images, a Polygraphy data loader or its saved inputs, or
nothing for seeded random data), read as feeds, one dict of arrays per inference."""

from qdqtool.io.data.dataset import Dataset, open_inputs
from qdqtool.io.data.images import PRESETS, Preprocess
from qdqtool.io.data.shapes import ModelInput, model_inputs, parse_input_shapes

__all__ = ["PRESETS", "Dataset", "ModelInput", "Preprocess", "model_inputs", "open_inputs", "parse_input_shapes"]
