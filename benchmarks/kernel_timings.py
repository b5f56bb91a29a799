"""Each elementwise, BatchNorm and optimiser kernel against its NumPy twin, same inputs.

    python benchmarks/kernel_timings.py

Each backend's kernel is the one the layers call, ``numgan.kernels.Kernels("numba")`` against
``Kernels("numpy")``.  Median microseconds per call over interleaved blocks, float32, on the
shapes the speed benchmark's models use.  tanh forward is left out: both backends call the
same function (NumPy's SIMD tanh).  docs/kernels.md quotes this table.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from numgan.kernels import Kernels


def _time(fn, seconds=0.05):
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return (time.perf_counter() - start) / n * 1e6


def cases():
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.normal(size=(100, 784)).astype(f32)
    out = np.empty_like(x)
    bx = rng.normal(size=(64, 1024, 1)).astype(f32)  # (N, F) as the layer hands it: (N, F, 1)
    g, b = np.ones(1024, f32), np.zeros(1024, f32)
    vec = [np.empty(1024, f32) for _ in range(3)]
    xhat, bout, dx = np.empty_like(bx), np.empty_like(bx), np.empty_like(bx)
    p = rng.normal(size=1_300_000).astype(f32)
    grad, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)  # v stays >= 0 under Adam
    yield "sigmoid forward, 100 x 784", lambda k: k.sigmoid_forward(x, out)
    yield (
        "LeakyReLU forward, 100 x 784",
        lambda k: k.leaky_relu_forward(x, 0.2, out),
    )
    yield (
        "BatchNorm forward, 64 x 1024",
        lambda k: k.batchnorm_forward(bx, g, b, 1e-5, xhat, vec[0], bout, vec[1], vec[2]),
    )
    yield (
        "BatchNorm backward, 64 x 1024",
        lambda k: k.batchnorm_backward(bx, xhat, vec[0], g, dx, vec[1], vec[2], True, True),
    )
    yield (
        "SGD momentum, 1.3M parameters",
        lambda k: k.sgd_momentum(p, grad, m, 1e-3, 0.5, False),  # the update alone
    )
    yield (
        "Adam, 1.3M parameters",
        lambda k: k.adam(p, grad, m, v, 2e-4, 0.5, 0.999, 1e-8, 0.5, 0.001, False),
    )


def main() -> int:
    print("| kernel | Numba (us) | NumPy twin (us) | twin / Numba |")
    print("|---|---:|---:|---:|")
    numba, numpy = Kernels("numba"), Kernels("numpy")
    for name, call in cases():
        nb, np_ = [], []
        for _ in range(7):
            nb.append(_time(lambda call=call: call(numba)))
            np_.append(_time(lambda call=call: call(numpy)))
        a, b = statistics.median(nb), statistics.median(np_)
        print(f"| {name} | {a:,.0f} | {b:,.0f} | {b / a:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
