"""Tests of lib.gan: toy mixtures, mode coverage and the minimax identities, against exact values."""

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from lib import gan


def test_ring_means_are_equally_spaced_on_the_circle():
    m = gan.ring_means(8, radius=2.0)
    assert m.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 2.0, rtol=1e-6)
    np.testing.assert_allclose(m[0], [2.0, 0.0], atol=1e-6)
    angles = np.unwrap(np.arctan2(m[:, 1], m[:, 0]))
    np.testing.assert_allclose(np.diff(angles), 2 * np.pi / 8, rtol=1e-5)


def test_line_means_centred_and_spaced():
    m = gan.line_means(4, spacing=3.0)
    np.testing.assert_allclose(m[:, 0], [-4.5, -1.5, 1.5, 4.5])


def test_sample_mixture_statistics_match_the_mixture():
    means = gan.ring_means(4, radius=3.0)
    w = np.array([0.1, 0.2, 0.3, 0.4])
    x, k = gan.sample_mixture(40_000, means, 0.1, weights=w, seed=0)
    assert x.shape == (40_000, 2) and x.dtype == np.float32 and k.shape == (40_000,)
    freq = np.bincount(k, minlength=4) / len(k)
    np.testing.assert_allclose(freq, w, atol=0.01)  # binomial s.d. ≤ 0.0025
    for j in range(4):
        xj = x[k == j]
        np.testing.assert_allclose(xj.mean(0), means[j], atol=0.01)
        np.testing.assert_allclose(xj.std(0), 0.1, rtol=0.05)
    x2, k2 = gan.sample_mixture(10, means, 0.1, seed=3)
    x3, k3 = gan.sample_mixture(10, means, 0.1, seed=3)
    np.testing.assert_array_equal(x2, x3)
    np.testing.assert_array_equal(k2, k3)


def test_mixture_density_matches_scipy_and_integrates_to_one():
    means = gan.ring_means(3, radius=1.0)
    w = np.array([0.5, 0.3, 0.2])
    pts = np.random.default_rng(0).normal(size=(50, 2))
    brute = sum(
        wj * stats.multivariate_normal(means[j], 0.4**2 * np.eye(2)).pdf(pts) for j, wj in enumerate(w)
    )
    np.testing.assert_allclose(gan.mixture_density(pts, means, 0.4, weights=w), brute, rtol=1e-10)
    grid = np.linspace(-5, 5, 401)
    xx, yy = np.meshgrid(grid, grid)
    dens = gan.mixture_density(np.stack([xx.ravel(), yy.ravel()], 1), means, 0.4, weights=w)
    assert dens.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=1e-6)
    line = np.linspace(-15, 15, 3001)
    dens1 = gan.mixture_density(line, gan.line_means(3, 4.0), 0.7)
    assert dens1.sum() * (line[1] - line[0]) == pytest.approx(1.0, abs=1e-8)


def test_mode_coverage_counts_constructed_samples_exactly():
    means = gan.ring_means(4, radius=2.0)  # centres (2,0), (0,2), (-2,0), (0,-2)
    std = 0.1
    samples = np.array(
        [[2.0, 0.0], [2.05, 0.1], [0.0, 2.0], [0.0, 2.29], [0.0, 2.31], [-1.2, 0.0], [-1.2, 0.1], [0.0, -2.0]]
    )
    cov = gan.mode_coverage(samples, means, std, n_std=3.0, min_fraction=1.0)
    # nearest: 0,0,1,1,1,2,2,3; within 0.3: yes,yes,yes,yes,no,no,no,yes
    np.testing.assert_array_equal(cov.counts, [2, 3, 2, 1])
    np.testing.assert_array_equal(cov.hq_counts, [2, 2, 0, 1])
    assert cov.high_quality == pytest.approx(5 / 8)
    # fair share 8/4 = 2 samples: visited 0, 1, 2; covered 0, 1
    assert (cov.modes_visited, cov.modes_covered) == (3, 2)
    assert cov.largest_share == pytest.approx(3 / 8)
    assert "2/4 modes covered" in str(cov)


def test_mode_coverage_of_the_true_mixture_and_of_a_collapse():
    means = gan.ring_means(8, radius=2.0)
    x, _ = gan.sample_mixture(20_000, means, 0.05, seed=1)
    cov = gan.mode_coverage(x, means, 0.05)
    assert cov.modes_covered == 8 and cov.modes_visited == 8
    # P(|z| ≤ 3) for a 2-D standard normal = P(χ²₂ ≤ 9) = 1 − e^{−4.5}
    assert cov.high_quality == pytest.approx(1 - np.exp(-4.5), abs=0.003)
    x1, _ = gan.sample_mixture(5_000, gan.line_means(4), 0.2, seed=2)
    assert gan.mode_coverage(x1[:, 0], gan.line_means(4), 0.2).high_quality == pytest.approx(
        stats.norm.cdf(3) - stats.norm.cdf(-3), abs=0.003
    )
    collapsed = means[3] + 0.01 * np.random.default_rng(0).normal(size=(1000, 2))
    cov = gan.mode_coverage(collapsed, means, 0.05)
    assert (cov.modes_covered, cov.modes_visited, cov.largest_share) == (1, 1, 1.0)


def test_js_divergence_against_scipy_and_its_bounds():
    rng = np.random.default_rng(0)
    for _ in range(5):
        p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
        assert gan.js_divergence(p, q) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-10)
        assert gan.js_divergence(p, q) == pytest.approx(gan.js_divergence(q, p), rel=1e-12)
    p = np.array([0.5, 0.5, 0.0, 0.0])
    assert gan.js_divergence(p, p) == pytest.approx(0.0, abs=1e-15)
    assert gan.js_divergence(p, p[::-1]) == pytest.approx(np.log(2), rel=1e-12)


def test_optimal_discriminator_maximises_the_value_and_gives_the_jsd():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(20))
    q = rng.dirichlet(np.ones(20))
    q[:3] = 0.0
    q /= q.sum()
    d_star = gan.optimal_discriminator(p, q)
    v_star = gan.gan_value(p, q, d_star)
    # Goodfellow et al. (2014), Theorem 1: V(d*, g) = −log 4 + 2 JSD(p_data ‖ p_model)
    assert v_star == pytest.approx(-np.log(4) + 2 * gan.js_divergence(p, q), rel=1e-12)
    for _ in range(50):  # any other discriminator does worse
        d = np.clip(d_star + 0.05 * rng.normal(size=20), 1e-6, 1 - 1e-6)
        assert gan.gan_value(p, q, d) < v_star
    # Equal distributions: d* = ½ everywhere and V = −log 4.
    np.testing.assert_allclose(gan.optimal_discriminator(p, p), 0.5)
    assert gan.gan_value(p, p, gan.optimal_discriminator(p, p)) == pytest.approx(-np.log(4))
    # Densities on a grid: the Riemann-sum version of the same identity.
    grid = np.linspace(-10, 10, 4001)
    dx = grid[1] - grid[0]
    pd = gan.mixture_density(grid, gan.line_means(2, 4.0), 0.5)
    pm = stats.norm(1.0, 1.5).pdf(grid)
    v = gan.gan_value(pd, pm, gan.optimal_discriminator(pd, pm), dx=dx)
    # (exact up to the Riemann sums of p and q differing from 1 by ~1e-9)
    assert v == pytest.approx(-np.log(4) + 2 * gan.js_divergence(pd, pm, dx=dx), rel=1e-8)
    assert gan.optimal_discriminator(np.zeros(3), np.zeros(3)).tolist() == [0.5, 0.5, 0.5]


@pytest.mark.parametrize(
    "call",
    [
        lambda: gan.ring_means(0),
        lambda: gan.ring_means(4, radius=-1.0),
        lambda: gan.line_means(2, spacing=0.0),
        lambda: gan.sample_mixture(5, np.zeros(3), 0.1),
        lambda: gan.sample_mixture(5, np.zeros((2, 2)), 0.0),
        lambda: gan.sample_mixture(5, np.zeros((2, 2)), 0.1, weights=[0.7, 0.7]),
        lambda: gan.mixture_density(np.zeros((4, 3)), np.zeros((2, 2)), 0.1),
        lambda: gan.mode_coverage(np.zeros((0, 2)), np.zeros((2, 2)), 0.1),
        lambda: gan.mode_coverage(np.full((3, 2), np.nan), np.zeros((2, 2)), 0.1),
        lambda: gan.mode_coverage(np.zeros((3, 2)), np.zeros((2, 2)), 0.1, min_fraction=0.0),
        lambda: gan.js_divergence([0.5, 0.5], [1.0]),
        lambda: gan.js_divergence([-0.5, 1.5], [0.5, 0.5]),
        lambda: gan.optimal_discriminator([1.0], [1.0, 0.0]),
        lambda: gan.gan_value([0.5, 0.5], [0.5, 0.5], [0.5, 1.5]),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
