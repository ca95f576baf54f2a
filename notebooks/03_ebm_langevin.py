# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,slideshow,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 03 — Energy-based models and Langevin sampling: from exact 2-D densities to MNIST
#
# An **energy-based model** (EBM) assigns every configuration $x$ a scalar energy $E_\theta(x)$
# and defines
#
# $$p_\theta(x) = \frac{e^{-E_\theta(x)}}{Z_\theta}, \qquad Z_\theta = \int e^{-E_\theta(x)}\,dx .$$
#
# This is the Boltzmann distribution of statistical physics at temperature 1. The restricted
# Boltzmann machine of the previous lectures was an EBM with a very particular energy (bilinear in
# visible and hidden units). Here the energy is *any* neural network, and $x$ is continuous.
# Nothing forces the network to be invertible or to have a tractable normaliser — which is the
# appeal of EBMs and also their price: both learning and sampling need Markov chain Monte Carlo.
#
# **What you will learn**
# - the maximum-likelihood gradient of an EBM as a *positive phase* on data minus a *negative
#   phase* on model samples, and how it generalises the RBM gradient;
# - Langevin dynamics $x \leftarrow x - \tfrac{\varepsilon}{2}\nabla E(x) + \sqrt{\varepsilon}\,\xi$,
#   why $e^{-E}$ is its stationary law, its Metropolis-adjusted version (MALA) and random-walk
#   Metropolis — compared *quantitatively* on 2-D targets whose density we know exactly,
#   including the bias of unadjusted Langevin and how chains that cannot cross between modes
#   share them out;
# - learning a 2-D density with an MLP energy, Langevin negatives and a replay buffer, checked
#   against the truth with a KL divergence on a grid;
# - training a convolutional EBM on MNIST with the short-run Langevin chains, replay buffer and
#   spectral normalisation of {cite:t}`du2019`, and **measuring** its samples with the Fréchet
#   classifier distance (FCD) against independent grey pixels (each pixel drawn from its
#   distribution over the training digits), read beside two reference points (unseen real digits and uniform noise) — both for the replay buffer and for fresh
#   chains started from noise; using the energy as an out-of-distribution score.
#
# **Prerequisites**: `00_course_tour` (scales, data, the FCD) and the RBM lectures (01–02:
# Gibbs sampling, contrastive divergence, positive and negative phases, the free energy).
# PyTorch autograd.
#
# The samplers and the replay buffer live in `lib/samplers.py`, the 2-D targets and grids in
# `lib/toy2d.py`, the divergences in `lib/divergences.py` (each tested in `tests/`); the model
# code you are meant to read stays in this notebook.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
from IPython.display import Markdown, display
from sklearn.metrics import roc_auc_score
from torch.nn.utils.parametrizations import spectral_norm
from tqdm.auto import tqdm

from lib import (
    cache,
    checks,
    comparison,
    config,
    data,
    divergences,
    memorisation,
    metrics,
    plotting,
    results,
    samplers,
    toy2d,
)

torch.set_num_threads(1)
SCALE = config.setup("03_ebm_langevin", seed=0)
SEED = config.seed()  # every random draw below is seeded from it
DEVICE = str(config.torch_device())  # "cuda", "mps" or "cpu"

# Section 2: sampling known 2-D densities
N_CHAINS = config.scaled(smoke=400, lecture=1000, full=4000)  # independent chains per sampler
N_STEPS_2D = config.scaled(smoke=150, lecture=300, full=2000)  # steps per chain
# Section 3: learning a 2-D density
ITERS_2D = config.scaled(smoke=500, lecture=1000, full=6000)  # parameter updates
# Section 4: an EBM on MNIST
N_TRAIN = config.scaled(smoke=2000, lecture=8000, full=8000)  # training digits used (at most the split)
ITERS_MNIST = config.scaled(smoke=300, lecture=400, full=20000)  # parameter updates
BATCH = config.scaled(smoke=32, lecture=64, full=128)
K_TRAIN = config.scaled(smoke=10, lecture=20, full=60)  # Langevin steps per update (published: 60)
K_LONG = config.scaled(smoke=60, lecture=200, full=1000)  # steps of the long chains from noise
N_EVAL = metrics.sample_count()  # samples per FCD: the same n in every lecture at this scale
BUFFER_SIZE = config.scaled(smoke=512, lecture=2048, full=10_000)  # ≥ N_EVAL
LR_MNIST = config.scaled(smoke=1e-3, lecture=1e-3, full=1e-4)  # Adam learning rate (β₁ = 0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Energy-based models and their likelihood gradient
#
# With $\log p_\theta(x) = -E_\theta(x) - \log Z_\theta$ and
# $\nabla_\theta \log Z_\theta = \frac{1}{Z_\theta}\int -\nabla_\theta E_\theta(x)\, e^{-E_\theta(x)}dx
# = -\mathbb{E}_{p_\theta}[\nabla_\theta E_\theta(x)]$, the gradient of the average
# log-likelihood over the data is
#
# $$\nabla_\theta\, \mathbb{E}_{p_{\rm data}}[\log p_\theta(x)]
#   = -\underbrace{\mathbb{E}_{x\sim p_{\rm data}}\big[\nabla_\theta E_\theta(x)\big]}_{\text{positive phase}}
#     + \underbrace{\mathbb{E}_{x\sim p_\theta}\big[\nabla_\theta E_\theta(x)\big]}_{\text{negative phase}} .$$
#
# Gradient *descent* on the surrogate loss
# $\mathcal{L}(\theta) = \mathbb{E}_{\rm data}[E_\theta(x)] - \mathbb{E}_{p_\theta}[E_\theta(\tilde x)]$
# (with the samples $\tilde x$ held fixed) therefore *pushes the energy down on data and up on
# the model's own samples*, until the two sets are indistinguishable to the energy.
#
# **The RBM as a special case.** The RBM has hidden units $h$, which the data do not contain, so
# the energy of a *visible* configuration is its **free energy** $F(v)$, obtained by summing the
# hidden units out:
#
# $$p(v) = \frac{1}{Z}\sum_h e^{-E(v,h)} = \frac{e^{-F(v)}}{Z}, \qquad
#   F(v) = -b^\top v - \sum_j \log\big(1 + e^{c_j + (W^\top v)_j}\big)$$
#
# for $E(v,h) = -v^\top W h - b^\top v - c^\top h$ and binary $h_j$. The formula above applies with
# $F$ in place of $E_\theta$: $\nabla_W F(v) = -v\,\hat h(v)^\top$, where
# $\hat h_j(v) = p(h_j = 1 \mid v) = 1/\big(1 + e^{-c_j - (W^\top v)_j}\big)$. In the negative
# phase, since $\hat h(v) = \sum_h p(h\mid v)\,h$,
# $\mathbb{E}_{p(v)}[v\,\hat h(v)^\top] = \sum_{v,h} p(v)\,p(h\mid v)\,v h^\top = \langle v h^\top\rangle_{\rm model}$
# (an average over the joint $p(v,h)$), so the log-likelihood gradient with respect to $W$ is the
# familiar $\langle v\,\hat h(v)^\top\rangle_{\rm data} - \langle v h^\top\rangle_{\rm model}$.
# There the negative samples came from block Gibbs sampling. For a neural energy on continuous $x$ there is
# no Gibbs sampler — conditionals are intractable — but we do have the *gradient* $\nabla_x E$,
# cheaply, by backpropagation. Langevin dynamics uses it.
#
# ## 2. Sampling a density we know
#
# Three Markov chains that all leave $p \propto e^{-E}$ invariant (or nearly):
#
# - **Random-walk Metropolis (RWM)**: propose $x' = x + s\,\xi$, $\xi\sim\mathcal N(0,I)$, accept
#   with probability $\min\big(1, e^{E(x)-E(x')}\big)$. Gradient-free: a blind random walk.
# - **Unadjusted Langevin (ULA)**: the Euler discretisation of the diffusion
#   $dx = -\tfrac12\nabla E(x)\,dt + dW_t$ ($W_t$ a Brownian motion, not the RBM's weights). The
#   density $p_t$ of many such walkers obeys the
#   Fokker–Planck equation (drift $-\tfrac12\nabla E$; $dW_t$ has variance $dt$ per coordinate,
#   hence the diffusion coefficient $\tfrac12$)
#   $$\partial_t p = \nabla\cdot\big(\tfrac12 p\,\nabla E\big) + \tfrac12\nabla^2 p
#     = \nabla\cdot\big(\tfrac12 p\,\nabla E + \tfrac12 \nabla p\big).$$
#   For $p \propto e^{-E}$, $\nabla p = -p\,\nabla E$: the flux in the bracket vanishes everywhere,
#   so $\partial_t p = 0$ and $e^{-E}$ is stationary. One Euler step of length $dt = \varepsilon$ is
#   $$x_{t+1} = x_t - \frac{\varepsilon}{2}\nabla E(x_t) + \sqrt{\varepsilon}\,\xi_t ,$$
#   a gradient step $\varepsilon/2$ paired with noise of standard deviation $\sqrt\varepsilon$ (the
#   **exact pairing**: the one whose stationary law tends to $e^{-E}$ as $\varepsilon \to 0$). Every
#   move is taken, and the drift steers the walkers towards low energy. But the discretisation has
#   a **bias** that grows with $\varepsilon$. For a Gaussian $E = \kappa x^2/2$ (curvature $\kappa$,
#   variance $1/\kappa$), $x_{t+1} = (1-\tfrac{\varepsilon\kappa}{2})x_t + \sqrt\varepsilon\,\xi_t$,
#   whose stationary variance $V$ solves $V = (1-\tfrac{\varepsilon\kappa}{2})^2 V + \varepsilon$,
#   i.e. $V\,\big(1 - (1-\tfrac{\varepsilon\kappa}{2})^2\big) = V\,\varepsilon\kappa\,(1 - \tfrac{\varepsilon\kappa}{4}) = \varepsilon$:
#   $$V = \frac{1}{\kappa\,(1 - \varepsilon\kappa/4)}$$
#   — always too wide, and divergent for $\varepsilon\kappa \ge 4$.
# - **MALA** (Metropolis-adjusted Langevin): use the Langevin step as a *proposal*
#   $q(x'\mid x) = \mathcal N\big(x';\, x - \tfrac{\varepsilon}{2}\nabla E(x),\, \varepsilon I\big)$
#   and accept it with probability
#   $$a(x, x') = \min\Big(1,\; \frac{e^{-E(x')}\,q(x\mid x')}{e^{-E(x)}\,q(x'\mid x)}\Big).$$
#   **Detailed balance in one line**: for $x' \ne x$ the chain moves with density
#   $q(x'\mid x)\,a(x,x')$, and $p(x)\,q(x'\mid x)\,a(x,x') = \min\big(p(x)\,q(x'\mid x),\;
#   p(x')\,q(x\mid x')\big)$ is symmetric in $x \leftrightarrow x'$: the probability flow from
#   $x$ to $x'$ equals the flow back, so $p$ is invariant for *every* $\varepsilon$. The bias is
#   gone, at the cost of rejections.
#
# **Dimension.** How must the step shrink as the dimension $d$ grows? For targets that are
# products of $d$ identical factors, RWM keeps a fixed acceptance rate with a proposal variance
# $s^2 \propto d^{-1}$ {cite:p}`roberts1997`, MALA with $\varepsilon \propto d^{-1/3}$ once the chain
# is in stationarity {cite:p}`roberts1998`, but only with $\varepsilon \propto d^{-1/2}$ from a transient
# start far out in the tails {cite:p}`christensen2005`. ULA never rejects; its step is limited by its bias instead. For a product
# of $d$ Gaussians of curvature $\kappa$, the variance ratio per coordinate is
# $r = 1/(1-\varepsilon\kappa/4)$, so the KL from ULA's stationary law to $p$ (that of two centred
# Gaussians whose variances differ by the factor $r$, summed over the coordinates) is
# $\mathrm{KL} = \tfrac d2\,(r - 1 - \ln r) \approx \tfrac d4\,(r-1)^2 \approx
# d\,(\varepsilon\kappa)^2/64$ (with $r - 1 \approx \varepsilon\kappa/4$ for small $\varepsilon\kappa$),
# and a fixed accuracy needs $\varepsilon \propto d^{-1/2}$; general
# guarantees for smooth log-concave targets ask for $\varepsilon \propto d^{-1}$
# {cite:p}`dalalyan2017`. So ULA is not the sampler that scales better with dimension; why EBM
# practice uses it anyway is the subject of the end of this section.
#
# Gibbs sampling (lectures 01–02) updates one block of variables from its exact conditional; it
# is the method of choice when conditionals are tractable, as in the RBM, and unavailable here: a
# neural energy on continuous $x$ has no tractable conditionals.
#
# Our targets: a mixture of 8 Gaussians on a circle with **unequal** weights $\pi_k$, and a ring
# $E(x) = (|x| - R)^2/(2w^2)$ whose normaliser $Z$ has a closed form. Both can be sampled
# exactly, so every MCMC result can be *compared* with the truth. Every density on a grid below is
# normalised numerically (a sum over the cells); the ring's closed-form $Z$ checks that sum.

# %% slideshow={"slide_type": "subslide"}
N_MODES, MIXTURE_RADIUS, MIXTURE_STD = 8, 2.5, 0.25  # 8 Gaussians of std 0.25 on a circle of radius 2.5
MIXTURE_WEIGHTS = (
    np.arange(1, N_MODES + 1) / np.arange(1, N_MODES + 1).sum()
)  # π_k = (k + 1)/36, modes k = 0..7
RING_RADIUS, RING_WIDTH = 2.5, 0.3  # the ring's R and w
EXTENT, N_GRID = 4.0, 100  # densities on a 100 × 100 grid over [-4, 4]²
HIST_GRID = 30  # coarser grid for histogram KLs of finite samples

mixture = toy2d.GaussianMixture(
    toy2d.ring_means(N_MODES, MIXTURE_RADIUS), MIXTURE_STD, weights=MIXTURE_WEIGHTS
)
ring = toy2d.Ring2D(radius=RING_RADIUS, width=RING_WIDTH)

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, (name, target) in zip(axes, [("mixture of 8 Gaussians", mixture), ("ring", ring)], strict=True):
    _, p = toy2d.grid_density(target.energy, EXTENT, N_GRID)
    ax.imshow(p, origin="lower", extent=[-EXTENT, EXTENT, -EXTENT, EXTENT], cmap="viridis")
    ax.set_title(f"{name}: exact density")
for k, (mx, my) in enumerate(mixture.means):
    axes[0].annotate(f"{k}", (mx * 1.3, my * 1.3), color="white", ha="center", va="center")
plt.tight_layout()
plt.show()

# The energy barrier between two neighbouring modes: the highest energy on the segment joining
# their centres, above the higher of its two ends (the way out of the shallower mode).
segment = torch.as_tensor(
    mixture.means[0] + np.linspace(0, 1, 201)[:, None] * (mixture.means[1] - mixture.means[0])
)
e_segment = mixture.energy(segment).numpy()
barrier = e_segment.max() - max(e_segment[0], e_segment[-1])
print(f"mixture weights π_k: {MIXTURE_WEIGHTS.round(3)}")
print(f"energy barrier between modes 0 and 1: {barrier:.1f} nats (Boltzmann factor {math.exp(-barrier):.1e})")

# The ring's normaliser: the numerical sum over the grid's cells (the midpoint rule) against the closed form.
cell = 2 * EXTENT / N_GRID
x_cells = -EXTENT + cell * (np.arange(N_GRID) + 0.5)
grid_points = torch.as_tensor(np.stack(np.meshgrid(x_cells, x_cells), -1).reshape(-1, 2))  # (N_GRID², 2)
z_grid = float(torch.exp(-ring.energy(grid_points)).sum()) * cell**2
print(f"ring: Z = {math.exp(ring.log_z):.5f} in closed form, {z_grid:.5f} summed over the grid")
assert abs(z_grid / math.exp(ring.log_z) - 1) < 1e-3, (z_grid, math.exp(ring.log_z))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Same budget, three samplers
#
# Each sampler runs `N_CHAINS` independent chains for `N_STEPS_2D` steps from uniform noise on
# $[-4, 4]^2$. ULA and MALA use $\varepsilon = 0.05$; RWM uses the same move size $s = \sqrt\varepsilon$.
# We also start MALA and ULA at exact samples of $p$ ("MALA from p", "ULA from p"): a chain that
# leaves $p$ invariant must keep them distributed as $p$, and one whose stationary law is slightly off
# drifts only as far as its bias. We draw a few trajectories over the exact density, and
# compare the final states of all chains with exact samples using two numbers that the tests of
# `lib` also check:
#
# - the **histogram KL** $\mathrm{KL}(\hat q\,\|\,p) = \sum_{\rm cells} \hat q \log(\hat q/p)$ on a
#   30 × 30 grid, with $\hat q$ the histogram of the chains and $p$ the cell probabilities of the
#   exact density (from its values at the cell centres, normalised: a midpoint rule);
# - the **MMD** (maximum mean discrepancy) with an RBF kernel $k(a,b) = e^{-|a-b|^2/(2h^2)}$, whose
#   bandwidth $h$ is set by the median heuristic ($h^2$ = half the median squared distance
#   between the pooled points): $\mathrm{MMD}^2 = \mathbb{E}\,k(x,x') + \mathbb{E}\,k(y,y') -
#   2\,\mathbb{E}\,k(x,y)$ is zero iff the two distributions are equal; we print its unbiased
#   estimate (which can be slightly negative), and a permutation test turns it into a p-value: the
#   fraction of 100 random relabellings of the pooled points whose MMD² reaches the observed one, with
#   the observed labelling counted among them, so the smallest possible p-value is $1/101 \approx 0.0099$
#   (printed as 0.010: no relabelling came close).
#
# Exact samples of the same size give the *floor* of both numbers (finite-sample noise): with
# `N_CHAINS` samples spread over 900 cells, even perfect samples have a histogram KL well above
# zero (the row "exact").
#
# The histogram KL has a blind spot. If samples that are otherwise perfect miss a mode of weight
# $\pi$ entirely, $\hat q = p/(1-\pi)$ on the rest, and $\mathrm{KL}(\hat q\,\|\,p) = -\ln(1-\pi)$:
# only $0.13$ nats for $\pi = 1/8$, $0.03$ for $\pi = 1/36$. So we also count where the chains
# are: each point belongs to the mode $k$ that dominates the density there (the largest
# $\pi_k\,\mathcal N(x; \mu_k, \sigma^2)$), and we compare the chains' shares of the modes with the
# weights $\pi_k$. We call the region where mode $k$ dominates its **basin** for short: a cheap proxy
# for its basin of attraction (the points from which the drift $-\nabla E$ leads into mode $k$), which
# it approximates for modes this far apart. A chain **hops** when it enters the $3\sigma$ ball of a mode
# other than the last one it visited.

# %% slideshow={"slide_type": "subslide"}
EPS_DEMO = 0.05  # ε of ULA and MALA; RWM moves with s = √ε
N_PERMUTATIONS = 100  # relabellings in the MMD permutation test
N_TRAJECTORIES = 4  # trajectories drawn per panel
gen = torch.Generator().manual_seed(SEED)


def uniform_start(n: int) -> torch.Tensor:
    return (2 * torch.rand(n, 2, generator=gen, dtype=torch.float64) - 1) * EXTENT  # (n, 2)


def run_samplers(target, n_chains: int, n_steps: int, eps: float, seed: int) -> dict:
    """The three samplers from one uniform start, and MALA and ULA from exact samples of the target."""
    x0 = uniform_start(n_chains)
    x_exact = torch.as_tensor(target.sample(n_chains, seed=seed))
    kw = dict(n_steps=n_steps, return_chain=True, chain_every=max(1, n_steps // 300), generator=gen)
    return {
        "ULA": samplers.langevin(target.energy, x0, step_size=eps, **kw),
        "MALA": samplers.langevin(target.energy, x0, step_size=eps, metropolis=True, **kw),
        "RWM": samplers.random_walk_metropolis(target.energy, x0, proposal_std=math.sqrt(eps), **kw),
        "MALA from p": samplers.langevin(target.energy, x_exact, step_size=eps, metropolis=True, **kw),
        "ULA from p": samplers.langevin(target.energy, x_exact, step_size=eps, **kw),
    }


def score(samples: torch.Tensor, target, seed: int) -> dict:
    exact = target.sample(len(samples), seed=seed)
    _, p = toy2d.grid_density(target.energy, EXTENT, HIST_GRID)
    mmd2, pval = divergences.mmd_permutation_test(samples, exact, n_permutations=N_PERMUTATIONS, seed=seed)
    kl = divergences.kl_divergence(toy2d.histogram2d(samples, EXTENT, HIST_GRID), p)
    return {"kl": kl, "mmd2": mmd2, "p": pval}


def mode_of(x) -> np.ndarray:
    """For each point, the mode that dominates the density there (largest π_k N(x; μ_k, σ²)), (N,)."""
    x = np.asarray(x)
    d2 = ((x[:, None, :] - mixture.means[None]) ** 2).sum(-1)  # (N, N_MODES)
    return (np.log(mixture.weights) - d2 / (2 * MIXTURE_STD**2)).argmax(1)


def mode_shares(x) -> np.ndarray:
    """The fraction of the points in each mode, (N_MODES,)."""
    return np.bincount(mode_of(x), minlength=N_MODES) / len(x)


def hops(chain: torch.Tensor) -> np.ndarray:
    """For each chain of a (T, N, 2) trajectory: how often it entered the 3σ ball of a mode other
    than the last one it visited, (N,)."""
    last = np.full(chain.shape[1], -1)  # the last mode visited (-1: none yet)
    count = np.zeros(chain.shape[1], dtype=int)
    for x in chain.numpy():  # (N, 2) at each recorded step
        d = np.sqrt(((x[:, None, :] - mixture.means[None]) ** 2).sum(-1))  # (N, N_MODES)
        inside = np.where(d.min(1) < 3 * MIXTURE_STD, d.argmin(1), -1)  # the ball it is in, or -1
        count += (inside >= 0) & (last >= 0) & (inside != last)
        last = np.where(inside >= 0, inside, last)
    return count


table, runs_by_target = {}, {}
for name, target in [("mixture", mixture), ("ring", ring)]:
    runs = runs_by_target[name] = run_samplers(target, N_CHAINS, N_STEPS_2D, EPS_DEMO, seed=SEED + 3)
    _, p = toy2d.grid_density(target.energy, EXTENT, N_GRID)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, method in zip(axes, ["ULA", "MALA", "RWM"], strict=True):
        out = runs[method]
        ax.imshow(p, origin="lower", extent=[-EXTENT, EXTENT, -EXTENT, EXTENT], cmap="Greys")
        for c in range(N_TRAJECTORIES):
            path = out.chain[:, c].numpy()  # (T, 2)
            ax.plot(path[:, 0], path[:, 1], lw=0.7, alpha=0.8)
        ax.scatter(*out.samples[:300].numpy().T, s=3, c="C3", label="final states")
        acc = "" if out.acceptance_rate is None else f", accept {out.acceptance_rate:.2f}"
        ax.set_title(f"{name}: {method}{acc}")
        ax.set_xlim(-EXTENT, EXTENT)
        ax.set_ylim(-EXTENT, EXTENT)
    plt.tight_layout()
    plt.show()
    for method, out in runs.items():
        table[(name, method)] = score(out.samples, target, seed=SEED + 1) | {"accept": out.acceptance_rate}
    exact_samples = torch.as_tensor(target.sample(N_CHAINS, seed=SEED + 2))
    table[(name, "exact")] = score(exact_samples, target, seed=SEED + 1)

print(f"{'target':8s} {'sampler':12s} {'hist KL':>8s} {'MMD²':>9s} {'p-value':>8s} {'accept':>7s}")
for (name, method), s in table.items():
    acc = "" if s.get("accept") is None else f"{s['accept']:7.2f}"
    print(f"{name:8s} {method:12s} {s['kl']:8.3f} {s['mmd2']:9.5f} {s['p']:8.3f} {acc}")

# %% [markdown]
# Where did the chains on the mixture end up? Below, each row gives the shares of the eight modes:
# the true weights $\pi_k$; the shares of the uniform starting points by the basin they start in
# (the region where that mode dominates the density); the final states of each sampler; and the
# fraction of chains that hopped at least once.

# %%
runs = runs_by_target["mixture"]
shares = {
    "true weights π_k": MIXTURE_WEIGHTS,
    "basins of the start": mode_shares(runs["MALA"].chain[0]),
    **{method: mode_shares(out.samples) for method, out in runs.items()},
}
hopped = {method: float((hops(out.chain) > 0).mean()) for method, out in runs.items()}


def total_variation(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a - b).sum())


print(f"{'mode':20s}" + "".join(f"{k:>7d}" for k in range(N_MODES)) + f"{'hopped':>9s}")
for row, s in shares.items():
    print(f"{row:20s}" + "".join(f"{v:7.3f}" for v in s) + (f"{hopped[row]:9.3f}" if row in hopped else ""))
for method in runs:
    print(
        f"{method}: total variation from the weights {total_variation(shares[method], MIXTURE_WEIGHTS):.3f}, "
        f"from the basins {total_variation(shares[method], shares['basins of the start']):.3f}"
    )

# %% [markdown] slideshow={"slide_type": "subslide"}
# Compare the histogram KLs with the floor. MALA, which is exact, matches it on the ring, and
# started at $p$ it stays at $p$ on both targets; the checks below hold it to that. On the ring ULA
# passes the same checks: at this $\varepsilon$ its stationary law is off by a KL that the Gaussian
# formula of section 2 puts at about 0.006 nats (printed below), well inside the noise of a histogram
# of `N_CHAINS` points, so these checks cannot tell an exact sampler from a slightly biased one there;
# the radial-width study after them can. The mixture's modes are narrower
# ($\varepsilon\kappa = 0.8$ against $0.56$ across the ring), and there ULA's too-wide modes spread its
# points over more cells of the histogram: compare "ULA from p" with "MALA from p", both started from
# the same exact samples. On the mixture from the uniform start, compare the three samplers with MALA
# from $p$, and read the table of
# mode shares: most chains never hop between modes within the budget (printed), so each chain stays in
# the mode whose basin it started in, and the final shares follow the *basins of the starting
# distribution*, not the weights $\pi_k$ — for MALA just as for ULA and RWM. An exact transition
# kernel guarantees only that $p$ is invariant and that a chain converges to it *eventually*;
# across a barrier of $\Delta E$ (printed above), "eventually" means a time that grows like
# $e^{\Delta E}$. Starting many chains from a broad distribution does not help: their split is set
# by where they start. This is the central difficulty of MCMC on multimodal targets, and it will
# return with the MNIST digits (ten modes, at least).


# %% slideshow={"slide_type": "subslide"}
def kl_variance_ratio(r: float) -> float:
    """KL(N(0, r v) ‖ N(0, v)) in one dimension."""
    return 0.5 * (r - 1 - math.log(r))


# ULA's stationary bias at ε = EPS_DEMO by the Gaussian formula of section 2: the ring's radial variance,
# and each well-separated mixture mode's variance along both axes, too large by r = 1/(1 − εκ/4).
ula_bias_kl = {
    "ring": kl_variance_ratio(1 / (1 - EPS_DEMO / (4 * RING_WIDTH**2))),
    "mixture": 2 * kl_variance_ratio(1 / (1 - EPS_DEMO / (4 * MIXTURE_STD**2))),
}
print(
    f"ULA's stationary KL to p at ε = {EPS_DEMO} (Gaussian formula):",
    {k: round(v, 4) for k, v in ula_bias_kl.items()},
)
# MALA is exact: started at p it stays at p, and on the ring (no barrier) it reaches p from noise.
# ULA's bias on the ring is below what the histogram resolves: the same checks pass for it there.
# Each histogram KL exceeds that of the same number of exact samples only by noise.
for name, method in [
    ("ring", "MALA"),
    ("ring", "MALA from p"),
    ("mixture", "MALA from p"),
    ("ring", "ULA"),
    ("ring", "ULA from p"),
]:
    excess = table[(name, method)]["kl"] - table[(name, "exact")]["kl"]
    assert excess < 0.15, (name, method, table[(name, method)], table[(name, "exact")])
    if method.startswith("MALA"):
        assert table[(name, method)]["accept"] > 0.8, (name, method, table[(name, method)])
# a two-sample test at the 1 % level: fails in 1 % of runs even for a perfect sampler
for method in ["MALA", "ULA"]:
    assert table[("ring", method)]["p"] > 0.01, (
        f"{method} samples of the ring should pass the two-sample test"
    )
# Started at p, MALA keeps every mode's weight: each share within 4 binomial standard errors of π_k.
z = (shares["MALA from p"] - MIXTURE_WEIGHTS) / np.sqrt(MIXTURE_WEIGHTS * (1 - MIXTURE_WEIGHTS) / N_CHAINS)
assert np.abs(z).max() < 4, z
# From the uniform start, MALA's final shares are far closer to the basins of the start than to the weights.
tv_basins = total_variation(shares["MALA"], shares["basins of the start"])
tv_weights = total_variation(shares["MALA"], MIXTURE_WEIGHTS)
assert tv_basins < 0.5 * tv_weights, (tv_basins, tv_weights)
results.record("ring_hist_kl_mala", table[("ring", "MALA")]["kl"], unit="nats", step_size=EPS_DEMO)
results.record("ring_hist_kl_exact_floor", table[("ring", "exact")]["kl"], unit="nats")
results.record(
    "mixture_mode_shares_mala_uniform_start",
    shares["MALA"].tolist(),
    true_weights=MIXTURE_WEIGHTS.tolist(),
    basins=shares["basins of the start"].tolist(),
    hopped=hopped["MALA"],
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The bias of unadjusted Langevin grows with the step size
#
# Now the step size varies. Across the ring the energy is a parabola of curvature
# $\kappa = 1/w^2$, so by the Gaussian formula above ULA's ring should be widened by a factor
# $1/\sqrt{1-\varepsilon/(4w^2)}$, blowing up at $\varepsilon = 4w^2 = 0.36$. We measure the
# radial width $\operatorname{std}(|x|)$ of the chains' final states and compare it with that
# prediction and with exact samples. MALA should stay exact at every $\varepsilon$ — at the
# cost of a falling acceptance rate (and, eventually, chains that stop moving).

# %%
STEP_SIZES = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]  # ε for the bias study
N_EXACT_WIDTH = 100_000  # exact samples for the reference width


def radial_width(x) -> float:
    return float(np.linalg.norm(np.asarray(x), axis=1).std())


width_exact = radial_width(ring.sample(N_EXACT_WIDTH, seed=SEED + 4))
bias = {"ULA": [], "MALA": [], "MALA acceptance": []}
for eps in tqdm(STEP_SIZES, desc="step sizes"):
    x0 = uniform_start(N_CHAINS)
    ula = samplers.langevin(ring.energy, x0, n_steps=N_STEPS_2D, step_size=eps, generator=gen)
    mala = samplers.langevin(
        ring.energy, x0, n_steps=N_STEPS_2D, step_size=eps, metropolis=True, generator=gen
    )
    bias["ULA"].append(radial_width(ula.samples))
    bias["MALA"].append(radial_width(mala.samples))
    bias["MALA acceptance"].append(mala.acceptance_rate)
theory = width_exact / np.sqrt(1 - np.array(STEP_SIZES) / (4 * ring.width**2))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
ax1.plot(STEP_SIZES, bias["ULA"], "o-", label="unadjusted Langevin")
ax1.plot(STEP_SIZES, theory, "k:", label="ULA, Gaussian theory")
ax1.plot(STEP_SIZES, bias["MALA"], "s-", label="MALA")
ax1.axhline(width_exact, color="grey", ls="--", label="exact")
ax1.set(xscale="log", xlabel="step size ε", ylabel="ring width std(|x|)", title="bias vs step size")
ax1.legend()
ax2.plot(STEP_SIZES, bias["MALA acceptance"], "s-", color="C1")
ax2.set(xscale="log", xlabel="step size ε", ylabel="MALA acceptance rate", ylim=(0, 1.05))
plt.tight_layout()
plt.show()
for eps, u, t, m, a in zip(
    STEP_SIZES, bias["ULA"], theory, bias["MALA"], bias["MALA acceptance"], strict=True
):
    print(
        f"ε = {eps:5.3f}: width ULA {u:.3f} (theory {t:.3f}), MALA {m:.3f} (acceptance {a:.2f}); exact {width_exact:.3f}"
    )

# %%
# ULA's ring is visibly too wide at the largest step, as predicted; MALA's is not
assert bias["ULA"][-1] > 1.25 * width_exact, (bias["ULA"], width_exact)
assert abs(bias["ULA"][-1] / theory[-1] - 1) < 0.15, (bias["ULA"][-1], theory[-1])
assert abs(bias["MALA"][-1] / width_exact - 1) < 0.12, (bias["MALA"][-1], width_exact)
assert bias["MALA acceptance"][0] > bias["MALA acceptance"][-1]
results.record("ring_width_exact", width_exact)
results.record(
    "ring_width_ula_largest_step", bias["ULA"][-1], step_size=STEP_SIZES[-1], theory=float(theory[-1])
)
results.record("ring_width_mala_largest_step", bias["MALA"][-1], step_size=STEP_SIZES[-1])

# %% [markdown]
# **What the adjustment buys.** MALA is exact for any $\varepsilon$; ULA trades exactness for
# never rejecting, and, by the scaling results cited above, it does not scale better with dimension.
# Why, then, does almost every EBM paper use *unadjusted* Langevin? Not for its scaling. The sampler
# of EBM practice (section 4) is ULA on a much colder $e^{-E/T}$, and a Metropolis step *at that
# temperature* would not undo it (section 4 shows how many of its steps it accepts). The reasons lie
# elsewhere. (1) The chains are short and start far from equilibrium: an adjustment makes the
# *stationary* law exact, which such chains never reach, and the energy changes at every update
# anyway. (2) The sampler clips the gradient and clamps the states to the pixel range; both change the
# proposal, so the Metropolis–Hastings ratio of section 2 no longer describes it (`lib.samplers`
# refuses to combine them). (3) The energy is *trained* with the unadjusted sampler, and is shaped
# to make that sampler's chains look like data. Keep that in mind: the trained $E_\theta$ is only
# meaningful together with its sampler.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Learning a 2-D density
#
# The target is now a mixture of four Gaussians at $(\pm1.5, \pm1.5)$ with standard deviation
# 0.5 and equal weights — but we forget its energy and keep only 20 000 samples. The model is an MLP
# $E_\theta:\mathbb{R}^2\to\mathbb{R}$ with SiLU (Swish) activations, trained by the
# contrastive loss of section 1, with the negatives $\tilde x$ produced by Langevin chains on the
# *current* energy:
#
# $$\mathcal{L}(\theta) = \frac1B\sum_i E_\theta(x_i) - \frac1B\sum_i E_\theta(\tilde x_i)
#   + \alpha\,\frac1B\sum_i \big(E_\theta(x_i)^2 + E_\theta(\tilde x_i)^2\big).$$
#
# The small L2 term $\alpha$ pins the arbitrary additive constant of the energy (the contrastive
# loss does not see it).
#
# **The replay buffer** {cite:p}`du2019`. Where do the chains that produce $\tilde x$ start?
# Starting every update's chains from noise would need many Langevin steps per update before the
# negatives look like model samples. Instead we keep a **buffer**: a fixed-size store of chain
# states (here 10 000 points, initially uniform noise). At each update we
#
# 1. draw a batch of $B$ states from the buffer, replacing each, with probability 5 %, by fresh
#    uniform noise (a *restart*);
# 2. run $K$ Langevin steps from them on the current energy;
# 3. use the results as the negatives $\tilde x$, and write them back into the slots they came from.
#
# A stored chain is thus continued every time it is drawn: many short runs of $K$ steps add up to
# long *persistent* chains — the idea of persistent contrastive divergence for the RBM
# {cite:p}`tieleman2008`, where the Gibbs chains also survive from one update to the next. The
# restarts keep fresh chains entering, so the buffer does not freeze into a few states. The price:
# the states have run under the *earlier* energies of training, not only the current one.
# `lib.samplers.ReplayBuffer` implements steps 1 and 3.
#
# Because the model lives in 2-D, we can normalise $e^{-E_\theta}$ *numerically* on a grid and
# compare it with the truth: $\mathrm{KL}(p\,\|\,p_\theta) = \sum_{\rm cells} p\log(p/p_\theta)$.
# The reference is the **same network before training**. We also measure how the learned density
# shares its mass between the four modes: the mass within $2\times0.5 = 1$ of each centre, which is
# the same for the four modes under the true density.

# %% slideshow={"slide_type": "subslide"}
SQUARE_MEANS = [[-1.5, -1.5], [1.5, -1.5], [-1.5, 1.5], [1.5, 1.5]]  # the four modes
SQUARE_STD = 0.5
N_DATA_2D = 20_000  # training samples
HIDDEN_2D = 64  # width of the two hidden layers
BATCH_2D = 256  # data points and negatives per update
LR_2D = 2e-3  # Adam, β₁ = 0 (see section 4)
ALPHA_2D = 1e-3  # L2 energy penalty
K_2D, EPS_2D = 20, 0.02  # Langevin steps per update and their ε (exact pairing)
BUFFER_2D = 10_000  # replay-buffer states
REINIT_2D = 0.05  # restart probability
BUFFER_2D_HALF_WIDTH = 4.5  # restarts are uniform on [-4.5, 4.5]², a little wider than the grid
KL_EVERY = 50  # updates between grid KLs in the training curve
MODE_RADIUS = 2 * SQUARE_STD  # a mode's mass: the density within this distance of its centre

square = toy2d.GaussianMixture(SQUARE_MEANS, SQUARE_STD)
x_2d = torch.tensor(square.sample(N_DATA_2D, seed=SEED), dtype=torch.float32)  # (20000, 2)


def build_2d() -> dict:
    """The untrained energy MLP and its replay buffer (initially uniform noise)."""
    net = nn.Sequential(
        nn.Linear(2, HIDDEN_2D),
        nn.SiLU(),
        nn.Linear(HIDDEN_2D, HIDDEN_2D),
        nn.SiLU(),
        nn.Linear(HIDDEN_2D, 1),
    )
    buffer = samplers.ReplayBuffer(
        BUFFER_2D,
        (2,),
        reinit_prob=REINIT_2D,
        init=lambda n: (2 * torch.rand(n, 2) - 1) * BUFFER_2D_HALF_WIDTH,
    )
    return {"energy": net, "buffer": buffer}


def energy_of(net: nn.Module):
    """The energy function (B, 2) -> (B,) of an MLP with one output."""
    return lambda x: net(x).squeeze(-1)


centres, p_true = toy2d.grid_density(square.energy, EXTENT, N_GRID)
grid_x, grid_y = np.meshgrid(centres, centres)  # (N_GRID, N_GRID), indexed [iy, ix] like p_true


def mode_masses(p: np.ndarray) -> np.ndarray:
    """The mass of the grid density p within MODE_RADIUS of each of the four centres, (4,)."""
    return np.array(
        [p[(grid_x - mx) ** 2 + (grid_y - my) ** 2 < MODE_RADIUS**2].sum() for mx, my in SQUARE_MEANS]
    )


# The network before training: cached_torch below seeds every generator with SEED before it calls
# build_2d, so seeding here too draws the same initial weights.
config.seed_everything(SEED)
_, p_init = toy2d.grid_density(energy_of(build_2d()["energy"]), EXTENT, N_GRID)
kl_init = divergences.kl_divergence(p_true, p_init)
print(f"before training: KL(p || p_θ) = {kl_init:.3f} nats")

# %% [markdown]
# The training loop: a batch of data, a batch of negatives continued from the buffer, one Adam step.


# %% slideshow={"slide_type": "subslide"}
def train_2d(models: dict) -> dict[str, list[float]]:
    """ITERS_2D updates of the contrastive loss; returns the grid KL every KL_EVERY updates."""
    E, buffer = energy_of(models["energy"]), models["buffer"]
    opt = torch.optim.Adam(models["energy"].parameters(), lr=LR_2D, betas=(0.0, 0.999))
    # constant learning rate for the first half, then linear decay towards 0
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, 2 * (1 - t / ITERS_2D)))
    kl_history = {"update": [0], "KL(p || p_θ)": [kl_init]}
    for step in tqdm(config.training(range(1, ITERS_2D + 1)), desc="2-D EBM"):
        x_pos = x_2d[torch.randint(len(x_2d), (BATCH_2D,))]  # (256, 2)
        x_neg, idx = buffer.sample(BATCH_2D)  # 95 % continued chains, 5 % fresh noise
        x_neg = samplers.langevin(E, x_neg, n_steps=K_2D, step_size=EPS_2D).samples
        buffer.update(idx, x_neg)
        e_pos, e_neg = E(x_pos), E(x_neg)
        loss = e_pos.mean() - e_neg.mean() + ALPHA_2D * (e_pos**2 + e_neg**2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % KL_EVERY == 0:
            kl_history["update"].append(step)
            kl_history["KL(p || p_θ)"].append(
                divergences.kl_divergence(p_true, toy2d.grid_density(E, EXTENT, N_GRID)[1])
            )
    return kl_history | {"updates": [step]}


models_2d, kl_history = cache.cached_torch("03_ebm_2d", build=build_2d, train=train_2d)
E2 = energy_of(models_2d["energy"])
buffer_2d = models_2d["buffer"]
updates_2d = kl_history["updates"][0]

# %% slideshow={"slide_type": "subslide"}
_, p_model = toy2d.grid_density(E2, EXTENT, N_GRID)
kl_learned = divergences.kl_divergence(p_true, p_model)
kl_uniform = divergences.kl_divergence(p_true, np.full_like(p_true, 1 / p_true.size))
mass_true, mass_init, mass_learned = mode_masses(p_true), mode_masses(p_init), mode_masses(p_model)
d2_buffer = ((buffer_2d.data[:, None, :].numpy() - np.array(SQUARE_MEANS)[None]) ** 2).sum(-1)  # (N, 4)
buffer_shares = np.bincount(d2_buffer.argmin(1), minlength=4) / len(d2_buffer)  # nearest centre

fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
ext = [-EXTENT, EXTENT, -EXTENT, EXTENT]
axes[0].imshow(p_true, origin="lower", extent=ext)
axes[0].set_title("true density")
axes[1].imshow(p_model, origin="lower", extent=ext)
axes[1].set_title(f"learned exp(−E), KL = {kl_learned:.3f}")
axes[2].scatter(*buffer_2d.data[:2000].numpy().T, s=2)
axes[2].set(xlim=(-EXTENT, EXTENT), ylim=(-EXTENT, EXTENT), aspect="equal", title="replay-buffer samples")
axes[3].plot(kl_history["update"], kl_history["KL(p || p_θ)"])
axes[3].axvline(ITERS_2D / 2, color="grey", ls=":", label="learning rate starts to decay")
axes[3].set(xlabel="update", ylabel="KL(p ‖ p_θ) on the grid", yscale="log", title="training")
axes[3].legend()
plt.tight_layout()
plt.show()
print(f"KL(p || p_θ) after {updates_2d} updates: {kl_learned:.3f} nats")
print(f"  the same network before training: {kl_init:.3f} nats;  a uniform density: {kl_uniform:.3f} nats")
print("mass within 1 of each centre:")
print("  true            ", mass_true.round(3))
print("  before training ", mass_init.round(3))
print("  learned         ", mass_learned.round(3))
print("share of the buffer's states nearest to each centre:", buffer_shares.round(3))

# %% tags=["learning-check"]
# The grid KL of the trained energy against that of the same network before training.
checks.below(
    "grid_kl_over_untrained",
    kl_learned / kl_init,
    config.scaled(smoke=0.15, lecture=0.1, full=0.1),
    "grid KL(p ‖ p_θ) of the trained energy over that of the same network before training",
)

# %% tags=["learning-check"]
# Every mode's learned mass against its true mass (the four true masses are equal).
checks.above(
    "smallest_mode_mass_ratio",
    (mass_learned / mass_true).min(),
    config.scaled(smoke=0.5, lecture=0.6, full=0.7),
    "smallest ratio of a mode's learned mass (within 1 of its centre) to its true mass",
)

# %%
results.record(
    "square_mixture_learned_grid_kl",
    kl_learned,
    unit="nats",
    key="2-D EBM: grid KL(p ‖ p_θ) to the exact 4-mode density",
    before_training=kl_init,
    iterations=updates_2d,
)
results.record("square_mixture_mode_masses", mass_learned.tolist(), true_value=mass_true.tolist())

# %% [markdown] slideshow={"slide_type": "subslide"}
# Within the checked bounds, the learned density has its four modes in the right places and gives
# each of them a good part of its true mass. The *weights* are the delicate part, and section 2
# tells us why to expect it: a Langevin chain in one mode rarely crosses to another, so the
# negatives' share of each mode is set by where the buffer's chains (and the restarts from noise)
# happen to be, not by the model's probabilities; compare the buffer's shares printed above with
# the learned masses. How strongly the contrastive gradient corrects the weights is a question
# this run does not answer: exercise 5 probes it. The learning rate is constant for the first
# half of training and then decays to zero (the dotted line); the KL curve shows how the fit moved
# in each phase in your run. In two dimensions we can
# *see* such defects; on images we will need a metric.
#
# ## 4. An EBM on MNIST
#
# ### The recipe
#
# {cite:t}`du2019` made neural EBMs work on images with a handful of tricks. We follow them, with
# the MNIST settings of the re-implementation in {cite:t}`lippe2022`; where the two differ, we
# say whose choice we take. The numbers of Du & Mordatch are those of the CIFAR-10 training commands
# in the README of their released code, `openai/ebm_code_release`, for pixels in $[0, 1]$ (it gives
# no MNIST command, and its defaults differ: a gradient step of 1, 20 steps, batches of 256); Lippe's,
# like ours, are for MNIST with pixels in $[-1, 1]$.
#
# - **Short-run Langevin with decoupled step and noise.**
#   $x \leftarrow x - \lambda\nabla_x E(x) + \sigma\xi$ with gradient step $\lambda = 10$ and noise
#   standard deviation $\sigma = 0.005$ (both sources; the exact pairing of section 2 would be
#   $\sigma = \sqrt{2\lambda} \approx 4.5$!), 60 steps per update, the states clipped to the
#   pixel range after every step, and every component of $\nabla_x E$ clipped (to $\pm 0.01$ in
#   Du & Mordatch's CIFAR-10 commands, $\pm 0.03$ in Lippe's, which we use). The exact pairing for
#   $e^{-E/T}$ is a gradient step $\lambda = \varepsilon/(2T)$ with noise $\sigma^2 = \varepsilon$; matching
#   the two shows that, ignoring the clipping, this sampler is ULA with step $\varepsilon = \sigma^2$ on
#   $e^{-E/T}$ at $T = \sigma^2/(2\lambda)$ (printed below): the distribution whose stationary law it
#   would approach, were its chains long enough. It is noisy gradient descent on the energy, not a
#   sampler of $e^{-E}$, and it works *because the model is trained with it*.
# - **The replay buffer** of section 3: 95 % of each batch of negatives continues a stored chain,
#   5 % restarts from uniform noise (both sources; 10 000 states in Du & Mordatch's code, 8192
#   in Lippe's).
# - **Spectral normalisation** of every convolutional and linear layer (Du & Mordatch's code
#   normalises all but the last layer; Lippe's tutorial does without): each weight matrix is
#   divided by an estimate of its largest singular value (one power iteration per training forward
#   pass, `torch.nn.utils.parametrizations.spectral_norm`). For a linear layer this makes its
#   Lipschitz constant $\approx 1$: one power iteration per pass gives an estimate of the largest
#   singular value, not a bound. For a convolution the matrix normalised is the kernel reshaped to
#   (output channels) × (input channels × kernel height × kernel width), whose largest singular
#   value is not that of the convolution as an operator on images, so there the constant is only
#   roughly controlled; and Swish (below) is itself about 1.1-Lipschitz, not 1. Either way it limits
#   how fast the energy can change with its input, which keeps the landscape smooth enough for the
#   Langevin steps to follow.
# - **An L2 penalty** $\alpha(E(x)^2 + E(\tilde x)^2)$ on the energies ($\alpha = 1$ in Du &
#   Mordatch's code; we take Lippe's $\alpha = 0.1$): it keeps energies near zero; without it the
#   energies of data and samples can run off together and the Langevin gradients explode.
# - **Adam with $\beta_1 = 0$** (both sources: no momentum, since the loss landscape changes as
#   the sampler changes), learning rate $3\times10^{-4}$ (Du & Mordatch) or $10^{-4}$ (Lippe), and
#   **clipping of the parameter gradient** (Lippe clips its norm at 0.1; we clip it at 1; Du &
#   Mordatch's optimiser clips each component relative to its running scale).
# - **Swish activations** $s(x) = x/(1 + e^{-x})$ (Lippe; Du & Mordatch's code uses leaky ReLU,
#   with Swish as an option): smooth, so $\nabla_x E$ is continuous (ReLU energies give
#   piecewise-constant input gradients, poor for Langevin).
# - **A little Gaussian noise on the real images** (standard deviation 0.005, Lippe), so the
#   energy cannot be arbitrarily sharp on the exact training pixels.
#
# **Signs that a run is diverging**, to watch in the curves below: the energies of real and
# sampled images drifting far from 0 together (magnitudes of tens or hundreds), the gap
# $E(\tilde x) - E(x)$ growing without bound instead of oscillating around a small value
# (the sampler has stopped keeping up with the energy), samples that saturate to all-black or
# all-white or freeze into one pattern, and NaNs. The usual cures are a larger $\alpha$, a
# smaller learning rate, more Langevin steps, or a larger step $\lambda$.
#
# **Our budget.** Both sources run 60 steps per update with batches of 128 (Du & Mordatch in their
# CIFAR-10 commands), for tens of thousands of updates on a GPU. A lecture run should take minutes,
# so at the `lecture` scale we use fewer steps (`K_TRAIN`), a smaller batch, a smaller buffer (so that each buffer chain gets more
# updates) and a larger learning rate ($10^{-3}$). The `full` scale moves back towards the
# published settings.

# %% slideshow={"slide_type": "subslide"}
CHANNELS = 16  # width of the first convolution (then 2×, 4×, 4×)
# the sampler: gradient step λ, noise σ, pixel range, clip of each component of ∇E
LANGEVIN = dict(grad_step=10.0, noise_std=0.005, clamp=(-1.0, 1.0), grad_clip=0.03)
ALPHA = 0.1  # L2 energy penalty
DATA_NOISE = 0.005  # standard deviation of the noise added to real digits
REINIT_PROB = 0.05  # restart probability of the replay buffer
ADAM_BETAS = (0.0, 0.999)  # no momentum
GRAD_NORM_CLIP = 1.0  # clip the norm of the parameter gradient
N_PROBE = 256  # held-out digits and noise images that track the energy gap
N_SHOW = 16  # negatives shown per snapshot
SNAPSHOT_AT = [ITERS_MNIST // 4, ITERS_MNIST // 2, ITERS_MNIST]  # updates after which negatives are shown

temperature = LANGEVIN["noise_std"] ** 2 / (2 * LANGEVIN["grad_step"])
print(f"temperature of the sampler: T = σ²/(2λ) = {temperature:.2g}")

train_images, _ = data.load_mnist("train")
validation_images, _ = data.load_mnist("validation")
test_images, test_labels = data.load_mnist("test")
x_train = torch.from_numpy(data.to_float(train_images[:N_TRAIN], "symmetric"))[:, None]  # (N, 1, 28, 28)
x_test = torch.from_numpy(data.to_float(test_images, "symmetric"))[:, None]  # (M, 1, 28, 28)
print(
    f"training digits used: {len(x_train)} of the {len(train_images)} in the training split; "
    f"test digits: {len(x_test)}; validation digits: {len(validation_images)}; "
    f"pixels in [{x_train.min():.0f}, {x_train.max():.0f}]"
)
results.describe(
    dataset="MNIST training split (its first n_train digits) and test split, pixels in [-1, 1]; "
    "2-D Gaussian mixtures and ring",
    n_train=len(x_train),
    n_test=len(x_test),
    part2_iterations=ITERS_2D,
    part3_iterations=ITERS_MNIST,
    langevin_steps_per_update=K_TRAIN,
    spectral_norm=True,
)


# %% [markdown]
# The energy network: four strided convolutions and two linear layers, each spectrally normalised.


# %% slideshow={"slide_type": "subslide"}
class Swish(nn.Module):
    """s(x) = x·sigmoid(x): smooth, so Langevin sees a continuous gradient."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class ConvEnergy(nn.Module):
    """E(x): (B, 1, 28, 28) in [-1, 1] -> (B,) energies (low = digit-like)."""

    def __init__(self, c: int = CHANNELS) -> None:
        super().__init__()
        self.net = nn.Sequential(
            spectral_norm(nn.Conv2d(1, c, 5, stride=2, padding=4)), Swish(),  # (B, c, 16, 16)
            spectral_norm(nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)), Swish(),  # (B, 2c, 8, 8)
            spectral_norm(nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1)), Swish(),  # (B, 4c, 4, 4)
            spectral_norm(nn.Conv2d(4 * c, 4 * c, 3, stride=2, padding=1)), Swish(),  # (B, 4c, 2, 2)
            nn.Flatten(),  # (B, 16c)
            spectral_norm(nn.Linear(16 * c, 4 * c)), Swish(),
            spectral_norm(nn.Linear(4 * c, 1)),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)  # (B,)


def build_ebm() -> dict:
    """The untrained energy network, its replay buffer and room for the snapshots of negatives."""
    return {
        "energy": ConvEnergy().to(DEVICE),
        "buffer": samplers.ReplayBuffer(BUFFER_SIZE, (1, 28, 28), reinit_prob=REINIT_PROB),
        "snapshots": torch.zeros(len(SNAPSHOT_AT), N_SHOW, 1, 28, 28),
    }


# The network before training: cached_torch below seeds every generator with SEED before it calls
# build_ebm, so seeding here too draws the same initial weights.
config.seed_everything(SEED)
energy_init = build_ebm()["energy"].eval()  # our reference
print(f"ConvEnergy: {sum(p.numel() for p in energy_init.parameters()):,} parameters")


def sample_langevin(model: nn.Module, x: torch.Tensor, n_steps: int, **kw) -> samplers.MCMCResult:
    """n_steps of the sampler LANGEVIN (its settings updated by kw) on the energy network, held fixed."""
    with samplers.frozen(model):
        return samplers.langevin(model, x.to(DEVICE), n_steps=n_steps, **(LANGEVIN | kw))


# A fixed probe: held-out digits and uniform noise, to see the energy landscape take shape.
probe_real = x_test[:N_PROBE].to(DEVICE)
probe_noise = (2 * torch.rand(N_PROBE, 1, 28, 28, generator=torch.Generator().manual_seed(SEED + 1)) - 1).to(
    DEVICE
)


def energy_gap(model: nn.Module) -> float:
    """Mean energy of noise minus mean energy of held-out digits on the probe."""
    with torch.no_grad(), samplers.frozen(model):
        return (model(probe_noise).mean() - model(probe_real).mean()).item()


gap_before = energy_gap(energy_init)
print(f"before training: E(noise) − E(test digits) = {gap_before:+.4f}")

# %% [markdown]
# The training loop: one batch of real digits, one batch of negatives continued from the buffer
# by `K_TRAIN` Langevin steps, the contrastive loss with its L2 term, a clipped Adam step.


# %% slideshow={"slide_type": "subslide"}
def train_ebm(models: dict) -> dict[str, list[float]]:
    """ITERS_MNIST updates; the history holds the loss and both mean energies of every update."""
    energy, buffer, snapshots = models["energy"], models["buffer"], models["snapshots"]
    opt = torch.optim.Adam(energy.parameters(), lr=LR_MNIST, betas=ADAM_BETAS)
    history = {"loss": [], "E(real)": [], "E(sample)": []}
    t0 = time.time()
    for step in tqdm(config.training(range(ITERS_MNIST)), desc="MNIST EBM"):
        x_pos = x_train[torch.randint(len(x_train), (BATCH,))].to(DEVICE)  # (B, 1, 28, 28)
        x_pos = (x_pos + DATA_NOISE * torch.randn_like(x_pos)).clamp(-1, 1)
        x_neg, idx = buffer.sample(BATCH)  # 95 % continued chains, 5 % fresh noise
        x_neg = sample_langevin(energy, x_neg, K_TRAIN).samples  # (B, 1, 28, 28)
        buffer.update(idx, x_neg)

        e_pos, e_neg = energy(x_pos), energy(x_neg)  # (B,), (B,)
        loss = e_pos.mean() - e_neg.mean() + ALPHA * (e_pos**2 + e_neg**2).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(energy.parameters(), max_norm=GRAD_NORM_CLIP)
        opt.step()

        history["loss"].append(loss.item())
        history["E(real)"].append(e_pos.mean().item())
        history["E(sample)"].append(e_neg.mean().item())
        if step == 0:
            history["gap_first_update"] = [energy_gap(energy)]
        if step + 1 in SNAPSHOT_AT:
            snapshots[SNAPSHOT_AT.index(step + 1)] = x_neg[:N_SHOW].cpu()
    history["train_seconds"] = [time.time() - t0]
    return history


models_ebm, history = cache.cached_torch("03_ebm_mnist", build=build_ebm, train=train_ebm)
energy, buffer, snapshots = models_ebm["energy"], models_ebm["buffer"], models_ebm["snapshots"]
gap_first = history.pop("gap_first_update")[0]
train_seconds = history.pop("train_seconds")[0]
updates_mnist = len(history["loss"])
print(f"{updates_mnist} updates in {train_seconds:.0f} s")

# %% slideshow={"slide_type": "subslide"}
plotting.plot_history(history, xlabel="update")
plt.show()
fig, axes = plt.subplots(1, len(SNAPSHOT_AT), figsize=(4 * len(SNAPSHOT_AT), 2.2))
for ax, at, imgs in zip(axes, SNAPSHOT_AT, snapshots, strict=True):
    plotting.image_grid(imgs, ncols=8, ax=ax, vrange=(-1, 1), title=f"negatives after {at} updates")
plt.show()

# %%
energy.eval()
gap_after = energy_gap(energy)
print("E(noise) − E(test digits) on the probe:")
print(
    f"  before training {gap_before:+.4f}, after the first update {gap_first:+.4f}, after {updates_mnist} updates {gap_after:+.3f}"
)
assert all(np.isfinite(v).all() for v in history.values()), "non-finite loss or energies: the run diverged"
results.record(
    "energy_gap_noise_minus_test", gap_after, unit="energy", before=gap_before, after_first_update=gap_first
)

# %% [markdown]
# Telling digits from uniform noise is the first thing the energy is asked to learn: the first
# negatives are (nearly) uniform noise, so from the first update on the loss pushes the energy of
# noise up and that of digits down. The measurements below ask more of the model.
#
# ### Generation from pure noise
#
# The buffer holds the training chains, which have accumulated many Langevin steps under the
# energies of the whole training run. A fairer test of the *final energy* is to start fresh
# chains from uniform noise and run the same sampler: first for `K_TRAIN` steps (what one training
# update gives a chain), then on to `K_LONG` steps. We record every few steps of a few chains to
# animate them: watch how the noise is carved into strokes, and whether the long chains stay on
# digits.

# %% slideshow={"slide_type": "subslide"}
N_ANIMATE = 16  # chains in the animation
N_FRAMES = 30  # frames in the animation
FRAME_EVERY = max(1, K_LONG // N_FRAMES)  # Langevin steps between frames

x0_fresh = 2 * torch.rand(N_EVAL, 1, 28, 28, generator=torch.Generator().manual_seed(SEED + 2)) - 1


def fresh_chains() -> dict[str, torch.Tensor]:
    """N_EVAL chains from x0_fresh: after K_TRAIN steps, continued to K_LONG; and the recorded
    states of N_ANIMATE of them."""
    short = sample_langevin(energy, x0_fresh, K_TRAIN).samples.cpu()  # (N_EVAL, 1, 28, 28)
    long = sample_langevin(energy, short, K_LONG - K_TRAIN, progress=True).samples.cpu()
    anim = sample_langevin(energy, x0_fresh[:N_ANIMATE], K_LONG, return_chain=True, chain_every=FRAME_EVERY)
    return {"short": short, "long": long, "chain": anim.chain.cpu()}


chains = cache.cached_arrays("03_fresh_chains", compute=fresh_chains)
fresh_short, fresh_long = torch.from_numpy(chains["short"]), torch.from_numpy(chains["long"])

fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 3.6))
plotting.image_grid(
    fresh_short[:32], ncols=16, ax=ax1, vrange=(-1, 1), title=f"{K_TRAIN} Langevin steps from noise"
)
plotting.image_grid(
    fresh_long[:32], ncols=16, ax=ax2, vrange=(-1, 1), title=f"{K_LONG} Langevin steps from noise"
)
plt.show()
with torch.no_grad():
    e_start, e_end = (
        energy(x0_fresh[:N_PROBE].to(DEVICE)).mean().item(),
        energy(fresh_long[:N_PROBE].to(DEVICE)).mean().item(),
    )
print(f"mean energy of the chains: start {e_start:+.3f} -> after {K_LONG} steps {e_end:+.3f}")

# %% slideshow={"slide_type": "subslide"}
frame_steps = sorted({*range(0, K_LONG + 1, FRAME_EVERY), K_LONG})  # the Langevin step of each frame
plotting.animate_chain(
    torch.from_numpy(chains["chain"]), ncols=8, interval=150, steps=frame_steps, vrange=(-1, 1)
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### One more use of the energy: an out-of-distribution score
#
# For the exact model $p_\theta \propto e^{-E_\theta}$, differences of energies would be
# log-density ratios. Our trained $E_\theta$ is not that: it was trained with a sampler far colder
# than $e^{-E_\theta}$, with clipped gradients, clamped pixels, short chains that never reach
# equilibrium, and an L2 penalty on the energies, and {cite:t}`nijkamp2019` show that an energy
# trained with such short-run chains need not be a valid density model at all. So we use the
# energy as what it is: a **heuristic score**, low for inputs that look like the training digits.
# We score held-out test digits, uniform noise, and test digits mirrored top to bottom ("flipped":
# the same ink statistics, mostly the wrong shapes), and summarise each separation by the AUROC
# (the probability that a random test digit has a lower energy than a random outlier; 0.5 =
# chance). Some digits (0, 1, 3, 8) look much the same flipped, so even a perfect model of digits
# could not flag every flipped digit: we also print the AUROC for the flipped digits other than
# those four. The same scores from the network *before training* show what a random energy already does.

# %% slideshow={"slide_type": "subslide"}
with torch.no_grad():
    x_noise = 2 * torch.rand(len(x_test), 1, 28, 28, generator=torch.Generator().manual_seed(SEED + 5)) - 1
    x_flip = torch.flip(x_test, dims=[2])  # mirrored top to bottom
    e = {
        net_name: {
            name: net(x.to(DEVICE)).cpu().numpy()
            for name, x in [("test digits", x_test), ("flipped digits", x_flip), ("uniform noise", x_noise)]
        }
        for net_name, net in [("trained", energy), ("before training", energy_init)]
    }  # (M,) energies per set
asymmetric = ~np.isin(test_labels, [0, 1, 3, 8])  # digits that change when flipped


def auroc(e_in: np.ndarray, e_out: np.ndarray) -> float:
    return roc_auc_score(np.r_[np.zeros(len(e_in)), np.ones(len(e_out))], np.r_[e_in, e_out])


auc = {
    net_name: {
        "uniform noise": auroc(sets["test digits"], sets["uniform noise"]),
        "flipped digits": auroc(sets["test digits"], sets["flipped digits"]),
        "flipped, not 0/1/3/8": auroc(sets["test digits"], sets["flipped digits"][asymmetric]),
    }
    for net_name, sets in e.items()
}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.2))
for ax, names in [
    (ax1, ["test digits", "flipped digits", "uniform noise"]),
    (ax2, ["test digits", "flipped digits"]),
]:
    vals = [e["trained"][n] for n in names]
    bins = np.linspace(min(v.min() for v in vals), max(v.max() for v in vals), 60)
    for v, lab in zip(vals, names, strict=True):
        ax.hist(v, bins=bins, alpha=0.6, label=lab)
    ax.set(xlabel="energy E(x)", ylabel="count")
    ax.legend()
ax1.set_title(f"all inputs (AUROC test vs noise {auc['trained']['uniform noise']:.2f})")
ax2.set_title(f"zoom: test vs flipped (AUROC {auc['trained']['flipped digits']:.2f})")
plt.tight_layout()
plt.show()
print(f"{'AUROC, test digits vs':24s}" + "".join(f"{out:>22s}" for out in auc["trained"]))
for net_name, a in auc.items():
    print(f"{net_name:24s}" + "".join(f"{v:22.3f}" for v in a.values()))

# %%
results.record(
    "ood_auroc_noise",
    auc["trained"]["uniform noise"],
    before_training=auc["before training"]["uniform noise"],
)
results.record(
    "ood_auroc_flipped",
    auc["trained"]["flipped digits"],
    before_training=auc["before training"]["flipped digits"],
    not_0_1_3_8=auc["trained"]["flipped, not 0/1/3/8"],
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Chance (0.5) is not the right yardstick for these AUROCs: compare the two rows of the table.
# A random network already responds very differently to uniform noise and to digits, but in an
# arbitrary direction (an AUROC far from 0.5 on either side); training is what makes noise
# *expensive*. Flipped digits are the harder test: they have the same strokes and ink statistics,
# so separating them needs an energy that responds to *shapes*. Likelihood-based OOD detection is
# known to fail in general: deep generative models can assign *higher* likelihood to some
# outliers than to their data {cite:p}`nalisnick2019`. Here too the untrained network's random
# features respond differently to upright and flipped digits, in either direction. No check is
# made on these AUROCs: the untrained network's own AUROCs fall anywhere, and a short training
# does not reliably beat them on the flipped digits. In your run, compare the two rows.
#
# ### Measuring the samples
#
# Pictures can flatter. We measure samples the same way in every lecture (`lib.metrics`, see
# `00_course_tour`): a small CNN classifier trained once on MNIST provides a feature space, and the
# **Fréchet classifier distance** (FCD) between the Gaussians fitted to the features of two sets,
#
# $$\mathrm{FCD} = \|\mu_a - \mu_b\|^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b - 2(\Sigma_a\Sigma_b)^{1/2}\big),$$
#
# is our FID — with our classifier, **not** comparable with Inception FIDs in papers.
# `metrics.score_samples` scores `N_EVAL` samples against a fixed set of as many training digits,
# and gives two reference points that make the number readable: real digits from the validation
# split, which neither the classifier nor any model trained on (`unseen_real`; a model that copies
# its training images can score *below* it), and uniform noise (`noise`; degenerate images such
# as an all-grey set can score above it). The classifier's predicted labels tell us about **mode
# coverage**: a sampler stuck on a few digits shows up immediately (`digits_covered` counts the
# digits that receive at least 2 % of the samples; `label_jsd` is the Jensen–Shannon divergence of
# the predicted labels from the training labels).
#
# The yardstick for our checks is the model of **independent grey pixels**: each pixel drawn on its
# own from its distribution of grey levels over the training digits (the value of that pixel in a
# training digit picked at random, independently for every pixel). It is the grey-level cousin of
# the *base rate* of lectures 00–02 and 04–05, independent Bernoulli pixels, which models binarized
# digits. It has the right ink in the right places on average and no strokes: a model that
# has learned shapes should beat it. We score:
#
# 1. **replay buffer**: `N_EVAL` buffer states, as training left them;
# 2. **fresh chains**, `K_TRAIN` steps from uniform noise on the trained energy;
# 3. **fresh chains**, `K_LONG` steps (the same chains, continued);
# 4. the yardstick: `N_EVAL` samples of independent grey pixels.

# %% slideshow={"slide_type": "subslide"}
clf = metrics.load_classifier()
print(f"classifier test accuracy: {clf.test_accuracy:.3f}")
buffer_samples = buffer.data[:N_EVAL]  # (N_EVAL, 1, 28, 28)
# the Langevin steps each scored state has run since its chain last started from noise
buffer_steps = (K_TRAIN * buffer.age[:N_EVAL]).numpy()
pixel_rng = np.random.default_rng(SEED + 7)
pick = pixel_rng.integers(len(x_train), size=(N_EVAL, 28 * 28))  # a training digit for every pixel
independent_pixels = x_train.flatten(1)[pick, np.arange(28 * 28)].reshape(N_EVAL, 1, 28, 28)
sample_sets = {
    "replay buffer": buffer_samples,
    f"fresh chains, {K_TRAIN} steps": fresh_short,
    f"fresh chains, {K_LONG} steps": fresh_long,
    "independent grey pixels": independent_pixels,
}
scores = {name: metrics.score_samples(x, pixel_range="symmetric") for name, x in sample_sets.items()}
s_buffer, s_short, s_long, s_independent = scores.values()

print(f"{'samples':28s} {'FCD':>8s} {'digits ≥ 2 %':>13s} {'label JSD':>10s}")
for name, s in scores.items():
    print(f"{name:28s} {s['fcd']:8.1f} {s['digits_covered']:13d} {s['label_jsd']:10.3f}")
print(f"{'unseen real digits':28s} {s_buffer['unseen_real']:8.1f}   (reference point)")
print(f"{'uniform noise':28s} {s_buffer['noise']:8.1f}   (reference point)")
print(
    f"Langevin steps run by the scored buffer states since their last restart: mean {buffer_steps.mean():.0f}, "
    f"median {np.median(buffer_steps):.0f}, max {buffer_steps.max()}; never drawn in training: "
    f"{(buffer_steps == 0).sum()} (fresh chains: {K_TRAIN} and {K_LONG})"
)

fig, axes = plt.subplots(2, 2, figsize=(13, 5.6), gridspec_kw={"width_ratios": [2, 1]})
for row, (name, x) in zip(
    axes, [("replay buffer", buffer_samples), (f"fresh chains, {K_LONG} steps", fresh_long)], strict=True
):
    plotting.image_grid(x[:48], ncols=16, ax=row[0], vrange=(-1, 1), title=f"EBM samples: {name}")
    row[1].bar(range(10), scores[name]["label_distribution"])
    row[1].axhline(0.1, color="grey", ls="--", label="uniform")
    row[1].set(
        xticks=range(10), xlabel="predicted digit", ylabel="fraction of samples", title="mode coverage"
    )
    row[1].legend()
plt.tight_layout()
plt.show()

# %% tags=["learning-check"]
# The replay buffer's samples against independent grey pixels, scored the same way.
checks.below(
    "fcd_buffer_over_independent_pixels",
    s_buffer["fcd"] / s_independent["fcd"],
    config.scaled(smoke=0.4, lecture=0.25, full=0.2),
    "FCD of the replay buffer's states over the FCD of independent grey pixels",
)

# %% tags=["learning-check"]
# Fresh chains from noise (what the comparison records) against independent grey pixels. A loose
# bound at the lecture scale: there, for some seeds, the long chains from noise drift past the digits
# (the energy is a score for its short-run sampler, not a density; exercises 6 and 7 ask why).
checks.below(
    "fcd_fresh_over_independent_pixels",
    s_long["fcd"] / s_independent["fcd"],
    config.scaled(smoke=0.75, lecture=1.5, full=1.5),
    f"FCD of fresh chains ({K_LONG} Langevin steps from noise) over the FCD of independent grey pixels",
)

# %% tags=["learning-check"]
# The digits the buffer's samples cover, against the ten of the data.
checks.above(
    "buffer_digits_covered",
    s_buffer["digits_covered"],
    config.scaled(smoke=6.5, lecture=7.5, full=8.5),
    "digits receiving at least 2 % of the replay buffer's samples (10 for the data)",
)

# %%
for name, key, s, steps in [
    ("fcd_replay_buffer", "MNIST EBM: FCD of replay-buffer samples", s_buffer, float(buffer_steps.mean())),
    ("fcd_fresh_chains", None, s_short, K_TRAIN),
    ("fcd_fresh_chains_long", "MNIST EBM: FCD of fresh Langevin chains from noise", s_long, K_LONG),
    ("fcd_independent_pixels", None, s_independent, 0),
]:
    results.record(name, s["fcd"], unit="FCD (course classifier)", key=key, langevin_steps=steps, n=s["n"])
    results.record(f"score_{name.removeprefix('fcd_')}", s, unit="score_samples")
results.record("fcd_unseen_real", s_buffer["unseen_real"], unit="FCD (course classifier)", n=s_buffer["n"])
results.record("fcd_noise", s_buffer["noise"], unit="FCD (course classifier)", n=s_buffer["n"])
results.record("classifier_test_accuracy", clf.test_accuracy)
results.record("train_seconds", round(train_seconds, 1), unit="s")

# %% [markdown]
# The EBM's row in the course's comparison of its MNIST models (`build/comparison.md`): what a
# user of the trained energy gets, fresh chains from noise with `K_LONG` Langevin steps; the time
# to draw 100 of them (the median of three runs); and a **memorisation check** (`lib.memorisation`,
# treated in detail in lecture 04). For every sample it measures the pixel distance to the nearest
# training image, and compares the median with the same distance for the validation digits, which no
# model saw: a model that generalises draws samples about as far from its training images as unseen
# digits are (a median ratio near 1); one that copies draws many far closer.

# %%
sampling_times = []
for _ in range(3):
    t0 = time.perf_counter()
    sample_langevin(energy, x0_fresh[:100], K_LONG).samples.cpu()  # .cpu() waits until a GPU has finished
    sampling_times.append(time.perf_counter() - t0)
copies = memorisation.memorisation_check(
    fresh_long, train_images[:N_TRAIN], validation_images, pixel_range_samples="symmetric"
)
print(copies)
print(f"sampling: {np.median(sampling_times):.2f} s per 100 images ({K_LONG} Langevin steps)")
comparison.record_model(
    "EBM (Langevin)",
    score=s_long,
    n_parameters=sum(p.numel() for p in energy.parameters()),
    training_seconds=train_seconds,
    sampling_seconds_per_100=float(np.median(sampling_times)),
    memorisation=copies.summary(),
)

# %% [markdown]
# **Buffer samples versus fresh chains.** The two kinds of samples answer different questions.
# The buffer states are the end points of persistent chains that have run many Langevin steps
# (printed above) under a sequence of energies, and the energy was trained at every update to
# push up exactly on them: their FCD measures the *training process*. Fresh chains measure what
# the *final energy and its sampler* produce from noise with a fixed budget — what a user of the
# model gets, and what the VAE and GAN lectures, which draw every sample afresh, should be
# compared with.


# %%
def compare(a: float, b: float) -> str:
    return f"{a / b:.1f}× the FCD of" if a > b else "a lower FCD than"


display(
    Markdown(
        f"In this run the fresh chains of {K_LONG} steps score FCD {s_long['fcd']:.0f} and those of "
        f"{K_TRAIN} steps {s_short['fcd']:.0f}, against {s_buffer['fcd']:.0f} for the buffer states, whose "
        f"chains ran {buffer_steps.mean():.0f} steps on average since their last restart. Independent grey "
        f"pixels score {s_independent['fcd']:.0f}; the reference points: unseen real digits "
        f"{s_buffer['unseen_real']:.0f}, uniform noise {s_buffer['noise']:.0f}. The fresh chains of {K_LONG} "
        f"steps have {compare(s_long['fcd'], s_buffer['fcd'])} the buffer states; those of {K_TRAIN} steps have "
        f"{compare(s_short['fcd'], s_buffer['fcd'])} the buffer states."
    )
)

# %% [markdown]
# Where the fresh chains score worse than the buffer, a likely reason lies in how the energy was
# trained: it is shaped only where the training chains go, and most of those are long-lived buffer
# states, so nothing asks the energy to guide a chain from noise to a digit within a short budget.
# That is a hypothesis, not something this notebook shows: exercise 7 tests it by removing the
# buffer.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why not MALA here?
#
# Section 2 ended on the question why EBM practice does not correct its sampler with a Metropolis
# step. Here is what MALA does on the trained energy: twenty steps from the final states of the fresh
# chains, for two targets.
#
# - **$e^{-E_\theta}$ at $T = 1$**, step $\varepsilon = 0.1$. Uniform noise fills the pixel cube
#   $[-1, 1]^{784}$, of volume $2^{784} \approx e^{543}$, and its energy is higher than that of digits
#   only by the gap E(noise) − E(test digits) (printed again below). While that gap is small against
#   543, almost all the mass of $e^{-E_\theta}$ sits on noise-like images, and a sampler that is exact
#   for it has no reason to stay near the digits (nor was the network ever trained on images outside
#   $[-1, 1]$). On this scale the energy is nearly flat: the drift $\tfrac{\varepsilon}{2}\nabla E$ is
#   negligible beside the noise $\sqrt\varepsilon\,\xi$, almost every proposal is accepted, and the
#   chain is a pure diffusion whose pixels move by $\sqrt{20\,\varepsilon}$ (root mean square) in twenty
#   steps.
# - **$e^{-E_\theta/T}$ at the sampler's own temperature** $T = \sigma^2/(2\lambda)$, i.e. MALA on the
#   energy $E_\theta/T$, with step $\varepsilon = \sigma^2$: its proposal
#   $x - \tfrac{\varepsilon}{2T}\nabla E_\theta + \sqrt\varepsilon\,\xi = x - \lambda\nabla E_\theta + \sigma\xi$ is
#   exactly the training sampler's step, without its clipping and clamping; and with a ten times smaller
#   step, $\varepsilon = \sigma^2/10$.
#
# We print how many components of $\nabla_x E_\theta$ at the start lie beyond the training sampler's
# clip (which MALA drops), and for each run the acceptance rate, how far the pixels moved (root mean
# square), the mean energy before and after, and the FCD of the result, scored like every sample set
# above (pixels clipped to the pixel range), against that of the fresh chains it started from.

# %% slideshow={"slide_type": "subslide"}
MALA_STEPS = 20  # MALA steps from each fresh chain's final state
SIGMA2 = LANGEVIN["noise_std"] ** 2  # σ² of the training sampler
MALA_RUNS = {  # label: (temperature T of the target exp(−E/T), step size ε, name of the result)
    "T = 1, ε = 0.1": (1.0, 0.1, "mala_t1_eps_0.1"),
    "T = σ²/(2λ), ε = σ²": (temperature, SIGMA2, "mala_sampler_temperature_eps_sigma2"),
    "T = σ²/(2λ), ε = σ²/10": (temperature, SIGMA2 / 10, "mala_sampler_temperature_eps_sigma2_over_10"),
}
x_mala = fresh_long.to(DEVICE)  # (N_EVAL, 1, 28, 28)
with samplers.frozen(energy), torch.enable_grad():
    x_req = x_mala.clone().requires_grad_(True)
    (grad_start,) = torch.autograd.grad(energy(x_req).sum(), x_req)  # (N_EVAL, 1, 28, 28)
beyond_clip = (grad_start.abs() > LANGEVIN["grad_clip"]).float().mean().item()
mala = {}
print(f"E(noise) − E(test digits) = {gap_after:+.2f}, against ln(2^784) = {784 * math.log(2):.0f}")
print(f"components of ∇E at the start beyond the clip ±{LANGEVIN['grad_clip']}: {beyond_clip:.2%}")
print(f"the start, fresh chains of {K_LONG} steps: FCD {s_long['fcd']:.1f}")
with samplers.frozen(energy), torch.no_grad():
    e_start = energy(x_mala).mean().item()
    for label, (temp, eps, result_name) in MALA_RUNS.items():
        out = samplers.langevin(
            lambda x, temp=temp: energy(x) / temp, x_mala, n_steps=MALA_STEPS, step_size=eps, metropolis=True
        )
        mala[label] = out.samples.cpu()
        moved = (out.samples - x_mala).pow(2).mean().sqrt().item()
        fcd = metrics.score_samples(mala[label], pixel_range="symmetric")["fcd"]
        print(
            f"{label:24s} acceptance {out.acceptance_rate:.3f}, pixels moved by {moved:.3f} (rms; pure "
            f"diffusion: √({MALA_STEPS}ε) = {math.sqrt(MALA_STEPS * eps):.3f}), mean energy {e_start:+.3f} -> "
            f"{energy(out.samples).mean().item():+.3f}, FCD {fcd:.1f}"
        )
        results.record(result_name, out.acceptance_rate, unit="acceptance", rms_move=moved, fcd=fcd)
fig, axes = plt.subplots(1 + len(MALA_RUNS), 1, figsize=(8, 1.2 * (1 + len(MALA_RUNS))))
plotting.image_grid(fresh_long[:12], ncols=12, ax=axes[0], vrange=(-1, 1), title="start: fresh chains")
for ax, label in zip(axes[1:], MALA_RUNS, strict=True):
    plotting.image_grid(
        mala[label][:12].clamp(-1, 1),
        ncols=12,
        ax=ax,
        vrange=(-1, 1),
        title=f"{MALA_STEPS} MALA steps, {label}",
    )
plt.tight_layout()
plt.show()

# %% [markdown]
# At $T = 1$ MALA does what an exact sampler of $e^{-E_\theta}$ must do: it diffuses away from the
# digits towards the noise that holds almost all of that distribution's mass. At the sampler's own
# temperature the same correction accepts a share of the training sampler's very steps (printed),
# and, as for any MALA, the acceptance tends to 1 as the step shrinks. Compare the FCD of these rows
# with the start's, and their rms moves with pure diffusion's (the drift does the moving): a Metropolis
# step towards $e^{-E_\theta/T}$ does not undo the cold sampler, it costs rejected or smaller steps.
# The reasons EBM practice leaves it out are those of section 2: short chains that never reach the
# stationary law the correction would make exact, the clipping and clamping that the
# Metropolis–Hastings ratio does not describe, and an energy trained with the unadjusted sampler.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# - An EBM is a Boltzmann distribution with a neural energy. Its likelihood gradient is *data
#   pushes energy down, model samples push it up*, exactly as for the RBM (with the free energy
#   in place of the energy), but the negative phase now needs a sampler that works for any
#   differentiable energy.
# - Langevin dynamics uses $\nabla_x E$, and $e^{-E}$ is the stationary law of its diffusion (one
#   line of Fokker–Planck). On targets we know exactly we *measured* that its discretisation is
#   biased at finite step size and that the Metropolis adjustment (MALA) removes the bias (the
#   radial width showed it; a histogram of `N_CHAINS` points could not). We also
#   saw what exactness does not buy: chains that rarely cross the barriers between modes share
#   the modes out by the basins they started in, not by the modes' weights — for MALA as for the
#   others.
# - With short-run Langevin, a replay buffer, spectral normalisation, an L2 energy penalty,
#   β₁ = 0 and clipping, a small convolutional EBM learns digit-like strokes in minutes. Its
#   samples are *measured* against independent grey pixels, beside the reference points of
#   unseen real digits and noise: the notebook checks that its replay-buffer samples beat
#   independent grey pixels and cover most digits, and bounds how far its fresh chains from noise
#   may fall behind them (at the lecture scale they can drift past the digits, for some seeds).
#   Compare the fresh chains with the VAE and GAN lectures, which use the same classifier. Its
#   energy is at best a heuristic out-of-distribution score, not a log-density;
#   the printed AUROCs show how well it separates noise and flipped digits in your run, against a
#   random network.
# - The trained energy is tied to its sampler: the step/noise decoupling is, up to its clipping and
#   clamping, ULA on $e^{-E/T}$ at a temperature $T = \sigma^2/(2\lambda)$ far below 1, not on $e^{-E}$.
#   An exact sampler of $e^{-E_\theta}$ at $T = 1$ diffuses away from the digits; a Metropolis
#   correction at the sampler's own temperature is possible (section 4 prints how many steps it
#   keeps), and what keeps EBM practice unadjusted is its short, clipped, clamped chains and an energy
#   trained with them.


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# The first three are **checked**: fill in the cell marked `...`, run it, then run the `check`
# line below it, which measures your answer against an independent reference (a fixed point
# iterated to convergence, the proposal densities evaluated directly, the exact energy on a fine
# grid) and says what disagrees. The others are open: write your answer, then compare it with the
# model answer. In the book each solution is folded: try first.

# %%
from lib.exercises import check

# %% [raw]
# # BEGIN QUESTION
# name: ex03_1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: ULA's bias, exactly
#
# For $E(x) = x^2/(2v)$, the Gaussian of variance $v$, one ULA step is
# $x' = x - \tfrac{\varepsilon}{2}\,x/v + \sqrt{\varepsilon}\,\xi$. Write the recursion for the
# chain's variance, solve for its fixed point, and code it as `ula_variance(eps, var)` (without
# `samplers.ula_stationary_variance`, which is the lecture's answer). For $E(x) = x^\top\Sigma^{-1}x/2$
# the same holds per eigen-direction of $\Sigma$: why does the ring of section 2 widen but not shift?


# %% tags=["hide-input"]
def ula_variance(eps: float, var: float) -> float:
    """Stationary variance of ULA with step ``eps`` on the Gaussian energy x²/(2·var)."""
    # BEGIN SOLUTION
    # s = (1 - ε/(2v))² s + ε  ⇒  s (ε/v − ε²/(4v²)) = ε  ⇒  s = v / (1 − ε/(4v))
    return var / (1 - eps / (4 * var))
    # END SOLUTION


# %%
check("03.1", ula_variance)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex03_2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: MALA's acceptance ratio
#
# MALA proposes $y = x - \tfrac{\varepsilon}{2}\nabla E(x) + \sqrt{\varepsilon}\,\xi$, so
# $q(y \mid x) = \mathcal N\big(y;\, x - \tfrac{\varepsilon}{2}\nabla E(x),\, \varepsilon I\big)$, and
# accepts with probability $\min(1, \alpha)$. Write `mala_log_accept(energy, grad, x, y, eps)`,
# returning $\ln\alpha$ for NumPy vectors `x`, `y` and functions `energy` (a number) and `grad`
# (a vector). Which terms would vanish for a symmetric proposal (random-walk Metropolis)?


# %% tags=["hide-input"]
def mala_log_accept(energy, grad, x: np.ndarray, y: np.ndarray, eps: float) -> float:
    """ln α of MALA's move x → y: the Boltzmann ratio times the reverse over the forward proposal."""
    # BEGIN SOLUTION
    log_q_forward = -np.sum((y - x + eps / 2 * grad(x)) ** 2) / (2 * eps)  # ln q(y|x) + const
    log_q_reverse = -np.sum((x - y + eps / 2 * grad(y)) ** 2) / (2 * eps)  # ln q(x|y) + const
    return float(energy(x) - energy(y) + log_q_reverse - log_q_forward)
    # END SOLUTION


# %%
check("03.2", mala_log_accept)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex03_3

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: Whose share, the weight's or the basin's?
#
# In one dimension take $p(x) = w\,\mathcal N(x; -a, s^2) + (1-w)\,\mathcal N(x; a, s^2)$ with the
# modes far apart ($a \gg s$), and start many chains uniformly on $[-h, h]$ ($h > a$). With steps
# too small to cross the barrier in the time you run them, each chain settles in the mode whose basin it
# starts in: the basins meet at the top of the energy barrier, the minimum of $p$ between the
# modes. Write `left_share(w, a, s, h)`, the expected fraction of chains in the left mode (find the
# barrier top numerically, e.g. on a grid of spacing $10^{-4}$ or finer: the check wants the share
# to within $10^{-4}$). Compare it with $w$: which one do the chains of section 2 follow?


# %% tags=["hide-input"]
def left_share(w: float, a: float, s: float, h: float) -> float:
    """The share of chains started uniformly on [-h, h] that settle in the left mode."""
    # BEGIN SOLUTION
    x = np.linspace(-a, a, 200_001)
    log_p = np.logaddexp(np.log(w) - (x + a) ** 2 / (2 * s**2), np.log(1 - w) - (x - a) ** 2 / (2 * s**2))
    barrier = x[np.argmin(log_p)]  # the top of the energy barrier, where the basins meet
    return float((barrier + h) / (2 * h))
    # END SOLUTION


# %%
check("03.3", left_share)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex03_4
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: Mode hopping
#
# Run a *single* MALA chain of 20 000 steps on the mixture of section 2 and count its hops (the
# function `hops`) for a few values of `MIXTURE_STD`. How should the hop rate depend on the energy
# barrier between neighbouring modes (printed in section 2)? Then start the chains of section 2
# all at the origin, or all in one mode: where do they end up?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# A hop needs the chain to climb the barrier $\Delta E$ between neighbouring modes. For small
# steps the dynamics approximates the overdamped Langevin diffusion, whose escape rate over a
# barrier follows Arrhenius' (Kramers') law: the rate scales as $e^{-\Delta E}$ times a prefactor
# set by the curvatures at the mode and at the saddle. Narrower modes (smaller `MIXTURE_STD`)
# raise $\Delta E$ roughly as $1/\sigma^2$, since the modes' separation is fixed, so the count of
# hops falls off exponentially: expect many hops for wide modes and only a few, if any, for the
# lecture's $\sigma = 0.25$, whose barrier's Boltzmann factor is printed in section 2 (the way out
# of mode 0, the lightest: the way out of a heavier mode is higher). Chains
# started at the origin sit near the top of the energy, where all eight basins meet, and their first
# steps decide their mode. With unequal weights the gradient does not vanish there: every mode is at
# the same distance, so $\nabla E(0) = -\sum_k \pi_k \mu_k/\sigma^2$, a strong push towards the
# weighted mean of the centres, and most chains fall into the modes on that side: neither equally
# nor in proportion to the weights (count them). Chains started in one mode stay in it. Either way,
# the shares are set by where the chains start and by their first steps, not by the weights
# $\pi_k$, as exercise 3 computed in one dimension.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex03_5
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5: Learning eight modes
#
# Train the section-3 MLP on samples of the equal-weight eight-mode mixture
# (`toy2d.GaussianMixture.ring(k=8, radius=2.5, std=0.25)`) and compute its grid
# KL(p ‖ p_θ) as in section 3. As a yardstick, compute the same KL for the density that has
# smeared the eight modes into a ring (`toy2d.GaussianMixture.ring(k=720, radius=2.5, std=0.25)`):
# a model whose KL is not clearly below that one has not resolved the modes. What helps? With the
# unequal weights of section 2, do the learned masses follow the weights or the buffer's shares?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# The smeared ring puts the right radial profile everywhere but spreads each mode's mass over
# $1/8$ of the circle, so its KL from the mixture is that of the angular part alone: it is a
# model that learned the radius and nothing else. The MLP has to carve eight wells, and its
# negative phase only pushes up energy where the Langevin samples are. On a well's depth the
# gradient is the mode's share of the data minus its share of the negatives: the data deepen the
# well, the negatives raise it. If the buffer's chains cannot cross the barriers, their shares are
# set by where they started (exercises 3 and 4), not by the model's weights, and that gradient does
# not measure how wrong the depths are. Expect more updates and larger Langevin steps (more mixing
# of the negatives) to help most, and width and depth only once the sampler mixes. With unequal
# weights the depths stop moving only when the buffer's shares match the weights; chains that do
# not cross can be brought there only by reshaping the basins that restarts fall into, so a mode
# the buffer over-fills is made shallower and one it under-fills deeper. Expect the learned masses
# to follow neither the weights nor the buffer's shares exactly, but to err away from the weights
# in the direction that offsets the sampler's bias: the energy is fitted together with its sampler
# (section 2), not to the data's weights alone.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex03_6
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6: Tempering the sampler, and breaking the training
#
# In section 4, replace the decoupled step by the exact pairing for a few $\varepsilon$: inside
# `with samplers.frozen(energy):` run `samplers.langevin(energy, x, n_steps=K_LONG, step_size=ε,
# clamp=(-1, 1))` from noise. Then, separately, set `ALPHA = 0`, raise the learning rate tenfold,
# drop `grad_clip` or remove the spectral normalisation, and watch `E(real)` and `E(sample)`.
# What does each experiment tell you about the temperature of the sampler of {cite:t}`du2019`?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# The decoupled sampler moves by $\lambda\nabla E$ with noise $\sigma$, which is ULA on
# $e^{-E/T}$ at $T = \sigma^2/(2\lambda)$ (section 4 prints it): far below 1. With the exact
# pairing ($T = 1$) the noise $\sqrt{\varepsilon}$ is large next to the drift that the energy's
# small gradients give, and the samples look like noise or drift away from digits: the energy was
# only ever shaped where its low-temperature sampler goes, so $e^{-E_\theta}$ at $T = 1$ is not a
# model of the digits. The stabilisers keep the energy's scale in check: without the L2 penalty
# or the spectral normalisation the energy gap $E(\text{sample}) - E(\text{real})$ can grow
# without bound (the contrastive loss is unbounded below), and the usual first sign is that
# $|E|$ grows by orders of magnitude while the samples stop changing; a tenfold learning rate or
# no gradient clipping brings oscillation of that gap. Which sign appears first depends on your
# run: watch the printed energies.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex03_7
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7: No buffer, and inpainting
#
# Set `REINIT_PROB = 1.0` (every chain starts from noise: short-run MCMC à la
# {cite:t}`nijkamp2019`) and compare both FCDs at the same budget. Then fix the top half of a test
# digit and let Langevin complete the bottom half: sample only the bottom half `y`, shaped
# `(B, 1, 14, 28)`, on the energy `lambda y: energy(torch.cat([top, y], dim=2))` with `top` held
# fixed (inside `with samplers.frozen(energy):`, with the settings of `LANGEVIN`). Does the energy
# complete the digits plausibly, and keep their identity?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Without the buffer, training and sampling use the same short chains from noise, so the energy
# learns to make *those* chains end on digits (the short-run view of {cite:t}`nijkamp2019`): the
# gap between the buffer's FCD and the fresh chains' FCD should shrink, typically at the price of a
# worse buffer FCD, since no chain ever runs longer than $K$ steps. Inpainting is conditional
# sampling from $e^{-E(\text{top}, y)}$: the top half is evidence, and the energy's low-temperature
# chains complete strokes that continue it. Expect plausible completions that mostly keep the
# digit's identity where the top half determines it (a 7, a 9) and switch it where it does not
# (a 3 against an 8): the energy encodes the digits' joint structure only as far as its short-run
# sampler needed it.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
