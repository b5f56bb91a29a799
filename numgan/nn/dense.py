"""Dense and Maxout: the layers with a weight matrix and a bias."""

from __future__ import annotations

import numpy as np

from ..kernels import ops
from .layer import INITS, Layer, _check_rows, _check_scale, _draw_weights, _empty_params


class _Affine(Layer):
    """Shared set-up of layers with a weight matrix and a bias: Dense and Maxout."""

    def __init__(self, in_features, width, init, scale, rng, dtype):
        super().__init__()
        for name, v in (("in_features", in_features), ("width", width)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive int, got {v!r}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}: choose one of {', '.join(INITS)}")
        self.in_shape = (int(in_features),)
        self.init = init
        self.scale = _check_scale(type(self).__name__, scale)
        self.params, self.grads = _empty_params(
            type(self).__name__, dtype, W=(in_features, width), b=(width,)
        )
        self._initialized = False
        if rng is not None:
            self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        W = self.params["W"]
        W[...] = _draw_weights(rng, self.init, self.scale, W.shape[0], self.fan_out, W.shape)
        self.params["b"].fill(0.0)
        self._initialized = True

    def output_shape(self, in_shape):
        _check_rows(self, in_shape)
        return (self.width,)

    def _check_ready(self, x) -> np.ndarray:
        """x as an array, initialised weights and an input that fits, or a clear error."""
        if (
            self._initialized
            and isinstance(x, np.ndarray)
            and x.ndim == 2
            and x.shape[1] == self.in_shape[0]
            and x.dtype.kind == "f"
        ):
            return x  # the common case, checked without a call
        self._require_initialized()
        return self._check_input(x)


class Dense(_Affine):
    """Affine map.

    x: (N, D_in) -> out: (N, D_out)

        out = x @ W + b                 W: (D_in, D_out), b: (D_out,)

    backward, with dout = dL/dout of shape (N, D_out):

        dx  = dout @ W.T                (N, D_in)
        dW += x.T @ dout                (D_in, D_out)
        db += sum_n dout[n]             (D_out,)

    Cached: x (dW needs it).  W is read from params, so it is not cached twice.
    The arithmetic runs in ``kernels.dense_forward``/``dense_backward`` (NumPy twin or Numba).
    """

    rowwise = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: str = "uniform",
        scale: float = 0.05,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ) -> None:
        self.fan_out = self.width = int(out_features)
        super().__init__(in_features, out_features, init, scale, rng, dtype)

    def forward(self, x, training=True):
        x = self._check_ready(x)
        W, b = self.params["W"], self.params["b"]
        x = x.astype(W.dtype, copy=False)
        out = np.empty((len(x), self.width), dtype=W.dtype)
        ops.dense_forward(x, W, b, out)
        self.cache = (x,)
        return out

    def backward(self, dout, param_grads=True, input_grad=True):
        (x,) = self._need_cache()
        self._check_dout(dout, (len(x), self.width))
        dx = np.empty_like(x) if input_grad else None
        ops.dense_backward(
            dout, x, self.params["W"], dx, self.grads["W"], self.grads["b"], param_grads
        )
        return dx

    def __repr__(self):
        return f"Dense({self.in_shape[0]}, {self.width})"


class Maxout(_Affine):
    """Maxout units (Goodfellow et al. 2013), used by the paper's MNIST discriminator.

    x: (N, D_in) -> out: (N, units)

        z = x @ W + b                   W: (D_in, units * pieces); z: (N, units * pieces),
                                        viewed as (N, units, pieces)
        out[n, u] = max_p z[n, u, p]

    backward: the max routes the gradient to the winning piece only.

        dz[n, u, p] = dout[n, u] if p == argmax_p z[n, u, p] else 0
        dx  = dz @ W.T,   dW += x.T @ dz,   db += sum_n dz[n]

    Cached: x and the winning piece index per unit (N, units).
    """

    rowwise = True

    def __init__(
        self,
        in_features: int,
        units: int,
        pieces: int,
        *,
        init: str = "uniform",
        scale: float = 0.05,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ) -> None:
        if isinstance(pieces, bool) or not isinstance(pieces, (int, np.integer)) or pieces < 1:
            raise ValueError(f"Maxout: pieces must be a positive int, got {pieces!r}")
        self.units, self.pieces = int(units), int(pieces)
        # Glorot/He fans count one piece's worth of outputs per unit.
        self.fan_out = self.width = self.units
        super().__init__(in_features, units * pieces, init, scale, rng, dtype)

    def forward(self, x, training=True):
        x = self._check_ready(x)
        W, b = self.params["W"], self.params["b"]
        x = x.astype(W.dtype, copy=False)
        z = np.empty((len(x), self.units * self.pieces), dtype=W.dtype)
        ops.dense_forward(x, W, b, z)
        out = np.empty((len(x), self.units), dtype=W.dtype)
        arg = np.empty((len(x), self.units), dtype=np.intp)
        ops.maxout_forward(z, self.pieces, out, arg)
        self.cache = (x, arg)
        return out

    def backward(self, dout, param_grads=True, input_grad=True):
        x, arg = self._need_cache()
        self._check_dout(dout, arg.shape)
        dz = np.empty((len(x), self.units * self.pieces), dtype=dout.dtype)
        ops.maxout_backward(dout, arg, self.pieces, dz)
        dx = np.empty_like(x) if input_grad else None
        ops.dense_backward(
            dz, x, self.params["W"], dx, self.grads["W"], self.grads["b"], param_grads
        )
        return dx

    def __repr__(self):
        return f"Maxout({self.in_shape[0]}, units={self.units}, pieces={self.pieces})"
