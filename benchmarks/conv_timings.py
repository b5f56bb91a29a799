"""The dcgan preset's convolutions: each conv kernel against its NumPy twin, and each whole
layer on numgan's two backends against PyTorch on the CPU.

    python benchmarks/conv_timings.py [--repeats N] [--threads N] [--block-seconds S] [--sleep S]

The four layers are those of ``numgan train --model dcgan`` on 28x28 images, batch 64, float32:
D's Conv2D(1, 32) on 28x28 and Conv2D(32, 64) on 14x14, G's ConvTranspose2D(64, 32) on 7x7 and
ConvTranspose2D(32, 1) on 14x14, all with 4x4 kernels, stride 2, padding 1.

- Kernels: im2col, col2im, the bias pass, the channel sums and nchw_to_rows as each layer calls
  them (its shapes, its pass, its inputs' layouts in the network), ``Kernels("numba")`` against
  ``Kernels("numpy")`` on the same inputs.
- Layers: ``forward`` and ``forward`` + ``backward`` (dx, dW and db) on the numba backend, on the
  numpy backend, and in PyTorch (``torch.nn.functional.conv2d`` / ``conv_transpose2d`` with
  autograd on, the same weights), with the same thread count for numgan's BLAS and PyTorch.

Before timing, every kernel's two forms and every layer's three versions are run once on the
same inputs and compared (float32 tolerance).  Timing: each contender is calibrated to blocks
of about ``--block-seconds``; each repeat then times one block of every contender of a row, in
an order rotated from repeat to repeat, so that drifts of a shared machine hit all contenders
alike.  The figures are medians over the repeats, per call; a ratio is taken between the blocks
of one repeat, then its median over the repeats.  Each layer block waits ``--sleep`` seconds
first: after a product OpenBLAS's threads spin for about 0.12 s here (PyTorch's OpenMP threads
for about 0.05 s), and spinning on the second core they slowed a two-thread PyTorch block that
followed a numgan one four- to fivefold.  The kernels are serial code and need no pause.

PyTorch is optional: without it, its columns say why.  docs/kernels.md quotes a run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from machine import machine_info
from torch_twin import load_torch
from train_speed import script_prog

from numgan import kernels
from numgan.app.bench import (
    Runner,
    apply_threads,
    blas_threads,
    progress,
    time_interleaved,
    using_backend,
)
from numgan.app.parser import OneLineParser
from numgan.kernels import Kernels
from numgan.kernels.conv import out_size
from numgan.nn import Conv2D, ConvTranspose2D

BATCH = 64
KERNEL, STRIDE, PADDING = 4, 2, 1
#: agreement: max |a - reference| / max |reference| over each array, in float32
TOLERANCE = 1e-4
NAMES = {"numba": "Numba", "numpy": "NumPy", "torch": "PyTorch"}


@dataclass(frozen=True)
class ConvLayer:
    """One convolution of the dcgan preset: ``name``, kind, channels and the input's side."""

    name: str
    transposed: bool
    c_in: int
    c_out: int
    side: int

    @property
    def out_side(self) -> int:
        if self.transposed:
            return (self.side - 1) * STRIDE - 2 * PADDING + KERNEL
        return out_size(self.side, KERNEL, STRIDE, PADDING)

    @property
    def label(self) -> str:
        kind = "ConvTranspose2D" if self.transposed else "Conv2D"
        return f"{self.name} {kind}({self.c_in}, {self.c_out}) {self.side}x{self.side}"

    def build(self, rng: np.random.Generator) -> Conv2D | ConvTranspose2D:
        cls = ConvTranspose2D if self.transposed else Conv2D
        return cls(
            self.c_in,
            self.c_out,
            KERNEL,
            stride=STRIDE,
            padding=PADDING,
            init="normal",
            scale=0.02,
            rng=rng,
        )


LAYERS = (
    ConvLayer("D1", False, 1, 32, 28),
    ConvLayer("D2", False, 32, 64, 14),
    ConvLayer("G1", True, 64, 32, 7),
    ConvLayer("G2", True, 32, 1, 14),
)


def uniform(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-1, 1, size=shape).astype(np.float32)


# -- the kernels, as each layer calls them ---------------------------------------------------


@dataclass(frozen=True)
class Out:
    """An output argument of a kernel: a fresh zeroed float32 array of this shape per call set."""

    shape: tuple[int, ...]


@dataclass
class KernelCall:
    """One kernel call of one layer: the kernel's name in Kernels, where the layer calls it,
    and its arguments, inputs shared by both kernel sets and each output an ``Out``."""

    layer: ConvLayer
    kernel: str
    step: str
    args: tuple

    @property
    def shapes(self) -> str:
        """The first input array's shape -> the first output's."""
        first = next(a for a in self.args if isinstance(a, np.ndarray))
        dims = ("x".join(map(str, a.shape)) for a in (first, self.outputs()[0]))
        return " -> ".join(dims)

    def outputs(self, args: tuple | None = None) -> list:
        """The output arguments of ``args`` (default: their ``Out`` specifications)."""
        args = self.args if args is None else args
        return [a for a, spec in zip(args, self.args, strict=True) if isinstance(spec, Out)]

    def fresh_args(self) -> tuple:
        return tuple(np.zeros(a.shape, np.float32) if isinstance(a, Out) else a for a in self.args)

    def call(self, k: Kernels) -> Callable[[], Any]:
        """k's form of the kernel on one fixed set of arguments, ready to be called."""
        fn, args = getattr(k, self.kernel), self.fresh_args()
        return lambda: fn(*args)

    def results(self, k: Kernels) -> dict[int, np.ndarray]:
        """The outputs of one call of k's form, by position."""
        args = self.fresh_args()
        getattr(k, self.kernel)(*args)
        return dict(enumerate(self.outputs(args)))


def kernel_calls(layer: ConvLayer, rng: np.random.Generator, batch: int) -> list[KernelCall]:
    """The kernels a layer calls, with its shapes, in the order of its two passes, given its
    inputs as the dcgan preset hands them on: channels last from a convolution (through
    BatchNorm and an activation), in C order from G's Reshape (G1's input); with one channel
    the two are the same."""
    N, k, s, p = batch, KERNEL, STRIDE, PADDING
    c_in, c_out, h, ho = layer.c_in, layer.c_out, layer.side, layer.out_side
    x, dout = uniform(rng, N, h, h, c_in), uniform(rng, N, ho, ho, c_out)  # channels last
    zeros = np.zeros(c_in, np.float32)
    if not layer.transposed:
        # forward: cols = im2col(x); y = cols @ Wm.T; add_bias(y, b); out = y, a view
        # backward: dy = dout's rows, a view; db += their column sums; dx = col2im(dy @ Wm)
        rows, K = N * ho * ho, k * k * c_in
        dcols = uniform(rng, rows, K)
        steps = [
            ("im2col", "forward", (x, k, k, s, s, p, p, Out((rows, K)))),
            ("add_bias", "forward", (Out((rows, c_out)), uniform(rng, c_out))),
            ("add_channel_sums", "backward, db", (Out((c_out,)), dout.reshape(rows, c_out))),
            ("col2im", "backward", (dcols, k, k, s, s, p, p, Out(x.shape), zeros)),
        ]
    else:
        # forward: xr = x's rows (a view, or nchw_to_rows of a C-ordered x); cols = xr @ Wm;
        #   out = col2im(cols) + b
        # backward: db += the column sums of dout's rows; dcols = im2col(dout);
        #   dx = dcols @ Wm.T, a view
        rows, K = N * h * h, k * k * c_out
        cols = uniform(rng, rows, K)
        steps = [
            ("col2im", "forward, + b", (cols, k, k, s, s, p, p, Out(dout.shape), dout[0, 0, 0])),
            ("add_channel_sums", "backward, db", (Out((c_out,)), dout.reshape(-1, c_out))),
            ("im2col", "backward", (dout, k, k, s, s, p, p, Out((rows, K)))),
        ]
        if layer.name == "G1":  # its input comes from G's Reshape, in C order
            x_nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
            transpose = (x_nchw, Out((rows, c_in)), Out((c_in,)), False)
            steps.insert(0, ("nchw_to_rows", "forward", transpose))
    return [KernelCall(layer, kernel, step, args) for kernel, step, args in steps]


# -- the whole layers ------------------------------------------------------------------------


def _channels_last_copy(a: np.ndarray) -> np.ndarray:
    """a's values, stored channels last (the same shape)."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


class LayerCase:
    """One layer with fixed weights and inputs, runnable in numgan and in PyTorch."""

    def __init__(
        self, layer: ConvLayer, rng: np.random.Generator, batch: int, torch: Any | None
    ) -> None:
        self.layer = layer
        self.net = layer.build(rng)
        n, o = layer.side, layer.out_side
        self.x = uniform(rng, batch, layer.c_in, n, n)
        self.dout = uniform(rng, batch, layer.c_out, o, o)
        # numgan's layer gets the layouts it meets in the network (kernel_calls): channels
        # last, but G1's input in C order; PyTorch its default, C order (channels_last memory
        # was slower for it: docs/benchmarks.md)
        self.x_numgan = self.x if layer.name == "G1" else _channels_last_copy(self.x)
        self.dout_numgan = _channels_last_copy(self.dout)
        self.torch = torch
        if torch is not None:
            self.tx = torch.from_numpy(self.x).requires_grad_()
            self.tW = torch.from_numpy(self.net.params["W"].copy()).requires_grad_()
            self.tb = torch.from_numpy(self.net.params["b"].copy()).requires_grad_()
            self.tdout = torch.from_numpy(self.dout)
            F = torch.nn.functional
            self.conv = F.conv_transpose2d if layer.transposed else F.conv2d

    def numgan_forward(self) -> np.ndarray:
        return self.net.forward(self.x_numgan)

    def numgan_forward_backward(self) -> dict[str, np.ndarray]:
        out = self.net.forward(self.x_numgan)
        dx = self.net.backward(self.dout_numgan)
        return {"out": out, "dx": dx, "dW": self.net.grads["W"], "db": self.net.grads["b"]}

    def torch_forward(self) -> Any:
        return self.conv(self.tx, self.tW, self.tb, stride=STRIDE, padding=PADDING)

    def torch_forward_backward(self) -> dict[str, Any]:
        out = self.torch_forward()
        dx, dW, db = self.torch.autograd.grad(out, (self.tx, self.tW, self.tb), self.tdout)
        return {"out": out, "dx": dx, "dW": dW, "db": db}

    def results(self, version: str) -> dict[str, np.ndarray]:
        """out, dx, dW and db of one forward + backward of ``version`` (numba, numpy, torch)."""
        if version == "torch":
            return {k: v.detach().numpy() for k, v in self.torch_forward_backward().items()}
        with using_backend(version):
            self.net.zero_grad()
            return {k: v.copy() for k, v in self.numgan_forward_backward().items()}


def max_rel(got: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> tuple[float, str]:
    """The largest max |got - ref| / max |ref| over the arrays, and which array it is."""
    diffs = {
        k: float(np.max(np.abs(got[k] - ref[k])) / max(float(np.max(np.abs(ref[k]))), 1e-30))
        for k in ref
    }
    worst = max(diffs, key=diffs.get)
    return diffs[worst], worst


# -- timing ----------------------------------------------------------------------------------


class Call(Runner):
    """``fn`` called n times, on numgan backend ``backend`` (set before each block)."""

    def __init__(self, name: str, fn: Callable[[], Any], backend: str | None = None) -> None:
        self.name, self.fn, self.backend = name, fn, backend

    def activate(self) -> None:
        if self.backend is not None:
            kernels.set_backend(self.backend)

    def run(self, n: int) -> None:
        fn = self.fn
        for _ in range(n):
            fn()


def timed(runners: list[Call], label: str, timing: dict[str, Any]) -> dict[str, float]:
    """Each runner's median seconds per call over interleaved repeats, and the ratios of Numba's
    time to the others' ("numba/numpy", "numba/torch").

    A ratio is taken between the blocks of one repeat, which run within a fraction of a second,
    then the median over the repeats: it holds up when the shared machine's speed changes
    between repeats, which moves each contender's median on its own.
    """
    rates = time_interleaved(runners, label=label, **timing)
    seconds = {name: [1 / r for r in res["samples"]] for name, res in rates.items()}
    row = {name: statistics.median(s) for name, s in seconds.items()}
    for other in [name for name in seconds if name != "numba"]:
        pairs = zip(seconds["numba"], seconds[other], strict=True)
        row[f"numba/{other}"] = statistics.median(a / b for a, b in pairs)
    return row


def run(
    *,
    repeats: int = 31,
    threads: int | None = None,
    block_seconds: float = 0.02,
    sleep: float = 0.2,
    layers: tuple[ConvLayer, ...] = LAYERS,
    batch: int = BATCH,
    command: str = "python benchmarks/conv_timings.py",
) -> dict[str, Any]:
    """Check, then time, the kernels and layers; returns the report that ``render`` prints."""
    began, load_before = time.perf_counter(), os.getloadavg()
    torch, torch_missing = load_torch()
    threads = threads or blas_threads() or os.cpu_count() or 1
    previous_backend = kernels.get_backend()
    torch_threads = torch.get_num_threads() if torch is not None else None
    thread_info, limiter = apply_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
        thread_info["torch"] = torch.get_num_threads()
    timing = {"repeats": repeats, "block_seconds": block_seconds, "sleep": sleep}
    serial = timing | {"sleep": 0.0}  # the kernels: no thread pools to let settle
    numba, numpy = Kernels("numba"), Kernels("numpy")
    report: dict[str, Any] = {
        "command": command,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "threads": thread_info,
        "torch_missing": torch_missing,
        "timing": timing,
        "batch": batch,
        "agreement": [],
        "kernels": [],
        "layers": [],
    }
    try:
        for layer in layers:
            rng = np.random.default_rng(0)
            calls = kernel_calls(layer, rng, batch)
            case = LayerCase(layer, rng, batch, torch)

            # Agreement, once: each kernel's two forms, then the layer's versions.
            agree = report["agreement"]
            for c in calls:
                diff, _ = max_rel(c.results(numba), c.results(numpy))
                agree.append(
                    {"what": f"{layer.name} {c.kernel}", "vs": "Numba vs NumPy", "max_rel": diff}
                )
            reference = "torch" if torch is not None else "numpy"
            ref = case.results(reference)
            for version in [v for v in ("numba", "numpy") if v != reference]:
                diff, worst = max_rel(case.results(version), ref)
                vs = f"{NAMES[version]} vs {NAMES[reference]}"
                agree.append({"what": f"{layer.name} layer, {worst}", "vs": vs, "max_rel": diff})

            for c in calls:
                label = f"{layer.name} {c.kernel}"
                runners = [Call("numba", c.call(numba)), Call("numpy", c.call(numpy))]
                times = timed(runners, label, serial)
                report["kernels"].append(
                    {"layer": layer.label, "kernel": c.kernel, "step": c.step, "shapes": c.shapes}
                    | times
                )

            for step in ("forward", "forward + backward"):
                both = step != "forward"
                numgan_fn = case.numgan_forward_backward if both else case.numgan_forward
                runners = [Call("numba", numgan_fn, "numba"), Call("numpy", numgan_fn, "numpy")]
                if torch is not None:
                    torch_fn = case.torch_forward_backward if both else case.torch_forward
                    runners.append(Call("torch", torch_fn))
                times = timed(runners, f"{layer.name} {step}", timing)
                report["layers"].append({"layer": layer.label, "step": step} | times)
    finally:
        kernels.set_backend(previous_backend)
        if limiter is not None:
            limiter.restore_original_limits()
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
    report["load"] = (load_before, os.getloadavg())
    report["elapsed_seconds"] = time.perf_counter() - began
    return report


# -- the report ------------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    """Seconds per call in us below a millisecond, else in ms, to about three digits."""
    if seconds is None:
        return "n/a"
    us = seconds * 1e6
    if us < 10:
        return f"{us:.2f} us"
    if us < 100:
        return f"{us:.1f} us"
    if us < 1000:
        return f"{us:.0f} us"
    return f"{us / 1000:.{2 if us < 1e4 else 1 if us < 1e5 else 0}f} ms"


def machine_line(report: dict[str, Any]) -> str:
    m = report["machine"]
    cpu = (m.get("lscpu") or {}).get("Model name", "unknown CPU")
    blas = m.get("numpy_blas") or {}
    load = ", ".join(f"{a:.2f} -> {b:.2f}" for a, b in zip(*report["load"], strict=True))
    return (
        f"{report['date']}, {cpu}, {m.get('nproc')} CPUs ({' '.join(m.get('simd', []))}), "
        f"Python {m['python']}, NumPy {m['numpy']} ({blas.get('name', '?')} "
        f"{blas.get('version', '')}), Numba {m.get('numba')}, torch {m.get('torch')}, "
        f"numgan {m['numgan']}; load average (1, 5, 15 min) before -> after: {load}"
    )


def render(report: dict[str, Any]) -> str:
    t = report["timing"]
    threads = report["threads"]["requested"]
    torch_note = report["torch_missing"] or f"{report['threads'].get('torch')} threads"
    lines = [
        "## Convolutions of the dcgan preset: numgan (Numba, NumPy) and PyTorch",
        "",
        f"- machine: {machine_line(report)}",
        f"- command: `{report['command']}`",
        f"- float32, batch {report['batch']}, 4x4 kernels, stride 2, padding 1; median per "
        f"call over {t['repeats']} interleaved repeats (blocks of ~{t['block_seconds']} s, "
        f"{t['sleep']} s pause before each layer block); {threads} thread(s) for numgan's BLAS, "
        f"PyTorch: {torch_note}; {report['elapsed_seconds']:.0f} s in all",
        "- ratios: Numba's time over the other's, in the same repeat, median over the repeats "
        "(below 1, Numba is faster)",
        "",
        "### Kernels: Numba against its NumPy twin",
        "",
        "| layer | kernel (pass) | shapes | Numba | NumPy | Numba / NumPy |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in report["kernels"]:
        lines.append(
            f"| {r['layer']} | {r['kernel']} ({r['step']}) | {r['shapes']} | "
            f"{fmt_time(r['numba'])} | {fmt_time(r['numpy'])} | {r['numba/numpy']:.2f} |"
        )
    lines += [
        "",
        "### Layers: numgan's two backends and PyTorch",
        "",
        "| layer | pass | Numba | NumPy | PyTorch | Numba / NumPy | Numba / PyTorch |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["layers"]:
        torch_time = r.get("torch")
        vs_torch = f"{r['numba/torch']:.2f}" if torch_time else "n/a"
        lines.append(
            f"| {r['layer']} | {r['step']} | {fmt_time(r['numba'])} | {fmt_time(r['numpy'])} | "
            f"{fmt_time(torch_time) if torch_time else 'no torch'} | "
            f"{r['numba/numpy']:.2f} | {vs_torch} |"
        )
    if report["torch_missing"]:
        lines += ["", f"PyTorch columns empty: {report['torch_missing']}"]
    worst = max(report["agreement"], key=lambda a: a["max_rel"])
    failed = [a for a in report["agreement"] if a["max_rel"] > TOLERANCE]
    lines += [
        "",
        f"Agreement checked before timing ({len(report['agreement'])} comparisons, max |diff| / "
        f"max |reference| per array, tolerance {TOLERANCE:g}): "
        + (
            f"all agree, worst {worst['max_rel']:.1e} ({worst['what']}, {worst['vs']})"
            if not failed
            else "**FAILED**: "
            + "; ".join(f"{a['what']} {a['vs']} {a['max_rel']:.1e}" for a in failed)
        ),
    ]
    return "\n".join(lines) + "\n"


def agreement_ok(report: dict[str, Any]) -> bool:
    return all(a["max_rel"] <= TOLERANCE for a in report["agreement"])


# -- command line ----------------------------------------------------------------------------


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"expected seconds in [0, 60], got {text!r}")
    return value


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=prog,
        description="Time the dcgan preset's convolution kernels (Numba against NumPy) and "
        "layers (numgan's two backends against PyTorch on the CPU).",
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=31,
        help="interleaved repeats, whose median is reported (31)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="threads for numgan's BLAS and for PyTorch (default: BLAS's current count)",
    )
    parser.add_argument(
        "--block-seconds", type=seconds, default=0.02, help="length of one timed block (0.02)"
    )
    parser.add_argument(
        "--sleep", type=seconds, default=0.2, help="pause before each layer block, seconds (0.2)"
    )
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Print the tables; exit status 1 if an agreement check failed."""
    argv = sys.argv[1:] if argv is None else argv
    prog = prog or script_prog()
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    report = run(
        repeats=args.repeats,
        threads=args.threads,
        block_seconds=args.block_seconds,
        sleep=args.sleep,
        command=" ".join([prog, *argv]),
    )
    print(render(report), end="")
    if not agreement_ok(report):
        progress("AGREEMENT CHECK FAILED: the timings compare different computations")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
