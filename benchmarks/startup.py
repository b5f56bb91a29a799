"""Time to first training step: import numgan, build a GAN, run one iteration.

    python benchmarks/startup.py        # run it twice: the first run fills Numba's disk cache

Prints the import time, the first fused step (the 1-D toy) and the first layer-path step of the
paper's MNIST MLP GAN.  With a warm cache the JIT loads compiled code instead of compiling it.
"""

import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402

import numgan as ng  # noqa: E402

t1 = time.perf_counter()
toy = ng.Trainer(ng.models.toy1d(), ng.Gaussian1D(), batch_size=64, seed=0, fused="auto")
toy.step()
t2 = time.perf_counter()
G = ng.models.mlp([100, 1200, 1200, 784])
D = ng.models.mlp([784, 240, 240, 1])
data = np.random.default_rng(0).uniform(size=(500, 784))
mnist = ng.Trainer(ng.GAN(G, D, ng.UniformNoise(100)), data, batch_size=100, seed=0)
mnist.step()
t3 = time.perf_counter()
print(
    f"import {t1 - t0:.2f} s, first fused step {t2 - t1:.2f} s, first MNIST-MLP step "
    f"{t3 - t2:.2f} s, total {t3 - t0:.2f} s"
)
