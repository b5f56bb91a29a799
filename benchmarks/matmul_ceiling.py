"""The matmul ceiling: an iteration's matrix products alone, back to back.

An iteration of Algorithm 1 cannot run faster than its matrix products: the Dense layers', and
a convolution's one product in its im2col form (numgan/nn/conv.py).  numgan's rate divided by
this one is how close it comes to spending all its time in BLAS; one minus it is the share of
the iteration spent outside the products (im2col, col2im, layouts, activations, BatchNorm, the
optimiser, Python).
"""

from __future__ import annotations

import numpy as np

from numgan.app.bench import ModelSpec
from numgan.kernels import MATMUL_CROSSOVER, blas

Product = tuple[str, int, str, int, int, int]  # (net, layer, kind, M, K, N)


def matmul_products(spec: ModelSpec, m: int) -> list[Product]:
    """The matrix products of one iteration, in order: (net, layer, kind, M, K, N).

    ``layer`` counts the net's layers with a product (Dense, Conv2D, ConvTranspose2D) from 0.
    With the layer's forward out (M, N) = A (M, K) @ B (K, N) (see Gemm; for a Dense layer
    M = m, K = D_in, N = D_out): kind "fwd" is A @ B, "dx" is dout @ B.T, "dW" is A.T @ dout.
    D step: G forward, D forward and backward (dW and dx) on the real batch, then on the fake
    batch.  G step: G forward, D forward, D backward for dx only, G backward (dW and dx).
    """
    shapes = {"G": list(enumerate(spec.gemms("g"))), "D": list(enumerate(spec.gemms("d")))}

    def fwd(net: str) -> list[Product]:
        return [(net, i, "fwd", m * g.rows, g.K, g.N) for i, g in shapes[net]]

    def bwd(net: str, params: bool) -> list[Product]:
        kinds = ("dW", "dx") if params else ("dx",)
        return [(net, i, k, m * g.rows, g.K, g.N) for i, g in reversed(shapes[net]) for k in kinds]

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


class MatmulCeiling:
    """The iteration's matrix products alone (float32, formed by ``numgan.kernels.blas.matmul``,
    the GEMM numgan's Numba backend calls, for a convolution's and for a Dense layer's above
    MATMUL_CROSSOVER; by np.matmul for a Dense layer's below it; for a one-output layer's dx,
    an outer product, np.multiply as numgan forms it), back to back, with the
    operand layouts numgan's layers use: a Dense or ConvTranspose2D layer multiplies
    by its weight matrix B (K, N) as stored; a Conv2D layer stores W as (N, K), multiplies by
    its transpose and forms dW as dout.T @ A (numgan/nn/conv.py).

    ``products``: another list in ``matmul_products``' form (benchmarks/profile_rows.py passes
    the products numgan's fast path runs, D's on 2m rows); operands are kept per (network,
    layer, rows)."""

    def __init__(
        self, spec: ModelSpec, m: int, seed: int = 0, products: list | None = None
    ) -> None:
        rng = np.random.default_rng([seed, 3])

        def arr(*shape: int) -> np.ndarray:
            return (rng.standard_normal(shape) * 0.1).astype(np.float32)

        forms = {
            "G": {i: g.form for i, g in enumerate(spec.gemms("g"))},
            "D": {i: g.form for i, g in enumerate(spec.gemms("d"))},
        }
        buffers: dict[tuple[str, int, int], dict[str, np.ndarray]] = {}
        self.calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.outer: set[int] = set()  # the calls that are outer products
        self.conv: set[int] = set()  # a convolution's calls: ops.matmul at every size
        for net, layer, kind, M, K, N in matmul_products(spec, m) if products is None else products:
            conv = forms[net][layer] == "conv"
            if (net, layer, M) not in buffers:
                buffers[(net, layer, M)] = {
                    "A": arr(M, K),
                    "B": arr(N, K).T if conv else arr(K, N),
                    "dout": arr(M, N),
                    "out": arr(M, N),
                    "dA": arr(M, K),
                    "dB": arr(N, K) if conv else arr(K, N),
                }
            buf = buffers[(net, layer, M)]
            if conv:
                self.conv.add(len(self.calls))
            if kind == "fwd":
                self.calls.append((buf["A"], buf["B"], buf["out"]))
            elif kind == "dx" and N == 1 and not conv:
                # a one-output layer's dx is an outer product: formed as numgan forms it
                # (numgan.kernels.dense.input_grad_blas), np.matmul's own loop is 3.5-18x slower
                self.outer.add(len(self.calls))
                self.calls.append((buf["dout"], buf["B"].T, buf["dA"]))
            elif kind == "dx":
                self.calls.append((buf["dout"], buf["B"].T, buf["dA"]))
            elif conv:
                self.calls.append((buf["dout"].T, buf["A"], buf["dB"]))
            else:
                self.calls.append((buf["A"].T, buf["dout"], buf["dB"]))

    def run(self, n: int) -> None:
        forms = [self._form(i, a, b) for i, (a, b, _) in enumerate(self.calls)]
        calls = list(zip(forms, self.calls, strict=True))
        for _ in range(n):
            for form, (a, b, out) in calls:
                form(a, b, out)

    def _form(self, i: int, a: np.ndarray, b: np.ndarray):
        """How call i forms its product: np.multiply for an outer product; the GEMM numgan's
        Numba backend calls (blas.matmul) for a convolution's, and for a Dense layer's above
        the crossover, where the layer calls BLAS; below it np.matmul, whose cost per call is
        the least BLAS's."""
        if i in self.outer:
            return lambda a, b, out: np.multiply(a, b, out=out)
        if i not in self.conv and a.shape[0] * a.shape[1] * b.shape[1] <= MATMUL_CROSSOVER:
            return lambda a, b, out: np.matmul(a, b, out=out)
        return blas.matmul
