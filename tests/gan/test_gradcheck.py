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
        ng.LeastSquares(),
        ng.FeatureMatching(ng.CrossEntropy()),
        ng.FeatureMatching(ng.LeastSquares(), layers=1),
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


def test_minibatch_discrimination_in_d_under_every_objective():
    """D with a MinibatchDiscrimination layer before its logit, as --minibatch-discrimination
    builds it: every parameter's gradient, T included, for the cross-entropy, least-squares
    and feature-matching games (whose features then include the layer's o(x)).

    T is drawn 20 times wider than its default N(0, 0.05^2) and the step is 1e-4, so that no
    step moves a component of M_i - M_j across the kink of |.| (at the default scale those
    differences are about as small as a step of 1e-3)."""
    rng = np.random.default_rng(6)
    gan = ng.models.with_minibatch_discrimination(small_gan(rng), kernels=3, kernel_dims=2)
    gan.D.initialize(rng)
    gan.D.layers[2].params["T"] *= 20
    gan.G.layers[2].params["W"] *= 5  # fakes spread out too: their M differences are not tiny
    x, z_d, z_g = rng.normal(size=(6, 3)), rng.uniform(-1, 1, (6, 2)), rng.uniform(-1, 1, (6, 2))
    T = gan.D.layers[2].params["T"].reshape(4, 6)
    for batch in (x, gan.G.forward(z_d), gan.G.forward(z_g)):
        M = gan.D.layers[1].forward(gan.D.layers[0].forward(batch)) @ T
        gaps = np.abs(M[:, None] - M[None])[~np.eye(6, dtype=bool)]
        assert gaps.min() > 5e-4, gaps.min()  # several steps of 1e-4 from every kink
    for objective in (ng.CrossEntropy(), ng.LeastSquares(), ng.FeatureMatching()):
        errors = check_gan_objectives(gan, x, z_d, z_g, objective=objective, h=1e-4)
        assert "2.T" in errors["D"] and "3.W" in errors["D"]
        for net in ("D", "G"):
            worst = max(errors[net], key=errors[net].get)
            assert errors[net][worst] < TOLERANCE, (objective, net, worst, errors[net][worst])


def test_a_wrong_feature_matching_gradient_is_caught():
    """Negative control for G's side: feature matching's gradient with the wrong sign."""

    class WrongSign(ng.FeatureMatching):
        def g_loss_features(self, f_real, f_fake):
            loss, grad = super().g_loss_features(f_real, f_fake)
            return loss, -grad

    rng = np.random.default_rng(5)
    gan = small_gan(rng)
    x, z = rng.normal(size=(6, 3)), rng.uniform(-1, 1, (6, 2))
    errors = check_gan_objectives(gan, x, z, objective=WrongSign())
    assert max(errors["G"].values()) > 0.5
    assert max(errors["D"].values()) < TOLERANCE


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
    # A convolution's bias right before BatchNorm (G's 4.b, D's 3.b) shifts a whole channel,
    # which BatchNorm's mean takes away: its gradient is exactly 0, and both sides show only
    # rounding (the difference quotient one unit in the last place of the loss over 2h, about
    # 1e-13), where a relative error compares two roundings.  So: the analytic gradient (left in
    # the layer by the check) is 0 to 1e-12, and the error, |a - n| / 1e-8 while |a| + |n| is
    # below the floor of 1e-8, says |a - n| < 1e-12; a numerical gradient of any size would
    # make it about 1.
    for net, name in (("G", "4.b"), ("D", "3.b")):
        layer = getattr(gan, net).layers[int(name[0])]
        assert np.abs(layer.grads["b"]).max() < 1e-12, (net, name, layer.grads["b"])
        assert errors[net].pop(name) < 1e-4, (net, name)
    for net in ("D", "G"):
        worst = max(errors[net], key=errors[net].get)
        assert errors[net][worst] < TOLERANCE, (net, worst, errors[net][worst])
