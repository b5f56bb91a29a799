"""Shared by the data tests: the real MNIST test files, and writers of synthetic IDX files."""

import gzip
from pathlib import Path

import numpy as np
import pytest

MNIST_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
T10K_IMAGES, T10K_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"


def _idx_bytes(x: np.ndarray, *, type_code: int = 0x08, magic: int | None = None) -> bytes:
    x = np.asarray(x, np.uint8)
    magic = (type_code << 8) | x.ndim if magic is None else magic
    dims = b"".join(int(d).to_bytes(4, "big") for d in x.shape)
    return magic.to_bytes(4, "big") + dims + x.tobytes()


def _write(path: Path, raw: bytes) -> Path:
    """raw into path, gzipped when the name ends in .gz."""
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def _fake_mnist(
    folder: Path,
    *,
    n: int = 6,
    n_labels: int | None = None,
    gz: bool = True,
    split: str = "test",
    seed: int = 0,
):
    """An IDX pair of n random images and n_labels random labels; returns (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n if n_labels is None else n_labels, dtype=np.uint8)
    names = (T10K_IMAGES, T10K_LABELS) if split == "test" else (TRAIN_IMAGES, TRAIN_LABELS)
    suffix = ".gz" if gz else ""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / f"{names[0]}{suffix}", _idx_bytes(images))
    _write(folder / f"{names[1]}{suffix}", _idx_bytes(labels))
    return images, labels


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    # Fail, never skip: a missing folder means the checkout is incomplete.
    assert MNIST_DIR.is_dir(), f"the MNIST test files are missing: expected them in {MNIST_DIR}"
    return MNIST_DIR


@pytest.fixture(scope="session")
def idx_bytes():
    """idx_bytes(x, type_code=0x08, magic=None): x as the bytes of an IDX file."""
    return _idx_bytes


@pytest.fixture(scope="session")
def write():
    """write(path, raw) -> path: raw bytes into a file, gzipped if its name ends in .gz."""
    return _write


@pytest.fixture(scope="session")
def fake_mnist():
    """fake_mnist(folder, n=6, n_labels=None, gz=True, split="test"): a random IDX pair."""
    return _fake_mnist
