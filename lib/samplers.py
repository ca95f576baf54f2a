"""MCMC samplers for any differentiable energy: Langevin dynamics (ULA), MALA, random-walk
Metropolis, and the replay buffer of short-run EBM training.

Sampling from ``p(x) = exp(-E(x)) / Z`` only needs the energy ``E``: a callable that maps a batch
``(B, ...)`` tensor to ``(B,)`` energies (a neural network, or a closed form)::

    from lib import samplers, toy2d
    target = toy2d.GaussianMixture.ring(k=8, radius=3.0, std=0.4)
    x0 = torch.randn(1000, 2)
    out = samplers.langevin(target.energy, x0, n_steps=500, step_size=0.05, metropolis=True)
    out.samples, out.acceptance_rate

Two ways to parametrise one Langevin step (``ξ ~ N(0, I)``):

* exact pairing (``step_size=ε``): ``x ← x − (ε/2) ∇E(x) + √ε ξ``, the Euler–Maruyama
  discretisation of the Langevin diffusion whose stationary law tends to ``p`` as ``ε → 0``;
* decoupled (``grad_step=λ, noise_std=σ``): ``x ← x − λ ∇E(x) + σ ξ``, as in EBM practice
  (Du & Mordatch 2019 use λ = 10 and σ = 0.005 on images in [0, 1]); this samples a
  sharpened ("cold") distribution and is a heuristic, not an exact sampler.

``metropolis=True`` adds the Metropolis–Hastings accept/reject step (MALA), which makes either
parametrisation exact for any step size, at the price of rejected moves.

To sample from an energy *network*, run the sampler inside ``with frozen(net):`` (evaluation
mode, weights held fixed): the chains then neither change the network nor pay for gradients of
its weights.
"""

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "EnergyFn",
    "MCMCResult",
    "ReplayBuffer",
    "frozen",
    "langevin",
    "random_walk_metropolis",
    "ula_stationary_variance",
]

#: An energy: maps a batch ``(B, ...)`` tensor to a ``(B,)`` tensor of energies.
EnergyFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class MCMCResult:
    """What a sampler returns.

    Attributes:
        samples: the final states, same shape as the initial batch ``(B, ...)`` (detached).
        chain: ``(T, B, ...)`` states recorded every ``chain_every`` steps (the initial state
            first, the final state last) on the CPU, or ``None`` if not requested.
        acceptance_rate: fraction of accepted proposals over all chains and steps
            (``None`` for unadjusted Langevin, where every move is taken).
        energies: the energies ``(B,)`` of the final states.
    """

    samples: torch.Tensor
    chain: torch.Tensor | None
    acceptance_rate: float | None
    energies: torch.Tensor


# --------------------------------------------------------------------------- samplers


def _check_x0(x0: Any) -> torch.Tensor:
    if not isinstance(x0, torch.Tensor):
        raise ValueError(f"x0 must be a torch.Tensor of shape (B, ...), got {type(x0).__name__}")
    if x0.ndim < 1 or x0.shape[0] == 0:
        raise ValueError(f"x0 must have shape (B, ...) with B ≥ 1, got {tuple(x0.shape)}")
    if not x0.is_floating_point():
        raise ValueError(f"x0 must be a floating-point tensor, got dtype {x0.dtype}")
    return x0


def _energy_and_grad(energy: EnergyFn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Energies ``(B,)`` and their gradient w.r.t. ``x`` (no graph kept, model grads untouched)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        e = energy(x)
        if e.shape != (x.shape[0],):
            raise ValueError(
                f"the energy must map a (B, ...) batch to shape (B,) = ({x.shape[0]},), got {tuple(e.shape)}"
            )
        (grad,) = torch.autograd.grad(e.sum(), x)
    return e.detach(), grad.detach()


def _check_positive(name: str, value: float | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def langevin(
    energy: EnergyFn,
    x0: torch.Tensor,
    *,
    n_steps: int,
    step_size: float | None = None,
    grad_step: float | None = None,
    noise_std: float | None = None,
    metropolis: bool = False,
    clamp: tuple[float, float] | None = None,
    grad_clip: float | None = None,
    return_chain: bool = False,
    chain_every: int = 1,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> MCMCResult:
    """Run ``B`` Langevin chains (optionally Metropolis-adjusted: MALA) from ``x0``.

    One step proposes ``x' = x − λ ∇E(x) + σ ξ`` with ``ξ ~ N(0, I)``, where either
    ``step_size=ε`` gives the exact pairing ``λ = ε/2, σ = √ε``, or ``grad_step=λ`` and
    ``noise_std=σ`` are given separately (the EBM-practice decoupling of Du & Mordatch, 2019).

    Args:
        energy: maps a ``(B, ...)`` tensor to ``(B,)`` energies; must be differentiable.
        x0: initial states ``(B, ...)``, floating point (not modified).
        n_steps: number of steps (≥ 0).
        step_size: ε of the exact pairing; give either this or both ``grad_step`` and ``noise_std``.
        grad_step: λ, the coefficient of ``−∇E`` (decoupled form).
        noise_std: σ, the standard deviation of the added noise (decoupled form; may be 0).
        metropolis: accept/reject each proposal with the Metropolis–Hastings ratio (MALA);
            the acceptance rate is reported. Incompatible with ``clamp`` and ``grad_clip``,
            which would break detailed balance.
        clamp: ``(low, high)``: clip the states to the data range after every step.
        grad_clip: clip every component of ``∇E`` to ``[-grad_clip, grad_clip]`` (a common EBM
            stabiliser, e.g. 0.03 for images in [-1, 1]).
        return_chain: also return the states every ``chain_every`` steps (on the CPU).
        chain_every: recording interval for ``return_chain``.
        generator: a ``torch.Generator`` for reproducible noise (default: the global one).
        progress: show a tqdm progress bar.

    Returns:
        An :class:`MCMCResult`.

    Raises:
        ValueError: for a bad shape, non-positive step parameters, or an invalid combination.
    """
    x = _check_x0(x0).detach().clone()
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    if step_size is not None:
        if grad_step is not None or noise_std is not None:
            raise ValueError("give either step_size (exact pairing) or grad_step and noise_std, not both")
        _check_positive("step_size", step_size)
        lam, sigma = step_size / 2.0, math.sqrt(step_size)
    else:
        if grad_step is None or noise_std is None:
            raise ValueError("give step_size, or both grad_step and noise_std")
        _check_positive("grad_step", grad_step)
        if not isinstance(noise_std, (int, float)) or not math.isfinite(noise_std) or noise_std < 0:
            raise ValueError(f"noise_std must be a non-negative finite number, got {noise_std!r}")
        lam, sigma = float(grad_step), float(noise_std)
    if metropolis and sigma == 0:
        raise ValueError("metropolis=True needs noise_std > 0 (the proposal must have a density)")
    if metropolis and (clamp is not None or grad_clip is not None):
        raise ValueError(
            "metropolis=True cannot be combined with clamp or grad_clip (they break detailed balance)"
        )
    if clamp is not None:
        if len(clamp) != 2 or not clamp[0] < clamp[1]:
            raise ValueError(f"clamp must be a pair (low, high) with low < high, got {clamp!r}")
    _check_positive("grad_clip", grad_clip, allow_none=True)
    if not isinstance(chain_every, (int, np.integer)) or chain_every < 1:
        raise ValueError(f"chain_every must be a positive integer, got {chain_every!r}")

    def noise_like(t: torch.Tensor) -> torch.Tensor:
        return torch.randn(t.shape, generator=generator, device=t.device, dtype=t.dtype)

    def log_q(x_to: torch.Tensor, x_from: torch.Tensor, grad_from: torch.Tensor) -> torch.Tensor:
        # log N(x_to; x_from − λ∇E(x_from), σ² I) up to a constant, summed over non-batch dims.
        d = x_to - x_from + lam * grad_from
        return -(d.flatten(1) ** 2).sum(1) / (2 * sigma**2)

    chain = [x.cpu()] if return_chain else None
    n_accepted, n_proposed = 0, 0
    e, g = _energy_and_grad(energy, x)
    steps: Any = range(int(n_steps))
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="Langevin" if not metropolis else "MALA", leave=False)
    for t in steps:
        if grad_clip is not None:
            g = g.clamp(-grad_clip, grad_clip)
        proposal = x - lam * g + sigma * noise_like(x)
        if clamp is not None:
            proposal = proposal.clamp(clamp[0], clamp[1])
        e_new, g_new = _energy_and_grad(energy, proposal)
        if metropolis:
            log_alpha = (e - e_new) + log_q(x, proposal, g_new) - log_q(proposal, x, g)
            u = torch.rand(x.shape[0], generator=generator, device=x.device, dtype=x.dtype)
            accept = torch.log(u) < log_alpha  # NaN proposals are rejected
            n_accepted += int(accept.sum())
            n_proposed += x.shape[0]
            mask = accept.view(-1, *([1] * (x.ndim - 1)))
            x = torch.where(mask, proposal, x)
            e = torch.where(accept, e_new, e)
            g = torch.where(mask, g_new, g)
        else:
            x, e, g = proposal, e_new, g_new
        if chain is not None and ((t + 1) % chain_every == 0 or t + 1 == n_steps):
            chain.append(x.cpu())
    rate = n_accepted / n_proposed if metropolis and n_proposed else None
    return MCMCResult(
        samples=x.detach(),
        chain=torch.stack(chain) if chain is not None else None,
        acceptance_rate=rate,
        energies=e.detach(),
    )


def random_walk_metropolis(
    energy: EnergyFn,
    x0: torch.Tensor,
    *,
    n_steps: int,
    proposal_std: float,
    return_chain: bool = False,
    chain_every: int = 1,
    generator: torch.Generator | None = None,
) -> MCMCResult:
    """Random-walk Metropolis: propose ``x' = x + s ξ`` and accept with ``min(1, e^{E(x) − E(x')})``.

    Needs no gradient, one energy evaluation per step. Arguments as in :func:`langevin`;
    ``proposal_std`` is ``s``.
    """
    x = _check_x0(x0).detach().clone()
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    _check_positive("proposal_std", proposal_std)
    if not isinstance(chain_every, (int, np.integer)) or chain_every < 1:
        raise ValueError(f"chain_every must be a positive integer, got {chain_every!r}")
    with torch.no_grad():
        e = energy(x)
        if e.shape != (x.shape[0],):
            raise ValueError(
                f"the energy must map a (B, ...) batch to shape (B,) = ({x.shape[0]},), got {tuple(e.shape)}"
            )
        chain = [x.cpu()] if return_chain else None
        n_accepted = 0
        for t in range(int(n_steps)):
            proposal = x + proposal_std * torch.randn(
                x.shape, generator=generator, device=x.device, dtype=x.dtype
            )
            e_new = energy(proposal)
            u = torch.rand(x.shape[0], generator=generator, device=x.device, dtype=x.dtype)
            accept = torch.log(u) < (e - e_new)
            n_accepted += int(accept.sum())
            x = torch.where(accept.view(-1, *([1] * (x.ndim - 1))), proposal, x)
            e = torch.where(accept, e_new, e)
            if chain is not None and ((t + 1) % chain_every == 0 or t + 1 == n_steps):
                chain.append(x.cpu())
    return MCMCResult(
        samples=x,
        chain=torch.stack(chain) if chain is not None else None,
        acceptance_rate=n_accepted / (n_steps * x.shape[0]) if n_steps else None,
        energies=e,
    )


@contextlib.contextmanager
def frozen(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Hold an energy network fixed while chains sample from it.

    Inside the ``with`` block the network is in evaluation mode (a spectrally normalised layer
    uses its current estimate of the largest singular value instead of refining it at every
    call, and dropout or batch statistics do not move), its parameters do not require gradients
    (a Langevin step then differentiates with respect to the states only), and a parametrised
    weight (``torch.nn.utils.parametrizations.spectral_norm``) is computed once for the block,
    not at every step. On leaving, the training mode and every parameter's ``requires_grad``
    are restored as they were::

        with frozen(net):
            x = langevin(lambda x: net(x), x0, n_steps=60, grad_step=10.0, noise_std=0.005).samples
    """
    from torch.nn.utils import parametrize

    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"frozen() takes a torch.nn.Module, got {type(model).__name__}")
    was_training = model.training
    wanted = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in wanted:
        p.requires_grad_(False)
    try:
        with parametrize.cached():
            yield model
    finally:
        for p, requires_grad in wanted:
            p.requires_grad_(requires_grad)
        model.train(was_training)


def ula_stationary_variance(variance: float | np.ndarray, step_size: float) -> float | np.ndarray:
    """Stationary variance of *unadjusted* Langevin (exact pairing, step ε) on a Gaussian target.

    For ``E(x) = x²/(2v)`` the chain is ``x' = (1 − ε/(2v)) x + √ε ξ``, whose stationary
    variance is ``v / (1 − ε/(4v))``: always too wide, and divergent for ``ε ≥ 4v``.
    Applies per eigen-direction of a multivariate Gaussian.
    """
    v = np.asarray(variance, dtype=float)
    _check_positive("step_size", step_size)
    if np.any(v <= 0):
        raise ValueError("variance must be positive")
    if np.any(step_size >= 4 * v):
        raise ValueError(f"unadjusted Langevin diverges for step_size ≥ 4·variance (step_size={step_size})")
    out = v / (1.0 - step_size / (4.0 * v))
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- replay buffer


class ReplayBuffer:
    """The sample replay buffer of Du & Mordatch (2019) for short-run EBM training.

    A fixed-size store of past negative samples. :meth:`sample` draws a batch of stored states
    and restarts a fraction ``reinit_prob`` (≈ 5 %) of them from noise; after the Langevin
    steps, :meth:`update` writes the new states back to the same slots::

        buffer = ReplayBuffer(8192, (1, 28, 28))
        x, idx = buffer.sample(128)
        x = langevin(energy, x, ...).samples
        buffer.update(idx, x)

    ``buffer.age`` counts, for every slot, the updates its chain has received since it last
    started from noise (0 for a slot never updated): with ``K`` Langevin steps per update, a
    stored state has run ``K * age`` steps.

    Args:
        capacity: number of stored states.
        sample_shape: shape of one state, e.g. ``(1, 28, 28)``.
        reinit_prob: probability that a drawn state is replaced by fresh noise.
        init: ``init(n) -> (n, *sample_shape)`` tensor of fresh noise (default: uniform in [-1, 1]).
        generator: a ``torch.Generator`` for reproducibility.
    """

    def __init__(
        self,
        capacity: int,
        sample_shape: Sequence[int],
        *,
        reinit_prob: float = 0.05,
        init: Callable[[int], torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(capacity, (int, np.integer)) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        if not 0.0 <= reinit_prob <= 1.0:
            raise ValueError(f"reinit_prob must be in [0, 1], got {reinit_prob!r}")
        self.sample_shape = tuple(int(s) for s in sample_shape)
        if any(s < 1 for s in self.sample_shape):
            raise ValueError(f"sample_shape must hold positive sizes, got {sample_shape!r}")
        self.capacity = int(capacity)
        self.reinit_prob = float(reinit_prob)
        self.generator = generator
        self._init = init or (lambda n: 2 * torch.rand((n, *self.sample_shape), generator=self.generator) - 1)
        self.data = self._fresh(self.capacity)
        #: updates each slot's chain has received since it last started from noise, ``(capacity,)``
        self.age = torch.zeros(self.capacity, dtype=torch.long)
        self._restarted = torch.zeros(self.capacity, dtype=torch.bool)  # drawn as fresh noise

    def _fresh(self, n: int) -> torch.Tensor:
        x = self._init(n)
        if tuple(x.shape) != (n, *self.sample_shape):
            raise ValueError(f"init({n}) must return shape {(n, *self.sample_shape)}, got {tuple(x.shape)}")
        return x.detach().float()

    def __len__(self) -> int:
        return self.capacity

    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``batch_size`` states (without replacement); returns ``(x, idx)``.

        A fraction ``reinit_prob`` of them (on average) is fresh noise instead of a stored state.
        """
        if not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= self.capacity:
            raise ValueError(f"batch_size must be an integer in [1, {self.capacity}], got {batch_size!r}")
        idx = torch.randperm(self.capacity, generator=self.generator)[:batch_size]
        x = self.data[idx].clone()
        restart = torch.rand(batch_size, generator=self.generator) < self.reinit_prob
        if restart.any():
            x[restart] = self._fresh(int(restart.sum()))
        self._restarted[idx] = restart
        return x, idx

    def update(self, idx: torch.Tensor, x: torch.Tensor) -> None:
        """Store the states ``x`` (``(len(idx), *sample_shape)``) in the slots ``idx``, and count
        one more update for each of their chains (the first, for a chain that :meth:`sample`
        restarted from noise)."""
        if tuple(x.shape) != (len(idx), *self.sample_shape):
            raise ValueError(f"x must have shape {(len(idx), *self.sample_shape)}, got {tuple(x.shape)}")
        self.data[idx] = x.detach().to(self.data.device, self.data.dtype)
        idx = torch.as_tensor(idx, dtype=torch.long).cpu()
        self.age[idx] = torch.where(self._restarted[idx], 0, self.age[idx]) + 1
        self._restarted[idx] = False

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The stored states, their ages and, when the buffer has its own generator, that
        generator's state: what :func:`lib.cache.cached_torch` saves, so that a loaded buffer holds
        the same states and draws the same batches as the one that was trained."""
        state = {"data": self.data, "age": self.age}
        if self.generator is not None:
            state["generator"] = self.generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`state_dict` returned (the states are copied in place)."""
        data = state["data"]
        if tuple(data.shape) != tuple(self.data.shape):
            raise ValueError(
                f"stored states have shape {tuple(data.shape)}, this buffer {tuple(self.data.shape)}"
            )
        if ("generator" in state) != (self.generator is not None):
            raise ValueError("the stored buffer and this one differ in having their own generator")
        self.data.copy_(data)
        if "age" in state:
            self.age.copy_(state["age"])
        else:  # saved before the buffer counted ages
            self.age.zero_()
        self._restarted.zero_()
        if self.generator is not None:
            self.generator.set_state(state["generator"])
