"""Quantum spin chains for lecture 09: the transverse-field Ising and Heisenberg chains, their
exact references (closed form, sparse Hamiltonians for exact diagonalisation) and the local
energies that variational Monte Carlo averages. The wavefunctions and the optimiser are in
:mod:`lib.nqs`.

Conventions used everywhere (and in :mod:`lib.nqs`):

* a configuration is a row ``s`` of ``n`` spins ``s_i = ±1`` (the σᶻ eigenvalues); a batch is
  shaped ``(B, n)`` (any real dtype; ``float64`` is used internally);
* **bit order** of the 2ⁿ-dimensional Hilbert space: basis state ``x = 0 … 2ⁿ−1`` has spin ``i``
  given by bit ``n−1−i`` of ``x`` (spin 0 is the most significant bit), with a bit value 0 ↦
  ``s_i = +1`` and 1 ↦ ``s_i = −1``. So ``x = 0`` is all spins up, :func:`spin_states` lists the
  configurations in the order of the rows and columns of :func:`tfim_hamiltonian`, and the
  operator σˣ_i, which flips spin ``i``, maps ``x`` to ``x XOR 2^(n−1−i)`` (the bit-flip trick the
  sparse Hamiltonians are built with);
* both chains have periodic boundaries (the transverse-field Ising model also takes any list of
  bonds, e.g. a square lattice); σ are Pauli matrices (no factors 1/2);
* a wavefunction is given to the local energies as a callable ``log_psi`` mapping a batch
  ``(B, n)`` to log-amplitudes ``(B,)`` (real, or complex for signed/complex states).

The models:

* transverse-field Ising chain ``H = −J Σ_i σᶻ_i σᶻ_{i+1} − h Σ_i σˣ_i``
  (:func:`tfim_hamiltonian`, :func:`tfim_local_energy`, closed form :func:`tfim_ground_energy`),
  or the same model on any lattice given by its bonds;
* Heisenberg chain ``H = Σ_i σ_i · σ_{i+1}`` (:func:`heisenberg_hamiltonian`,
  :func:`heisenberg_local_energy`), optionally in the Marshall-rotated basis in which its ground
  state is positive.

:func:`exact_energy` and :func:`tfim_energy_by_enumeration` give the exact variational energy of a
wavefunction (by a sparse ``H``, or for the ring, from its 2ⁿ amplitudes without building ``H``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "MAX_ENUMERATED_SPINS",
    "MAX_EXACT_SPINS",
    "MAX_SECTOR_SPINS",
    "LogPsi",
    "basis_index",
    "call_log_psi",
    "check_field",
    "check_n",
    "check_spins",
    "exact_energy",
    "heisenberg_hamiltonian",
    "heisenberg_local_energy",
    "local_energy",
    "marshall_sign",
    "ring_bonds",
    "spin_states",
    "tfim_energy_by_enumeration",
    "tfim_ground_energy",
    "tfim_hamiltonian",
    "tfim_local_energy",
    "wavefunction_vector",
]

LogPsi = Callable[[np.ndarray], np.ndarray]

#: Largest number of spins whose whole 2ⁿ-dimensional space :func:`spin_states`,
#: :func:`tfim_hamiltonian` and :func:`heisenberg_hamiltonian` build (2²⁰ configurations).
MAX_EXACT_SPINS = 20

#: Largest chain :func:`heisenberg_hamiltonian` builds in one magnetisation sector (n = 22,
#: Σ s_i = 0: 705,432 configurations).
MAX_SECTOR_SPINS = 22

#: Largest ring :func:`tfim_energy_by_enumeration` enumerates (2²⁴ amplitudes).
MAX_ENUMERATED_SPINS = 24


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


def _spins_of(x: np.ndarray, n: int) -> np.ndarray:
    """The ``(len(x), n)`` ±1 configurations of the basis indices ``x`` (module's bit order)."""
    bits = (x[:, None] >> np.arange(n - 1, -1, -1, dtype=np.int64)) & 1
    return 1.0 - 2.0 * bits


def _anti(x: np.ndarray, n: int, i: int, j: int) -> np.ndarray:
    """1 where spins ``i`` and ``j`` of the basis states ``x`` are antiparallel, else 0."""
    return ((x >> (n - 1 - i)) ^ (x >> (n - 1 - j))) & 1


def spin_states(n: int) -> np.ndarray:
    """All 2ⁿ configurations as a ``(2ⁿ, n)`` float array of ±1, in the module's bit order
    (row ``x``: spin ``i`` is ``+1`` when bit ``n−1−i`` of ``x`` is 0)."""
    n = check_n(n, max_n=MAX_EXACT_SPINS)
    return _spins_of(np.arange(2**n, dtype=np.int64), n)


def basis_index(s: Any) -> np.ndarray:
    """The basis index ``x`` of each configuration of a batch ``(B, n)`` (the module's bit order:
    spin ``i`` is bit ``n−1−i``, set for a down spin): the inverse of :func:`spin_states`."""
    a = check_spins(s)
    return (a < 0).astype(np.int64) @ (1 << np.arange(a.shape[1] - 1, -1, -1, dtype=np.int64))


def ring_bonds(n: int) -> list[tuple[int, int]]:
    """The nearest-neighbour bonds ``(i, i+1 mod n)`` of a ring of ``n`` spins."""
    n = check_n(n)
    return [(i, (i + 1) % n) for i in range(n)]


def _check_bonds(bonds: Any, n: int) -> list[tuple[int, int]]:
    if bonds is None:
        return ring_bonds(n)
    out = []
    for bond in bonds:
        try:
            i, j = (int(k) for k in bond)
        except (TypeError, ValueError):
            raise ValueError(f"a bond is a pair of site indices (i, j), got {bond!r}") from None
        if not (0 <= i < n and 0 <= j < n) or i == j:
            raise ValueError(f"bond {bond!r}: sites must be distinct and in 0 … {n - 1}")
        out.append((i, j))
    if not out:
        raise ValueError("bonds must not be empty")
    return out


def tfim_ground_energy(n: int, h: float, J: float = 1.0) -> float:
    """Exact ground-state energy of the periodic transverse-field Ising chain
    ``H = −J Σ σᶻ_i σᶻ_{i+1} − h Σ σˣ_i``, from its Jordan–Wigner free-fermion solution
    (Lieb, Schultz & Mattis 1961; Pfeuty 1970)::

        E₀ = −Σ_{q=1}^{n} √(J² + h² − 2 |J h| cos k_q),   k_q = (2q − 1) π / n.

    The parity ``P = Π_i σˣ_i`` commutes with ``H`` and splits the spectrum into two sectors; in the
    even sector the fermion momenta are the antiperiodic ``k_q`` above. For ``J ≥ 0`` the ground
    state lies in that sector for every ``n``: ``H`` has non-positive off-diagonal elements (take
    ``h > 0``; ``E₀`` is even in ``h``, the rotation ``Π σᶻ_i`` flips its sign), so its ground
    state is unique and positive (Perron–Frobenius), and ``P``, a permutation of the basis, maps
    it to a positive state: ``P ψ₀ = +ψ₀``. For even ``n`` the sign of ``J`` does not matter
    either (rotating every other spin flips it). An odd ring with ``J < 0`` is frustrated, and
    its ground state is not given by this formula.

    Raises:
        ValueError: for odd ``n`` with ``J < 0``, ``n < 2``, or non-finite couplings.
    """
    n = check_n(n)
    h = check_field("h", h)
    J = check_field("J", J)
    if n % 2 and J < 0:
        raise ValueError(
            f"an odd ring (n = {n}) with J < 0 is frustrated: the closed form does not hold there"
        )
    k = (2 * np.arange(1, n + 1) - 1) * np.pi / n
    return float(-np.sum(np.sqrt(np.maximum(J * J + h * h - 2 * abs(J * h) * np.cos(k), 0.0))))


def tfim_hamiltonian(n: int, h: float, J: float = 1.0, *, bonds: Any = None) -> sp.csr_matrix:
    """``H = −J Σ_{(i,j)} σᶻ_i σᶻ_j − h Σ_i σˣ_i`` as a sparse ``(2ⁿ, 2ⁿ)`` CSR matrix in the σᶻ
    basis, rows and columns in the bit order of :func:`spin_states` (spin ``i`` is bit ``n−1−i`` of
    the basis index, a bit value 0 is spin up). The bonds ``(i, j)`` are the ring's
    (:func:`ring_bonds`) unless given, e.g. the bonds of a periodic square lattice. σˣ_i flips bit
    ``n−1−i``: it connects ``x`` with ``x XOR 2^(n−1−i)``.

    Raises:
        ValueError: for ``n < 2``, ``n >`` :data:`MAX_EXACT_SPINS` or a bad bond.
    """
    n = check_n(n, max_n=MAX_EXACT_SPINS)
    h = check_field("h", h)
    J = check_field("J", J)
    x = np.arange(2**n, dtype=np.int64)
    diag = np.zeros(len(x))
    for i, j in _check_bonds(bonds, n):
        diag -= J * (1.0 - 2.0 * _anti(x, n, i, j))  # s_i s_j = +1 parallel, −1 antiparallel
    rows, cols, vals = [x], [x], [diag]
    for i in range(n):
        rows.append(x)
        cols.append(x ^ (1 << (n - 1 - i)))
        vals.append(np.full(len(x), -h))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(x), len(x))
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
    changes sign), whose ground state is positive for even ``n``; the spectrum is the same. The
    sector is built from integer bit strings, so that ``n = 22`` at ``Σ s_i = 0`` (705,432
    configurations) needs no 2ⁿ × n array.

    Raises:
        ValueError: for ``n < 2``, ``n >`` :data:`MAX_EXACT_SPINS` (:data:`MAX_SECTOR_SPINS`
            with a magnetization) or an impossible magnetization.
    """
    n = check_n(n, max_n=MAX_EXACT_SPINS if magnetization is None else MAX_SECTOR_SPINS)
    x = np.arange(2**n, dtype=np.int64)
    if magnetization is not None:
        if (
            not isinstance(magnetization, (int, np.integer))
            or abs(magnetization) > n
            or (n - magnetization) % 2
        ):
            raise ValueError(f"a chain of {n} spins cannot have Σ s_i = {magnetization!r}")
        x = x[np.bitwise_count(x) == (n - magnetization) // 2]  # a set bit is a down spin
    dim = len(x)
    diag = np.zeros(dim)
    rows, cols, vals = [np.arange(dim)], [np.arange(dim)], [diag]
    off = -2.0 if marshall else 2.0  # σˣσˣ + σʸσʸ = 2(σ⁺σ⁻ + σ⁻σ⁺) flips an antiparallel pair
    for i in range(n):
        j = (i + 1) % n
        anti = _anti(x, n, i, j)
        diag += 1.0 - 2.0 * anti
        pair = np.nonzero(anti)[0]
        rows.append(pair)
        cols.append(np.searchsorted(x, x[pair] ^ ((1 << (n - 1 - i)) | (1 << (n - 1 - j)))))
        vals.append(np.full(len(pair), off))
    H = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(dim, dim))
    return H, _spins_of(x, n)


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


def tfim_energy_by_enumeration(
    log_psi: LogPsi, n: int, h: float, J: float = 1.0, *, batch: int = 8192
) -> float:
    """The variational energy ``⟨ψ|H|ψ⟩/⟨ψ|ψ⟩`` of a wavefunction on the transverse-field Ising ring,
    exact (no sampling), from all 2ⁿ amplitudes (computed ``batch`` configurations at a time) and
    without building ``H``: σˣ_i acts on the amplitude vector as the bit flip
    ``x → x XOR 2^(n−1−i)``. Cheaper than :func:`exact_energy` beyond ``n ≈ 16``.

    Raises:
        ValueError: for ``n >`` :data:`MAX_ENUMERATED_SPINS` or a bad batch size.
    """
    n = check_n(n, max_n=MAX_ENUMERATED_SPINS)
    h = check_field("h", h)
    J = check_field("J", J)
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    x = np.arange(2**n, dtype=np.int64)
    lp = np.concatenate(
        [call_log_psi(log_psi, _spins_of(x[k : k + batch], n)) for k in range(0, len(x), batch)]
    )
    v = np.exp(lp - np.max(lp.real))
    bonds = sum(1.0 - 2.0 * _anti(x, n, i, (i + 1) % n) for i in range(n))  # Σ_i s_i s_{i+1}
    flips = sum(v[x ^ (1 << (n - 1 - i))] for i in range(n))  # (Σ_i σˣ_i ψ)(x)
    return float(np.real(np.vdot(v, -J * bonds * v - h * flips)) / np.vdot(v, v).real)


# --------------------------------------------------------------------------- local energies


def tfim_local_energy(log_psi: LogPsi, s: Any, h: float, J: float = 1.0, *, bonds: Any = None) -> np.ndarray:
    """Local energy ``E_loc(s) = Σ_{s'} H_{s s'} ψ(s')/ψ(s)`` of the transverse-field Ising model::

        E_loc(s) = −J Σ_{(i,j)} s_i s_j − h Σ_i ψ(s with spin i flipped) / ψ(s)

    on the ring (or on the given ``bonds``, as in :func:`tfim_hamiltonian`) for a batch ``s`` of
    shape ``(B, n)`` (entries ±1) and any callable ``log_psi`` mapping such a batch to
    log-amplitudes ``(B,)``, evaluated on the ``n`` flipped copies of every row. Given an object
    with a ``flip_log_ratios(s) -> (B, n)`` method (a real :class:`RBM` or :class:`SymmetricRBM`
    itself, not its bound ``log_psi``) it uses that instead, the same numbers ``n`` times cheaper.
    Returns shape ``(B,)`` (complex if ``log_psi`` is)."""
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
    if bonds is None:
        diag = np.sum(a * np.roll(a, -1, axis=1), axis=1)
    else:
        i, j = np.array(_check_bonds(bonds, n)).T
        diag = np.sum(a[:, i] * a[:, j], axis=1)
    e = -J * diag - h * np.sum(ratios, axis=1)
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
