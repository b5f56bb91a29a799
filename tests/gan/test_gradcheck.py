"""check_gan_objectives: the gradients the trainer applies, for every objective, in float64."""

import numpy as np
import pytest

import numgan as ng
from numgan.gan.gradcheck import check_gan_objectives
from numgan.nn.gradcheck import TOLERANCE

F64 = np.float64


def small_gan(rng):
    G = ng.Sequential(
        [ng.Dense(2, 5, init="glorot"), ng.Tanh(), ng.Dense(5, 3, init="glorot")], dtype=F64
    )
    D = ng.Sequential(
        [
            ng.Dense(3, 4, init="glorot"),
            ng.Tanh(),
            ng.Dense(4, 1, init="glorot"),
        ],
        dtype=F64,
    )
    G.initialize(rng)
    D.initialize(rng)
    return ng.GAN(G, D, ng.UniformNoise(2))


@pytest.mark.parametrize(
    "objective",
    [
        ng.CrossEntropy("minimax"),
        ng.CrossEntropy("non-saturating"),
        ng.CrossEntropy(real_target=0.9),
        ng.CrossEntropy("minimax", real_target=0.8, label_noise=0.3),
    ],
    ids=repr,
)
def test_every_objective_gradient_reaches_every_parameter(objective):
    rng = np.random.default_rng(0)
    gan = small_gan(rng)
    x, z_d, z_g = rng.normal(size=(6, 3)), rng.uniform(-1, 1, (6, 2)), rng.uniform(-1, 1, (6, 2))
    errors = check_gan_objectives(gan, x, z_d, z_g, objective=objective)
    assert set(errors["D"]) == {"0.W", "0.b", "2.W", "2.b"}
    assert set(errors["G"]) == {"0.W", "0.b", "2.W", "2.b"}
    for net in ("D", "G"):
        worst = max(errors[net], key=errors[net].get)
        assert errors[net][worst] < TOLERANCE, (net, worst, errors[net][worst])


def test_a_wrong_objective_gradient_is_caught():
    """Negative control: an objective whose D gradient on fakes is off by a factor shows."""

    class HalfFakeGradient(ng.CrossEntropy):
        def d_loss_fake(self, a_fake, rng=None):
            loss, da = super().d_loss_fake(a_fake, rng)
            return loss, 0.5 * da

    rng = np.random.default_rng(1)
    gan = small_gan(rng)
    x, z = rng.normal(size=(6, 3)), rng.uniform(-1, 1, (6, 2))
    errors = check_gan_objectives(gan, x, z, objective=HalfFakeGradient())
    assert max(errors["D"].values()) > 1e-2
    assert max(errors["G"].values()) < TOLERANCE


def test_g_loss_and_objective_together_are_refused():
    rng = np.random.default_rng(2)
    gan = small_gan(rng)
    with pytest.raises(ValueError, match="not both"):
        check_gan_objectives(
            gan, np.ones((2, 3)), np.ones((2, 2)), g_loss="minimax", objective=ng.CrossEntropy()
        )
