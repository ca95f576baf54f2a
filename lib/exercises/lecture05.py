"""Checks of lecture 05's exercises (a convolutional VAE in Keras: importance weights, β, the
continuous Bernoulli)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .. import vae
from . import ExerciseError, array, call, exercise, function

_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------- 05.1 importance weights


def _linear_gaussian_log_weights(
    x: float, eps: np.ndarray, mu: float, logvar: float, w: float, s: float
) -> np.ndarray:
    """log p(x|z) + log p(z) − log q(z|x) at z = mu + exp(logvar/2) eps, each density evaluated at z
    (not in the ε-form): p(x|z) = N(x; w z, s²), p(z) = N(0, 1), q = N(mu, exp(logvar))."""
    z = (mu + np.exp(0.5 * logvar) * eps)[:, None]  # (k, 1)
    log_px_z = vae.normal_log_prob(np.full_like(z, x), w * z, 2.0 * math.log(s))
    log_pz = vae.normal_log_prob(z)
    log_qz = vae.normal_log_prob(z, mu, logvar)
    return log_px_z + log_pz - log_qz


def _log_evidence(x: float, w: float, s: float) -> float:
    """log p(x) = log N(x; 0, w² + s²), the linear-Gaussian model's exact evidence."""
    var = w * w + s * s
    return -0.5 * (x * x / var + _LOG_2PI + math.log(var))


@exercise(
    "05.1",
    wrong=(
        "def log_weights(x, eps, mu, logvar, w, s):\n"
        "    # the density of ε taken for that of z: the Jacobian dz/dε = exp(logvar/2) forgotten\n"
        "    z = mu + np.exp(0.5 * logvar) * eps\n"
        "    log_px_z = -0.5 * ((x - w * z) ** 2 / s**2 + np.log(2 * np.pi * s**2))\n"
        "    log_pz = -0.5 * (z**2 + np.log(2 * np.pi))\n"
        "    log_qz = -0.5 * (eps**2 + np.log(2 * np.pi))\n"
        "    return log_px_z + log_pz - log_qz\n"
    ),
)
def _log_weights(log_weights: Callable[..., np.ndarray]) -> str:
    """The importance log-weights of the linear-Gaussian model, against the three Gaussian densities
    evaluated at z directly (``lib.vae.normal_log_prob``), at draws ε of a seeded generator."""
    fn = function(log_weights, "log_weights")
    rng = np.random.default_rng(5)
    cases = [  # x, mu, logvar, w, s
        (1.3, 0.2, -0.7, 1.5, 0.5),
        (-0.4, -1.0, 0.6, 2.0, 1.0),
        (2.5, 0.9, -2.0, 0.8, 0.3),
        (0.0, 0.0, 0.0, 1.0, 1.0),
    ]
    for x, mu, logvar, w, s in cases:
        eps = rng.normal(size=6)
        shown = f"log_weights({x}, eps, {mu}, {logvar}, {w}, {s})"
        got = array(call(fn, "log_weights", x, eps.copy(), mu, logvar, w, s), shown, shape=eps.shape)
        want = _linear_gaussian_log_weights(x, eps, mu, logvar, w, s)
        diff = got - want
        if np.max(np.abs(diff)) <= 1e-9 * max(1.0, float(np.max(np.abs(want)))):
            continue
        where = (
            f"at x = {x}, μ = {mu}, ℓ = {logvar}, w = {w}, s = {s} and ε = {np.round(eps[:3], 3)}…, your "
            f"log-weights are {np.round(got[:3], 5)}…; log p(x|z) + log N(z; 0, 1) − log N(z; μ, e^ℓ) at "
            f"z = μ + e^(ℓ/2) ε is {np.round(want[:3], 5)}…"
        )
        if np.ptp(diff) < 1e-9 * max(1.0, abs(float(diff[0]))):
            if logvar != 0 and abs(diff[0] + logvar / 2) < 1e-9:
                hint = (
                    "They differ by −ℓ/2 for every draw: log q(z|x) is the log-density of z, not of ε, "
                    "and the change of variables z = μ + σε costs the Jacobian: "
                    "log N(z; μ, σ²) = log N(ε; 0, 1) − log σ, with log σ = ℓ/2."
                )
            else:
                hint = (
                    f"They differ by the same {diff[0]:.6g} for every draw: a normalising constant "
                    "(log 2π, log s² or ℓ) is missing, doubled or has the wrong sign."
                )
        else:
            hint = (
                "The difference varies from draw to draw: check z = μ + e^(ℓ/2) ε, the decoder's mean w z "
                "and variance s², and the sign of each term."
            )
        raise ExerciseError(f"{where}. {hint}")

    # Why it matters: at the exact posterior every weight is p(x), and L_k = log p(x) for every k; a q
    # with twice the posterior's variance has the ELBO log p(x) − KL(q ‖ p(z|x)), and L_k is close to
    # log p(x).
    x, w, s = 1.3, 1.5, 0.5
    post_mu, post_logvar = w * x / (w * w + s * s), math.log(s * s / (w * w + s * s))
    exact = array(
        call(fn, "log_weights", x, rng.normal(size=1000), post_mu, post_logvar, w, s), "log_weights(...)"
    )
    wide_logvar = post_logvar + math.log(2.0)
    wide = array(
        call(fn, "log_weights", x, rng.normal(size=20_000), post_mu, wide_logvar, w, s), "log_weights(...)"
    )
    log_px = _log_evidence(x, w, s)
    elbo = log_px - float(vae.gaussian_kl(np.array([post_mu]), np.array([wide_logvar]), post_mu, post_logvar))
    return (
        f"equal to the densities evaluated directly at 4 settings. At x = {x}, w = {w}, s = {s}: with q the "
        f"exact posterior all 1000 log-weights equal log p(x) = {log_px:.4f} (spread {np.ptp(exact):.0e}); "
        f"with q of twice the posterior's variance, 20 000 of them average {wide.mean():.3f} ± "
        f"{wide.std() / math.sqrt(wide.size):.3f}, "
        f"the ELBO log p(x) − KL(q ‖ p(z|x)) = {elbo:.3f}, and L_1000 of the first 1000 is "
        f"{float(vae.log_mean_exp(wide[:1000])):.3f} (below log p(x) on average only)."
    )


# --------------------------------------------------------------------------- 05.2 β


def _beta_objective(m: float, log_v: float, x: float, w: float, s: float, beta: float) -> float:
    """E_q[log N(x; w z, s²)] − β KL(N(m, v) ‖ N(0, 1)) with the expectation by Gauss–Hermite
    quadrature (exact for this quadratic integrand) and the KL from ``lib.vae.gaussian_kl``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(8)  # ∫ f(t) e^(−t²/2) dt
    z = m + math.exp(0.5 * log_v) * nodes
    log_lik = -0.5 * ((x - w * z) ** 2 / (s * s) + _LOG_2PI + 2.0 * math.log(s))
    expected = float(np.sum(weights * log_lik) / math.sqrt(2.0 * math.pi))
    kl = float(vae.gaussian_kl(np.array([m]), np.array([log_v])))
    return expected - beta * kl


def _beta_maximiser(x: float, w: float, s: float, beta: float) -> tuple[float, float]:
    """The maximiser (m, v) of the β-objective by coordinate ascent from the prior (m, log v) = (0, 0):
    each coordinate in turn set to the root of its central-difference partial derivative (found by
    bisection), until a sweep moves neither by more than 1e-10."""

    def objective(p: np.ndarray) -> float:
        return _beta_objective(p[0], p[1], x, w, s, beta)

    def partial(p: np.ndarray, i: int, h: float = 1e-5) -> float:
        step = np.zeros(2)
        step[i] = h
        return (objective(p + step) - objective(p - step)) / (2.0 * h)

    p = np.zeros(2)
    for _ in range(100):
        before = p.copy()
        for i in (0, 1):
            lo, hi = p.copy(), p.copy()
            width = 1.0
            lo[i], hi[i] = p[i] - width, p[i] + width
            while partial(lo, i) < 0 or partial(hi, i) > 0:  # concave: bracket where ∂ changes sign
                width *= 2.0
                lo[i], hi[i] = p[i] - width, p[i] + width
            for _ in range(200):
                mid = (lo + hi) / 2.0
                if mid[i] in (lo[i], hi[i]):
                    break
                if partial(mid, i) > 0:
                    lo = mid
                else:
                    hi = mid
            p[i] = (lo[i] + hi[i]) / 2.0
        if np.max(np.abs(p - before)) < 1e-10:
            break
    return float(p[0]), math.exp(float(p[1]))


@exercise(
    "05.2",
    wrong=(
        "def beta_posterior(x, w, s, beta):\n"
        "    # β put on the reconstruction term instead of the KL: maximises β E_q[log p(x|z)] − KL\n"
        "    m = beta * w * x / (beta * w**2 + s**2)\n"
        "    v = s**2 / (beta * w**2 + s**2)\n"
        "    return m, v\n"
    ),
)
def _beta_posterior(beta_posterior: Callable[..., tuple[float, float]]) -> str:
    """The β-optimal Gaussian q of the linear-Gaussian model, against the β-objective maximised
    numerically (coordinate ascent on (m, log v), the expectation by quadrature, the KL by ``lib.vae``)."""
    fn = function(beta_posterior, "beta_posterior")
    for x, w, s, beta in [
        (1.0, 2.0, 0.5, 1.0),
        (-1.5, 1.0, 1.0, 4.0),
        (2.0, 0.7, 0.3, 0.25),
        (0.8, 1.5, 0.8, 2.0),
    ]:
        shown = f"beta_posterior({x}, {w}, {s}, {beta})"
        got_m, got_v = array(call(fn, "beta_posterior", x, w, s, beta), shown, shape=(2,))
        m, v = _beta_maximiser(x, w, s, beta)

        def near(pair: tuple[float, float], ref: tuple[float, float], rtol: float = 1e-8) -> bool:
            return all(abs(a - b) <= rtol * max(1.0, abs(b)) for a, b in zip(pair, ref, strict=True))

        if near((got_m, got_v), (m, v)):
            continue
        if near((got_m, got_v), (m, math.log(v))):
            hint = "Your second number is log v: return the variance v itself."
        elif beta == 1.0:
            hint = "At β = 1 the maximiser is the exact posterior p(z|x) ∝ N(x; w z, s²) N(z; 0, 1)."
        elif near((got_m, got_v), (w * x / (w * w + s * s), s * s / (w * w + s * s))):
            hint = "Yours is the exact posterior p(z|x), which maximises the objective at β = 1 only."
        elif near((got_m, got_v), (beta * w * x / (beta * w * w + s * s), s * s / (beta * w * w + s * s))):
            hint = (
                "Yours maximises β E_q[log p(x|z)] − KL: β weights the KL term, so a larger β pulls q "
                "towards the prior N(0, 1)."
            )
        else:
            hint = (
                "Write E_q[log p(x|z)] = −[(x − w m)² + w² v]/(2s²) + const and "
                "KL = (v + m² − 1 − log v)/2, then set both derivatives to zero."
            )
        raise ExerciseError(
            f"at x = {x}, w = {w}, s = {s}, β = {beta} your q is N(m = {got_m:.6g}, v = {got_v:.6g}); the "
            f"maximiser of E_q[log p(x|z)] − β KL(q ‖ N(0, 1)), found numerically, is "
            f"N(m = {m:.6g}, v = {v:.6g}). {hint}"
        )
    x, w, s = 1.0, 1.0, 0.5
    (m1, v1), (m4, v4) = (
        array(call(fn, "beta_posterior", x, w, s, b), "beta_posterior(...)") for b in (1.0, 4.0)
    )
    return (
        f"the β-objective's maximiser at 4 settings; at x = {x}, w = {w}, s = {s}, β = 4 moves q from the "
        f"exact posterior N({m1:.3g}, {v1:.3g}) to N({m4:.3g}, {v4:.3g}), the exact posterior of a decoder "
        "whose noise variance is β s² instead of s²."
    )


# --------------------------------------------------------------------------- 05.3 continuous Bernoulli


def _cb_by_quadrature(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log C(λ) and the mean of the continuous Bernoulli, with ∫₀¹ λ^x (1−λ)^(1−x) dx and
    ∫₀¹ x λ^x (1−λ)^(1−x) dx by 64-point Gauss–Legendre quadrature (the integrands are entire
    functions of x: exact to round-off for the λ tested)."""
    t, wt = np.polynomial.legendre.leggauss(64)
    x, wt = (t + 1.0) / 2.0, wt / 2.0  # nodes and weights on [0, 1]
    density = np.exp(np.outer(np.log(lam), x) + np.outer(np.log1p(-lam), 1.0 - x))  # (n, 64)
    norm = density @ wt
    return -np.log(norm), (density @ (wt * x)) / norm


def _values(fn: Callable[..., np.ndarray], name: str, lam: np.ndarray, what: str) -> np.ndarray:
    """The student's function on the array ``lam``: shape and finiteness checked, with the λ named."""
    out = call(fn, name, lam.copy())
    try:
        got = np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(
            f"`{name}(lam)` should return an array of numbers, got {type(out).__name__}"
        ) from None
    if got.shape != lam.shape:
        raise ExerciseError(
            f"`{name}(lam)` has shape {got.shape} for λ of shape {lam.shape}: work elementwise"
        )
    bad = ~np.isfinite(got)
    if np.any(bad):
        raise ExerciseError(
            f"your {what} at λ = {float(lam[bad][0])!r} is {got[bad][0]}: at λ = 1/2 the closed form is 0/0, but its "
            "limit is finite; expand in η = log(λ/(1 − λ)) near η = 0."
        )
    return got


@exercise(
    "05.3",
    wrong=(
        "def cb_log_norm(lam):\n"
        "    eta = np.log(lam) - np.log1p(-lam)\n"
        "    small = np.abs(eta) < 1e-4\n"
        "    safe = np.where(small, 1.0, eta)\n"
        "    return np.where(small, np.log(2.0) + eta**2 / 12, np.log(safe / np.tanh(safe / 2)))\n"
        "\n"
        "\n"
        "def cb_mean(lam):\n"
        "    # the discrete Bernoulli's mean λ taken for the continuous Bernoulli's\n"
        "    return np.asarray(lam, dtype=float)\n"
    ),
)
def _continuous_bernoulli(cb_log_norm: Callable[..., np.ndarray], cb_mean: Callable[..., np.ndarray]) -> str:
    """log C(λ) and the mean of the continuous Bernoulli, against the density integrated over [0, 1]
    by Gauss–Legendre quadrature, at 13 λ including 1/2 and its neighbours."""
    log_norm, mean = function(cb_log_norm, "cb_log_norm"), function(cb_mean, "cb_mean")
    lam = np.array([1e-3, 0.02, 0.1, 0.3, 0.45, 0.5 - 1e-6, 0.5, 0.5 + 1e-6, 0.55, 0.7, 0.9, 0.99, 0.999])
    want_log_norm, want_mean = _cb_by_quadrature(lam)

    got = got_log_norm = _values(log_norm, "cb_log_norm", lam, "log C(λ)")
    k = int(np.argmax(np.abs(got - want_log_norm)))
    if abs(got[k] - want_log_norm[k]) > 1e-7:
        if np.allclose(got, -want_log_norm, atol=1e-7):
            hint = "That is log of ∫₀¹ λ^x (1−λ)^(1−x) dx = 1/C(λ): C is its inverse."
        elif np.allclose(got, np.exp(want_log_norm), atol=1e-7):
            hint = "That is C(λ) itself: return its logarithm."
        else:
            hint = (
                "Write λ^x (1−λ)^(1−x) = (1 − λ) e^(ηx) with η = log(λ/(1 − λ)) and integrate over [0, 1]; "
                "C(1/2) = 2."
            )
        raise ExerciseError(
            f"your log C(λ) at λ = {float(lam[k])!r} is {got[k]:.9g}; 1/C(λ) = ∫₀¹ λ^x (1−λ)^(1−x) dx integrated "
            f"numerically gives log C = {want_log_norm[k]:.9g}. {hint}"
        )

    got = _values(mean, "cb_mean", lam, "mean")
    k = int(np.argmax(np.abs(got - want_mean)))
    if abs(got[k] - want_mean[k]) > 1e-7:
        if np.allclose(got, lam, atol=1e-7):
            hint = (
                "You returned λ, the mean of the discrete Bernoulli on {0, 1}; on [0, 1] the density "
                "C(λ) λ^x (1−λ)^(1−x) ∝ e^(ηx) has mean d log Z/dη with Z(η) = ∫₀¹ e^(ηx) dx."
            )
        elif abs(float(lam[k]) - 0.5) < 1e-3:
            hint = (
                "Near λ = 1/2, 1/(1 − e^(−η)) − 1/η subtracts two numbers of order 1/|η| to get about 1/2 and loses "
                "most of its correct digits: for small |η| use the expansion 1/2 + η/12 − η³/720."
            )
        else:
            hint = (
                "The mean is d log Z/dη with Z(η) = (e^η − 1)/η and η = log(λ/(1 − λ)); it is 1/2 at λ = 1/2."
            )
        raise ExerciseError(
            f"your mean at λ = {float(lam[k])!r} is {got[k]:.9g}; ∫₀¹ x C(λ) λ^x (1−λ)^(1−x) dx integrated "
            f"numerically is {want_mean[k]:.9g}. {hint}"
        )
    i, j = int(np.flatnonzero(lam == 0.1)[0]), int(np.flatnonzero(lam == 0.5)[0])
    return (
        f"log C(λ) and the mean agree with the integrals at 13 λ in (0, 1), to 1e-7; C(1/2) = "
        f"{math.exp(got_log_norm[j]):.6g}, its minimum, and at λ = 0.1 the mean is "
        f"{got[i]:.4f}, between λ and 1/2, not λ."
    )
