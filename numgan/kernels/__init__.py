"""The hot loops: each Numba kernel beside its pure-NumPy twin, and the backend switch.

Every kernel has one signature in both forms: it takes arrays and scalars and writes its results
into output arrays the caller allocated (``out``, ``dx``, ``dW`` ...), so that a caller that
keeps its buffers allocates nothing in steady state.  The NumPy twin (``*_np``) is the readable
"what"; the jitted kernel (``*_nb``) is the fast "how".  A few fast forms are not one jitted
function and are named for what they are (``dense_forward_loop_or_blas``,
``sigmoid_forward_via_tanh``).  ``ops`` holds the chosen set:

    from numgan.kernels import ops
    ops.dense_forward(x, W, b, out)

One module per family, each kernel beside its twin:

    blas.py         the GEMM the Numba backend calls (oneMKL or NumPy's OpenBLAS): C = A @ B,
                    and C += A @ B in one call (beta = 1) for weight gradients
    conv.py         im2col and col2im on channels-last images, the transpose into channels
                    last, and a convolution's channel sums
    dense.py        Dense products (jitted loop or BLAS, by size), a bias on rows, and
                    Maxout's routing
    elementwise.py  LeakyReLU/ReLU, tanh, sigmoid
    approx.py       tanh and the sigmoid in float32 arithmetic, for jitted loops to vectorise
    loss.py         the logit loss (sigmoid cross-entropy with targets) and its gradient
    minibatch.py    minibatch discrimination's pairwise distances and their gradient
    norm.py         BatchNorm
    optim.py        SGD with momentum, Adam
    threads.py      when a long loop splits over Numba's threads, and under which layer
    flags.py        the Numba flags and the jit decorator, defined once

The backend is chosen for the whole process by ``NUMGAN_BACKEND=numba|numpy`` (default numba)
or ``set_backend(name)``; the Numba backend's GEMM by ``NUMGAN_BLAS`` (blas.py).  This package
imports nothing else of numgan.
"""

from __future__ import annotations

import os

from . import blas, conv, dense, elementwise, loss, minibatch, norm, optim, threads
from .dense import MATMUL_CROSSOVER
from .flags import FASTMATH, jit

BACKENDS = ("numba", "numpy")


class Kernels:
    """The kernels of one backend, one attribute each: "go to definition" lands on the line
    that names both forms."""

    def __init__(self, backend: str) -> None:
        self.select(backend)

    def select(self, backend: str) -> None:
        nb = backend == "numba"
        self.backend = backend
        self.dense_forward = dense.dense_forward_loop_or_blas if nb else dense.dense_forward_np
        self.dense_backward = dense.dense_backward_loop_or_blas if nb else dense.dense_backward_np
        self.matmul = blas.matmul if nb else blas.matmul_np
        self.add_bias = dense.add_bias_nb if nb else dense.add_bias_np
        self.im2col = conv.im2col_serial_or_split if nb else conv.im2col_np
        self.col2im = conv.col2im_serial_or_split if nb else conv.col2im_np
        self.nchw_to_rows = conv.nchw_to_rows_nb if nb else conv.nchw_to_rows_np
        self.add_channel_sums = conv.add_channel_sums_nb if nb else conv.add_channel_sums_np
        self.maxout_forward = dense.maxout_forward_nb if nb else dense.maxout_forward_np
        self.maxout_backward = dense.maxout_backward_nb if nb else dense.maxout_backward_np
        e = elementwise
        self.leaky_relu_forward = (
            e.leaky_relu_forward_serial_or_split if nb else e.leaky_relu_forward_np
        )
        self.leaky_relu_backward = (
            e.leaky_relu_backward_serial_or_split if nb else e.leaky_relu_backward_np
        )
        self.tanh_forward = e.tanh_forward_np  # NumPy's SIMD tanh on both (module docstring)
        self.tanh_backward = e.tanh_backward_nb if nb else e.tanh_backward_np
        self.sigmoid_forward = e.sigmoid_forward_via_tanh if nb else e.sigmoid_forward_np
        self.sigmoid_backward = e.sigmoid_backward_nb if nb else e.sigmoid_backward_np
        self.sigmoid_cross_entropy = (
            loss.sigmoid_cross_entropy_nb if nb else loss.sigmoid_cross_entropy_np
        )
        self.batchnorm_forward = (
            norm.batchnorm_forward_serial_or_split if nb else norm.batchnorm_forward_np
        )
        self.batchnorm_eval = norm.batchnorm_eval_nb if nb else norm.batchnorm_eval_np
        self.batchnorm_backward = (
            norm.batchnorm_backward_serial_or_split if nb else norm.batchnorm_backward_np
        )
        self.minibatch_disc_forward = (
            minibatch.minibatch_disc_forward_nb if nb else minibatch.minibatch_disc_forward_np
        )
        self.minibatch_disc_backward = (
            minibatch.minibatch_disc_backward_nb if nb else minibatch.minibatch_disc_backward_np
        )
        self.sgd_momentum = optim.sgd_momentum_flat if nb else optim.sgd_momentum_np
        self.adam = optim.adam_flat if nb else optim.adam_np


#: the kernel names, in the order ``Kernels.select`` sets them
KERNELS = tuple(name for name in vars(Kernels("numpy")) if name != "backend")

ops = Kernels("numpy")


def set_backend(name: str) -> None:
    """Use the Numba kernels ("numba") or their NumPy twins ("numpy") for the whole process."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    ops.select(name)


def get_backend() -> str:
    return ops.backend


_requested = os.environ.get("NUMGAN_BACKEND", "numba")
if _requested not in BACKENDS:
    raise ImportError(f"NUMGAN_BACKEND={_requested!r} is not a backend: use numba or numpy")
set_backend(_requested)
threads.prefer_layer()

__all__ = [
    "BACKENDS",
    "FASTMATH",
    "KERNELS",
    "MATMUL_CROSSOVER",
    "Kernels",
    "get_backend",
    "jit",
    "ops",
    "set_backend",
]
