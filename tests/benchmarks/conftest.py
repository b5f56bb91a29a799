"""benchmarks/ is a folder of scripts that import each other by module name, as they do when run
as ``python benchmarks/NAME.py``: its tests put the folder on sys.path the same way."""

import sys
from pathlib import Path

import pytest

import numgan as ng

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))


@pytest.fixture(autouse=True)
def backend():
    """Run each test once: the benchmarks switch between numgan's backends by themselves (this
    overrides tests/conftest.py's fixture that repeats every test under each backend)."""
    before = ng.get_backend()
    yield before
    ng.set_backend(before)
