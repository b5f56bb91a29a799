"""Layers on (N, C, H, W) input: the same gradient checks as on (N, F), in float64, with a
random upstream gradient; the shape contract; and weights set by hand.

Every layer that accepts both 2-D and 4-D input is checked on both here (2-D also in
test_layers.py, with hypothesis); Dense and Maxout take (N, features) only.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numgan as ng
from numgan.nn.gradcheck import TOLERANCE, check_layer, check_network

F64 = np.float64
seed = st.integers(min_value=0, max_value=2**32 - 1)
# (N, C, H, W) small enough for a four-point difference per element, or (N, F)
images = st.tuples(
    st.integers(2, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)
) | st.tuples(st.integers(2, 5), st.integers(1, 5))


def off_kink(rng, shape, margin=0.05):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(margin, 2.0, size=shape)


def assert_all_below(errors, tol=TOLERANCE):
    assert "x" in errors, errors
    worst = max(errors, key=errors.get)
    assert errors[worst] < tol, f"{worst}: relative error {errors[worst]:.2e}"


@given(shape=images, s=seed, alpha=st.sampled_from([0.0, 0.2]))
def test_leaky_relu_any_shape(shape, s, alpha):
    rng = np.random.default_rng(s)
    layer = ng.ReLU() if alpha == 0 else ng.LeakyReLU(alpha)
    x = off_kink(rng, shape)
    assert layer.forward(x).shape == shape
    assert_all_below(check_layer(layer, x, rng=rng))


@given(shape=images, s=seed, layer=st.sampled_from([ng.Tanh, ng.Sigmoid]))
def test_tanh_sigmoid_any_shape(shape, s, layer):
    rng = np.random.default_rng(s)
    assert_all_below(check_layer(layer(), rng.uniform(-3.0, 3.0, size=shape), rng=rng))


def random_batchnorm(rng, c, *, running=False):
    layer = ng.BatchNorm(c, dtype=F64)
    layer.set_params(
        gamma=rng.uniform(0.5, 2.0, size=c) * rng.choice([-1, 1], size=c),
        beta=rng.normal(size=c),
    )
    if running:
        layer.running_mean[:] = rng.normal(size=c)
        layer.running_var[:] = rng.uniform(0.5, 2.0, size=c)
    return layer


@given(
    shape=st.tuples(st.integers(2, 3), st.integers(1, 3), st.integers(1, 3), st.integers(2, 3)),
    s=seed,
    training=st.booleans(),
)
def test_batchnorm_per_channel(shape, s, training):
    """(N, C, H, W): one statistic per channel over N * H * W values (W >= 2 keeps M >= 4)."""
    rng = np.random.default_rng(s)
    layer = random_batchnorm(rng, shape[1], running=not training)
    x = rng.normal(loc=1.0, scale=3.0, size=shape)
    errors = check_layer(layer, x, rng=rng, training=training)
    assert set(errors) == {"x", "gamma", "beta"}
    assert_all_below(errors)


def test_batchnorm_per_channel_normalises_each_channel_over_batch_and_pixels():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=[[[[3.0]], [[-2.0]]]], scale=[[[[5.0]], [[0.5]]]], size=(4, 2, 3, 5))
    out = ng.BatchNorm(2, dtype=F64).forward(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1.0, rtol=1e-4)  # eps = 1e-5
    # ... and is not the per-feature normalisation of the flattened image
    flat = ng.BatchNorm(30, dtype=F64).forward(x.reshape(4, 30)).reshape(x.shape)
    assert not np.allclose(out, flat)


def test_batchnorm_running_statistics_count_every_pixel():
    """The unbiased running variance uses M = N * H * W values, not N."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 2, 2))
    layer = ng.BatchNorm(3, momentum=1.0, dtype=F64)
    layer.forward(x)
    np.testing.assert_allclose(layer.running_mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, x.var(axis=(0, 2, 3), ddof=1), rtol=1e-12)


def test_batchnorm_rejects_other_shapes_with_what_it_expects():
    layer = ng.BatchNorm(3)
    with pytest.raises(ValueError, match=r"expects samples of shape \(3,\) or \(3, H, W\)"):
        layer.forward(np.ones((4, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"expects samples of shape \(3,\) or \(3, H, W\)"):
        layer.forward(np.ones((4, 3, 5), np.float32))
    with pytest.raises(ValueError, match="at least 2 values per statistic"):
        layer.forward(np.ones((1, 3, 1, 1), np.float32))


@given(shape=images, s=seed, p=st.sampled_from([0.0, 0.3, 0.6]))
def test_dropout_any_shape(shape, s, p):
    rng = np.random.default_rng(s)
    layer = ng.Dropout(p)
    layer.fix_mask((rng.random(shape) >= p) / (1.0 - p))
    assert_all_below(check_layer(layer, rng.normal(size=shape), rng=rng))


@given(shape=st.tuples(st.integers(2, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))
def test_flatten_and_reshape_are_exact_inverses(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    flat, back = ng.Flatten(), ng.Reshape(shape[1:])
    h = flat.forward(x)
    assert h.shape == (shape[0], int(np.prod(shape[1:])))
    np.testing.assert_array_equal(back.forward(h), x)
    dout = rng.normal(size=shape)
    np.testing.assert_array_equal(flat.backward(back.backward(dout)), dout)
    assert_all_below(check_layer(ng.Flatten(), x, rng=rng))
    assert_all_below(check_layer(ng.Reshape(shape[1:]), h, rng=rng))


def test_reshape_checks_its_size():
    with pytest.raises(ValueError, match=r"Reshape\(\(2, 3\)\) needs samples of 6 values"):
        ng.Sequential([ng.Dense(4, 5), ng.Reshape((2, 3))])
    with pytest.raises(ValueError, match="tuple of positive ints"):
        ng.Reshape((2, 0))


def image_network(rng):
    """Dense -> images -> per-channel BatchNorm -> LeakyReLU -> rows -> Dense, in float64."""
    return ng.Sequential(
        [
            ng.Dense(3, 2 * 2 * 3, init="glorot"),
            ng.Reshape((2, 2, 3)),
            ng.BatchNorm(2),
            ng.Tanh(),
            ng.Flatten(),
            ng.Dense(12, 1, init="glorot"),
        ],
        dtype=F64,
        rng=rng,
    )


def test_a_network_through_image_shapes_passes_its_gradient_check():
    rng = np.random.default_rng(2)
    net = image_network(rng)
    assert net.in_shape == (3,) and net.out_shape == (1,)
    errors = check_network(net, rng.normal(size=(4, 3)), rng=rng)
    assert_all_below(errors)
    assert set(errors) == {"x", "0.W", "0.b", "2.gamma", "2.beta", "5.W", "5.b"}


def test_shape_walk_names_the_two_layers_that_do_not_fit():
    with pytest.raises(
        ValueError,
        match=r"layer 3 Dense\(10, 1\) does not fit layer 2 Flatten\(\), which gives "
        r"samples of shape \(12,\)",
    ):
        ng.Sequential([ng.Dense(2, 12), ng.Reshape((3, 2, 2)), ng.Flatten(), ng.Dense(10, 1)])
    net = ng.Sequential([ng.Reshape((3, 2, 2)), ng.BatchNorm(3), ng.Flatten()])
    assert net.in_shape is None and net.out_shape == (12,)  # Reshape fixes its output
    with pytest.raises(ValueError, match=r"layer 1 Dense\(192, 10\) does not fit layer 0 "):
        ng.Sequential([ng.Reshape((3, 8, 8)), ng.Dense(192, 10)])
    # Flatten takes any shape that flattens to what the Dense after it expects
    net = ng.Sequential([ng.Flatten(), ng.Dense(192, 10)], rng=np.random.default_rng(0))
    assert net.in_shape is None and net.out_shape == (10,)
    assert net.forward(np.ones((2, 3, 8, 8))).shape == (2, 10)
    with pytest.raises(ValueError, match=r"Dense\(192, 10\) expects samples of shape \(192,\)"):
        net.forward(np.ones((2, 3, 8, 7)))
    # layers that keep the shape pass the first stated input shape on to the network
    assert ng.Sequential([ng.ReLU(), ng.Dense(4, 2)]).in_shape == (4,)
    net = ng.Sequential([ng.Dense(2, 12), ng.Reshape((3, 2, 2)), ng.BatchNorm(3)])
    assert net.out_shape == (3, 2, 2) and net.out_features is None


# -- weights set by hand -----------------------------------------------------------------


def test_set_params_copies_into_the_network_and_marks_the_layer_initialised():
    dense = ng.Dense(3, 2)
    assert not dense.initialized
    net = ng.Sequential([dense, ng.ReLU()])
    W = np.arange(6, dtype=np.float32).reshape(3, 2)
    dense.set_params(W=W, b=[1.0, -1.0])
    assert dense.initialized
    np.testing.assert_array_equal(net.flat_params[:6], W.ravel())  # the flat vector sees it
    np.testing.assert_array_equal(dense.params["b"], [1.0, -1.0])
    with pytest.raises(ValueError, match=r"W must have shape \(3, 2\), got \(2, 3\)"):
        dense.set_params(W=W.T)
    with pytest.raises(ValueError, match="has no parameter 'gamma'"):
        dense.set_params(gamma=np.ones(2))
    with pytest.raises(ValueError, match="NaN or inf"):
        dense.set_params(b=[np.nan, 0.0])
    with pytest.raises(ValueError, match="W must be numbers"):
        dense.set_params(W="ab")


def hand_built_gan(how):
    """A GAN whose first D layer and last G layer got their weights by hand, ``how``."""
    rng = np.random.default_rng(7)
    W_d, W_g = rng.normal(size=(2, 4)), rng.normal(size=(4, 2))
    d0 = ng.Dense(2, 4, dtype=F64)
    g1 = ng.Dense(4, 2, dtype=F64)
    if how == "set_params":
        d0.set_params(W=W_d)
        g1.set_params(W=W_g)
    else:  # written straight into the arrays: must count as weights, never be drawn over
        d0.params["W"][...] = W_d
        g1.params["W"][...] = W_g
    G = ng.Sequential([ng.Dense(2, 4, init="glorot"), ng.Tanh(), g1], dtype=F64)
    D = ng.Sequential([d0, ng.LeakyReLU(0.2), ng.Dense(4, 1, init="glorot")], dtype=F64)
    return ng.GAN(G, D, ng.UniformNoise(2)), W_d, W_g


@pytest.mark.parametrize("how", ["set_params", "written"])
def test_trainer_starts_from_weights_set_by_hand(how):
    gan, W_d, W_g = hand_built_gan(how)
    data = np.random.default_rng(8).normal(size=(200, 2))
    opt = dict(lr=0.05, momentum=0.0)
    trainer = ng.Trainer(gan, data, batch_size=8, seed=3, opt_g=ng.SGD(**opt), opt_d=ng.SGD(**opt))
    # the trainer's seed drew the other layers, and left these alone
    np.testing.assert_array_equal(gan.D.layers[0].params["W"], W_d)
    np.testing.assert_array_equal(gan.G.layers[2].params["W"], W_g)
    assert gan.G.layers[0].params["W"].any()
    # One iteration from there equals one iteration of a network loaded with the same state.
    reference, _, _ = hand_built_gan(how)
    reference.G.load_state_dict(gan.G.state_dict())
    reference.D.load_state_dict(gan.D.state_dict())
    ref = ng.Trainer(
        reference, data, batch_size=8, seed=3, opt_g=ng.SGD(**opt), opt_d=ng.SGD(**opt)
    )
    ref.rng.bit_generator.state = trainer.rng.bit_generator.state  # past the weight draws
    trainer.train(1)
    ref.train(1)
    np.testing.assert_array_equal(gan.D.flat_params, reference.D.flat_params)
    np.testing.assert_array_equal(gan.G.flat_params, reference.G.flat_params)
    assert not np.array_equal(gan.D.layers[0].params["W"], W_d)  # and it did train


def test_a_layer_without_weights_says_how_to_give_it_some():
    with pytest.raises(ng.NotInitializedError, match=r"set_params\(W=\.\.\., b=\.\.\.\)"):
        ng.Dense(2, 3).forward(np.ones((1, 2), np.float32))


def test_each_layer_states_its_sample_shapes():
    assert (ng.Dense(3, 4).in_shape, ng.Dense(3, 4).out_shape) == ((3,), (4,))
    assert (ng.Maxout(3, 4, 2).in_shape, ng.Maxout(3, 4, 2).out_shape) == ((3,), (4,))
    for any_shape in (ng.ReLU(), ng.Tanh(), ng.Dropout(0.5), ng.BatchNorm(3), ng.Flatten()):
        assert any_shape.in_shape is None and any_shape.out_shape is None
    assert ng.Reshape((3, 8, 8)).out_shape == (3, 8, 8)
    assert ng.BatchNorm(3).output_shape((3, 8, 8)) == (3, 8, 8)
    assert ng.Flatten().output_shape((3, 8, 8)) == (192,)
    assert ng.Reshape((3, 8, 8)).output_shape((192,)) == (3, 8, 8)


def test_constructors_name_what_they_take():
    for optimizer in (ng.SGD, ng.Adam):
        with pytest.raises(ValueError, match="lr must be a positive, finite number, got inf"):
            optimizer(lr=float("inf"))
    for not_a_list in (None, ng.Dense(2, 2)):
        with pytest.raises(TypeError, match=r"Sequential takes a list of layers"):
            ng.Sequential(not_a_list)


@pytest.mark.parametrize(
    "layer, x",
    [
        (ng.Dense(3, 4, rng=np.random.default_rng(0)), np.ones((2, 3))),
        (ng.Maxout(3, 2, 2, rng=np.random.default_rng(0)), np.ones((2, 3))),
        (ng.LeakyReLU(0.2), np.ones((2, 3, 4, 4))),
        (ng.Tanh(), np.ones((2, 3))),
        (ng.Sigmoid(), np.ones((2, 3))),
        (ng.BatchNorm(3), np.arange(96.0).reshape(2, 3, 4, 4)),
        (ng.Conv2D(3, 2, 3, rng=np.random.default_rng(0)), np.ones((2, 3, 5, 5))),
        (ng.ConvTranspose2D(3, 2, 3, rng=np.random.default_rng(0)), np.ones((2, 3, 5, 5))),
    ],
    ids=lambda v: repr(v) if isinstance(v, ng.Layer) else "",
)
def test_backward_refuses_a_dout_of_another_shape(layer, x):
    """The kernels index by the shapes forward saw: a wrong dout is an error naming both shapes,
    never a read or write past an array's end."""
    out = layer.forward(x.astype(np.float32))
    wrong = np.ones((out.shape[0] + 1, *out.shape[1:]), np.float32)
    with pytest.raises(ValueError, match=r"backward: dout has shape .* expected"):
        layer.backward(wrong)
    assert layer.backward(np.ones_like(out)).shape == x.shape  # the right one still works
