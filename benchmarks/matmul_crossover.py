"""Where BLAS starts to beat the jitted loop: Dense forward + backward, per shape.

    python benchmarks/matmul_crossover.py

For each (N, D_in, D_out) it times, interleaved in one process, the two routes of the Numba
backend's Dense kernels (``numgan.kernels.dense``): the jitted loops (``matmul_bias_nb`` +
``dense_backward_nb``) and BLAS (``np.matmul(..., out=)`` + the jitted ``add_bias_nb`` and
``_add_column_sums``, dx by ``input_grad_blas``, dW accumulated by ``blas.add_product``, as
``dense_forward_loop_or_blas`` and ``dense_backward_loop_or_blas`` run it above the
crossover), and prints the median time of each and their ratio.
``numgan.kernels.dense.MATMUL_CROSSOVER`` (multiply-adds N * D_in * D_out) is set from this
table; docs/kernels.md records the run.

A second table times the input gradient of a layer with one output (D's logit), dx = dout @
W.T, an outer product: ``np.matmul(dout, W.T, out=dx)`` against the ``np.multiply`` that
``dense.input_grad_blas`` runs instead, on the one-output layers of the benchmark rows.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from numgan.kernels import dense
from numgan.kernels.blas import add_product

SHAPES = [
    (64, 1, 16),
    (64, 16, 16),
    (64, 16, 1),
    (64, 32, 32),
    (64, 64, 64),
    (100, 64, 64),
    (64, 128, 128),
    (64, 256, 256),
    (100, 240, 240),
    (100, 240, 1),
    (100, 784, 240),
    (64, 1024, 784),
    (100, 1200, 1200),
]
# One output: D's last layer on rows 1 (m and 2m rows), 2 and 4 (the DCGAN's 64 x 7 x 7 features)
OUTER_SHAPES = [(100, 240, 1), (200, 240, 1), (64, 1024, 1), (64, 3136, 1), (128, 3136, 1)]


def _routes(n, k, d, dtype):
    rng = np.random.default_rng(0)
    x, W = rng.normal(size=(n, k)).astype(dtype), rng.normal(size=(k, d)).astype(dtype)
    b, dout = rng.normal(size=d).astype(dtype), rng.normal(size=(n, d)).astype(dtype)
    out, dx = np.empty((n, d), dtype), np.empty((n, k), dtype)
    dW, db = np.zeros((k, d), dtype), np.zeros(d, dtype)
    scratch = np.empty(k * d, dtype)

    def loop():
        dense.matmul_bias_nb(x, W, b, out)
        dense.dense_backward_nb(dout, x, W, dx, dW, db, True, True, scratch)

    def blas():
        np.matmul(x, W, out=out)
        dense.add_bias_nb(out, b)
        dense.input_grad_blas(dout, W, dx)
        add_product(x.T, dout, dW)
        dense._add_column_sums(db, dout)

    return loop, blas


def _outer_routes(n, k):
    """dx = dout @ W.T for a one-output layer: np.matmul, and input_grad_blas's multiply."""
    rng = np.random.default_rng(0)
    dout, W = rng.normal(size=(n, 1)).astype(np.float32), rng.normal(size=(k, 1)).astype(np.float32)
    dx = np.empty((n, k), np.float32)

    def matmul():
        np.matmul(dout, W.T, out=dx)

    def multiply():
        dense.input_grad_blas(dout, W, dx)

    return matmul, multiply


def _time(fn, seconds):
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return (time.perf_counter() - start) / n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--block-seconds", type=float, default=0.05)
    args = parser.parse_args(argv)
    print("| N x D_in x D_out | multiply-adds | jitted loop (us) | BLAS (us) | loop / BLAS |")
    print("|---|---:|---:|---:|---:|")
    for n, k, d in SHAPES:
        loop, blas = _routes(n, k, d, np.float32)
        t_loop, t_blas = [], []
        for _ in range(args.repeats):
            t_loop.append(_time(loop, args.block_seconds))
            time.sleep(0.1)  # let OpenBLAS threads stop spinning before the next block
            t_blas.append(_time(blas, args.block_seconds))
            time.sleep(0.1)
        a, b = statistics.median(t_loop) * 1e6, statistics.median(t_blas) * 1e6
        print(f"| {n} x {k} x {d} | {n * k * d:,} | {a:.1f} | {b:.1f} | {a / b:.2f} |", flush=True)
    print(f"\ncurrent MATMUL_CROSSOVER = {dense.MATMUL_CROSSOVER:,} multiply-adds")
    print("\n| N x D_in x 1 | dx = dout @ W.T by np.matmul (us) | by np.multiply (us) | ratio |")
    print("|---|---:|---:|---:|")
    for n, k, _ in OUTER_SHAPES:
        matmul, multiply = _outer_routes(n, k)
        t_mm, t_mul = [], []
        for _ in range(args.repeats):
            t_mm.append(_time(matmul, args.block_seconds))
            t_mul.append(_time(multiply, args.block_seconds))
        a, b = statistics.median(t_mm) * 1e6, statistics.median(t_mul) * 1e6
        print(f"| {n} x {k} x 1 | {a:.1f} | {b:.1f} | {a / b:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
