"""Tests of lib.toy2d: exact densities (normalised, against scipy), exact samples (moments,
a KS test of the ring's radius), grid densities and histograms, and mode coverage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from lib import divergences, toy2d


def _grid_integral(log_prob, lim: float = 7.0, n: int = 701) -> float:
    xs = np.linspace(-lim, lim, n)
    xx, yy = np.meshgrid(xs, xs)
    pts = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1))
    return float(torch.exp(log_prob(pts)).sum()) * (xs[1] - xs[0]) ** 2


def test_mixture_is_normalised_and_samples_are_exact() -> None:
    gm = toy2d.GaussianMixture([[0.0, 0.0], [3.0, 1.0]], [0.5, 1.0], weights=[0.25, 0.75])
    assert _grid_integral(gm.log_prob) == pytest.approx(1.0, abs=1e-4)
    s = gm.sample(100_000, seed=0)
    mean = 0.25 * np.array([0.0, 0.0]) + 0.75 * np.array([3.0, 1.0])
    np.testing.assert_allclose(s.mean(0), mean, atol=0.02)
    # the energy is −log p, so exp(−E) integrates to 1 as well
    torch.testing.assert_close(gm.energy(torch.as_tensor(s[:5])), -gm.log_prob(s[:5]))


def test_ring_normaliser_and_exact_radius_distribution() -> None:
    ring = toy2d.Ring2D(radius=1.0, width=0.5)  # wide enough that the r > 0 boundary matters
    assert _grid_integral(ring.log_prob) == pytest.approx(1.0, abs=1e-4)
    r = np.sqrt((ring.sample(50_000, seed=0) ** 2).sum(1))
    # the radial density is ∝ r exp(−(r − R)²/2w²) on r > 0: compare the CDF numerically
    grid = np.linspace(0, 4, 4001)
    dens = grid * np.exp(-((grid - 1.0) ** 2) / (2 * 0.25))
    cdf = np.cumsum(dens) / dens.sum()
    ks = stats.kstest(r, lambda v: np.interp(v, grid, cdf))
    assert ks.pvalue > 0.01


def test_grid_density_matches_exact_mixture() -> None:
    gm = toy2d.GaussianMixture.ring(k=4, radius=2.0, std=0.5)
    centres, p = toy2d.grid_density(gm.energy, extent=5.0, n_grid=200)
    assert p.shape == (200, 200) and p.sum() == pytest.approx(1.0)
    xx, yy = np.meshgrid(centres, centres)
    exact = torch.exp(gm.log_prob(np.stack([xx.ravel(), yy.ravel()], 1))).numpy().reshape(200, 200)
    exact = exact * (centres[1] - centres[0]) ** 2
    np.testing.assert_allclose(p, exact / exact.sum(), atol=1e-6)
    # orientation [iy, ix]: a Gaussian at (x, y) = (2, 0) peaks in column 140, row 100
    _, q = toy2d.grid_density(toy2d.gaussian_energy([2.0, 0.0], 0.1 * np.eye(2)), extent=5.0, n_grid=200)
    assert np.unravel_index(np.argmax(q), q.shape) in {(99, 139), (99, 140), (100, 139), (100, 140)}


def test_histogram_kl_of_exact_samples_is_small() -> None:
    gm = toy2d.GaussianMixture.ring()
    _, p = toy2d.grid_density(gm.energy, extent=5.0, n_grid=30)
    good = divergences.kl_divergence(toy2d.histogram2d(gm.sample(50_000, seed=1), 5.0, 30), p)
    shifted = divergences.kl_divergence(toy2d.histogram2d(gm.sample(50_000, seed=1) + 0.5, 5.0, 30), p)
    assert good < 0.02 < 0.2 < shifted


def test_ring_means_are_equally_spaced_on_the_circle():
    m = toy2d.ring_means(8, radius=2.0)
    assert m.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 2.0, rtol=1e-6)
    np.testing.assert_allclose(m[0], [2.0, 0.0], atol=1e-6)
    angles = np.unwrap(np.arctan2(m[:, 1], m[:, 0]))
    np.testing.assert_allclose(np.diff(angles), 2 * np.pi / 8, rtol=1e-5)


def test_line_means_centred_and_spaced():
    m = toy2d.line_means(4, spacing=3.0)
    np.testing.assert_allclose(m[:, 0], [-4.5, -1.5, 1.5, 4.5])


def test_sample_mixture_statistics_match_the_mixture():
    means = toy2d.ring_means(4, radius=3.0)
    w = np.array([0.1, 0.2, 0.3, 0.4])
    x, k = toy2d.sample_mixture(40_000, means, 0.1, weights=w, seed=0)
    assert x.shape == (40_000, 2) and x.dtype == np.float32 and k.shape == (40_000,)
    freq = np.bincount(k, minlength=4) / len(k)
    np.testing.assert_allclose(freq, w, atol=0.01)  # binomial s.d. ≤ 0.0025
    for j in range(4):
        xj = x[k == j]
        np.testing.assert_allclose(xj.mean(0), means[j], atol=0.01)
        np.testing.assert_allclose(xj.std(0), 0.1, rtol=0.05)
    x2, k2 = toy2d.sample_mixture(10, means, 0.1, seed=3)
    x3, k3 = toy2d.sample_mixture(10, means, 0.1, seed=3)
    np.testing.assert_array_equal(x2, x3)
    np.testing.assert_array_equal(k2, k3)


def test_mixture_density_matches_scipy_and_integrates_to_one():
    means = toy2d.ring_means(3, radius=1.0)
    w = np.array([0.5, 0.3, 0.2])
    pts = np.random.default_rng(0).normal(size=(50, 2))
    brute = sum(
        wj * stats.multivariate_normal(means[j], 0.4**2 * np.eye(2)).pdf(pts) for j, wj in enumerate(w)
    )
    np.testing.assert_allclose(toy2d.mixture_density(pts, means, 0.4, weights=w), brute, rtol=1e-10)
    grid = np.linspace(-5, 5, 401)
    xx, yy = np.meshgrid(grid, grid)
    dens = toy2d.mixture_density(np.stack([xx.ravel(), yy.ravel()], 1), means, 0.4, weights=w)
    assert dens.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=1e-6)
    line = np.linspace(-15, 15, 3001)
    dens1 = toy2d.mixture_density(line, toy2d.line_means(3, 4.0), 0.7)
    assert dens1.sum() * (line[1] - line[0]) == pytest.approx(1.0, abs=1e-8)


def test_mode_coverage_counts_constructed_samples_exactly():
    means = toy2d.ring_means(4, radius=2.0)  # centres (2,0), (0,2), (-2,0), (0,-2)
    std = 0.1
    samples = np.array(
        [[2.0, 0.0], [2.05, 0.1], [0.0, 2.0], [0.0, 2.29], [0.0, 2.31], [-1.2, 0.0], [-1.2, 0.1], [0.0, -2.0]]
    )
    cov = toy2d.mode_coverage(samples, means, std, n_std=3.0, min_fraction=1.0)
    # nearest: 0,0,1,1,1,2,2,3; within 0.3: yes,yes,yes,yes,no,no,no,yes
    np.testing.assert_array_equal(cov.counts, [2, 3, 2, 1])
    np.testing.assert_array_equal(cov.hq_counts, [2, 2, 0, 1])
    assert cov.high_quality == pytest.approx(5 / 8)
    # fair share 8/4 = 2 samples: visited 0, 1, 2; covered 0, 1
    assert (cov.modes_visited, cov.modes_covered) == (3, 2)
    assert cov.largest_share == pytest.approx(3 / 8)
    assert "2/4 modes covered" in str(cov)


def test_mode_coverage_of_the_true_mixture_and_of_a_collapse():
    means = toy2d.ring_means(8, radius=2.0)
    x, _ = toy2d.sample_mixture(20_000, means, 0.05, seed=1)
    cov = toy2d.mode_coverage(x, means, 0.05)
    assert cov.modes_covered == 8 and cov.modes_visited == 8
    # P(|z| ≤ 3) for a 2-D standard normal = P(χ²₂ ≤ 9) = 1 − e^{−4.5}
    assert cov.high_quality == pytest.approx(1 - np.exp(-4.5), abs=0.003)
    x1, _ = toy2d.sample_mixture(5_000, toy2d.line_means(4), 0.2, seed=2)
    assert toy2d.mode_coverage(x1[:, 0], toy2d.line_means(4), 0.2).high_quality == pytest.approx(
        stats.norm.cdf(3) - stats.norm.cdf(-3), abs=0.003
    )
    collapsed = means[3] + 0.01 * np.random.default_rng(0).normal(size=(1000, 2))
    cov = toy2d.mode_coverage(collapsed, means, 0.05)
    assert (cov.modes_covered, cov.modes_visited, cov.largest_share) == (1, 1, 1.0)
    # collapsed far from every mode: all samples nearest one centre, none of them high-quality
    far = np.array([10.0, 0.5]) + 0.01 * np.random.default_rng(1).normal(size=(1000, 2))
    cov = toy2d.mode_coverage(far, means, 0.05)
    assert (cov.modes_covered, cov.modes_visited, cov.largest_share, cov.high_quality) == (0, 1, 1.0, 0.0)
    assert cov.hq_counts.sum() == 0


def test_mixture_in_any_dimension_matches_scipy():
    means = np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 0.5]])
    gm = toy2d.GaussianMixture(means, [0.5, 1.5], weights=[0.3, 0.7])
    x = np.random.default_rng(4).normal(size=(20, 3))
    brute = 0.3 * stats.multivariate_normal(means[0], 0.25 * np.eye(3)).pdf(
        x
    ) + 0.7 * stats.multivariate_normal(means[1], 2.25 * np.eye(3)).pdf(x)
    np.testing.assert_allclose(gm.density(x), brute, rtol=1e-10)
    s, k = gm.sample_with_modes(50_000, seed=0)
    np.testing.assert_allclose(s[k == 1].std(0), 1.5, rtol=0.03)
    np.testing.assert_allclose(np.bincount(k) / len(k), [0.3, 0.7], atol=0.01)


@pytest.mark.parametrize(
    "call",
    [
        lambda: toy2d.ring_means(0),
        lambda: toy2d.ring_means(4, radius=-1.0),
        lambda: toy2d.line_means(2, spacing=0.0),
        lambda: toy2d.sample_mixture(5, np.zeros(3), 0.1),
        lambda: toy2d.sample_mixture(5, np.zeros((2, 2)), 0.0),
        lambda: toy2d.sample_mixture(5, np.zeros((2, 2)), [0.1, 0.2, 0.3]),
        lambda: toy2d.sample_mixture(5, np.zeros((2, 2)), 0.1, weights=[0.7, 0.7]),
        lambda: toy2d.mixture_density(np.zeros((4, 3)), np.zeros((2, 2)), 0.1),
        lambda: toy2d.mode_coverage(np.zeros((0, 2)), np.zeros((2, 2)), 0.1),
        lambda: toy2d.mode_coverage(np.full((3, 2), np.nan), np.zeros((2, 2)), 0.1),
        lambda: toy2d.mode_coverage(np.zeros((3, 2)), np.zeros((2, 2)), 0.1, min_fraction=0.0),
        lambda: toy2d.Ring2D(radius=0.0),
        lambda: toy2d.histogram2d(np.full((3, 2), 9.0), extent=1.0, n_grid=4),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
