"""The README's Python examples run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_runs(i):
    namespace = {}
    for block in BLOCKS[: i + 1]:  # later blocks may use names from earlier ones
        exec(compile(block, f"README.md block {i}", "exec"), namespace)


def test_the_readme_example_runs_through_the_layers_and_the_optimiser(monkeypatch):
    """With default settings the code a reader steps through is the code that runs: the
    README's trainer reaches nn/ layers, the objective and SGD.step, never the fused step."""
    import numgan as ng
    from numgan.gan.fused import FusedStep

    calls = {"Dense.forward": 0, "Dense.backward": 0, "g_loss": 0, "SGD.step": 0}

    def counting(cls, name, key):
        original = getattr(cls, name)

        def wrapper(*args, **kwargs):
            calls[key] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(cls, name, wrapper)

    counting(ng.Dense, "forward", "Dense.forward")
    counting(ng.Dense, "backward", "Dense.backward")
    counting(ng.CrossEntropy, "g_loss", "g_loss")
    counting(ng.SGD, "step", "SGD.step")
    monkeypatch.setattr(FusedStep, "run", lambda *a, **k: pytest.fail("the fused step ran"))
    namespace = {}
    exec(compile(BLOCKS[0], "README.md block 0", "exec"), namespace)
    iterations = len(namespace["history"]["d_loss"])
    assert iterations > 0
    # Per iteration: D sees data and fakes, G runs twice (D step, G step), D once more (G
    # step): 3 Dense layers each in 3 D passes + 2 G passes; on the Numba backend D sees data
    # and fakes in one pass on the stacked rows (docs/algorithm1.md), so 2 D passes.
    d_passes = 2 if ng.get_backend() == "numba" else 3
    assert calls["Dense.forward"] >= 3 * (d_passes + 2) * iterations
    assert calls["Dense.backward"] >= 3 * 3 * iterations
    assert calls["g_loss"] == iterations
    assert calls["SGD.step"] == 2 * iterations
