"""The run folder keeps what it holds: one writer at a time, no file of someone else's
overwritten, no temporaries left by a kill -9, and a checkpoint and history.csv that describe
the same iteration after any stop, kill or divergence."""

from __future__ import annotations

import io
import random
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from numgan import fileio
from numgan.app import run as run_module
from numgan.app.config import resolve_config
from numgan.gan import DivergenceError, Trainer, checkpoint

TIMEOUT = 180
PROGRESS = re.compile(r"\d+/\d+ \[")


def command(*args) -> list[str]:
    return [sys.executable, "-m", "numgan", *map(str, args)]


def numgan(*args) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=TIMEOUT)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess, message: str) -> str:
    """The whole of stderr is one line holding ``message``; the exit code is not 0."""
    assert result.returncode != 0, result.stdout
    (line,) = result.stderr.splitlines()
    assert result.stderr == line + "\n"
    assert message in line, line
    return line


def messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not PROGRESS.search(line)]


def rows(run: Path) -> int:
    return len((run / "history.csv").read_text().splitlines()) - 1


def state(run: Path) -> dict[str, np.ndarray]:
    return checkpoint.load(run / "checkpoints" / "last.npz")


def iteration(run: Path) -> int:
    return int(state(run)["iteration"])


def assert_same_state(a: dict[str, np.ndarray], b: dict[str, np.ndarray], what: str) -> None:
    assert a.keys() == b.keys(), what
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), f"{what}: {key}"


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def wait_for(condition, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what} in {TIMEOUT} s"
        time.sleep(0.005)


# -- one writer per run folder -------------------------------------------------------------


def test_a_second_trainer_is_refused_and_kill_9_leaves_no_lock(tmp_path, backend):
    run = tmp_path / "r"
    first = subprocess.Popen(
        command("train", "--dataset", "toy1d", "--iterations", 10**7, "--checkpoint-every", 50)
        + ["--sample-every", str(10**7), "--out", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The lock file names its holder once the lock is taken; then the first checkpoint.
        lock = run / ".lock"
        wait_for(
            lambda: lock.is_file() and lock.read_text().strip() == str(first.pid), first, "lock"
        )
        wait_for(lambda: (run / "history.csv").is_file(), first, "checkpoint")
        # What a writer killed mid-write leaves, but here a live writer holds the folder.
        stale = run / "checkpoints" / ".last.npz.0123456789ab.tmp"
        stale.write_bytes(b"a live writer's temporary, for all the second trainer knows")
        in_use = f"{run} is in use by another numgan train (process {first.pid})"
        one_line_error(numgan("train", "--resume", run, "--iterations", 2 * 10**7), in_use)
        one_line_error(numgan("train", "--dataset", "toy1d", "--out", run), "--resume")
        assert stale.is_file()  # a refused trainer removes nothing
        first.kill()
        first.communicate(timeout=TIMEOUT)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL
    # The kernel dropped the lock with the process: the next trainer takes the folder.
    s = iteration(run)
    result = ok(numgan("train", "--resume", run, "--iterations", s + 10))
    assert f"done: iteration {s + 10}" in result.stdout
    assert iteration(run) == s + 10 and rows(run) == s + 10
    assert not stale.exists()


def test_the_lock_is_held_while_training_and_released_after(tmp_path, backend):
    fcntl = pytest.importorskip("fcntl", reason="run-folder locks use flock (POSIX)")
    run = tmp_path / "r"
    config = resolve_config({"dataset": "toy1d", "iterations": 3})
    seen = []

    def step(self, _original=Trainer.step):
        with open(run / ".lock", "rb") as f:  # another open file: flock does not share
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                seen.append("free")
            except BlockingIOError:
                seen.append("held")
        return _original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Trainer, "step", step)
        run_module.train(config, run, out=io.StringIO(), err=io.StringIO())
    assert seen == ["held"] * 3
    with open(run / ".lock", "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again: raises if not


# -- --out never overwrites what numgan did not write -------------------------------------


def test_out_refuses_a_folder_with_files_numgan_did_not_write(tmp_path, backend):
    train = ["train", "--dataset", "toy1d", "--iterations", "5"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.toml").write_text('title = "my own config"\n')
    (mine / "history.csv").write_text("date,value\n2024-01-01,3\n")
    (mine / "notes.txt").write_text("kept\n")
    before = files(mine)
    one_line_error(
        numgan(*train, "--out", mine),
        f"--out {mine}: the folder holds config.toml, history.csv, not written by numgan",
    )
    assert files(mine) == before and sorted(p.name for p in mine.iterdir()) == sorted(before)
    (mine / "config.toml").unlink()
    one_line_error(numgan(*train, "--out", mine), "the folder holds history.csv, not written")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    one_line_error(numgan(*train, "--out", a_file), f"--out {a_file}: a file, not a folder")

    # An empty folder, or one with files numgan never writes, takes a run.
    (tmp_path / "empty").mkdir()
    ok(numgan(*train, "--out", tmp_path / "empty"))
    (mine / "history.csv").unlink()
    ok(numgan(*train, "--out", mine))
    assert (mine / "notes.txt").read_text() == "kept\n" and iteration(mine) == 5


def test_a_run_that_never_saved_can_start_again_in_its_folder(tmp_path, backend):
    run = tmp_path / "r"
    result = numgan("train", "--dataset", "toy1d", "--lr", "1e3", "--out", run)
    one_line_error(result, "no checkpoint was written")
    assert (run / "config.toml").is_file() and not (run / "history.csv").exists()
    ok(numgan("train", "--dataset", "toy1d", "--iterations", "5", "--out", run))
    assert iteration(run) == 5 and rows(run) == 5


# -- a kill -9 mid-write --------------------------------------------------------------------


def test_stale_temporaries_of_the_run_are_removed_and_nothing_else(tmp_path, backend):
    run = tmp_path / "r"
    ok(numgan("train", "--dataset", "toy1d", "--iterations", "10", "--out", run))
    full = (run / "checkpoints" / "last.npz").read_bytes()
    stale = {
        run / "checkpoints" / ".last.npz.0123456789ab.tmp": full,  # killed at the rename
        run / ".history.csv.abcdef012345.tmp": b"iteration,d_loss\n1,",
        run / ".config.toml.00000000000a.tmp": b"",
        run / ".snapshots1d.npz.fedcba987654.tmp": b"PK",
        run / "samples" / ".iter_0000010.png.0a0b0c0d0e0f.tmp": b"\x89PNG",
    }
    others = {
        run / "checkpoints" / ".last.npz.notes.tmp": b"not atomic_write's name",
        run / ".metrics.json.0123456789ab.tmp": b"evaluate's, which may be running",
        run / "keep.tmp": b"the user's",
        run / "other" / ".last.npz.0123456789ab.tmp": b"not in the run's folders",
        tmp_path / ".history.csv.0123456789ab.tmp": b"outside the run",
    }
    for path, data in {**stale, **others}.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    ok(numgan("train", "--resume", run, "--iterations", "20"))
    assert [p for p in stale if p.exists()] == []
    assert {p: p.read_bytes() for p in others} == others
    assert iteration(run) == 20 and rows(run) == 20


def test_remove_temporaries_knows_atomic_writes_names(tmp_path, backend):
    target = tmp_path / "last.npz"
    assert fileio.TEMPORARY.match(fileio.temporary_path(target).name)["target"] == "last.npz"

    def fail(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        fileio.atomic_write(target, fail)
    assert list(tmp_path.iterdir()) == []  # a write that fails removes its temporary
    left = fileio.temporary_path(target)
    left.write_bytes(b"what a kill -9 leaves")
    (tmp_path / ".other.npz.0123456789ab.tmp").write_bytes(b"")
    assert fileio.remove_temporaries(tmp_path, "last.npz".__eq__) == [left]
    assert [p.name for p in tmp_path.iterdir()] == [".other.npz.0123456789ab.tmp"]


def kill_9_run(args: list[str], run: Path, after_rows: int, pause: float) -> None:
    proc = subprocess.Popen(
        command("train", *args, "--out", run), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        history = run / "history.csv"
        wait_for(lambda: history.is_file() and rows(run) >= after_rows, proc, "rows")
        time.sleep(pause)
        proc.kill()
        proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_kill_9_at_any_moment_then_resume_is_bit_for_bit(tmp_path, backend):
    # A checkpoint every iteration: most of the time goes to writing one.
    args = ["--dataset", "toy1d", "--path", "layers", "--seed", "7", "--iterations", "300"]
    args += ["--checkpoint-every", "1", "--sample-every", "25"]
    rng = random.Random(backend)
    runs = [tmp_path / f"killed{i}" for i in range(3)]
    with ThreadPoolExecutor(len(runs) + 1) as pool:
        once = pool.submit(numgan, "train", *args, "--out", tmp_path / "once")
        kills = [
            pool.submit(kill_9_run, args, run, rng.randrange(5, 150), rng.uniform(0, 0.005))
            for run in runs
        ]
        ok(once.result())
        for future in kills:
            future.result()
        for run in runs:
            # Whole files only; history.csv, written right after the checkpoint, may be one
            # save behind it, and the next run rewrites it from the checkpoint.
            s = iteration(run)
            assert rows(run) in (s - 1, s), run.name
        resumed = [pool.submit(numgan, "train", "--resume", run) for run in runs]
        for future in resumed:
            ok(future.result())
    reference = state(tmp_path / "once")
    for run in runs:
        assert_same_state(state(run), reference, run.name)
        assert (run / "history.csv").read_bytes() == (
            tmp_path / "once" / "history.csv"
        ).read_bytes()
        assert not list(run.rglob("*.tmp")), run.name


# -- divergence -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [["--optimizer", "adam", "--lr", "1e6"], ["--optimizer", "sgd", "--lr", "1e3"]],
    ids=["adam-1e6", "sgd-1e3"],
)
def test_a_diverging_run_is_one_line_and_writes_no_checkpoint(tmp_path, backend, flags):
    run = tmp_path / "r"
    result = numgan("train", "--dataset", "toy1d", *flags, "--out", run)
    assert result.returncode == 1
    # No NumPy RuntimeWarning, no progress line: the one line says it all.
    line = one_line_error(result, "numgan train: error: training diverged at iteration ")
    assert line.endswith("; no checkpoint was written"), line
    assert not (run / "checkpoints").exists() and not (run / "history.csv").exists()


def test_divergence_keeps_the_last_good_checkpoint_and_its_history(tmp_path, backend, monkeypatch):
    """A resumed run that diverges (a parameter goes NaN in its fifth iteration) keeps the
    checkpoint and history.csv it resumed from, and its one line says which."""
    run = tmp_path / "r"
    ok(numgan("train", "--dataset", "toy1d", "--iterations", "20", "--out", run))
    before, csv = state(run), (run / "history.csv").read_bytes()
    original = Trainer.step

    def step(self):
        if self.iteration == 24:
            self.gan.D.parameters()[0][0][...] = np.nan
        return original(self)

    monkeypatch.setattr(Trainer, "step", step)
    config = resolve_config({"iterations": 1000}, base=run_module.read_run_config(run))
    with pytest.raises(DivergenceError) as error:
        run_module.train(config, run, resume=True, out=io.StringIO(), err=io.StringIO())
    line = str(error.value)
    assert "training diverged at iteration 25" in line and "\n" not in line
    assert line.endswith(
        f"the last good checkpoint, at iteration 20, is kept in {run} (history.csv matches it)"
    )
    assert_same_state(state(run), before, "the kept checkpoint")
    assert (run / "history.csv").read_bytes() == csv


def test_no_checkpoint_holds_parameters_beyond_the_bound(tmp_path, backend, monkeypatch):
    """Parameters past +-1e6 with the losses still in range: the check before each save."""
    config = resolve_config(
        {"dataset": "toy1d", "iterations": 30, "path": "layers", "checkpoint_every": 5}
    )
    original = Trainer.step

    def step(self):
        entry = original(self)
        if self.iteration == 15:  # after its losses were computed, before its checkpoint
            self.gan.G.parameters()[0][0][...] = 1e7
        return entry

    monkeypatch.setattr(Trainer, "step", step)
    run = tmp_path / "r"
    with pytest.raises(DivergenceError) as error:
        run_module.train(config, run, out=io.StringIO(), err=io.StringIO())
    assert "parameters beyond +-1e+06" in str(error.value)
    assert "the last good checkpoint, at iteration 10, is kept" in str(error.value)
    assert iteration(run) == 10 and rows(run) == 10
    assert all(np.abs(v).max() < 1e6 for k, v in state(run).items() if k.startswith("G/"))
