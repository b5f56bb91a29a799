"""The training-speed harness (numgan/bench.py): models, work counts, outputs, missing parts.

Everything here runs without PyTorch; the one test that compares numgan with PyTorch needs it
(an optional extra, which .ci/run installs) and skips, saying so, where it cannot be had.
"""

import json
import sys

import numpy as np
import pytest

import numgan as ng
from numgan.app import bench

SPECS = {spec.key: spec for spec in bench.model_specs((1, 2, 3))}


@pytest.fixture(autouse=True)
def backend():
    """Run each test once: the harness switches between numgan's backends by itself (this
    overrides conftest's fixture that repeats every test under each backend)."""
    before = ng.get_backend() if hasattr(ng, "get_backend") else None
    yield before
    if before is not None:
        ng.set_backend(before)


def kinds(net):
    return [type(layer).__name__ for layer in net.layers]


@pytest.mark.parametrize(
    "key, g_kinds, d_kinds, g_params, d_params, arch, m",
    [
        (
            "1",
            ["Dense", "ReLU", "Dense", "ReLU", "Dense", "Sigmoid"],
            ["Dense", "LeakyReLU", "Dense", "LeakyReLU", "Dense"],
            # 100*1200+1200 + 1200*1200+1200 + 1200*784+784;  784*240+240 + 240*240+240 + 241
            2_503_984,
            246_481,
            "G 100-1200-1200-784, D 784-240-240-1",
            100,
        ),
        (
            "2-sgd",
            ["Dense", "BatchNorm", "LeakyReLU"] * 3 + ["Dense", "Tanh"],
            ["Dense", "LeakyReLU", "Dense", "LeakyReLU", "Dense"],
            # the Dense layers, plus gamma and beta of BatchNorm(256), (512), (1024)
            25_856 + 131_584 + 525_312 + 803_600 + 2 * (256 + 512 + 1024),
            401_920 + 131_328 + 257,
            "G 100-256-512-1024-784, D 784-512-256-1",
            64,
        ),
        (
            "3",
            ["Dense", "LeakyReLU", "Dense", "LeakyReLU", "Dense"],
            ["Dense", "LeakyReLU", "Dense", "LeakyReLU", "Dense"],
            32 + 272 + 17,
            32 + 272 + 17,
            "G 1-16-16-1, D 1-16-16-1",
            64,
        ),
    ],
)
def test_model_builders_make_the_documented_architectures(
    key, g_kinds, d_kinds, g_params, d_params, arch, m
):
    spec = SPECS[key]
    trainer = bench.build_trainer(spec, data_size=16)
    G, D = trainer.gan.G, trainer.gan.D
    assert kinds(G) == g_kinds and kinds(D) == d_kinds
    assert G.num_parameters() == g_params and D.num_parameters() == d_params
    assert spec.arch() == arch and trainer.batch_size == m and trainer.k == 1
    assert G.dtype == D.dtype == np.float32
    assert trainer.data.x.dtype == np.float32
    for layer in G.layers + D.layers:
        if isinstance(layer, ng.LeakyReLU) and not isinstance(layer, ng.ReLU):
            assert layer.alpha == pytest.approx(0.2)
        if isinstance(layer, ng.BatchNorm):
            assert (layer.eps, layer.momentum) == (1e-5, 0.1)


def test_optimisers_of_each_row():
    sgd = bench.make_optimizer(SPECS["1"])
    assert isinstance(sgd, ng.SGD) and (sgd.lr, sgd.momentum) == (0.1, 0.5)
    assert SPECS["2-sgd"].optimizer == "sgd" and SPECS["3"].optimizer == "sgd"
    if not hasattr(ng, "Adam"):
        with pytest.raises(bench.Unavailable, match="Adam"):
            bench.make_optimizer(SPECS["2-adam"])
        return
    adam = bench.make_optimizer(SPECS["2-adam"])
    assert isinstance(adam, ng.Adam)
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps) == (2e-4, 0.5, 0.999, 1e-8)


def test_flop_count_formula():
    # Per sample: G's Dense forwards cost 2 * (100*1200 + 1200*1200 + 1200*784) = 5,001,600,
    # D's 2 * (784*240 + 240*240 + 240) = 492,000; an iteration is 4 F_G + 8 F_D.
    assert bench.flops_per_iteration(SPECS["1"], 100) == 100 * (4 * 5_001_600 + 8 * 492_000)
    assert bench.flops_per_iteration(SPECS["1"]) == 2_394_240_000
    assert bench.flops_per_iteration(SPECS["3"], 64) == 64 * 12 * 2 * (16 + 256 + 16)
    for spec in SPECS.values():
        for m in (7, 64):
            products = bench.matmul_products(spec, m)
            assert sum(2 * n * a * b for *_, n, a, b in products) == bench.flops_per_iteration(
                spec, m
            )


def test_matmul_products_follow_algorithm_1():
    spec = SPECS["1"]
    products = bench.matmul_products(spec, 100)
    g, d = len(spec.dense_shapes("g")), len(spec.dense_shapes("d"))
    count = {(net, kind): 0 for net in "GD" for kind in ("fwd", "dx", "dW")}
    for net, _, kind, *_ in products:
        count[net, kind] += 1
    # G: forward in the D step and in the G step, one backward.  D: forward on real, fake and
    # in the G step; dW only in the D step (twice); dx in all three backward passes.
    assert count == {
        ("G", "fwd"): 2 * g, ("G", "dx"): g, ("G", "dW"): g,
        ("D", "fwd"): 3 * d, ("D", "dx"): 3 * d, ("D", "dW"): 2 * d,
    }  # fmt: skip
    ceiling = bench.MatmulCeiling(spec, 4)
    assert len(ceiling.calls) == len(products)
    for a, b, out in ceiling.calls:
        assert a.shape[1] == b.shape[0] and out.shape == (a.shape[0], b.shape[1])
        assert a.dtype == b.dtype == out.dtype == np.float32
    ceiling.run(1)


def test_zero_gradient_parameters_and_state_comparison():
    assert bench.zero_gradient_params(SPECS["2-adam"]) == {"G.0.b", "G.3.b", "G.6.b"}
    assert bench.zero_gradient_params(SPECS["1"]) == set()
    ref = {"G.0.W": np.array([1.0, -2.0]), "G.0.b": np.array([1e-9])}
    ref["G.1.running_mean"] = np.ones(2)
    other = {"G.0.W": np.array([1.0, -1.999998]), "G.0.b": np.array([-1e-9])}
    other["G.1.running_mean"] = np.array([1.0, 1.5])
    result = bench.compare_states(other, ref, exclude={"G.0.b"})
    assert result["max_rel"] == pytest.approx(1e-6) and result["worst"] == "G.0.W"
    assert result["buffers_max_rel"] == pytest.approx(0.5)
    assert result["excluded"] == {"G.0.b": pytest.approx(2e-9)}


def quick(tmp_path, *args):
    return bench.main(["--quick", "--out", str(tmp_path), *args])


def test_quick_run_writes_markdown_json_and_plot(tmp_path, capsys):
    code = quick(tmp_path, "--no-torch", "--variants", "numpy,matmul", "--repeats", "2")
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads((tmp_path / "train_speed.json").read_text())
    assert [row["key"] for row in report["rows"]] == ["1", "2-sgd", "2-adam", "3"]
    for row in report["rows"]:
        assert row["batch_size"] == 8
        assert row["flops_per_iteration"] == bench.flops_per_iteration(SPECS[row["key"]], 8)
        for variant in ("numpy", "matmul"):
            res = row["results"][variant]
            assert res["status"] == "ok" and len(res["samples"]) == 2
            assert res["min"] <= res["median"] <= res["max"] and res["gflops"] > 0
        assert 0 < row["results"]["numpy"]["ceiling_fraction"]
    assert [p["batch_size"] for p in report["sweep"]["points"]] == [8, 16]
    assert report["threads"]["requested"] >= 1 and report["machine"]["nproc"] >= 1
    markdown = (tmp_path / "train_speed.md").read_text()
    assert "| model | m | optimiser |" in markdown and "| 3 1-D toy GAN | 8 |" in markdown
    assert markdown in out  # the table is printed to stdout too
    assert (tmp_path / "train_speed_model1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "bench: model 1" in err  # progress goes to stderr


def test_missing_torch_is_reported_as_unavailable(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    code = quick(tmp_path, "--models", "3", "--variants", "numpy,torch", "--batch-sizes", "none")
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads((tmp_path / "train_speed.json").read_text())
    assert report["variants"]["torch"].startswith("torch is not importable")
    (row,) = report["rows"]
    assert row["results"]["torch"]["status"] == "unavailable"
    assert row["results"]["numpy"]["status"] == "ok"
    assert report["sweep"] is None
    assert "PyTorch: unavailable: torch is not importable" in out
    assert "Traceback" not in err


def test_a_numgan_without_backend_switch_runs_its_one_path(tmp_path, capsys, monkeypatch):
    if hasattr(ng, "set_backend"):
        ng.set_backend("numpy")  # what a numgan without the switch runs
    monkeypatch.delattr(ng, "set_backend", raising=False)
    status = bench.numgan_variants()
    assert status["numpy"] == "" and "set_backend" in status["numba"]
    code = quick(tmp_path, "--models", "3", "--variants", "numba,numpy", "--batch-sizes", "none")
    assert code == 0, capsys.readouterr().err
    row = json.loads((tmp_path / "train_speed.json").read_text())["rows"][0]
    assert row["results"]["numba"]["status"] == "unavailable"
    assert row["results"]["numpy"]["status"] == "ok"


def test_numba_and_numpy_backends_agree_without_torch():
    check = bench.agreement_check(
        SPECS["3"], variants=["numba", "numpy"], torch=None, batch_size=16
    )
    assert check["reference"] == "numpy" and check["ok"]
    assert {(c["dtype"], c["path"]) for c in check["checks"]} == {
        (dtype, path)
        for dtype in ("float32", "float64")
        for path in ("d_step/g_step", "Trainer.step")
    }


@pytest.mark.parametrize(
    "args, message",
    [
        (["--models", "4"], "unknown model(s) [4]"),
        (["--models", "one"], "expected comma-separated integers"),
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--block-seconds", "-1"], "--block-seconds must be positive"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--batch-sizes", "16,1"], "--batch-sizes must all be at least 2"),
        (["--variants", "gpu"], "expected some of numba,numpy,torch,matmul"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_flags_are_one_line_errors(args, message, capsys):
    code = bench.main(args)
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0] and "Traceback" not in err


def test_numgan_and_torch_agree_from_the_same_start():
    torch = pytest.importorskip("torch")
    for key in ("2-sgd", "3"):
        variants = [v for v, why in bench.numgan_variants().items() if not why]
        check = bench.agreement_check(SPECS[key], variants=variants, torch=torch, batch_size=8)
        assert check["reference"] == "torch" and check["ok"]
        # float32 may exceed its tolerance only through rounding (a pre-activation at a
        # kink), which the verdict "rounding" records; anything else is "failed".
        assert {c["verdict"] for c in check["checks"]} <= {"ok", "rounding"}
        float64 = [c["max_rel"] for c in check["checks"] if c["dtype"] == "float64"]
        assert max(float64) < 1e-9  # the same arithmetic, not merely close
    # The twin copies weights exactly: same forward pass in float64.
    trainer = bench.build_trainer(SPECS["2-sgd"], data_size=16, dtype=np.float64)
    x = np.random.default_rng(0).uniform(-1, 1, size=(8, 100))
    twin = bench.torch_sequential(trainer.gan.G, torch)
    expected = trainer.gan.G.forward(x, training=True)
    got = twin(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)
