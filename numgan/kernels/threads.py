"""When the Numba backend's long loops split over Numba's threads, and which threading layer
they run under.

Over a few hundred thousand floats or more, an elementwise pass or an optimiser update keeps
one core busy while the other cores wait for the next matrix product.  Such a loop can split:
its flat vectors are cut into pieces of PIECE elements and whole pieces are handed to Numba's
threads (``numba.prange``), each piece running the serial kernel.  PIECE is a power of two far
above the step of any vector loop LLVM makes (8 lanes x 4 unrolled here), and a multiple of
Adam's blocks (optim.TAIL), so each element goes the same way through the kernel's loops as in
one call over the whole vector: a split kernel gives its serial kernel's numbers bit for bit,
for any number of threads (tests/kernels/test_threads.py and test_optim.py check the
remainders).  Kernels that are not elementwise split along the axis their work is independent
on (images, rows).

Whether a split pays depends on who else holds the cores.  The GEMM keeps its own threads
spinning for a while after each product (oneMKL's OpenMP threads for 0.2 s, OpenBLAS's its
own), and Numba's threads have to share the cores with them, except under Numba's OpenMP layer
beside oneMKL, whose calls run on oneMKL's own OpenMP runtime: one pool.  Measured in whole
training iterations on 2 cores (benchmarks/thread_splits.py, and for the workqueue layer
benchmarks/optimizer_timings.py --in-iteration; docs/kernels.md, "Threads"), the speed of each
split against none:

    Numba's layer  GEMM      optimiser updates (row 2-adam)  elementwise passes (DCGAN row)
    OpenMP         oneMKL    1.23x: split                    1.19x: split
    TBB            oneMKL    1.08x: split                    no gain: serial
    TBB            OpenBLAS  1.04x: split                    0.92x: serial
    OpenMP         OpenBLAS  0.53x: serial                   0.12x: serial
    workqueue      either    0.95-0.97x: serial              not measured: serial

So with oneMKL as the GEMM numgan asks Numba for its OpenMP layer first (``prefer_layer``,
run at import, unless NUMBA_THREADING_LAYER or NUMBA_THREADING_LAYER_PRIORITY says
otherwise); ``split_updates`` and ``split_passes`` say, per call, whether a loop of n elements
splits under the layer that loaded (``splits_under``: the table).
"""

from __future__ import annotations

import os

from . import blas
from .flags import numba  # Numba loads after flags.py's check of NUMBA_NUM_THREADS

PIECE = 16_384
#: Below this many parameters an update is not worth starting the threads for: alone, SGD's
#: split breaks even near 130,000 (docs/kernels.md).
UPDATE_MIN = 8 * PIECE
#: Below this many elements an elementwise pass runs serial (docs/kernels.md).
PASS_MIN = 8 * PIECE

# Numba's threading layer, asked the first time a long loop comes (asking starts it).
# "unavailable": Numba could load none (for instance NUMBA_THREADING_LAYER=tbb without TBB
# installed); the serial kernels need none.
_layer: str | None = None
# Numba's own order of layers to try, as this process found it
_NUMBA_ORDER = list(numba.config.THREADING_LAYER_PRIORITY)
_OMP_FIRST = ["omp", "tbb", "workqueue"]
# True in a child forked from a process whose Numba threads run under Numba's OpenMP layer: a
# parallel loop there would stop the child (the layer's "fork() called from a process already
# using GNU OpenMP, this is unsafe", on Intel's runtime too), so every loop runs serial in it.
_forked_from_omp = False


def _after_fork_in_child() -> None:
    global _forked_from_omp
    if _threads_started() and numba.threading_layer() == "omp":
        _forked_from_omp = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def _threads_started() -> bool:
    # Numba's own flag: its threads start at the first parallel call, numba.get_num_threads()
    # or numba.set_num_threads(), and its layer is fixed from then on
    return numba.np.ufunc.parallel._is_initialized


def prefer_layer() -> None:
    """Before Numba's threads start: with oneMKL's GEMM, have Numba try its OpenMP layer first
    (then TBB, then its workqueue); with any other GEMM, Numba's own order (TBB first).  Left
    alone if the user named a layer or an order (NUMBA_THREADING_LAYER,
    NUMBA_THREADING_LAYER_PRIORITY).  Run at import and again just before numgan starts the
    threads, since Numba may read its settings again in between and the GEMM may change
    (blas.use)."""
    named = ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY")
    if _threads_started() or any(os.environ.get(k) for k in named):
        return
    order = _OMP_FIRST if blas.provider() == "mkl" else _NUMBA_ORDER
    numba.config.THREADING_LAYER_PRIORITY = list(order)


def threading_layer() -> str | None:
    """Numba's threading layer ("tbb", "omp", "workqueue", or "unavailable" when none could be
    loaded) once a long loop has asked for it with more than one Numba thread, else None."""
    return _layer


def _threaded_layer() -> str | None:
    """The layer, if Numba has more than one thread to split over, else None."""
    global _layer
    if _layer == "unavailable" or _forked_from_omp:
        return None
    prefer_layer()  # a no-op once the threads run
    try:
        if numba.get_num_threads() < 2:
            return None
        if _layer is None:
            _layer = numba.threading_layer()
    except ValueError:  # "No threading layer could be loaded"
        _layer = "unavailable"
        return None
    return _layer


def splits_under(layer: str | None, gemm: str) -> tuple[bool, bool]:
    """(updates, passes): whether the long optimiser updates, and the long elementwise passes,
    split under this threading layer beside this GEMM ("mkl", "openblas", "numpy"): the table
    above."""
    beside_mkl = layer == "omp" and gemm == "mkl"
    return layer == "tbb" or beside_mkl, beside_mkl


def split_updates(n: int) -> bool:
    """Whether an optimiser update over n parameters splits: n >= UPDATE_MIN, more than one
    Numba thread, and a layer and GEMM where it pays (``splits_under``)."""
    if n < UPDATE_MIN:
        return False
    return splits_under(_threaded_layer(), blas.provider())[0]


def split_passes(n: int) -> bool:
    """Whether an elementwise pass (LeakyReLU's, BatchNorm's normalising and dx passes,
    im2col, col2im) over n elements splits: n >= PASS_MIN, more than one Numba thread, and
    a layer and GEMM where it pays (``splits_under``)."""
    if n < PASS_MIN:
        return False
    return splits_under(_threaded_layer(), blas.provider())[1]
