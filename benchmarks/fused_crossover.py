"""Where the fused step stops beating the layer path: an all-Dense GAN at several product sizes.

    python benchmarks/fused_crossover.py [--widths 8,12,16,...] [--batch-sizes 16,64,256]
        [--repeats 9] [--block-seconds 0.2] [--sleep 0.1] [--threads N]

For each batch size m and width w it builds G w-w-w-w and D w-w-w-1 (Dense layers with
LeakyReLU 0.2 between them, noise U(-1, 1)^w, SGD lr 0.01 momentum 0.5 for both) twice from
the same seed: ``Trainer(fused=True)``, one jitted call per iteration with every product in
jitted loops, and ``Trainer(fused=False)``, the layers, whose products above
``MATMUL_CROSSOVER`` go to BLAS.  The two are timed on the numba backend in interleaved blocks
with a pause before each (OpenBLAS threads spin for ~0.1 s after a product), and the median
block is reported.  The model's largest product is m * w * w multiply-adds, the quantity
``numgan.gan.fused.FUSED_MAX_MACS`` bounds; that limit is lifted while this runs so that the
fused step can be timed past it.  The summary names, per batch size and over all of them, the
largest product at which the fused step still wins before it first loses: the constant is set
from that, and docs/kernels.md records the run.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

import numgan as ng
from numgan.app.bench import (
    NumganRunner,
    apply_threads,
    blas_threads,
    fmt_rate,
    int_list,
    time_interleaved,
    using_backend,
)
from numgan.app.parser import OneLineParser
from numgan.gan import fused

WIDTHS = (8, 12, 16, 24, 32, 48, 64, 96, 128)
BATCH_SIZES = (16, 64, 256)


@contextlib.contextmanager
def fused_limit(macs: int) -> Iterator[None]:
    """Let the fused step take products up to ``macs`` multiply-adds, then restore the limit."""
    before = fused.FUSED_MAX_MACS
    fused.FUSED_MAX_MACS = macs
    try:
        yield
    finally:
        fused.FUSED_MAX_MACS = before


def build(width: int, m: int, path: bool, seed: int = 0) -> ng.Trainer:
    """The all-Dense GAN of width ``width``; ``path`` True for the fused step, False for the
    layers.  The same seed gives both the same initial weights and the same minibatches."""
    G = ng.models.mlp([width, width, width, width])
    D = ng.models.mlp([width, width, width, 1])
    data = np.random.default_rng([seed, 1]).normal(size=(2048, width)).astype(np.float32)
    return ng.Trainer(
        ng.GAN(G, D, ng.UniformNoise(width)),
        data,
        batch_size=m,
        opt_g=ng.SGD(lr=0.01, momentum=0.5),
        opt_d=ng.SGD(lr=0.01, momentum=0.5),
        seed=seed,
        fused=path,
    )


def measure(
    widths: Sequence[int],
    batch_sizes: Sequence[int],
    *,
    repeats: int,
    block_seconds: float,
    sleep: float,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per (m, w): largest product, median it/s of each path, and their ratio."""
    rows = []
    largest = max(m * w * w for m in batch_sizes for w in widths)
    with using_backend("numba"), fused_limit(largest):
        for m in batch_sizes:
            for w in widths:
                runners = [
                    NumganRunner("numba", lambda w=w, m=m: build(w, m, True, seed), "fused"),
                    NumganRunner("numba", lambda w=w, m=m: build(w, m, False, seed), "layers"),
                ]
                if not runners[0].trainer.uses_fused or runners[1].trainer.uses_fused:
                    raise RuntimeError(f"m={m}, w={w}: the two trainers do not take two paths")
                results = time_interleaved(
                    runners,
                    repeats=repeats,
                    block_seconds=block_seconds,
                    sleep=sleep,
                    label=f"m={m} w={w}",
                )
                f, layers = results["fused"]["median"], results["layers"]["median"]
                rows.append(
                    {
                        "batch_size": m,
                        "width": w,
                        "macs": m * w * w,
                        "fused": f,
                        "layers": layers,
                        "ratio": f / layers,
                    }
                )
    return rows


def crossover(rows: Sequence[dict[str, Any]]) -> tuple[int | None, int | None]:
    """(largest product where the fused step still wins, smallest where it loses).

    Sizes are taken in increasing order: the first loss ends the winning range, and the
    last win before it is where the fused step stops winning.
    """
    ordered = sorted(rows, key=lambda r: r["macs"])
    first_loss = next((r["macs"] for r in ordered if r["ratio"] < 1), None)
    before = [r for r in ordered if first_loss is None or r["macs"] < first_loss]
    wins = [r["macs"] for r in before if r["ratio"] >= 1]
    return (wins[-1] if wins else None), first_loss


def summary(rows: Sequence[dict[str, Any]]) -> str:
    """Where the fused step stops winning, in words."""
    win, loss = crossover(rows)
    if loss is None:
        largest = max(r["macs"] for r in rows)
        return f"the fused step wins at every size measured (up to {largest:,} multiply-adds)"
    if win is None:
        return f"the fused step loses from the smallest size measured, {loss:,} multiply-adds"
    return f"the fused step wins up to {win:,} multiply-adds and loses from {loss:,}"


def render(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| m x w x w | multiply-adds (largest product) | fused step (it/s) | layers (it/s) "
        "| fused / layers |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['batch_size']} x {r['width']} x {r['width']} | {r['macs']:,} "
            f"| {fmt_rate(r['fused'])} | {fmt_rate(r['layers'])} | {r['ratio']:.2f} |"
        )
    lines.append("")
    sizes = sorted({r["batch_size"] for r in rows})
    groups = [(f"m = {m}", [r for r in rows if r["batch_size"] == m]) for m in sizes]
    for name, group in [*groups, ("all", rows)] if len(sizes) > 1 else [("all", rows)]:
        lines.append(f"{name}: {summary(group)}")
    lines.append(f"current FUSED_MAX_MACS = {fused.FUSED_MAX_MACS:,} multiply-adds")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python benchmarks/fused_crossover.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--widths", type=int_list, default=WIDTHS, help="layer widths w")
    parser.add_argument("--batch-sizes", type=int_list, default=BATCH_SIZES, help="batch sizes m")
    parser.add_argument("--repeats", type=int, default=9, help="timed blocks per path")
    parser.add_argument("--block-seconds", type=float, default=0.2)
    parser.add_argument("--sleep", type=float, default=0.1, help="pause before each block")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.widths or not args.batch_sizes or min(*args.widths, *args.batch_sizes) < 1:
        parser.error("--widths and --batch-sizes need positive integers")
    if args.repeats < 1 or not args.block_seconds > 0 or args.sleep < 0:
        parser.error("--repeats must be at least 1, --block-seconds positive, --sleep >= 0")
    threads = args.threads or blas_threads() or 1
    info, limiter = apply_threads(threads)
    try:
        rows = measure(
            args.widths,
            args.batch_sizes,
            repeats=args.repeats,
            block_seconds=args.block_seconds,
            sleep=args.sleep,
            seed=args.seed,
        )
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    print(
        f"Median of {args.repeats} interleaved blocks of ~{args.block_seconds} s per path, "
        f"numba backend, {info['requested']} BLAS thread(s)\n"
    )
    print(render(rows), end="", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
