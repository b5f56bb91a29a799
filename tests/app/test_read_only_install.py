"""numgan trains for a user who can write neither the package's folder nor a home: compiled
kernels go to a temporary folder, with one line saying so (numgan/kernels/flags.py).

Two ways to be such a user, both needing root to set up: another user (nobody), which needs an
interpreter that user can run; and root itself without its capabilities, over a read-only copy
of the package, which can then write only where the permission bits allow.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import numgan

TIMEOUT = 300
PACKAGE = Path(numgan.__file__).resolve().parent
PROGRESS = re.compile(r"\d+/\d+ \[")
NOBODY = 65534


def needs_root() -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("becoming a user without write access needs root to start with")
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to change user or drop capabilities")


def closed_folder(path: Path, uid: int) -> Path | None:
    """The first folder above ``path`` that user ``uid`` (not its owner) cannot enter."""
    for folder in [*reversed(path.parents)]:
        info = folder.stat()
        if info.st_uid != uid and not info.st_mode & stat.S_IXOTH:
            return folder
    return None


def environment(home: str, tmp: Path, pythonpath: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.update(HOME=home, TMPDIR=str(tmp), PYTHONPATH=str(pythonpath))
    return env


def train_as(prefix: list[str], env: dict[str, str], work: Path, dataset: str = "toy1d") -> None:
    """``python -m numgan train`` as that user: it trains, and says once where kernels go
    (and nothing else: matplotlib, for ring8's figures, finds a config folder quietly)."""
    run = work / f"run-{dataset}"
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "numgan", "train", "--dataset", dataset]
        + ["--iterations", "20", "--out", str(run)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=work,
    )
    assert result.returncode == 0, result.stderr
    assert "done: iteration 20" in result.stdout
    lines = [line for line in result.stderr.splitlines() if not PROGRESS.search(line)]
    notice = f"compiled kernels are cached in {env['TMPDIR']}{os.sep}numgan-numba-cache-"
    assert len(lines) == 1 and lines[0].startswith("numgan: ") and notice in lines[0], lines
    assert (run / "checkpoints" / "last.npz").is_file()


def test_another_user_without_a_home(backend):
    needs_root()
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    closed = closed_folder(Path(sys.executable), NOBODY)
    if closed is not None:
        mode = stat.filemode(closed.stat().st_mode)
        pytest.skip(f"uid {NOBODY} cannot reach {sys.executable}: {closed} is {mode}")
    # In the system's temporary folder, which any user can reach (pytest's is root's alone).
    work = Path(tempfile.mkdtemp(prefix="numgan-unprivileged-"))
    try:
        os.chown(work, NOBODY, NOBODY)
        env = environment("/nonexistent", work, PACKAGE.parent)
        code = "import os, numpy, numba, numgan; print(os.access(numgan.__path__[0], os.W_OK))"
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=env,
            cwd=work,
        )
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["no message"])[-1]
            pytest.skip(f"uid {NOBODY} cannot import numpy, numba and numgan here: {last}")
        if probe.stdout.strip() != "False":
            pytest.skip(f"uid {NOBODY} can write {PACKAGE}: the install is not read-only for it")
        assert not Path("/nonexistent").exists()
        train_as(prefix, env, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_root_without_capabilities_over_a_read_only_copy(tmp_path, backend):
    needs_root()
    prefix = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"]
    check = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=TIMEOUT)
    if check.returncode != 0:
        pytest.skip(f"cannot drop capabilities here: {check.stderr.strip()}")
    copy = tmp_path / "site"
    shutil.copytree(PACKAGE, copy / "numgan", ignore=shutil.ignore_patterns("__pycache__"))
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    before = sorted(p.relative_to(copy) for p in copy.rglob("*"))
    for path in [copy, home, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)  # read-only, for its owner too
    env = environment(str(home), work, copy)
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import numgan; print(numgan.__file__)"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=work,  # not this repository, which sys.path[0] would put first
    )
    assert probe.stdout.strip() == str(copy / "numgan" / "__init__.py"), probe.stderr
    try:
        train_as(prefix, env, work)
        train_as(prefix, env, work, dataset="ring8")  # sample figures: matplotlib too
        assert sorted(p.relative_to(copy) for p in copy.rglob("*")) == before
        assert list(home.iterdir()) == []
    finally:
        for path in [copy, home, *copy.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)  # so that pytest can delete it
