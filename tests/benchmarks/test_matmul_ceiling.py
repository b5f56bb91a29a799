"""The matmul ceiling (benchmarks/matmul_ceiling.py): an iteration's products, counted right."""

import numpy as np
from matmul_ceiling import MatmulCeiling, matmul_products

from numgan.app.bench import flops_per_iteration, model_specs
from numgan.kernels import MATMUL_CROSSOVER, blas

SPECS = {spec.key: spec for spec in model_specs()}


def test_products_add_up_to_the_flop_count():
    for spec in SPECS.values():
        for m in (7, 64):
            products = matmul_products(spec, m)
            assert sum(2 * n * a * b for *_, n, a, b in products) == flops_per_iteration(spec, m)


def test_matmul_products_follow_algorithm_1():
    spec = SPECS["1"]
    products = matmul_products(spec, 100)
    g, d = len(spec.gemms("g")), len(spec.gemms("d"))
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


def test_dcgan_products_are_the_im2col_products_of_its_layers():
    spec, m = SPECS["4"], 64
    # Per layer with a product: (form, M, K, N) of its forward out (M, N) = A (M, K) @ B (K, N).
    assert [(g.form, m * g.rows, g.K, g.N) for g in spec.gemms("g")] == [
        ("dense", 64, 100, 3136),  # z @ W
        ("convT", 64 * 7 * 7, 64, 4 * 4 * 32),  # input pixels as rows @ W as (C_in, k k C_out)
        ("convT", 64 * 14 * 14, 32, 4 * 4 * 1),
    ]
    assert [(g.form, m * g.rows, g.K, g.N) for g in spec.gemms("d")] == [
        ("conv", 64 * 14 * 14, 4 * 4 * 1, 32),  # im2col(x) @ W as (k k C_in, C_out)
        ("conv", 64 * 7 * 7, 4 * 4 * 32, 64),
        ("dense", 64, 3136, 1),
    ]
    products = matmul_products(spec, m)
    assert len(products) == 2 * 3 * 2 + 3 * 3 * 2 + 2 * 3  # fwd, dx, dW as for the MLPs
    assert flops_per_iteration(spec, m) == 2_784_165_888
    ceiling = MatmulCeiling(spec, 4)
    for (net, layer, kind, n, k, width), (a, b, out) in zip(
        matmul_products(spec, 4), ceiling.calls, strict=True
    ):
        expected = {"fwd": (n, width), "dx": (n, k), "dW": (k, width)}[kind]
        conv = spec.gemms(net.lower())[layer].form == "conv"
        if conv and kind == "dW":  # Conv2D forms dW as dout.T @ cols, in W's (C_out, K) shape
            expected = (width, k)
        assert out.shape == expected and a.shape[1] == b.shape[0]
        if conv and kind == "fwd":  # cols @ Wm.T: W stored (C_out, K), read transposed
            assert b.flags.f_contiguous and not b.flags.c_contiguous


def test_every_call_forms_its_product_one_output_dx_included():
    """run() forms each product, the outer products of a one-output layer's dx (np.multiply
    there, as numgan does) included, on every row."""
    for spec in SPECS.values():
        ceiling = MatmulCeiling(spec, 5)
        for _, _, out in ceiling.calls:
            out[...] = np.nan
        ceiling.run(1)
        assert ceiling.outer == {
            i for i, (_, _, kind, *_, N) in enumerate(matmul_products(spec, 5))
            if kind == "dx" and N == 1
        }  # fmt: skip
        assert ceiling.outer, f"row {spec.key}: D ends in one logit"
        for a, b, out in ceiling.calls:
            np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-6)


def test_products_above_the_crossover_take_numgans_gemm():
    """The ceiling forms a product as numgan's Dense layers would: in the GEMM its Numba
    backend calls (blas.matmul) above the loop crossover, by np.matmul below."""
    spec = SPECS["1"]
    ceiling = MatmulCeiling(spec, 100)
    big = 0
    for i, (a, b, _) in enumerate(ceiling.calls):
        form = ceiling._form(i, a, b)
        if i not in ceiling.outer and a.shape[0] * a.shape[1] * b.shape[1] > MATMUL_CROSSOVER:
            assert form is blas.matmul
            big += 1
        else:
            assert form is not blas.matmul
    assert big == len(ceiling.calls) - len(ceiling.outer)  # row 1's products are all large
