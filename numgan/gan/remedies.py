"""Remedies that change what D sees, not what it computes: instance noise and replay.

The seeds' other remedies live where their math does: label smoothing and label noise are
targets of ``CrossEntropy``, the least-squares game and feature matching are objectives
(objectives.py), and minibatch discrimination is a layer (numgan/nn/minibatch.py).  The two
here act on D's inputs inside Algorithm 1, so the trainer calls them:

    InstanceNoise   every input D sees, real and fake, in both steps, gets Gaussian noise whose
                    standard deviation falls linearly from ``std`` to 0 over ``iterations``
                    (Sonderby et al. 2016; Arjovsky & Bottou 2017): while the two
                    distributions barely overlap, the noise makes them overlap, so D cannot
                    separate them perfectly and G's gradient does not vanish.
    ReplayBuffer    D's fake minibatch mixes fresh samples G(z) with earlier ones kept in a
                    buffer (Shrivastava et al. 2017): D keeps rejecting places G has left, so
                    G cannot escape D by hopping from mode to mode.

Both draw from the run's Generator, in a fixed order, so a seed still fixes the run; the
buffer's contents are part of a checkpoint.
"""

from __future__ import annotations

import numpy as np

from ..nn.layer import real_number


class InstanceNoise:
    """Gaussian noise on D's inputs, annealed linearly to zero.

    std:         the noise's standard deviation at iteration 0
    iterations:  the iteration at which it reaches 0 (the run's length, for numgan train)

        sigma(t) = std * max(0, 1 - t / iterations)      t: iterations done so far
        x~ = x + sigma(t) * e,   e ~ N(0, I)             for x real or generated

    The noise is added, so dL/dx = dL/dx~: G's gradient passes through unchanged.
    """

    def __init__(self, std: float, *, iterations: int) -> None:
        std = real_number("InstanceNoise", "std", std)
        if not (np.isfinite(std) and std > 0):
            raise ValueError(f"InstanceNoise: std must be a positive number, got {std!r}")
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)):
            raise ValueError(
                f"InstanceNoise: iterations must be a whole number, got {iterations!r}"
            )
        if iterations < 1:
            raise ValueError(f"InstanceNoise: iterations must be >= 1, got {iterations}")
        self.std, self.iterations = float(std), int(iterations)

    def std_at(self, iteration: int) -> float:
        """sigma(t) after ``iteration`` iterations."""
        return self.std * max(0.0, 1.0 - iteration / self.iterations)

    def add(self, x: np.ndarray, iteration: int, rng: np.random.Generator) -> np.ndarray:
        """x + sigma(t) e, a new array of x's shape and dtype (x itself once sigma is 0)."""
        sigma = self.std_at(iteration)
        if sigma == 0.0:
            return x  # annealed away: draw nothing
        e = rng.standard_normal(x.shape, dtype=np.float64)
        return (x + sigma * e).astype(x.dtype, copy=False)

    def __repr__(self) -> str:
        return f"InstanceNoise({self.std}, iterations={self.iterations})"


class ReplayBuffer:
    """Earlier generated samples, a fraction of every fake minibatch D sees.

    fraction:  the share of D's fake minibatch drawn from the buffer, in (0, 1)
    capacity:  how many samples the buffer keeps

    Each D step, ``mix(x_fake, rng)`` with x_fake = G(z): (m, ...):
        r = round(fraction * m) samples drawn uniformly (with replacement) from the buffer
        D's fakes = [x_fake[: m - r], those r]           still m rows
        then every row of x_fake enters the buffer: into the free slots while there are
        any, afterwards each over a slot chosen uniformly at random, so a sample's chance
        of surviving falls with its age.
    Until the buffer holds r samples, D sees x_fake alone.  The rows drawn from the buffer are
    constants for D's step (the D step never needs a gradient for its inputs).
    """

    def __init__(self, fraction: float, *, capacity: int) -> None:
        if not (isinstance(fraction, (int, float, np.floating)) and 0.0 < fraction < 1.0):
            raise ValueError(
                f"ReplayBuffer: fraction is the share of D's fakes drawn from the buffer, in "
                f"(0, 1), got {fraction!r}"
            )
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
            raise ValueError(f"ReplayBuffer: capacity must be a whole number, got {capacity!r}")
        if capacity < 1:
            raise ValueError(f"ReplayBuffer: capacity must be >= 1, got {capacity}")
        self.fraction, self.capacity = float(fraction), int(capacity)
        self.x: np.ndarray | None = None  # (capacity, ...) once the first samples arrive
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def replayed(self, m: int) -> int:
        """How many of m fakes come from the buffer once it holds enough."""
        return min(m, int(round(self.fraction * m)))

    def mix(self, x_fake: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """D's fake minibatch: (m, ...), part fresh and part replayed; x_fake joins the buffer."""
        m = len(x_fake)
        r = self.replayed(m)
        if r and self.size >= r:
            old = self.x[rng.integers(0, self.size, size=r)]
            mixed = np.concatenate([x_fake[: m - r], old])
        else:
            mixed = x_fake
        self.push(x_fake, rng)
        return mixed

    def push(self, x: np.ndarray, rng: np.random.Generator) -> None:
        """Store the rows of x: free slots first, then random slots."""
        if self.x is None:
            self.x = np.empty((self.capacity, *x.shape[1:]), dtype=x.dtype)
        elif x.shape[1:] != self.x.shape[1:]:
            raise ValueError(
                f"ReplayBuffer: samples of shape {x.shape[1:]} for a buffer of "
                f"{self.x.shape[1:]}: one buffer serves one run"
            )
        free = min(self.capacity - self.size, len(x))
        self.x[self.size : self.size + free] = x[:free]
        self.size += free
        if free < len(x):
            slots = rng.integers(0, self.capacity, size=len(x) - free)
            self.x[slots] = x[free:]

    def state_dict(self) -> dict[str, np.ndarray]:
        """The stored samples: {"x": (size, ...)}; empty before the first D step."""
        if self.x is None:
            return {}
        return {"x": self.x[: self.size].copy()}

    def load_state_dict(self, state: dict[str, np.ndarray], dtype) -> None:
        """Restore ``state_dict()``'s samples (checked by the caller: shape and count)."""
        self.x, self.size = None, 0
        if "x" in state:
            x = np.asarray(state["x"], dtype=dtype)
            self.x = np.empty((self.capacity, *x.shape[1:]), dtype=dtype)
            self.x[: len(x)] = x
            self.size = len(x)

    def __repr__(self) -> str:
        return f"ReplayBuffer({self.fraction}, capacity={self.capacity})"
