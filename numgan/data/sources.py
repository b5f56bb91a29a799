"""Data sources: what the trainer draws minibatches from.

Every source has ``sample(m, rng) -> x``, x of shape (m, dim).  A labelled source also has
``sample_labeled(m, rng) -> (x, y)``: x as ``sample`` would draw it and y (m,) int64 class
labels in 0..num_classes-1.  ``num_classes`` is None on a source without labels, whose
``sample_labeled`` raises ValueError saying where labelled data comes from.

    arrays         ArrayData(x, y=None): rows of a fixed array, drawn with replacement
    toy 1-D        Gaussian1D (the paper's Figure 1; no labels), GaussianMixture1D
    2-D mixtures   ring8(), grid25(): the mode-collapse benchmarks, GaussianMixture2D samplers
                   (a mixture's label is the component a sample came from)
    helpers        as_data() (an array or a source -> a source), as_rows() ((N, ...) ->
                   (N, features)), check_labels() (validated (N,) int64 class labels)

Everything random takes an explicit ``numpy.random.Generator``; nothing touches the global RNG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class DataSource(Protocol):
    """Anything the trainer can draw from: ``sample(m, rng)`` -> (m, dim)."""

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray: ...


# -- rows and labels ---------------------------------------------------------------------------


def _finite(owner: str, name: str, value) -> float:
    """value as a float if it is a finite real number, else a ValueError naming it."""
    number = isinstance(value, (int, float, np.integer, np.floating))
    if isinstance(value, bool) or not number or not np.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")
    return float(value)


def as_rows(x: np.ndarray) -> np.ndarray:
    """(N, ...) -> (N, prod(...)): one sample per row, e.g. images (N, H, W) -> (N, H*W).

    (N,) becomes (N, 1).  A view when the memory layout allows, else a copy.  Unlike
    ``x.reshape(len(x), -1)`` it also works for N = 0, where the -1 cannot be inferred.
    """
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("as_rows: expected an array of shape (N, ...), got a single number")
    return x.reshape(len(x), math.prod(x.shape[1:]))


# The usual way to turn class names, or numbers with gaps, into the classes 0..K-1.
_RENUMBER = "np.unique(y, return_inverse=True)[1] numbers the classes 0..K-1"


def check_labels(y, n: int, *, name: str = "labels", num_classes: int | None = None) -> np.ndarray:
    """Class labels for n samples, validated -> a new (n,) int64 array with values >= 0.

    y:            one integer class per sample, in the samples' order, shape (n,)
    num_classes:  if given, every label must be below it
    Every error is one line that starts with ``name`` (say, the file) and says the fix.
    """
    y = np.asarray(y)
    if y.dtype.kind not in "iubf":
        raise ValueError(
            f"{name}: labels of dtype {y.dtype}, expected integer classes: {_RENUMBER}"
        )
    if y.shape != (n,):
        if y.size == n:
            fix = "pass y.ravel()"
        elif y.ndim == 2 and len(y) == n:
            fix = "one-hot rows? pass y.argmax(1)"
        else:
            fix = "give one label per sample, in the samples' order"
        raise ValueError(
            f"{name}: labels of shape {y.shape} for {n} samples, expected ({n},): {fix}"
        )
    if y.dtype.kind == "f":
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            raise ValueError(
                f"{name}: labels must be integer classes, found {y[~whole][0]} (dtype {y.dtype}): "
                f"continuous targets are not class labels"
            )
    if y.dtype.kind in "bf":  # whole numbers, stored as floats or bools: say how to convert
        raise ValueError(
            f"{name}: labels of dtype {y.dtype}, expected integers: convert them with "
            f"y.astype(np.int64)"
        )
    if n and y.min() < 0:
        raise ValueError(f"{name}: labels must be >= 0, found {int(y.min())}: {_RENUMBER}")
    if n and y.dtype == np.uint64 and y.max() > np.iinfo(np.int64).max:  # int64 would wrap it
        raise ValueError(f"{name}: label {int(y.max())} is beyond int64: {_RENUMBER}")
    if num_classes is not None:
        _check_num_classes(num_classes, name)
        if n and y.max() >= num_classes:
            raise ValueError(
                f"{name}: label {int(y.max())} is out of range for {num_classes} classes "
                f"(0..{num_classes - 1}): pass the right num_classes, or {_RENUMBER}"
            )
    return y.astype(np.int64)


def _check_num_classes(num_classes, name: str) -> int:
    ok = isinstance(num_classes, (int, np.integer)) and not isinstance(num_classes, bool)
    if not ok or num_classes < 1:
        raise ValueError(f"{name}: num_classes must be a positive int, got {num_classes!r}")
    return int(num_classes)


# -- minibatches from an array -----------------------------------------------------------------


class ArrayData:
    """Minibatches drawn with replacement from a fixed array, with or without class labels.

    x: (N, ...) -> sample(m, rng): (m, prod(...)), rows chosen by rng.integers(0, N, m)
    y: (N,) integer classes >= 0, or None -> sample_labeled(m, rng): the same rows of x, and
       their labels (m,) int64
    num_classes: the number of classes when labelled (default: max(y) + 1; give it when the
       array need not hold every class, e.g. a split of a larger dataset)
    """

    def __init__(self, x, y=None, *, num_classes: int | None = None, name: str = "data") -> None:
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise ValueError(f"{name}: expected a numeric array, got dtype {x.dtype}")
        if x.ndim < 1 or len(x) < 2:
            raise ValueError(
                f"{name}: expected an array of shape (N, ...) with N >= 2, got {x.shape}"
            )
        x = as_rows(x).astype(np.float64 if x.dtype == np.float64 else np.float32)
        if not np.isfinite(x).all():
            raise ValueError(f"{name}: contains NaN or inf values: clean or drop those rows")
        self.name = name
        self.x = x
        self.dim = x.shape[1]
        if y is None:
            if num_classes is not None:
                raise ValueError(f"{name}: num_classes given without labels: pass y as well")
            self.labels, self.num_classes = None, None
        else:
            self.labels = check_labels(y, len(x), name=name, num_classes=num_classes)
            self.num_classes = (
                int(self.labels.max()) + 1 if num_classes is None else int(num_classes)
            )

    def __len__(self) -> int:
        return len(self.x)

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """m rows (m, dim), drawn with replacement."""
        return self.x[rng.integers(0, len(self.x), size=m)]

    def sample_labeled(self, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """m rows (m, dim) and their labels (m,): the rows ``sample`` draws from the same rng."""
        if self.labels is None:
            raise ValueError(
                f"{self.name}: no labels to sample: pass them as ArrayData(x, y), one integer "
                f"class per row of x"
            )
        idx = rng.integers(0, len(self.x), size=m)  # one draw, as in sample
        return self.x[idx], self.labels[idx]


def as_data(data, y=None) -> DataSource:
    """An array (and its labels y, if any) becomes ArrayData; a source is used as it is."""
    if hasattr(data, "sample") and callable(data.sample):
        if y is not None:
            raise TypeError(
                "as_data: labels go with an array; a source brings its own, from sample_labeled"
            )
        return data
    if isinstance(data, (np.ndarray, list, tuple)):
        return ArrayData(data, y)
    raise TypeError(
        f"data must be an array of shape (N, ...) or an object with sample(m, rng), "
        f"got {type(data).__name__}"
    )


# -- toy 1-D -----------------------------------------------------------------------------------


class Gaussian1D:
    """The 1-D toy of the paper's Figure 1: x ~ N(mu, sigma**2), shape (m, 1).  No labels."""

    dim = 1
    num_classes = None

    def __init__(self, mu: float = 4.0, sigma: float = 0.5) -> None:
        mu, sigma = _finite("Gaussian1D", "mu", mu), _finite("Gaussian1D", "sigma", sigma)
        if not sigma > 0:
            raise ValueError(f"Gaussian1D: sigma must be positive, got {sigma!r}")
        self.mu, self.sigma = mu, sigma

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mu, self.sigma, size=(m, 1))

    def sample_labeled(self, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise ValueError(
            "Gaussian1D: one Gaussian, no classes to label: GaussianMixture1D labels each "
            "sample with its component"
        )

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * ((x - self.mu) / self.sigma) ** 2) / (self.sigma * np.sqrt(2 * np.pi))


class GaussianMixture1D:
    """A 1-D mixture of K Gaussians (two, typically): the smallest data with two modes.

        k ~ Categorical(weights),  x | k ~ N(mus[k], sigmas[k]**2);   sample(m, rng): (m, 1)
        pdf(x) = sum_k weights[k] * N(x; mus[k], sigmas[k]**2)

    weights are relative (normalised to sum to 1); None means equal weights.  The label of a
    sample is its component k (num_classes = K).
    """

    dim = 1

    def __init__(
        self,
        mus: Sequence[float],
        sigmas: Sequence[float],
        weights: Sequence[float] | None = None,
    ) -> None:
        mus_, sigmas_ = np.asarray(mus, np.float64), np.asarray(sigmas, np.float64)
        if mus_.ndim != 1 or len(mus_) < 1 or sigmas_.shape != mus_.shape:
            raise ValueError(
                f"GaussianMixture1D: mus and sigmas must be 1-D and the same length, got "
                f"shapes {mus_.shape} and {sigmas_.shape}"
            )
        if not (np.isfinite(mus_).all() and (sigmas_ > 0).all() and np.isfinite(sigmas_).all()):
            raise ValueError(
                f"GaussianMixture1D: need finite mus and positive finite sigmas, got "
                f"{mus_.tolist()} and {sigmas_.tolist()}"
            )
        w = np.ones_like(mus_) if weights is None else np.asarray(weights, np.float64)
        with np.errstate(over="ignore"):  # a sum that overflows is refused below
            total = w.sum() if w.shape == mus_.shape else 0.0
        if not ((w >= 0).all() and np.isfinite(w).all() and 0 < total < np.inf):
            raise ValueError(
                f"GaussianMixture1D: weights must be {len(mus_)} finite non-negative numbers, "
                f"not all zero, with a finite sum, got {w.tolist()}"
            )
        self.mus, self.sigmas, self.weights = mus_, sigmas_, w / w.sum()

    @property
    def num_classes(self) -> int:
        return len(self.mus)

    def sample_labeled(self, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """m samples (m, 1) and the component each came from (m,)."""
        k = rng.choice(len(self.mus), size=m, p=self.weights)
        x = self.mus[k] + self.sigmas[k] * rng.standard_normal(m)
        return x[:, None], k.astype(np.int64, copy=False)

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        return self.sample_labeled(m, rng)[0]

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The mixture density at each point of x (any shape)."""
        x = np.asarray(x, np.float64)[..., None]
        z = (x - self.mus) / self.sigmas
        return (self.weights * np.exp(-0.5 * z**2) / (self.sigmas * np.sqrt(2 * np.pi))).sum(-1)


# -- 2-D mixtures: the mode-collapse benchmarks ------------------------------------------------


class GaussianMixture2D:
    """K isotropic 2-D Gaussians of one width, each chosen with probability 1/K.

        k ~ Uniform{0..K-1},  x | k ~ N(means[k], sigma**2 I);   sample(m, rng): (m, 2)
        pdf(x) = (1/K) sum_k exp(-|x - means[k]|^2 / (2 sigma^2)) / (2 pi sigma^2)

    means: (K, 2).  A generator that covers only some modes shows it at a glance; the labels
    from ``sample_labeled`` (the mode k, num_classes = K) give the per-mode counts a
    mode-coverage metric compares against.
    """

    dim = 2

    def __init__(self, means: np.ndarray, sigma: float, *, name: str = "mixture") -> None:
        means_ = np.asarray(means, np.float64)
        if means_.ndim != 2 or means_.shape[1] != 2 or len(means_) < 1:
            raise ValueError(f"{name}: means must have shape (K, 2), got {means_.shape}")
        if not np.isfinite(means_).all():
            raise ValueError(f"{name}: the means must be finite (check radius or spacing)")
        sigma = _finite(name, "sigma", sigma)
        if not sigma > 0:
            raise ValueError(f"{name}: sigma must be positive, got {sigma!r}")
        self.means, self.sigma, self.name = means_, float(sigma), name

    @property
    def num_classes(self) -> int:
        return len(self.means)

    def sample_labeled(self, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """m samples (m, 2) and the mode each came from (m,)."""
        k = rng.integers(0, len(self.means), size=m)
        return self.means[k] + self.sigma * rng.standard_normal((m, 2)), k

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        return self.sample_labeled(m, rng)[0]

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The mixture density at each row of x: (n, 2) -> (n,)."""
        x = np.asarray(x, np.float64)
        d2 = ((x[:, None, :] - self.means[None, :, :]) ** 2).sum(-1)
        s2 = self.sigma**2
        return np.exp(-d2 / (2 * s2)).mean(1) / (2 * np.pi * s2)

    def __repr__(self) -> str:
        return f"GaussianMixture2D({self.name}: {len(self.means)} modes, sigma={self.sigma})"


def ring8(*, radius: float = 1.0, sigma: float = 0.01) -> GaussianMixture2D:
    """8 Gaussians on a circle, means[i] = radius * (cos t_i, sin t_i), t_i = 2 pi i / 8."""
    # arange, not linspace(0, 2*pi, 8): linspace includes 2*pi, which is angle 0 again, and
    # leaves 7 distinct modes 2*pi/7 apart.
    t = 2 * np.pi * np.arange(8) / 8
    return GaussianMixture2D(radius * np.stack([np.cos(t), np.sin(t)], 1), sigma, name="ring8")


def grid25(*, spacing: float = 2.0, sigma: float = 0.05) -> GaussianMixture2D:
    """25 Gaussians on a 5 x 5 grid: means {-2, -1, 0, 1, 2}^2 * spacing, i.e. {-4..4 by 2}^2."""
    v = spacing * np.arange(-2, 3, dtype=np.float64)
    means = np.array([(a, b) for a in v for b in v])
    return GaussianMixture2D(means, sigma, name="grid25")
