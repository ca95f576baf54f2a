"""Tests of lib.divergences against scipy, brute force and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import linalg, stats
from scipy.spatial.distance import jensenshannon

from lib import divergences


def test_kl_divergence_against_scipy() -> None:
    rng = np.random.default_rng(0)
    p, q = rng.random(50), rng.random(50)
    p, q = p / p.sum(), q / q.sum()
    assert divergences.kl_divergence(p, q) == pytest.approx(stats.entropy(p, q), rel=1e-9)
    assert divergences.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        divergences.kl_divergence(p, q[:10] / q[:10].sum())
    with pytest.raises(ValueError, match="sum to 1"):
        divergences.kl_divergence(p, 2 * q)


def test_mmd_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(9, 3))
    h = 1.3

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return math.exp(-np.sum((a - b) ** 2) / (2 * h**2))

    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    xy = sum(k(a, b) for a in x for b in y) / (7 * 9)
    assert divergences.mmd_rbf(x, y, bandwidth=h) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_mmd_permutation_test_power_and_level() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    shifted = rng.normal(0.4, 1.0, size=(300, 2))
    mmd_same, p_same = divergences.mmd_permutation_test(a, b, seed=0)
    mmd_diff, p_diff = divergences.mmd_permutation_test(a, shifted, seed=0)
    assert abs(mmd_same) < 0.01 and p_same > 0.05
    assert mmd_diff > 0.02 and p_diff < 0.01
    with pytest.raises(ValueError, match="same dimension"):
        divergences.mmd_rbf(a, rng.normal(size=(10, 3)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        divergences.mmd_rbf(a[0], b)


def test_js_divergence_against_scipy_and_its_bounds():
    rng = np.random.default_rng(0)
    for _ in range(5):
        p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
        assert divergences.js_divergence(p, q) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-10)
        assert divergences.js_divergence(p, q) == pytest.approx(divergences.js_divergence(q, p), rel=1e-12)
    p = np.array([0.5, 0.5, 0.0, 0.0])
    assert divergences.js_divergence(p, p) == pytest.approx(0.0, abs=1e-15)
    assert divergences.js_divergence(p, p[::-1]) == pytest.approx(np.log(2), rel=1e-12)


def _closed_form(mu1, s1, mu2, s2):
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 16))
    assert divergences.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_matches_closed_form_for_gaussians():
    rng = np.random.default_rng(1)
    d = 5
    a = rng.normal(size=(d, d))
    b = rng.normal(size=(d, d))
    s1, s2 = a @ a.T + np.eye(d), b @ b.T + 0.5 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    exact = _closed_form(mu1, s1, mu2, s2)

    # Samples whose empirical mean and covariance are exactly the targets:
    def exact_samples(mu, s, n=400):
        z = rng.normal(size=(n, d))
        z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
        return z @ np.linalg.cholesky(s).T + mu

    got = divergences.frechet_distance(exact_samples(mu1, s1), exact_samples(mu2, s2))
    assert got == pytest.approx(exact, rel=1e-6)
    # Isotropic case by hand: |mu1-mu2|^2 + d (s1 - s2)^2 for s*I covariances.
    assert _closed_form(np.zeros(d), 4 * np.eye(d), np.ones(d), np.eye(d)) == pytest.approx(d + d * 1.0)


def test_frechet_is_symmetric_and_grows_with_shift():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    assert divergences.frechet_distance(x, y) == pytest.approx(divergences.frechet_distance(y, x), rel=1e-9)
    assert (
        divergences.frechet_distance(x, y + 3)
        > divergences.frechet_distance(x, y + 1)
        > divergences.frechet_distance(x, y)
    )


@pytest.mark.parametrize(
    "a,b,match",
    [
        (np.zeros((10, 3)), np.zeros((10, 4)), "dimensions differ"),
        (np.zeros(10), np.zeros((10, 1)), r"\(N, D\)"),
        (np.zeros((1, 3)), np.zeros((10, 3)), "N ≥ 2"),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), "NaN"),
    ],
)
def test_frechet_rejects_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        divergences.frechet_distance(a, b)


def test_kl_is_infinite_where_q_misses_mass_unless_floored():
    p, q = np.array([0.5, 0.5]), np.array([1.0, 0.0])
    assert divergences.kl_divergence(p, q, eps=0.0) == math.inf
    assert 10 < divergences.kl_divergence(p, q) < math.inf  # floored at 1e-10: large, finite


@pytest.mark.parametrize(
    "call",
    [
        lambda: divergences.js_divergence([0.5, 0.5], [1.0]),
        lambda: divergences.js_divergence([-0.5, 1.5], [0.5, 0.5]),
        lambda: divergences.js_divergence([0.5, 0.5], [0.5, 0.5], dx=0.0),
        lambda: divergences.kl_divergence([0.5, 0.5], [0.5, 0.5], eps=-1.0),
    ],
)
def test_divergences_reject_bad_input(call):
    with pytest.raises(ValueError):
        call()
