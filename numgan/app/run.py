"""Training runs on disk: the run folder, and the loop around the Trainer.

    RUN_DIR/
      config.toml          the resolved config (every field, after defaults, file and flags)
      history.csv          one row per iteration: d_loss, g_loss, d_real, d_fake, value
      checkpoints/last.npz the latest checkpoint (numgan/gan/checkpoint.py), always complete
      samples/             generated samples from one fixed noise batch, every sample_every
      snapshots1d.npz      (1-D data) D and G at several points of training, for the figure
      metrics.json         written by ``numgan evaluate``
      *.png                written by ``numgan plot``

The config and its checks are in config.py; what is read out of a finished run (samples,
metrics, figures) is in results.py.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from pathlib import Path
from typing import IO, Any

import numpy as np

from .. import kernels
from ..data import PIXEL_RANGES, Dataset, load_dataset
from ..fileio import atomic_write
from ..gan import GAN, DivergenceError, Trainer, checkpoint, models
from ..gan.progress import TrainingProgress
from .config import (
    OPTIMIZERS,
    PATHS,
    RunError,
    TrainConfig,
    config_toml,
    dataset_kind,
    read_config_file,
    resolve_config,
)


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


# -- building a run ------------------------------------------------------------------------


def load_data(config: TrainConfig) -> Dataset:
    """The run's dataset, its pixels in the range of the generator's output."""
    try:
        return load_dataset(config.dataset, data_dir=config.data_dir or None, scale=config.output)
    except (OSError, ValueError, TypeError, ImportError) as err:
        raise RunError(str(err).splitlines()[0]) from None


def pixel_range(config: TrainConfig) -> tuple[float, float]:
    """The range of an image run's pixels, as G's last layer gives them."""
    return PIXEL_RANGES[config.output]


def build_gan(config: TrainConfig, data: Dataset) -> GAN:
    """The config's model preset, sized for the data."""
    out = "linear" if data.image_shape is None else config.output
    try:
        return models.build(config.model, data_dim=data.dim, out=out)
    except ValueError as err:
        raise RunError(str(err)) from None


def _optimizer(config: TrainConfig):
    if config.optimizer == "adam":
        return OPTIMIZERS["adam"](lr=config.lr, beta1=config.momentum)
    return OPTIMIZERS[config.optimizer](lr=config.lr, momentum=config.momentum)


def build_trainer(config: TrainConfig, data: Dataset) -> Trainer:
    """The run's Trainer, on the path ``config.path`` asks for (see ``path_ran``)."""
    gan = build_gan(config, data)
    try:
        return Trainer(
            gan,
            data,
            batch_size=config.batch_size,
            k=config.k,
            g_loss=config.g_loss,
            opt_g=_optimizer(config),
            opt_d=_optimizer(config),
            seed=config.seed,
            fused=PATHS[config.path],
        )
    except ValueError as err:
        message = str(err)
        if config.path != "fused" or not message.startswith("Trainer(fused=True)"):
            raise
        # The Trainer says what the fused step needs; the fix here is a flag, not an argument.
        needs = message.removeprefix("Trainer(fused=True): ").split("; use fused=")[0]
        raise RunError(
            f"--path fused: model {config.model} with {config.optimizer} on the "
            f"{kernels.get_backend()} backend cannot run fused ({needs}); use --path auto "
            "or --path layers"
        ) from None


def path_ran(trainer: Trainer) -> str:
    """Which code runs each iteration, as the run header and config.toml say it."""
    return "fused (one jitted call per iteration)" if trainer.uses_fused else "layers"


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
    """The fields of RUN_DIR/config.toml; a missing folder or file is a RunError."""
    path = run_dir / "config.toml"
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run folder")
    if not path.is_file():
        raise RunError(f"{run_dir}: not a run folder (no config.toml)")
    return read_config_file(str(path))


# -- the training loop ---------------------------------------------------------------------


def write_history(run_dir: Path, trainer: Trainer) -> None:
    """history.csv: one row per iteration since the run began."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    keys = list(trainer.history)
    writer.writerow(["iteration", *keys])
    for i, row in enumerate(zip(*(trainer.history[k] for k in keys), strict=True)):
        writer.writerow([i + 1, *(f"{v:.7g}" for v in row)])
    _write_text(run_dir / "history.csv", buf.getvalue())


def save_run(run_dir: Path, config: TrainConfig, trainer: Trainer) -> None:
    """The checkpoint, then the history it matches."""
    checkpoint.save(run_dir / "checkpoints" / "last.npz", trainer, dataclasses.asdict(config))
    write_history(run_dir, trainer)


def write_samples(
    run_dir: Path, config: TrainConfig, data: Dataset, trainer: Trainer, z: np.ndarray
) -> None:
    """samples/iter_N.png: a grid of G(z) for images, a scatter for 2-D data."""
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
    """snapshots1d.npz: every 1-D snapshot so far, in one file."""
    arrays = {f"{i}/{k}": v for i, snap in enumerate(snapshots) for k, v in snap.items()}
    atomic_write(run_dir / "snapshots1d.npz", lambda f: np.savez(f, **arrays))


def load_snapshots(run_dir: Path) -> list[dict[str, np.ndarray]]:
    """The snapshots of snapshots1d.npz in order; none if the run has no such file."""
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
    config: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> Trainer:
    """Train (or continue) the run in ``run_dir`` up to ``config.iterations``.

    Writes config.toml first; a checkpoint and history.csv every ``every_checkpoint``
    iterations and at the end; sample grids every ``every_sample``.  Ctrl-C writes a
    checkpoint and re-raises KeyboardInterrupt; a diverging run keeps its last good checkpoint
    and raises DivergenceError.  The header goes to ``out`` (default stdout); the progress to
    ``err`` (default: stderr, or tqdm's widget in a notebook).
    """
    out = sys.stdout if out is None else out
    data = load_data(config)
    trainer = build_trainer(config, data)
    snapshots: list[dict[str, np.ndarray]] = []
    if resume:
        state = checkpoint.load(run_dir / "checkpoints" / "last.npz")
        saved = checkpoint.config_of(state)
        # Not the path: both compute the same iterations (to float32 rounding), on the same
        # arrays, so a run may switch; with the same path it resumes bit for bit.
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
    ran = path_ran(trainer)
    _write_text(run_dir / "config.toml", config_toml(config, ran=ran))
    z_fixed = fixed_noise(config, trainer.gan)
    print(
        f"{data.description}; model {config.model}; run folder {run_dir}; path: {ran}",
        file=out,
        flush=True,  # before the progress on stderr, when both go to one log
    )
    one_d = data.dim == 1 and data.image_shape is None
    try:
        with TrainingProgress(config.iterations, trainer.iteration, file=err) as progress:
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
    """runs/NAME-seedS, or the first runs/NAME-seedS-N not taken yet."""
    stem = Path(config.dataset).stem if dataset_kind(config.dataset) == "file" else config.dataset
    base = Path("runs") / f"{stem}-seed{config.seed}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = Path(f"{base}-{n}")
    return path


def write_json(path: Path, values: dict[str, Any]) -> None:
    """``values`` as indented JSON, written atomically."""
    _write_text(path, json.dumps(values, indent=2) + "\n")
