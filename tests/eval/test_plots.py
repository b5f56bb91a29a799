"""numgan.eval.plots: valid PNGs of the right size, atomic writes, exact grid pixels, errors."""

import functools
import math
import os
import subprocess
import sys

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure

from numgan.eval import metrics, plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    """(h, w, 3) floats in [0, 1], after checking the file is a PNG."""
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    return matplotlib.image.imread(path)[..., :3]


def gaussian_pdf(x, mu=4.0, sigma=0.5):
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def snapshot(rng, iteration=0, mu=3.0, with_arrows=True):
    x = np.linspace(0.0, 8.0, 120)
    s = {
        "iteration": iteration,
        "x_grid": x,
        "d_on_grid": 1.0 / (1.0 + np.exp(-(x - 3.5)))[:, None],  # (m, 1), as GAN.discriminate
        "samples": rng.normal(mu, 0.7, size=(400, 1)),  # (n, 1), as GAN.sample
    }
    if with_arrows:
        z = np.linspace(-1.0, 1.0, 9)
        s["z"], s["g_of_z"] = z, mu + 0.7 * z
    return s


def history(T=200, seed=0):
    rng = np.random.default_rng(seed)
    d_real = np.clip(0.5 + 0.1 * rng.normal(size=T), 0.01, 0.99)
    d_fake = np.clip(0.5 + 0.1 * rng.normal(size=T), 0.01, 0.99)
    d_loss = -(np.log(d_real) + np.log(1.0 - d_fake))
    return {
        "d_loss": d_loss,
        "g_loss": list(-np.log(d_fake)),  # Trainer.history holds lists
        "d_real": d_real,
        "d_fake": d_fake,
        "value": -d_loss,
    }


def all_calls(rng):
    """One valid call of each function, as (name, f(path))."""
    imgs = rng.uniform(size=(6, 20))
    train = rng.uniform(size=(10, 4, 5))
    return [
        ("sample_grid", lambda p: plots.sample_grid(imgs, p, image_shape=(4, 5))),
        (
            "nearest_neighbour_grid",
            lambda p: plots.nearest_neighbour_grid(
                imgs, train, np.arange(6), p, image_shape=(4, 5), per_row=3
            ),
        ),
        ("loss_curves", lambda p: plots.loss_curves(history(), p)),
        (
            "figure1d",
            lambda p: plots.figure1d([snapshot(rng)], p, data_pdf=gaussian_pdf, x_range=(0.0, 8.0)),
        ),
        (
            "scatter2d",
            lambda p: plots.scatter2d(rng.normal(size=(300, 2)), p, means=np.eye(2), sigma=0.1),
        ),
        ("metric_dots", lambda p: plots.metric_dots(sweep_panels(), p)),
    ]


def sweep_panels():
    return [
        {
            "title": "ring8",
            "ylabel": "modes",
            "labels": ["lr=0.001", "lr=0.0002"],
            "values": [[8, 7, 8], [6, 7]],
        },
        {
            "title": "grid25",
            "ylabel": "modes",
            "labels": ["lr=0.001", "lr=0.0002"],
            "values": [[20.0, float("nan")], []],
        },
    ]


CALL_NAMES = [name for name, _ in all_calls(np.random.default_rng(0))]


def call(name, path):
    return dict(all_calls(np.random.default_rng(0)))[name](path)


# --- every function ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", CALL_NAMES)
def test_writes_a_png_over_the_old_file_and_returns_its_path(tmp_path, name):
    path = tmp_path / f"{name}.png"
    path.write_bytes(b"old")
    out = call(name, path)
    assert out == str(path)
    image = read_png(path)
    assert image.shape[0] > 30 and image.shape[1] > 30
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left beside it


@pytest.mark.parametrize("name", CALL_NAMES)
def test_path_none_returns_an_agg_figure(name):
    fig = call(name, None)
    assert isinstance(fig, Figure)
    assert isinstance(fig.canvas, FigureCanvasAgg)
    assert fig.axes


@pytest.mark.parametrize("name", CALL_NAMES)
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, name):
    def broken_print_png(self, f, *args, **kwargs):
        f.write(PNG_SIGNATURE + b"half a picture")  # a partial file, then the failure
        raise OSError("disk full")

    monkeypatch.setattr(FigureCanvasAgg, "print_png", broken_print_png)
    path = tmp_path / "out.png"
    path.write_bytes(b"previous figure")
    with pytest.raises(OSError, match="disk full"):
        call(name, path)
    assert path.read_bytes() == b"previous figure"
    assert os.listdir(tmp_path) == ["out.png"]


@pytest.mark.parametrize("name", CALL_NAMES)
def test_path_errors_come_before_drawing(tmp_path, name):
    with pytest.raises(ValueError, match=r"must end in \.png"):
        call(name, tmp_path / "figure.pdf")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        call(name, tmp_path / "missing" / "figure.png")
    assert os.listdir(tmp_path) == []


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """Every test here, writing or returning figures, leaves pyplot with no figures."""
    assert plt.get_fignums() == []
    yield
    assert plt.get_fignums() == []


@functools.cache
def pyplot_imported_by_plots() -> bool:
    # A fresh interpreter; run once however many backends the suite runs under.
    code = "import sys, numgan.eval.plots; sys.exit('matplotlib.pyplot' in sys.modules)"
    return subprocess.run([sys.executable, "-c", code], timeout=60).returncode != 0


def test_importing_plots_does_not_import_pyplot():
    assert not pyplot_imported_by_plots()


# --- sample_grid ------------------------------------------------------------------------------


def test_sample_grid_size_follows_the_grid(tmp_path):
    # 7 images of 4x5 in rows of 3: 3 rows; each PNG side is cells * size * scale + borders.
    images = np.zeros((7, 4, 5))
    image = read_png(plots.sample_grid(images, tmp_path / "g.png", nrow=3, scale=2, border=1))
    assert image.shape[:2] == (3 * 4 * 2 + 4 * 1, 3 * 5 * 2 + 4 * 1)
    image = read_png(plots.sample_grid(images, tmp_path / "g.png", scale=3, border=2))
    # default nrow = ceil(sqrt(7)) = 3 per row
    assert image.shape[:2] == (3 * 4 * 3 + 4 * 2, 3 * 5 * 3 + 4 * 2)


def test_sample_grid_pixels(tmp_path):
    # Cell 4 (row 1, col 1 of a 3-wide grid) is all ones, the rest zeros: that cell's region
    # comes back white, the others black, and the borders grey.
    H, W, scale, border = 4, 6, 3, 2
    images = np.zeros((9, H * W))
    images[4] = 1.0
    image = read_png(
        plots.sample_grid(
            images, tmp_path / "g.png", image_shape=(H, W), nrow=3, scale=scale, border=border
        )
    )
    gray = image.mean(axis=2)
    ch, cw = H * scale, W * scale

    def cell(r, c):
        y, x = border + r * (ch + border), border + c * (cw + border)
        return gray[y : y + ch, x : x + cw]

    np.testing.assert_allclose(cell(1, 1), 1.0)
    for r in range(3):
        for c in range(3):
            if (r, c) != (1, 1):
                np.testing.assert_allclose(cell(r, c), 0.0)
    np.testing.assert_allclose(gray[:border], 0.5, atol=0.01)  # top border, border_color 0.5
    np.testing.assert_allclose(image[..., 0], image[..., 2])  # grayscale


def test_sample_grid_value_range_maps_and_clips(tmp_path):
    # value_range (-1, 1): -1 black, 0 mid-grey, 1 white, and 3 clipped to white.
    images = np.array([-1.0, 0.0, 1.0, 3.0])[:, None, None] * np.ones((4, 2, 2))
    image = read_png(
        plots.sample_grid(
            images, tmp_path / "g.png", nrow=4, scale=1, border=1, value_range=(-1, 1)
        )
    )
    centres = image[1, [1, 4, 7, 10], 0]
    np.testing.assert_allclose(centres, [0.0, 0.5, 1.0, 1.0], atol=0.01)


def test_sample_grid_figure_shows_the_canvas():
    fig = plots.sample_grid(np.ones((2, 3, 3)), None, scale=1, border=1)
    assert fig.get_size_inches() * fig.dpi == pytest.approx([9, 5])


@pytest.mark.parametrize(
    "images, kwargs, error, match",
    [
        (np.zeros((0, 16)), {"image_shape": (4, 4)}, ValueError, "empty"),
        (np.zeros((3, 16)), {}, ValueError, r"flat.*image_shape"),
        (np.zeros((3, 16)), {"image_shape": (3, 5)}, ValueError, "holds 15 pixels"),
        (np.zeros((3, 4, 4)), {"image_shape": (2, 8)}, ValueError, "disagrees"),
        (np.zeros((3, 1, 4, 4)), {}, ValueError, "grayscale only"),
        (np.zeros(16), {"image_shape": (4, 4)}, ValueError, r"\(n, H\*W\) or \(n, H, W\)"),
        (np.full((2, 4, 4), np.nan), {}, ValueError, "non-finite"),
        (np.array([[[np.inf]]]), {}, ValueError, "non-finite"),
        (np.array([["a"]]), {}, TypeError, "numeric"),
        (np.zeros((2, 4, 4)), {"value_range": (1, 0)}, ValueError, "lo < hi"),
        (np.zeros((2, 4, 4)), {"nrow": 0}, ValueError, "nrow"),
        (np.zeros((2, 4, 4)), {"scale": 1.5}, ValueError, "scale"),
        (np.zeros((2, 4, 4)), {"border_color": "nope"}, ValueError, "colour"),
    ],
)
def test_sample_grid_bad_input(images, kwargs, error, match):
    with pytest.raises(error, match=match):
        plots.sample_grid(images, None, **kwargs)


# --- nearest_neighbour_grid ---------------------------------------------------------------------


def test_nearest_neighbour_grid_layout_and_pixels(tmp_path):
    # Samples are black; train image j is uniformly j / 10.  Row r's last column must show
    # train[neighbour_index[last sample of row r]], framed in yellow.
    H, W, scale, border, frame = 3, 4, 2, 1, 2
    samples = np.zeros((5, H * W))
    train = np.arange(10.0)[:, None, None] / 10 * np.ones((10, H, W))
    neighbour_index = np.array([9, 9, 3, 9, 7])  # rows of 3: last samples are 2 and 4
    path = plots.nearest_neighbour_grid(
        samples,
        train,
        neighbour_index,
        tmp_path / "nn.png",
        image_shape=(H, W),
        per_row=3,
        scale=scale,
        border=border,
        highlight_width=frame,
    )
    image = read_png(path)
    sh, sw = H * scale + 2 * frame, W * scale + 2 * frame
    assert image.shape[:2] == (2 * sh + 3 * border, 4 * sw + 5 * border)
    for r, expected in ((0, 0.3), (1, 0.7)):
        y, x = border + r * (sh + border), border + 3 * (sw + border)
        slot = image[y : y + sh, x : x + sw]
        np.testing.assert_allclose(slot[frame:-frame, frame:-frame], expected, atol=0.01)
        yellow = np.array([1.0, 1.0, 0.0])
        np.testing.assert_allclose(slot[0, :], np.tile(yellow, (sw, 1)), atol=0.01)  # the frame
        np.testing.assert_allclose(slot[:, 0], np.tile(yellow, (sh, 1)), atol=0.01)
    # a sample's slot: black image inside the white background, no frame
    y, x = border, border
    np.testing.assert_allclose(image[y + frame : y + sh - frame, x + frame : x + sw - frame], 0.0)
    np.testing.assert_allclose(image[y, x : x + sw], 1.0)
    # the empty slot after sample 4 (row 1, column 2) shows the background
    y, x = border + sh + border, border + 2 * (sw + border)
    np.testing.assert_allclose(image[y : y + sh, x : x + sw], 1.0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"neighbour_index": np.arange(3)}, ValueError, r"shape \(n,\) = \(4,\)"),
        ({"neighbour_index": np.array([0, 1, 2, 10])}, ValueError, r"\[0, 10\)"),
        ({"neighbour_index": np.array([0, 1, 2, -1])}, ValueError, r"\[0, 10\)"),
        ({"neighbour_index": np.zeros(4)}, TypeError, "integer"),
        ({"train": np.zeros((10, 15))}, ValueError, "15 pixels"),
        ({"train": np.zeros((0, 16))}, ValueError, "N >= 1"),
        ({"train": np.full((10, 16), np.nan)}, ValueError, r"train.*non-finite"),
        ({"samples": np.zeros((4, 16)), "image_shape": None}, ValueError, "image_shape"),
        ({"per_row": 0}, ValueError, "per_row"),
        ({"highlight_width": 0}, ValueError, "highlight_width"),
    ],
)
def test_nearest_neighbour_grid_bad_input(kwargs, error, match):
    args = {
        "samples": np.zeros((4, 16)),
        "train": np.zeros((10, 4, 4)),
        "neighbour_index": np.arange(4),
        "image_shape": (4, 4),
    }
    args.update(kwargs)
    with pytest.raises(error, match=match):
        plots.nearest_neighbour_grid(
            args.pop("samples"), args.pop("train"), args.pop("neighbour_index"), None, **args
        )


# --- loss_curves --------------------------------------------------------------------------------


def test_moving_average_is_trailing_and_keeps_the_length():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(plots._moving_average(y, 2), [1.0, 1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(plots._moving_average(y, 1), y)
    np.testing.assert_allclose(plots._moving_average(y, 5), [1.0, 1.5, 2.0, 2.5, 3.0])


def test_loss_curves_panels_and_reference_lines():
    fig = plots.loss_curves(history(), None, smooth=None)
    losses, outputs, value = fig.axes
    assert value.get_xlabel() == "iteration"

    def flat_lines(ax):
        return [ln.get_ydata()[0] for ln in ax.get_lines() if len(set(ln.get_ydata())) == 1]

    assert flat_lines(losses) == [pytest.approx(math.log(4))]
    assert flat_lines(outputs) == [0.5]
    assert flat_lines(value) == [pytest.approx(-math.log(4))]
    # x is the iteration, 1..T
    np.testing.assert_array_equal(losses.get_lines()[0].get_xdata(), np.arange(1, 201))


def test_loss_curves_smoothing_draws_raw_and_smoothed():
    h = history()
    fig = plots.loss_curves(h, None, smooth=10)
    lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), h["d_loss"])  # raw, faint
    np.testing.assert_allclose(lines[1].get_ydata(), plots._moving_average(h["d_loss"], 10))
    assert len(plots.loss_curves(h, None, smooth=None).axes[0].get_lines()) == 3  # D, G, ref


def test_loss_curves_draws_the_panels_it_has_keys_for():
    h = history()
    assert len(plots.loss_curves({"value": h["value"]}, None).axes) == 1
    assert len(plots.loss_curves({k: h[k] for k in ("d_loss", "g_loss")}, None).axes) == 1
    assert len(plots.loss_curves({"d_loss": [1.0], "g_loss": [0.7]}, None).axes) == 1


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"d_loss": []}, ValueError, "empty"),
        ({"g_loss": [0.5] * 199}, ValueError, "differ in length"),
        ({"value": [np.nan] * 200}, ValueError, r"history\['value'\].*non-finite"),
        ({"d_real": np.zeros((200, 2))}, ValueError, r"shape \(n,\)"),
        ({"smooth": -1}, ValueError, "smooth"),
        ({"smooth": "yes"}, ValueError, "smooth"),
    ],
)
def test_loss_curves_bad_input(change, error, match):
    h, change = history(), dict(change)  # parametrised dicts are shared by both backends
    smooth = change.pop("smooth", "auto")
    h.update(change)
    with pytest.raises(error, match=match):
        plots.loss_curves(h, None, smooth=smooth)


def test_loss_curves_needs_known_keys():
    with pytest.raises(ValueError, match="none of d_loss"):
        plots.loss_curves({"loss": [1.0]}, None)
    with pytest.raises(TypeError, match="dict"):
        plots.loss_curves([1.0, 2.0], None)


# --- figure1d -----------------------------------------------------------------------------------


def test_figure1d_draws_the_metrics_kde():
    # p_g is metrics.kde_1d with Silverman's bandwidth, or the given one: the curve on the
    # figure is the density the 1-D diagnostics score.
    s = snapshot(np.random.default_rng(1))
    x, samples = s["x_grid"], s["samples"]
    for bandwidth in (None, 0.3):
        fig = plots.figure1d([s], None, data_pdf=gaussian_pdf, x_range=(0, 8), bandwidth=bandwidth)
        p_g = fig.axes[0].get_lines()[2].get_ydata()
        np.testing.assert_allclose(p_g, metrics.kde_1d(samples, x, bandwidth), rtol=1e-12)


def test_figure1d_panels_grow_the_width(tmp_path):
    rng = np.random.default_rng(0)
    one = read_png(
        plots.figure1d([snapshot(rng)], tmp_path / "a.png", data_pdf=gaussian_pdf, x_range=(0, 8))
    )
    two = read_png(
        plots.figure1d(
            [snapshot(rng, i) for i in range(2)],
            tmp_path / "b.png",
            data_pdf=gaussian_pdf,
            x_range=(0, 8),
        )
    )
    assert one.shape[0] == two.shape[0]
    assert 1.7 < two.shape[1] / one.shape[1] < 2.1


def test_figure1d_curves_and_arrows():
    rng = np.random.default_rng(0)
    snaps = [snapshot(rng, 0), snapshot(rng, 500, with_arrows=False)]
    fig = plots.figure1d(snaps, None, data_pdf=gaussian_pdf, x_range=(0, 8))
    top_a, bottom_a, top_b, bottom_b = fig.axes
    p_data, d, p_g = top_a.get_lines()
    assert p_data.get_color() == "k" and p_data.get_linestyle() == ":"
    assert d.get_linestyle() == "--" and p_g.get_linestyle() == "-"
    np.testing.assert_allclose(d.get_ydata(), snaps[0]["d_on_grid"][:, 0])
    x = snaps[0]["x_grid"]
    assert np.trapezoid(p_g.get_ydata(), x) == pytest.approx(1.0, abs=0.02)
    assert len(bottom_a.patches) == 9 and len(bottom_b.patches) == 0  # one arrow per z
    assert bottom_a.get_xlabel() == "(a)  iteration 0"
    assert bottom_b.get_xlabel() == "(b)  iteration 500"
    assert top_a.get_ylim() == top_b.get_ylim()  # shared, so panels compare


def test_figure1d_collapsed_generator_is_a_finite_spike():
    rng = np.random.default_rng(0)
    s = snapshot(rng)
    s["samples"] = np.full(100, 4.0)  # zero spread: Silverman gives h = 0
    fig = plots.figure1d([s], None, data_pdf=gaussian_pdf, x_range=(0, 8))
    p_g = fig.axes[0].get_lines()[2].get_ydata()
    assert np.isfinite(p_g).all() and p_g.max() > fig.axes[0].get_ylim()[1]
    assert any("p_g peaks at" in t.get_text() for t in fig.axes[0].texts)  # the cut is labelled


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"d_on_grid": np.full(120, 3.0)}, ValueError, r"\[0, 1\].*sigmoid"),
        ({"d_on_grid": np.zeros(60)}, ValueError, "every grid point"),
        ({"x_grid": np.linspace(8, 0, 120)}, ValueError, "increasing"),
        ({"samples": np.array([1.0, np.inf])}, ValueError, "non-finite"),
        ({"samples": np.zeros((5, 2))}, ValueError, r"\(n,\) or \(n, 1\)"),
        ({"samples": np.array([])}, ValueError, "empty"),
        ({"g_of_z": np.zeros(4)}, ValueError, "one G"),
        ({"z": None}, ValueError, "both 'z' and 'g_of_z'"),
        ({"x_grid": None}, ValueError, r"lacks \['x_grid'\]"),
        ({"D": np.zeros(120)}, ValueError, "unknown keys"),
    ],
)
def test_figure1d_bad_snapshot(change, error, match):
    s = snapshot(np.random.default_rng(0))
    for key, value in change.items():
        if value is None:
            del s[key]
        else:
            s[key] = value
    with pytest.raises(error, match=match):
        plots.figure1d([s], None, data_pdf=gaussian_pdf, x_range=(0, 8))


def test_figure1d_bad_arguments():
    s = snapshot(np.random.default_rng(0))
    with pytest.raises(ValueError, match="empty"):
        plots.figure1d([], None, data_pdf=gaussian_pdf, x_range=(0, 8))
    with pytest.raises(TypeError, match="list of dicts"):
        plots.figure1d(s, None, data_pdf=gaussian_pdf, x_range=(0, 8))
    with pytest.raises(TypeError, match="callable"):
        plots.figure1d([s], None, data_pdf=gaussian_pdf(1.0), x_range=(0, 8))
    with pytest.raises(ValueError, match="x_range"):
        plots.figure1d([s], None, data_pdf=gaussian_pdf, x_range=(8, 0))
    with pytest.raises(ValueError, match="data_pdf"):
        plots.figure1d([s], None, data_pdf=lambda x: -np.ones_like(x), x_range=(0, 8))
    with pytest.raises(ValueError, match="bandwidth"):
        plots.figure1d([s], None, data_pdf=gaussian_pdf, x_range=(0, 8), bandwidth=0.0)


# --- scatter2d ----------------------------------------------------------------------------------


def test_scatter2d_circles_per_mode():
    means = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    fig = plots.scatter2d(np.zeros((10, 2)), None, means=means, sigma=[0.1, 0.2, 0.3])
    radii = sorted(p.radius for p in fig.axes[0].patches)
    assert radii == pytest.approx([0.3, 0.6, 0.9])  # 3 sigma
    assert not plots.scatter2d(np.zeros((10, 2)), None, means=means).axes[0].patches


@pytest.mark.parametrize(
    "samples, kwargs, match",
    [
        (np.zeros((10, 3)), {}, r"samples must have shape \(n, 2\)"),
        (np.zeros((0, 2)), {}, "empty"),
        (np.array([[0.0, np.nan]]), {}, "non-finite"),
        (np.zeros((10, 2)), {"means": np.zeros(2)}, r"means must have shape \(K, 2\)"),
        (np.zeros((10, 2)), {"sigma": 0.1}, "pass means"),
        (np.zeros((10, 2)), {"means": np.zeros((3, 2)), "sigma": [1.0, 1.0]}, r"\(K,\) = \(3,\)"),
        (np.zeros((10, 2)), {"means": np.zeros((3, 2)), "sigma": 0.0}, "positive"),
    ],
)
def test_scatter2d_bad_input(samples, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plots.scatter2d(samples, None, **kwargs)


def test_figure1d_without_noise_arrows_has_no_empty_z_row():
    """Data of one feature from a file, with noise of several dimensions: no z -> x row."""
    rng = np.random.default_rng(0)
    snaps = [snapshot(rng, with_arrows=False), snapshot(rng, iteration=5, with_arrows=False)]
    fig = plots.figure1d(snaps, None, data_pdf=lambda x: np.exp(-0.5 * x**2), x_range=(0, 8))
    assert len(fig.axes) == 2  # one panel per snapshot, no arrow row under them
    assert fig.axes[0].get_xlabel().startswith("(a)")


# --- metric_dots ------------------------------------------------------------------------------


def test_metric_dots_draws_each_seed_and_each_mean():
    """Configurations down the side (best at the top), the metric along x."""
    fig = plots.metric_dots(sweep_panels(), None)
    ring, grid = fig.axes
    assert [t.get_text() for t in ring.get_yticklabels()] == ["lr=0.001", "lr=0.0002"]
    assert ring.get_ylim()[0] > ring.get_ylim()[1]  # row 0, the best, on top
    dots = [c.get_offsets() for c in ring.collections if isinstance(c, PathCollection)]
    xs = sorted(float(x) for offsets in dots for x, _ in offsets)
    assert xs == [6.0, 7.0, 7.0, 8.0, 8.0]
    # One dot per seed, spread around its configuration's row (0 and 1).
    ys = [float(y) for offsets in dots for _, y in offsets]
    assert sum(abs(y) < 0.5 for y in ys) == 3 and sum(abs(y - 1) < 0.5 for y in ys) == 2
    lines = [c for c in ring.collections if isinstance(c, LineCollection)]
    means = sorted(float(seg[0][0]) for c in lines for seg in c.get_segments())
    assert means == pytest.approx([6.5, 23 / 3])
    # NaN and an empty list: a configuration with no finished run draws nothing.
    grid_dots = [c.get_offsets() for c in grid.collections if isinstance(c, PathCollection)]
    assert [float(x) for offsets in grid_dots for x, _ in offsets] == [20.0]
    assert ring.get_xlabel() == "modes" and grid.get_title() == "grid25"
    # Whole-number metrics (modes) get whole-number ticks; others keep matplotlib's.
    assert all(float(t).is_integer() for t in ring.get_xticks())
    fractions = [{"title": "t", "ylabel": "high_quality", "labels": ["a"], "values": [[0.2, 0.3]]}]
    assert not all(
        float(t).is_integer() for t in plots.metric_dots(fractions, None).axes[0].get_xticks()
    )


def test_metric_dots_keeps_long_names_readable(tmp_path):
    """A sweep's run names run to 150 characters: the figure widens for them, and saving it
    warns of nothing (constrained layout fits every label)."""
    import warnings

    name = ",".join(f"setting_{i}=value" for i in range(10))
    panel = {
        "title": "grid25",
        "ylabel": "modes",
        "labels": [name, name[::-1]],
        "values": [[1, 2], [3]],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.metric_dots([panel], tmp_path / "long.png")
    fig = plots.metric_dots([panel], None)
    assert fig.get_figwidth() > 4.5 + 0.06 * len(name)


def test_metric_dots_refuses_mismatched_labels_and_values():
    panel = {"title": "ring8", "ylabel": "modes", "labels": ["a", "b"], "values": [[1]]}
    with pytest.raises(ValueError, match="2 labels and 1 value lists"):
        plots.metric_dots([panel], None)
    with pytest.raises(ValueError, match="at least one panel"):
        plots.metric_dots([], None)
