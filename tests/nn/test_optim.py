"""SGD with classical momentum and the schedules of the paper's MNIST run."""

import numpy as np
import pytest

import numgan as ng


def test_momentum_update_follows_the_formula():
    rng = np.random.default_rng(0)
    net = ng.Sequential([ng.Dense(3, 2)], dtype=np.float64, rng=rng)
    opt = ng.SGD(lr=0.1, momentum=0.9)
    theta = [p.copy() for p, _ in net.parameters()]
    v = [np.zeros_like(p) for p in theta]
    for _ in range(3):
        grads = [rng.normal(size=p.shape) for p in theta]
        for (_, g), new in zip(net.parameters(), grads, strict=True):
            g[...] = new
        opt.step(net)
        for i, g in enumerate(grads):
            v[i] = 0.9 * v[i] - 0.1 * g
            theta[i] = theta[i] + v[i]
    for (p, _), expected in zip(net.parameters(), theta, strict=True):
        np.testing.assert_allclose(p, expected, rtol=1e-14)
    assert opt.t == 3


def test_schedules():
    ramp = ng.LinearRamp(0.5, 0.7, steps=100)
    assert [ramp(0), ramp(50), ramp(100), ramp(10_000)] == pytest.approx([0.5, 0.6, 0.7, 0.7])
    decay = ng.ExponentialDecay(0.1, factor=1.000004, floor=1e-6)
    assert decay(0) == 0.1
    assert decay(1000) == pytest.approx(0.1 / 1.000004**1000, rel=1e-12)
    assert decay(10**8) == 1e-6
    # factor**t overflows a float after ~709 / ln(factor) steps; the decay must reach its floor
    assert ng.ExponentialDecay(0.1, factor=2.0)(1025) == 1e-6
    assert ng.ExponentialDecay(0.1, factor=1e30, floor=1e-7)(15) == 1e-7


def test_sgd_uses_the_schedule_at_each_step():
    net = ng.Sequential([ng.Dense(1, 1)], dtype=np.float64, rng=np.random.default_rng(0))
    opt = ng.SGD(lr=lambda t: 0.1 * (t + 1), momentum=0.0)
    (p, g), _ = net.parameters()
    g[...] = 1.0
    start = p.copy()
    opt.step(net)
    opt.step(net)
    np.testing.assert_allclose(p, start - 0.1 - 0.2, rtol=1e-14)


def test_one_optimiser_per_network():
    rng = np.random.default_rng(1)
    a = ng.Sequential([ng.Dense(2, 2)], rng=rng)
    b = ng.Sequential([ng.Dense(2, 2)], rng=rng)
    opt = ng.SGD()
    opt.step(a)
    with pytest.raises(ValueError, match="another network"):
        opt.step(b)


def test_state_dict_round_trip():
    rng = np.random.default_rng(2)
    net = ng.Sequential([ng.Dense(2, 2)], dtype=np.float64, rng=rng)
    opt = ng.SGD(lr=0.1, momentum=0.5)
    for _, g in net.parameters():
        g[...] = rng.normal(size=g.shape)
    opt.step(net)
    other = ng.SGD(lr=0.1, momentum=0.5)
    other.load_state_dict(opt.state_dict(), net)
    assert other.t == 1
    np.testing.assert_array_equal(opt.state["velocity"], other.state["velocity"])
    with pytest.raises(ValueError, match="this network needs"):
        ng.SGD().load_state_dict(opt.state_dict(), ng.Sequential([ng.Dense(3, 2)]))


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="lr must be a positive, finite number"):
        ng.SGD(lr=0.0)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        ng.SGD(momentum=1.0)


@pytest.mark.parametrize(
    "make", [lambda: ng.SGD(lr=0.1, momentum=0.9), lambda: ng.Adam(lr=1e-2)], ids=["sgd", "adam"]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_with_zero_grad_is_step_then_zero_grad(make, dtype):
    """step(net, zero_grad=True): the same update bit for bit, and the gradients zero after it,
    as step(net) followed by net.zero_grad()."""
    nets = [ng.Sequential([ng.Dense(3, 4), ng.Dense(4, 2)], dtype=dtype) for _ in range(2)]
    for net in nets:
        net.initialize(np.random.default_rng(1))
    opts = [make(), make()]
    rng = np.random.default_rng(2)
    for _ in range(3):
        grads = rng.normal(size=nets[0].flat_grads.shape).astype(dtype)
        for net in nets:
            net.flat_grads[...] = grads
        opts[0].step(nets[0], zero_grad=True)
        opts[1].step(nets[1])
        np.testing.assert_array_equal(nets[1].flat_grads, grads)  # step alone leaves them
        nets[1].zero_grad()
        np.testing.assert_array_equal(nets[0].flat_params, nets[1].flat_params)
        assert not nets[0].flat_grads.any()
