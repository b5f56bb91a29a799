"""Input checks shared by metrics.py and plots.py, so both reject bad arrays in the same words."""

from __future__ import annotations

import numpy as np


def real_array(x, name: str, func: str | None = None) -> np.ndarray:
    """np.asarray(x), which must hold bools, ints or floats (no strings, objects or complex).

    func, when given, prefixes the message, as plots.py names the function that was called.
    """
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        where = f"{func}: " if func else ""
        raise TypeError(f"{where}{name} must be a real numeric array, got dtype {a.dtype}")
    return a


def column_to_1d(a: np.ndarray) -> np.ndarray:
    """(n, 1) -> (n,); any other shape unchanged.  G and D return column vectors, so every 1-D
    input also accepts one; the caller checks that the result is 1-D.
    """
    return a[:, 0] if a.ndim == 2 and a.shape[1] == 1 else a
