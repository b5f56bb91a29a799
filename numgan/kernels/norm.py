"""BatchNorm: the batch statistics, the normalised output and the full backward.

Every kernel sees the input as x: (N, C, L), statistics per channel c over the N * L values
x[:, c, :].  A layer hands (N, F) input as (N, F, 1) (one value per feature and sample) and
(N, C, H, W) input as (N, C, H * W) (per channel over the batch and every pixel); both are
views, no copy.  M = N * L is the number of values behind each statistic.  The sums over
them accumulate in float64 whatever the data's precision: with a batch of images stored
channels last, a statistic is a sum over every pixel of the batch, tens of thousands of values.
"""

from __future__ import annotations

import math

import numpy as np

from . import threads
from .flags import jit, jit_parallel, prange
from .threads import PIECE

AXES = (0, 2)  # the axes a statistic runs over: the batch and the positions


def batchnorm_forward_np(x, gamma, beta, eps, xhat, s, out, mean, var):
    """Training mode: mean, var (biased) per channel over (N, L); s = 1/sqrt(var + eps);
    xhat = (x - mean) * s; out = gamma * xhat + beta.  Fills xhat, s, out, mean, var.

    x, xhat, out: (N, C, L);  gamma, beta, s, mean, var: (C,)
    """
    mean[...] = x.mean(axis=AXES, dtype=np.float64)
    var[...] = ((x - mean[:, None]) ** 2).mean(axis=AXES, dtype=np.float64)
    batchnorm_eval_np(x, gamma, beta, mean, var, eps, xhat, s, out)


def batchnorm_eval_np(x, gamma, beta, mean, var, eps, xhat, s, out):
    """Given statistics (eval mode: the running ones): s = 1/sqrt(var + eps),
    xhat = (x - mean) * s, out = gamma * xhat + beta.  Fills xhat, s, out."""
    s[...] = 1.0 / np.sqrt(var + eps)
    np.multiply(x - mean[:, None], s[:, None], out=xhat)
    np.multiply(xhat, gamma[:, None], out=out)
    out += beta[:, None]


def batchnorm_backward_np(dout, xhat, s, gamma, dx, dgamma, dbeta, training, param_grads):
    """g = dout * gamma, sums over (N, L), M = N * L:
    training: dx = (s/M)(M g - sum g - xhat sum(g xhat));  eval: dx = g * s."""
    if param_grads:
        dbeta += dout.sum(axis=AXES, dtype=np.float64)
        dgamma += (dout * xhat).sum(axis=AXES, dtype=np.float64)
    g = dout * gamma[:, None]
    if training:
        m = g.shape[0] * g.shape[2]
        sum_g = g.sum(axis=AXES, dtype=np.float64)[:, None]
        sum_gx = (g * xhat).sum(axis=AXES, dtype=np.float64)[:, None]
        dx[...] = (s[:, None] / m) * (m * g - sum_g - xhat * sum_gx)
    else:
        np.multiply(g, s[:, None], out=dx)


# Two loop orders.  With L == 1 (features) the batch is (N, F) in C order: the innermost loop
# runs along a row and the per-feature sums accumulate into vectors (column-wise loops would
# stride by F).  With L > 1 (channels) the innermost loop runs along one channel's contiguous
# pixels.


@jit
def _normalise(x, gamma, beta, mean, s, xhat, out):
    n, c, length = x.shape
    if length == 1:
        for i in range(n):
            for j in range(c):
                xh = (x[i, j, 0] - mean[j]) * s[j]
                xhat[i, j, 0] = xh
                out[i, j, 0] = gamma[j] * xh + beta[j]
        return
    for i in range(n):
        for j in range(c):
            mj, sj, gj, bj = mean[j], s[j], gamma[j], beta[j]
            for p in range(length):
                xh = (x[i, j, p] - mj) * sj
                xhat[i, j, p] = xh
                out[i, j, p] = gj * xh + bj


@jit
def _statistics(x, eps, mean, var, s):
    """mean, var (biased) and s = 1/sqrt(var + eps) per channel: batchnorm_forward_nb's
    first part."""
    n, c, length = x.shape
    m = n * length
    total = np.zeros(c)  # float64: a channel's sums run over every pixel of the batch
    if length == 1:
        for i in range(n):
            for j in range(c):
                total[j] += x[i, j, 0]
        for j in range(c):
            mean[j] = total[j] / m
        total[:] = 0.0
        for i in range(n):
            for j in range(c):
                d = x[i, j, 0] - mean[j]
                total[j] += d * d
    else:
        for i in range(n):
            for j in range(c):
                acc = 0.0
                for p in range(length):
                    acc += x[i, j, p]
                total[j] += acc
        for j in range(c):
            mean[j] = total[j] / m
        total[:] = 0.0
        for i in range(n):
            for j in range(c):
                mj, acc = mean[j], 0.0
                for p in range(length):
                    d = x[i, j, p] - mj
                    acc += d * d
                total[j] += acc
    for j in range(c):
        var[j] = total[j] / m
        s[j] = 1.0 / math.sqrt(var[j] + eps)


@jit
def batchnorm_forward_nb(x, gamma, beta, eps, xhat, s, out, mean, var):
    _statistics(x, eps, mean, var, s)
    _normalise(x, gamma, beta, mean, s, xhat, out)


@jit
def batchnorm_eval_nb(x, gamma, beta, mean, var, eps, xhat, s, out):
    for j in range(s.shape[0]):
        s[j] = 1.0 / math.sqrt(var[j] + eps)
    _normalise(x, gamma, beta, mean, s, xhat, out)


@jit
def _backward_sums(dout, xhat, sum_d, sum_dx):
    """sum_d += the sum over (N, L) of dout, sum_dx += that of dout * xhat, per channel."""
    n, c, length = dout.shape
    if length == 1:
        for i in range(n):
            for j in range(c):
                sum_d[j] += dout[i, j, 0]
                sum_dx[j] += dout[i, j, 0] * xhat[i, j, 0]
        return
    for i in range(n):
        for j in range(c):
            a, b = 0.0, 0.0
            for p in range(length):
                a += dout[i, j, p]
                b += dout[i, j, p] * xhat[i, j, p]
            sum_d[j] += a
            sum_dx[j] += b


@jit
def _add_param_grads(sum_d, sum_dx, dbeta, dgamma):
    """dbeta += sum_d, dgamma += sum_dx (the sums in float64, rounded once)."""
    for j in range(sum_d.size):
        dbeta[j] += sum_d[j]
        dgamma[j] += sum_dx[j]


@jit
def _input_grad(dout, xhat, s, gamma, sum_d, sum_dx, m, training, dx):
    """dx = (s/M) (M g - sum g - xhat sum(g xhat)) with g = gamma * dout; eval: g * s.  M = m,
    the values behind each statistic (of the whole batch, also when dout is a part of it)."""
    n, c, length = dout.shape
    if length == 1:
        for i in range(n):
            for j in range(c):
                k = s[j] * gamma[j]
                if training:
                    dx[i, j, 0] = (k / m) * (
                        m * dout[i, j, 0] - sum_d[j] - xhat[i, j, 0] * sum_dx[j]
                    )
                else:
                    dx[i, j, 0] = k * dout[i, j, 0]
        return
    for i in range(n):
        for j in range(c):
            k = s[j] * gamma[j]
            if training:
                for p in range(length):
                    dx[i, j, p] = (k / m) * (
                        m * dout[i, j, p] - sum_d[j] - xhat[i, j, p] * sum_dx[j]
                    )
            else:
                for p in range(length):
                    dx[i, j, p] = k * dout[i, j, p]


@jit
def batchnorm_backward_nb(dout, xhat, s, gamma, dx, dgamma, dbeta, training, param_grads):
    n, c, length = dout.shape
    sum_d = np.zeros(c)  # sum over (N, L) of dout, the dbeta term (float64, as in forward)
    sum_dx = np.zeros(c)  # sum over (N, L) of dout * xhat, the dgamma term
    _backward_sums(dout, xhat, sum_d, sum_dx)
    if param_grads:
        _add_param_grads(sum_d, sum_dx, dbeta, dgamma)
    _input_grad(dout, xhat, s, gamma, sum_d, sum_dx, n * length, training, dx)


# -- split over threads ------------------------------------------------------------------------
#
# The statistics and the backward's sums run over the whole batch in one order and stay
# serial; the elementwise passes after them (xhat and out, dx) compute each value from its
# own inputs and the per-channel numbers, so blocks of rows can go to Numba's threads with
# the serial kernel's numbers (threads.py says when).  Only for L == 1, the layout the layers
# hand over for features and for channels-last images: there every sum accumulates row by row
# into its channel's total, one way wherever the loop is compiled.  With L > 1 a channel's
# sum over its positions is a reduction LLVM may vectorise differently inlined into the
# serial kernel than compiled alone (float64 sums were seen to differ in the last bit).


def _rows_per_piece(x) -> int:
    return max(1, PIECE // (x.shape[1] * x.shape[2]))


@jit_parallel
def _normalise_split(x, gamma, beta, mean, s, xhat, out, rows):
    n = x.shape[0]
    for k in prange((n + rows - 1) // rows):
        lo, hi = k * rows, min(n, (k + 1) * rows)
        _normalise(x[lo:hi], gamma, beta, mean, s, xhat[lo:hi], out[lo:hi])


@jit_parallel
def _input_grad_split(dout, xhat, s, gamma, sum_d, sum_dx, m, training, dx, rows):
    n = dout.shape[0]
    for k in prange((n + rows - 1) // rows):
        lo, hi = k * rows, min(n, (k + 1) * rows)
        _input_grad(dout[lo:hi], xhat[lo:hi], s, gamma, sum_d, sum_dx, m, training, dx[lo:hi])


def batchnorm_forward_serial_or_split(x, gamma, beta, eps, xhat, s, out, mean, var):
    """batchnorm_forward_nb, its normalising pass split over threads when x is long
    (threads.split_passes) and L == 1; the statistics serial."""
    if x.shape[2] != 1 or not threads.split_passes(x.size):
        batchnorm_forward_nb(x, gamma, beta, eps, xhat, s, out, mean, var)
        return
    _statistics(x, eps, mean, var, s)
    _normalise_split(x, gamma, beta, mean, s, xhat, out, _rows_per_piece(x))


def batchnorm_backward_serial_or_split(
    dout, xhat, s, gamma, dx, dgamma, dbeta, training, param_grads
):
    """batchnorm_backward_nb, its dx pass split over threads when dout is long and L == 1;
    the sums serial."""
    if dout.shape[2] != 1 or not threads.split_passes(dout.size):
        batchnorm_backward_nb(dout, xhat, s, gamma, dx, dgamma, dbeta, training, param_grads)
        return
    n, c, length = dout.shape
    sum_d, sum_dx = np.zeros(c), np.zeros(c)
    _backward_sums(dout, xhat, sum_d, sum_dx)
    if param_grads:
        _add_param_grads(sum_d, sum_dx, dbeta, dgamma)
    _input_grad_split(
        dout, xhat, s, gamma, sum_d, sum_dx, n * length, training, dx, _rows_per_piece(dout)
    )
