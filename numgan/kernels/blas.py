"""C += A @ B in one BLAS call: the weight gradient's accumulation without a temporary.

A layer's weight gradient accumulates until ``zero_grad()``: ``dW += x.T @ dout``.  In NumPy
that line is two passes: BLAS writes the product into a new (D_in, D_out) temporary, and a
second pass reads the temporary and dW and writes dW.  BLAS's GEMM computes

    C = alpha * op(A) @ op(B) + beta * C        op(X) = X or X.T

so with alpha = beta = 1 it adds the product into C as it forms it: no temporary, no second
pass.  NumPy does not expose beta, so ``add_product`` calls the CBLAS ``gemm`` of the BLAS
NumPy itself links.  NumPy's wheels bundle OpenBLAS as "scipy-openblas", with its symbols
renamed (``scipy_cblas_sgemm64_`` for the 64-bit-integer build, ``scipy_cblas_sgemm`` for the
32-bit one; NumPy 1.x's ``cblas_sgemm64_``); these names say the integer width, so nothing is
guessed.  Where that library or its symbols are not found (NumPy built against another BLAS),
or the operands are not what GEMM takes as they are (``add_product`` lists the cases), the
twin ``add_product_np`` (the NumPy line) runs instead, with the same result.  So does a C
smaller than IN_PLACE_MIN elements, where the call's own cost (a few microseconds of ctypes
arguments) is more than the temporary's.

The saving is measured by benchmarks/accumulate_timings.py (docs/kernels.md, "Accumulating
the weight gradient in place").
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

# CBLAS's enums (cblas.h)
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112

# Below this many elements of C the NumPy line is as fast (a tie at 16,384) or faster: the
# temporary is small and the ctypes call costs ~5 us (benchmarks/accumulate_timings.py).
IN_PLACE_MIN = 32_768

# (symbol prefix, suffix, integer type), the first found is used: NumPy 2's scipy-openblas in
# its 64- and 32-bit-integer builds, and NumPy 1.x's openblas64_ (suffix 64_, 64-bit integers).
# A bare cblas_sgemm is not used: nothing in its name says how wide its integers are.
_NAMES = (
    ("scipy_cblas_", "64_", ctypes.c_int64),
    ("scipy_cblas_", "", ctypes.c_int32),
    ("cblas_", "64_", ctypes.c_int64),
)


# the array types GEMM is handed: subclasses with other semantics (masked arrays) take the line
_ARRAYS = (np.ndarray, np.memmap)


def add_product_np(A, B, C):
    """C += A @ B.   A: (M, K), B: (K, N), C: (M, N)"""
    C += A @ B


def _candidate_libraries() -> list[str]:
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


def _find_gemm() -> tuple[dict | None, int]:
    """({dtype: ctypes function} for float32 and float64, or None where not found; the largest
    size or leading dimension the functions' integers hold)."""
    for path in _candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, integer in _NAMES:
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
            return {dtype: fn for dtype, (fn, _) in fns.items()}, largest
    return None, 0


_GEMM, _INT_MAX = _find_gemm()


def available() -> bool:
    """Whether add_product reaches BLAS's GEMM (otherwise it is the NumPy line)."""
    return _GEMM is not None


def gemm_name() -> str | None:
    """The float32 GEMM add_product calls (e.g. "scipy_cblas_sgemm64_"), or None."""
    return None if _GEMM is None else _GEMM[np.dtype(np.float32)].__name__


def _operand(X) -> tuple[int, int] | None:
    """(transpose flag, leading dimension) describing a 2-D array to row-major GEMM, or None
    if neither axis has unit stride, or the other axis's stride is not a whole number of
    elements at least one row (or column) long."""
    rows, cols = X.shape
    (s0, s1), size = X.strides, X.itemsize
    if s1 == size and s0 % size == 0 and s0 // size >= max(1, cols):
        return _NO_TRANS, s0 // size
    if s0 == size and s1 % size == 0 and s1 // size >= max(1, rows):
        return _TRANS, s1 // size  # X.T is row-major with this leading dimension
    return None


def add_product(A, B, C):
    """C += A @ B in one GEMM call (beta = 1); the twin is add_product_np.
    A: (M, K), B: (K, N), C: (M, N), all float32 or all float64 in native byte order; A and B
    may be transposed views.  Falls back to the twin below IN_PLACE_MIN elements of C and for
    anything GEMM cannot take as it is: other types than ndarray and memmap (lists, masked
    arrays), other dtypes or dimensions, C not row-major, read-only or overlapping A or B,
    unaligned data, strides that are not whole elements, sizes beyond BLAS's integers.
    Overlap is judged by address: two memmaps of the same file region look disjoint, so do
    not pass them as C and A (the NumPy line, which forms the product first, would be safe)."""
    if not (type(A) in _ARRAYS and type(B) in _ARRAYS and type(C) in _ARRAYS):
        return add_product_np(A, B, C)
    gemm = None if _GEMM is None else _GEMM.get(C.dtype)
    if gemm is None or C.size < IN_PLACE_MIN or not (A.ndim == B.ndim == C.ndim == 2):
        return add_product_np(A, B, C)
    (M, N), K = C.shape, A.shape[1]
    if (
        A.shape != (M, K)
        or B.shape != (K, N)
        or not (A.dtype == B.dtype == C.dtype)
        or not C.flags.c_contiguous
        or not C.flags.writeable
        or not (A.flags.aligned and B.flags.aligned and C.flags.aligned)
        or 0 in (M, N, K)
        or np.may_share_memory(C, A)
        or np.may_share_memory(C, B)
    ):
        return add_product_np(A, B, C)
    a, b = _operand(A), _operand(B)
    if a is None or b is None or max(M, N, K, a[1], b[1]) > _INT_MAX:
        return add_product_np(A, B, C)
    # fmt: off
    gemm(_ROW_MAJOR, a[0], b[0], M, N, K,
         1.0, A.ctypes.data, a[1], B.ctypes.data, b[1],
         1.0, C.ctypes.data, N)
    # fmt: on
    return None
