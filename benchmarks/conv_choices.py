"""The choices behind numgan's convolution kernels, each timed against the alternative.

    python benchmarks/conv_choices.py [--repeats N]

On the dcgan preset's largest layer, D's Conv2D(32, 64) on 14x14 (and G's ConvTranspose2D(64,
32) on 7x7 for the transposed case), batch 64, float32, with the backend's kernels:

- patch order: im2col with patches in (i, j, c) order, as numgan does (contiguous k_w * C runs
  of a channels-last copy), against PyTorch's (c, i, j) order (runs of k_w values), written
  here as a jitted kernel of the same style;
- loops: numgan's im2col and col2im against their earlier forms, which indexed with signed
  integers (NumPy semantics count a negative index from the end, so every access tested for it)
  and always transposed with the channels outermost; here also at D's first layer, one channel
  on 28x28, where a kernel row is only 4 values;
- threads: the serial im2col against the same kernel parallel over the batch (``prange``),
  each followed by the layer's GEMM, as in a forward pass: on 2 cores Numba's worker threads
  and OpenBLAS's compete.  Each form runs in its own process, the processes alternating;
- fusions: the bias added inside the layout change (rows_to_nchw) against a separate
  ``out += b``; db summed inside the transpose (nchw_to_rows) against a separate
  ``dout.sum(axis=(0, 2, 3))``; ConvTranspose2D's bias as col2im's starting value against a
  separate add.

Medians of interleaved repeats (each repeat times both contenders of a row, in alternating
order), milliseconds per call.  docs/kernels.md quotes a run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numba
import numpy as np
from machine import machine_info

from numgan.kernels import conv
from numgan.kernels.flags import FASTMATH, jit

N, C, SIDE, C_OUT, K, S, P = 64, 32, 14, 64, 4, 2, 1


@jit
def im2col_cij_nb(x, kh, kw, sh, sw, ph, pw, cols):
    """im2col with patches in (c, i, j) order: the innermost copy is k_w values long."""
    N, C, H, W = x.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    r = 0
    for n in range(N):
        for oh in range(Ho):
            for ow in range(Wo):
                q = 0
                for c in range(C):
                    for i in range(kh):
                        h = oh * sh + i - ph
                        for j in range(kw):
                            w = ow * sw + j - pw
                            inside = 0 <= h < H and 0 <= w < W
                            cols[r, q] = x[n, c, h, w] if inside else 0.0
                            q += 1
                r += 1


@jit
def im2col_signed_nb(x, kh, kw, sh, sw, ph, pw, cols):
    """numgan's im2col before its loops were reordered and its indices made unsigned."""
    N, C, H, W = x.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    run = kw * C
    image = np.zeros((H + 2 * ph, (W + 2 * pw) * C), dtype=x.dtype)
    r = 0
    for n in range(N):
        for c in range(C):
            for h in range(H):
                for w in range(W):
                    image[h + ph, (w + pw) * C + c] = x[n, c, h, w]
        for oh in range(Ho):
            for ow in range(Wo):
                row = cols[r]
                for i in range(kh):
                    src = image[oh * sh + i, ow * sw * C : ow * sw * C + run]
                    dst = row[i * run : (i + 1) * run]
                    for q in range(run):
                        dst[q] = src[q]
                r += 1


@jit
def col2im_signed_nb(cols, kh, kw, sh, sw, ph, pw, out, base):
    """numgan's col2im before its loops were reordered and its indices made unsigned."""
    N, C, H, W = out.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    run = kw * C
    canvas = np.empty((H + 2 * ph, (W + 2 * pw) * C), dtype=out.dtype)
    r = 0
    for n in range(N):
        canvas[:] = 0.0
        for oh in range(Ho):
            for ow in range(Wo):
                row = cols[r]
                for i in range(kh):
                    dst = canvas[oh * sh + i, ow * sw * C : ow * sw * C + run]
                    src = row[i * run : (i + 1) * run]
                    for q in range(run):
                        dst[q] += src[q]
                r += 1
        for c in range(C):
            bc = base[c]
            for h in range(H):
                for w in range(W):
                    out[n, c, h, w] = canvas[h + ph, (w + pw) * C + c] + bc


@numba.njit(parallel=True, nogil=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def im2col_prange_nb(x, kh, kw, sh, sw, ph, pw, cols):
    """im2col (in its earlier, signed-index form), its images shared out among Numba's
    threads."""
    N, C, H, W = x.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    run = kw * C
    for n in numba.prange(N):
        image = np.zeros((H + 2 * ph, (W + 2 * pw) * C), dtype=x.dtype)
        for c in range(C):
            for h in range(H):
                for w in range(W):
                    image[h + ph, (w + pw) * C + c] = x[n, c, h, w]
        for oh in range(Ho):
            for ow in range(Wo):
                row = cols[(n * Ho + oh) * Wo + ow]
                for i in range(kh):
                    start = ow * sw * C
                    row[i * run : (i + 1) * run] = image[oh * sh + i, start : start + run]


def _median_ms(fn_a, fn_b, repeats):
    fn_a(), fn_b()  # compile and warm
    a, b = [], []
    for r in range(repeats):
        for fn, out in ((fn_a, a), (fn_b, b)) if r % 2 == 0 else ((fn_b, b), (fn_a, a)):
            start = time.perf_counter()
            for _ in range(10):
                fn()
            out.append((time.perf_counter() - start) / 10 * 1e3)
    return statistics.median(a), statistics.median(b)


def rows(repeats: int) -> list[tuple[str, str, float, str, float]]:
    rng = np.random.default_rng(0)
    f32 = np.float32
    ho = conv.out_size(SIDE, K, S, P)
    x = rng.normal(size=(N, C, SIDE, SIDE)).astype(f32)
    cols, cols2 = (np.empty((N * ho * ho, K * K * C), f32) for _ in range(2))
    y = rng.normal(size=(N * ho * ho, C_OUT)).astype(f32)
    b = rng.normal(size=C_OUT).astype(f32)
    out = np.empty((N, C_OUT, ho, ho), f32)
    dout = rng.normal(size=out.shape).astype(f32)
    dy, db = np.empty_like(y), np.zeros(C_OUT, f32)
    zeros = np.zeros(C_OUT, f32)
    # ConvTranspose2D(64, 32) on 7x7 -> 14x14: col2im of (N * 49, 16 * 32) into (N, 32, 14, 14)
    t_cols = rng.normal(size=(N * 49, K * K * C)).astype(f32)
    t_out, t_b, t_zero = np.empty((N, C, SIDE, SIDE), f32), b[:C].copy(), np.zeros(C, f32)
    args = (K, K, S, S, P, P)
    # D's first layer: Conv2D(1, 32) on 28x28; its patches, 16 values each, come back through
    # col2im when D's input gradient is needed (and in G's last ConvTranspose2D(32, 1))
    x1 = rng.normal(size=(N, 1, 2 * SIDE, 2 * SIDE)).astype(f32)
    cols1, cols1b = (np.empty((N * SIDE * SIDE, K * K), f32) for _ in range(2))
    out1, zero1 = np.empty_like(x1), np.zeros(1, f32)

    def separate_db():
        conv.nchw_to_rows_nb(dout, dy, db, False)
        db[...] += dout.sum(axis=(0, 2, 3))

    def separate_bias():
        conv.rows_to_nchw_nb(y, zeros, out)
        out[...] += b.reshape(1, -1, 1, 1)

    def separate_base():
        conv.col2im_nb(t_cols, *args, t_out, t_zero)
        t_out[...] += t_b.reshape(1, -1, 1, 1)

    cases = [
        (
            "im2col patch order",
            "(i, j, c)",
            lambda: conv.im2col_nb(x, *args, cols),
            "(c, i, j)",
            lambda: im2col_cij_nb(x, *args, cols2),
        ),
        (
            "bias in rows_to_nchw",
            "fused",
            lambda: conv.rows_to_nchw_nb(y, b, out),
            "separate add",
            separate_bias,
        ),
        (
            "db in nchw_to_rows",
            "fused",
            lambda: conv.nchw_to_rows_nb(dout, dy, db, True),
            "separate sum",
            separate_db,
        ),
        (
            "bias as col2im's base",
            "fused",
            lambda: conv.col2im_nb(t_cols, *args, t_out, t_b),
            "separate add",
            separate_base,
        ),
    ]
    # numgan's im2col and col2im against their earlier loops, on 32 channels and on one
    conv.im2col_nb(x1, *args, cols1)  # D1's patches, for col2im
    loop_rows = []
    for label, ours_x, ours_cols, cols_b, image, zero in (
        ("32x14x14", x, cols, cols2, t_out, t_zero),
        ("1x28x28", x1, cols1, cols1b, out1, zero1),
    ):
        patches = t_cols if label == "32x14x14" else cols1
        loop_rows += [
            (
                f"im2col loops, {label}",
                "unsigned",
                lambda x=ours_x, c=ours_cols: conv.im2col_nb(x, *args, c),
                "earlier",
                lambda x=ours_x, c=cols_b: im2col_signed_nb(x, *args, c),
            ),
            (
                f"col2im loops, {label}",
                "unsigned",
                lambda p=patches, o=image, z=zero: conv.col2im_nb(p, *args, o, z),
                "earlier",
                lambda p=patches, o=image, z=zero: col2im_signed_nb(p, *args, o, z),
            ),
        ]
    cases[1:1] = loop_rows
    result = []
    for name, a_name, a, b_name, b_fn in cases:
        ta, tb = _median_ms(a, b_fn, repeats)
        result.append((name, a_name, ta, b_name, tb))
    # Threads: each form in its own process (once Numba's worker threads exist they slow the
    # serial kernel and BLAS too), the processes alternating, the median of their medians.
    times = {"serial": [], "prange": []}
    for r in range(max(2, repeats // 10)):
        for form in ("serial", "prange") if r % 2 == 0 else ("prange", "serial"):
            command = [sys.executable, __file__, "--threads-only", form, "--repeats", str(repeats)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            times[form].append(float(done.stdout))
    result.append(
        (
            "im2col + GEMM, threads",
            "serial",
            statistics.median(times["serial"]),
            "prange",
            statistics.median(times["prange"]),
        )
    )
    return result


def threads_only(form: str, repeats: int) -> float:
    """One process's median of im2col + the layer's GEMM, serial or parallel over the batch."""
    rng = np.random.default_rng(0)
    ho = conv.out_size(SIDE, K, S, P)
    x = rng.normal(size=(N, C, SIDE, SIDE)).astype(np.float32)
    cols = np.empty((N * ho * ho, K * K * C), np.float32)
    Wm = rng.normal(size=(C_OUT, K * K * C)).astype(np.float32)
    im2col = conv.im2col_nb if form == "serial" else im2col_prange_nb

    def step():
        im2col(x, K, K, S, S, P, P, cols)
        return cols @ Wm.T

    return _median_ms(step, step, repeats)[0]


def check(*, parallel: bool) -> None:
    """The alternatives compute what numgan's kernels compute (before any timing)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 7, 6)).astype(np.float32)
    ho, wo = conv.out_size(7, K, S, P), conv.out_size(6, K, S, P)
    ours, other = (np.empty((3 * ho * wo, K * K * 5), np.float32) for _ in range(2))
    conv.im2col_nb(x, K, K, S, S, P, P, ours)
    if parallel:
        im2col_prange_nb(x, K, K, S, S, P, P, other)
    else:
        im2col_cij_nb(x, K, K, S, S, P, P, other)
        ours = ours.reshape(-1, K, K, 5).transpose(0, 3, 1, 2).reshape(ours.shape)
    if not np.array_equal(ours, other):
        raise AssertionError("an im2col variant disagrees with numgan's im2col")
    if not parallel:
        for channels in (5, 1):
            x = rng.normal(size=(3, channels, 7, 6)).astype(np.float32)
            ours, other = (np.empty((3 * ho * wo, K * K * channels), np.float32) for _ in range(2))
            conv.im2col_nb(x, K, K, S, S, P, P, ours)
            im2col_signed_nb(x, K, K, S, S, P, P, other)
            base = rng.normal(size=channels).astype(np.float32)
            back, back2 = np.empty_like(x), np.empty_like(x)
            conv.col2im_nb(ours, K, K, S, S, P, P, back, base)
            col2im_signed_nb(ours, K, K, S, S, P, P, back2, base)
            if not (np.array_equal(ours, other) and np.allclose(back, back2, 1e-6, 1e-6)):
                raise AssertionError("the earlier im2col or col2im disagrees with numgan's")


def table(results) -> str:
    lines = [
        "| choice | numgan | ms | alternative | ms | alternative / numgan |",
        "|---|---|---:|---|---:|---:|",
    ]
    for name, a_name, ta, b_name, tb in results:
        lines.append(f"| {name} | {a_name} | {ta:.3f} | {b_name} | {tb:.3f} | {tb / ta:.2f}x |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--threads-only", choices=("serial", "prange"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.threads_only:
        print(threads_only(options.threads_only, options.repeats))
        return
    check(parallel=False)
    m = machine_info()
    cpu = (m.get("lscpu") or {}).get("Model name", "unknown CPU")
    print(f"# {cpu}, {m['nproc']} CPUs, numpy {m['numpy']}, numba {m['numba']}")
    print(f"# python benchmarks/conv_choices.py --repeats {options.repeats}")
    check(parallel=True)
    print(table(rows(options.repeats)))


if __name__ == "__main__":
    main()
