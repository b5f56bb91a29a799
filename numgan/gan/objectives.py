"""The GAN objectives as objects: what D and G minimise, computed on D's outputs.

An objective turns D's outputs on a real batch and on a fake batch into D's loss and its
gradient, and D's output on a fake batch into G's loss and its gradient.  The trainer, the
fused step and the gradient check know only this contract:

    loss, da = objective.d_loss_real(a_real, rng)   # D's loss on data, dL/da_real
    loss, da = objective.d_loss_fake(a_fake, rng)   # D's loss on G(z),  dL/da_fake
    loss, da = objective.g_loss(a_fake)             # G's loss,          dL/da_fake
    objective.score(a)                              # what D says of each sample (history)

Every loss is a minibatch mean, so the 1/m is in each gradient; gradients have the shape of
the outputs, (m, 1), ready to hand to ``D.backward``.  D's loss is the sum of its two halves:
they depend on separate outputs, so the trainer backpropagates the real half before D sees
the fakes (each forward overwrites D's caches).  ``rng`` is the run's Generator, for
objectives that draw (noisy labels); the others ignore it.

``CrossEntropy`` is the game of Goodfellow et al. (2014).  D ends in a logit a and
D(x) = sigmoid(a).  With targets t (1 for data, 0 for fakes), D minimises the cross-entropy

    L_D = (1/m) sum_i [t_i softplus(-a_i) + (1 - t_i) softplus(a_i)]     over both halves
        = -(1/m) sum [log D(x) + log(1 - D(G(z)))]          with t = 1 on data, 0 on fakes

which is descending L_D = ascending Algorithm 1's printed objective.  -log D = softplus(-a) and
-log(1 - D) = softplus(a): no loss ever takes log(sigmoid(a)), which is log(0) = -inf once D
is confident.  G minimises either

    "minimax"         L_G = (1/m) sum log(1 - D(G(z))) = -(1/m) sum softplus(a)
                      (Algorithm 1 exactly as printed; saturates when D rejects the fakes)
    "non-saturating"  L_G = -(1/m) sum log D(G(z))     =  (1/m) sum softplus(-a)
                      (Section 3 of the paper; strong gradients early in training)

Targets other than 1 and 0 express the seeds' remedies without touching the trainer:
``real_target=0.9`` is one-sided label smoothing (Salimans et al. 2016), and
``label_noise=p`` flips each of D's targets with probability p, drawn from the run's
Generator.  All of it is one kernel, ``sigmoid_cross_entropy`` (numgan/kernels/loss.py).

``LeastSquares`` is the least-squares GAN (Mao et al. 2017): D ends in a plain number a (no
sigmoid), D minimises 1/2 E[(a(x) - 1)^2] + 1/2 E[a(G(z))^2] and G minimises
1/2 E[(a(G(z)) - 1)^2].  Its optimal D is p_data / (p_data + p_g), the cross-entropy game's D*,
so "1/2 at the optimum" reads the same; its value -L_D is -1/4 there, not -log 4.

``FeatureMatching`` keeps a D objective and gives G another loss (Salimans et al. 2016): the
squared distance between the mean of an intermediate layer f of D on data and on G(z),

    L_G = sum_j (mean_i f_j(x_i) - mean_i f_j(G(z_i)))^2.

It needs data and D's features in the G step, so the trainer calls ``g_loss_features`` there
instead of ``g_loss``.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import ops
from ..nn.activations import sigmoid

G_LOSSES = ("minimax", "non-saturating")
# What `numgan train --loss` and `--g-loss` choose between (numgan.app.config).
D_LOSSES = ("cross-entropy", "least-squares")
ALL_G_LOSSES = (*G_LOSSES, "feature-matching")


def check_g_loss(kind: str) -> str:
    if kind not in G_LOSSES:
        raise ValueError(f"unknown g_loss {kind!r}: choose one of {', '.join(G_LOSSES)}")
    return kind


def _check_outputs(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if a.ndim != 2 or a.shape[1] != 1:
        raise ValueError(
            f"{name} must have shape (m, 1), one output of D per sample, got {a.shape}: "
            "the discriminator's last layer must have one output and no sigmoid"
        )
    if len(a) == 0:
        raise ValueError(f"{name} is empty: a minibatch needs at least one sample")
    return a


def softplus(t: np.ndarray) -> np.ndarray:
    """log(1 + exp(t)), elementwise, without overflow for large |t|."""
    return np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))


def cross_entropy(a: np.ndarray, target, *, scale: float = 1.0) -> tuple[float, np.ndarray]:
    """scale * (1/m) sum_i [t_i softplus(-a_i) + (1 - t_i) softplus(a_i)], and its gradient.

    a: (m, 1) logits; target: a number or an (m, 1) array of targets in [0, 1].
    Returns (loss, dloss/da of shape (m, 1)).
    """
    a = _check_outputs(a, "logits")
    if isinstance(target, float | int):
        t = _constant(float(target), a.shape, a.dtype)
    else:
        t = np.asarray(target, dtype=a.dtype)
        if t.shape != a.shape:
            raise ValueError(f"targets of shape {t.shape} for logits of shape {a.shape}")
    grad = np.empty_like(a)
    return ops.sigmoid_cross_entropy(a, t, scale, grad), grad


_CONSTANTS: dict[tuple, np.ndarray] = {}


def _constant(value: float, shape: tuple, dtype) -> np.ndarray:
    """A read-only array full of ``value``, made once per (value, shape, dtype): a trainer asks
    for the same few targets every step."""
    key = (value, shape, np.dtype(dtype))
    array = _CONSTANTS.get(key)
    if array is None:
        if len(_CONSTANTS) > 64:  # many batch sizes: keep the cache small
            _CONSTANTS.clear()
        array = np.full(shape, value, dtype=dtype)
        array.flags.writeable = False
        _CONSTANTS[key] = array
    return array


class Objective:
    """The contract: D's loss on each half and G's loss, each with its gradient.

    Subclasses implement the three losses and ``score``.  ``fused_targets`` says whether the
    fused step (numgan/gan/fused.py) can compute this objective, which it can only for
    cross-entropy with fixed targets.
    """

    #: a short name for run headers and reprs
    name = "objective"
    #: -L_D when p_g = p_data and D is optimal: the line the history's "value" tends to
    value_at_optimum = -math.log(4.0)
    #: what the history's "value" is, for plots
    value_label = "V(D, G)"

    def d_loss_real(self, a_real: np.ndarray, rng: np.random.Generator | None = None):
        """(L_D's data half, dL/da_real) for D's outputs a_real: (m, 1)."""
        raise NotImplementedError

    def d_loss_fake(self, a_fake: np.ndarray, rng: np.random.Generator | None = None):
        """(L_D's generated half, dL/da_fake) for D's outputs a_fake: (m, 1)."""
        raise NotImplementedError

    def g_loss(self, a_fake: np.ndarray):
        """(L_G, dL_G/da_fake) for D's outputs on G(z): (m, 1)."""
        raise NotImplementedError

    def score(self, a: np.ndarray) -> np.ndarray:
        """What D says of each sample, for the history (D(x) in [0, 1] for a logit D)."""
        raise NotImplementedError

    def fused_targets(self) -> tuple[float, float, float, float] | None:
        """(real target, fake target, G's target, G's scale) if the fused step can run this
        objective as fixed-target cross-entropy; None otherwise."""
        return None

    def value(self, a_real: np.ndarray, a_fake: np.ndarray) -> float:
        """-L_D on D's outputs, without label draws: the game's value for the evaluation."""
        return -(self.d_loss_real(a_real)[0] + self.d_loss_fake(a_fake)[0])


class CrossEntropy(Objective):
    """The 2014 game on D's logits, with optional smoothed or noisy targets.

    g_loss:       "non-saturating" (default) or "minimax": G's loss (module docstring)
    real_target:  D's target on data: 1 (default), 0.9 for one-sided label smoothing
    label_noise:  probability p of flipping each of D's targets (real <-> fake), drawn from
                  the run's Generator at every D step; 0 (default) draws nothing

    D's halves:   L_real = (1/m) sum [t softplus(-a) + (1 - t) softplus(a)],  t = real_target
                  L_fake = the same with t = 0 (each target flipped with probability p)
                  dL/da  = (1/m) [(1 - t) sigmoid(a) - t sigmoid(-a)]
    G:            non-saturating: cross-entropy with target 1, minimax: minus it with target 0

    G's loss keeps the unsmoothed targets: smoothing and noise regularise D only.
    """

    name = "cross-entropy"

    def __init__(
        self,
        g_loss: str = "non-saturating",
        *,
        real_target: float = 1.0,
        label_noise: float = 0.0,
    ) -> None:
        self.kind = check_g_loss(g_loss)
        real_target, label_noise = float(real_target), float(label_noise)
        if not 0.0 < real_target <= 1.0:
            raise ValueError(
                f"CrossEntropy: real_target must be in (0, 1] (0.9 for one-sided label "
                f"smoothing), got {real_target!r}"
            )
        if not 0.0 <= label_noise < 0.5:
            raise ValueError(
                f"CrossEntropy: label_noise is a flip probability in [0, 0.5), got {label_noise!r}"
            )
        self.real_target, self.label_noise = real_target, label_noise

    def _targets(self, a: np.ndarray, target: float, other: float, rng) -> np.ndarray | float:
        if self.label_noise == 0.0:
            return target
        if rng is None:
            raise ValueError(
                "CrossEntropy(label_noise=...) draws its flips from the run's Generator: pass rng"
            )
        flip = rng.random(a.shape) < self.label_noise
        return np.where(flip, other, target)

    def d_loss_real(self, a_real, rng=None):
        a = _check_outputs(a_real, "a_real")
        return cross_entropy(a, self._targets(a, self.real_target, 0.0, rng))

    def d_loss_fake(self, a_fake, rng=None):
        a = _check_outputs(a_fake, "a_fake")
        return cross_entropy(a, self._targets(a, 0.0, self.real_target, rng))

    def g_loss(self, a_fake):
        if self.kind == "minimax":  # minus the generated half of L_D, with its target 0
            return cross_entropy(a_fake, 0.0, scale=-1.0)
        return cross_entropy(a_fake, 1.0)

    def score(self, a):
        return sigmoid(a)

    def value(self, a_real, a_fake):
        # The game's V with clean targets: smoothing and noise are training devices.
        return gan_value(a_real, a_fake)

    def fused_targets(self):
        if self.label_noise:
            return None  # per-step draws: the layer path keeps the Generator's order simple
        g_target, g_scale = (0.0, -1.0) if self.kind == "minimax" else (1.0, 1.0)
        return self.real_target, 0.0, g_target, g_scale

    def __repr__(self) -> str:
        extra = "" if self.real_target == 1.0 else f", real_target={self.real_target}"
        extra += "" if not self.label_noise else f", label_noise={self.label_noise}"
        return f"CrossEntropy({self.kind!r}{extra})"


class LeastSquares(Objective):
    """The least-squares GAN (Mao et al. 2017) on D's plain output a (no sigmoid).

    D's halves:   L_real = (1/2m) sum (a - 1)^2,   dL/da = (a - 1) / m
                  L_fake = (1/2m) sum a^2,         dL/da = a / m
    G:            L_G    = (1/2m) sum (a - 1)^2 on G(z), the same gradient form as L_real

    The squared error keeps a gradient for fakes D rates far on the right side of the boundary,
    where the sigmoid cross-entropy saturates.  D's best reply is
    D*(x) = p_data(x) / (p_data(x) + p_g(x)), as in the 2014 game; L_D is 1/4 there once
    p_g = p_data, so the history's value -L_D tends to -1/4.  ``score`` is a itself.
    """

    name = "least-squares"
    value_at_optimum = -0.25
    value_label = "-L_D (least squares)"

    def __init__(self, g_loss: str = "non-saturating") -> None:
        if g_loss != "non-saturating":
            raise ValueError(
                f"LeastSquares: G's loss is 1/2 E[(D(G(z)) - 1)^2]; g_loss={g_loss!r} is a "
                "cross-entropy G loss: leave g_loss at its default (non-saturating)"
            )
        self.kind = g_loss

    @staticmethod
    def _half_square(a: np.ndarray, target: float) -> tuple[float, np.ndarray]:
        r = a - target
        return 0.5 * float(np.mean(r * r)), r / len(a)

    def d_loss_real(self, a_real, rng=None):
        return self._half_square(_check_outputs(a_real, "a_real"), 1.0)

    def d_loss_fake(self, a_fake, rng=None):
        return self._half_square(_check_outputs(a_fake, "a_fake"), 0.0)

    def g_loss(self, a_fake):
        return self._half_square(_check_outputs(a_fake, "a_fake"), 1.0)

    def score(self, a):
        return np.asarray(a)

    def __repr__(self) -> str:
        return "LeastSquares()"


class FeatureMatching(Objective):
    """D keeps its objective; G matches the mean of D's features on data (Salimans et al. 2016).

    d_objective:  D's game (CrossEntropy or LeastSquares); D's losses, score and value are its
    layers:       f is D's first ``layers`` layers; default None: all but the last, i.e. the
                  input of D's last layer

    G:   f_r = f(x): (m, F) on a data minibatch, f_g = f(G(z)): (m, F)
         L_G = sum_j (mu_r,j - mu_g,j)^2      mu_r = mean_i f_r[i], mu_g = mean_i f_g[i]
         dL_G/df_g[i] = -2 (mu_r - mu_g) / m  (the same row for every i)

    The data half is a constant for G: no gradient flows into f_r.
    """

    name = "feature-matching"

    def __init__(self, d_objective: Objective | None = None, *, layers: int | None = None):
        d_objective = CrossEntropy() if d_objective is None else d_objective
        if not isinstance(d_objective, Objective) or isinstance(d_objective, FeatureMatching):
            raise TypeError(
                "FeatureMatching: d_objective must be D's objective (CrossEntropy or "
                f"LeastSquares), got {d_objective!r}"
            )
        if layers is not None and (
            isinstance(layers, bool) or not isinstance(layers, (int, np.integer)) or layers < 1
        ):
            raise ValueError(
                f"FeatureMatching: layers is how many of D's first layers make f, a whole "
                f"number >= 1 (or None for all but the last), got {layers!r}"
            )
        self.d_objective = d_objective
        self.layers = None if layers is None else int(layers)
        self.kind = "feature-matching"
        self.value_at_optimum = d_objective.value_at_optimum
        self.value_label = d_objective.value_label

    def feature_layers(self, n_layers: int) -> int:
        """How many of D's first layers f is, for a D of ``n_layers`` layers."""
        count = n_layers - 1 if self.layers is None else self.layers
        if not 1 <= count < n_layers:
            raise ValueError(
                f"FeatureMatching: f must be some of D's first layers and not all of them: D "
                f"has {n_layers} layers, f would be {count}"
            )
        return count

    def d_loss_real(self, a_real, rng=None):
        return self.d_objective.d_loss_real(a_real, rng)

    def d_loss_fake(self, a_fake, rng=None):
        return self.d_objective.d_loss_fake(a_fake, rng)

    def g_loss(self, a_fake):
        raise TypeError(
            "FeatureMatching: G's loss is on D's features, not its output: the trainer calls "
            "g_loss_features(f_real, f_fake)"
        )

    def g_loss_features(self, f_real: np.ndarray, f_fake: np.ndarray) -> tuple[float, np.ndarray]:
        """(L_G, dL_G/df_fake) for D's features on data, f_real: (m, ...), and on G(z)."""
        f_real, f_fake = np.asarray(f_real), np.asarray(f_fake)
        if f_real.shape[1:] != f_fake.shape[1:] or len(f_fake) == 0:
            raise ValueError(
                f"FeatureMatching: features of shape {f_real.shape} on data and {f_fake.shape} "
                "on G(z): they must have the same shape per sample and at least one row"
            )
        diff = f_real.mean(axis=0) - f_fake.mean(axis=0)
        grad = np.broadcast_to(-2.0 * diff / len(f_fake), f_fake.shape)
        return float(np.sum(diff * diff)), np.ascontiguousarray(grad, dtype=f_fake.dtype)

    def score(self, a):
        return self.d_objective.score(a)

    def value(self, a_real, a_fake):
        return self.d_objective.value(a_real, a_fake)

    def __repr__(self) -> str:
        extra = "" if self.layers is None else f", layers={self.layers}"
        return f"FeatureMatching({self.d_objective!r}{extra})"


# -- the same losses as plain functions --------------------------------------------------


def neg_log_d(a: np.ndarray) -> tuple[float, np.ndarray]:
    """-(1/m) sum_i log D_i = (1/m) sum_i softplus(-a_i);  gradient -sigmoid(-a) / m.

    a: (m, 1) logits.  The data half of the D objective, and the non-saturating G objective.
    """
    return cross_entropy(a, 1.0)


def neg_log_one_minus_d(a: np.ndarray) -> tuple[float, np.ndarray]:
    """-(1/m) sum_i log(1 - D_i) = (1/m) sum_i softplus(a_i);  gradient sigmoid(a) / m.

    a: (m, 1) logits.  The generated half of the D objective; minus it is the minimax G objective.
    """
    return cross_entropy(a, 0.0)


def discriminator_loss(
    a_real: np.ndarray, a_fake: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """L_D = (1/m) sum softplus(-a_real) + (1/m) sum softplus(a_fake): returns (L_D, da_real,
    da_fake), dL_D/da_real = -sigmoid(-a_real) / m, dL_D/da_fake = sigmoid(a_fake) / m."""
    loss_real, da_real = neg_log_d(_check_outputs(a_real, "a_real"))
    loss_fake, da_fake = neg_log_one_minus_d(_check_outputs(a_fake, "a_fake"))
    return loss_real + loss_fake, da_real, da_fake


def generator_loss(a_fake: np.ndarray, kind: str = "non-saturating") -> tuple[float, np.ndarray]:
    """G's loss on D's logits a_fake: (m, 1), "minimax" or "non-saturating" (CrossEntropy)."""
    return CrossEntropy(kind).g_loss(_check_outputs(a_fake, "a_fake"))


def gan_value(a_real: np.ndarray, a_fake: np.ndarray) -> float:
    """The minibatch estimate of V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))] = -L_D.

    At the game's optimum (p_g = p_data, D = 1/2 everywhere) V = -log 4.
    """
    return -discriminator_loss(a_real, a_fake)[0]
