"""benchmarks/pair_timings.py: BatchNorm then LeakyReLU in blocks of rows gives the two layers'
numbers: bit for bit, but for dx in float64, which may differ by a rounding (fastmath lets LLVM
contract its multiply-adds differently where the pair's functions inline numgan's kernels)."""

import numpy as np
import pytest
from pair_timings import (
    PAIRS,
    main,
    operands,
    pair_backward,
    pair_forward,
    two_layers_backward,
    two_layers_forward,
)

# the rows' pairs; a short last block (3001 rows of 3 channels: 1365 rows a block); and, long
# enough to split where numgan's passes split, pieces of 442 rows in blocks of 110 (a short
# block in every piece) and a short last piece (4500 = 10 * 442 + 80)
SHAPES = [shape for _, shape, _, _, _ in PAIRS] + [(3001, 3), (7, 5), (4500, 37)]


def run_both(shape, dtype, alpha, training, pair_alpha=None):
    x, dout, gamma, beta = operands(shape, dtype, seed=1)
    c = shape[1]
    two = [np.empty_like(x) for _ in range(3)] + [np.empty(c, dtype) for _ in range(3)]
    xhat, y, out, s, mean, var = two
    two_layers_forward(x, gamma, beta, 1e-5, alpha, xhat, s, y, mean, var, out)
    pair = [np.empty_like(x) for _ in range(2)] + [np.empty(c, dtype) for _ in range(3)]
    pair_forward(x, gamma, beta, 1e-5, alpha, pair[0], pair[2], pair[1], pair[3], pair[4])
    forward = [xhat, y, s, mean, var], pair
    grads = []
    for fn, a in ((None, alpha), (pair_backward, alpha if pair_alpha is None else pair_alpha)):
        dx = np.empty_like(x)
        dgamma, dbeta = np.full(c, 0.5, dtype), np.full(c, -0.25, dtype)  # accumulating
        if fn is None:
            d = np.empty_like(x)
            from numgan.kernels.elementwise import leaky_relu_backward_serial_or_split
            from numgan.kernels.norm import batchnorm_backward_serial_or_split

            if training:
                two_layers_backward(dout, y, a, xhat, s, gamma, dx, dgamma, dbeta, d)
            else:
                leaky_relu_backward_serial_or_split(dout, y, a, d)
                batchnorm_backward_serial_or_split(
                    d, xhat, s, gamma, dx, dgamma, dbeta, False, True
                )
        else:
            fn(dout, y, a, xhat, s, gamma, dx, dgamma, dbeta, training, True)
        grads.append([dx, dgamma, dbeta])
    return forward, grads


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha", [0.0, 0.2])
@pytest.mark.parametrize("training", [True, False])
def test_the_pair_gives_the_two_layers_numbers(shape, dtype, alpha, training):
    (two, pair), (two_grads, pair_grads) = run_both(shape, dtype, alpha, training)
    for a, b in zip(two, pair, strict=True):  # xhat, y, s, mean, var
        assert np.array_equal(a, b)
    (dx, *params), (pair_dx, *pair_params) = two_grads, pair_grads
    for a, b in zip(params, pair_params, strict=True):  # dgamma, dbeta
        assert np.array_equal(a, b)
    if dtype == np.float32:
        assert np.array_equal(dx, pair_dx)
    else:  # within two roundings of the largest value
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(pair_dx, dx, rtol=0, atol=2 * eps * np.abs(dx).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_comparison_sees_a_wrong_slope(dtype):
    """The control: a pair whose backward takes alpha 1% off is caught, by the float64
    tolerance too."""
    _, (two_grads, pair_grads) = run_both((64, 256), dtype, 0.2, True, pair_alpha=0.202)
    eps = np.finfo(dtype).eps
    assert np.abs(pair_grads[0] - two_grads[0]).max() > 2 * eps * np.abs(two_grads[0]).max()


def test_the_pair_refuses_c_order_images():
    x = np.zeros((4, 3, 5), np.float32)
    c = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"\(N, C, 1\) only"):
        pair_forward(x, c, c, 1e-5, 0.2, x.copy(), c.copy(), x.copy(), c.copy(), c.copy())
    with pytest.raises(ValueError, match=r"\(N, C, 1\) only"):
        pair_backward(x, x, 0.2, x, c, c, x.copy(), c.copy(), c.copy(), True, True)


def test_a_short_run_prints_both_tables(capsys):
    assert main(["--repeats", "1", "--block-seconds", "0.01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine kind: ")
    for _, (n, c), _, _, _ in PAIRS:
        assert f" | {n} x {c} | " in out
    lines = out.splitlines()
    assert lines[-3] == "|---|---:|---:|---:|" and lines[-2].startswith("| 2-sgd, 2-adam | ")
    assert lines[-1].startswith("| 4 | ")


@pytest.mark.parametrize("flags", [["--repeats", "0"], ["--block-seconds", "inf"]])
def test_counts_and_lengths_that_cannot_time_are_refused(flags, capsys):
    with pytest.raises(SystemExit) as exc:
        main(flags)
    assert exc.value.code == 2
    assert (
        "--repeats must be at least 1, --block-seconds a positive number" in capsys.readouterr().err
    )
