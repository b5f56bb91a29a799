"""Convolution as one matrix product: im2col, col2im, and the layout changes around the GEMM.

A convolution of x (N, C, H, W) with k_h x k_w kernels at stride (s_h, s_w) and zero padding
(p_h, p_w) reads one patch of k_h * k_w * C values per output pixel.  Write P = H_o * W_o for
the output pixels of one image and K = k_h * k_w * C for the values of one patch:

    im2col    x (N, C, H, W) -> cols (N * P, K): row r = (n, o_h, o_w) holds the patch under
              output pixel (o_h, o_w) of image n, in (i, j, c) order (kernel row, kernel
              column, channel); zeros where the patch overlaps the padding
    col2im    cols (N * P, K) -> x's shape: each patch value is *added* to the pixel it was read
              from.  A pixel inside several patches (stride < kernel) receives the sum of their
              values, and a padding position receives nothing: col2im is the adjoint (transpose)
              of im2col, not its inverse, which is exactly what the gradient needs.

    rows_to_nchw   y (N * P, C) -> out (N, C, H_o, W_o), plus a per-channel bias
    nchw_to_rows   x (N, C, H, W) -> rows (N * H * W, C), optionally summing each channel into db

Why (i, j, c) and not PyTorch's (c, i, j): with the channels last, the k_w * C values of one
kernel row are one contiguous run of a padded channels-last copy of the image, so the Numba
kernels copy (or add) whole runs, which vectorises; in (c, i, j) order every run is k_w values
long and the copy was measured 8x slower (docs/kernels.md).  The layers permute W to match.

The products between them (``cols @ Wm.T`` and friends) run in BLAS on both backends.  Each
kernel's NumPy twin is the plainest correct version: a strided view and one copy for im2col, a
loop over the k_h * k_w kernel offsets adding strided slices for col2im.  H_o and W_o are
always (H + 2p - k) // s + 1 of the array the patches are read from or added into.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .flags import jit


def out_size(size: int, k: int, s: int, p: int) -> int:
    """Patches along one axis: (size + 2p - k) // s + 1."""
    return (size + 2 * p - k) // s + 1


# Index arithmetic in unsigned integers: a signed index may be negative, which NumPy semantics
# count from the end, and the test for it in every access kept LLVM from vectorising the copy
# loops below (docs/kernels.md, "Loops").  Loop counters from range(n) need no cast.
_U = np.uint64


@jit
def _transpose(a, out):
    """out[j, i] = a[i, j].   a: (I, J), out: (J, I); the inner loop runs along the longer
    axis (a loop over 1 to 4 values costs more to enter than to run)."""
    I, J = a.shape
    if I >= J:
        for j in range(J):
            for i in range(I):
                out[j, i] = a[i, j]
    else:
        for i in range(I):
            for j in range(J):
                out[j, i] = a[i, j]


@jit
def _transpose_add(a, b, out):
    """out[j, i] = a[i, j] + b[j].   a: (I, J), b: (J,), out: (J, I); loops as _transpose."""
    I, J = a.shape
    if J >= I:
        for i in range(I):
            for j in range(J):
                out[j, i] = a[i, j] + b[j]
    else:
        for j in range(J):
            bj = b[j]
            for i in range(I):
                out[j, i] = a[i, j] + bj


# -- im2col ------------------------------------------------------------------------------------


def im2col_np(x, kh, kw, sh, sw, ph, pw, cols):
    """cols[(n, o_h, o_w), (i, j, c)] = x_padded[n, c, o_h * s_h + i, o_w * s_w + j].

    x: (N, C, H, W), cols: (N * H_o * W_o, k_h * k_w * C), written whole.
    """
    N, C = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    # windows[n, c, a, b, i, j] = xp[n, c, a + i, b + j]; the stride keeps every s-th window.
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    Ho, Wo = windows.shape[2:4]
    patches = windows.transpose(0, 2, 3, 4, 5, 1)  # (N, H_o, W_o, k_h, k_w, C), still a view
    cols.reshape(N, Ho, Wo, kh, kw, C)[...] = patches  # the one copy


@jit
def im2col_nb(x, kh, kw, sh, sw, ph, pw, cols):
    N, C, H, W = x.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    Hp, Wp = H + 2 * ph, W + 2 * pw
    image = np.zeros((Hp, Wp, C), dtype=x.dtype)  # padded, channels last; the border stays 0
    flat = image.reshape(Hp * Wp * C)
    run = _U(kw * C)  # one kernel row of a patch: contiguous in the channels-last image
    r = 0
    for n in range(N):
        for h in range(H):
            _transpose(x[n, :, h], image[h + ph, pw : pw + W])
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
    """out[n, c] = base[c] + the sum of every patch value read from that pixel.

    cols: (N * H_o * W_o, k_h * k_w * C), out: (N, C, H, W), base: (C,) (zeros for a gradient,
    the bias for a transposed convolution's output).
    """
    N, C, H, W = out.shape
    Ho, Wo = out_size(H, kh, sh, ph), out_size(W, kw, sw, pw)
    patches = cols.reshape(N, Ho, Wo, kh, kw, C)
    # The padded canvas the patches were read from; (H_o - 1) s + k <= H + 2p, so all fit.
    canvas = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=out.dtype)
    for i in range(kh):
        for j in range(kw):
            # Offset (i, j) of every patch lands on a strided grid of the canvas.
            canvas[:, :, i : i + sh * Ho : sh, j : j + sw * Wo : sw] += patches[
                :, :, :, i, j, :
            ].transpose(0, 3, 1, 2)
    out[...] = canvas[:, :, ph : ph + H, pw : pw + W]
    out += base.reshape(1, C, 1, 1)


@jit
def col2im_nb(cols, kh, kw, sh, sw, ph, pw, out, base):
    N, C, H, W = out.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    Hp, Wp = H + 2 * ph, W + 2 * pw
    canvas = np.empty((Hp, Wp, C), dtype=out.dtype)  # padded, channels last
    flat = canvas.reshape(Hp * Wp * C)
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
            _transpose_add(canvas[h + ph, pw : pw + W], base, out[n, :, h])


# -- the layout changes around the GEMM --------------------------------------------------------


def rows_to_nchw_np(y, b, out):
    """out[n, c, h, w] = y[(n, h, w), c] + b[c].   y: (N * H * W, C), out: (N, C, H, W)."""
    N, C, H, W = out.shape
    out[...] = y.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    out += b.reshape(1, C, 1, 1)


@jit
def rows_to_nchw_nb(y, b, out):
    N, C, H, W = out.shape
    P = H * W
    flat = out.reshape(N, C, P)
    for n in range(N):
        rows = y[n * P : (n + 1) * P]
        for c in range(C):
            bc = b[c]
            for p in range(P):
                flat[n, c, p] = rows[p, c] + bc


def nchw_to_rows_np(x, rows, db, grad_b):
    """rows[(n, h, w), c] = x[n, c, h, w]; if grad_b: db[c] += sum over (n, h, w) of x[n, c].

    x: (N, C, H, W), rows: (N * H * W, C), db: (C,).
    """
    N, C, H, W = x.shape
    rows.reshape(N, H, W, C)[...] = x.transpose(0, 2, 3, 1)
    if grad_b:
        db += x.sum(axis=(0, 2, 3))


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
