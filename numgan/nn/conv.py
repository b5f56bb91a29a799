"""Conv2D and ConvTranspose2D: convolutions on (N, C, H, W) images, each one matrix product.

Both layers run on the same three steps (numgan/kernels/conv.py): im2col turns the patches
into the rows of a matrix, BLAS multiplies, and col2im adds patch values back onto the pixels
they came from.  A transposed convolution is the adjoint of a convolution: its forward pass is
a convolution's input gradient and its input gradient is a convolution's forward pass.  So it
never inserts zeros between pixels, which at stride 2 would multiply zeros for three quarters
of its work.  docs/backprop.md derives both backward passes.

Memory layout: both layers return their outputs and input gradients as (N, C, H, W) arrays whose
memory is channels last, (N, H, W, C) in C order, because that is how a product over a matrix
of pixel rows leaves them: each row one pixel's channels.  The shape and the values are the
NCHW ones; only the strides differ (``numgan.nn.layer.channels_last``).  A channels-last input
or upstream gradient is read as those rows without a copy; a C-ordered one is transposed into
rows.  Between two convolutions only BatchNorm and activations stand in the dcgan preset, and
they keep the layout, so the transposes of an image batch to NCHW and back are not made.
"""

from __future__ import annotations

import numpy as np

from ..kernels import ops
from ..kernels.conv import out_size
from .layer import (
    INITS,
    Layer,
    Shape,
    _check_scale,
    _draw_weights,
    _empty_params,
    as_rows,
    channels_last,
)


def _pair(name: str, value, least: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= least, as a pair (for the height and width axes)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        a, b = pair
    except (TypeError, ValueError):
        a = b = None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (a, b)):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(a, b) < least:
        raise ValueError(f"{name} must be >= {least}, got {value!r}")
    return int(a), int(b)


def _patch_order(W: np.ndarray) -> np.ndarray:
    """W (A, B, k_h, k_w) as the matrix (A, k_h * k_w * B) whose columns follow im2col's
    (i, j, c) patch order (a copy: 4-D weights are small next to the images)."""
    return W.transpose(0, 2, 3, 1).reshape(len(W), -1)


def _from_patch_order(Wm: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of _patch_order: (A, k_h * k_w * B) -> (A, B, k_h, k_w)."""
    A, B, kh, kw = shape
    return Wm.reshape(A, kh, kw, B).transpose(0, 3, 1, 2)


def _channels_last(a: np.ndarray, db: np.ndarray | None = None) -> np.ndarray:
    """An (N, C, H, W) batch as the (N, H, W, C) C-ordered array of its channels-last memory,
    the kernels' layout: a view when a is stored channels last (as the layers leave theirs), a
    transposing copy otherwise.  With db given, db += each channel's sum on the way."""
    if channels_last(a):
        if db is not None:
            ops.add_channel_sums(db, as_rows(a))
        return a.transpose(0, 2, 3, 1)
    N, C, H, W = a.shape
    rows = np.empty((N * H * W, C), dtype=a.dtype)
    grad_b = db is not None
    placeholder = np.empty(C, dtype=a.dtype)  # typed, for the kernel; nothing is added to it
    ops.nchw_to_rows(np.ascontiguousarray(a), rows, db if grad_b else placeholder, grad_b)
    return rows.reshape(N, H, W, C)


def _images(a: np.ndarray) -> np.ndarray:
    """The inverse of _channels_last: (N, H, W, C) in C order as the (N, C, H, W) batch it holds,
    a view (stored channels last)."""
    return a.transpose(0, 3, 1, 2)


class _Conv(Layer):
    """Shared set-up: channels, kernel, stride, padding, weights and the shape checks."""

    keeps_shape = False

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        init,
        scale,
        rng,
        dtype,
        w_shape,
    ):
        super().__init__()
        name = type(self).__name__
        for arg, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {v!r}")
        if init not in INITS:
            raise ValueError(f"{name}: unknown init {init!r}: choose one of {', '.join(INITS)}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(f"{name}: kernel_size", kernel_size, 1)
        self.stride = _pair(f"{name}: stride", stride, 1)
        self.padding = _pair(f"{name}: padding", padding, 0)
        self.init, self.scale = init, _check_scale(name, scale)
        kh, kw = self.kernel_size
        self.params, self.grads = _empty_params(
            name, dtype, W=w_shape(kh, kw), b=(self.out_channels,)
        )
        self._initialized = False
        if rng is not None:
            self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """Glorot/He fans count the receptive field: fan = channels * k_h * k_w."""
        W = self.params["W"]
        area = self.kernel_size[0] * self.kernel_size[1]
        fan_in, fan_out = self.in_channels * area, self.out_channels * area
        W[...] = _draw_weights(rng, self.init, self.scale, fan_in, fan_out, W.shape)
        self.params["b"].fill(0.0)
        self._initialized = True

    def _spatial_out(self, h: int, w: int) -> tuple[int, int]:
        raise NotImplementedError

    def output_shape(self, in_shape: Shape | None) -> Shape | None:
        if in_shape is None:
            return None
        in_shape = tuple(in_shape)
        if len(in_shape) != 3 or in_shape[0] != self.in_channels:
            raise ValueError(
                f"{self!r} expects images of shape ({self.in_channels}, H, W), batches "
                f"(N, {self.in_channels}, H, W), not samples of shape {in_shape}"
                + (
                    "; put a Reshape((C, H, W)) before it for flat rows"
                    if len(in_shape) == 1
                    else ""
                )
            )
        ho, wo = self._spatial_out(*in_shape[1:])
        if ho < 1 or wo < 1:
            raise ValueError(
                f"{self!r}: images of {in_shape[1]}x{in_shape[2]} are too small for its "
                f"kernel, stride and padding (output {ho}x{wo})"
            )
        return (self.out_channels, ho, wo)

    def extra_values(self, in_shape: Shape) -> int:
        """The patch matrix (cached, or built in backward) and its gradient: a row of
        k_h * k_w * C values per pixel of the smaller image, C the larger image's channels."""
        pixels, channels = self._patch_grid(tuple(in_shape))
        return 2 * pixels * self.kernel_size[0] * self.kernel_size[1] * channels

    def _ready(self, x: np.ndarray) -> np.ndarray:
        """x checked (shape, initialised) and in the weights' dtype."""
        self._require_initialized()
        x = self._check_input(x)
        return x.astype(self.params["W"].dtype, copy=False)

    def _args(self) -> str:
        k, s, p = self.kernel_size, self.stride, self.padding
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={k[0] if k[0] == k[1] else k}"
        if s != (1, 1):
            text += f", stride={s[0] if s[0] == s[1] else s}"
        if p != (0, 0):
            text += f", padding={p[0] if p[0] == p[1] else p}"
        return text


class Conv2D(_Conv):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    x: (N, C_in, H, W) -> out: (N, C_out, H_o, W_o),  H_o = (H + 2 p_h - k_h) // s_h + 1
                                                       (W_o likewise)
    W: (C_out, C_in, k_h, k_w), PyTorch's layout (weights copy across unchanged), b: (C_out,)

        out[n, o, a, b] = b[o] + sum_{c, i, j} W[o, c, i, j] * xpad[n, c, a s_h + i, b s_w + j]

    As one product, with P = H_o * W_o and K = k_h * k_w * C_in:

        cols = im2col(x)                 (N * P, K)   a row per output pixel, its patch
        y    = cols @ Wm.T + b           (N * P, C_out),  Wm = W as (C_out, K), its columns
                                                      in im2col's (i, j, c) patch order
        out  = y as (N, C_out, H_o, W_o)  a view: y's rows are the pixels, channels last

    backward, with dout = dL/dout of shape (N, C_out, H_o, W_o) and dy = dout as (N * P, C_out)
    (a view when dout is channels last, as the layers after this one leave it):

        db += sum over (n, a, b) of dout[n, :, a, b]      (the column sums of dy)
        dW += (dy.T @ cols) viewed as W's shape
        dx  = col2im(dy @ Wm)            each patch's gradient added back onto its pixels

    Cached: cols (dW needs the patches; x itself is not read again), Wm (W in patch order,
    which dx multiplies by), x's and out's shapes.
    """

    rowwise = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        init: str = "glorot",
        scale: float = 0.02,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            init,
            scale,
            rng,
            dtype,
            lambda kh, kw: (out_channels, in_channels, kh, kw),
        )

    def _spatial_out(self, h, w):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)

    def _patch_grid(self, in_shape):
        _, ho, wo = self.output_shape(in_shape)
        return ho * wo, in_shape[0]  # a patch of the input under each output pixel

    def forward(self, x, training=True):
        x = self._ready(x)
        N = len(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        _, ho, wo = self.output_shape(x.shape[1:])
        W = self.params["W"]
        cols = np.empty((N * ho * wo, W[0].size), dtype=W.dtype)
        ops.im2col(_channels_last(x), kh, kw, sh, sw, ph, pw, cols)
        Wm = _patch_order(W)
        y = np.empty((len(cols), self.out_channels), dtype=W.dtype)
        ops.matmul(cols, Wm.T, y)  # y = cols @ Wm.T (N * P, C_out): a row per output pixel
        ops.add_bias(y, self.params["b"])
        out = _images(y.reshape(N, ho, wo, self.out_channels))
        self.cache = (cols, Wm, x.shape, out.shape)
        return out

    def backward(self, dout, param_grads=True, input_grad=True):
        cols, Wm, x_shape, out_shape = self._need_cache()
        self._check_dout(dout, out_shape)
        W = self.params["W"]
        db = self.grads["b"] if param_grads else None
        dout = np.asarray(dout, dtype=W.dtype)
        dy = _channels_last(dout, db).reshape(len(cols), self.out_channels)
        if param_grads:
            dWm = np.empty(Wm.shape, dtype=W.dtype)
            ops.matmul(dy.T, cols, dWm)  # dWm = dy.T @ cols
            self.grads["W"] += _from_patch_order(dWm, W.shape)
        if not input_grad:
            return None
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        N, C, H, W_ = x_shape
        dcols = np.empty(cols.shape, dtype=W.dtype)
        ops.matmul(dy, Wm, dcols)  # dcols = dy @ Wm
        dx = np.empty((N, H, W_, C), dtype=W.dtype)
        ops.col2im(dcols, kh, kw, sh, sw, ph, pw, dx, np.zeros(C, dtype=W.dtype))
        return _images(dx)

    def __repr__(self):
        return f"Conv2D({self._args()})"


class ConvTranspose2D(_Conv):
    """2-D transposed convolution: the adjoint of Conv2D, which upsamples at stride > 1.

    x: (N, C_in, H, W) -> out: (N, C_out, H_o, W_o),
        H_o = (H - 1) s_h - 2 p_h + k_h + output_padding_h    (W_o likewise)
    W: (C_in, C_out, k_h, k_w), PyTorch's layout, b: (C_out,)

    Each input pixel stamps its kernel, scaled, onto the output: input pixel (a, b) of channel c
    adds x[n, c, a, b] * W[c, o, i, j] to output pixel (a s_h + i - p_h, b s_w + j - p_w).  That
    is col2im of one product, with K = k_h * k_w * C_out:

        xr   = x as (N * H * W, C_in)    a row per input pixel (a view of a channels-last x)
        cols = xr @ Wm                   (N * H * W, K),  Wm = W as (C_in, K) in patch order
        out  = col2im(cols) + b          (N, C_out, H_o, W_o), written channels last

    which is exactly Conv2D's input gradient with the roles of the channels swapped.
    ``output_padding`` (< stride) adds rows and columns at the bottom and right, so that
    ConvTranspose2D can invert the size of a Conv2D whose input did not divide evenly.

    backward, with dout of shape (N, C_out, H_o, W_o): a Conv2D forward pass of dout.

        dcols = im2col(dout)             (N * H * W, K)   the patch under each input pixel
        db   += sum over (n, a, b) of dout[n, :, a, b]
        dW   += (xr.T @ dcols) viewed as W's shape
        dx    = (dcols @ Wm.T) as (N, C_in, H, W)     a view of the rows, channels last

    Cached: xr (dW needs x, in rows: a view of x itself when x is stored channels last, so, as
    for Dense, x must not be changed between forward and backward), Wm (dx multiplies by it),
    x's and out's shapes.
    """

    rowwise = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        init: str = "glorot",
        scale: float = 0.02,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ) -> None:
        self.output_padding = _pair("ConvTranspose2D: output_padding", output_padding, 0)
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            init,
            scale,
            rng,
            dtype,
            lambda kh, kw: (in_channels, out_channels, kh, kw),
        )
        if any(op >= s for op, s in zip(self.output_padding, self.stride, strict=True)):
            raise ValueError(
                f"ConvTranspose2D: output_padding {self.output_padding} must be smaller than "
                f"the stride {self.stride} (it picks one of the stride's output sizes)"
            )

    def _spatial_out(self, h, w):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        (ph, pw), (oh, ow) = self.padding, self.output_padding
        return (h - 1) * sh - 2 * ph + kh + oh, (w - 1) * sw - 2 * pw + kw + ow

    def _patch_grid(self, in_shape):
        return in_shape[1] * in_shape[2], self.out_channels  # a patch of the output per input pixel

    def forward(self, x, training=True):
        x = self._ready(x)
        N, _, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        _, ho, wo = self.output_shape(x.shape[1:])
        W = self.params["W"]
        xr = _channels_last(x).reshape(N * h * w, self.in_channels)  # a row per input pixel
        Wm = _patch_order(W)
        cols = np.empty((len(xr), Wm.shape[1]), dtype=W.dtype)
        ops.matmul(xr, Wm, cols)  # cols = xr @ Wm
        out = np.empty((N, ho, wo, self.out_channels), dtype=W.dtype)
        ops.col2im(cols, kh, kw, sh, sw, ph, pw, out, self.params["b"])
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
        dcols = np.empty((len(xr), Wm.shape[1]), dtype=W.dtype)
        ops.im2col(dout, kh, kw, sh, sw, ph, pw, dcols)
        if param_grads:
            dWm = np.empty(Wm.shape, dtype=W.dtype)
            ops.matmul(xr.T, dcols, dWm)  # dWm = xr.T @ dcols
            self.grads["W"] += _from_patch_order(dWm, W.shape)
        if not input_grad:
            return None
        N, _, h, w = x_shape
        dxr = np.empty(xr.shape, dtype=W.dtype)
        ops.matmul(dcols, Wm.T, dxr)  # dxr = dcols @ Wm.T
        return _images(dxr.reshape(N, h, w, self.in_channels))

    def __repr__(self):
        args = self._args()
        if self.output_padding != (0, 0):
            op = self.output_padding
            args += f", output_padding={op[0] if op[0] == op[1] else op}"
        return f"ConvTranspose2D({args})"
