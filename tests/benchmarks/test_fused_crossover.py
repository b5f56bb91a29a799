"""benchmarks/fused_crossover.py: the measurement behind FUSED_MAX_MACS."""

import fused_crossover as fc
import numpy as np
import pytest

from numgan.app.bench import using_backend
from numgan.gan import fused


def rows(*pairs):
    return [{"macs": macs, "ratio": ratio} for macs, ratio in pairs]


def test_crossover_is_the_last_win_before_the_first_loss():
    assert fc.crossover(rows((4096, 3.0), (65536, 1.4), (262144, 0.8))) == (65536, 262144)
    # Measured out of order, and a noisy win past the first loss does not extend the range.
    assert fc.crossover(rows((262144, 0.8), (4096, 3.0), (1 << 20, 1.1))) == (4096, 262144)
    assert fc.crossover(rows((4096, 3.0), (65536, 1.2))) == (65536, None)
    assert fc.crossover(rows((4096, 0.9))) == (None, 4096)


def test_both_paths_are_timed_past_the_limit_which_is_restored(capsys):
    limit = fused.FUSED_MAX_MACS
    width = 72  # 64 * 72 * 72 = 331,776 multiply-adds: above the current limit
    measured = fc.measure([4, width], [64], repeats=1, block_seconds=0.01, sleep=0.0)
    assert fused.FUSED_MAX_MACS == limit
    assert [r["macs"] for r in measured] == [64 * 16, 64 * width * width]
    assert measured[1]["macs"] > limit
    for r in measured:
        assert r["fused"] > 0 and r["layers"] > 0
        assert r["ratio"] == pytest.approx(r["fused"] / r["layers"])
    table = fc.render(measured)
    assert "| 64 x 72 x 72 | 331,776 |" in table
    assert f"current FUSED_MAX_MACS = {limit:,} multiply-adds" in table


def test_the_two_trainers_start_alike_and_take_different_paths():
    with using_backend("numba"), fc.fused_limit(1 << 20):
        a, b = fc.build(8, 16, True), fc.build(8, 16, False)
        assert a.uses_fused and not b.uses_fused
        for net_a, net_b in ((a.gan.G, b.gan.G), (a.gan.D, b.gan.D)):
            np.testing.assert_array_equal(net_a.flat_params, net_b.flat_params)
        # Same seed, same algorithm: after a few iterations they agree to float32 rounding
        # (the tolerance of tests/gan/test_fused.py).
        a.train(3), b.train(3)
        for net_a, net_b in ((a.gan.G, b.gan.G), (a.gan.D, b.gan.D)):
            np.testing.assert_allclose(net_a.flat_params, net_b.flat_params, rtol=1e-4, atol=1e-4)
