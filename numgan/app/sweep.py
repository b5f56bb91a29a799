"""numgan sweep: many runs (settings x seeds) from one TOML file, each a Dask task.

    SWEEP_DIR/
      sweep.toml          the sweep file, as last run
      runs/NAME/          one ordinary run folder per run (numgan sample/evaluate/plot read it)
      logs/NAME.log       what numgan train and numgan evaluate printed for it, every attempt
      status/NAME.json    how its last attempt ended: done or failed (and why), its seconds
      results.csv         one row per run; summary.md, sweep.png: per configuration (summary.py)
      dask.log            the cluster's warnings (a worker that died, a task retried)

The sweep file and its runs are read and checked by numgan/app/sweepfile.py; the results
are written by numgan/app/summary.py; docs/sweeps.md says it all for users.

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
import json
import os
import shlex
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..fileio import atomic_write
from .config import RunError, TrainConfig
from .sweepfile import Run, Sweep, one_line, read_sweep, value_key

INSTALL = (
    "numgan sweep runs on Dask, which is not installed: pip install 'numgan[sweep]' "
    "(in a clone: pip install -e '.[sweep]')"
)

# What the workers' environment pins: one BLAS and one Numba thread per worker, so that N
# workers on N cores do not fight for them (Dask's nannies set the BLAS ones themselves).
ONE_THREAD = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
}

CONNECT_TIMEOUT = "10s"  # how long to wait for --scheduler's answer
RETRIES = 2  # Dask retries of a task that raised (a worker that died is retried apart from this)


# -- one run, as a task ----------------------------------------------------------------------


def run_state(run_dir: Path, iterations: int, evaluate_samples: int) -> tuple[str, int]:
    """(state, iteration) of a run folder: "new" (no checkpoint), "resume" (an earlier one),
    "evaluate" (trained, and no metrics.json of this checkpoint and sample count) or "done"."""
    from .run import saved_iteration

    if not (run_dir / "checkpoints" / "last.npz").exists():
        return "new", 0
    saved = saved_iteration(run_dir)
    if saved is None:
        return "resume", 0  # unreadable: the task's resume says why, in one line
    if saved < iterations:
        return "resume", saved
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "evaluate", saved
    # Metrics of an earlier checkpoint (a run continued to more iterations) or of another
    # sample count are not this run's.
    current = isinstance(metrics, dict) and metrics.get("iteration") == saved
    if not current or metrics.get("samples", evaluate_samples) != evaluate_samples:
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


def wait_for_folder(run_dir: Path, log: IO[str]) -> None:
    """Wait while another process holds the run folder's lock: a task of an earlier
    ``numgan sweep`` still running on a cluster, or a task Dask started again while the first
    one lives on a worker it lost touch with.  The run is theirs until they end."""
    from .run import FolderBusy, run_lock

    said = False
    while True:
        try:
            with run_lock(run_dir):
                return
        except FolderBusy as busy:
            if not said:
                print(f"waiting: {busy}", file=log, flush=True)
                said = True
            time.sleep(1.0)


def run_task(task: Task) -> dict[str, Any]:
    """Train (or resume, or only evaluate) one run, and evaluate it; the status it ends in.

    Runs on a Dask worker, or in-process.  What the run's folder holds decides what is left to
    do, so the task can be run again at any point (a retry after its worker died, the same
    sweep started again) and only continues.  A run that cannot train (it diverges, its data
    is missing) is a "failed" status with the one-line reason, not an exception: the sweep
    records it and goes on.  Anything else raises, for Dask to retry.
    """
    import numba

    from ..gan import DivergenceError
    from ..gan.checkpoint import CheckpointError
    from .results import evaluate_run
    from .run import FolderBusy, train

    sweep_dir, run_dir = Path(task.sweep_dir), task.run_dir
    if not (sweep_dir / "sweep.toml").is_file():
        raise RunError(
            f"{sweep_dir} is not visible on this worker ({os.uname().nodename}): put the sweep "
            "folder on a file system every worker shares, at the same path"
        )
    numba.set_num_threads(1)  # one Numba thread per worker, on any cluster (as BLAS's)
    config = TrainConfig(**task.config)
    previous = read_status(sweep_dir, task.name)
    (sweep_dir / "logs").mkdir(parents=True, exist_ok=True)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(sweep_dir / "logs" / f"{task.name}.log", "a", encoding="utf-8") as log:
        while True:
            run_dir.mkdir(exist_ok=True)
            wait_for_folder(run_dir, log)
            state, iteration = run_state(run_dir, config.iterations, task.evaluate_samples)
            what = {
                "new": "starting",
                "resume": f"resuming from iteration {iteration}",
                "done": "done already",
            }.get(state, f"trained to iteration {iteration}; evaluating")
            print(f"== {task.name}: {what} (process {os.getpid()})", file=log, flush=True)
            try:
                if state in ("new", "resume"):
                    train(config, run_dir, resume=state == "resume", out=log, err=log)
                if state != "done":  # done already: by a task that held the folder before
                    evaluate_run(run_dir, task.evaluate_samples, out=log)
                status: dict[str, Any] = {"status": "done"}
            except FolderBusy:
                continue  # taken between the wait and train's own lock: wait again
            except (RunError, DivergenceError, CheckpointError, MemoryError, ValueError) as err:
                # The run's own problem (its settings, its data, a divergence): the same again
                # on any worker, so recorded, not retried.  (RunError is a ValueError.)
                status = {"status": "failed", "reason": one_line(err)}
                print(f"failed: {status['reason']}", file=log)
            break
    # Summed over the attempts that ended (a killed worker's attempt writes no status).
    before = previous.get("seconds") if state != "new" else None
    before = before if isinstance(before, (int, float)) else 0.0
    status["seconds"] = round(before + time.perf_counter() - started, 3)
    write_status(sweep_dir, task.name, status)
    return status


# -- the sweep -------------------------------------------------------------------------------


class _StopSignals:
    """SIGTERM as KeyboardInterrupt in the main thread while the sweep runs (SIGINT is one
    already), so that both close the cluster and write the results before leaving;
    ``signum`` says which one came."""

    def __init__(self) -> None:
        self.signum = signal.SIGINT
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> _StopSignals:
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            # None: a handler installed outside Python, which Python cannot put back.
            previous = signal.SIG_DFL if self._previous is None else self._previous
            signal.signal(signal.SIGTERM, previous)

    def _handle(self, signum: int, frame: object) -> None:
        self.signum = signum
        raise KeyboardInterrupt


@contextlib.contextmanager
def cluster_log(log_path: Path) -> Iterator[None]:
    """Dask's messages in this process (a worker that died and was restarted, a task given to
    another worker) into ``log_path`` instead of the terminal, while the block runs."""
    import logging

    class LogFile(logging.Handler):
        """Appends each record to log_path.  Not a StreamHandler, which Dask's silence_logs
        would silence along with the terminal's."""

        def emit(self, record: logging.LogRecord) -> None:
            try:
                with open(log_path, "a", encoding="utf-8") as f:
                    f.write(self.format(record) + "\n")
            except OSError:
                pass  # a full disk loses a log line, not the sweep

    handler = LogFile()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    saved = []
    for name in ("distributed", "tornado"):
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.propagate, logger.level))
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, handlers, propagate, level in saved:
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)
        handler.close()


def cores() -> int:
    """The cores this process may run on (its affinity; all of them where it cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def start_client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    """(client, cluster): a new LocalCluster of ``workers`` process workers (cluster: it), or
    the cluster of the running ``scheduler`` (cluster: None)."""
    import logging

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RunError(INSTALL) from None
    if scheduler:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT), None
        except (OSError, TimeoutError) as err:
            raise RunError(
                f"--scheduler {scheduler}: no Dask scheduler answered ({one_line(err)}); start "
                "one with 'dask scheduler' and give the address it prints"
            ) from None
        except (ValueError, TypeError) as err:
            raise RunError(f"--scheduler {scheduler}: {one_line(err)}") from None
    # Ctrl-C in a terminal goes to every process of its group, the workers too, which would
    # die with tracebacks.  A signal ignored when a process starts stays ignored in it (Python
    # and asyncio then leave SIGINT alone), so the workers start with SIGINT ignored, and this
    # process takes Ctrl-C again once they run.  (A worker a nanny restarts later starts
    # without it.)
    main = threading.current_thread() is threading.main_thread()
    if main:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cluster = LocalCluster(
            n_workers=workers or cores(),
            threads_per_worker=1,
            processes=True,
            env=ONE_THREAD,
            dashboard_address=":0",
            # The workers' own log lines would go to this terminal: the deaths and restarts
            # that matter are logged in this process, by the nannies, into dask.log.
            silence_logs=logging.CRITICAL,
        )
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    try:
        return Client(cluster), cluster
    except BaseException:  # a Ctrl-C right now, say: close what started
        cluster.close()
        raise


def dashboard(client: Any, *, local: bool) -> str | None:
    """The dashboard's address, where the scheduler serves one."""
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # noqa: BLE001  (an old or odd scheduler: no address then)
        return None
    if "dashboard" not in services:
        return None
    if local:
        try:
            import bokeh  # noqa: F401  (a local dashboard without bokeh is a blank page)
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


def _running(client: Any, keys: set[str]) -> int:
    """How many of ``keys`` workers are running now: those the scheduler has handed to a
    worker, at most one per worker thread (a worker may hold the next ones in its queue); 0
    if the scheduler does not say."""
    try:
        handed = sum(key in keys for tasks in client.processing().values() for key in tasks)
        workers = client.scheduler_info().get("workers", {}).values()
        return min(handed, sum(w.get("nthreads", 1) for w in workers))
    except Exception:  # noqa: BLE001  (only the bar's count depends on it)
        return 0


def plan(sweep: Sweep, sweep_dir: Path) -> dict[str, tuple[str, int]]:
    """Each run's state in SWEEP_DIR, by name."""
    return {
        run.name: run_state(
            sweep_dir / "runs" / run.name, run.config.iterations, sweep.evaluate_samples
        )
        for run in sweep.runs
    }


def _fixed_settings(values: dict[str, Any]) -> tuple:
    """What identifies a run: its settings but those a resume may change."""
    from .run import RESUMABLE

    return tuple(sorted((k, value_key(v)) for k, v in values.items() if k not in RESUMABLE))


def check_run_folders(
    sweep: Sweep, sweep_dir: Path, states: dict[str, tuple[str, int]] | None = None
) -> None:
    """A RunError, before anything starts, if the file was edited under existing runs.

    A run folder trained with other settings than the file now gives its run: only how long a
    run goes and how often it writes may change, as for numgan train --resume.  A run folder
    under another name than its run now has (a setting that now varies renames every run):
    training it again would lose it.
    """
    from .run import changed_setting, is_run_folder, read_run_config

    for run in sweep.runs:
        run_dir = sweep_dir / "runs" / run.name
        if not is_run_folder(run_dir):
            continue
        changed = changed_setting(run.config, read_run_config(run_dir))
        if changed is not None:
            key, old, new = changed
            raise RunError(
                f"{run_dir} was trained with {key} = {old!r}, but {sweep.path} now gives it "
                f"{key} = {new!r}: put the setting back, or give another --out"
            )
        iteration = (states or {}).get(run.name, ("", 0))[1]
        if iteration > run.config.iterations:
            raise RunError(
                f"{run_dir} is trained to iteration {iteration}, past the {run.config.iterations} "
                f"iterations {sweep.path} now gives it: give iterations >= {iteration}, or "
                "another --out"
            )
    runs_dir = sweep_dir / "runs"
    if not runs_dir.is_dir():
        return
    names = {run.name for run in sweep.runs}
    by_settings = {_fixed_settings(dataclasses.asdict(r.config)): r.name for r in sweep.runs}
    for folder in sorted(runs_dir.iterdir()):
        if folder.name in names or not is_run_folder(folder):
            continue
        try:
            name = by_settings.get(_fixed_settings(read_run_config(folder)))
        except RunError:
            continue
        if name is not None:
            new = shlex.quote(str(runs_dir / name))
            raise RunError(
                f"{folder} holds the run now named {name} (the file varies other settings "
                f"now, which renames runs): mv {shlex.quote(str(folder))} {new} to keep it, "
                "or give another --out"
            )


def describe(sweep: Sweep, states: dict[str, tuple[str, int]], out: IO[str]) -> None:
    """--dry-run: each run, what is left of it, and the settings it trains with."""
    from .summary import command

    for run in sweep.runs:
        state, iteration = states[run.name]
        left = {
            "new": "to train",
            "resume": f"to resume from iteration {iteration}",
            "evaluate": "trained; to evaluate",
            "done": "done",
        }[state]
        line = command(run.settings, seed=str(run.seed))
        print(f"{run.name}: {left}: {line} ({run.config.iterations} iterations)", file=out)


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
    check_cluster_options(scheduler, workers)
    folder = Path(sweep_dir) if sweep_dir else Path("sweeps") / Path(sweep.path).stem
    folder = folder.absolute()
    check_sweep_dir(folder, evaluate_only=evaluate_only)
    states = plan(sweep, folder)
    check_run_folders(sweep, folder, states)
    if dry_run:
        describe(sweep, states, out)
        return []
    if not evaluate_only and any(state != "done" for state, _ in states.values()):
        try:
            import distributed  # noqa: F401  (before anything is written)
        except ImportError:
            raise RunError(INSTALL) from None
    folder.mkdir(parents=True, exist_ok=True)
    from .run import run_lock

    with run_lock(folder, holder="numgan sweep"):  # one sweep per folder
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
            except ClusterLost:
                summary.write_results(sweep, folder)
                raise
            except KeyboardInterrupt:
                rows = summary.write_results(sweep, folder)
                done = sum(r["status"] == "done" for r in rows)
                what = "interrupted" if stop.signum == signal.SIGINT else "terminated (SIGTERM)"
                remote = (
                    "; the runs the cluster is running go on to their end (Dask cannot stop a "
                    "running task), and a rerun waits for them"
                    if scheduler
                    else ""
                )
                raise Stopped(
                    f"{what}: {done} of {len(rows)} runs done; the others keep their last "
                    f"checkpoints{remote}: run the same command again to continue ({folder})",
                    128 + stop.signum,
                ) from None
        else:
            print(f"all {len(sweep.runs)} runs are done; nothing to run", file=out)
        rows = summary.write_results(sweep, folder)
    print(f"results: {folder / 'results.csv'}, {folder / 'summary.md'}", file=out)
    return rows


WORKER_BYTES = 300 * 2**20  # about what one worker process holds, with numgan loaded


def check_cluster_options(scheduler: Any, workers: Any) -> None:
    """--scheduler and --workers, checked before anything is written."""
    from .results import available_memory

    if scheduler is not None:
        if workers is not None:
            raise RunError(
                "--workers starts a local cluster; with --scheduler the cluster has its own"
            )
        if not isinstance(scheduler, str) or "://" not in scheduler:
            raise RunError(
                f"--scheduler {scheduler!r}: give the address 'dask scheduler' prints, such as "
                "tcp://host:8786"
            )
    if workers is None:
        return
    if type(workers) is not int or workers < 1:
        raise RunError(f"--workers must be a whole number >= 1, got {workers!r}")
    free = available_memory()
    if free is not None and workers * WORKER_BYTES > free:
        raise RunError(
            f"--workers {workers}: each worker is a process of about "
            f"{WORKER_BYTES // 2**20} MB, and this machine has {free // 2**20:,} MB free: "
            f"give at most {max(1, free // WORKER_BYTES)} (it has {cores()} cores)"
        )


def check_sweep_dir(folder: Path, *, evaluate_only: bool) -> None:
    """The sweep folder is new, empty, or a sweep's (it holds sweep.toml); with
    --evaluate-only it must be a sweep's."""
    from .run import is_run_folder

    if folder.exists() and not folder.is_dir():
        raise RunError(f"--out {folder}: a file, not a folder")
    is_sweep = (folder / "sweep.toml").is_file()
    if evaluate_only and not is_sweep:
        raise RunError(
            f"--evaluate-only: {folder} holds no sweep (no sweep.toml): give the --out of a "
            "sweep that ran"
        )
    if is_sweep or not folder.is_dir() or not any(folder.iterdir()):
        return
    what = "a numgan train run" if is_run_folder(folder) else "files that are not a sweep's"
    raise RunError(f"--out {folder} holds {what}: give a new or empty folder, or a sweep's")


def _task(run: Run, sweep: Sweep, folder: Path) -> Task:
    return Task(run.name, dataclasses.asdict(run.config), str(folder), sweep.evaluate_samples)


class ClusterLost(RunError):
    """The connection to the Dask scheduler broke while the sweep waited for its runs."""


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
    with cluster_log(folder / "dask.log"):
        client, cluster = start_client(scheduler, workers)
        progress = None
        try:
            where = scheduler or f"a local cluster of {len(cluster.workers)} process workers"
            link = dashboard(client, local=cluster is not None)
            print(f"on {where}" + (f"; dashboard {link}" if link else ""), file=out, flush=True)
            if cluster is None and not client.scheduler_info().get("workers"):
                print(
                    f"the scheduler has no workers yet: the runs wait until one joins (dask "
                    f"worker {scheduler} --nthreads 1)",
                    file=out,
                    flush=True,
                )
            progress = Progress(len(todo), err)
            _submit_and_wait(client, sweep, todo, folder, progress)
        finally:
            if progress is not None:
                progress.close()
            client.close()
            if cluster is not None:
                cluster.close()


def _submit_and_wait(client: Any, sweep: Sweep, todo: list[Run], folder: Path, progress) -> None:
    """One task per run, longest first; each run's status as it ends."""
    from concurrent.futures import CancelledError

    from distributed import wait

    token = uuid.uuid4().hex[:8]
    # Longer runs first (iterations x batch), so that the sweep does not end with one long run
    # on one worker while the others idle: submitted first, the first go out at once to idle
    # workers, and the priority orders the rest.
    cost = {run.name: run.config.iterations * run.config.batch_size for run in todo}
    futures = {
        client.submit(
            run_task,
            _task(run, sweep, folder),
            key=f"numgan-{run.name}-{token}",  # pure=False: every submission its own task
            pure=False,
            retries=RETRIES,
            priority=cost[run.name],
        ): run
        for run in sorted(todo, key=lambda r: -cost[r.name])
    }
    pending = set(futures)
    try:
        while pending:
            try:
                finished, pending = wait(pending, timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished this second: refresh the running count
                finished = set()
            for future in finished:
                run = futures[future]
                try:
                    status = future.result()
                except CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001  (Dask gave up: record why, go on)
                    reason = f"{type(error).__name__}: {one_line(error)}"
                    status = {"status": "failed", "reason": reason}
                    status["seconds"] = read_status(folder, run.name).get("seconds", "")
                    write_status(folder, run.name, status)
                progress.finished(run.name, status)
            progress.set_running(_running(client, {f.key for f in pending}))
    except (CancelledError, OSError) as error:
        raise ClusterLost(
            f"lost the Dask cluster ({type(error).__name__}: {one_line(error)}); the runs keep "
            "their last checkpoints: run the same command again to continue"
        ) from None
