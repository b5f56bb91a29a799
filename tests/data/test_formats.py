"""File formats: .npy / .npz loading with and without labels, the strict IDX parser on the real
MNIST test files and on broken synthetic ones, MNIST's loader and its offline download.

Nothing here touches the network: download_mnist is exercised against file:// URLs and a
stubbed urlopen, with socket connections made to fail.
"""

import gzip
import hashlib
import socket
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from numgan.data import formats as nf

T10K_IMAGES, T10K_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message, message
    return message


# -- MNIST: the real test files ----------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_test(mnist_dir):
    return nf.load_mnist(mnist_dir)


def test_real_mnist_test_files_match_their_published_md5(mnist_dir):
    sums = dict(reversed(line.split()) for line in (mnist_dir / "MD5SUMS").read_text().splitlines())
    assert set(sums) == {f"{T10K_IMAGES}.gz", f"{T10K_LABELS}.gz"}
    for name, md5 in sums.items():
        assert hashlib.md5((mnist_dir / name).read_bytes()).hexdigest() == md5, name
        assert nf.MNIST_MD5[name] == md5, name


def test_real_mnist_test_set_parses(mnist_dir):
    images = nf.read_idx(mnist_dir / f"{T10K_IMAGES}.gz", ndim=3, item_shape=(28, 28))
    labels = nf.read_idx(mnist_dir / f"{T10K_LABELS}.gz", ndim=1)
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.uint8
    assert images.min() == 0 and images.max() == 255
    counts = np.bincount(labels, minlength=10)
    assert len(counts) == 10 and counts.sum() == 10_000 and counts.min() > 800
    assert images.flags.writeable


def test_load_mnist_says_the_folder_holds_the_test_split_only(mnist_test):
    assert list(mnist_test) == ["test"]
    images, labels = mnist_test["test"]
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)


def test_load_mnist_scales_and_refuses_a_missing_split(mnist_dir):
    x, _ = nf.load_mnist(mnist_dir, which="test", scale="tanh")["test"]
    assert x.dtype == np.float32 and x.min() == -1 and x.max() == 1
    with pytest.raises(FileNotFoundError, match="the train split .* only the test split"):
        nf.load_mnist(mnist_dir, which="train")


def test_numgan_data_names_the_folder_or_its_parent(mnist_dir, monkeypatch):
    for folder in (mnist_dir, mnist_dir.parent):  # NUMGAN_DATA/mnist/ is looked in as well
        monkeypatch.setenv("NUMGAN_DATA", str(folder))
        assert list(nf.load_mnist()) == ["test"]


# -- MNIST: synthetic IDX files, each broken one way -------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip_gzipped_or_not(tmp_path, gz, fake_mnist):
    images, labels = fake_mnist(tmp_path, gz=gz)
    got = nf.load_mnist(tmp_path)["test"]
    np.testing.assert_array_equal(got[0], images)
    np.testing.assert_array_equal(got[1], labels)


@pytest.mark.parametrize("name", [f"{T10K_IMAGES}.gz", T10K_IMAGES])
def test_idx_bad_magic_number(tmp_path, name, idx_bytes, write):
    path = write(tmp_path / name, idx_bytes(np.zeros(10, np.uint8)))  # a label file
    with pytest.raises(ValueError) as err:
        nf.read_idx(path, ndim=3, item_shape=(28, 28))
    assert str(path) in str(err.value)
    assert f"{name}: bad magic number 0x00000801, expected 0x00000803 (an IDX image file)" in str(
        err.value
    )


def test_idx_not_an_idx_file_at_all(tmp_path, write):
    path = write(tmp_path / T10K_LABELS, b"\x1f\x8b\x08\x00" + bytes(20))  # gzip, misnamed
    with pytest.raises(ValueError, match="not an IDX file .*name it .gz"):
        nf.read_idx(path, ndim=1)


def test_idx_wrong_type_code(tmp_path, idx_bytes, write):
    path = write(tmp_path / f"{T10K_LABELS}.gz", idx_bytes(np.zeros(4), type_code=0x0D))
    with pytest.raises(ValueError, match=r"0x00000D01.* type code 0x0D \(float, float32\)"):
        nf.read_idx(path, ndim=1)


def test_idx_wrong_image_dimensions(tmp_path, idx_bytes, write):
    path = write(tmp_path / f"{T10K_IMAGES}.gz", idx_bytes(np.zeros((5, 27, 28))))
    with pytest.raises(ValueError, match=f"{T10K_IMAGES}.gz: dimensions 5 x 27 x 28, expected N"):
        nf.read_idx(path, ndim=3, item_shape=(28, 28))


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_idx_truncated(tmp_path, suffix, idx_bytes, write):
    raw = idx_bytes(np.zeros((10, 28, 28)))
    path = write(tmp_path / f"{T10K_IMAGES}{suffix}", raw[:1000])
    with pytest.raises(ValueError, match=r"truncated: expected 7856 bytes, got 1000 \(a 16-byte"):
        nf.read_idx(path, ndim=3, item_shape=(28, 28))


def test_idx_truncated_header_and_trailing_data(tmp_path, idx_bytes, write):
    short = write(tmp_path / "short", idx_bytes(np.zeros((2, 28, 28)))[:10])
    with pytest.raises(ValueError, match="short: truncated: the header .* needs 16 bytes, got 10"):
        nf.read_idx(short, ndim=3)
    long = write(tmp_path / "long", idx_bytes(np.zeros(3)) + b"xy")
    with pytest.raises(ValueError, match="long: expected 11 bytes, got 13: 2 bytes of trailing"):
        nf.read_idx(long, ndim=1)


def test_idx_corrupt_gzip_stream(tmp_path, idx_bytes):
    path = tmp_path / f"{T10K_LABELS}.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100)))[:30])
    with pytest.raises(ValueError, match=f"{T10K_LABELS}.gz: corrupt or truncated gzip"):
        nf.read_idx(path, ndim=1)


def test_mnist_image_and_label_counts_must_agree(tmp_path, fake_mnist):
    fake_mnist(tmp_path, n=5, n_labels=4)
    with pytest.raises(ValueError, match=f"{T10K_IMAGES}.gz holds 5 images but .* 4 labels"):
        nf.load_mnist(tmp_path)


def test_mnist_labels_must_be_digits(tmp_path, idx_bytes, write, fake_mnist):
    fake_mnist(tmp_path)
    write(tmp_path / f"{T10K_LABELS}.gz", idx_bytes(np.full(6, 10)))
    with pytest.raises(ValueError, match="labels must be 0..9, found 10"):
        nf.load_mnist(tmp_path)


def test_mnist_missing_files_name_the_folder_and_the_files(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("the loader must never download")

    monkeypatch.setattr(urllib.request, "urlopen", no_download)
    with pytest.raises(FileNotFoundError) as err:
        nf.load_mnist(tmp_path)
    message = str(err.value)
    for needed in (str(tmp_path), "t10k-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        assert needed in message
    assert "NUMGAN_DATA" in message and "--data-dir" in message
    monkeypatch.delenv("NUMGAN_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="no folder given .* NUMGAN_DATA is not set"):
        nf.load_mnist()
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        nf.load_mnist(tmp_path / "nowhere")


def test_mnist_images_without_labels(tmp_path, fake_mnist):
    fake_mnist(tmp_path)
    (tmp_path / f"{T10K_LABELS}.gz").unlink()
    with pytest.raises(FileNotFoundError, match=f"found {T10K_IMAGES}.gz but not {T10K_LABELS}"):
        nf.load_mnist(tmp_path)


# -- download_mnist, offline -------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_download_without_a_network_fails_in_one_line(tmp_path, monkeypatch, no_network):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ConnectionError) as err:
        nf.download_mnist(tmp_path / "cache")
    message = str(err.value)
    assert "\n" not in message and "no network" in message
    assert str(tmp_path / "cache") in message and "train-images-idx3-ubyte.gz" in message
    assert not list((tmp_path / "cache").iterdir())  # no partial file left behind


def test_download_verifies_md5_from_a_local_mirror(tmp_path, mnist_dir, no_network):
    cache = nf.download_mnist(tmp_path / "cache", base_url=mnist_dir.as_uri(), which=("test",))
    assert sorted(p.name for p in cache.iterdir()) == [f"{T10K_IMAGES}.gz", f"{T10K_LABELS}.gz"]
    assert nf.load_mnist(cache)["test"][0].shape == (10_000, 28, 28)
    # Verified files are kept: a second call does not fetch (this mirror does not exist).
    nf.download_mnist(cache, base_url=(tmp_path / "gone").as_uri(), which=("test",))


def test_download_rejects_a_checksum_mismatch(tmp_path, no_network, fake_mnist):
    mirror = tmp_path / "mirror"
    fake_mnist(mirror)
    with pytest.raises(ValueError, match="has MD5 .*, expected 9fb629c4189551a2d022fa330f9573f3"):
        nf.download_mnist(tmp_path / "cache", base_url=mirror.as_uri(), which=("test",))
    assert not list((tmp_path / "cache").iterdir())


# -- load_array --------------------------------------------------------------------------------


def test_load_array_npy_and_npz(tmp_path):
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    np.save(tmp_path / "a.npy", x)
    np.testing.assert_array_equal(nf.load_array(tmp_path / "a.npy"), x)
    np.savez(tmp_path / "named.npz", labels=np.arange(10), x=x)  # "x" wins over order
    np.testing.assert_array_equal(nf.load_array(tmp_path / "named.npz"), x)
    np.savez(tmp_path / "first.npz", images=x, labels=np.arange(10))
    np.testing.assert_array_equal(nf.load_array(tmp_path / "first.npz"), x)
    np.testing.assert_array_equal(nf.load_array(tmp_path / "first.npz", key="labels"), range(10))
    with pytest.raises(ValueError, match="first.npz: no array named 'y'; it holds images, labels"):
        nf.load_array(tmp_path / "first.npz", key="y")


def save_npy(path: Path, x) -> Path:
    np.save(path, x, allow_pickle=True)
    return path


def save_bytes(path: Path, raw: bytes) -> Path:
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda p: p / "absent.npy", FileNotFoundError, "absent.npy: no such file"),
        (lambda p: p, FileNotFoundError, "is a directory"),
        (lambda p: save_bytes(p / "a.txt", b"0 1 2"), ValueError, "a.txt: expected a .npy or"),
        (
            lambda p: save_npy(p / "obj.npy", np.array({"x": 1})),
            ValueError,
            "obj.npy: holds Python objects",
        ),
        (lambda p: save_npy(p / "scalar.npy", np.float32(3)), ValueError, "a single number"),
        (lambda p: save_npy(p / "s.npy", np.array(["a", "b"])), ValueError, "s.npy: dtype <U1"),
        (lambda p: save_npy(p / "c.npy", np.ones(3, complex)), ValueError, "dtype complex128"),
        (lambda p: save_npy(p / "one.npy", np.zeros((1, 5))), ValueError, "1 sample"),
        (
            lambda p: save_npy(p / "nan.npy", np.array([[0.0, 1], [np.nan, np.inf], [2, 3]])),
            ValueError,
            "nan.npy: 2 NaN or inf values in 1 samples \\(the first is sample 1\\)",
        ),
        (
            lambda p: save_bytes(p / "junk.npy", b"hello, not an array"),
            ValueError,
            "junk.npy: not a .npy or .npz file",
        ),
    ],
)
@pytest.mark.parametrize("load", [nf.load_array, nf.load_xy])
def test_load_array_errors_name_the_file_and_the_problem(tmp_path, make, error, message, load):
    with pytest.raises(error, match=message):
        load(make(tmp_path))


def test_load_array_corrupt_files(tmp_path, write):
    np.save(tmp_path / "full.npy", np.zeros((100, 10)))
    raw = (tmp_path / "full.npy").read_bytes()
    write(tmp_path / "cut.npy", raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cut.npy: corrupt or truncated"):
        nf.load_array(tmp_path / "cut.npy")
    np.savez_compressed(tmp_path / "full.npz", x=np.random.default_rng(0).normal(size=(100, 10)))
    raw = (tmp_path / "full.npz").read_bytes()
    write(tmp_path / "cut.npz", raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cut.npz: corrupt or truncated"):
        nf.load_array(tmp_path / "cut.npz")
    np.savez(tmp_path / "empty.npz")
    with pytest.raises(ValueError, match="empty.npz: an .npz file with no arrays"):
        nf.load_array(tmp_path / "empty.npz")


# -- load_xy: samples and their labels ---------------------------------------------------------


def test_load_xy_reads_x_and_y_from_an_npz(tmp_path):
    x = np.random.default_rng(0).normal(size=(12, 2, 3)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 4, size=12).astype(np.uint8)
    np.savez(tmp_path / "xy.npz", y=y, x=x)
    got_x, got_y = nf.load_xy(tmp_path / "xy.npz")
    np.testing.assert_array_equal(got_x, x)
    assert got_x.dtype == np.float32 and got_y.dtype == np.int64
    np.testing.assert_array_equal(got_y, y)
    # load_array still reads the samples alone from the same file.
    np.testing.assert_array_equal(nf.load_array(tmp_path / "xy.npz"), x)


def test_load_xy_without_labels_gives_none(tmp_path):
    x = np.arange(20.0).reshape(10, 2)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", x=x, names=np.arange(10))  # no y: nothing taken as labels
    for name in ("x.npy", "x.npz"):
        got_x, got_y = nf.load_xy(tmp_path / name)
        np.testing.assert_array_equal(got_x, x)
        assert got_y is None, name


def test_load_xy_takes_other_names_for_the_arrays(tmp_path):
    images, classes = np.zeros((6, 3)), np.array([0, 1, 2, 2, 1, 0])
    np.savez(tmp_path / "named.npz", classes=classes, images=images)
    x, y = nf.load_xy(tmp_path / "named.npz", label_key="classes")
    np.testing.assert_array_equal(x, images)  # the first array that is not the labels
    np.testing.assert_array_equal(y, classes)
    np.savez(tmp_path / "only_y.npz", y=classes)
    x, y = nf.load_xy(tmp_path / "only_y.npz", key="y")  # y as the samples: no labels
    assert y is None and x.shape == (6,)


@pytest.mark.parametrize(
    "arrays, kwargs, message",
    [
        ({"x": np.zeros((4, 2))}, {"label_key": "t"}, r"f.npz: no label array named 't'; it"),
        ({"x": np.zeros((4, 2))}, {"key": "x", "label_key": "x"}, "both the samples and"),
        ({"y": np.arange(4)}, {}, r"holds the labels 'y' but no samples: .*np.savez\(path, x=x"),
    ],
)
def test_load_xy_asks_for_arrays_that_are_there(tmp_path, arrays, kwargs, message):
    np.savez(tmp_path / "f.npz", **arrays)
    with pytest.raises(ValueError, match=message) as err:
        nf.load_xy(tmp_path / "f.npz", **kwargs)
    one_line(err)


def test_a_npy_file_has_no_labels_to_name(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"x.npy: a .npy file holds one array.*np.savez") as err:
        nf.load_xy(tmp_path / "x.npy", label_key="y")
    one_line(err)


@pytest.mark.parametrize(
    "y, message",
    [
        (np.arange(9), r"shape \(9,\) for 10 samples"),
        (np.zeros((10, 1), np.int64), r"y.ravel\(\)"),
        (np.linspace(0, 1, 10), "integer classes, found 0.1"),
        (np.arange(10.0), r"dtype float64, expected integers: .*y.astype\(np.int64\)"),
        (np.arange(10) - 1, "must be >= 0, found -1"),
        (np.array(list("abcdeabcde")), r"dtype <U1, expected integer classes"),
    ],
)
def test_bad_labels_in_a_npz_fail_in_one_line_naming_the_file(tmp_path, y, message):
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.zeros((10, 2)), y=y)
    with pytest.raises(ValueError, match=message) as err:
        nf.load_xy(path)
    assert one_line(err).startswith(f"{path}[y]: ")
