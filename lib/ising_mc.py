"""Monte Carlo for the two-dimensional Ising model of :mod:`lib.ising` (same conventions):
vectorised checkerboard Metropolis and Wolff cluster updates, the integrated autocorrelation
time, and observables with error bars.

Typical use::

    from lib import ising, ising_mc
    spins = ising_mc.sample(16, ising.ONSAGER_TC, 4000, seed=0)   # (4000, 16, 16) int8
    obs = ising_mc.observables(spins, ising.ONSAGER_TC)          # means and error bars
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from .ising import ONSAGER_TC, check_L, check_spins, check_temperature, energy, magnetization

__all__ = ["integrated_autocorrelation_time", "observables", "sample"]

Algorithm = Literal["wolff", "metropolis"]


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
        algorithm: ``"wolff"`` or ``"metropolis"`` (checkerboard). Use Wolff near ``T_c``, where
            local moves suffer critical slowing down (``τ ~ L^z``, ``z ≈ 2.17`` for Metropolis,
            ``z ≈ 0.25`` for Wolff). Away from ``T_c`` the correlation length is short and
            Metropolis is fine: far above ``T_c`` Wolff's clusters are tiny, and far below it the
            mean cluster covers a fraction ``⟨M²⟩/N² ≈ m²`` of the lattice (the mean size of the
            cluster of a random seed spin is ``⟨M²⟩/N`` exactly), so a flip is nearly the global
            sign flip that the random output sign already provides.
        n_burn: burn-in sweeps (default 50 for Wolff, 1000 for Metropolis).
        n_between: sweeps between emitted configurations (default 5 for Wolff, 50 for Metropolis).
        n_chains: parallel chains (default ``min(n_samples, 1000)``).
        seed: seed of the NumPy generator (``None``: fresh entropy).
        progress: show a tqdm progress bar.

    Returns:
        ``int8`` array ``(n_samples, L, L)`` of ±1.
    """
    L = check_L(L)
    T = check_temperature(T)
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
    s = check_spins(spins)
    T = check_temperature(T)
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
