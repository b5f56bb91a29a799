"""SIGINT and SIGTERM stop ``numgan train`` between two whole iterations, and --resume then
gives bit for bit the run that was never stopped; Ctrl-C while numgan starts is one line.

The subprocess tests signal real runs at moments chosen by how far each run has got (its
history.csv, rewritten every 3 iterations), so they land anywhere in an iteration: a D step, a
G step, the fused call, a sample or a checkpoint being written.  The in-process tests put the
signal inside a D step, a G step or the fused call on purpose.
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from numgan.app import run as run_module
from numgan.app.config import resolve_config
from numgan.gan import Trainer, checkpoint
from numgan.gan.fused import FusedStep

TIMEOUT = 180
PROGRESS = re.compile(r"\d+/\d+ \[")  # the plain progress lines of a run whose stderr is a pipe


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "numgan", *args]


def numgan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=TIMEOUT)


def messages(stderr: str) -> list[str]:
    """stderr without the progress lines."""
    return [line for line in stderr.splitlines() if not PROGRESS.search(line)]


def rows(run: Path) -> int:
    try:
        return len((run / "history.csv").read_text().splitlines()) - 1
    except FileNotFoundError:
        return 0


def state(run: Path) -> dict[str, np.ndarray]:
    return checkpoint.load(run / "checkpoints" / "last.npz")


def assert_same_state(a: dict[str, np.ndarray], b: dict[str, np.ndarray], what: str) -> None:
    """Every array of two checkpoints equal, bit for bit: parameters, optimiser state,
    history, RNG state, iteration and config."""
    assert a.keys() == b.keys(), what
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), f"{what}: {key}"


def assert_no_temporaries(run: Path) -> None:
    assert not list(run.rglob("*.tmp")), sorted(map(str, run.rglob("*.tmp")))


# -- a signal at a random moment of a real run, then --resume ------------------------------

ITERATIONS = 600
CASES = {
    "layers-sgd": ["--path", "layers", "--optimizer", "sgd"],
    "layers-adam": ["--path", "layers", "--optimizer", "adam", "--lr", "0.002"],
    "fused-sgd": ["--path", "fused", "--optimizer", "sgd"],
}
STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGINT)  # one run each, at its own moment


def interrupted_run(args: list[str], run: Path, after_rows: int, pause: float, signum: int):
    """Start a run, signal it once history.csv has ``after_rows`` rows (plus ``pause`` s)."""
    proc = subprocess.Popen(
        command("train", *args, "--out", str(run)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while rows(run) < after_rows and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(pause)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stderr


@pytest.mark.parametrize("case", CASES)
def test_a_stopped_run_resumes_bit_for_bit(tmp_path, backend, case):
    if case.startswith("fused") and backend != "numba":
        pytest.skip("the fused step needs the numba backend")
    args = [
        "--dataset",
        "toy1d",
        "--seed",
        "5",
        "--iterations",
        str(ITERATIONS),
        "--checkpoint-every",
        "3",
        "--sample-every",
        "40",
        *CASES[case],
    ]
    rng = random.Random(f"{case}-{backend}")
    moments = [(rng.randrange(6, ITERATIONS // 2), rng.uniform(0, 0.01)) for _ in STOPS]
    runs = [tmp_path / f"stopped{i}" for i in range(len(STOPS))]
    with ThreadPoolExecutor(len(STOPS) + 1) as pool:
        once = pool.submit(numgan, "train", *args, "--out", str(tmp_path / "once"))
        stopped = [
            pool.submit(interrupted_run, args, run, after, pause, signum)
            for run, (after, pause), signum in zip(runs, moments, STOPS, strict=True)
        ]
        result = once.result()
        assert result.returncode == 0, result.stderr
        reference = state(tmp_path / "once")
        reference_csv = (tmp_path / "once" / "history.csv").read_text().splitlines()
        for run, (after, _), signum, future in zip(runs, moments, STOPS, stopped, strict=True):
            code, stderr = future.result()
            what = f"{run.name}: {signal.Signals(signum).name} after {after} rows"
            assert code == 128 + signum, f"{what}: exit {code}\n{stderr}"
            assert "Traceback" not in stderr and "Warning" not in stderr, stderr
            (line,) = messages(stderr)
            s = int(state(run)["iteration"])
            assert after <= s < ITERATIONS, what
            word = "interrupted" if signum == signal.SIGINT else "terminated"
            assert line.startswith(f"numgan train: {word} ("), line
            assert f"stopped after iteration {s} and saved it" in line, line
            # history.csv describes the checkpoint: the same s rows as the unstopped run's.
            assert (run / "history.csv").read_text().splitlines() == reference_csv[: s + 1], what
            assert_no_temporaries(run)
        resumed = [pool.submit(numgan, "train", "--resume", str(run)) for run in runs]
        for run, future in zip(runs, resumed, strict=True):
            result = future.result()
            assert result.returncode == 0, result.stderr
            assert_same_state(state(run), reference, run.name)
            assert (run / "history.csv").read_text().splitlines() == reference_csv, run.name


# -- a signal inside a step, in process ----------------------------------------------------


def toy_config(path: str):
    return resolve_config(
        {
            "dataset": "toy1d",
            "iterations": 30,
            "k": 1,  # one D step per iteration: the call counts below are iterations
            "seed": 3,
            "path": path,
            "checkpoint_every": 5,
            "sample_every": 100,
        }
    )


def reference_states(config, at: int) -> tuple[dict, dict]:
    """The checkpoint arrays after ``at`` and after all iterations of a run never stopped."""
    trainer = run_module.build_trainer(config, run_module.load_data(config))
    config_dict = dataclasses.asdict(config)
    states = {}
    for _ in range(config.iterations):
        trainer.step()
        if trainer.iteration in (at, config.iterations):
            states[trainer.iteration] = {
                k: np.array(v, copy=True)
                for k, v in checkpoint.trainer_state(trainer, config_dict).items()
            }
    return states[at], states[config.iterations]


def signal_on_call(monkeypatch, cls, name: str, call: int, signals: list[int]) -> None:
    """Make the ``call``-th call of cls.name send ``signals`` to this process before it runs."""
    original = getattr(cls, name)
    calls = 0

    def wrapped(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == call:
            for signum in signals:
                os.kill(os.getpid(), signum)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, wrapped)


WHERE = {"D step": (Trainer, "d_step"), "G step": (Trainer, "g_step"), "fused": (FusedStep, "run")}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("where", WHERE)
def test_a_signal_inside_a_step_saves_that_whole_iteration(
    tmp_path, backend, monkeypatch, where, signum
):
    if where == "fused" and backend != "numba":
        pytest.skip("the fused step needs the numba backend")
    config = toy_config("fused" if where == "fused" else "layers")
    at_13, at_end = reference_states(config, 13)
    run = tmp_path / "r"
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal_on_call(monkeypatch, *WHERE[where], call=13, signals=[signum])  # inside iteration 13
    with pytest.raises(run_module.Stopped) as stop:
        run_module.train(config, run, out=io.StringIO(), err=io.StringIO())
    assert stop.value.exit_code == 128 + signum
    assert "stopped after iteration 13 and saved it" in str(stop.value)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert_same_state(state(run), at_13, "the checkpoint of the stopped run")
    assert rows(run) == 13
    monkeypatch.undo()
    run_module.train(config, run, resume=True, out=io.StringIO(), err=io.StringIO())
    assert_same_state(state(run), at_end, "the resumed run")


def test_a_second_signal_stops_at_once_keeping_the_last_checkpoint(tmp_path, backend, monkeypatch):
    config = toy_config("layers")
    _, at_end = reference_states(config, 10)
    run = tmp_path / "r"
    signal_on_call(monkeypatch, Trainer, "d_step", call=13, signals=[signal.SIGINT] * 2)
    with pytest.raises(run_module.Stopped) as stop:
        run_module.train(config, run, out=io.StringIO(), err=io.StringIO())
    assert stop.value.exit_code == 130
    assert "again: stopped at once, without saving" in str(stop.value)
    assert "the last good checkpoint, at iteration 10, is kept" in str(stop.value)
    # The checkpoint every 5 iterations: 10 is the last whole one, and the history matches it.
    assert int(state(run)["iteration"]) == 10 and rows(run) == 10
    monkeypatch.undo()
    run_module.train(config, run, resume=True, out=io.StringIO(), err=io.StringIO())
    assert_same_state(state(run), at_end, "the resumed run")


def test_the_handlers_are_only_the_loops(tmp_path, backend):
    """Before and after the loop, SIGINT is Python's own (KeyboardInterrupt), not a flag."""
    assert threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT)
    with run_module.StopSignals() as stop:
        assert signal.getsignal(signal.SIGINT) == stop._handle
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.signum == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the handler runs before this returns


# -- Ctrl-C while numgan starts ------------------------------------------------------------


def loaded(pid: int, library: str) -> bool:
    """Whether the process has mapped a shared library whose path contains ``library``."""
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def entry_point(name: str) -> list[str]:
    if name == "python -m numgan":
        return command()
    script = Path(sys.executable).with_name("numgan")
    if not script.is_file():
        pytest.skip(f"no numgan script beside {sys.executable} (pip install -e . makes one)")
    return [str(script)]


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.1, 0.2, 0.4])
@pytest.mark.parametrize("entry", ["python -m numgan", "numgan"])
def test_ctrl_c_while_starting_is_one_line(tmp_path, backend, entry, delay):
    if not Path("/proc/self/maps").is_file():
        pytest.skip("needs /proc/PID/maps to see when NumPy starts loading")
    run = tmp_path / "r"
    args = ["--iterations", "10000000", "--checkpoint-every", "10000000"]
    proc = subprocess.Popen(
        [*entry_point(entry), "train", "--dataset", "toy1d", *args, "--out", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # NumPy's extension is mapped once numgan's own code runs: before that is Python's
        # start-up, where the default action of SIGINT applies (docs/reliability.md).
        deadline = time.monotonic() + TIMEOUT
        while not loaded(proc.pid, "numpy") and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.001)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    (line,) = stderr.splitlines()
    assert stderr == line + "\n"
    assert line.startswith("numgan train: interrupted"), line
    if delay == 0.0:  # NumPy half-loaded: nothing of the run exists yet
        assert line == "numgan train: interrupted while starting; nothing was written"
        assert not run.exists()
