"""Framework-light helpers for the variational-autoencoder lectures (and anyone else who
needs a Gaussian KL or an importance-weighted likelihood).

Everything here works on NumPy arrays and on PyTorch tensors (and, for :func:`gaussian_kl`
and :func:`log_mean_exp`, on TensorFlow tensors), returning the same kind of object it was
given. Neither framework is imported by this module: a tensor's type is recognised from the
modules the caller has already imported.

The pieces:

* :func:`gaussian_kl` — the closed form of KL( N(μ_q, σ_q²) ‖ N(μ_p, σ_p²) ) between diagonal
  Gaussians, summed over the last axis;
* :func:`log_mean_exp` — ``log(mean(exp(x)))`` without overflow or underflow;
* :func:`iw_log_likelihood` — the importance-weighted estimate of ``log p(x)`` from log-weights
  ``log p(x, z_i) − log q(z_i | x)`` (Burda, Grosse & Salakhutdinov 2016), and
  :func:`iw_log_likelihood_chunked` to combine many samples drawn a chunk at a time;
* :func:`normal_log_prob` — a diagonal Gaussian's log-density (NumPy), handy for toy models;
* latent-space geometry: :func:`latent_grid` (points at quantiles of the prior) and
  :func:`slerp` (spherical interpolation); the figures built on them are in :mod:`lib.plotting`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "gaussian_kl",
    "iw_log_likelihood",
    "iw_log_likelihood_chunked",
    "latent_grid",
    "log_mean_exp",
    "normal_log_prob",
    "slerp",
]

_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------- array dispatch


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _is_tf(x: Any) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and tf.is_tensor(x)


def _kind(*xs: Any) -> str:
    """``"torch"``, ``"tf"`` or ``"numpy"``: the framework of the first tensor among ``xs``."""
    for x in xs:
        if _is_torch(x):
            return "torch"
        if _is_tf(x):
            return "tf"
    return "numpy"


def _exp(x: Any, kind: str) -> Any:
    if kind == "torch":
        torch = sys.modules["torch"]
        return torch.exp(torch.as_tensor(x))
    if kind == "tf":
        return sys.modules["tensorflow"].exp(x)
    return np.exp(x)


def _sum_last(x: Any, kind: str) -> Any:
    if kind == "torch":
        return x.sum(dim=-1)
    if kind == "tf":
        return sys.modules["tensorflow"].reduce_sum(x, axis=-1)
    return np.sum(x, axis=-1)


def _as_kind(x: Any, kind: str, like: Any) -> Any:
    """Convert a Python / NumPy number or array to the framework and dtype of ``like``."""
    if kind == "torch":
        torch = sys.modules["torch"]
        return torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if kind == "tf":
        tf = sys.modules["tensorflow"]
        return tf.cast(tf.convert_to_tensor(x), like.dtype)
    return np.asarray(x, dtype=np.result_type(np.asarray(like).dtype, np.float32))


# --------------------------------------------------------------------------- KL divergence


def gaussian_kl(mu_q: Any, logvar_q: Any, mu_p: Any = 0.0, logvar_p: Any = 0.0) -> Any:
    """KL( N(mu_q, exp(logvar_q)) ‖ N(mu_p, exp(logvar_p)) ) between diagonal Gaussians,
    summed over the last axis (the latent dimensions).

    Per dimension,

    .. math:: \\mathrm{KL} = \\tfrac12\\Big[\\log\\frac{\\sigma_p^2}{\\sigma_q^2}
              + \\frac{\\sigma_q^2 + (\\mu_q-\\mu_p)^2}{\\sigma_p^2} - 1\\Big],

    which for the standard-normal prior (the defaults ``mu_p=0, logvar_p=0``) is
    ``-0.5 * (1 + logvar_q - mu_q**2 - exp(logvar_q))``.

    Args:
        mu_q, logvar_q: mean and log-variance of q, shape ``(..., D)``; NumPy arrays, PyTorch
            or TensorFlow tensors (the result is of the same kind).
        mu_p, logvar_p: mean and log-variance of p, broadcastable to ``(..., D)``
            (default: the standard normal).

    Returns:
        The KL divergence in nats, shape ``(...)``.

    Raises:
        ValueError: if the shapes of ``mu_q`` and ``logvar_q`` differ or are scalars.
    """
    kind = _kind(mu_q, logvar_q, mu_p, logvar_p)
    shape_mu, shape_lv = tuple(np.shape(mu_q)), tuple(np.shape(logvar_q))
    if shape_mu != shape_lv:
        raise ValueError(f"mu_q has shape {shape_mu} but logvar_q has shape {shape_lv}; they must match")
    if len(shape_mu) == 0:
        raise ValueError("gaussian_kl expects at least one (latent) axis; got scalars. Pass shape (..., D).")
    if kind == "numpy":
        mu_q, logvar_q = np.asarray(mu_q, dtype=np.float64), np.asarray(logvar_q, dtype=np.float64)
        mu_p, logvar_p = np.asarray(mu_p, dtype=np.float64), np.asarray(logvar_p, dtype=np.float64)
    else:
        like = mu_q if (_is_torch(mu_q) or _is_tf(mu_q)) else logvar_q
        mu_q, logvar_q = _as_kind(mu_q, kind, like), _as_kind(logvar_q, kind, like)
        mu_p, logvar_p = _as_kind(mu_p, kind, like), _as_kind(logvar_p, kind, like)
    per_dim = 0.5 * (
        logvar_p - logvar_q + (_exp(logvar_q, kind) + (mu_q - mu_p) ** 2) / _exp(logvar_p, kind) - 1.0
    )
    return _sum_last(per_dim, kind)


# --------------------------------------------------------------------------- log-mean-exp


def log_mean_exp(x: Any, axis: int = 0) -> Any:
    """``log(mean(exp(x), axis))`` computed stably (the max is factored out first).

    Exact for inputs like ``[-1000, -1000]`` (gives ``-1000``) or ``[1000, 0]`` where the naive
    formula under- or overflows; all ``-inf`` along the axis gives ``-inf``.

    Args:
        x: NumPy array, PyTorch or TensorFlow tensor with at least one axis.
        axis: the axis to average over (removed from the result).

    Raises:
        ValueError: for a scalar input, an empty axis, or an axis out of range.
    """
    kind = _kind(x)
    shape = tuple(np.shape(x))
    if len(shape) == 0:
        raise ValueError("log_mean_exp needs an array with at least one axis, got a scalar")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} is out of range for an array of shape {shape}")
    n = shape[axis]
    if n == 0:
        raise ValueError(f"cannot average over an empty axis {axis} (shape {shape})")
    if kind == "torch":
        torch = sys.modules["torch"]
        return torch.logsumexp(x, dim=axis) - math.log(n)
    if kind == "tf":
        tf = sys.modules["tensorflow"]
        return tf.reduce_logsumexp(x, axis=axis) - math.log(n)
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m_safe = np.where(np.isfinite(m), m, 0.0)  # all -inf (or +inf) along the axis: no shift
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for all -inf input
        out = np.log(np.mean(np.exp(x - m_safe), axis=axis, keepdims=True)) + m_safe
    return np.squeeze(out, axis=axis)


# --------------------------------------------------------------------------- IW likelihood


def iw_log_likelihood(log_weights: Any, axis: int = 0) -> Any:
    """Importance-weighted estimate of ``log p(x)`` for each data point (Burda et al. 2016).

    With ``z_1 … z_k ~ q(z|x)`` and log-weights ``log w_i = log p(x, z_i) − log q(z_i|x)``,

    .. math:: \\mathcal{L}_k(x) = \\log \\frac1k \\sum_{i=1}^k w_i \\;\\le\\; \\log p(x)
              \\quad\\text{in expectation,}

    with ``L_1`` the ELBO and ``E[L_k]`` non-decreasing in ``k`` for any model and any ``q``; if the
    weights are bounded, ``E[L_k] → log p(x)`` as ``k → ∞`` (Burda et al. 2016, Theorem 1). Each call
    returns one draw of the estimator: a lower bound on ``log p(x)`` in expectation only.

    Args:
        log_weights: shape ``(k, N)`` — **samples first, data points second** (the default
            ``axis=0``); pass ``axis=1`` for ``(N, k)``. NumPy, PyTorch or TensorFlow.
        axis: the sample axis.

    Returns:
        Per-data-point estimates, shape ``(N,)`` (same framework as the input).
    """
    if len(np.shape(log_weights)) != 2:
        raise ValueError(
            f"log_weights must be 2-D, (k samples, N data points) with axis=0 or (N, k) with axis=1; "
            f"got shape {tuple(np.shape(log_weights))}"
        )
    if axis not in (0, 1, -1, -2):
        raise ValueError(f"axis must be 0 (shape (k, N)) or 1 (shape (N, k)), got {axis}")
    return log_mean_exp(log_weights, axis=axis)


def iw_log_likelihood_chunked(
    sample_log_weights: Callable[[int], Any],
    k: int,
    chunk_size: int = 100,
    progress: Any = None,
) -> np.ndarray:
    """The importance-weighted estimate with ``k`` samples drawn ``chunk_size`` at a time.

    Keeps memory at ``chunk_size × N`` log-weights however large ``k`` is (``k = 5000`` as in
    Burda et al. would otherwise need 5000 decoder passes at once): the running
    ``log Σ w`` is updated with each chunk by a stable log-add-exp, in float64.

    Args:
        sample_log_weights: ``f(m)`` draws ``m`` fresh samples ``z ~ q(z|x)`` for each of the
            ``N`` data points and returns their log-weights, shape ``(m, N)`` (NumPy or torch).
        k: total number of importance samples per data point (≥ 1).
        chunk_size: samples per call (≥ 1).
        progress: optional callable wrapping an iterable (e.g. ``tqdm``) for a progress bar.

    Returns:
        NumPy array ``(N,)`` of ``log (1/k) Σ_i w_i``.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    sizes = [chunk_size] * (int(k) // chunk_size)
    if k % chunk_size:
        sizes.append(int(k) % chunk_size)
    running: np.ndarray | None = None  # log Σ_i w_i so far, (N,)
    for m in progress(sizes) if progress is not None else sizes:
        lw = sample_log_weights(m)
        lw = lw.detach().cpu().numpy() if _is_torch(lw) else np.asarray(lw)
        lw = lw.astype(np.float64)
        if lw.ndim != 2 or lw.shape[0] != m:
            raise ValueError(f"sample_log_weights({m}) must return shape ({m}, N); got {lw.shape}")
        chunk_lse = log_mean_exp(lw, axis=0) + math.log(m)
        running = chunk_lse if running is None else np.logaddexp(running, chunk_lse)
    assert running is not None
    return running - math.log(k)


# --------------------------------------------------------------------------- densities


def normal_log_prob(x: Any, mean: Any = 0.0, logvar: Any = 0.0) -> np.ndarray:
    """Log-density of a diagonal Gaussian summed over the last axis (NumPy, float64)."""
    x, mean, logvar = (np.asarray(a, dtype=np.float64) for a in (x, mean, logvar))
    if x.ndim == 0:
        raise ValueError("normal_log_prob expects at least one axis (..., D)")
    return np.sum(-0.5 * (_LOG_2PI + logvar + (x - mean) ** 2 / np.exp(logvar)), axis=-1)


# --------------------------------------------------------------------------- latent plumbing


def latent_grid(n: int = 15, quantile: float = 0.05) -> np.ndarray:
    """A ``(n*n, 2)`` grid of 2-D latent points at evenly spaced *quantiles* of N(0, 1).

    Spacing by quantiles (Kingma & Welling 2014, Fig. 4) puts as many points where the prior
    has mass as where it has little. Row-major, the first coordinate along columns and the
    second decreasing down rows, so ``image_grid(decode(grid), ncols=n)`` reads like a plot.
    """
    from scipy.stats import norm

    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if not 0.0 < quantile < 0.5:
        raise ValueError(f"quantile must be in (0, 0.5), got {quantile}")
    ticks = norm.ppf(np.linspace(quantile, 1.0 - quantile, n))
    zx, zy = np.meshgrid(ticks, ticks[::-1])
    return np.stack([zx.ravel(), zy.ravel()], axis=1).astype(np.float32)


def slerp(z0: np.ndarray, z1: np.ndarray, n: int = 10) -> np.ndarray:
    """Spherical interpolation between two latent vectors, ``(n, D)`` including the ends.

    Under a high-dimensional Gaussian prior, straight-line midpoints have atypically small
    norm; slerp keeps the norm typical (White 2016). Falls back to linear interpolation when
    the vectors are (anti)parallel.
    """
    z0, z1 = np.asarray(z0, np.float64).ravel(), np.asarray(z1, np.float64).ravel()
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {z0.shape} and {z1.shape}")
    t = np.linspace(0.0, 1.0, n)[:, None]
    cos = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1) + 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    return ((np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)).astype(np.float32)
