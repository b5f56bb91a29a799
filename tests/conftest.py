"""Every test runs under both backends: the Numba kernels and their NumPy twins.

Hypothesis profiles: CI draws a fixed set of examples (derandomised, so a run is repeatable);
a local run explores new ones each time; NUMGAN_HYPOTHESIS=stress draws many more.
"""

import os

import numba
import pytest
from hypothesis import HealthCheck, settings

from numgan import kernels

# The backend fixture below is function-scoped but holds no per-example state.
common = {
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.function_scoped_fixture],
}
settings.register_profile("ci", max_examples=25, derandomize=True, **common)
settings.register_profile("dev", max_examples=25, **common)
settings.register_profile("stress", max_examples=1000, **common)
settings.load_profile(os.environ.get("NUMGAN_HYPOTHESIS", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True, params=kernels.BACKENDS)
def backend(request, monkeypatch):
    """Select the backend for this test, in this process and in any subprocess it starts."""
    before = kernels.get_backend()
    kernels.set_backend(request.param)
    monkeypatch.setenv("NUMGAN_BACKEND", request.param)
    yield request.param
    kernels.set_backend(before)


@pytest.fixture
def numba_threads():
    """Numba's thread count, put back after the test."""
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)
