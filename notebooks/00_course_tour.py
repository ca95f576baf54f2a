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
# and the yardsticks every later lecture is measured with. The first time it runs on a machine it
# may download MNIST, and it trains the small classifier behind the Fréchet distance; both are
# kept under `data/`, so later runs skip these steps.
#
# **What you will learn here**
# - the lectures and their order;
# - how to run every notebook at its three sizes (`smoke`, `lecture`, `full`) and as the negative
#   control (`untrained`), from a shell or from JupyterLab;
# - how trained models are cached between runs;
# - how the shared package `lib` finds MNIST and Fashion-MNIST, on- or offline, and how it splits
#   MNIST into training, validation and test digits;
# - what binarized MNIST looks like, and how many nats of its likelihood are coin flips;
# - what the Fréchet classifier distance says about unseen real digits, copied digits and noise.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up
# Every notebook starts with the same cell: imports, `config.setup` (which reads the scale,
# seeds every random generator and names the notebook for the results table), and the device.

# %%
import re
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from lib import config, data, divergences, metrics, plotting, rbm, results

SCALE = config.setup("00_course_tour", seed=0)
SEED = config.seed()  # 0, or COURSE_SEED when set: every random draw below starts from it
DEVICE = config.torch_device()

N_SHOW = 40  # digits drawn per grid

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The lectures
#
# The table is read from the notebooks themselves (each one's title, and the frameworks it
# imports), so it lists every lecture in `notebooks/`.


# %%
FRAMEWORKS = {"PyTorch": r"^(import|from) torch\b", "TensorFlow / Keras": r"config\.import_tensorflow\(\)"}


def lecture_table(folder):
    """A Markdown table of the lectures in ``folder``: number, title, notebook and framework(s),
    read from each ``NN_name.py`` (its first ``# `` heading and its imports)."""
    rows = ["| # | lecture | notebook | framework |", "|---|---|---|---|"]
    for path in sorted(folder.glob("[0-9][0-9]_*.py")):
        source = path.read_text(encoding="utf-8")
        title = re.search(r"^# # (.+)$", source, re.MULTILINE).group(1)
        number, name = re.fullmatch(r"(\d\d)\s*[—·:.-]\s*(.+)", title.strip()).groups()
        used = [fw for fw, pattern in FRAMEWORKS.items() if re.search(pattern, source, re.MULTILINE)]
        rows.append(f"| {number} | {name} | `{path.stem}` | {', '.join(used) or 'NumPy'} |")
    return "\n".join(rows)


display(Markdown(lecture_table(config.REPO_ROOT / "notebooks")))

# %% [markdown]
# The order is the teaching order. The restricted Boltzmann machine (01, 02) is the simplest
# energy-based model with a tractable conditional structure, and small ones have an exactly
# computable likelihood; lecture 03 generalises its gradient to any neural energy; the
# variational autoencoder (04, 05) and the generative adversarial network (06) trade the energy
# for a decoder. The lectures after them turn these tools to physics and to newer models.
#
# Every model is **measured**, not only drawn. A grid of samples can look good while the model
# misses half of the distribution, which a score on held-out data reveals. No single number tells
# the whole story, though: a model can have a high likelihood and poor samples, or good samples
# and a poor likelihood {cite:p}`theis2016`, and a sample score can be fooled by a model that copies its training images
# (the Fréchet distance below shows by how much). So the lectures report likelihoods where they
# can be computed or estimated, sample scores, and checks for copying.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three sizes and a negative control, one code path
#
# Each notebook picks its sizes with one line per hyper-parameter, e.g.
# `N_EPOCHS = config.scaled(smoke=1, lecture=10, full=100)`, from the environment variable
# `COURSE_SCALE`:
#
# | scale | what for | time per notebook |
# |---|---|---|
# | `smoke` | the tests: everything runs and the results are sane | seconds to about a minute |
# | `lecture` (default) | results good enough to discuss | minutes to tens of minutes on a laptop CPU |
# | `full` | sizes closer to the papers' (needs the full MNIST) | long; a GPU recommended |
#
# A fourth value, `untrained`, is the course's *negative control*: the `smoke` sizes, but every
# training loop stops after its first update. Each lecture's `learning-check` cells (checks of
# what training achieved, against a reference computed in the notebook) must then fail; a check
# that an untrained model passes checks nothing.
#
# From the repository root: `make test` (every notebook at `smoke` under nbval, then the negative
# control, then the unit tests of `lib`), `make lab` (JupyterLab), `make run` (every notebook at
# `lecture` into `build/`, with HTML pages, a table of every recorded result, `build/results.md`,
# and the comparison of the course's MNIST models, `build/comparison.md`), or
# `COURSE_SCALE=full make run`. `COURSE_SEED=1` reruns a notebook with another seed.
#
# **In JupyterLab** a notebook reads these variables as it runs, from its set-up cell on. To change one,
# restart the kernel, run `%env COURSE_SCALE=smoke` (or `%env COURSE_SEED=1`) in a new cell above
# the set-up cell, and run the notebook from the top; or start JupyterLab with the variable set,
# `COURSE_SCALE=smoke make lab`.

# %%
print(f"this run: COURSE_SCALE={SCALE}, seed {SEED}; samples are scored {metrics.sample_count()} at a time")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Trained models are cached
#
# Training takes from seconds to many minutes, and rerunning a lecture should not retrain what
# has not changed. So every lecture caches its trained models, and long computations such as an
# AIS estimate or a Monte Carlo reference run, under `build/cache/`, with one line each:
#
# ```python
# model, history = cache.cached_torch("rbm_cd1", build=untrained_rbm, train=train_cd1)
# ```
#
# `build()` makes the untrained model and `train(model)` trains it in place and returns its
# history (`cache.cached_keras` does the same for Keras models; `cache.cached_arrays` and
# `cache.cached_json` for arrays and numbers). The entry's key is found from the code: the
# functions and classes that `build` and `train` use (in the notebook and in `lib`), the numbers
# and arrays they read (the hyper-parameters, the training data), the seed, the scale, and the
# versions of Python, NumPy and the framework. A rerun with the same key loads the entry and says
# so in one line (`cache: loaded …`, with the key and how long the original training took); change
# any of those inputs and the model is retrained. Every random generator is re-seeded from the key
# afterwards, so what the notebook draws next is the same whether the model was trained or loaded.
#
# `COURSE_CACHE=off` trains without reading or writing the cache, `COURSE_CACHE=refresh` retrains
# and replaces the entries, and the negative control (`untrained`) never touches the cache. Delete
# `build/cache/` to start afresh. The lectures do not explain the cache again: a `cache: …` line
# under a training cell is this.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Where the data come from
#
# `data.load_mnist(split, kind=...)` looks, in order, in the `data_dir` argument, the folder named
# by `COURSE_DATA_DIR`, the repository's `data/` cache and (Fashion-MNIST only) Debian's
# `/usr/share/datasets/fashion-mnist/`. If nothing is there it downloads the official files from
# public mirrors, checks their SHA-256 and only then moves them into `data/`. Machines without
# internet point `COURSE_DATA_DIR` at a folder of IDX files.
#
# MNIST comes as a training file and a test file; `lib` makes three splits of them:
#
# - `"train"`: the training file without its validation part; every model trains on these digits;
# - `"validation"`: a fixed random sixth of the training file, on which neither the classifier
#   behind the Fréchet distance nor any model of the course trains. Drawn at random from the same
#   file, these digits are a sample of the same distribution as the training digits, so
#   over-fitting is measured as training against validation;
# - `"test"`: the official test file, on which every test log-likelihood is measured. Its digits
#   need not be drawn like the training digits: MNIST's documentation {cite:p}`lecun_mnist` says
#   that the first 5,000 digits of its test file are cleaner and easier than the last 5,000.
#
# The cell below prints which files were found. When they are a subset rather than the official
# files, the subset is what the numbers describe; the course's offline fixture, for one, is MNIST's
# official *test* file cut in two: its first 8,000 digits as a training file and its last 2,000 as
# a test file, so its test digits all come from the harder half.

# %%
for kind in ("digits", "fashion"):
    print(kind, "searched in:", *[str(d) for d in data.search_dirs(kind)], sep="\n  ")

t0 = time.perf_counter()
train_x, train_y = data.load_mnist("train")  # (N, 28, 28) uint8, (N,) uint8
valid_x, valid_y = data.load_mnist("validation")
test_x, test_y = data.load_mnist("test")
load_seconds = time.perf_counter() - t0
found = next(d for d in data.search_dirs("digits") if any(d.glob("train-images-idx3-ubyte*")))
n_file = len(train_x) + len(valid_x)  # the training file: 60,000 images in the official MNIST
official = n_file == 60_000 and len(test_x) == 10_000
print(f"\nMNIST read from {found} in {load_seconds:.2f} s:", "the official files" if official else "a subset")
print(f"  training file {n_file} = {len(train_x)} train + {len(valid_x)} validation; test file {len(test_x)}")

# %%
assert train_x.dtype == np.uint8 and train_x.shape[1:] == (28, 28)
assert train_y.shape == (len(train_x),) and set(np.unique(train_y)) == set(range(10))
assert valid_x.shape[1:] == (28, 28) and len(test_x) == len(test_y) and test_x.shape[1:] == (28, 28)
results.describe(dataset="MNIST", n_train=len(train_x), n_validation=len(valid_x), n_test=len(test_x))

# %% slideshow={"slide_type": "subslide"}
order = np.argsort(train_y[:400], kind="stable")[:: 400 // N_SHOW][:N_SHOW]
plotting.image_grid(train_x[order], ncols=10, title="MNIST training digits, sorted by label")
plt.show()

# %% [markdown]
# Fashion-MNIST {cite:p}`xiao2017` has the same format with ten kinds of clothing; a
# few lectures offer it as a harder second dataset. The cell below only *looks* for it
# (`allow_download=False`), so it shows nothing on a machine that lacks it. To get it, either install
# Debian's package (`sudo apt-get install dataset-fashion-mnist`, which puts the files in
# `/usr/share/datasets/fashion-mnist/`), or, with internet access, call
# `data.load_mnist("train", kind="fashion")` and `data.load_mnist("test", kind="fashion")` once:
# each downloads the two official files of its split (images and labels), checks their SHA-256 and
# caches them in `data/fashion-mnist/`.

# %% slideshow={"slide_type": "subslide"}
try:
    fashion_x, fashion_y = data.load_mnist("test", kind="fashion", allow_download=False)
except data.DatasetUnavailable as err:
    fashion_x = None
    print("Fashion-MNIST is not installed here:", str(err).splitlines()[0])
else:
    idx = np.argsort(fashion_y[:400], kind="stable")[:: 400 // N_SHOW][:N_SHOW]
    plotting.image_grid(fashion_x[idx], ncols=10, title="Fashion-MNIST test images, sorted by label")
    plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Binarized MNIST
#
# The RBM and VAE lectures model each pixel as a Bernoulli variable $v_i\in\{0,1\}$, so the
# intensities $x_i\in[0,1]$ are binarized. Two conventions exist: a fixed threshold
# $v_i = \mathbb{1}[x_i > \tfrac12]$, and *stochastic* binarization $v_i \sim
# \operatorname{Bernoulli}(x_i)$ {cite:p}`salakhutdinov2008`. The course draws one fixed stochastic
# binarization: seed 0 for the training digits, seed 1 for the test digits
# (`data.likelihood_test_set()`, every test digit: the images on which every test log-likelihood of
# the course is measured) and seed 2 for the validation digits. So the lectures' likelihoods in nats
# compare with each other exactly.
# With published numbers they compare only roughly: papers use a fixed stochastic binarization
# {cite:p}`salakhutdinov2008`, the fixed binarized MNIST that {cite:t}`larochelle2011`
# published, or a fresh binarization of the training digits at every epoch ("dynamic" binarization,
# as in {cite:t}`burda2016`), on their own training and test sets.
#
# The simplest model of binary images treats pixels as independent:
# $p(v) = \prod_i \mu_i^{v_i}(1-\mu_i)^{1-v_i}$ with $\mu_i = (\sum_n v^{(n)}_i + 1)/(N + 2)$, the
# frequency of pixel $i$ among the $N$ training images, smoothed by one pseudo-count of "on" and
# one of "off" (Laplace's rule), so that a pixel never on in training keeps a finite
# log-probability. Its test log-likelihood is the *base rate* every later model has to beat by a
# wide margin.


# %% slideshow={"slide_type": "subslide"}
def binary_entropy(p):
    """H_b(p) = -p log p - (1-p) log(1-p) in nats, elementwise (0 at p = 0 and 1)."""
    p = np.asarray(p, dtype=np.float64)
    return -(p * np.log(np.where(p > 0, p, 1)) + (1 - p) * np.log(np.where(p < 1, 1 - p, 1)))


train_bin = data.binarize(train_x, "stochastic", seed=0).reshape(len(train_x), -1)  # (N, 784) 0/1
valid_bin = data.binarize(valid_x, "stochastic", seed=2).reshape(len(valid_x), -1)
test_bin = data.likelihood_test_set()  # (N_test, 784): the test digits, binarized with seed 1
fig, axes = plt.subplots(1, 3, figsize=(12, 2.8))
plotting.image_grid(data.to_float(test_x[:10]), ncols=5, ax=axes[0], title="grey levels")
plotting.image_grid(data.binarize(test_x[:10]), ncols=5, ax=axes[1], title="threshold 1/2")
plotting.image_grid(test_bin[:10], ncols=5, ax=axes[2], title="stochastic")
plt.show()

logits = rbm.base_rate_bias(train_bin)  # (784,) log μ_i/(1-μ_i)
base_rate_ll = rbm.base_rate_log_likelihood(test_bin, logits)  # mean over the test images
base_rate_train_ll = rbm.base_rate_log_likelihood(train_bin, logits)
base_rate_valid_per_image = valid_bin @ logits - np.logaddexp(0, logits).sum()  # (N_valid,) nats
base_rate_valid_ll = base_rate_valid_per_image.mean()
valid_standard_error = base_rate_valid_per_image.std(ddof=1) / np.sqrt(len(valid_bin))
pixel_entropy = binary_entropy(train_bin.mean(0)).sum()  # Σ_i H_b(q̂_i), q̂_i: training frequencies
print("independent-pixel (base-rate) model, mean log-likelihood per image:")
print(f"  training digits   {base_rate_train_ll:8.2f} nats (minus the pixel entropies: {-pixel_entropy:.2f})")
print(f"  validation digits {base_rate_valid_ll:8.2f} ± {valid_standard_error:.2f} nats (standard error)")
print(f"  test digits       {base_rate_ll:8.2f} nats")
print(f"  784 fair coins: 784·log ½ = {784 * np.log(0.5):.2f} nats")
results.record(
    "base_rate_test_log_likelihood", base_rate_ll, unit="nats", key="base-rate (independent-pixel) test LL"
)
results.record("base_rate_train_log_likelihood", base_rate_train_ll, unit="nats")
results.record("base_rate_validation_log_likelihood", base_rate_valid_ll, unit="nats")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Two checks of these numbers. First, an exact fact: the maximum-likelihood independent-pixel
# model scores its own training images at exactly minus the sum of the 784 binary entropies
# $H_b(\hat q_i) = -\hat q_i\log\hat q_i - (1-\hat q_i)\log(1-\hat q_i)$ of the unsmoothed
# frequencies $\hat q_i = \frac1N\sum_n v^{(n)}_i$; the pseudo-counts of $\mu_i$ move that by at
# most about $1/N$ nat per pixel, and far less for most pixels (asserted: less than 0.1 nat in
# all). Second, a model of 784 frequencies fitted to thousands of images barely over-fits, and the
# validation digits are drawn like the training digits, so their base rate agrees with the
# training one within its sampling noise (asserted: within four standard errors). This would catch
# validation images unlike the training images, such as images of another dataset, or the same
# digits transposed (printed below). It does not catch another binarization convention, as the
# next section shows.
#
# The test digits are another matter. The difference between test and validation says how far
# the test digits are from the training distribution, as far as this model can tell: a large
# difference means that they are not drawn like the training digits, as with a subset such as the
# offline fixture, whose test digits all come from the harder half of MNIST's test file. This is
# why the lectures measure over-fitting as training against validation, and use the test digits to
# compare models with each other.

# %%
assert abs(base_rate_train_ll + pixel_entropy) < 0.1, (base_rate_train_ll, pixel_entropy)
assert abs(base_rate_valid_ll - base_rate_train_ll) < 4 * valid_standard_error, (
    base_rate_valid_ll,
    base_rate_train_ll,
    valid_standard_error,
)
transposed = valid_bin.reshape(-1, 28, 28).transpose(0, 2, 1).reshape(len(valid_bin), -1)
print(f"validation - training: {base_rate_valid_ll - base_rate_train_ll:+.2f} nats")
print(f"test - validation:     {base_rate_ll - base_rate_valid_ll:+.2f} nats")
print(
    f"transposed validation digits - training: "
    f"{rbm.base_rate_log_likelihood(transposed, logits) - base_rate_train_ll:+.2f} nats"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### How many of those nats are coin flips
#
# Stochastic binarization adds noise that no model can learn. Given a grey image $x$, its
# binarized pixels are independent coin flips, $v_i \sim \operatorname{Bernoulli}(x_i)$, with
# entropy $H(V \mid X{=}x) = \sum_i H_b(x_i)$. The binarized images follow the mixture
# $p(v) = \mathbb{E}_x \prod_i \operatorname{Bernoulli}(v_i; x_i)$, whose entropy is at least the
# conditional one: $H(V) \ge H(V\mid X) = \mathbb{E}_x \sum_i H_b(x_i)$. No model $q$ beats the
# true distribution on average (Gibbs' inequality, $\mathbb{E}_p[\log q] \le \mathbb{E}_p[\log p] =
# -H(V)$), so every model's expected log-likelihood of a stochastically binarized test image is at
# most $-\mathbb{E}_x \sum_i H_b(x_i)$.
#
# The independent-pixel model sees only each pixel's frequency. Its expected log-likelihood,
# $\sum_i [q_i \log\mu_i + (1-q_i)\log(1-\mu_i)]$, is linear in the frequencies $q_i$ of the images
# it scores. Under stochastic binarization $q_i$ is the mean intensity of pixel $i$; under the
# threshold, the fraction of digits with $x_i > \tfrac12$; for MNIST's nearly black-and-white
# strokes the two are close. So the base rate barely depends on the convention, as the cell below
# shows, which is also why the train/validation check above cannot tell the conventions apart. A
# model that captures the digits' shapes is different: on threshold-binarized images it no longer
# pays for the coin flips, and its log-likelihood can be higher by an amount of their order. That
# is why likelihoods under different binarizations are not comparable.

# %%
grey = data.to_float(test_x).reshape(len(test_x), -1)  # (N_test, 784) intensities x_i in [0, 1]
coin_flip_entropy = binary_entropy(grey).sum(1).mean()  # E_x Σ_i H_b(x_i), nats per image
logits_threshold = rbm.base_rate_bias(data.binarize(train_x).reshape(len(train_x), -1))
base_rate_threshold_ll = rbm.base_rate_log_likelihood(
    data.binarize(test_x).reshape(len(test_x), -1), logits_threshold
)
print(f"coin-flip entropy of the binarized test digits: {coin_flip_entropy:.2f} nats per image")
print(f"  so no model's expected test log-likelihood exceeds {-coin_flip_entropy:.2f} nats")
print(f"base rate, stochastic binarization: {base_rate_ll:.2f} nats")
print(f"base rate, threshold 1/2 (trained and tested so): {base_rate_threshold_ll:.2f} nats")
results.record("coin_flip_entropy_test", coin_flip_entropy, unit="nats")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The yardstick for samples: a Fréchet distance
#
# Likelihoods are exact or estimable for RBMs and VAEs but not for GANs, so samples are also scored
# the way the FID {cite:p}`heusel2017` does: embed images with a classifier, fit a Gaussian to each
# set of embeddings, and compute the squared Fréchet (2-Wasserstein) distance between the two
# Gaussians,
# $$d^2 = \lVert\mu_a-\mu_b\rVert^2 + \operatorname{tr}\!\left(\Sigma_a+\Sigma_b-2\,(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2})^{1/2}\right).$$
# The number reported is $d^2$ itself (as for the FID, no square root is taken). The last term is
# often written $\operatorname{tr}(\Sigma_a\Sigma_b)^{1/2}$, as in lecture 03: the two traces are
# equal, since $\Sigma_a\Sigma_b = \Sigma_a^{1/2}(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2})\Sigma_a^{-1/2}$
# is similar to the symmetric form (for an invertible $\Sigma_a$; by continuity otherwise), so both
# have the same non-negative eigenvalues, and their square roots the same trace.
#
# Instead of Inception-v3 (trained on photographs) the embedding is the 128 activations of the
# penultimate layer of a small CNN trained on the `"train"` MNIST digits once and cached in
# `data/classifier/`. We call the result the *Fréchet classifier distance* (FCD); it is **not**
# comparable with published FIDs.
#
# Every lecture scores its samples with one function, `metrics.score_samples`: the same number of
# samples at a given scale (`metrics.sample_count()`), against the same fixed set of that many real
# training digits, with the classifier's label distribution, its Jensen–Shannon divergence from the
# training labels, and the digits that receive at least 2 % of the samples. Two reference points
# come with every score:
#
# - `unseen_real`: as many validation digits, which neither the classifier nor any model saw.
#   It is a reference point, not a floor: the reference set consists of training digits, on which
#   the classifier also learned its features, so a model that reproduces its training images, or
#   copies them, scores *below* it;
# - `noise`: as many images of uniform noise. It is not a ceiling either: degenerate image sets
#   can score above it.
#
# Two models scored at one scale are therefore directly comparable. Below we score three kinds of
# real digits: another draw of validation digits (the same distribution as `unseen_real`), test
# digits, and training digits (what a model that copies its training set would return), the last
# both as a plain draw and as a draw that avoids the reference images themselves; and, as a
# degenerate set, all-black images. The cell also counts how many digits each draw shares with the
# two fixed draws behind the reference points (made with seed 0 inside `score_samples`).

# %% slideshow={"slide_type": "subslide"}
classifier = metrics.load_classifier()  # prints its accuracy on the test digits
n_score = metrics.sample_count()
reference_rng = np.random.default_rng(0)  # the draws of score_samples: its reference set, then unseen_real's
reference_idx = reference_rng.choice(len(train_x), n_score, replace=False)
unseen_idx = reference_rng.choice(len(valid_x), n_score, replace=False)
rng = np.random.default_rng(SEED)
valid_idx = rng.choice(len(valid_x), n_score, replace=False)
test_idx = rng.choice(len(test_x), n_score, replace=False)
train_idx = rng.choice(len(train_x), n_score, replace=False)
outside_idx = rng.choice(np.setdiff1d(np.arange(len(train_x)), reference_idx), n_score, replace=False)
scores = {
    "validation digits": metrics.score_samples(valid_x[valid_idx], "uint8"),
    "test digits": metrics.score_samples(test_x[test_idx], "uint8"),
    "training digits": metrics.score_samples(train_x[train_idx], "uint8"),
    "training, not reference": metrics.score_samples(train_x[outside_idx], "uint8"),
    "all-black images": metrics.score_samples(np.zeros((n_score, 28, 28), np.float32)),
}
reference = scores["validation digits"]
print(
    f"n = {n_score}: reference points unseen_real {reference['unseen_real']:.2f}, "
    f"noise {reference['noise']:.1f}"
)
for which, score in scores.items():
    print(
        f"  {which:23s} FCD {score['fcd']:7.2f} = {score['fcd'] / score['unseen_real']:6.2f} × unseen_real "
        f"= {score['fcd'] / score['noise']:.3f} × noise; {score['digits_covered']} digits covered"
    )
shared_valid = int(np.isin(valid_idx, unseen_idx).sum())
shared_train = int(np.isin(train_idx, reference_idx).sum())
print(f"the validation draw shares {shared_valid} of its {n_score} digits with unseen_real's draw")
print(f"the training draw holds {shared_train} of the {n_score} reference images themselves")

# %% [markdown]
# Checks of the scorer. A loading or preprocessing bug drops the classifier's accuracy towards
# chance (10 %). Rescoring `unseen_real`'s own validation digits must return it exactly (this checks
# that the draws counted above are the scorer's). Another draw of validation digits comes from the
# same distribution as `unseen_real`, and shares the printed number of digits with it (the more,
# the larger `sample_count()` is next to the validation split), so it must score near it; real
# digits must sit far below noise; and the all-black images must score above noise, which is
# therefore no ceiling. The other sets are not asserted: the test digits score above `unseen_real`
# when they come from another distribution (as with the offline fixture); the plain draw of
# training digits should score below it (compare the lines printed above), and part of that is
# literal identity, since the draw holds some of the reference images themselves (printed): the
# draw that avoids them shows how much remains without it, the part that comes from the classifier
# having learned its features on training digits.

# %% slideshow={"slide_type": "subslide"}
assert classifier.test_accuracy > 0.95, classifier.test_accuracy
unseen_rescored = metrics.score_samples(valid_x[unseen_idx], "uint8")["fcd"]
assert np.isclose(unseen_rescored, reference["unseen_real"], rtol=1e-6), (unseen_rescored, reference)
assert 0.5 * reference["unseen_real"] < reference["fcd"] < 1.6 * reference["unseen_real"], reference
assert reference["unseen_real"] < 0.05 * reference["noise"], reference
assert reference["digits_covered"] == 10, reference
assert scores["all-black images"]["fcd"] > reference["noise"], scores["all-black images"]
results.record("classifier_test_accuracy", classifier.test_accuracy)
for which, score in scores.items():
    name = re.sub(r"[^a-z]+", "_", which)
    results.record(f"fcd_{name}", score["fcd"], unit="FCD", score=score)
results.record(
    "fcd_unseen_real",
    reference["unseen_real"],
    unit="FCD",
    n=n_score,
    key="FCD reference point: unseen real (validation) digits",
)
results.record(
    "fcd_noise", reference["noise"], unit="FCD", n=n_score, key="FCD reference point: uniform noise"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why every score uses the same n
#
# A Gaussian fitted to $n$ samples has a noisy mean and covariance, and the noise adds to $d^2$
# on average: the FCD of two finite samples of one distribution is positive, and it shrinks as
# $n$ grows. Below, $d^2$ between two disjoint draws of $n$ training digits (one distribution),
# averaged over five pairs of draws, for growing $n$: it should fall roughly like $1/n$, the
# column $n\,d^2$ staying of one order. The smallest $n$ is 200: the features have 128 dimensions,
# and a covariance fitted to $n$ samples has rank at most $n - 1$, so it is singular unless
# $n > 128$. So scores compare only at the same $n$, which is why `score_samples` always uses
# `metrics.sample_count()` samples. Between two different distributions $d^2$ falls not to zero
# but to their distance: for training against validation digits, a small offset, the gap between
# training digits and `unseen_real` seen above.

# %%
train_features = metrics.classifier_features(train_x, "uint8")  # (N_train, 128)
print("     n    mean d²    n·d²")
for n in [n for n in (200, 400, 800, 1600, 3200, 6400) if 2 * n <= len(train_x)]:
    d2 = []
    for _ in range(5):
        perm = rng.permutation(len(train_x))
        d2.append(divergences.frechet_distance(train_features[perm[:n]], train_features[perm[n : 2 * n]]))
    print(f"{n:6d} {np.mean(d2):10.2f} {n * np.mean(d2):7.0f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The device
# Lectures on PyTorch use `config.torch_device()` (CUDA, else Apple's MPS, else the CPU); everything
# in the course runs on a CPU at the `smoke` and `lecture` scales. A GPU runs its work
# asynchronously: a timing must wait for it (`synchronize`), and the first call pays for start-up,
# so it is left out.


# %%
def synchronize():
    """Wait until the device has finished the work queued on it."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    elif DEVICE.type == "mps":
        torch.mps.synchronize()


x = torch.randn(256, 256, generator=torch.Generator().manual_seed(SEED)).to(DEVICE)
x = torch.tanh(x @ x.T / 16)  # a first product, not timed (kernels load, memory is allocated)
synchronize()
t0 = time.perf_counter()
for _ in range(20):
    x = torch.tanh(x @ x.T / 16)
synchronize()
print(f"20 matrix products of 256×256 on {DEVICE}: {1e3 * (time.perf_counter() - t0):.2f} ms")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
# You have seen the lectures and their order, how to run them at each scale and with each seed,
# how trained models are cached, where the data come from and how they are split, the base-rate
# log-likelihood that likelihood models must beat (and the coin-flip entropy that none can
# remove), and the Fréchet classifier distance with its two reference points, unseen real digits
# and noise.


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# The first three are **checked**: fill in the cell marked `...`, run it, then run the `check`
# line below it, which measures your answer against an independent reference (the course's tested
# `lib.rbm`, the entropy summed over every binary image, `lib.divergences.frechet_distance` on
# points with exactly the Gaussians' means and covariances) and says what disagrees. The others are
# open: write your answer, then compare it with the model answer. In the book each solution is
# folded: try first.

# %%
from lib.exercises import check

# %% [raw]
# # BEGIN QUESTION
# name: ex00_1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: The base rate, by hand
#
# The independent-pixel model gives pixel $i$ the probability $\mu_i = (\sum_n v^{(n)}_i + 1)/(N + 2)$
# of being on, from $N$ binary training images $v^{(n)} \in \{0,1\}^D$, and scores a binary image
# $v$ with $\log p(v) = \sum_i [v_i\log\mu_i + (1-v_i)\log(1-\mu_i)]$. Write
# `base_rate_ll(v_train, v_test)`: `v_train` is an $(N, D)$ array and `v_test` an $(M, D)$ array,
# both of 0s and 1s (floats); return the mean of $\log p(v)$ over the $M$ test images, in nats,
# without `rbm.base_rate_bias` and `rbm.base_rate_log_likelihood` (the lecture's answer). What
# would the raw frequencies $\sum_n v^{(n)}_i/N$ give for a test image that turns on a pixel which
# no training image has on?


# %% tags=["hide-input"]
def base_rate_ll(v_train: np.ndarray, v_test: np.ndarray) -> float:
    """Mean log-likelihood (nats) of the test images under independent pixels, with the
    Laplace-smoothed frequencies of the training images."""
    # BEGIN SOLUTION
    mu = (v_train.sum(axis=0) + 1) / (len(v_train) + 2)  # (D,), never 0 or 1
    return float(np.mean(v_test @ np.log(mu) + (1 - v_test) @ np.log1p(-mu)))
    # END SOLUTION


# %%
check("00.1", base_rate_ll)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex00_2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: The coin flips' entropy
#
# Stochastic binarization draws each pixel of a grey image $x$ as $v_i \sim
# \operatorname{Bernoulli}(x_i)$. Write `coin_flip_entropy(grey)`: for an $(N, D)$ array of
# intensities $x^{(n)}_i \in [0, 1]$, return $\frac1N\sum_n\sum_i H_b(x^{(n)}_i)$ in nats, the
# conditional entropy $H(V \mid X)$ when $X$ is one of the $N$ images drawn uniformly, with
# $H_b(p) = -p\log p - (1-p)\log(1-p)$ and $0\log 0 = 0$ (its limit: a pixel at exactly 0 or 1 is
# no coin flip). Most MNIST pixels are exactly 0: make them add 0, not `nan`. Write it without the
# lecture's `binary_entropy`. What is $H(V \mid X)$ for threshold-binarized images, and what bound
# on a model's log-likelihood does it give then?


# %% tags=["hide-input"]
def coin_flip_entropy(grey: np.ndarray) -> float:
    """E_x Σ_i H_b(x_i) in nats: the entropy of the coin flips of stochastic binarization, averaged
    over the rows (images) of ``grey``."""
    # BEGIN SOLUTION
    x = np.asarray(grey, dtype=np.float64)

    def minus_p_log_p(p: np.ndarray) -> np.ndarray:  # −p log p, 0 at p = 0
        return np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)

    return float(np.mean(np.sum(minus_p_log_p(x) + minus_p_log_p(1 - x), axis=1)))
    # END SOLUTION


# %%
check("00.2", coin_flip_entropy)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex00_3

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: The Fréchet distance between two Gaussians
#
# Write `frechet_gaussian(mu_a, cov_a, mu_b, cov_b)`: the squared Fréchet distance $d^2$ of the
# lecture between $\mathcal N(\mu_a, \Sigma_a)$ and $\mathcal N(\mu_b, \Sigma_b)$, from their
# means (arrays of length $D$) and covariances ($D\times D$ symmetric positive-definite arrays),
# returned as a number ($d^2$, not $d$). A symmetric positive semi-definite matrix has exactly one
# symmetric positive semi-definite square root: from $\Sigma = V\operatorname{diag}(\lambda)V^\top$
# (`np.linalg.eigh`), $\Sigma^{1/2} = V\operatorname{diag}(\sqrt{\lambda})V^\top$. Do not use
# `divergences.frechet_distance` (the check does). In one dimension your $d^2$ should be
# $(\mu_a-\mu_b)^2 + (\sigma_a-\sigma_b)^2$. Is $\operatorname{tr}(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2})^{1/2}$
# the same as $\operatorname{tr}(\Sigma_a^{1/2}\Sigma_b^{1/2})$? When is it?


# %% tags=["hide-input"]
def frechet_gaussian(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """d² = ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½) between two Gaussians."""
    # BEGIN SOLUTION
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # Σa^½, symmetric
    lam = np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)  # eigenvalues of Σa^½ Σb Σa^½
    tr_cross = np.sum(np.sqrt(lam))  # tr (Σa^½ Σb Σa^½)^½
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_cross)
    # END SOLUTION


# %%
check("00.3", frechet_gaussian)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex00_4
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: Two binarizations, one base rate
#
# The base rate barely changes between the two binarizations. Compute the frequencies $q_i$ of
# every pixel of the training digits under both conventions (the threshold: the fraction of digits
# with $x_i > \tfrac12$; stochastic: the mean intensity), and use the linear formula of "How many of
# those nats are coin flips" to say how large the change of the base rate can be, and which pixels
# contribute to it. Then, once you have worked through lecture 01, train its small RBM on
# threshold-binarized digits (`data.binarize(x)`) and compare its exact test log-likelihood (on
# threshold-binarized test digits) with the stochastic one: by how much does it change, compared
# with the coin-flip entropy printed above?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# With thousands of training digits the pseudo-counts are negligible, $\mu_i \approx q_i$, and for
# test digits with the training frequencies the linear formula gives
# $\sum_i [q_i\log q_i + (1-q_i)\log(1-q_i)] = -\sum_i H_b(q_i)$: under either convention the base
# rate is minus the sum of the pixels' binary entropies at their frequencies. The change
# (threshold minus stochastic) is therefore $\sum_i [H_b(q^{\text{stoch}}_i) - H_b(q^{\text{thr}}_i)]$; since
# $H_b'(q) = \log\frac{1-q}{q}$, to first order in $\Delta q_i = q^{\text{thr}}_i - q^{\text{stoch}}_i$
# it is $\sum_i \log\frac{q_i}{1-q_i}\,\Delta q_i$. Each pixel's exact change is at most $\log 2$ in
# size ($H_b$ lies between 0 and $\log 2$), but what keeps the sum small is $\Delta q_i$: $q^{\text{stoch}}_i = \mathbb E[x_i]$ and
# $q^{\text{thr}}_i = P(x_i > \tfrac12)$ are equal for a pixel whose intensities are only 0 or 1,
# and differ only through the grey values at the edges of the strokes; a background pixel has both
# near 0. Expect a change far smaller than the coin-flip entropy.
#
# The RBM is another matter. On threshold-binarized digits $v$ is a function of $x$, so
# $H(V \mid X) = 0$: there are no coin flips left to pay for. A model $q$'s expected
# log-likelihood is $-H(V) - \mathrm{KL}(p\,\|\,q)$, so between the conventions it changes by the
# change of the data's entropy $H(V)$, which under stochastic binarization includes the coin-flip
# entropy, plus the change of the model's KL divergence from the data. Expect the RBM's test
# log-likelihood to rise by an amount of the order of the coin-flip entropy, but not equal to it:
# likelihoods under different binarizations are not comparable.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex00_5
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5: One digit only
#
# Score the training digits of one class (say, all 1s: `train_x[train_y == 1]`) with
# `metrics.score_samples`. There may be fewer of them than `metrics.sample_count()`, which the
# function refuses: draw that many with replacement (`rng.choice(ones, metrics.sample_count())`).
# Where does the FCD fall between `unseen_real` and `noise`, and what do the label distribution and
# `digits_covered` say? What does the FCD detect (mode collapse) that a per-image quality score
# would not?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# The classifier reads almost all of them as 1 (it is more than 95 % accurate), so the label
# distribution piles up on one digit and `digits_covered` is 1, plus any other digit that receives
# at least 2 % of the 1s. The label JSD from the training labels should then be close to its value
# for all the mass on one digit against a tenth on each,
# $\tfrac12\log\tfrac{1}{0.55} + \tfrac12\big(0.1\log\tfrac{0.1}{0.55} + 0.9\log 2\big) \approx 0.53$
# nats (its largest possible value, for disjoint supports, is $\log 2 \approx 0.69$). Expect an FCD
# far above `unseen_real`: the mean of the 1s' features is not the mean over all digits, and their
# covariance lacks the spread between the classes, which the trace term charges for (in one
# dimension it is $(\sigma_a - \sigma_b)^2$). How close it comes to `noise`, your run shows. A
# per-image quality score, such as the classifier's confidence, rates each of these images as a
# perfect digit, and the set as perfect; only a score of the *set* against the data, such as the
# FCD or the label distribution, sees that nine digits are missing. A generator that has collapsed
# onto a few modes is caught the same way.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex00_6
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6: Why one distribution has a positive FCD
#
# Take one dimension: two independent samples of size $n$ from $\mathcal N(m, \sigma^2)$, their
# sample means $\hat m_a, \hat m_b$ and sample standard deviations $\hat s_a, \hat s_b$ (with
# $n - 1$, as `np.cov`), so that $d^2 = (\hat m_a - \hat m_b)^2 + (\hat s_a - \hat s_b)^2$. Show
# that $\mathbb E[d^2] \approx 3\sigma^2/n$ for large $n$. Then, in $D$ dimensions with
# $\Sigma = I$, show that $\mathbb E[d^2] \approx [2D + D(D+1)/2]/n$ (hint: to second order,
# $\operatorname{tr}\big(A + B - 2(A^{1/2}BA^{1/2})^{1/2}\big) \approx \frac14\lVert A - B\rVert_F^2$
# for $A$, $B$ near $I$, with $\lVert\cdot\rVert_F$ the Frobenius norm). What does this say about
# the $n\,d^2$ column of "Why every score uses the same n", with its 128 features?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# The samples are independent, so $\hat m_a - \hat m_b$ has mean 0 and variance $2\sigma^2/n$:
# $\mathbb E(\hat m_a - \hat m_b)^2 = 2\sigma^2/n$ exactly. The sample variance obeys
# $(n-1)\hat s^2/\sigma^2 \sim \chi^2_{n-1}$, so $\operatorname{Var}\hat s^2 = 2\sigma^4/(n-1)$,
# and to leading order (the delta method, $\hat s = \sqrt{\hat s^2}$)
# $\operatorname{Var}\hat s \approx \operatorname{Var}(\hat s^2)/(4\sigma^2) = \sigma^2/(2(n-1))$.
# Then $\mathbb E(\hat s_a - \hat s_b)^2 = 2\operatorname{Var}\hat s \approx \sigma^2/(n-1)$, and
# $\mathbb E[d^2] \approx 2\sigma^2/n + \sigma^2/(n-1) \approx 3\sigma^2/n$.
#
# In $D$ dimensions $\mathbb E\lVert\hat\mu_a - \hat\mu_b\rVert^2 = 2\operatorname{tr}\Sigma/n = 2D/n$.
# For the trace term, write the sample covariances as $I + E_a$ and $I + E_b$. For a symmetric $E$,
# $(I+E)^{1/2} = I + E/2 - E^2/8 + \dots$, so against $I$ the trace term is
# $\operatorname{tr}\big(2I + E - 2(I+E)^{1/2}\big) = \operatorname{tr}E^2/4 + O(E^3)$. In general its
# first-order part, $\operatorname{tr}(E_a + E_b) - \operatorname{tr}(E_a + E_b)$, vanishes, so it starts
# with a quadratic form in $(E_a, E_b)$; that form is non-negative (the trace term is a squared
# Fréchet distance) and zero when $E_a = E_b$, so those directions are in its null space and it
# depends on $E_a - E_b$ alone, which the case $E_b = 0$ fixes:
# $\frac14\lVert E_a - E_b\rVert_F^2$ (the hint). For Gaussian samples with $\Sigma = I$,
# $\operatorname{Var}\hat\Sigma_{ii} = 2/(n-1)$ and $\operatorname{Var}\hat\Sigma_{ij} = 1/(n-1)$ for
# $i \ne j$, so $\mathbb E\lVert E\rVert_F^2 = [2D + D(D-1)]/(n-1) = D(D+1)/(n-1)$;
# $\mathbb E\lVert E_a - E_b\rVert_F^2$ is twice that, and the trace term contributes
# $D(D+1)/(2(n-1))$. Altogether $\mathbb E[d^2] \approx [2D + D(D+1)/2]/n$, which is $3/n$ for
# $D = 1$. The means' part grows like $D$, the covariances' like $D^2/2$: with 128 features the
# noise of the estimated covariances dominates.
#
# So $n\,d^2$ should approach a constant as $n$ grows, which is what the column should show, up
# to the noise of five pairs of draws. The constant is not this one: the features are neither
# isotropic nor of unit variance. And where $n$ is not large next to $D$ the expansion fails, as a
# covariance estimated from barely more samples than dimensions is far from the true one. That
# bias, which no model can remove, is why scores compare only at the same $n$.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex00_7
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7: Scales and seeds
#
# Set `COURSE_SCALE=bogus` (in a shell, `COURSE_SCALE=bogus make lab`; in JupyterLab, restart
# the kernel and run `%env COURSE_SCALE=bogus` above the set-up cell) and run the set-up cell.
# Read the error message: what does it ask you to do? (`%env COURSE_SCALE=lecture` and a kernel
# restart undo it.) Then rerun this notebook with `COURSE_SEED=1`: which of its printed numbers
# change, which stay the same to the last digit, and why?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# `config.setup` raises a `ValueError`, so the notebook stops at its first cell. The message names
# the value it read, `COURSE_SCALE='bogus'`, says it is not a valid scale, and lists the valid ones
# (`smoke`, `lecture`, `full`, `untrained`) with the default, `lecture`: set one of them, or unset
# the variable. A misspelt scale fails at once rather than running at some size you did not ask
# for.
#
# With `COURSE_SEED=1`, everything drawn from `SEED` changes: the draws of validation, test and
# training digits that are scored, so their FCDs and the counts of digits they share with the
# reference draws; the permutations of the $n$ sweep; and the matrix that the device timing
# multiplies (whose times vary from run to run anyway). What uses its own fixed seed does not
# change: the split of MNIST into training and validation digits, the binarizations (seeds 0, 1
# and 2), so the base rates and the coin-flip entropy; the classifier behind the FCD (trained once
# with its own seed, and cached); and the reference points `unseen_real` and `noise`, drawn with
# seed 0 inside `score_samples`, as is the score of the all-black images. That is what makes
# scores from different runs, and different lectures, comparable.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
