"""Parallel: branches that each read their own columns of the input, joined side by side.

A conditional GAN's networks take two inputs, noise and a label for G, a sample and a label for
D, each through its own first layers before they meet (Mirza & Osindero 2014).  Written as one
input [z, y] of widths (D_z, K), that is one layer:

    Parallel(z=(100, [Dense(100, 200), ReLU()]),      columns 0..99   -> 200 features
             y=(10, [Dense(10, 1000), ReLU()]))        columns 100..109 -> 1000 features
                                                       out: (N, 1200) = [h_z, h_y]

A part with no layers passes its columns through unchanged, so ``Parallel(x=(64, [...]),
y=(10, []))`` joins a processed x with the plain label: a concatenation.
"""

from __future__ import annotations

import numpy as np

from .layer import Layer


class _Linked(dict):
    """A Parallel's params (or grads): the branches' arrays under "<part>.<i>.<name>".

    Sequential moves every parameter into one flat vector by assigning a view to
    ``layer.params[key]``; the assignment is passed on to the branch layer that owns the
    array, so the branch computes with the same memory the optimiser updates.
    """

    def __init__(self, owners: dict[str, tuple[dict, str]]) -> None:
        super().__init__({key: store[name] for key, (store, name) in owners.items()})
        self._owners = owners

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        store, name = self._owners[key]
        store[name] = value
        super().__setitem__(key, value)


class Parallel(Layer):
    """Branches on named column blocks of the input, their outputs concatenated.

    x: (N, w_1 + ... + w_P) -> out: (N, o_1 + ... + o_P)

        x = [x_1, ..., x_P]           x_p: (N, w_p), the p-th part's columns, in the order given
        h_p = f_p(x_p)                f_p: the p-th part's layers in turn (none: h_p = x_p)
        out = [h_1, ..., h_P]         h_p: (N, o_p)

    backward: the columns of dout go back to the branch that produced them.

        dh_p = dout[:, the columns of h_p]
        dx_p = f_p.backward(dh_p)     the chain rule through the branch's layers
        dx   = [dx_1, ..., dx_P]

    Parameters are the branches', named "<part>.<i>.<name>" (e.g. "z.0.W"); they accumulate
    and reset like any layer's.  Cached: nothing of its own (each branch layer caches its own);
    the column boundaries are fixed when the layer is built.
    """

    keeps_shape = False
    rowwise = True  # itself; its branches' layers are asked one by one (all_layers)

    def __init__(self, **parts: tuple[int, list[Layer]]) -> None:
        super().__init__()
        if not parts:
            raise ValueError(
                "Parallel needs at least one part: Parallel(z=(100, [Dense(100, 200)]), "
                "y=(10, [Dense(10, 1000)]))"
            )
        self.parts: dict[str, list[Layer]] = {}
        widths, outs = [], []
        for name, part in parts.items():
            if not (isinstance(part, tuple) and len(part) == 2):
                raise TypeError(
                    f"Parallel: part {name!r} must be a (width, [layers]) pair, got {part!r}"
                )
            width, layers = part
            if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
                raise ValueError(
                    f"Parallel: part {name!r} needs a positive int width, got {width!r}"
                )
            if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
                raise TypeError(
                    f"Parallel: part {name!r}'s layers must be a list, got {layers!r}: write "
                    f"{name}=({width}, [layer, ...])"
                )
            shape: tuple[int, ...] = (int(width),)
            for i, layer in enumerate(layers):
                if not isinstance(layer, Layer):
                    raise TypeError(f"Parallel: part {name!r} item {i} is {layer!r}, not a Layer")
                try:
                    shape = layer.output_shape(shape)
                except ValueError as err:
                    raise ValueError(
                        f"Parallel: part {name!r} item {i} {layer!r} does not fit its input of "
                        f"shape {shape}: {err}"
                    ) from None
            if len(shape) != 1:
                raise ValueError(
                    f"Parallel: part {name!r} ends in samples of shape {shape}; each part must "
                    "end in rows (N, features) to be joined: add a Flatten()"
                )
            self.parts[name] = list(layers)
            widths.append(int(width))
            outs.append(shape[0])
        from .sequential import (
            _check_each_once,
            all_layers,
        )  # (sequential imports this module's peers)

        _check_each_once(all_layers(self._layers_of(parts)), "Parallel")
        self.widths, self.out_widths = tuple(widths), tuple(outs)
        self.in_shape = (sum(widths),)
        self._link()

    def _link(self) -> None:
        """(Re)build params/grads as views of the branch layers' own dicts."""
        params, grads = {}, {}
        for key, layer, name in self._entries():
            params[key] = (layer.params, name)
            grads[key] = (layer.grads, name)
        self.params, self.grads = _Linked(params), _Linked(grads)

    def _entries(self):
        for part, layers in self.parts.items():
            for i, layer in enumerate(layers):
                for name in layer.params:
                    yield f"{part}.{i}.{name}", layer, name

    @staticmethod
    def _layers_of(parts):
        return [layer for _, layers in parts.values() for layer in layers]

    def _layers(self):
        for layers in self.parts.values():
            yield from layers

    def output_shape(self, in_shape):
        if in_shape is not None and tuple(in_shape) != self.in_shape:
            raise ValueError(
                f"{self!r} expects rows of {self.in_shape[0]} features "
                f"({' + '.join(f'{n} {w}' for n, w in zip(self.parts, self.widths, strict=True))})"
            )
        return (sum(self.out_widths),)

    # -- state: everything lives in the branch layers -----------------------------------

    def reset_parameters(self, rng: np.random.Generator) -> None:
        for layer in self._layers():
            layer.reset_parameters(rng)

    @property
    def initialized(self) -> bool:
        return all(layer.initialized for layer in self._layers())

    def set_params(self, **values: np.ndarray) -> Parallel:
        super().set_params(**values)
        for layer in self._layers():
            layer._initialized = True
        return self

    def astype(self, dtype) -> Parallel:
        for layer in self._layers():
            layer.astype(dtype)
        self._link()
        self.cache = None
        return self

    def buffers(self) -> dict[str, np.ndarray]:
        return {
            f"{part}.{i}.{name}": buf
            for part, layers in self.parts.items()
            for i, layer in enumerate(layers)
            for name, buf in layer.buffers().items()
        }

    # -- the passes ----------------------------------------------------------------------

    def forward(self, x, training=True):
        x = self._check_input(x)
        outs, start = [], 0
        for layers, width in zip(self.parts.values(), self.widths, strict=True):
            h = np.ascontiguousarray(x[:, start : start + width])  # a branch's own columns
            for layer in layers:
                h = layer.forward(h, training=training)
            outs.append(h)
            start += width
        self.cache = (len(x), x.dtype)
        return np.concatenate(outs, axis=1)

    def backward(self, dout, param_grads=True, input_grad=True):
        n, dtype = self._need_cache()
        self._check_dout(dout, (n, sum(self.out_widths)))
        dxs, start = [], 0
        for layers, width in zip(self.parts.values(), self.out_widths, strict=True):
            g = np.ascontiguousarray(dout[:, start : start + width])
            for i in range(len(layers) - 1, -1, -1):
                # the first layer of a branch skips dx when nobody needs it (G's noise, D's data)
                g = layers[i].backward(g, param_grads=param_grads, input_grad=input_grad or i > 0)
            dxs.append(g)
            start += width
        return np.concatenate(dxs, axis=1).astype(dtype, copy=False) if input_grad else None

    def __repr__(self):
        inner = ", ".join(
            f"{name}=({w}, [{', '.join(map(repr, layers))}])"
            for (name, layers), w in zip(self.parts.items(), self.widths, strict=True)
        )
        return f"Parallel({inner})"
