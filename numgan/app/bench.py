"""Training speed of numgan alone: iterations per second of Algorithm 1 on each backend.

    numgan bench [--models 1,2,3,4] [--repeats N] [--block-seconds S] [--sleep S] [--threads N]
                 [--batch-size M] [--seed S] [--quick]
    numgan bench --torch [flags of benchmarks/train_speed.py]

One iteration is Algorithm 1 with k = 1: one D step on m real and m generated samples, then one
G step on fresh noise that backpropagates through D without D's parameter gradients.  The timed
call is ``Trainer.step()`` of a ``numgan.Trainer`` built with the public API, with
``fused="auto"``: the fused step where the model allows it, the layers elsewhere.

Models (float32 throughout):

    1      the paper's MNIST MLP GAN: G 100-1200-1200-784 (ReLU, Sigmoid out), D 784-240-240-1
           (LeakyReLU 0.2, logit out), m = 100, SGD (lr 0.1, momentum 0.5)
    2-sgd  DCGAN-style MLP: G 100-256-512-1024-784 (Dense, BatchNorm, LeakyReLU 0.2; Tanh out),
           D 784-512-256-1 (LeakyReLU 0.2, logit out), m = 64, SGD (lr 0.01, momentum 0.5)
    2-adam the same with Adam (lr 2e-4, beta1 0.5, beta2 0.999, eps 1e-8)
    3      the 1-D toy: G and D 1-16-16-1 (LeakyReLU 0.2), m = 64, SGD (lr 0.1, momentum 0.5)
    3-tanh     the same with tanh hidden layers and Gaussian noise z ~ N(0, 1)
    3-sigmoid  the same with sigmoid hidden layers and Gaussian noise
    4      DCGAN MNIST: the ``dcgan`` preset (numgan/gan/models.py) for 28x28 images, G
           Dense 100 -> 64x7x7, BN, ReLU, ConvTranspose 64 -> 32 (4x4, stride 2), BN, ReLU,
           ConvTranspose 32 -> 1, Tanh; D Conv 1 -> 32 (4x4, stride 2), LeakyReLU 0.2,
           Conv 32 -> 64, BN, LeakyReLU 0.2, Dense 3136 -> 1; m = 64, Adam (lr 2e-4, beta1 0.5)

The two backends are timed in blocks interleaved in one process, with a pause before each
block (OpenBLAS threads spin for ~0.1 s after a product and would slow whatever runs next on a
small machine); the result is the median over the blocks.  ``numgan bench`` prints a Markdown
table of those medians.

The comparison with PyTorch (and with the matrix products alone), the agreement check that
precedes it, the machine description, the report files and the plot are not part of the
library: they live in ``benchmarks/`` of a source checkout, built on this module's models,
trainers and timing loop (docs/benchmarks.md).  ``numgan bench --torch ...`` runs
``benchmarks/train_speed.py`` with the other flags when that folder sits beside the package
(a source checkout, or an editable install of one); an installed package has no
``benchmarks/``, and ``--torch`` then says so and exits.  The library never imports torch or
matplotlib for this.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from .. import kernels
from ..gan import GAN, GaussianNoise, Trainer, UniformNoise
from ..gan import models as presets
from ..kernels import blas
from ..kernels.threads import prefer_layer, splits_under, threading_layer
from ..nn import (
    SGD,
    Adam,
    BatchNorm,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Flatten,
    Layer,
    LeakyReLU,
    ReLU,
    Reshape,
    Sequential,
    Sigmoid,
    Tanh,
)
from .parser import OneLineParser

BACKENDS = kernels.BACKENDS
LABELS = {"numba": "numgan (Numba)", "numpy": "numgan (NumPy)"}
DATA_SIZE = 10_000

#: benchmarks/ of a source checkout, beside the package; an installed package has none.
BENCHMARKS_DIR = Path(__file__).resolve().parents[2] / "benchmarks"

#: ("dense", in, out) | ("relu",) | ("lrelu", alpha) | ("bn", n) | ("sigmoid",) | ("tanh",)
#: | ("conv", c_in, c_out, kernel, stride, padding) | ("convT", c_in, c_out, kernel, stride,
#: padding, output_padding) | ("reshape", shape) | ("flatten",); the conv sizes are (h, w) pairs
LayerSpec = tuple


# -- the models -----------------------------------------------------------------------------


def _mlp(
    widths: Sequence[int], hidden: LayerSpec, out: LayerSpec | None = None, *, bn: bool = False
) -> tuple[LayerSpec, ...]:
    """Dense layers of ``widths``; after each hidden one [BatchNorm,] ``hidden``; then ``out``."""
    layers: list[LayerSpec] = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(("dense", n_in, n_out))
        if i < len(widths) - 2:
            if bn:
                layers.append(("bn", n_out))
            layers.append(hidden)
        elif out is not None:
            layers.append(out)
    return tuple(layers)


def layer_spec(layer: Layer) -> LayerSpec:
    """A numgan layer as a LayerSpec tuple (what the benchmark reads a preset's networks as)."""
    if isinstance(layer, Dense):
        return ("dense", layer.in_features, layer.out_features)
    if isinstance(layer, ReLU):  # before LeakyReLU: it may be its subclass
        return ("relu",)
    if isinstance(layer, LeakyReLU):
        return ("lrelu", layer.alpha)
    if isinstance(layer, BatchNorm):
        return ("bn", layer.num_features)
    if isinstance(layer, Sigmoid):
        return ("sigmoid",)
    if isinstance(layer, Tanh):
        return ("tanh",)
    if isinstance(layer, Conv2D):
        c = (layer.in_channels, layer.out_channels)
        return ("conv", *c, layer.kernel_size, layer.stride, layer.padding)
    if isinstance(layer, ConvTranspose2D):
        c = (layer.in_channels, layer.out_channels)
        k, s, p, op = layer.kernel_size, layer.stride, layer.padding, layer.output_padding
        return ("convT", *c, k, s, p, op)
    if isinstance(layer, Reshape):
        return ("reshape", layer.shape)
    if isinstance(layer, Flatten):
        return ("flatten",)
    raise ValueError(f"the benchmark has no spec for layer {layer!r}")


def _spec_shapes(layers: Sequence[LayerSpec], in_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The per-sample shape after each layer, from the input's ``in_shape``."""
    shapes, shape = [], tuple(in_shape)
    for s in layers:
        kind = s[0]
        if kind == "dense":
            shape = (s[2],)
        elif kind in ("conv", "convT"):
            _, _, c_out, (kh, kw), (sh, sw), (ph, pw), *op = s
            h, w = shape[1:]
            if kind == "conv":
                shape = (c_out, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
            else:
                oh, ow = op[0]
                shape = (c_out, (h - 1) * sh - 2 * ph + kh + oh, (w - 1) * sw - 2 * pw + kw + ow)
        elif kind == "reshape":
            shape = tuple(s[1])
        elif kind == "flatten":
            shape = (math.prod(shape),)
        shapes.append(shape)
    return shapes


@dataclass(frozen=True)
class Gemm:
    """One layer's matrix product, per sample: out (M, N) = A (M, K) @ B (K, N) with
    M = m * rows.  Its backward passes are dA = dout @ B.T and dB = A.T @ dout, the same
    2 M K N flops each.

    dense   A = x (m, D_in), B = W (D_in, D_out)
    conv    A = im2col(x) (m H_o W_o, k_h k_w C_in), B = W as (C_out, k_h k_w C_in), transposed
    convT   A = x as rows (m H W, C_in), B = W as (C_in, k_h k_w C_out)
    """

    layer: int  # the index in its Sequential
    form: str  # "dense", "conv" or "convT"
    rows: int  # M per sample
    K: int
    N: int

    def flops(self, m: int) -> int:
        return 2 * m * self.rows * self.K * self.N


def _gemms(layers: Sequence[LayerSpec], in_shape: tuple[int, ...]) -> list[Gemm]:
    out, shape = [], tuple(in_shape)
    for i, (s, after) in enumerate(zip(layers, _spec_shapes(layers, in_shape), strict=True)):
        if s[0] == "dense":
            out.append(Gemm(i, "dense", 1, s[1], s[2]))
        elif s[0] == "conv":
            (kh, kw), area = s[3], after[1] * after[2]
            out.append(Gemm(i, "conv", area, kh * kw * s[1], s[2]))
        elif s[0] == "convT":
            (kh, kw), area = s[3], shape[1] * shape[2]
            out.append(Gemm(i, "convT", area, s[1], kh * kw * s[2]))
        shape = after
    return out


@dataclass(frozen=True)
class ModelSpec:
    """One row of the benchmark: G, D, batch size, optimiser and data.

    ``preset``: the row's networks are that numgan.models preset (``g`` and ``d`` then
    describe its layers, for the counts and the twins), sized for ``image_shape``.
    """

    key: str
    model: int
    title: str
    g: tuple[LayerSpec, ...]
    d: tuple[LayerSpec, ...]
    batch_size: int
    optimizer: str  # "sgd" or "adam"
    lr: float
    momentum: float = 0.5
    init: str = "glorot"
    noise_dim: int = 100
    noise: str = "uniform"  # z ~ U(-1, 1)^noise_dim, or "gaussian": N(0, I)
    data: str = "uniform01"  # "uniform01", "uniform11" or "normal4"
    preset: str = ""
    image_shape: tuple[int, int] | None = None

    def dense_shapes(self, net: str) -> list[tuple[int, int]]:
        """(D_in, D_out) of each Dense layer of ``net`` ("g" or "d"), in order."""
        return [(s[1], s[2]) for s in getattr(self, net) if s[0] == "dense"]

    @property
    def data_dim(self) -> int:
        """Features of one data row (D's input, flat)."""
        first = self.d[0]
        return first[1] if first[0] == "dense" else math.prod(first[1])

    def in_shape(self, net: str) -> tuple[int, ...]:
        return (self.noise_dim,) if net == "g" else (self.data_dim,)

    def gemms(self, net: str) -> list[Gemm]:
        """The matrix product of each Dense and convolution layer of ``net``, in order."""
        return _gemms(getattr(self, net), self.in_shape(net))

    def arch(self) -> str:
        """The input shape, then the output shape of each layer with a product: "G 100-1200-
        1200-784" for an MLP, "G 100-3136-32x14x14-1x28x28" with convolutions."""

        def widths(net: str) -> str:
            layers = getattr(self, net)
            shapes = _spec_shapes(layers, self.in_shape(net))
            seq = [self.in_shape(net)] + [shapes[g.layer] for g in self.gemms(net)]
            return "-".join("x".join(map(str, s)) for s in seq)

        return f"G {widths('g')}, D {widths('d')}"

    def optimizer_label(self) -> str:
        if self.optimizer == "adam":
            return f"Adam (lr {self.lr:g}, betas 0.5, 0.999)"
        return f"SGD (lr {self.lr:g}, momentum {self.momentum:g})"


MODELS = (1, 2, 3, 4)


def _preset_specs(name: str, image_shape: tuple[int, int]) -> tuple[tuple, tuple]:
    """G's and D's LayerSpecs of a numgan.models preset (built without weights to read them)."""
    gan = presets.build(name, data_dim=math.prod(image_shape), out="tanh", image_shape=image_shape)
    return tuple(map(layer_spec, gan.G.layers)), tuple(map(layer_spec, gan.D.layers))


def model_specs(models: Sequence[int] = MODELS) -> list[ModelSpec]:
    """The benchmark's rows for the given model numbers (2 gives an SGD and an Adam row)."""
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}: choose from {', '.join(map(str, MODELS))}")
    lrelu: LayerSpec = ("lrelu", 0.2)
    dcgan_g = _mlp((100, 256, 512, 1024, 784), lrelu, ("tanh",), bn=True)
    dcgan_d = _mlp((784, 512, 256, 1), lrelu)
    table = {
        1: [
            ModelSpec(
                "1",
                1,
                "MNIST MLP GAN (the paper's)",
                _mlp((100, 1200, 1200, 784), ("relu",), ("sigmoid",)),
                _mlp((784, 240, 240, 1), lrelu),
                batch_size=100,
                optimizer="sgd",
                lr=0.1,
                init="uniform",
                data="uniform01",
            )
        ],
        2: [
            ModelSpec(
                "2-sgd",
                2,
                "DCGAN-style MLP",
                dcgan_g,
                dcgan_d,
                batch_size=64,
                optimizer="sgd",
                lr=0.01,
                data="uniform11",
            ),
            ModelSpec(
                "2-adam",
                2,
                "DCGAN-style MLP",
                dcgan_g,
                dcgan_d,
                batch_size=64,
                optimizer="adam",
                lr=2e-4,
                data="uniform11",
            ),
        ],
        3: [
            ModelSpec(
                key,
                3,
                title,
                _mlp((1, 16, 16, 1), act),
                _mlp((1, 16, 16, 1), act),
                batch_size=64,
                optimizer="sgd",
                lr=0.1,
                noise_dim=1,
                noise=noise,
                data="normal4",
            )
            for key, title, act, noise in (
                ("3", "1-D toy GAN", lrelu, "uniform"),
                ("3-tanh", "1-D toy GAN, tanh", ("tanh",), "gaussian"),
                ("3-sigmoid", "1-D toy GAN, sigmoid", ("sigmoid",), "gaussian"),
            )
        ],
    }
    if 4 in models:
        dcgan_g4, dcgan_d4 = _preset_specs("dcgan", (28, 28))
        table[4] = [
            ModelSpec(
                "4",
                4,
                "DCGAN MNIST",
                dcgan_g4,
                dcgan_d4,
                batch_size=64,
                optimizer="adam",
                lr=2e-4,
                init="normal",
                data="uniform11",
                preset="dcgan",
                image_shape=(28, 28),
            )
        ]
    return [spec for m in sorted(set(models)) for spec in table[m]]


def build_sequential(
    layers: Sequence[LayerSpec], *, init: str = "glorot", dtype: Any = np.float32
) -> Sequential:
    """A numgan Sequential from a layer spec (weights drawn later by the Trainer).  float32 is
    what is timed; float64 serves the benchmark's agreement check."""
    out: list[Layer] = []
    for spec in layers:
        kind = spec[0]
        if kind == "dense":
            out.append(Dense(spec[1], spec[2], init=init))
        elif kind == "relu":
            out.append(ReLU())
        elif kind == "lrelu":
            out.append(LeakyReLU(spec[1]))
        elif kind == "bn":
            out.append(BatchNorm(spec[1]))
        elif kind == "sigmoid":
            out.append(Sigmoid())
        elif kind == "tanh":
            out.append(Tanh())
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
    return Sequential(out, dtype=dtype)


def make_data(spec: ModelSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """n float32 training rows; their values do not change the speed."""
    width = spec.data_dim
    if spec.data == "uniform01":
        x = rng.uniform(0.0, 1.0, size=(n, width))
    elif spec.data == "uniform11":
        x = rng.uniform(-1.0, 1.0, size=(n, width))
    elif spec.data == "normal4":
        x = rng.normal(4.0, 0.5, size=(n, width))
    else:
        raise ValueError(f"unknown data kind {spec.data!r}")
    return x.astype(np.float32)


def make_optimizer(spec: ModelSpec) -> SGD | Adam:
    """numgan's optimiser for one network of ``spec``."""
    if spec.optimizer == "adam":
        return Adam(lr=spec.lr, beta1=0.5, beta2=0.999, eps=1e-8)
    return SGD(lr=spec.lr, momentum=spec.momentum)


def build_trainer(
    spec: ModelSpec,
    *,
    batch_size: int | None = None,
    seed: int = 0,
    data: np.ndarray | None = None,
    data_size: int = DATA_SIZE,
    dtype: Any = np.float32,
    fused: bool | str = "auto",
) -> Trainer:
    """The numgan Trainer of a row: k = 1, non-saturating G loss, weights drawn from ``seed``.

    ``fused="auto"``: the fastest path numgan offers for the model (the fused step when the
    networks and the backend allow it, the layers otherwise) is what the benchmark times;
    ``fused=False`` keeps the layers whatever the model.
    """
    if data is None:
        data = make_data(spec, data_size, np.random.default_rng([seed, 1]))
    if spec.preset:
        gan = presets.build(
            spec.preset,
            data_dim=spec.data_dim,
            out="tanh",
            image_shape=spec.image_shape,
            dtype=np.dtype(dtype).name,
        )
    else:
        G = build_sequential(spec.g, init=spec.init, dtype=dtype)
        D = build_sequential(spec.d, init=spec.init, dtype=dtype)
        noise = GaussianNoise if spec.noise == "gaussian" else UniformNoise
        gan = GAN(G, D, noise(spec.noise_dim))
    return Trainer(
        gan,
        data,
        batch_size=batch_size or spec.batch_size,
        k=1,
        g_loss="non-saturating",
        opt_g=make_optimizer(spec),
        opt_d=make_optimizer(spec),
        seed=seed,
        fused=fused,
    )


def flops_per_iteration(spec: ModelSpec, m: int | None = None) -> int:
    """Floating-point operations of one iteration's matrix products.

    A Dense forward costs 2 m D_in D_out, a convolution's 2 M K N in its im2col form (Gemm);
    the backward dx and dW the same again each.  With F_G and F_D the forward costs of G and
    D:  G runs forward twice and backward (dx, dW) once, 4 F_G; D runs forward three times,
    backward with dW twice and dx-only once, 8 F_D.
    """
    m = m or spec.batch_size
    f_g = sum(g.flops(m) for g in spec.gemms("g"))
    f_d = sum(g.flops(m) for g in spec.gemms("d"))
    return 4 * f_g + 8 * f_d


# -- backends and threads ---------------------------------------------------------------------


@contextlib.contextmanager
def using_backend(name: str) -> Iterator[None]:
    """Run a block on numgan backend ``name``, then restore the previous one."""
    previous = kernels.get_backend()
    kernels.set_backend(name)
    try:
        yield
    finally:
        kernels.set_backend(previous)


def blas_threads() -> int | None:
    """Threads of the BLAS numpy uses, if threadpoolctl can tell."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None


def apply_threads(n: int) -> tuple[dict[str, Any], Any]:
    """Give BLAS and Numba ``n`` threads each; returns (report, BLAS limiter or None).

    The caller restores BLAS's own count with ``limiter.restore_original_limits()``.
    """
    import numba

    info: dict[str, Any] = {"requested": n}
    limiter = None
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        limiter = threadpool_limits(limits=n, user_api="blas")
        info["blas"] = [
            {k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
    except ImportError:
        info["blas"] = "threadpoolctl is not installed: BLAS threads left as the environment set"
    prefer_layer()  # setting the count starts Numba's threads: under numgan's choice of layer
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    info["numba"] = numba.get_num_threads()
    return info, limiter


# -- timing -----------------------------------------------------------------------------------


class Runner:
    """One timed variant of one row: ``activate()`` before each block, then ``run(n)``."""

    name: str
    note: str = ""

    def activate(self) -> None:
        pass

    def run(self, n: int) -> None:
        raise NotImplementedError

    def recover(self) -> bool:
        """After a failure mid-block: rebuild and return True to retry, or False."""
        return False


class NumganRunner(Runner):
    """``Trainer.step()`` on one backend; the trainer is built on that backend."""

    def __init__(self, backend: str, build: Callable[[], Trainer], name: str = "") -> None:
        self.name, self.backend, self.build = name or backend, backend, build
        self.restarts = 0
        with using_backend(backend):
            self.trainer = build()

    def activate(self) -> None:
        kernels.set_backend(self.backend)

    def run(self, n: int) -> None:
        step = self.trainer.step
        for _ in range(n):
            step()

    def recover(self) -> bool:
        # A diverged run (non-finite loss) restarts from the seed: speed, not the fit, is timed.
        self.restarts += 1
        if self.restarts > 3:
            return False
        with using_backend(self.backend):
            self.trainer = self.build()
        self.note = f"restarted {self.restarts} time(s) after a non-finite loss"
        return True


class FunctionRunner(Runner):
    """Any ``run(n)`` callable: n iterations of something that is not a numgan Trainer."""

    def __init__(self, name: str, run: Callable[[int], None]) -> None:
        self.name, self._run = name, run

    @classmethod
    def calls(cls, name: str, fn: Callable[[], Any]) -> FunctionRunner:
        """n calls of ``fn`` per ``run(n)``: for timing a kernel or any other single call."""

        def run(n: int) -> None:
            for _ in range(n):
                fn()

        return cls(name, run)

    def run(self, n: int) -> None:
        self._run(n)


def time_block(runner: Runner, n: int) -> float:
    """Iterations per second of one block of n iterations."""
    runner.activate()
    for attempt in range(2):
        start = time.perf_counter()
        try:
            runner.run(n)
        except FloatingPointError:  # numgan's DivergenceError is one
            if attempt == 0 and runner.recover():
                runner.activate()
                runner.run(1)
                continue
            raise
        return n / (time.perf_counter() - start)
    raise AssertionError("unreachable")


def calibrate(runner: Runner, block_seconds: float) -> int:
    """Warm up (JIT compilation, caches), then the iteration count of a ~block_seconds block."""
    runner.activate()
    runner.run(2)
    n, elapsed = 1, 0.0
    while True:
        start = time.perf_counter()
        runner.run(n)
        elapsed = time.perf_counter() - start
        if elapsed >= block_seconds / 4 or n >= 1 << 22:
            break
        n = n * 2 if elapsed <= 0 else min(n * 16, max(n * 2, int(n * block_seconds / 4 / elapsed)))
    return max(1, round(n * block_seconds / elapsed))


def time_interleaved(
    runners: Sequence[Runner],
    *,
    repeats: int,
    block_seconds: float,
    sleep: float,
    label: str = "",
) -> dict[str, dict[str, Any]]:
    """Time ``runners`` in interleaved blocks; per runner: median, min, max (iterations/s),
    every block's rate ("samples"), the block length and a note.

    Each runner is calibrated to ~block_seconds per block; then every round runs one block of
    each, the order rotated each round so that no runner always follows the same one, with a
    ``sleep`` pause before every block.
    """
    counts = {}
    for r in runners:
        counts[r.name] = calibrate(r, block_seconds)
        time.sleep(sleep)
    samples: dict[str, list[float]] = {r.name: [] for r in runners}
    for rep in range(repeats):
        k = rep % len(runners) if runners else 0
        for r in [*runners[k:], *runners[:k]]:
            time.sleep(sleep)
            samples[r.name].append(time_block(r, counts[r.name]))
        line = "  ".join(f"{r.name} {fmt_rate(samples[r.name][-1])}" for r in runners)
        progress(f"{label} repeat {rep + 1}/{repeats}: {line} it/s")
    return {
        r.name: {
            "status": "ok",
            "note": r.note,
            "median": statistics.median(samples[r.name]),
            "min": min(samples[r.name]),
            "max": max(samples[r.name]),
            "samples": samples[r.name],
            "iterations_per_block": counts[r.name],
        }
        for r in runners
    }


def per_round(a: Sequence[float], b: Sequence[float]) -> float:
    """How many times as fast as b a ran: the median over the rounds of the ratio of a's block
    rate to b's in the same round (``time_interleaved``'s samples).  Each round times one block
    of every runner within a few seconds, so this ratio holds up when the machine's speed
    changes between rounds, which moves each runner's median on its own."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def time_calls(
    fns: dict[str, Callable[[], Any]],
    *,
    repeats: int,
    block_seconds: float,
    sleep: float = 0.0,
    label: str = "",
) -> dict[str, float]:
    """Median microseconds per call of each no-argument function, timed in interleaved
    blocks by ``time_interleaved`` (benchmarks of single kernels use it)."""
    runners = [FunctionRunner.calls(name, fn) for name, fn in fns.items()]
    rates = time_interleaved(
        runners, repeats=repeats, block_seconds=block_seconds, sleep=sleep, label=label
    )
    return {name: 1e6 / rate["median"] for name, rate in rates.items()}


#: the flags of ``numgan bench`` that set a TimingConfig field of the same name
TIMING_FLAGS = ("models", "repeats", "block_seconds", "sleep", "threads", "batch_size", "seed")


@dataclass
class TimingConfig:
    """What ``numgan bench`` times, and how long; the flags map onto these fields."""

    models: tuple[int, ...] = MODELS
    repeats: int = 9
    block_seconds: float = 0.5
    sleep: float = 0.2
    threads: int | None = None
    batch_size: int | None = None  # overrides every row's m
    seed: int = 0
    quick: bool = False
    data_size: int = DATA_SIZE

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValueError(f"--repeats must be at least 1, got {self.repeats}")
        # a block of inf seconds never ends, and a NaN compares false everywhere
        if not 0 < self.block_seconds <= 3600:
            raise ValueError(
                f"--block-seconds must be a number of seconds in (0, 3600], got "
                f"{self.block_seconds}"
            )
        if not 0 <= self.sleep <= 3600:
            raise ValueError(f"--sleep must be a number of seconds in [0, 3600], got {self.sleep}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {self.threads}")
        if self.seed < 0:
            raise ValueError(f"--seed must be a whole number >= 0, got {self.seed}")
        if self.batch_size is not None and self.batch_size < 2:
            raise ValueError(f"--batch-size must be at least 2, got {self.batch_size}")
        model_specs(self.models)

    #: the --quick settings: a few short blocks, m = 8, no pauses (checks the harness runs)
    QUICK = {
        "repeats": 2,
        "block_seconds": 0.02,
        "sleep": 0.0,
        "batch_size": 8,
        "quick": True,
        "data_size": 256,
    }

    @classmethod
    def quick_preset(cls, **overrides: Any) -> Self:
        """The --quick settings, then ``overrides``."""
        return cls(**{**cls.QUICK, **overrides})


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def fmt_rate(v: float | None) -> str:
    """An iterations/s figure to about three significant digits."""
    if v is None:
        return "n/a"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def time_numgan(config: TimingConfig) -> dict[str, Any]:
    """Both backends on each row of ``config``: {"rows": [one dict per row], "threads": ...}."""
    threads = config.threads or blas_threads() or os.cpu_count() or 1
    info, limiter = apply_threads(threads)
    rows = []
    try:
        for spec in model_specs(config.models):
            m = config.batch_size or spec.batch_size
            data = make_data(spec, config.data_size, np.random.default_rng([config.seed, 1]))

            def build(spec: ModelSpec = spec, m: int = m, data: np.ndarray = data) -> Trainer:
                return build_trainer(spec, batch_size=m, seed=config.seed, data=data)

            runners = [NumganRunner(b, build) for b in BACKENDS]
            label = f"model {spec.key} ({spec.title}, m={m}, {spec.optimizer})"
            progress(f"{label}: timing {', '.join(BACKENDS)}")
            results = time_interleaved(
                runners,
                repeats=config.repeats,
                block_seconds=config.block_seconds,
                sleep=config.sleep,
                label=label,
            )
            with using_backend("numba"):
                fused = next(r for r in runners if r.backend == "numba").trainer.uses_fused
            rows.append(
                {
                    "key": spec.key,
                    "title": spec.title,
                    "batch_size": m,
                    "optimizer": spec.optimizer_label(),
                    "numba_path": "fused step" if fused else "layers",
                    "flops_per_iteration": flops_per_iteration(spec, m),
                    "results": results,
                }
            )
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    info["numba_threading_layer"] = threading_layer()  # None: no loop long enough
    return {"rows": rows, "threads": info}


#: how the reports name each GEMM numgan.kernels.blas may choose
GEMM_NAMES = {
    "mkl": "oneMKL's GEMM",
    "openblas": "NumPy's OpenBLAS",
    "numpy": "np.matmul, whatever BLAS NumPy links",
}


#: how the reports name Numba's threading layers
LAYER_NAMES = {"tbb": "TBB", "omp": "OpenMP", "workqueue": "workqueue"}


def _split_route(layer: str | None, gemm: str) -> str:
    """How the Numba backend's long loops ran (numgan/kernels/threads.py, docs/kernels.md)."""
    if layer is None:
        return "serial (none was long enough to split, or one thread)"
    updates, passes = splits_under(layer, gemm)
    name = LAYER_NAMES.get(layer, layer)
    if passes:
        return (
            f"split over Numba's threads ({name}): the optimiser updates, LeakyReLU, "
            "BatchNorm's passes, im2col and col2im"
        )
    if updates:
        return (
            f"the optimiser updates split over Numba's threads ({name}), the elementwise "
            "passes serial (they split under OpenMP beside oneMKL)"
        )
    return f"serial (Numba's threading layer is {name}, under which no loop splits)"


def render_table(timed: dict[str, Any], config: TimingConfig) -> str:
    """``numgan bench``'s Markdown: one line per row, medians and the Numba / NumPy ratio."""
    rows, threads = timed["rows"], timed["threads"]["requested"]
    lines = [
        "## numgan training iterations per second",
        "",
        f"Median of {config.repeats} timed blocks of ~{config.block_seconds} s per backend, "
        f"interleaved, {config.sleep} s pause before each block; {threads} thread(s) for BLAS.",
        f"The Numba backend's products: {GEMM_NAMES[blas.provider()]} (NUMGAN_BLAS, "
        'docs/kernels.md, "Which BLAS"); its long loops: '
        f"{_split_route(timed['threads'].get('numba_threading_layer'), blas.provider())}.",
        "",
        "| model | m | optimiser | numgan (Numba) it/s | numgan (NumPy) it/s | Numba / NumPy "
        "| Numba path | GFLOP / iter |",
        "|---|---:|---|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        nb, np_ = row["results"]["numba"]["median"], row["results"]["numpy"]["median"]
        lines.append(
            f"| {row['key']} {row['title']} | {row['batch_size']} | {row['optimizer']} "
            f"| {fmt_rate(nb)} | {fmt_rate(np_)} | {nb / np_:.2f}x | {row['numba_path']} "
            f"| {row['flops_per_iteration'] / 1e9:.4g} |"
        )
    notes = [
        f"{row['key']} {LABELS[v]}: {res['note']}"
        for row in rows
        for v, res in row["results"].items()
        if res["note"]
    ]
    lines += ["", *(f"- {n}" for n in notes)] if notes else []
    lines += [
        "",
        "PyTorch, the matmul-only ceiling, the agreement check and the report files: "
        "`numgan bench --torch` from a source checkout (benchmarks/train_speed.py).",
    ]
    return "\n".join(lines) + "\n"


# -- command line ----------------------------------------------------------------------------


def int_list(text: str) -> tuple[int, ...]:
    """argparse type: "1,2,3" -> (1, 2, 3); "" or "none" -> ()."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def add_timing_flags(parser: argparse.ArgumentParser, defaults: TimingConfig) -> None:
    """The flags of ``TimingConfig``, each defaulting to None so that only given ones count."""
    parser.add_argument(
        "--models",
        type=int_list,
        default=None,
        help="comma-separated model numbers: 1 MNIST MLP, 2 DCGAN-style MLP "
        "(SGD and Adam rows), 3 1-D toy, 4 DCGAN MNIST (convolutions, Adam) "
        f"(default {','.join(map(str, MODELS))})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"timed blocks per variant and row (default {defaults.repeats})",
    )
    parser.add_argument(
        "--block-seconds",
        type=float,
        default=None,
        help=f"length of one timed block (default {defaults.block_seconds})",
    )
    parser.add_argument(
        "--sleep",
        type=float,
        default=None,
        help=f"pause before each block, seconds (default {defaults.sleep})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for BLAS (default: BLAS's current count)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="override every model's batch size m"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of weights and data")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny settings (m=8, two short blocks): checks the harness runs",
    )


def given_flags(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The flags among ``names`` that were given (not None); rejects an empty --models."""
    if getattr(args, "models", None) == ():
        raise ValueError(f"--models needs at least one of {', '.join(map(str, MODELS))}")
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="numgan bench",
        description="Time training iterations/s of Algorithm 1 on numgan's Numba and NumPy "
        "backends.",
    )
    add_timing_flags(parser, TimingConfig())
    parser.add_argument(
        "--torch",
        action="store_true",
        help="run the comparison with PyTorch instead (benchmarks/train_speed.py of a source "
        "checkout; the other flags go to it, see numgan bench --torch --help)",
    )
    return parser


def torch_comparison(argv: list[str]) -> int:
    """``numgan bench --torch``: benchmarks/train_speed.py's main, when the checkout has it."""
    if not (BENCHMARKS_DIR / "train_speed.py").is_file():
        print(
            "numgan bench --torch: error: the PyTorch comparison is not part of the installed "
            "package: run python benchmarks/train_speed.py from a source checkout",
            file=sys.stderr,
        )
        return 2
    if str(BENCHMARKS_DIR) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS_DIR))  # its modules import each other by name
    train_speed = importlib.import_module("train_speed")
    return train_speed.main(argv, prog="numgan bench --torch")


def main(argv: list[str] | None = None) -> int:
    """``numgan bench``: time numgan's backends and print the table (or, with --torch, run the
    PyTorch comparison of benchmarks/)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--torch" in argv:
        return torch_comparison([a for a in argv if a != "--torch"])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        given = given_flags(args, TIMING_FLAGS)
        config = TimingConfig.quick_preset(**given) if args.quick else TimingConfig(**given)
        timed = time_numgan(config)
    except KeyboardInterrupt:
        print("numgan bench: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError, OSError, FloatingPointError) as err:
        print(f"numgan bench: error: {err}", file=sys.stderr)
        return 1
    print(render_table(timed, config), end="")
    return 0


__all__ = [
    "BACKENDS",
    "FunctionRunner",
    "Gemm",
    "ModelSpec",
    "NumganRunner",
    "Runner",
    "TimingConfig",
    "apply_threads",
    "build_trainer",
    "flops_per_iteration",
    "main",
    "model_specs",
    "time_interleaved",
    "using_backend",
]
