"""The gradient check of the GAN objectives: the gradients the trainer applies, against
central differences of the objectives themselves (numgan.gradcheck does the differencing)."""

from __future__ import annotations

import numpy as np

from ..nn.gradcheck import numerical_gradient, rel_error
from .objectives import CrossEntropy, FeatureMatching, Objective
from .trainer import feature_matching_step


def check_gan_objectives(
    gan,
    x: np.ndarray,
    z_d: np.ndarray,
    z_g: np.ndarray | None = None,
    *,
    g_loss: str | None = None,
    objective: Objective | None = None,
    y: np.ndarray | None = None,
    y_d: np.ndarray | None = None,
    y_g: np.ndarray | None = None,
    h: float = 1e-3,
) -> dict[str, dict[str, float]]:
    """Relative errors of the gradients the trainer applies, against central differences.

    "D": every D parameter, for D's loss L_D(theta_d) on data x and fakes G(z_d) (for
         CrossEntropy: -(1/m) sum [log D(x) + log(1 - D(G(z_d)))]), with the gradient
         accumulated as Trainer.d_step does it (real half, then fake half);
    "G": every G parameter, for G's loss L_G(theta_g) on z_g, with the gradient
         backpropagated through D (D.backward(..., param_grads=False)) into G; for
         FeatureMatching, L_G compares D's features of x and of G(z_g), as Trainer.g_step.

    A conditional GAN (num_classes=K) needs the labels: y (m,) of the data x, y_d of the fakes
    G(z_d, y_d) in D's step, y_g of G(z_g, y_g) in G's step (default y_d); D reads [x, y]
    and [G(z, y'), y'], and G gets the sample columns of D's input gradient, as in the Trainer.

    ``objective`` defaults to CrossEntropy(g_loss or "non-saturating").  An objective that
    draws (label noise) is checked with its draws fixed: each evaluation replays the same
    Generator state.  G and D must be float64.  Returns {"D": {name: err}, "G": {name: err}}.
    """
    if objective is None:
        objective = CrossEntropy(g_loss or "non-saturating")
    elif g_loss is not None:
        raise ValueError("check_gan_objectives: give g_loss or objective, not both")
    G, D = gan.G, gan.D
    for net in (G, D):
        if net.dtype != np.float64:
            raise TypeError(f"gradient checks need float64 networks, got {net.dtype}")
    x = np.asarray(x, dtype=np.float64)
    z_d = np.asarray(z_d, dtype=np.float64)
    z_g = z_d if z_g is None else np.asarray(z_g, dtype=np.float64)
    y_g = y_d if y_g is None else y_g
    if gan.conditional and (y is None or y_d is None):
        raise ValueError(
            "check_gan_objectives: a conditional GAN needs labels: y= for x, y_d= for the "
            "fakes of D's step (and y_g= for G's step; default y_d)"
        )
    real_in = gan.d_input(x, y)

    def fake_in(z, labels):  # [G(z, y'), y'] and the width of G's part of it
        fake = G.forward(gan.g_input(z, labels), training=True)
        return gan.d_input(fake, labels), fake.shape[1]

    seed = np.random.SeedSequence(0)

    # D objective, analytic: the same sequence of calls as Trainer.d_step, minus the update.
    rng = np.random.default_rng(seed)
    D.zero_grad()
    x_fake = fake_in(z_d, y_d)[0]
    D.backward(objective.d_loss_real(D.forward(real_in, training=True), rng)[1])
    D.backward(objective.d_loss_fake(D.forward(x_fake, training=True), rng)[1])
    d_analytic = {name: g.copy() for name, _, g in D.named_parameters()}

    def d_objective() -> float:
        rng = np.random.default_rng(seed)  # the same label draws at every evaluation
        fake = fake_in(z_d, y_d)[0]
        return (
            objective.d_loss_real(D.forward(real_in, training=True), rng)[0]
            + objective.d_loss_fake(D.forward(fake, training=True), rng)[0]
        )

    # G objective, analytic: as Trainer.g_step.
    G.zero_grad()
    D_grads_before = [g.copy() for _, _, g in D.named_parameters()]
    fake, width = fake_in(z_g, y_g)
    if isinstance(objective, FeatureMatching):
        dx_fake = feature_matching_step(D, objective, real_in, fake)[1]
    else:
        dx_fake = D.backward(objective.g_loss(D.forward(fake, training=True))[1], False)
    G.backward(np.ascontiguousarray(dx_fake[:, :width]))  # G made only the sample columns
    for before, (name, _, g) in zip(D_grads_before, D.named_parameters(), strict=True):
        if not np.array_equal(before, g):
            raise AssertionError(f"D.backward(param_grads=False) changed D's gradient {name}")
    g_analytic = {name: g.copy() for name, _, g in G.named_parameters()}

    def g_objective() -> float:
        fake = fake_in(z_g, y_g)[0]
        if isinstance(objective, FeatureMatching):
            return feature_matching_step(D, objective, real_in, fake)[0]
        return objective.g_loss(D.forward(fake, training=True))[0]

    return {
        "D": {
            name: rel_error(d_analytic[name], numerical_gradient(d_objective, p, h))
            for name, p, _ in D.named_parameters()
        },
        "G": {
            name: rel_error(g_analytic[name], numerical_gradient(g_objective, p, h))
            for name, p, _ in G.named_parameters()
        },
    }
