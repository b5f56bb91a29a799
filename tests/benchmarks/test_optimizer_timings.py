"""benchmarks/optimizer_timings.py: what its Adam alternatives compute, against numgan's."""

import numpy as np
import pytest
from optimizer_timings import adam_float32, adam_one_loop, main

from numgan.kernels import optim


def adam_nb(*args):
    """numgan's kernel, the update alone (the gradient not zeroed), as the alternatives."""
    optim.adam_nb(*args, False)


def run(kernel, dtype, steps=5):
    rng = np.random.default_rng(3)
    n = 10_007
    theta, m = rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype)
    v = np.abs(rng.normal(size=n)).astype(dtype)
    for t in range(1, steps + 1):
        g = rng.normal(size=n).astype(dtype)
        scalars = optim._scalars(theta, 2e-4, 0.5, 0.999, 1e-8, 1 - 0.5**t, 1 - 0.999**t)
        kernel(theta, g, m, v, *scalars)
    return theta, m, v


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_loop_gives_the_kernels_moments_and_theta_within_one_ulp(dtype):
    (t1, m1, v1), (t2, m2, v2) = run(adam_one_loop, dtype), run(adam_nb, dtype)
    assert np.array_equal(m1, m2) and np.array_equal(v1, v2)
    ulp = np.spacing(np.maximum(np.abs(t1), np.abs(t2)))
    assert np.all(np.abs(t1 - t2) <= ulp)


def test_an_element_they_round_apart_stays_within_one_ulp():
    """An element from a real step of row 2-adam (float32), alone in its arrays.  On the Intel
    Xeon of docs/benchmarks.md the three loops and the one loop round theta's step apart
    here (0.000108690845 against 0.00010869084), which many Adam steps grow into other
    numbers: why the kernel stays three loops until the Adam results are trained again
    (docs/kernels.md, "Threads").  Whether they do depends on the code LLVM makes for the
    CPU, so only the bound is asserted."""
    f = np.float32
    scalars = (f(2e-4), f(0.5), f(0.999), f(1e-8), f(0.75), f(0.001999))
    results = []
    for kernel in (adam_one_loop, adam_nb):
        theta, g = np.array([0.00020000125], f), np.array([0.05220539], f)
        m, v = np.array([-0.020223595], f), np.array([1.6359542e-06], f)
        kernel(theta, g, m, v, *scalars)
        results.append(theta[0])
    assert abs(results[0] - results[1]) <= np.spacing(results[1])


def test_float32_moments_give_other_float32_numbers():
    """The alternative the docs call faster but not the same: its float32 moments differ from
    the kernel's (rounded once from float64), by float32 rounding, and agree in float64."""
    fast, kernel = run(adam_float32, np.float32), run(adam_nb, np.float32)
    assert not np.array_equal(fast[1], kernel[1])
    for a, b in zip(fast, kernel, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(run(adam_float32, np.float64), run(adam_nb, np.float64), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


def test_one_thread_is_refused_with_the_reason(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--threads", "1"])
    assert exit_.value.code == 2
    assert "--threads 1: the split updates need 2 threads or more" in capsys.readouterr().err
