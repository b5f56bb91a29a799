"""Checkpoints: exact resume, atomic writes, clear errors."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numgan as ng
from numgan.gan import checkpoint


def paper_like(seed=0):
    """BatchNorm in G, Maxout + Dropout in D, Adam for G: every kind of state a run holds."""
    G = ng.Sequential([ng.Dense(4, 16), ng.BatchNorm(16), ng.ReLU(), ng.Dense(16, 6), ng.Sigmoid()])
    D = ng.Sequential([ng.Dropout(0.2), ng.Maxout(6, 8, 3), ng.Dropout(0.5), ng.Dense(8, 1)])
    data = np.random.default_rng(5).uniform(size=(200, 6))
    return ng.Trainer(
        ng.GAN(G, D, ng.UniformNoise(4)),
        data,
        batch_size=16,
        k=2,
        seed=seed,
        opt_g=ng.Adam(lr=1e-3),
        opt_d=ng.SGD(lr=0.05, momentum=0.5),
    )


def toy(seed=0):
    return ng.Trainer(
        ng.models.toy1d(),
        ng.Gaussian1D(),
        batch_size=32,
        seed=seed,
        opt_g=ng.SGD(lr=0.05, momentum=0.5),
        opt_d=ng.SGD(lr=0.05, momentum=0.5),
    )


def full_state(trainer):
    state = checkpoint.trainer_state(trainer)
    del state["config"]
    return state


@pytest.mark.parametrize("make", [paper_like, toy], ids=["layers", "fused-when-numba"])
def test_resume_is_bit_identical(make, tmp_path):
    straight = make()
    straight.train(30)

    first = make()
    first.train(15)
    path = checkpoint.save(tmp_path / "last.npz", first, {"seed": 0})
    resumed = make(seed=123)  # a different seed: everything must come from the checkpoint
    checkpoint.restore(resumed, checkpoint.load(path))
    assert resumed.iteration == 15
    resumed.train(15)

    a, b = full_state(straight), full_state(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_write_is_atomic(tmp_path, monkeypatch):
    trainer = toy()
    trainer.train(3)
    path = checkpoint.save(tmp_path / "last.npz", trainer)
    before = path.read_bytes()
    trainer.train(3)

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # a kill in the middle of the write

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, trainer)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.npz"]  # no temporary left behind
    monkeypatch.undo()
    assert checkpoint.load(path)["iteration"] == 3


def test_bad_checkpoints_are_named(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="no such checkpoint"):
        checkpoint.load(tmp_path / "missing.npz")
    with pytest.raises(checkpoint.CheckpointError, match="a directory, not a checkpoint file"):
        checkpoint.load(tmp_path)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(checkpoint.CheckpointError, match="not a numgan checkpoint .*holds x"):
        checkpoint.load(other)
    trainer = toy()
    trainer.train(2)
    path = checkpoint.save(tmp_path / "toy.npz", trainer)
    with pytest.raises(checkpoint.CheckpointError, match="does not fit this model"):
        checkpoint.restore(paper_like(), checkpoint.load(path))


# -- damaged and hostile checkpoints: one line each, and the trainer untouched -------------------


@pytest.fixture
def saved(tmp_path):
    """A real checkpoint of a toy run after 4 iterations, and its arrays."""
    trainer = toy()
    trainer.train(4)
    path = checkpoint.save(tmp_path / "last.npz", trainer, {"seed": 0})
    with np.load(path, allow_pickle=False) as f:
        arrays = {key: f[key] for key in f.files}
    return path, arrays


def one_line_error(call, *phrases: str) -> str:
    """call() raises a one-line CheckpointError holding every phrase; -> its message."""
    with pytest.raises(checkpoint.CheckpointError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message and "pickle" not in message, message
    for phrase in phrases:
        assert phrase in message, message
    return message


def rewritten(path, arrays, compressed=False, **changes):
    """The checkpoint at path written again from arrays, with changes (None removes a key)."""
    state = {**arrays, **changes}
    state = {key: value for key, value in state.items() if value is not None}
    (np.savez_compressed if compressed else np.savez)(path, **state)
    return path


@pytest.mark.parametrize(
    "raw, phrases",
    [
        (b"", ["an empty file (0 bytes), not a numgan checkpoint"]),
        (bytes(range(256)) * 8, ["not a numgan checkpoint: not even a .npz"]),
        (b"PK\x03\x04" + bytes(200), ["not a readable checkpoint: corrupt or truncated"]),
    ],
    ids=["empty", "random-bytes", "junk-zip"],
)
def test_files_that_are_no_checkpoint(tmp_path, raw, phrases):
    path = tmp_path / "last.npz"
    path.write_bytes(raw)
    one_line_error(lambda: checkpoint.load(path), str(path), *phrases)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_checkpoint(saved, fraction):
    path, _ = saved
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * fraction)])
    one_line_error(lambda: checkpoint.load(path), str(path), "not a readable checkpoint")


def test_a_corrupt_compressed_stream(saved):
    path, arrays = saved
    raw = bytearray(rewritten(path, arrays, compressed=True).read_bytes())
    raw[len(raw) // 3 : len(raw) // 3 + 40] = bytes(40)
    path.write_bytes(bytes(raw))
    one_line_error(lambda: checkpoint.load(path), str(path), "corrupt or truncated (")


def test_a_damaged_byte_fails_the_crc(saved):
    path, _ = saved
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    one_line_error(lambda: checkpoint.load(path), str(path), "Bad CRC-32")


def test_a_member_header_claiming_terabytes(saved):
    path, arrays = saved
    text = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 1000), }"
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    header = b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text
    with zipfile.ZipFile(path, "w") as zf:
        for key, value in arrays.items():
            buf = io.BytesIO()
            np.save(buf, value)
            zf.writestr(f"{key}.npy", header if key == "G/0.W" else buf.getvalue())
    one_line_error(
        lambda: checkpoint.load(path),
        str(path),
        "G/0.W: truncated, or its header is wrong: its header says shape (1000000000000, 1000) "
        "of float32",
        "not a readable checkpoint",
    )


def test_python_objects_are_refused_unread(saved):
    path, arrays = saved
    rewritten(path, arrays, rng=np.array([{"state": 1}], dtype=object))
    one_line_error(
        lambda: checkpoint.load(path),
        str(path),
        "not a numgan checkpoint: rng: holds Python objects",
    )


@pytest.mark.parametrize(
    "changes, phrases",
    [
        ({"rng": np.array("{not json")}, ["damaged: rng is not valid JSON"]),
        ({"rng": np.array('{"state": {}}')}, ["the RNG state lacks its bit_generator"]),
        ({"rng": np.array('{"bit_generator": "Nope"}')}, ["bit generator 'Nope', not one of"]),
        (
            {"rng": np.array('{"bit_generator": "PCG64", "state": {"state": "x"}}')},
            ["not a valid PCG64 state"],
        ),
        ({"rng": np.array("[1, 2]")}, ["rng should be a JSON object, found list"]),
        ({"rng": np.array(3.5)}, ["rng should be a JSON string"]),
        ({"rng": None}, ["damaged: it lacks rng"]),
        ({"config": np.array("{{")}, ["damaged: config is not valid JSON"]),
        ({"config": np.array("[" * 100_000)}, ["damaged: config is not valid JSON"]),
        ({"config": np.array('"text"')}, ["config should be a JSON object, found str"]),
        ({"format": np.array("one")}, ["format should be an integer"]),
        ({"format": np.array(7)}, ["checkpoint format 7, this numgan reads format 1"]),
        ({"iteration": np.array(-1)}, ["iteration -1 is negative"]),
        ({"iteration": np.arange(3)}, ["iteration should be an integer, found shape (3,)"]),
        ({"G/0.W": np.full((1, 16), "a")}, ["G/0.W has dtype <U1, not numbers"]),
        ({"D/0.W": np.full((1, 16), np.nan, np.float32)}, ["D/0.W holds NaN or inf"]),
        ({"opt_g/t": np.array(2.5)}, ["the step count opt_g/t should be an integer >= 0"]),
    ],
)
def test_damaged_entries_are_named(saved, changes, phrases):
    path, arrays = saved
    rewritten(path, arrays, **changes)
    one_line_error(lambda: checkpoint.load(path), str(path), *phrases)


def test_config_of_a_state_in_memory_names_the_checkpoint():
    state = checkpoint.trainer_state(toy())
    state["config"] = np.array("{oops")
    one_line_error(lambda: checkpoint.config_of(state), "the checkpoint: damaged: config")


def mt19937_json() -> str:
    """A valid RNG state, of another bit generator than the trainer's PCG64."""
    state = np.random.MT19937(1).state
    state["state"]["key"] = state["state"]["key"].tolist()
    return json.dumps(state)


@pytest.mark.parametrize(
    "changes, phrases",
    [
        ({"G/0.W": np.zeros((3, 16), np.float32)}, ["G/0.W has shape (3, 16)", "(1, 16)"]),
        ({"D/3.b": None}, ["does not fit this model: it lacks D/3.b"]),
        ({"G/9.W": np.zeros(2, np.float32)}, ["it has G/9.W, which this model's G has not"]),
        ({"G/0.W": np.full((1, 16), 1e300)}, ["G/0.W holds values beyond float32"]),
        ({"opt_d/velocity": np.zeros(5, np.float32)}, ["opt_d/velocity has shape (5,)"]),
        (
            {"opt_g/velocity": None, "opt_g/m": np.zeros(3, np.float32)},
            ["it lacks opt_g/velocity and it has opt_g/m, which this run's SGD has not"],
        ),
        ({"history/g_loss": np.zeros(3)}, ["history/g_loss should hold one value per iteration"]),
        ({"history/value": None}, ["history/value should hold one value", "found nothing"]),
        (
            {"rng": np.array(mt19937_json())},
            ["does not fit this trainer: its RNG is a MT19937, the trainer's a PCG64"],
        ),
    ],
)
def test_a_checkpoint_that_does_not_fit_leaves_the_trainer_untouched(saved, changes, phrases):
    path, arrays = saved
    rewritten(path, arrays, **changes)
    state = checkpoint.load(path)  # each entry is sound on its own: only the model says no
    trainer = toy(seed=7)
    trainer.train(2)
    before = checkpoint.trainer_state(trainer)
    before_rng = trainer.rng.bit_generator.state
    one_line_error(lambda: checkpoint.restore(trainer, state), str(path), *phrases)
    after = checkpoint.trainer_state(trainer)
    assert after.keys() == before.keys()
    for key in before:
        assert np.array_equal(after[key], before[key]), key
    assert trainer.rng.bit_generator.state == before_rng and trainer.iteration == 2


def test_a_model_that_fits_in_g_but_not_in_d_changes_nothing(tmp_path):
    """The old failure: G restored, then D refused, leaving half a run."""
    donor = paper_like()
    donor.train(3)
    state = checkpoint.trainer_state(donor)
    state["D/3.W"] = np.zeros((9, 1), np.float32)  # D's last layer, wrong; G is fine
    target = paper_like(seed=4)
    g_before = target.gan.G.state_dict()
    one_line_error(lambda: checkpoint.restore(target, state), "the checkpoint", "D/3.W")
    for name, value in target.gan.G.state_dict().items():
        assert np.array_equal(value, g_before[name]), name
    assert target.iteration == 0 and target.opt_g.t == 0


def test_a_state_in_memory_restores_as_from_a_file():
    donor = toy()
    donor.train(5)
    trainer = toy(seed=9)
    checkpoint.restore(trainer, checkpoint.trainer_state(donor))
    a, b = full_state(donor), full_state(trainer)
    for key in a:
        assert np.array_equal(a[key], b[key]), key


@given(
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_any_damage_is_a_one_line_checkpoint_error_or_a_sound_restore(saved, cut, flips):
    path, _ = saved
    raw = bytearray(path.read_bytes())
    for at, value in flips:
        raw[int(at * (len(raw) - 1))] = value
    damaged = path.with_name("damaged.npz")
    damaged.write_bytes(bytes(raw[: max(1, round(cut * len(raw)))]))
    trainer = toy(seed=3)
    try:
        checkpoint.restore(trainer, checkpoint.load(damaged))
    except checkpoint.CheckpointError as err:
        message = str(err)
        assert "\n" not in message and message.startswith(str(damaged)), message
        assert "pickle" not in message, message
    else:  # the damage missed everything checked (a zip comment, say): the run must be whole
        assert trainer.iteration == 4 and len(trainer.history["d_loss"]) == 4


def test_a_pipe_or_an_unreadable_file(tmp_path, monkeypatch):
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    one_line_error(lambda: checkpoint.load(fifo), f"{fifo}: not a regular file")
    path = checkpoint.save(tmp_path / "last.npz", toy())

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoint, "open", refuse, raising=False)  # as chmod 000 would
    one_line_error(lambda: checkpoint.load(path), f"{path}: cannot be read (Permission denied)")
