"""Sequential: gradients through a stack, modes, dtype, state, and clear errors on bad input."""

import numpy as np
import pytest

import numgan as ng
from numgan.nn.gradcheck import TOLERANCE, check_network

F64 = np.float64


def test_network_gradients_through_every_layer_kind():
    rng = np.random.default_rng(0)
    net = ng.Sequential(
        [
            ng.Dense(4, 6, init="glorot"),
            ng.Tanh(),
            ng.BatchNorm(6),
            ng.Maxout(6, 5, 2, init="glorot"),
            ng.LeakyReLU(0.2),
            ng.Dropout(0.3),
            ng.Dense(5, 3, init="glorot"),
            ng.Sigmoid(),
        ],
        dtype=F64,
        rng=rng,
    )
    x = rng.normal(size=(7, 4))
    net.forward(x)
    net.layers[5].fix_mask(net.layers[5].cache[0])
    errors = check_network(net, x, rng=rng)
    assert set(errors) == {"x"} | {name for name, _, _ in net.named_parameters()}
    assert max(errors.values()) < TOLERANCE, errors


def test_bias_right_before_batchnorm_has_zero_gradient():
    """BatchNorm subtracts the batch mean, so a bias just before it cannot change the output:
    its true gradient is exactly 0, and relative error is meaningless there.  Check it is ~0."""
    rng = np.random.default_rng(1)
    net = ng.Sequential(
        [ng.Dense(3, 4, init="glorot"), ng.BatchNorm(4), ng.Tanh()], dtype=F64, rng=rng
    )
    net.forward(rng.normal(size=(6, 3)))
    net.backward(rng.normal(size=(6, 4)))
    assert np.abs(net.layers[0].grads["b"]).max() < 1e-14
    assert np.abs(net.layers[0].grads["W"]).max() > 1e-3


def test_train_and_eval_modes():
    rng = np.random.default_rng(2)
    net = ng.Sequential([ng.Dense(3, 3, init="glorot"), ng.BatchNorm(3)], dtype=F64, rng=rng)
    x = rng.normal(size=(5, 3))
    train_out = net.forward(x)
    assert np.allclose(train_out.mean(0), 0.0)
    net.eval()
    np.testing.assert_array_equal(net.forward(x), net.forward(x, training=False))
    assert not np.allclose(net.forward(x).mean(0), 0.0)
    net.train()
    np.testing.assert_allclose(net.forward(x), train_out, rtol=1e-12)
    # A batch of one can only be normalised with running statistics.
    with pytest.raises(ValueError, match="at least 2 values per statistic"):
        net.forward(x[:1])
    assert net.forward(x[:1], training=False).shape == (1, 3)


def test_dtype():
    rng = np.random.default_rng(3)
    net32 = ng.Sequential([ng.Dense(2, 3), ng.BatchNorm(3)], rng=rng)
    net64 = ng.Sequential([ng.Dense(2, 3), ng.BatchNorm(3)], dtype=F64, rng=rng)
    assert all(p.dtype == np.float32 for p, _ in net32.parameters())
    assert all(p.dtype == F64 for p, _ in net64.parameters())
    assert net32.forward(np.ones((2, 2), dtype=F64)).dtype == np.float32
    with pytest.raises(ValueError, match="float32 or float64"):
        ng.Sequential([ng.Dense(2, 3)], dtype=np.int32)


def test_state_dict_round_trip_and_mismatch():
    rng = np.random.default_rng(4)

    def build():
        return ng.Sequential([ng.Dense(2, 3), ng.BatchNorm(3), ng.Dense(3, 1)])

    a = build().initialize(rng)
    a.forward(rng.normal(size=(4, 2)))  # moves BatchNorm's running statistics
    state = a.state_dict()
    assert {"1.running_mean", "1.running_var", "0.W", "2.b"} <= set(state)
    b = build()
    assert not b.initialized
    b.load_state_dict(state)
    assert b.initialized
    x = rng.normal(size=(3, 2))
    np.testing.assert_array_equal(a.forward(x, training=False), b.forward(x, training=False))
    state["0.W"] = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"0.W.*\(5, 3\).*\(2, 3\)"):
        b.load_state_dict(state)
    with pytest.raises(ValueError, match="missing"):
        b.load_state_dict({"0.W": np.zeros((2, 3))})


def test_shape_mismatch_between_layers_is_named_at_construction():
    with pytest.raises(
        ValueError,
        match=r"layer 2 Dense\(5, 1\) does not fit layer 1 ReLU\(\), which gives samples "
        r"of shape \(4,\): Dense\(5, 1\) expects samples of shape \(5,\)",
    ):
        ng.Sequential([ng.Dense(2, 4), ng.ReLU(), ng.Dense(5, 1)])
    with pytest.raises(ValueError, match=r"BatchNorm\(3\) expects samples of shape \(3,\)"):
        ng.Sequential([ng.Dense(2, 4), ng.BatchNorm(3)])
    with pytest.raises(TypeError, match="not a numgan Layer"):
        ng.Sequential([ng.Dense(2, 4), np.tanh])


def test_bad_forward_input_is_named():
    rng = np.random.default_rng(5)
    net = ng.Sequential([ng.Dense(2, 4), ng.ReLU()], rng=rng)
    with pytest.raises(
        ValueError, match=r"expects samples of shape \(2,\), got an input of shape \(3, 5\)"
    ):
        net.forward(np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"a batch of shape \(N, ...\)"):
        net.forward(np.ones(3))
    bad = np.ones((3, 2))
    bad[1, 0] = np.nan
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="2 non-finite value"):
        net.forward(bad)


def test_uninitialised_and_misused_layers_are_named():
    with pytest.raises(ng.NotInitializedError, match=r"Dense\(2, 3\) has no weights yet"):
        ng.Sequential([ng.Dense(2, 3)]).forward(np.ones((2, 2)))
    with pytest.raises(RuntimeError, match="before forward"):
        ng.Tanh().backward(np.ones((2, 2)))
    with pytest.raises(RuntimeError, match="no random generator"):
        ng.Dropout(0.5).forward(np.ones((2, 2)))
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        ng.Dense(2, 3, init="xavier")
    with pytest.raises(ValueError, match="alpha must be in"):
        ng.LeakyReLU(-0.1)
    with pytest.raises(ValueError, match="p must be in"):
        ng.Dropout(1.0)


def test_without_input_grad_backward_stops_at_the_first_layer_with_parameters():
    """D's Reshape (or an input Dropout) only computes dx: with input_grad=False it is skipped,
    and the parameter gradients are those of the full backward."""
    rng = np.random.default_rng(0)
    net = ng.Sequential(
        [ng.Reshape((1, 4, 4)), ng.Conv2D(1, 2, 3, init="he"), ng.Flatten(), ng.Dense(8, 1)],
        dtype=np.float64,
        rng=rng,
    )
    x, dout = rng.normal(size=(3, 16)), rng.normal(size=(3, 1))
    net.forward(x)
    assert net.backward(dout).shape == (3, 16)
    full = net.flat_grads.copy()
    net.zero_grad()
    calls = []
    net.layers[0].backward = lambda *a, **k: calls.append(1)
    net.layers[1].backward = _spy(net.layers[1].backward, calls)
    assert net.backward(dout, input_grad=False) is None
    assert calls == [False]  # the Conv2D was told dx is not needed; the Reshape never called
    np.testing.assert_array_equal(net.flat_grads, full)


def _spy(backward, calls):
    def wrapped(g, param_grads=True, input_grad=True):
        calls.append(input_grad)
        return backward(g, param_grads=param_grads, input_grad=input_grad)

    return wrapped
