"""Minibatch discrimination (Salimans et al. 2016, "Improved techniques for training GANs").

A discriminator that looks at one sample at a time cannot tell that G puts every sample in the
same place.  This layer lets it see the rest of the batch: each sample gains B features saying
how close it is to the other samples, measured in B learned projections.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import ops
from .layer import Layer, _check_rows, _draw_weights, _empty_params


class MinibatchDiscrimination(Layer):
    """Each sample's features, followed by B measures of its closeness to the rest of the batch.

    x: (N, A) -> out: (N, A + B)          T: (A, B, C), no bias
                                          A = in_features, B = kernels, C = kernel_dims

        M[i, b, k]  = sum_a x[i, a] T[a, b, k]                  M = x T: (N, B, C)
        d_b(i, j)   = sum_k |M[i, b, k] - M[j, b, k]|           the L1 distance in kernel b
        c_b(i, j)   = exp(-d_b(i, j))                           c: (N, N, B)
        o[i, b]     = sum over j != i of c_b(i, j)              o: (N, B)
        out[i]      = [x[i], o[i]]

    (k runs over a kernel's C dimensions; c is the pair weights.)  The sum leaves the sample
    itself out, as the paper's released code does: its own term would add exp(0) = 1 to every
    o.  With N = 1 there is no other sample and o = 0.  o depends on the whole batch: the same
    sample in another batch gets another o.

    backward, with dout = dL/dout of shape (N, A + B) and g = dout[:, A:] (N, B):

        d_b(i, j) = d_b(j, i) enters o[i, b] and o[j, b], each through exp(-d), so for the
        pair i != j
            dL/dd_b(i, j) = -c_b(i, j) (g[i, b] + g[j, b])
        and d d_b(i, j) / dM[i, b, k] = sign(M[i, b, k] - M[j, b, k]), hence
            dM[i, b, k] = sum over j != i of
                          -c_b(i, j) (g[i, b] + g[j, b]) sign(M[i, b, k] - M[j, b, k])
        M = x T is a Dense product without bias, on the (N, B * C) and (A, B * C) views:
            dT += x.T @ dM                                      (A, B, C)
            dx  = dout[:, :A] + dM @ T.T                        (N, A)
        The first term of dx is the gradient through the copy of x into out.  Where
        M[i, b, k] = M[j, b, k] the L1 norm has a kink; backward takes sign(0) = 0 there, one
        subgradient.

    Cached: x (dT needs it), M (the signs of its pairwise differences) and c (the weight of
    each pair); T is read from params.  The differences M[i] - M[j] themselves are not kept:
    they are (N, N, B, C), C times the size of c, so backward forms them again pair by pair
    to take their signs, the one part of forward it repeats.

    T is drawn from N(0, scale**2); 0.05 is the spread of the paper's released code.  The
    products run in ``kernels.dense_forward``/``dense_backward`` and the pairs in
    ``kernels.minibatch_disc_forward``/``minibatch_disc_backward`` (NumPy twin or Numba).
    """

    keeps_shape = False

    def __init__(
        self,
        in_features: int,
        kernels: int,
        kernel_dims: int,
        *,
        scale: float = 0.05,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ) -> None:
        super().__init__()
        sizes = (("in_features", in_features), ("kernels", kernels), ("kernel_dims", kernel_dims))
        for name, v in sizes:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(
                    f"MinibatchDiscrimination: {name} must be a positive int, got {v!r}"
                )
        if (
            isinstance(scale, bool)
            or not isinstance(scale, (int, float, np.integer, np.floating))
            or not (math.isfinite(scale) and scale > 0)
        ):
            raise ValueError(
                f"MinibatchDiscrimination: scale must be a positive finite number, got {scale!r}"
            )
        self.in_shape = (int(in_features),)
        self.kernels, self.kernel_dims = int(kernels), int(kernel_dims)
        self.scale = float(scale)
        shape = (self.in_shape[0], self.kernels, self.kernel_dims)
        self.params, self.grads = _empty_params(type(self).__name__, dtype, T=shape)
        self._initialized = False
        if rng is not None:
            self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        T = self.params["T"]
        A, B, C = T.shape
        T[...] = _draw_weights(rng, "normal", self.scale, A, B * C, T.shape)
        self._initialized = True

    def output_shape(self, in_shape):
        _check_rows(self, in_shape)
        return (self.in_shape[0] + self.kernels,)

    def extra_values(self, in_shape) -> int:
        """M and dM, B * C values each per sample.  A lower bound: the pair weights c add
        N * B per sample, which grows with the batch and is not counted."""
        return 2 * self.kernels * self.kernel_dims

    def forward(self, x, training=True):
        self._require_initialized()
        x = self._check_input(x)
        T = self.params["T"]
        A, B, C = T.shape
        N = len(x)
        x = x.astype(T.dtype, copy=False)
        M = np.empty((N, B, C), dtype=T.dtype)
        # A Dense product with a zero bias: the same jitted-loop-or-BLAS route as Dense.
        zero = np.zeros(B * C, dtype=T.dtype)
        ops.dense_forward(x, T.reshape(A, B * C), zero, M.reshape(N, B * C))
        c = np.empty((N, N, B), dtype=T.dtype)
        out = np.empty((N, A + B), dtype=T.dtype)
        out[:, :A] = x
        ops.minibatch_disc_forward(M, c, out[:, A:])
        self.cache = (x, M, c)
        return out

    def backward(self, dout, param_grads=True, input_grad=True):
        x, M, c = self._need_cache()
        T = self.params["T"]
        A, B, C = T.shape
        N = len(x)
        self._check_dout(dout, (N, A + B))
        if not (param_grads or input_grad):
            return None
        dM = np.empty_like(M)
        ops.minibatch_disc_backward(dout[:, A:], M, c, dM)
        dx = np.empty_like(x) if input_grad else None
        # dense_backward also sums dM into a bias gradient; this layer has no bias, so that
        # sum lands in a scratch array and is dropped.
        db = np.zeros(B * C, dtype=T.dtype)
        dT = self.grads["T"].reshape(A, B * C)  # a view of the contiguous grads["T"]: += lands
        ops.dense_backward(dM.reshape(N, B * C), x, T.reshape(A, B * C), dx, dT, db, param_grads)
        if dx is not None:
            dx += dout[:, :A]
        return dx

    def __repr__(self):
        return (
            f"MinibatchDiscrimination({self.in_shape[0]}, kernels={self.kernels}, "
            f"kernel_dims={self.kernel_dims})"
        )
