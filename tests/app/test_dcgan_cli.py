"""A DCGAN run from the command line does everything an MLP run does: train, checkpoint, resume
bit for bit, sample, evaluate and plot; and the model is refused where it cannot work."""

from pathlib import Path

import numpy as np
import pytest

from .test_cli import numgan, ok, one_line_error, params, progress_lines, sample_npy

MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
    """One 40-iteration run, and the same run stopped at 20 and resumed to 40."""
    root = tmp_path_factory.mktemp("dcgan")
    common = ["--dataset", "digits", "--model", "dcgan", "--seed", "5", "--checkpoint-every", "10"]
    once = ok(numgan("train", *common, "--iterations", "40", "--out", str(root / "once")))
    ok(numgan("train", *common, "--iterations", "20", "--out", str(root / "twice")))
    resumed = ok(numgan("train", "--resume", str(root / "twice"), "--iterations", "40"))
    return root, once, resumed


def test_dcgan_brings_its_own_defaults(digits_runs):
    root, once, _ = digits_runs
    config = (root / "once" / "config.toml").read_text()
    for line in ('model = "dcgan"', 'output = "tanh"', 'optimizer = "adam"', "lr = 0.0002"):
        assert line in config, line
    assert "momentum = 0.5" in config and "batch_size = 64" in config
    assert "model dcgan" in once.stdout and "done: iteration 40" in once.stdout


def test_dcgan_resume_is_bit_identical(digits_runs):
    root, _, resumed = digits_runs
    lines = progress_lines(resumed)
    assert "22/40" in lines[0] and "40/40" in lines[-1]
    a, b = params(root / "once"), params(root / "twice")
    assert a.keys() == b.keys() and any("running_mean" in k for k in a)
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_dcgan_sample_evaluate_plot(digits_runs, tmp_path):
    run = digits_runs[0] / "once"
    x = sample_npy(run, tmp_path / "s.npy", "--n", "12", "--seed", "1")
    assert x.shape == (12, 8, 8) and x.min() >= -1.0 and x.max() <= 1.0 and x.min() < 0
    result = ok(numgan("evaluate", str(run), "--n-samples", "300"))
    assert "Parzen window log-likelihood" in result.stdout
    ok(numgan("plot", str(run)))
    for name in ("loss_curves.png", "samples.png", "nearest_neighbours.png"):
        assert (run / name).is_file(), name


def test_dcgan_on_mnist_images(tmp_path):
    assert MNIST.is_dir(), f"the MNIST test set is expected at {MNIST}"
    run = tmp_path / "m"
    result = ok(
        numgan(
            "train",
            "--dataset",
            "mnist",
            "--data-dir",
            str(MNIST),
            "--model",
            "dcgan",
            "--iterations",
            "4",
            "--out",
            str(run),
        )
    )
    assert "8,000 / 1,000 / 1,000" in result.stdout and "model dcgan" in result.stdout
    assert sample_npy(run, tmp_path / "m.npy", "--n", "3").shape == (3, 28, 28)


@pytest.mark.parametrize("dataset", ["ring8", "toy1d"])
def test_dcgan_on_points_is_a_one_line_error(tmp_path, dataset):
    result = numgan("train", "--dataset", dataset, "--model", "dcgan", "--out", str(tmp_path / "r"))
    one_line_error(result, "model dcgan is for one-channel images")
    assert not (tmp_path / "r").exists()


def test_dcgan_on_images_whose_sides_do_not_divide_by_4(tmp_path):
    path = tmp_path / "odd.npy"
    np.save(path, np.random.default_rng(0).uniform(size=(50, 10, 10)).astype(np.float32))
    result = numgan(
        "train", "--dataset", str(path), "--model", "dcgan", "--out", str(tmp_path / "r")
    )
    one_line_error(result, "sides divide by 4")


def test_parzen_scores_tanh_pixels_in_zero_one(digits_runs):
    """A tanh run's samples and data are moved to [0, 1] before the Parzen estimate, so its
    number compares with a sigmoid run's (in [-1, 1] it would be 64 log 2 nats lower)."""
    import io

    from numgan.app.results import evaluate_run
    from numgan.app.run import restore_run
    from numgan.eval import metrics

    run = digits_runs[0] / "once"
    result = evaluate_run(run, 300, out=io.StringIO())
    config, data, trainer = restore_run(run)
    samples = trainer.gan.sample(300, np.random.default_rng([config.seed, 5]))
    rows = [np.asarray(a, np.float64).reshape(len(a), -1) for a in (data.validation, data.test)]
    expected = metrics.parzen_evaluate(
        (samples.astype(np.float64) + 1) / 2, *[(a + 1) / 2 for a in rows]
    )
    assert result["parzen_log_likelihood"] == pytest.approx(expected["mean"], rel=1e-12)
    assert result["parzen_sigma"] == pytest.approx(expected["sigma"], rel=1e-12)


def test_a_one_channel_image_file_trains_as_images(tmp_path):
    """(N, 1, H, W), the layout image libraries save, is images with one channel, like (N, H, W)."""
    path = tmp_path / "one.npy"
    np.save(path, np.random.default_rng(0).uniform(size=(40, 1, 8, 8)).astype(np.float32))
    run = tmp_path / "r"
    ok(
        numgan(
            "train",
            "--dataset",
            str(path),
            "--model",
            "dcgan",
            "--iterations",
            "3",
            "--out",
            str(run),
        )
    )
    assert sample_npy(run, tmp_path / "s.npy", "--n", "2").shape == (2, 8, 8)
