"""What a finished run gives: samples, the paper's metrics, figures.

These read a run folder and never change its checkpoint or history; they are apart from
run.py, which writes runs, because they are the only users of numgan.eval (and, through it,
matplotlib), which training never needs and imports only when a command here runs.
"""

from __future__ import annotations

import numbers
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..data import DEFAULT_SPLITS, Dataset, as_rows, split_indices
from ..fileio import atomic_write
from ..gan import GAN
from ..gan.trainer import memory_text, values_per_sample
from .config import RunError
from .run import (
    PER_CLASS,
    draw_labels,
    grid_labels,
    is_one_d,
    load_snapshots,
    pixel_range,
    restore_run,
    snapshot1d,
    write_json,
)

SAMPLE_SUFFIXES = {".npy": "the samples as an array", ".png": "a figure"}

# -- what the machine can hold ------------------------------------------------------------


def available_memory() -> int | None:
    """Bytes this process could still allocate, or None where the system does not say.

    Linux's MemAvailable, or less under a container's memory limit (cgroup v2).
    """
    found = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            found += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            found.append(max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return min(found)


def network_bytes(net, in_width: int, itemsize: int) -> int:
    """Bytes per sample of a forward pass that keeps every layer's output: input and outputs."""
    return itemsize * (in_width + values_per_sample(net, (in_width,), passes=1))


def bytes_per_sample(gan: GAN, data: Dataset, extra: int = 0) -> int:
    """About how much memory one generated sample takes: G's activations, a float64 copy of
    the sample, and ``extra`` (what a metric keeps per sample)."""
    itemsize = np.dtype(gan.dtype).itemsize
    g_in = gan.noise.dim + (gan.num_classes or 0)  # a conditional G also reads the label
    return network_bytes(gan.G, g_in, itemsize) + 8 * data.dim + extra


def check_memory(n: int, flag: str, per_sample: int) -> None:
    """A RunError, before anything is allocated, if ``n`` samples cannot fit in memory."""
    free = available_memory()
    if free is None or n * per_sample <= free:
        return
    raise RunError(
        f"{flag} {n:,}: that many samples need about {memory_text(n * per_sample)} of memory "
        f"({memory_text(per_sample)} each); this machine has {memory_text(free)} free, enough "
        f"for about {free // per_sample:,}: ask for at most that many"
    )


def data_density(data: Dataset) -> Callable[[np.ndarray], np.ndarray]:
    """p_data on the line, for the 1-D figure: toy1d's own, or a KDE of a file's training data."""
    pdf = getattr(data.samples, "pdf", None) if data.is_sampler else None
    if pdf is not None:
        return pdf
    from ..eval import metrics

    train = np.asarray(data.train, dtype=np.float64).ravel()
    return lambda x: metrics.kde_1d(train, np.asarray(x, dtype=np.float64))


def samples_for_splits(n: int) -> int:
    """The fewest samples whose default split holds out a validation and a test sample."""
    rng = np.random.default_rng(0)
    m = max(n, 1)
    while not all(len(part) for part in split_indices(m, DEFAULT_SPLITS, rng)[1:]):
        m += 1
    return m


# -- the commands --------------------------------------------------------------------------


def sample_labels(gan: GAN, n: int, label: int | None) -> tuple[int, np.ndarray | None]:
    """(n, labels) for ``numgan sample``: a conditional run draws class ``label`` n times, or
    without it every class in turn, n rounded up to K rows of ceil(n / K) (class 0's first);
    a run without labels takes none."""
    if not gan.conditional:
        if label is not None:
            raise RunError("--label is for conditional runs (numgan train --conditional)")
        return n, None
    K = gan.num_classes
    if label is not None:
        if isinstance(label, bool) or not isinstance(label, numbers.Integral) or not 0 <= label < K:
            raise RunError(f"--label must be a class of this run, 0..{K - 1}, got {label}")
        return n, np.full(n, int(label))
    per_class = -(-n // K)
    return K * per_class, np.repeat(np.arange(K), per_class)


def sample_run(run_dir: Path, n: int, output: Path, seed: int, label: int | None = None) -> Path:
    """n samples of the run's generator, into ``output``; returns the path written.

    A conditional run draws class ``label`` only, or (label None) one grid row per class,
    n rounded up to a multiple of the classes (``sample_labels``).

    .npy: the samples themselves, float32 of shape (n, ...) like the data's samples ((n, H, W)
    for images, (n, 2) for 2-D points, (n, 1) for 1-D), in the data's scale.  .png: drawn as
    the data is, a grid, a scatter or (1-D) D and G over the data's density.  The same seed
    draws the same noise for either.
    """
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in SAMPLE_SUFFIXES:
        choices = " or ".join(f"{s} ({what})" for s, what in SAMPLE_SUFFIXES.items())
        raise RunError(f"-o {output}: write {choices}, not {suffix or 'a file with no suffix'}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise RunError(f"--n must be at least 1, got {n}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise RunError(f"--seed must be a whole number >= 0 (it seeds the noise), got {seed}")
    if output.is_dir():
        raise RunError(f"-o {output}: is a folder; give a file name ending in .npy or .png")
    config, data, trainer = restore_run(run_dir)
    gan = trainer.gan
    n, labels = sample_labels(gan, int(n), label)
    check_memory(n, "--n", bytes_per_sample(gan, data))
    x = gan.sample(n, np.random.default_rng(seed), labels=labels)
    if suffix == ".npy":
        shape = (data.dim,) if data.is_sampler else data.samples.shape[1:]
        samples = np.ascontiguousarray(x.reshape(int(n), *shape), dtype=np.float32)
        output.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(output, lambda f: np.save(f, samples))
    from ..eval import plots

    if data.image_shape is not None:
        rows = n // gan.num_classes if gan.conditional and label is None else None
        return Path(
            plots.sample_grid(
                x,
                output,
                image_shape=data.image_shape,
                value_range=pixel_range(config),
                nrow=rows,
            )
        )
    if data.dim == 2:
        return Path(plots.scatter2d(x, output, means=data.means, sigma=data.sigma))
    if is_one_d(data):
        snap = snapshot1d(config, data, trainer)
        return Path(
            plots.figure1d(
                [snap],
                output,
                data_pdf=data_density(data),
                x_range=(snap["x_grid"][0], snap["x_grid"][-1]),
            )
        )
    raise RunError(
        f"cannot draw {data.dim}-dimensional samples that are not images: write them to a "
        ".npy file instead"
    )


GRID_1D = 200  # points where evaluate compares D with D* on 1-D data


def evaluate_run(run_dir: Path, n_samples: int, out: IO[str] | None = None) -> dict[str, Any]:
    """The paper's evaluation for the run's data; prints it and writes RUN_DIR/metrics.json."""
    from ..eval import metrics

    out = sys.stdout if out is None else out
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 2:
        raise RunError(f"--n-samples must be at least 2, got {n_samples}")
    config, data, trainer = restore_run(run_dir)
    gan = trainer.gan
    itemsize = np.dtype(gan.dtype).itemsize
    if data.is_sampler and data.means is not None:  # distances to each mode
        extra = 16 * len(data.means)
    elif data.is_sampler:  # D on real and generated samples, and the KDE's block on the grid
        extra = 2 * network_bytes(gan.D, data.dim, itemsize) + 8 * (GRID_1D + 4)
    else:
        extra = 0
        if not (len(data.validation) and len(data.test)):
            n = len(data.samples)
            raise RunError(
                f"the dataset has {n:,} samples, too few to hold out a validation and a test "
                f"split ({len(data.validation)} and {len(data.test)} samples) for the Parzen "
                f"estimate: it needs at least {samples_for_splits(n):,} samples"
            )
    check_memory(int(n_samples), "--n-samples", bytes_per_sample(gan, data, extra))
    rng = np.random.default_rng([config.seed, 5])
    result: dict[str, Any] = {"iteration": trainer.iteration, "dataset": config.dataset}
    if data.is_sampler and data.means is not None:
        x = gan.sample(n_samples, rng, labels=draw_labels(gan, data, n_samples, rng))
        cover = metrics.mode_coverage(x, data.means, data.sigma)
        result.update(
            modes=int(cover["modes"]),
            of_modes=len(data.means),
            high_quality=float(cover["high_quality"]),
            reverse_kl=float(cover["reverse_kl"]),
            samples=n_samples,
        )
        print(
            f"modes captured {cover['modes']} of {len(data.means)}, high quality "
            f"{100 * cover['high_quality']:.1f}%, reverse KL {cover['reverse_kl']:.3f} "
            f"({n_samples:,} samples)",
            file=out,
        )
    elif data.is_sampler:  # 1-D: D against D*, V against -log 4, the moments
        x_gen = gan.sample(n_samples, rng).ravel()
        x_data = data.sample(n_samples, rng).ravel()
        # Where the data has mass: in the far tails the sample-based p_g is ~0 and D* ~ 1 or 0
        # whatever D does, which says nothing about the fit.
        grid = np.linspace(*np.percentile(x_data, [5, 95]), GRID_1D)
        objective = trainer.objective
        d = gan.discriminate(grid[:, None], objective).ravel()
        d_star = metrics.optimal_discriminator(
            grid, data.samples.pdf(grid), metrics.kde_1d(x_gen, grid)
        )
        a_real = gan.D.forward(x_data[:, None], training=False)
        a_fake = gan.D.forward(x_gen[:, None], training=False)
        value = objective.value(a_real, a_fake)
        optimum = objective.value_at_optimum
        optimum_text = "-log 4" if optimum == metrics.OPTIMAL_VALUE else "at the optimum"
        result.update(
            mean_d_real=float(objective.score(a_real).mean()),
            mean_abs_d_minus_dstar=float(np.abs(d - d_star).mean()),
            value=value,
            value_gap=float(value - optimum),
            gen_mean=float(x_gen.mean()),
            gen_std=float(x_gen.std()),
            data_mean=float(x_data.mean()),
            data_std=float(x_data.std()),
        )
        print(
            f"mean D(x) on data {result['mean_d_real']:.3f} (1/2 at the optimum); "
            f"mean |D - D*| {result['mean_abs_d_minus_dstar']:.3f} (5-95% of the data); "
            f"{objective.value_label} {value:.4f} ({optimum_text} = {optimum:.4f}); "
            f"generated mean {x_gen.mean():.3f} "
            f"std {x_gen.std():.3f}, data mean {x_data.mean():.3f} std {x_data.std():.3f}",
            file=out,
        )
    else:
        # A conditional run's samples come with labels at the training set's class
        # frequencies, as Mirza & Osindero drew them for their Parzen estimate.
        labels = draw_labels(gan, data, n_samples, rng)
        samples = gan.sample(n_samples, rng, labels=labels).astype(np.float64)
        valid, test = (as_rows(a).astype(np.float64) for a in (data.validation, data.test))
        if data.image_shape is not None:
            # Scored on pixels in [0, 1], the paper's scale, whatever G's output range: a
            # density over 784 pixels in [-1, 1] would be 784 log 2 nats lower for the same
            # images, and runs with either output could not be compared.
            lo, hi = pixel_range(config)
            samples, valid, test = ((a - lo) / (hi - lo) for a in (samples, valid, test))
        parzen = metrics.parzen_evaluate(samples, valid[:1000], test)
        result.update(
            parzen_log_likelihood=float(parzen["mean"]),
            parzen_stderr=float(parzen["stderr"]),
            parzen_sigma=float(parzen["sigma"]),
            samples=n_samples,
            validation=min(1000, len(data.validation)),
            test=len(data.test),
        )
        print(
            f"Parzen window log-likelihood {parzen['mean']:.1f} +- {parzen['stderr']:.1f} "
            f"(sigma {parzen['sigma']:.3f} chosen on {result['validation']:,} validation "
            f"samples; {len(data.test):,} test samples, {n_samples:,} generated"
            + ("; pixels in [0, 1])" if data.image_shape is not None else ")"),
            file=out,
        )
    if gan.conditional:
        result.update(label_fidelity(config, data, gan, int(n_samples), out))
    write_json(run_dir / "metrics.json", result)
    return result


# Label fidelity: generated samples per class, judged by a classifier of the real data.
FIDELITY_PER_CLASS = 500


def label_fidelity(config, data: Dataset, gan: GAN, n_samples: int, out: IO[str]) -> dict[str, Any]:
    """How often a conditional run's G(z, y) is of class y, by a judge that never saw G.

    Images (or any fixed samples): a softmax classifier (numgan.nn.classifier) trained on the
    real training split; its accuracy on the real test split is the ceiling.  Mixtures: the
    nearest mode is the class, exact by construction.  FIDELITY_PER_CLASS samples per class, or
    n_samples // K if fewer.
    """
    from ..eval import metrics

    K = gan.num_classes
    per_class = max(1, min(FIDELITY_PER_CLASS, n_samples // K))  # at most --n-samples in all
    asked = np.repeat(np.arange(K), per_class)
    x = gan.sample(len(asked), np.random.default_rng([config.seed, 8]), labels=asked)
    result: dict[str, Any] = {}
    if data.is_sampler:
        d2 = ((x[:, None, :].astype(np.float64) - data.means[None]) ** 2).sum(axis=2)
        predicted, judge = d2.argmin(axis=1), "the nearest mode"
    else:
        from ..nn.classifier import train_classifier

        train, test = as_rows(data.train), as_rows(data.test)
        classifier = train_classifier(
            train,
            data.train_labels,
            num_classes=K,
            rng=np.random.default_rng([config.seed, 7]),
        )
        ceiling = classifier.accuracy(test, data.test_labels)
        predicted = classifier.predict(x)
        judge = f"a classifier of the real training split, {100 * ceiling:.1f}% on its test split"
        result["classifier_test_accuracy"] = float(ceiling)
    fidelity = metrics.label_fidelity(predicted, asked, num_classes=K)
    scores = [float(v) for v in fidelity["per_class"]]
    result.update(label_fidelity=float(fidelity["overall"]), label_fidelity_per_class=scores)
    print(
        f"label fidelity {100 * fidelity['overall']:.1f}% ({judge}; {per_class} "
        f"samples per class); per class: "
        + ", ".join(f"{k} {100 * v:.0f}%" for k, v in enumerate(scores)),
        file=out,
    )
    return result


def plot_run(run_dir: Path, out: IO[str] | None = None) -> list[Path]:
    """The run's figures: loss curves, and samples drawn the way the data is."""
    from ..eval import metrics, plots

    out = sys.stdout if out is None else out
    config, data, trainer = restore_run(run_dir)
    gan = trainer.gan
    optimum = (trainer.objective.value_at_optimum, trainer.objective.value_label)
    written = [
        Path(
            plots.loss_curves(
                trainer.history_arrays(), run_dir / "loss_curves.png", optimum=optimum
            )
        )
    ]
    rng = np.random.default_rng([config.seed, 6])
    if data.image_shape is not None:
        labels = grid_labels(gan)  # a conditional run: one row per class
        written.append(
            Path(
                plots.sample_grid(
                    gan.sample(64 if labels is None else len(labels), rng, labels=labels),
                    run_dir / "samples.png",
                    image_shape=data.image_shape,
                    value_range=pixel_range(config),
                    nrow=None if labels is None else PER_CLASS,
                )
            )
        )
        x = gan.sample(30, rng, labels=draw_labels(gan, data, 30, rng))
        train_x = as_rows(data.train)
        nn = metrics.nearest_neighbours(x, train_x)
        written.append(
            Path(
                plots.nearest_neighbour_grid(
                    x,
                    train_x,
                    nn,
                    run_dir / "nearest_neighbours.png",
                    image_shape=data.image_shape,
                    value_range=pixel_range(config),
                )
            )
        )
    elif data.dim == 2:
        written.append(
            Path(
                plots.scatter2d(
                    gan.sample(2500, rng, labels=draw_labels(gan, data, 2500, rng)),
                    run_dir / "samples.png",
                    means=data.means,
                    sigma=data.sigma,
                )
            )
        )
    elif is_one_d(data):
        try:
            snaps = load_snapshots(run_dir) or [snapshot1d(config, data, trainer)]
        except RunError as err:
            raise RunError(
                f"{err}: delete it, and numgan plot draws the final state alone"
            ) from None
        pick = sorted({round(i) for i in np.linspace(0, len(snaps) - 1, min(4, len(snaps)))})
        chosen = [snaps[i] for i in pick]
        lo = min(s["x_grid"][0] for s in chosen)
        hi = max(s["x_grid"][-1] for s in chosen)
        snaps_clean = [
            {k: (int(v) if k == "iteration" else v) for k, v in s.items()} for s in chosen
        ]
        written.append(
            Path(
                plots.figure1d(
                    snaps_clean,
                    run_dir / "figure1d.png",
                    data_pdf=data_density(data),
                    x_range=(lo, hi),
                )
            )
        )
    for path in written:
        print(path, file=out)
    return written
