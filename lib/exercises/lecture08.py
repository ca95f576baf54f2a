"""Checks of lecture 08's exercises (score-based and diffusion models)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from . import ExerciseError, array, call, exercise, function

# --------------------------------------------------------------------------- 08.1 Tweedie's denoiser

_MIXTURES = [  # (weights, means, stds) of 1-D Gaussian mixtures
    ([0.3, 0.7], [-2.0, 1.0], [0.5, 0.5]),
    ([0.2, 0.5, 0.3], [-3.0, 0.0, 2.5], [0.3, 0.8, 0.2]),
]
_SIGMAS = [0.1, 0.5, 2.0]


def _denoiser_by_quadrature(x_noisy: np.ndarray, sigma: float, weights, means, stds) -> np.ndarray:
    """E[x | x̃] = ∫ x p(x) N(x̃; x, σ²) dx / ∫ p(x) N(x̃; x, σ²) dx on a fine grid (log-weights, so that
    nothing underflows). The integrands are smooth Gaussians well inside [−15, 15], where a uniform
    Riemann sum is accurate to machine precision."""
    w, m, s = (np.asarray(a, dtype=np.float64) for a in (weights, means, stds))
    grid = np.linspace(-15.0, 15.0, 60_001)  # spacing 5e-4, far below every width involved
    log_p = np.logaddexp.reduce(
        np.log(w)[:, None] - np.log(s)[:, None] - (grid - m[:, None]) ** 2 / (2 * s[:, None] ** 2), axis=0
    )
    log_joint = log_p[None] - (x_noisy[:, None] - grid[None]) ** 2 / (2 * sigma**2)  # (n, grid)
    weight = np.exp(log_joint - log_joint.max(1, keepdims=True))
    return (weight * grid).sum(1) / weight.sum(1)


def _denoiser_variant(
    x_noisy: np.ndarray, sigma: float, weights, means, stds, *, resp_var: str, shrink: str
) -> np.ndarray:
    """Σ_k r_k(x̃) E[x | x̃, k] with the responsibilities' variance and the shrinkage chosen: the
    right answer and the likely mistakes, to name the mistake in the message."""
    w, m, s = (np.asarray(a, dtype=np.float64) for a in (weights, means, stds))
    var = s**2 + sigma**2 if resp_var == "noised" else s**2
    log_r = np.log(w) - 0.5 * np.log(var) - (x_noisy[:, None] - m) ** 2 / (2 * var)
    r = np.exp(log_r - log_r.max(1, keepdims=True))
    r /= r.sum(1, keepdims=True)
    if shrink == "right":  # E[x | x̃, k] = m_k + s_k²/(s_k² + σ²) (x̃ − m_k)
        gain = s**2 / (s**2 + sigma**2)
    elif shrink == "swapped":
        gain = sigma**2 / (s**2 + sigma**2)
    else:  # "none": E[x | x̃, k] taken as m_k
        gain = np.zeros_like(s)
    return (r * (m + gain * (x_noisy[:, None] - m))).sum(1)


@exercise(
    "08.1",
    wrong=(
        "def denoiser(x_noisy, sigma, weights, means, stds):\n"
        "    # the responsibilities computed with the clean widths s_k, not the noised ones\n"
        "    x = np.asarray(x_noisy, dtype=float)[:, None]\n"
        "    w, m, s = np.asarray(weights), np.asarray(means), np.asarray(stds)\n"
        "    r = w / s * np.exp(-((x - m) ** 2) / (2 * s**2))\n"
        "    r = r / r.sum(1, keepdims=True)\n"
        "    return np.sum(r * (m + s**2 / (s**2 + sigma**2) * (x - m)), 1)\n"
    ),
)
def _denoiser(denoiser: Callable[..., np.ndarray]) -> str:
    """The posterior mean E[x | x̃] of a 1-D Gaussian mixture noised by N(0, σ²), against the same
    mean by brute-force quadrature over x."""
    fn = function(denoiser, "denoiser")
    x_noisy = np.linspace(-5.0, 5.0, 21)
    worst, case = 0.0, None
    for weights, means, stds in _MIXTURES:
        for sigma in _SIGMAS:
            got = array(
                call(fn, "denoiser", x_noisy.copy(), sigma, list(weights), list(means), list(stds)),
                f"denoiser(x_noisy, {sigma}, ...)",
                shape=x_noisy.shape,
            )
            want = _denoiser_by_quadrature(x_noisy, sigma, weights, means, stds)
            err = float(np.abs(got - want).max())
            if err >= worst:
                worst, case = err, (weights, means, stds, sigma, got, want)
    if worst > 1e-8:  # report the input that disagrees most
        weights, means, stds, sigma, got, want = case
        i = int(np.argmax(np.abs(got - want)))
        hint = (
            "Given component k, x̃ is N(m_k, s_k² + σ²), which fixes the responsibilities r_k(x̃); "
            "given k, x and x̃ are jointly Gaussian, which fixes E[x | x̃, k]."
        )
        for (resp_var, shrink), why in {
            ("clean", "right"): "Your responsibilities use the clean widths s_k: the noised point x̃ "
            "comes from component k with the density N(x̃; m_k, s_k² + σ²).",
            ("noised", "none"): "You return the responsibility-weighted means Σ r_k m_k: within a "
            "component the posterior mean is m_k + s_k²/(s_k² + σ²) (x̃ − m_k), not m_k.",
            ("noised", "swapped"): "Your shrinkage factor is σ²/(s_k² + σ²): within a component the "
            "posterior mean moves from m_k towards x̃ by the fraction s_k²/(s_k² + σ²).",
        }.items():
            variant = _denoiser_variant(
                x_noisy, sigma, weights, means, stds, resp_var=resp_var, shrink=shrink
            )
            if np.abs(got - variant).max() < 1e-6:
                hint = why
        raise ExerciseError(
            f"for the mixture with weights {weights}, means {means}, stds {stds}, noised with σ = {sigma}: "
            f"your E[x | x̃ = {x_noisy[i]:g}] is {got[i]:.6f}; the posterior mean by quadrature, "
            f"∫ x p(x) N(x̃; x, σ²) dx / ∫ p(x) N(x̃; x, σ²) dx, is {want[i]:.6f}. {hint}"
        )
    w, m, s = _MIXTURES[0]
    at_zero = _denoiser_by_quadrature(np.array([0.0]), 0.5, w, m, s)[0]
    return (
        f"equal to the posterior mean by quadrature at 21 points × {len(_MIXTURES)} mixtures × {len(_SIGMAS)} "
        f"noise levels (largest difference {worst:.1e}); e.g. E[x | x̃ = 0] = {at_zero:.4f} for the first "
        "mixture at σ = 0.5, pulled towards its heavier mode at 1."
    )


# --------------------------------------------------------------------------- 08.2 the full-covariance ε̂


def _covariances() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(description, μ, Σ): a full-rank covariance, one of rank 2, and one with a constant coordinate."""
    rng = np.random.default_rng(8)
    a = rng.normal(size=(3, 3))
    b = rng.normal(size=(5, 2)) * 0.7
    c = rng.normal(size=(4, 4)) * 0.5
    c[2] = 0.0  # the third coordinate never changes: its row and column of Σ vanish
    return [
        ("the full-rank 3×3 covariance", rng.normal(size=3), a @ a.T + 0.1 * np.eye(3)),
        ("the 5×5 covariance of rank 2", rng.normal(size=5), b @ b.T),
        ("the 4×4 covariance whose third coordinate never changes", rng.normal(size=4), c @ c.T),
    ]


def _eps_by_score(xt: np.ndarray, alpha_bar: float, mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """−√(1 − ᾱ) ∇ log q_t(x_t), the score by autograd of the log density of
    q_t = N(√ᾱ μ, ᾱ Σ + (1 − ᾱ) I) (a Cholesky factorisation inside torch)."""
    d = len(mu)
    q_t = torch.distributions.MultivariateNormal(
        torch.as_tensor(np.sqrt(alpha_bar) * mu),
        covariance_matrix=torch.as_tensor(alpha_bar * cov + (1 - alpha_bar) * np.eye(d)),
    )
    x = torch.as_tensor(xt).clone().requires_grad_(True)
    (score,) = torch.autograd.grad(q_t.log_prob(x).sum(), x)
    return -np.sqrt(1 - alpha_bar) * score.numpy()


@exercise(
    "08.2",
    wrong=(
        "def gaussian_eps_full(xt, alpha_bar, mu, cov):\n"
        "    # x_t centred on the data's mean μ instead of its own mean √ᾱ μ\n"
        "    m = alpha_bar * cov + (1 - alpha_bar) * np.eye(len(mu))\n"
        "    return np.sqrt(1 - alpha_bar) * np.linalg.solve(m, (xt - mu).T).T\n"
    ),
)
def _gaussian_eps_full(gaussian_eps_full: Callable[..., np.ndarray]) -> str:
    """The exact ε̂ = E[ε | x_t] of Gaussian data N(μ, Σ), against −√(1 − ᾱ) times the score of the
    noised density, by autograd of its log density."""
    fn = function(gaussian_eps_full, "gaussian_eps_full")
    rng = np.random.default_rng(80)
    worst, case = 0.0, None
    for what, mu, cov in _covariances():
        d = len(mu)
        for alpha_bar in (0.98, 0.5, 0.02):
            x0 = mu + rng.normal(size=(4, d)) @ np.linalg.cholesky(cov + 1e-12 * np.eye(d)).T
            xt = np.sqrt(alpha_bar) * x0 + np.sqrt(1 - alpha_bar) * rng.normal(size=(4, d))  # (4, d) ~ q_t
            got = array(
                call(fn, "gaussian_eps_full", xt.copy(), alpha_bar, mu.copy(), cov.copy()),
                f"gaussian_eps_full(xt, {alpha_bar}, mu, cov)",
                shape=xt.shape,
            )
            want = _eps_by_score(xt, alpha_bar, mu, cov)
            err = float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))
            if err >= worst:
                worst, case = err, (what, mu, cov, alpha_bar, xt, got, want)
    if worst > 1e-8:  # report the input that disagrees most
        what, mu, cov, alpha_bar, xt, got, want = case
        i = int(np.argmax(np.abs(got - want).max(1)))
        m = alpha_bar * cov + (1 - alpha_bar) * np.eye(len(mu))
        centred = xt - np.sqrt(alpha_bar) * mu
        diagonal = alpha_bar * np.diag(cov) + 1 - alpha_bar
        hint = (
            "x_t ~ N(√ᾱ μ, ᾱΣ + (1 − ᾱ) I), and ε̂ = E[ε | x_t] = −√(1 − ᾱ) ∇ log q_t(x_t) "
            "(Tweedie's formula written for ε)."
        )
        for variant, why in [
            (
                np.sqrt(1 - alpha_bar) * np.linalg.solve(m, (xt - mu).T).T,
                "You centred x_t on μ: its mean is √ᾱ μ, the data's mean shrunk with the signal.",
            ),
            (
                np.sqrt(1 - alpha_bar) * centred / diagonal,
                "That is the independent-pixel predictor: it keeps only the diagonal of Σ.",
            ),
            (
                np.linalg.solve(m, centred.T).T,
                "The factor √(1 − ᾱ) in front is missing (ε̂ = −√(1 − ᾱ) × the score).",
            ),
            (
                -np.sqrt(1 - alpha_bar) * np.linalg.solve(m, centred.T).T,
                "The sign is wrong: ε̂ points away from the mean, like the noise that moved x_t there.",
            ),
            (
                np.sqrt(1 - alpha_bar) * np.linalg.solve(alpha_bar * cov + np.eye(len(mu)), centred.T).T,
                "The noise's covariance is (1 − ᾱ) I, not I: Cov(x_t) = ᾱΣ + (1 − ᾱ) I.",
            ),
        ]:
            if np.abs(got - variant).max() < 1e-6 * max(1.0, float(np.abs(variant).max())):
                hint = why
        raise ExerciseError(
            f"with {what} at ᾱ = {alpha_bar}, for x_t = {np.round(xt[i], 3)} your ε̂ is "
            f"{np.round(got[i], 5)}; −√(1 − ᾱ) ∇ log q_t(x_t), with q_t = N(√ᾱ μ, ᾱΣ + (1 − ᾱ) I), is "
            f"{np.round(want[i], 5)}. {hint}"
        )
    return (
        "ε̂ = √(1 − ᾱ) (ᾱΣ + (1 − ᾱ) I)⁻¹ (x_t − √ᾱ μ) equals −√(1 − ᾱ) ∇ log q_t(x_t) at 3 covariances "
        f"(two of them singular) × 3 values of ᾱ (largest difference {worst:.1e})."
    )


# --------------------------------------------------------------------------- 08.3 the probability-flow ODE

_ODE_CASES = [  # (μ, v, ᾱ_from, ᾱ_to)
    (0.0, 0.3, 0.01, 0.9),
    (0.5, 0.1, 0.95, 0.2),
    (-1.0, 2.0, 0.3, 1.0),
    (0.4, 1.0, 0.5, 0.7),
    (0.0, 0.05, 0.001, 0.999),
]


def _pf_ode_rk4(x: np.ndarray, a_from: float, a_to: float, mu: float, v: float, n: int = 6000) -> np.ndarray:
    """The probability-flow ODE dx/du = −½β(x + ∇ log q(x)) integrated numerically (RK4). In the time
    λ = log ᾱ (dλ/du = −β) it reads dx/dλ = ½ (x + ∇ log q_λ(x)), whatever the schedule β(u), with
    q_λ = N(√ᾱ μ, ᾱ v + 1 − ᾱ)."""

    def rhs(lam: float, x: np.ndarray) -> np.ndarray:
        ab = np.exp(lam)
        return 0.5 * (x - (x - np.sqrt(ab) * mu) / (ab * v + 1 - ab))

    lam, h = np.log(a_from), (np.log(a_to) - np.log(a_from)) / n
    x = np.array(x, dtype=np.float64)
    for _ in range(n):
        k1 = rhs(lam, x)
        k2 = rhs(lam + h / 2, x + h / 2 * k1)
        k3 = rhs(lam + h / 2, x + h / 2 * k2)
        k4 = rhs(lam + h, x + h * k3)
        x, lam = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), lam + h
    return x


@exercise(
    "08.3",
    wrong=(
        "def pf_ode_map(x, alpha_bar_from, alpha_bar_to, mu, v):\n"
        "    # one DDIM step (η = 0) from ᾱ_from to ᾱ_to, taken for the ODE's exact flow\n"
        "    a, b = alpha_bar_from, alpha_bar_to\n"
        "    eps = np.sqrt(1 - a) * (x - np.sqrt(a) * mu) / (a * v + 1 - a)\n"
        "    x0 = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)\n"
        "    return np.sqrt(b) * x0 + np.sqrt(1 - b) * eps\n"
    ),
)
def _pf_ode_map(pf_ode_map: Callable[..., np.ndarray]) -> str:
    """The exact flow of the probability-flow ODE for Gaussian data, against the ODE integrated
    numerically (RK4 in log ᾱ, 6000 steps: accurate to 1e-10 or better)."""
    fn = function(pf_ode_map, "pf_ode_map")
    x = np.linspace(-3.0, 3.0, 7)
    worst, case = 0.0, None
    for mu, v, a, b in _ODE_CASES:
        got = array(
            call(fn, "pf_ode_map", x.copy(), a, b, mu, v), f"pf_ode_map(x, {a}, {b}, {mu}, {v})", x.shape
        )
        want = _pf_ode_rk4(x, a, b, mu, v)
        err = float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))
        if err >= worst:
            worst, case = err, (mu, v, a, b, got, want)
    if worst > 1e-8:  # report the input that disagrees most
        mu, v, a, b, got, want = case
        i = int(np.argmax(np.abs(got - want)))
        va, vb = a * v + 1 - a, b * v + 1 - b
        gain = (np.sqrt(a * b) * v + np.sqrt((1 - a) * (1 - b))) / va
        hint = (
            "Write the ODE with ᾱ (or log ᾱ) as the time, dᾱ/du = −β ᾱ, and follow z = x − √ᾱ μ, the "
            "distance from the current mean."
        )
        for variant, why in [
            (
                np.sqrt(b) * mu + gain * (x - np.sqrt(a) * mu),
                "That is one DDIM step (η = 0), an Euler step of the ODE: the exact flow moves the points "
                "further from the mean, to the target's spread.",
            ),
            (
                np.sqrt(b) * mu + vb / va * (x - np.sqrt(a) * mu),
                "You scaled the distance from the mean by the ratio of variances V_to/V_from: a "
                "distance scales with the standard deviation, √(V_to/V_from).",
            ),
            (
                np.sqrt(b / a) * x,
                "You only rescaled the signal by √(ᾱ_to/ᾱ_from): the score term moves the noise too.",
            ),
        ]:
            if np.abs(got - variant).max() < 1e-6 * max(1.0, float(np.abs(variant).max())):
                hint = why
        raise ExerciseError(
            f"for data N(μ = {mu}, v = {v}) carried from ᾱ = {a} to ᾱ = {b}, your map sends x = {x[i]:g} to "
            f"{got[i]:.6f}; the probability-flow ODE integrated numerically ends at {want[i]:.6f}. {hint}"
        )
    mu, v, a, b = _ODE_CASES[0]
    return (
        f"the exact flow matches the ODE integrated numerically in {len(_ODE_CASES)} cases, both ways in time "
        f"(largest difference {worst:.1e}); e.g. from ᾱ = {a} to {b} with v = {v} the spread scales by "
        f"{np.sqrt((b * v + 1 - b) / (a * v + 1 - a)):.4f}, where one DDIM step gives "
        f"{(np.sqrt(a * b) * v + np.sqrt((1 - a) * (1 - b))) / (a * v + 1 - a):.4f}."
    )
