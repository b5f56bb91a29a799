"""The GEMM numgan's Numba backend calls: C = A @ B and C += A @ B in one BLAS call each.

BLAS's GEMM computes

    C = alpha * op(A) @ op(B) + beta * C        op(X) = X or X.T

Two things here need more than ``np.matmul``:

* **C += A @ B without a temporary** (``add_product``).  A layer's weight gradient accumulates
  until ``zero_grad()``: ``dW += x.T @ dout``.  In NumPy that line is two passes: BLAS writes the
  product into a new (D_in, D_out) temporary, and a second pass adds it to dW.  With alpha =
  beta = 1, GEMM adds the product into C as it forms it.  NumPy does not expose beta.
* **Which BLAS forms the products** (``matmul``).  NumPy's wheels bundle OpenBLAS; on an Intel
  CPU, oneMKL's GEMM forms the benchmark rows' products 1.3x faster (docs/kernels.md, "Which
  BLAS").  With MKL chosen, ``matmul`` calls its GEMM (beta = 0); otherwise it is
  ``np.matmul(A, B, out=C)``, which calls NumPy's OpenBLAS itself.
* **A call that costs less than ctypes** (``_mkl_gemm``).  oneMKL's GEMM is called from a
  jitted kernel, 0.65 us a call where ctypes takes 6.3 (docs/kernels.md, "GEMM from
  compiled code"); OpenBLAS's, for add_product, through ctypes.

The GEMM is chosen once per process, by ``NUMGAN_BLAS`` or ``use(name)`` (names in any case;
an empty NUMGAN_BLAS means auto):

    auto      (default) oneMKL on an Intel CPU where it is installed (``pip install mkl``, or
              ``pip install numgan[mkl]``), NumPy's OpenBLAS otherwise; oneMKL on other CPUs
              is not measured, so it is not chosen for them
    mkl       oneMKL's runtime library (libmkl_rt); an error if it is not found
    openblas  the OpenBLAS NumPy's wheels bundle, as "scipy-openblas" with its symbols renamed
              (``scipy_cblas_sgemm64_`` for the 64-bit-integer build, ``scipy_cblas_sgemm`` for
              the 32-bit one; NumPy 1.x's ``cblas_sgemm64_``); an error if it is not found
    numpy     no GEMM of its own: ``np.matmul`` and the NumPy line, whatever NumPy links

Every symbol used says its integer width (oneMKL's ``cblas_sgemm_64``: 64-bit), so nothing is
guessed; a bare ``cblas_sgemm`` is not used.  Where GEMM cannot take the operands as they are
(``_gemm_call`` lists the cases), the twin runs instead (``matmul_np``, ``add_product_np``: the
NumPy lines), with the same result.  With OpenBLAS, so does ``add_product`` with C smaller than
IN_PLACE_MIN elements, where the call's own cost (a few microseconds of ctypes arguments) is
more than the temporary's.  With oneMKL it does not: the twin's product would wake OpenBLAS's
threads beside oneMKL's, and the two pools would spin against each other on the cores.  The
NumPy backend uses neither: its layers call ``np.matmul`` and ``@``.

oneMKL is set up for the same numbers on every run: a fixed thread count (``MKL_Set_Dynamic(0)``)
and its conditional numerical reproducibility in mode AUTO, unless ``MKL_CBWR`` says otherwise.
A result from one GEMM is not bit for bit the other's: a run is reproducible on one machine
with one GEMM, and ``provider()`` (and the benchmark's machine record) says which.

The savings are measured by benchmarks/accumulate_timings.py and benchmarks/blas_choice.py
(docs/kernels.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.metadata
import os

import llvmlite.binding as llvm
import numpy as np

from .flags import jit, numba  # numba through flags: its thread setting is checked first

nbtypes = numba.types

# CBLAS's enums (cblas.h)
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112

# Below this many elements of C the NumPy line is as fast (a tie at 16,384) or faster: the
# temporary is small and the ctypes call costs ~5 us (benchmarks/accumulate_timings.py).
IN_PLACE_MIN = 32_768

PROVIDERS = ("auto", "mkl", "openblas", "numpy")

# (symbol prefix, suffix, integer type), the first found is used: NumPy 2's scipy-openblas in
# its 64- and 32-bit-integer builds, and NumPy 1.x's openblas64_ (suffix 64_, 64-bit integers).
# A bare cblas_sgemm is not used: nothing in its name says how wide its integers are.
_OPENBLAS_NAMES = (
    ("scipy_cblas_", "64_", ctypes.c_int64),
    ("scipy_cblas_", "", ctypes.c_int32),
    ("cblas_", "64_", ctypes.c_int64),
)
# oneMKL's ILP64 symbols (its runtime library also exports bare cblas_sgemm, whose integer
# width MKL_INTERFACE_LAYER can change)
_MKL_NAMES = (("cblas_", "_64", ctypes.c_int64),)

# oneMKL's settings (mkl_service.h): conditional numerical reproducibility, mode AUTO
_MKL_CBWR_AUTO = 2


# the array types GEMM is handed: subclasses with other semantics (masked arrays) take the line
_ARRAYS = (np.ndarray, np.memmap)


def add_product_np(A, B, C):
    """C += A @ B.   A: (M, K), B: (K, N), C: (M, N)"""
    C += A @ B


def matmul_np(A, B, C):
    """C = A @ B.   A: (M, K), B: (K, N), C: (M, N)"""
    np.matmul(A, B, out=C)


def _openblas_libraries() -> list[str]:
    """Files that may hold NumPy's BLAS: NumPy's own extension (its dependencies are searched
    too) and the libraries its wheels bundle beside it."""
    try:
        from numpy._core import _multiarray_umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath

    root = os.path.dirname(np.__file__)
    bundled = []
    for pattern in ("../numpy.libs/*openblas*", ".dylibs/*openblas*"):
        bundled += sorted(glob.glob(os.path.join(root, pattern)))
    return [_multiarray_umath.__file__, *bundled]


def _mkl_libraries() -> list[str]:
    """Files that may be oneMKL's runtime library: those the ``mkl`` package installed (its
    wheel puts libmkl_rt in the environment's lib folder), then the loader's own search."""
    found = []
    try:
        files = importlib.metadata.files("mkl") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if os.path.basename(str(f)).startswith(("libmkl_rt", "mkl_rt")):
            found.append(str(f.locate()))
    system = ctypes.util.find_library("mkl_rt")
    return found + ([system] if system else [])


# why a library that was there could not be loaded, by GEMM name (for the error message)
_LOAD_ERRORS: dict[str, str] = {}
# the loaded library of each GEMM found, by name
_LIBS: dict[str, ctypes.CDLL] = {}


def _load_gemm(name: str, paths: list[str], names) -> tuple[dict | None, int]:
    """({dtype: ctypes function} for float32 and float64, or None where not found; the largest
    size or leading dimension the functions' integers hold)."""
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            _LOAD_ERRORS.setdefault(name, f"{path}: {e}")
            continue
        for prefix, suffix, integer in names:
            try:
                fns = {
                    np.dtype(np.float32): (getattr(lib, f"{prefix}sgemm{suffix}"), ctypes.c_float),
                    np.dtype(np.float64): (getattr(lib, f"{prefix}dgemm{suffix}"), ctypes.c_double),
                }
            except AttributeError:
                continue
            for fn, real in fns.values():
                i, p = integer, ctypes.c_void_p
                fn.argtypes = [ctypes.c_int] * 3 + [i] * 3 + [real, p, i, p, i, real, p, i]
                fn.restype = None
            largest = 2 ** (8 * ctypes.sizeof(integer) - 1) - 1
            _LIBS[name] = lib
            return {dtype: fn for dtype, (fn, _) in fns.items()}, largest
    return None, 0


def _settle_mkl(lib) -> None:
    """The same numbers on every run: a fixed thread count, and reproducible reductions (mode
    AUTO) unless MKL_CBWR chose a mode.  Done when oneMKL is chosen, not when it is only
    looked for.  A library already in use may refuse a new mode; its results are then what its
    owner set up (the same library serves every user of oneMKL in the process)."""
    for setting, value in (("MKL_Set_Dynamic", 0), ("MKL_CBWR_Set", _MKL_CBWR_AUTO)):
        if setting == "MKL_CBWR_Set" and "MKL_CBWR" in os.environ:
            continue
        fn = getattr(lib, setting, None)  # an older oneMKL may lack one
        if fn is not None:
            fn(ctypes.c_int(value))


def cpu_vendor() -> str | None:
    """The CPU's vendor string ("GenuineIntel", "AuthenticAMD"), where the OS tells (Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


_FOUND: dict[str, tuple[dict | None, int]] = {}


def _found(name: str) -> tuple[dict | None, int]:
    """The GEMM functions of "mkl" or "openblas", looked for once (oneMKL is not loaded
    unless chosen or asked about)."""
    if name not in _FOUND:
        if name == "mkl":
            _FOUND[name] = _load_gemm(name, _mkl_libraries(), _MKL_NAMES)
        else:
            _FOUND[name] = _load_gemm(name, _openblas_libraries(), _OPENBLAS_NAMES)
    return _FOUND[name]


def _resolve(setting: str) -> str:
    """The GEMM a setting of NUMGAN_BLAS picks: "mkl", "openblas" or "numpy"."""
    if setting not in PROVIDERS:
        raise ValueError(f"unknown BLAS {setting!r}: choose one of {', '.join(PROVIDERS)}")
    if setting == "auto":
        if cpu_vendor() == "GenuineIntel" and _found("mkl")[0] is not None:
            return "mkl"
        return "openblas" if _found("openblas")[0] is not None else "numpy"
    if setting != "numpy" and _found(setting)[0] is None:
        fix = {
            "mkl": "install it (pip install mkl)",
            "openblas": "NumPy here is built against another BLAS",
        }[setting]
        if setting in _LOAD_ERRORS:
            fix = f"it is there but did not load ({_LOAD_ERRORS[setting]})"
        raise ValueError(
            f"BLAS {setting!r} was not found: {fix}; or use auto, which takes what is there"
        )
    return setting


_PROVIDER = "numpy"
_GEMM: dict | None = None
_INT_MAX = 0
# the GEMM functions _mkl_gemm's symbols are bound to (``_link``), or None before any
_LINKED: dict | None = None


def use(setting: str) -> str:
    """Form numgan's products with this GEMM from now on ("auto", "mkl", "openblas" or
    "numpy", in any case; module docstring), for the whole process; returns the one chosen."""
    global _PROVIDER, _GEMM, _INT_MAX
    chosen = _resolve(setting.strip().lower() if isinstance(setting, str) else setting)
    if chosen == "mkl" and "mkl" in _LIBS:
        _settle_mkl(_LIBS["mkl"])
    _PROVIDER = chosen
    _GEMM, _INT_MAX = (None, 0) if chosen == "numpy" else _found(chosen)
    if chosen == "mkl":
        _link(_GEMM)
    return chosen


def provider() -> str:
    """The GEMM in use: "mkl", "openblas" or "numpy" (np.matmul and the NumPy line)."""
    return _PROVIDER


def available() -> bool:
    """Whether add_product reaches a GEMM of its own (otherwise it is the NumPy line)."""
    return _GEMM is not None


def gemm_name() -> str | None:
    """The float32 GEMM in use (e.g. "scipy_cblas_sgemm64_", "cblas_sgemm_64"), or None."""
    return None if _GEMM is None else _GEMM[np.dtype(np.float32)].__name__


@jit
def _operand(X):
    """(transpose flag, leading dimension) describing a 2-D array to row-major GEMM, or (0, 0)
    if neither axis has unit stride, or the other axis's stride is not a whole number of
    elements at least one row (or column) long."""
    rows, cols = X.shape
    s0, s1 = X.strides
    size = X.itemsize
    if s1 == size and s0 % size == 0 and s0 // size >= max(1, cols):
        return _NO_TRANS, s0 // size
    if s0 == size and s1 % size == 0 and s1 // size >= max(1, rows):
        return _TRANS, s1 // size  # X.T is row-major with this leading dimension
    return 0, 0


@jit
def _span(X):
    """The first byte of X (2-D) and the one after its last (X's strides are positive here)."""
    start = X.ctypes.data
    last = start + (X.shape[0] - 1) * X.strides[0] + (X.shape[1] - 1) * X.strides[1]
    return start, last + X.itemsize


@jit
def _overlap(X, Y):
    """Whether the bytes X and Y span overlap: np.may_share_memory's test by address."""
    x0, x1 = _span(X)
    y0, y1 = _span(Y)
    return x0 < y1 and y0 < x1


@jit
def _layout(A, B, C, int_max):
    """(transA, lda, transB, ldb) for one row-major GEMM forming C from A and B as they are,
    or four zeros where it cannot: shapes that do not match, an empty product, C not
    row-major, data not aligned to its elements, A or B in a layout _operand refuses, C
    overlapping A or B, sizes beyond the library's integers (int_max).
    A: (M, K), B: (K, N), C: (M, N), 2-D arrays of one dtype."""
    (M, N), K = C.shape, A.shape[1]
    size = C.itemsize
    if (
        A.shape[0] != M
        or B.shape[0] != K
        or B.shape[1] != N
        or M == 0
        or N == 0
        or K == 0
        or not C.flags.c_contiguous
        or A.ctypes.data % size != 0
        or B.ctypes.data % size != 0
        or C.ctypes.data % size != 0
    ):
        return 0, 0, 0, 0
    ta, lda = _operand(A)
    tb, ldb = _operand(B)
    if ta == 0 or tb == 0 or max(M, N, K, lda, ldb) > int_max or _overlap(C, A) or _overlap(C, B):
        return 0, 0, 0, 0
    return ta, lda, tb, ldb


# oneMKL's GEMM called from compiled code.  Through ctypes a call costs microseconds of Python
# before the GEMM starts (the arguments' conversions, three ``.ctypes.data`` lookups): 6.3 us
# against 0.65 us from a jitted kernel, the same checks compiled in both (docs/kernels.md, "GEMM
# from compiled code"), and an iteration of the benchmark rows makes 25-36 products.  The
# kernel names the function by its symbol, bound to the address of the function ctypes loaded
# (``_link``, when ``use`` chooses oneMKL), so the kernel is cached on disk like any other.
# Called before the binding, compiled code would jump to nothing: ``_gemm_call`` takes this
# route only for the very functions bound.  oneMKL only: its ILP64 names are fixed, where the
# OpenBLAS names differ by build; and with OpenBLAS chosen, ``matmul`` is np.matmul, whose
# own call costs less than either.
def _gemm_type(real):
    e, i, p = nbtypes.int32, nbtypes.int64, nbtypes.voidptr  # CBLAS enums, MKL_INT, pointers
    return nbtypes.void(e, e, e, i, i, i, real, p, i, p, i, real, p, i)


_MKL_SGEMM = nbtypes.ExternalFunction("cblas_sgemm_64", _gemm_type(nbtypes.float32))
_MKL_DGEMM = nbtypes.ExternalFunction("cblas_dgemm_64", _gemm_type(nbtypes.float64))


def _link(gemm: dict) -> None:
    """Bind _mkl_gemm's symbols to these ctypes functions ({dtype: function}), once.  Not with
    NUMBA_DISABLE_JIT set: _mkl_gemm would run as Python, where its calls do nothing."""
    global _LINKED
    if _LINKED is None and not numba.config.DISABLE_JIT:
        for dtype, external in ((np.float32, _MKL_SGEMM), (np.float64, _MKL_DGEMM)):
            address = ctypes.cast(gemm[np.dtype(dtype)], ctypes.c_void_p).value
            llvm.add_symbol(external.symbol, address)
        _LINKED = gemm


@jit
def _mkl_gemm(A, B, C, alpha, beta, int_max):
    """C = alpha * A @ B + beta * C in one call of oneMKL's GEMM; False (nothing written) where
    _layout refuses the operands.  A: (M, K), B: (K, N), C: (M, N), all float32 or all
    float64.  Only after ``_link``: before it the symbols are bound to nothing."""
    ta, lda, tb, ldb = _layout(A, B, C, int_max)
    if ta == 0:
        return False
    (M, N), K = C.shape, A.shape[1]
    a, b, c = A.ctypes, B.ctypes, C.ctypes  # the data pointers
    if C.itemsize == 4:
        _MKL_SGEMM(_ROW_MAJOR, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, N)
    else:
        _MKL_DGEMM(_ROW_MAJOR, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, N)
    return True


def _gemm_call(A, B, C, beta: float) -> bool:
    """C = A @ B + beta * C in one GEMM call, if GEMM takes the operands as they are; False
    (and nothing written) otherwise: other types than ndarray and memmap (lists, masked
    arrays), other dtypes or dimensions, C not row-major, read-only or overlapping A or B,
    unaligned data, strides that are not whole elements, sizes beyond BLAS's integers.
    Overlap is judged by address: two memmaps of the same file region look disjoint, so do
    not pass them as C and A (the NumPy lines, which form the product first, would be safe).
    Here what compiled code cannot be handed (or cannot see: C read-only); _layout the rest."""
    if not (type(A) in _ARRAYS and type(B) in _ARRAYS and type(C) in _ARRAYS):
        return False
    if (
        _GEMM is None
        or C.dtype not in _GEMM
        or not (A.ndim == B.ndim == C.ndim == 2)
        or not (A.dtype == B.dtype == C.dtype)
        or not C.flags.writeable
    ):
        return False
    if _PROVIDER == "mkl" and _GEMM is _LINKED:
        return _mkl_gemm(A, B, C, 1.0, beta, _INT_MAX)
    return _ctypes_gemm(A, B, C, 1.0, beta, _INT_MAX)


def _ctypes_gemm(A, B, C, alpha, beta, int_max) -> bool:
    """_mkl_gemm's arguments and result, the call made through ctypes to the GEMM in use (for
    OpenBLAS, and for oneMKL before ``_link``).  A: (M, K), B: (K, N), C: (M, N)."""
    ta, lda, tb, ldb = _layout(A, B, C, int_max)
    if ta == 0:
        return False
    (M, N), K = C.shape, A.shape[1]
    # fmt: off
    _GEMM[C.dtype](_ROW_MAJOR, ta, tb, M, N, K,
                   alpha, A.ctypes.data, lda, B.ctypes.data, ldb,
                   beta, C.ctypes.data, N)
    # fmt: on
    return True


def add_product(A, B, C):
    """C += A @ B in one GEMM call (beta = 1); the twin is add_product_np.
    A: (M, K), B: (K, N), C: (M, N), all float32 or all float64 in native byte order; A and B
    may be transposed views.  Falls back to the twin for anything GEMM cannot take as it is
    (``_gemm_call``), and with OpenBLAS below IN_PLACE_MIN elements of C.  With oneMKL every C
    goes to its GEMM: the twin's product would run in OpenBLAS, whose threads would wake and
    spin beside oneMKL's (docs/kernels.md, "Which BLAS")."""
    small = _PROVIDER != "mkl" and getattr(C, "size", 0) < IN_PLACE_MIN
    if small or not _gemm_call(A, B, C, 1.0):
        add_product_np(A, B, C)


def matmul(A, B, C):
    """C = A @ B; the twin is matmul_np.  With oneMKL chosen, one call of its GEMM (beta =
    0); with NumPy's OpenBLAS, ``np.matmul``, which calls that GEMM itself at less cost per
    call than ctypes.  Operands GEMM cannot take as they are (``_gemm_call``) go to the twin.
    A: (M, K), B: (K, N), C: (M, N)."""
    if _PROVIDER != "mkl" or not _gemm_call(A, B, C, 0.0):
        matmul_np(A, B, C)


try:
    # set but empty means the default; the names in any case, spaces ignored
    use(os.environ.get("NUMGAN_BLAS", "").strip().lower() or "auto")
except ValueError as e:
    raise ImportError(f"NUMGAN_BLAS: {e}") from None
