"""Data sources for the trainer: anything with ``sample(m, rng) -> (m, features)``.

An array of shape (N, ...) becomes an ``ArrayData`` that draws minibatches with replacement,
each row flattened to a feature vector.  Distributions with a known density are samplers of
their own.  What is here:

    toy 1-D        Gaussian1D (the paper's Figure 1), GaussianMixture1D
    2-D mixtures   ring8(), grid25(): the mode-collapse benchmarks, GaussianMixture2D samplers
    images         load_digits() (scikit-learn's 8x8 digits), load_mnist() (the IDX files),
                   read_idx() (a strict IDX parser), download_mnist() (optional, never implicit)
    your own data  load_array() for .npy / .npz
    helpers        split() / split_indices() (seeded train / validation / test),
                   scale_pixels() (0..max -> [0, 1] or [-1, 1])
    registry       load_dataset(name_or_path) -> Dataset, what ``numgan train --dataset`` calls

Everything random takes an explicit ``numpy.random.Generator``; nothing touches the global RNG.
Nothing here reaches the network except ``download_mnist``, which runs only when called.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# -- minibatches from an array -----------------------------------------------------------------


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


# -- toy 1-D -----------------------------------------------------------------------------------


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


class GaussianMixture1D:
    """A 1-D mixture of K Gaussians (two, typically): the smallest data with two modes.

        k ~ Categorical(weights),  x | k ~ N(mus[k], sigmas[k]**2);   sample(m, rng): (m, 1)
        pdf(x) = sum_k weights[k] * N(x; mus[k], sigmas[k]**2)

    weights are relative (normalised to sum to 1); None means equal weights.
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
        if w.shape != mus_.shape or not (w >= 0).all() or not w.sum() > 0:
            raise ValueError(
                f"GaussianMixture1D: weights must be {len(mus_)} non-negative numbers, not all "
                f"zero, got {w.tolist()}"
            )
        self.mus, self.sigmas, self.weights = mus_, sigmas_, w / w.sum()

    def sample_labeled(self, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """m samples (m, 1) and the component each came from (m,)."""
        k = rng.choice(len(self.mus), size=m, p=self.weights)
        x = self.mus[k] + self.sigmas[k] * rng.standard_normal(m)
        return x[:, None], k

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
    from ``sample_labeled`` give the per-mode counts a mode-coverage metric compares against.
    """

    dim = 2

    def __init__(self, means: np.ndarray, sigma: float, *, name: str = "mixture") -> None:
        means_ = np.asarray(means, np.float64)
        if means_.ndim != 2 or means_.shape[1] != 2 or len(means_) < 1:
            raise ValueError(f"{name}: means must have shape (K, 2), got {means_.shape}")
        if not sigma > 0:
            raise ValueError(f"{name}: sigma must be positive, got {sigma!r}")
        self.means, self.sigma, self.name = means_, float(sigma), name

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


# -- pixels and splits -------------------------------------------------------------------------

SCALES = ("unit", "tanh")

#: The pixel ranges numgan trains on, named by the generator's output layer that produces
#: them: the one vocabulary for the pixel range across data, runs and figures.
PIXEL_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def scale_pixels(
    x: np.ndarray, to: str = "unit", *, max_value: float = 255.0, dtype=np.float32
) -> np.ndarray:
    """Pixel values 0..max_value -> [0, 1] or [-1, 1], as a new float array.

        to="unit":  out = x / max_value           (a Sigmoid output layer's range)
        to="tanh":  out = 2 * x / max_value - 1   (a Tanh output layer's range)

    max_value: 255 for 8-bit images (MNIST), 16 for scikit-learn's digits.
    """
    if to not in SCALES:
        raise ValueError(f"scale_pixels: to must be one of {', '.join(SCALES)}, got {to!r}")
    if not max_value > 0:
        raise ValueError(f"scale_pixels: max_value must be positive, got {max_value!r}")
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"scale_pixels: expected numeric pixels, got dtype {x.dtype}")
    if x.size and not (x.min() >= 0 and x.max() <= max_value):
        raise ValueError(
            f"scale_pixels: values span {x.min()}..{x.max()}, outside 0..{max_value}: pass the "
            f"data's max_value (255 for 8-bit images, 16 for the digits)"
        )
    out = x.astype(dtype)  # a copy, then in place: no float64 temporary of a 60000-image array
    out /= dtype(max_value)  # x == max_value gives exactly 1, so the endpoints are exact
    if to == "tanh":
        out *= 2
        out -= 1
    return out


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


# -- your own data: .npy / .npz ----------------------------------------------------------------

ARRAY_KEYS = ("x", "data", "arr_0")  # the names tried in a .npz, in this order
_NPY_MAGIC, _ZIP_MAGIC = b"\x93NUMPY", b"PK"


def _check_samples(x: np.ndarray, name: str) -> np.ndarray:
    """x must be an array (N, ...) of finite numbers with N >= 2."""
    if x.dtype.kind == "O":
        raise ValueError(f"{name}: holds Python objects (dtype object), not an array of numbers")
    if x.dtype.kind not in "fiub":
        raise ValueError(
            f"{name}: dtype {x.dtype}, expected numbers (float, int, uint or bool); "
            f"convert with x.astype(np.float32) before saving"
        )
    if x.ndim == 0:
        raise ValueError(
            f"{name}: a single number (shape ()), not an array of samples of shape (N, ...)"
        )
    if len(x) < 2:
        raise ValueError(
            f"{name}: {len(x)} sample(s) along the first axis (shape {x.shape}); "
            f"need at least two, as an array of shape (N, ...)"
        )
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x.reshape(len(x), -1))
        if bad.any():
            rows = np.flatnonzero(bad.any(1))
            raise ValueError(
                f"{name}: {int(bad.sum())} NaN or inf values in {len(rows)} samples (the first "
                f"is sample {rows[0]}): clean or drop those samples"
            )
    return x


def load_array(path: str | os.PathLike, *, key: str | None = None) -> np.ndarray:
    """An array of samples (N, ...) from a .npy or .npz file, validated, dtype as saved.

    .npz: the array named ``key``, else the first of x, data, arr_0 present, else the first
    array in the file.  Raises FileNotFoundError if the file is missing and ValueError, naming
    the file and the problem, if it is corrupt, not numeric, holds NaN/inf or fewer than two
    samples.  Never unpickles (allow_pickle=False): a data file cannot run code.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "no such file"
        raise FileNotFoundError(f"{path}: {what}")
    if path.suffix.lower() not in (".npy", ".npz"):
        raise ValueError(f"{path}: expected a .npy or .npz file, got {path.suffix or 'no suffix'}")
    with open(path, "rb") as f:
        head = f.read(6)
    if not (head.startswith(_NPY_MAGIC) or head.startswith(_ZIP_MAGIC)):
        raise ValueError(
            f"{path}: not a .npy or .npz file (it does not start with NumPy's or zip's magic "
            f"bytes): corrupt, or saved by something other than np.save / np.savez"
        )

    def problem(err: Exception) -> ValueError:
        if "pickle" in str(err) or "Object arrays" in str(err):
            return ValueError(
                f"{path}: holds Python objects (dtype object), not an array of numbers"
            )
        return ValueError(f"{path}: corrupt or truncated ({type(err).__name__}: {err})")

    readable = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)
    try:
        loaded = np.load(path, allow_pickle=False)
    except readable as err:
        raise problem(err) from err
    if isinstance(loaded, np.ndarray):
        return _check_samples(loaded, str(path))
    with loaded as npz:
        names = list(npz.files)
        if not names:
            raise ValueError(f"{path}: an .npz file with no arrays in it")
        if key is not None and key not in names:
            raise ValueError(f"{path}: no array named {key!r}; it holds {', '.join(names)}")
        chosen = key or next((k for k in ARRAY_KEYS if k in names), names[0])
        try:
            x = npz[chosen]  # members load lazily: a damaged member fails here, not in np.load
        except readable as err:
            raise problem(err) from err
    return _check_samples(x, f"{path}[{chosen}]")


# -- scikit-learn's 8x8 digits -----------------------------------------------------------------


def load_digits(*, scale: str | None = "unit") -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled handwritten digits (no download): 1797 images of 8 x 8.

    -> images (1797, 8, 8), labels (1797,) int64 in 0..9.  Pixels are 0..16; scale "unit" maps
    them to [0, 1], "tanh" to [-1, 1] (float32), None keeps the raw values (uint8).
    Needs scikit-learn, an optional dependency (the "data" extra).
    """
    if scale is not None and scale not in SCALES:
        raise ValueError(f"load_digits: scale must be unit, tanh or None, got {scale!r}")
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


# -- MNIST: the IDX files ----------------------------------------------------------------------

IDX_TYPES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short, int16",
    0x0C: "int, int32",
    0x0D: "float, float32",
    0x0E: "double, float64",
}
_IDX_KINDS = {1: "an IDX label file", 3: "an IDX image file"}


def _read_maybe_gzipped(path: Path) -> bytes:
    """The file's bytes, decompressed when its name ends in .gz."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise ValueError(f"{path}: corrupt or truncated gzip file ({err})") from err


def read_idx(
    path: str | os.PathLike, *, ndim: int | None = None, item_shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """One IDX file (gzipped if its name ends in .gz), strictly checked -> uint8 array (dims).

    The format (big-endian):  magic = 0x00 0x00 <type code> <ndim>,  then ndim uint32 sizes,
    then prod(sizes) values.  Only type code 0x08 (unsigned byte) is accepted: MNIST's.
    ndim:        the number of dimensions expected (3 for images, 1 for labels), so the magic
                 number must be 0x00000803 or 0x00000801
    item_shape:  the sizes after the first, e.g. (28, 28) for MNIST images
    The file's length must be exactly header + prod(sizes).  Every error names the file.
    """
    path = Path(path)
    raw = _read_maybe_gzipped(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated: {len(raw)} bytes, not even a 4-byte magic number")
    magic = int.from_bytes(raw[:4], "big")
    zeros, type_code, nd = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    problems = []
    if zeros != 0:
        hint = " (it starts like a gzip stream: name it .gz)" if raw[:2] == b"\x1f\x8b" else ""
        problems.append(f"the first two bytes must be zero: not an IDX file{hint}")
    else:
        if type_code != 0x08:
            kind = IDX_TYPES.get(type_code, "not a valid IDX type")
            problems.append(
                f"type code 0x{type_code:02X} ({kind}), only 0x08 (unsigned byte) is supported"
            )
        if ndim is not None and nd != ndim:
            kind = f" (this looks like {_IDX_KINDS[nd]})" if nd in _IDX_KINDS else ""
            plural = "" if nd == 1 else "s"
            problems.append(f"{nd} dimension{plural}, expected {ndim}{kind}")
    if problems:
        expected = f", expected 0x{0x0800 | ndim:08X}" if ndim is not None else ""
        kind = f" ({_IDX_KINDS.get(ndim, f'an IDX file of {ndim} dimensions')})" if expected else ""
        raise ValueError(
            f"{path}: bad magic number 0x{magic:08X}{expected}{kind}: {'; '.join(problems)}"
        )
    header = 4 + 4 * nd
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated: the header of {nd} dimensions needs {header} bytes, got {len(raw)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=nd, offset=4))
    if item_shape is not None and dims[1:] != tuple(item_shape):
        shown = " x ".join(str(d) for d in dims)
        want = " x ".join(["N", *(str(d) for d in item_shape)])
        raise ValueError(f"{path}: dimensions {shown}, expected {want}")
    size = header + int(np.prod(dims, dtype=object))  # Python ints: a corrupt size can't overflow
    if len(raw) != size:
        layout = f"a {header}-byte header + {' x '.join(str(d) for d in dims)} bytes"
        layout += ", decompressed" if path.suffix == ".gz" else ""
        if len(raw) < size:
            raise ValueError(f"{path}: truncated: expected {size} bytes, got {len(raw)} ({layout})")
        raise ValueError(
            f"{path}: expected {size} bytes, got {len(raw)}: {len(raw) - size} bytes of trailing "
            f"data ({layout})"
        )
    # Copied so that the array is writable and does not pin the whole file's bytes.
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims).copy()


MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_MD5 = {  # the published checksums of the gzipped files
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaceecde7f28bcbbc8a3da",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# A mirror of http://yann.lecun.com/exdb/mnist/ (which now often refuses downloads); any
# mirror of the original files works, the checksums decide.
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
DATA_ENV = "NUMGAN_DATA"

_MNIST_NAMES = ", ".join(f"{n}[.gz]" for pair in MNIST_FILES.values() for n in pair)


def _mnist_missing(message: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"MNIST: {message}. Expected a folder holding the IDX files {_MNIST_NAMES} (the "
        f"training split, the test split or both): pass it as data_dir=, or set {DATA_ENV} "
        f"(the CLI: --data-dir) to it; numgan.data.download_mnist(folder) fetches the files "
        f"if you are online"
    )


def _find_mnist(data_dir: str | os.PathLike | None) -> tuple[Path, dict[str, tuple[Path, Path]]]:
    """The folder holding the MNIST files and, per split found, its (images, labels) paths."""
    if data_dir is None:
        env = os.environ.get(DATA_ENV)
        if not env:
            raise _mnist_missing(f"no folder given (data_dir=...) and {DATA_ENV} is not set")
        root, source = Path(env), f" (from {DATA_ENV})"
    else:
        root, source = Path(data_dir), ""
    if not root.is_dir():
        raise _mnist_missing(f"the folder {root}{source} does not exist")

    def find(folder: Path, base: str) -> Path | None:
        # The uncompressed file first: it reads faster.
        return next((p for p in (folder / base, folder / f"{base}.gz") if p.is_file()), None)

    # NUMGAN_DATA may name the MNIST folder itself or a data folder with an mnist/ inside.
    searched = [root, root / "mnist"]
    for folder in searched:
        found = {}
        for split_name, (images, labels) in MNIST_FILES.items():
            pair = find(folder, images), find(folder, labels)
            if pair == (None, None):
                continue
            if None in pair:
                have, lacking = (pair[0], labels) if pair[1] is None else (pair[1], images)
                raise _mnist_missing(f"found {have.name} but not {lacking}[.gz] in {folder}")
            found[split_name] = pair
        if found:
            return folder, found
    raise _mnist_missing(
        f"no MNIST files in {' or '.join(str(f) for f in searched if f.is_dir())}{source}"
    )


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    which: str | None = None,
    scale: str | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """MNIST from the original IDX files: {split: (images (N, 28, 28), labels (N,) uint8)}.

    data_dir:  the folder with the files (or a folder with an mnist/ inside); default: the
               environment variable NUMGAN_DATA.  Nothing is downloaded: see download_mnist.
    which:     "train" or "test" to require that split; None loads whichever are there, so the
               keys of the result say which split a folder held (the test set alone: {"test"}).
    scale:     None keeps the uint8 pixels 0..255; "unit" / "tanh" gives float32 in [0, 1] /
               [-1, 1] (see scale_pixels).
    """
    return _load_mnist(data_dir, which, scale)[1]


def _load_mnist(
    data_dir: str | os.PathLike | None, which: str | None, scale: str | None
) -> tuple[Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """load_mnist, and the folder the files came from."""
    if which is not None and which not in MNIST_FILES:
        raise ValueError(f"load_mnist: which must be train, test or None, got {which!r}")
    if scale is not None and scale not in SCALES:
        raise ValueError(f"load_mnist: scale must be unit, tanh or None, got {scale!r}")
    folder, found = _find_mnist(data_dir)
    if which is not None:
        if which not in found:
            raise _mnist_missing(
                f"the {which} split ({', '.join(MNIST_FILES[which])}) is not in {folder}, "
                f"only the {', '.join(found)} split"
            )
        found = {which: found[which]}
    out = {}
    for split_name, (images_path, labels_path) in found.items():
        images = read_idx(images_path, ndim=3, item_shape=(28, 28))
        labels = read_idx(labels_path, ndim=1)
        if len(images) != len(labels):
            raise ValueError(
                f"MNIST {split_name}: {images_path.name} holds {len(images)} images but "
                f"{labels_path.name} holds {len(labels)} labels"
            )
        if len(images) == 0:
            raise ValueError(f"MNIST {split_name}: {images_path} holds no images")
        if labels.max() > 9:
            raise ValueError(f"{labels_path}: labels must be 0..9, found {int(labels.max())}")
        out[split_name] = (images if scale is None else scale_pixels(images, scale), labels)
    return folder, out


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_mnist(
    cache_dir: str | os.PathLike,
    *,
    base_url: str = MNIST_URL,
    which: Sequence[str] = ("train", "test"),
    timeout: float = 30.0,
) -> Path:
    """Fetch the gzipped MNIST files into cache_dir, checking each against its published MD5.

    Runs only when called (no loader calls it).  Files already there with the right MD5 are
    kept.  A failed fetch raises ConnectionError with one line saying where to put the files by
    hand; a checksum mismatch deletes the download and raises ValueError.  Returns cache_dir.
    """
    import urllib.error  # here, not at the top: importing numgan must not load the HTTP stack
    import urllib.request

    unknown = [w for w in which if w not in MNIST_FILES]
    if unknown:
        raise ValueError(f"download_mnist: which must name train and/or test, got {unknown}")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    names = [f"{base}.gz" for split_name in which for base in MNIST_FILES[split_name]]
    for name in names:
        target, expected = cache / name, MNIST_MD5[name]
        if target.is_file() and _md5(target) == expected:
            continue
        url = base_url.rstrip("/") + "/" + name
        partial = cache / f"{name}.part"  # renamed only once verified: no half file is ever used
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                with open(partial, "wb") as f:
                    shutil.copyfileobj(response, f)
        except (urllib.error.URLError, OSError, ValueError) as err:
            partial.unlink(missing_ok=True)
            reason = getattr(err, "reason", err)
            raise ConnectionError(
                f"download_mnist: could not fetch {url} ({reason}); without a network, copy "
                f"{', '.join(names)} into {cache} (or any folder, then set {DATA_ENV} or "
                f"--data-dir to it)"
            ) from None
        got = _md5(partial)
        if got != expected:
            partial.unlink()
            raise ValueError(
                f"download_mnist: {url} has MD5 {got}, expected {expected} (the published "
                f"checksum): deleted it; try another base_url"
            )
        partial.replace(target)
    return cache


# -- the registry ------------------------------------------------------------------------------

DATASETS = ("toy1d", "ring8", "grid25", "digits", "mnist")
DEFAULT_SPLITS = (0.8, 0.1, 0.1)


@dataclass(repr=False, eq=False)
class Dataset:
    """What ``load_dataset`` returns: the samples and what is known about them.

    name:         the registry name ("ring8", "mnist", ...) or the file's path
    samples:      a float array (N, ...) or, for the toy and 2-D data, a sampler with
                  sample(m, rng) and dim (such data is unlimited, and has no splits)
    labels:       (N,) class labels (digits, MNIST), else None
    image_shape:  (H, W) for images, e.g. (28, 28) or (8, 8), else None
    means, sigma: the mode centres (K, 2) and their standard deviation for ring8 / grid25
    splits:       "train", "validation", "test" -> sorted row indices into samples
    description:  one line on what was loaded (for MNIST: which split, from where)

    A Dataset is itself a data source for Trainer: sample(m, rng) draws from the training
    split (with replacement, rows flattened to dim features) or from the sampler.
    """

    name: str
    samples: np.ndarray | object
    description: str
    labels: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    means: np.ndarray | None = None
    sigma: float | None = None
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    _train_data: ArrayData | None = field(default=None, init=False)

    @property
    def is_sampler(self) -> bool:
        return not isinstance(self.samples, np.ndarray)

    @property
    def dim(self) -> int:
        """Features per sample: what G outputs and D takes in."""
        if self.is_sampler:
            return int(self.samples.dim)
        return int(np.prod(self.samples.shape[1:], dtype=np.int64))

    def part(self, name: str) -> np.ndarray:
        """The samples of one split: "train", "validation" or "test"."""
        if self.is_sampler:
            raise ValueError(
                f"{self.name} is a distribution, with no fixed samples to split: draw from it "
                f"with sample(m, rng)"
            )
        if name not in self.splits:
            raise ValueError(f"{self.name}: no split {name!r}; it has {', '.join(self.splits)}")
        return self.samples[self.splits[name]]

    @property
    def train(self) -> np.ndarray:
        return self.part("train")

    @property
    def validation(self) -> np.ndarray:
        return self.part("validation")

    @property
    def test(self) -> np.ndarray:
        return self.part("test")

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """m training samples, (m, dim): from the sampler, or rows of the training split."""
        if self.is_sampler:
            return self.samples.sample(m, rng)
        if self._train_data is None:  # built on first use: it holds a flattened copy
            self._train_data = ArrayData(self.train, name=f"{self.name} (train split)")
        return self._train_data.sample(m, rng)

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
) -> Dataset:
    return Dataset(
        name=name,
        samples=x,
        labels=labels,
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
        return _with_splits("mnist", x, y, (28, 28), description, _split_dict(n, sizes, rng))
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
    return _with_splits("mnist", x, y, (28, 28), description, parts)


def load_dataset(
    name_or_path: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    rng: np.random.Generator | None = None,
    scale: str = "unit",
    splits: Sequence[float] | None = None,
    key: str | None = None,
    **options,
) -> Dataset:
    """A dataset by name ("toy1d", "ring8", "grid25", "digits", "mnist") or a .npy/.npz path.

    data_dir:  MNIST's folder (default: $NUMGAN_DATA)
    rng:       draws the split permutation; default np.random.default_rng(0), so the split is
               the same every run unless you pass another Generator
    scale:     "unit" ([0, 1]) or "tanh" ([-1, 1]) for pixel data: digits, MNIST, and uint8
               arrays from a file (other arrays are left as saved)
    splits:    three fractions or sizes (train, validation, test) over all the samples; default
               (0.8, 0.1, 0.1), except MNIST: with both files, the official 10,000 test images
               are the test split and 10,000 training images (seeded) the validation split;
               with one file alone (the test set: 8,000 / 1,000 / 1,000), 80 / 10 / 10 %
    key:       which array of a .npz (see load_array)
    options:   passed to the distribution: toy1d takes mu, sigma; ring8 radius, sigma;
               grid25 spacing, sigma
    """
    if scale not in SCALES:
        raise ValueError(f"load_dataset: scale must be unit or tanh, got {scale!r}")
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
        description = f"scikit-learn's 8x8 digits: {len(x):,} images, pixels scaled to {scale}"
        return _with_splits(name, x, y, (8, 8), description, _split_dict(len(x), sizes, rng))
    if name == "mnist":
        return _mnist(data_dir, scale, splits, rng)
    if Path(name).suffix.lower() in (".npy", ".npz"):
        x = load_array(name, key=key)
        if x.dtype == np.uint8:  # 8-bit pixels, by convention: scaled like MNIST's
            x = scale_pixels(x, scale)
        description = f"{len(x):,} samples of shape {x.shape[1:]} ({x.dtype}) from {name}"
        image_shape = x.shape[1:] if x.ndim == 3 else None
        return _with_splits(
            name, x, None, image_shape, description, _split_dict(len(x), sizes, rng)
        )
    raise ValueError(
        f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}, or give the path of "
        f"a .npy or .npz file"
    )
