"""Checks of lecture 01's exercises (restricted Boltzmann machines, their sampling and gradient).

Every reference enumerates a tiny RBM's states: the free energy is summed over the hidden layer
term by term, ``F(v) = -log Σ_h e^{-E(v, h)}``, and the marginal and the log-likelihood come from
``e^{-E(v, h)}`` listed for every ``(v, h)``, never from the closed forms the exercises ask for.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lib.rbm import binary_states

from . import ExerciseError, array, call, exercise, function, number


def _rbm(seed: int, n_visible: int, n_hidden: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random RBM (W, b, c): weights and biases drawn from N(0, scale²)."""
    rng = np.random.default_rng(seed)
    W = scale * rng.normal(size=(n_visible, n_hidden))
    b = scale * rng.normal(size=n_visible)
    c = scale * rng.normal(size=n_hidden)
    return W, b, c


def _minus_energy(v: np.ndarray, W: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """−E(v, h) = b·v + c·h + vᵀWh for the rows v (N, D) and every hidden state h: (N, 2^H)."""
    h = binary_states(W.shape[1])  # (2^H, H)
    return (v @ b)[:, None] + (h @ c)[None, :] + v @ W @ h.T


def _logsumexp(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def _free_energy_brute(v: np.ndarray, W: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """F(v) = −log Σ_h e^{−E(v, h)}, the sum over h done term by term: (N,)."""
    return -_logsumexp(_minus_energy(v, W, b, c), axis=1)


def _marginal_brute(W: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The exact p(v) of every visible state, in the order of binary_states(D), from e^{−E(v,h)}."""
    log_joint = _minus_energy(binary_states(W.shape[0]), W, b, c)  # (2^D, 2^H)
    log_pv = _logsumexp(log_joint, axis=1)
    return np.exp(log_pv - _logsumexp(log_pv))


def _mean_log_likelihood_brute(v: np.ndarray, W: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """(1/N) Σ_n log p(v_n), with log Z summed over every (v, h)."""
    log_z = float(_logsumexp(_minus_energy(binary_states(W.shape[0]), W, b, c)))
    return float(np.mean(-_free_energy_brute(v, W, b, c)) - log_z)


def _bits(v: np.ndarray) -> str:
    return "(" + ", ".join(str(int(x)) for x in v) + ")"


@exercise(
    "01.1",
    wrong=(
        "def flip_delta_f(v, pre, i, W, b):\n"
        "    # every flip taken as 0 → 1: row i of W always added\n"
        "    return float(-b[i] - np.sum(np.logaddexp(0.0, pre + W[i]) - np.logaddexp(0.0, pre)))\n"
    ),
)
def _flip_delta_f(flip_delta_f: Callable[..., float]) -> str:
    """ΔF = F(v') − F(v) of a one-pixel flip, against F summed over h term by term, before and after."""
    fn = function(flip_delta_f, "flip_delta_f")
    worst, count = 0.0, 0
    for seed, (n_visible, n_hidden, scale) in enumerate([(6, 4, 0.5), (8, 3, 1.5), (5, 5, 3.0)]):
        W, b, c = _rbm(100 + seed, n_visible, n_hidden, scale)
        rng = np.random.default_rng(200 + seed)
        for _ in range(3):
            v = (rng.random(n_visible) < 0.5).astype(np.float64)
            pre = c + v @ W
            for i in range(n_visible):
                flipped = v.copy()
                flipped[i] = 1.0 - v[i]
                want = float(np.diff(_free_energy_brute(np.stack([v, flipped]), W, b, c))[0])
                args = (v.copy(), pre.copy(), i, W.copy(), b.copy())
                got = number(call(fn, "flip_delta_f", *args), f"flip_delta_f(v, pre, {i}, W, b)")
                count += 1
                if not (np.array_equal(args[0], v) and np.array_equal(args[1], pre)):
                    raise ExerciseError(
                        f"flip_delta_f(v, pre, {i}, W, b) changed its argument "
                        f"{'v' if not np.array_equal(args[0], v) else 'pre'} in place: leave v and pre "
                        "unchanged (work on copies, or compute pre + s·W[i] into a new array); a sampler "
                        "updates them only when it accepts the flip."
                    )
                if abs(got - want) <= 1e-8 * max(1.0, abs(want)):
                    worst = max(worst, abs(got - want))
                    continue
                s = 1.0 - 2.0 * v[i]
                always_on = float(-b[i] - np.sum(np.logaddexp(0, pre + W[i]) - np.logaddexp(0, pre)))
                no_bias = float(-np.sum(np.logaddexp(0, pre + s * W[i]) - np.logaddexp(0, pre)))
                if abs(got - want) <= 1e-5 * max(1.0, abs(want)):
                    hint = "It agrees to single precision only: compute in float64 (NumPy's default)."
                elif abs(got + want) <= 1e-8 * max(1.0, abs(want)):
                    hint = "You have F(v) − F(v'), the sign reversed: ΔF is the free energy after the flip minus before."
                elif v[i] == 1 and abs(got - always_on) <= 1e-8 * max(1.0, abs(want)):
                    hint = (
                        "This pixel is on, so the flip turns it off: s = 1 − 2v_i = −1, the pre-activations "
                        "lose row i of W (pre − W[i]), and the term −b·v of F changes by +b_i."
                    )
                elif abs(got - no_bias) <= 1e-8 * max(1.0, abs(want)):
                    hint = "The visible bias's share, −s·b_i with s = 1 − 2v_i, is missing."
                else:
                    hint = (
                        "Write F(v) = −b·v − Σ_j softplus(pre_j) and F(v') with v'_i = v_i + s, s = 1 − 2v_i, "
                        "pre' = pre + s·W[i], and subtract."
                    )
                raise ExerciseError(
                    f"for an RBM with D = {n_visible}, H = {n_hidden} at v = {_bits(v)}, flipping pixel {i} "
                    f"(v_{i} = {int(v[i])} → {int(1 - v[i])}): your ΔF is {got:.10g}; F(v') − F(v), each F "
                    f"summed over the {2**n_hidden} hidden states term by term, is {want:.10g}. {hint}"
                )
    return (
        f"ΔF of every one-pixel flip matches F(v') − F(v) summed over h term by term in {count} flips of "
        f"3 RBMs (largest difference {worst:.1e}); with pre = c + Wᵀv kept, a proposal costs O(H), not O(DH)."
    )


@exercise(
    "01.2",
    wrong=(
        "def metropolis_matrix(W, b, c):\n"
        "    # the acceptance min(1, e^(F(v') − F(v))): uphill moves in F favoured, the sign reversed\n"
        "    n_visible = W.shape[0]\n"
        "    F = rbmlib.free_energy(rbmlib.binary_states(n_visible), W, b, c)\n"
        "    T = np.zeros((len(F), len(F)))\n"
        "    for k in range(len(F)):\n"
        "        for i in range(n_visible):\n"
        "            T[k, k ^ (1 << i)] = min(1.0, np.exp(F[k ^ (1 << i)] - F[k])) / n_visible\n"
        "        T[k, k] = 1.0 - T[k].sum()\n"
        "    return T\n"
    ),
)
def _metropolis_matrix(metropolis_matrix: Callable[..., np.ndarray]) -> str:
    """Random-site Metropolis on F(v): the transition matrix leaves the exact marginal p(v) (e^{−E}
    summed over h for every v) invariant, and equals (1/D) min(1, p(v')/p(v)) entry by entry."""
    fn = function(metropolis_matrix, "metropolis_matrix")
    worst = 0.0
    summary = ""
    for seed, (n_visible, n_hidden, scale) in enumerate([(3, 2, 1.0), (4, 3, 1.5), (5, 2, 2.5)]):
        W, b, c = _rbm(300 + seed, n_visible, n_hidden, scale)
        n = 2**n_visible
        states = binary_states(n_visible)
        where = f"for the RBM with D = {n_visible}, H = {n_hidden}"
        T = array(
            call(fn, "metropolis_matrix", W.copy(), b.copy(), c.copy()),
            f"metropolis_matrix(W, b, c) with D = {n_visible}",
            shape=(n, n),
        )
        p = _marginal_brute(W, b, c)

        # 1. a transition matrix: each row a probability distribution over the next state
        rows = T.sum(axis=1)
        k = int(np.argmax(np.abs(rows - 1.0)))
        if abs(rows[k] - 1.0) > 1e-10:
            raise ExerciseError(
                f"{where}, row {k} (from v = {_bits(states[k])}) of your matrix sums to {rows[k]:.6g}, not 1: "
                "row k lists where one step goes from state k. The diagonal entry is the probability of staying, "
                "1 minus the probabilities of the accepted flips, each (1/D) × the acceptance."
            )
        k, to = np.unravel_index(int(np.argmin(T)), T.shape)
        if T[k, to] < -1e-12:
            raise ExerciseError(
                f"{where}, T[{k}, {to}] = {T[k, to]:.6g} < 0: a transition probability cannot be negative. "
                "Did each proposal's probability 1/D enter the accepted flips?"
            )
        # 2. one step flips at most one pixel
        hamming = np.abs(states[:, None, :] - states[None, :, :]).sum(axis=2)  # (n, n)
        far = (hamming > 1) & (np.abs(T) > 1e-12)
        if far.any():
            k, to = map(int, np.argwhere(far)[0])
            raise ExerciseError(
                f"{where}, your T[{k}, {to}] = {T[k, to]:.6g} moves v = {_bits(states[k])} to "
                f"{_bits(states[to])}, {int(hamming[k, to])} pixels apart: one step flips at most one pixel. "
                "With the states of rbmlib.binary_states(D), flipping pixel i takes state k to k ^ (1 << i)."
            )
        # 3. the exact marginal is stationary: p T = p
        drift = p @ T - p
        k = int(np.argmax(np.abs(drift)))
        if abs(drift[k]) > 1e-10:
            raise ExerciseError(
                f"{where}, your chain does not leave the RBM's marginal invariant: at v = {_bits(states[k])} the "
                f"exact p(v) (e^(−E(v,h)) summed over h and normalised) is {p[k]:.6g}, one step of your chain "
                f"from p gives {p[k] + drift[k]:.6g}. Check the acceptance: a flip that lowers F (raises p) is "
                "always accepted, one that raises F by ΔF with probability e^(−ΔF): min(1, e^(F(v) − F(v')))."
            )
        # 4. and it is this sampler: T(v, v') = (1/D) min(1, p(v')/p(v)) for one-pixel flips
        ref = np.where(hamming == 1, np.minimum(1.0, p[None, :] / p[:, None]) / n_visible, 0.0)
        ref[np.diag_indices(n)] = 1.0 - ref.sum(axis=1)
        off = np.where(hamming == 1, np.abs(T - ref), 0.0)  # the rows sum to 1: the diagonal follows
        k, to = np.unravel_index(int(np.argmax(off)), T.shape)
        if off[k, to] > 1e-10:
            raise ExerciseError(
                f"{where}, your matrix leaves p(v) invariant but is not random-site Metropolis: from "
                f"v = {_bits(states[k])} to {_bits(states[to])} yours is {T[k, to]:.6g}, Metropolis gives "
                f"{ref[k, to]:.6g} = (1/D) min(1, p(v')/p(v)). (The heat-bath acceptance "
                "p(v')/(p(v) + p(v')) is valid MCMC too, but it is another sampler.)"
            )
        flux = p[:, None] * T
        worst = max(worst, float(np.max(np.abs(drift))), float(np.max(np.abs(flux - flux.T))))
        if n_visible == 4:  # the slowest decay of a deviation from p, per step and per sweep of D steps
            sym = np.sqrt(p)[:, None] * ref / np.sqrt(p)[None, :]  # symmetric by detailed balance
            lam = np.sort(np.abs(np.linalg.eigvalsh((sym + sym.T) / 2)))[-2]
            summary = f"; for D = 4 its |λ₂| = {lam:.4f} per step, {lam**n_visible:.4f} per sweep of D steps"
    return (
        f"your chain satisfies detailed balance with the exact marginal p(v) (summed over h) for 3 RBMs of "
        f"up to 32 states, so p T = p (largest deviation {worst:.1e}){summary}."
    )


@exercise(
    "01.3",
    wrong=(
        "def log_likelihood_grad(v_data, W, b, c):\n"
        "    # the data term alone: the model term (the derivative of log Z) forgotten\n"
        "    p_h = 1.0 / (1.0 + np.exp(-(v_data @ W + c)))\n"
        "    return v_data.T @ p_h / len(v_data), v_data.mean(axis=0), p_h.mean(axis=0)\n"
    ),
)
def _log_likelihood_grad(log_likelihood_grad: Callable[..., tuple[np.ndarray, ...]]) -> str:
    """The gradient of the mean log-likelihood, against central finite differences of the exact mean
    log-likelihood (log Z summed over every (v, h))."""
    fn = function(log_likelihood_grad, "log_likelihood_grad")
    step = 1e-5  # central differences: truncation O(step²) ~ 1e-10, round-off ~ 1e-16 / step ~ 1e-11
    worst, n_derivatives = 0.0, 0
    for seed, (n_visible, n_hidden, scale, n_data) in enumerate(
        [(4, 3, 1.0, 5), (6, 2, 1.5, 8), (5, 4, 0.7, 3)]
    ):
        W, b, c = _rbm(400 + seed, n_visible, n_hidden, scale)
        v = (np.random.default_rng(500 + seed).random((n_data, n_visible)) < 0.5).astype(np.float64)
        out = call(fn, "log_likelihood_grad", v.copy(), W.copy(), b.copy(), c.copy())
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise ExerciseError(
                f"`log_likelihood_grad` should return three arrays (dW, db, dc), got {type(out).__name__}"
            )
        shapes = {"dW": (n_visible, n_hidden), "db": (n_visible,), "dc": (n_hidden,)}
        got = {name: array(x, name, shape) for (name, shape), x in zip(shapes.items(), out, strict=True)}

        params = {"dW": W, "db": b, "dc": c}
        want: dict[str, np.ndarray] = {}
        data: dict[str, np.ndarray] = {}
        for name, param in params.items():  # finite differences of L and of its data term −mean F
            want[name], data[name] = np.zeros_like(param), np.zeros_like(param)
            for idx in np.ndindex(param.shape):
                shifted = []
                for sign in (1.0, -1.0):
                    moved = {k: p.copy() for k, p in params.items()}
                    moved[name][idx] += sign * step
                    args = (moved["dW"], moved["db"], moved["dc"])
                    shifted.append(
                        (_mean_log_likelihood_brute(v, *args), float(np.mean(-_free_energy_brute(v, *args))))
                    )
                want[name][idx] = (shifted[0][0] - shifted[1][0]) / (2 * step)
                data[name][idx] = (shifted[0][1] - shifted[1][1]) / (2 * step)
        model = {k: data[k] - want[k] for k in want}  # the model term, E_p[−∂F/∂θ]
        scale_of = max(1.0, max(float(np.max(np.abs(w))) for w in want.values()))

        def close(a: dict[str, np.ndarray], ref: dict[str, np.ndarray], scale_of: float = scale_of) -> bool:
            return all(float(np.max(np.abs(a[k] - ref[k]))) <= 1e-6 * scale_of for k in ref)

        if close(got, want):
            worst = max(worst, max(float(np.max(np.abs(got[k] - want[k]))) for k in want))
            n_derivatives += sum(w.size for w in want.values())
            continue
        name = max(want, key=lambda k: float(np.max(np.abs(got[k] - want[k]))))
        idx = np.unravel_index(int(np.argmax(np.abs(got[name] - want[name]))), want[name].shape)
        entry = f"{name}[{', '.join(str(int(j)) for j in idx)}]"
        if close(got, data):
            hint = (
                "yours is the data term alone: subtract the model term, the same average taken over every "
                f"visible state weighted by p(v) = e^(−F(v))/Z (here {model[name][idx]:.6g})."
            )
        elif close(got, {k: -w for k, w in want.items()}):
            hint = "yours is minus the gradient: the data term raises log p, the model term lowers it."
        elif close(got, {k: data[k] + model[k] for k in want}):
            hint = "the model term should be subtracted from the data term, not added."
        elif close(got, {k: n_data * data[k] - model[k] for k in want}):
            hint = f"the data term is summed over the N = {n_data} rows; L is their mean."
        else:
            hint = (
                f"the data term is {data[name][idx]:.6g} and the model term {model[name][idx]:.6g}; check the "
                "weights p(v) of the model term (normalised by Z) and p_j(v) = σ(c_j + (Wᵀv)_j)."
            )
        raise ExerciseError(
            f"for an RBM with D = {n_visible}, H = {n_hidden} and N = {n_data} data rows, your {entry} is "
            f"{got[name][idx]:.6g}; the derivative of the exact mean log-likelihood (finite differences, log Z "
            f"summed over all {2 ** (n_visible + n_hidden)} states (v, h)) is {want[name][idx]:.6g}: {hint}"
        )
    return (
        f"data term minus the exact model term matches finite differences of the exact log-likelihood in all "
        f"{n_derivatives} derivatives of 3 RBMs (largest difference {worst:.1e})."
    )
