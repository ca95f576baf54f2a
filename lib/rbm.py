"""Measuring binary restricted Boltzmann machines: free energies, exact and AIS partition
functions, and log-likelihoods.

Framework-free: NumPy arrays in, floats (or NumPy arrays) out, so the PyTorch, Keras and
Ising lectures evaluate their models with the same code. Conventions (as in the lectures)::

    E(v, h) = -b·v - c·h - vᵀ W h,        W: (n_visible, n_hidden), b: (n_visible,), c: (n_hidden,)
    F(v)    = -b·v - Σ_j softplus(c_j + (vᵀW)_j)          (free energy, h summed out)
    log p(v) = -F(v) - log Z

Public functions:

- :func:`free_energy` per sample;
- :func:`log_partition_exact` by enumerating the smaller layer (≤ ``max_units`` units);
- :func:`log_partition_ais`, annealed importance sampling (Salakhutdinov & Murray 2008) from a
  base-rate RBM, vectorised over runs: ``log Ẑ`` is a stochastic *lower* bound on ``log Z``
  (``E[Ẑ] = Z``, so ``E[log Ẑ] ≤ log Z``), which makes the log-likelihood it gives a stochastic
  *upper* bound;
- :func:`log_likelihood_raise`, reverse AIS (RAISE, Burda, Grosse & Salakhutdinov 2015): per test
  image a stochastic *lower* bound on the log-likelihood of the annealed model, which tends to
  the RBM as the schedule is refined, so that AIS and RAISE bracket the test log-likelihood;
- :func:`log_likelihood`, the mean log-likelihood per sample in nats;
- :func:`base_rate_bias` and :func:`base_rate_log_likelihood`: the independent-pixel model
  fitted to the data's pixel marginals, the natural baseline (and AIS starting point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

__all__ = [
    "AISResult",
    "RAISEResult",
    "ais_betas",
    "base_rate_bias",
    "base_rate_log_likelihood",
    "binary_states",
    "free_energy",
    "log_likelihood",
    "log_likelihood_raise",
    "log_partition_ais",
    "log_partition_exact",
]

#: Default largest layer :func:`log_partition_exact` agrees to enumerate (2**25 states).
MAX_EXACT_UNITS = 25


# --------------------------------------------------------------------------- validation


def _as_params(W: Any, b: Any, c: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate (W, b, c) and return them as float64 arrays."""
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (n_visible, n_hidden), got shape {W.shape}")
    n_visible, n_hidden = W.shape
    if n_visible == 0 or n_hidden == 0:
        raise ValueError(f"W must have at least one visible and one hidden unit, got shape {W.shape}")
    if b.shape != (n_visible,):
        raise ValueError(f"visible bias b must have shape ({n_visible},) to match W {W.shape}, got {b.shape}")
    if c.shape != (n_hidden,):
        raise ValueError(f"hidden bias c must have shape ({n_hidden},) to match W {W.shape}, got {c.shape}")
    for name, x in (("W", W), ("b", b), ("c", c)):
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} contains NaN or infinite values")
    return W, b, c


def _as_visible(v: Any, n_visible: int, *, binary: bool = False) -> np.ndarray:
    """Return ``v`` as a float64 array (N, n_visible); accepts e.g. (N, 28, 28) images."""
    v = np.asarray(v)
    if hasattr(v, "dtype") and v.dtype == object:
        raise ValueError("v must be a numeric array")
    if v.ndim == 1 and v.shape[0] == n_visible:
        v = v[None, :]
    elif v.ndim >= 2 and math.prod(v.shape[1:]) == n_visible:
        v = v.reshape(v.shape[0], n_visible)
    else:
        raise ValueError(
            f"v must have shape (N, {n_visible}) (or (N, ...) with {n_visible} values per sample), got {v.shape}"
        )
    if v.shape[0] == 0:
        raise ValueError("v holds no samples")
    v = v.astype(np.float64, copy=False)
    if binary and not np.all((v == 0.0) | (v == 1.0)):
        raise ValueError("v must be binary (0/1) for a log-likelihood; binarize the data first")
    return v


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), stable for any x (no overflow warnings)."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


# --------------------------------------------------------------------------- free energy / LL


def free_energy(v: Any, W: Any, b: Any, c: Any) -> np.ndarray:
    """Free energy ``F(v) = -b·v - Σ_j softplus(c_j + (vᵀW)_j)`` of each sample.

    Args:
        v: visible configurations, shape (N, n_visible) (or (N, 28, 28) etc.).
        W, b, c: weights (n_visible, n_hidden), visible bias, hidden bias.

    Returns:
        float64 array (N,) with ``p(v) = exp(-F(v)) / Z``.
    """
    W, b, c = _as_params(W, b, c)
    v = _as_visible(v, W.shape[0])
    return -(v @ b) - _softplus(v @ W + c).sum(axis=1)


def log_likelihood(v: Any, W: Any, b: Any, c: Any, log_z: float) -> float:
    """Mean log-likelihood per sample, ``mean(-F(v)) - log Z``, in nats.

    ``log_z`` comes from :func:`log_partition_exact` or :func:`log_partition_ais`
    (pass ``result.log_z``); ``v`` must be binary.
    """
    W, b, c = _as_params(W, b, c)
    v = _as_visible(v, W.shape[0], binary=True)
    log_z = float(log_z)
    if not math.isfinite(log_z):
        raise ValueError(f"log_z must be finite, got {log_z}")
    return float(np.mean(-free_energy(v, W, b, c)) - log_z)


# --------------------------------------------------------------------------- exact log Z


def binary_states(n: int, dtype: Any = np.float64) -> np.ndarray:
    """All ``2**n`` binary vectors of length ``n``, shape ``(2**n, n)``: row ``k`` is the binary
    expansion of ``k``, least significant bit first. The one enumeration of the course (exact
    RBM partition functions, exact Ising thermodynamics)."""
    if not isinstance(n, (int, np.integer)) or not 0 <= n <= 30:
        raise ValueError(f"n must be an integer in [0, 30] (2**n states), got {n!r}")
    idx = np.arange(2**n, dtype=np.int64)[:, None]
    return ((idx >> np.arange(n, dtype=np.int64)) & 1).astype(dtype)


def _log_sum_small_layer(W: np.ndarray, a: np.ndarray, bias_big: np.ndarray, chunk_bits: int) -> float:
    """log Σ_s exp(a·s + Σ_i softplus(bias_big_i + (W s)_i)) over binary s of the small layer.

    ``W`` is (n_big, n_small). States are split into low bits (a block of 2**k rows computed
    once) and high bits (looped over), so the inner step is one broadcast add and a softplus.
    """
    n = W.shape[1]
    k = min(n, chunk_bits)
    lo = binary_states(k)  # (2^k, k)
    hi = binary_states(n - k)  # (2^(n-k), n-k)
    pre_lo = (lo @ W[:, :k].T).astype(np.float32)  # (2^k, n_big)
    lin_lo = lo @ a[:k]  # (2^k,)
    pre_hi = hi @ W[:, k:].T + bias_big  # (2^(n-k), n_big)
    lin_hi = hi @ a[k:]  # (2^(n-k),)
    buf = np.empty_like(pre_lo)
    tmp = np.empty_like(pre_lo)
    # If no pre-activation can leave (-80, 80), log1p(exp(x)) cannot overflow or underflow in
    # float32: two passes instead of six (the inner loop is the whole cost for 25 units).
    fast = float(np.max(np.abs(bias_big) + np.abs(W).sum(axis=1))) < 80.0
    running_max, running_sum = -np.inf, 0.0
    for j in range(hi.shape[0]):
        np.add(pre_lo, pre_hi[j].astype(np.float32), out=buf)  # (2^k, n_big) pre-activations
        if fast:
            np.exp(buf, out=buf)
            np.log1p(buf, out=buf)
        else:  # softplus(x) = max(x, 0) + log1p(exp(-|x|)), in place
            np.abs(buf, out=tmp)
            np.negative(tmp, out=tmp)
            np.exp(tmp, out=tmp)
            np.log1p(tmp, out=tmp)
            np.maximum(buf, 0.0, out=buf)
            buf += tmp
        terms = buf.sum(axis=1, dtype=np.float64) + lin_lo + lin_hi[j]  # (2^k,)
        m = float(terms.max())
        if m > running_max:
            running_sum = running_sum * math.exp(running_max - m) if running_sum else 0.0
            running_max = m
        running_sum += float(np.exp(terms - running_max).sum())
    return running_max + math.log(running_sum)


def log_partition_exact(W: Any, b: Any, c: Any, *, max_units: int = MAX_EXACT_UNITS) -> float:
    """Exact ``log Z`` by summing over every state of the smaller layer.

    With hidden layer smaller: ``log Z = log Σ_h exp(c·h + Σ_i softplus(b_i + (W h)_i))``
    (and symmetrically over v). The cost is 2**min(n_visible, n_hidden) × max(…): about a
    minute for 784×25 on a laptop core, milliseconds for ≤ 16 units.

    Raises:
        ValueError: bad shapes, or the smaller layer has more than ``max_units`` units
            (use :func:`log_partition_ais` then).
    """
    W, b, c = _as_params(W, b, c)
    n_visible, n_hidden = W.shape
    n_small = min(n_visible, n_hidden)
    if n_small > max_units:
        raise ValueError(
            f"exact log Z needs 2**{n_small} terms (smaller layer has {n_small} units, limit "
            f"max_units={max_units}); use log_partition_ais for an RBM this size"
        )
    # ~2**16 floats per chunk keeps the working set in cache.
    n_big = max(n_visible, n_hidden)
    chunk_bits = max(0, min(n_small, int(math.log2(max(1, 2**16 // n_big)))))
    if n_hidden <= n_visible:
        return _log_sum_small_layer(W, c, b, chunk_bits)
    return _log_sum_small_layer(W.T, b, c, chunk_bits)


# --------------------------------------------------------------------------- base rate


def base_rate_bias(v: Any, *, pseudocount: float = 1.0) -> np.ndarray:
    """Visible biases of the independent-pixel ("base-rate") model fitted to data ``v``.

    ``p_i = (Σ_n v_ni + pseudocount) / (N + 2·pseudocount)`` (smoothed so that pixels never
    on in the data get a finite bias) and ``bias_i = log(p_i / (1 - p_i))``.
    """
    v = np.asarray(v)
    if v.ndim < 2:
        raise ValueError(f"v must be a batch of samples (N, n_visible) or (N, H, W), got shape {v.shape}")
    if pseudocount <= 0:
        raise ValueError(f"pseudocount must be positive, got {pseudocount}")
    v = _as_visible(v, math.prod(v.shape[1:]))
    p = (v.sum(axis=0) + pseudocount) / (v.shape[0] + 2.0 * pseudocount)
    return np.log(p) - np.log1p(-p)


def base_rate_log_likelihood(v: Any, bias: Any) -> float:
    """Mean log-likelihood (nats) of binary ``v`` under independent pixels with logits ``bias``."""
    bias = np.asarray(bias, dtype=np.float64)
    if bias.ndim != 1:
        raise ValueError(f"bias must be 1-D (n_visible,), got shape {bias.shape}")
    v = _as_visible(v, bias.shape[0], binary=True)
    return float(np.mean(v @ bias) - _softplus(bias).sum())


# --------------------------------------------------------------------------- AIS


def ais_betas(n_betas: int) -> np.ndarray:
    """Inverse temperatures 0 = β_0 < … < β_K = 1, ``n_betas`` values in all.

    The schedule of Salakhutdinov & Murray (2008) scaled to ``n_betas``: 500/14500 of the
    steps spaced uniformly in [0, 0.5], 4000/14500 in [0.5, 0.9] and 10000/14500 in [0.9, 1],
    because the distributions change fastest near β = 1.
    """
    if int(n_betas) != n_betas or n_betas < 2:
        raise ValueError(f"n_betas must be an integer ≥ 2, got {n_betas}")
    n_betas = int(n_betas)
    n1 = max(1, round(n_betas * 500 / 14500))
    n2 = max(1, round(n_betas * 4000 / 14500))
    n3 = max(1, n_betas - 1 - n1 - n2)
    betas = np.concatenate(
        [
            np.linspace(0.0, 0.5, n1, endpoint=False),
            np.linspace(0.5, 0.9, n2, endpoint=False),
            np.linspace(0.9, 1.0, n3 + 1),
        ]
    )
    return betas


@dataclass(frozen=True)
class AISResult:
    """An AIS estimate of ``log Z``.

    ``log_z = log Z_A + log r̂``, with ``r̂`` the mean of the ``n_runs`` importance weights.
    ``log_z_low``/``log_z_high``: ``log Z_A + log(r̂ ∓ 3ŝ)``, ŝ the standard error of the mean
    weight (as Salakhutdinov & Murray report); ``log_z_low`` is ``-inf`` when ``r̂ ≤ 3ŝ``. The
    interval measures the weights' sample spread only: heavy-tailed weights give a narrow interval
    that misses a biased estimate (compare a schedule with more betas, and
    :func:`log_likelihood_raise`). ``log_weights``: the per-run log importance weights
    (``log Z_A`` excluded). ``n_betas`` counts every β, both ends included: ``n_betas - 1``
    transitions.
    """

    log_z: float
    log_z_low: float
    log_z_high: float
    log_z_base: float
    n_betas: int
    n_runs: int
    log_weights: np.ndarray = field(repr=False)


class _Path:
    """The path of AIS and RAISE between the base-rate RBM A (``W = 0``, ``c = 0``, visible biases
    ``b_A``) and the target B, with the hidden units summed out::

        log p*_β(v) = (1-β) b_A·v + β b·v + Σ_j softplus(β (c_j + (vᵀW)_j))

    ``Z_0 = 2^H Π_i (1 + e^{b_A,i})``; ``p*_1 = exp(-F)``. Products in float32, sums in float64.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, c: np.ndarray, b_a: np.ndarray) -> None:
        self.W = W.astype(np.float32)  # (D, H)
        self.WT = np.ascontiguousarray(self.W.T)  # (H, D)
        self.c = c.astype(np.float32)
        self.b, self.b_a = b.astype(np.float32), b_a.astype(np.float32)
        self.diff_b = (b - b_a).astype(np.float32)  # d/dβ of the visible term
        self.log_z_base = float(_softplus(b_a).sum() + W.shape[1] * math.log(2.0))

    def pre_h(self, v: np.ndarray) -> np.ndarray:
        """``c + vᵀW`` per row: (R, D) -> (R, H)."""
        return v @ self.W + self.c

    def log_ratio(self, v: np.ndarray, pre_h: np.ndarray, beta: float, beta_from: float) -> np.ndarray:
        """``log p*_β(v) - log p*_β'(v)`` per row (β' = ``beta_from``), given ``pre_h(v)``."""
        out = (beta - beta_from) * (v @ self.diff_b).astype(np.float64)
        out += (_softplus(beta * pre_h) - _softplus(beta_from * pre_h)).sum(axis=1, dtype=np.float64)
        return out

    def gibbs(self, pre_h: np.ndarray, beta: float, rng: np.random.Generator) -> np.ndarray:
        """One block-Gibbs step v -> h -> v' that leaves ``p_β`` invariant (and is reversible with
        respect to it), given ``pre_h(v)``: ``p_β(h_j=1|v) = σ(β (c_j + (vᵀW)_j))``,
        ``p_β(v_i=1|h) = σ((1-β) b_A,i + β (b_i + (W h)_i))``."""
        n = pre_h.shape[0]
        h = (rng.random(pre_h.shape, dtype=np.float32) < expit(beta * pre_h)).astype(np.float32)
        pre_v = (1.0 - beta) * self.b_a + beta * (h @ self.WT + self.b)  # (R, D)
        return (rng.random((n, self.W.shape[0]), dtype=np.float32) < expit(pre_v)).astype(np.float32)


def _base_bias(base_visible_bias: Any, n_visible: int) -> np.ndarray:
    if base_visible_bias is None:
        return np.zeros(n_visible)
    b_a = np.asarray(base_visible_bias, dtype=np.float64)
    if b_a.shape != (n_visible,) or not np.all(np.isfinite(b_a)):
        raise ValueError(f"base_visible_bias must be finite with shape ({n_visible},), got {b_a.shape}")
    return b_a


def _n_runs(n_runs: Any, minimum: int) -> int:
    if isinstance(n_runs, bool) or int(n_runs) != n_runs or n_runs < minimum:
        raise ValueError(f"n_runs must be an integer ≥ {minimum}, got {n_runs}")
    return int(n_runs)


def log_partition_ais(
    W: Any,
    b: Any,
    c: Any,
    *,
    n_betas: int,
    n_runs: int,
    seed: int | np.random.Generator | None = None,
    base_visible_bias: Any = None,
) -> AISResult:
    """Estimate ``log Z`` of an RBM by annealed importance sampling (Salakhutdinov & Murray 2008).

    The intermediate distributions interpolate between the base-rate RBM A (no weights, no hidden
    biases, visible biases ``b_A = base_visible_bias``, zeros by default) and the target B::

        p*_β(v) = exp((1-β) b_A·v + β b·v) Π_j (1 + exp(β (c_j + (vᵀW)_j)))

    so ``Z_0 = 2^n_hidden Π_i (1 + e^{b_A,i})`` is known. Each of ``n_runs`` chains starts with an
    exact sample ``v_0`` of A; for k = 1, …, K (K = ``n_betas`` - 1) it multiplies its weight by
    ``p*_{β_k}(v_{k-1}) / p*_{β_{k-1}}(v_{k-1})`` and then draws ``v_k`` by one block-Gibbs step
    that leaves ``p_{β_k}`` invariant (the last step is not needed). The mean weight ``r̂`` is an
    unbiased estimate of ``Z_B / Z_A``; ``log r̂`` underestimates ``log(Z_B / Z_A)`` on average
    (Jensen), by more the wider the weights spread, i.e. the fewer the betas. All runs advance
    together (one matrix product per layer per β).

    Returns:
        :class:`AISResult` with ``log_z``, ``log_z_low``, ``log_z_high`` (±3 standard errors of
        the mean weight), and the per-run log weights.
    """
    W, b, c = _as_params(W, b, c)
    n_visible = W.shape[0]
    n_runs = _n_runs(n_runs, 2)
    betas = ais_betas(n_betas)
    b_a = _base_bias(base_visible_bias, n_visible)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    path = _Path(W, b, c, b_a)

    v = (rng.random((n_runs, n_visible), dtype=np.float32) < expit(path.b_a)).astype(np.float32)  # (R, V)
    log_w = np.zeros(n_runs)
    for k in range(1, len(betas)):
        beta_prev, beta = float(betas[k - 1]), float(betas[k])
        pre_h = path.pre_h(v)  # (R, H)
        log_w += path.log_ratio(v, pre_h, beta, beta_prev)  # log p*_β(v) - log p*_β'(v)
        if k < len(betas) - 1:  # one Gibbs step at β_k (not needed after the last weight)
            v = path.gibbs(pre_h, beta, rng)

    # log of the mean weight and of mean ± 3 standard errors, computed relative to the max weight
    m = float(log_w.max())
    w = np.exp(log_w - m)
    mean = float(w.mean())
    sem = float(w.std(ddof=1) / math.sqrt(n_runs))
    log_z = path.log_z_base + m + math.log(mean)
    high = path.log_z_base + m + math.log(mean + 3.0 * sem)
    low = path.log_z_base + m + math.log(mean - 3.0 * sem) if mean - 3.0 * sem > 0 else -math.inf
    return AISResult(
        log_z=log_z,
        log_z_low=low,
        log_z_high=high,
        log_z_base=path.log_z_base,
        n_betas=len(betas),
        n_runs=n_runs,
        log_weights=log_w,
    )


# --------------------------------------------------------------------------- RAISE


@dataclass(frozen=True)
class RAISEResult:
    """A RAISE estimate of the mean log-likelihood of images ``v``.

    ``log_likelihood``: the mean over the images of ``per_image``, each ``log`` of the mean of
    its ``n_runs`` importance weights (``log_weights``, shape (N, n_runs)): on average a lower
    bound on the annealed model's ``log p_ann(v)``.
    """

    log_likelihood: float
    per_image: np.ndarray = field(repr=False)
    log_weights: np.ndarray = field(repr=False)
    n_betas: int
    n_runs: int


def log_likelihood_raise(
    v: Any,
    W: Any,
    b: Any,
    c: Any,
    *,
    n_betas: int,
    n_runs: int = 1,
    seed: int | np.random.Generator | None = None,
    base_visible_bias: Any = None,
) -> RAISEResult:
    """Reverse annealed importance sampling (RAISE; Burda, Grosse & Salakhutdinov 2015): a
    conservative estimate of the mean log-likelihood of the binary images ``v``.

    The *annealed model* is the distribution of the last state of the chain that AIS would run
    with one more transition: ``x_0 ~ p_A``, ``x_k ~ T_k(·|x_{k-1})`` for k = 1, …, K (``T_k`` the
    block-Gibbs step at β_k, the last one at β_K = 1), ``p_ann(v) = P(x_K = v)``. It tends to the
    RBM's ``p(v)`` as the schedule is refined. RAISE estimates ``p_ann(v)`` by importance sampling
    with the *reverse* chain as proposal: ``x_K = v``, then ``x_{k-1} ~ T_k(·|x_k)`` for
    k = K, …, 1. Since ``T_k`` is reversible with respect to ``p_{β_k}``, the weight is::

        w = p_A(x_0) Π_k T_k(x_k|x_{k-1}) / Π_k T_k(x_{k-1}|x_k)
          = p*_1(v) / [Z_A Π_{k=1..K} p*_{β_k}(x_{k-1}) / p*_{β_{k-1}}(x_{k-1})]

    the ratio ``p*(v) / Ẑ`` of AIS, with AIS's product taken along the reverse chain. ``E[w] =
    p_ann(v)`` exactly, so ``E[log mean w] ≤ log p_ann(v)`` (Jensen): a stochastic lower bound on
    the annealed model's log-likelihood, where AIS gives a stochastic upper bound on the RBM's.
    That ``p_ann`` scores test images no better than the RBM itself is what Burda et al. argue and
    observe (a short annealing gives a cruder model), not a theorem: read the two as a bracket
    that closes as the schedule is refined.

    Args:
        v: binary images (N, n_visible) (or (N, 28, 28)).
        W, b, c: the RBM.
        n_betas: the schedule :func:`ais_betas` (both ends included).
        n_runs: reverse chains per image (N × n_runs chains advance together).
        seed: a seed or ``np.random.Generator``.
        base_visible_bias: ``b_A`` of the base-rate RBM, as for :func:`log_partition_ais`.

    Returns:
        :class:`RAISEResult`.
    """
    W, b, c = _as_params(W, b, c)
    n_visible = W.shape[0]
    v = _as_visible(v, n_visible, binary=True)
    n_runs = _n_runs(n_runs, 1)
    betas = ais_betas(n_betas)
    b_a = _base_bias(base_visible_bias, n_visible)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    path = _Path(W, b, c, b_a)

    x = np.repeat(v.astype(np.float32), n_runs, axis=0)  # (N·R, D), the runs of an image together
    log_w = -free_energy(v, W, b, c).repeat(n_runs) - path.log_z_base  # log p*_1(v) - log Z_A
    pre_h = path.pre_h(x)
    for k in range(len(betas) - 1, 0, -1):  # x_{k-1} ~ T_k(·|x_k), then its weight factor
        beta, beta_prev = float(betas[k]), float(betas[k - 1])
        x = path.gibbs(pre_h, beta, rng)
        pre_h = path.pre_h(x)
        log_w -= path.log_ratio(x, pre_h, beta, beta_prev)  # log p*_{β_k-1}(x) - log p*_{β_k}(x)
    log_w = log_w.reshape(len(v), n_runs)
    m = log_w.max(axis=1, keepdims=True)
    per_image = (m + np.log(np.exp(log_w - m).mean(axis=1, keepdims=True)))[:, 0]
    return RAISEResult(
        log_likelihood=float(per_image.mean()),
        per_image=per_image,
        log_weights=log_w,
        n_betas=len(betas),
        n_runs=n_runs,
    )
