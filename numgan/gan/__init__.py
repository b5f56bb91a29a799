"""The GAN: G, D and the noise prior; the objectives; Algorithm 1; presets and checkpoints.

    trainer.py     GAN, the noise priors, and Trainer: Algorithm 1 on the nn layers
    objectives.py  the objectives on D's logits, as objects the trainer calls
    fused.py       one jitted call per iteration for small all-Dense GANs (opt-in)
    models.py      ready-made G/D pairs by name (public: numgan.models)
    checkpoint.py  a whole run in one .npz, resumed bit for bit
"""

from . import checkpoint, models
from .trainer import GAN, DivergenceError, GaussianNoise, Trainer, UniformNoise

__all__ = [
    "GAN",
    "DivergenceError",
    "GaussianNoise",
    "Trainer",
    "UniformNoise",
    "checkpoint",
    "models",
]
