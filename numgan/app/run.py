"""Training runs on disk: the resolved config, the run folder, and the loop around the Trainer.

    RUN_DIR/
      config.toml          the resolved config (every field, after defaults, file and flags)
      history.csv          one row per iteration: d_loss, g_loss, d_real, d_fake, value
      checkpoints/last.npz the latest checkpoint (numgan/checkpoint.py), always complete
      samples/             generated samples from one fixed noise batch, every sample_every
      snapshots1d.npz      (1-D data) D and G at several points of training, for the figure
      metrics.json         written by ``numgan evaluate``
      *.png                written by ``numgan plot``

A run's config is resolved in three layers: the dataset's defaults (``DATASET_DEFAULTS``: a
model and hyperparameters that train well on it), then a TOML file (``--config``), then the
flags given on the command line.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Dataset, load_dataset
from ..fileio import atomic_write
from ..gan import GAN, DivergenceError, Trainer, checkpoint, models
from ..gan.objectives import G_LOSSES
from ..nn import SGD, Adam

OPTIMIZERS = ("sgd", "adam")
IMAGE_OUTPUTS = ("sigmoid", "tanh")  # G's last layer for pixel data, and the pixels' range

# What `numgan train --dataset NAME` uses when nothing else is said.  Chosen by runs on a
# 2-core machine; docs/results.md has the commands and what they gave.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "toy1d": {
        "model": "toy1d",
        "iterations": 3000,
        "batch_size": 64,
        "optimizer": "sgd",
        "lr": 0.05,
        "momentum": 0.5,
    },
    "ring8": {
        "model": "toy2d",
        "iterations": 5000,
        "batch_size": 256,
        "optimizer": "adam",
        "lr": 1e-3,
        "momentum": 0.5,
    },
    "grid25": {
        "model": "toy2d",
        "iterations": 10000,
        "batch_size": 256,
        "optimizer": "adam",
        "lr": 1e-3,
        "momentum": 0.5,
    },
    "digits": {
        "model": "mlp-small",
        "iterations": 15000,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 2e-4,
        "momentum": 0.5,
    },
    "mnist": {
        "model": "paper-mnist",
        "iterations": 20000,
        "batch_size": 100,
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.5,
    },
    "file": {
        "model": "mlp-small",
        "iterations": 5000,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 2e-4,
        "momentum": 0.5,
    },
}


class RunError(ValueError):
    """A problem with a run's inputs: printed by the CLI as one line."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.  ``momentum`` is SGD's momentum or Adam's beta1."""

    dataset: str = "digits"
    model: str = "mlp-small"
    iterations: int = 15000
    batch_size: int = 64
    k: int = 1
    g_loss: str = "non-saturating"
    optimizer: str = "adam"
    lr: float = 2e-4
    momentum: float = 0.5
    seed: int = 0
    data_dir: str = ""
    output: str = "sigmoid"  # images: a sigmoid G on pixels in [0, 1], or tanh on [-1, 1]
    sample_every: int = 0  # 0: ten times per run
    checkpoint_every: int = 0  # 0: ten times per run

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size", "k"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise RunError(f"{_flag(name)} must be a whole number >= 1, got {value!r}")
        for name in ("sample_every", "checkpoint_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise RunError(f"{_flag(name)} must be a whole number >= 0")
        if self.g_loss not in G_LOSSES:
            raise RunError(f"--g-loss must be one of {', '.join(G_LOSSES)}, got {self.g_loss!r}")
        if self.optimizer not in OPTIMIZERS:
            raise RunError(
                f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.model not in models.PRESETS:
            raise RunError(
                f"--model must be one of {', '.join(models.PRESETS)}, got {self.model!r}"
            )
        if self.output not in IMAGE_OUTPUTS:
            raise RunError(
                f"--output must be one of {', '.join(IMAGE_OUTPUTS)}, got {self.output!r}"
            )
        if not self.lr > 0:
            raise RunError(f"--lr must be positive, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise RunError(f"--momentum must be in [0, 1), got {self.momentum}")

    @property
    def every_sample(self) -> int:
        return self.sample_every or max(1, self.iterations // 10)

    @property
    def every_checkpoint(self) -> int:
        return self.checkpoint_every or max(1, self.iterations // 10)


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def dataset_kind(dataset: str) -> str:
    return dataset if dataset in DATASET_DEFAULTS else "file"


def resolve_config(
    flags: dict[str, Any], *, config_file: str | None = None, base: dict[str, Any] | None = None
) -> TrainConfig:
    """Dataset defaults, then ``base`` (a resumed run's config), then the file, then flags."""
    from_file = read_config_file(config_file) if config_file else {}
    given = {k: v for k, v in flags.items() if v is not None}
    dataset = given.get("dataset", from_file.get("dataset", (base or {}).get("dataset", "digits")))
    values = {**DATASET_DEFAULTS[dataset_kind(dataset)], **(base or {}), **from_file, **given}
    values["dataset"] = dataset
    for name, value in values.items():
        expected = FIELDS[name].type
        if expected == "float" and isinstance(value, int) and not isinstance(value, bool):
            values[name] = float(value)
        elif expected in ("int", "float", "str") and type(value).__name__ != expected:
            raise RunError(f"config key {name!r} must be {expected}, got {value!r}")
    return TrainConfig(**values)


def read_config_file(path: str) -> dict[str, Any]:
    """A flat TOML table of TrainConfig fields; an unknown key is an error that names it."""
    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except FileNotFoundError:
        raise RunError(f"{path}: no such config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise RunError(f"{path}: not valid TOML ({err})") from None
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise RunError(
            f"{path}: unknown config key(s) {', '.join(unknown)}; known keys: {', '.join(FIELDS)}"
        )
    return values


def config_toml(config: TrainConfig) -> str:
    lines = ["# numgan run config: every field, resolved"]
    for name, value in dataclasses.asdict(config).items():
        lines.append(f"{name} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


# -- building a run ------------------------------------------------------------------------


def load_data(config: TrainConfig) -> Dataset:
    try:
        scale = "tanh" if config.output == "tanh" else "unit"
        return load_dataset(config.dataset, data_dir=config.data_dir or None, scale=scale)
    except (OSError, ValueError, TypeError, ImportError) as err:
        raise RunError(str(err).splitlines()[0]) from None


def pixel_range(config: TrainConfig) -> tuple[float, float]:
    return (-1.0, 1.0) if config.output == "tanh" else (0.0, 1.0)


def build_gan(config: TrainConfig, data: Dataset) -> GAN:
    out = "linear" if data.image_shape is None else config.output
    try:
        return models.build(config.model, data_dim=data.dim, out=out)
    except ValueError as err:
        raise RunError(str(err)) from None


def _optimizer(config: TrainConfig):
    if config.optimizer == "adam":
        return Adam(lr=config.lr, beta1=config.momentum)
    return SGD(lr=config.lr, momentum=config.momentum)


def build_trainer(config: TrainConfig, data: Dataset) -> Trainer:
    gan = build_gan(config, data)
    return Trainer(
        gan,
        data,
        batch_size=config.batch_size,
        k=config.k,
        g_loss=config.g_loss,
        opt_g=_optimizer(config),
        opt_d=_optimizer(config),
        seed=config.seed,
    )


def fixed_noise(config: TrainConfig, gan: GAN, n: int = 64) -> np.ndarray:
    """One noise batch for the sample grids, from its own stream (the run's is untouched)."""
    return gan.noise.sample(n, np.random.default_rng([config.seed, 2]), gan.dtype)


def restore_run(run_dir: Path) -> tuple[TrainConfig, Dataset, Trainer]:
    """Rebuild a run from its folder: config, data, and a trainer at its last checkpoint."""
    config = resolve_config({}, base=read_run_config(run_dir))
    data = load_data(config)
    trainer = build_trainer(config, data)
    state = checkpoint.load(run_dir / "checkpoints" / "last.npz")
    checkpoint.restore(trainer, state)
    return config, data, trainer


def read_run_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.toml"
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run folder")
    if not path.is_file():
        raise RunError(f"{run_dir}: not a run folder (no config.toml)")
    return read_config_file(str(path))


# -- the training loop ---------------------------------------------------------------------


class Progress:
    """One status line: a bar, iterations/s, the losses and D's outputs, the time left."""

    def __init__(self, total: int, start: int, stream=sys.stderr) -> None:
        self.total, self.start, self.stream = total, start, stream
        self.t0 = time.perf_counter()
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.every = max(1, (total - start) // (200 if self.tty else 10))

    def update(self, trainer: Trainer, force: bool = False) -> None:
        done = trainer.iteration
        if not force and (done - self.start) % self.every and done != self.total:
            return
        elapsed = time.perf_counter() - self.t0
        rate = (done - self.start) / elapsed if elapsed > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else 0.0
        h = trainer.history
        width = 20
        filled = int(width * done / self.total)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
            f"{rate:,.0f} it/s, {left:,.0f}s left | D loss {h['d_loss'][-1]:.3f} "
            f"G loss {h['g_loss'][-1]:.3f} D(x) {h['d_real'][-1]:.3f} "
            f"D(G(z)) {h['d_fake'][-1]:.3f}"
        )
        if self.tty:
            self.stream.write("\r" + line + (" " * 4))
            if done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def write_history(run_dir: Path, trainer: Trainer) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    keys = list(trainer.history)
    writer.writerow(["iteration", *keys])
    for i, row in enumerate(zip(*(trainer.history[k] for k in keys), strict=True)):
        writer.writerow([i + 1, *(f"{v:.7g}" for v in row)])
    _write_text(run_dir / "history.csv", buf.getvalue())


def save_run(run_dir: Path, config: TrainConfig, trainer: Trainer) -> None:
    checkpoint.save(run_dir / "checkpoints" / "last.npz", trainer, dataclasses.asdict(config))
    write_history(run_dir, trainer)


def write_samples(
    run_dir: Path, config: TrainConfig, data: Dataset, trainer: Trainer, z: np.ndarray
) -> None:
    from ..eval import plots

    gan = trainer.gan
    x = gan.G.forward(z, training=False).copy()
    name = f"iter_{trainer.iteration:07d}.png"
    (run_dir / "samples").mkdir(exist_ok=True)
    if data.image_shape is not None:
        plots.sample_grid(
            x,
            run_dir / "samples" / name,
            image_shape=data.image_shape,
            value_range=pixel_range(config),
        )
    elif data.dim == 2:
        plots.scatter2d(
            gan.sample(1000, np.random.default_rng([config.seed, 3])),
            run_dir / "samples" / name,
            means=data.means,
            sigma=data.sigma,
            title=f"iteration {trainer.iteration}",
        )


def snapshot1d(config: TrainConfig, data: Dataset, trainer: Trainer) -> dict[str, np.ndarray]:
    """D and G of a 1-D run, as plots.figure1d draws them."""
    gan, rng = trainer.gan, np.random.default_rng([config.seed, 4])
    samples = gan.sample(5000, rng).ravel()
    real = data.sample(5000, rng).ravel()
    lo, hi = np.percentile(np.concatenate([samples, real]), [0.5, 99.5])
    pad = 0.25 * (hi - lo)
    x_grid = np.linspace(lo - pad, hi + pad, 300)
    z = np.linspace(-1, 1, 21)[:, None].astype(gan.dtype)
    return {
        "iteration": np.array(trainer.iteration),
        "x_grid": x_grid,
        "d_on_grid": gan.discriminate(x_grid[:, None]).ravel(),
        "samples": samples,
        "z": z.ravel(),
        "g_of_z": gan.G.forward(z, training=False).ravel(),
    }


def save_snapshots(run_dir: Path, snapshots: list[dict[str, np.ndarray]]) -> None:
    arrays = {f"{i}/{k}": v for i, snap in enumerate(snapshots) for k, v in snap.items()}
    atomic_write(run_dir / "snapshots1d.npz", lambda f: np.savez(f, **arrays))


def load_snapshots(run_dir: Path) -> list[dict[str, np.ndarray]]:
    path = run_dir / "snapshots1d.npz"
    if not path.is_file():
        return []
    with np.load(path) as f:
        snaps: dict[int, dict[str, np.ndarray]] = {}
        for key in f.files:
            i, name = key.split("/", 1)
            snaps.setdefault(int(i), {})[name] = f[key]
    return [snaps[i] for i in sorted(snaps)]


def train(
    config: TrainConfig, run_dir: Path, *, resume: bool = False, out=sys.stdout, err=sys.stderr
) -> Trainer:
    """Train (or continue) the run in ``run_dir`` up to ``config.iterations``.

    Writes config.toml first; a checkpoint and history.csv every ``every_checkpoint``
    iterations and at the end; sample grids every ``every_sample``.  Ctrl-C writes a
    checkpoint and re-raises KeyboardInterrupt; a diverging run keeps its last good checkpoint
    and raises DivergenceError.
    """
    data = load_data(config)
    trainer = build_trainer(config, data)
    snapshots: list[dict[str, np.ndarray]] = []
    if resume:
        state = checkpoint.load(run_dir / "checkpoints" / "last.npz")
        saved = checkpoint.config_of(state)
        for key in ("dataset", "model", "optimizer", "k", "batch_size", "g_loss"):
            if key in saved and saved[key] != getattr(config, key):
                raise RunError(
                    f"--resume: the run in {run_dir} has {key} = {saved[key]!r}, not "
                    f"{getattr(config, key)!r}: a resumed run keeps its model and data"
                )
        checkpoint.restore(trainer, state)
        snapshots = load_snapshots(run_dir)
        if trainer.iteration >= config.iterations:
            raise RunError(
                f"the run in {run_dir} is already at iteration {trainer.iteration}: give "
                f"--iterations larger than that to continue it"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_text(run_dir / "config.toml", config_toml(config))
    z_fixed = fixed_noise(config, trainer.gan)
    print(f"{data.description}; model {config.model}; run folder {run_dir}", file=out)
    progress = Progress(config.iterations, trainer.iteration, err)
    one_d = data.dim == 1 and data.image_shape is None
    try:
        while trainer.iteration < config.iterations:
            trainer.step()
            progress.update(trainer)
            i = trainer.iteration
            if i % config.every_sample == 0 or i == config.iterations:
                write_samples(run_dir, config, data, trainer, z_fixed)
                if one_d:
                    snapshots.append(snapshot1d(config, data, trainer))
                    save_snapshots(run_dir, snapshots)
            if i % config.every_checkpoint == 0 or i == config.iterations:
                save_run(run_dir, config, trainer)
    except KeyboardInterrupt:
        save_run(run_dir, config, trainer)
        raise
    except DivergenceError:
        write_history(run_dir, trainer)  # the checkpoint stays the last good one
        raise
    if one_d and not snapshots:
        snapshots.append(snapshot1d(config, data, trainer))
        save_snapshots(run_dir, snapshots)
    h = trainer.history
    print(
        f"done: iteration {trainer.iteration}, D loss {h['d_loss'][-1]:.4f}, "
        f"G loss {h['g_loss'][-1]:.4f}, mean D(x) {h['d_real'][-1]:.3f}, "
        f"mean D(G(z)) {h['d_fake'][-1]:.3f}",
        file=out,
    )
    return trainer


def default_run_dir(config: TrainConfig) -> Path:
    stem = Path(config.dataset).stem if dataset_kind(config.dataset) == "file" else config.dataset
    base = Path("runs") / f"{stem}-seed{config.seed}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = Path(f"{base}-{n}")
    return path


def write_json(path: Path, values: dict[str, Any]) -> None:
    _write_text(path, json.dumps(values, indent=2) + "\n")


# -- after training: sample, evaluate, plot -------------------------------------------------


def sample_run(run_dir: Path, n: int, output: Path, seed: int) -> Path:
    """n samples of the run's generator, drawn as the data is: a grid, a scatter or a figure."""
    from ..eval import plots

    config, data, trainer = restore_run(run_dir)
    gan = trainer.gan
    x = gan.sample(n, np.random.default_rng(seed))
    if data.image_shape is not None:
        return Path(
            plots.sample_grid(
                x, output, image_shape=data.image_shape, value_range=pixel_range(config)
            )
        )
    if data.dim == 2:
        return Path(plots.scatter2d(x, output, means=data.means, sigma=data.sigma))
    if data.dim == 1:
        snap = snapshot1d(config, data, trainer)
        return Path(
            plots.figure1d(
                [snap],
                output,
                data_pdf=data.samples.pdf,
                x_range=(snap["x_grid"][0], snap["x_grid"][-1]),
            )
        )
    raise RunError(f"cannot draw {data.dim}-dimensional samples that are not images")


def evaluate_run(run_dir: Path, n_samples: int, out=sys.stdout) -> dict[str, Any]:
    """The paper's evaluation for the run's data; prints it and writes RUN_DIR/metrics.json."""
    from ..eval import metrics

    config, data, trainer = restore_run(run_dir)
    gan = trainer.gan
    rng = np.random.default_rng([config.seed, 5])
    result: dict[str, Any] = {"iteration": trainer.iteration, "dataset": config.dataset}
    if data.is_sampler and data.means is not None:
        x = gan.sample(n_samples, rng)
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
        grid = np.linspace(*np.percentile(x_data, [5, 95]), 200)
        d = gan.discriminate(grid[:, None]).ravel()
        d_star = metrics.optimal_discriminator(
            grid, data.samples.pdf(grid), metrics.kde_1d(x_gen, grid)
        )
        a_real = gan.D.forward(x_data[:, None], training=False)
        a_fake = gan.D.forward(x_gen[:, None], training=False)
        from ..gan.objectives import gan_value

        value = gan_value(a_real, a_fake)
        result.update(
            mean_d_real=float(gan.discriminate(x_data[:, None]).mean()),
            mean_abs_d_minus_dstar=float(np.abs(d - d_star).mean()),
            value=value,
            value_gap=float(metrics.value_gap(value)),
            gen_mean=float(x_gen.mean()),
            gen_std=float(x_gen.std()),
            data_mean=float(x_data.mean()),
            data_std=float(x_data.std()),
        )
        print(
            f"mean D(x) on data {result['mean_d_real']:.3f} (1/2 at the optimum); "
            f"mean |D - D*| {result['mean_abs_d_minus_dstar']:.3f} (5-95% of the data); "
            f"V {value:.4f} "
            f"(-log 4 = {metrics.OPTIMAL_VALUE:.4f}); generated mean {x_gen.mean():.3f} "
            f"std {x_gen.std():.3f}, data mean {x_data.mean():.3f} std {x_data.std():.3f}",
            file=out,
        )
    else:
        samples = gan.sample(n_samples, rng).astype(np.float64)
        flat = lambda a: a.reshape(len(a), -1).astype(np.float64)  # noqa: E731
        parzen = metrics.parzen_evaluate(samples, flat(data.validation)[:1000], flat(data.test))
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
            f"samples; {len(data.test):,} test samples, {n_samples:,} generated)",
            file=out,
        )
    write_json(run_dir / "metrics.json", result)
    return result


def plot_run(run_dir: Path, out=sys.stdout) -> list[Path]:
    """The run's figures: loss curves, and samples drawn the way the data is."""
    from ..eval import metrics, plots

    config, data, trainer = restore_run(run_dir)
    gan = trainer.gan
    written = [Path(plots.loss_curves(trainer.history_arrays(), run_dir / "loss_curves.png"))]
    rng = np.random.default_rng([config.seed, 6])
    if data.image_shape is not None:
        written.append(
            Path(
                plots.sample_grid(
                    gan.sample(64, rng),
                    run_dir / "samples.png",
                    image_shape=data.image_shape,
                    value_range=pixel_range(config),
                )
            )
        )
        x = gan.sample(30, rng)
        train_x = data.train.reshape(len(data.train), -1)
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
                    gan.sample(2500, rng),
                    run_dir / "samples.png",
                    means=data.means,
                    sigma=data.sigma,
                )
            )
        )
    elif data.dim == 1:
        snaps = load_snapshots(run_dir) or [snapshot1d(config, data, trainer)]
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
                    data_pdf=data.samples.pdf,
                    x_range=(lo, hi),
                )
            )
        )
    for path in written:
        print(path, file=out)
    return written
