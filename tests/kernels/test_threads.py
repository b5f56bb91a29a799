"""The elementwise passes split over threads (the activations, BatchNorm's normalising and dx
passes, im2col, col2im): the serial kernels' numbers, bit for bit; and when a loop splits.

The optimiser updates' splits are tested in test_optim.py.
"""

import os

import numba
import numpy as np
import pytest

from numgan import kernels
from numgan.app import bench
from numgan.kernels import blas, conv, elementwise, norm, threads

P = threads.PIECE


@pytest.fixture(autouse=True)
def backend():
    """Run each test once: they call the jitted kernels by name, whatever the backend (this
    overrides tests/conftest.py's fixture that repeats every test under each backend)."""
    before = kernels.get_backend()
    yield before
    kernels.set_backend(before)


# every remainder up to 70 after 0, 1 and 2 whole pieces, and a piece short of one element
SIZES = [k * P + r for k in (0, 1, 2) for r in range(0, 71, 7) if k * P + r > 0] + [3 * P - 1]
COUNTS = list(range(1, min(2, numba.config.NUMBA_NUM_THREADS) + 1))


def equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# -- the split kernels against the serial ones -----------------------------------------------


@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("alpha", [0.0, 0.2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_split_gives_the_serial_numbers(dtype, alpha, count, numba_threads):
    numba.set_num_threads(count)
    rng = np.random.default_rng(0)
    for n in SIZES:
        x, dout = (rng.standard_normal(n).astype(dtype) for _ in range(2))
        y1, y2 = np.empty_like(x), np.empty_like(x)
        elementwise.leaky_relu_forward_nb(x, alpha, y1)
        elementwise.leaky_relu_forward_split(x, alpha, y2)
        dx1, dx2 = np.empty_like(x), np.empty_like(x)
        elementwise.leaky_relu_backward_nb(dout, y1, alpha, dx1)
        elementwise.leaky_relu_backward_split(dout, y1, alpha, dx2)
        assert equal((y1, dx1), (y2, dx2)), n


def test_leaky_relu_split_takes_any_shape_as_the_serial_kernel():
    x = np.random.default_rng(7).standard_normal((64, 14, 14, 32)).astype(np.float32)
    y1, y2, dx1, dx2 = (np.empty_like(x) for _ in range(4))
    elementwise.leaky_relu_forward_nb(x, 0.2, y1)
    elementwise.leaky_relu_forward_split(x, 0.2, y2)
    elementwise.leaky_relu_backward_nb(x, y1, 0.2, dx1)
    elementwise.leaky_relu_backward_split(x, y1, 0.2, dx2)
    assert equal((y1, dx1), (y2, dx2))


# (N, H, W, C, k, s, p): the DCGAN row's images at batch 64 (D's inputs and G's outputs,
# 28x28x1 and 14x14x32), a 7x7x64 batch, one image, odd sizes
CONV_SHAPES = [
    (64, 14, 14, 32, 4, 2, 1),
    (64, 28, 28, 1, 4, 2, 1),
    (64, 7, 7, 64, 4, 2, 1),
    (1, 9, 7, 3, 3, 1, 1),
    (5, 11, 6, 2, 3, 2, 0),
]


@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", CONV_SHAPES)
def test_im2col_and_col2im_split_give_the_serial_numbers(shape, dtype, count, numba_threads):
    N, H, W, C, k, s, p = shape
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    Ho, Wo = conv.out_size(H, k, s, p), conv.out_size(W, k, s, p)
    numba.set_num_threads(count)
    c1, c2 = (np.empty((N * Ho * Wo, k * k * C), dtype) for _ in range(2))
    conv.im2col_nb(x, k, k, s, s, p, p, c1)
    conv.im2col_split(x, k, k, s, s, p, p, c2)
    assert np.array_equal(c1, c2)
    cols = rng.standard_normal(c1.shape).astype(dtype)  # overlapping patches add up
    base = rng.standard_normal(C).astype(dtype)
    o1, o2 = np.empty_like(x), np.empty_like(x)
    conv.col2im_nb(cols, k, k, s, s, p, p, o1, base)
    conv.col2im_split(cols, k, k, s, s, p, p, o2, base)
    assert np.array_equal(o1, o2)


# (N, C, 1), as the BatchNorm layer hands channels-last images and feature batches (the
# dispatchers split no other); row counts that leave a short last piece
BN_SHAPES = [(64 * 7 * 7, 64, 1), (64 * 14 * 14, 32, 1), (64, 1024, 1), (3001, 3, 1), (7, 5, 1)]


def bn_forward(x, split):
    C = x.shape[1]
    rng = np.random.default_rng(2)
    gamma, beta = (rng.standard_normal(C).astype(x.dtype) for _ in range(2))
    xhat, out = np.empty_like(x), np.empty_like(x)
    s, mean, var = (np.empty(C, x.dtype) for _ in range(3))
    if split:
        norm._statistics(x, 1e-5, mean, var, s)
        norm._normalise_split(x, gamma, beta, mean, s, xhat, out, norm._rows_per_piece(x))
    else:
        norm.batchnorm_forward_nb(x, gamma, beta, 1e-5, xhat, s, out, mean, var)
    return xhat, out, s, mean, var, gamma


def bn_backward(dout, xhat, s, gamma, training, split, m=None):
    C = dout.shape[1]
    dx = np.empty_like(dout)
    dgamma, dbeta = np.full(C, 0.5, dout.dtype), np.full(C, -0.25, dout.dtype)  # accumulating
    if split:
        n, _, length = dout.shape
        sum_d, sum_dx = np.zeros(C), np.zeros(C)
        norm._backward_sums(dout, xhat, sum_d, sum_dx)
        norm._add_param_grads(sum_d, sum_dx, dbeta, dgamma)
        m = n * length if m is None else m
        rows = norm._rows_per_piece(dout)
        norm._input_grad_split(dout, xhat, s, gamma, sum_d, sum_dx, m, training, dx, rows)
    else:
        norm.batchnorm_backward_nb(dout, xhat, s, gamma, dx, dgamma, dbeta, training, True)
    return dx, dgamma, dbeta


@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_split_gives_the_serial_numbers(shape, dtype, training, count, numba_threads):
    numba.set_num_threads(count)
    rng = np.random.default_rng(3)
    x = (3 * rng.standard_normal(shape) + 1).astype(dtype)
    serial, split = bn_forward(x, False), bn_forward(x, True)
    assert equal(serial, split)
    xhat, _, s, _, _, gamma = serial
    dout = rng.standard_normal(shape).astype(dtype)
    assert equal(
        bn_backward(dout, xhat, s, gamma, training, False),
        bn_backward(dout, xhat, s, gamma, training, True),
    )


def test_the_batchnorm_check_sees_a_piece_that_counts_its_own_rows():
    """The control: a split whose dx took M from its piece instead of the whole batch (the
    bug the split invites) is caught."""
    shape = BN_SHAPES[0]
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape).astype(np.float32)
    xhat, _, s, _, _, gamma = bn_forward(x, False)
    dout = rng.standard_normal(shape).astype(np.float32)
    serial = bn_backward(dout, xhat, s, gamma, True, False)
    wrong = bn_backward(dout, xhat, s, gamma, True, True, m=norm._rows_per_piece(x))
    assert np.array_equal(serial[1], wrong[1]) and not np.array_equal(serial[0], wrong[0])


# -- when a loop splits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "gemm", "updates", "passes"),
    [
        ("omp", "mkl", True, True),
        ("tbb", "mkl", True, False),
        ("tbb", "openblas", True, False),
        ("omp", "openblas", False, False),
        ("omp", "numpy", False, False),
        ("workqueue", "mkl", False, False),
        ("unavailable", "mkl", False, False),
        (None, "mkl", False, False),
    ],
)
def test_which_loops_split_under_each_layer_and_gemm(layer, gemm, updates, passes):
    assert threads.splits_under(layer, gemm) == (updates, passes)


@pytest.fixture
def layer_put_back(monkeypatch):
    monkeypatch.setattr(threads, "_layer", threads._layer)


@pytest.mark.parametrize(
    ("n", "count", "layer", "gemm", "split"),
    [
        (threads.PASS_MIN, 2, "omp", "mkl", True),
        (threads.PASS_MIN - 1, 2, "omp", "mkl", False),
        (threads.PASS_MIN, 1, "omp", "mkl", False),
        (threads.PASS_MIN, 2, "tbb", "mkl", False),
        (threads.PASS_MIN, 2, "omp", "openblas", False),
        (threads.PASS_MIN, 2, "unavailable", "mkl", False),
    ],
)
def test_passes_split_only_when_long_threaded_and_where_it_pays(
    n, count, layer, gemm, split, layer_put_back, numba_threads, monkeypatch
):
    if count > numba.config.NUMBA_NUM_THREADS:
        count, split = numba.config.NUMBA_NUM_THREADS, False
    threads._layer = layer
    monkeypatch.setattr(threads.blas, "provider", lambda: gemm)
    numba.set_num_threads(count)
    assert threads.split_passes(n) == split


NUMBAS = threads._NUMBA_ORDER
OMP_FIRST = ["omp", "tbb", "workqueue"]


@pytest.mark.parametrize(
    ("env", "gemm", "started", "order"),
    [
        ({}, "mkl", False, OMP_FIRST),
        ({}, "openblas", False, NUMBAS),  # Numba's own order (after a switch from oneMKL too)
        ({}, "numpy", False, NUMBAS),
        ({}, "mkl", True, None),  # too late: the layer is fixed once the threads run
        ({"NUMBA_THREADING_LAYER": "tbb"}, "mkl", False, None),  # the user's choice stands
        ({"NUMBA_THREADING_LAYER_PRIORITY": "tbb omp workqueue"}, "mkl", False, None),
    ],
)
def test_omp_is_asked_for_first_beside_onemkl_unless_the_user_chose(
    env, gemm, started, order, monkeypatch
):
    for key in ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    sentinel = ["as", "it", "was"]
    monkeypatch.setattr(numba.config, "THREADING_LAYER_PRIORITY", sentinel)
    monkeypatch.setattr(blas, "provider", lambda: gemm)
    monkeypatch.setattr(threads, "_threads_started", lambda: started)
    threads.prefer_layer()
    assert numba.config.THREADING_LAYER_PRIORITY == (sentinel if order is None else order)


# -- the layers and a training run, serial and split -------------------------------------------


def run_each_dispatcher(split, monkeypatch):
    """Every serial-or-split dispatcher once, on long float32 inputs, the gate forced."""
    monkeypatch.setattr(threads, "split_passes", lambda n: split)
    rng = np.random.default_rng(5)
    x = rng.standard_normal(threads.PASS_MIN).astype(np.float32)
    y, dx = np.empty_like(x), np.empty_like(x)
    elementwise.leaky_relu_forward_serial_or_split(x, 0.2, y)
    elementwise.leaky_relu_backward_serial_or_split(x, y, 0.2, dx)
    img = rng.standard_normal((64, 14, 14, 32)).astype(np.float32)
    cols = np.empty((64 * 7 * 7, 4 * 4 * 32), np.float32)
    conv.im2col_serial_or_split(img, 4, 4, 2, 2, 1, 1, cols)
    conv.col2im_serial_or_split(cols, 4, 4, 2, 2, 1, 1, img, np.zeros(32, np.float32))
    bn, C = x.reshape(-1, 64, 1), 64
    s, mean, var, dgamma, dbeta = (np.zeros(C, np.float32) for _ in range(5))
    gamma, beta = np.ones(C, np.float32), np.zeros(C, np.float32)
    xhat, out, dbn = np.empty_like(bn), np.empty_like(bn), np.empty_like(bn)
    norm.batchnorm_forward_serial_or_split(bn, gamma, beta, 1e-5, xhat, s, out, mean, var)
    norm.batchnorm_backward_serial_or_split(bn, xhat, s, gamma, dbn, dgamma, dbeta, True, True)


SPIED = {
    elementwise: [f"leaky_relu_{d}_{f}" for d in ("forward", "backward") for f in ("nb", "split")],
    conv: [f"{k}_{f}" for k in ("im2col", "col2im") for f in ("nb", "split")],
    norm: [
        "batchnorm_forward_nb",
        "_normalise_split",
        "batchnorm_backward_nb",
        "_input_grad_split",
    ],
}


def test_each_dispatcher_runs_the_kernel_the_gate_picks(monkeypatch):
    for split in (False, True):  # compiled now: once patched, a first compile would find a lambda
        run_each_dispatcher(split, monkeypatch)
    calls = []
    for module, names in SPIED.items():
        for name in names:
            fn = getattr(module, name)
            monkeypatch.setattr(
                module, name, lambda *a, _f=fn, _n=name: (calls.append(_n), _f(*a))[1]
            )
    run_each_dispatcher(False, monkeypatch)
    serial = list(calls)
    calls.clear()
    run_each_dispatcher(True, monkeypatch)
    assert serial == [
        "leaky_relu_forward_nb",
        "leaky_relu_backward_nb",
        "im2col_nb",
        "col2im_nb",
        "batchnorm_forward_nb",
        "batchnorm_backward_nb",
    ]
    assert calls == [
        "leaky_relu_forward_split",
        "leaky_relu_backward_split",
        "im2col_split",
        "col2im_split",
        "_normalise_split",
        "_input_grad_split",
    ]


def test_training_the_dcgan_gives_the_same_numbers_serial_and_split(numba_threads, monkeypatch):
    """Three iterations of the DCGAN benchmark row on the Numba backend: serial on one thread,
    then with every long pass and update split on all of Numba's threads (whatever the layer
    and GEMM): the same parameters."""
    spec = bench.model_specs((4,))[0]
    params = []
    backend = kernels.get_backend()
    try:
        kernels.set_backend("numba")
        for count, split in ((1, False), (numba.config.NUMBA_NUM_THREADS, True)):
            numba.set_num_threads(count)
            monkeypatch.setattr(threads, "split_passes", lambda n, _s=split: _s and n >= P)
            monkeypatch.setattr(threads, "split_updates", lambda n, _s=split: _s and n >= P)
            trainer = bench.build_trainer(spec, data_size=128)
            for _ in range(3):
                trainer.step()
            params.append([net.flat_params.copy() for net in (trainer.gan.G, trainer.gan.D)])
    finally:
        kernels.set_backend(backend)
    for one, many in zip(*params, strict=True):
        assert np.array_equal(one, many)


def test_batchnorm_over_positions_stays_serial(monkeypatch):
    """(N, C, L > 1), NCHW images: the dispatchers run the serial kernels even where the gate
    says split (norm.py says why)."""
    x = np.random.default_rng(6).standard_normal((64, 32, 196)).astype(np.float32)
    C = x.shape[1]
    calls = []
    for name in ("batchnorm_forward_nb", "batchnorm_backward_nb"):
        fn = getattr(norm, name)
        monkeypatch.setattr(norm, name, lambda *a, _f=fn, _n=name: (calls.append(_n), _f(*a))[1])
    monkeypatch.setattr(threads, "split_passes", lambda n: True)
    s, mean, var, dgamma, dbeta = (np.zeros(C, np.float32) for _ in range(5))
    gamma, beta = np.ones(C, np.float32), np.zeros(C, np.float32)
    xhat, out, dx = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    norm.batchnorm_forward_serial_or_split(x, gamma, beta, 1e-5, xhat, s, out, mean, var)
    norm.batchnorm_backward_serial_or_split(x, xhat, s, gamma, dx, dgamma, dbeta, True, True)
    assert calls == ["batchnorm_forward_nb", "batchnorm_backward_nb"]


_FORK = """
import multiprocessing, sys
import numpy as np
from numgan.kernels import blas, elementwise, threads
x = np.random.default_rng(0).standard_normal(threads.PASS_MIN).astype(np.float32)
y = np.empty_like(x)
elementwise.leaky_relu_forward_serial_or_split(x, 0.2, y)  # starts Numba's threads
print(threads.threading_layer(), threads.split_passes(x.size))

def child(queue):
    z = np.empty_like(x)
    elementwise.leaky_relu_forward_serial_or_split(x, 0.2, z)
    queue.put((threads.split_passes(x.size), bool(np.array_equal(y, z))))

ctx = multiprocessing.get_context("fork")
queue = ctx.Queue()
process = ctx.Process(target=child, args=(queue,))
process.start()
process.join(60)
print(process.exitcode, *queue.get(timeout=5))
"""


def test_a_forked_child_runs_serial_after_openmp_threads(tmp_path):
    """GNU OpenMP stops a forked child that runs a parallel loop after its parent did: numgan's
    loops run serial in such a child, with the same numbers, and the child ends normally."""
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    for key in ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, "-c", _FORK], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    parent, child = done.stdout.strip().splitlines()
    layer, parent_split = parent.split()
    exitcode, child_split, same = child.split()
    assert exitcode == "0" and same == "True"
    if layer == "omp":
        assert child_split == "False"  # the guard
    else:
        assert child_split == parent_split  # fork-safe layers keep splitting


def test_numba_tries_openmp_first_beside_onemkl_when_its_threads_start():
    """In a fresh process, the layer Numba starts is the one numgan asked for: OpenMP first
    beside oneMKL (where the system has GNU OpenMP), Numba's own order otherwise."""
    import subprocess
    import sys

    code = (
        "import numba; from numgan.kernels import blas, threads; "
        "threads.split_updates(threads.UPDATE_MIN); "
        "print(blas.provider(), numba.threading_layer(), numba.config.THREADING_LAYER_PRIORITY[0])"
    )
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    for key in ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY"):
        env.pop(key, None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    gemm, layer, first = done.stdout.split()
    assert first == ("omp" if gemm == "mkl" else "tbb")
    if gemm == "mkl":
        assert layer in ("omp", "tbb")  # tbb: no GNU OpenMP on this system
