"""One benchmark row's training iteration at two or more versions of numgan, side by side in
one process.

    python benchmarks/compare_commits.py [--row 4] [--rounds 30] [--iterations 10]
        [--threads 2] VERSION VERSION [VERSION ...]

A VERSION is a git commit (anything ``git rev-parse`` reads: a hash, ``HEAD~1``, a tag) or
``.`` for the working tree; each at most once.  ``--row`` is a row of benchmarks/train_speed.py
by its key: 1, 2-sgd, 2-adam, 3, 3-tanh, 3-sigmoid or 4 (the DCGAN).  Each version's
``numgan/`` is unpacked into a temporary folder (``git archive``) and imported under a name of
its own (``ng_<hash>_<folder>``), which works because the package imports itself only
relatively; the copies are dropped from ``sys.modules`` afterwards.  Each version builds the
row's Trainer from its own numgan/app/bench.py (same seed, same data) and runs a few warm-up
steps (the first compiles its kernels: Numba's cache for it lives in the temporary folder).
Then every round times ``--iterations`` steps of each version, in an order that alternates
from round to round, so that the machine's slow and fast phases fall on all versions alike.

``--processes`` runs each version in a process of its own instead, a new one every round (the
order alternating as above): for versions that set up Numba's threads differently, which one
process cannot hold at once (Numba starts one threading layer per process, and a version may
ask for a layer of its own or split under one layer only).  Each process warms up for 5 steps
and times 5 blocks of ``--iterations`` steps; its median block is the round's time.

It prints each version's median time per iteration and, for each version after the first, the
median over the rounds of (first version's time / its time) in the same round: above 1, it is
faster than the first.  Times from separate processes, minutes apart, differ by more than the
changes this measures on a shared machine (docs/benchmarks.md); these ratios do not.
"""

from __future__ import annotations

import argparse
import importlib
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from machine import machine_info

ROOT = Path(__file__).resolve().parent.parent
# tarfile's "data" filter (Python 3.11.4 and later) refuses links and paths out of the folder
_SAFE = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _rev(version: str) -> str:
    """The full hash of a commit, or "." for the working tree."""
    if version == ".":
        return "."
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{version}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"compare_commits.py: {version!r} is not a commit of {ROOT}")
    return done.stdout.strip()


def _has(rev: str, path: str) -> bool:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}:{path}"], capture_output=True
    )
    return done.returncode == 0


def unpack(version: str, folder: Path) -> str:
    """numgan/ of ``version`` as the package folder/ng_<name>; returns the module name (unique
    to the folder, so that a second comparison in one process imports afresh)."""
    rev = _rev(version)
    if rev != "." and not _has(rev, "numgan/app/bench.py"):
        raise SystemExit(
            f"compare_commits.py: commit {version} has no numgan/app/bench.py (the benchmark "
            "rows): compare commits that have one"
        )
    tag = folder.name.replace("-", "_")
    name = f"ng_worktree_{tag}" if rev == "." else f"ng_{rev[:10]}_{tag}"
    target = folder / name
    if target.exists():  # unpacked already
        return name
    if rev == ".":
        shutil.copytree(ROOT / "numgan", target, ignore=shutil.ignore_patterns("__pycache__"))
        return name
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "numgan"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive.getmembers():
            member.name = name + member.name[len("numgan") :]
            archive.extract(member, folder, **_SAFE)
    return name


ROWS = ("1", "2-sgd", "2-adam", "3", "3-tanh", "3-sigmoid", "4")


def _spec(bench, row: str):
    """The ModelSpec of ``row`` in one version's numgan/app/bench.py."""
    for spec in bench.model_specs((int(row[0]),)):
        if spec.key == row:
            return spec
    raise SystemExit(f"compare_commits.py: this version's benchmark has no row {row}")


def _check_distinct(versions: list[str]) -> None:
    resolved = [_rev(v) for v in versions]
    for i, rev in enumerate(resolved):
        if rev in resolved[:i]:
            raise SystemExit(
                f"compare_commits.py: {versions[i]} is the same version as "
                f"{versions[resolved.index(rev)]}: name each version once"
            )


def compare(versions: list[str], *, row: str, rounds: int, iterations: int, threads: int):
    """{version: [seconds per iteration, one per round]}, timed interleaved."""
    _check_distinct(versions)
    folder = Path(tempfile.mkdtemp(prefix="numgan-compare-"))
    sys.path.insert(0, str(folder))
    names = []
    limiters = []
    try:
        trainers = {}
        for version in versions:
            names.append(unpack(version, folder))
            bench = importlib.import_module(f"{names[-1]}.app.bench")
            limiters.append(bench.apply_threads(threads)[1])
            trainers[version] = bench.build_trainer(_spec(bench, row))
            for _ in range(3):  # compile and warm
                trainers[version].step()
        times = {version: [] for version in versions}
        for r in range(rounds):
            for version in versions if r % 2 == 0 else versions[::-1]:
                step = trainers[version].step
                start = time.perf_counter()
                for _ in range(iterations):
                    step()
                times[version].append((time.perf_counter() - start) / iterations)
        return times
    finally:
        for limiter in reversed(limiters):  # BLAS's thread count as it was
            if limiter is not None:
                limiter.restore_original_limits()
        for module in [m for m in sys.modules if m.split(".")[0] in names]:
            del sys.modules[module]
        sys.path.remove(str(folder))
        shutil.rmtree(folder, ignore_errors=True)


_CHILD = """
import importlib, statistics, sys, time
folder, name, row, iterations, threads = sys.argv[1:6]
sys.path.insert(0, folder)
bench = importlib.import_module(name + ".app.bench")
bench.apply_threads(int(threads))
spec = next(s for s in bench.model_specs((int(row[0]),)) if s.key == row)
trainer = bench.build_trainer(spec)
for _ in range(5):
    trainer.step()
blocks = []
for _ in range(5):
    start = time.perf_counter()
    for _ in range(int(iterations)):
        trainer.step()
    blocks.append((time.perf_counter() - start) / int(iterations))
print(statistics.median(blocks))
"""


def compare_in_processes(
    versions: list[str], *, row: str, rounds: int, iterations: int, threads: int
):
    """As ``compare``, each version in a fresh process every round."""
    _check_distinct(versions)
    folder = Path(tempfile.mkdtemp(prefix="numgan-compare-"))
    try:
        names = {version: unpack(version, folder) for version in versions}
        times = {version: [] for version in versions}
        for r in range(rounds):
            for version in versions if r % 2 == 0 else versions[::-1]:
                args = [str(folder), names[version], row, str(iterations), str(threads)]
                out = subprocess.run(
                    [sys.executable, "-c", _CHILD, *args],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                times[version].append(float(out.strip().splitlines()[-1]))
        return times
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(times: dict[str, list[float]]) -> str:
    first, *others = times
    lines = [f"{first}: {statistics.median(times[first]) * 1e3:.2f} ms per iteration"]
    for version in others:
        rounds = zip(times[first], times[version], strict=True)
        ratio = statistics.median([a / b for a, b in rounds])
        lines.append(
            f"{version}: {statistics.median(times[version]) * 1e3:.2f} ms per iteration, "
            f"{ratio:.3f}x the speed of {first} (median over the rounds)"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="+", metavar="VERSION")
    parser.add_argument("--row", default="4", choices=ROWS, help="the benchmark row")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--iterations", type=int, default=10, help="per version per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--processes",
        action="store_true",
        help="each version in a fresh process every round (module docstring)",
    )
    options = parser.parse_args(argv)
    if len(options.versions) < 2:
        parser.error("give at least two versions to compare")
    if options.rounds < 1 or options.iterations < 1:
        parser.error("--rounds and --iterations must be at least 1")
    command = " ".join(["python benchmarks/compare_commits.py", *(argv or sys.argv[1:])])
    m = machine_info()
    cpu = (m.get("lscpu") or {}).get("Model name", "unknown CPU")
    print(f"# {cpu}, {m['nproc']} CPUs, numpy {m['numpy']}, numba {m['numba']}")
    print(f"# {command}")
    run = compare_in_processes if options.processes else compare
    times = run(
        options.versions,
        row=options.row,
        rounds=options.rounds,
        iterations=options.iterations,
        threads=options.threads,
    )
    print(report(times))


if __name__ == "__main__":
    main()
