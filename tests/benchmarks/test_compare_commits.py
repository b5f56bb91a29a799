"""benchmarks/compare_commits.py: versions unpacked side by side under names of their own, timed
interleaved, the ratios reported; a name that is not a commit is one clear error."""

import subprocess
import sys
from pathlib import Path

import compare_commits as cc
import pytest


def in_git_checkout() -> bool:
    done = subprocess.run(
        ["git", "-C", str(cc.ROOT), "rev-parse", "--is-inside-work-tree"], capture_output=True
    )
    return done.returncode == 0


def test_each_version_is_its_own_package(tmp_path):
    if not in_git_checkout():
        pytest.fail("the benchmark compares git commits: run the tests in a git checkout")
    head, tree = cc.unpack("HEAD", tmp_path), cc.unpack(".", tmp_path)
    assert head != tree and head.startswith("ng_") and tree.startswith("ng_worktree_")
    assert cc.unpack("HEAD", tmp_path) == head  # named twice: unpacked once
    for name in (head, tree):
        assert (tmp_path / name / "nn" / "conv.py").is_file()
    # imported side by side, each from its own folder
    sys.path.insert(0, str(tmp_path))
    try:
        import importlib

        modules = [importlib.import_module(f"{name}.nn.layer") for name in (head, tree)]
        files = [Path(m.__file__).resolve() for m in modules]
        assert files[0] != files[1] and all(tmp_path in f.parents for f in files)
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m.split(".")[0] in (head, tree)]:
            del sys.modules[module]


def test_a_name_that_is_no_commit_is_refused():
    with pytest.raises(SystemExit, match="is not a commit"):
        cc.unpack("no-such-commit-name", Path("."))


def test_a_commit_without_the_benchmark_rows_is_refused():
    first = subprocess.run(
        ["git", "-C", str(cc.ROOT), "rev-list", "--max-parents=0", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.split()[0]
    assert not cc._has(first, "numgan/app/bench.py")  # the project's first commit predates it
    with pytest.raises(SystemExit, match="has no numgan/app/bench.py"):
        cc.unpack(first, Path("."))


@pytest.mark.parametrize("run", [cc.compare, cc.compare_in_processes])
def test_the_same_version_twice_is_refused(run):
    with pytest.raises(SystemExit, match="the same version"):
        run(["HEAD", "HEAD"], row="3", rounds=1, iterations=1, threads=1)


def test_report_gives_the_median_ratio_per_round():
    times = {"a": [2.0, 4.0, 2.0], "b": [1.0, 4.0, 1.0]}
    text = cc.report(times)
    assert "a: 2000.00 ms per iteration" in text
    assert "b: 1000.00 ms per iteration, 2.000x the speed of a" in text


def test_one_round_end_to_end(capsys):
    before = {m for m in sys.modules if m.startswith("ng_")}
    cc.main(["--row", "3", "--rounds", "2", "--iterations", "1", "HEAD", "."])
    out = capsys.readouterr().out
    assert "python benchmarks/compare_commits.py --row 3" in out
    assert "ng_worktree" not in out  # versions are reported by the names given
    assert "\nHEAD: " in out and "\n.: " in out and "the speed of HEAD" in out
    assert {m for m in sys.modules if m.startswith("ng_")} == before  # its copies are let go


def test_one_round_end_to_end_in_processes(capsys):
    cc.main(["--row", "3", "--rounds", "2", "--iterations", "1", "--processes", "HEAD", "."])
    out = capsys.readouterr().out
    assert "--processes" in out.splitlines()[1]  # the command, as run
    assert "\nHEAD: " in out and "\n.: " in out and "the speed of HEAD" in out


def test_an_unknown_row_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        cc.main(["--row", "9", "HEAD", "."])
    assert "invalid choice" in capsys.readouterr().err


def test_fewer_than_two_versions_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        cc.main(["HEAD"])
    assert "at least two versions" in capsys.readouterr().err
