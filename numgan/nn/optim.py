"""Minibatch SGD with classical momentum, and the schedules of the paper's MNIST run.

One optimiser instance holds the state of one network: G and D each get their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..kernels import ops
from .layer import real_number

Schedule = Callable[[int], float]


class LinearRamp:
    """value(t) = start + (end - start) * min(t, steps) / steps: a linear ramp, then constant.

    The paper's MNIST run raised momentum from 0.5 to 0.7 this way.
    """

    def __init__(self, start: float, end: float, steps: int) -> None:
        bad = isinstance(steps, bool) or not isinstance(steps, (int, np.integer))
        if bad or steps < 1:
            raise ValueError(f"LinearRamp: steps must be a whole number >= 1, got {steps!r}")
        start, end = (
            real_number("LinearRamp", "start", start),
            real_number("LinearRamp", "end", end),
        )
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError(f"LinearRamp: start and end must be finite, got {start!r}, {end!r}")
        self.start, self.end, self.steps = start, end, int(steps)

    def span(self) -> tuple[float, float]:
        """The first and the last value: every value lies between them."""
        return self.start, self.end

    def __call__(self, t: int) -> float:
        return self.start + (self.end - self.start) * min(t, self.steps) / self.steps

    def __repr__(self):
        return f"LinearRamp({self.start}, {self.end}, steps={self.steps})"


class ExponentialDecay:
    """value(t) = max(initial / factor**t, floor).

    The paper's MNIST run: lr / 1.000004**t with a floor of 1e-6.
    """

    def __init__(self, initial: float, *, factor: float = 1.000004, floor: float = 1e-6) -> None:
        initial = real_number("ExponentialDecay", "initial", initial)
        factor = real_number("ExponentialDecay", "factor", factor)
        floor = real_number("ExponentialDecay", "floor", floor)
        if not (math.isfinite(factor) and factor >= 1.0):
            raise ValueError(f"ExponentialDecay: factor must be finite and >= 1, got {factor!r}")
        if not (math.isfinite(initial) and initial > 0 and math.isfinite(floor) and floor >= 0):
            raise ValueError(
                "ExponentialDecay: initial must be a positive finite number and floor a finite "
                f"number >= 0, got {initial!r} and {floor!r}"
            )
        self.initial, self.factor, self.floor = initial, factor, floor

    def span(self) -> tuple[float, float]:
        """The first and the last value: every value lies between them."""
        first = max(self.initial, self.floor)
        return first, (self.floor if self.factor > 1 else first)

    def __call__(self, t: int) -> float:
        # exp of a log: factor**t overflows a float after ~709 / ln(factor) steps; this goes to 0
        return max(self.initial * math.exp(-t * math.log(self.factor)), self.floor)

    def __repr__(self):
        return f"ExponentialDecay({self.initial}, factor={self.factor}, floor={self.floor})"


def _at(value: float | Schedule, t: int) -> float:
    return float(value(t)) if callable(value) else float(value)


# What each hyperparameter may be, at every step: (test, the words for it).
_RULES = {
    "lr": (lambda v: math.isfinite(v) and v > 0, "a positive, finite number"),
    "momentum": (lambda v: 0.0 <= v < 1.0, "in [0, 1)"),
}


def _checked(owner: str, name: str, value, t: int) -> float:
    """The hyperparameter ``value`` (a number or a schedule) at step t, or a ValueError naming
    the optimiser, the step and the schedule."""
    ok, words = _RULES[name]
    try:
        v = _at(value, t) if callable(value) else real_number(owner, name, value)
    except TypeError as err:
        raise ValueError(
            f"{owner}: {name} must be a number or a schedule called with the step count "
            f"(LinearRamp, ExponentialDecay), got {value!r} ({err})"
        ) from None
    if not ok(v):
        at = f" at step {t} (the schedule {value!r})" if callable(value) else ""
        raise ValueError(f"{owner}: {name} must be {words}, got {v!r}{at}")
    return v


def _check_schedule(owner: str, name: str, value) -> None:
    """At the start, and over the whole span of a schedule that states it (LinearRamp,
    ExponentialDecay): a ramp to a negative lr is refused when built, not when it gets there."""
    _checked(owner, name, value, 0)
    span = getattr(value, "span", None)
    for v in span() if callable(span) else ():
        if not _RULES[name][0](v):
            raise ValueError(
                f"{owner}: {name} must be {_RULES[name][1]} at every step, and the schedule "
                f"{value!r} reaches {v!r}"
            )


class Optimizer:
    """Shared bookkeeping: the step count t and flat state vectors laid out like
    ``net.flat_params`` (so one kernel call updates a whole network), bound to one network."""

    STATE: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.t = 0
        self.state: dict[str, np.ndarray] | None = None
        self._owner: int | None = None

    def _bind(self, net) -> None:
        if self.state is None:
            self.state = {name: np.zeros_like(net.flat_params) for name in self.STATE}
            self._owner = id(net)
        elif self._owner != id(net) or net.flat_params.size != self.state[self.STATE[0]].size:
            raise ValueError(
                "this optimiser already holds the state of another network: "
                "give G and D an optimiser each"
            )

    def _value(self, name: str, t: int) -> float:
        """The value of a hyperparameter (``lr``, ``momentum``) at step t.  A number was checked
        (and made a float) when the optimiser was built; a schedule is checked at every step,
        since any callable may serve as one and leave the range at any step."""
        value = getattr(self, name)
        if callable(value):
            return _checked(type(self).__name__, name, value, t)
        return value

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"t": np.array(self.t)}
        for name, flat in (self.state or {}).items():
            state[name] = flat.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], net) -> None:
        """Copy saved state in place (anything holding the state arrays keeps seeing them)."""
        self._bind(net)
        for name, target in self.state.items():
            src = np.asarray(state[name])
            if src.shape != target.shape:
                raise ValueError(
                    f"optimiser state {name!r} has shape {src.shape}, this network needs "
                    f"{target.shape}"
                )
            target[...] = src
        self.t = int(state["t"])


class SGD(Optimizer):
    """Minibatch SGD with classical momentum.

    For every parameter theta with gradient g and velocity v (zero at the start):

        v     = mu * v - lr * g
        theta = theta + v

    ``lr`` and ``momentum`` are numbers or schedules (callables of the step count t = 0, 1, ...).
    ``step(net)`` applies one update to ``net``'s parameters from the gradients accumulated in
    them and leaves the gradients as they are; ``step(net, zero_grad=True)`` also zeroes them,
    as ``net.zero_grad()`` after it would, in the update's own pass over memory (the Trainer's
    way: docs/algorithm1.md).
    """

    STATE = ("velocity",)

    def __init__(self, lr: float | Schedule = 0.1, momentum: float | Schedule = 0.5) -> None:
        super().__init__()
        _check_schedule("SGD", "lr", lr)
        _check_schedule("SGD", "momentum", momentum)
        self.lr = lr if callable(lr) else float(lr)
        self.momentum = momentum if callable(momentum) else float(momentum)

    def step(self, net, *, zero_grad: bool = False) -> None:
        self._bind(net)
        lr, mu = self._value("lr", self.t), self._value("momentum", self.t)
        v = self.state["velocity"]
        ops.sgd_momentum(net.flat_params, net.flat_grads, v, lr, mu, zero_grad)
        self.t += 1

    def __repr__(self):
        return f"SGD(lr={self.lr!r}, momentum={self.momentum!r})"


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015), the DCGAN default (lr 2e-4, beta1 0.5).

    For every parameter theta with gradient g, at step t = 1, 2, ...:

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        theta -= lr * mhat / (sqrt(vhat) + eps),   mhat = m / (1 - beta1**t),
                                                     vhat = v / (1 - beta2**t)

    ``lr`` may be a schedule (a callable of the step count, from 0).  ``step(net,
    zero_grad=True)`` also zeroes the gradients in the update's pass, as SGD's does.
    """

    STATE = ("m", "v")

    def __init__(
        self,
        lr: float | Schedule = 2e-4,
        *,
        beta1: float = 0.5,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        _check_schedule("Adam", "lr", lr)
        beta1, beta2 = real_number("Adam", "beta1", beta1), real_number("Adam", "beta2", beta2)
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {b!r}")
        eps = real_number("Adam", "eps", eps)
        if not (math.isfinite(eps) and eps > 0):
            raise ValueError(f"Adam: eps must be a positive, finite number, got {eps!r}")
        self.lr = lr if callable(lr) else float(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def step(self, net, *, zero_grad: bool = False) -> None:
        self._bind(net)
        lr = self._value("lr", self.t)
        self.t += 1
        bc1, bc2 = 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t
        ops.adam(
            net.flat_params,
            net.flat_grads,
            self.state["m"],
            self.state["v"],
            lr,
            self.beta1,
            self.beta2,
            self.eps,
            bc1,
            bc2,
            zero_grad,
        )

    def __repr__(self):
        return f"Adam(lr={self.lr!r}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps})"
