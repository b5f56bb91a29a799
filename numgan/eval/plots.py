"""Figures of a GAN run: sample grids, the paper's Figures 1 and 2, loss curves, 2-D scatter.

Every function takes arrays (and plain callables), never a numgan object, so the caller computes
what is drawn (G's samples, D on a grid, nearest neighbours) and this file stays independent of
the model.  Figure 1's p_g is metrics.kde_1d, the same estimate the 1-D diagnostics score.

    sample_grid              generated images in a grid                       (n, H*W) | (n, H, W)
    nearest_neighbour_grid   Figure 2: samples, and the training image nearest the last of each row
    loss_curves              Trainer history: losses, mean D(x) and D(G(z)), V(D, G) per iteration
    figure1d                 Figure 1: p_data, D(x), p_g and z -> x = G(z), at several iterations
    scatter2d                2-D samples over a mixture's modes, with 3-sigma circles
    metric_dots              one metric per configuration of a sweep, a dot per seed

Each function builds a ``matplotlib.figure.Figure`` on its own Agg canvas and never touches
pyplot's global state: it needs no display, leaks no figures, and leaves a user's interactive
backend alone.  With a ``path`` it writes a PNG atomically (into a temporary file in the same
folder, then ``os.replace``: nobody sees a half-written PNG, and a failed save leaves the old
file intact) and returns the path as a str; with ``path=None`` it returns the Figure to
customise (``fig.axes``, ``fig.savefig``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch
from matplotlib.ticker import MaxNLocator

from ..fileio import atomic_write
from ._checks import column_to_1d, real_array
from .metrics import OPTIMAL_VALUE, kde_1d, silverman_bandwidth

__all__ = [
    "figure1d",
    "loss_curves",
    "metric_dots",
    "nearest_neighbour_grid",
    "sample_grid",
    "scatter2d",
]

DPI = 100
"""Dots per inch of every figure; the image grids are drawn one array pixel per PNG pixel."""

PathLike = str | os.PathLike


# --- checks -------------------------------------------------------------------------------------


def _check_path(path, func: str) -> str | None:
    """The PNG path as a str (None passes through); fails before any drawing if unwritable."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{func}: path must be a str, a PathLike or None, got {type(path).__name__}"
        )
    p = Path(os.fsdecode(path))
    if p.suffix.lower() != ".png":
        raise ValueError(
            f"{func}: writes PNG files, so path must end in .png, got {str(p)!r}; for another "
            "format pass path=None and call savefig on the returned Figure"
        )
    if p.is_dir():
        raise IsADirectoryError(f"{func}: path {str(p)!r} is a folder, not a file name")
    if not p.parent.is_dir():
        raise FileNotFoundError(f"{func}: the folder {str(p.parent)!r} does not exist")
    return str(p)


def _finite(x, name: str, func: str) -> np.ndarray:
    """A non-empty, finite float64 copy of x."""
    a = real_array(x, name, func)
    if a.size == 0:
        raise ValueError(f"{func}: {name} is empty (shape {a.shape})")
    a = a.astype(np.float64)
    bad = np.count_nonzero(~np.isfinite(a))
    if bad:
        raise ValueError(
            f"{func}: {name} has {bad} non-finite value(s) (NaN or inf) out of {a.size}: "
            "a diverged run? Drop or fix them before plotting"
        )
    return a


def _vector(x, name: str, func: str) -> np.ndarray:
    """A finite 1-D float64 array from (n,) or (n, 1): G and D return column vectors."""
    a = column_to_1d(_finite(x, name, func))
    if a.ndim != 1:
        raise ValueError(f"{func}: {name} must have shape (n,) or (n, 1), got {a.shape}")
    return a


def _pair(value, name: str, func: str) -> tuple[float, float]:
    """(lo, hi), finite, lo < hi."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{func}: {name} must be a pair (lo, hi) of numbers, got {value!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{func}: {name} must be finite with lo < hi, got ({lo}, {hi})")
    return lo, hi


def _positive_int(value, name: str, func: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{func}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _color(value, name: str, func: str) -> np.ndarray:
    try:
        return np.array(to_rgb(value))
    except ValueError:
        raise ValueError(
            f"{func}: {name} must be a matplotlib colour ('0.5', 'yellow', '#ffd400', (r, g, b)), "
            f"got {value!r}"
        ) from None


def _image_shape(image_shape, func: str) -> tuple[int, int]:
    try:
        H, W = image_shape
    except (TypeError, ValueError):
        raise ValueError(f"{func}: image_shape must be (H, W), got {image_shape!r}") from None
    return (_positive_int(H, "image_shape[0]", func), _positive_int(W, "image_shape[1]", func))


def _image_layout(shape: tuple[int, ...], image_shape, name: str, func: str) -> tuple[int, int]:
    """(H, W) of a stack shaped (n, H*W) (image_shape needed) or (n, H, W)."""
    if len(shape) == 2:
        if image_shape is None:
            raise ValueError(
                f"{func}: {name} is flat, shape {shape}: pass image_shape=(H, W) with "
                f"H * W == {shape[1]}"
            )
        H, W = _image_shape(image_shape, func)
        if H * W != shape[1]:
            raise ValueError(
                f"{func}: image_shape {(H, W)} holds {H * W} pixels but {name} rows have "
                f"{shape[1]} (shape {shape})"
            )
        return H, W
    if len(shape) == 3:
        if image_shape is not None and _image_shape(image_shape, func) != shape[1:]:
            raise ValueError(
                f"{func}: image_shape {tuple(image_shape)} disagrees with {name}'s images, "
                f"shape {shape}"
            )
        return shape[1], shape[2]
    hint = ""
    if len(shape) == 4 and 1 in (shape[1], shape[3]):
        hint = " (grayscale only: drop the channel axis, e.g. images[:, 0] or images[..., 0])"
    raise ValueError(f"{func}: {name} must have shape (n, H*W) or (n, H, W), got {shape}{hint}")


def _to_unit(images: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Clip to value_range, then map lo -> 0 (black), hi -> 1 (white)."""
    lo, hi = value_range
    return (np.clip(images, lo, hi) - lo) / (hi - lo)


# --- writing ------------------------------------------------------------------------------------


def _new_figure(width: float, height: float, *, layout: str | None = "constrained") -> Figure:
    """A Figure on its own Agg canvas: no pyplot, no global figure manager."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _inches(pixels: int) -> float:
    """The smallest size in inches that Agg renders as exactly ``pixels`` pixels.

    Agg truncates width * dpi to an int, and e.g. 29 / 100 * 100 = 28.999999999999996.
    """
    v = pixels / DPI
    while v * DPI < pixels:
        v = float(np.nextafter(v, np.inf))
    return v


def _finish(fig: Figure, path: str | None) -> str | Figure:
    """Return fig (path None), or write it to path as a PNG, atomically, and return path."""
    if path is None:
        return fig
    # print_png draws at the figure's own size and dpi, whatever rcParams say about
    # savefig.bbox or savefig.dpi: the image grids rely on exact pixel sizes.
    atomic_write(path, FigureCanvasAgg(fig).print_png)
    return path


# --- image grids --------------------------------------------------------------------------------


def _compose(
    cells: np.ndarray,
    slots: Sequence[tuple[int, int]],
    grid: tuple[int, int],
    *,
    scale: int,
    border: int,
    background: np.ndarray,
    margin: int = 0,
    frames: Mapping[int, np.ndarray] | None = None,
) -> np.ndarray:
    """Paste images into one RGB canvas.  cells: (n, H, W) in [0, 1] -> (h, w, 3)

    Cell i goes to slots[i] = (row, col) of a grid (rows, cols).  Each slot is the image
    enlarged ``scale`` times plus ``margin`` pixels on each side, painted with frames[i] when
    given (the highlight) and the background otherwise; ``border`` pixels separate the slots
    and surround the grid.
    """
    rows, cols = grid
    _, H, W = cells.shape
    sh, sw = H * scale + 2 * margin, W * scale + 2 * margin
    canvas = np.empty((rows * sh + (rows + 1) * border, cols * sw + (cols + 1) * border, 3))
    canvas[:] = background
    frames = frames or {}
    for i, (r, c) in enumerate(slots):
        y, x = border + r * (sh + border), border + c * (sw + border)
        if i in frames:
            canvas[y : y + sh, x : x + sw] = frames[i]
        big = np.repeat(np.repeat(cells[i], scale, axis=0), scale, axis=1)
        canvas[y + margin : y + sh - margin, x + margin : x + sw - margin] = big[..., None]
    return canvas


def _image_figure(canvas: np.ndarray) -> Figure:
    """A figure exactly the canvas's size, showing it one array pixel per PNG pixel."""
    h, w, _ = canvas.shape
    fig = _new_figure(_inches(w), _inches(h), layout=None)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.imshow(canvas, interpolation="nearest", aspect="auto")
    ax.set_axis_off()
    return fig


def sample_grid(
    images,
    path: PathLike | None,
    *,
    image_shape: tuple[int, int] | None = None,
    nrow: int | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
    scale: int = 4,
    border: int = 2,
    border_color="0.5",
) -> str | Figure:
    """Generated grayscale images in a grid.

    images:      (n, H*W) with image_shape=(H, W), or (n, H, W); e.g. GAN.sample(n, rng)
    nrow:        images per row, as in torchvision's make_grid (default ceil(sqrt(n)));
                 the grid fills row by row, and trailing empty cells show the border colour
    value_range: (lo, hi) of the pixel values: clipped to it, lo drawn black and hi white
                 ((-1, 1) for a tanh generator)
    scale:       PNG pixels per image pixel;  border: PNG pixels between (and around) cells

    The PNG is exactly (rows * H * scale + (rows + 1) * border) pixels high, and likewise wide.
    Returns the path written (a str), or the Figure when path is None.
    """
    func = "sample_grid"
    path = _check_path(path, func)
    x = _finite(images, "images", func)
    H, W = _image_layout(x.shape, image_shape, "images", func)
    value_range = _pair(value_range, "value_range", func)
    n = len(x)
    ncol = math.ceil(math.sqrt(n)) if nrow is None else _positive_int(nrow, "nrow", func)
    ncol = min(ncol, n)
    rows = math.ceil(n / ncol)
    canvas = _compose(
        _to_unit(x.reshape(n, H, W), value_range),
        [divmod(i, ncol) for i in range(n)],
        (rows, ncol),
        scale=_positive_int(scale, "scale", func),
        border=_positive_int(border, "border", func, minimum=0),
        background=_color(border_color, "border_color", func),
    )
    return _finish(_image_figure(canvas), path)


def nearest_neighbour_grid(
    samples,
    train,
    neighbour_index,
    path: PathLike | None,
    *,
    image_shape: tuple[int, int] | None = None,
    per_row: int = 5,
    value_range: tuple[float, float] = (0.0, 1.0),
    scale: int = 3,
    border: int = 2,
    border_color="white",
    highlight_color="yellow",
    highlight_width: int = 3,
) -> str | Figure:
    """The paper's Figure 2: rows of samples; in the last column, the nearest training image.

    samples:         (n, H*W) or (n, H, W), generated images (image_shape=(H, W) if flat)
    train:           (N, H*W) or (N, H, W), the training set; only the rows used are read
    neighbour_index: (n,) ints, the index in train of the image nearest to each sample
                     (numgan.eval.metrics.nearest_neighbours(samples, train))
    per_row:         samples per row.  Row r holds samples r*per_row ... and then, framed in
                     highlight_color, train[neighbour_index[j]] where j is the row's last
                     sample: the image beside it.  A last, partial row keeps its neighbour in
                     the last column.  A generator that memorised its data shows twins there.

    value_range, scale, border: as in sample_grid.  Returns the path, or the Figure if path is
    None.
    """
    func = "nearest_neighbour_grid"
    path = _check_path(path, func)
    x = _finite(samples, "samples", func)
    H, W = _image_layout(x.shape, image_shape, "samples", func)
    n = len(x)

    idx = column_to_1d(np.asarray(neighbour_index))
    if idx.dtype.kind not in "iu":
        raise TypeError(
            f"{func}: neighbour_index must hold integer indices into train, got dtype {idx.dtype}"
        )
    if idx.shape != (n,):
        raise ValueError(
            f"{func}: neighbour_index must have shape (n,) = ({n},), one index per sample, "
            f"got {idx.shape}"
        )

    t = real_array(train, "train", func)  # not converted whole: a training set can be large
    if t.ndim not in (2, 3) or len(t) == 0:
        raise ValueError(
            f"{func}: train must have shape (N, H*W) or (N, H, W), N >= 1, got {t.shape}"
        )
    if t[0].size != H * W:
        raise ValueError(
            f"{func}: train images have {t[0].size} pixels (shape {t.shape}) but samples have "
            f"{H * W} ({H}x{W})"
        )
    if idx.min() < 0 or idx.max() >= len(t):
        raise ValueError(
            f"{func}: neighbour_index must lie in [0, {len(t)}) for train of {len(t)} images, "
            f"got values in [{idx.min()}, {idx.max()}]"
        )

    per_row = min(_positive_int(per_row, "per_row", func), n)
    rows = math.ceil(n / per_row)
    last = [min((r + 1) * per_row, n) - 1 for r in range(rows)]
    nearest = _finite(t[idx[last]], "train (the neighbours shown)", func).reshape(rows, H, W)
    value_range = _pair(value_range, "value_range", func)
    cells = _to_unit(np.concatenate([x.reshape(n, H, W), nearest]), value_range)
    slots = [divmod(i, per_row) for i in range(n)] + [(r, per_row) for r in range(rows)]
    highlight = _color(highlight_color, "highlight_color", func)
    canvas = _compose(
        cells,
        slots,
        (rows, per_row + 1),
        scale=_positive_int(scale, "scale", func),
        border=_positive_int(border, "border", func, minimum=0),
        background=_color(border_color, "border_color", func),
        margin=_positive_int(highlight_width, "highlight_width", func),
        frames={n + r: highlight for r in range(rows)},
    )
    return _finish(_image_figure(canvas), path)


# --- loss curves --------------------------------------------------------------------------------


def _moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values; the first window - 1 average what exists.

    out[t] = mean(y[max(0, t - window + 1) : t + 1]), same length as y, no future values used.
    """
    c = np.cumsum(np.concatenate([[0.0], y]))
    t = np.arange(1, len(y) + 1)
    lo = np.maximum(t - window, 0)
    return (c[t] - c[lo]) / (t - lo)


def loss_curves(
    history: Mapping[str, Sequence[float]],
    path: PathLike | None,
    *,
    smooth: int | str | None = "auto",
    optimum: tuple[float, str] | None = None,
) -> str | Figure:
    """Training curves against the iteration, from Trainer.history (or train()'s return).

    history: dict of equal-length sequences (T,), one value per iteration 1..T:
        d_loss, g_loss    panel 1, the two losses (D's is log 4 at the optimum, dotted)
        d_real, d_fake    panel 2, mean D(x) on data and D(G(z)) on fakes, dashed line at 1/2
        value             panel 3, the minibatch estimate of V(D, G), line at -log 4 (optimum)
    A panel is drawn when its keys are present; other keys are ignored.
    smooth:  moving-average window in iterations: "auto" (T // 50), or an int; None, 0 or 1
             draw the raw values only.  When smoothing, the raw values stay, faint, behind.
    optimum: (value at the optimum, what the value is) of the run's objective
             (Objective.value_at_optimum, .value_label); default (-log 4, "V(D, G)"), the
             cross-entropy game's.  D's loss at the optimum is minus that value.
    Returns the path, or the Figure (one Axes per panel) when path is None.
    """
    func = "loss_curves"
    path = _check_path(path, func)
    best, value_name = (OPTIMAL_VALUE, "V(D, G)") if optimum is None else optimum
    best = float(best)
    best_text = "-log 4" if best == OPTIMAL_VALUE else f"{best:.3g}"
    loss_text = "log 4" if best == OPTIMAL_VALUE else f"{-best:.3g}"
    if not isinstance(history, Mapping):
        raise TypeError(
            f"{func}: history must be a dict of sequences (Trainer.history), "
            f"got {type(history).__name__}"
        )
    groups = [("d_loss", "g_loss"), ("d_real", "d_fake"), ("value",)]
    present = [g for g in groups if all(k in history for k in g)]
    if not present:
        raise ValueError(
            f"{func}: history has none of d_loss+g_loss, d_real+d_fake, value; "
            f"it has keys {sorted(map(str, history))}"
        )
    series = {k: _vector(history[k], f"history[{k!r}]", func) for g in present for k in g}
    lengths = {k: len(v) for k, v in series.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{func}: history entries differ in length: {lengths}")
    T = next(iter(lengths.values()))
    if smooth == "auto":
        window = max(1, T // 50)
    elif smooth is None:
        window = 1
    elif isinstance(smooth, (int, np.integer)) and not isinstance(smooth, bool) and smooth >= 0:
        window = max(1, int(smooth))
    else:
        raise ValueError(
            f"{func}: smooth must be 'auto', None or a window in iterations (int >= 0), "
            f"got {smooth!r}"
        )
    window = min(window, T)
    it = np.arange(1, T + 1)

    fig = _new_figure(8.0, 2.6 * len(present) + 0.6)
    axes = fig.subplots(len(present), 1, sharex=True, squeeze=False)[:, 0]

    def curve(ax, key, label, color):
        y = series[key]
        marker = "o" if T == 1 else None
        if window > 1:
            ax.plot(it, y, color=color, lw=0.7, alpha=0.25)
            y = _moving_average(y, window)
        ax.plot(it, y, color=color, lw=1.5, label=label, marker=marker)

    styles = {
        ("d_loss", "g_loss"): (
            "losses",
            "loss",
            [("d_loss", "D loss", "C0"), ("g_loss", "G loss", "C2")],
            (-best, f"D loss at the optimum, {loss_text}", ":"),
        ),
        ("d_real", "d_fake"): (
            "discriminator outputs",
            "mean D(.)",
            [("d_real", "D(x), data", "k"), ("d_fake", "D(G(z)), generated", "C2")],
            (0.5, "1/2, the optimum", "--"),
        ),
        ("value",): (
            "value of the game",
            value_name,
            [("value", f"{value_name}, minibatch estimate", "C4")],
            (best, f"{best_text}, the optimum", "--"),
        ),
    }
    for ax, group in zip(axes, present, strict=True):
        title, ylabel, lines, (ref, ref_label, ref_style) = styles[group]
        for key, label, color in lines:
            curve(ax, key, label, color)
        ax.axhline(ref, color="0.4", ls=ref_style, lw=1.0, label=ref_label)
        if group == ("d_real", "d_fake"):
            ax.set_ylim(-0.03, 1.03)
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8, framealpha=0.85)
    axes[-1].set_xlabel("iteration")
    axes[-1].set_xlim(1 if T > 1 else 0.5, T if T > 1 else 1.5)
    if window > 1:
        fig.suptitle(f"moving average over {window} iterations (raw values faint)", fontsize=9)
    return _finish(fig, path)


# --- Figure 1: the 1-D toy ----------------------------------------------------------------------


def _p_g_bandwidth(samples: np.ndarray, x_grid: np.ndarray) -> float:
    """Silverman's rule, floored at the x_grid spacing: a collapsed G shows as a spike instead of
    vanishing between grid points.  With no spread at all the rule has no bandwidth, so the
    floor alone.
    """
    spacing = float(np.diff(x_grid).max())
    try:
        return max(silverman_bandwidth(samples), spacing)
    except ValueError:  # no spread: samples are already checked, so nothing else raises
        return spacing


_SNAPSHOT_KEYS = ("x_grid", "d_on_grid", "samples")
_SNAPSHOT_OPTIONAL = ("iteration", "z", "g_of_z")


def _snapshot(s, i: int, func: str) -> dict:
    """Check one snapshot; return it with float64 1-D arrays."""
    where = f"snapshots[{i}]"
    if not isinstance(s, Mapping):
        raise TypeError(f"{func}: {where} must be a dict, got {type(s).__name__}")
    missing = [k for k in _SNAPSHOT_KEYS if k not in s]
    unknown = [k for k in s if k not in _SNAPSHOT_KEYS + _SNAPSHOT_OPTIONAL]
    if missing or unknown:
        raise ValueError(
            f"{func}: {where} "
            + (f"lacks {missing}" if missing else f"has unknown keys {unknown}")
            + f": expected {list(_SNAPSHOT_KEYS)} and optionally {list(_SNAPSHOT_OPTIONAL)}"
        )
    out = {k: _vector(s[k], f"{where}[{k!r}]", func) for k in _SNAPSHOT_KEYS}
    x, d = out["x_grid"], out["d_on_grid"]
    if len(x) < 2 or not np.all(np.diff(x) > 0):
        raise ValueError(f"{func}: {where}['x_grid'] must be increasing, with at least 2 points")
    if d.shape != x.shape:
        raise ValueError(
            f"{func}: {where}: d_on_grid has shape {d.shape} but x_grid has {x.shape}: "
            "D must be evaluated at every grid point"
        )
    if d.min() < 0 or d.max() > 1:
        raise ValueError(
            f"{func}: {where}['d_on_grid'] must be probabilities D(x) in [0, 1], got values in "
            f"[{d.min():.3g}, {d.max():.3g}]: apply the sigmoid to D's logit (GAN.discriminate)"
        )
    has_z, has_g = "z" in s, "g_of_z" in s
    if has_z != has_g:
        raise ValueError(
            f"{func}: {where} needs both 'z' and 'g_of_z' (for the arrows), or neither"
        )
    if has_z:
        out["z"] = _vector(s["z"], f"{where}['z']", func)
        out["g_of_z"] = _vector(s["g_of_z"], f"{where}['g_of_z']", func)
        if out["z"].shape != out["g_of_z"].shape:
            raise ValueError(
                f"{func}: {where}: z has shape {out['z'].shape} but g_of_z has "
                f"{out['g_of_z'].shape}: one G(z) per z"
            )
    out["iteration"] = s.get("iteration")
    return out


def _panel_name(i: int) -> str:
    return f"({'abcdefghijklmnopqrstuvwxyz'[i]})" if i < 26 else f"({i + 1})"


def figure1d(
    snapshots: Sequence[Mapping],
    path: PathLike | None,
    *,
    data_pdf: Callable[[np.ndarray], np.ndarray],
    x_range: tuple[float, float],
    z_range: tuple[float, float] | None = None,
    bandwidth: float | None = None,
    y_max: float | None = None,
) -> str | Figure:
    """Figure 1 of Goodfellow et al. (2014): the game on the line, at several points of training.

    snapshots: a list of dicts, one panel each, (a), (b), (c), ... left to right:
        x_grid     (m,) increasing points of x, where D was evaluated
        d_on_grid  (m,) or (m, 1), D(x) in [0, 1] at x_grid (GAN.discriminate, not the logit)
        samples    (n,) or (n, 1), draws from G, for p_g
        iteration  (optional) the iteration, printed under the panel
        z, g_of_z  (optional) (k,) noise values and G(z), drawn as the arrows z -> x = G(z)
    data_pdf:  p_data as a callable on an array of x (e.g. Gaussian1D(4, 0.5).pdf)
    x_range:   (lo, hi), the x extent of every panel
    z_range:   the interval the z line stands for (default: the z values' min and max); it is
               drawn across the panel's width, so the arrows show how G squeezes and stretches
               the noise: uniform spacing below, G's density above
    bandwidth: KDE bandwidth h for p_g (default Silverman's rule, floored at the x_grid spacing
               so a collapsed G shows as a spike instead of vanishing between grid points)
    y_max:     top of the density axis (default: shared by all panels, fitting D, p_data and
               p_g, with p_g's spikes cut at 3 times the larger of 1 and p_data's peak; a cut
               spike is labelled with its height)

    As in the paper: p_data black dotted, D(x) blue dashed, p_g green solid.  Returns the path,
    or the Figure when path is None (fig.axes pairs up per panel: its densities, then its z -> x).
    """
    func = "figure1d"
    path = _check_path(path, func)
    if isinstance(snapshots, Mapping) or not isinstance(snapshots, Sequence):
        raise TypeError(
            f"{func}: snapshots must be a list of dicts, got {type(snapshots).__name__}"
        )
    if len(snapshots) == 0:
        raise ValueError(f"{func}: snapshots is empty: pass at least one snapshot dict")
    if not callable(data_pdf):
        raise TypeError(f"{func}: data_pdf must be a callable x -> p_data(x), got {data_pdf!r}")
    x_lo, x_hi = _pair(x_range, "x_range", func)
    snaps = [_snapshot(s, i, func) for i, s in enumerate(snapshots)]
    if bandwidth is not None and not (math.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"{func}: bandwidth must be a positive number, got {bandwidth!r}")

    for i, s in enumerate(snaps):
        x = s["x_grid"]
        p_data = np.asarray(data_pdf(x), dtype=np.float64)
        if p_data.shape != x.shape:
            p_data = p_data.reshape(-1) if p_data.size == x.size else p_data
        if p_data.shape != x.shape:
            raise ValueError(
                f"{func}: data_pdf(x_grid) returned shape {p_data.shape} for x_grid {x.shape}"
            )
        if not np.isfinite(p_data).all() or p_data.min() < 0:
            raise ValueError(
                f"{func}: data_pdf gave negative or non-finite densities (snapshot {i})"
            )
        s["p_data"] = p_data
        h = float(bandwidth) if bandwidth is not None else _p_g_bandwidth(s["samples"], x)
        # batch_size: blocks of (batch, n) kernel values, about a million floats at a time.
        batch = max(1, 1_000_000 // len(s["samples"]))
        s["p_g"] = kde_1d(s["samples"], x, h, batch_size=batch)

    if y_max is None:
        data_top = max(1.0, max(s["p_data"].max() for s in snaps))
        g_top = min(max(s["p_g"].max() for s in snaps), 3.0 * data_top)
        y_top = 1.08 * max(data_top, g_top)
    else:
        if not (math.isfinite(y_max) and y_max > 0):
            raise ValueError(f"{func}: y_max must be a positive number, got {y_max!r}")
        y_top = float(y_max)

    if z_range is None:
        zs = [s["z"] for s in snaps if "z" in s]
        z_lo, z_hi = (min(z.min() for z in zs), max(z.max() for z in zs)) if zs else (0.0, 1.0)
        if z_hi - z_lo < 1e-12:
            z_lo, z_hi = z_lo - 0.5, z_hi + 0.5
    else:
        z_lo, z_hi = _pair(z_range, "z_range", func)

    P = len(snaps)
    # The row of z -> G(z) arrows, only where a snapshot has them (1-D noise).
    arrows = any("z" in s for s in snaps)
    fig = _new_figure(2.9 * P + 0.5, 4.2 if arrows else 3.3)
    grid = fig.add_gridspec(2 if arrows else 1, P, height_ratios=(3.0, 1.15) if arrows else None)
    tops = []
    for j, s in enumerate(snaps):
        top = fig.add_subplot(grid[0, j], sharey=tops[0] if tops else None)
        tops.append(top)
        x = s["x_grid"]
        top.plot(x, s["p_data"], color="k", ls=":", lw=2.0, label="data density p_data")
        top.plot(x, s["d_on_grid"], color="C0", ls="--", lw=1.6, label="discriminator D(x)")
        top.plot(x, s["p_g"], color="C2", ls="-", lw=1.8, label="generator density p_g")
        top.set_xlim(x_lo, x_hi)
        top.set_ylim(0.0, y_top)
        peak = int(np.argmax(s["p_g"]))
        if s["p_g"][peak] > y_top:  # a spike cut by the axis: say how tall it is
            right = x[peak] > x_lo + 0.6 * (x_hi - x_lo)
            top.text(
                x[peak],
                0.98 * y_top,
                f"  p_g peaks at {s['p_g'][peak]:.3g}  ",
                color="C2",
                fontsize=8,
                ha="right" if right else "left",
                va="top",
            )
        # x's tick labels sit just above the x line, not under the z line.
        top.tick_params(labelbottom=True, labelleft=j == 0, labelsize=8)
        top.grid(alpha=0.2)
        if j == 0:
            top.set_ylabel("density, D(x)")

        label = _panel_name(j)
        if s["iteration"] is not None:
            label += f"  iteration {s['iteration']}"
        if not arrows:
            top.set_xlabel(label, fontsize=10)
            continue
        # The z line below, the x line above it, arrows z -> G(z).
        bottom = fig.add_subplot(grid[1, j], sharex=top)
        bottom.set_ylim(-0.15, 1.2)
        for spine in bottom.spines.values():
            spine.set_visible(False)
        bottom.tick_params(left=False, labelleft=False, bottom=False, labelbottom=False)
        bottom.axhline(1.0, color="k", lw=1.0)
        bottom.axhline(0.0, color="k", lw=1.0)
        if j == 0:
            for y, line_name in ((1.0, "x"), (0.0, "z")):
                bottom.text(
                    -0.02,
                    y,
                    line_name,
                    transform=bottom.get_yaxis_transform(),
                    ha="right",
                    va="center",
                    fontsize=11,
                    style="italic",
                )
        if "z" in s:
            zpos = x_lo + (s["z"] - z_lo) / (z_hi - z_lo) * (x_hi - x_lo)
            bottom.plot(zpos, np.zeros_like(zpos), "k.", ms=3)
            for a, b in zip(zpos, s["g_of_z"], strict=True):
                bottom.add_patch(
                    FancyArrowPatch(
                        (a, 0.0),
                        (b, 1.0),
                        arrowstyle="-|>",
                        mutation_scale=7,
                        lw=0.7,
                        color="0.25",
                        shrinkA=0,
                        shrinkB=0,
                    )
                )
        bottom.set_xlabel(label, fontsize=10)
    handles = tops[0].get_lines()
    fig.legend(handles=handles, loc="outside upper center", ncols=3, fontsize=9, frameon=False)
    return _finish(fig, path)


# --- 2-D mixtures -------------------------------------------------------------------------------


def scatter2d(
    samples,
    path: PathLike | None,
    *,
    means=None,
    sigma=None,
    n_sigma: float = 3.0,
    title: str | None = None,
) -> str | Figure:
    """Generated 2-D samples over the modes of a Gaussian mixture.

    samples: (n, 2), e.g. GAN.sample(n, rng) for a 2-D mixture
    means:   (K, 2) or None, the modes, drawn as red crosses
    sigma:   None, a number, or (K,): each mode's standard deviation; draws a dashed circle of
             radius n_sigma * sigma around each mode, the region where a sample counts as high
             quality (3 sigma, as numgan.eval.metrics.mode_coverage scores it).  Needs means.
    title:   optional axes title.
    Returns the path, or the Figure when path is None.
    """
    func = "scatter2d"
    path = _check_path(path, func)
    x = _finite(samples, "samples", func)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"{func}: samples must have shape (n, 2), got {x.shape}")
    m = None
    if means is not None:
        m = _finite(means, "means", func)
        if m.ndim != 2 or m.shape[1] != 2:
            raise ValueError(f"{func}: means must have shape (K, 2), got {m.shape}")
    radii = None
    if sigma is not None:
        if m is None:
            raise ValueError(f"{func}: sigma draws circles around the modes: pass means too")
        s = _finite(sigma, "sigma", func)
        if s.ndim > 1 or (s.ndim == 1 and s.shape != (len(m),)):
            raise ValueError(
                f"{func}: sigma must be a number or shape (K,) = ({len(m)},), got {s.shape}"
            )
        if not (math.isfinite(n_sigma) and n_sigma > 0):
            raise ValueError(f"{func}: n_sigma must be a positive number, got {n_sigma!r}")
        if s.min() <= 0:
            raise ValueError(f"{func}: sigma must be positive, got min {s.min()}")
        radii = n_sigma * np.broadcast_to(s, (len(m),))

    fig = _new_figure(6.0, 6.0)
    ax = fig.add_subplot()
    # Many points overlap: fade them so density shows, but keep a lone stray visible.
    alpha = float(np.clip(300.0 / len(x), 0.25, 0.9))
    ax.scatter(x[:, 0], x[:, 1], s=7, color="C0", alpha=alpha, lw=0, zorder=2)
    handles = [Line2D([], [], ls="", marker="o", ms=5, color="C0", label=f"samples (n = {len(x)})")]
    if m is not None:
        # Under the samples: a mode G covers disappears under its dots; a missed one stands out.
        ax.scatter(m[:, 0], m[:, 1], marker="+", s=140, lw=1.5, color="C3", zorder=1)
        handles.append(
            Line2D(
                [], [], ls="", marker="+", ms=10, mew=1.5, color="C3", label=f"modes (K = {len(m)})"
            )
        )
    if radii is not None:
        for (cx, cy), r in zip(m, radii, strict=True):
            ax.add_patch(Circle((cx, cy), r, fill=False, ls="--", lw=1.0, color="C3", zorder=3))
        handles.append(
            Line2D([], [], ls="--", color="C3", label=f"{n_sigma:g} sigma: high quality")
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.grid(alpha=0.25)
    if title is not None:
        ax.set_title(title)
    # Outside the axes, so it never hides a mode.
    fig.legend(
        handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False
    )
    return _finish(fig, path)


# --- sweeps -------------------------------------------------------------------------------------


def metric_dots(panels: Sequence[Mapping], path: PathLike | None) -> str | Figure:
    """One metric per configuration of a sweep: a dot per seed, a bar at the mean.

    panels: one per dataset, each a mapping with
            "title"   the panel's title (the dataset)
            "ylabel"  the metric's name
            "labels"  the configurations, best first (n,)
            "values"  the metric of each configuration's runs: n sequences of numbers (NaN or
                      an empty sequence: a configuration with no finished run, drawn empty)
    Returns the path, or the Figure when path is None.
    """
    func = "metric_dots"
    path = _check_path(path, func)
    if not panels:
        raise ValueError(f"{func}: give at least one panel")
    # Configurations down the side, best at the top: their names (a sweep's run names, up to
    # 200 characters) stay readable, however many and however long.
    rows = max(len(p["labels"]) for p in panels)
    longest = max((len(str(label)) for p in panels for label in p["labels"]), default=1)
    fig = _new_figure(min(22.0, 4.5 + 0.065 * longest), (0.32 * rows + 1.1) * len(panels) + 0.4)
    for p in panels:
        labels, values = list(p["labels"]), list(p["values"])
        if len(labels) != len(values):
            raise ValueError(
                f"{func}: panel {p.get('title')!r} has {len(labels)} labels and "
                f"{len(values)} value lists"
            )
        ax = fig.add_subplot(len(panels), 1, len(fig.axes) + 1)
        for i, v in enumerate(values):
            v = np.asarray(v, dtype=np.float64).ravel()
            v = v[np.isfinite(v)]
            if not len(v):
                continue
            # Seeds that tie (modes are whole numbers) spread across the row, so each dot shows.
            offsets = np.linspace(-0.15, 0.15, len(v)) if len(v) > 1 else np.zeros(1)
            ax.scatter(v, i + offsets, s=22, color="C0", zorder=3)
            ax.vlines(v.mean(), i - 0.3, i + 0.3, color="C3", lw=2, zorder=2)
        if all(float(x).is_integer() for v in values for x in np.ravel(v) if np.isfinite(x)):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # modes: whole numbers
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylim(len(labels) - 0.4, -0.6)  # the first (best) configuration at the top
        ax.set_xlabel(str(p["ylabel"]))
        ax.set_title(str(p["title"]))
        ax.grid(axis="x", alpha=0.25)
    handles = [
        Line2D([], [], ls="", marker="o", ms=5, color="C0", label="one seed"),
        Line2D([], [], color="C3", lw=2, label="mean over seeds"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return _finish(fig, path)
