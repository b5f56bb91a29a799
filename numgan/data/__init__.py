"""Data: sources to sample minibatches from, file formats, and the dataset registry."""

from .datasets import *  # noqa: F403
from .datasets import (
    DATASETS,
    PIXEL_RANGES,
    ArrayData,
    Dataset,
    Gaussian1D,
    GaussianMixture1D,
    GaussianMixture2D,
    as_data,
    grid25,
    load_dataset,
    ring8,
)

__all__ = [
    "DATASETS",
    "PIXEL_RANGES",
    "ArrayData",
    "Dataset",
    "Gaussian1D",
    "GaussianMixture1D",
    "GaussianMixture2D",
    "as_data",
    "grid25",
    "load_dataset",
    "ring8",
]
