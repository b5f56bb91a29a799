"""The weight gradient accumulated in place by one GEMM, against NumPy's ``dW += x.T @ dout``.

    python benchmarks/accumulate_timings.py [--repeats 9] [--block-seconds 0.05]

1. Per product: every weight-gradient product of rows 1 and 2 on numgan's layer path (D's on
   the 2m rows of its one pass), float32, microseconds per call: the NumPy line (a temporary,
   then a second pass adding it to dW), ``numgan.kernels.blas.add_product`` (GEMM with
   beta = 1), and the product alone into a kept buffer (``np.matmul(x.T, dout, out=)``, the
   matmul ceiling's form), which is what the temporary costs beyond.
2. Small products, 64 rows: where the ctypes call's own cost catches up with the temporary's;
   ``blas.IN_PLACE_MIN`` is set from this table.  add_product is called with the threshold
   set to 0 here, so that the table shows both sides below it too.
3. Whole iterations: ``Trainer.step()`` of rows 1, 2-sgd and 2-adam (Numba backend) with the
   GEMM route on and off, blocks interleaved in one process (iterations per second).

Median of ``--repeats`` interleaved blocks; the machine line says where it ran.
"""

from __future__ import annotations

import argparse

import numpy as np
from machine import machine_info, machine_kind
from profile_rows import path_products

from numgan import kernels
from numgan.app.bench import (
    NumganRunner,
    build_trainer,
    model_specs,
    per_round,
    time_calls,
    time_interleaved,
)
from numgan.kernels import blas

ROWS = ("1", "2-sgd")
ITERATION_ROWS = ("1", "2-sgd", "2-adam")
SMALL = [(64, 64, 64), (64, 64, 128), (64, 128, 128), (64, 128, 256), (64, 256, 256)]


def gradient_shapes(keys=ROWS) -> list[tuple[str, int, int, int]]:
    """(row, M, K, N) of each distinct weight-gradient product dW (K, N) += A.T (K, M) @ dout
    (M, N) that rows ``keys`` run on the layer path."""
    specs = {s.key: s for s in model_specs((1, 2))}
    shapes: list[tuple[str, int, int, int]] = []
    for key in keys:
        spec = specs[key]
        trainer = build_trainer(spec, data_size=256)
        for _, _, kind, M, K, N in path_products(trainer, spec, spec.batch_size):
            if kind == "dW" and (key, M, K, N) not in shapes:
                shapes.append((key, M, K, N))
    return shapes


def time_product(M: int, K: int, N: int, repeats: int, seconds: float) -> dict[str, float]:
    """Microseconds per call: "numpy" (the line), "gemm" (add_product), "product" (alone)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(M, K)).astype(np.float32)
    dout = rng.normal(size=(M, N)).astype(np.float32)
    dW, dW2, tmp = (np.zeros((K, N), np.float32) for _ in range(3))

    def line() -> None:
        blas.add_product_np(x.T, dout, dW)

    return time_calls(
        {
            "numpy": line,
            "gemm": lambda: blas.add_product(x.T, dout, dW2),
            "product": lambda: np.matmul(x.T, dout, out=tmp),
        },
        repeats=repeats,
        block_seconds=seconds,
        label=f"{M} x {K} x {N}",
    )


def product_rows(repeats: int, seconds: float) -> list[str]:
    lines = [
        "| row | dW (K x N) += x.T @ dout, M rows | NumPy line (us) | GEMM in place (us) "
        "| product alone (us) | line / in place |",
        "|---|---|---:|---:|---:|---:|",
    ]
    total = {"numpy": 0.0, "gemm": 0.0, "product": 0.0}
    for key, M, K, N in gradient_shapes():
        us = time_product(M, K, N, repeats, seconds)
        for name in total:
            total[name] += us[name] if key == "2-sgd" else 0.0
        lines.append(
            f"| {key} | {K} x {N}, {M} rows | {us['numpy']:.0f} | {us['gemm']:.0f} "
            f"| {us['product']:.0f} | {us['numpy'] / us['gemm']:.2f}x |"
        )
    lines.append(
        f"| 2-sgd, all | | {total['numpy']:.0f} | {total['gemm']:.0f} | {total['product']:.0f} "
        f"| {total['numpy'] / total['gemm']:.2f}x |"
    )
    return lines


def small_rows(repeats: int, seconds: float) -> list[str]:
    lines = [
        "| M x K x N | dW elements | NumPy line (us) | GEMM in place (us) | line / in place |",
        "|---|---:|---:|---:|---:|",
    ]
    threshold = blas.IN_PLACE_MIN
    blas.IN_PLACE_MIN = 0
    try:
        for M, K, N in SMALL:
            us = time_product(M, K, N, repeats, seconds)
            lines.append(
                f"| {M} x {K} x {N} | {K * N:,} | {us['numpy']:.1f} | {us['gemm']:.1f} "
                f"| {us['numpy'] / us['gemm']:.2f}x |"
            )
    finally:
        blas.IN_PLACE_MIN = threshold
    return lines


class _Route(NumganRunner):
    """A row's Trainer.step() with add_product's GEMM route on or off."""

    def __init__(self, gemm: dict | None, build, name: str) -> None:
        super().__init__("numba", build, name)
        self.gemm = gemm

    def activate(self) -> None:
        super().activate()
        blas._GEMM = self.gemm


def iteration_rows(repeats: int, seconds: float) -> list[str]:
    lines = [
        "| row | NumPy line (it/s) | GEMM in place (it/s) | in place / line, per round |",
        "|---|---:|---:|---:|",
    ]
    specs = {s.key: s for s in model_specs((1, 2))}
    found, backend = blas._GEMM, kernels.get_backend()
    try:
        for key in ITERATION_ROWS:
            spec = specs[key]

            def build(spec=spec):
                return build_trainer(spec)

            runners = [_Route(None, build, "line"), _Route(found, build, "in place")]
            rates = time_interleaved(
                runners, repeats=repeats, block_seconds=seconds, sleep=0.0, label=key
            )
            a, b = rates["line"], rates["in place"]
            ratio = per_round(b["samples"], a["samples"])
            lines.append(f"| {key} | {a['median']:.1f} | {b['median']:.1f} | {ratio:.3f}x |")
    finally:
        blas._GEMM = found
        kernels.set_backend(backend)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed blocks per alternative")
    parser.add_argument("--block-seconds", type=float, default=0.05, help="length of a block")
    parser.add_argument(
        "--iteration-seconds", type=float, default=1.0, help="length of a block of iterations"
    )
    args = parser.parse_args(argv)
    print(f"machine kind: {machine_kind(machine_info())}")
    if not blas.available():
        print("NumPy's BLAS has no GEMM numgan can call: add_product is the NumPy line here")
        return 1
    print("\nThe weight-gradient products of rows 1 and 2, float32, per call:\n")
    print("\n".join(product_rows(args.repeats, args.block_seconds)))
    print("\nSmall products:\n")
    print("\n".join(small_rows(args.repeats, args.block_seconds)))
    print("\nWhole iterations (Numba backend):\n")
    print("\n".join(iteration_rows(args.repeats, args.iteration_seconds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
