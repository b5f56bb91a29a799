"""The ``numgan`` command line.

    numgan train [--dataset NAME|PATH] [--model NAME] [...] [--out RUN_DIR] [--resume RUN_DIR]
    numgan sample RUN_DIR [--n 64] [-o grid.png|samples.npy]
    numgan evaluate RUN_DIR            prints the metrics, writes RUN_DIR/metrics.json
    numgan plot RUN_DIR                loss curves and sample figures into RUN_DIR
    numgan bench [...]                 training speed (see docs/benchmarks.md)

Errors are one line on stderr and a non-zero exit code, never a traceback.  argparse only
parses the flags' types; their values are checked where they are used (TrainConfig for the
training options), so a flag and a config file key fail with the same message.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data import DATASETS
from ..gan import DivergenceError
from ..gan.checkpoint import CheckpointError
from .config import CHOICES, FIELDS, RunError, flag, resolve_config
from .parser import OneLineParser
from .results import evaluate_run, plot_run, sample_run
from .run import default_run_dir, read_run_config, train


def _or(name: str) -> str:
    return " or ".join(CHOICES[name])


TRAIN_FLAGS = {
    # flag: help; every default is None so that only given flags override
    "dataset": f"{', '.join(DATASETS)}, or a .npy/.npz file (default: digits)",
    "model": f"{', '.join(CHOICES['model'])} (default: the dataset's)",
    "iterations": "total iterations of the run (a resumed run continues up to it)",
    "batch_size": "m, per minibatch of noise and of data",
    "k": "discriminator steps per generator step",
    "g_loss": _or("g_loss"),
    "optimizer": _or("optimizer"),
    "lr": "learning rate",
    "momentum": "SGD's momentum, or Adam's beta1",
    "seed": "seeds the run's one random Generator",
    "data_dir": "folder of the MNIST IDX files (default: $NUMGAN_DATA)",
    "output": "images: G ends in sigmoid (pixels in [0, 1], default) or tanh ([-1, 1])",
    "path": "auto (default: fused where the model allows it, else layers), layers (the nn "
    "layers, as docs/algorithm1.md reads them) or fused (one jitted call per iteration)",
    "sample_every": "iterations between sample grids (0: ten per run)",
    "checkpoint_every": "iterations between checkpoints (0: ten per run)",
}
_TYPES = {"int": int, "float": float, "str": str}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="numgan", description="numgan: GANs in NumPy with hand-written backprop."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "train",
        help="train a GAN; writes a run folder",
        description="Train G and D by Algorithm 1. Flags override --config, "
        "which overrides the dataset's defaults.",
    )
    for name, text in TRAIN_FLAGS.items():
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

    p = sub.add_parser("evaluate", help="Parzen log-likelihood, mode coverage or 1-D checks")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--n-samples", type=int, default=10_000, help="generated samples to use")

    p = sub.add_parser("plot", help="loss curves and sample figures into RUN_DIR")
    p.add_argument("run_dir", metavar="RUN_DIR")

    sub.add_parser(
        "bench",
        add_help=False,
        help="time training iterations/s: numgan (Numba, NumPy) against PyTorch",
    )
    return parser


def _train(args) -> int:
    flags = {name: getattr(args, name) for name in TRAIN_FLAGS}
    if args.resume:
        run_dir = Path(args.resume)
        if args.out and Path(args.out) != run_dir:
            raise RunError("--resume continues a run in its own folder: drop --out")
        config = resolve_config(flags, config_file=args.config, base=read_run_config(run_dir))
        train(config, run_dir, resume=True)
    else:
        config = resolve_config(flags, config_file=args.config)
        run_dir = Path(args.out) if args.out else default_run_dir(config)
        if (run_dir / "checkpoints" / "last.npz").exists():
            raise RunError(
                f"{run_dir} already holds a run: use --resume {run_dir} to continue "
                "it, or another --out"
            )
        train(config, run_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # The benchmark parses its own flags (argparse.REMAINDER would drop leading options).
        from .bench import main as bench_main

        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "sample":
            out = Path(args.output) if args.output else Path(args.run_dir) / "sample.png"
            print(sample_run(Path(args.run_dir), args.n, out, args.seed))
        elif args.command == "evaluate":
            evaluate_run(Path(args.run_dir), args.n_samples)
        elif args.command == "plot":
            plot_run(Path(args.run_dir))
        return 0
    except KeyboardInterrupt:
        print(
            f"numgan {args.command}: interrupted; the last checkpoint is complete", file=sys.stderr
        )
        return 130
    except DivergenceError as err:
        print(
            f"numgan {args.command}: error: {err}; the last good checkpoint is kept",
            file=sys.stderr,
        )
        return 1
    except (RunError, CheckpointError, ValueError, TypeError, OSError, ImportError) as err:
        message = " ".join(str(err).split())  # one line, whatever the exception held
        print(f"numgan {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
