"""numgan.kernels.blas: C += A @ B by one GEMM call, against the NumPy line it replaces."""

import numpy as np
import pytest

from numgan.kernels import blas, dense

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _bundled_openblas() -> bool:
    """Whether this NumPy says it was built with the OpenBLAS its wheels bundle."""
    try:
        config = np.show_config(mode="dicts")
        return config["Build Dependencies"]["blas"]["name"] == "scipy-openblas"
    except (TypeError, KeyError):  # a NumPy too old to report it this way
        return False


@pytest.fixture
def gemm_only(monkeypatch):
    """add_product with no size threshold, and with the NumPy line made to fail: a result
    then comes from GEMM or not at all."""
    monkeypatch.setattr(blas, "IN_PLACE_MIN", 0)

    def line(A, B, C):
        raise AssertionError("the NumPy line ran where GEMM should have")

    monkeypatch.setattr(blas, "add_product_np", line)


def _layouts(rng, rows, cols, dtype):
    """One matrix (rows, cols) in each layout GEMM takes: row-major, a transposed view, and
    a slice of a wider array (leading dimension larger than the row), both ways round."""
    X = rng.normal(size=(rows, cols)).astype(dtype)
    wide = np.zeros((rows, cols + 3), dtype)
    wide[:, :cols] = X
    tall = np.zeros((cols + 5, rows), dtype)
    tall[:cols] = X.T
    return {
        "row-major": X,
        "transposed": np.ascontiguousarray(X.T).T,
        "sliced": wide[:, :cols],
        "sliced, transposed": tall[:cols].T,
    }


@pytest.mark.skipif(not _bundled_openblas(), reason="NumPy here is built against another BLAS")
def test_numpys_bundled_openblas_is_found():
    assert blas.available()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_layout_gemm_takes_adds_the_product(dtype, gemm_only):
    if not blas.available():
        pytest.skip("no GEMM to test: add_product is the NumPy line here")
    rng = np.random.default_rng(0)
    M, K, N = 7, 5, 6
    for a_name, A in _layouts(rng, M, K, dtype).items():
        for b_name, B in _layouts(rng, K, N, dtype).items():
            C0 = rng.normal(size=(M, N)).astype(dtype)
            C = C0.copy()
            blas.add_product(A, B, C)
            expected = C0.astype(np.float64) + A.astype(np.float64) @ B.astype(np.float64)
            np.testing.assert_allclose(
                C, expected, rtol=TOL[dtype], atol=TOL[dtype], err_msg=f"A {a_name}, B {b_name}"
            )


def test_what_gemm_cannot_take_falls_back_to_the_line(monkeypatch):
    """Each case below must reach the NumPy line, and give its result."""
    monkeypatch.setattr(blas, "IN_PLACE_MIN", 0)
    calls = []
    line = blas.add_product_np

    def counted(A, B, C):
        calls.append(1)
        line(A, B, C)

    monkeypatch.setattr(blas, "add_product_np", counted)
    rng = np.random.default_rng(1)
    f32 = np.float32
    big = rng.normal(size=(12, 10)).astype(f32)
    B = rng.normal(size=(5, 4)).astype(f32)
    shared = rng.normal(size=(4, 4)).astype(f32)
    cases = {
        "no unit stride in A": (big[::2, ::2], B, np.zeros((6, 4), f32)),
        "mixed dtypes": (big[:6, :5].astype(np.float64), B, np.zeros((6, 4), f32)),
        "C not row-major": (big[:6, :5], B, np.zeros((4, 6), f32).T),
        "C is A": (shared, shared.copy(), shared),
        "K = 0": (np.zeros((6, 0), f32), np.zeros((0, 4), f32), np.ones((6, 4), f32)),
        "integers": (
            np.ones((6, 5), np.int64),
            np.ones((5, 4), np.int64),
            np.zeros((6, 4), np.int64),
        ),
    }
    for name, (A, Bm, C) in cases.items():
        expected = C + A @ Bm
        before = len(calls)
        blas.add_product(A, Bm, C)
        assert len(calls) == before + 1, name
        np.testing.assert_allclose(C, expected, rtol=1e-6, err_msg=name)


def test_a_small_C_takes_the_line(monkeypatch):
    calls = []
    monkeypatch.setattr(blas, "add_product_np", lambda A, B, C: calls.append(C.size))
    n = int(np.sqrt(blas.IN_PLACE_MIN)) - 1
    A, B, C = (np.ones((n, n), np.float32) for _ in range(3))
    blas.add_product(A, B, C)
    assert calls == [n * n]


def test_mismatched_shapes_raise_numpys_error_not_a_bad_read():
    A, B = np.ones((300, 200), np.float32), np.ones((100, 300), np.float32)
    with pytest.raises(ValueError, match="matmul"):
        blas.add_product(A, B, np.zeros((300, 300), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_backward_above_both_thresholds_matches_the_twin(dtype):
    """The Numba backend's Dense backward at a size where it calls BLAS and accumulates dW in
    place: dx, dW (added to a nonzero dW) and db as the twin computes them."""
    rng = np.random.default_rng(2)
    n, k, d = 64, 256, 160
    assert k * d >= blas.IN_PLACE_MIN and n * k * d > dense.MATMUL_CROSSOVER
    x, W = rng.normal(size=(n, k)).astype(dtype), rng.normal(size=(k, d)).astype(dtype)
    dout = rng.normal(size=(n, d)).astype(dtype)
    dW0, db0 = rng.normal(size=(k, d)).astype(dtype), rng.normal(size=d).astype(dtype)
    got = [np.empty_like(x), dW0.copy(), db0.copy()]
    want = [np.empty_like(x), dW0.copy(), db0.copy()]
    dense.dense_backward_loop_or_blas(dout, x, W, *got, True)
    dense.dense_backward_np(dout, x, W, *want, True)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)
