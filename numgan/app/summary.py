"""What a sweep gives: results.csv, summary.md and sweep.png, read from its run folders.

Everything here is rebuilt from SWEEP_DIR alone (each run's metrics.json and checkpoint, and
the sweep's status/NAME.json), so ``numgan sweep --evaluate-only`` rebuilds it after any crash
and a run evaluated by hand counts like the others.

The main metric of a dataset ranks its configurations in summary.md and is the figure's
y axis: modes captured for the mixtures (ties broken by the high-quality fraction), the
Parzen log-likelihood for images and files, mean |D - D*| for 1-D data; a sweep file's
``metric = "NAME"`` picks another of ``RANKED``.
"""

from __future__ import annotations

import csv
import io
import json
import math
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
}
# The default order of ranking, by which metrics a run has: the first one it has, then the
# second as a tie-break (modes are whole numbers, and tie often).
DEFAULT_RANKING = (
    ("modes", "high_quality"),
    ("parzen_log_likelihood",),
    ("mean_abs_d_minus_dstar",),
)
# What metrics.json holds besides metrics: the run's bookkeeping.
NOT_METRICS = {"iteration", "dataset", "samples", "validation", "test", "of_modes"}
STATUS_COLUMNS = ("status", "reason", "iteration", "seconds")


def _metrics(run_dir: Path) -> dict[str, float]:
    try:
        values = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(values, dict):
        return {}
    return {
        k: float(v)
        for k, v in values.items()
        if k not in NOT_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def result_rows(sweep: Sweep, sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per run of the sweep: its name, settings, seed, status, and every metric.

    status: done, failed (reason says why), unfinished (a checkpoint short of the end: run
    the sweep again) or not started.
    """
    from .sweep import read_status, run_state

    rows = []
    for run in sweep.runs:
        run_dir = sweep_dir / "runs" / run.name
        state, iteration = run_state(run_dir, run.config.iterations)
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
        row: dict[str, Any] = {"name": run.name}
        row.update({key: getattr(run.config, key) for key in sweep.keys})
        row.update(
            seed=run.seed,
            status=what,
            reason=reason,
            iteration=iteration,
            seconds=status.get("seconds", ""),
        )
        row.update(metrics)
        rows.append(row)
    return rows


def _columns(sweep: Sweep, rows: list[dict[str, Any]]) -> list[str]:
    fixed = ["name", *sweep.keys, "seed", *STATUS_COLUMNS]
    metrics = dict.fromkeys(k for row in rows for k in row if k not in fixed)
    return [*fixed, *metrics]


def _cell(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)  # floats: every digit


def ranking(sweep: Sweep, rows: list[dict[str, Any]]) -> tuple[str, ...]:
    """The metrics that rank these rows: the sweep's own ``metric``, or the data's default."""
    if sweep.metric is not None:
        return (sweep.metric,)
    for names in DEFAULT_RANKING:
        if any(names[0] in row for row in rows):
            return names
    return ()


def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


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


def _rank(entries: dict[str, Any], names: tuple[str, ...]) -> list[tuple[str, Any]]:
    """Configurations best first by the mean of ``names`` (in turn); none finished: last."""

    def key(item: tuple[str, Any]) -> tuple:
        done = [r for r in item[1]["rows"] if r["status"] == "done"]
        keys: list[float] = [0.0 if done else 1.0]
        for name in names:
            values = [r[name] for r in done if name in r]
            mean = _mean_std(values)[0] if values else math.inf
            keys.append(-mean if RANKED.get(name, True) and values else mean)
        return tuple(keys)

    return sorted(entries.items(), key=key)


def command(settings: dict[str, Any]) -> str:
    """The numgan train command of a configuration, its seed left as S."""
    parts = ["numgan train"]
    for key, value in settings.items():
        parts.append(f"{flag(key)} {value}")
    return " ".join(parts) + " --seed S"


def summary_text(sweep: Sweep, rows: list[dict[str, Any]], sweep_dir: Path) -> str:
    """summary.md: per dataset, a table of configurations best first, mean +- std over seeds."""
    names = ranking(sweep, rows)
    done = sum(r["status"] == "done" for r in rows)
    failed = [r for r in rows if r["status"] == "failed"]
    left = len(rows) - done - len(failed)
    lines = [
        f"# Sweep {sweep_dir.name}",
        "",
        f"From `{sweep.path}`: {len(rows)} runs ({len(rows) // len(sweep.seeds)} configurations "
        f"x {len(sweep.seeds)} seeds: {', '.join(map(str, sweep.seeds))}); {done} done, "
        f"{len(failed)} failed, {left} not finished. Each cell is the mean +- standard "
        "deviation over the finished runs of a configuration. "
        + (
            f"Best first by {names[0]} ({'higher' if RANKED.get(names[0], True) else 'lower'} "
            "is better)."
            if names
            else ""
        ),
    ]
    for dataset, entries in configurations(sweep, rows).items():
        ranked = _rank(entries, names)
        metrics = list(
            dict.fromkeys(
                k
                for _, e in ranked
                for r in e["rows"]
                for k in r
                if k not in ("name", "seed", *sweep.keys, *STATUS_COLUMNS)
            )
        )
        metrics.sort(key=lambda k: (k not in names, names.index(k) if k in names else 0))
        lines += ["", f"## {dataset}", ""]
        lines.append("| configuration | runs done | " + " | ".join(metrics) + " | seconds |")
        lines.append("|---|---:|" + "---:|" * (len(metrics) + 1))
        for label, entry in ranked:
            finished = [r for r in entry["rows"] if r["status"] == "done"]
            cells = []
            for name in [*metrics, "seconds"]:
                values = [float(r[name]) for r in finished if r.get(name) not in (None, "")]
                if not values:
                    cells.append("")
                    continue
                mean, std = _mean_std(values)
                cells.append(f"{mean:.4g} +- {std:.2g}" if len(values) > 1 else f"{mean:.4g}")
            lines.append(
                f"| {label} | {len(finished)}/{len(entry['rows'])} | " + " | ".join(cells) + " |"
            )
        lines += ["", "Commands (S: each seed):", ""]
        for label, entry in ranked:
            lines.append(f"- {label}: `{command(entry['settings'])}`")
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- {r['name']}: {r['reason']}" for r in failed]
    return "\n".join(lines) + "\n"


def figure_panels(sweep: Sweep, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The figure's panels: per dataset, the main metric of each configuration's runs."""
    names = ranking(sweep, rows)
    if not names:
        return []
    panels = []
    for dataset, entries in configurations(sweep, rows).items():
        ranked = _rank(entries, names)
        panels.append(
            {
                "title": dataset,
                "ylabel": names[0],
                "labels": [label for label, _ in ranked],
                "values": [
                    [r[names[0]] for r in e["rows"] if r["status"] == "done" and names[0] in r]
                    for _, e in ranked
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
