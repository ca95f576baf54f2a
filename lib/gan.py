"""The minimax game of the GAN lecture (notebook 06), on distributions known exactly.

For a data distribution ``p_data`` and a model distribution ``p_model`` given on the same points
(probabilities, or densities on a uniform grid with spacing ``dx``), :func:`optimal_discriminator`
gives ``d* = p_data / (p_data + p_model)`` and :func:`gan_value` the value
``V(d, g) = E_data[log d] + E_model[log(1 − d)]``, whose value at ``d*`` is
``−log 4 + 2 JSD(p_data ‖ p_model)`` (Goodfellow et al. 2014, Theorem 1;
:func:`lib.divergences.js_divergence`). The toy mixtures the lecture trains on are in
:mod:`lib.toy2d`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

__all__ = ["gan_value", "optimal_discriminator"]


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
    return float(dx * (xlogy(p, d).sum() + xlogy(q, 1.0 - d).sum()))
