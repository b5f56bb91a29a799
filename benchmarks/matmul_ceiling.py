"""The matmul ceiling: an iteration's matrix products alone, back to back.

An iteration of Algorithm 1 cannot run faster than its Dense products; numgan's rate divided by
this one is how close it comes to spending all its time in BLAS.
"""

from __future__ import annotations

import numpy as np

from numgan.app.bench import ModelSpec


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
