"""Layers that change only the shape of a sample: Flatten and Reshape.

No arithmetic: forward and backward are views of the same numbers, so their gradient is the
upstream gradient with the other shape.
"""

from __future__ import annotations

import math

import numpy as np

from .layer import Layer, Shape


class Flatten(Layer):
    """x: (N, d_1, ..., d_k) -> out: (N, d_1 * ... * d_k), row-major (C order).

    backward: dx = dout reshaped to x's shape.      Cached: x's shape (no array).
    """

    keeps_shape = False
    rowwise = True

    def output_shape(self, in_shape: Shape | None) -> Shape | None:
        return None if in_shape is None else (math.prod(in_shape),)

    def forward(self, x, training=True):
        x = self._check_input(x)
        self.cache = (x.shape,)
        return x.reshape(len(x), math.prod(x.shape[1:]))  # -1 is ambiguous for an empty batch

    def backward(self, dout, param_grads=True, input_grad=True):
        (shape,) = self._need_cache()
        return dout.reshape(shape)


class Reshape(Layer):
    """x: (N, ...) -> out: (N, *shape), the same numbers in row-major (C) order.

    ``Reshape((C, H, W))`` turns a Dense layer's (N, C * H * W) output into images.
    backward: dx = dout reshaped to x's shape.      Cached: x's shape (no array).
    """

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if not shape or not all(isinstance(d, (int, np.integer)) and d >= 1 for d in shape):
            raise ValueError(
                f"Reshape: shape must be a tuple of positive ints (one sample's shape, "
                f"without the batch axis), got {shape!r}"
            )
        self.shape = tuple(int(d) for d in shape)

    keeps_shape = False
    rowwise = True

    def output_shape(self, in_shape: Shape | None) -> Shape:
        if in_shape is not None and math.prod(in_shape) != math.prod(self.shape):
            raise ValueError(
                f"{self!r} needs samples of {math.prod(self.shape)} values, "
                f"not of shape {tuple(in_shape)} ({math.prod(in_shape)} values)"
            )
        return self.shape

    def forward(self, x, training=True):
        x = self._check_input(x)
        self.cache = (x.shape,)
        return x.reshape(len(x), *self.shape)

    def backward(self, dout, param_grads=True, input_grad=True):
        (shape,) = self._need_cache()
        return dout.reshape(shape)

    def __repr__(self):
        return f"Reshape({self.shape})"
