"""The φ⁴ lattice field theory in two dimensions: its action, the exact free field, and Hybrid Monte
Carlo as the reference sampler of lecture 11.

A real field ``φ_x`` lives on the sites of an ``L × L`` periodic lattice (``V = L²`` sites) with the
Euclidean action of the flow-sampling papers of Albergo, Kanwar, Shanahan and co-workers, in the
normalisation of their introductory code (Albergo et al. 2021; no factors of ½)::

    S(φ) = Σ_x [ Σ_{μ=1,2} (φ_{x+μ̂} − φ_x)² + m² φ_x² + λ φ_x⁴ ]

and the configurations follow ``p(φ) = e^{−S(φ)} / Z``.
At ``λ = 0`` the action is the quadratic form ``φᵀ K φ`` with ``K = −Δ + m²``, ``Δ`` the periodic
lattice Laplacian, so for ``m² > 0`` the field is Gaussian with covariance ``(2K)⁻¹`` and, since
plane waves diagonalise ``K`` with eigenvalues ``m² + p̂²(k)``, ``p̂² = 4 sin²(k₁/2) + 4 sin²(k₂/2)``,
``k = 2π n / L``::

    ln Z = (V/2) ln π − ½ Σ_k ln(m² + p̂²(k)),
    ⟨φ_x φ_{x+r}⟩ = (1/V) Σ_k e^{i k·r} / (2 (m² + p̂²(k))).

Conventions: a batch of configurations is shaped ``(n, L, L)`` (NumPy or PyTorch: :func:`action`
takes either, so a flow's samples are scored with the same code), float64 for the samplers.

A flow for the field (:func:`make_flow`) stacks affine couplings of :mod:`lib.flows` with
checkerboard masks; each coupling's conditioner is a :class:`LocalConditioner`, one small network
shared by every site that reads the frozen field around the site it transforms (a convolution, in
effect, like the convolutional couplings of Albergo et al.'s introductory code), so the flow is
equivariant under the translations that keep the checkerboard, by ``(a, b)`` with ``a + b`` even; the
action is invariant under all of them.

Typical use::

    from lib import phi4
    phi4.free_log_partition(8, 0.25)                       # exact ln Z of the free field
    phi, acc = phi4.hmc(8, -4.0, 8.0, 1000, seed=0)         # (1000, 8, 8) and the acceptance rate
    s = phi4.action(phi, -4.0, 8.0)                         # (1000,)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from . import flows

__all__ = [
    "KNIGHT_OFFSETS",
    "LocalConditioner",
    "action",
    "check_couplings",
    "force",
    "free_log_partition",
    "free_propagator",
    "hmc",
    "make_flow",
    "momenta_squared",
]


def _check_L(L: Any) -> int:
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 2:
        raise ValueError(f"lattice size L must be an integer ≥ 2, got {L!r}")
    return int(L)


def check_couplings(m2: Any, lam: Any) -> tuple[float, float]:
    """``(m², λ)`` as floats, or a clear ValueError: both finite, ``λ ≥ 0``, and ``m² > 0`` when
    ``λ = 0`` (otherwise ``e^{−S}`` is not normalisable)."""
    try:
        m2, lam = float(m2), float(lam)
    except (TypeError, ValueError):
        raise ValueError(f"m² and λ must be numbers, got {m2!r} and {lam!r}") from None
    if not (math.isfinite(m2) and math.isfinite(lam)) or lam < 0:
        raise ValueError(f"need finite m² and λ ≥ 0, got m² = {m2}, λ = {lam}")
    if lam == 0 and m2 <= 0:
        raise ValueError(f"the free field (λ = 0) needs m² > 0 to be normalisable, got m² = {m2}")
    return m2, lam


def action(phi: Any, m2: float, lam: float) -> Any:
    """``S(φ)`` of each configuration: ``(n,)`` from ``phi`` shaped ``(n, L, L)``.

    Works on NumPy arrays and on PyTorch tensors alike (differentiable in the latter), so that a
    flow's samples and a Markov chain's are scored by the same function.
    """
    if getattr(phi, "ndim", 0) != 3 or phi.shape[1] != phi.shape[2]:
        raise ValueError(f"phi must be a batch of square lattices shaped (n, L, L), got {tuple(phi.shape)}")
    m2, lam = check_couplings(m2, lam)
    if isinstance(phi, np.ndarray):
        kinetic = (np.roll(phi, -1, 1) - phi) ** 2 + (np.roll(phi, -1, 2) - phi) ** 2
    else:  # torch
        kinetic = (phi.roll(-1, 1) - phi) ** 2 + (phi.roll(-1, 2) - phi) ** 2
    phi2 = phi * phi
    return (kinetic + m2 * phi2 + lam * phi2 * phi2).sum((1, 2))


def force(phi: np.ndarray, m2: float, lam: float) -> np.ndarray:
    """``∂S/∂φ_x = 2 (4 φ_x − Σ_{±μ} φ_{x±μ̂}) + 2 m² φ_x + 4 λ φ_x³``, shaped like ``phi`` (n, L, L)."""
    m2, lam = check_couplings(m2, lam)
    neighbours = np.roll(phi, 1, 1) + np.roll(phi, -1, 1) + np.roll(phi, 1, 2) + np.roll(phi, -1, 2)
    return 2.0 * (4.0 * phi - neighbours) + 2.0 * m2 * phi + 4.0 * lam * phi**3


def momenta_squared(L: int) -> np.ndarray:
    """``p̂²(k) = 4 sin²(k₁/2) + 4 sin²(k₂/2)`` on the ``L × L`` grid of momenta ``k = 2π n/L``, (L, L)."""
    L = _check_L(L)
    s = 4.0 * np.sin(np.pi * np.arange(L) / L) ** 2  # 4 sin²(k/2), k = 2πn/L
    return s[:, None] + s[None, :]


def free_log_partition(L: int, m2: float) -> float:
    """Exact ``ln Z = ∫ dφ e^{−φᵀKφ}`` of the free field (``λ = 0``, ``m² > 0``) on the periodic
    ``L × L`` lattice: ``(V/2) ln π − ½ Σ_k ln(m² + p̂²(k))``."""
    L = _check_L(L)
    m2, _ = check_couplings(m2, 0.0)
    return 0.5 * L * L * math.log(math.pi) - 0.5 * float(np.log(m2 + momenta_squared(L)).sum())


def free_propagator(L: int, m2: float) -> np.ndarray:
    """Exact ``G(r) = ⟨φ_x φ_{x+r}⟩`` of the free field, (L, L) indexed by the separation ``r``:
    the inverse Fourier transform of ``1 / (2 (m² + p̂²))``. ``G[0, 0]`` is ``⟨φ_x²⟩``, and
    ``Σ_r G(r) = 1/(2m²)`` is ``⟨M²⟩/V`` with ``M = Σ_x φ_x``."""
    L = _check_L(L)
    m2, _ = check_couplings(m2, 0.0)
    return np.real(np.fft.ifft2(1.0 / (2.0 * (m2 + momenta_squared(L)))))


def hmc(
    L: int,
    m2: float,
    lam: float,
    n_samples: int,
    *,
    n_chains: int = 64,
    n_burn: int = 200,
    n_between: int = 1,
    step_size: float = 0.1,
    n_leapfrog: int = 10,
    seed: int | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, float]:
    """Equilibrium configurations of the φ⁴ theory by Hybrid (Hamiltonian) Monte Carlo.

    One trajectory draws Gaussian momenta ``π``, integrates ``H = ½|π|² + S(φ)`` with
    ``n_leapfrog`` leapfrog steps (time-reversible and volume-preserving), and accepts the end point
    with probability ``min(1, e^{−ΔH})``: exact for any step size, which only sets the acceptance
    rate (Duane, Kennedy, Pendleton & Roweth 1987). Each chain draws its step size for each
    trajectory uniformly within ±20 % of ``step_size``, independently of the state (so detailed
    balance holds trajectory by trajectory), which breaks the resonances of a fixed trajectory length. ``n_chains`` chains run
    in parallel, vectorised; after ``n_burn`` trajectories each emits a configuration every
    ``n_between`` trajectories. The output is in time order, chain index fastest:
    ``out[t·n_chains + c]``, as in :func:`lib.ising_mc.sample`.

    Returns:
        ``(phi, acceptance)``: float64 ``(n_samples, L, L)`` and the mean acceptance rate of the
        trajectories after burn-in.
    """
    L = _check_L(L)
    m2, lam = check_couplings(m2, lam)
    for name, value, lo in (
        ("n_samples", n_samples, 1),
        ("n_chains", n_chains, 1),
        ("n_burn", n_burn, 0),
        ("n_between", n_between, 1),
        ("n_leapfrog", n_leapfrog, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise ValueError(f"{name} must be an integer ≥ {lo}, got {value!r}")
    if not (isinstance(step_size, (int, float)) and math.isfinite(step_size) and step_size > 0):
        raise ValueError(f"step_size must be a positive number, got {step_size!r}")
    rng = np.random.default_rng(seed)
    phi = 0.1 * rng.standard_normal((n_chains, L, L))

    def trajectory() -> float:
        nonlocal phi
        # each chain's step size drawn afresh, uniform within ±20 % of step_size: a trajectory of
        # fixed length can come back near its start for some modes (a resonance) and mix them slowly
        eps = step_size * rng.uniform(0.8, 1.2, size=(n_chains, 1, 1))
        p = rng.standard_normal(phi.shape)
        h0 = 0.5 * (p * p).sum((1, 2)) + action(phi, m2, lam)
        x = phi.copy()
        p = p - 0.5 * eps * force(x, m2, lam)
        for k in range(n_leapfrog):
            x = x + eps * p
            if k < n_leapfrog - 1:
                p = p - eps * force(x, m2, lam)
        p = p - 0.5 * eps * force(x, m2, lam)
        h1 = 0.5 * (p * p).sum((1, 2)) + action(x, m2, lam)
        accept = np.log(rng.random(n_chains)) < h0 - h1  # NaN (a diverged trajectory) is rejected
        phi = np.where(accept[:, None, None], x, phi)
        return float(accept.mean())

    for _ in range(n_burn):
        trajectory()
    n_per_chain = -(-int(n_samples) // n_chains)
    out = np.empty((n_per_chain, n_chains, L, L))
    acc = []
    iterator: Any = range(n_per_chain)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=f"HMC L={L} m²={m2} λ={lam}", leave=False)
    for t in iterator:
        for _ in range(n_between):
            acc.append(trajectory())
        out[t] = phi
    return out.reshape(-1, L, L)[:n_samples], float(np.mean(acc))


# --------------------------------------------------------------------------------------------
# A translation-equivariant flow for the field
# --------------------------------------------------------------------------------------------

#: The sites a :class:`LocalConditioner` reads around site ``x``, as offsets ``(row, column)``: its four
#: nearest neighbours and the eight sites a knight's move away. On a checkerboard all twelve have the
#: other colour than ``x``, so for a site that a coupling transforms they are all frozen (passed through).
KNIGHT_OFFSETS: tuple[tuple[int, int], ...] = (
    (1, 0), (-1, 0), (0, 1), (0, -1),
    (2, 1), (2, -1), (-2, 1), (-2, -1), (1, 2), (1, -2), (-1, 2), (-1, -2),
)  # fmt: skip


class LocalConditioner(nn.Module):
    """The conditioner of an affine coupling on an ``L × L`` field: for every site ``x``, the same
    MLP maps the field at ``x + offsets`` (``k`` numbers) to the two outputs ``(raw_x, t_x)`` of
    :class:`lib.flows.AffineCoupling` (which uses them only at the sites it transforms).

    Input ``(B, L·L)`` (the masked field, row-major), output ``(B, 2·L·L)``: ``raw`` for every site,
    then ``t``. The last layer starts at zero, so a new coupling is the identity. Shifting the input
    field by any lattice vector shifts the output by the same vector (the offsets are read
    periodically): a convolution whose kernel sees only the ``k`` offsets.

    Args:
        L: the lattice size.
        hidden: width of the MLP's two hidden layers.
        offsets: the ``(row, column)`` offsets read around each site (default :data:`KNIGHT_OFFSETS`).
        activation: the hidden nonlinearity, a module class (default ``nn.ReLU``).
    """

    def __init__(
        self, L: int, hidden: int = 16, offsets: Any = KNIGHT_OFFSETS, activation: type[nn.Module] = nn.ReLU
    ):
        super().__init__()
        self.L = _check_L(L)
        offs = [tuple(int(v) for v in o) for o in offsets]
        if not offs or any(len(o) != 2 for o in offs):
            raise ValueError(f"offsets must be a non-empty list of (row, column) pairs, got {offsets!r}")
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be a positive integer, got {hidden!r}")
        r, c = torch.meshgrid(torch.arange(self.L), torch.arange(self.L), indexing="ij")
        idx = torch.stack([((r + a) % self.L) * self.L + (c + b) % self.L for a, b in offs], -1)
        self.register_buffer("index", idx.reshape(self.L * self.L, len(offs)))  # (V, k): the sites read
        last = nn.Linear(hidden, 2)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(
            nn.Linear(len(offs), hidden), activation(), nn.Linear(hidden, hidden), activation(), last
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x[:, self.index])  # (B, V, k) -> (B, V, 2)
        return out.transpose(1, 2).reshape(x.shape[0], -1)  # (B, 2V): raw for every site, then t


def make_flow(L: int, n_layers: int = 8, hidden: int = 16, *, s_max: float = 2.0) -> flows.Flow:
    """A RealNVP flow for the ``L × L`` field (``L`` even): ``n_layers`` affine couplings of
    :mod:`lib.flows` with alternating checkerboard masks, each conditioned by a
    :class:`LocalConditioner`, on a standard normal base. Float32; call ``.double()`` for float64.
    Its ``sample(n)`` returns flattened fields ``(n, L·L)`` with their exact ``log q``."""
    L = _check_L(L)
    if L % 2:
        raise ValueError(f"checkerboard couplings need an even L (a periodic checkerboard), got L = {L}")
    layers = [
        flows.AffineCoupling(mask, s_max=s_max, net=LocalConditioner(L, hidden))
        for mask in flows.checkerboard_masks(L, n_layers)
    ]
    return flows.Flow(layers)
