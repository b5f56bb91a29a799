"""Datasets: the samplers' modes and statistics, the strict IDX parser on the real MNIST test
files and on broken synthetic ones, digits, .npy/.npz loading, splits, scaling, the registry.

Nothing here touches the network: download_mnist is exercised against file:// URLs and a
stubbed urlopen, with socket connections made to fail.
"""

import gzip
import hashlib
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import numgan as ng
from numgan.data import datasets as nd

MNIST_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
T10K_IMAGES, T10K_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def trapezoid(y: np.ndarray, t: np.ndarray, axis: int = -1) -> np.ndarray:
    """The trapezoid rule on an even grid t (NumPy 1.x lacks numpy.trapezoid)."""
    y = np.moveaxis(y, axis, -1)
    return (y[..., 1:] + y[..., :-1]).sum(-1) * (t[1] - t[0]) / 2


def z_bound(sd: float) -> float:
    """The tolerance for an estimate with standard error sd: five of them (p ~ 6e-7 per check)."""
    return 5 * sd


# -- toy 1-D -----------------------------------------------------------------------------------


def test_gaussian1d_is_unchanged():
    g = ng.Gaussian1D(4.0, 0.5)
    assert g.dim == 1 and nd.Gaussian1D is ng.Gaussian1D
    x = g.sample(1000, np.random.default_rng(0))
    assert x.shape == (1000, 1)
    np.testing.assert_array_equal(x, np.random.default_rng(0).normal(4.0, 0.5, size=(1000, 1)))
    assert g.pdf(np.array(4.0)) == pytest.approx(1 / (0.5 * np.sqrt(2 * np.pi)))


def test_mixture1d_components_have_their_weights_means_and_stds():
    mix = nd.GaussianMixture1D(mus=(-2.0, 3.0), sigmas=(0.5, 1.0), weights=(0.3, 0.7))
    m = 50_000
    x, k = mix.sample_labeled(m, np.random.default_rng(1))
    assert x.shape == (m, 1) and mix.dim == 1
    for j in range(2):
        w, mu, sigma = mix.weights[j], mix.mus[j], mix.sigmas[j]
        n = (k == j).sum()
        assert abs(n - m * w) < z_bound(np.sqrt(m * w * (1 - w)))
        xs = x[k == j, 0]
        assert abs(xs.mean() - mu) < z_bound(sigma / np.sqrt(n))
        assert abs(xs.std() - sigma) < z_bound(sigma / np.sqrt(2 * n))


def test_mixture1d_pdf_is_the_weighted_sum_and_integrates_to_one():
    mix = nd.GaussianMixture1D((-2.0, 3.0), (0.5, 1.0), (1.0, 3.0))  # relative weights
    np.testing.assert_allclose(mix.weights, [0.25, 0.75])
    t = np.linspace(-10, 12, 20_001)
    parts = [nd.Gaussian1D(mu, s).pdf(t) for mu, s in zip(mix.mus, mix.sigmas, strict=True)]
    np.testing.assert_allclose(mix.pdf(t), 0.25 * parts[0] + 0.75 * parts[1], rtol=1e-12)
    assert trapezoid(mix.pdf(t), t) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mus": (0.0, 1.0), "sigmas": (1.0,)},
        {"mus": (0.0, 1.0), "sigmas": (1.0, 0.0)},
        {"mus": (0.0, 1.0), "sigmas": (1.0, 1.0), "weights": (1.0, -1.0)},
        {"mus": (0.0, 1.0), "sigmas": (1.0, 1.0), "weights": (0.0, 0.0)},
    ],
)
def test_mixture1d_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError, match="GaussianMixture1D"):
        nd.GaussianMixture1D(**kwargs)


# -- 2-D mixtures ------------------------------------------------------------------------------


def distinct_and_equally_spaced_on_circle(means: np.ndarray, n: int) -> bool:
    """n distinct points at radius 1 whose sorted angles step by exactly 2 pi / n, wrap included."""
    if len(np.unique(means.round(9), axis=0)) != n:
        return False
    t = np.sort(np.mod(np.arctan2(means[:, 1], means[:, 0]), 2 * np.pi))
    gaps = np.diff(np.append(t, t[0] + 2 * np.pi))
    radii = np.hypot(means[:, 0], means[:, 1])
    return bool(np.allclose(gaps, 2 * np.pi / n, atol=1e-12) and np.allclose(radii, 1.0))


def test_ring8_has_8_distinct_equally_spaced_means():
    r = nd.ring8()
    assert r.means.shape == (8, 2) and r.dim == 2 and r.sigma == 0.01
    assert distinct_and_equally_spaced_on_circle(r.means, 8)
    np.testing.assert_allclose(r.means[0], [1.0, 0.0])  # angle 2 pi i / 8 from i = 0


def test_the_circle_check_catches_the_linspace_bug():
    # The negative control: linspace(0, 2 pi, 8) repeats angle 0 as 2 pi, leaving 7 modes.
    t = np.linspace(0, 2 * np.pi, 8)
    assert not distinct_and_equally_spaced_on_circle(np.stack([np.cos(t), np.sin(t)], 1), 8)


def test_grid25_has_the_25_means_of_the_grid():
    g = nd.grid25()
    assert g.means.shape == (25, 2) and g.dim == 2 and g.sigma == 0.05
    expected = {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(p) for p in g.means.tolist()} == expected


@pytest.mark.parametrize("make, m", [(nd.ring8, 80_000), (nd.grid25, 100_000)])
def test_each_mode_gets_its_share_of_samples_with_its_mean_and_sigma(make, m):
    mix = make()
    K, sigma = len(mix.means), mix.sigma
    x, k = mix.sample_labeled(m, np.random.default_rng(2))
    assert x.shape == (m, 2)
    # Every sample sits nearest the mode it was drawn from (the modes are > 38 sigma apart).
    nearest = ((x[:, None, :] - mix.means[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(nearest, k)
    p = 1 / K
    for j in range(K):
        xs = x[k == j]
        n = len(xs)
        assert abs(n - m * p) < z_bound(np.sqrt(m * p * (1 - p))), j
        assert np.all(np.abs(xs.mean(0) - mix.means[j]) < z_bound(sigma / np.sqrt(n))), j
        assert np.all(np.abs(xs.std(0) - sigma) < z_bound(sigma / np.sqrt(2 * n))), j


def test_mixture2d_pdf_integrates_to_one_and_peaks_at_the_means():
    mix = nd.ring8(sigma=0.1)
    t = np.linspace(-2, 2, 801)
    X, Y = np.meshgrid(t, t)
    p = mix.pdf(np.stack([X.ravel(), Y.ravel()], 1)).reshape(X.shape)
    assert trapezoid(trapezoid(p, t, axis=1), t) == pytest.approx(1.0, abs=1e-6)
    peak = 1 / (8 * 2 * np.pi * 0.01)  # one mode's height; the others are ~ e^-29 away
    np.testing.assert_allclose(mix.pdf(mix.means), peak, rtol=1e-9)


@pytest.mark.parametrize(
    "make",
    [
        nd.ring8,
        nd.grid25,
        ng.Gaussian1D,
        lambda: nd.GaussianMixture1D((0.0, 5.0), (1.0, 1.0)),
    ],
)
def test_samplers_are_reproducible_from_the_generator(make):
    s = make()
    a = s.sample(500, np.random.default_rng(7))
    b = s.sample(500, np.random.default_rng(7))
    c = s.sample(500, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# -- MNIST: the real test files ----------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_dir() -> Path:
    # Fail, never skip: a missing folder means the checkout is incomplete.
    assert MNIST_DIR.is_dir(), f"the MNIST test files are missing: expected them in {MNIST_DIR}"
    return MNIST_DIR


@pytest.fixture(scope="module")
def mnist_test(mnist_dir):
    return nd.load_mnist(mnist_dir)


def test_real_mnist_test_files_match_their_published_md5(mnist_dir):
    sums = dict(reversed(line.split()) for line in (mnist_dir / "MD5SUMS").read_text().splitlines())
    assert set(sums) == {f"{T10K_IMAGES}.gz", f"{T10K_LABELS}.gz"}
    for name, md5 in sums.items():
        assert hashlib.md5((mnist_dir / name).read_bytes()).hexdigest() == md5, name
        assert nd.MNIST_MD5[name] == md5, name


def test_real_mnist_test_set_parses(mnist_dir):
    images = nd.read_idx(mnist_dir / f"{T10K_IMAGES}.gz", ndim=3, item_shape=(28, 28))
    labels = nd.read_idx(mnist_dir / f"{T10K_LABELS}.gz", ndim=1)
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
    x, _ = nd.load_mnist(mnist_dir, which="test", scale="tanh")["test"]
    assert x.dtype == np.float32 and x.min() == -1 and x.max() == 1
    with pytest.raises(FileNotFoundError, match="the train split .* only the test split"):
        nd.load_mnist(mnist_dir, which="train")


def test_mnist_dataset_splits_the_test_set_8000_1000_1000(mnist_dir):
    ds = nd.load_dataset("mnist", data_dir=mnist_dir, rng=np.random.default_rng(0))
    assert "test split only" in ds.description and str(mnist_dir) in ds.description
    assert ds.image_shape == (28, 28) and ds.dim == 784
    assert ds.samples.dtype == np.float32 and ds.samples.min() == 0 and ds.samples.max() == 1
    assert [len(ds.splits[s]) for s in ("train", "validation", "test")] == [8000, 1000, 1000]
    all_idx = np.concatenate(list(ds.splits.values()))
    assert len(np.unique(all_idx)) == 10_000
    assert ds.train.shape == (8000, 28, 28) and ds.labels.shape == (10_000,)
    again = nd.load_dataset("mnist", data_dir=mnist_dir, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again.splits["validation"], ds.splits["validation"])
    assert ds.sample(5, np.random.default_rng(0)).shape == (5, 784)


def test_numgan_data_names_the_folder_or_its_parent(mnist_dir, monkeypatch):
    for folder in (mnist_dir, mnist_dir.parent):  # NUMGAN_DATA/mnist/ is looked in as well
        monkeypatch.setenv("NUMGAN_DATA", str(folder))
        assert list(nd.load_mnist()) == ["test"]


# -- MNIST: synthetic IDX files, each broken one way -------------------------------------------


def idx_bytes(x: np.ndarray, *, type_code: int = 0x08, magic: int | None = None) -> bytes:
    x = np.asarray(x, np.uint8)
    magic = (type_code << 8) | x.ndim if magic is None else magic
    dims = b"".join(int(d).to_bytes(4, "big") for d in x.shape)
    return magic.to_bytes(4, "big") + dims + x.tobytes()


def write(path: Path, raw: bytes) -> Path:
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def fake_mnist(folder: Path, *, n: int = 6, n_labels: int | None = None, gz: bool = True):
    """A t10k pair of n random images and n_labels labels; returns (images, labels)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n if n_labels is None else n_labels, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / f"{T10K_IMAGES}{suffix}", idx_bytes(images))
    write(folder / f"{T10K_LABELS}{suffix}", idx_bytes(labels))
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip_gzipped_or_not(tmp_path, gz):
    images, labels = fake_mnist(tmp_path, gz=gz)
    got = nd.load_mnist(tmp_path)["test"]
    np.testing.assert_array_equal(got[0], images)
    np.testing.assert_array_equal(got[1], labels)


@pytest.mark.parametrize("name", [f"{T10K_IMAGES}.gz", T10K_IMAGES])
def test_idx_bad_magic_number(tmp_path, name):
    path = write(tmp_path / name, idx_bytes(np.zeros(10, np.uint8)))  # a label file
    with pytest.raises(ValueError) as err:
        nd.read_idx(path, ndim=3, item_shape=(28, 28))
    assert str(path) in str(err.value)
    assert f"{name}: bad magic number 0x00000801, expected 0x00000803 (an IDX image file)" in str(
        err.value
    )


def test_idx_not_an_idx_file_at_all(tmp_path):
    path = write(tmp_path / T10K_LABELS, b"\x1f\x8b\x08\x00" + bytes(20))  # gzip, misnamed
    with pytest.raises(ValueError, match="not an IDX file .*name it .gz"):
        nd.read_idx(path, ndim=1)


def test_idx_wrong_type_code(tmp_path):
    path = write(tmp_path / f"{T10K_LABELS}.gz", idx_bytes(np.zeros(4), type_code=0x0D))
    with pytest.raises(ValueError, match=r"0x00000D01.* type code 0x0D \(float, float32\)"):
        nd.read_idx(path, ndim=1)


def test_idx_wrong_image_dimensions(tmp_path):
    path = write(tmp_path / f"{T10K_IMAGES}.gz", idx_bytes(np.zeros((5, 27, 28))))
    with pytest.raises(ValueError, match=f"{T10K_IMAGES}.gz: dimensions 5 x 27 x 28, expected N"):
        nd.read_idx(path, ndim=3, item_shape=(28, 28))


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_idx_truncated(tmp_path, suffix):
    raw = idx_bytes(np.zeros((10, 28, 28)))
    path = write(tmp_path / f"{T10K_IMAGES}{suffix}", raw[:1000])
    with pytest.raises(ValueError, match=r"truncated: expected 7856 bytes, got 1000 \(a 16-byte"):
        nd.read_idx(path, ndim=3, item_shape=(28, 28))


def test_idx_truncated_header_and_trailing_data(tmp_path):
    short = write(tmp_path / "short", idx_bytes(np.zeros((2, 28, 28)))[:10])
    with pytest.raises(ValueError, match="short: truncated: the header .* needs 16 bytes, got 10"):
        nd.read_idx(short, ndim=3)
    long = write(tmp_path / "long", idx_bytes(np.zeros(3)) + b"xy")
    with pytest.raises(ValueError, match="long: expected 11 bytes, got 13: 2 bytes of trailing"):
        nd.read_idx(long, ndim=1)


def test_idx_corrupt_gzip_stream(tmp_path):
    path = tmp_path / f"{T10K_LABELS}.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100)))[:30])
    with pytest.raises(ValueError, match=f"{T10K_LABELS}.gz: corrupt or truncated gzip"):
        nd.read_idx(path, ndim=1)


def test_mnist_image_and_label_counts_must_agree(tmp_path):
    fake_mnist(tmp_path, n=5, n_labels=4)
    with pytest.raises(ValueError, match=f"{T10K_IMAGES}.gz holds 5 images but .* 4 labels"):
        nd.load_mnist(tmp_path)


def test_mnist_labels_must_be_digits(tmp_path):
    fake_mnist(tmp_path)
    write(tmp_path / f"{T10K_LABELS}.gz", idx_bytes(np.full(6, 10)))
    with pytest.raises(ValueError, match="labels must be 0..9, found 10"):
        nd.load_mnist(tmp_path)


def test_mnist_missing_files_name_the_folder_and_the_files(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("the loader must never download")

    monkeypatch.setattr(urllib.request, "urlopen", no_download)
    with pytest.raises(FileNotFoundError) as err:
        nd.load_mnist(tmp_path)
    message = str(err.value)
    for needed in (str(tmp_path), "t10k-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        assert needed in message
    assert "NUMGAN_DATA" in message and "--data-dir" in message
    monkeypatch.delenv("NUMGAN_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="no folder given .* NUMGAN_DATA is not set"):
        nd.load_mnist()
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        nd.load_dataset("mnist", data_dir=tmp_path / "nowhere")


def test_mnist_images_without_labels(tmp_path):
    fake_mnist(tmp_path)
    (tmp_path / f"{T10K_LABELS}.gz").unlink()
    with pytest.raises(FileNotFoundError, match=f"found {T10K_IMAGES}.gz but not {T10K_LABELS}"):
        nd.load_mnist(tmp_path)


def test_mnist_with_both_splits_keeps_the_official_test_set(tmp_path):
    fake_mnist(tmp_path, n=6)
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(train))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(rng.integers(0, 10, 60)))
    ds = nd.load_dataset("mnist", data_dir=tmp_path)
    assert "train and test" in ds.description and len(ds.samples) == 66
    np.testing.assert_array_equal(ds.splits["test"], np.arange(60, 66))
    assert len(ds.splits["train"]) == 50 and len(ds.splits["validation"]) == 10
    assert np.intersect1d(ds.splits["train"], ds.splits["validation"]).size == 0
    np.testing.assert_array_equal(ds.samples[:60], nd.scale_pixels(train))


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
        nd.download_mnist(tmp_path / "cache")
    message = str(err.value)
    assert "\n" not in message and "no network" in message
    assert str(tmp_path / "cache") in message and "train-images-idx3-ubyte.gz" in message
    assert not list((tmp_path / "cache").iterdir())  # no partial file left behind


def test_download_verifies_md5_from_a_local_mirror(tmp_path, mnist_dir, no_network):
    cache = nd.download_mnist(tmp_path / "cache", base_url=mnist_dir.as_uri(), which=("test",))
    assert sorted(p.name for p in cache.iterdir()) == [f"{T10K_IMAGES}.gz", f"{T10K_LABELS}.gz"]
    assert nd.load_mnist(cache)["test"][0].shape == (10_000, 28, 28)
    # Verified files are kept: a second call does not fetch (this mirror does not exist).
    nd.download_mnist(cache, base_url=(tmp_path / "gone").as_uri(), which=("test",))


def test_download_rejects_a_checksum_mismatch(tmp_path, no_network):
    mirror = tmp_path / "mirror"
    fake_mnist(mirror)
    with pytest.raises(ValueError, match="has MD5 .*, expected 9fb629c4189551a2d022fa330f9573f3"):
        nd.download_mnist(tmp_path / "cache", base_url=mirror.as_uri(), which=("test",))
    assert not list((tmp_path / "cache").iterdir())


# -- digits ------------------------------------------------------------------------------------


def test_digits_are_1797_images_of_8x8_in_unit_range():
    x, y = nd.load_digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.float32
    assert x.min() == 0 and x.max() == 1
    assert y.shape == (1797,) and set(np.unique(y)) == set(range(10))
    raw, _ = nd.load_digits(scale=None)
    assert raw.dtype == np.uint8 and raw.max() == 16
    np.testing.assert_array_equal(x, raw / np.float32(16))
    t, _ = nd.load_digits(scale="tanh")
    assert t.min() == -1 and t.max() == 1


def test_digits_dataset():
    ds = nd.load_dataset("digits")
    assert ds.image_shape == (8, 8) and ds.dim == 64 and ds.labels.shape == (1797,)
    assert [len(i) for i in ds.splits.values()] == [1437, 180, 180]


def test_digits_without_scikit_learn_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # None in sys.modules: import fails
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install scikit-learn .*pip install -e \"\.\[data"):
        nd.load_digits()


# -- load_array --------------------------------------------------------------------------------


def test_load_array_npy_and_npz(tmp_path):
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    np.save(tmp_path / "a.npy", x)
    np.testing.assert_array_equal(nd.load_array(tmp_path / "a.npy"), x)
    np.savez(tmp_path / "named.npz", labels=np.arange(10), x=x)  # "x" wins over order
    np.testing.assert_array_equal(nd.load_array(tmp_path / "named.npz"), x)
    np.savez(tmp_path / "first.npz", images=x, labels=np.arange(10))
    np.testing.assert_array_equal(nd.load_array(tmp_path / "first.npz"), x)
    np.testing.assert_array_equal(nd.load_array(tmp_path / "first.npz", key="labels"), range(10))
    with pytest.raises(ValueError, match="first.npz: no array named 'y'; it holds images, labels"):
        nd.load_array(tmp_path / "first.npz", key="y")


def save_npy(path: Path, x) -> Path:
    np.save(path, x, allow_pickle=True)
    return path


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda p: p / "absent.npy", FileNotFoundError, "absent.npy: no such file"),
        (lambda p: p, FileNotFoundError, "is a directory"),
        (lambda p: write(p / "a.txt", b"0 1 2"), ValueError, "a.txt: expected a .npy or"),
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
            lambda p: write(p / "junk.npy", b"hello, not an array"),
            ValueError,
            "junk.npy: not a .npy or .npz file",
        ),
    ],
)
def test_load_array_errors_name_the_file_and_the_problem(tmp_path, make, error, message):
    with pytest.raises(error, match=message):
        nd.load_array(make(tmp_path))


def test_load_array_corrupt_files(tmp_path):
    np.save(tmp_path / "full.npy", np.zeros((100, 10)))
    raw = (tmp_path / "full.npy").read_bytes()
    write(tmp_path / "cut.npy", raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cut.npy: corrupt or truncated"):
        nd.load_array(tmp_path / "cut.npy")
    np.savez_compressed(tmp_path / "full.npz", x=np.random.default_rng(0).normal(size=(100, 10)))
    raw = (tmp_path / "full.npz").read_bytes()
    write(tmp_path / "cut.npz", raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cut.npz: corrupt or truncated"):
        nd.load_array(tmp_path / "cut.npz")
    np.savez(tmp_path / "empty.npz")
    with pytest.raises(ValueError, match="empty.npz: an .npz file with no arrays"):
        nd.load_array(tmp_path / "empty.npz")


# -- split and scale_pixels --------------------------------------------------------------------


@pytest.mark.parametrize(
    "sizes, expected",
    [
        ((8000, 1000, 1000), (8000, 1000, 1000)),
        ((0.8, 0.1, 0.1), (8000, 1000, 1000)),
        ((0.7, 0.15, 0.15), (7000, 1500, 1500)),
        ((100, 10, 0), (100, 10, 0)),
    ],
)
def test_split_sizes_are_disjoint_and_seeded(sizes, expected):
    x = np.arange(10_000) * 10
    parts = nd.split(x, sizes, np.random.default_rng(3))
    assert tuple(len(p) for p in parts) == expected
    joined = np.concatenate(parts)
    assert len(np.unique(joined)) == len(joined)  # disjoint
    again = nd.split(x, sizes, np.random.default_rng(3))
    for a, b in zip(parts, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = nd.split(x, sizes, np.random.default_rng(4))
    assert not np.array_equal(parts[1], other[1]) or expected[1] == 0


def test_split_fractions_round_so_every_sample_is_used():
    parts = nd.split_indices(1797, (0.8, 0.1, 0.1), np.random.default_rng(0))
    assert [len(p) for p in parts] == [1437, 180, 180]
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(1797))


@pytest.mark.parametrize(
    "sizes, message",
    [
        ((0.8, 0.2), "three sizes"),
        ((8, 1, 2), "sum to at most the 10"),
        ((0.5, 0.1, 0.1), "sum to 1"),
        ((8, 0.1, 1), "not a mix"),
        ((-1, 5, 5), ">= 0"),
    ],
)
def test_split_rejects_bad_sizes(sizes, message):
    with pytest.raises(ValueError, match=message):
        nd.split(np.arange(10), sizes, np.random.default_rng(0))


def test_split_needs_an_explicit_generator():
    with pytest.raises(TypeError, match="default_rng"):
        nd.split(np.arange(10), (8, 1, 1), 0)


def test_scale_pixels_endpoints():
    x = np.array([0, 51, 255], np.uint8)
    np.testing.assert_array_equal(nd.scale_pixels(x), np.array([0, 0.2, 1], np.float32))
    np.testing.assert_array_equal(nd.scale_pixels(x, "tanh"), np.array([-1, -0.6, 1], np.float32))
    d = np.array([0, 8, 16])
    np.testing.assert_array_equal(nd.scale_pixels(d, "unit", max_value=16), [0, 0.5, 1])
    np.testing.assert_array_equal(nd.scale_pixels(d, "tanh", max_value=16), [-1, 0, 1])
    assert nd.scale_pixels(x).dtype == np.float32
    with pytest.raises(ValueError, match="outside 0..16"):
        nd.scale_pixels(x, max_value=16)
    with pytest.raises(ValueError, match="unit, tanh"):
        nd.scale_pixels(x, "sigmoid")


# -- the registry ------------------------------------------------------------------------------


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(ValueError) as err:
        nd.load_dataset("cifar10")
    for name in ("toy1d", "ring8", "grid25", "digits", "mnist", ".npy", ".npz"):
        assert name in str(err.value)


def test_distribution_datasets():
    ring = nd.load_dataset("ring8")
    assert ring.is_sampler and ring.dim == 2 and ring.sigma == 0.01 and ring.image_shape is None
    assert distinct_and_equally_spaced_on_circle(ring.means, 8) and ring.splits == {}
    assert ng.data.as_data(ring) is ring
    assert nd.load_dataset("grid25", sigma=0.1).sigma == 0.1
    toy = nd.load_dataset("toy1d", mu=1.0, sigma=2.0)
    assert toy.dim == 1 and toy.samples.mu == 1.0 and toy.means is None
    with pytest.raises(ValueError, match="no fixed samples"):
        ring.train  # noqa: B018
    with pytest.raises(TypeError, match="load_dataset\\('ring8'\\).*spacing"):
        nd.load_dataset("ring8", spacing=3.0)
    with pytest.raises(TypeError, match="only toy1d, ring8 and grid25"):
        nd.load_dataset("digits", sigma=1.0)


def test_a_dataset_is_a_data_source_for_the_trainer():
    ds = nd.load_dataset("ring8")
    G = ng.Sequential([ng.Dense(2, 8, init="he"), ng.ReLU(), ng.Dense(8, 2, init="he")])
    D = ng.Sequential([ng.Dense(2, 8, init="he"), ng.ReLU(), ng.Dense(8, 1, init="he")])
    trainer = ng.Trainer(ng.GAN(G, D, ng.GaussianNoise(2)), ds, batch_size=16, seed=0)
    history = trainer.train(3)
    assert np.isfinite(history["d_loss"]).all()


def test_array_file_dataset_scales_uint8_images(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(20, 4, 5), dtype=np.uint8)
    np.save(tmp_path / "imgs.npy", images)
    ds = nd.load_dataset(tmp_path / "imgs.npy", scale="tanh", splits=(10, 5, 5))
    assert ds.image_shape == (4, 5) and ds.dim == 20 and ds.samples.dtype == np.float32
    np.testing.assert_array_equal(ds.samples, nd.scale_pixels(images, "tanh"))
    assert [len(ds.part(s)) for s in ("train", "validation", "test")] == [10, 5, 5]
    np.save(tmp_path / "feats.npy", np.ones((10, 3)))
    ds = nd.load_dataset(tmp_path / "feats.npy")
    assert ds.image_shape is None and ds.samples.dtype == np.float64
    assert ds.sample(4, np.random.default_rng(0)).shape == (4, 3)
