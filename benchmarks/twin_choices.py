"""The choices in PyTorch's twin (benchmarks/torch_twin.py), each timed against the alternatives.

    python benchmarks/twin_choices.py [--models 1,2,3,4] [--repeats N] [--block-seconds S]
        [--threads N] [--quick]

The speed benchmark compares numgan with the fastest idiomatic eager PyTorch.  Where PyTorch
offers a choice, this script times the twin with each option on the benchmark's rows, in
interleaved blocks in one process (numgan/app/bench.py's timing loop), and prints the
iterations/s and each option's speed relative to the twin's default:

- the optimiser: Adam's per-tensor loop (the CPU default), ``foreach=True`` and
  ``fused=True``; SGD's loop (the CPU default) and ``foreach=True``;
- the D step: one pass of D on the 2m rows [x; G(z)] (where D is rowwise) against two passes.

The twin's defaults (torch_twin.ADAM_IMPL, SGD_IMPL, one pass where exact) should be the
fastest or within the noise of it; docs/benchmarks.md quotes a run.  PyTorch is required.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np
from machine import machine_info
from torch_twin import ADAM_IMPL, SGD_IMPL, TorchGAN, load_torch

from numgan.app.bench import (
    FunctionRunner,
    apply_threads,
    blas_threads,
    build_trainer,
    int_list,
    make_data,
    model_specs,
    per_round,
    time_interleaved,
)
from numgan.app.parser import OneLineParser


def options(spec: Any, rowwise: bool) -> dict[str, dict[str, Any]]:
    """The twin's variants for one row: name -> TorchGAN keyword arguments."""
    default = {"adam": ADAM_IMPL, "sgd": SGD_IMPL, "concat": rowwise}
    names = {"default": {}}
    if spec.optimizer == "adam":
        names.update({f"adam={a}": {"adam": a} for a in ("loop", "foreach", "fused")})
    else:
        names.update({f"sgd={s}": {"sgd": s} for s in ("loop", "foreach")})
    if rowwise:
        names["two D passes"] = {"concat": False}
    return {name: {**default, **change} for name, change in names.items()}


def time_row(spec: Any, args: argparse.Namespace, torch: Any) -> dict[str, Any]:
    m = 8 if args.quick else spec.batch_size
    data = make_data(spec, 2_000, np.random.default_rng([args.seed, 1]))
    gan = build_trainer(spec, batch_size=m, seed=args.seed, data=data).gan
    runners = []
    for name, kwargs in options(spec, gan.D.rowwise).items():
        twin = TorchGAN(spec, gan, data, m, args.seed, torch, **kwargs)
        runners.append(FunctionRunner(name, twin.run))
    results = time_interleaved(
        runners,
        repeats=args.repeats,
        block_seconds=args.block_seconds,
        sleep=args.sleep,
        label=f"row {spec.key}",
    )
    base = results["default"]["samples"]
    for res in results.values():  # per round: this option's block over the default's
        res["vs_default"] = per_round(res["samples"], base)
    return {"key": spec.key, "batch_size": m, "results": results}


def render(rows: list[dict[str, Any]], info: dict[str, Any], command: str) -> str:
    lines = [
        "## PyTorch twin: the options",
        "",
        f"`{command}` on {info.get('kind')}, torch {info.get('torch')}.",
        "Median it/s over the blocks; 'vs default': the option's block over the default's in "
        "the same round, median over the rounds (above 1: faster than the twin's default).",
        "",
        "| row | m | option | it/s | vs default |",
        "|---|---:|---|---:|---:|",
    ]
    for row in rows:
        for name, res in row["results"].items():
            lines.append(
                f"| {row['key']} | {row['batch_size']} | {name} | {res['median']:,.1f} "
                f"| {res['vs_default']:.2f}x |"
            )
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python benchmarks/twin_choices.py",
        description="Time the PyTorch twin's options (optimiser implementation, one or two D "
        "passes) against each other.",
    )
    parser.add_argument("--models", type=int_list, default=(1, 2, 3, 4))
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds (default 9)")
    parser.add_argument("--block-seconds", type=float, default=0.5)
    parser.add_argument("--sleep", type=float, default=0.2, help="pause before each block")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks it runs")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.quick:
        args.repeats, args.block_seconds, args.sleep = 2, 0.02, 0.0
    if args.repeats < 1 or args.block_seconds <= 0:
        print(
            "twin_choices: error: --repeats must be >= 1 and --block-seconds > 0", file=sys.stderr
        )
        return 2
    torch, why = load_torch()
    if torch is None:
        print(f"twin_choices: error: {why}", file=sys.stderr)
        return 1
    threads = args.threads or blas_threads() or os.cpu_count() or 1
    _, limiter = apply_threads(threads)
    torch.set_num_threads(threads)
    began = time.perf_counter()
    try:
        specs = model_specs(args.models)
        rows = [time_row(spec, args, torch) for spec in specs]
    except ValueError as err:
        print(f"twin_choices: error: {err}", file=sys.stderr)
        return 1
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    command = " ".join(["python benchmarks/twin_choices.py", *argv])
    print(render(rows, machine_info(), command), end="")
    print(f"({time.perf_counter() - began:.0f} s, {threads} threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
