"""The logit losses: (scale / m) sum softplus(s * a) and its gradient, in one pass.

Every objective on D's logits is a sum of such terms (docs/backprop.md): -log D is
softplus(-a), -log(1 - D) is softplus(a).
"""

from __future__ import annotations

import math

import numpy as np

from .jit import jit


def softplus_loss_np(a, s, scale, grad):
    """L = (scale / m) sum_i softplus(s * a_i);  grad = dL/da = (scale * s / m) sigmoid(s * a).

    a, grad: (m, 1); s = -1 gives -mean log D, s = +1 gives -mean log(1 - D).  Returns L.
    """
    m = a.shape[0]
    t = s * a
    sp = np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))
    e = np.exp(-np.abs(t))
    grad[...] = (scale * s / m) * np.where(t >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return float(scale * sp.sum() / m)


@jit
def softplus_loss_nb(a, s, scale, grad):
    m = a.shape[0]
    total = 0.0
    c = scale * s / m
    for i in range(m):
        t = s * a[i, 0]
        e = math.exp(-abs(t))
        total += max(t, 0.0) + math.log1p(e)
        grad[i, 0] = c * (1.0 / (1.0 + e) if t >= 0 else e / (1.0 + e))
    return scale * total / m
