"""Optimiser updates over a network's flat parameter vector: SGD with momentum, and Adam."""

from __future__ import annotations

import math

import numpy as np

from . import threads
from .flags import jit, jit_parallel, prange
from .threads import PIECE


def sgd_momentum_np(theta, g, v, lr, mu, zero_g):
    """v = mu * v - lr * g;  theta += v;  then g = 0 if zero_g."""
    v *= mu
    v -= lr * g
    theta += v
    if zero_g:
        g.fill(0.0)


def adam_np(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2, zero_g):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g**2;
    theta -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - b_i**t;
    then g = 0 if zero_g."""
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * g * g
    theta -= (lr / bc1) * m / (np.sqrt(v) / math.sqrt(bc2) + eps)
    if zero_g:
        g.fill(0.0)


# zero_g: the update is the last reader of the gradient, so it can write the zeros that the next
# backward pass needs in the same pass over memory, instead of zero_grad()'s own pass over the
# whole gradient (docs/kernels.md, "Zeroing the gradient in the update").


@jit
def sgd_momentum_nb(theta, g, v, lr, mu, zero_g):
    for i in range(theta.size):
        vi = mu * v[i] - lr * g[i]
        v[i] = vi
        theta[i] += vi
        if zero_g:
            g[i] = 0


# Adam in one pass.  The three loops below were the kernel every Adam result of docs/results.md
# was trained with; one loop does the same arithmetic at about 1.7x their speed (docs/kernels.md,
# "Adam's loops").  Under fastmath LLVM forms theta's step as
# (m lr) / (fma(sqrt(v), 1 / sqrt(bc2), eps) bc1) in both shapes' vector bodies, but the three
# loops' scalar remainder divides by sqrt(bc2) in the element of an odd remainder it peels off,
# which can round that step one ulp apart.  So the one loop runs over whole blocks of TAIL
# elements and the three loops over the last n % TAIL: each element takes the path it took
# before, and the numbers stay the three loops', bit for bit.  TAIL is a multiple of the vector
# steps LLVM takes here (8 and 32 elements), and PIECE of TAIL; tests/kernels/test_optim.py
# holds the numbers to every remainder, in both precisions, on whatever CPU the suite runs.
TAIL = 128


@jit
def _adam_three_loops(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2, zero_g):
    # Three passes, each simple enough to vectorise; the division vectorises only under
    # error_model="numpy" (flags.py).
    step = lr / bc1
    root_bc2 = np.sqrt(bc2)
    # float64 (float32 - int is float64 in Numba): the moments round once from float64; with
    # 1 - beta in float32 the loops run faster but every Adam run's numbers change
    # (docs/kernels.md, "Adam's loops").
    one = beta1 - beta1 + 1
    c1, c2 = one - beta1, one - beta2
    for i in range(theta.size):
        m[i] = beta1 * m[i] + c1 * g[i]
    for i in range(theta.size):
        v[i] = beta2 * v[i] + c2 * g[i] * g[i]
        if zero_g:  # g's last reader
            g[i] = 0
    for i in range(theta.size):
        theta[i] -= step * m[i] / (np.sqrt(v[i]) / root_bc2 + eps)


# The one loop, twice: with `if zero_g:` inside it LLVM unswitches the loop and forms theta's
# step another way (one ulp apart in float32), so the loop that zeroes g is a function of its
# own.  m[i] and v[i] are read back after they are stored: theta's step sees them rounded to
# the arrays' precision, as in the three loops.


@jit
def _adam_one_loop(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2):
    step = lr / bc1
    root_bc2 = np.sqrt(bc2)
    one = beta1 - beta1 + 1
    c1, c2 = one - beta1, one - beta2
    for i in range(theta.size):
        gi = g[i]
        m[i] = beta1 * m[i] + c1 * gi
        v[i] = beta2 * v[i] + c2 * gi * gi
        theta[i] -= step * m[i] / (np.sqrt(v[i]) / root_bc2 + eps)


@jit
def _adam_one_loop_zeroing_g(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2):
    step = lr / bc1
    root_bc2 = np.sqrt(bc2)
    one = beta1 - beta1 + 1
    c1, c2 = one - beta1, one - beta2
    for i in range(theta.size):
        gi = g[i]
        g[i] = 0  # g's last reader
        m[i] = beta1 * m[i] + c1 * gi
        v[i] = beta2 * v[i] + c2 * gi * gi
        theta[i] -= step * m[i] / (np.sqrt(v[i]) / root_bc2 + eps)


@jit
def adam_nb(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2, zero_g):
    """adam_np's update in one pass over the whole blocks of TAIL parameters and in three
    over the rest: the three loops' numbers (above)."""
    h = theta.size - theta.size % TAIL
    head = (theta[:h], g[:h], m[:h], v[:h], lr, beta1, beta2, eps, bc1, bc2)
    if zero_g:
        _adam_one_loop_zeroing_g(*head)
    else:
        _adam_one_loop(*head)
    _adam_three_loops(theta[h:], g[h:], m[h:], v[h:], lr, beta1, beta2, eps, bc1, bc2, zero_g)


# -- the updates split over threads ------------------------------------------------------------
#
# Over millions of parameters an update keeps one core busy for a millisecond or two (Adam's
# square roots and divisions, SGD's pass over memory) while the other cores wait.  The split
# runs the serial kernel above on each piece of PIECE parameters, the pieces shared out to
# Numba's threads: the serial kernel's numbers bit for bit (threads.py says why, and when an
# update splits).


@jit_parallel
def sgd_momentum_split(theta, g, v, lr, mu, zero_g):
    """sgd_momentum_nb on each piece of PIECE parameters, the pieces shared out to Numba's
    threads: sgd_momentum_nb's numbers."""
    n = theta.size
    for k in prange((n + PIECE - 1) // PIECE):
        lo, hi = k * PIECE, min(n, (k + 1) * PIECE)
        sgd_momentum_nb(theta[lo:hi], g[lo:hi], v[lo:hi], lr, mu, zero_g)


@jit_parallel
def adam_split(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2, zero_g):
    """adam_nb on each piece of PIECE parameters, the pieces shared out to Numba's threads:
    adam_nb's numbers."""
    n = theta.size
    for k in prange((n + PIECE - 1) // PIECE):
        lo, hi = k * PIECE, min(n, (k + 1) * PIECE)
        adam_nb(theta[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], lr, beta1, beta2, eps, bc1, bc2, zero_g)


def _scalars(array, *values):
    """Python floats as scalars of the array's dtype, so float32 kernels compute in float32."""
    kind = array.dtype.type
    return tuple(kind(v) for v in values)


def sgd_momentum_flat(theta, g, v, lr, mu, zero_g):
    """The jitted update on flat views, with lr and mu in the parameters' precision; split
    over threads when the vectors are long (same numbers)."""
    args = (theta.reshape(-1), g.reshape(-1), v.reshape(-1), *_scalars(theta, lr, mu))
    if threads.split_updates(theta.size):
        sgd_momentum_split(*args, bool(zero_g))
    else:
        sgd_momentum_nb(*args, bool(zero_g))


def adam_flat(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2, zero_g):
    """The jitted update on flat views, with the scalars in the parameters' precision; split
    over threads when the vectors are long (same numbers)."""
    args = (
        theta.reshape(-1),
        g.reshape(-1),
        m.reshape(-1),
        v.reshape(-1),
        *_scalars(theta, lr, beta1, beta2, eps, bc1, bc2),
    )
    if threads.split_updates(theta.size):
        adam_split(*args, bool(zero_g))
    else:
        adam_nb(*args, bool(zero_g))
