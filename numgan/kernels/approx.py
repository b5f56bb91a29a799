"""tanh and the sigmoid for float32, from arithmetic alone, so that jitted loops vectorise.

Numba here has no SVML (Intel's vector maths library): a jitted loop that calls ``math.tanh``
or ``math.exp`` makes one scalar libm call per element, even where LLVM vectorises the rest of
the loop.  The functions below use only +, -, *, /, comparisons with selects, and float <-> int
conversions, which LLVM turns into SIMD instructions: ``tanh32`` and ``logistic32`` for jitted
code to call element by element (they inline), ``tanh32_nb`` and ``sigmoid32_nb`` for whole
arrays.

Accuracy: within a few float32 ulps of the correctly rounded result over the whole float32
range (3 for tanh, 2 for the sigmoid), with tanh(+-inf) = +-1, sigmoid(-inf) = 0,
sigmoid(+inf) = 1, and NaN in giving NaN out, which the training loop relies on to detect
divergence.  |tanh| <= 1 and 0 <= sigmoid <= 1 hold exactly, so the derivatives computed from
the output in backward, 1 - y*y and y*(1 - y), are never negative.  Every float32 bit pattern
was checked against NumPy's float64 functions rounded to float32 (run
tests/kernels/test_approx.py as a script); the tests check a dense sample of the range, the
special values and the clamp boundaries.

These are for float32 only: their error is a float32 error.  Float64 code (gradient checks)
keeps the exact functions, ``math.tanh`` and ``elementwise.logistic``.

Two of the fastmath flags shape the code.  ``reassoc`` lets LLVM regroup sums, which would undo
the order of two sums in exp; a clamp that changes no value keeps them apart (see
``_exp_nonpositive32``).  ``nsz`` lets it ignore the sign of zero: tanh(-0) may come out +0.
"""

from __future__ import annotations

import numpy as np

from .flags import jit

# Globals are frozen into the compiled code with their type: float32 constants keep the
# arithmetic in float32 (a Python float literal would promote it to float64).
_F = np.float32
_ONE = _F(1.0)
_TWO = _F(2.0)
_HALF = _F(0.5)

# tanh.  The smallest float32 whose tanh rounds to 1 (tanh(x) > 1 - 2**-25 from here on).
_TANH_ONE = _F(9.010914)
# Below this |x| the quotient is formed as num - num*delta/(1 + delta); see tanh32.
_TANH_SMALL = _F(1.0)
# tanh(z) ~ z * (1 + P1 s + P2 s^2 + P3 s^3) / (1 + Q1 s + Q2 s^2 + Q3 s^3), s = z^2, for
# 0 <= z <= _TANH_ONE / 2.  Fitted for this module: the relative error weighted by
# 1/cosh(2z), the factor with which it reaches tanh(2z) (see tanh32), minimised by Lawson's
# iteratively reweighted least squares in float64, then rounded to float32.  With these
# float32 values the formula in tanh32 has relative error below 3.4e-9 (0.06 ulp) in exact
# arithmetic; what remains is float32 rounding.
_P1, _P2, _P3 = _F(0.1267752), _F(0.0026416117), _F(6.0735508e-06)
_Q1, _Q2, _Q3 = _F(0.46010853), _F(0.022677806), _F(0.00018576489)


@jit
def tanh32(v):
    """tanh(v) of one float32, within 3 ulps; for jitted loops (it inlines and vectorises).

    tanh(x) = 2t / (1 + t^2) with t = tanh(z) = a/b, z = x/2, s = z^2, a = z P(s), b = Q(s),
    P(s) = 1 + s P'(s), Q(s) = 1 + s Q'(s):

        tanh(x) = 2ab / (a^2 + b^2) = num / (1 + delta),
        num = A (1 + beta),  delta = (A/2)^2 + beta (2 + beta),

    where A = 2a = x + x s P'(s) and beta = b - 1 = s Q'(s) are kept as "x plus a
    correction" and "a correction", so nothing is rounded next to 1 before the division.
    Rounding errors in a and b reach the result multiplied by (1 - t^2)/(1 + t^2) =
    1/cosh(x): small where |x| is large, where the direct form x P(x^2)/Q(x^2) loses several
    ulps to rounding in P and Q.  For |x| < 1, num / (1 + delta) is formed as
    num - num delta / (1 + delta), so that the rounding of 1 + delta touches only the
    correction, less than a third of the result.
    """
    # Clamps written as "c if v > c else v": every comparison with NaN is false, so NaN
    # passes through and propagates.  From |x| = _TANH_ONE on, the formula gives exactly
    # +-1 (tests/kernels/test_approx.py checks the boundary).
    x = _TANH_ONE if v > _TANH_ONE else v
    x = -_TANH_ONE if x < -_TANH_ONE else x
    z = _HALF * x
    s = z * z  # underflows to 0 for |x| < 2**-74 (subnormals too): then the result is x
    big_a = x + (x * s) * (_P1 + s * (_P2 + s * _P3))
    beta = s * (_Q1 + s * (_Q2 + s * _Q3))
    num = big_a + big_a * beta
    a = _HALF * big_a
    delta = a * a + beta * (_TWO + beta)
    small = abs(x) < _TANH_SMALL
    q = (num * delta if small else num) / (_ONE + delta)
    y = num - q if small else q
    # 2ab <= a^2 + b^2, and no float32 gives |y| > 1 here (all were checked), but that rests on
    # rounding details (FMA, LLVM's choices): backward's 1 - y*y >= 0 needs |y| <= 1 for sure.
    y = _ONE if y > _ONE else y
    return -_ONE if y < -_ONE else y


@jit
def tanh32_nb(x, out):
    """out = tanh(x) for float32 arrays (contiguous, any shape; out may be x).

    A rational approximation of tanh(x/2) on 0 <= |x|/2 <= 4.51, combined by
    tanh(x) = 2t/(1 + t^2); |x| >= 9.010914 gives +-1 (see ``tanh32``).  Measured over every
    float32: at most 3 ulps from the correctly rounded tanh; tanh(+-inf) = +-1, NaN gives NaN,
    subnormal x gives x exactly.  About as fast as NumPy's SIMD tanh and far faster than a
    jitted loop of math.tanh (benchmarks/approx_timings.py).
    """
    xf, of = x.reshape(-1), out.reshape(-1)
    # In place, a loop over one array: with two arrays LLVM checks at run time that they do
    # not overlap and, when they are the same array, falls back to its scalar loop (10x slower).
    if xf.ctypes.data == of.ctypes.data:
        for i in range(of.size):
            of[i] = tanh32(of[i])
    else:
        for i in range(xf.size):
            of[i] = tanh32(xf[i])


# exp(t) for t <= 0.  exp(-104) < 2**-150, which rounds to 0 in float32: clamping there
# changes no result and keeps n >= -150.
_EXP_LO = _F(-104.0)
_N_LO = _F(-150.0)
_LOG2E = _F(1.4426950408889634)
# Cody and Waite's split ln 2 = LN2_HI + LN2_LO.  LN2_HI = 0.693359375 has 9 significant
# bits, so n * LN2_HI (|n| <= 150) and t - n * LN2_HI are exact in float32.
_LN2_HI = _F(0.693359375)
_LN2_LO = _F(-2.12194440e-4)
_FENCE = _F(0.5)  # a clamp that changes no value; see _exp_nonpositive32
# exp(r) ~ 1 + r + r^2 (E1 + E2 r + ... + E6 r^5) for |r| <= ln(2)/2: the minimax
# coefficients of S. L. Moshier's Cephes Math Library, expf.c (also the source of the split).
_E1, _E2, _E3 = _F(5.0000001201e-1), _F(1.6666665459e-1), _F(4.1665795894e-2)
_E4, _E5, _E6 = _F(8.3334519073e-3), _F(1.3981999507e-3), _F(1.9875691500e-4)


@jit
def _exp_nonpositive32(t):
    """exp(t) of a float32 t <= 0 (or NaN): t = n ln 2 + r, exp(t) = 2^n exp(r)."""
    t = _EXP_LO if t < _EXP_LO else t  # NaN passes
    n = np.floor(t * _LOG2E + _HALF)
    # NaN -> -150 here, so the float -> int conversion below is defined; NaN goes on in r.
    n = n if n >= _N_LO else _N_LO
    # The clamps on r (|r| <= 0.35) and on exp(r) - 1 (in [-0.3, 0.42]) change no value, but
    # they are not sums, so fastmath's reassoc cannot regroup the sums across them: it would
    # rewrite (t - n*HI) - n*LO as t - n*(HI + LO), losing LO (4 ulps of error, measured), and
    # 1 + (r + ...) as (1 + r) + ..., which rounds once more (3 ulps).
    r = t - n * _LN2_HI
    r = _FENCE if r > _FENCE else r
    r = r - n * _LN2_LO
    expm1_r = r + (r * r) * (_E1 + r * (_E2 + r * (_E3 + r * (_E4 + r * (_E5 + r * _E6)))))
    expm1_r = _FENCE if expm1_r > _FENCE else expm1_r
    p = _ONE + expm1_r
    # 2^n from its exponent bits, as 2^h * 2^(n-h) with h = floor(n/2): both factors are
    # normal floats for n >= -150, so only the last product rounds when exp(t) is subnormal.
    k = np.int32(n)
    h = k >> 1
    scale_h = np.int32((h + 127) << 23).view(np.float32)
    scale_rest = np.int32((k - h + 127) << 23).view(np.float32)
    return (p * scale_h) * scale_rest


@jit
def logistic32(v):
    """sigmoid(v) = 1 / (1 + exp(-v)) of one float32, within 2 ulps; for jitted loops.

    With e = exp(-|v|) in (0, 1] (never overflows): 1/(1 + e) for v >= 0 and e/(1 + e) for
    v < 0, which keeps e's relative accuracy in the left tail, where 1 - 1/(1 + e) or
    0.5 + 0.5 tanh(v/2) would cancel.
    """
    e = _exp_nonpositive32(-abs(v))
    return (_ONE if v >= 0 else e) / (_ONE + e)


@jit
def sigmoid32_nb(x, out):
    """out = 1 / (1 + exp(-x)) for float32 arrays (contiguous, any shape; out may be x).

    e = exp(-|x|) by range reduction, -|x| = n ln 2 + r with |r| <= ln(2)/2, a degree 7
    polynomial for exp(r) and 2^n built from exponent bits; then 1/(1 + e) for x >= 0,
    e/(1 + e) for x < 0.  Measured over every float32: at most 2 ulps from the correctly
    rounded sigmoid, subnormal results (x < -87.3) included; sigmoid(-inf) = 0,
    sigmoid(+inf) = 1, NaN gives NaN.  Several times faster than a jitted loop of
    ``logistic`` (benchmarks/approx_timings.py).
    """
    xf, of = x.reshape(-1), out.reshape(-1)
    if xf.ctypes.data == of.ctypes.data:  # in place: one array, see tanh32_nb
        for i in range(of.size):
            of[i] = logistic32(of[i])
    else:
        for i in range(xf.size):
            of[i] = logistic32(xf[i])
