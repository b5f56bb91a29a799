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


def test_dcgan_objectives_reach_every_conv_and_batchnorm_parameter():
    """The dcgan preset at 8x8 in float64, narrowed to 4 channels so the differences are quick:
    every G and D parameter's gradient, through BatchNorm over (N, C, H, W), the transposed
    convolutions in G and the strided ones in D.  Two changes make the function smooth at the
    step h: He weights instead of N(0, 0.02) (a step of 1e-3 is not small next to 0.02 once
    BatchNorm rescales it), and tanh in place of (Leaky)ReLU, whose kinks a step can cross."""
    rng = np.random.default_rng(3)
    gan = ng.models.dcgan(image_shape=(8, 8), channels=4, noise_dim=3, dtype=F64)
    for net in (gan.G, gan.D):
        for i, layer in enumerate(net.layers):
            if "W" in layer.params:
                layer.init = "he"
            if isinstance(layer, (ng.ReLU, ng.LeakyReLU)):
                net.layers[i] = ng.Tanh()
        net.initialize(rng)
    x = rng.uniform(-1, 1, size=(4, 64))
    z_d, z_g = rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, (4, 3))
    errors = check_gan_objectives(gan, x, z_d, z_g)
    assert {"4.W", "4.b", "7.W", "2.gamma", "5.beta"} <= set(errors["G"])
    assert {"1.W", "1.b", "3.W", "4.gamma", "7.W"} <= set(errors["D"])
    for net in ("D", "G"):
        worst = max(errors[net], key=errors[net].get)
        assert errors[net][worst] < TOLERANCE, (net, worst, errors[net][worst])
