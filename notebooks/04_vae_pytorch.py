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
# # 04 — Variational autoencoders in PyTorch: the KL divergence, the ELBO, and an honest likelihood
#
# The RBM lectures gave us a model whose likelihood we could only estimate with a lot of effort
# (annealed importance sampling), because the partition function $Z$ is intractable. The
# **variational autoencoder** (VAE) {cite:p}`kingma2014,rezende2014`
# takes another road: a *directed* latent-variable model that is trivial to sample from, trained
# by maximising a **lower bound** on the log-likelihood, with a second network — the encoder —
# doing approximate inference.
#
# **What you will learn**
# - why a plain autoencoder cannot generate: its latent space has holes;
# - latent-variable models, the intractable marginal $p_\theta(x)=\int p_\theta(x\mid z)p(z)\,dz$,
#   and variational inference;
# - the Kullback–Leibler divergence: definition, non-negativity, asymmetry (mode-seeking vs
#   mass-covering), and its closed form between diagonal Gaussians;
# - the evidence lower bound (ELBO), derived two ways; the reparameterisation trick and why its
#   gradients have low variance; $\beta$ as a knob;
# - a VAE built from `torch.distributions`, trained on binarized MNIST;
# - how to **measure** it: the ELBO, the importance-weighted bound of {cite:t}`burda2016`
#   that tightens it, and the Fréchet classifier distance of its samples.
#
# **Prerequisites**: `00_course_tour` (data, scales, the Fréchet classifier distance) and
# `01_rbm_pytorch` (binarized MNIST, log-likelihoods in nats). Basic probability
# (expectations, Gaussians, Bayes' rule) and PyTorch modules.
#
# **Data.** As in the RBM lectures, the images are binarized *stochastically once, with a fixed
# seed* — each pixel is 1 with probability equal to its grey level —
# `data.binarize(train, "stochastic", seed=0)` and `data.binarize(test, "stochastic", seed=1)` —
# so the log-likelihoods in nats of lectures 01, 02, 04 and 05 are measured on *the same* binary
# test images and can be compared directly.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up

# %%
import itertools
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from scipy import optimize, stats
from torch import distributions as D
from torch import nn
from tqdm.auto import tqdm

from lib import cache, comparison, config, data, memorisation, metrics, plotting, results, vae

SCALE = config.setup("04_vae_pytorch", seed=0)
SEED = config.seed()  # 0, or COURSE_SEED when set: for every model and every estimate
# Our matrices are small (batches of 100 × a few hundred units): one CPU thread is about as fast as two,
# and it avoids the large slow-downs of PyTorch's spinning worker threads when the cores are shared.
torch.set_num_threads(1)
DEVICE = config.torch_device()
T_START = time.time()

N_TRAIN = config.scaled(smoke=8000, lecture=8000, full=60000)  # training images (capped by what exists)
HIDDEN = (200, 200)  # Burda et al. (2015): 784-200-200-50 with one stochastic layer
LATENT_DIM = 50
ACTIVATION = config.scaled(smoke=nn.ReLU, lecture=nn.ReLU, full=nn.Tanh)  # Burda et al. use tanh
BATCH_SIZE = 100
LEARNING_RATE = config.scaled(smoke=3e-3, lecture=2e-3, full=1e-3)
EPOCHS = config.scaled(smoke=10, lecture=50, full=1000)  # main VAE
EPOCHS_2D = config.scaled(smoke=3, lecture=30, full=200)  # the 2-D latent VAE and the autoencoder
IW_K = config.scaled(smoke=50, lecture=500, full=5000)  # importance samples per test image
IW_N_TEST = config.scaled(smoke=200, lecture=1000, full=10000)  # test images for the IW estimate
N_FCD = metrics.sample_count()  # samples for the Fréchet distance: the course-wide n at this scale

# %% [markdown]
# The data: `N_TRAIN` training images (all 8,000 of the offline subset at lecture scale) and the
# test split, binarized with the course-wide fixed seeds.
#
# **The base rate.** Every likelihood in this lecture is read against the simplest model of binary
# images, independent pixels: $p(x)=\prod_j \bar x_j^{x_j}(1-\bar x_j)^{1-x_j}$ with $\bar x_j$ the
# training frequency of pixel $j$ (plus one pseudo-count for each value, so that no pixel has probability 0).
# A model that has learned anything about digits — strokes, shapes, correlations between pixels —
# must beat its test log-likelihood, and by tens of nats.

# %% slideshow={"slide_type": "subslide"}
train_u8, train_labels = data.load_mnist("train")
test_u8, test_labels = data.load_mnist("test")
train_u8, train_labels = train_u8[:N_TRAIN], train_labels[:N_TRAIN]
x_train = data.binarize(train_u8, "stochastic", seed=0).reshape(-1, 784)  # (N, 784) in {0, 1}
x_test = data.binarize(test_u8, "stochastic", seed=1).reshape(-1, 784)  # (M, 784)
print(f"train {x_train.shape}, test {x_test.shape}, mean pixel {x_train.mean():.3f}")
results.describe(
    dataset="binarized MNIST (offline subset; stochastic binarization, seeds 0/1)",
    n_train=len(x_train),
    n_test=len(x_test),
    architecture=f"784-200-200-50 ({ACTIVATION.__name__}), Bernoulli decoder",
)
X_TRAIN = torch.from_numpy(x_train).to(DEVICE)
X_TEST = torch.from_numpy(x_test).to(DEVICE)
fig = plotting.image_grid(x_train[:40], ncols=20, title="binarized training digits")

pixel_p = (x_train.sum(0) + 1.0) / (len(x_train) + 2.0)  # (784,) smoothed pixel frequencies
base_rate_per_image = x_test @ np.log(pixel_p) + (1 - x_test) @ np.log1p(-pixel_p)  # (M,) log p(x) in nats
base_rate_ll = float(base_rate_per_image.mean())
print(f"base-rate (independent-pixel Bernoulli) test log-likelihood: {base_rate_ll:.2f} nats per image")
results.record("test_ll_base_rate", base_rate_ll, unit="nats")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. A reminder: the autoencoder, and why it cannot generate
#
# An autoencoder is a pair of networks, an encoder $f_\phi:\mathbb{R}^{784}\to\mathbb{R}^d$ and a
# decoder $g_\theta:\mathbb{R}^d\to[0,1]^{784}$, trained to reproduce their input through a
# narrow bottleneck $z=f_\phi(x)$. For binary pixels the natural reconstruction loss is the
# binary cross-entropy
#
# $$\mathcal{L}_{\text{AE}}(x) = -\sum_{j=1}^{784}\Big[x_j\log g_\theta(z)_j + (1-x_j)\log\big(1-g_\theta(z)_j\big)\Big],\qquad z=f_\phi(x).$$
#
# With $d=2$ we can look at the whole code space. Let us train one briefly.
#
# **The cache.** Every model of this lecture is trained through `lib.cache`: the trained weights and
# the training history are stored under `build/cache/`, keyed by the code, the settings, the data and
# the seed that define them, so a rerun loads them (and prints what it loaded, with the original
# training time) instead of retraining; so is the importance-weighted estimate of section 7. To
# retrain, run with `COURSE_CACHE=off` (ignore the cache) or `COURSE_CACHE=refresh` (retrain and
# replace the entries); `COURSE_SCALE=untrained` never reads or writes it.


# %% slideshow={"slide_type": "subslide"}
def mlp(sizes, activation=ACTIVATION):
    """Linear layers of the given sizes with `activation` between them (none after the last)."""
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    def __init__(self, latent_dim=2, hidden=HIDDEN):
        super().__init__()
        self.encoder = mlp([784, *hidden, latent_dim])  # x (B, 784) -> z (B, d)
        self.decoder = mlp([latent_dim, *hidden[::-1], 784])  # z (B, d) -> logits (B, 784)

    def loss(self, x):  # x: (B, 784)
        logits = self.decoder(self.encoder(x))
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()


def train(model, loss_fn, epochs, desc):
    """Adam on minibatches of X_TRAIN; returns the per-step history of the loss terms and the
    training time in seconds."""
    t0 = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loader = data.to_torch_loader(x_train, batch_size=BATCH_SIZE, shuffle=True, seed=0)
    history = {}
    bar = tqdm(config.training(range(epochs)), total=epochs, desc=desc)
    for _ in bar:
        for x in config.training(loader):
            terms = loss_fn(model, x.to(DEVICE))  # dict; "loss" is minimised
            opt.zero_grad()
            terms["loss"].backward()
            opt.step()
            for k, v in terms.items():
                history.setdefault(k, []).append(v.mean().item())
        bar.set_postfix(loss=f"{history['loss'][-1]:.1f}")
    history["seconds"] = time.perf_counter() - t0
    return history


def ae_terms(model, x):
    return {"loss": model.loss(x)}


# the settings every model's training reads (besides its own epochs)
TRAIN_PARAMS = {
    "lr": LEARNING_RATE,
    "batch_size": BATCH_SIZE,
    "hidden": HIDDEN,
    "activation": ACTIVATION.__name__,
    "device": str(DEVICE),
}
ae, ae_history = cache.cached_torch(
    "04_autoencoder_2d",
    build=lambda: Autoencoder().to(DEVICE),
    train=lambda m: train(m, ae_terms, EPOCHS_2D, "autoencoder (d=2)"),
    code=[mlp, Autoencoder, train, ae_terms, data.to_torch_loader],
    params={**TRAIN_PARAMS, "epochs": EPOCHS_2D},
    data=x_train,
    seed=SEED,
)
with torch.no_grad():
    z_ae = ae.encoder(X_TEST).cpu().numpy()  # (M, 2)
    ae_test_loss = ae.loss(X_TEST).item()
print(
    f"autoencoder test reconstruction loss: {ae_test_loss:.1f} nats per image "
    f"(the base-rate model's cross-entropy: {-base_rate_ll:.1f})"
)

# %% tags=["learning-check"]
# Two numbers through a 2-D bottleneck already describe a digit better than independent pixels.
# Smoke, seeds 0/1/2 (cache off): 45.8-46.9 nats below the base rate's cross-entropy (lecture, seed 0,
# measured before the cache re-seeded each training: 69); untrained (one update): 313 above it.
assert ae_test_loss < -base_rate_ll - 25, "the autoencoder does not reconstruct better than the base rate"

# %% [markdown]
# To *generate*, we would pick a code $z$ and decode it. But which $z$? Nothing in the training
# told the codes how to be distributed: they sit in irregular, label-dependent clouds of arbitrary
# scale, with empty space between them. Drawing codes uniformly from the box the test codes span
# lands many of them in the holes, and the decoder — never trained there — produces blurs and
# chimeras.

# %% slideshow={"slide_type": "subslide"}
rng = np.random.default_rng(0)
lo, hi = np.percentile(z_ae, 1, axis=0), np.percentile(z_ae, 99, axis=0)
z_box = rng.uniform(lo, hi, size=(40, 2)).astype(np.float32)  # (40, 2) codes "sampled" from the box
with torch.no_grad():
    ae_samples = torch.sigmoid(ae.decoder(torch.from_numpy(z_box).to(DEVICE))).cpu().numpy()  # (40, 784)

fig, axes = plt.subplots(1, 2, figsize=(12, 5))
plotting.latent_scatter(z_ae, test_labels, ax=axes[0], title="autoencoder codes of test digits")
axes[0].scatter(z_box[:, 0], z_box[:, 1], marker="x", c="k", s=30, label="random codes")
axes[0].legend(loc="upper right")
plotting.image_grid(ae_samples, ncols=8, ax=axes[1], title="decoded random codes")
plt.tight_layout()

# %% [markdown] slideshow={"slide_type": "subslide"}
# A VAE fixes both problems at once: it *prescribes* the distribution of codes, $p(z)=\mathcal{N}(0,I)$,
# and trains the decoder on codes that are noisy, so that whole regions of latent space, not
# single points, decode to sensible images.
#
# ## 2. Latent-variable models and variational inference
#
# A latent-variable model generates $x$ in two steps: draw $z\sim p(z)$, then $x\sim p_\theta(x\mid z)$.
# Here $p(z)=\mathcal N(0,I_{50})$ and the decoder outputs one Bernoulli probability per pixel,
#
# $$p_\theta(x\mid z) = \prod_{j=1}^{784} \pi_j(z)^{x_j}\big(1-\pi_j(z)\big)^{1-x_j},\qquad \pi(z) = \sigma\big(\text{MLP}_\theta(z)\big).$$
#
# Sampling is trivial. Learning is not: maximum likelihood needs the **marginal**
#
# $$p_\theta(x) = \int p_\theta(x\mid z)\,p(z)\,dz,$$
#
# a 50-dimensional integral of a neural network, with no closed form, and so is the posterior
# $p_\theta(z\mid x) = p_\theta(x\mid z)p(z)/p_\theta(x)$. **Variational inference** replaces the posterior
# by a tractable family $q_\phi(z\mid x)$ — here a diagonal Gaussian whose mean and variance an
# *encoder network* predicts from $x$ (amortised inference) — and fits it by making a divergence
# to the true posterior small. The divergence is the KL divergence.
#
# ### 2.1 The Kullback–Leibler divergence
#
# $$\mathrm{KL}(q\,\|\,p) = \mathbb{E}_{z\sim q}\Big[\log\frac{q(z)}{p(z)}\Big] = \int q(z)\log\frac{q(z)}{p(z)}\,dz .$$
#
# **Non-negativity** (Gibbs' inequality) follows from Jensen's inequality for the concave $\log$:
#
# $$-\mathrm{KL}(q\,\|\,p) = \mathbb{E}_q\Big[\log\frac{p(z)}{q(z)}\Big] \le \log\mathbb{E}_q\Big[\frac{p(z)}{q(z)}\Big] = \log\int p(z)\,dz = 0,$$
#
# with equality iff $p=q$ (almost everywhere). It is **not symmetric**, and the two directions
# behave very differently when $q$ is too simple for $p$. Fit one Gaussian $q=\mathcal N(\mu,\sigma^2)$
# to a bimodal target $p$:
#
# * the *forward* KL $\mathrm{KL}(p\,\|\,q)=\mathbb{E}_p[\log p - \log q]$ punishes $q\approx0$ wherever
#   $p>0$: $q$ must **cover all the mass**. Its minimiser over Gaussians matches the mean and the
#   variance of $p$ (set the derivatives of $\mathbb E_p[\log q]$ to zero);
# * the *reverse* KL $\mathrm{KL}(q\,\|\,p)=\mathbb{E}_q[\log q-\log p]$ punishes $q>0$ wherever $p\approx0$:
#   $q$ **seeks one mode** and ignores the other.
#
# Variational inference minimises the *reverse* KL, $\mathrm{KL}(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x))$
# (we can sample from $q$, not from the posterior), so expect VAE posteriors to be mode-seeking and
# too narrow rather than too broad.

# %% slideshow={"slide_type": "subslide"}
grid = np.linspace(-6, 6, 2001)
dz = grid[1] - grid[0]
target = 0.5 * stats.norm.pdf(grid, -2.0, 0.6) + 0.5 * stats.norm.pdf(grid, 2.0, 0.6)  # bimodal p
log_target = np.log(target)

# forward KL(p || q): moment matching, in closed form
mu_fwd = np.sum(grid * target) * dz
sd_fwd = np.sqrt(np.sum((grid - mu_fwd) ** 2 * target) * dz)


def reverse_kl(params):
    """KL(q || p) by quadrature for q = N(mu, exp(log_sd)^2)."""
    mu, log_sd = params
    log_q = stats.norm.logpdf(grid, mu, np.exp(log_sd))
    return np.sum(np.exp(log_q) * (log_q - log_target)) * dz


fit = optimize.minimize(reverse_kl, x0=[0.5, 0.0], method="Nelder-Mead")
mu_rev, sd_rev = fit.x[0], np.exp(fit.x[1])
kl_rev_of_fwd = reverse_kl([mu_fwd, np.log(sd_fwd)])
print(f"mass-covering (argmin KL(p||q)): mu={mu_fwd:+.2f}, sd={sd_fwd:.2f}")
print(
    f"mode-seeking  (argmin KL(q||p)): mu={mu_rev:+.2f}, sd={sd_rev:.2f}, KL(q||p)={fit.fun:.3f} "
    f"(the moment-matched q scores {kl_rev_of_fwd:.3f})"
)

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.fill_between(grid, target, color="0.85", label="target $p$ (bimodal)")
ax.plot(
    grid, stats.norm.pdf(grid, mu_fwd, sd_fwd), lw=2, label=r"argmin $\mathrm{KL}(p\,\|\,q)$: mass-covering"
)
ax.plot(
    grid,
    stats.norm.pdf(grid, mu_rev, sd_rev),
    lw=2,
    ls="--",
    label=r"argmin $\mathrm{KL}(q\,\|\,p)$: mode-seeking",
)
ax.set_xlabel("$z$")
ax.legend(fontsize=8)
ax.set_title("The two directions of the KL divergence")

# %%
assert abs(mu_rev) > 1.5 and sd_rev < 1.0, "the reverse-KL fit should sit on one mode"
assert sd_fwd > 2.0 and abs(mu_fwd) < 0.05, "the forward-KL fit should cover both modes"
assert fit.fun < kl_rev_of_fwd, "the mode-seeking fit must beat moment matching on the reverse KL"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 2.2 The KL divergence between two diagonal Gaussians, step by step
#
# The VAE needs $\mathrm{KL}\big(q\,\|\,p\big)$ for $q=\mathcal N(\mu_q,\sigma_q^2)$ and $p=\mathcal N(\mu_p,\sigma_p^2)$
# in one dimension; a diagonal Gaussian factorises, so the $D$-dimensional KL is the **sum over dimensions**.
#
# 1. Write out the log-densities: $\log q(z) = -\tfrac12\log(2\pi\sigma_q^2) - \frac{(z-\mu_q)^2}{2\sigma_q^2}$, and likewise for $p$.
# 2. Subtract: $\log\frac{q(z)}{p(z)} = \tfrac12\log\frac{\sigma_p^2}{\sigma_q^2} - \frac{(z-\mu_q)^2}{2\sigma_q^2} + \frac{(z-\mu_p)^2}{2\sigma_p^2}$.
# 3. Take $\mathbb E_q$ term by term. $\mathbb E_q[(z-\mu_q)^2]=\sigma_q^2$, and writing $z-\mu_p=(z-\mu_q)+(\mu_q-\mu_p)$,
#    $\mathbb E_q[(z-\mu_p)^2]=\sigma_q^2+(\mu_q-\mu_p)^2$ (the cross term has mean zero).
# 4. Collect:
#
# $$\mathrm{KL}(q\,\|\,p) = \frac12\left[\log\frac{\sigma_p^2}{\sigma_q^2} + \frac{\sigma_q^2+(\mu_q-\mu_p)^2}{\sigma_p^2} - 1\right].$$
#
# For the standard-normal prior ($\mu_p=0,\ \sigma_p=1$) and the encoder's log-variance $\ell=\log\sigma_q^2$:
#
# $$\mathrm{KL}\big(\mathcal N(\mu,\sigma^2)\,\|\,\mathcal N(0,1)\big) = -\frac12\big(1+\ell-\mu^2-e^{\ell}\big).$$
#
# `lib.vae.gaussian_kl(mu_q, logvar_q, mu_p=0, logvar_p=0)` implements it (NumPy, PyTorch or
# TensorFlow). A Monte-Carlo check:

# %%
g = np.random.default_rng(1)
mu_q, lv_q = g.normal(size=5), g.normal(size=5)  # (5,) one 5-D diagonal Gaussian
z = mu_q + np.exp(0.5 * lv_q) * g.standard_normal((200_000, 5))  # (S, 5) samples from q
log_ratio = vae.normal_log_prob(z, mu_q, lv_q) - vae.normal_log_prob(z)  # log q(z) - log p(z), (S,)
kl_mc, kl_se = log_ratio.mean(), log_ratio.std() / np.sqrt(len(z))
kl_exact = vae.gaussian_kl(mu_q, lv_q)
print(f"closed form {kl_exact:.4f} nats; Monte Carlo {kl_mc:.4f} ± {kl_se:.4f}")
assert abs(kl_mc - kl_exact) < 4 * kl_se

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. The evidence lower bound (ELBO)
#
# **Derivation 1 (Jensen).** Multiply and divide by $q_\phi(z\mid x)$ inside the marginal, then use the
# concavity of $\log$:
#
# $$\log p_\theta(x) = \log \mathbb E_{q_\phi(z\mid x)}\Big[\frac{p_\theta(x,z)}{q_\phi(z\mid x)}\Big] \;\ge\; \mathbb E_{q_\phi(z\mid x)}\Big[\log\frac{p_\theta(x,z)}{q_\phi(z\mid x)}\Big] =: \mathcal L(\theta,\phi;x).$$
#
# **Derivation 2 (what the gap is).** Write $p_\theta(x,z)=p_\theta(z\mid x)\,p_\theta(x)$:
#
# $$\mathcal L(\theta,\phi;x) = \mathbb E_q\big[\log p_\theta(x)\big] + \mathbb E_q\Big[\log\frac{p_\theta(z\mid x)}{q_\phi(z\mid x)}\Big] = \log p_\theta(x) - \mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x)\big).$$
#
# So the ELBO is the log-likelihood minus exactly the KL between the approximate and the true
# posterior: maximising it over $\phi$ improves inference, over $\theta$ improves the model, and the
# bound is tight only when $q$ *is* the posterior.
#
# **Its two terms.** Write $p_\theta(x,z)=p_\theta(x\mid z)p(z)$ instead:
#
# $$\mathcal L = \underbrace{\mathbb E_{q_\phi(z\mid x)}\big[\log p_\theta(x\mid z)\big]}_{\text{reconstruction}} \;-\; \underbrace{\mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big)}_{\text{rate: closed form}}.$$
#
# The first term is (minus) the autoencoder's cross-entropy, averaged over *noisy* codes; the
# second pulls every code distribution towards the prior — the regulariser that fills the holes
# of section 1. A **β-VAE** {cite:p}`higgins2017` weights the second term by $\beta$:
# $\beta>1$ buys a smoother, more disentangled latent space with worse reconstructions; $\beta<1$ the
# reverse. Since the KL term is non-negative, $\text{rec}-\beta\,\text{KL}\le\mathcal L\le\log p_\theta(x)$ for every
# $\beta\ge1$: the β-objective is still a lower bound, only a looser one, and $\beta=1$ is the tightest of
# them. For $\beta<1$ it is no bound at all: it can exceed $\log p_\theta(x)$.
#
# ### 3.1 The reparameterisation trick
#
# We need $\nabla_\phi\,\mathbb E_{q_\phi(z)}[f(z)]$, but the distribution we average over depends on $\phi$.
# Two unbiased estimators:
#
# * **score function** (REINFORCE): $\nabla_\phi\mathbb E_q[f] = \mathbb E_q\big[f(z)\,\nabla_\phi\log q_\phi(z)\big]$ — works for any $q$, uses only
#   *values* of $f$, and is notoriously noisy;
# * **reparameterisation** (pathwise): write $z=\mu+\sigma\odot\varepsilon$ with $\varepsilon\sim\mathcal N(0,I)$, so
#   $\nabla_\phi\mathbb E_q[f] = \mathbb E_\varepsilon\big[\nabla_\phi f(\mu_\phi+\sigma_\phi\odot\varepsilon)\big]$ — uses the *gradient*
#   of $f$, and the randomness no longer depends on $\phi$, so autograd flows through the sample.
#
# A one-line experiment with $f(z)=(z-3)^2$ and $q=\mathcal N(\mu,1)$ at $\mu=0$ (true gradient $2(\mu-3)=-6$):

# %%
eps = np.random.default_rng(2).standard_normal(100_000)
mu0 = 0.0
zs = mu0 + eps  # reparameterised samples
grad_path = 2 * (zs - 3)  # d/dmu f(mu + eps)
grad_score = (zs - 3) ** 2 * (zs - mu0)  # f(z) * d/dmu log N(z; mu, 1)
for name, gr in [("pathwise", grad_path), ("score function", grad_score)]:
    print(f"{name:>15}: mean {gr.mean():+.3f}, std of a one-sample estimate {gr.std():.2f}")
assert abs(grad_path.mean() + 6) < 0.05 and abs(grad_score.mean() + 6) < 0.3
assert grad_score.std() > 3 * grad_path.std()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Both are unbiased, but the score-function estimate is several times noisier even in one
# dimension, and its variance grows with the dimension of $z$ and the size of $f$. The
# reparameterisation trick is what makes VAEs trainable by plain SGD.
#
# ## 4. The VAE in PyTorch
#
# The encoder returns a `torch.distributions.Normal` — a distribution object, not a pair of
# tensors — and the decoder a `Bernoulli` over the 784 pixels. The encoder's last layer has
# $2\times$`LATENT_DIM` outputs, split into the mean and the log-variance: that is the same network as the
# two separate linear heads of the lecture notes, one for $\mu$ and one for $\log\sigma$ (we output
# $\log\sigma^2=2\log\sigma$), since two linear maps of the same hidden layer are one linear map with their
# outputs stacked. Lecture 05 writes the two heads separately. `rsample()` is the
# reparameterised sample; `kl_divergence` knows the closed form of section 2.2. The
# architecture is the one-stochastic-layer model of {cite:t}`burda2016`, **784-200-200-50** with tanh units,
# so that numbers can be compared with their Table 1. They use tanh units; on our short CPU budget
# ReLU units escape the initial plateau (where the decoder ignores $z$) much faster, so `ACTIVATION` is
# ReLU at smoke and lecture scale and tanh at full scale, which is their exact configuration.


# %% slideshow={"slide_type": "subslide"}
class Encoder(nn.Module):
    """q_phi(z | x) = N(mu(x), diag sigma(x)^2)."""

    def __init__(self, latent_dim=LATENT_DIM, hidden=HIDDEN):
        super().__init__()
        self.body = mlp([784, *hidden, 2 * latent_dim])  # (B, 784) -> (B, 2d)

    def forward(self, x):
        mu, logvar = self.body(x).chunk(2, dim=-1)  # (B, d) each
        return D.Normal(mu, torch.exp(0.5 * logvar))


class Decoder(nn.Module):
    """p_theta(x | z) = prod_j Bernoulli(x_j; sigmoid(logits_j(z)))."""

    def __init__(self, latent_dim=LATENT_DIM, hidden=HIDDEN):
        super().__init__()
        self.body = mlp([latent_dim, *hidden[::-1], 784])  # (..., d) -> (..., 784)

    def forward(self, z):
        return D.Bernoulli(logits=self.body(z))


class VAE(nn.Module):
    def __init__(self, latent_dim=LATENT_DIM, hidden=HIDDEN):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = Encoder(latent_dim, hidden)
        self.decoder = Decoder(latent_dim, hidden)

    def prior(self):
        zeros = torch.zeros(self.latent_dim, device=DEVICE)
        return D.Normal(zeros, torch.ones_like(zeros))

    def elbo(self, x, beta=1.0):
        """Per-image ELBO terms for x (B, 784): reconstruction E_q log p(x|z) (one sample) and KL(q || prior)."""
        qz = self.encoder(x)  # Normal, batch shape (B, d)
        z = qz.rsample()  # (B, d), differentiable in phi
        rec = self.decoder(z).log_prob(x).sum(-1)  # (B,)
        kl = D.kl_divergence(qz, self.prior()).sum(-1)  # (B,) closed form
        return {"elbo": rec - kl, "rec": rec, "kl": kl, "loss": -(rec - beta * kl).mean()}

    def log_weights(self, x, k):
        """log p(x, z_i) - log q(z_i | x) for k fresh samples z_i ~ q(z|x): shape (k, B)."""
        qz = self.encoder(x)
        z = qz.sample((k,))  # (k, B, d)
        log_px_z = self.decoder(z).log_prob(x).sum(-1)  # (k, B); x broadcasts over k
        return log_px_z + self.prior().log_prob(z).sum(-1) - qz.log_prob(z).sum(-1)

    @torch.no_grad()
    def sample(self, n):
        """Pixel probabilities of n images decoded from prior samples, (n, 784)."""
        return self.decoder(self.prior().sample((n,))).probs


def build_vae(latent_dim=LATENT_DIM):
    """A fresh VAE on DEVICE, its weights drawn from the global generator."""
    return VAE(latent_dim).to(DEVICE)


# The model before training, with the initial weights the (cached) training of section 4 starts from:
# cache.cached_torch seeds every generator with cache.effective_seed(SEED) before it calls build_vae.
config.seed_everything(cache.effective_seed(SEED))
model_untrained = build_vae()
print(model_untrained)
N_PARAMS = sum(p.numel() for p in model_untrained.parameters() if p.requires_grad)
print(f"{N_PARAMS:,} trainable parameters")

# %% [markdown]
# Once, on a batch, check `torch.distributions`' KL against our closed form from `lib.vae`:

# %%
with torch.no_grad():
    qz = model_untrained.encoder(X_TEST[:256])
    kl_torch = D.kl_divergence(qz, model_untrained.prior()).sum(-1)  # (256,)
    kl_ours = vae.gaussian_kl(qz.loc, 2 * torch.log(qz.scale))  # (256,)
print(f"max |difference| = {(kl_torch - kl_ours).abs().max().item():.2e} nats")
assert torch.allclose(kl_torch, kl_ours, atol=1e-4)


# %% [markdown]
# **Evaluating the ELBO.** On held-out data we average the per-image ELBO, using the closed-form KL and
# a Monte-Carlo estimate of the reconstruction term with a few samples per image.


# %%
@torch.no_grad()
def evaluate(model, x, n_samples=5, batch=1000):
    """Mean test ELBO, reconstruction and KL in nats per image (MC over n_samples codes)."""
    sums = {"elbo": 0.0, "rec": 0.0, "kl": 0.0}
    for i in range(0, len(x), batch):
        for _ in range(n_samples):
            terms = model.elbo(x[i : i + batch])
            for k in sums:
                sums[k] += terms[k].sum().item() / n_samples
    return {k: v / len(x) for k, v in sums.items()}


untrained = evaluate(model_untrained, X_TEST)
print("untrained model:", {k: round(v, 1) for k, v in untrained.items()})
samples_untrained = model_untrained.sample(N_FCD).cpu().numpy()  # (N_FCD, 784): the model before training

# %% [markdown]
# **Training**: maximise the ELBO (minimise `loss` $=-\frac1B\sum_b[\text{rec}_b-\beta\,\text{KL}_b]$) with Adam,
# keeping the reconstruction and KL terms separately, and the test ELBO after every epoch to watch
# for over-fitting (a few thousand fixed binary images are few for the `N_PARAMS` parameters printed above).


# %% slideshow={"slide_type": "subslide"}
def train_vae(model):
    """Adam on the negative ELBO; returns the per-step terms, the per-epoch train and test -ELBO, and
    the training time in seconds."""
    t0 = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loader = data.to_torch_loader(x_train, batch_size=BATCH_SIZE, shuffle=True, seed=0)
    history = {"-rec": [], "kl": [], "-elbo": [], "train -elbo": [], "test -elbo": []}
    bar = tqdm(config.training(range(EPOCHS)), total=EPOCHS, desc="VAE 784-200-200-50")
    for _epoch in bar:
        model.train()
        n_steps = 0
        for x in config.training(loader):
            terms = model.elbo(x.to(DEVICE))
            opt.zero_grad()
            terms["loss"].backward()
            opt.step()
            history["-rec"].append(-terms["rec"].mean().item())
            history["kl"].append(terms["kl"].mean().item())
            history["-elbo"].append(-terms["elbo"].mean().item())
            n_steps += 1
        test_terms = evaluate(model, X_TEST, n_samples=1)
        history["train -elbo"].append(float(np.mean(history["-elbo"][-n_steps:])))
        history["test -elbo"].append(-test_terms["elbo"])
        bar.set_postfix(train=f"{history['train -elbo'][-1]:.1f}", test=f"{history['test -elbo'][-1]:.1f}")
    history["seconds"] = time.perf_counter() - t0
    return history


model, history = cache.cached_torch(
    "04_vae_50d",
    build=build_vae,
    train=train_vae,
    code=[mlp, Encoder, Decoder, VAE, build_vae, train_vae, evaluate, data.to_torch_loader],
    params={**TRAIN_PARAMS, "latent_dim": LATENT_DIM, "epochs": EPOCHS},
    data={"x_train": x_train, "x_test": x_test},
    seed=SEED,
)
epoch_log = {k: history[k] for k in ("train -elbo", "test -elbo")}
train_seconds = history["seconds"]  # the original training's wall time, also when loaded from the cache
print(
    f"trained {len(epoch_log['test -elbo'])} epochs ({len(history['kl'])} updates) in {train_seconds:.0f} s"
)

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
plotting.plot_history(history, keys=["-rec", "kl"], xlabel="step", axes=axes[:2])
axes[0].set_title("−reconstruction term (nats per image)")
axes[1].set_title("KL term (nats per image)")
for k, v in epoch_log.items():
    axes[2].plot(np.arange(1, len(v) + 1), v, marker="o" if len(v) < 30 else None, label=k)
axes[2].set_xlabel("epoch")
axes[2].set_title("−ELBO: train vs test")
axes[2].legend()
axes[2].grid(alpha=0.3)
fig.tight_layout()

# %% [markdown]
# The reconstruction term falls steeply while the KL term *rises* from nearly zero: at
# initialisation the codes carry no information ($q\approx p(z)$), and the model pays nats of
# "rate" for every bit of information about $x$ it puts into $z$. The training curve averages over
# an epoch during which the model improves, so early on it lies *above* the test curve; once the test
# −ELBO stays above the training −ELBO, or turns up while it keeps falling, the model is over-fitting
# the few thousand fixed binary training images.

# %%
test_eval = evaluate(model, X_TEST, n_samples=10)
print(
    f"test ELBO {test_eval['elbo']:.2f} nats = reconstruction {test_eval['rec']:.2f} − KL {test_eval['kl']:.2f}"
    f"   (untrained: {untrained['elbo']:.1f}; base-rate log-likelihood: {base_rate_ll:.1f})"
)
results.record(
    "test_elbo", test_eval["elbo"], unit="nats", epochs=EPOCHS, key="test ELBO (784-200-200-50 VAE)"
)
results.record("test_elbo_untrained", untrained["elbo"], unit="nats")
results.record("test_kl", test_eval["kl"], unit="nats")

# %% tags=["learning-check"]
# The ELBO is a lower bound on log p(x), so beating the base rate's exact log-likelihood means the model
# explains test digits better than independent pixels. Smoke, seeds 0/1/2 (cache off): 80.7-82.1 nats
# above the base rate and 411-412 above the untrained model (lecture, seed 0, measured before the cache
# re-seeded each training: 98 and 428); untrained (one update): 309 below the base rate. Full trains 20x
# longer than lecture on the full MNIST.
assert test_eval["elbo"] > base_rate_ll + config.scaled(smoke=50, lecture=70, full=90), (
    "the test ELBO does not beat the independent-pixel base rate"
)
assert test_eval["elbo"] > untrained["elbo"] + 300, "training did not improve the ELBO"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. What the model does
#
# **Reconstructions**: encode a test digit, take the posterior mean code, decode; we show pixel
# probabilities $\pi(z)$ rather than a binary sample.

# %%
with torch.no_grad():
    x_show = X_TEST[:16]
    recon = model.decoder(model.encoder(x_show).loc).probs  # (16, 784)
fig = plotting.image_grid(
    torch.cat([x_show, recon]), ncols=16, title="test digits (top) and their reconstructions (bottom)"
)

# %% [markdown]
# **Samples from the prior**: $z\sim\mathcal N(0,I)$, decoded. VAE samples from a Bernoulli decoder are
# famously blurry when shown as probabilities: independent pixels given $z$ cannot express sharp
# strokes whose exact position is uncertain.

# %% slideshow={"slide_type": "subslide"}
samples = model.sample(N_FCD).cpu().numpy()  # (N_FCD, 784) probabilities
fig = plotting.image_grid(samples[:60], ncols=20, title="samples from the prior (pixel probabilities)")

# %% [markdown]
# **Interpolation** between two samples of the prior. The norm of a draw from a 50-dimensional standard
# Gaussian concentrates near $\sqrt{50}$ (its square is $\chi^2_{50}$: mean 50, standard deviation 10), so
# two prior samples lie near that sphere, nearly orthogonal, and the straight-line midpoint between them
# has a norm of only about $\sqrt{50/2}$ — a code the prior almost never draws. Spherical interpolation
# (`vae.slerp`) keeps the norm typical. The argument is about draws from the *prior*: the encoder's
# posterior means of real digits are not prior draws and need not lie on that sphere (their norms are
# printed below for comparison), so it does not by itself favour slerp between two encoded test digits.

# %% slideshow={"slide_type": "subslide"}
g = torch.Generator().manual_seed(3)
z_ends = torch.randn(2, LATENT_DIM, generator=g).numpy()  # (2, d) two prior samples
t = np.linspace(0.0, 1.0, 12, dtype=np.float32)[:, None]  # (12, 1)
path_lerp = (1 - t) * z_ends[0] + t * z_ends[1]  # (12, d)
path_slerp = vae.slerp(z_ends[0], z_ends[1], 12).astype(np.float32)  # (12, d)
with torch.no_grad():
    frames = model.decoder(torch.from_numpy(np.concatenate([path_lerp, path_slerp])).to(DEVICE)).probs
    mean_norm_codes = model.encoder(X_TEST).loc.norm(dim=-1).mean().item()
print(
    f"norms along the path (sqrt(d) = {np.sqrt(LATENT_DIM):.2f}): linear "
    f"{np.round(np.linalg.norm(path_lerp, axis=1), 1)}\n   spherical {np.round(np.linalg.norm(path_slerp, axis=1), 1)}"
)
print(f"mean norm of the encoder's posterior means of test digits: {mean_norm_codes:.2f}")
fig = plotting.image_grid(
    frames, ncols=12, title="between two prior samples: linear (top) and spherical (bottom) interpolation"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. A two-dimensional latent space
#
# The same VAE with $d=2$ lets us *see* the code space. Compare it with the autoencoder's of section 1:
# the KL term packs the codes into the prior's disk, without holes, and the decoded grid — at evenly
# spaced *quantiles* of $\mathcal N(0,1)$, as in Figure 4 of {cite:t}`kingma2014` — is a continuous manifold
# of digits.


# %%
def elbo_terms(model, x):
    return model.elbo(x)


vae2, hist2 = cache.cached_torch(
    "04_vae_2d",
    build=lambda: build_vae(latent_dim=2),
    train=lambda m: train(m, elbo_terms, EPOCHS_2D, "VAE (d=2)"),
    code=[mlp, Encoder, Decoder, VAE, build_vae, train, elbo_terms, data.to_torch_loader],
    params={**TRAIN_PARAMS, "latent_dim": 2, "epochs": EPOCHS_2D},
    data=x_train,
    seed=SEED,
)
with torch.no_grad():
    z2 = vae2.encoder(X_TEST).loc.cpu().numpy()  # (M, 2)
elbo_2d = evaluate(vae2, X_TEST)["elbo"]
print(f"2-D VAE test ELBO {elbo_2d:.1f} nats (50-D: {test_eval['elbo']:.1f}; base rate: {base_rate_ll:.1f})")


def decode2(z):
    with torch.no_grad():
        return vae2.decoder(torch.from_numpy(z).to(DEVICE)).probs.cpu().numpy()


fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
plotting.latent_scatter(z2, test_labels, ax=axes[0], title="2-D VAE: posterior means of test digits")
plotting.manifold_figure(decode2, n=15, ax=axes[1], title="decoded quantile grid")
plt.tight_layout()
results.record("test_elbo_2d_latent", elbo_2d, unit="nats")

# %% tags=["learning-check"]
# Even two latent numbers per digit beat independent pixels. Smoke, seeds 0/1/2 (cache off): 33.3-37.2
# nats above the base rate (lecture, seed 0, measured before the cache re-seeded each training: 59);
# untrained (one update): 311 below it.
assert elbo_2d > base_rate_ll + config.scaled(smoke=15, lecture=30, full=40), (
    "the 2-D VAE's test ELBO does not beat the independent-pixel base rate"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. How good is it? Measuring a VAE
#
# ### 7.1 The importance-weighted bound
#
# The ELBO is a *lower bound*; a model can look worse than it is because its encoder is poor.
# {cite:t}`burda2016` tighten it with $k$ samples $z_1,\dots,z_k\sim q_\phi(z\mid x)$:
#
# $$\mathcal L_k(x) = \mathbb E\Big[\log\frac1k\sum_{i=1}^k w_i\Big],\qquad w_i=\frac{p_\theta(x,z_i)}{q_\phi(z_i\mid x)} .$$
#
# Since $\mathbb E[w_i]=p_\theta(x)$, Jensen gives $\mathcal L_k\le\log p_\theta(x)$; $\mathcal L_1$ is the ELBO; $\mathcal L_k$ is
# non-decreasing in $k$; and $\mathcal L_k\to\log p_\theta(x)$ as $k\to\infty$ (the average of the weights converges
# to its mean). It is an importance-sampling estimate of the marginal with $q$ as the proposal.
# Following {cite:t}`burda2016`, we use $k=5000$ at full scale ($k=$ `IW_K` here), computed with
# `lib.vae.iw_log_likelihood_chunked`, which draws the samples in chunks and combines them with
# a stable log-sum-exp (`log_mean_exp`), so that memory stays bounded.


# %% slideshow={"slide_type": "subslide"}
@torch.no_grad()
def iw_estimate(model, x, k, batch=100, chunk=100):
    """Per-image L_k estimates (NumPy, (N,)) for x (N, 784)."""
    out = []
    for i in tqdm(range(0, len(x), batch), desc=f"IW bound, k={k}"):
        xb = x[i : i + batch]
        out.append(
            vae.iw_log_likelihood_chunked(lambda m, xb=xb: model.log_weights(xb, m), k, chunk_size=chunk)
        )
    return np.concatenate(out)


def iw_measurements(model, x):
    """The IW estimate L_K per image on x, the ELBO on the same images, L_1 and L_10 on the first 200,
    and the seconds they took: the lecture's most expensive evaluation."""
    t0 = time.perf_counter()
    return {
        "iw_ll": iw_estimate(model, x, IW_K),  # (N,)
        "elbo_same": evaluate(model, x, n_samples=10)["elbo"],  # independent samples, same images
        "iw_1": iw_estimate(model, x[:200], 1).mean(),  # L_1: a one-sample ELBO
        "iw_10": iw_estimate(model, x[:200], 10).mean(),
        "seconds": time.perf_counter() - t0,
    }


x_iw = X_TEST[:IW_N_TEST]
iw = cache.cached_arrays(  # keyed by the trained weights and the images
    "04_iw_estimate",
    compute=lambda: iw_measurements(model, x_iw),
    code=[iw_measurements, iw_estimate, evaluate, Encoder, Decoder, VAE, vae],
    params={"k": IW_K, "n_images": IW_N_TEST},
    data=[*model.state_dict().values(), x_iw],
    seed=SEED,
)
iw_ll, elbo_same, iw_1, iw_10 = iw["iw_ll"], float(iw["elbo_same"]), float(iw["iw_1"]), float(iw["iw_10"])
iw_k200 = iw_ll[:200].mean()
base_rate_iw = float(base_rate_per_image[: len(x_iw)].mean())  # the base rate on the same images
gap = iw_ll.mean() - elbo_same
print(
    f"on {len(x_iw)} test images: ELBO {elbo_same:.2f}, IW (k={IW_K}) {iw_ll.mean():.2f} ± "
    f"{iw_ll.std() / np.sqrt(len(iw_ll)):.2f} nats  [computed in {float(iw['seconds']):.0f} s]; gap {gap:.2f} nats; "
    f"base rate {base_rate_iw:.2f}"
)
print(f"first 200 images: L_1 {iw_1:.2f}, L_10 {iw_10:.2f}, L_{IW_K} {iw_k200:.2f}")
results.record(
    "test_iw_log_likelihood",
    iw_ll.mean(),
    unit="nats",
    k=IW_K,
    n_images=len(x_iw),
    key=f"test log-likelihood, importance-weighted bound L_k (k = {IW_K})",
)
results.record("test_elbo_same_images", elbo_same, unit="nats", n_images=len(x_iw))
results.record("test_ll_base_rate_same_images", base_rate_iw, unit="nats", n_images=len(x_iw))
results.record("iw_minus_elbo_gap", gap, unit="nats")

# %% [markdown]
# Two properties of the estimator that hold for *any* model, trained or not, and so check the code
# rather than the training: $\mathcal L_k$ grows with $k$, and the gap to the ELBO is positive but
# bounded by a few nats (a gap of tens of nats would point to wrong log-weights, e.g. a missing
# $\log q$ term).

# %%
# L_k increases with k in expectation; with 200 images the differences are many standard errors.
# Smoke, seeds 0/1/2 (cache off): gap 5.66-6.30 nats (lecture, seed 0, before the cache: 7.1); untrained
# (one update): 3.2.
assert iw_1 < iw_10 < iw_k200, "L_k should increase with k"
assert 0 < gap < 15, f"the IW estimate should sit a few nats above the ELBO, got a gap of {gap:.2f} nats"

# %% tags=["learning-check"]
# The IW bound (still a lower bound on log p(x)) beats the exact base-rate log-likelihood on the same
# images. Smoke, seeds 0/1/2 (cache off): 97.3-99.2 nats above it (lecture, seed 0, measured before the
# cache re-seeded each training: 108); untrained (one update): 296 below it.
assert iw_ll.mean() > base_rate_iw + config.scaled(smoke=60, lecture=80, full=100), (
    "the importance-weighted log-likelihood does not beat the independent-pixel base rate"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The gap between the two numbers (printed above) is the part of the ELBO's looseness that better
# inference removes: $\mathcal L_k - \mathcal L_1$ estimates (a lower bound on)
# $\mathbb E\,\mathrm{KL}(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x))$. A gap of a few nats — the assert above
# bounds it by 15 — is typical for this architecture: the mode-seeking, too-narrow Gaussian posterior
# of section 2.1 at work. The IW number itself is
# still a (stochastic) *lower* bound on the true test log-likelihood, so when it is compared with
# the RBM's AIS estimate, remember that AIS tends to *over*-estimate the likelihood if its chain is
# too short.
#
# ### 7.2 Comparison with the RBM lectures and with the literature
#
# Lecture 01 measures RBMs on exactly these binary test images (the same fixed binarization), with
# the exact log-likelihood of a small RBM and an AIS estimate for a larger one, and prints the same
# base rate: read its numbers beside the ones printed here. Each notebook runs on its own, so this one
# does not load them.
#
# **Published numbers** on the full binarized MNIST (60,000 training images):
#
# * {cite:t}`kingma2014`, Fig. 2: variational lower bounds of roughly $-100$ nats for MLP VAEs with
#   500-unit hidden layers and 10–200 latent dimensions (read off their plot; they report no table);
# * {cite:t}`burda2016`, Table 1, this very architecture (784-200-200-50 with tanh, a $k=1$ VAE), trained
#   for 3,280 passes over the stochastically binarized data: test $\log p(x)\approx-86.76$ nats by
#   $\mathcal L_{5000}$; the same network trained as an IWAE with $k=50$ reaches $-84.78$.
# * For the RBM lectures: RBMs with 500 hidden units trained by CD-25 reach about $-86$ nats
#   ({cite:t}`salakhutdinov2008`, by AIS).
#
# Our numbers are lower for reasons we can name: 7.5× fewer training images (the offline subset, which
# the model can over-fit — compare the train and test curves above), one *fixed* binarization of them
# (re-drawing it every epoch acts as data augmentation), ReLU instead of tanh, and a few dozen epochs
# instead of thousands. `COURSE_SCALE=full` (tanh, lr $10^{-3}$, 1000 epochs; a GPU recommended) with the full
# MNIST is the configuration to compare with their Table 1.
#
# ### 7.3 Fréchet classifier distance of the samples
#
# The likelihood says how well the model explains test digits; the Fréchet distance in the course
# classifier's feature space (lecture 00) says how digit-like its *samples* are. It is our own
# "FID" with a small MNIST CNN instead of Inception-v3, so it is **not comparable** with published FIDs.
# `metrics.score_samples` scores the decoded pixel probabilities of `N_FCD` prior samples — the same
# number in every lecture at a given scale — against a fixed set of real (grey-level) training digits,
# beside its two reference points: held-out real digits (the floor) and uniform noise (the ceiling).
# We score the same model's samples before training too, and its reconstructions of test digits.

# %% slideshow={"slide_type": "subslide"}
clf = metrics.load_classifier()
with torch.no_grad():
    recon_fcd = model.decoder(model.encoder(X_TEST[:N_FCD]).loc).probs.cpu().numpy()  # (N_FCD, 784)
score = metrics.score_samples(samples, pixel_range="unit")
score_untrained = metrics.score_samples(samples_untrained, pixel_range="unit")
score_recon = metrics.score_samples(recon_fcd, pixel_range="unit")
print(f"classifier test accuracy {clf.test_accuracy:.1%}; FCD of n = {score['n']} images")
print(
    f"FCD: real test digits (floor) {score['unseen_real']:.2f} | VAE reconstructions {score_recon['fcd']:.2f} | "
    f"VAE prior samples {score['fcd']:.2f} | the same VAE before training {score_untrained['fcd']:.2f} | "
    f"uniform noise (ceiling) {score['noise']:.2f}"
)
print(
    "predicted digit of the samples:",
    np.round(score["label_distribution"], 2),
    f"({score['digits_covered']} digits with at least 2 %)",
)
results.record(
    "fcd_samples",
    score["fcd"],
    unit="",
    key="FCD of prior samples",
    **{k: v for k, v in score.items() if k != "fcd"},
)
results.record("fcd_samples_untrained", score_untrained["fcd"], unit="", n=score_untrained["n"])
results.record("fcd_reconstructions", score_recon["fcd"], unit="", n=score_recon["n"])

# %% tags=["learning-check"]
# The samples look like digits to the classifier: far closer to real digits than the same model's samples
# before training, and spread over the digit classes. Smoke, seeds 0/1/2 (cache off): FCD 254-309 vs
# 1047-1055 before training (ratio 0.24-0.30), all 10 digits covered (lecture, seed 0, measured before the
# cache re-seeded each training: ratio 0.09, 10 digits); untrained (one update): ratio 0.99, 1 digit.
assert score["fcd"] < config.scaled(smoke=0.4, lecture=0.25, full=0.2) * score_untrained["fcd"], (
    "the samples are not much closer to real digits than the untrained model's"
)
assert score["digits_covered"] >= 9, "samples collapsed onto few digits"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 7.4 Does it copy? And the course comparison
#
# A Fréchet distance near the floor would also be reached by a model that returns its training
# images. `lib.memorisation` measures, for each prior sample, the pixel distance to its nearest
# training image, beside the same distance for held-out test digits: a model that generalises draws
# samples about as far from the training set as held-out digits are (a median ratio near 1), one that
# copies draws many much closer. The samples are pixel probabilities, so they are compared with the
# grey levels of the `N_TRAIN` training digits the model saw (binarized) and of the test digits.
#
# The 50-D VAE then enters the course's comparison of its MNIST models (`build/comparison.md`,
# written by `make run`) with the score of its samples, its size, its training time
# (that of the original training when the model came from the cache), the time to decode 100 prior
# samples, its IW test log-likelihood and this check.

# %% slideshow={"slide_type": "subslide"}
memo = memorisation.memorisation_check(samples, train_u8, test_u8, pixel_range_samples="unit")
print("VAE prior samples:", memo)

sampling_times = []
for _ in range(5):  # the median of a few repeats: the first call may pay for warm-up
    t0 = time.perf_counter()
    model.sample(100)
    sampling_times.append(time.perf_counter() - t0)
sampling_seconds_per_100 = float(np.median(sampling_times))
comparison.record_model(
    "VAE (PyTorch)",
    score=score,
    n_parameters=N_PARAMS,
    training_seconds=train_seconds,
    sampling_seconds_per_100=sampling_seconds_per_100,
    test_log_likelihood=float(iw_ll.mean()),
    likelihood=(f"IW k={IW_K}, stochastically binarized test set (seed 1), first {len(x_iw)} images"),
    memorisation=memo.summary(),
)
print(
    f"VAE (PyTorch): {N_PARAMS:,} parameters, FCD {score['fcd']:.2f}, trained in {train_seconds:.1f} s, "
    f"{sampling_seconds_per_100 * 1e3:.2f} ms per 100 samples, IW test log-likelihood {iw_ll.mean():.2f} nats"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# * A plain autoencoder compresses but cannot generate: nothing fixes where its codes live.
# * A VAE prescribes $p(z)$ and fits an amortised Gaussian posterior by maximising the ELBO,
#   $\log p_\theta(x)-\mathrm{KL}(q\,\|\,p_\theta(z\mid x))$ = reconstruction − KL to the prior; the
#   reparameterisation trick makes its gradient cheap and low-variance.
# * The reverse KL makes the posterior mode-seeking; the gap between the ELBO and the
#   importance-weighted bound $\mathcal L_k$ measures how much that costs.
# * Measured on the same binary test digits as the RBM, in nats, and by the Fréchet distance of its
#   samples — blurry pixel probabilities, but spread over the digit classes (the last check asserts at least nine).

# %%
results.record("wall_time", time.time() - T_START, unit="s")
print(f"notebook ran in {time.time() - T_START:.0f} s at scale {SCALE}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# 1. **β-VAE.** Train the 2-D model with $\beta=0.5$ and $\beta=4$ (pass `beta` to `elbo`). How do
#    the latent scatter, the manifold and the test ELBO change? Show that the β-objective
#    is a lower bound on $\log p(x)$ for every $\beta\ge1$ but can exceed it for $\beta<1$; which β gives the tightest bound?
# 2. **The gap.** Plot $\mathcal L_k$ against $\log k$ for $k=1,\dots,5000$ on 100 test images. Does it
#    level off? Estimate $\mathbb E\,\mathrm{KL}(q\,\|\,p(z\mid x))$ from it.
# 3. **IWAE.** Train with $-\mathcal L_k$ (use `log_weights` and `vae.log_mean_exp` inside the loss) for
#    $k=5$. {cite:t}`burda2016` report that the IW bound improves and the posterior spreads out; do you
#    see it?
# 4. **Dynamic binarization.** Re-binarize the training set every epoch (`seed=epoch`). What happens to
#    the train–test gap, and to the test IW estimate?
# 5. **Score-function gradients.** Replace `rsample()` by `sample()` and train with the REINFORCE
#    estimator of section 3.1 for the reconstruction term. How many more steps does it need?
# 6. **Posterior collapse.** Make the decoder powerful (e.g. feed it the previous pixels) or anneal
#    the KL weight from 0 to 1. Watch the KL term: when does the model stop using $z$?
