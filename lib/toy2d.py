"""Toy distributions in one or two dimensions whose densities are known exactly: the targets
on which lectures 03 (EBMs, Langevin), 06 (GANs) and 08 (diffusion) can measure what they learn.

- :class:`GaussianMixture`: a mixture of isotropic Gaussians in ``D`` dimensions, with a
  differentiable energy ``−log p`` (for samplers), exact samples and exact densities; built from
  :func:`ring_means` (the ring of mode-collapse studies) or :func:`line_means` (1-D);
- :class:`Ring2D`: a ring-shaped density with its normaliser in closed form;
- :func:`gaussian_energy`: the energy of any Gaussian ``N(μ, Σ)``;
- on a grid: :func:`grid_density` (a model's ``exp(−E)`` as cell probabilities) and
  :func:`histogram2d` (samples as cell probabilities), to be compared with
  :func:`lib.divergences.kl_divergence`;
- :func:`mode_coverage`: which modes of a mixture a set of samples covers.

::

    target = toy2d.GaussianMixture.ring(k=8, radius=2.0, std=0.05)
    x, k = target.sample_with_modes(512, seed=0)        # (512, 2), (512,)
    toy2d.mode_coverage(generated, target.means, 0.05).modes_covered
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "GaussianMixture",
    "ModeCoverage",
    "Ring2D",
    "gaussian_energy",
    "grid_density",
    "histogram2d",
    "line_means",
    "mixture_density",
    "mode_coverage",
    "ring_means",
    "sample_mixture",
]

#: An energy: maps a batch ``(B, D)`` tensor to a ``(B,)`` tensor of energies.
EnergyFn = Callable[[torch.Tensor], torch.Tensor]


def _check_positive(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating))
        or not 0 < value < math.inf
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


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


def _check_means(means: Any) -> np.ndarray:
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or len(means) == 0:
        raise ValueError(f"means must be shaped (n_modes, dim) with n_modes ≥ 1, got {means.shape}")
    return means


def _check_stds(std: Any, k: int) -> np.ndarray:
    """One standard deviation for every mode, or one per mode: ``(K,)`` positive."""
    s = np.asarray(std, dtype=np.float64)
    if s.ndim > 1 or (s.ndim == 1 and s.shape != (k,)) or np.any(~np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"std must be one positive number or {k} of them, got {std!r}")
    return np.broadcast_to(s, (k,)).copy()


def _check_weights(weights: Any | None, k: int) -> np.ndarray:
    if weights is None:
        return np.full(k, 1.0 / k)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (k,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"weights must be {k} non-negative numbers summing to 1, got {weights!r}")
    return w


class GaussianMixture:
    """A mixture of isotropic Gaussians in ``D`` dimensions: exact samples, exact density, and the
    differentiable energy ``E = −log p`` (so ``Z = 1``) that samplers and EBMs use.

    Args:
        means: ``(K, D)`` component means.
        std: one standard deviation for all components, or ``(K,)`` of them.
        weights: ``(K,)`` mixture weights summing to 1 (default: equal).
    """

    def __init__(self, means: Any, std: Any, weights: Any | None = None) -> None:
        self.means = _check_means(means)
        self.stds = _check_stds(std, len(self.means))
        self.weights = _check_weights(weights, len(self.means))

    @classmethod
    def ring(cls, k: int = 8, radius: float = 3.0, std: float = 0.4) -> GaussianMixture:
        """``k`` equal Gaussians evenly spaced on a circle (the classic multimodal test)."""
        return cls(ring_means(k, radius), std)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def _points(self, x: Any) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = np.asarray(x)
            x = torch.as_tensor(x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64))
        if x.ndim == 1 and self.dim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected points of shape (N, {self.dim}), got {tuple(x.shape)}")
        return x

    def log_prob(self, x: Any) -> torch.Tensor:
        """Normalised log-density at points ``(N, D)`` (``(N,)`` in 1-D), differentiable in ``x``."""
        x = self._points(x)
        mu = torch.as_tensor(self.means).to(x)
        s2 = torch.as_tensor(self.stds**2).to(x)
        logw = torch.as_tensor(np.log(np.where(self.weights > 0, self.weights, 1e-300))).to(x)
        d2 = ((x[:, None, :] - mu[None]) ** 2).sum(-1)  # (N, K)
        comp = logw - d2 / (2 * s2) - 0.5 * self.dim * torch.log(2 * math.pi * s2)
        return torch.logsumexp(comp, dim=1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``E(x) = −log p(x)`` (so ``Z = 1``), differentiable in ``x``."""
        return -self.log_prob(x)

    def density(self, x: Any) -> np.ndarray:
        """The density at points ``(N, D)`` as a float64 NumPy array ``(N,)``."""
        with torch.no_grad():
            return torch.exp(self.log_prob(torch.as_tensor(np.asarray(x, dtype=np.float64)))).numpy()

    def sample_with_modes(
        self, n: int, seed: int | np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` exact samples ``(n, D)`` float64 and the component each came from ``(n,)`` int64."""
        if int(n) != n or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        k = rng.choice(len(self.means), size=int(n), p=self.weights)
        x = self.means[k] + self.stds[k, None] * rng.standard_normal((int(n), self.dim))
        return x, k.astype(np.int64)

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """``n`` exact samples ``(n, D)`` float64."""
        return self.sample_with_modes(n, seed)[0]


def sample_mixture(
    n: int,
    means: Any,
    std: Any,
    *,
    weights: Any | None = None,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points from an isotropic Gaussian mixture (see :class:`GaussianMixture`).

    Returns:
        ``(x, k)``: points ``(n, D)`` float32 and the mode each came from ``(n,)`` int64.
    """
    x, k = GaussianMixture(means, std, weights).sample_with_modes(n, seed)
    return x.astype(np.float32), k


def mixture_density(x: Any, means: Any, std: Any, *, weights: Any | None = None) -> np.ndarray:
    """Density of the isotropic Gaussian mixture at points ``x`` ``(N, D)`` (or ``(N,)`` in 1-D)."""
    return GaussianMixture(means, std, weights).density(x)


def gaussian_energy(mean: Any, cov: Any) -> EnergyFn:
    """The energy ``E(x) = ½ (x − μ)ᵀ Σ⁻¹ (x − μ)`` of a Gaussian ``N(μ, Σ)`` (any dimension)."""
    mu = torch.as_tensor(np.asarray(mean, dtype=np.float64))
    cov_t = torch.as_tensor(np.asarray(cov, dtype=np.float64))
    d = mu.shape[0] if mu.ndim == 1 else -1
    if mu.ndim != 1 or cov_t.shape != (d, d):
        raise ValueError(f"mean must be (D,) and cov (D, D), got {tuple(mu.shape)} and {tuple(cov_t.shape)}")
    if not torch.allclose(cov_t, cov_t.T) or torch.linalg.eigvalsh(cov_t).min() <= 0:
        raise ValueError("cov must be symmetric positive definite")
    prec = torch.linalg.inv(cov_t)

    def energy(x: torch.Tensor) -> torch.Tensor:
        z = x - mu.to(x)
        return 0.5 * ((z @ prec.to(x)) * z).sum(-1)

    return energy


def _as_points_2d(x: Any) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = np.asarray(x)
        x = torch.as_tensor(x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32))
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"expected 2-D points of shape (N, 2), got {tuple(x.shape)}")
    return x


class Ring2D:
    """A ring: ``E(x) = (|x| − R)² / (2 w²)``, with its normaliser in closed form and exact samples.

    ``Z = 2π [w² e^{−R²/2w²} + R w √(2π) Φ(R/w)]``.
    """

    def __init__(self, radius: float = 2.5, width: float = 0.3) -> None:
        _check_positive("radius", radius)
        _check_positive("width", width)
        self.radius, self.width = float(radius), float(width)
        r, w = self.radius, self.width
        phi = 0.5 * (1 + math.erf(r / (w * math.sqrt(2))))
        self.log_z = math.log(
            2 * math.pi * (w**2 * math.exp(-(r**2) / (2 * w**2)) + r * w * math.sqrt(2 * math.pi) * phi)
        )

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """Unnormalised energy, differentiable in ``x`` (a small ε keeps ``|x|`` smooth at 0)."""
        x = _as_points_2d(x)
        r = torch.sqrt((x**2).sum(-1) + 1e-12)
        return (r - self.radius) ** 2 / (2 * self.width**2)

    def log_prob(self, x: Any) -> torch.Tensor:
        """Normalised log-density at points ``(N, 2)``."""
        return -self.energy(_as_points_2d(x)) - self.log_z

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` exact samples: uniform angle, radius ∝ r·N(r; R, w²) on r > 0 by rejection
        (proposal N(R, w²) restricted to (0, R + 8w), accepted with probability r / (R + 8w);
        the mass beyond R + 8w, < 1e-15, is neglected)."""
        rng = np.random.default_rng(seed)
        r_max = self.radius + 8 * self.width
        radii = np.empty(0)
        while radii.size < n:
            r = rng.normal(self.radius, self.width, size=2 * n)
            keep = (r > 0) & (r < r_max) & (rng.random(2 * n) < r / r_max)
            radii = np.concatenate([radii, r[keep]])
        radii = radii[:n]
        theta = rng.uniform(0, 2 * np.pi, size=n)
        return np.stack([radii * np.cos(theta), radii * np.sin(theta)], 1)


# --------------------------------------------------------------------------- grids


def grid_density(energy: EnergyFn, extent: float, n_grid: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The density ``exp(−E)`` on a square grid, normalised numerically to cell probabilities.

    Args:
        energy: a 2-D energy (``(N, 2)`` tensor → ``(N,)``), e.g. a trained network.
        extent: the grid covers ``[−extent, extent]²``.
        n_grid: cells per side.

    Returns:
        ``(centres, probs)``: ``centres`` ``(n_grid,)`` cell centres along each axis, and
        ``probs`` ``(n_grid, n_grid)`` indexed ``[iy, ix]`` (for ``imshow``), summing to 1.
    """
    _check_positive("extent", extent)
    if not isinstance(n_grid, (int, np.integer)) or n_grid < 2:
        raise ValueError(f"n_grid must be an integer ≥ 2, got {n_grid!r}")
    edges = np.linspace(-extent, extent, n_grid + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    xx, yy = np.meshgrid(centres, centres)  # (n_grid, n_grid), [iy, ix]
    pts = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float32)
    with torch.no_grad():
        e = energy(pts).double().cpu().numpy().reshape(n_grid, n_grid)
    if not np.all(np.isfinite(e)):
        raise ValueError("the energy is not finite everywhere on the grid")
    logp = -e - (-e).max()
    p = np.exp(logp)
    return centres, p / p.sum()


def histogram2d(samples: Any, extent: float, n_grid: int = 100) -> np.ndarray:
    """Cell probabilities ``(n_grid, n_grid)`` (``[iy, ix]``) of samples on the grid of
    :func:`grid_density`; samples outside ``[−extent, extent]²`` are dropped before normalising."""
    x = _as_points_2d(samples).double().cpu().numpy()
    _check_positive("extent", extent)
    edges = np.linspace(-extent, extent, n_grid + 1)
    h, _, _ = np.histogram2d(x[:, 1], x[:, 0], bins=[edges, edges])
    if h.sum() == 0:
        raise ValueError("no sample falls inside the grid")
    return h / h.sum()


# --------------------------------------------------------------------------- mode coverage


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
        largest_share: the largest fraction of all samples whose nearest centre is one mode: 1
            when every sample lies in the region nearest one centre, on the mode or not (a
            generator collapsed onto any point, however far away, scores 1; ``hq_counts`` say
            how many samples are on the mode).
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
    ``n_std * std`` of that centre (with ``n_std = 3`` the criterion of Srivastava et al. 2017,
    VEEGAN; a 2-D Gaussian puts ``1 − e^{−9/2} ≈ 98.9 %`` of its samples there, a 1-D one
    99.7 %). A mode is *covered* when it receives at least ``min_fraction`` of its fair share
    ``N / K`` of high-quality samples (the default, a quarter, is this course's choice), and
    *visited* when it receives that many samples at all.

    Args:
        samples: ``(N, D)`` generated points (``(N,)`` allowed in 1-D), ``N ≥ 1``.
        means: ``(K, D)`` mode centres.
        std: the modes' standard deviation.
        n_std: radius of the high-quality ball, in units of ``std``.
        min_fraction: fraction of the fair share a mode needs to count, in (0, 1].
    """
    means = _check_means(means)
    std = _check_positive("std", std)
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
