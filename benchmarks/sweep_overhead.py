"""What ``numgan sweep`` costs: a ring8 sweep on Dask with 1 and 2 workers, against running the
same runs one after another with ``numgan train`` in a shell loop, and in one Python process.

    python benchmarks/sweep_overhead.py [--runs N] [--iterations I] [--batch-size B]
        [--evaluate-samples E] [--repeats R]

The runs: one configuration of ring8 (``--iterations``, ``--batch-size``) with seeds 0..N-1, each
trained and then evaluated on ``--evaluate-samples`` generated samples, done four ways:

(a) ``numgan sweep FILE --out DIR --workers 1``: a Dask LocalCluster of one process worker;
(b) ``numgan sweep FILE --out DIR --workers 2``: two process workers;
(c) a shell loop: ``numgan train --dataset ring8 ... --seed S --out DIR/S`` then ``numgan
    evaluate DIR/S --n-samples E``, for one seed after the other, each a fresh Python process
    that pays its imports (what a bash for-loop does);
(d) the same runs in this Python process, calling ``run.train`` and ``results.evaluate_run`` in a
    loop: the floor, with no process start-up and no Dask.

(a) to (c) are subprocesses (``sys.executable -m numgan``), each timed whole with
time.perf_counter, each into a fresh folder.  All four run with one BLAS and one Numba thread,
as the sweep gives each of its workers, so that they differ by process start-up and Dask alone.
Before timing, one run is done untimed as a subprocess (Numba's disk cache, the file cache) and
in this process (its kernels loaded), so that the first repeat pays no compilation.  Each repeat
times a, b, c, d in turn, so that a change in the machine's load hits all of them alike; the
table gives the median over the repeats of each.  Dask's overhead per run is (a - d) / N, the
shell loop's (c - d) / N, the speed-up of 2 workers over 1 is a / b.

Every run of every measurement must end done (the sweeps' results.csv: N rows, status done; the
loops: N metrics.json), else the script stops with the reason and keeps the folders.  The load
average before and after (the machine line) shows how busy the machine was.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conv_timings import machine_line, positive_int
from machine import machine_info
from train_speed import script_prog

from numgan import kernels
from numgan.app.bench import apply_threads, progress
from numgan.app.config import RunError, TrainConfig, resolve_config
from numgan.app.parser import OneLineParser
from numgan.app.sweep import ONE_THREAD

DATASET = "ring8"
WORKERS = (1, 2)
NUMGAN = (sys.executable, "-m", "numgan")


@dataclass(frozen=True)
class Settings:
    """The runs every measurement does: seeds 0..runs-1 of one ring8 configuration."""

    runs: int = 16
    iterations: int = 1000
    batch_size: int = 64
    evaluate_samples: int = 2500

    @property
    def seeds(self) -> range:
        return range(self.runs)

    def train_flags(self) -> list[str]:
        return [
            "--dataset",
            DATASET,
            "--iterations",
            str(self.iterations),
            "--batch-size",
            str(self.batch_size),
        ]

    def config(self, seed: int) -> TrainConfig:
        """The run's config, resolved as ``numgan train`` and ``numgan sweep`` resolve it."""
        return resolve_config(
            {
                "dataset": DATASET,
                "iterations": self.iterations,
                "batch_size": self.batch_size,
                "seed": seed,
            }
        )

    def sweep_file(self) -> str:
        return (
            f"seeds = {list(self.seeds)}\n"
            f"evaluate_samples = {self.evaluate_samples}\n\n"
            "[base]\n"
            f'dataset = "{DATASET}"\n'
            f"iterations = {self.iterations}\n"
            f"batch_size = {self.batch_size}\n"
        )


# -- the four measurements -------------------------------------------------------------------


def one_thread_env() -> dict[str, str]:
    """This process's environment with one BLAS and one Numba thread, as a sweep's worker has."""
    return {**os.environ, **ONE_THREAD}


def run_command(args: list[str], log: Path) -> None:
    """Run ``args`` with its output appended to ``log``; a RuntimeError if it fails."""
    with open(log, "a", encoding="utf-8") as f:
        print("$ " + " ".join(args), file=f, flush=True)
        code = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, env=one_thread_env())
    if code.returncode != 0:
        tail = log.read_text(encoding="utf-8").strip().splitlines()[-5:]
        raise RuntimeError(
            f"{' '.join(args[2:])} exited with status {code.returncode}: " + " / ".join(tail)
        )


def sweep(settings: Settings, folder: Path, workers: int) -> None:
    """(a), (b): ``numgan sweep`` of all the runs on a local cluster of ``workers`` workers."""
    file = folder.parent / "sweep.toml"
    args = [*NUMGAN, "sweep", str(file), "--out", str(folder), "--workers", str(workers)]
    run_command(args, folder.parent / f"{folder.name}.log")


def shell_loop(settings: Settings, folder: Path, seeds: range | None = None) -> None:
    """(c): ``numgan train`` then ``numgan evaluate`` per seed, each a fresh process."""
    log = folder.parent / f"{folder.name}.log"
    folder.mkdir(parents=True, exist_ok=True)
    for seed in settings.seeds if seeds is None else seeds:
        run_dir = str(folder / str(seed))
        train = [*NUMGAN, "train", *settings.train_flags(), "--seed", str(seed), "--out", run_dir]
        run_command(train, log)
        n = str(settings.evaluate_samples)
        run_command([*NUMGAN, "evaluate", run_dir, "--n-samples", n], log)


def in_process_loop(settings: Settings, folder: Path, seeds: range | None = None) -> None:
    """(d): the same runs in this process, with numgan's own train and evaluate functions."""
    from numgan.app.results import evaluate_run
    from numgan.app.run import train

    folder.mkdir(parents=True, exist_ok=True)
    for seed in settings.seeds if seeds is None else seeds:
        run_dir = folder / str(seed)
        silent = io.StringIO()
        train(settings.config(seed), run_dir, out=silent, err=silent)
        evaluate_run(run_dir, settings.evaluate_samples, out=silent)


@dataclass(frozen=True)
class Measurement:
    key: str
    label: str
    command: str  # how a user would type it
    run: Callable[[Settings, Path], None]
    check: Callable[[Settings, Path], None]


def check_sweep(settings: Settings, folder: Path) -> None:
    """A RuntimeError unless results.csv holds every run, each with status done."""
    try:
        with open(folder / "results.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise RuntimeError(f"{folder}: no results.csv ({err})") from None
    done = [r for r in rows if r.get("status") == "done"]
    if len(rows) != settings.runs or len(done) != settings.runs:
        others = "; ".join(
            f"{r.get('name')}: {r.get('status')} {r.get('reason', '')}".strip()
            for r in rows
            if r.get("status") != "done"
        )
        raise RuntimeError(
            f"{folder}: {len(done)} of {settings.runs} runs done ({len(rows)} rows in "
            f"results.csv){': ' + others if others else ''}"
        )


def check_loop(settings: Settings, folder: Path) -> None:
    """A RuntimeError unless every run's folder holds its metrics.json."""
    missing = [s for s in settings.seeds if not (folder / str(s) / "metrics.json").is_file()]
    if missing:
        raise RuntimeError(
            f"{folder}: {len(missing)} of {settings.runs} runs have no metrics.json "
            f"(seeds {', '.join(map(str, missing))})"
        )


def measurements(settings: Settings) -> list[Measurement]:
    flags = " ".join(settings.train_flags())
    n = settings.evaluate_samples
    last = settings.runs - 1
    sweeps = [
        Measurement(
            key,
            f"sweep, {w} worker{'s' if w > 1 else ''}",
            f"numgan sweep sweep.toml --out DIR --workers {w}",
            lambda s, folder, w=w: sweep(s, folder, w),
            check_sweep,
        )
        for key, w in zip("ab", WORKERS, strict=True)
    ]
    return [
        *sweeps,
        Measurement(
            "c",
            "shell loop",
            f"for S in 0..{last}: numgan train {flags} --seed S --out DIR/S; "
            f"numgan evaluate DIR/S --n-samples {n}",
            shell_loop,
            check_loop,
        ),
        Measurement(
            "d",
            "one process",
            f"for S in 0..{last}: run.train(config(S), DIR/S); results.evaluate_run(DIR/S, {n})",
            in_process_loop,
            check_loop,
        ),
    ]


def time_once(m: Measurement, settings: Settings, folder: Path) -> float:
    """Seconds of one measurement into the fresh ``folder``, checked; the folder then goes."""
    started = time.perf_counter()
    m.run(settings, folder)
    seconds = time.perf_counter() - started
    m.check(settings, folder)
    shutil.rmtree(folder)
    return seconds


def warm_up(settings: Settings, work: Path) -> None:
    """One run, untimed, as a subprocess and in this process: the first repeat then compiles
    nothing (Numba's disk cache is filled, this process's kernels are loaded)."""
    progress("warming up: one run as a subprocess, one in this process")
    shell_loop(settings, work / "warm-up-shell", range(1))
    in_process_loop(settings, work / "warm-up-process", range(1))
    shutil.rmtree(work / "warm-up-shell")
    shutil.rmtree(work / "warm-up-process")


def run(
    settings: Settings, repeats: int = 3, command: str = "python benchmarks/sweep_overhead.py"
) -> dict[str, Any]:
    """Time every measurement ``repeats`` times, interleaved; returns the report ``render``
    prints.  A RuntimeError if a run did not finish (a command failed, a run is missing); the
    folders are then kept."""
    began, load_before = time.perf_counter(), os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="sweep_overhead-"))
    (work / "sweep.toml").write_text(settings.sweep_file(), encoding="utf-8")
    todo = measurements(settings)
    seconds: dict[str, list[float]] = {m.key: [] for m in todo}
    _, limiter = apply_threads(1)  # (d) as the others: one BLAS and one Numba thread
    try:
        warm_up(settings, work)
        for r in range(repeats):
            for m in todo:
                t = time_once(m, settings, work / f"{m.key}{r}")
                seconds[m.key].append(t)
                load = os.getloadavg()[0]
                what = f"repeat {r + 1}/{repeats}: ({m.key}) {m.label}"
                progress(f"{what}: {t:.2f} s, load {load:.2f}")
    except BaseException:
        progress(f"stopped: the folders are kept in {work}")
        raise
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    shutil.rmtree(work)
    return summarise(settings, todo, seconds) | {
        "command": command,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "backend": kernels.get_backend(),
        "repeats": repeats,
        "load": (load_before, os.getloadavg()),
        "elapsed_seconds": time.perf_counter() - began,
    }


def summarise(
    settings: Settings, todo: list[Measurement], seconds: dict[str, list[float]]
) -> dict[str, Any]:
    """Medians, each against the in-process floor (d), and the per-run overheads."""
    median = {key: statistics.median(s) for key, s in seconds.items()}
    rows = [
        {
            "key": m.key,
            "label": m.label,
            "command": m.command,
            "seconds": seconds[m.key],
            "median": median[m.key],
            "per_run": median[m.key] / settings.runs,
            "vs_floor": median[m.key] / median["d"],
        }
        for m in todo
    ]
    return {
        "settings": settings,
        "rows": rows,
        "dask_overhead_per_run": (median["a"] - median["d"]) / settings.runs,
        "loop_overhead_per_run": (median["c"] - median["d"]) / settings.runs,
        "speedup_2_over_1": median["a"] / median["b"],
        "loop_over_sweep_1": median["c"] / median["a"],
    }


# -- the report ------------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    s: Settings = report["settings"]
    lines = [
        f"## numgan sweep: {s.runs} {DATASET} runs on Dask, in a shell loop and in one process",
        "",
        f"- machine: {machine_line(report)}; Dask {importlib.metadata.version('distributed')}",
        f"- command: `{report['command']}`",
        f"- runs: {DATASET}, seeds 0..{s.runs - 1}, {s.iterations} iterations, batch size "
        f"{s.batch_size}, each then evaluated on {s.evaluate_samples} samples; backend "
        f"{report['backend']}; one BLAS and one Numba thread everywhere; median wall time over "
        f"{report['repeats']} interleaved repeats, each command timed whole "
        f"({report['elapsed_seconds']:.0f} s in all)",
        "",
        "| measurement | command | median (s) | per run (s) | / one process | repeats (s) |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in report["rows"]:
        each = ", ".join(f"{t:.2f}" for t in r["seconds"])
        lines.append(
            f"| ({r['key']}) {r['label']} | `{r['command']}` | {r['median']:.2f} | "
            f"{r['per_run']:.3f} | {r['vs_floor']:.2f} | {each} |"
        )
    lines += [
        "",
        f"- Dask's overhead per run, (a - d) / {s.runs}: {report['dask_overhead_per_run']:.3f} s",
        f"- the shell loop's overhead per run, (c - d) / {s.runs}: "
        f"{report['loop_overhead_per_run']:.3f} s",
        f"- speed-up of 2 workers over 1, a / b: {report['speedup_2_over_1']:.2f}",
        f"- shell loop over the 1-worker sweep, c / a: {report['loop_over_sweep_1']:.2f}",
    ]
    return "\n".join(lines) + "\n"


# -- command line ----------------------------------------------------------------------------


def build_parser(prog: str) -> argparse.ArgumentParser:
    d = Settings()
    parser = OneLineParser(
        prog=prog,
        description=f"Time a {d.runs}-run {DATASET} sweep with 1 and 2 Dask workers against the "
        "same runs in a shell loop of numgan train and in one Python process.",
    )
    flags = {
        "--runs": (d.runs, "runs (seeds 0..N-1) in each measurement"),
        "--iterations": (d.iterations, "training iterations of each run"),
        "--batch-size": (d.batch_size, "batch size of each run"),
        "--evaluate-samples": (d.evaluate_samples, "generated samples each evaluation uses"),
        "--repeats": (3, "interleaved repeats of each measurement, whose median is reported"),
    }
    for name, (default, text) in flags.items():
        parser.add_argument(name, type=positive_int, default=default, help=f"{text} ({default})")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The Settings of the flags; a ValueError (one line) for values numgan would refuse."""
    settings = Settings(args.runs, args.iterations, args.batch_size, args.evaluate_samples)
    if settings.evaluate_samples < 2:
        raise ValueError(f"--evaluate-samples must be at least 2, got {settings.evaluate_samples}")
    try:
        settings.config(0)
    except RunError as err:
        raise ValueError(str(err)) from None
    return settings


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Print the table; exit status 1 if a run did not finish, 2 for a bad flag."""
    argv = sys.argv[1:] if argv is None else argv
    prog = prog or script_prog()
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        settings = settings_from_args(args)
    except ValueError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    try:
        report = run(settings, args.repeats, command=" ".join([prog, *argv]))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, ValueError, OSError, FloatingPointError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    print(render(report), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
