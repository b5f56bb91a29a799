"""Parallel: branches on column blocks of the input, joined.  Gradients against central
differences (dx and every branch parameter, alone and inside a Sequential), the forward against
the branches run by hand, the wiring of parameters into a network's flat vector, and errors."""

import numpy as np
import pytest

import numgan as ng
from numgan.nn.gradcheck import TOLERANCE, check_layer, check_network, random_upstream

Parallel = ng.nn.Parallel
F64 = np.float64


def two_branches(rng, dtype=F64):
    """z (3 columns) -> Dense + Tanh, y (4 columns) -> Maxout, u (2 columns) passed through."""
    return Parallel(
        z=(3, [ng.Dense(3, 5, init="glorot", rng=rng, dtype=dtype), ng.Tanh()]),
        y=(4, [ng.Maxout(4, 3, 2, init="glorot", rng=rng, dtype=dtype)]),
        u=(2, []),
    ).astype(dtype)


def test_gradients_dx_and_every_branch_parameter():
    rng = np.random.default_rng(0)
    layer = two_branches(rng)
    x = rng.normal(size=(6, 9))
    errors = check_layer(layer, x, dout=random_upstream(rng, (6, 10)))
    assert set(errors) == {"x", "z.0.W", "z.0.b", "y.0.W", "y.0.b"}
    assert max(errors.values()) < TOLERANCE, errors


def test_gradients_inside_a_network_with_its_flat_parameters():
    """In a Sequential, the branches compute with the network's flat vector (their arrays are
    views of it), so the network's check sees every branch parameter under its full name."""
    rng = np.random.default_rng(1)
    net = ng.Sequential(
        [two_branches(rng), ng.Dense(10, 3, init="glorot"), ng.Sigmoid()], dtype=F64, rng=rng
    )
    x = rng.normal(size=(5, 9))
    errors = check_network(net, x, dout=random_upstream(rng, (5, 3)))
    assert {"x", "0.z.0.W", "0.y.0.b", "1.W"} <= set(errors)
    assert max(errors.values()) < TOLERANCE, errors


def test_forward_is_the_branches_run_by_hand_then_joined():
    rng = np.random.default_rng(2)
    layer = two_branches(rng)
    x = rng.normal(size=(4, 9))
    dense, maxout = layer.parts["z"][0], layer.parts["y"][0]
    z_part = np.tanh(x[:, :3] @ dense.params["W"] + dense.params["b"])
    y_pre = (x[:, 3:7] @ maxout.params["W"] + maxout.params["b"]).reshape(4, 3, 2)
    expected = np.concatenate([z_part, y_pre.max(axis=2), x[:, 7:]], axis=1)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-14)


def test_input_grad_false_returns_none_and_the_same_parameter_gradients():
    rng = np.random.default_rng(3)
    layer = two_branches(rng)
    x, dout = rng.normal(size=(4, 9)), random_upstream(rng, (4, 10))
    layer.forward(x)
    layer.zero_grad()
    layer.backward(dout)
    full = {k: g.copy() for k, g in layer.grads.items()}
    layer.zero_grad()
    layer.forward(x)
    assert layer.backward(dout, input_grad=False) is None
    for k, g in layer.grads.items():
        np.testing.assert_array_equal(g, full[k])


def test_parameter_gradients_accumulate_and_param_grads_false_leaves_them():
    rng = np.random.default_rng(4)
    layer = two_branches(rng)
    x, dout = rng.normal(size=(3, 9)), random_upstream(rng, (3, 10))
    layer.zero_grad()
    layer.forward(x)
    layer.backward(dout)
    once = {k: g.copy() for k, g in layer.grads.items()}
    layer.forward(x)
    layer.backward(dout)
    for k, g in layer.grads.items():
        np.testing.assert_allclose(g, 2 * once[k], rtol=1e-12)
    layer.forward(x)
    layer.backward(dout, param_grads=False)
    for k, g in layer.grads.items():
        np.testing.assert_allclose(g, 2 * once[k], rtol=1e-12)


def test_an_optimiser_step_on_the_network_moves_the_branch_layers_weights():
    rng = np.random.default_rng(5)
    net = ng.Sequential([two_branches(rng, np.float32), ng.Dense(10, 1)], rng=rng)
    inner = net.layers[0].parts["z"][0]
    assert np.shares_memory(inner.params["W"], net.flat_params)
    assert np.shares_memory(inner.grads["W"], net.flat_grads)
    before = inner.params["W"].copy()
    net.zero_grad()
    net.forward(rng.normal(size=(4, 9)))
    net.backward(np.ones((4, 1), np.float32), input_grad=False)
    ng.SGD(lr=0.1, momentum=0.0).step(net)
    assert not np.array_equal(inner.params["W"], before)


def test_state_dict_round_trip_with_a_batchnorm_and_dropout_in_a_branch():
    rng = np.random.default_rng(6)

    def build():
        branch = Parallel(
            a=(3, [ng.Dense(3, 4), ng.BatchNorm(4), ng.Dropout(0.5)]), b=(2, [ng.Dense(2, 2)])
        )
        return ng.Sequential([branch, ng.Dense(6, 1)])

    net = build().initialize(rng)
    net.forward(rng.normal(size=(8, 5)))  # moves BatchNorm's running statistics, draws a mask
    state = net.state_dict()
    assert {"0.a.0.W", "0.a.1.gamma", "0.a.1.running_mean", "0.b.0.b", "1.W"} <= set(state)
    assert state["0.a.1.running_mean"].any()
    copy = build()
    copy.load_state_dict(state)
    assert copy.initialized
    x = rng.normal(size=(3, 5))
    np.testing.assert_array_equal(copy.forward(x, training=False), net.forward(x, training=False))


def test_a_wrong_backward_is_caught():
    """Negative control: the same layer with the columns of dout shifted by one before they go
    to the branches fails the check by orders of magnitude."""

    class Shifted(Parallel):
        def backward(self, dout, param_grads=True, input_grad=True):
            return super().backward(np.roll(dout, 1, axis=1), param_grads, input_grad)

    rng = np.random.default_rng(7)
    right = two_branches(rng)
    wrong = Shifted(
        **{n: (w, layers) for (n, layers), w in zip(right.parts.items(), right.widths, strict=True)}
    )
    x, dout = rng.normal(size=(4, 9)), random_upstream(rng, (4, 10))
    assert max(check_layer(right, x, dout=dout).values()) < TOLERANCE
    assert max(check_layer(wrong, x, dout=dout).values()) > 1e-2


@pytest.mark.parametrize(
    "parts, message",
    [
        ({}, "at least one part"),
        ({"z": (0, [])}, "positive int width"),
        ({"z": (3, ng.Dense(3, 2))}, "layers must be a list"),
        ({"z": 3}, r"\(width, \[layers\]\) pair"),
        ({"z": (3, [ng.Dense(4, 2)])}, "does not fit its input of shape"),
        ({"z": (4, [ng.Reshape((1, 2, 2))])}, "add a Flatten"),
        ({"z": (3, ["relu"])}, "not a Layer"),
    ],
)
def test_bad_parts_are_refused_with_the_fix(parts, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Parallel(**parts)


def test_an_input_of_the_wrong_width_names_the_parts():
    layer = two_branches(np.random.default_rng(8))
    with pytest.raises(ValueError, match=r"expects rows of 9 features \(z 3 \+ y 4 \+ u 2\)"):
        layer.forward(np.zeros((2, 8)))
    with pytest.raises(ValueError, match="does not fit"):
        ng.Sequential([ng.Dense(4, 8), layer])


def test_a_layer_object_used_twice_is_refused():
    """Each layer caches its own last forward: used twice, the second forward would overwrite
    what the first's backward reads (a gradient check of such a net is off by 0.66)."""
    dense = ng.Dense(4, 4)
    with pytest.raises(ValueError, match=r"the same Dense\(4, 4\) object appears twice"):
        Parallel(a=(4, [dense]), b=(4, [dense]))
    with pytest.raises(ValueError, match="appears twice"):
        ng.Sequential([dense, ng.Tanh(), dense])
    with pytest.raises(ValueError, match="appears twice"):
        ng.Sequential([Parallel(a=(4, [dense])), dense])
    shared = Parallel(a=(4, [ng.Dense(4, 4)]))
    with pytest.raises(ValueError, match="G and D share a layer object"):
        ng.GAN(ng.Sequential([shared]), ng.Sequential([shared, ng.Dense(4, 1)]), ng.UniformNoise(4))
