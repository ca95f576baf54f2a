"""Checks of lecture 04's exercises (variational autoencoders: the ELBO, β, gradient estimators,
importance weights)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import optimize, special

from .. import vae
from . import ExerciseError, array, call, exercise, function, number, pair

# Probabilists' Gauss–Hermite rule: E f(ε) for ε ~ N(0, 1) is Σ_i w_i f(t_i), exact for polynomials
# of degree ≤ 2·60 − 1. Independent of any algebra with Gaussian moments.
_GH_T, _GH_W = np.polynomial.hermite_e.hermegauss(60)
_GH_W = _GH_W / math.sqrt(2.0 * math.pi)


def _gauss_mean(f: Callable[[np.ndarray], np.ndarray], mean: float, sd: float) -> float:
    """E f(z) for z ~ N(mean, sd²), by Gauss–Hermite quadrature."""
    return float(np.sum(_GH_W * f(mean + sd * _GH_T)))


# --------------------------------------------------------------------------- 04.1


def _elbo_by_quadrature(x: float, m: float, s: float, a: float, sigma: float) -> float:
    """E_q[log p(x, z) − log q(z)] for q = N(m, s²), p(z) = N(0, 1), p(x|z) = N(az, σ²), integrated on a
    fine grid (the trapezoidal rule on ±14 s: exponentially accurate for a Gaussian integrand)."""
    z = np.linspace(m - 14.0 * s, m + 14.0 * s, 40_001)
    log_q = -0.5 * np.log(2 * np.pi * s * s) - (z - m) ** 2 / (2 * s * s)
    log_joint = (
        -0.5 * np.log(2 * np.pi)
        - z**2 / 2
        - 0.5 * np.log(2 * np.pi * sigma**2)
        - (x - a * z) ** 2 / (2 * sigma**2)
    )
    return float(np.sum(np.exp(log_q) * (log_joint - log_q)) * (z[1] - z[0]))


@exercise(
    "04.1",
    wrong=(
        "def linear_gaussian_elbo(x, m, s, a, sigma):\n"
        "    # the decoder evaluated at the mean code only: the spread a²s² of a·z under q left out\n"
        "    rec = -0.5 * np.log(2 * np.pi * sigma**2) - (x - a * m) ** 2 / (2 * sigma**2)\n"
        "    kl = 0.5 * (s**2 + m**2 - 1 - np.log(s**2))\n"
        "    return float(rec - kl)\n"
    ),
)
def _linear_gaussian_elbo(linear_gaussian_elbo: Callable[..., float]) -> str:
    """The ELBO of q = N(m, s²) in the model z ~ N(0, 1), x | z ~ N(az, σ²), against the defining
    integral E_q[log p(x, z) − log q(z)] done numerically; also at the exact posterior, where it must
    equal log p(x) = log N(x; 0, a² + σ²)."""
    fn = function(linear_gaussian_elbo, "linear_gaussian_elbo")
    cases = [
        (1.0, 0.5, 0.8, 2.0, 0.5),
        (-2.0, -0.3, 0.2, 1.0, 1.0),
        (0.3, 0.0, 1.0, 1.5, 0.3),
        (3.0, 1.2, 0.05, 0.7, 2.0),
    ]
    for x, a, sigma in [(1.0, 2.0, 0.5), (-2.5, 0.6, 1.2)]:  # q = the exact posterior
        cases.append((x, a * x / (a * a + sigma * sigma), sigma / math.sqrt(a * a + sigma * sigma), a, sigma))
    for x, m, s, a, sigma in cases:
        shown = f"x = {x}, m = {m:.4g}, s = {s:.4g}, a = {a}, σ = {sigma}"
        got = number(
            call(fn, "linear_gaussian_elbo", x, m, s, a, sigma), f"linear_gaussian_elbo({x}, {m:.4g}, ...)"
        )
        want = _elbo_by_quadrature(x, m, s, a, sigma)
        if abs(got - want) <= 1e-7 * max(1.0, abs(want)):
            continue
        spread = a * a * s * s / (2 * sigma**2)
        kl_prior = 0.5 * (s * s + m * m - 1 - math.log(s * s))
        if abs(got - (want + spread)) < 1e-6 * max(1.0, abs(want)):
            hint = (
                f"Yours is too high by a²s²/(2σ²) = {spread:.4g}: under q, a·z has the variance a²s², so "
                "E_q[(x − az)²] = (x − am)² + a²s², not (x − am)²."
            )
        elif abs(got - (want + 2 * kl_prior)) < 1e-6 * max(1.0, abs(want)):
            hint = "Yours is the reconstruction term plus the KL: the ELBO subtracts KL(q ‖ p(z))."
        else:
            hint = (
                "Check each term: E_q[log p(x|z)] = −½ ln(2πσ²) − E_q[(x − az)²]/(2σ²), and KL(N(m, s²) ‖ N(0, 1)) "
                "from section 2.2 (with ln s², the log-variance)."
            )
        raise ExerciseError(
            f"at {shown} your ELBO is {got:.6g} nats; E_q[log p(x, z) − log q(z)], integrated numerically, is "
            f"{want:.6g}. {hint}"
        )
    x, a, sigma = 1.0, 2.0, 0.5
    m_post, s_post = a * x / (a * a + sigma**2), sigma / math.sqrt(a * a + sigma**2)
    log_px = -0.5 * math.log(2 * math.pi * (a * a + sigma**2)) - x * x / (2 * (a * a + sigma**2))
    at_post = float(call(fn, "linear_gaussian_elbo", x, m_post, s_post, a, sigma))
    at_prior = float(call(fn, "linear_gaussian_elbo", x, 0.0, 1.0, a, sigma))
    kl_post = float(vae.gaussian_kl(np.array([0.0]), np.array([0.0]), m_post, 2 * math.log(s_post)))
    return (
        f"your ELBO equals E_q[log p(x, z) − log q(z)] at {len(cases)} inputs. At x = 1, a = 2, σ = 0.5 it is "
        f"{at_post:.4f} at the exact posterior (m, s) = ({m_post:.4f}, {s_post:.4f}): log p(x) = {log_px:.4f}; "
        f"at q = p(z) it is {at_prior:.4f}, lower by {log_px - at_prior:.4f} = KL(q ‖ p(z|x)) = {kl_post:.4f}."
    )


# --------------------------------------------------------------------------- 04.2


def _beta_optimum(x: float, a: float, sigma: float, beta: float) -> tuple[float, float]:
    """argmax over (m, s) of E_q[log p(x|z)] − β KL(q ‖ N(0, 1)): the reconstruction term by Gauss–Hermite
    quadrature, the KL by lib.vae.gaussian_kl, maximised numerically over (m, ln s)."""

    def loss(params: np.ndarray) -> float:
        m, log_s = params
        rec = _gauss_mean(
            lambda z: -0.5 * np.log(2 * np.pi * sigma**2) - (x - a * z) ** 2 / (2 * sigma**2),
            m,
            math.exp(log_s),
        )
        return -(rec - beta * float(vae.gaussian_kl(np.array([m]), np.array([2.0 * log_s]))))

    fit = optimize.minimize(
        loss, np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 10_000}
    )
    return float(fit.x[0]), float(math.exp(fit.x[1]))


@exercise(
    "04.2",
    wrong=(
        "def beta_optimal_q(x, a, sigma, beta):\n"
        "    # the posterior under a prior sharpened to N(0, 1/β): β weighing the prior's term, not q's entropy\n"
        "    precision = beta + a**2 / sigma**2\n"
        "    return a * x / sigma**2 / precision, 1 / np.sqrt(precision)\n"
    ),
)
def _beta_optimal_q(beta_optimal_q: Callable[..., tuple[float, float]]) -> str:
    """The maximiser of the β-objective for q = N(m, s²) in the linear-Gaussian model, against a numerical
    maximisation of the objective (quadrature for the reconstruction, lib.vae for the KL)."""
    fn = function(beta_optimal_q, "beta_optimal_q")
    cases = [
        (1.0, 2.0, 0.5, 1.0),
        (1.0, 2.0, 0.5, 4.0),
        (-1.5, 1.0, 1.0, 0.5),
        (2.0, 0.5, 0.3, 10.0),
        (0.7, 1.2, 0.8, 0.1),
    ]
    for x, a, sigma, beta in cases:
        shown = f"x = {x}, a = {a}, σ = {sigma}, β = {beta}"
        m, s = pair(call(fn, "beta_optimal_q", x, a, sigma, beta), "beta_optimal_q", "(m, s)")
        m_ref, s_ref = _beta_optimum(x, a, sigma, beta)
        if abs(m - m_ref) <= 1e-6 * max(1.0, abs(m_ref)) and abs(s - s_ref) <= 1e-6:
            continue
        if abs(s - s_ref**2) < 1e-6 and abs(s_ref - 1.0) > 1e-3:
            hint = "Your s is the variance s²: return the standard deviation."
        elif abs(s - sigma / math.sqrt(a * a + beta * sigma**2)) < 1e-6 and beta != 1.0:
            hint = (
                "Your s is that of the posterior under a prior sharpened to N(0, 1/β). But β multiplies the whole "
                "KL, q's entropy −½ ln s² included: differentiate β·(s² − 1 − ln s²)/2 with respect to s²."
            )
        else:
            off = " and ".join(
                n
                for n, bad in (
                    ("m", abs(m - m_ref) > 1e-6 * max(1.0, abs(m_ref))),
                    ("s", abs(s - s_ref) > 1e-6),
                )
                if bad
            )
            hint = (
                f"Your {off} {'is' if len(off) == 1 else 'are'} off. Set ∂/∂m and ∂/∂s² of E_q[log p(x|z)] − β KL to "
                "zero, with E_q[(x − az)²] = (x − am)² + a²s² and KL = (s² + m² − 1 − ln s²)/2, then solve for m "
                "and for s²."
            )
        raise ExerciseError(
            f"at {shown} your q has m = {m:.6g}, s = {s:.6g}; the objective E_q[log p(x|z)] − β KL(q ‖ p(z)), "
            f"maximised numerically, peaks at m = {m_ref:.6g}, s = {s_ref:.6g}. {hint}"
        )
    m1, s1 = pair(call(fn, "beta_optimal_q", 1.0, 2.0, 0.5, 1.0), "beta_optimal_q", "(m, s)")
    m4, s4 = pair(call(fn, "beta_optimal_q", 1.0, 2.0, 0.5, 4.0), "beta_optimal_q", "(m, s)")
    m_big, s_big = pair(call(fn, "beta_optimal_q", 1.0, 2.0, 0.5, 1e4), "beta_optimal_q", "(m, s)")
    return (
        f"your q maximises the β-objective at {len(cases)} inputs. At x = 1, a = 2, σ = 0.5: β = 1 gives the exact "
        f"posterior N({m1:.4f}, {s1:.4f}²); β = 4 gives N({m4:.4f}, {s4:.4f}²), wider and nearer 0, the posterior "
        f"for noise variance βσ²; β = 10⁴ gives N({m_big:.4f}, {s_big:.4f}²), almost the prior."
    )


# --------------------------------------------------------------------------- 04.3


def _estimator_variances(mu: float, sigma: float, c: float) -> tuple[float, float]:
    """The variances of the pathwise and score-function one-sample estimators of ∂_μ E_q (z − c)²,
    q = N(μ, σ²), by Gauss–Hermite quadrature of the estimators and their squares."""

    def path(z: np.ndarray) -> np.ndarray:
        return 2.0 * (z - c)

    def score(z: np.ndarray) -> np.ndarray:
        return (z - c) ** 2 * (z - mu) / sigma**2

    out = []
    for g in (path, score):
        mean = _gauss_mean(g, mu, sigma)
        out.append(_gauss_mean(lambda z, g=g, mean=mean: (g(z) - mean) ** 2, mu, sigma))
    return out[0], out[1]


@exercise(
    "04.3",
    wrong=(
        "def gradient_variances(mu, sigma, c):\n"
        "    d = mu - c\n"
        "    # the score estimator's second moment E[g²], its squared mean (2d)² not subtracted\n"
        "    return 4 * sigma**2, 15 * sigma**2 + 18 * d**2 + d**4 / sigma**2\n"
    ),
)
def _gradient_variances(gradient_variances: Callable[..., tuple[float, float]]) -> str:
    """Var of 2(z − c) and of (z − c)²(z − μ)/σ² for z ~ N(μ, σ²), against Gauss–Hermite quadrature."""
    fn = function(gradient_variances, "gradient_variances")
    cases = [(0.0, 1.0, 3.0), (0.5, 0.3, 1.0), (-1.0, 2.0, 0.5), (2.0, 0.1, 2.0), (1.0, 0.05, 0.0)]
    for mu, sigma, c in cases:
        shown = f"μ = {mu}, σ = {sigma}, c = {c}"
        v_path, v_score = pair(
            call(fn, "gradient_variances", mu, sigma, c), "gradient_variances", "(var_path, var_score)"
        )
        ref_path, ref_score = _estimator_variances(mu, sigma, c)
        d = mu - c
        if abs(v_path - ref_path) > 1e-9 * ref_path:
            hint = (
                "you returned its second moment: subtract the square of its mean 2(μ − c)."
                if abs(v_path - (ref_path + 4 * d * d)) < 1e-9 * (ref_path + 4 * d * d)
                else "the pathwise estimator is f'(μ + σε) = 2(μ + σε − c): only σε in it is random."
            )
            raise ExerciseError(
                f"at {shown} your variance of the pathwise estimator is {v_path:.6g}; by quadrature over ε it is "
                f"{ref_path:.6g}: {hint}"
            )
        if abs(v_score - ref_score) > 1e-9 * ref_score:
            unscaled = sigma**2 * (15 * sigma**4 + 14 * sigma**2 * d * d + d**4)  # ∂_μ log q taken as z − μ
            if abs(v_score - (ref_score + 4 * d * d)) < 1e-9 * (ref_score + 4 * d * d):
                hint = "you returned its second moment E[g²]: subtract the square of its mean, (2(μ − c))²."
            elif abs(v_score - unscaled) < 1e-9 * unscaled:
                hint = "∂_μ log N(z; μ, σ²) = (z − μ)/σ², not z − μ."
            else:
                hint = (
                    "write z − c = σε + (μ − c) and ∂_μ log q = ε/σ, expand g = (σε + μ − c)² ε/σ in powers of ε, and "
                    "use E ε² = 1, E ε⁴ = 3, E ε⁶ = 15 (odd moments vanish)."
                )
            raise ExerciseError(
                f"at {shown} your variance of the score-function estimator is {v_score:.6g}; by quadrature over ε "
                f"it is {ref_score:.6g}: {hint}"
            )
    p0, s0 = _estimator_variances(0.0, 1.0, 3.0)
    p1, s1 = _estimator_variances(1.0, 0.05, 0.0)
    return (
        f"your variances agree with quadrature at {len(cases)} (μ, σ, c). At section 3.1's μ = 0, c = 3, σ = 1 the standard deviations are "
        f"{math.sqrt(p0):.2f} (pathwise) and {math.sqrt(s0):.2f} (score), a variance ratio of {s0 / p0:.1f}; "
        f"for a narrow q (σ = 0.05, μ − c = 1) the ratio is {s1 / p1:.3g}."
    )


# --------------------------------------------------------------------------- 04.4


def _snis(z: np.ndarray, log_w: np.ndarray, centre: str = "weighted") -> tuple[np.ndarray, np.ndarray, float]:
    """Self-normalised importance-sampling moments: the weights by scipy's softmax, the moments as
    weighted averages (np.average); ``centre="plain"`` centres the variance on the draws' plain mean."""
    w = special.softmax(log_w)
    mean = np.average(z, axis=0, weights=w)
    centre_at = mean if centre == "weighted" else z.mean(axis=0)
    var = np.average((z - centre_at) ** 2, axis=0, weights=w)
    return mean, var, float(1.0 / np.sum(w**2))


def _linear_gaussian_draws(k: int, seed: int) -> dict[str, np.ndarray]:
    """Draws from a Gaussian q for the 2-D model z ~ N(0, I), x | z ~ N(a ⊙ z, σ² I), one observation x: q
    is off the posterior's mean by half its standard deviation, with 0.8 (dimension 0, too narrow) and 1.5
    (dimension 1, too broad) times that standard deviation."""
    a, sigma, x = np.array([2.0, 0.5]), 0.5, np.array([1.0, -0.8])
    post_var = sigma**2 / (a**2 + sigma**2)
    post_mean = a * x / (a**2 + sigma**2)
    q_mean, q_sd = post_mean + 0.5 * np.sqrt(post_var), np.array([0.8, 1.5]) * np.sqrt(post_var)
    z = q_mean + q_sd * np.random.default_rng(seed).standard_normal((k, 2))
    log_joint = vae.normal_log_prob(z) + vae.normal_log_prob(x, a * z, np.log(sigma**2))
    log_w = log_joint - vae.normal_log_prob(z, q_mean, np.log(q_sd**2))
    return {"z": z, "log_w": log_w, "post_var": post_var, "q_var": q_sd**2}


def _moments(
    fn: Callable[..., Any], z: np.ndarray, log_w: np.ndarray, where: str
) -> tuple[np.ndarray, np.ndarray, float]:
    out = call(fn, "posterior_moments", z.copy(), log_w.copy())
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise ExerciseError(
            f"`posterior_moments` should return (mean, var, ess), got {type(out).__name__}: {out!r:.60}"
        )
    d = z.shape[1]
    for value, name in zip(out, ("mean", "var", "ess"), strict=True):
        if value is None or value is Ellipsis:
            continue  # the stub's: array() and number() below say so
        try:
            values = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, dtype=np.float64)
        except (TypeError, ValueError):
            continue  # not numbers (a stub's None or ...): array() and number() below say so
        if not np.all(np.isfinite(values)):
            why = (
                "exp of log-weights near −1000 is 0 in float64, and 0/0 is NaN. Subtract the largest log-weight "
                "before exponentiating: the ratios w_i/Σ_j w_j do not change."
                if np.max(log_w) < -700
                else "finite numbers are expected."
            )
            raise ExerciseError(f"{where}, your `{name}` is not finite ({values!r:.60}): {why}")
    return (
        array(out[0], "mean", (d,)),
        array(out[1], "var", (d,)),
        number(out[2], "ess"),
    )


@exercise(
    "04.4",
    wrong=(
        "def posterior_moments(z, log_w):\n"
        "    w = np.exp(log_w - np.max(log_w))\n"
        "    w = w / w.sum()\n"
        "    mean = w @ z\n"
        "    var = w @ (z - z.mean(axis=0)) ** 2  # centred on the draws' plain mean, not the weighted one\n"
        "    return mean, var, 1.0 / np.sum(w**2)\n"
    ),
)
def _posterior_moments(posterior_moments: Callable[..., Any]) -> str:
    """Self-normalised importance-sampling mean, variance and effective sample size, against the same
    quantities computed with scipy's softmax and np.average on three sets of draws: equal weights, a
    linear-Gaussian posterior, and log-weights near −1000."""
    fn = function(posterior_moments, "posterior_moments")
    rng = np.random.default_rng(4)
    equal_z = rng.normal(size=(50, 3)) * [0.5, 1.0, 2.0] + [1.0, -1.0, 0.0]
    model = _linear_gaussian_draws(20_000, seed=7)
    far_z = rng.normal(size=(400, 3)) * [0.5, 1.0, 2.0] + [1.0, -1.0, 0.0]
    far_log_w = -1000.0 + 2.0 * rng.normal(size=400) - 0.5 * far_z[:, 0]
    cases = [
        ("with 50 equal log-weights (all 5.0)", equal_z, np.full(50, 5.0)),
        ("for 20 000 draws of q on a 2-D linear-Gaussian posterior", model["z"], model["log_w"]),
        ("for 400 log-weights near −1000", far_z, far_log_w),
    ]
    for where, z, log_w in cases:
        mean, var, ess = _moments(fn, z, log_w, where)
        mean_ref, var_ref, ess_ref = _snis(z, log_w)
        k = len(z)
        if np.any(np.abs(mean - mean_ref) > 1e-9 * np.maximum(1.0, np.abs(mean_ref))):
            dim = int(np.argmax(np.abs(mean - mean_ref)))
            hint = (
                "that is the plain mean of the draws: weigh each draw by w̃_i."
                if np.allclose(mean, z.mean(axis=0), rtol=1e-9, atol=1e-12)
                else "weigh the draws by w̃_i = w_i/Σ_j w_j, which sum to one."
            )
            raise ExerciseError(
                f"{where}, your posterior mean along dimension {dim} is {mean[dim]:.6g}; Σ_i w̃_i z_id is "
                f"{mean_ref[dim]:.6g}: {hint}"
            )
        if np.any(np.abs(var - var_ref) > 1e-9 * var_ref):
            dim = int(np.argmax(np.abs(var - var_ref) / var_ref))
            plain_centre = _snis(z, log_w, centre="plain")[1]
            if np.allclose(var, plain_centre, rtol=1e-9, atol=0.0):
                hint = "you centred on the draws' plain mean: centre on the weighted mean z̄_d."
            elif np.allclose(var, var_ref * k / (k - 1), rtol=1e-9, atol=0.0):
                hint = "the definition has no k/(k − 1) correction: v_d = Σ_i w̃_i (z_id − z̄_d)²."
            elif np.allclose(var, np.var(z, axis=0), rtol=1e-9, atol=0.0):
                hint = "that is the plain variance of the draws: weigh each squared deviation by w̃_i."
            else:
                hint = "v_d = Σ_i w̃_i (z_id − z̄_d)², with the normalised weights and the weighted mean."
            raise ExerciseError(
                f"{where}, your posterior variance along dimension {dim} is {var[dim]:.6g}; "
                f"Σ_i w̃_i (z_id − z̄_d)² is {var_ref[dim]:.6g}: {hint}"
            )
        if abs(ess - ess_ref) > 1e-9 * ess_ref:
            hint = (
                "that is Σ w̃_i², not its inverse."
                if abs(ess * ess_ref - 1.0) < 1e-9
                else f"ESS = 1/Σ_i w̃_i², with the normalised weights (equal weights give k = {k})."
            )
            raise ExerciseError(
                f"{where}, your effective sample size is {ess:.6g}; 1/Σ_i w̃_i² is {ess_ref:.6g}: {hint}"
            )
    _, var, ess = _moments(fn, model["z"], model["log_w"], cases[1][0])
    post, q_var = model["post_var"], model["q_var"]
    return (
        "your moments and ESS agree with the reference on 3 sets of draws (equal weights give ESS = k and the "
        f"plain variance). On the 2-D posterior, variances ({post[0]:.4f}, {post[1]:.4f}), from q with variances "
        f"({q_var[0]:.4f}, {q_var[1]:.4f}): your estimates ({var[0]:.4f}, {var[1]:.4f}), ESS {ess:.0f} of 20 000."
    )
