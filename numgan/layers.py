"""Layers with hand-written forward and backward passes.

Every layer follows one contract:

    out = layer.forward(x, training=True)      # caches exactly what backward reads
    dx  = layer.backward(dout, param_grads=True)

- ``params`` and ``grads`` are dicts with the same keys (``W``, ``b``, ``gamma``, ``beta``).
- Parameter gradients accumulate (``+=``) until ``zero_grad()``: the discriminator sees a real
  batch and a fake batch before one update, and both must add up.
- ``backward(dout, param_grads=False)`` returns only ``dx``.  The generator step backpropagates
  through D to reach G, and must neither compute nor apply D's parameter gradients.

Shapes: ``N`` is the batch size, ``D_in``/``D_out`` the feature widths.  Every formula below is
derived step by step in docs/backprop.md.
"""

from __future__ import annotations

import numpy as np

from .kernels import ops

INITS = ("uniform", "glorot", "he")


class NotInitializedError(RuntimeError):
    """Raised when a layer is used before its parameters were drawn."""


class Layer:
    """Base class: no parameters, identity ``zero_grad``, and the shape bookkeeping."""

    #: width of the input this layer expects, or None if it works on any width
    in_features: int | None = None
    #: width of the output, or None if it equals the input width
    out_features: int | None = None

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache: tuple | None = None
        self._initialized = True

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray, param_grads: bool = True) -> np.ndarray:
        raise NotImplementedError

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0.0)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """Draw initial parameters from ``rng``.  Layers without parameters do nothing."""

    @property
    def initialized(self) -> bool:
        return self._initialized

    def astype(self, dtype) -> Layer:
        """Cast parameters, gradients and buffers to ``dtype`` in place; returns self."""
        dtype = np.dtype(dtype)
        for name in self.params:
            self.params[name] = self.params[name].astype(dtype)
            self.grads[name] = self.grads[name].astype(dtype)
        for name, buf in self.buffers().items():
            setattr(self, name, buf.astype(dtype))
        self.cache = None
        return self

    def buffers(self) -> dict[str, np.ndarray]:
        """State that is not trained by gradients but is saved (BatchNorm running stats)."""
        return {}

    def _need_cache(self) -> tuple:
        if self.cache is None:
            raise RuntimeError(
                f"{self!r}.backward() called before forward(): run forward first, "
                "and call backward once per forward"
            )
        return self.cache

    def _check_input(self, x: np.ndarray) -> None:
        if x.ndim != 2:
            raise ValueError(
                f"{self!r} expects a 2-D input of shape (N, features), got shape {x.shape}"
            )
        if self.in_features is not None and x.shape[1] != self.in_features:
            raise ValueError(
                f"{self!r} expects {self.in_features} input features, got an input of shape "
                f"{x.shape}: the previous layer's output width must match"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _empty_params(dtype, **shapes: tuple[int, ...]) -> tuple[dict, dict]:
    params = {k: np.zeros(s, dtype=dtype) for k, s in shapes.items()}
    grads = {k: np.zeros(s, dtype=dtype) for k, s in shapes.items()}
    return params, grads


def _draw_weights(rng, init: str, scale: float, fan_in: int, fan_out: int, shape) -> np.ndarray:
    """Initial weights.

    uniform: U(-scale, scale), the paper's choice (its MNIST nets used scale ~0.05)
    glorot:  U(-a, a) with a = sqrt(6 / (fan_in + fan_out))
    he:      N(0, 2 / fan_in), for ReLU-family layers
    """
    if init == "uniform":
        return rng.uniform(-scale, scale, size=shape)
    if init == "glorot":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=shape)
    if init == "he":
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    raise ValueError(f"unknown init {init!r}: choose one of {', '.join(INITS)}")


class _Affine(Layer):
    """Shared set-up of layers with a weight matrix and a bias: Dense and Maxout."""

    def __init__(self, in_features, width, init, scale, rng, dtype):
        super().__init__()
        for name, v in (("in_features", in_features), ("width", width)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive int, got {v!r}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}: choose one of {', '.join(INITS)}")
        self.in_features = int(in_features)
        self.init = init
        self.scale = float(scale)
        self.params, self.grads = _empty_params(dtype, W=(in_features, width), b=(width,))
        self._initialized = False
        if rng is not None:
            self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        W = self.params["W"]
        W[...] = _draw_weights(rng, self.init, self.scale, W.shape[0], self.fan_out, W.shape)
        self.params["b"].fill(0.0)
        self._initialized = True

    def _check_ready(self, x):
        if not self._initialized:
            raise NotInitializedError(
                f"{self!r} has no weights yet: pass rng= when building it, call "
                "net.initialize(rng), or let Trainer(seed=...) initialise it"
            )
        self._check_input(x)


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
        self.fan_out = int(out_features)
        super().__init__(in_features, out_features, init, scale, rng, dtype)
        self.out_features = int(out_features)

    def forward(self, x, training=True):
        self._check_ready(x)
        W, b = self.params["W"], self.params["b"]
        x = x.astype(W.dtype, copy=False)
        out = np.empty((len(x), self.out_features), dtype=W.dtype)
        ops.dense_forward(x, W, b, out)
        self.cache = (x,)
        return out

    def backward(self, dout, param_grads=True, input_grad=True):
        """input_grad=False skips dx (returns None): a network's first layer, whose input
        is data or noise, has no use for it."""
        (x,) = self._need_cache()
        dx = np.empty_like(x) if input_grad else None
        ops.dense_backward(
            dout, x, self.params["W"], dx, self.grads["W"], self.grads["b"], param_grads
        )
        return dx

    def __repr__(self):
        return f"Dense({self.in_features}, {self.out_features})"


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
        if not isinstance(pieces, (int, np.integer)) or pieces < 1:
            raise ValueError(f"Maxout: pieces must be a positive int, got {pieces!r}")
        self.units, self.pieces = int(units), int(pieces)
        # Glorot/He fans count one piece's worth of outputs per unit.
        self.fan_out = self.units
        super().__init__(in_features, units * pieces, init, scale, rng, dtype)
        self.out_features = self.units

    def forward(self, x, training=True):
        self._check_ready(x)
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
        dz = np.empty((len(x), self.units * self.pieces), dtype=dout.dtype)
        ops.maxout_backward(dout, arg, self.pieces, dz)
        dx = np.empty_like(x) if input_grad else None
        ops.dense_backward(
            dz, x, self.params["W"], dx, self.grads["W"], self.grads["b"], param_grads
        )
        return dx

    def __repr__(self):
        return f"Maxout({self.in_features}, units={self.units}, pieces={self.pieces})"


class LeakyReLU(Layer):
    """y = x if x > 0 else alpha * x, elementwise, any shape.

    backward: dx = dout * (1 if y > 0 else alpha)

    Cached: the output y.  With alpha >= 0, y > 0 exactly where x > 0, so the output tells the
    slope and no separate mask is kept.
    """

    alpha = 0.2

    def __init__(self, alpha: float = 0.2) -> None:
        super().__init__()
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"{type(self).__name__}: alpha must be in [0, 1), got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, x, training=True):
        y = np.empty_like(x)
        ops.leaky_relu_forward(x, self.alpha, y)
        self.cache = (y,)
        return y

    def backward(self, dout, param_grads=True):
        (y,) = self._need_cache()
        dx = np.empty_like(dout)
        ops.leaky_relu_backward(dout, y, self.alpha, dx)
        return dx

    def __repr__(self):
        return f"LeakyReLU({self.alpha})"


class ReLU(LeakyReLU):
    """y = max(x, 0): LeakyReLU with alpha = 0.   backward: dx = dout * [y > 0].  Cached: y."""

    def __init__(self) -> None:
        super().__init__(alpha=0.0)

    def __repr__(self):
        return "ReLU()"


class Tanh(Layer):
    """y = tanh(x), elementwise.

    backward: dx = dout * (1 - y**2)      Cached: the output y (cheaper than x: no tanh again).
    """

    def forward(self, x, training=True):
        y = np.empty_like(x)
        ops.tanh_forward(x, y)
        self.cache = (y,)
        return y

    def backward(self, dout, param_grads=True):
        (y,) = self._need_cache()
        dx = np.empty_like(dout)
        ops.tanh_backward(dout, y, dx)
        return dx


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


class Sigmoid(Layer):
    """y = 1 / (1 + exp(-x)), elementwise.

    backward: dx = dout * y * (1 - y)      Cached: the output y.
    """

    def forward(self, x, training=True):
        y = np.empty_like(x)
        ops.sigmoid_forward(x, y)
        self.cache = (y,)
        return y

    def backward(self, dout, param_grads=True):
        (y,) = self._need_cache()
        dx = np.empty_like(dout)
        ops.sigmoid_backward(dout, y, dx)
        return dx


class BatchNorm(Layer):
    """Batch normalisation over the batch axis (Ioffe and Szegedy 2015).

    x: (N, F) -> out: (N, F)

    training (N >= 2):
        mu  = mean_n x[n]                    var = mean_n (x[n] - mu)**2   (biased)
        xhat = (x - mu) / sqrt(var + eps)    out = gamma * xhat + beta
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var  = (1 - momentum) * running_var  + momentum * var * N / (N - 1)
    eval:
        xhat = (x - running_mean) / sqrt(running_var + eps)    out = gamma * xhat + beta

    backward, with s = 1 / sqrt(var + eps) and g = dout * gamma:
        dbeta  += sum_n dout[n]
        dgamma += sum_n dout[n] * xhat[n]
        training:  dx = (s / N) * (N * g - sum_n g[n] - xhat * sum_n g[n] * xhat[n])
        eval:      dx = g * s     (the running statistics are constants)

    The training-mode dx carries the gradient through mu and var: each row's output depends
    on every row of the batch.  Cached: xhat and s.
    """

    def __init__(
        self,
        num_features: int,
        *,
        momentum: float = 0.1,
        eps: float = 1e-5,
        dtype=np.float32,
    ) -> None:
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(
                f"BatchNorm: num_features must be a positive int, got {num_features!r}"
            )
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
        if eps <= 0:
            raise ValueError(f"BatchNorm: eps must be positive, got {eps!r}")
        self.in_features = self.out_features = int(num_features)
        self.momentum, self.eps = float(momentum), float(eps)
        self.params, self.grads = _empty_params(dtype, gamma=(num_features,), beta=(num_features,))
        self.params["gamma"].fill(1.0)
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)

    def buffers(self):
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def reset_parameters(self, rng):
        self.params["gamma"].fill(1.0)
        self.params["beta"].fill(0.0)
        self.running_mean.fill(0.0)
        self.running_var.fill(1.0)

    def forward(self, x, training=True):
        self._check_input(x)
        gamma, beta = self.params["gamma"], self.params["beta"]
        if training:
            n = len(x)
            if n < 2:
                raise ValueError(
                    "BatchNorm in training mode needs a batch of at least 2 rows to estimate "
                    f"a variance, got shape {x.shape}: use a larger batch or eval mode"
                )
            xhat, out = np.empty_like(x), np.empty_like(x)
            s, mu, var = (np.empty(x.shape[1], dtype=x.dtype) for _ in range(3))
            ops.batchnorm_forward(x, gamma, beta, self.eps, xhat, s, out, mu, var)
            m = self.momentum
            self.running_mean *= 1.0 - m
            self.running_mean += m * mu
            self.running_var *= 1.0 - m
            self.running_var += m * var * (n / (n - 1))
        else:
            s = 1.0 / np.sqrt(self.running_var + self.eps)
            xhat = (x - self.running_mean) * s
            out = gamma * xhat + beta
        self.cache = (xhat, s, training)
        return out

    def backward(self, dout, param_grads=True):
        xhat, s, training = self._need_cache()
        dx = np.empty_like(dout)
        ops.batchnorm_backward(
            dout,
            xhat,
            s,
            self.params["gamma"],
            dx,
            self.grads["gamma"],
            self.grads["beta"],
            training,
            param_grads,
        )
        return dx

    def __repr__(self):
        return f"BatchNorm({self.in_features})"


class Dropout(Layer):
    """Inverted dropout: keep each unit with probability 1 - p and scale it by 1 / (1 - p).

    training:  out = x * mask,  mask[i] = [u_i >= p] / (1 - p),  u_i ~ U[0, 1) from the run's rng
    eval:      out = x          (the scaling at train time keeps E[out] = x, so nothing to undo)

    backward: dx = dout * mask      Cached: the mask (None in eval mode).

    The run's Generator is attached with ``net.bind_rng(rng)`` (the Trainer does this), so that
    one seed drives every random draw.  ``fix_mask(mask)`` pins the mask, for gradient checks.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = rng
        self.fixed_mask: np.ndarray | None = None

    def fix_mask(self, mask: np.ndarray | None) -> None:
        """Use ``mask`` (already scaled by 1 / (1 - p)) on every training forward; None unpins."""
        self.fixed_mask = mask

    def forward(self, x, training=True):
        if not training or self.p == 0.0:
            self.cache = (None,)
            return x
        if self.fixed_mask is not None:
            mask = self.fixed_mask
            if mask.shape != x.shape:
                raise ValueError(f"Dropout: fixed mask has shape {mask.shape}, input {x.shape}")
        else:
            if self.rng is None:
                raise RuntimeError(
                    "Dropout has no random generator: build it with rng=, call "
                    "net.bind_rng(rng), or let the Trainer bind its own"
                )
            keep = self.rng.random(x.shape) >= self.p
            mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        self.cache = (mask,)
        return x * mask

    def backward(self, dout, param_grads=True):
        (mask,) = self._need_cache()
        return dout if mask is None else dout * mask

    def __repr__(self):
        return f"Dropout({self.p})"
