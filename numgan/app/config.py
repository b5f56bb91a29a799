"""A run's config: its options, their defaults per dataset, and the one place that checks them.

A run's config is resolved in layers: the dataset's defaults (``DATASET_DEFAULTS``: a model and
hyperparameters that train well on it), the model's own where it has them (``MODEL_DEFAULTS``:
dcgan's tanh output and Adam settings, whatever the dataset), then a TOML file (``--config``),
then the flags given on the command line.  ``resolve_config`` only merges the layers;
``TrainConfig.__post_init__`` checks every value, whichever layer it came from, so a bad option
is the same one-line error from a flag, a config file or the Python API.  The choices come from
the code that owns them: the generator losses from ``numgan.gan.objectives``, the models from
``numgan.gan.models``, the pixel ranges from ``numgan.data``, the optimisers and paths from the
tables below.  The dataset is the exception: a name or a file's path, it is checked when it is
loaded.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import tomllib
from dataclasses import dataclass
from typing import Any

import tomli_w

from ..data import PIXEL_RANGES
from ..gan import models
from ..gan.objectives import ALL_G_LOSSES, D_LOSSES
from ..nn import SGD, Adam

# --optimizer NAME -> the optimiser class; ``momentum`` is SGD's momentum or Adam's beta1.
OPTIMIZERS = {"sgd": SGD, "adam": Adam}
SEED_MAX = 2**63 - 1  # the largest integer TOML holds

# --path NAME -> Trainer(fused=...): "auto" runs the fused step where the model allows it.
PATHS = {"auto": "auto", "layers": False, "fused": True}

# What `numgan train --dataset NAME` uses when nothing else is said.  Chosen by runs on a
# 2-core machine; docs/results.md has the commands and what they gave.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "toy1d": {
        "model": "toy1d",
        "iterations": 6000,
        "batch_size": 64,
        "k": 2,
        "optimizer": "sgd",
        "lr": 0.01,
        "momentum": 0.5,
    },
    "ring8": {
        "model": "toy2d",
        "iterations": 5000,
        "batch_size": 256,
        "optimizer": "adam",
        "lr": 1e-3,
        "momentum": 0.5,
    },
    # PacGAN's optimiser settings (Adam lr 1e-4, beta1 0.8, batch 100); its 400,000 updates
    # would take an hour here, 100,000 take minutes (docs/results.md, section 4).
    "grid25": {
        "model": "toy2d",
        "iterations": 100000,
        "batch_size": 100,
        "optimizer": "adam",
        "lr": 1e-4,
        "momentum": 0.8,
    },
    "digits": {
        "model": "mlp-small",
        "iterations": 15000,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 2e-4,
        "momentum": 0.5,
    },
    "mnist": {
        "model": "paper-mnist",
        "iterations": 20000,
        "batch_size": 100,
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.5,
    },
    "file": {
        "model": "mlp-small",
        "iterations": 5000,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 2e-4,
        "momentum": 0.5,
    },
}


# What `--model NAME` brings with it, over the dataset's defaults (a file and flags still win).
# dcgan: Radford et al.'s Adam settings and tanh pixels; its iterations are what gives
# recognisable digits on MNIST in a few minutes on 2 cores (docs/results.md).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    # Conditional GANs.  cgan-small: mlp-small's optimiser; 10,000 iterations reach the
    # label fidelity docs/conditional.md reports.  cgan-mnist: Mirza & Osindero's SGD, lr 0.1
    # divided by 1.00004 every update, momentum 0.5 rising to 0.7 over the run, batch 100.
    "cgan-small": {
        "conditional": True,
        "iterations": 10000,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 2e-4,
        "momentum": 0.5,
    },
    "cgan-mlp": {
        "conditional": True,
        "iterations": 20000,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 2e-4,
        "momentum": 0.5,
    },
    "cgan-mnist": {
        "conditional": True,
        "iterations": 20000,
        "batch_size": 100,
        "optimizer": "sgd",
        "lr": 0.1,
        "lr_decay": 1.00004,
        "momentum": 0.5,
        "momentum_final": 0.7,
    },
    "dcgan": {
        "output": "tanh",
        "iterations": 3000,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 2e-4,
        "momentum": 0.5,
    },
}


# --conditional without --model: the conditional preset for the dataset (others: the dataset's
# own model with the label columns joined to its inputs, models.with_labels).
CONDITIONAL_MODELS = {"digits": "cgan-small", "mnist": "cgan-mnist", "file": "cgan-small"}


class RunError(ValueError):
    """A problem with a run's inputs: printed by the CLI as one line."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.  ``momentum`` is SGD's momentum or Adam's beta1."""

    dataset: str = "digits"
    model: str = "mlp-small"
    iterations: int = 15000
    batch_size: int = 64
    k: int = 1
    g_loss: str = "non-saturating"
    conditional: bool = False  # G(z, y) and D(x, y) on labelled data (Mirza & Osindero 2014)
    loss: str = "cross-entropy"  # D's game: the 2014 cross-entropy, or least squares
    label_smoothing: float = 1.0  # D's target on data: 0.9 is one-sided smoothing; 1: off
    label_noise: float = 0.0  # probability of flipping each of D's targets; 0: off
    instance_noise: float = 0.0  # std of the noise on D's inputs at iteration 0; 0: off
    instance_noise_iterations: int = 0  # where that noise reaches 0; 0: the run's iterations
    replay: float = 0.0  # share of D's fakes drawn from a buffer of earlier ones; 0: off
    minibatch_discrimination: str = ""  # "B,C": B kernels of C dims before D's last layer
    optimizer: str = "adam"
    lr: float = 2e-4
    lr_decay: float = 1.0  # lr is divided by this at every update (floor 1e-6); 1: constant
    momentum: float = 0.5
    momentum_final: float = 0.0  # SGD's momentum rises linearly to it over the run; 0: constant
    momentum_iterations: int = 0  # where it gets there; 0: the run's iterations
    seed: int = 0
    data_dir: str = ""
    output: str = "sigmoid"  # images: a sigmoid G on pixels in [0, 1], or tanh on [-1, 1]
    path: str = "auto"  # auto: the fused step where the model allows it, else the layers
    sample_every: int = 0  # 0: ten times per run
    checkpoint_every: int = 0  # 0: ten times per run

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _typed(f.name, f.type, getattr(self, f.name)))
        for names, least in ((("iterations", "batch_size", "k"), 1), (EVERY, 0)):
            for name in names:
                if (value := getattr(self, name)) < least:
                    raise RunError(f"{flag(name)} must be a whole number >= {least}, got {value}")
        for name, choices in CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise RunError(f"{flag(name)} must be one of {', '.join(choices)}, got {value!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise RunError(f"--lr must be a positive, finite number, got {self.lr}")
        if not 0 < self.label_smoothing <= 1:
            raise RunError(
                f"--label-smoothing is D's target on data, in (0, 1] (0.9 smooths, 1 is off), "
                f"got {self.label_smoothing}"
            )
        if not 0 <= self.label_noise < 0.5:
            raise RunError(
                f"--label-noise is the probability of flipping each of D's targets, in "
                f"[0, 0.5), got {self.label_noise}"
            )
        self._check_remedies()
        self._check_schedules()
        if self.model in models.CONDITIONAL and not self.conditional:
            raise RunError(
                f"model {self.model} is a conditional GAN: leave conditional on (drop "
                "--no-conditional / conditional = false)"
            )
        if self.conditional and self.replay:
            raise RunError(
                "--replay does not work with --conditional (the buffer keeps samples, not "
                "their labels): drop one"
            )
        if not 0 <= self.momentum < 1:
            raise RunError(f"--momentum must be in [0, 1), got {self.momentum}")
        if self.seed < 0:
            raise RunError(
                f"--seed must be a whole number >= 0 (it seeds the run's random Generator), "
                f"got {self.seed}"
            )
        if self.seed > SEED_MAX:  # config.toml holds it, and TOML's integers are 64-bit
            raise RunError(f"--seed must be at most {SEED_MAX} (2**63 - 1), got {self.seed}")

    def _check_schedules(self) -> None:
        if not (math.isfinite(self.lr_decay) and self.lr_decay >= 1):
            raise RunError(
                f"--lr-decay divides the learning rate at every update: a number >= 1 (1 is "
                f"off; the conditional GAN paper used 1.00004), got {self.lr_decay}"
            )
        if self.momentum_final:
            if self.optimizer != "sgd":
                raise RunError(
                    "--momentum-final ramps SGD's momentum; with --optimizer adam set it to 0 "
                    "(model cgan-mnist's SGD defaults: with Adam also give --lr and "
                    "--lr-decay 1)"
                )
            if not 0 < self.momentum_final < 1:
                raise RunError(f"--momentum-final must be in (0, 1), got {self.momentum_final}")
        if self.momentum_iterations < 0:
            raise RunError(
                f"--momentum-iterations must be a whole number >= 0 (0: the run's iterations), "
                f"got {self.momentum_iterations}"
            )
        if self.momentum_final and not self.momentum_iterations:
            # Fixed when the run starts, so a resume with more iterations keeps the schedule.
            object.__setattr__(self, "momentum_iterations", self.iterations)

    def _check_remedies(self) -> None:
        if not (math.isfinite(self.instance_noise) and self.instance_noise >= 0):
            raise RunError(
                f"--instance-noise is the std of the noise on D's inputs, a number >= 0 "
                f"(0 is off), got {self.instance_noise}"
            )
        if self.instance_noise_iterations < 0:
            raise RunError(
                f"--instance-noise-iterations must be a whole number >= 0 (0: the run's "
                f"iterations), got {self.instance_noise_iterations}"
            )
        if self.instance_noise and not self.instance_noise_iterations:
            # Fixed when the run starts, so a resume with more iterations keeps the schedule.
            object.__setattr__(self, "instance_noise_iterations", self.iterations)
        if not 0 <= self.replay < 1:
            raise RunError(
                f"--replay is the share of D's fakes drawn from earlier ones, in [0, 1) (0 is "
                f"off), got {self.replay}"
            )
        minibatch_discrimination_sizes(self.minibatch_discrimination)
        if self.loss == "least-squares":
            if self.g_loss == "minimax":
                raise RunError(
                    "--g-loss minimax is the cross-entropy game's; least squares has its own G "
                    "loss: use --g-loss non-saturating (the default) or feature-matching"
                )
            for name, off in (("label_smoothing", 1.0), ("label_noise", 0.0)):
                if getattr(self, name) != off:
                    raise RunError(
                        f"{flag(name)} sets targets of the cross-entropy game; with --loss "
                        f"least-squares leave it at {off:g}"
                    )

    @property
    def every_sample(self) -> int:
        return self.sample_every or max(1, self.iterations // 10)

    @property
    def every_checkpoint(self) -> int:
        return self.checkpoint_every or max(1, self.iterations // 10)


EVERY = ("sample_every", "checkpoint_every")  # 0: ten times per run

# The options with a fixed set of values, each from its owner.
CHOICES: dict[str, tuple[str, ...]] = {
    "model": tuple(models.PRESETS),
    "g_loss": tuple(ALL_G_LOSSES),
    "loss": tuple(D_LOSSES),
    "optimizer": tuple(OPTIMIZERS),
    "output": tuple(PIXEL_RANGES),
    "path": tuple(PATHS),
}

FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def flag(name: str) -> str:
    """The command-line flag of a config field: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


def _typed(name: str, kind: str, value: Any) -> Any:
    """``value`` as the field's type; a config file's 'lr = "fast"' is an error naming both."""
    if kind == "int" and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if kind == "float" and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    what = {
        "int": "a whole number",
        "float": "a number",
        "str": "a string",
        "bool": "true or false",
    }[kind]
    raise RunError(f"{name} = {value!r}: {flag(name)} takes {what}")


def minibatch_discrimination_sizes(text: str) -> tuple[int, int] | None:
    """--minibatch-discrimination "B,C" -> (B, C); "" -> None (off)."""
    if text == "":
        return None
    parts = text.replace(" ", "").split(",")
    if len(parts) == 2 and all(p.isdigit() and int(p) >= 1 for p in parts):
        return int(parts[0]), int(parts[1])
    raise RunError(
        f"--minibatch-discrimination takes B,C: the number of kernels and their dimension, "
        f"two whole numbers >= 1 (16,8 say), got {text!r}"
    )


def dataset_kind(dataset: str) -> str:
    """The key of DATASET_DEFAULTS for a dataset name or file."""
    return dataset if dataset in DATASET_DEFAULTS else "file"


def resolve_config(
    flags: dict[str, Any], *, config_file: str | None = None, base: dict[str, Any] | None = None
) -> TrainConfig:
    """Dataset defaults, the model's, then ``base`` (a resumed run's config), the file, flags.

    A flag of None was not given.  TrainConfig checks the merged values.
    """
    from_file = read_config_file(config_file) if config_file else {}
    given = {k: v for k, v in flags.items() if v is not None}
    base = base or {}
    dataset = given.get("dataset", from_file.get("dataset", base.get("dataset", "digits")))
    defaults = DATASET_DEFAULTS[dataset_kind(dataset)]
    conditional = given.get("conditional", from_file.get("conditional", base.get("conditional")))
    default_model = defaults["model"]
    if conditional is True:
        default_model = CONDITIONAL_MODELS.get(dataset_kind(dataset), default_model)
    model = given.get("model", from_file.get("model", base.get("model", default_model)))
    defaults = {**defaults, **MODEL_DEFAULTS.get(model, {})}
    values = {**defaults, **base, **from_file, **given}
    values["dataset"], values["model"] = dataset, model
    return TrainConfig(**values)


def read_config_file(path: str) -> dict[str, Any]:
    """A flat TOML table of TrainConfig fields; an unknown key is an error that names it."""
    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except FileNotFoundError:
        raise RunError(f"{path}: no such config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise RunError(f"{path}: not valid TOML ({err})") from None
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise RunError(
            f"{path}: unknown config key(s) {', '.join(unknown)}; known keys: {', '.join(FIELDS)}"
        )
    return values


HEADER = "# numgan run config: every field, resolved"


def config_toml(config: TrainConfig, *, ran: str | None = None) -> str:
    """The config as TOML, every field; ``ran`` notes which path ran, as a comment on ``path``.

    Written by a TOML writer (tomli-w), so that what is written reads back as the same values.
    The field keeps what was asked: "auto" decides the same way again on resume (the model,
    optimiser and batch size it depends on cannot change), on the same backend.
    """
    lines = [HEADER]
    for line in tomli_w.dumps(dataclasses.asdict(config)).splitlines():
        if ran is not None and line.startswith("path = "):
            line += f"  # ran: {ran}"
        lines.append(line)
    return "\n".join(lines) + "\n"
