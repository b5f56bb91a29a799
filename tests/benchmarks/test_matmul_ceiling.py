"""The matmul ceiling (benchmarks/matmul_ceiling.py): an iteration's products, counted right."""

import numpy as np
from matmul_ceiling import MatmulCeiling, matmul_products

from numgan.app.bench import flops_per_iteration, model_specs

SPECS = {spec.key: spec for spec in model_specs((1, 2, 3))}


def test_products_add_up_to_the_flop_count():
    for spec in SPECS.values():
        for m in (7, 64):
            products = matmul_products(spec, m)
            assert sum(2 * n * a * b for *_, n, a, b in products) == flops_per_iteration(spec, m)


def test_matmul_products_follow_algorithm_1():
    spec = SPECS["1"]
    products = matmul_products(spec, 100)
    g, d = len(spec.dense_shapes("g")), len(spec.dense_shapes("d"))
    count = {(net, kind): 0 for net in "GD" for kind in ("fwd", "dx", "dW")}
    for net, _, kind, *_ in products:
        count[net, kind] += 1
    # G: forward in the D step and in the G step, one backward.  D: forward on real, fake and
    # in the G step; dW only in the D step (twice); dx in all three backward passes.
    assert count == {
        ("G", "fwd"): 2 * g, ("G", "dx"): g, ("G", "dW"): g,
        ("D", "fwd"): 3 * d, ("D", "dx"): 3 * d, ("D", "dW"): 2 * d,
    }  # fmt: skip
    ceiling = MatmulCeiling(spec, 4)
    assert len(ceiling.calls) == len(products)
    for a, b, out in ceiling.calls:
        assert a.shape[1] == b.shape[0] and out.shape == (a.shape[0], b.shape[1])
        assert a.dtype == b.dtype == out.dtype == np.float32
    a, b, out = ceiling.calls[0]
    out[...] = 0
    ceiling.run(1)
    np.testing.assert_allclose(out, a @ b, rtol=1e-6)
