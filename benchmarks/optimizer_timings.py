"""The optimiser updates over a large flat vector: numgan's kernels, the alternatives, PyTorch.

    python benchmarks/optimizer_timings.py [--sizes 2000000,2750000] [--repeats N] [--threads N]
    python benchmarks/optimizer_timings.py --in-iteration 2-adam [--repeats N]

Microseconds per update (median of interleaved blocks), float32, for the parameter counts of
the speed benchmark's rows (row 2's G and D: 2.0M; row 1's: 2.75M):

- numgan's Adam kernel (numgan/kernels/optim.py: one loop over the flat vectors, the bias
  corrections folded into two scalars, and the three loops on the last n % TAIL), the three
  loops alone (the kernel before, the same numbers), one loop with 1 - beta in float32
  (float32 moments: other numbers), and the NumPy twin;
- SGD with momentum, numgan's kernel;
- numgan's Adam and SGD split over Numba's ``--threads`` threads (``adam_split``,
  ``sgd_momentum_split``: the serial kernels' numbers), in a process of their own, with the
  threading layer Numba chose named;
- PyTorch: ``Adam(fused=True)``, ``Adam(foreach=True)`` and ``SGD(foreach=True)``, with 1 and
  with ``--threads`` threads.

``--in-iteration ROW`` asks the question that matters for training: does the split make the
whole iteration faster?  It times ``Trainer.step()`` of that row with the serial kernels only
and with every long update split (under whatever threading layer Numba picks, whatever
numgan's own gate would say: numgan/kernels/threads.py), each in its own process (Numba's
worker threads would otherwise stay in the process and disturb the other variant), the
processes alternating: the "serial" and "updates" variants of benchmarks/thread_splits.py,
which adds the elementwise passes.  On a 2-core
machine the worker threads and the BLAS's, which keep spinning after each product, compete for
the cores; which threading layer Numba uses decides who wins (docs/kernels.md, "Threads").  Set
``NUMBA_THREADING_LAYER`` and ``NUMGAN_BLAS`` to try each pair.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

import numba
import numpy as np
from machine import machine_info
from thread_splits import time_variant

from numgan.app.bench import time_calls
from numgan.kernels import optim
from numgan.kernels.flags import jit


@jit
def adam_float32(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2):
    """numgan's one loop with 1 - beta in the arrays' precision, as the NumPy twin computes
    it: the moments in float32 (adam_nb's 1 - beta is float64: float32 - int is float64 in
    Numba), so other numbers than adam_nb's."""
    step = lr / bc1
    root_bc2 = np.sqrt(bc2)
    one = theta.dtype.type(1)
    c1, c2 = one - beta1, one - beta2
    for i in range(theta.size):
        gi = g[i]
        mi = beta1 * m[i] + c1 * gi
        vi = beta2 * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        theta[i] -= step * mi / (np.sqrt(vi) / root_bc2 + eps)


def _cases(n: int, threads: int, which: str) -> dict:
    """name -> a no-argument call, on fresh float32 vectors of n parameters.  ``which``:
    "serial" (numgan's kernels, the alternatives, PyTorch) or "split" (Numba's threads, timed
    in a process of their own: two thread pools, Numba's and PyTorch's, would slow each other
    down in one)."""
    f32 = np.float32
    rng = np.random.default_rng(0)
    p = rng.normal(size=n).astype(f32)
    g, m, v = p.copy(), np.zeros_like(p), np.abs(p)
    s = tuple(f32(x) for x in (2e-4, 0.5, 0.999, 1e-8, 0.5, 0.001))
    lr, mu = f32(1e-3), f32(0.5)
    if which == "split":
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        optim.adam_split(p, g, m, v, *s, False)  # starts Numba's threading layer, to name it
        on = f"{numba.get_num_threads()} threads, {numba.threading_layer()}"
        return {
            f"numgan Adam split ({on})": lambda: optim.adam_split(p, g, m, v, *s, False),
            f"numgan SGD momentum split ({on})": lambda: optim.sgd_momentum_split(
                p, g, m, lr, mu, False
            ),
        }
    cases = {
        # the update alone (zero_g False), as the alternatives: g is read, not zeroed
        "numgan Adam (Numba, one loop)": lambda: optim.adam_nb(p, g, m, v, *s, False),
        "Adam as three loops (Numba, the kernel before; the same numbers)": lambda: (
            optim._adam_three_loops(p, g, m, v, *s, False)
        ),
        "Adam as one loop, float32 moments (Numba)": lambda: adam_float32(p, g, m, v, *s),
        "numgan Adam (NumPy twin)": lambda: optim.adam_np(p, g, m, v, *s, False),
        "numgan SGD momentum (Numba)": lambda: optim.sgd_momentum_nb(p, g, m, lr, mu, False),
    }
    try:
        import torch
    except ImportError:
        return cases
    tp = torch.nn.Parameter(torch.from_numpy(p.copy()))
    tp.grad = torch.from_numpy(g.copy())
    steps = {
        "Adam(fused=True)": torch.optim.Adam([tp], lr=2e-4, betas=(0.5, 0.999), fused=True),
        "Adam(foreach=True)": torch.optim.Adam([tp], lr=2e-4, betas=(0.5, 0.999), foreach=True),
        "SGD(foreach=True)": torch.optim.SGD([tp], lr=1e-3, momentum=0.5, foreach=True),
    }
    for t in sorted({1, threads}):
        for name, opt in steps.items():

            def run(opt=opt, t=t):
                torch.set_num_threads(t)
                opt.step()

            cases[f"PyTorch {name}, {t} thread(s)"] = run
    return cases


def times(sizes, repeats: int, threads: int, which: str) -> dict[str, list[float]]:
    """Median microseconds per call of each case at each size."""
    out: dict[str, list[float]] = {}
    for n in sizes:
        us = time_calls(
            _cases(n, threads, which), repeats=repeats, block_seconds=0.2, label=f"{n:,}"
        )
        for name, t in us.items():
            out.setdefault(name, []).append(t)
    return out


def kernel_table(sizes, repeats: int, threads: int) -> list[str]:
    rows = times(sizes, repeats, threads, "serial")
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--sizes",
            ",".join(map(str, sizes)),
            "--repeats",
            str(repeats),
            "--threads",
            str(threads),
            "--split-only",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows.update(json.loads(child))
    lines = [
        "| update | " + " | ".join(f"{n:,} parameters (us)" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name, cells in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{c:,.0f}" for c in cells) + " |")
    return lines


def in_iteration(row: str, repeats: int, threads: int) -> list[str]:
    results: dict[str, list[float]] = {"serial updates": [], "split updates": []}
    setting = {}
    for _ in range(repeats):
        for name, variant in (("serial updates", "serial"), ("split updates", "updates")):
            layer, gemm, ms = time_variant(row, variant, threads)
            results[name].append(ms)
            setting[name] = f"threading layer {layer}, GEMM {gemm}"
    serial, split = results["serial updates"], results["split updates"]
    lines = [
        f"Row {row}, ms per iteration ({threads} threads), one process per measurement, "
        f"{repeats} alternations; {setting['split updates']}:",
        "",
        "| update | median ms | all |",
        "|---|---:|---|",
    ]
    for name, ms in results.items():
        lines.append(
            f"| {name} | {statistics.median(ms):.2f} | {', '.join(f'{x:.1f}' for x in ms)} |"
        )
    ratio = statistics.median(a / b for a, b in zip(serial, split, strict=True))
    lines += ["", f"Split against serial, median over the alternations: {ratio:.2f}x the speed."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/optimizer_timings.py")
    parser.add_argument("--sizes", default="2000000,2750000")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--in-iteration", metavar="ROW", default=None)
    parser.add_argument("--split-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads < 2:
        parser.error(f"--threads {args.threads}: the split updates need 2 threads or more")
    if args.split_only:  # the child process of kernel_table
        sizes = [int(s) for s in args.sizes.split(",")]
        print(json.dumps(times(sizes, args.repeats, args.threads, "split")))
        return 0
    print(f"On {machine_info().get('kind')}:\n")
    if args.in_iteration:
        lines = in_iteration(args.in_iteration, args.repeats, args.threads)
    else:
        sizes = [int(s) for s in args.sizes.split(",")]
        lines = kernel_table(sizes, args.repeats, args.threads)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
