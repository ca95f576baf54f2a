"""The two-dimensional Ising model: energies, conversions, exact enumeration and Onsager's
solution. Its Monte Carlo (checkerboard Metropolis, Wolff clusters, autocorrelation times and
error bars) is in :mod:`lib.ising_mc`.

Conventions used everywhere in this module:

* spins are ``±1`` (stored as ``int8``), a batch of configurations is shaped ``(n, L, L)``;
* coupling ``J = 1``, no field, periodic boundaries, and each bond counted once::

      E(s) = −Σ_i s_i (s_right(i) + s_down(i))

* temperatures are in units of ``J / k_B`` (so ``β = 1 / T``);
* "per spin" quantities are divided by ``N = L²``.

Typical use::

    from lib import ising
    ex = ising.exact(4, 2.5)                                  # all 65,536 states of L = 4
    ising.onsager_energy_per_spin(2.0)                        # the infinite lattice
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from .rbm import binary_states

__all__ = [
    "ONSAGER_TC",
    "all_states",
    "bits_to_spins",
    "check_L",
    "check_spins",
    "check_temperature",
    "energy",
    "exact",
    "magnetization",
    "onsager_energy_per_spin",
    "onsager_magnetization",
    "spins_to_bits",
]

#: Onsager's critical temperature of the infinite square lattice, ``2 / ln(1 + √2) ≈ 2.269``.
ONSAGER_TC: float = 2.0 / math.log(1.0 + math.sqrt(2.0))

#: The largest lattice :func:`exact` will enumerate (2^16 = 65,536 states).
MAX_EXACT_L = 4


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def check_temperature(T: float) -> float:
    """Return ``T`` as a float, or raise a clear ValueError unless it is finite and positive."""
    try:
        T = float(T)
    except (TypeError, ValueError):
        raise ValueError(f"temperature T must be a positive number, got {T!r}") from None
    if not math.isfinite(T) or T <= 0:
        raise ValueError(f"temperature T must be positive and finite (units of J/k_B), got {T}")
    return T


def check_L(L: int, *, minimum: int = 2) -> int:
    """Return the lattice size ``L`` as an int, or raise a clear ValueError below ``minimum``."""
    if not isinstance(L, (int, np.integer)) or isinstance(L, bool) or L < minimum:
        raise ValueError(f"lattice size L must be an integer ≥ {minimum}, got {L!r}")
    return int(L)


def check_spins(spins: Any) -> np.ndarray:
    """Return ``spins`` as an ``int8`` array ``(n, L, L)`` of ±1, or raise a clear ValueError."""
    s = np.asarray(spins)
    if s.ndim != 3 or s.shape[1] != s.shape[2] or s.shape[1] < 2:
        raise ValueError(
            f"spins must be a batch of square lattices shaped (n, L, L) with L ≥ 2, got shape {s.shape}"
        )
    if s.dtype == bool or not (np.issubdtype(s.dtype, np.integer) or np.issubdtype(s.dtype, np.floating)):
        raise ValueError(f"spins must be numbers ±1, got dtype {s.dtype}")
    if s.size and not np.all((s == 1) | (s == -1)):
        bad = np.unique(s[(s != 1) & (s != -1)])[:5]
        raise ValueError(
            f"spins must be ±1 (found values such as {bad.tolist()}); "
            "convert 0/1 bits with ising.bits_to_spins"
        )
    return s.astype(np.int8, copy=False)


# --------------------------------------------------------------------------------------------
# Observables of single configurations
# --------------------------------------------------------------------------------------------


def energy(spins: Any) -> np.ndarray:
    """Total energy ``E(s) = −Σ_i s_i (s_right(i) + s_down(i))`` of each configuration.

    Args:
        spins: ±1 configurations shaped ``(n, L, L)`` (any integer or float dtype).

    Returns:
        ``(n,)`` int64 energies (divide by ``L²`` for the energy per spin).
    """
    s = check_spins(spins).astype(np.int64)
    bonds = s * np.roll(s, -1, axis=2) + s * np.roll(s, -1, axis=1)  # right + down neighbours
    return -bonds.sum(axis=(1, 2))


def magnetization(spins: Any) -> np.ndarray:
    """Total magnetization ``M(s) = Σ_i s_i`` of each configuration, ``(n,)`` int64."""
    s = check_spins(spins)
    return s.sum(axis=(1, 2), dtype=np.int64)


def spins_to_bits(spins: Any) -> np.ndarray:
    """Map ±1 spins ``(n, L, L)`` to binary units ``v = (s + 1) / 2``, float32 ``(n, L·L)``.

    The flattening is row-major (site ``i = row·L + col``), as in :func:`all_states`.
    """
    s = check_spins(spins)
    return ((s.reshape(len(s), -1).astype(np.float32) + 1.0) / 2.0).astype(np.float32)


def bits_to_spins(bits: Any, L: int | None = None) -> np.ndarray:
    """Map binary units (0/1, shaped ``(n, L·L)`` or ``(n, L, L)``) to ±1 spins ``(n, L, L)`` int8.

    Accepts NumPy arrays or PyTorch/TensorFlow tensors. ``L`` defaults to ``√(n_units)``.
    """
    if hasattr(bits, "detach"):
        bits = bits.detach().cpu().numpy()
    elif hasattr(bits, "numpy") and not isinstance(bits, np.ndarray):
        bits = bits.numpy()
    v = np.asarray(bits)
    if v.ndim == 3:
        v = v.reshape(len(v), -1)
    if v.ndim != 2:
        raise ValueError(f"bits must be shaped (n, L*L) or (n, L, L), got shape {v.shape}")
    n_units = v.shape[1]
    side = round(math.sqrt(n_units)) if L is None else int(L)
    if side * side != n_units:
        raise ValueError(f"{n_units} units per configuration is not an L×L lattice (L={side})")
    if v.size and not np.all((v == 0) | (v == 1)):
        raise ValueError("bits must be exactly 0 or 1 (sample them first, e.g. torch.bernoulli)")
    return (2 * v.astype(np.int8) - 1).reshape(-1, side, side)


# --------------------------------------------------------------------------------------------
# Exact enumeration and Onsager's solution
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _enumeration(L: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    states = all_states(L)
    states.setflags(write=False)
    e = energy(states)
    m = magnetization(states)
    e.setflags(write=False)
    m.setflags(write=False)
    return states, e, m


def all_states(L: int) -> np.ndarray:
    """All ``2^(L²)`` configurations of an ``L×L`` lattice, int8 ``(2^(L²), L, L)``, for ``L ≤ 4``.

    Order: state ``k`` has spin ``s_i = +1`` exactly when bit ``i`` of ``k`` is set, where
    ``i = row·L + col`` (row-major). Equivalently ``spins_to_bits(all_states(L))[k]`` is the
    binary expansion of ``k`` with the least significant bit first. :func:`exact` returns its
    probability vector in this order.
    """
    L = check_L(L)
    if L > MAX_EXACT_L:
        raise ValueError(f"enumeration is only feasible for L ≤ {MAX_EXACT_L} (2^{L * L} states for L={L})")
    bits = binary_states(L * L, np.int8)  # (2^n, n)
    return (2 * bits - 1).reshape(-1, L, L)


def exact(L: int, T: float) -> dict[str, Any]:
    """Exact thermodynamics of the ``L×L`` periodic Ising model by enumerating all states.

    Args:
        L: lattice size, ``2 ≤ L ≤ 4``.
        T: temperature (``> 0``, units of ``J/k_B``).

    Returns:
        A dict with

        * ``energy_per_spin``: ``⟨E⟩ / N``;
        * ``abs_magnetization_per_spin``: ``⟨|M|⟩ / N``;
        * ``specific_heat_per_spin``: ``(⟨E²⟩ − ⟨E⟩²) / (N T²)``;
        * ``susceptibility_per_spin``: ``(⟨M²⟩ − ⟨|M|⟩²) / (N T)`` (the finite-lattice
          convention with ``|M|``, since ``⟨M⟩ = 0`` by symmetry);
        * ``probabilities``: ``(2^N,)`` Boltzmann probabilities in the order of :func:`all_states`;
        * ``log_partition``: ``ln Z``; ``energies`` and ``magnetizations``: ``(2^N,)`` per state.
    """
    L = check_L(L)
    T = check_temperature(T)
    if L > MAX_EXACT_L:
        raise ValueError(f"exact() enumerates 2^(L²) states and is limited to L ≤ {MAX_EXACT_L}, got L={L}")
    _, e, m = _enumeration(L)
    n = L * L
    logw = -e / T
    shift = logw.max()
    w = np.exp(logw - shift)
    z = w.sum()
    p = w / z
    e_mean = float(p @ e)
    e2_mean = float(p @ (e.astype(np.float64) ** 2))
    am_mean = float(p @ np.abs(m))
    m2_mean = float(p @ (m.astype(np.float64) ** 2))
    return {
        "L": L,
        "T": T,
        "energy_per_spin": e_mean / n,
        "abs_magnetization_per_spin": am_mean / n,
        "specific_heat_per_spin": (e2_mean - e_mean**2) / (n * T**2),
        "susceptibility_per_spin": (m2_mean - am_mean**2) / (n * T),
        "probabilities": p,
        "log_partition": float(shift + np.log(z)),
        "energies": e,
        "magnetizations": m,
    }


def onsager_energy_per_spin(T: Any) -> np.ndarray | float:
    """Onsager's exact energy per spin of the infinite lattice (``J = 1``).

    ``u(T) = −coth(2β) [1 + (2/π)(2 tanh²(2β) − 1) K(q)]`` with ``q = 2 sinh(2β)/cosh²(2β)``
    and ``K`` the complete elliptic integral of the first kind (modulus ``q``).
    Accepts a scalar or an array of temperatures.
    """
    from scipy.special import ellipk

    t = np.asarray(T, dtype=np.float64)
    if np.any(~np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("temperatures must be positive and finite")
    b2 = 2.0 / t
    q = 2.0 * np.sinh(b2) / np.cosh(b2) ** 2
    # ellipk takes the parameter m = q²; at T_c q = 1 exactly and K diverges, but its prefactor
    # (2 tanh² − 1) vanishes there, so clip q just below 1 to return the (finite) limit.
    k = ellipk(np.minimum(q, 1.0 - 1e-16) ** 2)
    u = -(1.0 / np.tanh(b2)) * (1.0 + (2.0 / np.pi) * (2.0 * np.tanh(b2) ** 2 - 1.0) * k)
    return float(u) if u.ndim == 0 else u


def onsager_magnetization(T: Any) -> np.ndarray | float:
    """Spontaneous magnetization per spin of the infinite lattice (Onsager–Yang):
    ``m(T) = (1 − sinh⁻⁴(2β))^{1/8}`` below ``T_c`` and 0 above. Scalar or array."""
    t = np.asarray(T, dtype=np.float64)
    if np.any(~np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("temperatures must be positive and finite")
    x = 1.0 - np.sinh(2.0 / t) ** -4.0
    m = np.where(t < ONSAGER_TC, np.clip(x, 0.0, None) ** 0.125, 0.0)
    return float(m) if m.ndim == 0 else m
