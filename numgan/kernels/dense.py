"""Dense and Maxout: x @ W + b, its backward, and the max over pieces.

Matrix products go to BLAS (``blas.matmul``, and GEMM accumulating in place for the weight
gradient: blas.py) above a size where BLAS wins and to a jitted loop below it, where BLAS's call
overhead dominates: see MATMUL_CROSSOVER and docs/kernels.md for the measurement.  The twins
call ``np.matmul``.
"""

from __future__ import annotations

import numpy as np

from . import blas
from .flags import jit

# Below this many multiply-adds (m * k * n) a layer's product runs in a jitted loop; above, in
# BLAS.  Measured by benchmarks/matmul_crossover.py (docs/kernels.md): the loop wins 3x at 1k
# multiply-adds, BLAS wins 1.6x at 16k.
MATMUL_CROSSOVER = 8_192


def dense_forward_np(x, W, b, out):
    """out = x @ W + b.   x: (N, D_in), W: (D_in, D_out), b: (D_out,), out: (N, D_out)"""
    np.matmul(x, W, out=out)
    out += b


def dense_backward_np(dout, x, W, dx, dW, db, param_grads):
    """dx = dout @ W.T (skipped if dx is None);
    if param_grads: dW += x.T @ dout, db += sum_n dout[n]."""
    if dx is not None:
        np.matmul(dout, W.T, out=dx)
    if param_grads:
        dW += x.T @ dout
        db += dout.sum(axis=0)


# Loop order: with a wide output the innermost loop runs along a row of W (contiguous, and
# vectorised); with a narrow one (D's single logit) it would be one step long, so the
# innermost loop becomes the dot product along k instead.
NARROW = 8
# Wide products update ROWS output rows per pass over W: each row's running sum is a chain of
# dependent loads, adds and stores, and four independent chains keep the vector units busy
# where one would wait on its own last store (16 x 16 layers: docs/kernels.md).
ROWS = 4


@jit
def _add_product_loops(A, B, out):
    """out += A @ B in loops, ROWS rows of out per pass over B, the innermost loop along a
    contiguous row of B.  A: (n, q), B: (q, d), out: (n, d)."""
    n, q = A.shape
    d = B.shape[1]
    i = 0
    while i + ROWS <= n:  # rows i .. i + 3 together
        for p in range(q):
            a0, a1, a2, a3 = A[i, p], A[i + 1, p], A[i + 2, p], A[i + 3, p]
            for j in range(d):
                w = B[p, j]
                out[i, j] += a0 * w
                out[i + 1, j] += a1 * w
                out[i + 2, j] += a2 * w
                out[i + 3, j] += a3 * w
        i += ROWS
    for r in range(i, n):  # the last n % 4 rows, one at a time
        for p in range(q):
            a = A[r, p]
            for j in range(d):
                out[r, j] += a * B[p, j]


@jit
def matmul_bias_nb(x, W, b, out):
    """out = x @ W + b in loops; the twin is dense_forward_np."""
    n, k = x.shape
    d = W.shape[1]
    if d < NARROW:
        for i in range(n):
            for j in range(d):
                acc = b[j]
                for p in range(k):
                    acc += x[i, p] * W[p, j]
                out[i, j] = acc
        return
    for i in range(n):
        for j in range(d):
            out[i, j] = b[j]
    _add_product_loops(x, W, out)


def add_bias_np(out, b):
    """out += b on every row.   out: (N, D), b: (D,)"""
    out += b


@jit
def add_bias_nb(out, b):
    n, d = out.shape
    for i in range(n):
        for j in range(d):
            out[i, j] += b[j]


@jit
def _input_grad_wide(dout, W, dx, scratch):
    """dx = dout @ W.T for wide layers: W.T copied once (into ``scratch``, the caller's, so
    that a loop of calls allocates nothing) so that the innermost loop runs along a contiguous
    row of it, as in matmul_bias_nb."""
    n, d = dout.shape
    k = W.shape[0]
    WT = scratch[: d * k].reshape(d, k)
    for p in range(k):
        for j in range(d):
            WT[j, p] = W[p, j]
    dx[:] = 0.0
    _add_product_loops(dout, WT, dx)


@jit
def dense_backward_nb(dout, x, W, dx, dW, db, param_grads, compute_dx, scratch):
    """dx = dout @ W.T (if compute_dx); if param_grads: dW += x.T @ dout, db += column sums
    of dout.  In loops; the twin is dense_backward_np.  scratch: a 1-D array of W's dtype with
    at least W.size elements, for W's transpose (wide layers only; any size otherwise)."""
    n, d = dout.shape
    k = x.shape[1]
    if compute_dx and d >= NARROW and k >= NARROW:
        _input_grad_wide(dout, W, dx, scratch)
    elif compute_dx:  # a short dot product along j per element (a narrow layer)
        for i in range(n):
            for p in range(k):
                acc = dout[i, 0] * W[p, 0]
                for j in range(1, d):
                    acc += dout[i, j] * W[p, j]
                dx[i, p] = acc
    if param_grads:
        if d < NARROW:
            for p in range(k):
                for j in range(d):
                    acc = dW[p, j]
                    for i in range(n):
                        acc += x[i, p] * dout[i, j]
                    dW[p, j] = acc
        else:
            for i in range(n):
                for p in range(k):
                    xip = x[i, p]
                    for j in range(d):
                        dW[p, j] += xip * dout[i, j]
        for i in range(n):
            for j in range(d):
                db[j] += dout[i, j]


@jit
def _add_column_sums(db, dout):
    n, d = dout.shape
    for i in range(n):
        for j in range(d):
            db[j] += dout[i, j]


def dense_forward_loop_or_blas(x, W, b, out):
    """As the twin: a jitted loop for small products, BLAS and a jitted bias pass above."""
    if x.shape[0] * W.shape[0] * W.shape[1] <= MATMUL_CROSSOVER:
        matmul_bias_nb(x, W, b, out)
    else:
        blas.matmul(x, W, out)
        add_bias_nb(out, b)


def input_grad_blas(dout, W, dx):
    """dx = dout @ W.T above the crossover.  With one output (D's logit) that is an outer
    product, one term per element, for which np.matmul runs its own loop, 3.5-18x slower
    than the multiply here, which gives the same values (docs/kernels.md, "One output column")."""
    if W.shape[1] == 1:
        np.multiply(dout, W.reshape(1, -1), out=dx)
    else:
        blas.matmul(dout, W.T, dx)


def dense_backward_loop_or_blas(dout, x, W, dx, dW, db, param_grads):
    """As the twin: a jitted loop for small products, BLAS and a jitted column sum above."""
    if dout.shape[0] * W.shape[0] * W.shape[1] <= MATMUL_CROSSOVER:
        compute_dx = dx is not None
        if not compute_dx:
            dx = np.empty((0, 0), dtype=dout.dtype)  # a typed placeholder; nothing is written
        scratch = np.empty(W.size, dtype=W.dtype)
        dense_backward_nb(dout, x, W, dx, dW, db, param_grads, compute_dx, scratch)
        return
    if dx is not None:
        input_grad_blas(dout, W, dx)
    if param_grads:
        blas.add_product(x.T, dout, dW)  # dW += x.T @ dout in one GEMM, no temporary
        _add_column_sums(db, dout)


# Feature-major forms, for the fused step (numgan/gan/fused.py): activations stored transposed,
# hT of shape (width, N), so that every innermost loop runs along the batch, 64 or 128 long,
# whatever the layer widths.  With a batch-major h a 16-wide layer's innermost loop is one
# vector long, and each row's running sum waits on its own last store (docs/kernels.md).


def dense_forward_t_np(xT, W, b, outT):
    """outT = W.T @ xT + b, b added to every column.
    xT: (D_in, N), W: (D_in, D_out), b: (D_out,), outT: (D_out, N)"""
    np.matmul(W.T, xT, out=outT)
    outT += b[:, None]


def dense_backward_t_np(doutT, xT, W, dxT, dW, db, param_grads):
    """dxT = W @ doutT (skipped if dxT is None);
    if param_grads: dW += xT @ doutT.T, db += sum_n doutT[:, n].   doutT: (D_out, N)"""
    if dxT is not None:
        np.matmul(W, doutT, out=dxT)
    if param_grads:
        dW += xT @ doutT.T
        db += doutT.sum(axis=1)


@jit
def _add_row_combination(dst, coef, src):
    """dst += sum_r coef[r] * src[r, :], four rows of src per pass over dst: one load and one
    store of dst for four multiply-adds, where a pass per row would wait on dst's last store
    every time.  dst: (N,), coef: (R,), src: (R, N)."""
    n, rows = dst.shape[0], src.shape[0]
    r = 0
    while r + ROWS <= rows:
        c0, c1, c2, c3 = coef[r], coef[r + 1], coef[r + 2], coef[r + 3]
        s0, s1, s2, s3 = src[r], src[r + 1], src[r + 2], src[r + 3]
        for i in range(n):
            dst[i] += c0 * s0[i] + c1 * s1[i] + c2 * s2[i] + c3 * s3[i]
        r += ROWS
    for q in range(r, rows):
        c, s = coef[q], src[q]
        for i in range(n):
            dst[i] += c * s[i]


@jit
def dense_forward_t_nb(xT, W, b, outT):
    """outT[j, :] = b[j] + sum_p W[p, j] xT[p, :], in loops; the twin is dense_forward_t_np."""
    for j in range(W.shape[1]):
        out_j = outT[j]
        for i in range(out_j.shape[0]):
            out_j[i] = b[j]
        _add_row_combination(out_j, W[:, j], xT)


@jit
def dense_backward_t_nb(doutT, xT, W, dxT, dW, db, param_grads, compute_dx):
    """dxT[p, :] = sum_j W[p, j] doutT[j, :] (if compute_dx); if param_grads:
    dW[p, j] += xT[p, :] . doutT[j, :] and db[j] += sum_n doutT[j, n].  In loops; the twin is
    dense_backward_t_np.  The dot products for dW run four columns j at a time, four running
    sums in one pass over xT[p]."""
    k, n = xT.shape
    d = doutT.shape[0]
    if compute_dx:
        for p in range(k):
            dx_p = dxT[p]
            for i in range(n):
                dx_p[i] = 0.0
            _add_row_combination(dx_p, W[p], doutT)
    if param_grads:
        for p in range(k):
            x_p = xT[p]
            j = 0
            while j + ROWS <= d:
                a0, a1, a2, a3 = dW[p, j], dW[p, j + 1], dW[p, j + 2], dW[p, j + 3]
                g0, g1, g2, g3 = doutT[j], doutT[j + 1], doutT[j + 2], doutT[j + 3]
                for i in range(n):
                    x = x_p[i]
                    a0 += x * g0[i]
                    a1 += x * g1[i]
                    a2 += x * g2[i]
                    a3 += x * g3[i]
                dW[p, j], dW[p, j + 1], dW[p, j + 2], dW[p, j + 3] = a0, a1, a2, a3
                j += ROWS
            for q in range(j, d):
                acc = dW[p, q]  # starts in dW's dtype: float32 sums stay float32
                g = doutT[q]
                for i in range(n):
                    acc += x_p[i] * g[i]
                dW[p, q] = acc
        for j in range(d):
            acc = db[j]
            g = doutT[j]
            for i in range(n):
                acc += g[i]
            db[j] = acc


# Maxout: the affine part is a Dense product; these route the max and its gradient.


def maxout_forward_np(z, pieces, out, arg):
    """z: (N, U * P) viewed as (N, U, P);  out[n, u] = max_p z[n, u, p];  arg = its argmax."""
    z3 = z.reshape(z.shape[0], -1, pieces)
    arg[...] = z3.argmax(axis=2)
    out[...] = np.take_along_axis(z3, arg[:, :, None], axis=2)[:, :, 0]


def maxout_backward_np(dout, arg, pieces, dz):
    """dz[n, u, p] = dout[n, u] where p is the winning piece, else 0.  dz: (N, U * P)"""
    dz3 = dz.reshape(dz.shape[0], -1, pieces)
    dz3.fill(0.0)
    np.put_along_axis(dz3, arg[:, :, None], dout[:, :, None], axis=2)


@jit
def maxout_forward_nb(z, pieces, out, arg):
    n, units = out.shape
    for i in range(n):
        for u in range(units):
            base = u * pieces
            best, k = z[i, base], 0
            for p in range(1, pieces):
                if z[i, base + p] > best:
                    best, k = z[i, base + p], p
            out[i, u], arg[i, u] = best, k


@jit
def maxout_backward_nb(dout, arg, pieces, dz):
    n, units = dout.shape
    for i in range(n):
        for u in range(units):
            for p in range(pieces):
                dz[i, u * pieces + p] = 0.0
            dz[i, u * pieces + arg[i, u]] = dout[i, u]
