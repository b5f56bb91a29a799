"""Conv2D and ConvTranspose2D: against a naive direct convolution written with plain loops,
against central differences (float64, random upstream gradient, dx included), and against
PyTorch where it is installed.  Hypothesis draws batch, channels, sizes, non-square kernels,
strides, padding and output_padding.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numgan as ng
from numgan.kernels import ops
from numgan.nn.gradcheck import TOLERANCE, check_layer

F64 = np.float64
seed = st.integers(min_value=0, max_value=2**32 - 1)
pairs = st.tuples


# -- the independent reference: seven loops, no im2col ---------------------------------------


def direct_conv(x, W, b, stride, padding):
    """out[n, o, a, c] = b[o] + sum_{ch, i, j} W[o, ch, i, j] * xpad[n, ch, a s + i, c s + j]."""
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, Wd = x.shape
    O, _, kh, kw = W.shape
    xp = np.zeros((N, C, H + 2 * ph, Wd + 2 * pw))
    xp[:, :, ph : ph + H, pw : pw + Wd] = x
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (Wd + 2 * pw - kw) // sw + 1
    out = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            for a in range(Ho):
                for c in range(Wo):
                    acc = b[o]
                    for ch in range(C):
                        for i in range(kh):
                            for j in range(kw):
                                acc += W[o, ch, i, j] * xp[n, ch, a * sh + i, c * sw + j]
                    out[n, o, a, c] = acc
    return out


def direct_conv_backward(x, W, dout, stride, padding):
    """The same seven loops, each product's two factors receiving the other times dout."""
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, Wd = x.shape
    O, _, kh, kw = W.shape
    xp = np.zeros((N, C, H + 2 * ph, Wd + 2 * pw))
    xp[:, :, ph : ph + H, pw : pw + Wd] = x
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    for n in range(N):
        for o in range(O):
            for a in range(dout.shape[2]):
                for c in range(dout.shape[3]):
                    g = dout[n, o, a, c]
                    for ch in range(C):
                        for i in range(kh):
                            for j in range(kw):
                                dxp[n, ch, a * sh + i, c * sw + j] += W[o, ch, i, j] * g
                                dW[o, ch, i, j] += xp[n, ch, a * sh + i, c * sw + j] * g
    return dxp[:, :, ph : ph + H, pw : pw + Wd], dW, dout.sum(axis=(0, 2, 3))


def direct_conv_transpose(x, W, b, stride, padding, output_padding):
    """Each input pixel stamps W[c] * x[n, c, a, b] onto the output at (a s - p, b s - p)."""
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, output_padding
    N, C, H, Wd = x.shape
    _, O, kh, kw = W.shape
    Ho, Wo = (H - 1) * sh - 2 * ph + kh + oh, (Wd - 1) * sw - 2 * pw + kw + ow
    canvas = np.zeros((N, O, Ho + 2 * ph, Wo + 2 * pw))
    for n in range(N):
        for c in range(C):
            for a in range(H):
                for d in range(Wd):
                    for o in range(O):
                        for i in range(kh):
                            for j in range(kw):
                                canvas[n, o, a * sh + i, d * sw + j] += (
                                    x[n, c, a, d] * W[c, o, i, j]
                                )
    return canvas[:, :, ph : ph + Ho, pw : pw + Wo] + b.reshape(1, O, 1, 1)


# -- what hypothesis draws -------------------------------------------------------------------


@st.composite
def conv_cases(draw, transpose=False):
    k = draw(pairs(st.integers(1, 3), st.integers(1, 3)))
    s = draw(pairs(st.integers(1, 3), st.integers(1, 3)))
    p = draw(pairs(st.integers(0, 2), st.integers(0, 2)))
    size = draw(pairs(st.integers(1, 6), st.integers(1, 6)))
    op = (draw(st.integers(0, s[0] - 1)), draw(st.integers(0, s[1] - 1))) if transpose else (0, 0)
    if transpose:
        out = [
            (n - 1) * st_ - 2 * pp + kk + o
            for n, st_, pp, kk, o in zip(size, s, p, k, op, strict=True)
        ]
    else:
        out = [(n + 2 * pp - kk) // st_ + 1 for n, st_, pp, kk in zip(size, s, p, k, strict=True)]
    assume(min(out) >= 1)
    return {
        "N": draw(st.integers(1, 2)),
        "C": draw(st.integers(1, 3)),
        "O": draw(st.integers(1, 3)),
        "size": size,
        "kernel_size": k,
        "stride": s,
        "padding": p,
        "output_padding": op,
    }


def build(case, rng, transpose=False):
    cls = ng.ConvTranspose2D if transpose else ng.Conv2D
    extra = {"output_padding": case["output_padding"]} if transpose else {}
    layer = cls(
        case["C"],
        case["O"],
        case["kernel_size"],
        stride=case["stride"],
        padding=case["padding"],
        rng=rng,
        dtype=F64,
        **extra,
    )
    layer.set_params(b=rng.normal(size=case["O"]))  # a non-zero bias, so db and out see it
    x = rng.normal(size=(case["N"], case["C"], *case["size"]))
    return layer, x


def assert_below(errors, names=("x", "W", "b")):
    assert set(errors) == set(names), errors
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, f"{worst}: relative error {errors[worst]:.2e}"


# -- Conv2D ----------------------------------------------------------------------------------


@given(case=conv_cases(), s=seed)
def test_conv2d_matches_direct_convolution_forward_and_backward(case, s):
    rng = np.random.default_rng(s)
    layer, x = build(case, rng)
    W, b = layer.params["W"], layer.params["b"]
    out = layer.forward(x)
    np.testing.assert_allclose(
        out, direct_conv(x, W, b, layer.stride, layer.padding), rtol=1e-12, atol=1e-12
    )
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout)
    dx_ref, dW_ref, db_ref = direct_conv_backward(x, W, dout, layer.stride, layer.padding)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], dW_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], db_ref, rtol=1e-12, atol=1e-12)


@given(case=conv_cases(), s=seed)
def test_conv2d_gradcheck(case, s):
    rng = np.random.default_rng(s)
    layer, x = build(case, rng)
    assert_below(check_layer(layer, x, rng=rng))


# -- ConvTranspose2D -------------------------------------------------------------------------


@given(case=conv_cases(transpose=True), s=seed)
def test_conv_transpose2d_matches_direct_stamping_forward(case, s):
    rng = np.random.default_rng(s)
    layer, x = build(case, rng, transpose=True)
    W, b = layer.params["W"], layer.params["b"]
    ref = direct_conv_transpose(x, W, b, layer.stride, layer.padding, layer.output_padding)
    np.testing.assert_allclose(layer.forward(x), ref, rtol=1e-12, atol=1e-12)


@given(case=conv_cases(transpose=True), s=seed)
def test_conv_transpose2d_gradcheck(case, s):
    rng = np.random.default_rng(s)
    layer, x = build(case, rng, transpose=True)
    assert_below(check_layer(layer, x, rng=rng))


@given(case=conv_cases(), s=seed)
def test_conv_transpose_is_the_adjoint_of_conv(case, s):
    """<conv(x), y> = <x, convT(y)> for the same W and no bias: the definition of an adjoint."""
    rng = np.random.default_rng(s)
    conv, x = build(case, rng)
    conv.set_params(b=np.zeros(case["O"]))
    y = rng.normal(size=conv.forward(x).shape)
    # The output_padding that brings ConvTranspose2D back to x's size.
    op = tuple(
        n - ((m - 1) * st_ - 2 * pp + kk)
        for n, m, st_, pp, kk in zip(
            x.shape[2:], y.shape[2:], conv.stride, conv.padding, conv.kernel_size, strict=True
        )
    )
    assume(all(o < st_ for o, st_ in zip(op, conv.stride, strict=True)))
    convT = ng.ConvTranspose2D(
        case["O"],
        case["C"],
        case["kernel_size"],
        stride=case["stride"],
        padding=case["padding"],
        output_padding=op,
        dtype=F64,
    ).set_params(W=conv.params["W"], b=np.zeros(case["C"]))
    lhs = np.sum(conv.forward(x) * y)
    rhs = np.sum(x * convT.forward(y))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


# -- a wrong backward is caught --------------------------------------------------------------


def test_negative_control_col2im_with_one_offset_dropped_is_caught(monkeypatch):
    """A col2im that forgets kernel offset (0, 0) gives a dx the checker rejects."""
    rng = np.random.default_rng(0)
    layer = ng.Conv2D(2, 3, 3, stride=2, padding=1, rng=rng, dtype=F64)
    x = rng.normal(size=(2, 2, 5, 5))
    assert_below(check_layer(layer, x, rng=rng))  # the real one passes

    real = ops.col2im
    C = x.shape[1]

    def col2im_dropping_offset_0_0(cols, kh, kw, sh, sw, ph, pw, out, base):
        cols = cols.copy()
        cols[:, :C] = 0.0  # the first C columns are offset (0, 0) in the (i, j, c) order
        real(cols, kh, kw, sh, sw, ph, pw, out, base)

    monkeypatch.setattr(ops, "col2im", col2im_dropping_offset_0_0)
    errors = check_layer(layer, x, rng=rng)
    assert errors["x"] > 1e-2, errors
    assert errors["W"] < TOLERANCE and errors["b"] < TOLERANCE  # only dx goes through col2im


# -- PyTorch, where installed ----------------------------------------------------------------


@given(case=conv_cases(), s=seed)
def test_conv2d_agrees_with_torch(case, s):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(s)
    layer, x = build(case, rng)
    out = layer.forward(x)
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout)
    xt, Wt, bt = (
        torch.tensor(a, requires_grad=True) for a in (x, layer.params["W"], layer.params["b"])
    )
    ot = torch.nn.functional.conv2d(xt, Wt, bt, stride=layer.stride, padding=layer.padding)
    ot.backward(torch.tensor(dout))
    for mine, theirs in ((out, ot), (dx, xt.grad), (layer.grads["W"], Wt.grad)):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads["b"], bt.grad.numpy(), rtol=0, atol=1e-10)


@given(case=conv_cases(transpose=True), s=seed)
def test_conv_transpose2d_agrees_with_torch(case, s):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(s)
    layer, x = build(case, rng, transpose=True)
    out = layer.forward(x)
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout)
    xt, Wt, bt = (
        torch.tensor(a, requires_grad=True) for a in (x, layer.params["W"], layer.params["b"])
    )
    ot = torch.nn.functional.conv_transpose2d(
        xt,
        Wt,
        bt,
        stride=layer.stride,
        padding=layer.padding,
        output_padding=layer.output_padding,
    )
    ot.backward(torch.tensor(dout))
    for mine, theirs in ((out, ot), (dx, xt.grad), (layer.grads["W"], Wt.grad)):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads["b"], bt.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_over_channels_agrees_with_torch_batchnorm2d(training):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.normal(loc=2.0, scale=3.0, size=(4, 3, 5, 6))
    layer = ng.BatchNorm(3, dtype=F64)
    layer.set_params(gamma=rng.uniform(0.5, 2.0, size=3), beta=rng.normal(size=3))
    layer.running_mean[:] = rng.normal(size=3)
    layer.running_var[:] = rng.uniform(0.5, 2.0, size=3)
    bn = torch.nn.BatchNorm2d(3, eps=layer.eps, momentum=layer.momentum).double()
    with torch.no_grad():
        bn.weight[:] = torch.tensor(layer.params["gamma"])
        bn.bias[:] = torch.tensor(layer.params["beta"])
        bn.running_mean[:] = torch.tensor(layer.running_mean)
        bn.running_var[:] = torch.tensor(layer.running_var)
    bn.train(training)
    out = layer.forward(x, training=training)
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    ot = bn(xt)
    ot.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, ot.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads["gamma"], bn.weight.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads["beta"], bn.bias.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.running_mean, bn.running_mean.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.running_var, bn.running_var.numpy(), rtol=0, atol=1e-12)


# -- shapes, arguments, initialisation -------------------------------------------------------


def test_output_shapes_follow_the_formulas():
    conv = ng.Conv2D(3, 8, (3, 5), stride=(2, 1), padding=(1, 2))
    assert conv.output_shape((3, 28, 20)) == (8, 14, 20)  # (28 + 2 - 3)//2 + 1, (20 + 4 - 5) + 1
    convT = ng.ConvTranspose2D(8, 3, 4, stride=2, padding=1, output_padding=1)
    assert convT.output_shape((8, 7, 7)) == (3, 15, 15)  # (7 - 1) 2 - 2 + 4 + 1
    assert conv.params["W"].shape == (8, 3, 3, 5) and convT.params["W"].shape == (8, 3, 4, 4)


@pytest.mark.parametrize("cls", [ng.Conv2D, ng.ConvTranspose2D])
def test_shape_errors_name_the_layer_and_both_shapes(cls):
    layer = cls(3, 4, 3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError) as err:
        layer.forward(np.zeros((2, 5, 8, 8), np.float32))
    message = str(err.value)
    assert f"{cls.__name__}(3, 4, kernel_size=3)" in message
    assert "(3, H, W)" in message and "(2, 5, 8, 8)" in message
    with pytest.raises(ValueError, match=r"Reshape\(\(C, H, W\)\)"):
        layer.forward(np.zeros((2, 27), np.float32))
    with pytest.raises(ValueError, match="too small"):
        ng.Conv2D(3, 4, 5, rng=np.random.default_rng(0)).forward(np.zeros((2, 3, 4, 4)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kernel_size": 0}, "kernel_size must be >= 1"),
        ({"kernel_size": (3,)}, "an int or a pair"),
        ({"kernel_size": 2.5}, "an int or a pair"),
        ({"kernel_size": 3, "stride": 0}, "stride must be >= 1"),
        ({"kernel_size": 3, "padding": -1}, "padding must be >= 0"),
        ({"kernel_size": 3, "init": "zeros"}, "unknown init 'zeros'"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ng.Conv2D(2, 3, **kwargs)


def test_output_padding_must_be_below_the_stride():
    with pytest.raises(ValueError, match="output_padding .* smaller than the stride"):
        ng.ConvTranspose2D(2, 3, 4, stride=2, output_padding=2)


def test_initialisation_counts_the_receptive_field():
    rng = np.random.default_rng(0)
    he = ng.Conv2D(16, 32, 5, init="he", rng=rng, dtype=F64).params["W"]
    assert he.std() == pytest.approx(np.sqrt(2.0 / (16 * 25)), rel=0.05)  # fan_in = C_in k k
    glorot = ng.ConvTranspose2D(16, 32, 4, init="glorot", rng=rng, dtype=F64).params["W"]
    a = np.sqrt(6.0 / (16 * 16 + 32 * 16))
    assert glorot.max() <= a and glorot.max() > 0.95 * a
    dcgan = ng.Conv2D(16, 32, 4, init="normal", scale=0.02, rng=rng, dtype=F64).params["W"]
    assert dcgan.std() == pytest.approx(0.02, rel=0.05) and abs(dcgan.mean()) < 1e-3


def test_unset_weights_are_refused():
    with pytest.raises(ng.NotInitializedError, match="no weights yet"):
        ng.Conv2D(1, 2, 3).forward(np.zeros((1, 1, 5, 5)))


def test_extra_values_count_the_patch_matrix_for_memory_checks():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 9, 7))
    conv = ng.Conv2D(4, 5, (3, 2), stride=2, padding=1, rng=rng, dtype=F64)
    conv.forward(x)
    cols = conv.cache[0]
    assert conv.extra_values((4, 9, 7)) == 2 * cols.size // 3  # patches and their gradient
    convT = ng.ConvTranspose2D(4, 5, 3, stride=2, rng=rng, dtype=F64)
    convT.forward(x)
    dcols_size = 3 * 9 * 7 * 3 * 3 * 5  # backward's im2col of dout: a patch per input pixel
    assert convT.extra_values((4, 9, 7)) == 2 * dcols_size // 3
