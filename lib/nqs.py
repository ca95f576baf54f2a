"""Neural quantum states: restricted Boltzmann machines as variational wavefunctions of the spin
chains of :mod:`lib.spin_chains` (same conventions), sampled by Metropolis and optimised by
variational Monte Carlo with stochastic reconfiguration.

The wavefunctions (Carleo & Troyer, Science 355, 602 (2017)):

* :class:`RBM`: ``ψ(s) = exp(Σ_i a_i s_i) Π_j 2 cosh(b_j + Σ_i W_ij s_i)``, real parameters;
* :class:`SymmetricRBM`: the same with translation-invariant weights (``α`` filters of ``n``
  weights, ``α·n`` hidden units), ``α·n + α + 1`` parameters.

Both expose ``log_psi(s)``, ``log_derivatives(s)`` (``O_k(s) = ∂ log ψ(s) / ∂θ_k``, shape
``(B, n_params)``), ``params`` and ``set_params``. :func:`metropolis` samples ``|ψ|²`` with chains
vectorised over the batch, :func:`sr_update` is one step of stochastic reconfiguration
(Sorella 1998), and :func:`energy_gradient` the plain gradient of the variational energy.

**Real parameters only.** The two wavefunction classes, :func:`energy_gradient` and
:func:`sr_update` take real parameters and real log-derivatives, and refuse complex ones (the
complex update needs ``O_k*``: see lecture 09's exercise 2). What does take a complex wavefunction
(any callable returning complex log-amplitudes): :func:`log_cosh2`, :func:`metropolis`,
:func:`sample`, and the local energies and exact energies of :mod:`lib.spin_chains`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .spin_chains import LogPsi, call_log_psi, check_field, check_n, check_spins

__all__ = [
    "RBM",
    "SampleResult",
    "SymmetricRBM",
    "energy_gradient",
    "log_cosh2",
    "metropolis",
    "sample",
    "sr_update",
]


# --------------------------------------------------------------------------- wavefunctions


def log_cosh2(x: np.ndarray) -> np.ndarray:
    """``log(2 cosh x)`` without overflow: ``σx + log1p(exp(−2σx))`` with ``σ`` the sign of
    ``Re x`` (for real ``x``: ``|x| + log1p(exp(−2|x|))``). For complex ``x`` the result is a
    logarithm of ``2 cosh x`` (its imaginary part defined modulo 2π), so ``exp`` of it is exact."""
    x = np.asarray(x)
    if not np.iscomplexobj(x):
        ax = np.abs(x)
        return ax + np.log1p(np.exp(-2.0 * ax))
    sx = np.where(x.real < 0, -x, x)  # cosh is even: take the root with Re ≥ 0
    return sx + np.log1p(np.exp(-2.0 * sx))


class _RBMWavefunction:
    """Shared by :class:`RBM` and :class:`SymmetricRBM`: a flat real parameter vector, the
    log-amplitude, and the log-ratios of amplitudes after one or two spin flips that the local
    energies use (``n`` times cheaper than calling :meth:`log_psi` on every flipped copy)."""

    n_visible: int
    n_hidden: int

    @property
    def params(self) -> np.ndarray:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def set_params(self, theta: Any) -> None:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def log_derivatives(self, s: Any) -> np.ndarray:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def dense(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
        """``(a (n,), b (M,), W (n, M))`` of the wavefunction written as an unconstrained RBM."""
        raise NotImplementedError

    @property
    def n_params(self) -> int:
        return int(self.params.size)

    def __call__(self, s: Any) -> np.ndarray:
        return self.log_psi(s)

    def log_psi(self, s: Any) -> np.ndarray:
        """``log ψ(s)`` for a batch ``(B, n)``, shape ``(B,)``."""
        x = check_spins(s, self.n_visible)
        a, b, W = self.dense()
        return x @ a + np.sum(log_cosh2(x @ W + b), axis=1)

    def _log_ratios(self, x: np.ndarray, shift: int | None) -> np.ndarray:
        a, b, W = self.dense()
        chi = x @ W + b  # (B, M): the hidden pre-activations
        dW = x[:, :, None] * W[None]  # (B, n, M): s_i W_ij
        da = x * a
        if shift is not None:  # flip spins i and i + shift together
            dW = dW + np.roll(dW, -shift, axis=1)
            da = da + np.roll(da, -shift, axis=1)
        chi_new = chi[:, None, :] - 2.0 * dW
        return -2.0 * da + np.sum(log_cosh2(chi_new), axis=2) - np.sum(log_cosh2(chi), axis=1)[:, None]

    def flip_log_ratios(self, s: Any) -> np.ndarray:
        """``log ψ(s with spin i flipped) − log ψ(s)`` for every ``i``: shape ``(B, n)``."""
        return self._log_ratios(check_spins(s, self.n_visible), None)

    def pair_flip_log_ratios(self, s: Any) -> np.ndarray:
        """``log ψ(s with spins i and i+1 (mod n) flipped) − log ψ(s)``: shape ``(B, n)``.
        For an antiparallel pair this is the exchange of the two spins."""
        return self._log_ratios(check_spins(s, self.n_visible), 1)

    def _check_theta(self, theta: Any) -> np.ndarray:
        if np.iscomplexobj(theta):
            raise ValueError("the parameters of RBM and SymmetricRBM are real (see the module's docstring)")
        t = np.asarray(theta, dtype=np.float64)
        if t.shape != (self.n_params,):
            raise ValueError(f"expected {self.n_params} parameters, got shape {t.shape}")
        if not np.all(np.isfinite(t)):
            raise ValueError("parameters must be finite")
        return t


class RBM(_RBMWavefunction):
    """RBM wavefunction ``ψ(s) = exp(Σ_i a_i s_i) Π_j 2 cosh(b_j + Σ_i W_ij s_i)`` with real
    parameters: visible biases ``a (n,)``, hidden biases ``b (M,)``, weights ``W (n, M)``.

    It is the marginal ``Σ_{z ∈ {±1}^M} exp(a·s + b·z + sᵀW z)`` of an RBM with ``M`` hidden
    units ``z_j = ±1``. The flat parameter vector is ``[a, b, W.ravel()]``. Calling the object is
    :meth:`log_psi`; the local energies use its :meth:`flip_log_ratios` when given the object.
    """

    def __init__(self, a: Any, b: Any, W: Any):
        W = np.array(W, dtype=np.float64)
        a = np.array(a, dtype=np.float64)
        b = np.array(b, dtype=np.float64)
        if W.ndim != 2 or W.shape[0] < 2 or W.shape[1] < 1:
            raise ValueError(f"W must be shaped (n_visible ≥ 2, n_hidden ≥ 1), got {W.shape}")
        if a.shape != (W.shape[0],) or b.shape != (W.shape[1],):
            raise ValueError(f"a {a.shape} and b {b.shape} do not match W {W.shape}")
        self.a, self.b, self.W = a, b, W
        self.n_visible, self.n_hidden = W.shape

    @classmethod
    def random(cls, n_visible: int, n_hidden: int, *, scale: float = 0.01, seed: Any = None) -> RBM:
        """Parameters drawn from ``N(0, scale²)`` (an exactly zero start never trains: the
        derivatives with respect to ``b`` and ``W`` vanish there)."""
        check_n(n_visible)
        if not isinstance(n_hidden, (int, np.integer)) or n_hidden < 1:
            raise ValueError(f"n_hidden must be a positive integer, got {n_hidden!r}")
        rng = np.random.default_rng(seed)
        return cls(
            scale * rng.standard_normal(n_visible),
            scale * rng.standard_normal(n_hidden),
            scale * rng.standard_normal((n_visible, n_hidden)),
        )

    def dense(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.a, self.b, self.W

    @property
    def params(self) -> np.ndarray:
        return np.concatenate([self.a, self.b, self.W.ravel()])

    def set_params(self, theta: Any) -> None:
        t = self._check_theta(theta)
        n, m = self.n_visible, self.n_hidden
        self.a = t[:n].copy()
        self.b = t[n : n + m].copy()
        self.W = t[n + m :].reshape(n, m).copy()

    def log_derivatives(self, s: Any) -> np.ndarray:
        """``O_k(s) = ∂ log ψ(s)/∂θ_k``, shape ``(B, n_params)``: ``s_i``, ``tanh χ_j`` and
        ``s_i tanh χ_j`` with the hidden pre-activations ``χ_j = b_j + Σ_i W_ij s_i``."""
        x = check_spins(s, self.n_visible)
        t = np.tanh(x @ self.W + self.b)
        return np.concatenate([x, t, (x[:, :, None] * t[:, None, :]).reshape(len(x), -1)], axis=1)


class SymmetricRBM(_RBMWavefunction):
    """Translation-invariant RBM wavefunction (Carleo & Troyer's symmetric ansatz): ``α`` filters
    ``w_f`` of ``n`` weights, each applied at the ``n`` translations of the chain::

        log ψ(s) = a Σ_i s_i + Σ_{f=1}^{α} Σ_{t=0}^{n−1} log 2cosh(b_f + Σ_i w_f[(i − t) mod n] s_i)

    It is the :class:`RBM` with ``α·n`` hidden units and tied parameters (:meth:`to_rbm`); its
    amplitude is the same for every translate of ``s``. The flat parameter vector is
    ``[a, b (α,), w.ravel() (α·n,)]``: ``α·n + α + 1`` numbers.
    """

    def __init__(self, a: float, b: Any, w: Any):
        w = np.array(w, dtype=np.float64)
        b = np.array(b, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] < 2:
            raise ValueError(f"w must be shaped (alpha, n ≥ 2), got {w.shape}")
        if b.shape != (w.shape[0],):
            raise ValueError(f"b must be shaped ({w.shape[0]},), got {b.shape}")
        self.a = check_field("a", a)
        self.b, self.w = b, w
        self.alpha, self.n_visible = w.shape
        self.n_hidden = self.alpha * self.n_visible
        idx = np.arange(self.n_visible)
        self._shift = (idx[:, None] - idx[None, :]) % self.n_visible  # [i, t] = (i − t) mod n
        self._roll = (idx[None, :] + idx[:, None]) % self.n_visible  # [d, t] = (t + d) mod n
        self._cache: tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    @classmethod
    def random(cls, n_visible: int, alpha: int, *, scale: float = 0.01, seed: Any = None) -> SymmetricRBM:
        """Parameters drawn from ``N(0, scale²)`` (see :meth:`RBM.random`)."""
        check_n(n_visible)
        if not isinstance(alpha, (int, np.integer)) or alpha < 1:
            raise ValueError(
                f"alpha (filters, hidden units per site) must be a positive integer, got {alpha!r}"
            )
        rng = np.random.default_rng(seed)
        return cls(
            scale * rng.standard_normal(),
            scale * rng.standard_normal(alpha),
            scale * rng.standard_normal((alpha, n_visible)),
        )

    @property
    def params(self) -> np.ndarray:
        return np.concatenate([[self.a], self.b, self.w.ravel()])

    def set_params(self, theta: Any) -> None:
        t = self._check_theta(theta)
        self.a = float(t[0])
        self.b = t[1 : 1 + self.alpha].copy()
        self.w = t[1 + self.alpha :].reshape(self.alpha, self.n_visible).copy()

    def dense(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, b, W)`` of the equivalent :class:`RBM`: hidden unit ``f·n + t`` holds filter
        ``f`` translated by ``t``, ``W[i, f·n + t] = w_f[(i − t) mod n]``."""
        key = self.params
        if self._cache is None or not np.array_equal(self._cache[0], key):
            n = self.n_visible
            W = self.w[:, self._shift].transpose(1, 0, 2).reshape(n, self.n_hidden)
            self._cache = (key, (np.full(n, self.a), np.repeat(self.b, n), W))
        return self._cache[1]

    @classmethod
    def from_params(cls, n_visible: int, alpha: int, theta: Any) -> SymmetricRBM:
        """The wavefunction with the flat parameter vector ``theta`` (``[a, b (α,), w.ravel()]``,
        as :attr:`params` returns it)."""
        model = cls.random(n_visible, alpha, scale=0.0)
        model.set_params(theta)
        return model

    def to_rbm(self) -> RBM:
        """The same wavefunction as an unconstrained :class:`RBM`."""
        return RBM(*self.dense())

    def log_derivatives(self, s: Any) -> np.ndarray:
        """``O_k(s) = ∂ log ψ(s)/∂θ_k``, shape ``(B, α·n + α + 1)``: ``Σ_i s_i``,
        ``Σ_t tanh χ_{f,t}`` and ``Σ_t s_{(t+d) mod n} tanh χ_{f,t}``, with the pre-activation
        ``χ_{f,t} = b_f + Σ_i w_f[(i − t) mod n] s_i`` of hidden unit ``(f, t)``."""
        x = check_spins(s, self.n_visible)
        B, n = x.shape
        _, b, W = self.dense()
        t = np.tanh(x @ W + b).reshape(B, self.alpha, n)
        o_w = np.einsum("bdt,bft->bfd", x[:, self._roll], t)
        return np.concatenate([x.sum(axis=1, keepdims=True), t.sum(axis=2), o_w.reshape(B, -1)], axis=1)


# --------------------------------------------------------------------------- sampling


@dataclass
class SampleResult:
    """What :func:`sample` returns.

    ``samples``: ``(n_samples, n_chains, n)``, the chains' states every ``thin`` sweeps after the
    burn-in; ``state`` and ``log_psi``: the chains' last states ``(n_chains, n)`` and their
    log-amplitudes (continue the chains from them); ``acceptance``: the fraction of accepted moves.
    """

    samples: np.ndarray
    state: np.ndarray
    log_psi: np.ndarray
    acceptance: float


def metropolis(
    log_psi: LogPsi,
    s: Any,
    n_sweeps: int,
    *,
    rng: np.random.Generator,
    move: Literal["flip", "exchange"] = "flip",
    log_psi_s: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Run ``n_sweeps`` sweeps (``n`` proposals each) of Metropolis sampling of ``|ψ(s)|²`` on
    every chain of the batch ``s (B, n)`` at once.

    ``move="flip"`` proposes flipping one uniformly chosen spin; ``move="exchange"`` proposes
    exchanging the spins of two uniformly chosen distinct sites (it conserves ``Σ s_i``; an
    exchange of equal spins is a null move). Both proposals are symmetric, so a move is accepted
    with probability ``min(1, |ψ(s')/ψ(s)|²)``. Returns ``(s, log_psi(s), acceptance)`` with the
    acceptance rate counted over the proposals that change the state.

    Raises:
        ValueError: for a bad batch, a negative sweep count or an unknown move.
    """
    a = check_spins(s).copy()
    if not isinstance(n_sweeps, (int, np.integer)) or n_sweeps < 0:
        raise ValueError(f"n_sweeps must be a non-negative integer, got {n_sweeps!r}")
    if move not in ("flip", "exchange"):
        raise ValueError(f"move must be 'flip' or 'exchange', got {move!r}")
    B, n = a.shape
    lp = call_log_psi(log_psi, a) if log_psi_s is None else np.asarray(log_psi_s).copy()
    rows = np.arange(B)
    accepted = proposed = 0
    for _ in range(n_sweeps * n):
        new = a.copy()
        i = rng.integers(n, size=B)
        if move == "flip":
            new[rows, i] *= -1.0
            real = np.ones(B, dtype=bool)
        else:
            j = (i + rng.integers(1, n, size=B)) % n
            new[rows, i], new[rows, j] = a[rows, j], a[rows, i]
            real = a[rows, i] != a[rows, j]
        lp_new = call_log_psi(log_psi, new)
        log_ratio = 2.0 * np.real(lp_new - lp)
        accept = real & (np.log(rng.random(B)) < log_ratio)
        a[accept] = new[accept]
        lp = np.where(accept, lp_new, lp)
        accepted += int(accept.sum())
        proposed += int(real.sum())
    return a, lp, accepted / max(proposed, 1)


def sample(
    log_psi: LogPsi,
    s: Any,
    n_samples: int,
    *,
    thin: int = 1,
    burn_in: int = 0,
    rng: np.random.Generator,
    move: Literal["flip", "exchange"] = "flip",
) -> SampleResult:
    """``burn_in`` sweeps of :func:`metropolis` on every chain, then ``n_samples`` states per
    chain, ``thin`` sweeps apart. Choose ``thin`` and ``burn_in`` from a measured integrated
    autocorrelation time (in sweeps) of the quantity you average."""
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if not isinstance(thin, (int, np.integer)) or thin < 1:
        raise ValueError(f"thin must be a positive integer (sweeps between samples), got {thin!r}")
    a, lp, _ = metropolis(log_psi, s, burn_in, rng=rng, move=move)
    out = np.empty((n_samples, *a.shape))
    accs = []
    for k in range(n_samples):
        a, lp, acc = metropolis(log_psi, a, thin, rng=rng, move=move, log_psi_s=lp)
        out[k] = a
        accs.append(acc)
    return SampleResult(out, a, lp, float(np.mean(accs)))


# --------------------------------------------------------------------------- optimisation


def _moments(derivs: Any, e_loc: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred log-derivatives, centred local energies and normalised weights."""
    if np.iscomplexobj(derivs) or np.iscomplexobj(e_loc):
        raise ValueError(
            "energy_gradient and sr_update are for real wavefunctions: complex O_k need O_k* in the "
            "gradient and in S (lecture 09, exercise 2)"
        )
    O = np.asarray(derivs, dtype=np.float64)  # noqa: E741 - the O_k of the VMC literature
    e = np.asarray(e_loc, dtype=np.float64)
    if O.ndim != 2 or e.shape != (O.shape[0],):
        raise ValueError(f"O must be (B, P) and e_loc (B,), got {O.shape} and {e.shape}")
    if weights is None:
        w = np.full(len(e), 1.0 / len(e))
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != e.shape or np.any(w < 0) or not w.sum() > 0:
            raise ValueError("weights must be non-negative, shaped like e_loc, and not all zero")
        w = w / w.sum()
    return O - w @ O, e - w @ e, w


def energy_gradient(derivs: Any, e_loc: Any, *, weights: Any = None) -> np.ndarray:
    """The gradient of the variational energy ``E = ⟨E_loc⟩`` of a real wavefunction with real
    parameters, ``∂E/∂θ_k = 2 (⟨O_k E_loc⟩ − ⟨O_k⟩⟨E_loc⟩)``, estimated from samples of
    ``|ψ|²``, or computed exactly from all configurations with ``weights = |ψ|²``.

    ``derivs``: the log-derivatives ``O_k(s)``, ``(B, P)``; ``e_loc``: the local energies
    ``(B,)``, both real (complex ones are refused). Returns ``(P,)``."""
    Oc, ec, w = _moments(derivs, e_loc, weights)
    return 2.0 * Oc.T @ (w * ec)


def sr_update(
    derivs: Any, e_loc: Any, *, learning_rate: float, diag_shift: float, weights: Any = None
) -> np.ndarray:
    """One step of stochastic reconfiguration (Sorella 1998): the parameter change
    ``δθ = −η (S + λ 1)⁻¹ g`` with the covariance of the log-derivatives (for a real ``ψ``, a
    quarter of the Fisher information of ``|ψ|²``) ``S_kl = ⟨O_k O_l⟩ − ⟨O_k⟩⟨O_l⟩`` and the
    force ``g_k = ⟨O_k E_loc⟩ − ⟨O_k⟩⟨E_loc⟩`` (half the energy gradient), all estimated from the same samples of ``|ψ|²`` (or exact, with
    ``weights = |ψ|²`` over all configurations).

    ``diag_shift`` (λ > 0) regularises the noisy, often singular ``S``: for λ much larger than
    ``S`` the step is plain gradient descent with rate ``η/(2λ)``, for λ → 0 the natural gradient.
    Real wavefunction and parameters (complex ``O_k`` or ``E_loc`` are refused); ``derivs``
    ``O_k(s)`` ``(B, P)``, ``e_loc (B,)``; returns ``(P,)``.

    Raises:
        ValueError: for mismatched shapes or a non-positive learning rate or shift.
    """
    if not (learning_rate > 0 and diag_shift > 0):
        raise ValueError(f"learning_rate and diag_shift must be positive, got {learning_rate}, {diag_shift}")
    Oc, ec, w = _moments(derivs, e_loc, weights)
    S = Oc.T @ (w[:, None] * Oc)
    g = Oc.T @ (w * ec)
    S[np.diag_indices_from(S)] += diag_shift
    return -learning_rate * np.linalg.solve(S, g)
