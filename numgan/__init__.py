"""numgan: Generative Adversarial Networks in NumPy, with every backward pass written by hand."""

from . import gradcheck, models
from .data import ArrayData, Dataset, Gaussian1D, GaussianMixture1D, grid25, load_dataset, ring8
from .gan import GAN, DivergenceError, GaussianNoise, Trainer, UniformNoise
from .kernels import get_backend, set_backend
from .layers import (
    BatchNorm,
    Dense,
    Dropout,
    Layer,
    LeakyReLU,
    Maxout,
    NotInitializedError,
    ReLU,
    Sigmoid,
    Tanh,
)
from .losses import discriminator_loss, gan_value, generator_loss
from .network import Sequential
from .optim import SGD, Adam, ExponentialDecay, LinearRamp

__version__ = "0.1.0"

__all__ = [
    "Adam",
    "get_backend",
    "set_backend",
    "GAN",
    "SGD",
    "ArrayData",
    "Dataset",
    "GaussianMixture1D",
    "grid25",
    "load_dataset",
    "ring8",
    "BatchNorm",
    "Dense",
    "DivergenceError",
    "Dropout",
    "ExponentialDecay",
    "Gaussian1D",
    "GaussianNoise",
    "Layer",
    "LeakyReLU",
    "LinearRamp",
    "Maxout",
    "NotInitializedError",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "Trainer",
    "UniformNoise",
    "discriminator_loss",
    "gan_value",
    "generator_loss",
    "gradcheck",
    "models",
]
