"""PyTorch's twin of a numgan GAN (benchmarks/torch_twin.py)."""

import sys

import numpy as np
import pytest
from torch_twin import load_torch, torch_sequential, torch_state

from numgan.app.bench import build_trainer, model_specs

SPECS = {spec.key: spec for spec in model_specs()}


def test_a_missing_torch_is_a_reason_not_an_exception(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    torch, why = load_torch()
    assert torch is None and why.startswith("torch is not importable (ModuleNotFoundError")


def test_the_twin_copies_weights_exactly():
    torch = pytest.importorskip("torch")
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


def test_the_dcgan_twin_is_built_from_torchs_conv_layers():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    trainer = build_trainer(SPECS["4"], data_size=16, dtype=np.float64)
    rng = np.random.default_rng(0)
    for net, twin_kinds, x in (
        (
            trainer.gan.G,
            [nn.Linear, nn.Unflatten, nn.BatchNorm2d, nn.ReLU, nn.ConvTranspose2d,
             nn.BatchNorm2d, nn.ReLU, nn.ConvTranspose2d, nn.Tanh, nn.Flatten],
            rng.uniform(-1, 1, size=(4, 100)),
        ),
        (
            trainer.gan.D,
            [nn.Unflatten, nn.Conv2d, nn.LeakyReLU, nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU,
             nn.Flatten, nn.Linear],
            rng.uniform(-1, 1, size=(4, 784)),
        ),
    ):  # fmt: skip
        twin = torch_sequential(net, torch)
        assert [type(mod) for mod in twin] == twin_kinds
        for mod in twin:
            if isinstance(mod, nn.BatchNorm2d):
                assert (mod.eps, mod.momentum) == (1e-5, 0.1)
        # numgan's conv weights are in PyTorch's layouts: copied unchanged, read back equal.
        for name, value in torch_state(twin, net).items():
            np.testing.assert_array_equal(value, net.state_dict()[name])
        expected = net.forward(x, training=True)
        got = twin(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("key", ["1", "3-tanh", "2-sgd"])
def test_the_twins_one_d_pass_equals_two_passes(key):
    """The twin runs D once on [x; G(z)] where D is rowwise (rows 1 and 3; row 2's D is too,
    its BatchNorm is in G): the same losses and parameters as two passes, in float64."""
    torch = pytest.importorskip("torch")
    from torch_twin import TorchGAN

    spec = SPECS[key]
    trainer = build_trainer(spec, data_size=32, dtype=np.float64, batch_size=8)
    assert trainer.gan.D.rowwise
    rng = np.random.default_rng(0)
    batches = [
        (rng.uniform(-1, 1, size=(8, spec.noise_dim)), rng.normal(size=(8, spec.data_dim)))
        for _ in range(2)
    ]
    runs = []
    for concat in (True, False):
        twin = TorchGAN(spec, trainer.gan, trainer.data.x, 8, 0, torch, concat=concat)
        assert twin.concat == concat
        losses = []
        for z, x in batches:
            losses.append(twin.d_step(torch.from_numpy(x), torch.from_numpy(z)).item())
            losses.append(twin.g_step(torch.from_numpy(z)).item())
        runs.append((losses, twin.state()))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-12)
    for name, value in runs[0][1].items():
        np.testing.assert_allclose(value, runs[1][1][name], rtol=1e-11, atol=1e-14, err_msg=name)


def test_the_twin_keeps_two_d_passes_for_a_batchnorm_d_and_draws_the_rows_noise():
    torch = pytest.importorskip("torch")
    from torch_twin import TorchGAN

    trainer = build_trainer(SPECS["4"], data_size=16, batch_size=4)
    twin = TorchGAN(SPECS["4"], trainer.gan, trainer.data.x, 4, 0, torch)
    assert not trainer.gan.D.rowwise and not twin.concat
    spec = SPECS["3-tanh"]
    trainer = build_trainer(spec, data_size=16, batch_size=4)
    twin = TorchGAN(spec, trainer.gan, trainer.data.x, 4, 0, torch)
    z = twin.noise(20_000)
    assert spec.noise == "gaussian" and float(z.min()) < -3 and float(z.max()) > 3
    assert abs(float(z.std()) - 1) < 0.03
