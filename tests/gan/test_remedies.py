"""The remedies in the trainer: instance noise, replay, least squares, feature matching.

Their gradients are checked in tests/gan/test_gradcheck.py; here: each does in a D or G step
exactly what its docstring says, with the run's Generator, and refuses bad arguments.
"""

from __future__ import annotations

import numpy as np
import pytest

import numgan as ng
from numgan.gan.objectives import FeatureMatching, LeastSquares
from numgan.gan.remedies import InstanceNoise, ReplayBuffer
from numgan.nn.gradcheck import numerical_gradient, rel_error


def small_gan(dtype=np.float64):
    G = ng.Sequential([ng.Dense(2, 8), ng.Tanh(), ng.Dense(8, 2)], dtype=dtype)
    D = ng.Sequential([ng.Dense(2, 8), ng.Tanh(), ng.Dense(8, 1)], dtype=dtype)
    return ng.GAN(G, D, ng.GaussianNoise(2))


def data(n=64, seed=9):
    return np.random.default_rng(seed).normal(size=(n, 2))


# -- least squares ---------------------------------------------------------------------------


def test_least_squares_losses_and_gradients():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 1))
    ls = LeastSquares()
    for method, target in ((ls.d_loss_real, 1.0), (ls.d_loss_fake, 0.0), (ls.g_loss, 1.0)):
        loss, grad = method(a)
        assert loss == pytest.approx(0.5 * np.mean((a - target) ** 2), rel=1e-14)
        assert rel_error(grad, numerical_gradient(lambda m=method: m(a)[0], a)) < 1e-8
    assert np.array_equal(ls.score(a), a)  # no sigmoid of a regression output
    # At the optimum D = 1/2 on both halves: L_D = 1/4, the value -1/4.
    half = np.full((5, 1), 0.5)
    assert ls.value(half, half) == pytest.approx(ls.value_at_optimum, abs=1e-15)
    assert ls.value_at_optimum == -0.25
    assert ls.fused_targets() is None


def test_least_squares_refuses_a_cross_entropy_g_loss():
    with pytest.raises(ValueError, match="leave g_loss at its default"):
        LeastSquares("minimax")


# -- feature matching ------------------------------------------------------------------------


def test_feature_matching_loss_is_the_squared_distance_of_the_means():
    rng = np.random.default_rng(1)
    f_real, f_fake = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    fm = FeatureMatching()
    loss, grad = fm.g_loss_features(f_real, f_fake)
    diff = f_real.mean(0) - f_fake.mean(0)
    assert loss == pytest.approx(float(diff @ diff), rel=1e-14)
    num = numerical_gradient(lambda: fm.g_loss_features(f_real, f_fake)[0], f_fake)
    assert rel_error(grad, num) < 1e-8


def test_feature_matching_checks_its_layers():
    with pytest.raises(ValueError, match="whole number >= 1"):
        FeatureMatching(layers=0)
    with pytest.raises(TypeError, match="D's objective"):
        FeatureMatching(FeatureMatching())
    gan = small_gan()
    with pytest.raises(ValueError, match="D has 3 layers, f would be 3"):
        ng.Trainer(gan, data(), objective=FeatureMatching(layers=3))
    with pytest.raises(TypeError, match="g_loss_features"):
        FeatureMatching().g_loss(np.zeros((2, 1)))


def test_feature_matching_g_step_draws_data_and_leaves_d_alone():
    """The G step of feature matching reads a data minibatch drawn after z, moves G by its
    loss's gradient (checked by finite differences elsewhere) and never touches D."""
    trainer = ng.Trainer(small_gan(), data(), batch_size=8, objective=FeatureMatching(), seed=3)
    d_before = trainer.gan.D.flat_params.copy()
    trainer.opt_d.step = lambda net: None  # keep D fixed to look at the G step alone
    g_before = trainer.gan.G.flat_params.copy()
    trainer.step()
    assert np.array_equal(trainer.gan.D.flat_params, d_before)
    assert not np.array_equal(trainer.gan.G.flat_params, g_before)
    assert trainer.history["g_loss"][0] >= 0  # a squared distance


# -- instance noise --------------------------------------------------------------------------


def test_instance_noise_is_annealed_linearly_to_zero():
    noise = InstanceNoise(0.4, iterations=10)
    assert [noise.std_at(t) for t in (0, 5, 10, 20)] == pytest.approx([0.4, 0.2, 0.0, 0.0])
    x = np.ones((3, 2), dtype=np.float32)
    rng = np.random.default_rng(0)
    noisy = noise.add(x, 5, rng)
    expected = x + 0.2 * np.random.default_rng(0).standard_normal((3, 2))
    assert noisy.dtype == np.float32
    np.testing.assert_allclose(noisy, expected, rtol=1e-6)
    state = rng.bit_generator.state
    assert noise.add(x, 10, rng) is x  # annealed away: nothing drawn
    assert rng.bit_generator.state == state


def test_instance_noise_reaches_d_in_both_steps():
    """A D step with instance noise equals a D step on inputs with the same draws added by
    hand; in the G step the fakes D sees are noisy as well."""
    noise = InstanceNoise(0.5, iterations=100)
    x, z = data(8), np.random.default_rng(4).normal(size=(8, 2))
    with_noise = ng.Trainer(small_gan(), data(), batch_size=8, instance_noise=noise, seed=5)
    by_hand = ng.Trainer(small_gan(), data(), batch_size=8, seed=5)
    assert np.array_equal(with_noise.gan.D.flat_params, by_hand.gan.D.flat_params)
    draws = np.random.default_rng(0)
    draws.bit_generator.state = with_noise.rng.bit_generator.state
    x_fake = by_hand.gan.G.forward(z, training=True).copy()
    x_noisy = x + 0.5 * draws.standard_normal(x.shape)
    fake_noisy = x_fake + 0.5 * draws.standard_normal(x_fake.shape)

    class Fixed:  # G's output replaced by the noisy fakes, so d_step adds no noise of its own
        def forward(self, z, training=True):
            return fake_noisy

    with_noise.d_step(x, z)
    by_hand.gan.G, real_G = Fixed(), by_hand.gan.G
    by_hand.d_step(x_noisy, z)
    by_hand.gan.G = real_G
    np.testing.assert_allclose(with_noise.gan.D.flat_params, by_hand.gan.D.flat_params, rtol=1e-12)
    # The control: the same D step without noise moves D elsewhere.
    without = ng.Trainer(small_gan(), data(), batch_size=8, seed=5)
    without.d_step(x, z)
    assert not np.allclose(with_noise.gan.D.flat_params, without.gan.D.flat_params, rtol=1e-6)


def test_instance_noise_and_replay_are_not_fused():
    def toy(**remedy):
        sgd = {"opt_g": ng.SGD(lr=0.01), "opt_d": ng.SGD(lr=0.01)}
        return ng.Trainer(ng.models.toy2d(), data(), batch_size=8, **sgd, **remedy)

    assert not toy(instance_noise=InstanceNoise(0.1, iterations=10), fused="auto").uses_fused
    assert not toy(replay=ReplayBuffer(0.5, capacity=16), fused="auto").uses_fused
    with pytest.raises(ValueError, match="no instance noise or replay"):
        toy(replay=ReplayBuffer(0.5, capacity=16), fused=True)


@pytest.mark.parametrize(
    "args, match",
    [
        ((0.0,), "positive number"),
        ((float("nan"),), "positive number"),
        ((-1.0,), "positive number"),
    ],
)
def test_instance_noise_refuses_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        InstanceNoise(*args, iterations=10)
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        InstanceNoise(0.1, iterations=0)
    with pytest.raises(ValueError, match="whole number"):
        InstanceNoise(0.1, iterations=2.5)


# -- replay ------------------------------------------------------------------------------------


def test_replay_mixes_in_earlier_samples_once_it_holds_enough():
    buffer = ReplayBuffer(0.25, capacity=10)
    rng = np.random.default_rng(0)
    first = np.arange(8.0).reshape(4, 2)
    assert buffer.mix(first, rng) is first  # empty: D sees G's samples alone
    assert len(buffer) == 4 and np.array_equal(buffer.x[:4], first)
    second = 100 + np.arange(8.0).reshape(4, 2)
    check = np.random.default_rng(0)
    check.bit_generator.state = rng.bit_generator.state
    mixed = buffer.mix(second, rng)
    pick = check.integers(0, 4, size=1)  # r = round(0.25 * 4) = 1 row, from the 4 stored
    assert np.array_equal(mixed[:3], second[:3])
    assert np.array_equal(mixed[3:], first[pick])
    assert len(buffer) == 8 and np.array_equal(buffer.x[4:8], second)
    third = 200 + np.arange(8.0).reshape(4, 2)
    buffer.mix(third, rng)  # 2 free slots, then 2 random ones
    assert len(buffer) == 10
    assert np.array_equal(buffer.x[8:10], third[:2])
    assert sum(np.array_equal(row, r) for row in buffer.x for r in third[2:]) >= 1


def test_replay_state_round_trip():
    buffer = ReplayBuffer(0.5, capacity=6)
    rng = np.random.default_rng(1)
    buffer.push(rng.normal(size=(4, 2)).astype(np.float32), rng)
    other = ReplayBuffer(0.5, capacity=6)
    other.load_state_dict(buffer.state_dict(), np.float32)
    assert len(other) == 4 and np.array_equal(other.x[:4], buffer.x[:4])
    assert ReplayBuffer(0.5, capacity=6).state_dict() == {}


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, "half"])
def test_replay_refuses_bad_fractions(fraction):
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        ReplayBuffer(fraction, capacity=4)


def test_replay_refuses_bad_capacity_and_trainer_arguments():
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        ReplayBuffer(0.5, capacity=0)
    with pytest.raises(TypeError, match="ReplayBuffer or None"):
        ng.Trainer(small_gan(), data(), replay=0.5)
    with pytest.raises(TypeError, match="InstanceNoise or None"):
        ng.Trainer(small_gan(), data(), instance_noise=0.1)


def test_replay_is_saved_and_resumed_bit_for_bit(tmp_path):
    """N iterations, a checkpoint, N more equal 2N straight: the buffer's samples are in it."""

    def trainer():
        return ng.Trainer(
            small_gan(np.float32),
            data(),
            batch_size=8,
            seed=2,
            replay=ReplayBuffer(0.5, capacity=20),
        )

    straight = trainer()
    straight.train(12)
    first = trainer()
    first.train(6)
    ng.gan.checkpoint.save(tmp_path / "c.npz", first)
    second = trainer()
    ng.gan.checkpoint.restore(second, ng.gan.checkpoint.load(tmp_path / "c.npz"))
    assert len(second.replay) == len(first.replay) == 20
    second.train(6)
    assert np.array_equal(second.gan.G.flat_params, straight.gan.G.flat_params)
    assert np.array_equal(second.gan.D.flat_params, straight.gan.D.flat_params)
    plain = ng.Trainer(small_gan(np.float32), data(), batch_size=8, seed=2)
    with pytest.raises(ng.gan.checkpoint.CheckpointError, match="has no replay"):
        ng.gan.checkpoint.restore(plain, ng.gan.checkpoint.load(tmp_path / "c.npz"))
    plain.train(1)
    ng.gan.checkpoint.save(tmp_path / "plain.npz", plain)
    with pytest.raises(ng.gan.checkpoint.CheckpointError, match="has replay"):
        ng.gan.checkpoint.restore(trainer(), ng.gan.checkpoint.load(tmp_path / "plain.npz"))


def test_mismatched_samples_and_features_are_refused_in_one_line():
    buffer = ReplayBuffer(0.5, capacity=4)
    rng = np.random.default_rng(0)
    buffer.push(np.zeros((2, 3)), rng)
    with pytest.raises(ValueError, match=r"samples of shape \(5,\) for a buffer of \(3,\)"):
        buffer.push(np.zeros((2, 5)), rng)
    with pytest.raises(ValueError, match="must have the same shape per sample"):
        FeatureMatching().g_loss_features(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="feature matching needs a data minibatch"):
        trainer = ng.Trainer(small_gan(), data(), batch_size=4, objective=FeatureMatching())
        trainer.g_step(np.zeros((4, 2)))
