"""``numgan bench`` (numgan/app/bench.py): the models, their trainers, the timing loop, the flags.

The PyTorch comparison it hands ``--torch`` to lives in benchmarks/ and is tested in
tests/benchmarks/.
"""

import numba
import numpy as np
import pytest

import numgan as ng
from numgan.app import bench
from numgan.kernels import blas, threads

SPECS = {spec.key: spec for spec in bench.model_specs()}


@pytest.fixture(autouse=True)
def backend():
    """Run each test once: the harness switches between numgan's backends by itself (this
    overrides conftest's fixture that repeats every test under each backend)."""
    before = ng.get_backend()
    yield before
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
        (
            "4",
            ["Dense", "Reshape", "BatchNorm", "ReLU", "ConvTranspose2D", "BatchNorm", "ReLU",
             "ConvTranspose2D", "Tanh", "Flatten"],
            ["Reshape", "Conv2D", "LeakyReLU", "Conv2D", "BatchNorm", "LeakyReLU", "Flatten",
             "Dense"],
            # 100*3136+3136, BN(64), 64*32*4*4+32, BN(32), 32*1*4*4+1;
            # 1*32*4*4+32, 32*64*4*4+64, BN(64), 3136+1
            316_736 + 128 + 32_800 + 64 + 513,
            544 + 32_832 + 128 + 3_137,
            "G 100-3136-32x14x14-1x28x28, D 784-32x14x14-64x7x7-1",
            64,
        ),
    ],
)  # fmt: skip
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


@pytest.mark.parametrize("key, fused", [("1", False), ("2-sgd", False), ("3", True), ("4", False)])
def test_timed_trainers_take_the_fused_step_where_the_model_allows(key, fused):
    """fused="auto": the toy runs as one jitted call on numba (its products are small and
    its optimiser SGD); the large models fall back to the layers; NumPy always uses them."""
    trainer = bench.build_trainer(SPECS[key], data_size=16)
    assert trainer.fused == "auto"
    ng.set_backend("numba")
    assert trainer.uses_fused == fused
    ng.set_backend("numpy")
    assert not trainer.uses_fused


def test_optimisers_of_each_row():
    sgd = bench.make_optimizer(SPECS["1"])
    assert isinstance(sgd, ng.SGD) and (sgd.lr, sgd.momentum) == (0.1, 0.5)
    assert SPECS["2-sgd"].optimizer == "sgd" and SPECS["3"].optimizer == "sgd"
    for key in ("2-adam", "4"):
        adam = bench.make_optimizer(SPECS[key])
        assert isinstance(adam, ng.Adam)
        assert (adam.lr, adam.beta1, adam.beta2, adam.eps) == (2e-4, 0.5, 0.999, 1e-8)


def test_flop_count_formula():
    # Per sample: G's Dense forwards cost 2 * (100*1200 + 1200*1200 + 1200*784) = 5,001,600,
    # D's 2 * (784*240 + 240*240 + 240) = 492,000; an iteration is 4 F_G + 8 F_D.
    assert bench.flops_per_iteration(SPECS["1"], 100) == 100 * (4 * 5_001_600 + 8 * 492_000)
    assert bench.flops_per_iteration(SPECS["1"]) == 2_394_240_000
    assert bench.flops_per_iteration(SPECS["3"], 64) == 64 * 12 * 2 * (16 + 256 + 16)
    # DCGAN, per sample, the products' multiply-adds: G 313,600 (Dense) + 1,605,632 + 100,352
    # (the transposed convolutions: 49 input pixels x 64 x 512, 196 x 32 x 16); D 100,352 +
    # 1,605,632 (196 output pixels x 16 x 32, 49 x 512 x 64) + 3,136 (Dense).
    f_g, f_d = 2 * (313_600 + 1_605_632 + 100_352), 2 * (100_352 + 1_605_632 + 3_136)
    assert bench.flops_per_iteration(SPECS["4"], 64) == 64 * (4 * f_g + 8 * f_d)


def test_the_dcgan_row_is_the_dcgan_preset():
    """Model 4 trains numgan.models' "dcgan" preset itself, weights drawn from the seed."""
    spec = SPECS["4"]
    assert (spec.preset, spec.image_shape) == ("dcgan", (28, 28))
    assert (spec.noise_dim, spec.data_dim) == (100, 784)
    trainer = bench.build_trainer(spec, data_size=16, seed=3)
    preset = ng.models.build("dcgan", data_dim=784, out="tanh", image_shape=(28, 28))
    ref = ng.Trainer(preset, np.zeros((16, 784), np.float32), batch_size=64, seed=3)
    for net, ref_net in ((trainer.gan.G, ref.gan.G), (trainer.gan.D, ref.gan.D)):
        assert repr(net) == repr(ref_net)
        np.testing.assert_array_equal(net.flat_params, ref_net.flat_params)
    assert isinstance(trainer.gan.noise, ng.UniformNoise) and trainer.gan.noise.dim == 100
    assert trainer.objective.kind == "non-saturating"
    assert bench.make_data(spec, 5, np.random.default_rng(0)).shape == (5, 784)


class Counter(bench.Runner):
    """A runner that records the order of its blocks in a shared log."""

    def __init__(self, name, log):
        self.name, self.log, self.iterations = name, log, 0

    def run(self, n):
        self.iterations += n
        self.log.append((self.name, n))


def test_interleaved_blocks_rotate_and_report_medians():
    log = []
    runners = [Counter(name, log) for name in "abc"]
    results = bench.time_interleaved(runners, repeats=4, block_seconds=0.001, sleep=0.0)
    assert list(results) == ["a", "b", "c"]
    for r in runners:
        res = results[r.name]
        assert res["status"] == "ok" and len(res["samples"]) == 4
        assert res["min"] <= res["median"] <= res["max"]
        assert res["median"] == pytest.approx(float(np.median(res["samples"])))
        assert res["iterations_per_block"] >= 1
    # After every runner's calibration, the timed blocks: one per runner and round, each
    # round starting one runner later, each block as long as calibrated.
    blocks = log[-12:]
    assert [name for name, _ in blocks] == list("abcbcacababc")
    assert all(n == results[name]["iterations_per_block"] for name, n in blocks)


def test_per_round_is_the_median_of_each_rounds_ratio():
    """Round by round a ran 2x, 3x and 1.5x as fast as b: the median, 2x."""
    a, b = [4.0, 6.0, 3.0], [2.0, 2.0, 2.0]
    assert bench.per_round(a, b) == 2.0
    assert bench.per_round([4.0, 6.0, 9.0], [2.0, 2.0, 1.0]) == 3.0  # ratios 2, 3 and 9
    assert bench.per_round(b, a) == 0.5
    with pytest.raises(ValueError):
        bench.per_round(a, b[:2])  # a round's missing block is an error, not a shorter median


def test_time_calls_gives_microseconds_per_call_of_each_function(monkeypatch):
    """Single calls timed through time_interleaved: n calls per block, and the rate turned
    into microseconds per call (here with a clock that advances 2 us per call of the slow
    function and 1 us per call of the fast one)."""
    now, calls = [0.0], {"slow": 0, "fast": 0}

    def call(name, us):
        def fn():
            calls[name] += 1
            now[0] += us * 1e-6

        return fn

    monkeypatch.setattr(bench.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(bench.time, "sleep", lambda s: None)
    us = bench.time_calls(
        {"slow": call("slow", 2.0), "fast": call("fast", 1.0)}, repeats=3, block_seconds=0.01
    )
    assert us == pytest.approx({"slow": 2.0, "fast": 1.0})
    assert calls["slow"] > 3 and calls["fast"] > 3


def test_a_diverged_run_restarts_from_its_seed():
    class Diverging(bench.Runner):
        name, failures, rebuilt = "d", 0, 0

        def run(self, n):
            if self.failures == 0:
                self.failures += 1
                raise FloatingPointError("non-finite loss")

        def recover(self):
            self.rebuilt += 1
            return True

    runner = Diverging()
    assert bench.time_block(runner, 5) > 0 and runner.rebuilt == 1

    class Broken(bench.Runner):
        name = "b"

        def run(self, n):
            raise FloatingPointError("non-finite loss")

    with pytest.raises(FloatingPointError):
        bench.time_block(Broken(), 5)


def test_quick_run_prints_both_backends(capsys, monkeypatch):
    monkeypatch.setattr(threads, "_layer", None)  # learned afresh by this run's long loops
    code = bench.main(["--quick", "--models", "3,4,1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "| model | m | optimiser | numgan (Numba) it/s | numgan (NumPy) it/s |" in out
    lines = [line for line in out.splitlines() if line[:4] in ("| 1 ", "| 3 ", "| 4 ")]
    assert len(lines) == 3
    assert lines[0].startswith("| 1 MNIST MLP GAN (the paper's) | 8 |") and "| layers |" in lines[0]
    assert lines[1].startswith("| 3 1-D toy GAN | 8 |") and "| fused step |" in lines[1]
    assert lines[2].startswith("| 4 DCGAN MNIST | 8 | Adam") and "| layers |" in lines[2]
    assert "numgan bench --torch" in out
    gemm = {"mkl": "oneMKL's GEMM", "openblas": "NumPy's OpenBLAS"}.get(blas.provider(), "np.")
    assert f"The Numba backend's products: {gemm}" in out  # which GEMM ran is on record
    # model 1's networks hold over a million parameters each: their updates are long
    layer = threads.threading_layer()
    if numba.get_num_threads() > 1:
        assert layer is not None
    assert f"its long loops: {bench._split_route(layer, blas.provider())}." in out
    assert "bench: model 1" in err and "repeat 2/2" in err  # progress goes to stderr


@pytest.mark.parametrize(
    ("layer", "gemm", "route"),
    [
        (None, "mkl", "serial (none was long enough to split, or one thread)"),
        ("omp", "mkl", "split over Numba's threads (OpenMP): the optimiser updates, LeakyReLU"),
        ("tbb", "mkl", "the optimiser updates split over Numba's threads (TBB), the elementwise"),
        ("tbb", "openblas", "the optimiser updates split over Numba's threads (TBB), the"),
        ("omp", "openblas", "serial (Numba's threading layer is OpenMP, under which no loop"),
        ("workqueue", "mkl", "serial (Numba's threading layer is workqueue, under which no"),
    ],
)
def test_the_table_says_how_the_long_loops_ran(layer, gemm, route, monkeypatch):
    monkeypatch.setattr(bench.blas, "provider", lambda: gemm)
    timed = {"rows": [], "threads": {"requested": 2, "numba_threading_layer": layer}}
    out = bench.render_table(timed, bench.TimingConfig())
    assert f"its long loops: {route}" in out


def test_torch_runs_the_checkouts_comparison(capsys):
    assert (bench.BENCHMARKS_DIR / "train_speed.py").is_file()  # this is a source checkout
    assert bench.main(["--torch", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: numgan bench --torch") and "--variants" in out


def test_torch_without_the_checkout_says_where_the_comparison_is(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "BENCHMARKS_DIR", tmp_path / "benchmarks")
    code = bench.main(["--torch", "--quick"])
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    (line,) = err.strip().splitlines()
    assert "python benchmarks/train_speed.py from a source checkout" in line


@pytest.mark.parametrize(
    "args, message",
    [
        (["--models", "5"], "unknown model(s) [5]"),
        (["--models", "one"], "expected comma-separated integers"),
        (["--models", "none"], "--models needs at least one of 1, 2, 3, 4"),
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--block-seconds", "-1"], "--block-seconds must be a number of seconds in (0, 3600]"),
        (["--block-seconds", "inf"], "--block-seconds must be a number of seconds in (0, 3600]"),
        (["--block-seconds", "nan"], "--block-seconds must be a number of seconds in (0, 3600]"),
        (["--sleep", "inf"], "--sleep must be a number of seconds in [0, 3600]"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--seed", "-1"], "--seed must be a whole number >= 0"),
        (["--batch-size", "1"], "--batch-size must be at least 2"),
        (["--variants", "numba"], "unrecognized arguments: --variants numba"),
    ],
)
def test_bad_flags_are_one_line_errors(args, message, capsys):
    code = bench.main(args)
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0] and "Traceback" not in err
