"""Toy data and diagnostics for the GAN lecture (notebook 06).

The 2-D toy problem is the ring of Gaussians used to study mode collapse (Metz et al. 2017,
*Unrolled GANs*; Srivastava et al. 2017, *VEEGAN*)::

    means = ring_means(8, radius=2.0)
    x, k = sample_mixture(512, means, std=0.05, seed=0)       # (512, 2), (512,)
    cov = mode_coverage(generated, means, std=0.05)
    cov.modes_covered, cov.high_quality

and the quantities of the minimax derivation, on a grid of points:
:func:`mixture_density`, :func:`optimal_discriminator`, :func:`js_divergence` and
:func:`gan_value` (the value ``V(d, g)`` whose minimum over the generator at the optimal
discriminator is ``-log 4 + 2 JSD``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ModeCoverage",
    "gan_value",
    "js_divergence",
    "line_means",
    "mixture_density",
    "mode_coverage",
    "optimal_discriminator",
    "ring_means",
    "sample_mixture",
]


def ring_means(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Centres of ``n_modes`` Gaussians equally spaced on a circle, ``(n_modes, 2)`` float32.

    The first centre is at ``(radius, 0)``; the others follow anticlockwise.
    """
    if int(n_modes) != n_modes or n_modes < 1:
        raise ValueError(f"n_modes must be a positive integer, got {n_modes!r}")
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius!r}")
    angles = 2.0 * np.pi * np.arange(int(n_modes)) / int(n_modes)
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def line_means(n_modes: int = 4, spacing: float = 4.0) -> np.ndarray:
    """Centres of ``n_modes`` 1-D Gaussians, evenly spaced and centred on 0, ``(n_modes, 1)``."""
    if int(n_modes) != n_modes or n_modes < 1:
        raise ValueError(f"n_modes must be a positive integer, got {n_modes!r}")
    if not spacing > 0:
        raise ValueError(f"spacing must be positive, got {spacing!r}")
    centres = spacing * (np.arange(int(n_modes)) - (int(n_modes) - 1) / 2.0)
    return centres[:, None].astype(np.float32)


def _check_means(means: np.ndarray) -> np.ndarray:
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or len(means) == 0:
        raise ValueError(f"means must be shaped (n_modes, dim) with n_modes ≥ 1, got {means.shape}")
    return means


def _check_weights(weights: np.ndarray | None, k: int) -> np.ndarray:
    if weights is None:
        return np.full(k, 1.0 / k)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (k,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"weights must be {k} non-negative numbers summing to 1, got {weights!r}")
    return w


def _check_std(std: float) -> float:
    if not std > 0:
        raise ValueError(f"std must be positive, got {std!r}")
    return float(std)


def sample_mixture(
    n: int,
    means: np.ndarray,
    std: float,
    *,
    weights: np.ndarray | None = None,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points from an isotropic Gaussian mixture.

    Args:
        n: number of samples.
        means: ``(K, D)`` mode centres.
        std: common standard deviation of every mode (per coordinate).
        weights: ``(K,)`` mixture weights (uniform if omitted).
        seed: seed or generator.

    Returns:
        ``(x, k)``: points ``(n, D)`` float32 and the mode each came from ``(n,)`` int64.
    """
    means = _check_means(means)
    std = _check_std(std)
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    w = _check_weights(weights, len(means))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    k = rng.choice(len(means), size=int(n), p=w)
    x = means[k] + std * rng.standard_normal((int(n), means.shape[1]))
    return x.astype(np.float32), k.astype(np.int64)


def mixture_density(
    x: np.ndarray, means: np.ndarray, std: float, *, weights: np.ndarray | None = None
) -> np.ndarray:
    """Density of the isotropic Gaussian mixture at points ``x`` ``(N, D)`` (or ``(N,)`` in 1-D)."""
    means = _check_means(means)
    std = _check_std(std)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1 and means.shape[1] == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != means.shape[1]:
        raise ValueError(f"x must be shaped (N, {means.shape[1]}), got {x.shape}")
    w = _check_weights(weights, len(means))
    d = means.shape[1]
    sq = ((x[:, None, :] - means[None, :, :]) ** 2).sum(-1)  # (N, K)
    norm = (2.0 * np.pi * std**2) ** (-d / 2.0)
    return (norm * np.exp(-sq / (2.0 * std**2))) @ w


@dataclass(frozen=True)
class ModeCoverage:
    """How a set of samples spreads over the modes of a mixture.

    Attributes:
        counts: ``(K,)`` samples whose nearest centre is mode ``k`` (every sample counted).
        hq_counts: ``(K,)`` of those, the *high-quality* ones, within ``max_distance`` of it.
        high_quality: fraction of all samples that are high-quality.
        modes_visited: modes whose ``counts`` reach ``min_fraction`` of a fair share ``N/K``.
        modes_covered: modes whose ``hq_counts`` reach ``min_fraction`` of ``N/K``
            (always ≤ ``modes_visited``).
        largest_share: the largest fraction of all samples that one mode receives; close to 1
            when the generator has collapsed onto (the neighbourhood of) a single mode.
    """

    counts: np.ndarray
    hq_counts: np.ndarray
    high_quality: float
    modes_visited: int
    modes_covered: int
    largest_share: float

    @property
    def n_modes(self) -> int:
        return len(self.counts)

    def __str__(self) -> str:
        return (
            f"{self.modes_covered}/{self.n_modes} modes covered "
            f"({self.modes_visited} visited), {self.high_quality:.0%} high-quality samples, "
            f"largest share {self.largest_share:.0%}"
        )


def mode_coverage(
    samples: np.ndarray,
    means: np.ndarray,
    std: float,
    *,
    n_std: float = 3.0,
    min_fraction: float = 0.25,
) -> ModeCoverage:
    """Count which modes of a Gaussian mixture a generator's samples cover.

    Each sample is assigned to its nearest centre. It is *high-quality* if it lies within
    ``n_std * std`` of that centre (the criterion of Metz et al. 2017 and Srivastava et al.
    2017). A mode is *covered* when it receives at least ``min_fraction`` of its fair share
    ``N / K`` of high-quality samples, and *visited* when it receives that many samples at all.

    Args:
        samples: ``(N, D)`` generated points (``(N,)`` allowed in 1-D), ``N ≥ 1``.
        means: ``(K, D)`` mode centres.
        std: the modes' standard deviation.
        n_std: radius of the high-quality ball, in units of ``std``.
        min_fraction: fraction of the fair share a mode needs to count, in (0, 1].
    """
    means = _check_means(means)
    std = _check_std(std)
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1 and means.shape[1] == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != means.shape[1] or len(x) == 0:
        raise ValueError(f"samples must be shaped (N ≥ 1, {means.shape[1]}), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples contain NaN or infinite values")
    if not n_std > 0:
        raise ValueError(f"n_std must be positive, got {n_std!r}")
    if not 0 < min_fraction <= 1:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction!r}")
    k = len(means)
    dist = np.sqrt(((x[:, None, :] - means[None, :, :]) ** 2).sum(-1))  # (N, K)
    nearest = dist.argmin(1)
    good = dist[np.arange(len(x)), nearest] <= n_std * std
    counts = np.bincount(nearest, minlength=k)
    hq_counts = np.bincount(nearest[good], minlength=k)
    needed = min_fraction * len(x) / k
    return ModeCoverage(
        counts=counts,
        hq_counts=hq_counts,
        high_quality=float(good.mean()),
        modes_visited=int((counts >= needed).sum()),
        modes_covered=int((hq_counts >= needed).sum()),
        largest_share=float(counts.max() / len(x)),
    )


def _density_pair(p: np.ndarray, q: np.ndarray, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Two non-negative arrays of one shape, as float64; a ``ValueError`` naming them otherwise."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {p.shape} and {q.shape}")
    if np.any(p < 0) or np.any(q < 0):
        raise ValueError(f"{names[0]} and {names[1]} must be non-negative")
    return p, q


def optimal_discriminator(p_data: np.ndarray, p_model: np.ndarray) -> np.ndarray:
    """``d*(x) = p_data / (p_data + p_model)``, elementwise; ½ where both densities vanish."""
    p, q = _density_pair(p_data, p_model, ("p_data", "p_model"))
    total = p + q
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, p / np.where(total > 0, total, 1.0), 0.5)


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x log y`` with the convention ``0 log 0 = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, y, 1.0)), 0.0)


def js_divergence(p: np.ndarray, q: np.ndarray, *, dx: float = 1.0) -> float:
    r"""Jensen–Shannon divergence (nats) between two distributions given on the same points.

    .. math:: \mathrm{JSD}(p\,\|\,q) = \tfrac12 \mathrm{KL}(p\,\|\,m) + \tfrac12 \mathrm{KL}(q\,\|\,m),
              \quad m = \tfrac12 (p + q)

    ``p`` and ``q`` are probabilities (``dx=1``) or densities on a uniform grid with spacing
    ``dx`` (a Riemann sum). The value lies in ``[0, log 2]``.
    """
    p, q = _density_pair(p, q, ("p", "q"))
    if not dx > 0:
        raise ValueError(f"dx must be positive, got {dx!r}")
    m = 0.5 * (p + q)
    kl_pm = _xlogy(p, p).sum() - _xlogy(p, m).sum()
    kl_qm = _xlogy(q, q).sum() - _xlogy(q, m).sum()
    return float(0.5 * dx * (kl_pm + kl_qm))


def gan_value(p_data: np.ndarray, p_model: np.ndarray, d: np.ndarray, *, dx: float = 1.0) -> float:
    r"""The GAN value :math:`V = E_{p_data}[\log d] + E_{p_model}[\log(1 - d)]` on a grid.

    ``p_data`` and ``p_model`` are probabilities (``dx=1``) or densities on a uniform grid with
    spacing ``dx``; ``d`` is the discriminator's output in [0, 1] at the same points. Terms
    with zero weight contribute 0 (so ``d = 1`` off the model's support is allowed).
    """
    p = np.asarray(p_data, dtype=np.float64)
    q = np.asarray(p_model, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    if not (p.shape == q.shape == d.shape):
        raise ValueError(
            f"p_data, p_model and d must have the same shape, got {p.shape}, {q.shape}, {d.shape}"
        )
    if np.any(d < 0) or np.any(d > 1):
        raise ValueError("d must lie in [0, 1]")
    return float(dx * (_xlogy(p, d).sum() + _xlogy(q, 1.0 - d).sum()))
