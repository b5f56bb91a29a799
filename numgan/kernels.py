"""The hot loops: each Numba kernel beside its pure-NumPy twin, and the backend switch.

Every kernel has one signature in both forms: it takes arrays and scalars and writes its results
into output arrays the caller allocated (``out``, ``dx``, ``dW`` ...), so that a caller that
keeps its buffers allocates nothing in steady state.  The NumPy twin (``*_np``) is the readable
"what"; the Numba kernel (``*_nb``) is the fast "how".  ``ops`` holds the chosen set:

    from numgan.kernels import ops
    ops.dense_forward(x, W, b, out)

The backend is chosen for the whole process by ``NUMGAN_BACKEND=numba|numpy`` (default numba)
or ``set_backend(name)``.  This module imports nothing of numgan.

Matrix products go to BLAS (``np.matmul(..., out=)``) above a size where BLAS wins and to a
jitted loop below it, where BLAS's call overhead dominates: see MATMUL_CROSSOVER and
docs/kernels.md for the measurement.
"""

from __future__ import annotations

import math
import os
from types import SimpleNamespace

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; this keeps numpy usable alone
    numba = None

BACKENDS = ("numba", "numpy")

# Numba flags, defined once.  fastmath without nnan/ninf: a diverging GAN shows NaN, and the
# checks for it must not be optimised away.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

# Below this many multiply-adds (m * k * n) a layer's product runs in a jitted loop; above, in
# BLAS.  Measured by benchmarks/matmul_crossover.py (docs/kernels.md): the loop wins 3x at 1k
# multiply-adds, BLAS wins 1.6x at 16k.
MATMUL_CROSSOVER = 8_192

# The fused step (numgan/fused.py) keeps every product in jitted loops; it still beats the
# layer path, whose Python overhead it saves, up to about this size per product.
FUSED_MAX_MACS = 262_144


def _jit(fn):
    if numba is None:
        return fn
    return numba.njit(cache=True, nogil=True, fastmath=FASTMATH)(fn)


# -- Dense ------------------------------------------------------------------------------------


def dense_forward_np(x, W, b, out):
    """out = x @ W + b.   x: (N, D_in), W: (D_in, D_out), b: (D_out,), out: (N, D_out)"""
    np.matmul(x, W, out=out)
    out += b


def dense_backward_np(dout, x, W, dx, dW, db, param_grads, scratch=None):
    """dx = dout @ W.T (skipped if dx is None);  if param_grads: dW += x.T @ dout, db += sum dout.

    (``scratch`` is for the kernel, which computes x.T @ dout into it before adding.)
    """
    if dx is not None:
        np.matmul(dout, W.T, out=dx)
    if param_grads:
        dW += x.T @ dout
        db += dout.sum(axis=0)


# Loop order: with a wide output the innermost loop runs along a row of W (contiguous, and
# vectorised); with a narrow one (D's single logit) it would be one step long, so the
# innermost loop becomes the dot product along k instead.
NARROW = 8


@_jit
def _matmul_bias_loop(x, W, b, out):
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
        for p in range(k):
            xip = x[i, p]
            for j in range(d):
                out[i, j] += xip * W[p, j]


@_jit
def _add_bias(out, b):
    n, d = out.shape
    for i in range(n):
        for j in range(d):
            out[i, j] += b[j]


@_jit
def _dense_backward_loop(dout, x, W, dx, dW, db, param_grads, compute_dx):
    n, d = dout.shape
    k = x.shape[1]
    for i in range(n if compute_dx else 0):
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


@_jit
def _add_column_sums(db, dout):
    n, d = dout.shape
    for i in range(n):
        for j in range(d):
            db[j] += dout[i, j]


def dense_forward_nb(x, W, b, out):
    if x.shape[0] * W.shape[0] * W.shape[1] <= MATMUL_CROSSOVER:
        _matmul_bias_loop(x, W, b, out)
    else:
        np.matmul(x, W, out=out)
        _add_bias(out, b)


def dense_backward_nb(dout, x, W, dx, dW, db, param_grads, scratch=None):
    """As the twin; ``scratch`` (shaped like dW) takes x.T @ dout before it is added to dW."""
    if dout.shape[0] * W.shape[0] * W.shape[1] <= MATMUL_CROSSOVER:
        compute_dx = dx is not None
        if not compute_dx:
            dx = np.empty((0, 0), dtype=dout.dtype)  # a typed placeholder; nothing is written
        _dense_backward_loop(dout, x, W, dx, dW, db, param_grads, compute_dx)
        return
    if dx is not None:
        np.matmul(dout, W.T, out=dx)
    if param_grads:
        if scratch is None:
            dW += x.T @ dout
        else:
            np.matmul(x.T, dout, out=scratch)
            dW += scratch
        _add_column_sums(db, dout)


# -- elementwise activations --------------------------------------------------------------
# Backward reads the output y, not the input: for LeakyReLU y > 0 exactly when x > 0 (alpha >= 0),
# and tanh/sigmoid derivatives are functions of y.  So one array serves forward and backward.


def leaky_relu_forward_np(x, alpha, out):
    """out = x if x > 0 else alpha * x  (alpha = 0: ReLU)"""
    np.multiply(x, np.where(x > 0, 1.0, alpha).astype(x.dtype), out=out)


def leaky_relu_backward_np(dout, y, alpha, dx):
    """dx = dout * (1 if y > 0 else alpha)"""
    np.multiply(dout, np.where(y > 0, 1.0, alpha).astype(dout.dtype), out=dx)


def tanh_forward_np(x, out):
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


@_jit
def leaky_relu_forward_nb(x, alpha, out):
    xf, of = x.reshape(-1), out.reshape(-1)
    for i in range(xf.size):
        v = xf[i]
        of[i] = v if v > 0 else alpha * v


@_jit
def leaky_relu_backward_nb(dout, y, alpha, dx):
    gf, yf, df = dout.reshape(-1), y.reshape(-1), dx.reshape(-1)
    for i in range(gf.size):
        df[i] = gf[i] if yf[i] > 0 else alpha * gf[i]


def tanh_forward_nb(x, out):
    # NumPy's tanh is SIMD-vectorised; a jitted loop calls scalar tanhf per element and
    # is far slower here, so this kernel is NumPy's.
    np.tanh(x, out=out)


@_jit
def tanh_backward_nb(dout, y, dx):
    gf, yf, df = dout.reshape(-1), y.reshape(-1), dx.reshape(-1)
    for i in range(gf.size):
        df[i] = gf[i] * (1.0 - yf[i] * yf[i])


@_jit
def _sigmoid_left_tail(x, out):
    # Where x < -4, 1 + tanh(x / 2) cancels and loses relative accuracy; recompute those few
    # elements as exp(x) / (1 + exp(x)), which is exact there and cannot overflow.
    xf, of = x.reshape(-1), out.reshape(-1)
    for i in range(xf.size):
        if xf[i] < -4.0:
            e = math.exp(xf[i])
            of[i] = e / (1.0 + e)


def sigmoid_forward_nb(x, out):
    """sigmoid(x) = (1 + tanh(x / 2)) / 2 in vectorised NumPy passes, the left tail exactly.

    NumPy's tanh is SIMD-vectorised and its exp is not on this machine: about 4x faster than
    the twin (benchmarks/kernel_timings.py) and than a jitted loop of scalar exp.
    """
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    _sigmoid_left_tail(x, out)


@_jit
def sigmoid_backward_nb(dout, y, dx):
    gf, yf, df = dout.reshape(-1), y.reshape(-1), dx.reshape(-1)
    for i in range(gf.size):
        df[i] = gf[i] * yf[i] * (1.0 - yf[i])


# -- the logit losses ---------------------------------------------------------------------


def softplus_loss_np(a, s, scale, grad):
    """L = (scale / m) sum_i softplus(s * a_i);  grad = dL/da = (scale * s / m) sigmoid(s * a).

    a, grad: (m, 1); s = -1 gives -mean log D, s = +1 gives -mean log(1 - D).  Returns L.
    """
    m = a.shape[0]
    t = s * a
    sp = np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))
    e = np.exp(-np.abs(t))
    grad[...] = (scale * s / m) * np.where(t >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return float(scale * sp.sum() / m)


@_jit
def softplus_loss_nb(a, s, scale, grad):
    m = a.shape[0]
    total = 0.0
    c = scale * s / m
    for i in range(m):
        t = s * a[i, 0]
        e = math.exp(-abs(t))
        total += max(t, 0.0) + math.log1p(e)
        grad[i, 0] = c * (1.0 / (1.0 + e) if t >= 0 else e / (1.0 + e))
    return scale * total / m


# -- BatchNorm ----------------------------------------------------------------------------


def batchnorm_forward_np(x, gamma, beta, eps, xhat, s, out, mean, var):
    """Training mode: mean, var (biased) over the batch; s = 1/sqrt(var + eps);
    xhat = (x - mean) * s; out = gamma * xhat + beta.  Fills xhat, s, out, mean, var."""
    mean[...] = x.mean(axis=0)
    var[...] = ((x - mean) ** 2).mean(axis=0)
    s[...] = 1.0 / np.sqrt(var + eps)
    np.multiply(x - mean, s, out=xhat)
    np.multiply(xhat, gamma, out=out)
    out += beta


def batchnorm_backward_np(dout, xhat, s, gamma, dx, dgamma, dbeta, training, param_grads):
    """g = dout * gamma;  training: dx = (s/N)(N g - sum g - xhat sum(g xhat));  eval: g * s."""
    if param_grads:
        dbeta += dout.sum(axis=0)
        dgamma += (dout * xhat).sum(axis=0)
    g = dout * gamma
    if training:
        n = g.shape[0]
        dx[...] = (s / n) * (n * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))
    else:
        np.multiply(g, s, out=dx)


# Row-major loops: the batch is (N, F) in C order, so the innermost loop runs along a row and
# the per-feature sums accumulate into vectors (column-wise loops would stride by F).


@_jit
def batchnorm_forward_nb(x, gamma, beta, eps, xhat, s, out, mean, var):
    n, d = x.shape
    mean[:] = 0.0
    var[:] = 0.0
    for i in range(n):
        for j in range(d):
            mean[j] += x[i, j]
    for j in range(d):
        mean[j] /= n
    for i in range(n):
        for j in range(d):
            c = x[i, j] - mean[j]
            var[j] += c * c
    for j in range(d):
        var[j] /= n
        s[j] = 1.0 / math.sqrt(var[j] + eps)
    for i in range(n):
        for j in range(d):
            xh = (x[i, j] - mean[j]) * s[j]
            xhat[i, j] = xh
            out[i, j] = gamma[j] * xh + beta[j]


@_jit
def batchnorm_backward_nb(dout, xhat, s, gamma, dx, dgamma, dbeta, training, param_grads):
    n, d = dout.shape
    sum_d = np.zeros(d, dtype=dout.dtype)  # sum_n dout, the dbeta term
    sum_dx = np.zeros(d, dtype=dout.dtype)  # sum_n dout * xhat, the dgamma term
    for i in range(n):
        for j in range(d):
            sum_d[j] += dout[i, j]
            sum_dx[j] += dout[i, j] * xhat[i, j]
    if param_grads:
        for j in range(d):
            dbeta[j] += sum_d[j]
            dgamma[j] += sum_dx[j]
    if training:
        # dx = (s/N) (N g - sum g - xhat sum(g xhat)) with g = gamma * dout
        for i in range(n):
            for j in range(d):
                dx[i, j] = (
                    (s[j] / n) * gamma[j] * (n * dout[i, j] - sum_d[j] - xhat[i, j] * sum_dx[j])
                )
    else:
        for i in range(n):
            for j in range(d):
                dx[i, j] = gamma[j] * dout[i, j] * s[j]


# -- Maxout -------------------------------------------------------------------------------


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


@_jit
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


@_jit
def maxout_backward_nb(dout, arg, pieces, dz):
    n, units = dout.shape
    for i in range(n):
        for u in range(units):
            for p in range(pieces):
                dz[i, u * pieces + p] = 0.0
            dz[i, u * pieces + arg[i, u]] = dout[i, u]


# -- optimiser updates ---------------------------------------------------------------------


def sgd_momentum_np(theta, g, v, lr, mu):
    """v = mu * v - lr * g;  theta += v."""
    v *= mu
    v -= lr * g
    theta += v


def adam_np(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g**2;
    theta -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - b_i**t."""
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * g * g
    theta -= (lr / bc1) * m / (np.sqrt(v) / math.sqrt(bc2) + eps)


@_jit
def _sgd_momentum_flat(theta, g, v, lr, mu):
    for i in range(theta.size):
        vi = mu * v[i] - lr * g[i]
        v[i] = vi
        theta[i] += vi


@_jit
def _adam_flat(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2):
    # Three passes, each simple enough to vectorise; the update is memory-bound, and the kernel
    # runs level with the NumPy twin (benchmarks/kernel_timings.py).
    step = lr / bc1
    root_bc2 = np.sqrt(bc2)
    one = beta1 - beta1 + 1  # 1 in the arrays' precision: float32 stays float32
    c1, c2 = one - beta1, one - beta2
    for i in range(theta.size):
        m[i] = beta1 * m[i] + c1 * g[i]
    for i in range(theta.size):
        v[i] = beta2 * v[i] + c2 * g[i] * g[i]
    for i in range(theta.size):
        theta[i] -= step * m[i] / (np.sqrt(v[i]) / root_bc2 + eps)


def _scalars(array, *values):
    """Python floats as scalars of the array's dtype, so float32 kernels compute in float32."""
    kind = array.dtype.type
    return tuple(kind(v) for v in values)


def sgd_momentum_nb(theta, g, v, lr, mu):
    _sgd_momentum_flat(theta.reshape(-1), g.reshape(-1), v.reshape(-1), *_scalars(theta, lr, mu))


def adam_nb(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2):
    _adam_flat(
        theta.reshape(-1),
        g.reshape(-1),
        m.reshape(-1),
        v.reshape(-1),
        *_scalars(theta, lr, beta1, beta2, eps, bc1, bc2),
    )


# -- the switch ---------------------------------------------------------------------------

KERNELS = (
    "dense_forward",
    "dense_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "tanh_forward",
    "tanh_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "softplus_loss",
    "batchnorm_forward",
    "batchnorm_backward",
    "maxout_forward",
    "maxout_backward",
    "sgd_momentum",
    "adam",
)

ops = SimpleNamespace()
_state = {"backend": None}


def set_backend(name: str) -> None:
    """Use the Numba kernels ("numba") or their NumPy twins ("numpy") for the whole process."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    if name == "numba" and numba is None:
        raise RuntimeError("the numba backend needs the numba package: pip install numba")
    suffix = "_nb" if name == "numba" else "_np"
    table = globals()
    for kernel in KERNELS:
        setattr(ops, kernel, table[kernel + suffix])
    _state["backend"] = name


def get_backend() -> str:
    return _state["backend"]


_requested = os.environ.get("NUMGAN_BACKEND", "numba" if numba is not None else "numpy")
if _requested not in BACKENDS:
    raise ImportError(f"NUMGAN_BACKEND={_requested!r} is not a backend: use numba or numpy")
set_backend(_requested)
