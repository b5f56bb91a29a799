"""The fused step computes what the layers compute, and is used only where it applies."""

import gc
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import numgan as ng
from numgan.gan import fused as fused_module
from numgan.gan.fused import fusable


def toy_trainer(
    fused, dtype="float32", g_loss="non-saturating", k=2, optim=ng.SGD, seed=0, units=False
):
    """units=True: G ends with Affine(0.5, 4) and D starts with Affine(2, -8), a change of units
    as the toy1d preset has, which the fused step applies as it copies inputs in."""
    G = ng.models.mlp([2, 16, 16, 2], dtype=dtype)
    G.layers.append(ng.Tanh())  # exercise an activation after the last Dense too
    if units:
        G.layers.append(ng.Affine(0.5, 4.0))
    G = ng.Sequential(G.layers, dtype=dtype)
    D = ng.Sequential(
        [
            *([ng.Affine(2.0, -8.0)] if units else []),
            ng.Dense(2, 16, init="glorot"),
            ng.ReLU(),
            ng.Dense(16, 8, init="glorot"),
            ng.Sigmoid(),
            ng.Dense(8, 1, init="glorot"),
        ],
        dtype=dtype,
    )
    gan = ng.GAN(G, D, ng.GaussianNoise(2))
    data = np.random.default_rng(1).normal(size=(500, 2)) * 0.5 + (4.0 if units else 0.0)
    kwargs = {"lr": ng.ExponentialDecay(0.05, factor=1.01), "momentum": ng.LinearRamp(0.5, 0.7, 10)}
    opts = (ng.SGD(**kwargs), ng.SGD(**kwargs)) if optim is ng.SGD else (optim(), optim())
    return ng.Trainer(
        gan,
        data,
        batch_size=32,
        k=k,
        g_loss=g_loss,
        seed=seed,
        fused=fused,
        opt_g=opts[0],
        opt_d=opts[1],
    )


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-4)])
@pytest.mark.parametrize("g_loss", ["minimax", "non-saturating"])
def test_fused_matches_the_layers(backend, dtype, tol, g_loss):
    if backend == "numpy":  # the fused step is Numba-only: the trainer must not pick it
        trainer = toy_trainer(None, dtype, g_loss)
        assert not fusable(trainer.gan, trainer.opt_g, trainer.opt_d, 32)
        with pytest.raises(ValueError, match="numba backend"):
            toy_trainer(True, dtype, g_loss)
        return
    fused, layers = toy_trainer(True, dtype, g_loss), toy_trainer(False, dtype, g_loss)
    h_fused, h_layers = fused.train(20), layers.train(20)
    assert fused._fused_plan() is not None and layers._fused_plan() is None
    for key in h_fused:
        np.testing.assert_allclose(h_fused[key], h_layers[key], rtol=tol, atol=tol)
    for net_f, net_l in ((fused.gan.G, layers.gan.G), (fused.gan.D, layers.gan.D)):
        np.testing.assert_allclose(net_f.flat_params, net_l.flat_params, rtol=tol, atol=tol)
    np.testing.assert_allclose(
        fused.opt_d.state["velocity"], layers.opt_d.state["velocity"], rtol=tol, atol=tol
    )
    assert fused.opt_d.t == layers.opt_d.t == 40 and fused.opt_g.t == layers.opt_g.t == 20
    # Both paths drew the same minibatches: the run's Generator is in the same state.
    assert fused.rng.bit_generator.state == layers.rng.bit_generator.state


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-4)])
def test_fused_applies_a_change_of_units_as_the_layers_do(dtype, tol):
    """Affine at D's input and G's output: the fused step scales the inputs it copies in and
    the gradient it passes from D to G, and ends where the layer path does."""
    if ng.get_backend() != "numba":  # Numba-only: "auto" must pick the layers
        assert not toy_trainer("auto", dtype, units=True).uses_fused
        return
    fused = toy_trainer(True, dtype, units=True)
    layers = toy_trainer(False, dtype, units=True)
    h_fused, h_layers = fused.train(20), layers.train(20)
    assert fused.uses_fused
    for key in h_fused:
        np.testing.assert_allclose(h_fused[key], h_layers[key], rtol=tol, atol=tol)
    for net_f, net_l in ((fused.gan.G, layers.gan.G), (fused.gan.D, layers.gan.D)):
        np.testing.assert_allclose(net_f.flat_params, net_l.flat_params, rtol=tol, atol=tol)
    # The control: without the change of units the same seed ends elsewhere.
    plain = toy_trainer(True, dtype)
    plain.train(20)
    assert not np.allclose(plain.gan.G.flat_params, fused.gan.G.flat_params)


def test_an_affine_inside_a_network_is_not_fused():
    trainer = toy_trainer(None, units=True)
    D = trainer.gan.D
    inner = ng.Sequential([D.layers[1], D.layers[2], ng.Affine(2.0), *D.layers[3:]])
    assert not fusable(ng.GAN(trainer.gan.G, inner, trainer.gan.noise), ng.SGD(), ng.SGD(), 32)


def test_fused_step_keeps_d_and_g_steps_apart():
    ng.set_backend("numba")  # the backend fixture restores its own choice afterwards
    trainer = toy_trainer(True, "float64", k=1)
    trainer.train(1)
    # Both paths' updates zero the gradients they consumed, so after the iteration D's read
    # zero on both: the G step's pass back through D (dx only) added nothing to them.
    plan = trainer._fused_plan()
    D_grads = trainer.gan.D.flat_grads.copy()
    layers = toy_trainer(False, "float64", k=1)
    layers.train(1)
    assert layers._fused_plan() is None
    np.testing.assert_array_equal(D_grads, layers.gan.D.flat_grads)
    np.testing.assert_array_equal(D_grads, np.zeros_like(D_grads))
    assert plan is trainer._fused_plan()  # built once, reused


def test_fused_step_starts_from_zero_gradients_after_a_backward_by_hand():
    """A hand-written D.backward between two fused iterations fills D's gradients; the
    Trainer zeroes them before the jitted step (which starts from zero and leaves zero), so the
    run is the one with D.zero_grad() called by hand, and not the one that kept them."""
    ng.set_backend("numba")

    def run(zero_by_hand, skip_check=False):
        trainer = toy_trainer(True, "float64", k=1)
        trainer.train(1)
        D = trainer.gan.D
        D.backward(np.ones_like(D.forward(np.full((3, 2), 0.1), training=True)))
        if zero_by_hand:
            D.zero_grad()
        if skip_check:  # the control: a Trainer that trusted its last update blindly
            trainer._zero_grad = lambda name, net: None
        trainer.train(1)
        assert trainer.uses_fused and not D.flat_grads.any()
        return D.flat_params.copy()

    np.testing.assert_array_equal(run(False), run(True))
    assert not np.array_equal(run(False, skip_check=True), run(True))


def test_fused_is_not_used_where_it_does_not_apply():
    gan = ng.GAN(
        ng.Sequential([ng.Dense(2, 4), ng.BatchNorm(4), ng.Dense(4, 2)]),
        ng.models.mlp([2, 4, 1]),
        ng.UniformNoise(2),
    )
    assert not fusable(gan, ng.SGD(), ng.SGD(), 8)  # BatchNorm
    assert not fusable(toy_trainer(None).gan, ng.Adam(), ng.Adam(), 8)  # Adam
    big = ng.GAN(
        ng.models.mlp([100, 1200, 784]), ng.models.mlp([784, 240, 1]), ng.UniformNoise(100)
    )
    assert not fusable(big, ng.SGD(), ng.SGD(), 100)  # products for BLAS


def peak_bytes(trainer, iterations):
    # Warm-up: besides compiling, the first few hundred calls of the jitted draw fill a
    # bounded cache of Numba's (about 60 KiB, then flat).  The history is emptied after it, so
    # that what is measured grows from the same small lists as a fresh run's.
    trainer.train(1000)
    for values in trainer.history.values():
        values.clear()
    tracemalloc.start()
    trainer.train(iterations)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_steady_state_fused_iteration_allocates_no_large_arrays():
    ng.set_backend("numba")
    fused = peak_bytes(toy_trainer(True, k=1), 200)
    layers = peak_bytes(toy_trainer(False, k=1), 200)
    # Per fused iteration only the noise and data draws (32 x 2 floats each) and the history
    # floats are new; a layer-path iteration allocates every activation and gradient.
    assert fused < 64 * 1024, fused
    assert layers > fused


def test_the_layer_path_runs_unless_the_caller_opts_in(backend):
    """The code a reader steps through by default is the code that runs."""
    assert not toy_trainer(None).uses_fused and not toy_trainer(False).uses_fused
    assert toy_trainer("auto").uses_fused == (backend == "numba")
    with pytest.raises(ValueError, match='fused must be None, False, True or "auto"'):
        toy_trainer("yes")


NRT_COUNT = """
import numpy as np
from numba.core.runtime import rtsys
import numgan as ng
ng.set_backend("numba")
for w in (16, 4):
    G, D = ng.models.mlp([1, w, w, 1]), ng.models.mlp([1, w, w, 1])
    data = np.random.default_rng(0).normal(size=(100, 1))
    tr = ng.Trainer(ng.GAN(G, D, ng.UniformNoise(1)), data, batch_size=64, fused=True, seed=0)
    tr.train(5)
    before = rtsys.get_allocation_stats().alloc
    tr.train(100)
    print((rtsys.get_allocation_stats().alloc - before) / 100)
"""


def test_wide_layers_allocate_nothing_more_in_the_fused_step(backend):
    """Numba's own allocation counter (tracemalloc cannot see it): an iteration with 16-wide
    layers, whose input gradients go through W's transpose, allocates no more than one with
    4-wide layers, which do not; what both allocate is the call's argument handling."""
    if backend != "numba":
        return
    env = {**os.environ, "NUMBA_NRT_STATS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", NRT_COUNT], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    wide, narrow = map(float, out)
    assert wide == narrow, (wide, narrow)


class RowsSource:
    """A data source that is not an ArrayData: the fused step draws its rows in Python."""

    def __init__(self, x):
        self.x, self.dim = x, x.shape[1]

    def sample(self, m, rng):
        return self.x[rng.integers(0, len(self.x), size=m)]


@pytest.mark.parametrize("prior", ["uniform", "gaussian", "other"])
def test_the_fused_step_draws_what_the_layer_path_draws(prior, backend):
    """Array data and the two priors are drawn inside the jitted call, anything else in
    Python: either way the same minibatches as the layer path, and the same Generator state."""
    if backend != "numba":
        return
    x = np.random.default_rng(2).normal(size=(300, 1)).astype(np.float32)
    runs = []
    for fused, source in ((True, x), (True, RowsSource(x)), (False, x)):
        G, D = ng.models.mlp([1, 16, 16, 1]), ng.models.mlp([1, 16, 16, 1])
        noise = {
            "uniform": ng.UniformNoise(1, low=-2.0, high=3.0),
            "gaussian": ng.GaussianNoise(1, std=0.7),
        }
        noise["other"] = Recorded(ng.UniformNoise(1))
        trainer = ng.Trainer(ng.GAN(G, D, noise[prior]), source, batch_size=32, fused=fused, seed=4)
        trainer.train(30)
        runs.append((trainer.gan.G.flat_params.copy(), trainer.rng.bit_generator.state))
    for params, state in runs[1:]:
        np.testing.assert_allclose(params, runs[0][0], rtol=1e-4, atol=1e-5)
        assert state == runs[0][1]


class Recorded:
    """A prior of another class (the fused step draws it in Python)."""

    def __init__(self, inner):
        self.inner, self.dim = inner, inner.dim

    def sample(self, m, rng, dtype=np.float32):
        return self.inner.sample(m, rng, dtype)


def test_the_held_generator_is_the_runs_own(backend):
    """The fused step hands its jitted draw a GeneratorRef (a struct holding the Generator,
    cheaper to pass than the Generator): draws through it come from the Generator's own
    state, follow a state set in place (as resuming a checkpoint does), and the reference is
    let go with the struct."""
    if backend != "numba":
        return
    rng = np.random.default_rng(11)
    refs_before = sys.getrefcount(rng)
    ref = fused_module._hold(rng)
    assert sys.getrefcount(rng) == refs_before + 1
    start = rng.bit_generator.state
    x = np.arange(20.0, dtype=np.float32).reshape(10, 2)
    z_d, x_d = np.empty((1, 4, 3), np.float32), np.empty((1, 4, 2), np.float32)
    z_g = np.empty((4, 3), np.float32)
    fused_module._draw(ref, z_d, x_d, z_g, x, 1, 0.0, 0.5)
    twin = np.random.default_rng(11)
    np.testing.assert_array_equal(z_d[0], twin.normal(0.0, 0.5, (4, 3)).astype(np.float32))
    np.testing.assert_array_equal(x_d[0], x[twin.integers(0, 10, 4)])
    np.testing.assert_array_equal(z_g, twin.normal(0.0, 0.5, (4, 3)).astype(np.float32))
    assert rng.bit_generator.state == twin.bit_generator.state
    first = z_d.copy()
    rng.bit_generator.state = start  # in place: the struct sees it
    fused_module._draw(ref, z_d, x_d, z_g, x, 1, 0.0, 0.5)
    np.testing.assert_array_equal(z_d, first)
    del ref
    gc.collect()
    assert sys.getrefcount(rng) == refs_before


def test_a_new_generator_on_the_trainer_is_used(backend):
    """Assigning trainer.rng a new Generator mid-run: the fused step draws from it, as the
    layer path does (it holds a struct per Generator object, rebuilt when the object
    changes)."""
    if backend != "numba":
        return
    runs = []
    for fused in (True, False):
        trainer = toy_trainer(fused, k=1)
        trainer.train(5)
        trainer.rng = np.random.default_rng(99)
        trainer.train(5)
        runs.append((trainer.gan.D.flat_params.copy(), trainer.rng.bit_generator.state))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-4, atol=1e-5)
    assert runs[0][1] == runs[1][1]
