"""Diffusion models: noise schedules, the forward process in closed form, the DDPM posterior, and
the two samplers of lecture 08 (ancestral DDPM and DDIM), plus denoising score matching.

Conventions (Ho et al. 2020, with 0-based indices): a schedule holds ``T`` noise levels
``betas[t]``, ``alphas[t] = 1 − betas[t]`` and ``alpha_bar[t] = prod(alphas[:t+1])``; the forward
process is ``q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)``, so index ``t = 0`` is the first noisy
level and ``t = T − 1`` is (almost) pure noise. The papers count the levels ``1 … T`` and call
the data ``x_0``: their level ``t`` is index ``t − 1`` here. A noise-prediction model
``eps_model(x_t, t)`` takes a batch ``(B, ...)`` and a long tensor ``t`` of shape ``(B,)`` and
returns ``ε̂`` of the batch's shape; its score estimate is ``−ε̂ / √(1 − ᾱ_t)``.

::

    schedule = diffusion.Schedule.cosine(200)
    loss = diffusion.eps_loss(model, schedule, x0)                # training
    x = diffusion.ddpm_sample(model, schedule, (64, 1, 28, 28), clip=1.0)
    x = diffusion.ddim_sample(model, schedule, (64, 1, 28, 28), steps=20, clip=1.0)

Everything is tested against exact results in ``tests/test_diffusion.py`` (for Gaussian data
the optimal ``ε̂`` is known in closed form, and so is the score of a noised Gaussian mixture).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "EpsModel",
    "SamplerOptions",
    "Schedule",
    "ddim_sample",
    "ddim_timesteps",
    "ddpm_sample",
    "dsm_loss",
    "eps_loss",
    "gaussian_eps_predictor",
    "mixture_score",
]

#: A noise-prediction network: ``eps_model(x_t, t)`` with ``x_t`` ``(B, ...)`` and ``t`` long ``(B,)``.
EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: Called after every sampling step with ``(step, t, x, x0_hat)``: the number of steps taken so
#: far (1, 2, ...), the time index just left, the new state and the clean sample predicted.
StepCallback = Callable[[int, int, torch.Tensor, torch.Tensor], None]


def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Schedule:
    """A variance schedule ``β_0 … β_{T−1}`` and the quantities derived from it (float64).

    Build one with :meth:`linear` or :meth:`cosine`, or from any ``betas`` in (0, 1).

    Attributes:
        betas: ``(T,)`` the variance added at each step.
        alphas: ``(T,)`` ``1 − betas``.
        alpha_bar: ``(T,)`` ``alpha_bar[t] = prod(1 − betas[:t+1])``: the signal fraction of ``x_t``.
    """

    betas: torch.Tensor
    alphas: torch.Tensor = field(init=False, repr=False)
    alpha_bar: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        betas = torch.as_tensor(self.betas, dtype=torch.float64).detach().clone()
        if betas.ndim != 1 or len(betas) == 0:
            raise ValueError(f"betas must be a non-empty 1-D sequence, got shape {tuple(betas.shape)}")
        if not torch.all((betas > 0) & (betas < 1)):
            raise ValueError("every beta must lie strictly between 0 and 1")
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "alphas", 1.0 - betas)
        object.__setattr__(self, "alpha_bar", torch.cumprod(1.0 - betas, 0))

    @classmethod
    def linear(
        cls,
        T: int,
        beta_start: float | None = None,
        beta_end: float | None = None,
        max_beta: float = 0.999,
    ) -> Schedule:
        """Ho et al. (2020): ``β`` rising linearly from ``beta_start`` to ``beta_end`` over ``T`` steps.

        By default Ho et al.'s range ``1e-4 … 0.02``, which they designed for ``T = 1000``, scaled
        by ``1000 / T`` (as Nichol & Dhariwal 2021 do) and capped at ``max_beta``: then
        ``Σ β ≈ 10`` and the last level is (almost) pure noise, ``ᾱ_{T−1} ≈ e^{−10}``, for every
        ``T``. Unscaled, the range leaves ``ᾱ_{T−1} = 0.36`` at ``T = 100``. Given ``beta_start``
        and ``beta_end`` are used as they are.
        """
        T = _check_int("T", T)
        if not 0 < max_beta < 1:
            raise ValueError(f"need 0 < max_beta < 1, got {max_beta!r}")
        scale = 1000 / T
        beta_start = min(1e-4 * scale, max_beta) if beta_start is None else beta_start
        beta_end = min(0.02 * scale, max_beta) if beta_end is None else beta_end
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start ≤ beta_end < 1, got {beta_start!r}, {beta_end!r}")
        return cls(torch.linspace(beta_start, beta_end, T, dtype=torch.float64))

    @classmethod
    def cosine(cls, T: int, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
        """Nichol & Dhariwal (2021): ``ᾱ(u) ∝ cos²((u + s)/(1 + s) · π/2)`` at ``u = (t+1)/T``, with
        each ``β_t = 1 − ᾱ_t/ᾱ_{t−1}`` capped at ``max_beta`` (the last one reaches it)."""
        T = _check_int("T", T)
        if not s > 0 or not 0 < max_beta < 1:
            raise ValueError(f"need s > 0 and 0 < max_beta < 1, got {s!r}, {max_beta!r}")
        u = torch.arange(T + 1, dtype=torch.float64) / T
        f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(min=1e-8, max=max_beta)
        return cls(betas)

    @property
    def T(self) -> int:
        """The number of noise levels."""
        return len(self.betas)

    def _t(self, t: Any, batch: int) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.long)
        if t.ndim == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(
                f"t must be an integer or a long tensor of shape ({batch},), got {tuple(t.shape)}"
            )
        if int(t.min()) < 0 or int(t.max()) >= self.T:
            raise ValueError(f"time indices must lie in 0..{self.T - 1} (0-based), got {t.min()}..{t.max()}")
        return t.cpu()

    def _coef(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``values[t]`` shaped ``(B, 1, ..., 1)`` to broadcast against ``like``."""
        out = values[t].to(dtype=like.dtype, device=like.device)
        return out.reshape(-1, *([1] * (like.ndim - 1)))

    def q_sample(self, x0: torch.Tensor, t: Any, noise: torch.Tensor) -> torch.Tensor:
        """A draw of ``x_t ~ q(x_t | x_0)``: ``√ᾱ_t x_0 + √(1 − ᾱ_t) noise``.

        Args:
            x0: clean data ``(B, ...)``.
            t: the time index of each sample, a long tensor ``(B,)`` (or one integer for all).
            noise: standard normal noise shaped like ``x0``.
        """
        if noise.shape != x0.shape:
            raise ValueError(f"noise {tuple(noise.shape)} must have the shape of x0 {tuple(x0.shape)}")
        t = self._t(t, len(x0))
        ab = self._coef(self.alpha_bar, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def predict_x0(self, xt: torch.Tensor, t: Any, eps: torch.Tensor) -> torch.Tensor:
        """The clean sample implied by a noise estimate: ``(x_t − √(1 − ᾱ_t) ε) / √ᾱ_t``."""
        t = self._t(t, len(xt))
        ab = self._coef(self.alpha_bar, t, xt)
        return (xt - (1 - ab).sqrt() * eps) / ab.sqrt()

    def posterior(self, x0: torch.Tensor, xt: torch.Tensor, t: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of ``q(x_{t−1} | x_t, x_0)``.

        ``mean = β_t √ᾱ_{t−1} / (1 − ᾱ_t) · x_0 + (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t) · x_t`` and
        ``variance = β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)``, with ``ᾱ_{−1} = 1``: at ``t = 0``
        the "previous" state is ``x_0`` itself (mean ``x_0``, variance 0).

        Returns:
            ``(mean, variance)``: the mean shaped like ``xt``, the variance ``(B, 1, ..., 1)``.
        """
        if x0.shape != xt.shape:
            raise ValueError(f"x0 {tuple(x0.shape)} and xt {tuple(xt.shape)} must have the same shape")
        t = self._t(t, len(xt))
        ab_prev_all = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar[:-1]])
        beta = self._coef(self.betas, t, xt)
        ab = self._coef(self.alpha_bar, t, xt)
        ab_prev = self._coef(ab_prev_all, t, xt)
        alpha = self._coef(self.alphas, t, xt)
        mean = beta * ab_prev.sqrt() / (1 - ab) * x0 + (1 - ab_prev) * alpha.sqrt() / (1 - ab) * xt
        variance = beta * (1 - ab_prev) / (1 - ab)
        return mean, variance


# --------------------------------------------------------------------------- training losses


def eps_loss(
    eps_model: EpsModel,
    schedule: Schedule,
    x0: torch.Tensor,
    *,
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The simplified DDPM loss ``E_{t, ε} |ε − ε̂(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)|²`` (mean over all
    entries), with ``t`` uniform on ``0..T−1`` and ``ε ~ N(0, I)`` unless given."""
    b = len(x0)
    if t is None:
        t = torch.randint(schedule.T, (b,), generator=generator)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    xt = schedule.q_sample(x0, t, noise)
    return ((eps_model(xt, t.to(x0.device)) - noise) ** 2).mean()


def dsm_loss(
    score_model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    sigma: torch.Tensor | float,
    noise: torch.Tensor,
) -> torch.Tensor:
    """Denoising score matching (Vincent 2011) with the weighting ``λ(σ) = σ²`` of Song & Ermon
    (2019): ``½ E |σ s(x̃, σ) + ε|²`` at ``x̃ = x_0 + σ ε``, averaged over the batch.

    ``½ σ² |s − (x_0 − x̃)/σ²|²`` written with ``ε``: its minimiser over all functions is the
    score of the noised density, ``s*(x̃, σ) = ∇ log p_σ(x̃)``.

    Args:
        score_model: ``score_model(x̃, sigma)`` → ``(B, ...)``, with ``sigma`` ``(B,)``.
        x0: clean data ``(B, ...)``.
        sigma: the noise level, one number or ``(B,)``.
        noise: ``ε ~ N(0, I)`` shaped like ``x0``.
    """
    if noise.shape != x0.shape:
        raise ValueError(f"noise {tuple(noise.shape)} must have the shape of x0 {tuple(x0.shape)}")
    sigma = torch.as_tensor(sigma, dtype=x0.dtype, device=x0.device)
    if sigma.ndim == 0:
        sigma = sigma.expand(len(x0))
    if sigma.shape != (len(x0),) or not torch.all(sigma > 0):
        raise ValueError(f"sigma must be positive, one number or shaped ({len(x0)},)")
    s = sigma.reshape(-1, *([1] * (x0.ndim - 1)))
    x_noisy = x0 + s * noise
    residual = (s * score_model(x_noisy, sigma) + noise).flatten(1)
    return 0.5 * (residual**2).sum(1).mean()


# --------------------------------------------------------------------------- exact references


def gaussian_eps_predictor(schedule: Schedule, mu: Any, var: Any) -> EpsModel:
    """The optimal noise predictor ``E[ε | x_t]`` for data ``N(μ, diag v)``:
    ``ε̂(x_t, t) = √(1 − ᾱ_t) (x_t − √ᾱ_t μ) / (ᾱ_t v + 1 − ᾱ_t)``. The exact reference of the tests
    and of lecture 08 (``mu`` and ``var`` broadcast against one sample). A variance may be 0 (a
    pixel that never changes in the data): the denominator stays positive, since ``ᾱ_t < 1``."""
    mu_t = torch.as_tensor(np.asarray(mu, dtype=np.float64))
    var_t = torch.as_tensor(np.asarray(var, dtype=np.float64))
    if not torch.all(var_t >= 0):  # NaN fails too
        raise ValueError("the data variances must be non-negative")

    def eps_model(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = schedule._coef(schedule.alpha_bar, schedule._t(t, len(xt)), xt)
        m, v = mu_t.to(xt), var_t.to(xt)
        return (1 - ab).sqrt() * (xt - ab.sqrt() * m) / (ab * v + 1 - ab)

    return eps_model


def mixture_score(
    means: Any, std: Any, x: torch.Tensor, sigma: float, weights: Any | None = None
) -> torch.Tensor:
    """The exact score ``∇ log p_σ(x)`` of an isotropic Gaussian mixture convolved with ``N(0, σ² I)``
    (the mixture with every variance widened by ``σ²``), by autograd on
    :meth:`lib.toy2d.GaussianMixture.log_prob`. ``sigma = 0`` gives the data's own score."""
    from .toy2d import GaussianMixture

    if not sigma >= 0:
        raise ValueError(f"sigma must be non-negative, got {sigma!r}")
    stds = np.sqrt(np.asarray(std, dtype=np.float64) ** 2 + float(sigma) ** 2)
    mixture = GaussianMixture(means, stds, weights)
    with torch.enable_grad():
        xg = x.detach().to(torch.float64).requires_grad_(True)
        (grad,) = torch.autograd.grad(mixture.log_prob(xg).sum(), xg)
    return grad.to(x.dtype)


# --------------------------------------------------------------------------- samplers


class SamplerOptions(TypedDict, total=False):
    """The keyword arguments both samplers take (all optional)."""

    clip: float | None  # clip the predicted clean sample to [−clip, clip] (images in [−1, 1]: 1)
    generator: torch.Generator | None  # for the noise (drawn on the CPU, then moved to device)
    device: Any  # where the samples live (default: the CPU)
    dtype: torch.dtype  # of the samples (default float32)
    callback: StepCallback | None  # called after every step, e.g. to record frames
    progress: bool  # show a progress bar (default False)
    start: torch.Tensor | None  # the initial noise x_{T−1} (default: drawn from N(0, I) first)


_SAMPLER_DEFAULTS: SamplerOptions = {
    "clip": None,
    "generator": None,
    "device": None,
    "dtype": torch.float32,
    "callback": None,
    "progress": False,
    "start": None,
}

Noise = Callable[[], Tensor]
#: One reverse step: ``update(x, t, t_prev, eps, x0_hat, noise)`` → the next ``x``, where ``t_prev``
#: is the next (smaller) time visited, ``-1`` after the last, and ``noise()`` draws N(0, I).
_Update = Callable[[Tensor, int, int, Tensor, Tensor, Noise], Tensor]


def _options(schedule: Any, options: SamplerOptions) -> SamplerOptions:
    """The options with their defaults, after checking them and the schedule."""
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be a diffusion.Schedule, got {type(schedule).__name__}")
    unknown = sorted(set(options) - set(_SAMPLER_DEFAULTS))
    if unknown:
        raise TypeError(f"unknown sampler option(s) {unknown}; the options are {sorted(_SAMPLER_DEFAULTS)}")
    clip = options.get("clip")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be positive or None, got {clip!r}")
    return {**_SAMPLER_DEFAULTS, **options}


def _reverse(
    eps_model: EpsModel, schedule: Schedule, shape: Any, ts: list[int], update: _Update, opt: SamplerOptions
) -> Tensor:
    """The loop both samplers share: ``x ~ N(0, I)`` (or ``start``), then for the visited times
    ``ts`` from the last to the first, predict ``ε̂`` and ``x̂_0`` (clipped when asked) and take
    ``update``."""
    clip, generator, device, dtype = opt["clip"], opt["generator"], opt["device"], opt["dtype"]
    shape = tuple(int(s) for s in shape)
    if len(shape) < 1 or min(shape) < 1:
        raise ValueError(f"shape must be (B, ...) with positive sizes, got {shape}")

    def noise() -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=dtype).to(device)

    if opt["start"] is None:
        x = noise()
    else:
        if tuple(opt["start"].shape) != shape:
            raise ValueError(f"start has shape {tuple(opt['start'].shape)}, the samples {shape}")
        x = opt["start"].to(dtype=dtype, device=device)
    indices = range(len(ts) - 1, -1, -1)
    if opt["progress"]:
        from tqdm.auto import tqdm

        indices = tqdm(indices, total=len(ts), desc=f"sampling ({len(ts)} steps)", leave=False)
    for step, i in enumerate(indices, start=1):
        t = ts[i]
        tt = torch.full((len(x),), t, dtype=torch.long, device=x.device)
        eps = eps_model(x, tt)
        if eps.shape != x.shape:
            raise ValueError(
                f"eps_model returned shape {tuple(eps.shape)} for a batch of shape {tuple(x.shape)}"
            )
        x0_hat = schedule.predict_x0(x, t, eps)
        if clip is not None:
            x0_hat = x0_hat.clamp(-clip, clip)
        x = update(x, t, ts[i - 1] if i > 0 else -1, eps, x0_hat, noise)
        if opt["callback"] is not None:
            opt["callback"](step, t, x, x0_hat)
    return x


@torch.no_grad()
def ddpm_sample(
    eps_model: EpsModel, schedule: Schedule, shape: Any, **options: Unpack[SamplerOptions]
) -> torch.Tensor:
    """Ancestral sampling (Ho et al. 2020): ``x_{T−1} ~ N(0, I)``, then for ``t = T−1 … 0``
    ``x_{t−1} ~ N(μ̃_t(x̂_0, x_t), β̃_t I)`` with ``x̂_0`` predicted from ``ε̂(x_t, t)`` (clipped to
    ``[−clip, clip]`` when ``clip`` is given) and no noise at the last step.

    Args:
        eps_model: the noise predictor, called without gradients.
        schedule: the schedule it was trained with.
        shape: ``(B, ...)`` of the returned batch.
        options: ``clip``, ``generator``, ``device``, ``dtype``, ``callback`` (see
            :data:`StepCallback`), ``progress``, ``start``: see :class:`SamplerOptions`.

    Returns:
        The samples, a tensor of ``shape``.
    """

    opt = _options(schedule, options)

    def update(x: Tensor, t: int, t_prev: int, eps: Tensor, x0_hat: Tensor, noise: Noise) -> Tensor:
        mean, var = schedule.posterior(x0_hat, x, t)
        return mean + var.sqrt() * noise() if t > 0 else mean

    return _reverse(eps_model, schedule, shape, list(range(schedule.T)), update, opt)


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """The ``steps`` time indices DDIM visits, evenly spaced on ``0..T−1`` and ending at ``T−1``
    (ascending)."""
    T, steps = _check_int("T", T), _check_int("steps", steps)
    if steps > T:
        raise ValueError(f"DDIM cannot take more steps ({steps}) than the schedule has levels ({T})")
    ts = np.unique(np.round(np.linspace(0, T - 1, steps)).astype(int))
    return [int(t) for t in ts]


@torch.no_grad()
def ddim_sample(
    eps_model: EpsModel,
    schedule: Schedule,
    shape: Any,
    *,
    steps: int,
    eta: float = 0.0,
    **options: Unpack[SamplerOptions],
) -> torch.Tensor:
    """DDIM (Song, Meng & Ermon 2021) on the sub-sequence :func:`ddim_timesteps` ``(T, steps)``:

    ``x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − ς²) ε̂ + ς z``, with
    ``ς = η √((1 − ᾱ_{t'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'})`` and ``t'`` the previous visited time
    (``ᾱ = 1`` after the last). ``η = 0`` is deterministic (a discretised probability-flow ODE);
    ``η = 1`` with all ``T`` steps is ancestral sampling with the variance ``β̃``. With ``clip``
    the predicted ``x̂_0`` is clipped and ``ε̂`` recomputed from it, so the step stays consistent
    (and is then no longer a plain Euler step of the ODE). With ``start`` (the initial noise) and
    ``η = 0`` the result is a deterministic function of ``start``: the decoder of DDIM inversion.

    Arguments as for :func:`ddpm_sample`, plus ``steps`` (1 … T) and ``eta`` ≥ 0.
    """
    if not eta >= 0:
        raise ValueError(f"eta must be non-negative, got {eta!r}")
    opt = _options(schedule, options)
    ab_all = schedule.alpha_bar

    def update(x: Tensor, t: int, t_prev: int, eps: Tensor, x0_hat: Tensor, noise: Noise) -> Tensor:
        ab = float(ab_all[t])
        ab_prev = float(ab_all[t_prev]) if t_prev >= 0 else 1.0
        if opt["clip"] is not None:  # the ε̂ consistent with the clipped x̂_0
            eps = (x - math.sqrt(ab) * x0_hat) / math.sqrt(1 - ab)
        sd = eta * math.sqrt((1 - ab_prev) / (1 - ab)) * math.sqrt(max(0.0, 1 - ab / ab_prev))  # ς
        x = math.sqrt(ab_prev) * x0_hat + math.sqrt(max(0.0, 1 - ab_prev - sd**2)) * eps
        return x + sd * noise() if sd > 0 else x

    return _reverse(eps_model, schedule, shape, ddim_timesteps(schedule.T, steps), update, opt)
