"""Training iterations/s of Algorithm 1: numgan (Numba, NumPy) against PyTorch on the CPU.

    python benchmarks/train_speed.py [--models 1,2,3] [--repeats N] [--quick] ...

The same as ``numgan bench``; numgan/bench.py holds the harness and documents the flags.
"""

from numgan.app.bench import main

raise SystemExit(main())
