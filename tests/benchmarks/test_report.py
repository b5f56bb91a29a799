"""benchmarks/report.py: the plot leaves matplotlib's global state alone."""

import statistics
import sys

import matplotlib
from report import plot_sweep


def point(m, rates):
    return {
        "batch_size": m,
        "results": {
            v: {"status": "ok", "median": statistics.median(s), "samples": s}
            for v, s in rates.items()
        },
    }


def test_the_plot_needs_neither_pyplot_nor_a_backend_switch(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("matplotlib.use() called")

    monkeypatch.setattr(matplotlib, "use", refuse)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # importing pyplot now fails
    report = {
        "sweep": {
            "torch_comparable": False,
            "points": [
                point(16, {"numba": [9.0, 10.0, 11.0], "torch": [7.0], "matmul": [20.0, 21.0]}),
                point(32, {"numba": [5.0, 6.0, 7.0], "torch": [4.0], "matmul": [11.0, 12.0]}),
            ],
        },
        "threads": {"requested": 2},
    }
    path = tmp_path / "sweep.png"
    plot_sweep(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_setup_names_the_weight_gradient_route():
    """A run that found GEMM, one that did not, and a report from before the record had it."""
    from report import _gemm_route

    assert _gemm_route({"gemm_in_place": "scipy_cblas_sgemm64_"}) == (
        "accumulated in place by GEMM (`scipy_cblas_sgemm64_`, beta = 1)"
    )
    assert _gemm_route({"gemm_in_place": None}).startswith("`dW += x.T @ dout`")
    assert _gemm_route({}) == "not recorded"
