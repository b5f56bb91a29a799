"""The dataset registry: ``load_dataset(name_or_path) -> Dataset``, what ``numgan train
--dataset`` calls, and what it is built from.

    Dataset        samples (or a sampler), their class labels if any, and seeded splits
    load_dataset   "toy1d", "ring8", "grid25", "digits", "mnist", or a .npy / .npz path
    load_digits    scikit-learn's 8x8 digits, labelled
    splits         split_indices() / split() / split_labeled(): seeded train / validation / test

Labels are kept wherever the data has them (digits, MNIST, a .npz with x and y arrays; the
2-D mixtures label each sample with its mode) and stay aligned with the samples through the
splits.  Pixel data is scaled to a PIXEL_RANGES range ("sigmoid" [0, 1] or "tanh" [-1, 1]).
Everything random takes an explicit ``numpy.random.Generator``; nothing touches the global RNG.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .formats import MNIST_FILES, _load_mnist, load_xy
from .pixels import PIXEL_RANGES, check_pixel_range, range_text, scale_pixels
from .sources import ArrayData, Gaussian1D, check_labels, grid25, ring8

__all__ = [
    "DATASETS",
    "DEFAULT_SPLITS",
    "PIXEL_RANGES",
    "Dataset",
    "load_dataset",
    "load_digits",
    "split",
    "split_indices",
    "split_labeled",
]

# -- splits ------------------------------------------------------------------------------------


def _split_sizes(n: int, sizes: Sequence[float]) -> tuple[int, int, int]:
    """Three sizes (train, validation, test) from three fractions or three counts."""
    if len(sizes) != 3:
        raise ValueError(
            f"split: give three sizes or fractions (train, validation, test), got {sizes!r}"
        )
    is_int = [isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes]
    is_float = [isinstance(s, (float, np.floating)) for s in sizes]
    if all(is_int):
        counts = [int(s) for s in sizes]
        if min(counts) < 0 or sum(counts) > n:
            raise ValueError(
                f"split: sizes {counts} must be >= 0 and sum to at most the {n} samples"
            )
        return counts[0], counts[1], counts[2]
    if all(is_float):
        f = [float(s) for s in sizes]
        if min(f) < 0 or abs(sum(f) - 1) > 1e-6:
            raise ValueError(f"split: fractions {f} must be >= 0 and sum to 1")
        # Validation and test are rounded; train takes the remainder, so every sample is used.
        n_val, n_test = round(f[1] * n), round(f[2] * n)
        return n - n_val - n_test, n_val, n_test
    raise ValueError(
        f"split: give three ints (sizes) or three floats (fractions summing to 1), not a mix, "
        f"got {sizes!r}"
    )


def _check_rng(rng, who: str) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{who}: rng must be a numpy Generator (np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )


def split_indices(
    n: int, sizes: Sequence[float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint (train, validation, test) index arrays into range(n), from a seeded permutation.

    sizes: three counts summing to at most n (the rest is left out), e.g. (8000, 1000, 1000),
           or three fractions summing to 1, e.g. (0.8, 0.1, 0.1) (train takes the rounding).
    Each index array is sorted, so a split keeps the data's original order.
    """
    _check_rng(rng, "split")
    a, b, c = _split_sizes(n, sizes)
    perm = rng.permutation(n)
    return np.sort(perm[:a]), np.sort(perm[a : a + b]), np.sort(perm[a + b : a + b + c])


def split(
    x: np.ndarray, sizes: Sequence[float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (N, ...) -> (x_train, x_val, x_test), rows chosen by ``split_indices(N, sizes, rng)``."""
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"split: expected an array of shape (N, ...), got shape {x.shape}")
    i_train, i_val, i_test = split_indices(len(x), sizes, rng)
    return x[i_train], x[i_val], x[i_test]


def split_labeled(
    x: np.ndarray, y: np.ndarray, sizes: Sequence[float], rng: np.random.Generator
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """x (N, ...) and labels y (N,) -> ((x_train, y_train), (x_val, y_val), (x_test, y_test)).

    The same rows as ``split(x, sizes, rng)`` from the same rng state, each with its own label.
    """
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"split: expected an array of shape (N, ...), got shape {x.shape}")
    y = check_labels(y, len(x), name="split")
    parts = split_indices(len(x), sizes, rng)
    return tuple((x[i], y[i]) for i in parts)


# -- scikit-learn's 8x8 digits -----------------------------------------------------------------


def load_digits(*, scale: str | None = "sigmoid") -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled handwritten digits (no download): 1797 images of 8 x 8.

    -> images (1797, 8, 8), labels (1797,) int64 in 0..9.  Pixels are 0..16; scale "sigmoid"
    maps them to [0, 1], "tanh" to [-1, 1] (float32), None keeps the raw values (uint8).
    Needs scikit-learn, an optional dependency (the "data" extra).
    """
    check_pixel_range(scale, "load_digits", allow_none=True)
    try:  # imported here: scikit-learn is optional and slow to import
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as err:
        raise ImportError(
            "the digits dataset comes with scikit-learn, an optional dependency: "
            'pip install scikit-learn (or pip install -e ".[data]")'
        ) from err
    bunch = sklearn_load_digits()
    images = bunch.images.astype(np.uint8)  # float64 holding the integers 0..16
    labels = np.asarray(bunch.target, dtype=np.int64)
    if scale is None:
        return images, labels
    return scale_pixels(images, scale, max_value=16), labels


# -- the registry ------------------------------------------------------------------------------

DATASETS = ("toy1d", "ring8", "grid25", "digits", "mnist")
DEFAULT_SPLITS = (0.8, 0.1, 0.1)


@dataclass(repr=False, eq=False)
class Dataset:
    """What ``load_dataset`` returns: the samples and what is known about them.

    name:         the registry name ("ring8", "mnist", ...) or the file's path
    samples:      a float array (N, ...) or, for the toy and 2-D data, a sampler with
                  sample(m, rng) and dim (such data is unlimited, and has no splits)
    labels:       (N,) int64 class labels, row for row with samples (digits, MNIST, a .npz
                  with y), else None; a sampler's labels come from its sample_labeled
    num_classes:  the number of classes (10 for digits and MNIST, the modes of ring8 /
                  grid25, max(labels) + 1 for a file), None for unlabelled data
    image_shape:  (H, W) for images, e.g. (28, 28) or (8, 8), else None
    means, sigma: the mode centres (K, 2) and their standard deviation for ring8 / grid25
    splits:       "train", "validation", "test" -> sorted row indices into samples
    description:  one line on what was loaded (for MNIST: which split, from where)

    The splits: part(name) / train / validation / test, and their labels, row for row,
    part_labels(name) / train_labels / validation_labels / test_labels (None if unlabelled).
    A Dataset is itself a data source for Trainer: sample(m, rng) draws from the training
    split (with replacement, rows flattened to dim features) or from the sampler, and
    sample_labeled(m, rng) draws the same rows with their labels.
    """

    name: str
    samples: np.ndarray | object
    description: str
    labels: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    means: np.ndarray | None = None
    sigma: float | None = None
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    num_classes: int | None = None
    _train_data: ArrayData | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.is_sampler:
            if self.labels is not None:
                raise ValueError(
                    f"{self.name}: a sampler has no fixed samples to label: its sample_labeled "
                    f"gives the labels"
                )
            if self.num_classes is None:
                self.num_classes = getattr(self.samples, "num_classes", None)
        elif self.labels is not None:
            self.labels = check_labels(
                self.labels, len(self.samples), name=self.name, num_classes=self.num_classes
            )
            if self.num_classes is None:
                self.num_classes = int(self.labels.max()) + 1
        elif self.num_classes is not None:
            raise ValueError(f"{self.name}: num_classes given without labels")

    @property
    def is_sampler(self) -> bool:
        return not isinstance(self.samples, np.ndarray)

    @property
    def dim(self) -> int:
        """Features per sample: what G outputs and D takes in."""
        if self.is_sampler:
            return int(self.samples.dim)
        return int(np.prod(self.samples.shape[1:], dtype=np.int64))

    def _rows(self, name: str) -> np.ndarray:
        """The row indices of one split, or a ValueError saying why there are none."""
        if self.is_sampler:
            raise ValueError(
                f"{self.name} is a distribution, with no fixed samples to split: draw from it "
                f"with sample(m, rng)"
            )
        if name not in self.splits:
            raise ValueError(f"{self.name}: no split {name!r}; it has {', '.join(self.splits)}")
        return self.splits[name]

    def part(self, name: str) -> np.ndarray:
        """The samples of one split: "train", "validation" or "test" -> (n, ...)."""
        return self.samples[self._rows(name)]

    def part_labels(self, name: str) -> np.ndarray | None:
        """The labels (n,) of one split, row for row with part(name); None if unlabelled."""
        rows = self._rows(name)
        return None if self.labels is None else self.labels[rows]

    @property
    def train(self) -> np.ndarray:
        return self.part("train")

    @property
    def validation(self) -> np.ndarray:
        return self.part("validation")

    @property
    def test(self) -> np.ndarray:
        return self.part("test")

    @property
    def train_labels(self) -> np.ndarray | None:
        return self.part_labels("train")

    @property
    def validation_labels(self) -> np.ndarray | None:
        return self.part_labels("validation")

    @property
    def test_labels(self) -> np.ndarray | None:
        return self.part_labels("test")

    def _train_source(self) -> ArrayData:
        if self._train_data is None:  # built on first use: it holds a flattened copy
            self._train_data = ArrayData(
                self.train,
                self.train_labels,
                num_classes=self.num_classes,
                name=f"{self.name} (train split)",
            )
        return self._train_data

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """m training samples, (m, dim): from the sampler, or rows of the training split."""
        if self.is_sampler:
            return self.samples.sample(m, rng)
        return self._train_source().sample(m, rng)

    def sample_labeled(self, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """m training samples (m, dim) and their labels (m,) int64.

        The samples are those ``sample`` draws from the same rng state; the labels are the
        rows' classes, or for ring8 / grid25 the mode each sample came from.
        """
        if self.num_classes is None:
            raise ValueError(
                f"{self.name}: unlabelled data, so no labels to sample: labelled data is digits, "
                f"mnist, ring8, grid25, or a .npz file saved as np.savez(path, x=x, y=y)"
            )
        if self.is_sampler:
            return self.samples.sample_labeled(m, rng)
        return self._train_source().sample_labeled(m, rng)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}: {self.description})"


def _sizes_text(splits: dict[str, np.ndarray]) -> str:
    return " / ".join(f"{len(i):,}" for i in splits.values()) + " (" + " / ".join(splits) + ")"


def _with_splits(
    name: str,
    x: np.ndarray,
    labels: np.ndarray | None,
    image_shape: tuple[int, ...] | None,
    description: str,
    parts: dict[str, np.ndarray],
    num_classes: int | None = None,
) -> Dataset:
    return Dataset(
        name=name,
        samples=x,
        labels=labels,
        num_classes=num_classes,
        image_shape=image_shape,
        splits=parts,
        description=f"{description}; split {_sizes_text(parts)}",
    )


def _split_dict(n: int, sizes: Sequence[float], rng: np.random.Generator) -> dict:
    return dict(zip(("train", "validation", "test"), split_indices(n, sizes, rng), strict=True))


def _distribution(name: str, options: dict) -> Dataset:
    factory = {"toy1d": Gaussian1D, "ring8": ring8, "grid25": grid25}[name]
    try:
        sampler = factory(**options)
    except TypeError as err:  # an option this distribution does not take
        raise TypeError(f"load_dataset({name!r}): {err}") from None
    if isinstance(sampler, Gaussian1D):
        description = f"N({sampler.mu}, {sampler.sigma}^2), the 1-D toy of the paper's Figure 1"
    else:
        description = f"{len(sampler.means)} Gaussians of sigma {sampler.sigma} ({name})"
    return Dataset(
        name=name,
        samples=sampler,
        description=description,
        means=getattr(sampler, "means", None),
        sigma=sampler.sigma,
    )


MNIST_CLASSES = 10  # the digits 0..9, whichever of them a split happens to hold


def _mnist(
    data_dir, scale: str, splits: Sequence[float] | None, rng: np.random.Generator
) -> Dataset:
    folder, found = _load_mnist(data_dir, None, scale)
    if len(found) == 1:  # one split only (the test set, typically): split it three ways
        ((part, (x, y)),) = found.items()
        n = len(x)
        sizes = splits if splits is not None else (n - 2 * (n // 10), n // 10, n // 10)
        description = (
            f"MNIST, the {part} split only ({MNIST_FILES[part][0]}: {n:,} images) from {folder}"
        )
        parts = _split_dict(n, sizes, rng)
        return _with_splits("mnist", x, y, (28, 28), description, parts, MNIST_CLASSES)
    (x_train, y_train), (x_test, y_test) = found["train"], found["test"]
    x, y = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    description = (
        f"MNIST, train and test splits ({len(x_train):,} + {len(x_test):,} images) from {folder}"
    )
    if splits is not None:
        parts = _split_dict(len(x), splits, rng)
    else:  # the official test set stays the test set; validation comes out of training
        n_val = min(10_000, len(x_train) // 6)
        i_train, i_val, _ = split_indices(len(x_train), (len(x_train) - n_val, n_val, 0), rng)
        parts = {"train": i_train, "validation": i_val, "test": np.arange(len(x_train), len(x))}
    return _with_splits("mnist", x, y, (28, 28), description, parts, MNIST_CLASSES)


def load_dataset(
    name_or_path: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    rng: np.random.Generator | None = None,
    scale: str = "sigmoid",
    splits: Sequence[float] | None = None,
    key: str | None = None,
    label_key: str | None = None,
    **options,
) -> Dataset:
    """A dataset by name ("toy1d", "ring8", "grid25", "digits", "mnist") or a .npy/.npz path.

    data_dir:   MNIST's folder (default: $NUMGAN_DATA)
    rng:        draws the split permutation; default np.random.default_rng(0), so the split
                is the same every run unless you pass another Generator
    scale:      the pixel range, a PIXEL_RANGES name: "sigmoid" ([0, 1]) or "tanh" ([-1, 1]),
                for pixel data: digits, MNIST, and uint8 arrays from a file (other arrays are
                left as saved)
    splits:     three fractions or sizes (train, validation, test) over all the samples;
                default (0.8, 0.1, 0.1), except MNIST: with both files, the official 10,000
                test images are the test split and 10,000 training images (seeded) the
                validation split; with one file alone (the test set: 8,000 / 1,000 / 1,000),
                80 / 10 / 10 %
    key:        which array of a .npz holds the samples (see load_array)
    label_key:  which array of a .npz holds the labels; default "y" if there is one (see
                load_xy).  Digits and MNIST come with their labels; .npy files have none.
    options:    passed to the distribution: toy1d takes mu, sigma; ring8 radius, sigma;
                grid25 spacing, sigma
    """
    check_pixel_range(scale, "load_dataset")
    if rng is None:
        rng = np.random.default_rng(0)
    _check_rng(rng, "load_dataset")
    name = os.fspath(name_or_path)
    if name in ("toy1d", "ring8", "grid25"):
        return _distribution(name, options)
    if options:
        raise TypeError(
            f"load_dataset({name!r}): unexpected options {', '.join(options)}: only toy1d, "
            f"ring8 and grid25 take any"
        )
    sizes = splits if splits is not None else DEFAULT_SPLITS
    if name == "digits":
        x, y = load_digits(scale=scale)
        description = (
            f"scikit-learn's 8x8 digits: {len(x):,} images, pixels scaled to "
            f"{range_text(scale)} ({scale})"
        )
        parts = _split_dict(len(x), sizes, rng)
        return _with_splits(name, x, y, (8, 8), description, parts, num_classes=10)
    if name == "mnist":
        return _mnist(data_dir, scale, splits, rng)
    if Path(name).suffix.lower() in (".npy", ".npz"):
        x, y = load_xy(name, key=key, label_key=label_key)
        if x.dtype == np.uint8:  # 8-bit pixels, by convention: scaled like MNIST's
            x = scale_pixels(x, scale)
        description = f"{len(x):,} samples of shape {x.shape[1:]} ({x.dtype}) from {name}"
        if y is not None:
            description += f", labelled ({int(y.max()) + 1} classes)"
        if x.ndim == 4 and x.shape[1] == 1:  # (N, 1, H, W): one channel, as (N, H, W)
            x = x[:, 0]
        image_shape = x.shape[1:] if x.ndim == 3 else None
        parts = _split_dict(len(x), sizes, rng)
        return _with_splits(name, x, y, image_shape, description, parts)
    if Path(name).is_dir():
        raise ValueError(
            f"dataset {name!r} is a folder: give the path of a .npy or .npz file in it, or one "
            f"of {', '.join(DATASETS)}"
        )
    raise ValueError(
        f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}, or give the path of "
        f"a .npy or .npz file"
    )
