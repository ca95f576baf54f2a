"""Tests of lib.rbm against brute force: exact log Z over both layers, free energies against
the summed-out joint, normalisation of the likelihood, AIS and RAISE against the exact value, and
both estimators' expectations against what they estimate, computed exactly on a tiny RBM (AIS:
E[Ẑ] = Z; RAISE: E[w] = p_ann(v), the annealed model's probability, by enumerating its chain)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from lib import rbm


def random_rbm(n_visible: int, n_hidden: int, seed: int, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    W = rng.normal(scale=scale, size=(n_visible, n_hidden))
    b = rng.normal(size=n_visible)
    c = rng.normal(size=n_hidden)
    return W, b, c


def brute_log_z(W, b, c):
    """log Σ_v Σ_h exp(b·v + c·h + vᵀWh) over every joint state."""
    V = rbm.binary_states(W.shape[0])
    H = rbm.binary_states(W.shape[1])
    neg_energy = (V @ b)[:, None] + (H @ c)[None, :] + V @ W @ H.T
    return float(logsumexp(neg_energy))


@pytest.mark.parametrize(("n_visible", "n_hidden"), [(1, 1), (6, 4), (4, 7), (9, 9), (10, 3), (3, 11)])
def test_exact_log_z_matches_brute_force(n_visible, n_hidden):
    W, b, c = random_rbm(n_visible, n_hidden, seed=n_visible * 100 + n_hidden)
    assert rbm.log_partition_exact(W, b, c) == pytest.approx(brute_log_z(W, b, c), abs=1e-5)


@pytest.mark.parametrize("chunk_bits", [0, 2, 5, 9])
def test_exact_log_z_chunking_is_invariant(chunk_bits):
    # The low/high split of the enumerated layer must not change the sum.
    W, b, c = random_rbm(7, 9, seed=3, scale=2.0)
    expected = brute_log_z(W, b, c)
    assert rbm._log_sum_small_layer(W, c, b, chunk_bits) == pytest.approx(expected, abs=1e-5)
    assert rbm._log_sum_small_layer(W.T, b, c, chunk_bits) == pytest.approx(expected, abs=1e-5)


def test_exact_log_z_large_weights_stable():
    # Pre-activations of ±hundreds: no overflow, still equal to brute force.
    W, b, c = random_rbm(6, 5, seed=7, scale=40.0)
    assert rbm.log_partition_exact(W, b, c) == pytest.approx(brute_log_z(W, b, c), rel=1e-6)


def test_free_energy_is_minus_log_marginal():
    W, b, c = random_rbm(8, 6, seed=1)
    V = rbm.binary_states(8)
    H = rbm.binary_states(6)
    neg_energy = (V @ b)[:, None] + (H @ c)[None, :] + V @ W @ H.T  # (2^8, 2^6)
    expected = -logsumexp(neg_energy, axis=1)
    np.testing.assert_allclose(rbm.free_energy(V, W, b, c), expected, rtol=1e-10, atol=1e-10)


def test_log_likelihood_is_normalised():
    # Σ_v p(v) = 1 and the mean log-likelihood over all states equals mean(log p(v)).
    W, b, c = random_rbm(9, 5, seed=2)
    V = rbm.binary_states(9)
    log_z = rbm.log_partition_exact(W, b, c)
    log_p = -rbm.free_energy(V, W, b, c) - log_z
    assert math.exp(logsumexp(log_p)) == pytest.approx(1.0, abs=1e-6)  # float32 inner sums
    assert rbm.log_likelihood(V, W, b, c, log_z) == pytest.approx(log_p.mean(), abs=1e-12)
    # images given as (N, 3, 3) are flattened
    assert rbm.log_likelihood(V.reshape(-1, 3, 3), W, b, c, log_z) == pytest.approx(log_p.mean(), abs=1e-12)


def test_base_rate_model_is_the_zero_weight_rbm():
    rng = np.random.default_rng(4)
    data = (rng.random((500, 12)) < rng.random(12)).astype(np.float64)
    bias = rbm.base_rate_bias(data, pseudocount=1.0)
    p = (data.sum(0) + 1.0) / (500 + 2.0)
    np.testing.assert_allclose(1 / (1 + np.exp(-bias)), p, rtol=1e-12)
    c = rng.normal(size=3)
    W = np.zeros((12, 3))
    log_z = rbm.log_partition_exact(W, bias, c)
    expected = rbm.log_likelihood(data, W, bias, c, log_z)
    assert rbm.base_rate_log_likelihood(data, bias) == pytest.approx(expected, abs=1e-6)
    # It is the maximum-likelihood independent model (up to smoothing): perturbing lowers the LL.
    assert rbm.base_rate_log_likelihood(data, bias) > rbm.base_rate_log_likelihood(data, bias + 0.3)


def test_ais_betas_schedule():
    betas = rbm.ais_betas(1450)
    assert len(betas) == 1450
    assert betas[0] == 0.0 and betas[-1] == 1.0
    assert np.all(np.diff(betas) > 0)
    # Salakhutdinov & Murray's schedule puts most of the steps in [0.9, 1].
    assert np.mean(betas >= 0.9) == pytest.approx(10000 / 14500, abs=0.01)


def test_ais_random_rbm_within_interval():
    W, b, c = random_rbm(30, 12, seed=5, scale=0.5)
    exact = rbm.log_partition_exact(W, b, c)
    res = rbm.log_partition_ais(W, b, c, n_betas=1000, n_runs=100, seed=0)
    assert abs(res.log_z - exact) < 0.2
    assert res.log_z_low <= exact <= res.log_z_high
    assert res.log_weights.shape == (100,)


@pytest.fixture(scope="module")
def trained_digits_rbm():
    """An RBM with 16 hidden units trained (by scikit-learn, PCD) on binarized 8×8 digits."""
    from sklearn.datasets import load_digits
    from sklearn.neural_network import BernoulliRBM

    x = (load_digits().data > 7).astype(np.float64)  # (1797, 64)
    model = BernoulliRBM(n_components=16, learning_rate=0.05, batch_size=20, n_iter=20, random_state=0)
    model.fit(x)
    W = model.components_.T  # (64, 16)
    return x, W, model.intercept_visible_, model.intercept_hidden_


def test_ais_trained_rbm_with_base_rate(trained_digits_rbm):
    x, W, b, c = trained_digits_rbm
    assert np.abs(W).max() > 1.0  # really trained, not near zero
    exact = rbm.log_partition_exact(W, b, c)
    base = rbm.base_rate_bias(x)
    res = rbm.log_partition_ais(W, b, c, n_betas=2000, n_runs=100, seed=1, base_visible_bias=base)
    assert abs(res.log_z - exact) < 0.2
    assert res.log_z_low <= exact <= res.log_z_high
    assert res.log_z_high - res.log_z_low < 1.0
    # the trained model beats the base-rate model on its data
    ll = rbm.log_likelihood(x, W, b, c, exact)
    assert ll > rbm.base_rate_log_likelihood(x, base) + 3.0


def test_ais_is_reproducible_with_seed():
    W, b, c = random_rbm(20, 8, seed=6, scale=0.3)
    r1 = rbm.log_partition_ais(W, b, c, n_betas=200, n_runs=10, seed=3)
    r2 = rbm.log_partition_ais(W, b, c, n_betas=200, n_runs=10, seed=3)
    np.testing.assert_array_equal(r1.log_weights, r2.log_weights)


# --------------------------------------------------------------------------- unbiasedness, exactly


def transition_matrix(W, b, c, b_a, beta):
    """T(v'|v) = Σ_h p_β(h|v) p_β(v'|h) of the block-Gibbs step at β on the path of AIS and RAISE
    (W and c scaled by β, visible biases (1-β) b_A + β b), over every visible state: (2^D, 2^D)."""
    V = rbm.binary_states(W.shape[0])
    H = rbm.binary_states(W.shape[1])
    p_h = 1 / (1 + np.exp(-beta * (V @ W + c)))  # (2^D, Hn)
    ph_v = np.prod(np.where(H[None], p_h[:, None], 1 - p_h[:, None]), axis=2)  # (v, h)
    p_v = 1 / (1 + np.exp(-((1 - beta) * b_a + beta * (H @ W.T + b))))  # (2^Hn, D)
    pv_h = np.prod(np.where(V[None], p_v[:, None], 1 - p_v[:, None]), axis=2)  # (h, v')
    return ph_v @ pv_h


def annealed_model(W, b, c, b_a, n_betas):
    """p_ann over every visible state: x_0 ~ p_A, then one Gibbs step at each β_1, …, β_K."""
    V = rbm.binary_states(W.shape[0])
    p_a = 1 / (1 + np.exp(-b_a))
    p = np.prod(np.where(V == 1, p_a, 1 - p_a), axis=1)
    for beta in rbm.ais_betas(n_betas)[1:]:
        p = p @ transition_matrix(W, b, c, b_a, beta)
    return p


def test_raise_weights_are_unbiased_for_the_annealed_model():
    # E[w] = p_ann(v) for every v, whatever the schedule: checked against the annealed model's
    # exact distribution (3 transitions), which is far from the RBM's own p(v).
    W, b, c = random_rbm(4, 3, seed=8, scale=2.0)
    b_a = np.random.default_rng(9).normal(size=4)
    V = rbm.binary_states(4)
    p_ann = annealed_model(W, b, c, b_a, n_betas=4)
    assert p_ann.sum() == pytest.approx(1.0, abs=1e-12)
    log_p = -rbm.free_energy(V, W, b, c) - rbm.log_partition_exact(W, b, c)
    assert np.max(np.abs(np.log(p_ann) - log_p)) > 0.3  # the annealed model is not the RBM here
    res = rbm.log_likelihood_raise(V, W, b, c, n_betas=4, n_runs=20_000, seed=0, base_visible_bias=b_a)
    assert res.log_weights.shape == (16, 20_000) and res.n_betas == 4
    w = np.exp(res.log_weights)
    mean, sem = w.mean(axis=1), w.std(axis=1, ddof=1) / np.sqrt(w.shape[1])
    z = (mean - p_ann) / sem
    assert np.all(np.abs(z) < 4.5), z  # each image's mean weight within 4.5 standard errors
    # ... and the same weights are far from unbiased for the RBM's p(v) on some image
    assert np.max(np.abs(mean - np.exp(log_p)) / sem) > 10


def test_ais_weights_are_unbiased_for_z():
    # E[Ẑ] = Z exactly, even with three transitions.
    W, b, c = random_rbm(4, 3, seed=8, scale=2.0)
    b_a = np.random.default_rng(9).normal(size=4)
    res = rbm.log_partition_ais(W, b, c, n_betas=4, n_runs=40_000, seed=1, base_visible_bias=b_a)
    assert res.log_z_low <= rbm.log_partition_exact(W, b, c) <= res.log_z_high
    assert res.log_z_high - res.log_z_low < 0.1  # a tight interval: the test has power


@pytest.fixture(scope="module")
def digits_rbm_exact(trained_digits_rbm):
    x, W, b, c = trained_digits_rbm
    images = x[:300]
    return (
        images,
        W,
        b,
        c,
        rbm.base_rate_bias(x),
        rbm.log_likelihood(images, W, b, c, rbm.log_partition_exact(W, b, c)),
    )


def test_ais_and_raise_agree_with_the_exact_likelihood_on_a_long_schedule(digits_rbm_exact):
    images, W, b, c, base, exact = digits_rbm_exact
    ais = rbm.log_partition_ais(W, b, c, n_betas=2000, n_runs=100, seed=0, base_visible_bias=base)
    raise_ = rbm.log_likelihood_raise(images, W, b, c, n_betas=2000, seed=0, base_visible_bias=base)
    assert raise_.per_image.shape == (300,)
    assert rbm.log_likelihood(images, W, b, c, ais.log_z) == pytest.approx(exact, abs=0.1)
    assert raise_.log_likelihood == pytest.approx(exact, abs=0.1)


def test_short_schedules_bracket_the_exact_likelihood(digits_rbm_exact):
    # AIS: E[log Ẑ] ≤ log Z, so its log-likelihood is too high on average; RAISE: too low. With
    # five betas both errors are far larger than their noise (measured: AIS +0.7 nats on average
    # over 100 seeds with 5 runs, standard error 0.07; RAISE −1.3 to −1.6 nats for each seed).
    images, W, b, c, base, exact = digits_rbm_exact
    ais_errors = [
        rbm.log_likelihood(
            images,
            W,
            b,
            c,
            rbm.log_partition_ais(W, b, c, n_betas=5, n_runs=5, seed=s, base_visible_bias=base).log_z,
        )
        - exact
        for s in range(100)
    ]
    assert np.mean(ais_errors) > 4 * np.std(ais_errors) / np.sqrt(len(ais_errors))
    for s in range(3):
        res = rbm.log_likelihood_raise(images, W, b, c, n_betas=5, seed=s, base_visible_bias=base)
        assert res.log_likelihood < exact - 0.5


def test_bad_shapes_and_values_rejected():
    W, b, c = random_rbm(5, 3, seed=0)
    with pytest.raises(ValueError, match="2-D"):
        rbm.free_energy(np.zeros((2, 5)), W[:, 0], b, c)
    with pytest.raises(ValueError, match="visible bias"):
        rbm.log_partition_exact(W, b[:4], c)
    with pytest.raises(ValueError, match="hidden bias"):
        rbm.log_partition_exact(W, b, np.zeros(4))
    with pytest.raises(ValueError, match=r"shape \(N, 5\)"):
        rbm.free_energy(np.zeros((2, 6)), W, b, c)
    with pytest.raises(ValueError, match="binary"):
        rbm.log_likelihood(np.full((2, 5), 0.5), W, b, c, 1.0)
    with pytest.raises(ValueError, match="finite"):
        rbm.log_likelihood(np.zeros((2, 5)), W, b, c, float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        rbm.log_partition_exact(W * np.nan, b, c)
    with pytest.raises(ValueError, match="log_partition_ais"):
        rbm.log_partition_exact(np.zeros((30, 30)), np.zeros(30), np.zeros(30))
    with pytest.raises(ValueError, match="n_betas"):
        rbm.log_partition_ais(W, b, c, n_betas=1, n_runs=10)
    with pytest.raises(ValueError, match="n_runs"):
        rbm.log_partition_ais(W, b, c, n_betas=10, n_runs=1)
    with pytest.raises(ValueError, match="base_visible_bias"):
        rbm.log_partition_ais(W, b, c, n_betas=10, n_runs=10, base_visible_bias=np.zeros(4))
    with pytest.raises(ValueError, match="binary"):
        rbm.log_likelihood_raise(np.full((2, 5), 0.5), W, b, c, n_betas=10)
    with pytest.raises(ValueError, match="n_runs"):
        rbm.log_likelihood_raise(np.zeros((2, 5)), W, b, c, n_betas=10, n_runs=0)
    with pytest.raises(ValueError, match="n_betas"):
        rbm.log_likelihood_raise(np.zeros((2, 5)), W, b, c, n_betas=1)


def test_binary_states_enumerates_every_vector_once_in_binary_order():
    s = rbm.binary_states(4)
    assert s.shape == (16, 4) and len({tuple(r) for r in s}) == 16
    np.testing.assert_array_equal(s[11], [1, 1, 0, 1])  # 11 = 1 + 2 + 8, least significant bit first
    assert rbm.binary_states(0).shape == (1, 0)
    with pytest.raises(ValueError, match="integer in"):
        rbm.binary_states(-1)
