"""A sweep file, read and checked: its runs (settings x seeds) and their folder names.

    seeds = [0, 1, 2]            each configuration runs once per seed (default [0])
    evaluate_samples = 10000     numgan evaluate --n-samples, after each run
    metric = "modes"             what summary.md ranks by (default: the dataset's main metric)
    [base]                       any numgan train setting, for every run
    [grid]                       setting = [values, ...]: one configuration per combination
    [[runs]]                     explicit configurations (each a table of settings), besides

``read_sweep`` resolves every run's config as ``numgan train --config`` would (the dataset's
defaults, then [base], then the configuration) and checks it, so that a bad file is one line
before any run starts.  numgan/app/sweep.py runs what it returns (docs/sweeps.md).
"""

from __future__ import annotations

import itertools
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import DATASETS
from .config import FIELDS, RunError, TrainConfig, dataset_kind, resolve_config
from .summary import RANKED, metrics_of

# The top-level keys of a sweep file; everything else lives in [base], [grid] or [[runs]].
SWEEP_KEYS = ("base", "grid", "runs", "seeds", "evaluate_samples", "metric")


@dataclass(frozen=True)
class Run:
    """One run of a sweep: a configuration and a seed.

    name:      the run's folder name: the settings that vary across the sweep, and the seed
    settings:  the sweep file's settings for it ([base] with its configuration over it)
    config:    the resolved TrainConfig (the dataset's defaults under the settings)
    """

    name: str
    settings: dict[str, Any]
    config: TrainConfig

    @property
    def seed(self) -> int:
        return self.config.seed


@dataclass(frozen=True)
class Sweep:
    """A sweep file, read and checked: every run's config is valid before anything starts."""

    path: str
    text: str
    runs: tuple[Run, ...]
    keys: tuple[str, ...]  # every setting the file names, in the order it names them
    varying: tuple[str, ...]  # the settings that differ between configurations
    seeds: tuple[int, ...]
    evaluate_samples: int
    metric: str | None


def _error(path: str, message: str) -> RunError:
    return RunError(f"{path}: {message}")


SCALARS = (str, int, float, bool)  # what a setting's value may be (TrainConfig checks which)


def _settings_table(path: str, table: Any, where: str, *, lists: bool = False) -> dict[str, Any]:
    """A table of numgan train settings, checked: known names, no seed, plain values (for the
    grid, ``lists``: non-empty lists of distinct plain values)."""
    if not isinstance(table, dict):
        raise _error(path, f"{where} must be a table of numgan train settings")
    for key, value in table.items():
        if key == "seed":
            raise _error(path, f"{where} sets seed: give the seeds as seeds = [0, 1, ...] on top")
        if key not in FIELDS:
            known = ", ".join(k for k in FIELDS if k != "seed")
            raise _error(path, f"{where}: unknown setting {key!r}; known settings: {known}")
        values = value if lists else [value]
        if lists and not isinstance(value, list):
            raise _error(path, f"{where} {key} must be a list of values, e.g. {key} = [a, b]")
        if lists and not value:
            raise _error(path, f"{where} {key} = []: give it at least one value")
        for v in values:
            if not isinstance(v, SCALARS):
                raise _error(
                    path, f"{where} {key} = {v!r}: a setting is a string, a number or a boolean"
                )
        if lists and len({value_key(v) for v in values}) != len(values):
            raise _error(path, f"{where} {key} lists a value twice: {value!r}")
    return dict(table)


def value_key(value: Any) -> tuple[str, Any]:
    """A value as a dict key that tells 1 from 1.0 and True (TOML's types are distinct)."""
    return (type(value).__name__, value)


def _check_whole_number(path: str, name: str, value: Any, least: int) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
    if not ok:
        raise _error(path, f"{name} must be a whole number >= {least}, got {value!r}")


def _value_text(value: Any) -> str:
    """A setting's value in a run's name: strings as they are (a file by its stem), numbers as
    Python writes them."""
    if isinstance(value, str):
        return Path(value).stem if ("/" in value or value.endswith((".npy", ".npz"))) else value
    if isinstance(value, bool):
        return "true" if value else "false"  # as config.toml writes it
    return repr(value)


_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]")
MAX_NAME = 200  # bytes: room for status/NAME.json and logs/NAME.log under the usual 255


def run_name(config: TrainConfig, varying: tuple[str, ...]) -> str:
    """The folder name of a run: 'lr=0.001,k=2,seed=0' (the settings that vary, and the seed)."""
    parts = [f"{key}={_value_text(getattr(config, key))}" for key in varying]
    return _UNSAFE.sub("_", ",".join([*parts, f"seed={config.seed}"]))


def _read_toml(path: str) -> tuple[str, dict[str, Any]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        raise RunError(f"{path}: no such sweep file") from None
    except IsADirectoryError:
        raise RunError(f"{path}: a folder, not a sweep file") from None
    except PermissionError:
        raise RunError(f"{path}: not allowed to read it") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise _error(path, f"not valid TOML ({one_line(err)})") from None


def _configurations(path: str, spec: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The file's configurations ([base] under each grid point, then each [[runs]]) and the
    settings it names, in order."""
    base = _settings_table(path, spec.get("base", {}), "[base]")
    grid = _settings_table(path, spec.get("grid", {}), "[grid]", lists=True)
    if "grid" in spec and not grid:
        raise _error(path, "[grid] is empty: give settings lists of values, or drop [grid]")
    runs = spec.get("runs", [])
    if not isinstance(runs, list):
        raise _error(path, "runs must be written as [[runs]] tables")
    explicit = [_settings_table(path, r, f"[[runs]] number {i + 1}") for i, r in enumerate(runs)]
    product = itertools.product(*grid.values())
    points = [dict(zip(grid, values, strict=True)) for values in product] if grid else []
    if not grid and not explicit:
        points = [{}]  # [base] alone
    keys = list(dict.fromkeys([*base, *grid, *(k for r in explicit for k in r)]))
    return [{**base, **c} for c in [*points, *explicit]], keys


def _seeds(path: str, spec: dict[str, Any]) -> list[int]:
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds:
        raise _error(path, f"seeds must be a non-empty list of whole numbers, got {seeds!r}")
    for s in seeds:
        _check_whole_number(path, "every seed", s, 0)
    if len(set(seeds)) != len(seeds):
        raise _error(path, f"seeds lists a seed twice: {seeds!r}")
    return seeds


def read_sweep(path: str | os.PathLike) -> Sweep:
    """Read and check a sweep file: a RunError (one line, naming the file) for anything wrong.

    Every run's config is resolved and checked here, so a bad value fails before any run
    starts, with the run it belongs to.
    """
    path = str(path)
    text, spec = _read_toml(path)
    unknown = [key for key in spec if key not in SWEEP_KEYS]
    if unknown:
        hint = " (settings go in [base] or [grid])" if any(k in FIELDS for k in unknown) else ""
        raise _error(
            path,
            f"unknown key(s) {', '.join(unknown)}{hint}; a sweep file has {', '.join(SWEEP_KEYS)}",
        )
    seeds = _seeds(path, spec)
    n_eval = spec.get("evaluate_samples", 10_000)
    _check_whole_number(path, "evaluate_samples", n_eval, 2)
    metric = spec.get("metric")
    if metric is not None and (not isinstance(metric, str) or metric not in RANKED):
        raise _error(path, f"metric = {metric!r}: rank by one of {', '.join(RANKED)}")
    if not any(key in spec for key in ("base", "grid", "runs")):
        raise _error(path, "names no settings: give a [base], [grid] or [[runs]] table")
    merged, keys = _configurations(path, spec)
    varying = tuple(k for k in keys if len({value_key(m.get(k)) for m in merged}) > 1)

    built: list[Run] = []
    for settings in merged:
        for seed in seeds:
            try:
                config = resolve_config({**settings, "seed": seed})
            except RunError as err:
                shown = [f"{k}={_value_text(settings[k])}" for k in varying if k in settings]
                which = ",".join([*shown, f"seed={seed}"])
                raise _error(path, f"run {which}: {err}") from None
            if dataset_kind(config.dataset) == "file" and not config.dataset.endswith(
                (".npy", ".npz")
            ):
                raise _error(
                    path,
                    f"dataset = {config.dataset!r}: not a dataset numgan knows "
                    f"({', '.join(DATASETS)}) nor a .npy/.npz file",
                )
            built.append(Run(run_name(config, varying), settings, config))
    _check_names(path, built)
    if metric is not None:
        for run in built:
            has = metrics_of(run.config.dataset)
            if metric not in has:
                raise _error(
                    path,
                    f"metric = {metric!r}: {run.config.dataset} runs have no such metric "
                    f"(they have {', '.join(has)})",
                )
    return Sweep(
        path=path,
        text=text,
        runs=tuple(built),
        keys=tuple(keys),
        varying=varying,
        seeds=tuple(seeds),
        evaluate_samples=n_eval,
        metric=metric,
    )


def _check_names(path: str, runs: list[Run]) -> None:
    """Each run's folder name is its own, and short enough for a file name."""
    seen: dict[str, Run] = {}
    for run in runs:
        if len(f"{run.name}.json".encode()) > MAX_NAME:
            raise _error(
                path,
                f"run {run.name[:60]}...: its folder name would be longer than {MAX_NAME} bytes; "
                "vary fewer settings in one sweep",
            )
        other = seen.setdefault(run.name, run)
        if other is run:
            continue
        if other.config == run.config:
            raise _error(path, f"the same run twice: {run.name}: drop one of its configurations")
        raise _error(
            path,
            f"two different runs get the folder name {run.name} ({other.settings} and "
            f"{run.settings}): names keep a file's stem and letters, digits and ._=,+- only, "
            "so give the files or values names that differ there",
        )


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
