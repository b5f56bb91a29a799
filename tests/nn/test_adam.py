"""Adam against its formula, step by step."""

import numpy as np
import pytest

import numgan as ng


def test_adam_follows_the_formula():
    rng = np.random.default_rng(0)
    net = ng.Sequential([ng.Dense(3, 2)], dtype=np.float64, rng=rng)
    opt = ng.Adam(lr=2e-3, beta1=0.5, beta2=0.999, eps=1e-8)
    theta = [p.copy() for p, _ in net.parameters()]
    m = [np.zeros_like(p) for p in theta]
    v = [np.zeros_like(p) for p in theta]
    for t in range(1, 5):
        grads = [rng.normal(size=p.shape) for p in theta]
        for (_, g), new in zip(net.parameters(), grads, strict=True):
            g[...] = new
        opt.step(net)
        for i, g in enumerate(grads):
            m[i] = 0.5 * m[i] + 0.5 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            mhat, vhat = m[i] / (1 - 0.5**t), v[i] / (1 - 0.999**t)
            theta[i] = theta[i] - 2e-3 * mhat / (np.sqrt(vhat) + 1e-8)
    for (p, _), expected in zip(net.parameters(), theta, strict=True):
        np.testing.assert_allclose(p, expected, rtol=1e-12)
    assert opt.t == 4


def test_adam_first_step_moves_each_weight_by_about_lr():
    """With bias correction, step 1 is lr * g / (|g| + eps): every weight moves by ~lr."""
    net = ng.Sequential([ng.Dense(4, 4)], dtype=np.float64, rng=np.random.default_rng(1))
    start = [p.copy() for p, _ in net.parameters()]
    for _, g in net.parameters():
        g[...] = np.random.default_rng(2).normal(size=g.shape)
    ng.Adam(lr=1e-3).step(net)
    for (p, _), p0 in zip(net.parameters(), start, strict=True):
        np.testing.assert_allclose(np.abs(p - p0), 1e-3, rtol=1e-4)


def test_adam_state_and_errors():
    rng = np.random.default_rng(3)
    net = ng.Sequential([ng.Dense(2, 2)], dtype=np.float64, rng=rng)
    opt = ng.Adam()
    for _, g in net.parameters():
        g[...] = 1.0
    opt.step(net)
    other = ng.Adam()
    other.load_state_dict(opt.state_dict(), net)
    assert other.t == 1
    for name in ("m", "v"):
        assert np.array_equal(opt.state[name], other.state[name])
    with pytest.raises(ValueError, match="beta1 must be in"):
        ng.Adam(beta1=1.0)
    with pytest.raises(ValueError, match="another network"):
        opt.step(ng.Sequential([ng.Dense(2, 2)], rng=rng))


def test_trainer_with_adam_runs():
    gan = ng.models.toy1d()
    trainer = ng.Trainer(
        gan, ng.Gaussian1D(), batch_size=16, seed=0, opt_g=ng.Adam(lr=1e-3), opt_d=ng.Adam(lr=1e-3)
    )
    history = trainer.train(20)
    assert np.isfinite(history["d_loss"]).all() and trainer.opt_d.t == 20
