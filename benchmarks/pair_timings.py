"""BatchNorm, then LeakyReLU, run as one pass in blocks of rows, against the two layers'
kernels: what fusing the pair would gain.

    python benchmarks/pair_timings.py [--repeats 9] [--block-seconds 0.2]

The block of the DCGAN-style networks is BatchNorm, then LeakyReLU (or ReLU).  Run as two
layers, forward writes BatchNorm's output only for the activation to read it back, and backward
writes the activation's dx only for BatchNorm to read it.  The pair below runs numgan's own
kernels a block of rows at a time (BLOCK elements, within L1), so that array is only ever a
block long: _normalise writes a block of BatchNorm's output and the activation maps it into y;
backward forms a block of the activation's dx, twice (for the sums, then for dx).  The same
kernels on the same numbers in the same order give the two layers' numbers bit for bit, but
for dx in float64, where LLVM may contract the multiply-adds differently inlined into the
pair's functions: a rounding (tests/benchmarks/test_pair_timings.py).  For L == 1 only
(features, channels-last images); the DCGAN's first BatchNorm sees C-order images (Dense, then
Reshape) and is left out.

Per shape the speed benchmark's rows pair (float32, the Numba backend), median microseconds
per call over interleaved blocks: the two layers' dispatchers in turn (split over threads
where numgan splits them) against the pair (its long passes split the same way); then, per
row, what the pair would save per iteration, counting each pair's forward and backward calls
(G forward twice and backward once; on the DCGAN, D forward and backward three times: D
has a BatchNorm, so the D step runs the real and the fake halves apart).  numgan does not fuse
the pair: docs/benchmarks.md reads this table.
"""

from __future__ import annotations

import argparse
import math

import numba
import numpy as np
from machine import machine_info, machine_kind

from numgan import kernels
from numgan.app.bench import time_calls
from numgan.kernels import threads
from numgan.kernels.elementwise import (
    leaky_relu_backward_nb,
    leaky_relu_backward_serial_or_split,
    leaky_relu_forward_nb,
    leaky_relu_forward_serial_or_split,
)
from numgan.kernels.flags import jit, jit_parallel, prange
from numgan.kernels.norm import (
    _add_param_grads,
    _backward_sums,
    _input_grad,
    _normalise,
    _rows_per_piece,
    _statistics,
    batchnorm_backward_serial_or_split,
    batchnorm_forward_serial_or_split,
)

BLOCK = 4_096  # elements of the in-between block: 16 KiB in float32, within L1

# (row, (N, C) as the kernels see the pair's input, alpha, forward calls, backward calls per
# iteration)
PAIRS = (
    ("2-sgd, 2-adam", (64, 256), 0.2, 2, 1),
    ("2-sgd, 2-adam", (64, 512), 0.2, 2, 1),
    ("2-sgd, 2-adam", (64, 1024), 0.2, 2, 1),
    ("4", (64 * 14 * 14, 32), 0.0, 2, 1),  # G: ConvTranspose2D, BatchNorm(32), ReLU
    ("4", (64 * 7 * 7, 64), 0.2, 3, 3),  # D: Conv2D, BatchNorm(64), LeakyReLU(0.2)
)


def _rows_per_block(x) -> int:
    return max(1, BLOCK // x.shape[1])


@jit
def _normalise_leaky(x, gamma, beta, mean, s, alpha, xhat, y, rows):
    """_normalise into a block of rows, then LeakyReLU from it into y; L == 1."""
    n, c, _ = x.shape
    block = np.empty(min(rows, n) * c, x.dtype)
    yf = y.reshape(-1)
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        out = block[: (hi - lo) * c]
        _normalise(x[lo:hi], gamma, beta, mean, s, xhat[lo:hi], out.reshape(hi - lo, c, 1))
        leaky_relu_forward_nb(out, alpha, yf[lo * c : hi * c])


@jit
def _leaky_sums(dout, y, alpha, xhat, rows, sum_d, sum_dx):
    """_backward_sums of the activation's gradient, formed a block of rows at a time."""
    n, c, _ = dout.shape
    block = np.empty(min(rows, n) * c, dout.dtype)
    gf, yf = dout.reshape(-1), y.reshape(-1)
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        d = block[: (hi - lo) * c]
        leaky_relu_backward_nb(gf[lo * c : hi * c], yf[lo * c : hi * c], alpha, d)
        _backward_sums(d.reshape(hi - lo, c, 1), xhat[lo:hi], sum_d, sum_dx)


@jit
def _leaky_input_grad(dout, y, alpha, xhat, s, gamma, sum_d, sum_dx, m, training, dx, rows):
    """_input_grad of the activation's gradient, formed a block of rows at a time."""
    n, c, _ = dout.shape
    block = np.empty(min(rows, n) * c, dout.dtype)
    gf, yf = dout.reshape(-1), y.reshape(-1)
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        d = block[: (hi - lo) * c].reshape(hi - lo, c, 1)
        leaky_relu_backward_nb(gf[lo * c : hi * c], yf[lo * c : hi * c], alpha, d)
        _input_grad(d, xhat[lo:hi], s, gamma, sum_d, sum_dx, m, training, dx[lo:hi])


@jit
def batchnorm_leaky_relu_forward_nb(x, gamma, beta, eps, alpha, xhat, s, y, mean, var, rows):
    _statistics(x, eps, mean, var, s)
    _normalise_leaky(x, gamma, beta, mean, s, alpha, xhat, y, rows)


@jit
def batchnorm_leaky_relu_backward_nb(
    dout, y, alpha, xhat, s, gamma, dx, dgamma, dbeta, training, param_grads, rows
):
    n, c, _ = dout.shape
    sum_d, sum_dx = np.zeros(c), np.zeros(c)
    _leaky_sums(dout, y, alpha, xhat, rows, sum_d, sum_dx)
    if param_grads:
        _add_param_grads(sum_d, sum_dx, dbeta, dgamma)
    _leaky_input_grad(dout, y, alpha, xhat, s, gamma, sum_d, sum_dx, n, training, dx, rows)


@jit_parallel
def _normalise_leaky_split(x, gamma, beta, mean, s, alpha, xhat, y, rows, piece):
    n = x.shape[0]
    for k in prange((n + piece - 1) // piece):
        lo, hi = k * piece, min(n, (k + 1) * piece)
        _normalise_leaky(x[lo:hi], gamma, beta, mean, s, alpha, xhat[lo:hi], y[lo:hi], rows)


@jit_parallel
def _leaky_input_grad_split(
    dout, y, alpha, xhat, s, gamma, sum_d, sum_dx, m, training, dx, rows, piece
):
    n = dout.shape[0]
    for k in prange((n + piece - 1) // piece):
        lo, hi = k * piece, min(n, (k + 1) * piece)
        _leaky_input_grad(
            dout[lo:hi], y[lo:hi], alpha, xhat[lo:hi], s, gamma, sum_d, sum_dx, m, training,
            dx[lo:hi], rows,
        )  # fmt: skip


def pair_forward(x, gamma, beta, eps, alpha, xhat, s, y, mean, var):
    """BatchNorm's forward (training mode), then LeakyReLU's, in blocks of rows; L == 1.  The
    pieces split over threads when x is long (threads.split_passes), as numgan's passes do."""
    if x.shape[2] != 1:
        raise ValueError(f"the pair runs on (N, C, 1) only, got {x.shape}")
    rows = _rows_per_block(x)
    if not threads.split_passes(x.size):
        batchnorm_leaky_relu_forward_nb(x, gamma, beta, eps, alpha, xhat, s, y, mean, var, rows)
        return
    _statistics(x, eps, mean, var, s)
    _normalise_leaky_split(x, gamma, beta, mean, s, alpha, xhat, y, rows, _rows_per_piece(x))


def pair_backward(dout, y, alpha, xhat, s, gamma, dx, dgamma, dbeta, training, param_grads):
    """LeakyReLU's backward, then BatchNorm's, in blocks of rows; L == 1.  The dx pass splits
    over threads when dout is long, the sums stay serial, as numgan's do."""
    if dout.shape[2] != 1:
        raise ValueError(f"the pair runs on (N, C, 1) only, got {dout.shape}")
    rows = _rows_per_block(dout)
    if not threads.split_passes(dout.size):
        batchnorm_leaky_relu_backward_nb(
            dout, y, alpha, xhat, s, gamma, dx, dgamma, dbeta, training, param_grads, rows
        )
        return
    n, c, _ = dout.shape
    sum_d, sum_dx = np.zeros(c), np.zeros(c)
    _leaky_sums(dout, y, alpha, xhat, rows, sum_d, sum_dx)
    if param_grads:
        _add_param_grads(sum_d, sum_dx, dbeta, dgamma)
    _leaky_input_grad_split(
        dout, y, alpha, xhat, s, gamma, sum_d, sum_dx, n, training, dx, rows, _rows_per_piece(dout)
    )


def two_layers_forward(x, gamma, beta, eps, alpha, xhat, s, y, mean, var, out):
    """The two layers' forward kernels in turn, as numgan runs them (out: BatchNorm's output)."""
    batchnorm_forward_serial_or_split(x, gamma, beta, eps, xhat, s, out, mean, var)
    leaky_relu_forward_serial_or_split(out, alpha, y)


def two_layers_backward(dout, y, alpha, xhat, s, gamma, dx, dgamma, dbeta, d):
    """The two layers' backward kernels in turn (d: the activation's dx), training mode."""
    leaky_relu_backward_serial_or_split(dout, y, alpha, d)
    batchnorm_backward_serial_or_split(d, xhat, s, gamma, dx, dgamma, dbeta, True, True)


def operands(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    n, c = shape
    x = (3 * rng.standard_normal((n, c, 1)) + 1).astype(dtype)
    dout = rng.standard_normal((n, c, 1)).astype(dtype)
    gamma, beta = (rng.standard_normal(c).astype(dtype) for _ in range(2))
    return x, dout, gamma, beta


def timings(shape, alpha, repeats, block_seconds) -> dict[str, float]:
    x, dout, gamma, beta = operands(shape)
    c = shape[1]
    xhat, y, out, d, dx = (np.empty_like(x) for _ in range(5))
    s, mean, var = (np.empty(c, x.dtype) for _ in range(3))
    dgamma, dbeta = np.zeros(c, x.dtype), np.zeros(c, x.dtype)
    return time_calls(
        {
            "two fwd": lambda: two_layers_forward(
                x, gamma, beta, 1e-5, alpha, xhat, s, y, mean, var, out
            ),
            "pair fwd": lambda: pair_forward(x, gamma, beta, 1e-5, alpha, xhat, s, y, mean, var),
            "two bwd": lambda: two_layers_backward(
                dout, y, alpha, xhat, s, gamma, dx, dgamma, dbeta, d
            ),
            "pair bwd": lambda: pair_backward(
                dout, y, alpha, xhat, s, gamma, dx, dgamma, dbeta, True, True
            ),
        },
        repeats=repeats,
        block_seconds=block_seconds,
        label="x".join(map(str, shape)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed blocks of each")
    parser.add_argument("--block-seconds", type=float, default=0.2, help="length of a block")
    args = parser.parse_args(argv)
    if args.repeats < 1 or not 0 < args.block_seconds < math.inf:
        parser.error("--repeats must be at least 1, --block-seconds a positive number")
    backend = kernels.get_backend()
    kernels.set_backend("numba")
    try:
        threads_now = numba.get_num_threads()
        print(f"machine kind: {machine_kind(machine_info())}; Numba threads: {threads_now}")
        print(
            "\n| row | N x C | forward: two layers (us) | pair (us) | two / pair "
            "| backward: two layers (us) | pair (us) | two / pair |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        saved: dict[str, list[float]] = {}
        for row, shape, alpha, n_fwd, n_bwd in PAIRS:
            t = timings(shape, alpha, args.repeats, args.block_seconds)
            print(
                f"| {row} | {shape[0]} x {shape[1]} | {t['two fwd']:.1f} | {t['pair fwd']:.1f} "
                f"| {t['two fwd'] / t['pair fwd']:.2f}x | {t['two bwd']:.1f} "
                f"| {t['pair bwd']:.1f} | {t['two bwd'] / t['pair bwd']:.2f}x |",
                flush=True,
            )
            fwd = n_fwd * (t["two fwd"] - t["pair fwd"])
            bwd = n_bwd * (t["two bwd"] - t["pair bwd"])
            totals = saved.setdefault(row, [0.0, 0.0])
            totals[0] += fwd
            totals[1] += bwd
        print("\nSaved per iteration by the pair (us; negative: it costs):\n")
        print("| row | forward only | backward only | both |")
        print("|---|---:|---:|---:|")
        for row, (fwd, bwd) in saved.items():
            print(f"| {row} | {fwd:.0f} | {bwd:.0f} | {fwd + bwd:.0f} |")
    finally:
        kernels.set_backend(backend)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
