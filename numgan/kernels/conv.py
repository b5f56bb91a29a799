"""Convolution as one matrix product: im2col, col2im, and the change into channels last.

A convolution of x with k_h x k_w kernels at stride (s_h, s_w) and zero padding (p_h, p_w)
reads one patch of k_h * k_w * C values per output pixel.  Write P = H_o * W_o for the output
pixels of one image and K = k_h * k_w * C for the values of one patch.  The kernels take images
channels last, (N, H, W, C) in C order: the memory of the (N, C, H, W) batches the layers hand
each other (numgan/nn/conv.py), so each image is a (H * W, C) matrix whose rows are its pixels.

    im2col    x (N, H, W, C) -> cols (N * P, K): row r = (n, o_h, o_w) holds the patch under
              output pixel (o_h, o_w) of image n, in (i, j, c) order (kernel row, kernel
              column, channel); zeros where the patch overlaps the padding
    col2im    cols (N * P, K) -> out (N, H, W, C): each patch value is *added* to the pixel it
              was read from, onto a per-channel base.  A pixel inside several patches (stride <
              kernel) receives the sum of their values, and a padding position receives
              nothing: col2im is the adjoint (transpose) of im2col, not its inverse, which is
              exactly what the gradient needs.

    nchw_to_rows   x (N, C, H, W) in C order -> rows (N * H * W, C), the same images channels
                   last, optionally summing each channel into db on the way
    add_channel_sums   db += the sum of each channel over the pixel rows of a channels-last
                   batch (a convolution's db)

Why (i, j, c) and not PyTorch's (c, i, j): channels last, the k_w * C values of one kernel row
are one contiguous run of an image row, so the Numba kernels copy (or add) whole runs, which
vectorises; in (c, i, j) order every run is k_w values long and the copy was measured 8x slower
(docs/kernels.md).  The layers permute W to match.

The products between them (``cols @ Wm.T`` and friends) run in BLAS on both backends, through
``ops.matmul``: ``np.matmul`` on the NumPy backend, the GEMM of blas.py on the Numba one.  Each
kernel's NumPy twin is the plainest correct version: a strided view and one copy for im2col, a
loop over the k_h * k_w kernel offsets adding strided slices for col2im.  H_o and W_o are
always (H + 2p - k) // s + 1 of the array the patches are read from or added into.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import threads
from .flags import jit, jit_parallel, prange


def out_size(size: int, k: int, s: int, p: int) -> int:
    """Patches along one axis: (size + 2p - k) // s + 1."""
    return (size + 2 * p - k) // s + 1


# Index arithmetic in unsigned integers: a signed index may be negative, which NumPy semantics
# count from the end, and the test for it in every access kept LLVM from vectorising the copy
# loops below (docs/kernels.md, "Channels last").  Loop counters from range(n) need no cast.
_U = np.uint64


# -- im2col ------------------------------------------------------------------------------------


def im2col_np(x, kh, kw, sh, sw, ph, pw, cols):
    """cols[(n, o_h, o_w), (i, j, c)] = x_padded[n, o_h * s_h + i, o_w * s_w + j, c].

    x: (N, H, W, C), cols: (N * H_o * W_o, k_h * k_w * C), written whole.
    """
    N, C = len(x), x.shape[3]
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    # windows[n, a, b, c, i, j] = xp[n, a + i, b + j, c]; the stride keeps every s-th window.
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    Ho, Wo = windows.shape[1:3]
    patches = windows.transpose(0, 1, 2, 4, 5, 3)  # (N, H_o, W_o, k_h, k_w, C), still a view
    cols.reshape(N, Ho, Wo, kh, kw, C)[...] = patches  # the one copy


@jit
def im2col_nb(x, kh, kw, sh, sw, ph, pw, cols):
    N, H, W, C = x.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    Hp, Wp = H + 2 * ph, W + 2 * pw
    flat = np.zeros(Hp * Wp * C, dtype=x.dtype)  # one image, padded; the border stays 0
    xf = x.reshape(N * H * W * C)
    line = _U(W * C)  # one image row
    run = _U(kw * C)  # one kernel row of a patch: a contiguous run of an image row
    r = 0
    for n in range(N):
        for h in range(H):
            src = _U((n * H + h) * W * C)
            dst = _U(((h + ph) * Wp + pw) * C)
            for q in range(line):
                flat[dst + q] = xf[src + q]
        for oh in range(Ho):
            for ow in range(Wo):
                row = cols[r]
                for i in range(kh):
                    src = _U(((oh * sh + i) * Wp + ow * sw) * C)
                    dst = _U(i) * run
                    for q in range(run):
                        row[dst + q] = flat[src + q]
                r += 1


# -- col2im ------------------------------------------------------------------------------------


def col2im_np(cols, kh, kw, sh, sw, ph, pw, out, base):
    """out[n, h, w] = base + the sum of every patch value read from pixel (h, w) of image n.

    cols: (N * H_o * W_o, k_h * k_w * C), out: (N, H, W, C), base: (C,) (zeros for a gradient,
    the bias for a transposed convolution's output).
    """
    N, H, W, C = out.shape
    Ho, Wo = out_size(H, kh, sh, ph), out_size(W, kw, sw, pw)
    patches = cols.reshape(N, Ho, Wo, kh, kw, C)
    # The padded canvas the patches were read from; (H_o - 1) s + k <= H + 2p, so all fit.
    canvas = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=out.dtype)
    for i in range(kh):
        for j in range(kw):
            # Offset (i, j) of every patch lands on a strided grid of the canvas.
            canvas[:, i : i + sh * Ho : sh, j : j + sw * Wo : sw] += patches[:, :, :, i, j]
    out[...] = canvas[:, ph : ph + H, pw : pw + W] + base


@jit
def col2im_nb(cols, kh, kw, sh, sw, ph, pw, out, base):
    N, H, W, C = out.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    Hp, Wp = H + 2 * ph, W + 2 * pw
    flat = np.empty(Hp * Wp * C, dtype=out.dtype)  # one image, padded
    of = out.reshape(N * H * W * C)
    line = _U(W * C)
    base_line = np.empty(W * C, dtype=out.dtype)  # base[c] at every pixel of a row
    for w in range(W):
        base_line[w * C : (w + 1) * C] = base
    run = _U(kw * C)
    r = 0
    for n in range(N):
        flat[:] = 0.0
        for oh in range(Ho):
            for ow in range(Wo):
                row = cols[r]
                for i in range(kh):
                    dst = _U(((oh * sh + i) * Wp + ow * sw) * C)
                    src = _U(i) * run
                    for q in range(run):
                        flat[dst + q] += row[src + q]
                r += 1
        for h in range(H):
            src = _U(((h + ph) * Wp + pw) * C)
            dst = _U((n * H + h) * W * C)
            for q in range(line):
                of[dst + q] = flat[src + q] + base_line[q]


# -- split over threads ------------------------------------------------------------------------
#
# Each image's patches are its own rows of cols, and col2im adds into one image's pixels only
# the patches of that image, in the same order whichever thread runs it: the images can be
# shared out to Numba's threads with the serial kernel's numbers (threads.py says when).


@jit_parallel
def im2col_split(x, kh, kw, sh, sw, ph, pw, cols):
    """im2col_nb on each image, the images shared out to Numba's threads."""
    N, H, W, _ = x.shape
    P = ((H + 2 * ph - kh) // sh + 1) * ((W + 2 * pw - kw) // sw + 1)  # patches per image
    for n in prange(N):
        im2col_nb(x[n : n + 1], kh, kw, sh, sw, ph, pw, cols[n * P : (n + 1) * P])


@jit_parallel
def col2im_split(cols, kh, kw, sh, sw, ph, pw, out, base):
    """col2im_nb on each image, the images shared out to Numba's threads."""
    N, H, W, _ = out.shape
    P = ((H + 2 * ph - kh) // sh + 1) * ((W + 2 * pw - kw) // sw + 1)  # patches per image
    for n in prange(N):
        col2im_nb(cols[n * P : (n + 1) * P], kh, kw, sh, sw, ph, pw, out[n : n + 1], base)


def im2col_serial_or_split(x, kh, kw, sh, sw, ph, pw, cols):
    """im2col_nb, split over threads when cols is long (threads.split_passes)."""
    kernel = im2col_split if threads.split_passes(cols.size) else im2col_nb
    kernel(x, kh, kw, sh, sw, ph, pw, cols)


def col2im_serial_or_split(cols, kh, kw, sh, sw, ph, pw, out, base):
    """col2im_nb, split over threads when cols is long (threads.split_passes)."""
    kernel = col2im_split if threads.split_passes(cols.size) else col2im_nb
    kernel(cols, kh, kw, sh, sw, ph, pw, out, base)


# -- into channels last ------------------------------------------------------------------------


def nchw_to_rows_np(x, rows, db, grad_b):
    """rows[(n, h, w), c] = x[n, c, h, w]; if grad_b: db[c] += sum over (n, h, w) of x[n, c]
    (accumulated in float64).

    x: (N, C, H, W), rows: (N * H * W, C), db: (C,).
    """
    N, C, H, W = x.shape
    rows.reshape(N, H, W, C)[...] = x.transpose(0, 2, 3, 1)
    if grad_b:
        db += x.sum(axis=(0, 2, 3), dtype=np.float64)


@jit
def nchw_to_rows_nb(x, rows, db, grad_b):
    N, C, H, W = x.shape
    P = H * W
    flat = x.reshape(N, C, P)
    for n in range(N):
        block = rows[n * P : (n + 1) * P]
        for c in range(C):
            acc = 0.0
            for p in range(P):
                v = flat[n, c, p]
                block[p, c] = v
                acc += v
            if grad_b:
                db[c] += acc


def add_channel_sums_np(db, rows):
    """db[c] += sum over r of rows[r, c], accumulated in float64.   rows: (N * H * W, C)."""
    db += rows.sum(axis=0, dtype=np.float64).astype(db.dtype)


@jit
def add_channel_sums_nb(db, rows):
    M, C = rows.shape
    acc = np.zeros(C)  # float64: a sum over tens of thousands of pixels
    if C >= 8:  # along each row's channels
        for r in range(M):
            for c in range(C):
                acc[c] += rows[r, c]
    else:  # one channel at a time, along the rows (a loop over 1 to 7 values would not pay)
        for c in range(C):
            total = 0.0
            for r in range(M):
                total += rows[r, c]
            acc[c] = total
    for c in range(C):
        db[c] += acc[c]
