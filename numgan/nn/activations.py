"""Elementwise maps: the activations LeakyReLU, ReLU, Tanh, Sigmoid (each caches its output),
and Affine, a fixed change of units."""

from __future__ import annotations

import numpy as np

from ..kernels import ops
from .layer import Layer, _dense, _flat, _layout_of, real_number


class LeakyReLU(Layer):
    """y = x if x > 0 else alpha * x, elementwise, any shape.

    backward: dx = dout * (1 if y > 0 else alpha)

    Cached: the output y.  With alpha >= 0, y > 0 exactly where x > 0, so the output tells the
    slope and no separate mask is kept.
    """

    rowwise = True

    alpha = 0.2

    def __init__(self, alpha: float = 0.2) -> None:
        super().__init__()
        alpha = real_number(type(self).__name__, "alpha", alpha)
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"{type(self).__name__}: alpha must be in [0, 1), got {alpha!r}")
        self.alpha = alpha

    def forward(self, x, training=True):
        x = _dense(x)
        y = np.empty_like(x)  # x's memory order (channels-last images stay so)
        ops.leaky_relu_forward(_flat(x), self.alpha, _flat(y))
        self.cache = (y,)
        return y

    def backward(self, dout, param_grads=True, input_grad=True):
        (y,) = self._need_cache()
        self._check_dout(dout, y.shape)
        dout = _layout_of(y, dout)
        dx = np.empty_like(y)
        ops.leaky_relu_backward(_flat(dout), _flat(y), self.alpha, _flat(dx))
        return dx

    def __repr__(self):
        return f"LeakyReLU({self.alpha})"


class ReLU(LeakyReLU):
    """y = max(x, 0): LeakyReLU with alpha = 0.   backward: dx = dout * [y > 0].  Cached: y."""

    rowwise = True

    def __init__(self) -> None:
        super().__init__(alpha=0.0)

    def __repr__(self):
        return "ReLU()"


class Tanh(Layer):
    """y = tanh(x), elementwise.

    backward: dx = dout * (1 - y**2)      Cached: the output y (cheaper than x: no tanh again).
    """

    rowwise = True

    def forward(self, x, training=True):
        x = _dense(x)
        y = np.empty_like(x)
        ops.tanh_forward(_flat(x), _flat(y))
        self.cache = (y,)
        return y

    def backward(self, dout, param_grads=True, input_grad=True):
        (y,) = self._need_cache()
        self._check_dout(dout, y.shape)
        dout = _layout_of(y, dout)
        dx = np.empty_like(y)
        ops.tanh_backward(_flat(dout), _flat(y), _flat(dx))
        return dx


class Affine(Layer):
    """y = scale * x + shift, elementwise, with fixed numbers: no parameters, nothing trained.

    backward: dx = scale * dout.      Cached: nothing.
    A change of units: the 1-D toy's G ends in Affine(sigma, mu) and its D starts with
    Affine(1 / sigma, -mu / sigma), so both networks work in the data's standard units.
    """

    rowwise = True

    def __init__(self, scale: float, shift: float = 0.0) -> None:
        super().__init__()
        scale, shift = float(scale), float(shift)
        if not (np.isfinite(scale) and scale != 0.0 and np.isfinite(shift)):
            raise ValueError(
                f"Affine: scale must be finite and non-zero and shift finite, got {scale!r}, "
                f"{shift!r}"
            )
        self.scale, self.shift = scale, shift

    def forward(self, x, training=True):
        return (x * x.dtype.type(self.scale) + x.dtype.type(self.shift)).astype(x.dtype, copy=False)

    def backward(self, dout, param_grads=True, input_grad=True):
        return dout * dout.dtype.type(self.scale) if input_grad else None

    def __repr__(self):
        return f"Affine({self.scale:g}, {self.shift:g})"


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) as a new array, by the same kernel as the Sigmoid layer."""
    x = np.asarray(x)
    x = _dense(x.astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False))
    y = np.empty_like(x)
    ops.sigmoid_forward(_flat(x), _flat(y))
    return y


class Sigmoid(Layer):
    """y = 1 / (1 + exp(-x)), elementwise.

    backward: dx = dout * y * (1 - y)      Cached: the output y.
    """

    rowwise = True

    def forward(self, x, training=True):
        x = _dense(x)
        y = np.empty_like(x)
        ops.sigmoid_forward(_flat(x), _flat(y))
        self.cache = (y,)
        return y

    def backward(self, dout, param_grads=True, input_grad=True):
        (y,) = self._need_cache()
        self._check_dout(dout, y.shape)
        dout = _layout_of(y, dout)
        dx = np.empty_like(y)
        ops.sigmoid_backward(_flat(dout), _flat(y), _flat(dx))
        return dx
