"""Checks of lecture 07's exercises (generative models of the 2D Ising model)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .. import ising, rbm
from . import ExerciseError, array, call, exercise, function, number


def _softplus(x: float) -> float:
    return float(np.logaddexp(0.0, x))


def _items(out: Any, name: str, what: str) -> tuple[Any, ...]:
    """The student's return value as a tuple of the items named in ``what`` ('W, b, c')."""
    n = len(what.split(", "))
    if not isinstance(out, (tuple, list)) or len(out) != n:
        raise ExerciseError(
            f"`{name}` should return the {n} items ({what}), got {type(out).__name__}: {out!r:.60}"
        )
    return tuple(out)


# --------------------------------------------------------------------------- 07.1


@exercise(
    "07.1",
    wrong=(
        "def effective_coupling(c, w):\n"
        "    # the coefficients of v_i v_j and of v_i in 0/1 units, taken for those of s_i s_j and s_i\n"
        "    f00, f01, f11 = np.logaddexp(0, c), np.logaddexp(0, c + w), np.logaddexp(0, c + 2 * w)\n"
        "    return f00 + f11 - 2 * f01, f01 - f00\n"
    ),
)
def _effective_coupling(effective_coupling: Callable[[float, float], Any]) -> str:
    """softplus(c + w v_i + w v_j) = J s_i s_j + h0 (s_i + s_j) + K: (J, h0), against the linear
    system of the four states (v_i, v_j) solved by least squares."""
    fn = function(effective_coupling, "effective_coupling")
    cases = [(0.0, 1.0), (-2.0, 2.0), (1.0, -3.0), (-5.0, 0.5), (3.0, 4.0), (-12.0, 8.0), (0.7, -0.2)]
    for c, w in cases:
        got = array(call(fn, "effective_coupling", c, w), f"effective_coupling({c}, {w})", shape=(2,))
        rows, f = [], []
        for vi in (0, 1):
            for vj in (0, 1):
                si, sj = 2 * vi - 1, 2 * vj - 1
                rows.append([si * sj, si + sj, 1.0])
                f.append(_softplus(c + w * vi + w * vj))
        J, h0, _const = np.linalg.lstsq(np.array(rows), np.array(f), rcond=None)[0]
        ref = np.array([J, h0])
        if np.all(np.abs(got - ref) <= 1e-9 * np.maximum(1.0, np.abs(ref))):
            continue
        f00, f01, f11 = _softplus(c), _softplus(c + w), _softplus(c + 2 * w)
        hint = "Write the four equations for (s_i, s_j) = (±1, ±1) and solve them for J, h0 and the constant."
        if np.allclose(got, [f00 + f11 - 2 * f01, f01 - f00], rtol=1e-6, atol=1e-9):
            hint = (
                "You have the coefficients of v_i v_j and of v_i in 0/1 units; with v = (1 + s)/2, "
                "v_i v_j = (1 + s_i + s_j + s_i s_j)/4 and v_i = (1 + s_i)/2."
            )
        elif np.allclose(got, ref[::-1], rtol=1e-6, atol=1e-9):
            hint = "You return (h0, J): the order is (J, h0)."
        elif np.isclose(got[0], -J, rtol=1e-6, atol=1e-9):
            hint = "Your J has the wrong sign: for equal weights J ≥ 0, since softplus is convex."
        raise ExerciseError(
            f"at c = {c}, w = {w} your (J, h0) = ({got[0]:.6g}, {got[1]:.6g}); at (v_i, v_j) = (0, 0), (0, 1), "
            f"(1, 0), (1, 1) the softplus is {f00:.4f}, {f01:.4f}, {f01:.4f}, {f11:.4f}, which is "
            f"J s_i s_j + h0 (s_i + s_j) + const with J = {J:.6g}, h0 = {h0:.6g}. {hint}"
        )
    J_sym = 0.5 * np.log(np.cosh(1.0))
    return (
        f"J = ¼[sp(c) + sp(c + 2w) − 2 sp(c + w)] and h0 = ¼[sp(c + 2w) − sp(c)] at {len(cases)} (c, w); "
        f"e.g. J = {J_sym:.6f} = ½ ln cosh(w/2), h0 = 0.5 = w/4 at c = −w = −2. J ≥ 0 for equal weights."
    )


# --------------------------------------------------------------------------- 07.2


@exercise(
    "07.2",
    wrong=(
        "def ising_rbm(L, T):\n"
        "    n = L * L\n"
        "    w = 2 * np.arccosh(np.exp(2 / T))\n"
        "    W = np.zeros((n, 2 * n))\n"
        "    for r in range(L):\n"
        "        for col in range(L):\n"
        "            i = r * L + col\n"
        "            for k, j in enumerate([r * L + (col + 1) % L, ((r + 1) % L) * L + col]):\n"
        "                W[i, 2 * i + k] += w\n"
        "                W[j, 2 * i + k] += w\n"
        "    b = np.full(n, -w)  # the fields of the two bonds to the right and below, not of all four\n"
        "    return W, b, np.full(2 * n, -w)\n"
    ),
)
def _ising_rbm(ising_rbm: Callable[[int, float], Any]) -> str:
    """An RBM whose marginal is the periodic L×L Ising model at T: its exact log p(v) over all 2^N
    visible states (lib.rbm.free_energy, normalised) against lib.ising.exact's Boltzmann log p."""
    fn = function(ising_rbm, "ising_rbm")
    worst, n_hidden_4 = 0.0, 0
    cases = [(3, 2.5), (4, float(ising.ONSAGER_TC)), (4, 1.5), (2, 1.0), (3, 0.8)]
    for L, T in cases:
        name = f"ising_rbm({L}, {T:.4g})"
        W, b, c = _items(call(fn, "ising_rbm", L, T), name, "W, b, c")
        n = L * L
        W = array(W, f"W of {name}")
        if W.ndim != 2 or W.shape[0] != n:
            raise ExerciseError(
                f"W of {name} has shape {W.shape}: expected (N, n_h) with N = L² = {n} visible units"
            )
        b = array(b, f"b of {name}", shape=(n,))
        c = array(c, f"c of {name}", shape=(W.shape[1],))
        ex = ising.exact(L, T)
        states = ising.all_states(L)
        neg_f = -rbm.free_energy(ising.spins_to_bits(states).astype(np.float64), W, b, c)
        log_q = neg_f - logsumexp(neg_f)
        energies = ex["energies"].astype(np.float64)
        log_p = -energies / T - ex["log_partition"]
        diff = np.abs(log_q - log_p)
        if L == 4:
            n_hidden_4 = W.shape[1]
        if diff.max() <= 1e-8:
            worst = max(worst, float(diff.max()))
            continue
        # What is it, if not the Ising model at T? Fit log q = β'(−E) + h M + const over all states.
        mags = ex["magnetizations"].astype(np.float64)
        X = np.stack([-energies, mags, np.ones_like(energies)], axis=1)
        coef = np.linalg.lstsq(X, log_q, rcond=None)[0]
        beta_fit, h_fit = float(coef[0]), float(coef[1])
        h_fit = 0.0 if abs(h_fit) < 1e-9 else h_fit  # round-off
        rms = float(np.sqrt(np.mean((X @ coef - log_q) ** 2)))
        k = int(np.argmax(diff))
        head = (
            f"at L = {L}, T = {T:.4g} your RBM's exact log p_θ differs from the Boltzmann log p_T by up to "
            f"{diff.max():.3g} (state {k} of ising.all_states: E = {energies[k]:.0f}, M = {mags[k]:.0f}, "
            f"log p_θ = {log_q[k]:.4f}, log p_T = {log_p[k]:.4f}). "
        )
        if rms < 1e-6:
            parts = [
                f"It is an Ising model, log p_θ = β'(−E) + h M + const, with β' = {beta_fit:.6g} and h = {h_fit:.3g}"
            ]
            if abs(h_fit) > 1e-6:
                parts.append(
                    "a field is left on every spin: each spin sits in the 4 hidden units of its 4 bonds, each "
                    "giving it the field h0 = w/4, and b_i v_i = (b_i/2) s_i + const must cancel their sum"
                )
            if abs(beta_fit - 1 / T) > 1e-6:
                parts.append(
                    f"its coupling β' = {beta_fit:.6g} is not 1/T = {1 / T:.6g} (that is temperature "
                    f"{1 / beta_fit if beta_fit > 0 else float('inf'):.4g}): choose w with ½ ln cosh(w/2) = 1/T"
                )
            raise ExerciseError(head + "; ".join(parts) + ".")
        raise ExerciseError(
            head
            + f"It is not of the Ising form β'(−E) + h M + const (residual {rms:.3g}): check that each hidden "
            "unit has weight w on exactly the two sites of one bond (site i = row·L + col, neighbours right and "
            "down, periodic) and bias c = −w, one unit per term of E."
        )
    return (
        f"your RBM's exact log p(v) equals the Boltzmann log p_T on every state at {len(cases)} (L, T), to "
        f"{worst:.0e}: the 4×4 Ising model is an RBM with {n_hidden_4} hidden units "
        f"(w = 2 arccosh e^(2/T) = {2 * np.arccosh(np.exp(2 / ising.ONSAGER_TC)):.4f} at T_c)."
    )


# --------------------------------------------------------------------------- 07.3


@exercise(
    "07.3",
    wrong=(
        "def symmetric_biases(W):\n"
        "    # the hidden biases centred, the visible ones left at zero\n"
        "    return np.zeros(W.shape[0]), -W.sum(axis=0) / 2\n"
    ),
)
def _symmetric_biases(symmetric_biases: Callable[[np.ndarray], Any]) -> str:
    """Biases that make an RBM symmetric under v → 1 − v: F(1 − v) − F(v) over every visible
    state, by lib.rbm.free_energy, for seeded random weights."""
    fn = function(symmetric_biases, "symmetric_biases")
    rng = np.random.default_rng(7)
    shapes = [(5, 3), (6, 6), (8, 2), (4, 7), (7, 1)]
    for n_v, n_h in shapes:
        W = rng.normal(scale=1.5, size=(n_v, n_h))
        name = f"symmetric_biases(W of shape {(n_v, n_h)})"
        b, c = _items(call(fn, "symmetric_biases", W.copy()), name, "b, c")
        b = array(b, f"b of {name}", shape=(n_v,))
        c = array(c, f"c of {name}", shape=(n_h,))
        v = rbm.binary_states(n_v)
        d_f = rbm.free_energy(1.0 - v, W, b, c) - rbm.free_energy(v, W, b, c)
        scale = max(1.0, float(np.abs(rbm.free_energy(v, W, b, c)).max()))
        if np.abs(d_f).max() <= 1e-9 * scale:
            continue
        k = int(np.argmax(np.abs(d_f)))
        hint = (
            "Write c_j + (vᵀW)_j in spins, v = (1 + s)/2, choose c so that it is odd in s, and use "
            "softplus(y) − softplus(−y) = y."
        )
        if np.allclose(c, -W.sum(axis=0) / 2, atol=1e-9):
            hint = (
                "Your hidden biases are the symmetric ones; with them F(1 − v) − F(v) = (2v − 1)·(b + W1/2) "
                f"(here (b + W1/2) = {np.round(b + W.sum(axis=1) / 2, 3)}): the visible biases must cancel it."
            )
        elif np.allclose(b, -W.sum(axis=1) / 2, atol=1e-9):
            hint = "Your visible biases are right; the hidden ones must make each c_j + (vᵀW)_j odd under v → 1 − v."
        raise ExerciseError(
            f"for W of shape {(n_v, n_h)} (seeded normal, σ = 1.5) with your biases, F(1 − v) − F(v) ranges over "
            f"[{d_f.min():.4g}, {d_f.max():.4g}] across the 2^{n_v} visible states, e.g. {d_f[k]:.4g} at "
            f"v = {v[k].astype(int)}; a flip-symmetric RBM has 0 at every v. {hint}"
        )
    return (
        f"F(1 − v) = F(v) on every visible state for {len(shapes)} random W: with b = −W1/2 and c = −Wᵀ1/2, "
        "−F = Σ_j ln 2cosh((sᵀW)_j/4) + const, even in s."
    )


# --------------------------------------------------------------------------- 07.4


def _neighbours(L: int, i: int) -> list[int]:
    r, col = divmod(i, L)
    return [r * L + (col + 1) % L, ((r + 1) % L) * L + col, r * L + (col - 1) % L, ((r - 1) % L) * L + col]


@exercise(
    "07.4",
    wrong=(
        "def wolff_log_acceptance(p, T, n_aligned, n_anti):\n"
        "    # the energy change taken as n_aligned − n_anti, one unit per bond\n"
        "    return (n_anti - n_aligned) * (1 / T + np.log(1 - p))\n"
    ),
)
def _wolff_log_acceptance(wolff_log_acceptance: Callable[..., float]) -> str:
    """ln α of a cluster flip grown with bond probability p: clusters grown on random 4×4
    configurations, the energy change by lib.ising.energy, the proposal ratio (1 − p)^(n_b − n_a)."""
    fn = function(wolff_log_acceptance, "wolff_log_acceptance")
    rng = np.random.default_rng(9)
    L, n = 4, 16
    tc = float(ising.ONSAGER_TC)
    settings = [(0.3, 1.5), (1 - np.exp(-2 / tc), tc), (0.8, 3.0), (0.5, 2.0)]
    tried = 0
    for p, T in settings:
        cases = []
        for _ in range(5):
            s = np.where(rng.random(n) < 0.65, 1, -1)
            seed = int(rng.integers(n))
            cluster, frontier = {seed}, [seed]
            while frontier:  # any connected set of aligned spins is a cluster Wolff can grow
                i = frontier.pop()
                for j in _neighbours(L, i):
                    if j not in cluster and s[j] == s[i] and rng.random() < 0.6:
                        cluster.add(j)
                        frontier.append(j)
            n_a = n_b = 0
            for i in range(n):
                for j in _neighbours(L, i)[:2]:  # each bond once: right and down, as in E
                    if (i in cluster) != (j in cluster):
                        n_a, n_b = (n_a + 1, n_b) if s[i] == s[j] else (n_a, n_b + 1)
            flipped = s.copy()
            flipped[list(cluster)] *= -1
            d_e = float(ising.energy(flipped.reshape(1, L, L))[0] - ising.energy(s.reshape(1, L, L))[0])
            cases.append((n_a, n_b, d_e))
        cases.append((0, 0, 0.0))  # the whole lattice: no boundary, no energy change
        for n_a, n_b, d_e in cases:
            want = -d_e / T + (n_b - n_a) * np.log(1 - p)
            got = number(
                call(fn, "wolff_log_acceptance", p, T, n_a, n_b), f"wolff_log_acceptance({p:.4g}, ...)"
            )
            tried += 1
            if abs(got - want) <= 1e-9 * max(1.0, abs(want)):
                continue
            hint = (
                "ln α = −ΔE/T + ln q(s|s') − ln q(s'|s): the bonds inside C are aligned in both s and s', so only "
                "the boundary bonds that each growth must reject differ."
            )
            if np.isclose(got, (n_b - n_a) * (1 / T + np.log(1 - p)), rtol=1e-9, atol=1e-12):
                hint = "The flip turns each boundary bond's term in E from −1 to +1 or back: a change of 2 per bond, not 1."
            elif np.isclose(got, -want, rtol=1e-9, atol=1e-12):
                hint = "You have ln of the reverse move's ratio, s' → s: the sign is flipped."
            elif np.isclose(got, -d_e / T, rtol=1e-9, atol=1e-12):
                hint = "That is the Boltzmann factor alone: the proposal is not symmetric, q(s'|s) ≠ q(s|s')."
            raise ExerciseError(
                f"at p = {p:.4g}, T = {T:.4g}, for a cluster with n_aligned = {n_a}, n_anti = {n_b} boundary bonds, "
                f"your ln α is {got:.6g}; the flip changes E by ΔE = {d_e:+.0f} and the proposal ratio "
                f"q(s|s')/q(s'|s) is (1 − p)^({n_b} − {n_a}), so ln α = {want:.6g}. {hint}"
            )
    p_w = 1 - np.exp(-2 / tc)
    return (
        f"ln α = (n_anti − n_aligned)(2/T + ln(1 − p)) on {tried} clusters: α = 1 for every cluster exactly when "
        f"p = 1 − e^(−2/T) (= {p_w:.4f} at T_c), Wolff's p_add."
    )
