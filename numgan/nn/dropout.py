"""Inverted dropout."""

from __future__ import annotations

import numpy as np

from .layer import Layer, real_number


class Dropout(Layer):
    """Inverted dropout: keep each unit with probability 1 - p and scale it by 1 / (1 - p).

    training:  out = x * mask,  mask[i] = [u_i >= p] / (1 - p),  u_i ~ U[0, 1) from the run's rng
    eval:      out = x          (the scaling at train time keeps E[out] = x, so nothing to undo)

    backward: dx = dout * mask      Cached: the mask (None in eval mode).

    The run's Generator is attached with ``net.bind_rng(rng)`` (the Trainer does this), so that
    one seed drives every random draw.  ``fix_mask(mask)`` pins the mask, for gradient checks.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        p = real_number("Dropout", "p", p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"Dropout: rng must be a numpy.random.Generator, got {rng!r}: pass "
                "np.random.default_rng(seed)"
            )
        self.p = float(p)
        self.rng = rng
        self.fixed_mask: np.ndarray | None = None

    def fix_mask(self, mask: np.ndarray | None) -> None:
        """Use ``mask`` (already scaled by 1 / (1 - p)) on every training forward; None unpins."""
        self.fixed_mask = mask

    def forward(self, x, training=True):
        if not training or self.p == 0.0:
            self.cache = (None,)
            return x
        if self.fixed_mask is not None:
            mask = self.fixed_mask
            if mask.shape != x.shape:
                raise ValueError(f"Dropout: fixed mask has shape {mask.shape}, input {x.shape}")
        else:
            if self.rng is None:
                raise RuntimeError(
                    "Dropout has no random generator: build it with rng=, call "
                    "net.bind_rng(rng), or let the Trainer bind its own"
                )
            keep = self.rng.random(x.shape) >= self.p
            mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        self.cache = (mask,)
        return x * mask

    def backward(self, dout, param_grads=True, input_grad=True):
        (mask,) = self._need_cache()
        return dout if mask is None else dout * mask

    def __repr__(self):
        return f"Dropout({self.p})"
