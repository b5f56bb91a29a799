"""Sequential: a stack of layers with the same forward/backward contract as one layer.

    forward:   h_0 = x,  h_i = layer_i(h_{i-1}),  out = h_L
    backward:  g_L = dout,  g_{i-1} = layer_i.backward(g_i),  dx = g_0

The chain rule is applied layer by layer in reverse; each layer already holds what it cached.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .dropout import Dropout
from .layer import Layer, Shape, Widths, _check_each_once, all_layers, float_dtype


class NonFiniteInputError(ValueError):
    """A network was handed NaN or inf."""


class Sequential(Widths):
    """A network: layers applied in order, one dtype for all parameters.

    x: (N, *in_shape) -> out: (N, *out_shape)

    ``in_shape`` is the first layer's (None when the first layers take any shape), and
    ``out_shape`` follows from it layer by layer; each pair of neighbours is checked when the
    network is built.

    ``dtype`` is float32 for training (speed) or float64 for gradient checks (accuracy).
    Layers are cast to it when the network is built.  ``training`` is the mode used when
    ``forward`` is called without ``training=``; ``train()`` and ``eval()`` set it.
    """

    def __init__(
        self,
        layers: Iterable[Layer],
        *,
        dtype=np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        if isinstance(layers, Layer) or not isinstance(layers, Iterable):
            raise TypeError(
                f"Sequential takes a list of layers, got {type(layers).__name__}: write "
                "Sequential([layer, ...])"
            )
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {i} is {layer!r}, not a numgan Layer")
        _check_each_once(all_layers(self.layers), "Sequential")
        self.dtype = float_dtype("Sequential", dtype)
        self.training = True
        self.in_shape, self.out_shape = self._check_shapes()
        for layer in self.layers:
            layer.astype(self.dtype)
        self.flat_params, self.flat_grads = self._gather_parameters()
        # backward passes that accumulated into the gradients: the Trainer compares it with its
        # own count to know whether they still hold the zeros its last update left
        self.grad_writes = 0
        if rng is not None:
            self.initialize(rng)

    def _check_shapes(self) -> tuple[Shape | None, Shape | None]:
        """Walk the per-sample shape through the layers; name the two that do not fit.

        The shape is unknown (None) until a layer fixes it (Dense states its input, Reshape
        its output).  The network's input shape is the first stated one, if every layer
        before it keeps the shape (ReLU then Dense(4, ...) takes (4,); Flatten then Dense
        takes any shape that flattens to it, so the network's is unknown).
        """
        first, shape, prev, kept = None, None, "the input", True
        for i, layer in enumerate(self.layers):
            if shape is None and kept and layer.in_shape is not None:
                first = layer.in_shape
            try:
                out = layer.output_shape(shape)
            except ValueError as err:
                raise ValueError(
                    f"Sequential: layer {i} {layer!r} does not fit {prev}, which gives "
                    f"samples of shape {shape}: {err}"
                ) from None
            kept = kept and layer.keeps_shape and layer.in_shape is None
            shape, prev = out, f"layer {i} {layer!r}"
        return first, shape

    def _gather_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """Move every parameter (and its gradient) into one flat array; layers keep views.

        Layers still see their own ``params["W"]`` etc., but the network's parameters are also
        one contiguous vector: an optimiser updates them in a single kernel call, and the
        fused step (numgan/fused.py) reaches them as plain arrays.
        """
        entries = [(layer, k) for layer in self.layers for k in layer.params]
        total = sum(layer.params[k].size for layer, k in entries)
        flat_params = np.zeros(total, dtype=self.dtype)
        flat_grads = np.zeros(total, dtype=self.dtype)
        offset = 0
        for layer, k in entries:
            shape, size = layer.params[k].shape, layer.params[k].size
            view = flat_params[offset : offset + size].reshape(shape)
            view[...] = layer.params[k]
            layer.params[k] = view
            layer.grads[k] = flat_grads[offset : offset + size].reshape(shape)
            offset += size
        return flat_params, flat_grads

    def offset_of(self, param: np.ndarray) -> int:
        """Where ``param`` (one of this network's parameter arrays) starts in flat_params."""
        return (
            param.__array_interface__["data"][0] - self.flat_params.__array_interface__["data"][0]
        ) // self.dtype.itemsize

    # -- state ---------------------------------------------------------------------------

    def initialize(self, rng: np.random.Generator) -> Sequential:
        """Draw every layer's initial parameters from ``rng`` and bind it for dropout."""
        for layer in self.layers:
            layer.reset_parameters(rng)
        self.bind_rng(rng)
        return self

    @property
    def initialized(self) -> bool:
        return all(layer.initialized for layer in self.layers)

    def bind_rng(self, rng: np.random.Generator) -> None:
        """Give every random layer (Dropout, also inside a Parallel) the run's Generator."""
        for layer in all_layers(self.layers):
            if isinstance(layer, Dropout):
                layer.rng = rng

    def train(self) -> Sequential:
        self.training = True
        return self

    def eval(self) -> Sequential:
        self.training = False
        return self

    def named_parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """[(name, param, grad)] in a fixed order; names look like ``"0.W"``."""
        return [
            (f"{i}.{k}", layer.params[k], layer.grads[k])
            for i, layer in enumerate(self.layers)
            for k in layer.params
        ]

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(param, grad)] pairs, the order the optimiser keeps its state in."""
        return [(p, g) for _, p, g in self.named_parameters()]

    @property
    def rowwise(self) -> bool:
        """Whether every layer treats the rows of a batch independently (``Layer.rowwise``):
        then a forward and backward on stacked batches [x_1; x_2] gives each batch's outputs
        and the sum of their parameter gradients, as two passes would."""
        return all(vars(type(layer)).get("rowwise", False) for layer in all_layers(self.layers))

    def num_parameters(self) -> int:
        return sum(p.size for p, _ in self.parameters())

    def zero_grad(self) -> None:
        self.flat_grads.fill(0.0)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed ``"<layer>.<name>"``."""
        state = {name: p.copy() for name, p, _ in self.named_parameters()}
        for i, layer in enumerate(self.layers):
            for k, buf in layer.buffers().items():
                state[f"{i}.{k}"] = buf.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy values in place (optimiser state keeps pointing at the same arrays)."""
        targets = {name: p for name, p, _ in self.named_parameters()}
        for i, layer in enumerate(self.layers):
            targets.update({f"{i}.{k}": b for k, b in layer.buffers().items()})
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise ValueError(
                f"state does not match this network: missing {missing}, unexpected {unexpected}"
            )
        for name, target in targets.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"state[{name!r}] has shape {value.shape}, the network expects {target.shape}"
                )
            target[...] = value
        for layer in self.layers:
            layer._initialized = True

    # -- the passes ----------------------------------------------------------------------

    def forward(self, x: np.ndarray, training: bool | None = None) -> np.ndarray:
        """x: (N, *in_shape) -> (N, *out_shape).  Inputs are cast to the network's dtype."""
        if training is None:
            training = self.training
        x = np.asarray(x)
        if x.ndim < 2:
            raise ValueError(
                f"{self.name()}: expects a batch of shape (N, ...), got shape {x.shape}: "
                "add a batch axis (x[None] for one sample, x[:, None] for N scalars)"
            )
        if self.in_shape is not None and x.shape[1:] != self.in_shape:
            raise ValueError(
                f"{self.name()}: expects samples of shape {self.in_shape}, got an input of "
                f"shape {x.shape}"
            )
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        if not np.isfinite(x).all():
            bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
            raise NonFiniteInputError(
                f"{self.name()}: input has {bad} non-finite value(s) (NaN or inf): "
                "check the data, or whether training diverged"
            )
        h = x
        for layer in self.layers:
            h = layer.forward(h, training=training)
        return h

    def backward(
        self, dout: np.ndarray, param_grads: bool = True, input_grad: bool = True
    ) -> np.ndarray | None:
        """dout: (N, *out_shape) -> dx: (N, *in_shape); parameter gradients accumulate if asked.

        input_grad=False: the caller has no use for dx (D's input in the D step is data, G's
        input is noise).  Backward then stops at the first layer with parameters, telling it so
        (Dense, Maxout and the convolutions skip that product); the parameter-free layers before
        it (a Reshape, an input Dropout) would only compute dx.  Returns None then.
        A call with param_grads counts in ``grad_writes``.
        """
        stop = 0 if input_grad else self._first_with_params
        if param_grads:
            self.grad_writes += 1
        g = dout
        for i in range(len(self.layers) - 1, stop, -1):
            g = self.layers[i].backward(g, param_grads=param_grads)
        dx = self.layers[stop].backward(g, param_grads=param_grads, input_grad=input_grad)
        return dx if input_grad else None

    @property
    def _first_with_params(self) -> int:
        return next((i for i, layer in enumerate(self.layers) if layer.params), 0)

    __call__ = forward

    def first_nonfinite(self, bound: float | None = None) -> str | None:
        """The first parameter or buffer holding NaN or inf, as "layer i Dense(...) W"; or None.

        With ``bound``, a parameter (not a buffer: running statistics follow the data's scale)
        with a value beyond +-bound counts too, named with its largest magnitude.
        """
        for i, layer in enumerate(self.layers):
            for k, value in {**layer.params, **layer.buffers()}.items():
                if not np.isfinite(value).all():
                    return f"layer {i} {layer!r} {k}"
                if bound is not None and k in layer.params and value.size:
                    largest = float(np.abs(value).max())
                    if largest > bound:
                        return f"layer {i} {layer!r} {k} (|value| up to {largest:.3g})"
        return None

    def name(self) -> str:
        fmt = lambda s: "?" if s is None else "x".join(map(str, s))  # noqa: E731
        return f"Sequential({fmt(self.in_shape)}->{fmt(self.out_shape)})"

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner}\n], dtype={self.dtype.name})"
