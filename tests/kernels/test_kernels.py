"""Each Numba kernel against its NumPy twin, on the same inputs, in float64 and float32.

Shapes fall on both sides of MATMUL_CROSSOVER so that the jitted loops and the BLAS route are
both compared.  Tolerances: ~1e-12 relative in float64, ~1e-5 in float32 (summation order
differs between the two, so bit equality is not expected).
"""

import re

import numba
import numpy as np
import pytest

import numgan as ng
from numgan import kernels
from numgan.gan import fused
from numgan.kernels.flags import FASTMATH
from numgan.nn.gradcheck import numerical_gradient_array, random_upstream, rel_error

TOL = {np.float64: 1e-12, np.float32: 2e-5}
# (N, D_in, D_out): the jitted loops' paths (narrow outputs, a one-wide input, rows in blocks of
# four with a remainder) and BLAS's (one output: the DCGAN's logit, dx by a multiply)
SHAPES = [
    (4, 3, 5),
    (64, 16, 16),
    (63, 16, 16),
    (7, 1, 16),
    (66, 16, 1),
    (100, 240, 240),
    (64, 784, 512),
    (64, 3136, 1),
]
DTYPES = [np.float64, np.float32]


def close(a, b, dtype, scale=1.0):
    """Relative to the size of the values (a sum of many terms has a size-scaled error)."""
    tol = TOL[dtype] * scale
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, np.abs(b).max()))


FAST, TWIN = kernels.Kernels("numba"), kernels.Kernels("numpy")


def both(name, *args_factory):
    """Run the Numba backend's kernel and its twin on fresh copies of the same arguments."""
    out = []
    for backend in (FAST, TWIN):
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in args_factory]
        result = getattr(backend, name)(*args)
        out.append((result, args))
    return out


def test_every_kernel_has_a_numpy_twin():
    for name in kernels.KERNELS:
        twin = getattr(TWIN, name)
        assert twin.__name__.endswith("_np"), f"{name}: the numpy backend runs {twin.__name__}"
        assert twin.__doc__, f"{twin.__name__} states what it computes"


def test_crossover_splits_the_shapes():
    flops = [n * k * d for n, k, d in SHAPES]
    assert min(flops) <= kernels.MATMUL_CROSSOVER < max(flops)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_dense(shape, dtype):
    n, k, d = shape
    rng = np.random.default_rng(0)
    x, W, b = (rng.normal(size=s).astype(dtype) for s in ((n, k), (k, d), (d,)))
    (_, nb), (_, ref) = both("dense_forward", x, W, b, np.empty((n, d), dtype))
    close(nb[3], ref[3], dtype, scale=np.sqrt(k))
    dout = rng.normal(size=(n, d)).astype(dtype)
    dW0, db0 = rng.normal(size=(k, d)).astype(dtype), rng.normal(size=d).astype(dtype)
    for param_grads in (True, False):
        (_, nb), (_, ref) = both(
            "dense_backward", dout, x, W, np.empty((n, k), dtype), dW0, db0, param_grads
        )
        for i in (3, 4, 5):  # dx, dW (accumulated onto dW0), db
            close(nb[i], ref[i], dtype, scale=np.sqrt(max(n, d)))
        if not param_grads:
            assert np.array_equal(nb[4], dW0) and np.array_equal(nb[5], db0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (64, 3136), (200, 240)])
def test_one_output_input_gradient_is_the_product(shape, dtype):
    """Above the crossover a one-output layer's dx = dout @ W.T is formed by a multiply (an
    outer product has one term per element): the very values np.matmul gives; with more
    outputs, a product (in oneMKL's GEMM, if chosen, which rounds its own way: hence close)."""
    n, k = shape
    rng = np.random.default_rng(2)
    dout, W = rng.normal(size=(n, 1)).astype(dtype), rng.normal(size=(k, 1)).astype(dtype)
    dx = np.full((n, k), np.nan, dtype)
    kernels.dense.input_grad_blas(dout, W, dx)
    np.testing.assert_array_equal(dx, dout @ W.T)
    W2 = rng.normal(size=(k, 3)).astype(dtype)
    dout2, dx2 = rng.normal(size=(n, 3)).astype(dtype), np.full((n, k), np.nan, dtype)
    kernels.dense.input_grad_blas(dout2, W2, dx2)
    want, eps = dout2 @ W2.T, np.finfo(dtype).eps
    np.testing.assert_allclose(dx2, want, rtol=10 * eps, atol=10 * eps * np.abs(want).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (12544, 32), (3136, 64), (50176, 1)])
def test_bias_and_channel_sums_on_pixel_rows(shape, dtype):
    """The bias pass and the channel sums a convolution runs on its product's rows (the bias
    pass also Dense's above the crossover), onto what the outputs already hold; both loop
    orders of the sums (8 channels or more, fewer)."""
    rng = np.random.default_rng(1)
    y, b, db = (rng.normal(size=s).astype(dtype) for s in (shape, shape[1:], shape[1:]))
    (_, nb), (_, ref) = both("add_bias", y, b)
    close(nb[0], ref[0], dtype)
    np.testing.assert_array_equal(ref[0], y + b)
    (_, nb), (_, ref) = both("add_channel_sums", db, y)
    # both accumulate in float64: float32 results agree to its rounding, whatever the count
    close(nb[0], ref[0], dtype)
    exact = db.astype(np.float64) + y.astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(ref[0], exact, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(64, 16, 16), (63, 16, 16), (6, 9, 12), (3, 8, 8), (128, 16, 1)])
def test_jitted_dense_loops_against_the_twin_at_any_size(shape, dtype):
    """The jitted loops themselves, called directly (the layers reach them only below
    MATMUL_CROSSOVER): rows in blocks of four and the remainder, wide and narrow outputs, dx
    alone and with the parameter gradients."""
    n, k, d = shape
    rng = np.random.default_rng(1)
    x, W, b = (rng.normal(size=s).astype(dtype) for s in ((n, k), (k, d), (d,)))
    out, ref = np.full((n, d), np.nan, dtype), np.empty((n, d), dtype)
    kernels.dense.matmul_bias_nb(x, W, b, out)
    kernels.dense.dense_forward_np(x, W, b, ref)
    close(out, ref, dtype, scale=np.sqrt(k))
    dout = rng.normal(size=(n, d)).astype(dtype)
    scratch = np.full(k * d + 3, np.nan, dtype)  # W's transpose is written before it is read
    check_backward_loops(
        lambda dx, dW, db, pg, cdx: kernels.dense.dense_backward_nb(
            dout, x, W, dx, dW, db, pg, cdx, scratch
        ),
        lambda dx, dW, db, pg: kernels.dense.dense_backward_np(dout, x, W, dx, dW, db, pg),
        n,
        (n, k),
        (k, d),
        dtype,
    )


def check_backward_loops(jitted, twin, n, dx_shape, w_shape, dtype):
    """A Dense backward in loops against its twin, on a batch of n: dx alone, dW and db alone,
    and all three; dW and db accumulate onto ones, and dx is not written when not asked for."""
    d = w_shape[1]
    for param_grads, compute_dx in ((True, True), (True, False), (False, True)):
        dx, dW, db = np.full(dx_shape, np.nan, dtype), np.ones(w_shape, dtype), np.ones(d, dtype)
        jitted(dx, dW, db, param_grads, compute_dx)
        rx, rW, rb = np.empty(dx_shape, dtype), np.ones(w_shape, dtype), np.ones(d, dtype)
        twin(rx if compute_dx else None, rW, rb, param_grads)
        if compute_dx:
            close(dx, rx, dtype, scale=np.sqrt(d))
        else:
            assert np.isnan(dx).all()  # not written
        close(dW, rW, dtype, scale=np.sqrt(n))  # accumulated onto ones, or left as they were
        close(db, rb, dtype, scale=np.sqrt(n))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape", [(128, 16, 16), (64, 16, 16), (63, 5, 6), (1, 4, 4), (7, 1, 16), (66, 16, 1)]
)
def test_feature_major_dense_loops_against_the_twin(shape, dtype):
    """The fused step's feature-major loops (activations stored (width, N)): inputs and output
    columns in blocks of four and the remainder, one-wide inputs and outputs, dx alone and with
    the parameter gradients; and the twin itself against the batch-major twin, transposed."""
    n, k, d = shape
    rng = np.random.default_rng(4)
    x, W, b = (rng.normal(size=s).astype(dtype) for s in ((n, k), (k, d), (d,)))
    xT = np.ascontiguousarray(x.T)
    out, ref = np.full((d, n), np.nan, dtype), np.empty((d, n), dtype)
    kernels.dense.dense_forward_t_nb(xT, W, b, out)
    kernels.dense.dense_forward_t_np(xT, W, b, ref)
    close(out, ref, dtype, scale=np.sqrt(k))
    batch_major = np.empty((n, d), dtype)
    kernels.dense.dense_forward_np(x, W, b, batch_major)
    close(ref, batch_major.T, dtype, scale=np.sqrt(k))
    doutT = rng.normal(size=(d, n)).astype(dtype)
    check_backward_loops(
        lambda dx, dW, db, pg, cdx: kernels.dense.dense_backward_t_nb(
            doutT, xT, W, dx, dW, db, pg, cdx
        ),
        lambda dx, dW, db, pg: kernels.dense.dense_backward_t_np(doutT, xT, W, dx, dW, db, pg),
        n,
        (k, n),
        (k, d),
        dtype,
    )
    rx, rW, rb = np.empty((k, n), dtype), np.zeros((k, d), dtype), np.zeros(d, dtype)
    kernels.dense.dense_backward_t_np(doutT, xT, W, rx, rW, rb, True)
    bx, bW, bb = np.empty((n, k), dtype), np.zeros((k, d), dtype), np.zeros(d, dtype)
    kernels.dense.dense_backward_np(np.ascontiguousarray(doutT.T), x, W, bx, bW, bb, True)
    for a, b_ in ((rx.T, bx), (rW, bW), (rb, bb)):
        close(a, b_, dtype, scale=np.sqrt(max(n, d)))


def test_a_wrong_feature_major_loop_is_caught():
    """Negative control: the comparison above fails for an input gradient that keeps only the
    first block of four output rows (what a blocked loop that forgot its remainder computes,
    here with 6 outputs: rows 4 and 5 missing)."""
    rng = np.random.default_rng(5)
    xT, W = rng.normal(size=(5, 9)), rng.normal(size=(5, 6))
    doutT = rng.normal(size=(6, 9))
    dx, ref = np.empty((5, 9)), np.empty((5, 9))
    kernels.dense.dense_backward_t_nb(doutT, xT, W, dx, np.zeros((5, 6)), np.zeros(6), False, True)
    kernels.dense.dense_backward_t_np(doutT, xT, W, ref, np.zeros((5, 6)), np.zeros(6), False)
    close(dx, ref, np.float64)
    first_block = np.empty((5, 9))
    kernels.dense.dense_backward_t_np(
        doutT[:4], xT, W[:, :4], first_block, np.zeros((5, 4)), np.zeros(4), False
    )
    with pytest.raises(AssertionError):
        close(first_block, ref, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_activations(dtype, alpha):
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(37, 11)) * 4).astype(dtype)
    dout = rng.normal(size=x.shape).astype(dtype)
    cases = [("leaky_relu", (alpha,)), ("tanh", ()), ("sigmoid", ())]
    for name, extra in cases:
        (_, nb), (_, ref) = both(name + "_forward", x, *extra, np.empty_like(x))
        close(nb[-1], ref[-1], dtype)
        y = ref[-1]
        (_, nb), (_, ref) = both(name + "_backward", dout, y, *extra, np.empty_like(x))
        close(nb[-1], ref[-1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", ["ones", "zeros", "smoothed", "random"])
@pytest.mark.parametrize("scale", [1.0, -1.0])
def test_sigmoid_cross_entropy(dtype, target, scale):
    rng = np.random.default_rng(3)
    a = np.concatenate([rng.normal(scale=5, size=(60, 1)), [[1e4], [-1e4], [0.0]]]).astype(dtype)
    t = {
        "ones": np.ones_like(a),
        "zeros": np.zeros_like(a),
        "smoothed": np.full_like(a, 0.9),
        "random": rng.uniform(size=a.shape).astype(dtype),
    }[target]
    (l_nb, nb), (l_np, ref) = both("sigmoid_cross_entropy", a, t, scale, np.empty_like(a))
    assert np.isfinite(l_nb) and l_nb == pytest.approx(l_np, rel=TOL[dtype])
    close(nb[3], ref[3], dtype)
    # Against the plain formula, in float64, where it does not overflow (|a| < 30).
    a64, t64 = a.astype(np.float64), t.astype(np.float64)
    ok = np.abs(a64[:, 0]) < 30
    d = 1.0 / (1.0 + np.exp(-a64[ok]))
    plain = -(t64[ok] * np.log(d) + (1 - t64[ok]) * np.log(1 - d))
    m = len(a)
    np.testing.assert_allclose(ref[3][ok], scale * (d - t64[ok]) / m, rtol=1e-4, atol=1e-7)
    finite_part = scale * plain.sum() / m
    extreme = l_np - finite_part  # the three extreme logits' share: exact by hand
    # softplus(1e4) = 1e4 and softplus(-1e4) = 0 to every digit a float holds.
    by_hand = (
        scale
        * sum(
            t64[i, 0] * max(-a64[i, 0], 0) + (1 - t64[i, 0]) * max(a64[i, 0], 0)
            for i in np.flatnonzero(~ok)
        )
        / m
    )
    assert extreme == pytest.approx(by_hand, rel=10 * TOL[dtype], abs=10 * TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(64, 33, 1), (8, 5, 36)])  # (N, C, L): features, channels
def test_batchnorm(dtype, training, shape):
    rng = np.random.default_rng(4)
    n, d, length = shape
    x = (rng.normal(size=shape) * 3 + 1).astype(dtype)
    gamma, beta = rng.normal(size=d).astype(dtype), rng.normal(size=d).astype(dtype)
    vec = lambda: np.empty(d, dtype)  # noqa: E731
    buffers = (np.empty_like(x), vec(), np.empty_like(x))  # xhat, s, out
    (_, nb), (_, ref) = both("batchnorm_forward", x, gamma, beta, 1e-5, *buffers, vec(), vec())
    for i in (4, 5, 6, 7, 8):  # xhat, s, out, mean, var
        close(nb[i], ref[i], dtype, scale=10)
    mean, var = ref[7], ref[8]
    assert np.allclose(mean, x.astype(np.float64).mean(axis=(0, 2)), rtol=1e-4)
    if not training:  # the eval kernel, on given statistics
        running = (mean + 0.5, var * 2.0)
        (_, nb), (_, ev) = both("batchnorm_eval", x, gamma, beta, *running, 1e-5, *buffers)
        for i in (6, 7, 8):  # xhat, s, out
            close(nb[i], ev[i], dtype, scale=10)
        expected = (
            gamma[:, None] * (x - running[0][:, None]) / np.sqrt(running[1] + 1e-5)[:, None]
            + beta[:, None]
        )
        close(ev[8], expected, dtype, scale=10)
    xhat, s = ref[4], ref[5]
    dout = rng.normal(size=shape).astype(dtype)
    (_, nb), (_, ref) = both(
        "batchnorm_backward",
        dout,
        xhat,
        s,
        gamma,
        np.empty_like(x),
        np.ones(d, dtype),
        np.ones(d, dtype),
        training,
        True,
    )
    for i in (4, 5, 6):  # dx, dgamma, dbeta
        close(nb[i], ref[i], dtype, scale=10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_maxout(dtype):
    rng = np.random.default_rng(5)
    n, units, pieces = 50, 24, 5
    z = rng.normal(size=(n, units * pieces)).astype(dtype)
    (_, nb), (_, ref) = both(
        "maxout_forward", z, pieces, np.empty((n, units), dtype), np.empty((n, units), np.intp)
    )
    assert np.array_equal(nb[3], ref[3])  # argmax indices: exact, the inputs have no ties
    close(nb[2], ref[2], dtype)
    dout = rng.normal(size=(n, units)).astype(dtype)
    (_, nb), (_, ref) = both(
        "maxout_backward", dout, ref[3], pieces, np.full((n, units * pieces), 7.0, dtype)
    )
    close(nb[3], ref[3], dtype)


@pytest.mark.parametrize("zero_g", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_optimiser_updates(dtype, zero_g):
    """Each update against its twin; with zero_g the gradient is zero afterwards and the update
    is the very one without (bit for bit), else the gradient is left as it was."""
    rng = np.random.default_rng(6)
    theta, g, v, m = (rng.normal(size=(30, 7)).astype(dtype) for _ in range(4))
    (_, nb), (_, ref) = both("sgd_momentum", theta, g, v, 0.1, 0.9, zero_g)
    (_, plain), _ = both("sgd_momentum", theta, g, v, 0.1, 0.9, False)
    close(nb[0], ref[0], dtype)
    close(nb[2], ref[2], dtype)
    for i in (0, 2):
        np.testing.assert_array_equal(nb[i], plain[i])
    for out in (nb, ref):
        np.testing.assert_array_equal(out[1], np.zeros_like(g) if zero_g else g)
    v = np.abs(v)
    args = (theta, g, m, v, 2e-4, 0.5, 0.999, 1e-8, 0.5, 0.001)
    (_, nb), (_, ref) = both("adam", *args, zero_g)
    (_, plain), _ = both("adam", *args, False)
    for i in (0, 2, 3):
        close(nb[i], ref[i], dtype)
        np.testing.assert_array_equal(nb[i], plain[i])
    for out in (nb, ref):
        np.testing.assert_array_equal(out[1], np.zeros_like(g) if zero_g else g)


def test_backend_switch():
    before = ng.get_backend()
    try:
        ng.set_backend("numpy")
        assert kernels.ops.dense_forward is kernels.dense.dense_forward_np
        ng.set_backend("numba")
        assert kernels.ops.dense_forward is kernels.dense.dense_forward_loop_or_blas
        with pytest.raises(ValueError, match="unknown backend 'cuda'"):
            ng.set_backend("cuda")
    finally:
        ng.set_backend(before)


def double_arithmetic(py_func, *args):
    """The float64 operations and float32-to-float64 conversions in the optimised LLVM IR of
    py_func compiled with the project's flags for these arguments (cached kernels do not keep
    their IR, so the Python function is compiled afresh)."""
    f = numba.njit(nogil=True, fastmath=FASTMATH, error_model="numpy")(py_func)
    f(*args)
    ir = f.inspect_llvm(f.signatures[0])
    return re.findall(r"= (?:fadd|fsub|fmul|fdiv|fneg)\b[^\n]*\bdouble\b|\bfpext\b", ir)


def _tanh_backward_with_a_float64_literal(dout, y, dx):
    gf, yf, df = dout.reshape(-1), y.reshape(-1), dx.reshape(-1)
    for i in range(gf.size):
        df[i] = gf[i] * (1.0 - yf[i] * yf[i])


def test_float32_kernels_compute_in_float32():
    """A literal 1.0 is a float64 in Numba, and 1.0 - y (y float32) makes the whole expression
    float64: half the vector width, and conversions both ways.  The fused step's activation
    backward takes its 1 in the buffers' dtype; the negative control shows what the check
    sees otherwise."""
    x = np.full((4, 3), 0.5, np.float32)
    # code is a run-time argument: one compilation holds all three activations' loops.
    args = (x.copy(), x, 2, np.float32(0.2))
    assert double_arithmetic(fused._activate_backward.py_func, *args) == []
    assert double_arithmetic(_tanh_backward_with_a_float64_literal, x, x, x.copy())


@pytest.mark.parametrize("shape", [(6, 5, 4), (9, 1, 7), (4, 8, 1)])
def test_feature_major_backward_against_finite_differences(shape):
    """The feature-major Dense backward (the twin, and the jitted loops the fused step runs)
    against central differences of L = sum(G * outT) in float64, G a random upstream gradient:
    dxT, dW and db."""
    n, k, d = shape
    rng = np.random.default_rng(6)
    xT, W, b = rng.normal(size=(k, n)), rng.normal(size=(k, d)), rng.normal(size=d)
    G = random_upstream(rng, (d, n))

    def forward():
        out = np.empty((d, n))
        kernels.dense.dense_forward_t_np(xT, W, b, out)
        return out

    expected = {
        "x": numerical_gradient_array(forward, xT, G),
        "W": numerical_gradient_array(forward, W, G),
        "b": numerical_gradient_array(forward, b, G),
    }
    backwards = {
        "twin": lambda *grads: kernels.dense.dense_backward_t_np(G, xT, W, *grads, True),
        "jitted": lambda *grads: kernels.dense.dense_backward_t_nb(G, xT, W, *grads, True, True),
    }
    for which, backward in backwards.items():
        dx, dW, db = np.empty((k, n)), np.zeros((k, d)), np.zeros(d)
        backward(dx, dW, db)
        for name, got in (("x", dx), ("W", dW), ("b", db)):
            assert rel_error(got, expected[name]) < 1e-7, (which, name)
