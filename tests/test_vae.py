"""Tests of lib.vae: the closed-form Gaussian KL, log-mean-exp, the importance-weighted bound."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext

import numpy as np
import pytest

from lib import vae

# --------------------------------------------------------------------------- gaussian_kl


def test_kl_of_identical_gaussians_is_zero():
    rng = np.random.default_rng(0)
    mu, lv = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    np.testing.assert_allclose(vae.gaussian_kl(mu, lv, mu, lv), 0.0, atol=1e-12)
    np.testing.assert_allclose(vae.gaussian_kl(np.zeros((3, 4)), np.zeros((3, 4))), 0.0, atol=1e-12)


def test_kl_matches_monte_carlo_and_is_asymmetric():
    rng = np.random.default_rng(1)
    mu_q, lv_q = np.array([0.3, -1.0, 2.0]), np.array([-0.5, 0.4, 0.0])
    mu_p, lv_p = np.array([-0.2, 0.5, 1.0]), np.array([0.3, -0.7, 1.1])
    z = mu_q + np.exp(0.5 * lv_q) * rng.standard_normal((400_000, 3))
    log_ratio = vae.normal_log_prob(z, mu_q, lv_q) - vae.normal_log_prob(z, mu_p, lv_p)
    mc, se = log_ratio.mean(), log_ratio.std() / math.sqrt(len(z))
    exact = vae.gaussian_kl(mu_q, lv_q, mu_p, lv_p)
    assert abs(mc - exact) < 4 * se, (mc, exact, se)
    reverse = vae.gaussian_kl(mu_p, lv_p, mu_q, lv_q)
    assert exact > 0 and reverse > 0
    assert abs(exact - reverse) > 0.1  # KL is not symmetric


def test_kl_standard_normal_prior_formula_and_scipy_reference():
    from scipy.stats import norm

    mu, lv = np.array([[0.7, -1.3]]), np.array([[0.2, -2.0]])
    expected = -0.5 * np.sum(1 + lv - mu**2 - np.exp(lv), axis=-1)
    np.testing.assert_allclose(vae.gaussian_kl(mu, lv), expected, rtol=1e-12)
    # one dimension against numerical integration of q log(q/p)
    from scipy.integrate import quad

    q, p = norm(0.7, math.exp(0.1)), norm(0.0, 1.0)
    integral, _ = quad(lambda t: q.pdf(t) * (q.logpdf(t) - p.logpdf(t)), -15, 15)
    np.testing.assert_allclose(vae.gaussian_kl(mu[:, :1], lv[:, :1]), [integral], rtol=1e-8)


def test_kl_torch_matches_numpy_and_torch_distributions_and_has_gradients():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    mu_q = torch.randn(4, 6, generator=g, dtype=torch.float64, requires_grad=True)
    lv_q = torch.randn(4, 6, generator=g, dtype=torch.float64)
    mu_p, lv_p = (
        torch.randn(6, generator=g, dtype=torch.float64),
        torch.randn(6, generator=g, dtype=torch.float64),
    )
    kl = vae.gaussian_kl(mu_q, lv_q, mu_p, lv_p)
    assert isinstance(kl, torch.Tensor) and kl.shape == (4,)
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu_q, (0.5 * lv_q).exp()),
        torch.distributions.Normal(mu_p, (0.5 * lv_p).exp()),
    ).sum(-1)
    torch.testing.assert_close(kl, ref)
    np.testing.assert_allclose(
        kl.detach().numpy(), vae.gaussian_kl(mu_q.detach().numpy(), lv_q.numpy(), mu_p.numpy(), lv_p.numpy())
    )
    kl.sum().backward()
    # d KL / d mu_q = (mu_q - mu_p) / var_p
    torch.testing.assert_close(mu_q.grad, ((mu_q - mu_p) / lv_p.exp()).detach())


def test_kl_rejects_mismatched_shapes_and_scalars():
    with pytest.raises(ValueError, match="must match"):
        vae.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="at least one"):
        vae.gaussian_kl(0.0, 0.0)


# --------------------------------------------------------------------------- log_mean_exp


def _reference_log_mean_exp(values) -> float:
    getcontext().prec = 60
    total = sum(Decimal(float(v)).exp() for v in values)
    return float((total / len(values)).ln())


@pytest.mark.parametrize(
    "values",
    [
        [-1000.0, -1000.0],
        [-1000.0, -1001.0, -1e4],
        [1000.0, 0.0, -5.0],
        [710.0, 709.5, 700.0],
        [-745.0, -744.0],
        [0.0, -40.0, 3.0, 1e-8],
        [88.0, 88.7, -88.0],
    ],
)
def test_log_mean_exp_against_high_precision_reference(values):
    x = np.array(values)
    got = vae.log_mean_exp(x, axis=0)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, _reference_log_mean_exp(values), rtol=1e-13, atol=1e-12)


def test_log_mean_exp_axes_infinities_and_torch():
    rng = np.random.default_rng(2)
    x = rng.normal(scale=300.0, size=(6, 5))
    for axis in (0, 1, -1):
        ref = np.apply_along_axis(_reference_log_mean_exp, axis, x)
        np.testing.assert_allclose(vae.log_mean_exp(x, axis=axis), ref, rtol=1e-13)
    assert vae.log_mean_exp(np.array([-np.inf, -np.inf])) == -np.inf
    np.testing.assert_allclose(vae.log_mean_exp(np.array([-np.inf, 0.0])), math.log(0.5))
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, dtype=torch.float64)
    torch.testing.assert_close(vae.log_mean_exp(t, axis=1), torch.tensor(vae.log_mean_exp(x, axis=1)))
    with pytest.raises(ValueError, match="scalar"):
        vae.log_mean_exp(np.float64(1.0))
    with pytest.raises(ValueError, match="out of range"):
        vae.log_mean_exp(x, axis=2)


# --------------------------------------------------------------------------- IW estimator


class LinearGaussian:
    """z ~ N(0, 1) in D dims, x | z ~ N(A z + b, s² I): the marginal p(x) is an exact Gaussian.

    The proposal q(z|x) is the exact posterior with its mean shifted and its variance inflated,
    so importance weights are not constant and the bound is strictly loose for small k.
    """

    def __init__(self, seed: int = 0, dz: int = 2, dx: int = 3, s: float = 0.5):
        rng = np.random.default_rng(seed)
        self.A, self.b, self.s2 = rng.normal(size=(dx, dz)), rng.normal(size=dx), s**2
        self.dz = dz
        cov_x = self.A @ self.A.T + self.s2 * np.eye(dx)
        self.cov_x = cov_x
        self.post_cov = np.linalg.inv(np.eye(dz) + self.A.T @ self.A / self.s2)

    def log_px(self, x: np.ndarray) -> np.ndarray:
        from scipy.stats import multivariate_normal

        return multivariate_normal(self.b, self.cov_x).logpdf(x)

    def log_weights(self, x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """(k, N) log p(x, z) - log q(z|x) with z ~ q."""
        post_mean = (x - self.b) @ self.A @ self.post_cov.T / self.s2  # (N, dz)
        q_mean = post_mean + 0.6
        q_logvar = np.log(np.diag(self.post_cov)) + 0.8  # diagonal, wider than the posterior
        z = q_mean + np.exp(0.5 * q_logvar) * rng.standard_normal((k, *post_mean.shape))  # (k, N, dz)
        dx = x.shape[1]
        log_prior = vae.normal_log_prob(z)
        log_lik = vae.normal_log_prob(z @ self.A.T + self.b, x, np.full(dx, math.log(self.s2)))
        return log_prior + log_lik - vae.normal_log_prob(z, q_mean, q_logvar)


def test_iw_estimate_tightens_with_k_and_converges_to_exact_marginal():
    model = LinearGaussian()
    rng = np.random.default_rng(3)
    x = rng.multivariate_normal(model.b, model.cov_x, size=20)  # (N, dx)
    exact = model.log_px(x)  # (N,)
    reps = 200
    means = {}
    for k in (1, 10, 100, 1000):
        est = np.stack(
            [vae.iw_log_likelihood(model.log_weights(x, k, rng)) for _ in range(reps)]
        )  # (reps, N)
        gap = exact - est  # should be >= 0 in expectation
        means[k] = gap.mean()
        se = gap.mean(axis=1).std() / math.sqrt(reps)
        assert gap.mean() > -3 * se - 1e-12, (k, gap.mean(), se)  # never above log p(x) in expectation
    assert means[1] > means[10] > means[100] > means[1000] >= -1e-3, means
    assert means[1] > 0.2  # the ELBO is visibly loose with this proposal...
    assert means[1000] < 0.02  # ...and k = 1000 all but closes the gap


def test_iw_estimate_is_exact_with_the_true_posterior():
    # with q = p(z|x) every weight equals p(x): L_k = log p(x) for every k, even k = 1
    model = LinearGaussian(seed=4, dz=1, dx=1)
    x = np.array([[0.3], [-1.2]])
    post_mean = (x - model.b) @ model.A @ model.post_cov.T / model.s2
    rng = np.random.default_rng(0)
    z = post_mean + np.sqrt(model.post_cov[0, 0]) * rng.standard_normal((5, 2, 1))
    lw = (
        vae.normal_log_prob(z)
        + vae.normal_log_prob(z @ model.A.T + model.b, x, math.log(model.s2))
        - vae.normal_log_prob(z, post_mean, math.log(model.post_cov[0, 0]))
    )
    np.testing.assert_allclose(vae.iw_log_likelihood(lw), model.log_px(x), rtol=1e-10)
    np.testing.assert_allclose(vae.iw_log_likelihood(lw.T, axis=1), model.log_px(x), rtol=1e-10)


def test_chunked_estimate_equals_one_shot_estimate():
    rng = np.random.default_rng(5)
    lw = rng.normal(scale=20.0, size=(1037, 8)) - 500.0
    pos = {"i": 0}

    def draw(m):
        out = lw[pos["i"] : pos["i"] + m]
        pos["i"] += m
        return out

    chunked = vae.iw_log_likelihood_chunked(draw, k=1037, chunk_size=100)
    assert pos["i"] == 1037
    np.testing.assert_allclose(chunked, vae.iw_log_likelihood(lw), rtol=1e-13)
    with pytest.raises(ValueError, match="k must"):
        vae.iw_log_likelihood_chunked(draw, k=0)
    with pytest.raises(ValueError, match="2-D"):
        vae.iw_log_likelihood(np.zeros(5))


# --------------------------------------------------------------------------- latent plumbing


def test_latent_grid_and_slerp():
    grid = vae.latent_grid(5)
    assert grid.shape == (25, 2)
    np.testing.assert_allclose(grid[:5, 1], grid[0, 1])  # first row shares z2 (top of the plot)
    assert grid[0, 1] > grid[-1, 1] and grid[0, 0] < grid[4, 0]
    np.testing.assert_allclose(grid.mean(axis=0), 0.0, atol=1e-6)  # symmetric quantiles
    z0, z1 = np.array([3.0, 0.0, 0.0]), np.array([0.0, 3.0, 0.0])
    path = vae.slerp(z0, z1, 7)
    np.testing.assert_allclose(path[0], z0, atol=1e-6)
    np.testing.assert_allclose(path[-1], z1, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 3.0, rtol=1e-6)  # norm preserved
