"""The float32 tanh and sigmoid of numgan/kernels/approx.py against NumPy's float64 functions
rounded to float32: the correctly rounded result, except where the exact value lies within
float64 rounding of a midpoint between two float32s.

Errors are counted in ulps: how many steps from one float32 to the next separate the result
from the reference (-0 and +0 are the same value).  The bounds are the maxima measured over
every float32 bit pattern, which running this file as a script recomputes (about five minutes
on two cores):

    python tests/kernels/test_approx.py

The tests check every STEP-th bit pattern (about 34 million values), the special values and
the clamp boundaries, random arrays from hypothesis, and that wrong variants fail the same
checks.  Vectorisation is checked in the LLVM IR, not by timing.  These kernels are called
directly: both backends of conftest.py run the same code, so the scans are cached across them.
"""

from __future__ import annotations

import functools
import math
import re
import sys

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numgan.kernels import approx
from numgan.kernels.elementwise import logistic
from numgan.kernels.flags import FASTMATH

# The maxima over all 4,278,190,080 finite float32s.  tanh: 97.8% exact, 25,358 values 3 ulps
# off.  Sigmoid: 97.1% exact, 241,603 values 2 ulps off.
TANH_MAX_ULP = 3
SIGMOID_MAX_ULP = 2
STEP = 127  # odd, so the sample is aligned to no power of two; 2**32 / 127 = 34 million
CHUNK = 1 << 22

f32 = np.float32
TANH_ONE = float(approx._TANH_ONE)  # the clamp: tanh is +-1 from here on
POSITIVE_FINITE = (0, 0x7F800000)  # bit patterns of +0 ... largest finite float32
NEGATIVE_FINITE = (0x80000000, 0xFF800000)  # -0 ... most negative finite float32


def tanh_reference(x):
    return np.tanh(x.astype(np.float64)).astype(np.float32)


def sigmoid_reference(x):
    d = x.astype(np.float64)
    e = np.exp(-np.abs(d))
    return np.where(d >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)


def ordered(y):
    """float32 values as integers in their order, one apart for neighbours; -0 and +0 are 0."""
    bits = y.view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def ulps(y, ref):
    return np.abs(ordered(y) - ordered(ref))


def apply(kernel, x):
    out = np.empty_like(x)
    kernel(x, out)
    return out


def scan(kernel, reference, step, histogram=False):
    """Max ulp error over every step-th finite float32 bit pattern, with the x where it occurs,
    and the range of the outputs (for the derivative checks)."""
    worst, worst_x, lo, hi = -1, None, np.inf, -np.inf
    counts = np.zeros(8, np.int64)
    for first, end in (POSITIVE_FINITE, NEGATIVE_FINITE):
        for start in range(first, end, CHUNK * step):
            x = np.arange(start, min(start + CHUNK * step, end), step, dtype=np.uint32)
            x = x.view(np.float32)
            y = apply(kernel, x)
            d = ulps(y, reference(x))
            i = int(np.argmax(d))
            if d[i] > worst:
                worst, worst_x = int(d[i]), float(x[i])
            lo, hi = min(lo, float(y.min())), max(hi, float(y.max()))
            if histogram:
                counts += np.bincount(np.minimum(d, 7), minlength=8)
    return {"max_ulp": worst, "at": worst_x, "min": lo, "max": hi, "counts": counts}


@functools.cache
def dense_scan(name):
    kernel, reference = KERNELS[name]
    return scan(kernel, reference, STEP)


KERNELS = {
    "tanh": (approx.tanh32_nb, tanh_reference),
    "sigmoid": (approx.sigmoid32_nb, sigmoid_reference),
}
BOUNDS = {"tanh": TANH_MAX_ULP, "sigmoid": SIGMOID_MAX_ULP}


# --- accuracy over the range ------------------------------------------------------------------


def test_the_sample_is_dense():
    assert 20e6 < 2**32 / STEP < 50e6 and STEP % 2 == 1


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_dense_sample_within_bound(name):
    found = dense_scan(name)
    assert found["max_ulp"] <= BOUNDS[name], found


def test_outputs_stay_in_range_and_reach_the_ends():
    t, s = dense_scan("tanh"), dense_scan("sigmoid")
    assert (t["min"], t["max"]) == (-1.0, 1.0)
    assert (s["min"], s["max"]) == (0.0, 1.0)


def test_derivatives_from_the_output_stay_in_range():
    # Backward computes tanh' = 1 - y*y and sigmoid' = y*(1 - y) from y, in float32; the
    # interesting y are those within a few ulps of the ends.
    x = np.linspace(-25, 25, 1_000_001, dtype=np.float32)
    y = apply(approx.tanh32_nb, x)
    g = 1 - y * y
    assert g.min() >= 0 and g.max() <= 1
    y = apply(approx.sigmoid32_nb, x)
    g = y * (1 - y)
    assert g.min() >= 0 and g.max() <= 0.25


def boundary_values():
    """Special values, both signs: zeros, subnormals, the smallest normal, the clamps and
    their neighbours, where the sigmoid's result becomes subnormal, the largest finite."""
    info = np.finfo(np.float32)
    centres = [
        0.0,
        float(info.smallest_subnormal),
        float(info.smallest_normal),
        2.0**-74,  # z*z starts to underflow in tanh32
        0.5,
        1.0,  # tanh32's change of quotient
        TANH_ONE,
        17.33,  # 25 ln 2: sigmoid rounds to 1 beyond
        -math.log(float(info.smallest_normal)),  # 87.3: sigmoid(-x) subnormal beyond
        103.97,  # -150 ln 2: exp rounds to 0 beyond
        104.0,  # the exp clamp
        88.73,  # exp(x) overflows float32 beyond
        float(info.max),
    ]
    out = []
    for c in centres:
        v = f32(c)
        out += [v, np.nextafter(v, f32(-np.inf))]
        if v < np.finfo(np.float32).max:
            out.append(np.nextafter(v, f32(np.inf)))
    x = np.array(out, np.float32)
    return np.concatenate([x, -x])


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_boundary_values_within_bound(name):
    kernel, reference = KERNELS[name]
    x = boundary_values()
    d = ulps(apply(kernel, x), reference(x))
    bad = d > BOUNDS[name]
    assert not bad.any(), list(zip(x[bad], d[bad], strict=True))


# Where the sigmoid is 3 ulps off if exp's 1 + (r + ...) is evaluated as (1 + r) + ... (what
# fastmath's reassoc does without approx's fence): all such float32s, found by a full scan.
SIGMOID_ORDER_SENSITIVE = [
    0xC084C179, 0xC084CDBB, 0xC0850C2C, 0xC09B085E, 0xC09B0DB3, 0xC09B13CA, 0xC09B144A,
    0xC0B15C00, 0xC0B15C01, 0xC0B15D7F, 0xC0B15D80, 0xC0B15D81, 0xC0B15D82, 0xC0B16BB9,
    0xC0B16BBA,
]  # fmt: skip


def test_sigmoid_order_sensitive_values():
    x = np.array(SIGMOID_ORDER_SENSITIVE, np.uint32).view(np.float32)
    assert ulps(apply(approx.sigmoid32_nb, x), sigmoid_reference(x)).max() <= SIGMOID_MAX_ULP


def test_tanh_exact_values():
    info = np.finfo(np.float32)
    sub = np.array([info.smallest_subnormal, 2.0**-130, 2.0**-100, 2.0**-40], np.float32)
    x = np.concatenate([sub, -sub])
    np.testing.assert_array_equal(apply(approx.tanh32_nb, x), x)  # tanh(x) = x, exactly
    # The sign of zero is not kept (fastmath's nsz); the value is.
    assert np.all(apply(approx.tanh32_nb, np.array([0.0, -0.0], np.float32)) == 0)
    ends = np.array([TANH_ONE, 20.0, 1e30, info.max, np.inf], np.float32)
    np.testing.assert_array_equal(apply(approx.tanh32_nb, ends), 1.0)
    np.testing.assert_array_equal(apply(approx.tanh32_nb, -ends), -1.0)


def test_sigmoid_exact_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, 18.0, 1e30, -1e30, -104.0], np.float32)
    np.testing.assert_array_equal(apply(approx.sigmoid32_nb, x), [0.5, 0.5, 1, 0, 1, 1, 0, 0])


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_nan_propagates(name):
    kernel, _ = KERNELS[name]
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF, 0xFFFFFFFF], np.uint32)
    x = np.tile(np.array([1.5, -3.0, 0.0, 50.0], np.float32), 11)  # 44: vector lanes and tail
    x[[0, 7, 16, 33, 43]] = nans.view(np.float32)
    y = apply(kernel, x)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))


@given(st.lists(st.floats(width=32), min_size=1, max_size=40))
def test_random_float32(values):
    x = np.array(values, np.float32)
    for name, (kernel, reference) in KERNELS.items():
        y, ref = apply(kernel, x), reference(x)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(x))
        ok = ~np.isnan(x)
        assert ulps(y[ok], ref[ok]).max(initial=0) <= BOUNDS[name], (name, x[ok], y[ok])


def test_scalar_functions_within_bound_from_python():
    x = np.array([-20.0, -3.5, -0.3, 1e-3, 0.7, 2.0, 8.9], np.float32)
    t = np.array([approx.tanh32(v) for v in x], np.float32)
    s = np.array([approx.logistic32(v) for v in x], np.float32)
    assert ulps(t, tanh_reference(x)).max() <= TANH_MAX_ULP
    assert ulps(s, sigmoid_reference(x)).max() <= SIGMOID_MAX_ULP


@numba.njit(fastmath=FASTMATH, error_model="numpy")
def _fused_style_loop(x, t, s):
    # What a fused step does: call the scalar functions inside its own loop.
    for i in range(x.size):
        t[i] = approx.tanh32(x[i])
        s[i] = approx.logistic32(x[i])


def test_inlined_scalars_agree_with_array_kernels():
    x = np.random.default_rng(0).normal(scale=6, size=1001).astype(np.float32)
    t, s = np.empty_like(x), np.empty_like(x)
    _fused_style_loop(x, t, s)
    np.testing.assert_array_equal(t, apply(approx.tanh32_nb, x))
    np.testing.assert_array_equal(s, apply(approx.sigmoid32_nb, x))


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_in_place_and_shapes(name):
    kernel, _ = KERNELS[name]
    x = np.random.default_rng(1).normal(scale=5, size=(37, 11)).astype(np.float32)
    expected = apply(kernel, x)
    kernel(x, x)
    np.testing.assert_array_equal(x, expected)
    empty = np.empty((0, 3), np.float32)
    kernel(empty, empty)


# --- negative controls: wrong variants fail the same checks -----------------------------------


@numba.njit(fastmath=FASTMATH, error_model="numpy")
def _tanh_truncated(x, out):
    # tanh32 without its last numerator and denominator terms (P3, Q3).
    for i in range(x.size):
        v = min(max(x[i], -approx._TANH_ONE), approx._TANH_ONE)
        z = f32(0.5) * v
        s = z * z
        big_a = v + (v * s) * (approx._P1 + s * approx._P2)
        beta = s * (approx._Q1 + s * approx._Q2)
        num = big_a + big_a * beta
        a = f32(0.5) * big_a
        out[i] = num / (f32(1.0) + (a * a + beta * (f32(2.0) + beta)))


@numba.njit(fastmath=FASTMATH, error_model="numpy")
def _sigmoid_via_tanh(x, out):
    # 0.5 + 0.5 tanh(x/2): exact in real numbers, but it cancels in the left tail.
    for i in range(x.size):
        out[i] = f32(0.5) + f32(0.5) * approx.tanh32(f32(0.5) * x[i])


def test_a_truncated_tanh_fails_the_check():
    found = scan(_tanh_truncated, tanh_reference, 8191)
    assert found["max_ulp"] > 10 * TANH_MAX_ULP, found


def test_sigmoid_via_tanh_fails_the_check():
    found = scan(_sigmoid_via_tanh, sigmoid_reference, 8191)
    assert found["max_ulp"] > 1000, found
    x = np.array([-20.0], np.float32)  # sigmoid(-20) = 2.06e-9: no correct digit that way
    assert ulps(apply(_sigmoid_via_tanh, x), sigmoid_reference(x))[0] > 1e6


# --- vectorisation ----------------------------------------------------------------------------


def llvm_ir(py_func, *args):
    """The optimised LLVM IR of py_func compiled with the project's flags.  Cached kernels do
    not keep their IR, so this compiles the same Python function again, uncached."""
    f = numba.njit(nogil=True, fastmath=FASTMATH, error_model="numpy")(py_func)
    f(*args)
    return f.inspect_llvm(f.signatures[0])


def vector_divisions(ir):
    """Widths of the float32 vector divisions in the IR."""
    return [int(w) for w in re.findall(r"fdiv [^\n]*<(\d+) x float>", ir)]


# A call to libm's tanh or exp, or to the LLVM intrinsics that become them: LLVM may write
# these on vectors, but without a vector maths library each becomes one scalar call per lane.
LIBM = re.compile(r"@(?:llvm\.(?:tanh|exp|exp2)\.\w+|tanhf?|expf?)\(")


def vectorised_without_libm(ir):
    widths = vector_divisions(ir)
    # Both loops (in place and not) divide on vectors of at least 4 floats.
    return len(widths) >= 2 and min(widths) >= 4 and not LIBM.search(ir)


@pytest.mark.parametrize("kernel", [approx.tanh32_nb, approx.sigmoid32_nb])
def test_kernels_vectorise(kernel):
    x = np.ones(100, np.float32)
    ir = llvm_ir(kernel.py_func, x, np.empty_like(x))
    assert vectorised_without_libm(ir), (vector_divisions(ir), LIBM.findall(ir))


def _libm_tanh_loop(x, out):
    for i in range(x.size):
        out[i] = math.tanh(x[i])


def _libm_sigmoid_loop(x, out):
    for i in range(x.size):
        out[i] = logistic(x[i])


@pytest.mark.parametrize("loop", [_libm_tanh_loop, _libm_sigmoid_loop])
def test_the_vectorisation_check_rejects_libm_loops(loop):
    x = np.ones(100, np.float32)
    ir = llvm_ir(loop, x, np.empty_like(x))
    assert LIBM.search(ir) and not vectorised_without_libm(ir)


if __name__ == "__main__":  # every float32: the measurement behind the bounds above
    for name, (kernel, reference) in KERNELS.items():
        found = scan(kernel, reference, 1, histogram=True)
        share = {f"{k} ulp": int(c) for k, c in enumerate(found["counts"]) if c}
        print(name, "max", found["max_ulp"], "ulp at x =", found["at"], share)
        sys.stdout.flush()
