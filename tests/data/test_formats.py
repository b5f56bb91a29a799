"""File formats: .npy / .npz loading with and without labels, the strict IDX parser on the real
MNIST test files and on broken synthetic ones, MNIST's loader and its offline download.

Nothing here touches the network: download_mnist is exercised against file:// URLs and a
stubbed urlopen, with socket connections made to fail.
"""

import gzip
import hashlib
import os
import socket
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def test_mnist_data_dir_naming_a_file_says_it_is_not_a_folder(tmp_path, fake_mnist, monkeypatch):
    fake_mnist(tmp_path)
    images = tmp_path / f"{T10K_IMAGES}.gz"
    with pytest.raises(NotADirectoryError) as err:
        nf.load_mnist(images)
    message = one_line(err)
    assert message.startswith(f"MNIST: {images} is a file, not a folder: give the folder")
    assert f"here perhaps {tmp_path}" in message
    monkeypatch.setenv("NUMGAN_DATA", str(images))
    with pytest.raises(NotADirectoryError, match=r"\(from NUMGAN_DATA\) is a file, not a folder"):
        nf.load_mnist()


def test_idx_header_claiming_terabytes_is_refused_from_the_sizes(tmp_path, write):
    dims = b"".join(d.to_bytes(4, "big") for d in (2**32 - 1, 28, 28))
    path = write(tmp_path / T10K_IMAGES, (0x0803).to_bytes(4, "big") + dims + bytes(100))
    with pytest.raises(ValueError) as err:
        nf.read_idx(path, ndim=3, item_shape=(28, 28))
    assert one_line(err) == (
        f"{path}: truncated: expected 3367254359296 bytes, got 116 (a 16-byte header + "
        f"4294967295 x 28 x 28 bytes)"
    )


def test_idx_too_large_for_memory_is_one_line(tmp_path, idx_bytes, write, monkeypatch):
    path = write(tmp_path / f"{T10K_LABELS}.gz", idx_bytes(np.zeros(10)))

    class Bomb(gzip.GzipFile):  # what a gzip bomb does when it inflates
        def read(self, size=-1):
            raise MemoryError

    monkeypatch.setattr(gzip, "open", lambda path, mode: Bomb(path, mode))
    with pytest.raises(ValueError) as err:
        nf.read_idx(path, ndim=1)
    assert one_line(err) == f"{path}: too large to load into this machine's memory"


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
    np.savez(tmp_path / "images.npz", images=x, y=np.arange(10))  # the one array but y
    np.testing.assert_array_equal(nf.load_array(tmp_path / "images.npz"), x)
    np.savez(tmp_path / "two.npz", images=x, labels=np.arange(10))
    np.testing.assert_array_equal(nf.load_array(tmp_path / "two.npz", key="images"), x)
    np.testing.assert_array_equal(nf.load_array(tmp_path / "two.npz", key="labels"), range(10))
    with pytest.raises(ValueError, match="two.npz: no array named 'y'; it holds images, labels"):
        nf.load_array(tmp_path / "two.npz", key="y")


@pytest.mark.parametrize("load", [nf.load_array, nf.load_xy])
def test_npz_with_several_arrays_none_named_x_is_refused_with_their_names(tmp_path, load):
    path = tmp_path / "several.npz"
    np.savez(path, images=np.zeros((5, 3)), labels=np.zeros((5, 2)), y=np.arange(5))
    with pytest.raises(ValueError) as err:
        load(path)
    message = one_line(err)
    assert message.startswith(f"{path}: holds the arrays images, labels and none is named x")
    assert "np.savez(path, x=" in message and "load_array(path, key=...)" in message
    assert "data-key" not in message  # no such flag: the fix is in the file or in Python


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
    with pytest.raises(ValueError, match="cut.npy: truncated, or its header is wrong: its header"):
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


# -- hostile and damaged .npy / .npz files -----------------------------------------------------


def npy_header(shape, descr="<f8") -> bytes:
    """The magic, length and header of a version 1.0 .npy file, as np.save writes them, for
    any shape: the data that should follow is up to the caller."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"  # the data starts 64-byte aligned
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def zip_of(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    return path


@pytest.mark.parametrize("load", [nf.load_array, nf.load_xy])
def test_a_header_claiming_terabytes_is_checked_against_the_file_size(tmp_path, load):
    path = save_bytes(tmp_path / "huge.npy", npy_header((10**12, 1000)) + bytes(64))
    with pytest.raises(ValueError) as err:
        load(path)  # refused from the header: nothing is allocated
    message = one_line(err)
    assert message.startswith(f"{path}: truncated, or its header is wrong: its header says")
    assert "(1000000000000, 1000) of float64" in message
    assert "8,000,000,000,000,000 bytes of data, but 64 bytes follow the 128-byte header" in message


def test_a_file_cut_inside_its_header_says_so_with_the_sizes(tmp_path):
    path = save_bytes(tmp_path / "short.npy", npy_header((10**12, 1000))[:64])
    with pytest.raises(ValueError) as err:
        nf.load_array(path)
    assert one_line(err) == (
        f"{path}: truncated, or its header is wrong: 64 bytes, fewer than the 128 its .npy "
        f"header alone takes"
    )


def test_an_npz_member_claiming_terabytes_is_checked_against_its_zip_size(tmp_path):
    path = zip_of(tmp_path / "huge.npz", {"x.npy": npy_header((10**12,)) + bytes(80)})
    with pytest.raises(ValueError) as err:
        nf.load_xy(path)
    message = one_line(err)
    assert message.startswith(f"{path}[x]: truncated, or its header is wrong")
    assert "8,000,000,000,000 bytes of data, but 80 bytes follow" in message


def test_trailing_bytes_after_the_array_mean_a_wrong_header(tmp_path):
    np.save(tmp_path / "ok.npy", np.zeros((10, 2)))
    path = save_bytes(tmp_path / "long.npy", (tmp_path / "ok.npy").read_bytes() + b"extra")
    with pytest.raises(ValueError) as err:
        nf.load_array(path)
    assert one_line(err).startswith(f"{path}: 5 bytes of trailing data (its header says shape")


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", r"an empty file \(0 bytes\): nothing was saved in it"),
        (npy_header((4, 2))[:7], "truncated: 7 bytes, not even a whole .npy header"),
        (b"\x93NUMPY\x09\x00" + bytes(120), ".npy format version 9.0, but NumPy writes 1.0"),
        (npy_header((4, 2)).replace(b"<f8", b"<q9"), "a damaged .npy header .*'<q9'"),
        (npy_header((4, 2)).replace(b"'shape'", b"'shope'"), "a damaged .npy header"),
        (npy_header("(-4, 2)") + bytes(64), r"a negative size, shape \(-4, 2\)"),
        (b"\x93NUMPY\x02\x00" + (50_000).to_bytes(4, "little") + bytes(50_000), "header of 50,000"),
        (npy_header((4,), descr="|O") + bytes(32), "holds Python objects"),
    ],
    ids=["empty", "cut-magic", "version", "descr", "keys", "negative", "long-header", "objects"],
)
def test_damaged_npy_files_fail_in_one_line_naming_the_file(tmp_path, raw, message):
    path = save_bytes(tmp_path / "bad.npy", raw)
    with pytest.raises(ValueError, match=message) as err:
        nf.load_xy(path)
    text = one_line(err)
    assert text.startswith(str(path)) and "pickle" not in text


def stored_npz(tmp_path: Path) -> bytes:
    np.savez(tmp_path / "good.npz", x=np.random.default_rng(0).normal(size=(50, 4)))
    return (tmp_path / "good.npz").read_bytes()


def set_zip_field(raw: bytes, local: int, central: int, value: bytes) -> bytes:
    """raw with value written at the given offsets of the first local and central headers."""
    raw = bytearray(raw)
    for signature, offset in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        at = raw.find(signature) + offset
        raw[at : at + len(value)] = value
    return bytes(raw)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[:-30], r"good.npz: corrupt or truncated \(the zip directory"),
        (lambda raw: raw[:500] + bytes([raw[500] ^ 0xFF]) + raw[501:], r"\[x\]: .*Bad CRC-32"),
        (lambda raw: set_zip_field(raw, 8, 10, (99).to_bytes(2, "little")), "zip method 99"),
        (lambda raw: set_zip_field(raw, 6, 8, b"\x01"), r"\[x\]: encrypted"),
        (lambda raw: b"PK\x03\x04" + bytes(100), "corrupt or truncated"),
    ],
    ids=["cut", "crc", "method", "encrypted", "junk"],
)
def test_damaged_zip_structure_fails_in_one_line_naming_the_file(tmp_path, damage, message):
    path = save_bytes(tmp_path / "good.npz", damage(stored_npz(tmp_path)))
    with pytest.raises(ValueError, match=message) as err:
        nf.load_xy(path)
    assert one_line(err).startswith(str(path))


def test_a_corrupt_deflate_stream_is_named_not_a_zlib_traceback(tmp_path):
    np.savez_compressed(tmp_path / "c.npz", x=np.random.default_rng(0).normal(size=(200, 10)))
    raw = bytearray((tmp_path / "c.npz").read_bytes())
    raw[300:340] = bytes(40)  # inside the compressed stream of x.npy
    path = save_bytes(tmp_path / "c.npz", bytes(raw))
    with pytest.raises(ValueError, match=r"c.npz\[x\]: corrupt or truncated \((zlib|BadZipFile)"):
        nf.load_xy(path)


@pytest.mark.parametrize(
    "members, message",
    [
        ({"x.npy": b"junk, not an array"}, r"\[x\]: not a .npy array"),
        ({"readme.txt": b"hello"}, "a zip file holding readme.txt, but no .npy arrays"),
        ({"x.npy": b""}, r"\[x\]: empty \(0 bytes\)"),
    ],
    ids=["junk-member", "no-arrays", "empty-member"],
)
def test_zip_files_that_np_savez_did_not_write(tmp_path, members, message):
    path = zip_of(tmp_path / "z.npz", members)
    with pytest.raises(ValueError, match=message) as err:
        nf.load_xy(path)
    assert one_line(err).startswith(str(path))


@pytest.mark.parametrize(
    "x, message",
    [
        (
            np.zeros(5, dtype=[("a", "f4"), ("b", "i4")]),
            r"dtype \[\('a', '<f4'\), \('b', '<i4'\)\]",
        ),
        (np.array([{"a": 1}, None], dtype=object), "holds Python objects"),
        (np.float64(2.0), r"a single number \(shape \(\)\)"),
        (np.zeros(4, dtype="V8"), r"dtype \|V8, expected numbers"),
    ],
    ids=["structured", "objects", "0-d", "void"],
)
def test_npz_members_of_the_wrong_kind(tmp_path, x, message):
    path = tmp_path / "k.npz"
    np.savez(path, x=x)  # an object array is pickled into the file, never out of it
    with pytest.raises(ValueError, match=message) as err:
        nf.load_xy(path)
    assert one_line(err).startswith(f"{path}[x]: ") and "pickle" not in str(err.value)


def test_empty_npz_file(tmp_path):
    path = save_bytes(tmp_path / "empty.npz", b"")
    with pytest.raises(ValueError, match="empty.npz: an empty file"):
        nf.load_array(path)


def test_values_beyond_float32_are_refused_with_the_range_found(tmp_path):
    path = tmp_path / "big.npy"
    x = np.ones((10, 3))
    x[4, 1], x[7, 2] = 1e300, -2e39
    np.save(path, x)
    with pytest.raises(ValueError) as err:
        nf.load_array(path)
    message = one_line(err)
    assert message.startswith(f"{path}: values from -2e+39 to 1e+300, beyond float32's range")
    assert "3.403e+38" in message and "rescale" in message
    np.save(path, np.full((10, 3), 3e38))  # large, but a float32 holds it
    assert nf.load_array(path).dtype == np.float64
    if np.finfo(np.longdouble).maxexp > 1024:  # x86's 80-bit long double: beyond float64 too
        np.save(path, np.full((10, 3), np.longdouble("1e4000")))
        with pytest.raises(ValueError, match="values from 1e\\+4000 to 1e\\+4000, beyond float32"):
            nf.load_array(path)


@pytest.mark.parametrize("shape", [(10, 0), (10, 3, 0)])
def test_data_without_features_is_named_as_such(tmp_path, shape):
    path = tmp_path / "empty_rows.npy"
    np.save(path, np.zeros(shape))
    with pytest.raises(ValueError) as err:
        nf.load_xy(path)
    assert one_line(err).startswith(f"{path}: zero features per sample (shape {shape})")


def test_big_endian_and_fortran_order_files_load_as_saved(tmp_path):
    x = np.arange(40, dtype=">f8").reshape(10, 4)
    np.save(tmp_path / "be.npy", x)
    np.testing.assert_array_equal(nf.load_array(tmp_path / "be.npy"), x)
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    got = nf.load_array(tmp_path / "f.npy")
    np.testing.assert_array_equal(got, x)
    assert got.flags.writeable


@given(
    which=st.sampled_from(["npy", "stored", "compressed"]),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4),
)
def test_any_damage_is_a_one_line_value_error_naming_the_file(tmp_path, which, cut, flips):
    x, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 3
    path = tmp_path / ("d.npy" if which == "npy" else "d.npz")
    if which == "npy":
        np.save(path, x)
    else:
        (np.savez if which == "stored" else np.savez_compressed)(path, x=x, y=y)
    raw = bytearray(path.read_bytes())
    for at, value in flips:
        raw[int(at * (len(raw) - 1))] = value
    path.write_bytes(bytes(raw[: max(1, round(cut * len(raw)))]))
    try:
        got_x, _ = nf.load_xy(path)
    except ValueError as err:
        message = str(err)
        assert "\n" not in message and message.startswith(str(path)), message
        assert "pickle" not in message, message
    else:
        assert got_x.shape == (20, 3)


def test_a_pipe_is_not_read(tmp_path):
    path = tmp_path / "fifo.npy"
    os.mkfifo(path)  # opening it would wait for a writer forever
    with pytest.raises(FileNotFoundError, match="fifo.npy: is not a regular file"):
        nf.load_array(path)


def test_an_unreadable_file_is_one_line_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "locked.npy"
    np.save(path, np.zeros((4, 2)))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(nf, "open", refuse, raising=False)  # as chmod 000 would, for any user
    with pytest.raises(PermissionError) as err:
        nf.load_array(path)
    assert one_line(err) == f"{path}: cannot be read (Permission denied)"
