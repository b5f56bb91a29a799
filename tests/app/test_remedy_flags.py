"""The remedies' flags: --label-smoothing, --label-noise, --loss, --g-loss feature-matching,
--instance-noise, --replay and --minibatch-discrimination, from the command line and config
files.

The Python objects are tested in tests/gan/ (test_remedies.py, test_gradcheck.py); here: a run
with the flags builds and trains exactly as a Trainer given those objects, writes them into
config.toml, resumes bit for bit (draws come from the run's Generator and the replay buffer is
in the checkpoint), and refuses bad values in one line.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from numgan.app import results, run
from numgan.app.cli import main
from numgan.app.config import RunError, resolve_config
from numgan.gan import Trainer
from numgan.gan.objectives import CrossEntropy, FeatureMatching, LeastSquares
from numgan.gan.remedies import InstanceNoise, ReplayBuffer
from numgan.nn import MinibatchDiscrimination


def config(**flags):
    base = {"dataset": "ring8", "iterations": 30, "batch_size": 32, "path": "layers"}
    return resolve_config({**base, **flags})


def states(trainer: Trainer) -> dict[str, np.ndarray]:
    """G's and D's parameters, copied, by name."""
    return {
        f"{name}/{key}": value.copy()
        for name, net in (("G", trainer.gan.G), ("D", trainer.gan.D))
        for key, value in net.state_dict().items()
    }


def test_the_flags_train_as_the_objective_they_name(backend):
    cfg = config(label_smoothing=0.9, label_noise=0.2)
    data = run.load_data(cfg)
    flagged = run.build_trainer(cfg, data)
    by_hand = Trainer(
        run.build_gan(cfg, data),
        data,
        batch_size=cfg.batch_size,
        objective=CrossEntropy("non-saturating", real_target=0.9, label_noise=0.2),
        opt_g=run._optimizer(cfg),
        opt_d=run._optimizer(cfg),
        seed=cfg.seed,
        fused=False,
    )
    plain = run.build_trainer(config(), data)
    for trainer in (flagged, by_hand, plain):
        for _ in range(5):
            trainer.step()
    got, want, off = states(flagged), states(by_hand), states(plain)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    # ... and the flags change the run (the control: the same run without them).
    assert not all(np.array_equal(got[k], off[k]) for k in want)


def test_smoothing_alone_runs_fused_and_noise_runs_the_layers(backend):
    toy = {"dataset": "toy1d", "iterations": 10, "path": "auto"}

    def build(**flags):
        cfg = resolve_config({**toy, **flags})
        return run.build_trainer(cfg, run.load_data(cfg))

    smoothed, noisy = build(label_smoothing=0.9), build(label_noise=0.1)
    assert smoothed.uses_fused == (backend == "numba")  # fixed targets: the fused step can
    assert not noisy.uses_fused  # flips drawn every D step: the layers
    with pytest.raises(RunError, match="--path fused: .*cannot run fused"):
        build(label_noise=0.1, path="fused")


REMEDIES = {
    "targets": {"label_smoothing": 0.9, "label_noise": 0.2},
    "least-squares": {"loss": "least-squares"},
    "feature-matching": {"g_loss": "feature-matching", "k": 2},
    "instance-noise": {
        "instance_noise": 0.2,
        "instance_noise_iterations": 30,
        "optimizer": "sgd",
        "lr": 0.01,
    },
    "replay": {"replay": 0.5},
    "minibatch-discrimination": {"minibatch_discrimination": "4,3"},
    "all": {
        "loss": "least-squares",
        "g_loss": "feature-matching",
        "instance_noise": 0.1,
        "instance_noise_iterations": 30,
        "replay": 0.25,
        "minibatch_discrimination": "3,2",
    },
}


def test_each_flag_builds_its_remedy(backend):
    def build(**flags):
        cfg = config(**flags)
        return run.build_trainer(cfg, run.load_data(cfg))

    assert isinstance(build(loss="least-squares").objective, LeastSquares)
    fm = build(g_loss="feature-matching", loss="least-squares").objective
    assert isinstance(fm, FeatureMatching) and isinstance(fm.d_objective, LeastSquares)
    fm = build(g_loss="feature-matching", label_smoothing=0.9).objective
    assert isinstance(fm.d_objective, CrossEntropy) and fm.d_objective.real_target == 0.9
    noisy = build(instance_noise=0.3)
    assert isinstance(noisy.instance_noise, InstanceNoise)
    assert (noisy.instance_noise.std, noisy.instance_noise.iterations) == (0.3, 30)
    replay = build(replay=0.25).replay
    assert isinstance(replay, ReplayBuffer)
    assert (replay.fraction, replay.capacity) == (0.25, run.REPLAY_BATCHES * 32)
    layers = build(minibatch_discrimination="5,3").gan.D.layers
    mbd, last = layers[-2], layers[-1]
    assert isinstance(mbd, MinibatchDiscrimination)
    assert mbd.params["T"].shape == (128, 5, 3) and last.in_shape == (133,)
    plain = build()
    assert plain.instance_noise is None and plain.replay is None
    assert not any(isinstance(layer, MinibatchDiscrimination) for layer in plain.gan.D.layers)


@pytest.mark.parametrize("remedy", list(REMEDIES))
def test_config_toml_keeps_them_and_resume_is_bit_for_bit(backend, tmp_path, remedy):
    flags = REMEDIES[remedy]
    quiet = {"out": io.StringIO(), "err": io.StringIO()}
    straight, split = tmp_path / "straight", tmp_path / "split"
    run.train(config(**flags), straight, **quiet)
    run.train(config(**flags, iterations=13), split, **quiet)
    resumed = resolve_config({"iterations": 30}, base=run.read_run_config(split))
    run.train(resumed, split, resume=True, **quiet)
    text = (straight / "config.toml").read_text()
    for key, value in flags.items():
        written = f'"{value}"' if isinstance(value, str) else value
        assert f"{key} = {written}\n" in text, key
    with (
        np.load(straight / "checkpoints" / "last.npz") as a,
        np.load(split / "checkpoints" / "last.npz") as b,
    ):
        assert a.files == b.files
        assert ("replay/x" in a.files) == ("replay" in flags)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # The control: the same run without the remedy ends elsewhere.
    plain = tmp_path / "plain"
    base = {k: v for k, v in flags.items() if k in ("optimizer", "lr", "k")}
    run.train(config(**base), plain, **quiet)
    with (
        np.load(straight / "checkpoints" / "last.npz") as a,
        np.load(plain / "checkpoints" / "last.npz") as b,
    ):
        assert not np.array_equal(a["G/0.W"], b["G/0.W"])
    key, value = next(iter(flags.items()))
    other = {"label_smoothing": 0.8, "loss": "cross-entropy", "g_loss": "non-saturating"}.get(
        key, 0.0 if not isinstance(value, str) else ""
    )
    changed = resolve_config({key: other, "iterations": 40}, base=run.read_run_config(split))
    with pytest.raises(RunError, match=f"was trained with {key} = "):
        run.train(changed, split, resume=True, **quiet)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--label-smoothing", "0"], "--label-smoothing is D's target on data, in (0, 1]"),
        (["--label-smoothing", "1.5"], "--label-smoothing is D's target on data, in (0, 1]"),
        (["--label-smoothing", "nan"], "--label-smoothing is D's target on data"),
        (["--label-noise", "0.5"], "--label-noise is the probability of flipping"),
        (["--label-noise", "-0.1"], "--label-noise is the probability of flipping"),
        (["--label-noise", "x"], "argument --label-noise: invalid float value: 'x'"),
        (["--loss", "hinge"], "--loss must be one of cross-entropy, least-squares"),
        (["--g-loss", "wasserstein"], "--g-loss must be one of minimax, non-saturating, feature"),
        (["--loss", "least-squares", "--g-loss", "minimax"], "least squares has its own G loss"),
        (
            ["--loss", "least-squares", "--label-smoothing", "0.9"],
            "--label-smoothing sets targets of the cross-entropy game",
        ),
        (["--instance-noise", "-1"], "--instance-noise is the std of the noise"),
        (["--instance-noise", "inf"], "--instance-noise is the std of the noise"),
        (["--instance-noise-iterations", "-5"], "--instance-noise-iterations must be"),
        (["--replay", "1"], "--replay is the share of D's fakes"),
        (["--replay", "-0.5"], "--replay is the share of D's fakes"),
        (["--minibatch-discrimination", "16"], "--minibatch-discrimination takes B,C"),
        (["--minibatch-discrimination", "0,5"], "--minibatch-discrimination takes B,C"),
        (["--minibatch-discrimination", "a,b"], "--minibatch-discrimination takes B,C"),
    ],
)
def test_bad_values_are_one_line(backend, tmp_path, capsys, flags, message):
    try:
        code = main(["train", "--dataset", "ring8", "--out", str(tmp_path / "r"), *flags])
    except SystemExit as usage:  # argparse's usage errors leave this way (exit 2)
        code = usage.code
    assert code != 0
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line, line
    assert not Path(tmp_path / "r").exists()


def test_a_least_squares_1d_run_evaluates_and_plots_without_a_sigmoid(backend, tmp_path):
    """D's output is a regression: the evaluation reports -L_D against -1/4 and the figure
    draws D's own output (kept within [0, 1] where an early D overshoots)."""
    quiet = {"out": io.StringIO(), "err": io.StringIO()}
    cfg = resolve_config({"dataset": "toy1d", "loss": "least-squares", "iterations": 40})
    run.train(cfg, tmp_path / "r", **quiet)
    out = io.StringIO()
    metrics = results.evaluate_run(tmp_path / "r", 2000, out)
    assert (
        "-L_D (least squares)" in out.getvalue() and "(at the optimum = -0.2500)" in out.getvalue()
    )
    assert metrics["value_gap"] == pytest.approx(metrics["value"] + 0.25)
    names = {path.name for path in results.plot_run(tmp_path / "r", out)}
    assert {"loss_curves.png", "figure1d.png"} <= names
