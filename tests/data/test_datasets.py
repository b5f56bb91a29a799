"""The registry: Dataset and load_dataset, seeded splits that keep labels with their samples,
the digits, MNIST as a dataset, and .npy / .npz files with and without labels."""

import sys

import numpy as np
import pytest

import numgan as ng
import numgan.data
from numgan.data import datasets as nd
from numgan.data import sources as ns
from numgan.data.formats import load_mnist
from numgan.data.pixels import PIXEL_RANGES, scale_pixels

PARTS = ("train", "validation", "test")


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message, message
    return message


def with_row_ids(n: int, features: int = 3, seed: int = 0) -> np.ndarray:
    """(n, features) random rows whose first column is the row's index, to trace rows back."""
    x = np.random.default_rng(seed).normal(size=(n, features))
    x[:, 0] = np.arange(n)
    return x


# -- splits ------------------------------------------------------------------------------------


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


# -- digits ------------------------------------------------------------------------------------


def test_digits_are_1797_images_of_8x8_in_0_to_1():
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


# -- MNIST as a dataset ------------------------------------------------------------------------


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


def test_mnist_dataset_without_the_files_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        nd.load_dataset("mnist", data_dir=tmp_path / "nowhere")


def test_mnist_with_both_splits_keeps_the_official_test_set(tmp_path, fake_mnist):
    _, test_labels = fake_mnist(tmp_path, n=6)
    train, train_labels = fake_mnist(tmp_path, n=60, split="train", gz=False, seed=1)
    ds = nd.load_dataset("mnist", data_dir=tmp_path)
    assert "train and test" in ds.description and len(ds.samples) == 66
    np.testing.assert_array_equal(ds.splits["test"], np.arange(60, 66))
    assert len(ds.splits["train"]) == 50 and len(ds.splits["validation"]) == 10
    assert np.intersect1d(ds.splits["train"], ds.splits["validation"]).size == 0
    np.testing.assert_array_equal(ds.samples[:60], scale_pixels(train))
    # Labels stay with their images: the official test labels are the test split's.
    np.testing.assert_array_equal(ds.test_labels, test_labels)
    for part in ("train", "validation"):
        rows = ds.splits[part]
        np.testing.assert_array_equal(ds.part_labels(part), train_labels[rows])
        np.testing.assert_array_equal(ds.part(part), scale_pixels(train[rows]))
    assert ds.num_classes == 10


# -- the registry ------------------------------------------------------------------------------


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(ValueError) as err:
        nd.load_dataset("cifar10")
    for name in ("toy1d", "ring8", "grid25", "digits", "mnist", ".npy", ".npz"):
        assert name in str(err.value)


def test_distribution_datasets():
    ring = nd.load_dataset("ring8")
    assert ring.is_sampler and ring.dim == 2 and ring.sigma == 0.01 and ring.image_shape is None
    np.testing.assert_array_equal(ring.means, ns.ring8().means)
    assert ring.splits == {}
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
    np.testing.assert_array_equal(ds.samples, scale_pixels(images, "tanh"))
    assert [len(ds.part(s)) for s in ("train", "validation", "test")] == [10, 5, 5]
    np.save(tmp_path / "feats.npy", np.ones((10, 3)))
    ds = nd.load_dataset(tmp_path / "feats.npy")
    assert ds.image_shape is None and ds.samples.dtype == np.float64
    assert ds.sample(4, np.random.default_rng(0)).shape == (4, 3)


# -- labels through the splits -----------------------------------------------------------------


def test_split_labeled_keeps_each_row_with_its_label():
    n = 500
    y = np.random.default_rng(1).integers(0, 10, size=n)
    x = with_row_ids(n)
    x[:, 1] = y  # each row carries its own label, to check the pairing after the split
    labelled = nd.split_labeled(x, y, (0.8, 0.1, 0.1), np.random.default_rng(3))
    plain = nd.split(x, (0.8, 0.1, 0.1), np.random.default_rng(3))
    for (x_part, y_part), x_plain in zip(labelled, plain, strict=True):
        np.testing.assert_array_equal(x_part, x_plain)  # the rows split() chooses
        np.testing.assert_array_equal(y_part, x_part[:, 1])
        np.testing.assert_array_equal(y_part, y[x_part[:, 0].astype(int)])
    assert sum(len(p[1]) for p in labelled) == n


def test_split_labeled_checks_the_labels():
    with pytest.raises(ValueError, match=r"split: labels of shape \(9,\) for 10 samples"):
        nd.split_labeled(np.zeros((10, 2)), np.arange(9), (8, 1, 1), np.random.default_rng(0))


def test_digits_labels_follow_their_images_through_the_split():
    ds = nd.load_dataset("digits", rng=np.random.default_rng(5))
    x, y = nd.load_digits()
    assert ds.num_classes == 10 and ds.labels.dtype == np.int64
    for part in PARTS:
        rows = ds.splits[part]
        np.testing.assert_array_equal(ds.part(part), x[rows])
        np.testing.assert_array_equal(ds.part_labels(part), y[rows])
    np.testing.assert_array_equal(ds.train_labels, ds.part_labels("train"))
    np.testing.assert_array_equal(ds.validation_labels, ds.part_labels("validation"))
    np.testing.assert_array_equal(ds.test_labels, ds.part_labels("test"))
    assert set(np.unique(ds.train_labels)) == set(range(10))


def test_mnist_labels_follow_their_images_through_the_split(mnist_dir):
    ds = nd.load_dataset("mnist", data_dir=mnist_dir, rng=np.random.default_rng(0))
    images, labels = load_mnist(mnist_dir, scale="sigmoid")["test"]
    assert ds.num_classes == 10 and ds.labels.dtype == np.int64
    for part in PARTS:
        rows = ds.splits[part]
        np.testing.assert_array_equal(ds.part(part), images[rows])
        np.testing.assert_array_equal(ds.part_labels(part), labels[rows])
    np.testing.assert_array_equal(np.unique(ds.train_labels), np.arange(10))


@pytest.mark.parametrize("name", ["digits", "mnist"])
def test_sample_labeled_draws_the_images_sample_draws(name, mnist_dir):
    ds = nd.load_dataset(name, data_dir=mnist_dir)
    x = ds.sample(64, np.random.default_rng(5))
    x_l, y = ds.sample_labeled(64, np.random.default_rng(5))
    np.testing.assert_array_equal(x, x_l)
    assert x.shape == (64, ds.dim) and y.shape == (64,) and y.dtype == np.int64
    assert y.min() >= 0 and y.max() < ds.num_classes


def save_labelled(path, n: int = 200, classes: int = 5, seed: int = 0):
    """A .npz of n rows (first column: the row's index) and their random labels; returns y."""
    y = np.random.default_rng(seed).integers(0, classes, size=n)
    np.savez(path, x=with_row_ids(n, seed=seed), y=y)
    return y


def test_npz_labels_stay_with_their_rows_through_split_and_sampling(tmp_path):
    path = tmp_path / "xy.npz"
    y = save_labelled(path)
    ds = nd.load_dataset(path, rng=np.random.default_rng(3))
    assert ds.num_classes == y.max() + 1 and "labelled" in ds.description
    for part in PARTS:
        ids = ds.part(part)[:, 0].astype(int)
        np.testing.assert_array_equal(ds.part_labels(part), y[ids])
    xs, ys = ds.sample_labeled(300, np.random.default_rng(4))
    ids = xs[:, 0].astype(int)
    np.testing.assert_array_equal(ys, y[ids])
    assert np.isin(ids, ds.splits["train"]).all()  # drawn from the training split only
    again = nd.load_dataset(path, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(again.validation_labels, ds.validation_labels)


def test_npz_uint8_images_with_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(30, 4, 4), dtype=np.uint8)
    labels = np.arange(30) % 3
    np.savez(tmp_path / "imgs.npz", x=images, y=labels)
    ds = nd.load_dataset(tmp_path / "imgs.npz", scale="tanh", splits=(20, 5, 5))
    assert ds.image_shape == (4, 4) and ds.num_classes == 3
    np.testing.assert_array_equal(ds.samples, scale_pixels(images, "tanh"))
    np.testing.assert_array_equal(ds.labels, labels)


def test_npz_labels_under_another_name(tmp_path):
    np.savez(tmp_path / "f.npz", images=with_row_ids(20), classes=np.arange(20) % 2)
    ds = nd.load_dataset(tmp_path / "f.npz", label_key="classes")
    assert ds.num_classes == 2
    np.testing.assert_array_equal(ds.train_labels, ds.train[:, 0].astype(int) % 2)
    with pytest.raises(ValueError, match="holds the arrays images, classes and none is named x"):
        nd.load_dataset(tmp_path / "f.npz")  # no y, no x: which array is which is not guessed


def test_bad_npz_labels_stop_load_dataset_in_one_line_naming_the_file(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.zeros((10, 2)), y=np.arange(10) - 3)
    with pytest.raises(ValueError, match="must be >= 0, found -3") as err:
        nd.load_dataset(path)
    assert one_line(err).startswith(f"{path}[y]: ")


@pytest.mark.parametrize("kind", ["npy", "npz", "toy1d"])
def test_unlabelled_data_says_where_labelled_data_comes_from(tmp_path, kind):
    if kind == "toy1d":
        ds = nd.load_dataset("toy1d")
    else:
        path = tmp_path / f"x.{kind}"
        (np.save if kind == "npy" else np.savez)(path, with_row_ids(10))
        ds = nd.load_dataset(path)
        assert ds.labels is None and ds.train_labels is None and ds.test_labels is None
    assert ds.num_classes is None
    with pytest.raises(ValueError, match=r"no labels to sample: .*np.savez\(path, x=x, y=y\)") as e:
        ds.sample_labeled(4, np.random.default_rng(0))
    one_line(e)
    assert ds.sample(4, np.random.default_rng(0)).shape == (4, ds.dim)  # sample still works


@pytest.mark.parametrize("name, modes", [("ring8", 8), ("grid25", 25)])
def test_mixture_datasets_label_each_sample_with_its_mode(name, modes):
    ds = nd.load_dataset(name)
    assert ds.num_classes == modes and ds.labels is None
    x, y = ds.sample_labeled(200, np.random.default_rng(1))
    x_s, y_s = getattr(ns, name)().sample_labeled(200, np.random.default_rng(1))
    np.testing.assert_array_equal(x, x_s)
    np.testing.assert_array_equal(y, y_s)
    with pytest.raises(ValueError, match="no fixed samples"):
        ds.part_labels("train")


def test_a_dataset_built_by_hand_checks_its_labels():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"mine: labels of shape \(2,\) for 4 samples"):
        nd.Dataset("mine", x, "by hand", labels=np.array([0, 1]))
    with pytest.raises(ValueError, match="num_classes given without labels"):
        nd.Dataset("mine", x, "by hand", num_classes=3)
    with pytest.raises(ValueError, match="its sample_labeled gives the labels"):
        nd.Dataset("ring", ns.ring8(), "by hand", labels=np.zeros(4, int))
    ds = nd.Dataset("mine", x, "by hand", labels=[0, 1, 1, 0], num_classes=4)
    assert ds.num_classes == 4 and ds.labels.dtype == np.int64


# -- the pixel range's names -------------------------------------------------------------------


@pytest.mark.parametrize("scale", list(PIXEL_RANGES))
def test_digits_span_the_pixel_range_named(scale):
    ds = nd.load_dataset("digits", scale=scale)
    assert (ds.samples.min(), ds.samples.max()) == PIXEL_RANGES[scale]


def test_the_old_unit_name_is_refused_with_the_names_to_use(mnist_dir):
    for load in (
        lambda: nd.load_dataset("digits", scale="unit"),
        lambda: nd.load_digits(scale="unit"),
        lambda: load_mnist(mnist_dir, scale="unit"),
    ):
        with pytest.raises(ValueError, match=r"'sigmoid' \(\[0, 1\]\) or 'tanh'") as err:
            load()
        one_line(err)


# -- the package -------------------------------------------------------------------------------


def test_the_package_exports_its_public_names():
    for name in numgan.data.__all__:
        assert getattr(numgan.data, name) is not None, name
    for name in ("ArrayData", "Dataset", "Gaussian1D", "GaussianMixture1D", "load_dataset"):
        assert getattr(ng, name) is getattr(numgan.data, name)
    assert numgan.data.Dataset is nd.Dataset and numgan.data.ArrayData is ns.ArrayData
    assert numgan.data.PIXEL_RANGES is nd.PIXEL_RANGES
