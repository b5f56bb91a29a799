"""benchmarks/fused_timings.py: the fused step's layout and Generator hand-over, timed."""

import numpy as np
from fused_timings import SHAPES, _batch_major, _feature_major, main


def test_both_layouts_compute_the_same_layer():
    """What the script times side by side is the same arithmetic in two layouts."""
    rng = np.random.default_rng(0)
    for n, k, d in SHAPES:
        x, W, b = (rng.normal(size=s) for s in ((n, k), (k, d), (d,)))
        dout = rng.normal(size=(n, d))
        out, dx, dW, db = np.empty((n, d)), np.empty((n, k)), np.zeros((k, d)), np.zeros(d)
        _batch_major(x, W, b, out, dout, dx, dW, db, np.empty(k * d), 1)
        outT, dxT, dWt, dbt = np.empty((d, n)), np.empty((k, n)), np.zeros((k, d)), np.zeros(d)
        _feature_major(x.T.copy(), W, b, outT, dout.T.copy(), dxT, dWt, dbt, 1)
        for a, ref in ((outT.T, out), (dxT.T, dx), (dWt, dW), (dbt, db)):
            np.testing.assert_allclose(a, ref, rtol=1e-12, atol=1e-12)


def test_a_short_run_prints_both_tables(capsys):
    assert main(["--repeats", "1", "--block-seconds", "0.001"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine kind: ")
    for n, k, d in SHAPES:
        assert f"| {n} x {k} x {d} | " in out
    assert "| the Generator | " in out and "| a GeneratorRef holding it | " in out
