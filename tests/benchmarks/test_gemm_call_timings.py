"""benchmarks/gemm_call_timings.py: oneMKL's GEMM from compiled code against ctypes."""

import pytest
from gemm_call_timings import main, product_shapes

from numgan.kernels import blas


def test_the_shapes_are_row_2s_products():
    """Row 2's layer path: G's four layers forward on m = 64 rows, D's three on 2m = 128."""
    shapes = product_shapes()
    assert shapes[:4] == [(64, 100, 256), (64, 256, 512), (64, 512, 1024), (64, 1024, 784)]
    assert (128, 784, 512) in shapes and (128, 256, 1) in shapes


def test_a_short_run_prints_both_tables(capsys):
    before, route = blas.provider(), blas._mkl_gemm
    code = main(
        [
            "--repeats", "1", "--block-seconds", "0.001", "--iteration-seconds", "0.01",
            "--rows", "2-sgd",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert (blas.provider(), blas._mkl_gemm) == (before, route)  # both put back
    if blas._found("mkl")[0] is None:
        assert code == 1 and "oneMKL is not installed here" in out
        return
    assert code == 0 and out.startswith("machine kind: ")
    assert "| 4 x 4 = 4 x 4 @ 4 x 4 | " in out
    assert "| 64 x 784 = 64 x 1024 @ 1024 x 784 | " in out
    assert "\n| 2-sgd | " in out.split("Whole iterations")[1]


def test_an_unknown_row_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--rows", "2,9"])
    assert e.value.code == 2
    assert "--rows: unknown ['2', '9']; choose from 1, 2-sgd, 2-adam, 4" in capsys.readouterr().err
