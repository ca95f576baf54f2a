"""Normalizing flows with affine coupling layers: RealNVP (Dinh, Sohl-Dickstein & Bengio 2017).

A flow is an invertible map ``z = f(x)`` from data to a latent ``z`` with a simple density
``p_Z`` (here a standard normal). By the change of variables

.. math:: \\log q(x) = \\log p_Z(f(x)) + \\log\\left|\\det \\frac{\\partial f}{\\partial x}\\right|,

exact as long as ``f`` is invertible and its Jacobian determinant is cheap. An affine coupling
with a binary ``mask`` (1 = passed through, 0 = transformed) does both::

    x_a = x ⊙ mask
    y   = x_a + (1 − mask) ⊙ (x ⊙ exp(s(x_a)) + t(x_a))
    log|det ∂y/∂x| = Σ_i (1 − mask_i) s_i(x_a)

The Jacobian is triangular (the passed half ``y_a = x_a`` does not depend on the rest, and the
transformed half is elementwise in ``x`` given ``x_a``), so its determinant is the product of the
diagonal ``exp(s)``. The inverse is just as cheap: ``x = y_a + (1 − mask) ⊙ (y − t(y_a)) ⊙ exp(−s(y_a))``.
Stacking couplings with complementary masks (:func:`alternating_masks` for toy 2-D densities,
:func:`checkerboard_masks` for ``L×L`` lattice fields) transforms every coordinate.

Conventions: :meth:`Flow.forward` goes data → latent, :meth:`Flow.inverse` latent → data, each
returning ``(output, log|det ∂output/∂input|)`` per sample; :meth:`Flow.sample` returns samples
with their exact ``log q`` (for reverse-KL training and importance weights). The scale is bounded:
``s = s_max · tanh(raw / s_max)``, a FIXED ``s_max`` (default 2, so each layer rescales a coordinate
by at most ``e²``) with slope 1 at ``raw = 0``; the conditioner's last layer starts at zero, so a new
coupling is the identity. Typical use::

    from lib import flows
    flow = flows.make_flow(flows.alternating_masks(2, 6), hidden=64).double()
    x, log_q = flow.sample(1000, generator=torch.Generator().manual_seed(0))
    loss = -flow.log_prob(data).mean()                      # maximum likelihood
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["AffineCoupling", "Flow", "StandardNormal", "alternating_masks", "checkerboard_masks", "make_flow"]


def _check_width(x: Any, D: int, what: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[-1] != D:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"{what} must be a tensor of shape (B, {D}) to match the flow's dimension {D}, got {shape}"
        )


# --------------------------------------------------------------------------- masks


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return value


def alternating_masks(D: int, n_layers: int, dtype: Any = None) -> list[torch.Tensor]:
    """``n_layers`` masks of length ``D`` alternating in parity: ``[1,0,1,…]``, ``[0,1,0,…]``, …
    (for ``D = 2``: ``[1,0]``, ``[0,1]``, ``[1,0]``, …)."""
    _check_int("D", D, 2)
    _check_int("n_layers", n_layers, 1)
    i = torch.arange(D)
    return [((i + k) % 2 == 0).to(dtype or torch.get_default_dtype()) for k in range(n_layers)]


def checkerboard_masks(L: int, n_layers: int, dtype: Any = None) -> list[torch.Tensor]:
    """``n_layers`` flattened ``L×L`` checkerboards (site ``(r, c)`` at index ``r·L + c``), the first
    with 1 on the even sites ``r + c``, then alternating parity."""
    _check_int("L", L, 2)
    _check_int("n_layers", n_layers, 1)
    r, c = torch.meshgrid(torch.arange(L), torch.arange(L), indexing="ij")
    parity = (r + c).reshape(-1)  # (L*L,)
    return [((parity + k) % 2 == 0).to(dtype or torch.get_default_dtype()) for k in range(n_layers)]


# --------------------------------------------------------------------------- layers


class AffineCoupling(nn.Module):
    """One affine coupling ``y = x_a + (1 − mask) ⊙ (x ⊙ exp(s(x_a)) + t(x_a))``, ``x_a = x ⊙ mask``.

    Args:
        mask: shape (D,), 0/1; 1 = passed through unchanged and fed to the conditioner.
        hidden, n_hidden_layers, activation: the conditioner MLP ``D → hidden (× n_hidden_layers) → 2D``
            (outputs ``raw`` and ``t``); its last layer is zero, so the layer starts as the identity.
        s_max: the fixed bound of the log-scale, ``s = s_max · tanh(raw / s_max)``.
        net: a conditioner of your own instead of the MLP (e.g. a CNN on ``L×L`` lattices), any
            module mapping (B, D) to (B, 2D); make it output zero at first for an identity start.
    """

    def __init__(
        self,
        mask: Any,
        hidden: int = 64,
        n_hidden_layers: int = 2,
        activation: type[nn.Module] = nn.Tanh,
        *,
        s_max: float = 2.0,
        net: nn.Module | None = None,
    ):
        super().__init__()
        m = torch.as_tensor(mask)
        if m.ndim != 1 or m.shape[0] < 1:
            raise ValueError(f"mask must be a 1-D tensor of shape (D,), got shape {tuple(m.shape)}")
        if not bool(((m == 0) | (m == 1)).all()):
            raise ValueError(f"mask must contain only 0 and 1 (1 = passed through), got {m.tolist()}")
        if not (isinstance(s_max, (int, float)) and math.isfinite(s_max) and s_max > 0):
            raise ValueError(f"s_max must be a positive finite number, got {s_max!r}")
        self.D, self.s_max = int(m.shape[0]), float(s_max)
        self.register_buffer("mask", m.to(torch.get_default_dtype()))  # .double() etc. convert it
        if net is None:
            _check_int("hidden", hidden, 1)
            _check_int("n_hidden_layers", n_hidden_layers, 1)
            sizes = [self.D] + [hidden] * n_hidden_layers
            layers: list[nn.Module] = []
            for d_in, d_out in itertools.pairwise(sizes):
                layers += [nn.Linear(d_in, d_out), activation()]
            last = nn.Linear(hidden, 2 * self.D)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            net = nn.Sequential(*layers, last)
        self.net = net

    def _s_t(self, x_a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x_a)  # (B, 2D)
        if out.shape[-1] != 2 * self.D:
            raise ValueError(
                f"the conditioner must map (B, {self.D}) to (B, {2 * self.D}), got {tuple(out.shape)}"
            )
        raw, t = out.chunk(2, dim=-1)  # (B, D) each
        free = 1 - self.mask
        return free * self.s_max * torch.tanh(raw / self.s_max), free * t

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, log|det ∂y/∂x|)``: shapes (B, D) and (B,)."""
        _check_width(x, self.D, "x")
        x_a = x * self.mask
        s, t = self._s_t(x_a)
        return x_a + (1 - self.mask) * (x * torch.exp(s) + t), s.sum(-1)

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, log|det ∂x/∂y|)`` with ``forward(x) = y``; the log-det is minus the forward one."""
        _check_width(y, self.D, "y")
        y_a = y * self.mask
        s, t = self._s_t(y_a)
        return y_a + (1 - self.mask) * ((y - t) * torch.exp(-s)), -s.sum(-1)


class StandardNormal(nn.Module):
    """The ``D``-dimensional standard normal; its dtype and device follow the module's (``.double()``,
    ``.to(device)``), so a flow moves its base with it."""

    def __init__(self, D: int):
        super().__init__()
        self.D = _check_int("D", D, 1)
        self.register_buffer("_like", torch.zeros(()))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``−½|z|² − (D/2) log 2π``, shape (B,)."""
        _check_width(z, self.D, "z")
        return -0.5 * (z * z).sum(-1) - 0.5 * self.D * math.log(2 * math.pi)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws, shape (n, D)."""
        return torch.randn(n, self.D, generator=generator, dtype=self._like.dtype, device=self._like.device)


class Flow(nn.Module):
    """A stack of invertible layers on a base density: ``z = f_K ∘ … ∘ f_1 (x)``.

    ``layers`` are :class:`AffineCoupling` layers (any module with ``forward(x) -> (y, log_det)``
    and ``inverse(y) -> (x, log_det)`` will do), applied in order from data to latent; ``base``
    needs ``log_prob(z)`` and ``sample(n, generator)`` (default: :class:`StandardNormal`).
    """

    def __init__(self, layers: Sequence[nn.Module], base: nn.Module | None = None):
        super().__init__()
        if len(layers) == 0:
            raise ValueError("a Flow needs at least one layer")
        dims = {getattr(layer, "D", None) for layer in layers}
        if len(dims) != 1 or None in dims:
            raise ValueError(
                f"all layers must have the same dimension D (attribute .D), got {sorted(map(str, dims))}"
            )
        self.D = dims.pop()
        base = StandardNormal(self.D) if base is None else base
        if getattr(base, "D", self.D) != self.D:
            raise ValueError(f"the base has dimension {base.D} but the layers have D = {self.D}")
        self.layers, self.base = nn.ModuleList(layers), base

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data → latent: ``(z, log|det ∂z/∂x|)``, shapes (B, D) and (B,)."""
        _check_width(x, self.D, "x")
        log_det = x.new_zeros(x.shape[:-1])
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent → data: ``(x, log|det ∂x/∂z|)``, shapes (B, D) and (B,)."""
        _check_width(z, self.D, "z")
        log_det = z.new_zeros(z.shape[:-1])
        for layer in reversed(self.layers):
            z, ld = layer.inverse(z)
            log_det = log_det + ld
        return z, log_det

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The exact ``log q(x) = log p_Z(f(x)) + log|det ∂f/∂x|``, shape (B,)."""
        z, log_det = self.forward(x)
        return self.base.log_prob(z) + log_det

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, log q(x))``, shapes (n, D) and (n,): ``x = f⁻¹(z)``, ``z ~ base``, and
        ``log q(x) = log p_Z(z) − log|det ∂x/∂z|``. Differentiable in the parameters (reverse KL);
        wrap in ``torch.no_grad()`` when only the samples are wanted."""
        z = self.base.sample(n, generator)
        x, log_det = self.inverse(z)
        return x, self.base.log_prob(z) - log_det


def make_flow(
    masks: Sequence[Any],
    hidden: int = 64,
    n_hidden_layers: int = 2,
    activation: type[nn.Module] = nn.Tanh,
    *,
    s_max: float = 2.0,
    base: nn.Module | None = None,
) -> Flow:
    """A :class:`Flow` of one :class:`AffineCoupling` per mask (float32; call ``.double()`` for float64)."""
    layers = [AffineCoupling(m, hidden, n_hidden_layers, activation, s_max=s_max) for m in masks]
    return Flow(layers, base)
