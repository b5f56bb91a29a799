"""benchmarks/conv_timings.py: every kernel and layer row is timed, after the agreement check.

Tiny settings (batch 4, one short block per contender): these tests check the harness and its
table, not speed.  The PyTorch test skips only where PyTorch cannot be imported.
"""

import math
import sys

import conv_timings as ct
import pytest

import numgan as ng

SMALL = {"repeats": 1, "block_seconds": 0.001, "sleep": 0.0, "batch": 4}
# the kernels each layer calls, with its inputs in the network's layouts (conv_timings.kernel_calls)
KERNELS = {
    "D1": ["im2col", "add_bias", "add_channel_sums", "col2im"],
    "D2": ["im2col", "add_bias", "add_channel_sums", "col2im"],
    "G1": ["nchw_to_rows", "col2im", "add_channel_sums", "im2col"],
    "G2": ["col2im", "add_channel_sums", "im2col"],
}
STEPS = ["forward", "forward + backward"]


def check_rows(report, table, versions):
    labels = [layer.label for layer in ct.LAYERS]
    kernels = report["kernels"]
    assert [(r["layer"], r["kernel"]) for r in kernels] == [
        (layer.label, kernel) for layer in ct.LAYERS for kernel in KERNELS[layer.name]
    ]
    assert [(r["layer"], r["step"]) for r in report["layers"]] == [
        (label, step) for label in labels for step in STEPS
    ]
    for r in kernels:
        assert 0 < r["numba"] < 1 and 0 < r["numpy"] < 1 and r["numba/numpy"] > 0
        times = f"{ct.fmt_time(r['numba'])} | {ct.fmt_time(r['numpy'])} | {r['numba/numpy']:.2f}"
        assert f"| {r['kernel']} ({r['step']}) | {r['shapes']} | {times} |" in table
    for r in report["layers"]:
        assert all(0 < r[v] < 10 and math.isfinite(r[v]) for v in versions)
        assert all(r[f"numba/{v}"] > 0 for v in versions if v != "numba")
        assert f"| {r['layer']} | {r['step']} | {ct.fmt_time(r['numba'])} |" in table
    assert table.count("\n| D1 ") == 4 + 2 and table.count("\n| G2 ") == 3 + 2


def test_without_torch_every_row_is_timed_after_the_agreement_check(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    before = ng.get_backend()
    report = ct.run(**SMALL, command="conv_timings test")
    assert ng.get_backend() == before
    table = ct.render(report)
    check_rows(report, table, ("numba", "numpy"))
    # Each layer's kernels, Numba vs NumPy, then the layer: Numba vs NumPy.
    agreement = report["agreement"]
    checks = sum(len(kernels) + 1 for kernels in KERNELS.values())
    assert len(agreement) == checks and ct.agreement_ok(report)
    assert {a["vs"] for a in agreement} == {"Numba vs NumPy"}
    assert f"Agreement checked before timing ({checks} comparisons" in table
    assert "all agree" in table
    assert report["torch_missing"].startswith("torch is not importable")
    assert table.count("| no torch | ") == 8
    assert "PyTorch columns empty: torch is not importable" in table
    assert "- command: `conv_timings test`" in table and "- machine: " in table


def test_with_torch_the_layers_agree_and_are_timed():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    report = ct.run(**SMALL, threads=1)
    assert torch.get_num_threads() == threads  # restored
    assert report["threads"]["requested"] == report["threads"]["torch"] == 1
    table = ct.render(report)
    check_rows(report, table, ("numba", "numpy", "torch"))
    layer_checks = [a for a in report["agreement"] if "layer" in a["what"]]
    assert {a["vs"] for a in layer_checks} == {"Numba vs PyTorch", "NumPy vs PyTorch"}
    assert len(layer_checks) == 8 and ct.agreement_ok(report)
    assert "no torch" not in table and "Numba / PyTorch |" in table


def test_times_read_in_us_or_ms():
    assert ct.fmt_time(4.2e-6) == "4.20 us"
    assert ct.fmt_time(4.2e-5) == "42.0 us"
    assert ct.fmt_time(4.2e-4) == "420 us"
    assert ct.fmt_time(4.2e-3) == "4.20 ms"
    assert ct.fmt_time(4.2e-2) == "42.0 ms"
    assert ct.fmt_time(0.42) == "420 ms"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--repeats", "0"], "--repeats: expected a whole number >= 1, got '0'"),
        (["--threads", "two"], "--threads: expected a whole number >= 1, got 'two'"),
        (["--sleep", "-1"], "--sleep: expected seconds in [0, 60], got '-1'"),
    ],
)
def test_bad_flags_are_one_line_errors(args, message, capsys):
    assert ct.main(args, prog="conv_timings") == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err
