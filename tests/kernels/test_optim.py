"""Adam's one loop, and the optimiser updates split over threads: the numbers of the kernels
before them, bit for bit.

Adam runs one loop over whole blocks of TAIL parameters and its old three loops over the rest,
whose scalar remainder rounds one element's step its own way (numgan/kernels/optim.py).  The
split hands pieces of PIECE elements to Numba's threads, each piece running the serial
kernel.  Whether an element takes the kernel's vector body or its scalar remainder depends on
where it sits; PIECE is chosen so that it sits alike in one call and in its piece.  These tests
hold that to every remainder, in both precisions, with and without zeroing the gradient, on
whatever CPU the suite runs (LLVM makes other loops for other CPUs).
"""

import numba
import numpy as np
import pytest

from numgan.app import bench
from numgan.kernels import blas, optim, set_backend, threads
from numgan.kernels import ops as kernel_ops

P = optim.PIECE
# every remainder up to 70 (the kernels' vector loops step by 32 elements at most here) after
# 0, 1 and 2 whole pieces, and a piece short of one element
SIZES = [k * P + r for k in (0, 1, 2) for r in range(0, 71) if k * P + r > 0] + [3 * P - 1]
THREADS = list(range(1, min(2, numba.config.NUMBA_NUM_THREADS) + 1))


def vectors(n, dtype, seed):
    """theta, g, m, v of one Adam state (v >= 0); SGD uses the first three, v as its velocity.
    theta is of the size of a step, so that the step's last bits show in the new theta (near
    1, a last-bit difference in the step would round away)."""
    rng = np.random.default_rng(seed)
    theta, g, m = (rng.normal(scale=s, size=n).astype(dtype) for s in (1e-4, 0.05, 0.02))
    v = np.abs(rng.normal(scale=1e-4, size=n)).astype(dtype)
    return theta, g, m, v


def step_both(serial, split, arrays, scalars, zero_g):
    """One update of copies of ``arrays`` by each kernel; (serial's arrays, split's)."""
    a, b = [x.copy() for x in arrays], [x.copy() for x in arrays]
    serial(*a, *scalars, zero_g)
    split(*b, *scalars, zero_g)
    return a, b


@pytest.mark.parametrize("zero_g", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_adam_gives_the_serial_kernels_numbers(dtype, zero_g):
    for n in SIZES:
        arrays = vectors(n, dtype, seed=n)
        for t in (1, 4):  # the first step's bias corrections, and a later step's
            scalars = optim._scalars(arrays[0], 2e-4, 0.5, 0.999, 1e-8, 1 - 0.5**t, 1 - 0.999**t)
            a, b = step_both(optim.adam_nb, optim.adam_split, arrays, scalars, zero_g)
            for name, x, y in zip("theta g m v".split(), a, b, strict=True):
                assert np.array_equal(x, y), f"n={n}, t={t}: {name} differs"
            assert np.any(a[0] != arrays[0])  # an update happened


@pytest.mark.parametrize("zero_g", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_sgd_gives_the_serial_kernels_numbers(dtype, zero_g):
    for n in SIZES:
        arrays = vectors(n, dtype, seed=n)[:3]
        scalars = optim._scalars(arrays[0], 0.01, 0.9)
        a, b = step_both(optim.sgd_momentum_nb, optim.sgd_momentum_split, arrays, scalars, zero_g)
        for name, x, y in zip("theta g v".split(), a, b, strict=True):
            assert np.array_equal(x, y), f"n={n}: {name} differs"
        assert np.any(a[0] != arrays[0])


@pytest.mark.parametrize("count", THREADS)
def test_split_adam_does_not_depend_on_the_thread_count(count, numba_threads):
    n = 5 * P + 13
    arrays = vectors(n, np.float32, seed=1)
    scalars = optim._scalars(arrays[0], 2e-4, 0.5, 0.999, 1e-8, 0.5, 0.001)
    numba.set_num_threads(count)
    a, b = step_both(optim.adam_nb, optim.adam_split, arrays, scalars, True)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)


T = optim.TAIL
# every remainder after 0, 1 and 2 whole blocks of the one loop, and long vectors that end in
# an odd remainder
TAIL_SIZES = [k * T + r for k in (0, 1, 2) for r in range(T) if k * T + r > 0]
TAIL_SIZES += [3 * P - 1, 3 * P + T + 13]


def test_split_pieces_are_whole_blocks_of_adams_one_loop():
    """Each piece of a split Adam runs the one loop only, and the last piece ends in the whole
    vector's tail."""
    assert P % T == 0


@pytest.mark.parametrize("zero_g", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_gives_the_three_loops_numbers(dtype, zero_g):
    """adam_nb against the three loops every Adam result of docs/results.md was trained with."""
    for n in TAIL_SIZES:
        arrays = vectors(n, dtype, seed=n)
        for t in (1, 4):
            scalars = optim._scalars(arrays[0], 2e-4, 0.5, 0.999, 1e-8, 1 - 0.5**t, 1 - 0.999**t)
            a, b = step_both(optim._adam_three_loops, optim.adam_nb, arrays, scalars, zero_g)
            for name, x, y in zip("theta g m v".split(), a, b, strict=True):
                assert np.array_equal(x, y), f"n={n}, t={t}: {name} differs"
            assert np.any(a[0] != arrays[0])
            assert not zero_g or not np.any(b[1])  # g zeroed


def test_an_element_the_one_loop_alone_rounds_apart_keeps_its_number():
    """An element from a real step of row 2-adam (float32), last of 129, where the three loops'
    scalar remainder peels it off: on the Intel Xeon of docs/benchmarks.md the one loop alone
    rounds theta's step apart from the three loops here (0.00010869084 against
    0.000108690845); whether it does depends on the code LLVM makes for the CPU, so only the
    bound is asserted of it.  adam_nb runs the one loop on the 128 before it and leaves it to
    the three loops: their numbers, that element's included."""
    f = np.float32
    scalars = (f(2e-4), f(0.5), f(0.999), f(1e-8), f(0.75), f(0.001999))
    before = vectors(T, f, seed=5)
    element = ([0.00020000125], [0.05220539], [-0.020223595], [1.6359542e-06])
    arrays = [np.concatenate([x, np.array(e, f)]) for x, e in zip(before, element, strict=True)]
    results = {}
    for name, kernel in (
        ("one loop", lambda *a: optim._adam_one_loop(*a[:-1])),
        ("three loops", optim._adam_three_loops),
        ("adam_nb", optim.adam_nb),
    ):
        theta, g, m, v = (x.copy() for x in arrays)
        kernel(theta, g, m, v, *scalars, False)
        results[name] = theta
    assert np.array_equal(results["adam_nb"], results["three loops"])
    one, three = results["one loop"][-1], results["three loops"][-1]
    assert abs(one - three) <= np.spacing(three)


@pytest.mark.parametrize("key", ["2-adam", "4"])
def test_training_gives_the_three_loops_numbers(key, monkeypatch):
    """Three iterations of a benchmark row with Adam, serial, with adam_nb and with the three
    loops in its place: the same parameters.  This checks the wiring (the trainer's updates go
    through adam_nb, with the trainer's scalars); the remainders are the test above's: with
    weights of their real size a step's last bit seldom shows in theta."""
    spec = next(s for s in bench.model_specs((int(key[0]),)) if s.key == key)
    monkeypatch.setattr(threads, "split_updates", lambda n: False)
    params, calls = [], []
    one_loop, three_loops = optim.adam_nb, optim._adam_three_loops
    backend = kernel_ops.backend
    try:
        set_backend("numba")
        for kernel in (one_loop, three_loops):
            monkeypatch.setattr(
                optim, "adam_nb", lambda *a, _k=kernel: (calls.append(_k), _k(*a))[1]
            )
            trainer = bench.build_trainer(spec, data_size=256)
            for _ in range(3):
                trainer.step()
            params.append([net.flat_params.copy() for net in (trainer.gan.G, trainer.gan.D)])
    finally:
        set_backend(backend)
    assert calls == [one_loop] * 6 + [three_loops] * 6  # D's and G's update, three times
    for new, old in zip(*params, strict=True):
        assert np.array_equal(new, old)


def a_step_one_ulp_off(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2, zero_g):
    """Adam with lr one unit in the last place larger: a step that differs from the kernel's
    by about one ulp, as a step formed another way would."""
    lr = np.nextafter(lr, lr.dtype.type(np.inf))
    optim.adam_nb(theta, g, m, v, lr, beta1, beta2, eps, bc1, bc2, zero_g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_check_sees_a_step_one_ulp_off(dtype):
    """The control: the vectors above show a step's last bit in theta."""
    arrays = vectors(2 * P + 5, dtype, seed=2)
    scalars = optim._scalars(arrays[0], 2e-4, 0.5, 0.999, 1e-8, 0.5, 0.001)
    a, b = step_both(optim.adam_nb, a_step_one_ulp_off, arrays, scalars, False)
    assert np.array_equal(a[2], b[2]) and np.array_equal(a[3], b[3])  # the same moments
    assert not np.array_equal(a[0], b[0])


@pytest.fixture
def spied(monkeypatch, numba_threads):
    """adam_flat and sgd_momentum_flat with each kernel they may call counted, and the layer
    they learned put back after the test."""
    # compiled now: once the names are patched, a first compile would find a Python lambda
    half = np.float32(0.5)
    optim.adam_split(*vectors(1, np.float32, seed=0), *(half,) * 6, True)
    optim.sgd_momentum_split(*vectors(1, np.float32, seed=0)[:3], half, half, True)
    calls = []
    for name in ("adam_nb", "adam_split", "sgd_momentum_nb", "sgd_momentum_split"):
        kernel = getattr(optim, name)
        monkeypatch.setattr(
            optim, name, lambda *a, _k=kernel, _n=name: (calls.append(_n), _k(*a))[1]
        )
    monkeypatch.setattr(threads, "_layer", threads._layer)
    return calls


def call_flat(n):
    theta, g, m, v = vectors(n, np.float32, seed=3)
    optim.adam_flat(theta, g, m, v, 2e-4, 0.5, 0.999, 1e-8, 0.5, 0.001, True)
    optim.sgd_momentum_flat(theta, g, v, 0.01, 0.9, True)


M = threads.UPDATE_MIN


@pytest.mark.parametrize(
    ("n", "count", "layer", "gemm", "split"),
    [
        (M, 2, "tbb", "openblas", True),
        (M, 2, "tbb", "mkl", True),
        (M, 2, "omp", "mkl", True),
        (M - 1, 2, "tbb", "openblas", False),  # too short to be worth the threads
        (M - 1, 2, "omp", "mkl", False),
        (M, 1, "tbb", "openblas", False),  # one thread: nothing to split over
        (M, 1, "omp", "mkl", False),
        (M, 2, "omp", "openblas", False),  # measured to slow training
        (M, 2, "workqueue", "mkl", False),  # measured to gain nothing
        (M, 2, "unavailable", "mkl", False),  # Numba could load no layer
    ],
)
def test_flat_updates_split_only_when_long_threaded_and_where_it_pays(
    n, count, layer, gemm, split, spied, monkeypatch
):
    if count > numba.config.NUMBA_NUM_THREADS:
        count = numba.config.NUMBA_NUM_THREADS  # one CPU: the split case cannot arise
        split = False
    threads._layer = layer
    monkeypatch.setattr(threads.blas, "provider", lambda: gemm)
    numba.set_num_threads(count)
    call_flat(n)
    expected = ["adam_split", "sgd_momentum_split"] if split else ["adam_nb", "sgd_momentum_nb"]
    assert spied == expected


def test_the_first_long_update_learns_numbas_threading_layer(spied):
    threads._layer = None
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    call_flat(M - 1)
    assert threads.threading_layer() is None  # a short update does not ask
    call_flat(M)
    if numba.config.NUMBA_NUM_THREADS > 1:
        assert threads.threading_layer() == numba.threading_layer()
        split, _ = threads.splits_under(threads.threading_layer(), blas.provider())
        assert spied[2:] == (["adam_split", "sgd_momentum_split"] if split else spied[:2])
    else:
        assert threads.threading_layer() is None  # one thread: nothing to split over, no asking


def test_with_no_threading_layer_the_updates_run_serial(spied, monkeypatch):
    """NUMBA_THREADING_LAYER=tbb without TBB: Numba raises when asked; the update runs serial
    and says so through threading_layer()."""

    def no_layer():
        raise ValueError("No threading layer could be loaded.")

    threads._layer = None
    monkeypatch.setattr(threads.numba, "get_num_threads", no_layer)
    theta, g, m, v = vectors(M, np.float32, seed=4)
    a, b = step_both(
        optim.adam_nb,
        optim.adam_flat,
        (theta, g, m, v),
        optim._scalars(theta, 2e-4, 0.5, 0.999, 1e-8, 0.5, 0.001),
        True,
    )
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    assert threads.threading_layer() == "unavailable"
    assert spied == ["adam_nb", "adam_nb"]  # step_both's serial call, then adam_flat's


@pytest.mark.parametrize("key", ["2-sgd", "2-adam"])
def test_training_gives_the_same_numbers_serial_and_split(key, numba_threads, monkeypatch):
    """Three iterations of a benchmark row (2.0M parameters per network) on the Numba backend:
    serial on one thread, then with every update split on all of Numba's threads (whatever
    the threading layer: the numbers do not depend on it): the same parameters."""
    spec = next(s for s in bench.model_specs((2,)) if s.key == key)
    params, splits = [], []
    for name in ("adam_split", "sgd_momentum_split"):
        kernel = getattr(optim, name)
        monkeypatch.setattr(optim, name, lambda *a, _k=kernel: (splits.append(1), _k(*a))[1])
    backend = kernel_ops.backend
    try:
        set_backend("numba")
        for count, split in ((1, False), (numba.config.NUMBA_NUM_THREADS, True)):
            numba.set_num_threads(count)
            monkeypatch.setattr(threads, "split_updates", lambda n, _s=split: _s)
            trainer = bench.build_trainer(spec, data_size=256)
            for _ in range(3):
                trainer.step()
            params.append([net.flat_params.copy() for net in (trainer.gan.G, trainer.gan.D)])
            assert len(splits) == (6 if split else 0)  # D's and G's update, three times
    finally:
        set_backend(backend)
    for one, many in zip(*params, strict=True):
        assert np.array_equal(one, many)
