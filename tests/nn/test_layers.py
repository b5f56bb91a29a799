"""Every layer's backward against central differences, in float64, with a random upstream gradient.

Hypothesis draws the batch size, the widths, alpha and the random stream; test points are kept
off the kinks (ReLU-family inputs at |x| >= 0.05, Maxout pieces at least 0.02 apart), since a
finite difference across a kink measures a different function than the one being checked.
"""

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import numgan as ng
from numgan.nn.gradcheck import TOLERANCE, check_layer

F64 = np.float64
batch = st.integers(min_value=2, max_value=6)
width = st.integers(min_value=1, max_value=6)
seed = st.integers(min_value=0, max_value=2**32 - 1)


def off_kink(rng, shape, margin=0.05):
    """Random values with |x| >= margin: both signs, never within h of the kink at 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(margin, 2.0, size=shape)


def assert_all_below(errors, tol=TOLERANCE):
    assert set(errors) >= {"x"}, errors
    worst = max(errors, key=errors.get)
    assert errors[worst] < tol, f"{worst}: relative error {errors[worst]:.2e}"


@given(n=batch, d_in=width, d_out=width, s=seed, init=st.sampled_from(ng.nn.layer.INITS))
def test_dense(n, d_in, d_out, s, init):
    rng = np.random.default_rng(s)
    layer = ng.Dense(d_in, d_out, init=init, scale=1.0, rng=rng, dtype=F64)
    layer.params["b"][:] = rng.normal(size=d_out)
    errors = check_layer(layer, rng.normal(size=(n, d_in)), rng=rng)
    assert set(errors) == {"x", "W", "b"}
    assert_all_below(errors)


@given(n=batch, d=width, s=seed)
def test_relu(n, d, s):
    rng = np.random.default_rng(s)
    assert_all_below(check_layer(ng.ReLU(), off_kink(rng, (n, d)), rng=rng))


@given(n=batch, d=width, s=seed, alpha=st.floats(min_value=0.01, max_value=0.5))
def test_leaky_relu(n, d, s, alpha):
    rng = np.random.default_rng(s)
    assert_all_below(check_layer(ng.LeakyReLU(alpha), off_kink(rng, (n, d)), rng=rng))


@given(n=batch, d=width, s=seed, layer=st.sampled_from([ng.Tanh, ng.Sigmoid]))
def test_tanh_sigmoid(n, d, s, layer):
    rng = np.random.default_rng(s)
    # |x| <= 3 stays off the flat tails, where the derivative is tiny against round-off.
    assert_all_below(check_layer(layer(), rng.uniform(-3.0, 3.0, size=(n, d)), rng=rng))


@given(
    n=batch,
    d=width,
    s=seed,
    scale=st.floats(min_value=-4.0, max_value=4.0).filter(lambda v: abs(v) > 0.1),
    shift=st.floats(min_value=-5.0, max_value=5.0),
)
def test_affine(n, d, s, scale, shift):
    """The fixed change of units: dx = scale * dout, nothing trained, nothing cached."""
    rng = np.random.default_rng(s)
    layer = ng.Affine(scale, shift)
    x = rng.normal(size=(n, d))
    np.testing.assert_allclose(layer.forward(x), scale * x + shift, rtol=1e-15, atol=1e-15)
    assert layer.params == {} and layer.forward(x.astype(np.float32)).dtype == np.float32
    assert_all_below(check_layer(layer, x, rng=rng))


@pytest.mark.parametrize("args", [(0.0, 1.0), (float("inf"), 0.0), (1.0, float("nan"))])
def test_affine_refuses_a_change_of_units_that_is_not_one(args):
    with pytest.raises(ValueError, match="scale must be finite and non-zero"):
        ng.Affine(*args)


def random_batchnorm(rng, d, *, running=False):
    layer = ng.BatchNorm(d, dtype=F64)
    layer.params["gamma"][:] = rng.uniform(0.5, 2.0, size=d) * rng.choice([-1, 1], size=d)
    layer.params["beta"][:] = rng.normal(size=d)
    if running:
        layer.running_mean[:] = rng.normal(size=d)
        layer.running_var[:] = rng.uniform(0.5, 2.0, size=d)
    return layer


@given(n=st.integers(min_value=3, max_value=6), d=width, s=seed)
@example(n=3, d=6, s=37767112)
def test_batchnorm_training(n, d, s):
    # N = 2 is left out: two rows normalise to -1 and +1 whatever x is, so the true dx is
    # O(eps / var), too small against round-off for a relative error to mean anything.
    # h = 1e-4: with a batch of 3 the normalisation curves sharply, and the central
    # difference's O(h**2) truncation error reached 3.5e-7 at h = 1e-3 (the example below);
    # at 1e-4 it is ~1e-9, with round-off still ~1e-12.
    rng = np.random.default_rng(s)
    layer = random_batchnorm(rng, d)
    errors = check_layer(layer, rng.normal(loc=1.0, scale=3.0, size=(n, d)), rng=rng, h=1e-4)
    assert set(errors) == {"x", "gamma", "beta"}
    assert_all_below(errors)


@given(n=st.integers(min_value=1, max_value=6), d=width, s=seed)
def test_batchnorm_eval(n, d, s):
    rng = np.random.default_rng(s)
    layer = random_batchnorm(rng, d, running=True)
    errors = check_layer(layer, rng.normal(size=(n, d)), rng=rng, training=False)
    assert set(errors) == {"x", "gamma", "beta"}
    assert_all_below(errors)


@given(n=batch, d_in=width, units=width, pieces=st.integers(1, 4), s=seed)
def test_maxout(n, d_in, units, pieces, s):
    rng = np.random.default_rng(s)
    layer = ng.Maxout(d_in, units, pieces, init="glorot", rng=rng, dtype=F64)
    layer.params["b"][:] = rng.normal(size=units * pieces)
    x = rng.normal(size=(n, d_in))
    z = np.sort((x @ layer.params["W"] + layer.params["b"]).reshape(n, units, pieces), axis=2)
    assume(pieces == 1 or np.diff(z, axis=2).min() > 0.02)  # off the ties, beyond 2h
    errors = check_layer(layer, x, rng=rng)
    assert set(errors) == {"x", "W", "b"}
    assert_all_below(errors)


@given(n=batch, d=width, s=seed, p=st.floats(min_value=0.0, max_value=0.9))
def test_dropout_with_fixed_mask(n, d, s, p):
    rng = np.random.default_rng(s)
    layer = ng.Dropout(p, rng=rng)
    x = rng.normal(size=(n, d))
    layer.forward(x)
    (mask,) = layer.cache
    layer.fix_mask(mask)
    assert_all_below(check_layer(layer, x, rng=rng))


def test_dropout_mask_statistics_and_eval_identity():
    p, shape = 0.3, (500, 200)
    layer = ng.Dropout(p, rng=np.random.default_rng(0))
    x = np.ones(shape)
    out = layer.forward(x)
    # Inverted dropout: kept units are scaled by 1 / (1 - p), dropped ones are exactly 0.
    assert set(np.unique(out)) == {0.0, 1.0 / (1.0 - p)}
    dropped = np.mean(out == 0.0)
    sd = np.sqrt(p * (1 - p) / out.size)
    assert abs(dropped - p) < 5 * sd
    assert layer.forward(x, training=False) is x


def test_dropout_same_seed_same_mask():
    x = np.ones((4, 5))
    a = ng.Dropout(0.5, rng=np.random.default_rng(7)).forward(x)
    b = ng.Dropout(0.5, rng=np.random.default_rng(7)).forward(x)
    c = ng.Dropout(0.5, rng=np.random.default_rng(8)).forward(x)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: ng.Dense(3, 4, rng=rng, dtype=F64),
        lambda rng: ng.Maxout(3, 2, 3, rng=rng, dtype=F64),
        lambda rng: random_batchnorm(rng, 3),
    ],
    ids=["Dense", "Maxout", "BatchNorm"],
)
def test_param_grads_accumulate_until_zero_grad(make):
    rng = np.random.default_rng(0)
    layer = make(rng)
    x1, x2 = rng.normal(size=(5, layer.in_features)), rng.normal(size=(5, layer.in_features))
    d1, d2 = rng.normal(size=(5, layer.out_features)), rng.normal(size=(5, layer.out_features))
    single = {}
    for x, dout in ((x1, d1), (x2, d2)):
        layer.zero_grad()
        layer.forward(x)
        layer.backward(dout)
        single[id(x)] = {k: g.copy() for k, g in layer.grads.items()}
    layer.zero_grad()
    for x, dout in ((x1, d1), (x2, d2)):
        layer.forward(x)
        layer.backward(dout)
    for k, g in layer.grads.items():
        np.testing.assert_allclose(g, single[id(x1)][k] + single[id(x2)][k], rtol=1e-12)
    layer.zero_grad()
    assert all(not g.any() for g in layer.grads.values())


def test_param_grads_false_gives_same_dx_and_leaves_grads():
    rng = np.random.default_rng(1)
    for layer in (ng.Dense(3, 4, rng=rng, dtype=F64), random_batchnorm(rng, 3)):
        x = rng.normal(size=(5, layer.in_features))
        dout = rng.normal(size=(5, layer.out_features))
        layer.forward(x)
        dx_full = layer.backward(dout)
        before = {k: g.copy() for k, g in layer.grads.items()}
        layer.forward(x)
        dx_only = layer.backward(dout, param_grads=False)
        np.testing.assert_array_equal(dx_only, dx_full)
        for k in before:
            np.testing.assert_array_equal(layer.grads[k], before[k])


def test_caches_hold_what_backward_reads():
    x = np.random.default_rng(2).normal(size=(4, 3))
    tanh, sig = ng.Tanh(), ng.Sigmoid()
    y = tanh.forward(x)
    assert len(tanh.cache) == 1 and tanh.cache[0] is y  # the output, not the input
    y = sig.forward(x)
    assert len(sig.cache) == 1 and sig.cache[0] is y
    dense = ng.Dense(3, 2, rng=np.random.default_rng(0), dtype=F64)
    dense.forward(x)
    assert len(dense.cache) == 1 and dense.cache[0] is x


def test_sigmoid_does_not_overflow():
    x = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = ng.Sigmoid().forward(x)
    assert y[0, 0] == 0.0 and y[0, 2] == 0.5 and y[0, 4] == 1.0
    np.testing.assert_allclose(y[0, 1], np.exp(-50.0) / (1 + np.exp(-50.0)), rtol=1e-15)


def test_batchnorm_running_stats_follow_the_documented_update():
    rng = np.random.default_rng(3)
    layer = ng.BatchNorm(4, momentum=0.25, dtype=F64)
    x = rng.normal(loc=2.0, size=(8, 4))
    layer.forward(x)
    np.testing.assert_allclose(layer.running_mean, 0.75 * 0 + 0.25 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, 0.75 * 1 + 0.25 * x.var(0, ddof=1), rtol=1e-12)
    out = layer.forward(x, training=False)
    expected = (x - layer.running_mean) / np.sqrt(layer.running_var + layer.eps)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_batchnorm_training_output_is_normalised():
    rng = np.random.default_rng(4)
    out = ng.BatchNorm(3, dtype=F64).forward(rng.normal(loc=5.0, scale=3.0, size=(50, 3)))
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(0), 1.0, rtol=1e-4)  # eps = 1e-5 shrinks it slightly


def test_init_schemes_have_their_documented_spread():
    rng = np.random.default_rng(5)
    n_in, n_out = 400, 300
    w = ng.Dense(n_in, n_out, init="uniform", scale=0.05, rng=rng, dtype=F64).params["W"]
    assert np.abs(w).max() <= 0.05 and np.abs(w).max() > 0.049
    w = ng.Dense(n_in, n_out, init="glorot", rng=rng, dtype=F64).params["W"]
    a = np.sqrt(6 / (n_in + n_out))
    assert np.abs(w).max() <= a and abs(w.std() - a / np.sqrt(3)) < 0.02 * a
    w = ng.Dense(n_in, n_out, init="he", rng=rng, dtype=F64).params["W"]
    assert abs(w.std() - np.sqrt(2 / n_in)) < 0.02 * np.sqrt(2 / n_in)
    assert not ng.Dense(2, 2, rng=rng).params["b"].any()
