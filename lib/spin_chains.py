"""Quantum spin chains for lecture 09: the transverse-field Ising and Heisenberg chains, their
exact references (closed form, sparse Hamiltonians for exact diagonalisation) and the local
energies that variational Monte Carlo averages. The wavefunctions and the optimiser are in
:mod:`lib.nqs`.

Conventions used everywhere (and in :mod:`lib.nqs`):

* a configuration is a row ``s`` of ``n`` spins ``s_i = ±1`` (the σᶻ eigenvalues); a batch is
  shaped ``(B, n)`` (any real dtype; ``float64`` is used internally);
* **bit order** of the 2ⁿ-dimensional Hilbert space: basis state ``x = 0 … 2ⁿ−1`` has spin ``i``
  given by bit ``n−1−i`` of ``x`` (spin 0 is the most significant bit), with bit 0 ↦ ``s_i = +1``
  and bit 1 ↦ ``s_i = −1``. So ``x = 0`` is all spins up and :func:`spin_states` lists the
  configurations in the order of the rows and columns of :func:`tfim_hamiltonian`;
* both chains have periodic boundaries; σ are Pauli matrices (no factors 1/2);
* a wavefunction is given to the local energies as a callable ``log_psi`` mapping a batch
  ``(B, n)`` to log-amplitudes ``(B,)`` (real, or complex for signed/complex states).

The models:

* transverse-field Ising chain ``H = −J Σ_i σᶻ_i σᶻ_{i+1} − h Σ_i σˣ_i``
  (:func:`tfim_hamiltonian`, :func:`tfim_local_energy`, closed form :func:`tfim_ground_energy`);
* Heisenberg chain ``H = Σ_i σ_i · σ_{i+1}`` (:func:`heisenberg_hamiltonian`,
  :func:`heisenberg_local_energy`), optionally in the Marshall-rotated basis in which its ground
  state is positive.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "HEISENBERG_E0_22",
    "MAX_EXACT_SPINS",
    "LogPsi",
    "call_log_psi",
    "check_field",
    "check_n",
    "check_spins",
    "exact_energy",
    "heisenberg_hamiltonian",
    "heisenberg_local_energy",
    "local_energy",
    "marshall_sign",
    "spin_states",
    "tfim_ground_energy",
    "tfim_hamiltonian",
    "tfim_local_energy",
    "wavefunction_vector",
]

LogPsi = Callable[[np.ndarray], np.ndarray]

#: Ground-state energy of the periodic Heisenberg chain ``Σ σ_i·σ_{i+1}`` with n = 22 spins
#: (Pauli matrices), by exact (Lanczos) diagonalisation: the reference value of NetKet's ground-state tutorial.
HEISENBERG_E0_22: float = -39.14752260706246

#: Largest chain :func:`tfim_hamiltonian` and :func:`heisenberg_hamiltonian` agree to build.
MAX_EXACT_SPINS = 22


# --------------------------------------------------------------------------- validation


def check_n(n: Any, *, max_n: int | None = None) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 2:
        raise ValueError(f"the chain length n must be an integer ≥ 2, got {n!r}")
    if max_n is not None and n > max_n:
        raise ValueError(f"n = {n} spins is too many for an exact 2ⁿ-dimensional matrix (at most {max_n})")
    return int(n)


def check_spins(s: Any, n: int | None = None) -> np.ndarray:
    a = np.asarray(s, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] < 2:
        raise ValueError(f"configurations must be shaped (B, n) with n ≥ 2, got shape {a.shape}")
    if n is not None and a.shape[1] != n:
        raise ValueError(f"configurations have {a.shape[1]} spins, the model has {n}")
    if not np.all(np.abs(a) == 1.0):
        raise ValueError("spins must be ±1")
    return a


def check_field(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def call_log_psi(log_psi: LogPsi, s: np.ndarray) -> np.ndarray:
    out = np.asarray(log_psi(s))
    if out.shape != (s.shape[0],):
        raise ValueError(
            f"log_psi must map a batch (B, n) to shape (B,), got {out.shape} for B = {s.shape[0]}"
        )
    return out


# --------------------------------------------------------------------------- exact results


def spin_states(n: int) -> np.ndarray:
    """All 2ⁿ configurations as a ``(2ⁿ, n)`` float array of ±1, in the module's bit order
    (row ``x``: spin ``i`` is ``+1`` when bit ``n−1−i`` of ``x`` is 0)."""
    n = check_n(n, max_n=MAX_EXACT_SPINS)
    x = np.arange(2**n, dtype=np.int64)[:, None]
    bits = (x >> np.arange(n - 1, -1, -1, dtype=np.int64)) & 1
    return 1.0 - 2.0 * bits


def _basis_index(s: np.ndarray) -> np.ndarray:
    n = s.shape[1]
    bits = (s < 0).astype(np.int64)
    return bits @ (1 << np.arange(n - 1, -1, -1, dtype=np.int64))


def tfim_ground_energy(n: int, h: float, J: float = 1.0) -> float:
    """Exact ground-state energy of the periodic transverse-field Ising chain with an even number
    of spins, from its Jordan–Wigner free-fermion solution (Pfeuty 1970)::

        E₀ = −Σ_{m=1}^{n} √(J² + h² − 2 J h cos k_m),   k_m = (2m − 1) π / n.

    (The ground state lies in the even fermion-parity sector, whose momenta are antiperiodic.)

    Raises:
        ValueError: for odd ``n`` (its ground state lies in the other parity sector), ``n < 2``,
            or non-finite couplings.
    """
    n = check_n(n)
    h = check_field("h", h)
    J = check_field("J", J)
    if n % 2:
        raise ValueError(f"the closed form holds for an even number of spins, got n = {n}")
    k = (2 * np.arange(1, n + 1) - 1) * np.pi / n
    return float(-np.sum(np.sqrt(np.maximum(J * J + h * h - 2 * J * h * np.cos(k), 0.0))))


def tfim_hamiltonian(n: int, h: float, J: float = 1.0) -> sp.csr_matrix:
    """``H = −J Σ_i σᶻ_i σᶻ_{i+1} − h Σ_i σˣ_i`` (periodic) as a sparse ``(2ⁿ, 2ⁿ)`` CSR matrix
    in the σᶻ basis, rows and columns in the bit order of :func:`spin_states` (spin ``i`` is bit
    ``n−1−i`` of the basis index, bit 0 = spin up).

    Raises:
        ValueError: for ``n < 2`` or ``n > 22``.
    """
    n = check_n(n, max_n=MAX_EXACT_SPINS)
    h = check_field("h", h)
    J = check_field("J", J)
    dim = 2**n
    s = spin_states(n)
    diag = -J * np.sum(s * np.roll(s, -1, axis=1), axis=1)
    x = np.arange(dim, dtype=np.int64)
    rows = [x]
    cols = [x]
    vals = [diag]
    for i in range(n):
        rows.append(x)
        cols.append(x ^ (1 << (n - 1 - i)))
        vals.append(np.full(dim, -h))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(dim, dim)
    )


def marshall_sign(s: Any) -> np.ndarray:
    """The Marshall sign ``(−1)^{N↑(A)}`` of each configuration, ``N↑(A)`` the number of up
    spins on the even sites. Multiplying the Heisenberg ground state by it makes it positive
    (for an even chain)."""
    a = check_spins(s)
    n_up_even = np.sum(a[:, ::2] > 0, axis=1)
    return 1.0 - 2.0 * (n_up_even % 2)


def heisenberg_hamiltonian(
    n: int, *, marshall: bool = False, magnetization: int | None = None
) -> tuple[sp.csr_matrix, np.ndarray]:
    """``H = Σ_i σ_i · σ_{i+1}`` (Pauli matrices, periodic) in the σᶻ basis.

    Returns ``(H, states)``: the sparse matrix and the ``(D, n)`` configurations that index its
    rows and columns (all 2ⁿ in the order of :func:`spin_states`, or only those with
    ``Σ s_i = magnetization`` when that is given, e.g. 0, in the same relative order).
    ``marshall=True`` gives the Hamiltonian in the Marshall-rotated basis (the exchange term
    changes sign), whose ground state is positive for even ``n``; the spectrum is the same.

    Raises:
        ValueError: for ``n < 2``, ``n > 22`` or an impossible magnetization.
    """
    n = check_n(n, max_n=MAX_EXACT_SPINS)
    s = spin_states(n)
    if magnetization is not None:
        if (
            not isinstance(magnetization, (int, np.integer))
            or abs(magnetization) > n
            or (n - magnetization) % 2
        ):
            raise ValueError(f"a chain of {n} spins cannot have Σ s_i = {magnetization!r}")
        s = s[np.sum(s, axis=1) == magnetization]
    dim = len(s)
    x = _basis_index(s)
    lookup = np.full(2**n, -1, dtype=np.int64)
    lookup[x] = np.arange(dim)
    diag = np.sum(s * np.roll(s, -1, axis=1), axis=1)
    rows, cols, vals = [np.arange(dim)], [np.arange(dim)], [diag]
    off = -2.0 if marshall else 2.0  # σˣσˣ + σʸσʸ = 2(σ⁺σ⁻ + σ⁻σ⁺) flips an antiparallel pair
    for i in range(n):
        j = (i + 1) % n
        anti = np.nonzero(s[:, i] != s[:, j])[0]
        flipped = x[anti] ^ ((1 << (n - 1 - i)) | (1 << (n - 1 - j)))
        rows.append(anti)
        cols.append(lookup[flipped])
        vals.append(np.full(len(anti), off))
    H = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(dim, dim))
    return H, s


def wavefunction_vector(log_psi: LogPsi, states: Any) -> np.ndarray:
    """The normalised amplitudes ``ψ(s) / ‖ψ‖`` on the rows of ``states`` (e.g.
    :func:`spin_states`), computed stably from the log-amplitudes."""
    s = check_spins(states)
    lp = call_log_psi(log_psi, s)
    v = np.exp(lp - np.max(lp.real))
    return v / np.linalg.norm(v)


def exact_energy(log_psi: LogPsi, H: Any, states: Any) -> float:
    """The variational energy ``⟨ψ|H|ψ⟩ / ⟨ψ|ψ⟩`` by exact enumeration over ``states`` (the
    configurations indexing the rows of ``H``): no sampling."""
    v = wavefunction_vector(log_psi, states)
    return float(np.real(np.vdot(v, H @ v)))


# --------------------------------------------------------------------------- local energies


def tfim_local_energy(log_psi: LogPsi, s: Any, h: float, J: float = 1.0) -> np.ndarray:
    """Local energy ``E_loc(s) = Σ_{s'} H_{s s'} ψ(s')/ψ(s)`` of the transverse-field Ising chain::

        E_loc(s) = −J Σ_i s_i s_{i+1} − h Σ_i ψ(s with spin i flipped) / ψ(s)

    for a batch ``s`` of shape ``(B, n)`` (entries ±1) and any callable ``log_psi`` mapping such a
    batch to log-amplitudes ``(B,)``, evaluated on the ``n`` flipped copies of every row. Given an
    object with a ``flip_log_ratios(s) -> (B, n)`` method (an :class:`RBM` or
    :class:`SymmetricRBM` itself, not its bound ``log_psi``) it uses that instead, the same
    numbers ``n`` times cheaper. Returns shape ``(B,)`` (complex if ``log_psi`` is)."""
    a = check_spins(s)
    h = check_field("h", h)
    J = check_field("J", J)
    B, n = a.shape
    if hasattr(log_psi, "flip_log_ratios"):  # an RBM object: n times cheaper
        log_ratios = np.asarray(log_psi.flip_log_ratios(a))
    else:
        lp = call_log_psi(log_psi, a)
        flipped = np.repeat(a[:, None, :], n, axis=1)  # (B, n, n): copy i has spin i flipped
        idx = np.arange(n)
        flipped[:, idx, idx] *= -1.0
        log_ratios = call_log_psi(log_psi, flipped.reshape(B * n, n)).reshape(B, n) - lp[:, None]
    ratios = np.exp(log_ratios)
    e = -J * np.sum(a * np.roll(a, -1, axis=1), axis=1) - h * np.sum(ratios, axis=1)
    return e if np.iscomplexobj(e) else e.astype(np.float64)


#: The issue's name for the transverse-field Ising local energy.
local_energy = tfim_local_energy


def heisenberg_local_energy(log_psi: LogPsi, s: Any, *, marshall: bool = True) -> np.ndarray:
    """Local energy of the Heisenberg chain ``Σ_i σ_i·σ_{i+1}`` (periodic)::

        E_loc(s) = Σ_i s_i s_{i+1} ± 2 Σ_{i: s_i ≠ s_{i+1}} ψ(s with i, i+1 exchanged) / ψ(s)

    with ``−2`` in the Marshall-rotated basis (``marshall=True``, where a positive ``ψ`` can be
    exact) and ``+2`` in the original one. Shapes as in :func:`tfim_local_energy`; an object with
    a ``pair_flip_log_ratios`` method (an RBM) is used through it."""
    a = check_spins(s)
    B, n = a.shape
    i = np.arange(n)
    j = (i + 1) % n
    anti = a[:, i] != a[:, j]  # (B, n): only antiparallel pairs are exchanged by H
    if hasattr(log_psi, "pair_flip_log_ratios"):  # an RBM object: exchange = flip of both spins
        log_ratios = np.asarray(log_psi.pair_flip_log_ratios(a))
    else:
        lp = call_log_psi(log_psi, a)
        swapped = np.repeat(a[:, None, :], n, axis=1)  # copy i has spins i and i+1 exchanged
        swapped[:, i, i] = a[:, j]
        swapped[:, i, j] = a[:, i]
        log_ratios = call_log_psi(log_psi, swapped.reshape(B * n, n)).reshape(B, n) - lp[:, None]
    ratios = np.where(anti, np.exp(np.where(anti, log_ratios, 0.0)), 0.0)
    off = -2.0 if marshall else 2.0
    e = np.sum(a * np.roll(a, -1, axis=1), axis=1) + off * np.sum(ratios, axis=1)
    return e if np.iscomplexobj(e) else e.astype(np.float64)
