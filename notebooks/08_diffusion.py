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
# models (DDPM, DDIM) behind today's image generators (exercise 9 tries one on the Ising model of
# lecture 07).
#
# **What you will learn**
# - the score, why it does not see the partition function, score matching {cite:p}`hyvarinen2005` and
#   denoising score matching {cite:p}`vincent2011`, derived;
# - why Langevin with a learned score fails in low-density regions, and annealed Langevin over a
#   ladder of noise levels {cite:p}`song2019`, measured on the exact 2-D densities of lecture 03
#   and compared with lecture 03's contrastive EBM on the same target and budget;
# - DDPM {cite:p}`ho2020`: the forward process in closed form, the posterior, the variational bound
#   term by term, the ε-prediction loss as weighted denoising score matching, ancestral sampling; a
#   small U-Net on MNIST, measured with the course's Fréchet classifier distance against an exact
#   reference and checked for memorisation;
# - DDIM {cite:p}`song2021ddim`: a deterministic sampler with far fewer steps, and what the
#   steps cost in quality, with the U-Net and with an exact score;
# - the physics: the forward process as an Ornstein–Uhlenbeck diffusion, its Fokker–Planck
#   equation, the reverse-time SDE and the probability-flow ODE; and the way back to lecture 03:
#   a reverse step is a transport step of that ODE plus one Langevin step at the current level.
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
import copy
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
    checks,
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

torch.set_num_threads(1)
SCALE = config.setup("08_diffusion", seed=0)
SEED = config.seed()  # every seed below is derived from it
DEVICE = str(config.torch_device())

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
LANGEVIN_STEP = 2e-3  # the step δ at the smallest σ; δ_i = δ σ_i² / σ_L²
# Part 2: DDPM on MNIST
T_STEPS = config.scaled(smoke=20, lecture=100, full=1000)  # diffusion steps T
CHANNELS = config.scaled(smoke=8, lecture=16, full=64)  # U-Net base width
TRAIN_STEPS = config.scaled(smoke=200, lecture=4000, full=50_000)  # optimizer updates
UNET_THREADS = config.threads(config.scaled(smoke=1, lecture=2, full=None))
BATCH = config.scaled(smoke=64, lecture=64, full=128)
LR = 1e-3
EMA_DECAY = 0.995
N_EVAL = metrics.sample_count()  # samples per FCD: the same n in every lecture at this scale
SAMPLE_BATCH = 250  # images per call of a sampler
DDIM_STEPS = [s for s in (10, 20, 50, 100) if s < T_STEPS]

train_images, _ = data.load_mnist("train")
validation_images, _ = data.load_mnist("validation")  # digits no model (nor the classifier) trains on
print(f"MNIST: {len(train_images)} training and {len(validation_images)} validation digits")
results.describe(
    dataset="MNIST train split, pixels in [-1, 1]; 2-D Gaussian mixture of lecture 03",
    n_train=len(train_images),
    n_validation=len(validation_images),
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
# $x \leftarrow x + \tfrac{\delta}{2} s(x) + \sqrt\delta\,\xi$, $\xi\sim\mathcal N(0, I)$, with the
# step size $\delta$ (lecture 03's $\varepsilon$: in this lecture $\varepsilon$ is the Gaussian noise
# added to the data).
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
# Only data are needed. The price is the divergence $\nabla\cdot s_\theta$: computed exactly, it takes
# $D$ backward passes in $D$ dimensions, per data point, which is expensive for images ($D = 784$).
# Stochastic estimates of it (random projections, as in Hutchinson's trace estimator and sliced
# score matching {cite:p}`song2019sliced`) make it affordable; the next idea avoids it altogether.
#
# ### Denoising score matching
#
# Blur the data instead: $\tilde x = x + \sigma\varepsilon$, $\varepsilon\sim\mathcal N(0, I)$, that is,
# draw $\tilde x$ from the noising kernel $q(\tilde x\mid x) = \mathcal N(\tilde x; x, \sigma^2 I)$. Then
# $\tilde x$ has the density $p_\sigma = p * \mathcal N(0, \sigma^2 I)$ and
# $\nabla_{\tilde x}\log q(\tilde x\mid x) = -(\tilde x - x)/\sigma^2 = -\varepsilon/\sigma$. The
# **denoising score matching** loss {cite:p}`vincent2011` regresses the model on this conditional score:
#
# $$L_{\rm DSM}(\theta) = \tfrac12\,\mathbb{E}_{x\sim p,\ \tilde x\sim q(\cdot\mid x)}\,
#   \Big|s_\theta(\tilde x) - \nabla_{\tilde x}\log q(\tilde x\mid x)\Big|^2 .$$
#
# *Derivation.* Expand the square. The term $|s_\theta|^2$ is the same as in the Fisher divergence
# of $p_\sigma$, since $\tilde x$ is distributed as $p_\sigma$; the term $|\nabla\log q|^2$ does not
# depend on $\theta$. With $q\,\nabla_{\tilde x}\log q = \nabla_{\tilde x} q$, the cross term is
# $\int\!\!\int p(x)\,q(\tilde x\mid x)\, s_\theta(\tilde x)\cdot\nabla_{\tilde x}\log q(\tilde x\mid x)\,dx\,d\tilde x
# = \int s_\theta(\tilde x)\cdot\nabla_{\tilde x}\Big[\int p(x)\,q(\tilde x\mid x)\,dx\Big]d\tilde x
# = \int p_\sigma(\tilde x)\, s_\theta(\tilde x)\cdot\nabla\log p_\sigma(\tilde x)\,d\tilde x$,
# the cross term of $\tfrac12\mathbb{E}_{p_\sigma}|s_\theta - \nabla\log p_\sigma|^2$. Hence
#
# $$L_{\rm DSM}(\theta) = \tfrac12\,\mathbb{E}_{p_\sigma}\big|s_\theta(\tilde x) - \nabla\log p_\sigma(\tilde x)\big|^2 + C ,$$
#
# with $C$ independent of $\theta$. The minimiser is the **score of the noised density**,
# $s^*(\tilde x) = \nabla\log p_\sigma(\tilde x)$.
#
# *Tweedie's formula* {cite:p}`robbins1956,efron2011`. Differentiate
# $p_\sigma(\tilde x) = \int p(x)\,\mathcal N(\tilde x; x, \sigma^2 I)\,dx$ under the integral, using
# $\nabla_{\tilde x}\mathcal N(\tilde x; x,\sigma^2 I) = \mathcal N(\tilde x; x,\sigma^2 I)\,(x-\tilde x)/\sigma^2$:
# $\nabla p_\sigma(\tilde x) = p_\sigma(\tilde x)\,\mathbb{E}[x - \tilde x\mid\tilde x]/\sigma^2$, that is
#
# $$\mathbb{E}[x\mid\tilde x] = \tilde x + \sigma^2\,\nabla\log p_\sigma(\tilde x) .$$
#
# The optimal *denoiser* and the score of the noised density are one object. No divergence, no
# sampling: a regression.
# `tests/test_diffusion.py` checks both statements (the constant offset, and that the least-squares
# minimiser *is* the exact score of a noised Gaussian mixture); below, the network trained with DSM
# on a 2-D mixture is compared with that exact score at every noise level.
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
# $\delta_i = \delta\,\sigma_i^2/\sigma_L^2$ (the step shrinks with the width of $p_{\sigma_i}$),
# each level starting where the previous one ended. Langevin at one level leaves $p_{\sigma_i}$
# unchanged; nothing moves the samples from one level to the next except these steps, so the
# chains must re-equilibrate at every level. They do so easily while the density is still
# blurred, and then the later levels only sharpen.
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


def annealed_langevin(energy_at, x: torch.Tensor, sigmas, *, n_steps: int, step: float) -> torch.Tensor:
    """Song & Ermon's annealed Langevin: at each σ_i, n_steps of samplers.langevin on the energy
    E(·, σ_i) with step δ_i = step σ_i² / σ_L²; energy_at(σ) returns that energy."""
    for sigma in sigmas:
        step_i = step * (sigma / sigmas[-1]) ** 2
        x = samplers.langevin(energy_at(sigma), x, n_steps=n_steps, step_size=step_i, generator=gen2d).samples
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
    step_size=LANGEVIN_STEP,
    generator=gen2d,
).samples
annealed = annealed_langevin(
    lambda s: exact_energy(uneven, s),
    uniform_start(n_demo),
    SIGMAS,
    n_steps=LANGEVIN_STEPS,
    step=LANGEVIN_STEP,
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
# weights right, plain Langevin (same number of steps) does not. A weight estimated from n_demo
# samples has a standard error of about 0.01; on top of it, the finite number of steps per level
# leaves annealing a small systematic error (the lightest mode keeps a little too much weight, the
# heaviest too little).
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


x_2d = torch.tensor(square.sample(N_DATA_2D, seed=SEED), dtype=torch.float32)  # (20000, 2)
sigmas_t = torch.tensor(SIGMAS, dtype=torch.float32)


def build_score_net() -> dict[str, nn.Module]:
    """The network to train, and a frozen copy of it before training."""
    net = NoiseEnergy()
    return {"net": net, "init": copy.deepcopy(net)}


def train_dsm(models: dict[str, nn.Module]) -> dict[str, list[float]]:
    """ITERS_DSM Adam updates of the DSM loss, σ drawn from the ladder for every point."""
    net = models["net"]
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, 2 * (1 - t / ITERS_DSM)))  # as in 03
    history = {"DSM loss": []}
    t0 = time.time()
    for _ in tqdm(config.training(range(ITERS_DSM)), desc="DSM, 2-D"):
        x0 = x_2d[torch.randint(len(x_2d), (BATCH_2D,))]  # (256, 2)
        sigma = sigmas_t[torch.randint(len(SIGMAS), (BATCH_2D,))]  # (256,)
        noise = torch.randn_like(x0)
        loss = diffusion.dsm_loss(lambda x, s: score_of(net, x, s, create_graph=True), x0, sigma, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        history["DSM loss"].append(loss.item())
    return history | {"seconds": [time.time() - t0]}


score_nets, history_2d = cache.cached_torch("08_dsm_2d", build=build_score_net, train=train_dsm)
score_net, score_net_init = score_nets["net"], score_nets["init"]
seconds_dsm = history_2d["seconds"][0]
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
def mlp_energy(net: nn.Module):
    """The energy x ↦ net(x) of an MLP, (B, 2) -> (B,)."""
    return lambda x: net(x.float()).squeeze(-1).to(x.dtype)


def build_ebm() -> dict[str, nn.Module]:
    """Lecture 03's MLP energy, and a frozen copy of it before training."""
    ebm = nn.Sequential(nn.Linear(2, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1))
    return {"net": ebm, "init": copy.deepcopy(ebm)}


def train_ebm(models: dict[str, nn.Module]) -> dict[str, list[float]]:
    """ITERS_2D contrastive updates, negatives by 20 Langevin steps continued from a replay buffer."""
    E = mlp_energy(models["net"])
    opt = torch.optim.Adam(models["net"].parameters(), lr=2e-3, betas=(0.0, 0.999))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, 2 * (1 - t / ITERS_2D)))
    buffer = samplers.ReplayBuffer(
        10_000, (2,), reinit_prob=0.05, init=lambda n: (2 * torch.rand(n, 2) - 1) * 4.5
    )
    history = {"loss": []}
    t0 = time.time()
    for _ in tqdm(config.training(range(ITERS_2D)), desc="contrastive EBM, 2-D"):
        x_pos = x_2d[torch.randint(len(x_2d), (BATCH_2D,))]
        x_neg, idx = buffer.sample(BATCH_2D)
        x_neg = samplers.langevin(E, x_neg, n_steps=20, step_size=0.02).samples
        buffer.update(idx, x_neg)
        e_pos, e_neg = E(x_pos), E(x_neg)
        loss = e_pos.mean() - e_neg.mean() + 1e-3 * (e_pos**2 + e_neg**2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        history["loss"].append(loss.item())
    return history | {"seconds": [time.time() - t0]}


ebms, history_ebm = cache.cached_torch("08_contrastive_ebm_2d", build=build_ebm, train=train_ebm)
E_ebm, ebm_init = mlp_energy(ebms["net"]), ebms["init"]
seconds_ebm = history_ebm["seconds"][0]
print(f"contrastive EBM: {len(history_ebm['loss'])} updates in {seconds_ebm:.1f} s")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Measuring both against the exact density
#
# Two numbers per model, both from lecture 03:
#
# - the **density KL** $\mathrm{KL}(p\,\|\,p_\theta)$ on the $100\times100$ grid, with $p_\theta$ the
#   grid-normalised $e^{-E_\theta}$. For the score model that is $E_\theta(\cdot,\sigma_L)$, a model of
#   $p_{\sigma_L}$, so its reference is the KL of the exact $p_{\sigma_L}$ (what a perfect DSM model
#   reaches); the EBM models $p$ itself, whose exact KL is 0.
# - the **sample KL** $\mathrm{KL}(\hat q\,\|\,p)$ of a $30\times30$ histogram $\hat q$ of samples
#   (annealed Langevin for the score model; Langevin from uniform noise with the EBM's own
#   step size 0.02, for as many steps as annealing takes, for the EBM). Its reference is the
#   sample KL of as many exact samples: a histogram of finitely many samples is noisy. The KL runs
#   from the histogram to $p$, the other way round from the density KL, because a histogram has
#   empty bins where $p > 0$, which would make $\mathrm{KL}(p\,\|\,\hat q)$ infinite; $p$ is positive
#   in every bin.
#
# Both networks before training are printed beside them.

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
        step=LANGEVIN_STEP,
    )


def ebm_samples(energy) -> torch.Tensor:
    n_langevin = LANGEVIN_STEPS * len(SIGMAS)
    return samplers.langevin(
        energy, uniform_start(N_SAMPLES_2D), n_steps=n_langevin, step_size=0.02, generator=gen2d
    ).samples


x_dsm, x_dsm_init = dsm_samples(score_net), dsm_samples(score_net_init)
x_ebm, x_ebm_init = ebm_samples(E_ebm), ebm_samples(mlp_energy(ebm_init))
kl = {
    "DSM score model": (density_kl(energy_at(score_net, SIGMAS[-1])), sample_kl(x_dsm)),
    "same network, untrained": (density_kl(energy_at(score_net_init, SIGMAS[-1])), sample_kl(x_dsm_init)),
    "contrastive EBM (lecture 03)": (density_kl(E_ebm), sample_kl(x_ebm)),
    "same EBM, untrained": (density_kl(mlp_energy(ebm_init)), sample_kl(x_ebm_init)),
    "exact p_σL / exact samples": (
        density_kl(exact_energy(square, SIGMAS[-1])),
        sample_kl(square.sample(N_SAMPLES_2D, seed=SEED + 1)),
    ),
}
print(f"{'model':38s} {'KL(p‖p_θ) grid':>15s} {'KL(samples‖p)':>14s}")
for name, (d, s) in kl.items():
    print(f"{name:38s} {d:15.3f} {s:14.3f}")
print(f"training time (as measured when each was trained): DSM {seconds_dsm:.1f} s, EBM {seconds_ebm:.1f} s")

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
# The DSM score model's density KL in excess of the exact p_σL's, which a perfect DSM model reaches.
d_dsm, s_dsm = kl["DSM score model"]
d_init, s_init = kl["same network, untrained"]
d_exact, s_exact = kl["exact p_σL / exact samples"]
checks.below(
    "dsm_density_kl_excess",
    d_dsm - d_exact,
    config.scaled(smoke=0.5, lecture=0.3, full=0.2),
    "grid KL(p‖p_θ) of the DSM model at σ_L minus that of the exact p_σL, nats",
)

# %% tags=["learning-check"]
# The sample KL of annealed Langevin on the learned score in excess of that of as many exact samples.
checks.below(
    "dsm_sample_kl_excess",
    s_dsm - s_exact,
    config.scaled(smoke=0.1, lecture=0.1, full=0.05),
    "KL(histogram of annealed-Langevin samples‖p) minus that of as many exact samples, nats",
)

# %% tags=["learning-check"]
# Lecture 03's contrastive EBM, trained here on the same data and budget, against the exact density (KL 0).
checks.below(
    "ebm_density_kl",
    kl["contrastive EBM (lecture 03)"][0],
    config.scaled(smoke=0.3, lecture=0.25, full=0.15),
    "grid KL(p‖p_θ) of the contrastive EBM, nats (0 for the exact density)",
)

# %% [markdown]
# The learned score field against the exact one, at three noise levels. At large $\sigma$ the field
# points towards the centre of mass: one blob. At small $\sigma$ it resolves the modes, and far from
# the data (the corners) the learned arrows are an extrapolation, which annealing never needs to
# trust. Where the data are, DSM's optimum is the exact score of $p_\sigma$: below the figure, at
# every level of the ladder, the relative error $\|\sigma(s_\theta - \nabla\log p_\sigma)\|/\|\sigma\nabla\log p_\sigma\|$
# (root mean squares over noised data points $x + \sigma\varepsilon$), for the trained network and
# for the same network before training.

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


def score_relative_error(model: NoiseEnergy, sigma: float, x_noised: torch.Tensor) -> float:
    """‖σ(s_θ − s_exact)‖ / ‖σ s_exact‖ over the points x_noised (root mean squares)."""
    exact = diffusion.mixture_score(square.means, square.stds, x_noised.double(), sigma)
    learned = score_of(model, x_noised, torch.tensor(sigma, dtype=torch.float32)).double()
    return float(((learned - exact) ** 2).sum(1).mean().sqrt() / (exact**2).sum(1).mean().sqrt())


g_check = torch.Generator().manual_seed(SEED + 2)
score_errors = {"trained": [], "untrained": []}
for sigma in SIGMAS:
    x_noised = x_2d[:2000] + sigma * torch.randn(2000, 2, generator=g_check)  # (2000, 2), from p_σ
    score_errors["trained"].append(score_relative_error(score_net, sigma, x_noised))
    score_errors["untrained"].append(score_relative_error(score_net_init, sigma, x_noised))
print("σ_i                     " + " ".join(f"{s:5.2f}" for s in SIGMAS))
for name, errs in score_errors.items():
    print(f"relative error, {name:9s}" + " ".join(f"{e:5.2f}" for e in errs))

# %%
results.record(
    "dsm_density_kl", d_dsm, unit="nats", key="2-D DSM score model, grid KL(p‖p_θ)", untrained=d_init
)
results.record("dsm_sample_kl", s_dsm, unit="nats", untrained=s_init, exact_samples=s_exact)
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
# As in the papers, $x_0$ is the data and $x_1,\dots,x_T$ are the noisy levels. Fix a schedule
# $\beta_1,\dots,\beta_T\in(0,1)$ and add a little noise at each step, shrinking the signal so that
# the variance stays bounded:
#
# $$q(x_t\mid x_{t-1}) = \mathcal N\big(\sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I\big),
# \qquad \alpha_t = 1-\beta_t,\quad \bar\alpha_t = \prod_{k=1}^{t}\alpha_k,\quad \bar\alpha_0 = 1 .$$
#
# (`lib.diffusion` stores level $t$ at index $t-1$, as Python counts from 0: `schedule.alpha_bar[t - 1]`
# is $\bar\alpha_t$.) Composing two steps,
# $\sqrt{\alpha_t}\,(\sqrt{\alpha_{t-1}}x + \sqrt{1-\alpha_{t-1}}\,\xi_1) + \sqrt{1-\alpha_t}\,\xi_2$
# is Gaussian with mean $\sqrt{\alpha_t\alpha_{t-1}}\,x$ and variance
# $\alpha_t(1-\alpha_{t-1}) + 1 - \alpha_t = 1 - \alpha_t\alpha_{t-1}$. By induction
#
# $$q(x_t\mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t) I\big),
# \qquad x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon .$$
#
# Any level can be sampled in one shot (`Schedule.q_sample`), and when $\bar\alpha_T\approx 0$
# the last level is $\mathcal N(0, I)$ whatever the data. We write $q_t(x) = \int p_{\rm data}(x_0)\,
# q(x_t = x\mid x_0)\,dx_0$ for the **marginal density** of level $t$: the data, shrunk by
# $\sqrt{\bar\alpha_t}$ and blurred with noise of variance $1-\bar\alpha_t$.
#
# ### The posterior $q(x_{t-1}\mid x_t, x_0)$
#
# Given $x_0$, the pair $(x_{t-1}, x_t)$ is jointly Gaussian: $x_{t-1}$ has mean
# $\sqrt{\bar\alpha_{t-1}}x_0$ and variance $1-\bar\alpha_{t-1}$; $x_t = \sqrt{\alpha_t}x_{t-1} +
# \sqrt{\beta_t}\,\xi$ has covariance $\sqrt{\alpha_t}(1-\bar\alpha_{t-1})$ with it and variance
# $1 - \bar\alpha_t$. Gaussian conditioning ($\mu_{1|2} = \mu_1 + \Sigma_{12}\Sigma_{22}^{-1}(x_2-\mu_2)$,
# $\Sigma_{1|2} = \Sigma_{11} - \Sigma_{12}^2/\Sigma_{22}$) gives the coefficient
# $\sqrt{\bar\alpha_{t-1}}\,\big[1 - \alpha_t(1-\bar\alpha_{t-1})/(1-\bar\alpha_t)\big]$ of $x_0$ and the variance
# $(1-\bar\alpha_{t-1})\big[1 - \alpha_t(1-\bar\alpha_{t-1})/(1-\bar\alpha_t)\big]$; since
# $1-\bar\alpha_t - \alpha_t(1-\bar\alpha_{t-1}) = 1-\alpha_t = \beta_t$, both brackets are $\beta_t/(1-\bar\alpha_t)$:
#
# $$q(x_{t-1}\mid x_t, x_0) = \mathcal N\big(\tilde\mu_t,\ \tilde\beta_t I\big),\quad
# \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\,x_0
#   + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\,x_t,\quad
# \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t .$$
#
# At $t = 1$ ($\bar\alpha_0 = 1$) it is the point $x_0$: $\tilde\beta_1 = 0$.
# (`Schedule.posterior`; the tests compare it with exactly this conditioning, and with a simulation.)
#
# ### The variational bound, term by term
#
# The generative model runs the chain backwards from $p(x_T) = \mathcal N(0, I)$ with Gaussian steps
# $p_\theta(x_{t-1}\mid x_t) = \mathcal N(\mu_\theta(x_t,t), \tau_t^2 I)$. As for the VAE of lecture 04,
# with $x_{1:T}$ as latent variables and the forward process as the encoder, Jensen's inequality gives
# $-\log p_\theta(x_0) \le L = \mathbb{E}_q\big[-\log p(x_T) - \sum_{t=1}^T \log\frac{p_\theta(x_{t-1}\mid x_t)}{q(x_t\mid x_{t-1})}\big]$.
# The forward chain is Markov, so $q(x_t\mid x_{t-1}) = q(x_t\mid x_{t-1}, x_0)$, and Bayes' rule turns it
# around: $q(x_t\mid x_{t-1}, x_0) = q(x_{t-1}\mid x_t, x_0)\,q(x_t\mid x_0)/q(x_{t-1}\mid x_0)$ for
# $t\ge 2$. The ratios $q(x_t\mid x_0)/q(x_{t-1}\mid x_0)$ telescope to $q(x_T\mid x_0)/q(x_1\mid x_0)$; its
# $q(x_1\mid x_0)$ cancels the $t = 1$ term's denominator, its $q(x_T\mid x_0)$ joins $-\log p(x_T)$, and
#
# $$L = \underbrace{\mathrm{KL}\big(q(x_T\mid x_0)\,\|\,p(x_T)\big)}_{L_T}
#   + \sum_{t=2}^{T}\underbrace{\mathbb{E}_q\,\mathrm{KL}\big(q(x_{t-1}\mid x_t,x_0)\,\|\,p_\theta(x_{t-1}\mid x_t)\big)}_{L_{t-1}}
#   \ \underbrace{-\ \mathbb{E}_q\log p_\theta(x_0\mid x_1)}_{L_0} .$$
#
# $L_T$ has no parameters (and is nearly 0 when $\bar\alpha_T\approx 0$). $L_0$ is a decoder term:
# {cite:t}`ho2020` use a Gaussian discretised to the 256 pixel values. Every other term is a KL
# between Gaussians; for a fixed variance $\tau_t^2$ it is $|\tilde\mu_t - \mu_\theta|^2/(2\tau_t^2)$ plus a
# constant. Ho et al. try $\tau_t^2 = \tilde\beta_t$ (the posterior's variance; our sampler uses it)
# and $\tau_t^2 = \beta_t$, with similar samples. With $\tilde\beta_t$ the last step ($t = 1$,
# $\tilde\beta_1 = 0$) is deterministic and has no density, which is one reason $L_0$ is treated apart.
#
# The posterior mean needs $x_0$, which the model does not have; parametrise the mean by a *guess* of it.
# Writing $x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon)/\sqrt{\bar\alpha_t}$ turns $\tilde\mu_t$ into
# $\frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\varepsilon\big)$ (use
# $\sqrt{\bar\alpha_{t-1}/\bar\alpha_t} = 1/\sqrt{\alpha_t}$ and, for the coefficient of $x_t$,
# $\beta_t + \alpha_t(1-\bar\alpha_{t-1}) = 1-\bar\alpha_t$), so let the
# network predict the noise, $\varepsilon_\theta(x_t, t)$, and set
# $\mu_\theta = \frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\varepsilon_\theta\big)$. Then
#
# $$L_{t-1} = \frac{\beta_t^2}{2\tau_t^2\,\alpha_t\,(1-\bar\alpha_t)}\;
#   \mathbb{E}\,\big|\varepsilon - \varepsilon_\theta(x_t,t)\big|^2 + \text{const}.$$
#
# {cite:t}`ho2020` drop these weights and average over the levels. With $\tau_t^2 = \tilde\beta_t$ the
# weight is $w_t = \beta_t/(2\alpha_t(1-\bar\alpha_{t-1}))$, and what dropping it does depends on the
# schedule (both are plotted below). For the linear schedule of {cite:t}`ho2020` at $T = 1000$
# ($\beta_t \le 0.02$) $w_t$ is largest at small $t$, and dropping it shifts the effort to the noisier
# levels. For the cosine schedule we use it is U-shaped: large at small $t$, smallest in the middle,
# and largest at $t = T$, where $\beta_T$ reaches its cap 0.999 and $w_T \approx 0.999/(2\times 0.001)
# \approx 500$; dropping it shifts the effort to the middle levels. The loss is
#
# $$L_{\rm simple}(\theta) = \mathbb{E}_{t\sim U\{1..T\},\ x_0,\ \varepsilon}
#   \big|\varepsilon - \varepsilon_\theta\big(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\ t\big)\big|^2 .$$
#
# ### The ε-prediction loss is weighted denoising score matching
#
# $L_{\rm simple}$ **is** denoising score matching at noise level $\sigma_t = \sqrt{1-\bar\alpha_t}$ on the
# scaled data $\sqrt{\bar\alpha_t}x_0$: the DSM target is $\nabla\log q(x_t\mid x_0) =
# -\varepsilon/\sqrt{1-\bar\alpha_t}$, so with $s_\theta = -\varepsilon_\theta/\sqrt{1-\bar\alpha_t}$,
#
# $$|\varepsilon - \varepsilon_\theta|^2 = (1-\bar\alpha_t)\,\big|s_\theta - \nabla\log q(x_t\mid x_0)\big|^2 ,$$
#
# DSM with the weight $\lambda_t = 1-\bar\alpha_t = \sigma_t^2$, exactly the weighting of
# {cite:t}`song2019`. By Part 1 the optimum is $\hat\varepsilon(x_t,t) = -\sqrt{1-\bar\alpha_t}\,\nabla\log q_t(x_t)$:
# **the noise predictor is the scaled score of the noised data.** For Gaussian data $\mathcal N(\mu, v)$
# (per pixel) $q_t = \mathcal N(\sqrt{\bar\alpha_t}\mu,\ \bar\alpha_t v + 1-\bar\alpha_t)$, so it is known in
# closed form, $\hat\varepsilon = \sqrt{1-\bar\alpha_t}\,(x_t - \sqrt{\bar\alpha_t}\mu)/(\bar\alpha_t v + 1-\bar\alpha_t)$
# (`diffusion.gaussian_eps_predictor`): the tests check the samplers with it, and we shall use it below.
#
# ### Ancestral sampling: a transport step plus a Langevin step
#
# Start from $x_T\sim\mathcal N(0,I)$; for $t = T,\dots,1$ predict
# $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon_\theta)/\sqrt{\bar\alpha_t}$, and draw
# $x_{t-1}\sim\mathcal N(\tilde\mu_t(\hat x_0, x_t), \tilde\beta_t I)$ (`diffusion.ddpm_sample`; at $t = 1$
# the mean).
#
# What does one step do? Write the mean with the score estimate $s = -\varepsilon_\theta/\sqrt{1-\bar\alpha_t}$:
# $\mu_\theta = (x_t + \beta_t s)/\sqrt{1-\beta_t}$. For small $\beta_t$, and where $1-\bar\alpha_t \gg \beta_t$
# (so that $\tilde\beta_t\approx\beta_t$), to first order in $\beta_t$
#
# $$x_{t-1} = x_t + \underbrace{\tfrac12\beta_t\,(x_t + s)}_{\text{transport}}
#   + \underbrace{\tfrac12\beta_t\, s + \sqrt{\beta_t}\,z}_{\text{Langevin}} ,\qquad z\sim\mathcal N(0,I).$$
#
# The second bracket is one Langevin step of size $\delta = \beta_t$ on the current density $q_t$: it
# leaves $q_t$ unchanged. The first is deterministic: it is one Euler step of the probability-flow ODE
# of Part 4, which carries $q_t$ into $q_{t-1}$. Ancestral sampling moves the samples from level to
# level *and* corrects them with Langevin at every level. Annealed Langevin (Part 1) has no transport
# term, only Langevin steps, and relies on them to re-equilibrate after every change of level;
# DDIM with $\eta = 0$ (Section 3) is the transport alone. The predictor–corrector samplers of
# {cite:t}`song2021sde` add more Langevin (corrector) steps per level. Section 3 measures ancestral
# sampling, DDIM, and Langevin alone (one step per level, no transport) with an exact score.
#
# **Clipping.** Images live in $[-1, 1]$, so we clip $\hat x_0$ to that range before the step
# (`clip=1`). This is not cosmetic: in the mean written with $\varepsilon_\theta$, the error of
# $\varepsilon_\theta$ is multiplied by $\beta_t/\sqrt{\alpha_t(1-\bar\alpha_t)}$, which for the *first*
# reverse step ($t = T$, where the cosine schedule's $\beta_T$ reaches its cap 0.999) is about
# $0.999/\sqrt{0.001}\approx 32$. Written through $\hat x_0$, the error is first divided by $\sqrt{\bar\alpha_t}$
# (tiny at the largest $t$) and then multiplied back; clipping $\hat x_0$ to the data range in between
# bounds it. There $\beta_t$ is not small: the first-order picture above holds only where the steps
# are small.
#
# ### The schedule and the network
#
# We use the **cosine schedule** of {cite:t}`nichol2021`, $\bar\alpha_t = f(t)/f(0)$ with
# $f(t) = \cos^2\big(\frac{t/T + c}{1+c}\frac\pi2\big)$ and a small offset $c = 0.008$ that keeps $\beta_1$
# from being vanishingly small (each $\beta_t = 1-\bar\alpha_t/\bar\alpha_{t-1}$ is capped at 0.999). The linear
# schedule of {cite:t}`ho2020` ($\beta_t$ from $10^{-4}$ to $0.02$ at $T = 1000$; `Schedule.linear` scales the
# range by $1000/T$ so that the last level is pure noise at every $T$) destroys small images early:
# many of its levels are almost pure noise (the fraction is printed below). The cosine one spends
# the levels more evenly. The network is a small **U-Net**: a convolutional encoder
# ($28\to14\to7$) and decoder with skip connections, residual blocks with group normalisation, and
# the time $t$ entering every block through a sinusoidal embedding (the positional encoding of
# transformers) and an MLP. We train it with Adam and sample with an exponential moving average
# (EMA) of its weights, $\theta_{\rm EMA}\leftarrow d\,\theta_{\rm EMA} + (1-d)\,\theta$: an average over about
# the last $1/(1-d)$ iterates, which smooths out the noise of the last updates. The decay warms up,
# $d = \min(0.995, (1+k)/(10+k))$ at update $k = 0, 1, \dots$, so a short training averages over few iterates
# (printed). Both networks are sampled and scored below.

# %% slideshow={"slide_type": "subslide"}
schedule = diffusion.Schedule.cosine(T_STEPS)
t_axis = np.arange(1, T_STEPS + 1)  # the levels t = 1 … T (index t − 1 in the schedule)


def vlb_weight(s: diffusion.Schedule) -> np.ndarray:
    """w_t = β_t / (2 α_t (1 − ᾱ_{t−1})) for t = 2 … T: the weight of L_{t−1} with τ_t² = β̃_t."""
    beta, ab = s.betas.double().numpy(), s.alpha_bar.double().numpy()
    return beta[1:] / (2 * (1 - beta[1:]) * (1 - ab[:-1]))


fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 3.2))
for name, s in [("cosine", schedule), ("linear", diffusion.Schedule.linear(T_STEPS))]:
    ax1.plot(t_axis, s.alpha_bar.numpy(), label=name)
    ax2.semilogy(t_axis, s.betas.numpy(), label=name)
    w = vlb_weight(s)
    ax3.semilogy(t_axis[1:], w, label=name)
    print(f"{name:7s}: ᾱ_T = {float(s.alpha_bar[-1]):.1e}; levels with ᾱ_t < 0.01 (almost pure noise): "
          f"{float((s.alpha_bar < 0.01).double().mean()):.0%}")  # fmt: skip
    print(f"         bound weight w_t at t = 2: {w[0]:.3g}, t = {T_STEPS // 2}: {w[T_STEPS // 2 - 2]:.3g}, "
          f"t = T − 1: {w[-2]:.3g}, t = T: {w[-1]:.3g}")  # fmt: skip
ax1.set(xlabel="t", ylabel="ᾱ_t (signal fraction)", title=f"schedules, T = {T_STEPS}")
ax2.set(xlabel="t", ylabel="β_t")
ax3.set(xlabel="t", ylabel="w_t", title="weight of L_{t−1} in the bound (dropped in L_simple)")
ax1.legend()
plt.tight_layout()
plt.show()

x_train = torch.from_numpy(data.to_float(train_images, "symmetric"))[:, None]  # (N, 1, 28, 28) in [-1, 1]
g_demo = torch.Generator().manual_seed(SEED)
levels = np.linspace(1, T_STEPS, 8).round().astype(int)  # t = 1 … T
noisy = schedule.q_sample(
    x_train[:1].expand(8, -1, -1, -1), torch.tensor(levels - 1), torch.randn(8, 1, 28, 28, generator=g_demo)
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


torch.set_num_threads(UNET_THREADS)
models, history = cache.cached_torch("08_ddpm_unet", build=build_unets, train=train_ddpm)
unet, last_iterate = models["ema"].eval().to(DEVICE), models["net"].eval().to(DEVICE)
n_params = sum(p.numel() for p in unet.parameters())
train_seconds = float(history["train_seconds"][0])
n_updates = len(history["loss"])
ema_window = 1 / (1 - min(EMA_DECAY, n_updates / (9 + n_updates)))  # 1/(1 − d) at the last update
print(f"U-Net: {n_params:,} parameters; {n_updates} updates took {train_seconds:.0f} s when it was trained")
print(f"the EMA weights average over about the last {ema_window:.0f} iterates")
plotting.plot_history(
    {"ε-loss": np.convolve(history["loss"], np.ones(20) / 20, mode="valid")},
    xlabel="update (running mean of 20)",
)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Samples, against an exact reference
#
# Ancestral sampling with all $T$ steps and `clip=1`, in batches, with the EMA weights and, for
# comparison, with the last iterate. The reference is not an untrained network, which any training
# beats, but the **same sampler with an exact noise predictor**: that of independent Gaussian pixels
# with the training digits' per-pixel means and variances (`diffusion.gaussian_eps_predictor`). It
# is the best denoiser that treats each pixel alone and linearly, so the U-Net has to beat it by
# learning more than each pixel's mean and variance: strokes, shapes, how pixels go together. A
# pixel that never changes in the training digits has variance 0, which the exact predictor takes
# as it is (how many there are is printed).
#
# Every FCD comes with the two reference points of `metrics.score_samples`: as many unseen real
# digits (the validation split) and uniform noise. Neither is a bound. The FCD's reference set is
# training images, so a model of the *training set* can score below unseen digits, and one that
# copies its training images certainly does (the memorisation check below looks for that);
# degenerate images (all grey, all black) can score above noise.


# %% slideshow={"slide_type": "subslide"}
def sample_images(model, *, steps: int | None = None, seed: int) -> dict[str, torch.Tensor | float]:
    """N_EVAL images from DDPM (steps=None: all T) or DDIM (steps), and the seconds per 100 images."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    t0 = time.time()
    for i in range(0, N_EVAL, SAMPLE_BATCH):
        shape = (min(SAMPLE_BATCH, N_EVAL - i), 1, 28, 28)
        if steps is None:
            x = diffusion.ddpm_sample(
                model, schedule, shape, clip=1.0, generator=gen, device=DEVICE, progress=True
            )
        else:
            x = diffusion.ddim_sample(
                model, schedule, shape, steps=steps, clip=1.0, generator=gen, device=DEVICE, progress=True
            )
        out.append(x.clamp(-1, 1).cpu())
    return {"images": torch.cat(out), "sec_per_100": (time.time() - t0) / N_EVAL * 100}


pixel_mean, pixel_var = x_train.double().mean(0), x_train.double().var(0, unbiased=False)  # (1, 28, 28)
gaussian_eps = diffusion.gaussian_eps_predictor(schedule, pixel_mean, pixel_var)
print(f"{int((pixel_var == 0).sum())} of 784 pixels never change in the training digits")

ddpm = cache.cached_arrays("08_samples_ddpm", compute=lambda: sample_images(unet, seed=SEED + 10))
last = cache.cached_arrays("08_samples_last", compute=lambda: sample_images(last_iterate, seed=SEED + 10))
gauss = sample_images(gaussian_eps, seed=SEED + 10)
ddpm_images, ddpm_sec_per_100 = torch.from_numpy(ddpm["images"]), float(ddpm["sec_per_100"])
ddpm_scores = metrics.score_samples(ddpm_images, "symmetric")
last_scores = metrics.score_samples(last["images"], "symmetric")
gauss_scores = metrics.score_samples(gauss["images"], "symmetric")

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
    gauss["images"][:32],
    ncols=16,
    vrange=(-1, 1),
    title="the same sampler with the exact ε̂ of independent Gaussian pixels",
)
plt.show()
display(
    Markdown(
        f"FCD of {ddpm_scores['n']} samples: DDPM with the EMA weights **{ddpm_scores['fcd']:.1f}**, "
        f"with the last iterate {last_scores['fcd']:.1f}; the exact independent-pixel Gaussian through "
        f"the same sampler {gauss_scores['fcd']:.1f}. Reference points: unseen real digits "
        f"{ddpm_scores['unseen_real']:.1f}, uniform noise {ddpm_scores['noise']:.1f}. Digits covered: "
        f"{ddpm_scores['digits_covered']}/10. Sampling: {ddpm_sec_per_100:.1f} s per 100 images."
    )
)

# %% [markdown]
# The animation follows 16 chains along the reverse process (the label is the number of reverse
# steps taken). Frame 0 is their starting noise $x_T$, which we draw ourselves and hand to the
# sampler (`start=`), so that the first frame is the chains' true start.

# %% slideshow={"slide_type": "subslide"}
frames, frame_steps = [], []
record_every = max(1, T_STEPS // 25)


def record(step: int, t: int, x: torch.Tensor, x0_hat: torch.Tensor) -> None:
    if step % record_every == 0 or step == T_STEPS:
        frames.append(x.clamp(-1, 1).cpu().clone())
        frame_steps.append(step)


x_start = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(SEED + 20))  # x_T
frames.append(x_start.clamp(-1, 1))
frame_steps.append(0)
diffusion.ddpm_sample(
    unet,
    schedule,
    (16, 1, 28, 28),
    clip=1.0,
    start=x_start,
    generator=torch.Generator().manual_seed(SEED + 21),
    device=DEVICE,
    callback=record,
)
plotting.animate_chain(frames, steps=frame_steps, ncols=8, vrange=(-1, 1))

# %% tags=["learning-check"]
# The DDPM samples' FCD against that of the exact independent-pixel Gaussian denoiser through the same sampler.
checks.below(
    "ddpm_fcd_over_gaussian",
    ddpm_scores["fcd"] / gauss_scores["fcd"],
    config.scaled(smoke=0.85, lecture=0.1, full=0.05),
    "FCD of the DDPM samples / FCD of the same sampler with the exact ε̂ of independent Gaussian pixels",
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Does it copy? The memorisation check
#
# An FCD at or below the unseen-digit reference does not prove a good model: returning training
# images would score below it. `lib.memorisation` measures, for every sample, the pixel distance to
# its nearest training image, and the same for validation digits (drawn like the training digits,
# but never trained on: certainly not copies). A model that generalises draws samples about as
# far from the training set as validation digits are (a median ratio near 1) and few closer than
# the validation digits' 1 % quantile (a near-copy); one that memorises puts many samples right on
# training images; one that draws noisy smudges puts them far away. Pixel distances favour blur,
# though: the smooth blobs of the independent-pixel Gaussian (printed beside the DDPM) can sit
# closer to a training image than a noisy but digit-like sample. The ratio says how far from the
# training set the samples are, not how good they are; that is the FCD's job.

# %% slideshow={"slide_type": "subslide"}
memo = memorisation.memorisation_check(
    ddpm_images, train_images, validation_images, pixel_range_samples="symmetric"
)
memo_gauss = memorisation.memorisation_check(
    gauss["images"], train_images, validation_images, pixel_range_samples="symmetric"
)
print("DDPM:                 ", memo)
print("independent Gaussian: ", memo_gauss)

fig, axes = plt.subplots(1, 2, figsize=(13, 3.4), gridspec_kw={"width_ratios": [1, 1.4]})
bins = np.linspace(0, max(memo.sample_distances.max(), memo.heldout_distances.max()), 50)
axes[0].hist(memo.heldout_distances, bins=bins, density=True, alpha=0.6, label="validation digits")
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

# %%
# A model that copies puts many samples closer to a training image than 99 % of validation digits are.
assert memo.copied_fraction < 0.05, memo.summary()

# %% tags=["learning-check"]
# The digits the DDPM samples cover, of the 10 in the data.
checks.above(
    "digits_covered",
    ddpm_scores["digits_covered"],
    config.scaled(smoke=3, lecture=7, full=8),
    "digits that receive at least 2 % of the DDPM samples (the data: 10)",
)

# %% tags=["learning-check"]
# The samples' median distance to the training set against that of validation digits.
checks.below(
    "median_distance_ratio",
    memo.median_ratio,
    config.scaled(smoke=2.4, lecture=1.5, full=1.3),
    "median nearest-training-image distance of the DDPM samples / that of validation digits",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. DDIM: fewer steps, no noise
#
# The DDPM loss only involves the marginals $q(x_t\mid x_0)$, never the chain itself. Many other
# processes have the same marginals: DDIM {cite:p}`song2021ddim` visits a decreasing sequence of
# levels and steps from each level $t$ to the next visited one, $t' < t$ ($\bar\alpha_0 = 1$ after the
# last), with
#
# $$x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'}-\varsigma_t^2}\;\hat\varepsilon + \varsigma_t\,z,
# \qquad \varsigma_t = \eta\sqrt{\tfrac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}\sqrt{1-\tfrac{\bar\alpha_t}{\bar\alpha_{t'}}} .$$
#
# Given $x_0$, take $\hat x_0 = x_0$ and $\hat\varepsilon = \varepsilon$, the very noise that made $x_t$.
# Averaged over $x_t\sim q(x_t\mid x_0)$ (that is, over $\varepsilon$) and over $z$, $x_{t'}$ then has mean
# $\sqrt{\bar\alpha_{t'}}x_0$ and variance $(1-\bar\alpha_{t'}-\varsigma_t^2) + \varsigma_t^2$: exactly
# the marginal $q(x_{t'}\mid x_0)$, for every $\eta$. That is why the trained network serves every
# $\eta$ and every sub-sequence of levels: no retraining. A sampler has no such oracle, though: it
# has only the best guess $\hat\varepsilon = \mathbb{E}[\varepsilon\mid x_t]$, and with it a finite step is exact
# only in the limit of small steps. $\eta = 1$ with all $T$ steps is ancestral DDPM (a test checks
# that they agree to rounding); **$\eta = 0$ is deterministic**: the noise $x_T$ fixes the image, and
# each step is the transport step alone.
#
# ### The discretisation error, with an exact score
#
# How much do the samplers themselves cost? With the exact $\hat\varepsilon$ of the independent-pixel
# Gaussian, every error of the samples is the sampler's. We sample it without clipping (so that
# the tails count) and compare the samples' total variance (summed over pixels) with the
# Gaussian's: DDPM (transport and Langevin), DDIM at the step counts used below and with all $T$
# steps (transport alone), and one Langevin step of size $\beta_t$ per level with no transport
# (annealed Langevin with the schedule's levels).


# %% slideshow={"slide_type": "subslide"}
def langevin_per_level(eps_model, shape, generator: torch.Generator) -> torch.Tensor:
    """One Langevin step x ← x + ½β_t s + √β_t z on q_t at each level t = T … 1, and no transport."""
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    for i in reversed(range(T_STEPS)):  # the index of level t = i + 1
        beta, ab = float(schedule.betas[i]), float(schedule.alpha_bar[i])
        score = -eps_model(x, torch.full((len(x),), i)) / math.sqrt(1 - ab)
        x = (
            x
            + 0.5 * beta * score
            + math.sqrt(beta) * torch.randn(shape, generator=generator, dtype=torch.float64)
        )
    return x


n_exact = 2000
g_exact = torch.Generator().manual_seed(SEED + 30)
shape_exact = (n_exact, 1, 28, 28)
kw_exact = {"generator": g_exact, "dtype": torch.float64}
exact_runs = {
    f"DDPM, {T_STEPS} steps": diffusion.ddpm_sample(gaussian_eps, schedule, shape_exact, **kw_exact)
}
exact_how = {f"DDPM, {T_STEPS} steps": ("ddpm", None)}  # (sampler, steps), for the closed form below
for steps in [*DDIM_STEPS, T_STEPS]:
    exact_runs[f"DDIM, {steps} steps"] = diffusion.ddim_sample(
        gaussian_eps, schedule, shape_exact, steps=steps, **kw_exact
    )
    exact_how[f"DDIM, {steps} steps"] = ("ddim", steps)
exact_runs["Langevin only, 1 step per level"] = langevin_per_level(gaussian_eps, shape_exact, g_exact)
exact_how["Langevin only, 1 step per level"] = ("langevin", None)
variance_ratio = {
    name: float(x.var(0, unbiased=False).sum() / pixel_var.sum()) for name, x in exact_runs.items()
}
print("exact ε̂ of the independent-pixel Gaussian: the samples' variance / the Gaussian's")
for name, r in variance_ratio.items():
    print(f"  {name:34s} {r:.3f}")

# %%
# Fewer deterministic steps give narrower samples, even with the exact score.
assert variance_ratio[f"DDIM, {DDIM_STEPS[0]} steps"] < variance_ratio[f"DDIM, {T_STEPS} steps"], (
    variance_ratio
)

# %% [markdown]
# With an exact score the samplers are not exact: the finite steps of DDPM and DDIM miss some of
# the variance, and the fewer the steps, the narrower the samples; Langevin alone errs the other
# way (see its row). What happens as $T$ grows? For Gaussian data every
# one of these samplers is linear in $x$, pixel by pixel, so the variance of a pixel with data
# variance $v$ follows a recursion we can evaluate for any $T$ in milliseconds. With
# $V_t = \bar\alpha_t v + 1-\bar\alpha_t$, the variance of $q_t$, and starting from $\mathrm{Var} = 1$ at $t = T$:
#
# - one Langevin step per level: $\mathrm{Var} \leftarrow \big(1 - \tfrac{\beta_t}{2V_t}\big)^2\,\mathrm{Var} + \beta_t$;
# - a DDIM step from $t$ to $t'$ (DDPM: $\eta = 1$ and all $T$ steps): $\hat x_0$ and $\hat\varepsilon$ are linear
#   in $x_t$, and $\mathrm{Var} \leftarrow A^2\,\mathrm{Var} + \varsigma_t^2$ with
#   $A = \big(\sqrt{\bar\alpha_{t'}\bar\alpha_t}\,v + \sqrt{(1-\bar\alpha_{t'}-\varsigma_t^2)(1-\bar\alpha_t)}\big)/V_t$.
#
# The cell below checks the recursion against the samples above at $T$ = `T_STEPS`, and then
# tabulates it for larger $T$ (the cosine schedule at each $T$).


# %% slideshow={"slide_type": "subslide"}
def exact_variances(T: int, sampler: str, steps: int | None = None) -> np.ndarray:
    """The samples' variance of every pixel, (784,), in closed form, for the exact ε̂ of the
    independent-pixel Gaussian on the cosine schedule with T levels. sampler: "ddpm", "ddim"
    (steps: None for all T) or "langevin" (one step per level, no transport)."""
    s = diffusion.Schedule.cosine(T)
    ab_all, betas = s.alpha_bar.double().numpy(), s.betas.double().numpy()
    v = pixel_var.numpy().ravel()  # (784,) the data variances
    var = np.ones_like(v)  # x_T ~ N(0, I)
    if sampler == "langevin":
        for i in reversed(range(T)):  # the index of level t = i + 1
            var = (1 - betas[i] / (2 * (ab_all[i] * v + 1 - ab_all[i]))) ** 2 * var + betas[i]
        return var
    eta = 1.0 if sampler == "ddpm" else 0.0
    levels = diffusion.ddim_timesteps(T, steps or T)
    for k in reversed(range(len(levels))):
        ab = ab_all[levels[k]]
        ab_next = ab_all[levels[k - 1]] if k > 0 else 1.0  # ᾱ_{t'} of the next level visited
        var_z = eta**2 * (1 - ab_next) / (1 - ab) * (1 - ab / ab_next)  # ς²
        gain = math.sqrt(ab_next * ab) * v + math.sqrt(max(0.0, 1 - ab_next - var_z) * (1 - ab))
        var = (gain / (ab * v + 1 - ab)) ** 2 * var + var_z  # A² Var + ς²
    return var


def exact_variance_ratio(T: int, sampler: str, steps: int | None = None) -> float:
    """The samples' total variance / the Gaussian's, in closed form."""
    return float(exact_variances(T, sampler, steps).sum() / pixel_var.sum())


# The closed form against the samples above, in units of the sampled ratio's standard error: the
# pixels of a sample are independent Gaussians, so Var(sample variance) = 2 Var² / n per pixel.
gap_sigmas = {}
for name, how in exact_how.items():
    var = exact_variances(T_STEPS, *how)
    std_error = math.sqrt(2 * (var**2).sum() / n_exact) / float(pixel_var.sum())
    gap_sigmas[name] = abs(var.sum() / float(pixel_var.sum()) - variance_ratio[name]) / std_error
print(f"T = {T_STEPS}: largest |sampled − closed-form| variance ratio, in standard errors: "
      f"{max(gap_sigmas.values()):.1f}")  # fmt: skip
assert max(gap_sigmas.values()) < 5, gap_sigmas

T_TABLE = [20, 100, 1000, 10_000]
columns = {"DDPM": ("ddpm", None), "DDIM, all T": ("ddim", None), "DDIM, 10": ("ddim", 10),
           "Langevin only": ("langevin", None)}  # fmt: skip
ratio_table = {T: {name: exact_variance_ratio(T, *how) for name, how in columns.items()} for T in T_TABLE}
print("closed form, samples' variance / the Gaussian's:")
print(f"{'T':>7s} " + " ".join(f"{name:>14s}" for name in columns))
for T, row in ratio_table.items():
    print(f"{T:7d} " + " ".join(f"{r:14.3f}" for r in row.values()))
# With the exact score, DDPM's stochastic steps miss more of the variance than DDIM's deterministic ones.
assert all(row["DDPM"] < row["DDIM, all T"] for row in ratio_table.values()), ratio_table

# %% [markdown] slideshow={"slide_type": "subslide"}
# As $T$ grows, the DDPM and full DDIM ratios approach 1, while DDIM with 10 steps stays too narrow:
# its steps do not get smaller. DDIM ($\eta = 0$) is in fact *always* too narrow for Gaussian data, at
# any number of steps, by the Cauchy–Schwarz inequality: $\big(\sqrt{\bar\alpha_{t'}v}\sqrt{\bar\alpha_t v} +
# \sqrt{1-\bar\alpha_{t'}}\sqrt{1-\bar\alpha_t}\big)^2 \le V_{t'}V_t$, that is $A^2 \le V_{t'}/V_t$ at
# $\varsigma_t = 0$, so each step gives
# $\mathrm{Var}_{t'}/V_{t'} = (A^2 V_t/V_{t'})\,\mathrm{Var}_t/V_t \le \mathrm{Var}_t/V_t$: the ratio to the target
# variance starts at $1/V_T \approx 1$ ($\bar\alpha_T\approx 0$) and never grows (for $v > 0$ it shrinks at every step).
#
# One Langevin step per level without the transport term converges as well, but to the wrong
# variance: its error does not vanish as $T\to\infty$. To first order in $\beta_t$ a step changes the
# variance by $\beta_t(1 - \mathrm{Var}/V_t)$: it relaxes the samples towards the current $q_t$, while
# the target itself moves by $V_{t-1} - V_t \approx -\beta_t(1 - V_t)$ per level. Both are of order $\beta_t$,
# so however fine the levels, the relaxation lags behind the moving target. For MNIST in $[-1, 1]$
# every pixel has $v \le 1$, so $V_t$ shrinks from 1 towards $v$ as $t$ decreases, and the lagging
# samples end too wide (a ratio above 1 in the table). Nothing carries the
# samples from one level to the next: annealed Langevin in Part 1 needed tens of steps per level
# for that reason.
#
# Now the U-Net: as many images as before with DDIM at several step counts, their FCD against the
# number of network evaluations, with the sampling time beside it (as measured when the samples
# were drawn, which may have been on another machine).

# %% slideshow={"slide_type": "subslide"}
ddim = {}
for steps in tqdm(DDIM_STEPS, desc="DDIM step counts"):
    out = cache.cached_arrays(
        f"08_samples_ddim{steps}", compute=lambda n=steps: sample_images(unet, steps=n, seed=SEED + 10)
    )
    ddim[steps] = {
        "scores": metrics.score_samples(out["images"], "symmetric"),
        "sec_per_100": float(out["sec_per_100"]),
        "images": out["images"],
    }

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
ax1.plot(list(ddim), [d["scores"]["fcd"] for d in ddim.values()], "o-", label="DDIM (η = 0)")
ax1.plot([T_STEPS], [ddpm_scores["fcd"]], "s", ms=9, label=f"DDPM, all {T_STEPS} steps")
ax1.axhline(ddpm_scores["unseen_real"], color="grey", ls="--", label="unseen real digits (reference)")
ax1.axhline(gauss_scores["fcd"], color="C3", ls=":", label="independent Gaussian pixels (DDPM)")
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
# in proportion. What DDIM loses with few steps is the discretisation error measured above with
# an exact score, plus the network's own errors, which the deterministic sampler does not average
# out with fresh noise; how close DDIM at a few tens of steps comes to DDPM therefore also depends
# on how well the network is trained. The fixed noise makes DDIM invertible: running the ODE
# forwards encodes an image into its noise (exercise 6).

# %% slideshow={"slide_type": "subslide"}
results.record(
    "ddpm_fcd",
    ddpm_scores["fcd"],
    unit="FCD (course classifier)",
    key=f"DDPM FCD (n={ddpm_scores['n']})",
    scores=ddpm_scores,
    last_iterate_fcd=last_scores["fcd"],
    independent_gaussian_fcd=gauss_scores["fcd"],
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
results.record("exact_score_variance_ratio", variance_ratio, unit="sample variance / data variance")
results.record("digits_covered", ddpm_scores["digits_covered"], unit="of 10")
results.record("unet_parameters", n_params)
results.record("train_seconds", train_seconds, unit="s", updates=n_updates)
results.record("sampling_seconds_per_100_ddpm", ddpm_sec_per_100, unit="s")
results.record(
    "nearest_training_distance", memo.median_ratio, unit="median ratio to validation digits", **memo.summary()
)
# The rows of DDPM and DDIM (20 steps, or the most steps below T) in the course's comparison of
# its MNIST models.
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
# **The forward process is an Ornstein–Uhlenbeck process.** With a continuous time $u\in[0,1]$,
# $u = t/T$, and $\beta_t = \beta(u)\,\Delta u$, one forward step
# $x_{t} = \sqrt{1-\beta_t}\,x_{t-1} + \sqrt{\beta_t}\,\xi \approx x_{t-1} - \tfrac12\beta(u)x_{t-1}\Delta u + \sqrt{\beta(u)\Delta u}\,\xi$
# is the Euler–Maruyama step of the SDE
#
# $$dx = -\tfrac12\beta(u)\,x\,du + \sqrt{\beta(u)}\,dW_u ,$$
#
# the overdamped Langevin equation of a particle in the harmonic well $V = x^2/2$ at temperature 1
# (lecture 03's Langevin dynamics with the energy of a standard Gaussian), with a time-dependent
# friction. Its stationary law is $\mathcal N(0, I)$; the data's share of the variance, the signal
# fraction $\bar\alpha(u) = e^{-\int_0^u\beta}$, decays towards 0: the "variance preserving" SDE of
# {cite:t}`song2021sde`.
#
# **Fokker–Planck.** The density $p_u(x)$ of the noised data (Section 2's $q_t$ at $u = t/T$) obeys
#
# $$\partial_u p_u = \nabla\cdot\big(\tfrac12\beta(u)\,x\,p_u\big) + \tfrac12\beta(u)\,\nabla^2 p_u
#  = \nabla\cdot\Big(\tfrac12\beta(u)\,p_u\,\big[x + \nabla\log p_u\big]\Big):$$
#
# probability flows down the gradient of the chemical potential $\delta F/\delta p_u = x^2/2 + \log p_u + 1$
# of the free energy $F[p] = \int p\,(x^2/2 + \log p)$ (energy $x^2/2$, temperature 1), and stops when
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
# "First order" needs small steps (and $\tilde\beta_t\approx\beta_t$, as in Section 2): it fails at the
# first reverse steps of the cosine schedule, where $\beta_t$ approaches its cap 0.999, and it says
# nothing about clipping, which changes the step wherever it acts.
#
# **Probability-flow ODE** {cite:p}`song2021sde`. Write Fokker–Planck as a continuity equation,
# $\partial_u p_u = -\nabla\cdot(p_u v)$ with the velocity $v = f - \tfrac12 g^2\nabla\log p_u$. Particles
# moving *deterministically* along
#
# $$\frac{dx}{du} = -\tfrac12\beta(u)\big[x + \nabla\log p_u(x)\big]$$
#
# therefore have the same marginals $p_u$ at every time as the SDE. Integrated backwards from
# $\mathcal N(0,I)$ it generates samples, and DDIM with $\eta = 0$ is a discretisation of it: in
# the variables $y = x/\sqrt{\bar\alpha}$ and $\rho = \sqrt{(1-\bar\alpha)/\bar\alpha}$ (so that $y = x_0 + \rho\,\varepsilon$)
# the DDIM update $y_{t'} = y_t + (\rho_{t'} - \rho_t)\,\hat\varepsilon$ is exactly an Euler step of $dy/d\rho = \hat\varepsilon$
# (this is the ODE above: with $d\bar\alpha/du = -\beta\bar\alpha$ and $\nabla\log p_u = -\hat\varepsilon/\sqrt{1-\bar\alpha}$,
# $dy/du = -\tfrac12\beta\,\nabla\log p_u/\sqrt{\bar\alpha} = \tfrac12\beta\,\hat\varepsilon/\sqrt{\bar\alpha(1-\bar\alpha)}$
# and $d\rho/du = \tfrac12\beta/\sqrt{\bar\alpha(1-\bar\alpha)}$),
# as long as nothing is clipped (our sampler clips $\hat x_0$, which changes $\hat\varepsilon$ wherever it acts).
# Being an ODE, it is invertible: run forwards, it maps an image to the noise that generates it
# (exercise 6).
#
# **The reverse SDE is the ODE plus Langevin** {cite:p}`karras2022`. Split the reverse drift,
# $f - g^2\nabla\log p_u = \big(f - \tfrac12 g^2\nabla\log p_u\big) - \tfrac12 g^2\nabla\log p_u$. Over a step
# backwards in time, $du = -|du|$, the first part is the probability-flow ODE, which carries $p_u$
# into $p_{u-|du|}$. The rest, $+\tfrac12 g^2|du|\,\nabla\log p_u + g\sqrt{|du|}\,\xi$, is one Langevin step of
# size $\delta = g^2|du|$ on the current density $p_u$, which leaves $p_u$ unchanged. The score drift
# $g^2|du|\,\nabla\log p_u$ of the reverse SDE thus splits evenly: half transports, half is Langevin's
# drift. With $g^2|du| = \beta_t$ this is the split of the DDPM step in Section 2. {cite:t}`karras2022`
# (their eq. 6) give the Langevin part an arbitrary weight, from 0 (the ODE, DDIM) upwards: in the
# continuum limit every weight keeps the marginals, and the Langevin part can correct errors made
# in earlier steps. That correction pays off against the errors of a learned score; with the exact
# score, the stochastic discretisation errs more here (Section 3's table: DDPM is further from the
# target variance than full DDIM at every $T$).
#
# **Back to lecture 03.** Annealed Langevin, ancestral DDPM and the reverse SDE all use Langevin
# dynamics $dx = \tfrac12\nabla\log p\,du + dW$ on a sequence of densities that interpolate from a
# Gaussian to the data, driven by a score learned by regression. They differ in how the samples
# move from one density to the next: annealed Langevin only by re-equilibrating (many steps per
# level), the reverse SDE and DDPM by a transport step plus one Langevin step, DDIM by transport
# alone; the predictor–corrector samplers of {cite:t}`song2021sde` add Langevin correctors to a
# transport predictor. Lecture 03 needed a sampler to *train*; here sampling happens only after
# training, and the hard multimodal target is reached through a sequence of easy, blurred ones (as
# in simulated annealing and parallel tempering).
#
# **What `full` changes.** At `COURSE_SCALE=full` (a GPU recommended) the U-Net is wider, $T = 1000$
# as in {cite:t}`ho2020`, training runs for tens of thousands of updates and the FCDs use 10 000
# samples, which needs the full MNIST (the unseen-digit reference point needs as many validation
# digits).
#
# ## Conclusion
#
# - The score does not involve $Z$; denoising score matching learns it by regression, and its optimum
#   is the score of the noised data (Tweedie's denoiser): the trained 2-D network was compared with the
#   exact noised score of the mixture at every noise level.
# - Plain Langevin, even with the exact score, misweights separated modes; annealing over noise
#   levels fixes it. A DSM-trained energy learns lecture 03's target without any sampling during
#   training; the table in Part 1 compares it with lecture 03's contrastive EBM at roughly equal
#   training time (both times are printed), with both KLs.
# - DDPM's ε-loss is the variational bound's KL terms with their weights dropped, and it is
#   weighted DSM. An ancestral step is, to first order, a transport step of the probability-flow
#   ODE plus one Langevin step at the current level; clipping $\hat x_0$ keeps the first, large
#   reverse steps stable. The samples are measured with the course's FCD against the exact
#   independent-pixel denoiser through the same sampler, and checked for copying against
#   validation digits.
# - DDIM trades noise for determinism and steps for speed: a discretised probability-flow ODE,
#   whose samples are too narrow even with an exact score (for Gaussian data at any number of
#   steps, and the more so the fewer). One Langevin step per level without transport misses the
#   target even in the limit of infinitely many levels.


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# The first three are **checked**: fill in the cell marked `...`, run it, then run the `check`
# line below it, which measures your answer against an independent reference (the posterior mean
# by quadrature, the score of the noised density by automatic differentiation, the
# probability-flow ODE integrated numerically) and says what disagrees. The others are open: write
# your answer, then compare it with the model answer. In the book each solution is folded: try
# first.

# %%
from lib.exercises import check

# %% [raw]
# # BEGIN QUESTION
# name: ex08_1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: Tweedie's denoiser for a mixture
#
# In one dimension take the data density $p(x) = \sum_k w_k\,\mathcal N(x; m_k, s_k^2)$ and noise
# it, $\tilde x = x + \sigma\varepsilon$ with $\varepsilon\sim\mathcal N(0, 1)$. The optimal denoiser,
# the minimiser of $\mathbb{E}\,|D(\tilde x) - x|^2$, is the posterior mean $\mathbb{E}[x\mid\tilde x]$.
# Compute it by Bayes' rule, component by component: the probability $r_k(\tilde x)$ that $\tilde x$
# came from component $k$, and the mean of $x$ given $\tilde x$ and $k$. Write
# `denoiser(x_noisy, sigma, weights, means, stds)`, which returns $\mathbb{E}[x\mid\tilde x]$ at every
# point of the 1-D array `x_noisy` (an array of the same shape; `weights`, `means` and `stds` are
# sequences of the $w_k$, $m_k$ and $s_k$), without `diffusion.mixture_score`. By Tweedie's formula
# $(\mathbb{E}[x\mid\tilde x] - \tilde x)/\sigma^2$ is the score of $p_\sigma$: what do the denoiser
# and the score become as $\sigma \to 0$ and as $\sigma\to\infty$?


# %% tags=["hide-input"]
def denoiser(x_noisy: np.ndarray, sigma: float, weights, means, stds) -> np.ndarray:
    """E[x | x̃] at each x̃ of x_noisy, for x ~ Σ_k w_k N(m_k, s_k²) and x̃ = x + σ ε."""
    # BEGIN SOLUTION
    x = np.asarray(x_noisy, dtype=np.float64)[:, None]  # (n, 1) against the K components
    w, m, s = (np.asarray(a, dtype=np.float64) for a in (weights, means, stds))
    var = s**2 + sigma**2  # given k, x̃ ~ N(m_k, s_k² + σ²)
    log_r = np.log(w) - 0.5 * np.log(var) - (x - m) ** 2 / (2 * var)  # log r_k(x̃) + const
    r = np.exp(log_r - log_r.max(1, keepdims=True))
    r /= r.sum(1, keepdims=True)  # the responsibilities, (n, K)
    # Given k, (x, x̃) is jointly Gaussian: E[x | x̃, k] = m_k + s_k²/(s_k² + σ²) (x̃ − m_k).
    # σ → 0: the gain s_k²/(s_k² + σ²) → 1, so E[x | x̃] → x̃ (there is nothing to remove), and the
    # score (E[x | x̃] − x̃)/σ² tends to the data's own score ∇log p(x̃), since p_σ → p.
    # σ → ∞: r_k → w_k and the gain → 0, so E[x | x̃] → Σ_k w_k m_k, the data's mean, and the score,
    # of order 1/σ², points to that centre of mass, as in the figures of Part 1.
    return np.sum(r * (m + s**2 / var * (x - m)), axis=1)
    # END SOLUTION


# %%
check("08.1", denoiser)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex08_2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: The exact noise predictor of a correlated Gaussian
#
# Section 2's reference treats the pixels as independent. For data $x_0\sim\mathcal N(\mu, \Sigma)$
# in $D$ dimensions, with a covariance $\Sigma$ that may be singular,
# $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ is Gaussian too. Derive the
# optimal noise predictor $\hat\varepsilon(x_t) = \mathbb{E}[\varepsilon\mid x_t]$, by Gaussian
# conditioning on the pair $(\varepsilon, x_t)$ or from $\hat\varepsilon = -\sqrt{1-\bar\alpha_t}\,\nabla\log q_t(x_t)$
# (Section 2), and write `gaussian_eps_full(xt, alpha_bar, mu, cov)`: `xt` is a batch of $x_t$ of
# shape `(B, D)`, `alpha_bar` the number $\bar\alpha_t\in(0, 1)$, `mu` of shape `(D,)`, `cov` of shape
# `(D, D)`; it returns $\hat\varepsilon$ of shape `(B, D)`. Diagonalise $\Sigma = U\Lambda U^\top$
# (`np.linalg.eigh`) or solve a linear system, but never invert $\Sigma$ itself: why is there no
# need to?


# %% tags=["hide-input"]
def gaussian_eps_full(xt: np.ndarray, alpha_bar: float, mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """E[ε | x_t] for data N(mu, cov): xt (B, D), alpha_bar = ᾱ_t, mu (D,), cov (D, D) -> (B, D)."""
    # BEGIN SOLUTION
    # Cov(ε, x_t) = √(1 − ᾱ) I and Cov(x_t) = ᾱΣ + (1 − ᾱ) I, so Gaussian conditioning gives
    # ε̂ = √(1 − ᾱ) (ᾱΣ + (1 − ᾱ) I)⁻¹ (x_t − √ᾱ μ). Along an eigenvector of Σ with eigenvalue λ the
    # inverse is 1/(ᾱλ + 1 − ᾱ) ≤ 1/(1 − ᾱ): finite even where λ = 0, and Σ is never inverted.
    lam, u = np.linalg.eigh(cov)
    z = (xt - np.sqrt(alpha_bar) * mu) @ u  # the coordinates in the eigenbasis of Σ, (B, D)
    return np.sqrt(1 - alpha_bar) * (z / (alpha_bar * lam + 1 - alpha_bar)) @ u.T
    # END SOLUTION


# %%
check("08.2", gaussian_eps_full)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex08_3

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: The probability-flow ODE, solved
#
# For data $\mathcal N(\mu, v)$ (one pixel) the noised density at signal fraction $\bar\alpha$ is
# $\mathcal N(\sqrt{\bar\alpha}\,\mu, V)$ with $V = \bar\alpha v + 1 - \bar\alpha$, and the
# probability-flow ODE of Part 4, $dx/du = -\tfrac12\beta(u)\big[x + \nabla\log p_u(x)\big]$, can be
# solved in closed form. Take $\bar\alpha$ as the time ($d\bar\alpha/du = -\beta\bar\alpha$: the
# schedule drops out) and follow $z = x - \sqrt{\bar\alpha}\,\mu$. Write
# `pf_ode_map(x, alpha_bar_from, alpha_bar_to, mu, v)`, which carries the points of the array `x`
# along the ODE from the signal fraction `alpha_bar_from` to `alpha_bar_to`, in either direction
# ($\bar\alpha = 1$ is the data), and returns an array of the same shape. Compare it with one DDIM
# step ($\eta = 0$) between the same levels, which multiplies $z$ by Section 3's gain $A$: which
# of the two moves the points further from the mean, and why must the exact map carry
# $\mathcal N(\sqrt{\bar\alpha_{\rm from}}\,\mu, V_{\rm from})$ into $\mathcal N(\sqrt{\bar\alpha_{\rm to}}\,\mu, V_{\rm to})$?


# %% tags=["hide-input"]
def pf_ode_map(x: np.ndarray, alpha_bar_from: float, alpha_bar_to: float, mu: float, v: float) -> np.ndarray:
    """The points x carried along the probability-flow ODE of data N(mu, v) from ᾱ_from to ᾱ_to."""
    # BEGIN SOLUTION
    # With ᾱ as the time, dx/dᾱ = (x + ∇log q)/(2ᾱ) and ∇log q = −z/V. Then
    # dz/dᾱ = dx/dᾱ − μ/(2√ᾱ) = z (V − 1)/(2ᾱV) = z (dV/dᾱ)/(2V), since V − 1 = ᾱ(v − 1): z ∝ √V.
    # The map z ↦ √(V_to/V_from) z carries N(0, V_from) into N(0, V_to), as it must: the ODE's
    # velocity is that of the Fokker–Planck equation written as a continuity equation, so its
    # particles keep the marginals of the diffusion at every time. One DDIM step multiplies z by
    # A = (√(ᾱᾱ') v + √((1 − ᾱ)(1 − ᾱ')))/V ≤ √(V'/V) (Cauchy–Schwarz, Section 3): it moves the
    # points less far from the mean, so its samples end too narrow (equality only for ᾱ' = ᾱ or v = 0).
    v_from = alpha_bar_from * v + 1 - alpha_bar_from
    v_to = alpha_bar_to * v + 1 - alpha_bar_to
    z = np.asarray(x, dtype=np.float64) - np.sqrt(alpha_bar_from) * mu
    return np.sqrt(alpha_bar_to) * mu + np.sqrt(v_to / v_from) * z
    # END SOLUTION


# %%
check("08.3", pf_ode_map)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex08_4
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: Schedules, and the first reverse steps without clipping
#
# Retrain with `diffusion.Schedule.linear(T_STEPS)` (Ho et al.'s range scaled by $1000/T$) and
# compare the FCD at the same budget. Plot the log signal-to-noise ratio
# $\log\big(\bar\alpha_t/(1-\bar\alpha_t)\big)$ of both schedules against $t/T$: where does the
# linear one waste its levels {cite:p}`nichol2021`? Then sample the U-Net with `clip=None` and
# compare, and compute the factor $\beta_t/\sqrt{\alpha_t(1-\bar\alpha_t)}$ that multiplies the error
# of $\varepsilon_\theta$ in the mean of a reverse step, for the largest few $t$ (the first reverse
# steps) of both schedules.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# Without the small offset $c$ the cosine schedule is $\bar\alpha\approx\cos^2(\pi u/2)$ at
# $u = t/T$, so its log signal-to-noise ratio is $-2\log\tan(\pi u/2)$: it falls almost
# linearly through the middle, crosses 0 near $u = 1/2$ and is steep only at the two ends. For
# the scaled linear schedule at large $T$,
# $-\log\bar\alpha_t = -\sum_{k\le t}\log(1-\beta_k)\approx\sum_{k\le t}\beta_k\approx 0.1\,u + 9.95\,u^2$,
# so the log signal-to-noise ratio falls quadratically and the levels with
# $\bar\alpha_t < 0.01$, almost pure noise, start at $u\approx 0.68$: about the last third of the
# levels, against about the last 6 % for the cosine schedule at large $T$ (Section 2's cell
# prints both fractions at your $T$). Training draws $t$ uniformly, so the linear schedule spends
# about a third of its updates, and sampling a third of its steps, where $x_t$ is nearly pure noise
# and predicting $\varepsilon$ is nearly trivial; {cite:t}`nichol2021` found that skipping up to
# the last fifth of its reverse process costs little. Expect the linear schedule to do no better
# than the cosine one at the same budget, and weigh the difference against the FCD's noise before
# reading much into it.
#
# The mean of a reverse step is $\mu_\theta = \big(x_t - \beta_t\varepsilon_\theta/\sqrt{1-\bar\alpha_t}\big)/\sqrt{\alpha_t}$,
# so an error $\delta$ of $\varepsilon_\theta$ moves it by $\beta_t\delta/\sqrt{\alpha_t(1-\bar\alpha_t)}$.
# The cosine schedule caps $\beta_T$ at 0.999, and $1-\bar\alpha_T\approx 1$, so the factor is
# $0.999/\sqrt{0.001}\approx 32$ at $t = T$. Before the cap,
# $\bar\alpha_t\propto\sin^2\big(\tfrac{1-u}{1+c}\tfrac\pi2\big)$, nearly proportional to $(1-u)^2$
# near the end, so $\beta_{T-k}\approx 1 - k^2/(k+1)^2$ whatever $T$, and the factor falls to about
# 1.5 at $t = T-1$ and below 1 after. The linear schedule's last $\beta$ is $0.02\cdot 1000/T$
# (0.2 at $T = 100$), so its factor is $\beta_T/\sqrt{1-\beta_T}\approx 0.22$ there: no
# amplification, except at $T \le 20$, where the cap binds for both schedules. Without clipping, the cosine schedule's first reverse step multiplies
# the network's error at $t = T$ about 32-fold; expect blotchy, saturated or out-of-range pixels and
# a worse FCD unless the network is very accurate there. Clipping $\hat x_0$ to $[-1, 1]$ bounds
# that first step, as Section 2 explains.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex08_5
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5: Beyond independent pixels, on MNIST
#
# With the training digits' mean $\mu$ and full covariance $\Sigma$, exercise 2's predictor is the
# exact noise predictor of the Gaussian that knows every pixel correlation. Diagonalise $\Sigma$
# once, wrap the predictor as an `eps_model(x_t, t)` for `diffusion.ddpm_sample` (images of shape
# `(B, 1, 28, 28)`, flattened to 784; `t` holds 0-based level indices, the same for the whole
# batch, and the signal fraction is `schedule.alpha_bar[t]`), sample it as in Section 2 and score it. How much of the gap between
# the independent-pixel reference and the U-Net do pixel correlations close? $\Sigma$ is singular
# (some pixels never change): why does that not matter here?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# In the eigenbasis of $\Sigma$ the predictor acts direction by direction, as in exercise 2:
# $\hat\varepsilon_i = \sqrt{1-\bar\alpha_t}\,z_i/(\bar\alpha_t\lambda_i + 1-\bar\alpha_t)$ with
# $z = U^\top(x_t - \sqrt{\bar\alpha_t}\mu)$. A zero eigenvalue (a pixel that never changes, or any
# combination of pixels that is constant in the data) gives $\hat\varepsilon_i = z_i/\sqrt{1-\bar\alpha_t}$:
# all of $x_t$'s deviation from $\sqrt{\bar\alpha_t}\mu$ along it is noise, and $\hat x_0 = \mu$ there,
# which is right, since the data never move along it. The matrix inverted is
# $\bar\alpha_t\Sigma + (1-\bar\alpha_t)I$, whose eigenvalues are at least $1-\bar\alpha_t \ge \beta_1 > 0$
# at every level: the noise regularises the inversion, and $\Sigma$ itself is never inverted. Without
# clipping, each eigen-direction follows Section 3's variance recursion with $v = \lambda_i$, so the
# sampler's own errors are the ones computed there. The samples are draws from the Gaussian fitted
# to the digits: the mean digit plus Gaussian combinations of the principal components, which carry
# strokes and their correlations but not the digits' multimodality (ten classes, each of distinct
# shapes). Expect smooth, digit-like blurs, often superpositions of several digits, and an FCD
# between the independent-pixel reference and the U-Net's; where between them is what the
# exercise measures (compare the differences with the FCD's noise).
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex08_6
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6: DDIM inversion
#
# Run the $\eta = 0$ update forwards, from each visited level $t$ to the next one $t' > t$:
# $x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'}}\,\hat\varepsilon$, with
# $\hat\varepsilon = \varepsilon_\theta(x_t, t)$ and $\hat x_0$ predicted from it (the first step starts
# at the digit itself: evaluate the network there at the first visited level). Do it on validation
# digits to get their noise $x_T$, then decode it again with `diffusion.ddim_sample(..., start=x_T)`.
# How close is the reconstruction for 20 and 100 steps? Interpolate between two digits in noise
# space: why spherically rather than along a straight line?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# Inversion integrates the probability-flow ODE forwards with the Euler rule that decoding uses
# backwards, but each forward step evaluates $\hat\varepsilon$ at the start of its interval, the
# less noisy end, and decoding at the other end. The two errors do not cancel: each step leaves a
# local error of second order in the step size, so the round trip's error shrinks as the steps get
# finer. Expect a close reconstruction at 100 steps and a less faithful one at 20 (the digit's
# shape kept, details changed), with the largest errors where the network is least accurate. The
# first step is an approximation of its own: the network was never trained at $\bar\alpha = 1$.
# For the interpolation: the noise $x_T$ of a digit is close to a draw from $\mathcal N(0, I)$ in
# $D = 784$ dimensions, whose norm concentrates at $\sqrt D = 28$. For two independent draws $a$
# and $b$, $(1-\lambda)\,a + \lambda\,b$ is $\mathcal N\big(0, [(1-\lambda)^2 + \lambda^2]\,I\big)$:
# half the variance at the midpoint, a norm near $28/\sqrt2$, far inside the shell where the
# sampler's starting points lie, and expect faint, washed-out decodings there. The spherical path
# $\cos\phi\,a + \sin\phi\,b$ is exactly $\mathcal N(0, I)$ for every $\phi$ (for nearly orthogonal
# noises of equal norm it is the usual slerp); expect the decodings to morph smoothly from one digit
# to the other, through digit-like images.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex08_7
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7: DDIM's η
#
# Sample the U-Net with `eta=0.5` and `eta=1.0` at 20 and 50 steps and compare the FCDs with those
# of $\eta = 0$. What does the noise buy, and what does it cost? Section 3's variance recursion,
# $\mathrm{Var}\leftarrow A^2\,\mathrm{Var} + \varsigma_t^2$, holds for every $\eta$: use it to see
# what $\eta$ does with an exact score.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# $\eta$ sets how much of each step is fresh noise: $\varsigma_t$ replaces part of the
# deterministic $\hat\varepsilon$ direction. In the limit of small steps every $\eta$ keeps the
# marginals (Part 4: the Langevin part may have any weight), and the noise buys error correction:
# the Langevin part pulls the samples towards the current $q_t$, so an error made earlier, by the
# network or by the discretisation, is partly forgotten, while the deterministic sampler carries
# every error to the end. It costs discretisation error: a stochastic step of finite size errs
# more than a deterministic one. With the exact Gaussian score the only errors are the
# discretisation's, and there the cost wins: the recursion with $\eta$ in $\varsigma_t$ gives
# narrower samples as $\eta$ grows, at 20 and at 50 steps alike (Section 3's table shows the case
# of all $T$ steps: DDPM, $\eta = 1$, is narrower than DDIM). With the U-Net both act; {cite:t}`song2021ddim` found
# $\eta = 0$ best at few steps, with the gap narrowing as the steps grow, so expect the FCD to rise
# with $\eta$ at 20 steps and the differences to shrink at 50.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex08_8
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 8: Classifier-free guidance
#
# Following {cite:t}`ho2022`, give the U-Net a label embedding (added to the time embedding), drop
# the label 10–20 % of the time in training, and sample with
# $\hat\varepsilon = (1+w)\,\varepsilon_\theta(x_t,t,y) - w\,\varepsilon_\theta(x_t,t,\varnothing)$. Check
# with `metrics.predict_labels` that the samples obey $y$, and watch the FCD as $w$ grows. Which
# density's score does the guided $\hat\varepsilon$ stand for?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Dropping the label trains the unconditional predictor $\varepsilon_\theta(x_t, t, \varnothing)$ with the
# same network. Divided by $-\sqrt{1-\bar\alpha_t}$, the guided prediction is the score
# $(1+w)\nabla\log q_t(x\mid y) - w\nabla\log q_t(x) = \nabla\log q_t(x\mid y) + w\,\nabla\log q_t(y\mid x)$,
# by Bayes' rule, $\log q_t(x\mid y) = \log q_t(y\mid x) + \log q_t(x) - \log p(y)$: at each level it
# is the score of $q_t(x\mid y)\,q_t(y\mid x)^w$, which pushes the samples to where an implicit
# classifier is sure of $y$. These tilted densities at different levels are not the noised versions
# of one density, so the sampler does not draw exactly from the normalised
# $p(x\mid y)\,p(y\mid x)^w$; guidance is a heuristic, and a good one. Expect the fraction of samples
# that the classifier labels $y$ to rise towards 1 with $w$, the samples of one label to grow more
# alike (less diverse, more stereotyped), and the FCD, which compares the whole sample set with the
# data, to be best at a small $w$ and to worsen as diversity is lost.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex08_9
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9: A diffusion model of the Ising model
#
# Train a score model on the spin configurations of lecture 07 (±1, treated as continuous): Part
# 1's MLP with its input widened from 2 numbers to the $L^2$ spins, or a small convolutional one.
# Sample, take the sign, and compare the energy and magnetisation with the Monte Carlo reference of
# lecture 07 away from and near $T_c$.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Treated as continuous, the data are point masses on the corners of the hypercube
# $\{-1, 1\}^{L^2}$ with lecture 07's Boltzmann weights; each noised density is a mixture of
# Gaussians centred on the corners, and denoising score matching learns its score without any
# normalisation. At the smallest noise level the learned density is peaked at the corners, and the
# sign maps a sample to its nearest corner; what matters is whether the corners get the right
# weights. Away from $T_c$ the target is simple: at high $T$ nearly independent spins, at low $T$
# two ordered states, nearly all up or nearly all down, related by the global spin flip, separated
# modes whose weights annealing over the noise levels gets right (Part 1). Near $T_c$ the
# configurations are correlated on all scales up to $L$ and the magnetisation is broadly
# distributed. An MLP on the $L^2$ spins knows nothing of locality or of the lattice's translation
# symmetry; a convolutional network with periodic (circular) padding builds both in. Expect local
# statistics (the energy, a sum of nearest-neighbour products) to be learned before long-range
# ones (the distribution of $|m|$), and the deviations from the Monte Carlo reference to be largest
# near $T_c$. Compare histograms, not only means: the mean of $m$ is 0 by symmetry, so compare
# $|m|$ or $m^2$, and check that both ordered states appear below $T_c$.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
