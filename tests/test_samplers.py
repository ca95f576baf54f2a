"""Tests of lib.samplers: Langevin, MALA and random-walk Metropolis against exact Gaussian
targets (closed-form moments, the ULA bias, a two-sample test), and the replay buffer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib import divergences, toy2d
from lib import samplers as S

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
    out = S.langevin(
        toy2d.gaussian_energy(MEAN, COV), x0, n_steps=150, step_size=0.1, metropolis=metropolis, generator=gen
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
    energy = toy2d.gaussian_energy([0.0], [[1.0]])
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(8000, 1, dtype=torch.float64, generator=gen)  # start at stationarity of p
    ula = S.langevin(energy, x0, n_steps=60, step_size=1.0, generator=gen).samples.numpy()
    mala = S.langevin(energy, x0, n_steps=60, step_size=1.0, metropolis=True, generator=gen).samples.numpy()
    assert S.ula_stationary_variance(1.0, 1.0) == pytest.approx(4 / 3)
    # standard errors of the sample variances: ≈ 0.021 and 0.016
    assert ula.var() == pytest.approx(4 / 3, abs=0.08)
    assert mala.var() == pytest.approx(1.0, abs=0.06)


def test_two_sample_test_mala_passes_where_large_step_ula_fails() -> None:
    energy = toy2d.gaussian_energy(MEAN, COV)
    exact = exact_gaussian(500, seed=0)
    x0 = torch.as_tensor(exact_gaussian(500, seed=1))
    gen = torch.Generator().manual_seed(2)
    ula = S.langevin(energy, x0, n_steps=60, step_size=1.0, generator=gen).samples
    mala = S.langevin(energy, x0, n_steps=60, step_size=1.0, metropolis=True, generator=gen)
    rwm = S.random_walk_metropolis(energy, x0, n_steps=100, proposal_std=1.0, generator=gen)
    _, p_ula = divergences.mmd_permutation_test(ula, exact, n_permutations=200, seed=0)
    _, p_mala = divergences.mmd_permutation_test(mala.samples, exact, n_permutations=200, seed=0)
    _, p_rwm = divergences.mmd_permutation_test(rwm.samples, exact, n_permutations=200, seed=0)
    assert p_ula < 0.01
    assert p_mala > 0.05
    assert p_rwm > 0.05
    assert 0.3 < mala.acceptance_rate < 1.0
    assert 0.1 < rwm.acceptance_rate < 0.9


def test_mala_acceptance_falls_with_step_size() -> None:
    energy = toy2d.gaussian_energy(MEAN, COV)
    x0 = torch.as_tensor(exact_gaussian(400, seed=3))
    rates = [
        S.langevin(
            energy, x0, n_steps=20, step_size=eps, metropolis=True, generator=torch.Generator().manual_seed(0)
        ).acceptance_rate
        for eps in (0.1, 1.0, 3.0)
    ]
    assert rates[0] > rates[1] > rates[2]


def test_decoupled_noise_free_step_is_gradient_descent() -> None:
    """grad_step=λ, noise_std=0 is plain gradient descent on E: it converges to the mode."""
    x0 = torch.zeros(3, 2, dtype=torch.float64)
    out = S.langevin(toy2d.gaussian_energy(MEAN, COV), x0, n_steps=200, grad_step=0.3, noise_std=0.0)
    np.testing.assert_allclose(out.samples.numpy(), np.tile(MEAN, (3, 1)), atol=1e-6)
    np.testing.assert_allclose(out.energies.numpy(), 0.0, atol=1e-10)


def test_one_step_matches_the_update_formula() -> None:
    """x' = x − λ∇E(x) + σξ with the same noise the generator produces."""
    energy = toy2d.gaussian_energy(MEAN, COV)
    x0 = torch.tensor([[0.3, 0.7], [-1.0, 2.0]], dtype=torch.float64)
    out = S.langevin(
        energy, x0, n_steps=1, grad_step=0.2, noise_std=0.1, generator=torch.Generator().manual_seed(5)
    )
    xi = torch.randn(x0.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    grad = (x0 - torch.as_tensor(MEAN)) @ torch.linalg.inv(torch.as_tensor(COV))
    torch.testing.assert_close(out.samples, x0 - 0.2 * grad + 0.1 * xi)
    # exact pairing: step_size=ε is grad_step=ε/2, noise_std=√ε
    a = S.langevin(energy, x0, n_steps=3, step_size=0.04, generator=torch.Generator().manual_seed(1)).samples
    b = S.langevin(
        energy, x0, n_steps=3, grad_step=0.02, noise_std=0.2, generator=torch.Generator().manual_seed(1)
    ).samples
    torch.testing.assert_close(a, b)


def test_decoupled_step_is_exact_pairing_at_its_temperature() -> None:
    """grad_step=λ, noise_std=σ on E is the exact pairing with ε = σ² on E/T, T = σ²/(2λ) (lecture 03):
    the same chain, and MALA at that temperature proposes exactly the decoupled step."""
    energy = toy2d.gaussian_energy(MEAN, COV)
    lam, sigma = 0.3, 0.05
    temperature = sigma**2 / (2 * lam)
    x0 = torch.tensor([[0.3, 0.7], [-1.0, 2.0], [1.0, -2.1]], dtype=torch.float64)
    decoupled = S.langevin(
        energy, x0, n_steps=5, grad_step=lam, noise_std=sigma, generator=torch.Generator().manual_seed(2)
    )
    tempered = S.langevin(
        lambda x: energy(x) / temperature,
        x0,
        n_steps=5,
        step_size=sigma**2,
        generator=torch.Generator().manual_seed(2),
    )
    torch.testing.assert_close(tempered.samples, decoupled.samples)
    # the one-step MALA proposal on E/T (its acceptance aside) is the decoupled step
    mala = S.langevin(
        lambda x: energy(x) / temperature,
        x0,
        n_steps=1,
        step_size=sigma**2,
        metropolis=True,
        generator=torch.Generator().manual_seed(2),
    )
    one = S.langevin(
        energy, x0, n_steps=1, grad_step=lam, noise_std=sigma, generator=torch.Generator().manual_seed(2)
    )
    moved = (mala.samples != x0).any(1)
    torch.testing.assert_close(mala.samples[moved], one.samples[moved])
    assert moved.any()


def test_clamp_grad_clip_and_chain() -> None:
    energy = toy2d.gaussian_energy([5.0, 5.0], np.eye(2))  # pulls far outside [-1, 1]
    x0 = torch.zeros(8, 2)
    out = S.langevin(
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
    step = S.langevin(energy, x0, n_steps=1, grad_step=1.0, noise_std=0.0, grad_clip=0.01).samples
    torch.testing.assert_close(step, torch.full((8, 2), 0.01))


def test_sampling_leaves_model_gradients_alone() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.SiLU(), torch.nn.Linear(8, 1))
    out = S.langevin(lambda x: net(x).squeeze(-1), torch.randn(16, 2), n_steps=5, step_size=0.01)
    assert all(p.grad is None for p in net.parameters())
    assert not out.samples.requires_grad
    assert torch.isfinite(out.samples).all()


def test_frozen_holds_the_network_and_restores_it() -> None:
    """Inside frozen(): eval mode, no parameter requires a gradient, a spectral norm's estimate
    does not move while chains sample; afterwards everything is as it was (and the same chains
    are drawn as without frozen)."""
    from torch.nn.utils.parametrizations import spectral_norm

    torch.manual_seed(0)
    net = torch.nn.Sequential(spectral_norm(torch.nn.Linear(2, 8)), torch.nn.SiLU(), torch.nn.Linear(8, 1))
    net[2].weight.requires_grad_(False)  # a mix, to check that each flag is restored as it was
    net.train()
    u_before = net[0].parametrizations.weight[0]._u.clone()

    def energy(x: torch.Tensor) -> torch.Tensor:
        return net(x).squeeze(-1)

    def run() -> torch.Tensor:
        return S.langevin(
            energy, torch.ones(4, 2), n_steps=5, step_size=0.01, generator=torch.Generator().manual_seed(3)
        ).samples

    with S.frozen(net) as same:
        assert same is net and not net.training
        assert not any(p.requires_grad for p in net.parameters())
        inside = run()
    torch.testing.assert_close(net[0].parametrizations.weight[0]._u, u_before)  # no power iteration
    assert net.training
    assert net[0].parametrizations.weight.original.requires_grad and not net[2].weight.requires_grad
    assert all(p.grad is None for p in net.parameters())
    net.eval()
    torch.testing.assert_close(run(), inside)
    with pytest.raises(ValueError, match=r"nn\.Module"):
        with S.frozen(energy):
            pass


def test_bad_inputs_are_rejected() -> None:
    energy = toy2d.gaussian_energy(MEAN, COV)
    x0 = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"torch\.Tensor"):
        S.langevin(energy, np.zeros((4, 2)), n_steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="floating-point"):
        S.langevin(energy, torch.zeros(4, 2, dtype=torch.long), n_steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="step_size"):
        S.langevin(energy, x0, n_steps=1, step_size=-0.1)
    with pytest.raises(ValueError, match="not both"):
        S.langevin(energy, x0, n_steps=1, step_size=0.1, noise_std=0.1)
    with pytest.raises(ValueError, match="both grad_step and noise_std"):
        S.langevin(energy, x0, n_steps=1, grad_step=0.1)
    with pytest.raises(ValueError, match="detailed balance"):
        S.langevin(energy, x0, n_steps=1, step_size=0.1, metropolis=True, clamp=(-1, 1))
    with pytest.raises(ValueError, match="clamp"):
        S.langevin(energy, x0, n_steps=1, step_size=0.1, clamp=(1, -1))
    with pytest.raises(ValueError, match="n_steps"):
        S.langevin(energy, x0, n_steps=-1, step_size=0.1)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        S.langevin(lambda x: x.sum(), x0, n_steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="proposal_std"):
        S.random_walk_metropolis(energy, x0, n_steps=1, proposal_std=0.0)
    with pytest.raises(ValueError, match="diverges"):
        S.ula_stationary_variance(1.0, 4.0)
    with pytest.raises(ValueError, match="positive definite"):
        toy2d.gaussian_energy([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])


# --------------------------------------------------------------------------- replay buffer


def test_replay_buffer_reuses_and_restarts() -> None:
    gen = torch.Generator().manual_seed(0)
    buf = S.ReplayBuffer(1000, (1, 4, 4), reinit_prob=0.05, generator=gen)
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


def test_replay_buffer_counts_each_chains_updates_since_its_restart() -> None:
    """age: updates a slot's chain has received since it started from noise; a restarted slot
    starts again at 1 when it is written back, a slot never drawn stays at 0."""
    buf = S.ReplayBuffer(40, (3,), reinit_prob=0.25, generator=torch.Generator().manual_seed(0))
    buf.data.fill_(7.0)  # fresh noise is then recognisable
    expected = torch.zeros(40, dtype=torch.long)
    for _ in range(60):
        x, idx = buf.sample(8)
        restarted = (x != 7.0).all(1)
        expected[idx] = torch.where(restarted, 0, expected[idx]) + 1
        buf.update(idx, torch.full_like(x, 7.0))
        assert torch.equal(buf.age, expected)
    assert expected.max() > 3 and (expected == 1).any()  # long chains and fresh restarts both occur
    x, idx = buf.sample(5)  # drawn but not written back: the ages stay
    assert torch.equal(buf.age, expected)


def test_replay_buffer_bad_inputs() -> None:
    with pytest.raises(ValueError, match="capacity"):
        S.ReplayBuffer(0, (2,))
    with pytest.raises(ValueError, match="reinit_prob"):
        S.ReplayBuffer(10, (2,), reinit_prob=1.5)
    buf = S.ReplayBuffer(10, (2,))
    with pytest.raises(ValueError, match="batch_size"):
        buf.sample(11)
    with pytest.raises(ValueError, match="shape"):
        buf.update(torch.arange(3), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="init"):
        S.ReplayBuffer(10, (2,), init=lambda n: torch.zeros(n, 3))


@pytest.mark.parametrize("own_generator", [True, False])
def test_replay_buffer_state_round_trip(own_generator: bool) -> None:
    """A buffer restored from state_dict holds the same states and, with its own generator, draws
    the same next batch as the original (what a cached EBM relies on)."""

    def make() -> S.ReplayBuffer:
        gen = torch.Generator().manual_seed(1) if own_generator else None
        return S.ReplayBuffer(50, (3,), reinit_prob=0.3, generator=gen)

    buf = make()
    x, idx = buf.sample(20)
    buf.update(idx, x + 5.0)
    state = {k: v.clone() for k, v in buf.state_dict().items()}
    restored = make()
    assert not torch.equal(restored.data, buf.data)
    restored.load_state_dict(state)
    assert torch.equal(restored.data, buf.data)
    assert torch.equal(restored.age, buf.age) and buf.age.sum() == 20
    if own_generator:
        (a, ia), (b, ib) = buf.sample(20), restored.sample(20)
        assert torch.equal(a, b) and torch.equal(ia, ib)
    with pytest.raises(ValueError, match="shape"):
        S.ReplayBuffer(10, (3,)).load_state_dict(state)
