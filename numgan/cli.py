"""The ``numgan`` command line.

    numgan train [options]      train a GAN and report how close it came to the data
    numgan bench [options]      time training iterations/s (see docs/benchmarks.md)

Errors are one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass

import numpy as np

from .data import Gaussian1D
from .gan import Trainer
from .losses import G_LOSSES
from .models import toy1d
from .optim import SGD


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; the CLI flags map onto these fields."""

    iterations: int = 3000
    batch_size: int = 64
    k: int = 1
    g_loss: str = "non-saturating"
    lr: float = 0.05
    momentum: float = 0.5
    seed: int = 0
    mu: float = 4.0
    sigma: float = 0.5
    hidden: int = 16
    log_every: int = 0  # 0: ten progress lines per run

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size", "k", "hidden"):
            if getattr(self, name) < 1:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} must be at least 1, got {getattr(self, name)}")
        if self.g_loss not in G_LOSSES:
            raise ValueError(f"--g-loss must be one of {', '.join(G_LOSSES)}, got {self.g_loss!r}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"--momentum must be in [0, 1), got {self.momentum}")
        if not self.sigma > 0:
            raise ValueError(f"--sigma must be positive, got {self.sigma}")
        if self.log_every < 0:
            raise ValueError(f"--log-every must be >= 0, got {self.log_every}")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def train(config: TrainConfig, out=sys.stdout) -> dict[str, float]:
    """Train the 1-D toy GAN of the paper's Figure 1 and print progress and the result."""
    data = Gaussian1D(mu=config.mu, sigma=config.sigma)
    gan = toy1d(hidden=config.hidden)
    every = config.log_every or max(1, config.iterations // 10)
    start = time.perf_counter()

    def progress(trainer: Trainer) -> None:
        h = trainer.history
        rate = trainer.iteration / (time.perf_counter() - start)
        print(
            f"iter {trainer.iteration:>7}/{config.iterations}  {rate:7.0f} it/s  "
            f"D loss {h['d_loss'][-1]:.4f}  G loss {h['g_loss'][-1]:.4f}  "
            f"D(x) {h['d_real'][-1]:.3f}  D(G(z)) {h['d_fake'][-1]:.3f}",
            file=out,
            flush=True,
        )

    trainer = Trainer(
        gan,
        data,
        batch_size=config.batch_size,
        k=config.k,
        g_loss=config.g_loss,
        opt_g=SGD(lr=config.lr, momentum=config.momentum),
        opt_d=SGD(lr=config.lr, momentum=config.momentum),
        seed=config.seed,
        callback=progress,
        callback_every=every,
    )
    trainer.train(config.iterations)
    # Evaluate on a fresh stream so the reported numbers do not reuse training draws.
    rng = np.random.default_rng([config.seed, 1])
    x_data = data.sample(10_000, rng)
    x_gen = gan.sample(10_000, rng)
    result = {
        "d_real": float(gan.discriminate(x_data).mean()),
        "d_fake": float(gan.discriminate(x_gen).mean()),
        "gen_mean": float(x_gen.mean()),
        "gen_std": float(x_gen.std()),
    }
    print(
        f"done in {time.perf_counter() - start:.1f}s: mean D(x) on data {result['d_real']:.3f} "
        f"(0.5 at the optimum), mean D(G(z)) {result['d_fake']:.3f}",
        file=out,
    )
    print(
        f"data      mean {config.mu:.3f}  std {config.sigma:.3f}\n"
        f"generated mean {result['gen_mean']:.3f}  std {result['gen_std']:.3f}",
        file=out,
    )
    return result


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not usage plus error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="numgan", description="numgan: GANs in NumPy with hand-written backprop.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = TrainConfig()
    p = sub.add_parser(
        "train",
        help="train the 1-D toy GAN (data N(mu, sigma^2)) and report the fit",
        description="Train G and D by Algorithm 1 on x ~ N(mu, sigma^2) (the paper's Figure 1).",
    )
    p.add_argument("--iterations", type=int, default=defaults.iterations)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="m, per minibatch")
    p.add_argument("--k", type=int, default=defaults.k, help="D steps per G step")
    p.add_argument("--g-loss", choices=G_LOSSES, default=defaults.g_loss)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--momentum", type=float, default=defaults.momentum)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--mu", type=float, default=defaults.mu, help="data mean")
    p.add_argument("--sigma", type=float, default=defaults.sigma, help="data standard deviation")
    p.add_argument("--hidden", type=int, default=defaults.hidden, help="hidden width of G and D")
    p.add_argument(
        "--log-every",
        type=int,
        default=defaults.log_every,
        help="iterations between progress lines (0: ten lines per run)",
    )
    bench = sub.add_parser(
        "bench",
        add_help=False,
        help="time training iterations/s: numgan (Numba, NumPy) against PyTorch on the CPU",
        description="Run the training-speed benchmark (numgan/bench.py); --help lists its flags.",
    )
    bench.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # The benchmark parses its own flags (argparse.REMAINDER would drop leading options).
        from .bench import main as bench_main

        return bench_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            fields = {f.name for f in dataclasses.fields(TrainConfig)}
            config = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
            train(config)
        return 0
    except KeyboardInterrupt:
        print("numgan: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FloatingPointError, RuntimeError, OSError) as err:
        print(f"numgan {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
