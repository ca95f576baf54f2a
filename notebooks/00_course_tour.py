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
# # 00 — Course tour: deep generative models for the physical sciences
#
# A *generative model* learns a probability distribution $p_\theta(x)$ from samples
# $x^{(1)},\dots,x^{(N)} \sim p_{\text{data}}$ and can then **draw new samples**, **score**
# how likely an input is, or both. Physicists have met the idea before: the Boltzmann
# distribution $p(s) = e^{-E(s)/T}/Z$ of statistical mechanics is one, with a known energy. In this
# course the energy (or the sampler) is *learned* from data.
#
# This first notebook shows what the course covers, how to run it, where the data come from,
# and the yardsticks every later lecture is measured with. It runs in seconds.
#
# **What you will learn here**
# - the order of the lectures and what each one measures;
# - how to run every notebook at the three scales (`smoke`, `lecture`, `full`);
# - how the shared package `lib` finds MNIST and Fashion-MNIST, on- or offline;
# - what binarized MNIST looks like, and what the Fréchet classifier distance says about
#   real digits versus noise.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up
# Every notebook starts with the same cell: imports, `config.setup` (which reads the scale,
# seeds every random generator and names the notebook for the results table), and the device.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from lib import config, data, metrics, plotting, rbm, results

SCALE = config.setup("00_course_tour", seed=0)
DEVICE = config.torch_device()

N_SHOW = 40  # digits drawn per grid

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The lectures
#
# | # | notebook | model | framework | measured by |
# |---|---|---|---|---|
# | 01 | `01_rbm_pytorch` | restricted Boltzmann machine (CD-k, PCD) | PyTorch | exact and AIS test log-likelihood (nats); against scikit-learn's `BernoulliRBM` |
# | 02 | `02_rbm_keras` | the same RBM | TensorFlow / Keras 3 | the same likelihoods, reaching the PyTorch number |
# | 03 | `03_ebm_langevin` | energy-based model + Langevin / MALA sampling | PyTorch | exact 2-D densities (KL, MMD); Fréchet classifier distance on MNIST |
# | 04 | `04_vae_pytorch` | variational autoencoder | PyTorch | ELBO and importance-weighted log-likelihood; Fréchet distance |
# | 05 | `05_vae_keras` | convolutional VAE | Keras 3 | the same |
# | 06 | `06_dcgan_tensorflow` | DCGAN (and a toy GAN that collapses) | TensorFlow | Fréchet distance per epoch; mode coverage |
# | 07 | `07_ising_generative` | RBM and VAE learning the 2D Ising model | PyTorch + NumPy | exact KL on a 4×4 lattice; observables against Monte Carlo |
#
# The order is the teaching order: the RBM is the simplest energy-based model with a tractable
# conditional structure; lecture 03 generalises its gradient to any neural energy; the VAE and the
# GAN then trade the energy for a decoder; lecture 07 applies all of them to physics.
#
# Every model is **measured**, not only drawn. A sample grid can look good while the model
# misses half the distribution; a number on held-out data cannot hide that.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three scales, one code path
#
# Each notebook picks its sizes with one line per hyper-parameter, e.g.
# `N_EPOCHS = config.scaled(smoke=1, lecture=10, full=100)`, from the environment variable
# `COURSE_SCALE`:
#
# | scale | what for | time per notebook |
# |---|---|---|
# | `smoke` | CI: checks that everything runs and the results are sane | seconds |
# | `lecture` (default) | results good enough to discuss | a few minutes on a laptop CPU |
# | `full` | paper-level numbers | long; a GPU recommended |
#
# A fourth value, `untrained`, is the course's *negative control*: the `smoke` sizes, but every
# training loop stops after its first update. Each lecture's `learning-check` cells (asserts on
# what training achieved) must then fail; a check that an untrained model passes checks nothing.
#
# From the repository root: `make test` (unit tests, then every notebook at `smoke` under nbval),
# `make lab` (JupyterLab), `make run` (every notebook at `lecture` into `build/`, with HTML and a
# results table), or `COURSE_SCALE=full make run`.

# %%
print(f"this run: COURSE_SCALE={SCALE}; samples are scored {metrics.sample_count()} at a time")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Where the data come from
#
# `data.load_mnist(split, kind=...)` looks, in order, in the `data_dir` argument, the folder named
# by `COURSE_DATA_DIR`, the repository's `data/` cache and (Fashion-MNIST only) Debian's
# `/usr/share/datasets/fashion-mnist/`. If nothing is there it downloads the official files from
# public mirrors, checks their SHA-256 and only then moves them into `data/`. Offline machines
# (like CI) point `COURSE_DATA_DIR` at a folder of IDX files; the course's CI uses a real MNIST
# subset of 8,000 training and 2,000 test images, so its numbers differ from the literature's
# 60,000/10,000 — each lecture says how.

# %%
for kind in ("digits", "fashion"):
    print(kind, "searched in:", *[str(d) for d in data.search_dirs(kind)], sep="\n  ")

t0 = time.perf_counter()
train_x, train_y = data.load_mnist("train")  # (N, 28, 28) uint8, (N,) uint8
test_x, test_y = data.load_mnist("test")
print(f"MNIST: {len(train_x)} train, {len(test_x)} test images, loaded in {time.perf_counter() - t0:.2f} s")

# %%
assert train_x.dtype == np.uint8 and train_x.shape[1:] == (28, 28)
assert train_y.shape == (len(train_x),) and set(np.unique(train_y)) == set(range(10))
assert len(test_x) == len(test_y) and test_x.shape[1:] == (28, 28)
results.describe(dataset="MNIST", n_train=len(train_x), n_test=len(test_x))

# %% slideshow={"slide_type": "subslide"}
order = np.argsort(train_y[:400], kind="stable")[:: 400 // N_SHOW][:N_SHOW]
plotting.image_grid(train_x[order], ncols=10, title="MNIST training digits, sorted by label")

# %% [markdown]
# Fashion-MNIST {cite:p}`xiao2017` has the same format with ten kinds of clothing; a
# few lectures offer it as a harder second dataset. The cell below only *looks* for it
# (`allow_download=False`), so it shows nothing on a machine that lacks it. To get it, either install
# Debian's package (`sudo apt-get install dataset-fashion-mnist`, which puts the files in
# `/usr/share/datasets/fashion-mnist/`), or, with internet access, call
# `data.load_mnist("test", kind="fashion", allow_download=True)` once: it downloads the official files,
# checks their SHA-256 and caches them in `data/fashion-mnist/`.

# %% slideshow={"slide_type": "subslide"}
try:
    fashion_x, fashion_y = data.load_mnist("test", kind="fashion", allow_download=False)
except data.DatasetUnavailable as err:
    fashion_x = None
    print("Fashion-MNIST is not installed here:", str(err).splitlines()[0])
else:
    idx = np.argsort(fashion_y[:400], kind="stable")[:: 400 // N_SHOW][:N_SHOW]
    plotting.image_grid(fashion_x[idx], ncols=10, title="Fashion-MNIST test images, sorted by label")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Binarized MNIST
#
# The RBM and VAE lectures model each pixel as a Bernoulli variable $v_i\in\{0,1\}$, so the
# intensities $x_i\in[0,1]$ are binarized. Two conventions exist: a fixed threshold
# $v_i = \mathbb{1}[x_i > \tfrac12]$, and *stochastic* binarization $v_i \sim
# \operatorname{Bernoulli}(x_i)$ {cite:p}`salakhutdinov2008`. The course uses one fixed stochastic
# binarization (seed 0 for the training set, 1 for the test set) so that likelihoods in nats are
# comparable across lectures — and with the literature, which mostly uses the same convention.
#
# The simplest model of binary images treats pixels as independent:
# $p(v) = \prod_i \mu_i^{v_i}(1-\mu_i)^{1-v_i}$ with $\mu_i$ the training mean of pixel $i$. Its
# test log-likelihood is the *base rate* every later model has to beat by a wide margin.

# %% slideshow={"slide_type": "subslide"}
train_bin = data.binarize(train_x, "stochastic", seed=0)  # (N, 28, 28) float32 0/1
test_bin = data.binarize(test_x, "stochastic", seed=1)
fig, axes = plt.subplots(1, 3, figsize=(12, 2.8))
plotting.image_grid(data.to_float(test_x[:10]), ncols=5, ax=axes[0], title="grey levels")
plotting.image_grid(data.binarize(test_x[:10]), ncols=5, ax=axes[1], title="threshold 1/2")
plotting.image_grid(test_bin[:10], ncols=5, ax=axes[2], title="stochastic")

# log μ_i/(1-μ_i) for each pixel, smoothed so that a pixel never on in training stays finite
logits = rbm.base_rate_bias(train_bin)  # (784,)
base_rate_ll = rbm.base_rate_log_likelihood(test_bin, logits)  # mean over test images
base_rate_train_ll = rbm.base_rate_log_likelihood(train_bin, logits)
mu = train_bin.reshape(len(train_bin), -1).mean(0).astype(np.float64)  # (784,) pixel frequencies
pixel_entropy = -np.sum(mu * np.log(np.where(mu > 0, mu, 1)) + (1 - mu) * np.log(np.where(mu < 1, 1 - mu, 1)))
print(f"independent-pixel (base-rate) model: test log-likelihood {base_rate_ll:.1f} nats per image")
print(
    f"  on its own training images {base_rate_train_ll:.1f} nats; minus the pixel entropies {-pixel_entropy:.1f}"
)
print(f"  784 fair coins: 784·log ½ = {784 * np.log(0.5):.1f} nats")
results.record(
    "base_rate_test_log_likelihood", base_rate_ll, unit="nats", key="base-rate (independent-pixel) test LL"
)
results.record("base_rate_train_log_likelihood", base_rate_train_ll, unit="nats")

# %% [markdown]
# Two exact facts check these numbers. The maximum-likelihood independent-pixel model scores its
# own training images at exactly minus the sum of the 784 binary entropies
# $H(\mu_i) = -\mu_i\log\mu_i - (1-\mu_i)\log(1-\mu_i)$ (the pseudocount smoothing moves that
# by far less than 0.1 nat). And a model of 784 parameters fitted to thousands of images barely
# overfits, so its test log-likelihood stays within 20 nats of the training one (asserted below),
# unless the test images are binarized differently or come from another distribution. Some gap
# remains on the offline subset: its 2,000 test digits are the last ones of MNIST's official test
# set, which {cite:t}`lecun_mnist` describe as harder than the first 5,000 (taken from NIST's
# test rather than training set), while its training digits are the first 8,000.

# %%
# Exact, up to the pseudocount (measured difference 0.02 nats on the 8,000 offline training digits).
assert abs(base_rate_train_ll + pixel_entropy) < 0.1, (base_rate_train_ll, pixel_entropy)
# The data and their binarization are fixed (no seed enters): on the offline 8,000/2,000 subset the
# test value is 11.5 nats below the training value; a threshold-binarized test set, or the wrong
# images, would move it by tens of nats.
assert abs(base_rate_ll - base_rate_train_ll) < 20.0, (base_rate_ll, base_rate_train_ll)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The yardstick for samples: a Fréchet distance
#
# Likelihoods are exact or estimable for RBMs and VAEs but not for GANs, so samples are also scored
# the way the FID {cite:p}`heusel2017` does: embed images with a classifier, fit a Gaussian to each
# set of embeddings, and compute the Fréchet distance between the two Gaussians,
# $$d^2 = \lVert\mu_a-\mu_b\rVert^2 + \operatorname{tr}\!\left(\Sigma_a+\Sigma_b-2\,(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2})^{1/2}\right).$$
# Instead of Inception-v3 (trained on photographs) we use a small CNN trained on MNIST once and
# cached in `data/classifier/`. We call the result the *Fréchet classifier distance* (FCD); it is
# **not** comparable with published FIDs. Two reference points make it readable: held-out real
# digits (the floor a perfect model would reach) and uniform noise (the ceiling).
#
# Every lecture scores its samples with one function, `metrics.score_samples`: the same number of
# samples at a given scale (`metrics.sample_count()`: the FCD of n samples is biased upwards by
# roughly a constant over n, so only scores at the same n compare), against the same fixed set of
# real training digits, returned beside the floor and the ceiling, with the classifier's label
# distribution, its Jensen–Shannon divergence from the real one, and the digits that receive at
# least 2 % of the samples. Two models scored at one scale are therefore directly comparable, and
# the last lecture puts them all in one table. Here we score real held-out digits, which must land
# at the floor.

# %%
classifier = metrics.load_classifier()
print(f"classifier test accuracy {classifier.test_accuracy:.2%}")
real_score = metrics.score_samples(test_x, "uint8")  # draws sample_count() of the test digits
print(
    f"n = {real_score['n']}: real held-out digits score {real_score['fcd']:.1f}; "
    f"floor {real_score['unseen_real']:.1f}, ceiling (uniform noise) {real_score['noise']:.1f}; "
    f"{real_score['digits_covered']} digits covered, label JSD {real_score['label_jsd']:.4f} nats"
)
print("classifier's label distribution on those digits:", np.round(real_score["label_distribution"], 3))

# %%
# The cached CNN scores 97.05 % on the 2,000 offline test digits (a loading or preprocessing bug
# drops it towards chance, 10 %). Real digits drawn from the test split scored 0.8–1.3 × the floor
# over several draws (tests/test_metrics.py), and the floor is 0.013–0.022 of the ceiling for
# 300–1,000 images: an FCD far from the floor, or a floor near the ceiling, means a broken scorer.
assert classifier.test_accuracy > 0.95, classifier.test_accuracy
assert 0.5 * real_score["unseen_real"] < real_score["fcd"] < 1.6 * real_score["unseen_real"], real_score
assert real_score["unseen_real"] < 0.05 * real_score["noise"], real_score
assert real_score["digits_covered"] == 10, real_score
results.record("classifier_test_accuracy", classifier.test_accuracy)
results.record("score_real_test_digits", real_score["fcd"], unit="FCD", score=real_score)
results.record(
    "fcd_floor_real_test_images",
    real_score["unseen_real"],
    n=real_score["n"],
    key="FCD floor (held-out digits)",
)
results.record(
    "fcd_ceiling_uniform_noise", real_score["noise"], n=real_score["n"], key="FCD ceiling (uniform noise)"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The device
# Lectures on PyTorch use `config.torch_device()`; everything in the course runs on a CPU at the
# `smoke` and `lecture` scales.

# %%
x = torch.randn(256, 256, device=DEVICE)
t0 = time.perf_counter()
for _ in range(20):
    x = torch.tanh(x @ x.T / 16)
print(f"20 matrix products of 256×256 on {DEVICE}: {1e3 * (time.perf_counter() - t0):.1f} ms")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
# You have seen the lectures' order and what each one measures, how to run them at each scale,
# where the data come from, the base-rate log-likelihood that likelihood models must beat, and
# the Fréchet classifier distance's floor and ceiling that sample-based scores are read against.
#
# ## Exercises
# 1. Compute the base-rate log-likelihood with the *threshold* binarization instead. Why is it
#    higher, and why does that make likelihoods under different binarizations incomparable?
# 2. Compute the FCD between the training digits of one class (say, all 1s) and the whole test
#    set. Where does it fall between the floor and the ceiling? What does that say about what the
#    FCD detects (mode collapse) that a per-image quality score would not?
# 3. Run this notebook with `COURSE_SCALE=bogus`. Read the error message: what does it ask you to do?
