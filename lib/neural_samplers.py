"""Estimators for samplers with an exact likelihood: the variational free energy, neural importance
sampling (NIS) and independent Metropolis–Hastings, as in lecture 11.

A model ``q`` that gives exact samples ``s ~ q`` *and* their exact ``log q(s)`` (an autoregressive
network, a normalizing flow) can be compared with a Boltzmann distribution ``p(s) = e^{−βE(s)}/Z``
known up to ``Z``. Everything here works on one array of log-weights::

    log w(s) = −β E(s) − log q(s),      w = e^{−βE}/q,      E_q[w] = Z.

* :func:`variational_free_energy`: ``F_q = ⟨E + T log q⟩_q ≥ F`` (Gibbs–Bogoliubov), the sample mean
  and its standard error;
* :func:`nis_free_energy`: ``F̂ = −T ln( (1/n) Σ w_i )``, the log of an unbiased estimate of ``Z``,
  biased *upwards* for finite ``n`` by Jensen's inequality (``E ln Ẑ ≤ ln E Ẑ``), by about
  ``T (1/ESS − 1) / (2n)``; and never above the same samples' ``F_q`` estimate;
* :func:`self_normalised`: ``⟨O⟩_p ≈ Σ w_i O_i / Σ w_i`` with its delta-method error;
* :func:`effective_sample_size`: ``(Σ w)² / (n Σ w²)``, the fraction of ``n`` that weighted samples
  are worth (1 when ``q = p``);
* :func:`independent_metropolis`: a Markov chain that proposes fresh draws of ``q`` and accepts with
  ``min(1, w(s')/w(s))``, exact for any ``q`` that is positive wherever ``p`` is.

None of these can see what ``q`` never samples: a mode that ``q`` misses changes neither the ESS nor
the error bars (lecture 11, section 6). Conventions: every function takes NumPy arrays (or anything
``np.asarray`` accepts) of shape ``(n,)``, float64.

Typical use::

    from lib import neural_samplers as ns
    log_w = -beta * energies - log_q
    F, dF = ns.nis_free_energy(log_w, T)
    ess = ns.effective_sample_size(log_w)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "effective_sample_size",
    "independent_metropolis",
    "log_mean_exp",
    "nis_free_energy",
    "self_normalised",
    "variational_free_energy",
]


def _vector(x: Any, name: str, *, min_len: int = 1) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or a.shape[0] < min_len:
        raise ValueError(f"{name} must be a 1-D array of at least {min_len} numbers, got shape {a.shape}")
    return a


def _finite(a: np.ndarray, name: str) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has {int(np.sum(~np.isfinite(a)))} entries that are not finite")
    return a


def _temperature(T: Any) -> float:
    T = float(T)
    if not (math.isfinite(T) and T > 0):
        raise ValueError(f"the temperature T must be positive and finite, got {T}")
    return T


def log_mean_exp(log_w: Any) -> float:
    """``ln((1/n) Σ_i e^{log_w_i})`` without overflow. Entries may be ``−inf`` (zero weights)."""
    a = _vector(log_w, "log_w")
    if np.any(np.isnan(a)) or np.any(a == np.inf):
        raise ValueError("log_w must not contain NaN or +inf")
    m = float(a.max())
    if m == -np.inf:
        return -math.inf
    return m + math.log(float(np.mean(np.exp(a - m))))


def effective_sample_size(log_w: Any) -> float:
    """Kish's effective sample size as a fraction of ``n``: ``(Σ w)² / (n Σ w²)``, in ``[1/n, 1]``."""
    a = _finite(_vector(log_w, "log_w"), "log_w")
    w = np.exp(a - a.max())
    return float(w.sum() ** 2 / (len(w) * (w * w).sum()))


def variational_free_energy(energy: Any, log_q: Any, T: float) -> tuple[float, float]:
    """``(F_q, its standard error)`` from samples ``s_i ~ q``: the mean of ``E(s_i) + T log q(s_i)``.

    By the Gibbs–Bogoliubov inequality ``F_q ≥ F = −T ln Z`` for every normalised ``q``, with
    equality only when ``q`` is the Boltzmann distribution (then every term equals ``F``, and the
    standard error is 0: the zero-variance property of the variational estimate).
    """
    T = _temperature(T)
    e = _finite(_vector(energy, "energy", min_len=2), "energy")
    lq = _finite(_vector(log_q, "log_q", min_len=2), "log_q")
    if e.shape != lq.shape:
        raise ValueError(f"energy and log_q must have the same length, got {e.shape} and {lq.shape}")
    f = e + T * lq
    return float(f.mean()), float(f.std(ddof=1) / math.sqrt(len(f)))


def nis_free_energy(log_w: Any, T: float) -> tuple[float, float]:
    """``(F̂, its standard error)`` from log-weights ``log w_i = −E(s_i)/T − log q(s_i)``, ``s_i ~ q``.

    ``F̂ = −T ln Ẑ`` with ``Ẑ = (1/n) Σ w_i``, an unbiased estimate of ``Z``. The error is the delta
    method's, ``T · sd(w) / (√n · mean(w))`` (ignoring the ``O(1/n)`` bias, which is positive:
    ``E[F̂] ≥ F`` by Jensen's inequality). Both the estimate and its error come from the weights that
    were drawn: weights that ``q`` almost never produces are missed by both.
    """
    T = _temperature(T)
    a = _finite(_vector(log_w, "log_w", min_len=2), "log_w")
    w = np.exp(a - a.max())
    log_z = float(a.max()) + math.log(float(w.mean()))
    rel = float(w.std(ddof=1) / (math.sqrt(len(w)) * w.mean()))  # s.e. of Ẑ / Ẑ
    return -T * log_z, T * rel


def self_normalised(log_w: Any, values: Any) -> tuple[np.ndarray | float, np.ndarray | float]:
    """``(Σ w_i O_i / Σ w_i, its delta-method standard error)`` for ``values`` shaped ``(n,)`` or
    ``(n, k)`` (k observables at once). The error is ``√(Σ w_i² (O_i − Ô)²) / Σ w_i``."""
    a = _finite(_vector(log_w, "log_w", min_len=2), "log_w")
    v = np.asarray(values, dtype=np.float64)
    if v.shape[:1] != a.shape or v.ndim not in (1, 2):
        raise ValueError(f"values must be shaped (n,) or (n, k) with n = {len(a)}, got {v.shape}")
    _finite(v.reshape(-1), "values")
    w = np.exp(a - a.max())
    w = w / w.sum()
    est = np.tensordot(w, v, axes=(0, 0))
    err = np.sqrt(np.tensordot(w * w, (v - est) ** 2, axes=(0, 0)))
    if v.ndim == 1:
        return float(est), float(err)
    return est, err


def independent_metropolis(log_w: Any, uniforms: Any = None, *, seed: Any = None) -> tuple[np.ndarray, float]:
    """Independent Metropolis–Hastings on proposals already drawn from ``q``.

    ``log_w[k]`` is the log-weight of proposal ``k`` (proposals i.i.d. from ``q``, in the order they
    are offered). The chain starts at proposal 0; at step ``k ≥ 1`` it moves to proposal ``k`` with
    probability ``min(1, w_k / w_current)``, else stays. Since the proposal does not depend on the
    current state, ``p(s) q(s') min(1, w(s')/w(s)) = min(p(s) q(s'), p(s') q(s))`` is symmetric in
    ``s ↔ s'``: detailed balance holds for any ``q`` (positive wherever ``p`` is).

    Args:
        log_w: ``(n,)`` log-weights ``−βE − log q`` (any constant offset cancels).
        uniforms: ``(n,)`` uniforms in ``[0, 1)`` deciding the steps (entry 0 unused); drawn from
            ``np.random.default_rng(seed)`` when not given.

    Returns:
        ``(index, acceptance)``: ``index[k]`` is the proposal the chain is at after step ``k``
        (``index[0] = 0``), so ``values[index]`` is the chain's time series of any observable; and
        the fraction of steps ``k ≥ 1`` that accepted.
    """
    a = _vector(log_w, "log_w", min_len=2)
    if np.any(np.isnan(a)) or np.any(a == np.inf):
        raise ValueError("log_w must not contain NaN or +inf")
    n = len(a)
    u = np.random.default_rng(seed).random(n) if uniforms is None else _vector(uniforms, "uniforms")
    if u.shape != (n,):
        raise ValueError(f"uniforms must have the shape of log_w, ({n},), got {u.shape}")
    log_u = np.log(np.where(u > 0, u, np.finfo(np.float64).tiny))
    index = np.empty(n, dtype=np.int64)
    current, accepted = 0, 0
    index[0] = 0
    for k in range(1, n):  # sequential by nature; n ~ 10⁵ takes a fraction of a second
        if log_u[k] < a[k] - a[current]:
            current = k
            accepted += 1
        index[k] = current
    return index, accepted / (n - 1)
