"""The agreement check: numgan and PyTorch from the same start on the same minibatches.

Before train_speed.py times a model it runs this, so that the PyTorch column compares the same
computation: equal parameters after a few iterations, in float32 (what is timed) and in float64
(where only an implementation difference could remain).  Without PyTorch, numgan's Numba
backend is compared with its NumPy backend instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch_twin import TorchGAN

import numgan as ng
from numgan.app.bench import ModelSpec, build_trainer, make_data, using_backend

AGREEMENT_ITERATIONS = 3
AGREEMENT_RTOL = 1e-4
VERDICTS = {
    "ok": "ok",
    "rounding": "over tolerance: float32 rounding (float64 agrees)",
    "failed": "FAILED",
    "information": "(information: rounding alone)",
}


def numgan_state(gan: ng.GAN) -> dict[str, np.ndarray]:
    """Copies of G's and D's parameters and buffers, keyed "G.0.W", "D.2.b", ..."""
    state = {f"G.{k}": v for k, v in gan.G.state_dict().items()}
    state.update({f"D.{k}": v for k, v in gan.D.state_dict().items()})
    return state


def zero_gradient_params(spec: ModelSpec) -> set[str]:
    """Parameters whose gradient is zero in exact arithmetic: the bias of a Dense layer (one
    per feature) or a convolution (one per channel) right before a BatchNorm, whose batch mean
    removes it.  In float32 that gradient is rounding noise, which Adam scales up to steps of
    ~lr, so no two implementations agree on those values.  (A Dense bias reshaped into images
    before a BatchNorm is not one: it differs per pixel, and only its channel mean cancels.)"""
    names = set()
    for net in ("g", "d"):
        layers = getattr(spec, net)
        for i, (layer, nxt) in enumerate(zip(layers[:-1], layers[1:], strict=True)):
            if layer[0] in ("dense", "conv", "convT") and nxt[0] == "bn":
                names.add(f"{net.upper()}.{i}.b")
    return names


BUFFER_NAMES = ("running_mean", "running_var")


def compare_states(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], exclude: set[str] = frozenset()
) -> dict[str, Any]:
    """Max over parameter tensors of max|a - b| / max|b| (buffers and ``exclude`` reported
    apart).  Per tensor, so that a bias near zero is measured against its own scale."""
    if set(a) != set(b):
        raise ValueError(f"states differ in names: {sorted(set(a) ^ set(b))}")
    worst, worst_name, buffers, excluded = 0.0, "", 0.0, {}
    for name in sorted(b):
        diff = float(np.max(np.abs(a[name].astype(np.float64) - b[name]), initial=0.0))
        scale = float(np.max(np.abs(b[name]), initial=0.0))
        rel = diff / scale if scale > 0 else diff
        if name in exclude:
            excluded[name] = diff
        elif name.rsplit(".", 1)[-1] in BUFFER_NAMES:
            buffers = max(buffers, rel)
        elif rel >= worst:
            worst, worst_name = rel, name
    return {"max_rel": worst, "worst": worst_name, "buffers_max_rel": buffers, "excluded": excluded}


class _Recording:
    """Wraps a noise prior or data source and keeps a copy of every minibatch it hands out."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.batches = inner, []
        self.dim = getattr(inner, "dim", None)

    def sample(self, m: int, rng: np.random.Generator, *args: Any) -> np.ndarray:
        batch = self.inner.sample(m, rng, *args)
        self.batches.append(np.array(batch, copy=True))
        return batch


def agreement_tolerance(spec: ModelSpec, dtype: str) -> float:
    """Relative tolerance after AGREEMENT_ITERATIONS iterations.

    float32: 1e-4 for SGD.  Adam divides each gradient by its own running RMS, so an element
    whose gradient is near zero (a sum that cancels) moves by ~lr whatever its rounding error:
    numgan's own float32 run differs from its float64 run by ~5e-4 after 3 Adam steps (the
    "float32 rounding" lines of the check), so Adam rows get 1e-3.  float64: 1e-9, where two
    implementations of the same arithmetic agree to ~1e-12.
    """
    if dtype == "float64":
        return 1e-9
    return 1e-3 if spec.optimizer == "adam" else AGREEMENT_RTOL


def _numgan_runs(
    spec: ModelSpec,
    variant: str,
    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    data: np.ndarray,
    m: int,
    seed: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], tuple[list, list]]:
    """numgan on one backend: final states of the d_step/g_step and Trainer.step paths, and
    the minibatches Trainer.step drew (noise, data)."""
    dtype = data.dtype
    with using_backend(variant):
        trainer = build_trainer(spec, batch_size=m, seed=seed, data=data, dtype=dtype)
        for z_d, x, z_g in batches:
            trainer.d_step(x, z_d)
            trainer.g_step(z_g)
        direct = numgan_state(trainer.gan)
        trainer = build_trainer(spec, batch_size=m, seed=seed, data=data, dtype=dtype)
        trainer.data = rec_x = _Recording(trainer.data)
        trainer.gan.noise = rec_z = _Recording(trainer.gan.noise)
        for _ in range(len(batches)):
            trainer.step()
        stepped = numgan_state(trainer.gan)
    return direct, stepped, (rec_z.batches, rec_x.batches)


def _torch_replay(
    spec: ModelSpec, start: ng.GAN, data: np.ndarray, batches: list, m: int, seed: int, torch: Any
) -> dict[str, np.ndarray]:
    """PyTorch from ``start``'s weights, fed the given (z_d, x, z_g) minibatches."""
    t = TorchGAN(spec, start, data, m, seed, torch)
    for z_d, x, z_g in batches:
        t.d_step(torch.from_numpy(x), torch.from_numpy(z_d))
        t.g_step(torch.from_numpy(z_g))
    return t.state()


def agreement_check(
    spec: ModelSpec,
    *,
    variants: Sequence[str],
    torch: Any | None,
    batch_size: int | None = None,
    seed: int = 0,
    iterations: int = AGREEMENT_ITERATIONS,
    dtypes: Sequence[str] = ("float32", "float64"),
    data_size: int = 1_000,
) -> dict[str, Any]:
    """Run numgan and PyTorch from the same start on the same minibatches; compare parameters.

    For each dtype and numgan variant, two paths: "d_step/g_step" (minibatches drawn with
    NumPy and passed to ``trainer.d_step(x, z)`` and ``trainer.g_step(z)``) and "Trainer.step"
    (the timed call; its own draws are recorded and replayed to PyTorch).  The reference is
    PyTorch, or the NumPy backend when PyTorch is absent.

    float32 is what is timed, but float32 training amplifies rounding in places (a unit whose
    pre-activation sits at a ReLU kink takes the other slope; Adam rescales near-zero
    gradients), so each side's float32 run is also compared with its own float64 run: the
    "rounding" entries.  Verdicts: "ok" (within the tolerance), "rounding" (a float32 gap over
    the tolerance, while float64 agrees and the gap is no larger than 3x the sides' own float32
    rounding), "failed" (anything else: the two do not compute the same thing).
    """
    m = batch_size or spec.batch_size
    data32 = make_data(spec, data_size, np.random.default_rng([seed, 1]))
    rng = np.random.default_rng([seed, 2])
    noise = ng.UniformNoise(spec.noise_dim)
    batches32 = [
        (noise.sample(m, rng), data32[rng.integers(0, len(data32), m)], noise.sample(m, rng))
        for _ in range(iterations)
    ]
    exclude = zero_gradient_params(spec)
    reference = "torch" if torch is not None else "numpy"
    paths = ("d_step/g_step", "Trainer.step")
    # finals[dtype, side, path]: side is a numgan variant, or "torch" for the d_step/g_step
    # path and "torch/<variant>" for the replay of that variant's Trainer.step draws.
    finals: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}
    for dtype in dtypes:
        data = data32.astype(dtype)
        batches = [tuple(a.astype(dtype) for a in batch) for batch in batches32]
        for v in variants:
            direct, stepped, (zs, xs) = _numgan_runs(spec, v, batches, data, m, seed)
            finals[(dtype, v, paths[0])], finals[(dtype, v, paths[1])] = direct, stepped
            if torch is not None:
                start = build_trainer(spec, batch_size=m, seed=seed, data=data, dtype=dtype).gan
                if (dtype, "torch", paths[0]) not in finals:
                    finals[(dtype, "torch", paths[0])] = _torch_replay(
                        spec, start, data, batches, m, seed, torch
                    )
                replay = [(zs[2 * i], xs[i], zs[2 * i + 1]) for i in range(iterations)]
                finals[(dtype, f"torch/{v}", paths[1])] = _torch_replay(
                    spec, start, data, replay, m, seed, torch
                )

    def ref_side(v: str, path: str) -> str:
        return f"torch/{v}" if reference == "torch" and path == paths[1] else reference

    rounding: dict[tuple[str, str], dict[str, Any]] = {}
    if {"float32", "float64"} <= set(dtypes):
        for dtype, side, path in list(finals):
            if dtype == "float32":
                r = compare_states(
                    finals[(dtype, side, path)], finals[("float64", side, path)], exclude
                )
                r.update(variant=side.split("/")[0], reference=side.split("/")[0], path=path)
                r.update(dtype="float32 rounding", rtol=None, ok=None, verdict="information")
                rounding[(side, path)] = r
    checks: list[dict[str, Any]] = []
    for dtype in dtypes:
        rtol = agreement_tolerance(spec, dtype)
        for v in variants:
            if v == reference:
                continue
            for path in paths:
                ref = ref_side(v, path)
                result = compare_states(
                    finals[(dtype, v, path)], finals[(dtype, ref, path)], exclude
                )
                result.update(variant=v, reference=reference, path=path, dtype=dtype, rtol=rtol)
                result["ok"] = bool(result["max_rel"] <= rtol)
                result["verdict"] = "ok" if result["ok"] else "failed"
                checks.append(result)
    for c in checks:
        if c["ok"] or c["dtype"] != "float32":
            continue
        twin = [
            d for d in checks
            if d["dtype"] == "float64" and (d["variant"], d["path"]) == (c["variant"], c["path"])
        ]  # fmt: skip
        sides = [(c["variant"], c["path"]), (ref_side(c["variant"], c["path"]), c["path"])]
        floor = max((rounding[s]["max_rel"] for s in sides if s in rounding), default=0.0)
        c["rounding_floor"] = floor
        if twin and twin[0]["ok"] and c["max_rel"] <= 3 * floor:
            c["verdict"] = "rounding"
    info = [r for (side, _), r in rounding.items() if "/" not in side or side.endswith(variants[0])]
    return {
        "iterations": iterations,
        "batch_size": m,
        "reference": reference,
        "checks": checks,
        "rounding": info,
        "ok": all(c["verdict"] != "failed" for c in checks),
        "within_tolerance": all(c["ok"] for c in checks),
    }
