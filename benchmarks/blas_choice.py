"""Which GEMM numgan's Numba backend should call: oneMKL's or NumPy's OpenBLAS, side by side.

    python benchmarks/blas_choice.py [--rows 1,2-sgd,2-adam,4] [--repeats 9]
        [--block-seconds 0.5] [--sleep 0.2] [--threads 2]

For each row of benchmarks/train_speed.py, four variants are timed in interleaved blocks in one
process (numgan.app.bench.time_interleaved): the row's numgan Trainer with each GEMM
(``numgan.kernels.blas.use``), and the row's matrix products alone (the matmul ceiling,
benchmarks/matmul_ceiling.py) with each.  Both Trainers start from the same seed.  A pause
before every block lets the other library's threads stop spinning: OpenBLAS's and oneMKL's
thread pools are separate, and a pool still spinning on the second core after its last call
slows the other's next block.

It prints, per row, the median milliseconds of each variant and the ratios per round
(OpenBLAS's time over oneMKL's in the same round, median over the rounds: above 1, oneMKL is
faster).  Without oneMKL (``pip install mkl``) it says so and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
import time

from machine import machine_info
from matmul_ceiling import MatmulCeiling

from numgan.app import bench
from numgan.kernels import blas

GEMMS = ("openblas", "mkl")
ROWS = ("1", "2-sgd", "2-adam", "4")


class GemmRunner(bench.Runner):
    """A row's Trainer, or its products alone, with one GEMM chosen before each block."""

    def __init__(self, name: str, gemm: str, run) -> None:
        self.name, self.gemm, self._run = name, gemm, run

    def activate(self) -> None:
        bench.kernels.set_backend("numba")
        blas.use(self.gemm)

    def run(self, n: int) -> None:
        self._run(n)


def runners(spec: bench.ModelSpec) -> list[GemmRunner]:
    """The four variants of one row: Trainer and products, each GEMM."""
    out = []
    for gemm in GEMMS:
        blas.use(gemm)
        with bench.using_backend("numba"):
            trainer = bench.build_trainer(spec)

        def steps(n: int, step=trainer.step) -> None:
            for _ in range(n):
                step()

        out.append(GemmRunner(f"numgan, {gemm}", gemm, steps))
        out.append(GemmRunner(f"products, {gemm}", gemm, MatmulCeiling(spec, spec.batch_size).run))
    return out


def per_round(samples: dict[str, list[float]], kind: str) -> float:
    """Median over the rounds of OpenBLAS's block time over oneMKL's (rates are inverse)."""
    return bench.per_round(samples[f"{kind}, mkl"], samples[f"{kind}, openblas"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default=",".join(ROWS))
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--block-seconds", type=float, default=0.5)
    p.add_argument("--sleep", type=float, default=0.2)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    rows = args.rows.split(",")
    specs = {s.key: s for s in bench.model_specs()}
    unknown = [r for r in rows if r not in specs]
    if unknown:
        p.error(f"no row {', '.join(unknown)}: choose among {', '.join(specs)}")
    if blas._found("mkl")[0] is None:
        print("oneMKL was not found (pip install mkl): there is no choice to time here")
        return 1
    before, started = blas.provider(), time.time()
    limiter = bench.apply_threads(args.threads)[1]
    info = machine_info()
    lines = [
        f"machine kind: {info['kind']}",
        "",
        "| row | numgan, OpenBLAS ms | numgan, oneMKL ms | oneMKL faster, per round "
        "| products, OpenBLAS ms | products, oneMKL ms | oneMKL faster, per round |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    try:
        for row in rows:
            timed = bench.time_interleaved(
                runners(specs[row]),
                repeats=args.repeats,
                block_seconds=args.block_seconds,
                sleep=args.sleep,
                label=f"row {row}",
            )
            samples = {name: t["samples"] for name, t in timed.items()}
            ms = {name: 1e3 / t["median"] for name, t in timed.items()}
            lines.append(
                f"| {row} | {ms['numgan, openblas']:.2f} | {ms['numgan, mkl']:.2f} "
                f"| {per_round(samples, 'numgan'):.3f}x | {ms['products, openblas']:.2f} "
                f"| {ms['products, mkl']:.2f} | {per_round(samples, 'products'):.3f}x |"
            )
    finally:
        blas.use(before)
        if limiter is not None:
            limiter.restore_original_limits()
    lines += [
        "",
        f"{args.repeats} rounds of ~{args.block_seconds} s blocks, {args.threads} threads, "
        f"{time.time() - started:.0f} s; numgan {info['numgan']}, numpy {info['numpy']}, "
        f"mkl {_version('mkl')}",
    ]
    print("\n".join(lines))
    return 0


def _version(name: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
