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
#   its Metropolis-adjusted version (MALA) and random-walk Metropolis — compared *quantitatively*
#   on 2-D targets whose density we know exactly, including the bias of unadjusted Langevin;
# - learning a 2-D density with an MLP energy, Langevin negatives and a replay buffer, checked
#   against the truth with a KL divergence on a grid;
# - training a convolutional EBM on MNIST with short-run Langevin chains, the replay buffer and
#   spectral normalisation of {cite:t}`du2019`, and **measuring** its samples with the
#   Fréchet classifier distance (FCD) between a floor (real held-out digits) and a ceiling
#   (noise) — both for the replay buffer and for fresh chains started from noise; using the
#   energy to flag out-of-distribution inputs.
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
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm
from tqdm.auto import tqdm

from lib import (
    cache,
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

# The networks here are small: one CPU thread is about as fast as two, and it avoids the large
# slow-downs of PyTorch's spinning worker threads when the cores are shared.
torch.set_num_threads(1)
SCALE = config.setup("03_ebm_langevin", seed=0)
# The seed config.setup used (COURSE_SEED replaces it). Every seed below is derived from SEED, so a
# rerun with another COURSE_SEED changes all of them.
SEED = torch.initial_seed()
DEVICE = config.torch_device()

# Part 1: sampling known 2-D densities
N_CHAINS = config.scaled(smoke=400, lecture=1000, full=4000)  # independent chains per sampler
N_STEPS_2D = config.scaled(smoke=150, lecture=300, full=2000)  # steps per chain
# Part 2: learning a 2-D density
ITERS_2D = config.scaled(smoke=500, lecture=1000, full=6000)  # parameter updates
# Part 3: an EBM on MNIST
N_TRAIN = config.scaled(smoke=2000, lecture=8000, full=8000)  # training digits used
ITERS_MNIST = config.scaled(smoke=100, lecture=400, full=20000)  # parameter updates
BATCH = config.scaled(smoke=32, lecture=64, full=128)
K_TRAIN = config.scaled(smoke=10, lecture=20, full=60)  # Langevin steps per update (published: 60)
K_LONG = config.scaled(smoke=20, lecture=200, full=1000)  # steps of the long chains from noise
N_EVAL = metrics.sample_count()  # samples per FCD: the same n in every lecture at this scale
BUFFER_SIZE = config.scaled(smoke=512, lecture=2048, full=10_000)  # ≥ N_EVAL (published: 10 000)
LR_MNIST = config.scaled(smoke=1e-3, lecture=1e-3, full=1e-4)  # Adam learning rate (β₁ = 0)

results.describe(
    dataset="MNIST (offline subset), pixels in [-1, 1]; 2-D Gaussian mixtures and ring",
    n_train=N_TRAIN,
    n_test=2000,
    part2_iterations=ITERS_2D,
    part3_iterations=ITERS_MNIST,
    langevin_steps_per_update=K_TRAIN,
    spectral_norm=True,
)

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
# phase, $\mathbb{E}_{p(v)}[v\,\hat h(v)^\top] = \langle v h^\top\rangle_{\rm model}$ (an average over
# the joint $p(v,h)$), so the log-likelihood gradient is the familiar
# $\langle v\,\hat h(v)^\top\rangle_{\rm data} - \langle v h^\top\rangle_{\rm model}$. There the
# negative samples came from block Gibbs sampling. For a neural energy on continuous $x$ there is
# no Gibbs sampler — conditionals are intractable — but we do have the *gradient* $\nabla_x E$,
# cheaply, by backpropagation. Langevin dynamics uses it.
#
# ## 2. Part 1 — sampling a density we know
#
# Three Markov chains that all leave $p \propto e^{-E}$ invariant (or nearly):
#
# - **Random-walk Metropolis (RWM)**: propose $x' = x + s\,\xi$, $\xi\sim\mathcal N(0,I)$, accept
#   with probability $\min\big(1, e^{E(x)-E(x')}\big)$. Gradient-free, but a blind random walk:
#   in $d$ dimensions the step must shrink like $d^{-1/2}$ to keep being accepted.
# - **Unadjusted Langevin (ULA)**: the Euler discretisation of the diffusion
#   $dx = -\tfrac12\nabla E(x)\,dt + dW_t$, whose stationary law is exactly $p$:
#   $$x_{t+1} = x_t - \frac{\varepsilon}{2}\nabla E(x_t) + \sqrt{\varepsilon}\,\xi_t .$$
#   Every move is taken; the drift steers proposals towards low energy, so it scales much better
#   with dimension. But the discretisation has a **bias** that grows with $\varepsilon$. For a
#   Gaussian $E = x^2/2v$ one finds $x_{t+1} = (1-\tfrac{\varepsilon}{2v})x_t + \sqrt\varepsilon\,\xi_t$,
#   whose stationary variance is $v/(1-\varepsilon/4v)$ — always too wide, and divergent for
#   $\varepsilon \ge 4v$.
# - **MALA** (Metropolis-adjusted Langevin): use the Langevin step as a *proposal*
#   $q(x'\mid x) = \mathcal N\big(x';\, x - \tfrac{\varepsilon}{2}\nabla E(x),\, \varepsilon I\big)$
#   and accept with
#   $$\alpha = \min\Big(1,\; \frac{e^{-E(x')}\,q(x\mid x')}{e^{-E(x)}\,q(x'\mid x)}\Big).$$
#   This removes the bias entirely (detailed balance holds exactly) at the cost of rejections.
#
# Gibbs sampling (lectures 01–02) updates one block of variables from its exact conditional; it
# is the method of choice when conditionals are tractable, as in the RBM, and useless here.
#
# Our targets: a mixture of 8 Gaussians on a circle, and a ring
# $E(x) = (|x| - R)^2/2w^2$ whose normaliser $Z$ has a closed form. Both can be sampled
# exactly, so every MCMC result can be *compared* with the truth.

# %% slideshow={"slide_type": "subslide"}
MIXTURE_K, MIXTURE_RADIUS, MIXTURE_STD = 8, 2.5, 0.4  # 8 Gaussians of std 0.4 on a circle of radius 2.5
RING_RADIUS, RING_WIDTH = 2.5, 0.3  # the ring's R and w
EXTENT, N_GRID = 4.0, 100  # densities on a 100 × 100 grid over [-4, 4]²
HIST_GRID = 30  # coarser grid for histogram KLs of finite samples

mixture = toy2d.GaussianMixture.ring(k=MIXTURE_K, radius=MIXTURE_RADIUS, std=MIXTURE_STD)
ring = toy2d.Ring2D(radius=RING_RADIUS, width=RING_WIDTH)

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, (name, target) in zip(axes, [("mixture of 8 Gaussians", mixture), ("ring", ring)], strict=True):
    _, p = toy2d.grid_density(target.energy, EXTENT, N_GRID)
    ax.imshow(p, origin="lower", extent=[-EXTENT, EXTENT, -EXTENT, EXTENT], cmap="viridis")
    ax.set_title(f"{name}: exact density")
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Same budget, three samplers
#
# Each sampler runs `N_CHAINS` independent chains for `N_STEPS_2D` steps from uniform noise on
# $[-4, 4]^2$. ULA and MALA use $\varepsilon = 0.05$; RWM uses the same move size $s = \sqrt\varepsilon$.
# We draw a few trajectories over the exact density, and compare the final states of all chains
# with exact samples using two numbers that the tests of `lib` also check:
#
# - the **histogram KL** $\mathrm{KL}(\hat q\,\|\,p) = \sum_{\rm cells} \hat q \log(\hat q/p)$,
#   with $\hat q$ the histogram of the chains and $p$ the exact cell probabilities;
# - the **MMD** (maximum mean discrepancy) with an RBF kernel $k(a,b) = e^{-|a-b|^2/2h^2}$,
#   $\mathrm{MMD}^2 = \mathbb{E}\,k(x,x') + \mathbb{E}\,k(y,y') - 2\,\mathbb{E}\,k(x,y)$, which is
#   zero iff the two distributions are equal; a permutation test turns it into a p-value.
#
# Exact samples of the same size give the *floor* of both numbers (finite-sample noise): with a
# few hundred samples spread over hundreds of cells, even perfect samples have a histogram KL far
# from zero.

# %% slideshow={"slide_type": "subslide"}
EPS_DEMO = 0.05  # ε of ULA and MALA; RWM moves with s = √ε
N_PERMUTATIONS = 100  # relabellings in the MMD permutation test
N_TRAJECTORIES = 4  # trajectories drawn per panel
gen = torch.Generator().manual_seed(SEED)


def uniform_start(n: int) -> torch.Tensor:
    return (2 * torch.rand(n, 2, generator=gen, dtype=torch.float64) - 1) * EXTENT  # (n, 2)


def run_samplers(target, n_chains: int, n_steps: int, eps: float) -> dict:
    x0 = uniform_start(n_chains)
    return {
        "ULA": samplers.langevin(
            target.energy, x0, n_steps=n_steps, step_size=eps, return_chain=True, generator=gen
        ),
        "MALA": samplers.langevin(
            target.energy,
            x0,
            n_steps=n_steps,
            step_size=eps,
            metropolis=True,
            return_chain=True,
            generator=gen,
        ),
        "RWM": samplers.random_walk_metropolis(
            target.energy, x0, n_steps=n_steps, proposal_std=math.sqrt(eps), return_chain=True, generator=gen
        ),
    }


def score(samples: torch.Tensor, target, seed: int) -> dict:
    exact = target.sample(len(samples), seed=seed)
    _, p = toy2d.grid_density(target.energy, EXTENT, HIST_GRID)
    mmd2, pval = divergences.mmd_permutation_test(samples, exact, n_permutations=N_PERMUTATIONS, seed=seed)
    kl = divergences.kl_divergence(toy2d.histogram2d(samples, EXTENT, HIST_GRID), p)
    return {"kl": kl, "mmd2": mmd2, "p": pval}


table = {}
for name, target in [("mixture", mixture), ("ring", ring)]:
    runs = run_samplers(target, N_CHAINS, N_STEPS_2D, EPS_DEMO)
    _, p = toy2d.grid_density(target.energy, EXTENT, N_GRID)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, (method, out) in zip(axes, runs.items(), strict=True):
        ax.imshow(p, origin="lower", extent=[-EXTENT, EXTENT, -EXTENT, EXTENT], cmap="Greys")
        for c in range(N_TRAJECTORIES):
            path = out.chain[:, c].numpy()  # (T, 2)
            ax.plot(path[:, 0], path[:, 1], lw=0.7, alpha=0.8)
        ax.scatter(*out.samples[:300].numpy().T, s=3, c="C3", label="final states")
        acc = "" if out.acceptance_rate is None else f", accept {out.acceptance_rate:.2f}"
        table[(name, method)] = score(out.samples, target, seed=SEED + 1) | {"accept": out.acceptance_rate}
        ax.set_title(f"{name}: {method}{acc}")
        ax.set_xlim(-EXTENT, EXTENT)
        ax.set_ylim(-EXTENT, EXTENT)
    plt.tight_layout()
    plt.show()
    exact_samples = torch.as_tensor(target.sample(N_CHAINS, seed=SEED + 2))
    table[(name, "exact")] = score(exact_samples, target, seed=SEED + 1)

print(f"{'target':8s} {'sampler':6s} {'hist KL':>8s} {'MMD²':>9s} {'p-value':>8s} {'accept':>7s}")
for (name, method), s in table.items():
    acc = "" if s.get("accept") is None else f"{s['accept']:7.2f}"
    print(f"{name:8s} {method:6s} {s['kl']:8.3f} {s['mmd2']:9.5f} {s['p']:8.3f} {acc}")

# %% [markdown]
# At this small step, compare each sampler's histogram KL and MMD with those of exact samples of
# the same size (the floor); the checks below hold MALA, which is exact, to it. On the mixture the
# chains rarely hop between modes — look at the trajectories: most stay in the mode they fell
# into first. Because we start *many* chains from a broad distribution, the modes still get
# roughly their right weights; a *single* long chain would not. This is the central difficulty of MCMC on
# multimodal targets, and it will return with the MNIST digits (ten modes, at least).

# %%
# MALA is exact: its histogram KL exceeds that of the same number of exact samples only by noise.
# Smoke, COURSE_SEED=0,1,2: MALA − exact from −0.08 to +0.07 over both targets (the floor itself
# varies by ±0.04), hence the margin 0.15; acceptance 0.97–0.98 at ε = 0.05.
for name in ("mixture", "ring"):
    excess = table[(name, "MALA")]["kl"] - table[(name, "exact")]["kl"]
    assert excess < 0.15, (name, table[(name, "MALA")], table[(name, "exact")])
    assert table[(name, "MALA")]["accept"] > 0.9, table[(name, "MALA")]
# a two-sample test at the 1 % level: fails in 1 % of runs even for a perfect sampler
assert table[("ring", "MALA")]["p"] > 0.01, "MALA samples of the ring should pass the two-sample test"
results.record("ring_hist_kl_mala", table[("ring", "MALA")]["kl"], unit="nats", step_size=EPS_DEMO)
results.record("ring_hist_kl_exact_floor", table[("ring", "exact")]["kl"], unit="nats")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The bias of unadjusted Langevin grows with the step size
#
# Now the step size varies. Across the ring the energy is a parabola of curvature $1/w^2$, so
# by the Gaussian formula above ULA's ring should be widened by a factor
# $1/\sqrt{1-\varepsilon/4w^2}$, blowing up at $\varepsilon = 4w^2 = 0.36$. We measure the
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
# never rejecting. Why, then, does almost every EBM paper use *unadjusted* Langevin? Because in
# $d = 784$ dimensions with a neural energy MALA's acceptance rate collapses unless $\varepsilon$
# is tiny (its optimal step scales like $d^{-1/3}$), because the chains are short and far from
# equilibrium anyway, and because the model is *trained* with the sampler it will be used with —
# the bias gets absorbed into the learned energy. Keep that last point in mind: it means the
# trained $E_\theta$ is only meaningful together with its sampler.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Part 2 — learning a 2-D density
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
# long *persistent* chains — the idea of persistent contrastive divergence for the RBM, where
# the Gibbs chains also survive from one update to the next. The restarts keep fresh chains
# entering, so the buffer does not freeze into a few states. The price: the states have run under
# the *earlier* energies of training, not only the current one. `lib.samplers.ReplayBuffer`
# implements steps 1 and 3.
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
LR_2D = 2e-3  # Adam, β₁ = 0 (see Part 3)
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


config.seed_everything(cache.effective_seed(SEED))  # the seed training starts from (below)
_, p_init = toy2d.grid_density(energy_of(build_2d()["energy"]), EXTENT, N_GRID)  # the network before training
kl_init = divergences.kl_divergence(p_true, p_init)
print(f"before training: KL(p || p_θ) = {kl_init:.3f} nats")

# %% [markdown]
# The training loop: a batch of data, a batch of negatives continued from the buffer, one Adam step.
# The trained network and its buffer are cached by everything that defines them (`lib.cache`):
# a rerun loads them in a second, and `COURSE_CACHE=off` retrains.


# %% slideshow={"slide_type": "subslide"}
def train_2d(models: dict) -> dict[str, list[float]]:
    """ITERS_2D updates of the contrastive loss; returns the grid KL every KL_EVERY updates."""
    E, buffer = energy_of(models["energy"]), models["buffer"]
    opt = torch.optim.Adam(models["energy"].parameters(), lr=LR_2D, betas=(0.0, 0.999))
    # constant learning rate for the first half, then linear decay towards 0: the end point settles
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


models_2d, kl_history = cache.cached_torch(
    "03_ebm_2d",
    build=build_2d,
    train=train_2d,
    code=[build_2d, energy_of, train_2d, samplers.ReplayBuffer, samplers.langevin, toy2d.grid_density],
    params={
        "means": SQUARE_MEANS,
        "std": SQUARE_STD,
        "hidden": HIDDEN_2D,
        "batch": BATCH_2D,
        "lr": LR_2D,
        "alpha": ALPHA_2D,
        "k": K_2D,
        "eps": EPS_2D,
        "buffer": BUFFER_2D,
        "reinit": REINIT_2D,
        "half_width": BUFFER_2D_HALF_WIDTH,
        "iters": ITERS_2D,
        "kl_every": KL_EVERY,
        "grid": [EXTENT, N_GRID],
    },
    data=x_2d,
    seed=SEED,
)
E2 = energy_of(models_2d["energy"])
buffer_2d = models_2d["buffer"]
updates_2d = kl_history["updates"][0]

# %% slideshow={"slide_type": "subslide"}
_, p_model = toy2d.grid_density(E2, EXTENT, N_GRID)
kl_learned = divergences.kl_divergence(p_true, p_model)
kl_uniform = divergences.kl_divergence(p_true, np.full_like(p_true, 1 / p_true.size))
mass_true, mass_init, mass_learned = mode_masses(p_true), mode_masses(p_init), mode_masses(p_model)

fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
ext = [-EXTENT, EXTENT, -EXTENT, EXTENT]
axes[0].imshow(p_true, origin="lower", extent=ext)
axes[0].set_title("true density")
axes[1].imshow(p_model, origin="lower", extent=ext)
axes[1].set_title(f"learned exp(−E), KL = {kl_learned:.3f}")
axes[2].scatter(*buffer_2d.data[:2000].numpy().T, s=2)
axes[2].set(xlim=(-EXTENT, EXTENT), ylim=(-EXTENT, EXTENT), aspect="equal", title="replay-buffer samples")
axes[3].plot(kl_history["update"], kl_history["KL(p || p_θ)"])
axes[3].set(xlabel="update", ylabel="KL(p ‖ p_θ) on the grid", yscale="log", title="training")
plt.tight_layout()
plt.show()
print(f"KL(p || p_θ) after {updates_2d} updates: {kl_learned:.3f} nats")
print(f"  the same network before training: {kl_init:.3f} nats;  a uniform density: {kl_uniform:.3f} nats")
print("mass within 1 of each centre:")
print("  true            ", mass_true.round(3))
print("  before training ", mass_init.round(3))
print("  learned         ", mass_learned.round(3))

# %% tags=["learning-check"]
# The learned density against the same network before training and against the true mode masses.
# Smoke (500 updates), COURSE_SEED=0,1,2: KL 0.068–0.099 nats, KL / KL before training 0.048–0.076,
# smallest mode mass / true mode mass 0.76–0.90. Untrained (one update): KL / KL before 0.96–0.97,
# mass ratio 0.19–0.23. Lecture (1000 updates, seed 0): KL 0.059 nats, mass ratio 0.89.
assert kl_learned < 0.25 * kl_init, (kl_learned, kl_init)
assert kl_learned < config.scaled(smoke=0.2, lecture=0.15, full=0.1), kl_learned
assert mass_learned.min() / mass_true.min() > config.scaled(smoke=0.5, lecture=0.6, full=0.75), (
    mass_learned,
    mass_true,
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
# Within the asserted bounds, the learned density has its four modes in the right places and
# gives each of them at least half (smoke) or 60 % (lecture) of its true mass. The *weights* are
# the delicate part: a Langevin chain in one mode rarely crosses to another, so the negatives'
# share of each mode is set by where the chains (and the restarts from noise) happen to be rather
# than by the model's probabilities, and the contrastive gradient corrects the relative weights
# only weakly. Watch the KL curve: it does not fall monotonically while the learning rate is
# high, and settles as the learning rate decays. The eight-mode ring of Part 1 is harder
# (exercise 3). In two dimensions we can *see* such defects; on images we will need a metric.
#
# ## 4. Part 3 — an EBM on MNIST
#
# ### The recipe of Du & Mordatch
#
# {cite:t}`du2019` made neural EBMs work on images with a handful of tricks, which we follow:
#
# - **Short-run Langevin with decoupled step and noise.** In practice
#   $x \leftarrow x - \lambda\nabla_x E(x) + \sigma\xi$ with gradient step $\lambda = 10$ and noise
#   standard deviation $\sigma = 0.005$ (the exact pairing would be $\sigma = \sqrt{2\lambda} \approx 4.5$!),
#   60 steps per update, pixels clipped to $[-1, 1]$; popular re-implementations also clip each
#   component of $\nabla_x E$ (we use $\pm 0.03$). This samples a much colder distribution than
#   $e^{-E}$: effectively noisy gradient descent on the energy. It is a heuristic that works
#   *because the model is trained with it*.
# - **The replay buffer** of Part 2: 95 % of each batch of negatives continues a stored chain,
#   5 % restarts from uniform noise.
# - **Spectral normalisation** of every convolutional and linear layer: each weight matrix is
#   divided by an estimate of its largest singular value (one power iteration per training
#   forward pass, `torch.nn.utils.parametrizations.spectral_norm`). This bounds how fast the energy
#   can change with its input (its Lipschitz constant, up to the activations), so the energy
#   landscape stays smooth enough for the Langevin steps to follow.
# - **Regularisation**: a small L2 penalty $\alpha(E(x)^2 + E(\tilde x)^2)$ (we use $\alpha = 0.1$) keeps
#   energies near zero; without it the energy of data and samples can run off together and the
#   Langevin gradients explode. **Adam with $\beta_1 = 0$** (no momentum: the loss landscape
#   changes as the sampler changes) and **gradient clipping** add stability.
# - **Swish activations** $s(x) = x/(1 + e^{-x})$: smooth, so $\nabla_x E$ is continuous (ReLU
#   energies give piecewise-constant input gradients, poor for Langevin).
# - A common extra: a little Gaussian noise on the *real* images (standard deviation 0.005), so
#   the energy cannot be arbitrarily sharp on the exact training pixels.
#
# **Signs that a run is diverging**, to watch in the curves below: the energies of real and
# sampled images drifting far from 0 together (magnitudes of tens or hundreds), the gap
# $E(\tilde x) - E(x)$ growing without bound instead of oscillating around a small value
# (the sampler has stopped keeping up with the energy), samples that saturate to all-black or
# all-white or freeze into one pattern, and NaNs. The usual cures are a larger $\alpha$, a
# smaller learning rate, more Langevin steps, or a larger step $\lambda$.
#
# **Our budget.** The published setup is 60 steps per update, batch 128, a buffer of 10 000,
# and tens of thousands of updates on a GPU. A lecture runs on a laptop CPU in minutes, so at
# the `lecture` scale we use fewer steps (`K_TRAIN`), a smaller batch, a smaller buffer (so each
# buffer chain gets more updates) and a larger learning rate ($10^{-3}$
# instead of the more usual $10^{-4}$). The `full` scale moves back towards the published settings.

# %%
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

train_images, _ = data.load_mnist("train")
test_images, test_labels = data.load_mnist("test")
x_train = torch.from_numpy(data.to_float(train_images[:N_TRAIN], "symmetric"))[:, None]  # (N, 1, 28, 28)
x_test = torch.from_numpy(data.to_float(test_images, "symmetric"))[:, None]  # (2000, 1, 28, 28)
print(
    f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, range [{x_train.min():.0f}, {x_train.max():.0f}]"
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
    """The untrained energy network, its replay buffer, the Langevin-step count of each buffer
    state since its restart, and room for three snapshots of the negatives."""
    buffer = samplers.ReplayBuffer(
        BUFFER_SIZE, (1, 28, 28), reinit_prob=REINIT_PROB, generator=torch.Generator().manual_seed(SEED + 4)
    )
    return {
        "energy": ConvEnergy().to(DEVICE),
        "buffer": buffer,
        "chain_steps": torch.zeros(BUFFER_SIZE, dtype=torch.long),
        "snapshots": torch.zeros(3, N_SHOW, 1, 28, 28),
    }


config.seed_everything(cache.effective_seed(SEED + 3))  # the seed training starts from (below)
energy_init = build_ebm()["energy"].eval()  # the same network before training: our reference
print(f"ConvEnergy: {sum(p.numel() for p in energy_init.parameters()):,} parameters")


def sample_langevin(model: nn.Module, x: torch.Tensor, n_steps: int, **kw) -> samplers.MCMCResult:
    """Langevin on an energy network without touching its parameter gradients."""
    was_training = model.training
    model.eval()  # spectral norm: use the current estimate, no power iteration
    for p in model.parameters():
        p.requires_grad_(False)
    with parametrize.cached():  # normalise each weight once, not at every step
        out = samplers.langevin(model, x.to(DEVICE), n_steps=n_steps, **(LANGEVIN | kw))
    for p in model.parameters():
        p.requires_grad_(True)
    model.train(was_training)
    return out


# A fixed probe: held-out digits and uniform noise, to see the energy landscape take shape.
probe_real = x_test[:N_PROBE].to(DEVICE)
probe_noise = (2 * torch.rand(N_PROBE, 1, 28, 28, generator=torch.Generator().manual_seed(SEED + 1)) - 1).to(
    DEVICE
)


def energy_gap(model: nn.Module) -> float:
    """Mean energy of noise minus mean energy of held-out digits on the probe."""
    with torch.no_grad():
        return (model(probe_noise).mean() - model(probe_real).mean()).item()


gap_before = energy_gap(energy_init)
print(f"before training: E(noise) − E(test digits) = {gap_before:+.4f}")

# %% [markdown]
# The training loop: one batch of real digits, one batch of negatives continued from the buffer
# by `K_TRAIN` Langevin steps, the contrastive loss with its L2 term, a clipped Adam step. We also
# count how many Langevin steps each buffer state has accumulated since its last restart (the
# buffer does not report which states it restarted, but a restarted state differs from the one
# stored in its slot). The trained network, its buffer and the snapshots are cached like the
# 2-D model's.


# %% slideshow={"slide_type": "subslide"}
def train_ebm(models: dict) -> dict[str, list[float]]:
    """ITERS_MNIST updates; the history holds the loss, both mean energies and the snapshots' updates."""
    energy, buffer, chain_steps, snapshots = (
        models[k] for k in ("energy", "buffer", "chain_steps", "snapshots")
    )
    opt = torch.optim.Adam(energy.parameters(), lr=LR_MNIST, betas=ADAM_BETAS)
    history = {"loss": [], "E(real)": [], "E(sample)": [], "snapshot_update": []}
    energy.train()
    t0 = time.time()
    for step in tqdm(config.training(range(ITERS_MNIST)), desc="MNIST EBM"):
        x_pos = x_train[torch.randint(len(x_train), (BATCH,))].to(DEVICE)  # (B, 1, 28, 28)
        x_pos = (x_pos + DATA_NOISE * torch.randn_like(x_pos)).clamp(-1, 1)
        x_neg, idx = buffer.sample(BATCH)  # 95 % continued chains, 5 % fresh noise
        restarted = (x_neg != buffer.data[idx]).flatten(1).any(1)  # (B,)
        chain_steps[idx] = torch.where(restarted, 0, chain_steps[idx]) + K_TRAIN
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
        if step + 1 in {ITERS_MNIST // 4, ITERS_MNIST // 2}:
            snapshots[len(history["snapshot_update"])] = x_neg[:N_SHOW].detach().cpu()
            history["snapshot_update"].append(step + 1)
    snapshots[len(history["snapshot_update"])] = x_neg[:N_SHOW].detach().cpu()
    history["snapshot_update"].append(step + 1)
    history["train_seconds"] = [time.time() - t0]
    return history


models_ebm, history = cache.cached_torch(
    "03_ebm_mnist",
    build=build_ebm,
    train=train_ebm,
    code=[
        Swish,
        ConvEnergy,
        build_ebm,
        train_ebm,
        sample_langevin,
        energy_gap,
        samplers.ReplayBuffer,
        samplers.langevin,
    ],
    params={
        "channels": CHANNELS,
        "langevin": LANGEVIN,
        "alpha": ALPHA,
        "data_noise": DATA_NOISE,
        "reinit": REINIT_PROB,
        "betas": ADAM_BETAS,
        "clip": GRAD_NORM_CLIP,
        "n_probe": N_PROBE,
        "n_show": N_SHOW,
        "iters": ITERS_MNIST,
        "batch": BATCH,
        "k": K_TRAIN,
        "buffer": BUFFER_SIZE,
        "lr": LR_MNIST,
    },
    data=[x_train, probe_real, probe_noise],
    seed=SEED + 3,
)
energy, buffer, chain_steps = models_ebm["energy"], models_ebm["buffer"], models_ebm["chain_steps"]
snapshots = dict(zip(history.pop("snapshot_update"), models_ebm["snapshots"], strict=False))
gap_first = history.pop("gap_first_update")[0]
train_seconds = history.pop("train_seconds")[0]
updates_mnist = len(history["loss"])
print(f"{updates_mnist} updates in {train_seconds:.0f} s")

# %% slideshow={"slide_type": "subslide"}
plotting.plot_history(history, xlabel="update")
plt.show()
fig, axes = plt.subplots(1, len(snapshots), figsize=(4 * len(snapshots), 2.2))
for ax, (step, imgs) in zip(np.atleast_1d(axes), snapshots.items(), strict=True):
    plotting.image_grid(imgs, ncols=8, ax=ax, vrange=(-1, 1), title=f"negatives after {step} updates")
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
# animate them: watch noise being carved into strokes.

# %% slideshow={"slide_type": "subslide"}
N_ANIMATE = 16  # chains in the animation
N_FRAMES = 30  # frames in the animation

x0_fresh = 2 * torch.rand(N_EVAL, 1, 28, 28, generator=torch.Generator().manual_seed(SEED + 2)) - 1


def fresh_chains() -> dict[str, torch.Tensor]:
    """N_EVAL chains from x0_fresh: after K_TRAIN steps, continued to K_LONG; and the recorded
    states of N_ANIMATE of them. Cached by the trained weights, like the model itself."""
    short = sample_langevin(energy, x0_fresh, K_TRAIN).samples.cpu()  # (N_EVAL, 1, 28, 28)
    long = sample_langevin(energy, short, K_LONG - K_TRAIN, progress=True).samples.cpu()
    anim = sample_langevin(
        energy, x0_fresh[:N_ANIMATE], K_LONG, return_chain=True, chain_every=max(1, K_LONG // N_FRAMES)
    )
    return {"short": short, "long": long, "chain": anim.chain.cpu()}


chains = cache.cached_arrays(
    "03_fresh_chains",
    compute=fresh_chains,
    code=[fresh_chains, sample_langevin, samplers.langevin],
    params={
        "k_train": K_TRAIN,
        "k_long": K_LONG,
        "n_animate": N_ANIMATE,
        "n_frames": N_FRAMES,
        "langevin": LANGEVIN,
    },
    data=[*energy.state_dict().values(), x0_fresh],
    seed=SEED + 2,
)
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
plotting.animate_chain(torch.from_numpy(chains["chain"]), ncols=8, interval=150)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### One more use of the energy: out-of-distribution scores
#
# $E_\theta(x)$ is an unnormalised negative log-density, so *differences* of energies are
# log-likelihood ratios: a trained EBM can flag inputs that do not look like its data without
# ever computing $Z$. We score held-out test digits, uniform noise, and digits turned upside down
# (the same pixel statistics, wrong shapes), and summarise each separation by the AUROC
# (probability that a random test digit has lower energy than a random outlier; 0.5 = chance).
# The same scores from the network *before training* show what a random energy already does.

# %%
with torch.no_grad():
    x_noise = 2 * torch.rand(len(x_test), 1, 28, 28, generator=torch.Generator().manual_seed(SEED + 5)) - 1
    x_flip = torch.flip(x_test, dims=[2])  # upside down
    e = {
        net_name: {
            name: net(x.to(DEVICE)).cpu().numpy()
            for name, x in [("test digits", x_test), ("flipped digits", x_flip), ("uniform noise", x_noise)]
        }
        for net_name, net in [("trained", energy), ("before training", energy_init)]
    }  # (2000,) energies per set


def auroc(e_in: np.ndarray, e_out: np.ndarray) -> float:
    return roc_auc_score(np.r_[np.zeros(len(e_in)), np.ones(len(e_out))], np.r_[e_in, e_out])


auc = {
    net_name: {out: auroc(sets["test digits"], sets[out]) for out in ("uniform noise", "flipped digits")}
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
print(f"{'AUROC, test digits vs':24s} {'uniform noise':>14s} {'flipped digits':>15s}")
for net_name, a in auc.items():
    print(f"{net_name:24s} {a['uniform noise']:14.3f} {a['flipped digits']:15.3f}")

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
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Chance (0.5) is not the right yardstick for these AUROCs: compare the two rows of the table.
# A random network already responds very differently to uniform noise and to digits, but in an
# arbitrary direction (an AUROC far from 0.5 on either side); training is what makes noise
# *expensive*. Flipped digits are harder: they have the same strokes and ink statistics, so only
# an energy that has learned *shapes* separates them — a useful test of what the model has
# learned, and a known weakness of likelihood-based OOD detection in general (deep generative
# models can assign *higher* likelihood to some outliers than to data). Here too the untrained
# network's random features respond differently to upright and upside-down digits, in either
# direction. No assert is made on these AUROCs: after a single update the noise AUROC can already
# be 1, and at the `smoke` scale the flipped-digit AUROC is not reliably better than the
# untrained network's. At the `lecture` scale, look at whether it is.
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
# with two reference points that make it readable: held-out real digits (the floor) and uniform
# noise (the ceiling). The classifier's predicted labels tell us about **mode coverage**: a
# sampler stuck on a few digits shows up immediately (`digits_covered` counts the digits that
# receive at least 2 % of the samples; `label_jsd` is the Jensen–Shannon divergence of the
# predicted labels from the training labels).
#
# We score four sets of `N_EVAL` samples:
#
# 1. **replay buffer**: buffer states, each given `K_TRAIN` more Langevin steps (so that freshly
#    restarted chains are not scored as noise);
# 2. **fresh chains**, `K_TRAIN` steps from uniform noise on the trained energy;
# 3. **fresh chains**, `K_LONG` steps (the same chains, continued);
# 4. the reference: fresh chains of `K_TRAIN` steps on the **network before training**.

# %% slideshow={"slide_type": "subslide"}
clf = metrics.load_classifier()
print(f"classifier test accuracy: {clf.test_accuracy:.3f}")
buffer_samples = sample_langevin(energy, buffer.data[:N_EVAL], K_TRAIN).samples.cpu()  # (N_EVAL, 1, 28, 28)
buffer_steps = (chain_steps[:N_EVAL] + K_TRAIN).numpy()  # Langevin steps each scored buffer state has run
untrained_samples = sample_langevin(energy_init, x0_fresh, K_TRAIN).samples.cpu()
sample_sets = {
    "replay buffer": buffer_samples,
    f"fresh chains, {K_TRAIN} steps": fresh_short,
    f"fresh chains, {K_LONG} steps": fresh_long,
    f"untrained net, {K_TRAIN} steps": untrained_samples,
}
scores = {name: metrics.score_samples(x, pixel_range="symmetric") for name, x in sample_sets.items()}
s_buffer, s_short, s_long, s_untrained = scores.values()

print(f"{'samples':28s} {'FCD':>8s} {'digits ≥ 2 %':>13s} {'label JSD':>10s}")
for name, s in scores.items():
    print(f"{name:28s} {s['fcd']:8.1f} {s['digits_covered']:13d} {s['label_jsd']:10.3f}")
print(f"{'floor (held-out digits)':28s} {s_buffer['unseen_real']:8.1f}")
print(f"{'ceiling (uniform noise)':28s} {s_buffer['noise']:8.1f}")
print(
    f"Langevin steps run by the scored buffer states since their last restart: mean {buffer_steps.mean():.0f}, "
    f"median {np.median(buffer_steps):.0f}, max {buffer_steps.max()} (fresh chains: {K_TRAIN} and {K_LONG})"
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
# Buffer samples of the trained energy against samples of the same network before training.
# Smoke (100 updates), COURSE_SEED=0,1,2: FCD ratio 0.27–0.29, 5–7 digits covered. Untrained (one
# update): ratio 0.99–1.00, 1 digit. (Fresh chains are not asserted on: at smoke their FCD after
# K_LONG steps ranged from 1000 to 2000 over these seeds, around the noise ceiling of 1380.)
# Lecture (400 updates, seed 0): ratio 0.038, 10 digits.
assert s_buffer["fcd"] / s_untrained["fcd"] < config.scaled(smoke=0.4, lecture=0.1, full=0.05), (
    s_buffer,
    s_untrained,
)
assert s_buffer["digits_covered"] >= config.scaled(smoke=3, lecture=8, full=9), s_buffer

# %% slideshow={"slide_type": "subslide"}
for name, key, s, steps in [
    ("fcd_replay_buffer", "MNIST EBM: FCD of replay-buffer samples", s_buffer, float(buffer_steps.mean())),
    ("fcd_fresh_chains", None, s_short, K_TRAIN),
    ("fcd_fresh_chains_long", "MNIST EBM: FCD of fresh Langevin chains from noise", s_long, K_LONG),
    ("fcd_untrained_network", None, s_untrained, K_TRAIN),
]:
    results.record(name, s["fcd"], unit="FCD (course classifier)", key=key, langevin_steps=steps, n=s["n"])
    results.record(f"score_{name.removeprefix('fcd_')}", s, unit="score_samples")
results.record(
    "fcd_floor_heldout_real", s_buffer["unseen_real"], unit="FCD (course classifier)", n=s_buffer["n"]
)
results.record("fcd_ceiling_noise", s_buffer["noise"], unit="FCD (course classifier)", n=s_buffer["n"])
results.record("classifier_test_accuracy", clf.test_accuracy)
results.record("train_seconds", round(train_seconds, 1), unit="s")

# The EBM's row in the course's comparison of its MNIST models (build/comparison.md): what a user
# of the trained energy gets, fresh chains from noise with K_LONG Langevin steps, timed per 100
# images, with the memorisation check (nearest training images against held-out digits).
t0 = time.perf_counter()
sample_langevin(energy, x0_fresh[:100], K_LONG)
copies = memorisation.memorisation_check(
    fresh_long, train_images[:N_TRAIN], test_images, pixel_range_samples="symmetric"
)
print(copies)
comparison.record_model(
    "EBM (Langevin)",
    score=s_long,
    n_parameters=sum(p.numel() for p in energy.parameters()),
    training_seconds=train_seconds,
    sampling_seconds_per_100=time.perf_counter() - t0,
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
        f"chains ran {buffer_steps.mean():.0f} steps on average since their last restart. The untrained "
        f"network's samples score {s_untrained['fcd']:.0f}, held-out digits {s_buffer['unseen_real']:.0f}, uniform "
        f"noise {s_buffer['noise']:.0f}. The fresh chains of {K_LONG} steps have "
        f"{compare(s_long['fcd'], s_buffer['fcd'])} the buffer states; those of {K_TRAIN} steps have "
        f"{compare(s_short['fcd'], s_buffer['fcd'])} the buffer states."
    )
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Where the fresh chains score worse, the reason is in how the energy was trained: it is shaped
# only where the training chains go, and most of those are long-lived buffer states, so nothing
# asks the energy to guide a chain from noise to a digit within a short budget. The learning
# check above holds only the buffer states to a bound relative to the untrained network: at the
# `smoke` scale the fresh chains are not reliably better than noise, so no bound on them would hold
# there. Exercise 6 removes the buffer.
#
# ## Conclusion
#
# - An EBM is a Boltzmann distribution with a neural energy. Its likelihood gradient is *data
#   pushes energy down, model samples push it up*, exactly as for the RBM (with the free energy
#   in place of the energy), but the negative phase now needs a sampler that works for any
#   differentiable energy.
# - Langevin dynamics uses $\nabla_x E$; on targets we know exactly we *measured* that it is
#   biased at finite step size and that the Metropolis adjustment (MALA) removes the bias, while
#   all local samplers struggle to move between separated modes.
# - With short-run Langevin, a replay buffer, spectral normalisation, an L2 energy penalty,
#   β₁ = 0 and clipping, a small convolutional EBM learns digit-like strokes on a CPU in minutes.
#   Its samples are *measured* against the floor of real held-out digits and the noise ceiling:
#   the notebook asserts that its replay-buffer samples are far closer to the data than the
#   untrained network's and cover most digits, and it prints how much worse fresh chains from
#   noise do (compare those with the VAE and GAN lectures, which use the same classifier). Its
#   energy doubles as an out-of-distribution score.
# - The trained energy is tied to its sampler: the sharp step/noise decoupling samples a cold
#   distribution, not $e^{-E}$; and the replay buffer's samples flatter the energy compared with
#   fresh chains.
#
# ## Exercises
#
# 1. **ULA bias, exactly.** For $E(x) = x^\top\Sigma^{-1}x/2$ show that ULA's stationary
#    covariance has eigenvalues $v_i/(1-\varepsilon/4v_i)$ (check with
#    `samplers.ula_stationary_variance` and a run of `samplers.langevin`). Why does the ring widen
#    but not shift?
# 2. **Mode hopping.** Run a *single* MALA chain of 20 000 steps on the mixture. How many mode
#    switches do you see as a function of `std`? Relate this to the energy barrier between modes.
# 3. **Learning eight modes.** Train the Part 2 MLP on the eight-mode mixture of Part 1. Compare
#    the grid KL with that of a perfect *ring* (spread the mixture over 720 components on the
#    circle and compute its grid KL the same way). What helps the model resolve the modes: more
#    updates, width, depth, larger Langevin steps?
# 4. **Tempering the sampler.** In Part 3, replace the decoupled step by the exact pairing
#    (`step_size=ε`, noise standard deviation $\sqrt\varepsilon$) for a few $\varepsilon$. What do
#    samples look like, and what does this tell you about the temperature of the sampler of
#    {cite:t}`du2019`?
# 5. **Break the training.** Set `ALPHA = 0`, or raise the learning rate tenfold, or drop
#    `grad_clip`, or remove the spectral normalisation, and watch `E(real)` and `E(sample)`. Which
#    of the divergence signs of section 4 appear first?
# 6. **No buffer.** Set `REINIT_PROB = 1.0` (every chain starts from noise: short-run MCMC à la
#    {cite:t}`nijkamp2019`) and compare both FCDs at the same budget. Does the gap between buffer
#    and fresh chains close? What happens with 60 steps?
# 7. **Inpainting.** Fix the top half of a test digit and run Langevin only on the bottom half
#    (mask the update). Does the energy complete the digit plausibly?
