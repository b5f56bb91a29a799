"""benchmarks/thread_splits.py: a variant runs in its own process and names its layer and GEMM;
bad flags are refused."""

import pytest
from thread_splits import main, time_variant


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threads", "1"], "--threads 1: a split needs 2 threads or more"),
        (["--rows", "3"], "--rows '3': choose from 1, 2-adam, 2-sgd, 4"),
        (["--rows", " , "], "--rows ' , ': choose from"),
        (["--repeats", "0"], "--repeats 0: at least 1"),
        (["--pass-min", "0"], "--pass-min 0: at least 1"),
    ],
)
def test_bad_flags_are_refused_with_the_reason(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--threads", "2", *args] if args[0] != "--threads" else args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_variant_runs_in_its_own_process_and_names_its_layer_and_gemm():
    layer, gemm, ms = time_variant("2-sgd", "all", 2)
    assert layer in ("tbb", "omp", "workqueue") and gemm in ("mkl", "openblas", "numpy")
    assert ms > 0
