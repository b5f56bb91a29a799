"""A whole training run in one file: save, load, and resume exactly where it stopped.

A checkpoint is one ``.npz`` holding

    G/<layer>.<name>, D/<layer>.<name>       parameters and BatchNorm running statistics
    opt_g/<name>, opt_d/<name>               optimiser state (step count, velocity or moments)
    history/<key>                            the per-iteration history so far
    replay/x                                 a replay buffer's samples (runs with replay)
    rng                                      the run's Generator state (JSON)
    iteration, config, format                the iteration reached, the run's config (JSON)

Resuming restores every one of them into freshly built objects, so N iterations, a checkpoint
and N more give bit-identical parameters to 2N iterations in one go.

Files are written atomically: into a temporary file in the same folder, flushed to disk, then
renamed over the target (``os.replace`` is atomic on POSIX and Windows).  A crash or a kill
during the write leaves the previous checkpoint intact.

Reading trusts nothing in the file: every array's header is checked against the bytes that
hold it before they are read, nothing is unpickled, and every problem (a damaged zip or zlib
stream, bad JSON, arrays that do not fit the model) is a ``CheckpointError`` of one line naming
the file.  ``restore`` checks the whole checkpoint against the trainer before it changes any
of it, so a checkpoint that does not fit leaves the trainer as it was.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import DamagedFile, atomic_write, error_reason, read_npy

FORMAT = 1
_HEADER_KEYS = ("format", "iteration", "rng", "config")
_MAX_HEADER = 10_000  # NumPy's own limit for an untrusted .npy header; numgan writes ~128 bytes
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that does not fit the model it is loaded into."""


class Checkpoint(dict):
    """What ``load`` returns: the checkpoint's arrays by name, and ``path``, the file they came
    from (so that ``restore`` can name it)."""

    def __init__(self, arrays: dict[str, np.ndarray], path: Path | None = None) -> None:
        super().__init__(arrays)
        self.path = path


def _check_trainer(trainer, what: str) -> None:
    if not all(hasattr(trainer, name) for name in ("gan", "opt_g", "opt_d", "history", "rng")):
        raise TypeError(f"checkpoint.{what}: trainer must be a numgan Trainer, got {trainer!r}")


def _config_json(config) -> str:
    """The run's settings as a JSON object, or a TypeError saying what cannot be one."""
    if config is not None and not isinstance(config, dict):
        raise TypeError(
            f"checkpoint.save: config must be a dict of settings (or None), got {config!r}"
        )
    try:
        return json.dumps(config or {})
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"checkpoint.save: config must hold numbers, strings, lists and dicts only ({err})"
        ) from None


def trainer_state(trainer, config: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Everything needed to resume ``trainer``, as a flat dict of arrays."""
    _check_trainer(trainer, "save")
    config_text = _config_json(config)
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
    replay = getattr(trainer, "replay", None)
    if replay is not None:
        for name, value in replay.state_dict().items():
            state[f"replay/{name}"] = value
    state["rng"] = np.array(json.dumps(trainer.rng.bit_generator.state))
    state["iteration"] = np.array(trainer.iteration)
    state["config"] = np.array(config_text)
    state["format"] = np.array(FORMAT)
    return state


def save(path: str | os.PathLike, trainer, config: dict[str, Any] | None = None) -> Path:
    """Write ``trainer``'s whole state to ``path`` (.npz), atomically."""
    state = trainer_state(trainer, config)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda f: np.savez(f, **state))


# -- reading -----------------------------------------------------------------------------------


def _array(raw: bytes, path: Path, name: str) -> np.ndarray:
    """The array in the bytes of one .npy member, its header checked against their length."""
    try:
        return read_npy(io.BytesIO(raw), name, len(raw))
    except DamagedFile as err:
        kind = "a numgan" if "Python objects" in str(err) else "a readable"
        raise CheckpointError(f"{path}: not {kind} checkpoint: {err}") from None


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the .npz at path; anything damaged or foreign is a CheckpointError."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:  # permissions, mostly; later OSErrors come from damaged bytes
        raise CheckpointError(f"{path}: cannot be read ({err.strerror or err})") from None
    if not head:
        raise CheckpointError(f"{path}: an empty file (0 bytes), not a numgan checkpoint")
    if not head.startswith(b"PK"):
        raise CheckpointError(
            f"{path}: not a numgan checkpoint: not even a .npz (zip) file, which numgan writes"
        )
    arrays = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    raise CheckpointError(
                        f"{path}: not a numgan checkpoint: it holds {info.filename!r}, not an array"
                    )
                name = info.filename[: -len(".npy")]
                arrays[name] = _array(zf.read(info), path, name)  # zf.read checks the CRC
    except CheckpointError:
        raise
    except MemoryError:
        raise CheckpointError(f"{path}: too large to load into memory") from None
    except Exception as err:  # zipfile, zlib, struct, OS errors...: the bytes are damaged
        raise CheckpointError(
            f"{path}: not a readable checkpoint: corrupt or truncated ({error_reason(err)})"
        ) from None
    return arrays


def _scalar(state: dict[str, np.ndarray], key: str, kinds: str, where: str) -> np.ndarray:
    value = np.asarray(state[key])
    if value.shape != () or value.dtype.kind not in kinds:
        what = "an integer" if kinds == "iu" else "a JSON string"
        raise CheckpointError(
            f"{where}: damaged: {key} should be {what}, found shape {value.shape} of {value.dtype}"
        )
    return value


def _json(state: dict[str, np.ndarray], key: str, where: str) -> dict[str, Any]:
    text = str(_scalar(state, key, "U", where))
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as err:  # JSONDecodeError, or absurdly deep nesting
        raise CheckpointError(
            f"{where}: damaged: {key} is not valid JSON ({error_reason(err)})"
        ) from None
    if not isinstance(value, dict):
        raise CheckpointError(
            f"{where}: damaged: {key} should be a JSON object, found {type(value).__name__}"
        )
    return value


def _check_run(state: dict[str, np.ndarray], where: str) -> tuple[int, dict[str, Any]]:
    """The format, iteration, config and RNG state, checked -> (iteration, RNG state)."""
    missing = [key for key in _HEADER_KEYS if key not in state]
    if len(missing) == len(_HEADER_KEYS):
        found = f"; it holds {', '.join(sorted(state)[:6])}" if state else ""
        raise CheckpointError(
            f"{where}: not a numgan checkpoint (none of {', '.join(missing)}){found}"
        )
    if missing:
        raise CheckpointError(f"{where}: damaged: it lacks {', '.join(missing)}")
    version = int(_scalar(state, "format", "iu", where))
    if version != FORMAT:
        raise CheckpointError(
            f"{where}: checkpoint format {version}, this numgan reads format {FORMAT}"
        )
    iteration = int(_scalar(state, "iteration", "iu", where))
    if iteration < 0:
        raise CheckpointError(f"{where}: damaged: iteration {iteration} is negative")
    _json(state, "config", where)
    rng = _json(state, "rng", where)
    kind = rng.get("bit_generator")
    if kind is None:
        raise CheckpointError(f"{where}: damaged: the RNG state lacks its bit_generator")
    if kind not in _BIT_GENERATORS:
        raise CheckpointError(
            f"{where}: damaged: the RNG state names the bit generator {kind!r}, not one of "
            f"{', '.join(_BIT_GENERATORS)}"
        )
    try:  # on a scratch generator: the state must be one NumPy accepts
        getattr(np.random, kind)().state = rng
    except Exception as err:  # NumPy's checks of a state raise several kinds
        raise CheckpointError(
            f"{where}: damaged: the RNG state is not a valid {kind} state ({error_reason(err)})"
        ) from None
    return iteration, rng


def _check_numbers(state: dict[str, np.ndarray], where: str) -> None:
    """Parameters, buffers and optimiser state: finite floats; step counts: integers >= 0."""
    for key, value in state.items():
        if not key.startswith(("G/", "D/", "opt_g/", "opt_d/", "history/", "replay/")):
            continue
        value = np.asarray(value)
        if key.startswith("opt_") and key.endswith("/t"):
            if value.shape != () or value.dtype.kind not in "iu" or value < 0:
                raise CheckpointError(
                    f"{where}: damaged: the step count {key} should be an integer >= 0, found "
                    f"{value.dtype} of shape {value.shape}"
                )
        elif value.dtype.kind not in "fiu":
            raise CheckpointError(f"{where}: damaged: {key} has dtype {value.dtype}, not numbers")
        elif not key.startswith("history/") and not np.isfinite(value).all():
            raise CheckpointError(
                f"{where}: damaged: {key} holds NaN or inf, which a checkpoint of a training "
                f"run never does"
            )


def load(path: str | os.PathLike) -> Checkpoint:
    """Read and check a checkpoint: its arrays by name, with ``path``.

    A missing, empty, foreign, corrupt or truncated file, JSON that does not parse, an RNG state
    NumPy refuses or numbers that are not, is a CheckpointError of one line naming the file.
    Whether the arrays fit a model is for ``restore`` to check.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: a directory, not a checkpoint file")
    if path.exists() and not path.is_file():  # a pipe or a device: it might never end
        raise CheckpointError(f"{path}: not a regular file, so not a checkpoint")
    if not path.is_file():
        run = path.parent.parent
        if path.parent.name == "checkpoints" and (run / "config.toml").is_file():
            raise CheckpointError(
                f"{path}: no such checkpoint: the run in {run} stopped before it saved one, so "
                f"there is nothing to resume or read; train it again (numgan train --config "
                f"{run / 'config.toml'} --out NEW_RUN_DIR)"
            )
        raise CheckpointError(f"{path}: no such checkpoint")
    state = _read_arrays(path)
    _check_run(state, str(path))
    _check_numbers(state, str(path))
    return Checkpoint(state, path)


def config_of(state: dict[str, np.ndarray]) -> dict[str, Any]:
    """The run's config, as saved with the checkpoint (a dict; {} if none was given)."""
    return _json(state, "config", _where(state))


def _where(state: dict[str, np.ndarray]) -> str:
    path = getattr(state, "path", None)
    return "the checkpoint" if path is None else str(path)


def _expect(
    found: dict[str, np.ndarray], wanted: dict[str, np.ndarray], prefix: str, owner: str, where: str
) -> None:
    """found (the arrays under prefix/) must have exactly the names and shapes of wanted."""
    missing = [f"{prefix}/{name}" for name in sorted(set(wanted) - set(found))]
    unexpected = [f"{prefix}/{name}" for name in sorted(set(found) - set(wanted))]
    if missing or unexpected:
        parts = [f"it lacks {', '.join(missing)}"] if missing else []
        parts += [f"it has {', '.join(unexpected)}, which {owner} has not"] if unexpected else []
        raise CheckpointError(
            f"{where}: does not fit this model: {' and '.join(parts)} (saved from another model "
            f"or optimiser?)"
        )
    for name, target in wanted.items():
        value = np.asarray(found[name])
        if value.shape != target.shape:
            raise CheckpointError(
                f"{where}: does not fit this model: {prefix}/{name} has shape {value.shape}, "
                f"where {owner} has {target.shape}"
            )
        with np.errstate(over="ignore"):  # the overflow is what is being looked for
            cast = value.astype(target.dtype) if value.dtype.kind == "f" else None
        if cast is not None and not np.isfinite(cast).all():
            raise CheckpointError(
                f"{where}: does not fit this model: {prefix}/{name} holds values beyond "
                f"{target.dtype}, the dtype of {owner}"
            )


def _check_replay(
    found: dict[str, np.ndarray], trainer, iteration: int, where: str
) -> dict[str, np.ndarray]:
    """A replay buffer's saved samples must fit the trainer's buffer: returns them."""
    buffer = getattr(trainer, "replay", None)
    if buffer is None:
        if found:
            raise CheckpointError(
                f"{where}: does not fit this trainer: it holds a replay buffer, and this run "
                "has no replay (was it saved with --replay?)"
            )
        return {}
    unexpected = sorted(set(found) - {"x"})
    if unexpected:
        raise CheckpointError(f"{where}: damaged: unknown replay entries {', '.join(unexpected)}")
    if "x" not in found:
        if iteration > 0:  # a buffer fills at the first D step
            raise CheckpointError(
                f"{where}: does not fit this trainer: it holds no replay buffer, and this run "
                "has replay (was it saved without --replay?)"
            )
        return {}
    x = np.asarray(found["x"])
    sample = trainer.gan.G.out_shape
    if x.ndim < 2 or len(x) > buffer.capacity or (sample is not None and x.shape[1:] != sample):
        raise CheckpointError(
            f"{where}: does not fit this trainer: replay/x has shape {x.shape}, where the "
            f"buffer holds up to {buffer.capacity} samples of shape {sample}"
        )
    return found


def restore(trainer, state: dict[str, np.ndarray]) -> None:
    """Load a checkpoint's state into a trainer built with the same model and optimisers.

    Everything is checked before anything changes: a CheckpointError, naming the file and
    what does not fit, leaves the trainer exactly as it was.
    """
    _check_trainer(trainer, "restore")
    if not hasattr(state, "items"):
        raise TypeError(
            f"checkpoint.restore: state must be a checkpoint (checkpoint.load(path)), got {state!r}"
        )
    where = _where(state)

    def part(prefix: str) -> dict[str, np.ndarray]:
        n = len(prefix) + 1
        return {key[n:]: value for key, value in state.items() if key.startswith(prefix + "/")}

    iteration, rng = _check_run(state, where)
    _check_numbers(state, where)
    nets = {"G": trainer.gan.G, "D": trainer.gan.D}
    for prefix, net in nets.items():
        _expect(part(prefix), net.state_dict(), prefix, f"this model's {prefix}", where)
    opts = {"opt_g": (trainer.opt_g, nets["G"]), "opt_d": (trainer.opt_d, nets["D"])}
    for prefix, (opt, net) in opts.items():
        flat = net.flat_params
        wanted = {name: np.empty(flat.shape, flat.dtype) for name in opt.STATE}
        wanted["t"] = np.empty(())
        _expect(part(prefix), wanted, prefix, f"this run's {type(opt).__name__}", where)
    history = part("history")
    for key in trainer.history:
        values = history.get(key)
        if values is None or np.shape(values) != (iteration,):
            found = "nothing" if values is None else f"shape {np.shape(values)}"
            raise CheckpointError(
                f"{where}: damaged: history/{key} should hold one value per iteration, "
                f"({iteration},), found {found}"
            )
    replay = _check_replay(part("replay"), trainer, iteration, where)
    ours = type(trainer.rng.bit_generator).__name__
    if rng["bit_generator"] != ours:
        raise CheckpointError(
            f"{where}: does not fit this trainer: its RNG is a {rng['bit_generator']}, the "
            f"trainer's a {ours}"
        )

    # Checked: from here on nothing can fail halfway.
    for prefix, net in nets.items():
        net.load_state_dict(part(prefix))
    for prefix, (opt, net) in opts.items():
        opt.load_state_dict(part(prefix), net)
    if (buffer := getattr(trainer, "replay", None)) is not None:
        buffer.load_state_dict(replay, trainer.gan.dtype)
    trainer.rng.bit_generator.state = rng
    trainer.iteration = iteration
    for key in trainer.history:
        trainer.history[key] = np.asarray(history[key]).tolist()
