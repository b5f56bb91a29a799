"""The Layer contract every numgan layer follows, and weight initialisation.

    out = layer.forward(x, training=True)          # caches exactly what backward reads
    dx  = layer.backward(dout, param_grads=True, input_grad=True)

- Inputs are ``(N, ...)``: a batch of N samples of any shape, ``(N, features)`` for Dense,
  ``(N, C, H, W)`` for images.  ``in_shape`` is the shape of one sample a layer expects
  (None where any shape works) and ``output_shape(in_shape)`` the shape of one sample it
  produces; Sequential checks each pair of neighbours with them when it is built.
- ``params`` and ``grads`` are dicts with the same keys (``W``, ``b``, ``gamma``, ``beta``).
- Parameter gradients accumulate (``+=``) until ``zero_grad()``: the discriminator sees a real
  batch and a fake batch before one update, and both must add up.
- ``backward(dout, param_grads=False)`` computes only ``dx``.  The generator step
  backpropagates through D to reach G, and must neither compute nor apply D's parameter
  gradients.
- ``backward(dout, input_grad=False)`` may skip ``dx`` and return None: a network's first
  layer, whose input is data or noise, has no use for it.
- ``set_params(W=..., b=...)`` sets weights by hand and marks the layer initialised.
- ``rowwise = True`` in a class's own body declares that its rows are independent (see the
  attribute): the Numba backend's D step then stacks real and fake rows into one pass.

Shapes: ``N`` is the batch size, ``D_in``/``D_out`` the feature widths.  Every formula is
derived step by step in docs/backprop.md; the arithmetic runs in numgan.kernels.
"""

from __future__ import annotations

import math

import numpy as np

INITS = ("uniform", "glorot", "he", "normal")

Shape = tuple[int, ...]


class NotInitializedError(RuntimeError):
    """Raised when a layer is used before its parameters were drawn or set."""


class Widths:
    """``in_features``/``out_features`` for what works on (N, features): read off the
    per-sample shapes ``in_shape`` and ``out_shape`` (None where a shape is not one width)."""

    in_shape: Shape | None
    out_shape: Shape | None

    @property
    def in_features(self) -> int | None:
        """The input width on (N, features) input, else None."""
        return self.in_shape[0] if self.in_shape is not None and len(self.in_shape) == 1 else None

    @property
    def out_features(self) -> int | None:
        """The output width with a fixed (features,) output, else None."""
        out = self.out_shape
        return out[0] if out is not None and len(out) == 1 else None


class Layer(Widths):
    """Base class: no parameters, identity ``zero_grad``, and the shape bookkeeping."""

    #: the shape of one sample this layer expects, or None if it works on any shape
    in_shape: Shape | None = None
    #: whether the output sample has the input sample's shape, whatever it is (activations,
    #: BatchNorm, Dropout); Flatten and Reshape do not
    keeps_shape: bool = True
    #: whether output row n depends on input row n alone, nothing is drawn at random and no
    #: state changes per call, so that one forward and backward on stacked batches equals one
    #: per batch (the D step's one pass on [x; G(z)]).  Declared by each class itself and not
    #: inherited (Sequential.rowwise reads the class's own attribute): a subclass may draw or
    #: keep state its parent does not, and says rowwise = True again if it does neither.
    #: False for BatchNorm and minibatch discrimination (they mix the rows of a batch) and
    #: Dropout (it draws its masks)
    rowwise: bool = False

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache: tuple | None = None
        self._initialized = True

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(
        self, dout: np.ndarray, param_grads: bool = True, input_grad: bool = True
    ) -> np.ndarray | None:
        raise NotImplementedError

    def output_shape(self, in_shape: Shape | None) -> Shape | None:
        """The shape of one output sample for input samples of shape ``in_shape``.

        ``in_shape`` None means not known yet; the answer is then what the layer alone fixes
        (None where that is nothing).  Raises ValueError, saying what the layer expects, when
        ``in_shape`` does not fit.  The default: the input must match ``in_shape`` (if set)
        and comes out unchanged.
        """
        if in_shape is None:
            return self.in_shape
        if self.in_shape is not None and tuple(in_shape) != self.in_shape:
            raise ValueError(f"{self!r} expects samples of shape {self.in_shape}")
        return tuple(in_shape)

    def extra_values(self, in_shape: Shape) -> int:
        """Numbers per sample a forward and backward hold beyond the output (a convolution's
        patch matrix, several times its output); 0 for most layers.  For memory checks."""
        return 0

    @property
    def out_shape(self) -> Shape | None:
        """The shape of one output sample, where the layer alone fixes it; else None."""
        return self.output_shape(self.in_shape)

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0.0)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """Draw initial parameters from ``rng``.  Layers without parameters do nothing."""

    def set_params(self, **values: np.ndarray) -> Layer:
        """Set parameters by hand, e.g. ``dense.set_params(W=W, b=b)``; returns self.

        Values are copied into the existing arrays (a Sequential's flat parameter vector and
        its optimiser keep seeing them), cast to the layer's dtype.  Names and shapes must
        match ``params``; a parameter not named keeps its value.  The layer then counts as
        initialised: ``Trainer(seed=...)`` and ``GAN.initialize`` never draw over it.
        """
        for name, value in values.items():
            if name not in self.params:
                known = ", ".join(self.params) or "none"
                raise ValueError(f"{self!r} has no parameter {name!r} (its parameters: {known})")
            value = np.asarray(value)
            if value.dtype.kind not in "fiub":
                raise ValueError(
                    f"{self!r}.set_params: {name} must be numbers, got an array of {value.dtype}"
                )
            if value.shape != self.params[name].shape:
                raise ValueError(
                    f"{self!r}.set_params: {name} must have shape {self.params[name].shape}, "
                    f"got {value.shape}"
                )
            if not np.isfinite(value).all():
                raise ValueError(f"{self!r}.set_params: {name} holds NaN or inf")
        for name, value in values.items():
            self.params[name][...] = value
        self._initialized = True
        self.cache = None
        return self

    @property
    def initialized(self) -> bool:
        """Whether the parameters hold values: drawn, set, loaded, or written by hand.

        Weights written straight into ``params["W"][...]`` count too (they are not all zero),
        so a trainer never draws over them.
        """
        if not self._initialized and any(p.any() for p in self.params.values()):
            self._initialized = True
        return self._initialized

    def astype(self, dtype) -> Layer:
        """Cast parameters, gradients and buffers to ``dtype`` in place; returns self."""
        dtype = float_dtype(repr(self), dtype)
        for name in self.params:
            self.params[name] = self.params[name].astype(dtype)
            self.grads[name] = self.grads[name].astype(dtype)
        for name, buf in self.buffers().items():
            setattr(self, name, buf.astype(dtype))
        self.cache = None
        return self

    def buffers(self) -> dict[str, np.ndarray]:
        """State that is not trained by gradients but is saved (BatchNorm running stats)."""
        return {}

    def _require_initialized(self) -> None:
        if not self.initialized:
            names = ", ".join(f"{name}=..." for name in self.params)
            raise NotInitializedError(
                f"{self!r} has no weights yet: pass rng= when building it, call "
                f"net.initialize(rng) or layer.set_params({names}), or let "
                "Trainer(seed=...) initialise it"
            )

    def _need_cache(self) -> tuple:
        if self.cache is None:
            raise RuntimeError(
                f"{self!r}.backward() called before forward(): run forward first, "
                "and call backward once per forward"
            )
        return self.cache

    def _check_dout(self, dout: np.ndarray, shape: tuple[int, ...]) -> None:
        """backward's dout must have the shape forward returned: the kernels index by it."""
        if getattr(dout, "shape", None) != tuple(shape):
            raise ValueError(
                f"{self!r}.backward: dout has shape {getattr(dout, 'shape', type(dout))}, "
                f"expected {tuple(shape)}, the shape of the last forward's output"
            )

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        """Cheap check at the top of forward: numbers, of shape (N, ...) that fits
        ``output_shape``.  Returns x as an array (a list of rows becomes one)."""
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{self!r} expects numbers, got an array of dtype {x.dtype}")
        if x.ndim < 2:
            raise ValueError(
                f"{self!r} expects a batch of shape (N, ...), got shape {x.shape}: "
                "add a batch axis (x[None] for one sample, x[:, None] for N scalars)"
            )
        try:
            self.output_shape(x.shape[1:])
        except ValueError as err:
            raise ValueError(f"{err}, got an input of shape {x.shape}") from None
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def all_layers(layers) -> list[Layer]:
    """The layers and, inside a Parallel, its branches' layers, in order."""
    found = []
    for layer in layers:
        found.append(layer)
        parts = getattr(layer, "parts", None)
        if isinstance(parts, dict):
            found += all_layers([inner for branch in parts.values() for inner in branch])
    return found


def _check_each_once(layers: list[Layer], who: str) -> None:
    """A layer object may appear once: it caches its own last forward for backward, so a
    second use would overwrite the first's cache (and share its weights unnoticed)."""
    seen: set[int] = set()
    for layer in layers:
        if id(layer) in seen:
            raise ValueError(
                f"{who}: the same {layer!r} object appears twice; each place needs its own "
                "layer (build another one; to share weights, copy them with set_params)"
            )
        seen.add(id(layer))


def _check_rows(layer: Layer, in_shape: Shape | None) -> None:
    """A layer that reads rows (N, D_in): refuse samples of another shape, pointing at Flatten."""
    if in_shape is not None and tuple(in_shape) != layer.in_shape:
        raise ValueError(
            f"{layer!r} expects samples of shape {layer.in_shape} (N, {layer.in_shape[0]}); "
            "put a Flatten() before it for images"
        )


DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(owner: str, dtype) -> np.dtype:
    """``dtype`` as a NumPy dtype if it is float32 or float64 (training, gradient checks); else
    a ValueError naming ``owner``: integer weights would stay zero, and float16 has no kernels."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    # "is None" first: NumPy reads None as float64, so None would be found in DTYPES
    if dtype is None or dt is None or dt not in DTYPES:
        raise ValueError(
            f"{owner}: dtype must be float32 or float64 (float64 for gradient checks), got "
            f"{dtype!r}"
        )
    return dt


def real_number(owner: str, name: str, value) -> float:
    """value as a float if it is a real number (not a bool, not text), else a ValueError naming
    the owner and the argument.  The callers check the range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{owner}: {name} must be a number, got {value!r}")
    return float(value)


def _check_scale(owner: str, scale) -> float:
    """The spread of the "uniform" and "normal" inits: a finite number >= 0."""
    value = real_number(owner, "scale", scale)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{owner}: scale must be a finite number >= 0, got {scale!r}")
    return value


def _empty_params(owner: str, dtype, **shapes: tuple[int, ...]) -> tuple[dict, dict]:
    dtype = float_dtype(owner, dtype)
    params = {k: np.zeros(s, dtype=dtype) for k, s in shapes.items()}
    grads = {k: np.zeros(s, dtype=dtype) for k, s in shapes.items()}
    return params, grads


def _draw_weights(rng, init: str, scale: float, fan_in: int, fan_out: int, shape) -> np.ndarray:
    """Initial weights.

    uniform: U(-scale, scale), the paper's choice (its MNIST nets used scale ~0.05)
    glorot:  U(-a, a) with a = sqrt(6 / (fan_in + fan_out))
    he:      N(0, 2 / fan_in), for ReLU-family layers
    normal:  N(0, scale**2), DCGAN's choice with scale 0.02
    """
    if init == "uniform":
        return rng.uniform(-scale, scale, size=shape)
    if init == "glorot":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=shape)
    if init == "he":
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    if init == "normal":
        return rng.normal(0.0, scale, size=shape)
    raise ValueError(f"unknown init {init!r}: choose one of {', '.join(INITS)}")


# -- memory layouts ----------------------------------------------------------------------------
# A layer's arrays need not be in C order: a transposed matrix, or an image batch whose channels
# are stored last (as the convolution layers hand theirs on), is still one dense block of
# memory, only in another order of its axes.  Elementwise kernels run along that memory as one
# flat vector, whatever the order.


def _dense(a: np.ndarray) -> np.ndarray:
    """a itself if its values fill one block of memory in some order of its axes, else a copy in
    C order (a strided slice, negative strides)."""
    a = np.asarray(a)
    if a.flags.c_contiguous or channels_last(a):  # the common layouts, answered quickly
        return a
    order = np.argsort([-s for s in a.strides], kind="stable")
    return a if a.transpose(order).flags.c_contiguous else np.ascontiguousarray(a)


def _flat(a: np.ndarray) -> np.ndarray:
    """The values of a dense array (see _dense) in memory order, as a 1-D view."""
    return a.ravel(order="K")


def _layout_of(like: np.ndarray, a: np.ndarray) -> np.ndarray:
    """a stored like ``like`` (the same strides, so that their flat views match element for
    element): a itself if it already is, else a copy."""
    a = np.asarray(a)
    if a.strides == like.strides and a.dtype == like.dtype:
        return a
    out = np.empty_like(like)
    out[...] = a
    return out


def channels_last(a: np.ndarray) -> bool:
    """Whether an (N, C, H, W) batch is stored with its channels last: (N, H, W, C) in C order.
    (With one channel, or one pixel, both orders are the same memory and this is true.)"""
    return a.ndim == 4 and a.transpose(0, 2, 3, 1).flags.c_contiguous


def as_rows(a: np.ndarray) -> np.ndarray:
    """An (N, C, H, W) batch as its (N * H * W, C) rows, one per pixel: a view of a
    channels-last batch (a copy of any other)."""
    N, C, H, W = a.shape
    return a.transpose(0, 2, 3, 1).reshape(N * H * W, C)
