"""Checks of lecture 06's exercises (generative adversarial networks)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import divergences
from . import ExerciseError, array, call, exercise, function, number


def _bce_minimiser(p_data: np.ndarray, p_model: np.ndarray, t_real: float, t_fake: float) -> np.ndarray:
    """At every point, the d in [0, 1] that minimises the expected binary cross-entropy
    p_data·BCE(t_real, d) + p_model·BCE(t_fake, d), found by bisection on its derivative
    −a/d + b/(1 − d) (increasing in d: the cross-entropy is convex)."""
    a = t_real * p_data + t_fake * p_model  # weight of −log d
    b = (1 - t_real) * p_data + (1 - t_fake) * p_model  # weight of −log(1 − d)
    lo, hi = np.zeros_like(p_data), np.ones_like(p_data)
    for _ in range(200):  # halves the bracket each time: far past float64's resolution
        mid = 0.5 * (lo + hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(a > 0, -a / mid, 0.0) + np.where(b > 0, b / (1 - mid), 0.0)
        lo, hi = np.where(slope < 0, mid, lo), np.where(slope < 0, hi, mid)
    return 0.5 * (lo + hi)


@exercise(
    "06.1",
    wrong=(
        "def smoothed_discriminator(p_data, p_model, real_target, fake_target):\n"
        "    # the real side smoothed, the generated samples' target forgotten\n"
        "    return real_target * p_data / (p_data + p_model)\n"
    ),
)
def _smoothed_discriminator(smoothed_discriminator: Callable[..., np.ndarray]) -> str:
    """The optimal discriminator for smoothed targets, against the minimiser of the expected
    cross-entropy found by bisection at every point."""
    fn = function(smoothed_discriminator, "smoothed_discriminator")
    p_data = np.array([0.30, 0.25, 0.20, 0.15, 0.10, 0.0, 0.0])
    p_model = np.array([0.05, 0.25, 0.10, 0.30, 0.0, 0.10, 0.20])
    for t_real, t_fake in [(1.0, 0.0), (0.9, 0.0), (0.9, 0.1), (0.8, 0.3)]:
        got = array(
            call(fn, "smoothed_discriminator", p_data.copy(), p_model.copy(), t_real, t_fake),
            f"smoothed_discriminator(p_data, p_model, {t_real}, {t_fake})",
            shape=p_data.shape,
        )
        want = _bce_minimiser(p_data, p_model, t_real, t_fake)
        bad = np.abs(got - want) > 1e-9
        if np.any(bad):
            i = int(np.argmax(np.abs(got - want)))
            hint = (
                " Where only the model has mass, d is fitted to the generated samples' target alone."
                if p_data[i] == 0
                else " Set the derivative of p_data·BCE(t_real, d) + p_model·BCE(t_fake, d) in d to zero."
            )
            raise ExerciseError(
                f"with targets t_real = {t_real}, t_fake = {t_fake}, at the point where p_data = {p_data[i]:g} and "
                f"p_model = {p_model[i]:g}, your discriminator answers {got[i]:.6g}; the d that minimises the "
                f"expected cross-entropy there is {want[i]:.6g} ({int(bad.sum())} of {bad.size} points "
                f"disagree).{hint}"
            )
    return (
        "d* = (t_real p_data + t_fake p_model)/(p_data + p_model) at 7 points and 4 target pairs: one-sided "
        "smoothing (0.9, 0) gives 0.9 times the unsmoothed d* and keeps d = 0 where only the model has mass; "
        "two-sided (0.9, 0.1) answers 0.1 there."
    )


def _step_matrix(eta: float, gamma: float, alternating: bool) -> np.ndarray:
    """The linear map of one step of gradient play on v = θφ − γφ²/2, found by applying the step
    (as section 1's `simultaneous` and `alternating` do) to the unit vectors."""

    def step(theta: float, phi: float) -> tuple[float, float]:
        new_theta = theta - eta * phi  # the generator descends v: ∂v/∂θ = φ
        seen = new_theta if alternating else theta  # the θ the discriminator answers to
        return new_theta, phi + eta * (seen - gamma * phi)  # it ascends v: ∂v/∂φ = θ − γφ

    return np.array([step(1.0, 0.0), step(0.0, 1.0)]).T  # columns: the images of e_θ and e_φ


@exercise(
    "06.2",
    wrong=(
        "def step_radius(eta, gamma, alternating):\n"
        "    # the modulus of the simultaneous steps' complex eigenvalues, used for both kinds of play\n"
        "    return float(np.sqrt(1 - eta * gamma + eta**2))\n"
    ),
)
def _step_radius(step_radius: Callable[[float, float, bool], float]) -> str:
    """The spectral radius of one step of simultaneous or alternating gradient play on the bilinear
    game with curvature, against the eigenvalues of the step's matrix, built by applying the step
    to the unit vectors."""
    fn = function(step_radius, "step_radius")
    cases = [
        (0.1, 0.0, False),
        (0.1, 0.0, True),
        (0.1, 0.3, False),
        (0.1, 0.3, True),
        (0.5, 1.0, False),
        (0.5, 1.0, True),
        (0.3, 2.5, False),  # real eigenvalues: their modulus is not √det
        (0.3, 2.5, True),
        (1.5, 0.0, True),
        (2.5, 0.0, True),  # alternating steps too large for the orbit: real eigenvalues, one beyond −1
    ]
    for eta, gamma, alternating in cases:
        kind = "alternating" if alternating else "simultaneous"
        got = number(
            call(fn, "step_radius", eta, gamma, alternating), f"step_radius({eta}, {gamma}, {alternating})"
        )
        matrix = _step_matrix(eta, gamma, alternating)
        want = float(np.max(np.abs(np.linalg.eigvals(matrix))))
        if abs(got - want) > 1e-9 * max(1.0, want):
            which = (
                "the discriminator answers the generator's new θ' = θ − ηφ"
                if alternating
                else "both players step from the old (θ, φ)"
            )
            real = np.trace(matrix) ** 2 >= 4 * np.linalg.det(matrix)
            raise ExerciseError(
                f"for {kind} steps with η = {eta}, γ = {gamma}, your radius is {got:.6g}; the largest |eigenvalue| "
                f"of the step's matrix M = {np.round(matrix, 4).tolist()}, (θ', φ') = M (θ, φ), is {want:.6g}. "
                f"In {kind} play {which}"
                + (
                    ": here M's eigenvalues are real, and their largest modulus is not √det M."
                    if real
                    else "."
                )
            )
    lines = [
        f"{'alternating' if alt else 'simultaneous'} {np.max(np.abs(np.linalg.eigvals(_step_matrix(e, g, alt)))):.4f}"
        for e, g, alt in [(0.1, 0.3, False), (0.1, 0.3, True)]
    ]
    return (
        f"the step's spectral radius at 10 (η, γ, play), e.g. at η = 0.1, γ = 0.3: {', '.join(lines)} "
        "(√(1 − ηγ + η²) and √(1 − ηγ)); with γ = 0 alternating steps orbit (radius 1) up to η = 2."
    )


def _softmax(theta: np.ndarray) -> np.ndarray:
    e = np.exp(theta - theta.max())
    return e / e.sum()


def _ns_objective(p_data: np.ndarray, theta: np.ndarray) -> float:
    """KL(p_θ ‖ p_data) − 2 JSD(p_data ‖ p_θ), the function section 2 says the non-saturating
    generator descends (every probability positive)."""
    p = _softmax(theta)
    return float(np.sum(p * np.log(p / p_data))) - 2.0 * divergences.js_divergence(p_data, p)


def _finite_difference(f: Callable[[np.ndarray], float], theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences of f at theta: error O(h²) + O(round-off / h), about 1e-10 here."""
    return np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])


@exercise(
    "06.3",
    wrong=(
        "def ns_gradient(p_data, theta):\n"
        "    # the zero-sum generator's loss, log(1 − d), taken for the non-saturating one\n"
        "    p = np.exp(theta - theta.max())\n"
        "    p = p / p.sum()\n"
        "    f = np.log(1 - p_data / (p_data + p))\n"
        "    return p * (f - np.sum(p * f))\n"
    ),
)
def _ns_gradient(ns_gradient: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> str:
    """The non-saturating generator's gradient at the optimal discriminator held fixed, against
    central finite differences of KL(p_θ ‖ p_data) − 2 JSD(p_data ‖ p_θ)."""
    fn = function(ns_gradient, "ns_gradient")
    rng = np.random.default_rng(6)
    worst = 0.0
    for k, scale in [(3, 1.0), (5, 1.0), (8, 2.0), (6, 3.0)]:
        p_data = rng.dirichlet(np.ones(k))
        theta = scale * rng.normal(size=k)
        got = array(
            call(fn, "ns_gradient", p_data.copy(), theta.copy()), "ns_gradient(p_data, theta)", shape=(k,)
        )
        want = _finite_difference(lambda t, p_data=p_data: _ns_objective(p_data, t), theta)
        err = float(np.max(np.abs(got - want)))
        if err > 1e-7:
            p = _softmax(theta)
            d = p_data / (p_data + p)
            fixed = {  # the gradients of some likely slips, each with what it says
                "Your gradient is that of the zero-sum loss Σ p_θ log(1 − d), not of Σ p_θ (−log d): it follows "
                "2 JSD (Danskin's theorem).": p * (np.log(1 - d) - p @ np.log(1 - d)),
                "Your gradient lacks the −p_k part of the softmax's Jacobian ∂p_x/∂θ_k = p_x(δ_xk − p_k).": (
                    -p * np.log(d)
                ),
                "Your gradient differentiates d = d*_θ along with p_θ; a training step holds d fixed.": (
                    _finite_difference(
                        lambda t, p_data=p_data: float(
                            -_softmax(t) @ np.log(p_data / (p_data + _softmax(t)))
                        ),
                        theta,
                    )
                ),
            }
            hint = next(
                (f" {why}" for why, g in fixed.items() if np.max(np.abs(got - g)) < 1e-6),
                " Differentiate Σ_x p_θ(x)(−log d(x)) through p_θ = softmax(θ) only, with d = d* held fixed.",
            )
            raise ExerciseError(
                f"with K = {k} points, p_data = {np.round(p_data, 3).tolist()}, θ = {np.round(theta, 3).tolist()}, "
                f"your gradient is {np.round(got, 5).tolist()}; the gradient of KL(p_θ ‖ p_data) − 2 JSD(p_data ‖ p_θ) "
                f"(central differences) is {np.round(want, 5).tolist()}, a largest difference of {err:.2g}.{hint}"
            )
        worst = max(worst, err)
    return (
        "the non-saturating gradient at d* held fixed is that of KL(p_θ ‖ p_data) − 2 JSD(p_data ‖ p_θ) at 4 "
        f"(p_data, θ) with K = 3 to 8 points (largest difference from central differences {worst:.1e})."
    )
