"""The two-dimensional Ising model: energies, exact enumeration, Onsager's solution and fast
vectorised Monte Carlo (checkerboard Metropolis and Wolff cluster updates).

Conventions used everywhere in this module:

* spins are ``±1`` (stored as ``int8``), a batch of configurations is shaped ``(n, L, L)``;
* coupling ``J = 1``, no field, periodic boundaries, and each bond counted once::

      E(s) = −Σ_i s_i (s_right(i) + s_down(i))

* temperatures are in units of ``J / k_B`` (so ``β = 1 / T``);
* "per spin" quantities are divided by ``N = L²``.

Typical use::

    from lib import ising
    spins = ising.sample(16, ising.ONSAGER_TC, 4000, seed=0)   # (4000, 16, 16) int8
    obs = ising.observables(spins, ising.ONSAGER_TC)          # means and error bars
    ex = ising.exact(4, 2.5)                                  # all 65,536 states of L = 4
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from .rbm import binary_states

__all__ = [
    "ONSAGER_TC",
    "all_states",
    "bits_to_spins",
    "energy",
    "exact",
    "integrated_autocorrelation_time",
    "magnetization",
    "observables",
    "onsager_energy_per_spin",
    "onsager_magnetization",
    "sample",
    "spins_to_bits",
]

#: Onsager's critical temperature of the infinite square lattice, ``2 / ln(1 + √2) ≈ 2.269``.
ONSAGER_TC: float = 2.0 / math.log(1.0 + math.sqrt(2.0))

#: The largest lattice :func:`exact` will enumerate (2^16 = 65,536 states).
MAX_EXACT_L = 4

Algorithm = Literal["wolff", "metropolis"]


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_temperature(T: float) -> float:
    try:
        T = float(T)
    except (TypeError, ValueError):
        raise ValueError(f"temperature T must be a positive number, got {T!r}") from None
    if not math.isfinite(T) or T <= 0:
        raise ValueError(f"temperature T must be positive and finite (units of J/k_B), got {T}")
    return T


def _check_L(L: int, *, minimum: int = 2) -> int:
    if not isinstance(L, (int, np.integer)) or isinstance(L, bool) or L < minimum:
        raise ValueError(f"lattice size L must be an integer ≥ {minimum}, got {L!r}")
    return int(L)


def _check_spins(spins: Any) -> np.ndarray:
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
    s = _check_spins(spins).astype(np.int64)
    bonds = s * np.roll(s, -1, axis=2) + s * np.roll(s, -1, axis=1)  # right + down neighbours
    return -bonds.sum(axis=(1, 2))


def magnetization(spins: Any) -> np.ndarray:
    """Total magnetization ``M(s) = Σ_i s_i`` of each configuration, ``(n,)`` int64."""
    s = _check_spins(spins)
    return s.sum(axis=(1, 2), dtype=np.int64)


def spins_to_bits(spins: Any) -> np.ndarray:
    """Map ±1 spins ``(n, L, L)`` to binary units ``v = (s + 1) / 2``, float32 ``(n, L·L)``.

    The flattening is row-major (site ``i = row·L + col``), as in :func:`all_states`.
    """
    s = _check_spins(spins)
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
    L = _check_L(L)
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
    L = _check_L(L)
    T = _check_temperature(T)
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


# --------------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------------


def _metropolis_sweep(
    s: np.ndarray, beta: float, rng: np.random.Generator, masks: tuple[np.ndarray, ...]
) -> None:
    """One checkerboard Metropolis sweep of every chain in ``s`` (C, L, L) int8, in place.

    Sites of one colour have all four neighbours in the other colour (L even), so each half
    of the lattice is updated simultaneously with the exact single-spin acceptance
    ``min(1, exp(−β ΔE))``, ``ΔE = 2 s_i h_i``, ``h_i`` = sum of the four neighbours.
    """
    # acceptance probability indexed by s_i·h_i + 4 ∈ {0, 2, 4, 6, 8}
    table = np.minimum(1.0, np.exp(-2.0 * beta * (np.arange(9) - 4))).astype(np.float32)
    u = rng.random(s.shape, dtype=np.float32)  # one uniform per site and sweep
    for mask in masks:
        h = np.roll(s, 1, 1) + np.roll(s, -1, 1) + np.roll(s, 1, 2) + np.roll(s, -1, 2)  # (C, L, L)
        flip = (u < table[s * h + 4]) & mask
        s[flip] *= -1


def _neighbour_table(L: int) -> np.ndarray:
    idx = np.arange(L * L).reshape(L, L)
    nbrs = [np.roll(idx, 1, 0), np.roll(idx, -1, 0), np.roll(idx, 1, 1), np.roll(idx, -1, 1)]
    return np.stack([a.ravel() for a in nbrs], axis=1)  # (N, 4)


def _wolff_update(
    flat: np.ndarray,
    n_sites: int,
    nbr: np.ndarray,
    p_add: float,
    rng: np.random.Generator,
    scratch: np.ndarray,
) -> np.ndarray:
    """One Wolff single-cluster update of every chain, in place on ``flat`` (C·N,) int8.

    The clusters of all chains grow together breadth-first: each new cluster site tests the
    bond to each of its four neighbours once, adding an aligned neighbour with probability
    ``p_add = 1 − exp(−2β)``. Sites are flipped as they join, so "aligned with the seed's
    original spin and not yet in the cluster" is a single comparison. ``scratch`` is an int64
    array shaped like ``flat`` used to de-duplicate without sorting. Returns cluster sizes (C,).
    """
    n_chains = flat.size // n_sites
    chain = np.arange(n_chains)
    seed_site = rng.integers(n_sites, size=n_chains)
    gidx = chain * n_sites + seed_site
    s0 = flat[gidx].copy()  # the seeds' original spins (C,)
    flat[gidx] = -s0
    sizes = np.ones(n_chains, dtype=np.int64)
    frontier = gidx
    while frontier.size:
        c = frontier // n_sites
        cand = (nbr[frontier - c * n_sites] + (c * n_sites)[:, None]).ravel()  # (4F,)
        cc = np.repeat(c, 4)
        aligned = flat[cand] == s0[cc]
        cand, cc = cand[aligned], cc[aligned]
        cand = cand[rng.random(cand.size) < p_add]
        # a site reached through two bonds joins once: keep the last writer of each index
        order = np.arange(cand.size)
        scratch[cand] = order
        frontier = cand[scratch[cand] == order]
        c_new = frontier // n_sites
        flat[frontier] = -s0[c_new]
        sizes += np.bincount(c_new, minlength=n_chains)
    return sizes


def sample(
    L: int,
    T: float,
    n_samples: int,
    *,
    algorithm: Algorithm = "wolff",
    n_burn: int | None = None,
    n_between: int | None = None,
    n_chains: int | None = None,
    seed: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Equilibrium configurations of the ``L×L`` Ising model at temperature ``T``.

    ``n_chains`` independent chains run in parallel (vectorised NumPy). After ``n_burn``
    sweeps each chain emits a configuration every ``n_between`` sweeps; the output is in time
    order, chain index fastest: ``out[t·n_chains + c]``. Use ``n_chains=n_samples`` for fully
    independent samples, or few chains with ``n_between=1`` for correlated time series.

    A *sweep* is ``L²`` single-spin Metropolis attempts (one checkerboard pass), or, for Wolff,
    ``ceil(L² / ⟨|C|⟩)`` cluster flips with the mean cluster size ``⟨|C|⟩`` measured during
    burn-in (so one Wolff sweep also flips about ``L²`` spins). Each output configuration is
    multiplied by an independent random global sign, an exact symmetry of the Boltzmann
    distribution, so both ordered phases appear even when a chain is stuck in one.

    Args:
        L: lattice size (``≥ 2``; even for Metropolis, which needs a checkerboard).
        T: temperature (``> 0``).
        n_samples: number of configurations to return.
        algorithm: ``"wolff"`` (use near and below ``T_c``) or ``"metropolis"`` (checkerboard;
            fine well above ``T_c``, slow near it: critical slowing down).
        n_burn: burn-in sweeps (default 50 for Wolff, 1000 for Metropolis).
        n_between: sweeps between emitted configurations (default 5 for Wolff, 50 for Metropolis).
        n_chains: parallel chains (default ``min(n_samples, 1000)``).
        seed: seed of the NumPy generator (``None``: fresh entropy).
        progress: show a tqdm progress bar.

    Returns:
        ``int8`` array ``(n_samples, L, L)`` of ±1.
    """
    L = _check_L(L)
    T = _check_temperature(T)
    if algorithm not in ("wolff", "metropolis"):
        raise ValueError(f"algorithm must be 'wolff' or 'metropolis', got {algorithm!r}")
    if algorithm == "metropolis" and L % 2:
        raise ValueError(f"checkerboard Metropolis needs an even L (periodic checkerboard), got L={L}")
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    wolff = algorithm == "wolff"
    n_burn = (50 if wolff else 1000) if n_burn is None else n_burn
    n_between = (5 if wolff else 50) if n_between is None else n_between
    n_chains = min(int(n_samples), 1000) if n_chains is None else n_chains
    for name, value, lo in (("n_burn", n_burn, 0), ("n_between", n_between, 1), ("n_chains", n_chains, 1)):
        if not isinstance(value, (int, np.integer)) or value < lo:
            raise ValueError(f"{name} must be an integer ≥ {lo}, got {value!r}")

    rng = np.random.default_rng(seed)
    beta = 1.0 / T
    n_sites = L * L
    n_per_chain = -(-int(n_samples) // n_chains)
    # Cold start (each chain with a random sign) below T_c, hot start above.
    if T < ONSAGER_TC:
        s = np.repeat(rng.choice(np.array([-1, 1], np.int8), n_chains)[:, None, None], L, 1).repeat(L, 2)
    else:
        s = rng.choice(np.array([-1, 1], np.int8), size=(n_chains, L, L))
    s = np.ascontiguousarray(s, dtype=np.int8)

    if wolff:
        flat = s.reshape(-1)  # a view: updates act on s
        nbr = _neighbour_table(L)
        p_add = 1.0 - math.exp(-2.0 * beta)
        scratch = np.empty(flat.size, dtype=np.int64)
        # Burn-in: cluster flips until on average n_burn·N spins have been flipped per chain
        # (at least 10 flips), measuring the mean cluster size on the second half.
        flipped, sizes = 0.0, []
        while flipped < n_burn * n_sites or len(sizes) < 10:
            size = _wolff_update(flat, n_sites, nbr, p_add, rng, scratch)
            sizes.append(size.mean())
            flipped += sizes[-1]
        mean_size = float(np.mean(sizes[len(sizes) // 2 :]))
        per_sweep = max(1, math.ceil(n_sites / mean_size))

        def step() -> None:
            for _ in range(per_sweep):
                _wolff_update(flat, n_sites, nbr, p_add, rng, scratch)
    else:
        parity = np.add.outer(np.arange(L), np.arange(L)) % 2
        masks = (parity == 0, parity == 1)
        for _ in range(n_burn):
            _metropolis_sweep(s, beta, rng, masks)

        def step() -> None:
            _metropolis_sweep(s, beta, rng, masks)

    out = np.empty((n_per_chain, n_chains, L, L), dtype=np.int8)
    iterator: Any = range(n_per_chain)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=f"{algorithm} L={L} T={T:.3f}", leave=False)
    for t in iterator:
        if t > 0 or n_burn == 0:
            for _ in range(n_between):
                step()
        out[t] = s
    out = out.reshape(-1, L, L)[:n_samples]
    signs = rng.choice(np.array([-1, 1], np.int8), size=len(out))
    return out * signs[:, None, None]


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def integrated_autocorrelation_time(x: Any, *, c: float = 5.0) -> float:
    """Integrated autocorrelation time ``τ_int = 1/2 + Σ_{t≥1} ρ(t)`` of a time series.

    ``x`` is ``(T,)`` or ``(T, n_chains)`` (independent chains, same dynamics; their
    autocorrelation functions are averaged). The sum is cut at Sokal's self-consistent window
    ``W ≥ c·τ_int(W)``. The standard error of the mean of ``T·n_chains`` correlated values is
    ``σ √(2 τ_int / (T·n_chains))``. Returns 0.5 for a constant series (no fluctuations).
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 4:
        raise ValueError(f"x must be shaped (T,) or (T, n_chains) with T ≥ 4, got shape {a.shape}")
    n = a.shape[0]
    a = a - a.mean(axis=0)
    var = float(np.mean(a**2))
    if var == 0.0:
        return 0.5
    # autocovariance of every chain by FFT (zero-padded: no wrap-around), averaged over chains
    f = np.fft.rfft(a, n=2 * n, axis=0)
    acov = np.fft.irfft(f * np.conj(f), axis=0)[:n].mean(axis=1) / n
    rho = acov / acov[0]
    tau = 0.5
    for w in range(1, n):
        tau += rho[w]
        if w >= c * tau:
            break
    return float(max(tau, 0.5))


def observables(spins: Any, T: float, *, n_blocks: int = 20) -> dict[str, float]:
    """Per-spin thermodynamic estimates from a batch of configurations, with error bars.

    Same keys as :func:`exact` (``energy_per_spin``, ``abs_magnetization_per_spin``,
    ``specific_heat_per_spin``, ``susceptibility_per_spin``) plus ``<key>_err``, a jackknife
    error over ``n_blocks`` consecutive blocks. Blocking makes the error bars honest for
    time-ordered correlated samples as long as a block is much longer than the autocorrelation
    time; for independent samples it is the ordinary jackknife.
    """
    s = _check_spins(spins)
    T = _check_temperature(T)
    n, L = s.shape[0], s.shape[1]
    if not isinstance(n_blocks, (int, np.integer)) or n_blocks < 2 or n < n_blocks:
        raise ValueError(
            f"need n_blocks ≥ 2 and at least n_blocks configurations, got {n_blocks} blocks, {n} samples"
        )
    n_sites = L * L
    e = energy(s).astype(np.float64)
    am = np.abs(magnetization(s)).astype(np.float64)

    def estimate(e: np.ndarray, am: np.ndarray) -> np.ndarray:
        return np.array(
            [
                e.mean() / n_sites,
                am.mean() / n_sites,
                e.var() / (n_sites * T**2),
                (np.mean(am**2) - am.mean() ** 2) / (n_sites * T),
            ]
        )

    full = estimate(e, am)
    blocks = np.array_split(np.arange(n), n_blocks)
    jack = np.array([estimate(np.delete(e, b), np.delete(am, b)) for b in blocks])  # (B, 4)
    err = np.sqrt((n_blocks - 1) / n_blocks * ((jack - jack.mean(axis=0)) ** 2).sum(axis=0))
    keys = (
        "energy_per_spin",
        "abs_magnetization_per_spin",
        "specific_heat_per_spin",
        "susceptibility_per_spin",
    )
    out: dict[str, float] = {}
    for k, v, dv in zip(keys, full, err, strict=True):
        out[k] = float(v)
        out[k + "_err"] = float(dv)
    return out
