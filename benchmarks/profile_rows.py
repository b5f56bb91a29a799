"""Where the time of one training iteration goes, per benchmark row: numgan and PyTorch.

    python benchmarks/profile_rows.py [--models 1,2,3,4] [--iterations N] [--threads N]
        [--batch-size M] [--seed S] [--no-torch] [--json PATH] [--quick]

benchmarks/train_speed.py says how fast an iteration of Algorithm 1 runs; this script says what
it is made of, so that a row's speed can be explained ("row 1: most of it in matrix products,
a tenth in the SGD update, ...").  It prints one Markdown table per row on stdout (the machine
kind and the command line on top) and with ``--json PATH`` writes the numbers.

numgan (Numba backend; the row's Trainer from numgan/app/bench.py, built with ``fused="auto"``):

- Rows that run through the layers: ``trainer.step()`` is first timed as it is, then again
  with a timer around each layer's ``forward`` and ``backward`` (bound methods replaced on the
  layer instances of G and D, the branches of a Parallel included, put back afterwards), around
  ``opt_g.step``/``opt_d.step`` and around G's and D's ``zero_grad``.  A wrapped call that
  contains wrapped calls (a Parallel and its branches) keeps only its own time.  The seconds
  add up per category: Dense and Maxout, Conv2D and ConvTranspose2D, BatchNorm, activations
  (LeakyReLU, ReLU, Tanh, Sigmoid, Affine), reshapes (Flatten, Reshape), other layers, the
  optimiser (with zero_grad); "Python and the rest" is the iteration's wall time minus all of
  those: the Trainer's and Sequential's Python, the loss, drawing the minibatches, the input
  checks, and the timers' own cost outside the timed calls.  "Matrix products" is the time of
  the products this path runs (``path_products``: with D's one pass on the 2m rows [x; G(z)]
  and no dx for a network's first layer where the Trainer skips them), alone and back to back
  with np.matmul in the operand layouts of benchmarks/matmul_ceiling.py; "around the products"
  is the Dense and convolution layers' time minus that: bias adds, im2col/col2im, layout
  changes, the Numba loops of small products.  The two are timed separately, so "around the
  products" is noise where it comes out slightly negative (the report says so).  The time of
  Algorithm 1's products as written (matmul_ceiling.py's list: two D passes of m rows, every
  dx; 4-8% more flops in more, shorter products) is reported beside it: on row 2 it takes
  measurably longer than the products the layers run, enough to turn "around the products"
  negative if it were subtracted instead.
- Fused rows (the 1-D toys): the iteration is one jitted call, with no layers to put timers
  around; and timers would not do on so short an iteration anyway: a wrapped call costs
  ~0.5 us more than a plain one (two clock reads and a Python frame), and the ~50 such calls of
  an iteration are 0.1% of row 1's but would be a third of a toy's.
  Instead ``trainer._fused_plan().run(z)`` is timed on its own, called repeatedly on one noise
  minibatch ("jitted iteration"), and ``trainer.step()`` minus that is "Python and the rest",
  here the Python around the call: drawing the minibatches, copying them into the plan, the
  loss bookkeeping.

PyTorch (benchmarks/torch_twin.py, the same layers, weights and optimiser): ``twin.step()`` is
timed as it is, then again under ``torch.profiler.profile(activities=[CPU])``.  Each recorded
op's self CPU time goes to a category by its name, or by the name of the outermost op around it
that has a category (the ``aten::mul`` inside ``binary_cross_entropy_with_logits`` counts as
loss, the ``aten::t`` inside ``aten::linear`` as matrix products): matrix products (mm, addmm,
bmm, matmul, linear, the convolution ops), optimiser (Adam, SGD, ``_foreach``, ``zero_grad``),
BatchNorm, activations, loss, autograd nodes (the engine's per-node bookkeeping), other ops.
"Python and the rest" is the profiled wall time minus all the ops' self time: Python, the
dispatcher between ops, and the profiler's own bookkeeping.

What the PyTorch numbers mean: a profiled op's "self CPU time" is the wall-clock time between
its start and end on the thread that called it, minus its children's; with 2 intra-op threads,
a product that keeps both cores busy for 1 ms counts 1 ms, not 2 (the OpenMP workers record no
events of their own; checked: the self times add up to the profiled wall time, not to twice
it, and the report says how many threads recorded events).  The profiler makes every op
slower, more so for short ones, so the profiled iteration is slower than the plain one: both
are printed, and the shares are of the profiled iteration.

Caveats: the timers and the profiler change what they measure (compare each side's plain and
instrumented times in the report); the machine may be shared, so repeat a run before reading
much into a few percent.  Each measurement runs N iterations (the defaults take ~1-2 s): the
plain ones in 3 blocks, their median block reported; the timed and profiled ones in one block,
whose sums are the split.  No measurement is repeated as train_speed.py's are.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from machine import machine_info
from matmul_ceiling import MatmulCeiling, Product
from torch_twin import TorchGAN, load_torch
from train_speed import script_prog

import numgan as ng
from numgan.app.bench import (
    DATA_SIZE,
    ModelSpec,
    apply_threads,
    blas_threads,
    build_trainer,
    int_list,
    make_data,
    model_specs,
    progress,
)
from numgan.app.parser import OneLineParser
from numgan.nn.layer import all_layers

#: iterations per measurement (numgan, PyTorch, PyTorch profiled): ~1-2 s each on a 2-core
#: machine.  The toy rows profile fewer: the profiler records ~550 events per toy iteration,
#: and building the event tree of 1,000 iterations' worth takes ~25 s, far longer than the run
DEFAULT_ITERATIONS = {
    "1": (50, 50, 50),
    "2-sgd": (100, 70, 70),
    "2-adam": (80, 60, 60),
    "3": (20_000, 1_000, 200),
    "3-tanh": (20_000, 1_000, 200),
    "3-sigmoid": (20_000, 1_000, 200),
    "4": (40, 40, 40),
}
#: --quick: numgan's count on layer rows and on fused rows, and PyTorch's on every row
QUICK_ITERATIONS = ((3, 200), 3)
WARMUP = 3  # iterations before any timing: JIT compilation, first-touch of the buffers
PAUSE = 0.2  # seconds before each measurement: OpenBLAS threads spin ~0.1 s after a product
BLOCKS = 3  # a plain measurement's blocks (see timed_loop)
#: the profiler slows PyTorch's iteration by ~1.1x (row 1) to ~1.5x (the toys, short ops) on
#: an idle machine; a profiled run slower than this many plain ones was disturbed
PROFILER_SLOWDOWN = 2.5

#: numgan layer class name -> category; any other layer counts as "other"
LAYER_CATEGORY = {
    "Dense": "dense",
    "Maxout": "dense",
    "Conv2D": "conv",
    "ConvTranspose2D": "conv",
    "BatchNorm": "batchnorm",
    "LeakyReLU": "activation",
    "ReLU": "activation",
    "Tanh": "activation",
    "Sigmoid": "activation",
    "Affine": "activation",
    "Flatten": "reshape",
    "Reshape": "reshape",
}

#: every category of either side, in table order, with its label
LABELS = {
    "matmul": "matrix products",
    "around_matmul": "around the products (bias, im2col/col2im, layouts)",
    "batchnorm": "BatchNorm",
    "activation": "activations",
    "reshape": "reshapes",
    "loss": "loss",
    "optimiser": "optimiser (and zero_grad)",
    "autograd": "autograd nodes",
    "other": "other layers / other ops",
    "jitted": "jitted iteration (plan.run)",
    "rest": "Python and the rest",
}
#: the categories that may come out negative: a difference of two separate timings (the layers
#: with products minus the products alone; a fused row's step minus its jitted call), or of
#: the profiled wall time and the profiler's own clock (PyTorch's rest).  A layer row's rest
#: cannot: every timed call lies inside the iteration it is subtracted from
MAY_BE_NEGATIVE = frozenset({"around_matmul", "rest"})

MATMUL_OPS = frozenset(
    {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear"}
)
#: PyTorch categories that also claim the ops inside them (see torch_category)
STICKY = ("optimiser", "loss", "batchnorm", "activation", "matmul")


@dataclass
class ProfileConfig:
    """What one run profiles; the flags map onto these fields."""

    models: tuple[int, ...] = (1, 2, 3, 4)
    iterations: int | None = None  # None: DEFAULT_ITERATIONS per row and side
    threads: int | None = None
    batch_size: int | None = None  # overrides every row's m
    seed: int = 0
    torch: bool = True
    quick: bool = False
    json: Path | None = None

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("--models needs at least one of 1, 2, 3, 4")
        model_specs(self.models)  # raises on an unknown model number
        if self.iterations is not None and self.iterations < 1:
            raise ValueError(f"--iterations must be at least 1, got {self.iterations}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {self.threads}")
        if self.batch_size is not None and self.batch_size < 2:
            raise ValueError(f"--batch-size must be at least 2, got {self.batch_size}")
        if self.seed < 0:
            raise ValueError(f"--seed must be a whole number >= 0, got {self.seed}")
        if self.quick and self.batch_size is None:
            self.batch_size = 8

    @property
    def pause(self) -> float:
        return 0.0 if self.quick else PAUSE

    @property
    def data_size(self) -> int:
        return 256 if self.quick else DATA_SIZE

    def counts(self, spec: ModelSpec, fused: bool) -> tuple[int, int, int]:
        """Iterations per measurement of ``spec``'s row: (numgan, PyTorch, PyTorch profiled)."""
        if self.iterations is not None:
            return self.iterations, self.iterations, self.iterations
        if self.quick:
            (layers, fused_n), torch_n = QUICK_ITERATIONS
            return (fused_n if fused else layers), torch_n, torch_n
        return DEFAULT_ITERATIONS[spec.key]


def timed_loop(run: Callable[[], Any], n: int, pause: float, blocks: int = 1) -> float:
    """Seconds per call of ``run`` over n calls, after a pause (see PAUSE).  With ``blocks``
    > 1: the n calls in that many blocks, and the median block's time per call, which a burst
    of load from elsewhere on a shared machine moves less than the mean."""
    time.sleep(pause)
    blocks = max(1, min(blocks, n))
    rates = []
    for b in range(blocks):
        k = n // blocks + (b < n % blocks)
        start = time.perf_counter()
        for _ in range(k):
            run()
        rates.append((time.perf_counter() - start) / k)
    return statistics.median(rates)


# -- numgan ---------------------------------------------------------------------------------


class Timers:
    """Per-category seconds of wrapped calls; a wrapped call keeps only its own time (that of
    the wrapped calls inside it goes to theirs)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[float] = []  # the time of wrapped calls inside each open call
        self._undo: list[tuple[object, str, bool, Any]] = []

    def wrap(self, obj: object, name: str, category: str) -> None:
        """Replace ``obj.name`` (a bound method) by a timed call of it, on this instance."""
        original = getattr(obj, name)
        had_own = name in vars(obj)  # an instance attribute already: put that back, not the class's
        seconds, calls, stack, clock = self.seconds, self.calls, self._stack, time.perf_counter
        seconds.setdefault(category, 0.0)
        calls.setdefault(category, 0)

        def timed(*args: Any, **kwargs: Any) -> Any:
            stack.append(0.0)
            start = clock()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = clock() - start
                inner = stack.pop()
                seconds[category] += elapsed - inner
                calls[category] += 1
                if stack:
                    stack[-1] += elapsed

        self._undo.append((obj, name, had_own, vars(obj).get(name)))
        setattr(obj, name, timed)

    def restore(self) -> None:
        """Put every wrapped method back, last wrapped first."""
        while self._undo:
            obj, name, had_own, own = self._undo.pop()
            if had_own:
                setattr(obj, name, own)
            else:
                delattr(obj, name)


def layer_category(layer: ng.nn.Layer) -> str:
    """The category of a numgan layer, by class (a subclass takes its nearest known base's)."""
    for cls in type(layer).__mro__:
        if cls.__name__ in LAYER_CATEGORY:
            return LAYER_CATEGORY[cls.__name__]
    return "other"


@contextlib.contextmanager
def instrumented(trainer: Any) -> Iterator[Timers]:
    """Timers around every layer's forward and backward, the optimisers' steps and the nets'
    zero_grad of ``trainer``, for the duration of the block; then the original methods."""
    timers = Timers()
    try:
        for net in (trainer.gan.G, trainer.gan.D):
            for layer in all_layers(net.layers):
                category = layer_category(layer)
                timers.wrap(layer, "forward", category)
                timers.wrap(layer, "backward", category)
            timers.wrap(net, "zero_grad", "optimiser")
        timers.wrap(trainer.opt_g, "step", "optimiser")
        timers.wrap(trainer.opt_d, "step", "optimiser")
        yield timers
    finally:
        timers.restore()


def path_products(trainer: Any, spec: ModelSpec, m: int) -> list[Product]:
    """The matrix products one ``trainer.step()`` of the layer path runs, in order, as
    (net, layer, kind, M, K, N) like matmul_ceiling.matmul_products (which lists Algorithm 1
    as written).  Two differences: where D treats rows independently, the Numba path's D step
    runs D once on the 2m rows [x; G(z)] (Trainer.d_step), so its products are twice as tall
    and half as many; and a network's first layer with parameters computes no dx where the
    input is data or noise (D in the D step, G in the G step: Sequential.backward)."""
    gemms = {"G": spec.gemms("g"), "D": spec.gemms("d")}
    first = {
        name: next((i for i, layer in enumerate(net.layers) if layer.params), 0)
        for name, net in (("G", trainer.gan.G), ("D", trainer.gan.D))
    }

    def fwd(net: str, rows: int) -> list[Product]:
        return [(net, i, "fwd", rows * g.rows, g.K, g.N) for i, g in enumerate(gemms[net])]

    def bwd(net: str, rows: int, dw: bool, dx_first: bool) -> list[Product]:
        out = []
        for i, g in reversed(list(enumerate(gemms[net]))):
            kinds = ("dW",) if dw else ()
            if dx_first or g.layer != first[net]:
                kinds += ("dx",)
            out += [(net, i, k, rows * g.rows, g.K, g.N) for k in kinds]
        return out

    d_passes = [2 * m] if trainer._one_d_pass() else [m, m]
    d_step = fwd("G", m)
    for rows in d_passes:
        d_step += fwd("D", rows) + bwd("D", rows, dw=True, dx_first=False)
    g_step = fwd("G", m) + fwd("D", m) + bwd("D", m, dw=False, dx_first=True)
    return d_step + g_step + bwd("G", m, dw=True, dx_first=False)


def profile_layers(
    trainer: Any, spec: ModelSpec, m: int, n: int, config: ProfileConfig
) -> dict[str, Any]:
    """A layer-path row: plain and instrumented step times, and the categories (ms/it)."""
    plain = timed_loop(trainer.step, n, config.pause, BLOCKS)
    with instrumented(trainer) as timers:
        wall = timed_loop(trainer.step, n, config.pause)  # one block: its sums are the split
    products = path_products(trainer, spec, m)
    path = MatmulCeiling(spec, m, config.seed, products=products)
    path.run(WARMUP)
    matmul = timed_loop(lambda: path.run(1), n, config.pause, BLOCKS)
    ceiling = MatmulCeiling(spec, m, config.seed)
    ceiling.run(WARMUP)
    as_written = timed_loop(lambda: ceiling.run(1), n, config.pause, BLOCKS)
    seconds = {k: v / n for k, v in timers.seconds.items()}
    layers_with_products = seconds.get("dense", 0.0) + seconds.get("conv", 0.0)
    ms = {
        "matmul": matmul,
        "around_matmul": layers_with_products - matmul,
        **{k: seconds[k] for k in ("batchnorm", "activation", "reshape", "other") if k in seconds},
        "optimiser": seconds.get("optimiser", 0.0),
        "rest": wall - sum(seconds.values()),
    }
    notes = []
    if not 0.8 <= wall / plain <= 1.25:
        notes.append(
            f"DISTURBED: the plain steps took {1e3 * plain:.3g} ms, the timed ones "
            f"{1e3 * wall:.3g} ms; timers cost far less than that difference, so the machine's "
            "load changed between the runs and the split below mixes the two states: rerun"
        )
    if ms["around_matmul"] < 0:
        notes.append(
            "the Dense/convolution layers took less than the products alone (timed "
            "separately): 'around the products' is negative, i.e. within the noise"
        )
    calls = sum(timers.calls.values()) / n
    return {
        "path": "layers",
        "iterations": n,
        "plain_ms": 1e3 * plain,
        "wall_ms": 1e3 * wall,
        "categories": {k: 1e3 * v for k, v in ms.items()},
        "timed_ms": {k: 1e3 * v for k, v in seconds.items()},
        "matmul_ms": 1e3 * matmul,
        "products": len(products),
        "flops": sum(2 * M * K * N for *_, M, K, N in products),
        # Algorithm 1's products as written (benchmarks/matmul_ceiling.py), for comparison
        "matmul_ceiling_ms": 1e3 * as_written,
        "matmul_ceiling_products": len(ceiling.calls),
        "wrapped_calls_per_iteration": calls,
        "notes": notes,
    }


def profile_fused(trainer: Any, m: int, n: int, config: ProfileConfig) -> dict[str, Any]:
    """A fused row: the step, and the plan's jitted call alone on one noise minibatch."""
    plain = timed_loop(trainer.step, n, config.pause, BLOCKS)
    plan = trainer._fused_plan()
    # the plan trains on whatever minibatches step() last copied into it: fine for timing
    z = trainer.gan.noise.sample(m, np.random.default_rng([config.seed, 2]), trainer.gan.dtype)
    plan.run(z)
    jitted = timed_loop(lambda: plan.run(z), n, config.pause, BLOCKS)
    notes = []
    if plain < jitted:
        notes.append(
            "the jitted call alone took longer than the whole step (timed separately): "
            "'Python and the rest' is negative, i.e. within the noise"
        )
    return {
        "path": "fused step",
        "iterations": n,
        "plain_ms": 1e3 * plain,
        "wall_ms": 1e3 * plain,
        "categories": {"jitted": 1e3 * jitted, "rest": 1e3 * (plain - jitted)},
        "notes": notes,
    }


def profile_numgan(
    spec: ModelSpec, m: int, data: np.ndarray, config: ProfileConfig
) -> dict[str, Any]:
    """numgan's side of a row on the Numba backend; a diverged run restarts once from the seed
    (the speed is measured, not the fit)."""
    for attempt in range(2):
        trainer = build_trainer(spec, batch_size=m, seed=config.seed, data=data)
        fused = trainer.uses_fused
        n = config.counts(spec, fused)[0]
        try:
            for _ in range(WARMUP):
                trainer.step()
            if fused:
                return profile_fused(trainer, m, n, config)
            return profile_layers(trainer, spec, m, n, config)
        except FloatingPointError:  # numgan's DivergenceError is one
            if attempt:
                raise
            progress(f"model {spec.key}: numgan diverged; restarting from the seed")
    raise AssertionError("unreachable")


# -- PyTorch ----------------------------------------------------------------------------------


def torch_category(name: str) -> str:
    """The category of a profiled PyTorch op by its name (see the module docstring)."""
    low = name.lower()
    if "adam" in low or "sgd" in low or "_foreach" in low or low.startswith("optimizer."):
        return "optimiser"
    if "batch_norm" in low:
        return "batchnorm"
    if "binary_cross_entropy" in low:
        return "loss"
    # autograd's nodes ("AddmmBackward0") and engine wrappers: bookkeeping, not arithmetic
    if "autograd::" in low or re.search(r"Backward\d*$", name):
        return "autograd"
    if any(k in low for k in ("leaky_relu", "tanh", "sigmoid", "relu", "threshold")):
        return "activation"
    if name in MATMUL_OPS or (low.startswith("aten::") and "conv" in low):
        return "matmul"
    return "other"


def event_category(event: Any, cache: dict[int, str]) -> str:
    """An event's category: that of its outermost ancestor (itself included) with a sticky
    category, else its own name's."""
    key = id(event)
    if key not in cache:
        own = torch_category(event.name)
        parent = event.cpu_parent
        above = event_category(parent, cache) if parent is not None else "other"
        cache[key] = above if above in STICKY else own
    return cache[key]


def profile_torch(
    spec: ModelSpec,
    m: int,
    data: np.ndarray,
    n: int,
    n_profiled: int,
    config: ProfileConfig,
    torch: Any,
) -> dict[str, Any]:
    """PyTorch's side of a row: plain and profiled wall time, self CPU time per category."""
    from torch.profiler import ProfilerActivity, profile

    # a fresh trainer's GAN: the twin starts from the seed's weights, as in train_speed.py
    gan = build_trainer(spec, batch_size=m, seed=config.seed, data=data).gan
    twin = TorchGAN(spec, gan, data, m, config.seed, torch)
    twin.run(WARMUP)
    plain = timed_loop(twin.step, n, config.pause, BLOCKS)
    time.sleep(config.pause)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        twin.run(n_profiled)
        profiled = (time.perf_counter() - start) / n_profiled
    self_us: dict[str, float] = {}
    cache: dict[int, str] = {}
    threads = set()
    for event in prof.events():
        category = event_category(event, cache)
        self_us[category] = self_us.get(category, 0.0) + event.self_cpu_time_total
        threads.add(event.thread)
    ops_ms = {k: v / 1e3 / n_profiled for k, v in self_us.items()}
    order = ("matmul", "batchnorm", "activation", "loss", "optimiser", "autograd", "other")
    categories = {k: ops_ms[k] for k in order if k in ops_ms}
    categories["rest"] = 1e3 * profiled - sum(ops_ms.values())
    notes = []
    if profiled < 0.9 * plain:
        notes.append(
            f"DISTURBED: the plain steps ({1e3 * plain:.3g} ms) were slower than the profiled "
            f"ones ({1e3 * profiled:.3g} ms): load from elsewhere slowed the plain run: rerun"
        )
    elif profiled > PROFILER_SLOWDOWN * plain:
        notes.append(
            f"DISTURBED: the profiled steps ({1e3 * profiled:.3g} ms) were "
            f"{profiled / plain:.1f}x slower than the plain ones ({1e3 * plain:.3g} ms), far "
            "beyond the profiler's own cost: load from elsewhere slowed the profiled run: rerun"
        )
    averages = prof.key_averages()
    top = sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)
    return {
        "status": "ok",
        "iterations": n,
        "profiled_iterations": n_profiled,
        "plain_ms": 1e3 * plain,
        "wall_ms": 1e3 * profiled,
        "categories": categories,
        # the same total by op name (key_averages), a check on the walk over the events above
        "key_averages_self_ms": sum(e.self_cpu_time_total for e in averages) / 1e3 / n_profiled,
        "event_threads": len(threads),
        "notes": notes,
        "top_ops": [
            {
                "name": e.key,
                "self_ms": e.self_cpu_time_total / 1e3 / n_profiled,
                "calls": e.count / n_profiled,
                "category": torch_category(e.key),
            }
            for e in top[:12]
        ],
    }


# -- the run ----------------------------------------------------------------------------------


def percentages(side: dict[str, Any]) -> dict[str, float]:
    wall = side["wall_ms"]
    return {k: 100 * v / wall for k, v in side["categories"].items()}


def run(config: ProfileConfig, command: str) -> dict[str, Any]:
    """Profile the rows of ``config``; returns the report (a JSON-able dict)."""
    began = time.perf_counter()
    torch, why = load_torch() if config.torch else (None, "left out (--no-torch)")
    threads = config.threads or blas_threads() or os.cpu_count() or 1
    thread_info, limiter = apply_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
        thread_info["torch"] = torch.get_num_threads()
    previous = ng.get_backend()
    rows = []
    try:
        ng.set_backend("numba")
        for spec in model_specs(config.models):
            m = config.batch_size or spec.batch_size
            data = make_data(spec, config.data_size, np.random.default_rng([config.seed, 1]))
            progress(f"model {spec.key} ({spec.title}, m={m}): numgan")
            numgan_side = profile_numgan(spec, m, data, config)
            numgan_side["percent"] = percentages(numgan_side)
            if torch is None:
                torch_side: dict[str, Any] = {"status": "unavailable", "note": why}
            else:
                progress(f"model {spec.key}: PyTorch")
                _, n, n_profiled = config.counts(spec, numgan_side["path"] == "fused step")
                torch_side = profile_torch(spec, m, data, n, n_profiled, config, torch)
                torch_side["percent"] = percentages(torch_side)
            rows.append(
                {
                    "key": spec.key,
                    "title": spec.title,
                    "batch_size": m,
                    "optimizer": spec.optimizer_label(),
                    "numgan": numgan_side,
                    "torch": torch_side,
                }
            )
    finally:
        ng.set_backend(previous)
        if limiter is not None:
            limiter.restore_original_limits()
    config_dict = asdict(config)
    config_dict["json"] = str(config.json) if config.json else None
    machine = machine_info()
    return {
        "benchmark": "where one training iteration's time goes (Algorithm 1, k=1)",
        "command": command,
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "config": config_dict,
        "machine_kind": machine["kind"],
        "machine": machine,
        "threads": thread_info,
        "torch": "ok" if torch is not None else why,
        "labels": LABELS,
        "rows": rows,
        "elapsed_seconds": time.perf_counter() - began,
    }


# -- Markdown ---------------------------------------------------------------------------------


def fmt_ms(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"


def fmt_pct(v: float) -> str:
    return f"{v:.1f}%" if 0 < abs(v) < 1 else f"{v:.0f}%"


def render_row(row: dict[str, Any]) -> list[str]:
    nb, tt = row["numgan"], row["torch"]
    has_torch = tt["status"] == "ok"
    keys = [k for k in LABELS if k in nb["categories"] or (has_torch and k in tt["categories"])]
    tt_iters = "PyTorch not run"
    if has_torch:
        tt_iters = f"PyTorch {tt['iterations']} iterations, {tt['profiled_iterations']} profiled"
    lines = [
        f"### {row['key']} {row['title']}, m = {row['batch_size']}, {row['optimizer']}",
        "",
        f"numgan: {nb['path']}, {nb['iterations']} iterations; {tt_iters}.",
        "",
        "| category | numgan ms/it | numgan % | PyTorch ms/it | PyTorch % |",
        "|---|---:|---:|---:|---:|",
    ]

    def cells(side: dict[str, Any], key: str, ok: bool = True) -> str:
        if not ok or key not in side["categories"]:
            return "- | -"
        return f"{fmt_ms(side['categories'][key])} | {fmt_pct(side['percent'][key])}"

    for k in keys:
        label = LABELS[k]
        if k == "rest" and nb["path"] == "fused step":
            label = "Python and the rest (numgan: around the jitted call)"
        lines.append(f"| {label} | {cells(nb, k)} | {cells(tt, k, has_torch)} |")
    tt_wall = f"**{fmt_ms(tt['wall_ms'])}** | 100%" if has_torch else "- | -"
    tt_plain = f"{fmt_ms(tt['plain_ms'])} |" if has_torch else "- |"
    numgan_how = "with timers" if nb["path"] == "layers" else "plain"
    lines += [
        f"| **iteration** (numgan {numgan_how}, PyTorch profiled) "
        f"| **{fmt_ms(nb['wall_ms'])}** | 100% | {tt_wall} |",
        f"| iteration without timers / profiler | {fmt_ms(nb['plain_ms'])} | | {tt_plain} |",
    ]
    notes = [f"numgan: {note}" for note in nb.get("notes", [])]
    if nb["path"] == "layers":
        notes.append(
            f"numgan: {nb['wrapped_calls_per_iteration']:.0f} timed calls per iteration; "
            f"Dense/Maxout layers {fmt_ms(nb['timed_ms'].get('dense', 0.0))} ms, convolutions "
            f"{fmt_ms(nb['timed_ms'].get('conv', 0.0))} ms; their {nb['products']} products "
            f"alone {fmt_ms(nb['matmul_ms'])} ms; Algorithm 1's {nb['matmul_ceiling_products']} "
            f"products as written (benchmarks/matmul_ceiling.py) {fmt_ms(nb['matmul_ceiling_ms'])}"
            " ms"
        )
    if has_torch:
        notes += [f"PyTorch: {note}" for note in tt["notes"]]
        top = ", ".join(f"{op['name']} {fmt_ms(op['self_ms'])}" for op in tt["top_ops"][:6])
        notes.append(f"PyTorch's largest ops (self ms/it, profiled): {top}")
    elif tt.get("note"):
        notes.append(f"PyTorch: {tt['note']}")
    lines += ["", *(f"- {n}" for n in notes), ""]
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    threads = report["threads"]
    torch_threads = f", PyTorch {threads['torch']}" if "torch" in threads else ""
    event_threads = sorted(
        {r["torch"]["event_threads"] for r in report["rows"] if r["torch"]["status"] == "ok"}
    )
    lines = [
        "## Where one training iteration's time goes",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {report['machine_kind']}; threads: {threads['requested']} requested "
        f"(Numba {threads['numba']}{torch_threads}).",
        "",
        "numgan: Numba backend, timers around each layer's forward and backward and the "
        "optimiser steps; 'matrix products' is the time of the products the layers run, "
        "alone (np.matmul, back to back), 'around the products' the Dense and convolution "
        "layers' time minus that; 'Python and the rest' is the wall time minus every timed "
        "call (the trainer's and Sequential's Python, the loss, sampling, input checks). "
        "Fused rows: the jitted call alone, and the step's time around it.",
        "",
        "PyTorch: self CPU time per op from torch.profiler (wall time on the calling thread, "
        "not summed over intra-op threads), shares of the profiled iteration; 'Python and the "
        "rest' is the profiled wall time minus all the ops' self time (Python, dispatch, the "
        "profiler's own overhead).  The profiler inflates the iteration: compare the last two "
        "lines of each table.",
        "",
    ]
    if event_threads == [1]:
        lines += ["Every PyTorch event was recorded on one thread, the one that called it.", ""]
    elif event_threads:
        lines += [
            f"PyTorch events were recorded on up to {max(event_threads)} threads in a row: "
            "their self times may add up to more than the wall time.",
            "",
        ]
    for row in report["rows"]:
        lines += render_row(row)
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------------


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=prog,
        description="Where the time of one training iteration goes, per benchmark row: "
        "numgan (Numba) by layer kind, PyTorch by profiled op.",
    )
    parser.add_argument(
        "--models",
        type=int_list,
        default=(1, 2, 3, 4),
        help="comma-separated model numbers 1-4 (default all; 2 gives the SGD and Adam rows, "
        "3 the three toy rows)",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="iterations per measurement, both sides (default: per row, ~1-2 s each)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="threads (default: BLAS's current count)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="override every row's batch size m"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and data")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny settings (m=8, a few iterations, no pauses): checks the script runs",
    )
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Parse flags, profile, print the Markdown, write --json if asked."""
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = prog or script_prog()
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        config = ProfileConfig(
            models=args.models,
            iterations=args.iterations,
            threads=args.threads,
            batch_size=args.batch_size,
            seed=args.seed,
            torch=not args.no_torch,
            quick=args.quick,
            json=args.json,
        )
        report = run(config, command=" ".join([prog, *argv]))
        if config.json is not None:
            config.json.parent.mkdir(parents=True, exist_ok=True)
            config.json.write_text(json.dumps(report, indent=2) + "\n")
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError, OSError, FloatingPointError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    print(render_markdown(report), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
