"""Pixel ranges: raw pixel values 0..max_value -> the range the generator's output layer spans.

The ranges are named by that output layer, "sigmoid" for [0, 1] and "tanh" for [-1, 1]: one
vocabulary for the data (``scale=``), the run config (``--output``) and the figures.
"""

from __future__ import annotations

import numpy as np

#: The pixel ranges numgan trains on, named by the generator's output layer that produces
#: them: the one vocabulary for the pixel range across data, runs and figures.
PIXEL_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def range_text(name: str) -> str:
    """The range a PIXEL_RANGES name stands for, as text: "sigmoid" -> "[0, 1]"."""
    lo, hi = PIXEL_RANGES[name]
    return f"[{lo:g}, {hi:g}]"


def check_pixel_range(name, who: str, *, allow_none: bool = False) -> str | None:
    """name, if it is a key of PIXEL_RANGES (or None, if allowed); else a one-line ValueError."""
    if (name is None and allow_none) or (isinstance(name, str) and name in PIXEL_RANGES):
        return name
    choices = " or ".join(f"{k!r} ({range_text(k)})" for k in PIXEL_RANGES)
    keep = ", or None for the raw values" if allow_none else ""
    raise ValueError(f"{who}: the pixel range must be {choices}{keep}, got {name!r}")


def scale_pixels(
    x: np.ndarray, to: str = "sigmoid", *, max_value: float = 255.0, dtype=np.float32
) -> np.ndarray:
    """Pixel values 0..max_value -> the range PIXEL_RANGES[to], as a new float array (x's shape).

        to="sigmoid":  out = x / max_value           ([0, 1], a Sigmoid output layer's range)
        to="tanh":     out = 2 * x / max_value - 1   ([-1, 1], a Tanh output layer's range)

    max_value: 255 for 8-bit images (MNIST), 16 for scikit-learn's digits.
    """
    check_pixel_range(to, "scale_pixels")
    if not max_value > 0:
        raise ValueError(f"scale_pixels: max_value must be positive, got {max_value!r}")
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"scale_pixels: expected numeric pixels, got dtype {x.dtype}")
    if x.size and not (x.min() >= 0 and x.max() <= max_value):
        raise ValueError(
            f"scale_pixels: values span {x.min()}..{x.max()}, outside 0..{max_value}: pass the "
            f"data's max_value (255 for 8-bit images, 16 for the digits)"
        )
    lo, hi = PIXEL_RANGES[to]
    out = x.astype(dtype)  # a copy, then in place: no float64 temporary of a 60000-image array
    out /= dtype(max_value)  # x == max_value gives exactly 1, so the endpoints are exact
    if (lo, hi) != (0.0, 1.0):
        out *= hi - lo  # 2 and -1 for tanh: exact in floating point, as are the endpoints
        out += lo
    return out
