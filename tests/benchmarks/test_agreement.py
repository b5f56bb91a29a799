"""The agreement check (benchmarks/agreement.py): numgan against PyTorch, and its backends
against each other, from the same start on the same minibatches.

The PyTorch tests need PyTorch (the optional ``bench`` extra, which .ci/run installs) and skip
only where it is not installed.
"""

import numpy as np
import pytest
from agreement import agreement_check, compare_states, zero_gradient_params

from numgan.app.bench import model_specs

SPECS = {spec.key: spec for spec in model_specs()}


def test_zero_gradient_parameters_and_state_comparison():
    assert zero_gradient_params(SPECS["2-adam"]) == {"G.0.b", "G.3.b", "G.6.b"}
    assert zero_gradient_params(SPECS["1"]) == set()
    # DCGAN: the convolutions' biases before a BatchNorm; not G's Dense bias, which is
    # reshaped into 64 x 7 x 7 images first (a bias per pixel, of which BatchNorm removes
    # only each channel's mean).
    assert zero_gradient_params(SPECS["4"]) == {"G.4.b", "D.3.b"}
    ref = {"G.0.W": np.array([1.0, -2.0]), "G.0.b": np.array([1e-9])}
    ref["G.1.running_mean"] = np.ones(2)
    other = {"G.0.W": np.array([1.0, -1.999998]), "G.0.b": np.array([-1e-9])}
    other["G.1.running_mean"] = np.array([1.0, 1.5])
    result = compare_states(other, ref, exclude={"G.0.b"})
    assert result["max_rel"] == pytest.approx(1e-6) and result["worst"] == "G.0.W"
    assert result["buffers_max_rel"] == pytest.approx(0.5)
    assert result["excluded"] == {"G.0.b": pytest.approx(2e-9)}


def test_numba_and_numpy_backends_agree_without_torch():
    check = agreement_check(SPECS["3"], variants=["numba", "numpy"], torch=None, batch_size=16)
    assert check["reference"] == "numpy" and check["ok"]
    assert {(c["dtype"], c["path"]) for c in check["checks"]} == {
        (dtype, path)
        for dtype in ("float32", "float64")
        for path in ("d_step/g_step", "Trainer.step")
    }


def test_numgan_and_torch_agree_from_the_same_start():
    torch = pytest.importorskip("torch")
    for key in ("2-sgd", "3"):
        check = agreement_check(SPECS[key], variants=["numba", "numpy"], torch=torch, batch_size=8)
        assert check["reference"] == "torch" and check["ok"]
        # float32 may exceed its tolerance only through rounding (a pre-activation at a
        # kink), which the verdict "rounding" records; anything else is "failed".
        assert {c["verdict"] for c in check["checks"]} <= {"ok", "rounding"}
        float64 = [c["max_rel"] for c in check["checks"] if c["dtype"] == "float64"]
        assert max(float64) < 1e-9  # the same arithmetic, not merely close


def test_dcgan_agrees_with_torch_in_float64():
    """The DCGAN row: Conv2d, ConvTranspose2d, BatchNorm2d and Linear from numgan's initial
    weights, fed the same minibatches for 3 Adam iterations, end where numgan ends: every
    parameter tensor within 1e-9 of PyTorch's, relative to the tensor's largest value."""
    torch = pytest.importorskip("torch")
    check = agreement_check(
        SPECS["4"], variants=["numba"], torch=torch, batch_size=8, dtypes=["float64"], data_size=64
    )
    assert check["reference"] == "torch" and check["iterations"] == 3
    assert {c["path"] for c in check["checks"]} == {"d_step/g_step", "Trainer.step"}
    for c in check["checks"]:
        assert c["verdict"] == "ok" and c["max_rel"] < 1e-9, c
        # BatchNorm's running statistics agree too, but for the rounding noise the left-out
        # bias of the convolution before it adds to the running mean.
        assert c["buffers_max_rel"] < 1e-6
        assert set(c["excluded"]) == {"G.4.b", "D.3.b"}
