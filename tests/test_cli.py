"""The command line, run as a user runs it: a subprocess, its exit code and what it prints."""

import subprocess
import sys

import pytest


def numgan(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "numgan", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_train_toy_reports_progress_and_the_fit():
    result = numgan("train", "--iterations", "1500", "--seed", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("iter ") for line in lines) == 10
    assert "it/s" in lines[0]
    gen = [line for line in lines if line.startswith("generated mean")]
    assert len(gen) == 1
    mean = float(gen[0].split()[2])
    assert abs(mean - 4.0) < 0.25  # data N(4, 0.5); 1500 iterations get close


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--iterations", "0"], "--iterations must be at least 1"),
        (["train", "--lr", "-1"], "--lr must be positive"),
        (["train", "--g-loss", "wgan"], "invalid choice: 'wgan'"),
        (["train", "--batch-size", "ten"], "invalid int value: 'ten'"),
        (["train", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(args, message):
    result = numgan(*args)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_help_lists_train():
    result = numgan("--help")
    assert result.returncode == 0 and "train" in result.stdout
