"""The logit loss: sigmoid cross-entropy with targets, and its gradient, in one pass.

With D's logit a, D = sigmoid(a) and a target t in [0, 1] (1 for "real", 0 for "fake"):

    loss(a, t) = -t log D - (1 - t) log(1 - D) = t softplus(-a) + (1 - t) softplus(a)
    d loss / da = (1 - t) sigmoid(a) - t sigmoid(-a)            (= sigmoid(a) - t)

Every objective on D's logits in numgan/gan/objectives.py is a scaled mean of these terms
(docs/backprop.md).  softplus is max(v, 0) + log1p(exp(-|v|)) and both sigmoids come from the
same exp(-|a|), so nothing overflows for any finite logit (+-1e4 included), and the gradient
is written as (1 - t) sigmoid(a) - t sigmoid(-a) rather than sigmoid(a) - t, which would lose
the relative accuracy of a small gradient (t = 1, a large) to cancellation.
"""

from __future__ import annotations

import math

import numpy as np

from .jit import jit


def sigmoid_cross_entropy_np(a, t, scale, grad):
    """L = (scale / m) sum_i [t_i softplus(-a_i) + (1 - t_i) softplus(a_i)];
    grad = dL/da = (scale / m) [(1 - t) sigmoid(a) - t sigmoid(-a)].

    a, t, grad: (m, 1).  Returns L.
    """
    m = a.shape[0]
    e = np.exp(-np.abs(a))
    log1p_e = np.log1p(e)
    softplus_pos = np.maximum(a, 0.0) + log1p_e  # softplus(a) = -log(1 - D)
    softplus_neg = np.maximum(-a, 0.0) + log1p_e  # softplus(-a) = -log D
    big, small = 1.0 / (1.0 + e), e / (1.0 + e)  # sigmoid(|a|), sigmoid(-|a|)
    sig_pos = np.where(a >= 0, big, small)  # sigmoid(a)
    sig_neg = np.where(a >= 0, small, big)  # sigmoid(-a)
    grad[...] = (scale / m) * ((1.0 - t) * sig_pos - t * sig_neg)
    return float(scale * np.sum(t * softplus_neg + (1.0 - t) * softplus_pos) / m)


@jit
def sigmoid_cross_entropy_nb(a, t, scale, grad):
    m = a.shape[0]
    total = 0.0
    c = scale / m
    for i in range(m):
        ai, ti = a[i, 0], t[i, 0]
        e = math.exp(-abs(ai))
        log1p_e = math.log1p(e)
        big, small = 1.0 / (1.0 + e), e / (1.0 + e)
        if ai >= 0:
            sp_pos, sp_neg, sig_pos, sig_neg = ai + log1p_e, log1p_e, big, small
        else:
            sp_pos, sp_neg, sig_pos, sig_neg = log1p_e, -ai + log1p_e, small, big
        total += ti * sp_neg + (1.0 - ti) * sp_pos
        grad[i, 0] = c * ((1.0 - ti) * sig_pos - ti * sig_neg)
    return scale * total / m
