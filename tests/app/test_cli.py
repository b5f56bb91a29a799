"""The command line, run as a user runs it: a subprocess, its exit code, its files."""

import os
import subprocess
import sys

import numpy as np
import pytest

from numgan.gan import checkpoint


def numgan(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "numgan", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def ok(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def one_line_error(result, message):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def progress_lines(result):
    """The plain progress lines a run writes when stderr is not a terminal (here: a pipe)."""
    assert "\r" not in result.stderr
    return [line for line in result.stderr.splitlines() if "it/s" in line]


def params(run_dir):
    state = checkpoint.load(run_dir / "checkpoints" / "last.npz")
    return {k: v for k, v in state.items() if k.startswith(("G/", "D/", "opt_"))}


def test_train_sample_evaluate_plot_on_digits(tmp_path):
    run = tmp_path / "digits"
    result = ok(numgan("train", "--iterations", "60", "--sample-every", "30", "--out", str(run)))
    assert "8x8 digits" in result.stdout and "done: iteration 60" in result.stdout
    assert "; path: layers" in result.stdout.splitlines()[0]  # Adam: the fused step is SGD's
    lines = progress_lines(result)
    assert len(lines) == 10 and "60/60" in lines[-1] and "D(G(z))" in lines[-1]
    for name in (
        "config.toml",
        "history.csv",
        "checkpoints/last.npz",
        "samples/iter_0000030.png",
        "samples/iter_0000060.png",
    ):
        assert (run / name).is_file(), name
    assert len((run / "history.csv").read_text().splitlines()) == 61
    ok(numgan("sample", str(run), "--n", "16", "-o", str(tmp_path / "grid.png")))
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    x = sample_npy(run, tmp_path / "s.npy", "--n", "20", "--seed", "4")
    assert x.shape == (20, 8, 8)
    assert x.min() >= 0.0 and x.max() <= 1.0  # the data's scale: a sigmoid G's pixels
    assert np.array_equal(x, sample_npy(run, tmp_path / "again.npy", "--n", "20", "--seed", "4"))
    assert not np.array_equal(x, sample_npy(run, tmp_path / "other.npy", "--n", "20"))
    result = ok(numgan("evaluate", str(run), "--n-samples", "500"))
    assert "Parzen window log-likelihood" in result.stdout
    assert '"parzen_log_likelihood"' in (run / "metrics.json").read_text()
    ok(numgan("plot", str(run)))
    for name in ("loss_curves.png", "samples.png", "nearest_neighbours.png"):
        assert (run / name).is_file(), name


def sample_npy(run, path, *args):
    """``numgan sample RUN -o FILE.npy``: float32, finite, and nothing else left beside it."""
    ok(numgan("sample", str(run), "-o", str(path), *args))
    x = np.load(path)
    assert x.dtype == np.float32 and np.isfinite(x).all()
    assert sorted(p.name for p in path.parent.glob(f"*{path.name}*")) == [path.name]
    return x


def test_tanh_output_scales_pixels_to_minus_one_one(tmp_path):
    run = tmp_path / "t"
    ok(numgan("train", "--output", "tanh", "--iterations", "10", "--out", str(run)))
    assert 'output = "tanh"' in (run / "config.toml").read_text()
    x = sample_npy(run, tmp_path / "s.npy", "--n", "5")
    assert x.shape == (5, 8, 8) and x.min() >= -1.0 and x.max() <= 1.0 and x.min() < 0
    from numgan.app.run import restore_run

    _, data, trainer = restore_run(run)
    assert type(trainer.gan.G.layers[-1]).__name__ == "Tanh"
    assert data.train.min() == -1.0 and data.train.max() == 1.0
    ok(numgan("plot", str(run)))


def test_ring8_and_toy1d_runs(tmp_path, backend):
    ok(numgan("train", "--dataset", "ring8", "--iterations", "40", "--out", str(tmp_path / "r")))
    result = ok(numgan("evaluate", str(tmp_path / "r"), "--n-samples", "300"))
    assert "modes captured" in result.stdout and "of 8" in result.stdout
    assert sample_npy(tmp_path / "r", tmp_path / "r.npy", "--n", "30").shape == (30, 2)
    result = ok(
        numgan("train", "--dataset", "toy1d", "--iterations", "50", "--out", str(tmp_path / "t"))
    )
    # toy1d's MLPs with SGD fit the fused step, which needs the numba backend.
    ran = "fused (one jitted call per iteration)" if backend == "numba" else "layers"
    assert result.stdout.splitlines()[0].endswith(f"; path: {ran}")
    assert f'path = "auto"  # ran: {ran}\n' in (tmp_path / "t" / "config.toml").read_text()
    assert sample_npy(tmp_path / "t", tmp_path / "t.npy", "--n", "30").shape == (30, 1)
    result = ok(numgan("evaluate", str(tmp_path / "t"), "--n-samples", "500"))
    assert "-log 4" in result.stdout
    ok(numgan("plot", str(tmp_path / "t")))
    assert (tmp_path / "t" / "figure1d.png").is_file()


def test_resume_gives_the_same_parameters_as_one_run(tmp_path):
    common = ["--dataset", "digits", "--seed", "3", "--checkpoint-every", "10"]
    ok(numgan("train", *common, "--iterations", "40", "--out", str(tmp_path / "once")))
    ok(numgan("train", *common, "--iterations", "20", "--out", str(tmp_path / "twice")))
    ok(numgan("train", "--resume", str(tmp_path / "twice"), "--iterations", "40"))
    a, b = params(tmp_path / "once"), params(tmp_path / "twice")
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


@pytest.mark.parametrize("path", ["auto", "layers"])
def test_resume_is_bit_identical_on_either_path(tmp_path, path):
    # toy1d with SGD: "auto" runs the fused step on the numba backend, the layers on numpy.
    common = ["--dataset", "toy1d", "--seed", "2", "--checkpoint-every", "15", "--path", path]
    ok(numgan("train", *common, "--iterations", "60", "--out", str(tmp_path / "once")))
    ok(numgan("train", *common, "--iterations", "30", "--out", str(tmp_path / "twice")))
    result = ok(numgan("train", "--resume", str(tmp_path / "twice"), "--iterations", "60"))
    lines = progress_lines(result)  # counting on from 30, a line every 3 iterations
    assert "33/60" in lines[0] and "60/60" in lines[-1] and len(lines) == 10
    a, b = params(tmp_path / "once"), params(tmp_path / "twice")
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_config_file_and_flags(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('dataset = "ring8"\niterations = 30\nlr = 0.002\n')
    ok(numgan("train", "--config", str(config), "--iterations", "20", "--out", str(tmp_path / "r")))
    resolved = (tmp_path / "r" / "config.toml").read_text()
    assert 'dataset = "ring8"' in resolved and "iterations = 20" in resolved
    assert "lr = 0.002" in resolved and 'model = "toy2d"' in resolved


def test_bad_inputs_are_one_line_errors_and_keep_files(tmp_path):
    run = tmp_path / "run"
    ok(numgan("train", "--dataset", "ring8", "--iterations", "20", "--out", str(run)))
    before = (run / "checkpoints" / "last.npz").read_bytes()

    one_line_error(numgan("train", "--dataset", str(tmp_path / "missing.npy")), "missing.npy")
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"this is not an array")
    one_line_error(
        numgan("train", "--dataset", str(junk), "--out", str(tmp_path / "j")), "junk.npy"
    )
    one_line_error(
        numgan("train", "--optimizer", "rmsprop"),
        "--optimizer must be one of sgd, adam, got 'rmsprop'",
    )
    one_line_error(
        numgan("train", "--path", "jit"), "--path must be one of auto, layers, fused, got 'jit'"
    )
    one_line_error(numgan("train", "--lr", "fast"), "argument --lr: invalid float value: 'fast'")
    one_line_error(
        numgan("train", "--dataset", "ring8", "--path", "fused", "--out", str(tmp_path / "f")),
        "--path fused: model toy2d with adam",
    )
    assert not (tmp_path / "f").exists()
    one_line_error(
        numgan("train", "--lr", "-1", "--out", str(tmp_path / "x")), "--lr must be a positive"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text("learning_rate = 0.1\n")
    one_line_error(numgan("train", "--config", str(bad)), "unknown config key(s) learning_rate")
    one_line_error(
        numgan("train", "--resume", str(run), "--iterations", "40", "--model", "mlp-small"),
        "model = 'toy2d'",
    )
    one_line_error(numgan("train", "--out", str(run), "--dataset", "ring8"), "--resume")
    one_line_error(numgan("evaluate", str(tmp_path / "nothing")), "no such run folder")
    broken = tmp_path / "broken"
    (broken / "checkpoints").mkdir(parents=True)
    (broken / "config.toml").write_text((run / "config.toml").read_text())
    (broken / "checkpoints" / "last.npz").write_bytes(b"PK\x03\x04 half")
    one_line_error(numgan("sample", str(broken)), "not a readable checkpoint")
    one_line_error(
        numgan("sample", str(run), "-o", str(tmp_path / "s.jpg")),
        "write .npy (the samples as an array) or .png (a figure), not .jpg",
    )
    one_line_error(numgan("sample", str(run), "--n", "0"), "--n must be at least 1, got 0")
    one_line_error(numgan("fly"), "invalid choice: 'fly'")
    assert (run / "checkpoints" / "last.npz").read_bytes() == before


def test_mnist_idx_from_the_shared_test_set(tmp_path, monkeypatch):
    from pathlib import Path

    mnist = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
    assert mnist.is_dir(), f"the MNIST test set is expected at {mnist}"
    result = ok(
        numgan(
            "train",
            "--dataset",
            "mnist",
            "--data-dir",
            str(mnist),
            "--model",
            "mlp-small",
            "--iterations",
            "5",
            "--out",
            str(tmp_path / "m"),
        )
    )
    assert "10,000" in result.stdout or "8,000" in result.stdout
    one_line_error(
        numgan("train", "--dataset", "mnist", "--data-dir", str(tmp_path / "none")), "none"
    )


@pytest.mark.parametrize("command", [["train", "--iterations", "1"], ["bench", "--quick"]])
def test_a_bad_backend_setting_is_a_one_line_error(command):
    """NUMGAN_BACKEND is read when the kernels are imported, before the command runs."""
    env = {**os.environ, "NUMGAN_BACKEND": "cuda"}
    result = subprocess.run(
        [sys.executable, "-m", "numgan", *command], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"numgan {command[0]}: error: NUMGAN_BACKEND='cuda' is not a backend: use numba or numpy"
    ]


@pytest.mark.parametrize("value", ["0", "-2"])
def test_a_thread_count_below_one_is_a_one_line_error(value):
    """Numba itself fails on import with a message that names no setting."""
    env = {**os.environ, "NUMBA_NUM_THREADS": value}
    result = subprocess.run(
        [sys.executable, "-m", "numgan", "train", "--iterations", "1"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"numgan train: error: NUMBA_NUM_THREADS='{value}': Numba needs at least 1 thread; "
        "set a positive number or unset it"
    ]


def test_help():
    result = ok(numgan("--help"))
    for command in ("train", "sample", "evaluate", "plot", "bench"):
        assert command in result.stdout


@pytest.mark.parametrize("args", [["bench", "--help"]])
def test_bench_flags_reach_the_benchmark(args):
    assert "--models" in ok(numgan(*args)).stdout


def test_ctrl_c_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    import signal
    import time

    run = tmp_path / "r"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "numgan",
            "train",
            "--dataset",
            "ring8",
            "--iterations",
            "1000000",
            "--checkpoint-every",
            "1000000",
            "--out",
            str(run),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (run / "config.toml").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)  # some iterations, and no checkpoint yet: only Ctrl-C can write one
    assert not (run / "checkpoints" / "last.npz").exists()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert stderr.strip().splitlines()[-1].startswith("numgan train: interrupted")
    assert "Traceback" not in stderr
    state = checkpoint.load(run / "checkpoints" / "last.npz")
    assert int(state["iteration"]) > 0
    assert len((run / "history.csv").read_text().splitlines()) == int(state["iteration"]) + 1
