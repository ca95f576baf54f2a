"""Checks of lecture 00's exercises (the course tour: the base rate, the coin flips, the Fréchet distance)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import entr

from .. import divergences, rbm
from . import ExerciseError, call, exercise, function, number


def _finite_or_explain(value: Any, name: str, why: str) -> float:
    """``value`` as a number; an infinite or NaN one gets the exercise's explanation ``why``."""
    try:
        raw = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        raw = None  # not a number at all: number() says so
    if raw is not None and not math.isfinite(raw):
        raise ExerciseError(f"`{name}` is {raw}: {why}")
    return number(value, name)


def _base_rate_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(description, v_train, v_test): binary images as float arrays, seeded."""
    rng = np.random.default_rng(0)

    def draw(n: int, p: np.ndarray) -> np.ndarray:  # n binary images, pixel i on with probability p_i
        return (rng.random((n, len(p))) < p).astype(np.float64)

    p = rng.uniform(0.1, 0.9, size=12)
    cases = [("50 training and 30 test images of 12 pixels", draw(50, p), draw(30, p))]
    v_train, v_test = draw(40, np.full(10, 0.5)), draw(25, np.full(10, 0.5))
    v_train[:, 0], v_train[:, 1] = 0.0, 1.0  # pixel 0 never on, pixel 1 always on in training
    v_test[:3, 0], v_test[3:6, 1] = 1.0, 0.0  # ... but on (off) in a few test images
    cases.append(("40 training images in which pixel 0 is never on and pixel 1 always on", v_train, v_test))
    cases.append(
        ("a single training image of 3 pixels", np.array([[1.0, 0.0, 1.0]]), np.array([[1.0, 1.0, 0.0]]))
    )
    p = 1.0 / (
        1.0 + np.exp(-np.clip(rng.normal(-2.0, 1.5, size=784), -6, 6))
    )  # MNIST-like: most pixels rarely on
    cases.append(("300 training and 100 test images of 784 pixels", draw(300, p), draw(100, p)))
    return cases


@exercise(
    "00.1",
    wrong=(
        "def base_rate_ll(v_train, v_test):\n"
        "    mu = v_train.mean(axis=0)  # the raw frequencies, without the pseudo-counts\n"
        "    return float(np.mean(v_test @ np.log(mu) + (1 - v_test) @ np.log(1 - mu)))\n"
    ),
)
def _base_rate_ll(base_rate_ll: Callable[[np.ndarray, np.ndarray], float]) -> str:
    """The independent-pixel model with Laplace-smoothed frequencies, against ``lib.rbm``'s
    ``base_rate_bias`` and ``base_rate_log_likelihood`` (tested), on four seeded data sets."""
    fn = function(base_rate_ll, "base_rate_ll")
    shown = []
    for what, v_train, v_test in _base_rate_cases():
        want = rbm.base_rate_log_likelihood(v_test, rbm.base_rate_bias(v_train))
        with np.errstate(divide="ignore", invalid="ignore"):  # a log 0 is explained below
            out = call(fn, "base_rate_ll", v_train.copy(), v_test.copy())
        got = _finite_or_explain(
            out,
            f"base_rate_ll(...) on {what}",
            "a pixel whose training frequency is 0 (or 1) has log μ = −∞ (or log(1 − μ) = −∞), and a test "
            "image that turns it on (off) has probability 0. Smooth the frequencies with one pseudo-count "
            "of 'on' and one of 'off': μ_i = (Σ_n v_i + 1)/(N + 2).",
        )
        if abs(got - want) > 1e-6 * max(1.0, abs(want)):  # float32 round-off passes
            n, n_test = len(v_train), len(v_test)
            with np.errstate(divide="ignore", invalid="ignore"):
                mu = v_train.mean(0)
                raw = float(np.mean(v_test @ np.log(mu) + (1 - v_test) @ np.log1p(-mu)))
            if math.isfinite(raw) and abs(got - raw) < 1e-6 * abs(raw):
                hint = "that is the model of the raw frequencies Σ_n v_i/N: add the pseudo-counts"
            elif abs(got - want * n_test) < 1e-6 * abs(want * n_test):
                hint = f"that is the total over the {n_test} test images: the mean per image is asked for"
            elif abs(got - want / math.log(2)) < 1e-6 * abs(want):
                hint = "that is in bits: use natural logarithms (nats)"
            elif abs(got + want) < 1e-6 * abs(want):
                hint = "the sign is flipped: a log-likelihood of binary images is negative"
            else:
                hint = (
                    f"check μ_i = (Σ_n v_i + 1)/(N + 2) with N = {n} training images, and that each test image "
                    "scores Σ_i [v_i log μ_i + (1 − v_i) log(1 − μ_i)]"
                )
            raise ExerciseError(
                f"on {what}, your mean test log-likelihood is {got:.6g} nats; the independent-pixel model with "
                f"Laplace-smoothed frequencies gives {want:.6g} nats: {hint}."
            )
        shown.append(f"{got:.4g}")
    return (
        "the smoothed independent-pixel model's mean test log-likelihood agrees with lib.rbm's on 4 data sets "
        f"({', '.join(shown)} nats), also where a test image turns on a pixel never on in training."
    )


def _entropy_by_enumeration(grey: np.ndarray) -> float:
    """E_x H(V | X = x): for each image, −Σ_v p(v|x) log p(v|x) summed over its 2^D binary images."""
    states = rbm.binary_states(grey.shape[1])  # (2^D, D)
    total = 0.0
    for x in grey:
        p = np.prod(np.where(states == 1.0, x, 1.0 - x), axis=1)  # p(v | x), (2^D,)
        total += float(entr(p).sum())  # −p log p, 0 at p = 0
    return total / len(grey)


@exercise(
    "00.2",
    wrong=(
        "def coin_flip_entropy(grey):\n"
        "    p = np.clip(grey, 1e-12, 1 - 1e-12)\n"
        "    return float(np.mean(np.sum(-p * np.log2(p) - (1 - p) * np.log2(1 - p), axis=1)))  # in bits\n"
    ),
)
def _coin_flip_entropy(coin_flip_entropy: Callable[[np.ndarray], float]) -> str:
    """E_x Σ_i H_b(x_i), against the entropy of the 2^D binary images of each grey image summed by
    enumeration (D ≤ 8), and against SciPy's ``entr`` pixel by pixel for 784-pixel images."""
    fn = function(coin_flip_entropy, "coin_flip_entropy")
    rng = np.random.default_rng(1)
    edges = np.array([[0.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.9, 0.05], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.5, 0.5]])
    black_white = (rng.random((4, 6)) < 0.3).astype(np.float64)
    mnist_like = np.where(rng.random((20, 784)) < 0.8, 0.0, rng.random((20, 784)))
    mnist_like[rng.random((20, 784)) < 0.05] = 1.0
    pixel_by_pixel = float(
        (entr(mnist_like) + entr(1 - mnist_like)).sum(1).mean()
    )  # −x log x − (1−x) log(1−x)
    cases = [
        ("5 grey images of 8 pixels", rng.random((5, 8)), None),
        ("2 images of 8 pixels, some exactly 0 or 1", edges, None),
        ("4 black-and-white images of 6 pixels", black_white, None),
        ("20 images of 784 pixels, most of them 0", mnist_like, pixel_by_pixel),
    ]
    for what, grey, closed_form in cases:
        want = _entropy_by_enumeration(grey) if closed_form is None else closed_form
        with np.errstate(divide="ignore", invalid="ignore"):
            out = call(fn, "coin_flip_entropy", grey.copy())
        got = _finite_or_explain(
            out,
            f"coin_flip_entropy(...) on {what}",
            "a pixel at exactly 0 or 1 gives 0 · log 0, which NumPy evaluates as nan; its limit is 0 (a pixel "
            "that is surely off or surely on is no coin flip): set those terms to 0, e.g. with np.where.",
        )
        if abs(got - want) > 1e-6 * max(1.0, abs(want)):  # float32 round-off passes
            if want > 0 and abs(got * math.log(2) - want) < 1e-6 * want:
                hint = "your value is in bits (log₂): the lecture counts nats, natural logarithms"
            elif abs(got - want * len(grey)) < 1e-6 * max(1.0, want * len(grey)):
                hint = f"that is the sum over the {len(grey)} images: the mean per image is asked for"
            elif abs(got + want) < 1e-6 * max(1.0, want):
                hint = "the sign is flipped: an entropy is ≥ 0"
            else:
                hint = "each pixel contributes H_b(x) = −x log x − (1 − x) log(1 − x)"
            raise ExerciseError(
                f"on {what}, your coin-flip entropy is {got:.6g}; the entropy of the binarized images given "
                f"the grey ones, −Σ_v p(v|x) log p(v|x) averaged over the images, is {want:.6g} nats: {hint}."
            )
    return (
        "E_x Σ_i H_b(x_i) equals the entropy of the binarized images summed over all 2^D of them (D ≤ 8), "
        f"is 0 for black-and-white images, and {got:.2f} nats for the 784-pixel ones."
    )


def _points(mu: np.ndarray, cov: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Points whose sample mean is exactly ``mu`` and sample covariance (ddof 1) exactly ``cov``."""
    d = len(mu)
    n = d + 6
    a = rng.normal(size=(n, d))
    q, _ = np.linalg.qr(a - a.mean(0))  # orthonormal columns, each of zero mean
    return mu + math.sqrt(n - 1) * q @ np.linalg.cholesky(cov).T


def _root(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


@exercise(
    "00.3",
    wrong=(
        "def frechet_gaussian(mu_a, cov_a, mu_b, cov_b):\n"
        "    def root(m):\n"
        "        w, v = np.linalg.eigh(m)\n"
        "        return (v * np.sqrt(w)) @ v.T\n"
        "    # (Σa Σb)^½ taken for Σa^½ Σb^½, as if the covariances commuted\n"
        "    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root(cov_a) @ root(cov_b)))\n"
    ),
)
def _frechet_gaussian(frechet_gaussian: Callable[..., float]) -> str:
    """d² between two Gaussians, against ``lib.divergences.frechet_distance`` (tested) on point sets
    built to have exactly the Gaussians' means and covariances."""
    fn = function(frechet_gaussian, "frechet_gaussian")
    rng = np.random.default_rng(2)

    def spd(d: int) -> np.ndarray:
        a = rng.normal(size=(d, d))
        return a @ a.T / d + 0.3 * np.eye(d)

    same, mean5 = spd(3), rng.normal(size=5)
    cases = [
        ("1-D, means 0 and 1, variances 1 and 4", (np.zeros(1), np.eye(1)), (np.ones(1), 4.0 * np.eye(1))),
        (
            "3-D, diagonal covariances",
            (rng.normal(size=3), np.diag([1.0, 2.0, 0.5])),
            (rng.normal(size=3), np.diag([3.0, 0.2, 0.5])),
        ),
        ("one 3-D Gaussian against itself", (np.ones(3), same), (np.ones(3), same.copy())),
        ("3-D, non-diagonal covariances", (rng.normal(size=3), spd(3)), (rng.normal(size=3), spd(3))),
        ("5-D, non-diagonal covariances, equal means", (mean5, spd(5)), (mean5.copy(), spd(5))),
    ]
    shown = []
    for what, (mu_a, cov_a), (mu_b, cov_b) in cases:
        want = divergences.frechet_distance(_points(mu_a, cov_a, rng), _points(mu_b, cov_b, rng))
        got = number(
            call(fn, "frechet_gaussian", mu_a.copy(), cov_a.copy(), mu_b.copy(), cov_b.copy()),
            f"frechet_gaussian(...) for {what}",
        )
        scale = 1.0 + float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b))
        if abs(got - want) > 1e-6 * scale:  # float32 round-off passes
            commuting = float(
                np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * _root(cov_a) @ _root(cov_b))
            )
            if abs(got - commuting) < 1e-6 * scale:
                hint = (
                    "that is tr(Σa + Σb − 2 Σa^½ Σb^½): equal to d² when Σa and Σb commute (diagonal ones do), "
                    "not in general. Take the square root of the product, (Σa^½ Σb Σa^½)^½"
                )
            elif want > 0 and abs(got**2 - want) < 1e-6 * scale:
                hint = "that is d: the Fréchet distance is reported squared, d², as the FID is"
            else:
                hint = "d² = ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½)"
            raise ExerciseError(
                f"for {what}, your d² is {got:.6g}; the squared Fréchet distance between the two Gaussians is "
                f"{want:.6g} (lib.divergences.frechet_distance on points with exactly these means and "
                f"covariances): {hint}."
            )
        shown.append(f"{want:.3f}")
    return (
        f"d² agrees with lib.divergences.frechet_distance for 5 pairs of Gaussians ({', '.join(shown)}), "
        "diagonal and not, including d² = 0 for one Gaussian against itself."
    )
