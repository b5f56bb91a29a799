"""The GAN objectives, computed on the discriminator's logits.

D ends in a logit a and D(x) = sigmoid(a).  With softplus(t) = log(1 + exp(t)):

    log D       = log sigmoid(a)     = -softplus(-a)
    log (1 - D) = log sigmoid(-a)    = -softplus(a)

so no loss ever takes log(sigmoid(a)), which is log(0) = -inf once D is confident.  softplus is
evaluated as max(t, 0) + log1p(exp(-|t|)), finite for any finite t (logits of +-1e4 included).
The derivatives are sigmoids, again evaluated without overflow:

    d softplus(a) / da = sigmoid(a),    d softplus(-a) / da = -sigmoid(-a)

All of them are one kernel, ``softplus_loss(a, s, scale)``: L = (scale/m) sum softplus(s a), with
s = -1 for -log D and s = +1 for -log(1 - D), computing the loss and its gradient in one pass.
Every function returns the loss and its gradient with respect to the logits, shape (m, 1) like
the logits, ready to hand to ``D.backward``.  The 1/m of the minibatch mean is in the gradient.
"""

from __future__ import annotations

import numpy as np

from ..kernels import ops

G_LOSSES = ("minimax", "non-saturating")


def softplus(t: np.ndarray) -> np.ndarray:
    """log(1 + exp(t)), elementwise, without overflow for large |t|."""
    return np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))


def _check_logits(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if a.ndim != 2 or a.shape[1] != 1:
        raise ValueError(
            f"{name} must have shape (m, 1), one logit per sample, got {a.shape}: "
            "the discriminator's last layer must have one output and no sigmoid"
        )
    if len(a) == 0:
        raise ValueError(f"{name} is empty: a minibatch needs at least one sample")
    return a


def neg_log_d(a: np.ndarray) -> tuple[float, np.ndarray]:
    """-(1/m) sum_i log D_i = (1/m) sum_i softplus(-a_i);  gradient -sigmoid(-a) / m.

    a: (m, 1) logits.  The data half of the D objective, and the non-saturating G objective.
    """
    a = _check_logits(a, "logits")
    grad = np.empty_like(a)
    return ops.softplus_loss(a, -1.0, 1.0, grad), grad


def neg_log_one_minus_d(a: np.ndarray) -> tuple[float, np.ndarray]:
    """-(1/m) sum_i log(1 - D_i) = (1/m) sum_i softplus(a_i);  gradient sigmoid(a) / m.

    a: (m, 1) logits.  The generated half of the D objective; minus it is the minimax G objective.
    """
    a = _check_logits(a, "logits")
    grad = np.empty_like(a)
    return ops.softplus_loss(a, 1.0, 1.0, grad), grad


def discriminator_loss(
    a_real: np.ndarray, a_fake: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """The discriminator's objective, as a loss to descend.

    a_real: (m, 1) logits on data, a_fake: (m, 1) logits on G(z)

        L_D = -(1/m) sum_i [log D(x_i) + log(1 - D(G(z_i)))]
            =  (1/m) sum_i softplus(-a_real_i) + (1/m) sum_i softplus(a_fake_i)

        dL_D/da_real = -sigmoid(-a_real) / m,    dL_D/da_fake = sigmoid(a_fake) / m

    Descending L_D is ascending Algorithm 1's printed objective.  The two halves depend on
    separate logits, so the trainer can backpropagate the real half before D sees the fakes
    (``neg_log_d`` and ``neg_log_one_minus_d``).  Returns (L_D, da_real, da_fake).
    """
    loss_real, da_real = neg_log_d(a_real)
    loss_fake, da_fake = neg_log_one_minus_d(a_fake)
    return loss_real + loss_fake, da_real, da_fake


def generator_loss(a_fake: np.ndarray, kind: str = "non-saturating") -> tuple[float, np.ndarray]:
    """The generator's objective, as a loss to descend.

    a_fake: (m, 1) logits of D on G(z)

    "minimax" (Algorithm 1 exactly as printed; saturates when D rejects the fakes):
        L_G = (1/m) sum_i log(1 - D(G(z_i))) = -(1/m) sum_i softplus(a_i)
        dL_G/da = -sigmoid(a) / m
    "non-saturating" (Section 3 of the paper; strong gradients early in training):
        L_G = -(1/m) sum_i log D(G(z_i)) = (1/m) sum_i softplus(-a_i)
        dL_G/da = -sigmoid(-a) / m

    Returns (L_G, da_fake).
    """
    check_g_loss(kind)
    a = _check_logits(a_fake, "a_fake")
    grad = np.empty_like(a)
    if kind == "minimax":  # minus the generated half of L_D: scale -1
        return ops.softplus_loss(a, 1.0, -1.0, grad), grad
    return ops.softplus_loss(a, -1.0, 1.0, grad), grad


def check_g_loss(kind: str) -> str:
    if kind not in G_LOSSES:
        raise ValueError(f"unknown g_loss {kind!r}: choose one of {', '.join(G_LOSSES)}")
    return kind


def gan_value(a_real: np.ndarray, a_fake: np.ndarray) -> float:
    """The minibatch estimate of V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))] = -L_D.

    At the game's optimum (p_g = p_data, D = 1/2 everywhere) V = -log 4.
    """
    return -discriminator_loss(a_real, a_fake)[0]
