"""--label-smoothing and --label-noise: D's targets from the command line and config files.

The objective already takes them (CrossEntropy(real_target=, label_noise=), tested in
tests/gan/); here: a run with the flags trains exactly as a Trainer given that objective,
writes them into config.toml, resumes bit for bit (the flips come from the run's Generator,
which the checkpoint holds), and refuses bad values in one line.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from numgan.app import run
from numgan.app.cli import main
from numgan.app.config import RunError, resolve_config
from numgan.gan import Trainer
from numgan.gan.objectives import CrossEntropy


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


def test_config_toml_keeps_them_and_resume_is_bit_for_bit(backend, tmp_path):
    quiet = {"out": io.StringIO(), "err": io.StringIO()}
    straight, split = tmp_path / "straight", tmp_path / "split"
    run.train(config(label_smoothing=0.9, label_noise=0.2), straight, **quiet)
    run.train(config(label_smoothing=0.9, label_noise=0.2, iterations=13), split, **quiet)
    resumed = resolve_config({"iterations": 30}, base=run.read_run_config(split))
    run.train(resumed, split, resume=True, **quiet)
    text = (straight / "config.toml").read_text()
    assert "label_smoothing = 0.9\n" in text and "label_noise = 0.2\n" in text
    with (
        np.load(straight / "checkpoints" / "last.npz") as a,
        np.load(split / "checkpoints" / "last.npz") as b,
    ):
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    changed = resolve_config(
        {"label_noise": 0.3, "iterations": 40}, base=run.read_run_config(split)
    )
    with pytest.raises(RunError, match="has label_noise = 0.2, not 0.3"):
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
