"""The GAN (G, D and a noise prior) and the trainer that runs Algorithm 1 of Goodfellow et al.

    for each training iteration:
        for k steps:
            sample m noise samples z ~ p_g(z) and m examples x ~ p_data
            update D by ascending  (1/m) sum_i [log D(x_i) + log(1 - D(G(z_i)))]
        sample m fresh noise samples z ~ p_g(z)
        update G by descending (1/m) sum_i log(1 - D(G(z_i)))      g_loss="minimax"
                or ascending   (1/m) sum_i log D(G(z_i))           g_loss="non-saturating"

The losses come from an objective object (numgan/gan/objectives.py); the trainer knows only
its contract.  docs/algorithm1.md puts each line next to the code below that does it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from .. import kernels
from ..data import ArrayData, as_data, check_labels
from ..nn import SGD, Adam, NonFiniteInputError, Sequential
from ..nn.activations import sigmoid
from ..nn.layer import all_layers, real_number
from ..nn.optim import Optimizer
from .fused import FUSED_MAX_MACS, FusedStep, fusable
from .objectives import CrossEntropy, FeatureMatching, Objective
from .remedies import InstanceNoise, ReplayBuffer

HISTORY_KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "value")

# A loss or parameter beyond +-MAX_MAGNITUDE is taken as divergence even while it is finite:
# no GAN trains with a loss (about a logit's size) or a weight anywhere near it, and a run
# that got there (Adam at lr 1e6 reached a G loss of 4e22) is not a result.
MAX_MAGNITUDE = 1e6
# Data beyond this scale is named in a divergence message as the likely cause.
DATA_SCALE_HINT = 1e3


class UniformNoise:
    """z ~ U(low, high)^dim, the paper's prior.  sample(m, rng) -> (m, dim)."""

    def __init__(self, dim: int, *, low: float = -1.0, high: float = 1.0) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"UniformNoise: dim must be a positive int, got {dim!r}")
        low, high = (
            real_number("UniformNoise", "low", low),
            real_number("UniformNoise", "high", high),
        )
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            raise ValueError(f"UniformNoise: need finite low < high, got {low!r}, {high!r}")
        self.dim, self.low, self.high = int(dim), float(low), float(high)

    def sample(self, m: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=(m, self.dim)).astype(dtype, copy=False)

    def __repr__(self):
        return f"UniformNoise({self.dim}, low={self.low}, high={self.high})"


class GaussianNoise:
    """z ~ N(0, std**2 I), dim-dimensional.  sample(m, rng) -> (m, dim)."""

    def __init__(self, dim: int, *, std: float = 1.0) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"GaussianNoise: dim must be a positive int, got {dim!r}")
        std = real_number("GaussianNoise", "std", std)
        if not (math.isfinite(std) and std > 0):
            raise ValueError(f"GaussianNoise: std must be positive and finite, got {std!r}")
        self.dim, self.std = int(dim), float(std)

    def sample(self, m: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        return rng.normal(0.0, self.std, size=(m, self.dim)).astype(dtype, copy=False)

    def __repr__(self):
        return f"GaussianNoise({self.dim}, std={self.std})"


def one_hot(y: np.ndarray, num_classes: int, dtype=np.float32) -> np.ndarray:
    """Class labels y (n,) in 0..num_classes-1 (checked by GAN.labels) -> rows (n, num_classes)
    with a 1 in column y[i] of row i and 0 elsewhere."""
    out = np.zeros((len(y), num_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def _check_label_part(name: str, net: Sequential, K: int) -> None:
    """A first Parallel layer with a part named "y" reads the label: the K one-hot columns,
    which g_input and d_input put last.  Catches branches given in the other order."""
    parts = getattr(net.layers[0], "parts", None)
    if not isinstance(parts, dict) or "y" not in parts:
        return
    widths = dict(zip(parts, net.layers[0].widths, strict=True))
    if not K or list(parts)[-1] != "y" or widths["y"] != K:
        raise ValueError(
            f"GAN: {name}'s first layer has a part y of width {widths['y']}, but the label is "
            + (
                f"the last {K} columns of {name}'s input: give y=({K}, [...]) last"
                if K
                else "only read by a conditional GAN: pass num_classes="
            )
        )


class GAN:
    """A generator G: z -> x, a discriminator D: x -> logit, and the noise prior p_g(z).

    D(x) = sigmoid(D's logit); D's last layer must have one output and no sigmoid.

    num_classes: K for a conditional GAN (Mirza & Osindero 2014), G(z, y) and D(x, y), None
    (the default) for the 2014 GAN.  Both networks then read a label as a one-hot row joined to
    their usual input: G reads [z, y] of width D_z + K, D reads [x, y] of width D_x + K
    (``g_input``, ``d_input``); a ``Parallel`` first layer gives each its own branch.
    """

    def __init__(
        self, G: Sequential, D: Sequential, noise, *, num_classes: int | None = None
    ) -> None:
        for name, net in (("G", G), ("D", D)):
            if not isinstance(net, Sequential):
                raise TypeError(
                    f"GAN: {name} must be a numgan Sequential, got {type(net).__name__}"
                )
        if G.dtype != D.dtype:
            raise ValueError(f"GAN: G is {G.dtype} but D is {D.dtype}: build both with one dtype")
        if not (
            isinstance(getattr(noise, "dim", None), (int, np.integer))
            and callable(getattr(noise, "sample", None))
        ):
            raise TypeError(
                f"GAN: noise must be a prior with dim and sample(m, rng, dtype), such as "
                f"UniformNoise(100) or GaussianNoise(100), got {noise!r}"
            )
        shared = {id(layer) for layer in all_layers(G.layers)} & {
            id(layer) for layer in all_layers(D.layers)
        }
        if shared:
            raise ValueError(
                "GAN: G and D share a layer object; each network needs its own layers (they "
                "are trained by different optimisers on different losses)"
            )
        if num_classes is not None and (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, (int, np.integer))
            or num_classes < 2
        ):
            raise ValueError(f"GAN: num_classes must be an int >= 2 or None, got {num_classes!r}")
        K = 0 if num_classes is None else int(num_classes)
        label = f" + {K} label columns" if K else ""
        if G.in_shape is not None and G.in_shape != (noise.dim + K,):
            hint = ""
            if not K and len(G.in_shape) == 1 and G.in_shape[0] > noise.dim:
                hint = f" (a conditional G? pass num_classes={G.in_shape[0] - noise.dim})"
            raise ValueError(
                f"GAN: the noise has {noise.dim} dimensions{label} but G expects samples of "
                f"shape {G.in_shape}: make them agree{hint}"
            )
        out = G.out_shape
        if K and out is not None and len(out) != 1:
            raise ValueError(
                f"GAN: a conditional G must output rows (N, features), got samples of shape "
                f"{out}: end G in a Flatten()"
            )
        d_in = None if out is None else ((out[0] + K,) if K else out)
        if d_in is not None and D.in_shape is not None and d_in != D.in_shape:
            raise ValueError(
                f"GAN: G outputs samples of shape {out}{label} but D expects {D.in_shape}"
            )
        if D.out_shape is not None and D.out_shape != (1,):
            raise ValueError(
                f"GAN: D must end in a single logit (output shape (1,)), got {D.out_shape}"
            )
        for name, net in (("G", G), ("D", D)):
            _check_label_part(name, net, K)
        self.G, self.D, self.noise = G, D, noise
        self.num_classes = None if num_classes is None else K
        self.dtype = G.dtype

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    def g_input(self, z: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """What G reads: z (n, D_z), or [z, one_hot(y)] (n, D_z + K) when conditional."""
        return self._join(z, y, "g_input")

    def d_input(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """What D reads: x (n, ...), or [x, one_hot(y)] (n, D_x + K) when conditional."""
        return self._join(x, y, "d_input")

    def _join(self, h: np.ndarray, y, where: str) -> np.ndarray:
        if self.num_classes is None:
            if y is not None:
                raise ValueError(
                    f"GAN.{where}: labels given to a GAN without classes: build it with "
                    "GAN(G, D, noise, num_classes=K)"
                )
            return h
        if y is None:
            raise ValueError(
                f"GAN.{where}: this GAN is conditional: pass labels= (one class per sample in "
                f"0..{self.num_classes - 1}, or one int for all)"
            )
        h = np.asarray(h)
        onehot = one_hot(self.labels(y, len(h)), self.num_classes, self.dtype)
        return np.concatenate([h.reshape(len(h), -1).astype(self.dtype, copy=False), onehot], 1)

    def labels(self, y, n: int) -> np.ndarray:
        """y as n class labels (n,) int64: an int is repeated n times; checked against K."""
        if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
            y = np.full(n, int(y), dtype=np.int64)
        y = check_labels(y, n)  # integer classes >= 0, one per sample
        if n and y.max() >= self.num_classes:
            raise ValueError(
                f"label {int(y.max())} is out of range: this GAN has {self.num_classes} classes "
                f"(0..{self.num_classes - 1})"
            )
        return y

    def initialize(self, rng: np.random.Generator, *, force: bool = False) -> None:
        """Draw G's then D's parameters from ``rng`` (only those not drawn yet, unless force)."""
        for net in (self.G, self.D):
            if force or not net.initialized:
                for layer in net.layers:
                    if force or not layer.initialized:
                        layer.reset_parameters(rng)
            net.bind_rng(rng)

    def sample(self, n: int, rng: np.random.Generator, *, labels=None) -> np.ndarray:
        """n samples G(z), z ~ p_g(z), with G in eval mode.  (n, D_x)

        labels: a conditional GAN's classes for the n samples, (n,) ints or one int for all.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"GAN.sample: n must be a whole number >= 1, got {n!r}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"GAN.sample: rng must be a numpy.random.Generator, got {rng!r}: pass "
                "np.random.default_rng(seed)"
            )
        z = self.noise.sample(n, rng, self.dtype)
        return self.G.forward(self.g_input(z, labels), training=False)

    def discriminate(
        self, x: np.ndarray, objective: Objective | None = None, *, labels=None
    ) -> np.ndarray:
        """D(x) as ``objective`` reads D's output (``score``: sigmoid(logit) by default, the
        output itself for least squares), with D in eval mode.  (n, ...) -> (n, 1)

        labels: a conditional GAN's classes for the rows of x (D(x, y)).
        """
        a = self.D.forward(self.d_input(x, labels), training=False)
        return sigmoid(a) if objective is None else objective.score(a)


def feature_matching_step(
    D: Sequential, objective: FeatureMatching, x: np.ndarray, x_fake: np.ndarray
) -> tuple[float, np.ndarray]:
    """(L_G, dL_G/dx_fake) of feature matching, f being D's first layers (FeatureMatching).

    f(x) runs first (it needs no backward), then f(G(z)), whose caches the backward reads;
    D's later layers do not run, and D's parameter gradients are not touched.
    """
    if x is None:
        raise ValueError("feature matching needs a data minibatch x for G's step")
    f = D.layers[: objective.feature_layers(len(D.layers))]
    h_real, h_fake = np.asarray(x, dtype=D.dtype), np.asarray(x_fake, dtype=D.dtype)
    for layer in f:
        h_real = layer.forward(h_real, training=True)
    for layer in f:
        h_fake = layer.forward(h_fake, training=True)
    loss, g = objective.g_loss_features(h_real, h_fake)
    for layer in reversed(f):
        g = layer.backward(g, param_grads=False)
    return loss, g


def class_frequencies(data, num_classes: int) -> np.ndarray:
    """p(y) (num_classes,) that a conditional trainer draws the fakes' labels from: the
    class counts over the rows it trains on (a Dataset's training split), or a source's own
    ``class_frequencies`` (the mixtures: uniform over their modes).  Refuses unlabelled data
    and a class count that differs from the GAN's."""
    if not callable(getattr(data, "sample_labeled", None)) or data.num_classes is None:
        raise ValueError(
            "Trainer: a conditional GAN needs labelled data (an array with labels: "
            "ArrayData(x, y), or a source with sample_labeled), and this data has no labels"
        )
    if data.num_classes < 2:
        raise ValueError(
            "Trainer: a conditional GAN needs data of at least 2 classes; this data has 1: "
            "train an unconditional GAN (GAN(G, D, noise)) instead"
        )
    if data.num_classes != num_classes:
        raise ValueError(
            f"Trainer: the data has {data.num_classes} classes but the GAN was built for "
            f"{num_classes}: build it with num_classes={data.num_classes}"
        )
    labels = getattr(data, "labels", None)
    if labels is not None and hasattr(data, "train_labels"):
        labels = data.train_labels  # a Dataset trains on its training split
    if labels is not None:
        counts = np.bincount(labels, minlength=num_classes)
        if not counts.all():
            raise ValueError(
                f"Trainer: class {int(np.argmin(counts))} of 0..{num_classes - 1} has no rows in "
                "the training data, so D would never see a real example of it: number the "
                "classes 0..K-1 without gaps (or give num_classes=K of the classes present)"
            )
        return counts / len(labels)
    p = getattr(data, "class_frequencies", None)
    if p is None:
        return np.full(num_classes, 1.0 / num_classes)
    return np.asarray(p, dtype=np.float64)


def _zeroing_step(opt) -> bool:
    """Whether opt.step is numgan's SGD.step or Adam.step itself, which zero the gradients when
    asked (a subclass's own step, or a step replaced on the instance, may not)."""
    return getattr(opt.step, "__func__", None) in (SGD.step, Adam.step)


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or parameter."""


def values_per_sample(net: Sequential, shape, *, passes: int = 2) -> int:
    """How many numbers one sample of shape ``shape`` leaves in a network: each layer's
    output, once per pass (forward and backward: 2; a forward alone: 1), and what a layer holds
    beside it (``Layer.extra_values``: a convolution's patches).  A lower bound where shapes
    are unknown."""
    total = 0
    for layer in net.layers:
        if shape is not None:
            total += layer.extra_values(shape) * passes // 2
        shape = layer.output_shape(shape) if shape is not None else layer.out_shape
        if shape is not None:
            total += passes * math.prod(shape)
    return total


def memory_text(n: float) -> str:
    """A byte count for people: 1,234 bytes, 12.3 MiB, 4.5 TiB."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def physical_memory() -> int | None:
    """This machine's memory in bytes, where the OS says (None elsewhere)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_memory(gan: GAN, m: int) -> None:
    """Refuse a batch whose activations alone cannot fit in this machine's memory, saying how
    much they would need (before NumPy fails deep inside a forward pass)."""
    memory = physical_memory()
    if memory is None:
        return
    K = gan.num_classes or 0  # a conditional GAN's label columns
    d_in = gan.G.out_shape if not K or gan.G.out_shape is None else (gan.G.out_shape[0] + K,)
    per_sample = values_per_sample(gan.G, (gan.noise.dim + K,)) + values_per_sample(gan.D, d_in)
    need = m * per_sample * gan.dtype.itemsize * 2  # D sees a real and a fake batch
    if need > memory:
        raise ValueError(
            f"batch size {m:,} needs about {memory_text(need)} for one iteration's "
            f"activations, more than this machine's {memory_text(memory)}: use a smaller "
            "batch size (--batch-size)"
        )


class Trainer:
    """Algorithm 1: k discriminator steps, then one generator step, per iteration.

    data:        an array (N, ...) sampled with replacement, or an object with sample(m, rng)
    batch_size:  m, the minibatch size of both the noise and the data samples
    k:           discriminator steps per generator step (the paper used k = 1)
    g_loss:      "minimax" (as printed in Algorithm 1) or "non-saturating" (Section 3, the
                 default): shorthand for objective=CrossEntropy(g_loss)
    objective:   what D and G minimise (numgan/gan/objectives.py); default CrossEntropy.
                 FeatureMatching draws a data minibatch for each G step too (after z).
    instance_noise: an InstanceNoise: Gaussian noise on every input D sees, in both steps
    replay:      a ReplayBuffer: part of every fake minibatch D sees comes from earlier G(z)
                 (not with a conditional GAN: the buffer keeps no labels)
    opt_g/opt_d: one optimiser per network (SGD with momentum by default)
    seed:        seeds the run's one Generator: initial weights (of layers not yet initialised),
                 noise, minibatch choice and dropout masks all come from it
    callback:    called as callback(trainer) after every ``callback_every`` iterations
    fused:       None or False (default): the layer path, the code docs/algorithm1.md walks
                 through; "auto": one jitted call per iteration (numgan/gan/fused.py) when
                 the networks allow it, the layers otherwise; True: fused, or an error saying
                 why it cannot be.  The fused step computes the same algorithm to float32
                 rounding (docs/kernels.md says where its arithmetic differs).

    A conditional GAN (GAN(..., num_classes=K)) plays the same game on labelled data: each D
    step draws (x, y) with ``data.sample_labeled`` for the real half and labels y' for the
    fakes from the training set's class frequencies (``class_frequencies``), and D judges
    [x, y] and [G(z, y'), y']; the G step draws fresh z and y'.  The draws, in order: z, (x, y),
    y' per D step; z, y' (then x, y for feature matching) for the G step.

    Gradients: each step starts from zero gradients, as Algorithm 1 needs.  numgan's SGD and
    Adam zero a network's gradients in the same pass as its update, so between steps they read
    zero, and the zero_grad() before the next backward pass is skipped.  That skip is only taken
    when the network's ``grad_writes`` count shows no backward pass has run since.  A
    hand-written ``G.backward``/``D.backward`` between steps therefore does not leak into the
    next update.  Writing into ``layer.grads`` directly, or calling a layer's own backward,
    bypasses that count: call ``net.zero_grad()`` afterwards (``gradcheck.check_layer`` leaves
    the gradients as it found them).  An optimiser whose ``step`` is not SGD's or Adam's own
    gets ``step(net)`` and a ``zero_grad()`` before every backward pass.

    ``train(iterations)`` runs that many more iterations and returns the history: a dict of
    arrays, one entry per iteration since the start (see ``HISTORY_KEYS``).  D-side entries are
    the means over the iteration's k D steps; ``value`` is the minibatch estimate of V(D, G).
    """

    def __init__(
        self,
        gan: GAN,
        data,
        *,
        batch_size: int = 100,
        k: int = 1,
        g_loss: str | None = None,
        objective: Objective | None = None,
        opt_g: SGD | None = None,
        opt_d: SGD | None = None,
        seed: int | None = 0,
        callback: Callable[[Trainer], None] | None = None,
        callback_every: int = 100,
        fused: bool | str | None = None,
        instance_noise: InstanceNoise | None = None,
        replay: ReplayBuffer | None = None,
    ) -> None:
        if not isinstance(gan, GAN):
            raise TypeError(f"Trainer: gan must be a numgan GAN, got {type(gan).__name__}")
        for name, v in (("batch_size", batch_size), ("k", k), ("callback_every", callback_every)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Trainer: {name} must be a positive int, got {v!r}")
        if objective is None:
            objective = CrossEntropy(g_loss or "non-saturating")
        elif g_loss is not None:
            raise ValueError(
                "Trainer: give g_loss or objective, not both (the objective holds G's loss: "
                f'CrossEntropy("{g_loss}"))'
            )
        if not isinstance(objective, Objective):
            raise TypeError(
                f"Trainer: objective must be a numgan Objective, got {type(objective).__name__}"
            )
        for name, value, kind in (
            ("instance_noise", instance_noise, InstanceNoise),
            ("replay", replay, ReplayBuffer),
        ):
            if value is not None and not isinstance(value, kind):
                raise TypeError(
                    f"Trainer: {name} must be a numgan {kind.__name__} or None, got "
                    f"{type(value).__name__}"
                )
        if gan.conditional and replay is not None:
            raise ValueError(
                "Trainer: replay does not work with a conditional GAN (the buffer keeps "
                "samples, not their labels): drop replay"
            )
        self.instance_noise, self.replay = instance_noise, replay
        if isinstance(objective, FeatureMatching):
            objective.feature_layers(len(gan.D.layers))  # f must be part of D: checked now
        self.objective = objective
        self.gan = gan
        self.data = as_data(data)
        self.label_p = class_frequencies(self.data, gan.num_classes) if gan.conditional else None
        dim = getattr(self.data, "dim", None)
        K = gan.num_classes or 0
        if dim is not None and gan.D.in_features is not None and dim + K != gan.D.in_features:
            raise ValueError(
                f"Trainer: data samples have {dim} features"
                + (f" (+ {K} label columns)" if K else "")
                + f" but D expects {gan.D.in_features}"
            )
        x = getattr(self.data, "x", None)  # an array's samples: their size is known up front
        self._data_peak = float(np.abs(x).max()) if isinstance(x, np.ndarray) and x.size else 0.0
        limit = float(np.finfo(gan.dtype).max)
        if not self._data_peak <= limit:
            raise ValueError(
                f"Trainer: the data reaches |x| = {self._data_peak:.3g}, beyond {gan.dtype.name}'s "
                f"range (+-{limit:.4g}) that these networks compute in: rescale it (to [-1, 1], "
                "say)"
            )
        self.batch_size, self.k = int(batch_size), int(k)
        _check_memory(gan, self.batch_size)
        self.opt_g = opt_g if opt_g is not None else SGD(lr=0.1, momentum=0.5)
        self.opt_d = opt_d if opt_d is not None else SGD(lr=0.1, momentum=0.5)
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            if not isinstance(opt, Optimizer):
                raise TypeError(
                    f"Trainer: {name} must be a numgan optimiser (ng.SGD(...) or ng.Adam(...)), "
                    f"got {opt!r}"
                )
        if self.opt_g is self.opt_d:
            raise ValueError("Trainer: opt_g and opt_d must be separate optimiser instances")
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(f"Trainer: seed must be a whole number >= 0 or None, got {seed!r}")
        self.rng = np.random.default_rng(seed)
        gan.initialize(self.rng)
        if callback is not None and not callable(callback):
            raise TypeError(
                f"Trainer: callback must be a function called as callback(trainer), got "
                f"{callback!r}"
            )
        self.callback, self.callback_every = callback, int(callback_every)
        if fused not in (None, False, True, "auto"):
            raise ValueError(f'Trainer: fused must be None, False, True or "auto", got {fused!r}')
        self.fused = fused
        self._plan: tuple[str, FusedStep | None] | None = None
        self._rowwise_d: tuple | None = None  # (D, whether D is rowwise)
        if fused is True and not self._fusable():
            raise ValueError(
                "Trainer(fused=True): the fused step needs the numba backend, SGD for both "
                "networks, cross-entropy with fixed targets, no instance noise or replay, no "
                "labels (conditional GAN), and "
                "G and D made of Dense layers "
                "each followed by at most one ReLU/LeakyReLU/Tanh/Sigmoid, with every "
                f'batch * in * out at most {FUSED_MAX_MACS}; use fused="auto" to fall back '
                "to the layers"
            )
        self.iteration = 0
        self.history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
        # per network, (the network, its grad_writes) when this Trainer's last update left its
        # gradients zero
        self._zeroed_at: dict[str, tuple[Sequential, int]] = {}

    # -- the two steps -------------------------------------------------------------------

    def _zero_grad(self, name: str, net: Sequential) -> None:
        """net.zero_grad(), unless its gradients still hold the zeros this Trainer's last update
        wrote (no backward pass has accumulated into them since)."""
        zeroed, count = self._zeroed_at.get(name, (None, None))
        if zeroed is not net or count != net.grad_writes:
            net.zero_grad()

    def _update(self, name: str, opt, net: Sequential) -> None:
        """One optimiser step.  numgan's optimisers also zero the gradients they consumed, in
        the update's pass over memory, so the next step's zero_grad has nothing left to do."""
        if _zeroing_step(opt):
            opt.step(net, zero_grad=True)
            self._zeroed_at[name] = (net, net.grad_writes)
        else:
            opt.step(net)

    @property
    def g_loss(self) -> str | None:
        """G's loss of a CrossEntropy objective ("minimax" or "non-saturating"), else None."""
        return getattr(self.objective, "kind", None)

    def d_step(
        self,
        x: np.ndarray,
        z: np.ndarray,
        y: np.ndarray | None = None,
        y_fake: np.ndarray | None = None,
    ) -> tuple[float, float, float]:
        """One D update on data x (m, ...) and noise z (m, D_z); G is not touched.

        A conditional GAN also takes the data's labels y (m,) and the fakes' labels y_fake (m,):
        G makes G(z, y_fake) and D judges [x, y] and [G(z, y_fake), y_fake].

        Descends D's loss (for CrossEntropy: L_D = -(1/m) sum [log D(x) + log(1 - D(G(z)))],
        i.e. ascends the printed objective).  The real half is backpropagated before D sees
        the fakes, because each forward overwrites D's caches; the two halves accumulate in
        D's gradients.  Returns (L_D, mean D(x), mean D(G(z))).
        """
        gan, G, D, objective = self.gan, self.gan.G, self.gan.D, self.objective
        x_fake = G.forward(gan.g_input(z, y_fake), training=True)
        if self.replay is not None:  # a remedy: part of the fakes from earlier G(z)
            x_fake = self.replay.mix(x_fake, self.rng)
        x, x_fake = self._noisy(x), self._noisy(x_fake)  # as they are unless instance noise
        x, x_fake = gan.d_input(x, y), gan.d_input(x_fake, y_fake)  # [x, y] if conditional
        self._zero_grad("D", D)
        if self._one_d_pass():
            # The fast path: D treats rows independently, so one pass on the 2m rows
            # [x; G(z)] gives both halves' logits and the sum of their gradients, as the two
            # passes below do, with products twice as tall (docs/algorithm1.md).
            m = len(x)
            a = D.forward(np.concatenate([x, x_fake]), training=True)
            a_real, a_fake = a[:m], a[m:]
            loss_real, da_real = objective.d_loss_real(a_real, self.rng)
            loss_fake, da_fake = objective.d_loss_fake(a_fake, self.rng)
            D.backward(np.concatenate([da_real, da_fake]), input_grad=False)
        else:
            a_real = D.forward(x, training=True)
            loss_real, da_real = objective.d_loss_real(a_real, self.rng)
            D.backward(da_real, input_grad=False)  # D's input is data: no dx needed
            a_fake = D.forward(x_fake, training=True)
            loss_fake, da_fake = objective.d_loss_fake(a_fake, self.rng)
            D.backward(da_fake, input_grad=False)
        self._update("D", self.opt_d, D)
        score_real = float(objective.score(a_real).mean())
        return loss_real + loss_fake, score_real, float(objective.score(a_fake).mean())

    def g_step(
        self,
        z: np.ndarray,
        x: np.ndarray | None = None,
        y_fake: np.ndarray | None = None,
        y: np.ndarray | None = None,
    ) -> float:
        """One G update on noise z (m, D_z); D's parameters and gradients are not touched.

        dL_G/dx_fake comes from D.backward(..., param_grads=False), then flows into G.
        Feature matching needs a data minibatch x (m, ...): its loss compares D's features
        of x and of G(z), and backpropagates through D's feature layers only.
        A conditional GAN takes the fakes' labels y_fake (m,) (and x's labels y for feature
        matching); D reads [G(z, y_fake), y_fake], and of D's input gradient only the columns
        of G's sample flow back into G (the label columns are not G's output).
        """
        gan, G, D = self.gan, self.gan.G, self.gan.D
        self._zero_grad("G", G)
        x_fake = self._noisy(G.forward(gan.g_input(z, y_fake), training=True))  # d(x + e)/dx = 1
        fake_in = gan.d_input(x_fake, y_fake)
        if isinstance(self.objective, FeatureMatching):  # a remedy: G matches D's features
            real_in = gan.d_input(self._noisy(x), y)
            loss, dx_fake = feature_matching_step(D, self.objective, real_in, fake_in)
        else:
            a_fake = D.forward(fake_in, training=True)
            loss, da = self.objective.g_loss(a_fake)
            dx_fake = D.backward(da, param_grads=False)
        if gan.conditional:  # [dL/dx_fake, dL/dy]: G made only x_fake
            dx_fake = np.ascontiguousarray(dx_fake[:, : x_fake.shape[1]])
        G.backward(dx_fake, input_grad=False)  # G's input is noise
        self._update("G", self.opt_g, G)
        return loss

    def draw_labels(self, m: int) -> np.ndarray:
        """m labels (m,) for the fakes, at the training data's class frequencies (label_p)."""
        return self.rng.choice(len(self.label_p), size=m, p=self.label_p)

    def minibatch(self, m: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A data minibatch (m, ...), with its labels (m,) for a conditional GAN, else None."""
        if self.gan.conditional:
            return self.data.sample_labeled(m, self.rng)
        return self.data.sample(m, self.rng), None

    def fake_labels(self, m: int) -> np.ndarray | None:
        """A conditional GAN's labels y' (m,) for G(z, y'), else None."""
        return self.draw_labels(m) if self.gan.conditional else None

    def _noisy(self, x: np.ndarray) -> np.ndarray:
        """What D sees of x: x itself, or x plus instance noise (numgan/gan/remedies.py)."""
        if self.instance_noise is None or x is None:
            return x
        return self.instance_noise.add(x, self.iteration, self.rng)

    def _jitted_noise(self) -> tuple[int, float, float] | None:
        """(kind, low, high) of a prior the fused step can draw itself (0: UniformNoise(low,
        high), 1: GaussianNoise(std = high)), or None for any other (drawn in Python)."""
        noise = self.gan.noise
        if type(noise) is UniformNoise:
            return 0, noise.low, noise.high
        if type(noise) is GaussianNoise:
            return 1, 0.0, noise.std
        return None

    def _one_d_pass(self) -> bool:
        """Whether the D step runs D once on [x; G(z)]: on the Numba backend (the fast path;
        the NumPy backend keeps the two passes of Algorithm 1 as written) when D is rowwise."""
        D = self.gan.D
        if self._rowwise_d is None or self._rowwise_d[0] is not D:  # asked once per D
            self._rowwise_d = (D, D.rowwise)
        return self._rowwise_d[1] and kernels.get_backend() == "numba"

    def _fusable(self) -> bool:
        if self.instance_noise is not None or self.replay is not None or self.gan.conditional:
            return False  # draws between the layers: the layer path keeps them in order
        return fusable(self.gan, self.opt_g, self.opt_d, self.batch_size, self.objective)

    def _fused_plan(self) -> FusedStep | None:
        """The compiled plan if this iteration should run fused, else None."""
        backend = kernels.get_backend()
        if self._plan is None or self._plan[0] != backend:
            plan = None
            if self.fused in (True, "auto") and self._fusable():
                plan = FusedStep(
                    self.gan, self.opt_g, self.opt_d, self.batch_size, self.k, self.objective
                )
            self._plan = (backend, plan)
        return self._plan[1]

    @property
    def uses_fused(self) -> bool:
        """Whether iterations run as one jitted call (see ``fused``), on this backend."""
        return self._fused_plan() is not None

    def step(self) -> dict[str, float]:
        """One iteration of Algorithm 1.  Returns this iteration's history entry.

        Raises DivergenceError, naming the iteration and the first layer whose parameters went
        non-finite, when a loss or a network's input is NaN or inf.
        """
        try:
            return self._step()
        except NonFiniteInputError as err:
            raise self._divergence(f"non-finite values reached a network ({err})") from None

    def _divergence(self, what: str, iteration: int | None = None) -> DivergenceError:
        where = [
            f"{name} {bad}"
            for name, net in (("G", self.gan.G), ("D", self.gan.D))
            if (bad := net.first_nonfinite(MAX_MAGNITUDE)) is not None
        ]
        found = (
            ("first diverged parameters: " + where[0])
            if where
            else (f"the parameters are still finite and within +-{MAX_MAGNITUDE:.0e}")
        )
        iteration = self.iteration + 1 if iteration is None else iteration
        fix = "Lower the learning rate or resume from an earlier checkpoint"
        if self._data_peak > DATA_SCALE_HINT:  # GANs train on data of about unit scale
            fix = (
                f"The data reaches |x| = {self._data_peak:.3g}: rescale it (to [-1, 1], say), "
                "or lower the learning rate"
            )
        return DivergenceError(
            f"training diverged at iteration {iteration}: {what}; {found}. {fix}"
        )

    def check_parameters(self) -> None:
        """Raise DivergenceError, naming the first layer, if a parameter of G or D is NaN, inf
        or beyond +-MAX_MAGNITUDE.  ``train`` calls it every ``callback_every`` iterations and
        at its end; ``numgan train`` before every checkpoint, so a checkpoint never holds a
        diverged run.  One pass over the parameters: too slow to run every iteration."""
        for net in (self.gan.G, self.gan.D):
            if net.first_nonfinite(MAX_MAGNITUDE) is not None:
                raise self._divergence(
                    f"parameters beyond +-{MAX_MAGNITUDE:.0e}", iteration=self.iteration
                )

    def _step(self) -> dict[str, float]:
        m, dtype, rng = self.batch_size, self.gan.dtype, self.rng
        plan = self._fused_plan()
        if plan is not None:
            # Same draws in the same order as below; the arithmetic runs in one jitted call.
            noise = self._jitted_noise()
            if noise is not None and type(self.data) is ArrayData:  # drawn in a jitted call too
                z_g = plan.draw(rng, self.data.x, noise)
            else:
                for i in range(self.k):
                    plan.z_d[i] = self.gan.noise.sample(m, rng, dtype)
                    plan.x_d[i] = self.data.sample(m, rng)
                z_g = self.gan.noise.sample(m, rng, dtype)
            nets = (("G", self.gan.G), ("D", self.gan.D))
            for name, net in nets:
                self._zero_grad(name, net)  # the jitted step starts from zero gradients
            d_loss, d_real, d_fake, g_loss = plan.run(z_g).tolist()
            for name, net in nets:  # and its updates leave them zero
                self._zeroed_at[name] = (net, net.grad_writes)
        else:
            d_loss = d_real = d_fake = 0.0
            for _ in range(self.k):
                z = self.gan.noise.sample(m, rng, dtype)
                x, y = self.minibatch(m)  # y: x's labels if conditional, else None
                loss, real, fake = self.d_step(x, z, y, self.fake_labels(m))
                d_loss, d_real, d_fake = d_loss + loss, d_real + real, d_fake + fake
            z = self.gan.noise.sample(m, rng, dtype)
            y_fake = self.fake_labels(m)
            x = y = None
            if isinstance(self.objective, FeatureMatching):  # a remedy: G's loss reads data
                x, y = self.minibatch(m)
            g_loss = self.g_step(z, x, y_fake, y)
        entry = {
            "d_loss": d_loss / self.k,
            "g_loss": g_loss,
            "d_real": d_real / self.k,
            "d_fake": d_fake / self.k,
            "value": -d_loss / self.k,
        }
        if not (abs(entry["d_loss"]) <= MAX_MAGNITUDE and abs(g_loss) <= MAX_MAGNITUDE):
            kind = "non-finite" if not np.isfinite([d_loss, g_loss]).all() else "exploding"
            raise self._divergence(
                f"{kind} loss (D {entry['d_loss']:.4g}, G {g_loss:.4g}; a loss beyond "
                f"+-{MAX_MAGNITUDE:.0e} counts as diverged)"
            )
        for key, value in entry.items():
            self.history[key].append(value)
        self.iteration += 1
        return entry

    def train(self, iterations: int, *, progress: bool = False) -> dict[str, np.ndarray]:
        """Run ``iterations`` more iterations; return the whole history as arrays.

        progress=True shows a bar with iterations/s, the losses and D's mean outputs (a widget
        in Jupyter, a bar in a terminal, a plain line now and then in a log file).  NumPy's
        overflow warnings are silenced here: what they warn of is caught as a DivergenceError
        (a non-finite or exploding loss, or parameters: ``check_parameters``).
        """
        if (
            isinstance(iterations, bool)
            or not isinstance(iterations, (int, np.integer))
            or iterations < 0
        ):
            raise ValueError(f"train: iterations must be a non-negative int, got {iterations!r}")
        bar = None
        if progress:
            from .progress import TrainingProgress

            bar = TrainingProgress(self.iteration + int(iterations), self.iteration)
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for _ in range(int(iterations)):
                    self.step()
                    if bar is not None:
                        bar.update(self)
                    if self.iteration % self.callback_every == 0:
                        self.check_parameters()
                        if self.callback is not None:
                            self.callback(self)
                self.check_parameters()
        finally:
            if bar is not None:
                bar.close()
        return self.history_arrays()

    def history_arrays(self) -> dict[str, np.ndarray]:
        return {key: np.asarray(values) for key, values in self.history.items()}
