"""Tests of lib.ising against hand-computed values, brute force and exact enumeration.

Monte Carlo checks use error bars from the measured integrated autocorrelation time of the
chains (never assuming independent samples) and fixed seeds, so they are deterministic.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from lib import ising, ising_mc

TC = ising.ONSAGER_TC


def naive_energy(s: np.ndarray) -> int:
    """E(s) = −Σ_i s_i (s_right(i) + s_down(i)) with periodic boundaries, by a double loop."""
    L = s.shape[0]
    e = 0
    for r in range(L):
        for c in range(L):
            e -= int(s[r, c]) * (int(s[r, (c + 1) % L]) + int(s[(r + 1) % L, c]))
    return e


# ------------------------------------------------------------------------------------------
# Energies, magnetizations, conversions
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("L", [2, 3, 5, 6])
def test_energy_matches_naive_double_loop(L: int) -> None:
    rng = np.random.default_rng(L)
    s = rng.choice(np.array([-1, 1], np.int8), size=(50, L, L))
    expected = np.array([naive_energy(x) for x in s])
    np.testing.assert_array_equal(ising.energy(s), expected)
    np.testing.assert_array_equal(ising.magnetization(s), s.reshape(50, -1).sum(1))


def test_energy_of_simple_configurations() -> None:
    L = 6
    up = np.ones((1, L, L), np.int8)
    assert ising.energy(up)[0] == -2 * L * L  # 2 bonds per site, all satisfied
    checker = (np.add.outer(np.arange(L), np.arange(L)) % 2 * 2 - 1).astype(np.int8)[None]
    assert ising.energy(checker)[0] == 2 * L * L  # every bond broken
    stripes = np.ones((1, L, L), np.int8)
    stripes[0, : L // 2] = -1  # two horizontal domain walls of L bonds each
    assert ising.energy(stripes)[0] == -2 * L * L + 2 * (2 * L)
    assert ising.magnetization(stripes)[0] == 0


def test_bits_round_trip_and_state_order() -> None:
    states = ising.all_states(3)
    assert states.shape == (512, 3, 3) and states.dtype == np.int8
    bits = ising.spins_to_bits(states)
    k = (bits * (2 ** np.arange(9))).sum(1)
    np.testing.assert_array_equal(k, np.arange(512))  # state k is the binary expansion of k
    np.testing.assert_array_equal(ising.bits_to_spins(bits), states)
    assert states[5].ravel().tolist() == [1, -1, 1, -1, -1, -1, -1, -1, -1]  # 5 = 0b101


# ------------------------------------------------------------------------------------------
# Exact enumeration and Onsager
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("T", [0.7, 2.0, TC, 5.0])
def test_exact_2x2_by_hand(T: float) -> None:
    # L = 2 with periodic boundaries: each pair is joined twice, E = −2(s0s1 + s2s3 + s0s2 + s1s3).
    # Spectrum: 2 aligned states (E=−8, |M|=4), 8 with one minority spin (E=0, |M|=2),
    # 4 "half-half" states split along a bond (E=0, |M|=0), 2 checkerboards (E=+8, |M|=0).
    b = 1.0 / T
    z = 2 * math.exp(8 * b) + 12 + 2 * math.exp(-8 * b)
    e1 = (-16 * math.exp(8 * b) + 16 * math.exp(-8 * b)) / z
    e2 = (128 * math.exp(8 * b) + 128 * math.exp(-8 * b)) / z
    m1 = (8 * math.exp(8 * b) + 16) / z
    m2 = (32 * math.exp(8 * b) + 32) / z
    ex = ising.exact(2, T)
    assert ex["log_partition"] == pytest.approx(math.log(z), rel=1e-12)
    assert ex["energy_per_spin"] == pytest.approx(e1 / 4, rel=1e-12, abs=1e-14)
    assert ex["abs_magnetization_per_spin"] == pytest.approx(m1 / 4, rel=1e-12)
    assert ex["specific_heat_per_spin"] == pytest.approx((e2 - e1**2) / (4 * T**2), rel=1e-10)
    assert ex["susceptibility_per_spin"] == pytest.approx((m2 - m1**2) / (4 * T), rel=1e-10)
    p = ex["probabilities"]
    assert p.shape == (16,) and p.sum() == pytest.approx(1.0)
    assert p[0] == pytest.approx(math.exp(8 * b) / z) and p[15] == pytest.approx(math.exp(8 * b) / z)
    assert p[0b1001] == pytest.approx(math.exp(-8 * b) / z)  # spins 0 and 3 up: a checkerboard


def test_exact_limits_and_symmetry_on_4x4() -> None:
    cold = ising.exact(4, 0.05)
    assert cold["energy_per_spin"] == pytest.approx(-2.0, abs=1e-12)
    assert cold["abs_magnetization_per_spin"] == pytest.approx(1.0, abs=1e-12)
    hot = ising.exact(4, 1e6)
    # infinite temperature: independent fair spins, E[|M|] from the binomial distribution
    k = np.arange(17)
    m_abs = sum(math.comb(16, int(j)) * abs(2 * int(j) - 16) for j in k) / 2**16 / 16
    assert hot["abs_magnetization_per_spin"] == pytest.approx(m_abs, rel=1e-4)
    assert hot["energy_per_spin"] == pytest.approx(0.0, abs=1e-4)
    p = ising.exact(4, TC)["probabilities"]
    assert p.shape == (65536,) and p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p, p[::-1], rtol=1e-12)  # global flip = complementing all bits
    assert p.argmax() in (0, 65535)


def test_onsager_solution() -> None:
    assert TC == pytest.approx(2.269185314213022, rel=1e-14)
    assert ising.onsager_energy_per_spin(TC) == pytest.approx(-math.sqrt(2), rel=1e-6)
    assert ising.onsager_energy_per_spin(0.3) == pytest.approx(-2.0, abs=1e-9)
    # high-temperature series: ln Z / N = ln 2 + 2 ln cosh β + t⁴ + 2t⁶ + O(t⁸), t = tanh β
    # (closed loops: one plaquette per site, two 2×1 rectangles per site), so with dt/dβ = 1 − t²
    # u = −2t − (4t³ + 12t⁵)(1 − t²) + O(t⁷)
    t = math.tanh(1 / 20)
    series = -2 * t - (4 * t**3 + 12 * t**5) * (1 - t**2)
    assert ising.onsager_energy_per_spin(20.0) == pytest.approx(series, rel=2e-6)
    # far below T_c the 4×4 lattice is already at its thermodynamic limit
    assert ising.exact(4, 1.2)["energy_per_spin"] == pytest.approx(
        ising.onsager_energy_per_spin(1.2), abs=2e-4
    )
    m = ising.onsager_magnetization(np.array([1.0, 2.0, TC, 3.0]))
    np.testing.assert_allclose(m, [0.99927575, 0.91131938, 0.0, 0.0], atol=1e-7)


# ------------------------------------------------------------------------------------------
# Monte Carlo against exact enumeration, error bars from the autocorrelation
# ------------------------------------------------------------------------------------------


def test_autocorrelation_time_of_ar1() -> None:
    # x_t = ρ x_{t−1} + noise has ρ(t) = ρ^t, so τ_int = (1 + ρ) / (2 (1 − ρ)) = 4.5 for ρ = 0.8.
    rng = np.random.default_rng(0)
    rho, n, chains = 0.8, 20000, 8
    x = np.zeros((n, chains))
    noise = rng.normal(size=(n, chains))
    x[0] = noise[0] / math.sqrt(1 - rho**2)
    for t in range(1, n):
        x[t] = rho * x[t - 1] + noise[t]
    assert ising_mc.integrated_autocorrelation_time(x) == pytest.approx(4.5, rel=0.1)
    assert ising_mc.integrated_autocorrelation_time(noise) == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("algorithm", ["wolff", "metropolis"])
@pytest.mark.parametrize("T", [1.8, TC, 3.2])
def test_samplers_match_exact_enumeration(algorithm: str, T: float) -> None:
    L, chains, steps = 4, 16, 1500
    spins = ising_mc.sample(
        L, T, chains * steps, algorithm=algorithm, n_chains=chains, n_between=1, n_burn=200, seed=7
    )
    assert spins.shape == (chains * steps, L, L) and spins.dtype == np.int8
    ex = ising.exact(L, T)
    n = L * L
    series = {
        "energy_per_spin": ising.energy(spins) / n,
        "abs_magnetization_per_spin": np.abs(ising.magnetization(spins)) / n,
    }
    for key, values in series.items():
        x = values.reshape(steps, chains)  # time-major output: out[t * n_chains + c]
        tau = ising_mc.integrated_autocorrelation_time(x)
        err = x.std() * math.sqrt(2 * tau / x.size)
        z = (x.mean() - ex[key]) / err
        assert abs(z) < 4, (
            f"{algorithm} T={T:.3f} {key}: {x.mean():.4f} vs exact {ex[key]:.4f} ± {err:.4f} (τ={tau:.2f})"
        )


@pytest.mark.parametrize("T", [1.8, TC, 3.2])
def test_mean_wolff_cluster_is_the_exact_mean_squared_magnetization(T: float) -> None:
    # The Wolff cluster of a uniformly drawn seed spin is the Fortuin-Kasteleyn cluster of that
    # site, and given the clusters their signs are independent and fair, so ⟨|C|⟩ = ⟨M²⟩ / N
    # exactly (Wolff's improved estimator): below T_c a cluster covers ⟨M²⟩/N² ≈ m² of the lattice.
    L, chains, updates = 4, 2000, 50
    n = L * L
    ex = ising.exact(L, T)
    m2 = float(ex["probabilities"] @ ex["magnetizations"].astype(np.float64) ** 2)
    flat = np.ascontiguousarray(ising_mc.sample(L, T, chains, n_chains=chains, seed=5)).reshape(-1)
    rng = np.random.default_rng(6)
    nbr, p_add = ising_mc._neighbour_table(L), 1.0 - math.exp(-2.0 / T)
    scratch = np.empty(flat.size, dtype=np.int64)
    sizes = np.array([ising_mc._wolff_update(flat, n, nbr, p_add, rng, scratch) for _ in range(updates)])
    per_chain = sizes.mean(axis=0)  # (chains,) independent chains, each in equilibrium
    err = per_chain.std(ddof=1) / math.sqrt(chains)
    assert abs(per_chain.mean() - m2 / n) < 4 * err, (T, per_chain.mean(), m2 / n, err)
    assert np.all(np.isin(flat, (-1, 1)))


def test_observables_on_exact_samples() -> None:
    T = 2.6
    ex = ising.exact(4, T)
    rng = np.random.default_rng(3)
    spins = ising.all_states(4)[rng.choice(65536, size=20000, p=ex["probabilities"])]
    obs = ising_mc.observables(spins, T)
    for key in (
        "energy_per_spin",
        "abs_magnetization_per_spin",
        "specific_heat_per_spin",
        "susceptibility_per_spin",
    ):
        assert obs[key + "_err"] > 0
        assert abs(obs[key] - ex[key]) < 4 * obs[key + "_err"], key


def test_wolff_on_16x16_at_tc_is_symmetric_and_critical() -> None:
    spins = ising_mc.sample(16, TC, 1000, seed=1)
    m = ising.magnetization(spins) / 256
    assert 0.4 < np.mean(m > 0) < 0.6  # both ordered phases appear
    obs = ising_mc.observables(spins, TC)
    # finite-size values at T_c (L = 16): between the ordered and disordered limits
    assert -1.5 < obs["energy_per_spin"] < -1.4  # Onsager's infinite lattice: −√2
    assert 0.6 < obs["abs_magnetization_per_spin"] < 0.8  # ~ L^(−1/8)
    # the two samplers agree with each other on a lattice too large to enumerate
    T = 2.7
    metro = ising_mc.sample(
        16, T, 1000, algorithm="metropolis", n_chains=100, n_burn=200, n_between=10, seed=2
    )
    wolff = ising_mc.sample(16, T, 1000, algorithm="wolff", n_chains=100, n_burn=20, n_between=2, seed=3)
    metro, wolff = ising_mc.observables(metro, T), ising_mc.observables(wolff, T)
    err = math.hypot(metro["energy_per_spin_err"], wolff["energy_per_spin_err"])
    assert abs(metro["energy_per_spin"] - wolff["energy_per_spin"]) < 4 * err


# ------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------


def test_bad_input_is_rejected_clearly() -> None:
    good = np.ones((2, 4, 4), np.int8)
    with pytest.raises(ValueError, match="±1"):
        ising.energy(np.zeros((2, 4, 4)))  # 0/1 bits, not spins
    with pytest.raises(ValueError, match=r"\(n, L, L\)"):
        ising.energy(good[0])  # a single lattice without the batch axis
    with pytest.raises(ValueError, match=r"\(n, L, L\)"):
        ising.magnetization(np.ones((2, 4, 5)))
    for T in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            ising.exact(3, T)
        with pytest.raises(ValueError, match="temperature"):
            ising_mc.sample(4, T, 10)
    with pytest.raises(ValueError, match="L ≤ 4"):
        ising.exact(5, 2.0)
    with pytest.raises(ValueError, match="even L"):
        ising_mc.sample(5, 2.0, 10, algorithm="metropolis")
    with pytest.raises(ValueError, match="algorithm"):
        ising_mc.sample(4, 2.0, 10, algorithm="heatbath")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_samples"):
        ising_mc.sample(4, 2.0, 0)
    with pytest.raises(ValueError, match="0 or 1"):
        ising.bits_to_spins(np.full((2, 16), 0.5))


# ------------------------------------------------------------------------------------------
# Kaufman's exact partition function of the finite periodic lattice
# ------------------------------------------------------------------------------------------

KAUFMAN_TEMPERATURES = [1.0, 1.5, 2.0, 2.269185314, 2.5, 3.5, 10.0]


def transfer_matrix_thermodynamics(L: int, T: float) -> tuple[float, float]:
    """(ln Z, ⟨E⟩/N) of the L×L torus from its 2^L × 2^L row-to-row transfer matrix.

    Rows s, s' ∈ {±1}^L: T_{ss'} = exp(K h(s)/2 + K Σ_j s_j s'_j + K h(s')/2) with
    h(s) = Σ_j s_j s_{j+1 mod L}, so Z = Tr T^L = Σ λ^L over its (positive) eigenvalues, and
    d ln Z/dK = L Tr(T^{L−1} T')/Z = L Σ_i λ_i^{L−1} v_iᵀ T' v_i / Σ_i λ_i^L, T' = dT/dK.
    """
    K, N = 1.0 / T, L * L
    rows = (2 * ((np.arange(2**L)[:, None] >> np.arange(L)) & 1) - 1).astype(np.float64)  # (2^L, L)
    h = (rows * np.roll(rows, -1, axis=1)).sum(1)  # (2^L,)
    exponent = 0.5 * h[:, None] + rows @ rows.T + 0.5 * h[None, :]  # (2^L, 2^L) in units of K
    tm = np.exp(K * exponent)
    lam, vec = np.linalg.eigh(tm)
    assert lam.min() > 0  # T = D^½ (⊗ [[e^K, e^−K], [e^−K, e^K]]) D^½ is positive definite
    r = lam / lam.max()
    dlam = np.einsum("ai,ab,bi->i", vec, tm * exponent, vec)  # (2^L,) v_iᵀ T' v_i
    log_z = L * math.log(lam.max()) + math.log(np.sum(r**L))
    dlogz = L * np.sum(r ** (L - 1) * dlam / lam.max()) / np.sum(r**L)
    return log_z, -dlogz / N


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("T", KAUFMAN_TEMPERATURES)
def test_kaufman_matches_enumeration(L: int, T: float) -> None:
    ex = ising.exact(L, T)
    log_z = ising.kaufman_log_partition(L, T)
    assert abs(log_z - ex["log_partition"]) <= 1e-10 * abs(ex["log_partition"])
    u = ising.kaufman_energy_per_spin(L, T)
    assert abs(u - ex["energy_per_spin"]) <= 1e-8 * abs(ex["energy_per_spin"])


def test_kaufman_gamma0_must_keep_its_sign_above_tc() -> None:
    # γ_0 = 2K + ln tanh K changes sign at T_c; replacing it by |γ_0| = arccosh(cosh 2K coth 2K − 1)
    # leaves Z unchanged below T_c but adds instead of subtracting the last product above it.
    def unsigned(L: int, T: float) -> float:
        K, N = 1.0 / T, L * L
        k = np.arange(2 * L)
        x = 0.5 * L * np.arccosh(np.cosh(2 * K) / np.tanh(2 * K) - np.cos(np.pi * k / L))  # (2L,) ≥ 0
        y = sum(np.prod(2 * f(x[p::2])) for f in (np.cosh, np.sinh) for p in (1, 0))
        return math.log(0.5 * (2 * math.sinh(2 * K)) ** (N / 2) * y)

    for L in (2, 3, 4):
        below, above = ising.exact(L, 1.5)["log_partition"], ising.exact(L, 3.5)["log_partition"]
        assert unsigned(L, 1.5) == pytest.approx(below, rel=1e-12)
        assert unsigned(L, 3.5) - above > 0.3  # the arccosh alone is wrong above T_c
        assert ising.kaufman_log_partition(L, 3.5) == pytest.approx(above, rel=1e-13)


@pytest.mark.parametrize("T", [0.7, 2.0, TC, 5.0])
def test_kaufman_2x2_double_bonds_agree_with_energy(T: float) -> None:
    # For L = 2 the right and left neighbours coincide, so ising.energy joins each pair by two
    # bonds (2N = 8 bonds, E ∈ {−8, 0, +8}); Kaufman's torus counts bonds the same way.
    s = ising.all_states(2)
    assert ising.energy(s).min() == -8 and ising.energy(s).max() == 8
    b = 1.0 / T
    z = 2 * math.exp(8 * b) + 12 + 2 * math.exp(-8 * b)
    assert ising.kaufman_log_partition(2, T) == pytest.approx(math.log(z), rel=1e-14)
    u = (-16 * math.exp(8 * b) + 16 * math.exp(-8 * b)) / z / 4
    assert ising.kaufman_energy_per_spin(2, T) == pytest.approx(u, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("L", [5, 6, 7])
@pytest.mark.parametrize("T", [1.5, TC, 3.5])
def test_kaufman_matches_transfer_matrix(L: int, T: float) -> None:
    # beyond enumeration, odd and even L: an independent exact method
    log_z, u = transfer_matrix_thermodynamics(L, T)
    assert ising.kaufman_log_partition(L, T) == pytest.approx(log_z, rel=1e-12)
    assert ising.kaufman_energy_per_spin(L, T) == pytest.approx(u, rel=1e-10)


def test_kaufman_couplings() -> None:
    # ln Z depends on J/T only, and ⟨E⟩ scales with J
    assert ising.kaufman_log_partition(5, 3.0, J=1.5) == pytest.approx(
        ising.kaufman_log_partition(5, 2.0), rel=1e-14
    )
    assert ising.kaufman_energy_per_spin(5, 3.0, J=1.5) == pytest.approx(
        1.5 * ising.kaufman_energy_per_spin(5, 2.0), rel=1e-14
    )
    # J < 0 on even L: the antiferromagnet, E_J(s) = −J Σ s_i s_j = +E_module(s) for J = −1
    for L in (2, 4):
        e = ising.energy(ising.all_states(L)).astype(np.float64)
        for T in (1.0, 2.5):
            lw = e / T
            w = np.exp(lw - lw.max())
            assert ising.kaufman_log_partition(L, T, J=-1.0) == pytest.approx(
                lw.max() + math.log(w.sum()), rel=1e-13
            )
            assert ising.kaufman_energy_per_spin(L, T, J=-1.0) == pytest.approx(
                -(w @ e) / w.sum() / (L * L), rel=1e-12
            )


def test_kaufman_limits() -> None:
    # T → 0: the two ground states, ln Z = 2NK + ln 2; T → ∞: ln Z → N ln 2
    L = 8
    assert ising.kaufman_log_partition(L, 0.05) == pytest.approx(2 * L * L / 0.05 + math.log(2), rel=1e-14)
    assert ising.kaufman_energy_per_spin(L, 0.05) == pytest.approx(-2.0, abs=1e-14)
    assert ising.kaufman_log_partition(L, 1e4) == pytest.approx(L * L * math.log(2), rel=1e-6)
    assert ising.kaufman_energy_per_spin(L, 1e4) == pytest.approx(-2e-4, rel=1e-3)  # −2 tanh β
    for T in (1e-3, 1e-2):  # K far beyond where sinh 2K overflows a double
        assert ising.kaufman_log_partition(64, T) == pytest.approx(2 * 64 * 64 / T + math.log(2), rel=1e-15)
        assert ising.kaufman_energy_per_spin(64, T) == pytest.approx(-2.0, rel=1e-15)


def test_kaufman_against_50_digit_arithmetic() -> None:
    # The same closed form evaluated with 50 significant digits: checks that the log-space
    # evaluation in doubles loses nothing for large L (where the products are ~e^{10⁴}).
    mp = pytest.importorskip("mpmath")

    def log_z_mp(L: int, K: Any) -> Any:
        c = mp.cosh(2 * K) / mp.tanh(2 * K)
        x = [L * mp.acosh(c - mp.cos(mp.pi * k / L)) / 2 for k in range(2 * L)]
        x[0] = L * (2 * K + mp.log(mp.tanh(K))) / 2  # signed γ_0
        y = sum(mp.fprod(2 * f(x[k]) for k in range(p, 2 * L, 2)) for f in (mp.cosh, mp.sinh) for p in (1, 0))
        return mp.log(y / 2) + L * L * mp.log(2 * mp.sinh(2 * K)) / 2

    with mp.workdps(50):
        for L in (7, 64, 128):
            for T in (0.5, 2.0, TC, 2.5, 10.0):
                K = 1 / mp.mpf(T)
                ref = log_z_mp(L, K)
                assert abs(ising.kaufman_log_partition(L, T) - ref) <= 1e-14 * abs(ref), (L, T)
                u_ref = -mp.diff(lambda k, L=L: log_z_mp(L, k), K) / (L * L)
                assert abs(ising.kaufman_energy_per_spin(L, T) - u_ref) <= 1e-12 * abs(u_ref), (L, T)


@pytest.mark.parametrize("T", [1.5, 2.269185314, 3.0])
def test_kaufman_energy_is_the_beta_derivative(T: float) -> None:
    # fourth-order central difference of ln Z in β (step 3·10⁻⁴: truncation ≲ 10⁻⁸ near T_c at
    # L = 64, where the fifth derivative per spin grows like L³; round-off ~ 10⁻¹²)
    L, h, b = 64, 3e-4, 1.0 / T

    def lz(beta: float) -> float:
        return ising.kaufman_log_partition(L, 1.0 / beta)

    d = (-lz(b + 2 * h) + 8 * lz(b + h) - 8 * lz(b - h) + lz(b - 2 * h)) / (12 * h)
    assert ising.kaufman_energy_per_spin(L, T) == pytest.approx(-d / (L * L), abs=2e-8)


def test_onsager_free_energy() -> None:
    f = ising.onsager_free_energy_per_spin
    catalan = 0.915965594177219015054603514932
    assert -f(TC) / TC == pytest.approx(0.5 * math.log(2) + 2 * catalan / math.pi, rel=1e-14)
    # high-temperature series, −βf = ln 2 + 2 ln cosh β + t⁴ + 2t⁶ + 9/2 t⁸ + O(t¹⁰), t = tanh β
    t = math.tanh(1 / 20)
    series = math.log(2) + 2 * math.log(math.cosh(1 / 20)) + t**4 + 2 * t**6 + 4.5 * t**8
    assert -f(20.0) / 20.0 == pytest.approx(series, abs=3e-12)
    # T → 0: f = −2 − T e^{−8/T} + …
    assert f(0.3) == pytest.approx(-2.0 - 0.3 * math.exp(-8 / 0.3), abs=1e-15)
    # u = ∂(βf)/∂β, by a fourth-order central difference in β
    for T in (1.0, 1.5, 2.0, 3.0, 5.0):
        b, h = 1.0 / T, 1e-4

        def g(beta: float) -> float:
            return beta * f(1.0 / beta)

        d = (-g(b + 2 * h) + 8 * g(b + h) - 8 * g(b - h) + g(b - 2 * h)) / (12 * h)
        assert d == pytest.approx(ising.onsager_energy_per_spin(T), abs=1e-10)
    # arrays, J scaling and the bipartite symmetry J → −J
    np.testing.assert_allclose(f(np.array([1.5, 3.0])), [f(1.5), f(3.0)], rtol=1e-15)
    assert f(3.0, J=2.0) == pytest.approx(2 * f(1.5), rel=1e-14)
    assert f(3.0, J=-1.0) == f(3.0)


@pytest.mark.parametrize("T", [1.5, TC, 3.0])
def test_kaufman_approaches_onsager(T: float) -> None:
    f_inf = ising.onsager_free_energy_per_spin(T)
    sizes = (16, 32, 64)
    err = [-T * ising.kaufman_log_partition(L, T) / (L * L) - f_inf for L in sizes]
    assert abs(err[0]) > abs(err[1]) > abs(err[2])  # shrinking with L
    if T > TC:  # one phase: exponentially small corrections (~e^{−L/ξ}, ξ ≈ 2 at T = 3)
        assert abs(err[2]) < 1e-6 and abs(err[2]) < 1e-13
    elif T < TC:
        # two ordered phases: Z ≈ 2 e^{−Nf/T}, so −T ln Z/N = f − T ln 2/N (2.5·10⁻⁴ at L = 64,
        # NOT within 1e-6); with the ln 2 removed the rest is exponentially small
        for L, e in zip(sizes, err):
            assert e == pytest.approx(-T * math.log(2) / (L * L), abs=1e-9)
        assert abs(err[2] + T * math.log(2) / 64**2) < 1e-13
    else:
        # at T_c, ln Z − N(−βf) → ln[(θ2 + θ3 + θ4)/(2η)] at τ = i (Ferdinand & Fisher 1969),
        # with a correction of about 0.081/L²
        mp = pytest.importorskip("mpmath")
        q = mp.exp(-mp.pi)
        eta = mp.gamma(0.25) / (2 * mp.pi**0.75)  # Dedekind η(i)
        universal = float(mp.log(sum(mp.jtheta(n, 0, q) for n in (2, 3, 4)) / (2 * eta)))
        for L, e in zip(sizes, err):
            assert -e * L * L / T - universal == pytest.approx(0.0813 / L**2, rel=0.02)
    # the energy per spin: exponentially close away from T_c, ∝ 1/L at T_c
    u_inf = ising.onsager_energy_per_spin(T)
    du = [ising.kaufman_energy_per_spin(L, T) - u_inf for L in sizes]
    if T == TC:
        assert abs(du[0]) > abs(du[1]) > abs(du[2])
        np.testing.assert_allclose(np.array(du) * sizes, -0.622, rtol=0.01)
    else:
        assert abs(du[0]) < 1e-3 and abs(du[1]) < 1e-6 and abs(du[2]) < 1e-9


def test_kaufman_bad_input_is_rejected_clearly() -> None:
    for fn in (ising.kaufman_log_partition, ising.kaufman_energy_per_spin):
        for L in (1, 0, 2.5, True):
            with pytest.raises(ValueError, match="lattice size L"):
                fn(L, 2.0)  # type: ignore[arg-type]
        for T in (0, -1.0, float("nan"), float("inf"), "hot"):
            with pytest.raises(ValueError, match="temperature"):
                fn(4, T)  # type: ignore[arg-type]
        for J in (0.0, float("nan"), "strong"):
            with pytest.raises(ValueError, match="coupling J"):
                fn(4, 2.0, J=J)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="even L"):
            fn(5, 2.0, J=-1.0)  # the antiferromagnet on an odd torus is frustrated
    with pytest.raises(ValueError, match="temperature"):
        ising.onsager_free_energy_per_spin(np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="coupling J"):
        ising.onsager_free_energy_per_spin(2.0, J=0.0)
