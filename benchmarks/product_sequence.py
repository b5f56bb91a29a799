"""How near an iteration's matrix products run to the best this machine's GEMM does, and what
an iteration spends outside them.

    python benchmarks/product_sequence.py [--rows 1,2-sgd,2-adam] [--repeats 9]
        [--block-seconds 1.0] [--iterations 50]

Per row, on the Numba backend and the GEMM it uses (oneMKL where installed), one process:

1. In place: ``Trainer.step()`` with a clock around every ``blas.matmul`` and
   ``blas.add_product`` call (the products of the Dense layers): the iteration, the products'
   time within it, and what is left outside them (the clock itself adds about a microsecond a
   call, a few hundredths of a millisecond an iteration).
2. Back to back: the same calls on the same arrays, in the same order, with nothing between
   them (an operand one call writes and a later one reads stays shared, as in place; the
   trainer is not stepped again after that).
3. Each alone: every call repeated on its own, its operands left in cache by the call before;
   the sum over the iteration's calls.
4. Rates: the products' floating-point operations per second in (1), (2) and (3), against one
   large square product (N x N x N, N = 2048) on the same threads, about the best rate this
   GEMM reaches here.
5. The SGD update's cost in place (SGD rows): the iteration as it is, interleaved with two
   clocks that compute wrong numbers on purpose: a step whose update only adds v to theta
   (what folding v = mu v - lr g into the weight-gradient product would leave of it: no pass
   over g) and a step with no update at all.  Both leave the gradients unzeroed, as numgan's
   own update does not need a zero_grad pass after it.  With oneMKL, a third step does the
   folding itself: each weight-gradient product forms v = mu v - lr x.T dout (GEMM's alpha
   and beta), and the update adds v to theta there and runs numgan's update on the rest (the
   biases, BatchNorm's parameters): the right numbers to float32 rounding, timed to measure
   what building it would gain.

6. The step's fixed cost: the row's step interleaved with the same step on the same layers,
   optimiser, batch and noise with every width but D's one output cut to 8 (``narrowed``),
   on the layer path as the row runs.  Its products and passes are a few hundred numbers
   each, so what it takes is what every call, check, allocation, dispatch and draw costs
   whatever the widths: the most a compiled step with no overhead at all could remove.

(1)-(3) say whether the products themselves have room to go faster, (5) what the update's
memory traffic costs, (6) what the rest of the step's fixed cost is; docs/benchmarks.md reads
the goals of benchmarks/train_speed.py with them.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import time
from collections.abc import Callable
from itertools import pairwise

import numpy as np
from machine import machine_info, machine_kind

from numgan import kernels
from numgan.app.bench import (
    ModelSpec,
    NumganRunner,
    build_trainer,
    model_specs,
    per_round,
    time_calls,
    time_interleaved,
)
from numgan.kernels import blas, threads
from numgan.kernels.flags import jit, jit_parallel, prange
from numgan.kernels.optim import sgd_momentum_nb
from numgan.kernels.threads import PIECE

ROWS = ("1", "2-sgd", "2-adam")
SQUARE = 2048
Call = tuple[Callable, np.ndarray, np.ndarray, np.ndarray]


class Clocked:
    """``blas.matmul`` and ``blas.add_product`` with a clock around each call while in use:
    ``seconds`` adds up, and ``record`` keeps each call (function, A, B, C) once asked."""

    def __init__(self) -> None:
        self.seconds, self.calls, self.record = 0.0, [], False
        self.originals = {"matmul": blas.matmul, "add_product": blas.add_product}

    def _clock(self, name: str):
        product = self.originals[name]

        def clocked(A, B, C):
            began = time.perf_counter()
            product(A, B, C)
            self.seconds += time.perf_counter() - began
            if self.record:
                self.calls.append((product, A, B, C))

        return clocked

    def __enter__(self) -> Clocked:
        for name in self.originals:
            setattr(blas, name, self._clock(name))
        return self

    def __exit__(self, *exc) -> None:
        for name, product in self.originals.items():
            setattr(blas, name, product)


def flops(calls: list[Call]) -> int:
    return sum(2 * A.shape[0] * A.shape[1] * B.shape[1] for _, A, B, _ in calls)


def in_place(trainer, iterations: int, repeats: int) -> tuple[list[Call], float, float]:
    """(one iteration's calls, ms per iteration, ms of products per iteration), medians."""
    with Clocked() as clock:
        clock.record = True
        trainer.step()
        clock.record = False
        rates = []
        for _ in range(repeats):
            clock.seconds = 0.0
            began = time.perf_counter()
            for _ in range(iterations):
                trainer.step()
            rates.append((time.perf_counter() - began, clock.seconds))
    return (
        clock.calls,
        1e3 * statistics.median(t for t, _ in rates) / iterations,
        1e3 * statistics.median(p for _, p in rates) / iterations,
    )


def back_to_back(calls: list[Call], repeats: int, block_seconds: float) -> float:
    def run() -> None:
        for f, A, B, C in calls:
            f(A, B, C)

    return (
        1e-3
        * time_calls({"sequence": run}, repeats=repeats, block_seconds=block_seconds)["sequence"]
    )


def each_alone(calls: list[Call], repeats: int, block_seconds: float) -> float:
    fns = {str(i): (lambda c=c: c[0](*c[1:])) for i, c in enumerate(calls)}
    us = time_calls(fns, repeats=repeats, block_seconds=block_seconds / len(calls))
    return 1e-3 * sum(us.values())


def square_rate(repeats: int, block_seconds: float) -> float:
    """GFLOP/s of one SQUARE^3 float32 product through ``blas.matmul``."""
    rng = np.random.default_rng(0)
    A, B = (rng.normal(size=(SQUARE, SQUARE)).astype(np.float32) for _ in range(2))
    C = np.empty_like(A)
    us = time_calls(
        {"square": lambda: blas.matmul(A, B, C)}, repeats=repeats, block_seconds=block_seconds
    )
    return 2 * SQUARE**3 / us["square"] / 1e3


# -- the update clocks (SGD rows) ------------------------------------------------------------


@jit
def _add_v(theta, v):
    for i in range(theta.size):
        theta[i] += v[i]


@jit_parallel
def _add_v_split(theta, v):
    n = theta.size
    for k in prange((n + PIECE - 1) // PIECE):
        lo, hi = k * PIECE, min(n, (k + 1) * PIECE)
        _add_v(theta[lo:hi], v[lo:hi])


def add_v_only(theta, g, v, lr, mu, zero_g) -> None:
    """theta += v, split as numgan's update is: the passes over theta and v that would remain
    with v formed by the weight-gradient product; g is neither read nor zeroed."""
    theta, v = theta.reshape(-1), v.reshape(-1)
    (_add_v_split if threads.split_updates(theta.size) else _add_v)(theta, v)


def no_update(theta, g, v, lr, mu, zero_g) -> None:
    pass


@jit_parallel
def _folded_update(theta, g, v, lr, mu, lo, hi, folded):
    """Over each piece theta[lo[k]:hi[k]]: theta += v where the product formed v (folded[k]),
    numgan's SGD update (zeroing g) elsewhere."""
    for k in prange(lo.size):
        a, b = lo[k], hi[k]
        if folded[k]:
            _add_v(theta[a:b], v[a:b])
        else:
            sgd_momentum_nb(theta[a:b], g[a:b], v[a:b], lr, mu, True)


def pieces(folded: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, folded) of pieces of at most PIECE elements, none across a change of
    ``folded`` (one flag per parameter)."""
    edges = [0, *(np.flatnonzero(np.diff(folded)) + 1).tolist(), folded.size]
    lo = [a for start, end in pairwise(edges) for a in range(start, end, PIECE)]
    hi = [min(a + PIECE, end) for start, end in pairwise(edges) for a in range(start, end, PIECE)]
    return np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64), folded[lo]


def can_fold() -> bool:
    """Whether the folded step can run: the products through oneMKL's compiled call, its
    symbols bound (blas._link)."""
    return blas.provider() == "mkl" and blas._GEMM is blas._LINKED is not None


class UpdateClock(NumganRunner):
    """``Trainer.step()`` with the SGD kernel (and, folded, the weight-gradient product)
    swapped while it runs."""

    ADD_PRODUCT = staticmethod(blas.add_product)

    def __init__(self, name: str, update, build) -> None:
        super().__init__("numba", build, name)
        self.update, self.add_product = update, self.ADD_PRODUCT

    def activate(self) -> None:
        super().activate()
        kernels.ops.sgd_momentum = self.update
        blas.add_product = self.add_product


class FoldedClock(UpdateClock):
    """The folded step (module docstring, 5).  Which weight gradients a product forms is seen
    in one step first: those below the loop/BLAS crossover keep numgan's path."""

    def __init__(self, build) -> None:
        super().__init__("folded", self._update, build)
        self.add_product = self._add_product
        trainer = self.trainer
        with Clocked() as clock:
            clock.record = True
            trainer.step()
        formed = {C.ctypes.data for f, _, _, C in clock.calls if f is self.ADD_PRODUCT}
        self.into: dict[int, tuple] = {}  # dW's address: (its velocity, its optimiser)
        self.pieces: dict[int, tuple] = {}  # id of flat_params: (lo, hi, folded)
        for net, opt in ((trainer.gan.G, trainer.opt_g), (trainer.gan.D, trainer.opt_d)):
            flat_g, v = net.flat_grads, opt.state["velocity"]
            folded = np.zeros(flat_g.size, bool)
            for dW in (layer.grads["W"] for layer in net.layers if "W" in layer.grads):
                if dW.ctypes.data in formed:
                    at = (dW.ctypes.data - flat_g.ctypes.data) // dW.itemsize
                    folded[at : at + dW.size] = True
                    self.into[dW.ctypes.data] = (v[at : at + dW.size].reshape(dW.shape), opt)
            self.pieces[id(net.flat_params)] = pieces(folded)

    def _add_product(self, A, B, C) -> None:
        into = self.into.get(C.ctypes.data)
        if into is None:
            self.ADD_PRODUCT(A, B, C)
            return
        v, opt = into
        lr, mu = opt._value("lr", opt.t), opt._value("momentum", opt.t)
        if not blas._mkl_gemm(A, B, v, -lr, mu, blas._INT_MAX):
            raise RuntimeError(f"the folded product refused operands {A.shape} @ {B.shape}")

    def _update(self, theta, g, v, lr, mu, zero_g) -> None:
        lo, hi, folded = self.pieces[id(theta)]
        kind = theta.dtype.type
        _folded_update(theta, g, v, kind(lr), kind(mu), lo, hi, folded)


def update_costs(build, repeats: int, block_seconds: float) -> dict[str, float]:
    """ms per iteration of each update clock, and the ratios to the real step per round."""
    runners = [
        UpdateClock(name, update, build)
        for name, update in (
            ("as is", kernels.ops.sgd_momentum),
            ("theta += v", add_v_only),
            ("no update", no_update),
        )
    ]
    if can_fold():
        runners.append(FoldedClock(build))
    try:
        rates = time_interleaved(
            runners, repeats=repeats, block_seconds=block_seconds, sleep=0.0, label="update"
        )
    finally:
        runners[0].activate()
    base = rates["as is"]["samples"]
    out = {}
    for name, res in rates.items():
        out[name] = 1e3 / res["median"]
        out[f"{name} ratio"] = per_round(res["samples"], base)
    return out


def clocks(cost: dict[str, float], name: str) -> str:
    if name not in cost:
        return "needs oneMKL"
    return f"{cost[name]:.2f} ms, {cost[name + ' ratio']:.3f}x"


def narrowed(spec: ModelSpec, width: int = 8) -> ModelSpec:
    """``spec`` with every Dense and BatchNorm width, the noise's and the data's, cut to
    ``width``; a width of 1 (D's output) stays.  The same layers in the same order."""

    def cut(n: int) -> int:
        return n if n == 1 else width

    def layers(specs):
        out = []
        for s in specs:
            if s[0] == "dense":
                out.append(("dense", cut(s[1]), cut(s[2])))
            elif s[0] == "bn":
                out.append(("bn", width))
            elif s[0] in ("conv", "convT", "reshape", "flatten"):
                raise ValueError(f"narrowed: row {spec.key} has a {s[0]} layer; MLP rows only")
            else:
                out.append(s)
        return tuple(out)

    return dataclasses.replace(
        spec, g=layers(spec.g), d=layers(spec.d), noise_dim=cut(spec.noise_dim)
    )


def fixed_cost(spec: ModelSpec, repeats: int, block_seconds: float) -> dict[str, float]:
    """ms per iteration of the row's step and of its narrowed twin (module docstring, 6),
    interleaved, and the narrowed step's share of the row's per round.  Both on the layer
    path, the row's own (row_lines checks), not the fused step the narrowed size allows."""
    runners = [
        NumganRunner("numba", lambda: build_trainer(spec, fused=False), "row"),
        NumganRunner("numba", lambda: build_trainer(narrowed(spec), fused=False), "narrowed"),
    ]
    rates = time_interleaved(
        runners, repeats=repeats, block_seconds=block_seconds, sleep=0.0, label="fixed cost"
    )
    row, small = rates["row"], rates["narrowed"]
    return {
        "row": 1e3 / row["median"],
        "narrowed": 1e3 / small["median"],
        "share": per_round(row["samples"], small["samples"]),
    }


def row_lines(key: str, args) -> tuple[str, str | None, str]:
    """The row's lines of the products' table, of the updates' (SGD rows, else None) and of
    the fixed costs'."""
    spec = next(s for s in model_specs((int(key[0]),)) if s.key == key)

    def build():
        return build_trainer(spec)

    trainer = build()
    if trainer.uses_fused:
        raise ValueError(f"row {key} runs fused: no products to clock")
    for _ in range(10):  # compiled, threads started, buffers in place
        trainer.step()
    calls, iteration, products = in_place(trainer, args.iterations, args.repeats)
    sequence = back_to_back(calls, args.repeats, args.block_seconds)
    alone = each_alone(calls, args.repeats, args.block_seconds)
    gflop = flops(calls) / 1e9
    line = (
        f"| {key} | {len(calls)} | {iteration:.2f} | {products:.2f} ({products / iteration:.0%}) "
        f"| {iteration - products:.2f} | {sequence:.2f} | {alone:.2f} "
        f"| {gflop / products * 1e3:.0f} | {gflop / sequence * 1e3:.0f} "
        f"| {gflop / alone * 1e3:.0f} |"
    )
    fixed = fixed_cost(spec, args.repeats, args.block_seconds)
    fixed_line = (
        f"| {key} | {fixed['row']:.2f} ms | {fixed['narrowed']:.3f} ms | {fixed['share']:.1%} |"
    )
    if spec.optimizer != "sgd":
        return line, None, fixed_line
    cost = update_costs(build, args.repeats, args.block_seconds)
    names = ("theta += v", "no update", "folded")
    update = f"| {key} | {cost['as is']:.2f} ms | " + " | ".join(clocks(cost, n) for n in names)
    return line, update + " |", fixed_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda s: s.split(","), default=list(ROWS))
    parser.add_argument("--repeats", type=int, default=9, help="timed blocks (or runs) of each")
    parser.add_argument("--block-seconds", type=float, default=1.0, help="length of a block")
    parser.add_argument(
        "--iterations", type=int, default=50, help="iterations per in-place measurement"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.rows) - set(ROWS))
    if unknown:
        parser.error(f"--rows: unknown {unknown}; choose from {', '.join(ROWS)}")
    if args.repeats < 1 or args.iterations < 1 or not 0 < args.block_seconds < math.inf:
        parser.error(
            "--repeats and --iterations must be at least 1, --block-seconds a positive number"
        )
    backend = kernels.get_backend()
    kernels.set_backend("numba")
    try:
        print(f"machine kind: {machine_kind(machine_info())}; GEMM: {blas.gemm_name()}")
        rate = square_rate(args.repeats, args.block_seconds)
        print(f"\none {SQUARE} x {SQUARE} x {SQUARE} product: {rate:.0f} GFLOP/s\n")
        print(
            "| row | products | iteration (ms) | products in place (ms) | outside them (ms) "
            "| back to back (ms) | each alone, summed (ms) | GFLOP/s in place "
            "| back to back | alone |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
        updates, fixed = [], []
        for key in args.rows:
            line, update, fixed_line = row_lines(key, args)
            print(line, flush=True)
            updates += [update] if update else []
            fixed.append(fixed_line)
        if updates:
            print(
                "\nThe SGD update in place, ms per iteration and speed against the step as it "
                "is (per round):\n"
            )
            print("| row | as is | theta += v only | no update | folded |")
            print("|---|---:|---:|---:|---:|")
            print("\n".join(updates))
        print(
            "\nThe step's fixed cost: the row's step against the same layers, optimiser and "
            "batch at width 8 (ms per iteration; the narrowed step's share of the row's, per "
            "round):\n"
        )
        print("| row | the row's step | at width 8 | share |")
        print("|---|---:|---:|---:|")
        print("\n".join(fixed))
    finally:
        kernels.set_backend(backend)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
