"""benchmarks/accumulate_timings.py: dW accumulated in place against the NumPy line."""

from accumulate_timings import gradient_shapes, main

from numgan.kernels import blas


def test_the_shapes_are_the_rows_weight_gradients():
    """Row 2's layer path: D's three layers on 2m = 128 rows (its one pass), G's four on m."""
    shapes = [s[1:] for s in gradient_shapes(("2-sgd",))]
    assert shapes == [
        (128, 256, 1),
        (128, 512, 256),
        (128, 784, 512),
        (64, 1024, 784),
        (64, 512, 1024),
        (64, 256, 512),
        (64, 100, 256),
    ]


def test_a_short_run_prints_the_three_tables(capsys):
    threshold, gemm = blas.IN_PLACE_MIN, blas._GEMM
    code = main(["--repeats", "1", "--block-seconds", "0.001", "--iteration-seconds", "0.01"])
    out = capsys.readouterr().out
    assert (blas.IN_PLACE_MIN, blas._GEMM) == (threshold, gemm)  # both put back
    if not blas.available():
        assert code == 1 and "add_product is the NumPy line here" in out
        return
    assert code == 0 and out.startswith("machine kind: ")
    assert "| 2-sgd | 1024 x 784, 64 rows | " in out
    assert "| 64 x 128 x 128 | 16,384 | " in out
    for row in ("1", "2-sgd", "2-adam"):
        assert f"\n| {row} | " in out.split("Whole iterations")[1]
