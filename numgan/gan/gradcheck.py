"""The gradient check of the GAN objectives: the gradients the trainer applies, against
central differences of the objectives as printed in Algorithm 1 (numgan.gradcheck does the
differencing)."""

from __future__ import annotations

import numpy as np

from ..nn.gradcheck import numerical_gradient, rel_error
from .objectives import check_g_loss, generator_loss, neg_log_d, neg_log_one_minus_d


def check_gan_objectives(
    gan,
    x: np.ndarray,
    z_d: np.ndarray,
    z_g: np.ndarray | None = None,
    *,
    g_loss: str = "non-saturating",
    h: float = 1e-3,
) -> dict[str, dict[str, float]]:
    """Relative errors of the gradients the trainer applies, against central differences.

    "D": every D parameter, for L_D(theta_d) = -(1/m) sum [log D(x) + log(1 - D(G(z_d)))],
         with the gradient accumulated as Trainer.d_step does it (real half, then fake half);
    "G": every G parameter, for the chosen generator objective L_G(theta_g) on z_g, with the
         gradient backpropagated through D (D.backward(..., param_grads=False)) into G.

    G and D must be float64.  Returns {"D": {name: err}, "G": {name: err}}.
    """
    check_g_loss(g_loss)
    G, D = gan.G, gan.D
    for net in (G, D):
        if net.dtype != np.float64:
            raise TypeError(f"gradient checks need float64 networks, got {net.dtype}")
    x = np.asarray(x, dtype=np.float64)
    z_d = np.asarray(z_d, dtype=np.float64)
    z_g = z_d if z_g is None else np.asarray(z_g, dtype=np.float64)

    # D objective, analytic: the same sequence of calls as Trainer.d_step, minus the update.
    D.zero_grad()
    x_fake = G.forward(z_d, training=True)
    D.backward(neg_log_d(D.forward(x, training=True))[1])
    D.backward(neg_log_one_minus_d(D.forward(x_fake, training=True))[1])
    d_analytic = {name: g.copy() for name, _, g in D.named_parameters()}

    def d_objective() -> float:
        fake = G.forward(z_d, training=True)
        return (
            neg_log_d(D.forward(x, training=True))[0]
            + neg_log_one_minus_d(D.forward(fake, training=True))[0]
        )

    # G objective, analytic: as Trainer.g_step.
    G.zero_grad()
    D_grads_before = [g.copy() for _, _, g in D.named_parameters()]
    da = generator_loss(D.forward(G.forward(z_g, training=True), training=True), g_loss)[1]
    G.backward(D.backward(da, param_grads=False))
    for before, (name, _, g) in zip(D_grads_before, D.named_parameters(), strict=True):
        if not np.array_equal(before, g):
            raise AssertionError(f"D.backward(param_grads=False) changed D's gradient {name}")
    g_analytic = {name: g.copy() for name, _, g in G.named_parameters()}

    def g_objective() -> float:
        return generator_loss(D.forward(G.forward(z_g, training=True), training=True), g_loss)[0]

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
