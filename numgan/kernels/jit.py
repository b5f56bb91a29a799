"""The Numba flags, defined once, and the decorator every jitted kernel uses.

fastmath without ``nnan``/``ninf``: a diverging GAN shows NaN, and the checks for it must not
be optimised away.  ``cache=True`` keeps compiled kernels on disk between processes;
``nogil=True`` lets a kernel run beside other threads.
"""

from __future__ import annotations

import numba

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def jit(fn):
    """Compile ``fn`` in nopython mode with the project's flags."""
    return numba.njit(cache=True, nogil=True, fastmath=FASTMATH)(fn)
