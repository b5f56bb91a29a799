"""Evaluation metrics against closed forms and independent brute-force computations.

The brute-force references below use direct differences (x_i - s_j), never the expansion
||x||^2 - 2 x.s + ||s||^2 that numgan.eval.metrics uses, so they share no arithmetic with it.
"""

import math

import numpy as np
import pytest

from numgan.eval import metrics

# --- independent references ---------------------------------------------------------------------


def brute_parzen(samples, x, sigma):
    """Per-example log p(x_i), one x at a time: direct differences, max-shifted logsumexp."""
    n, d = samples.shape
    out = np.empty(len(x))
    for i, xi in enumerate(x):
        a = -((xi - samples) ** 2).sum(axis=1) / (2 * sigma**2)
        top = a.max()
        out[i] = top + math.log(np.exp(a - top).sum()) - math.log(n)
        out[i] -= 0.5 * d * math.log(2 * math.pi * sigma**2)
    return out


def brute_nearest(samples, train):
    """argmin_j ||samples_i - train_j||^2 over the full (n, N) matrix of direct differences."""
    a = samples.reshape(len(samples), -1)
    b = train.reshape(len(train), -1)
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)


def ring8():
    """8 modes on the unit circle at angles 2 pi k / 8."""
    t = 2 * np.pi * np.arange(8) / 8
    return np.stack([np.cos(t), np.sin(t)], axis=1)


# --- Parzen log-likelihood ----------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5])
def test_parzen_matches_brute_force(sigma):
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(37, 5))
    x = rng.normal(size=(23, 5))
    expected = brute_parzen(samples, x, sigma)
    got = metrics.parzen_log_density(samples, x, sigma)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    mean, stderr = metrics.parzen_log_likelihood(samples, x, sigma)
    assert mean == pytest.approx(expected.mean(), abs=1e-10)
    assert stderr == pytest.approx(expected.std() / math.sqrt(len(x)), abs=1e-10)


def test_parzen_batching_does_not_change_the_result():
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(41, 3))
    x = rng.normal(size=(29, 3))
    reference = metrics.parzen_log_density(samples, x, 0.4, batch_size=1000, chunk_size=1000)
    for batch_size, chunk_size in [(1, 1), (7, 5), (29, 41), (4, 40), (30, 2)]:
        got = metrics.parzen_log_density(
            samples, x, 0.4, batch_size=batch_size, chunk_size=chunk_size
        )
        np.testing.assert_allclose(got, reference, rtol=0, atol=1e-12)


def test_parzen_is_stable_for_tiny_sigma():
    # Centres 1 apart, sigma = 1e-3: every centre but the nearest contributes exp(-5e5) = 0, and
    # a point 0.1 from its nearest centre has exponent -5000, where exp() alone underflows to 0.
    sigma, d = 1e-3, 2
    samples = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    r = np.array([0.0, 0.002, 0.1])
    x = np.array([[0.0, 0.0], [1.0 + 0.002, 0.0], [0.0, 1.0 - 0.1]])
    got = metrics.parzen_log_density(samples, x, sigma)
    expected = -(r**2) / (2 * sigma**2) - math.log(3) - 0.5 * d * math.log(2 * math.pi * sigma**2)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_parzen_single_centre_closed_form():
    # One centre at the origin: p is the N(0, sigma^2 I) density itself.
    sigma, d = 0.7, 3
    directions = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.6, 0.0, 0.8], [0.0, 0.0, 1.0]])
    r = np.array([0.0, 0.5, 2.0, 3.5])
    x = directions * r[:, None]
    expected = -(r**2) / (2 * sigma**2) - 0.5 * d * math.log(2 * math.pi * sigma**2)
    got = metrics.parzen_log_density(np.zeros((1, d)), x, sigma)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    mean, stderr = metrics.parzen_log_likelihood(np.zeros((1, d)), x, sigma)
    deviations = expected - expected.mean()
    assert mean == pytest.approx(expected.mean(), abs=1e-12)
    assert stderr == pytest.approx(math.sqrt((deviations**2).sum() / 4) / 2, abs=1e-12)


def test_parzen_stderr_is_std_over_sqrt_n_with_ddof_0():
    rng = np.random.default_rng(2)
    samples = rng.normal(size=(20, 4))
    x = rng.normal(size=(50, 4))
    per_example = brute_parzen(samples, x, 0.8)
    _, stderr = metrics.parzen_log_likelihood(samples, x, 0.8)
    assert stderr == pytest.approx(np.std(per_example, ddof=0) / math.sqrt(50), rel=1e-10)
    assert stderr != pytest.approx(np.std(per_example, ddof=1) / math.sqrt(50), rel=1e-6)


def test_parzen_accepts_float32_and_integer_inputs():
    samples = np.array([[0, 1], [2, 3]])
    x = np.array([[1.0, 1.0]], dtype=np.float32)
    expected = brute_parzen(samples.astype(float), x.astype(float), 0.5)
    got = metrics.parzen_log_density(samples, x, 0.5)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, atol=1e-12)


# --- choosing sigma -----------------------------------------------------------------------------


def test_select_sigma_matches_a_brute_force_loop():
    rng = np.random.default_rng(3)
    samples = rng.normal(size=(60, 3))
    x_valid = rng.normal(size=(40, 3))
    sigmas = np.array([0.05, 0.2, 0.45, 0.9, 3.0])
    means = [brute_parzen(samples, x_valid, s).mean() for s in sigmas]
    best = sigmas[int(np.argmax(means))]
    assert metrics.select_parzen_sigma(samples, x_valid, sigmas) == best
    result = metrics.parzen_evaluate(samples, x_valid, x_valid[:10], sigmas, chunk_size=7)
    np.testing.assert_allclose(result["valid_means"], means, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(result["sigmas"], sigmas)
    test_ll = brute_parzen(samples, x_valid[:10], best)
    assert result["sigma"] == best
    assert result["mean"] == pytest.approx(test_ll.mean(), abs=1e-10)
    assert result["stderr"] == pytest.approx(test_ll.std() / math.sqrt(10), abs=1e-10)


def test_select_sigma_ties_go_to_the_first_width():
    # Repeating a width gives identical scores: np.argmax's first index wins.
    rng = np.random.default_rng(4)
    samples, x_valid = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))
    best = metrics.select_parzen_sigma(samples, x_valid, [0.5])
    assert metrics.select_parzen_sigma(samples, x_valid, [0.01, best, best, 50.0]) == best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_select_sigma_on_gaussian_data_is_near_the_optimum_not_an_edge(seed):
    # Samples and validation data both from N(0, 1) in 1-D.  The likelihood-optimal Parzen
    # width for n = 500 is near Silverman's 1.06 n^(-1/5) = 0.31, inside the paper's grid
    # [0.1, 1]; too narrow a kernel overfits the samples, too wide a one blurs the density.
    rng = np.random.default_rng(seed)
    samples = rng.normal(size=(500, 1))
    x_valid = rng.normal(size=(2000, 1))
    result = metrics.parzen_evaluate(samples, x_valid, x_valid)
    h = 1.06 * 500 ** (-0.2)
    assert result["sigma"] == metrics.select_parzen_sigma(samples, x_valid)
    assert 0.1 < result["sigma"] < 1.0
    assert h / 2 <= result["sigma"] <= 2 * h
    np.testing.assert_allclose(result["sigmas"], np.logspace(-1, 0, 10))
    assert result["valid_means"].max() > max(result["valid_means"][[0, -1]]) + 1e-3


# --- mode coverage ------------------------------------------------------------------------------


def test_mode_coverage_five_of_eight_modes_uniformly():
    means = ring8()
    junk = np.array([[10.0, 10.0], [0.0, 0.0], [-5.0, 3.0], [1.5, 0.0], [0.0, -2.0]])
    samples = np.concatenate([np.repeat(means[:5], 4, axis=0), junk])  # 20 at modes, 5 junk
    result = metrics.mode_coverage(samples, means, 0.01)
    assert result["modes"] == 5
    assert result["high_quality"] == pytest.approx(20 / 25)
    # p_k = 1/5 on 5 modes: KL = sum_k (1/5) log((1/5) * 8) = log(8/5).
    assert result["reverse_kl"] == pytest.approx(math.log(8 / 5), abs=1e-12)
    np.testing.assert_array_equal(result["counts"], [4, 4, 4, 4, 4, 0, 0, 0])


def test_mode_coverage_non_uniform_histogram():
    means = ring8()
    samples = np.repeat(means[[0, 2, 4, 6]], [6, 2, 1, 1], axis=0)
    result = metrics.mode_coverage(samples, means, 0.01)
    # p = (0.6, 0.2, 0.1, 0.1): KL = 0.6 log 4.8 + 0.2 log 1.6 + 2 * 0.1 log 0.8.
    expected = 0.6 * math.log(4.8) + 0.2 * math.log(1.6) + 0.2 * math.log(0.8)
    assert result["reverse_kl"] == pytest.approx(expected, abs=1e-12)
    assert result["modes"] == 4
    assert result["high_quality"] == 1.0
    np.testing.assert_array_equal(result["counts"], [6, 0, 2, 0, 1, 0, 1, 0])


def test_mode_coverage_all_samples_on_one_mode_is_log_k():
    means = ring8()
    result = metrics.mode_coverage(np.repeat(means[[3]], 7, axis=0), means, 0.01)
    assert result["modes"] == 1
    assert result["reverse_kl"] == pytest.approx(math.log(8), abs=1e-12)


def test_mode_coverage_all_modes_equally_is_zero():
    means = ring8()
    result = metrics.mode_coverage(np.repeat(means, 3, axis=0), means, 0.01)
    assert result["modes"] == 8
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_mode_coverage_three_sigma_threshold():
    means, sigma = ring8(), 0.01
    rng = np.random.default_rng(5)
    angles = rng.uniform(0, 2 * np.pi, size=8)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    inside = means + 2.9 * sigma * directions
    outside = means + 3.1 * sigma * directions
    result = metrics.mode_coverage(np.concatenate([inside, outside]), means, sigma)
    assert result["high_quality"] == pytest.approx(0.5)
    np.testing.assert_array_equal(result["counts"], np.ones(8))


def test_mode_coverage_without_high_quality_samples_is_inf():
    result = metrics.mode_coverage(np.array([[5.0, 5.0], [0.0, 0.0]]), ring8(), 0.01)
    assert result["modes"] == 0
    assert result["high_quality"] == 0.0
    assert result["reverse_kl"] == math.inf
    np.testing.assert_array_equal(result["counts"], np.zeros(8))


# --- nearest neighbours -------------------------------------------------------------------------


def test_nearest_neighbours_matches_brute_force_on_images():
    rng = np.random.default_rng(6)
    train = rng.random((53, 4, 3))
    samples = rng.random((17, 4, 3))
    expected = brute_nearest(samples, train)
    np.testing.assert_array_equal(metrics.nearest_neighbours(samples, train), expected)
    # Images against flat rows: compared in pixel space.
    flat = train.reshape(53, 12)
    np.testing.assert_array_equal(metrics.nearest_neighbours(samples, flat), expected)


def test_nearest_neighbours_batching_does_not_change_the_result():
    rng = np.random.default_rng(7)
    train = rng.normal(size=(61, 5))
    samples = rng.normal(size=(19, 5))
    expected = brute_nearest(samples, train)
    for batch_size, chunk_size in [(1, 1), (4, 7), (19, 61), (100, 3)]:
        got = metrics.nearest_neighbours(
            samples, train, batch_size=batch_size, chunk_size=chunk_size
        )
        np.testing.assert_array_equal(got, expected)


def test_nearest_neighbours_finds_copied_training_rows():
    rng = np.random.default_rng(8)
    train = rng.random((40, 6)) * 255  # pixel-like scale
    rows = np.array([0, 13, 39, 7])
    np.testing.assert_array_equal(metrics.nearest_neighbours(train[rows], train), rows)
    np.testing.assert_array_equal(
        metrics.nearest_neighbours(train[rows], train, batch_size=1, chunk_size=3), rows
    )


def test_nearest_neighbours_resolves_near_ties_that_the_expansion_rounds_away():
    # Rows of norm ~7e3 that differ by 1e-6: ||x||^2 - 2 x.t + ||t||^2 rounds at ~1e-8, far
    # above their true squared distances (~5e-11), so that expansion alone mostly picks a wrong
    # row.  The sample is a copy of rows 5, 20 and 25: the answer is 5.
    for seed in range(5):
        rng = np.random.default_rng(seed)
        train = rng.normal(size=(1, 50)) * 1e3 + rng.normal(size=(30, 50)) * 1e-6
        train[[20, 25]] = train[5]
        assert metrics.nearest_neighbours(train[[25]], train)[0] == 5
        assert metrics.nearest_neighbours(train[[25]], train, chunk_size=7)[0] == 5
        samples = train[[3, 17]] + 1e-7
        np.testing.assert_array_equal(
            metrics.nearest_neighbours(samples, train), brute_nearest(samples, train)
        )


@pytest.mark.parametrize("chunk_size", [1, 2, 4, 100])
def test_nearest_neighbours_ties_go_to_the_lowest_index(chunk_size):
    train = np.array(
        [[9.0, 9.0], [2.3, 1.7], [0.0, 1.0], [5.0, -5.0], [2.3, 1.7], [1.0, 0.0], [2.3, 1.7]]
    )
    samples = np.array([[2.3, 1.7], [0.0, 0.0]])
    # Row 0 duplicates train rows 1, 4 and 6; row 1 is at distance 1 from rows 2 and 5.
    got = metrics.nearest_neighbours(samples, train, chunk_size=chunk_size)
    np.testing.assert_array_equal(got, [1, 2])


# --- 1-D diagnostics ----------------------------------------------------------------------------


def trapezoid(y, x):
    return float(((y[1:] + y[:-1]) / 2 * np.diff(x)).sum())


@pytest.mark.parametrize("bandwidth", [None, 0.05, 1.0])
def test_kde_1d_integrates_to_one(bandwidth):
    samples = np.random.default_rng(9).normal(4.0, 0.5, size=(300, 1))
    grid = np.linspace(-6.0, 14.0, 20001)
    density = metrics.kde_1d(samples, grid, bandwidth)
    assert (density >= 0).all()
    assert trapezoid(density, grid) == pytest.approx(1.0, abs=1e-6)


def test_kde_1d_matches_the_mixture_of_normal_densities():
    samples = np.array([-1.0, 0.0, 0.5, 3.0])
    x = np.array([[-2.0, 0.25], [1.0, 3.0]])
    h = 0.7
    expected = np.zeros_like(x)
    for s in samples:
        expected += np.exp(-0.5 * ((x - s) / h) ** 2) / (h * math.sqrt(2 * math.pi)) / 4
    got = metrics.kde_1d(samples, x, h, batch_size=3)
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_silverman_bandwidth_by_hand():
    # std (ddof 1) = sqrt(10/4) = 1.58; IQR = 1 - (-1) = 2, so min(1.58, 2/1.34) = 2/1.34.
    samples = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    assert metrics.silverman_bandwidth(samples) == pytest.approx(0.9 * (2 / 1.34) * 5**-0.2)
    # IQR 0 (most samples equal): std alone.
    tied = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 10.0])
    expected = 0.9 * np.std(tied, ddof=1) * 6**-0.2
    assert metrics.silverman_bandwidth(tied) == pytest.approx(expected)
    x = np.array([0.5])
    assert metrics.kde_1d(tied, x) == pytest.approx(metrics.kde_1d(tied, x, expected))


def test_optimal_discriminator_values():
    x = np.arange(5.0)
    p_data = np.array([0.2, 0.0, 0.3, 0.0, 0.75])
    p_g = np.array([0.2, 0.4, 0.0, 0.0, 0.25])
    # equal -> 1/2, data absent -> 0, fake absent -> 1, both absent -> 1/2, 3:1 -> 3/4
    np.testing.assert_array_equal(
        metrics.optimal_discriminator(x, p_data, p_g), [0.5, 0.0, 1.0, 0.5, 0.75]
    )


def test_optimal_discriminator_is_one_half_where_densities_are_equal():
    # N(-1, 1) and N(1, 1) cross at x = 0; densities given as functions of x.
    def p_data(x):
        return np.exp(-0.5 * (x + 1) ** 2) / math.sqrt(2 * math.pi)

    def p_g(x):
        return np.exp(-0.5 * (x - 1) ** 2) / math.sqrt(2 * math.pi)

    x = np.array([-3.0, 0.0, 2.0])
    d_star = metrics.optimal_discriminator(x, p_data, p_g)
    assert d_star[1] == 0.5
    # p_data / p_g = exp(-2x) for these two, so D* = 1 / (1 + exp(2x)).
    np.testing.assert_allclose(d_star, 1 / (1 + np.exp(2 * x)), rtol=1e-13)
    same = metrics.optimal_discriminator(x, p_data(x), p_data(x))
    np.testing.assert_array_equal(same, 0.5)


def test_optimal_value_and_gap():
    assert metrics.OPTIMAL_VALUE == math.log(0.5) + math.log(0.5)
    assert metrics.value_gap(metrics.OPTIMAL_VALUE) == 0.0
    # On a discrete space, V(D*, G) = -log 4 + 2 JSD(p_data || p_g) (Theorem 1's proof).
    p_data = np.array([0.5, 0.3, 0.2, 0.0])
    p_g = np.array([0.1, 0.3, 0.2, 0.4])
    d_star = metrics.optimal_discriminator(np.arange(4), p_data, p_g)
    v = sum(p * math.log(d) for p, d in zip(p_data, d_star, strict=True) if p > 0)
    v += sum(q * math.log(1 - d) for q, d in zip(p_g, d_star, strict=True) if q > 0)
    m = (p_data + p_g) / 2

    def kl(p, q):
        return sum(a * math.log(a / b) for a, b in zip(p, q, strict=True) if a > 0)

    jsd = 0.5 * kl(p_data, m) + 0.5 * kl(p_g, m)
    assert metrics.value_gap(v) == pytest.approx(2 * jsd, abs=1e-12)
    np.testing.assert_allclose(metrics.value_gap(np.array([v, -1.0])), [2 * jsd, math.log(4) - 1])


# --- label fidelity -----------------------------------------------------------------------------


def test_label_fidelity_by_hand():
    asked = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 0, 2, 2, 2, 2])
    result = metrics.label_fidelity(predicted, asked, num_classes=3)
    assert result["overall"] == pytest.approx(8 / 10)
    np.testing.assert_allclose(result["per_class"], [3 / 4, 1 / 2, 1.0])
    np.testing.assert_array_equal(result["counts"], [4, 2, 4])
    assert result["counts"].dtype == np.int64


def test_label_fidelity_is_nan_for_a_class_never_asked_for():
    # Predicting class 3 is allowed (it is a class), but nothing asked for it, and for 1.
    result = metrics.label_fidelity([0, 3, 2, 2], [0, 0, 2, 2], num_classes=4)
    assert result["overall"] == pytest.approx(3 / 4)
    per_class = result["per_class"]
    assert np.isnan(per_class[1]) and np.isnan(per_class[3])
    np.testing.assert_allclose(per_class[[0, 2]], [1 / 2, 1.0])
    np.testing.assert_array_equal(result["counts"], [2, 0, 2, 0])


def test_label_fidelity_overall_is_the_counts_weighted_mean_of_per_class():
    rng = np.random.default_rng(11)
    asked = rng.integers(0, 10, size=500)
    predicted = np.where(rng.random(500) < 0.7, asked, rng.integers(0, 10, size=500))
    result = metrics.label_fidelity(predicted, asked.astype(np.uint8), num_classes=10)
    weighted = np.sum(result["per_class"] * result["counts"]) / 500
    assert result["overall"] == pytest.approx(weighted, abs=1e-12)
    assert result["overall"] == pytest.approx(np.mean(predicted == asked), abs=1e-12)


# --- bad inputs ---------------------------------------------------------------------------------

rng = np.random.default_rng(10)
S, X = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
NAN, INF = X.copy(), S.copy()
NAN[1, 2], INF[0, 0] = np.nan, np.inf


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: metrics.parzen_log_likelihood(S[:, 0], X, 1.0), ValueError,
         r"samples must have shape \(n, d\).*got \(6,\).*samples\[:, None\]"),
        (lambda: metrics.parzen_log_likelihood(S, X[None], 1.0), ValueError,
         r"x must have shape \(n, d\).*got \(1, 4, 3\).*x\.reshape\(len\(x\), -1\)"),
        (lambda: metrics.parzen_log_likelihood(S, X[:, :2], 1.0), ValueError,
         r"samples and x have different feature sizes: 3 vs 2"),
        (lambda: metrics.parzen_log_likelihood(S[:0], X, 1.0), ValueError,
         r"samples is empty \(shape \(0, 3\)\)"),
        (lambda: metrics.parzen_log_likelihood(S, X[:, :0], 1.0), ValueError, r"x is empty"),
        (lambda: metrics.parzen_log_likelihood(S, NAN, 1.0), ValueError, r"x contains NaN or inf"),
        (lambda: metrics.parzen_log_likelihood(INF, X, 1.0), ValueError,
         r"samples contains NaN or inf"),
        (lambda: metrics.parzen_log_likelihood(S, X, 0.0), ValueError,
         r"sigma must be a finite number > 0, got 0\.0"),
        (lambda: metrics.parzen_log_likelihood(S, X, -1), ValueError, r"sigma must be .* > 0"),
        (lambda: metrics.parzen_log_likelihood(S, X, np.nan), ValueError, r"sigma must be a fin"),
        (lambda: metrics.parzen_log_likelihood(S, X, np.inf), ValueError, r"sigma must be a fin"),
        (lambda: metrics.parzen_log_likelihood(S, X, "0.1"), TypeError,
         r"sigma must be a single real number"),
        (lambda: metrics.parzen_log_likelihood(S, X, [0.1, 0.2]), TypeError,
         r"sigma must be a single real number"),
        (lambda: metrics.parzen_log_likelihood(S.astype(str), X, 1.0), TypeError,
         r"samples must be a real numeric array"),
        (lambda: metrics.parzen_log_likelihood(S, X, 1.0, batch_size=0), ValueError,
         r"batch_size must be >= 1, got 0"),
        (lambda: metrics.parzen_log_likelihood(S, X, 1.0, chunk_size=2.5), TypeError,
         r"chunk_size must be a positive integer"),
        (lambda: metrics.select_parzen_sigma(S, X, []), ValueError,
         r"sigmas must be a non-empty 1-D array"),
        (lambda: metrics.select_parzen_sigma(S, X, [0.1, -0.2]), ValueError,
         r"sigmas must all be finite and > 0"),
        (lambda: metrics.select_parzen_sigma(S, X[:, :1]), ValueError,
         r"samples and x_valid have different feature sizes"),
        (lambda: metrics.parzen_evaluate(S, X, X[:, :2]), ValueError,
         r"samples and x have different feature sizes"),
        (lambda: metrics.mode_coverage(S, X, 0.0), ValueError, r"sigma must be a finite number"),
        (lambda: metrics.mode_coverage(S, X[:, :2], 0.1), ValueError,
         r"samples and means have different feature sizes"),
        (lambda: metrics.mode_coverage(S, X[:0], 0.1), ValueError, r"means is empty"),
        (lambda: metrics.mode_coverage(NAN, X, 0.1), ValueError, r"samples contains NaN or inf"),
        (lambda: metrics.nearest_neighbours(S[:, 0], X), ValueError,
         r"samples must have shape \(n, \.\.\.\).*got \(6,\)"),
        (lambda: metrics.nearest_neighbours(S, X[:, :2]), ValueError,
         r"samples and train have different feature sizes: 3 vs 2"),
        (lambda: metrics.nearest_neighbours(S, NAN), ValueError, r"train contains NaN or inf"),
        (lambda: metrics.nearest_neighbours(S, X[:0]), ValueError, r"train is empty"),
        (lambda: metrics.kde_1d(S, X), ValueError,
         r"samples must be 1-D samples of shape \(n,\) or \(n, 1\), got \(6, 3\)"),
        (lambda: metrics.kde_1d(S[:0, 0], X), ValueError, r"samples is empty"),
        (lambda: metrics.kde_1d(INF[:, 0], X), ValueError, r"samples contains NaN or inf"),
        (lambda: metrics.kde_1d(S[:, 0], X, 0.0), ValueError,
         r"bandwidth must be a finite number > 0"),
        (lambda: metrics.kde_1d(np.ones(5), X), ValueError, r"no spread.*pass bandwidth="),
        (lambda: metrics.kde_1d(S[:, 0], X.astype(str)), TypeError,
         r"x must be a real numeric array"),
        (lambda: metrics.optimal_discriminator(np.zeros(2), [0.1, -0.1], [0.1, 0.1]), ValueError,
         r"p_data must be finite and >= 0"),
        (lambda: metrics.optimal_discriminator(np.zeros(2), [0.1, 0.1], [np.nan, 0.1]),
         ValueError, r"p_g must be finite and >= 0"),
        (lambda: metrics.optimal_discriminator(np.zeros(3), [0.1, 0.1], [0.1, 0.1, 0.1]),
         ValueError, r"p_data has shape \(2,\) but x has shape \(3,\)"),
        (lambda: metrics.label_fidelity([0, 1], [0, 1, 1], num_classes=2), ValueError,
         r"predicted and asked have different lengths: 2 vs 3"),
        (lambda: metrics.label_fidelity([0, 2], [0, 1], num_classes=2), ValueError,
         r"predicted holds the label 2, outside 0\.\.1"),
        (lambda: metrics.label_fidelity([0, 1], [0, -1], num_classes=2), ValueError,
         r"asked holds the label -1, outside 0\.\.1"),
        (lambda: metrics.label_fidelity([0.0, 1.0], [0, 1], num_classes=2), TypeError,
         r"predicted must be integer class labels, got dtype float64.*astype\(np\.int64\)"),
        (lambda: metrics.label_fidelity([0, 1], [[0], [1]], num_classes=2), ValueError,
         r"asked must have shape \(n,\).*got \(2, 1\).*asked\.ravel\(\)"),
        (lambda: metrics.label_fidelity([], [], num_classes=2), TypeError,
         r"predicted must be integer class labels, got dtype float64"),
        (lambda: metrics.label_fidelity(np.zeros(0, int), np.zeros(0, int), num_classes=2),
         ValueError, r"predicted is empty"),
        (lambda: metrics.label_fidelity([0, 1], [0, 1], num_classes=0), ValueError,
         r"num_classes must be >= 1, got 0"),
        (lambda: metrics.label_fidelity([0, 1], [0, 1], num_classes=2.0), TypeError,
         r"num_classes must be a positive integer"),
        (lambda: metrics.label_fidelity(["a"], [0], num_classes=2), TypeError,
         r"predicted must be a real numeric array"),
    ],
)  # fmt: skip
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
