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
# # 06 — Generative adversarial networks: the minimax game, a toy collapse, and a DCGAN in TensorFlow
#
# The VAE of lectures 04–05 learns a decoder by maximising a bound on the likelihood. A
# *generative adversarial network* (GAN) {cite:p}`goodfellow2014` never writes down a likelihood at
# all. A **generator** $g_\theta$ turns noise $z \sim p(z)$ into samples $x = g_\theta(z)$; a
# **discriminator** $d_\phi(x) \in (0, 1)$ is trained to tell real samples from generated ones, and
# the generator is trained to fool it. The density of the model, $p_{\text{model}}$, is only ever
# *implicit*: we can sample it, but not evaluate it.
#
# **What you will learn**
# - the zero-sum game and its value function; the optimal discriminator
#   $d^* = p_{\text{data}}/(p_{\text{data}} + p_{\text{model}})$; why the generator then minimises a
#   Jensen–Shannon divergence, and why the game stops being informative when $d \equiv \tfrac12$;
# - why GANs avoid partition functions and approximate inference, when the game provably converges
#   (a generator cost convex in its parameters) and why in practice it need not;
# - the *non-saturating* generator loss, and why it gives gradients early in training;
# - what goes wrong: oscillation, mode collapse and vanishing gradients, shown on a 2-D toy GAN
#   whose mode coverage we **count**;
# - the DCGAN of the TensorFlow tutorial (transposed convolutions, batch norm, a `tf.function`
#   training step, checkpoints that let a run resume), trained on MNIST and **measured** epoch by
#   epoch with the course's Fréchet classifier distance and the distribution of predicted labels.
#
# **Prerequisites**: lecture 00 (the scales and the Fréchet classifier distance), lecture 04 or 05
# (a VAE, for comparison), basic TensorFlow/Keras (`GradientTape`, `keras.Sequential`).
#
# **What GANs are used for.** Generating images is the best-known use, but far from the only
# one: producing an image from a text description, ageing a face, translating an image from one
# domain to another (a map to a satellite photo, a sketch to a picture), synthesising video,
# raising an image's resolution, and filling in parts of an image that are missing. In the
# physical sciences the main appeal is speed: once trained, a generator draws a new sample in one
# forward pass, so it can stand in for a slow simulator, for instance of particle showers in a
# calorimeter {cite:p}`paganini2018`.
#
# **Why an adversarial game?** Every model so far paid a price for its likelihood. The
# Boltzmann machines and energy-based models of lectures 01–03 need the partition function $Z$,
# or at least its gradient, which we estimated with Markov chains; the VAE cannot compute its
# posterior and trains an encoder to approximate it, i.e. it does *approximate inference* and
# maximises a bound. A GAN needs neither: training uses only samples of the model and a
# classifier, and both networks learn by ordinary back-propagation. What it gives up is a
# single objective to minimise (training looks for the equilibrium of a game, which need not be
# reached) and any likelihood to report (we must judge the samples some other way).
#
# **What the generator can be.** Any model that we can sample from and differentiate through.
# Nothing forbids, say, one of the Boltzmann machines of lectures 01–02 trained to reproduce a
# quantum-mechanical probability distribution. But the generator learns from the gradient of the
# discriminator's verdict with respect to its *samples*, passed on to its parameters through
# $\partial x/\partial\theta_g$. A network $x = g_\theta(z)$ fed with continuous noise has that
# derivative by construction; binary states drawn by Gibbs sampling do not, and would need other
# gradient estimators. The generators of this lecture are therefore neural networks.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up
# Everything that sets a size or a step count is here, chosen per scale with `config.scaled`.
# The `full` values are the TensorFlow DCGAN tutorial's (buffer 60000, batch 256, noise dimension
# 100, Adam with learning rate $10^{-4}$, 50 epochs, filters 256/128/64). The `lecture` values
# make the same model run in a few minutes on a 2-core laptop: the offline MNIST training subset,
# thinner networks, and the learning rate $2\cdot10^{-4}$ with $\beta_1 = 0.5$ of the DCGAN paper
# {cite:p}`radford2016`, which converges faster, decayed along a cosine to a tenth of its value by
# the last step (section 4 explains why). The `smoke` scale (the CI run) has only a few hundred
# steps, so it takes a five times larger learning rate: enough to turn noise into rough digits,
# which is all its checks ask.

# %% slideshow={"slide_type": "subslide"}
import json
import os
import shutil
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm

from lib import (
    cache,
    comparison,
    config,
    data,
    divergences,
    gan,
    memorisation,
    metrics,
    plotting,
    results,
    toy2d,
)

tf, keras = config.import_tensorflow()  # import tensorflow, keras (without their C++ start-up notices)
from keras import layers

SCALE = config.setup("06_dcgan_tensorflow", seed=0)
SEED = config.seed()  # 0, or COURSE_SEED: every cached training below starts from it
print(
    f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
    f"devices: {[d.device_type for d in tf.config.list_logical_devices()]}"
)

# --- the DCGAN (the tutorial's values at full scale) ---
BUFFER_SIZE = config.scaled(smoke=4096, lecture=8000, full=60000)  # shuffle buffer = images used
BATCH_SIZE = config.scaled(smoke=64, lecture=64, full=256)
NOISE_DIM = 100
EPOCHS = config.scaled(smoke=5, lecture=15, full=50)
LEARNING_RATE = config.scaled(smoke=1e-3, lecture=2e-4, full=1e-4)
BETA_1 = config.scaled(smoke=0.5, lecture=0.5, full=0.9)  # 0.9 = Keras' default, as in the tutorial
LR_FINAL_FRACTION = config.scaled(smoke=0.1, lecture=0.1, full=1.0)  # cosine decay to this; 1 = constant
GEN_FILTERS = config.scaled(smoke=(64, 32, 16), lecture=(128, 64, 32), full=(256, 128, 64))
DISC_FILTERS = config.scaled(smoke=(16, 32), lecture=(32, 64), full=(64, 128))
N_FIXED = 16  # fixed-noise images watched per epoch
RESUME = False  # True: continue an interrupted training from the latest checkpoint in CKPT_DIR
CKPT_DIR = (
    tempfile.mkdtemp(prefix="06_dcgan_")
    if SCALE in ("smoke", "untrained")
    else str(config.build_dir() / "checkpoints" / "06_dcgan")
)

# --- the toy GAN on a ring of Gaussians ---
TOY_STEPS = config.scaled(smoke=1000, lecture=2000, full=5000)
TOY_BATCH = 256
TOY_HIDDEN = 128
TOY_NOISE_DIM = 2
TOY_LR = 1e-3
TOY_SNAPSHOTS = 10

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The minimax game
#
# The discriminator maximises, and the generator minimises, the **value**
# $$
# v(\theta_g, \theta_d) = \mathbb{E}_{x\sim p_{\text{data}}}\bigl[\log d(x)\bigr]
#                      + \mathbb{E}_{x\sim p_{\text{model}}}\bigl[\log\bigl(1 - d(x)\bigr)\bigr],
# \qquad x = g(z),\ z \sim p(z).
# $$
# $-v$ is the binary cross-entropy of a classifier that labels real data 1 and generated data 0,
# so the discriminator is simply a classifier. It is a **zero-sum** game: the generator's pay-off
# is $-v$.
#
# **The optimal discriminator.** For a fixed generator, write the value as one integral,
# $v = \int \bigl[p_{\text{data}}(x)\log d(x) + p_{\text{model}}(x)\log(1-d(x))\bigr]\,dx$, and
# maximise the integrand pointwise: $a\log y + b\log(1-y)$ has its maximum on $(0,1)$ where
# $a/y = b/(1-y)$, i.e.
# $$
# d^*(x) = \frac{p_{\text{data}}(x)}{p_{\text{data}}(x) + p_{\text{model}}(x)}.
# $$
# **The generator's objective at $d^*$.** Substituting, with the mixture
# $m = \tfrac12(p_{\text{data}} + p_{\text{model}})$,
#
# $$
# v(\theta_g, d^*) = \mathbb{E}_{p_{\text{data}}}\Bigl[\log\frac{p_{\text{data}}}{2m}\Bigr] +
#  \mathbb{E}_{p_{\text{model}}}\Bigl[\log\frac{p_{\text{model}}}{2m}\Bigr] =
#  -\log 4 + 2\,\mathrm{JSD}(p_{\text{data}}\,\|\,p_{\text{model}}),
# $$
#
# where $\mathrm{JSD}(p\|q) = \tfrac12\mathrm{KL}(p\|m) + \tfrac12\mathrm{KL}(q\|m) \in [0, \log 2]$.
# So *if* the discriminator were optimal at every step, the generator would minimise the
# Jensen–Shannon divergence, whose unique minimum is $p_{\text{model}} = p_{\text{data}}$.
#
# **When $d$ outputs ½ everywhere.** At that minimum $d^* \equiv \tfrac12$ and
# $v = -\log 4 \approx -1.386$: the discriminator loss is $\log 4$ and the generator loss $\log 2$,
# whatever the samples look like. A constant $d$ has zero gradient in $x$, so it gives the generator
# no direction, and the losses carry no information about sample quality. This suggests a stopping
# rule: once the discriminator answers ½ everywhere, stop, because further generator updates
# follow a signal that no longer says anything and can undo what was learned. The rule only works
# one way, though: a discriminator that is merely *too weak* also outputs about ½. This is why,
# below, we watch the losses but **measure** the samples with something else.
#
# **Does the game converge?** Call $c(\theta_g) = \max_{\theta_d} v(\theta_g, \theta_d)$ the
# generator's cost against a discriminator that always answers best; the goal is
# $g^* = \arg\min_{\theta_g} c(\theta_g)$. If $c$ is convex in $\theta_g$, then "train $d$ to its
# optimum, take a small gradient step on $g$, repeat" is gradient descent on a convex function: it
# converges, and with enough capacity and data the model is consistent, $p_{\text{model}} \to
# p_{\text{data}}$. {cite:t}`goodfellow2014` prove exactly this in the space of densities, where
# $c = -\log 4 + 2\,\mathrm{JSD}$ is convex in $p_{\text{model}}$. Real training breaks every
# assumption: (i) we move the *weights* of a network, and $c$ is not convex in them; (ii) the
# discriminator gets one (or a few) gradient steps per generator step, never its maximum; (iii)
# gradient steps of two players on a saddle point need not converge even for the simplest
# convex–concave value: the players can circle around the equilibrium for ever. The smallest
# example is $v(a, b) = ab$, with the generator minimising over $a$ and the discriminator
# maximising over $b$. The equilibrium is $a = b = 0$, but simultaneous steps
# $a \leftarrow a - \eta b$, $b \leftarrow b + \eta a$ multiply the distance from it by
# $\sqrt{1+\eta^2}$ at every step, and alternating steps (update $a$, then $b$ with the new $a$)
# go round a closed orbit without ever approaching it. The second code cell below shows both.
#
# Let us check the identity numerically in one dimension (the densities come from `lib/toy2d.py`,
# $d^*$ and $v$ from `lib/gan.py`, the JSD from `lib/divergences.py`, each tested against exact
# values in `tests/`): a two-mode data density, a one-mode model.

# %% slideshow={"slide_type": "subslide"}
grid = np.linspace(-8.0, 8.0, 2001)  # (G,)
dx = grid[1] - grid[0]
p_data = toy2d.mixture_density(grid, toy2d.line_means(2, spacing=4.0), std=0.7)  # modes at ±2


def gaussian(x, mu, sigma):  # a one-mode "mixture"
    return toy2d.mixture_density(x, [[mu]], std=sigma)


p_model = gaussian(grid, 1.0, 1.2)
d_star = gan.optimal_discriminator(p_data, p_model)
v_star = gan.gan_value(p_data, p_model, d_star, dx=dx)
jsd = divergences.js_divergence(p_data, p_model, dx=dx)
print(f"v(g, d*) = {v_star:.4f};  -log 4 + 2 JSD = {-np.log(4) + 2 * jsd:.4f}  (JSD = {jsd:.4f} nats)")

# The JSD against the model's position: it saturates at log 2 once the model is far away.
shifts = np.linspace(-6, 6, 121)
narrow_data = gaussian(grid, 0.0, 0.3)
jsd_curve = [divergences.js_divergence(narrow_data, gaussian(grid, mu, 0.3), dx=dx) for mu in shifts]

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
axes[0].plot(grid, p_data, label=r"$p_{\mathrm{data}}$")
axes[0].plot(grid, p_model, label=r"$p_{\mathrm{model}}$")
axes[0].plot(grid, d_star, "k--", label=r"$d^* = p_{\mathrm{data}}/(p_{\mathrm{data}}+p_{\mathrm{model}})$")
axes[0].axhline(0.5, color="grey", lw=0.5)
axes[0].set_xlabel("x")
axes[0].legend(fontsize=8)
axes[0].set_title("the optimal discriminator")
axes[1].plot(shifts, jsd_curve)
axes[1].axhline(np.log(2), color="grey", ls=":", label="log 2")
axes[1].set_xlabel(r"model mean $\mu$ (data: N(0, 0.3²), model: N($\mu$, 0.3²))")
axes[1].set_ylabel("JSD (nats)")
axes[1].legend()
axes[1].set_title("the JSD is flat when the supports separate")
fig.tight_layout()

# %% [markdown]
# The right panel is the **vanishing-gradient** problem in its purest form {cite:p}`arjovsky2017`:
# when the model's samples and the data barely overlap, as they do at the start of
# training in 784 dimensions, the JSD is stuck at $\log 2$ and its gradient with respect to the
# generator's parameters is zero. A near-optimal discriminator then separates the two sets
# perfectly and tells the generator nothing about *where* to move.

# %% slideshow={"slide_type": "subslide"}
ETA, N_GAME_STEPS = 0.1, 300
path_simultaneous, path_alternating = [np.array([1.0, 0.0])], [np.array([1.0, 0.0])]  # (a, b)
for _ in range(N_GAME_STEPS):
    a, b = path_simultaneous[-1]
    path_simultaneous.append(np.array([a - ETA * b, b + ETA * a]))  # both use the old values
    a, b = path_alternating[-1]
    a = a - ETA * b  # the generator moves first ...
    path_alternating.append(np.array([a, b + ETA * a]))  # ... and the discriminator answers
path_simultaneous, path_alternating = np.array(path_simultaneous), np.array(path_alternating)
radius = np.linalg.norm(path_simultaneous, axis=1)
print(
    f"simultaneous steps: distance from the equilibrium {radius[0]:.2f} -> {radius[-1]:.2f} after "
    f"{N_GAME_STEPS} steps (sqrt(1 + eta^2)^{N_GAME_STEPS} = {(1 + ETA**2) ** (N_GAME_STEPS / 2):.2f}); "
    f"alternating steps: distance between {np.linalg.norm(path_alternating, axis=1).min():.2f} "
    f"and {np.linalg.norm(path_alternating, axis=1).max():.2f}"
)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot(*path_simultaneous.T, lw=0.8, label="simultaneous: spirals out")
ax.plot(*path_alternating.T, lw=0.8, label="alternating: circles for ever")
ax.plot(0, 0, "k*", ms=10, label="equilibrium")
ax.set_xlabel("generator's parameter $a$")
ax.set_ylabel("discriminator's parameter $b$")
ax.set_aspect("equal")
ax.legend(fontsize=8)
ax.set_title(r"gradient play on $v(a, b) = ab$, $\eta = 0.1$")
fig.tight_layout()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The non-saturating generator loss
#
# Let the discriminator output a logit $a$, with $d = \sigma(a) = 1/(1+e^{-a})$, and write
# $D = d(g(z))$ for the score of a generated sample. The minimax generator minimises
# $\log(1 - D)$; {cite:t}`goodfellow2014` proposed instead to **maximise $\log D$**, i.e. minimise
# $-\log D$. Both push $D$ up, but their gradients through the logit differ:
# $$
# \frac{\partial}{\partial a}\log\bigl(1-\sigma(a)\bigr) = -\sigma(a) = -D,
# \qquad
# \frac{\partial}{\partial a}\bigl(-\log\sigma(a)\bigr) = -\bigl(1-\sigma(a)\bigr) = -(1-D).
# $$
# Early in training the discriminator easily rejects the generator's samples: $D \approx 0$.
# The minimax loss then has a gradient of size $D \approx 0$ (it **saturates**), while the
# non-saturating one has size $1 - D \approx 1$. The two agree in direction, and the
# non-saturating loss is what every practical GAN (and the TensorFlow tutorial) uses:
# `cross_entropy(ones_like(fake_output), fake_output)` $= -\log D$.
#
# We plot the analytic gradients and check them against TensorFlow's automatic differentiation.

# %% slideshow={"slide_type": "subslide"}
D_axis = np.linspace(0.001, 0.999, 500)  # d(g(z))
logits = tf.constant(np.log(D_axis / (1 - D_axis)), tf.float64)  # a = σ⁻¹(D)
with tf.GradientTape(persistent=True) as tape:
    tape.watch(logits)
    minimax_loss = tf.math.log(1.0 - tf.sigmoid(logits))  # generator minimises log(1 − D)
    non_saturating_loss = -tf.math.log(tf.sigmoid(logits))  # generator minimises −log D
grad_minimax = tape.gradient(minimax_loss, logits).numpy()
grad_non_saturating = tape.gradient(non_saturating_loss, logits).numpy()
assert np.allclose(grad_minimax, -D_axis) and np.allclose(grad_non_saturating, -(1 - D_axis))

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
axes[0].plot(D_axis, minimax_loss.numpy(), label=r"minimax: $\log(1-D)$")
axes[0].plot(D_axis, non_saturating_loss.numpy(), label=r"non-saturating: $-\log D$")
axes[0].set_xlabel(r"$D = d(g(z))$")
axes[0].set_title("generator losses (both are minimised)")
axes[0].legend()
axes[1].plot(D_axis, np.abs(grad_minimax), label=r"$|\partial_a \log(1-D)| = D$")
axes[1].plot(D_axis, np.abs(grad_non_saturating), label=r"$|\partial_a (-\log D)| = 1-D$")
axes[1].axvspan(0, 0.1, color="orange", alpha=0.15, label="early training: $D \\approx 0$")
axes[1].set_xlabel(r"$D = d(g(z))$")
axes[1].set_title("gradient w.r.t. the discriminator's logit")
axes[1].legend(fontsize=8)
fig.tight_layout()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. What goes wrong: a toy GAN on a ring of Gaussians
#
# The data are 8 Gaussians of standard deviation 0.05 on a circle of radius 2 (the benchmark of
# {cite:t}`metz2017`). Generator and discriminator are small MLPs; each training step does one
# discriminator update and `g_steps` generator updates. With logits $a$, the losses are
# $-\log\sigma(a) = \mathrm{softplus}(-a)$ and $-\log(1-\sigma(a)) = \mathrm{softplus}(a)$:
# $$
# L_d = \mathbb{E}_{\text{data}}\,\mathrm{softplus}(-a(x)) + \mathbb{E}_z\,\mathrm{softplus}(a(g(z))),
# \qquad
# L_g = \mathbb{E}_z\,\mathrm{softplus}(-a(g(z))).
# $$
# The theory of section 1 needs a discriminator that is (nearly) optimal for the current
# generator. Give the generator **five steps per discriminator step** and the opposite happens:
# the generator chases the *current* discriminator's favourite point, the discriminator then
# learns to reject it, and the generator jumps elsewhere, **mode collapse** and **oscillation** in
# one picture.
#
# We count mode coverage as in the literature (`toy2d.mode_coverage`): a sample is *high-quality*
# if it lies within $3\sigma$ of its nearest centre, and a mode is *covered* if it receives at
# least a quarter of its fair share $N/8$ of high-quality samples.
# Both runs also score their generator before the first update: an untrained generator puts its
# samples in a blob near the origin, far from every mode, and is the reference of the checks.
# Both start from the same seed, hence from the same untrained networks.
#
# **Cached training.** Every training in this notebook goes through `lib.cache`: the first run
# stores its result under `build/cache/`, and later runs load it instead of retraining, as long as
# nothing that determines it (code, hyper-parameters, data, seed, scale, library versions) has
# changed. A load prints what it loaded, its key and how long the original training took; the
# figures and checks that follow are the same as after training. To retrain, run with
# `COURSE_CACHE=off` (ignore the cache) or `COURSE_CACHE=refresh` (retrain and replace the entries).

# %% slideshow={"slide_type": "subslide"}
TOY_MEANS = toy2d.ring_means(8, radius=2.0)  # (8, 2)
TOY_STD = 0.05


def toy_mlp(in_dim, out_dim):
    return keras.Sequential(
        [
            keras.Input((in_dim,)),
            layers.Dense(TOY_HIDDEN, activation="relu"),
            layers.Dense(TOY_HIDDEN, activation="relu"),
            layers.Dense(out_dim),
        ]
    )


def train_toy_gan(g_steps, n_steps=TOY_STEPS, n_eval=2000):
    """Train a toy GAN; return n_eval generator samples before training and at TOY_SNAPSHOTS
    steps, with the losses there: {"step": (S,), "samples": (S, n_eval, 2), "d_loss", "g_loss": (S,)}."""
    g_steps = config.training_steps(g_steps)  # untrained: one generator update, like every model
    generator, discriminator = toy_mlp(TOY_NOISE_DIM, 2), toy_mlp(2, 1)
    g_opt = keras.optimizers.Adam(TOY_LR, beta_1=0.5)
    d_opt = keras.optimizers.Adam(TOY_LR, beta_1=0.5)
    means = tf.constant(TOY_MEANS)

    @tf.function
    def train_step():
        k = tf.random.uniform([TOY_BATCH], 0, len(TOY_MEANS), dtype=tf.int32)
        x = tf.gather(means, k) + TOY_STD * tf.random.normal([TOY_BATCH, 2])  # (B, 2) real
        z = tf.random.normal([TOY_BATCH, TOY_NOISE_DIM])  # (B, 2) noise
        with tf.GradientTape() as tape:
            d_loss = tf.reduce_mean(tf.nn.softplus(-discriminator(x))) + tf.reduce_mean(
                tf.nn.softplus(discriminator(generator(z)))
            )
        d_opt.apply_gradients(
            zip(tape.gradient(d_loss, discriminator.trainable_variables), discriminator.trainable_variables)
        )
        for _ in range(g_steps):  # a Python loop: unrolled when the function is traced
            z = tf.random.normal([TOY_BATCH, TOY_NOISE_DIM])
            with tf.GradientTape() as tape:
                g_loss = tf.reduce_mean(tf.nn.softplus(-discriminator(generator(z))))
            g_opt.apply_gradients(
                zip(tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables)
            )
        return d_loss, g_loss

    snaps = {"step": [], "samples": [], "d_loss": [], "g_loss": []}

    def snapshot(step, d_loss=np.nan, g_loss=np.nan):
        snaps["step"].append(step)
        snaps["samples"].append(generator(tf.random.normal([n_eval, TOY_NOISE_DIM])).numpy())  # (n_eval, 2)
        snaps["d_loss"].append(float(d_loss))
        snaps["g_loss"].append(float(g_loss))

    snapshot(0)  # the untrained generator
    every = n_steps // TOY_SNAPSHOTS
    steps = config.training(range(1, n_steps + 1))
    for step in tqdm(
        steps, total=n_steps, desc=f"toy GAN, {g_steps} generator step(s) per d step", leave=False
    ):
        d_loss, g_loss = train_step()
        if step % every == 0:
            snapshot(step, d_loss, g_loss)
    if snaps["step"][-1] != step:  # a loop cut short (COURSE_SCALE=untrained): its last state
        snapshot(step, d_loss, g_loss)
    return {k: np.array(v) for k, v in snaps.items()}


def toy_run(g_steps):
    """train_toy_gan(g_steps), through the cache, with the mode coverage of every snapshot."""
    run = cache.cached_arrays(
        f"06_toy_gan_g{g_steps}",
        compute=lambda: train_toy_gan(g_steps),
        code=[toy_mlp, train_toy_gan],
        params={
            "g_steps": g_steps,
            "n_steps": TOY_STEPS,
            "batch": TOY_BATCH,
            "hidden": TOY_HIDDEN,
            "noise_dim": TOY_NOISE_DIM,
            "lr": TOY_LR,
            "snapshots": TOY_SNAPSHOTS,
            "std": TOY_STD,
        },
        data=TOY_MEANS,
        seed=SEED,
    )
    run["coverage"] = [toy2d.mode_coverage(xs, TOY_MEANS, TOY_STD) for xs in run["samples"]]
    return run


toy_runs = {
    "balanced (1 g step per d step)": toy_run(g_steps=1),
    "generator-heavy (5 g steps per d step)": toy_run(g_steps=5),
}
for name, run in toy_runs.items():
    print(f"{name:40s} before training: {run['coverage'][0]}")
    print(f"{name:40s} final:           {run['coverage'][-1]}")

# %% [markdown]
# Samples at a few moments of training (grey crosses: the 8 centres), and, below, the share of
# samples nearest to each mode at every snapshot. Look for the balanced GAN to spread over the
# ring and sharpen onto the modes, and for the generator-heavy one to pile (almost) everything
# onto one place and then **hop** from mode to mode. The checks below count both.

# %% slideshow={"slide_type": "subslide"}
n_snaps = len(next(iter(toy_runs.values()))["step"])
cols = np.unique(np.linspace(0, n_snaps - 1, 5).astype(int))
fig, axes = plt.subplots(
    2, len(cols), figsize=(2.6 * len(cols), 5.4), sharex=True, sharey=True, squeeze=False
)
for row, (name, run) in zip(axes, toy_runs.items()):
    for ax, c in zip(row, cols):
        ax.scatter(*run["samples"][c][:500].T, s=2, alpha=0.4)
        ax.scatter(*TOY_MEANS.T, marker="x", color="grey", s=30)
        ax.set_title(f"step {run['step'][c]}: {run['coverage'][c].modes_covered}/8 covered", fontsize=9)
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_aspect("equal")
    row[0].set_ylabel(name.split(" (")[0])
fig.tight_layout()

fig, axes = plt.subplots(1, 2, figsize=(11, 3))
for ax, (name, run) in zip(axes, toy_runs.items()):
    shares = np.stack([c.counts / c.counts.sum() for c in run["coverage"]], axis=1)  # (8, snapshots)
    im = ax.imshow(
        shares, aspect="auto", cmap="viridis", vmin=0, vmax=1, extent=(0.5, len(run["step"]) + 0.5, 7.5, -0.5)
    )
    ax.set_xticks(range(1, len(run["step"]) + 1), [str(s) for s in run["step"]], rotation=60, fontsize=7)
    ax.set_xlabel("training step")
    ax.set_ylabel("mode")
    ax.set_title(name, fontsize=9)
fig.colorbar(im, ax=axes, label="share of samples nearest to the mode")

# %% slideshow={"slide_type": "subslide"}
balanced = toy_runs["balanced (1 g step per d step)"]
collapsing = toy_runs["generator-heavy (5 g steps per d step)"]
untrained_balanced, final_balanced = balanced["coverage"][0], balanced["coverage"][-1]
final_collapsing = collapsing["coverage"][-1]
peak_share = max(c.largest_share for c in collapsing["coverage"][1:])  # after training started
# the modes that, at some snapshot, hold ≥ 80% of the generator-heavy run's samples
collapse_modes = sorted(
    {int(c.counts.argmax()) for c in collapsing["coverage"][1:] if c.largest_share >= 0.8}
)
results.describe(toy_data="ring of 8 Gaussians, radius 2, std 0.05", toy_steps=TOY_STEPS)
results.record(
    "toy_modes_covered_balanced",
    final_balanced.modes_covered,
    unit="of 8",
    key="toy GAN modes covered (of 8)",
)
results.record("toy_modes_covered_balanced_untrained", untrained_balanced.modes_covered, unit="of 8")
results.record("toy_high_quality_balanced", final_balanced.high_quality, unit="fraction")
results.record("toy_modes_covered_generator_heavy", final_collapsing.modes_covered, unit="of 8")
results.record("toy_peak_single_mode_share_generator_heavy", peak_share, unit="fraction")
results.record("toy_collapse_modes_generator_heavy", len(collapse_modes), unit="modes", modes=collapse_modes)
print(
    f"balanced: {untrained_balanced.modes_covered}/8 modes covered before training, "
    f"{final_balanced.modes_covered}/8 after; high-quality samples "
    f"{untrained_balanced.high_quality:.0%} -> {final_balanced.high_quality:.0%}"
)
print(
    f"generator-heavy: largest single-mode share {peak_share:.0%}; modes that held >= 80% of the "
    f"samples at some snapshot: {collapse_modes}; final {final_collapsing}"
)

# %% tags=["learning-check"]
# The balanced GAN covers the ring. The untrained generator covers 0/8 modes with 0% high-quality
# samples (seeds 0-2). Smoke (1000 steps), COURSE_SEED=0,1,2: 7-8 modes covered, 62-78%
# high-quality samples; the margins below leave one mode and a third of the quality to spare.
assert final_balanced.modes_covered >= untrained_balanced.modes_covered + 5, (
    untrained_balanced,
    final_balanced,
)
assert final_balanced.modes_covered >= config.scaled(smoke=6, lecture=7, full=7), final_balanced
assert final_balanced.high_quality >= config.scaled(smoke=0.4, lecture=0.5, full=0.6), final_balanced

# %% tags=["learning-check"]
# The generator-heavy GAN collapses and hops: at some snapshot >= 80% of its samples sit by one mode,
# at least two different modes take that role in turn, and at the end it covers at most 3 modes.
# Before training the largest share is 29-47% (COURSE_SEED=0,1,2), after one update 34% (untrained,
# seed 0). Smoke, COURSE_SEED=0,1,2: largest share 100% in every run, 3-7 different modes take
# turns holding >= 80% of the samples, 0-1 modes covered at the end.
assert peak_share >= 0.8, f"expected a collapse onto one mode, largest share was only {peak_share:.0%}"
assert len(collapse_modes) >= 2, f"expected the collapsed generator to hop between modes: {collapse_modes}"
assert final_collapsing.modes_covered <= 3, final_collapsing

# %% [markdown]
# The counts tell the two runs apart; the discriminator and generator losses, stored in
# `run["d_loss"]` and `run["g_loss"]`, say little about which run covers the ring (plot them). Remedies studied in
# the literature include more discriminator steps (the theory's assumption), unrolling the
# discriminator {cite:p}`metz2017`, minibatch discrimination, and losses whose gradients do not vanish
# (the Wasserstein GAN). Exercise 2 tries one.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The DCGAN on MNIST
#
# ### Data
# Pixels are scaled to $[-1, 1]$ to match the generator's $\tanh$ output. The tutorial shuffles
# with a buffer as large as the training set; we do the same with the first `BUFFER_SIZE` images
# of whatever MNIST split `lib.data` finds (the offline subset is smaller than the full 60000).

# %%
train_images, train_labels = data.load_mnist("train")
test_images, test_labels = data.load_mnist("test")
train_x = data.to_float(train_images[:BUFFER_SIZE], range="symmetric")[..., None]  # (N, 28, 28, 1)
steps_per_epoch = int(np.ceil(len(train_x) / BATCH_SIZE))


def make_dataset(images):
    """The tutorial's input pipeline: shuffled anew every epoch, in batches of BATCH_SIZE."""
    return tf.data.Dataset.from_tensor_slices(images).shuffle(BUFFER_SIZE).batch(BATCH_SIZE)


print(
    f"{len(train_x)} training images in [{train_x.min():.0f}, {train_x.max():.0f}], "
    f"{steps_per_epoch} batches of {BATCH_SIZE} per epoch"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Generator and discriminator
#
# The **generator** maps $z \in \mathbb{R}^{100}$ through a dense layer to a $7\times7$ stack of
# feature maps and up-samples with transposed convolutions (stride 2 doubles the side:
# $7 \to 14 \to 28$). Batch normalisation and LeakyReLU follow every layer but the last, whose
# $\tanh$ puts pixels in $(-1, 1)$. The **discriminator** is an ordinary strided CNN with dropout
# that returns a **logit** $a(x)$ (no sigmoid: the loss applies it, which is numerically safer).
#
# One small departure from the tutorial: the discriminator's convolutions have no bias (a few
# dozen parameters). With it, TensorFlow's CPU graph optimiser tries to fuse convolution, bias
# and LeakyReLU in the gradient graph and logs a harmless `remapper failed` error.


# %% slideshow={"slide_type": "subslide"}
def make_generator(filters=GEN_FILTERS, noise_dim=NOISE_DIM):
    f0, f1, f2 = filters
    return keras.Sequential(
        [
            keras.Input((noise_dim,)),  # (B, 100)
            layers.Dense(7 * 7 * f0, use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Reshape((7, 7, f0)),  # (B, 7, 7, f0)
            layers.Conv2DTranspose(f1, 5, strides=1, padding="same", use_bias=False),  # (B, 7, 7, f1)
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(f2, 5, strides=2, padding="same", use_bias=False),  # (B, 14, 14, f2)
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(
                1, 5, strides=2, padding="same", use_bias=False, activation="tanh"
            ),  # (B, 28, 28, 1)
        ],
        name="generator",
    )


def make_discriminator(filters=DISC_FILTERS):
    f0, f1 = filters
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),  # (B, 28, 28, 1)
            layers.Conv2D(f0, 5, strides=2, padding="same", use_bias=False),  # (B, 14, 14, f0)
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Conv2D(f1, 5, strides=2, padding="same", use_bias=False),  # (B, 7, 7, f1)
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(1),  # (B, 1) logit
        ],
        name="discriminator",
    )


print(
    f"generator: {make_generator().count_params():,} parameters; "
    f"discriminator: {make_discriminator().count_params():,} parameters"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Losses, optimisers and the training step
#
# With $a$ the discriminator's logit and `cross_entropy` the binary cross-entropy on logits,
# $$
# L_d = \underbrace{-\log\sigma(a(x))}_{\text{real} \to 1} \;\underbrace{-\,\log\bigl(1-\sigma(a(g(z)))\bigr)}_{\text{fake} \to 0},
# \qquad
# L_g = -\log \sigma\bigl(a(g(z))\bigr) \quad\text{(non-saturating)},
# $$
# averaged over the batch. One **training step** draws a batch of noise, runs both networks under
# two gradient tapes and updates both players *simultaneously* from the same forward pass, as in
# the tutorial. `tf.function` traces the step into a graph once; later calls skip Python. We also
# return the mean $d(x)$ and $d(g(z))$ so we can watch them approach ½. The step is built by a
# function of the four objects it updates, so that the training function below can make its own
# and the check below can run one on a separate pair of networks.
#
# Both players use Adam. Simultaneous gradient steps on a two-player game do not descend any
# single objective: they tend to *circle* around the equilibrium (the oscillation of section 3),
# with an amplitude that grows with the step size. At `lecture` scale we therefore let the learning
# rate decay along a cosine, $\eta_t = \eta_0\bigl[\alpha + (1-\alpha)\tfrac12(1+\cos(\pi t/T))\bigr]$ with
# $\alpha = 0.1$: large steps early to learn fast, small ones at the end to settle. The `full`
# scale keeps the tutorial's constant rate ($\alpha = 1$).

# %% slideshow={"slide_type": "subslide"}
cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)


def discriminator_loss(real_output, fake_output):
    return cross_entropy(tf.ones_like(real_output), real_output) + cross_entropy(
        tf.zeros_like(fake_output), fake_output
    )


def generator_loss(fake_output):
    return cross_entropy(tf.ones_like(fake_output), fake_output)  # = mean of −log d(g(z))


def learning_rate():
    return keras.optimizers.schedules.CosineDecay(
        LEARNING_RATE, decay_steps=EPOCHS * steps_per_epoch, alpha=LR_FINAL_FRACTION
    )


def make_train_step(generator, discriminator, generator_optimizer, discriminator_optimizer):
    def train_step(images):
        noise = tf.random.normal([tf.shape(images)[0], NOISE_DIM])  # (B, 100)
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)  # (B, 28, 28, 1)
            real_output = discriminator(images, training=True)  # (B, 1)
            fake_output = discriminator(generated_images, training=True)  # (B, 1)
            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)
        gen_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
        disc_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gen_grads, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(disc_grads, discriminator.trainable_variables))
        return (
            gen_loss,
            disc_loss,
            tf.reduce_mean(tf.sigmoid(real_output)),
            tf.reduce_mean(tf.sigmoid(fake_output)),
        )

    return train_step


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Checkpoints
#
# `tf.train.Checkpoint` saves the variables of everything it is given (both networks, both
# optimisers' moment estimates, and an epoch counter); `CheckpointManager` numbers the saves and
# keeps the last few. The training below saves one after every epoch. If a long run is
# interrupted, set `RESUME = True` in the set-up cell and run the notebook again: training
# continues from the last saved epoch, and the history of the measurements (a small JSON file
# next to the checkpoints) continues with it. `RESUME` is one of the hyper-parameters of the
# cache's key, so a resumed run is cached apart from an uninterrupted one. (The negative control,
# `COURSE_SCALE=untrained`, never resumes: it must start from random weights.)

# %%
HISTORY_FILE = os.path.join(CKPT_DIR, "history.json")


def checkpoint_manager(epoch, **objects):
    """A CheckpointManager in CKPT_DIR for an epoch counter and the objects (networks, optimisers)."""
    checkpoint = tf.train.Checkpoint(epoch=epoch, **objects)
    return tf.train.CheckpointManager(checkpoint, CKPT_DIR, max_to_keep=2)


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Measuring the samples
#
# The **Fréchet distance** between two sets of images fits a Gaussian to each set's features
# and computes
# $\lVert\mu_a-\mu_b\rVert^2 + \mathrm{tr}\bigl(\Sigma_a+\Sigma_b-2(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2})^{1/2}\bigr)$.
# Published **FIDs** use the features of an Inception-v3 network trained on ImageNet; ours
# (`lib.metrics`, the *Fréchet classifier distance*, FCD) uses the penultimate layer of the course's
# own small MNIST classifier. **The numbers are therefore not comparable with published FIDs**,
# only with other numbers in this course. `metrics.score_samples` scores a fixed number of
# generated images (`metrics.sample_count()`, the same in every lecture at a given scale) against
# a fixed set of real training images, and returns two references computed with as many images:
# held-out real test digits (the **floor**, what a perfect generator would score up to sampling
# noise) and uniform noise (the **ceiling**). It also counts which digit the classifier sees in
# each generated image: a collapsed generator would pile up on a few labels. The training scores
# its generator once before the first update: that is the reference the training must beat.

# %%
clf = metrics.load_classifier()
N_SCORE = metrics.sample_count()  # generated images per score


def sample_generator(generator, n, batch=500):
    """n samples of `generator` as a NumPy array (n, 28, 28, 1) in [-1, 1], in inference mode."""
    out = [
        generator(tf.random.normal([min(batch, n - i), NOISE_DIM]), training=False).numpy()
        for i in range(0, n, batch)
    ]
    return np.concatenate(out)


def score_generator(generator):
    """metrics.score_samples of N_SCORE fresh samples: FCD, label distribution, digits covered..."""
    return metrics.score_samples(sample_generator(generator, N_SCORE), pixel_range="symmetric")


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### One step, checked
# Before the long loop, one training step on one batch, taken by a separate pair of networks
# with their own optimisers (the networks trained below start afresh from the seed). The
# generator's weights must move: a weight that a step leaves unchanged receives no gradient.

# %%
probe_generator, probe_discriminator = make_generator(), make_discriminator()
probe_step = make_train_step(  # run eagerly, once
    probe_generator,
    probe_discriminator,
    keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1),
    keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1),
)
first_batch = tf.constant(train_x[:BATCH_SIZE])
weights_before = [w.numpy().copy() for w in probe_generator.trainable_variables]
gen_loss, disc_loss, d_real, d_fake = probe_step(first_batch)
print(
    f"one step: generator loss {float(gen_loss):.3f}, discriminator loss {float(disc_loss):.3f}, "
    f"d(x) = {float(d_real):.3f}, d(g(z)) = {float(d_fake):.3f}"
)
changed = [not np.allclose(a, b.numpy()) for a, b in zip(weights_before, probe_generator.trainable_variables)]
assert all(changed), "a training step must change every generator weight"
del probe_generator, probe_discriminator, probe_step

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Training, watched
# `train_dcgan` builds the optimisers, the compiled training step and the checkpoint manager,
# scores the untrained generator, and then, each epoch: a progress bar over the batches (with the
# running losses), the epoch's mean losses and mean $d(x)$, $d(g(z))$, the score of `N_SCORE`
# fresh samples (FCD and predicted-label distribution), a grid of the same `N_FIXED` noise vectors
# (so we watch *one* set of digits evolve) and a checkpoint. Everything the cells below read from
# the training is in the history it returns, which the cache stores with the two networks.

# %%
FIXED_NOISE = (
    np.random.default_rng(1).standard_normal((N_FIXED, NOISE_DIM)).astype(np.float32)
)  # (16, 100), every epoch


def train_dcgan(models, images):
    """Train models["generator"] and models["discriminator"] on `images`; return the history."""
    generator, discriminator = models["generator"], models["discriminator"]
    generator_optimizer = keras.optimizers.Adam(learning_rate(), beta_1=BETA_1)
    discriminator_optimizer = keras.optimizers.Adam(learning_rate(), beta_1=BETA_1)
    train_step = tf.function(
        make_train_step(generator, discriminator, generator_optimizer, discriminator_optimizer)
    )
    epoch_counter = tf.Variable(0, dtype=tf.int64, name="epoch")
    resume = RESUME and not config.untrained()
    if not resume:
        shutil.rmtree(CKPT_DIR, ignore_errors=True)  # start afresh: only this notebook's own folder
    manager = checkpoint_manager(
        epoch_counter,
        generator=generator,
        discriminator=discriminator,
        generator_optimizer=generator_optimizer,
        discriminator_optimizer=discriminator_optimizer,
    )
    if resume and manager.latest_checkpoint:
        manager.checkpoint.restore(manager.latest_checkpoint)
        with open(HISTORY_FILE) as f:
            history = json.load(f)
        print(f"resumed from {manager.latest_checkpoint} after epoch {int(epoch_counter)}")
    else:
        history = {key: [] for key in ("gen_loss", "disc_loss", "d_real", "d_fake", "fcd", "labels")}
        history |= {"grids": [], "seconds": []}  # fixed-noise images and elapsed time per epoch
        history["before_training"] = score_generator(generator)  # the untrained generator
        print(f"starting afresh; checkpoints go to {CKPT_DIR}")
    dataset = make_dataset(images)
    t_start = time.time() - (history["seconds"][-1] if history["seconds"] else 0.0)
    epochs = tqdm(config.training(range(int(epoch_counter), EPOCHS)), desc="DCGAN epochs")
    for epoch in epochs:
        sums = np.zeros(4)
        bar = tqdm(
            config.training(dataset), total=steps_per_epoch, desc=f"epoch {epoch + 1}/{EPOCHS}", leave=False
        )
        for i, image_batch in enumerate(bar, start=1):
            sums += [float(v) for v in train_step(image_batch)]
            if i % 10 == 0:
                bar.set_postfix(g_loss=f"{sums[0] / i:.3f}", d_loss=f"{sums[1] / i:.3f}")
        for key, value in zip(["gen_loss", "disc_loss", "d_real", "d_fake"], sums / i):
            history[key].append(float(value))
        score = score_generator(generator)
        history["fcd"].append(score["fcd"])
        history["labels"].append(score["label_distribution"])
        grid = generator(FIXED_NOISE, training=False).numpy()[..., 0]  # (16, 28, 28)
        history["grids"].append(np.round(grid, 4).tolist())  # 4 decimals: the history is JSON
        history["seconds"].append(time.time() - t_start)
        epoch_counter.assign(epoch + 1)
        manager.save()
        with open(HISTORY_FILE, "w") as f:
            json.dump(history, f)
        epochs.set_postfix(FCD=f"{score['fcd']:.1f}")
    return history


models, history = cache.cached_keras(
    "06_dcgan",
    build=lambda: {"generator": make_generator(), "discriminator": make_discriminator()},
    train=lambda models: train_dcgan(models, train_x),
    code=[
        make_dataset,
        make_generator,
        make_discriminator,
        discriminator_loss,
        generator_loss,
        learning_rate,
        make_train_step,
        checkpoint_manager,
        sample_generator,
        score_generator,
        train_dcgan,
        metrics,
    ],
    params={
        "buffer_size": BUFFER_SIZE,
        "batch_size": BATCH_SIZE,
        "noise_dim": NOISE_DIM,
        "epochs": EPOCHS,
        "steps_per_epoch": steps_per_epoch,
        "learning_rate": LEARNING_RATE,
        "beta_1": BETA_1,
        "lr_final_fraction": LR_FINAL_FRACTION,
        "generator_filters": GEN_FILTERS,
        "discriminator_filters": DISC_FILTERS,
        "n_score": N_SCORE,
        "resume": RESUME,
    },
    data={"images": train_x, "fixed_noise": FIXED_NOISE},
    seed=SEED,
)
generator, discriminator = models["generator"], models["discriminator"]
before = history["before_training"]
fixed_grids = [np.array(g, np.float32) for g in history["grids"]]  # (16, 28, 28) per epoch
print(
    f"FCD with {N_SCORE} images: held-out real digits (floor) {before['unseen_real']:.2f}, uniform noise "
    f"(ceiling) {before['noise']:.2f}, the generator before training {before['fcd']:.2f} "
    f"({before['digits_covered']} digit(s) with >= 2% of its samples)"
)
for epoch in range(len(history["fcd"])):
    print(
        f"epoch {epoch + 1:3d}: g_loss {history['gen_loss'][epoch]:.3f}  d_loss {history['disc_loss'][epoch]:.3f}  "
        f"d(x) {history['d_real'][epoch]:.3f}  d(g(z)) {history['d_fake'][epoch]:.3f}  "
        f"FCD {history['fcd'][epoch]:7.2f}  [{history['seconds'][epoch]:.0f} s]"
    )

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The curves
# Compare the losses with the values of the game's equilibrium ($L_d = \log 4 \approx 1.39$,
# $L_g = \log 2 \approx 0.69$, dotted) and $d(x)$, $d(g(z))$ with ½. They stay close to these
# values from the first epoch on, while the samples are still poor: as section 1 warned, they say
# that the game is balanced, not that the generator is right. The Fréchet distance is the curve
# that measures progress (its first point, at epoch 0, is the generator before training).
#
# The FCD need not fall monotonically. The right-hand panel shows why: from one epoch to the next
# the generator can shift its mass between digit classes, over-producing some and neglecting
# others, which is the oscillation of the toy GAN of section 3 in 784 dimensions. The decaying
# learning rate is there to damp these swings towards the end (exercise 5 removes it). This is
# also why the checks below score a fresh set of samples after training instead of trusting the
# last point of the curve alone.

# %% slideshow={"slide_type": "subslide"}
print(
    f"last epoch: L_d = {history['disc_loss'][-1]:.3f} (log 4 = {np.log(4):.3f}), "
    f"L_g = {history['gen_loss'][-1]:.3f} (log 2 = {np.log(2):.3f}), "
    f"mean d(x) = {history['d_real'][-1]:.3f}, mean d(g(z)) = {history['d_fake'][-1]:.3f}"
)
fig, axes = plt.subplots(1, 4, figsize=(18, 3.4))
epochs_axis = np.arange(1, len(history["fcd"]) + 1)
axes[0].plot(epochs_axis, history["gen_loss"], "o-", label="generator $L_g$")
axes[0].plot(epochs_axis, history["disc_loss"], "o-", label="discriminator $L_d$")
axes[0].axhline(np.log(4), color="grey", ls=":", lw=1)
axes[0].axhline(np.log(2), color="grey", ls=":", lw=1)
axes[0].set_title("losses (dotted: log 4, log 2)")
axes[1].plot(epochs_axis, history["d_real"], "o-", label="mean $d(x)$, real")
axes[1].plot(epochs_axis, history["d_fake"], "o-", label="mean $d(g(z))$, generated")
axes[1].axhline(0.5, color="grey", ls=":", lw=1)
axes[1].set_title("discriminator outputs")
axes[2].plot(np.r_[0, epochs_axis], [before["fcd"], *history["fcd"]], "o-", label="generator")
axes[2].axhline(before["unseen_real"], color="green", ls="--", label="floor: held-out real digits")
axes[2].axhline(before["noise"], color="red", ls="--", label="ceiling: uniform noise")
axes[2].set_yscale("log")
axes[2].set_title(f"Fréchet classifier distance ({N_SCORE} images)")
for ax in axes[:3]:
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
label_history = np.array(history["labels"]).T  # (10, epochs)
im = axes[3].imshow(
    label_history,
    aspect="auto",
    cmap="viridis",
    vmin=0,
    vmax=max(0.3, label_history.max()),
    extent=(0.5, label_history.shape[1] + 0.5, 9.5, -0.5),
)
axes[3].set_yticks(range(10))
axes[3].set_xlabel("epoch")
axes[3].set_ylabel("predicted digit")
axes[3].set_title("share of generated digits per class")
fig.colorbar(im, ax=axes[3])
fig.tight_layout()

# %% [markdown]
# The fixed-noise grid after every epoch, as an animation (press play), and 64 fresh samples at
# the end.

# %% slideshow={"slide_type": "subslide"}
plotting.animate_chain(
    fixed_grids[-40:],
    ncols=8,
    interval=300,
    vrange=(-1, 1),
    titles=[f"epoch {e}" for e in range(max(1, len(fixed_grids) - 39), len(fixed_grids) + 1)],
)

# %%
final_samples = sample_generator(generator, N_SCORE)  # (N_SCORE, 28, 28, 1) in [-1, 1]
plotting.image_grid(
    final_samples[:64], ncols=16, vrange=(-1, 1), title=f"DCGAN samples after {len(history['fcd'])} epochs"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Restoring a checkpoint
# A fresh generator with random weights, restored from the latest checkpoint, must reproduce the
# trained generator's images exactly. (`expect_partial()` says that we restore only the
# generator and leave the rest of the checkpoint unused on purpose.) A run that loaded the
# networks from the cache trained nothing and wrote no checkpoint: it first saves one of the
# loaded networks (and the history beside it), as the last epoch of a training would have.


# %%
def written_by_this_training():
    """Whether CKPT_DIR holds the checkpoints of the training that `history` comes from."""
    if tf.train.latest_checkpoint(CKPT_DIR) is None or not os.path.isfile(HISTORY_FILE):
        return False
    with open(HISTORY_FILE) as f:
        return json.load(f) == history


if not written_by_this_training():  # loaded from the cache (or CKPT_DIR holds an older run's)
    n_epochs = len(history["fcd"])
    manager = checkpoint_manager(
        tf.Variable(n_epochs, dtype=tf.int64), generator=generator, discriminator=discriminator
    )
    manager.save(checkpoint_number=n_epochs)
    with open(HISTORY_FILE, "w") as f:
        json.dump(history, f)
latest_checkpoint = tf.train.latest_checkpoint(CKPT_DIR)
restored_generator = make_generator()
status = tf.train.Checkpoint(generator=restored_generator).restore(latest_checkpoint)
status.expect_partial()
print(f"restored {latest_checkpoint}")
same = np.allclose(
    restored_generator(FIXED_NOISE, training=False).numpy(),
    generator(FIXED_NOISE, training=False).numpy(),
    atol=1e-5,
)
assert same, "the restored generator must reproduce the trained one"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Mode coverage on MNIST
# Which digit does the classifier see in each generated image? A generator covering every mode
# gives about 10% each, like the real digits; a collapsed one piles up on a few. We summarise the
# difference with the Jensen–Shannon divergence between the generated and the training labels'
# distributions (0 = identical, $\log 2 \approx 0.69$ = disjoint). To read the value, the cell also
# computes the JSD of generators that make only $k$ digits, in equal shares (a collapse onto $k$
# modes).

# %%
final = metrics.score_samples(final_samples, pixel_range="symmetric")
label_fake = np.array(final["label_distribution"])
label_real = np.bincount(train_labels, minlength=10) / len(train_labels)  # the training labels


def collapse_jsd(k):
    """JSD (nats) from the training labels of a generator that makes digits 0..k-1 in equal shares."""
    return divergences.js_divergence(np.r_[np.full(k, 1.0 / k), np.zeros(10 - k)], label_real)


print(
    "JSD of a collapse onto k digits: " + ", ".join(f"k={k}: {collapse_jsd(k):.3f}" for k in (1, 2, 3, 5, 8))
)
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(np.arange(10) - 0.2, label_real, width=0.4, label="training digits")
ax.bar(np.arange(10) + 0.2, label_fake, width=0.4, label="DCGAN samples")
ax.set_xticks(range(10))
ax.set_xlabel("digit predicted by the classifier (true label for the training digits)")
ax.set_ylabel("fraction")
ax.set_title(
    f"label distribution (JSD {final['label_jsd']:.3f} nats; {final['digits_covered']}/10 digits with ≥ 2%)"
)
ax.legend()
fig.tight_layout()
print(f"classifier test accuracy {clf.test_accuracy:.2%}; generated label shares: {np.round(label_fake, 3)}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Recorded results and checks

# %%
fcd_curve = [before["fcd"], *history["fcd"]]  # epoch 0 (before training), 1, 2, ...
results.describe(
    dataset="MNIST (offline subset)" if len(train_images) < 60000 else "MNIST",
    n_train=len(train_x),
    n_test=len(test_images),
    epochs=len(history["fcd"]),
    batch_size=BATCH_SIZE,
    generator_filters=list(GEN_FILTERS),
    discriminator_filters=list(DISC_FILTERS),
    metric_note="Fréchet distance in the course's MNIST-classifier feature space, "
    "not comparable with Inception FIDs",
)
results.record("dcgan_score_final", final)  # the whole dict of metrics.score_samples
results.record("fcd_final", final["fcd"], unit="FCD", key="DCGAN FCD on MNIST", per_epoch=fcd_curve)
results.record("fcd_before_training", before["fcd"], unit="FCD")
results.record("fcd_first_epoch", history["fcd"][0], unit="FCD")
results.record("fcd_floor_heldout_real", final["unseen_real"], unit="FCD")
results.record("fcd_ceiling_uniform_noise", final["noise"], unit="FCD")
results.record("label_jsd_vs_real", final["label_jsd"], unit="nats", generated=final["label_distribution"])
results.record(
    "digits_with_2pct_of_samples", final["digits_covered"], unit="of 10", key="DCGAN digits covered"
)
results.record("final_mean_d_real", history["d_real"][-1], unit="probability")
results.record("final_mean_d_fake", history["d_fake"][-1], unit="probability")

# The DCGAN's row in the course's comparison of its MNIST models (build/comparison.md): the same
# scorer as every other model, plus its size, its training and sampling times, and whether its
# samples copy training images (nearest-training-image distances against held-out digits).
t0 = time.perf_counter()
for _ in range(5):
    sample_generator(generator, 100)
sampling_seconds_per_100 = (time.perf_counter() - t0) / 5
copies = memorisation.memorisation_check(
    final_samples, train_images[: len(train_x)], test_images, pixel_range_samples="symmetric"
)
print(copies)
comparison.record_model(
    "DCGAN",
    score=final,
    n_parameters=int(sum(np.prod(w.shape) for w in generator.trainable_weights)),
    training_seconds=float(history["seconds"][-1]),
    sampling_seconds_per_100=sampling_seconds_per_100,
    memorisation=copies.summary(),
)
print(
    f"FCD: before training {before['fcd']:.2f}, first epoch {history['fcd'][0]:.2f}, last epoch "
    f"{history['fcd'][-1]:.2f}, fresh samples after training {final['fcd']:.2f}; "
    f"floor {final['unseen_real']:.2f}, ceiling {final['noise']:.2f}"
)
print(
    f"digits with >= 2% of the samples: {before['digits_covered']} before training, "
    f"{final['digits_covered']} after; label JSD {before['label_jsd']:.3f} -> {final['label_jsd']:.3f} nats "
    f"(a collapse onto 5 digits: {collapse_jsd(5):.3f})"
)
if SCALE in ("smoke", "untrained"):
    shutil.rmtree(CKPT_DIR, ignore_errors=True)  # the temporary checkpoints of a CI run

# %% tags=["learning-check"]
# The DCGAN learns digits. The same generator before training scores FCD 1049-1054 with 1
# digit and a label JSD of 0.50-0.53 nats (COURSE_SEED=0,1,2). After the smoke run's 320 steps,
# fresh samples score FCD 263-362 (0.25-0.34 of the untrained value), 7-9 digits, label JSD
# 0.06-0.13 (the same DCGAN in a stand-alone script, seeds 0-2: 0.21-0.38, 9-10 digits, 0.04-0.12).
# Lecture scale (15 epochs) reaches FCD ~75 with all 10 digits. The thresholds: FCD below 0.6x
# the untrained value, at least 6 digits, and a label distribution closer to the real one than a
# generator that makes exactly 5 digits in equal shares (JSD 0.209).
assert final["fcd"] < config.scaled(smoke=0.6, lecture=0.3, full=0.3) * before["fcd"], (
    f"FCD must fall well below the untrained generator's ({before['fcd']:.2f} -> {final['fcd']:.2f})"
)
assert final["digits_covered"] >= config.scaled(smoke=6, lecture=9, full=9), (
    f"only {final['digits_covered']} digits among the samples: mode collapse?"
)
assert final["label_jsd"] < collapse_jsd(5), (
    f"label distribution too far from the real one ({final['label_jsd']:.3f})"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# - A GAN is a two-player game: the discriminator is a classifier, and at its optimum
#   $d^* = p_{\text{data}}/(p_{\text{data}}+p_{\text{model}})$ the generator minimises
#   $-\log 4 + 2\,\mathrm{JSD}$. At equilibrium $d \equiv \tfrac12$ and the losses stop carrying
#   information, so a GAN must be *measured* by something other than its losses.
# - The non-saturating loss $-\log d(g(z))$ has gradient $1-D$ through the logit, where the
#   minimax loss has $D$: it keeps learning when the discriminator wins early on.
# - GANs need neither a partition function nor approximate inference, only samples and a
#   classifier; the price is a game instead of an objective. Its convergence is guaranteed only
#   when the generator's cost against the best discriminator is convex in the generator's
#   parameters, which it is not for neural networks; even the bilinear game $v = ab$ makes
#   gradient players circle or spiral around the equilibrium.
# - The game's dynamics can fail: on the ring of Gaussians, a generator that moves faster than the
#   discriminator collapses onto one mode and hops between modes; counting coverage shows it,
#   while a balanced run covers the ring (the checks assert both).
# - The DCGAN learns rough digits on a CPU. Its Fréchet classifier distance must fall several-fold
#   below that of the same generator before training, and its samples must spread over most
#   digits (the checks assert both); it stays above the floor set by real held-out digits. These
#   FCDs use our MNIST classifier, **not** Inception: compare them only with other lectures of
#   this course.
#
# ## Further reading
#
# - {cite:t}`goodfellow2016`, sections
#   20.10–20.14, <https://www.deeplearningbook.org/contents/generative_models.html>: directed
#   generative networks, among them VAEs and GANs (with a discussion of why GAN training may not
#   converge), drawing samples from autoencoders, generative stochastic networks, other ways of
#   generating, and how generative models are evaluated.
# - {cite:t}`goodfellow2016tutorial`, *NIPS 2016 Tutorial: Generative Adversarial Networks*
#   (arXiv:1701.00160): how GANs
#   compare with other generative models, the non-saturating loss, non-convergence and mode
#   collapse, and practical tricks.
# - {cite:t}`goodfellow2014` (six pages); {cite:t}`radford2016` (the DCGAN); the
#   TensorFlow DCGAN tutorial, <https://www.tensorflow.org/tutorials/generative/dcgan>.
#
# ## Exercises
#
# 1. **One-sided label smoothing** {cite:p}`salimans2016`. In `discriminator_loss`, replace the
#    real targets `tf.ones_like(real_output)` by `0.9 * tf.ones_like(real_output)`. Re-run the DCGAN:
#    what happens to $d(x)$, the losses and the FCD curve? Why smooth only the real side?
# 2. **A different loss.** (a) Train the toy GAN with the *minimax* generator loss
#    $\mathbb{E}\log(1 - \sigma(a)) = -\mathbb{E}\,\mathrm{softplus}(a)$ and compare how fast the modes
#    are covered. (b) Replace the DCGAN losses by the least-squares GAN {cite:p}`mao2017`:
#    $L_d = \tfrac12\mathbb{E}(a(x)-1)^2 + \tfrac12\mathbb{E}\,a(g(z))^2$, $L_g = \tfrac12\mathbb{E}(a(g(z))-1)^2$,
#    and compare the final FCD. (c) Can you stop the toy collapse with 5 *discriminator* steps per
#    generator step?
# 3. **A conditional GAN** {cite:p}`mirza2014`. Give both networks the label: concatenate a
#    one-hot `y` to `z` in the generator, and add a second input to the discriminator (e.g. a
#    `layers.Embedding(10, 28*28)` reshaped to an extra image channel). Train on
#    `(train_x, train_labels)` and draw a grid whose rows are the digits 0–9. Check with
#    `metrics.predict_labels` that the generated digit matches the requested label: what accuracy
#    do you get?
# 4. **Resume.** Interrupt the DCGAN training after a few epochs (an unfinished training is not
#    cached), set `RESUME = True`, run the notebook again and check that the FCD curve continues
#    where it stopped.
# 5. **A constant learning rate.** Set `LR_FINAL_FRACTION = 1.0` and re-run the DCGAN at
#    `lecture` scale. Compare the FCD curve and the per-class shares with the decayed run: do the
#    swings between epochs persist to the end? How different are the last few epochs' FCDs?
