"""What a product costs besides the product: oneMKL's GEMM called from compiled code against
the same call through ctypes.

    python benchmarks/gemm_call_timings.py [--repeats 9] [--block-seconds 0.05]
        [--iteration-seconds 1.0] [--rows 1,2-sgd,2-adam,4]

With oneMKL chosen, numgan's ``blas.matmul`` and ``blas.add_product`` hand their operands to a
jitted kernel (``blas._mkl_gemm``) that checks them and calls ``cblas_sgemm_64`` itself.  The
alternative timed here is the ctypes route (``blas._ctypes_gemm``, OpenBLAS's): the same
compiled checks, then the same GEMM with the same arguments from Python, three
``.ctypes.data`` lookups and the arguments' conversions on the way.  The two give the same
numbers (tests/kernels/test_blas.py).

1. Per call, microseconds, float32: the two routes called directly (``blas.matmul`` puts its
   Python checks before either) on a 4 x 4 x 4 product, where the call is nearly all there
   is, and on each distinct product shape of row 2's layer path.
2. Whole iterations: ``Trainer.step()`` of the rows (Numba backend) with each route, blocks
   interleaved in one process (iterations per second; the ratio is the median over rounds).

Needs oneMKL (``pip install mkl``); exits with 1 and says so where it is not found.
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

ROWS = ("1", "2-sgd", "2-adam", "4")


ROUTES = {"compiled": blas._mkl_gemm, "ctypes": blas._ctypes_gemm}


def product_shapes(key: str = "2-sgd") -> list[tuple[int, int, int]]:
    """(M, K, N) of each distinct product C (M, N) = A (M, K) @ B (K, N) of a row's path."""
    spec = next(s for s in model_specs((int(key[0]),)) if s.key == key)
    trainer = build_trainer(spec, data_size=256)
    shapes: list[tuple[int, int, int]] = []
    for _, _, _, M, K, N in path_products(trainer, spec, spec.batch_size):
        if (M, K, N) not in shapes:
            shapes.append((M, K, N))
    return shapes


def call_rows(repeats: int, seconds: float) -> list[str]:
    lines = [
        "| C (M x N) = A (M x K) @ B | compiled call (us) | through ctypes (us) "
        "| ctypes / compiled |",
        "|---|---:|---:|---:|",
    ]
    rng = np.random.default_rng(0)
    for M, K, N in [(4, 4, 4), *product_shapes()]:
        A = rng.normal(size=(M, K)).astype(np.float32)
        B = rng.normal(size=(K, N)).astype(np.float32)
        C = np.empty((M, N), np.float32)

        def call(route, A=A, B=B, C=C):
            return lambda: route(A, B, C, 1.0, 0.0, blas._INT_MAX)

        us = time_calls(
            {name: call(route) for name, route in ROUTES.items()},
            repeats=repeats,
            block_seconds=seconds,
            label=f"{M} x {K} x {N}",
        )
        lines.append(
            f"| {M} x {N} = {M} x {K} @ {K} x {N} | {us['compiled']:.2f} | {us['ctypes']:.2f} "
            f"| {us['ctypes'] / us['compiled']:.2f}x |"
        )
    return lines


class _Route(NumganRunner):
    """A row's Trainer.step() with one route to oneMKL's GEMM."""

    def __init__(self, route, build, name: str) -> None:
        super().__init__("numba", build, name)
        self.route = route

    def activate(self) -> None:
        super().activate()
        blas._mkl_gemm = self.route


def iteration_rows(keys, repeats: int, seconds: float) -> list[str]:
    lines = [
        "| row | through ctypes (it/s) | compiled call (it/s) | compiled / ctypes, per round |",
        "|---|---:|---:|---:|",
    ]
    specs = {s.key: s for s in model_specs(sorted({int(k[0]) for k in keys}))}
    backend = kernels.get_backend()
    try:
        for key in keys:
            spec = specs[key]

            def build(spec=spec):
                return build_trainer(spec)

            runners = [_Route(ROUTES[name], build, name) for name in ("ctypes", "compiled")]
            rates = time_interleaved(
                runners, repeats=repeats, block_seconds=seconds, sleep=0.0, label=key
            )
            a, b = rates["ctypes"], rates["compiled"]
            ratio = per_round(b["samples"], a["samples"])
            lines.append(f"| {key} | {a['median']:.1f} | {b['median']:.1f} | {ratio:.3f}x |")
    finally:
        blas._mkl_gemm = ROUTES["compiled"]
        kernels.set_backend(backend)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed blocks per route")
    parser.add_argument("--block-seconds", type=float, default=0.05, help="length of a block")
    parser.add_argument(
        "--iteration-seconds", type=float, default=1.0, help="length of a block of iterations"
    )
    parser.add_argument(
        "--rows", type=lambda s: s.split(","), default=list(ROWS), help="rows to iterate"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.rows) - set(ROWS))
    if unknown:
        parser.error(f"--rows: unknown {unknown}; choose from {', '.join(ROWS)}")
    print(f"machine kind: {machine_kind(machine_info())}")
    if blas._found("mkl")[0] is None:
        print("oneMKL is not installed here (pip install mkl): nothing to time")
        return 1
    before = blas.provider()
    blas.use("mkl")
    try:
        print("\nOne product, float32, per call:\n")
        print("\n".join(call_rows(args.repeats, args.block_seconds)))
        print("\nWhole iterations (Numba backend):\n")
        print("\n".join(iteration_rows(args.rows, args.repeats, args.iteration_seconds)))
    finally:
        blas.use(before)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
