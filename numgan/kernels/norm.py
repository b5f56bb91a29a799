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

from .flags import jit

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
def batchnorm_forward_nb(x, gamma, beta, eps, xhat, s, out, mean, var):
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
    _normalise(x, gamma, beta, mean, s, xhat, out)


@jit
def batchnorm_eval_nb(x, gamma, beta, mean, var, eps, xhat, s, out):
    for j in range(s.shape[0]):
        s[j] = 1.0 / math.sqrt(var[j] + eps)
    _normalise(x, gamma, beta, mean, s, xhat, out)


@jit
def batchnorm_backward_nb(dout, xhat, s, gamma, dx, dgamma, dbeta, training, param_grads):
    n, c, length = dout.shape
    m = n * length
    sum_d = np.zeros(c)  # sum over (N, L) of dout, the dbeta term (float64, as in forward)
    sum_dx = np.zeros(c)  # sum over (N, L) of dout * xhat, the dgamma term
    if length == 1:
        for i in range(n):
            for j in range(c):
                sum_d[j] += dout[i, j, 0]
                sum_dx[j] += dout[i, j, 0] * xhat[i, j, 0]
    else:
        for i in range(n):
            for j in range(c):
                a, b = 0.0, 0.0
                for p in range(length):
                    a += dout[i, j, p]
                    b += dout[i, j, p] * xhat[i, j, p]
                sum_d[j] += a
                sum_dx[j] += b
    if param_grads:
        for j in range(c):
            dbeta[j] += sum_d[j]
            dgamma[j] += sum_dx[j]
    # dx = (s/M) (M g - sum g - xhat sum(g xhat)) with g = gamma * dout; eval: g * s
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
