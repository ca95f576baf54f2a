"""Checks of lecture 03's exercises (energy-based models and Langevin sampling)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import ExerciseError, call, exercise, function, number


@exercise(
    "03.1",
    wrong="def ula_variance(eps, var):\n    return var / (1 - eps / (2 * var))  # the drift's ε/2 taken for ε\n",
)
def _ula_variance(ula_variance: Callable[[float, float], float]) -> str:
    """ULA x' = x − (ε/2) x/v + √ε ξ on E = x²/(2v): the stationary variance, against the fixed point
    of the variance recursion s ← (1 − ε/(2v))² s + ε iterated to convergence."""
    fn = function(ula_variance, "ula_variance")
    for eps, var in [(0.1, 1.0), (0.5, 1.0), (0.1, 0.25), (1.0, 2.0), (0.01, 0.04)]:
        got = number(call(fn, "ula_variance", eps, var), f"ula_variance({eps}, {var})")
        a, s = 1.0 - eps / (2.0 * var), 0.0
        for _ in range(100_000):  # contraction by a² < 1 per step: converges to machine precision
            s_new = a * a * s + eps
            if s_new == s:
                break
            s = s_new
        if abs(got - s) > 1e-9 * s:
            raise ExerciseError(
                f"your ULA variance at ε = {eps}, v = {var} is {got:.6g}; the exact stationary variance of "
                f"x' = (1 − ε/(2v)) x + √ε ξ is {s:.6g} (the target's is {var}). Write the variance "
                "recursion s' = (1 − ε/(2v))² s + ε and solve s' = s."
            )
    return (
        "ULA's stationary variance v/(1 − ε/(4v)) matches the variance recursion's fixed point at 5 (ε, v), "
        f"e.g. {1.0 / (1.0 - 0.1 / 4.0):.6g} at ε = 0.1, v = 1 (too wide by ε/(4v), to first order)."
    )


@exercise(
    "03.2",
    wrong=(
        "def mala_log_accept(energy, grad, x, y, eps):\n"
        "    # the forward proposal taken for the reverse one (x and y swapped in q)\n"
        "    fwd = np.sum((y - x + eps / 2 * grad(x)) ** 2) / (2 * eps)\n"
        "    bwd = np.sum((x - y + eps / 2 * grad(y)) ** 2) / (2 * eps)\n"
        "    return -energy(y) + energy(x) - fwd + bwd\n"
    ),
)
def _mala_log_accept(mala_log_accept: Callable[..., float]) -> str:
    """MALA's log acceptance ratio, against the Gaussian proposal densities evaluated directly."""
    fn = function(mala_log_accept, "mala_log_accept")
    rng = np.random.default_rng(3)

    def energy(x: np.ndarray) -> float:  # a tilted double well in 2-D
        return float(np.sum(x**4) / 4 - np.sum(x**2) + 0.3 * x[0])

    def grad(x: np.ndarray) -> np.ndarray:
        return x**3 - 2 * x + np.array([0.3, 0.0])

    def log_q(to: np.ndarray, frm: np.ndarray, eps: float) -> float:  # N(to; frm − ε/2 ∇E(frm), ε I)
        mean = frm - eps / 2 * grad(frm)
        d = to.size
        return float(-np.sum((to - mean) ** 2) / (2 * eps) - d / 2 * np.log(2 * np.pi * eps))

    worst = 0.0
    for eps in (0.01, 0.1, 0.4):
        for _ in range(4):
            x = rng.normal(size=2)
            y = x - eps / 2 * grad(x) + np.sqrt(eps) * rng.normal(size=2)
            want = -energy(y) + energy(x) + log_q(x, y, eps) - log_q(y, x, eps)
            got = number(
                call(fn, "mala_log_accept", energy, grad, x.copy(), y.copy(), eps), "mala_log_accept(...)"
            )
            if abs(got - want) > 1e-8 * max(1.0, abs(want)):
                raise ExerciseError(
                    f"at ε = {eps}, x = {np.round(x, 3)}, y = {np.round(y, 3)} your log acceptance ratio is "
                    f"{got:.6g}; log[e^(−E(y)) q(x|y)] − log[e^(−E(x)) q(y|x)] is {want:.6g}, with "
                    "q(y|x) = N(y; x − (ε/2)∇E(x), ε I). Check which point each proposal density starts from."
                )
            worst = max(worst, abs(got - want))
    return f"equal to the ratio of Boltzmann weights and proposal densities at 12 pairs (largest difference {worst:.1e})."


@exercise(
    "03.3",
    wrong=(
        "def left_share(w_left, a, s, half_width):\n"
        "    # the chains shared out by the modes' weights\n"
        "    return w_left\n"
    ),
)
def _left_share(left_share: Callable[..., float]) -> str:
    """The share of non-crossing chains that settle in the left mode: the starting mass left of the
    barrier top, found on a fine grid of the exact energy."""
    fn = function(left_share, "left_share")
    lines = []
    for w_left, a, s, half in [
        (0.5, 1.0, 0.3, 2.0),
        (0.8, 1.0, 0.3, 2.0),
        (0.2, 1.5, 0.4, 3.0),
        (0.9, 1.0, 0.25, 1.5),
    ]:
        x = np.linspace(-a, a, 400_001)
        log_p = np.logaddexp(
            np.log(w_left) - (x + a) ** 2 / (2 * s * s), np.log1p(-w_left) - (x - a) ** 2 / (2 * s * s)
        )
        barrier = x[np.argmin(log_p)]  # the top of the energy barrier: where the basins meet
        want = (barrier + half) / (2 * half)
        got = number(call(fn, "left_share", w_left, a, s, half), f"left_share({w_left}, {a}, {s}, {half})")
        if abs(got - want) > 1e-4:
            if abs(got - w_left) < 1e-4:
                hint = f"Yours is the left mode's weight {w_left}: the chains split by basin, not by weight."
            elif abs(got - want) < 1e-2:
                hint = (
                    f"Close, but the check wants the share to within 1e-4, the barrier top to within "
                    f"{2e-4 * half:.1g}: refine your grid (spacing 1e-4 or finer) or solve d log p/dx = 0 "
                    "between the modes with a root finder."
                )
            else:
                hint = (
                    "A chain ends in the left mode when it starts left of the barrier top, the minimum of "
                    "p between −a and a; the starts are uniform on [−h, h]."
                )
            raise ExerciseError(
                f"with weights ({w_left}, {1 - w_left:.2g}), modes at ±{a}, σ = {s} and chains started "
                f"uniformly on [−{half}, {half}], your left share is {got:.6f}; the chains that cannot cross "
                f"end where gradient descent takes their start, left of the barrier top at x = {barrier:.6f}: "
                f"{want:.6f} of them. {hint}"
            )
        lines.append(f"{got:.3f} for weight {w_left}")
    return "the chains split by basin of attraction, not by weight: " + ", ".join(lines) + "."
