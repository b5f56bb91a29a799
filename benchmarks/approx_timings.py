"""The float32 tanh and sigmoid of numgan/kernels/approx.py against what they replace.

    python benchmarks/approx_timings.py

Median microseconds per call, float32, on a small and a large activation array:
``tanh32_nb`` against NumPy's tanh and a jitted loop of ``math.tanh`` (a scalar libm call per
element); ``sigmoid32_nb`` against a jitted loop of ``logistic`` (a scalar exp per element).
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np

from numgan.kernels.approx import sigmoid32_nb, tanh32_nb
from numgan.kernels.elementwise import logistic
from numgan.kernels.flags import jit

SHAPES = [(64, 16), (100, 1200)]


@jit
def tanh_libm_loop(x, out):
    xf, of = x.reshape(-1), out.reshape(-1)
    for i in range(xf.size):
        of[i] = math.tanh(xf[i])


@jit
def logistic_loop(x, out):
    xf, of = x.reshape(-1), out.reshape(-1)
    for i in range(xf.size):
        of[i] = logistic(xf[i])


def median_us(fn, repeats=9, seconds=0.02):
    fn()  # compile, warm the caches
    n, start = 1, time.perf_counter()
    while time.perf_counter() - start < seconds:  # calls per block, for ~`seconds` a block
        fn()
        n += 1
    blocks = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        blocks.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(blocks)


def main():
    rng = np.random.default_rng(0)
    print(f"{'':30}" + "".join(f"{f'{r} x {c}':>12}" for r, c in SHAPES))
    pairs = []  # (x, out) for each shape
    for shape in SHAPES:
        x = rng.normal(scale=3.0, size=shape).astype(np.float32)
        pairs.append((x, np.empty_like(x)))
    rows = [
        ("tanh32_nb", tanh32_nb),
        ("np.tanh", lambda x, out: np.tanh(x, out=out)),
        ("jitted loop of math.tanh", tanh_libm_loop),
        ("sigmoid32_nb", sigmoid32_nb),
        ("jitted loop of logistic", logistic_loop),
    ]
    for name, fn in rows:
        times = [median_us(lambda f=fn, x=x, o=o: f(x, o)) for x, o in pairs]
        print(f"{name:30}" + "".join(f"{t:12.2f}" for t in times))


if __name__ == "__main__":
    main()
