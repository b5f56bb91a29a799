"""A whole training run in one file: save, load, and resume exactly where it stopped.

A checkpoint is one ``.npz`` holding

    G/<layer>.<name>, D/<layer>.<name>       parameters and BatchNorm running statistics
    opt_g/<name>, opt_d/<name>               optimiser state (step count, velocity or moments)
    history/<key>                            the per-iteration history so far
    rng                                      the run's Generator state (JSON)
    iteration, config, format                the iteration reached, the run's config (JSON)

Resuming restores every one of them into freshly built objects, so N iterations, a checkpoint
and N more give bit-identical parameters to 2N iterations in one go.

Files are written atomically: into a temporary file in the same folder, flushed to disk, then
renamed over the target (``os.replace`` is atomic on POSIX and Windows).  A crash or a kill
during the write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import atomic_write

FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that does not fit the model it is loaded into."""


def trainer_state(trainer, config: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Everything needed to resume ``trainer``, as a flat dict of arrays."""
    state: dict[str, np.ndarray] = {}
    for prefix, obj in (("G", trainer.gan.G), ("D", trainer.gan.D)):
        for name, value in obj.state_dict().items():
            state[f"{prefix}/{name}"] = value
    for prefix, opt, net in (
        ("opt_g", trainer.opt_g, trainer.gan.G),
        ("opt_d", trainer.opt_d, trainer.gan.D),
    ):
        opt._bind(net)  # a run saved before its first step still has (zero) state to save
        for name, value in opt.state_dict().items():
            state[f"{prefix}/{name}"] = value
    for key, values in trainer.history.items():
        state[f"history/{key}"] = np.asarray(values, dtype=np.float64)
    state["rng"] = np.array(json.dumps(trainer.rng.bit_generator.state))
    state["iteration"] = np.array(trainer.iteration)
    state["config"] = np.array(json.dumps(config or {}))
    state["format"] = np.array(FORMAT)
    return state


def save(path: str | os.PathLike, trainer, config: dict[str, Any] | None = None) -> Path:
    """Write ``trainer``'s whole state to ``path`` (.npz), atomically."""
    state = trainer_state(trainer, config)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda f: np.savez(f, **state))


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a checkpoint into a dict of arrays; a missing or corrupt file is a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with np.load(path, allow_pickle=False) as f:
            state = {key: f[key] for key in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({err})") from None
    missing = {"format", "iteration", "rng", "config"} - set(state)
    if missing:
        raise CheckpointError(f"{path}: not a numgan checkpoint (missing {sorted(missing)})")
    if int(state["format"]) != FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {int(state['format'])}, this numgan reads format {FORMAT}"
        )
    return state


def config_of(state: dict[str, np.ndarray]) -> dict[str, Any]:
    return json.loads(str(state["config"]))


def restore(trainer, state: dict[str, np.ndarray]) -> None:
    """Load a checkpoint's state into a trainer built with the same model and optimisers."""

    def part(prefix: str) -> dict[str, np.ndarray]:
        n = len(prefix) + 1
        return {key[n:]: value for key, value in state.items() if key.startswith(prefix + "/")}

    try:
        trainer.gan.G.load_state_dict(part("G"))
        trainer.gan.D.load_state_dict(part("D"))
        trainer.opt_g.load_state_dict(part("opt_g"), trainer.gan.G)
        trainer.opt_d.load_state_dict(part("opt_d"), trainer.gan.D)
    except (ValueError, KeyError) as err:
        raise CheckpointError(f"the checkpoint does not match this model: {err}") from None
    trainer.rng.bit_generator.state = json.loads(str(state["rng"]))
    trainer.iteration = int(state["iteration"])
    for key in trainer.history:
        trainer.history[key] = part("history").get(key, np.zeros(0)).tolist()
