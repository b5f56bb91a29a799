"""End to end: a bad data file or a bad checkpoint stops ``numgan`` with exit code 1 and one
line on stderr, ``numgan <command>: error: <file>: <problem>``, never a traceback."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def numgan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "numgan", *args], capture_output=True, text=True, timeout=300
    )


def one_line_error(result: subprocess.CompletedProcess, command: str, *phrases: str) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"numgan {command}: error: "), lines[0]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    assert "pickle" not in lines[0], lines[0]
    return lines[0]


def npy_header(shape) -> bytes:
    text = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}".encode()
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def corrupt_compressed(path: Path) -> Path:
    np.savez_compressed(path, x=np.random.default_rng(0).normal(size=(200, 10)))
    raw = bytearray(path.read_bytes())
    raw[300:340] = bytes(40)
    path.write_bytes(bytes(raw))
    return path


BAD_DATA = {
    "huge-header.npy": (
        lambda p: p.write_bytes(npy_header((10**12, 1000)) + bytes(64)),
        ["truncated, or its header is wrong", "8,000,000,000,000,000 bytes"],
    ),
    "several.npz": (
        lambda p: np.savez(p, images=np.zeros((5, 3)), labels=np.zeros((5, 2))),
        ["holds the arrays images, labels and none is named x", "np.savez(path, x="],
    ),
    "overflow.npy": (
        lambda p: np.save(p, np.full((10, 3), 1e300)),
        ["values from 1e+300 to 1e+300, beyond float32's range"],
    ),
    "no-features.npy": (
        lambda p: np.save(p, np.zeros((10, 0))),
        ["zero features per sample (shape (10, 0))"],
    ),
    "empty.npy": (lambda p: p.write_bytes(b""), ["an empty file (0 bytes)"]),
    "corrupt.npz": (corrupt_compressed, ["corrupt or truncated"]),
    "objects.npy": (
        lambda p: np.save(p, np.array([{"a": 1}, None], dtype=object)),
        ["holds Python objects"],
    ),
    "junk.npz": (
        lambda p: p.write_bytes(b"PK\x03\x04" + bytes(64)),  # a zip's magic, then nothing
        ["corrupt or truncated"],
    ),
}


@pytest.mark.parametrize("name", list(BAD_DATA))
def test_bad_data_files_stop_train_in_one_line(tmp_path, name):
    make, phrases = BAD_DATA[name]
    path = tmp_path / name
    make(path)
    result = numgan(
        "train", "--dataset", str(path), "--iterations", "2", "--out", str(tmp_path / "r")
    )
    one_line_error(result, "train", str(path), *phrases)
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_mnist_data_dir_naming_a_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(b"not a folder")
    result = numgan(
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        str(path),
        "--iterations",
        "2",
        "--out",
        str(tmp_path / "r"),
    )
    one_line_error(result, "train", f"{path} is a file, not a folder")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished two-iteration run, copied by each test that damages its checkpoint."""
    run = tmp_path_factory.mktemp("cli") / "run"
    result = numgan("train", "--dataset", "ring8", "--iterations", "2", "--out", str(run))
    assert result.returncode == 0, result.stderr
    return run


def damaged_run(run_dir: Path, tmp_path: Path, damage) -> tuple[Path, Path]:
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    last = run / "checkpoints" / "last.npz"
    damage(last)
    return run, last


CHECKPOINT_DAMAGE = {
    "random-bytes": (
        lambda p: p.write_bytes(bytes(range(256)) * 4),
        ["not a numgan checkpoint"],
    ),
    "truncated": (
        lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        ["not a readable checkpoint"],
    ),
    "wrong-shapes": (
        lambda p: np.savez(p, **{**dict(np.load(p)), "G/0.W": np.zeros((3, 3), np.float32)}),
        ["does not fit this model: G/0.W has shape (3, 3)"],
    ),
    "bad-rng-json": (
        lambda p: np.savez(p, **{**dict(np.load(p)), "rng": np.array("{oops")}),
        ["damaged: rng is not valid JSON"],
    ),
}


@pytest.mark.parametrize("name", list(CHECKPOINT_DAMAGE))
def test_bad_checkpoints_stop_sample_and_resume_in_one_line(run_dir, tmp_path, name):
    damage, phrases = CHECKPOINT_DAMAGE[name]
    run, last = damaged_run(run_dir, tmp_path, damage)
    before = last.read_bytes()
    result = numgan("sample", str(run), "-o", str(tmp_path / "s.npy"))
    one_line_error(result, "sample", str(last), *phrases)
    result = numgan("train", "--resume", str(run), "--iterations", "4")
    one_line_error(result, "train", str(last), *phrases)
    assert last.read_bytes() == before  # the failed resume wrote nothing over it
