"""benchmarks/twin_choices.py: the PyTorch twin's options, timed against each other."""

import pytest
from twin_choices import main, options

from numgan.app.bench import model_specs

SPECS = {spec.key: spec for spec in model_specs()}


def test_each_row_offers_its_optimisers_implementations_and_the_d_pass():
    adam = options(SPECS["2-adam"], rowwise=True)
    assert set(adam) == {"default", "adam=loop", "adam=foreach", "adam=fused", "two D passes"}
    assert adam["two D passes"]["concat"] is False and adam["default"]["concat"] is True
    sgd = options(SPECS["4"], rowwise=False)  # the DCGAN's D has BatchNorm: no one-pass option
    assert set(sgd) == {"default", "adam=loop", "adam=foreach", "adam=fused"}
    assert set(options(SPECS["1"], rowwise=True)) == {
        "default",
        "sgd=loop",
        "sgd=foreach",
        "two D passes",
    }


def test_a_quick_run_prints_every_option_of_every_row(capsys):
    pytest.importorskip("torch")
    assert main(["--quick", "--models", "3"]) == 0
    out = capsys.readouterr().out
    for key in ("3", "3-tanh", "3-sigmoid"):
        assert f"| {key} | 8 | default |" in out and f"| {key} | 8 | two D passes |" in out
    assert "| 3 | 8 | default | " in out and "| 1.00x |" in out


def test_bad_flags_are_one_line_errors(capsys):
    pytest.importorskip("torch")
    assert main(["--models", "9"]) == 1
    err = capsys.readouterr().err.strip()
    assert "unknown model" in err and len(err.splitlines()) == 1
    assert main(["--repeats", "x"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
