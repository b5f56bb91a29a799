"""numgan sweep: a sweep file becomes runs on a Dask LocalCluster of process workers, each an
ordinary run folder; results.csv and summary.md hold every run; the same command again does
nothing new; a worker killed mid-run costs nothing (the run is retried and resumes, ending with
the same parameters as a run never killed); a bad sweep file is one line before anything starts.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from numgan.app import sweep as sweep_module
from numgan.app.cli import main
from numgan.app.config import RunError, resolve_config
from numgan.app.summary import result_rows
from numgan.app.sweep import Task, read_sweep, run_sweep, run_task

# Few iterations of the small ring8 model, but enough (about a second) to kill one mid-run.
SWEEP = """\
seeds = [0, 1]
evaluate_samples = 500

[base]
dataset = "ring8"
iterations = 400
batch_size = 32
checkpoint_every = 40

[grid]
lr = [1e-3, 5e-4]
"""
NAMES = ["lr=0.001,seed=0", "lr=0.001,seed=1", "lr=0.0005,seed=0", "lr=0.0005,seed=1"]
METRICS = ("modes", "high_quality", "reverse_kl")


def write(folder: Path, text: str, name: str = "sweep.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def state_of(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "checkpoints" / "last.npz") as f:
        return {k: f[k] for k in f.files}


def sweep(file: Path, out: Path, **kwargs) -> tuple[list[dict], str]:
    text = io.StringIO()
    rows = run_sweep(file, out, workers=2, out=text, err=text, **kwargs)
    return rows, text.getvalue()


_REFERENCE: dict[str, Path] = {}


@pytest.fixture
def reference(backend, tmp_path_factory) -> Path:
    """The 2 x 2-seed sweep, run once per backend on a local cluster of 2 process workers."""
    if backend not in _REFERENCE:
        folder = tmp_path_factory.mktemp(f"sweep-{backend}")
        file = write(folder, SWEEP)
        rows, printed = sweep(file, folder / "out")
        assert "4 to train" in printed and "2 process workers" in printed
        assert [r["status"] for r in rows] == ["done"] * 4, rows
        _REFERENCE[backend] = folder
    return _REFERENCE[backend]


def test_results_hold_every_run_and_its_metrics(reference):
    out = reference / "out"
    rows = read_csv(out / "results.csv")
    assert [r["name"] for r in rows] == NAMES
    for row in rows:
        assert row["status"] == "done" and row["reason"] == ""
        assert row["iteration"] == "400" and float(row["seconds"]) > 0
        assert row["dataset"] == "ring8" and row["seed"] == row["name"][-1]
        run_dir = out / "runs" / row["name"]
        metrics = json.loads((run_dir / "metrics.json").read_text())
        for name in METRICS:
            assert float(row[name]) == metrics[name]  # every digit
        assert (run_dir / "config.toml").read_text().count("seed = ") == 1
        assert f"seed = {row['seed']}" in (run_dir / "config.toml").read_text()
    # The two seeds of a configuration are different runs; the configurations differ.
    a, b = (state_of(out / "runs" / n) for n in NAMES[:2])
    params = [k for k in a if k.startswith(("G/", "D/"))]
    assert params and not any(np.array_equal(a[k], b[k]) for k in params)
    summary = (out / "summary.md").read_text()
    assert "## ring8" in summary and "| lr=0.001 | 2/2 |" in summary
    assert "`numgan train --dataset ring8 --iterations 400 --batch-size 32" in summary
    assert (out / "sweep.png").stat().st_size > 0


def test_summary_is_mean_and_std_over_seeds_best_first(reference):
    rows = read_csv(reference / "out" / "results.csv")
    lines = (reference / "out" / "summary.md").read_text().splitlines()
    table = [line for line in lines if line.startswith("| lr=")]
    configs = ("lr=0.001", "lr=0.0005")
    for config in configs:
        line = next(t for t in table if t.startswith(f"| {config} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        head = next(line for line in lines if line.startswith("| configuration |"))
        header = [c.strip() for c in head.strip("|").split("|")]
        for column in METRICS:
            values = [float(r[column]) for r in rows if r["name"].startswith(config + ",")]
            mean, std = np.mean(values), np.std(values, ddof=1)
            assert cells[header.index(column)] == f"{mean:.4g} +- {std:.2g}"

    # Best first by mean modes; a tie (modes are whole numbers) goes to more high-quality
    # samples, then to the lower reverse KL.
    def rank(config):
        done = [r for r in rows if r["name"].startswith(config + ",")]
        mean = {c: np.mean([float(r[c]) for r in done]) for c in METRICS}
        return (-mean["modes"], -mean["high_quality"], mean["reverse_kl"])

    order = [t.split("|")[1].strip() for t in table]
    assert order == sorted(configs, key=rank)


def test_running_again_does_nothing_new(reference):
    out = reference / "out"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and "runs" in p.parts}
    logs = {n: (out / "logs" / f"{n}.log").read_text() for n in NAMES}
    rows, printed = sweep(reference / "sweep.toml", out)
    assert "all 4 runs are done; nothing to run" in printed
    assert [r["status"] for r in rows] == ["done"] * 4
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and "runs" in p.parts}
    assert after == before
    assert {n: (out / "logs" / f"{n}.log").read_text() for n in NAMES} == logs


def test_evaluate_only_rebuilds_results_from_the_run_folders(reference, tmp_path):
    out = reference / "out"
    expected = read_csv(out / "results.csv")
    (out / "runs" / NAMES[2] / "metrics.json").unlink()
    (out / "results.csv").unlink()
    (out / "summary.md").unlink()
    rows, printed = sweep(reference / "sweep.toml", out, evaluate_only=True)
    assert f"{NAMES[2]}: evaluated" in printed
    assert (out / "runs" / NAMES[2] / "metrics.json").is_file()
    got = read_csv(out / "results.csv")
    drop = ("seconds",)  # the re-evaluation adds its own seconds to that run's
    assert [{k: v for k, v in r.items() if k not in drop} for r in got] == [
        {k: v for k, v in r.items() if k not in drop} for r in expected
    ]
    assert (out / "summary.md").is_file()


def _held(lock: Path) -> bool:
    """Whether another process holds the flock of ``lock``."""
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _kill_first_worker_mid_run(out: Path, killed: list) -> None:
    """Kill -9 the worker process training the first run that saves a checkpoint."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not killed:
        for name in NAMES:
            run_dir = out / "runs" / name
            try:
                with np.load(run_dir / "checkpoints" / "last.npz") as f:
                    iteration = int(f["iteration"])
                pid = int((run_dir / ".lock").read_text().split()[0])
            except (OSError, ValueError, IndexError, KeyError, EOFError):
                continue
            # Held: the process named in .lock is training this run now (not a worker that
            # finished it and moved on to another run).
            if 0 < iteration < 400 and _held(run_dir / ".lock"):
                os.kill(pid, signal.SIGKILL)
                killed.append((name, iteration, pid))
                return
        time.sleep(0.002)


def test_a_worker_killed_mid_run_is_retried_and_ends_as_if_never_killed(reference, tmp_path):
    file = write(tmp_path, SWEEP)
    out = tmp_path / "out"
    killed: list = []
    killer = threading.Thread(target=_kill_first_worker_mid_run, args=(out, killed))
    killer.start()
    try:
        rows, _ = sweep(file, out)
    finally:
        killer.join()
    assert killed, "no run was caught between two checkpoints"
    name, iteration, pid = killed[0]
    assert [r["status"] for r in rows] == ["done"] * 4, rows
    log = (out / "logs" / f"{name}.log").read_text()
    starts = [line for line in log.splitlines() if line.startswith("== ")]
    assert len(starts) == 2, log
    assert f"(process {pid})" in starts[0]
    assert "resuming from iteration" in starts[1]
    resumed_from = int(starts[1].split("resuming from iteration ")[1].split()[0])
    assert iteration <= resumed_from < 400
    # The nanny saw its worker die and restarted it, and said so into dask.log.
    assert "distributed.nanny WARNING Restarting worker" in (out / "dask.log").read_text()
    for n in NAMES:  # every run, the killed one too, bit for bit the reference sweep's
        got, want = state_of(out / "runs" / n), state_of(reference / "out" / "runs" / n)
        assert got.keys() == want.keys()
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{n}: {key}")


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ('dataset = "missing.npy"', "missing.npy"),
        ('dataset = "ring8"\nbatch_size = 1_000_000_000_000_000', "batch size"),
    ],
)
def test_a_run_that_fails_is_recorded_with_its_reason(backend, tmp_path, settings, reason):
    file = write(tmp_path, f"[base]\n{settings}\niterations = 10\n")
    (run,) = read_sweep(file).runs
    (tmp_path / "out").mkdir()
    shutil.copy(file, tmp_path / "out" / "sweep.toml")
    task = Task(run.name, {**run.config.__dict__}, str(tmp_path / "out"), 100)
    status = run_task(task)
    assert status["status"] == "failed"
    assert reason in status["reason"] and "\n" not in status["reason"]
    (row,) = result_rows(read_sweep(file), tmp_path / "out")
    assert row["status"] == "failed" and row["reason"] == status["reason"]
    assert "failed" in (tmp_path / "out" / "logs" / f"{run.name}.log").read_text()


def test_dry_run_prints_the_runs_and_writes_nothing(backend, tmp_path, capsys):
    file = write(tmp_path, SWEEP)
    assert main(["sweep", str(file), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == NAMES
    assert lines[0] == (
        "lr=0.001,seed=0: to train: numgan train --dataset ring8 --iterations 400 "
        "--batch-size 32 --checkpoint-every 40 --lr 0.001 --seed 0 (400 iterations)"
    )
    assert not (tmp_path / "out").exists()


def test_grid_runs_and_seeds_make_the_runs(backend, tmp_path):
    file = write(
        tmp_path,
        "seeds = [3]\n[base]\ndataset = 'ring8'\n[grid]\nk = [1, 2]\ng_loss = ['minimax', "
        "'non-saturating']\n[[runs]]\nk = 3\noptimizer = 'sgd'\nlr = 0.01\n",
    )
    s = read_sweep(file)
    assert [r.name for r in s.runs] == [
        "k=1,g_loss=minimax,optimizer=adam,lr=0.001,seed=3",
        "k=1,g_loss=non-saturating,optimizer=adam,lr=0.001,seed=3",
        "k=2,g_loss=minimax,optimizer=adam,lr=0.001,seed=3",
        "k=2,g_loss=non-saturating,optimizer=adam,lr=0.001,seed=3",
        "k=3,g_loss=non-saturating,optimizer=sgd,lr=0.01,seed=3",
    ]
    assert {r.seed for r in s.runs} == {3}
    assert s.runs[4].config.optimizer == "sgd" and s.runs[4].config.k == 3
    # ring8's defaults fill what the file leaves out
    assert s.runs[0].config.iterations == 5000 and s.runs[0].config.model == "toy2d"


BAD = {
    "unknown top-level key": ("lr = 0.1\n", "unknown key(s) lr (settings go in [base] or [grid])"),
    "unknown setting": ("[base]\nlearning_rate = 0.1\n", "[base]: unknown setting 'learning_rate'"),
    "seed as a setting": ("[grid]\nseed = [0, 1]\n", "give the seeds as seeds = [0, 1, ...]"),
    "empty grid": ("[grid]\n", "[grid] is empty"),
    "grid value not a list": ("[grid]\nlr = 0.1\n", "[grid] lr must be a list of values"),
    "grid list empty": ("[grid]\nlr = []\n", "[grid] lr = []: give it at least one value"),
    "grid value twice": ("[grid]\nk = [1, 1]\n", "[grid] k lists a value twice"),
    "bad value": ("[grid]\nlr = [0.1, -1.0]\n", "run lr=-1.0,seed=0: --lr must be a positive"),
    "wrong type": ("[base]\nlr = 'fast'\n", "lr = 'fast': --lr takes a number"),
    "bad choice": ("[base]\nmodel = 'big'\n", "--model must be one of"),
    "seeds not a list": ("seeds = 3\n", "seeds must be a non-empty list"),
    "negative seed": ("seeds = [-1]\n", "every seed must be a whole number >= 0"),
    "seed twice": ("seeds = [1, 1]\n", "seeds lists a seed twice"),
    "bad metric": ("metric = 'fid'\n", "metric = 'fid': rank by one of modes"),
    "bad evaluate_samples": ("evaluate_samples = 1\n", "evaluate_samples must be a whole number"),
    "runs not tables": ("runs = [1]\n", "[[runs]] number 1 must be a table"),
    "same run twice": (
        "[grid]\nk = [1, 2]\n[[runs]]\nk = 2\n",
        "the same run twice: k=2,seed=0: drop one of its configurations",
    ),
    "not TOML": ("[base\n", "not valid TOML"),
    "a list as a setting": ("[base]\ndataset = ['ring8']\n", "[base] dataset = ['ring8']: a"),
    "a table in the grid": ("[grid]\nmodel = [{a = 1}]\n", "[grid] model = {'a': 1}: a setting"),
    "a date": ("[base]\nlr = 1979-05-27\n", "lr = datetime.date(1979, 5, 27): a setting"),
    "a metric that is a list": ("metric = [1]\n", "metric = [1]: rank by one of modes"),
    "an empty file": ("", "names no settings: give a [base], [grid] or [[runs]] table"),
    "a dataset nobody knows": ("[base]\ndataset = 'ring9'\n", "dataset = 'ring9': not a"),
    "a metric the data lacks": (
        "metric = 'parzen_log_likelihood'\n[base]\ndataset = 'ring8'\n",
        "ring8 runs have no such metric (they have modes, high_quality, reverse_kl)",
    ),
    "names that collide": (
        "[grid]\ndataset = ['a/x.npy', 'b/x.npy']\n",
        "two different runs get the folder name dataset=x,seed=0",
    ),
    "a name too long": (
        "".join(["[grid]\n"] + [f"{k} = [1, 2]\n" for k in ("k", "sample_every")])
        + "data_dir = ['"
        + "d" * 200
        + "', 'e']\n",
        "its folder name would be longer than 200 bytes",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_sweep_file_is_one_line(backend, case, tmp_path, capsys):
    text, message = BAD[case]
    file = write(tmp_path, text)
    # --dry-run: the same checks, and no run could start if one were missed.
    assert main(["sweep", str(file), "--out", str(tmp_path / "out"), "--dry-run"]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith(f"numgan sweep: error: {file}: ") and message in line, line
    assert not (tmp_path / "out").exists()


def test_bad_command_lines_are_one_line(backend, tmp_path, capsys):
    file = write(tmp_path, SWEEP)
    for argv, message in [
        (["sweep", str(tmp_path / "none.toml")], "none.toml: no such sweep file"),
        (["sweep", str(tmp_path)], "a folder, not a sweep file"),
        (["sweep", str(file), "--workers", "0"], "--workers must be a whole number >= 1"),
        (["sweep", str(file), "--workers", "2", "--scheduler", "tcp://x:1"], "--workers starts"),
        (["sweep", str(file), "--dry-run", "--evaluate-only"], "give one of them"),
        (["sweep", str(file), "--scheduler", ""], "give the address 'dask scheduler' prints"),
        (["sweep", str(file), "--scheduler", "host:8786"], "such as tcp://host:8786"),
        (["sweep", str(file), "--workers", "100000"], "give at most"),
        (["sweep", str(file), "--out", str(tmp_path.parent)], "holds files that are not a"),
        (
            ["sweep", str(file), "--out", str(tmp_path / "typo"), "--evaluate-only"],
            "holds no sweep (no sweep.toml)",
        ),
    ]:
        assert main(argv) == 1
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("numgan sweep: error: ") and message in line, line


def test_a_scheduler_nobody_runs_is_one_line(backend, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT", "1s")
    file = write(tmp_path, SWEEP)
    argv = ["sweep", str(file), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"]
    assert main(argv) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "no Dask scheduler answered" in line and "dask scheduler" in line, line


def test_without_dask_it_says_how_to_install_it(backend, tmp_path, monkeypatch):
    file = write(tmp_path, SWEEP)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    with pytest.raises(RunError, match=r"pip install 'numgan\[sweep\]'"):
        run_sweep(file, tmp_path / "out", workers=1, out=io.StringIO(), err=io.StringIO())
    assert sweep_module.INSTALL.startswith("numgan sweep runs on Dask")


@pytest.mark.parametrize(
    ("signum", "code", "what"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated (SIGTERM)")],
)
def test_a_stopped_sweep_exits_with_one_line_and_keeps_its_runs(
    backend, reference, tmp_path, signum, code, what
):
    file = write(tmp_path, SWEEP)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "numgan", "sweep", str(file), "--out", str(out), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "runs" / NAMES[0] / "checkpoints" / "last.npz").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    last = stderr.splitlines()[-1]
    assert last.startswith(f"numgan sweep: {what}: ") and "run the same command again" in last
    assert "Traceback" not in stderr
    rows = read_csv(out / "results.csv")
    assert [r["name"] for r in rows] == NAMES
    done = sum(r["status"] == "done" for r in rows)
    assert f"{what}: {done} of 4 runs done" in last
    first = rows[0]  # saved a checkpoint before the signal: kept, and said so
    assert first["status"] in ("done", "unfinished") and int(first["iteration"]) >= 40
    assert {r["status"] for r in rows[1:]} <= {"done", "unfinished", "not started"}
    if signum == signal.SIGINT:  # and the same command again finishes it, as if never stopped
        rows, printed = sweep(file, out)
        assert [r["status"] for r in rows] == ["done"] * 4
        assert f"{done} done" in printed
        for n in NAMES:
            got, want = state_of(out / "runs" / n), state_of(reference / "out" / "runs" / n)
            for key in want:
                np.testing.assert_array_equal(got[key], want[key], err_msg=f"{n}: {key}")


def test_the_same_sweep_runs_on_a_cluster_given_by_address(backend, reference, tmp_path):
    """--scheduler: the runs go to an existing cluster's workers, with the same results."""
    from distributed import LocalCluster

    file = write(tmp_path, SWEEP.replace("seeds = [0, 1]", "seeds = [1]"))
    text = io.StringIO()
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        rows = run_sweep(file, tmp_path / "out", scheduler=address, out=text, err=text)
    assert f"on {address}" in text.getvalue()
    assert [r["name"] for r in rows] == [n for n in NAMES if n.endswith("seed=1")]
    assert [r["status"] for r in rows] == ["done", "done"]
    for row in rows:
        got = state_of(tmp_path / "out" / "runs" / row["name"])
        want = state_of(reference / "out" / "runs" / row["name"])
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{row['name']}: {key}")


def test_a_setting_changed_under_finished_runs_is_refused_before_anything_starts(
    reference, tmp_path
):
    out = reference / "out"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    edited = write(tmp_path, SWEEP.replace("batch_size = 32", "batch_size = 16"))
    with pytest.raises(RunError) as caught:
        sweep(edited, out)
    message = str(caught.value)
    assert f"runs/{NAMES[0]} was trained with batch_size = 32" in message
    assert "now gives it batch_size = 16: put the setting back, or give another --out" in message
    fewer = write(tmp_path, SWEEP.replace("iterations = 400", "iterations = 200"), "fewer.toml")
    with pytest.raises(RunError, match=r"is trained to iteration 400, past the 200 iterations"):
        sweep(fewer, out)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_the_sweep_files_in_the_docs_and_examples_are_valid(backend, tmp_path):
    root = Path(__file__).resolve().parents[2]
    blocks = {
        page: re.findall(r"```toml\n(.*?)```", (root / page).read_text(), re.S)
        for page in ("README.md", "docs/sweeps.md")
    }
    # examples/ holds sweep files and numgan train config files (flat tables of settings).
    examples = sorted((root / "examples").glob("*.toml"))
    sweeps = [
        p
        for p in examples
        if re.search(r"^(seeds|\[base\]|\[grid\]|\[\[runs\]\])", p.read_text(), re.M)
    ]
    for path in set(examples) - set(sweeps):
        assert resolve_config({}, config_file=str(path)).dataset in ("ring8", "grid25")
    texts = [p.read_text() for p in sweeps]
    texts += [text for found in blocks.values() for text in found]
    assert len(texts) >= 4 and len(sweeps) >= 4
    for i, text in enumerate(texts):
        assert read_sweep(write(tmp_path, text, f"{i}.toml")).runs
    # The names docs/sweeps.md gives for its first file.
    runs = read_sweep(write(tmp_path, blocks["docs/sweeps.md"][0], "format.toml")).runs
    assert len(runs) == 5 * 3
    assert runs[0].name == "lr=0.001,k=1,optimizer=adam,seed=0"
    assert runs[-1].name == "lr=0.05,k=1,optimizer=sgd,seed=2"


def test_each_dataset_is_ranked_by_its_own_metric_ties_broken_by_the_next(backend, tmp_path):
    """summary.md from made-up rows: ring8 by modes then high_quality, toy1d by mean |D - D*|
    (lower first), a non-finite value shown without a deviation, unfinished runs last."""
    from numgan.app import summary

    file = write(
        tmp_path, "seeds = [0, 1]\n[grid]\ndataset = ['ring8', 'toy1d']\nlr = [0.1, 0.2, 0.3]\n"
    )
    s = read_sweep(file)
    made_up = {  # (dataset, lr): per seed (main metric, second metric)
        ("ring8", 0.1): [(7, 0.5), (7, 0.5)],  # ties 0.2 on modes, loses on high quality
        ("ring8", 0.2): [(7, 0.9), (7, 0.7)],
        ("ring8", 0.3): None,  # not finished
        ("toy1d", 0.1): [(0.3, 1.0), (0.1, 1.0)],
        ("toy1d", 0.2): [(0.05, 1.0), (0.15, 1.0)],
        ("toy1d", 0.3): [(0.5, 1.0), (0.7, 1.0)],
    }
    rows = []
    for run in s.runs:
        values = made_up[(run.config.dataset, run.config.lr)]
        row = {"name": run.name, "seed": run.seed, "status": "done" if values else "unfinished"}
        if values and run.config.dataset == "ring8":
            modes, hq = values[run.seed]
            row.update(modes=modes, high_quality=hq, reverse_kl=math.inf if hq < 0.6 else 0.1)
        elif values:
            d, gap = values[run.seed]
            row.update(mean_abs_d_minus_dstar=d, value_gap=gap)
        rows.append(row)
    text = summary.summary_text(s, rows, tmp_path)
    ring8 = text.split("## ring8")[1].split("## toy1d")[0]
    toy1d = text.split("## toy1d")[1]
    assert "Best first by modes (higher is better)." in ring8
    assert "Best first by mean_abs_d_minus_dstar (lower is better)." in toy1d
    order = [line.split("|")[1].strip() for line in ring8.splitlines() if line.startswith("| lr")]
    assert order == ["lr=0.2", "lr=0.1", "lr=0.3"]
    order = [line.split("|")[1].strip() for line in toy1d.splitlines() if line.startswith("| lr")]
    assert order == ["lr=0.2", "lr=0.1", "lr=0.3"]  # means 0.1, 0.2, 0.6
    row = next(line for line in ring8.splitlines() if line.startswith("| lr=0.1 |"))
    assert "| 2/2 | 7 +- 0 | 0.5 +- 0 | inf |" in row
    assert "| lr=0.3 | 0/2 |" in ring8
    panels = summary.figure_panels(s, rows)
    assert [p["ylabel"] for p in panels] == ["modes", "mean_abs_d_minus_dstar"]
    assert panels[1]["values"][0] == [0.05, 0.15]


def test_a_sweep_goes_on_past_a_failed_run_and_lists_it(backend, tmp_path, capsys):
    file = write(
        tmp_path,
        "evaluate_samples = 100\n[base]\niterations = 40\nbatch_size = 16\n"
        "[[runs]]\ndataset = 'ring8'\n[[runs]]\ndataset = 'missing.npy'\n",
    )
    out = tmp_path / "out"
    assert main(["sweep", str(file), "--out", str(out), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "dataset=missing,seed=0: failed: " in err and "missing.npy" in err
    assert err.splitlines()[-1].startswith(
        "numgan sweep: error: 1 of 2 runs failed (the first: dataset=missing,seed=0: "
    )
    good, bad = read_csv(out / "results.csv")
    assert good["status"] == "done" and good["modes"]
    assert bad["status"] == "failed" and "missing.npy" in bad["reason"] and not bad.get("modes")
    assert f"## Failed runs\n\n- {bad['name']}: {bad['reason']}" in (out / "summary.md").read_text()


def test_two_sweeps_never_share_a_folder(reference, capsys):
    from numgan.app.run import run_lock

    out = reference / "out"
    with run_lock(out, holder="numgan sweep"):
        assert main(["sweep", str(reference / "sweep.toml"), "--out", str(out)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert f"{out} is in use by another numgan sweep (process {os.getpid()})" in line


def test_metrics_of_another_checkpoint_or_sample_count_are_not_the_runs(reference, tmp_path):
    from numgan.app.sweep import run_state

    run_dir = tmp_path / "run"
    shutil.copytree(reference / "out" / "runs" / NAMES[0], run_dir)
    assert run_state(run_dir, 400, 500) == ("done", 400)
    assert run_state(run_dir, 400, 1000) == ("evaluate", 400)  # evaluate_samples changed
    assert run_state(run_dir, 480, 500) == ("resume", 400)  # iterations raised
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "iteration": 360}))
    assert run_state(run_dir, 400, 500) == ("evaluate", 400)  # of an earlier checkpoint
    (run_dir / "metrics.json").write_text("{not json")
    assert run_state(run_dir, 400, 500) == ("evaluate", 400)


def test_a_setting_that_now_varies_would_rename_runs_and_is_refused(reference, tmp_path):
    out = reference / "out"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    edited = write(tmp_path, SWEEP + "\n[[runs]]\nlr = 1e-3\nk = 2\n")
    with pytest.raises(RunError) as caught:
        sweep(edited, out)
    message = str(caught.value)
    assert f"runs/{NAMES[2]} holds the run now named lr=0.0005,k=1,seed=0" in message
    assert "mv " in message and "to keep it, or give another --out" in message
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_a_task_waits_for_a_run_folder_another_process_holds(backend, tmp_path):
    from numgan.app.run import run_lock

    file = write(tmp_path, "evaluate_samples = 100\n[base]\ndataset = 'ring8'\niterations = 20\n")
    (run,) = read_sweep(file).runs
    sweep_dir = tmp_path / "out"
    (sweep_dir / "runs" / run.name).mkdir(parents=True)
    (sweep_dir / "sweep.toml").write_text(file.read_text())
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with run_lock(sweep_dir / "runs" / run.name, holder="numgan train"):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    threading.Timer(1.5, release.set).start()
    start = time.monotonic()
    status = run_task(Task(run.name, {**run.config.__dict__}, str(sweep_dir), 100))
    holder.join()
    assert status["status"] == "done" and time.monotonic() - start >= 1.5
    log = (sweep_dir / "logs" / f"{run.name}.log").read_text()
    assert log.startswith("waiting: ") and "in use by another numgan train" in log
    assert (sweep_dir / "runs" / run.name / "metrics.json").is_file()


def test_a_worker_that_cannot_see_the_sweep_folder_says_so(backend, tmp_path):
    file = write(tmp_path, "[base]\ndataset = 'ring8'\niterations = 20\n")
    (run,) = read_sweep(file).runs
    task = Task(run.name, {**run.config.__dict__}, str(tmp_path / "elsewhere"), 100)
    with pytest.raises(RunError, match="not visible on this worker .*a file system every worker"):
        run_task(task)
    assert not (tmp_path / "elsewhere").exists()
