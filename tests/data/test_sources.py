"""Sources: the samplers' modes and statistics, ArrayData's draws with and without labels, the
label checks, as_data and as_rows."""

import numpy as np
import pytest

import numgan as ng
from numgan.data import sources as ns


def trapezoid(y: np.ndarray, t: np.ndarray, axis: int = -1) -> np.ndarray:
    """The trapezoid rule on an even grid t (NumPy 1.x lacks numpy.trapezoid)."""
    y = np.moveaxis(y, axis, -1)
    return (y[..., 1:] + y[..., :-1]).sum(-1) * (t[1] - t[0]) / 2


def z_bound(sd: float) -> float:
    """The tolerance for an estimate with standard error sd: five of them (p ~ 6e-7 per check)."""
    return 5 * sd


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message, message
    return message


# -- toy 1-D -----------------------------------------------------------------------------------


def test_gaussian1d_is_unchanged():
    g = ng.Gaussian1D(4.0, 0.5)
    assert g.dim == 1 and ns.Gaussian1D is ng.Gaussian1D
    x = g.sample(1000, np.random.default_rng(0))
    assert x.shape == (1000, 1)
    np.testing.assert_array_equal(x, np.random.default_rng(0).normal(4.0, 0.5, size=(1000, 1)))
    assert g.pdf(np.array(4.0)) == pytest.approx(1 / (0.5 * np.sqrt(2 * np.pi)))


def test_gaussian1d_has_no_labels_and_says_which_sampler_has():
    g = ns.Gaussian1D()
    assert g.num_classes is None
    with pytest.raises(ValueError, match="GaussianMixture1D labels each sample") as err:
        g.sample_labeled(4, np.random.default_rng(0))
    one_line(err)


def test_mixture1d_components_have_their_weights_means_and_stds():
    mix = ns.GaussianMixture1D(mus=(-2.0, 3.0), sigmas=(0.5, 1.0), weights=(0.3, 0.7))
    m = 50_000
    x, k = mix.sample_labeled(m, np.random.default_rng(1))
    assert x.shape == (m, 1) and mix.dim == 1
    assert mix.num_classes == 2 and k.dtype == np.int64 and set(np.unique(k)) == {0, 1}
    for j in range(2):
        w, mu, sigma = mix.weights[j], mix.mus[j], mix.sigmas[j]
        n = (k == j).sum()
        assert abs(n - m * w) < z_bound(np.sqrt(m * w * (1 - w)))
        xs = x[k == j, 0]
        assert abs(xs.mean() - mu) < z_bound(sigma / np.sqrt(n))
        assert abs(xs.std() - sigma) < z_bound(sigma / np.sqrt(2 * n))


def test_mixture1d_pdf_is_the_weighted_sum_and_integrates_to_one():
    mix = ns.GaussianMixture1D((-2.0, 3.0), (0.5, 1.0), (1.0, 3.0))  # relative weights
    np.testing.assert_allclose(mix.weights, [0.25, 0.75])
    t = np.linspace(-10, 12, 20_001)
    parts = [ns.Gaussian1D(mu, s).pdf(t) for mu, s in zip(mix.mus, mix.sigmas, strict=True)]
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
        ns.GaussianMixture1D(**kwargs)


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
    r = ns.ring8()
    assert r.means.shape == (8, 2) and r.dim == 2 and r.sigma == 0.01 and r.num_classes == 8
    assert distinct_and_equally_spaced_on_circle(r.means, 8)
    np.testing.assert_allclose(r.means[0], [1.0, 0.0])  # angle 2 pi i / 8 from i = 0


def test_the_circle_check_catches_the_linspace_bug():
    # The negative control: linspace(0, 2 pi, 8) repeats angle 0 as 2 pi, leaving 7 modes.
    t = np.linspace(0, 2 * np.pi, 8)
    assert not distinct_and_equally_spaced_on_circle(np.stack([np.cos(t), np.sin(t)], 1), 8)


def test_grid25_has_the_25_means_of_the_grid():
    g = ns.grid25()
    assert g.means.shape == (25, 2) and g.dim == 2 and g.sigma == 0.05 and g.num_classes == 25
    expected = {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(p) for p in g.means.tolist()} == expected


@pytest.mark.parametrize("make, m", [(ns.ring8, 80_000), (ns.grid25, 100_000)])
def test_each_mode_gets_its_share_of_samples_with_its_mean_and_sigma(make, m):
    mix = make()
    K, sigma = len(mix.means), mix.sigma
    x, k = mix.sample_labeled(m, np.random.default_rng(2))
    assert x.shape == (m, 2) and k.dtype == np.int64
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
    mix = ns.ring8(sigma=0.1)
    t = np.linspace(-2, 2, 801)
    X, Y = np.meshgrid(t, t)
    p = mix.pdf(np.stack([X.ravel(), Y.ravel()], 1)).reshape(X.shape)
    assert trapezoid(trapezoid(p, t, axis=1), t) == pytest.approx(1.0, abs=1e-6)
    peak = 1 / (8 * 2 * np.pi * 0.01)  # one mode's height; the others are ~ e^-29 away
    np.testing.assert_allclose(mix.pdf(mix.means), peak, rtol=1e-9)


@pytest.mark.parametrize(
    "make",
    [
        ns.ring8,
        ns.grid25,
        ng.Gaussian1D,
        lambda: ns.GaussianMixture1D((0.0, 5.0), (1.0, 1.0)),
        lambda: ns.ArrayData(np.arange(40.0).reshape(20, 2)),
    ],
)
def test_samplers_are_reproducible_from_the_generator(make):
    s = make()
    a = s.sample(500, np.random.default_rng(7))
    b = s.sample(500, np.random.default_rng(7))
    c = s.sample(500, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "make",
    [
        ns.ring8,
        ns.grid25,
        lambda: ns.GaussianMixture1D((0.0, 5.0), (1.0, 1.0)),
        lambda: ns.ArrayData(np.arange(40.0).reshape(20, 2), np.arange(20) % 3),
    ],
)
def test_labelled_sources_sample_what_sample_labeled_samples(make):
    # One protocol: sample(m, rng) is sample_labeled(m, rng)'s x, from the same rng state.
    s = make()
    rng_a, rng_b = np.random.default_rng(11), np.random.default_rng(11)
    x = s.sample(300, rng_a)
    x_l, y = s.sample_labeled(300, rng_b)
    np.testing.assert_array_equal(x, x_l)
    assert rng_a.random() == rng_b.random()  # both consumed the same draws
    assert y.shape == (300,) and y.dtype == np.int64
    assert y.min() >= 0 and y.max() < s.num_classes


def test_data_source_protocol():
    for source in (ns.ring8(), ns.Gaussian1D(), ns.ArrayData(np.zeros((3, 2)))):
        assert isinstance(source, ns.DataSource)
    assert not isinstance(np.zeros((3, 2)), ns.DataSource)


# -- ArrayData ---------------------------------------------------------------------------------


def with_row_ids(n: int, features: int = 3, seed: int = 0) -> np.ndarray:
    """(n, features) random rows whose first column is the row's index, to trace draws back."""
    x = np.random.default_rng(seed).normal(size=(n, features))
    x[:, 0] = np.arange(n)
    return x


def test_array_data_draws_rows_with_replacement_by_one_integers_call():
    x = with_row_ids(50)
    data = ns.ArrayData(x)
    got = data.sample(200, np.random.default_rng(4))
    idx = np.random.default_rng(4).integers(0, 50, size=200)
    np.testing.assert_array_equal(got, x[idx])
    assert data.dim == 3 and len(data) == 50
    assert data.labels is None and data.num_classes is None


def test_labels_do_not_change_what_sample_draws():
    # Seeded runs give the same numbers whether or not the data carries labels.
    x, y = with_row_ids(50), np.arange(50) % 7
    plain, labelled = ns.ArrayData(x), ns.ArrayData(x, y)
    np.testing.assert_array_equal(
        plain.sample(100, np.random.default_rng(9)), labelled.sample(100, np.random.default_rng(9))
    )


def test_sample_labeled_gives_each_row_its_own_label():
    n = 60
    x = with_row_ids(n)
    y = np.random.default_rng(1).integers(0, 10, size=n)
    data = ns.ArrayData(x, y)
    xs, ys = data.sample_labeled(500, np.random.default_rng(2))
    rows = xs[:, 0].astype(int)
    np.testing.assert_array_equal(xs, x[rows])
    np.testing.assert_array_equal(ys, y[rows])
    assert data.num_classes == y.max() + 1 and data.labels.dtype == np.int64


def test_array_data_flattens_images_and_keeps_their_labels():
    images = np.random.default_rng(0).integers(0, 256, size=(12, 4, 5)).astype(np.float32)
    labels = np.arange(12) % 4
    data = ns.ArrayData(images, labels)
    assert data.dim == 20 and data.x.dtype == np.float32
    np.testing.assert_array_equal(data.x, images.reshape(12, 20))
    np.testing.assert_array_equal(data.labels, labels)


def test_unlabelled_array_data_says_how_to_add_labels():
    data = ns.ArrayData(np.zeros((5, 2)))
    with pytest.raises(
        ValueError, match=r"no labels to sample: pass them as ArrayData\(x, y\)"
    ) as e:
        data.sample_labeled(3, np.random.default_rng(0))
    one_line(e)


def test_num_classes_defaults_to_the_largest_label_plus_one_or_is_given():
    x = np.zeros((6, 2))
    assert ns.ArrayData(x, [0, 1, 2, 0, 1, 2]).num_classes == 3
    assert ns.ArrayData(x, [0, 1, 2, 0, 1, 2], num_classes=10).num_classes == 10
    with pytest.raises(ValueError, match="label 2 is out of range for 2 classes"):
        ns.ArrayData(x, [0, 1, 2, 0, 1, 2], num_classes=2)
    with pytest.raises(ValueError, match="num_classes given without labels"):
        ns.ArrayData(x, num_classes=3)
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        ns.ArrayData(x, [0] * 6, num_classes=0)


@pytest.mark.parametrize(
    "y, message",
    [
        (np.zeros((6, 1), np.int64), r"shape \(6, 1\) for 6 samples, expected \(6,\): .*ravel"),
        (np.eye(3)[[0, 1, 2, 0, 1, 2]], r"shape \(6, 3\) .*one-hot rows\? pass y.argmax\(1\)"),
        (np.arange(5), r"shape \(5,\) for 6 samples, expected \(6,\): give one label per"),
        (np.array([0, 1, 2, 0, 1, 0.5]), "integer classes, found 0.5 .*continuous targets"),
        (np.array([0, 1, 2, 0, 1, np.nan]), "integer classes, found nan"),
        (np.array([0.0, 1, 2, 0, 1, 2]), "dtype float64, expected integers: .*y.astype"),
        (np.array([True, False] * 3), "dtype bool, expected integers: .*y.astype"),
        (np.array(list("abcabc")), r"dtype <U1, expected integer classes: np.unique\(y"),
        (np.array([0, 1, -1, 0, 1, 2]), r"must be >= 0, found -1: np.unique\(y"),
        (np.array([0, 1, 2, 0, 1, 2**64 - 1], np.uint64), "label 18446744073709551615 is beyond"),
    ],
)
def test_bad_labels_fail_in_one_line_with_the_fix(y, message):
    with pytest.raises(ValueError, match=message) as err:
        ns.ArrayData(np.zeros((6, 2)), y, name="mydata")
    assert one_line(err).startswith("mydata: ")


def test_check_labels_returns_a_new_int64_array():
    y = np.array([3, 1, 2], np.uint8)
    got = ns.check_labels(y, 3)
    assert got.dtype == np.int64 and not np.shares_memory(got, y)
    np.testing.assert_array_equal(got, y)


# -- as_data and as_rows -----------------------------------------------------------------------


def test_as_data_wraps_arrays_with_their_labels_and_passes_sources_through():
    ring = ns.ring8()
    assert ns.as_data(ring) is ring
    data = ns.as_data([[0.0, 1.0], [2.0, 3.0]], [1, 0])
    assert isinstance(data, ns.ArrayData) and data.num_classes == 2
    assert ns.as_data(np.zeros((3, 2))).labels is None
    with pytest.raises(TypeError, match="a source brings its own"):
        ns.as_data(ring, [0, 1])
    with pytest.raises(TypeError, match="got str"):
        ns.as_data("data.npy")


@pytest.mark.parametrize("shape", [(7, 28, 28), (7, 3), (7,), (0, 28, 28), (7, 2, 3, 4)])
def test_as_rows_puts_one_sample_per_row(shape):
    x = np.arange(int(np.prod(shape))).reshape(shape)
    rows = ns.as_rows(x)
    n = shape[0]
    assert rows.shape == (n, int(np.prod(shape[1:])))
    assert rows.ravel().tolist() == x.ravel().tolist()  # the same values, in C order
    if x.size:  # a view: flattening 60,000 images copies nothing
        assert np.shares_memory(rows, x)
        np.testing.assert_array_equal(rows, x.reshape(n, -1))


def test_as_rows_rejects_a_single_number():
    with pytest.raises(ValueError, match="as_rows: expected an array of shape"):
        ns.as_rows(np.float32(1))
