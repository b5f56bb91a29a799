"""Minibatch SGD with classical momentum, and the schedules of the paper's MNIST run.

One optimiser instance holds the state of one network: G and D each get their own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .kernels import ops

Schedule = Callable[[int], float]


class LinearRamp:
    """value(t) = start + (end - start) * min(t, steps) / steps: a linear ramp, then constant.

    The paper's MNIST run raised momentum from 0.5 to 0.7 this way.
    """

    def __init__(self, start: float, end: float, steps: int) -> None:
        if steps < 1:
            raise ValueError(f"LinearRamp: steps must be >= 1, got {steps!r}")
        self.start, self.end, self.steps = float(start), float(end), int(steps)

    def __call__(self, t: int) -> float:
        return self.start + (self.end - self.start) * min(t, self.steps) / self.steps

    def __repr__(self):
        return f"LinearRamp({self.start}, {self.end}, steps={self.steps})"


class ExponentialDecay:
    """value(t) = max(initial / factor**t, floor).

    The paper's MNIST run: lr / 1.000004**t with a floor of 1e-6.
    """

    def __init__(self, initial: float, *, factor: float = 1.000004, floor: float = 1e-6) -> None:
        if factor < 1.0:
            raise ValueError(f"ExponentialDecay: factor must be >= 1, got {factor!r}")
        self.initial, self.factor, self.floor = float(initial), float(factor), float(floor)

    def __call__(self, t: int) -> float:
        return max(self.initial / self.factor**t, self.floor)

    def __repr__(self):
        return f"ExponentialDecay({self.initial}, factor={self.factor}, floor={self.floor})"


def _view_like(flat: np.ndarray, net, param: np.ndarray) -> np.ndarray:
    """The part of ``flat`` (laid out like net.flat_params) that belongs to ``param``."""
    offset = net.offset_of(param)
    return flat[offset : offset + param.size].reshape(param.shape)


def _at(value: float | Schedule, t: int) -> float:
    return float(value(t)) if callable(value) else float(value)


class SGD:
    """Minibatch SGD with classical momentum.

    For every parameter theta with gradient g and velocity v (zero at the start):

        v     = mu * v - lr * g
        theta = theta + v

    ``lr`` and ``momentum`` are numbers or schedules (callables of the step count t = 0, 1, ...).
    ``step(net)`` applies one update to ``net``'s parameters from the gradients accumulated in
    them; it does not zero them (the trainer does, before each forward/backward).  The state
    is one flat vector laid out like ``net.flat_params``, so one kernel call updates the net.
    """

    def __init__(self, lr: float | Schedule = 0.1, momentum: float | Schedule = 0.5) -> None:
        lr0, mu0 = _at(lr, 0), _at(momentum, 0)
        if not lr0 > 0:
            raise ValueError(f"SGD: lr must be positive, got {lr0!r}")
        if not 0.0 <= mu0 < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {mu0!r}")
        self.lr, self.momentum = lr, momentum
        self.t = 0
        self.velocity: list[np.ndarray] | None = None
        self._owner: int | None = None

    def _bind(self, net) -> list[tuple[np.ndarray, np.ndarray]]:
        pairs = net.parameters()
        if self.velocity is None:
            # One flat state vector laid out like net.flat_params; per-parameter views of it.
            self.flat_velocity = np.zeros_like(net.flat_params)
            self.velocity = [_view_like(self.flat_velocity, net, p) for p, _ in pairs]
            self._owner = id(net)
        elif self._owner != id(net) or len(pairs) != len(self.velocity):
            raise ValueError(
                "this optimiser already holds the state of another network: "
                "give G and D an optimiser each"
            )
        return pairs

    def _value(self, name: str, t: int) -> float:
        """The value of ``lr`` or ``momentum`` at step t (a schedule is evaluated)."""
        return _at(getattr(self, name), t)

    def step(self, net) -> None:
        pairs = self._bind(net)
        lr, mu = _at(self.lr, self.t), _at(self.momentum, self.t)
        del pairs  # the flat vectors hold every parameter: one kernel call for the network
        ops.sgd_momentum(net.flat_params, net.flat_grads, self.flat_velocity, lr, mu)
        self.t += 1

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"t": np.array(self.t)}
        for i, v in enumerate(self.velocity or []):
            state[f"v{i}"] = v.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], net) -> None:
        self.velocity = None
        pairs = self._bind(net)
        for i, (v, (p, _)) in enumerate(zip(self.velocity, pairs, strict=True)):
            if f"v{i}" in state:
                src = np.asarray(state[f"v{i}"])
                if src.shape != p.shape:
                    raise ValueError(
                        f"optimiser state v{i} has shape {src.shape}, expected {p.shape}"
                    )
                v[...] = src
        self.t = int(state["t"])

    def __repr__(self):
        return f"SGD(lr={self.lr!r}, momentum={self.momentum!r})"


class Adam:
    """Adam (Kingma and Ba 2015), the DCGAN default (lr 2e-4, beta1 0.5).

    For every parameter theta with gradient g, at step t = 1, 2, ...:

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        theta -= lr * mhat / (sqrt(vhat) + eps),   mhat = m / (1 - beta1**t),
                                                     vhat = v / (1 - beta2**t)

    ``lr`` may be a schedule (a callable of the step count, from 0).
    """

    def __init__(
        self,
        lr: float | Schedule = 2e-4,
        *,
        beta1: float = 0.5,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        if not _at(lr, 0) > 0:
            raise ValueError(f"Adam: lr must be positive, got {_at(lr, 0)!r}")
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {b!r}")
        if not eps > 0:
            raise ValueError(f"Adam: eps must be positive, got {eps!r}")
        self.lr, self.beta1, self.beta2, self.eps = lr, float(beta1), float(beta2), float(eps)
        self.t = 0
        self.moments: list[tuple[np.ndarray, np.ndarray]] | None = None
        self._owner: int | None = None

    def _bind(self, net) -> list[tuple[np.ndarray, np.ndarray]]:
        pairs = net.parameters()
        if self.moments is None:
            self.flat_m = np.zeros_like(net.flat_params)
            self.flat_v = np.zeros_like(net.flat_params)
            self.moments = [
                (_view_like(self.flat_m, net, p), _view_like(self.flat_v, net, p)) for p, _ in pairs
            ]
            self._owner = id(net)
        elif self._owner != id(net) or len(pairs) != len(self.moments):
            raise ValueError(
                "this optimiser already holds the state of another network: "
                "give G and D an optimiser each"
            )
        return pairs

    def step(self, net) -> None:
        pairs = self._bind(net)
        lr = _at(self.lr, self.t)
        self.t += 1
        bc1, bc2 = 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t
        del pairs
        ops.adam(
            net.flat_params,
            net.flat_grads,
            self.flat_m,
            self.flat_v,
            lr,
            self.beta1,
            self.beta2,
            self.eps,
            bc1,
            bc2,
        )

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"t": np.array(self.t)}
        for i, (m, v) in enumerate(self.moments or []):
            state[f"m{i}"], state[f"v{i}"] = m.copy(), v.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], net) -> None:
        self.moments = None
        pairs = self._bind(net)
        for i, ((m, v), (p, _)) in enumerate(zip(self.moments, pairs, strict=True)):
            for name, target in ((f"m{i}", m), (f"v{i}", v)):
                if name in state:
                    src = np.asarray(state[name])
                    if src.shape != p.shape:
                        raise ValueError(
                            f"optimiser state {name} has shape {src.shape}, expected {p.shape}"
                        )
                    target[...] = src
        self.t = int(state["t"])

    def __repr__(self):
        return f"Adam(lr={self.lr!r}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps})"
