"""Checks of lecture 10's exercises (autoregressive models and normalizing flows)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import optimize, stats
from torch import nn

from . import ExerciseError, array, call, exercise, function, number


def _made(n_in: int, hidden: list[int], *, seed: int, degree_seed: int | None = None, **kwargs: Any) -> Any:
    """A MADE with tanh units and float64 weights drawn from ``seed`` (tanh: no unit is ever dead,
    so a dependence that the masks allow shows in the Jacobian); with ``degree_seed``, hidden degrees
    drawn at random (some degrees may then be missing)."""
    from lib.autoregressive import MADE

    torch.manual_seed(seed)
    return MADE(n_in, hidden, activation=nn.Tanh, dtype=torch.float64, seed=degree_seed, **kwargs)


def _rounds_by_autograd(model: Any, seed: int) -> int:
    """Sampling rounds of ``model``, from which logits change with which inputs (autograd at a few
    random points), simulated: each round draws every pixel whose inputs are all drawn."""
    g = torch.Generator().manual_seed(seed)
    depends = np.zeros((model.n_in, model.n_in), dtype=bool)
    for _ in range(3):
        x = torch.rand(model.n_in, generator=g, dtype=torch.float64)
        jac = torch.autograd.functional.jacobian(model.logits, x)  # (D, D)
        depends |= (jac != 0).numpy()
    drawn = np.zeros(model.n_in, dtype=bool)
    rounds = 0
    while not drawn.all():
        ready = ~drawn & ~(depends & ~drawn[None, :]).any(1)  # every dependence already drawn
        if not ready.any():
            raise RuntimeError("the model is not autoregressive")  # never for a MADE
        drawn |= ready
        rounds += 1
    return rounds


def _blocked_made(direct: bool) -> Any:
    """A MADE on 8 pixels whose hidden units have only the degrees 2, 4 and 6: pixels come in pairs."""
    from lib.autoregressive import made_masks

    model = _made(8, [6], seed=11, direct=direct)
    degrees = [np.arange(1, 9), np.array([2, 2, 4, 4, 6, 6])]
    masks = made_masks(degrees, direct=direct)
    model.net[0].set_mask(masks[0])
    model.net[2].set_mask(masks[1])
    if direct:
        model.direct.set_mask(masks[2])
    model.degrees = degrees  # what the masks were built from
    return model


@exercise(
    "10.1", wrong="def sequential_passes(model):\n    return model.n_in  # one pixel per pass, always\n"
)
def _sequential_passes(sequential_passes: Callable[[Any], int]) -> str:
    """The least number of sampling rounds, against the rounds simulated from autograd's Jacobian."""
    fn = function(sequential_passes, "sequential_passes")
    cases = [
        ("MADE(6, [10]), natural order", _made(6, [10], seed=1)),
        ("MADE(6, [10], direct, ordering [3, 1, 5, 0, 2, 4])", _made(6, [10], seed=2, direct=True, ordering=[3, 1, 5, 0, 2, 4])),
        ("MADE(7, []), no hidden layer", _made(7, [], seed=3)),
        ("MADE(8, [6]), hidden degrees 2, 4, 6 only", _blocked_made(direct=False)),
        ("the same with direct connections", _blocked_made(direct=True)),
        ("MADE(9, [4, 5]), random hidden degrees", _made(9, [4, 5], seed=4, degree_seed=5, ordering=[8, 0, 7, 1, 6, 2, 5, 3, 4])),
    ]  # fmt: skip
    lines = []
    for k, (name, model) in enumerate(cases):
        want = _rounds_by_autograd(model, seed=k)
        got = number(call(fn, "sequential_passes", model), f"sequential_passes({name})")
        if got != want:
            raise ExerciseError(
                f"for {name} your function says {got:g} passes; simulating the sampler (a pixel is drawn in the "
                f"first round after every pixel its logit depends on, by autograd) takes {want}. A pixel's "
                "round is one more than the latest round among the pixels it depends on: follow the masks' "
                "product through every layer, and add the direct connections."
            )
        lines.append(f"{want} for {name}")
    return "the rounds agree with the simulated sampler: " + "; ".join(lines) + "."


@exercise(
    "10.2",
    wrong="def ensemble_log_prob(log_probs):\n    return np.mean(log_probs, axis=0)  # the mean of the logs\n",
)
def _ensemble_log_prob(ensemble_log_prob: Callable[[np.ndarray], Any]) -> str:
    """The mixture of K orderings, against its probabilities summed over every state of 8 pixels."""
    fn = function(ensemble_log_prob, "ensemble_log_prob")
    d, k = 8, 4
    rng = np.random.default_rng(7)
    states = torch.tensor(
        np.array(np.meshgrid(*[[0.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T
    )  # (256, 8)
    with torch.no_grad():
        log_probs = np.stack(
            [_made(d, [16], seed=20 + i, direct=True, ordering=rng.permutation(d)).log_prob(states).numpy()
             for i in range(k)]
        )  # fmt: skip  # (K, 256)
    want = np.log(np.exp(log_probs).mean(0))  # the probabilities are not small here
    got = array(call(fn, "ensemble_log_prob", log_probs.copy()), "ensemble_log_prob(log_probs)", (2**d,))
    total = float(np.exp(got).sum())
    if np.abs(got - want).max() > 1e-9:
        raise ExerciseError(
            f"for {k} MADEs with different orderings on {d} pixels, your log-probabilities summed over all "
            f"{2**d} states give a total probability of {total:.6f}; the mixture (1/K) Σ_k p_k(x) sums to 1 "
            f"(largest difference from it: {np.abs(got - want).max():.3g} nats). Average the probabilities, "
            "not their logarithms."
        )
    shifted = array(
        call(fn, "ensemble_log_prob", log_probs - 1000.0), "ensemble_log_prob(log_probs − 1000)", (2**d,)
    )
    if np.abs(shifted - (want - 1000.0)).max() > 1e-6:
        raise ExerciseError(
            "with every log-probability lowered by 1000 nats, the answer should be lowered by exactly 1000 "
            f"nats; yours is off by up to {np.nanmax(np.abs(shifted - (want - 1000.0))):.3g}. exp(−1000) is 0 "
            "in floating point: factor out the largest log-probability of each image before exponentiating."
        )
    return (
        f"the mixture of {k} orderings sums to {total:.12f} over all {2**d} states of {d} pixels, and its "
        "log-probabilities survive a shift of −1000 nats."
    )


def _reference_coupling(x: torch.Tensor, mask: torch.Tensor, s_net: Any, t_net: Any) -> torch.Tensor:
    """y of the affine coupling, coordinate by coordinate."""
    x_a = x * mask
    s, t = s_net(x_a), t_net(x_a)
    cols = [x[:, i] if mask[i] == 1 else x[:, i] * torch.exp(s[:, i]) + t[:, i] for i in range(x.shape[1])]
    return torch.stack(cols, 1)


@exercise(
    "10.3",
    wrong=(
        "def coupling(x, mask, s_net, t_net):\n"
        "    x_a = x * mask\n"
        "    s, t = s_net(x_a), t_net(x_a)\n"
        "    # the log-det summed over every coordinate, the passed ones included\n"
        "    return x_a + (1 - mask) * (x * torch.exp(s) + t), s.sum(-1)\n"
    ),
)
def _coupling(coupling: Callable[..., Any]) -> str:
    """An affine coupling and its log-determinant, against autograd's Jacobian of the coupling
    computed coordinate by coordinate."""
    fn = function(coupling, "coupling")
    worst = 0.0
    for d, seed in [(2, 0), (3, 1), (5, 2)]:
        torch.manual_seed(seed)
        nets = [
            nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Linear(8, d)).double() for _ in range(2)
        ]  # fmt: skip
        for net in nets:  # outputs well away from 0 on every coordinate
            nn.init.normal_(net[2].weight, std=0.7)
            nn.init.normal_(net[2].bias, std=0.7)
        s_net, t_net = nets
        mask = torch.tensor([(i + seed) % 2 for i in range(d)], dtype=torch.float64)
        x = torch.randn(6, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            out = call(fn, "coupling", x.clone(), mask.clone(), s_net, t_net)
        if not isinstance(out, tuple) or len(out) != 2:
            raise ExerciseError(
                f"`coupling(...)` should return a pair (y, log_det), got {type(out).__name__}"
            )
        y = array(out[0], "y", (6, d))
        log_det = array(out[1], "log_det", (6,))
        y_want = _reference_coupling(x, mask, s_net, t_net).detach().numpy()
        if np.abs(y - y_want).max() > 1e-10:
            raise ExerciseError(
                f"with D = {d} and mask {mask.long().tolist()}, your y differs from "
                "x ⊙ m + (1 − m) ⊙ (x ⊙ exp(s(x ⊙ m)) + t(x ⊙ m)) by up to "
                f"{np.abs(y - y_want).max():.3g}: feed the networks the passed half x ⊙ m only."
            )
        with torch.no_grad():
            jac = torch.stack(
                [torch.autograd.functional.jacobian(lambda p, m=mask, s=s_net, t=t_net: _reference_coupling(p[None], m, s, t)[0], p)
                 for p in x]
            )  # fmt: skip  # (6, D, D)
        want = torch.linalg.slogdet(jac).logabsdet.numpy()
        if np.abs(log_det - want).max() > 1e-9:
            raise ExerciseError(
                f"with D = {d} and mask {mask.long().tolist()}, your log_det is {np.round(log_det[:3], 4)}… ; "
                f"log|det ∂y/∂x| of autograd's Jacobian is {np.round(want[:3], 4)}…. Only the transformed "
                "coordinates (mask 0) are scaled: their log-scales are the diagonal of a triangular Jacobian."
            )
        worst = max(worst, float(np.abs(log_det - want).max()))
    return (
        f"y and log|det ∂y/∂x| agree with autograd's Jacobian for D = 2, 3 and 5 (largest difference "
        f"{worst:.1e}): the determinant of a triangular matrix is the product of its diagonal."
    )


def _slope_by_inversion(a: float, sigma: float) -> float:
    """T'(0) of T = F⁻¹ ∘ Φ for ½N(−a, σ²) + ½N(a, σ²), by a central difference of T at z = ±h
    with T(z) found by root-finding on the mixture's cumulative distribution."""

    def t_of(z: float) -> float:
        target = stats.norm.cdf(z)
        lo, hi = -a - 40 * sigma, a + 40 * sigma
        return optimize.brentq(
            lambda x: 0.5 * stats.norm.cdf((x + a) / sigma) + 0.5 * stats.norm.cdf((x - a) / sigma) - target,
            lo,
            hi,
            xtol=1e-300,
            rtol=4 * np.finfo(float).eps,
            maxiter=500,
        )

    h = 1e-6
    return (t_of(h) - t_of(-h)) / (2 * h)


@exercise(
    "10.4",
    wrong="def gap_slope(a, sigma):\n    return float(np.exp(a**2 / (2 * sigma**2)))  # the width σ left out\n",
)
def _gap_slope(gap_slope: Callable[[float, float], float]) -> str:
    """The slope at the gap of the exact 1-D flow to a symmetric two-mode mixture, against the map
    itself inverted numerically."""
    fn = function(gap_slope, "gap_slope")
    lines = []
    ring_a = 2.5 * math.sin(math.pi / 8)
    for a, sigma in [(1.5, 0.5), (ring_a, 0.25), (1.0, 2.0), (0.3, 1.0), (2.0, 1.5)]:
        want = _slope_by_inversion(a, sigma)
        got = number(call(fn, "gap_slope", a, sigma), f"gap_slope({a:.4g}, {sigma})")
        if abs(got - want) > 1e-4 * want:
            raise ExerciseError(
                f"for modes at ±{a:.4g} of width σ = {sigma}, your slope at the gap is {got:.6g}; the exact map "
                f"T = F⁻¹(Φ(z)), inverted numerically, has T'(0) = {want:.6g}. Differentiate F(T(z)) = Φ(z): "
                "p(T(z)) T'(z) = φ(z); the symmetry puts T(0) at 0, where p(0) is one Gaussian density."
            )
        lines.append(f"{want:.4g} at a = {a:.3g}, σ = {sigma}")
    return "T'(0) = σ exp(a²/2σ²) matches the inverted map: " + ", ".join(lines) + "."
