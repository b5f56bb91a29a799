"""The float32 tanh and sigmoid of numgan/kernels/approx.py against what they replace.

    python benchmarks/approx_timings.py

Median microseconds per call (interleaved blocks), float32, on a small and a large activation
array:
``tanh32_nb`` against NumPy's tanh and a jitted loop of ``math.tanh`` (a scalar libm call per
element); ``sigmoid32_nb`` against a jitted loop of ``logistic`` (a scalar exp per element).
"""

from __future__ import annotations

import math

import numpy as np

from numgan.app.bench import time_calls
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
    per_shape = [
        time_calls(
            {name: lambda f=fn, x=x, o=o: f(x, o) for name, fn in rows},
            repeats=9,
            block_seconds=0.02,
            label=f"{x.shape[0]} x {x.shape[1]}",
        )
        for x, o in pairs
    ]
    for name, _ in rows:
        print(f"{name:30}" + "".join(f"{us[name]:12.2f}" for us in per_shape))


if __name__ == "__main__":
    main()
