"""numgan sweep: many runs (settings x seeds) from one TOML file, each a Dask task.

    SWEEP_DIR/
      sweep.toml          the sweep file, as last run
      runs/NAME/          one ordinary run folder per run (numgan sample/evaluate/plot read it)
      logs/NAME.log       what numgan train and numgan evaluate printed for it, every attempt
      status/NAME.json    how its last attempt ended: done or failed (and why), its seconds
      results.csv         one row per run; summary.md, sweep.png: per configuration (summary.py)
      dask.log            the cluster's warnings (a worker that died, a task retried)

The file (docs/sweeps.md):

    seeds = [0, 1, 2]            each configuration runs once per seed (default [0])
    evaluate_samples = 10000     numgan evaluate --n-samples, after each run
    metric = "modes"             what summary.md ranks by (default: the dataset's main metric)
    [base]                       any numgan train setting, for every run
    [grid]                       setting = [values, ...]: one configuration per combination
    [[runs]]                     explicit configurations (each a table of settings), besides

A run is one task, ``run_task``: it trains with the same function as ``numgan train``
(run.train) into its own folder, then evaluates it.  The task decides from the folder what is
left: a run with a final checkpoint and metrics is done, one with an earlier checkpoint
resumes from it (bit for bit as if never stopped), a run with no checkpoint starts.  So a
task that Dask runs again after its worker died (kill -9, a lost machine) resumes, and the
same command run again skips what is done.  A run that diverges or fails records its one-line
reason; the other runs go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..fileio import atomic_write
from .config import FIELDS, RunError, TrainConfig, flag, resolve_config
from .summary import RANKED

INSTALL = (
    "numgan sweep runs on Dask, which is not installed: pip install 'numgan[sweep]' "
    "(in a clone: pip install -e '.[sweep]')"
)

# The top-level keys of a sweep file; everything else lives in [base], [grid] or [[runs]].
SWEEP_KEYS = ("base", "grid", "runs", "seeds", "evaluate_samples", "metric")

# What the workers' environment pins: one BLAS and one Numba thread per worker, so that N
# workers on N cores do not fight for them (Dask's nannies set the BLAS ones themselves).
ONE_THREAD = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
}

CONNECT_TIMEOUT = "10s"  # how long to wait for --scheduler's answer
RETRIES = 2  # Dask retries of a task that raised (a worker that died is retried apart from this)


@dataclass(frozen=True)
class Run:
    """One run of a sweep: a configuration and a seed.

    name:      the run's folder name: the settings that vary across the sweep, and the seed
    settings:  the sweep file's settings for it ([base] with its configuration over it)
    config:    the resolved TrainConfig (the dataset's defaults under the settings)
    """

    name: str
    settings: dict[str, Any]
    config: TrainConfig

    @property
    def seed(self) -> int:
        return self.config.seed


@dataclass(frozen=True)
class Sweep:
    """A sweep file, read and checked: every run's config is valid before anything starts."""

    path: str
    text: str
    runs: tuple[Run, ...]
    keys: tuple[str, ...]  # every setting the file names, in the order it names them
    varying: tuple[str, ...]  # the settings that differ between configurations
    seeds: tuple[int, ...]
    evaluate_samples: int
    metric: str | None


def _error(path: str, message: str) -> RunError:
    return RunError(f"{path}: {message}")


def _setting_names(path: str, table: Any, where: str) -> dict[str, Any]:
    """A table of numgan train settings; an unknown key (or seed) is an error naming it."""
    if not isinstance(table, dict):
        raise _error(path, f"{where} must be a table of numgan train settings")
    for key in table:
        if key == "seed":
            raise _error(path, f"{where} sets seed: give the seeds as seeds = [0, 1, ...] on top")
        if key not in FIELDS:
            known = ", ".join(k for k in FIELDS if k != "seed")
            raise _error(path, f"{where}: unknown setting {key!r}; known settings: {known}")
    return dict(table)


def _whole_numbers(path: str, name: str, value: Any, least: int) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
    if not ok:
        raise _error(path, f"{name} must be a whole number >= {least}, got {value!r}")


def _value_text(value: Any) -> str:
    """A setting's value in a run's name: strings as they are, numbers as Python writes them."""
    if isinstance(value, str):
        return Path(value).stem if ("/" in value or value.endswith((".npy", ".npz"))) else value
    return repr(value)


_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]")


def run_name(config: TrainConfig, varying: tuple[str, ...]) -> str:
    """The folder name of a run: 'lr=0.001,k=2,seed=0' (the settings that vary, and the seed)."""
    parts = [f"{key}={_value_text(getattr(config, key))}" for key in varying]
    return _UNSAFE.sub("_", ",".join([*parts, f"seed={config.seed}"]))


def read_sweep(path: str | os.PathLike) -> Sweep:
    """Read and check a sweep file: a RunError (one line, naming the file) for anything wrong.

    Every run's config is resolved and checked here, so a bad value fails before any run
    starts, with the setting that made it.
    """
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        spec = tomllib.loads(text)
    except FileNotFoundError:
        raise RunError(f"{path}: no such sweep file") from None
    except IsADirectoryError:
        raise RunError(f"{path}: a folder, not a sweep file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise _error(path, f"not valid TOML ({err})") from None
    unknown = [key for key in spec if key not in SWEEP_KEYS]
    if unknown:
        hint = " (settings go in [base] or [grid])" if any(k in FIELDS for k in unknown) else ""
        raise _error(
            path,
            f"unknown key(s) {', '.join(unknown)}{hint}; a sweep file has {', '.join(SWEEP_KEYS)}",
        )
    base = _setting_names(path, spec.get("base", {}), "[base]")
    grid = _setting_names(path, spec.get("grid", {}), "[grid]")
    if "grid" in spec and not grid:
        raise _error(path, "[grid] is empty: give settings lists of values, or drop [grid]")
    for key, values in grid.items():
        if not isinstance(values, list):
            raise _error(path, f"[grid] {key} must be a list of values, e.g. {key} = [a, b]")
        if not values:
            raise _error(path, f"[grid] {key} = []: give it at least one value")
        if len({json.dumps(v) for v in values}) != len(values):
            raise _error(path, f"[grid] {key} lists a value twice: {values!r}")
    runs = spec.get("runs", [])
    if not isinstance(runs, list):
        raise _error(path, "runs must be written as [[runs]] tables")
    explicit = [_setting_names(path, r, f"[[runs]] number {i + 1}") for i, r in enumerate(runs)]

    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds:
        raise _error(path, f"seeds must be a non-empty list of whole numbers, got {seeds!r}")
    for s in seeds:
        _whole_numbers(path, "every seed", s, 0)
    if len(set(seeds)) != len(seeds):
        raise _error(path, f"seeds lists a seed twice: {seeds!r}")
    n_eval = spec.get("evaluate_samples", 10_000)
    _whole_numbers(path, "evaluate_samples", n_eval, 2)
    metric = spec.get("metric")
    if metric is not None and metric not in RANKED:
        raise _error(path, f"metric = {metric!r}: rank by one of {', '.join(RANKED)}")

    keys = list(dict.fromkeys([*base, *grid, *(k for r in explicit for k in r)]))
    product = itertools.product(*grid.values())
    configurations = [dict(zip(grid, values, strict=True)) for values in product]
    if not grid:
        configurations = [] if explicit else [{}]
    configurations += explicit
    merged = [{**base, **c} for c in configurations]
    varying = tuple(k for k in keys if len({json.dumps(m.get(k)) for m in merged}) > 1)

    built: list[Run] = []
    seen: dict[str, int] = {}
    for i, settings in enumerate(merged):
        for seed in seeds:
            try:
                config = resolve_config({**settings, "seed": seed})
            except RunError as err:
                shown = [f"{k}={_value_text(settings[k])}" for k in varying if k in settings]
                which = ",".join([*shown, f"seed={seed}"])
                raise _error(path, f"run {which}: {err}") from None
            name = run_name(config, varying)
            if name in seen:
                raise _error(
                    path,
                    f"two configurations are the same run {name} (configurations {seen[name] + 1} "
                    f"and {i + 1}): drop one",
                )
            seen[name] = i
            built.append(Run(name, settings, config))
    return Sweep(
        path=path,
        text=text,
        runs=tuple(built),
        keys=tuple(keys),
        varying=varying,
        seeds=tuple(seeds),
        evaluate_samples=n_eval,
        metric=metric,
    )


# -- one run, as a task ----------------------------------------------------------------------


def run_state(run_dir: Path, iterations: int) -> tuple[str, int]:
    """(state, iteration) of a run folder: "new" (no checkpoint), "resume" (an earlier one),
    "evaluate" (trained, no metrics.json yet) or "done"."""
    from .run import saved_iteration

    if not (run_dir / "checkpoints" / "last.npz").exists():
        return "new", 0
    saved = saved_iteration(run_dir)
    if saved is None:
        return "resume", 0  # unreadable: the task's resume says why, in one line
    if saved < iterations:
        return "resume", saved
    if not (run_dir / "metrics.json").is_file():
        return "evaluate", saved
    return "done", saved


@dataclass(frozen=True)
class Task:
    """What a worker needs for one run: plain values, pickled to wherever the worker is."""

    name: str
    config: dict[str, Any]
    sweep_dir: str
    evaluate_samples: int

    @property
    def run_dir(self) -> Path:
        return Path(self.sweep_dir) / "runs" / self.name


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def read_status(sweep_dir: Path, name: str) -> dict[str, Any]:
    """status/NAME.json, or {} if the run never finished an attempt (or it is unreadable)."""
    try:
        status = json.loads((sweep_dir / "status" / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def write_status(sweep_dir: Path, name: str, status: dict[str, Any]) -> None:
    folder = sweep_dir / "status"
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(status, indent=2) + "\n"
    atomic_write(folder / f"{name}.json", lambda f: f.write(text.encode()))


def run_task(task: Task) -> dict[str, Any]:
    """Train (or resume, or only evaluate) one run, and evaluate it; the status it ends in.

    Runs on a Dask worker, or in-process.  What the run's folder holds decides what is left to
    do, so the task can be run again at any point (a retry after its worker died, the same
    sweep started again) and only continues.  A run that cannot train (it diverges, its data
    is missing, a changed setting refuses to resume) is a "failed" status with the one-line
    reason, not an exception: the sweep records it and goes on.  Anything else raises, for
    Dask to retry.
    """
    import numba

    from ..gan import DivergenceError
    from ..gan.checkpoint import CheckpointError
    from .results import evaluate_run
    from .run import train

    numba.set_num_threads(1)  # one Numba thread per worker, on any cluster (as BLAS's)
    sweep_dir, run_dir = Path(task.sweep_dir), task.run_dir
    config = TrainConfig(**task.config)
    state, iteration = run_state(run_dir, config.iterations)
    previous = read_status(sweep_dir, task.name)
    (sweep_dir / "logs").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(sweep_dir / "logs" / f"{task.name}.log", "a", encoding="utf-8") as log:
        what = {"new": "starting", "resume": f"resuming from iteration {iteration}"}.get(
            state, f"trained to iteration {iteration}; evaluating"
        )
        print(f"== {task.name}: {what} (process {os.getpid()})", file=log, flush=True)
        try:
            if state in ("new", "resume"):
                run_dir.parent.mkdir(parents=True, exist_ok=True)
                train(config, run_dir, resume=state == "resume", out=log, err=log)
            metrics = evaluate_run(run_dir, task.evaluate_samples, out=log)
            status: dict[str, Any] = {"status": "done", "iteration": metrics["iteration"]}
        except (RunError, DivergenceError, CheckpointError, MemoryError) as err:
            status = {"status": "failed", "reason": one_line(err)}
            print(f"failed: {status['reason']}", file=log)
    # Summed over the attempts that ended (a killed worker's attempt writes no status).
    before = previous.get("seconds") if state != "new" else None
    before = before if isinstance(before, (int, float)) else 0.0
    status["seconds"] = round(before + time.perf_counter() - started, 3)
    write_status(sweep_dir, task.name, status)
    return status


# -- the sweep -------------------------------------------------------------------------------


@contextlib.contextmanager
def sweep_lock(sweep_dir: Path) -> Iterator[None]:
    """One ``numgan sweep`` per sweep folder at a time (flock on SWEEP_DIR/.lock)."""
    from .run import run_lock

    with run_lock(sweep_dir, holder="numgan sweep"):
        yield


class _StopSignals:
    """SIGTERM as KeyboardInterrupt in the main thread while the sweep runs (SIGINT is one
    already), so that both close the cluster and write the results before leaving;
    ``signum`` says which one came."""

    def __init__(self) -> None:
        self.signum = signal.SIGINT
        self._previous: Any = None

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def _handle(self, signum: int, frame: object) -> None:
        self.signum = signum
        raise KeyboardInterrupt


def start_client(scheduler: str | None, workers: int | None, log_path: Path):
    """A Dask client: on a new LocalCluster of ``workers`` process workers, or ``scheduler``'s.

    The cluster's own messages (a worker that died and was restarted, a task retried) go to
    ``log_path`` instead of the terminal.
    """
    import logging

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RunError(INSTALL) from None
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("distributed", "tornado"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate = False
        for h in list(logger.handlers):
            if h is not handler and isinstance(h, logging.StreamHandler):
                logger.removeHandler(h)
    if scheduler:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT), None
        except (OSError, TimeoutError) as err:
            raise RunError(
                f"--scheduler {scheduler}: no Dask scheduler answered ({one_line(err)}); start "
                "one with 'dask scheduler' and give the address it prints"
            ) from None
        except ValueError as err:
            raise RunError(f"--scheduler {scheduler}: {one_line(err)}") from None
    n = workers or os.cpu_count() or 1
    env = {**ONE_THREAD, "DASK_LOGGING__DISTRIBUTED": "error"}
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        env=env,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def dashboard(client) -> str | None:
    """The dashboard's address, where the scheduler serves one (it needs bokeh)."""
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # noqa: BLE001  (an old or odd scheduler: no address then)
        return None
    if "dashboard" not in services:
        return None
    try:
        import bokeh  # noqa: F401  (the local cluster's dashboard is blank without it)
    except ImportError:
        return None
    return client.dashboard_link


class Progress:
    """Runs done / running / failed: a bar in a terminal, one line per finished run in a log."""

    def __init__(self, total: int, file: IO[str]) -> None:
        from ..gan.progress import _isatty

        self.total, self.file = total, file
        self.done = self.failed = self.running = 0
        self.bar = None
        if _isatty(file):
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=file, unit="run", dynamic_ncols=True)

    def counts(self) -> str:
        return f"done {self.done}, running {self.running}, failed {self.failed}"

    def finished(self, name: str, status: dict[str, Any]) -> None:
        ok = status.get("status") == "done"
        self.done += ok
        self.failed += not ok
        self.running = max(0, self.running - 1)
        what = "done" if ok else f"failed: {status.get('reason', '')}"
        line = f"[{self.done + self.failed}/{self.total}] {name}: {what}"
        if self.bar is None:
            print(line, file=self.file, flush=True)
            return
        self.bar.write(line, file=self.file)
        self.bar.update(1)
        self.bar.set_postfix_str(self.counts())

    def set_running(self, n: int) -> None:
        self.running = n
        if self.bar is not None:
            self.bar.set_postfix_str(self.counts())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _running(client, keys: set[str]) -> int:
    """How many of ``keys`` a worker is running now (0 if the scheduler does not say)."""
    try:
        return sum(key in keys for tasks in client.processing().values() for key in tasks)
    except Exception:  # noqa: BLE001  (only the bar's count depends on it)
        return 0


def plan(sweep: Sweep, sweep_dir: Path) -> dict[str, tuple[str, int]]:
    """Each run's state in SWEEP_DIR, by name."""
    return {
        run.name: run_state(sweep_dir / "runs" / run.name, run.config.iterations)
        for run in sweep.runs
    }


def check_run_folders(sweep: Sweep, sweep_dir: Path) -> None:
    """A RunError, before anything starts, if a run folder was trained with other settings
    than the file now gives its run (the file was edited; only how long a run goes and how
    often it writes may change, as for numgan train --resume)."""
    from .run import RESUMABLE, is_run_folder, read_run_config

    for run in sweep.runs:
        run_dir = sweep_dir / "runs" / run.name
        if not is_run_folder(run_dir):
            continue
        saved = read_run_config(run_dir)
        for key, value in dataclasses.asdict(run.config).items():
            if key in RESUMABLE or saved.get(key, value) == value:
                continue
            raise RunError(
                f"{run_dir} was trained with {key} = {saved[key]!r}, but {sweep.path} now gives "
                f"it {key} = {value!r}: put the setting back, or give another --out"
            )


def describe(sweep: Sweep, states: dict[str, tuple[str, int]], out: IO[str]) -> None:
    """--dry-run: each run, what is left of it, and the settings it trains with."""
    for run in sweep.runs:
        state, iteration = states[run.name]
        left = {
            "new": "to train",
            "resume": f"to resume from iteration {iteration}",
            "evaluate": "trained; to evaluate",
            "done": "done",
        }[state]
        flags = [f"{flag(k)} {v}" for k, v in run.settings.items()]
        print(
            f"{run.name}: {left}: numgan train {' '.join([*flags, f'--seed {run.seed}'])} "
            f"({run.config.iterations} iterations)",
            file=out,
        )


def run_sweep(
    sweep_file: str | os.PathLike,
    sweep_dir: str | os.PathLike | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    dry_run: bool = False,
    evaluate_only: bool = False,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> list[dict[str, Any]]:
    """Run every run of ``sweep_file`` not yet done, then write results.csv, summary.md and
    sweep.png into ``sweep_dir`` (default sweeps/STEM); returns the rows of results.csv.

    ``scheduler``: a Dask scheduler's address (tcp://host:8786); without it, a LocalCluster of
    ``workers`` process workers (default: one per core) lives as long as the call.
    ``dry_run``: print the runs and what is left of each, start nothing.  ``evaluate_only``:
    train nothing; evaluate trained runs that have no metrics yet, in this process, and
    rebuild the results from the run folders.
    """
    from . import summary
    from .run import Stopped

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    sweep = read_sweep(sweep_file)
    if workers is not None and (type(workers) is not int or workers < 1):
        raise RunError(f"--workers must be a whole number >= 1, got {workers}")
    if scheduler is not None and workers is not None:
        raise RunError("--workers starts a local cluster; with --scheduler the cluster has its own")
    folder = Path(sweep_dir) if sweep_dir else Path("sweeps") / Path(sweep.path).stem
    folder = folder.absolute()
    if folder.exists() and not folder.is_dir():
        raise RunError(f"--out {folder}: a file, not a folder")
    states = plan(sweep, folder)
    check_run_folders(sweep, folder)
    if dry_run:
        describe(sweep, states, out)
        return []
    folder.mkdir(parents=True, exist_ok=True)
    with sweep_lock(folder):
        atomic_write(folder / "sweep.toml", lambda f: f.write(sweep.text.encode()))
        todo = [r for r in sweep.runs if states[r.name][0] != "done"]
        if evaluate_only:
            todo = [r for r in todo if states[r.name][0] == "evaluate"]
            for run in todo:
                status = run_task(_task(run, sweep, folder))
                ok = status["status"] == "done"
                what = "evaluated" if ok else f"failed: {status['reason']}"
                print(f"{run.name}: {what}", file=out)
        elif todo:
            stop = _StopSignals()
            try:
                with stop:
                    _run_tasks(sweep, todo, states, folder, scheduler, workers, out, err)
            except KeyboardInterrupt:
                rows = summary.write_results(sweep, folder)
                done = sum(r["status"] == "done" for r in rows)
                what = "interrupted" if stop.signum == signal.SIGINT else "terminated (SIGTERM)"
                raise Stopped(
                    f"{what}: {done} of {len(rows)} runs done; the others keep their last "
                    f"checkpoints: run the same command again to continue ({folder})",
                    128 + stop.signum,
                ) from None
        else:
            print(f"all {len(sweep.runs)} runs are done; nothing to run", file=out)
        rows = summary.write_results(sweep, folder)
    print(f"results: {folder / 'results.csv'}, {folder / 'summary.md'}", file=out)
    return rows


def _task(run: Run, sweep: Sweep, folder: Path) -> Task:
    return Task(run.name, dataclasses.asdict(run.config), str(folder), sweep.evaluate_samples)


def _run_tasks(
    sweep: Sweep,
    todo: list[Run],
    states: dict[str, tuple[str, int]],
    folder: Path,
    scheduler: str | None,
    workers: int | None,
    out: IO[str],
    err: IO[str],
) -> None:
    """Submit ``todo`` to Dask and record each run as it ends."""
    counts = {s: sum(states[r.name][0] == s for r in todo) for s in ("new", "resume", "evaluate")}
    skipped = len(sweep.runs) - len(todo)
    print(
        f"{len(sweep.runs)} runs: {skipped} done, {counts['resume']} to resume, "
        f"{counts['evaluate']} to evaluate, {counts['new']} to train; sweep folder {folder}",
        file=out,
        flush=True,
    )
    client, cluster = start_client(scheduler, workers, folder / "dask.log")
    progress = None
    try:
        from distributed import wait

        where = scheduler or f"a local cluster of {len(cluster.workers)} process workers"
        link = dashboard(client)
        print(f"on {where}" + (f"; dashboard {link}" if link else ""), file=out, flush=True)
        progress = Progress(len(todo), err)
        token = uuid.uuid4().hex[:8]
        # Longer runs first (iterations x batch), so that the sweep does not end with one
        # long run on one worker while the others idle: submitted first, the first go out at
        # once to idle workers, and the priority orders the rest.
        todo = sorted(todo, key=lambda r: -r.config.iterations * r.config.batch_size)
        futures = {
            client.submit(
                run_task,
                _task(run, sweep, folder),
                key=f"numgan-{run.name}-{token}",
                pure=False,
                retries=RETRIES,
                priority=run.config.iterations * run.config.batch_size,
            ): run
            for run in todo
        }
        pending = set(futures)
        while pending:
            try:
                finished, pending = wait(pending, timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished this second: refresh the running count
                finished = set()
            for future in finished:
                run = futures[future]
                try:
                    status = future.result()
                except Exception as error:  # noqa: BLE001  (Dask gave up: record why, go on)
                    reason = f"{type(error).__name__}: {one_line(error)}"
                    status = {"status": "failed", "reason": reason}
                    status["seconds"] = read_status(folder, run.name).get("seconds")
                    write_status(folder, run.name, status)
                progress.finished(run.name, status)
            progress.set_running(_running(client, {f.key for f in pending}))
    finally:
        if progress is not None:
            progress.close()
        client.close()
        if cluster is not None:
            cluster.close()
