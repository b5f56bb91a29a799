"""PyTorch's twin of a numgan GAN (benchmarks/torch_twin.py)."""

import sys

import numpy as np
import pytest
from torch_twin import load_torch, torch_sequential, torch_state

from numgan.app.bench import build_trainer, model_specs

SPECS = {spec.key: spec for spec in model_specs((1, 2, 3))}


def test_a_missing_torch_is_a_reason_not_an_exception(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    torch, why = load_torch()
    assert torch is None and why.startswith("torch is not importable (ModuleNotFoundError")


def test_the_twin_copies_weights_exactly():
    torch, why = load_torch()
    if torch is None:
        pytest.skip(f"the twin is a PyTorch network: {why}")
    trainer = build_trainer(SPECS["2-sgd"], data_size=16, dtype=np.float64)
    G = trainer.gan.G
    twin = torch_sequential(G, torch)
    # Same forward pass in float64, BatchNorm in training mode included.
    x = np.random.default_rng(0).uniform(-1, 1, size=(8, 100))
    expected = G.forward(x, training=True)
    got = twin(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)
    # And the twin's state reads back under numgan's names, with numgan's values.
    state = torch_state(torch_sequential(G, torch), G)
    own = G.state_dict()
    assert set(state) <= set(own) and "0.W" in state and "1.gamma" in state
    for name, value in state.items():
        np.testing.assert_array_equal(value, own[name])
