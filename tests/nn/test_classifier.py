"""softmax_cross_entropy against central differences and a direct formula, and the Classifier
built on it: it learns scikit-learn's digits, one seed gives one classifier, bad input is named."""

import warnings

import numpy as np
import pytest

from numgan.data import load_digits, split_labeled
from numgan.nn.classifier import Classifier, softmax_cross_entropy, train_classifier
from numgan.nn.gradcheck import TOLERANCE, numerical_gradient, rel_error
from numgan.nn.layer import NotInitializedError


def random_logits(rng, N=6, K=5):
    """Moderate logits, plus one row offset by 1000: exp(1000) overflows, so that row passes
    only if the row max is subtracted first.  Its spread is moderate, so its gradient is not
    vanishingly small and central differences measure it to full accuracy."""
    z = rng.normal(scale=2.0, size=(N, K))
    z[0] += 1000.0
    return z, rng.integers(0, K, size=N)


def direct_loss(z, y):
    """-(1/N) sum_i log softmax(z_i)[y_i], written out with no shift: moderate logits only."""
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(y)), y]))


def gradient_error(grad_fn, z, y):
    """rel_error of grad_fn's dlogits against central differences of the loss, in float64."""
    numeric = numerical_gradient(lambda: softmax_cross_entropy(z, y)[0], z)
    return rel_error(grad_fn(z, y), numeric)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_central_differences(seed):
    z, y = random_logits(np.random.default_rng(seed))
    loss, _ = softmax_cross_entropy(z, y)
    assert np.isfinite(loss)
    assert gradient_error(lambda z, y: softmax_cross_entropy(z, y)[1], z, y) < TOLERANCE


def test_negative_controls_wrong_gradients_are_caught():
    z, y = random_logits(np.random.default_rng(3))
    N = len(z)

    def without_mean(z, y):  # forgot the 1/N
        return softmax_cross_entropy(z, y)[1] * N

    def sign_flipped(z, y):
        return -softmax_cross_entropy(z, y)[1]

    def without_onehot(z, y):  # p / N: the label's -1 left out
        return softmax_cross_entropy(z, y)[1] + np.eye(z.shape[1])[y] / N

    for wrong in (without_mean, sign_flipped, without_onehot):
        assert gradient_error(wrong, z, y) > 1e-2, wrong.__name__


def test_loss_and_gradient_match_the_direct_formulas():
    rng = np.random.default_rng(4)
    z, y = rng.normal(size=(7, 4)), rng.integers(0, 4, size=7)
    loss, dlogits = softmax_cross_entropy(z, y)
    assert loss == pytest.approx(direct_loss(z, y), rel=1e-13)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dlogits, (p - np.eye(4)[y]) / 7, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-16)  # softmax sums to 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_give_finite_exact_values_without_warnings(dtype):
    z = np.array([[0.0, 1e4], [1e4, -1e4], [-1e4, -1e4]], dtype=dtype)
    y = np.array([0, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow or log(0) would raise
        loss, dlogits = softmax_cross_entropy(z, y)
    # Row 0 puts all mass on the wrong class: -log p = 1e4.  Row 1 is right: 0.  Row 2 ties.
    assert loss == pytest.approx((1e4 + 0.0 + np.log(2.0)) / 3, rel=1e-6)
    assert dlogits.dtype == dtype
    expected = np.array([[-1.0, 1.0], [0.0, 0.0], [0.5, -0.5]]) / 3
    np.testing.assert_allclose(dlogits, expected, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_confidently_right_label_keeps_its_small_gradient(dtype):
    """p - 1 at the label would round to 0 here; the gradient is -2 exp(-40) / (1 + 2 exp(-40))."""
    z = np.array([[40.0, 0.0, 0.0]], dtype=dtype)
    _, dlogits = softmax_cross_entropy(z, np.array([0]))
    tiny = np.exp(-40.0) / (1.0 + 2.0 * np.exp(-40.0))
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(dlogits, [[-2.0 * tiny, tiny, tiny]], rtol=rtol)


@pytest.mark.parametrize(
    ("logits", "y", "error", "match"),
    [
        (np.zeros((3, 4)), [0, 1], ValueError, r"labels of shape \(2,\) for 3 samples"),
        (np.zeros((2, 4)), [0, 4], ValueError, r"label 4 is out of range: labels must be 0\.\.3"),
        (np.zeros((2, 4)), [-1, 0], ValueError, r"label -1 is out of range"),
        (np.zeros((2, 4)), [0.0, 1.0], ValueError, r"labels must be integers.*astype"),
        (np.zeros((2, 4)), [True, False], ValueError, r"labels must be integers"),
        (np.zeros(4), [0], ValueError, r"logits must have shape \(N, K\).*got \(4,\)"),
        (np.zeros((2, 1)), [0, 0], ValueError, r"K >= 2 classes, got \(2, 1\)"),
        (np.array([[0.0, np.nan]]), [0], ValueError, r"logits contain NaN or inf"),
        (np.array([["a", "b"]]), [0], TypeError, r"logits must be real numbers"),
    ],
)  # fmt: skip
def test_loss_rejects_bad_input(logits, y, error, match):
    with pytest.raises(error, match=match):
        softmax_cross_entropy(logits, np.asarray(y))


def test_network_gradient_through_the_classifier():
    """The loss's dlogits, through the classifier's own float64 network, gives every parameter
    gradient that central differences give (dropout off: the function must be fixed)."""
    rng = np.random.default_rng(5)
    clf = Classifier(6, 3, hidden=(5,), dropout=0.0, dtype="float64")
    clf.net.initialize(rng)
    x = rng.normal(size=(4, 6))
    y = np.array([0, 2, 1, 2])

    def loss():
        return softmax_cross_entropy(clf.net.forward(x), y)[0]

    clf.net.zero_grad()
    clf.net.backward(softmax_cross_entropy(clf.net.forward(x), y)[1])
    analytic = clf.net.flat_grads.copy()
    assert rel_error(analytic, numerical_gradient(loss, clf.net.flat_params)) < TOLERANCE


# --- the classifier -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits, split 80 / 20 at random (seeded): (x_train, y_train), (x_test,
    y_test), images (n, 8, 8) in [0, 1]."""
    x, y = load_digits()
    train, _, test = split_labeled(x, y, (0.8, 0.0, 0.2), np.random.default_rng(0))
    return train, test


def test_classifier_learns_digits(digits):
    """With the defaults, test accuracy measured 0.98 to 0.99 over seeds 0..7 (both backends);
    chance is 0.1."""
    (x_train, y_train), (x_test, y_test) = digits
    clf = train_classifier(x_train, y_train, num_classes=10, rng=np.random.default_rng(0))
    assert clf.accuracy(x_test, y_test) >= 0.95
    assert clf.losses[-1] < clf.losses[0]
    predicted = clf.predict(x_test)
    assert predicted.dtype == np.int64 and predicted.shape == (len(x_test),)
    np.testing.assert_array_equal(clf.predict(x_test.reshape(len(x_test), 64)), predicted)


def test_same_seed_same_classifier(digits):
    (x_train, y_train), (x_test, _) = digits
    options = {"num_classes": 10, "hidden": (32,), "epochs": 2}
    a = train_classifier(x_train, y_train, rng=np.random.default_rng(7), **options)
    b = train_classifier(x_train, y_train, rng=np.random.default_rng(7), **options)
    c = train_classifier(x_train, y_train, rng=np.random.default_rng(8), **options)
    np.testing.assert_array_equal(a.net.flat_params, b.net.flat_params)
    np.testing.assert_array_equal(a.predict(x_test), b.predict(x_test))
    assert not np.array_equal(a.net.flat_params, c.net.flat_params)
    # fit starts afresh from its rng: refitting a with seed 8 gives c.
    a.fit(x_train, y_train, rng=np.random.default_rng(8), epochs=2)
    np.testing.assert_array_equal(a.net.flat_params, c.net.flat_params)


def test_predictions_run_in_eval_mode(digits):
    """Dropout is on in training only: logits are repeatable and differ from a training pass."""
    (x_train, y_train), (x_test, _) = digits
    rng = np.random.default_rng(1)
    clf = train_classifier(x_train, y_train, num_classes=10, rng=rng, hidden=(32,), epochs=1)
    logits = clf.logits(x_test)
    np.testing.assert_array_equal(clf.logits(x_test), logits)
    assert not np.array_equal(clf.net.forward(x_test.reshape(-1, 64), training=True), logits)


def test_classifier_rejects_bad_input(digits):
    (x_train, y_train), _ = digits
    rng = np.random.default_rng(0)
    with pytest.raises(NotInitializedError, match=r"not trained yet: call fit"):
        Classifier(64, 10).predict(x_train)
    clf = Classifier(64, 10, hidden=(8,))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 64\).*got \(5, 7\)"):
        clf.fit(np.zeros((5, 7)), np.zeros(5, int), rng=rng)
    with pytest.raises(ValueError, match=r"label 10 is out of range: labels must be 0\.\.9"):
        clf.fit(x_train[:3], np.array([0, 1, 10]), rng=rng)
    with pytest.raises(ValueError, match=r"labels of shape \(2,\) for 3 samples"):
        clf.fit(x_train[:3], np.array([0, 1]), rng=rng)
    with pytest.raises(ValueError, match=r"labels must be integers"):
        clf.fit(x_train[:3], np.array([0.0, 1.0, 2.0]), rng=rng)
    with pytest.raises(TypeError, match=r"rng must be a numpy Generator"):
        clf.fit(x_train[:3], y_train[:3], rng=0)
    with pytest.raises(ValueError, match=r"batch_size must be >= 1, got 0"):
        clf.fit(x_train[:3], y_train[:3], rng=rng, batch_size=0)
    with pytest.raises(ValueError, match=r"lr must be a positive, finite number"):
        clf.fit(x_train[:3], y_train[:3], rng=rng, lr=-1.0)
    with pytest.raises(ValueError, match=r"x has no rows"):
        clf.fit(x_train[:0], y_train[:0], rng=rng)
    with pytest.raises(TypeError, match=r"hidden is a sequence of widths: write hidden=\(16,\)"):
        Classifier(64, 10, hidden=16)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1\.0"):
        Classifier(64, 10, dropout=1.0)
    with pytest.raises(ValueError, match=r"num_classes must be >= 2, got 1"):
        Classifier(64, 1)
    with pytest.raises(ValueError, match=r"float32 or float64"):
        Classifier(64, 10, dtype="float16")
