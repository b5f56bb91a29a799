"""Atomic file writes, shared by checkpoints, run files and figures.  Imports nothing of numgan."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# The temporary atomic_write writes beside its target: .NAME.<12 hex digits>.tmp
TEMPORARY = re.compile(r"^\.(?P<target>.+)\.[0-9a-f]{12}\.tmp$")


def temporary_path(path: Path) -> Path:
    """A fresh name for ``path``'s temporary, in the same folder (so the rename is atomic)."""
    return path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    The data is flushed and fsynced before the rename, and os.replace is atomic, so a crash or
    a kill at any point leaves either the old file or the new one, never half of one; the
    temporary is removed on failure.  Only a kill -9 (or a power cut) during the write can
    leave the temporary behind, named as ``TEMPORARY`` matches: ``remove_temporaries`` clears
    them.  The temporary is opened with mode 0o666 so the umask sets the final file's
    permissions as a plain open() would (mkstemp's 0600 would survive the rename).  The parent
    folder must exist.
    """
    path = Path(path)
    tmp = temporary_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def remove_temporaries(folder: str | os.PathLike, targets: Callable[[str], bool]) -> list[Path]:
    """Delete the temporaries atomic_write left in ``folder`` (not below it) for the targets
    whose names ``targets(name)`` accepts; returns what was deleted.

    Only the caller knows that no other process is writing those targets right now (numgan
    train holds its run folder's lock), so it says which targets are its own.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        match = TEMPORARY.match(entry.name)
        if match and targets(match["target"]) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
