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
# # 10 — Autoregressive models and normalizing flows: generative models whose likelihood is exact
#
# The likelihoods of the course's MNIST models so far were exact only for models small enough to be
# summed over, and otherwise estimated or bounded. The RBM's likelihood needs its partition function
# $Z$: summed exactly for a few hidden units, and otherwise estimated by annealed importance
# sampling, which is stochastic and tends to *over*estimate the likelihood when its chain is too
# short (lecture 01). The VAE has the ELBO and the importance-weighted bound, both *below* the truth
# by an amount that the bound itself does not reveal (lecture 04). The EBM, the GAN and the
# diffusion models of lectures 03, 06 and 08 get no likelihood on MNIST here. Two families of models
# give the likelihood **exactly**, at any size, in one pass of a network: **autoregressive models**,
# which build $p(x)$ from the chain rule of probability, and **normalizing flows**, which build it
# from the change of variables of an invertible map. They are also the two families that physics now
# uses most as samplers of Boltzmann distributions {cite:p}`wu2019,albergo2019,noe2019`, the subject
# of the next lecture.
#
# **What you will learn**
# - the chain rule as a model: normalised by construction, with an exact log-likelihood, and a
#   price: a sample takes $D$ sequential steps;
# - MADE {cite:p}`germain2015`: how masks built from *degrees* turn an autoencoder into an
#   autoregressive model, with the autoregressive property checked by autograd; trained on binarized
#   MNIST and measured by its exact test log-likelihood on the images on which every likelihood of
#   the course is measured;
# - sampling: the naive sampler's $D$ forward passes, and the incremental sampler of a one-hidden-layer
#   MADE, in which each drawn pixel adds a rank-one term to the hidden pre-activation, so that a
#   whole sample costs about one forward pass; the two draw the same samples from the same random
#   numbers;
# - normalizing flows: the change of variables and its log-determinant, affine coupling layers
#   (RealNVP, {cite:t}`dinh2017`) whose Jacobian is triangular, invertibility and the log-determinant
#   checked numerically;
# - a flow trained by maximum likelihood on the exact 2-D target of lecture 03, measured with the
#   same grid KL divergence as lecture 03's EBM and lecture 08's score model;
# - what a flow cannot do: a smooth invertible map of a Gaussian joins separated modes by bridges
#   of mass, and has to be steep to make them thin.
#
# **Prerequisites**: `00_course_tour` (binarized MNIST, the base rate, the FCD), `01_rbm_pytorch`
# (AIS), `03_ebm_langevin` (the 2-D targets, the grid KL), `04_vae_pytorch` (KL, the ELBO and the
# importance-weighted bound). PyTorch autograd.
#
# **Data.** As in lectures 01–05, the images are binarized *stochastically once, with a fixed seed*
# (each pixel is 1 with probability equal to its grey level), and the test log-likelihood is
# measured on `data.likelihood_test_set()`: every test digit, binarized once with seed 1, the same
# binary images as every other likelihood of the course.
#
# The masked layers and samplers live in `lib/autoregressive.py`, the coupling layers and the flow
# container in `lib/flows.py` (tested against enumeration, chi-squared tests, autograd Jacobians
# and inversion in `tests/test_autoregressive.py` and `tests/test_flows.py`). The forward passes,
# samplers and couplings are written out again in this notebook, in a few lines each, and held
# against `lib`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up

# %%
import copy
import itertools
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from lib import (
    autoregressive,
    cache,
    checks,
    comparison,
    config,
    data,
    divergences,
    flows,
    memorisation,
    metrics,
    plotting,
    rbm,
    results,
    toy2d,
)

SCALE = config.setup("10_autoregressive_and_flows", seed=0)
SEED = config.seed()  # 0, or COURSE_SEED when set: for every model, data order and random draw
torch.set_num_threads(1)  # small matrices (batches of 100 × 500 units) and 2-D points
DEVICE = str(config.torch_device())  # "cuda", "mps" or "cpu" (the 2-D flow stays on the CPU, float64)
T_START = time.time()

# Sections 2-4: MADE on binarized MNIST
N_TRAIN = config.scaled(smoke=8000, lecture=8000, full=60000)  # at most this many training images
HIDDEN = 500  # one hidden layer of ReLU units, and direct input-to-output connections
EPOCHS = config.scaled(smoke=4, lecture=25, full=100)  # passes over the training digits
BATCH_SIZE = 100
LEARNING_RATE = config.scaled(smoke=2e-3, lecture=2e-3, full=1e-3)  # Adam
N_FCD = metrics.sample_count()  # samples for the Fréchet distance: the course-wide n at this scale
N_NAIVE = config.scaled(smoke=10, lecture=100, full=100)  # samples drawn by the D-pass sampler, to time it
N_SAME = 4  # samples drawn by four samplers from the same random numbers, to compare them
# Sections 5-7: a normalizing flow on lecture 03's 2-D target
N_COUPLINGS = config.scaled(smoke=8, lecture=8, full=12)  # affine coupling layers
HIDDEN_2D = 64  # width of the two hidden layers of each coupling's conditioner
ITERS_2D = config.scaled(smoke=800, lecture=4000, full=10000)  # Adam updates
BATCH_2D = 512  # training points per update
LR_2D = 2e-3  # Adam; constant for the first half, then decaying linearly to 0
N_DATA_2D = 20_000  # training points drawn from the exact target, as in lecture 03
EXTENT, N_GRID = 4.0, 100  # lecture 03's grid: 100 × 100 cells over [-4, 4]²
N_FLOW_SAMPLES = config.scaled(smoke=100_000, lecture=200_000, full=1_000_000)  # Monte Carlo of the flow

# %% [markdown]
# The data: at most `N_TRAIN` images of the training split, the validation split (digits drawn like
# the training digits, on which nothing trains) and the test split; the cell prints how many of each
# were loaded. As in lecture 04, every likelihood is read against the **base rate**, the exact
# log-likelihood of independent pixels, $p(x)=\prod_j\bar x_j^{x_j}(1-\bar x_j)^{1-x_j}$, with
# $\bar x_j$ the training frequency of pixel $j$ smoothed by one pseudo-count for each value.

# %% slideshow={"slide_type": "subslide"}
train_u8, train_labels = data.load_mnist("train")
valid_u8, _ = data.load_mnist("validation")
train_u8, train_labels = train_u8[:N_TRAIN], train_labels[:N_TRAIN]
x_train = data.binarize(train_u8, "stochastic", seed=0).reshape(-1, 784)  # (N, 784) in {0, 1}
x_valid = data.binarize(valid_u8, "stochastic", seed=2).reshape(-1, 784)  # (V, 784)
x_test = data.likelihood_test_set()  # (M, 784): every test digit, binarized once with seed 1
print(f"train {x_train.shape}, validation {x_valid.shape}, test {x_test.shape}")
results.describe(
    dataset="binarized MNIST (stochastic binarization: train seed 0, validation seed 2, test seed 1)",
    n_train=len(x_train),
    n_validation=len(x_valid),
    n_test=len(x_test),
    architecture=f"MADE 784-{HIDDEN}-784 (ReLU, direct connections, one mask); RealNVP, {N_COUPLINGS} couplings",
)
X_TRAIN = torch.from_numpy(x_train).to(DEVICE)
X_VALID = torch.from_numpy(x_valid).to(DEVICE)
X_TEST = torch.from_numpy(x_test).to(DEVICE)

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
    "base-rate (independent-pixel) log-likelihood, nats per image:",
    {k: round(v, 2) for k, v in base_rate.items()},
)
results.record("test_ll_base_rate", base_rate_ll, unit="nats")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The chain rule of probability as a model
#
# Any distribution of $x\in\{0,1\}^D$ factorises, in any order of its variables, as
#
# $$p(x) = p(x_1)\,p(x_2\mid x_1)\cdots p(x_D\mid x_{<D}) = \prod_{i=1}^{D} p(x_i\mid x_{<i}).$$
#
# This is an identity, not an approximation: an **autoregressive model** is a choice of how to
# parameterise the conditionals. For binary pixels, each is a Bernoulli distribution whose logit
# $\ell_i(x_{<i})$ a network computes from the pixels before it, $p(x_i=1\mid x_{<i})=\sigma(\ell_i)$
# with $\sigma(\ell)=1/(1+e^{-\ell})$ the logistic function (so $1-\sigma(\ell)=\sigma(-\ell)$):
#
# $$\log p(x) = \sum_{i=1}^{D}\Big[x_i\log\sigma\big(\ell_i(x_{<i})\big) + (1-x_i)\log\sigma\big(-\ell_i(x_{<i})\big)\Big],$$
#
# minus the binary cross-entropy of $D$ classifiers, one per pixel, each predicting its pixel from
# the earlier ones.
#
# **Normalised by construction.** Sum over $x_D$ first: for every $x_{<D}$,
# $\sum_{x_D}p(x_D\mid x_{<D})=1$, which leaves the product of the first $D-1$ factors; then sum over
# $x_{D-1}$, and so on down to $x_1$. So $\sum_x p(x)=1$ for *any* logits: there is no partition
# function to estimate (the RBM's and the EBM's $Z$) and no latent variable to integrate out (the
# VAE's $z$). The log-likelihood of a test image is one pass of the network, exactly, and training
# is plain maximum likelihood.
#
# **The price is sampling.** Pixel $x_i$ can only be drawn once $x_{<i}$ are known: a sample takes
# $D$ *sequential* steps, 784 for an MNIST digit, however many processors there are. (An RBM's Gibbs
# chain is sequential too, but for an unknown number of steps and never exactly; here the sample is
# exact after exactly $D$ steps.)
#
# A check on a model small enough to enumerate: an untrained MADE (section 2) on $D=4$ binary
# variables, with random weights. Its 16 probabilities sum to 1, and its sampler, which draws
# $x_1$, then $x_2$ given $x_1$, and so on, reproduces them.

# %%
D_TINY = 4
torch.manual_seed(SEED)
tiny = autoregressive.MADE(D_TINY, [6], direct=True, dtype=torch.float64)  # random weights, untrained
states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=D_TINY)), dtype=torch.float64)  # (16, 4)
with torch.no_grad():
    p_states = tiny.log_prob(states).exp()  # (16,)
n_tiny = 200_000
x_tiny = tiny.sample(n_tiny, generator=torch.Generator().manual_seed(SEED))  # (n, 4) exact samples
index = (x_tiny * 2 ** torch.arange(D_TINY - 1, -1, -1, dtype=torch.float64)).sum(1).long()  # state number
freq = torch.bincount(index, minlength=2**D_TINY).double() / n_tiny
z_scores = (freq - p_states) / torch.sqrt(p_states * (1 - p_states) / n_tiny)
print(f"sum over the 16 states: {p_states.sum().item():.15f}")
print("state    p(x)     frequency in", n_tiny, "samples")
for s, p, f in zip(states.long().tolist(), p_states.tolist(), freq.tolist(), strict=True):
    print("".join(map(str, s)), f"  {p:.4f}   {f:.4f}")
assert abs(p_states.sum().item() - 1) < 1e-12, "the chain rule is normalised for any weights"
assert z_scores.abs().max() < 5, (
    f"the sampler should reproduce p(x): largest |z| = {z_scores.abs().max():.1f}"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. MADE: an autoencoder with masks
#
# One network should compute all $D$ logits in one pass, with $\ell_i$ depending on $x_{<i}$ only.
# {cite:t}`germain2015` obtain it from an ordinary autoencoder $x\mapsto h\mapsto\ell$ by removing
# connections. Every unit gets a **degree** $m$:
#
# - input $j$: its position in the ordering, $m(j)\in\{1,\dots,D\}$ (here the natural order:
#   $m(j)=j$, pixel by pixel, row by row);
# - hidden unit $k$: an integer $m(k)\in\{1,\dots,D-1\}$, the largest input position it may see;
# - output $i$ (the logit $\ell_i$): the degree of input $i$, $m(i)$.
#
# The masks keep a weight only where the degrees allow it ($\odot$ is the elementwise product):
#
# $$M^W_{kj} = \mathbb 1\big[m(k)\ge m(j)\big]\ \ \text{(input $j$ to hidden $k$)},\qquad
#   M^V_{ik} = \mathbb 1\big[m(i) > m(k)\big]\ \ \text{(hidden $k$ to output $i$)},$$
#
# and, for direct connections from the inputs to the outputs, $M^A_{ij}=\mathbb 1[m(i)>m(j)]$. The
# one-hidden-layer MADE of this lecture is then
#
# $$h = \mathrm{relu}\big(b + (M^W\odot W)\,x\big),\qquad \ell = c + (M^V\odot V)\,h + (M^A\odot A)\,x .$$
#
# **Why it works.** Hidden unit $k$ sees only inputs with $m(j)\le m(k)$; output $i$ sees only
# hidden units with $m(k)<m(i)$, hence only inputs with $m(j)\le m(k)<m(i)$: strictly earlier
# pixels. With several hidden layers the rule between hidden layers is again $\ge$, so degrees never
# decrease along a path, and only the last step, into the outputs, is strict. The derivative
# $\partial\ell_i/\partial x_j$ is therefore **exactly zero** whenever $m(j)\ge m(i)$: every path from
# $x_j$ to $\ell_i$ crosses a weight multiplied by an exact 0. No hidden unit gets degree $D$ (it
# could feed no output), and the first output, $m(i)=1$, sees nothing: its logit is a learned
# constant, the log-odds of the first pixel.
#
# Below, the degrees and masks of a small MADE ($D=5$ inputs, $H=8$ hidden units, hidden degrees
# cycled through $1,\dots,D-1$) are built in three lines and compared with `lib.autoregressive`'s;
# the product $M^V M^W$ counts the paths from each input to each output, and it is strictly lower
# triangular.

# %% slideshow={"slide_type": "subslide"}
D_SMALL, H_SMALL = 5, 8
m_in = np.arange(1, D_SMALL + 1)  # input degrees: the natural ordering
m_hidden = 1 + np.arange(H_SMALL) % (D_SMALL - 1)  # hidden degrees cycled through 1..D-1
M_W = (m_hidden[:, None] >= m_in[None, :]).astype(np.float32)  # (H, D): hidden k sees input j
M_V = (m_in[:, None] > m_hidden[None, :]).astype(np.float32)  # (D, H): output i sees hidden k
M_A = (m_in[:, None] > m_in[None, :]).astype(np.float32)  # (D, D): direct connections
lib_masks = autoregressive.made_masks(autoregressive.made_degrees(D_SMALL, [H_SMALL]), direct=True)
for ours, theirs in zip([M_W, M_V, M_A], lib_masks, strict=True):
    assert np.array_equal(ours, theirs.numpy()), "the masks built here and lib's should agree"
paths = M_V @ M_W  # (D, D): number of paths from input j to output i through the hidden layer
assert np.all(np.triu(paths) == 0) and np.all(np.triu(M_A) == 0)

fig, axes = plt.subplots(1, 4, figsize=(13, 3.2), gridspec_kw={"width_ratios": [5, 8, 5, 5]})
for ax, (name, mask, rows, cols) in zip(
    axes,
    [
        ("$M^W$ (input → hidden)", M_W, m_hidden, m_in),
        ("$M^V$ (hidden → output)", M_V, m_in, m_hidden),
        ("$M^A$ (input → output)", M_A, m_in, m_in),
        ("paths $M^V M^W$", paths, m_in, m_in),
    ],
    strict=True,
):
    ax.imshow(mask, cmap="Greys", vmin=0)
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_title(name)
axes[0].set_xlabel("input degree")
axes[0].set_ylabel("hidden degree")
axes[1].set_xlabel("hidden degree")
axes[1].set_ylabel("output degree")
plt.tight_layout()
plt.show()

# %% [markdown]
# The MNIST model has $D=784$ and $H=$ `HIDDEN` hidden units. Its forward pass, written out from
# its weights, is the two formulas above; `MADE.logits` of `lib` must give the same numbers. Then
# the autoregressive property, checked on the full $784\times784$ Jacobian of the logits by autograd
# at a test digit: every entry on and above the diagonal must be exactly zero, and the entries below
# it, which the masks allow, should not be (else the check would be empty).


# %% slideshow={"slide_type": "subslide"}
def build_made():
    """A fresh MADE 784-HIDDEN-784 with direct connections, natural ordering, on DEVICE."""
    return autoregressive.MADE(784, [HIDDEN], direct=True).to(DEVICE)


def made_weights(model):
    """The masked weights of a one-hidden-layer MADE: W (H, D), b (H,), V (D, H), c (D,), A (D, D)."""
    first, last, direct = model.net[0], model.net[2], model.direct
    return {
        "W": first.mask * first.weight,
        "b": first.bias,
        "V": last.mask * last.weight,
        "c": last.bias,
        "A": direct.mask * direct.weight,
    }


def made_logits(w, x):
    """The logits ℓ (B, D) of x (B, D): h = relu(b + W x), ℓ = c + V h + A x."""
    h = torch.relu(w["b"] + x @ w["W"].T)  # (B, H)
    return w["c"] + h @ w["V"].T + x @ w["A"].T


def made_log_prob(w, x):
    """The exact log p(x) (B,): the sum over pixels of log σ(±ℓ_i)."""
    logits = made_logits(w, x)
    return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(-1)


# The model before training: the initial weights that the training of section 3 starts from (the
# cache seeds every generator with SEED before it builds the model).
config.seed_everything(SEED)
made_untrained = build_made()
N_PARAMS = autoregressive.n_parameters(made_untrained)
n_dense = sum(p.numel() for p in made_untrained.parameters())
print(f"{N_PARAMS:,} parameters that the masks keep, of {n_dense:,} in the dense layers")
with torch.no_grad():
    w0 = made_weights(made_untrained)
    ours, theirs = made_log_prob(w0, X_TEST[:100]), made_untrained.log_prob(X_TEST[:100])
print(f"log p(x) written out vs lib, largest difference: {(ours - theirs).abs().max().item():.2e} nats")
assert torch.allclose(ours, theirs, atol=1e-3)

jacobian = torch.autograd.functional.jacobian(made_untrained.logits, X_TEST[0], vectorize=True)  # (784, 784)
upper = torch.triu(jacobian)  # on and above the diagonal: d ℓ_i / d x_j with j >= i
allowed = torch.tril(torch.ones_like(jacobian), diagonal=-1).bool()
print(
    f"Jacobian of the logits: largest |entry| on or above the diagonal {upper.abs().max().item():.1e}; "
    f"nonzero entries below it: {(jacobian[allowed] != 0).float().mean().item():.1%}"
)
assert (upper == 0).all(), "output i must not depend on any input j >= i"
assert (jacobian[allowed] != 0).float().mean() > 0.9, "the allowed dependences should be there"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Training MADE, and its exact test log-likelihood
#
# Training minimises $-\frac1B\sum_b\log p(x_b)$ over minibatches with Adam: the summed binary
# cross-entropy of the 784 conditionals. After every epoch we measure the mean log-likelihood on the
# validation digits and on as many training digits, both *exactly*, and subtract the base rate's on
# the same images: a model that over-fits its fixed binary training images gains more over the base
# rate on them than on the validation digits.


# %%
def train_made(model):
    """Adam on the negative log-likelihood; returns the per-epoch log-likelihoods on training and
    validation digits, each minus the base rate's on the same images, and the training time."""
    t0 = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loader = data.to_torch_loader(x_train, batch_size=BATCH_SIZE, shuffle=True, seed=SEED)
    x_seen = X_TRAIN[: len(X_VALID)]  # as many training digits as there are validation digits
    base_seen, base_valid = base_rate_log_likelihood(x_train[: len(x_valid)]), base_rate["validation"]
    history = {"loss": [], "train over base rate": [], "validation over base rate": []}
    bar = tqdm(config.training(range(EPOCHS)), total=EPOCHS, desc=f"MADE 784-{HIDDEN}-784")
    for _epoch in bar:
        for x in config.training(loader):
            loss = -model.log_prob(x.to(DEVICE)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            history["loss"].append(loss.item())
        with torch.no_grad():
            history["train over base rate"].append(model.log_prob(x_seen).mean().item() - base_seen)
            history["validation over base rate"].append(model.log_prob(X_VALID).mean().item() - base_valid)
        bar.set_postfix(train=f"{history['train over base rate'][-1]:.1f}",
                        valid=f"{history['validation over base rate'][-1]:.1f}")  # fmt: skip
    history["seconds"] = time.perf_counter() - t0
    return history


made, made_history = cache.cached_torch("10_made", build=build_made, train=train_made)
made.eval()
train_seconds = made_history["seconds"]  # the original training's wall time, also when loaded from the cache
per_epoch = {k: made_history[k] for k in ("train over base rate", "validation over base rate")}
print(
    f"trained {len(per_epoch['train over base rate'])} epochs ({len(made_history['loss'])} updates) "
    f"in {train_seconds:.0f} s"
)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
axes[0].plot(made_history["loss"], lw=0.6)
axes[0].set(xlabel="update", ylabel="−log p(x), nats", title="training loss (minibatches)")
for k, v in per_epoch.items():
    axes[1].plot(np.arange(1, len(v) + 1), v, marker="o" if len(v) < 30 else None, label=k)
axes[1].set(xlabel="epoch", ylabel="nats", title="log-likelihood minus the base rate's, same images")
axes[1].legend()
for ax in axes:
    ax.grid(alpha=0.3)
plt.tight_layout()
plt.show()
gap = per_epoch["train over base rate"][-1] - per_epoch["validation over base rate"][-1]
print(
    f"after the last epoch, the model gains {gap:.2f} nats more over the base rate on training digits than on validation digits"
)
results.record("train_minus_validation_gain", gap, unit="nats")

# %% [markdown]
# Now the test log-likelihood, exactly, on every test image, with the standard error of the mean
# over the images (the only uncertainty left: the images are a sample of digits).

# %%
with torch.no_grad():
    ll_test_images = made.log_prob(X_TEST).double().cpu().numpy()  # (M,) exact log p(x), nats
    ll_untrained = made_untrained.log_prob(X_TEST).mean().item()
test_ll = float(ll_test_images.mean())
test_se = float(ll_test_images.std(ddof=1) / np.sqrt(len(ll_test_images)))
print(
    f"exact test log-likelihood {test_ll:.2f} ± {test_se:.2f} nats per image (standard error over the "
    f"{len(ll_test_images)} images); base rate {base_rate_ll:.2f}; margin {test_ll - base_rate_ll:.2f}; "
    f"untrained MADE {ll_untrained:.1f}"
)
results.record(
    "test_log_likelihood",
    test_ll,
    unit="nats",
    key="exact test log-likelihood (MADE, one hidden layer, one mask)",
    standard_error=test_se,
    epochs=EPOCHS,
    n_images=len(ll_test_images),
)
results.record("test_ll_over_base_rate", test_ll - base_rate_ll, unit="nats")

# %% tags=["learning-check"]
# MADE's exact test log-likelihood against the base rate's exact one, on the same images.
checks.above(
    "made_over_base_rate",
    test_ll - base_rate_ll,
    config.scaled(smoke=75, lecture=90, full=100),
    "MADE's exact test log-likelihood minus the base rate's, on the common test images, nats",
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Beside the other likelihoods of the course.** Lectures 01, 02, 04 and 05 measure their models on
# the same binary test images and print the same base rate, so this number can be set beside theirs,
# read as margins over the base rate. What each can be wrong by differs:
#
# - **AIS** (lecture 01) estimates $Z$ without bias, so $\log\hat Z$ is biased *low* (Jensen's
#   inequality) and the log-likelihood $-F(x)-\log\hat Z$ ($F$ the RBM's free energy) *high*: too
#   short an annealing schedule makes an RBM look better than it is, and the spread of the
#   importance weights need not reveal it.
#   Lecture 01 doubles the schedule and brackets the estimate from below with RAISE for that reason.
# - **The importance-weighted bound** (lecture 04) is below $\log p_\theta(x)$ in expectation, by an
#   amount that shrinks with the number of samples $k$ and is at most
#   $\mathbb E\,\mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x)\big)$, which the bound itself
#   does not reveal.
# - **MADE's** log-likelihood is exact for every image, up to floating-point round-off. Its only
#   uncertainty is that of any test-set average: the standard error over the images printed above.
#
# So a difference of a few nats between an AIS or IW number and this one may be the estimators'
# error, not the models'; a difference between two models measured exactly is the models'.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Sampling
#
# ### 4.1 The naive sampler: $D$ forward passes
#
# Draw $x_1$ from $\sigma(\ell_1)$, set it, compute the logits again, draw $x_2$, and so on. Pixels
# not drawn yet are set to 0; they cannot change $\ell_i$, which depends on $x_{<i}$ only. With one
# uniform random number $u_i$ per pixel, $x_i=\mathbb 1[u_i<\sigma(\ell_i)]$ is a Bernoulli draw, and
# the same $u$ give the same sample, whichever way the logits are computed. Each step is a full
# forward pass, $O(DH+D^2)$ operations per image, so a sample costs $O(D^2H+D^3)$.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 4.2 The incremental sampler: one forward pass in all
#
# With one hidden layer the pre-activation is a sum over the inputs,
#
# $$a = b + (M^W\odot W)\,x = b + \sum_j \tilde W_{:,j}\,x_j,\qquad \tilde W = M^W\odot W .$$
#
# Before any pixel is drawn $x=0$ and $a=b$. Drawing $x_i$ adds *one column*, $a\leftarrow a+\tilde W_{:,i}\,x_i$:
# a rank-one update of the batch's pre-activations, $O(H)$ per image. The next logit needs only one
# row of the output layer, $\ell_{i+1}=c_{i+1}+\tilde V_{i+1,:}\,\mathrm{relu}(a)+\tilde A_{i+1,:}\,x$
# (with $\tilde V=M^V\odot V$, $\tilde A=M^A\odot A$), another $O(H+D)$. A whole sample costs
# $O(DH+D^2)$: about **one** forward pass instead of $D$. It is
# the same model and the same arithmetic, reordered, so with the same $u$ it draws the same samples
# (up to round-off in the logits, which can flip a pixel only when $u_i$ falls within round-off of
# $\sigma(\ell_i)$). It does *not* shorten the chain of $D$ sequential steps, only the work in each
# (exercise 1 asks what does).
#
# Both samplers, written out:


# %% slideshow={"slide_type": "subslide"}
def sample_naive(w, u):
    """x (n, D) drawn pixel by pixel with a full forward pass each; u (n, D) uniforms decide x."""
    x = torch.zeros_like(u)
    for i in range(u.shape[1]):  # the natural ordering
        logits = made_logits(w, x)  # (n, D), of which only column i is used
        x[:, i] = (u[:, i] < torch.sigmoid(logits[:, i])).to(x.dtype)
    return x


def sample_incremental(w, u):
    """The same samples with one rank-1 update of the hidden pre-activation per pixel."""
    x = torch.zeros_like(u)
    a = w["b"].expand(len(u), -1).clone()  # (n, H): b + W x with x = 0
    for i in range(u.shape[1]):
        logit = torch.relu(a) @ w["V"][i] + w["c"][i] + x @ w["A"][i]  # (n,)
        x[:, i] = (u[:, i] < torch.sigmoid(logit)).to(x.dtype)
        a += x[:, i : i + 1] * w["W"][:, i]  # pixel i joins the pre-activation: a rank-1 term
    return x


# The four samplers (written out here, and lib's) from the same uniforms, in float64 on the CPU, so
# that round-off cannot flip a pixel.
made64 = copy.deepcopy(made).cpu().double()
u_same = torch.rand(N_SAME, 784, generator=torch.Generator().manual_seed(SEED), dtype=torch.float64)
with torch.no_grad():
    w64 = made_weights(made64)
    drawn = {
        "written-out naive": sample_naive(w64, u_same),
        "written-out incremental": sample_incremental(w64, u_same),
        "lib naive": made64.sample(N_SAME, uniforms=u_same),
        "lib incremental": made64.sample_incremental(N_SAME, uniforms=u_same),
    }
for name, x in drawn.items():
    n_diff = int((x != drawn["written-out naive"]).sum())
    print(f"{name:>24}: {n_diff} of {x.numel()} pixels differ from the written-out naive sampler")
    assert n_diff == 0, f"{name} should draw the same samples from the same uniforms"

# %% [markdown]
# What the reordering buys, timed on the trained model (float32, on `DEVICE`): seconds per sample of
# the naive sampler (`N_NAIVE` samples) and of the incremental one (100 samples, the median of five
# runs after a warm-up). The number of sequential steps is the same, 784.


# %% slideshow={"slide_type": "subslide"}
def draw(model, n, generator):
    """n samples of lib's incremental sampler, from uniforms drawn on the CPU (any DEVICE)."""
    return model.sample_incremental(n, uniforms=torch.rand(n, 784, generator=generator))


def seconds(fn, repeats=5):
    """The median wall time of fn() over `repeats` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


gen = torch.Generator().manual_seed(SEED)
with torch.no_grad():
    w32 = made_weights(made)
    u_naive = torch.rand(N_NAIVE, 784, generator=gen).to(DEVICE)
    t0 = time.perf_counter()
    x_naive = sample_naive(w32, u_naive).cpu()  # .cpu() waits until a GPU has finished
    naive_per_sample = (time.perf_counter() - t0) / N_NAIVE
    sampling_seconds_per_100 = seconds(lambda: draw(made, 100, gen).cpu())
incremental_per_sample = sampling_seconds_per_100 / 100
print(
    f"naive: {naive_per_sample * 1e3:.1f} ms per sample ({N_NAIVE} samples); incremental: "
    f"{incremental_per_sample * 1e3:.2f} ms per sample; ratio {naive_per_sample / incremental_per_sample:.0f}"
)
results.record("naive_seconds_per_sample", naive_per_sample, unit="s")
results.record("incremental_seconds_per_100", sampling_seconds_per_100, unit="s")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 4.3 Samples, and how good they are
#
# Below: binary samples of the trained model, drawn with the incremental sampler, and, for each, the
# probabilities $\sigma(\ell_i)$ with which its pixels were drawn, each given the pixels already
# drawn above it and to its left. These are not a "mean image": each is conditioned on one sampled
# past, so it shows where the model was sure and where it hesitated. The samples are scored like
# every model of the course: the Fréchet classifier distance (FCD) of `N_FCD` samples, beside its
# reference points, and beside the base rate's own binary samples, scored the same way.

# %%
with torch.no_grad():
    samples = draw(made, N_FCD, torch.Generator().manual_seed(SEED + 1))  # (N_FCD, 784) in {0, 1}
    sample_probs = torch.sigmoid(made.logits(samples))  # (N, 784): σ(ℓ_i) given the drawn x_<i
samples, sample_probs = samples.cpu().numpy(), sample_probs.cpu().numpy()
fig, axes = plt.subplots(1, 2, figsize=(14, 4))
plotting.image_grid(samples[:60], ncols=10, ax=axes[0], title="MADE samples (binary)")
plotting.image_grid(
    sample_probs[:60], ncols=10, ax=axes[1], title="the probabilities σ(ℓ_i) they were drawn with"
)
plt.tight_layout()
plt.show()

# %% slideshow={"slide_type": "subslide"}
clf = metrics.load_classifier()
rng = np.random.default_rng(SEED)
base_rate_samples = (rng.random((N_FCD, 784)) < pixel_p).astype(np.float32)  # independent pixels
score = metrics.score_samples(samples, pixel_range="unit")
score_base_rate = metrics.score_samples(base_rate_samples, pixel_range="unit")
print(f"classifier test accuracy {clf.test_accuracy:.1%}; FCD of n = {score['n']} images")
print(
    f"FCD: unseen real digits {score['unseen_real']:.2f} | MADE samples (binary) {score['fcd']:.2f} | "
    f"base-rate samples (binary) {score_base_rate['fcd']:.2f} | uniform noise {score['noise']:.2f}"
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
    key="FCD of binary samples",
    **{k: v for k, v in score.items() if k != "fcd"},
)
results.record("fcd_base_rate_samples", score_base_rate["fcd"], unit="", n=score_base_rate["n"])

# %% tags=["learning-check"]
# MADE's binary samples against the base rate's binary samples, scored the same way.
checks.below(
    "fcd_over_base_rate",
    score["fcd"] / score_base_rate["fcd"],
    config.scaled(smoke=0.4, lecture=0.2, full=0.2),
    "FCD of MADE's binary samples divided by that of the base rate's samples",
)

# %% [markdown]
# **Does it copy, and the course comparison.** The memorisation check of lecture 04 measures each
# sample's distance to its nearest training digit, beside the same distance for the validation
# digits (unseen, drawn like the training digits); here it compares like with like, binary samples
# with the *binarized* digits. MADE then enters the course's comparison of its MNIST models
# (`build/comparison.md`) with the score of its binary samples, its parameters that the masks keep,
# its training time (that of the original training when the model came from the cache), the
# incremental sampler's time for 100 samples, and its exact test log-likelihood: the only likelihood
# in the comparison that is exact. Lecture 04's VAE row scores pixel probabilities, smoother images
# than binary ones; lecture 04 also prints the FCD of its binary draws, the like-for-like comparison
# with this row.

# %%
memo = memorisation.memorisation_check(
    samples, x_train, x_valid, pixel_range_samples="unit", pixel_range_reference="unit"
)
print("MADE samples:", memo)
comparison.record_model(
    "MADE",
    score=score,
    n_parameters=N_PARAMS,
    training_seconds=train_seconds,
    sampling_seconds_per_100=sampling_seconds_per_100,
    test_log_likelihood=test_ll,
    likelihood="exact (autoregressive)",
    test_images=x_test,
    base_rate_log_likelihood=base_rate_ll,
    memorisation=memo.summary(),
)
print(
    f"MADE: {N_PARAMS:,} parameters, FCD {score['fcd']:.2f}, trained in {train_seconds:.1f} s, "
    f"{sampling_seconds_per_100 * 1e3:.1f} ms per 100 samples, exact test log-likelihood {test_ll:.2f} nats"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 4.4 Compared with the literature
#
# {cite:t}`germain2015` report, on the full binarized MNIST of {cite:t}`larochelle2011` (50,000
# training digits, a separate validation set, and the standard 10,000 test digits, binarized once
# and stochastically, as here), test negative log-likelihoods of about 88 nats for a one-hidden-layer
# MADE with one mask, and 86.64 nats, their best, for two hidden layers trained with 32 masks;
# {cite:t}`uria2014` report 85.10 for a deep NADE trained order-agnostically and averaged over an
# ensemble of orderings. Our absolute numbers cannot be compared with theirs, and the margin over
# the base rate can be compared only roughly, for three reasons:
#
# - **Other images.** The offline data are a subset of MNIST split anew (the cell at the top prints
#   how many digits of each kind), so our test digits are not theirs, and the base rate's exact
#   log-likelihoods on the three splits (printed at the top) show how much the splits differ for a
#   model of independent pixels. Even with the full MNIST downloaded, our binarization is another
#   random draw of the same digits. Only margins over the base rate, each on its own test set, are
#   roughly comparable.
# - **Fewer training digits.** With the offline data, a few thousand instead of 50,000: the model
#   over-fits its fixed binary training images sooner (section 3 prints how much more it gains over
#   the base rate on training digits than on validation digits), and the number of epochs is chosen
#   short for it.
# - **A smaller, shorter training.** One hidden layer of `HIDDEN` units, a few dozen epochs of Adam
#   and one mask; the command that the authors' released code gives for their best MNIST result
#   trains two hidden layers of 8,000 units. `COURSE_SCALE=full` with the full MNIST trains longer
#   on all the training digits, still with this architecture.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Normalizing flows
#
# ### 5.1 The change of variables
#
# A flow draws a latent $z$ from a simple density, here $p_Z=\mathcal N(0,I_D)$, and maps it through
# an invertible, differentiable map with a differentiable inverse (a **diffeomorphism**) to
# $x=f^{-1}(z)$. In one dimension, with $f$ increasing, the probability of a small interval is the
# same before and after the map, $q(x)\,dx=p_Z(z)\,dz$, so
#
# $$q(x) = p_Z\big(f(x)\big)\,\Big|\frac{df}{dx}\Big|$$
#
# (with the absolute value, the same holds for a decreasing $f$). In $D$ dimensions a small box
# around $x$ is mapped to a parallelepiped whose volume is $|\det\partial f/\partial x|$ times
# larger, and
#
# $$\log q(x) = \log p_Z\big(f(x)\big) + \log\Big|\det\frac{\partial f}{\partial x}\Big| .$$
#
# For a composition $f=f_K\circ\dots\circ f_1$ the Jacobian is the product of the layers' Jacobians
# (the chain rule), and the determinant of a product is the product of the determinants:
#
# $$\log q(x) = \log p_Z(z_K) + \sum_{k=1}^{K}\log\Big|\det\frac{\partial z_k}{\partial z_{k-1}}\Big|,\qquad z_0=x,\ z_k=f_k(z_{k-1}).$$
#
# Like the autoregressive model, $q$ is normalised by construction (it is the density of
# $f^{-1}(z)$), so the log-likelihood is exact and training is maximum likelihood. Unlike it, a
# sample is one pass through the $K$ layers backwards: no sequential steps over the dimensions. The
# price is in the architecture: every layer must be invertible, and its log-determinant cheap (a
# general $D\times D$ determinant costs $O(D^3)$).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 5.2 Affine coupling layers
#
# {cite:t}`dinh2017` split the coordinates with a binary mask $m$ (1: passed through, 0:
# transformed) and let the passed half set a scale and a shift for the other:
#
# $$y = x\odot m + (1-m)\odot\Big(x\odot e^{s(x\odot m)} + t(x\odot m)\Big),$$
#
# with $s$ and $t$ any networks (the *conditioner*). Write $x_a$ for the passed coordinates ($m_i=1$)
# and $x_b$ for the transformed ones ($m_i=0$), so that $s$ and $t$ see only $x_a$, and likewise
# $y_a$, $y_b$. Order the coordinates passed-first: the
# Jacobian is block **lower triangular**,
#
# $$\frac{\partial y}{\partial x} = \begin{pmatrix} I & 0\\ \partial y_b/\partial x_a & \mathrm{diag}\big(e^{s(x_a)}\big)\end{pmatrix},$$
#
# since the passed half $y_a=x_a$ does not depend on $x_b$ and the transformed half depends on $x_b$
# elementwise. Its determinant is the product of the diagonal: $\log|\det| = \sum_i(1-m_i)\,s_i(x_a)$,
# whatever the networks $s$ and $t$ are. The inverse is as cheap, and never inverts a network:
# $x_a=y_a$, then $x_b=(y_b-t(y_a))\odot e^{-s(y_a)}$. Stacking couplings with alternating masks
# transforms every coordinate. `lib.flows` bounds the log-scale, $s=s_{\max}\tanh(\text{raw}/s_{\max})$
# with $s_{\max}=2$, and starts each coupling at the identity (the conditioner's last layer is zero).
#
# The coupling, written out, against `lib.flows.AffineCoupling`; then the whole flow, both ways.


# %% slideshow={"slide_type": "subslide"}
def coupling_forward(layer, x):
    """One affine coupling, x (B, D) -> (y, log|det ∂y/∂x|) of shapes (B, D) and (B,)."""
    m = layer.mask  # (D,): 1 = passed through
    raw, t = layer.net(x * m).chunk(2, dim=-1)  # the conditioner sees only the passed half
    s = (1 - m) * layer.s_max * torch.tanh(raw / layer.s_max)  # bounded log-scale, 0 on the passed half
    return x * m + (1 - m) * (x * torch.exp(s) + t), s.sum(-1)


def coupling_inverse(layer, y):
    """Its inverse, y -> (x, log|det ∂x/∂y|): the passed half is y's, so s and t can be recomputed."""
    m = layer.mask
    raw, t = layer.net(y * m).chunk(2, dim=-1)
    s = (1 - m) * layer.s_max * torch.tanh(raw / layer.s_max)
    return y * m + (1 - m) * (y - t) * torch.exp(-s), -s.sum(-1)


def flow_forward(flow, x):
    """Data -> latent through every coupling, summing the log-determinants."""
    log_det = torch.zeros(len(x), dtype=x.dtype)
    for layer in flow.layers:
        x, ld = coupling_forward(layer, x)
        log_det = log_det + ld
    return x, log_det


def flow_inverse(flow, z):
    """Latent -> data, through the couplings in reverse order."""
    log_det = torch.zeros(len(z), dtype=z.dtype)
    for layer in reversed(flow.layers):
        z, ld = coupling_inverse(layer, z)
        log_det = log_det + ld
    return z, log_det


def build_flow():
    """A RealNVP of N_COUPLINGS affine couplings with alternating masks on 2-D points, float64:
    the identity map at first, so that q = N(0, I)."""
    return flows.make_flow(flows.alternating_masks(2, N_COUPLINGS), hidden=HIDDEN_2D).double()


# A flow that is not the identity, to test on: random conditioners' last layers.
torch.manual_seed(SEED)
flow_random = build_flow()
for layer in flow_random.layers:
    nn.init.normal_(layer.net[-1].weight, std=0.3)
    nn.init.normal_(layer.net[-1].bias, std=0.3)
x_check = (
    torch.rand(10_000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(SEED)) * 2 - 1
) * EXTENT
with torch.no_grad():
    z_ours, ld_ours = flow_forward(flow_random, x_check)
    z_lib, ld_lib = flow_random.forward(x_check)
    x_back, ld_back = flow_inverse(flow_random, z_ours)
print(
    f"written out vs lib: |Δz| ≤ {(z_ours - z_lib).abs().max().item():.1e}, "
    f"|Δ log det| ≤ {(ld_ours - ld_lib).abs().max().item():.1e}"
)
print(
    f"x → z → x on {len(x_check)} points: largest |x − f⁻¹(f(x))| = {(x_back - x_check).abs().max().item():.1e}; "
    f"log-determinants forward + inverse: {(ld_ours + ld_back).abs().max().item():.1e}"
)
assert torch.allclose(z_ours, z_lib, atol=1e-12) and torch.allclose(ld_ours, ld_lib, atol=1e-12)
assert (x_back - x_check).abs().max() < 1e-10, "the inverse should undo the forward map to float64 precision"
assert (ld_ours + ld_back).abs().max() < 1e-10

# %% [markdown]
# The log-determinant that the couplings add up, against the determinant of the full $2\times2$
# Jacobian $\partial z/\partial x$ that autograd computes through all the layers, at 100 points:

# %%
points = x_check[:100]
jac = torch.stack(
    [torch.autograd.functional.jacobian(lambda p: flow_random.forward(p[None])[0][0], p) for p in points]
)  # (100, 2, 2)
log_det_autograd = torch.linalg.slogdet(jac).logabsdet  # (100,)
with torch.no_grad():
    log_det_sum = flow_random.forward(points)[1]
print(
    f"log|det ∂z/∂x|: sum over the couplings vs autograd's full Jacobian, largest difference "
    f"{(log_det_sum - log_det_autograd).abs().max().item():.1e} (values from {log_det_sum.min().item():.2f} "
    f"to {log_det_sum.max().item():.2f})"
)
assert torch.allclose(log_det_sum, log_det_autograd, atol=1e-10)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. A flow on lecture 03's target
#
# The target of lecture 03's learned EBM (and of lecture 08's score model): four Gaussians at
# $(\pm1.5,\pm1.5)$ with standard deviation 0.5 and equal weights, of which we keep only 20,000
# samples. The flow is trained by **maximum likelihood**, $\min_\theta -\frac1B\sum_b\log q_\theta(x_b)$,
# exact at every step: no negative samples, no sampler inside the training loop, which is what
# lecture 03's EBM needed. The learning rate is constant for the first half of training and then
# decays linearly to zero, as in lecture 03. We measure the result exactly as lectures 03 and 08
# do: $\mathrm{KL}(p\,\|\,q_\theta)=\sum_{\text{cells}}p\log(p/q_\theta)$ on the same $100\times100$
# grid over $[-4,4]^2$, with $q_\theta$ normalised over the grid's cells; the reference is the
# untrained flow, the identity map: $q=\mathcal N(0,I)$.

# %% slideshow={"slide_type": "subslide"}
SQUARE_MEANS = np.array([[-1.5, -1.5], [1.5, -1.5], [-1.5, 1.5], [1.5, 1.5]])  # lecture 03's four modes
SQUARE_STD = 0.5
KL_EVERY = 200  # updates between grid KLs in the training curve
square = toy2d.GaussianMixture(SQUARE_MEANS, SQUARE_STD)
x_2d = torch.tensor(square.sample(N_DATA_2D, seed=SEED), dtype=torch.float64)  # (20000, 2)
centres, p_true = toy2d.grid_density(square.energy, EXTENT, N_GRID)


def grid_kl(flow):
    """KL(p ‖ q) on lecture 03's grid, q = exp(log q) normalised over the cells."""
    _, q = toy2d.grid_density(lambda x: -flow.log_prob(x.double()), EXTENT, N_GRID)
    return divergences.kl_divergence(p_true, q)


def train_flow(flow):
    """Maximum likelihood with Adam on minibatches of x_2d; returns the grid KL every KL_EVERY
    updates and the training time."""
    t0 = time.perf_counter()
    opt = torch.optim.Adam(flow.parameters(), lr=LR_2D)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, 2 * (1 - t / ITERS_2D)))
    gen = torch.Generator().manual_seed(SEED)
    history = {"update": [], "KL(p ‖ q)": [], "loss": []}
    for step in tqdm(config.training(range(1, ITERS_2D + 1)), total=ITERS_2D, desc="RealNVP"):
        xb = x_2d[torch.randint(len(x_2d), (BATCH_2D,), generator=gen)]  # (512, 2)
        loss = -flow.log_prob(xb).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        history["loss"].append(loss.item())
        if step % KL_EVERY == 0:
            with torch.no_grad():
                history["update"].append(step)
                history["KL(p ‖ q)"].append(grid_kl(flow))
    history["seconds"] = time.perf_counter() - t0
    return history


config.seed_everything(SEED)
with torch.no_grad():
    kl_init = grid_kl(build_flow())  # the identity map: q = N(0, I)
flow, flow_history = cache.cached_torch("10_realnvp_square", build=build_flow, train=train_flow)
with torch.no_grad():
    kl_flow = grid_kl(flow)
    _, q_grid = toy2d.grid_density(lambda x: -flow.log_prob(x.double()), EXTENT, N_GRID)
kl_uniform = divergences.kl_divergence(p_true, np.full_like(p_true, 1 / p_true.size))
print(
    f"grid KL(p ‖ q): trained flow {kl_flow:.4f} nats after {len(flow_history['loss'])} updates "
    f"({flow_history['seconds']:.0f} s); untrained (N(0, I)) {kl_init:.3f}; uniform on the grid {kl_uniform:.3f}"
)
results.record(
    "flow_grid_kl",
    kl_flow,
    unit="nats",
    key="2-D RealNVP: grid KL(p ‖ q) to the exact 4-mode density",
    untrained=kl_init,
    couplings=N_COUPLINGS,
    updates=len(flow_history["loss"]),
)

# %% tags=["learning-check"]
# The trained flow's grid KL to the exact density (0 for the exact density itself; N(0, I) is printed).
checks.below(
    "flow_grid_kl",
    kl_flow,
    config.scaled(smoke=0.15, lecture=0.05, full=0.03),
    "grid KL(p ‖ q_θ) of the trained RealNVP on lecture 03's four-mode target, nats",
)

# %% [markdown]
# Lecture 03's EBM and lecture 08's score model are measured with this same KL on this same grid
# and target; each notebook runs on its own, so this one does not load their numbers: read the
# values they print beside this one. Their models are normalised *numerically*, on the grid; the
# flow's density is normalised by construction. The check: $\sum_{\text{cells}}q_\theta(x_c)\,\Delta^2$,
# with $\Delta$ the side of a cell, must equal the flow's mass inside $[-4,4]^2$ (up to the error of
# the midpoint rule), which its own exact samples estimate: the fraction of `N_FLOW_SAMPLES` samples
# that fall inside.

# %% slideshow={"slide_type": "subslide"}
cell = 2 * EXTENT / N_GRID
grid_points = torch.tensor(np.stack(np.meshgrid(centres, centres), -1).reshape(-1, 2))  # (N_GRID², 2)
with torch.no_grad():
    integral = float(torch.exp(flow.log_prob(grid_points)).sum()) * cell**2
    x_flow, _ = flow.sample(N_FLOW_SAMPLES, generator=torch.Generator().manual_seed(SEED + 2))
inside = float((x_flow.abs() <= EXTENT).all(1).double().mean())
inside_se = math.sqrt(inside * (1 - inside) / N_FLOW_SAMPLES)
print(
    f"∑ q(x_c) Δ² over the grid: {integral:.5f}; fraction of the flow's samples inside the grid: "
    f"{inside:.5f} ± {inside_se:.5f}"
)
assert abs(integral - inside) < 4 * inside_se + 5e-3, "the flow's density should integrate to its mass"
results.record("flow_grid_integral", integral, mass_inside_by_sampling=inside)

fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
ext = [-EXTENT, EXTENT, -EXTENT, EXTENT]
axes[0].imshow(p_true, origin="lower", extent=ext)
axes[0].set_title("exact density")
axes[1].imshow(q_grid, origin="lower", extent=ext)
axes[1].set_title(f"flow density, KL = {kl_flow:.3f}")
axes[2].scatter(*x_flow[:3000].numpy().T, s=1, alpha=0.5)
axes[2].set(
    xlim=(-EXTENT, EXTENT), ylim=(-EXTENT, EXTENT), aspect="equal", title="flow samples (one pass each)"
)
axes[3].plot(flow_history["update"], flow_history["KL(p ‖ q)"])
axes[3].axhline(kl_init, color="grey", ls=":", label="untrained: N(0, I)")
axes[3].axvline(ITERS_2D / 2, color="grey", ls="--", label="learning rate starts to decay")
axes[3].set(xlabel="update", ylabel="grid KL(p ‖ q)", yscale="log", title="training")
axes[3].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. What a flow cannot do: thin bridges between modes
#
# A flow's density is $q(x)=p_Z(f(x))\,|\det\partial f/\partial x|$ with $p_Z>0$ everywhere and $f$ a
# diffeomorphism, so $q>0$ everywhere: it can make the density between two modes small, never zero.
# How small costs something. In one dimension the exact flow from $\mathcal N(0,1)$ to $p$ is the
# increasing map $x=T(z)=F_p^{-1}(\Phi(z))$ ($F_p$ and $\Phi$ the cumulative distributions of $p$ and
# of $\mathcal N(0,1)$, $\varphi=\Phi'$ the Gaussian density). Differentiating $F_p(T(z))=\Phi(z)$ gives
# $p(T(z))\,T'(z)=\varphi(z)$, so its slope is $T'(z)=\varphi(z)/p(T(z))$.
# Where $p$ is small between two modes and $z$ is near the middle of the Gaussian, the slope is huge:
# for two equal modes at $\pm a$ of width $\sigma$ (here $\sigma$ is a standard deviation) it is
# $\sigma\,e^{a^2/2\sigma^2}$ at the midpoint (exercise 4), exponential in the squared separation.
# In two dimensions the picture is topological:
# split the data plane into the four regions nearest to each mode; their images under $f$ split the
# latent plane into four regions too, which must share borders (the plane is connected), and the
# latent points near those borders are sent near the borders of the data regions, between the modes.
# The mass on the bridges is the Gaussian mass of a strip along the latent borders: small only if
# the strip is thin, that is, if $f^{-1}$ stretches a thin strip across the whole gap.
#
# Three views of the trained flow, with the **gap** defined as the points inside the square whose
# corners are the four centres and farther than $3\sigma$ from each of them. (1) Latent space: flow
# samples $z\sim\mathcal N(0,I)$, coloured by the mode nearest their image $x=f^{-1}(z)$, with the
# points whose image lies in the gap in black. (2)
# The log-density along the line $y=-1.5$ through two modes, and along the diagonal through the
# centre, exact and learned, and the flow's log-density over the whole grid. (3) The mass of the gap, under the exact density and under the flow,
# from exact samples of each; and where the flow's density comes from, $\log p_Z(f(x))$ and
# $\log|\det|$, at a mode's centre, between two modes and at the centre.

# %% slideshow={"slide_type": "subslide"}
GAP = 3 * SQUARE_STD  # the gap: inside the square of the four centres, farther than 3σ from each


def nearest_mode_and_gap(x):
    """The nearest centre of each point (N,) and whether the point is in the gap (N,)."""
    x = np.asarray(x)
    d = np.sqrt(((x[:, None, :] - SQUARE_MEANS[None]) ** 2).sum(-1))  # (N, 4)
    inside = (np.abs(x) < np.abs(SQUARE_MEANS).max()).all(1)
    return d.argmin(1), (d.min(1) > GAP) & inside


with torch.no_grad():
    z_latent = flow.base.sample(20_000, generator=torch.Generator().manual_seed(SEED + 3))  # (20000, 2)
    x_latent, _ = flow.inverse(z_latent)
mode, in_gap = nearest_mode_and_gap(x_latent.numpy())
gap_mass_flow = float(nearest_mode_and_gap(x_flow.numpy())[1].mean())
x_exact = square.sample(N_FLOW_SAMPLES, seed=SEED + 4)
gap_mass_exact = float(nearest_mode_and_gap(x_exact)[1].mean())
gap_se = math.sqrt(gap_mass_exact * (1 - gap_mass_exact) / N_FLOW_SAMPLES)
print(
    f"mass in the gap between the modes: exact {gap_mass_exact:.4f} ± {gap_se:.4f}, "
    f"trained flow {gap_mass_flow:.4f} (both from {N_FLOW_SAMPLES} samples)"
)
results.record("gap_mass_flow", gap_mass_flow, exact=gap_mass_exact)

probe = {
    "mode centre (1.5, 1.5)": [1.5, 1.5],
    "between two modes (0, 1.5)": [0.0, 1.5],
    "centre (0, 0)": [0.0, 0.0],
}
with torch.no_grad():
    pts = torch.tensor(list(probe.values()), dtype=torch.float64)
    z_pts, ld_pts = flow.forward(pts)
    log_pz = flow.base.log_prob(z_pts)
    log_p_exact = square.log_prob(pts)
print(f"{'':28s} {'log p_Z(f(x))':>14s} {'log|det|':>9s} {'log q':>7s} {'exact log p':>12s}")
for name, a, b, c in zip(probe, log_pz.tolist(), ld_pts.tolist(), log_p_exact.tolist(), strict=True):
    print(f"{name:28s} {a:14.2f} {b:9.2f} {a + b:7.2f} {c:12.2f}")

line = np.linspace(-EXTENT, EXTENT, 401)
cuts = {
    "y = −1.5 (through two modes)": np.stack([line, np.full_like(line, -1.5)], 1),
    "y = x (through the centre)": np.stack([line, line], 1),
}
fig, axes = plt.subplots(1, 4, figsize=(19, 4.2))
colours = np.array(["C0", "C1", "C2", "C3"])
axes[0].scatter(*z_latent[~in_gap].numpy().T, s=1, c=colours[mode[~in_gap]], alpha=0.4)
axes[0].scatter(*z_latent[in_gap].numpy().T, s=2, c="k", label="image in the gap")
axes[0].set(
    xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal", title="latent z, coloured by the mode of f⁻¹(z)"
)
axes[0].legend(loc="upper right", fontsize=8)
with torch.no_grad():
    log_q_map = flow.log_prob(grid_points).numpy().reshape(N_GRID, N_GRID)  # [iy, ix]
image = axes[1].imshow(np.maximum(log_q_map, -12), origin="lower", extent=ext, cmap="magma")
axes[1].contour(centres, centres, np.log(p_true / cell**2), levels=[-8, -5, -3], colors="w", linewidths=0.7)
axes[1].set_title("log q of the flow (exact log p: white contours at −8, −5, −3)", fontsize=9)
fig.colorbar(image, ax=axes[1], fraction=0.046)
for ax, (name, pts_cut) in zip(axes[2:], cuts.items(), strict=True):
    with torch.no_grad():
        t = torch.tensor(pts_cut)
        ax.plot(line, square.log_prob(t).numpy(), "k", lw=2, label="exact")
        ax.plot(line, flow.log_prob(t).numpy(), "C3", label="trained flow")
        ax.plot(line, flow.base.log_prob(t).numpy(), "C7", ls=":", label="untrained flow, N(0, I)")
    ax.set(xlabel="x (the first coordinate)", ylabel="log-density", ylim=(-14, 0), title=name)
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Read the three views with the argument above. In the latent plane, the argument predicts that the
# black points, the samples whose images land in the gap, lie on the borders between the coloured
# regions, where they meet, and not only in the tails of the Gaussian: check it on your figure.
# On the map of $\log q$, the bridges are the ridges of
# density that cross the valleys between the white contours of the exact density. In the cuts, compare the
# depth of the valleys: the exact log-density falls by several nats between neighbouring modes and
# by more at the centre, and wherever the flow's valley is shallower, it has put mass on a bridge;
# the printed gap masses say how much in all. A point between the modes can get a low density in
# two ways, $\log q=\log p_Z(f(x))+\log|\det\partial f/\partial x|$: by being sent into the
# Gaussian's tail, or by having its neighbourhood contracted, a negative $\log|\det|$. The table
# shows how your flow shares the two terms at a mode's centre, between two modes and at the centre.
# A border that crosses the bulk of the Gaussian leaves only the second way: the steepness of
# exercise 4. Each coupling can rescale a coordinate by at most $e^{s_{\max}}=e^2$, and the shifts $t$
# change only as fast as the conditioners' small networks allow, so a flow of limited depth, with
# weights of limited size, has a limited steepness. Modes farther apart or narrower need steeper maps still (exercise 7 tries
# lecture 03's ring of eight).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# - An autoregressive model is the chain rule of probability with a network for each conditional:
#   normalised for any weights, with an exact log-likelihood in one pass. MADE computes all the
#   conditionals in one pass of a masked autoencoder, the masks built from degrees so that output $i$
#   depends only on inputs before it: autograd finds the forbidden derivatives exactly zero.
# - Its exact test log-likelihood is measured on the course's common test images, beside the base
#   rate; it is the one likelihood of the comparison that neither errs high (AIS) nor low (the ELBO
#   and the IW bound).
# - Sampling takes $D$ sequential steps. For one hidden layer, a rank-one update of the hidden
#   pre-activation per pixel brings the work down to one forward pass, with the same samples for the
#   same random numbers; the depth stays $D$.
# - A normalizing flow gets its exact likelihood from the change of variables. Affine couplings
#   make the Jacobian triangular, its log-determinant a sum of the log-scales and the inverse
#   explicit: both were checked to float64 precision. A sample is one pass.
# - Trained by maximum likelihood on lecture 03's target, a small RealNVP is measured with lecture
#   03's grid KL. What it cannot do is leave the space between modes empty: a diffeomorphism of a
#   Gaussian joins them with bridges, thin only where the map is steep.

# %%
results.record("wall_time", time.time() - T_START, unit="s")
print(f"notebook ran in {time.time() - T_START:.0f} s at scale {SCALE}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# The first four are **checked**: fill in the cell marked `...`, run it, then run the `check` line
# below it, which measures your answer against an independent reference (the sampling rounds
# simulated, all the states of a small model enumerated, autograd's Jacobian, the exact transport
# map inverted numerically) and says what disagrees. They need nothing trained. The others are open,
# and some of them retrain a model of the lecture: write your answer, then compare it with the model
# answer. In the book each solution is folded: try first.

# %%
from lib.exercises import check

# %% [raw]
# # BEGIN QUESTION
# name: ex10_1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: How many sequential passes does a sample need?
#
# A sampler that runs the network once per *round* can draw, in one round, every pixel whose
# logit depends only on pixels drawn in earlier rounds. For the MADEs of this lecture that is one
# pixel per round: $D$ rounds. But in a MADE without direct connections whose hidden units skip
# some degrees, several pixels can be drawn together (they are then independent given the earlier
# ones). Write `sequential_passes(model)` for
# a `lib.autoregressive.MADE` (any number of hidden layers, with or without direct connections):
# the least number of rounds that sample it exactly. (Hint: the product of the masks, through the
# layers `model.net[k]` that have a `.mask`, plus `model.direct.mask` when `model.direct` is not
# `None`, tells which outputs depend on which inputs; a pixel's round is one more than the latest
# round among the pixels it depends on.) Why does the incremental sampler of section 4.2 not change
# this number, and what would?


# %% tags=["hide-input"]
def sequential_passes(model: autoregressive.MADE) -> int:
    """The least number of rounds of network evaluations that draw an exact sample of `model`."""
    # BEGIN SOLUTION
    reach = None  # (D, D): reach[i, j] > 0 iff output i depends on input j
    for layer in model.net:
        if isinstance(layer, autoregressive.MaskedLinear):
            mask = layer.mask.double().cpu().numpy()
            reach = mask if reach is None else mask @ reach
    if model.direct is not None:
        reach = reach + model.direct.mask.double().cpu().numpy()
    depends = reach > 0
    rounds = np.zeros(model.n_in, dtype=int)
    for i in model.order.tolist():  # the ordering: every pixel's dependences come before it
        rounds[i] = 1 + (rounds[depends[i]].max() if depends[i].any() else 0)
    # The incremental sampler does less work per round, not fewer rounds. Fewer rounds need pixels
    # that may be drawn together: hidden degrees that skip values (a MADE with pixels in blocks), at
    # the price of a model in which the pixels of a block are independent given the earlier ones
    return int(rounds.max())
    # END SOLUTION


# %%
check("10.1", sequential_passes)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex10_2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: An ensemble of orderings
#
# MADE can be trained with a new ordering (or new hidden degrees) at each update, and then used as
# $K$ models $p_1,\dots,p_K$ that share their weights {cite:p}`germain2015,uria2014`. Their
# ensemble is the mixture $p(x)=\frac1K\sum_k p_k(x)$. Write `ensemble_log_prob(log_probs)` that
# takes an array of shape `(K, N)`, the exact $\log p_k(x_n)$ of $N$ images under each of the $K$
# models, and returns the `(N,)` log-probabilities of the mixture. It must work for
# log-probabilities around $-1000$ nats, where `exp` returns 0. Why is the mean of the $K$
# log-probabilities not the log-probability of any distribution? And why is a model that averages the
# $K$ models' *logits* not autoregressive, hence not normalised?


# %% tags=["hide-input"]
def ensemble_log_prob(log_probs: np.ndarray) -> np.ndarray:
    """log (1/K) Σ_k p_k(x_n), shape (N,), from log p_k(x_n) of shape (K, N)."""
    # BEGIN SOLUTION
    # The mean of the logs is log of the geometric mean, (Π_k p_k)^(1/K) ≤ (1/K) Σ_k p_k, which sums
    # to less than 1 over x unless all p_k are equal: no distribution. Averaged logits: logit i of
    # ordering k depends on the pixels before i in ordering k, so the average depends on every pixel
    # that comes before i in *some* ordering; when j precedes i in one ordering and i precedes j in
    # another, logit i depends on x_j and logit j on x_i, a cycle, and no ordering makes the product a
    # chain rule
    lp = np.asarray(log_probs, dtype=np.float64)
    top = lp.max(0)  # (N,): the largest term becomes exp(0) = 1, so the sum cannot underflow
    return top + np.log(np.exp(lp - top).mean(0))
    # END SOLUTION


# %%
check("10.2", ensemble_log_prob)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex10_3

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: The log-determinant of an affine coupling, by hand
#
# Write `coupling(x, mask, s_net, t_net)` for a batch `x` of shape `(B, D)` (a float64 tensor), a
# 0/1 `mask` of shape `(D,)` (1: passed through) and two functions `s_net`, `t_net` that map a
# `(B, D)` tensor to a `(B, D)` tensor: return `(y, log_det)`, the affine coupling of section 5.2,
# $y=x\odot m+(1-m)\odot\big(x\odot e^{s(x\odot m)}+t(x\odot m)\big)$, and $\log|\det\partial y/\partial x|$
# of shape `(B,)`. The networks' outputs on the passed coordinates are not used: make sure they do
# not enter `log_det`. Without the triangular structure, what would the log-determinant of a
# $D$-dimensional layer cost?


# %% tags=["hide-input"]
def coupling(x: torch.Tensor, mask: torch.Tensor, s_net, t_net) -> tuple[torch.Tensor, torch.Tensor]:
    """The affine coupling y of x (B, D) and log|det ∂y/∂x| (B,)."""
    # BEGIN SOLUTION
    # A general D × D determinant costs O(D³) (an LU decomposition) for every sample; here it is the
    # product of the diagonal, O(D)
    x_a = x * mask
    s, t = (1 - mask) * s_net(x_a), (1 - mask) * t_net(x_a)  # only the transformed half's scale counts
    return x_a + (1 - mask) * (x * torch.exp(s) + t), s.sum(-1)
    # END SOLUTION


# %%
check("10.3", coupling)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex10_4

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: How steep must a flow be?
#
# Take the one-dimensional mixture $p(x)=\frac12\mathcal N(x;-a,\sigma^2)+\frac12\mathcal N(x;a,\sigma^2)$
# and the increasing map $T(z)=F_p^{-1}(\Phi(z))$ that carries $\mathcal N(0,1)$ to it exactly
# ($F_p$ the cumulative distribution of $p$, $\Phi$ that of the Gaussian). Differentiate
# $F_p(T(z))=\Phi(z)$, use the symmetry to find $T(0)$, and code `gap_slope(a, sigma)`, the slope
# $T'(0)$ at the middle of the gap. Evaluate it for the modes of section 6 ($a=1.5$, $\sigma=0.5$)
# and for two neighbours on lecture 03's ring of eight modes (radius 2.5, $\sigma=0.25$:
# $a=2.5\sin(\pi/8)$). What does it say about a flow whose every layer has a bounded slope?


# %% tags=["hide-input"]
def gap_slope(a: float, sigma: float) -> float:
    """T'(0) for the exact increasing map from N(0, 1) to ½N(−a, σ²) + ½N(a, σ²)."""
    # BEGIN SOLUTION
    # p(T(z)) T'(z) = φ(z); T(0) = 0 by symmetry, and p(0) = N(0; a, σ²) (the two halves are equal):
    # T'(0) = φ(0) / p(0) = (1/√(2π)) / (e^{−a²/2σ²} / (σ√(2π))) = σ e^{a²/2σ²}: about 45 for section
    # 6's modes, about 380 for the ring's neighbours. A composition of layers whose slopes are at most
    # L has slope at most L^K: K layers must satisfy K log L ≥ a²/2σ² + log σ, growing with the
    # squared separation in units of the width
    return float(sigma * np.exp(a**2 / (2 * sigma**2)))
    # END SOLUTION


# %%
check("10.4", gap_slope)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex10_5
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5: Order-agnostic training
#
# Train the MADE of section 3 with a new random ordering for every minibatch, as {cite:t}`uria2014`
# train NADE and {cite:t}`germain2015` MADE: build the masks of each ordering with
# `autoregressive.made_masks(autoregressive.made_degrees(784, [HIDDEN], ordering=perm), direct=True)`
# and load them into the layers with `set_mask` before each update (the same weights, new masks).
# Evaluate the test log-likelihood of a few orderings one by one, and of their ensemble with your
# `ensemble_log_prob` of exercise 2. How do they compare with the single-ordering model of section 3
# at the same number of updates?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# One network now has to model the data in every ordering at once, with the same number of updates
# and parameters: expect each single ordering to score below the model trained in the natural
# ordering only, and the natural ordering, which that model had all to itself, to be no better than
# the others. The ensemble beats the *average* of its members by construction,
# $\log\frac1K\sum_kp_k(x)\ge\frac1K\sum_k\log p_k(x)$ (Jensen), by more where the orderings
# disagree, though not necessarily its best member. Whether it beats the
# single-ordering model is an empirical question that depends on the budget and on $K$; with few
# training digits, the random orderings also act as a regulariser, since no ordering can over-fit
# alone, and the gap between training and validation digits should shrink. Each member costs a
# forward pass, so the ensemble's likelihood costs $K$; sampling still uses one ordering at a time (a
# mixture is sampled by drawing $k$, then sampling $p_k$).
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex10_6
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6: One forward pass for a deeper MADE?
#
# The incremental sampler of section 4.2 keeps one running pre-activation. With two hidden layers,
# drawing $x_i$ changes the first layer's pre-activation by a rank-one term, but the second layer sees
# $\mathrm{relu}$ of it: the update is no longer rank one. Is one forward pass per sample still
# possible? (Hint: when is the value of a hidden unit of degree $m$ final?)

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Yes. A unit of degree $m$, in any layer, depends only on inputs of degree $\le m$ (section 2). So
# once $x_1,\dots,x_m$ are drawn its value is final: compute it then, once, layer by layer (the units
# of degree $m$ of the second layer need only first-layer units of degree $\le m$, all final by then),
# and never again. Each unit is computed exactly once, from its inputs, which is the work of one
# forward pass, spread over the $D$ steps; the logit of pixel $m+1$ needs only units of degree $\le m$.
# This is the key–value cache of an autoregressive transformer: what depends only on the past is
# computed once and kept. With one hidden layer the running pre-activation of section 4.2 is the same
# idea in another order: each unit's sum is accumulated as its inputs arrive instead of computed when
# it is complete. Either way the number of sequential steps stays $D$ (exercise 1).
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex10_7
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7: A flow on the ring of eight modes
#
# Train the flow of section 6 on lecture 03's mixture of eight Gaussians on a circle of radius 2.5
# with standard deviation 0.25 and unequal weights (`toy2d.GaussianMixture(toy2d.ring_means(8, 2.5),
# 0.25, weights=np.arange(1, 9) / 36)`), with the same budget, and with twice the couplings. Compare
# the grid KL, the mass in the gaps, and each mode's mass with its weight. Use exercise 4 to explain
# what you see.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Neighbouring modes are $2\cdot2.5\sin(\pi/8)\approx1.9$ apart, so $a\approx0.96$ and $a/\sigma\approx3.8$,
# against $a/\sigma=3$ for section 6's target: exercise 4 gives a slope at the gap about
# $e^{(3.8^2-3^2)/2}\cdot\frac{0.25}{0.5}\approx 8$ times larger. Expect a larger grid KL at the same
# budget, more mass in the gaps than the exact density has, visible as bright arcs joining the modes
# on a log scale, and a fit that improves with more couplings but slowly. Maximum likelihood is
# mass-covering (it minimises $\mathrm{KL}(p\,\|\,q)$, lecture 04), so no mode should be missing;
# the weights themselves are learned directly, since every training point pulls the density up
# where it lies, unlike lecture 03's EBM, whose chains shared the modes out by basin. Expect the
# small modes' masses to be the least accurate, in relative terms, with the fewest training points.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex10_8
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 8: Training a flow without data
#
# A flow can also be trained from the target's energy alone, by minimising the *reverse* KL
# $\mathrm{KL}(q_\theta\,\|\,p)=\mathbb E_{x\sim q_\theta}[\log q_\theta(x)+E(x)]+\log Z$: draw
# `x, log_q = flow.sample(512)` (both are differentiable in the parameters) and minimise
# `(log_q + square.energy(x)).mean()`. This is how neural samplers of Boltzmann distributions are
# trained {cite:p}`wu2019,albergo2019`, where no samples exist: the subject of the next lecture.
# Train it on section 6's target from the untrained flow and
# compare the result with the maximum-likelihood flow. What does the loss converge to, and what
# happens to the modes?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# The loss is $\mathrm{KL}(q_\theta\,\|\,p)-\log Z$, and the target's energy is $-\log p$ (`toy2d`'s
# mixtures have $Z=1$), so the loss *is* the reverse KL, non-negative and zero only at $q_\theta=p$:
# its final value is the reverse KL that training leaves. The reverse KL is mode-seeking (lecture
# 04): it punishes mass where $p$
# is small and barely punishes missing a mode, and its gradient only sees where $q_\theta$ already
# puts samples. Starting from $\mathcal N(0,I)$, which overlaps all four modes, expect the flow to find
# them all, with weights less accurate than maximum likelihood's and thinner bridges: the reverse KL
# punishes mass between the modes directly. From a start that misses a mode, or with modes farther
# apart, expect it to miss that mode for good, with a loss that looks converged. Samplers of
# Boltzmann distributions trained this way face the same risk, for instance with the two ordered
# phases of an Ising model below its critical temperature.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex10_9
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9: Why not a flow on binary MNIST?
#
# Flows model densities of continuous variables. What happens to the maximum-likelihood training of a
# flow on the binary images of section 3? {cite:t}`theis2016` add uniform noise $u\in[0,1)^D$ to
# discrete data ("dequantization") and train on $x+u$: show that $\mathbb E_u\log q(x+u)$ is a lower
# bound on the log-probability of $x$ under the discrete model $P(x)=\int_{[0,1)^D}q(x+u)\,du$, so
# that the numbers can be compared with MADE's.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# A density can be made arbitrarily large on a finite set of points: a flow that squeezes its mass
# onto the $2^{784}$ corners of the cube, or onto the training images, drives $\log q$ at the data to
# $+\infty$. The likelihood of continuous densities on discrete data has no maximum, and the
# numbers would mean nothing. With uniform dequantization, $P(x)=\int_{[0,1)^D}q(x+u)\,du$ is a
# probability distribution on the discrete images (the unit cubes at the images tile space, so the
# $P(x)$ sum to at most 1), and by Jensen's inequality
# $\log P(x)=\log\mathbb E_u\,q(x+u)\ge\mathbb E_u\log q(x+u)$. So the dequantized log-likelihood,
# estimated with a few draws of $u$, is a lower bound on a discrete model's log-probability, in nats,
# comparable (as a bound) with MADE's exact number. It is a bound, not exact: the gap is the KL between
# the uniform noise and the flow's density within each cube, which better dequantizations shrink.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
