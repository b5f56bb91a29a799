"""Do numgan's loops split over threads make a training iteration faster, under a given Numba
threading layer beside a given GEMM?

    python benchmarks/thread_splits.py --rows 4,2-adam [--repeats N] [--threads N]
    NUMBA_THREADING_LAYER=tbb NUMGAN_BLAS=openblas python benchmarks/thread_splits.py --rows 4

Times ``Trainer.step()`` of each row in three variants, whatever numgan's own gate would pick
(numgan/kernels/threads.py):

- serial: no loop split;
- updates: the long optimiser updates split (``threads.split_updates``), nothing else;
- all: the updates and the elementwise passes of ``--pass-min`` elements or more split
  (``threads.split_passes``: the activations, BatchNorm's normalising and dx passes, im2col,
  col2im).

Each variant runs in its own process (Numba's worker threads would otherwise stay in the
process and disturb the next variant), the processes alternating, ``--repeats`` rounds; a
process times 5 blocks of 40 iterations after 5 warm-up iterations and reports their median.
The ratios are per round, serial's time over the variant's, then their median.  The threading
layer and GEMM are what the environment gives (``NUMBA_THREADING_LAYER``, ``NUMGAN_BLAS``);
the table names the pair that ran.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from machine import machine_info

from numgan.kernels.threads import PASS_MIN

VARIANTS = ("serial", "updates", "all")

_CHILD = """
import sys, time, statistics
sys.path.insert(0, "benchmarks")
import numba, numpy as np, numgan as ng
from numgan.kernels import blas, threads
from numgan.app.bench import model_specs, build_trainer, make_data, apply_threads
row, variant = sys.argv[1], sys.argv[2]
count, n, blocks, pass_min = (int(a) for a in sys.argv[3:7])
apply_threads(count); ng.set_backend("numba")
many = numba.get_num_threads() > 1
threads.split_updates = lambda k: variant != "serial" and many and k >= threads.UPDATE_MIN
threads.split_passes = lambda k: variant == "all" and many and k >= pass_min
spec = next(s for s in model_specs((int(row[0]),)) if s.key == row)
tr = build_trainer(spec, seed=0, data=make_data(spec, 10000, np.random.default_rng([0, 1])))
for _ in range(5): tr.step()
times = []
for _ in range(blocks):
    time.sleep(0.2); t = time.perf_counter()
    for _ in range(n): tr.step()
    times.append((time.perf_counter() - t) / n * 1e3)
print(numba.threading_layer(), blas.provider(), statistics.median(times))
"""


def time_variant(row: str, variant: str, count: int, pass_min: int = PASS_MIN):
    """(threading layer, GEMM, ms per iteration) of one variant of a row, in a process of its
    own (module docstring)."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, row, variant, str(count), "40", "5", str(pass_min)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    layer, gemm, ms = out.strip().splitlines()[-1].split()
    return layer, gemm, float(ms)


def run_row(row: str, repeats: int, count: int, pass_min: int) -> list[str]:
    ms: dict[str, list[float]] = {v: [] for v in VARIANTS}
    pair = ""
    for r in range(repeats):
        for variant in VARIANTS:
            print(f"thread_splits: row {row} round {r + 1}/{repeats}: {variant}", file=sys.stderr)
            layer, gemm, t = time_variant(row, variant, count, pass_min)
            ms[variant].append(t)
            pair = f"threading layer {layer}, GEMM {gemm}"
    lines = [
        f"Row {row}, ms per iteration, {count} threads, {repeats} rounds, passes split from "
        f"{pass_min:,} elements; {pair}:",
        "",
        "| variant | median ms | against serial (median per round) | all rounds |",
        "|---|---:|---:|---|",
    ]
    for variant in VARIANTS:
        ratio = statistics.median(a / b for a, b in zip(ms["serial"], ms[variant], strict=True))
        lines.append(
            f"| {variant} | {statistics.median(ms[variant]):.2f} | {ratio:.2f}x | "
            + ", ".join(f"{x:.1f}" for x in ms[variant])
            + " |"
        )
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/thread_splits.py")
    parser.add_argument("--rows", default="4,2-adam", help="comma-separated rows (1, 2-sgd ...)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--pass-min",
        type=int,
        default=PASS_MIN,
        help=f"split passes of at least this many elements (default numgan's, {PASS_MIN:,})",
    )
    args = parser.parse_args(argv)
    if args.threads < 2:
        parser.error(f"--threads {args.threads}: a split needs 2 threads or more")
    if args.pass_min < 1:
        parser.error(f"--pass-min {args.pass_min}: at least 1")
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: at least 1")
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    known = {"1", "2-sgd", "2-adam", "4"}
    if not rows or set(rows) - known:
        parser.error(f"--rows {args.rows!r}: choose from {', '.join(sorted(known))}")
    lines = [f"On {machine_info().get('kind')}:", ""]
    for row in rows:
        lines += run_row(row, args.repeats, args.threads, args.pass_min)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
