"""Layers with hand-written forward and backward passes, Sequential, optimisers, gradcheck.

    layer.py        the Layer contract every layer follows, and weight initialisation
    dense.py        Dense, Maxout
    minibatch.py    MinibatchDiscrimination
    conv.py         Conv2D, ConvTranspose2D
    activations.py  LeakyReLU, ReLU, Tanh, Sigmoid, and Affine (a fixed change of units)
    norm.py         BatchNorm
    classifier.py   Classifier, train_classifier, softmax_cross_entropy (a softmax MLP)
    parallel.py     Parallel: branches on parts of the input, joined (a conditional GAN's nets)
    dropout.py      Dropout
    shape.py        Flatten, Reshape
    sequential.py   Sequential: a stack of layers with the same contract as one layer
    optim.py        SGD with momentum, Adam, and learning-rate/momentum schedules
    gradcheck.py    central-difference checks of any backward pass (public: numgan.gradcheck)

The arithmetic runs in numgan.kernels; nothing here knows about GANs.
"""

from . import gradcheck
from .activations import Affine, LeakyReLU, ReLU, Sigmoid, Tanh
from .classifier import Classifier, softmax_cross_entropy, train_classifier
from .conv import Conv2D, ConvTranspose2D
from .dense import Dense, Maxout
from .dropout import Dropout
from .layer import Layer, NotInitializedError
from .minibatch import MinibatchDiscrimination
from .norm import BatchNorm
from .optim import SGD, Adam, ExponentialDecay, LinearRamp
from .parallel import Parallel
from .sequential import NonFiniteInputError, Sequential
from .shape import Flatten, Reshape

__all__ = [
    "Affine",
    "SGD",
    "Adam",
    "BatchNorm",
    "Classifier",
    "Conv2D",
    "ConvTranspose2D",
    "Dense",
    "Dropout",
    "ExponentialDecay",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "LinearRamp",
    "Maxout",
    "MinibatchDiscrimination",
    "NonFiniteInputError",
    "NotInitializedError",
    "Parallel",
    "ReLU",
    "Reshape",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "gradcheck",
    "softmax_cross_entropy",
    "train_classifier",
]
