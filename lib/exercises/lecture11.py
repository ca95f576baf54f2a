"""Checks of lecture 11's exercises (neural samplers: the variational free energy, importance sampling,
independent Metropolis–Hastings, the antiferromagnet)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .. import ising
from . import ExerciseError, array, call, exercise, function, number, pair

# --------------------------------------------------------------------------- 11.1

_TWO_SPINS = np.array([[s1, s2] for s1 in (-1, 1) for s2 in (-1, 1)], dtype=np.float64)  # (4, 2)


def _two_spin_reference(m1: float, m2: float, J: float, h: float, T: float) -> tuple[float, float]:
    """F_q of the product distribution with means (m1, m2), and F, both summed over the four states."""
    s1, s2 = _TWO_SPINS[:, 0], _TWO_SPINS[:, 1]
    energy = -J * s1 * s2 - h * (s1 + s2)
    q = (1 + m1 * s1) / 2 * (1 + m2 * s2) / 2
    f_q = float(np.sum(q * (energy + T * np.log(q))))
    return f_q, float(-T * logsumexp(-energy / T))


@exercise(
    "11.1",
    wrong=(
        "def mean_field_free_energy(m1, m2, J, h, T):\n"
        "    # the entropy added instead of subtracted: F = E + TS\n"
        "    def H(m):\n"
        "        a, b = (1 + m) / 2, (1 - m) / 2\n"
        "        return -(a * np.log(a) + b * np.log(b))\n"
        "    return -J * m1 * m2 - h * (m1 + m2) + T * (H(m1) + H(m2))\n"
    ),
)
def _mean_field_free_energy(mean_field_free_energy: Callable[..., float]) -> str:
    """F_q of independent spins with means m1, m2 in E = −J s1 s2 − h (s1 + s2), against the sum over
    the four states of q(s)[E(s) + T ln q(s)]."""
    fn = function(mean_field_free_energy, "mean_field_free_energy")
    cases = [
        (0.3, -0.2, 1.0, 0.5, 1.0),
        (0.9, 0.9, 1.0, 0.0, 2.0),
        (-0.5, 0.7, -1.5, 0.3, 0.7),
        (0.0, 0.0, 2.0, 1.0, 3.0),
        (0.99, -0.95, 0.4, -0.8, 1.3),
    ]
    for m1, m2, J, h, T in cases:
        shown = f"m1 = {m1}, m2 = {m2}, J = {J}, h = {h}, T = {T}"
        got = number(call(fn, "mean_field_free_energy", m1, m2, J, h, T), f"mean_field_free_energy({shown})")
        want, F = _two_spin_reference(m1, m2, J, h, T)
        if abs(got - want) <= 1e-9 * max(1.0, abs(want)):
            continue
        energy = -J * m1 * m2 - h * (m1 + m2)
        if abs(got - (2 * energy - want)) < 1e-7 * max(1.0, abs(want)):
            hint = "Yours is ⟨E⟩_q + T S_q: the entropy enters with a minus sign, F_q = ⟨E⟩_q − T S_q."
        elif abs(got - energy) < 1e-9 * max(1.0, abs(want)):
            hint = "Yours is ⟨E⟩_q alone: add T⟨ln q⟩_q = −T S_q, the entropy of two independent spins."
        else:
            hint = (
                "Under q the spins are independent, so ⟨s1 s2⟩_q = m1 m2; ⟨ln q⟩_q is the sum of the two "
                "spins' ⟨ln q_i⟩, with q_i(±1) = (1 ± m_i)/2."
            )
        raise ExerciseError(
            f"at {shown} your F_q is {got:.8g}; Σ_s q(s)[E(s) + T ln q(s)] over the four states is {want:.8g} "
            f"(the exact F is {F:.6g}). {hint}"
        )
    # the best product distribution at J = 1, h = 0.5, T = 1, by a fine scan over m1 = m2 = m
    grid = np.linspace(-0.999, 0.999, 4001)
    values = [float(fn(m, m, 1.0, 0.5, 1.0)) for m in grid]
    best = int(np.argmin(values))
    _, F = _two_spin_reference(0.0, 0.0, 1.0, 0.5, 1.0)
    return (
        f"your F_q equals Σ_s q(s)[E + T ln q] at {len(cases)} inputs. At J = 1, h = 0.5, T = 1 the best "
        f"m1 = m2 is m = {grid[best]:.3f}, with F_q = {values[best]:.5f} ≥ F = {F:.5f}: mean field misses "
        f"T·KL = {values[best] - F:.5f}, the correlation that a product cannot carry."
    )


# --------------------------------------------------------------------------- 11.2


def _log_q_tables() -> dict[str, np.ndarray]:
    """Three normalised distributions over the 4 × 4 states, as ln q in the order of ising.all_states."""
    states = ising.all_states(4).reshape(-1, 16).astype(np.float64)  # (65536, 16) of ±1
    uniform = np.full(len(states), -16 * math.log(2.0))
    warm = np.log(ising.exact(4, 3.5)["probabilities"])  # the Boltzmann distribution at another T
    m = np.linspace(-0.6, 0.8, 16)  # a product distribution with a different mean per spin
    product = np.log((1 + states * m) / 2).sum(1)
    return {"uniform": uniform, "Boltzmann at T = 3.5": warm, "independent spins": product}


@exercise(
    "11.2",
    wrong=(
        "def exact_free_energies(log_q, T):\n"
        "    # the forward KL(p‖q) in place of the reverse one\n"
        "    ex = ising.exact(4, T)\n"
        "    p, E = ex['probabilities'], ex['energies']\n"
        "    q = np.exp(log_q)\n"
        "    return float(q @ (E + T * log_q)), float(p @ (np.log(p) - log_q))\n"
    ),
)
def _exact_free_energies(exact_free_energies: Callable[..., Any]) -> str:
    """(F_q, KL(q‖p)) on the 4 × 4 lattice from a table of ln q, against lib.ising.exact."""
    fn = function(exact_free_energies, "exact_free_energies")
    tables = _log_q_tables()
    lines = []
    for T in (ising.ONSAGER_TC, 2.0):
        ex = ising.exact(4, T)
        p, energies = ex["probabilities"], ex["energies"].astype(np.float64)
        F = -T * ex["log_partition"]
        for label, log_q in tables.items():
            shown = f"q = {label}, T = {T:.4f}"
            f_q, kl = pair(
                call(fn, "exact_free_energies", log_q.copy(), T), "exact_free_energies", "(F_q, KL)"
            )
            q = np.exp(log_q)
            want_f = float(q @ (energies + T * log_q))
            want_kl = float(q @ (log_q - np.log(p)))
            if abs(f_q - want_f) > 1e-8 * max(1.0, abs(want_f)):
                hint = (
                    "F_q = Σ_s q(s)[E(s) + T ln q(s)], with E from ising.energy of ising.all_states(4) (the same "
                    "order as log_q)."
                )
                if abs(f_q - float(q @ (energies + log_q))) < 1e-8 * max(1.0, abs(want_f)):
                    hint = "The entropy term is T ln q, not ln q."
                raise ExerciseError(
                    f"for {shown} your F_q is {f_q:.8g}; summed over the 65,536 states it is {want_f:.8g}. {hint}"
                )
            if abs(kl - want_kl) > 1e-8 * max(1.0, want_kl):
                hint = "KL(q‖p) = Σ_s q(s) ln(q(s)/p(s)) = (F_q − F)/T, an average over q."
                if abs(kl - float(p @ (np.log(p) - log_q))) < 1e-8 * max(1.0, want_kl):
                    hint = "Yours is the forward KL(p‖q), an average over p; the variational one averages over q."
                raise ExerciseError(
                    f"for {shown} your KL is {kl:.8g}; Σ_s q ln(q/p) over the 65,536 states is {want_kl:.8g}. {hint}"
                )
            lines.append(f"{label} at T = {T:.3f}: F_q − F = {f_q - F:.4f}")
    return (
        "your F_q and KL(q‖p) equal the sums over all 65,536 states for three distributions at two "
        f"temperatures, and F_q − F = T·KL ≥ 0 each time ({'; '.join(lines[:3])})."
    )


# --------------------------------------------------------------------------- 11.3


def _ferro_energy(spins: np.ndarray) -> np.ndarray:
    return ising.energy(spins)


@exercise(
    "11.3",
    wrong=(
        "def to_ferromagnet(spins):\n"
        "    # every other row flipped: the vertical bonds change sign, the horizontal ones do not\n"
        "    out = np.array(spins, copy=True)\n"
        "    out[:, 1::2, :] *= -1\n"
        "    return out\n"
    ),
)
def _to_ferromagnet(to_ferromagnet: Callable[[np.ndarray], Any]) -> str:
    """A map of configurations with E_F(map(s)) = E_AF(s) = −E_F(s): checked on random configurations
    of L = 2, 4, 6 and, for bijectivity, on all 65,536 states of L = 4."""
    fn = function(to_ferromagnet, "to_ferromagnet")
    rng = np.random.default_rng(11)
    for L in (2, 4, 6):
        s = rng.choice(np.array([-1, 1], np.int8), size=(200, L, L))
        out = array(
            call(fn, "to_ferromagnet", s.copy()), f"to_ferromagnet(spins of L = {L})", shape=(200, L, L)
        )
        if not np.all(np.abs(out) == 1):
            raise ExerciseError(
                f"`to_ferromagnet` must return spins ±1; for L = {L} it returned other values"
            )
        e_af = -_ferro_energy(s)  # E_AF(s) = +Σ s_i s_j
        e_f = ising.energy(out.astype(np.int8))
        bad = int(np.sum(e_f != e_af))
        if bad:
            k = int(np.argmax(e_f != e_af))
            raise ExerciseError(
                f"for L = {L}, {bad} of 200 random configurations are not mapped to a ferromagnetic configuration "
                f"of the same energy: e.g. E_AF(s) = {e_af[k]}, but E_F(to_ferromagnet(s)) = {e_f[k]}. Each bond "
                "s_i s_j must change sign: flip the spins of one sublattice of the checkerboard."
            )
    states = ising.all_states(4)
    out = array(
        call(fn, "to_ferromagnet", states.copy()), "to_ferromagnet(all 4 × 4 states)", shape=states.shape
    )
    codes = np.unique(((out.reshape(len(out), -1) + 1) / 2) @ (2.0 ** np.arange(16)))
    if len(codes) != len(states):
        raise ExerciseError(
            f"`to_ferromagnet` maps the 65,536 states of L = 4 onto only {len(codes)} distinct ones: a map that "
            "is not one-to-one does not carry Z over."
        )
    T = 2.5
    e_af = -ising.energy(states).astype(np.float64)
    log_z_af = float(logsumexp(-e_af / T))
    return (
        "your map sends every antiferromagnetic configuration to a ferromagnetic one of the same energy, one to "
        f"one: so Z_AF = Z_F at every T. At L = 4, T = {T}: ln Z_AF by enumeration {log_z_af:.10f}, Kaufman's "
        f"ln Z_F {ising.kaufman_log_partition(4, T):.10f}."
    )


# --------------------------------------------------------------------------- 11.4


def _expected_nis(energies: np.ndarray, q: np.ndarray, n: int, T: float) -> float:
    """E over all K^n tuples of draws of −T ln((1/n) Σ w_i), w = e^{−E/T}/q."""
    log_w = -energies / T - np.log(q)
    total = 0.0
    for tup in itertools.product(range(len(q)), repeat=n):
        idx = np.array(tup)
        total += float(np.prod(q[idx])) * -T * float(logsumexp(log_w[idx]) - math.log(n))
    return total


@exercise(
    "11.4",
    wrong=(
        "def expected_nis_free_energy(energies, q, n, T):\n"
        "    # the mean of −T ln w: the log and the average exchanged (this is F_q, whatever n)\n"
        "    log_w = -np.asarray(energies) / T - np.log(q)\n"
        "    return float(np.sum(q * -T * log_w))\n"
    ),
)
def _expected_nis_free_energy(expected_nis_free_energy: Callable[..., float]) -> str:
    """The exact expectation of the importance-sampling estimate −T ln(mean of n weights), against a sum
    over every tuple of n draws."""
    fn = function(expected_nis_free_energy, "expected_nis_free_energy")
    systems = [
        (np.array([-1.0, 0.0, 2.0]), np.array([0.5, 0.3, 0.2]), 1.3),
        (np.array([-2.0, -1.5, 0.5, 1.0]), np.array([0.1, 0.2, 0.3, 0.4]), 0.8),
        (np.array([0.0, 0.3]), np.array([0.9, 0.1]), 2.0),
    ]
    report = []
    for energies, q, T in systems:
        F = -T * float(logsumexp(-energies / T))
        previous = math.inf
        for n in (1, 2, 3):
            shown = f"E = {energies.tolist()}, q = {q.tolist()}, n = {n}, T = {T}"
            got = number(
                call(fn, "expected_nis_free_energy", energies.copy(), q.copy(), n, T),
                f"expected_nis_free_energy({shown})",
            )
            want = _expected_nis(energies, q, n, T)
            if abs(got - want) > 1e-9 * max(1.0, abs(want)):
                f_q = float(np.sum(q * (energies + T * np.log(q))))
                if abs(got - F) < 1e-9 * max(1.0, abs(F)):
                    hint = "Yours is F itself: E[ln Ẑ] is not ln E[Ẑ]; average −T ln Ẑ over the draws."
                elif abs(got - f_q) < 1e-9 * max(1.0, abs(f_q)):
                    hint = (
                        "Yours is F_q: take the log of the mean of the n weights, not the mean of their logs."
                    )
                else:
                    hint = (
                        "Sum over every tuple (s_1 … s_n) of states, with probability Π q(s_i), the value "
                        "−T ln((1/n) Σ_i w(s_i))."
                    )
                raise ExerciseError(
                    f"for {shown} your expectation is {got:.10g}; summed over all tuples it is {want:.10g}. {hint}"
                )
            if not F <= got < previous:
                raise ExerciseError(f"for {shown}: expected F ≤ E[F̂_n] < E[F̂_(n−1)], got {got} (F = {F})")
            previous = got
        report.append(f"{previous - F:.4f}")
    return (
        "your expectation equals the sum over every tuple of draws, for three systems and n = 1, 2, 3: "
        f"always above F and falling with n (the bias at n = 3: {', '.join(report)})."
    )


# --------------------------------------------------------------------------- 11.5


def _acceptance_by_quadrature(sigma: float) -> float:
    """E[min(1, w'/w)] with ln w' ~ N(0, σ²) (a fresh proposal of q) and the current state distributed
    as p, whose density of ln w is ∝ e^{ln w} N(ln w; 0, σ²), normalised numerically on the same grid."""
    a = np.linspace(-12.0 * sigma - sigma**2, 12.0 * sigma + sigma**2, 1601)
    da = a[1] - a[0]
    phi = np.exp(-0.5 * (a / sigma) ** 2)
    q_density = phi / (phi.sum() * da)
    p_density = np.exp(a - a.max()) * phi
    p_density /= p_density.sum() * da
    ratio = np.minimum(1.0, np.exp(np.clip(a[None, :] - a[:, None], -700, 0)))  # [current, proposal]
    return float(p_density @ ratio @ q_density * da * da)


@exercise(
    "11.5",
    wrong=(
        "def lognormal_acceptance(sigma):\n"
        "    # both states drawn from q: the chain's current state follows p, not q\n"
        "    from scipy.special import ndtr\n"
        "    return 0.5 + np.exp(sigma**2) * ndtr(-np.sqrt(2) * sigma)\n"
    ),
)
def _lognormal_acceptance(lognormal_acceptance: Callable[[float], float]) -> str:
    """The equilibrium acceptance of independent Metropolis when ln w ~ N(μ, σ²) under q, against a
    double integral on a grid."""
    fn = function(lognormal_acceptance, "lognormal_acceptance")
    for sigma in (0.1, 0.5, 1.0, 2.0, 3.0):
        got = number(call(fn, "lognormal_acceptance", sigma), f"lognormal_acceptance({sigma})")
        want = _acceptance_by_quadrature(sigma)
        if abs(got - want) <= 1e-4:
            continue
        hint = (
            "The current state is distributed as p, under which ln w is again Gaussian, shifted by σ²; "
            "the difference of the proposal's and the current ln w is then N(−σ², 2σ²)."
        )
        if abs(got - (0.5 + math.exp(sigma**2) * 0.5 * math.erfc(sigma))) < 1e-4:
            hint = "Yours draws the current state from q too. In equilibrium it follows p: " + hint
        raise ExerciseError(
            f"at σ = {sigma} your acceptance is {got:.6f}; the double integral over the current state (∼ p) and "
            f"the proposal (∼ q) gives {want:.6f}. {hint}"
        )
    values = ", ".join(f"KL = {s * s / 2:g}: {float(fn(s)):.3f}" for s in (0.5, 1.0, 2.0, 3.0))
    return (
        f"your acceptance agrees with the double integral for σ from 0.1 to 3; with KL(q‖p) = σ²/2, {values}."
    )
