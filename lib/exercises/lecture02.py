"""Checks of lecture 02's exercises (the RBM in Keras: the CD gradient, the exact log Z, the two
momentum conventions)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .. import rbm
from . import ExerciseError, array, call, exercise, function, number


def _rbm_params(rng: np.random.Generator, d: int, h: int, scale: float = 0.5) -> tuple[np.ndarray, ...]:
    return rng.normal(0.0, scale, (d, h)), rng.normal(0.0, 1.0, d), rng.normal(0.0, 1.0, h)


def _binary(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return (rng.random((n, d)) < 0.5).astype(np.float64)


def _surrogate_gradient(W: np.ndarray, b: np.ndarray, c: np.ndarray, v0: np.ndarray, vk: np.ndarray) -> list:
    """−∇ of the surrogate L = mean F(v0) − mean F(vk) by central finite differences of lib.rbm's F."""
    params = [W.copy(), b.copy(), c.copy()]

    def loss() -> float:
        return float(np.mean(rbm.free_energy(v0, *params)) - np.mean(rbm.free_energy(vk, *params)))

    step, out = 1e-5, []
    for p in params:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + step
            up = loss()
            p[idx] = old - step
            down = loss()
            p[idx] = old
            g[idx] = -(up - down) / (2 * step)
        out.append(g)
    return out


@exercise(
    "02.1",
    wrong=(
        "def cd_gradients(W, b, c, v0, vk):\n"
        "    sig = lambda x: 1 / (1 + np.exp(-x))\n"
        "    ph0, phk = sig(v0 @ W + c), sig(vk @ W + c)\n"
        "    n = len(v0)\n"
        "    # model minus data: the descent direction\n"
        "    return (vk.T @ phk - v0.T @ ph0) / n, np.mean(vk - v0, axis=0), np.mean(phk - ph0, axis=0)\n"
    ),
)
def _cd_gradients(cd_gradients: Callable[..., Any]) -> str:
    """(ΔW, Δb, Δc), against minus the gradient of the surrogate mean F(v0) − mean F(vk) taken by
    central finite differences of ``lib.rbm.free_energy`` (tested)."""
    fn = function(cd_gradients, "cd_gradients")
    rng = np.random.default_rng(20)
    worst = 0.0
    for d, h, n in [(6, 3, 4), (5, 4, 1), (12, 2, 7)]:
        W, b, c = _rbm_params(rng, d, h)
        v0, vk = _binary(rng, n, d), _binary(rng, n, d)
        want = _surrogate_gradient(W, b, c, v0, vk)
        out = call(fn, "cd_gradients", W.copy(), b.copy(), c.copy(), v0.copy(), vk.copy())
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise ExerciseError(
                f"`cd_gradients` should return the three arrays (dW, db, dc), got {type(out).__name__}"
            )
        where = f"D = {d} visible, H = {h} hidden units and a batch of B = {n}"
        for name, value, ref, shape in zip(("dW", "db", "dc"), out, want, [(d, h), (d,), (h,)], strict=True):
            got = array(value, f"{name} ({where})", shape)
            err = float(np.abs(got - ref).max())
            size = float(np.abs(ref).max())
            if err > 1e-6 * max(1.0, size):
                k = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(got - ref)), ref.shape))
                if np.allclose(got, -ref, atol=1e-6):
                    hint = (
                        "it is minus the reference: you return the model term minus the data term, the "
                        "descent direction; the update Δ is the ascent direction of the log-likelihood (the "
                        "lecture hands −Δ to the optimiser, which minimises)"
                    )
                elif n > 1 and np.allclose(got, n * ref, atol=1e-6):
                    hint = f"it is B = {n} times the reference: average over the batch, do not sum"
                else:
                    hint = (
                        "each term is an average over the batch, with hidden probabilities σ(c + Wᵀv), not "
                        "samples: ΔW = mean v⁰ σ(c + Wᵀv⁰)ᵀ − mean vᵏ σ(c + Wᵀvᵏ)ᵀ"
                    )
                raise ExerciseError(
                    f"with {where}, your {name}[{', '.join(map(str, k))}] is {got[k]:.6g}; minus the derivative of the surrogate "
                    f"mean F(v⁰) − mean F(vᵏ), by finite differences, is {ref[k]:.6g}: {hint}."
                )
            worst = max(worst, err)
    return (
        "(ΔW, Δb, Δc) are exactly minus the gradient of the surrogate mean F(v⁰) − mean F(vᵏ) for 3 RBMs "
        f"(largest difference from finite differences {worst:.1e})."
    )


def _log_z_brute_force(W: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """log Σ_{v,h} exp(b·v + c·h + vᵀWh), every joint state enumerated."""
    d, h = W.shape
    states = rbm.binary_states(d + h)  # (2^(D+H), D+H)
    v, hid = states[:, :d], states[:, d:]
    return float(logsumexp(v @ b + hid @ c + np.einsum("si,ij,sj->s", v, W, hid)))


@exercise(
    "02.2",
    wrong=(
        "def log_partition(W, b, c):\n"
        "    H = W.shape[1]\n"
        "    h = ((np.arange(2**H)[:, None] >> np.arange(H)) & 1).astype(float)  # (2^H, H)\n"
        "    # the weight e^(c·h) of each hidden state left out\n"
        "    return float(np.logaddexp.reduce(np.logaddexp(0, h @ W.T + b).sum(axis=1)))\n"
    ),
)
def _log_partition(log_partition: Callable[[np.ndarray, np.ndarray, np.ndarray], float]) -> str:
    """Exact log Z, against every joint state (v, h) enumerated for small RBMs, and against
    ``lib.rbm.log_partition_exact`` (tested) for a 784-pixel RBM whose Z overflows a float64."""
    fn = function(log_partition, "log_partition")
    rng = np.random.default_rng(21)
    enumerated = "enumeration of every (v, h)"
    cases = [
        ("D = 6 visible and H = 3 hidden units", *_rbm_params(rng, 6, 3), enumerated),
        ("D = 4 visible and H = 6 hidden units", *_rbm_params(rng, 4, 6), enumerated),
        ("D = 8 visible and H = 1 hidden unit, large weights", *_rbm_params(rng, 8, 1, 2.0), enumerated),
    ]
    W784 = rng.normal(0.0, 0.05, (784, 3))
    b784, c784 = rng.normal(1.0, 0.5, 784), rng.normal(0.0, 1.0, 3)
    cases.append(("D = 784 visible and H = 3 hidden units", W784, b784, c784, "lib.rbm.log_partition_exact"))
    shown = []
    for what, W, b, c, how in cases:
        want = _log_z_brute_force(W, b, c) if how == enumerated else rbm.log_partition_exact(W, b, c)
        with np.errstate(over="ignore", invalid="ignore"):
            out = call(fn, "log_partition", W.copy(), b.copy(), c.copy())
        try:
            raw = float(out.item() if hasattr(out, "item") else out)
        except (TypeError, ValueError):
            raw = 0.0  # not a number: number() says so
        if not math.isfinite(raw):
            raise ExerciseError(
                f"for the RBM with {what} your log Z is {raw}; it is {want:.6g}, so Z = e^{want:.0f} overflows a "
                "float64 (whose largest value is about e^709). Never form Z or the products Π_i(1 + e^(...)): "
                "add log(1 + e^x) = np.logaddexp(0, x) over the pixels, and combine the 2^H hidden states' logs "
                "with a log-sum-exp (scipy.special.logsumexp or np.logaddexp.reduce)."
            )
        got = number(out, f"log_partition(...) for {what}")
        if abs(got - want) > 1e-6 * max(1.0, abs(want)):  # float32 round-off passes
            no_c = rbm.log_partition_exact(W, b, np.zeros_like(c))
            if abs(got - no_c) < 1e-6 * max(1.0, abs(no_c)):
                hint = "that is log Z at c = 0: each hidden state h carries the weight e^(c·h)"
            else:
                hint = "log Z = log Σ_h e^(c·h) Π_i (1 + e^(b_i + (Wh)_i)), summed over the 2^H hidden states"
            raise ExerciseError(
                f"for the RBM with {what}, your log Z is {got:.8g}; {how} gives {want:.8g}: {hint}."
            )
        shown.append(f"{want:.2f}")
    return (
        f"log Z agrees with the enumeration of every state and with lib.rbm for 4 RBMs ({', '.join(shown)}), "
        "up to 784 pixels, where Z itself would overflow."
    )


def _torch_path(grads: np.ndarray, lrs: np.ndarray, mu: float) -> np.ndarray:
    """θ_t − θ_0 after each update of PyTorch's SGD (momentum mu, no dampening or Nesterov) fed −g_t
    at learning rate η_t: b_1 = g_1, b_t = μ b_{t−1} + g_t, θ_t = θ_{t−1} + η_t b_t, as PyTorch documents
    it (torch.optim.SGD). Written out rather than called: building a torch optimiser imports
    torch._dynamo, which crashes a process that has imported TensorFlow first with PyTorch 2.13's
    CUDA build for Python 3.13, as lecture 02 does. tests/test_exercises.py holds this recursion
    against torch.optim.SGD itself."""
    b, theta, path = np.zeros(grads.shape[1]), np.zeros(grads.shape[1]), []
    for t, (g, lr) in enumerate(zip(grads, lrs, strict=True)):
        b = g.astype(np.float64) if t == 0 else mu * b + g
        theta = theta + lr * b
        path.append(theta.copy())
    return np.array(path)


def _keras_path(grads: np.ndarray, lrs: np.ndarray, mu: float) -> np.ndarray:
    """θ_t − θ_0 after each update of Keras' convention: u_t = μ u_{t−1} + η_t g_t, θ_t = θ_{t−1} + u_t."""
    u, theta, path = np.zeros(grads.shape[1]), np.zeros(grads.shape[1]), []
    for g, lr in zip(grads, lrs, strict=True):
        u = mu * u + lr * g
        theta = theta + u
        path.append(theta.copy())
    return np.array(path)


@exercise(
    "02.3",
    wrong=(
        "def keras_gradients(grads, lrs, mu):\n"
        "    out, m = np.empty_like(grads), np.zeros(grads.shape[1])\n"
        "    for t in range(len(grads)):\n"
        "        ratio = lrs[t] / lrs[t - 1] if t else 1.0  # the ratio of learning rates upside down\n"
        "        out[t] = grads[t] + mu * m * (1 - ratio)\n"
        "        m = mu * m + grads[t]\n"
        "    return out\n"
    ),
)
def _keras_gradients(keras_gradients: Callable[[np.ndarray, np.ndarray, float], np.ndarray]) -> str:
    """The gradients that make Keras' momentum SGD follow PyTorch's: Keras' recursion fed the
    answer, against ``torch.optim.SGD`` itself fed the original gradients."""
    fn = function(keras_gradients, "keras_gradients")
    rng = np.random.default_rng(22)
    T, P = 10, 4
    linear = 1 - np.arange(T) / T  # 1 − (t − 1)/T at update t = 1, ..., T
    cases = [
        ("a learning rate decaying linearly, η_t = 0.03 (1 − (t−1)/10), μ = 0.5", 0.03 * linear, 0.5),
        ("a constant learning rate 0.1, μ = 0.9", np.full(T, 0.1), 0.9),
        ("random learning rates in [0.01, 0.1], μ = 0.7", rng.uniform(0.01, 0.1, T), 0.7),
        ("a learning rate decaying linearly from 0.05 and no momentum, μ = 0", 0.05 * linear, 0.0),
    ]
    for what, lrs, mu in cases:
        grads = rng.normal(size=(T, P))
        got = array(
            call(fn, "keras_gradients", grads.copy(), lrs.copy(), mu),
            f"keras_gradients(...) with {what}",
            (T, P),
        )
        want = _torch_path(grads, lrs, mu)
        path = _keras_path(got, lrs, mu)
        err = np.abs(path - want).max(axis=1)  # (T,) per update
        scale = float(np.abs(want).max())
        if err.max() > 1e-6 * scale:  # float32 round-off passes
            t = int(np.argmax(err > 1e-6 * scale))
            k = int(np.argmax(np.abs(path[t] - want[t])))
            if np.allclose(got, grads, rtol=0, atol=1e-12):
                hint = (
                    "you hand Keras PyTorch's gradients unchanged: with a varying learning rate, Keras weights "
                    "each past gradient with the learning rate it was computed at, PyTorch with the current one"
                )
            else:
                hint = (
                    "ask that Keras' velocity equal PyTorch's step, u_t = η_t m_t, for every t, and solve "
                    "u_t = μ u_(t−1) + η_t g̃_t for g̃_t"
                )
            raise ExerciseError(
                f"with {what}: after update {t + 1} Keras' SGD fed your gradients has moved parameter {k} by "
                f"{path[t, k]:.8g}, torch.optim.SGD fed the original gradients by {want[t, k]:.8g}: {hint}."
            )
    return (
        "Keras' SGD fed your gradients follows torch.optim.SGD update by update, for 10 updates with decaying, "
        "constant and random learning rates and μ from 0 to 0.9."
    )
