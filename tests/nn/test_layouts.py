"""Every layer gives the same numbers whatever the memory layout of its input and of its
upstream gradient: C order, the axes reversed (Fortran order), channels last, a strided slice,
negative strides.  The layers hand images on in whichever layout is cheapest for them (the
convolutions in channels last), so every layer must read every layout."""

import numpy as np
import pytest

import numgan as ng
from numgan.nn import layer as layer_module

F64 = np.float64


def layouts(a):
    """(name, an array equal to a, stored another way) for each layout a layer may meet."""
    yield "C order", np.ascontiguousarray(a)
    yield "axes reversed", np.asfortranarray(a)
    if a.ndim == 4:
        yield "channels last", np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)
    wide[..., ::2] = a
    yield "strided slice", wide[..., ::2]
    yield "negative strides", np.flip(np.ascontiguousarray(np.flip(a, 0)), 0)


def images(rng):
    return rng.choice([-1.0, 1.0], size=(3, 4, 5, 6)) * rng.uniform(0.1, 2.0, size=(3, 4, 5, 6))


def rows(rng):
    return rng.normal(size=(5, 6))


CASES = {
    "LeakyReLU": (lambda rng: ng.LeakyReLU(0.2), images),
    "ReLU rows": (lambda rng: ng.ReLU(), rows),
    "Tanh": (lambda rng: ng.Tanh(), images),
    "Sigmoid rows": (lambda rng: ng.Sigmoid(), rows),
    "Affine": (lambda rng: ng.Affine(2.0, -1.0), images),
    "BatchNorm images": (lambda rng: ng.BatchNorm(4, dtype=F64), images),
    "BatchNorm rows": (lambda rng: ng.BatchNorm(6, dtype=F64), rows),
    "Dense": (lambda rng: ng.Dense(6, 3, rng=rng, dtype=F64), rows),
    "Maxout": (lambda rng: ng.Maxout(6, 3, 2, rng=rng, dtype=F64), rows),
    "MinibatchDiscrimination": (
        lambda rng: ng.MinibatchDiscrimination(6, 3, 2, rng=rng, dtype=F64),
        rows,
    ),
    "Conv2D": (lambda rng: ng.Conv2D(4, 3, 3, stride=2, padding=1, rng=rng, dtype=F64), images),
    "ConvTranspose2D": (
        lambda rng: ng.ConvTranspose2D(4, 3, 4, stride=2, padding=1, rng=rng, dtype=F64),
        images,
    ),
    "Flatten": (lambda rng: ng.Flatten(), images),
}


def run(layer, x, dout):
    layer.zero_grad()
    y = layer.forward(x)
    dx = layer.backward(dout)
    return y, dx, {k: g.copy() for k, g in layer.grads.items()}


@pytest.mark.parametrize("name", CASES)
def test_every_layout_of_x_and_dout_gives_the_same_numbers(name):
    make, draw = CASES[name]
    rng = np.random.default_rng(list(CASES).index(name))
    layer = make(rng)
    x = draw(rng)
    y0 = layer.forward(x)
    dout = rng.normal(size=y0.shape)
    y0, dx0, grads0 = run(layer, x, dout)
    for x_name, x_as in layouts(x):
        for d_name, dout_as in layouts(dout):
            y, dx, grads = run(layer, x_as, dout_as)
            where = f"{name}, x {x_name}, dout {d_name}"
            # sums over a batch may add in another order: float64 rounding
            np.testing.assert_allclose(y, y0, rtol=1e-12, atol=1e-13, err_msg=where)
            np.testing.assert_allclose(dx, dx0, rtol=1e-12, atol=1e-13, err_msg=where)
            for k in grads0:
                np.testing.assert_allclose(grads[k], grads0[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_the_layout_helpers():
    rng = np.random.default_rng(0)
    x = images(rng)
    for name, a in layouts(x):
        dense = layer_module._dense(a)
        np.testing.assert_array_equal(dense, x)
        # a dense layout is kept as it is; a strided slice is copied into C order
        assert (dense is a) == (name != "strided slice" and name != "negative strides"), name
        flat = layer_module._flat(dense)
        assert flat.ndim == 1 and np.shares_memory(flat, dense)
    last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    assert layer_module.channels_last(last) and not layer_module.channels_last(x)
    assert layer_module.channels_last(x[:, :1].copy())  # one channel: both orders at once
    rows_view = layer_module.as_rows(last)
    assert np.shares_memory(rows_view, last)
    np.testing.assert_array_equal(rows_view, x.transpose(0, 2, 3, 1).reshape(-1, 4))
    # _layout_of: the same strides as its model, the values of its argument
    copy = layer_module._layout_of(last, x)
    assert copy.strides == last.strides
    np.testing.assert_array_equal(copy, x)
    assert layer_module._layout_of(last, last) is last


def test_images_stay_channels_last_from_one_convolution_to_the_next():
    """The dcgan preset's D: each convolution returns its output stored channels last, and
    BatchNorm and the activations keep that layout, so the next convolution reads its input's
    rows without a transpose; the backward pass hands the gradients back the same way."""
    rng = np.random.default_rng(7)
    D = ng.Sequential(
        [
            ng.Conv2D(3, 8, 4, stride=2, padding=1, rng=rng, dtype=F64),
            ng.LeakyReLU(0.2),
            ng.Conv2D(8, 16, 4, stride=2, padding=1, rng=rng, dtype=F64),
            ng.BatchNorm(16, dtype=F64),
            ng.LeakyReLU(0.2),
        ]
    )
    h = rng.normal(size=(4, 3, 16, 16))  # data in C order
    outputs = []
    for layer in D.layers:
        h = layer.forward(h)
        outputs.append(h)
    assert all(layer_module.channels_last(o) and not o.flags.c_contiguous for o in outputs)
    g = rng.normal(size=h.shape)  # an upstream gradient in C order is taken as it comes
    for layer in reversed(D.layers[1:]):
        g = layer.backward(g)
        assert layer_module.channels_last(g) and not g.flags.c_contiguous, repr(layer)


@pytest.mark.parametrize("stored", ["C order", "channels last"])
def test_float32_batchnorm_keeps_float32_accuracy_over_many_pixels(stored):
    """A channel's statistics run over every pixel of the batch (here 64 x 14 x 14 = 12,544
    values around 30): summed in float32 one value at a time they lose digits, in float64 they
    keep float32's accuracy in either layout."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 8, 14, 14)) * 0.5 + 30.0
    if stored == "channels last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    dout = rng.normal(size=x.shape)
    bn32, bn64 = ng.BatchNorm(8, dtype=np.float32), ng.BatchNorm(8, dtype=F64)
    y32, y64 = bn32.forward(x.astype(np.float32)), bn64.forward(x)
    dx32, dx64 = bn32.backward(dout.astype(np.float32)), bn64.backward(dout)
    # x's own float32 rounding (about 2e-6 at 30, over a spread of 0.5) bounds what y can keep
    np.testing.assert_allclose(y32, y64, rtol=0, atol=2e-5)
    np.testing.assert_allclose(dx32, dx64, rtol=0, atol=2e-6 * np.abs(dx64).max())
    for k in ("gamma", "beta"):
        np.testing.assert_allclose(bn32.grads[k], bn64.grads[k], rtol=2e-5, atol=0)
    np.testing.assert_allclose(bn32.running_mean, bn64.running_mean, rtol=1e-6)


def test_an_empty_batch_passes_both_ways_through_the_convolutions():
    rng = np.random.default_rng(5)
    for layer in (
        ng.Conv2D(2, 3, 3, padding=1, rng=rng, dtype=F64),
        ng.ConvTranspose2D(2, 3, 4, stride=2, padding=1, rng=rng, dtype=F64),
    ):
        y = layer.forward(np.zeros((0, 2, 4, 4)))
        dx = layer.backward(np.zeros(y.shape))
        assert y.shape[0] == 0 and dx.shape == (0, 2, 4, 4)
        assert not layer.grads["W"].any() and not layer.grads["b"].any()
