"""Memory over a long run: resident set size after 1,000 and after N training iterations.

    python benchmarks/memory.py --iterations 10000

Runs the 1-D toy GAN (fused step on the numba backend) and the DCGAN-style MLP of the speed
benchmark (layer path), and prints RSS at each checkpoint.  Flat memory means the run keeps no
growing state beyond the per-iteration history floats.
"""

from __future__ import annotations

import argparse
import resource

import numpy as np

import numgan as ng


def rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def toy() -> ng.Trainer:
    gan = ng.GAN(ng.models.mlp([1, 16, 16, 1]), ng.models.mlp([1, 16, 16, 1]), ng.UniformNoise(1))
    return ng.Trainer(
        gan,
        ng.Gaussian1D(),
        batch_size=64,
        seed=0,
        opt_g=ng.SGD(lr=0.01, momentum=0.5),
        opt_d=ng.SGD(lr=0.01, momentum=0.5),
        fused="auto",  # the fused step on the numba backend; the default is the layers
    )


def dcgan_mlp() -> ng.Trainer:
    G = ng.Sequential(
        [
            ng.Dense(100, 256),
            ng.BatchNorm(256),
            ng.LeakyReLU(0.2),
            ng.Dense(256, 512),
            ng.BatchNorm(512),
            ng.LeakyReLU(0.2),
            ng.Dense(512, 1024),
            ng.BatchNorm(1024),
            ng.LeakyReLU(0.2),
            ng.Dense(1024, 784),
            ng.Tanh(),
        ]
    )
    D = ng.Sequential(
        [
            ng.Dense(784, 512),
            ng.LeakyReLU(0.2),
            ng.Dense(512, 256),
            ng.LeakyReLU(0.2),
            ng.Dense(256, 1),
        ]
    )
    data = np.random.default_rng(0).uniform(-1, 1, size=(2000, 784))
    return ng.Trainer(
        ng.GAN(G, D, ng.UniformNoise(100)),
        data,
        batch_size=64,
        seed=0,
        opt_g=ng.Adam(),
        opt_d=ng.Adam(),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--dcgan-iterations", type=int, default=2_000)
    args = parser.parse_args(argv)
    for name, make, total in (
        ("1-D toy (fused)", toy, args.iterations),
        ("DCGAN-style MLP (layers)", dcgan_mlp, args.dcgan_iterations),
    ):
        trainer = make()
        trainer.train(1000)
        first = rss_mib()
        trainer.train(total - 1000)
        last = rss_mib()
        print(
            f"{name}: peak RSS {first:.1f} MiB after 1,000 iterations, {last:.1f} MiB after "
            f"{total:,} ({last - first:+.1f} MiB)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
