"""The conditional GAN (Mirza & Osindero 2014): G(z, y) and D(x, y) play Algorithm 1's game on
labelled data.  One iteration moves each parameter by -lr times the numerical gradient of the
conditional objectives, the fakes' labels follow the data's class frequencies, the same y
reaches G and D, and bad set-ups are refused with the fix."""

import numpy as np
import pytest

import numgan as ng
from numgan.gan.gradcheck import check_gan_objectives
from numgan.gan.objectives import neg_log_d, neg_log_one_minus_d
from numgan.gan.trainer import class_frequencies, one_hot
from numgan.nn.gradcheck import numerical_gradient, rel_error

F64 = np.float64
K, D_Z, D_X = 3, 2, 4


class Recording:
    """Wraps a noise prior or a labelled data source and keeps every minibatch it hands out."""

    def __init__(self, inner):
        self.inner, self.batches = inner, []
        self.dim = inner.dim
        self.num_classes = getattr(inner, "num_classes", None)
        self.labels = getattr(inner, "labels", None)

    def sample(self, m, rng, *args):
        batch = self.inner.sample(m, rng, *args)
        self.batches.append(batch.copy())
        return batch

    def sample_labeled(self, m, rng):
        x, y = self.inner.sample_labeled(m, rng)
        self.batches.append((x.copy(), y.copy()))
        return x, y


def small_cgan(rng, dtype=F64, dropout=0.0):
    """G: [z, y] -> Parallel(z: Dense + Tanh, y: Dense + Tanh) -> Dense -> sigmoid;
    D: [x, y] -> Parallel(x: Maxout, y passed through) -> Dropout -> Dense -> logit."""
    G = ng.Sequential(
        [
            ng.Parallel(
                z=(D_Z, [ng.Dense(D_Z, 5, init="glorot"), ng.Tanh()]),
                y=(K, [ng.Dense(K, 3, init="glorot"), ng.Tanh()]),
            ),
            ng.Dense(8, D_X, init="glorot"),
            ng.Sigmoid(),
        ],
        dtype=dtype,
        rng=rng,
    )
    D = ng.Sequential(
        [
            ng.Parallel(x=(D_X, [ng.Maxout(D_X, 5, 2, init="glorot")]), y=(K, [])),
            ng.Dropout(dropout),
            ng.Dense(8, 1, init="glorot"),
        ],
        dtype=dtype,
        rng=rng,
    )
    return ng.GAN(G, D, Recording(ng.UniformNoise(D_Z)), num_classes=K)


def labelled_data(rng, n=60):
    y = rng.integers(0, K, size=n)
    x = rng.uniform(0, 1, size=(n, D_X)) * 0.5 + 0.15 * y[:, None]
    return x, y


def snapshot(net):
    return {name: p.copy() for name, p, _ in net.named_parameters()}


@pytest.mark.parametrize("g_loss", ["minimax", "non-saturating"])
def test_one_iteration_moves_each_parameter_by_minus_lr_times_the_numerical_gradient(g_loss):
    """The printed conditional objective, written here from the one-hot rows up:
    D descends -(1/m) sum [log D(x, y) + log(1 - D(G(z, y'), y'))], then G descends
    (1/m) sum log(1 - D(G(z, y'), y')) (minimax) or -(1/m) sum log D(G(z, y'), y')."""
    rng = np.random.default_rng(0)
    gan = small_cgan(rng)
    data = Recording(ng.ArrayData(*labelled_data(rng)))
    lr_d, lr_g = 0.05, 0.2
    trainer = ng.Trainer(
        gan,
        data,
        batch_size=6,
        g_loss=g_loss,
        opt_g=ng.SGD(lr=lr_g, momentum=0.0),
        opt_d=ng.SGD(lr=lr_d, momentum=0.0),
        seed=1,
    )
    drawn = []
    draw = trainer.draw_labels
    trainer.draw_labels = lambda m: drawn.append(draw(m)) or drawn[-1]
    G0, D0 = snapshot(gan.G), snapshot(gan.D)
    trainer.train(1)
    G1, D1 = snapshot(gan.G), snapshot(gan.D)
    ((x, y),) = data.batches
    z_d, z_g = gan.noise.batches
    y_d, y_g = drawn
    G, D = gan.G, gan.D

    def joined(h, labels):  # [h, one-hot(labels)], built without numgan
        return np.concatenate([h, np.eye(K)[labels]], axis=1)

    G.load_state_dict(G0)
    D.load_state_dict(D0)

    def d_objective():
        fake = G.forward(joined(z_d, y_d))
        return (
            neg_log_d(D.forward(joined(x, y)))[0]
            + neg_log_one_minus_d(D.forward(joined(fake, y_d)))[0]
        )

    for name, p, _ in D.named_parameters():
        assert rel_error(D1[name] - D0[name], -lr_d * numerical_gradient(d_objective, p)) < 1e-7

    D.load_state_dict(D1)

    def g_objective():
        a = D.forward(joined(G.forward(joined(z_g, y_g)), y_g))
        if g_loss == "minimax":
            return -neg_log_one_minus_d(a)[0]
        return neg_log_d(a)[0]

    for name, p, _ in G.named_parameters():
        assert rel_error(G1[name] - G0[name], -lr_g * numerical_gradient(g_objective, p)) < 1e-7


def test_check_gan_objectives_covers_a_conditional_gan():
    rng = np.random.default_rng(2)
    gan = small_cgan(rng)
    x, y = labelled_data(rng, 5)
    z_d, z_g = rng.uniform(-1, 1, (5, D_Z)), rng.uniform(-1, 1, (5, D_Z))
    y_d, y_g = rng.integers(0, K, 5), rng.integers(0, K, 5)
    for objective in (ng.CrossEntropy("minimax"), ng.LeastSquares(), ng.FeatureMatching()):
        errors = check_gan_objectives(gan, x, z_d, z_g, objective=objective, y=y, y_d=y_d, y_g=y_g)
        worst = max(max(e.values()) for e in errors.values())
        assert worst < 1e-7, (objective, errors)
    with pytest.raises(ValueError, match="needs labels"):
        check_gan_objectives(gan, x, z_d, z_g)


def test_fake_labels_follow_the_training_sets_class_frequencies():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], [600, 300, 100])
    data = ng.ArrayData(rng.uniform(size=(1000, D_X)), y)
    np.testing.assert_array_equal(class_frequencies(data, K), [0.6, 0.3, 0.1])
    trainer = ng.Trainer(small_cgan(rng), data, batch_size=10, seed=0)
    counts = np.bincount(trainer.draw_labels(60000), minlength=K) / 60000
    # 60,000 draws: the standard error of each share is below 0.002
    np.testing.assert_allclose(counts, [0.6, 0.3, 0.1], atol=0.01)
    mixture = ng.ring8()  # a source without fixed rows: its modes are equally likely
    np.testing.assert_array_equal(class_frequencies(mixture, 8), np.full(8, 1 / 8))


def test_the_same_labels_reach_g_and_d_in_both_steps():
    """Every input of D's fake half ends in the one-hot rows of the labels G was given."""
    rng = np.random.default_rng(4)
    gan = small_cgan(rng)
    seen = {"G": [], "D": []}
    for name, net in (("G", gan.G), ("D", gan.D)):
        forward = net.forward

        def spy(h, training=None, _forward=forward, _name=name):
            seen[_name].append(np.array(h))
            return _forward(h, training=training)

        net.forward = spy
    trainer = ng.Trainer(gan, ng.ArrayData(*labelled_data(rng)), batch_size=7, k=2, seed=0)
    trainer.train(2)
    # per iteration: G in each of k=2 D steps, then in the G step; D real + fake per D step,
    # then the fakes in the G step
    assert len(seen["G"]) == 6 and len(seen["D"]) == 10
    d_fakes = [h for i, h in enumerate(seen["D"]) if i % 5 in (1, 3, 4)]
    for g_in, d_in in zip(seen["G"], d_fakes, strict=True):
        np.testing.assert_array_equal(g_in[:, D_Z:], d_in[:, D_X:])
        assert (g_in[:, D_Z:].sum(axis=1) == 1).all()


def test_sampling_by_label_and_the_checks_on_labels():
    rng = np.random.default_rng(5)
    gan = small_cgan(rng)
    a = gan.sample(4, np.random.default_rng(0), labels=2)
    b = gan.sample(4, np.random.default_rng(0), labels=[2, 2, 2, 2])
    np.testing.assert_array_equal(a, b)
    c = gan.sample(4, np.random.default_rng(0), labels=[0, 0, 0, 0])
    assert not np.allclose(a, c)  # the label changes G's output for the same z
    np.testing.assert_array_equal(gan.d_input(a, 1)[:, D_X:], one_hot(np.ones(4, int), K, F64))
    assert gan.discriminate(a, labels=2).shape == (4, 1)
    with pytest.raises(ValueError, match="this GAN is conditional: pass labels="):
        gan.sample(4, rng)
    with pytest.raises(ValueError, match=r"label 3 is out of range: this GAN has 3 classes"):
        gan.sample(2, rng, labels=[0, 3])
    with pytest.raises(ValueError, match=r"labels must be >= 0, found -1"):
        gan.sample(2, rng, labels=-1)
    with pytest.raises(ValueError, match=r"labels must be integer classes, found 0.5"):
        gan.sample(2, rng, labels=[0.5, 1.0])
    with pytest.raises(ValueError, match=r"labels given to a GAN without classes"):
        plain = ng.models.build("toy2d", data_dim=2, out="linear")
        plain.d_input(np.zeros((2, 2)), [0, 1])


def test_bad_set_ups_are_refused_with_the_fix():
    rng = np.random.default_rng(6)
    x, y = labelled_data(rng)
    with pytest.raises(ValueError, match="needs labelled data"):
        ng.Trainer(small_cgan(rng), x, batch_size=4)
    with pytest.raises(ValueError, match=r"the data has 4 classes .* build it with num_classes=4"):
        ng.Trainer(small_cgan(rng), ng.ArrayData(x, y, num_classes=4), batch_size=4)
    gap = np.where(y == 1, 2, y)  # classes 0 and 2 only, of K = 3
    with pytest.raises(ValueError, match=r"class 1 of 0..2 has no rows in the training data"):
        ng.Trainer(small_cgan(rng), ng.ArrayData(x, gap, num_classes=K), batch_size=4)
    with pytest.raises(ValueError, match="needs data of at least 2 classes; this data has 1"):
        ng.Trainer(small_cgan(rng), ng.ArrayData(x, np.zeros(len(x), int)), batch_size=4)
    with pytest.raises(ValueError, match="replay does not work with a conditional GAN"):
        ng.Trainer(small_cgan(rng), ng.ArrayData(x, y), replay=ng.ReplayBuffer(0.5, capacity=20))
    with pytest.raises(ValueError, match=r"no labels \(conditional GAN\)"):
        G = ng.Sequential([ng.Dense(D_Z + K, D_X)], dtype=F64)
        D = ng.Sequential([ng.Dense(D_X + K, 1)], dtype=F64)
        ng.Trainer(
            ng.GAN(G, D, ng.UniformNoise(D_Z), num_classes=K), ng.ArrayData(x, y), fused=True
        )
    wiring = r"the noise has 2 dimensions \+ 3 label columns but G expects samples of shape \(2,\)"
    with pytest.raises(ValueError, match=wiring):
        ng.GAN(ng.Sequential([ng.Dense(D_Z, D_X)]), ng.Sequential([ng.Dense(D_X + K, 1)]),
               ng.UniformNoise(D_Z), num_classes=K)  # fmt: skip
    with pytest.raises(ValueError, match=r"G outputs samples of shape \(4,\) \+ 3 label"):
        ng.GAN(ng.Sequential([ng.Dense(D_Z + K, D_X)]), ng.Sequential([ng.Dense(D_X, 1)]),
               ng.UniformNoise(D_Z), num_classes=K)  # fmt: skip
    swapped = ng.Sequential(
        [ng.Parallel(y=(K, [ng.Dense(K, 3)]), z=(D_Z, [ng.Dense(D_Z, 3)])), ng.Dense(6, D_X)]
    )
    with pytest.raises(
        ValueError, match=r"the last 3 columns of G's input: give y=\(3, \[...\]\) last"
    ):
        ng.GAN(swapped, ng.Sequential([ng.Dense(D_X + K, 1)]), ng.UniformNoise(D_Z), num_classes=K)
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        ng.GAN(ng.Sequential([ng.Dense(D_Z, D_X)]), ng.Sequential([ng.Dense(D_X, 1)]),
               ng.UniformNoise(D_Z), num_classes=1)  # fmt: skip


def test_a_conditional_plain_mlp_never_takes_the_fused_step():
    rng = np.random.default_rng(7)
    G = ng.Sequential([ng.Dense(D_Z + K, 8), ng.ReLU(), ng.Dense(8, D_X)])
    D = ng.Sequential([ng.Dense(D_X + K, 8), ng.ReLU(), ng.Dense(8, 1)])
    gan = ng.GAN(G, D, ng.UniformNoise(D_Z), num_classes=K)
    trainer = ng.Trainer(
        gan,
        ng.ArrayData(*labelled_data(rng)),
        opt_g=ng.SGD(lr=0.01),
        opt_d=ng.SGD(lr=0.01),
        fused="auto",
    )
    assert not trainer.uses_fused
    trainer.train(3)
    assert trainer.iteration == 3
