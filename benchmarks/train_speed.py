"""Training iterations/s of Algorithm 1: numgan (Numba, NumPy) against PyTorch on the CPU.

    python benchmarks/train_speed.py [--models 1,2,3,4] [--repeats N] [--block-seconds S]
        [--sleep S] [--threads N] [--batch-size M] [--batch-sizes 16,32,...|none]
        [--sweep-repeats N] [--variants numba,numpy,torch,matmul] [--no-torch] [--seed S]
        [--out DIR] [--quick]
    numgan bench --torch ...                      (the same, from a source checkout)

The models, the numgan trainers and the timing loop are numgan's own (numgan/app/bench.py,
which ``numgan bench`` uses to time numgan alone); this script adds the other variants:

- PyTorch on the CPU (benchmarks/torch_twin.py): the same layers, the same initial weights, the
  same algorithm, the same thread count;
- the matmul ceiling (benchmarks/matmul_ceiling.py): the iteration's matrix products alone.

All are timed in blocks interleaved in one process, with a pause before each block (OpenBLAS
threads spin for ~0.1 s after a product and would slow whatever runs next on a small machine);
the result is the median over the blocks.  Before timing a model, the agreement check
(benchmarks/agreement.py) feeds numgan and PyTorch the same minibatches for a few iterations
from the same start and compares the parameters.

Writes ``train_speed.md``, ``train_speed.json`` and ``train_speed_model1.png`` (iterations/s
against batch size for model 1) to ``--out`` (benchmarks/report.py), with the machine
(benchmarks/machine.py); docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from agreement import VERDICTS, agreement_check, zero_gradient_params
from machine import machine_info
from matmul_ceiling import MatmulCeiling
from report import LABELS, VARIANTS, render_markdown, write_outputs
from torch_twin import TorchGAN, load_torch

from numgan import kernels
from numgan.app.bench import (
    BACKENDS,
    FunctionRunner,
    ModelSpec,
    NumganRunner,
    Runner,
    TimingConfig,
    add_timing_flags,
    apply_threads,
    blas_threads,
    build_trainer,
    flops_per_iteration,
    fmt_rate,
    given_flags,
    int_list,
    make_data,
    model_specs,
    per_round,
    progress,
    time_interleaved,
)
from numgan.app.parser import OneLineParser
from numgan.kernels.threads import threading_layer

SWEEP_BATCH_SIZES = (16, 32, 64, 100, 200)


@dataclass
class BenchConfig(TimingConfig):
    """Everything that defines a run; the flags map onto these fields."""

    variants: tuple[str, ...] = VARIANTS
    batch_sizes: tuple[int, ...] = SWEEP_BATCH_SIZES  # model 1's sweep; () for none
    sweep_repeats: int = 5
    out: Path = Path("benchmarks/results")

    QUICK = {**TimingConfig.QUICK, "batch_sizes": (8, 16), "sweep_repeats": 1}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sweep_repeats < 1:
            raise ValueError(f"--sweep-repeats must be at least 1, got {self.sweep_repeats}")
        bad = [m for m in self.batch_sizes if m < 2]
        if bad:
            raise ValueError(f"--batch-sizes must all be at least 2, got {bad}")
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown or not self.variants:
            raise ValueError(f"--variants must name some of {', '.join(VARIANTS)}, got {unknown}")


def time_row(
    spec: ModelSpec,
    m: int,
    status: dict[str, str],
    config: BenchConfig,
    torch: Any | None,
    repeats: int,
    label: str,
) -> dict[str, Any]:
    """Time the runnable variants of one row at batch size m, interleaved; per-variant results."""
    results: dict[str, dict[str, Any]] = {}
    runners: list[Runner] = []
    data = make_data(spec, config.data_size, np.random.default_rng([config.seed, 1]))

    def build() -> Any:
        return build_trainer(spec, batch_size=m, seed=config.seed, data=data)

    for v in config.variants:
        if status.get(v):
            results[v] = {"status": "unavailable", "note": status[v]}
        elif v in BACKENDS:
            runners.append(NumganRunner(v, build))
        elif v == "torch":
            twin = TorchGAN(spec, build().gan, data, m, config.seed, torch)
            runners.append(FunctionRunner(v, twin.run))
        else:
            runners.append(FunctionRunner(v, MatmulCeiling(spec, m, config.seed).run))
    results.update(
        time_interleaved(
            runners,
            repeats=repeats,
            block_seconds=config.block_seconds,
            sleep=config.sleep,
            label=label,
        )
    )
    flops = flops_per_iteration(spec, m)
    ceiling = results.get("matmul", {}).get("median")
    timed = [v for v, res in results.items() if res["status"] == "ok"]
    for v in timed:
        res = results[v]
        res["gflops"] = flops * res["median"] / 1e9
        if ceiling and v != "matmul":
            res["ceiling_fraction"] = res["median"] / ceiling
        res["per_round"] = {
            w: per_round(res["samples"], results[w]["samples"]) for w in timed if w != v
        }
    return {v: results[v] for v in config.variants if v in results}


def _check(spec: ModelSpec, row: dict[str, Any], agreement: dict[str, Any]) -> list[str]:
    """Print the agreement check; returns the notes its failures and warnings leave."""
    notes = []
    for c in agreement["checks"] + agreement["rounding"]:
        progress(
            f"  {c['dtype']} {c['path']}: {c['variant']} vs {c['reference']}: max rel "
            f"diff {c['max_rel']:.2e} ({c['worst']}) {VERDICTS[c['verdict']]}"
        )
    for c in agreement["checks"]:
        if c["verdict"] == "ok":
            continue
        loud = "AGREEMENT CHECK FAILED" if c["verdict"] == "failed" else "WARNING"
        msg = (
            f"{loud}: model {spec.key}, {c['dtype']} {c['path']}: {LABELS[c['variant']]}"
            f" vs {LABELS[c['reference']]} differ by {c['max_rel']:.2e} at {c['worst']}"
            f" (tolerance {c['rtol']:g})"
        )
        if c["verdict"] == "rounding":
            msg += (
                f"; float64 agrees and the sides' own float32 rounding reaches "
                f"{c['rounding_floor']:.2e}, so the gap is float32 rounding"
            )
        elif c["reference"] == "torch":
            row["torch_comparable"] = False
            msg += ": PyTorch is marked not comparable for this model"
        print(f"bench: *** {msg} ***", file=sys.stderr, flush=True)
        notes.append(msg)
    return notes


def run(config: BenchConfig, command: str = "python benchmarks/train_speed.py") -> dict[str, Any]:
    """Run the benchmark described by ``config``; returns the report (a JSON-able dict)."""
    began = time.perf_counter()
    notes: list[str] = []
    status = {v: "" for v in config.variants}
    torch = None
    if "torch" in config.variants:
        torch, status["torch"] = load_torch()
    threads = config.threads or blas_threads() or os.cpu_count() or 1
    thread_info, limiter = apply_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
        thread_info["torch"] = torch.get_num_threads()
    for v in config.variants:
        if status[v]:
            notes.append(f"{LABELS[v]}: unavailable: {status[v]}")
            progress(f"{LABELS[v]} unavailable: {status[v]}")
    numgan_ok = [v for v in BACKENDS if v in config.variants]
    previous = kernels.get_backend()
    rows: list[dict[str, Any]] = []
    sweep: dict[str, Any] | None = None
    try:
        for spec in model_specs(config.models):
            m = config.batch_size or spec.batch_size
            label = f"model {spec.key} ({spec.title}, m={m}, {spec.optimizer})"
            row: dict[str, Any] = {
                "key": spec.key,
                "model": spec.model,
                "title": spec.title,
                "arch": spec.arch(),
                "optimizer": spec.optimizer_label(),
                "batch_size": m,
                "flops_per_iteration": flops_per_iteration(spec, m),
                "torch_comparable": True,
            }
            progress(f"{label}: agreement check")
            agreement = agreement_check(
                spec, variants=numgan_ok, torch=torch, batch_size=m, seed=config.seed
            )
            notes += _check(spec, row, agreement)
            excluded = sorted({n for c in agreement["checks"] for n in c["excluded"]})
            if excluded:
                agreement["note_excluded"] = excluded
            row["agreement"] = agreement
            progress(f"{label}: timing {', '.join(config.variants)}")
            row["results"] = time_row(spec, m, status, config, torch, config.repeats, label)
            summary = "  ".join(
                f"{v} {fmt_rate(r.get('median'))}" for v, r in row["results"].items()
            )
            progress(f"{label}: medians {summary} it/s")
            rows.append(row)
            if spec.model == 1 and config.batch_sizes:
                sweep = {"model": spec.key, "torch_comparable": row["torch_comparable"]}
                sweep["points"] = []
                for size in config.batch_sizes:
                    sweep_label = f"sweep model 1, m={size}"
                    progress(f"{sweep_label}: timing")
                    results = time_row(
                        spec, size, status, config, torch, config.sweep_repeats, sweep_label
                    )
                    sweep["points"].append({"batch_size": size, "results": results})
    finally:
        kernels.set_backend(previous)
        if limiter is not None:
            limiter.restore_original_limits()
    # under which Numba threading layer numgan's long updates ran split (None: none did)
    thread_info["numba_threading_layer"] = threading_layer()
    if any(r["agreement"]["checks"] for r in rows):
        excluded = sorted(
            set().union(*(zero_gradient_params(s) for s in model_specs(config.models)))
        )
        if excluded:
            notes.append(
                "agreement check: the biases of Dense and convolution layers right before a "
                "BatchNorm ("
                + ", ".join(excluded)
                + ") are left out: their gradient is zero in exact arithmetic, so their values "
                "are rounding noise (amplified to steps of ~lr by Adam); the agreement table's "
                "last column gives their largest absolute difference"
            )
    cfg = asdict(config)
    cfg["out"] = str(config.out)
    return {
        "benchmark": "numgan training iterations/s (Algorithm 1, k=1)",
        "command": command,
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "config": cfg,
        "variants": {v: (status[v] or "ok") for v in config.variants},
        "machine": machine_info(),
        "threads": thread_info,
        "rows": rows,
        "sweep": sweep,
        "notes": notes,
        "elapsed_seconds": time.perf_counter() - began,
    }


# -- command line ----------------------------------------------------------------------------


def _name_list(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(VARIANTS)}, got {text!r}")
    return names


def build_parser(prog: str = "python benchmarks/train_speed.py") -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=prog,
        description="Time training iterations/s of Algorithm 1: numgan (Numba and NumPy "
        "backends) against PyTorch on the CPU and the matmul-only ceiling.",
    )
    d = BenchConfig()
    add_timing_flags(parser, d)
    parser.add_argument(
        "--batch-sizes",
        type=int_list,
        default=None,
        help="model 1's batch-size sweep for the plot, or 'none' (default "
        f"{','.join(map(str, d.batch_sizes))})",
    )
    parser.add_argument(
        "--sweep-repeats",
        type=int,
        default=None,
        help=f"timed blocks per point of the sweep (default {d.sweep_repeats})",
    )
    parser.add_argument(
        "--variants",
        type=_name_list,
        default=None,
        help=f"which to time (default {','.join(VARIANTS)})",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"output directory (default {d.out})"
    )
    return parser


FLAGS = (
    "models",
    "repeats",
    "block_seconds",
    "sleep",
    "threads",
    "batch_size",
    "batch_sizes",
    "sweep_repeats",
    "variants",
    "seed",
    "out",
)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """A BenchConfig from parsed flags: the preset (normal or --quick), then given flags."""
    given = given_flags(args, FLAGS)
    config = BenchConfig.quick_preset(**given) if args.quick else BenchConfig(**given)
    if args.no_torch:
        config = replace(config, variants=tuple(v for v in config.variants if v != "torch"))
    return config


def script_prog() -> str:
    """How this script was started, for the report: "python benchmarks/train_speed.py"."""
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(Path.cwd())
    return f"python {script}"


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Parse flags, run, print the Markdown report, write the files.  ``prog`` names the
    command in the report and in errors (default: how this script was started)."""
    if argv is None:
        argv = sys.argv[1:]
    prog = prog or script_prog()
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        config = config_from_args(args)
        report = run(config, command=" ".join([prog, *argv]))
        paths = write_outputs(report, config.out)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError, OSError, FloatingPointError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    print(render_markdown(report), end="")
    progress("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
