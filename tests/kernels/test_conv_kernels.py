"""The convolution kernels: each Numba kernel gives its NumPy twin's numbers, and col2im is the
adjoint of im2col (not its inverse).  The kernels take images channels last, (N, H, W, C)."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from numgan.kernels import conv

seed = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def geometries(draw):
    g = {
        "N": draw(st.integers(1, 3)),
        "C": draw(st.integers(1, 4)),
        "H": draw(st.integers(1, 7)),
        "W": draw(st.integers(1, 7)),
        "kh": draw(st.integers(1, 4)),
        "kw": draw(st.integers(1, 4)),
        "sh": draw(st.integers(1, 3)),
        "sw": draw(st.integers(1, 3)),
        "ph": draw(st.integers(0, 2)),
        "pw": draw(st.integers(0, 2)),
    }
    g["Ho"] = conv.out_size(g["H"], g["kh"], g["sh"], g["ph"])
    g["Wo"] = conv.out_size(g["W"], g["kw"], g["sw"], g["pw"])
    assume(g["Ho"] >= 1 and g["Wo"] >= 1)
    return g


def args(g):
    return g["kh"], g["kw"], g["sh"], g["sw"], g["ph"], g["pw"]


def image_shape(g):
    return g["N"], g["H"], g["W"], g["C"]


def cols_shape(g):
    return g["N"] * g["Ho"] * g["Wo"], g["kh"] * g["kw"] * g["C"]


@given(g=geometries(), s=seed, dtype=st.sampled_from([np.float32, np.float64]))
def test_im2col_numba_equals_its_twin(g, s, dtype):
    x = np.random.default_rng(s).normal(size=image_shape(g)).astype(dtype)
    a, b = np.full(cols_shape(g), np.nan, dtype), np.full(cols_shape(g), np.nan, dtype)
    conv.im2col_np(x, *args(g), a)
    conv.im2col_nb(x, *args(g), b)
    np.testing.assert_array_equal(a, b)  # a pure copy: bit for bit, every entry written


@given(g=geometries(), s=seed, dtype=st.sampled_from([np.float32, np.float64]))
def test_col2im_numba_equals_its_twin(g, s, dtype):
    rng = np.random.default_rng(s)
    cols = rng.normal(size=cols_shape(g)).astype(dtype)
    base = rng.normal(size=g["C"]).astype(dtype)
    a = np.full(image_shape(g), np.nan, dtype)
    b = a.copy()
    conv.col2im_np(cols, *args(g), a, base)
    conv.col2im_nb(cols, *args(g), b, base)
    # Sums of the same terms; the order of addition may differ, so within rounding.
    np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-6)


@given(g=geometries(), s=seed)
def test_col2im_is_the_adjoint_of_im2col(g, s):
    """<im2col(x), c> = <x, col2im(c)> for every x and c."""
    rng = np.random.default_rng(s)
    x = rng.normal(size=image_shape(g))
    c = rng.normal(size=cols_shape(g))
    cols = np.empty(cols_shape(g))
    conv.im2col_nb(x, *args(g), cols)
    back = np.empty_like(x)
    conv.col2im_nb(c, *args(g), back, np.zeros(g["C"]))
    lhs, rhs = np.sum(cols * c), np.sum(x * back)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


def test_col2im_is_not_the_inverse_of_im2col():
    """A 3x3 kernel at stride 1 reads each centre pixel of a 4x4 image four times: col2im of
    im2col multiplies each pixel by the number of patches that contain it."""
    x = np.ones((1, 4, 4, 1))
    cols = np.empty((4, 9))
    conv.im2col_np(x, 3, 3, 1, 1, 0, 0, cols)
    back = np.empty_like(x)
    conv.col2im_np(cols, 3, 3, 1, 1, 0, 0, back, np.zeros(1))
    counts = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])
    np.testing.assert_array_equal(back[0, :, :, 0], counts)


@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4)),
    s=seed,
)
def test_nchw_to_rows_numba_equals_its_twin(shape, s):
    rng = np.random.default_rng(s)
    N, C, H, W = shape
    x = rng.normal(size=shape)
    rows_np, rows_nb = np.empty((N * H * W, C)), np.empty((N * H * W, C))
    db_np, db_nb = np.ones(C), np.ones(C)  # accumulates onto what is there
    conv.nchw_to_rows_np(x, rows_np, db_np, True)
    conv.nchw_to_rows_nb(x, rows_nb, db_nb, True)
    np.testing.assert_array_equal(rows_np, rows_nb)
    np.testing.assert_array_equal(rows_np, x.transpose(0, 2, 3, 1).reshape(-1, C))
    # atol: a sum of up to 48 normals added to 1 can cancel to near 0, where a relative bound
    # alone would ask for more than float64 holds
    np.testing.assert_allclose(db_np, db_nb, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(db_np, 1.0 + x.sum(axis=(0, 2, 3)), rtol=1e-13, atol=1e-14)
    unchanged = db_nb.copy()
    conv.nchw_to_rows_nb(x, rows_nb, db_nb, False)  # layout only
    np.testing.assert_array_equal(db_nb, unchanged)


@pytest.mark.parametrize("C, H", [(32, 14), (1, 28)], ids=["32x14x14", "1x28x28"])
def test_kernels_at_the_dcgan_shapes_equal_their_twins(C, H):
    """The dcgan preset's images (4x4 kernels, stride 2, padding 1, batch 64): D's second and
    first Conv2D inputs, which are also G's transposed convolutions' outputs: long runs past
    the vector loops' remainders, and runs of 4."""
    rng = np.random.default_rng(C * H)
    k, s, p = 4, 2, 1
    x = rng.normal(size=(64, H, H, C)).astype(np.float32)
    Ho = conv.out_size(H, k, s, p)
    a, b = np.full((2, 64 * Ho * Ho, k * k * C), np.nan, np.float32)
    conv.im2col_np(x, k, k, s, s, p, p, a)
    conv.im2col_nb(x, k, k, s, s, p, p, b)
    np.testing.assert_array_equal(a, b)
    base = rng.normal(size=C).astype(np.float32)
    out_np, out_nb = np.full((2, *x.shape), np.nan, np.float32)
    conv.col2im_np(a, k, k, s, s, p, p, out_np, base)
    conv.col2im_nb(a, k, k, s, s, p, p, out_nb, base)
    # at most four patch values meet at a pixel (stride 2, kernel 4), so float32 rounding
    np.testing.assert_allclose(out_np, out_nb, rtol=1e-5, atol=1e-5)
