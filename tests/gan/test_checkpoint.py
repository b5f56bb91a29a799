"""Checkpoints: exact resume, atomic writes, clear errors."""

import numpy as np
import pytest

import numgan as ng
from numgan.gan import checkpoint


def paper_like(seed=0):
    """BatchNorm in G, Maxout + Dropout in D, Adam for G: every kind of state a run holds."""
    G = ng.Sequential([ng.Dense(4, 16), ng.BatchNorm(16), ng.ReLU(), ng.Dense(16, 6), ng.Sigmoid()])
    D = ng.Sequential([ng.Dropout(0.2), ng.Maxout(6, 8, 3), ng.Dropout(0.5), ng.Dense(8, 1)])
    data = np.random.default_rng(5).uniform(size=(200, 6))
    return ng.Trainer(
        ng.GAN(G, D, ng.UniformNoise(4)),
        data,
        batch_size=16,
        k=2,
        seed=seed,
        opt_g=ng.Adam(lr=1e-3),
        opt_d=ng.SGD(lr=0.05, momentum=0.5),
    )


def toy(seed=0):
    return ng.Trainer(
        ng.models.toy1d(),
        ng.Gaussian1D(),
        batch_size=32,
        seed=seed,
        opt_g=ng.SGD(lr=0.05, momentum=0.5),
        opt_d=ng.SGD(lr=0.05, momentum=0.5),
    )


def full_state(trainer):
    state = checkpoint.trainer_state(trainer)
    del state["config"]
    return state


@pytest.mark.parametrize("make", [paper_like, toy], ids=["layers", "fused-when-numba"])
def test_resume_is_bit_identical(make, tmp_path):
    straight = make()
    straight.train(30)

    first = make()
    first.train(15)
    path = checkpoint.save(tmp_path / "last.npz", first, {"seed": 0})
    resumed = make(seed=123)  # a different seed: everything must come from the checkpoint
    checkpoint.restore(resumed, checkpoint.load(path))
    assert resumed.iteration == 15
    resumed.train(15)

    a, b = full_state(straight), full_state(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_write_is_atomic(tmp_path, monkeypatch):
    trainer = toy()
    trainer.train(3)
    path = checkpoint.save(tmp_path / "last.npz", trainer)
    before = path.read_bytes()
    trainer.train(3)

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # a kill in the middle of the write

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, trainer)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.npz"]  # no temporary left behind
    monkeypatch.undo()
    assert checkpoint.load(path)["iteration"] == 3


def test_bad_checkpoints_are_named(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="no such checkpoint"):
        checkpoint.load(tmp_path / "missing.npz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip at all")
    with pytest.raises(checkpoint.CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(broken)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(checkpoint.CheckpointError, match="not a numgan checkpoint"):
        checkpoint.load(other)
    trainer = toy()
    trainer.train(2)
    path = checkpoint.save(tmp_path / "toy.npz", trainer)
    with pytest.raises(checkpoint.CheckpointError, match="does not match this model"):
        checkpoint.restore(paper_like(), checkpoint.load(path))
