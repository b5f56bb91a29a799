"""benchmarks/profile_rows.py: the split of an iteration's time adds up, the timers leave the
layers as they found them, and bad flags fail in one line.  Nothing here asserts a speed."""

import json
from types import SimpleNamespace

import profile_rows
import pytest

import numgan as ng
from numgan.app.bench import build_trainer, flops_per_iteration, model_specs
from numgan.nn.layer import all_layers

ROWS = ["1", "3", "3-tanh", "3-sigmoid"]
LAYER_KEYS = {"matmul", "around_matmul", "activation", "optimiser", "rest"}


def run_quick(tmp_path, capsys, *flags):
    """main() on rows 1 and 3, --quick, one thread; returns (report, stdout)."""
    path = tmp_path / "out" / "profile.json"
    code = profile_rows.main(
        ["--quick", "--models", "1,3", "--threads", "1", "--json", str(path), *flags],
        prog="profile_rows",
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(path.read_text()), out


def check_sums(side):
    """The categories add up to the iteration's wall time, and the shares to 100%."""
    assert sum(side["categories"].values()) == pytest.approx(side["wall_ms"], rel=1e-9)
    assert sum(side["percent"].values()) == pytest.approx(100.0, rel=1e-9)
    assert side["wall_ms"] > 0 and side["plain_ms"] > 0
    for key, ms in side["categories"].items():
        assert key in profile_rows.LABELS
        if key not in profile_rows.MAY_BE_NEGATIVE:
            assert ms >= 0, key


def test_numgan_split_adds_up_and_timers_are_removed(tmp_path, capsys, monkeypatch):
    trainers = []

    def recording(*args, **kwargs):
        trainers.append(build(*args, **kwargs))
        return trainers[-1]

    build = profile_rows.build_trainer
    monkeypatch.setattr(profile_rows, "build_trainer", recording)
    report, out = run_quick(tmp_path, capsys, "--no-torch")
    assert [row["key"] for row in report["rows"]] == ROWS
    assert report["command"] == (
        f"profile_rows --quick --models 1,3 --threads 1 --json {tmp_path}/out/profile.json "
        "--no-torch"
    )
    assert report["threads"]["requested"] == 1 and report["machine_kind"]
    for row in report["rows"]:
        assert row["batch_size"] == 8
        assert row["torch"] == {"status": "unavailable", "note": "left out (--no-torch)"}
        nb = row["numgan"]
        check_sums(nb)
        if row["key"] == "1":
            assert nb["path"] == "layers" and nb["iterations"] == 3
            assert LAYER_KEYS <= set(nb["categories"]) <= set(profile_rows.LABELS)
            # every timed call lies inside the iteration's wall time: the rest cannot be < 0
            assert nb["categories"]["rest"] >= 0
            # the products and what is around them are the Dense layers' time, split
            split = nb["categories"]["matmul"] + nb["categories"]["around_matmul"]
            assert split == pytest.approx(nb["timed_ms"]["dense"], rel=1e-9)
            assert nb["categories"]["matmul"] == nb["matmul_ms"] > 0
            assert nb["matmul_ceiling_ms"] > 0
            # D's one pass on [x; G(z)] and the skipped first-layer dx: 25 products, not 36
            assert (nb["products"], nb["matmul_ceiling_products"]) == (25, 36)
            # G: 3 Dense + 3 activations, D: 3 Dense + 2 activations; forward and backward
            # several times per iteration, 4 optimiser calls
            assert nb["wrapped_calls_per_iteration"] > 20
        else:
            assert nb["path"] == "fused step" and nb["iterations"] == 200
            assert set(nb["categories"]) == {"jitted", "rest"}
            assert nb["categories"]["jitted"] > 0 and nb["wall_ms"] == nb["plain_ms"]
    # the wrapped methods are the classes' again
    assert trainers
    for trainer in trainers:
        for net in (trainer.gan.G, trainer.gan.D):
            assert "zero_grad" not in vars(net)
            for layer in all_layers(net.layers):
                assert "forward" not in vars(layer) and "backward" not in vars(layer)
        assert "step" not in vars(trainer.opt_g) and "step" not in vars(trainer.opt_d)
    assert out.startswith("## Where one training iteration's time goes")
    assert f"Command: `{report['command']}`" in out and report["machine_kind"] in out
    assert out.count("| category | numgan ms/it | numgan % | PyTorch ms/it | PyTorch % |") == 4
    assert "| jitted iteration (plan.run) |" in out and "| matrix products |" in out
    assert "PyTorch: left out (--no-torch)" in out


def test_torch_split_adds_up(tmp_path, capsys):
    pytest.importorskip("torch")
    report, out = run_quick(tmp_path, capsys)
    assert report["torch"] == "ok" and report["threads"]["torch"] == 1
    for row in report["rows"]:
        tt = row["torch"]
        assert tt["status"] == "ok" and tt["iterations"] == tt["profiled_iterations"] == 3
        check_sums(tt)
        assert {"matmul", "optimiser", "loss", "rest"} <= set(tt["categories"])
        # the walk over the event tree and key_averages count the same self time
        ops = sum(v for k, v in tt["categories"].items() if k != "rest")
        assert ops == pytest.approx(tt["key_averages_self_ms"], rel=1e-6)
        assert tt["event_threads"] >= 1 and tt["top_ops"]
        check_sums(row["numgan"])
    assert "PyTorch's largest ops" in out


def test_path_products_are_what_the_layers_run():
    """Row 1 on the Numba backend: D runs once on the 2m rows [x; G(z)] in the D step, and
    neither network's first layer computes dx where its input is data or noise."""
    (spec,) = model_specs([1])
    trainer = build_trainer(spec, batch_size=8, data_size=64)
    ng.set_backend("numba")
    products = profile_rows.path_products(trainer, spec, 8)
    d_step = products[:11]  # G forward, D forward, D backward (3 dW, 2 dx)
    assert [p[0] for p in d_step] == ["G"] * 3 + ["D"] * 8
    assert {p[3] for p in d_step if p[0] == "D"} == {16}  # 2m rows
    assert ("D", 0, "dx", 16, 784, 240) not in products  # D's input is data
    assert ("G", 0, "dx", 8, 100, 1200) not in products  # G's input is noise
    assert ("D", 0, "dx", 8, 784, 240) in products  # the G step's dx reaches D's input
    # the same flops as Algorithm 1 as written, minus the skipped dx products
    skipped = 2 * 8 * (2 * 784 * 240 + 100 * 1200)
    flops = sum(2 * M * K * N for *_, M, K, N in products)
    assert flops == flops_per_iteration(spec, 8) - skipped
    ng.set_backend("numpy")  # two D passes of m rows: Algorithm 1's 36 less 3 first-layer dx
    assert len(profile_rows.path_products(trainer, spec, 8)) == 33


def test_torch_op_categories():
    cat = profile_rows.torch_category
    assert cat("aten::addmm") == cat("aten::mm") == cat("aten::linear") == "matmul"
    assert cat("aten::convolution_backward") == cat("aten::mkldnn_convolution") == "matmul"
    assert cat("AddmmBackward0") == cat("ConvolutionBackward0") == "autograd"
    assert cat("autograd::engine::evaluate_function: TanhBackward0") == "autograd"
    assert cat("aten::_fused_adam_") == cat("Optimizer.step#SGD.step") == "optimiser"
    assert cat("aten::_foreach_add_") == cat("Optimizer.zero_grad#Adam.zero_grad") == "optimiser"
    assert cat("aten::native_batch_norm_backward") == "batchnorm"
    assert cat("aten::binary_cross_entropy_with_logits") == "loss"
    assert cat("aten::leaky_relu_backward") == cat("aten::threshold_backward") == "activation"
    assert cat("aten::cat") == cat("aten::empty") == "other"
    # an op takes the category of the outermost op around it that has one
    bce = SimpleNamespace(name="aten::binary_cross_entropy_with_logits", cpu_parent=None)
    inner = SimpleNamespace(name="aten::log_sigmoid_forward", cpu_parent=bce)
    node = SimpleNamespace(name="AddmmBackward0", cpu_parent=None)
    mm = SimpleNamespace(name="aten::mm", cpu_parent=node)
    alloc = SimpleNamespace(name="aten::empty", cpu_parent=mm)
    cache = {}
    assert profile_rows.event_category(inner, cache) == "loss"
    assert profile_rows.event_category(alloc, cache) == "matmul"
    assert profile_rows.event_category(node, cache) == "autograd"


def test_timers_keep_own_time_and_restore_on_error():
    class Net:
        def inner(self):
            return 1

        def outer(self):
            return self.inner() + 1

        def fails(self):
            raise KeyError("x")

    net = Net()
    own = net.inner  # an instance attribute of its own: put back as it was
    net.inner = own
    timers = profile_rows.Timers()
    for name, category in (("inner", "a"), ("outer", "b"), ("fails", "b")):
        timers.wrap(net, name, category)
    try:
        assert net.outer() == 2
        with pytest.raises(KeyError):
            net.fails()
    finally:
        timers.restore()
    assert timers.calls == {"a": 1, "b": 2}
    assert all(v >= 0 for v in timers.seconds.values())
    assert vars(net) == {"inner": own}


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        (["--bogus"], 2),
        (["--iterations", "x"], 2),
        (["--iterations", "0"], 1),
        (["--models", "9"], 1),
        (["--models", ""], 1),
        (["--threads", "0"], 1),
        (["--batch-size", "1"], 1),
        (["--seed", "-1"], 1),
    ],
)
def test_bad_flags_fail_in_one_line(flags, code, capsys):
    assert profile_rows.main(flags, prog="profile_rows") == code
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("profile_rows: error: ") and err.count("\n") == 1
