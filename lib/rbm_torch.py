"""The course's one PyTorch restricted Boltzmann machine, and a fast CD-k / PCD-k trainer.

Binary visible units ``v`` (D of them) and binary hidden units ``h`` (H), with the conventions of
lecture 01 and :mod:`lib.rbm`::

    E(v, h) = -b·v - c·h - vᵀ W h,        W: (D, H), b: (D,), c: (H,)
    F(v)    = -b·v - Σ_j softplus(c_j + (vᵀW)_j)          (free energy, h summed out)

Public names: :class:`RBM` (an ``nn.Module`` holding ``W``, ``b``, ``c``); :func:`cd_gradients`,
the closed-form gradient estimate ``<v hᵀ>_data - <v hᵀ>_model``, exactly minus the autograd
gradient of the surrogate loss that lecture 01 differentiates; :func:`train_reference`, CD-k or
PCD-k written plainly, the loop lecture 01 shows; and :func:`train`, the same updates written out
for speed (no autograd, preallocated buffers, in-place operations), which the lectures run. The
tests check that the two make the same updates from the same seed.

PyTorch is imported by this module (it is the PyTorch RBM); :mod:`lib.rbm` stays framework-free.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from lib import config

__all__ = ["METHODS", "RBM", "cd_gradients", "train", "train_reference"]

#: The training methods :func:`train` knows: contrastive divergence and persistent CD.
METHODS: tuple[str, ...] = ("cd", "pcd")
Generator = torch.Generator | None
Pair = tuple[torch.Tensor, torch.Tensor]  # probabilities and a sample


class RBM(nn.Module):
    """A binary (Bernoulli–Bernoulli) restricted Boltzmann machine.

    Args:
        n_visible: D, the number of visible units (784 for MNIST).
        n_hidden: H, the number of hidden units.
        visible_bias: initial visible biases ``b`` (D,), e.g. the base-rate logits of
            :func:`lib.rbm.base_rate_bias` (Hinton's *practical guide*); zeros by default.
        weight_scale: standard deviation of the initial weights, drawn from PyTorch's global
            generator (seed it with :func:`lib.config.setup` or ``torch.manual_seed``).

    Parameters: ``W`` (D, H) ~ N(0, weight_scale²), ``b`` (D,), ``c`` (H,) = 0, float32.
    """

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        visible_bias: Any = None,
        *,
        weight_scale: float = 0.01,
    ) -> None:
        super().__init__()
        n_visible, n_hidden = _positive_int("n_visible", n_visible), _positive_int("n_hidden", n_hidden)
        if not (isinstance(weight_scale, (int, float)) and math.isfinite(weight_scale) and weight_scale >= 0):
            raise ValueError(f"weight_scale must be a finite number ≥ 0, got {weight_scale!r}")
        self.W = nn.Parameter(weight_scale * torch.randn(n_visible, n_hidden))  # (D, H)
        if visible_bias is None:
            b = torch.zeros(n_visible)
        else:
            if torch.is_tensor(visible_bias):
                b = visible_bias.detach().to(torch.float32).clone()
            else:
                b = torch.tensor(np.asarray(visible_bias, dtype=np.float32))
            if b.shape != (n_visible,):
                raise ValueError(f"visible_bias must have shape ({n_visible},), got {tuple(b.shape)}")
            if not torch.isfinite(b).all():
                raise ValueError("visible_bias contains NaN or infinite values")
        self.b = nn.Parameter(b)  # (D,)
        self.c = nn.Parameter(torch.zeros(n_hidden))  # (H,)

    @property
    def n_visible(self) -> int:
        """D, the number of visible units."""
        return self.W.shape[0]

    @property
    def n_hidden(self) -> int:
        """H, the number of hidden units."""
        return self.W.shape[1]

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"

    def sample_h(self, v: torch.Tensor, generator: Generator = None) -> Pair:
        """``p(h=1|v) = σ(vW + c)`` and a sample of h: v (B, D) -> (B, H), (B, H)."""
        p = torch.sigmoid(v @ self.W + self.c)
        return p, torch.bernoulli(p, generator=generator)

    def sample_v(self, h: torch.Tensor, generator: Generator = None) -> Pair:
        """``p(v=1|h) = σ(hWᵀ + b)`` and a sample of v: h (B, H) -> (B, D), (B, D)."""
        p = torch.sigmoid(h @ self.W.T + self.b)
        return p, torch.bernoulli(p, generator=generator)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """``F(v) = -b·v - Σ_j softplus(c_j + (vW)_j)`` per sample: (B, D) -> (B,)."""
        return -(v @ self.b) - F.softplus(v @ self.W + self.c).sum(dim=1)

    @torch.no_grad()
    def gibbs(self, v: torch.Tensor, k: int = 1, generator: Generator = None) -> torch.Tensor:
        """``k`` steps of block Gibbs sampling v -> h -> v; returns the final v (B, D)."""
        for _ in range(_positive_int("k, the number of Gibbs steps,", k, minimum=0)):
            _, h = self.sample_h(v, generator)
            _, v = self.sample_v(h, generator)
        return v

    def numpy_params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(W, b, c) as float64 NumPy arrays, for :mod:`lib.rbm`."""
        return tuple(p.detach().cpu().double().numpy() for p in (self.W, self.b, self.c))  # type: ignore[return-value]


# --------------------------------------------------------------------------- validation


def _check_model(model: Any) -> None:
    if not isinstance(model, RBM):
        raise ValueError(f"model must be a lib.rbm_torch.RBM, got {type(model).__name__}")


def _is_binary(t: torch.Tensor) -> bool:
    """True when every entry is 0 or 1 (NaN, ±inf and any other value make it False).

    x ∈ {0, 1} for all entries exactly when the number of non-zeros equals the number of ones;
    on the CPU NumPy counts both several times faster than PyTorch's element-wise comparisons.
    """
    if t.device.type == "cpu":
        a = t.numpy()
        return int(np.count_nonzero(a)) == int(np.count_nonzero(a == 1))
    return bool(((t == 0) | (t == 1)).all())


def _as_visible(v: Any, model: RBM, name: str, *, check_binary: bool = True) -> torch.Tensor:
    """``v`` as a (N, D) tensor of the model's dtype and device, checked binary and non-empty."""
    if isinstance(v, torch.Tensor):
        t = v.detach()
    else:
        try:
            arr = np.asarray(v)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"{name} must be an array of 0/1 values, got {type(v).__name__}") from exc
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ValueError(f"{name} must be a numeric array of 0/1 values, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    D = model.n_visible
    if t.ndim == 2 and t.shape[1] == D:
        pass
    elif t.ndim >= 3 and math.prod(t.shape[1:]) == D:
        t = t.reshape(t.shape[0], D)
    else:
        raise ValueError(
            f"{name} must have shape (N, {D}) to match the model's {D} visible units "
            f"(or (N, ...) with {D} values per sample), got {tuple(t.shape)}"
        )
    if t.shape[0] == 0:
        raise ValueError(f"{name} holds no samples")
    t = t.to(device=model.W.device, dtype=model.W.dtype)
    if check_binary and not _is_binary(t):
        raise ValueError(
            f"{name} must be binary (0/1), as the RBM's visible units are; binarize the data first "
            "(e.g. lib.data.binarize(images, 'stochastic'))"
        )
    return t


# --------------------------------------------------------------------------- gradients


@torch.no_grad()
def cd_gradients(model: RBM, v_data: Any, v_model: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The closed-form CD/PCD estimate of the log-likelihood gradient, ascent direction.

    With ``p_d = σ(v_data W + c)`` and ``p_m = σ(v_model W + c)`` (hidden probabilities, not
    samples, in both terms)::

        dW = <v p^T>_data - <v p^T>_model = v_dataᵀ p_d / N_d - v_modelᵀ p_m / N_m      (D, H)
        db = mean(v_data) - mean(v_model)                                                (D,)
        dc = mean(p_d) - mean(p_m)                                                       (H,)

    This is exactly minus the gradient of the surrogate loss
    ``mean F(v_data) - mean F(v_model)`` (``v_model`` held fixed), since
    ``-∂F/∂W = v σ(vW + c)ᵀ``, ``-∂F/∂b = v`` and ``-∂F/∂c = σ(vW + c)``. :func:`train` adds
    it (times the learning rate, through the momentum buffer) to the parameters.

    Args:
        model: the RBM.
        v_data: a batch of data, (N_d, D), binary.
        v_model: negative samples, (N_m, D), binary (e.g. ``model.gibbs(v_data, k)``).

    Returns:
        ``(dW, db, dc)`` as tensors of the model's dtype.
    """
    _check_model(model)
    v_d = _as_visible(v_data, model, "v_data")
    v_m = _as_visible(v_model, model, "v_model")
    W, c = model.W, model.c
    p_d = torch.sigmoid(torch.addmm(c, v_d, W))
    p_m = torch.sigmoid(torch.addmm(c, v_m, W))
    dW = v_d.T @ p_d / len(v_d) - v_m.T @ p_m / len(v_m)
    db = v_d.mean(0) - v_m.mean(0)
    dc = p_d.mean(0) - p_m.mean(0)
    return dW, db, dc


# --------------------------------------------------------------------------- training


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def _check_settings(
    model: Any, method: Any, k: Any, epochs: Any, batch_size: Any, seed: Any, lr: Any, momentum: Any
) -> str:
    """Validate the model and the settings :func:`train` and :func:`train_reference` share;
    return the method, lower case."""
    _check_model(model)
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(
            f"unknown method {method!r}: use 'cd' (contrastive divergence) or 'pcd' (persistent CD)"
        )
    for name, value in (("k", k), ("epochs", epochs), ("batch_size", batch_size)):
        _positive_int(name, value)
    _positive_int("seed", seed, minimum=0)
    if not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not isinstance(momentum, (int, float, np.floating)) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    return method.lower()


@torch.no_grad()
def train_reference(model, v_data, *, method="cd", k=1, epochs, lr, batch_size=64, momentum=0.5, seed=0):
    """CD-k (``method="cd"``) or PCD-k (``"pcd"``), written plainly; returns the number of updates.

    The updates of :func:`train`, from the same random stream (tested): use ``train`` to train,
    read this to see what it does."""
    method = _check_settings(model, method, k, epochs, batch_size, seed, lr, momentum)
    data = _as_visible(v_data, model, "v_data")  # (N, D), checked binary
    W, b, c = model.W, model.b, model.c
    gen = torch.Generator(W.device).manual_seed(seed)

    def sample(p):  # binary units, each 1 with its probability p
        return (torch.rand(p.shape, generator=gen, device=p.device, dtype=p.dtype) < p).to(p.dtype)

    def p_h(v):  # p(h_j = 1 | v) = σ(c + Wᵀv), a batch of rows v
        return torch.sigmoid(v @ W + c)

    def p_v(h):  # p(v_i = 1 | h) = σ(b + W h)
        return torch.sigmoid(h @ W.T + b)

    N, B = len(data), batch_size
    total = epochs * math.ceil(N / B)  # the number of updates T
    if method == "pcd":  # B persistent chains, started at uniform noise, kept as their hidden state
        noise = torch.full((B, model.n_visible), 0.5, device=W.device, dtype=W.dtype)
        h_chains = sample(p_h(sample(noise)))
    velocity = [torch.zeros_like(p) for p in (W, b, c)]
    t = 0
    for _ in config.training(range(epochs)):
        order = torch.randperm(N, generator=gen, device=W.device)  # a new shuffle every epoch
        for start in config.training(range(0, N, B)):
            v_pos = data[order[start : start + B]]  # a batch of data
            h = h_chains if method == "pcd" else sample(p_h(v_pos))  # CD starts at the data
            for step in range(k):  # k block-Gibbs steps: v ~ p(v|h), then h ~ p(h|v)
                v_neg = sample(p_v(h))  # (the last v: the negative samples)
                if step < k - 1:
                    h = sample(p_h(v_neg))
            if method == "pcd":
                h_chains = sample(p_h(v_neg))
            gradient = cd_gradients(model, v_pos, v_neg)  # data term minus model term
            for param, vel, g in zip((W, b, c), velocity, gradient, strict=True):
                vel.mul_(momentum).add_(g)  # SGD with momentum (torch.optim.SGD's convention)
                param.add_(vel, alpha=lr * (1 - t / total))  # learning rate decayed linearly to 0
            t += 1
    return t


@torch.no_grad()
def train(
    model: RBM,
    v_data: Any,
    *,
    method: str = "cd",
    k: int = 1,
    epochs: int,
    lr: float,
    batch_size: int = 64,
    momentum: float = 0.5,
    seed: int = 0,
    progress: bool = True,
    monitor_size: int = 1000,
    callback: Callable[[int, RBM], None] | None = None,
    desc: str | None = None,
) -> dict[str, Any]:
    """Train ``model`` in place by CD-k (``method="cd"``) or PCD-k (``method="pcd"``).

    The updates of :func:`train_reference` (the loop lecture 01 shows), written out for speed:

    * once per epoch a seeded ``randperm`` shuffles the data; each batch of ``batch_size`` rows
      (the last one may be smaller) is gathered straight into a preallocated work buffer;
    * negative samples: CD-k runs ``k`` block-Gibbs steps v -> h -> v from the batch. PCD-k keeps
      ``batch_size`` persistent chains (started from uniform random images) and advances them by
      ``k`` full steps h -> v -> h per update; as in scikit-learn's ``BernoulliRBM`` a chain is
      stored as its hidden state, so a step's last half, h ~ p(h|v), reuses the hidden
      probabilities the gradient needs anyway (one matrix product less per update than storing
      v). Each step uses the parameters of the current update, except that the hidden state a
      chain carries into an update was drawn with the previous update's parameters;
    * the update direction is :func:`cd_gradients` (hidden probabilities in both terms); the
      batch and the negative samples share one buffer, so the weight gradient is one product;
    * SGD with momentum as ``torch.optim.SGD`` does it (``buf ← momentum·buf + g``,
      ``θ ← θ + lr_t·buf`` for the ascent direction ``g``), with the learning rate decayed
      linearly to 0: ``lr_t = lr·(1 - t/T)`` at update ``t = 0, …, T-1``, ``T = epochs × batches``.

    Binary samples are drawn as ``uniform < p`` from ``torch.Generator().manual_seed(seed)``
    in this order (tests replay it): for PCD first the chains' initial images ``(batch_size, D)``
    and their hidden states ``(batch_size, H)``; then each epoch one ``randperm(N)``; then per
    update, CD-k: k × [hidden ``(n, H)``, visible ``(n, D)``] for a batch of n; PCD-k: visible
    ``(batch_size, D)``, (k-1) × [hidden, visible], then the chains' new hidden state. The
    reconstruction-error monitor draws from a second generator (seed + 1), so it leaves the
    training stream alone.

    Every epoch loop and batch loop goes through :func:`lib.config.training`: at
    ``COURSE_SCALE=untrained`` exactly one update is made (with the full first learning rate).

    Args:
        model: the RBM to train (its dtype and device are used throughout).
        v_data: binary training data (N, D), NumPy array or tensor.
        method: ``"cd"`` or ``"pcd"``.
        k: Gibbs steps per update (≥ 1).
        epochs: passes over the data (≥ 1).
        lr: initial learning rate (> 0), applied to the batch-mean gradient.
        batch_size: data vectors per update, and the number of PCD chains.
        momentum: in [0, 1).
        seed: seeds the shuffling and the sampling.
        progress: show a tqdm bar over epochs.
        monitor_size: the reconstruction error is measured after each epoch on the first
            ``monitor_size`` data vectors (0: not measured).
        callback: ``callback(epoch, model)`` after each epoch (e.g. to record an exact KL).
        desc: the progress bar's label.

    Returns:
        A history dict: ``recon_error`` (per epoch: ``mean_n Σ_i (p(v_i=1|h) - v_i)²`` with h
        sampled given the data vector v, one Gibbs step; a health signal, not a likelihood),
        ``epoch_seconds`` (per epoch), ``seconds`` (total wall time), ``updates`` (the number
        of parameter updates made), and the settings ``method``, ``k``, ``lr``, ``momentum``,
        ``batch_size``, ``epochs``.

    Raises:
        ValueError: for data of the wrong shape or not binary, an unknown ``method``, or
            non-positive ``k``, ``epochs``, ``lr``, ``batch_size``, a momentum outside [0, 1).
    """
    start_time = time.perf_counter()
    method = _check_settings(model, method, k, epochs, batch_size, seed, lr, momentum)
    k, epochs, batch_size, seed = int(k), int(epochs), int(batch_size), int(seed)
    monitor_size = _positive_int("monitor_size", monitor_size, minimum=0)
    lr, momentum = float(lr), float(momentum)
    data = _as_visible(v_data, model, "v_data")

    W, b, c = model.W.data, model.b.data, model.c.data  # updated in place
    N, D = data.shape
    H = W.shape[1]
    dev, dt = W.device, W.dtype
    B = batch_size
    n_batches = math.ceil(N / B)
    total_updates = epochs * n_batches
    persistent = method == "pcd"

    gen = torch.Generator(device=dev).manual_seed(seed)
    monitor_gen = torch.Generator(device=dev).manual_seed(seed + 1)

    def zeros(*shape: int) -> torch.Tensor:
        return torch.zeros(shape, device=dev, dtype=dt)

    # Work buffers, allocated once. The data batch and the negative samples share one matrix
    # (and so do their hidden probabilities), so that the whole weight gradient
    # <v pᵀ>_data - <v pᵀ>_model is ONE matrix product, V.T @ (P * scale).
    V = zeros(2 * B, D)  # rows [:B] the data batch, rows [B:] the negative samples
    P = zeros(2 * B, H)  # their hidden probabilities p(h=1|v)
    hs = zeros(B, H)  # hidden samples; for PCD, the persistent chains' state
    u_h, u_v = zeros(B, H), zeros(B, D)  # uniforms for the samples
    ones = torch.ones(2 * B, device=dev, dtype=dt)
    vel_W, vel_b, vel_c = torch.zeros_like(W), torch.zeros_like(b), torch.zeros_like(c)  # momentum

    def row_weights(n: int, m: int) -> torch.Tensor:
        """(2B, 1): 1/n for the n data rows, -1/m for the m negative rows, 0 for unused rows."""
        w = zeros(2 * B, 1)
        w[:n] = 1.0 / n
        w[B : B + m] = -1.0 / m
        return w

    n_last = N - (n_batches - 1) * B  # size of the last (possibly smaller) batch
    weights_full = row_weights(B, B)
    weights_last = row_weights(n_last, B if persistent else n_last)

    if persistent:  # chains start as uniform random images (as in lecture 01), then h | v
        torch.lt(u_v.uniform_(generator=gen), 0.5, out=V[B:])
        torch.addmm(c, V[B:], W, out=P[B:]).sigmoid_()
        torch.lt(u_h.uniform_(generator=gen), P[B:], out=hs)

    monitor = data[: min(monitor_size, N)]
    history: dict[str, Any] = {
        "recon_error": [],
        "epoch_seconds": [],
        "method": method,
        "k": k,
        "lr": lr,
        "momentum": momentum,
        "batch_size": B,
        "epochs": epochs,
    }
    label = desc or f"{method.upper()}-{k}, H={H}"
    step = 0
    for epoch in tqdm(config.training(range(epochs)), desc=label, leave=False, disable=not progress):
        epoch_start = time.perf_counter()
        order = torch.randperm(N, generator=gen, device=dev)  # this epoch's shuffle
        for start in config.training(range(0, N, B)):
            n = min(B, N - start)
            v0, p0 = V[:n], P[:n]
            torch.index_select(data, 0, order[start : start + n], out=v0)  # the batch, gathered in place
            torch.addmm(c, v0, W, out=p0).sigmoid_()  # positive phase: p(h=1 | v_data)
            # negative phase: k block-Gibbs steps from the data (CD) or the chains (PCD)
            m = B if persistent else n
            vm, pm, hm, uh, uv = V[B : B + m], P[B : B + m], hs[:m], u_h[:m], u_v[:m]
            for gibbs_step in range(k):
                if gibbs_step or not persistent:  # (PCD's first h is the chains' state)
                    torch.lt(uh.uniform_(generator=gen), pm if gibbs_step else p0, out=hm)
                torch.addmm(b, hm, W.T, out=vm).sigmoid_()  # p(v=1 | h)
                torch.lt(uv.uniform_(generator=gen), vm, out=vm)  # v ~ p(v | h)
                torch.addmm(c, vm, W, out=pm).sigmoid_()  # p(h=1 | v)
            if persistent:  # the chains' next hidden state, h ~ p(h | v) with the current parameters
                torch.lt(uh.uniform_(generator=gen), pm, out=hm)
            # SGD with momentum on the ascent direction g = cd_gradients(v0, vm):
            #   buf <- momentum * buf + g ;  theta <- theta + lr_t * buf
            weights = weights_full if n == B else weights_last
            P.mul_(weights)  # rows: p/n for the data, -p/m for the negative samples, 0 unused
            vel_W.addmm_(V.T, P, beta=momentum)  # <v pᵀ>_data - <v pᵀ>_model
            vel_b.addmv_(V.T, weights.view(-1), beta=momentum)  # <v>_data - <v>_model
            vel_c.addmv_(P.T, ones, beta=momentum)  # <p>_data - <p>_model
            lr_t = lr * (1.0 - step / total_updates)  # linear decay to 0
            W.add_(vel_W, alpha=lr_t)
            b.add_(vel_b, alpha=lr_t)
            c.add_(vel_c, alpha=lr_t)
            step += 1
        if len(monitor):  # reconstruction error: v -> h (sampled) -> p(v=1 | h)
            p_h = torch.addmm(c, monitor, W).sigmoid_()
            h_mon = torch.lt(torch.rand(p_h.shape, generator=monitor_gen, device=dev, dtype=dt), p_h).to(dt)
            p_v = torch.addmm(b, h_mon, W.T).sigmoid_()
            history["recon_error"].append(float(p_v.sub_(monitor).square_().sum(1).mean()))
        history["epoch_seconds"].append(time.perf_counter() - epoch_start)
        if callback is not None:
            callback(epoch, model)
    history["updates"] = step
    history["seconds"] = time.perf_counter() - start_time
    return history
