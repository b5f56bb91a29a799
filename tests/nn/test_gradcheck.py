"""The gradient checker itself: it must agree with known derivatives and catch wrong ones."""

import numpy as np
import pytest

import numgan as ng
from numgan.gan.gradcheck import check_gan_objectives
from numgan.nn.gradcheck import (
    TOLERANCE,
    check_layer,
    check_network,
    numerical_gradient,
    rel_error,
)

F64 = np.float64


def test_numerical_gradient_of_a_known_function():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    A = rng.normal(size=(3, 4))
    # f(x) = sum(A * x**3) has df/dx = 3 A x**2
    num = numerical_gradient(lambda: float(np.sum(A * x**3)), x)
    assert rel_error(3 * A * x**2, num) < 1e-8


def test_numerical_gradient_restores_x_and_refuses_float32():
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    before = x.copy()
    numerical_gradient(lambda: float(np.sum(np.sin(x))), x)
    assert np.array_equal(x, before)
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, x.astype(np.float32))


def test_rel_error():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.array([1.0]), np.array([-1.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


class DenseWrongWeightGrad(ng.Dense):
    """dW without the sum over the batch done right: uses only the first row."""

    def backward(self, dout, param_grads=True):
        (x,) = self.cache
        if param_grads:
            self.grads["W"] += np.outer(x[0], dout[0])
            self.grads["b"] += dout.sum(axis=0)
        return dout @ self.params["W"].T


class BatchNormZeroDx(ng.BatchNorm):
    """Right parameter gradients, but dx = 0: the classic bug an all-ones dout cannot see."""

    def backward(self, dout, param_grads=True):
        super().backward(dout, param_grads)
        return np.zeros_like(dout)


def test_negative_control_wrong_weight_gradient_is_caught():
    rng = np.random.default_rng(1)
    layer = DenseWrongWeightGrad(4, 3, init="glorot", rng=rng, dtype=F64)
    errors = check_layer(layer, rng.normal(size=(5, 4)), rng=rng)
    assert errors["x"] < TOLERANCE and errors["b"] < TOLERANCE  # the correct parts pass
    assert errors["W"] > 1e-2  # the broken one is caught, far above the tolerance


def test_negative_control_zero_dx_is_caught_with_random_upstream_gradient():
    rng = np.random.default_rng(2)
    layer = BatchNormZeroDx(3, dtype=F64)
    x = rng.normal(size=(6, 3))
    assert check_layer(layer, x, rng=rng)["x"] > 0.5
    # Why the upstream gradient must be random: with dout = ones the true dx of a batch-mode
    # BatchNorm is 0 (sum(gamma * xhat) does not depend on x), so a zero dx is right up to
    # round-off and no tolerance can tell the broken layer from a correct one.
    ones = np.ones((6, 3))
    num = numerical_gradient(lambda: float(np.sum(layer.forward(x) * ones)), x)
    assert np.abs(num).max() < 1e-8


def test_negative_control_in_a_network_and_in_the_gan_objective():
    rng = np.random.default_rng(3)
    bad = DenseWrongWeightGrad(4, 1, init="glorot")
    net = ng.Sequential([ng.Dense(2, 4, init="glorot"), ng.Tanh(), bad], dtype=F64, rng=rng)
    errors = check_network(net, rng.normal(size=(5, 2)), rng=rng)
    assert errors["2.W"] > 1e-2 and errors["0.W"] < TOLERANCE

    G = ng.Sequential(
        [ng.Dense(2, 3, init="glorot"), ng.Tanh(), ng.Dense(3, 2, init="glorot")],
        dtype=F64,
        rng=rng,
    )
    D = ng.Sequential(
        [ng.Dense(2, 4, init="glorot"), ng.Tanh(), DenseWrongWeightGrad(4, 1, init="glorot")],
        dtype=F64,
        rng=rng,
    )
    gan = ng.GAN(G, D, ng.UniformNoise(2))
    errors = check_gan_objectives(gan, rng.normal(size=(5, 2)), rng.uniform(-1, 1, (5, 2)))
    assert errors["D"]["2.W"] > 1e-2
    assert max(errors["G"].values()) < TOLERANCE  # G's gradient uses D's dx, which is right


def test_checks_refuse_float32():
    layer = ng.Dense(2, 2, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="float64"):
        check_layer(layer, np.ones((3, 2)))
