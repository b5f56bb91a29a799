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
@pytest.mark.parametrize("M, K, N", [(7, 5, 6), (131, 600, 257)])
def test_every_layout_gemm_takes_adds_the_product(dtype, M, K, N, gemm_only):
    """A tiny product and one past OpenBLAS's blocking in every dimension (K = 600 is summed
    in more than one block)."""
    if not blas.available():
        pytest.skip("no GEMM to test: add_product is the NumPy line here")
    rng = np.random.default_rng(0)
    tol = TOL[dtype] * (1 if K < 100 else 10)  # float32 sums of 600 terms round more
    for a_name, A in _layouts(rng, M, K, dtype).items():
        for b_name, B in _layouts(rng, K, N, dtype).items():
            C0 = rng.normal(size=(M, N)).astype(dtype)
            C = C0.copy()
            blas.add_product(A, B, C)
            expected = C0.astype(np.float64) + A.astype(np.float64) @ B.astype(np.float64)
            np.testing.assert_allclose(
                C,
                expected,
                rtol=tol,
                atol=tol * np.abs(expected).max(),
                err_msg=f"A {a_name}, B {b_name}",
            )


def _line_cases():
    """(name, A, B, C): operands GEMM must not be handed; each must take the NumPy line."""
    rng = np.random.default_rng(1)
    f32 = np.float32
    A = rng.normal(size=(6, 5)).astype(f32)
    B = rng.normal(size=(5, 4)).astype(f32)
    C = rng.normal(size=(6, 4)).astype(f32)
    big = rng.normal(size=(12, 10)).astype(f32)
    base = rng.normal(size=(6, 9)).astype(f32)
    packed = np.zeros(6, [("x", "<f4", (5,)), ("tag", "<i2")])  # rows 22 bytes apart
    packed["x"] = A
    raw = bytearray(A.nbytes + 1)
    unaligned = np.frombuffer(raw, dtype=f32, count=A.size, offset=1).reshape(6, 5)
    unaligned[...] = A
    readonly = C.copy()
    readonly.flags.writeable = False
    return [
        ("no unit stride in A", big[::2, ::2], B, C.copy()),
        ("negative strides in A", A[::-1, ::-1], B, C.copy()),
        ("zero strides in B", A, np.broadcast_to(B[:1], B.shape), C.copy()),
        ("a row stride of 5.5 elements", packed["x"], B, C.copy()),
        ("unaligned A", unaligned, B, C.copy()),
        ("mixed dtypes", A.astype(np.float64), B, C.copy()),
        ("big-endian", A.astype(">f4"), B.astype(">f4"), C.astype(">f4")),
        ("integers", A.astype(np.int64), B.astype(np.int64), C.astype(np.int64)),
        ("float16", A.astype(np.float16), B.astype(np.float16), C.astype(np.float16)),
        ("C not row-major", A, B, np.asfortranarray(C)),
        ("C is A", base[:, :6], base[:, :6].copy(), base[:, :6]),
        ("C overlaps A", base[:, 3:8], B, base[:, :4]),
        ("K = 0, a slice", big[:6, :0], big[:0, :4], C.copy()),
        ("1-D B", A, B[:, 0], C[:, 0].copy()),
        ("3-D", A[None], B[None], C[None].copy()),
        ("a list as A", A.tolist(), B, C.copy()),
        ("a masked C", A, B, np.ma.masked_array(C.copy(), mask=np.eye(6, 4, dtype=bool))),
        ("read-only C", A, B, readonly),
    ]


def test_what_gemm_cannot_take_reaches_the_line(monkeypatch):
    """Each case reaches the NumPy line (counted), and so gives its result or its error."""
    monkeypatch.setattr(blas, "IN_PLACE_MIN", 0)
    calls = []
    line = blas.add_product_np

    def counted(A, B, C):
        calls.append(1)
        line(A, B, C)

    monkeypatch.setattr(blas, "add_product_np", counted)
    for name, A, B, C in _line_cases():
        expected = C.copy()
        expected.flags.writeable = C.flags.writeable  # so the line meets the same C
        before = len(calls)
        try:
            line(A, B, expected)
            error = None
        except (ValueError, TypeError) as e:
            error = type(e)
        if error is None:
            blas.add_product(A, B, C)
            np.testing.assert_allclose(C, expected, rtol=1e-6, err_msg=name)
        else:
            with pytest.raises(error):
                blas.add_product(A, B, C)
        assert len(calls) == before + 1, name


def test_sizes_beyond_blas_integers_take_the_line(monkeypatch):
    """On a 32-bit-integer BLAS a size or leading dimension over 2**31 - 1 would wrap; the
    limit is read from the library's integer type and checked before the call."""
    monkeypatch.setattr(blas, "IN_PLACE_MIN", 0)
    monkeypatch.setattr(blas, "_INT_MAX", 7)
    calls = []
    monkeypatch.setattr(blas, "add_product_np", lambda A, B, C: calls.append(1))
    f32 = np.float32
    blas.add_product(np.ones((6, 5), f32), np.ones((5, 4), f32), np.zeros((6, 4), f32))
    assert calls == []  # within the limit: GEMM (if found)
    blas.add_product(np.ones((6, 9), f32)[:, :5], np.ones((5, 4), f32), np.zeros((6, 4), f32))
    blas.add_product(np.ones((8, 5), f32), np.ones((5, 4), f32), np.zeros((8, 4), f32))
    assert calls == ([1, 1] if blas.available() else [])


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
def test_dense_backward_above_both_thresholds_matches_the_twin(dtype, monkeypatch):
    """The Numba backend's Dense backward at a size where it calls BLAS and accumulates dW in
    place (the NumPy line is counted, and must not run): dx, dW (added to a nonzero dW) and db
    as the twin computes them."""
    rng = np.random.default_rng(2)
    n, k, d = 64, 256, 160
    assert k * d >= blas.IN_PLACE_MIN and n * k * d > dense.MATMUL_CROSSOVER
    x, W = rng.normal(size=(n, k)).astype(dtype), rng.normal(size=(k, d)).astype(dtype)
    dout = rng.normal(size=(n, d)).astype(dtype)
    dW0, db0 = rng.normal(size=(k, d)).astype(dtype), rng.normal(size=d).astype(dtype)
    got = [np.empty_like(x), dW0.copy(), db0.copy()]
    want = [np.empty_like(x), dW0.copy(), db0.copy()]
    calls = []
    line = blas.add_product_np
    monkeypatch.setattr(blas, "add_product_np", lambda *a: (calls.append(1), line(*a)))
    dense.dense_backward_loop_or_blas(dout, x, W, *got, True)
    assert calls == ([] if blas.available() else [1])
    dense.dense_backward_np(dout, x, W, *want, True)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)
