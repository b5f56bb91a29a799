"""The choices behind numgan's convolution kernels, each timed against the alternative.

    python benchmarks/conv_choices.py [--repeats N]

On the dcgan preset's largest layer, D's Conv2D(32, 64) on 14x14 (and G's ConvTranspose2D(64,
32) on 7x7 for the transposed case), batch 64, float32, with the backend's kernels:

- patch order: im2col with patches in (i, j, c) order, as numgan does (contiguous k_w * C runs
  of a channels-last image), against PyTorch's (c, i, j) order (runs of k_w values) on NCHW
  images, written here as a jitted kernel of the same style;
- layout: numgan's im2col and col2im, on images stored channels last with unsigned offsets,
  against their earlier forms (kept here), which took NCHW images, transposed each into a padded
  channels-last copy (channels outermost) and indexed with signed integers (NumPy semantics
  count a negative index from the end, so every access tested for it); also at D's first layer,
  one channel on 28x28, where there is nothing to transpose and a kernel row is 4 values; and
  Conv2D's output handed on as it leaves the product, channels last, after a bias pass, against
  the earlier transpose into NCHW with the bias (``rows_to_nchw``, kept here);
- threads: the serial im2col against the same kernel parallel over the batch (``prange``),
  each followed by the layer's GEMM, as in a forward pass: on 2 cores Numba's worker threads
  and OpenBLAS's compete.  Each form runs in its own process, the processes alternating;
- fusions: db summed inside the transpose of a C-ordered gradient (nchw_to_rows) against a
  separate ``dout.sum(axis=(0, 2, 3))``; ConvTranspose2D's bias as col2im's starting value
  against a separate add;
- blocks: whole iterations of the DCGAN row (benchmarks/train_speed.py's row 4), numgan's
  layers against the same layers working a block of B images at a time (``BlockedConv2D``,
  ``BlockedConvTranspose2D`` below): im2col or the product of a block goes into a buffer of
  B * P rows that stays in L2 until the product or col2im reads it, instead of one patch
  matrix for the batch (6.4 MB for D's second layer, L2 is 2 MB per core here); the patches
  are not cached but formed again, a block at a time, for dW.  Two trainers from one seed,
  blocks of 10 iterations alternating.

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

from numgan.app.bench import build_trainer, model_specs
from numgan.kernels import blas, conv, dense, ops
from numgan.kernels.flags import FASTMATH, jit
from numgan.nn.conv import (
    Conv2D,
    ConvTranspose2D,
    _channels_last,
    _from_patch_order,
    _images,
    _patch_order,
)

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
def im2col_nchw_nb(x, kh, kw, sh, sw, ph, pw, cols):
    """numgan's earlier im2col: x (N, C, H, W) in C order, each image transposed into a padded
    channels-last copy, signed indices."""
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
def col2im_nchw_nb(cols, kh, kw, sh, sw, ph, pw, out, base):
    """numgan's earlier col2im: into out (N, C, H, W) in C order through a padded channels-last
    canvas, signed indices."""
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


@jit
def rows_to_nchw_nb(y, b, out):
    """numgan's earlier hand-over of a Conv2D's output: out[n, c, h, w] = y[(n, h, w), c] + b[c],
    y: (N * H * W, C), out: (N, C, H, W) in C order."""
    N, C, H, W = out.shape
    P = H * W
    flat = out.reshape(N, C, P)
    for n in range(N):
        rows = y[n * P : (n + 1) * P]
        for c in range(C):
            bc = b[c]
            for p in range(P):
                flat[n, c, p] = rows[p, c] + bc


@numba.njit(parallel=True, nogil=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def im2col_prange_nb(x, kh, kw, sh, sw, ph, pw, cols):
    """numgan's im2col (x channels last, (N, H, W, C)), its images shared out among Numba's
    threads."""
    N, H, W, C = x.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    Hp, Wp = H + 2 * ph, W + 2 * pw
    run = np.uint64(kw * C)
    for n in numba.prange(N):
        flat = np.zeros(Hp * Wp * C, dtype=x.dtype)
        for h in range(H):
            dst = np.uint64(((h + ph) * Wp + pw) * C)
            src = x[n, h].reshape(W * C)
            for q in range(W * C):
                flat[dst + np.uint64(q)] = src[q]
        for oh in range(Ho):
            for ow in range(Wo):
                row = cols[(n * Ho + oh) * Wo + ow]
                for i in range(kh):
                    src = np.uint64(((oh * sh + i) * Wp + ow * sw) * C)
                    dst = np.uint64(i) * run
                    for q in range(run):
                        row[dst + q] = flat[src + q]


# -- the layers a block of images at a time --------------------------------------------------

BLOCK_ROWS = (1024, 2048, 4096)  # patch rows per block: B = rows // P images


def _blocks(n: int, pixels: int, rows: int) -> list[tuple[int, int]]:
    size = max(1, rows // pixels)
    return [(s, min(n, s + size)) for s in range(0, n, size)]


class BlockedConv2D(Conv2D):
    """Conv2D a block of images at a time: per block, im2col into a small buffer and the
    product from it; backward forms each block's patches again for dW."""

    rows = 1024

    def forward(self, x, training=True):
        x = self._ready(x)
        N = len(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        _, ho, wo = self.output_shape(x.shape[1:])
        W, P = self.params["W"], ho * wo
        x_last, Wm = _channels_last(x), _patch_order(W)
        y = np.empty((N * P, self.out_channels), dtype=W.dtype)
        blocks = _blocks(N, P, self.rows)
        buf = np.empty(((blocks[0][1] - blocks[0][0]) * P, W[0].size), dtype=W.dtype)
        for s, e in blocks:
            cols = buf[: (e - s) * P]
            ops.im2col(x_last[s:e], kh, kw, sh, sw, ph, pw, cols)
            np.matmul(cols, Wm.T, out=y[s * P : e * P])
        ops.add_bias(y, self.params["b"])
        out = _images(y.reshape(N, ho, wo, self.out_channels))
        self.cache = (x_last, Wm, x.shape, out.shape)
        return out

    def backward(self, dout, param_grads=True, input_grad=True):
        x_last, Wm, x_shape, out_shape = self._need_cache()
        self._check_dout(dout, out_shape)
        W = self.params["W"]
        db = self.grads["b"] if param_grads else None
        N, P = len(x_last), out_shape[2] * out_shape[3]
        dy = _channels_last(np.asarray(dout, dtype=W.dtype), db).reshape(N * P, -1)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        blocks = _blocks(N, P, self.rows)
        buf = np.empty(((blocks[0][1] - blocks[0][0]) * P, Wm.shape[1]), dtype=W.dtype)
        dWm = np.zeros_like(Wm)
        dx = np.empty(x_last.shape, dtype=W.dtype) if input_grad else None
        zero = np.zeros(x_last.shape[3], dtype=W.dtype)
        for s, e in blocks:
            part, rows = dy[s * P : e * P], buf[: (e - s) * P]
            if param_grads:
                ops.im2col(x_last[s:e], kh, kw, sh, sw, ph, pw, rows)
                blas.add_product(part.T, rows, dWm)
            if input_grad:
                np.matmul(part, Wm, out=rows)
                ops.col2im(rows, kh, kw, sh, sw, ph, pw, dx[s:e], zero)
        if param_grads:
            self.grads["W"] += _from_patch_order(dWm, W.shape)
        return _images(dx) if input_grad else None


class BlockedConvTranspose2D(ConvTranspose2D):
    """ConvTranspose2D a block of images at a time: per block, the product into a small
    buffer and col2im from it; backward forms each block's patches of dout for dW and dx."""

    rows = 1024

    def forward(self, x, training=True):
        x = self._ready(x)
        N, _, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        _, ho, wo = self.output_shape(x.shape[1:])
        W, P = self.params["W"], h * w
        xr = _channels_last(x).reshape(N * P, self.in_channels)
        Wm = _patch_order(W)
        out = np.empty((N, ho, wo, self.out_channels), dtype=W.dtype)
        blocks = _blocks(N, P, self.rows)
        buf = np.empty(((blocks[0][1] - blocks[0][0]) * P, Wm.shape[1]), dtype=W.dtype)
        for s, e in blocks:
            cols = buf[: (e - s) * P]
            np.matmul(xr[s * P : e * P], Wm, out=cols)
            ops.col2im(cols, kh, kw, sh, sw, ph, pw, out[s:e], self.params["b"])
        out = _images(out)
        self.cache = (xr, Wm, x.shape, out.shape)
        return out

    def backward(self, dout, param_grads=True, input_grad=True):
        xr, Wm, x_shape, out_shape = self._need_cache()
        self._check_dout(dout, out_shape)
        W = self.params["W"]
        db = self.grads["b"] if param_grads else None
        dout = _channels_last(np.asarray(dout, dtype=W.dtype), db)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        N, _, h, w = x_shape
        P = h * w
        blocks = _blocks(N, P, self.rows)
        buf = np.empty(((blocks[0][1] - blocks[0][0]) * P, Wm.shape[1]), dtype=W.dtype)
        dWm = np.zeros_like(Wm)
        dx = np.empty((N * P, self.in_channels), dtype=W.dtype) if input_grad else None
        for s, e in blocks:
            dcols = buf[: (e - s) * P]
            ops.im2col(dout[s:e], kh, kw, sh, sw, ph, pw, dcols)
            if param_grads:
                blas.add_product(xr[s * P : e * P].T, dcols, dWm)
            if input_grad:
                np.matmul(dcols, Wm.T, out=dx[s * P : e * P])
        if param_grads:
            self.grads["W"] += _from_patch_order(dWm, W.shape)
        return _images(dx.reshape(N, h, w, self.in_channels)) if input_grad else None


def blocked(net, rows: int) -> None:
    """Turn net's convolution layers into their blocked forms, rows patch rows per block."""
    for layer in net.layers:
        for plain, other in ((Conv2D, BlockedConv2D), (ConvTranspose2D, BlockedConvTranspose2D)):
            if type(layer) is plain:
                layer.__class__ = other
                layer.rows = rows


def check_blocks() -> None:
    """The blocked layers compute what numgan's do (float64, a remainder block included)."""
    rng = np.random.default_rng(2)
    for plain, other, shape in (
        (Conv2D, BlockedConv2D, (7, 6, 10, 10)),
        (ConvTranspose2D, BlockedConvTranspose2D, (7, 6, 5, 5)),
    ):
        a = plain(6, 4, K, stride=S, padding=P, rng=np.random.default_rng(3), dtype=np.float64)
        b = other(6, 4, K, stride=S, padding=P, rng=np.random.default_rng(3), dtype=np.float64)
        b.rows = 2 * a.output_shape(shape[1:])[1] ** 2 if plain is Conv2D else 2 * 25
        x = rng.normal(size=shape)
        y_a, y_b = a.forward(x), b.forward(x)
        dout = rng.normal(size=y_a.shape)
        dx_a, dx_b = a.backward(dout), b.backward(dout)
        same = np.allclose(y_a, y_b, rtol=1e-12, atol=1e-12) and np.allclose(
            dx_a, dx_b, rtol=1e-12, atol=1e-12
        )
        for name in a.grads:
            same &= np.allclose(a.grads[name], b.grads[name], rtol=1e-12, atol=1e-12)
        if not same:
            raise AssertionError(f"{other.__name__} disagrees with {plain.__name__}")


def block_rows(repeats: int) -> list[tuple[str, str, float, str, float]]:
    """Whole DCGAN iterations (ms): the layers as they are against blocks of each size."""
    spec = model_specs([4])[0]
    result = []
    for rows in BLOCK_ROWS:
        ours, other = (build_trainer(spec, seed=0) for _ in range(2))
        blocked(other.gan.G, rows)
        blocked(other.gan.D, rows)
        for trainer in (ours, other):
            for _ in range(3):  # compile and warm
                trainer.step()
        ta, tb = _median_ms(ours.step, other.step, repeats)
        label = f"DCGAN iteration, {rows} patch rows a block"
        result.append((label, "whole batch", ta, "blocks", tb))
    return result


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


def channels_last(a: np.ndarray) -> np.ndarray:
    """(N, C, H, W) values as the (N, H, W, C) array the kernels take."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def rows(repeats: int) -> list[tuple[str, str, float, str, float]]:
    rng = np.random.default_rng(0)
    f32 = np.float32
    ho = conv.out_size(SIDE, K, S, P)
    x = rng.normal(size=(N, C, SIDE, SIDE)).astype(f32)  # NCHW, for the earlier kernels
    x_last = channels_last(x)
    cols, cols2 = (np.empty((N * ho * ho, K * K * C), f32) for _ in range(2))
    y = rng.normal(size=(N * ho * ho, C_OUT)).astype(f32)
    b = rng.normal(size=C_OUT).astype(f32)
    out = np.empty((N, C_OUT, ho, ho), f32)
    dout = rng.normal(size=out.shape).astype(f32)
    dy, db = np.empty_like(y), np.zeros(C_OUT, f32)
    # ConvTranspose2D(64, 32) on 7x7 -> 14x14: col2im of (N * 49, 16 * 32) into 64 14x14x32
    t_cols = rng.normal(size=(N * 49, K * K * C)).astype(f32)
    t_out, t_out_nchw = np.empty((N, SIDE, SIDE, C), f32), np.empty((N, C, SIDE, SIDE), f32)
    t_b, t_zero = b[:C].copy(), np.zeros(C, f32)
    args = (K, K, S, S, P, P)
    # D's first layer: Conv2D(1, 32) on 28x28; its patches, 16 values each, come back through
    # col2im when D's input gradient is needed (and in G's last ConvTranspose2D(32, 1))
    x1 = rng.normal(size=(N, 1, 2 * SIDE, 2 * SIDE)).astype(f32)
    x1_last = channels_last(x1)
    cols1, cols1b = (np.empty((N * SIDE * SIDE, K * K), f32) for _ in range(2))
    out1, out1_nchw, zero1 = np.empty_like(x1_last), np.empty_like(x1), np.zeros(1, f32)
    conv.im2col_nb(x1_last, *args, cols1)  # D1's patches, for col2im

    def separate_db():
        conv.nchw_to_rows_nb(dout, dy, db, False)
        db[...] += dout.sum(axis=(0, 2, 3))

    def separate_base():
        conv.col2im_nb(t_cols, *args, t_out, t_zero)
        t_out[...] += t_b

    cases = [
        (
            "im2col patch order",
            "(i, j, c)",
            lambda: conv.im2col_nb(x_last, *args, cols),
            "(c, i, j)",
            lambda: im2col_cij_nb(x, *args, cols2),
        ),
    ]
    for label, x_a, x_b, c_a, c_b, patches, o_a, o_b, zero in (
        ("32x14x14", x_last, x, cols, cols2, t_cols, t_out, t_out_nchw, t_zero),
        ("1x28x28", x1_last, x1, cols1, cols1b, cols1, out1, out1_nchw, zero1),
    ):
        cases += [
            (
                f"im2col, {label}",
                "channels last",
                lambda x=x_a, c=c_a: conv.im2col_nb(x, *args, c),
                "NCHW, earlier",
                lambda x=x_b, c=c_b: im2col_nchw_nb(x, *args, c),
            ),
            (
                f"col2im, {label}",
                "channels last",
                lambda p=patches, o=o_a, z=zero: conv.col2im_nb(p, *args, o, z),
                "NCHW, earlier",
                lambda p=patches, o=o_b, z=zero: col2im_nchw_nb(p, *args, o, z),
            ),
        ]
    cases += [
        (
            "Conv2D output, with b",
            "channels last",
            lambda: dense.add_bias_nb(y, b),
            "NCHW, earlier",
            lambda: rows_to_nchw_nb(y, b, out),
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
    x = rng.normal(size=(N, SIDE, SIDE, C)).astype(np.float32)  # channels last
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
    ho, wo = conv.out_size(7, K, S, P), conv.out_size(6, K, S, P)
    for channels in (5, 1):
        x = rng.normal(size=(3, channels, 7, 6)).astype(np.float32)  # NCHW
        ours, other = (np.empty((3 * ho * wo, K * K * channels), np.float32) for _ in range(2))
        conv.im2col_nb(channels_last(x), K, K, S, S, P, P, ours)
        if parallel:
            im2col_prange_nb(channels_last(x), K, K, S, S, P, P, other)
        else:
            im2col_cij_nb(x, K, K, S, S, P, P, other)
            other = other.reshape(-1, channels, K, K).transpose(0, 2, 3, 1).reshape(ours.shape)
        if not np.array_equal(ours, other):
            raise AssertionError("an im2col variant disagrees with numgan's im2col")
        if parallel:
            continue
        im2col_nchw_nb(x, K, K, S, S, P, P, other)
        base = rng.normal(size=channels).astype(np.float32)
        back, back2 = np.empty_like(channels_last(x)), np.empty_like(x)
        conv.col2im_nb(ours, K, K, S, S, P, P, back, base)
        col2im_nchw_nb(ours, K, K, S, S, P, P, back2, base)
        same_back = np.allclose(back, channels_last(back2), rtol=1e-6, atol=1e-6)
        if not (np.array_equal(ours, other) and same_back):
            raise AssertionError("the earlier im2col or col2im disagrees with numgan's")
        y, b = rng.normal(size=(3 * 7 * 6, channels)), rng.normal(size=channels)
        image = np.empty((3, channels, 7, 6))
        rows_to_nchw_nb(y, b, image)
        dense.add_bias_nb(y, b)
        if not np.array_equal(image, y.reshape(3, 7, 6, channels).transpose(0, 3, 1, 2)):
            raise AssertionError("the earlier rows_to_nchw disagrees with the bias pass")


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
    check_blocks()
    print(table(rows(options.repeats) + block_rows(options.repeats)))


if __name__ == "__main__":
    main()
