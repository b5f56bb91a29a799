"""PyTorch's twin of a numgan GAN: the same layers, weights, optimiser and Algorithm 1.

Used by benchmarks/train_speed.py (the timed PyTorch variant) and benchmarks/agreement.py (the
check that both compute the same thing).  PyTorch is optional: ``load_torch()`` says why it is
missing instead of raising.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import numgan as ng
from numgan.app.bench import ModelSpec


def _import_torch() -> Any:
    import torch

    return torch


def load_torch() -> tuple[Any | None, str]:
    """(torch, "") if PyTorch imports, else (None, why not)."""
    try:
        return _import_torch(), ""
    except Exception as err:  # ImportError, or a broken install (OSError from its libraries)
        return None, f"torch is not importable ({type(err).__name__}: {err})"


def _copy(param: Any, value: np.ndarray, torch: Any) -> None:
    param.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def torch_sequential(net: ng.Sequential, torch: Any) -> Any:
    """The PyTorch twin of a numgan Sequential, holding a copy of its current weights (same
    dtype: float32, or float64 for a float64 net).

    Dense W (D_in, D_out) becomes Linear.weight (D_out, D_in) = W.T; Conv2D and
    ConvTranspose2D keep PyTorch's weight layouts, so their W copies into Conv2d and
    ConvTranspose2d unchanged; BatchNorm becomes BatchNorm1d on rows and BatchNorm2d on images,
    with numgan's eps and momentum (both use running = (1 - momentum) * running + momentum *
    batch statistic, with the unbiased variance for the running estimate); Reshape becomes
    Unflatten and Flatten Flatten.
    """
    nn = torch.nn
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    mods = []
    shape = net.in_shape
    with torch.no_grad():
        for layer in net.layers:
            in_shape, shape = shape, layer.output_shape(shape)
            if isinstance(layer, ng.Dense):
                lin = nn.Linear(layer.in_features, layer.out_features, dtype=dtype)
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.params["W"].T)))
                lin.bias.copy_(torch.from_numpy(layer.params["b"].copy()))
                mods.append(lin)
            elif isinstance(layer, ng.ReLU):  # before LeakyReLU: it may be its subclass
                mods.append(nn.ReLU())
            elif isinstance(layer, ng.LeakyReLU):
                mods.append(nn.LeakyReLU(layer.alpha))
            elif isinstance(layer, ng.BatchNorm):
                images = in_shape is not None and len(in_shape) == 3
                bn = (nn.BatchNorm2d if images else nn.BatchNorm1d)(
                    layer.in_features, eps=layer.eps, momentum=layer.momentum, dtype=dtype
                )
                bn.weight.copy_(torch.from_numpy(layer.params["gamma"].copy()))
                bn.bias.copy_(torch.from_numpy(layer.params["beta"].copy()))
                bn.running_mean.copy_(torch.from_numpy(layer.running_mean.copy()))
                bn.running_var.copy_(torch.from_numpy(layer.running_var.copy()))
                mods.append(bn)
            elif isinstance(layer, ng.Sigmoid):
                mods.append(nn.Sigmoid())
            elif isinstance(layer, ng.Tanh):
                mods.append(nn.Tanh())
            elif isinstance(layer, (ng.Conv2D, ng.ConvTranspose2D)):
                transposed = isinstance(layer, ng.ConvTranspose2D)
                kind = nn.ConvTranspose2d if transposed else nn.Conv2d
                extra = {"output_padding": layer.output_padding} if transposed else {}
                conv = kind(
                    layer.in_channels,
                    layer.out_channels,
                    layer.kernel_size,
                    stride=layer.stride,
                    padding=layer.padding,
                    dtype=dtype,
                    **extra,
                )
                _copy(conv.weight, layer.params["W"], torch)
                _copy(conv.bias, layer.params["b"], torch)
                mods.append(conv)
            elif isinstance(layer, ng.Reshape):
                mods.append(nn.Unflatten(1, layer.shape))
            elif isinstance(layer, ng.Flatten):
                mods.append(nn.Flatten())
            else:
                raise ValueError(f"no PyTorch counterpart for {layer!r}")
    return nn.Sequential(*mods).train()


def torch_state(tnet: Any, net: ng.Sequential) -> dict[str, np.ndarray]:
    """A PyTorch twin's parameters and buffers under numgan's names ("0.W", "1.gamma", ...)."""
    state: dict[str, np.ndarray] = {}
    for i, (layer, mod) in enumerate(zip(net.layers, tnet, strict=True)):
        if isinstance(layer, ng.Dense):
            state[f"{i}.W"] = mod.weight.detach().numpy().T.copy()
            state[f"{i}.b"] = mod.bias.detach().numpy().copy()
        elif isinstance(layer, (ng.Conv2D, ng.ConvTranspose2D)):
            state[f"{i}.W"] = mod.weight.detach().contiguous().numpy().copy()
            state[f"{i}.b"] = mod.bias.detach().numpy().copy()
        elif isinstance(layer, ng.BatchNorm):
            state[f"{i}.gamma"] = mod.weight.detach().numpy().copy()
            state[f"{i}.beta"] = mod.bias.detach().numpy().copy()
            state[f"{i}.running_mean"] = mod.running_mean.numpy().copy()
            state[f"{i}.running_var"] = mod.running_var.numpy().copy()
    return state


#: torch.optim.Adam's implementation: "loop" (one tensor at a time: what Adam(...) gives on the
#: CPU, where foreach is not the default), "foreach" (multi-tensor) or "fused" (one kernel per
#: step, Adam(..., fused=True)).  benchmarks/twin_choices.py times the three on this machine;
#: docs/benchmarks.md gives the result and why "fused" is the default.
ADAM_IMPL = "fused"
#: torch.optim.SGD's implementation: "loop" (the CPU default) or "foreach".
SGD_IMPL = "foreach"
#: the 4-D weights in channels-last memory (model.to(memory_format=torch.channels_last)).
#: Measured on the DCGAN row: no faster than PyTorch's default NCHW (0.98x), so left off.
CHANNELS_LAST = False


class TorchGAN:
    """Algorithm 1 in PyTorch on a copy of a numgan GAN: same layers, weights and optimiser,
    written the way an experienced PyTorch user writes a fast eager loop.

    D step: zero D's grads (``set_to_none``); L_D = BCE-with-logits(D(x), 1) +
    BCE-with-logits(D(G(z)), 0), each the mean over m (numgan's mean softplus(-a_real) +
    mean softplus(a_fake)), G(z) made under ``no_grad``; step D.  Where D treats rows
    independently (``Sequential.rowwise``: no BatchNorm), D runs once on the 2m rows
    [x; G(z)] and L_D = (sum over the 2m rows of BCE) / m, the same loss and gradient in exact
    arithmetic.  G step: L_G = BCE-with-logits(D(G(z)), 1) (the non-saturating loss),
    ``backward(inputs=G's parameters)`` so that autograd computes no gradient for D's
    parameters; step G only.
    """

    def __init__(
        self,
        spec: ModelSpec,
        gan: ng.GAN,
        data: np.ndarray,
        batch_size: int,
        seed: int,
        torch: Any,
        *,
        adam: str = ADAM_IMPL,
        sgd: str = SGD_IMPL,
        channels_last: bool = CHANNELS_LAST,
        concat: bool | None = None,
    ) -> None:
        self.torch, self.spec, self.m = torch, spec, int(batch_size)
        self.numgan_gan = gan
        self.adam, self.sgd = adam, sgd
        self.concat = gan.D.rowwise if concat is None else bool(concat)
        self.G, self.D = torch_sequential(gan.G, torch), torch_sequential(gan.D, torch)
        if channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.opt_g, self.opt_d = self._optimizer(self.G), self._optimizer(self.D)
        self.g_params = list(self.G.parameters())
        self.data = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
        self.gen = torch.Generator().manual_seed(int(seed))
        dtype = torch.float64 if gan.dtype == np.float64 else torch.float32
        self.ones = torch.ones(self.m, 1, dtype=dtype)
        self.zeros = torch.zeros(self.m, 1, dtype=dtype)
        self.targets = torch.cat([self.ones, self.zeros])
        self.bce = torch.nn.functional.binary_cross_entropy_with_logits

    def _optimizer(self, net: Any) -> Any:
        spec, optim = self.spec, self.torch.optim
        if spec.optimizer == "adam":
            impl = {"loop": {"foreach": False}, "foreach": {"foreach": True}}
            impl["fused"] = {"fused": True}
            return optim.Adam(
                net.parameters(), lr=spec.lr, betas=(0.5, 0.999), eps=1e-8, **impl[self.adam]
            )
        # torch: b = mu b + g, p -= lr b; numgan: v = mu v - lr g, p += v.  With a constant lr,
        # v = -lr b at every step: the same trajectory.
        return optim.SGD(
            net.parameters(), lr=spec.lr, momentum=spec.momentum, foreach=self.sgd == "foreach"
        )

    def d_step(self, x: Any, z: Any) -> Any:
        self.opt_d.zero_grad(set_to_none=True)
        with self.torch.no_grad():
            fake = self.G(z)
        if self.concat:
            logits = self.D(self.torch.cat([x, fake]))
            loss = self.bce(logits, self.targets, reduction="sum") / self.m
        else:
            loss = self.bce(self.D(x), self.ones) + self.bce(self.D(fake), self.zeros)
        loss.backward()
        self.opt_d.step()
        return loss

    def g_step(self, z: Any) -> Any:
        self.opt_g.zero_grad(set_to_none=True)
        loss = self.bce(self.D(self.G(z)), self.ones)
        loss.backward(inputs=self.g_params)
        self.opt_g.step()
        return loss

    def noise(self, m: int) -> Any:
        """m noise rows from the row's prior, drawn with PyTorch's generator."""
        z = self.torch.empty(m, self.spec.noise_dim)
        if self.spec.noise == "gaussian":
            return z.normal_(0.0, 1.0, generator=self.gen)
        return z.uniform_(-1.0, 1.0, generator=self.gen)

    def step(self) -> None:
        """One iteration, minibatches drawn with PyTorch's own generator."""
        torch, m, gen = self.torch, self.m, self.gen
        x = self.data[torch.randint(0, len(self.data), (m,), generator=gen)]
        self.d_step(x, self.noise(m))
        self.g_step(self.noise(m))

    def run(self, n: int) -> None:
        step = self.step
        for _ in range(n):
            step()

    def state(self) -> dict[str, np.ndarray]:
        gan = self.numgan_gan
        state = {f"G.{k}": v for k, v in torch_state(self.G, gan.G).items()}
        state.update({f"D.{k}": v for k, v in torch_state(self.D, gan.D).items()})
        return state
