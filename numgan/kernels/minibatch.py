"""Minibatch discrimination (Salimans et al. 2016): the pairwise part, after M = x T.

Every kernel sees the projected batch as M: (N, B, C), B kernels of C dimensions each, and the
pair weights as c: (N, N, B) with c[i, j, b] = exp(-||M[i, b, :] - M[j, b, :]||_1), zero on
the diagonal (a sample is not compared with itself).  The product M = x T and its backward are
Dense's (numgan/kernels/dense.py); the layer calls those.

The NumPy twins broadcast over all pairs at once, forming (N, N, B, C) differences; the jitted
kernels visit each pair i < j once and never hold more than one pair's differences.
"""

from __future__ import annotations

import math

import numpy as np

from .flags import jit


def minibatch_disc_forward_np(M, c, o):
    """c[i, j, b] = exp(-sum_k |M[i, b, k] - M[j, b, k]|), c[i, i, b] = 0;
    o[i, b] = sum_j c[i, j, b].      M: (N, B, C), c: (N, N, B), o: (N, B)"""
    diff = M[:, None, :, :] - M[None, :, :, :]  # (N, N, B, C)
    c[...] = np.exp(-np.abs(diff).sum(axis=3))
    i = np.arange(len(M))
    c[i, i] = 0.0  # exp(-0) = 1 there; the paper's sum runs over j != i
    o[...] = c.sum(axis=1)


def minibatch_disc_backward_np(g, M, c, dM):
    """w[i, j, b] = -c[i, j, b] (g[i, b] + g[j, b]);
    dM[i, b, k] = sum_j w[i, j, b] sign(M[i, b, k] - M[j, b, k]).
    g = dL/do: (N, B), M, dM: (N, B, C), c: (N, N, B)"""
    w = -c * (g[:, None, :] + g[None, :, :])  # (N, N, B); zero on the diagonal, as c
    signs = np.sign(M[:, None, :, :] - M[None, :, :, :])  # (N, N, B, C)
    dM[...] = (w[:, :, :, None] * signs).sum(axis=1)


@jit
def minibatch_disc_forward_nb(M, c, o):
    n, kernels, dims = M.shape
    for i in range(n):
        for b in range(kernels):
            c[i, i, b] = 0.0
            o[i, b] = 0.0
    # c is symmetric: one distance per pair serves both rows.
    for i in range(n):
        for j in range(i + 1, n):
            for b in range(kernels):
                d = abs(M[i, b, 0] - M[j, b, 0])  # starts in M's dtype: float32 stays float32
                for k in range(1, dims):
                    d += abs(M[i, b, k] - M[j, b, k])
                e = math.exp(-d)
                c[i, j, b] = e
                c[j, i, b] = e
                o[i, b] += e
                o[j, b] += e


@jit
def minibatch_disc_backward_nb(g, M, c, dM):
    n, kernels, dims = M.shape
    for i in range(n):
        for b in range(kernels):
            for k in range(dims):
                dM[i, b, k] = 0.0
    # The pair's distance enters o[i, b] and o[j, b], so its weight carries both gradients;
    # d_b(i, j) moves with M[i] by +sign and with M[j] by -sign.
    for i in range(n):
        for j in range(i + 1, n):
            for b in range(kernels):
                w = -c[i, j, b] * (g[i, b] + g[j, b])
                for k in range(dims):
                    diff = M[i, b, k] - M[j, b, k]
                    # w * sign(diff), with sign(0) = 0 as np.sign's, and without a branch:
                    # an if/elif here kept LLVM from vectorising the loop over k.
                    s = (diff > 0) * w - (diff < 0) * w
                    dM[i, b, k] += s
                    dM[j, b, k] -= s
