"""Bad arguments to the layers, the gradient check and GAN.sample: one clear error each, at the
call that made the mistake (not a NumPy error, or a dead network, later)."""

import numpy as np
import pytest

import numgan as ng
from numgan.nn import gradcheck

RNG = np.random.default_rng(0)

LAYERS = {
    "Dense": lambda **kw: ng.Dense(3, 2, **kw),
    "Maxout": lambda **kw: ng.Maxout(3, 2, pieces=2, **kw),
    "Conv2D": lambda **kw: ng.Conv2D(1, 2, kernel_size=3, **kw),
    "ConvTranspose2D": lambda **kw: ng.ConvTranspose2D(2, 1, kernel_size=3, **kw),
    "BatchNorm": lambda **kw: ng.BatchNorm(3, **kw),
    "MinibatchDiscrimination": lambda **kw: ng.MinibatchDiscrimination(3, 2, 2, **kw),
}


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("dtype", [np.int32, np.float16, "no such type", None])
def test_a_dtype_that_is_not_float32_or_float64_is_refused_when_built(name, dtype):
    # integer weights would draw as zeros and never train; float16 has no kernels
    with pytest.raises(ValueError, match=rf"^{name}: dtype must be float32 or float64"):
        LAYERS[name](dtype=dtype)


@pytest.mark.parametrize("name", LAYERS)
def test_float32_and_float64_layers_build(name):
    for dtype in (np.float32, "float64"):
        layer = LAYERS[name](dtype=dtype)
        assert all(p.dtype == np.dtype(dtype) for p in layer.params.values())


def test_casting_a_layer_or_network_to_an_integer_dtype_is_refused():
    with pytest.raises(ValueError, match=r"^Dense\(3, 2\): dtype must be float32 or float64"):
        ng.Dense(3, 2).astype(np.int64)
    with pytest.raises(ValueError, match=r"^Sequential: dtype must be float32 or float64"):
        ng.Sequential([ng.Dense(3, 2)], dtype=np.int8)


@pytest.mark.parametrize("name", ["Dense", "Maxout", "Conv2D", "ConvTranspose2D"])
@pytest.mark.parametrize("scale", [-1.0, float("nan"), float("inf"), "x", True])
def test_a_scale_that_no_init_can_draw_from_is_refused_when_built(name, scale):
    with pytest.raises(ValueError, match=rf"^{name}: scale must be a (finite )?number"):
        LAYERS[name](scale=scale)


def test_a_zero_scale_draws_zero_weights():
    W = ng.Dense(3, 2, scale=0.0, rng=RNG).params["W"]
    assert W.shape == (3, 2) and not W.any()


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: ng.Dense(True, 2), "Dense: in_features must be a positive int, got True"),
        (lambda: ng.BatchNorm(True), "BatchNorm: num_features must be a positive int, got True"),
        (lambda: ng.LeakyReLU("a"), "LeakyReLU: alpha must be a number, got 'a'"),
        (lambda: ng.LeakyReLU(True), "LeakyReLU: alpha must be a number, got True"),
    ],
)
def test_arguments_of_the_wrong_type_are_refused_by_name(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    "layer",
    [ng.Dense(3, 2, rng=RNG), ng.BatchNorm(3), ng.Flatten(), ng.LeakyReLU(0.2)],
    ids=repr,
)
def test_a_layer_takes_a_list_of_rows_as_it_takes_the_array(layer):
    rows = [[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]]
    from_list = layer.forward(rows).copy()
    np.testing.assert_array_equal(from_list, layer.forward(np.array(rows)))


@pytest.mark.parametrize("layer", [ng.Dense(3, 2, rng=RNG), ng.BatchNorm(3)], ids=repr)
def test_an_array_of_text_is_refused_by_the_layer(layer):
    with pytest.raises(TypeError, match=r"expects numbers, got an array of dtype <U1"):
        layer.forward(np.array([["a", "b", "c"], ["d", "e", "f"]]))


def test_the_gradient_check_refuses_what_it_cannot_check():
    layer = ng.Dense(3, 2, rng=RNG, dtype=np.float64)
    x = RNG.normal(size=(4, 3))
    assert max(gradcheck.check_layer(layer, x).values()) < 1e-6  # the check itself still runs
    with pytest.raises(TypeError, match="3 is not a layer or network"):
        gradcheck.check_layer(3, x)
    with pytest.raises(ValueError, match=r"non-empty array of finite numbers, got shape \(0, 3\)$"):
        gradcheck.check_layer(layer, x[:0])
    bad = x.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"got shape \(4, 3\) with 1 NaN or inf"):
        gradcheck.check_layer(layer, bad)
    with pytest.raises(TypeError, match="x must be an array of numbers, got str"):
        gradcheck.check_layer(layer, "abc")


def test_gan_sample_refuses_a_seed_where_a_generator_belongs():
    gan = ng.GAN(
        ng.Sequential([ng.Dense(2, 3)]),
        ng.Sequential([ng.Dense(3, 1)]),
        ng.UniformNoise(2),
    )
    gan.initialize(RNG)
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator, got 5"):
        gan.sample(3, 5)
    assert gan.sample(3, np.random.default_rng(1)).shape == (3, 3)


@pytest.mark.parametrize("which", ["opt_g", "opt_d"])
def test_the_trainer_refuses_an_optimiser_that_is_not_one(which):
    gan = ng.GAN(
        ng.Sequential([ng.Dense(2, 3)]),
        ng.Sequential([ng.Dense(3, 1)]),
        ng.UniformNoise(2),
    )
    data = RNG.normal(size=(20, 3))
    with pytest.raises(TypeError, match=rf"Trainer: {which} must be a numgan optimiser .*got 3"):
        ng.Trainer(gan, data, batch_size=8, seed=0, **{which: 3})


# -- optimisers and their schedules --------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: ng.SGD(lr=ng.LinearRamp(0.1, -1.0, 5)),
            r"SGD: lr must be a positive, finite number at every step, and the schedule "
            r"LinearRamp\(0.1, -1.0, steps=5\) reaches -1.0",
        ),
        (
            lambda: ng.SGD(momentum=ng.LinearRamp(0.5, 1.5, 5)),
            r"SGD: momentum must be in \[0, 1\) at every step, .* reaches 1.5",
        ),
        (
            lambda: ng.Adam(lr=ng.ExponentialDecay(1e-3, floor=0.0)),
            r"Adam: lr must be a positive, finite number at every step, .* reaches 0.0",
        ),
        (lambda: ng.SGD(lr="0.1"), "SGD: lr must be a number, got '0.1'"),
        (lambda: ng.SGD(lr=lambda: 0.1), "SGD: lr must be a number or a schedule called with"),
        (lambda: ng.Adam(eps=np.inf), "Adam: eps must be a positive, finite number, got inf"),
        (lambda: ng.Adam(beta1="0.5"), "Adam: beta1 must be a number, got '0.5'"),
        (lambda: ng.LinearRamp(0.5, 0.7, 1.5), "LinearRamp: steps must be a whole number >= 1"),
        (lambda: ng.LinearRamp(np.nan, 0.7, 3), "LinearRamp: start and end must be finite"),
        (lambda: ng.ExponentialDecay(-0.1), "ExponentialDecay: initial must be a positive"),
        (lambda: ng.ExponentialDecay(0.1, factor=np.nan), "factor must be finite and >= 1"),
    ],
)
def test_optimisers_and_schedules_refuse_values_they_would_train_with_wrongly(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_a_schedule_that_leaves_the_range_later_is_refused_at_that_step():
    opt = ng.SGD(lr=lambda t: 0.1 - 0.05 * t)  # a plain function: its values are seen per step
    assert opt._value("lr", 1) == pytest.approx(0.05)
    with pytest.raises(
        ValueError, match=r"SGD: lr must be a positive, finite number, got 0.0 at step 2"
    ):
        opt._value("lr", 2)


def test_the_schedules_in_range_still_build():
    ng.SGD(lr=ng.ExponentialDecay(0.1), momentum=ng.LinearRamp(0.5, 0.7, 10))
    ng.Adam(lr=ng.LinearRamp(2e-4, 1e-5, 100), beta1=0, eps=1e-8)


# -- data sources, priors, Dropout, Flatten, the Trainer's callback, Parzen ---------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: ng.Gaussian1D(mu=np.nan), "Gaussian1D: mu must be a finite number, got nan"),
        (lambda: ng.Gaussian1D(sigma=np.inf), "Gaussian1D: sigma must be a finite number"),
        (lambda: ng.data.ring8(radius=np.nan), "ring8: the means must be finite"),
        (lambda: ng.data.grid25(spacing=np.nan), "grid25: the means must be finite"),
        (
            lambda: ng.GaussianMixture1D([0, 1], [1, 1], [1, np.inf]),
            "weights must be 2 finite non-negative numbers",
        ),
        (
            lambda: ng.GaussianMixture1D([0, 1], [1, 1], [1e308, 1e308]),
            "with a finite sum",
        ),
        (lambda: ng.UniformNoise(2, low=-np.inf), "UniformNoise: need finite low < high, got -inf"),
        (lambda: ng.UniformNoise(True), "UniformNoise: dim must be a positive int, got True"),
        (lambda: ng.GaussianNoise(2, std="1"), "GaussianNoise: std must be a number, got '1'"),
        (lambda: ng.Dropout("0.5"), "Dropout: p must be a number, got '0.5'"),
    ],
)
def test_sources_priors_and_dropout_refuse_values_that_would_draw_nan(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_objects_where_a_generator_prior_or_function_belongs_are_refused():
    G, D = ng.Sequential([ng.Dense(2, 3)]), ng.Sequential([ng.Dense(3, 1)])
    with pytest.raises(TypeError, match=r"Dropout: rng must be a numpy.random.Generator"):
        ng.Dropout(0.5, rng="seed")
    with pytest.raises(TypeError, match=r"GAN: noise must be a prior with dim and sample"):
        ng.GAN(G, D, noise=3)
    gan = ng.GAN(G, D, ng.UniformNoise(2))
    with pytest.raises(TypeError, match=r"Trainer: callback must be a function .*got 5"):
        ng.Trainer(gan, RNG.normal(size=(20, 3)), batch_size=4, seed=0, callback=5)


def test_flatten_takes_an_empty_batch():
    assert ng.Flatten().forward(np.zeros((0, 3, 2))).shape == (0, 6)


def test_a_parzen_width_too_narrow_for_float64_is_refused_not_nan():
    from numgan.eval import metrics

    samples, x = RNG.normal(size=(50, 2)), RNG.normal(size=(20, 2))
    with pytest.raises(ValueError, match=r"sigma must be at least 1e-30, got 1e-300"):
        metrics.parzen_log_likelihood(samples, x, 1e-300)
    with pytest.raises(ValueError, match=r"sigmas must all be at least 1e-30"):
        metrics.select_parzen_sigma(samples, x, np.array([1e-300, 0.1]))
    mean, stderr = metrics.parzen_log_likelihood(samples, x, 1e-30)
    assert np.isfinite(mean) and np.isfinite(stderr)


def test_checkpoint_functions_refuse_what_is_not_a_trainer_a_config_or_a_state(tmp_path):
    from numgan.gan import checkpoint

    gan = ng.GAN(
        ng.Sequential([ng.Dense(2, 3)]), ng.Sequential([ng.Dense(3, 1)]), ng.UniformNoise(2)
    )
    trainer = ng.Trainer(gan, RNG.normal(size=(20, 3)), batch_size=4, seed=0)
    path = tmp_path / "c.npz"
    with pytest.raises(TypeError, match="checkpoint.save: trainer must be a numgan Trainer"):
        checkpoint.save(path, "trainer")
    with pytest.raises(TypeError, match=r"config must be a dict of settings \(or None\)"):
        checkpoint.save(path, trainer, config=[1, 2])
    with pytest.raises(TypeError, match="config must hold numbers, strings, lists and dicts"):
        checkpoint.save(path, trainer, config={"a": object()})
    assert not path.exists()  # nothing half-written
    with pytest.raises(TypeError, match="checkpoint.restore: trainer must be a numgan Trainer"):
        checkpoint.restore("t", {})
    with pytest.raises(TypeError, match=r"state must be a checkpoint \(checkpoint.load"):
        checkpoint.restore(trainer, None)
    checkpoint.save(path, trainer, config={"a": 1})
    checkpoint.restore(trainer, checkpoint.load(path))  # the valid round trip still works


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ng.Maxout(4, 3, pieces=True), "Maxout: pieces must be a positive int, got True"),
        (
            lambda: ng.InstanceNoise(True, iterations=5),
            "InstanceNoise: std must be a number, got True",
        ),
    ],
)
def test_a_bool_is_not_taken_for_a_number(call, message):
    with pytest.raises(ValueError, match=message):
        call()
