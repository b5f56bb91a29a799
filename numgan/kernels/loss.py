"""The logit loss: sigmoid cross-entropy with targets, and its gradient, in one pass.

With D's logit a, D = sigmoid(a) and a target t in [0, 1] (1 for "real", 0 for "fake"):

    loss(a, t) = -t log D - (1 - t) log(1 - D) = t softplus(-a) + (1 - t) softplus(a)
    d loss / da = (1 - t) sigmoid(a) - t sigmoid(-a)            (= sigmoid(a) - t)

Every objective on D's logits in numgan/gan/objectives.py is a scaled mean of these terms
(docs/backprop.md).  The kernels evaluate them from one exp(-|a|), so nothing overflows for
any finite logit (+-1e4 included), and in a form where a small loss or gradient (t = 1 and a
large, D confident and right) is never the difference of two numbers near 1: sigmoid(a) - t
computed as written would lose it.
"""

from __future__ import annotations

import math

import numpy as np

from .flags import jit


def sigmoid_cross_entropy_np(a, t, scale, grad):
    """L = (scale / m) sum_i [t_i softplus(-a_i) + (1 - t_i) softplus(a_i)];
    grad = dL/da = (scale / m) [(1 - t) sigmoid(a) - t sigmoid(-a)].

    a, t, grad: (m, 1).  Returns L.  With e = exp(-|a|), the only exponential taken:

        softplus(a) = max(a, 0) + log1p(e)      softplus(-a) = max(-a, 0) + log1p(e)
        sigmoid(|a|) = 1 / (1 + e)               sigmoid(-|a|) = e / (1 + e)

    so each term is  (1 - t) a + log1p(e)  where a >= 0  and  -t a + log1p(e)  where a < 0,
    and a small loss or gradient (t = 1 and a large: D confident and right) is a product of
    small numbers, never the difference of two numbers near 1.
    """
    m = a.shape[0]
    e = np.exp(-np.abs(a))
    big, small = 1.0 / (1.0 + e), e / (1.0 + e)  # sigmoid(|a|), sigmoid(-|a|)
    u, pos = 1.0 - t, a >= 0
    losses = np.where(pos, u * a, -t * a) + np.log1p(e)
    sig, sig_neg = np.where(pos, big, small), np.where(pos, small, big)  # sigmoid(a), (-a)
    np.multiply(u * sig - t * sig_neg, scale / m, out=grad)
    return float(scale * losses.sum() / m)


@jit
def sigmoid_cross_entropy_nb(a, t, scale, grad):
    # Products, not differences, carry the small cases: fastmath may reassociate a sum, and
    # (1 - t) - e / (1 + e) could then become 1 - (t + e / (1 + e)), which is 0 for t = 1.
    m = a.shape[0]
    total = 0.0
    c = scale / m
    for i in range(m):
        ai, ti = np.float64(a[i, 0]), np.float64(t[i, 0])  # in double precision, as the sum
        e = math.exp(-abs(ai))
        big, small = 1.0 / (1.0 + e), e / (1.0 + e)
        if ai >= 0:
            total += (1.0 - ti) * ai + math.log1p(e)
            grad[i, 0] = c * ((1.0 - ti) * big - ti * small)
        else:
            total += -ti * ai + math.log1p(e)
            grad[i, 0] = c * ((1.0 - ti) * small - ti * big)
    return scale * total / m
