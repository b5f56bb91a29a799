"""Batch normalisation."""

from __future__ import annotations

import numpy as np

from ..kernels import ops
from .layer import Layer, _empty_params, _layout_of, as_rows, channels_last


class BatchNorm(Layer):
    """Batch normalisation (Ioffe and Szegedy 2015), per feature or per channel.

    x: (N, F) -> out: (N, F)                 statistics per feature over the batch
    x: (N, C, H, W) -> out: (N, C, H, W)     statistics per channel over the batch and every
                                             pixel (the convolutional form); F or C is
                                             ``num_features``

    Write M for the number of values behind each statistic (N, or N * H * W) and sum_M for a
    sum over them.

    training (M >= 2):
        mu  = sum_M x / M                    var = sum_M (x - mu)**2 / M   (biased)
        xhat = (x - mu) / sqrt(var + eps)    out = gamma * xhat + beta
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)
    eval:
        xhat = (x - running_mean) / sqrt(running_var + eps)    out = gamma * xhat + beta

    backward, with s = 1 / sqrt(var + eps) and g = dout * gamma:
        dbeta  += sum_M dout
        dgamma += sum_M dout * xhat
        training:  dx = (s / M) * (M * g - sum_M g - xhat * sum_M g * xhat)
        eval:      dx = g * s     (the running statistics are constants)

    The training-mode dx carries the gradient through mu and var: each output depends on
    every value behind its statistic.  Cached: xhat and s (and the mode).  Both modes run in
    the kernels of numgan/kernels/norm.py, which see the input as (N, C, L): an image batch in C
    order as (N, C, H * W), one stored channels last (as the convolutions leave theirs) as its
    pixel rows (N * H * W, C, 1), both views.  The output keeps the input's layout.
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
        bad = not isinstance(num_features, (int, np.integer)) or isinstance(num_features, bool)
        if bad or num_features < 1:
            raise ValueError(
                f"BatchNorm: num_features must be a positive int, got {num_features!r}"
            )
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
        if eps <= 0:
            raise ValueError(f"BatchNorm: eps must be positive, got {eps!r}")
        self.num_features = int(num_features)
        self.momentum, self.eps = float(momentum), float(eps)
        self.params, self.grads = _empty_params(
            "BatchNorm", dtype, gamma=(num_features,), beta=(num_features,)
        )
        self.params["gamma"].fill(1.0)
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)

    @property
    def in_features(self):
        return self.num_features

    @property
    def out_features(self):
        return self.num_features

    def output_shape(self, in_shape):
        if in_shape is None:
            return None
        in_shape = tuple(in_shape)
        if len(in_shape) not in (1, 3) or in_shape[0] != self.num_features:
            c = self.num_features
            raise ValueError(f"{self!r} expects samples of shape ({c},) or ({c}, H, W)")
        return in_shape

    def buffers(self):
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def reset_parameters(self, rng):
        self.params["gamma"].fill(1.0)
        self.params["beta"].fill(0.0)
        self.running_mean.fill(0.0)
        self.running_var.fill(1.0)

    @staticmethod
    def _as_ncl(a: np.ndarray) -> np.ndarray:
        """The kernels' (N, C, L) view: (N, F) -> (N, F, 1); (N, C, H, W) -> (N, C, H * W) in C
        order, or its pixel rows (N * H * W, C, 1) when stored channels last."""
        if a.ndim == 4 and not a.flags.c_contiguous and channels_last(a):
            return as_rows(a)[:, :, None]
        return a.reshape(a.shape[0], a.shape[1], -1)

    def forward(self, x, training=True):
        x = self._check_input(x)
        gamma, beta = self.params["gamma"], self.params["beta"]
        x = np.asarray(x, dtype=gamma.dtype)
        if not (x.flags.c_contiguous or channels_last(x)):
            x = np.ascontiguousarray(x)
        xhat, out = np.empty_like(x), np.empty_like(x)  # x's layout
        s = np.empty(self.num_features, dtype=x.dtype)
        x3, xhat3, out3 = self._as_ncl(x), self._as_ncl(xhat), self._as_ncl(out)
        if training:
            m = x3.shape[0] * x3.shape[2]
            if m < 2:
                raise ValueError(
                    "BatchNorm in training mode needs at least 2 values per statistic to "
                    f"estimate a variance, got an input of shape {x.shape}: use a larger "
                    "batch or eval mode"
                )
            mu, var = np.empty_like(s), np.empty_like(s)
            ops.batchnorm_forward(x3, gamma, beta, self.eps, xhat3, s, out3, mu, var)
            r = self.momentum
            self.running_mean *= 1.0 - r
            self.running_mean += r * mu
            self.running_var *= 1.0 - r
            self.running_var += r * var * (m / (m - 1))
        else:
            ops.batchnorm_eval(
                x3, gamma, beta, self.running_mean, self.running_var, self.eps, xhat3, s, out3
            )
        self.cache = (xhat, s, training)
        return out

    def backward(self, dout, param_grads=True, input_grad=True):
        xhat, s, training = self._need_cache()
        self._check_dout(dout, xhat.shape)
        dout = _layout_of(xhat, dout)
        dx = np.empty_like(xhat)
        ops.batchnorm_backward(
            self._as_ncl(dout),
            self._as_ncl(xhat),
            s,
            self.params["gamma"],
            self._as_ncl(dx),
            self.grads["gamma"],
            self.grads["beta"],
            training,
            param_grads,
        )
        return dx

    def __repr__(self):
        return f"BatchNorm({self.num_features})"
