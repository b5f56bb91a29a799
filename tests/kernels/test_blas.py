"""numgan.kernels.blas: C = A @ B and C += A @ B by one GEMM call, against the NumPy lines they
replace, with each GEMM found here (NumPy's OpenBLAS, and oneMKL where installed)."""

import importlib.metadata
import os
import subprocess
import sys

import numpy as np
import pytest

from numgan.kernels import blas, dense, ops, set_backend

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _bundled_openblas() -> bool:
    """Whether this NumPy says it was built with the OpenBLAS its wheels bundle."""
    try:
        config = np.show_config(mode="dicts")
        return config["Build Dependencies"]["blas"]["name"] == "scipy-openblas"
    except (TypeError, KeyError):  # a NumPy too old to report it this way
        return False


def _mkl_installed() -> bool:
    try:
        importlib.metadata.distribution("mkl")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


#: the GEMMs this machine has, each tested
GEMMS = [name for name in ("openblas", "mkl") if blas._found(name)[0] is not None]


@pytest.fixture(params=GEMMS)
def gemm(request, monkeypatch):
    """Each GEMM found, chosen for the test; the process's own choice (all of its state) put
    back after it by monkeypatch, after any other attribute the test patched."""
    for name in ("_PROVIDER", "_GEMM", "_INT_MAX"):
        monkeypatch.setattr(blas, name, getattr(blas, name))
    blas.use(request.param)
    return request.param


@pytest.fixture
def gemm_only(monkeypatch, gemm):
    """add_product with no size threshold, and with the NumPy lines made to fail: a result
    then comes from GEMM or not at all."""
    monkeypatch.setattr(blas, "IN_PLACE_MIN", 0)

    def line(A, B, C):
        raise AssertionError("the NumPy line ran where GEMM should have")

    monkeypatch.setattr(blas, "add_product_np", line)
    if gemm == "mkl":  # with OpenBLAS, matmul is np.matmul itself
        monkeypatch.setattr(blas, "matmul_np", line)
    return gemm


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
    """Whatever GEMM is in use: with oneMKL chosen, available() would hold without it."""
    fns, largest = blas._found("openblas")
    assert fns is not None and largest in (2**31 - 1, 2**63 - 1)
    assert "openblas" in GEMMS


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M, K, N", [(7, 5, 6), (131, 600, 257)])
def test_every_layout_gemm_takes_adds_the_product(dtype, M, K, N, gemm_only):
    """A tiny product and one past the BLAS's blocking in every dimension (K = 600 is summed
    in more than one block)."""
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M, K, N", [(7, 5, 6), (131, 600, 257)])
def test_every_layout_gemm_takes_forms_the_product(dtype, M, K, N, gemm_only):
    """matmul overwrites C (beta = 0: what C held before, NaN here, plays no part)."""
    rng = np.random.default_rng(3)
    tol = TOL[dtype] * (1 if K < 100 else 10)
    for a_name, A in _layouts(rng, M, K, dtype).items():
        for b_name, B in _layouts(rng, K, N, dtype).items():
            C = np.full((M, N), np.nan, dtype)
            blas.matmul(A, B, C)
            expected = A.astype(np.float64) @ B.astype(np.float64)
            np.testing.assert_allclose(
                C,
                expected,
                rtol=tol,
                atol=tol * np.abs(expected).max(),
                err_msg=f"A {a_name}, B {b_name}",
            )
            if gemm == "openblas":  # np.matmul itself: the very values
                np.testing.assert_array_equal(C, np.matmul(A, B))


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


def _each_case_reaches(monkeypatch, twin: str, fn) -> None:
    """Every case of _line_cases reaches ``blas.<twin>`` (counted) through ``fn``, and gives
    the twin's result or its error."""
    calls = []
    line = getattr(blas, twin)

    def counted(A, B, C):
        calls.append(1)
        line(A, B, C)

    monkeypatch.setattr(blas, twin, counted)
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
            fn(A, B, C)
            np.testing.assert_allclose(C, expected, rtol=1e-6, err_msg=name)
        else:
            with pytest.raises(error):
                fn(A, B, C)
        assert len(calls) == before + 1, name


def test_what_gemm_cannot_take_reaches_the_line(monkeypatch, gemm):
    """Each case reaches the NumPy line (counted), and so gives its result or its error."""
    monkeypatch.setattr(blas, "IN_PLACE_MIN", 0)
    _each_case_reaches(monkeypatch, "add_product_np", blas.add_product)


def test_what_gemm_cannot_take_reaches_matmuls_line(monkeypatch, gemm):
    """matmul's twin gets every case GEMM cannot take (with OpenBLAS chosen, the twin is all
    matmul runs)."""
    _each_case_reaches(monkeypatch, "matmul_np", blas.matmul)


def test_sizes_beyond_blas_integers_take_the_line(monkeypatch, gemm):
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


def test_a_small_C_takes_the_line_with_openblas_only(monkeypatch, gemm):
    """Below IN_PLACE_MIN the temporary costs less than a ctypes call, with OpenBLAS; with
    oneMKL the line's product would wake OpenBLAS's threads, so GEMM takes every size."""
    calls = []
    line = blas.add_product_np
    monkeypatch.setattr(
        blas, "add_product_np", lambda A, B, C: (calls.append(C.size), line(A, B, C))
    )
    n = int(np.sqrt(blas.IN_PLACE_MIN)) - 1
    A, B, C = (np.ones((n, n), np.float32) for _ in range(3))
    blas.add_product(A, B, C)
    assert calls == ([n * n] if gemm == "openblas" else [])
    np.testing.assert_array_equal(C, np.full((n, n), 1 + n, np.float32))


@pytest.mark.skipif("mkl" not in GEMMS, reason="oneMKL is not installed here")
@pytest.mark.parametrize("key", ["1", "2-sgd", "4"])
def test_with_mkl_a_training_step_never_takes_a_numpy_line(key, monkeypatch):
    """Every product of a Numba-backend iteration goes to oneMKL: a NumPy line would run its
    product in OpenBLAS, whose spinning threads made row 2-sgd's iteration 4x slower."""
    from numgan.app import bench

    def line(A, B, C):
        raise AssertionError(f"a NumPy line ran: {A.shape} @ {B.shape}")

    before, backend = blas.provider(), ops.backend
    try:
        set_backend("numba")
        blas.use("mkl")
        spec = next(s for s in bench.model_specs((int(key[0]),)) if s.key == key)
        trainer = bench.build_trainer(spec, data_size=256)
        trainer.step()
        monkeypatch.setattr(blas, "add_product_np", line)
        monkeypatch.setattr(blas, "matmul_np", line)
        for _ in range(2):
            trainer.step()
    finally:
        blas.use(before)
        set_backend(backend)


def test_mismatched_shapes_raise_numpys_error_not_a_bad_read(gemm):
    A, B = np.ones((300, 200), np.float32), np.ones((100, 300), np.float32)
    with pytest.raises(ValueError, match="matmul"):
        blas.add_product(A, B, np.zeros((300, 300), np.float32))
    with pytest.raises(ValueError, match="matmul"):
        blas.matmul(A, B, np.zeros((300, 300), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_backward_above_both_thresholds_matches_the_twin(dtype, monkeypatch, gemm):
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_forward_above_the_crossover_matches_the_twin(dtype, gemm):
    rng = np.random.default_rng(5)
    x, W = rng.normal(size=(64, 256)).astype(dtype), rng.normal(size=(256, 160)).astype(dtype)
    b = rng.normal(size=160).astype(dtype)
    got, want = np.empty((64, 160), dtype), np.empty((64, 160), dtype)
    dense.dense_forward_loop_or_blas(x, W, b, got)
    dense.dense_forward_np(x, W, b, want)
    np.testing.assert_allclose(got, want, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


def test_the_backends_pick_matmul_and_its_twin():
    try:
        set_backend("numba")
        assert ops.matmul is blas.matmul
        set_backend("numpy")
        assert ops.matmul is blas.matmul_np
    finally:
        set_backend(os.environ.get("NUMGAN_BACKEND", "numba"))


# -- choosing the GEMM ---------------------------------------------------------------------


@pytest.mark.skipif(not _mkl_installed(), reason="the mkl package is not installed here")
def test_the_mkl_package_is_found():
    fns, largest = blas._found("mkl")
    assert fns is not None and largest == 2**63 - 1
    assert fns[np.dtype(np.float32)].__name__ == "cblas_sgemm_64"


def test_auto_takes_mkl_on_intel_only(monkeypatch):
    """auto: oneMKL on an Intel CPU where found; NumPy's OpenBLAS on any other CPU, or where
    oneMKL is not found; and the NumPy lines where neither is."""
    fake = ({np.dtype(np.float32): None}, 1)
    monkeypatch.setitem(blas._FOUND, "mkl", fake)
    monkeypatch.setitem(blas._FOUND, "openblas", fake)
    for vendor, want in (("GenuineIntel", "mkl"), ("AuthenticAMD", "openblas"), (None, "openblas")):
        monkeypatch.setattr(blas, "cpu_vendor", lambda v=vendor: v)
        assert blas._resolve("auto") == want
    monkeypatch.setattr(blas, "cpu_vendor", lambda: "GenuineIntel")
    monkeypatch.setitem(blas._FOUND, "mkl", (None, 0))
    assert blas._resolve("auto") == "openblas"
    monkeypatch.setitem(blas._FOUND, "openblas", (None, 0))
    assert blas._resolve("auto") == "numpy"


def test_a_gemm_not_found_or_unknown_is_a_clear_error(monkeypatch):
    before = blas.provider()
    monkeypatch.setitem(blas._FOUND, "mkl", (None, 0))
    with pytest.raises(ValueError, match=r"'mkl' was not found: install it \(pip install mkl\)"):
        blas.use("mkl")
    with pytest.raises(ValueError, match="unknown BLAS 'fast': choose one of auto, mkl, openblas"):
        blas.use("Fast")
    assert blas.provider() == before  # a refused choice changes nothing
    monkeypatch.setitem(blas._LOAD_ERRORS, "mkl", "/x/libmkl_rt.so.2: no libiomp5.so")
    with pytest.raises(ValueError, match=r"it is there but did not load \(/x/libmkl_rt.so.2: no"):
        blas.use("mkl")


def test_numpy_takes_the_lines(monkeypatch):
    before = blas.provider()
    calls = []
    monkeypatch.setattr(blas, "IN_PLACE_MIN", 0)
    monkeypatch.setattr(blas, "add_product_np", lambda A, B, C: calls.append("add"))
    monkeypatch.setattr(blas, "matmul_np", lambda A, B, C: calls.append("matmul"))
    try:
        assert blas.use(" NumPy ") == "numpy" and not blas.available()  # any case
        assert blas.gemm_name() is None
        A = np.ones((300, 300), np.float32)
        blas.add_product(A, A, A.copy())
        blas.matmul(A, A, A.copy())
        assert calls == ["add", "matmul"]
    finally:
        blas.use(before)


def test_numgan_blas_is_read_at_import():
    """NUMGAN_BLAS=numpy picks the lines; an unknown value stops the import with the choices,
    and the command line turns that into one line and exit code 1."""
    env = {**os.environ, "NUMGAN_BLAS": "numpy"}
    code = "from numgan.kernels import blas; print(blas.provider())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "numpy", out.stderr
    env["NUMGAN_BLAS"] = " NumPy "  # any case, spaces ignored
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "numpy", out.stderr
    env["NUMGAN_BLAS"] = ""  # set but empty: the default
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == blas._resolve("auto"), out.stderr
    env["NUMGAN_BLAS"] = "fastest"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "ImportError: NUMGAN_BLAS: unknown BLAS 'fastest': choose one of" in bad.stderr
    cli = [sys.executable, "-m", "numgan", "train", "--iterations", "1"]
    run = subprocess.run(cli, env=env, capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "numgan train: error: NUMGAN_BLAS: unknown BLAS 'fastest': choose one of auto, mkl, "
        "openblas, numpy"
    ]


@pytest.mark.skipif(len(GEMMS) < 2, reason="one GEMM here: nothing to compare it with")
def test_both_gemms_train_the_same_gan_in_float64():
    """The DCGAN row (convolutions, Dense, BatchNorm) and the paper's MLP, a few iterations
    under each GEMM: float64 leaves only rounding between them.  With SGD: Adam would blow up
    the rounding of the biases before a BatchNorm, whose gradient is zero in exact arithmetic
    (benchmarks/agreement.py), to steps of its learning rate."""
    import dataclasses

    from numgan.app import bench

    before = blas.provider()
    try:
        for key in ("1", "4"):
            spec = next(s for s in bench.model_specs((int(key),)) if s.key == key)
            spec = dataclasses.replace(spec, optimizer="sgd", lr=0.01)
            params = {}
            for name in GEMMS:
                blas.use(name)
                trainer = bench.build_trainer(spec, dtype=np.float64, data_size=256)
                for _ in range(3):
                    trainer.step()
                nets = (trainer.gan.G, trainer.gan.D)
                params[name] = [p.copy() for net in nets for p, _ in net.parameters()]
            for a, b in zip(params["openblas"], params["mkl"], strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    finally:
        blas.use(before)


@pytest.fixture
def mkl(monkeypatch):
    """oneMKL chosen for the test, the process's choice put back after it."""
    if "mkl" not in GEMMS:
        pytest.skip("oneMKL is not installed here")
    for name in ("_PROVIDER", "_GEMM", "_INT_MAX"):
        monkeypatch.setattr(blas, name, getattr(blas, name))
    blas.use("mkl")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (1.0, 1.0), (1.0, 0.5), (-0.3, 0.7)])
@pytest.mark.parametrize("M, K, N", [(7, 5, 6), (131, 600, 257)])
def test_the_compiled_gemm_call_is_the_ctypes_call(dtype, alpha, beta, M, K, N, mkl):
    """oneMKL's GEMM called from a jitted kernel (blas._mkl_gemm) and through ctypes with the
    same arguments (blas._ctypes_gemm) give the very same C, in every layout _operand
    describes, and refuse the same operands."""
    rng = np.random.default_rng(4)
    for a_name, A in _layouts(rng, M, K, dtype).items():
        for b_name, B in _layouts(rng, K, N, dtype).items():
            C0 = rng.normal(size=(M, N)).astype(dtype)
            compiled, by_ctypes = C0.copy(), C0.copy()
            assert blas._mkl_gemm(A, B, compiled, alpha, beta, blas._INT_MAX)
            assert blas._ctypes_gemm(A, B, by_ctypes, alpha, beta, blas._INT_MAX)
            np.testing.assert_array_equal(compiled, by_ctypes, err_msg=f"A {a_name}, B {b_name}")
            assert not np.array_equal(compiled, C0)
            for route in (blas._mkl_gemm, blas._ctypes_gemm):  # negative strides: refused
                assert not route(A[::-1], B, compiled, alpha, beta, blas._INT_MAX)


#: the start of the scripts the tests below run in a process of their own
_SCRIPT = (
    "import numpy as np\n"
    "from numgan.kernels import blas\n"
    "A = np.arange(12, dtype=np.float32).reshape(3, 4)\n"
    "C = np.zeros((3, 3), np.float32)\n"
)


def _python(code: str, **env: str) -> list[str]:
    """Run _SCRIPT and then code in a new Python with these environment variables added;
    the words it printed (a failure shows its stderr)."""
    script = [sys.executable, "-c", _SCRIPT + code]
    run = subprocess.run(script, env={**os.environ, **env}, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


def test_the_compiled_gemm_call_is_cached_on_disk(tmp_path):
    """The kernel names oneMKL's GEMM by symbol, not by a run's address, so a second process
    loads it from Numba's cache instead of compiling it again."""
    if "mkl" not in GEMMS:
        pytest.skip("oneMKL is not installed here")
    code = (
        "blas.use('mkl')\n"
        "blas.matmul(A, A.T, C)\n"
        "s = blas._mkl_gemm.stats\n"
        "print(C[0, 0], sum(s.cache_hits.values()), sum(s.cache_misses.values()))\n"
    )
    runs = [_python(code, NUMBA_CACHE_DIR=str(tmp_path)) for _ in range(2)]
    assert runs == [["14.0", "0", "1"], ["14.0", "1", "0"]]


def test_overlap_is_judged_to_the_byte(gemm_only):
    """C that starts right after A's last element goes to GEMM; C sharing one element with A
    is refused (and takes the line)."""
    rng = np.random.default_rng(5)
    buf = np.zeros(6 * 5 + 6 * 4, np.float32)
    A, C = buf[:30].reshape(6, 5), buf[30:].reshape(6, 4)
    A[...] = rng.normal(size=(6, 5))
    B = rng.normal(size=(5, 4)).astype(np.float32)
    blas.matmul(A, B, C)  # the line would fail here (gemm_only)
    np.testing.assert_allclose(C, A @ B, rtol=1e-6, atol=1e-6)
    assert blas._layout(A, B, buf[30:].reshape(6, 4), blas._INT_MAX) != (0, 0, 0, 0)
    assert blas._layout(A, B, buf[29:53].reshape(6, 4), blas._INT_MAX) == (0, 0, 0, 0)
    assert blas._layout(buf[29:53].reshape(6, 4).T, B[:4].T, A, blas._INT_MAX) == (0, 0, 0, 0)


def test_read_only_and_memmap_operands_go_to_gemm(gemm_only, tmp_path):
    """Accepted operands of other array types than a plain writeable ndarray: read-only A and
    B, memmaps as A and as C."""
    rng = np.random.default_rng(6)
    A = rng.normal(size=(7, 5)).astype(np.float32)
    B = rng.normal(size=(5, 6)).astype(np.float32)
    expected = A.astype(np.float64) @ B.astype(np.float64)
    ro_A, ro_B = A.copy(), B.copy()
    ro_A.flags.writeable = ro_B.flags.writeable = False
    C = np.empty((7, 6), np.float32)
    blas.matmul(ro_A, ro_B, C)
    np.testing.assert_allclose(C, expected, rtol=1e-5, atol=1e-5)
    mm_A = np.memmap(tmp_path / "a.bin", dtype=np.float32, mode="w+", shape=A.shape)
    mm_A[...] = A
    mm_C = np.memmap(tmp_path / "c.bin", dtype=np.float32, mode="w+", shape=(7, 6))
    blas.add_product(mm_A, B, mm_C)
    np.testing.assert_allclose(mm_C, expected, rtol=1e-5, atol=1e-5)


def test_the_compiled_call_waits_for_its_symbols():
    """Before ``use("mkl")`` binds _mkl_gemm's symbols, compiled code would jump to nothing:
    with oneMKL's functions put in place some other way, the products go through ctypes (in
    a process of its own, so a crash could not take the suite with it)."""
    if "mkl" not in GEMMS:
        pytest.skip("oneMKL is not installed here")
    code = (
        "assert blas._LINKED is None, 'bound at import'\n"
        "blas._PROVIDER = 'mkl'\n"
        "blas._GEMM, blas._INT_MAX = blas._found('mkl')\n"
        "blas.matmul(A, A.T, C)\n"
        "assert np.array_equal(C, A @ A.T), C\n"
        "blas.use('mkl')\n"
        "assert blas._LINKED is blas._GEMM\n"
        "C[...] = 0\n"
        "blas.matmul(A, A.T, C)\n"
        "assert np.array_equal(C, A @ A.T), C\n"
        "print(sum(blas._mkl_gemm.stats.cache_hits.values())"
        " + sum(blas._mkl_gemm.stats.cache_misses.values()))\n"
    )
    # the compiled call compiled (or loaded) once: for the product after use("mkl")
    assert _python(code, NUMGAN_BLAS="numpy") == ["1"]


def test_with_numba_disabled_the_products_go_through_ctypes():
    """NUMBA_DISABLE_JIT=1 (for stepping through kernels in a debugger) runs _mkl_gemm as
    Python, where the call to the symbol does nothing: the products must take ctypes."""
    if "mkl" not in GEMMS:
        pytest.skip("oneMKL is not installed here")
    code = (
        "blas.use('mkl')\n"
        "blas.matmul(A, A.T, C)\n"
        "blas.add_product(A, A.T, C)\n"
        "assert np.array_equal(C, 2 * (A @ A.T)), C\n"
        "print(blas._LINKED)\n"
    )
    assert _python(code, NUMBA_DISABLE_JIT="1") == ["None"]
