"""Training runs on disk: the run folder, and the loop around the Trainer.

    RUN_DIR/
      config.toml          the resolved config (every field, after defaults, file and flags)
      history.csv          one row per iteration: d_loss, g_loss, d_real, d_fake, value
      checkpoints/last.npz the latest checkpoint (numgan/gan/checkpoint.py), always complete
      samples/             generated samples from one fixed noise batch, every sample_every
      snapshots1d.npz      (1-D data) D and G at several points of training, for the figure
      metrics.json         written by ``numgan evaluate``
      *.png                written by ``numgan plot``
      .lock                held (flock) by the one ``numgan train`` writing the folder

What stops a run never leaves it half-written (docs/reliability.md): every file is written
atomically; a checkpoint holds the state between two whole iterations, and history.csv is
written right after it from the same history; SIGINT and SIGTERM are a flag the loop reads
between iterations; a diverged run keeps its last good checkpoint.

The config and its checks are in config.py; what is read out of a finished run (samples,
metrics, figures) is in results.py.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import re
import signal
import sys
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from .. import kernels
from ..data import PIXEL_RANGES, Dataset, load_dataset
from ..fileio import atomic_write, remove_temporaries
from ..gan import GAN, DivergenceError, GaussianNoise, Trainer, checkpoint, models
from ..gan.checkpoint import CheckpointError
from ..gan.objectives import CrossEntropy, FeatureMatching, LeastSquares, Objective
from ..gan.progress import TrainingProgress
from ..gan.remedies import InstanceNoise, ReplayBuffer
from ..gan.trainer import class_frequencies
from ..nn import ExponentialDecay, LinearRamp
from .config import (
    HEADER,
    OPTIMIZERS,
    PATHS,
    RunError,
    TrainConfig,
    config_toml,
    dataset_kind,
    minibatch_discrimination_sizes,
    read_config_file,
    resolve_config,
)


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


# -- building a run ------------------------------------------------------------------------


def load_data(config: TrainConfig) -> Dataset:
    """The run's dataset, its pixels in the range of the generator's output."""
    try:
        data = load_dataset(config.dataset, data_dir=config.data_dir or None, scale=config.output)
    except (OSError, ValueError, TypeError, ImportError) as err:
        raise RunError(str(err).splitlines()[0]) from None
    if data.image_shape is not None and not data.is_sampler:
        # G's last layer gives pixels in this range: images beyond it are out of G's reach
        lo, hi = pixel_range(config)
        x_min, x_max = float(data.train.min()), float(data.train.max())
        slack = 1e-6 * (hi - lo)
        if x_min < lo - slack or x_max > hi + slack:
            raise RunError(
                f"the images of {config.dataset} span [{x_min:g}, {x_max:g}], but G's last "
                f"layer ({config.output}) gives pixels in [{lo:g}, {hi:g}]: rescale them to "
                f"that range, or save them as uint8 pixels (0-255), which numgan scales"
            )
    return data


def pixel_range(config: TrainConfig) -> tuple[float, float]:
    """The range of an image run's pixels, as G's last layer gives them."""
    return PIXEL_RANGES[config.output]


def data_loc_scale(data: Dataset) -> tuple[float, float]:
    """The mean and standard deviation of 1-D data: a Gaussian's own, else the training split's."""
    if data.is_sampler and hasattr(data.samples, "mu"):
        return float(data.samples.mu), float(data.samples.sigma)
    x = data.sample(100_000, np.random.default_rng(0)) if data.is_sampler else data.train
    x = np.asarray(x, dtype=np.float64)
    return float(x.mean()), float(x.std()) or 1.0


def check_classes(config: TrainConfig, data: Dataset) -> None:
    """A conditional run needs labels 0..K-1, K >= 2, with training rows of every class (a
    class without any would be drawn for fakes that D never sees real examples of)."""
    what = f"a conditional run (--conditional, model {config.model})"
    if data.num_classes is None:
        raise RunError(
            f"{what} needs labelled data, and {config.dataset} has no labels: use digits, "
            "mnist, ring8, grid25, or a .npz file saved with y (one class per row)"
        )
    if data.is_sampler:
        return
    seen = np.unique(data.train_labels)
    if len(seen) < 2:
        raise RunError(
            f"{what} needs at least 2 classes, and the training split of {config.dataset} has "
            f"{len(seen)}: train without --conditional"
        )
    if len(seen) != data.num_classes:
        missing = sorted(set(range(min(data.num_classes, len(seen) + 10))) - set(seen.tolist()))
        raise RunError(
            f"{what}: the labels of {config.dataset} are read as classes 0..{data.num_classes - 1}"
            f", but the training split has rows of only {len(seen)} of them (none of class "
            f"{missing[0]}): number the classes 0..K-1 without gaps"
        )


def build_gan(config: TrainConfig, data: Dataset) -> GAN:
    """The config's model preset, sized for the data (and its classes, when conditional)."""
    out = "linear" if data.image_shape is None else config.output
    if config.conditional:
        check_classes(config, data)
    try:
        loc, scale = data_loc_scale(data) if is_one_d(data) else (0.0, 1.0)
        gan = models.build(
            config.model,
            data_dim=data.dim,
            out=out,
            image_shape=data.image_shape,
            data_loc=loc,
            data_scale=scale,
            num_classes=data.num_classes if config.conditional else None,
        )
        sizes = minibatch_discrimination_sizes(config.minibatch_discrimination)
        if sizes is not None:
            gan = models.with_minibatch_discrimination(gan, kernels=sizes[0], kernel_dims=sizes[1])
        return gan
    except ValueError as err:
        raise RunError(str(err)) from None


# --lr-decay stops lowering the learning rate here (the conditional GAN paper's 1e-6).
LR_FLOOR = 1e-6
# A replay buffer keeps this many minibatches of G's samples.
REPLAY_BATCHES = 50


def build_objective(config: TrainConfig) -> Objective:
    """D's game (--loss) with its targets, and G's loss (--g-loss) within it."""
    if config.loss == "least-squares":
        d_objective = LeastSquares()
    else:
        g_loss = "non-saturating" if config.g_loss == "feature-matching" else config.g_loss
        d_objective = CrossEntropy(
            g_loss, real_target=config.label_smoothing, label_noise=config.label_noise
        )
    if config.g_loss == "feature-matching":
        return FeatureMatching(d_objective)
    return d_objective


def _optimizer(config: TrainConfig):
    lr = config.lr
    if config.lr_decay != 1:  # the conditional GAN paper's schedule
        # the floor is 1e-6, or the starting lr if that is lower: a decay never raises it
        lr = ExponentialDecay(config.lr, factor=config.lr_decay, floor=min(LR_FLOOR, config.lr))
    if config.optimizer == "adam":
        return OPTIMIZERS["adam"](lr=lr, beta1=config.momentum)
    momentum = config.momentum
    if config.momentum_final:
        momentum = LinearRamp(config.momentum, config.momentum_final, config.momentum_iterations)
    return OPTIMIZERS[config.optimizer](lr=lr, momentum=momentum)


def build_trainer(config: TrainConfig, data: Dataset) -> Trainer:
    """The run's Trainer, on the path ``config.path`` asks for (see ``path_ran``)."""
    gan = build_gan(config, data)
    try:
        return Trainer(
            gan,
            data,
            batch_size=config.batch_size,
            k=config.k,
            objective=build_objective(config),
            instance_noise=(
                InstanceNoise(config.instance_noise, iterations=config.instance_noise_iterations)
                if config.instance_noise
                else None
            ),
            replay=(
                ReplayBuffer(config.replay, capacity=REPLAY_BATCHES * config.batch_size)
                if config.replay
                else None
            ),
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


# A conditional run's grids: one row per class, this many samples in each.
PER_CLASS = 8


def grid_labels(gan: GAN) -> np.ndarray | None:
    """The labels of a conditional run's sample grid, row by row: K rows of PER_CLASS."""
    if not gan.conditional:
        return None
    return np.repeat(np.arange(gan.num_classes), PER_CLASS)


def fixed_noise(config: TrainConfig, gan: GAN, n: int = 64) -> np.ndarray:
    """One noise batch for the sample grids, from its own stream (the run's is untouched):
    n rows, or one per grid cell of a conditional run (``grid_labels``)."""
    if gan.conditional:
        n = gan.num_classes * PER_CLASS
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


# -- the run folder ------------------------------------------------------------------------

# What numgan writes into a run folder by default: train, then sample, evaluate and plot.
RUN_FILES = (
    "config.toml",
    "history.csv",
    "checkpoints",
    "samples",
    "snapshots1d.npz",
    "metrics.json",
    "sample.png",
    "loss_curves.png",
    "samples.png",
    "nearest_neighbours.png",
    "figure1d.png",
)
LOCK = ".lock"


def is_run_folder(run_dir: Path) -> bool:
    """Whether numgan wrote this folder's config.toml: its first line is numgan's header."""
    try:
        with open(run_dir / "config.toml", encoding="utf-8", errors="replace") as f:
            return f.readline().rstrip("\n") == HEADER
    except OSError:
        return False


def check_new_run_dir(run_dir: Path) -> None:
    """A new run goes into a folder that is missing, empty, or a numgan run that never saved a
    checkpoint; a RunError for a folder holding a run, or files numgan would overwrite."""
    if not run_dir.exists():
        return
    if not run_dir.is_dir():
        raise RunError(f"--out {run_dir}: a file, not a folder: give a new or empty folder")
    if (run_dir / "checkpoints" / "last.npz").exists():
        raise RunError(
            f"{run_dir} already holds a run: use --resume {run_dir} to continue it, or another "
            "--out"
        )
    if is_run_folder(run_dir):
        return  # a run stopped before its first checkpoint: nothing in it to keep
    clash = [name for name in RUN_FILES if (run_dir / name).exists()]
    if clash:
        raise RunError(
            f"--out {run_dir}: the folder holds {', '.join(clash)}, not written by numgan, "
            "which a run would overwrite: give a new or empty folder"
        )


class FolderBusy(RunError):
    """Another process holds the folder's lock (``run_lock``)."""


@contextlib.contextmanager
def run_lock(run_dir: Path, *, holder: str = "numgan train") -> Iterator[None]:
    """Hold RUN_DIR/.lock (flock, exclusive) while the block runs: one writer per run folder
    (or, ``holder`` "numgan sweep", one sweep per sweep folder).

    The operating system releases the lock when the process ends, however it ends, so a kill -9
    leaves no stale lock.  The file keeps the holder's process id, for the error message.  Where
    flock is missing (Windows) or the file system refuses it, runs go unlocked.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            by = f" (process {pid})" if pid.isdigit() else ""
            raise FolderBusy(
                f"{run_dir} is in use by another {holder}{by}: let it finish or stop it "
                "first, or give another --out"
            ) from None
        except OSError:
            pass  # no flock on this file system
        else:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


_SAMPLE_NAME = re.compile(r"^iter_\d+\.png$")


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete what a kill -9 during a write left of the files numgan train writes (their
    atomic_write temporaries); only while holding the run's lock, so no writer is live."""
    own = {"config.toml", "history.csv", "snapshots1d.npz"}
    return [
        *remove_temporaries(run_dir, own.__contains__),
        *remove_temporaries(run_dir / "checkpoints", "last.npz".__eq__),
        *remove_temporaries(run_dir / "samples", lambda name: bool(_SAMPLE_NAME.match(name))),
    ]


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
    """Check the parameters, then write the checkpoint, then the history it matches.

    A DivergenceError from the check writes nothing, so no checkpoint holds a diverged run.
    """
    trainer.check_parameters()
    checkpoint.save(run_dir / "checkpoints" / "last.npz", trainer, dataclasses.asdict(config))
    write_history(run_dir, trainer)


def write_samples(
    run_dir: Path, config: TrainConfig, data: Dataset, trainer: Trainer, z: np.ndarray
) -> None:
    """samples/iter_N.png: a grid of G(z) for images, a scatter for 2-D data (nothing for
    other data: matplotlib is not even imported)."""
    if data.image_shape is None and data.dim != 2:
        return
    from ..eval import plots

    gan = trainer.gan
    x = gan.G.forward(gan.g_input(z, grid_labels(gan)), training=False).copy()
    name = f"iter_{trainer.iteration:07d}.png"
    (run_dir / "samples").mkdir(exist_ok=True)
    if data.image_shape is not None:
        plots.sample_grid(
            x,
            run_dir / "samples" / name,
            image_shape=data.image_shape,
            value_range=pixel_range(config),
            nrow=PER_CLASS if gan.conditional else None,
        )
    elif data.dim == 2:
        rng = np.random.default_rng([config.seed, 3])
        plots.scatter2d(
            gan.sample(1000, rng, labels=draw_labels(gan, data, 1000, rng)),
            run_dir / "samples" / name,
            means=data.means,
            sigma=data.sigma,
            title=f"iteration {trainer.iteration}",
        )


def draw_labels(gan: GAN, data: Dataset, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """n labels at the training data's class frequencies for a conditional GAN, else None."""
    if not gan.conditional:
        return None
    return rng.choice(gan.num_classes, size=n, p=class_frequencies(data, gan.num_classes))


def is_one_d(data: Dataset) -> bool:
    """Data of one feature per sample: toy1d, or a file of shape (N, 1)."""
    return data.dim == 1 and data.image_shape is None


def snapshot1d(config: TrainConfig, data: Dataset, trainer: Trainer) -> dict[str, np.ndarray]:
    """D and G of a 1-D run, as plots.figure1d draws them.

    The arrows z -> G(z) need one noise dimension (the toy1d model); with more, the snapshot
    has D and G's samples only.
    """
    gan, rng = trainer.gan, np.random.default_rng([config.seed, 4])
    samples = gan.sample(5000, rng).ravel()
    real = data.sample(5000, rng).ravel()
    lo, hi = np.percentile(np.concatenate([samples, real]), [0.5, 99.5])
    pad = 0.25 * (hi - lo) or 1.0  # all at one point: a window around it
    x_grid = np.linspace(lo - pad, hi + pad, 300)
    snap = {
        "iteration": np.array(trainer.iteration),
        "x_grid": x_grid,
        # A least-squares D is a regression that may leave [0, 1] early in training; the
        # figure draws D(x) as a probability, so such values are shown at 0 or 1.
        "d_on_grid": np.clip(gan.discriminate(x_grid[:, None], trainer.objective).ravel(), 0, 1),
        "samples": samples,
    }
    if gan.noise.dim == 1:
        # z's range: U(-1, 1)'s, or two standard deviations either side for a Gaussian prior
        reach = 2.0 * gan.noise.std if isinstance(gan.noise, GaussianNoise) else 1.0
        z = np.linspace(-reach, reach, 21)[:, None].astype(gan.dtype)
        snap.update(z=z.ravel(), g_of_z=gan.G.forward(z, training=False).ravel())
    return snap


SNAPSHOT_ARRAYS = ("iteration", "x_grid", "d_on_grid", "samples")  # and optionally z, g_of_z
_SNAPSHOT_KEY = re.compile(r"^(\d+)/(iteration|x_grid|d_on_grid|samples|z|g_of_z)$")


def save_snapshots(run_dir: Path, snapshots: list[dict[str, np.ndarray]]) -> None:
    """snapshots1d.npz: every 1-D snapshot so far, in one file."""
    arrays = {f"{i}/{k}": v for i, snap in enumerate(snapshots) for k, v in snap.items()}
    atomic_write(run_dir / "snapshots1d.npz", lambda f: np.savez(f, **arrays))


def load_snapshots(run_dir: Path) -> list[dict[str, np.ndarray]]:
    """The snapshots of snapshots1d.npz in order; none if the run has no such file.

    A file that is not one numgan wrote (truncated, or another .npz under that name) is a
    RunError naming it; the caller adds what to do about it.
    """
    path = run_dir / "snapshots1d.npz"
    if not path.is_file():
        return []
    try:
        f = np.load(path, allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):
            raise ValueError("an .npy array, not an .npz archive")
        with f:
            arrays = {key: f[key] for key in f.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise RunError(f"{path}: not a readable snapshots file ({reason})") from None
    snaps: dict[int, dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        match = _SNAPSHOT_KEY.match(key)
        if match is None:
            raise RunError(f"{path}: not numgan's 1-D snapshots (it holds an array {key!r})")
        snaps.setdefault(int(match[1]), {})[match[2]] = value
    for i, snap in snaps.items():
        missing = [name for name in SNAPSHOT_ARRAYS if name not in snap]
        bad = [k for k, v in snap.items() if v.dtype.kind not in "iuf" or v.ndim > 1]
        if not missing and snap["iteration"].ndim != 0:
            bad.append("iteration")
        if missing or bad:
            what = f"no {', '.join(missing)}" if missing else f"unexpected {', '.join(bad)}"
            raise RunError(f"{path}: not numgan's 1-D snapshots (snapshot {i}: {what})")
    return [snaps[i] for i in sorted(snaps)]


class Stopped(Exception):
    """``numgan train`` stopped by SIGINT or SIGTERM.  ``str()`` is the one line to print;
    ``exit_code`` the shell's convention, 128 + the signal's number (130, 143)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class StopSignals:
    """SIGINT and SIGTERM as a flag the training loop reads between iterations.

    The first signal sets ``signum``: the loop finishes its iteration, saves it, and stops.  A
    second one stops at once (KeyboardInterrupt), the checkpoint on disk staying the last whole
    one; during a save (``saving()``) it waits for the save to finish.  The handlers are
    installed on entry and the previous ones restored on exit; off the main thread, where
    Python cannot install them, nothing changes.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._saving = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            # None: a handler installed outside Python, which Python cannot put back.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: object) -> None:
        again = self.signum is not None
        self.signum = signum
        if again and not self._saving:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def saving(self) -> Iterator[None]:
        self._saving = True
        try:
            yield
        finally:
            self._saving = False


def _signal_name(signum: int) -> str:
    if signum == signal.SIGINT:
        return "interrupted (SIGINT, Ctrl-C)"
    return f"terminated ({signal.Signals(signum).name})"


def _kept(run_dir: Path, saved_at: int | None) -> str:
    if saved_at is None:
        return "no checkpoint was written"
    return (
        f"the last good checkpoint, at iteration {saved_at}, is kept in {run_dir} "
        f"(history.csv matches it)"
    )


# What a resumed run may change: how long it runs, how often it writes, and the path (both
# compute the same iterations, to float32 rounding, on the same arrays; with the same path a
# run resumes bit for bit).  Anything else would make the folder misdescribe its own run.
RESUMABLE = ("iterations", "sample_every", "checkpoint_every", "path")


def changed_setting(config: TrainConfig, saved: dict) -> tuple[str, Any, Any] | None:
    """(key, saved value, config's value) of the first setting a resume may not change that
    differs between a run's saved config and ``config``; None if none does."""
    for key, value in saved.items():
        if key in RESUMABLE or not hasattr(config, key) or value == getattr(config, key):
            continue
        return key, value, getattr(config, key)
    return None


def check_resumed_config(config: TrainConfig, saved: dict, run_dir: Path) -> None:
    """Refuse a resume whose settings differ from the checkpoint's (a flag, or config.toml
    edited by hand), naming the first that does."""
    changed = changed_setting(config, saved)
    if changed is not None:
        key, old, new = changed
        raise RunError(
            f"--resume: the checkpoint in {run_dir} was trained with {key} = {old!r}, and this "
            f"resume asks for {new!r} (a flag, or {run_dir / 'config.toml'} edited since): a "
            "resumed run keeps its settings (only --iterations, --sample-every, "
            "--checkpoint-every and --path may change); start a new run with --out to change it"
        )


def _resume_state(
    config: TrainConfig, run_dir: Path, trainer: Trainer, one_d: bool
) -> list[dict[str, np.ndarray]]:
    """Restore the checkpoint into ``trainer``; the snapshots up to its iteration."""
    state = checkpoint.load(run_dir / "checkpoints" / "last.npz")
    check_resumed_config(config, checkpoint.config_of(state), run_dir)
    checkpoint.restore(trainer, state)
    if trainer.iteration >= config.iterations:
        raise RunError(
            f"the run in {run_dir} is already at iteration {trainer.iteration}: give "
            f"--iterations larger than that to continue it"
        )
    if not one_d:
        return []
    try:
        snapshots = load_snapshots(run_dir)
    except RunError as err:
        raise RunError(
            f"{err}: delete it and resume again (the 1-D figure then starts at iteration "
            f"{trainer.iteration})"
        ) from None
    # Snapshots past the checkpoint (a kill between the two writes) come again, the same.
    return [s for s in snapshots if int(s["iteration"]) <= trainer.iteration]


def train(
    config: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> Trainer:
    """Train (or continue) the run in ``run_dir`` up to ``config.iterations``.

    Holds the folder's lock (``run_lock``) throughout, and first removes the temporaries a
    killed writer left (``remove_stale_temporaries``).  Writes config.toml first; a checkpoint
    and history.csv every ``every_checkpoint`` iterations and at the end; sample grids every
    ``every_sample``.  While it runs, SIGINT and SIGTERM are a flag (``StopSignals``): the
    loop saves the iteration it is in and raises ``Stopped``; a second signal stops at once,
    keeping the last checkpoint.  A diverging run keeps its last good checkpoint and
    history.csv, and raises DivergenceError saying so.  The header goes to ``out`` (default
    stdout); the progress to ``err`` (default: stderr, or tqdm's widget in a notebook).
    """
    out = sys.stdout if out is None else out
    stop = StopSignals()
    saved_at: int | None = None  # the iteration of the checkpoint on disk
    try:
        with stop:
            if not resume:
                check_new_run_dir(run_dir)  # before the data loads; again under the lock
            if resume:  # before the data loads: an edited config names itself, not a symptom
                last = checkpoint.load(run_dir / "checkpoints" / "last.npz")
                check_resumed_config(config, checkpoint.config_of(last), run_dir)
            data = load_data(config)
            trainer = build_trainer(config, data)
            if stop.signum is not None:
                raise Stopped(
                    f"{_signal_name(stop.signum)} while loading: nothing was written",
                    128 + stop.signum,
                )
            run_dir.mkdir(parents=True, exist_ok=True)
            with run_lock(run_dir):
                remove_stale_temporaries(run_dir)
                if resume:
                    snapshots = _resume_state(config, run_dir, trainer, is_one_d(data))
                    saved_at = trainer.iteration
                    # The history of the checkpoint: a kill -9 between the two writes of a
                    # save left history.csv one save behind it.
                    write_history(run_dir, trainer)
                else:
                    check_new_run_dir(run_dir)
                    snapshots = []
                    for name in ("history.csv", "snapshots1d.npz"):  # of a run that never saved
                        (run_dir / name).unlink(missing_ok=True)
                _loop(config, run_dir, data, trainer, snapshots, stop, saved_at, out, err)
    except KeyboardInterrupt:
        signum = stop.signum or signal.SIGINT
        raise Stopped(
            f"{_signal_name(signum)} again: stopped at once, without saving; "
            + _kept(run_dir, saved_iteration(run_dir)),
            128 + signum,
        ) from None
    h = trainer.history
    print(
        f"done: iteration {trainer.iteration}, D loss {h['d_loss'][-1]:.4f}, "
        f"G loss {h['g_loss'][-1]:.4f}, mean D(x) {h['d_real'][-1]:.3f}, "
        f"mean D(G(z)) {h['d_fake'][-1]:.3f}",
        file=out,
    )
    return trainer


def saved_iteration(run_dir: Path) -> int | None:
    """The iteration of RUN_DIR's checkpoint, or None if it has none (or none readable)."""
    try:
        return int(checkpoint.load(run_dir / "checkpoints" / "last.npz")["iteration"])
    except (CheckpointError, KeyError, ValueError):
        return None


def _loop(
    config: TrainConfig,
    run_dir: Path,
    data: Dataset,
    trainer: Trainer,
    snapshots: list[dict[str, np.ndarray]],
    stop: StopSignals,
    saved_at: int | None,
    out: IO[str],
    err: IO[str] | None,
) -> None:
    """The iterations, the samples and checkpoints between them, and the stop on a signal."""
    ran = path_ran(trainer)
    _write_text(run_dir / "config.toml", config_toml(config, ran=ran))
    z_fixed = fixed_noise(config, trainer.gan)
    print(
        f"{data.description}; model {config.model}; run folder {run_dir}; path: {ran}",
        file=out,
        flush=True,  # before the progress on stderr, when both go to one log
    )
    one_d = is_one_d(data)
    progress = TrainingProgress(config.iterations, trainer.iteration, file=err)
    whole = False
    try:
        # NumPy's overflow warnings say what DivergenceError says, once per array, as it
        # diverges: train shows the one line.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while trainer.iteration < config.iterations and stop.signum is None:
                trainer.step()
                progress.update(trainer)
                i = trainer.iteration
                if i % config.every_sample == 0 or i == config.iterations:
                    write_samples(run_dir, config, data, trainer, z_fixed)
                    if one_d:
                        snapshots.append(snapshot1d(config, data, trainer))
                        save_snapshots(run_dir, snapshots)
                if i % config.every_checkpoint == 0 or i == config.iterations:
                    with stop.saving():
                        save_run(run_dir, config, trainer)
                    saved_at = i
            if stop.signum is not None and trainer.iteration == 0:
                raise Stopped(
                    f"{_signal_name(stop.signum)} before the first iteration: no checkpoint "
                    "was written",
                    128 + stop.signum,
                )
            if trainer.iteration != saved_at:  # a signal, between two checkpoints
                with stop.saving():
                    save_run(run_dir, config, trainer)
                saved_at = trainer.iteration
            if stop.signum is not None:
                raise Stopped(
                    f"{_signal_name(stop.signum)}: stopped after iteration {saved_at} and saved "
                    f"it in {run_dir}; continue with numgan train --resume {run_dir}",
                    128 + stop.signum,
                )
            if one_d and not snapshots:
                snapshots.append(snapshot1d(config, data, trainer))
                save_snapshots(run_dir, snapshots)
        whole = True
    except DivergenceError as error:
        raise DivergenceError(f"{error}; {_kept(run_dir, saved_at)}") from None
    finally:
        # A stop's or an error's one line says where it stopped: no last progress line then.
        progress.close(final=whole)


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
