"""Checks of lecture 09's exercises (RBM wavefunctions and variational Monte Carlo)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.optimize
import scipy.sparse.linalg as sla

from .. import nqs, spin_chains
from . import ExerciseError, array, call, exercise, function, number


def _square_bonds(rows: int, cols: int) -> list[tuple[int, int]]:
    """The 2·rows·cols nearest-neighbour bonds of the periodic rows × cols lattice, site r·cols + c,
    each once: to the right neighbour and to the one below."""
    right = [(r * cols + c, r * cols + (c + 1) % cols) for r in range(rows) for c in range(cols)]
    down = [(r * cols + c, ((r + 1) % rows) * cols + c) for r in range(rows) for c in range(cols)]
    return right + down


def _log_psi_of_vector(psi: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """log ψ(s) of a positive amplitude vector indexed in the bit order of :mod:`lib.spin_chains`."""
    log_v = np.log(psi)
    return lambda s: log_v[spin_chains.basis_index(s)]


@exercise(
    "09.1",
    wrong=(
        "def square_local_energy(log_psi, s, h, J, rows, cols):\n"
        "    # every site with all four of its neighbours: each bond counted twice\n"
        "    B, n = s.shape\n"
        "    g = s.reshape(B, rows, cols)\n"
        "    diag = sum(np.sum(g * np.roll(g, k, axis=ax), axis=(1, 2)) for k in (1, -1) for ax in (1, 2))\n"
        "    flipped = np.repeat(s[:, None, :], n, axis=1)\n"
        "    flipped[:, np.arange(n), np.arange(n)] *= -1\n"
        "    ratio = np.exp(log_psi(flipped.reshape(B * n, n)).reshape(B, n) - log_psi(s)[:, None])\n"
        "    return -J * diag - h * ratio.sum(axis=1)\n"
    ),
)
def _square_local_energy(square_local_energy: Callable[..., np.ndarray]) -> str:
    """The local energy of the transverse-field Ising model on a periodic square lattice, against
    (Hψ)(s)/ψ(s) with H the sparse Hamiltonian of exact diagonalisation (all 2ⁿ amplitudes)."""
    fn = function(square_local_energy, "square_local_energy")
    rng = np.random.default_rng(9)
    zero_variance = ""
    for rows, cols, h, J, kind in [
        (3, 3, 3.04, 1.0, "ground state"),
        (3, 4, 1.5, 1.0, "RBM"),
        (4, 3, 0.7, -0.5, "Jastrow"),
        (4, 4, 3.04, 1.0, "RBM"),
    ]:
        n = rows * cols
        bonds = _square_bonds(rows, cols)
        H = spin_chains.tfim_hamiltonian(n, h, J, bonds=bonds)
        states = spin_chains.spin_states(n)
        if kind == "RBM":
            log_psi = nqs.RBM.random(n, n, scale=0.3, seed=rng).log_psi
            what = f"a random RBM (M = {n}, weights of scale 0.3)"
        elif kind == "Jastrow":
            K = np.triu(0.2 * rng.standard_normal((n, n)), 1)
            v = 0.3 * rng.standard_normal(n)
            log_psi = lambda s, K=K, v=v: np.einsum("bi,ij,bj->b", s, K, s) + s @ v  # noqa: E731
            what = "a random Jastrow wavefunction log ψ = Σ_{i<j} K_ij s_i s_j + v·s"
        else:
            e0, vec = sla.eigsh(H, k=1, which="SA")
            psi0 = np.abs(vec[:, 0])  # positive (Perron–Frobenius); abs removes the global sign
            log_psi = _log_psi_of_vector(psi0)
            what = "the exact ground state"
        psi = spin_chains.wavefunction_vector(log_psi, states)
        s = rng.choice([-1.0, 1.0], size=(12, n))
        x = spin_chains.basis_index(s)
        want = (H @ psi)[x] / psi[x]
        got = array(
            call(fn, "square_local_energy", log_psi, s.copy(), h, J, rows, cols),
            "square_local_energy(...)",
            shape=(len(s),),
        )
        bad = np.abs(got - want) > 1e-8 * np.maximum(1.0, np.abs(want))
        if np.any(bad):
            k = int(np.argmax(bad))
            diag = -J * sum(s[k, i] * s[k, j] for i, j in bonds)
            raise ExerciseError(
                f"on the periodic {rows} × {cols} lattice (site r·{cols} + c) at h = {h}, J = {J}, for {what}, "
                f"your local energy of configuration {k} of the batch is {got[k]:.6f}; (Hψ)(s)/ψ(s) from the "
                f"sparse Hamiltonian is {want[k]:.6f}, of which −J Σ_<ij> s_i s_j = {diag:.6f} (the "
                f"{2 * n} bonds, each once, wrapping around) and −h Σ_i ψ(s^(i))/ψ(s) = {want[k] - diag:.6f}."
            )
        if kind == "ground state":
            zero_variance = (
                f"on the exact ground state of the 3 × 3 lattice at h = {h} it is E0 = {e0[0]:.6f} at every "
                f"configuration (spread {np.ptp(got):.1e}): the zero-variance principle"
            )
    return (
        "your local energy equals (Hψ)(s)/ψ(s) of exact diagonalisation on the 3 × 3, 3 × 4, 4 × 3 and 4 × 4 "
        f"lattices, for random RBMs and a Jastrow state; {zero_variance}."
    )


def _complex_rbm(n: int, m: int, theta: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """log ψ(s) = a·s + Σ_j log 2cosh(b_j + Σ_i W_ij s_i) with complex θ = [a (n,), b (m,), W.ravel() (n·m,)]."""
    a, b, W = theta[:n], theta[n : n + m], theta[n + m :].reshape(n, m)
    return lambda s: s @ a + np.sum(nqs.log_cosh2(s @ W + b), axis=1)


def _complex_rbm_derivatives(n: int, m: int, theta: np.ndarray, s: np.ndarray) -> np.ndarray:
    """O_k(s) = ∂ log ψ(s)/∂θ_k of :func:`_complex_rbm`: s_i, tanh χ_j, s_i tanh χ_j (complex)."""
    b, W = theta[n : n + m], theta[n + m :].reshape(n, m)
    t = np.tanh(s @ W + b)
    return np.concatenate([s + 0j, t, (s[:, :, None] * t[:, None, :]).reshape(len(s), -1)], axis=1)


@exercise(
    "09.2",
    wrong=(
        "def complex_gradient(O, e_loc, weights):\n"
        "    # the real formula carried over: O_k without the complex conjugate\n"
        "    p = weights / weights.sum()\n"
        "    return 2 * (p @ (O * e_loc[:, None]) - (p @ O) * (p @ e_loc))\n"
    ),
)
def _complex_gradient(complex_gradient: Callable[..., np.ndarray]) -> str:
    """The gradient of E[ψ] in the real and imaginary parts of complex RBM parameters, against
    central finite differences of the exact energy ⟨ψ|H|ψ⟩/⟨ψ|ψ⟩ (enumeration of all 2ⁿ amplitudes)."""
    fn = function(complex_gradient, "complex_gradient")
    rng = np.random.default_rng(92)
    worst = 0.0
    for name, n, m, H in [
        ("the Heisenberg ring of 6 spins, original basis (ground state with signs)", 6, 3, None),
        (
            "the transverse-field Ising ring of 5 spins at h = 0.7 J",
            5,
            2,
            spin_chains.tfim_hamiltonian(5, 0.7),
        ),
    ]:
        if H is None:
            H, _ = spin_chains.heisenberg_hamiltonian(n)
        states = spin_chains.spin_states(n)
        P = n + m + n * m
        theta = 0.3 * rng.standard_normal(P) + 0.3j * rng.standard_normal(P)
        log_psi = _complex_rbm(n, m, theta)
        psi = spin_chains.wavefunction_vector(log_psi, states)
        derivs = _complex_rbm_derivatives(n, m, theta, states)
        e_loc = (H @ psi) / psi
        weights = 7.0 * np.abs(psi) ** 2  # |ψ|², not normalised
        got = call(fn, "complex_gradient", derivs.copy(), e_loc.copy(), weights.copy())
        if not np.iscomplexobj(np.asarray(got)) or np.asarray(got).shape != (P,):
            got_arr = np.asarray(got)
            raise ExerciseError(
                f"`complex_gradient` should return a complex array of shape ({P},), one number "
                f"∂E/∂Re θ_k + i ∂E/∂Im θ_k per parameter; got dtype {got_arr.dtype}, shape {got_arr.shape}."
            )
        got = np.asarray(got, dtype=np.complex128)
        if not np.all(np.isfinite(got)):
            raise ExerciseError("`complex_gradient` returned entries that are not finite")
        step = 1e-5
        want = np.zeros(P, dtype=np.complex128)
        for k in range(P):
            for unit in (1.0, 1j):
                d = np.zeros(P, dtype=np.complex128)
                d[k] = step * unit
                e_plus = spin_chains.exact_energy(_complex_rbm(n, m, theta + d), H, states)
                e_minus = spin_chains.exact_energy(_complex_rbm(n, m, theta - d), H, states)
                want[k] += unit * (e_plus - e_minus) / (2 * step)
        scale = max(1.0, float(np.max(np.abs(want))))
        if np.max(np.abs(got - want)) > 1e-6 * scale:
            k = int(np.argmax(np.abs(got - want)))
            label = "a" if k < n else "b" if k < n + m else "W"
            p = weights / weights.sum()
            Oc, ec = derivs - p @ derivs, e_loc - p @ e_loc
            g = Oc.conj().T @ (p * ec)
            hint = {
                "O_k without the complex conjugate (a real-ψ formula)": 2 * (Oc.T @ (p * ec)),
                "the half-gradient g, without the factor 2": g,
                "the complex conjugate of 2g (∂E/∂Re θ − i ∂E/∂Im θ)": np.conj(2 * g),
            }
            match = [why for why, h in hint.items() if np.allclose(got, h, atol=1e-8 * scale)]
            diagnosis = f" Your answer is {match[0]}." if match else ""
            raise ExerciseError(
                f"for a complex RBM on {name}, parameter {k} (an entry of {label}): your "
                f"∂E/∂Re θ + i ∂E/∂Im θ is {got[k]:.6f}; central finite differences of the exact energy "
                f"give {want[k]:.6f}.{diagnosis} With ψ analytic in θ, ∂E/∂θ_k* = ⟨O_k* E_loc⟩ − "
                "⟨O_k*⟩⟨E_loc⟩ under the normalised weights."
            )
        worst = max(worst, float(np.max(np.abs(got - want))) / scale)
    return (
        "∂E/∂Re θ + i ∂E/∂Im θ = 2(⟨O* E_loc⟩ − ⟨O*⟩⟨E_loc⟩) matches finite differences of the exact energy "
        f"for complex RBMs on the Heisenberg (27 parameters) and Ising (17) rings (largest relative "
        f"difference {worst:.1e})."
    )


def _product_energy_enumerated(a: float, h: float, J: float, n: int) -> float:
    """E[ψ_a]/n of ψ_a(s) = exp(a Σ s_i) on the Ising ring of n spins, by enumeration of all 2ⁿ amplitudes."""
    return spin_chains.tfim_energy_by_enumeration(lambda s: a * s.sum(axis=1), n, h, J) / n


@exercise(
    "09.3",
    wrong=(
        "def product_state_energy(a, h, J):\n"
        "    # ψ taken as the probability (|ψ|, not |ψ|²): <s_i> = tanh a\n"
        "    m = np.tanh(a)\n"
        "    return -J * m**2 - h * np.sqrt(1 - m**2)\n"
        "\n"
        "\n"
        "def mean_field_energy(h, J):\n"
        "    return -J - h**2 / (4 * J) if h < 2 * J else -h\n"
    ),
)
def _mean_field(product_state_energy: Callable[..., float], mean_field_energy: Callable[..., float]) -> str:
    """The product state exp(a Σ s_i): its energy per spin against enumeration of all 2ⁿ amplitudes
    on rings of several n, and its minimum over a against a numerical minimisation of that."""
    energy = function(product_state_energy, "product_state_energy")
    minimum = function(mean_field_energy, "mean_field_energy")
    for a, h, J, n in [
        (0.0, 1.0, 1.0, 4),
        (0.3, 1.0, 1.0, 6),
        (-0.2, 0.5, 2.0, 5),
        (0.8, 2.0, 1.0, 7),
        (1.5, 0.3, 0.5, 6),
    ]:
        got = number(call(energy, "product_state_energy", a, h, J), f"product_state_energy({a}, {h}, {J})")
        want = _product_energy_enumerated(a, h, J, n)
        if abs(got - want) > 1e-9 * max(1.0, abs(want)):
            raise ExerciseError(
                f"your energy per spin of ψ_a(s) = exp(a Σ_i s_i) at a = {a}, h = {h}, J = {J} is {got:.6f}; "
                f"⟨ψ|H|ψ⟩/(n⟨ψ|ψ⟩), enumerated over all 2^{n} configurations of a ring of n = {n} spins, is "
                f"{want:.6f}. The Born weight is |ψ_a(s)|² ∝ Π_i exp(2a s_i): independent spins; the flip term "
                "averages ψ(s^(i))/ψ(s) = exp(−2a s_i)."
            )
    lines = []
    for h, J in [(0.5, 1.0), (1.0, 1.0), (1.5, 1.0), (0.6, 0.5), (2.5, 1.0), (4.0, 1.0)]:
        got = number(call(minimum, "mean_field_energy", h, J), f"mean_field_energy({h}, {J})")
        e_of_a = lambda a, h=h, J=J: _product_energy_enumerated(a, h, J, 4)  # noqa: E731 (even in a)
        grid = np.linspace(0.0, 5.0, 501)
        a0 = grid[np.argmin([e_of_a(a) for a in grid])]  # bracket the minimum on a grid, then refine
        best = scipy.optimize.minimize_scalar(
            e_of_a, bounds=(max(0.0, a0 - 0.01), a0 + 0.01), method="bounded", options={"xatol": 1e-10}
        )
        want, m = float(best.fun), abs(np.tanh(2 * best.x))
        if abs(got - want) > 1e-6 * max(1.0, abs(want)):
            raise ExerciseError(
                f"your mean-field energy per spin at h = {h}, J = {J} is {got:.6f}; the lowest exact energy "
                f"per spin of the product states, minimised numerically over a, is {want:.6f}, at "
                f"m = tanh 2a = {m:.4f}. Minimise −J m² − h √(1 − m²) over m: is the minimum at m = 0, "
                "or where its derivative vanishes?"
            )
        lines.append((h / J, got))
    e_crit = dict(lines)[1.0]
    return (
        f"the product state's energy per spin matches enumeration at 5 (a, h, J, n); its minimum, "
        f"{e_crit:.4f} J at h = J, lies above the exact −4/π = {-4 / np.pi:.4f} J of the infinite chain, "
        "and mean field orders (m ≠ 0) up to h = 2J, twice the exact critical field."
    )
