"""lib.neural_samplers against exact results on small discrete systems: the variational free energy
and its inequality, the log-mean (NIS) estimate's expectation summed over every tuple of draws
(biased upwards, less so as n grows), self-normalised averages, the ESS, and independent
Metropolis–Hastings against a naive loop, its exact transition matrix and long-run frequencies."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lib import neural_samplers as ns

T = 1.7
E = np.array([-2.0, -1.0, 0.5, 1.5, 0.0])  # energies of five states
P = np.exp(-E / T) / np.exp(-E / T).sum()  # the Boltzmann distribution
F = -T * math.log(np.exp(-E / T).sum())
Q = np.array([0.1, 0.3, 0.2, 0.25, 0.15])  # a proposal unlike P


def _log_w(states: np.ndarray) -> np.ndarray:
    return -E[states] / T - np.log(Q[states])


def test_variational_free_energy_and_its_bound():
    rng = np.random.default_rng(0)
    s = rng.choice(5, size=200_000, p=Q)
    fq, err = ns.variational_free_energy(E[s], np.log(Q[s]), T)
    exact_fq = float(Q @ (E + T * np.log(Q)))
    assert fq == pytest.approx(exact_fq, abs=4 * err)
    assert exact_fq - F == pytest.approx(T * float(Q @ np.log(Q / P)), abs=1e-12)  # F_q − F = T KL(q‖p) > 0
    s = rng.choice(5, size=1000, p=P)  # q = p: every term equals F, zero variance
    fq, err = ns.variational_free_energy(E[s], np.log(P[s]), T)
    assert fq == pytest.approx(F, abs=1e-12) and err < 1e-12


def test_nis_estimate_is_biased_upwards_exactly():
    """E[F̂_n] over all 5ⁿ tuples of draws: ≥ F (Jensen), falling with n, ≈ F + T(1/ESS∞ − 1)/(2n)."""
    ess_inf = 1.0 / float(Q @ (P / Q) ** 2)  # Z² / E_q[w²]
    previous = math.inf
    for n in range(1, 6):
        expected = 0.0
        for tup in itertools.product(range(5), repeat=n):
            states = np.array(tup)
            expected += float(np.prod(Q[states])) * -T * ns.log_mean_exp(_log_w(states))
        assert F < expected < previous
        previous = expected
        if n > 1:
            assert ns.nis_free_energy(_log_w(states), T)[0] == pytest.approx(
                -T * ns.log_mean_exp(_log_w(states))
            )
    # the leading-order bias T (1/ESS∞ − 1) / (2n) is within 15 % at n = 5 (8 % measured)
    assert (expected - F) / (T * (1 / ess_inf - 1) / (2 * 5)) == pytest.approx(1.0, abs=0.15)


def test_nis_estimate_never_exceeds_the_variational_one_and_converges():
    rng = np.random.default_rng(1)
    s = rng.choice(5, size=400_000, p=Q)
    f_nis, err = ns.nis_free_energy(_log_w(s), T)
    assert f_nis == pytest.approx(F, abs=4 * err) and err < 0.01
    for k in range(50):  # on every sample, log-mean ≥ mean-log: F̂_NIS ≤ F̂_q
        chunk = s[k * 20 : (k + 1) * 20]
        assert (
            ns.nis_free_energy(_log_w(chunk), T)[0]
            <= ns.variational_free_energy(E[chunk], np.log(Q[chunk]), T)[0] + 1e-12
        )


def test_self_normalised_average_and_ess():
    states = np.arange(5)  # every state once, weights w ∝ p/q: the weighted mean is exact with q's support
    log_w = _log_w(states) + np.log(Q)  # as if drawn uniformly: w ∝ p
    est, err = ns.self_normalised(log_w, E)
    assert est == pytest.approx(float(P @ E), abs=1e-12) and err > 0
    both, errs = ns.self_normalised(log_w, np.stack([E, E**2], 1))
    np.testing.assert_allclose(both, [P @ E, P @ E**2], atol=1e-12)
    assert errs[0] == pytest.approx(err)  # column by column, as one at a time
    assert ns.effective_sample_size(np.zeros(10)) == pytest.approx(1.0)
    assert ns.effective_sample_size(np.array([0.0, -800.0, -800.0, -800.0])) == pytest.approx(0.25)
    assert ns.log_mean_exp(np.array([1000.0, 1000.0])) == pytest.approx(1000.0)


def test_independent_metropolis_matches_a_naive_loop():
    rng = np.random.default_rng(2)
    log_w = rng.normal(size=500)
    u = rng.random(500)
    index, acc = ns.independent_metropolis(log_w, u)
    cur, path, n_acc = 0, [0], 0
    for k in range(1, 500):
        if u[k] < min(1.0, math.exp(log_w[k] - log_w[cur])):
            cur, n_acc = k, n_acc + 1
        path.append(cur)
    assert index.tolist() == path and acc == pytest.approx(n_acc / 499)


def test_independent_metropolis_is_exact_for_any_proposal():
    # The transition matrix K(s → s') = q(s') min(1, w(s')/w(s)) (s' ≠ s) leaves p invariant exactly ...
    w = P / Q
    K = Q[None, :] * np.minimum(1.0, w[None, :] / w[:, None])
    np.fill_diagonal(K, 0.0)
    K[np.diag_indices(5)] = 1.0 - K.sum(1)
    np.testing.assert_allclose(P @ K, P, atol=1e-15)
    # ... and the chain run on draws of q visits each state with p's frequency.
    rng = np.random.default_rng(3)
    s = rng.choice(5, size=300_000, p=Q)
    index, acc = ns.independent_metropolis(_log_w(s), seed=4)
    freq = np.bincount(s[index], minlength=5) / len(s)
    np.testing.assert_allclose(freq, P, atol=0.01)
    # the acceptance in equilibrium, Σ_s p(s) Σ_s' q(s') min(1, w(s')/w(s)) (a proposal of the current
    # state itself is accepted too)
    exact_acc = float(P @ (np.minimum(1.0, w[None, :] / w[:, None]) @ Q))
    assert acc == pytest.approx(exact_acc, abs=0.005)


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="1-D"):
        ns.nis_free_energy(np.zeros((2, 2)), T)
    with pytest.raises(ValueError, match="temperature"):
        ns.nis_free_energy(np.zeros(3), -1.0)
    with pytest.raises(ValueError, match="same length"):
        ns.variational_free_energy(np.zeros(3), np.zeros(4), T)
    with pytest.raises(ValueError, match="shape of log_w"):
        ns.independent_metropolis(np.zeros(3), np.zeros(4))
