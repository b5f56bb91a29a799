"""Training-speed benchmark: iterations per second of Algorithm 1, numgan against PyTorch (CPU).

    numgan bench [--models 1,2,3] [--repeats N] [--block-seconds S] [--out DIR] [--threads N]
                 [--quick] [--no-torch] ...
    python benchmarks/train_speed.py ...          (the same)

One iteration is Algorithm 1 with k = 1: one D step on m real and m generated samples, then one
G step on fresh noise that backpropagates through D without D's parameter gradients.  The timed
call is ``Trainer.step()`` of a ``numgan.Trainer`` built with the public API.

Models (float32 throughout):

    1      the paper's MNIST MLP GAN: G 100-1200-1200-784 (ReLU, Sigmoid out), D 784-240-240-1
           (LeakyReLU 0.2, logit out), m = 100, SGD (lr 0.1, momentum 0.5)
    2-sgd  DCGAN-style MLP: G 100-256-512-1024-784 (Dense, BatchNorm, LeakyReLU 0.2; Tanh out),
           D 784-512-256-1 (LeakyReLU 0.2, logit out), m = 64, SGD (lr 0.01, momentum 0.5)
    2-adam the same with Adam (lr 2e-4, beta1 0.5, beta2 0.999, eps 1e-8)
    3      the 1-D toy: G and D 1-16-16-1 (LeakyReLU 0.2), m = 64, SGD (lr 0.1, momentum 0.5)

Variants: numgan on its Numba backend, numgan on its NumPy backend, PyTorch on the CPU (same
layers, same initial weights, same algorithm, same thread count) and the matmul ceiling: the
iteration's matrix products alone, back to back.  They are timed in blocks interleaved in one
process, with a pause before each block (OpenBLAS threads spin for ~0.1 s after a product and
would slow whatever runs next on a small machine); the result is the median over the blocks.

Before timing a model, an agreement check feeds numgan and PyTorch the same minibatches for a
few iterations from the same start and compares the parameters.

Writes ``train_speed.md``, ``train_speed.json`` and ``train_speed_model1.png`` (iterations/s
against batch size for model 1) to ``--out``; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import numgan as ng

VARIANTS = ("numba", "numpy", "torch", "matmul")
VERDICTS = {
    "ok": "ok",
    "rounding": "over tolerance: float32 rounding (float64 agrees)",
    "failed": "FAILED",
    "information": "(information: rounding alone)",
}
NUMGAN_VARIANTS = ("numba", "numpy")
LABELS = {
    "numba": "numgan (Numba)",
    "numpy": "numgan (NumPy)",
    "torch": "PyTorch",
    "matmul": "matmul ceiling",
}
SWEEP_BATCH_SIZES = (16, 32, 64, 100, 200)
AGREEMENT_ITERATIONS = 3
AGREEMENT_RTOL = 1e-4
DATA_SIZE = 10_000

LayerSpec = tuple  # ("dense", in, out) | ("relu",) | ("lrelu", alpha) | ("bn", n) | ("sigmoid",)


class Unavailable(RuntimeError):
    """A variant or model row that cannot run here (missing package or API)."""


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


@dataclass(frozen=True)
class ModelSpec:
    """One row of the benchmark: G, D, batch size, optimiser and data."""

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
    data: str = "uniform01"  # "uniform01", "uniform11" or "normal4"

    def dense_shapes(self, net: str) -> list[tuple[int, int]]:
        """(D_in, D_out) of each Dense layer of ``net`` ("g" or "d"), in order."""
        return [(s[1], s[2]) for s in getattr(self, net) if s[0] == "dense"]

    def arch(self) -> str:
        def widths(net: str) -> str:
            shapes = self.dense_shapes(net)
            return "-".join(str(w) for w in [shapes[0][0]] + [o for _, o in shapes])

        return f"G {widths('g')}, D {widths('d')}"

    def optimizer_label(self) -> str:
        if self.optimizer == "adam":
            return f"Adam (lr {self.lr:g}, betas 0.5, 0.999)"
        return f"SGD (lr {self.lr:g}, momentum {self.momentum:g})"


def model_specs(models: Sequence[int] = (1, 2, 3)) -> list[ModelSpec]:
    """The benchmark's rows for the given model numbers (2 gives an SGD and an Adam row)."""
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
                "3",
                3,
                "1-D toy GAN",
                _mlp((1, 16, 16, 1), lrelu),
                _mlp((1, 16, 16, 1), lrelu),
                batch_size=64,
                optimizer="sgd",
                lr=0.1,
                noise_dim=1,
                data="normal4",
            )
        ],
    }
    unknown = sorted(set(models) - set(table))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}: choose from 1, 2, 3")
    return [spec for m in sorted(set(models)) for spec in table[m]]


def build_sequential(
    layers: Sequence[LayerSpec], *, init: str = "glorot", dtype: Any = np.float32
) -> ng.Sequential:
    """A numgan Sequential from a layer spec (weights drawn later by the Trainer).  float32 is
    what is timed; float64 serves the agreement check."""
    out: list[ng.Layer] = []
    for spec in layers:
        kind = spec[0]
        if kind == "dense":
            out.append(ng.Dense(spec[1], spec[2], init=init))
        elif kind == "relu":
            out.append(ng.ReLU())
        elif kind == "lrelu":
            out.append(ng.LeakyReLU(spec[1]))
        elif kind == "bn":
            out.append(ng.BatchNorm(spec[1]))
        elif kind == "sigmoid":
            out.append(ng.Sigmoid())
        elif kind == "tanh":
            out.append(ng.Tanh())
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
    return ng.Sequential(out, dtype=dtype)


def make_data(spec: ModelSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """n float32 training rows; their values do not change the speed."""
    width = spec.dense_shapes("d")[0][0]
    if spec.data == "uniform01":
        x = rng.uniform(0.0, 1.0, size=(n, width))
    elif spec.data == "uniform11":
        x = rng.uniform(-1.0, 1.0, size=(n, width))
    elif spec.data == "normal4":
        x = rng.normal(4.0, 0.5, size=(n, width))
    else:
        raise ValueError(f"unknown data kind {spec.data!r}")
    return x.astype(np.float32)


def make_optimizer(spec: ModelSpec) -> Any:
    """numgan's optimiser for one network of ``spec``; Unavailable if this numgan lacks Adam."""
    if spec.optimizer == "adam":
        if not hasattr(ng, "Adam"):
            raise Unavailable("numgan.Adam is not available in this numgan")
        return ng.Adam(lr=spec.lr, beta1=0.5, beta2=0.999, eps=1e-8)
    return ng.SGD(lr=spec.lr, momentum=spec.momentum)


def build_trainer(
    spec: ModelSpec,
    *,
    batch_size: int | None = None,
    seed: int = 0,
    data: np.ndarray | None = None,
    data_size: int = DATA_SIZE,
    dtype: Any = np.float32,
) -> ng.Trainer:
    """The numgan Trainer of a row: k = 1, non-saturating G loss, weights drawn from ``seed``."""
    if data is None:
        data = make_data(spec, data_size, np.random.default_rng([seed, 1]))
    G = build_sequential(spec.g, init=spec.init, dtype=dtype)
    D = build_sequential(spec.d, init=spec.init, dtype=dtype)
    gan = ng.GAN(G, D, ng.UniformNoise(spec.noise_dim))
    return ng.Trainer(
        gan,
        data,
        batch_size=batch_size or spec.batch_size,
        k=1,
        g_loss="non-saturating",
        opt_g=make_optimizer(spec),
        opt_d=make_optimizer(spec),
        seed=seed,
    )


# -- work per iteration -----------------------------------------------------------------------


def matmul_products(spec: ModelSpec, m: int) -> list[tuple[str, int, str, int, int, int]]:
    """The matrix products of one iteration, in order: (net, layer, kind, m, D_in, D_out).

    ``layer`` counts the net's Dense layers from 0; kind "fwd" is x @ W, "dx" is dout @ W.T,
    "dW" is x.T @ dout.  D step: G forward, D forward and backward (dW and dx) on the real
    batch, then on the fake batch.  G step: G forward, D forward, D backward for dx only, G
    backward (dW and dx).
    """
    shapes = {
        "G": list(enumerate(spec.dense_shapes("g"))),
        "D": list(enumerate(spec.dense_shapes("d"))),
    }

    def fwd(net: str) -> list[tuple[str, int, str, int, int, int]]:
        return [(net, i, "fwd", m, a, b) for i, (a, b) in shapes[net]]

    def bwd(net: str, params: bool) -> list[tuple[str, int, str, int, int, int]]:
        kinds = ("dW", "dx") if params else ("dx",)
        return [(net, i, k, m, a, b) for i, (a, b) in reversed(shapes[net]) for k in kinds]

    return (
        fwd("G")
        + fwd("D")
        + bwd("D", True)
        + fwd("D")
        + bwd("D", True)
        + fwd("G")
        + fwd("D")
        + bwd("D", False)
        + bwd("G", True)
    )


def flops_per_iteration(spec: ModelSpec, m: int | None = None) -> int:
    """Floating-point operations of one iteration's matrix products.

    A Dense forward costs 2 m D_in D_out; its backward dx and dW the same again each.  With
    F_G and F_D the forward costs of G and D:  G runs forward twice and backward (dx, dW) once,
    4 F_G; D runs forward three times, backward with dW twice and dx-only once, 8 F_D.
    """
    m = m or spec.batch_size
    f_g = sum(2 * m * a * b for a, b in spec.dense_shapes("g"))
    f_d = sum(2 * m * a * b for a, b in spec.dense_shapes("d"))
    return 4 * f_g + 8 * f_d


class MatmulCeiling:
    """The iteration's matrix products alone (np.matmul with out=, float32), back to back."""

    def __init__(self, spec: ModelSpec, m: int, seed: int = 0) -> None:
        rng = np.random.default_rng([seed, 3])

        def arr(*shape: int) -> np.ndarray:
            return (rng.standard_normal(shape) * 0.1).astype(np.float32)

        buffers: dict[tuple[str, int], dict[str, np.ndarray]] = {}
        self.calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for net, layer, kind, n, a, b in matmul_products(spec, m):
            if (net, layer) not in buffers:
                buffers[(net, layer)] = {
                    "x": arr(n, a),
                    "W": arr(a, b),
                    "dout": arr(n, b),
                    "out": arr(n, b),
                    "dx": arr(n, a),
                    "dW": arr(a, b),
                }
            buf = buffers[(net, layer)]
            if kind == "fwd":
                self.calls.append((buf["x"], buf["W"], buf["out"]))
            elif kind == "dx":
                self.calls.append((buf["dout"], buf["W"].T, buf["dx"]))
            else:
                self.calls.append((buf["x"].T, buf["dout"], buf["dW"]))

    def run(self, n: int) -> None:
        calls, matmul = self.calls, np.matmul
        for _ in range(n):
            for a, b, out in calls:
                matmul(a, b, out=out)


# -- backends and threads ---------------------------------------------------------------------


def numgan_variants() -> dict[str, str]:
    """Which numgan variants run here: name -> "" if available, else why not."""
    if not hasattr(ng, "set_backend"):
        return {"numba": "numgan has no set_backend(): it has a single (NumPy) path", "numpy": ""}
    status = {"numba": "", "numpy": ""}
    previous = ng.get_backend() if hasattr(ng, "get_backend") else None
    for name in NUMGAN_VARIANTS:
        try:
            ng.set_backend(name)
        except (RuntimeError, ValueError, ImportError) as err:
            status[name] = f"numgan.set_backend({name!r}) failed: {err}"
    if previous is not None:
        ng.set_backend(previous)
    return status


def activate_backend(name: str | None) -> None:
    """Switch numgan to backend ``name`` (no-op if None or if numgan has no switch)."""
    if name is not None and hasattr(ng, "set_backend"):
        ng.set_backend(name)


@contextlib.contextmanager
def using_backend(name: str | None) -> Iterator[None]:
    """Run a block on numgan backend ``name``, then restore the previous one."""
    previous = ng.get_backend() if hasattr(ng, "get_backend") else None
    activate_backend(name)
    try:
        yield
    finally:
        activate_backend(previous)


def _import_torch() -> Any:
    import torch

    return torch


def load_torch() -> tuple[Any | None, str]:
    """(torch, "") if PyTorch imports, else (None, why not)."""
    try:
        return _import_torch(), ""
    except Exception as err:  # ImportError, or a broken install (OSError from its libraries)
        return None, f"torch is not importable ({type(err).__name__}: {err})"


def blas_threads() -> int | None:
    """Threads of the BLAS numpy uses, if threadpoolctl can tell."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None


def apply_threads(n: int, torch: Any | None) -> tuple[dict[str, Any], Any]:
    """Give BLAS, Numba and PyTorch ``n`` threads each; returns (report, BLAS limiter or None)."""
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
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        info["numba"] = numba.get_num_threads()
    except ImportError:
        info["numba"] = None
    if torch is not None:
        torch.set_num_threads(n)
        info["torch"] = torch.get_num_threads()
    return info, limiter


# -- PyTorch ---------------------------------------------------------------------------------


def torch_sequential(net: ng.Sequential, torch: Any) -> Any:
    """The PyTorch twin of a numgan Sequential, holding a copy of its current weights (same
    dtype: float32, or float64 for a float64 net).

    Dense W (D_in, D_out) becomes Linear.weight (D_out, D_in) = W.T; BatchNorm becomes
    BatchNorm1d with numgan's eps and momentum (both use running = (1 - momentum) * running +
    momentum * batch statistic, with the unbiased variance for the running estimate).
    """
    nn = torch.nn
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    mods = []
    with torch.no_grad():
        for layer in net.layers:
            if isinstance(layer, ng.Dense):
                lin = nn.Linear(layer.in_features, layer.out_features, dtype=dtype)
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.params["W"].T)))
                lin.bias.copy_(torch.from_numpy(layer.params["b"].copy()))
                mods.append(lin)
            elif isinstance(layer, ng.ReLU):  # before LeakyReLU: it may be its subclass
                mods.append(nn.ReLU())
            elif isinstance(layer, ng.LeakyReLU):
                mods.append(nn.LeakyReLU(layer.alpha))
            elif isinstance(layer, ng.BatchNorm):
                bn = nn.BatchNorm1d(
                    layer.in_features, eps=layer.eps, momentum=layer.momentum, dtype=dtype
                )
                bn.weight.copy_(torch.from_numpy(layer.params["gamma"].copy()))
                bn.bias.copy_(torch.from_numpy(layer.params["beta"].copy()))
                bn.running_mean.copy_(torch.from_numpy(layer.running_mean.copy()))
                bn.running_var.copy_(torch.from_numpy(layer.running_var.copy()))
                mods.append(bn)
            elif isinstance(layer, ng.Sigmoid):
                mods.append(nn.Sigmoid())
            elif isinstance(layer, ng.Tanh):
                mods.append(nn.Tanh())
            else:
                raise ValueError(f"no PyTorch counterpart for {layer!r}")
    return nn.Sequential(*mods).train()


def torch_state(tnet: Any, net: ng.Sequential) -> dict[str, np.ndarray]:
    """A PyTorch twin's parameters and buffers under numgan's names ("0.W", "1.gamma", ...)."""
    state: dict[str, np.ndarray] = {}
    for i, (layer, mod) in enumerate(zip(net.layers, tnet, strict=True)):
        if isinstance(layer, ng.Dense):
            state[f"{i}.W"] = mod.weight.detach().numpy().T.copy()
            state[f"{i}.b"] = mod.bias.detach().numpy().copy()
        elif isinstance(layer, ng.BatchNorm):
            state[f"{i}.gamma"] = mod.weight.detach().numpy().copy()
            state[f"{i}.beta"] = mod.bias.detach().numpy().copy()
            state[f"{i}.running_mean"] = mod.running_mean.numpy().copy()
            state[f"{i}.running_var"] = mod.running_var.numpy().copy()
    return state


class TorchGAN:
    """Algorithm 1 in PyTorch on a copy of a numgan GAN: same layers, weights and optimiser.

    D step: zero D's grads; L_D = BCE-with-logits(D(x), 1) + BCE-with-logits(D(G(z).detach()),
    0), each the mean over m (numgan's mean softplus(-a_real) + mean softplus(a_fake)); step D.
    G step: D's parameters stop requiring grad; L_G = BCE-with-logits(D(G(z)), 1) (the
    non-saturating loss); step G only; D's parameters require grad again.
    """

    def __init__(
        self,
        spec: ModelSpec,
        gan: ng.GAN,
        data: np.ndarray,
        batch_size: int,
        seed: int,
        torch: Any,
    ) -> None:
        self.torch, self.spec, self.m = torch, spec, int(batch_size)
        self.numgan_gan = gan
        self.G, self.D = torch_sequential(gan.G, torch), torch_sequential(gan.D, torch)
        self.opt_g, self.opt_d = self._optimizer(self.G), self._optimizer(self.D)
        self.d_params = list(self.D.parameters())
        self.data = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
        self.gen = torch.Generator().manual_seed(int(seed))
        dtype = torch.float64 if gan.dtype == np.float64 else torch.float32
        self.ones = torch.ones(self.m, 1, dtype=dtype)
        self.zeros = torch.zeros(self.m, 1, dtype=dtype)
        self.bce = torch.nn.functional.binary_cross_entropy_with_logits

    def _optimizer(self, net: Any) -> Any:
        spec, optim = self.spec, self.torch.optim
        if spec.optimizer == "adam":
            return optim.Adam(net.parameters(), lr=spec.lr, betas=(0.5, 0.999), eps=1e-8)
        # torch: b = mu b + g, p -= lr b; numgan: v = mu v - lr g, p += v.  With a constant lr,
        # v = -lr b at every step: the same trajectory.
        return optim.SGD(net.parameters(), lr=spec.lr, momentum=spec.momentum)

    def d_step(self, x: Any, z: Any) -> Any:
        self.opt_d.zero_grad(set_to_none=True)
        fake = self.G(z).detach()
        loss = self.bce(self.D(x), self.ones) + self.bce(self.D(fake), self.zeros)
        loss.backward()
        self.opt_d.step()
        return loss

    def g_step(self, z: Any) -> Any:
        for p in self.d_params:
            p.requires_grad_(False)
        try:
            self.opt_g.zero_grad(set_to_none=True)
            loss = self.bce(self.D(self.G(z)), self.ones)
            loss.backward()
            self.opt_g.step()
        finally:
            for p in self.d_params:
                p.requires_grad_(True)
        return loss

    def step(self) -> None:
        """One iteration, minibatches drawn with PyTorch's own generator."""
        torch, m, gen = self.torch, self.m, self.gen
        x = self.data[torch.randint(0, len(self.data), (m,), generator=gen)]
        z = torch.empty(m, self.spec.noise_dim).uniform_(-1.0, 1.0, generator=gen)
        self.d_step(x, z)
        z = torch.empty(m, self.spec.noise_dim).uniform_(-1.0, 1.0, generator=gen)
        self.g_step(z)

    def run(self, n: int) -> None:
        step = self.step
        for _ in range(n):
            step()

    def state(self) -> dict[str, np.ndarray]:
        gan = self.numgan_gan
        state = {f"G.{k}": v for k, v in torch_state(self.G, gan.G).items()}
        state.update({f"D.{k}": v for k, v in torch_state(self.D, gan.D).items()})
        return state


# -- agreement check --------------------------------------------------------------------------


def numgan_state(gan: ng.GAN) -> dict[str, np.ndarray]:
    """Copies of G's and D's parameters and buffers, keyed "G.0.W", "D.2.b", ..."""
    state = {f"G.{k}": v for k, v in gan.G.state_dict().items()}
    state.update({f"D.{k}": v for k, v in gan.D.state_dict().items()})
    return state


def zero_gradient_params(spec: ModelSpec) -> set[str]:
    """Parameters whose gradient is zero in exact arithmetic: a Dense bias right before a
    BatchNorm (the batch mean removes it).  In float32 that gradient is rounding noise, which
    Adam scales up to steps of ~lr, so no two implementations agree on those values."""
    names = set()
    for net in ("g", "d"):
        layers = getattr(spec, net)
        for i, (layer, nxt) in enumerate(zip(layers[:-1], layers[1:], strict=True)):
            if layer[0] == "dense" and nxt[0] == "bn":
                names.add(f"{net.upper()}.{i}.b")
    return names


BUFFER_NAMES = ("running_mean", "running_var")


def compare_states(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], exclude: set[str] = frozenset()
) -> dict[str, Any]:
    """Max over parameter tensors of max|a - b| / max|b| (buffers and ``exclude`` reported
    apart).  Per tensor, so that a bias near zero is measured against its own scale."""
    if set(a) != set(b):
        raise ValueError(f"states differ in names: {sorted(set(a) ^ set(b))}")
    worst, worst_name, buffers, excluded = 0.0, "", 0.0, {}
    for name in sorted(b):
        diff = float(np.max(np.abs(a[name].astype(np.float64) - b[name]), initial=0.0))
        scale = float(np.max(np.abs(b[name]), initial=0.0))
        rel = diff / scale if scale > 0 else diff
        if name in exclude:
            excluded[name] = diff
        elif name.rsplit(".", 1)[-1] in BUFFER_NAMES:
            buffers = max(buffers, rel)
        elif rel >= worst:
            worst, worst_name = rel, name
    return {"max_rel": worst, "worst": worst_name, "buffers_max_rel": buffers, "excluded": excluded}


class _Recording:
    """Wraps a noise prior or data source and keeps a copy of every minibatch it hands out."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.batches = inner, []
        self.dim = getattr(inner, "dim", None)

    def sample(self, m: int, rng: np.random.Generator, *args: Any) -> np.ndarray:
        batch = self.inner.sample(m, rng, *args)
        self.batches.append(np.array(batch, copy=True))
        return batch


def agreement_tolerance(spec: ModelSpec, dtype: str) -> float:
    """Relative tolerance after AGREEMENT_ITERATIONS iterations.

    float32: 1e-4 for SGD.  Adam divides each gradient by its own running RMS, so an element
    whose gradient is near zero (a sum that cancels) moves by ~lr whatever its rounding error:
    numgan's own float32 run differs from its float64 run by ~5e-4 after 3 Adam steps (the
    "float32 rounding" lines of the check), so Adam rows get 1e-3.  float64: 1e-9, where two
    implementations of the same arithmetic agree to ~1e-12.
    """
    if dtype == "float64":
        return 1e-9
    return 1e-3 if spec.optimizer == "adam" else AGREEMENT_RTOL


def _numgan_runs(
    spec: ModelSpec,
    variant: str,
    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    data: np.ndarray,
    m: int,
    seed: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], tuple[list, list]]:
    """numgan on one backend: final states of the d_step/g_step and Trainer.step paths, and
    the minibatches Trainer.step drew (noise, data)."""
    dtype = data.dtype
    with using_backend(variant if hasattr(ng, "set_backend") else None):
        trainer = build_trainer(spec, batch_size=m, seed=seed, data=data, dtype=dtype)
        for z_d, x, z_g in batches:
            trainer.d_step(x, z_d)
            trainer.g_step(z_g)
        direct = numgan_state(trainer.gan)
        trainer = build_trainer(spec, batch_size=m, seed=seed, data=data, dtype=dtype)
        trainer.data = rec_x = _Recording(trainer.data)
        trainer.gan.noise = rec_z = _Recording(trainer.gan.noise)
        for _ in range(len(batches)):
            trainer.step()
        stepped = numgan_state(trainer.gan)
    return direct, stepped, (rec_z.batches, rec_x.batches)


def _torch_replay(
    spec: ModelSpec, start: ng.GAN, data: np.ndarray, batches: list, m: int, seed: int, torch: Any
) -> dict[str, np.ndarray]:
    """PyTorch from ``start``'s weights, fed the given (z_d, x, z_g) minibatches."""
    t = TorchGAN(spec, start, data, m, seed, torch)
    for z_d, x, z_g in batches:
        t.d_step(torch.from_numpy(x), torch.from_numpy(z_d))
        t.g_step(torch.from_numpy(z_g))
    return t.state()


def agreement_check(
    spec: ModelSpec,
    *,
    variants: Sequence[str],
    torch: Any | None,
    batch_size: int | None = None,
    seed: int = 0,
    iterations: int = AGREEMENT_ITERATIONS,
    dtypes: Sequence[str] = ("float32", "float64"),
    data_size: int = 1_000,
) -> dict[str, Any]:
    """Run numgan and PyTorch from the same start on the same minibatches; compare parameters.

    For each dtype and numgan variant, two paths: "d_step/g_step" (minibatches drawn with
    NumPy and passed to ``trainer.d_step(x, z)`` and ``trainer.g_step(z)``) and "Trainer.step"
    (the timed call; its own draws are recorded and replayed to PyTorch).  The reference is
    PyTorch, or the NumPy backend when PyTorch is absent.

    float32 is what is timed, but float32 training amplifies rounding in places (a unit whose
    pre-activation sits at a ReLU kink takes the other slope; Adam rescales near-zero
    gradients), so each side's float32 run is also compared with its own float64 run: the
    "rounding" entries.  Verdicts: "ok" (within the tolerance), "rounding" (a float32 gap over
    the tolerance, while float64 agrees and the gap is no larger than 3x the sides' own float32
    rounding), "failed" (anything else: the two do not compute the same thing).
    """
    m = batch_size or spec.batch_size
    data32 = make_data(spec, data_size, np.random.default_rng([seed, 1]))
    rng = np.random.default_rng([seed, 2])
    noise = ng.UniformNoise(spec.noise_dim)
    batches32 = [
        (noise.sample(m, rng), data32[rng.integers(0, len(data32), m)], noise.sample(m, rng))
        for _ in range(iterations)
    ]
    exclude = zero_gradient_params(spec)
    reference = "torch" if torch is not None else "numpy"
    paths = ("d_step/g_step", "Trainer.step")
    # finals[dtype, side, path]: side is a numgan variant, or "torch" for the d_step/g_step
    # path and "torch/<variant>" for the replay of that variant's Trainer.step draws.
    finals: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}
    for dtype in dtypes:
        data = data32.astype(dtype)
        batches = [tuple(a.astype(dtype) for a in batch) for batch in batches32]
        for v in variants:
            direct, stepped, (zs, xs) = _numgan_runs(spec, v, batches, data, m, seed)
            finals[(dtype, v, paths[0])], finals[(dtype, v, paths[1])] = direct, stepped
            if torch is not None:
                start = build_trainer(spec, batch_size=m, seed=seed, data=data, dtype=dtype).gan
                if (dtype, "torch", paths[0]) not in finals:
                    finals[(dtype, "torch", paths[0])] = _torch_replay(
                        spec, start, data, batches, m, seed, torch
                    )
                replay = [(zs[2 * i], xs[i], zs[2 * i + 1]) for i in range(iterations)]
                finals[(dtype, f"torch/{v}", paths[1])] = _torch_replay(
                    spec, start, data, replay, m, seed, torch
                )

    def ref_side(v: str, path: str) -> str:
        return f"torch/{v}" if reference == "torch" and path == paths[1] else reference

    rounding: dict[tuple[str, str], dict[str, Any]] = {}
    if {"float32", "float64"} <= set(dtypes):
        for dtype, side, path in list(finals):
            if dtype == "float32":
                r = compare_states(
                    finals[(dtype, side, path)], finals[("float64", side, path)], exclude
                )
                r.update(variant=side.split("/")[0], reference=side.split("/")[0], path=path)
                r.update(dtype="float32 rounding", rtol=None, ok=None, verdict="information")
                rounding[(side, path)] = r
    checks: list[dict[str, Any]] = []
    for dtype in dtypes:
        rtol = agreement_tolerance(spec, dtype)
        for v in variants:
            if v == reference:
                continue
            for path in paths:
                ref = ref_side(v, path)
                result = compare_states(
                    finals[(dtype, v, path)], finals[(dtype, ref, path)], exclude
                )
                result.update(variant=v, reference=reference, path=path, dtype=dtype, rtol=rtol)
                result["ok"] = bool(result["max_rel"] <= rtol)
                result["verdict"] = "ok" if result["ok"] else "failed"
                checks.append(result)
    for c in checks:
        if c["ok"] or c["dtype"] != "float32":
            continue
        twin = [
            d for d in checks
            if d["dtype"] == "float64" and (d["variant"], d["path"]) == (c["variant"], c["path"])
        ]  # fmt: skip
        sides = [(c["variant"], c["path"]), (ref_side(c["variant"], c["path"]), c["path"])]
        floor = max((rounding[s]["max_rel"] for s in sides if s in rounding), default=0.0)
        c["rounding_floor"] = floor
        if twin and twin[0]["ok"] and c["max_rel"] <= 3 * floor:
            c["verdict"] = "rounding"
    info = [r for (side, _), r in rounding.items() if "/" not in side or side.endswith(variants[0])]
    return {
        "iterations": iterations,
        "batch_size": m,
        "reference": reference,
        "checks": checks,
        "rounding": info,
        "ok": all(c["verdict"] != "failed" for c in checks),
        "within_tolerance": all(c["ok"] for c in checks),
    }


# -- timing -----------------------------------------------------------------------------------


class _Runner:
    """One timed variant of one row: ``activate()`` before each block, then ``run(n)``."""

    name: str

    def activate(self) -> None:
        pass

    def run(self, n: int) -> None:
        raise NotImplementedError

    def recover(self) -> bool:
        """After a failure mid-block: rebuild and return True to retry, or False."""
        return False


class _NumganRunner(_Runner):
    def __init__(self, name: str, backend: str | None, build: Callable[[], ng.Trainer]) -> None:
        self.name, self.backend, self.build = name, backend, build
        self.restarts = 0
        with using_backend(backend):
            self.trainer = build()

    def activate(self) -> None:
        activate_backend(self.backend)

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
        return True


class _PlainRunner(_Runner):
    def __init__(self, name: str, run: Callable[[int], None]) -> None:
        self.name, self.run = name, run  # type: ignore[method-assign]


def _time_block(runner: _Runner, n: int) -> float:
    """Iterations per second of one block of n iterations."""
    runner.activate()
    for attempt in range(2):
        start = time.perf_counter()
        try:
            runner.run(n)
        except FloatingPointError:
            if attempt == 0 and runner.recover():
                runner.activate()
                runner.run(1)
                continue
            raise
        return n / (time.perf_counter() - start)
    raise AssertionError("unreachable")


def _calibrate(runner: _Runner, block_seconds: float) -> int:
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


@dataclass
class BenchConfig:
    """Everything that defines a run; the flags map onto these fields."""

    models: tuple[int, ...] = (1, 2, 3)
    variants: tuple[str, ...] = VARIANTS
    repeats: int = 9
    block_seconds: float = 0.5
    sleep: float = 0.2
    threads: int | None = None
    batch_size: int | None = None  # overrides every row's m
    batch_sizes: tuple[int, ...] = SWEEP_BATCH_SIZES  # model 1's sweep; () for none
    sweep_repeats: int = 5
    seed: int = 0
    out: Path = Path("benchmarks/results")
    quick: bool = False
    data_size: int = DATA_SIZE

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValueError(f"--repeats must be at least 1, got {self.repeats}")
        if self.sweep_repeats < 1:
            raise ValueError(f"--sweep-repeats must be at least 1, got {self.sweep_repeats}")
        if not self.block_seconds > 0:
            raise ValueError(f"--block-seconds must be positive, got {self.block_seconds}")
        if self.sleep < 0:
            raise ValueError(f"--sleep must be >= 0, got {self.sleep}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {self.threads}")
        if self.batch_size is not None and self.batch_size < 2:
            raise ValueError(f"--batch-size must be at least 2, got {self.batch_size}")
        bad = [m for m in self.batch_sizes if m < 2]
        if bad:
            raise ValueError(f"--batch-sizes must all be at least 2, got {bad}")
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown or not self.variants:
            raise ValueError(f"--variants must name some of {', '.join(VARIANTS)}, got {unknown}")
        model_specs(self.models)

    @classmethod
    def quick_preset(cls, **overrides: Any) -> BenchConfig:
        """Tiny settings for tests: a few short blocks, m = 8, no pauses."""
        base = {
            "repeats": 2,
            "block_seconds": 0.02,
            "sleep": 0.0,
            "batch_size": 8,
            "batch_sizes": (8, 16),
            "sweep_repeats": 1,
            "quick": True,
            "data_size": 256,
        }
        base.update(overrides)
        return cls(**base)


def _progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _fmt_rate(v: float | None) -> str:
    if v is None:
        return "n/a"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def time_row(
    spec: ModelSpec,
    m: int,
    variants: Sequence[str],
    status: dict[str, str],
    config: BenchConfig,
    torch: Any | None,
    repeats: int,
    label: str,
) -> dict[str, Any]:
    """Time the runnable variants of one row at batch size m, interleaved; per-variant results."""
    results: dict[str, dict[str, Any]] = {}
    runners: list[_Runner] = []
    data = make_data(spec, config.data_size, np.random.default_rng([config.seed, 1]))

    def build() -> ng.Trainer:
        return build_trainer(spec, batch_size=m, seed=config.seed, data=data)

    for v in variants:
        if status.get(v):
            results[v] = {"status": "unavailable", "note": status[v]}
            continue
        try:
            if v in NUMGAN_VARIANTS:
                backend = v if hasattr(ng, "set_backend") else None
                runners.append(_NumganRunner(v, backend, build))
            elif v == "torch":
                twin = TorchGAN(spec, build().gan, data, m, config.seed, torch)
                runners.append(_PlainRunner(v, twin.run))
            else:
                runners.append(_PlainRunner(v, MatmulCeiling(spec, m, config.seed).run))
        except Unavailable as err:
            results[v] = {"status": "unavailable", "note": str(err)}
    counts = {}
    for r in runners:
        counts[r.name] = _calibrate(r, config.block_seconds)
        time.sleep(config.sleep)
    samples: dict[str, list[float]] = {r.name: [] for r in runners}
    for rep in range(repeats):
        # Rotate the order each repeat, so that no variant always follows the same one.
        order = runners[rep % len(runners) :] + runners[: rep % len(runners)] if runners else []
        for r in order:
            time.sleep(config.sleep)
            samples[r.name].append(_time_block(r, counts[r.name]))
        line = "  ".join(f"{r.name} {_fmt_rate(samples[r.name][-1])}" for r in runners)
        _progress(f"{label} repeat {rep + 1}/{repeats}: {line} it/s")
    flops = flops_per_iteration(spec, m)
    for r in runners:
        s = samples[r.name]
        med = statistics.median(s)
        results[r.name] = {
            "status": "ok",
            "note": "",
            "median": med,
            "min": min(s),
            "max": max(s),
            "samples": s,
            "iterations_per_block": counts[r.name],
            "gflops": flops * med / 1e9,
        }
        if isinstance(r, _NumganRunner) and r.restarts:
            results[r.name]["note"] = f"restarted {r.restarts} time(s) after a non-finite loss"
    ceiling = results.get("matmul", {}).get("median")
    for v, res in results.items():
        if res["status"] == "ok" and ceiling and v != "matmul":
            res["ceiling_fraction"] = res["median"] / ceiling
    return results


def _ratio(results: dict[str, Any], a: str, b: str) -> float | None:
    ra, rb = results.get(a, {}), results.get(b, {})
    if ra.get("status") == "ok" and rb.get("status") == "ok":
        return ra["median"] / rb["median"]
    return None


# -- the machine ------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """CPU (lscpu), core count, Python and library versions, and numpy's BLAS."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "numpy": np.__version__,
        "numgan": getattr(ng, "__version__", "?"),
        "numgan_backend_env": os.environ.get("NUMGAN_BACKEND"),
    }
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    if shutil.which("lscpu"):
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        fields = {}
        for line in out.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        wanted = (
            "Model name",
            "Vendor ID",
            "CPU(s)",
            "Thread(s) per core",
            "Core(s) per socket",
            "L1d cache",
            "L2 cache",
            "L3 cache",
            "Hypervisor vendor",
        )
        info["lscpu"] = {k: fields[k] for k in wanted if k in fields}
        flags = set(fields.get("Flags", "").split())
        info["simd"] = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in flags]
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    try:  # the installed version, read without importing torch
        info["torch"] = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        info["torch"] = None
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy_blas"] = {
            k: blas.get(k) for k in ("name", "version", "openblas configuration") if k in blas
        }
    except Exception:  # older numpy prints its config and has no dict mode
        info["numpy_blas"] = None
    try:
        from threadpoolctl import threadpool_info

        info["runtime_libraries"] = [
            {k: i.get(k) for k in ("user_api", "internal_api", "version", "architecture")}
            for i in threadpool_info()
        ]
    except ImportError:
        info["runtime_libraries"] = None
    return info


# -- output -----------------------------------------------------------------------------------


def _cell(results: dict[str, Any], v: str, comparable: bool = True) -> str:
    res = results.get(v)
    if res is None:
        return "skipped"
    if res["status"] != "ok":
        return "n/a"
    text = _fmt_rate(res["median"])
    return text if comparable else f"{text} (not comparable)"


def _fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def _fmt_pct(res: dict[str, Any] | None) -> str:
    if not res or "ceiling_fraction" not in res:
        return "n/a"
    return f"{100 * res['ceiling_fraction']:.0f}%"


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: results table, GFLOP/s, spread, sweep, agreement, setup."""
    cfg, rows = report["config"], report["rows"]
    lines = [
        "## Training iterations per second",
        "",
        f"Median of {cfg['repeats']} timed blocks of ~{cfg['block_seconds']} s per variant, "
        f"interleaved, {cfg['sleep']} s pause before each block; "
        f"{report['threads']['requested']} thread(s) for BLAS and PyTorch.",
        "",
        "| model | m | optimiser | numgan (Numba) it/s | numgan (NumPy) it/s | PyTorch it/s "
        "| Numba / NumPy | Numba / PyTorch | NumPy / PyTorch | matmul ceiling it/s "
        "| Numba of ceiling | NumPy of ceiling | GFLOP / iter |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        res, ok = row["results"], row["torch_comparable"]

        def torch_ratio(a: str, res: dict[str, Any] = res, ok: bool = ok) -> str:
            return _fmt_ratio(_ratio(res, a, "torch")) if ok else "n/a"

        lines.append(
            f"| {row['key']} {row['title']} | {row['batch_size']} | {row['optimizer']} "
            f"| {_cell(res, 'numba')} | {_cell(res, 'numpy')} | {_cell(res, 'torch', ok)} "
            f"| {_fmt_ratio(_ratio(res, 'numba', 'numpy'))} | {torch_ratio('numba')} "
            f"| {torch_ratio('numpy')} | {_cell(res, 'matmul')} "
            f"| {_fmt_pct(res.get('numba'))} | {_fmt_pct(res.get('numpy'))} "
            f"| {row['flops_per_iteration'] / 1e9:.4g} |"
        )
    lines += [
        "",
        "Ratios above 1 mean the first variant is faster.  The ceiling runs the iteration's "
        "matrix products alone (np.matmul with out=, float32); GFLOP / iter counts those "
        "products (2 m D_in D_out per Dense forward, the same again for each of dx and dW).",
        "",
        "### Achieved GFLOP/s and spread (min to max over the blocks, it/s)",
        "",
        "| model | variant | median it/s | min | max | iterations per block | GFLOP/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for v, res in row["results"].items():
            if res["status"] != "ok":
                continue
            lines.append(
                f"| {row['key']} | {LABELS[v]} | {_fmt_rate(res['median'])} "
                f"| {_fmt_rate(res['min'])} | {_fmt_rate(res['max'])} "
                f"| {res['iterations_per_block']} | {res['gflops']:.2f} |"
            )
    sweep = report.get("sweep")
    if sweep:
        lines += [
            "",
            f"### Batch-size sweep, model 1 (median of {cfg['sweep_repeats']} blocks)",
            "",
            "| m | numgan (Numba) | numgan (NumPy) | PyTorch | matmul ceiling | Numba / NumPy "
            "| Numba / PyTorch | Numba of ceiling |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for point in sweep["points"]:
            res, ok = point["results"], sweep["torch_comparable"]
            lines.append(
                f"| {point['batch_size']} | {_cell(res, 'numba')} | {_cell(res, 'numpy')} "
                f"| {_cell(res, 'torch', ok)} | {_cell(res, 'matmul')} "
                f"| {_fmt_ratio(_ratio(res, 'numba', 'numpy'))} "
                f"| {_fmt_ratio(_ratio(res, 'numba', 'torch')) if ok else 'n/a'} "
                f"| {_fmt_pct(res.get('numba'))} |"
            )
        if report.get("plot"):
            lines += ["", f"![iterations/s against batch size, model 1]({report['plot']})"]
    lines += [
        "",
        "### Agreement check",
        "",
        "Same initial weights and the same minibatches fed to both frameworks for "
        f"{AGREEMENT_ITERATIONS} iterations, then, per parameter tensor, max|a - b| / max|b|; "
        "the table shows the worst tensor.  float32 is what is timed; in float64 an "
        "implementation difference would remain while rounding differences vanish.  "
        "'float32 rounding' compares one side's float32 run with its own float64 run: the "
        "size of rounding alone.  A float32 gap over the tolerance counts as rounding when "
        "float64 agrees and the gap is at most 3x the sides' own float32 rounding.",
        "",
        "| model | dtype | path | compared | max rel. diff | worst tensor | BN buffers | result |",
        "|---|---|---|---|---:|---|---:|---|",
    ]
    for row in rows:
        ag = row.get("agreement")
        if not ag or not ag["checks"]:
            lines.append(f"| {row['key']} | | | | | | | not run |")
            continue
        for c in ag["checks"] + ag.get("rounding", []):
            if c["verdict"] == "information":
                compared = f"{LABELS[c['variant']]} float32 vs float64"
                verdict = "(information)"
            else:
                compared = f"{LABELS[c['variant']]} vs {LABELS[c['reference']]}"
                verdict = f"{VERDICTS[c['verdict']]} (tolerance {c['rtol']:g})"
                if c["verdict"] == "failed":
                    verdict = f"**{verdict}**"
            lines.append(
                f"| {row['key']} | {c['dtype']} | {c['path']} | {compared} | {c['max_rel']:.1e} "
                f"| {c['worst']} | {c['buffers_max_rel']:.1e} | {verdict} |"
            )
    if report["notes"]:
        lines += ["", "### Notes", ""] + [f"- {n}" for n in report["notes"]]
    m = report["machine"]
    cpu = (m.get("lscpu") or {}).get("Model name", "unknown CPU")
    blas = m.get("numpy_blas") or {}
    lines += [
        "",
        "### Setup",
        "",
        f"- CPU: {cpu}, {m.get('nproc')} logical CPUs (nproc), SIMD {', '.join(m.get('simd', []))}",
        f"- Python {m['python']}, numpy {m['numpy']} ({blas.get('name', '?')} "
        f"{blas.get('version', '')}), numba {m.get('numba')}, torch {m.get('torch')}, "
        f"numgan {m['numgan']}",
        f"- threads: {json.dumps(report['threads'])}",
        f"- command: `{report['command']}`",
        f"- total time: {report['elapsed_seconds']:.0f} s",
    ]
    return "\n".join(lines) + "\n"


def _quartiles(samples: Sequence[float]) -> tuple[float, float]:
    """First and third quartiles (both the value itself for a single sample)."""
    if len(samples) < 2:
        return samples[0], samples[0]
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q3


def plot_sweep(report: dict[str, Any], path: Path) -> None:
    """iterations/s against batch size for model 1, one line per variant; the bars span the
    middle half of the blocks (first to third quartile), which one disturbed block cannot
    stretch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    points = report["sweep"]["points"]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    styles = {"numba": "o-", "numpy": "s-", "torch": "^-", "matmul": "k--"}
    # A small horizontal offset per variant keeps the bars apart.
    offsets = {"numba": 0.97, "numpy": 0.99, "torch": 1.01, "matmul": 1.03}
    for v in VARIANTS:
        xs, ys, lo, hi = [], [], [], []
        for p in points:
            res = p["results"].get(v)
            if res and res["status"] == "ok":
                q1, q3 = _quartiles(res["samples"])
                xs.append(p["batch_size"] * offsets[v])
                ys.append(res["median"])
                lo.append(res["median"] - q1)
                hi.append(q3 - res["median"])
        if xs:
            label = LABELS[v]
            if v == "torch" and not report["sweep"]["torch_comparable"]:
                label += " (not comparable)"
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt=styles[v], label=label, capsize=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    sizes = [p["batch_size"] for p in points]
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(s) for s in sizes])
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch size m")
    ax.set_ylabel("training iterations / s (median)")
    threads = report["threads"]["requested"]
    ax.set_title(f"Model 1, the paper's MNIST MLP GAN: Algorithm 1 on {threads} CPU thread(s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_outputs(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write train_speed.{json,md} (and the sweep's PNG) under ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "train_speed.json", "markdown": out / "train_speed.md"}
    if report.get("sweep"):
        paths["plot"] = out / "train_speed_model1.png"
        plot_sweep(report, paths["plot"])
        report["plot"] = paths["plot"].name
    paths["json"].write_text(json.dumps(report, indent=1, default=str) + "\n")
    paths["markdown"].write_text(render_markdown(report))
    return paths


# -- the run ----------------------------------------------------------------------------------


def run(config: BenchConfig, command: str = "numgan bench") -> dict[str, Any]:
    """Run the benchmark described by ``config``; returns the report (a JSON-able dict)."""
    began = time.perf_counter()
    notes: list[str] = []
    status = {v: "" for v in config.variants}
    status.update({k: v for k, v in numgan_variants().items() if k in config.variants})
    torch = None
    if "torch" in config.variants:
        torch, why = load_torch()
        status["torch"] = why
    threads = config.threads or blas_threads() or os.cpu_count() or 1
    thread_info, limiter = apply_threads(threads, torch)
    for v in config.variants:
        if status[v]:
            notes.append(f"{LABELS[v]}: unavailable: {status[v]}")
            _progress(f"{LABELS[v]} unavailable: {status[v]}")
    numgan_ok = [v for v in NUMGAN_VARIANTS if v in config.variants and not status[v]]
    reference_torch = torch if "torch" in config.variants and not status["torch"] else None
    previous = ng.get_backend() if hasattr(ng, "get_backend") else None
    rows: list[dict[str, Any]] = []
    sweep: dict[str, Any] | None = None
    try:
        for spec in model_specs(config.models):
            m = config.batch_size or spec.batch_size
            label = f"model {spec.key} ({spec.title}, m={m}, {spec.optimizer})"
            row: dict[str, Any] = {
                "key": spec.key,
                "model": spec.model,
                "title": spec.title,
                "arch": spec.arch(),
                "optimizer": spec.optimizer_label(),
                "batch_size": m,
                "flops_per_iteration": flops_per_iteration(spec, m),
                "torch_comparable": True,
            }
            try:
                make_optimizer(spec)
            except Unavailable as err:
                row.update(skipped=str(err), results={}, agreement=None)
                notes.append(f"model {spec.key} skipped: {err}")
                _progress(f"{label}: skipped: {err}")
                continue
            _progress(f"{label}: agreement check")
            agreement = agreement_check(
                spec,
                variants=numgan_ok,
                torch=reference_torch,
                batch_size=m,
                seed=config.seed,
            )
            for c in agreement["checks"] + agreement["rounding"]:
                _progress(
                    f"  {c['dtype']} {c['path']}: {c['variant']} vs {c['reference']}: max rel "
                    f"diff {c['max_rel']:.2e} ({c['worst']}) {VERDICTS[c['verdict']]}"
                )
            for c in agreement["checks"]:
                if c["verdict"] == "ok":
                    continue
                loud = "AGREEMENT CHECK FAILED" if c["verdict"] == "failed" else "WARNING"
                msg = (
                    f"{loud}: model {spec.key}, {c['dtype']} {c['path']}: {LABELS[c['variant']]}"
                    f" vs {LABELS[c['reference']]} differ by {c['max_rel']:.2e} at {c['worst']}"
                    f" (tolerance {c['rtol']:g})"
                )
                if c["verdict"] == "rounding":
                    msg += (
                        f"; float64 agrees and the sides' own float32 rounding reaches "
                        f"{c['rounding_floor']:.2e}, so the gap is float32 rounding"
                    )
                elif c["reference"] == "torch":
                    row["torch_comparable"] = False
                    msg += ": PyTorch is marked not comparable for this model"
                print(f"bench: *** {msg} ***", file=sys.stderr, flush=True)
                notes.append(msg)
            excluded = sorted({n for c in agreement["checks"] for n in c["excluded"]})
            if excluded:
                agreement["note_excluded"] = excluded
            row["agreement"] = agreement
            _progress(f"{label}: timing {', '.join(v for v in config.variants)}")
            row["results"] = time_row(
                spec, m, config.variants, status, config, torch, config.repeats, label
            )
            summary = "  ".join(
                f"{v} {_fmt_rate(r.get('median'))}" for v, r in row["results"].items()
            )
            _progress(f"{label}: medians {summary} it/s")
            rows.append(row)
            if spec.model == 1 and config.batch_sizes:
                sweep = {
                    "model": spec.key,
                    "torch_comparable": row["torch_comparable"],
                    "points": [],
                }
                for size in config.batch_sizes:
                    sweep_label = f"sweep model 1, m={size}"
                    _progress(f"{sweep_label}: timing")
                    results = time_row(
                        spec,
                        size,
                        config.variants,
                        status,
                        config,
                        torch,
                        config.sweep_repeats,
                        sweep_label,
                    )
                    sweep["points"].append({"batch_size": size, "results": results})
    finally:
        activate_backend(previous)
        if limiter is not None:
            limiter.restore_original_limits()
    if any(r.get("agreement") and r["agreement"]["checks"] for r in rows):
        excluded = sorted(
            set().union(*(zero_gradient_params(s) for s in model_specs(config.models)))
        )
        if excluded:
            notes.append(
                "agreement check: Dense biases right before a BatchNorm ("
                + ", ".join(excluded)
                + ") are left out: their gradient is zero in exact arithmetic, so their values "
                "are rounding noise (amplified to steps of ~lr by Adam)"
            )
    cfg = asdict(config)
    cfg["out"] = str(config.out)
    return {
        "benchmark": "numgan training iterations/s (Algorithm 1, k=1)",
        "command": command,
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "config": cfg,
        "variants": {v: (status[v] or "ok") for v in config.variants},
        "machine": machine_info(),
        "threads": thread_info,
        "rows": rows,
        "sweep": sweep,
        "notes": notes,
        "elapsed_seconds": time.perf_counter() - began,
    }


# -- command line ----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not usage plus error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_list(text: str) -> tuple[int, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _name_list(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(VARIANTS)}, got {text!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="numgan bench",
        description="Time training iterations/s of Algorithm 1: numgan (Numba and NumPy "
        "backends) against PyTorch on the CPU and the matmul-only ceiling.",
    )
    d = BenchConfig()
    parser.add_argument(
        "--models",
        type=_int_list,
        default=None,
        help="comma-separated model numbers: 1 MNIST MLP, 2 DCGAN-style MLP "
        "(SGD and Adam rows), 3 1-D toy (default 1,2,3)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"timed blocks per variant and row (default {d.repeats})",
    )
    parser.add_argument(
        "--block-seconds",
        type=float,
        default=None,
        help=f"length of one timed block (default {d.block_seconds})",
    )
    parser.add_argument(
        "--sleep",
        type=float,
        default=None,
        help=f"pause before each block, seconds (default {d.sleep})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for BLAS and PyTorch (default: BLAS's current count)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="override every model's batch size m"
    )
    parser.add_argument(
        "--batch-sizes",
        type=_int_list,
        default=None,
        help="model 1's batch-size sweep for the plot, or 'none' (default "
        f"{','.join(map(str, d.batch_sizes))})",
    )
    parser.add_argument(
        "--sweep-repeats",
        type=int,
        default=None,
        help=f"timed blocks per point of the sweep (default {d.sweep_repeats})",
    )
    parser.add_argument(
        "--variants",
        type=_name_list,
        default=None,
        help=f"which to time (default {','.join(VARIANTS)})",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--seed", type=int, default=None, help="seed of weights and data")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"output directory (default {d.out})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny settings (m=8, two short blocks): checks the harness runs",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """A BenchConfig from parsed flags: the preset (normal or --quick), then given flags."""
    given = {
        "models": args.models,
        "repeats": args.repeats,
        "block_seconds": args.block_seconds,
        "sleep": args.sleep,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "batch_sizes": args.batch_sizes,
        "sweep_repeats": args.sweep_repeats,
        "variants": args.variants,
        "seed": args.seed,
        "out": args.out,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if args.models is not None and not args.models:
        raise ValueError("--models needs at least one of 1, 2, 3")
    config = BenchConfig.quick_preset(**given) if args.quick else BenchConfig(**given)
    if args.no_torch:
        config = replace(config, variants=tuple(v for v in config.variants if v != "torch"))
    return config


def main(argv: list[str] | None = None) -> int:
    """``numgan bench``: parse flags, run, print the Markdown table, write the files."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if argv is None:  # run as a script: record how
        argv = sys.argv[1:]
        script = Path(sys.argv[0])
        with contextlib.suppress(ValueError):
            script = script.resolve().relative_to(Path.cwd())
        prog = f"python {script}" if script.suffix == ".py" else "numgan bench"
    else:
        prog = "numgan bench"
    command = " ".join([prog, *argv])
    try:
        config = config_from_args(args)
        report = run(config, command=command)
        paths = write_outputs(report, config.out)
    except KeyboardInterrupt:
        print("numgan bench: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError, OSError, FloatingPointError) as err:
        print(f"numgan bench: error: {err}", file=sys.stderr)
        return 1
    print(render_markdown(report), end="")
    _progress("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


__all__ = [
    "BenchConfig",
    "MatmulCeiling",
    "ModelSpec",
    "TorchGAN",
    "agreement_check",
    "build_trainer",
    "flops_per_iteration",
    "main",
    "matmul_products",
    "model_specs",
    "run",
]
