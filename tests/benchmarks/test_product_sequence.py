"""benchmarks/product_sequence.py: the products in place, back to back and alone, and the
SGD update's clocks."""

import numpy as np
import pytest
from product_sequence import (
    Clocked,
    FoldedClock,
    add_v_only,
    can_fold,
    in_place,
    main,
    narrowed,
    no_update,
    pieces,
)
from profile_rows import path_products

from numgan import kernels
from numgan.app.bench import build_trainer, model_specs
from numgan.kernels import blas, threads


def spec_of(key):
    return next(s for s in model_specs((int(key[0]),)) if s.key == key)


@pytest.mark.parametrize("key", ["1", "2-sgd"])
def test_the_clock_sees_every_product_blas_runs(key):
    """Every product of the layer path but dx through D's one-column logit layer, which is an
    outer product np.multiply forms (kernels/dense.py, input_grad_blas)."""
    kernels.set_backend("numba")
    spec = spec_of(key)
    trainer = build_trainer(spec, data_size=256)
    calls, iteration, products = in_place(trainer, iterations=1, repeats=1)
    # Each product once (in a layer's backward the layers form dx before dW, path_products
    # lists dW first: compared as sorted lists).  path_products names each product by its
    # layer's forward (M, K, N); as GEMM operands dW = x.T @ dout is (K, M) @ (M, N) and
    # dx = dout @ W.T is (M, N) @ (N, K).
    operands = {"fwd": lambda M, K, N: (M, K, N), "dW": lambda M, K, N: (K, M, N)}
    operands["dx"] = lambda M, K, N: (M, N, K)
    expected = [
        operands[kind](M, K, N)
        for _, _, kind, M, K, N in path_products(trainer, spec, spec.batch_size)
        if not (kind == "dx" and N == 1)
    ]
    seen = [(A.shape[0], A.shape[1], B.shape[1]) for _, A, B, _ in calls]
    assert sorted(seen) == sorted(expected) and len(seen) == len(expected)
    assert 0 < products < iteration


def test_the_clock_puts_blas_back_and_changes_no_number():
    kernels.set_backend("numba")
    before = (blas.matmul, blas.add_product)
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(30, 20)).astype(np.float32), rng.normal(size=(20, 40))
    B = B.astype(np.float32)
    C1, C2 = np.ones((30, 40), np.float32), np.ones((30, 40), np.float32)
    with Clocked() as clock:
        clock.record = True
        blas.add_product(A, B, C1)
    before[1](A, B, C2)
    assert (blas.matmul, blas.add_product) == before
    np.testing.assert_array_equal(C1, C2)
    assert len(clock.calls) == 1 and clock.seconds > 0


@pytest.mark.parametrize("n", [1000, 4 * threads.UPDATE_MIN + 13])
def test_the_add_only_clock_adds_v_and_leaves_g(n):
    rng = np.random.default_rng(1)
    theta, g, v = (rng.normal(size=n).astype(np.float32) for _ in range(3))
    want, g0 = theta + v, g.copy()
    add_v_only(theta, g, v, 0.1, 0.5, True)
    np.testing.assert_array_equal(theta, want)
    np.testing.assert_array_equal(g, g0)
    no_update(theta, g, v, 0.1, 0.5, True)
    np.testing.assert_array_equal(theta, want)


def test_a_short_run_prints_the_table(capsys):
    before = (kernels.get_backend(), kernels.ops.sgd_momentum, blas.matmul, blas.add_product)
    code = main(
        ["--rows", "2-sgd", "--repeats", "1", "--block-seconds", "0.01", "--iterations", "1"]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("machine kind: ")
    assert "| 2-sgd | 27 | " in out
    assert "| row | as is | theta += v only | no update | folded |" in out
    lines = out.splitlines()
    update = lines[lines.index("| row | as is | theta += v only | no update | folded |") + 2]
    assert update.startswith("| 2-sgd | ") and update.count(" ms") == 4 - (not can_fold())
    assert update.endswith(" |" if can_fold() else "| needs oneMKL |")
    assert lines[-3] == "| row | the row's step | at width 8 | share |"
    row, small, share = (float(c.split()[0].rstrip("%")) for c in lines[-1].split("|")[2:5])
    assert lines[-1].startswith("| 2-sgd | ") and 0 < small < row
    # one round: the share per round is the narrowed step's time over the row's (as printed)
    assert share == pytest.approx(100 * small / row, abs=0.1)
    after = (kernels.get_backend(), kernels.ops.sgd_momentum, blas.matmul, blas.add_product)
    assert after == before


@pytest.mark.parametrize("key", ["1", "2-sgd"])
def test_the_narrowed_step_keeps_every_layer_and_cuts_every_width(key):
    spec = spec_of(key)
    small = narrowed(spec)
    for net in ("g", "d"):
        big_layers, small_layers = getattr(spec, net), getattr(small, net)
        assert [s[0] for s in small_layers] == [s[0] for s in big_layers]
        assert [s for s in small_layers if s[0] not in ("dense", "bn")] == [
            s for s in big_layers if s[0] not in ("dense", "bn")
        ]
        for s in small_layers:
            assert s[0] not in ("dense", "bn") or set(s[1:]) <= {1, 8}
    assert small.dense_shapes("d")[-1] == (8, 1) and small.noise_dim == small.data_dim == 8
    assert (small.batch_size, small.optimizer, small.lr) == (
        spec.batch_size,
        spec.optimizer,
        spec.lr,
    )
    trainer = build_trainer(small, data_size=256, fused=False)
    trainer.step()  # it builds and steps: the widths chain
    assert not trainer.uses_fused


def test_narrowing_refuses_convolutions():
    with pytest.raises(ValueError, match="row 4 has a reshape layer; MLP rows only"):
        narrowed(spec_of("4"))


def test_unknown_rows_are_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--rows", "4"])
    assert exc.value.code == 2 and "unknown ['4']" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags",
    [
        ["--repeats", "0"],
        ["--iterations", "0"],
        ["--block-seconds", "0"],
        ["--block-seconds", "inf"],
    ],
)
def test_counts_and_lengths_that_cannot_time_are_refused(flags, capsys):
    with pytest.raises(SystemExit) as exc:
        main(flags)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "--repeats and --iterations must be at least 1, --block-seconds a positive" in err


def test_pieces_cover_every_parameter_once_and_never_straddle_a_change():
    folded = np.zeros(3 * threads.PIECE + 100, bool)
    folded[5 : 2 * threads.PIECE + 7] = True
    lo, hi, flags = pieces(folded)
    assert lo[0] == 0 and hi[-1] == folded.size and np.array_equal(lo[1:], hi[:-1])
    assert np.all(hi - lo <= threads.PIECE) and np.all(hi > lo)
    for a, b, flag in zip(lo, hi, flags, strict=True):
        assert np.all(folded[a:b] == flag)


@pytest.fixture
def mkl(monkeypatch):
    """oneMKL chosen for the test, the process's choice put back after it."""
    if blas._found("mkl")[0] is None:
        pytest.skip("oneMKL is not installed here: the folded step needs it")
    for name in ("_PROVIDER", "_GEMM", "_INT_MAX"):
        monkeypatch.setattr(blas, name, getattr(blas, name))
    blas.use("mkl")


@pytest.mark.parametrize("key", ["1", "2-sgd"])
def test_the_folded_step_trains_as_the_step_does(key, mkl):
    """Momentum formed by the weight-gradient products (alpha = -lr, beta = mu) and theta += v:
    the step's numbers to float32 rounding, every weight matrix folded, its gradient never
    written.  A sign or a factor wrong in alpha or beta moves the parameters by far more."""
    kernels.set_backend("numba")
    assert can_fold()
    spec = spec_of(key)
    plain = build_trainer(spec, data_size=256)
    folded = FoldedClock(lambda: build_trainer(spec, data_size=256))
    plain.step()  # FoldedClock took one step, plain, to see which products form dW
    before = (kernels.ops.sgd_momentum, blas.add_product)
    try:
        folded.activate()
        for _ in range(10):
            folded.trainer.step()
    finally:
        kernels.ops.sgd_momentum, blas.add_product = before
    for _ in range(10):
        plain.step()
    nets = ("G", "D")
    layers = [
        layer for name in nets for layer in getattr(plain.gan, name).layers if "W" in layer.grads
    ]
    assert len(folded.into) == len(layers)  # every Dense weight went through a product
    for name in nets:
        a, b = getattr(plain.gan, name), getattr(folded.trainer.gan, name)
        scale = np.abs(a.flat_params).max()
        np.testing.assert_allclose(b.flat_params, a.flat_params, rtol=0, atol=1e-6 * scale)
        assert not np.array_equal(b.flat_params, a.flat_params)  # another rounding, not a copy
        for layer in b.layers:
            if "W" in layer.grads:
                assert not layer.grads["W"].any()
