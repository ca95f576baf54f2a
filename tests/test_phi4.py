"""lib.phi4 against exact results: the action and its force (autograd, and the quadratic form it
must be at λ = 0), the free field's ln Z (against the determinant of the matrix read off the action,
and a one-site integral), its propagator (against the inverse of that matrix), HMC's moments against
the exact free-field propagator and a one-dimensional quadrature, and the flow's equivariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from lib import ising_mc, phi4

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _quadratic_form(L: int, m2: float) -> np.ndarray:
    """The symmetric matrix K with S(φ) = φᵀKφ at λ = 0, read off the action by polarisation."""
    V = L * L
    basis = np.eye(V).reshape(V, L, L)
    diag = phi4.action(basis, m2, 0.0)  # S(e_i) = K_ii
    K = np.diag(diag)
    for i in range(V):
        pair = basis[i][None] + basis[i + 1 :]  # e_i + e_j, j > i
        K[i, i + 1 :] = K[i + 1 :, i] = (phi4.action(pair, m2, 0.0) - diag[i] - diag[i + 1 :]) / 2
    return K


def test_action_by_hand_and_in_torch():
    phi = np.zeros((1, 3, 3))
    phi[0, 1, 1] = 2.0  # one site: 4 bonds of (0 − 2)², m² φ², λ φ⁴
    assert phi4.action(phi, 0.5, 0.25)[0] == pytest.approx(4 * 4 + 0.5 * 4 + 0.25 * 16)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4, 4))
    got = phi4.action(torch.as_tensor(x), -4.0, 8.0).numpy()
    np.testing.assert_allclose(got, phi4.action(x, -4.0, 8.0), rtol=1e-14)


def test_force_is_the_gradient_of_the_action():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(3, 4, 4)), requires_grad=True)
    phi4.action(x, -1.3, 0.7).sum().backward()
    np.testing.assert_allclose(phi4.force(x.detach().numpy(), -1.3, 0.7), x.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("L, m2", [(2, 0.7), (3, 0.25), (4, 1.0)])
def test_free_log_partition_and_propagator_against_the_matrix(L, m2):
    K = _quadratic_form(L, m2)
    V = L * L
    log_det = np.linalg.slogdet(K)[1]
    assert phi4.free_log_partition(L, m2) == pytest.approx(
        0.5 * V * math.log(math.pi) - 0.5 * log_det, abs=1e-10
    )
    cov = np.linalg.inv(2 * K)  # e^{−φᵀKφ} is the Gaussian with covariance (2K)⁻¹
    G = phi4.free_propagator(L, m2)
    for r in range(L):
        for c in range(L):
            assert cov[0, r * L + c] == pytest.approx(G[r, c], abs=1e-12)
    assert G.sum() == pytest.approx(1 / (2 * m2), rel=1e-12)  # ⟨M²⟩/V = Σ_r G(r)


def test_free_log_partition_one_site_limit():
    # ln Z per site of the action m²φ² alone is ½ ln(π/m²); with the kinetic term the sum over k matters.
    L, m2 = 2, 3.0
    per_site = math.log(integrate.quad(lambda x: math.exp(-m2 * x * x), -np.inf, np.inf)[0])
    assert per_site == pytest.approx(0.5 * math.log(math.pi / m2), rel=1e-12)
    assert phi4.free_log_partition(L, m2) < L * L * per_site  # the kinetic term only lowers Z


def test_refuses_what_is_not_normalisable():
    with pytest.raises(ValueError, match="m² > 0"):
        phi4.free_log_partition(4, 0.0)
    with pytest.raises(ValueError, match="λ ≥ 0"):
        phi4.action(np.zeros((1, 2, 2)), 1.0, -1.0)
    with pytest.raises(ValueError, match="n, L, L"):
        phi4.action(np.zeros((2, 3)), 1.0, 0.0)
    with pytest.raises(ValueError, match="even L"):
        phi4.make_flow(5)


def _z(series: np.ndarray, exact: float) -> float:
    """(mean − exact) / its standard error, with the error from the integrated autocorrelation time
    of ``series`` shaped (time, chain)."""
    tau = ising_mc.integrated_autocorrelation_time(series)
    return float((series.mean() - exact) / (series.std() * math.sqrt(2 * tau / series.size)))


def test_hmc_reproduces_the_free_propagator():
    L, m2, chains = 4, 0.5, 100
    phi, acc = phi4.hmc(L, m2, 0.0, 20_000, n_chains=chains, n_burn=100, step_size=0.2, n_leapfrog=5, seed=0)
    assert phi.shape == (20_000, L, L) and 0.7 < acc < 1.0
    G = phi4.free_propagator(L, m2)
    for r, c in [(0, 0), (0, 1), (1, 1), (2, 2)]:  # ⟨φ_x φ_{x+r}⟩, averaged over x
        series = np.mean(phi * np.roll(phi, (-r, -c), (1, 2)), axis=(1, 2)).reshape(-1, chains)
        assert abs(_z(series, G[r, c])) < 4, (r, c, series.mean(), G[r, c])
    m_sq = (phi.sum((1, 2)) ** 2 / L**2).reshape(-1, chains)
    assert abs(_z(m_sq, 1 / (2 * m2))) < 4  # ⟨M²⟩/V = Σ_r G(r) = 1/(2m²)
    s = phi4.action(phi, m2, 0.0).reshape(-1, chains)
    assert abs(_z(s, L * L / 2)) < 4  # equipartition: ⟨S⟩ = V/2 for a quadratic action


def test_hmc_interacting_against_quadrature():
    # L = 2 has four sites: ⟨φ²⟩ and ⟨M²⟩/V are 4-dimensional integrals, done on a grid (the trapezoidal
    # rule on a smooth, fast-decaying integrand: spacing 0.2 against a narrowest width of about 0.24;
    # a grid of 51 points on ±3.5 agrees in 15 digits).
    L, m2, lam, chains = 2, 1.0, 0.5, 200
    g = np.linspace(-3.0, 3.0, 31)
    grid = np.stack(np.meshgrid(g, g, g, g, indexing="ij"), -1).reshape(-1, L, L)
    s = phi4.action(grid, m2, lam)
    w = np.exp(-(s - s.min()))
    exact_phi2 = float((w * (grid * grid).mean((1, 2))).sum() / w.sum())
    exact_m2 = float((w * grid.sum((1, 2)) ** 2).sum() / w.sum()) / L**2
    phi, acc = phi4.hmc(L, m2, lam, 40_000, n_chains=chains, n_burn=50, step_size=0.25, n_leapfrog=4, seed=1)
    assert 0.7 < acc < 1.0
    assert abs(_z((phi * phi).mean((1, 2)).reshape(-1, chains), exact_phi2)) < 4
    assert abs(_z((phi.sum((1, 2)) ** 2 / L**2).reshape(-1, chains), exact_m2)) < 4


def test_local_conditioner_reads_only_its_offsets_and_is_equivariant():
    L = 6
    net = phi4.LocalConditioner(L, hidden=8).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(3), dtype=p.dtype))
    x = torch.randn(2, L * L, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    out = net(x)
    assert out.shape == (2, 2 * L * L)
    shifted = net(x.view(2, L, L).roll((1, 2), (1, 2)).reshape(2, -1))
    expect = out.view(2, 2, L, L).roll((1, 2), (2, 3)).reshape(2, -1)
    torch.testing.assert_close(shifted, expect)
    # the output at site 0 depends exactly on the 12 sites at the offsets
    J = torch.autograd.functional.jacobian(lambda v: net(v[None])[0, 0], x[0])
    read = {((a % L) * L + b % L) for a, b in phi4.KNIGHT_OFFSETS}
    assert set(torch.nonzero(J).flatten().tolist()) == read


def test_flow_starts_as_the_identity_and_is_exactly_invertible():
    flow = phi4.make_flow(4, n_layers=4, hidden=8).double()
    z = torch.randn(5, 16, dtype=torch.float64)
    x, log_det = flow.inverse(z)
    assert torch.equal(x, z) and torch.equal(log_det, torch.zeros(5, dtype=torch.float64))
    with torch.no_grad():
        for p in flow.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(5), dtype=p.dtype))
    x, log_det = flow.inverse(z)
    z_back, log_det_fwd = flow.forward(x)
    torch.testing.assert_close(z_back, z)
    torch.testing.assert_close(log_det_fwd, -log_det)
