"""Data: sources to sample minibatches from, file formats, pixel ranges, the dataset registry.

    numgan.data.sources    ArrayData, Gaussian1D, the mixtures (ring8, grid25), as_data, as_rows
    numgan.data.formats    .npy / .npz files (load_array, load_xy), IDX (read_idx), MNIST
    numgan.data.pixels     PIXEL_RANGES ("sigmoid" [0, 1], "tanh" [-1, 1]) and scale_pixels
    numgan.data.datasets   Dataset, load_dataset and the DATASETS it knows, splits, load_digits

Every source draws ``sample(m, rng) -> x``; a labelled one also ``sample_labeled(m, rng) ->
(x, y)``, and says how many classes it has in ``num_classes`` (None when unlabelled).
"""

from .datasets import (
    DATASETS,
    DEFAULT_SPLITS,
    Dataset,
    load_dataset,
    load_digits,
    split,
    split_indices,
    split_labeled,
)
from .formats import (
    DATA_ENV,
    MNIST_FILES,
    download_mnist,
    load_array,
    load_mnist,
    load_xy,
    read_idx,
)
from .pixels import PIXEL_RANGES, scale_pixels
from .sources import (
    ArrayData,
    DataSource,
    Gaussian1D,
    GaussianMixture1D,
    GaussianMixture2D,
    as_data,
    as_rows,
    check_labels,
    grid25,
    ring8,
)

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "DEFAULT_SPLITS",
    "MNIST_FILES",
    "PIXEL_RANGES",
    "ArrayData",
    "DataSource",
    "Dataset",
    "Gaussian1D",
    "GaussianMixture1D",
    "GaussianMixture2D",
    "as_data",
    "as_rows",
    "check_labels",
    "download_mnist",
    "grid25",
    "load_array",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "load_xy",
    "read_idx",
    "ring8",
    "scale_pixels",
    "split",
    "split_indices",
    "split_labeled",
]
