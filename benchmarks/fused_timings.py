"""The fused step's two choices, each against what it replaced.

    python benchmarks/fused_timings.py [--repeats 9] [--block-seconds 0.05]

1. Feature-major products.  The 1-D toy's Dense layers (1-16, 16-16, 16-1) on the D step's
   2m = 128 rows and the G step's m = 64: the batch-major loops the layers use below BLAS's
   crossover (``matmul_bias_nb``, ``dense_backward_nb``: activations (m, width), four rows of
   the output at a time) against the fused step's feature-major loops (``dense_forward_t_nb``,
   ``dense_backward_t_nb``: activations (width, m), every inner loop along the batch).  Each
   kernel is called many times inside one jitted loop, so the numbers are the kernels' own.
2. Handing the run's Generator to a jitted draw (64 normals, as the toy's noise): the Generator
   itself against the ``GeneratorRef`` struct holding it (numgan/gan/fused.py), per call from
   Python.

Blocks of the alternatives are interleaved, median of ``--repeats`` blocks, microseconds per
call; the machine line says where it ran (benchmarks/machine.py).
"""

from __future__ import annotations

import argparse

import numpy as np
from machine import machine_info, machine_kind

from numgan.app.bench import time_calls
from numgan.gan.fused import _hold
from numgan.kernels.dense import (
    dense_backward_nb,
    dense_backward_t_nb,
    dense_forward_t_nb,
    matmul_bias_nb,
)
from numgan.kernels.flags import jit

# (rows, D_in, D_out): the 1-D toy's layers in the D step (2m rows) and the G step (m rows)
SHAPES = [(128, 1, 16), (128, 16, 16), (128, 16, 1), (64, 16, 16)]
CALLS = 200  # kernel calls per timed jitted loop


@jit
def _batch_major(x, W, b, out, dout, dx, dW, db, scratch, calls):
    for _ in range(calls):
        matmul_bias_nb(x, W, b, out)
        dense_backward_nb(dout, x, W, dx, dW, db, True, True, scratch)


@jit
def _feature_major(xT, W, b, outT, doutT, dxT, dW, db, calls):
    for _ in range(calls):
        dense_forward_t_nb(xT, W, b, outT)
        dense_backward_t_nb(doutT, xT, W, dxT, dW, db, True, True)


@jit
def _normals(rng, z):
    v = rng.normal(0.0, 1.0, z.shape)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            z[i, j] = v[i, j]


@jit
def _normals_held(ref, z):
    _normals(ref.rng, z)


def time_shape(n: int, k: int, d: int, repeats: int, seconds: float) -> tuple[float, float]:
    """Microseconds per call of one layer's forward and backward: batch-major, feature-major."""
    rng = np.random.default_rng(0)
    x, W, b = (rng.normal(size=s).astype(np.float32) for s in ((n, k), (k, d), (d,)))
    dout = rng.normal(size=(n, d)).astype(np.float32)
    out, dx = np.empty((n, d), np.float32), np.empty((n, k), np.float32)
    dW, db = np.zeros((k, d), np.float32), np.zeros(d, np.float32)
    scratch = np.empty(k * d, np.float32)
    xT, doutT = np.ascontiguousarray(x.T), np.ascontiguousarray(dout.T)
    outT, dxT = np.empty((d, n), np.float32), np.empty((k, n), np.float32)
    us = time_calls(
        {
            "batch": lambda: _batch_major(x, W, b, out, dout, dx, dW, db, scratch, CALLS),
            "feature": lambda: _feature_major(xT, W, b, outT, doutT, dxT, dW, db, CALLS),
        },
        repeats=repeats,
        block_seconds=seconds,
        label=f"{n} x {k} x {d}",
    )
    return us["batch"] / CALLS, us["feature"] / CALLS


def product_rows(repeats: int, seconds: float) -> list[str]:
    lines = [
        "| rows x D_in x D_out | batch-major (us) | feature-major (us) | batch / feature |",
        "|---|---:|---:|---:|",
    ]
    for n, k, d in SHAPES:
        a, f = time_shape(n, k, d, repeats, seconds)
        lines.append(f"| {n} x {k} x {d} | {a:.2f} | {f:.2f} | {a / f:.2f}x |")
    return lines


def generator_rows(repeats: int, seconds: float) -> list[str]:
    rng, z = np.random.default_rng(0), np.empty((64, 1), np.float32)
    ref = _hold(rng)
    us = time_calls(
        {"Generator": lambda: _normals(rng, z), "GeneratorRef": lambda: _normals_held(ref, z)},
        repeats=repeats,
        block_seconds=seconds,
        label="draw",
    )
    g, r = us["Generator"], us["GeneratorRef"]
    return [
        "| a jitted draw of 64 normals, handed | us per call |",
        "|---|---:|",
        f"| the Generator | {g:.2f} |",
        f"| a GeneratorRef holding it | {r:.2f} |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed blocks per alternative")
    parser.add_argument("--block-seconds", type=float, default=0.05, help="length of a block")
    args = parser.parse_args(argv)
    print(f"machine kind: {machine_kind(machine_info())}")
    print("Forward and backward (dW, db and dx) of one Dense layer, float32, per call:\n")
    print("\n".join(product_rows(args.repeats, args.block_seconds)))
    print()
    print("\n".join(generator_rows(args.repeats, args.block_seconds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
