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
#   Jensen–Shannon divergence, and what a discriminator that answers ½ does and does not tell;
# - why GANs avoid partition functions and approximate inference; when the game provably converges
#   (in the space of densities, and locally near an equilibrium) and why gradient play need not;
# - the *non-saturating* generator loss: why it gives gradients early in training, and why it
#   plays a different game;
# - what goes wrong: oscillation and mode collapse, shown on a 2-D toy GAN whose mode coverage we
#   **count**;
# - the DCGAN of the TensorFlow tutorial (transposed convolutions, batch norm, a `tf.function`
#   training step, checkpoints), trained on MNIST and **measured** epoch by epoch with the course's
#   Fréchet classifier distance and the distribution of predicted labels.
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
# **What the generator can be.** The generator learns from the gradient of the discriminator's
# verdict with respect to its *samples*, passed on to its parameters through
# $\partial x/\partial\theta$. So it must be a sampler we can differentiate through: a network
# $x = g_\theta(z)$ fed with continuous noise has that derivative by construction. The binary
# states of a Boltzmann machine (the RBMs of lectures 01–02, the quantum one of lecture 09), drawn
# by Gibbs sampling, have none: training one adversarially would need other gradient estimators
# (score-function or relaxation estimators), which this course does not cover. The generators of
# this lecture are neural networks.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up
# Everything that sets a size or a step count is here, chosen per scale with `config.scaled`.
# The `full` values are the TensorFlow DCGAN tutorial's (batch 256, noise dimension 100, Adam with
# learning rate $10^{-4}$, 50 epochs, filters 256/128/64). Two things differ from the tutorial at
# every scale, so even `full` is not an exact replay of its run: the discriminator's convolutions
# have no bias (with one, TensorFlow's CPU graph optimiser logs a harmless error at every
# training; the discriminator's last, dense layer keeps its bias), and the model trains on the
# course's training split, five sixths of the MNIST training images, not on all of them. The
# `lecture` values make the same model run in minutes on a laptop CPU: thinner networks, and the
# Adam settings of the DCGAN paper
# {cite:p}`radford2016`, learning rate $2\cdot10^{-4}$ and $\beta_1 = 0.5$. Its authors found that
# "leaving the momentum term $\beta_1$ at the suggested value of 0.9 resulted in training
# oscillation and instability while reducing it to 0.5 helped stabilize training". At the `smoke`
# and `lecture` scales the rate decays along a cosine to a tenth of its value by the last step
# (section 4). The
# `smoke` scale has only a few hundred steps, so it takes a five times larger learning rate:
# enough to turn noise into rough digits, which is all its checks ask.

# %% slideshow={"slide_type": "subslide"}
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from tqdm.auto import tqdm

from lib import (
    cache,
    checks,
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
SEED = config.seed()  # 0, or COURSE_SEED
print(
    f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
    f"devices: {[d.device_type for d in tf.config.list_logical_devices()]}"
)

# --- the DCGAN (the tutorial's values at full scale) ---
BATCH_SIZE = config.scaled(smoke=64, lecture=64, full=256)
NOISE_DIM = 100
EPOCHS = config.scaled(smoke=5, lecture=15, full=50)
LEARNING_RATE = config.scaled(smoke=1e-3, lecture=2e-4, full=1e-4)
BETA_1 = config.scaled(smoke=0.5, lecture=0.5, full=0.9)  # 0.9 = Keras' default, as in the tutorial
LR_FINAL_FRACTION = config.scaled(smoke=0.1, lecture=0.1, full=1.0)  # cosine decay to this; 1 = constant
GEN_FILTERS = config.scaled(smoke=(64, 32, 16), lecture=(128, 64, 32), full=(256, 128, 64))
DISC_FILTERS = config.scaled(smoke=(16, 32), lecture=(32, 64), full=(64, 128))
N_FIXED = 16  # fixed-noise images watched per epoch

# --- the toy GAN on a ring of Gaussians ---
TOY_RADIUS, TOY_STD = 2.0, 0.05  # 8 modes on a circle, each a Gaussian of this standard deviation
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
# v(\theta, \phi) = \mathbb{E}_{x\sim p_{\text{data}}}\bigl[\log d_\phi(x)\bigr]
#                 + \mathbb{E}_{z\sim p(z)}\bigl[\log\bigl(1 - d_\phi(g_\theta(z))\bigr)\bigr].
# $$
# On a balanced set, half real images labelled 1 and half generated ones labelled 0, the binary
# cross-entropy of the classifier $d_\phi$ is $-v/2$: the discriminator is simply a classifier.
# It is a **zero-sum** game: the generator's pay-off is $-v$, i.e. it minimises
# $\mathbb{E}_z\log(1 - D)$, where we write $D = d_\phi(g_\theta(z))$ for the discriminator's
# verdict on a generated sample.
#
# **The optimal discriminator.** For a fixed generator, write the value as one integral,
# $v = \int \bigl[p_{\text{data}}(x)\log d(x) + p_{\text{model}}(x)\log(1-d(x))\bigr]\,dx$, and
# maximise the integrand pointwise: $p_{\text{data}}\log y + p_{\text{model}}\log(1-y)$ has its
# maximum on $(0,1)$ where $p_{\text{data}}/y = p_{\text{model}}/(1-y)$, i.e.
# $$
# d^*(x) = \frac{p_{\text{data}}(x)}{p_{\text{data}}(x) + p_{\text{model}}(x)}.
# $$
# **The generator's objective at $d^*$.** Substituting, with the mixture
# $m = \tfrac12(p_{\text{data}} + p_{\text{model}})$, so that $d^* = p_{\text{data}}/2m$ and
# $1 - d^* = p_{\text{model}}/2m$; writing $\log\frac{p}{2m} = \log\frac{p}{m} - \log 2$ turns each
# expectation into a KL divergence minus $\log 2$:
#
# $$
# v(\theta, d^*) = \mathbb{E}_{p_{\text{data}}}\Bigl[\log\frac{p_{\text{data}}}{2m}\Bigr] +
#  \mathbb{E}_{p_{\text{model}}}\Bigl[\log\frac{p_{\text{model}}}{2m}\Bigr] =
#  \mathrm{KL}(p_{\text{data}}\|m) + \mathrm{KL}(p_{\text{model}}\|m) - 2\log 2 =
#  -\log 4 + 2\,\mathrm{JSD}(p_{\text{data}}\,\|\,p_{\text{model}}),
# $$
#
# where $\mathrm{JSD}(p\|q) = \tfrac12\mathrm{KL}(p\|m) + \tfrac12\mathrm{KL}(q\|m) \in [0, \log 2]$.
# So *if* the discriminator were optimal at every step, the generator would minimise the
# Jensen–Shannon divergence, whose unique minimum is $p_{\text{model}} = p_{\text{data}}$.
#
# **When $d$ answers ½ everywhere.** At that minimum $d^* \equiv \tfrac12$ and
# $v = -\log 4 \approx -1.386$. The discriminator's loss $L_d = -v$ (the sum of the two batch
# means, twice the balanced cross-entropy) is then $\log 4$; the zero-sum generator's loss
# $\mathbb{E}\log(1-D)$ is $-\log 2$ (the non-saturating loss of section 2 reads $+\log 2$).
# A constant $d$ has zero gradient in $x$, so it gives the generator no direction. For the
# *optimal* discriminator the converse holds as well: $d^*(x) = \tfrac12$ exactly where
# $p_{\text{data}}(x) = p_{\text{model}}(x)$, so $d^* \equiv \tfrac12$ proves
# $p_{\text{model}} = p_{\text{data}}$. But training never shows us $d^*$. A *trained*
# discriminator that answers about ½ proves nothing: one from too restricted a family, or one not
# yet trained, can answer about ½ whatever the samples look like (the best *linear* logistic
# discriminator, $\sigma(w^\top x + b)$, answers exactly ½ whenever the model's mean equals the
# data's: $w = 0$ is then a stationary point of a concave objective), and in
# training we only ever see batch means of $d$, not $d(x)$ at every $x$. This is why, below, we
# watch the losses but **measure** the samples with something else.
#
# **Does the game converge?** Call $c(\theta) = \max_\phi v(\theta, \phi)$ the generator's cost
# against a discriminator that always answers best. When the maximiser $\phi^*(\theta)$ is unique,
# *Danskin's theorem* (the envelope theorem) gives its gradient:
# $\nabla_\theta c(\theta) = \nabla_\theta v(\theta, \phi)\big|_{\phi = \phi^*(\theta)}$, the
# gradient with the discriminator held fixed at its optimum. So "train $d$ to its optimum, take a
# small gradient step on $g$, repeat" is gradient descent on $c$. {cite:t}`goodfellow2014` (their
# Proposition 2) take these steps in the space of densities, where
# $c = -\log 4 + 2\,\mathrm{JSD}$ is convex in $p_{\text{model}}$: if the model family contains
# $p_{\text{data}}$ and the discriminator is optimal at every step, $p_{\text{model}}$ converges to
# $p_{\text{data}}$. Convexity is a sufficient condition there, not a necessary one, and real
# training breaks its assumptions: (i) we move the *weights* $\theta$, in which $c$ is not convex;
# (ii) the discriminator gets one (or a few) gradient steps per generator step, never its maximum;
# (iii) two players taking gradient steps need not converge even on the simplest convex–concave
# value. What can be proved without convexity is *local* convergence near an equilibrium, and only
# under assumptions on the game there: for simultaneous gradient steps when the model's and the
# data's distributions have densities (are absolutely continuous) {cite:p}`nagarajan2017`, an
# assumption that fails when the data lie on a low-dimensional manifold, as images do; with a
# gradient penalty on the discriminator {cite:p}`mescheder2018`; and for a discriminator that
# learns on a faster time scale than the generator, with step sizes that decay at prescribed rates
# (the two time-scale update rule of {cite:t}`heusel2017`). Without such a regulariser,
# {cite:t}`mescheder2018` show that neither simultaneous nor alternating gradient steps converge
# locally even on a one-parameter GAN, their *Dirac-GAN*, which near its equilibrium behaves like
# the bilinear game below.
#
# The smallest example of (iii) is $v(\theta, \phi) = \theta\phi$, with the generator minimising
# over $\theta$ and the discriminator maximising over $\phi$; the equilibrium is
# $\theta = \phi = 0$. Simultaneous steps $\theta \leftarrow \theta - \eta\phi$,
# $\phi \leftarrow \phi + \eta\theta$ multiply the distance from it by $\sqrt{1+\eta^2}$ at every
# step: they spiral out. Alternating steps (update $\theta$, then $\phi$ with the new $\theta$)
# conserve $\theta^2 + \phi^2 - \eta\,\theta\phi$ (expand one step to check): they stay on an
# ellipse, neither approaching the equilibrium nor leaving it, and in general never return to
# the same point. Both behaviours come from the game's linearisation, whose eigenvalues $\pm i$
# are purely imaginary. Give the discriminator's objective a little curvature,
# $v = \theta\phi - \tfrac{\gamma}{2}\phi^2$ (a penalty on the discriminator, like the
# regularisers of {cite:t}`mescheder2018`), and for $0 < \gamma < 2$ the eigenvalues of the
# gradient flow, $-\tfrac{\gamma}{2} \pm i\sqrt{1 - \gamma^2/4}$, acquire a negative real part.
# The eigenvalues of one simultaneous step are then complex too (for $\gamma < 2$, whatever
# $\eta$), so their modulus is the square root of the step matrix's determinant,
# $\sqrt{1 - \eta\gamma + \eta^2}$: below 1 for $\eta < \gamma$, and the steps spiral *in*.
# A gradient penalty supplies curvature of this kind at the equilibrium. The DCGAN of section 4
# meets none of the assumptions above: it has no gradient penalty, one learning rate (and one
# schedule) for both players, and data on a low-dimensional manifold. No convergence guarantee
# covers it; that it updates both
# players simultaneously, as the TensorFlow tutorial does, is an empirical choice, and section 4
# measures what it gives. The second code cell below shows the three behaviours of the small games.
#
# First, the optimal discriminator in one dimension (the densities come from `lib/toy2d.py`,
# $d^*$ and $v$ from `lib/gan.py`, the JSD from `lib/divergences.py`, each tested against exact
# values in `tests/`): a two-mode data density and a one-mode model. Against this fixed
# generator we also fit discriminators of a restricted family, $d(x) = \sigma(\text{a polynomial of
# degree } k \text{ in } x)$, by maximising $v$ numerically (a logistic regression whose two classes
# are weighted by the two densities): as $k$ grows they can approach $v(\theta, d^*)$, but only
# from below, and a perturbed $d^*$ must do worse.

# %% slideshow={"slide_type": "subslide"}
grid = np.linspace(-8.0, 8.0, 2001)  # (G,)
dx = grid[1] - grid[0]
p_data = toy2d.mixture_density(grid, toy2d.line_means(2, spacing=4.0), std=0.7)  # modes at ±2
rng = np.random.default_rng(SEED)


def gaussian(x, mu, sigma):  # a one-mode "mixture"
    return toy2d.mixture_density(x, [[mu]], std=sigma)


def best_logistic_discriminator(p_data, p_model, degree):
    """d(x) = σ(Σ_k w_k (x/4)^k), k ≤ degree, with w maximising v(g, d) on the grid."""
    features = np.stack([(grid / 4) ** k for k in range(degree + 1)], axis=1)  # (G, degree + 1)

    def minus_v_and_gradient(w):
        logit = features @ w  # log d = −softplus(−logit), log(1 − d) = −softplus(logit)
        v = -dx * (p_data @ np.logaddexp(0, -logit) + p_model @ np.logaddexp(0, logit))
        grad = dx * features.T @ (p_data * expit(-logit) - p_model * expit(logit))
        return -v, -grad

    w = minimize(minus_v_and_gradient, np.zeros(degree + 1), jac=True, method="BFGS").x
    return expit(features @ w)


p_model = gaussian(grid, 1.0, 1.2)
d_star = gan.optimal_discriminator(p_data, p_model)
v_star = gan.gan_value(p_data, p_model, d_star, dx=dx)
jsd = divergences.js_divergence(p_data, p_model, dx=dx)
print(f"v(g, d*) = {v_star:.4f};  -log 4 + 2 JSD = {-np.log(4) + 2 * jsd:.4f}  (JSD = {jsd:.4f} nats)")
logistic = {k: best_logistic_discriminator(p_data, p_model, k) for k in (1, 2, 4)}
v_logistic = {k: gan.gan_value(p_data, p_model, d, dx=dx) for k, d in logistic.items()}
v_perturbed = [
    gan.gan_value(
        p_data, p_model, np.clip(d_star + 0.05 * rng.standard_normal(grid.shape), 1e-6, 1 - 1e-6), dx=dx
    )
    for _ in range(20)
]
print(
    "best logistic discriminator of degree k: "
    + ", ".join(f"k={k}: v = {v:.4f}" for k, v in v_logistic.items())
    + f"; d* plus noise of s.d. 0.05 (20 draws): v <= {max(v_perturbed):.4f}"
)
assert all(v <= v_star + 1e-9 for v in v_logistic.values()), "a discriminator beat d*: d* is not optimal"
assert max(v_perturbed) < v_star, "a perturbed d* did better than d*: d* is not optimal"

# The JSD against the model's position: it saturates at log 2 once the model is far away.
shifts = np.linspace(-6, 6, 121)
sigma_narrow = 0.3  # both densities' standard deviation
narrow_data = gaussian(grid, 0.0, sigma_narrow)
jsd_curve = np.array(
    [divergences.js_divergence(narrow_data, gaussian(grid, mu, sigma_narrow), dx=dx) for mu in shifts]
)
jsd_slope = np.gradient(jsd_curve, shifts)  # dJSD/dμ
print(
    "slope of the JSD: "
    + ", ".join(f"mu = {mu:g}: {np.interp(mu, shifts, jsd_slope):.1e}" for mu in (0.5, 1.0, 2.0, 3.0))
)

fig, axes = plt.subplots(1, 3, figsize=(16, 3.4))
axes[0].plot(grid, p_data, label=r"$p_{\mathrm{data}}$")
axes[0].plot(grid, p_model, label=r"$p_{\mathrm{model}}$")
axes[0].plot(grid, d_star, "k--", label=r"$d^* = p_{\mathrm{data}}/(p_{\mathrm{data}}+p_{\mathrm{model}})$")
axes[0].plot(grid, logistic[4], "k:", label="best logistic $d$, degree 4")
axes[0].axhline(0.5, color="grey", lw=0.5)
axes[0].set_xlabel("x")
axes[0].legend(fontsize=8)
axes[0].set_title("the optimal discriminator")
axes[1].plot(shifts, jsd_curve)
axes[1].axhline(np.log(2), color="grey", ls=":", label="log 2")
axes[1].set_xlabel(
    rf"model mean $\mu$ (data: N(0, $\sigma^2$), model: N($\mu$, $\sigma^2$), $\sigma$ = {sigma_narrow})"
)
axes[1].set_ylabel("JSD (nats)")
axes[1].legend()
axes[1].set_title("the JSD flattens when the densities barely overlap")
right = (shifts > 0.05) & (shifts <= 4.5)  # further out the slope is below the grid's rounding errors
axes[2].semilogy(shifts[right], np.abs(jsd_slope[right]))
axes[2].set_xlabel(r"model mean $\mu$")
axes[2].set_ylabel(r"$|d\,\mathrm{JSD}/d\mu|$")
axes[2].semilogy(
    shifts[right],
    np.sqrt(2 * np.pi) / (4 * sigma_narrow) * np.exp(-(shifts[right] ** 2) / (8 * sigma_narrow**2)),
    "k--",
    lw=0.8,
    label=r"$\frac{\sqrt{2\pi}}{4\sigma}e^{-\mu^2/8\sigma^2}$ (large $\mu$)",
)
axes[2].legend(fontsize=8)
axes[2].set_title(r"its gradient falls like $e^{-\mu^2/8\sigma^2}$: a parabola here")
fig.tight_layout()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The right panels are the **vanishing-gradient** problem {cite:p}`arjovsky2017`. Two Gaussians
# always overlap a little, so their JSD never reaches $\log 2$ exactly. But the overlap is decided
# by where the two densities cross, at $\mu/2$, where each has the height
# $e^{-\mu^2/8\sigma^2}/\sqrt{2\pi}\sigma$: once they barely overlap, the JSD's distance from
# $\log 2$ and its gradient with respect to the model's position fall like $e^{-\mu^2/8\sigma^2}$,
# a Gaussian in $\mu$, faster than any exponential (a parabola on the semilog panel). For large
# $\mu$ the gradient is $\frac{\sqrt{2\pi}}{4\sigma}e^{-\mu^2/8\sigma^2}$ to leading order (dashed; it
# follows from $\log 2 - \mathrm{JSD} = \int p_{\text{data}}\log(1 + p_{\text{model}}/p_{\text{data}})\,dx$
# and $\int e^{-u/2}\log(1+e^u)\,du = 2\pi$). Arjovsky and Bottou prove the extreme case: when the data and
# the model live on disjoint low-dimensional manifolds, as the samples of a freshly initialised
# generator and real images may in 784 dimensions, the JSD is exactly $\log 2$, a near-optimal
# discriminator separates the two sets perfectly, and its verdict tells the generator nothing
# about *where* to move.

# %% slideshow={"slide_type": "subslide"}
ETA, GAMMA, N_GAME_STEPS = 0.1, 0.3, 300


def play(step, start=(1.0, 0.0)):
    """N_GAME_STEPS steps of `step` on (θ, φ): the path, (N_GAME_STEPS + 1, 2)."""
    path = [np.array(start)]
    for _ in range(N_GAME_STEPS):
        path.append(np.array(step(*path[-1])))
    return np.array(path)


def simultaneous(theta, phi, gamma=0.0):  # v = θφ − γφ²/2: both players use the old values
    return theta - ETA * phi, phi + ETA * (theta - gamma * phi)


def alternating(theta, phi):  # the generator moves first, the discriminator answers
    theta = theta - ETA * phi
    return theta, phi + ETA * theta


paths = {
    "simultaneous": play(simultaneous),
    "alternating": play(alternating),
    f"simultaneous, v = θφ − {GAMMA}φ²/2": play(lambda theta, phi: simultaneous(theta, phi, GAMMA)),
}
theta, phi = paths["alternating"].T
invariant = theta**2 + phi**2 - ETA * theta * phi  # conserved by alternating steps
for name, path in paths.items():
    radius = np.linalg.norm(path, axis=1)
    print(
        f"{name:32s}: distance from the equilibrium {radius[0]:.2f} -> {radius[-1]:.3f} after {N_GAME_STEPS} "
        f"steps (between {radius.min():.3f} and {radius.max():.3f})"
    )
growth, damping = np.sqrt(1 + ETA**2), np.sqrt(1 - ETA * GAMMA + ETA**2)  # per step
print(
    f"simultaneous: sqrt(1 + eta^2)^{N_GAME_STEPS} = {growth**N_GAME_STEPS:.2f}; damped: "
    f"sqrt(1 - eta gamma + eta^2)^{N_GAME_STEPS} = {damping**N_GAME_STEPS:.3f}; alternating: "
    f"theta^2 + phi^2 - eta theta phi between {invariant.min():.6f} and {invariant.max():.6f}"
)
fig, ax = plt.subplots(figsize=(4.8, 4.8))
for (name, path), label in zip(paths.items(), ["spirals out", "stays on an ellipse", "spirals in"]):
    ax.plot(*path.T, lw=0.8, label=f"{name}: {label}")
ax.plot(0, 0, "k*", ms=10, label="equilibrium")
ax.set_xlabel(r"generator's parameter $\theta$")
ax.set_ylabel(r"discriminator's parameter $\phi$")
ax.set_aspect("equal")
ax.legend(fontsize=7)
ax.set_title(rf"gradient play on $v(\theta, \phi) = \theta\phi$, $\eta = {ETA}$")
fig.tight_layout()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The non-saturating generator loss
#
# Let the discriminator output a logit $\ell$, with $d = \sigma(\ell) = 1/(1+e^{-\ell})$, and keep
# writing $D = d(g(z))$ for its verdict on a generated sample. The zero-sum generator minimises
# $\log(1 - D)$; {cite:t}`goodfellow2014` proposed instead to **maximise $\log D$**, i.e. to
# minimise $-\log D$. Both push one sample's $D$ up, but their gradients through its logit differ:
# $$
# \frac{\partial}{\partial \ell}\log\bigl(1-\sigma(\ell)\bigr) = -\sigma(\ell) = -D,
# \qquad
# \frac{\partial}{\partial \ell}\bigl(-\log\sigma(\ell)\bigr) = -\bigl(1-\sigma(\ell)\bigr) = -(1-D).
# $$
# Early in training the discriminator easily rejects the generator's samples: $D \approx 0$.
# The minimax loss then has a gradient of size $D \approx 0$ (it **saturates**), while the
# non-saturating one has size $1 - D \approx 1$. This is the original paper's recommendation and
# the TensorFlow tutorial's choice: `cross_entropy(ones_like(fake_output), fake_output)`
# $= -\log D$. (Other GANs use other losses altogether: the Wasserstein GAN
# {cite:p}`arjovsky2017wgan`, the least-squares GAN of exercise 5(b), hinge losses.)
#
# **A different game.** The two losses agree in direction only *per sample*. A batch gradient
# sums the samples' logit gradients $\nabla_\theta \ell_i$ with weights $D_i$ (minimax) or
# $1 - D_i$ (non-saturating): the minimax loss listens most to the samples the discriminator
# already likes, the non-saturating one to those it rejects, so the two batch gradients in general
# point in different directions. Nor does the non-saturating generator minimise the JSD. At the optimal
# discriminator, write
# $-\log d^* = \log\frac{1-d^*}{d^*} - \log(1 - d^*) = \log\frac{p_{\text{model}}}{p_{\text{data}}} - \log(1-d^*)$
# and take the gradient of its expectation over generated samples with $d^*$ held fixed (as a
# training step does). The first term gives the gradient of
# $\mathrm{KL}(p_{\text{model}}\|p_{\text{data}}) = \mathbb{E}_{p_{\text{model}}}\log\frac{p_{\text{model}}}{p_{\text{data}}}$
# (the extra term, $\mathbb{E}_{p_{\text{model}}}[\nabla_\theta \log p_{\text{model}}]$, is zero);
# the second, $-\log(1 - d^*)$, gives that of $-2\,\mathrm{JSD}$, by Danskin's theorem, since its
# expectation is $-v(\theta, d^*)$ up to a term free of $\theta$. So the non-saturating generator
# descends {cite:p}`arjovsky2017` (their Theorem 2.5)
# $$
# \mathrm{KL}(p_{\text{model}}\,\|\,p_{\text{data}}) - 2\,\mathrm{JSD}(p_{\text{data}}\,\|\,p_{\text{model}}).
# $$
# Its KL term is *mode-seeking*: it is large where the model puts mass that the data lack, and
# costs almost nothing where the model misses data, so it does not by itself penalise a generator
# that drops modes (section 3).
#
# The plot shows the two losses and their gradients through the logit, computed by TensorFlow's
# automatic differentiation (coloured) and by the formulas above (dashed).

# %% slideshow={"slide_type": "subslide"}
D_axis = np.linspace(0.001, 0.999, 500)  # d(g(z))
logits = tf.constant(np.log(D_axis / (1 - D_axis)), tf.float64)  # ℓ = σ⁻¹(D)
with tf.GradientTape(persistent=True) as tape:
    tape.watch(logits)
    minimax_loss = tf.math.log(1.0 - tf.sigmoid(logits))  # generator minimises log(1 − D)
    non_saturating_loss = -tf.math.log(tf.sigmoid(logits))  # generator minimises −log D
grad_minimax = tape.gradient(minimax_loss, logits).numpy()
grad_non_saturating = tape.gradient(non_saturating_loss, logits).numpy()

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
axes[0].plot(D_axis, minimax_loss.numpy(), label=r"minimax: $\log(1-D)$")
axes[0].plot(D_axis, non_saturating_loss.numpy(), label=r"non-saturating: $-\log D$")
axes[0].set_xlabel(r"$D = d(g(z))$")
axes[0].set_title("generator losses (both are minimised)")
axes[0].legend()
axes[1].plot(D_axis, np.abs(grad_minimax), lw=3, alpha=0.6, label=r"$|\partial_\ell \log(1-D)|$")
axes[1].plot(D_axis, np.abs(grad_non_saturating), lw=3, alpha=0.6, label=r"$|\partial_\ell (-\log D)|$")
axes[1].plot(D_axis, D_axis, "k--", lw=0.8, label="$D$ and $1 - D$")
axes[1].plot(D_axis, 1 - D_axis, "k--", lw=0.8)
axes[1].axvspan(0, 0.1, color="orange", alpha=0.15, label="early training: $D \\approx 0$")
axes[1].set_xlabel(r"$D = d(g(z))$")
axes[1].set_title("gradient w.r.t. the discriminator's logit")
axes[1].legend(fontsize=8)
fig.tight_layout()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. What goes wrong: a toy GAN on a ring of Gaussians
#
# The data are 8 Gaussians on a circle of radius $R = 2$, the benchmark of {cite:t}`metz2017`, who
# give each mode a standard deviation $\sigma = 0.02$; we use wider modes, $\sigma = 0.05$, to keep
# the runs short (exercise 5(d) tries 0.02). Generator and discriminator are small MLPs; each
# training step does one discriminator update and `g_steps` generator updates. With logits $\ell$
# and $d = 1/(1+e^{-\ell})$ (section 2; here $\sigma$ is the modes' standard deviation), the losses
# are $-\log d = \mathrm{softplus}(-\ell)$ and $-\log(1-d) = \mathrm{softplus}(\ell)$:
# $$
# L_d = \mathbb{E}_{\text{data}}\,\mathrm{softplus}(-\ell(x)) + \mathbb{E}_z\,\mathrm{softplus}(\ell(g(z))),
# \qquad
# L_g = \mathbb{E}_z\,\mathrm{softplus}(-\ell(g(z))).
# $$
# The theory of section 1 needs a discriminator that is (nearly) optimal for the current
# generator. Give the generator **five steps per discriminator step** and the opposite happens:
# the generator chases the *current* discriminator's favourite region, the discriminator then
# learns to reject it, and the generator moves elsewhere: **mode collapse** and **oscillation** in
# one picture. The non-saturating loss does little to prevent it: its
# $\mathrm{KL}(p_{\text{model}}\|p_{\text{data}})$ term (section 2) costs little for the modes a
# generator misses, and its JSD term enters with a minus sign.
#
# We count mode coverage with `toy2d.mode_coverage`. A sample is *high-quality* if it lies within
# $3\sigma$ of its nearest centre, the criterion of {cite:t}`srivastava2017`; a 2-D Gaussian puts
# $1 - e^{-9/2} \approx 98.9\%$ of its samples within $3\sigma$ of its centre. A mode is
# *covered* if it receives at least a quarter of its fair share $N/8$ of high-quality samples (a
# threshold of this course). Both runs also score their generator before the first update, and
# both start from the same seed, hence from the same untrained networks.

# %% slideshow={"slide_type": "subslide"}
TOY_MEANS = toy2d.ring_means(8, radius=TOY_RADIUS)  # (8, 2)
HIGH_QUALITY_EXACT = 1 - np.exp(-4.5)  # the data's own high-quality fraction, P(|x - centre| <= 3σ)


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
    """Train a toy GAN; return n_eval generator samples before training and at TOY_SNAPSHOTS steps,
    with the mean losses since the previous snapshot:
    {"step": (S,), "samples": (S, n_eval, 2), "d_loss", "g_loss": (S,)}."""
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
    losses = []  # (d_loss, g_loss) of the steps since the last snapshot

    def snapshot(step):
        snaps["step"].append(step)
        snaps["samples"].append(generator(tf.random.normal([n_eval, TOY_NOISE_DIM])).numpy())  # (n_eval, 2)
        d_mean, g_mean = np.mean(losses, axis=0) if losses else (np.nan, np.nan)
        snaps["d_loss"].append(d_mean)
        snaps["g_loss"].append(g_mean)
        losses.clear()

    snapshot(0)  # the untrained generator
    every = n_steps // TOY_SNAPSHOTS
    steps = config.training(range(1, n_steps + 1))
    for step in tqdm(
        steps, total=n_steps, desc=f"toy GAN, {g_steps} generator step(s) per d step", leave=False
    ):
        losses.append([float(v) for v in train_step()])
        if step % every == 0:
            snapshot(step)
    if losses:  # a loop cut short (COURSE_SCALE=untrained): its last state
        snapshot(step)
    return {k: np.array(v) for k, v in snaps.items()}


def toy_run(g_steps):
    """train_toy_gan(g_steps) with the mode coverage of every snapshot."""
    run = cache.cached_arrays(f"06_toy_gan_g{g_steps}", compute=lambda: train_toy_gan(g_steps))
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
# Samples at a few moments of training (grey crosses: the 8 centres); below, the share of *all*
# samples that are high-quality samples of each mode at every snapshot, and the mean losses
# between snapshots. Look for the balanced GAN to spread over the ring and sharpen onto the
# modes, and for the generator-heavy one to bunch its samples into a small cluster that moves
# around the ring (the printed high-quality fractions say whether the cluster sits on a mode).
# Compare how clearly the counts and the losses tell the two runs apart.

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

fig, axes = plt.subplots(1, 3, figsize=(16, 3))
for ax, (name, run) in zip(axes, toy_runs.items()):
    shares = np.stack([c.hq_counts / c.counts.sum() for c in run["coverage"]], axis=1)  # (8, snapshots)
    im = ax.imshow(
        shares,
        aspect="auto",
        cmap="viridis",
        vmin=0,
        vmax=2 / 8,
        extent=(0.5, len(run["step"]) + 0.5, 7.5, -0.5),
    )
    ax.set_xticks(range(1, len(run["step"]) + 1), [str(s) for s in run["step"]], rotation=60, fontsize=7)
    ax.set_xlabel("training step")
    ax.set_ylabel("mode")
    ax.set_title(name, fontsize=9)
fig.colorbar(im, ax=axes[:2], label="high-quality samples of the mode\n/ all samples (fair share 1/8)")
for (name, run), color in zip(toy_runs.items(), ["C0", "C1"]):
    axes[2].plot(run["step"], run["d_loss"], "o-", color=color, label=f"$L_d$, {name.split(' (')[0]}")
    axes[2].plot(run["step"], run["g_loss"], "s--", color=color, label=f"$L_g$, {name.split(' (')[0]}")
axes[2].axhline(np.log(4), color="grey", ls=":", lw=1)
axes[2].axhline(np.log(2), color="grey", ls=":", lw=1)
axes[2].set_xlabel("training step")
axes[2].set_title("mean losses between snapshots (dotted: log 4, log 2)", fontsize=9)
axes[2].legend(fontsize=7, loc="center right")

# %% [markdown]
# The numbers behind the checks. For the balanced run: the modes it covers and its fraction of
# high-quality samples, against the data's own $98.9\%$. For the generator-heavy run: the modes it
# covers at the end, against the balanced run from the same start; how bunched its samples get
# (the root-mean-square distance of the samples from their mean, their *spread*, over the
# balanced run's at the same snapshot; the data's spread is $\sqrt{R^2 + 2\sigma^2} \approx 2$);
# and whether the bunch moves: the centre nearest the samples' mean at every snapshot where that
# mean lies out on the ring, beyond $R/2$ from the origin (a generator spread over the whole ring
# has its mean near the origin).

# %% slideshow={"slide_type": "subslide"}
balanced = toy_runs["balanced (1 g step per d step)"]
collapsing = toy_runs["generator-heavy (5 g steps per d step)"]
untrained_balanced, final_balanced = balanced["coverage"][0], balanced["coverage"][-1]
final_collapsing = collapsing["coverage"][-1]


def spread(xs):
    """Root-mean-square distance of the points xs (N, 2) from their mean."""
    return float(np.sqrt(((xs - xs.mean(0)) ** 2).sum(1).mean()))


def bunch_mode(xs):
    """The centre nearest the samples' mean, when the mean lies beyond R/2 from the origin; else None."""
    centre = xs.mean(0)
    if np.linalg.norm(centre) <= TOY_RADIUS / 2:
        return None
    return int(np.linalg.norm(TOY_MEANS - centre, axis=1).argmin())


spread_ratio = [spread(c) / spread(b) for b, c in zip(balanced["samples"][1:], collapsing["samples"][1:])]
bunch_modes = [bunch_mode(xs) for xs in collapsing["samples"][1:]]  # after training started
hop_modes = sorted({m for m in bunch_modes if m is not None})
results.describe(toy_data=f"ring of 8 Gaussians, radius {TOY_RADIUS}, std {TOY_STD}", toy_steps=TOY_STEPS)
results.record(
    "toy_modes_covered_balanced",
    final_balanced.modes_covered,
    unit="of 8",
    key="toy GAN modes covered (of 8)",
)
results.record("toy_modes_covered_balanced_untrained", untrained_balanced.modes_covered, unit="of 8")
results.record("toy_high_quality_balanced", final_balanced.high_quality, unit="fraction")
results.record("toy_modes_covered_generator_heavy", final_collapsing.modes_covered, unit="of 8")
results.record("toy_min_spread_ratio_generator_heavy", min(spread_ratio), unit="ratio")
results.record("toy_bunch_modes_generator_heavy", len(hop_modes), unit="modes", modes=hop_modes)
print(
    f"balanced: {untrained_balanced.modes_covered}/8 modes covered before training, "
    f"{final_balanced.modes_covered}/8 after; high-quality samples "
    f"{untrained_balanced.high_quality:.0%} -> {final_balanced.high_quality:.0%} "
    f"(the data: {HIGH_QUALITY_EXACT:.1%}); final spread {spread(balanced['samples'][-1]):.2f} "
    f"(the data: sqrt(R^2 + 2 sigma^2) = {np.sqrt(TOY_RADIUS**2 + 2 * TOY_STD**2):.3f})"
)
print(f"generator-heavy, final: {final_collapsing}")
print(f"  its spread over the balanced run's, per snapshot: {np.round(spread_ratio, 2)}")
print(f"  the centre nearest its samples' mean, per snapshot (None: mean near the origin): {bunch_modes}")
print(f"  high-quality samples per snapshot: {[f'{c.high_quality:.0%}' for c in collapsing['coverage']]}")

# %% tags=["learning-check"]
# The balanced GAN covers the ring: modes with a quarter of their fair share of high-quality samples.
checks.above(
    "toy_balanced_modes_covered",
    final_balanced.modes_covered,
    config.scaled(smoke=5.5, lecture=6.5, full=6.5),
    "modes (of 8) the balanced toy GAN covers after training; the data cover all 8",
)

# %% tags=["learning-check"]
# Its samples sit on the modes: its high-quality fraction against the data's own, 1 − e^{−9/2}.
checks.above(
    "toy_balanced_high_quality",
    final_balanced.high_quality / HIGH_QUALITY_EXACT,
    config.scaled(smoke=0.4, lecture=0.5, full=0.6),
    "the balanced toy GAN's fraction of samples within 3σ of a centre, over the data's (98.9%)",
)

# %% tags=["learning-check"]
# The generator-heavy GAN, from the same start, ends up covering far fewer modes than the balanced one.
checks.above(
    "toy_heavy_covers_fewer_modes",
    final_balanced.modes_covered - final_collapsing.modes_covered,
    config.scaled(smoke=3.5, lecture=2.5, full=2.5),
    "modes covered by the balanced run minus modes covered by the generator-heavy run, at the end",
)

# %% tags=["learning-check"]
# At some snapshot the generator-heavy GAN bunches its samples: a spread far below the balanced run's.
checks.below(
    "toy_heavy_min_spread_ratio",
    min(spread_ratio),
    config.scaled(smoke=0.2, lecture=0.2, full=0.2),
    "smallest ratio, over the snapshots, of the generator-heavy run's sample spread to the balanced run's",
)

# %% tags=["learning-check"]
# The bunch moves: its mean lies out on the ring next to different centres at different snapshots.
checks.above(
    "toy_heavy_hops",
    len(hop_modes),
    config.scaled(smoke=1.5, lecture=1.5, full=1.5),
    "distinct centres nearest the generator-heavy run's sample mean (when beyond R/2 from the origin)",
)

# %% [markdown]
# Remedies for mode collapse studied in the
# literature include more discriminator steps (the theory's assumption; exercise 5(c)),
# unrolling the discriminator {cite:p}`metz2017`, minibatch discrimination, which lets the
# discriminator compare the samples of a batch with each other {cite:p}`salimans2016`, and losses
# whose gradients do not vanish, such as the Wasserstein GAN's {cite:p}`arjovsky2017wgan`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The DCGAN on MNIST
#
# ### Data
# Pixels are scaled to $[-1, 1]$ to match the generator's $\tanh$ output. The DCGAN trains on
# the whole training split; the tutorial shuffles with a buffer as large as the training set, and
# so do we. The validation split, on which nothing trains, serves the memorisation check at the end.

# %%
train_images, train_labels = data.load_mnist("train")
validation_images, _ = data.load_mnist("validation")
train_x = data.to_float(train_images, range="symmetric")[..., None]  # (N, 28, 28, 1)
steps_per_epoch = int(np.ceil(len(train_x) / BATCH_SIZE))


def make_dataset(images):
    """The tutorial's input pipeline: shuffled anew every epoch, in batches of BATCH_SIZE."""
    return tf.data.Dataset.from_tensor_slices(images).shuffle(len(images)).batch(BATCH_SIZE)


print(
    f"{len(train_x)} training images in [{train_x.min():.0f}, {train_x.max():.0f}], "
    f"{steps_per_epoch} batches of {BATCH_SIZE} per epoch; {len(validation_images)} validation images"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Generator and discriminator
#
# The **generator** maps noise $z \sim \mathcal{N}(0, I)$ in $\mathbb{R}^{100}$ (the $p(z)$ of
# section 1 is a standard Gaussian) through a dense layer to a $7\times7$ stack of feature maps
# and up-samples with transposed convolutions: a stride-1 one keeps the side, two stride-2 ones
# double it ($7 \to 7 \to 14 \to 28$). Batch normalisation and LeakyReLU follow
# every layer but the last, whose $\tanh$ puts pixels in $(-1, 1)$. The **discriminator** is an
# ordinary strided CNN with dropout that returns a **logit** $\ell(x)$ (no sigmoid: the loss
# applies it, which is numerically safer).


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
    # No bias in the convolutions, unlike the tutorial (see the set-up).
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
# With $\ell$ the discriminator's logit and `cross_entropy` the binary cross-entropy on logits,
# $$
# L_d = \underbrace{-\log\sigma(\ell(x))}_{\text{real} \to 1} \;\underbrace{-\,\log\bigl(1-\sigma(\ell(g(z)))\bigr)}_{\text{fake} \to 0},
# \qquad
# L_g = -\log \sigma\bigl(\ell(g(z))\bigr) \quad\text{(non-saturating)},
# $$
# averaged over the batch. `losses_and_gradients` draws a batch of noise, runs both networks under
# two gradient tapes and returns both losses, both players' gradients, and the batch means of
# $d(x)$ and $d(g(z))$; the training step applies both gradients *simultaneously*, from the same
# forward pass, as the tutorial does (an empirical choice: section 1 found no convergence
# guarantee that covers this game).
#
# Both players use Adam. At the `smoke` and `lecture` scales the learning rate decays along a
# cosine, $\eta_t = \eta_0\bigl[\alpha + (1-\alpha)\tfrac12(1+\cos(\pi t/T))\bigr]$ at step $t$ of
# the $T$ = `EPOCHS * steps_per_epoch` training steps, with $\eta_0$ = `LEARNING_RATE` and
# $\alpha = 0.1$: large steps early to learn fast, small ones at the end, so that the last epochs
# move the networks less. This is a practical heuristic, not a cure that section 1 derived. In the
# bilinear game, steps of sizes $\eta_1, \eta_2, \dots$ multiply the distance from the
# equilibrium by $\prod_t\sqrt{1+\eta_t^2}$, which grows for *every* positive schedule; smaller
# steps only lower the drift per turn around the equilibrium (a step turns by about $\eta_t$
# radians and grows the distance by a factor of about $1 + \eta_t^2/2$). And Adam's step has a
# size of about the learning rate whatever the size of the gradient. Exercise 8 compares the
# decay with a constant rate, which the `full` scale keeps, as the tutorial does ($\alpha = 1$).

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


def losses_and_gradients(generator, discriminator, images):
    """Both losses on a batch of real images and as many generated ones, both players' gradients,
    and the batch means of d(x) and d(g(z)) (in training mode: dropout on)."""
    noise = tf.random.normal([tf.shape(images)[0], NOISE_DIM])  # (B, 100)
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        generated_images = generator(noise, training=True)  # (B, 28, 28, 1)
        real_output = discriminator(images, training=True)  # (B, 1)
        fake_output = discriminator(generated_images, training=True)  # (B, 1)
        gen_loss = generator_loss(fake_output)
        disc_loss = discriminator_loss(real_output, fake_output)
    gen_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
    disc_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
    d_means = (tf.reduce_mean(tf.sigmoid(real_output)), tf.reduce_mean(tf.sigmoid(fake_output)))
    return gen_loss, disc_loss, gen_grads, disc_grads, d_means


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
# a fixed set of real training images, and returns two reference points computed with as many
# images: unseen real digits (the validation split) and uniform noise. Neither is a bound: a
# model that reproduces its training images, or copies them, scores *below* the unseen digits
# (the reference set and the classifier's features both come from training images), and a
# degenerate set of images (all grey, all black) can score *above* noise. It also counts which
# digit the classifier sees in each generated image: a collapsed generator would pile up on a
# few labels.
#
# The reference the checks use is the **independent-pixel model**, the base rate of this course
# for grey-level images: every pixel drawn independently from its own distribution over the
# training images (the pixel of a random training image). Its pixel statistics are right, its
# strokes are not; a generator that has learned anything about digits must beat it by far. The
# training also scores its generator before the first update, the start of its FCD curve.

# %% slideshow={"slide_type": "subslide"}
clf = metrics.load_classifier()
N_SCORE = metrics.sample_count()  # generated images per score
rng = np.random.default_rng(SEED)
pixels = data.to_float(train_images).reshape(len(train_images), 784)  # (N, 784) in [0, 1]
independent_pixels = pixels[rng.integers(len(pixels), size=(N_SCORE, 784)), np.arange(784)]  # (N_SCORE, 784)
reference = metrics.score_samples(independent_pixels.reshape(-1, 28, 28))
print(
    f"FCD with {N_SCORE} images: unseen real digits {reference['unseen_real']:.2f}, uniform noise "
    f"{reference['noise']:.2f}, the independent-pixel model {reference['fcd']:.2f} "
    f"({reference['digits_covered']} digit(s) with >= 2% of its samples, "
    f"label JSD {reference['label_jsd']:.3f})"
)


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


fig = plotting.image_grid(
    independent_pixels[:32].reshape(-1, 28, 28), ncols=16, title="the independent-pixel model"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### One batch's gradients, checked
# Before the long loop, the gradients of one batch, on a separate pair of untrained networks:
# every trainable variable of each player must receive a finite, non-zero gradient from its own
# loss. A generator whose samples reach the discriminator's verdict through no differentiable
# path (a `.numpy()` in the wrong place, a stopped gradient) would get none, and a diverging loss
# would give non-finite ones.

# %%
probe_generator, probe_discriminator = make_generator(), make_discriminator()
gen_loss, disc_loss, gen_grads, disc_grads, (d_real, d_fake) = losses_and_gradients(
    probe_generator, probe_discriminator, tf.constant(train_x[:BATCH_SIZE])
)
print(
    f"one batch, untrained networks: L_g = {float(gen_loss):.3f}, L_d = {float(disc_loss):.3f}, "
    f"mean d(x) = {float(d_real):.3f}, mean d(g(z)) = {float(d_fake):.3f}"
)
for net, grads in ((probe_generator, gen_grads), (probe_discriminator, disc_grads)):
    norms = {
        v.path: np.nan if g is None else float(tf.norm(g)) for v, g in zip(net.trainable_variables, grads)
    }
    print(f"{net.name}, gradient norm per variable: " + ", ".join(f"{k} {n:.1e}" for k, n in norms.items()))
    no_gradient = [k for k, n in norms.items() if not (np.isfinite(n) and n > 0)]
    assert not no_gradient, f"{net.name}: no finite, non-zero gradient for {no_gradient}"
del probe_generator, probe_discriminator

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Training, watched
# `train_dcgan` builds the optimisers and the compiled training step (`tf.function` traces it
# into a graph on the first call; later calls skip Python), scores the untrained generator, and
# then, each epoch: a progress bar over the batches (with the running losses), the epoch's mean
# losses and mean $d(x)$, $d(g(z))$, the score of `N_SCORE` fresh samples (FCD and
# predicted-label distribution), a grid of the same `N_FIXED` noise vectors (so we watch *one*
# set of digits evolve), and a **checkpoint**: `tf.train.Checkpoint` saves the variables of
# everything it is given (both networks, both optimisers' moment estimates, an epoch counter), and
# `CheckpointManager` numbers the saves and keeps the last two, in `build/checkpoints/06_dcgan/`
# (exercise 7 resumes a training from one). The training time it records counts the training
# steps only, not the scoring.

# %% slideshow={"slide_type": "subslide"}
FIXED_NOISE = rng.standard_normal((N_FIXED, NOISE_DIM)).astype(np.float32)  # (16, 100), every epoch


def train_dcgan(models, images):
    """Train models["generator"] and models["discriminator"] on `images`; return the history."""
    generator, discriminator = models["generator"], models["discriminator"]
    generator_optimizer = keras.optimizers.Adam(learning_rate(), beta_1=BETA_1)
    discriminator_optimizer = keras.optimizers.Adam(learning_rate(), beta_1=BETA_1)

    @tf.function
    def train_step(batch):
        gen_loss, disc_loss, gen_grads, disc_grads, (d_real, d_fake) = losses_and_gradients(
            generator, discriminator, batch
        )
        generator_optimizer.apply_gradients(zip(gen_grads, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(disc_grads, discriminator.trainable_variables))
        return gen_loss, disc_loss, d_real, d_fake

    epoch = tf.Variable(0, dtype=tf.int64)  # saved with the networks, to resume from
    checkpoint = tf.train.Checkpoint(
        epoch=epoch,
        generator=generator,
        discriminator=discriminator,
        generator_optimizer=generator_optimizer,
        discriminator_optimizer=discriminator_optimizer,
    )
    manager = tf.train.CheckpointManager(
        checkpoint, config.build_dir() / "checkpoints" / "06_dcgan", max_to_keep=2
    )
    history = {
        key: [] for key in ("gen_loss", "disc_loss", "d_real", "d_fake", "fcd", "labels", "grids", "seconds")
    }
    history["before_training"] = score_generator(generator)  # the untrained generator
    dataset = make_dataset(images)
    seconds = 0.0  # in the training steps
    for e in tqdm(config.training(range(EPOCHS)), total=EPOCHS, desc="DCGAN epochs"):
        sums, t0 = np.zeros(4), time.perf_counter()
        bar = tqdm(
            config.training(dataset), total=steps_per_epoch, desc=f"epoch {e + 1}/{EPOCHS}", leave=False
        )
        for i, image_batch in enumerate(bar, start=1):
            sums += [float(v) for v in train_step(image_batch)]
            if i % 10 == 0:
                bar.set_postfix(g_loss=f"{sums[0] / i:.3f}", d_loss=f"{sums[1] / i:.3f}")
        seconds += time.perf_counter() - t0
        for key, value in zip(["gen_loss", "disc_loss", "d_real", "d_fake"], sums / i):
            history[key].append(float(value))
        score = score_generator(generator)
        history["fcd"].append(score["fcd"])
        history["labels"].append(score["label_distribution"])
        fixed_grid = generator(FIXED_NOISE, training=False).numpy()[..., 0]  # (16, 28, 28)
        history["grids"].append(np.round(fixed_grid, 4).tolist())  # 4 decimals: the history is JSON
        history["seconds"].append(seconds)
        epoch.assign(e + 1)
        manager.save(checkpoint_number=e + 1)
    return history


models, history = cache.cached_keras(
    "06_dcgan",
    build=lambda: {"generator": make_generator(), "discriminator": make_discriminator()},
    train=lambda models: train_dcgan(models, train_x),
)
generator, discriminator = models["generator"], models["discriminator"]
before = history["before_training"]
fixed_grids = [np.array(g, np.float32) for g in history["grids"]]  # (16, 28, 28) per epoch
print(
    f"the generator before training: FCD {before['fcd']:.2f}, {before['digits_covered']} digit(s) with >= 2% "
    "of its samples. Per epoch: the mean losses and the mean d(x), d(g(z)) over its training steps (each "
    "measured in the step, with dropout on, before that step's update), the FCD of fresh samples after it, "
    "and the time spent in training steps so far:"
)
for e in range(len(history["fcd"])):
    print(
        f"epoch {e + 1:3d}: g_loss {history['gen_loss'][e]:.3f}  d_loss {history['disc_loss'][e]:.3f}  "
        f"d(x) {history['d_real'][e]:.3f}  d(g(z)) {history['d_fake'][e]:.3f}  "
        f"FCD {history['fcd'][e]:7.2f}  [{history['seconds'][e]:.0f} s]"
    )

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The curves
# Compare the losses with the values of the game's equilibrium ($L_d = \log 4 \approx 1.39$, and
# $L_g = \log 2 \approx 0.69$ for the non-saturating loss; dotted) and $d(x)$, $d(g(z))$ with ½.
# Where they sit says how balanced the game is, not whether the generator is right (section 1):
# read them next to the FCD, the curve that measures progress (its first point, at epoch 0, is
# the generator before training).
#
# The FCD need not fall monotonically. The right-hand panel shows the share of each predicted
# digit per epoch. A generator that shifted its mass between digit classes from one epoch to the
# next, over-producing some and neglecting others, would show the oscillation of the toy GAN of
# section 3 in 784 dimensions. The cell prints how much the shares change between consecutive
# epochs, as a total-variation distance $\tfrac12\sum_k|\pi_k^{(e)} - \pi_k^{(e-1)}|$ (the fraction
# of samples that would have to change class), next to the change that sampling alone gives: two
# sets of `N_SCORE` labels drawn from the same shares. Changes well above that are shifts of mass,
# not noise. (Exercise 8 asks what the decay of the learning rate does to them.)

# %% slideshow={"slide_type": "subslide"}
print(
    f"last epoch: L_d = {history['disc_loss'][-1]:.3f} (log 4 = {np.log(4):.3f}), "
    f"L_g = {history['gen_loss'][-1]:.3f} (log 2 = {np.log(2):.3f}), "
    f"mean d(x) = {history['d_real'][-1]:.3f}, mean d(g(z)) = {history['d_fake'][-1]:.3f}"
)
label_history = np.array(history["labels"]).T  # (10, epochs)
label_change = 0.5 * np.abs(np.diff(label_history, axis=1)).sum(0)  # (epochs - 1,) total variation
last_shares = label_history[:, -1] / label_history[:, -1].sum()
resampled = np.random.default_rng(SEED).multinomial(N_SCORE, last_shares, size=(200, 2)) / N_SCORE
sampling_change = 0.5 * np.abs(resampled[:, 0] - resampled[:, 1]).sum(1)  # (200,) same shares, drawn twice
if len(label_change):
    print(
        "change of the label shares from one epoch to the next (total variation): "
        f"{np.round(label_change, 3)}; "
        f"mean {label_change.mean():.3f}. Two draws of {N_SCORE} labels from the last epoch's shares differ "
        f"by {sampling_change.mean():.3f} on average ({np.quantile(sampling_change, 0.95):.3f} at the 95th "
        "percentile)"
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
axes[2].axhline(reference["fcd"], color="orange", ls="--", label="independent-pixel model")
axes[2].axhline(before["unseen_real"], color="green", ls="--", label="unseen real digits")
axes[2].axhline(before["noise"], color="red", ls="--", label="uniform noise")
axes[2].set_yscale("log")
axes[2].set_title(f"Fréchet classifier distance ({N_SCORE} images)")
for ax in axes[:3]:
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
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
# The fixed-noise grid after every epoch (the last 40 epochs, when there are more), as an
# animation (press play), and 64 fresh samples at the end.

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
fig = plotting.image_grid(
    final_samples[:64], ncols=16, vrange=(-1, 1), title=f"DCGAN samples after {len(history['fcd'])} epochs"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Mode coverage on MNIST
# Which digit does the classifier see in each generated image? A generator covering every mode
# gives about 10% each, like the real digits; a collapsed one piles up on a few. We summarise the
# difference with the Jensen–Shannon divergence between the generated labels' distribution and
# that of the training split (0 = identical, $\log 2 \approx 0.69$ = disjoint). To read the value,
# the cell also computes the JSD of generators that make only $k$ digits, in equal shares (a
# collapse onto $k$ modes).

# %%
final = metrics.score_samples(final_samples, pixel_range="symmetric")
label_fake = np.array(final["label_distribution"])
label_real = np.bincount(train_labels, minlength=10) / len(train_labels)  # the training split's labels


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
# The DCGAN's row in the course's comparison of its MNIST models: the same scorer as every other
# model, its size (the generator's parameters, all that sampling needs; the discriminator only
# serves training), the time its training steps took, the median time to generate 100 images
# after a warm-up call, and whether its samples copy training images (each sample's distance to
# its nearest training image, against the same distance for unseen validation digits).

# %%
fcd_curve = [before["fcd"], *history["fcd"]]  # epoch 0 (before training), 1, 2, ...
results.describe(
    dataset="MNIST",
    n_train=len(train_x),
    n_validation=len(validation_images),
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
results.record("fcd_independent_pixels", reference["fcd"], unit="FCD")
results.record("fcd_unseen_real", final["unseen_real"], unit="FCD")
results.record("fcd_uniform_noise", final["noise"], unit="FCD")
results.record("label_jsd_vs_real", final["label_jsd"], unit="nats", generated=final["label_distribution"])
results.record(
    "digits_with_2pct_of_samples", final["digits_covered"], unit="of 10", key="DCGAN digits covered"
)
results.record("final_mean_d_real", history["d_real"][-1], unit="probability")
results.record("final_mean_d_fake", history["d_fake"][-1], unit="probability")

sample_generator(generator, 100)  # warm-up
sampling_times = []
for _ in range(5):
    t0 = time.perf_counter()
    sample_generator(generator, 100)
    sampling_times.append(time.perf_counter() - t0)
copies = memorisation.memorisation_check(
    final_samples, train_images, validation_images, pixel_range_samples="symmetric"
)
print(copies)
comparison.record_model(
    "DCGAN",
    score=final,
    n_parameters=int(sum(np.prod(w.shape) for w in generator.trainable_weights)),
    training_seconds=float(history["seconds"][-1]),
    sampling_seconds_per_100=float(np.median(sampling_times)),
    memorisation=copies.summary(),
)
print(
    f"FCD: before training {before['fcd']:.2f}, first epoch {history['fcd'][0]:.2f}, last epoch "
    f"{history['fcd'][-1]:.2f}, fresh samples after training {final['fcd']:.2f}; independent-pixel "
    f"model {reference['fcd']:.2f}, unseen real digits {final['unseen_real']:.2f}, noise {final['noise']:.2f}"
)
print(
    f"digits with >= 2% of the samples: {before['digits_covered']} before training, "
    f"{final['digits_covered']} after ({reference['digits_covered']} for the independent-pixel model); "
    f"label JSD {before['label_jsd']:.3f} -> {final['label_jsd']:.3f} nats (a collapse onto 5 digits: "
    f"{collapse_jsd(5):.3f})"
)

# %% tags=["learning-check"]
# The DCGAN's samples score a far lower FCD than the independent-pixel model's, scored the same way.
checks.below(
    "fcd_over_independent_pixels",
    final["fcd"] / reference["fcd"],
    config.scaled(smoke=0.95, lecture=0.35, full=0.25),
    "FCD of the DCGAN's samples over that of as many independent-pixel samples",
)

# %% tags=["learning-check"]
# Its samples spread over the digits: the classifier sees most of the ten among them.
checks.above(
    "digits_covered",
    final["digits_covered"],
    config.scaled(smoke=6.5, lecture=8.5, full=8.5),
    "digits (of 10) with at least 2% of the DCGAN's samples",
)

# %% tags=["learning-check"]
# Its label distribution is closer to the real one than that of a generator making 5 digits equally.
checks.below(
    "label_jsd_over_five_digit_collapse",
    final["label_jsd"] / collapse_jsd(5),
    config.scaled(smoke=1.0, lecture=0.5, full=0.5),
    "JSD of the generated labels from the training labels, over that of a collapse onto 5 digits",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# - A GAN is a two-player game: the discriminator is a classifier, and at its optimum
#   $d^* = p_{\text{data}}/(p_{\text{data}}+p_{\text{model}})$ the zero-sum generator minimises
#   $-\log 4 + 2\,\mathrm{JSD}$. An optimal discriminator that answers ½ everywhere proves
#   $p_{\text{model}} = p_{\text{data}}$; a trained one that answers about ½ proves nothing (a weak
#   or restricted one does too), so a GAN must be *measured* by something other than its losses.
# - The non-saturating loss $-\log d(g(z))$ has gradient $1-D$ through the logit, where the
#   minimax loss has $D$: it keeps learning when the discriminator wins early on. It is a different
#   game: at $d^*$ its generator descends
#   $\mathrm{KL}(p_{\text{model}}\|p_{\text{data}}) - 2\,\mathrm{JSD}$, whose KL term does not
#   punish missed modes.
# - GANs need neither a partition function nor approximate inference, only samples and a
#   classifier; the price is a game instead of an objective. Convexity of the generator's cost in
#   the space of densities guarantees convergence there; for networks, convergence is proved only
#   locally, near an equilibrium and under assumptions (densities, a gradient penalty, two time
#   scales) that the DCGAN here does not meet: its simultaneous updates are an empirical choice.
#   Even the bilinear game $v = \theta\phi$ makes gradient players spiral out (simultaneous steps)
#   or orbit (alternating steps); a little curvature on the discriminator's side makes them converge.
# - The game's dynamics can fail: on the ring of Gaussians, a generator that moves faster than the
#   discriminator bunches its samples into one cluster that moves around the ring and covers far
#   fewer modes than a balanced run from the same start; counting high-quality samples shows it
#   (the checks assert it).
# - The DCGAN learns to draw digits (how well, the sample grids of section 4 show; at `lecture`
#   scale expect rough ones). Its Fréchet classifier distance must fall well
#   below that of the independent-pixel model, and its samples must spread over most digits (the
#   checks assert both). These FCDs use our MNIST classifier, **not** Inception: compare them only
#   with other lectures of this course.
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
# - {cite:t}`goodfellow2014` (nine pages); {cite:t}`radford2016` (the DCGAN); the
#   TensorFlow DCGAN tutorial, <https://www.tensorflow.org/tutorials/generative/dcgan>.
# - {cite:t}`mescheder2018`: which GAN training methods converge, shown on a one-parameter game
#   much like the bilinear one of section 1.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# The first three are **checked**: fill in the cell marked `...`, run it, then run the `check`
# line below it, which measures your answer against an independent reference (the cross-entropy
# minimised point by point, the eigenvalues of the step's matrix, finite differences of the
# divergences) and says what disagrees. The others are open: write your answer, then compare it
# with the model answer. In the book each solution is folded: try first.

# %%
from lib.exercises import check

# %% [raw]
# # BEGIN QUESTION
# name: ex06_1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: One-sided label smoothing, at the optimum
#
# {cite:t}`salimans2016` train the discriminator towards the target 0.9 instead of 1 on real
# images, and keep the target 0 on generated ones: *one-sided* label smoothing. With a target
# $t \in [0, 1]$ for the discriminator's probability $d \in (0, 1)$, the binary cross-entropy is
# $\mathrm{BCE}(t, d) = -t\log d - (1-t)\log(1-d)$, and the discriminator minimises
# $$
# L_d = \mathbb{E}_{x\sim p_{\text{data}}}\,\mathrm{BCE}\bigl(t_{\text{real}}, d(x)\bigr)
#     + \mathbb{E}_{x\sim p_{\text{model}}}\,\mathrm{BCE}\bigl(t_{\text{fake}}, d(x)\bigr)
# $$
# (the lecture's $L_d$ has $t_{\text{real}} = 1$, $t_{\text{fake}} = 0$). Minimise it pointwise,
# as section 1 did for $d^*$, and write `smoothed_discriminator(p_data, p_model, real_target,
# fake_target)`: the minimising $d$ at every point, for NumPy arrays `p_data` and `p_model` of the
# two distributions' probabilities on the same points ($p_{\text{data}} + p_{\text{model}} > 0$ at
# every point, but either may vanish) and the targets $t_{\text{real}}$, $t_{\text{fake}}$. Then
# compare one-sided ($t_{\text{fake}} = 0$) with two-sided ($t_{\text{fake}} = 0.1$) smoothing
# where $p_{\text{data}} = 0 < p_{\text{model}}$: what does the discriminator answer there? What does
# one-sided smoothing change in the non-saturating generator's gradient, $-\nabla_x \log d(x)$, at
# the optimal discriminator?


# %% tags=["hide-input"]
def smoothed_discriminator(
    p_data: np.ndarray, p_model: np.ndarray, real_target: float, fake_target: float
) -> np.ndarray:
    """The d that minimises E_data BCE(real_target, d) + E_model BCE(fake_target, d), point by point."""
    # BEGIN SOLUTION
    # With a = t_r p_data + t_f p_model and b = (1 − t_r) p_data + (1 − t_f) p_model, minimise
    # −a log d − b log(1 − d): −a/d + b/(1 − d) = 0 ⇒ d = a/(a + b), and a + b = p_data + p_model.
    # One-sided (t_f = 0): d = 0.9 d*, so −∇ log d = −∇ log d* (the same generator gradient) and d = 0
    # where only the model has mass. Two-sided: d = t_f there, so the samples off the data are not firmly
    # rejected, and the gradient of their loss −log d, −(t_r − t_f)∇d*/(t_f + (t_r − t_f)d*), is far
    # smaller than the one-sided −∇d*/d* where d* ≪ t_f.
    return (real_target * p_data + fake_target * p_model) / (p_data + p_model)
    # END SOLUTION


# %%
check("06.1", smoothed_discriminator)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex06_2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: Gradient play, step by step
#
# Take section 1's games with a curvature $\gamma \ge 0$ on the discriminator's side,
# $v(\theta, \phi) = \theta\phi - \tfrac{\gamma}{2}\phi^2$: the generator descends $v$ in $\theta$,
# the discriminator ascends it in $\phi$, both with the step $\eta > 0$. Simultaneous steps are
# $\theta' = \theta - \eta\phi$, $\phi' = \phi + \eta(\theta - \gamma\phi)$; alternating steps are
# $\theta' = \theta - \eta\phi$, then $\phi' = \phi + \eta(\theta' - \gamma\phi)$. Both are linear,
# $(\theta', \phi') = M\,(\theta, \phi)$, so after many steps the distance from the equilibrium
# changes per step by the factor $\rho(M)$, the largest modulus of $M$'s eigenvalues (its
# spectral radius). Write `step_radius(eta, gamma, alternating)`, returning $\rho(M)$ for
# simultaneous (`alternating=False`) or alternating (`alternating=True`) steps; it must hold
# when $M$'s eigenvalues are real too. Recover section 1's $\sqrt{1+\eta^2}$ and
# $\sqrt{1 - \eta\gamma + \eta^2}$, find $\det M$ for alternating steps, and say for which $\eta$
# each kind of play converges when $\gamma = 0.3$, and up to which $\eta$ alternating steps on
# $v = \theta\phi$ stay on their ellipse.


# %% tags=["hide-input"]
def step_radius(eta: float, gamma: float, alternating: bool) -> float:
    """Spectral radius of one step of simultaneous or alternating gradient play on v = θφ − γφ²/2."""
    # BEGIN SOLUTION
    # simultaneous: φ' = ηθ + (1 − ηγ)φ;  alternating: φ' = φ + η(θ − ηφ − γφ) = ηθ + (1 − η² − ηγ)φ.
    # det M = 1 − ηγ + η² (simultaneous) or 1 − ηγ (alternating): the squared modulus of complex
    # eigenvalues. At γ = 0.3, simultaneous steps converge for η < γ; alternating ones for
    # η < √(γ² + 4) − γ ≈ 1.72 (where |tr M| < 1 + det M). At γ = 0, det M = 1: alternating steps
    # orbit for η < 2; beyond, the eigenvalues are real and one lies below −1.
    phi_from_phi = 1 - eta * gamma - (eta**2 if alternating else 0.0)
    m = np.array([[1.0, -eta], [eta, phi_from_phi]])
    return float(np.max(np.abs(np.linalg.eigvals(m))))
    # END SOLUTION


# %%
check("06.2", step_radius)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex06_3

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: The non-saturating generator's gradient
#
# Section 2 claims that against the optimal discriminator, held fixed, the non-saturating
# generator descends $\mathrm{KL}(p_{\text{model}}\|p_{\text{data}}) - 2\,\mathrm{JSD}(p_{\text{data}}\|p_{\text{model}})$.
# Test it without networks. On $K$ points, let $p_{\text{data}}$ be a distribution with
# $p_{\text{data}}(x) > 0$ everywhere and the model $p_\theta = \mathrm{softmax}(\theta)$, i.e.
# $p_\theta(x) = e^{\theta_x}/\sum_y e^{\theta_y}$ with $\theta \in \mathbb{R}^K$. Against a
# discriminator $d$ the non-saturating loss is $L(\theta; d) = \sum_x p_\theta(x)\,\bigl(-\log d(x)\bigr)$.
# Write `ns_gradient(p_data, theta)`, returning the vector $\nabla_\theta L(\theta; d)$ (shape
# $(K,)$) at $d = d^* = p_{\text{data}}/(p_{\text{data}} + p_\theta)$, with $d$ held fixed while you
# differentiate (a training step does not differentiate the discriminator). The check compares
# it with central finite differences of $\mathrm{KL}(p_\theta\|p_{\text{data}}) - 2\,\mathrm{JSD}(p_{\text{data}}\|p_\theta)$.
# The gradient of which function of $\theta$ does the zero-sum generator follow, with the loss
# $\sum_x p_\theta(x)\log\bigl(1 - d(x)\bigr)$ at $d^*$ held fixed?


# %% tags=["hide-input"]
def ns_gradient(p_data: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """∇_θ Σ_x p_θ(x)(−log d(x)) at d = p_data/(p_data + p_θ), d held fixed, with p_θ = softmax(θ)."""
    # BEGIN SOLUTION
    # ∂p_x/∂θ_k = p_x(δ_xk − p_k)  ⇒  ∂_k Σ_x p_x f_x = p_k (f_k − Σ_x p_x f_x), with f = −log d* fixed.
    # The zero-sum loss, f = log(1 − d*), gives the gradient of v(θ, d*) = −log 4 + 2 JSD (Danskin).
    p = np.exp(theta - theta.max())
    p = p / p.sum()
    f = -np.log(p_data / (p_data + p))
    return p * (f - p @ f)
    # END SOLUTION


# %%
check("06.3", ns_gradient)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex06_4
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: One-sided label smoothing, in training
#
# In `discriminator_loss`, replace the real targets `tf.ones_like(real_output)` by
# `0.9 * tf.ones_like(real_output)` and re-run the DCGAN. What happens to the mean $d(x)$, the
# losses and the FCD curve? With exercise 1, find the values that the losses and $d$ take at the
# equilibrium $p_{\text{model}} = p_{\text{data}}$ now, in place of $\log 4$, $\log 2$ and ½.
# (Keras' `label_smoothing` argument of `BinaryCrossentropy` would move both targets, to
# $1 - s/2$ and $s/2$.)

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# By exercise 1 the optimal discriminator becomes $0.9\,d^*$: it never answers more than 0.9,
# however well it separates the two sets, so expect the mean $d(x)$ to stay below 0.9; and the
# real half of $L_d$ cannot fall below the entropy of its target,
# $-0.9\log 0.9 - 0.1\log 0.1 \approx 0.325$ nats. At the equilibrium $p_{\text{model}} = p_{\text{data}}$ it answers $0.45$ everywhere, so
# $L_d = -0.9\log 0.45 - 0.1\log 0.55 - \log 0.55 \approx 1.376$ (instead of
# $\log 4 \approx 1.386$) and the non-saturating $L_g = -\log 0.45 \approx 0.799$ (instead of
# $\log 2 \approx 0.693$): read the curves against these lines. The generator's gradient at the
# optimal discriminator does not change, since $-\log(0.9\,d^*) = -\log 0.9 - \log d^*$, and
# $p_{\text{model}} = p_{\text{data}}$ is still where it vanishes. What smoothing changes is the
# discriminator's training: the real-image term alone is minimised at the logit
# $\log 9 \approx 2.2$ instead of at $+\infty$, so the discriminator is not rewarded for ever more
# confident verdicts on real images, which {cite:t}`salimans2016` found to stabilise training.
# Expect an FCD curve much like the original run's; a difference smaller than the FCD's swings
# from epoch to epoch says nothing. Only the real side is smoothed because a target
# $t_{\text{fake}} > 0$ gives $d = t_{\text{fake}}$ where the model has mass and the data have none
# (exercise 1): there the discriminator no longer rejects the samples firmly, and the samples that
# most need to move get a weaker push towards the data.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex06_5
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5: Other losses, other step ratios
#
# (a) Train the toy GAN with the *minimax* generator loss
# $\mathbb{E}\log(1 - \sigma(\ell)) = -\mathbb{E}\,\mathrm{softplus}(\ell)$: in `train_toy_gan`'s
# `train_step`, change the generator's loss accordingly, and compare how fast the modes are
# covered. (b) Replace the DCGAN losses by the least-squares GAN {cite:p}`mao2017`:
# $L_d = \tfrac12\mathbb{E}(\ell(x)-1)^2 + \tfrac12\mathbb{E}\,\ell(g(z))^2$,
# $L_g = \tfrac12\mathbb{E}(\ell(g(z))-1)^2$ (edit `discriminator_loss` and `generator_loss`),
# find the optimal $\ell$, and compare the final FCD. (c) Can you stop the toy collapse with 5
# *discriminator* steps per generator step? Give `train_step` a loop over discriminator updates
# like the one over generator updates. (d) Set `TOY_STD = 0.02`, the value of
# {cite:t}`metz2017`: how many steps does the balanced run need to cover the ring?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# (a) The minimax loss's gradient through the logit is $-D$ (section 2): once the discriminator
# rejects the samples ($D \approx 0$) the generator gets almost no gradient, so expect the modes to
# be covered later than with the non-saturating loss, or not within `TOY_STEPS`. At $d^*$ held
# fixed its gradient is that of $2\,\mathrm{JSD}$ (exercise 3), the objective of section 1's
# theory: the change is in the dynamics, especially early, not in the game's equilibrium.
# (b) Minimising $p_{\text{data}}(\ell-1)^2 + p_{\text{model}}\ell^2$ pointwise gives
# $\ell^* = p_{\text{data}}/(p_{\text{data}} + p_{\text{model}})$, the function $d^*$ but now as the raw
# output; with targets $b$ for real and $a$ for generated images it is
# $(b\,p_{\text{data}} + a\,p_{\text{model}})/(p_{\text{data}} + p_{\text{model}})$, exercise 1's
# formula: both losses are minimised by the mean target at $x$. The generator's loss
# $\tfrac12(\ell-1)^2$ has the gradient $\ell - 1$ in $\ell$, which does not saturate: it grows
# the further the discriminator places a sample from the real target. The batch means of
# $\sigma(\ell)$ that `losses_and_gradients` reports mean nothing for this loss: watch the means
# of $\ell$ instead. {cite:t}`mao2017` show that their generator minimises a Pearson $\chi^2$
# divergence for targets $a = -1$, $b = 1$ and generator target $c = 0$; the 0–1 targets here are
# the other choice they discuss, with the generator aiming at the real target. Whether the final
# FCD is lower is an empirical question: compare the difference with the FCD's swings from epoch
# to epoch before calling it real. (c) More discriminator steps bring the discriminator nearer
# to the optimum for the current generator, the assumption of section 1's theory: the generator
# then follows a divergence instead of chasing the last discriminator's favourite region. Expect
# far less bunching and more modes covered than the generator-heavy run, but no guarantee: a
# nearly optimal discriminator also gives vanishing gradients to samples far from the data
# (section 1's right panels), and five steps are still not the optimum. (d) With $\sigma = 0.02$
# a high-quality sample must lie within $0.06$ of a centre and the modes are narrower targets:
# expect the balanced run to need more steps before a quarter of each mode's fair share lands
# there. Train for a few values of `TOY_STEPS` and read the coverage at every snapshot.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex06_6
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6: A conditional GAN
#
# Following {cite:t}`mirza2014`, give both networks the label: concatenate a one-hot `y` to `z`
# in the generator, and give the discriminator a second input (e.g. a
# `layers.Embedding(10, 28*28)` reshaped to an extra image channel). A network with two inputs
# needs Keras' functional API (`keras.Input` for each, `layers.Concatenate`, `keras.Model`)
# instead of `keras.Sequential`, and `losses_and_gradients` must pass the labels on. Train on
# `(train_x, train_labels)` and draw a grid whose rows are the digits 0–9. Check with
# `metrics.predict_labels` (with `pixel_range="symmetric"`: the generator's images lie in
# $[-1, 1]$) that the generated digit matches the requested label: what accuracy do you get?
# Which divergence does the conditional generator minimise at the optimal discriminator?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# Give the generated images the labels of the real batch, so that both halves have the data's
# label distribution $p(y)$. The value is then
# $v = \mathbb{E}_{y}\bigl[\mathbb{E}_{p_{\text{data}}(x|y)}\log d(x, y) + \mathbb{E}_{p_{\text{model}}(x|y)}\log(1 - d(x, y))\bigr]$,
# and section 1's argument, label by label, gives
# $d^*(x, y) = p_{\text{data}}(x|y)/\bigl(p_{\text{data}}(x|y) + p_{\text{model}}(x|y)\bigr)$ and
# $v(\theta, d^*) = -\log 4 + 2\,\mathbb{E}_y\,\mathrm{JSD}\bigl(p_{\text{data}}(\cdot|y)\,\|\,p_{\text{model}}(\cdot|y)\bigr)$:
# the generator must match every class's distribution, so one that makes good digits but ignores
# its label is penalised. (With generated labels drawn from another distribution $q(y)$, the
# optimum becomes $p(y)p_{\text{data}}(x|y)/\bigl(p(y)p_{\text{data}}(x|y) + q(y)p_{\text{model}}(x|y)\bigr)$.)
# The accuracy measures how well the generator obeys its label as judged by a classifier with
# errors of its own (its test accuracy is printed in section 4); a generator that ignores the
# label scores about 10%. Expect a working conditional DCGAN to agree with the requested label
# for a large majority of its samples; rows of the grid that show another digit, or all the same
# one, point to a discriminator that does not use its label input. Collapse across classes is now
# penalised class by class; collapse within a class (one style per digit) remains possible.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex06_7
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7: Resume
#
# Interrupt the DCGAN training after a few epochs (an unfinished training is not cached). Build
# fresh networks and optimisers, restore the latest checkpoint into them with
# `tf.train.Checkpoint(...).restore(tf.train.latest_checkpoint(...))` (the objects under the same
# names as in `train_dcgan`), and continue the loop from the restored epoch counter. Does the FCD
# continue where it stopped? What else would you have to save to continue the whole history?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# The checkpoint holds the variables of the objects it was given, under their names: both
# networks' weights (the batch-norm statistics included), both optimisers' variables (Adam's
# moment estimates and its step counter, from which the learning-rate schedule is computed) and
# the epoch counter. Restored into objects of the same structure under the same names, training
# continues from the same weights and optimiser state: expect the first FCD after resuming to be
# close to the last one before the interruption, not to the untrained generator's. It will not
# repeat an uninterrupted run exactly, since the random streams (noise, shuffling, dropout
# masks) start afresh. Check after the restore and the first step that
# `generator_optimizer.iterations` continues from the restored step, not from 0: if it does not,
# the optimisers' state was not restored, and Adam starts again without its moment estimates and
# the schedule from its first value. The loop must run from `epoch.numpy()` to `EPOCHS`. Nothing else is saved:
# the history (losses, FCDs, label shares, grids, seconds) must be written separately, e.g. as
# JSON beside the checkpoint, and reloaded; an exact continuation would also need the random
# states (a `tf.random.Generator` can be checkpointed, the global `tf.random` state cannot) and,
# for checkpoints saved inside an epoch (`train_dcgan` saves only at its end), the position of the
# dataset's iterator (`tf.data` iterators can be checkpointed too).
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex06_8
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 8: A constant learning rate
#
# Set `LR_FINAL_FRACTION = 1.0` and re-run the DCGAN at `lecture` scale. Compare the FCD curve,
# the per-class shares and the printed changes of the shares between epochs with the decayed run:
# do the swings persist to the end? How different are the last few epochs' FCDs?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# With the decay, the last steps are about ten times smaller than the first ($\alpha = 0.1$), and
# Adam's step has about the size of the learning rate whatever the gradient (section 4): the
# networks move less per epoch at the end, so the changes of the label shares and of the FCD from
# one epoch to the next should shrink towards the end of the decayed run. With a constant rate
# they move as much in the last epoch as in the middle ones: expect the swings to persist, with
# changes of the shares that stay above the sampling level that the lecture prints, and FCDs of
# the last few epochs that scatter more than the decayed run's. Whether the final FCD is better
# is not decided by this argument: a decayed rate also freezes the game wherever it is when the
# steps become small, so compare the scatter of the last few epochs, not one final number. Section
# 1's bilinear game says why decay is no cure: the distance from the equilibrium still grows, by
# $\prod_t\sqrt{1+\eta_t^2}$, only by less per turn around it.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
