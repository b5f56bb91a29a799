"""Files, shared by checkpoints, run files, data and figures.  Imports nothing of numgan.

atomic_write     write a file whole or not at all (a temporary, then a rename)
read_npy         read one .npy array from untrusted bytes: its header is checked against
                 the bytes behind it before anything is read, and pickled objects are
                 refused, so a damaged or hostile file is one DamagedFile line
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from numpy.lib import format as npy_format

NPY_MAGIC = b"\x93NUMPY"
_NPY_LENGTH = {(1, 0): "<H", (2, 0): "<I", (3, 0): "<I"}  # each version's header-length field
_MAX_HEADER = 10_000  # NumPy's own limit for an untrusted header; np.save writes ~128 bytes

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


# -- reading .npy arrays from untrusted bytes --------------------------------------------------


class DamagedFile(ValueError):
    """A file whose bytes are damaged or foreign, the problem already put in one line that
    names the file: passed on, never re-worded."""


class NpyHeader(NamedTuple):
    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    nbytes: int  # the bytes of data the header promises


def error_reason(err: Exception) -> str:
    """The first line of a low-level error, short, and named by what failed."""
    if isinstance(err, zipfile.BadZipFile) and "not a zip file" in str(err):
        return "the zip directory at its end is missing or damaged"
    name = "zlib" if isinstance(err, zlib.error) else type(err).__name__
    text = str(err).splitlines()[0][:160] if str(err) else ""
    return f"{name}: {text}" if text else name


@contextmanager
def reading(where: str):
    """Any failure to read damaged bytes (zip, zlib, struct, OS...) as one line naming them."""
    try:
        yield
    except DamagedFile:
        raise
    except MemoryError:
        raise DamagedFile(f"{where}: too large to load into this machine's memory") from None
    except Exception as err:  # the bytes are damaged, whichever layer noticed it first
        raise DamagedFile(f"{where}: corrupt or truncated ({error_reason(err)})") from err


def read_npy_header(fp: BinaryIO, where: str, size: int) -> NpyHeader:
    """The header of the .npy stream ``fp`` (read from its start), checked against the stream's
    size in bytes before any data is read: a header that claims terabytes costs nothing."""
    magic = fp.read(len(NPY_MAGIC) + 2)
    if not magic:
        raise DamagedFile(f"{where}: empty (0 bytes), not a .npy array")
    if not magic.startswith(NPY_MAGIC[: len(magic)]):
        raise DamagedFile(f"{where}: not a .npy array (no NumPy magic bytes): not from np.save")
    truncated = f"{where}: truncated: {size:,} bytes, not even a whole .npy header"
    if len(magic) < len(NPY_MAGIC) + 2:
        raise DamagedFile(truncated)
    version = (magic[-2], magic[-1])
    if version not in _NPY_LENGTH:
        raise DamagedFile(
            f"{where}: .npy format version {version[0]}.{version[1]}, but NumPy writes 1.0, 2.0 "
            f"and 3.0: corrupt, or not saved by np.save"
        )
    length = fp.read(struct.calcsize(_NPY_LENGTH[version]))
    if len(length) < struct.calcsize(_NPY_LENGTH[version]):
        raise DamagedFile(truncated)
    header_size = struct.unpack(_NPY_LENGTH[version], length)[0]
    if header_size > _MAX_HEADER:
        raise DamagedFile(
            f"{where}: a .npy header of {header_size:,} bytes, where np.save writes about a "
            f"hundred: corrupt, or not saved by np.save"
        )
    offset = len(magic) + len(length) + header_size
    text = fp.read(header_size)
    if len(text) < header_size or size < offset:
        raise DamagedFile(
            f"{where}: truncated, or its header is wrong: {size:,} bytes, fewer than the "
            f"{offset:,} its .npy header alone takes"
        )
    read = (
        npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    )
    try:
        with warnings.catch_warnings():  # NumPy warns of headers written by Python 2: fine here
            warnings.simplefilter("ignore")
            shape, fortran_order, dtype = read(
                io.BytesIO(length + text), max_header_size=_MAX_HEADER
            )
    except Exception as err:  # the header is text parsed by literal_eval: any failure is damage
        raise DamagedFile(
            f"{where}: a damaged .npy header ({error_reason(err)}): corrupt, or not saved by "
            "np.save"
        ) from None
    if any(d < 0 for d in shape):
        raise DamagedFile(f"{where}: its header gives a negative size, shape {shape}: corrupt")
    if dtype.hasobject:  # pickled Python objects: never loaded, whatever they hold
        raise DamagedFile(f"{where}: holds Python objects (dtype object), not an array of numbers")
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: a corrupt shape cannot overflow
    if size - offset != nbytes:
        said = (
            f"its header says shape {shape} of {dtype}, {nbytes:,} bytes of data, but "
            f"{size - offset:,} bytes follow the {offset}-byte header"
        )
        if size - offset < nbytes:
            raise DamagedFile(f"{where}: truncated, or its header is wrong: {said}")
        raise DamagedFile(
            f"{where}: {size - offset - nbytes:,} bytes of trailing data ({said}): its header "
            f"is wrong, or something was appended to it"
        )
    return NpyHeader(tuple(shape), fortran_order, dtype, nbytes)


def read_npy(fp: BinaryIO, where: str, size: int) -> np.ndarray:
    """The array of the .npy stream ``fp`` of ``size`` bytes, a writable array as saved."""
    with reading(where):
        header = read_npy_header(fp, where, size)
        if header.dtype.itemsize == 0:  # items of no bytes (dtype V0, U0): nothing to read
            return np.zeros(header.shape, header.dtype)
        data = bytearray(header.nbytes)
        if fp.readinto(data) != header.nbytes:  # the stream ended before its size said
            raise DamagedFile(f"{where}: truncated: fewer bytes than its header says")
        order = "F" if header.fortran_order else "C"
        return np.frombuffer(data, header.dtype).reshape(header.shape, order=order)
