"""benchmarks/train_speed.py: the full comparison, its files, and the parts that may be missing."""

import json
import sys

import pytest
import train_speed

from numgan.app.bench import flops_per_iteration, model_specs

SPECS = {spec.key: spec for spec in model_specs()}


def quick(tmp_path, *args, prog=None):
    return train_speed.main(["--quick", "--out", str(tmp_path), *args], prog=prog)


def test_quick_run_writes_markdown_json_and_plot(tmp_path, capsys):
    code = quick(tmp_path, "--no-torch", "--variants", "numpy,matmul", "--repeats", "2")
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads((tmp_path / "train_speed.json").read_text())
    expected = f"--quick --out {tmp_path} --no-torch --variants numpy,matmul --repeats 2"
    assert report["command"].endswith(expected)
    keys = ["1", "2-sgd", "2-adam", "3", "3-tanh", "3-sigmoid", "4"]
    assert [row["key"] for row in report["rows"]] == keys
    for row in report["rows"]:
        assert row["batch_size"] == 8
        assert row["flops_per_iteration"] == flops_per_iteration(SPECS[row["key"]], 8)
        assert list(row["results"]) == ["numpy", "matmul"]
        for variant in ("numpy", "matmul"):
            res = row["results"][variant]
            assert res["status"] == "ok" and len(res["samples"]) == 2
            assert res["min"] <= res["median"] <= res["max"] and res["gflops"] > 0
        assert 0 < row["results"]["numpy"]["ceiling_fraction"]
        assert row["agreement"]["reference"] == "numpy"
    assert [p["batch_size"] for p in report["sweep"]["points"]] == [8, 16]
    assert report["threads"]["requested"] >= 1 and report["machine"]["nproc"] >= 1
    markdown = (tmp_path / "train_speed.md").read_text()
    assert "| model | m | optimiser |" in markdown and "| 3 1-D toy GAN | 8 |" in markdown
    assert "| 4 DCGAN MNIST | 8 | Adam (lr 0.0002, betas 0.5, 0.999) |" in markdown
    # The share of the iteration outside the matrix products, from the ceiling's time.
    section = markdown.split("### Time outside the matrix products")[1].split("###")[0]
    (outside,) = [line for line in section.splitlines() if line.startswith("| 4 | ")]
    dcgan = report["rows"][keys.index("4")]["results"]
    share = 1 - dcgan["numpy"]["median"] / dcgan["matmul"]["median"]
    assert outside.split(" | ")[5] == f"{100 * share:.0f}%"
    # Ratios per round: the blocks of one round against each other, median over the rounds.
    numpy_blocks, ceiling_blocks = dcgan["numpy"]["samples"], dcgan["matmul"]["samples"]
    per_round = [a / b for a, b in zip(numpy_blocks, ceiling_blocks, strict=True)]
    assert dcgan["numpy"]["per_round"] == {"matmul": pytest.approx(sum(per_round) / 2)}
    assert "### Ratios per round" in markdown
    route = report["machine"]["gemm_in_place"]
    assert (
        f"- weight gradients on the Numba backend: {'accumulated in place' if route else '`dW'}"
        in markdown
    )
    assert report["rows"][-1]["arch"] == "G 100-3136-32x14x14-1x28x28, D 784-32x14x14-64x7x7-1"
    assert markdown in out  # the table is printed to stdout too
    assert (tmp_path / "train_speed_model1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "bench: model 1" in err  # progress goes to stderr


def test_missing_torch_is_reported_as_unavailable(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    code = quick(
        tmp_path,
        "--models",
        "3",
        "--variants",
        "numba,numpy,torch",
        "--batch-sizes",
        "none",
        prog="numgan bench --torch",
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads((tmp_path / "train_speed.json").read_text())
    assert report["command"].startswith("numgan bench --torch --quick")
    assert report["variants"]["torch"].startswith("torch is not importable")
    assert [row["key"] for row in report["rows"]] == ["3", "3-tanh", "3-sigmoid"]
    row = report["rows"][0]
    assert row["results"]["torch"]["status"] == "unavailable"
    assert row["results"]["numba"]["status"] == row["results"]["numpy"]["status"] == "ok"
    assert row["agreement"]["reference"] == "numpy" and row["agreement"]["ok"]
    assert report["sweep"] is None
    assert "PyTorch: unavailable: torch is not importable" in out
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--models", "5"], "unknown model(s) [5]"),
        (["--models", "one"], "expected comma-separated integers"),
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--block-seconds", "-1"], "--block-seconds must be a number of seconds in (0, 3600]"),
        (["--block-seconds", "inf"], "--block-seconds must be a number of seconds in (0, 3600]"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--batch-sizes", "16,1"], "--batch-sizes must all be at least 2"),
        (["--sweep-repeats", "0"], "--sweep-repeats must be at least 1"),
        (["--variants", "gpu"], "expected some of numba,numpy,torch,matmul"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_flags_are_one_line_errors(args, message, capsys):
    code = train_speed.main(args, prog="python benchmarks/train_speed.py")
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("python benchmarks/train_speed.py: error:")
    assert message in lines[0] and "Traceback" not in err
