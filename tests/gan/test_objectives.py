"""The GAN objectives on logits: values, gradients, and finiteness for extreme logits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numgan.gan.objectives import (
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
