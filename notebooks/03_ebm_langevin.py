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

# %% [markdown]
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
# - learning a 2-D density with an MLP energy and Langevin negatives, checked against the truth
#   with a KL divergence on a grid;
# - training a convolutional EBM on MNIST with short-run Langevin chains and the replay buffer of
#   Du & Mordatch (2019), and **measuring** its samples with the Fréchet classifier distance
#   (FCD) between a floor (real held-out digits) and a ceiling (noise); using the energy to
#   flag out-of-distribution inputs.
#
# **Prerequisites**: `00_course_tour` (scales, data, the FCD) and the RBM lectures (01–02:
# Gibbs sampling, contrastive divergence, positive and negative phases). PyTorch autograd.
#
# The sampler, replay buffer, 2-D targets and metrics live in `lib/langevin.py` (tested in
# `tests/test_langevin.py`); the model code you are meant to read stays in this notebook.

# %% [markdown]
# ## Set-up

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from lib import config, data, metrics, plotting, results
from lib import langevin as L

SCALE = config.setup("03_ebm_langevin", seed=0)
DEVICE = config.torch_device()

# Part 1: sampling known 2-D densities
N_CHAINS = config.scaled(smoke=400, lecture=1000, full=4000)  # independent chains per sampler
N_STEPS_2D = config.scaled(smoke=150, lecture=300, full=2000)  # steps per chain
STEP_SIZES = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]  # ε for the bias study
# Part 2: learning a 2-D density
ITERS_2D = config.scaled(smoke=250, lecture=1000, full=6000)
# Part 3: an EBM on MNIST
N_TRAIN = config.scaled(smoke=2000, lecture=8000, full=8000)  # training digits used
ITERS_MNIST = config.scaled(smoke=15, lecture=400, full=20000)  # parameter updates
BATCH = config.scaled(smoke=32, lecture=64, full=128)
K_TRAIN = config.scaled(smoke=10, lecture=20, full=60)  # Langevin steps per update (published: 60)
BUFFER_SIZE = config.scaled(smoke=256, lecture=2048, full=8192)
K_LONG = config.scaled(smoke=20, lecture=200, full=1000)  # steps of the long chains from noise
N_EVAL = config.scaled(smoke=200, lecture=1000, full=2000)  # samples for the FCD
LR_MNIST = config.scaled(smoke=1e-3, lecture=1e-3, full=1e-4)  # Adam learning rate (β₁ = 0)

results.describe(
    dataset="MNIST (offline subset), pixels in [-1, 1]; 2-D Gaussian mixture and ring",
    n_train=N_TRAIN,
    n_test=2000,
    part3_iterations=ITERS_MNIST,
    langevin_steps_per_update=K_TRAIN,
)

# %% [markdown]
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
# the model's own samples*, until the two sets are indistinguishable to the energy. For the RBM,
# $E(v,h) = -v^\top W h - b^\top v - c^\top h$, so $\nabla_W E = -vh^\top$ and this is exactly the
# familiar $\langle v h^\top\rangle_{\rm data} - \langle v h^\top\rangle_{\rm model}$; there the
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

# %%
mixture = L.GaussianMixture2D.ring_of_gaussians(k=8, radius=2.5, std=0.4)
ring = L.Ring2D(radius=2.5, width=0.3)
EXTENT, N_GRID = 4.0, 100  # plots on [-4, 4]²
HIST_GRID = 30  # coarser grid for histogram KLs of finite samples

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, (name, target) in zip(axes, [("mixture of 8 Gaussians", mixture), ("ring", ring)], strict=True):
    _, p = L.grid_density(target.energy, EXTENT, N_GRID)
    ax.imshow(p, origin="lower", extent=[-EXTENT, EXTENT, -EXTENT, EXTENT], cmap="viridis")
    ax.set_title(f"{name}: exact density")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Same budget, three samplers
#
# Each sampler runs `N_CHAINS` independent chains for `N_STEPS_2D` steps from uniform noise on
# $[-4, 4]^2$. ULA and MALA use $\varepsilon = 0.05$; RWM uses the same move size $s = \sqrt\varepsilon$.
# We draw a few trajectories over the exact density, and compare the final states of all chains
# with exact samples using two numbers that the tests of `lib.langevin` also check:
#
# - the **histogram KL** $\mathrm{KL}(\hat q\,\|\,p) = \sum_{\rm cells} \hat q \log(\hat q/p)$,
#   with $\hat q$ the histogram of the chains and $p$ the exact cell probabilities;
# - the **MMD** (maximum mean discrepancy) with an RBF kernel $k(a,b) = e^{-|a-b|^2/2h^2}$,
#   $\mathrm{MMD}^2 = \mathbb{E}\,k(x,x') + \mathbb{E}\,k(y,y') - 2\,\mathbb{E}\,k(x,y)$, which is
#   zero iff the two distributions are equal; a permutation test turns it into a p-value.
#
# Exact samples of the same size give the *floor* of both numbers (finite-sample noise).

# %%
EPS_DEMO = 0.05
gen = torch.Generator().manual_seed(0)


def uniform_start(n: int) -> torch.Tensor:
    return (2 * torch.rand(n, 2, generator=gen, dtype=torch.float64) - 1) * EXTENT  # (n, 2)


def run_samplers(target, n_chains: int, n_steps: int, eps: float) -> dict:
    x0 = uniform_start(n_chains)
    return {
        "ULA": L.langevin(
            target.energy, x0, n_steps=n_steps, step_size=eps, return_chain=True, generator=gen
        ),
        "MALA": L.langevin(
            target.energy,
            x0,
            n_steps=n_steps,
            step_size=eps,
            metropolis=True,
            return_chain=True,
            generator=gen,
        ),
        "RWM": L.random_walk_metropolis(
            target.energy, x0, n_steps=n_steps, proposal_std=math.sqrt(eps), return_chain=True, generator=gen
        ),
    }


def score(samples: torch.Tensor, target, seed: int) -> dict:
    exact = target.sample(len(samples), seed=seed)
    _, p = L.grid_density(target.energy, EXTENT, HIST_GRID)
    mmd2, pval = L.mmd_permutation_test(samples, exact, n_permutations=100, seed=seed)
    return {"kl": L.kl_divergence(L.histogram2d(samples, EXTENT, HIST_GRID), p), "mmd2": mmd2, "p": pval}


table = {}
for name, target in [("mixture", mixture), ("ring", ring)]:
    runs = run_samplers(target, N_CHAINS, N_STEPS_2D, EPS_DEMO)
    _, p = L.grid_density(target.energy, EXTENT, N_GRID)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, (method, out) in zip(axes, runs.items(), strict=True):
        ax.imshow(p, origin="lower", extent=[-EXTENT, EXTENT, -EXTENT, EXTENT], cmap="Greys")
        for c in range(4):  # four trajectories
            path = out.chain[:, c].numpy()  # (T, 2)
            ax.plot(path[:, 0], path[:, 1], lw=0.7, alpha=0.8)
        ax.scatter(*out.samples[:300].numpy().T, s=3, c="C3", label="final states")
        acc = "" if out.acceptance_rate is None else f", accept {out.acceptance_rate:.2f}"
        table[(name, method)] = score(out.samples, target, seed=1) | {"accept": out.acceptance_rate}
        ax.set_title(f"{name}: {method}{acc}")
        ax.set_xlim(-EXTENT, EXTENT)
        ax.set_ylim(-EXTENT, EXTENT)
    plt.tight_layout()
    plt.show()
    table[(name, "exact")] = score(torch.as_tensor(target.sample(N_CHAINS, seed=2)), target, seed=1)

print(f"{'target':8s} {'sampler':6s} {'hist KL':>8s} {'MMD²':>9s} {'p-value':>8s}")
for (name, method), s in table.items():
    print(f"{name:8s} {method:6s} {s['kl']:8.3f} {s['mmd2']:9.5f} {s['p']:8.3f}")

# %% [markdown]
# At this small step all three samplers end close to the truth on the ring. On the mixture the
# chains rarely hop between modes — look at the trajectories: most stay in the mode they fell
# into first. Because we start *many* chains from a broad distribution, the modes still get
# roughly their right weights; a *single* long chain would not. This is the central difficulty of MCMC on
# multimodal targets, and it will return with the MNIST digits (ten modes, at least).

# %%
for name in ("mixture", "ring"):
    floor = table[(name, "exact")]["kl"]
    # MALA is asymptotically exact: its histogram KL is within a few times the finite-sample floor
    assert table[(name, "MALA")]["kl"] < 3 * floor + 0.05, (name, table[(name, "MALA")], floor)
    assert 0.5 < table[(name, "MALA")]["accept"] <= 1.0
assert table[("ring", "MALA")]["p"] > 0.01, "MALA samples of the ring should pass the two-sample test"
results.record("ring_hist_kl_mala", table[("ring", "MALA")]["kl"], unit="nats", step_size=EPS_DEMO)
results.record("ring_hist_kl_exact_floor", table[("ring", "exact")]["kl"], unit="nats")

# %% [markdown]
# ### The bias of unadjusted Langevin grows with the step size
#
# Now the step size varies. Across the ring the energy is a parabola of curvature $1/w^2$, so
# by the Gaussian formula above ULA's ring should be widened by a factor
# $1/\sqrt{1-\varepsilon/4w^2}$, blowing up at $\varepsilon = 4w^2 = 0.36$. We measure the
# radial width $\operatorname{std}(|x|)$ of the chains' final states and compare it with that
# prediction and with exact samples. MALA should stay exact at every $\varepsilon$ — at the
# cost of a falling acceptance rate (and, eventually, chains that stop moving).


# %%
def radial_width(x) -> float:
    return float(np.linalg.norm(np.asarray(x), axis=1).std())


width_exact = radial_width(ring.sample(100_000, seed=4))
bias = {"ULA": [], "MALA": [], "MALA acceptance": []}
for eps in tqdm(STEP_SIZES, desc="step sizes"):
    x0 = uniform_start(N_CHAINS)
    ula = L.langevin(ring.energy, x0, n_steps=N_STEPS_2D, step_size=eps, generator=gen)
    mala = L.langevin(ring.energy, x0, n_steps=N_STEPS_2D, step_size=eps, metropolis=True, generator=gen)
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

# %% [markdown]
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
# The chains are *persistent*: a replay buffer stores their states between updates, so 20
# Langevin steps per update add up to long chains (section 4 explains the buffer). The small L2
# term $\alpha$ pins the arbitrary additive constant of the energy (the contrastive loss does not
# see it). Because the model lives in 2-D, we can normalise $e^{-E_\theta}$ *numerically* on a
# grid and compare it with the truth: $\mathrm{KL}(p\,\|\,p_\theta) = \sum_{\rm cells} p\log(p/p_\theta)$.

# %%
square = L.GaussianMixture2D([[-1.5, -1.5], [1.5, -1.5], [-1.5, 1.5], [1.5, 1.5]], 0.5)
torch.manual_seed(0)
x_2d = torch.tensor(square.sample(20_000, seed=0), dtype=torch.float32)  # (20000, 2)
energy_2d = nn.Sequential(nn.Linear(2, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1))
opt_2d = torch.optim.Adam(energy_2d.parameters(), lr=2e-3, betas=(0.0, 0.999))
# constant learning rate for the first half, then linear decay to 0: the end point settles
sched_2d = torch.optim.lr_scheduler.LambdaLR(opt_2d, lambda t: min(1.0, 2 * (1 - t / (ITERS_2D + 1))))
buffer_2d = L.ReplayBuffer(10_000, (2,), init=lambda n: (2 * torch.rand(n, 2) - 1) * 4.5)
ALPHA_2D, K_2D, EPS_2D = 1e-3, 20, 0.02


def E2(x: torch.Tensor) -> torch.Tensor:
    return energy_2d(x).squeeze(-1)  # (B, 2) -> (B,)


_, p_true = L.grid_density(square.energy, EXTENT, N_GRID)
kl_history = {"step": [], "KL(p || p_θ)": []}
for step in tqdm(range(ITERS_2D + 1), desc="2-D EBM"):
    x_pos = x_2d[torch.randint(len(x_2d), (256,))]  # (256, 2)
    x_neg, idx = buffer_2d.sample(256)
    x_neg = L.langevin(E2, x_neg, n_steps=K_2D, step_size=EPS_2D).samples
    buffer_2d.update(idx, x_neg)
    e_pos, e_neg = E2(x_pos), E2(x_neg)
    loss = e_pos.mean() - e_neg.mean() + ALPHA_2D * (e_pos**2 + e_neg**2).mean()
    opt_2d.zero_grad()
    loss.backward()
    opt_2d.step()
    sched_2d.step()
    if step % 50 == 0:
        kl_history["step"].append(step)
        kl_history["KL(p || p_θ)"].append(L.kl_divergence(p_true, L.grid_density(E2, EXTENT, N_GRID)[1]))

# %%
_, p_model = L.grid_density(E2, EXTENT, N_GRID)
kl_learned = L.kl_divergence(p_true, p_model)
kl_uniform = L.kl_divergence(p_true, np.full_like(p_true, 1 / p_true.size))
fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
ext = [-EXTENT, EXTENT, -EXTENT, EXTENT]
axes[0].imshow(p_true, origin="lower", extent=ext)
axes[0].set_title("true density")
axes[1].imshow(p_model, origin="lower", extent=ext)
axes[1].set_title(f"learned exp(−E), KL = {kl_learned:.3f}")
axes[2].scatter(*buffer_2d.data[:2000].numpy().T, s=2)
axes[2].set(xlim=(-EXTENT, EXTENT), ylim=(-EXTENT, EXTENT), aspect="equal", title="replay-buffer samples")
axes[3].plot(kl_history["step"], kl_history["KL(p || p_θ)"])
axes[3].set(xlabel="update", ylabel="KL(p ‖ p_θ) on the grid", yscale="log", title="training")
plt.tight_layout()
plt.show()
print(f"KL(p || p_θ) = {kl_learned:.3f} nats (untrained-like uniform density: {kl_uniform:.3f} nats)")
half = N_GRID // 2  # the four quadrants hold one mode each: how much mass did the model give them?
mode_mass = np.array([p_model[:half, :half].sum(), p_model[:half, half:].sum(),
                      p_model[half:, :half].sum(), p_model[half:, half:].sum()])  # fmt: skip
print("learned mass per quadrant (true: 0.25 each):", mode_mass.round(3))

# %%
assert np.isfinite(kl_learned)
assert kl_learned < config.scaled(smoke=0.7, lecture=0.2, full=0.1), kl_learned
assert kl_learned < 0.5 * kl_uniform
# all four modes found, and at lecture scale with roughly the right weights (0.25 each)
assert mode_mass.min() > config.scaled(smoke=0.05, lecture=0.15, full=0.2), mode_mass
results.record("square_mixture_learned_grid_kl", kl_learned, unit="nats", iterations=ITERS_2D)
results.record("square_mixture_min_mode_mass", float(mode_mass.min()), true_value=0.25)

# %% [markdown]
# The learned density has its four modes in the right places. Their *weights* are the delicate
# part: a Langevin chain in one mode rarely crosses to another, so the negatives' share of each
# mode is set by where the chains (and the restarts from noise) happen to be rather than by the
# model's probabilities, and the contrastive gradient corrects the relative weights only weakly.
# During training (the KL curve) the weights slosh back and forth; they settle near 1/4 each as the
# learning rate decays. The eight-mode ring of Part 1 is harder: with this budget the MLP learns
# a ring and only slowly carves it into modes (exercise 3). In two dimensions we can *see* such
# defects; on images we will need a metric.
#
# ## 4. Part 3 — an EBM on MNIST
#
# ### The recipe of Du & Mordatch (2019)
#
# *Implicit generation and generalization in energy-based models* made neural EBMs work on
# images with a handful of tricks, which we follow:
#
# - **Short-run Langevin with decoupled step and noise.** In practice
#   $x \leftarrow x - \lambda\nabla_x E(x) + \sigma\xi$ with $\lambda = 10$ and $\sigma = 0.005$
#   (the exact pairing would be $\sigma = \sqrt{2\lambda} \approx 4.5$!), 60 steps per update,
#   pixels clipped to $[-1, 1]$; popular re-implementations also clip each component of
#   $\nabla_x E$ (we use $\pm 0.03$). This
#   samples a much colder distribution than $e^{-E}$: effectively noisy gradient descent on the
#   energy. It is a heuristic that works *because the model is trained with it*.
# - **A replay buffer.** Chains started from noise each update would need hundreds of steps;
#   instead we keep a buffer of past negatives, continue ~95 % of each batch from it and restart
#   ~5 % from uniform noise. The buffer turns many short runs into long persistent chains
#   (like persistent contrastive divergence for the RBM) while the restarts keep diversity.
# - **Regularisation**: a small L2 penalty $\alpha(E(x)^2 + E(\tilde x)^2)$ (we use $\alpha = 0.1$) keeps
#   energies near zero; without it the energy of data and samples can run off together and the
#   Langevin gradients explode. **Adam with $\beta_1 = 0$** (no momentum: the loss landscape
#   changes as the sampler changes) and **gradient clipping** add stability.
# - **Swish activations** $s(x) = x\,\sigma(x)$: smooth, so $\nabla_x E$ is continuous (ReLU
#   energies give piecewise-constant input gradients, poor for Langevin).
# - A common extra: a little Gaussian noise on the *real* images (σ = 0.005), so the energy cannot
#   be arbitrarily sharp on the exact training pixels.
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
# buffer chain gets more updates) and a larger learning rate ($10^{-3}$ instead of the more
# usual $10^{-4}$). The `full` scale moves back towards the published settings.

# %%
train_images, _ = data.load_mnist("train")
test_images, test_labels = data.load_mnist("test")
x_train = torch.from_numpy(data.to_float(train_images[:N_TRAIN], "symmetric"))[:, None]  # (N, 1, 28, 28)
x_test = torch.from_numpy(data.to_float(test_images, "symmetric"))[:, None]  # (2000, 1, 28, 28)
print(
    f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, range [{x_train.min():.0f}, {x_train.max():.0f}]"
)


class Swish(nn.Module):
    """s(x) = x·sigmoid(x): smooth, so Langevin sees a continuous gradient."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class ConvEnergy(nn.Module):
    """E(x): (B, 1, 28, 28) in [-1, 1] -> (B,) energies (low = digit-like)."""

    def __init__(self, c: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 5, stride=2, padding=4), Swish(),  # (B, c, 16, 16)
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), Swish(),  # (B, 2c, 8, 8)
            nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), Swish(),  # (B, 4c, 4, 4)
            nn.Conv2d(4 * c, 4 * c, 3, stride=2, padding=1), Swish(),  # (B, 4c, 2, 2)
            nn.Flatten(),  # (B, 16c)
            nn.Linear(16 * c, 4 * c), Swish(),
            nn.Linear(4 * c, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)  # (B,)


torch.manual_seed(0)
energy = ConvEnergy().to(DEVICE)
print(f"ConvEnergy: {sum(p.numel() for p in energy.parameters()):,} parameters")
opt = torch.optim.Adam(energy.parameters(), lr=LR_MNIST, betas=(0.0, 0.999))
ALPHA = 0.1
LANGEVIN = dict(grad_step=10.0, noise_std=0.005, clamp=(-1.0, 1.0), grad_clip=0.03)  # Du & Mordatch
buffer = L.ReplayBuffer(BUFFER_SIZE, (1, 28, 28), reinit_prob=0.05)


def sample_langevin(x: torch.Tensor, n_steps: int, **kw):
    """Langevin on the current energy without touching its parameter gradients."""
    energy.eval()
    for p in energy.parameters():
        p.requires_grad_(False)
    out = L.langevin(energy, x.to(DEVICE), n_steps=n_steps, **(LANGEVIN | kw))
    for p in energy.parameters():
        p.requires_grad_(True)
    energy.train()
    return out


# A fixed probe: held-out digits and uniform noise, to see the energy landscape take shape.
probe_real = x_test[:256].to(DEVICE)
probe_noise = (2 * torch.rand(256, 1, 28, 28, generator=torch.Generator().manual_seed(1)) - 1).to(DEVICE)
with torch.no_grad():
    gap_before = (energy(probe_noise).mean() - energy(probe_real).mean()).item()
print(f"before training: E(noise) − E(test digits) = {gap_before:+.4f}")

# %% [markdown]
# The training loop: one batch of real digits, one batch of negatives continued from the buffer
# by `K_TRAIN` Langevin steps, the contrastive loss with its L2 term, a clipped Adam step.

# %%
history = {"loss": [], "E(real)": [], "E(sample)": []}
snapshots = []
t0 = time.time()
for step in tqdm(range(ITERS_MNIST), desc="MNIST EBM"):
    x_pos = x_train[torch.randint(len(x_train), (BATCH,))].to(DEVICE)  # (B, 1, 28, 28)
    x_pos = (x_pos + 0.005 * torch.randn_like(x_pos)).clamp(-1, 1)
    x_neg, idx = buffer.sample(BATCH)  # 95 % continued chains, 5 % fresh noise
    x_neg = sample_langevin(x_neg, K_TRAIN).samples  # (B, 1, 28, 28)
    buffer.update(idx, x_neg)

    e_pos, e_neg = energy(x_pos), energy(x_neg)  # (B,), (B,)
    loss = e_pos.mean() - e_neg.mean() + ALPHA * (e_pos**2 + e_neg**2).mean()
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(energy.parameters(), max_norm=1.0)
    opt.step()

    history["loss"].append(loss.item())
    history["E(real)"].append(e_pos.mean().item())
    history["E(sample)"].append(e_neg.mean().item())
    if step in {ITERS_MNIST // 4, ITERS_MNIST // 2, ITERS_MNIST - 1}:
        snapshots.append((step + 1, x_neg[:16].detach().cpu()))
train_seconds = time.time() - t0
print(f"{ITERS_MNIST} updates in {train_seconds:.0f} s")

# %%
plotting.plot_history(history, xlabel="update")
plt.show()
fig, axes = plt.subplots(1, len(snapshots), figsize=(4 * len(snapshots), 2.2))
for ax, (step, imgs) in zip(np.atleast_1d(axes), snapshots, strict=True):
    plotting.image_grid(imgs, ncols=8, ax=ax, vrange=(-1, 1), title=f"negatives after {step} updates")
plt.show()

# %%
with torch.no_grad():
    gap_after = (energy(probe_noise).mean() - energy(probe_real).mean()).item()
print(f"after training:  E(noise) − E(test digits) = {gap_after:+.3f} (before: {gap_before:+.4f})")
assert all(np.isfinite(v).all() for v in history.values()), "non-finite loss or energies: the run diverged"
assert buffer.data.shape == (BUFFER_SIZE, 1, 28, 28) and torch.isfinite(buffer.data).all()
assert buffer.data.min() >= -1 and buffer.data.max() <= 1
# the energy gap moved: noise is now clearly more expensive than held-out digits
assert gap_after > gap_before + config.scaled(smoke=0.05, lecture=0.5, full=0.5), (gap_before, gap_after)
results.record("energy_gap_noise_minus_test", gap_after, unit="energy")

# %% [markdown]
# ### Generation from pure noise with long chains
#
# The buffer holds the training chains. A fairer test of the *energy* is to start fresh chains
# from uniform noise and run them much longer than during training (`K_LONG` steps). We record
# every few steps to animate the chain: watch noise being carved into strokes.

# %%
gen_noise = torch.Generator().manual_seed(2)
x0 = 2 * torch.rand(64, 1, 28, 28, generator=gen_noise) - 1  # (64, 1, 28, 28)
long_run = sample_langevin(x0, K_LONG, return_chain=True, chain_every=max(1, K_LONG // 30))
plotting.image_grid(long_run.samples, ncols=16, vrange=(-1, 1), title=f"{K_LONG} Langevin steps from noise")
plt.show()
print("chain frames:", tuple(long_run.chain.shape))  # (T, 64, 1, 28, 28)

# %%
plotting.animate_chain(long_run.chain[:, :16], ncols=8, interval=150)

# %%
assert long_run.chain.shape[0] <= 40 and torch.isfinite(long_run.samples).all()
with torch.no_grad():
    e_start, e_end = energy(x0.to(DEVICE)).mean().item(), energy(long_run.samples).mean().item()
print(f"mean energy: start {e_start:+.3f} -> end {e_end:+.3f}")
assert e_end < e_start, "Langevin on the trained energy should lower the energy of noise"

# %% [markdown]
# ### One more use of the energy: out-of-distribution scores
#
# $E_\theta(x)$ is an unnormalised negative log-density, so *differences* of energies are
# log-likelihood ratios: a trained EBM can flag inputs that do not look like its data without
# ever computing $Z$. We score held-out test digits, uniform noise, and digits turned upside down
# (the same pixel statistics, wrong shapes), and summarise each separation by the AUROC
# (probability that a random test digit has lower energy than a random outlier; 0.5 = chance).

# %%
with torch.no_grad():
    e_test = energy(x_test.to(DEVICE)).cpu().numpy()  # (2000,)
    e_noise = energy((2 * torch.rand(2000, 1, 28, 28, generator=gen_noise) - 1).to(DEVICE)).cpu().numpy()
    e_flip = energy(torch.flip(x_test, dims=[2]).to(DEVICE)).cpu().numpy()  # upside down


def auroc(e_in: np.ndarray, e_out: np.ndarray) -> float:
    return roc_auc_score(np.r_[np.zeros(len(e_in)), np.ones(len(e_out))], np.r_[e_in, e_out])


auc_noise, auc_flip = auroc(e_test, e_noise), auroc(e_test, e_flip)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.2))
for ax, sets in [(ax1, [(e_test, "test digits"), (e_flip, "flipped digits"), (e_noise, "uniform noise")]),
                 (ax2, [(e_test, "test digits"), (e_flip, "flipped digits")])]:  # fmt: skip
    bins = np.linspace(min(v.min() for v, _ in sets), max(v.max() for v, _ in sets), 60)
    for vals, lab in sets:
        ax.hist(vals, bins=bins, alpha=0.6, label=lab)
    ax.set(xlabel="energy E(x)", ylabel="count")
    ax.legend()
ax1.set_title(f"all inputs (AUROC test vs noise {auc_noise:.2f})")
ax2.set_title(f"zoom: test vs flipped (AUROC {auc_flip:.2f})")
plt.tight_layout()
plt.show()
print(f"AUROC test vs noise {auc_noise:.3f}, test vs flipped {auc_flip:.3f}")

# %%
assert auc_noise > config.scaled(smoke=0.7, lecture=0.95, full=0.99), auc_noise
assert auc_flip > config.scaled(smoke=0.3, lecture=0.55, full=0.7), auc_flip
results.record("ood_auroc_noise", auc_noise)
results.record("ood_auroc_flipped", auc_flip)

# %% [markdown]
# Noise is trivially recognised. Flipped digits are harder: they have the same strokes and ink
# statistics, so only an energy that has learned *shapes* separates them — a useful test of what
# the model has actually learned (and a known weakness of likelihood-based OOD detection in
# general: deep generative models can assign *higher* likelihood to some outliers than to data).
#
# ### Measuring the samples
#
# Pictures can flatter. We measure samples the same way in every lecture (`lib.metrics`, see
# `00_course_tour`): a small CNN classifier trained once on MNIST provides a feature space, and the
# **Fréchet classifier distance** (FCD) between the Gaussians fitted to the features of two sets,
#
# $$\mathrm{FCD} = \|\mu_a - \mu_b\|^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b - 2(\Sigma_a\Sigma_b)^{1/2}\big),$$
#
# is our FID — with our classifier, **not** comparable with Inception FIDs in papers. Two
# reference points make it readable: held-out real digits (the floor) and uniform noise (the
# ceiling), both against the same number of training digits. The classifier's predicted labels
# tell us about **mode coverage**: a sampler stuck on a few digits shows up immediately.
#
# Our samples are `N_EVAL` buffer states, each given a few more Langevin steps (so that freshly
# restarted chains are not scored as noise).

# %%
clf = metrics.load_classifier()
print(f"classifier test accuracy: {clf.test_accuracy:.3f}")
ref = metrics.reference_fcd(n=N_EVAL)
rng = np.random.default_rng(0)
train_ref = train_images[rng.choice(len(train_images), N_EVAL, replace=False)]  # uint8 (N_EVAL, 28, 28)

eval_samples = torch.cat(
    [
        sample_langevin(buffer.data[i : min(i + 500, N_EVAL)], K_TRAIN).samples.cpu()
        for i in range(0, N_EVAL, 500)
    ]
)  # (N_EVAL, 1, 28, 28)
fcd = metrics.fcd(eval_samples, train_ref, pixel_range_a="symmetric", pixel_range_b="uint8")
labels = metrics.label_distribution(eval_samples, pixel_range="symmetric")
print(
    f"FCD: samples {fcd:.2f}   floor (held-out digits) {ref['floor']:.2f}   ceiling (noise) {ref['ceiling']:.2f}"
)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.4), gridspec_kw={"width_ratios": [2, 1]})
plotting.image_grid(eval_samples[:48], ncols=16, ax=ax1, vrange=(-1, 1), title="EBM samples (replay buffer)")
ax2.bar(range(10), labels)
ax2.axhline(0.1, color="grey", ls="--", label="uniform")
ax2.set(xticks=range(10), xlabel="predicted digit", ylabel="fraction of samples", title="mode coverage")
ax2.legend()
plt.show()

# %%
assert eval_samples.shape == (N_EVAL, 1, 28, 28) and torch.isfinite(eval_samples).all()
assert ref["floor"] < ref["ceiling"]
assert np.isclose(labels.sum(), 1.0)
assert fcd < config.scaled(smoke=1.0, lecture=0.15, full=0.05) * ref["ceiling"], (
    fcd,
    ref,
)  # lecture run: 39 vs 1400
if SCALE != "smoke":
    assert (labels > 0.02).sum() >= 7, f"too few digit classes among the samples: {labels.round(3)}"
results.record("fcd_samples", fcd, unit="FCD (course classifier)", n=N_EVAL)
results.record("fcd_floor_heldout_real", ref["floor"], unit="FCD (course classifier)", n=N_EVAL)
results.record("fcd_ceiling_noise", ref["ceiling"], unit="FCD (course classifier)", n=N_EVAL)
results.record("classifier_test_accuracy", clf.test_accuracy)
results.record("label_coverage_classes_over_2pct", int((labels > 0.02).sum()))
results.record("train_seconds", round(train_seconds, 1), unit="s")

# %% [markdown]
# ## Conclusion
#
# - An EBM is a Boltzmann distribution with a neural energy. Its likelihood gradient is *data
#   pushes energy down, model samples push it up*, exactly as for the RBM, but the negative phase
#   now needs a sampler that works for any differentiable energy.
# - Langevin dynamics uses $\nabla_x E$; on targets we know exactly we *measured* that it is
#   biased at finite step size and that the Metropolis adjustment (MALA) removes the bias, while
#   all local samplers struggle to move between separated modes.
# - With short-run Langevin, a replay buffer, an L2 energy penalty, β₁ = 0 and clipping, a small
#   convolutional EBM learns digit-like strokes on a CPU in minutes. Its samples are *measured*:
#   their FCD lies between the floor of real held-out digits and the noise ceiling (compare the
#   numbers with the VAE and GAN lectures, which use the same classifier), the predicted labels
#   show how many digit classes it covers, and its energy doubles as an out-of-distribution score.
# - The trained energy is tied to its sampler: the sharp step/noise decoupling samples a cold
#   distribution, not $e^{-E}$.
#
# ## Exercises
#
# 1. **ULA bias, exactly.** For $E(x) = x^\top\Sigma^{-1}x/2$ show that ULA's stationary
#    covariance has eigenvalues $v_i/(1-\varepsilon/4v_i)$ (check with `L.ula_stationary_variance`
#    and a run of `L.langevin`). Why does the ring widen but not shift?
# 2. **Mode hopping.** Run a *single* MALA chain of 20 000 steps on the mixture. How many mode
#    switches do you see as a function of `std`? Relate this to the energy barrier between modes.
# 3. **Learning eight modes.** Train the Part 2 MLP on the eight-mode mixture of Part 1. Compare
#    the grid KL with that of a perfect *ring* (spread the mixture over 720 components on the
#    circle: ≈ 0.21 nats). What helps the model resolve the modes: more updates, width, depth,
#    larger Langevin steps?
# 4. **Tempering the sampler.** In Part 3, replace the decoupled step by the exact pairing
#    (`step_size=ε`, $\sigma=\sqrt\varepsilon$) for a few $\varepsilon$. What do samples look like,
#    and what does this tell you about the temperature of the Du & Mordatch sampler?
# 5. **Break the training.** Set `ALPHA = 0`, or raise the learning rate tenfold, or drop
#    `grad_clip`, and watch `E(real)` and `E(sample)`. Which of the divergence signs of section 4
#    appear first?
# 6. **No buffer.** Set `reinit_prob=1.0` (every chain starts from noise: short-run MCMC à la
#    Nijkamp et al. 2019) and compare the FCD at the same budget. What happens with 60 steps?
# 7. **Inpainting.** Fix the top half of a test digit and run Langevin only on the bottom half
#    (mask the update). Does the energy complete the digit plausibly?
