"""numgan: Generative Adversarial Networks in NumPy, with every backward pass written by hand.

    numgan.kernels  the arithmetic: each Numba kernel beside its NumPy twin, and the switch
    numgan.nn       layers, Sequential, optimisers, gradcheck
    numgan.gan      GAN, objectives, the Algorithm-1 Trainer, presets, checkpoints
    numgan.data     data sources, file formats, the dataset registry
    numgan.eval     metrics and figures
    numgan.app      run folders and the command line

docs/architecture.md is the map.
"""

from .data import ArrayData, Dataset, Gaussian1D, GaussianMixture1D, grid25, load_dataset, ring8
from .gan import (
    GAN,
    CrossEntropy,
    DivergenceError,
    GaussianNoise,
    Objective,
    Trainer,
    UniformNoise,
    models,
)
from .gan.objectives import discriminator_loss, gan_value, generator_loss
from .kernels import get_backend, set_backend
from .nn import (
    SGD,
    Adam,
    BatchNorm,
    Dense,
    Dropout,
    ExponentialDecay,
    Flatten,
    Layer,
    LeakyReLU,
    LinearRamp,
    Maxout,
    NotInitializedError,
    ReLU,
    Reshape,
    Sequential,
    Sigmoid,
    Tanh,
    gradcheck,
)

__version__ = "0.2.0.dev0"

__all__ = [
    "SGD",
    "Adam",
    "ArrayData",
    "BatchNorm",
    "CrossEntropy",
    "Dataset",
    "Dense",
    "DivergenceError",
    "Dropout",
    "ExponentialDecay",
    "Flatten",
    "GAN",
    "Gaussian1D",
    "GaussianMixture1D",
    "GaussianNoise",
    "Layer",
    "LeakyReLU",
    "LinearRamp",
    "Maxout",
    "NotInitializedError",
    "Objective",
    "ReLU",
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
    "grid25",
    "load_dataset",
    "models",
    "ring8",
    "set_backend",
]
