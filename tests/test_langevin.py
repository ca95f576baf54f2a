"""Tests of lib.langevin: samplers against exact Gaussian targets, the replay buffer, the 2-D
targets and the sample metrics (against brute force and closed forms)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from lib import langevin as L

MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.5], [0.5, 1.0]])  # eigenvalues 0.5 and 1.5


def exact_gaussian(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(MEAN, COV, size=n)


# --------------------------------------------------------------------------- samplers


@pytest.mark.parametrize("metropolis", [False, True])
def test_gaussian_target_mean_and_covariance(metropolis: bool) -> None:
    """From a wrong start (N(0, I)), small-step Langevin and MALA reach N(μ, Σ)."""
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(1000, 2, dtype=torch.float64, generator=gen)
    out = L.langevin(
        L.gaussian_energy(MEAN, COV), x0, n_steps=150, step_size=0.1, metropolis=metropolis, generator=gen
    )
    s = out.samples.numpy()
    assert out.samples.shape == (1000, 2)
    # standard errors ≈ 0.03 (mean) and ≈ 0.045 (covariance); ULA's bias at ε = 0.1 is ≤ 0.03
    np.testing.assert_allclose(s.mean(0), MEAN, atol=0.1)
    np.testing.assert_allclose(np.cov(s.T), COV, atol=0.12)
    if metropolis:
        assert 0.9 < out.acceptance_rate <= 1.0  # small steps are almost always accepted
    else:
        assert out.acceptance_rate is None


def test_ula_bias_matches_closed_form_and_mala_removes_it() -> None:
    """On N(0, 1) with ε = 1, unadjusted Langevin's stationary variance is 1/(1 − ε/4) = 4/3."""
    energy = L.gaussian_energy([0.0], [[1.0]])
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(8000, 1, dtype=torch.float64, generator=gen)  # start at stationarity of p
    ula = L.langevin(energy, x0, n_steps=60, step_size=1.0, generator=gen).samples.numpy()
    mala = L.langevin(energy, x0, n_steps=60, step_size=1.0, metropolis=True, generator=gen).samples.numpy()
    assert L.ula_stationary_variance(1.0, 1.0) == pytest.approx(4 / 3)
    # standard errors of the sample variances: ≈ 0.021 and 0.016
    assert ula.var() == pytest.approx(4 / 3, abs=0.08)
    assert mala.var() == pytest.approx(1.0, abs=0.06)


def test_two_sample_test_mala_passes_where_large_step_ula_fails() -> None:
    energy = L.gaussian_energy(MEAN, COV)
    exact = exact_gaussian(500, seed=0)
    x0 = torch.as_tensor(exact_gaussian(500, seed=1))
    gen = torch.Generator().manual_seed(2)
    ula = L.langevin(energy, x0, n_steps=60, step_size=1.0, generator=gen).samples
    mala = L.langevin(energy, x0, n_steps=60, step_size=1.0, metropolis=True, generator=gen)
    rwm = L.random_walk_metropolis(energy, x0, n_steps=100, proposal_std=1.0, generator=gen)
    _, p_ula = L.mmd_permutation_test(ula, exact, n_permutations=200, seed=0)
    _, p_mala = L.mmd_permutation_test(mala.samples, exact, n_permutations=200, seed=0)
    _, p_rwm = L.mmd_permutation_test(rwm.samples, exact, n_permutations=200, seed=0)
    assert p_ula < 0.01
    assert p_mala > 0.05
    assert p_rwm > 0.05
    assert 0.3 < mala.acceptance_rate < 1.0
    assert 0.1 < rwm.acceptance_rate < 0.9


def test_mala_acceptance_falls_with_step_size() -> None:
    energy = L.gaussian_energy(MEAN, COV)
    x0 = torch.as_tensor(exact_gaussian(400, seed=3))
    rates = [
        L.langevin(
            energy, x0, n_steps=20, step_size=eps, metropolis=True, generator=torch.Generator().manual_seed(0)
        ).acceptance_rate
        for eps in (0.1, 1.0, 3.0)
    ]
    assert rates[0] > rates[1] > rates[2]


def test_decoupled_noise_free_step_is_gradient_descent() -> None:
    """grad_step=λ, noise_std=0 is plain gradient descent on E: it converges to the mode."""
    x0 = torch.zeros(3, 2, dtype=torch.float64)
    out = L.langevin(L.gaussian_energy(MEAN, COV), x0, n_steps=200, grad_step=0.3, noise_std=0.0)
    np.testing.assert_allclose(out.samples.numpy(), np.tile(MEAN, (3, 1)), atol=1e-6)
    np.testing.assert_allclose(out.energies.numpy(), 0.0, atol=1e-10)


def test_one_step_matches_the_update_formula() -> None:
    """x' = x − λ∇E(x) + σξ with the same noise the generator produces."""
    energy = L.gaussian_energy(MEAN, COV)
    x0 = torch.tensor([[0.3, 0.7], [-1.0, 2.0]], dtype=torch.float64)
    out = L.langevin(
        energy, x0, n_steps=1, grad_step=0.2, noise_std=0.1, generator=torch.Generator().manual_seed(5)
    )
    xi = torch.randn(x0.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    grad = (x0 - torch.as_tensor(MEAN)) @ torch.linalg.inv(torch.as_tensor(COV))
    torch.testing.assert_close(out.samples, x0 - 0.2 * grad + 0.1 * xi)
    # exact pairing: step_size=ε is grad_step=ε/2, noise_std=√ε
    a = L.langevin(energy, x0, n_steps=3, step_size=0.04, generator=torch.Generator().manual_seed(1)).samples
    b = L.langevin(
        energy, x0, n_steps=3, grad_step=0.02, noise_std=0.2, generator=torch.Generator().manual_seed(1)
    ).samples
    torch.testing.assert_close(a, b)


def test_clamp_grad_clip_and_chain() -> None:
    energy = L.gaussian_energy([5.0, 5.0], np.eye(2))  # pulls far outside [-1, 1]
    x0 = torch.zeros(8, 2)
    out = L.langevin(
        energy,
        x0,
        n_steps=25,
        grad_step=1.0,
        noise_std=0.01,
        clamp=(-1.0, 1.0),
        return_chain=True,
        chain_every=10,
    )
    assert out.samples.min() >= -1 and out.samples.max() <= 1
    assert out.chain.shape == (4, 8, 2)  # initial, step 10, step 20, final step 25
    torch.testing.assert_close(out.chain[-1], out.samples)
    torch.testing.assert_close(out.chain[0], x0)
    # with the gradient clipped to 0.01 and no noise, one step moves each coordinate by exactly 0.01
    step = L.langevin(energy, x0, n_steps=1, grad_step=1.0, noise_std=0.0, grad_clip=0.01).samples
    torch.testing.assert_close(step, torch.full((8, 2), 0.01))


def test_sampling_leaves_model_gradients_alone() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.SiLU(), torch.nn.Linear(8, 1))
    out = L.langevin(lambda x: net(x).squeeze(-1), torch.randn(16, 2), n_steps=5, step_size=0.01)
    assert all(p.grad is None for p in net.parameters())
    assert not out.samples.requires_grad
    assert torch.isfinite(out.samples).all()


def test_bad_inputs_are_rejected() -> None:
    energy = L.gaussian_energy(MEAN, COV)
    x0 = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"torch\.Tensor"):
        L.langevin(energy, np.zeros((4, 2)), n_steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="floating-point"):
        L.langevin(energy, torch.zeros(4, 2, dtype=torch.long), n_steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="step_size"):
        L.langevin(energy, x0, n_steps=1, step_size=-0.1)
    with pytest.raises(ValueError, match="not both"):
        L.langevin(energy, x0, n_steps=1, step_size=0.1, noise_std=0.1)
    with pytest.raises(ValueError, match="both grad_step and noise_std"):
        L.langevin(energy, x0, n_steps=1, grad_step=0.1)
    with pytest.raises(ValueError, match="detailed balance"):
        L.langevin(energy, x0, n_steps=1, step_size=0.1, metropolis=True, clamp=(-1, 1))
    with pytest.raises(ValueError, match="clamp"):
        L.langevin(energy, x0, n_steps=1, step_size=0.1, clamp=(1, -1))
    with pytest.raises(ValueError, match="n_steps"):
        L.langevin(energy, x0, n_steps=-1, step_size=0.1)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        L.langevin(lambda x: x.sum(), x0, n_steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="proposal_std"):
        L.random_walk_metropolis(energy, x0, n_steps=1, proposal_std=0.0)
    with pytest.raises(ValueError, match="diverges"):
        L.ula_stationary_variance(1.0, 4.0)
    with pytest.raises(ValueError, match="positive definite"):
        L.gaussian_energy([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])


# --------------------------------------------------------------------------- replay buffer


def test_replay_buffer_reuses_and_restarts() -> None:
    gen = torch.Generator().manual_seed(0)
    buf = L.ReplayBuffer(1000, (1, 4, 4), reinit_prob=0.05, generator=gen)
    assert len(buf) == 1000 and buf.data.shape == (1000, 1, 4, 4)
    assert buf.data.min() >= -1 and buf.data.max() <= 1
    buf.data.fill_(7.0)  # mark every stored state, so fresh noise is recognisable
    n_fresh, n_total = 0, 0
    for _ in range(50):
        x, idx = buf.sample(200)
        assert x.shape == (200, 1, 4, 4) and len(set(idx.tolist())) == 200
        n_fresh += int((x.flatten(1) != 7.0).all(1).sum())
        n_total += 200
    # 10 000 draws with p = 0.05: the count is within ±4.6 standard deviations (≈ 0.05 ± 0.01)
    assert abs(n_fresh / n_total - 0.05) < 0.01
    x, idx = buf.sample(10)
    buf.update(idx, torch.full((10, 1, 4, 4), -3.0))
    assert (buf.data[idx] == -3.0).all()
    assert (buf.data == -3.0).flatten(1).all(1).sum() == 10


def test_replay_buffer_bad_inputs() -> None:
    with pytest.raises(ValueError, match="capacity"):
        L.ReplayBuffer(0, (2,))
    with pytest.raises(ValueError, match="reinit_prob"):
        L.ReplayBuffer(10, (2,), reinit_prob=1.5)
    buf = L.ReplayBuffer(10, (2,))
    with pytest.raises(ValueError, match="batch_size"):
        buf.sample(11)
    with pytest.raises(ValueError, match="shape"):
        buf.update(torch.arange(3), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="init"):
        L.ReplayBuffer(10, (2,), init=lambda n: torch.zeros(n, 3))


# --------------------------------------------------------------------------- 2-D targets


def _grid_integral(log_prob, lim: float = 7.0, n: int = 701) -> float:
    xs = np.linspace(-lim, lim, n)
    xx, yy = np.meshgrid(xs, xs)
    pts = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1))
    return float(torch.exp(log_prob(pts)).sum()) * (xs[1] - xs[0]) ** 2


def test_mixture_is_normalised_and_samples_are_exact() -> None:
    gm = L.GaussianMixture2D([[0.0, 0.0], [3.0, 1.0]], [0.5, 1.0], weights=[1.0, 3.0])
    assert _grid_integral(gm.log_prob) == pytest.approx(1.0, abs=1e-4)
    s = gm.sample(100_000, seed=0)
    mean = 0.25 * np.array([0.0, 0.0]) + 0.75 * np.array([3.0, 1.0])
    np.testing.assert_allclose(s.mean(0), mean, atol=0.02)
    # the energy is −log p, so exp(−E) integrates to 1 as well
    torch.testing.assert_close(gm.energy(torch.as_tensor(s[:5])), -gm.log_prob(s[:5]))


def test_ring_normaliser_and_exact_radius_distribution() -> None:
    ring = L.Ring2D(radius=1.0, width=0.5)  # wide enough that the r > 0 boundary matters
    assert _grid_integral(ring.log_prob) == pytest.approx(1.0, abs=1e-4)
    r = np.sqrt((ring.sample(50_000, seed=0) ** 2).sum(1))
    # the radial density is ∝ r exp(−(r − R)²/2w²) on r > 0: compare the CDF numerically
    grid = np.linspace(0, 4, 4001)
    dens = grid * np.exp(-((grid - 1.0) ** 2) / (2 * 0.25))
    cdf = np.cumsum(dens) / dens.sum()
    ks = stats.kstest(r, lambda v: np.interp(v, grid, cdf))
    assert ks.pvalue > 0.01


def test_grid_density_matches_exact_mixture() -> None:
    gm = L.GaussianMixture2D.ring_of_gaussians(k=4, radius=2.0, std=0.5)
    centres, p = L.grid_density(gm.energy, extent=5.0, n_grid=200)
    assert p.shape == (200, 200) and p.sum() == pytest.approx(1.0)
    xx, yy = np.meshgrid(centres, centres)
    exact = torch.exp(gm.log_prob(np.stack([xx.ravel(), yy.ravel()], 1))).numpy().reshape(200, 200)
    exact = exact * (centres[1] - centres[0]) ** 2
    np.testing.assert_allclose(p, exact / exact.sum(), atol=1e-6)
    # orientation [iy, ix]: a Gaussian at (x, y) = (2, 0) peaks in column 140, row 100
    _, q = L.grid_density(L.gaussian_energy([2.0, 0.0], 0.1 * np.eye(2)), extent=5.0, n_grid=200)
    assert np.unravel_index(np.argmax(q), q.shape) in {(99, 139), (99, 140), (100, 139), (100, 140)}


# --------------------------------------------------------------------------- metrics


def test_kl_divergence_against_scipy() -> None:
    rng = np.random.default_rng(0)
    p, q = rng.random(50), rng.random(50)
    p, q = p / p.sum(), q / q.sum()
    assert L.kl_divergence(p, q) == pytest.approx(stats.entropy(p, q), rel=1e-9)
    assert L.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        L.kl_divergence(p, q[:10] / q[:10].sum())
    with pytest.raises(ValueError, match="sum to 1"):
        L.kl_divergence(p, 2 * q)


def test_histogram_kl_of_exact_samples_is_small() -> None:
    gm = L.GaussianMixture2D.ring_of_gaussians()
    _, p = L.grid_density(gm.energy, extent=5.0, n_grid=30)
    good = L.kl_divergence(L.histogram2d(gm.sample(50_000, seed=1), 5.0, 30), p)
    shifted = L.kl_divergence(L.histogram2d(gm.sample(50_000, seed=1) + 0.5, 5.0, 30), p)
    assert good < 0.02 < 0.2 < shifted


def test_mmd_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(9, 3))
    h = 1.3

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return math.exp(-np.sum((a - b) ** 2) / (2 * h**2))

    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    xy = sum(k(a, b) for a in x for b in y) / (7 * 9)
    assert L.mmd_rbf(x, y, bandwidth=h) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_mmd_permutation_test_power_and_level() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    shifted = rng.normal(0.4, 1.0, size=(300, 2))
    mmd_same, p_same = L.mmd_permutation_test(a, b, seed=0)
    mmd_diff, p_diff = L.mmd_permutation_test(a, shifted, seed=0)
    assert abs(mmd_same) < 0.01 and p_same > 0.05
    assert mmd_diff > 0.02 and p_diff < 0.01
    with pytest.raises(ValueError, match="same dimension"):
        L.mmd_rbf(a, rng.normal(size=(10, 3)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        L.mmd_rbf(a[0], b)
