"""Ready-made generator/discriminator pairs, by name.

Each builder returns an uninitialised GAN: the Trainer's seed draws the weights, so one seed fixes
the whole run.  ``build(name, data_dim=..., out=...)`` is what ``numgan train --model NAME`` calls.

    toy1d        G, D: 1-16-16-1 LeakyReLU MLPs, z ~ N(0, 1), in the data's standard units (G's
                 output is mu + sigma * MLP(z), D reads (x - mu) / sigma): the 1-D toy of the
                 paper's Figure 1
    toy2d        G: 2-128-128-128-2 ReLU, z ~ N(0, I_2); D: 2-128-128-128-1 ReLU: 2-D mixtures
    mlp-small    G: 64-256-256-D LeakyReLU, D: D-256-256-1 LeakyReLU: small images (digits)
    paper-mnist  the paper's MNIST pair: G 100-1200-1200-D ReLU, sigmoid out, z ~ U(-1, 1)^100;
                 D: dropout 0.2, maxout 240 units x 5 pieces, dropout 0.5, maxout 240 x 5,
                 dropout 0.5, a logit
    dcgan        Radford et al. (2015) for 28x28 or 8x8 images (any sides divisible by 4), C = 64:
                 G: z ~ U(-1, 1)^100 -> Dense(C x S x S) as (C, S, S) + BN + ReLU,
                 ConvTranspose(C -> C/2, stride 2) + BN + ReLU, ConvTranspose(C/2 -> 1,
                 stride 2), tanh; S = side / 4.
                 D: Conv(1 -> C/2, stride 2) + LeakyReLU(0.2), Conv(C/2 -> C, stride 2) + BN +
                 LeakyReLU(0.2), Dense -> logit.  4x4 kernels, padding 1, N(0, 0.02) weights.
                 G ends in a Flatten and D starts with a Reshape, so both speak rows of pixels
                 like every other image model.

Conditional GANs (Mirza & Osindero 2014), G(z, y) and D(x, y), labels one-hot in K columns:

    cgan-small   for digits (numgan train --conditional): G: z ~ U(-1, 1)^64 -> 128 and y -> 128,
                 LeakyReLU(0.2) each, joined -> 256 -> D_x, sigmoid out; D: x -> 128 and
                 y -> 128, joined -> 256 -> logit.  Adam 2e-4 as mlp-small.
    cgan-mnist   the paper's MNIST pair: G: z ~ U(0, 1)^100 -> 200 ReLU and y -> 1000 ReLU,
                 joined -> 1200 ReLU -> dropout 0.5 -> D_x sigmoid; D: x -> maxout 240 x 5
                 and y -> maxout 50 x 5, joined -> dropout 0.5 -> maxout 240 x 4 ->
                 dropout 0.5 -> logit
    cgan-mlp     a wider MLP pair for MNIST, the label joined to each input (plain
                 concatenation): G: [z ~ U(-1, 1)^100, y] -> 256 -> 512 -> 1024 -> D_x sigmoid;
                 D: [x, y] -> 1024 -> 512 -> 256 -> logit, dropout 0.3 after each hidden layer;
                 LeakyReLU(0.2), Glorot weights.  Adam 2e-4, batch 64.
    with_labels(gan, num_classes=K) gives any preset whose G and D start with a Dense layer
    (toy2d, mlp-small, paper-mnist) K more input columns: the plain concatenation [z, y],
    [x, y].

``with_minibatch_discrimination(gan, kernels=B, kernel_dims=C)`` adds a minibatch
discrimination layer before D's last layer, for any of them (--minibatch-discrimination B,C).
"""

from __future__ import annotations

from ..nn import (
    Affine,
    BatchNorm,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    Maxout,
    MinibatchDiscrimination,
    Parallel,
    ReLU,
    Reshape,
    Sequential,
    Sigmoid,
    Tanh,
)
from .trainer import GAN, GaussianNoise, UniformNoise

OUTPUTS = ("linear", "sigmoid", "tanh")


def mlp(
    sizes: list[int], *, alpha: float = 0.2, init: str = "glorot", dtype="float32"
) -> Sequential:
    """Dense layers of the given widths with LeakyReLU(alpha) between them and a linear output."""
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least an input and an output width, got {sizes!r}")
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Dense(n_in, n_out, init=init))
        if i < len(sizes) - 2:
            layers.append(ReLU() if alpha == 0 else LeakyReLU(alpha))
    return Sequential(layers, dtype=dtype)


def _with_output(net: Sequential, out: str) -> Sequential:
    if out not in OUTPUTS:
        raise ValueError(f"unknown output {out!r}: choose one of {', '.join(OUTPUTS)}")
    if out == "linear":
        return net
    return Sequential([*net.layers, Sigmoid() if out == "sigmoid" else Tanh()], dtype=net.dtype)


def toy1d(
    *,
    loc: float = 4.0,
    scale: float = 0.5,
    hidden: int = 16,
    noise_dim: int = 1,
    dtype="float32",
) -> GAN:
    """The 1-D toy of the paper's Figure 1: G and D are 1-16-16-1 LeakyReLU MLPs, z ~ N(0, 1).

    loc, scale: the data's mean and standard deviation (the defaults: Gaussian1D's).  Both
    networks work in the data's standard units: G outputs loc + scale * MLP(z) and D reads
    (x - loc) / scale, through fixed Affine layers.  The MLPs' initialisation (zero biases, so
    every LeakyReLU kink at 0) assumes inputs centred at 0 with unit spread; in the data's own
    units (N(4, 0.5^2)) D's kinks would all lie outside the data, D would be linear where the
    data is, and a linear D can only compare means.  With a Gaussian z, p_g = p_data is an
    affine G, which the MLP represents exactly.
    """
    G = mlp([noise_dim, hidden, hidden, 1], dtype=dtype)
    D = mlp([1, hidden, hidden, 1], dtype=dtype)
    G = Sequential([*G.layers, Affine(scale, loc)], dtype=dtype)
    D = Sequential([Affine(1.0 / scale, -loc / scale), *D.layers], dtype=dtype)
    return GAN(G, D, GaussianNoise(noise_dim))


def toy2d(*, data_dim: int = 2, hidden: int = 128, noise_dim: int = 2, dtype="float32") -> GAN:
    """For ring8/grid25: three ReLU layers of 128 in G and D, He init, z ~ N(0, I)."""
    G = mlp([noise_dim, hidden, hidden, hidden, data_dim], alpha=0.0, init="he", dtype=dtype)
    D = mlp([data_dim, hidden, hidden, hidden, 1], alpha=0.0, init="he", dtype=dtype)
    return GAN(G, D, GaussianNoise(noise_dim))


def mlp_small(
    *, data_dim: int, out: str = "sigmoid", hidden: int = 256, noise_dim: int = 64, dtype="float32"
) -> GAN:
    """Small images: G 64-256-256-D and D D-256-256-1, LeakyReLU(0.2), z ~ U(-1, 1)^64."""
    G = _with_output(mlp([noise_dim, hidden, hidden, data_dim], dtype=dtype), out)
    D = mlp([data_dim, hidden, hidden, 1], dtype=dtype)
    return GAN(G, D, UniformNoise(noise_dim))


def paper_mnist(*, data_dim: int = 784, out: str = "sigmoid", dtype="float32") -> GAN:
    """The paper's MNIST generator and its maxout + dropout discriminator."""
    G = Sequential(
        [Dense(100, 1200), ReLU(), Dense(1200, 1200), ReLU(), Dense(1200, data_dim)],
        dtype=dtype,
    )
    D = Sequential(
        [
            Dropout(0.2),
            Maxout(data_dim, 240, 5, scale=0.005),
            Dropout(0.5),
            Maxout(240, 240, 5, scale=0.005),
            Dropout(0.5),
            Dense(240, 1, scale=0.005),
        ],
        dtype=dtype,
    )
    return GAN(_with_output(G, out), D, UniformNoise(100))


def dcgan(
    *,
    image_shape: tuple[int, int] = (28, 28),
    out: str = "tanh",
    channels: int = 64,
    noise_dim: int = 100,
    dtype="float32",
) -> GAN:
    """DCGAN (Radford et al. 2015) for one-channel images whose sides divide by 4.

    Per 28x28 sample with C = 64, in multiply-adds: G 0.31M (Dense) + 1.61M + 0.10M (the
    transposed convolutions); D 0.10M + 1.61M (the convolutions) + 3k (Dense).
    """
    height, width = image_shape
    if height % 4 or width % 4 or channels % 2:
        raise ValueError(
            f"model dcgan needs images whose sides divide by 4 (two stride-2 layers) and an "
            f"even channel count, got {height}x{width} images and {channels} channels"
        )
    c, h, w = channels, height // 4, width // 4
    norm = {"init": "normal", "scale": 0.02}  # DCGAN's N(0, 0.02) weights
    conv = {"kernel_size": 4, "stride": 2, "padding": 1, **norm}
    G = Sequential(
        [
            Dense(noise_dim, c * h * w, **norm),
            Reshape((c, h, w)),
            BatchNorm(c),
            ReLU(),
            ConvTranspose2D(c, c // 2, **conv),
            BatchNorm(c // 2),
            ReLU(),
            ConvTranspose2D(c // 2, 1, **conv),
            Sigmoid() if out == "sigmoid" else Tanh(),
            Flatten(),
        ],
        dtype=dtype,
    )
    D = Sequential(
        [
            Reshape((1, height, width)),
            Conv2D(1, c // 2, **conv),
            LeakyReLU(0.2),
            Conv2D(c // 2, c, **conv),
            BatchNorm(c),
            LeakyReLU(0.2),
            Flatten(),
            Dense(c * h * w, 1, **norm),
        ],
        dtype=dtype,
    )
    return GAN(G, D, UniformNoise(noise_dim))


def cgan_small(
    *,
    data_dim: int,
    num_classes: int,
    out: str = "sigmoid",
    hidden: int = 256,
    noise_dim: int = 64,
    dtype="float32",
) -> GAN:
    """A small conditional pair for digits: each input through its own LeakyReLU layer of
    hidden / 2 units, joined, one more LeakyReLU layer of hidden units, then the output."""
    half, K = hidden // 2, num_classes

    def first(name: str, width: int) -> Parallel:
        return Parallel(
            **{name: (width, [Dense(width, half, init="glorot"), LeakyReLU(0.2)])},
            y=(K, [Dense(K, half, init="glorot"), LeakyReLU(0.2)]),
        )

    G = Sequential(
        [
            first("z", noise_dim),
            Dense(2 * half, hidden, init="glorot"),
            LeakyReLU(0.2),
            Dense(hidden, data_dim, init="glorot"),
        ],
        dtype=dtype,
    )
    D = Sequential(
        [
            first("x", data_dim),
            Dense(2 * half, hidden, init="glorot"),
            LeakyReLU(0.2),
            Dense(hidden, 1, init="glorot"),
        ],
        dtype=dtype,
    )
    return GAN(_with_output(G, out), D, UniformNoise(noise_dim), num_classes=K)


def cgan_mnist(
    *, data_dim: int = 784, num_classes: int = 10, out: str = "sigmoid", dtype="float32"
) -> GAN:
    """Mirza & Osindero's MNIST pair (Section 4.1), with the paper's maxout scale 0.005."""
    K, maxout = num_classes, {"scale": 0.005}
    G = Sequential(
        [
            Parallel(
                z=(100, [Dense(100, 200), ReLU()]),
                y=(K, [Dense(K, 1000), ReLU()]),
            ),
            Dense(1200, 1200),
            ReLU(),
            Dropout(0.5),
            Dense(1200, data_dim),
        ],
        dtype=dtype,
    )
    D = Sequential(
        [
            Parallel(
                x=(data_dim, [Maxout(data_dim, 240, 5, **maxout)]),
                y=(K, [Maxout(K, 50, 5, **maxout)]),
            ),
            Dropout(0.5),
            Maxout(290, 240, 4, **maxout),
            Dropout(0.5),
            Dense(240, 1, **maxout),
        ],
        dtype=dtype,
    )
    return GAN(_with_output(G, out), D, UniformNoise(100, low=0.0, high=1.0), num_classes=K)


def cgan_mlp(
    *, data_dim: int, num_classes: int, out: str = "sigmoid", noise_dim: int = 100, dtype="float32"
) -> GAN:
    """A conditional MLP pair whose first layers read the one-hot label with the input."""
    K = num_classes

    def stack(widths: list[int], dropout: float) -> list:
        layers = []
        for n_in, n_out in zip(widths[:-2], widths[1:-1], strict=True):
            layers += [Dense(n_in, n_out, init="glorot"), LeakyReLU(0.2)]
            if dropout:
                layers.append(Dropout(dropout))
        return [*layers, Dense(widths[-2], widths[-1], init="glorot")]

    G = Sequential(stack([noise_dim + K, 256, 512, 1024, data_dim], 0.0), dtype=dtype)
    D = Sequential(stack([data_dim + K, 1024, 512, 256, 1], 0.3), dtype=dtype)
    return GAN(_with_output(G, out), D, UniformNoise(noise_dim), num_classes=K)


def with_labels(gan: GAN, *, num_classes: int) -> GAN:
    """The same networks, conditional by plain concatenation: G's and D's first Dense layers
    read K more columns, the one-hot label joined to z and to x (numgan train --conditional
    with a preset that is not conditional already).  Each first layer must be a Dense."""
    nets = []
    for name, net in (("G", gan.G), ("D", gan.D)):
        first, *rest = net.layers
        if type(first) is not Dense:
            raise ValueError(
                f"a conditional form of this model needs {name} to start with a Dense layer "
                f"to read the label columns, and it starts with {first!r}: use model "
                "cgan-small, cgan-mnist, or your own Parallel first layer"
            )
        wider = Dense(
            first.in_shape[0] + num_classes, first.width, init=first.init, scale=first.scale
        )
        nets.append(Sequential([wider, *rest], dtype=net.dtype))
    return GAN(nets[0], nets[1], gan.noise, num_classes=num_classes)


def with_minibatch_discrimination(gan: GAN, *, kernels: int, kernel_dims: int) -> GAN:
    """The same G and prior, D with a MinibatchDiscrimination(A, kernels, kernel_dims) layer
    before its last layer, which then reads A + kernels features (Salimans et al. 2016).

    D's last layer must be a Dense(A, 1) (true of every preset); the new Dense keeps its
    initialisation settings.
    """
    *body, last = gan.D.layers
    if not isinstance(last, Dense) or last.width != 1:
        raise ValueError(
            f"minibatch discrimination goes before D's last layer, which must be a Dense with "
            f"one output; this D ends in {last!r}"
        )
    a = last.in_shape[0]
    D = Sequential(
        [
            *body,
            MinibatchDiscrimination(a, kernels, kernel_dims),
            Dense(a + kernels, 1, init=last.init, scale=last.scale),
        ],
        dtype=gan.D.dtype,
    )
    return GAN(gan.G, D, gan.noise, num_classes=gan.num_classes)


PRESETS = {
    "toy1d": toy1d,
    "toy2d": toy2d,
    "mlp-small": mlp_small,
    "paper-mnist": paper_mnist,
    "dcgan": dcgan,
    "cgan-small": cgan_small,
    "cgan-mnist": cgan_mnist,
    "cgan-mlp": cgan_mlp,
}
# The presets built for labels: G(z, y) and D(x, y).
CONDITIONAL = ("cgan-small", "cgan-mnist", "cgan-mlp")


def build(
    name: str,
    *,
    data_dim: int,
    out: str = "sigmoid",
    image_shape: tuple[int, ...] | None = None,
    data_loc: float = 0.0,
    data_scale: float = 1.0,
    num_classes: int | None = None,
    dtype="float32",
) -> GAN:
    """The preset ``name`` sized for data of ``data_dim`` features (images: ``image_shape``).

    data_loc, data_scale: the data's mean and standard deviation, for toy1d (its units).
    num_classes: K for a conditional GAN: a conditional preset (CONDITIONAL), or any other
    whose nets start with a Dense layer, with the label columns joined (``with_labels``).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(PRESETS)}")
    if name in CONDITIONAL:
        if num_classes is None:
            raise ValueError(
                f"model {name} is a conditional GAN: it needs labelled data (digits, mnist, "
                "or a .npz file with y) and --conditional"
            )
        return PRESETS[name](data_dim=data_dim, num_classes=num_classes, out=out, dtype=dtype)
    if num_classes is not None:
        gan = build(
            name,
            data_dim=data_dim,
            out=out,
            image_shape=image_shape,
            data_loc=data_loc,
            data_scale=data_scale,
            dtype=dtype,
        )
        return with_labels(gan, num_classes=num_classes)
    if name == "dcgan":
        if image_shape is None or len(image_shape) != 2:
            raise ValueError(
                "model dcgan is for one-channel images (digits, mnist, or a file of shape "
                "(N, H, W) or (N, 1, H, W)); this data is not: use toy2d or mlp-small"
            )
        if out not in ("sigmoid", "tanh"):
            raise ValueError(f"model dcgan ends in sigmoid or tanh, not {out!r}")
        return dcgan(image_shape=tuple(image_shape), out=out, dtype=dtype)
    if name == "toy1d":
        if data_dim != 1:
            raise ValueError(f"model toy1d is for 1-D data, this data has {data_dim} features")
        return toy1d(loc=data_loc, scale=data_scale, dtype=dtype)
    if name == "toy2d":  # for points; on pixels, G still ends in their range
        gan = toy2d(data_dim=data_dim, dtype=dtype)
        if out != "linear":
            gan = GAN(_with_output(gan.G, out), gan.D, gan.noise)
        return gan
    return PRESETS[name](data_dim=data_dim, out=out, dtype=dtype)
