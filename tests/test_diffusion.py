"""lib.diffusion against exact results: closed-form schedules and moments, Gaussian
conditioning, the optimal noise predictor of Gaussian data, and the exact score of a noised
Gaussian mixture (the optimum of denoising score matching)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lib import diffusion as D
from lib import toy2d

MU = torch.tensor([1.0, -2.0, 0.0], dtype=torch.float64)
VAR = torch.tensor([0.25, 4.0, 1.0], dtype=torch.float64)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


# --------------------------------------------------------------------------- schedules


@pytest.mark.parametrize("make", [lambda: D.Schedule.linear(100), lambda: D.Schedule.cosine(100)])
def test_schedule_definitions(make):
    s = make()
    assert s.T == 100
    for v in (s.betas, s.alphas, s.alpha_bar):
        assert v.dtype == torch.float64 and v.shape == (100,)
    assert torch.allclose(s.alphas, 1 - s.betas)
    for t in (0, 1, 37, 99):
        assert math.isclose(
            float(s.alpha_bar[t]), float(np.prod(1 - s.betas[: t + 1].numpy())), rel_tol=1e-12
        )
    assert torch.all(torch.diff(s.alpha_bar) < 0)


def test_linear_schedule_end_points():
    s = D.Schedule.linear(1000)
    assert math.isclose(float(s.betas[0]), 1e-4) and math.isclose(float(s.betas[-1]), 0.02)
    assert float(s.alpha_bar[-1]) < 1e-4  # x_{T-1} is (almost) pure noise


@pytest.mark.parametrize("T", [10, 20, 100, 1000, 4000])
def test_linear_schedule_ends_in_noise_for_every_T(T):
    """Ho et al.'s β range, scaled by 1000/T: Σβ ≈ 10 at every T, so ᾱ_{T−1} is small at every T
    (the unscaled range leaves 36 % of the signal at T = 100)."""
    s = D.Schedule.linear(T)
    assert float(s.alpha_bar[-1]) < 1e-4
    assert float(s.betas.max()) <= 0.999
    assert float(D.Schedule.linear(100, 1e-4, 0.02).alpha_bar[-1]) > 0.3  # given values are kept
    assert math.isclose(float(s.betas[0]), min(1e-4 * 1000 / T, 0.999))


def test_cosine_schedule_closed_form():
    T, s_off = 50, 0.008
    s = D.Schedule.cosine(T)
    f = lambda u: math.cos((u + s_off) / (1 + s_off) * math.pi / 2) ** 2  # noqa: E731
    for t in range(T - 1):  # every step below the cap follows ᾱ_t = f((t+1)/T) / f(0)
        assert math.isclose(float(s.alpha_bar[t]), f((t + 1) / T) / f(0), rel_tol=1e-9)
    assert math.isclose(float(s.betas[-1]), 0.999)  # the last step is capped


@pytest.mark.parametrize(
    "call",
    [
        lambda: D.Schedule.linear(0),
        lambda: D.Schedule.linear(10, beta_start=0.1, beta_end=0.01),
        lambda: D.Schedule.cosine(10, max_beta=1.0),
        lambda: D.Schedule(torch.tensor([0.1, 1.0])),
        lambda: D.Schedule(torch.tensor([])),
    ],
)
def test_schedule_rejects_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# --------------------------------------------------------------------------- forward process


def test_q_sample_moments_match_closed_form():
    s = D.Schedule.linear(100)
    g = torch.Generator().manual_seed(0)
    n, t = 200_000, 40
    x0 = torch.full((n, 1), 1.5, dtype=torch.float64)
    xt = s.q_sample(x0, torch.full((n,), t), torch.randn(n, 1, generator=g, dtype=torch.float64))
    ab = float(s.alpha_bar[t])
    assert abs(float(xt.mean()) - math.sqrt(ab) * 1.5) < 4 * math.sqrt((1 - ab) / n)
    assert abs(float(xt.var()) / (1 - ab) - 1) < 4 * math.sqrt(2 / n)
    # Gaussian data N(μ, σ²): x_t ~ N(√ᾱ μ, ᾱ σ² + 1 − ᾱ)
    x0 = MU + VAR.sqrt() * torch.randn(n, 3, generator=g, dtype=torch.float64)
    xt = s.q_sample(x0, t, torch.randn(n, 3, generator=g, dtype=torch.float64))
    assert torch.allclose(xt.mean(0), math.sqrt(ab) * MU, atol=0.02)
    assert torch.allclose(xt.var(0) / (ab * VAR + 1 - ab), torch.ones(3, dtype=torch.float64), atol=0.02)


def test_q_sample_rejects_bad_time_and_noise():
    s = D.Schedule.linear(10)
    x0 = torch.zeros(4, 2)
    with pytest.raises(ValueError, match=r"0\.\.9"):
        s.q_sample(x0, torch.full((4,), 10), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="shape"):
        s.q_sample(x0, torch.zeros(3, dtype=torch.long), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="noise"):
        s.q_sample(x0, 0, torch.zeros(4, 3))


@pytest.mark.parametrize("schedule", [D.Schedule.linear(100), D.Schedule.cosine(100)])
def test_posterior_is_gaussian_conditioning(schedule):
    """q(x_{t−1} | x_t, x_0) from the joint Gaussian of (x_{t−1}, x_t) given x_0."""
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(6, 3, generator=g, dtype=torch.float64)
    xt = torch.randn(6, 3, generator=g, dtype=torch.float64)
    for t in (1, 2, 50, 99):
        ab_prev, ab = float(schedule.alpha_bar[t - 1]), float(schedule.alpha_bar[t])
        a = float(schedule.alphas[t])
        # x_{t−1} ~ N(√ᾱ_{t−1} x0, 1 − ᾱ_{t−1}); x_t = √α_t x_{t−1} + √β_t ξ
        m1, v1 = math.sqrt(ab_prev) * x0, 1 - ab_prev
        m2, v2 = math.sqrt(ab) * x0, 1 - ab
        cov = math.sqrt(a) * v1
        mean_exact = m1 + cov / v2 * (xt - m2)
        var_exact = v1 - cov**2 / v2
        mean, var = schedule.posterior(x0, xt, torch.full((6,), t))
        assert torch.allclose(mean, mean_exact, rtol=1e-10, atol=1e-12)
        assert torch.allclose(var, torch.full((6, 1), var_exact, dtype=torch.float64), rtol=1e-10)
    mean, var = schedule.posterior(x0, xt, 0)  # ᾱ_{−1} = 1: the previous state is x_0 itself
    assert torch.allclose(mean, x0) and torch.all(var == 0)


def test_posterior_monte_carlo():
    """The same, by simulation: draw x_{t−1}, then x_t, and regress."""
    s = D.Schedule.cosine(20)
    g = torch.Generator().manual_seed(2)
    n, t, x0 = 400_000, 10, 0.7
    ab_prev = float(s.alpha_bar[t - 1])
    x_prev = math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev) * torch.randn(
        n, generator=g, dtype=torch.float64
    )
    x_t = math.sqrt(float(s.alphas[t])) * x_prev + math.sqrt(float(s.betas[t])) * torch.randn(
        n, generator=g, dtype=torch.float64
    )
    sel = (x_t - 0.3).abs() < 0.01  # condition on x_t ≈ 0.3
    mean, var = s.posterior(torch.tensor([[x0]]).double(), torch.tensor([[0.3]]).double(), t)
    assert abs(float(x_prev[sel].mean()) - float(mean)) < 0.01
    assert abs(float(x_prev[sel].var()) / float(var) - 1) < 0.05


# --------------------------------------------------------------------------- the ε-loss and the score


def test_eps_loss_of_the_optimal_predictor_is_the_posterior_variance():
    """For Gaussian data the minimal ε-loss is E_t[ᾱσ²/(ᾱσ² + 1 − ᾱ)] (the variance of ε given x_t),
    and any other predictor does worse."""
    s = D.Schedule.cosine(50)
    g = torch.Generator().manual_seed(3)
    x0 = MU + VAR.sqrt() * torch.randn(200_000, 3, generator=g, dtype=torch.float64)
    opt = D.gaussian_eps_predictor(s, MU, VAR)
    loss = float(D.eps_loss(opt, s, x0, generator=g))
    ab = s.alpha_bar[:, None]
    exact = float((ab * VAR / (ab * VAR + 1 - ab)).mean())
    assert abs(loss - exact) < 0.01
    worse = D.gaussian_eps_predictor(s, MU + 0.3, VAR)
    assert float(D.eps_loss(worse, s, x0, generator=g)) > loss + 0.005


def test_gaussian_eps_predictor_takes_zero_variance():
    """A pixel that never changes (variance 0) is a point mass: its exact ε̂ is finite, and DDPM
    returns its value."""
    s = D.Schedule.cosine(50)
    mu, var = torch.tensor([0.5, -1.0]).double(), torch.tensor([0.0, 0.3]).double()
    eps = D.gaussian_eps_predictor(s, mu, var)
    x = D.ddpm_sample(eps, s, (4000, 2), generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    assert torch.all(torch.isfinite(x))
    assert torch.allclose(x[:, 0], torch.full((4000,), 0.5, dtype=torch.float64), atol=1e-6)
    with pytest.raises(ValueError, match="non-negative"):
        D.gaussian_eps_predictor(s, mu, torch.tensor([-0.1, 0.3]))


def test_eps_is_minus_scaled_score():
    """ε̂ = −√(1 − ᾱ_t) ∇ log q_t, with q_t the exact marginal N(√ᾱ μ, ᾱσ² + 1 − ᾱ)."""
    s = D.Schedule.linear(100)
    opt = D.gaussian_eps_predictor(s, MU, VAR)
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    for t in (0, 30, 99):
        ab = float(s.alpha_bar[t])
        score = -(x - math.sqrt(ab) * MU) / (ab * VAR + 1 - ab)
        assert torch.allclose(opt(x, torch.full((8,), t)), -math.sqrt(1 - ab) * score)


def _square_mixture() -> toy2d.GaussianMixture:
    return toy2d.GaussianMixture([[-1.5, -1.5], [1.5, -1.5], [-1.5, 1.5], [1.5, 1.5]], 0.5)


def test_mixture_score_closed_form_for_one_gaussian():
    x = torch.randn(5, 2, dtype=torch.float64)
    got = D.mixture_score([[1.0, -1.0]], 0.5, x, sigma=0.3)
    assert torch.allclose(got, -(x - torch.tensor([1.0, -1.0]).double()) / (0.25 + 0.09))


@pytest.mark.parametrize("sigma", [0.2, 1.0])
def test_dsm_differs_from_explicit_score_matching_by_a_constant(sigma):
    """Vincent (2011): DSM(s) = ½σ² E|s − ∇log p_σ|² + C, so DSM differences of two score
    functions equal the differences of their explicit score-matching losses."""
    m = _square_mixture()
    g = torch.Generator().manual_seed(5)
    x0 = torch.as_tensor(m.sample(200_000, seed=6))
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    exact = lambda x, s: D.mixture_score(m.means, m.stds, x, sigma)  # noqa: E731
    off = lambda x, s: exact(x, s) + torch.tensor([0.5, -0.2]).double() / sigma  # noqa: E731
    zero = lambda x, s: torch.zeros_like(x)  # noqa: E731
    x_noisy = x0 + sigma * noise
    s_star = exact(x_noisy, None)

    def esm(f):
        return float(0.5 * sigma**2 * ((f(x_noisy, None) - s_star) ** 2).sum(1).mean())

    dsm = {
        name: float(D.dsm_loss(f, x0, sigma, noise))
        for name, f in [("exact", exact), ("off", off), ("zero", zero)]
    }
    assert dsm["exact"] < dsm["off"] and dsm["exact"] < dsm["zero"]
    assert abs((dsm["off"] - dsm["exact"]) - esm(off)) < 0.01
    assert abs((dsm["zero"] - dsm["exact"]) - esm(zero)) < 0.02 * max(1.0, esm(zero))


def test_dsm_optimum_is_the_exact_score_of_the_noised_mixture():
    """Minimise the DSM loss over a flexible linear model (Gaussian features on a grid, by
    least squares: DSM is quadratic in the model) and compare with the exact score."""
    m = _square_mixture()
    sigma = 0.5
    g = torch.Generator().manual_seed(7)
    x0 = torch.as_tensor(m.sample(100_000, seed=8))
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    x_noisy = x0 + sigma * noise
    centres = (
        torch.stack(
            torch.meshgrid(torch.linspace(-3.5, 3.5, 15), torch.linspace(-3.5, 3.5, 15), indexing="ij"), -1
        )
        .reshape(-1, 2)
        .double()
    )

    def features(x):
        return torch.exp(-((x[:, None, :] - centres[None]) ** 2).sum(-1) / (2 * 0.5**2))  # (N, 225)

    phi = features(x_noisy)
    target = -noise / sigma  # DSM: s(x̃) ≈ (x0 − x̃)/σ² = −ε/σ
    w = torch.linalg.solve(phi.T @ phi + 1e-3 * torch.eye(len(centres), dtype=torch.float64), phi.T @ target)
    fitted = lambda x, s: features(x) @ w  # noqa: E731
    # the fitted model reaches (nearly) the DSM loss of the exact score, and it *is* that score
    probe = torch.as_tensor(m.sample(2000, seed=9)) + sigma * torch.randn(
        2000, 2, generator=g, dtype=torch.float64
    )
    exact = D.mixture_score(m.means, m.stds, probe, sigma)
    err = ((fitted(probe, None) - exact) ** 2).sum(1).mean().sqrt()
    scale = (exact**2).sum(1).mean().sqrt()
    assert float(err / scale) < 0.1, (float(err), float(scale))


def test_dsm_loss_rejects_bad_sigma_and_noise():
    x0 = torch.zeros(4, 2)
    f = lambda x, s: x  # noqa: E731
    with pytest.raises(ValueError):
        D.dsm_loss(f, x0, 0.0, torch.zeros(4, 2))
    with pytest.raises(ValueError):
        D.dsm_loss(f, x0, 0.1, torch.zeros(4, 3))


# --------------------------------------------------------------------------- samplers


@pytest.mark.parametrize(
    "schedule", [D.Schedule.linear(1000), D.Schedule.cosine(200)], ids=["linear", "cosine"]
)
def test_ddpm_recovers_gaussian_data(schedule):
    eps = D.gaussian_eps_predictor(schedule, MU, VAR)
    x = D.ddpm_sample(
        eps, schedule, (20_000, 3), generator=torch.Generator().manual_seed(10), dtype=torch.float64
    )
    assert x.shape == (20_000, 3)
    assert torch.allclose(x.mean(0), MU, atol=0.06)
    assert torch.allclose(x.var(0) / VAR, torch.ones(3, dtype=torch.float64), atol=0.08)


@pytest.mark.parametrize(("eta", "steps"), [(0.0, 100), (0.5, 200), (1.0, 200)])
def test_ddim_recovers_gaussian_data_with_enough_steps(eta, steps):
    s = D.Schedule.cosine(200)
    eps = D.gaussian_eps_predictor(s, MU, VAR)
    x = D.ddim_sample(
        eps,
        s,
        (20_000, 3),
        steps=steps,
        eta=eta,
        generator=torch.Generator().manual_seed(11),
        dtype=torch.float64,
    )
    assert torch.allclose(x.mean(0), MU, atol=0.06)
    assert torch.allclose(x.var(0) / VAR, torch.ones(3, dtype=torch.float64), atol=0.08)


def test_ddim_with_few_steps_is_too_narrow():
    """The deterministic sampler's discretisation error: too few steps shrink the variance."""
    s = D.Schedule.cosine(200)
    eps = D.gaussian_eps_predictor(s, MU, VAR)
    g = torch.Generator().manual_seed(12)
    v5 = D.ddim_sample(eps, s, (20_000, 3), steps=5, generator=g, dtype=torch.float64).var(0)
    v100 = D.ddim_sample(eps, s, (20_000, 3), steps=100, generator=g, dtype=torch.float64).var(0)
    assert torch.all((v5 / VAR) < (v100 / VAR))


def test_ddim_with_eta_one_and_all_steps_is_ddpm():
    s = D.Schedule.cosine(30)
    eps = D.gaussian_eps_predictor(s, MU, VAR)
    a = D.ddpm_sample(eps, s, (50, 3), generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    b = D.ddim_sample(
        eps, s, (50, 3), steps=30, eta=1.0, generator=torch.Generator().manual_seed(13), dtype=torch.float64
    )
    assert torch.allclose(a, b, atol=1e-8)


def test_clip_bounds_the_predicted_clean_sample():
    s = D.Schedule.cosine(20)
    wild = lambda x, t: 50 * torch.ones_like(x)  # noqa: E731 - a badly wrong noise predictor
    seen = []
    x = D.ddpm_sample(
        wild, s, (16, 4), clip=1.0, callback=lambda i, t, x, x0: seen.append(float(x0.abs().max()))
    )
    assert len(seen) == 20 and max(seen) <= 1.0
    assert float(x.abs().max()) <= 1.0  # the last step returns x̂_0
    unclipped = D.ddpm_sample(wild, s, (16, 4))
    assert float(unclipped.abs().max()) > 10
    y = D.ddim_sample(wild, s, (16, 4), steps=5, clip=1.0)
    assert float(y.abs().max()) <= 1.0 + 1e-6


def test_samplers_start_from_the_given_noise():
    """start=x_T replaces the first draw: the same samples as the seeded run, whose first draw is x_T;
    and DDIM with η = 0 is a deterministic function of it."""
    s = D.Schedule.cosine(20)
    eps = D.gaussian_eps_predictor(s, MU, VAR)
    x_T = torch.randn(6, 3, generator=torch.Generator().manual_seed(15), dtype=torch.float64)
    kw = {"dtype": torch.float64}
    a = D.ddpm_sample(eps, s, (6, 3), generator=torch.Generator().manual_seed(15), **kw)
    g = torch.Generator().manual_seed(15)
    torch.randn(6, 3, generator=g, dtype=torch.float64)  # what the seeded run drew first
    b = D.ddpm_sample(eps, s, (6, 3), generator=g, start=x_T, **kw)
    assert torch.equal(a, b)
    c = D.ddim_sample(eps, s, (6, 3), steps=5, start=x_T, **kw)
    d = D.ddim_sample(
        eps, s, (6, 3), steps=5, start=x_T.clone(), generator=torch.Generator().manual_seed(1), **kw
    )
    assert torch.equal(c, d)
    with pytest.raises(ValueError, match="start"):
        D.ddpm_sample(eps, s, (5, 3), start=x_T)


def test_sampler_callback_counts_steps():
    s = D.Schedule.linear(12)
    eps = D.gaussian_eps_predictor(s, MU, VAR)
    steps = []
    D.ddim_sample(eps, s, (4, 3), steps=4, callback=lambda i, t, x, x0: steps.append((i, t)))
    assert steps == [(1, 11), (2, 7), (3, 4), (4, 0)]
    assert D.ddim_timesteps(12, 4) == [0, 4, 7, 11]


@pytest.mark.parametrize(
    "call",
    [
        lambda s, e: D.ddim_sample(e, s, (4, 3), steps=11),
        lambda s, e: D.ddim_sample(e, s, (4, 3), steps=0),
        lambda s, e: D.ddim_sample(e, s, (4, 3), steps=5, eta=-1.0),
        lambda s, e: D.ddpm_sample(e, s, (4, 3), clip=0.0),
        lambda s, e: D.ddpm_sample(e, s, (0, 3)),
        lambda s, e: D.ddpm_sample(lambda x, t: x[:, :2], s, (4, 3)),
        lambda s, e: D.ddpm_sample(e, "cosine", (4, 3)),
    ],
)
def test_samplers_reject_bad_arguments(call):
    s = D.Schedule.cosine(10)
    with pytest.raises(ValueError):
        call(s, D.gaussian_eps_predictor(s, MU, VAR))


def test_samplers_name_a_misspelt_option():
    s = D.Schedule.cosine(10)
    eps = D.gaussian_eps_predictor(s, MU, VAR)
    for sample in (D.ddpm_sample, lambda *a, **k: D.ddim_sample(*a, steps=5, **k)):
        with pytest.raises(TypeError, match="clamp"):
            sample(eps, s, (4, 3), clamp=1.0)
