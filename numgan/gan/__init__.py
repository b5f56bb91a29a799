"""The GAN: G, D and the noise prior; the objectives; Algorithm 1; presets and checkpoints.

trainer.py     GAN, the noise priors, and Trainer: Algorithm 1 on the nn layers
objectives.py  what D and G minimise, as objects the trainer calls (CrossEntropy,
               LeastSquares, FeatureMatching)
remedies.py    what changes D's inputs: InstanceNoise, ReplayBuffer
fused.py       one jitted call per iteration for small all-Dense GANs (opt-in)
progress.py    the progress bar of Trainer.train(progress=True) and numgan train
gradcheck.py   the gradients the trainer applies, against central differences
models.py      ready-made G/D pairs by name (public: numgan.models)
checkpoint.py  a whole run in one .npz, resumed bit for bit
"""

from . import checkpoint, models
from .objectives import CrossEntropy, FeatureMatching, LeastSquares, Objective
from .remedies import InstanceNoise, ReplayBuffer
from .trainer import GAN, DivergenceError, GaussianNoise, Trainer, UniformNoise

__all__ = [
    "GAN",
    "CrossEntropy",
    "DivergenceError",
    "FeatureMatching",
    "GaussianNoise",
    "InstanceNoise",
    "LeastSquares",
    "Objective",
    "ReplayBuffer",
    "Trainer",
    "UniformNoise",
    "checkpoint",
    "models",
]
