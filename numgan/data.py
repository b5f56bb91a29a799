"""Data sources for the trainer: anything with ``sample(m, rng) -> (m, features)``.

An array of shape (N, ...) becomes an ``ArrayData`` that draws minibatches with replacement,
each row flattened to a feature vector.  Distributions with a known density (the 1-D toy) are
samplers of their own.
"""

from __future__ import annotations

import numpy as np


class ArrayData:
    """Minibatches drawn with replacement from a fixed array.

    data: (N, ...) -> sample(m, rng): (m, prod(...)), rows chosen by rng.integers(0, N, m)
    """

    def __init__(self, data, *, name: str = "data") -> None:
        x = np.asarray(data)
        if x.dtype.kind not in "fiub":
            raise ValueError(f"{name}: expected a numeric array, got dtype {x.dtype}")
        if x.ndim < 1 or len(x) < 2:
            raise ValueError(
                f"{name}: expected an array of shape (N, ...) with N >= 2, got {x.shape}"
            )
        x = x.reshape(len(x), -1).astype(np.float64 if x.dtype == np.float64 else np.float32)
        if not np.isfinite(x).all():
            raise ValueError(f"{name}: contains NaN or inf values: clean or drop those rows")
        self.x = x
        self.dim = x.shape[1]

    def __len__(self) -> int:
        return len(self.x)

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        return self.x[rng.integers(0, len(self.x), size=m)]


class Gaussian1D:
    """The 1-D toy of the paper's Figure 1: x ~ N(mu, sigma**2), shape (m, 1)."""

    dim = 1

    def __init__(self, mu: float = 4.0, sigma: float = 0.5) -> None:
        if not sigma > 0:
            raise ValueError(f"Gaussian1D: sigma must be positive, got {sigma!r}")
        self.mu, self.sigma = float(mu), float(sigma)

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mu, self.sigma, size=(m, 1))

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * ((x - self.mu) / self.sigma) ** 2) / (self.sigma * np.sqrt(2 * np.pi))


def as_data(data) -> ArrayData | object:
    """An array becomes ArrayData; an object with ``sample(m, rng)`` is used as it is."""
    if hasattr(data, "sample") and callable(data.sample):
        return data
    if isinstance(data, (np.ndarray, list, tuple)):
        return ArrayData(data)
    raise TypeError(
        f"data must be an array of shape (N, ...) or an object with sample(m, rng), "
        f"got {type(data).__name__}"
    )
