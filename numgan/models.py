"""Ready-made generator/discriminator pairs.  Each returns an uninitialised GAN: the Trainer's
seed draws the weights, so one seed fixes the whole run."""

from __future__ import annotations

from .gan import GAN, UniformNoise
from .layers import Dense, LeakyReLU
from .network import Sequential


def mlp(
    sizes: list[int], *, alpha: float = 0.2, init: str = "glorot", dtype="float32"
) -> Sequential:
    """Dense layers of the given widths with LeakyReLU(alpha) between them and a linear output."""
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least an input and an output width, got {sizes!r}")
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Dense(n_in, n_out, init=init))
        if i < len(sizes) - 2:
            layers.append(LeakyReLU(alpha))
    return Sequential(layers, dtype=dtype)


def toy1d(*, hidden: int = 16, noise_dim: int = 1, dtype="float32") -> GAN:
    """The 1-D toy of the paper's Figure 1: G and D are 1-16-16-1 LeakyReLU MLPs, z ~ U(-1, 1)."""
    G = mlp([noise_dim, hidden, hidden, 1], dtype=dtype)
    D = mlp([1, hidden, hidden, 1], dtype=dtype)
    return GAN(G, D, UniformNoise(noise_dim))
