"""The paper's Figure 1 end state from `numgan train --dataset toy1d` with its defaults.

On every one of seeds 0-4: p_g = p_data to the precision a run can show (generated mean within
0.05 of the data's, std within 5 %), D = 1/2 across mean +- 2 std of the data (within 0.05),
and V(D, G) within 0.02 of -log 4.  docs/results.md section 5 explains what makes it so.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from numgan.app import run
from numgan.app.config import resolve_config


@pytest.mark.parametrize("seed", range(5))
def test_toy1d_defaults_end_at_the_games_optimum(backend, tmp_path, seed):
    config = resolve_config({"dataset": "toy1d", "seed": seed})
    quiet = {"out": io.StringIO(), "err": io.StringIO()}
    run.train(config, tmp_path / "r", **quiet)
    _, data, trainer = run.restore_run(tmp_path / "r")
    gan, rng = trainer.gan, np.random.default_rng([seed, 99])
    mu, sigma = data.samples.mu, data.samples.sigma
    x_gen = gan.sample(100_000, rng).ravel().astype(np.float64)
    x_data = data.sample(100_000, rng).ravel()
    assert abs(x_gen.mean() - mu) < 0.05, x_gen.mean()
    assert abs(x_gen.std() / sigma - 1) < 0.05, x_gen.std()
    grid = np.linspace(mu - 2 * sigma, mu + 2 * sigma, 401)[:, None]
    d = gan.discriminate(grid).ravel()
    assert np.abs(d - 0.5).max() < 0.05, np.abs(d - 0.5).max()
    a_real = gan.D.forward(x_data[:, None], training=False)
    a_fake = gan.D.forward(x_gen[:, None], training=False)
    value = trainer.objective.value(a_real, a_fake)
    assert abs(value + math.log(4)) < 0.02, value
