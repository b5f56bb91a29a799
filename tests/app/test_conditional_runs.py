"""Conditional runs from the command line: numgan train --conditional, --model cgan-mnist, the
paper's schedules, numgan sample --label, evaluate's label fidelity, plot's grid of one row per
class, exact resume, and one-line errors.

The conditional game itself is tested in tests/gan/test_conditional.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from numgan.app import results, run
from numgan.app.cli import main
from numgan.app.config import RunError, resolve_config
from numgan.data import load_dataset
from numgan.nn import ExponentialDecay, LinearRamp, Parallel
from numgan.nn.classifier import train_classifier

QUIET = {"out": io.StringIO(), "err": io.StringIO()}


def test_conditional_picks_the_conditional_preset_and_the_paper_schedules():
    assert resolve_config({"conditional": True}).model == "cgan-small"
    assert resolve_config({"conditional": True, "dataset": "mnist"}).model == "cgan-mnist"
    assert resolve_config({"conditional": True, "dataset": "ring8"}).model == "toy2d"
    assert resolve_config({}).model == "mlp-small" and not resolve_config({}).conditional
    paper = resolve_config({"model": "cgan-mnist", "dataset": "mnist", "iterations": 500})
    assert paper.conditional and paper.optimizer == "sgd" and paper.batch_size == 100
    assert (paper.lr, paper.lr_decay, paper.momentum, paper.momentum_final) == (
        0.1,
        1.00004,
        0.5,
        0.7,
    )
    assert paper.momentum_iterations == 500  # fixed at the start, so a resume keeps it
    opt = run._optimizer(paper)
    assert isinstance(opt.lr, ExponentialDecay) and isinstance(opt.momentum, LinearRamp)
    assert opt.lr(10_000) == pytest.approx(0.1 / 1.00004**10_000)
    assert opt.lr(10**7) == run.LR_FLOOR
    assert opt.momentum(250) == pytest.approx(0.6) and opt.momentum(10**6) == pytest.approx(0.7)


def test_the_presets_are_the_papers_networks(backend):
    cfg = resolve_config({"model": "cgan-mnist", "dataset": "mnist", "iterations": 10})
    gan = run.build_gan(cfg, load_dataset("digits"))  # sized for 8x8 images, 10 classes
    first_g, first_d = gan.G.layers[0], gan.D.layers[0]
    assert isinstance(first_g, Parallel) and isinstance(first_d, Parallel)
    assert (
        repr(first_g)
        == "Parallel(z=(100, [Dense(100, 200), ReLU()]), y=(10, [Dense(10, 1000), ReLU()]))"
    )
    assert repr(first_d) == (
        "Parallel(x=(64, [Maxout(64, units=240, pieces=5)]), "
        "y=(10, [Maxout(10, units=50, pieces=5)]))"
    )
    assert gan.noise.low == 0.0 and gan.noise.high == 1.0  # the unit hypercube
    assert gan.num_classes == 10
    mlp = run.build_gan(resolve_config({"model": "cgan-mlp"}), load_dataset("digits"))
    assert mlp.G.in_shape == (100 + 10,) and mlp.D.in_shape == (64 + 10,)
    assert [layer.width for layer in mlp.D.layers if hasattr(layer, "width")] == [1024, 512, 256, 1]
    toy = run.build_gan(
        resolve_config({"dataset": "ring8", "conditional": True}), load_dataset("ring8")
    )
    assert toy.num_classes == 8 and toy.G.in_shape == (2 + 8,) and toy.D.in_shape == (2 + 8,)


def classify(samples: np.ndarray, data) -> np.ndarray:
    classifier = train_classifier(
        data.train.reshape(len(data.train), -1),
        data.train_labels,
        num_classes=10,
        rng=np.random.default_rng(0),
    )
    return classifier.predict(samples.reshape(len(samples), -1))


def test_a_short_digits_run_draws_the_class_it_is_asked_for(backend, tmp_path):
    """2,500 iterations of cgan-small: far from done, but the label already steers G.  Chance
    is 10%; every class asked for is drawn as itself clearly more often."""
    folder = tmp_path / "cgan"
    assert main(["train", "--conditional", "--iterations", "2500", "--out", str(folder)]) == 0
    data = load_dataset("digits")
    asked = np.repeat(np.arange(10), 50)
    drawn = []
    for label in range(10):
        out = tmp_path / f"class{label}.npy"
        assert (
            main(["sample", str(folder), "--label", str(label), "--n", "50", "-o", str(out)]) == 0
        )
        drawn.append(np.load(out))
    predicted = classify(np.concatenate(drawn), data)
    per_class = [(predicted[asked == k] == k).mean() for k in range(10)]
    assert (predicted == asked).mean() > 0.3, per_class
    # evaluate reports the same kind of number, per class, with its ceiling
    assert main(["evaluate", str(folder), "--n-samples", "2000"]) == 0
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["label_fidelity"] > 0.3
    assert len(metrics["label_fidelity_per_class"]) == 10
    assert metrics["classifier_test_accuracy"] > 0.9
    assert metrics["label_fidelity"] == pytest.approx(np.mean(metrics["label_fidelity_per_class"]))
    # plot: samples.png is one row per class (10 rows of run.PER_CLASS)
    assert main(["plot", str(folder)]) == 0
    from matplotlib.image import imread

    height, width = imread(folder / "samples.png").shape[:2]
    cell = (width - 2) // run.PER_CLASS  # 8x8 images at 4 pixels each, 2-pixel borders
    assert height == 10 * cell + 2 and cell == 8 * 4 + 2


def test_sample_without_a_label_gives_every_class_in_turn(backend, tmp_path):
    folder = tmp_path / "r"
    run.train(resolve_config({"conditional": True, "iterations": 20}), folder, **QUIET)
    assert main(["sample", str(folder), "--n", "25", "-o", str(tmp_path / "all.npy")]) == 0
    assert np.load(tmp_path / "all.npy").shape == (30, 8, 8)  # rounded up to 10 rows of 3
    config, data, trainer = run.restore_run(folder)
    rows = trainer.gan.sample(30, np.random.default_rng(0), labels=np.repeat(np.arange(10), 3))
    np.testing.assert_array_equal(np.load(tmp_path / "all.npy").reshape(30, -1), rows)


@pytest.mark.parametrize(
    "flags",
    [
        {"conditional": True},
        # the ramp's length is fixed by the first start: the split run says it
        {"model": "cgan-mnist", "dataset": "digits", "momentum_iterations": 24},
    ],
)
def test_config_toml_keeps_them_and_resume_is_bit_for_bit(backend, tmp_path, flags):
    base = {"iterations": 24, "batch_size": 16, **flags}
    straight, split = tmp_path / "straight", tmp_path / "split"
    run.train(resolve_config(base), straight, **QUIET)
    run.train(resolve_config({**base, "iterations": 11}), split, **QUIET)
    resumed = resolve_config({"iterations": 24}, base=run.read_run_config(split))
    run.train(resumed, split, resume=True, **QUIET)
    text = (straight / "config.toml").read_text()
    assert "conditional = true\n" in text
    with (
        np.load(straight / "checkpoints" / "last.npz") as a,
        np.load(split / "checkpoints" / "last.npz") as b,
    ):
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    changed = resolve_config(
        {"conditional": False, "model": "mlp-small", "iterations": 30},
        base=run.read_run_config(split),
    )
    with pytest.raises(RunError, match="was trained with (model|conditional) = "):
        run.train(changed, split, resume=True, **QUIET)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--dataset", "toy1d", "--conditional"],
            "a conditional run (--conditional, model toy1d) needs labelled data, and toy1d",
        ),
        (["--dataset", "toy1d", "--model", "cgan-small"], "model cgan-small) needs labelled"),
        (["--conditional", "--replay", "0.5"], "--replay does not work with --conditional"),
        (["--model", "cgan-small", "--no-conditional"], "model cgan-small is a conditional GAN"),
        (["--dataset", "ring8", "--conditional", "--path", "fused"], "no labels (conditional"),
        (["--conditional", "--model", "dcgan"], "needs D to start with a Dense layer"),
        (["--lr-decay", "0.5"], "--lr-decay divides the learning rate at every update"),
        (["--lr-decay", "nan"], "--lr-decay divides the learning rate"),
        (["--momentum-final", "0.7"], "--momentum-final ramps SGD's momentum"),
        (["--optimizer", "sgd", "--momentum-final", "1"], "--momentum-final must be in (0, 1)"),
        (["--momentum-iterations", "-1"], "--momentum-iterations must be a whole number"),
        (["--conditional", "yes"], "unrecognized arguments: yes"),
    ],
)
def test_bad_values_are_one_line(backend, tmp_path, capsys, flags, message):
    try:
        code = main(["train", "--out", str(tmp_path / "r"), "--iterations", "5", *flags])
    except SystemExit as usage:  # argparse's usage errors leave this way (exit 2)
        code = usage.code
    assert code != 0
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line, line
    assert not Path(tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([1, 2, 3], "training split has rows of only 3 of them (none of class 0): number the"),
        ([0, 5, 10], "none of class 1): number the classes 0..K-1 without gaps"),
        ([0, 2**40], "none of class 1)"),
        ([1], "needs at least 2 classes, and the training split of"),
        ([0], "needs at least 2 classes, and the training split of"),
    ],
)
def test_labels_that_are_not_the_classes_0_to_k_are_one_line(
    backend, tmp_path, capsys, labels, message
):
    rng = np.random.default_rng(0)
    y = np.resize(np.asarray(labels, dtype=np.int64), 60)
    path = tmp_path / "data.npz"
    np.savez(path, x=rng.random((60, 16)).astype(np.float32), y=y)
    code = main(["train", "--conditional", "--dataset", str(path), "--out", str(tmp_path / "r")])
    assert code != 0
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line, line
    assert not (tmp_path / "r").exists()


def test_sweep_commands_spell_booleans_as_flags():
    from numgan.app.summary import command
    from numgan.app.sweepfile import _value_text

    line = command({"conditional": True, "lr": 0.001})
    assert "--conditional --lr 0.001" in line and "True" not in line
    assert "--no-conditional" in command({"conditional": False})
    assert _value_text(True) == "true" and _value_text(False) == "false"


def test_sample_label_errors_are_one_line(backend, tmp_path, capsys):
    plain, conditional = tmp_path / "plain", tmp_path / "cond"
    run.train(resolve_config({"iterations": 5}), plain, **QUIET)
    run.train(resolve_config({"iterations": 5, "conditional": True}), conditional, **QUIET)
    for folder, label, message in (
        (plain, "3", "--label is for conditional runs"),
        (conditional, "10", "--label must be a class of this run, 0..9, got 10"),
        (conditional, "-1", "--label must be a class of this run, 0..9, got -1"),
    ):
        code = main(["sample", str(folder), "--label", label, "-o", str(tmp_path / "x.png")])
        assert code != 0
        (line,) = capsys.readouterr().err.splitlines()
        assert message in line, line
    with pytest.raises(RunError, match="--label is for conditional runs"):
        results.sample_run(plain, 4, tmp_path / "x.npy", 0, label=1)
