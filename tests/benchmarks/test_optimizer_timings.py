"""benchmarks/optimizer_timings.py: what its Adam alternative computes, against numgan's."""

import numpy as np
import pytest
from optimizer_timings import adam_float32, main

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
