"""numgan: Generative Adversarial Networks in NumPy, with every backward pass written by hand.

    numgan.kernels  the arithmetic: each Numba kernel beside its NumPy twin, and the switch
    numgan.nn       layers, Sequential, optimisers, gradcheck
    numgan.gan      GAN, objectives, the Algorithm-1 Trainer, presets, checkpoints
    numgan.data     data sources, file formats, the dataset registry
    numgan.eval     metrics and figures
    numgan.app      run folders and the command line

docs/architecture.md is the map.

Importing numgan itself is cheap: each public name is imported from its part on first use
(PEP 562), so ``import numgan as ng; ng.Dense`` works as before, and the command line can
start (and take Ctrl-C) before NumPy and Numba load.  ``from numgan import *`` imports them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each public name -> the module that defines it.
_SOURCES = {
    name: module
    for module, names in {
        "data": "ArrayData Dataset Gaussian1D GaussianMixture1D grid25 load_dataset ring8",
        "gan": "GAN CrossEntropy DivergenceError FeatureMatching GaussianNoise InstanceNoise "
        "LeastSquares Objective ReplayBuffer Trainer UniformNoise models",
        "gan.objectives": "discriminator_loss gan_value generator_loss",
        "kernels": "get_backend set_backend",
        "nn": "SGD Adam Affine BatchNorm Conv2D ConvTranspose2D Dense Dropout ExponentialDecay "
        "Flatten Layer LeakyReLU LinearRamp Maxout MinibatchDiscrimination NotInitializedError "
        "Parallel ReLU Reshape Sequential Sigmoid Tanh gradcheck Classifier softmax_cross_entropy "
        "train_classifier",
    }.items()
    for name in names.split()
}
# The parts, as attributes too: numgan.nn works after a bare ``import numgan``.
_PARTS = ("kernels", "nn", "gan", "data", "eval", "app", "fileio")

if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from .data import (
        ArrayData,
        Dataset,
        Gaussian1D,
        GaussianMixture1D,
        grid25,
        load_dataset,
        ring8,
    )
    from .gan import (
        GAN,
        CrossEntropy,
        DivergenceError,
        FeatureMatching,
        GaussianNoise,
        InstanceNoise,
        LeastSquares,
        Objective,
        ReplayBuffer,
        Trainer,
        UniformNoise,
        models,
    )
    from .gan.objectives import discriminator_loss, gan_value, generator_loss
    from .kernels import get_backend, set_backend
    from .nn import (
        SGD,
        Adam,
        Affine,
        BatchNorm,
        Classifier,
        Conv2D,
        ConvTranspose2D,
        Dense,
        Dropout,
        ExponentialDecay,
        Flatten,
        Layer,
        LeakyReLU,
        LinearRamp,
        Maxout,
        MinibatchDiscrimination,
        NotInitializedError,
        Parallel,
        ReLU,
        Reshape,
        Sequential,
        Sigmoid,
        Tanh,
        gradcheck,
        softmax_cross_entropy,
        train_classifier,
    )


def __getattr__(name: str) -> Any:
    if name in _SOURCES:
        value = getattr(importlib.import_module(f".{_SOURCES[name]}", __name__), name)
    elif name in _PARTS:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__version__ = "0.2.0.dev0"

__all__ = [
    "SGD",
    "Adam",
    "Affine",
    "ArrayData",
    "BatchNorm",
    "Conv2D",
    "ConvTranspose2D",
    "CrossEntropy",
    "Dataset",
    "Dense",
    "DivergenceError",
    "Dropout",
    "FeatureMatching",
    "ExponentialDecay",
    "Flatten",
    "GAN",
    "Gaussian1D",
    "GaussianMixture1D",
    "GaussianNoise",
    "InstanceNoise",
    "Layer",
    "LeastSquares",
    "LeakyReLU",
    "LinearRamp",
    "Maxout",
    "MinibatchDiscrimination",
    "NotInitializedError",
    "Parallel",
    "Objective",
    "ReLU",
    "ReplayBuffer",
    "Reshape",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "Trainer",
    "UniformNoise",
    "discriminator_loss",
    "gan_value",
    "generator_loss",
    "get_backend",
    "gradcheck",
    "Classifier",
    "softmax_cross_entropy",
    "train_classifier",
    "grid25",
    "load_dataset",
    "models",
    "ring8",
    "set_backend",
]
