"""Elementwise activations: LeakyReLU (ReLU at alpha = 0), tanh and the sigmoid.

Backward reads the output y, not the input: for LeakyReLU y > 0 exactly when x > 0 (alpha >= 0),
and the tanh and sigmoid derivatives are functions of y.  So one array serves forward and
backward.

Both backends use NumPy's tanh forward: it is SIMD-vectorised, while a jitted loop calls a
scalar tanhf per element and is far slower on this project's machines.
"""

from __future__ import annotations

import math

import numpy as np

from . import threads
from .flags import jit, jit_parallel, prange
from .threads import PIECE


def leaky_relu_forward_np(x, alpha, out):
    """out = x if x > 0 else alpha * x  (alpha = 0: ReLU)"""
    np.multiply(x, np.where(x > 0, 1.0, alpha).astype(x.dtype), out=out)


def leaky_relu_backward_np(dout, y, alpha, dx):
    """dx = dout * (1 if y > 0 else alpha)"""
    np.multiply(dout, np.where(y > 0, 1.0, alpha).astype(dout.dtype), out=dx)


def tanh_forward_np(x, out):
    """out = tanh(x)"""
    np.tanh(x, out=out)


def tanh_backward_np(dout, y, dx):
    """dx = dout * (1 - y**2)"""
    np.multiply(dout, 1.0 - y * y, out=dx)


def sigmoid_forward_np(x, out):
    """out = 1 / (1 + exp(-x)), with exp only of -|x| so it never overflows."""
    e = np.exp(-np.abs(x))
    out[...] = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_backward_np(dout, y, dx):
    """dx = dout * y * (1 - y)"""
    np.multiply(dout, y * (1.0 - y), out=dx)


@jit
def leaky_relu_forward_nb(x, alpha, out):
    xf, of = x.reshape(-1), out.reshape(-1)
    for i in range(xf.size):
        v = xf[i]
        of[i] = v if v > 0 else alpha * v


@jit
def leaky_relu_backward_nb(dout, y, alpha, dx):
    gf, yf, df = dout.reshape(-1), y.reshape(-1), dx.reshape(-1)
    for i in range(gf.size):
        df[i] = gf[i] if yf[i] > 0 else alpha * gf[i]


# Split over threads: the serial kernel on each piece of PIECE elements (threads.py), the same
# numbers.  LeakyReLU's passes are the long ones in the convolutional GANs (400,000 floats per
# layer at batch 64).


@jit_parallel
def leaky_relu_forward_split(x, alpha, out):
    xf, of = x.reshape(-1), out.reshape(-1)  # any shape, as the serial kernel
    n = xf.size
    for k in prange((n + PIECE - 1) // PIECE):
        lo, hi = k * PIECE, min(n, (k + 1) * PIECE)
        leaky_relu_forward_nb(xf[lo:hi], alpha, of[lo:hi])


@jit_parallel
def leaky_relu_backward_split(dout, y, alpha, dx):
    gf, yf, df = dout.reshape(-1), y.reshape(-1), dx.reshape(-1)
    n = gf.size
    for k in prange((n + PIECE - 1) // PIECE):
        lo, hi = k * PIECE, min(n, (k + 1) * PIECE)
        leaky_relu_backward_nb(gf[lo:hi], yf[lo:hi], alpha, df[lo:hi])


def leaky_relu_forward_serial_or_split(x, alpha, out):
    """leaky_relu_forward_nb, split over threads when long (threads.split_passes).  x, out:
    contiguous, any shape."""
    kernel = leaky_relu_forward_split if threads.split_passes(x.size) else leaky_relu_forward_nb
    kernel(x, alpha, out)


def leaky_relu_backward_serial_or_split(dout, y, alpha, dx):
    """leaky_relu_backward_nb, split over threads when long.  All contiguous, any shape."""
    split = threads.split_passes(dout.size)
    (leaky_relu_backward_split if split else leaky_relu_backward_nb)(dout, y, alpha, dx)


@jit
def tanh_backward_nb(dout, y, dx):
    gf, yf, df = dout.reshape(-1), y.reshape(-1), dx.reshape(-1)
    for i in range(gf.size):
        df[i] = gf[i] * (1.0 - yf[i] * yf[i])


@jit
def logistic(v):
    """sigmoid(v) = 1 / (1 + exp(-v)) of one number, with exp only of -|v| (never overflows);
    for jitted code that needs it element by element (the fused step)."""
    e = math.exp(-abs(v))
    return 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)


@jit
def _sigmoid_left_tail(x, out):
    # Where x < -4, 1 + tanh(x / 2) cancels and loses relative accuracy; recompute those few
    # elements as exp(x) / (1 + exp(x)), which is exact there and cannot overflow.
    xf, of = x.reshape(-1), out.reshape(-1)
    for i in range(xf.size):
        if xf[i] < -4.0:
            e = math.exp(xf[i])
            of[i] = e / (1.0 + e)


def sigmoid_forward_via_tanh(x, out):
    """sigmoid(x) = (1 + tanh(x / 2)) / 2 in vectorised NumPy passes, the left tail exactly.

    NumPy's tanh is SIMD-vectorised and its exp is not on this machine: about 4x faster than
    the twin (benchmarks/kernel_timings.py) and than a jitted loop of scalar exp.
    """
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    _sigmoid_left_tail(x, out)


@jit
def sigmoid_backward_nb(dout, y, dx):
    gf, yf, df = dout.reshape(-1), y.reshape(-1), dx.reshape(-1)
    for i in range(gf.size):
        df[i] = gf[i] * yf[i] * (1.0 - yf[i])
