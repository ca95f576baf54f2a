"""Tests of lib.gan: the minimax identities (optimal discriminator, value, JSD) against exact values."""

import numpy as np
import pytest
from scipy import stats

from lib import gan, toy2d
from lib.divergences import js_divergence


def test_optimal_discriminator_maximises_the_value_and_gives_the_jsd():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(20))
    q = rng.dirichlet(np.ones(20))
    q[:3] = 0.0
    q /= q.sum()
    d_star = gan.optimal_discriminator(p, q)
    v_star = gan.gan_value(p, q, d_star)
    # Goodfellow et al. (2014), Theorem 1: V(d*, g) = −log 4 + 2 JSD(p_data ‖ p_model)
    assert v_star == pytest.approx(-np.log(4) + 2 * js_divergence(p, q), rel=1e-12)
    for _ in range(50):  # any other discriminator does worse
        d = np.clip(d_star + 0.05 * rng.normal(size=20), 1e-6, 1 - 1e-6)
        assert gan.gan_value(p, q, d) < v_star
    # Equal distributions: d* = ½ everywhere and V = −log 4.
    np.testing.assert_allclose(gan.optimal_discriminator(p, p), 0.5)
    assert gan.gan_value(p, p, gan.optimal_discriminator(p, p)) == pytest.approx(-np.log(4))
    # Densities on a grid: the Riemann-sum version of the same identity.
    grid = np.linspace(-10, 10, 4001)
    dx = grid[1] - grid[0]
    pd = toy2d.mixture_density(grid, toy2d.line_means(2, 4.0), 0.5)
    pm = stats.norm(1.0, 1.5).pdf(grid)
    v = gan.gan_value(pd, pm, gan.optimal_discriminator(pd, pm), dx=dx)
    # (exact up to the Riemann sums of p and q differing from 1 by ~1e-9)
    assert v == pytest.approx(-np.log(4) + 2 * js_divergence(pd, pm, dx=dx), rel=1e-8)
    assert gan.optimal_discriminator(np.zeros(3), np.zeros(3)).tolist() == [0.5, 0.5, 0.5]


@pytest.mark.parametrize(
    "call",
    [
        lambda: gan.optimal_discriminator([1.0], [1.0, 0.0]),
        lambda: gan.gan_value([0.5, 0.5], [0.5, 0.5], [0.5, 1.5]),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
