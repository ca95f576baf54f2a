"""Divergences between distributions, each estimated from what a lecture has at hand.

- :func:`kl_divergence` and :func:`js_divergence`: two discrete distributions (histograms, label
  frequencies, cell probabilities of a grid, exact distributions over spin states), or two
  densities on the same uniform grid (``dx``);
- :func:`mmd_rbf` and :func:`mmd_permutation_test`: two sets of samples, with a kernel;
- :func:`frechet_distance`: two sets of feature vectors, through the Gaussians fitted to them
  (the FID's formula; :mod:`lib.metrics` applies it to the features of the course's MNIST
  classifier).

Everything takes NumPy arrays (PyTorch tensors are converted) and returns Python floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["frechet_distance", "js_divergence", "kl_divergence", "mmd_permutation_test", "mmd_rbf"]


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _pair(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two non-negative arrays of one shape, as float64; a ``ValueError`` otherwise."""
    p, q = _numpy(p), _numpy(q)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    if np.any(p < 0) or np.any(q < 0) or not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        raise ValueError("p and q must be finite and non-negative")
    return p, q


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x log y`` with the convention ``0 log 0 = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, y, 1.0)), 0.0)


def kl_divergence(p: Any, q: Any, *, eps: float = 1e-10) -> float:
    r"""``KL(p ‖ q) = Σ p log(p / q)`` (nats) between two discrete distributions of one shape.

    Both must sum to 1. ``q`` is floored at ``eps`` and renormalised, so that a cell that a
    histogram of samples leaves empty gives a large but finite value; ``eps=0`` gives the exact
    value, ``inf`` where ``q`` misses mass that ``p`` has.
    """
    p, q = _pair(p, q)
    if not (np.isclose(p.sum(), 1.0) and np.isclose(q.sum(), 1.0)):
        raise ValueError(f"p and q must sum to 1, got {p.sum():.6g} and {q.sum():.6g}; normalise them first")
    if eps < 0:
        raise ValueError(f"eps must be non-negative, got {eps!r}")
    if eps > 0:
        q = np.maximum(q, eps)
        q = q / q.sum()
    if np.any((p > 0) & (q == 0)):
        return float("inf")
    return float(_xlogy(p, p).sum() - _xlogy(p, q).sum())


def js_divergence(p: Any, q: Any, *, dx: float = 1.0) -> float:
    r"""Jensen–Shannon divergence (nats) between two distributions given on the same points.

    .. math:: \mathrm{JSD}(p\,\|\,q) = \tfrac12 \mathrm{KL}(p\,\|\,m) + \tfrac12 \mathrm{KL}(q\,\|\,m),
              \quad m = \tfrac12 (p + q)

    ``p`` and ``q`` are probabilities (``dx=1``) or densities on a uniform grid with spacing
    ``dx`` (a Riemann sum). The value lies in ``[0, log 2]``.
    """
    p, q = _pair(p, q)
    if not dx > 0:
        raise ValueError(f"dx must be positive, got {dx!r}")
    m = 0.5 * (p + q)
    kl_pm = _xlogy(p, p).sum() - _xlogy(p, m).sum()
    kl_qm = _xlogy(q, q).sum() - _xlogy(q, m).sum()
    return float(0.5 * dx * (kl_pm + kl_qm))


# --------------------------------------------------------------------------- sample sets


def _matrix(x: Any, name: str, min_rows: int = 2) -> np.ndarray:
    arr = _numpy(x)
    if arr.ndim != 2 or len(arr) < min_rows:
        raise ValueError(f"{name} must have shape (N, D) with N ≥ {min_rows}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _sq_dists(z: np.ndarray) -> np.ndarray:
    sq = (z**2).sum(1)
    return np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)


def _median_bandwidth(d2: np.ndarray) -> float:
    off = d2[np.triu_indices_from(d2, k=1)]
    return float(np.sqrt(0.5 * np.median(off))) or 1.0


def _mmd2_from_kernel(k: np.ndarray, assign: np.ndarray) -> np.ndarray:
    """Unbiased MMD² for each column of the 0/1 matrix ``assign`` (N, P) (1 = first sample)."""
    a = assign.astype(np.float64)
    b = 1.0 - a
    n = a.sum(0)
    m = b.sum(0)
    k0 = k - np.diag(np.diag(k))  # drop i = j terms
    xx = (a * (k0 @ a)).sum(0) / (n * (n - 1))
    yy = (b * (k0 @ b)).sum(0) / (m * (m - 1))
    xy = (b * (k @ a)).sum(0) / (n * m)
    return xx + yy - 2 * xy


def _pooled_rbf_kernel(x: Any, y: Any, bandwidth: float | None) -> tuple[np.ndarray, int]:
    """RBF kernel matrix over the pooled samples ``[x; y]`` and the number of ``x`` rows."""
    x, y = _matrix(x, "x"), _matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    d2 = _sq_dists(np.concatenate([x, y]))
    h = _median_bandwidth(d2) if bandwidth is None else bandwidth
    if not h > 0:
        raise ValueError(f"bandwidth must be positive, got {h!r}")
    return np.exp(-d2 / (2 * h**2)), len(x)


def mmd_rbf(x: Any, y: Any, bandwidth: float | None = None) -> float:
    """Unbiased estimate of the squared maximum mean discrepancy with an RBF kernel
    ``k(a, b) = exp(−|a − b|² / (2 h²))``.

    ``MMD² = E k(x, x') + E k(y, y') − 2 E k(x, y)`` is zero iff the two distributions are
    equal; the unbiased estimate can be slightly negative. ``bandwidth`` ``h`` defaults to the
    median heuristic on the pooled samples.
    """
    k, n = _pooled_rbf_kernel(x, y, bandwidth)
    assign = np.zeros((len(k), 1))
    assign[:n] = 1
    return float(_mmd2_from_kernel(k, assign)[0])


def mmd_permutation_test(
    x: Any, y: Any, *, n_permutations: int = 200, bandwidth: float | None = None, seed: int | None = 0
) -> tuple[float, float]:
    """Two-sample test of ``x ~ y`` with the RBF-kernel MMD²: returns ``(mmd2, p_value)``.

    The p-value is the fraction of random relabellings of the pooled samples whose MMD² is at
    least the observed one (with the +1 correction, so it is never 0).
    """
    if not isinstance(n_permutations, (int, np.integer)) or n_permutations < 1:
        raise ValueError(f"n_permutations must be a positive integer, got {n_permutations!r}")
    k, n = _pooled_rbf_kernel(x, y, bandwidth)
    rng = np.random.default_rng(seed)
    assign = np.zeros((len(k), n_permutations + 1))
    assign[:n, 0] = 1
    for j in range(1, n_permutations + 1):
        assign[rng.permutation(len(k))[:n], j] = 1
    stats = _mmd2_from_kernel(k, assign)
    p = (1 + np.sum(stats[1:] >= stats[0])) / (1 + n_permutations)
    return float(stats[0]), float(p)


def frechet_distance(features_a: Any, features_b: Any) -> float:
    r"""Fréchet (2-Wasserstein) distance between Gaussians fitted to two feature sets.

    .. math:: d^2 = \lVert\mu_a-\mu_b\rVert^2 + \operatorname{tr}\bigl(\Sigma_a+\Sigma_b
              -2(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2})^{1/2}\bigr)

    Args:
        features_a, features_b: arrays shaped ``(N_a, D)`` and ``(N_b, D)``, ``N ≥ 2``.

    Returns:
        The squared distance ``d²`` (the quantity called FID), a float ≥ 0.
    """
    a = _matrix(features_a, "features_a")
    b = _matrix(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    # tr sqrt(Σa Σb) = tr sqrt(Σa^½ Σb Σa^½): a symmetric PSD matrix, so eigvalsh is stable.
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    middle = sqrt_a @ cov_b @ sqrt_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    tr_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    d2 = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr_sqrt)
    return max(d2, 0.0)
