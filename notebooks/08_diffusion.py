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
# # 08 — Score-based and diffusion models: Langevin sampling with a learned score
#
# Lecture 03 learned an **energy** $E_\theta(x)$ and sampled $p_\theta \propto e^{-E_\theta}$ with
# Langevin dynamics. Training needed samples of the model itself (the negative phase), hence
# Markov chains inside the training loop, a replay buffer and a bag of stabilising tricks.
# Langevin dynamics, however, only ever uses the **score** $\nabla_x \log p(x) = -\nabla_x E(x)$.
# This lecture learns the score directly, by regression on noisy data and without any sampling
# during training, and then follows the idea to its modern conclusion: the denoising diffusion
# models (DDPM, DDIM) behind today's image generators, and also behind a growing number of
# samplers in physics (lattice field theory, molecular configurations, inverse problems).
#
# **What you will learn**
# - the score, why it does not see the partition function, score matching {cite:p}`hyvarinen2005` and
#   denoising score matching {cite:p}`vincent2011`, derived;
# - why Langevin with a learned score fails in low-density regions, and annealed Langevin over a
#   ladder of noise levels {cite:p}`song2019`, measured on the exact 2-D densities of lecture 03
#   and compared with lecture 03's contrastive EBM on the same target and budget;
# - DDPM {cite:p}`ho2020`: the forward process in closed form, the posterior, the ε-prediction
#   loss as weighted denoising score matching, ancestral sampling; a small U-Net on MNIST, measured
#   with the course's Fréchet classifier distance and checked for memorisation;
# - DDIM {cite:p}`song2021ddim`: a deterministic sampler with far fewer steps, and what the
#   steps cost in quality;
# - the physics: the forward process as an Ornstein–Uhlenbeck diffusion, its Fokker–Planck
#   equation, the reverse-time SDE and the probability-flow ODE, and the way back to lecture 03.
#
# **Prerequisites**: `03_ebm_langevin` (energies, Langevin, the 2-D targets, the FCD),
# `04_vae_pytorch` (the Gaussian reparameterisation, KL between Gaussians). PyTorch autograd.
#
# The schedules, losses and samplers live in `lib/diffusion.py`, the memorisation check in
# `lib/memorisation.py` (tested against exact results in `tests/test_diffusion.py` and
# `tests/test_memorisation.py`); the networks and training loops you are meant to read stay here.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from IPython.display import Markdown, display
from tqdm.auto import tqdm

from lib import (
    cache,
    comparison,
    config,
    data,
    diffusion,
    divergences,
    memorisation,
    metrics,
    plotting,
    results,
)
from lib import samplers, toy2d

# The networks are small: one CPU thread is nearly as fast as two, and it avoids the large
# slow-downs of PyTorch's spinning worker threads when the cores are shared (as in CI).
torch.set_num_threads(1)
SCALE = config.setup("08_diffusion", seed=0)
# The seed config.setup used (COURSE_SEED replaces it); every seed below is derived from it.
SEED = torch.initial_seed()
DEVICE = config.torch_device()

# Part 1: scores on the 2-D target of lecture 03 (four Gaussians at (±1.5, ±1.5), std 0.5)
SQUARE_MEANS = [[-1.5, -1.5], [1.5, -1.5], [-1.5, 1.5], [1.5, 1.5]]
SQUARE_STD = 0.5
N_DATA_2D = 20_000  # training points, as in lecture 03
ITERS_2D = config.scaled(smoke=500, lecture=1000, full=6000)  # contrastive-EBM updates, as in lecture 03
# A DSM update needs no Langevin chains: 4× as many updates take about the same time (printed below).
ITERS_DSM = 4 * ITERS_2D
BATCH_2D = 256
EXTENT, N_GRID, HIST_GRID = 4.0, 100, 30  # the grids of lecture 03
SIGMAS = np.geomspace(3.0, 0.1, 10)  # the noise ladder σ_1 > … > σ_L
N_SAMPLES_2D = config.scaled(smoke=4000, lecture=10_000, full=20_000)  # samples per histogram
LANGEVIN_STEPS = 30  # annealed Langevin: steps per noise level
LANGEVIN_EPS = 2e-3  # ε at the smallest σ; α_i = ε σ_i² / σ_L²
# Part 2: DDPM on MNIST
T_STEPS = config.scaled(smoke=20, lecture=100, full=1000)  # diffusion steps T
CHANNELS = config.scaled(smoke=8, lecture=16, full=64)  # U-Net base width
TRAIN_STEPS = config.scaled(smoke=200, lecture=4000, full=50_000)  # optimizer updates
# The U-Net's convolutions run about twice as fast on two threads (the small 2-D networks do not);
# smoke stays on one, since CI runs two notebooks side by side on two cores, and `make run`, which
# runs two at once, gives each notebook its share of the cores (config.threads).
UNET_THREADS = config.threads(config.scaled(smoke=1, lecture=2, full=None))  # full: every core
BATCH = config.scaled(smoke=64, lecture=64, full=128)
LR = 1e-3
EMA_DECAY = 0.995
N_EVAL = metrics.sample_count()  # samples per FCD: the same n in every lecture at this scale
SAMPLE_BATCH = 250  # images per call of a sampler
DDIM_STEPS = [s for s in (10, 20, 50, 100) if s < T_STEPS]

train_images, train_labels = data.load_mnist("train")
test_images, _ = data.load_mnist("test")
results.describe(
    dataset="MNIST (offline subset), pixels in [-1, 1]; 2-D Gaussian mixture of lecture 03",
    n_train=len(train_images),
    n_test=len(test_images),
    diffusion_steps=T_STEPS,
    unet_channels=CHANNELS,
    train_steps=TRAIN_STEPS,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Scores
#
# ### The score does not see the partition function
#
# For $p(x) = e^{-E(x)}/Z$ the **score** is
#
# $$s(x) = \nabla_x \log p(x) = -\nabla_x E(x) - \underbrace{\nabla_x \log Z}_{=\,0} .$$
#
# $Z$ is a constant of $x$, so it drops out. A model of the score, $s_\theta(x) \approx s(x)$, is
# therefore free of the normalisation problem that made lecture 03's likelihood gradient need a
# negative phase. And the score is all that Langevin dynamics needs:
# $x \leftarrow x + \tfrac{\varepsilon}{2} s(x) + \sqrt\varepsilon\,\xi$.
#
# ### Score matching
#
# Score matching {cite:p}`hyvarinen2005` fits $s_\theta$ by the Fisher divergence
# $J(\theta) = \tfrac12\mathbb{E}_{p}\,|s_\theta(x) - \nabla\log p(x)|^2$.
# The unknown $\nabla \log p$ appears only in the cross term; integrating it by parts
# ($\int p\, s_\theta\cdot\nabla\log p = \int s_\theta \cdot\nabla p = -\int p\,\nabla\!\cdot s_\theta$,
# boundary terms vanishing) gives, up to a constant,
#
# $$J(\theta) = \mathbb{E}_{p}\Big[\tfrac12 |s_\theta(x)|^2 + \nabla\!\cdot s_\theta(x)\Big] + \text{const}.$$
#
# Only data are needed. The price is the divergence $\nabla\cdot s_\theta$: $D$ backward passes in
# $D$ dimensions, hopeless for images ($D = 784$).
#
# ### Denoising score matching
#
# Blur the data instead: $\tilde x = x + \sigma\varepsilon$, $\varepsilon\sim\mathcal N(0, I)$, so
# $\tilde x$ has the density $p_\sigma = p * \mathcal N(0, \sigma^2 I)$ and
# $\nabla_{\tilde x}\log q(\tilde x\mid x) = -(\tilde x - x)/\sigma^2 = -\varepsilon/\sigma$. The
# **denoising score matching** loss {cite:p}`vincent2011` regresses the model on this conditional score:
#
# $$L_{\rm DSM}(\theta) = \tfrac12\,\mathbb{E}_{x\sim p,\ \tilde x\sim q(\cdot\mid x)}\,
#   \Big|s_\theta(\tilde x) - \nabla_{\tilde x}\log q(\tilde x\mid x)\Big|^2 .$$
#
# *Derivation.* Expand the square. The term $|s_\theta|^2$ is the same as in the Fisher divergence
# of $p_\sigma$. The cross term is
# $\int\!\!\int p(x)\,q(\tilde x\mid x)\, s_\theta(\tilde x)\cdot\nabla_{\tilde x}\log q(\tilde x\mid x)
# = \int s_\theta(\tilde x)\cdot\nabla_{\tilde x}\!\int p(x)q(\tilde x\mid x)\,dx\,d\tilde x
# = \int p_\sigma(\tilde x)\, s_\theta(\tilde x)\cdot\nabla\log p_\sigma(\tilde x)\,d\tilde x$,
# the cross term of $\tfrac12\mathbb{E}_{p_\sigma}|s_\theta - \nabla\log p_\sigma|^2$. Hence
#
# $$L_{\rm DSM}(\theta) = \tfrac12\,\mathbb{E}_{p_\sigma}\big|s_\theta(\tilde x) - \nabla\log p_\sigma(\tilde x)\big|^2 + C ,$$
#
# with $C$ independent of $\theta$. The minimiser is the **score of the noised density**,
# $s^*(\tilde x) = \nabla\log p_\sigma(\tilde x) = \mathbb{E}[x - \tilde x\mid\tilde x]/\sigma^2$: the
# optimal *denoiser* $\mathbb{E}[x\mid\tilde x] = \tilde x + \sigma^2\nabla\log p_\sigma(\tilde x)$
# (Tweedie's formula) and the score are one object. No divergence, no sampling: a regression.
# `tests/test_diffusion.py` checks both statements (the constant offset, and that the least-squares
# minimiser *is* the exact score of a noised Gaussian mixture).
#
# ### Langevin with a learned score fails where there are no data
#
# Data concentrate in small regions. Far from them (where Langevin chains start) DSM at a small
# $\sigma$ has no training points, so $s_\theta$ is arbitrary there. Worse, even with the *exact*
# score, Langevin between well-separated modes almost never crosses the empty region between
# them: the relative weights of the modes are then set by where the chains started, not by $p$.
#
# ### Annealed Langevin
#
# Following {cite:t}`song2019`, learn one **noise-conditional** score $s_\theta(x, \sigma)$ for a ladder
# $\sigma_1 > \sigma_2 > \dots > \sigma_L$, with $\sigma_1$ comparable to the distance between
# modes (the noised density is then nearly one Gaussian blob: mixing is easy) and $\sigma_L$ small
# enough that $p_{\sigma_L}\approx p$. Train with DSM averaged over the levels, weighted by
# $\lambda(\sigma) = \sigma^2$ so that every level contributes $O(1)$:
#
# $$L(\theta) = \mathbb{E}_{i}\ \tfrac12\,\mathbb{E}\,\big|\sigma_i\, s_\theta(x + \sigma_i\varepsilon,\sigma_i) + \varepsilon\big|^2 .$$
#
# To sample, run a few Langevin steps at each level from the largest to the smallest, with step
# $\alpha_i = \varepsilon\,\sigma_i^2/\sigma_L^2$ (the step shrinks with the width of $p_{\sigma_i}$),
# each level starting where the previous one ended. The chains equilibrate among the modes while the
# density is still blurred, and the later levels only sharpen.
#
# Here the score network is written as the gradient of a noise-conditional **energy**,
# $s_\theta(x,\sigma) = -\nabla_x E_\theta(x,\sigma)$, with the MLP of lecture 03. Then each
# level of annealed Langevin is exactly `lib.samplers.langevin` on the energy $E_\theta(\cdot, \sigma_i)$,
# and at $\sigma_L$ we can normalise $e^{-E_\theta}$ on a grid and measure it with **the same KL as
# lecture 03**. The only difference from lecture 03 is the loss: regression on noisy data
# instead of contrastive divergence with Langevin negatives.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The target, its noised scores, and the failure of plain Langevin
#
# First with the *exact* scores (`diffusion.mixture_score`: a Gaussian mixture convolved with
# $\mathcal N(0,\sigma^2)$ is the same mixture with every variance widened by $\sigma^2$). To make the
# failure visible we give the four modes unequal weights (0.1, 0.2, 0.3, 0.4). Plain Langevin at
# $\sigma_L$, started uniformly, keeps the weights of its starting points (the four quadrants of the
# uniform start: equal); annealed Langevin, with the same number of steps, should recover the true
# ones. The cell after the figure asserts both.

# %%
square = toy2d.GaussianMixture(SQUARE_MEANS, SQUARE_STD)
uneven = toy2d.GaussianMixture(SQUARE_MEANS, SQUARE_STD, weights=[0.1, 0.2, 0.3, 0.4])
gen2d = torch.Generator().manual_seed(SEED)


def exact_energy(target: toy2d.GaussianMixture, sigma: float):
    """The energy −log p_σ of a mixture noised by N(0, σ²): the same mixture, variances + σ²."""
    noised = toy2d.GaussianMixture(target.means, np.sqrt(target.stds**2 + sigma**2), target.weights)
    return noised.energy


def annealed_langevin(energy_at, x: torch.Tensor, sigmas, *, n_steps: int, eps: float) -> torch.Tensor:
    """Song & Ermon's annealed Langevin: at each σ_i, n_steps of samplers.langevin on the energy
    E(·, σ_i) with step α_i = eps σ_i² / σ_L²; energy_at(σ) returns that energy."""
    for sigma in sigmas:
        step = eps * (sigma / sigmas[-1]) ** 2
        x = samplers.langevin(energy_at(sigma), x, n_steps=n_steps, step_size=step, generator=gen2d).samples
    return x


def uniform_start(n: int) -> torch.Tensor:
    return (2 * torch.rand(n, 2, generator=gen2d, dtype=torch.float64) - 1) * EXTENT  # (n, 2)


def quadrant_weights(x) -> np.ndarray:
    """Fraction of points in each quadrant, in the order of SQUARE_MEANS."""
    x = np.asarray(x)
    right, top = x[:, 0] > 0, x[:, 1] > 0
    return np.array(
        [np.mean(~right & ~top), np.mean(right & ~top), np.mean(~right & top), np.mean(right & top)]
    )


n_demo = 2000
plain = samplers.langevin(
    exact_energy(uneven, SIGMAS[-1]),
    uniform_start(n_demo),
    n_steps=LANGEVIN_STEPS * len(SIGMAS),
    step_size=LANGEVIN_EPS,
    generator=gen2d,
).samples
annealed = annealed_langevin(
    lambda s: exact_energy(uneven, s), uniform_start(n_demo), SIGMAS, n_steps=LANGEVIN_STEPS, eps=LANGEVIN_EPS
)
w_plain, w_annealed = quadrant_weights(plain), quadrant_weights(annealed)

fig, axes = plt.subplots(1, 4, figsize=(16, 4))
gx, gy = np.meshgrid(np.linspace(-EXTENT, EXTENT, 17), np.linspace(-EXTENT, EXTENT, 17))
pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1))
for ax, sigma in zip(axes[:2], [SIGMAS[0], SIGMAS[-1]], strict=True):
    _, p = toy2d.grid_density(exact_energy(uneven, sigma), EXTENT, N_GRID)
    sc = diffusion.mixture_score(uneven.means, uneven.stds, pts, sigma, uneven.weights).numpy()
    sc = sc / (np.linalg.norm(sc, axis=1, keepdims=True) + 1e-12)  # directions only
    ax.imshow(p, origin="lower", extent=[-EXTENT, EXTENT, -EXTENT, EXTENT], cmap="Greys")
    ax.quiver(gx, gy, sc[:, 0].reshape(gx.shape), sc[:, 1].reshape(gx.shape), color="C0")
    ax.set_title(f"p_σ and its score direction, σ = {sigma:.2f}")
for ax, x, name, w in [(axes[2], plain, "plain Langevin at σ_L", w_plain),
                       (axes[3], annealed, "annealed Langevin", w_annealed)]:  # fmt: skip
    ax.scatter(*x[:1000].numpy().T, s=2)
    ax.set(xlim=(-EXTENT, EXTENT), ylim=(-EXTENT, EXTENT), aspect="equal")
    ax.set_title(f"{name}\nquadrant weights {np.round(w, 2)}")
plt.tight_layout()
plt.show()
print("true weights       ", uneven.weights)
print("plain Langevin     ", w_plain.round(3))
print("annealed Langevin  ", w_annealed.round(3))

# %%
# With the exact score this is a property of the samplers, not of training: annealing gets the
# weights right, plain Langevin (same number of steps) does not. The bounds are a few standard
# errors of n_demo samples (0.01) around what the two samplers do.
assert np.abs(w_annealed - uneven.weights).max() < 0.05, w_annealed
assert np.abs(w_plain - uneven.weights).max() > 0.05, w_plain

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Learning the noise-conditional score with DSM
#
# The network: lecture 03's MLP (two hidden layers of 64 SiLU units), with $\log\sigma$ as a third
# input, and its output divided by $\sigma$ so that $\sigma s_\theta = -\sigma\nabla E_\theta$ is of
# order one at every level. The loss is `diffusion.dsm_loss` with $\sigma$ drawn from the ladder for
# every point; the score $-\nabla_x E_\theta$ is computed with `create_graph=True`, so the loss can
# be differentiated once more with respect to $\theta$.


# %%
class NoiseEnergy(nn.Module):
    """E_θ(x, σ) = g_θ(x, log σ) / σ: (B, 2), (B,) -> (B,)."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(3, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype).expand(len(x))
        return self.net(torch.cat([x, sigma.log()[:, None]], 1)).squeeze(-1) / sigma


def score_of(model: NoiseEnergy, x: torch.Tensor, sigma, *, create_graph: bool = False) -> torch.Tensor:
    """s_θ(x, σ) = −∇_x E_θ(x, σ), (B, 2)."""
    with torch.enable_grad():
        x = x if x.requires_grad else x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(x, sigma).sum(), x, create_graph=create_graph)
    return -grad


def energy_at(model: NoiseEnergy, sigma: float):
    """The energy x ↦ E_θ(x, σ) at one noise level (for samplers.langevin and toy2d.grid_density)."""
    return lambda x: model(x.float(), torch.tensor(sigma, dtype=torch.float32)).to(x.dtype)


torch.manual_seed(SEED)
x_2d = torch.tensor(square.sample(N_DATA_2D, seed=SEED), dtype=torch.float32)  # (20000, 2)
sigmas_t = torch.tensor(SIGMAS, dtype=torch.float32)
score_net = NoiseEnergy()
score_net_init = NoiseEnergy()
score_net_init.load_state_dict(score_net.state_dict())  # a frozen copy of the untrained network
opt = torch.optim.Adam(score_net.parameters(), lr=2e-3)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, 2 * (1 - t / ITERS_DSM)))  # as in 03
history_2d = {"DSM loss": []}
t0 = time.time()
for _ in tqdm(config.training(range(ITERS_DSM)), desc="DSM, 2-D"):
    x0 = x_2d[torch.randint(len(x_2d), (BATCH_2D,))]  # (256, 2)
    sigma = sigmas_t[torch.randint(len(SIGMAS), (BATCH_2D,))]  # (256,)
    noise = torch.randn_like(x0)
    loss = diffusion.dsm_loss(lambda x, s: score_of(score_net, x, s, create_graph=True), x0, sigma, noise)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    history_2d["DSM loss"].append(loss.item())
seconds_dsm = time.time() - t0
print(f"DSM: {len(history_2d['DSM loss'])} updates in {seconds_dsm:.1f} s")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Lecture 03's EBM on the same target and budget
#
# For the comparison we train lecture 03's contrastive EBM again, with its recipe (the same MLP
# without the $\sigma$ input, 20 Langevin steps per update from a replay buffer, the L2 energy
# penalty, Adam with $\beta_1 = 0$) and lecture 03's number of updates (`ITERS_2D`) on the same
# data. The budget we hold equal is the training *time*: a DSM update costs one forward and one
# double-backward pass of the MLP, a contrastive update 20 Langevin steps on top, so the DSM model
# gets `ITERS_DSM` = 4 × `ITERS_2D` updates; both training times are printed.

# %%
torch.manual_seed(SEED)
ebm = nn.Sequential(nn.Linear(2, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1))
opt_ebm = torch.optim.Adam(ebm.parameters(), lr=2e-3, betas=(0.0, 0.999))
sched_ebm = torch.optim.lr_scheduler.LambdaLR(opt_ebm, lambda t: min(1.0, 2 * (1 - t / ITERS_2D)))
buffer_2d = samplers.ReplayBuffer(
    10_000, (2,), reinit_prob=0.05, init=lambda n: (2 * torch.rand(n, 2) - 1) * 4.5
)


def E_ebm(x: torch.Tensor) -> torch.Tensor:
    return ebm(x.float()).squeeze(-1).to(x.dtype)  # (B, 2) -> (B,)


_, p_ebm_init = toy2d.grid_density(E_ebm, EXTENT, N_GRID)  # before training
t0, updates_ebm = time.time(), 0
for _ in tqdm(config.training(range(ITERS_2D)), desc="contrastive EBM, 2-D"):
    x_pos = x_2d[torch.randint(len(x_2d), (BATCH_2D,))]
    x_neg, idx = buffer_2d.sample(BATCH_2D)
    x_neg = samplers.langevin(E_ebm, x_neg, n_steps=20, step_size=0.02).samples
    buffer_2d.update(idx, x_neg)
    e_pos, e_neg = E_ebm(x_pos), E_ebm(x_neg)
    loss = e_pos.mean() - e_neg.mean() + 1e-3 * (e_pos**2 + e_neg**2).mean()
    opt_ebm.zero_grad()
    loss.backward()
    opt_ebm.step()
    sched_ebm.step()
    updates_ebm += 1
seconds_ebm = time.time() - t0
print(f"contrastive EBM: {updates_ebm} updates in {seconds_ebm:.1f} s")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Measuring both against the exact density
#
# Two numbers per model, both from lecture 03:
#
# - the **density KL** $\mathrm{KL}(p\,\|\,p_\theta)$ on the $100\times100$ grid, with $p_\theta$ the
#   grid-normalised $e^{-E_\theta}$ (for the score model: $E_\theta(\cdot,\sigma_L)$, the energy of
#   $p_{\sigma_L}$, whose exact KL to $p$ is the floor printed below);
# - the **sample KL** $\mathrm{KL}(\hat q\,\|\,p)$ of a $30\times30$ histogram $\hat q$ of samples
#   (annealed Langevin for the score model; Langevin from uniform noise with the EBM's own 20-step
#   ε for as many steps as annealing takes, for the EBM), beside the floor of as many exact samples.
#
# The reference for "has it learned?" is the same network before training.

# %% slideshow={"slide_type": "subslide"}
_, p_true = toy2d.grid_density(square.energy, EXTENT, N_GRID)
_, p_true_hist = toy2d.grid_density(square.energy, EXTENT, HIST_GRID)


def density_kl(energy) -> float:
    return divergences.kl_divergence(p_true, toy2d.grid_density(energy, EXTENT, N_GRID)[1])


def sample_kl(x) -> float:
    return divergences.kl_divergence(toy2d.histogram2d(x, EXTENT, HIST_GRID), p_true_hist)


def dsm_samples(model: NoiseEnergy) -> torch.Tensor:
    return annealed_langevin(
        lambda s: energy_at(model, s),
        uniform_start(N_SAMPLES_2D),
        SIGMAS,
        n_steps=LANGEVIN_STEPS,
        eps=LANGEVIN_EPS,
    )


n_langevin = LANGEVIN_STEPS * len(SIGMAS)
x_dsm, x_dsm_init = dsm_samples(score_net), dsm_samples(score_net_init)
x_ebm = samplers.langevin(
    E_ebm, uniform_start(N_SAMPLES_2D), n_steps=n_langevin, step_size=0.02, generator=gen2d
).samples
kl = {
    "DSM score model": (density_kl(energy_at(score_net, SIGMAS[-1])), sample_kl(x_dsm)),
    "same network, untrained": (density_kl(energy_at(score_net_init, SIGMAS[-1])), sample_kl(x_dsm_init)),
    "contrastive EBM (lecture 03)": (density_kl(E_ebm), sample_kl(x_ebm)),
    "same EBM, untrained": (divergences.kl_divergence(p_true, p_ebm_init), float("nan")),
    "exact p_σL / exact samples (floor)": (
        density_kl(exact_energy(square, SIGMAS[-1])),
        sample_kl(square.sample(N_SAMPLES_2D, seed=SEED + 1)),
    ),
}
print(f"{'model':38s} {'KL(p‖p_θ) grid':>15s} {'KL(samples‖p)':>14s}")
for name, (d, s) in kl.items():
    print(f"{name:38s} {d:15.3f} {s:14.3f}")
print(f"training time: DSM {seconds_dsm:.1f} s, contrastive EBM {seconds_ebm:.1f} s")

ext = [-EXTENT, EXTENT, -EXTENT, EXTENT]
fig, axes = plt.subplots(1, 5, figsize=(20, 4))
axes[0].imshow(p_true, origin="lower", extent=ext)
axes[0].set_title("true density")
axes[1].imshow(
    toy2d.grid_density(energy_at(score_net, SIGMAS[-1]), EXTENT, N_GRID)[1], origin="lower", extent=ext
)
axes[1].set_title("DSM: exp(−E_θ(·, σ_L))")
axes[2].imshow(toy2d.grid_density(E_ebm, EXTENT, N_GRID)[1], origin="lower", extent=ext)
axes[2].set_title("contrastive EBM: exp(−E_θ)")
for ax, x, name in [(axes[3], x_dsm, "DSM + annealed Langevin"), (axes[4], x_ebm, "EBM + Langevin")]:
    ax.imshow(p_true, origin="lower", extent=ext, cmap="Greys")
    ax.scatter(*x[:1500].numpy().T, s=2, c="C3")
    ax.set(xlim=(-EXTENT, EXTENT), ylim=(-EXTENT, EXTENT), title=f"{name} samples")
plt.tight_layout()
plt.show()

# %% tags=["learning-check"]
# The DSM score model against the same network before training, on both KLs.
# Smoke (2000 DSM updates), COURSE_SEED=0,1,2: density KL / untrained 0.025–0.16 (KL 0.05–0.22
# nats), sample KL / untrained 0.017–0.021. Untrained (one update, seed 0): 0.91 and 0.88.
d_dsm, s_dsm = kl["DSM score model"]
d_init, s_init = kl["same network, untrained"]
assert d_dsm < 0.25 * d_init, (d_dsm, d_init)
assert s_dsm < 0.25 * s_init, (s_dsm, s_init)

# %% tags=["learning-check"]
# Lecture 03's contrastive EBM, trained here on the same data and budget, against itself untrained.
# Smoke (500 updates), COURSE_SEED=0,1,2: density KL / untrained 0.048–0.076. Untrained (seed 0): 0.96.
assert kl["contrastive EBM (lecture 03)"][0] < 0.25 * kl["same EBM, untrained"][0], kl

# %% [markdown]
# The learned score field against the exact one, at three noise levels. At large $\sigma$ the field
# points towards the centre of mass: one blob. At small $\sigma$ it resolves the modes, and far from
# the data (the corners) the learned arrows are an extrapolation, which annealing never needs to
# trust.

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(2, 3, figsize=(13, 8.5))
pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
for j, sigma in enumerate([SIGMAS[0], SIGMAS[len(SIGMAS) // 2], SIGMAS[-1]]):
    exact_s = diffusion.mixture_score(square.means, square.stds, pts.double(), sigma).numpy()
    learned_s = score_of(score_net, pts, torch.tensor(sigma, dtype=torch.float32)).detach().numpy()
    _, p = toy2d.grid_density(exact_energy(square, sigma), EXTENT, N_GRID)
    for i, (field, name) in enumerate([(exact_s, "exact"), (learned_s, "learned")]):
        ax = axes[i, j]
        ax.imshow(p, origin="lower", extent=ext, cmap="Greys")
        ax.quiver(gx, gy, sigma * field[:, 0].reshape(gx.shape), sigma * field[:, 1].reshape(gx.shape),
                  color="C0" if i == 0 else "C3", scale=40)  # fmt: skip
        ax.set_title(f"{name} σ·score, σ = {sigma:.2f}")
plt.tight_layout()
plt.show()

# %%
results.record(
    "dsm_density_kl", d_dsm, unit="nats", key="2-D DSM score model, grid KL(p‖p_θ)", untrained=d_init
)
results.record(
    "dsm_sample_kl", s_dsm, unit="nats", untrained=s_init, floor=kl["exact p_σL / exact samples (floor)"][1]
)
results.record("ebm_density_kl_same_budget", kl["contrastive EBM (lecture 03)"][0], unit="nats")
results.record("ebm_sample_kl_same_budget", kl["contrastive EBM (lecture 03)"][1], unit="nats")
results.record("train_seconds_2d", {"dsm": seconds_dsm, "contrastive_ebm": seconds_ebm}, unit="s")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. DDPM: denoising diffusion probabilistic models
#
# Annealed Langevin needs hand-tuned ladders and step sizes. DDPM {cite:p}`ho2020` turns the ladder into a
# *Markov chain* with a tractable likelihood bound, and sampling into one step per level.
#
# ### The forward process, in closed form
#
# Fix a schedule $\beta_0,\dots,\beta_{T-1}\in(0,1)$ and add a little noise at each step,
# shrinking the signal so that the variance stays bounded:
#
# $$q(x_t\mid x_{t-1}) = \mathcal N\big(\sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I\big),
# \qquad \alpha_t = 1-\beta_t,\quad \bar\alpha_t = \prod_{s\le t}\alpha_s .$$
#
# (This notebook and `lib.diffusion` count $t = 0,\dots,T-1$, with $x_{-1}$ the clean data $x_0$
# of the papers' notation; below, $x_0$ is the data and $\bar\alpha_{-1} = 1$.) Composing two steps,
# $\sqrt{\alpha_t}\,(\sqrt{\alpha_{t-1}}x + \sqrt{1-\alpha_{t-1}}\,\xi_1) + \sqrt{1-\alpha_t}\,\xi_2$
# is Gaussian with mean $\sqrt{\alpha_t\alpha_{t-1}}\,x$ and variance
# $\alpha_t(1-\alpha_{t-1}) + 1 - \alpha_t = 1 - \alpha_t\alpha_{t-1}$. By induction
#
# $$q(x_t\mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t) I\big),
# \qquad x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon .$$
#
# Any level can be sampled in one shot (`Schedule.q_sample`), and when $\bar\alpha_{T-1}\approx 0$
# the last level is $\mathcal N(0, I)$ whatever the data.
#
# ### The posterior $q(x_{t-1}\mid x_t, x_0)$
#
# Given $x_0$, the pair $(x_{t-1}, x_t)$ is jointly Gaussian: $x_{t-1}$ has mean
# $\sqrt{\bar\alpha_{t-1}}x_0$ and variance $1-\bar\alpha_{t-1}$; $x_t = \sqrt{\alpha_t}x_{t-1} +
# \sqrt{\beta_t}\,\xi$ has covariance $\sqrt{\alpha_t}(1-\bar\alpha_{t-1})$ with it and variance
# $1 - \bar\alpha_t$. Gaussian conditioning ($\mu_{1|2} = \mu_1 + \Sigma_{12}\Sigma_{22}^{-1}(x_2-\mu_2)$,
# $\Sigma_{1|2} = \Sigma_{11} - \Sigma_{12}^2/\Sigma_{22}$) gives
#
# $$q(x_{t-1}\mid x_t, x_0) = \mathcal N\big(\tilde\mu_t,\ \tilde\beta_t I\big),\quad
# \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\,x_0
#   + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\,x_t,\quad
# \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t .$$
#
# (`Schedule.posterior`; the tests compare it with exactly this conditioning, and with a simulation.)
#
# ### The ε-prediction loss is weighted denoising score matching
#
# The generative model runs the chain backwards, $p_\theta(x_{t-1}\mid x_t) = \mathcal N(\mu_\theta(x_t,t),
# \tilde\beta_t I)$. Its variational bound (as in the VAE of lecture 04, with the $T$ noisy levels
# as latent variables) is a sum of KL divergences between Gaussians of equal variance,
# $\mathrm{KL}\big(q(x_{t-1}\mid x_t,x_0)\,\|\,p_\theta(x_{t-1}\mid x_t)\big) =
# |\tilde\mu_t - \mu_\theta|^2/(2\tilde\beta_t) + $ const. The posterior mean needs $x_0$, which the
# model does not have; parametrise the mean by a *guess* of it. Writing
# $x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon)/\sqrt{\bar\alpha_t}$ turns $\tilde\mu_t$ into
# $\frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\varepsilon\big)$, so let the
# network predict the noise, $\varepsilon_\theta(x_t, t)$, and use the same formula. Each KL term
# becomes a weighted $|\varepsilon - \varepsilon_\theta(x_t,t)|^2$; {cite:t}`ho2020` drop the weights:
#
# $$L_{\rm simple}(\theta) = \mathbb{E}_{t\sim U\{0..T-1\},\ x_0,\ \varepsilon}
#   \big|\varepsilon - \varepsilon_\theta\big(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\ t\big)\big|^2 .$$
#
# This **is** denoising score matching at noise level $\sigma_t = \sqrt{1-\bar\alpha_t}$ on the
# scaled data $\sqrt{\bar\alpha_t}x_0$: the DSM target is $\nabla\log q(x_t\mid x_0) =
# -\varepsilon/\sqrt{1-\bar\alpha_t}$, so with $s_\theta = -\varepsilon_\theta/\sqrt{1-\bar\alpha_t}$,
#
# $$|\varepsilon - \varepsilon_\theta|^2 = (1-\bar\alpha_t)\,\big|s_\theta - \nabla\log q(x_t\mid x_0)\big|^2 ,$$
#
# DSM with the weight $\lambda_t = 1-\bar\alpha_t = \sigma_t^2$, exactly the weighting of
# {cite:t}`song2019`. The optimum is $\hat\varepsilon(x_t,t) = -\sqrt{1-\bar\alpha_t}\,\nabla\log q_t(x_t)$: **the noise
# predictor is the scaled score of the noised data.** For Gaussian data $\mathcal N(\mu,\sigma^2)$ it is
# known in closed form, $\hat\varepsilon = \sqrt{1-\bar\alpha_t}\,(x_t - \sqrt{\bar\alpha_t}\mu)/(\bar\alpha_t\sigma^2 + 1-\bar\alpha_t)$,
# which is how the tests check the samplers.
#
# ### Ancestral sampling
#
# Start from $x_{T-1}\sim\mathcal N(0,I)$; for $t = T-1,\dots,0$ predict
# $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon_\theta)/\sqrt{\bar\alpha_t}$, and draw
# $x_{t-1}\sim\mathcal N(\tilde\mu_t(\hat x_0, x_t), \tilde\beta_t I)$ (`diffusion.ddpm_sample`).
# Each step is one denoising step plus fresh noise: annealed Langevin with a single step per
# level and the step sizes fixed by the schedule.
#
# **Clipping.** Images live in $[-1, 1]$, so we clip $\hat x_0$ to that range before the step
# (`clip=1`). This is not cosmetic: in the mean written with $\varepsilon_\theta$, the error of
# $\varepsilon_\theta$ is multiplied by $\beta_t/\sqrt{\alpha_t(1-\bar\alpha_t)}$, which for the last
# step of the cosine schedule ($\beta\approx 0.999$) is about $0.999/\sqrt{0.001}\approx 32$. Written
# through $\hat x_0$, the error is first divided by $\sqrt{\bar\alpha_t}$ (tiny at the last levels)
# and then multiplied back; clipping $\hat x_0$ to the data range in between bounds it.
#
# ### The schedule and the network
#
# We use the **cosine schedule** of {cite:t}`nichol2021`, $\bar\alpha_t \propto
# \cos^2\big(\frac{(t+1)/T + s}{1+s}\frac\pi2\big)$: the linear schedule of {cite:t}`ho2020` destroys small
# images too early (most of its levels are almost pure noise), the cosine one spends the levels
# more evenly. The network is a small **U-Net**: a convolutional encoder ($28\to14\to7$) and decoder
# with skip connections, residual blocks with group normalisation, and the time $t$ entering every
# block through a sinusoidal embedding (the positional encoding of transformers) and an MLP. We
# train it with Adam and keep an exponential moving average (EMA) of its weights for sampling:
# the average of the last few hundred iterates denoises far better than the last iterate.

# %% slideshow={"slide_type": "subslide"}
schedule = diffusion.Schedule.cosine(T_STEPS)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
for name, s in [("cosine", schedule), ("linear", diffusion.Schedule.linear(T_STEPS))]:
    ax1.plot(s.alpha_bar.numpy(), label=name)
    ax2.semilogy(s.betas.numpy(), label=name)
ax1.set(xlabel="t", ylabel="ᾱ_t (signal fraction)", title=f"schedules, T = {T_STEPS}")
ax2.set(xlabel="t", ylabel="β_t")
ax1.legend()
plt.tight_layout()
plt.show()

x_train = torch.from_numpy(data.to_float(train_images, "symmetric"))[:, None]  # (N, 1, 28, 28) in [-1, 1]
g_demo = torch.Generator().manual_seed(SEED)
levels = np.linspace(0, T_STEPS - 1, 8).round().astype(int)
noisy = schedule.q_sample(
    x_train[:1].expand(8, -1, -1, -1), torch.tensor(levels), torch.randn(8, 1, 28, 28, generator=g_demo)
)
plotting.image_grid(noisy, ncols=8, vrange=(-1, 1), title=f"q(x_t | x_0) at t = {list(levels)}")
plt.show()


# %% slideshow={"slide_type": "subslide"}
class TimeEmbedding(nn.Module):
    """t (B,) -> (B, 4·dim): sinusoidal features of t, then an MLP."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.SiLU(), nn.Linear(4 * dim, 4 * dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
        args = t.float()[:, None] * freqs[None]  # (B, dim/2)
        return self.mlp(torch.cat([args.sin(), args.cos()], 1))


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the time embedding added in between, and a residual path."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """ε_θ(x_t, t): (B, 1, 28, 28), (B,) long -> (B, 1, 28, 28)."""

    def __init__(self, ch: int = 32) -> None:
        super().__init__()
        e = 4 * ch
        self.time = TimeEmbedding(ch)
        self.inp = nn.Conv2d(1, ch, 3, padding=1)
        self.down1 = ResBlock(ch, ch, e)  # 28 × 28
        self.pool1 = nn.Conv2d(ch, ch, 3, stride=2, padding=1)  # -> 14 × 14
        self.down2 = ResBlock(ch, 2 * ch, e)
        self.pool2 = nn.Conv2d(2 * ch, 2 * ch, 3, stride=2, padding=1)  # -> 7 × 7
        self.mid1, self.mid2 = ResBlock(2 * ch, 2 * ch, e), ResBlock(2 * ch, 2 * ch, e)
        self.up2 = ResBlock(4 * ch, 2 * ch, e)  # 14 × 14, with the skip from down2
        self.up1 = ResBlock(3 * ch, ch, e)  # 28 × 28, with the skip from down1
        self.out = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, 1, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time(t)
        h1 = self.down1(self.inp(x), emb)  # (B, ch, 28, 28)
        h2 = self.down2(self.pool1(h1), emb)  # (B, 2ch, 14, 14)
        h = self.mid2(self.mid1(self.pool2(h2), emb), emb)  # (B, 2ch, 7, 7)
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2), h2], 1), emb)  # (B, 2ch, 14, 14)
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2), h1], 1), emb)  # (B, ch, 28, 28)
        return self.out(h)


def build_unets() -> dict[str, nn.Module]:
    """The network trained by Adam, and the EMA of its weights that we sample with."""
    net = UNet(CHANNELS)
    ema = UNet(CHANNELS)
    ema.load_state_dict(net.state_dict())
    return {"net": net, "ema": ema}


def train_ddpm(models: dict[str, nn.Module]) -> dict[str, list[float]]:
    """TRAIN_STEPS Adam updates of the ε-loss on random minibatches; EMA with warm-up."""
    net, ema = models["net"].to(DEVICE), models["ema"].to(DEVICE)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(SEED)
    history: dict[str, list[float]] = {"loss": []}
    t0 = time.time()
    net.train()
    for step in tqdm(config.training(range(TRAIN_STEPS)), desc="DDPM training", total=TRAIN_STEPS):
        x0 = x_train[torch.randint(len(x_train), (BATCH,), generator=gen)].to(DEVICE)
        loss = diffusion.eps_loss(net, schedule, x0, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        decay = min(EMA_DECAY, (1 + step) / (10 + step))  # short memory while the weights move fast
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), net.parameters(), strict=True):
                p_ema.lerp_(p, 1 - decay)
        history["loss"].append(loss.item())
    net.eval()
    ema.eval()
    history["train_seconds"] = [time.time() - t0]
    return history


torch.set_num_threads(UNET_THREADS)  # from here on, the U-Net's convolutions dominate
torch.manual_seed(SEED)
untrained_unet = UNet(CHANNELS).eval().to(DEVICE)  # the same architecture, never trained: the reference
n_params = sum(p.numel() for p in untrained_unet.parameters())
models, history = cache.cached_torch(
    "08_ddpm_unet",
    build=build_unets,
    train=train_ddpm,
    code=[TimeEmbedding, ResBlock, UNet, build_unets, train_ddpm, diffusion.eps_loss, diffusion.Schedule],
    params={"T": T_STEPS, "ch": CHANNELS, "steps": TRAIN_STEPS, "batch": BATCH, "lr": LR, "ema": EMA_DECAY},
    data=x_train,
    seed=SEED,
)
unet = models["ema"].eval().to(DEVICE)  # a model loaded from the cache comes back on the CPU
train_seconds = float(history["train_seconds"][0])
print(f"U-Net: {n_params:,} parameters; {len(history['loss'])} updates took {train_seconds:.0f} s")
plotting.plot_history(
    {"ε-loss": np.convolve(history["loss"], np.ones(20) / 20, mode="valid")},
    xlabel="update (running mean of 20)",
)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Samples, and the reverse process as an animation
#
# Ancestral sampling with all $T$ steps and `clip=1`, in batches; the animation records $x_t$ of
# 16 chains along the way (the label is the number of reverse steps taken).


# %%
def sample_images(
    model: nn.Module, n: int, *, steps: int | None = None, seed: int
) -> tuple[torch.Tensor, float]:
    """n images from DDPM (steps=None: all T) or DDIM (steps), and the seconds per 100 images."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    t0 = time.time()
    for i in range(0, n, SAMPLE_BATCH):
        shape = (min(SAMPLE_BATCH, n - i), 1, 28, 28)
        if steps is None:
            x = diffusion.ddpm_sample(
                model, schedule, shape, clip=1.0, generator=gen, device=DEVICE, progress=True
            )
        else:
            x = diffusion.ddim_sample(
                model, schedule, shape, steps=steps, clip=1.0, generator=gen, device=DEVICE, progress=True
            )
        out.append(x.clamp(-1, 1).cpu())
    return torch.cat(out), (time.time() - t0) / n * 100


def cached_samples(name: str, model: nn.Module, *, steps: int | None = None) -> tuple[torch.Tensor, float]:
    """sample_images(model, N_EVAL, steps=steps), cached by the model's weights (a rerun loads the
    images and the seconds per 100 images they took)."""
    out = cache.cached_arrays(
        f"08_samples_{name}",
        compute=lambda: dict(
            zip(("images", "sec_per_100"), sample_images(model, N_EVAL, steps=steps, seed=SEED + 10))
        ),
        code=[sample_images, diffusion.ddpm_sample, diffusion.ddim_sample, diffusion.Schedule],
        params={"n": N_EVAL, "steps": steps, "T": T_STEPS, "batch": SAMPLE_BATCH},
        data=list(model.state_dict().values()),
        seed=SEED + 10,
    )
    return torch.from_numpy(out["images"]), float(out["sec_per_100"])


ddpm_images, ddpm_sec_per_100 = cached_samples("ddpm", unet)
untrained_images, _ = cached_samples("ddpm_untrained", untrained_unet)
ddpm_scores = metrics.score_samples(ddpm_images, "symmetric")
untrained_scores = metrics.score_samples(untrained_images, "symmetric")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 3.6), gridspec_kw={"width_ratios": [2, 1]})
plotting.image_grid(ddpm_images[:64], ncols=16, ax=ax1, vrange=(-1, 1), title=f"DDPM, {T_STEPS} steps")
ax2.bar(range(10), ddpm_scores["label_distribution"])
ax2.axhline(0.1, color="grey", ls="--", label="uniform")
ax2.set(
    xticks=range(10), xlabel="predicted digit", ylabel="fraction", title="classifier labels of the samples"
)
ax2.legend()
plt.show()
plotting.image_grid(
    untrained_images[:32], ncols=16, vrange=(-1, 1), title="the same sampler with the untrained U-Net"
)
plt.show()
display(
    Markdown(
        f"FCD of {ddpm_scores['n']} DDPM samples: **{ddpm_scores['fcd']:.1f}** (the untrained U-Net: "
        f"{untrained_scores['fcd']:.1f}; held-out real digits, the floor: {ddpm_scores['unseen_real']:.1f}; "
        f"uniform noise, the ceiling: {ddpm_scores['noise']:.1f}). Digits covered: "
        f"{ddpm_scores['digits_covered']}/10. Sampling: {ddpm_sec_per_100:.1f} s per 100 images."
    )
)

# %% slideshow={"slide_type": "subslide"}
frames, frame_steps = [], []
record_every = max(1, T_STEPS // 25)
g_anim = torch.Generator().manual_seed(SEED + 20)


def record(step: int, t: int, x: torch.Tensor, x0_hat: torch.Tensor) -> None:
    if step % record_every == 0 or t == 0:
        frames.append(x.clamp(-1, 1).cpu().clone())
        frame_steps.append(step)


x_init = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(SEED + 20))
frames.append(x_init.clamp(-1, 1))
frame_steps.append(0)
diffusion.ddpm_sample(
    unet,
    schedule,
    (16, 1, 28, 28),
    clip=1.0,
    generator=torch.Generator().manual_seed(SEED + 20),
    callback=record,
)
plotting.animate_chain(frames, steps=frame_steps, ncols=8, vrange=(-1, 1))

# %% tags=["learning-check"]
# DDPM samples against the same sampler driven by the untrained U-Net (n = metrics.sample_count()).
# Smoke (width 8, 200 updates, T = 20), COURSE_SEED=0,1,2: FCD / untrained FCD 0.19–0.27 (FCD
# 388–418, floor 20, ceiling 1382). Untrained (one update, seed 0): 0.97. Lecture (4000 updates, T = 100, width 16,
# seed 0, n = 1000): FCD 14.4 against 1628 untrained (0.009), floor 17.8.
assert ddpm_scores["fcd"] < 0.5 * untrained_scores["fcd"], (ddpm_scores["fcd"], untrained_scores["fcd"])

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Does it copy? The memorisation check
#
# An FCD near the floor does not prove a good model: returning training images would score
# perfectly. `lib.memorisation` measures, for every sample, the pixel distance to its nearest
# training image, and the same for held-out test digits (which certainly are not copies). A model
# that generalises draws samples about as far from the training set as held-out digits are (a
# median ratio near 1) and few closer than the held-out images' 1 % quantile (a near-copy); one that
# memorises puts many samples right on training images; one that draws smudges puts them far away.

# %%
memo = memorisation.memorisation_check(
    ddpm_images, train_images, test_images, pixel_range_samples="symmetric"
)
memo_untrained = memorisation.memorisation_check(
    untrained_images, train_images, test_images, pixel_range_samples="symmetric"
)
print("DDPM:     ", memo)
print("untrained:", memo_untrained)

fig, axes = plt.subplots(1, 2, figsize=(13, 3.4), gridspec_kw={"width_ratios": [1, 1.4]})
bins = np.linspace(0, max(memo.sample_distances.max(), memo.heldout_distances.max()), 50)
axes[0].hist(memo.heldout_distances, bins=bins, density=True, alpha=0.6, label="held-out test digits")
axes[0].hist(memo.sample_distances, bins=bins, density=True, alpha=0.6, label="DDPM samples")
axes[0].axvline(memo.copy_threshold, color="k", ls=":", label="near-copy threshold")
axes[0].set(xlabel="distance to the nearest training image (pixels in [0, 1])", ylabel="density")
axes[0].legend()
closest = np.argsort(memo.sample_distances)[:8]  # the samples most like a training image
pairs = torch.cat([ddpm_images[closest], x_train[memo.sample_neighbours[closest]]])
plotting.image_grid(pairs, ncols=8, ax=axes[1], vrange=(-1, 1),
                    title="the 8 samples closest to a training image (top) and that image (bottom)")  # fmt: skip
plt.tight_layout()
plt.show()

# %% tags=["learning-check"]
# Digit coverage, and samples neither copied (few near-copies) nor off the data (median distance to
# the training set close to that of held-out digits).
# Smoke (width 8, T = 20), COURSE_SEED=0,1,2: digits covered 6, median ratio 1.92–1.99, copied 0.
# Untrained (one update, seed 0): 2 digits, median ratio 3.5 (no copies either: noise copies nothing).
# Lecture (seed 0 only: one run takes 10 minutes): 10 digits, median ratio 1.20, copied 0.3 %; the
# untrained U-Net's ratio there is 3.25.
assert ddpm_scores["digits_covered"] >= config.scaled(smoke=5, lecture=8, full=9), ddpm_scores[
    "label_distribution"
]
assert memo.copied_fraction < 0.05, memo.summary()
assert memo.median_ratio < config.scaled(smoke=2.2, lecture=1.3, full=1.2), memo.summary()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. DDIM: fewer steps, no noise
#
# The DDPM loss only involves the marginals $q(x_t\mid x_0)$, never the chain itself. Many other
# processes have the same marginals: DDIM {cite:p}`song2021ddim` picks, for a decreasing sub-sequence of times
# $\tau_S > \dots > \tau_1$,
#
# $$x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'}-s_t^2}\;\hat\varepsilon + s_t\,z,
# \qquad s_t = \eta\sqrt{\tfrac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}\sqrt{1-\tfrac{\bar\alpha_t}{\bar\alpha_{t'}}},$$
#
# with $t'$ the next (smaller) visited time. If $\hat x_0$ and $\hat\varepsilon$ were exact,
# $x_{t'}$ would have exactly the marginal $q(x_{t'}\mid x_0)$ for every $\eta$: its mean is
# $\sqrt{\bar\alpha_{t'}}x_0$ and its variance $(1-\bar\alpha_{t'}-s_t^2) + s_t^2$. $\eta = 1$ with
# all $T$ steps is ancestral DDPM (a test checks that they agree to rounding); **$\eta = 0$ is
# deterministic**: the noise $x_{T-1}$ fixes the image, and the jumps between visited times may be
# large. The same trained network serves both: no retraining.
#
# We sample as many images as before with DDIM at several step counts and plot the FCD against the
# number of network evaluations, with the sampling time beside it.

# %% slideshow={"slide_type": "subslide"}
ddim = {}
for steps in tqdm(DDIM_STEPS, desc="DDIM step counts"):
    images, sec = cached_samples(f"ddim{steps}", unet, steps=steps)
    ddim[steps] = {"scores": metrics.score_samples(images, "symmetric"), "sec_per_100": sec, "images": images}

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
ax1.plot(list(ddim), [d["scores"]["fcd"] for d in ddim.values()], "o-", label="DDIM (η = 0)")
ax1.plot([T_STEPS], [ddpm_scores["fcd"]], "s", ms=9, label=f"DDPM, all {T_STEPS} steps")
ax1.axhline(ddpm_scores["unseen_real"], color="grey", ls="--", label="floor: held-out digits")
ax1.axhline(untrained_scores["fcd"], color="C3", ls=":", label="untrained U-Net (DDPM)")
ax1.set(
    xscale="log", yscale="log", xlabel="network evaluations per image", ylabel="FCD", title="quality vs steps"
)
ax1.legend(fontsize=8)
ax2.plot(list(ddim), [d["sec_per_100"] for d in ddim.values()], "o-", label="DDIM")
ax2.plot([T_STEPS], [ddpm_sec_per_100], "s", ms=9, label="DDPM")
ax2.set(xscale="log", xlabel="network evaluations per image", ylabel="seconds per 100 images", title="cost")
ax2.legend()
plt.tight_layout()
plt.show()
print(f"{'sampler':16s} {'FCD':>8s} {'digits':>7s} {'s / 100 images':>15s}")
for steps, d in ddim.items():
    print(
        f"DDIM {steps:3d} steps   {d['scores']['fcd']:8.1f} {d['scores']['digits_covered']:7d} {d['sec_per_100']:15.1f}"
    )
print(
    f"DDPM {T_STEPS:3d} steps   {ddpm_scores['fcd']:8.1f} {ddpm_scores['digits_covered']:7d} {ddpm_sec_per_100:15.1f}"
)
fig, axes = plt.subplots(1, len(ddim), figsize=(4.5 * len(ddim), 2.2))
for ax, (steps, d) in zip(np.atleast_1d(axes), ddim.items(), strict=True):
    plotting.image_grid(d["images"][:24], ncols=8, ax=ax, vrange=(-1, 1), title=f"DDIM, {steps} steps")
plt.show()

# %% [markdown]
# Read the plot with the same noise as every FCD in the course in mind. Fewer steps are cheaper
# in proportion; whether DDIM at a few tens of steps approaches DDPM depends on how well trained
# the network is (its errors are not averaged out by fresh noise). The fixed-noise property also
# makes DDIM invertible: running the ODE forwards encodes an image into its noise (exercise 4).

# %% slideshow={"slide_type": "subslide"}
results.record(
    "ddpm_fcd",
    ddpm_scores["fcd"],
    unit="FCD (course classifier)",
    key=f"DDPM FCD (n={ddpm_scores['n']})",
    scores=ddpm_scores,
    untrained_fcd=untrained_scores["fcd"],
    sampling_seconds_per_100=ddpm_sec_per_100,
    steps=T_STEPS,
)
for steps, d in ddim.items():
    results.record(
        f"ddim{steps}_fcd",
        d["scores"]["fcd"],
        unit="FCD (course classifier)",
        key=f"DDIM-{steps} FCD" if steps == 20 else None,
        scores=d["scores"],
        sampling_seconds_per_100=d["sec_per_100"],
        steps=steps,
    )
results.record("digits_covered", ddpm_scores["digits_covered"], unit="of 10")
results.record("unet_parameters", n_params)
results.record("train_seconds", train_seconds, unit="s", updates=len(history["loss"]))
results.record("sampling_seconds_per_100_ddpm", ddpm_sec_per_100, unit="s")
results.record(
    "nearest_training_distance", memo.median_ratio, unit="median ratio to held-out", **memo.summary()
)
# The rows of DDPM and DDIM (20 steps, or the most steps below T) in the course's comparison of
# its MNIST models (build/comparison.md, written by `make run`).
ddim_row = 20 if 20 in ddim else max(ddim)
for model, scores, sec in (
    ("DDPM", ddpm_scores, ddpm_sec_per_100),
    ("DDIM", ddim[ddim_row]["scores"], ddim[ddim_row]["sec_per_100"]),
):
    comparison.record_model(
        model,
        score=scores,
        n_parameters=n_params,
        training_seconds=train_seconds,
        sampling_seconds_per_100=sec,
        memorisation=memo.summary() if model == "DDPM" else None,
    )

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The physics: diffusion, Fokker–Planck, and time reversal
#
# **The forward process is an Ornstein–Uhlenbeck process.** With a continuous time $u\in[0,1]$
# and $\beta_t = \beta(u)\,\Delta u$, one forward step
# $x_{t} = \sqrt{1-\beta_t}\,x_{t-1} + \sqrt{\beta_t}\,\xi \approx x_{t-1} - \tfrac12\beta(u)x_{t-1}\Delta u + \sqrt{\beta(u)\Delta u}\,\xi$
# is the Euler–Maruyama step of the SDE
#
# $$dx = -\tfrac12\beta(u)\,x\,du + \sqrt{\beta(u)}\,dW_u ,$$
#
# the overdamped Langevin equation of a particle in the harmonic well $V = x^2/2$ at temperature 1
# (lecture 03's Langevin dynamics with the energy of a standard Gaussian), with a time-dependent
# friction. Its stationary law is $\mathcal N(0, I)$, and it forgets the data at the rate
# $\bar\alpha(u) = e^{-\int_0^u\beta}$: the "variance preserving" SDE of {cite:t}`song2021sde`.
#
# **Fokker–Planck.** The density $p_u(x)$ of the noised data obeys
#
# $$\partial_u p_u = \nabla\cdot\big(\tfrac12\beta(u)\,x\,p_u\big) + \tfrac12\beta(u)\,\nabla^2 p_u
#  = \nabla\cdot\Big(\tfrac12\beta(u)\,p_u\,\big[x + \nabla\log p_u\big]\Big):$$
#
# probability flows down the gradient of the "free energy" $x^2/2 + \log p_u$, and stops when
# $p_u \propto e^{-x^2/2}$.
#
# **Reverse-time SDE** {cite:p}`anderson1982`. A diffusion $dx = f\,du + g\,dW$ run backwards in time is
# again a diffusion, with the drift corrected by the score:
#
# $$dx = \big[f(x,u) - g(u)^2\,\nabla\log p_u(x)\big]\,du + g(u)\,d\bar W_u \qquad (u: 1\to 0).$$
#
# With $f = -\tfrac12\beta x$, $g^2 = \beta$, and the learned $\nabla\log p_u \approx
# -\varepsilon_\theta/\sqrt{1-\bar\alpha}$, its Euler–Maruyama discretisation is, to first order in
# $\beta$, the DDPM ancestral step. The score of the *noised* density is exactly what DSM learns.
#
# **Probability-flow ODE** {cite:p}`song2021sde`. Write Fokker–Planck as a continuity equation,
# $\partial_u p_u = -\nabla\cdot(p_u v)$ with the velocity $v = f - \tfrac12 g^2\nabla\log p_u$. Particles
# moving *deterministically* along
#
# $$\frac{dx}{du} = -\tfrac12\beta(u)\big[x + \nabla\log p_u(x)\big]$$
#
# therefore have the same marginals $p_u$ at every time as the SDE. Integrated backwards from
# $\mathcal N(0,I)$ it generates samples, and DDIM with $\eta = 0$ is a discretisation of it (in
# the variables $x/\sqrt{\bar\alpha}$ and $\sqrt{(1-\bar\alpha)/\bar\alpha}$ the DDIM update is
# exactly an Euler step). Being an ODE, it is invertible, and with the instantaneous
# change-of-variables formula it gives exact likelihoods, as a continuous normalising flow.
#
# **Back to lecture 03.** Annealed Langevin, ancestral DDPM and the reverse SDE are one idea:
# Langevin dynamics $dx = \tfrac12\nabla\log p\,du + dW$ for a sequence of densities that
# interpolate from a Gaussian to the data, driven by a score learned by regression. Lecture 03
# needed a sampler to *train*; here sampling happens only after training, and the hard multimodal
# target is reached through a sequence of easy, blurred ones (as in simulated annealing and
# parallel tempering).
#
# **What `full` changes.** At `COURSE_SCALE=full` (a GPU recommended) the U-Net is wider, $T = 1000$
# as in {cite:t}`ho2020`, training runs for tens of thousands of updates and the FCDs use 10 000 samples.
#
# ## Conclusion
#
# - The score does not involve $Z$; denoising score matching learns it by regression, and its optimum
#   is the score of the noised data (Tweedie's denoiser), checked against an exact mixture.
# - Plain Langevin, even with the exact score, misweights separated modes; annealing over noise
#   levels fixes it. A DSM-trained energy learns lecture 03's target without any sampling during
#   training; the table in Part 1 compares it with lecture 03's contrastive EBM at equal training
#   time, with both KLs.
# - DDPM's ε-loss is weighted DSM; ancestral sampling is one Langevin-like step per level, and
#   clipping $\hat x_0$ keeps the last, large steps stable. The samples are measured with the
#   course's FCD and checked for copying against held-out digits.
# - DDIM trades noise for determinism and steps for speed: a discretised probability-flow ODE.
#
# ## Exercises
#
# 1. **Schedules.** Retrain with `diffusion.Schedule.linear(T_STEPS)` and compare the FCD at the same
#    budget. Plot $\log(\bar\alpha_t/(1-\bar\alpha_t))$ (the log signal-to-noise ratio) for both
#    schedules: where does the linear one waste its levels? {cite:p}`nichol2021`
# 2. **The last step without clipping.** Sample with `clip=None` and compare. Compute
#    $\beta_t/\sqrt{\alpha_t(1-\bar\alpha_t)}$ for the last few $t$ of both schedules.
# 3. **Classifier-free guidance** {cite:p}`ho2022`. Give the U-Net a label embedding (added to
#    the time embedding), drop the label 10–20 % of the time in training, and sample with
#    $\hat\varepsilon = (1+w)\,\varepsilon_\theta(x_t,t,y) - w\,\varepsilon_\theta(x_t,t,\varnothing)$. Check
#    with `metrics.predict_labels` that the samples obey $y$, and watch the FCD as $w$ grows.
# 4. **DDIM inversion.** Run the $\eta=0$ update forwards (from $t$ to $t'>t$) on test digits to get
#    their noise $x_{T-1}$, then decode it again. How close is the reconstruction for 20 and 100
#    steps? Interpolate between two digits in noise space.
# 5. **DDIM's η.** Sample with `eta=0.5` and `eta=1.0` at 20 and 50 steps. What does noise buy?
# 6. **The exact ε-predictor.** Replace the U-Net by `diffusion.gaussian_eps_predictor` for a Gaussian
#    fitted to the training digits (per-pixel mean and variance). What do its samples look like, and
#    what is their FCD? What does this say about what the U-Net learns beyond second moments?
# 7. **A diffusion model of the Ising model.** Train the 2-D score model, or a small convolutional
#    one, on the spin configurations of lecture 07 (±1, treated as continuous), sample, take the sign,
#    and compare the energy and magnetisation with the Monte Carlo reference of lecture 07 away from
#    and near $T_c$.
