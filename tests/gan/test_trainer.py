"""The trainer runs Algorithm 1 exactly: which network each step changes, by how much, on what."""

import functools

import numpy as np
import pytest

import numgan as ng
from numgan.gan.objectives import generator_loss, neg_log_d, neg_log_one_minus_d
from numgan.nn.gradcheck import numerical_gradient, rel_error

F64 = np.float64


class Recording:
    """Wraps a noise prior or a data source and keeps every minibatch it hands out."""

    def __init__(self, inner):
        self.inner, self.batches = inner, []
        self.dim = inner.dim

    def sample(self, m, rng, *args):
        batch = self.inner.sample(m, rng, *args)
        self.batches.append(batch.copy())
        return batch


def paper_style_gan(rng, dtype=F64, dropout=0.0, hidden=ng.ReLU):
    """A small G (ReLU, sigmoid out) and a Maxout + Dropout D, like the paper's MNIST pair."""
    G = ng.Sequential(
        [ng.Dense(3, 8, init="glorot"), hidden(), ng.Dense(8, 4, init="glorot"), ng.Sigmoid()],
        dtype=dtype,
        rng=rng,
    )
    D = ng.Sequential(
        [ng.Maxout(4, 6, 2, init="glorot"), ng.Dropout(dropout), ng.Dense(6, 1, init="glorot")],
        dtype=dtype,
        rng=rng,
    )
    return ng.GAN(G, D, Recording(ng.UniformNoise(3)))


def snapshot(net):
    return {name: p.copy() for name, p, _ in net.named_parameters()}


def plain_cross_entropy(a, t):
    """-(1/m) sum [t log D + (1 - t) log(1 - D)], D = 1 / (1 + exp(-a)): the formula as printed,
    sharing no code with numgan (moderate logits only)."""
    d = 1.0 / (1.0 + np.exp(-a))
    return float(-np.mean(t * np.log(d) + (1 - t) * np.log(1 - d)))


@pytest.mark.parametrize(
    "g_loss, real_target", [("minimax", 1.0), ("non-saturating", 1.0), ("non-saturating", 0.9)]
)
def test_one_iteration_moves_each_parameter_by_minus_lr_times_the_numerical_gradient(
    g_loss, real_target
):
    rng = np.random.default_rng(0)
    # Tanh in G: the finite differences step 2e-3 either side, and a ReLU unit that close to
    # its kink would make the difference quotient measure a different function.
    gan = paper_style_gan(rng, hidden=ng.Tanh)
    data = Recording(ng.ArrayData(rng.uniform(0, 1, size=(50, 4))))
    lr_d, lr_g = 0.05, 0.2
    trainer = ng.Trainer(
        gan,
        data,
        batch_size=6,
        k=1,
        objective=ng.CrossEntropy(g_loss, real_target=real_target),
        opt_g=ng.SGD(lr=lr_g, momentum=0.0),
        opt_d=ng.SGD(lr=lr_d, momentum=0.0),
        seed=1,
    )
    G0, D0 = snapshot(gan.G), snapshot(gan.D)
    trainer.train(1)
    G1, D1 = snapshot(gan.G), snapshot(gan.D)
    (x,) = data.batches
    z_d, z_g = gan.noise.batches
    G, D = gan.G, gan.D

    # D step, at the starting point (theta_g0, theta_d0): the printed objective, negated.
    G.load_state_dict(G0)
    D.load_state_dict(D0)

    def d_objective():
        if real_target == 1.0:  # the 2014 objective, through its own two functions
            return neg_log_d(D.forward(x))[0] + neg_log_one_minus_d(D.forward(G.forward(z_d)))[0]
        return plain_cross_entropy(D.forward(x), real_target) + plain_cross_entropy(
            D.forward(G.forward(z_d)), 0.0
        )

    for name, p, _ in D.named_parameters():
        step = D1[name] - D0[name]
        assert rel_error(step, -lr_d * numerical_gradient(d_objective, p)) < 1e-7, name

    # G step, after the D update (theta_g0, theta_d1), on the fresh noise z_g.
    D.load_state_dict(D1)

    def g_objective():
        if g_loss == "non-saturating":  # -mean log D(G(z)), as plain as it is printed
            return plain_cross_entropy(D.forward(G.forward(z_g)), 1.0)
        return generator_loss(D.forward(G.forward(z_g)), g_loss)[0]

    for name, p, _ in G.named_parameters():
        step = G1[name] - G0[name]
        assert rel_error(step, -lr_g * numerical_gradient(g_objective, p)) < 1e-7, name


def test_d_step_leaves_g_and_g_step_leaves_d_bit_identical():
    rng = np.random.default_rng(2)
    gan = paper_style_gan(rng, dtype=np.float32, dropout=0.5)
    trainer = ng.Trainer(
        gan,
        rng.uniform(size=(40, 4)),
        batch_size=8,
        k=1,
        seed=3,
        opt_g=ng.SGD(lr=0.1, momentum=0.5),
        opt_d=ng.SGD(lr=0.1, momentum=0.5),
    )
    trainer.train(2)  # non-zero momentum buffers, so a stray step would show
    G_state, G_grads = gan.G.state_dict(), [g.copy() for _, g in gan.G.parameters()]
    trainer.d_step(trainer.data.sample(8, trainer.rng), gan.noise.sample(8, trainer.rng))
    for k, v in gan.G.state_dict().items():
        assert np.array_equal(v, G_state[k]), f"D step changed G's {k}"
    for (_, g), before in zip(gan.G.parameters(), G_grads, strict=True):
        assert np.array_equal(g, before), "D step touched G's gradients"

    D_state, D_grads = gan.D.state_dict(), [g.copy() for _, g in gan.D.parameters()]
    G_before = gan.G.state_dict()
    trainer.g_step(gan.noise.sample(8, trainer.rng))
    for k, v in gan.D.state_dict().items():
        assert np.array_equal(v, D_state[k]), f"G step changed D's {k}"
    for (_, g), before in zip(gan.D.parameters(), D_grads, strict=True):
        assert np.array_equal(g, before), "G step computed D's parameter gradients"
    assert any(not np.array_equal(v, G_before[k]) for k, v in gan.G.state_dict().items())
    assert trainer.opt_d.t == 3 and trainer.opt_g.t == 3


def test_k3_runs_three_d_steps_on_three_minibatches_and_g_gets_fresh_noise():
    rng = np.random.default_rng(4)
    gan = paper_style_gan(rng)
    data = Recording(ng.ArrayData(rng.uniform(size=(1000, 4))))
    trainer = ng.Trainer(
        gan,
        data,
        batch_size=5,
        k=3,
        seed=5,
        opt_g=ng.SGD(lr=0.1, momentum=0.5),
        opt_d=ng.SGD(lr=0.1, momentum=0.5),
    )
    trainer.train(1)
    assert len(data.batches) == 3 and len(gan.noise.batches) == 4
    assert trainer.opt_d.t == 3 and trainer.opt_g.t == 1
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.array_equal(data.batches[i], data.batches[j])
    z_g = gan.noise.batches[3]
    for z_d in gan.noise.batches[:3]:
        assert not np.array_equal(z_g, z_d)
        assert not np.isin(z_g, z_d).any()  # not even one reused draw


def test_history_and_callback():
    rng = np.random.default_rng(6)
    calls = []
    trainer = ng.Trainer(
        paper_style_gan(rng),
        rng.uniform(size=(30, 4)),
        batch_size=4,
        seed=0,
        callback=lambda t: calls.append(t.iteration),
        callback_every=3,
    )
    history = trainer.train(7)
    assert set(history) == set(ng.gan.trainer.HISTORY_KEYS)
    assert all(len(v) == 7 for v in history.values())
    assert calls == [3, 6]
    np.testing.assert_array_equal(history["value"], -history["d_loss"])
    assert np.all((history["d_real"] > 0) & (history["d_real"] < 1))
    assert len(trainer.train(2)["g_loss"]) == 9  # train() continues and keeps the history


def test_same_seed_same_numbers():
    def run(seed):
        gan = ng.models.toy1d()
        trainer = ng.Trainer(
            gan,
            ng.Gaussian1D(),
            batch_size=16,
            seed=seed,
            opt_g=ng.SGD(lr=0.05, momentum=0.5),
            opt_d=ng.SGD(lr=0.05, momentum=0.5),
        )
        return trainer.train(50), gan.G.state_dict()

    (h1, g1), (h2, g2), (h3, _) = run(11), run(11), run(12)
    for k in h1:
        assert np.array_equal(h1[k], h2[k])
    for k in g1:
        assert np.array_equal(g1[k], g2[k])
    assert not np.array_equal(h1["g_loss"], h3["g_loss"])


def test_toy_1d_converges_to_the_data():
    """The paper's Figure 4 setting: D ends near 1/2 and G's mean near the data mean."""
    mu, sigma = 4.0, 0.5
    data = ng.Gaussian1D(mu, sigma)
    gan = ng.models.toy1d()
    trainer = ng.Trainer(
        gan,
        data,
        batch_size=64,
        k=1,
        g_loss="non-saturating",
        seed=0,
        opt_g=ng.SGD(lr=0.05, momentum=0.5),
        opt_d=ng.SGD(lr=0.05, momentum=0.5),
    )
    trainer.train(3000)
    rng = np.random.default_rng(123)
    d_on_data = gan.discriminate(data.sample(10_000, rng)).mean()
    generated = gan.sample(10_000, rng)
    assert abs(d_on_data - 0.5) < 0.1
    assert abs(generated.mean() - mu) < 0.1 * sigma


def test_bad_trainer_input_is_named():
    rng = np.random.default_rng(7)
    gan = paper_style_gan(rng)
    x = rng.uniform(size=(10, 4))
    with pytest.raises(ValueError, match="unknown g_loss 'wgan'"):
        ng.Trainer(gan, x, batch_size=4, g_loss="wgan")
    with pytest.raises(ValueError, match="data samples have 5 features but D expects 4"):
        ng.Trainer(gan, rng.uniform(size=(10, 5)), batch_size=4)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        ng.Trainer(gan, x, batch_size=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        ng.Trainer(gan, np.array([[0.0, 1, 2, 3], [np.nan, 1, 2, 3]]), batch_size=2)
    with pytest.raises(ValueError, match="separate optimiser"):
        opt = ng.SGD()
        ng.Trainer(gan, x, batch_size=2, opt_g=opt, opt_d=opt)
    with pytest.raises(TypeError, match="array of shape"):
        ng.Trainer(gan, "data.npy", batch_size=2)


def test_bad_gan_wiring_is_named():
    rng = np.random.default_rng(8)
    G = ng.Sequential([ng.Dense(3, 4)], rng=rng)
    with pytest.raises(
        ValueError, match=r"noise has 2 dimensions but G expects samples of shape \(3,\)"
    ):
        ng.GAN(G, ng.Sequential([ng.Dense(4, 1)]), ng.UniformNoise(2))
    with pytest.raises(ValueError, match=r"G outputs samples of shape \(4,\) but D expects \(5,\)"):
        ng.GAN(G, ng.Sequential([ng.Dense(5, 1)]), ng.UniformNoise(3))
    with pytest.raises(ValueError, match="single logit"):
        ng.GAN(G, ng.Sequential([ng.Dense(4, 2)]), ng.UniformNoise(3))
    with pytest.raises(ValueError, match="one dtype"):
        ng.GAN(G, ng.Sequential([ng.Dense(4, 1)], dtype=F64), ng.UniformNoise(3))


def test_divergence_is_reported_not_propagated():
    rng = np.random.default_rng(9)
    G = ng.Sequential([ng.Dense(1, 4, init="glorot"), ng.Dense(4, 1, init="glorot")], rng=rng)
    D = ng.Sequential([ng.Dense(1, 4, init="glorot"), ng.Dense(4, 1, init="glorot")], rng=rng)
    trainer = ng.Trainer(
        ng.GAN(G, D, ng.GaussianNoise(1)),
        ng.Gaussian1D(1e3, 1.0),
        batch_size=8,
        seed=0,
        opt_g=ng.SGD(lr=1e3, momentum=0.9),
        opt_d=ng.SGD(lr=1e3, momentum=0.9),
    )
    with np.errstate(all="ignore"), pytest.raises(ng.DivergenceError) as info:
        trainer.train(200)
    message = str(info.value)
    assert message.startswith("training diverged at iteration ")
    # Either a parameter went NaN/inf or past the bound first (named), or a loss did.
    assert ("first diverged parameters: G layer " in message) != (
        "the parameters are still finite" in message
    )
    assert "Lower the learning rate" in message
    iteration = int(message.split("iteration ")[1].split(":")[0])
    assert trainer.iteration == iteration - 1  # the failed iteration is not recorded


def test_objective_or_g_loss_not_both():
    rng = np.random.default_rng(4)
    gan = paper_style_gan(rng)
    with pytest.raises(ValueError, match="give g_loss or objective, not both"):
        ng.Trainer(gan, rng.uniform(size=(10, 4)), g_loss="minimax", objective=ng.CrossEntropy())
    with pytest.raises(TypeError, match="objective must be a numgan Objective"):
        ng.Trainer(gan, rng.uniform(size=(10, 4)), objective="minimax")
    trainer = ng.Trainer(gan, rng.uniform(size=(10, 4)), g_loss="minimax")
    assert trainer.g_loss == "minimax" and isinstance(trainer.objective, ng.CrossEntropy)


def test_label_noise_draws_from_the_run_generator_so_seeds_repeat():
    def run(seed):
        rng = np.random.default_rng(5)
        gan = paper_style_gan(rng, dtype=np.float32)
        trainer = ng.Trainer(
            gan,
            rng.uniform(size=(40, 4)),
            batch_size=8,
            objective=ng.CrossEntropy(real_target=0.9, label_noise=0.25),
            seed=seed,
        )
        return trainer.train(5)["d_loss"], gan.D.flat_params.copy()

    (h1, p1), (h2, p2), (h3, _) = run(0), run(0), run(1)
    np.testing.assert_array_equal(h1, h2)
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(h1, h3)


def exploding_trainer(lr, optimizer=ng.Adam):
    rng = np.random.default_rng(11)
    G = ng.models.mlp([2, 8, 2], dtype=np.float32)
    D = ng.models.mlp([2, 8, 1], dtype=np.float32)
    return ng.Trainer(
        ng.GAN(G, D, ng.UniformNoise(2)),
        rng.normal(size=(100, 2)),
        batch_size=16,
        seed=0,
        opt_g=optimizer(lr=lr),
        opt_d=optimizer(lr=lr),
    )


def test_a_finite_explosion_is_divergence_too():
    """Adam at lr 1e6 drives losses to 1e20 and more without a NaN: not a result."""
    trainer = exploding_trainer(1e6)
    with pytest.raises(ng.DivergenceError) as info:
        trainer.train(500)
    message = str(info.value)
    assert "beyond +-1e+06" in message and "Lower the learning rate" in message
    assert len(trainer.history["d_loss"]) == trainer.iteration
    recorded = np.abs([trainer.history[k] for k in ("d_loss", "g_loss")])
    assert (recorded <= ng.gan.trainer.MAX_MAGNITUDE).all()  # nothing beyond it was recorded


def test_check_parameters_names_the_first_layer_beyond_the_bound():
    trainer = exploding_trainer(1e-3, optimizer=ng.SGD)
    trainer.train(2)
    trainer.check_parameters()  # a sane run passes
    trainer.gan.D.layers[2].params["W"][0, 0] = 3e6
    with pytest.raises(
        ng.DivergenceError,
        match=r"iteration 2: parameters beyond \+-1e\+06.*"
        r"D layer 2 Dense\(8, 1\) W \(\|value\| up to 3e\+06\)",
    ):
        trainer.check_parameters()
    with pytest.raises(ng.DivergenceError, match="D layer 2"):
        trainer.train(1)  # train checks at its end


def test_train_keeps_numpys_overflow_warnings_to_itself():
    import warnings

    trainer = exploding_trainer(1e6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning would fail the test
        with pytest.raises(ng.DivergenceError):
            trainer.train(500)


def test_a_batch_that_cannot_fit_in_memory_says_how_much_it_needs():
    gan = ng.models.paper_mnist()
    data = np.zeros((4, 784))
    memory = ng.gan.trainer.physical_memory()
    if memory is None:
        pytest.skip("this OS does not report its memory (os.sysconf)")
    # the paper's nets leave about 11,000 numbers per sample: 10**12 samples cannot fit
    with pytest.raises(
        ValueError,
        match=r"batch size 1,000,000,000,000 needs about [\d.,]+ PiB "
        r"for one iteration's activations, more than this machine's",
    ):
        ng.Trainer(gan, data, batch_size=10**12)
    ng.Trainer(gan, data, batch_size=100)  # a sane batch is not refused


def test_api_misuse_names_the_argument():
    gan = ng.GAN(ng.models.mlp([2, 8, 1]), ng.models.mlp([1, 8, 1]), ng.UniformNoise(2))
    data = np.random.default_rng(0).normal(size=(100, 1))
    for seed in (-1, 1.5, "x", True):
        with pytest.raises(ValueError, match=r"Trainer: seed must be a whole number >= 0"):
            ng.Trainer(gan, data, seed=seed)
    with pytest.raises(ValueError, match=r"the data reaches \|x\| = 1e\+39, beyond float32's"):
        ng.Trainer(gan, np.full((100, 1), 1e39))
    for n in (-1, 0, 2.5):
        with pytest.raises(ValueError, match="GAN.sample: n must be a whole number >= 1"):
            gan.sample(n, np.random.default_rng(0))


def test_divergence_on_data_of_absurd_scale_says_to_rescale_it():
    gan = ng.GAN(ng.models.mlp([2, 8, 1]), ng.models.mlp([1, 8, 1]), ng.UniformNoise(2))
    data = np.random.default_rng(0).normal(size=(100, 1)) * 1e30
    trainer = ng.Trainer(gan, data, batch_size=8, seed=0)
    with pytest.raises(ng.DivergenceError, match=r"The data reaches \|x\| = [\d.e+]+: rescale it"):
        trainer.train(20)


# -- gradients zeroed in the update --------------------------------------------------------


def zeroing_trainer(opt, zeroes=True, seed=4):
    """A small paper-style pair on data in (0, 1); zeroes=False: the optimisers step without
    zeroing, so the Trainer calls zero_grad() before every backward pass as written."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(0.05, 0.95, size=(200, 4))
    opt_g, opt_d = opt(), opt()
    if not zeroes:  # steps replaced on the instances: the Trainer does not ask them to zero
        for o in (opt_g, opt_d):
            o.step = functools.partial(type(o).step, o)
    trainer = ng.Trainer(
        paper_style_gan(rng), data, batch_size=16, opt_g=opt_g, opt_d=opt_d, seed=seed
    )
    return trainer


OPTIMISERS = [lambda: ng.SGD(lr=0.05, momentum=0.5), lambda: ng.Adam(lr=1e-3)]


@pytest.mark.parametrize("opt", OPTIMISERS, ids=["sgd", "adam"])
def test_updates_zero_the_gradients_and_change_no_number(opt):
    """numgan's optimisers zero the gradients in the update's pass: after each step G's and D's
    read zero, and the run is bit for bit the one with zero_grad() before every backward."""
    fast, plain = zeroing_trainer(opt), zeroing_trainer(opt, zeroes=False)
    for _ in range(4):
        fast.step()
        plain.step()
        for net in (fast.gan.G, fast.gan.D):
            assert not net.flat_grads.any()
    assert plain.gan.G.flat_grads.any() and plain.gan.D.flat_grads.any()  # left as computed
    for a, b in ((fast.gan.G, plain.gan.G), (fast.gan.D, plain.gan.D)):
        np.testing.assert_array_equal(a.flat_params, b.flat_params)


@pytest.mark.parametrize("opt", OPTIMISERS, ids=["sgd", "adam"])
def test_a_backward_pass_between_steps_does_not_leak_into_the_next_update(opt):
    """A hand-written D.backward between two steps fills D's gradients; the next D step zeroes
    them first (D.grad_writes moved), as if zero_grad() had been called by hand."""

    def run(zero_by_hand, skip_check=False):
        trainer = zeroing_trainer(opt)
        trainer.step()
        D = trainer.gan.D
        probe = np.full((5, 4), 0.5)
        D.backward(np.ones_like(D.forward(probe, training=True)))
        if zero_by_hand:
            D.zero_grad()
        if skip_check:  # the control: a Trainer that trusted its last update blindly
            trainer._zero_grad = lambda name, net: None
        trainer.step()
        return D.flat_params.copy()

    np.testing.assert_array_equal(run(False), run(True))
    assert not np.array_equal(run(False, skip_check=True), run(True))


@pytest.mark.parametrize("opt", OPTIMISERS, ids=["sgd", "adam"])
def test_a_layer_gradient_check_between_steps_changes_no_update(opt):
    """numgan.gradcheck.check_layer runs a layer's own backward, which no count sees; it leaves
    the layer's gradients as it found them, so the next update is the one without the check."""

    def run(check):
        trainer = zeroing_trainer(opt)
        trainer.step()
        if check:
            errors = ng.gradcheck.check_layer(trainer.gan.D.layers[0], np.full((3, 4), 0.5))
            assert max(errors.values()) < 1e-6
        trainer.step()
        return trainer.gan.D.flat_params.copy()

    np.testing.assert_array_equal(run(True), run(False))


def test_an_optimiser_whose_step_does_not_zero_keeps_zero_grad():
    """A subclass's own step (or one replaced on the instance) may not zero the gradients: the
    Trainer then calls zero_grad() before each backward as written, with the same numbers."""

    class LoggedSGD(ng.SGD):
        def step(self, net):  # no zero_grad keyword: the Trainer must not pass one
            super().step(net)

    plain = zeroing_trainer(lambda: ng.SGD(lr=0.05, momentum=0.5))
    logged = zeroing_trainer(lambda: LoggedSGD(lr=0.05, momentum=0.5))
    for _ in range(3):
        plain.step()
        logged.step()
    assert logged.gan.D.flat_grads.any()  # its step left them; the next step zeroes them first
    np.testing.assert_array_equal(plain.gan.D.flat_params, logged.gan.D.flat_params)
