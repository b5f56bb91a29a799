"""What a sweep gives: results.csv, summary.md and sweep.png, read from its run folders.

Everything here is rebuilt from SWEEP_DIR alone (each run's metrics.json and checkpoint, and
the sweep's status/NAME.json), so ``numgan sweep --evaluate-only`` rebuilds it after any crash
and a run evaluated by hand counts like the others.

The main metric of a dataset ranks its configurations in summary.md and is the figure's
y axis: modes captured for the mixtures (ties broken by the high-quality fraction), the
Parzen log-likelihood for images and files, mean |D - D*| for 1-D data, each dataset of a
sweep ranked by its own; a sweep file's ``metric = "NAME"`` picks another of ``RANKED``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..fileio import atomic_write
from .config import flag

if TYPE_CHECKING:
    from .sweep import Sweep

# Metrics a sweep can rank by, and whether higher is better.
RANKED = {
    "modes": True,
    "high_quality": True,
    "reverse_kl": False,
    "parzen_log_likelihood": True,
    "mean_abs_d_minus_dstar": False,
    "value_gap": False,
    "label_fidelity": True,
}
# What numgan evaluate scores each dataset by (numgan/app/results.py), the main metric first,
# then its tie-break: modes are whole numbers, and tie often.  Images and files: Parzen.
MIXTURE_METRICS = ("modes", "high_quality", "reverse_kl")
ONE_D_METRICS = ("mean_abs_d_minus_dstar", "value_gap")
PARZEN_METRICS = ("parzen_log_likelihood",)
DATASET_METRICS = {"ring8": MIXTURE_METRICS, "grid25": MIXTURE_METRICS, "toy1d": ONE_D_METRICS}
# What metrics.json holds besides metrics: the run's bookkeeping.
NOT_METRICS = {"iteration", "dataset", "samples", "validation", "test", "of_modes"}
STATUS_COLUMNS = ("status", "reason", "iteration", "seconds")


def metrics_of(dataset: str) -> tuple[str, ...]:
    """The rankable metrics numgan evaluate gives a dataset's runs, the main one first."""
    return DATASET_METRICS.get(dataset, PARZEN_METRICS)


def ranking(metric: str | None, dataset: str) -> tuple[str, ...]:
    """The metrics that rank a dataset's configurations, in turn: the sweep's ``metric``, or
    the dataset's main metric and its tie-break."""
    if metric is not None:
        return (metric,)
    main = metrics_of(dataset)
    return main[:2] if main is MIXTURE_METRICS else main[:1]


def _metrics(run_dir: Path) -> dict[str, float | int]:
    try:
        values = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(values, dict):
        return {}
    return {
        k: v
        for k, v in values.items()
        if k not in NOT_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def setting_columns(sweep: Sweep) -> list[str]:
    """The settings results.csv shows: those the file names, and any other that differs
    between its runs once resolved (iterations, when ring8 and grid25 share a sweep)."""
    from .config import FIELDS

    differ = [
        k
        for k in FIELDS
        if k != "seed" and len({repr(getattr(r.config, k)) for r in sweep.runs}) > 1
    ]
    return list(dict.fromkeys([*sweep.keys, *differ]))


def result_rows(sweep: Sweep, sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per run of the sweep: its name, settings, seed, status, and every metric.

    status: done; failed (reason says why); unfinished (trained part of the way, or trained
    and not yet evaluated: run the sweep again); not started.
    """
    from .sweep import read_status, run_state

    rows = []
    for run in sweep.runs:
        run_dir = sweep_dir / "runs" / run.name
        state, iteration = run_state(run_dir, run.config.iterations, sweep.evaluate_samples)
        status = read_status(sweep_dir, run.name)
        metrics = _metrics(run_dir) if state == "done" else {}
        if state == "done":
            what, reason = "done", ""
        elif status.get("status") == "failed":
            what, reason = "failed", str(status.get("reason", ""))
        elif state == "new":
            what, reason = "not started", ""
        else:
            what, reason = "unfinished", ""
        seconds = status.get("seconds")
        row: dict[str, Any] = {"name": run.name}
        row.update({key: getattr(run.config, key) for key in setting_columns(sweep)})
        row.update(
            seed=run.seed,
            status=what,
            reason=reason,
            iteration=iteration,
            seconds=seconds if isinstance(seconds, (int, float)) else "",
        )
        row.update(metrics)
        rows.append(row)
    return rows


def _columns(sweep: Sweep, rows: list[dict[str, Any]]) -> list[str]:
    fixed = ["name", *setting_columns(sweep), "seed", *STATUS_COLUMNS]
    metrics = dict.fromkeys(k for row in rows for k in row if k not in fixed)
    return [*fixed, *metrics]


def _cell(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)  # floats: every digit


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value; NaN if a value is not finite:
    reverse KL is inf when a run has no high-quality sample)."""
    n = len(values)
    mean = sum(values) / n
    if not all(math.isfinite(v) for v in values):
        return mean, math.nan
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def _mean_std_text(values: list[float]) -> str:
    if not values:
        return ""
    mean, std = _mean_std(values)
    if len(values) == 1 or not math.isfinite(std):
        return f"{mean:.4g}"
    return f"{mean:.4g} +- {std:.2g}"


def configurations(sweep: Sweep, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows by dataset, then by configuration (the varying settings but the dataset), in
    the file's order: {dataset: {label: {"settings": ..., "rows": [...]}}}."""
    varying = [k for k in sweep.varying if k != "dataset"]
    groups: dict[str, dict[str, Any]] = {}
    for run, row in zip(sweep.runs, rows, strict=True):
        label = ",".join(f"{k}={getattr(run.config, k)}" for k in varying)
        entry = groups.setdefault(run.config.dataset, {}).setdefault(
            label or "(one configuration)", {"settings": run.settings, "rows": []}
        )
        entry["rows"].append(row)
    return groups


def _finished(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in entry["rows"] if r["status"] == "done"]


def _rank(entries: dict[str, Any], names: tuple[str, ...]) -> list[tuple[str, Any]]:
    """Configurations best first: by the mean of ``names[0]`` over their finished runs, ties
    broken by ``names[1]`` and so on; a configuration with no finished run goes last."""

    def key(item: tuple[str, Any]) -> tuple:
        done = _finished(item[1])
        keys: list[float] = [0.0 if done else 1.0]
        for name in names:
            values = [r[name] for r in done if name in r]
            mean = _mean_std(values)[0] if values else math.nan
            better_first = -mean if RANKED[name] else mean  # sorted ascending
            keys.append(better_first if math.isfinite(better_first) else math.inf)
        return tuple(keys)

    return sorted(entries.items(), key=key)


def _metric_columns(entries: dict[str, Any], names: tuple[str, ...], skip: set[str]) -> list:
    """Every metric the configurations' runs have, the ranking ones first."""
    found = dict.fromkeys(
        k for e in entries.values() for r in e["rows"] for k in r if k not in skip
    )
    return [*(n for n in names if n in found), *(k for k in found if k not in names)]


def command(settings: dict[str, Any], *, seed: str = "S") -> str:
    """The numgan train command of a configuration (its seed S by default), shell-quoted."""
    flags = [
        (flag(key) if value else "--no-" + flag(key)[2:])  # --conditional / --no-conditional
        if isinstance(value, bool)
        else f"{flag(key)} {shlex.quote(str(value))}"
        for key, value in settings.items()
    ]
    return " ".join(["numgan train", *flags, f"--seed {seed}"])


def summary_text(sweep: Sweep, rows: list[dict[str, Any]], sweep_dir: Path) -> str:
    """summary.md: per dataset, a table of configurations best first, mean +- std over seeds."""
    done = sum(r["status"] == "done" for r in rows)
    failed = [r for r in rows if r["status"] == "failed"]
    left = len(rows) - done - len(failed)
    lines = [
        f"# Sweep {sweep_dir.name}",
        "",
        f"From `{sweep.path}`: {len(rows)} runs ({len(rows) // len(sweep.seeds)} configurations "
        f"x {len(sweep.seeds)} seeds: {', '.join(map(str, sweep.seeds))}); {done} done, "
        f"{len(failed)} failed, {left} not finished. Each cell is the mean +- standard "
        "deviation over the finished runs of a configuration.",
    ]
    skip = {"name", "seed", *setting_columns(sweep), *STATUS_COLUMNS}
    for dataset, entries in configurations(sweep, rows).items():
        names = ranking(sweep.metric, dataset)
        metrics = _metric_columns(entries, names, skip)
        better = "higher" if RANKED[names[0]] else "lower"
        lines += ["", f"## {dataset}", "", f"Best first by {names[0]} ({better} is better).", ""]
        header = ["configuration", "runs done", *metrics, "seconds"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|---|" + "---:|" * (len(header) - 1))
        ranked = _rank(entries, names)
        for label, entry in ranked:
            finished = _finished(entry)
            cells = [
                _mean_std_text([float(r[m]) for r in finished if r.get(m) not in (None, "")])
                for m in [*metrics, "seconds"]
            ]
            lines.append(
                f"| {label} | {len(finished)}/{len(entry['rows'])} | " + " | ".join(cells) + " |"
            )
        lines += ["", "Commands (S: each seed):", ""]
        lines += [f"- {label}: `{command(entry['settings'])}`" for label, entry in ranked]
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- {r['name']}: {r['reason']}" for r in failed]
    return "\n".join(lines) + "\n"


def figure_panels(sweep: Sweep, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The figure's panels: per dataset, the main metric of each configuration's runs."""
    panels = []
    for dataset, entries in configurations(sweep, rows).items():
        names = ranking(sweep.metric, dataset)
        panels.append(
            {
                "title": dataset,
                "ylabel": names[0],
                "labels": [label for label, _ in _rank(entries, names)],
                "values": [
                    [r[names[0]] for r in _finished(e) if names[0] in r]
                    for _, e in _rank(entries, names)
                ],
            }
        )
    return panels


def write_results(sweep: Sweep, sweep_dir: Path) -> list[dict[str, Any]]:
    """results.csv, summary.md and (when a run has the main metric) sweep.png; the rows."""
    rows = result_rows(sweep, sweep_dir)
    columns = _columns(sweep, rows)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c, "")) for c in columns])
    atomic_write(sweep_dir / "results.csv", lambda f: f.write(buf.getvalue().encode()))
    text = summary_text(sweep, rows, sweep_dir)
    atomic_write(sweep_dir / "summary.md", lambda f: f.write(text.encode()))
    panels = figure_panels(sweep, rows)
    if any(v for p in panels for v in p["values"]):
        from ..eval import plots

        plots.metric_dots(panels, sweep_dir / "sweep.png")
    return rows
