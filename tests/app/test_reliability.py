"""Inputs numgan cannot serve are one line that names the problem and the fix; inputs it can
serve, it serves: data of one feature per sample from a file trains, samples and plots."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from numgan.app.results import available_memory
from numgan.gan import checkpoint

TIMEOUT = 180


def numgan(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "numgan", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess, *parts: str, code: int = 1) -> str:
    """stderr is exactly one line, ending in a real newline, holding every one of ``parts``."""
    assert result.returncode == code, (result.returncode, result.stderr)
    (line,) = result.stderr.splitlines()
    assert result.stderr == line + "\n"
    assert "Traceback" not in line and "\\n" not in line
    for part in parts:
        assert part in line, line
    return line


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    """A short toy1d run, shared by the tests that only read it."""
    run = tmp_path_factory.mktemp("toy") / "r"
    args = ["--dataset", "toy1d", "--iterations", "20", "--sample-every", "5", "--out", run]
    ok(numgan("train", *args))
    return run


# -- more samples than memory ---------------------------------------------------------------


@pytest.mark.parametrize(
    "how", [["sample", "--n"], ["evaluate", "--n-samples"]], ids=["sample", "evaluate"]
)
def test_more_samples_than_memory_is_one_line(toy_run, backend, how):
    command, flag = how
    result = numgan(command, toy_run, flag, 10**12)
    if available_memory() is None:  # the system does not say: NumPy's own refusal, one line
        one_line_error(result, f"numgan {command}: error: out of memory")
        return
    line = one_line_error(
        result,
        f"numgan {command}: error: {flag} 1,000,000,000,000: that many samples need about ",
        " of memory (",
        " free, enough for about ",
        ": ask for at most that many",
    )
    most = int(line.split("enough for about ")[1].split(":")[0].replace(",", ""))
    assert 0 < most < 10**12
    assert not (toy_run / "sample.png").exists() and not (toy_run / "metrics.json").exists()


# -- snapshots1d.npz that numgan did not write ----------------------------------------------


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def foreign(path: Path) -> None:
    with open(path, "wb") as f:
        np.savez(f, x=np.arange(3.0))


def an_npy(path: Path) -> None:
    with open(path, "wb") as f:
        np.save(f, np.arange(3.0))


@pytest.mark.parametrize("damage", [truncated, foreign, an_npy])
def test_a_bad_snapshots_file_is_named_with_the_fix(toy_run, tmp_path, backend, damage):
    run = tmp_path / "r"
    shutil.copytree(toy_run, run)
    snapshots = run / "snapshots1d.npz"
    damage(snapshots)
    damaged = snapshots.read_bytes()
    one_line_error(
        numgan("plot", run),
        f"numgan plot: error: {snapshots}: not ",
        ": delete it, and numgan plot draws the final state alone",
    )
    one_line_error(
        numgan("train", "--resume", run, "--iterations", "30"),
        f"numgan train: error: {snapshots}: not ",
        ": delete it and resume again (the 1-D figure then starts at iteration 20)",
    )
    assert snapshots.read_bytes() == damaged  # refused, not replaced
    assert int(checkpoint.load(run / "checkpoints" / "last.npz")["iteration"]) == 20


def test_without_its_snapshots_file_a_run_resumes_and_plots(toy_run, tmp_path, backend):
    run = tmp_path / "r"
    shutil.copytree(toy_run, run)
    (run / "snapshots1d.npz").unlink()  # as the message above says
    ok(numgan("plot", run))  # the final state alone
    ok(numgan("train", "--resume", run, "--iterations", "30", "--sample-every", "5"))
    with np.load(run / "snapshots1d.npz") as f:  # from the resumed iterations on
        assert sorted(int(f[k]) for k in f.files if k.endswith("/iteration")) == [25, 30]
    ok(numgan("plot", run))
    assert (run / "figure1d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- a dataset too small to hold out splits ---------------------------------------------------


def test_evaluate_on_a_dataset_too_small_for_splits(tmp_path, backend):
    data = tmp_path / "five.npy"
    np.save(data, np.random.default_rng(0).normal(size=(5, 1)).astype(np.float32))
    run = tmp_path / "r"
    ok(numgan("train", "--dataset", data, "--iterations", "5", "--out", run))
    one_line_error(
        numgan("evaluate", run),
        "numgan evaluate: error: the dataset has 5 samples, too few to hold out a validation "
        "and a test split (0 and 0 samples) for the Parzen estimate: it needs at least 6 samples",
    )
    assert not (run / "metrics.json").exists()


# -- usage errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "numgan: error: the following arguments are required: COMMAND"),
        (["fly"], "numgan: error: argument COMMAND: invalid choice: 'fly'"),
        (["train", "--lr"], "numgan train: error: argument --lr: expected one argument"),
        (["train", "--iterations", "1e3"], "argument --iterations: invalid int value: '1e3'"),
        (["sample"], "numgan sample: error: the following arguments are required: RUN_DIR"),
        (["evaluate", "r", "--bogus"], "numgan: error: unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_are_one_line_with_a_real_newline(backend, args, message):
    line = one_line_error(numgan(*args), message, code=2)
    assert line.endswith("--help)")  # (see numgan ... --help), then the newline


# -- data of one feature per sample, not toy1d ------------------------------------------------


def test_one_feature_data_from_a_file_trains_samples_plots_and_evaluates(tmp_path, backend):
    data = tmp_path / "heights.npy"
    np.save(data, np.random.default_rng(1).normal(2.0, 0.5, size=(500, 1)).astype(np.float32))
    run = tmp_path / "r"
    args = ["--dataset", data, "--iterations", "30", "--sample-every", "10", "--out", run]
    result = ok(numgan("train", *args))
    assert "done: iteration 30" in result.stdout
    assert int(checkpoint.load(run / "checkpoints" / "last.npz")["iteration"]) == 30
    with np.load(run / "snapshots1d.npz") as f:
        assert [int(f[f"{i}/iteration"]) for i in range(3)] == [10, 20, 30]
        assert f["0/d_on_grid"].shape == (300,) and f["0/samples"].shape == (5000,)
    ok(numgan("sample", run, "-o", tmp_path / "s.npy", "--n", "20"))
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (20, 1) and x.dtype == np.float32 and np.isfinite(x).all()
    ok(numgan("sample", run, "-o", tmp_path / "s.png"))
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ok(numgan("plot", run))
    assert (run / "figure1d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = ok(numgan("evaluate", run, "--n-samples", "200"))
    assert "Parzen window log-likelihood" in result.stdout


# -- docs/reliability.md -----------------------------------------------------------------------


def test_the_reliability_page_names_tests_that_exist(backend):
    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "reliability.md").read_text(encoding="utf-8")
    named = re.findall(r"\b(tests/[\w/]+\.py)::(\w+)", page)
    assert len(named) >= 20, named
    missing = []
    for path, name in named:
        tree = ast.parse((root / path).read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        if name not in defined:
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"


def test_a_resume_cannot_change_what_the_run_was(tmp_path):
    """A flag or a hand-edited config.toml that differs from the checkpoint is refused, before
    any file changes; how long a run goes and how often it writes may change."""
    run = tmp_path / "run"
    ok(numgan("train", "--dataset", "toy1d", "--iterations", "10", "--out", str(run)))
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    one_line_error(
        numgan("train", "--resume", str(run), "--iterations", "20", "--lr", "0.5"),
        "was trained with lr = 0.01, and this resume asks for 0.5 (a flag, or",
        "a resumed run keeps its settings",
    )
    config = run / "config.toml"
    config.write_text(config.read_text().replace("seed = 0", "seed = 5"))
    one_line_error(
        numgan("train", "--resume", str(run), "--iterations", "20"),
        "was trained with seed = 0, and this resume asks for 5",
        f"(a flag, or {config} edited since)",
    )
    config.write_text(
        config.read_text()
        .replace("seed = 5", "seed = 0")
        .replace('dataset = "toy1d"', 'dataset = "ring8"')
    )
    one_line_error(
        numgan("train", "--resume", str(run), "--iterations", "20"),
        "was trained with dataset = 'toy1d', and this resume asks for 'ring8'",
    )
    after = {
        p.name: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != "config.toml"
    }
    assert after == {k: v for k, v in before.items() if k != "config.toml"}
    config.write_text(config.read_text().replace('dataset = "ring8"', 'dataset = "toy1d"'))
    ok(numgan("train", "--resume", str(run), "--iterations", "20", "--checkpoint-every", "5"))


def test_sample_names_a_bad_seed_and_an_output_that_is_a_folder(toy_run, tmp_path):
    one_line_error(
        numgan("sample", toy_run, "--seed", "-1", "-o", tmp_path / "s.npy"),
        "--seed must be a whole number >= 0",
    )
    folder = tmp_path / "samples.npy"
    folder.mkdir()
    one_line_error(numgan("sample", toy_run, "-o", folder), "is a folder")
    assert list(folder.iterdir()) == []  # no temporary left inside or beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.npy"]


def test_a_points_model_on_pixels_still_ends_in_the_pixel_range(tmp_path):
    run = tmp_path / "run"
    ok(
        numgan(
            "train", "--dataset", "digits", "--model", "toy2d", "--iterations", "3", "--out", run
        )
    )
    ok(numgan("sample", run, "--n", "50", "-o", tmp_path / "s.npy"))
    x = np.load(tmp_path / "s.npy")
    assert x.min() >= 0.0 and x.max() <= 1.0  # --output sigmoid: pixels in [0, 1]


# -- paths the file system refuses, runs without a checkpoint, images out of G's reach -------


def test_paths_the_file_system_refuses_name_the_path_and_the_fix(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir").mkdir()
    train = ["train", "--dataset", "toy1d", "--iterations", "2"]
    one_line_error(
        numgan(*train, "--out", "afile/sub", cwd=tmp_path),
        "numgan train: error: afile/sub: not a directory (a part of that path is a file, not a "
        "folder: choose another path)",
    )
    one_line_error(
        numgan(*train, "--config", "adir", cwd=tmp_path),
        "numgan train: error: adir: is a directory (that is a folder: give the path of a file)",
    )
    one_line_error(
        numgan("train", "--dataset", "adir", "--iterations", "2", cwd=tmp_path),
        "numgan train: error: dataset 'adir' is a folder: give the path of a .npy or .npz file",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile"]  # nothing written


def test_a_run_that_saved_no_checkpoint_says_to_train_it_again(toy_run, tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.toml").write_text((toy_run / "config.toml").read_text())
    line = one_line_error(numgan("sample", run), "the run in", "stopped before it saved one")
    assert line.endswith(f"(numgan train --config {run / 'config.toml'} --out NEW_RUN_DIR)")


def test_images_beyond_the_generators_range_are_refused_before_training(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "counts.npy", rng.integers(0, 200, size=(40, 8, 8)))
    np.save(tmp_path / "pixels.npy", rng.integers(0, 256, size=(40, 8, 8)).astype(np.uint8))
    train = ["train", "--iterations", "2", "--sample-every", "1"]
    for output, span in (("sigmoid", "[0, 1]"), ("tanh", "[-1, 1]")):
        one_line_error(
            numgan(*train, "--dataset", "counts.npy", "--output", output, cwd=tmp_path),
            f"the images of counts.npy span [0, 199], but G's last layer ({output}) gives "
            f"pixels in {span}: rescale them to that range, or save them as uint8 pixels",
        )
    assert not list(tmp_path.glob("runs/*"))  # refused before a run folder was made
    ok(numgan(*train, "--dataset", "pixels.npy", "--out", "r8", cwd=tmp_path))  # scaled
