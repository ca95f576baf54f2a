"""Masked autoregressive networks for binary data: MADE (Germain, Gregor, Murray & Larochelle 2015).

Any distribution of ``x ∈ {0, 1}^D`` factorises, in any ordering, by the chain rule

.. math:: p(x) = \\prod_{i=1}^{D} p(x_i \\mid x_{<i}),
          \\qquad p(x_i = 1 \\mid x_{<i}) = \\sigma(\\mathrm{logit}_i(x_{<i})),

so a network whose ``i``-th output sees only the inputs before ``i`` gives an *exact*,
normalised log-likelihood in one forward pass. MADE builds it from a plain MLP by masking weights.
Every unit gets a degree: input ``j`` has ``deg_j`` ∈ {1..D}, its position in the ordering;
hidden units have degrees in ``[min of the layer below, D − 1]``. The mask rule:

* hidden unit ``k`` sees unit ``j`` of the layer below iff ``deg_k ≥ deg_j``;
* output ``i`` sees hidden unit ``k`` iff ``deg_i > deg_k`` (strictly), and, with direct
  connections, input ``j`` iff ``deg_i > deg_j``.

By induction a hidden unit of degree ``m`` depends only on inputs of degree ``≤ m`` (every path
climbs through non-decreasing degrees), so output ``i`` depends only on inputs with
``deg_j ≤ deg_k < deg_i``: the Jacobian ``∂logit_i/∂x_j`` is exactly zero (a weight times an
exact 0) whenever ``deg_j ≥ deg_i``. The first input in the ordering has a constant logit.

Sampling goes in the ordering, one variable at a time. :meth:`MADE.sample` does a full forward
pass per variable (``O(D² H)`` for one hidden layer of width ``H``). With one hidden layer,
:meth:`MADE.sample_incremental` keeps the pre-activation ``a = b + W_masked x`` (unsampled
inputs are 0) as a running sum: once ``x_i`` is drawn, ``a ← a + W_masked[:, i] x_i``, a rank-1
update, and the next logit needs one row of the output layer: ``O(D H)`` in all, one forward pass.

Conventions: data are 0/1 floats (for Ising spins use ``x = (s + 1) / 2``); ``ordering`` is the
list of input indices in the order they are generated (``[2, 0, 1]``: ``x_2`` first), so
``deg[ordering[t]] = t + 1``; the mask of a layer has the shape of its weight, ``(out, in)``.
Typical use::

    from lib.autoregressive import MADE
    model = MADE(16, [64], direct=True, dtype=torch.float64)
    x = model.sample(1000, generator=torch.Generator().manual_seed(0))   # (1000, 16) of 0/1
    loss = -model.log_prob(x).mean()
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MADE", "MaskedLinear", "made_degrees", "made_masks", "n_parameters"]


# --------------------------------------------------------------------------- degrees and masks


def _check_ordering(ordering: Any, n_in: int) -> np.ndarray:
    order = np.asarray(ordering)
    if order.shape != (n_in,) or not np.issubdtype(order.dtype, np.integer):
        raise ValueError(f"ordering must be {n_in} integer input indices, got {order.tolist()!r}")
    if not np.array_equal(np.sort(order), np.arange(n_in)):
        raise ValueError(
            f"ordering must be a permutation of 0..{n_in - 1} (the input indices in generation "
            f"order), got {order.tolist()}"
        )
    return order.astype(np.int64)


def made_degrees(
    n_in: int, hidden_sizes: Sequence[int], ordering: Any = None, seed: Any = None
) -> list[np.ndarray]:
    """The degrees ``[deg_input (D,), deg_hidden_1 (H_1,), ...]`` of a MADE.

    Inputs: ``deg[ordering[t]] = t + 1`` (``ordering`` defaults to ``0..D−1``, the natural order).
    Hidden layer ``l``: integers in ``[lo, D − 1]`` with ``lo`` the smallest degree of the layer
    below (no unit is left without inputs); by default cycled ``lo, lo+1, …, D−1, lo, …`` so that
    every degree is represented once ``H ≥ D − lo``; with ``seed`` (an int or a
    ``np.random.Generator``) drawn uniformly instead, as in Germain et al.
    """
    if isinstance(n_in, bool) or not isinstance(n_in, (int, np.integer)) or n_in < 1:
        raise ValueError(f"n_in must be a positive integer (the number of binary inputs), got {n_in!r}")
    sizes = list(hidden_sizes)
    if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in sizes):
        raise ValueError(f"hidden_sizes must be positive integers, got {sizes!r}")
    order = np.arange(n_in) if ordering is None else _check_ordering(ordering, n_in)
    deg = np.empty(n_in, dtype=np.int64)
    deg[order] = np.arange(1, n_in + 1)
    degrees = [deg]
    rng = None if seed is None else np.random.default_rng(seed)
    for h in sizes:
        lo = min(int(degrees[-1].min()), n_in - 1)  # n_in = 1: degree 0, units that see nothing
        if rng is None:
            degrees.append(lo + np.arange(h, dtype=np.int64) % (n_in - lo))
        else:
            degrees.append(rng.integers(lo, n_in, size=h, dtype=np.int64))
    return degrees


def made_masks(degrees: Sequence[np.ndarray], direct: bool = False) -> list[torch.Tensor]:
    """The 0/1 masks (float32, shape ``(out, in)`` like ``nn.Linear.weight``) of each layer.

    ``degrees[0]`` are the input degrees, ``degrees[1:]`` the hidden ones; the output degrees
    are the input degrees. Returns the masks input→hidden_1, …, hidden_L→output (with no hidden
    layer: the one input→output mask), then, with ``direct=True``, the input→output mask.
    Rule: hidden ``k`` sees ``j`` iff ``deg_k ≥ deg_j``; output ``i`` sees ``k`` iff ``deg_i > deg_k``.
    """
    degs = [np.asarray(d) for d in degrees]
    if len(degs) == 0 or any(d.ndim != 1 for d in degs):
        raise ValueError("degrees must be a non-empty list of 1-D arrays, as made_degrees returns")
    masks = [d_out[:, None] >= d_in[None, :] for d_in, d_out in itertools.pairwise(degs)]
    masks.append(degs[0][:, None] > degs[-1][None, :])
    if direct:
        masks.append(degs[0][:, None] > degs[0][None, :])
    return [torch.as_tensor(m, dtype=torch.float32) for m in masks]


# --------------------------------------------------------------------------- layers


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 mask (a buffer, saved with the
    state dict and moved with ``.to``): ``y = x (mask ⊙ W)ᵀ + b``."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None
    ):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.register_buffer("mask", torch.ones_like(self.weight))

    def set_mask(self, mask: Any) -> None:
        """Set the mask: 0/1 values, shape ``(out_features, in_features)``."""
        m = torch.as_tensor(mask)
        if m.shape != self.weight.shape:
            raise ValueError(
                f"mask must have the weight's shape (out, in) = {tuple(self.weight.shape)}, got {tuple(m.shape)}"
            )
        if not bool(((m == 0) | (m == 1)).all()):
            raise ValueError("mask must contain only 0 and 1")
        self.mask.copy_(m.to(self.mask))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.mask * self.weight, self.bias)


def n_parameters(module: nn.Module) -> int:
    """Trainable parameters that can change the output: masked-out weights are not counted."""
    total = 0
    for m in module.modules():
        for name, p in m.named_parameters(recurse=False):
            masked = isinstance(m, MaskedLinear) and name == "weight"
            total += int(m.mask.count_nonzero()) if masked else p.numel()
    return total


# --------------------------------------------------------------------------- MADE


class MADE(nn.Module):
    """Bernoulli logits of each ``x_i`` given the inputs before it in ``ordering``.

    Args:
        n_in: D, the number of binary variables.
        hidden_sizes: widths of the hidden layers; ``[]`` gives the logistic autoregressive
            model ``logit = b + W_strict x`` (VAN's one-layer network).
        ordering: input indices in generation order (default ``0..D−1``).
        direct: add direct input→output connections (masked strictly; no bias of their own).
        activation: the hidden nonlinearity, a module class (default ``nn.ReLU``).
        seed: draw the hidden degrees at random (see :func:`made_degrees`); default cycled.
        dtype, device: of the parameters (the samplers and ``log_prob`` follow them).
    """

    def __init__(
        self,
        n_in: int,
        hidden_sizes: Sequence[int],
        ordering: Any = None,
        direct: bool = False,
        activation: type[nn.Module] = nn.ReLU,
        *,
        seed: Any = None,
        dtype: Any = None,
        device: Any = None,
    ):
        super().__init__()
        self.degrees = made_degrees(n_in, hidden_sizes, ordering, seed)
        if direct and len(self.degrees) == 1:
            raise ValueError(
                "direct=True needs a hidden layer: without one the model is already input→output"
            )
        self.n_in, self.hidden_sizes = int(n_in), [int(h) for h in hidden_sizes]
        masks = made_masks(self.degrees, direct)
        sizes = [self.n_in, *self.hidden_sizes, self.n_in]
        layers: list[nn.Module] = []
        for k, (d_in, d_out) in enumerate(itertools.pairwise(sizes)):
            layer = MaskedLinear(d_in, d_out, device=device, dtype=dtype)
            layer.set_mask(masks[k])
            layers += [layer, activation()] if k < len(sizes) - 2 else [layer]
        self.net = nn.Sequential(*layers)
        self.direct = None
        if direct:
            self.direct = MaskedLinear(self.n_in, self.n_in, bias=False, device=device, dtype=dtype)
            self.direct.set_mask(masks[-1])
        order = np.argsort(self.degrees[0])
        self.register_buffer("order", torch.as_tensor(order, dtype=torch.long, device=device))

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[-1] != self.n_in:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (B, {self.n_in}) with 0/1 entries, got {shape}")
        w = self.net[0].weight
        return x.to(device=w.device, dtype=w.dtype)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``logit_i = log p(x_i=1|x_<i) − log p(x_i=0|x_<i)``, shape (B, D) from x of shape (B, D)."""
        x = self._check(x)
        out = self.net(x)  # (B, D)
        return out if self.direct is None else out + self.direct(x)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The exact ``log p(x) = Σ_i log Bernoulli(x_i; σ(logit_i))``, shape (B,) (x not checked binary)."""
        x = self._check(x)
        return -F.binary_cross_entropy_with_logits(self.logits(x), x, reduction="none").sum(-1)

    def _uniforms(self, n: int, generator: Any, uniforms: Any) -> torch.Tensor:
        w = self.net[0].weight
        if uniforms is None:
            return torch.rand(n, self.n_in, generator=generator, device=w.device, dtype=w.dtype)
        u = torch.as_tensor(uniforms)
        if u.shape != (n, self.n_in):
            raise ValueError(f"uniforms must have shape (n, D) = ({n}, {self.n_in}), got {tuple(u.shape)}")
        return u.to(device=w.device, dtype=w.dtype)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, uniforms: Any = None) -> torch.Tensor:
        """``n`` exact samples (n, D), one forward pass per variable: ``x_i = 1{u_i < σ(logit_i)}``.

        ``uniforms[:, i]`` (shape (n, D), in [0, 1)) decides ``x_i``; drawn with ``generator``
        when not given. Detached, in the parameters' dtype and device.
        """
        u = self._uniforms(n, generator, uniforms)
        x = torch.zeros_like(u)  # (n, D); not yet sampled = 0
        for i in self.order.tolist():
            x[:, i] = (u[:, i] < torch.sigmoid(self.logits(x)[:, i])).to(x.dtype)
        return x

    @torch.no_grad()
    def sample_incremental(
        self, n: int, generator: torch.Generator | None = None, uniforms: Any = None
    ) -> torch.Tensor:
        """The same samples as :meth:`sample` (same uniforms, up to round-off in the logits) at
        the cost of about one forward pass: the hidden pre-activation is updated by one rank-1
        term per drawn variable. Needs at most one hidden layer."""
        if len(self.hidden_sizes) > 1:
            raise ValueError(
                f"sample_incremental needs at most one hidden layer, this MADE has {len(self.hidden_sizes)} "
                f"({self.hidden_sizes}); use sample() instead"
            )
        u = self._uniforms(n, generator, uniforms)
        x = torch.zeros_like(u)  # (n, D)
        first = self.net[0]
        W = first.mask * first.weight  # (H, D), or (D, D) without a hidden layer
        a = first.bias.expand(n, -1).clone()  # (n, H): running b + W x
        if self.hidden_sizes:
            act, last = self.net[1], self.net[-1]
            V, c = last.mask * last.weight, last.bias  # (D, H), (D,)
        if self.direct is not None:
            Wd = self.direct.mask * self.direct.weight  # (D, D)
            d = torch.zeros_like(u)  # (n, D): running Wd x
        for i in self.order.tolist():
            logit = act(a) @ V[i] + c[i] if self.hidden_sizes else a[:, i]  # (n,)
            if self.direct is not None:
                logit = logit + d[:, i]
            xi = (u[:, i] < torch.sigmoid(logit)).to(x.dtype)  # (n,)
            x[:, i] = xi
            a += xi[:, None] * W[:, i]  # rank-1 update
            if self.direct is not None:
                d += xi[:, None] * Wd[:, i]
        return x
