"""The ``numgan`` command line.

    numgan train [--dataset NAME|PATH] [--model NAME] [...] [--out RUN_DIR] [--resume RUN_DIR]
    numgan sample RUN_DIR [--n 64] [--label K] [-o grid.png|samples.npy]
    numgan evaluate RUN_DIR            prints the metrics, writes RUN_DIR/metrics.json
    numgan plot RUN_DIR                loss curves and sample figures into RUN_DIR
    numgan sweep SWEEP.toml [--out SWEEP_DIR] [--scheduler ADDRESS] [--workers N]
                                       many runs on Dask (see docs/sweeps.md)
    numgan bench [...]                 training speed (see docs/benchmarks.md)

Errors are one line on stderr and a non-zero exit code, never a traceback.  argparse only
parses the flags' types; their values are checked where they are used (TrainConfig for the
training options), so a flag and a config file key fail with the same message.

This module imports only the standard library at the top: NumPy, Numba and the rest of numgan
load inside ``main``, under a SIGINT handler that leaves at once with one line and exit code
130 (``_leave_while_starting``).  ``numgan train`` stops on SIGINT or SIGTERM between two
iterations, saves, and exits 130 or 143 (numgan/app/run.py).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

_TYPES = {"int": int, "float": float, "str": str}


def train_flags() -> dict[str, str]:
    """``numgan train``'s flags (config fields) and their help; every default is None, so that
    only given flags override."""
    from ..data import DATASETS
    from .config import CHOICES

    def either(name: str) -> str:
        return " or ".join(CHOICES[name])

    return {
        "dataset": f"{', '.join(DATASETS)}, or a .npy/.npz file (default: digits)",
        "model": f"{', '.join(CHOICES['model'])} (default: the dataset's)",
        "iterations": "total iterations of the run (a resumed run continues up to it)",
        "batch_size": "m, per minibatch of noise and of data",
        "k": "discriminator steps per generator step",
        "conditional": "a conditional GAN, G(z, y) and D(x, y), on labelled data (default model: "
        "cgan-small, cgan-mnist on mnist; --no-conditional: off, the default)",
        "g_loss": either("g_loss") + " (feature-matching: G matches the mean of D's features "
        "on data)",
        "loss": either("loss") + ": D's game (least-squares: D ends in a plain number)",
        "label_smoothing": "D's target on data: 0.9 for one-sided label smoothing (default 1: off)",
        "label_noise": "probability P of flipping each of D's targets at every D step (default 0)",
        "instance_noise": "std of Gaussian noise added to every input D sees, annealed linearly "
        "to 0 (default 0: off)",
        "instance_noise_iterations": "the iteration where that noise reaches 0 (default 0: the "
        "run's iterations)",
        "replay": "share F of D's fake minibatch drawn from a buffer of earlier G(z) (default 0)",
        "minibatch_discrimination": "B,C: a minibatch discrimination layer of B kernels of C "
        "dims before D's last layer (default: none)",
        "optimizer": either("optimizer"),
        "lr": "learning rate",
        "lr_decay": "divide the learning rate by this at every update, down to 1e-6 (default 1: "
        "constant)",
        "momentum": "SGD's momentum, or Adam's beta1",
        "momentum_final": "SGD's momentum rises linearly from --momentum to this (default 0: "
        "constant)",
        "momentum_iterations": "the iteration where it gets there (default 0: the run's "
        "iterations)",
        "seed": "seeds the run's one random Generator",
        "data_dir": "folder of the MNIST IDX files (default: $NUMGAN_DATA)",
        "output": "images: G ends in sigmoid (pixels in [0, 1], default) or tanh ([-1, 1])",
        "path": "auto (default: fused where the model allows it, else layers), layers (the nn "
        "layers, as docs/algorithm1.md reads them) or fused (one jitted call per iteration)",
        "sample_every": "iterations between sample grids (0: ten per run)",
        "checkpoint_every": "iterations between checkpoints (0: ten per run)",
    }


def __getattr__(name: str) -> Any:
    if name == "TRAIN_FLAGS":  # computed on first use: it needs the data and config modules
        return train_flags()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_parser() -> argparse.ArgumentParser:
    from argparse import BooleanOptionalAction

    from .config import FIELDS, flag
    from .parser import OneLineParser

    parser = OneLineParser(
        prog="numgan", description="numgan: GANs in NumPy with hand-written backprop."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "train",
        help="train a GAN; writes a run folder",
        description="Train G and D by Algorithm 1. Flags override --config, "
        "which overrides the dataset's defaults. Ctrl-C or SIGTERM stops it between two "
        "iterations, after saving; --resume continues it.",
    )
    for name, text in train_flags().items():
        if FIELDS[name].type == "bool":  # --conditional / --no-conditional
            p.add_argument(flag(name), action=BooleanOptionalAction, default=None, help=text)
        else:
            p.add_argument(flag(name), type=_TYPES[FIELDS[name].type], default=None, help=text)
    p.add_argument("--out", metavar="RUN_DIR", help="the run folder (default: runs/NAME-seedS)")
    p.add_argument("--config", metavar="FILE.toml", help="config file; flags override it")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")

    p = sub.add_parser("sample", help="samples of a trained run: an array (.npy) or a figure")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--n", type=int, default=64, help="how many samples (default 64)")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="FILE.npy: the samples, float32 (N, ...) in the data's scale; FILE.png: a figure "
        "(default RUN_DIR/sample.png)",
    )
    p.add_argument("--seed", type=int, default=0, help="seeds the noise")
    p.add_argument(
        "--label",
        type=int,
        default=None,
        help="a conditional run: draw class K only (default: one row per class, --n rounded "
        "up to a multiple of the classes)",
    )

    p = sub.add_parser("evaluate", help="Parzen log-likelihood, mode coverage or 1-D checks")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--n-samples", type=int, default=10_000, help="generated samples to use")

    p = sub.add_parser("plot", help="loss curves and sample figures into RUN_DIR")
    p.add_argument("run_dir", metavar="RUN_DIR")

    p = sub.add_parser(
        "sweep",
        help="many runs (settings x seeds) from one file, on Dask; then their results",
        description="Run every configuration x seed of SWEEP.toml as a Dask task, each an "
        "ordinary run folder under SWEEP_DIR/runs/, then evaluate each and write "
        "SWEEP_DIR/results.csv, summary.md and sweep.png. Run it again to skip finished runs "
        "and resume unfinished ones. See docs/sweeps.md.",
    )
    p.add_argument("sweep_file", metavar="SWEEP.toml")
    p.add_argument("--out", metavar="SWEEP_DIR", help="the sweep folder (default: sweeps/STEM)")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://host:8786 (default: a local cluster)",
    )
    p.add_argument(
        "--workers", type=int, help="process workers of the local cluster (default: one per core)"
    )
    p.add_argument("--dry-run", action="store_true", help="print the runs; start nothing")
    p.add_argument(
        "--evaluate-only",
        action="store_true",
        help="train nothing: evaluate trained runs, rebuild results.csv and summary.md",
    )

    sub.add_parser(
        "bench",
        add_help=False,
        help="time training iterations/s: numgan (Numba, NumPy) against PyTorch",
    )
    return parser


def _train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .config import RunError, resolve_config
    from .run import default_run_dir, read_run_config, train

    flags = {name: getattr(args, name) for name in train_flags()}
    if args.resume:
        run_dir = Path(args.resume)
        if args.out and Path(args.out) != run_dir:
            raise RunError("--resume continues a run in its own folder: drop --out")
        config = resolve_config(flags, config_file=args.config, base=read_run_config(run_dir))
        train(config, run_dir, resume=True)
    else:
        config = resolve_config(flags, config_file=args.config)
        train(config, Path(args.out) if args.out else default_run_dir(config))
    return 0


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .config import RunError
    from .results import evaluate_run, plot_run, sample_run

    if args.command == "train":
        return _train(args)
    if args.command == "sample":
        out = Path(args.output) if args.output else Path(args.run_dir) / "sample.png"
        print(sample_run(Path(args.run_dir), args.n, out, args.seed, args.label))
    elif args.command == "evaluate":
        evaluate_run(Path(args.run_dir), args.n_samples)
    elif args.command == "plot":
        plot_run(Path(args.run_dir))
    elif args.command == "sweep":
        from .sweep import run_sweep

        if args.dry_run and args.evaluate_only:
            raise RunError("--dry-run and --evaluate-only: give one of them")
        rows = run_sweep(
            args.sweep_file,
            args.out,
            scheduler=args.scheduler,
            workers=args.workers,
            dry_run=args.dry_run,
            evaluate_only=args.evaluate_only,
        )
        failed = [r for r in rows if r["status"] == "failed"]
        if failed:  # the sweep went on past them; the exit code still says so
            raise RunError(
                f"{len(failed)} of {len(rows)} runs failed (the first: {failed[0]['name']}: "
                f"{failed[0]['reason']}); summary.md lists them"
            )
    return 0


def _command(argv: list[str]) -> str:
    """``numgan train`` for the messages, as far as argv says before parsing."""
    names = ("train", "sample", "evaluate", "plot", "sweep", "bench")
    return next((f"numgan {a}" for a in argv if a in names), "numgan")


def _leave_while_starting(command: str):
    """The SIGINT handler while numgan loads: one line, exit code 130, at once.

    Nothing is written before the imports end, so there is nothing to save.  A
    KeyboardInterrupt raised inside a library's import instead can surface as an ImportError
    (NumPy's C extension) or, raised in code run by eval (namedtuple, dataclasses), make
    Python kill itself with SIGINT at exit whatever the exit code.
    """

    def leave(signum: int, frame: object) -> None:
        sys.stderr.write(f"{command}: interrupted while starting; nothing was written\n")
        sys.stderr.flush()
        os._exit(130)

    return leave


def _matplotlib_config_folder() -> None:
    """Where home is read-only, give matplotlib a temporary config folder before it looks.

    It would make one itself, but announce it in a two-line warning on every command; numgan's
    own notice of a read-only install (numgan/kernels/flags.py) already says it in one.
    """
    if "MPLCONFIGDIR" in os.environ:
        return
    import tempfile
    from pathlib import Path

    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    folder = Path(config_home) / "matplotlib"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        try:
            os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="numgan-matplotlib-")
        except OSError:
            pass  # nowhere to write at all: matplotlib says so itself


def main(argv: list[str] | None = None) -> int:
    """Run one ``numgan`` command; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command(argv)
    _matplotlib_config_folder()
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        previous = signal.signal(signal.SIGINT, _leave_while_starting(command)) or signal.SIG_DFL
    try:
        if argv[:1] == ["bench"]:
            # The benchmark parses its own flags (argparse.REMAINDER would drop leading options).
            from .bench import main as bench_main
        else:
            args = build_parser().parse_args(argv)
        # The rest of what every command needs, before its work starts.
        from ..gan import DivergenceError
        from ..gan.checkpoint import CheckpointError
        from .config import RunError
        from .run import Stopped
    except KeyboardInterrupt:  # off the main thread, or before the handler was installed
        print(f"{command}: interrupted while starting; nothing was written", file=sys.stderr)
        return 130
    except ImportError as err:
        if not str(err).startswith(("NUMGAN_", "NUMBA_")):
            raise  # a broken install: its traceback is the useful report
        # a setting read at import (NUMGAN_BACKEND, NUMGAN_BLAS, NUMBA_NUM_THREADS)
        print(f"{command}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    try:
        if argv[:1] == ["bench"]:
            return bench_main(argv[1:])
        return _run(args)
    except Stopped as stop:
        print(f"{command}: {stop}", file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        # Outside train's loop (which saves whole iterations): every file is written atomically.
        print(f"{command}: interrupted; no file was left half-written", file=sys.stderr)
        return 130
    except (
        RunError,
        CheckpointError,
        DivergenceError,
        ValueError,
        TypeError,
        OSError,
        ImportError,
        MemoryError,
    ) as err:
        message = " ".join(str(err).split())  # one line, whatever the exception held
        if isinstance(err, OSError) and err.filename is not None and err.strerror:
            message = _os_message(err)
        if isinstance(err, MemoryError):
            message = f"out of memory ({message or 'no details'})"
        print(f"{command}: error: {message}", file=sys.stderr)
        return 1


# What to do about the file-system errors a path given on the command line runs into.
_OS_FIXES = {
    errno.ENOTDIR: "a part of that path is a file, not a folder: choose another path",
    errno.EISDIR: "that is a folder: give the path of a file",
    errno.ENOENT: "no such file or folder: check the path",
    errno.EEXIST: "a file of that name is in the way: move it or choose another path",
    errno.EACCES: "no permission there: choose a path you can write to",
    errno.EPERM: "no permission there: choose a path you can write to",
    errno.EROFS: "a read-only file system: choose a path you can write to",
    errno.ENOSPC: "the disk is full: free space or choose another disk",
}


def _os_message(err: OSError) -> str:
    """``path: what went wrong; what to do``, for an OSError that names its path."""
    fix = _OS_FIXES.get(err.errno)
    return f"{err.filename}: {err.strerror.lower()}" + (f" ({fix})" if fix else "")


if __name__ == "__main__":
    sys.exit(main())
