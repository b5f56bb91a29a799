"""A run's config: merged from defaults, a file and flags, and checked in one place."""

import tomllib

import pytest

from numgan.app.cli import TRAIN_FLAGS, build_parser
from numgan.app.config import (
    CHOICES,
    DATASET_DEFAULTS,
    FIELDS,
    RunError,
    TrainConfig,
    config_toml,
    read_config_file,
    resolve_config,
)
from numgan.data import PIXEL_RANGES
from numgan.gan import models
from numgan.gan.objectives import ALL_G_LOSSES, D_LOSSES


def test_the_choices_come_from_their_owners():
    assert CHOICES["model"] == tuple(models.PRESETS)
    assert CHOICES["g_loss"] == tuple(ALL_G_LOSSES)
    assert CHOICES["loss"] == tuple(D_LOSSES) == ("cross-entropy", "least-squares")
    assert CHOICES["output"] == tuple(PIXEL_RANGES)
    assert CHOICES["path"] == ("auto", "layers", "fused")
    assert CHOICES["optimizer"] == ("sgd", "adam")


def test_every_field_has_a_flag_and_argparse_repeats_no_choices():
    assert set(TRAIN_FLAGS) == set(FIELDS)
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    for action in train._actions:
        assert action.choices is None, action.dest


@pytest.mark.parametrize("name", list(CHOICES))
def test_a_bad_choice_names_the_flag_the_value_and_the_choices(name):
    with pytest.raises(RunError) as err:
        TrainConfig(**{name: "bogus"})
    flag = "--" + name.replace("_", "-")
    assert str(err.value) == f"{flag} must be one of {', '.join(CHOICES[name])}, got 'bogus'"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"iterations": 0}, "--iterations must be a whole number >= 1, got 0"),
        ({"batch_size": -3}, "--batch-size must be a whole number >= 1, got -3"),
        ({"checkpoint_every": -1}, "--checkpoint-every must be a whole number >= 0, got -1"),
        ({"lr": 0.0}, "--lr must be a positive, finite number, got 0.0"),
        ({"lr": float("nan")}, "--lr must be a positive, finite number, got nan"),
        ({"lr": float("inf")}, "--lr must be a positive, finite number, got inf"),
        ({"momentum": float("nan")}, "--momentum must be in [0, 1), got nan"),
        (
            {"seed": -1},
            "--seed must be a whole number >= 0 (it seeds the run's random Generator), got -1",
        ),
        (
            {"seed": 2**63},
            "--seed must be at most 9223372036854775807 (2**63 - 1), got 9223372036854775808",
        ),
        ({"momentum": 1.0}, "--momentum must be in [0, 1), got 1.0"),
        ({"lr": "fast"}, "lr = 'fast': --lr takes a number"),
        ({"iterations": 2.5}, "iterations = 2.5: --iterations takes a whole number"),
        ({"k": True}, "k = True: --k takes a whole number"),
        ({"model": 3}, "model = 3: --model takes a string"),
    ],
)
def test_bad_values_are_one_line_errors(values, message):
    with pytest.raises(RunError) as err:
        TrainConfig(**values)
    assert str(err.value) == message


def test_whole_numbers_are_taken_where_a_float_goes():
    config = TrainConfig(lr=1, momentum=0)
    assert config.lr == 1.0 and type(config.lr) is float and type(config.momentum) is float


def test_layers_defaults_then_base_then_file_then_flags(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('dataset = "ring8"\nlr = 0.002\npath = "layers"\n')
    config = resolve_config(
        {"iterations": 7, "seed": None}, config_file=str(path), base={"seed": 5, "lr": 0.1}
    )
    assert config.dataset == "ring8" and config.model == DATASET_DEFAULTS["ring8"]["model"]
    assert (config.iterations, config.seed, config.lr, config.path) == (7, 5, 0.002, "layers")


def test_a_bad_value_in_a_file_is_the_same_error_as_from_a_flag(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('optimizer = "rmsprop"\n')
    with pytest.raises(RunError, match="^--optimizer must be one of sgd, adam, got 'rmsprop'$"):
        resolve_config({}, config_file=str(path))


def test_every_config_toml_reads_back_as_the_same_values(tmp_path):
    """Written by a TOML writer: extreme but valid values survive the round trip."""
    config = TrainConfig(lr=1e-300, momentum=0.999999, seed=2**63 - 1, data_dir='C:\\d "q"\n')
    text = config_toml(config)
    assert text.startswith("# numgan run config")
    assert resolve_config({}, base=tomllib.loads(text)) == config


def test_config_toml_round_trips_and_notes_the_path_that_ran(tmp_path):
    config = TrainConfig(dataset="toy1d", model="toy1d", lr=0.05, path="auto")
    text = config_toml(config, ran="fused (one jitted call per iteration)")
    assert 'path = "auto"  # ran: fused (one jitted call per iteration)' in text
    assert tomllib.loads(text)["path"] == "auto"
    path = tmp_path / "config.toml"
    path.write_text(text)
    assert resolve_config({}, base=read_config_file(str(path))) == config


def test_a_run_folder_from_before_the_path_field_resumes_with_auto(tmp_path):
    path = tmp_path / "config.toml"
    text = config_toml(TrainConfig())
    path.write_text("\n".join(line for line in text.splitlines() if "path" not in line))
    assert resolve_config({}, base=read_config_file(str(path))).path == "auto"
