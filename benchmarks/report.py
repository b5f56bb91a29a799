"""train_speed.py's outputs: the Markdown report, the JSON and the batch-size plot.

The plot is drawn on a ``matplotlib.figure.Figure`` with its own Agg canvas: no pyplot and no
``matplotlib.use()``, so writing it changes nothing for whoever imported matplotlib before.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agreement import AGREEMENT_ITERATIONS, VERDICTS

from numgan.app.bench import GEMM_NAMES, fmt_rate
from numgan.app.bench import LABELS as NUMGAN_LABELS

VARIANTS = ("numba", "numpy", "torch", "matmul")
LABELS = {**NUMGAN_LABELS, "torch": "PyTorch", "matmul": "matmul ceiling"}


def _ratio(results: dict[str, Any], a: str, b: str) -> float | None:
    ra, rb = results.get(a, {}), results.get(b, {})
    if ra.get("status") == "ok" and rb.get("status") == "ok":
        return ra["median"] / rb["median"]
    return None


def _cell(results: dict[str, Any], v: str, comparable: bool = True) -> str:
    res = results.get(v)
    if res is None:
        return "skipped"
    if res["status"] != "ok":
        return "n/a"
    text = fmt_rate(res["median"])
    return text if comparable else f"{text} (not comparable)"


def _fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def _per_round(results: dict[str, Any], a: str, b: str) -> float | None:
    return results.get(a, {}).get("per_round", {}).get(b)


def _fmt_pct(res: dict[str, Any] | None) -> str:
    if not res or "ceiling_fraction" not in res:
        return "n/a"
    return f"{100 * res['ceiling_fraction']:.0f}%"


def _ms(res: dict[str, Any] | None) -> str:
    """Milliseconds per iteration of a variant's median."""
    if not res or res.get("status") != "ok":
        return "n/a"
    ms = 1000 / res["median"]
    return f"{ms:.3g}" if ms < 100 else f"{ms:,.0f}"


def _outside(res: dict[str, Any] | None) -> str:
    """The share of a variant's iteration spent outside the matrix products: 1 - (the
    products' time alone) / (the iteration's time)."""
    if not res or "ceiling_fraction" not in res:
        return "n/a"
    return f"{100 * (1 - res['ceiling_fraction']):.0f}%"


def _products_route(machine: dict[str, Any]) -> str:
    if "gemm_provider" not in machine:  # a report written before the record had it
        return "NumPy's OpenBLAS (np.matmul; not recorded)"
    name = machine["gemm_provider"]
    return f"{GEMM_NAMES.get(name, name)} (NUMGAN_BLAS: {name})"


def _gemm_route(machine: dict[str, Any]) -> str:
    if "gemm_in_place" not in machine:  # a report written before the record had it
        return "not recorded"
    name = machine["gemm_in_place"]
    if name is None:
        return "`dW += x.T @ dout` (no GEMM found to accumulate in place)"
    return f"accumulated in place by GEMM (`{name}`, beta = 1)"


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: results table, GFLOP/s, spread, sweep, agreement, setup."""
    cfg, rows = report["config"], report["rows"]
    lines = [
        "## Training iterations per second",
        "",
        f"Median of {cfg['repeats']} timed blocks of ~{cfg['block_seconds']} s per variant, "
        f"interleaved, {cfg['sleep']} s pause before each block; "
        f"{report['threads']['requested']} thread(s) for BLAS and PyTorch.",
        "",
        "| model | m | optimiser | numgan (Numba) it/s | numgan (NumPy) it/s | PyTorch it/s "
        "| Numba / NumPy | Numba / PyTorch | NumPy / PyTorch | matmul ceiling it/s "
        "| Numba of ceiling | NumPy of ceiling | GFLOP / iter |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        res, ok = row["results"], row["torch_comparable"]

        def torch_ratio(a: str, res: dict[str, Any] = res, ok: bool = ok) -> str:
            return _fmt_ratio(_ratio(res, a, "torch")) if ok else "n/a"

        lines.append(
            f"| {row['key']} {row['title']} | {row['batch_size']} | {row['optimizer']} "
            f"| {_cell(res, 'numba')} | {_cell(res, 'numpy')} | {_cell(res, 'torch', ok)} "
            f"| {_fmt_ratio(_ratio(res, 'numba', 'numpy'))} | {torch_ratio('numba')} "
            f"| {torch_ratio('numpy')} | {_cell(res, 'matmul')} "
            f"| {_fmt_pct(res.get('numba'))} | {_fmt_pct(res.get('numpy'))} "
            f"| {row['flops_per_iteration'] / 1e9:.4g} |"
        )
    lines += [
        "",
        "Ratios above 1 mean the first variant is faster.  The ceiling runs the iteration's "
        "matrix products alone (float32, by the GEMM numgan's Numba backend calls, see "
        "Setup, and np.matmul for products at or below numgan's loop crossover; np.multiply "
        "for the outer "
        "product of a one-output layer's dx, as numgan forms it), a convolution's in its im2col "
        "form; GFLOP / iter counts those products (2 m D_in D_out per Dense forward; 2 M K N "
        "per convolution forward, M = m x output pixels, K = k_h k_w C_in, N = C_out, and for "
        "a transposed one M = m x input pixels, K = C_in, N = k_h k_w C_out; the same again "
        "for each of dx and dW).",
        "",
    ]
    if any("per_round" in res for row in rows for res in row["results"].values()):
        lines += [
            "### Ratios per round",
            "",
            "Each round times one block of every variant, a few seconds apart: the ratio of "
            "two variants' blocks in the same round, median over the rounds.  It holds up "
            "when the machine's speed changes between rounds, which the ratio of the medians "
            "above does not.",
            "",
            "| model | Numba / NumPy | Numba / PyTorch | NumPy / PyTorch | Numba of ceiling "
            "| NumPy of ceiling |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            res, ok = row["results"], row["torch_comparable"]
            cells = [_per_round(res, "numba", "numpy")]
            cells += [_per_round(res, v, "torch") if ok else None for v in ("numba", "numpy")]
            cells += [_per_round(res, v, "matmul") for v in ("numba", "numpy")]
            text = [_fmt_ratio(c) for c in cells[:3]]
            text += ["n/a" if c is None else f"{100 * c:.0f}%" for c in cells[3:]]
            lines.append(f"| {row['key']} | " + " | ".join(text) + " |")
        lines.append("")
    if any("matmul" in row["results"] for row in rows):
        lines += [
            "### Time outside the matrix products",
            "",
            "Milliseconds per iteration (from the medians) and the share of numgan's iteration "
            "spent outside the products: 1 - (ceiling time) / (iteration time).",
            "",
            "| model | matmul ceiling ms | numgan (Numba) ms | outside the products "
            "| numgan (NumPy) ms | outside the products | PyTorch ms |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            res = row["results"]
            lines.append(
                f"| {row['key']} | {_ms(res.get('matmul'))} | {_ms(res.get('numba'))} "
                f"| {_outside(res.get('numba'))} | {_ms(res.get('numpy'))} "
                f"| {_outside(res.get('numpy'))} | {_ms(res.get('torch'))} |"
            )
        lines.append("")
    lines += [
        "### Achieved GFLOP/s and spread (min to max over the blocks, it/s)",
        "",
        "| model | variant | median it/s | min | max | iterations per block | GFLOP/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for v, res in row["results"].items():
            if res["status"] != "ok":
                continue
            lines.append(
                f"| {row['key']} | {LABELS[v]} | {fmt_rate(res['median'])} "
                f"| {fmt_rate(res['min'])} | {fmt_rate(res['max'])} "
                f"| {res['iterations_per_block']} | {res['gflops']:.2f} |"
            )
    sweep = report.get("sweep")
    if sweep:
        lines += [
            "",
            f"### Batch-size sweep, model 1 (median of {cfg['sweep_repeats']} blocks)",
            "",
            "| m | numgan (Numba) | numgan (NumPy) | PyTorch | matmul ceiling | Numba / NumPy "
            "| Numba / PyTorch | Numba of ceiling |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for point in sweep["points"]:
            res, ok = point["results"], sweep["torch_comparable"]
            lines.append(
                f"| {point['batch_size']} | {_cell(res, 'numba')} | {_cell(res, 'numpy')} "
                f"| {_cell(res, 'torch', ok)} | {_cell(res, 'matmul')} "
                f"| {_fmt_ratio(_ratio(res, 'numba', 'numpy'))} "
                f"| {_fmt_ratio(_ratio(res, 'numba', 'torch')) if ok else 'n/a'} "
                f"| {_fmt_pct(res.get('numba'))} |"
            )
        if report.get("plot"):
            lines += ["", f"![iterations/s against batch size, model 1]({report['plot']})"]
    lines += [
        "",
        "### Agreement check",
        "",
        "Same initial weights and the same minibatches fed to both frameworks for "
        f"{AGREEMENT_ITERATIONS} iterations, then, per parameter tensor, max|a - b| / max|b|; "
        "the table shows the worst tensor.  float32 is what is timed; in float64 an "
        "implementation difference would remain while rounding differences vanish.  "
        "'float32 rounding' compares one side's float32 run with its own float64 run: the "
        "size of rounding alone.  A float32 gap over the tolerance counts as rounding when "
        "float64 agrees and the gap is at most 3x the sides' own float32 rounding.  Biases "
        "right before a BatchNorm are left out (their gradient is zero in exact arithmetic); "
        "the last column gives their largest absolute difference.",
        "",
        "| model | dtype | path | compared | max rel. diff | worst tensor | BN buffers | result "
        "| left out, max abs. diff |",
        "|---|---|---|---|---:|---|---:|---|---:|",
    ]
    for row in rows:
        ag = row.get("agreement")
        if not ag or not ag["checks"]:
            lines.append(f"| {row['key']} | | | | | | | not run | |")
            continue
        for c in ag["checks"] + ag.get("rounding", []):
            if c["verdict"] == "information":
                compared = f"{LABELS[c['variant']]} float32 vs float64"
                verdict = "(information)"
            else:
                compared = f"{LABELS[c['variant']]} vs {LABELS[c['reference']]}"
                verdict = f"{VERDICTS[c['verdict']]} (tolerance {c['rtol']:g})"
                if c["verdict"] == "failed":
                    verdict = f"**{verdict}**"
            left_out = max(c["excluded"].values(), default=None)
            lines.append(
                f"| {row['key']} | {c['dtype']} | {c['path']} | {compared} | {c['max_rel']:.1e} "
                f"| {c['worst']} | {c['buffers_max_rel']:.1e} | {verdict} "
                f"| {'' if left_out is None else f'{left_out:.1e}'} |"
            )
    if report["notes"]:
        lines += ["", "### Notes", ""] + [f"- {n}" for n in report["notes"]]
    m = report["machine"]
    cpu = (m.get("lscpu") or {}).get("Model name", "unknown CPU")
    blas = m.get("numpy_blas") or {}
    runtime = [
        f"{lib.get('internal_api')} {lib.get('version')} ({lib.get('architecture')} kernels)"
        for lib in m.get("runtime_libraries") or []
        if lib.get("user_api") == "blas"
    ]
    tb = m.get("torch_build") or {}
    torch_build = f" (BLAS {tb.get('blas')}, {tb.get('cpu_capability')} kernels)" if tb else ""
    lines += [
        "",
        "### Setup",
        "",
        f"- machine kind: {m.get('kind', cpu)}",
        f"- CPU: {cpu}, {m.get('nproc')} logical CPUs (nproc), SIMD {', '.join(m.get('simd', []))}",
        f"- Python {m['python']}, numpy {m['numpy']} ({blas.get('name', '?')} "
        f"{blas.get('version', '')}), numba {m.get('numba')} (llvmlite {m.get('llvmlite')}, "
        f"compiling for {m.get('llvm_target_cpu')}), torch {m.get('torch')}{torch_build}, "
        f"numgan {m['numgan']}",
        f"- BLAS at run time: {'; '.join(runtime) or 'unknown (threadpoolctl missing)'}",
        f"- products on the Numba backend, and in the matmul ceiling: {_products_route(m)}",
        f"- weight gradients on the Numba backend: {_gemm_route(m)}",
        f"- threads: {json.dumps(report['threads'])}",
        f"- command: `{report['command']}`",
        f"- total time: {report['elapsed_seconds']:.0f} s",
    ]
    return "\n".join(lines) + "\n"


def _quartiles(samples: Sequence[float]) -> tuple[float, float]:
    """First and third quartiles (both the value itself for a single sample)."""
    if len(samples) < 2:
        return samples[0], samples[0]
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q3


def plot_sweep(report: dict[str, Any], path: Path) -> None:
    """iterations/s against batch size for model 1, one line per variant; the bars span the
    middle half of the blocks (first to third quartile), which one disturbed block cannot
    stretch."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    points = report["sweep"]["points"]
    fig = Figure(figsize=(7, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    styles = {"numba": "o-", "numpy": "s-", "torch": "^-", "matmul": "k--"}
    # A small horizontal offset per variant keeps the bars apart.
    offsets = {"numba": 0.97, "numpy": 0.99, "torch": 1.01, "matmul": 1.03}
    for v in VARIANTS:
        xs, ys, lo, hi = [], [], [], []
        for p in points:
            res = p["results"].get(v)
            if res and res["status"] == "ok":
                q1, q3 = _quartiles(res["samples"])
                xs.append(p["batch_size"] * offsets[v])
                ys.append(res["median"])
                lo.append(res["median"] - q1)
                hi.append(q3 - res["median"])
        if xs:
            label = LABELS[v]
            if v == "torch" and not report["sweep"]["torch_comparable"]:
                label += " (not comparable)"
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt=styles[v], label=label, capsize=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    sizes = [p["batch_size"] for p in points]
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(s) for s in sizes])
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch size m")
    ax.set_ylabel("training iterations / s (median)")
    threads = report["threads"]["requested"]
    ax.set_title(f"Model 1, the paper's MNIST MLP GAN: Algorithm 1 on {threads} CPU thread(s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def write_outputs(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write train_speed.{json,md} (and the sweep's PNG) under ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "train_speed.json", "markdown": out / "train_speed.md"}
    if report.get("sweep"):
        paths["plot"] = out / "train_speed_model1.png"
        plot_sweep(report, paths["plot"])
        report["plot"] = paths["plot"].name
    paths["json"].write_text(json.dumps(report, indent=1, default=str) + "\n")
    paths["markdown"].write_text(render_markdown(report))
    return paths
