"""Tests of lib.nqs against exact diagonalisation, dense matrices, exact enumeration and finite
differences. Monte Carlo checks use fixed seeds, so they are deterministic."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as sla

from lib import nqs, spin_chains


def random_rbm(n: int, m: int, seed: int, scale: float = 0.5) -> nqs.RBM:
    return nqs.RBM.random(n, m, scale=scale, seed=seed)


def random_symmetric(n: int, alpha: int, seed: int, scale: float = 0.5) -> nqs.SymmetricRBM:
    return nqs.SymmetricRBM.random(n, alpha, scale=scale, seed=seed)


# ------------------------------------------------------------------------------------------
# Exact results
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 4, 6, 8, 10])
@pytest.mark.parametrize("h", [0.0, 0.3, 1.0, 2.5])
@pytest.mark.parametrize("J", [1.0, 0.7])
def test_closed_form_matches_exact_diagonalisation(n, h, J):
    e_exact = np.linalg.eigvalsh(spin_chains.tfim_hamiltonian(n, h, J).toarray())[0]
    assert spin_chains.tfim_ground_energy(n, h, J) == pytest.approx(e_exact, abs=1e-10)


@pytest.mark.parametrize("h", [0.5, 1.0, 2.0])
def test_closed_form_matches_lanczos_at_n12(h):
    e = sla.eigsh(spin_chains.tfim_hamiltonian(12, h), k=1, which="SA")[0][0]
    assert spin_chains.tfim_ground_energy(12, h) == pytest.approx(e, abs=1e-9)


@pytest.mark.parametrize("n", [3, 5, 7, 9, 11])
@pytest.mark.parametrize("h", [0.0, 0.3, 1.0, 2.5, -0.5, -1.3])
@pytest.mark.parametrize("J", [1.0, 0.7, 0.0])
def test_closed_form_holds_for_odd_rings_with_j_at_least_zero(n, h, J):
    """For J ≥ 0 the ground state lies in the even parity sector for every n (antiperiodic
    fermion momenta), and E₀ is even in h."""
    H = spin_chains.tfim_hamiltonian(n, h, J)
    if n <= 9 or H.count_nonzero() == 0:  # (Lanczos cannot start on H = 0)
        e = np.linalg.eigvalsh(H.toarray())[0] if n <= 9 else 0.0
    else:
        e = sla.eigsh(H, k=1, which="SA")[0][0]
    assert spin_chains.tfim_ground_energy(n, h, J) == pytest.approx(e, abs=1e-9)


@pytest.mark.parametrize("n", [4, 6])
@pytest.mark.parametrize("h", [0.3, -0.5, -1.3])
def test_closed_form_for_even_rings_holds_for_either_sign_of_j_and_h(n, h):
    e = np.linalg.eigvalsh(spin_chains.tfim_hamiltonian(n, h, -1.0).toarray())[0]
    assert spin_chains.tfim_ground_energy(n, h, -1.0) == pytest.approx(e, abs=1e-10)


def test_closed_form_refuses_the_frustrated_odd_ring_and_bad_input():
    # an odd antiferromagnetic ring is frustrated: the formula would be wrong there
    e = np.linalg.eigvalsh(spin_chains.tfim_hamiltonian(5, 0.3, -1.0).toarray())[0]
    k = (2 * np.arange(1, 6) - 1) * np.pi / 5
    assert abs(-np.sum(np.sqrt(1 + 0.09 - 0.6 * np.cos(k))) - e) > 0.1
    with pytest.raises(ValueError, match="frustrated"):
        spin_chains.tfim_ground_energy(5, 0.3, -1.0)
    with pytest.raises(ValueError):
        spin_chains.tfim_ground_energy(1, 1.0)
    with pytest.raises(ValueError):
        spin_chains.tfim_ground_energy(8, float("nan"))
    with pytest.raises(ValueError):
        spin_chains.tfim_hamiltonian(30, 1.0)
    with pytest.raises(ValueError):
        spin_chains.spin_states(spin_chains.MAX_EXACT_SPINS + 1)


def test_spin_states_and_hamiltonian_bit_order():
    s = spin_chains.spin_states(3)
    assert s.shape == (8, 3)
    np.testing.assert_array_equal(s[0], [1, 1, 1])  # x = 0: all up
    np.testing.assert_array_equal(s[1], [1, 1, -1])  # bit 0 is the last spin
    np.testing.assert_array_equal(s[4], [-1, 1, 1])  # bit n−1 is spin 0
    np.testing.assert_array_equal(spin_chains.basis_index(spin_chains.spin_states(7)), np.arange(2**7))
    H = spin_chains.tfim_hamiltonian(3, h=0.4, J=1.5).toarray()
    assert H[0, 0] == pytest.approx(-1.5 * 3)  # three satisfied bonds
    assert H[4, 4] == pytest.approx(-1.5 * (-1 - 1 + 1))  # spin 0 down: two broken bonds
    assert H[0, 4] == pytest.approx(-0.4)  # σˣ on spin 0 connects x = 0 and x = 4
    assert H[0, 3] == 0.0  # two flips apart
    np.testing.assert_allclose(H, H.T)


def test_heisenberg_hamiltonian_small_cases_and_marshall_rule():
    H4, _ = spin_chains.heisenberg_hamiltonian(4)
    assert np.linalg.eigvalsh(H4.toarray())[0] == pytest.approx(-8.0)  # n = 4 ring: E₀ = −8
    for n in (6, 8, 10):
        H, states = spin_chains.heisenberg_hamiltonian(n, magnetization=0)
        Hm, states_m = spin_chains.heisenberg_hamiltonian(n, marshall=True, magnetization=0)
        np.testing.assert_array_equal(states, states_m)
        # the Marshall basis is a diagonal ±1 change of basis: same spectrum, positive ground state
        D = np.diag(spin_chains.marshall_sign(states))
        np.testing.assert_allclose(D @ H.toarray() @ D, Hm.toarray())
        w, v = np.linalg.eigh(Hm.toarray())
        ground = v[:, 0] * np.sign(v[:, 0].sum())
        assert np.all(ground > 0)
        full, _ = spin_chains.heisenberg_hamiltonian(n)
        assert w[0] == pytest.approx(np.linalg.eigvalsh(full.toarray())[0], abs=1e-10)
        # in the original basis the ground state changes sign under a translation when n ≡ 2 mod 4
        original = v[:, 0] * D.diagonal()
        index = {tuple(s): k for k, s in enumerate(states)}
        translated = original[[index[tuple(np.roll(s, 1))] for s in states]]
        assert translated @ original == pytest.approx((-1) ** (n // 2), abs=1e-10)
    with pytest.raises(ValueError):
        spin_chains.heisenberg_hamiltonian(6, magnetization=1)


@pytest.mark.parametrize("n", [6, 9])
def test_heisenberg_sector_is_the_full_hamiltonian_restricted(n):
    full, states = spin_chains.heisenberg_hamiltonian(n)
    for m in range(-n, n + 1, 2):
        H, sector = spin_chains.heisenberg_hamiltonian(n, magnetization=m)
        keep = np.nonzero(states.sum(axis=1) == m)[0]
        np.testing.assert_array_equal(sector, states[keep])
        np.testing.assert_allclose(H.toarray(), full.toarray()[np.ix_(keep, keep)])
    with pytest.raises(ValueError):
        spin_chains.heisenberg_hamiltonian(spin_chains.MAX_EXACT_SPINS + 1)
    with pytest.raises(ValueError):
        spin_chains.heisenberg_hamiltonian(spin_chains.MAX_SECTOR_SPINS + 2, magnetization=0)


def dense_tfim(L: int, h: float, J: float, bonds) -> np.ndarray:
    """The transverse-field Ising Hamiltonian on n = L sites from Kronecker products (spin 0 first)."""
    sx, sz, one = np.array([[0, 1], [1, 0]]), np.diag([1.0, -1.0]), np.eye(2)

    def site(op, i):
        out = np.ones((1, 1))
        for k in range(L):
            out = np.kron(out, op if k == i else one)
        return out

    return -J * sum(site(sz, i) @ site(sz, j) for i, j in bonds) - h * sum(site(sx, i) for i in range(L))


def test_tfim_on_any_lattice_matches_kronecker_products():
    side = 3
    bonds = [(r * side + c, r * side + (c + 1) % side) for r in range(side) for c in range(side)]
    bonds += [(r * side + c, ((r + 1) % side) * side + c) for r in range(side) for c in range(side)]
    H = spin_chains.tfim_hamiltonian(9, 0.7, 1.2, bonds=bonds)
    np.testing.assert_allclose(H.toarray(), dense_tfim(9, 0.7, 1.2, bonds))
    ring = spin_chains.tfim_hamiltonian(6, 0.7, 1.2)
    np.testing.assert_allclose(ring.toarray(), dense_tfim(6, 0.7, 1.2, spin_chains.ring_bonds(6)))
    wf = random_rbm(9, 4, 21)
    s = spin_chains.spin_states(9)
    expected = dense_local_energy(H, wf.log_psi, s)
    np.testing.assert_allclose(spin_chains.local_energy(wf, s, 0.7, 1.2, bonds=bonds), expected, rtol=1e-9)
    with pytest.raises(ValueError, match="bond"):
        spin_chains.tfim_hamiltonian(4, 1.0, bonds=[(0, 0)])


# ------------------------------------------------------------------------------------------
# Local energies
# ------------------------------------------------------------------------------------------


def dense_local_energy(H, log_psi, states):
    psi = np.exp(log_psi(states))
    return (H @ psi) / psi


@pytest.mark.parametrize("make", [lambda: random_rbm(6, 5, 1), lambda: random_symmetric(6, 2, 2)])
def test_tfim_local_energy_matches_dense_matrix(make):
    wf = make()
    s = spin_chains.spin_states(6)
    H = spin_chains.tfim_hamiltonian(6, h=0.8, J=1.3)
    expected = dense_local_energy(H, wf.log_psi, s)
    np.testing.assert_allclose(
        spin_chains.local_energy(wf.log_psi, s, 0.8, J=1.3), expected, rtol=1e-10
    )  # generic
    np.testing.assert_allclose(spin_chains.local_energy(wf, s, 0.8, J=1.3), expected, rtol=1e-10)  # fast path


def test_local_energy_of_any_callable():
    rng = np.random.default_rng(0)
    table = rng.normal(size=2**5)  # an arbitrary (non-RBM) log-amplitude

    def log_psi(s):
        bits = (s < 0).astype(int) @ (1 << np.arange(4, -1, -1))
        return table[bits]

    s = spin_chains.spin_states(5)
    H = spin_chains.tfim_hamiltonian(5, h=1.1)
    np.testing.assert_allclose(spin_chains.local_energy(log_psi, s, 1.1), dense_local_energy(H, log_psi, s))
    with pytest.raises(ValueError, match="shape"):
        spin_chains.local_energy(lambda x: np.zeros(3), s, 1.0)
    with pytest.raises(ValueError, match="±1"):
        spin_chains.local_energy(log_psi, np.zeros((2, 5)), 1.0)


@pytest.mark.parametrize("marshall", [False, True])
def test_heisenberg_local_energy_matches_dense_matrix(marshall):
    for wf in (random_rbm(8, 4, 3), random_symmetric(8, 2, 4)):
        H, states = spin_chains.heisenberg_hamiltonian(8, marshall=marshall)
        expected = dense_local_energy(H, wf.log_psi, states)
        tol = {"rtol": 1e-9, "atol": 1e-12 * np.abs(expected).max()}  # entries near 0 cancel
        np.testing.assert_allclose(
            spin_chains.heisenberg_local_energy(wf, states, marshall=marshall), expected, **tol
        )
        np.testing.assert_allclose(
            spin_chains.heisenberg_local_energy(wf.log_psi, states, marshall=marshall), expected, **tol
        )


def test_vmc_energy_by_exact_enumeration():
    """⟨E_loc⟩ over |ψ|² (enumerated, not sampled) is the Rayleigh quotient ⟨ψ|H|ψ⟩/⟨ψ|ψ⟩."""
    wf = random_rbm(8, 6, 5)
    s = spin_chains.spin_states(8)
    H = spin_chains.tfim_hamiltonian(8, h=1.0)
    p = np.exp(2 * wf.log_psi(s))
    vmc = np.sum(p * spin_chains.local_energy(wf, s, 1.0)) / p.sum()
    psi = np.exp(wf.log_psi(s))
    assert vmc == pytest.approx(psi @ (H @ psi) / (psi @ psi), rel=1e-12)
    assert spin_chains.exact_energy(wf, H, s) == pytest.approx(vmc, rel=1e-12)
    assert vmc >= spin_chains.tfim_ground_energy(8, 1.0)  # the variational principle


def complex_log_psi(n: int, m: int, seed: int, scale: float = 0.3):
    """A complex RBM log-amplitude (complex a, b, W) and its parameters."""
    rng = np.random.default_rng(seed)
    a, b, W = (
        scale * (rng.normal(size=shape) + 1j * rng.normal(size=shape)) for shape in [(n,), (m,), (n, m)]
    )
    return (lambda s, a=a, b=b, W=W: s @ a + nqs.log_cosh2(s @ W + b).sum(axis=1)), (a, b, W)


def test_tfim_energy_by_enumeration_is_the_exact_energy():
    wf = random_rbm(8, 6, 5)
    for h, J in [(0.9, 1.0), (1.3, -0.6)]:
        H = spin_chains.tfim_hamiltonian(8, h, J)
        e = spin_chains.tfim_energy_by_enumeration(wf, 8, h, J, batch=37)
        assert e == pytest.approx(spin_chains.exact_energy(wf, H, spin_chains.spin_states(8)), rel=1e-12)
    log_psi, _ = complex_log_psi(6, 4, 7)  # a complex wavefunction
    H = spin_chains.tfim_hamiltonian(6, 0.8)
    e = spin_chains.tfim_energy_by_enumeration(log_psi, 6, 0.8)
    assert e == pytest.approx(spin_chains.exact_energy(log_psi, H, spin_chains.spin_states(6)), rel=1e-10)
    with pytest.raises(ValueError):
        spin_chains.tfim_energy_by_enumeration(log_psi, spin_chains.MAX_ENUMERATED_SPINS + 1, 1.0)


def test_log_cosh2_of_complex_arguments():
    x = np.array([0.3 + 2j, -0.5 + 1j, 40.0 - 3j, -60.0 + 0.5j, 1e-3j])
    np.testing.assert_allclose(np.exp(nqs.log_cosh2(x[:3])), 2 * np.cosh(x[:3]), rtol=1e-12)
    big = nqs.log_cosh2(x)  # no overflow for large |Re x|
    assert np.all(np.isfinite(big))
    np.testing.assert_allclose(big[3], 60.0 - 0.5j, rtol=1e-12)  # log 2cosh x → −x for Re x → −∞
    np.testing.assert_allclose(nqs.log_cosh2(np.array([-3.0, 2.0])), np.log(2 * np.cosh([-3.0, 2.0])))


def test_complex_gradient_formula_of_the_lecture():
    """For a holomorphic ψ: ∂E/∂Re θ_k = 2 Re g_k and ∂E/∂Im θ_k = 2 Im g_k with
    g_k = ⟨O_k* E_loc⟩ − ⟨O_k*⟩⟨E_loc⟩ (here θ = a, O_k = s_k)."""
    n = 6
    H, states = spin_chains.heisenberg_hamiltonian(n)
    _, (a, b, W) = complex_log_psi(n, 4, 8)

    def log_psi_of(a):
        return lambda s: s @ a + nqs.log_cosh2(s @ W + b).sum(axis=1)

    p = np.exp(2 * log_psi_of(a)(states).real)
    p /= p.sum()
    e_loc = spin_chains.heisenberg_local_energy(log_psi_of(a), states, marshall=False)
    O = states.astype(complex)
    g = (p * O.conj().T) @ e_loc - (p @ O.conj()) * (p @ e_loc)
    eps = 1e-6
    for k in range(n):
        step = np.zeros(n)
        step[k] = eps
        d_re, d_im = (
            (
                spin_chains.exact_energy(log_psi_of(a + d), H, states)
                - spin_chains.exact_energy(log_psi_of(a - d), H, states)
            )
            / (2 * eps)
            for d in (step, 1j * step)
        )
        assert d_re == pytest.approx(2 * g[k].real, abs=1e-6)
        assert d_im == pytest.approx(2 * g[k].imag, abs=1e-6)
    with pytest.raises(ValueError, match="real"):
        nqs.energy_gradient(O, e_loc)
    with pytest.raises(ValueError, match="real"):
        nqs.sr_update(O, e_loc, learning_rate=0.1, diag_shift=0.1)
    with pytest.raises(ValueError, match="real"):
        random_rbm(4, 2, 1).set_params(np.zeros(4 + 2 + 8, dtype=complex))


# ------------------------------------------------------------------------------------------
# Wavefunctions
# ------------------------------------------------------------------------------------------


def finite_difference_log_derivatives(wf, s, eps=1e-6):
    theta = wf.params
    out = np.empty((len(s), theta.size))
    for k in range(theta.size):
        step = np.zeros_like(theta)
        step[k] = eps
        wf.set_params(theta + step)
        up = wf.log_psi(s)
        wf.set_params(theta - step)
        down = wf.log_psi(s)
        out[:, k] = (up - down) / (2 * eps)
    wf.set_params(theta)
    return out


@pytest.mark.parametrize("make", [lambda: random_rbm(5, 3, 6), lambda: random_symmetric(6, 2, 7)])
def test_log_derivatives_match_finite_differences(make):
    wf = make()
    s = np.random.default_rng(1).choice([-1.0, 1.0], size=(7, wf.n_visible))
    np.testing.assert_allclose(wf.log_derivatives(s), finite_difference_log_derivatives(wf, s), atol=1e-7)


def test_symmetric_rbm_is_a_translation_invariant_rbm():
    wf = random_symmetric(7, 3, 8)
    assert wf.n_params == 3 * 7 + 3 + 1
    s = np.random.default_rng(2).choice([-1.0, 1.0], size=(20, 7))
    np.testing.assert_allclose(wf.log_psi(s), wf.to_rbm().log_psi(s))
    np.testing.assert_allclose(wf.log_psi(s), wf.log_psi(np.roll(s, 3, axis=1)))
    np.testing.assert_allclose(wf.flip_log_ratios(s), wf.to_rbm().flip_log_ratios(s))


def test_symmetric_rbm_from_params():
    wf = random_symmetric(6, 2, 16)
    again = nqs.SymmetricRBM.from_params(6, 2, wf.params)
    s = np.random.default_rng(3).choice([-1.0, 1.0], size=(5, 6))
    np.testing.assert_array_equal(again.log_psi(s), wf.log_psi(s))
    np.testing.assert_array_equal(again.w, wf.w)
    with pytest.raises(ValueError):
        nqs.SymmetricRBM.from_params(6, 3, wf.params)


def test_flip_log_ratios_and_stability():
    wf = random_rbm(6, 4, 9, scale=30.0)  # large weights: log 2cosh must not overflow
    s = spin_chains.spin_states(6)
    lp = wf.log_psi(s)
    assert np.all(np.isfinite(lp))
    flips = wf.flip_log_ratios(s)
    pairs = wf.pair_flip_log_ratios(s)
    for i in range(6):
        t = s.copy()
        t[:, i] *= -1
        np.testing.assert_allclose(flips[:, i], wf.log_psi(t) - lp, atol=1e-9)
        t[:, (i + 1) % 6] *= -1
        np.testing.assert_allclose(pairs[:, i], wf.log_psi(t) - lp, atol=1e-9)


def test_parameter_round_trip_and_validation():
    wf = random_rbm(4, 3, 10)
    theta = wf.params
    assert theta.size == wf.n_params == 4 + 3 + 12
    wf.set_params(theta * 2)
    np.testing.assert_allclose(wf.params, theta * 2)
    with pytest.raises(ValueError):
        wf.set_params(theta[:-1])
    with pytest.raises(ValueError):
        wf.set_params(np.full_like(theta, np.inf))
    with pytest.raises(ValueError):
        nqs.RBM(np.zeros(3), np.zeros(2), np.zeros((4, 2)))
    with pytest.raises(ValueError):
        nqs.SymmetricRBM.random(6, 0)
    with pytest.raises(ValueError, match="spins"):
        wf.log_psi(np.ones((2, 5)))


def test_zero_initialisation_has_no_gradient_in_b_and_W():
    """Why an exactly zero start never trains: tanh(0) = 0 kills O_b and O_W."""
    wf = nqs.RBM(np.zeros(6), np.zeros(4), np.zeros((6, 4)))
    s = spin_chains.spin_states(6)
    p = np.exp(2 * wf.log_psi(s))
    _, states = spin_chains.heisenberg_hamiltonian(6, marshall=True)
    grad = nqs.energy_gradient(
        wf.log_derivatives(states), spin_chains.heisenberg_local_energy(wf, states), weights=p
    )
    np.testing.assert_allclose(grad[6:], 0.0, atol=1e-12)


# ------------------------------------------------------------------------------------------
# Gradient and stochastic reconfiguration (exact, with weights = |ψ|²)
# ------------------------------------------------------------------------------------------


def exact_tfim_energy(wf, theta, s, H):
    old = wf.params
    wf.set_params(theta)
    e = spin_chains.exact_energy(wf, H, s)
    wf.set_params(old)
    return e


def test_energy_gradient_matches_finite_differences():
    wf = random_symmetric(6, 2, 11)
    s = spin_chains.spin_states(6)
    H = spin_chains.tfim_hamiltonian(6, h=1.0)
    p = np.exp(2 * wf.log_psi(s))
    grad = nqs.energy_gradient(wf.log_derivatives(s), spin_chains.local_energy(wf, s, 1.0), weights=p)
    theta = wf.params
    eps = 1e-6
    fd = [
        (exact_tfim_energy(wf, theta + eps * e, s, H) - exact_tfim_energy(wf, theta - eps * e, s, H))
        / (2 * eps)
        for e in np.eye(theta.size)
    ]
    np.testing.assert_allclose(grad, fd, atol=1e-6)


def test_sr_update_solves_the_regularised_system_and_lowers_the_energy():
    wf = random_rbm(6, 6, 12, scale=0.2)
    s = spin_chains.spin_states(6)
    H = spin_chains.tfim_hamiltonian(6, h=1.0)
    p = np.exp(2 * wf.log_psi(s))
    O = wf.log_derivatives(s)
    e = spin_chains.local_energy(wf, s, 1.0)
    delta = nqs.sr_update(O, e, learning_rate=0.05, diag_shift=1e-3, weights=p)
    w = p / p.sum()
    Oc = O - w @ O
    S = Oc.T @ (w[:, None] * Oc)
    F = Oc.T @ (w * (e - w @ e))
    np.testing.assert_allclose((S + 1e-3 * np.eye(len(S))) @ delta, -0.05 * F, atol=1e-10)
    # a large shift is gradient descent with rate η / (2λ)
    big = nqs.sr_update(O, e, learning_rate=0.05, diag_shift=1e6, weights=p)
    np.testing.assert_allclose(big, -0.05 / 2e6 * nqs.energy_gradient(O, e, weights=p), rtol=1e-4)
    before = spin_chains.exact_energy(wf, H, s)
    wf.set_params(wf.params + delta)
    assert spin_chains.exact_energy(wf, H, s) < before
    with pytest.raises(ValueError):
        nqs.sr_update(O, e, learning_rate=0.1, diag_shift=0.0)


# ------------------------------------------------------------------------------------------
# Sampling
# ------------------------------------------------------------------------------------------


def total_variation(samples: np.ndarray, states: np.ndarray, p: np.ndarray) -> float:
    n = states.shape[1]
    idx = (samples < 0).astype(np.int64) @ (1 << np.arange(n - 1, -1, -1))
    lookup = {
        int(k): i for i, k in enumerate((states < 0).astype(np.int64) @ (1 << np.arange(n - 1, -1, -1)))
    }
    counts = np.bincount([lookup[int(k)] for k in idx], minlength=len(states))
    return 0.5 * float(np.abs(counts / counts.sum() - p).sum())


def test_metropolis_histogram_matches_psi_squared():
    wf = random_rbm(6, 4, 13, scale=0.6)
    s = spin_chains.spin_states(6)
    p = np.exp(2 * wf.log_psi(s))
    p /= p.sum()
    rng = np.random.default_rng(0)
    start = rng.choice([-1.0, 1.0], size=(1000, 6))
    res = nqs.sample(wf, start, 60, thin=2, burn_in=10, rng=rng)
    assert res.samples.shape == (60, 1000, 6)
    # 60,000 draws over 64 states: the TV distance of exact independent draws is ≈ 0.01
    assert total_variation(res.samples.reshape(-1, 6), s, p) < 0.025
    assert 0.0 < res.acceptance <= 1.0
    # a uniform histogram is far from |ψ|² (the check has power)
    assert 0.5 * np.abs(p - 1 / 64).sum() > 0.1


def test_exchange_moves_conserve_magnetisation_and_sample_the_sector():
    wf = random_symmetric(6, 2, 14, scale=0.6)
    _, states = spin_chains.heisenberg_hamiltonian(6, magnetization=0)
    p = np.exp(2 * wf.log_psi(states))
    p /= p.sum()
    rng = np.random.default_rng(1)
    start = rng.permuted(np.tile([1.0, 1.0, 1.0, -1.0, -1.0, -1.0], (1000, 1)), axis=1)
    res = nqs.sample(wf, start, 60, thin=2, burn_in=10, rng=rng, move="exchange")
    assert np.all(res.samples.sum(axis=2) == 0)
    assert total_variation(res.samples.reshape(-1, 6), states, p) < 0.025


def test_sampler_validation():
    wf = random_rbm(4, 2, 15)
    rng = np.random.default_rng(0)
    s = np.ones((3, 4))
    with pytest.raises(ValueError):
        nqs.metropolis(wf, s, -1, rng=rng)
    with pytest.raises(ValueError, match="move"):
        nqs.metropolis(wf, s, 1, rng=rng, move="swap")
    with pytest.raises(ValueError):
        nqs.sample(wf, s, 0, rng=rng)
