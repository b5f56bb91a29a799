"""Numerical gradients by central differences, and checks of hand-written backward passes.

    df/dx_i ~ (-f(x + 2h e_i) + 8 f(x + h e_i) - 8 f(x - h e_i) + f(x - 2h e_i)) / (12 h)

with h = 1e-3 (error O(h**4)), and

    rel_error(a, n) = max_i |a_i - n_i| / max(1e-8, |a_i| + |n_i|)

Run checks in float64: a correct backward agrees to ~1e-9 or better, while in float32 the
rounding of f alone gives errors ~1e-2 that hide real bugs.  A layer's output is
reduced to a scalar with a random upstream gradient, f = sum(out * dout): with dout = ones the
true dx of a batch-mode BatchNorm is exactly 0, so a backward that returns zeros would be right.

The points reach 2h = 2e-3 either side: test points must be further than that from any kink.
A network in which a small step in a weight moves a ReLU input across 0 (a BatchNorm before it
divides by a small spread, say) needs a smaller step: pass h=1e-4.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TOLERANCE = 1e-7


def rel_error(a: np.ndarray, n: np.ndarray) -> float:
    """max_i |a_i - n_i| / max(1e-8, |a_i| + |n_i|); 0.0 for empty arrays."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {n.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))))


def _difference_quotient(f: Callable[[], np.ndarray | float], x: np.ndarray, h: float, dout):
    """Fourth-order central difference of f along each element of x, perturbed in place.

        df/dx_i ~ (-f(x + 2h e_i) + 8 f(x + h e_i) - 8 f(x - h e_i) + f(x - 2h e_i)) / (12 h)

    Truncation error O(h**4) instead of the two-point O(h**2) lets h be larger (1e-3), so the
    round-off of f, about 1e-16 |f| / h, falls 100x; gradient elements that nearly cancel (a
    dW summed over a batch, say) then still measure to better than 1e-7.  The points stay
    within 2h of x: test points must be that far from any kink.  With dout, f returns an array
    and each difference is taken output by output before the sum with dout, so outputs that
    x_i does not touch cancel exactly.
    """
    if x.dtype != np.float64:
        raise TypeError(
            f"numerical gradients need float64, got {x.dtype}: finite differences in float32 "
            "are too coarse; build the layer or network with dtype=np.float64"
        )
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        values = []
        for step in (2.0, 1.0, -1.0, -2.0):
            x[i] = old + step * h
            values.append(np.array(f(), dtype=np.float64, copy=True))
        x[i] = old
        f2, f1, fm1, fm2 = values
        diff = (fm2 - f2) + 8.0 * (f1 - fm1)
        grad[i] = (diff if dout is None else np.sum(diff * dout)) / (12.0 * h)
    return grad


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Central-difference gradient of the scalar f() with respect to the float64 array x.

    x is perturbed in place, one element at a time, and restored exactly, so f may read x
    through any reference (a layer's parameter, say).  Returns an array shaped like x.
    """
    return _difference_quotient(f, x, h, None)


def numerical_gradient_array(
    f: Callable[[], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = 1e-3
) -> np.ndarray:
    """Central-difference gradient of sum(f() * dout) with respect to x, for array-valued f."""
    return _difference_quotient(f, x, h, np.asarray(dout, dtype=np.float64))


def _check_module(module, x, dout, rng, h, forward) -> dict[str, float]:
    """dx and every parameter gradient of a layer or network, against f = sum(out * dout)."""
    if not callable(getattr(module, "backward", None)):
        raise TypeError(
            f"gradient check: {module!r} is not a layer or network (it has no backward method)"
        )
    try:
        x = np.array(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"gradient check: x must be an array of numbers, got {type(x).__name__}"
        ) from None
    if x.size == 0 or not np.isfinite(x).all():
        raise ValueError(
            f"gradient check: x must be a non-empty array of finite numbers, got shape {x.shape}"
            + ("" if x.size == 0 else f" with {np.count_nonzero(~np.isfinite(x))} NaN or inf")
        )
    for name, p in _named_params(module):
        if p.dtype != np.float64:
            raise TypeError(
                f"gradient checks need float64 parameters, but {name} is {p.dtype}: "
                "build it with dtype=np.float64"
            )
    out = forward(x)
    if dout is None:
        rng = np.random.default_rng(0) if rng is None else rng
        dout = random_upstream(rng, out.shape)
    if dout.shape != out.shape:
        raise ValueError(f"dout has shape {dout.shape}, the output has shape {out.shape}")
    grads = _named_grads(module)
    found = [g.copy() for _, g in grads]
    try:
        module.zero_grad()
        dx = module.backward(dout)
        analytic = {"x": dx, **{name: g.copy() for name, g in grads}}
    finally:  # the check leaves the gradients as it found them (a Trainer may be counting on them)
        for (_, g), before in zip(grads, found, strict=True):
            g[...] = before

    def f() -> np.ndarray:
        return forward(x)

    errors = {"x": rel_error(analytic["x"], numerical_gradient_array(f, x, dout, h))}
    for name, p in _named_params(module):
        errors[name] = rel_error(analytic[name], numerical_gradient_array(f, p, dout, h))
    return errors


def random_upstream(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A random upstream gradient: random signs, magnitudes in [0.5, 1.5].

    Kept away from zero because f = sum(out * dout) carries round-off of about
    1e-16 * sum|out * dout| / h, whatever the element; an element of dout near 0 would make
    that element's gradient small against it and its relative error meaningless.
    """
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)


def _named_params(module):
    if hasattr(module, "named_parameters"):
        return [(name, p) for name, p, _ in module.named_parameters()]
    return list(module.params.items())


def _named_grads(module):
    if hasattr(module, "named_parameters"):
        return [(name, g) for name, _, g in module.named_parameters()]
    return list(module.grads.items())


def check_layer(
    layer,
    x: np.ndarray,
    *,
    dout: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    training: bool = True,
    h: float = 1e-3,
) -> dict[str, float]:
    """Relative errors of a layer's backward: ``{"x": err_dx, "W": err_dW, ...}``.

    The scalar checked is f = sum(layer.forward(x) * dout) with dout random (see
    ``random_upstream``, drawn from rng) unless given.  Layers and inputs must be float64.
    Random layers need a fixed mask (``Dropout.fix_mask``) so that every forward computes the
    same function.  The layer's parameter gradients are as they were before the check.
    """
    return _check_module(layer, x, dout, rng, h, lambda v: layer.forward(v, training))


def check_network(net, x: np.ndarray, **options) -> dict[str, float]:
    """Relative errors of a Sequential's backward: ``{"x": ..., "0.W": ..., "0.b": ...}``.

    The same check as ``check_layer`` (same options), with parameters named "<layer>.<name>".
    """
    return check_layer(net, x, **options)
