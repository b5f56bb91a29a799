"""benchmarks/sweep_overhead.py: the four measurements run, are checked, and make the table.

Tiny settings (2 runs of 20 iterations, one repeat): these tests check the harness and its
table, not speed.
"""

import csv
import math
import re
import subprocess
import sys
import tomllib

import pytest
import sweep_overhead as so

from numgan.app.bench import BENCHMARKS_DIR

TINY = ["--runs", "2", "--iterations", "20", "--batch-size", "16", "--evaluate-samples", "100"]
ROWS = ["(a) sweep, 1 worker", "(b) sweep, 2 workers", "(c) shell loop", "(d) one process"]


def number(text: str) -> float:
    value = float(text)
    assert math.isfinite(value), text
    return value


def test_a_tiny_run_times_the_four_ways_and_prints_the_table():
    script = BENCHMARKS_DIR / "sweep_overhead.py"
    done = subprocess.run(
        [sys.executable, str(script), *TINY, "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^- machine: .*\d+ CPUs.*load average .* before -> after: ", out, re.M)
    assert re.search(
        r"^- command: `python \S*sweep_overhead.py --runs 2 .* --repeats 1`$", out, re.M
    )
    table = [line for line in out.splitlines() if line.startswith("| (")]
    assert [line.split("|")[1].strip() for line in table] == ROWS
    for line in table:
        command, median, per_run, vs_floor, repeats = (c.strip() for c in line.split("|")[2:7])
        assert command.startswith("`") and command.endswith("`")
        assert number(median) > 0 and number(per_run) > 0 and number(vs_floor) > 0
        assert number(repeats) == number(median)  # one repeat: it is the median
    assert "--workers 1`" in table[0] and "--workers 2`" in table[1]
    assert "numgan train --dataset ring8 --iterations 20 --batch-size 16 --seed S" in table[2]
    assert table[3].split("|")[5].strip() == "1.00"
    ratios = dict(re.findall(r"^- (.+): (-?[\d.]+)(?: s)?$", out, re.M))
    assert len(ratios) == 4, out
    assert all(math.isfinite(float(v)) for v in ratios.values())
    assert float(ratios["speed-up of 2 workers over 1, a / b"]) > 0
    assert float(ratios["shell loop over the 1-worker sweep, c / a"]) > 0
    for step in ("warming up", *(f"repeat 1/1: {row}" for row in ROWS)):
        assert f"bench: {step}" in done.stderr


def test_a_run_that_did_not_finish_stops_the_benchmark(tmp_path):
    settings = so.Settings(runs=2)
    with open(tmp_path / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "status", "reason"])
        writer.writerow(["seed=0", "done", ""])
        writer.writerow(["seed=1", "failed", "DivergenceError: D loss is nan"])
    with pytest.raises(RuntimeError, match="1 of 2 runs done .*seed=1: failed DivergenceError"):
        so.check_sweep(settings, tmp_path)
    with pytest.raises(RuntimeError, match="no results.csv"):
        so.check_sweep(settings, tmp_path / "nowhere")
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "metrics.json").write_text("{}")
    with pytest.raises(RuntimeError, match=r"1 of 2 runs have no metrics.json \(seeds 1\)"):
        so.check_loop(settings, tmp_path)


def test_the_sweep_file_is_the_loops_runs():
    settings = so.Settings(runs=3, iterations=50, batch_size=8, evaluate_samples=10)
    spec = tomllib.loads(settings.sweep_file())
    assert spec == {
        "seeds": [0, 1, 2],
        "evaluate_samples": 10,
        "base": {"dataset": "ring8", "iterations": 50, "batch_size": 8},
    }
    c = settings.config(2)
    assert (c.dataset, c.iterations, c.batch_size, c.seed) == ("ring8", 50, 8, 2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--repeats", "0"], "--repeats: expected a whole number >= 1, got '0'"),
        (["--runs", "two"], "--runs: expected a whole number >= 1, got 'two'"),
        (["--evaluate-samples", "1"], "--evaluate-samples must be at least 2, got 1"),
    ],
)
def test_bad_flags_are_one_line_errors(args, message, capsys):
    assert so.main(args, prog="sweep_overhead") == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err
