"""Evaluation: Parzen log-likelihood, mode coverage, nearest neighbours, label fidelity, 1-D
diagnostics.

A leaf module: every function takes plain arrays, so it scores any generator, numgan's or not.
All arithmetic is float64, whatever the inputs' dtype.

Parzen window estimate (Section 5 of Goodfellow et al., 2014, after Breuleux et al., 2011).
The generated samples s_j, j = 1..n, are the centres of isotropic Gaussians of width sigma:

    log p(x) = logsumexp_j( -||x - s_j||^2 / (2 sigma^2) ) - log n - (d/2) log(2 pi sigma^2)

The paper's protocol: n = 10,000 samples, sigma chosen on the first 1,000 validation images
from np.logspace(-1, 0, 10), then the mean and standard error of log p over the test set.
``parzen_evaluate`` runs it; pass ``x_valid[:1000]`` for the paper's validation subset.

Squared distances use ||x - s||^2 = ||x||^2 - 2 x.s + ||s||^2: one matrix product per block, and
rounding can make the sum slightly negative when x ~ s, so it is clipped at 0.  That rounding is
~eps (||x||^2 + ||s||^2), so a sigma tiny next to the data's norm calls for centred data.
Blocks are batch_size rows of x by chunk_size centres; the logsumexp streams over the chunks, so
memory stays at one batch_size x chunk_size block however many samples there are.

Mode coverage on mixtures (VEEGAN, Srivastava et al., 2017; PacGAN, Lin et al., 2018): a sample
is high quality when its Euclidean distance to the nearest mode is < 3 sigma; the number of modes
hit, the fraction of high-quality samples, and KL(histogram of those samples over modes || uniform).

Label fidelity of a class-conditional generator: a classifier trained on real data labels each
sample G(z, k), and the score is how often that label is the class k the generator was asked for,
overall and per class.  The labels come in as arrays, from any classifier.

1-D diagnostics for the paper's Figure 1: the optimal discriminator D*(x) = p_data / (p_data + p_g)
(Proposition 1), a Gaussian KDE so that p_g can be estimated from G's samples, and the game's value
at the optimum, V(D*, G*) = -log 4 (Theorem 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._checks import column_to_1d, real_array

OPTIMAL_VALUE = -math.log(4.0)
"""V(D*, G*) = log(1/2) + log(1/2) = -log 4: the game's value once p_g = p_data (Theorem 1)."""

PARZEN_SIGMAS = np.logspace(-1, 0, 10)
"""The paper's grid of Parzen widths: 10 values from 0.1 to 1, evenly spaced in log."""

_EPS = np.finfo(np.float64).eps
# Default block: 256 query rows x 4096 centres of float64 = 8 MB of distances at a time.
_BATCH, _CHUNK = 256, 4096


# --- input checks -------------------------------------------------------------------------------


def _as_points(a, name: str, *, flatten: bool = False) -> np.ndarray:
    """A finite, non-empty float64 array of points, shape (n, d).

    flatten=False: a must be 2-D.  flatten=True: a is (n, ...), each row flattened (images).
    """
    a = real_array(a, name)
    if flatten:
        if a.ndim < 2:
            raise ValueError(
                f"{name} must have shape (n, ...), one example per row, got {a.shape}: "
                f"for scalar examples pass {name}[:, None]"
            )
        a = a.reshape(len(a), math.prod(a.shape[1:]))  # -1 fails on empty arrays
    elif a.ndim != 2:
        if a.ndim < 2:
            fix = f"{name}[:, None] for 1-D points"
        else:
            fix = f"{name}.reshape(len({name}), -1)"
        raise ValueError(
            f"{name} must have shape (n, d), one point per row, got {a.shape}: pass {fix}"
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}): it needs at least one point")
    a = a.astype(np.float64, copy=False)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf: drop or fix those rows first")
    return a


def _check_same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} and {name_b} have different feature sizes: {a.shape[1]} vs {b.shape[1]} "
            f"(shapes {a.shape} and {b.shape}): both must describe points of the same space"
        )


def _check_positive(value, name: str) -> float:
    """A finite real number > 0, as a float."""
    a = np.asarray(value)
    if a.ndim != 0 or a.dtype.kind not in "iuf":  # no bools, strings or arrays
        raise TypeError(f"{name} must be a single real number, got {value!r}")
    v = float(a)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _check_batch(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


# The smallest Parzen width numgan computes with, far below any a Parzen estimate uses: below
# it 1 / (2 sigma^2) and the log-likelihoods' squares (their spread) leave float64's range.
SIGMA_MIN = 1e-30


def _check_sigmas(sigmas) -> np.ndarray:
    if sigmas is None:
        return PARZEN_SIGMAS.copy()
    s = np.asarray(sigmas)
    if s.dtype.kind not in "iuf" or s.ndim != 1 or s.size == 0:
        raise ValueError(
            f"sigmas must be a non-empty 1-D array of widths, got {s.dtype} array of shape "
            f"{s.shape}: for example np.logspace(-1, 0, 10)"
        )
    s = s.astype(np.float64)
    if not (np.isfinite(s).all() and (s > 0).all()):
        raise ValueError(f"sigmas must all be finite and > 0, got {s}")
    if not (s >= SIGMA_MIN).all():
        raise ValueError(
            f"sigmas must all be at least {SIGMA_MIN:g}, got {s}: narrower, the log-likelihoods "
            "leave float64's range"
        )
    return s


# --- Parzen window log-likelihood ---------------------------------------------------------------


def _parzen_log_density(
    samples: np.ndarray, x: np.ndarray, sigmas: np.ndarray, batch_size: int, chunk_size: int
) -> np.ndarray:
    """log p_sigma(x_i) for every width at once.  samples: (n, d), x: (N, d) -> (N, S).

    The squared distances do not depend on sigma, so each block of them serves all S widths.
    Streaming logsumexp: for every x_i keep dmin_i = min_j ||x_i - s_j||^2 over the chunks seen,
    and, per width, acc = sum_j exp(-(d2_ij - dmin_i) / (2 sigma^2)).  The largest exponent is
    -dmin_i / (2 sigma^2) for every sigma, so one running minimum shifts them all; when a chunk
    lowers dmin_i the old sum is rescaled by exp(-(dmin_old - dmin_new) / (2 sigma^2)) <= 1.
    Every exponent is <= 0 and the nearest centre contributes exp(0) = 1, so acc >= 1: no
    overflow, and no log(0) however small sigma is.
    """
    n, d = samples.shape
    inv_two_var = 1.0 / (2.0 * sigmas**2)  # (S,)
    sq_s = np.einsum("ij,ij->i", samples, samples)  # ||s_j||^2, (n,)
    out = np.empty((len(x), len(sigmas)))
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        sq_x = np.einsum("ij,ij->i", xb, xb)
        dmin = np.full(len(xb), np.inf)
        acc = np.zeros((len(xb), len(sigmas)))
        for c in range(0, n, chunk_size):
            sc = samples[c : c + chunk_size]
            d2 = sq_x[:, None] - 2.0 * (xb @ sc.T) + sq_s[None, c : c + chunk_size]
            np.maximum(d2, 0.0, out=d2)  # rounding can dip below 0 when x ~ s
            dmin_new = np.minimum(dmin, d2.min(axis=1))
            d2 -= dmin_new[:, None]  # now >= 0: the exponents below are <= 0
            shift = dmin_new - dmin  # <= 0; -inf on the first chunk, where acc is 0 anyway
            for k, w in enumerate(inv_two_var):
                acc[:, k] = acc[:, k] * np.exp(shift * w) + np.exp(-w * d2).sum(axis=1)
            dmin = dmin_new
        out[start : start + len(xb)] = (
            -dmin[:, None] * inv_two_var
            + np.log(acc)
            - math.log(n)
            - 0.5 * d * np.log(2.0 * math.pi * sigmas**2)
        )
    return out


def parzen_log_density(
    samples: np.ndarray,
    x: np.ndarray,
    sigma: float,
    *,
    batch_size: int = _BATCH,
    chunk_size: int = _CHUNK,
) -> np.ndarray:
    """Per-example Parzen log-likelihood.  samples: (n, d), x: (N, d) -> log p: (N,)

        log p(x_i) = logsumexp_j( -||x_i - s_j||^2 / (2 sigma^2) ) - log n - (d/2) log(2 pi sigma^2)

    Memory: one (batch_size, chunk_size) float64 block of distances at a time.
    """
    samples = _as_points(samples, "samples")
    x = _as_points(x, "x")
    _check_same_dim(samples, x, "samples", "x")
    sigma = _check_positive(sigma, "sigma")
    if sigma < SIGMA_MIN:
        raise ValueError(
            f"sigma must be at least {SIGMA_MIN:g}, got {sigma!r}: narrower, the "
            "log-likelihoods leave float64's range"
        )
    batch_size = _check_batch(batch_size, "batch_size")
    chunk_size = _check_batch(chunk_size, "chunk_size")
    return _parzen_log_density(samples, x, np.array([sigma]), batch_size, chunk_size)[:, 0]


def parzen_log_likelihood(
    samples: np.ndarray,
    x: np.ndarray,
    sigma: float,
    *,
    batch_size: int = _BATCH,
    chunk_size: int = _CHUNK,
) -> tuple[float, float]:
    """Mean Parzen log-likelihood of x and its standard error.  samples: (n, d), x: (N, d)

        mean = (1/N) sum_i log p(x_i),    stderr = std_i(log p(x_i)) / sqrt(N)

    with log p as in ``parzen_log_density``.  std has ddof=0, as in the paper's code
    (``ll.std() / numpy.sqrt(N)``), so the numbers compare with its table; for N in the
    thousands the difference from ddof=1 is a factor sqrt(N / (N-1)) ~ 1.0001.
    """
    ll = parzen_log_density(samples, x, sigma, batch_size=batch_size, chunk_size=chunk_size)
    return float(ll.mean()), float(ll.std() / math.sqrt(len(ll)))


def _parzen_validation_means(samples, x_valid, sigmas, batch_size, chunk_size):
    samples = _as_points(samples, "samples")
    x_valid = _as_points(x_valid, "x_valid")
    _check_same_dim(samples, x_valid, "samples", "x_valid")
    sigmas = _check_sigmas(sigmas)
    batch_size = _check_batch(batch_size, "batch_size")
    chunk_size = _check_batch(chunk_size, "chunk_size")
    means = _parzen_log_density(samples, x_valid, sigmas, batch_size, chunk_size).mean(axis=0)
    return samples, sigmas, means


def select_parzen_sigma(
    samples: np.ndarray,
    x_valid: np.ndarray,
    sigmas: np.ndarray | None = None,
    *,
    batch_size: int = _BATCH,
    chunk_size: int = _CHUNK,
) -> float:
    """The width in sigmas (default: the paper's np.logspace(-1, 0, 10)) that maximises the mean
    Parzen log-likelihood of x_valid.  samples: (n, d), x_valid: (N, d) -> sigma

    Ties go to the first width in sigmas (np.argmax), as in the paper's code.
    """
    _, sigmas, means = _parzen_validation_means(samples, x_valid, sigmas, batch_size, chunk_size)
    return float(sigmas[np.argmax(means)])


def parzen_evaluate(
    samples: np.ndarray,
    x_valid: np.ndarray,
    x_test: np.ndarray,
    sigmas: np.ndarray | None = None,
    *,
    batch_size: int = _BATCH,
    chunk_size: int = _CHUNK,
) -> dict:
    """The paper's protocol: choose sigma on x_valid, then score x_test with it.

    samples: (n, d), x_valid: (N_valid, d), x_test: (N_test, d) -> dict with
        sigma         the chosen width
        mean, stderr  ``parzen_log_likelihood(samples, x_test, sigma)``
        sigmas        (S,) the widths tried
        valid_means   (S,) mean validation log-likelihood for each width
    """
    samples, sigmas, means = _parzen_validation_means(
        samples, x_valid, sigmas, batch_size, chunk_size
    )
    sigma = float(sigmas[np.argmax(means)])
    mean, stderr = parzen_log_likelihood(
        samples, x_test, sigma, batch_size=batch_size, chunk_size=chunk_size
    )
    return {"sigma": sigma, "mean": mean, "stderr": stderr, "sigmas": sigmas, "valid_means": means}


# --- nearest neighbours -------------------------------------------------------------------------


def _nearest(
    a: np.ndarray, b: np.ndarray, batch_size: int, chunk_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each row of a, the index of the nearest row of b and its squared distance.

    a: (N, d), b: (M, d) -> idx: (N,) int64, d2: (N,) float64

    The expansion ||a||^2 - 2 a.b + ||b||^2 ranks the rows of a block in one matrix product,
    but its rounding can reorder near-ties (a BLAS product need not round two identical columns
    alike).  So every row of b whose expanded distance is within the rounding bound of the block's
    minimum is re-measured directly as sum((a_i - b_j)^2), and the smallest of those wins, the
    lowest index among equals.  Usually that is one row.  Across chunks, a later chunk replaces
    the best only when strictly closer, so ties keep the lowest index there too.
    """
    sq_b = np.einsum("ij,ij->i", b, b)
    # Rounding bound of the expansion: each term errs by at most ~d eps times ||a||^2 + ||b||^2;
    # a generous factor keeps the true minimum among the candidates.
    rel = 4.0 * (a.shape[1] + 2) * _EPS
    idx = np.empty(len(a), dtype=np.int64)
    d2_best = np.empty(len(a))
    for start in range(0, len(a), batch_size):
        ab = a[start : start + batch_size]
        sq_a = np.einsum("ij,ij->i", ab, ab)
        best = np.full(len(ab), np.inf)
        best_j = np.zeros(len(ab), dtype=np.int64)
        for c in range(0, len(b), chunk_size):
            bc = b[c : c + chunk_size]
            d2 = sq_a[:, None] - 2.0 * (ab @ bc.T) + sq_b[None, c : c + chunk_size]
            tol = rel * (sq_a + sq_b[c : c + chunk_size].max())
            cand = d2 <= (d2.min(axis=1) + tol)[:, None]
            j = cand.argmax(axis=1)  # first candidate of each row
            exact = ((ab - bc[j]) ** 2).sum(axis=1)
            for i in np.flatnonzero(cand.sum(axis=1) > 1):  # near-ties: measure each directly
                js = np.flatnonzero(cand[i])
                e = ((ab[i] - bc[js]) ** 2).sum(axis=1)
                k = np.argmin(e)  # first of the smallest: the lowest index
                j[i], exact[i] = js[k], e[k]
            closer = exact < best
            best = np.where(closer, exact, best)
            best_j = np.where(closer, c + j, best_j)
        idx[start : start + len(ab)] = best_j
        d2_best[start : start + len(ab)] = best
    return idx, d2_best


def nearest_neighbours(
    samples: np.ndarray,
    train: np.ndarray,
    *,
    batch_size: int = _BATCH,
    chunk_size: int = _CHUNK,
) -> np.ndarray:
    """Index of the closest training example to each sample, by L2 in pixel space.

    samples: (n, ...), train: (N, ...) -> idx: (n,) int64, idx_i = argmin_j ||samples_i - train_j||

    Rows are flattened, so images (n, 28, 28) compare with flat data (N, 784).  Ties go to the
    lowest index.  The paper's Figure 2 shows these neighbours beside the samples: a generator
    that memorised its data returns its training images.
    Memory: one (batch_size, chunk_size) float64 block at a time.
    """
    samples = _as_points(samples, "samples", flatten=True)
    train = _as_points(train, "train", flatten=True)
    _check_same_dim(samples, train, "samples", "train")
    batch_size = _check_batch(batch_size, "batch_size")
    chunk_size = _check_batch(chunk_size, "chunk_size")
    return _nearest(samples, train, batch_size, chunk_size)[0]


# --- mode coverage ------------------------------------------------------------------------------


def mode_coverage(samples: np.ndarray, means: np.ndarray, sigma: float) -> dict:
    """How well samples cover a mixture of K Gaussians of width sigma.

    samples: (n, d), means: (K, d) -> dict

    A sample is high quality when its Euclidean distance to the nearest mode is < 3 sigma (strict).
    Returns a dict:
        counts        (K,) int64, high-quality samples per mode (each counts for its nearest mode)
        modes         int, modes with at least one high-quality sample
        high_quality  float in [0, 1], fraction of all n samples that are high quality
        reverse_kl    float, KL(p || u) = sum_k p_k log(p_k K), natural log, 0 log 0 = 0, where
                      p = counts / counts.sum() and u is uniform over the K modes.  0 when every
                      mode gets the same share, log K when one mode gets them all.  inf when no
                      sample is high quality: p is undefined, and inf ranks that generator below
                      every one that hits a mode (nan would compare false and vanish from min()).
    """
    samples = _as_points(samples, "samples")
    means = _as_points(means, "means")
    _check_same_dim(samples, means, "samples", "means")
    sigma = _check_positive(sigma, "sigma")
    K = len(means)
    nearest, d2 = _nearest(samples, means, _BATCH, _CHUNK)
    good = np.sqrt(d2) < 3.0 * sigma
    counts = np.bincount(nearest[good], minlength=K).astype(np.int64)
    total = counts.sum()
    if total == 0:
        reverse_kl = math.inf
    else:
        p = counts[counts > 0] / total  # 0 log 0 = 0: empty modes drop out
        reverse_kl = max(float(np.sum(p * np.log(p * K))), 0.0)  # rounding can give -1e-17
    return {
        "modes": int(np.count_nonzero(counts)),
        "high_quality": float(total / len(samples)),
        "reverse_kl": reverse_kl,
        "counts": counts,
    }


# --- label fidelity -----------------------------------------------------------------------------


def _as_labels(a, name: str, num_classes: int) -> np.ndarray:
    """A non-empty (n,) int64 array of class labels, each in 0..num_classes-1."""
    a = real_array(a, name)
    if a.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be integer class labels, got dtype {a.dtype}: pass "
            f"{name}.astype(np.int64) if they are whole numbers, {name}.argmax(1) if one-hot"
        )
    if a.ndim != 1:
        raise ValueError(
            f"{name} must have shape (n,), one label per sample, got {a.shape}: "
            f"pass {name}.ravel() for a column"
        )
    if a.size == 0:
        raise ValueError(f"{name} is empty: label fidelity needs at least one sample")
    bad = (a < 0) | (a >= num_classes)
    if bad.any():
        raise ValueError(
            f"{name} holds the label {a[bad][0]}, outside 0..{num_classes - 1}: "
            f"num_classes={num_classes} must count every class"
        )
    return a.astype(np.int64, copy=False)


def label_fidelity(predicted: np.ndarray, asked: np.ndarray, *, num_classes: int) -> dict:
    """How often a class-conditional generator draws the class it was asked for.

    predicted: (n,) a classifier's labels for the generated samples, asked: (n,) the classes the
    generator was conditioned on, both integers in 0..K-1 with K = num_classes -> dict
        overall    float in [0, 1], (1/n) sum_i [predicted_i == asked_i]
        per_class  (K,) float64, per_class[k] = the fraction of the samples asked for class k
                   that were predicted k; NaN for a class no sample asked for (no samples, no
                   fraction: a 0 would read as a class G always gets wrong)
        counts     (K,) int64, how many samples asked for each class

    The score is only as good as the classifier: a generator that draws every class perfectly
    scores about the classifier's accuracy on real test data, not 1, so quote both.
    """
    K = _check_batch(num_classes, "num_classes")
    predicted = _as_labels(predicted, "predicted", K)
    asked = _as_labels(asked, "asked", K)
    if len(predicted) != len(asked):
        raise ValueError(
            f"predicted and asked have different lengths: {len(predicted)} vs {len(asked)}: "
            "give one prediction per generated sample, in the same order"
        )
    hit = predicted == asked
    counts = np.bincount(asked, minlength=K).astype(np.int64)
    hits = np.bincount(asked[hit], minlength=K)
    per_class = np.full(K, np.nan)
    asked_for = counts > 0
    per_class[asked_for] = hits[asked_for] / counts[asked_for]
    return {"overall": float(hit.mean()), "per_class": per_class, "counts": counts}


# --- 1-D diagnostics ----------------------------------------------------------------------------


def _as_1d_samples(samples, name: str) -> np.ndarray:
    a = real_array(samples, name)
    s = column_to_1d(a)
    if s.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D samples of shape (n,) or (n, 1), got {a.shape}: "
            "kde_1d estimates a density on the real line"
        )
    s = s.astype(np.float64, copy=False)
    if s.size == 0:
        raise ValueError(f"{name} is empty: a density estimate needs at least one sample")
    if not np.isfinite(s).all():
        raise ValueError(f"{name} contains NaN or inf: drop those samples first")
    return s


def silverman_bandwidth(samples: np.ndarray) -> float:
    """Silverman's rule of thumb (Density Estimation, 1986, eq. 3.31).  samples: (n,) or (n, 1)

        h = 0.9 min(std, IQR / 1.34) n^(-1/5)

    with std at ddof=1; if the IQR is 0 (over half the samples equal), std alone.
    """
    s = _as_1d_samples(samples, "samples")
    std = s.std(ddof=1) if s.size > 1 else 0.0
    q75, q25 = np.percentile(s, [75, 25])
    spread = min(std, (q75 - q25) / 1.34) if q75 > q25 else std
    if not spread > 0:
        raise ValueError(
            "samples have no spread (all equal, or only one): Silverman's rule gives bandwidth 0; "
            "pass bandwidth= explicitly"
        )
    return float(0.9 * spread * s.size ** (-0.2))


def kde_1d(
    samples: np.ndarray,
    x: np.ndarray,
    bandwidth: float | None = None,
    *,
    batch_size: int = 1024,
) -> np.ndarray:
    """Gaussian kernel density estimate on the line.

    samples: (n,) or (n, 1), x: any shape -> p(x): x's shape

        p(x) = (1 / (n h sqrt(2 pi))) sum_j exp(-(x - s_j)^2 / (2 h^2))

    h = bandwidth, or ``silverman_bandwidth(samples)`` when None.  p_g for the optimal
    discriminator comes from kde_1d(G's samples, x).  Memory: one (batch_size, n) block.
    """
    s = _as_1d_samples(samples, "samples")
    h = silverman_bandwidth(s) if bandwidth is None else _check_positive(bandwidth, "bandwidth")
    batch_size = _check_batch(batch_size, "batch_size")
    x = real_array(x, "x")
    xf = x.reshape(-1).astype(np.float64)
    p = np.empty(xf.shape)
    for start in range(0, xf.size, batch_size):
        u = (xf[start : start + batch_size, None] - s[None, :]) / h
        p[start : start + batch_size] = np.exp(-0.5 * u * u).sum(axis=1)
    return (p / (s.size * h * math.sqrt(2.0 * math.pi))).reshape(x.shape)


def _density(p, x: np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(p(x) if callable(p) else p)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric densities, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if v.shape != x.shape:
        raise ValueError(
            f"{name} has shape {v.shape} but x has shape {x.shape}: "
            f"pass {name} evaluated at x, or a function of x"
        )
    if not np.isfinite(v).all() or (v < 0).any():
        raise ValueError(f"{name} must be finite and >= 0 everywhere: it is a density")
    return v


def optimal_discriminator(
    x: np.ndarray,
    p_data: np.ndarray | Callable[[np.ndarray], np.ndarray],
    p_g: np.ndarray | Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), the best D for a fixed G (Proposition 1).

    x: any shape; p_data, p_g: densities at x (arrays of x's shape) or functions of x
    -> D*: x's shape

    Where both densities are 0, D* is 0/0; it returns 1/2 there: the value D* takes wherever the
    two densities agree, and the output of a discriminator that has nothing to tell apart.  Off
    both supports D never sees data, so any value is optimal; 1/2 keeps plots flat and finite.
    """
    x = real_array(x, "x")
    pd = _density(p_data, x, "p_data")
    pg = _density(p_g, x, "p_g")
    total = pd + pg
    both_zero = total == 0
    return np.where(both_zero, 0.5, pd / np.where(both_zero, 1.0, total))


def value_gap(v: float | np.ndarray) -> float | np.ndarray:
    """v - (-log 4): how far a value V(D, G) is from the optimum of the game (Theorem 1).

    v: a number -> a float, or an array (any shape) -> a float64 array of v's shape.

    With D = D*, V(D*, G) = -log 4 + 2 JSD(p_data || p_g), so the gap is 2 JSD >= 0.
    """
    if np.ndim(v) == 0:
        return float(v) - OPTIMAL_VALUE
    return np.asarray(v, dtype=np.float64) - OPTIMAL_VALUE
