"""The Numba flags, defined once, and the decorators the jitted kernels use: ``jit`` for every
serial kernel, ``jit_parallel`` for the loops split over threads (threads.py says when: the
optimiser updates, LeakyReLU, BatchNorm's passes, im2col and col2im).

fastmath without ``nnan``/``ninf``: a diverging GAN shows NaN, and the checks for it must not
be optimised away.  ``error_model="numpy"``: a float division by zero gives inf or NaN, as in
NumPy, instead of raising ZeroDivisionError; the check that Python's model puts before every
division kept LLVM from vectorising loops that divide (Adam's update among them:
docs/kernels.md has the before and after from benchmarks/kernel_timings.py).  ``nogil=True``
lets a kernel run beside other threads.

``cache=True`` keeps compiled kernels on disk between processes, in the package's
``__pycache__`` folders or the user's cache folder.  Where neither can be written (a read-only
install on a cluster node, a container run as an unprivileged user with no home), Numba would
refuse to define a cached function at all; numgan then caches into a temporary folder for the
process (or, failing that, compiles without caching) and says so once.  NUMBA_CACHE_DIR, if
set, is Numba's own choice and is left alone.
"""

from __future__ import annotations

import os
import sys
import tempfile


def _check_thread_setting() -> None:
    """NUMBA_NUM_THREADS below 1 makes ``import numba`` itself fail with a bare ValueError that
    names no setting (Numba ignores, with a warning, a value that is not a number)."""
    value = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    try:
        bad = int(value) < 1
    except ValueError:
        return
    if bad:
        raise ImportError(
            f"NUMBA_NUM_THREADS={value!r}: Numba needs at least 1 thread; set a positive "
            "number or unset it"
        )


_check_thread_setting()

# numba and prange reach the other kernel modules from here, so that Numba loads only after
# the check above
import numba  # noqa: E402
from numba import prange  # noqa: E402, F401
from numba.core import caching  # noqa: E402

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def _probe():  # a function in this package's folder, for asking Numba where it would cache
    return 0


def _choose_cache() -> tuple[bool, str | None]:
    """(whether to cache, a line to print once, or None)."""
    if numba.config.CACHE_DIR:
        return True, None
    try:
        caching.FunctionCache(_probe)
        return True, None
    except RuntimeError:  # "cannot cache function ...: no locator available"
        pass
    try:
        folder = tempfile.mkdtemp(prefix="numgan-numba-cache-")
    except OSError:
        return False, (
            "numgan: no writable folder for compiled kernels (package, home and temporary "
            "folders are read-only): kernels are compiled in each process and not cached; set "
            "NUMBA_CACHE_DIR to a writable folder to cache them"
        )
    numba.config.CACHE_DIR = folder
    return True, (
        f"numgan: the package and user cache folders are read-only: compiled kernels are cached "
        f"in {folder} for this process only; set NUMBA_CACHE_DIR to a writable folder to keep "
        "them"
    )


CACHE, _NOTICE = _choose_cache()
if _NOTICE is not None:
    print(_NOTICE, file=sys.stderr)


def jit(fn):
    """Compile ``fn`` in nopython mode with the project's flags."""
    return numba.njit(cache=CACHE, nogil=True, fastmath=FASTMATH, error_model="numpy")(fn)


def jit_parallel(fn):
    """``jit`` with ``parallel=True``: ``numba.prange`` loops split over Numba's threads."""
    return numba.njit(
        cache=CACHE, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True
    )(fn)
