"""benchmarks/blas_choice.py: numgan with oneMKL's GEMM against NumPy's OpenBLAS."""

import pytest
from blas_choice import main

from numgan.kernels import blas


def test_a_short_run_times_both_gemms_and_puts_the_choice_back(capsys):
    before = blas.provider()
    code = main(["--rows", "3,4", "--repeats", "1", "--block-seconds", "0.001", "--sleep", "0"])
    out = capsys.readouterr().out
    assert blas.provider() == before
    if blas._found("mkl")[0] is None:
        assert code == 1 and "oneMKL was not found (pip install mkl)" in out
        return
    assert code == 0 and out.startswith("machine kind: ")
    for row in ("3", "4"):
        cells = next(line for line in out.splitlines() if line.startswith(f"| {row} |"))
        assert len(cells.split("|")) == 9 and cells.count("x |") == 2


def test_an_unknown_row_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--rows", "5"])
    assert "no row 5: choose among" in capsys.readouterr().err
