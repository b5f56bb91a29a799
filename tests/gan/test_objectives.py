"""The GAN objectives on logits: values, gradients, and finiteness for extreme logits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numgan.gan.objectives import (
    CrossEntropy,
    discriminator_loss,
    gan_value,
    generator_loss,
    neg_log_d,
    neg_log_one_minus_d,
    softplus,
)
from numgan.nn.gradcheck import numerical_gradient, rel_error


def naive_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


@given(m=st.integers(1, 8), s=st.integers(0, 2**32 - 1))
def test_values_match_the_printed_formulas(m, s):
    """For moderate logits the log-sigmoid form agrees with the plain formula of the paper."""
    rng = np.random.default_rng(s)
    a_real, a_fake = rng.normal(scale=3, size=(m, 1)), rng.normal(scale=3, size=(m, 1))
    d_real, d_fake = naive_sigmoid(a_real), naive_sigmoid(a_fake)
    loss, _, _ = discriminator_loss(a_real, a_fake)
    assert loss == pytest.approx(-np.mean(np.log(d_real) + np.log(1 - d_fake)), rel=1e-12)
    assert gan_value(a_real, a_fake) == pytest.approx(-loss, rel=1e-15)
    minimax, _ = generator_loss(a_fake, "minimax")
    assert minimax == pytest.approx(np.mean(np.log(1 - d_fake)), rel=1e-12)
    ns, _ = generator_loss(a_fake, "non-saturating")
    assert ns == pytest.approx(-np.mean(np.log(d_fake)), rel=1e-12)


@given(m=st.integers(1, 8), s=st.integers(0, 2**32 - 1))
def test_gradients_wrt_logits(m, s):
    rng = np.random.default_rng(s)
    # |a| <= 4 keeps each sigmoid-sized gradient large against the loss's round-off / h;
    # the extreme logits are checked exactly in test_extreme_logits_give_finite_exact_values.
    a_real, a_fake = rng.uniform(-4, 4, size=(m, 1)), rng.uniform(-4, 4, size=(m, 1))
    _, da_real, da_fake = discriminator_loss(a_real, a_fake)
    assert (
        rel_error(
            da_real, numerical_gradient(lambda: discriminator_loss(a_real, a_fake)[0], a_real)
        )
        < 1e-7
    )
    assert (
        rel_error(
            da_fake, numerical_gradient(lambda: discriminator_loss(a_real, a_fake)[0], a_fake)
        )
        < 1e-7
    )
    for kind in ("minimax", "non-saturating"):
        _, da = generator_loss(a_fake, kind)
        num = numerical_gradient(lambda kind=kind: generator_loss(a_fake, kind)[0], a_fake)
        assert rel_error(da, num) < 1e-7, kind
    for half in (neg_log_d, neg_log_one_minus_d):
        _, da = half(a_fake)
        assert rel_error(da, numerical_gradient(lambda half=half: half(a_fake)[0], a_fake)) < 1e-7


def test_extreme_logits_give_finite_exact_values():
    big = 1e4
    a = np.array([[big], [-big]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        assert softplus(np.array([big, -big])).tolist() == [big, 0.0]
        # D certain and right on data, certain and right on fakes: zero loss, zero gradient.
        loss, da_real, da_fake = discriminator_loss(np.array([[big]]), np.array([[-big]]))
        assert loss == 0.0 and da_real[0, 0] == 0.0 and da_fake[0, 0] == 0.0
        # Certain and wrong: loss grows linearly with the logit, gradient is -1/m and +1/m.
        loss, da_real, da_fake = discriminator_loss(np.array([[-big]]), np.array([[big]]))
        assert loss == 2 * big and da_real[0, 0] == -1.0 and da_fake[0, 0] == 1.0
        loss, da = generator_loss(a, "non-saturating")
        assert loss == big / 2 and da.ravel().tolist() == [0.0, -0.5]
        loss, da = generator_loss(a, "minimax")
        assert loss == -big / 2 and da.ravel().tolist() == [-0.5, 0.0]


def test_minimax_saturates_where_non_saturating_does_not():
    """Section 3 of the paper: early on D rejects fakes (a << 0) and log(1 - D) saturates."""
    a = np.array([[-10.0]])
    _, d_minimax = generator_loss(a, "minimax")
    _, d_ns = generator_loss(a, "non-saturating")
    assert abs(d_minimax[0, 0]) < 1e-4 < 0.99 < abs(d_ns[0, 0])


def test_value_at_the_optimum_is_minus_log_4():
    zeros = np.zeros((5, 1))  # D = 1/2 everywhere
    assert gan_value(zeros, zeros) == pytest.approx(-np.log(4.0), rel=1e-15)


def test_float32_logits_stay_float32():
    a = np.zeros((3, 1), dtype=np.float32)
    assert discriminator_loss(a, a)[1].dtype == np.float32
    assert generator_loss(a, "minimax")[1].dtype == np.float32


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="unknown g_loss 'wasserstein'.*minimax"):
        generator_loss(np.zeros((2, 1)), "wasserstein")
    with pytest.raises(ValueError, match=r"shape \(m, 1\).*got \(4,\)"):
        discriminator_loss(np.zeros(4), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="empty"):
        generator_loss(np.zeros((0, 1)))


# -- objectives as objects -----------------------------------------------------------------


def objective_losses(objective, a, seed):
    """The three losses of an objective, each half with its own replayed Generator."""
    return {
        "d_real": lambda: objective.d_loss_real(a, np.random.default_rng(seed)),
        "d_fake": lambda: objective.d_loss_fake(a, np.random.default_rng(seed)),
        "g": lambda: objective.g_loss(a),
    }


@given(
    m=st.integers(1, 8),
    s=st.integers(0, 2**32 - 1),
    g_loss=st.sampled_from(["minimax", "non-saturating"]),
    real_target=st.sampled_from([1.0, 0.9, 0.7]),
    label_noise=st.sampled_from([0.0, 0.2, 0.45]),
)
def test_cross_entropy_gradients_with_any_targets(m, s, g_loss, real_target, label_noise):
    """Each of D's halves and G's loss against central differences, targets other than 0/1."""
    objective = CrossEntropy(g_loss, real_target=real_target, label_noise=label_noise)
    a = np.random.default_rng(s).uniform(-4, 4, size=(m, 1))
    for name, f in objective_losses(objective, a, s).items():
        _, da = f()
        num = numerical_gradient(lambda f=f: f()[0], a)
        assert rel_error(da, num) < 1e-7, name


def test_smoothed_and_noisy_targets_are_what_the_formula_says():
    a = np.random.default_rng(0).normal(size=(6, 1)) * 2
    d = 1.0 / (1.0 + np.exp(-a))
    loss, da = CrossEntropy(real_target=0.9).d_loss_real(a)
    plain = -(0.9 * np.log(d) + 0.1 * np.log(1 - d)).mean()
    assert loss == pytest.approx(plain, rel=1e-12)
    np.testing.assert_allclose(da, (d - 0.9) / 6, rtol=1e-10)
    # Label noise flips each target with probability p, drawn from the Generator given.
    noisy = CrossEntropy(real_target=0.9, label_noise=0.3)
    flips = np.random.default_rng(5).random((6, 1)) < 0.3
    t = np.where(flips, 0.0, 0.9)
    loss, da = noisy.d_loss_real(a, np.random.default_rng(5))
    assert loss == pytest.approx(-(t * np.log(d) + (1 - t) * np.log(1 - d)).mean(), rel=1e-12)
    np.testing.assert_allclose(da, (d - t) / 6, rtol=1e-10)
    t_fake = np.where(flips, 0.9, 0.0)
    _, da = noisy.d_loss_fake(a, np.random.default_rng(5))
    np.testing.assert_allclose(da, (d - t_fake) / 6, rtol=1e-10)
    with pytest.raises(ValueError, match="pass rng"):
        noisy.d_loss_real(a)


def test_cross_entropy_is_finite_for_extreme_logits_with_any_target():
    a = np.array([[1e4], [-1e4]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        for objective in (CrossEntropy(real_target=0.9), CrossEntropy("minimax")):
            for loss, da in (
                objective.d_loss_real(a),
                objective.d_loss_fake(a),
                objective.g_loss(a),
            ):
                assert np.isfinite(loss) and np.isfinite(da).all()
        loss, da = CrossEntropy(real_target=0.9).d_loss_real(a)
        # 0.1 * softplus(1e4) + 0.9 * softplus(1e4) over m = 2, exact in float64
        assert loss == pytest.approx((0.1 * 1e4 + 0.9 * 1e4) / 2, rel=1e-15)
        np.testing.assert_allclose(da.ravel(), [0.1 / 2, -0.9 / 2], rtol=1e-15)


def test_the_functions_are_the_objective():
    a_real, a_fake = np.random.default_rng(1).normal(size=(2, 5, 1))
    objective = CrossEntropy("minimax")
    loss, da_real, da_fake = discriminator_loss(a_real, a_fake)
    assert loss == objective.d_loss_real(a_real)[0] + objective.d_loss_fake(a_fake)[0]
    np.testing.assert_array_equal(da_real, objective.d_loss_real(a_real)[1])
    np.testing.assert_array_equal(generator_loss(a_fake, "minimax")[1], objective.g_loss(a_fake)[1])


def test_objective_arguments_are_checked():
    with pytest.raises(ValueError, match=r"real_target must be in \(0, 1\]"):
        CrossEntropy(real_target=1.5)
    with pytest.raises(ValueError, match=r"label_noise is a flip probability in \[0, 0.5\)"):
        CrossEntropy(label_noise=0.5)
    with pytest.raises(ValueError, match="unknown g_loss 'wgan'"):
        CrossEntropy("wgan")
