"""Atomic file writes, shared by checkpoints, run files and figures.  Imports nothing of numgan."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    The data is flushed and fsynced before the rename, and os.replace is atomic, so a crash or
    a kill at any point leaves either the old file or the new one, never half of one; the
    temporary is removed on failure.  The temporary is opened with mode 0o666 so the umask sets
    the final file's permissions as a plain open() would (mkstemp's 0600 would survive the
    rename).  The parent folder must exist.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
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
