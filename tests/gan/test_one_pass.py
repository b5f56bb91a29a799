"""The D step's one pass on [x; G(z)] equals Algorithm 1's two passes, where D is rowwise.

On the Numba backend the Trainer runs D once on the 2m stacked rows when every layer of D
treats rows independently (``Sequential.rowwise``): the logits of each half are the same
numbers, each half's loss is taken on its own rows, and one backward on the stacked
gradients sums the two halves' parameter gradients.  These tests run both paths on the same
start and minibatches, on both backends, and compare everything the step leaves behind.
"""

import numpy as np
import pytest

import numgan as ng

F64 = np.float64
M = 6


def dense_d(rng, *, extra=()):
    return ng.Sequential(
        [ng.Maxout(4, 5, 2, init="glorot"), ng.LeakyReLU(0.2), *extra, ng.Dense(5, 1)],
        dtype=F64,
        rng=rng,
    )


def gan_with(D, rng, num_classes=None):
    width = 3 + (num_classes or 0)
    G = ng.Sequential(
        [ng.Dense(width, 8, init="glorot"), ng.Tanh(), ng.Dense(8, 4), ng.Sigmoid()],
        dtype=F64,
        rng=rng,
    )
    return ng.GAN(G, D, ng.UniformNoise(3), num_classes=num_classes)


def conditional_d(rng):
    return ng.Sequential(
        [
            ng.Parallel(x=(4, [ng.Dense(4, 5, init="glorot"), ng.Tanh()]), y=(3, [])),
            ng.Dense(8, 1, init="glorot"),
        ],
        dtype=F64,
        rng=rng,
    )


class KeepGradients(ng.SGD):
    """SGD whose step is its own, so the Trainer does not ask it to zero the gradients."""

    def step(self, net):
        super().step(net)


def run_d_steps(make_gan, objective, one_pass, *, labels=False, steps=3):
    """Three D steps on the same start and minibatches; one pass forced on or off."""
    gan = make_gan(np.random.default_rng(0))
    data_rng = np.random.default_rng(1)
    x_all = data_rng.uniform(size=(40, 4))
    y_all = data_rng.integers(0, 3, size=40) if labels else None
    trainer = ng.Trainer(
        gan,
        ng.ArrayData(x_all, y_all) if labels else x_all,
        batch_size=M,
        objective=objective,
        opt_d=KeepGradients(lr=0.1, momentum=0.5),  # D's last gradients stay, to be compared
        seed=2,
    )
    trainer._one_d_pass = lambda: one_pass
    out = []
    for i in range(steps):
        z = np.random.default_rng([3, i]).uniform(-1, 1, size=(M, 3))
        x = x_all[i * M : (i + 1) * M]
        if labels:
            y, y_fake = y_all[i * M : (i + 1) * M], np.arange(M) % 3
            out.append(trainer.d_step(x, z, y, y_fake))
        else:
            out.append(trainer.d_step(x, z))
    return out, gan.D.flat_params.copy(), gan.D.flat_grads.copy(), trainer.rng.bit_generator.state


OBJECTIVES = {
    "cross-entropy": lambda: ng.CrossEntropy(),
    "label noise (draws)": lambda: ng.CrossEntropy(real_target=0.9, label_noise=0.2),
    "least squares": lambda: ng.LeastSquares(),
}


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
@pytest.mark.parametrize("conditional", [False, True])
def test_one_pass_on_stacked_rows_equals_two_passes(objective, conditional):
    if conditional:

        def make(rng):
            return gan_with(conditional_d(rng), rng, num_classes=3)
    else:

        def make(rng):
            return gan_with(dense_d(rng), rng)

    assert make(np.random.default_rng(0)).D.rowwise
    one = run_d_steps(make, OBJECTIVES[objective](), True, labels=conditional)
    two = run_d_steps(make, OBJECTIVES[objective](), False, labels=conditional)
    np.testing.assert_allclose(one[0], two[0], rtol=1e-12, atol=1e-14)  # losses, D(x), D(G(z))
    np.testing.assert_allclose(one[1], two[1], rtol=1e-12, atol=1e-14)  # D's parameters
    np.testing.assert_allclose(one[2], two[2], rtol=1e-12, atol=1e-14)  # the last gradients
    assert np.abs(one[2]).max() > 1e-3  # kept by the optimiser, not zeroed
    assert one[3] == two[3]  # the same draws from the run's Generator, in the same order


def test_a_batch_dependent_d_is_not_rowwise_and_one_pass_would_differ():
    """BatchNorm normalises over the batch: stacking the halves changes every logit.  The
    Trainer therefore keeps two passes for it; forced, one pass gives other numbers (which
    also shows the comparison above can fail)."""

    def make(rng):
        return gan_with(dense_d(rng, extra=(ng.BatchNorm(5),)), rng)

    assert not make(np.random.default_rng(0)).D.rowwise
    one = run_d_steps(make, ng.CrossEntropy(), True)
    two = run_d_steps(make, ng.CrossEntropy(), False)
    assert np.max(np.abs(one[1] - two[1])) > 1e-6


EXTRA = {
    "BatchNorm": lambda: [ng.BatchNorm(5), ng.Dense(5, 1)],
    "Dropout": lambda: [ng.Dropout(0.3), ng.Dense(5, 1)],
    "MinibatchDiscrimination": lambda: [ng.MinibatchDiscrimination(5, 2, 2), ng.Dense(7, 1)],
}


@pytest.mark.parametrize("extra", sorted(EXTRA))
def test_the_trainer_takes_one_pass_only_on_the_numba_backend_for_a_rowwise_d(extra, backend):
    rng = np.random.default_rng(0)
    rowwise = ng.Trainer(gan_with(dense_d(rng), rng), rng.uniform(size=(20, 4)), batch_size=4)
    assert rowwise._one_d_pass() == (backend == "numba")
    layers = [ng.Dense(4, 5, init="glorot"), ng.LeakyReLU(0.2), *EXTRA[extra]()]
    d = ng.Sequential(layers, dtype=F64, rng=rng)
    mixed = ng.Trainer(gan_with(d, rng), rng.uniform(size=(20, 4)), batch_size=4)
    assert not d.rowwise and not mixed._one_d_pass()


def test_a_subclass_is_rowwise_only_if_it_says_so():
    """A subclass of a rowwise layer may draw or keep state per call (weight noise, a power
    iteration): it gets the two passes unless it declares rowwise = True itself."""

    class NoisyDense(ng.Dense):
        pass

    class PlainDense(ng.Dense):
        rowwise = True

    assert ng.Sequential([ng.Dense(3, 4), ng.ReLU()]).rowwise
    assert not ng.Sequential([NoisyDense(3, 4), ng.ReLU()]).rowwise
    assert ng.Sequential([PlainDense(3, 4), ng.ReLU()]).rowwise
