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
# The RBM lectures gave us a model whose likelihood needs its partition function $Z$: summed exactly
# for a small RBM, and otherwise estimated with a lot of effort (annealed importance sampling). The
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
# `data.binarize(train, "stochastic", seed=0)`, and every test log-likelihood of the course is measured
# on `data.likelihood_test_set()` (every test digit, binarized once with seed 1), so the log-likelihoods
# in nats of lectures 01, 02, 04 and 05 are measured on *the same* binary test images and can be
# compared directly.

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

from lib import cache, checks, comparison, config, data, memorisation, metrics, plotting, rbm, results, vae

SCALE = config.setup("04_vae_pytorch", seed=0)
SEED = config.seed()  # 0, or COURSE_SEED when set: for every model and every estimate
torch.set_num_threads(1)  # small matrices (batches of 100 × a few hundred units)
DEVICE = str(config.torch_device())  # "cuda", "mps" or "cpu"
T_START = time.time()

N_TRAIN = config.scaled(smoke=8000, lecture=8000, full=60000)  # at most this many training images
HIDDEN = (200, 200)  # the architecture of Burda et al. (2016): 784-200-200-50, one stochastic layer
LATENT_DIM = 50
ACTIVATION = config.scaled(smoke="relu", lecture="relu", full="tanh")  # Burda et al. use tanh
BATCH_SIZE = 100
LEARNING_RATE = config.scaled(smoke=3e-3, lecture=2e-3, full=1e-3)
EPOCHS = config.scaled(smoke=10, lecture=50, full=1000)  # main VAE
EPOCHS_2D = config.scaled(smoke=3, lecture=30, full=200)  # the 2-D latent VAE and the autoencoder
IW_K = config.scaled(smoke=50, lecture=500, full=5000)  # importance samples per test image
N_FCD = metrics.sample_count()  # samples for the Fréchet distance: the course-wide n at this scale

# %% [markdown]
# The data: at most `N_TRAIN` images of the training split, the validation split (digits drawn like
# the training digits, on which nothing trains: it measures over-fitting) and the test split; the
# cell prints how many of each were loaded.
#
# **The base rate.** Every likelihood in this lecture is read against the simplest model of binary
# images, independent pixels: $p(x)=\prod_j \bar x_j^{x_j}(1-\bar x_j)^{1-x_j}$ with $\bar x_j$ the
# training frequency of pixel $j$ (plus one pseudo-count for each value, so that no pixel has probability 0).
# A model that has learned anything about digits — strokes, shapes, correlations between pixels —
# should beat its test log-likelihood, and by tens of nats. Its log-likelihood on each split is exact,
# and it has only 784 parameters: how much it differs between the splits shows how much the splits
# themselves differ.

# %% slideshow={"slide_type": "subslide"}
train_u8, train_labels = data.load_mnist("train")
valid_u8, _ = data.load_mnist("validation")
test_u8, test_labels = data.load_mnist("test")
train_u8, train_labels = train_u8[:N_TRAIN], train_labels[:N_TRAIN]
x_train = data.binarize(train_u8, "stochastic", seed=0).reshape(-1, 784)  # (N, 784) in {0, 1}
x_valid = data.binarize(valid_u8, "stochastic", seed=2).reshape(-1, 784)  # (V, 784)
x_test = data.likelihood_test_set()  # (M, 784): every test digit, binarized once with seed 1
print(
    f"train {x_train.shape}, validation {x_valid.shape}, test {x_test.shape}, mean pixel {x_train.mean():.3f}"
)
results.describe(
    dataset="binarized MNIST (stochastic binarization: train seed 0, validation seed 2, test seed 1)",
    n_train=len(x_train),
    n_validation=len(x_valid),
    n_test=len(x_test),
    architecture=f"784-200-200-50 ({ACTIVATION}), Bernoulli decoder",
)
X_TRAIN = torch.from_numpy(x_train).to(DEVICE)
X_VALID = torch.from_numpy(x_valid).to(DEVICE)
X_TEST = torch.from_numpy(x_test).to(DEVICE)
fig = plotting.image_grid(x_train[:40], ncols=20, title="binarized training digits")

base_bias = rbm.base_rate_bias(x_train)  # (784,) logits of the smoothed pixel frequencies (lecture 00)
pixel_p = 1 / (1 + np.exp(-base_bias))  # (784,) the smoothed pixel frequencies themselves


def base_rate_log_likelihood(x):
    """Exact log p(x) of the independent-pixel model, nats per image, averaged over x (N, 784)."""
    return rbm.base_rate_log_likelihood(x, base_bias)


base_rate = {
    name: base_rate_log_likelihood(x)
    for name, x in [("train", x_train), ("validation", x_valid), ("test", x_test)]
}
base_rate_ll = base_rate["test"]
print(
    "base-rate (independent-pixel Bernoulli) log-likelihood, nats per image:",
    {k: round(v, 2) for k, v in base_rate.items()},
)
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
# With $d=2$ we can look at the whole code space. Let us train one briefly. Its reconstruction loss is
# **not** a log-likelihood: the code is computed from the very image it reconstructs, so the loss is no
# probability the model assigns to unseen images, and it cannot be compared with the likelihoods of the
# models below. We check it only against a **sanity floor**, the base rate's cross-entropy on the same
# test images: a decoder that ignored its code could only output one probability per pixel, and
# trained on the training digits those would be the pixels' training frequencies: the base rate.


# %% slideshow={"slide_type": "subslide"}
def mlp(sizes, activation=ACTIVATION):
    """Linear layers of the given sizes with `activation` ("relu" or "tanh") between them (none after
    the last)."""
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU() if activation == "relu" else nn.Tanh())
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
    loader = data.to_torch_loader(x_train, batch_size=BATCH_SIZE, shuffle=True, seed=SEED)
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


ae, ae_history = cache.cached_torch(
    "04_autoencoder_2d",
    build=lambda: Autoencoder().to(DEVICE),
    train=lambda m: train(m, ae_terms, EPOCHS_2D, "autoencoder (d=2)"),
)
with torch.no_grad():
    z_ae = ae.encoder(X_TEST).cpu().numpy()  # (M, 2)
    ae_test_loss = ae.loss(X_TEST).item()
print(
    f"autoencoder test reconstruction loss: {ae_test_loss:.1f} nats per image (not a likelihood); sanity "
    f"floor, the base rate's cross-entropy (a decoder that ignores its code): {-base_rate_ll:.1f}"
)

# %% tags=["learning-check"]
# A sanity floor, not a model comparison: the autoencoder's test reconstruction loss against the base
# rate's cross-entropy on the same images (what a decoder that ignored its code would learn).
checks.above(
    "ae_reconstruction_under_base_rate",
    -base_rate_ll - ae_test_loss,
    config.scaled(smoke=30, lecture=45, full=60),
    "base rate's test cross-entropy (a sanity floor) minus the 2-D autoencoder's test reconstruction loss, nats",
)

# %% [markdown]
# To *generate*, we would pick a code $z$ and decode it. But which $z$? Nothing in the training
# told the codes how to be distributed: they sit in irregular, label-dependent clouds of arbitrary
# scale, with empty space between them. Drawing codes uniformly from the box the test codes span
# lands many of them in the holes, and the decoder — never trained there — produces blurs and
# chimeras.

# %% slideshow={"slide_type": "subslide"}
rng = np.random.default_rng(SEED)
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
# $$p_\theta(x\mid z) = \prod_{j=1}^{784} \pi_j(z)^{x_j}\big(1-\pi_j(z)\big)^{1-x_j},\qquad \pi(z) = \sigma\big(\text{MLP}_\theta(z)\big),$$
#
# with $\sigma(a)=1/(1+e^{-a})$ the logistic sigmoid, applied to each of the 784 outputs (everywhere else
# in this lecture, $\sigma$, $\sigma_q$, $\sigma_\phi$ are standard deviations). Sampling is trivial.
# Learning is not: maximum likelihood needs the **marginal**
#
# $$p_\theta(x) = \int p_\theta(x\mid z)\,p(z)\,dz,$$
#
# a 50-dimensional integral of a neural network, with no closed form, and so is the posterior
# $p_\theta(z\mid x) = p_\theta(x\mid z)p(z)/p_\theta(x)$. **Variational inference** replaces the posterior
# by a tractable family $q_\phi(z\mid x)$ — here a diagonal Gaussian whose mean and variance an
# *encoder network* predicts from $x$ — and fits it by making a divergence to the true posterior
# small. The divergence is the KL divergence. Using one network for every $x$, rather than fitting a
# separate mean and variance to each data point, is called **amortised inference**: the cost of
# fitting is paid once, in training, and inference for a new $x$ is one forward pass.
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
#   variance of $p$: only $-\mathbb E_p[\log q]$ depends on $q$, and
#   $\mathbb E_p[\log q]=-\tfrac12\log(2\pi\sigma^2)-\mathbb E_p[(z-\mu)^2]/(2\sigma^2)$ has zero derivatives
#   in $\mu$ and $\sigma^2$ at $\mu=\mathbb E_p[z]$, $\sigma^2=\mathbb E_p[(z-\mu)^2]$;
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
plt.show()

# %%
assert abs(mu_rev) > 1.5 and sd_rev < 1.0, "the reverse-KL fit should sit on one mode"
assert sd_fwd > 2.0 and abs(mu_fwd) < 0.05, "the forward-KL fit should cover both modes"
assert fit.fun < kl_rev_of_fwd, "the mode-seeking fit must beat moment matching on the reverse KL"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 2.2 The KL divergence between two diagonal Gaussians, step by step
#
# The VAE needs $\mathrm{KL}\big(q\,\|\,p\big)$ for $q=\mathcal N(\mu_q,\sigma_q^2)$ and $p=\mathcal N(\mu_p,\sigma_p^2)$
# in one dimension; a diagonal Gaussian factorises, so the $d$-dimensional KL is the **sum over dimensions**.
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
g = np.random.default_rng(SEED)
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
# **Derivation 1 (Jensen).** Write the marginal with the joint $p_\theta(x,z)=p_\theta(x\mid z)\,p(z)$ as
# $p_\theta(x)=\int p_\theta(x,z)\,dz$, multiply and divide by $q_\phi(z\mid x)$ inside the integral, then use
# the concavity of $\log$:
#
# $$\log p_\theta(x) = \log \mathbb E_{q_\phi(z\mid x)}\Big[\frac{p_\theta(x,z)}{q_\phi(z\mid x)}\Big] \;\ge\; \mathbb E_{q_\phi(z\mid x)}\Big[\log\frac{p_\theta(x,z)}{q_\phi(z\mid x)}\Big] =: \mathcal L(\theta,\phi;x).$$
#
# **Derivation 2 (what the gap is).** Write $p_\theta(x,z)=p_\theta(z\mid x)\,p_\theta(x)$:
#
# $$\mathcal L(\theta,\phi;x) = \mathbb E_q\big[\log p_\theta(x)\big] + \mathbb E_q\Big[\log\frac{p_\theta(z\mid x)}{q_\phi(z\mid x)}\Big] = \log p_\theta(x) - \mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x)\big).$$
#
# So the ELBO is the log-likelihood minus exactly the KL between the approximate and the true
# posterior: maximising it over $\phi$ improves inference, and the bound is tight only when $q$ *is*
# the posterior. Maximising it over $\theta$ raises $\log p_\theta(x)$, but it can also raise the ELBO
# by lowering the gap: by moving the model's posterior $p_\theta(z\mid x)$ towards what a Gaussian $q$
# can represent. The trained model is thus partly shaped by the family of $q$, a cost that no gap
# measured at the trained $\theta$ can show.
#
# **Its two terms.** Write $p_\theta(x,z)=p_\theta(x\mid z)p(z)$ instead:
#
# $$\mathcal L = \underbrace{\mathbb E_{q_\phi(z\mid x)}\big[\log p_\theta(x\mid z)\big]}_{\text{reconstruction}} \;-\; \underbrace{\mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big)}_{\text{rate: closed form}}.$$
#
# The first term is (minus) the autoencoder's cross-entropy, averaged over *noisy* codes; the
# second pulls every code distribution towards the prior — the regulariser against the holes of
# section 1. The second term is called the **rate**, a name from rate–distortion theory: what the code
# costs, in nats, for the information it carries about $x$. Averaged over the data it bounds that
# information from above: with $q(z)=\mathbb E_x\,q_\phi(z\mid x)$ the distribution of all the codes together,
#
# $$\mathbb E_x\,\mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big) = I_q(x;z) + \mathrm{KL}\big(q(z)\,\|\,p(z)\big) \;\ge\; I_q(x;z),$$
#
# with $I_q(x;z)=\mathbb E_x\,\mathbb E_{q_\phi(z\mid x)}\big[\log\big(q_\phi(z\mid x)/q(z)\big)\big]$ the mutual
# information between $x$ and $z$ under the encoder (add and subtract $\log q(z)$ inside the
# expectation). A **β-VAE** {cite:p}`higgins2017` weights the second term by $\beta$:
# $\beta>1$ buys a smoother, more disentangled latent space with worse reconstructions; $\beta<1$ the
# reverse. Write rec for the reconstruction term and KL for the rate. Since the KL term is non-negative,
# $\text{rec}-\beta\,\text{KL}\le\mathcal L\le\log p_\theta(x)$ for every
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
eps = np.random.default_rng(SEED).standard_normal(100_000)
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
# $2\times$`LATENT_DIM` outputs, split into the mean and the log-variance: that is the same network as
# two separate linear heads, one for $\mu$ and one for $\log\sigma^2$, since two linear maps of the same
# hidden layer are one linear map with their outputs stacked (lecture 05 writes the two heads
# separately). `rsample()` is the reparameterised sample; `kl_divergence` knows the closed form of
# section 2.2. The architecture is the one-stochastic-layer model of {cite:t}`burda2016`,
# **784-200-200-50**. They use tanh units; `ACTIVATION` is ReLU at smoke and lecture scale (a common
# default; Exercise 9 compares the two) and tanh at full scale, where the architecture is theirs (their
# training is not: see §7.2).


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

    @torch.no_grad()
    def sample(self, n):
        """Pixel probabilities of n images decoded from prior samples, (n, 784)."""
        return self.decoder(self.prior().sample((n,))).probs


def build_vae(latent_dim=LATENT_DIM):
    """A fresh VAE on DEVICE, its weights drawn from the global generator."""
    return VAE(latent_dim).to(DEVICE)


# The model before training: the initial weights the training of section 4 starts from (it seeds
# every generator with SEED before it builds the model).
config.seed_everything(SEED)
model_untrained = build_vae()
print(model_untrained)
N_PARAMS = sum(p.numel() for p in model_untrained.parameters() if p.requires_grad)
print(f"{N_PARAMS:,} trainable parameters (encoder and decoder)")

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

# %% [markdown]
# **Training**: maximise the ELBO (minimise `loss` $=-\frac1B\sum_b[\text{rec}_b-\beta\,\text{KL}_b]$) with Adam,
# keeping the reconstruction and KL terms separately. After every epoch we evaluate the −ELBO on the
# validation digits and on as many training digits, with the same weights, to watch for over-fitting
# (the training set is one fixed binary draw of each image, and small for the `N_PARAMS` parameters
# printed above).


# %% slideshow={"slide_type": "subslide"}
def train_vae(model):
    """Adam on the negative ELBO; returns the per-step terms, the per-epoch -ELBO on training and
    validation digits (end-of-epoch weights), and the training time in seconds."""
    t0 = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loader = data.to_torch_loader(x_train, batch_size=BATCH_SIZE, shuffle=True, seed=SEED)
    x_seen = X_TRAIN[: len(X_VALID)]  # as many training digits as there are validation digits
    history = {"-rec": [], "kl": [], "train -elbo": [], "validation -elbo": []}
    bar = tqdm(config.training(range(EPOCHS)), total=EPOCHS, desc="VAE 784-200-200-50")
    for _epoch in bar:
        model.train()
        for x in config.training(loader):
            terms = model.elbo(x.to(DEVICE))
            opt.zero_grad()
            terms["loss"].backward()
            opt.step()
            history["-rec"].append(-terms["rec"].mean().item())
            history["kl"].append(terms["kl"].mean().item())
        history["train -elbo"].append(-evaluate(model, x_seen, n_samples=1)["elbo"])
        history["validation -elbo"].append(-evaluate(model, X_VALID, n_samples=1)["elbo"])
        bar.set_postfix(
            train=f"{history['train -elbo'][-1]:.1f}", valid=f"{history['validation -elbo'][-1]:.1f}"
        )
    history["seconds"] = time.perf_counter() - t0
    return history


model, history = cache.cached_torch("04_vae_50d", build=build_vae, train=train_vae)
epoch_log = {k: history[k] for k in ("train -elbo", "validation -elbo")}
train_seconds = history["seconds"]  # the original training's wall time, also when loaded from the cache
print(
    f"trained {len(epoch_log['train -elbo'])} epochs ({len(history['kl'])} updates) in {train_seconds:.0f} s"
)
vae_gap = epoch_log["validation -elbo"][-1] - epoch_log["train -elbo"][-1]
base_rate_gap = base_rate_log_likelihood(x_train[: len(x_valid)]) - base_rate["validation"]
print(
    f"after the last epoch: -ELBO {epoch_log['train -elbo'][-1]:.2f} on training digits, "
    f"{epoch_log['validation -elbo'][-1]:.2f} on validation digits: a gap of {vae_gap:.2f} nats; "
    f"the base rate's on the same images: {base_rate_gap:.2f}; the difference: {vae_gap - base_rate_gap:.2f}"
)
results.record("validation_minus_train_gap_over_base_rate", vae_gap - base_rate_gap, unit="nats")

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
plotting.plot_history(history, keys=["-rec", "kl"], xlabel="step", axes=axes[:2])
axes[0].set_title("−reconstruction term (nats per image)")
axes[1].set_title("KL term (nats per image)")
for k, v in epoch_log.items():
    axes[2].plot(np.arange(1, len(v) + 1), v, marker="o" if len(v) < 30 else None, label=k)
axes[2].set_xlabel("epoch")
axes[2].set_title("−ELBO: train vs validation")
axes[2].legend()
axes[2].grid(alpha=0.3)
fig.tight_layout()

# %% [markdown]
# The reconstruction term falls steeply while the KL term *rises* from nearly zero: at
# initialisation the codes carry almost no information ($q\approx p(z)$: the untrained model's KL term,
# printed in this section before training, is close to zero), and the information about $x$ that the
# model puts into $z$ costs it rate: the KL term, which bounds that information from above (section 3).
# Both −ELBO curves are measured with the end-of-epoch weights on as many images, and the validation
# digits are drawn like the training digits: a gap between the curves that grows well beyond the base
# rate's on the same images (printed above: with only 784 parameters the base rate barely over-fits, and
# its gap says how much the two sets of images differ), or a validation curve that turns
# up while the training curve keeps falling, is the model over-fitting its fixed binary training images. Do not read over-fitting off the test digits instead: they may come from another
# distribution (compare the base rate's exact log-likelihoods on the three splits, printed at the top).

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
# The test ELBO, a lower bound on log p(x), beats the base rate's exact log-likelihood on the same images.
checks.above(
    "elbo_over_base_rate",
    test_eval["elbo"] - base_rate_ll,
    config.scaled(smoke=60, lecture=70, full=90),
    "test ELBO minus the base rate's exact test log-likelihood, nats",
)

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
# **Samples from the prior**: $z\sim\mathcal N(0,I)$, decoded. We show the decoder's pixel probabilities
# $\pi(z)=\mathbb E[x\mid z]$, not a binary draw $x\sim p_\theta(x\mid z)$ (section 7.3 scores both). VAE
# samples from a Bernoulli decoder are famously blurry when shown as probabilities: independent pixels
# given $z$ cannot express sharp strokes whose exact position is uncertain.

# %% slideshow={"slide_type": "subslide"}
samples = model.sample(N_FCD).cpu().numpy()  # (N_FCD, 784) probabilities
fig = plotting.image_grid(samples[:60], ncols=20, title="samples from the prior (pixel probabilities)")

# %% [markdown]
# **Interpolation** between two samples of the prior. The norm of a draw from a 50-dimensional standard
# Gaussian concentrates near $\sqrt{50}$ (its square is $\chi^2_{50}$: mean 50, standard deviation 10), so
# two prior samples $z_1,z_2$ lie near that sphere, nearly orthogonal ($z_1\cdot z_2$ has mean 0 and
# standard deviation $\sqrt{50}$), so the straight-line midpoint between them has
# $\|(z_1+z_2)/2\|^2=\big(\|z_1\|^2+\|z_2\|^2+2\,z_1\cdot z_2\big)/4\approx(50+50)/4$, a norm of only about
# $\sqrt{50/2}=5$ — a code the prior almost never draws *in norm* (its density is
# highest at the origin, but a draw's norm is almost never that small). Spherical interpolation
# (`vae.slerp`) keeps the norm typical. The argument is about draws from the *prior*: the encoder's
# posterior means of real digits are not prior draws and need not lie on that sphere (their norms are
# printed below for comparison), so it does not by itself favour slerp between two encoded test digits.

# %% slideshow={"slide_type": "subslide"}
g = torch.Generator().manual_seed(SEED)
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
# the KL term pulls the codes towards the prior's disk, with far fewer holes, and the decoded grid — at
# evenly spaced *quantiles* of $\mathcal N(0,1)$, as in Figure 4 of {cite:t}`kingma2014` — is a continuous
# manifold of digits. The cell also compares the radii of the codes — one draw of $q_\phi(z\mid x)$ per
# test digit — with the radius of a prior draw, whose distribution is $\chi_2$ (its square is $\chi^2_2$):
# the codes live on the prior's scale, where the autoencoder's scale was arbitrary.


# %%
def elbo_terms(model, x):
    return model.elbo(x)


vae2, hist2 = cache.cached_torch(
    "04_vae_2d",
    build=lambda: build_vae(latent_dim=2),
    train=lambda m: train(m, elbo_terms, EPOCHS_2D, "VAE (d=2)"),
)
with torch.no_grad():
    q2 = vae2.encoder(X_TEST)
    z2 = q2.loc.cpu().numpy()  # (M, 2) posterior means
    radii = q2.sample().norm(dim=-1).cpu().numpy()  # (M,) one code drawn from q(z|x) per test digit
eval_2d = evaluate(vae2, X_TEST)
elbo_2d = eval_2d["elbo"]
print(
    f"2-D VAE test ELBO {elbo_2d:.1f} nats, KL term {eval_2d['kl']:.1f} "
    f"(50-D: {test_eval['elbo']:.1f}, KL term {test_eval['kl']:.1f}; base rate: {base_rate_ll:.1f})"
)
quantiles = [0.5, 0.9, 0.99]
print(
    f"radius quantiles {quantiles}: codes {np.round(np.quantile(radii, quantiles), 2)}, "
    f"prior draws (chi_2) {np.round(np.sqrt(stats.chi2.ppf(quantiles, 2)), 2)}"
)


def decode2(z):
    with torch.no_grad():
        return vae2.decoder(torch.from_numpy(z).to(DEVICE)).probs.cpu().numpy()


fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
plotting.latent_scatter(z2, test_labels, ax=axes[0], title="2-D VAE: posterior means of test digits")
plotting.manifold_figure(decode2, n=15, ax=axes[1], title="decoded quantile grid")
plt.tight_layout()
results.record("test_elbo_2d_latent", elbo_2d, unit="nats")
results.record("test_kl_2d_latent", eval_2d["kl"], unit="nats")

# %% tags=["learning-check"]
# Even two latent numbers per digit beat independent pixels: the 2-D VAE's test ELBO against the base rate.
checks.above(
    "elbo_2d_over_base_rate",
    elbo_2d - base_rate_ll,
    config.scaled(smoke=20, lecture=35, full=40),
    "test ELBO of the 2-D VAE minus the base rate's exact test log-likelihood, nats",
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
# We estimate $\mathcal L_k$ with one draw of the $k$ samples per image, $\hat{\mathcal L}_k(x)=\log\frac1k\sum_i w_i$:
# a random number whose *expectation* is $\mathcal L_k$, so it is a lower bound on $\log p_\theta(x)$ in
# expectation. Since $\mathbb E[w_i]=p_\theta(x)$, Jensen gives $\mathcal L_k\le\log p_\theta(x)$; $\mathcal L_1$ is the ELBO;
# $\mathcal L_k$ is non-decreasing in $k$, for any model and any $q$ (strictly increasing unless the weights are
# constant, i.e. unless $q$ is the exact posterior); and if the weights are bounded,
# $\mathcal L_k\to\log p_\theta(x)$ as $k\to\infty$ ({cite:t}`burda2016`, Theorem 1: the average of the weights
# converges to its mean $p_\theta(x)$ by the law of large numbers, and bounded weights carry this over to
# the expectation of its log). It is an importance-sampling estimate of the marginal with $q$ as the
# proposal. Following {cite:t}`burda2016`, we use $k=5000$ at full scale; below, $\mathcal L_K$ has
# $K=$ `IW_K` samples, on every test digit, computed with `lib.vae.iw_log_likelihood_chunked`, which draws
# the samples in chunks and combines them with a stable log-sum-exp (`log_mean_exp`), so that memory
# stays bounded.


# %% slideshow={"slide_type": "subslide"}
def importance_samples(model, x, k):
    """k draws z_i ~ q(z|x) for each image of x (B, 784), and their log-weights
    log p(x, z_i) - log q(z_i | x): shapes (k, B, d) and (k, B)."""
    qz = model.encoder(x)
    z = qz.sample((k,))  # (k, B, d)
    log_px_z = model.decoder(z).log_prob(x).sum(-1)  # (k, B); x broadcasts over k
    return z, log_px_z + model.prior().log_prob(z).sum(-1) - qz.log_prob(z).sum(-1)


@torch.no_grad()
def iw_estimate(model, x, k, batch=100, chunk=100):
    """Per-image estimates of L_k (NumPy, (N,)) for x (N, 784)."""
    out = []
    for i in tqdm(range(0, len(x), batch), desc=f"IW bound, k={k}"):
        xb = x[i : i + batch]
        out.append(
            vae.iw_log_likelihood_chunked(
                lambda m, xb=xb: importance_samples(model, xb, m)[1], k, chunk_size=chunk
            )
        )
    return np.concatenate(out)


def iw_measurements(model, x):
    """Per-image estimates of L_K, L_10 and L_1 on x, and the seconds L_K took: the lecture's most
    expensive evaluation."""
    t0 = time.perf_counter()
    out = {"L_K": iw_estimate(model, x, IW_K)}
    out["seconds"] = time.perf_counter() - t0
    out["L_10"] = iw_estimate(model, x, 10)
    out["L_1"] = iw_estimate(model, x, 1)  # a one-sample ELBO
    return out


def mean_and_se(values):
    """The mean of per-image values and its standard error over the images."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


iw = cache.cached_arrays("04_iw_estimate", compute=lambda: iw_measurements(model, X_TEST))
L_1, L_10, L_K = iw["L_1"], iw["L_10"], iw["L_K"]
test_iw_ll = float(L_K.mean())
print(
    f"on all {len(L_K)} test images: ELBO {test_eval['elbo']:.2f}, L_{IW_K} {test_iw_ll:.2f} "
    f"(± {mean_and_se(L_K)[1]:.2f}, its standard error over the test images) "
    f"[computed in {float(iw['seconds']):.0f} s]; base rate {base_rate_ll:.2f}"
)
# The same images at every k: the paired differences have far smaller standard errors.
steps = {"L_10 - L_1": L_10 - L_1, f"L_{IW_K} - L_10": L_K - L_10, f"L_{IW_K} - L_1": L_K - L_1}
for name, d in steps.items():
    m, se = mean_and_se(d)
    print(f"{name:>14}: {m:6.2f} ± {se:.2f} nats (paired standard error)")
gap = mean_and_se(L_K - L_1)[0]
results.record(
    "test_iw_log_likelihood",
    test_iw_ll,
    unit="nats",
    k=IW_K,
    n_images=len(L_K),
    key=f"test log-likelihood, importance-weighted bound L_k (k = {IW_K})",
)
results.record("iw_minus_elbo_gap", gap, unit="nats")

# %% [markdown]
# One property of the estimator holds for *any* model, trained or not, and so checks the code rather
# than the training: $\mathcal L_k$ is non-decreasing in $k$, and it rises *strictly* whenever the weights
# $w_i$ vary, that is whenever $q_\phi(z\mid x)$ is not the exact posterior (a Gaussian $q$ never exactly is
# the posterior of a neural decoder). So the estimates must rise with $k$ by more than their noise. The size of the gap $\mathcal L_K-\mathcal L_1$ depends on the model: it is at most
# $\mathbb E\,\mathrm{KL}(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x))$, which can be tens of nats for a poor encoder.
# For this model we bound it by 15 nats, an empirical sanity bound (a gap of tens of nats here would
# point to wrong log-weights, e.g. a missing $\log q$ term).

# %%
for name, d in steps.items():
    m, se = mean_and_se(d)
    assert m > 2 * se, f"{name} should be positive: L_k grows with k (got {m:.2f} ± {se:.2f})"
assert gap < 15, f"the IW estimate should sit a few nats above the ELBO, got a gap of {gap:.2f} nats"

# %% tags=["learning-check"]
# The IW bound (still a lower bound on log p(x)) beats the base rate's exact log-likelihood on the same images.
checks.above(
    "iw_over_base_rate",
    test_iw_ll - base_rate_ll,
    config.scaled(smoke=65, lecture=80, full=100),
    f"importance-weighted test log-likelihood (k = {IW_K}) minus the base rate's exact one, nats",
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The gap $\mathcal L_K-\mathcal L_1$ (printed above) is the part of the ELBO's looseness that better inference
# removes: it estimates a lower bound on $\mathbb E\,\mathrm{KL}(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x))$, how far the
# encoder's Gaussian is from the true posterior. Section 2.1 leads us to expect that Gaussian to be too
# narrow rather than too broad; Exercise 7 measures it. The IW number itself is still a (stochastic)
# *lower* bound on the true test log-likelihood, so when it is compared with the RBM's AIS estimate,
# remember that AIS tends to *over*-estimate the likelihood if its chain is too short.
#
# ### 7.2 Comparison with the RBM lectures and with the literature
#
# Lecture 01 measures RBMs on exactly these binary test images (`data.likelihood_test_set()`), with
# the exact log-likelihood of a small RBM and an AIS estimate for a larger one, and prints the same
# base rate: read its numbers beside the ones printed here. Each notebook runs on its own, so this one
# does not load them.
#
# **Published numbers** on the full binarized MNIST (60,000 training images):
#
# * {cite:t}`kingma2014`, Fig. 2: variational lower bounds of roughly $-100$ nats for MLP VAEs with
#   500-unit hidden layers and 10–200 latent dimensions (read off their plot; they report no table);
# * {cite:t}`burda2016`, Table 1, with this architecture (784-200-200-50 with tanh units, trained as a
#   $k=1$ VAE): test $\log p(x)\approx-86.76$ nats by $\mathcal L_{5000}$; the same network trained as an IWAE with
#   $k=50$ reaches $-84.78$.
# * For the RBM lectures: RBMs with 500 hidden units trained by CD-25 reach about $-86$ nats
#   ({cite:t}`salakhutdinov2008`, by AIS).
#
# Expect our numbers to be lower: compare $\mathcal L_K$, printed in section 7.1, with these. One likely
# reason this notebook measures: far fewer training images (the number is printed at the top), which the model can over-fit; section 4 prints how far the gap between its
# training and validation −ELBO exceeds the base rate's on the same images. The other candidates are
# hypotheses that this notebook does not test: one *fixed* binarization of the training images (a fresh
# draw for every minibatch acts as data augmentation; Exercise 9 tests it), a few dozen epochs instead of
# thousands, and test digits that may be harder than the training digits (the base rate's exact
# log-likelihoods on the three splits, printed at the top, show how much the splits differ for a model
# of independent pixels). `COURSE_SCALE=full`
# (tanh, 1000 epochs; a GPU recommended) with the full MNIST has their architecture but not their
# training: they use minibatches of 20 instead of 100, a learning rate of $10^{-3}\cdot10^{-i/7}$ for $3^i$ passes,
# $i=0,\dots,7$ (3,280 passes) instead of a constant $10^{-3}$, a fresh binarization of every minibatch
# (dynamic binarization) instead of one fixed draw, and all 60,000 training images, where the course holds
# out a sixth as the validation split.
#
# ### 7.3 Fréchet classifier distance of the samples
#
# The likelihood says how well the model explains test digits; the Fréchet distance in the course
# classifier's feature space (lecture 00) says how digit-like its *samples* are. It is our own
# "FID" with a small MNIST CNN instead of Inception-v3, so it is **not comparable** with published FIDs.
# `metrics.score_samples` scores `N_FCD` images — the same number in every lecture at a given scale —
# against a fixed set of real (grey-level) training digits, beside two reference points: unseen real
# digits of the training distribution (the validation split; a model that copies its training images
# can score below it) and uniform noise (degenerate images, all grey or all black, can score above it).
#
# We score three sets of images: the decoded pixel probabilities $\pi(z)$ of prior samples (the smooth
# images of section 5, which the course comparison records), binary draws $x\sim p_\theta(x\mid z)$ from the same
# codes (what the model, as a distribution over binary images, generates), and the model's
# reconstructions of test digits. The reference for the binary draws is the base rate's own samples,
# binary images with independent pixels, scored the same way.

# %% slideshow={"slide_type": "subslide"}
clf = metrics.load_classifier()
rng = np.random.default_rng(SEED)
draws = (rng.random(samples.shape) < samples).astype(np.float32)  # (N_FCD, 784): x ~ p(x|z), one per code
draws_base_rate = (rng.random((N_FCD, 784)) < pixel_p).astype(np.float32)  # the base rate's samples
with torch.no_grad():
    recon_fcd = model.decoder(model.encoder(X_TEST[:N_FCD]).loc).probs.cpu().numpy()  # (N_FCD, 784)
score = metrics.score_samples(samples, pixel_range="unit")
score_draws = metrics.score_samples(draws, pixel_range="unit")
score_base_rate = metrics.score_samples(draws_base_rate, pixel_range="unit")
score_recon = metrics.score_samples(recon_fcd, pixel_range="unit")
print(f"classifier test accuracy {clf.test_accuracy:.1%}; FCD of n = {score['n']} images")
print(
    f"FCD: unseen real digits {score['unseen_real']:.2f} | VAE reconstructions {score_recon['fcd']:.2f} | "
    f"VAE samples, pixel probabilities {score['fcd']:.2f} | VAE samples, binary draws {score_draws['fcd']:.2f} | "
    f"base-rate samples {score_base_rate['fcd']:.2f} | uniform noise {score['noise']:.2f}"
)
print(
    "predicted digit of the samples (pixel probabilities):",
    np.round(score["label_distribution"], 2),
    f"({score['digits_covered']} digits with at least 2 %)",
)
results.record(
    "fcd_samples",
    score["fcd"],
    unit="",
    key="FCD of prior samples (pixel probabilities)",
    **{k: v for k, v in score.items() if k != "fcd"},
)
results.record("fcd_binary_draws", score_draws["fcd"], unit="", n=score_draws["n"])
results.record("fcd_base_rate_samples", score_base_rate["fcd"], unit="", n=score_base_rate["n"])
results.record("fcd_reconstructions", score_recon["fcd"], unit="", n=score_recon["n"])

# %% tags=["learning-check"]
# The VAE's binary samples are closer to real digits than the base rate's binary samples, scored the same way.
checks.below(
    "fcd_draws_over_base_rate",
    score_draws["fcd"] / score_base_rate["fcd"],
    config.scaled(smoke=0.3, lecture=0.2, full=0.2),
    "FCD of the VAE's binary samples divided by that of the base rate's samples",
)

# %% tags=["learning-check"]
# The samples spread over the digit classes: each of more than eight digits gets at least 2 % of them.
checks.above(
    "digits_covered",
    score["digits_covered"],
    config.scaled(smoke=8, lecture=8, full=8),
    "digits that receive at least 2 % of the samples (pixel probabilities)",
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 7.4 Does it copy? And the course comparison
#
# A Fréchet distance near the unseen real digits' would also be reached by a model that returns its
# training images. `lib.memorisation` measures, for each prior sample, the pixel distance to its nearest
# training image, beside the same distance for the validation digits (unseen, and drawn like the training
# digits): a model that generalises draws samples about as far from the training set as unseen digits
# are (a median ratio near 1), one that copies draws many much closer. The samples are pixel
# probabilities; they are compared with the grey-level versions of the `N_TRAIN` training digits (the
# model saw binarized draws of them) and of the validation digits. Blurry images sit closer to every
# training image than sharp ones, so blur alone lowers the ratio somewhat, without any copying.
#
# The 50-D VAE then enters the course's comparison of its MNIST models (`build/comparison.md`) with the
# score of its samples (the pixel probabilities), its size (encoder and decoder), its training time
# (that of the original training when the model came from the cache), the time to decode 100 prior
# samples (the median of five runs after a warm-up), its IW test log-likelihood on every test digit and
# this check.

# %% slideshow={"slide_type": "subslide"}
memo = memorisation.memorisation_check(samples, train_u8, valid_u8, pixel_range_samples="unit")
print("VAE prior samples:", memo)

model.sample(100).cpu()  # warm-up
sampling_times = []
for _ in range(5):
    t0 = time.perf_counter()
    model.sample(100).cpu()  # .cpu() waits until a GPU has finished
    sampling_times.append(time.perf_counter() - t0)
sampling_seconds_per_100 = float(np.median(sampling_times))
comparison.record_model(
    "VAE (PyTorch)",
    score=score,
    n_parameters=N_PARAMS,
    training_seconds=train_seconds,
    sampling_seconds_per_100=sampling_seconds_per_100,
    test_log_likelihood=test_iw_ll,
    likelihood=f"importance-weighted bound L_k, k = {IW_K}",
    test_images=x_test,
    base_rate_log_likelihood=base_rate_ll,
    memorisation=memo.summary(),
)
print(
    f"VAE (PyTorch): {N_PARAMS:,} parameters, FCD {score['fcd']:.2f}, trained in {train_seconds:.1f} s, "
    f"{sampling_seconds_per_100 * 1e3:.2f} ms per 100 samples, IW test log-likelihood {test_iw_ll:.2f} nats"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# * A plain autoencoder compresses but cannot generate: nothing fixes where its codes live.
# * A VAE prescribes $p(z)$ and fits an amortised Gaussian posterior by maximising the ELBO,
#   $\log p_\theta(x)-\mathrm{KL}(q\,\|\,p_\theta(z\mid x))$ = reconstruction − KL to the prior; the
#   reparameterisation trick makes its gradient cheap and low-variance.
# * The reverse KL makes the posterior mode-seeking; the gap between the ELBO and the
#   importance-weighted bound $\mathcal L_k$ only lower-bounds how much the approximate posterior
#   costs: it estimates part of $\mathbb E\,\mathrm{KL}(q\,\|\,p_\theta(z\mid x))$ at the trained $\theta$, and
#   cannot see how training with a Gaussian $q$ shaped the model itself (section 3).
# * Measured on the same binary test digits as the RBM, in nats, and by the Fréchet distance of its
#   samples — blurry pixel probabilities, but spread over the digit classes.

# %%
results.record("wall_time", time.time() - T_START, unit="s")
print(f"notebook ran in {time.time() - T_START:.0f} s at scale {SCALE}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# The first four are **checked**: fill in the cell marked `...`, run it, then run the `check` line
# below it, which measures your answer against an independent reference (an integral done
# numerically, an objective maximised numerically, Gauss–Hermite quadrature, the weights normalised
# another way) and says what disagrees. They need nothing trained: exercises 1 and 2 use the smallest
# latent-variable model whose posterior is known exactly, one latent number, one observed number and a
# linear decoder. The others are open, and most of them retrain a model of the lecture: write your
# answer, then compare it with the model answer. In the book each solution is folded: try first.

# %%
from lib.exercises import check

# %% [raw]
# # BEGIN QUESTION
# name: ex04_1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: The ELBO of a linear-Gaussian model, and its gap
#
# Take the prior $p(z)=\mathcal N(0,1)$ and the decoder $p(x\mid z)=\mathcal N(x;\,az,\,\sigma^2)$, with a
# weight $a$ and a noise variance $\sigma^2$, for one latent number $z$ and one observation $x$, and
# the Gaussian $q(z)=\mathcal N(m,s^2)$ as the approximate posterior of that $x$. Derive the ELBO
# $\mathcal L(m,s)=\mathbb E_q[\log p(x\mid z)]-\mathrm{KL}\big(q\,\|\,p(z)\big)$ of section 3 in closed
# form and code it as `linear_gaussian_elbo(x, m, s, a, sigma)`, in nats, for numbers `x`, `m`, `a` and
# the standard deviations `s > 0`, `sigma > 0`. (Hint: $\mathbb E_q[(x-az)^2]$ needs both the mean and
# the variance of $z$ under $q$.) The marginal of this model is $p(x)=\mathcal N(x;\,0,\,a^2+\sigma^2)$
# and its posterior is Gaussian: by the second derivation of section 3, where is your ELBO largest,
# and what is its value there?


# %% tags=["hide-input"]
def linear_gaussian_elbo(x: float, m: float, s: float, a: float, sigma: float) -> float:
    """ELBO in nats of q = N(m, s²) for one observation x of the model z ~ N(0, 1), x | z ~ N(az, sigma²)."""
    # BEGIN SOLUTION
    # E_q (x − az)² = (x − am)² + a²s²;  KL(N(m, s²) ‖ N(0, 1)) = (s² + m² − 1 − ln s²)/2 (section 2.2)
    rec = -0.5 * np.log(2 * np.pi * sigma**2) - ((x - a * m) ** 2 + a**2 * s**2) / (2 * sigma**2)
    kl = 0.5 * (s**2 + m**2 - 1 - np.log(s**2))
    return float(rec - kl)
    # END SOLUTION


# %%
check("04.1", linear_gaussian_elbo)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex04_2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: What β does to the posterior
#
# In the model of exercise 1, the encoder of a β-VAE would choose $q=\mathcal N(m,s^2)$ to maximise
# $\mathcal L_\beta(m,s)=\mathbb E_q[\log p(x\mid z)]-\beta\,\mathrm{KL}\big(q\,\|\,p(z)\big)$ (section 3)
# at a fixed decoder. Set its derivatives with respect to $m$ and to $s^2$ to zero, and code the
# maximiser as `beta_optimal_q(x, a, sigma, beta)`, returning the pair `(m, s)` (the standard deviation
# $s$, not the variance). Check that $\beta=1$ gives the exact posterior. For $\beta\neq1$ the maximiser
# is the exact posterior of the same model with another noise variance: which one? What becomes of $q$
# as $\beta\to\infty$, and as $\beta\to0$?


# %% tags=["hide-input"]
def beta_optimal_q(x: float, a: float, sigma: float, beta: float) -> tuple[float, float]:
    """Mean and standard deviation of the q = N(m, s²) that maximises E_q log p(x|z) − beta KL(q ‖ N(0, 1))."""
    # BEGIN SOLUTION
    # ∂/∂m:  a(x − am)/σ² − βm = 0          ⇒  m = ax/(a² + βσ²)
    # ∂/∂s²: −a²/(2σ²) − β/2 + β/(2s²) = 0   ⇒  s² = βσ²/(a² + βσ²): the posterior for the noise variance βσ²
    return a * x / (a**2 + beta * sigma**2), float(np.sqrt(beta * sigma**2 / (a**2 + beta * sigma**2)))
    # END SOLUTION


# %%
check("04.2", beta_optimal_q)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex04_3

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: How noisy is each gradient estimator?
#
# Section 3.1 compared two one-sample estimators of $\partial_\mu\,\mathbb E_q[f(z)]$ for $f(z)=(z-c)^2$
# and $q=\mathcal N(\mu,\sigma^2)$ at $\sigma=1$. With $z=\mu+\sigma\varepsilon$ and
# $\varepsilon\sim\mathcal N(0,1)$, the pathwise estimator is $g_{\text{path}}=f'(z)=2(z-c)$ and the
# score-function estimator is $g_{\text{score}}=f(z)\,\partial_\mu\log q(z)$; both have the mean
# $2(\mu-c)$. Compute their variances exactly, with $\mathbb E\,\varepsilon^2=1$,
# $\mathbb E\,\varepsilon^4=3$, $\mathbb E\,\varepsilon^6=15$ and the odd moments zero, and code
# `gradient_variances(mu, sigma, c)`, returning the pair `(var_path, var_score)`. (Section 3.1
# estimated their square roots by sampling, at $\mu=0$, $c=3$, $\sigma=1$.) How does the ratio of the
# two variances behave as $\sigma\to0$, for the narrow posteriors of a trained encoder?


# %% tags=["hide-input"]
def gradient_variances(mu: float, sigma: float, c: float) -> tuple[float, float]:
    """Variances of the pathwise and the score-function one-sample estimators of d/dmu E_q (z − c)²,
    q = N(mu, sigma²)."""
    # BEGIN SOLUTION
    d = mu - c  # z − c = σε + d, and ∂_μ log q = (z − μ)/σ² = ε/σ
    var_path = 4 * sigma**2  # g = 2(σε + d)
    # g = (σε + d)² ε/σ = σε³ + 2dε² + (d²/σ)ε:  E g² = 15σ² + 12d² + 6d² + d⁴/σ², minus (E g)² = 4d²
    var_score = 15 * sigma**2 + 14 * d**2 + d**4 / sigma**2
    return var_path, var_score
    # END SOLUTION


# %%
check("04.3", gradient_variances)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex04_4

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: The posterior's moments from importance weights
#
# Given $k$ draws $z_i\sim q_\phi(z\mid x)$ in $d$ latent dimensions and their log-weights
# $\log w_i=\log p_\theta(x,z_i)-\log q_\phi(z_i\mid x)$ (what `importance_samples` of section 7.1
# returns, for one image), the self-normalised weights $\tilde w_i=w_i/\sum_j w_j$ estimate the
# posterior's mean and variance along each dimension, $\bar z_d=\sum_i\tilde w_iz_{id}$ and
# $v_d=\sum_i\tilde w_i(z_{id}-\bar z_d)^2$, and $1/\sum_i\tilde w_i^2$, between 1 and $k$, is the
# *effective sample size* (ESS). Code `posterior_moments(z, log_w)` for NumPy arrays `z` of shape
# `(k, d)` and `log_w` of shape `(k,)`, returning `(mean, var, ess)`: arrays of shape `(d,)` and `(d,)`,
# and a number. The log-weights of a digit are of the order of its log-likelihood, around $-100$ nats,
# where `exp` in float32 has lost most of its precision (it returns 0 below about $-104$): make your
# function work for log-weights near $-1000$, where `exp` returns 0 even in float64. What are `var` and
# `ess` when all the weights are equal?


# %% tags=["hide-input"]
def posterior_moments(z: np.ndarray, log_w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Self-normalised importance-sampling mean and variance per dimension, (d,) each, and the effective
    sample size, from k draws z (k, d) of q and their log-weights log_w (k,)."""
    # BEGIN SOLUTION
    w = np.exp(log_w - np.max(log_w))  # the largest weight becomes 1: they cannot all underflow
    w = w / w.sum()
    mean = w @ z
    var = w @ (z - mean) ** 2
    return mean, var, float(1.0 / np.sum(w**2))
    # END SOLUTION


# %%
check("04.4", posterior_moments)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex04_5
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5: A β-VAE on MNIST
#
# Train the 2-D model of section 6 with $\beta=0.5$ and with $\beta=4$: for instance
# `config.seed_everything(SEED)`, `m4 = build_vae(latent_dim=2)`, then
# `train(m4, lambda m, x: m.elbo(x, beta=4.0), EPOCHS_2D, "β = 4")`. How do the latent scatter, the
# decoded manifold, the KL term and the test ELBO (`evaluate`, always at $\beta=1$) change? Which β
# gives the best test ELBO? Compare with what exercise 2 found at a fixed decoder.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Exercise 2 answers for the encoder at a fixed decoder: the β-optimal $q$ is the exact posterior of a
# model whose decoder noise variance is $\beta$ times larger, so $\beta>1$ widens every $q$ and pulls
# its mean towards the prior's, and $\beta<1$ narrows it towards a point at the best code. Here the
# decoder adapts too, but the trade-off between the two terms is the same, and it says what to expect:
# with $\beta=4$ a smaller KL term and a worse reconstruction term, posterior means crowded nearer the
# origin with the classes overlapping more, and a smoother, blurrier manifold on which some digits may
# be missing; with $\beta=0.5$ a larger KL term, codes spread further out with more empty space
# between the classes (closer to the autoencoder of section 1), and sharper reconstructions. The test
# ELBO is $\mathcal L$ at $\beta=1$, which only the model trained with $\beta=1$ maximises (on its
# training digits), so expect $\beta=1$ to score best and $\beta=4$ to lose clearly; with a small
# training set, over-fitting may let a β a little above 1 come close. For $\beta<1$ the training
# objective is no bound on $\log p_\theta(x)$ at all (section 3).
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex04_6
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6: How fast does the importance-weighted bound converge?
#
# On 100 test digits, compute $\mathcal L_k$ for $k=1,2,5,10,\dots,5000$ with
# `iw_estimate(model, X_TEST[:100], k)` (the same digits at every $k$) and plot its mean against
# $\log k$. Does it level off? For large $k$, expand $\log\frac1k\sum_iw_i$ around $\log p_\theta(x)$
# to find how $\mathcal L_k$ approaches its limit; plot against the variable that makes that approach
# a straight line, and estimate from it $\log p_\theta(x)$ and
# $\mathbb E\,\mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x)\big)$.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# $\mathcal L_k$ is non-decreasing in $k$ (section 7.1), so the curve rises, towards $\log p_\theta(x)$
# if the weights are bounded. Write the average of the weights as $\frac1k\sum_iw_i=p_\theta(x)(1+\delta)$:
# the $w_i$ are independent with mean $p_\theta(x)$, so $\mathbb E\,\delta=0$ and
# $\mathbb E\,\delta^2=\mathrm{Var}(w)/\big(k\,p_\theta(x)^2\big)$. With
# $\log(1+\delta)=\delta-\delta^2/2+\dots$,
#
# $$\mathcal L_k\approx\log p_\theta(x)-\frac{\mathrm{Var}(w)}{2k\,p_\theta(x)^2}$$
#
# for large $k$, when the weights' relative variance is finite. Against $\log k$ the curve should
# flatten, the remaining gap halving with every doubling of $k$; against $1/k$, its large-$k$ end
# should be a straight line whose intercept at $1/k=0$ estimates $\log p_\theta(x)$, averaged over the
# digits. Since $\mathcal L_1$ is the ELBO, $\log p_\theta(x)-\mathcal L_1$ is
# $\mathbb E\,\mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x)\big)$ (section 3): estimate it by the
# intercept minus $\mathcal L_1$, or, as a lower bound, by $\mathcal L_{5000}-\mathcal L_1$. Both rely
# on the weights. Where $q$ is much narrower than the posterior their variance can be infinite
# (exercise 7): then $\mathcal L_k$ approaches its limit more slowly than $1/k$, the straight line does
# not appear, and the curve can look level while still short of $\log p_\theta(x)$, so that both
# estimates are too low.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex04_7
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7: How wide is the true posterior?
#
# For a few test digits, one at a time, draw $k$ codes and their log-weights (inside
# `with torch.no_grad():`, `z, log_w = importance_samples(model, X_TEST[i : i + 1], k)`, of shapes
# `(k, 1, d)` and `(k, 1)`), estimate the posterior's variance along each latent dimension with your
# `posterior_moments` of exercise 4 (pass `z[:, 0].double().cpu().numpy()` and
# `log_w[:, 0].double().cpu().numpy()`) and compare it with $q$'s $\sigma_d^2$
# (`model.encoder(x).scale ** 2`). Print the ESS too, and repeat for $k=50, 1000, 5000$. With small
# $k$, why does the estimate lean towards $q$'s own variance, and why is a large ESS no proof that it
# doesn't? (Think of a $q$ too narrow for the posterior, whose draws never reach the posterior's
# tails, and of one too broad.) Compare the *active* dimensions (those whose posterior mean varies
# from image to image, $\mathrm{Var}_x\,\mu_d(x)>10^{-2}$, the criterion of {cite:t}`burda2016`) with
# the others. Is $q$ too narrow?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# The estimate is a weighted average over draws of $q$ only. When the posterior is wider than $q$,
# few of $k$ draws reach the posterior's tails, where the weights
# $w\propto p_\theta(z\mid x)/q_\phi(z\mid x)$ are largest; the variance is then computed from points
# within $q$'s range and leans towards $q$'s own, approaching the posterior's only as $k$ grows. How
# fast depends on the variance of the weights. For a posterior $\mathcal N(\mu,s_p^2)$ and
# $q=\mathcal N(\mu',s_q^2)$ in one dimension, $\mathbb E_q[w^2]\propto\int p^2/q\,dz$ is finite only if
# $2/s_p^2-1/s_q^2>0$, that is $s_q^2>s_p^2/2$: a $q$ narrower than the posterior by more than a factor
# $\sqrt2$ in standard deviation gives weights of infinite variance, and estimates that converge
# slowly and jump whenever a rare draw lands in the tail. The ESS measures only how unequal the
# weights *of the draws made* are: if no draw has reached the tails, those weights can be nearly
# equal and the ESS large, while the estimate misses the tails. A $q$ too broad is the safe case: its
# draws cover the posterior, many land where the posterior is small (a lower ESS), and the estimate
# can be trusted.
#
# Expect the inactive dimensions to have $\mu_d(x)\approx0$ and $\sigma_d\approx1$ for every digit:
# the decoder (nearly) ignores them, so the posterior along them is (nearly) the prior, $q$ matches it,
# and the ratio of the two variances stays near 1. Along the active dimensions $\sigma_d\ll1$; expect
# the estimated posterior variance to exceed $\sigma_d^2$ and to grow with $k$: $q$ is too narrow, as
# the reverse KL leads us to expect (section 2.1). For a Gaussian posterior $\mathcal N(\mu,\Sigma)$
# this is exact: the diagonal Gaussian $q$ that minimises $\mathrm{KL}(q\,\|\,p)$ has the mean $\mu$ and
# the variances $\sigma_d^2=1/(\Sigma^{-1})_{dd}$ (set the derivative of
# $\tfrac12\big[\mathrm{tr}(\Sigma^{-1}S)-\log\det S\big]$ with respect to each $S_{dd}$ to zero), and
# $1/(\Sigma^{-1})_{dd}\le\Sigma_{dd}$, with equality only when dimension $d$ is uncorrelated with the
# others.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex04_8
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 8: Training on the importance-weighted bound (IWAE)
#
# Train with $-\mathcal L_k$ for $k=5$: write a version of `importance_samples` that draws with
# `qz.rsample` (the one above uses `qz.sample`, which blocks the gradient through $z$, and the
# encoder's gradient would be wrong), and average `vae.log_mean_exp` of its log-weights over the batch.
# {cite:t}`burda2016` report that the IW bound improves and that the model uses more active latent
# dimensions (the criterion of exercise 7). Do you see both? What becomes of the ELBO $\mathcal L_1$
# of the model trained this way?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# $\mathcal L_5\ge\mathcal L_1$ for any model, and training on it raises a tighter bound on
# $\log p_\theta(x)$: expect the test $\mathcal L_K$ to come out a little higher than the VAE's at the
# same budget (with $k=50$, {cite:t}`burda2016` gain about 2 nats with this architecture, Table 1;
# $k=5$ should gain less). The gradient of $\log\frac1k\sum_iw_i$ is $\sum_i\tilde w_i\nabla\log w_i$,
# each draw weighted by its normalised weight: draws that fit the posterior better count more, so
# the model is less pushed towards posteriors that one Gaussian can fit (the cost of section 3):
# expect more active dimensions, as Burda et al. found. Expect the ELBO $\mathcal L_1$ not to improve,
# and possibly to get worse: the encoder is now trained as a proposal for five draws, not as the best
# single Gaussian, and a proposal is better too broad than too narrow (exercise 7). With `qz.sample`
# no gradient passes through $z$: the encoder would be trained only through the terms
# $-\log q_\phi(z_i\mid x)$ at fixed draws, a biased gradient.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex04_9
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9: Closer to Burda et al.: tanh units and dynamic binarization
#
# Section 7.2 lists how our training differs from that of {cite:t}`burda2016`. Test two of the
# differences, one at a time, at the same number of epochs. (a) Train the 50-D model with
# `ACTIVATION = "tanh"`: set it in the set-up cell and rerun the notebook from the top (`mlp` takes
# `ACTIVATION` as a default argument, fixed when the function is defined, so setting it in a later
# cell changes nothing). Compare the curves of the reconstruction and KL terms, and the test ELBO.
# (b) In a copy of `train_vae`, re-binarize the training images every epoch with a new seed
# (`data.binarize(train_u8, "stochastic", seed=...).reshape(-1, 784)`, a new loader each epoch). What
# happens to the gap between the training and validation curves, and to the test IW estimate?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# (a) Which activation trains this architecture better is an empirical question that nothing in the
# lecture settles: compare the difference in test ELBO with what a change of seed alone does (train
# each version twice) before concluding, and look at the curves for differences in speed rather than
# only at the end point. (b) With one fixed draw the model can learn that draw's noise (which pixels
# of a grey stroke came out 1), and its training −ELBO, measured on that same draw, falls below the
# validation −ELBO by more than the base rate's gap. A new draw every epoch makes that noise
# unlearnable: each grey digit is seen as many binary images, drawn the way the validation and test
# images were drawn, a data augmentation that adds no wrong examples. Expect the gap between the
# curves to shrink, the training curve (still measured on the first draw, now one draw among many) to
# move up towards the validation curve, and the validation and test numbers to improve where
# over-fitting held them back (section 7.2 names it as one likely reason why our numbers are below
# the published ones).
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex04_10
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 10: Training with score-function gradients
#
# Replace `rsample()` by `sample()` in `VAE.elbo` and train with the REINFORCE estimator of section
# 3.1 for the reconstruction term: add to the loss the surrogate
# $-\,\overline{\text{rec}}\cdot\log q_\phi(z\mid x)$, with $\overline{\text{rec}}$ the reconstruction
# term detached from the graph (`rec.detach()`) and $\log q_\phi$ summed over the latent dimensions:
# its gradient with respect to $\phi$ is the score-function estimate of
# $-\nabla_\phi\,\mathbb E_q[\text{rec}]$. Keep the closed-form KL. How many more steps does it
# need to reach the ELBO of the pathwise version, if it gets there at all? Subtracting a baseline $b$
# from $\overline{\text{rec}}$ (a running mean of it over past batches, say) keeps the estimator
# unbiased: does it help?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# Exercise 3 answers it in one dimension: as the width $\sigma$ of $q$ shrinks, the score-function
# estimator's variance grows like $(\mu-c)^4/\sigma^2$, while the pathwise one's falls like
# $\sigma^2$. In the VAE, $f$ is the reconstruction term, a sum over 784 pixels of tens to hundreds of
# nats per image, and the encoder's $\sigma_d$ along the active dimensions are small: the
# score-function estimate multiplies that large number by $\nabla_\phi\log q_\phi$, whose component
# along $\mu_d$ is $\varepsilon_d/\sigma_d$, in all 50 dimensions at once. Expect training to need many
# times more steps for the same ELBO, or to stall with an encoder that carries little information (a
# small KL term): the noise in the encoder's gradient is largest exactly where the codes are
# informative. A baseline leaves the mean unchanged, since $\mathbb E_q[\nabla_\phi\log q_\phi]=0$, and
# removes the part of the variance that comes from the size of $\overline{\text{rec}}$ itself, which
# is large because the reconstruction term is far from zero: expect it to help a lot, but not to
# close the gap to the pathwise estimator, which uses the gradient of the decoder with respect to
# $z$, information that the score function never sees.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex04_11
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 11: Posterior collapse
#
# A VAE suffers *posterior collapse* when the KL term falls to zero: then $q_\phi(z\mid x)=p(z)$ for
# every $x$, the code carries no information, and the decoder models the images on its own. Provoke
# it by making the decoder powerful (e.g. feed it the previous pixels, so that it can model the image
# without $z$), and watch the KL term: when does the model stop using $z$? Then try the standard
# remedy, *KL annealing* {cite:p}`bowman2016`: raise the weight of the KL term from 0 to 1 over the
# first epochs. Does the model keep using $z$?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# With $q_\phi(z\mid x)=p(z)$ the KL term is 0, and a decoder that ignores $z$ makes the ELBO exactly
# $\log p_\theta(x)$: the bound is tight, and any information put into $z$ has to pay for its rate
# (section 3) in better reconstructions. A decoder that models the dependences between pixels by
# itself, from the previous pixels, gains little from $z$, so the ELBO can favour the collapsed
# solution. Training favours it early, too: at initialisation $q\approx p(z)$ and the codes carry no
# information (section 4), so the autoregressive decoder learns to do without them before the encoder
# has become informative, and from there any use of $z$ first costs rate. Expect the KL term to fall
# to nearly zero and stay there, and sooner the more powerful the decoder. KL annealing makes the rate
# cheap while the decoder is still weak (the opposite of exercise 2's $\beta\to\infty$, where $q$
# becomes the prior): expect the model to use $z$ during the warm-up; whether it keeps using it once
# the weight reaches 1 depends on how much the decoder can do alone, so expect a KL term that stays
# above zero but below that of the plain decoder. The model of exercise 1 shows the limit case: if
# $a$ and $\sigma$ are learned, $p(x)=\mathcal N(x;\,0,\,a^2+\sigma^2)$ depends on $a^2+\sigma^2$ only,
# so the collapsed $a=0$, with $q=p(z)$ and a tight ELBO, explains the data as well as any other.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
