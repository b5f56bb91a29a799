"""MinibatchDiscrimination: gradients against central differences, the forward against a loop
written here, the Numba kernels against their NumPy twins, and clear errors on bad input.

The L1 distances have a kink wherever two samples tie in one component, M[i, b, k] = M[j, b, k];
the checks keep every such difference further from 0 than a step of the check can move it.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numgan as ng
from numgan import kernels
from numgan.nn.gradcheck import TOLERANCE, check_layer, check_network, random_upstream

MinibatchDiscrimination = ng.nn.MinibatchDiscrimination
F64 = np.float64
# h = 1e-4 instead of the default 1e-3: there is a kink at each of N(N-1)/2 * B * C pairwise
# differences, and a smaller step throws fewer draws away; truncation is still ~1e-12.
H = 1e-4


def layer_for_check(rng, n_in, kernels_, dims):
    """A float64 layer whose distances d_b(i, j) are O(1) for x ~ N(0, 1), so that the pair
    weights exp(-d) are neither ~1 nor ~0 and the pairwise part carries real gradient."""
    scale = 0.7 / (dims * np.sqrt(n_in))
    return MinibatchDiscrimination(n_in, kernels_, dims, scale=scale, rng=rng, dtype=F64)


def project(x, T):
    return np.einsum("na,abk->nbk", x, T)


def off_the_kinks(x, T, h=H):
    """Whether no step of the check (up to 2h in one element of x or T) can move a pairwise
    difference M[i, b, k] - M[j, b, k] across 0."""
    n = len(x)
    if n < 2:
        return True
    i, j = np.triu_indices(n, 1)
    gap = np.abs(project(x, T)[i] - project(x, T)[j]).min()
    # A step in x[i, a] moves the difference by 2h T[a, b, k]; one in T[a, b, k] by
    # 2h (x[i, a] - x[j, a]).
    reach = 2 * h * max(np.abs(T).max(), np.abs(x[i] - x[j]).max())
    return gap > 2 * reach


def brute_force(x, T):
    """out = [x, o] by the definition, one pair and one kernel at a time."""
    n, (A, B, C) = len(x), T.shape
    out = np.zeros((n, A + B))
    out[:, :A] = x
    for i in range(n):
        for b in range(B):
            for j in range(n):
                if j == i:
                    continue
                d = 0.0
                for k in range(C):
                    mi = sum(x[i, a] * T[a, b, k] for a in range(A))
                    mj = sum(x[j, a] * T[a, b, k] for a in range(A))
                    d += abs(mi - mj)
                out[i, A + b] += np.exp(-d)
    return out


@given(
    n=st.integers(min_value=2, max_value=5),
    n_in=st.integers(min_value=1, max_value=5),
    kernels_=st.integers(min_value=1, max_value=3),
    dims=st.integers(min_value=1, max_value=4),
    s=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_gradients(n, n_in, kernels_, dims, s):
    rng = np.random.default_rng(s)
    layer = layer_for_check(rng, n_in, kernels_, dims)
    x = rng.normal(size=(n, n_in))
    assume(off_the_kinks(x, layer.params["T"]))
    dout = random_upstream(rng, (n, n_in + kernels_))
    # Relative error means nothing for a gradient element near 0 (docs/backprop.md, 10.5);
    # a backward that wrongly returns zeros is still caught: every draw would be rejected.
    layer.forward(x)
    assume(np.abs(layer.backward(dout)).min() > 1e-5)
    assume(np.abs(layer.grads["T"]).min() > 1e-5)
    errors = check_layer(layer, x, dout=dout, h=H)
    assert set(errors) == {"x", "T"}
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, f"{worst}: relative error {errors[worst]:.2e}"


def test_gradients_of_the_pairwise_part_alone():
    """With dout[:, :A] = 0, dx is dM @ T.T alone: no copy of dout to hide an error in it."""
    rng = np.random.default_rng(0)
    layer = layer_for_check(rng, 4, 3, 2)
    x = rng.normal(size=(6, 4))
    assert off_the_kinks(x, layer.params["T"])
    dout = random_upstream(rng, (6, 7))
    dout[:, :4] = 0.0
    errors = check_layer(layer, x, dout=dout, h=H)
    assert max(errors.values()) < TOLERANCE, errors


def test_forward_matches_the_definition():
    rng = np.random.default_rng(0)
    layer = layer_for_check(rng, 5, 3, 4)
    x = rng.normal(size=(7, 5))
    expected = brute_force(x, layer.params["T"])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)
    # The twin, called directly, whatever the backend.
    M = project(x, layer.params["T"])
    c, o = np.empty((7, 7, 3)), np.empty((7, 3))
    kernels.minibatch.minibatch_disc_forward_np(M, c, o)
    np.testing.assert_allclose(o, expected[:, 5:], rtol=1e-12)
    assert not c[np.arange(7), np.arange(7)].any()  # self excluded
    np.testing.assert_array_equal(c, c.transpose(1, 0, 2))


def test_a_sample_far_from_the_others_gets_a_small_o():
    """What the layer is for: o tells a crowded batch from a spread one."""
    x = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [50.0, 50.0]])
    T = np.ones((2, 1, 1))
    o = MinibatchDiscrimination(2, 1, 1, dtype=F64).set_params(T=T).forward(x)[:, 2]
    assert o[3] < 1e-20 < 1.0 < o[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 3, 2), (2, 1, 1), (9, 4, 3), (64, 16, 8)])
def test_numba_kernels_match_their_twins(shape, dtype):
    n, B, C = shape
    rng = np.random.default_rng(1)
    M = (rng.normal(size=shape) * 0.3).astype(dtype)
    M[n - 1] = M[0]  # a repeated sample: distance 0, c = 1, sign(0) = 0 in both
    g = rng.normal(size=(n, B)).astype(dtype)
    results = []
    for fwd, bwd in (
        (kernels.minibatch.minibatch_disc_forward_nb, kernels.minibatch.minibatch_disc_backward_nb),
        (kernels.minibatch.minibatch_disc_forward_np, kernels.minibatch.minibatch_disc_backward_np),
    ):
        c, o = np.full((n, n, B), np.nan, dtype), np.full((n, B), np.nan, dtype)
        dM = np.full(shape, np.nan, dtype)
        fwd(M, c, o)
        bwd(g, M, c, dM)
        assert c.dtype == o.dtype == dM.dtype == dtype
        results.append((c, o, dM))
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for nb, ref in zip(*results, strict=True):
        scale = max(1.0, np.abs(ref).max())
        np.testing.assert_allclose(nb, ref, rtol=tol, atol=tol * scale)


def test_numba_kernels_write_into_views():
    """The layer hands the forward kernel out[:, A:], a view with a stride of A + B."""
    rng = np.random.default_rng(2)
    M = rng.normal(size=(5, 2, 3))
    c = np.empty((5, 5, 2))
    out = np.zeros((5, 6))
    kernels.minibatch.minibatch_disc_forward_nb(M, c, out[:, 4:])
    o = np.empty((5, 2))
    kernels.minibatch.minibatch_disc_forward_np(M, np.empty((5, 5, 2)), o)
    np.testing.assert_allclose(out[:, 4:], o, rtol=1e-12)
    assert not out[:, :4].any()


def test_one_sample_has_no_other_to_compare_with():
    rng = np.random.default_rng(4)
    layer = layer_for_check(rng, 3, 2, 2)
    x = rng.normal(size=(1, 3))
    out = layer.forward(x)
    np.testing.assert_array_equal(out, np.concatenate([x, np.zeros((1, 2))], axis=1))
    dout = random_upstream(rng, (1, 5))
    layer.zero_grad()
    np.testing.assert_array_equal(layer.backward(dout), dout[:, :3])
    assert not layer.grads["T"].any()


def test_bad_constructor_arguments_are_named():
    bad = [
        ((0, 2, 2), {}, "in_features must be a positive int, got 0"),
        ((3, -1, 2), {}, "kernels must be a positive int, got -1"),
        ((3, 2, 2.5), {}, "kernel_dims must be a positive int, got 2.5"),
        ((3, True, 2), {}, "kernels must be a positive int, got True"),
        ((3, 2, 2), {"scale": 0.0}, "scale must be a positive finite number, got 0.0"),
        ((3, 2, 2), {"scale": -0.1}, "scale must be a positive finite number"),
        ((3, 2, 2), {"scale": float("nan")}, "scale must be a positive finite number"),
        ((3, 2, 2), {"scale": "0.1"}, "scale must be a positive finite number"),
        ((3, 2, 2), {"dtype": np.int64}, "dtype must be float32 or float64"),
        ((3, 2, 2), {"dtype": "no such type"}, "dtype must be float32 or float64"),
    ]
    for args, kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            MinibatchDiscrimination(*args, **kwargs)


def test_bad_inputs_say_what_the_layer_expects():
    layer = MinibatchDiscrimination(3, 2, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"expects samples of shape \(3,\).*got an input of shape"):
        layer.forward(np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"expects a batch of shape \(N, \.\.\.\)"):
        layer.forward(np.zeros(3))
    with pytest.raises(ValueError, match=r"expects samples of shape \(3,\).*\(4, 3, 1\)"):
        layer.forward(np.zeros((4, 3, 1)))
    layer.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"dout has shape \(4, 3\), expected \(4, 5\)"):
        layer.backward(np.zeros((4, 3)))
    with pytest.raises(ng.NotInitializedError, match="no weights yet"):
        MinibatchDiscrimination(3, 2, 2).forward(np.zeros((4, 3)))


def test_param_grads_accumulate_until_zero_grad():
    rng = np.random.default_rng(5)
    layer = layer_for_check(rng, 4, 3, 2)
    batches = [(rng.normal(size=(6, 4)), rng.normal(size=(6, 7))) for _ in range(2)]
    single = []
    for x, dout in batches:
        layer.zero_grad()
        layer.forward(x)
        layer.backward(dout)
        single.append(layer.grads["T"].copy())
    layer.zero_grad()
    for x, dout in batches:
        layer.forward(x)
        layer.backward(dout)
    np.testing.assert_allclose(layer.grads["T"], single[0] + single[1], rtol=1e-12)
    layer.zero_grad()
    assert not layer.grads["T"].any()


def test_param_grads_false_and_input_grad_false():
    rng = np.random.default_rng(6)
    layer = layer_for_check(rng, 4, 3, 2)
    x, dout = rng.normal(size=(6, 4)), rng.normal(size=(6, 7))
    layer.forward(x)
    dx = layer.backward(dout)
    dT = layer.grads["T"].copy()
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(dout, param_grads=False), dx)
    np.testing.assert_array_equal(layer.grads["T"], dT)
    layer.forward(x)
    assert layer.backward(dout, input_grad=False) is None
    np.testing.assert_allclose(layer.grads["T"], 2 * dT, rtol=1e-12)


def test_cache_holds_x_M_and_the_pair_weights():
    rng = np.random.default_rng(7)
    layer = layer_for_check(rng, 4, 3, 2)
    x = rng.normal(size=(5, 4))
    out = layer.forward(x)
    cached_x, M, c = layer.cache
    assert cached_x is x
    np.testing.assert_allclose(M, project(x, layer.params["T"]), rtol=1e-12)
    assert c.shape == (5, 5, 3)
    np.testing.assert_allclose(c.sum(axis=1), out[:, 4:], rtol=1e-12)


def test_in_a_network_between_dense_layers():
    rng = np.random.default_rng(8)
    layers = [
        ng.Dense(6, 5, init="glorot"),
        MinibatchDiscrimination(5, 4, 3, scale=0.1),
        ng.Dense(9, 1, init="glorot"),
    ]
    net = ng.Sequential(layers, rng=rng)
    assert (net.in_shape, net.out_shape) == ((6,), (1,))
    assert net.layers[1].output_shape((5,)) == (9,)
    assert net.forward(rng.normal(size=(16, 6))).shape == (16, 1)
    assert net.backward(rng.normal(size=(16, 1)).astype(np.float32)).shape == (16, 6)
    assert net.layers[1].grads["T"].any()
    with pytest.raises(ValueError, match=r"layer 1 MinibatchDiscrimination\(4, kernels=2"):
        ng.Sequential([ng.Dense(6, 5), MinibatchDiscrimination(4, 2, 2), ng.Dense(6, 1)])
    with pytest.raises(ValueError, match=r"layer 2 Dense\(5, 1\)"):
        ng.Sequential([ng.Dense(6, 5), MinibatchDiscrimination(5, 2, 2), ng.Dense(5, 1)])


def test_network_gradients_through_the_layer():
    rng = np.random.default_rng(5)
    net64 = ng.Sequential(
        [
            ng.Dense(3, 4, init="glorot"),
            MinibatchDiscrimination(4, 2, 2, scale=0.25),
            ng.Dense(6, 1, init="glorot"),
        ],
        dtype=F64,
        rng=rng,
    )
    x = rng.normal(size=(5, 3))
    hidden = net64.layers[0].forward(x)
    # A step in the first Dense's W or in x moves M through W and T: a wider margin.
    assert off_the_kinks(hidden, net64.layers[1].params["T"], h=10 * H)
    errors = check_network(net64, x, rng=rng, h=H)
    assert max(errors.values()) < TOLERANCE, errors
