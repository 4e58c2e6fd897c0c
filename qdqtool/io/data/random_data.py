"""Seeded random feeds from Polygraphy's DataLoader: what ``polygraphy run`` feeds (uniform in [0, 1) for floats,
small integers, ``False`` for booleans), so numbers on random data match Polygraphy's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from qdqtool.io.data.shapes import ModelInput


def random_feed(inputs: list[ModelInput], seed: int = 0) -> dict[str, np.ndarray]:
    """One seeded random feed; dynamic dimensions are 1 (fix them with ``--input-shape``)."""
    from polygraphy.common import TensorMetadata
    from polygraphy.comparator import DataLoader
    from polygraphy.logger import G_LOGGER

    metadata = TensorMetadata()
    for spec in inputs:
        metadata.add(spec.name, dtype=spec.dtype, shape=spec.shape())
    with G_LOGGER.verbosity(G_LOGGER.CRITICAL):  # Polygraphy logs to stdout; qdqtool's stdout may be JSON
        loader = DataLoader(seed=seed, input_metadata=metadata)
        loader.input_metadata = metadata
        return {name: np.asarray(array) for name, array in loader[0].items()}


def feeds(inputs: list[ModelInput], seed: int) -> Callable[[], Iterator[dict[str, np.ndarray]]]:
    """A data set of one seeded random feed."""
    return lambda: iter([random_feed(inputs, seed)])
