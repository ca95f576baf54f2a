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
# # 05 — A convolutional VAE in Keras 3
#
# Lecture 04 derived the variational autoencoder — the ELBO, its reconstruction and KL terms, the
# reparameterisation trick, the importance-weighted bound — and built one from PyTorch
# `torch.distributions` with fully connected layers. This lecture builds the same model the
# Keras way, in the spirit of the [keras.io VAE example](https://keras.io/examples/generative/vae/):
# a **convolutional** encoder and decoder, a `Sampling` layer that implements the
# reparameterisation trick, and a `keras.Model` subclass with a **custom `train_step`**. Keras 3 runs
# here on the TensorFlow backend. We then measure it with the same yardsticks as lecture 04.
#
# **What you will learn**
# - how a Keras 3 model with a custom `train_step` (gradient tape, metric trackers) trains an objective
#   that is not a plain `loss(y_true, y_pred)`;
# - a reparameterising `Sampling` layer drawing from Keras' seeded random generator;
# - convolutional encoders (strided `Conv2D`) and decoders (`Conv2DTranspose`);
# - a 2-D latent space of digits and of clothes (Fashion-MNIST), and its decoded manifold;
# - the test ELBO, the importance-weighted log-likelihood and the Fréchet classifier distance of a
#   Keras model, computed with the framework-light helpers of `lib.vae` and `lib.metrics`.
#
# **Prerequisites**: `04_vae_pytorch` (the theory: KL divergence, ELBO, IW bound), `00_course_tour`
# (the Fréchet classifier distance). Some Keras: layers, the functional API, `fit`.
#
# **Data.** Binarized MNIST exactly as in lectures 01, 02 and 04 — a fixed stochastic binarization of the
# training digits, `data.binarize(train, "stochastic", seed=0)`, and the course's likelihood test set
# `data.likelihood_test_set()` (every test digit, binarized once with seed 1) — so that the
# log-likelihoods in nats are comparable across the course.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up
#
# TensorFlow is imported before `config.setup` so that the set-up seeds it (and Keras).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm

from lib import cache, checks, comparison, config, data, memorisation, metrics, plotting, results, vae

tf, keras = config.import_tensorflow()  # import tensorflow, keras (without their C++ start-up notices)
from keras import layers, ops

SCALE = config.setup("05_vae_keras", seed=0)
SEED = config.seed()  # 0, or COURSE_SEED when set: for every model and every estimate
print(f"Keras {keras.__version__}, backend {keras.backend.backend()}, TensorFlow {tf.__version__}")
T_START = time.time()

LATENT_DIM = 2  # 2-D: we can look at the whole latent space
N_TRAIN = config.scaled(smoke=6400, lecture=8000, full=60000)  # at most this many training images
BATCH_SIZE = config.scaled(smoke=32, lecture=64, full=128)
LEARNING_RATE = config.scaled(smoke=3e-3, lecture=2e-3, full=1e-3)
EPOCHS = config.scaled(smoke=8, lecture=30, full=60)
IW_K = config.scaled(smoke=5, lecture=250, full=5000)  # importance samples per test image
N_FCD = metrics.sample_count()  # samples for the Fréchet distance: the course-wide n at this scale
ELBO_DRAWS = config.scaled(smoke=2, lecture=10, full=10)  # draws of z per test image for the test ELBO
N_FASHION = config.scaled(smoke=6000, lecture=6000, full=60000)  # Fashion-MNIST training images
EPOCHS_FASHION = config.scaled(smoke=2, lecture=5, full=30)

# %% [markdown]
# The data: at most `N_TRAIN` images of the training split, the validation split (digits drawn like the
# training digits, on which nothing trains) to watch for over-fitting, and the test digits; the cell
# prints how many of each were loaded. The base rate — independent pixels with their (smoothed) training
# frequencies, the simplest model of binary digits, as in lecture 04 — gives the exact test
# log-likelihood that every trained model here should beat.

# %% slideshow={"slide_type": "subslide"}
train_u8, train_labels = data.load_mnist("train")
valid_u8, _ = data.load_mnist("validation")
test_u8, test_labels = data.load_mnist("test")
train_u8, train_labels = train_u8[:N_TRAIN], train_labels[:N_TRAIN]
x_train = data.binarize(train_u8, "stochastic", seed=0)[..., None]  # (N, 28, 28, 1) in {0, 1}
x_valid = data.binarize(valid_u8, "stochastic", seed=2)[..., None]  # (V, 28, 28, 1)
x_test_flat = data.likelihood_test_set()  # (M, 784): every test digit, binarized once with seed 1
x_test = x_test_flat.reshape(-1, 28, 28, 1)  # (M, 28, 28, 1)
print(f"train {x_train.shape}, validation {x_valid.shape}, test {x_test.shape}")
results.describe(
    dataset="binarized MNIST (stochastic binarization: train seed 0, validation seed 2, test seed 1)",
    n_train=len(x_train),
    n_validation=len(x_valid),
    n_test=len(x_test),
    latent_dim=LATENT_DIM,
    architecture="conv encoder 16-32 / deconv decoder 32-16, Bernoulli decoder",
)

pixel_p = (x_train.reshape(len(x_train), -1).sum(0) + 1.0) / (len(x_train) + 2.0)  # (784,)


def base_rate_log_likelihood(x):
    """Exact log p(x) of the base rate, nats per image, averaged over binary images x (N, ...)."""
    x = x.reshape(len(x), -1)
    return float((x @ np.log(pixel_p) + (1 - x) @ np.log1p(-pixel_p)).mean())


base_rate_ll = base_rate_log_likelihood(x_test_flat)
print(f"base-rate (independent-pixel Bernoulli) test log-likelihood: {base_rate_ll:.2f} nats per image")
results.record("test_ll_base_rate", base_rate_ll, unit="nats")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The reparameterisation trick as a layer
#
# The encoder outputs the mean $\mu_\phi(x)$ and the log-variance $\ell_\phi(x)=\log\sigma^2_\phi(x)$ of
# $q_\phi(z\mid x)=\mathcal N(\mu,\operatorname{diag}\sigma^2)$. The `Sampling` layer draws
#
# $$z=\mu+e^{\ell/2}\odot\varepsilon,\qquad \varepsilon\sim\mathcal N(0,I),$$
#
# so that the sample is a differentiable function of $\mu$ and $\ell$ and gradients flow through it
# (lecture 04, §3.1). Its noise comes from `keras.random.normal` without a seed of its own, that is from
# Keras' global random generator, which `config.setup` seeds with the notebook's seed (through
# `keras.utils.set_random_seed`), so runs are reproducible. That works on the TensorFlow backend used here;
# on JAX a random draw inside a compiled function needs a `keras.random.SeedGenerator` kept as an
# attribute of the layer and passed as `seed=`, as in the keras.io example.


# %%
class Sampling(layers.Layer):
    """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I): the reparameterisation trick."""

    def call(self, inputs):
        z_mean, z_log_var = inputs  # (B, d) each
        eps = keras.random.normal(ops.shape(z_mean))  # from Keras' global, seeded generator
        return z_mean + ops.exp(0.5 * z_log_var) * eps  # (B, d)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Convolutional encoder and decoder
#
# Images have local structure, which convolutions exploit with far fewer parameters than dense
# layers. The encoder halves the resolution twice with strided convolutions
# ($28\to14\to7$); the decoder mirrors it with transposed convolutions ($7\to14\to28$) and ends in one
# channel of **logits** $a_j(z)$: the Bernoulli probability of pixel $j$ is $\pi_j=\sigma(a_j)$, with
# $\sigma(a)=1/(1+e^{-a})$ the logistic sigmoid (not the standard deviation $\sigma_\phi$ of §1). Since
# $\log\sigma(a)=a-\log(1+e^{a})$ and $\log\big(1-\sigma(a)\big)=-\log(1+e^{a})$, the log-likelihood
# $\sum_j\big[x_j\log\pi_j+(1-x_j)\log(1-\pi_j)\big]$ becomes
# $\log p_\theta(x\mid z) = \sum_j\big[x_j a_j - \log(1+e^{a_j})\big]$, a function of the logits that is
# numerically stable (no $\log 0$ for probabilities that round to 0 or 1). We halve keras.io's channel
# counts (32/64) to keep the importance-weighted evaluation — hundreds of decoder passes per test
# image — affordable on a CPU, and the encoder's dense layer has 64 units where keras.io's has 16.


# %%
def build_encoder(latent_dim=LATENT_DIM):
    x_in = keras.Input(shape=(28, 28, 1))  # (B, 28, 28, 1)
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x_in)  # (B, 14, 14, 16)
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(h)  # (B, 7, 7, 32)
    h = layers.Flatten()(h)  # (B, 1568)
    h = layers.Dense(64, activation="relu")(h)  # (B, 64)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)  # (B, d)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)  # (B, d)
    z = Sampling(name="z")([z_mean, z_log_var])  # (B, d)
    return keras.Model(x_in, [z_mean, z_log_var, z], name="encoder")


def build_decoder(latent_dim=LATENT_DIM):
    z_in = keras.Input(shape=(latent_dim,))  # (B, d)
    h = layers.Dense(7 * 7 * 32, activation="relu")(z_in)  # (B, 1568)
    h = layers.Reshape((7, 7, 32))(h)  # (B, 7, 7, 32)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)  # (B, 14, 14, 32)
    h = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(h)  # (B, 28, 28, 16)
    logits = layers.Conv2DTranspose(1, 3, padding="same", name="logits")(h)  # (B, 28, 28, 1)
    return keras.Model(z_in, logits, name="decoder")


build_encoder().summary()
build_decoder().summary()


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. The model: a `keras.Model` with its own `train_step`
#
# `fit` normally minimises `loss(y, model(x))`. The ELBO is not of that form — it needs the encoder's
# $\mu,\ell$ as well as the decoder's output — so we override `train_step`: run the model under a
# `tf.GradientTape`, compute the loss
#
# $$\text{loss}_\beta(x) = \underbrace{-\sum_{j}\log p_\theta(x_j\mid z)}_{\text{binary cross-entropy, summed}} + \;\beta\,\underbrace{\mathrm{KL}\big(\mathcal N(\mu,\sigma^2)\,\|\,\mathcal N(0,I)\big)}_{-\frac12\sum_d(1+\ell_d-\mu_d^2-e^{\ell_d})},\qquad z=\mu+e^{\ell/2}\odot\varepsilon,$$
#
# apply the gradients, and update `keras.metrics.Mean` trackers, which `fit` prints and stores in its
# history. The first term is minus the reconstruction term $\mathbb E_{q}[\log p_\theta(x\mid z)]$ of lecture
# 04, estimated with one draw of $z$; the second sums over the latent dimensions $d$; the weight $\beta$
# of the KL term is the β-VAE's knob (lecture 04, §3).
# With $\beta=1$, the default and what this lecture trains, the loss is $-\mathcal L(x)$, the negative ELBO;
# with $\beta\neq1$ it is the β-objective, which is not. The KL is `lib.vae.gaussian_kl`, the same closed
# form as in lecture 04, which accepts TensorFlow tensors. `test_step` computes the same terms without
# gradients, for validation data.


# %% slideshow={"slide_type": "subslide"}
class VAE(keras.Model):
    def __init__(self, encoder, decoder, beta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.beta = encoder, decoder, beta
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "rec", "kl")}

    @property
    def metrics(self):  # reset by fit() at the start of every epoch
        return list(self.trackers.values())

    def elbo_terms(self, x, training=False):
        """Per-image reconstruction log-likelihood and KL, each (B,), for x (B, 28, 28, 1)."""
        z_mean, z_log_var, z = self.encoder(x, training=training)
        logits = self.decoder(z, training=training)  # (B, 28, 28, 1)
        bce = ops.binary_crossentropy(x, logits, from_logits=True)  # (B, 28, 28, 1)
        rec = -ops.sum(bce, axis=(1, 2, 3))  # (B,) log p(x|z)
        kl = vae.gaussian_kl(z_mean, z_log_var)  # (B,)
        return rec, kl

    def _update(self, loss, rec, kl):
        for name, value in (("loss", loss), ("rec", ops.mean(rec)), ("kl", ops.mean(kl))):
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    def train_step(self, x):
        with tf.GradientTape() as tape:
            rec, kl = self.elbo_terms(x, training=True)
            loss = -ops.mean(rec - self.beta * kl)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return self._update(loss, rec, kl)

    def test_step(self, x):
        rec, kl = self.elbo_terms(x)
        return self._update(-ops.mean(rec - self.beta * kl), rec, kl)

    def call(self, x):
        return self.decoder(self.encoder(x)[2])


class TqdmEpochs(keras.callbacks.Callback):
    """One tqdm bar over the epochs of fit(), showing the latest metrics."""

    def __init__(self, epochs, desc):
        super().__init__()
        self.bar = tqdm(total=epochs, desc=desc)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.set_postfix({k: f"{v:.1f}" for k, v in (logs or {}).items()})
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


# %% [markdown]
# How good is the untrained model? We evaluate the test ELBO — averaged over `ELBO_DRAWS` samples of
# $z$ per image — before and after training. (The number of draws does not change what is estimated,
# only the noise of the estimate, which an average over the whole test set already makes small.)


# %% slideshow={"slide_type": "subslide"}
def evaluate(model, x, n_samples=ELBO_DRAWS, batch=500):
    """Mean test ELBO, reconstruction and KL (nats per image) of a VAE on x (N, 28, 28, 1)."""
    rec_sum, kl_sum = 0.0, 0.0
    for i in range(0, len(x), batch):
        for _ in range(n_samples):
            rec, kl = model.elbo_terms(x[i : i + batch])
            rec_sum += float(ops.sum(rec)) / n_samples
            kl_sum += float(ops.sum(kl)) / n_samples
    return {"elbo": (rec_sum - kl_sum) / len(x), "rec": rec_sum / len(x), "kl": kl_sum / len(x)}


def build_vae(beta=1.0, name="vae"):
    """A fresh, compiled VAE with KL weight beta, its weights and its optimizer's state created."""
    model = VAE(build_encoder(), build_decoder(), beta=beta, name=name)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    model.build((None, 28, 28, 1))
    model.optimizer.build(model.trainable_variables)
    return model


# The model before training: the initial weights the training below starts from (it seeds every
# generator with SEED before it builds the model).
config.seed_everything(SEED)
model_untrained = build_vae()
untrained = evaluate(model_untrained, x_test)
print("untrained:", {k: round(v, 1) for k, v in untrained.items()})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Training with `fit`
#
# `fit` reports, for every epoch, the mean of each tracker over the epoch's minibatches — for the
# training digits a running mean while the weights change — and the same terms on the validation
# digits with the weights at the end of the epoch. So early in training the training curve can lie above
# the validation curve, and the two curves are not measured with the same weights. A validation curve
# that merely stops falling is not over-fitting (the model may simply have converged). As in lecture
# 04, we measure over-fitting after training: the −ELBO with the final weights on the validation digits
# and on as many training digits, whose gap we compare with the base rate's gap on the same images (with
# only 784 parameters the base rate barely over-fits, so its gap says how much the two sets of images
# differ). A gap well beyond the base rate's, or a validation curve that turns up while the training
# curve keeps falling, is over-fitting. The validation digits are drawn like the training digits (the
# test digits need not be, which is why they are not used here).


# %% slideshow={"slide_type": "subslide"}
def train_vae(model):
    """fit() on the training digits, validated on the validation digits; the history, with the seconds."""
    t0 = time.perf_counter()
    fit = model.fit(
        data.to_tf_dataset(x_train, batch_size=BATCH_SIZE, shuffle=True, seed=SEED),
        validation_data=data.to_tf_dataset(x_valid, batch_size=500, shuffle=False),
        epochs=config.training_steps(EPOCHS),
        steps_per_epoch=1 if config.untrained() else None,  # untrained scale: a single update
        verbose=0,
        shuffle=False,  # the dataset is shuffled
        callbacks=[TqdmEpochs(config.training_steps(EPOCHS), "conv VAE on MNIST")],
    )
    return {**fit.history, "seconds": time.perf_counter() - t0}


model, history = cache.cached_keras("05_conv_vae", build=build_vae, train=train_vae)
train_seconds = history["seconds"]  # the original training's wall time, also when loaded from the cache
epochs_axis = np.arange(1, len(history["loss"]) + 1)
print(f"{len(epochs_axis)} epochs in {train_seconds:.0f} s")

fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for ax, key, title in zip(
    axes,
    ["loss", "rec", "kl"],
    ["loss: −ELBO at β = 1", "reconstruction log p(x|z)", "KL(q‖p)"],
    strict=True,
):
    ax.plot(epochs_axis, history[key], marker="o", label="train (running mean over the epoch)")
    ax.plot(epochs_axis, history["val_" + key], marker="o", label="validation (end of the epoch)")
    ax.set_title(title + " (nats)")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
axes[0].legend()
fig.tight_layout()

final = {
    name: evaluate(model, x, n_samples=1)
    for name, x in [("train", x_train[: len(x_valid)]), ("validation", x_valid)]
}
vae_gap = final["train"]["elbo"] - final["validation"]["elbo"]
base_rate_gap = base_rate_log_likelihood(x_train[: len(x_valid)]) - base_rate_log_likelihood(x_valid)
print(
    f"with the final weights: -ELBO {-final['train']['elbo']:.2f} on training digits, "
    f"{-final['validation']['elbo']:.2f} on as many validation digits: a gap of {vae_gap:.2f} nats; "
    f"the base rate's on the same images: {base_rate_gap:.2f}; the difference: {vae_gap - base_rate_gap:.2f}"
)
results.record("validation_minus_train_gap_over_base_rate", vae_gap - base_rate_gap, unit="nats")

# %%
test_eval = evaluate(model, x_test)
print(
    f"test ELBO {test_eval['elbo']:.2f} nats = reconstruction {test_eval['rec']:.2f} − KL {test_eval['kl']:.2f}"
    f"   (untrained {untrained['elbo']:.1f}; base-rate log-likelihood {base_rate_ll:.1f})"
)
results.record(
    "test_elbo", test_eval["elbo"], unit="nats", epochs=EPOCHS, key="test ELBO (conv VAE, 2-D latent)"
)
results.record("test_elbo_untrained", untrained["elbo"], unit="nats")
results.record("test_kl", test_eval["kl"], unit="nats")

# %% tags=["learning-check"]
# The test ELBO, a lower bound on log p(x), beats the base rate's exact log-likelihood on the same images.
checks.above(
    "elbo_over_base_rate",
    test_eval["elbo"] - base_rate_ll,
    config.scaled(smoke=30, lecture=35, full=45),
    "test ELBO minus the base rate's exact test log-likelihood, nats",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Reconstructions, the latent space and the manifold
#
# Test digits and their reconstructions from the posterior mean code (pixel probabilities
# $\sigma(a(\mu))$):


# %%
def decode(z):
    """Pixel probabilities (N, 28, 28, 1) for latent codes z (N, d)."""
    return ops.convert_to_numpy(ops.sigmoid(model.decoder(z, training=False)))


z_test, _, _ = model.encoder.predict(x_test, batch_size=500, verbose=0)  # posterior means (M, d)
fig = plotting.image_grid(
    np.concatenate([x_test[:16], decode(z_test[:16])]),
    ncols=16,
    title="test digits (top) and reconstructions (bottom)",
)

# %% [markdown]
# With a 2-D latent space, the posterior means of all test digits can be drawn at once, coloured
# by label, next to the decoder's image of a quantile grid of the prior (as in lecture 04). The KL term
# pulls the codes towards the prior's disk, and neighbouring codes decode to similar images.

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
plotting.latent_scatter(z_test, test_labels, ax=axes[0], title="conv VAE: posterior means of test digits")
plotting.manifold_figure(decode, n=15, ax=axes[1], title="decoded quantile grid of the prior")
fig.tight_layout()

# %%
z_prior = keras.random.normal((N_FCD, LATENT_DIM), seed=SEED)  # (N_FCD, d) codes drawn from the prior
samples = decode(z_prior)  # (N_FCD, 28, 28, 1) pixel probabilities E[x | z]
fig = plotting.image_grid(samples[:40], ncols=20, title="samples from the prior (pixel probabilities)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Measuring it: ELBO, importance-weighted log-likelihood, Fréchet distance
#
# The importance-weighted bound of lecture 04 §7.1,
# $\mathcal L_k(x)=\mathbb E\big[\log\frac1k\sum_{i=1}^k p_\theta(x,z_i)/q_\phi(z_i\mid x)\big]$ with $z_i\sim q_\phi(z\mid x)$, is estimated
# as there with one draw of the $k$ samples per image, $\hat{\mathcal L}_k(x)=\log\frac1k\sum_i w_i$: a lower bound on
# $\log p_\theta(x)$ in expectation. It needs only the per-sample log-weights
#
# $$\log w_i = \log p_\theta(x\mid z_i) + \log\mathcal N(z_i;0,I) - \log\mathcal N(z_i;\mu,\sigma^2),$$
#
# where, with $z_i=\mu+\sigma\odot\varepsilon_i$, the last term is
# $\log\mathcal N(z_i;\mu,\sigma^2) = -\frac12\sum_d\big[(z_{id}-\mu_d)^2/\sigma_d^2+\log2\pi+\log\sigma_d^2\big] = -\frac12\sum_d\big[\varepsilon_{id}^2+\log2\pi+\ell_d\big]$:
# the form the code below uses.
# We compute them in TensorFlow (a `tf.function`, so the decoder runs as one graph) and hand them to the
# framework-agnostic `lib.vae.iw_log_likelihood_chunked`, which combines the chunks with a stable
# log-sum-exp. Every test digit counts, as in every likelihood of the course; `IW_K` samples per image.

# %% slideshow={"slide_type": "subslide"}
LOG_2PI = float(np.log(2 * np.pi))


def log_weights(x, mu, logvar, m):
    """(m, B) log-weights for x (B, 28, 28, 1) with m fresh samples from N(mu, exp(logvar))."""
    eps = tf.random.normal(tf.concat([[m], tf.shape(mu)], axis=0))  # (m, B, d)
    z = mu + tf.exp(0.5 * logvar) * eps  # (m, B, d)
    logits = model.decoder(tf.reshape(z, (-1, LATENT_DIM)), training=False)  # (m*B, 28, 28, 1)
    x_rep = tf.tile(x, (m, 1, 1, 1))  # (m*B, 28, 28, 1)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=x_rep, logits=logits)
    log_px_z = -tf.reshape(tf.reduce_sum(bce, axis=(1, 2, 3)), (m, -1))  # (m, B)
    log_pz = -0.5 * tf.reduce_sum(z**2 + LOG_2PI, axis=-1)  # (m, B)
    log_qz = -0.5 * tf.reduce_sum(eps**2 + LOG_2PI + logvar, axis=-1)  # (m, B)
    return log_px_z + log_pz - log_qz


def iw_estimate(x, k, batch=50, chunk=100):
    """Per-image estimates of L_k (NumPy, (N,)) for x (N, 28, 28, 1)."""
    graph_log_weights = tf.function(log_weights, reduce_retracing=True)
    out = []
    for i in tqdm(range(0, len(x), batch), desc=f"IW bound, k={k}"):
        xb = tf.constant(x[i : i + batch])
        mu, logvar, _ = model.encoder(xb, training=False)
        out.append(
            vae.iw_log_likelihood_chunked(
                lambda m, xb=xb, mu=mu, lv=logvar: graph_log_weights(xb, mu, lv, tf.constant(m)).numpy(),
                k,
                chunk_size=min(chunk, k),
            )
        )
    return np.concatenate(out)


def iw_measurements(x):
    """Per-image estimates of L_K and L_1 (a one-sample ELBO) on x, and the seconds L_K took: the
    lecture's most expensive evaluation."""
    t0 = time.perf_counter()
    out = {"L_K": iw_estimate(x, IW_K)}
    out["seconds"] = time.perf_counter() - t0
    out["L_1"] = iw_estimate(x, 1)
    return out


def mean_and_se(values):
    """The mean of per-image values and its standard error over the images."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


iw = cache.cached_arrays("05_iw_estimate", compute=lambda: iw_measurements(x_test))
L_1, L_K = iw["L_1"], iw["L_K"]
test_iw_ll = float(L_K.mean())
gap, gap_se = mean_and_se(L_K - L_1)
print(
    f"on all {len(L_K)} test images: ELBO {test_eval['elbo']:.2f}, L_{IW_K} {test_iw_ll:.2f} "
    f"(± {mean_and_se(L_K)[1]:.2f}, its standard error over the test images) "
    f"[computed in {float(iw['seconds']):.0f} s]; base rate {base_rate_ll:.2f}"
)
print(f"L_{IW_K} - L_1 on the same images: {gap:.2f} ± {gap_se:.2f} nats (paired standard error)")
results.record(
    "test_iw_log_likelihood",
    test_iw_ll,
    unit="nats",
    k=IW_K,
    n_images=len(L_K),
    key=f"test log-likelihood, importance-weighted bound L_k (k = {IW_K})",
)
results.record("iw_minus_elbo_gap", gap, unit="nats")

# %%
# For any model, trained or not, L_k rises strictly with k whenever the weights vary (q is not the exact
# posterior, which a Gaussian q of a neural decoder never exactly is): the estimate must rise by more
# than its noise.
assert gap > 2 * gap_se, f"L_{IW_K} should lie above L_1, got {gap:.2f} ± {gap_se:.2f} nats"
# How far it rises depends on the model (at most E KL(q || p(z|x))); under 10 nats is an empirical sanity
# bound for this model: tens of nats would point to wrong log-weights.
assert gap < 10, f"the IW estimate should sit a few nats above the ELBO, got a gap of {gap:.2f}"

# %% tags=["learning-check"]
# The IW bound (still a lower bound on log p(x)) beats the base rate's exact log-likelihood on the same images.
checks.above(
    "iw_over_base_rate",
    test_iw_ll - base_rate_ll,
    config.scaled(smoke=35, lecture=40, full=50),
    f"importance-weighted test log-likelihood (k = {IW_K}) minus the base rate's exact one, nats",
)

# %% [markdown]
# **The Fréchet classifier distance** in the feature space of the course's MNIST classifier — our own
# "FID", not comparable with published Inception FIDs. `metrics.score_samples` scores `N_FCD` images as
# every lecture does (the same number of images and the same real digits at a given scale), beside two
# reference points: unseen real digits of the training distribution (a model that copies its training
# images can score below it) and uniform noise (degenerate images can score above it). As in lecture 04
# §7.3 we score the decoded pixel probabilities $\mathbb E[x\mid z]$ of prior samples (the smooth images of §5,
# which the course comparison records), and binary draws $x\sim p_\theta(x\mid z)$ from the same codes, whose
# reference is the base rate's own binary samples, scored the same way.

# %% slideshow={"slide_type": "subslide"}
rng = np.random.default_rng(SEED)
draws = (rng.random(samples.shape) < samples).astype(np.float32)  # (N_FCD, 28, 28, 1): x ~ p(x|z)
draws_base_rate = (rng.random((N_FCD, 784)) < pixel_p).astype(np.float32)  # the base rate's samples
score = metrics.score_samples(samples, pixel_range="unit")
score_draws = metrics.score_samples(draws, pixel_range="unit")
score_base_rate = metrics.score_samples(draws_base_rate, pixel_range="unit")
print(
    f"FCD of n = {score['n']}: unseen real digits {score['unseen_real']:.2f} | conv VAE samples, pixel "
    f"probabilities {score['fcd']:.2f} | conv VAE samples, binary draws {score_draws['fcd']:.2f} | "
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

# %% tags=["learning-check"]
# The VAE's binary samples are closer to real digits than the base rate's binary samples, scored the same way.
checks.below(
    "fcd_draws_over_base_rate",
    score_draws["fcd"] / score_base_rate["fcd"],
    config.scaled(smoke=0.5, lecture=0.4, full=0.35),
    "FCD of the conv VAE's binary samples divided by that of the base rate's samples",
)

# %% tags=["learning-check"]
# The samples spread over the digit classes: each of the counted digits gets at least 2 % of them.
checks.above(
    "digits_covered",
    score["digits_covered"],
    config.scaled(smoke=6, lecture=7, full=8),
    "digits that receive at least 2 % of the samples (pixel probabilities)",
)

# %% [markdown]
# **Does it copy? And the course comparison.** As in lecture 04 (§7.4), `lib.memorisation` compares each
# prior sample's pixel distance to its nearest training image with the same distance for the validation
# digits (unseen, and drawn like the training digits; a median ratio near 1: as novel as real digits; far
# below 1: copies). The samples are pixel probabilities, compared with the grey-level versions of the
# training digits (the model saw binarized draws of them) and of the validation digits; blurry images sit
# closer to every training image than sharp ones, so blur alone lowers the ratio somewhat, without any
# copying. The conv VAE then enters the course's comparison of its MNIST models (`build/comparison.md`)
# with the score of its samples (the pixel probabilities, not binary draws), its size (encoder and
# decoder), its training time (that of the original training when the model came from the cache), the
# time to decode 100 prior samples (the median of five runs after a warm-up), its IW test log-likelihood on
# every test digit and this check.

# %% slideshow={"slide_type": "subslide"}
memo = memorisation.memorisation_check(samples, train_u8, valid_u8, pixel_range_samples="unit")
print("conv VAE prior samples:", memo)

n_parameters = sum(int(np.prod(w.shape)) for w in model.trainable_weights)  # encoder and decoder
decode(keras.random.normal((100, LATENT_DIM)))  # warm-up
sampling_times = []
for _ in range(5):
    t0 = time.perf_counter()
    decode(keras.random.normal((100, LATENT_DIM)))
    sampling_times.append(time.perf_counter() - t0)
sampling_seconds_per_100 = float(np.median(sampling_times))
comparison.record_model(
    "VAE (Keras, conv)",
    score=score,
    n_parameters=n_parameters,
    training_seconds=train_seconds,
    sampling_seconds_per_100=sampling_seconds_per_100,
    test_log_likelihood=test_iw_ll,
    likelihood=f"importance-weighted bound L_k, k = {IW_K}",
    test_images=x_test_flat,
    base_rate_log_likelihood=base_rate_ll,
    memorisation=memo.summary(),
)
print(
    f"VAE (Keras, conv): {n_parameters:,} trainable parameters, FCD {score['fcd']:.2f}, trained in "
    f"{train_seconds:.1f} s, {sampling_seconds_per_100 * 1e3:.1f} ms per 100 samples, IW test "
    f"log-likelihood {test_iw_ll:.2f} nats"
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Comparison with lecture 04.** Lecture 04 trains a fully connected VAE on the same binary digits
# (up to their number: its `N_TRAIN` may differ from this notebook's), with a 2-D latent space and with
# a 50-D one, and measures them on the same test images against the same base rate. The cell below prints this model's test ELBO and KL term beside the ones lecture 04
# recorded, when it has run at this scale (its most recent run; otherwise run it first, or read its
# printed numbers).
#
# What to look for: the information the code carries about an image is bounded by the rate, the KL term:
# averaged over the data, $\mathbb E_x\,\mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z)) = I_q(x;z) + \mathrm{KL}(q(z)\,\|\,p(z))
# \ge I_q(x;z)$, with $q(z)$ the distribution of all the codes together (lecture 04, §3). The bound caps what
# the code carries at what it costs; it does not say what the rate will be. Two real numbers could carry
# any amount of information in principle, and the rate is whatever training makes it, not something the
# latent dimension fixes. So the bound predicts neither how the three models' rates compare nor how their
# likelihoods do: read both off the table.
#
# **Published numbers** on the full binarized MNIST (60,000 training images), as in lecture 04 §7.2:
# {cite:t}`kingma2014`, Fig. 2, report variational lower bounds (ELBOs) of roughly $-100$ nats for MLP VAEs
# with 500-unit hidden layers and 10–200 latent dimensions (read off their plot); {cite:t}`burda2016`,
# Table 1, report $\log p(x)\approx-86.76$ nats by $\mathcal L_{5000}$ for a 784-200-200-50 VAE, and $-84.78$ for the
# same network trained as an IWAE with $k=50$. Compare them with the numbers printed here; a 2-D latent
# space, fewer training images with one fixed binarization, and a few epochs are candidate reasons for
# the difference, which this notebook does not separate.

# %%
lecture_04 = results.load("04_vae_pytorch")
recorded = {name: entry["value"] for name, entry in lecture_04["results"].items()}
print(f"{'test images, nats per image':38s} {'ELBO':>8s} {'KL term':>8s}")
print(f"{'conv VAE, 2-D latent (this notebook)':38s} {test_eval['elbo']:8.2f} {test_eval['kl']:8.2f}")
if (
    lecture_04.get("scale") == SCALE
    and {"test_elbo_2d_latent", "test_kl_2d_latent", "test_elbo", "test_kl"} <= recorded.keys()
):
    for row, elbo, kl in [
        ("MLP VAE, 2-D latent (lecture 04)", recorded["test_elbo_2d_latent"], recorded["test_kl_2d_latent"]),
        ("MLP VAE, 50-D latent (lecture 04)", recorded["test_elbo"], recorded["test_kl"]),
    ]:
        print(f"{row:38s} {elbo:8.2f} {kl:8.2f}")
    print(f"(lecture 04's run at scale {SCALE} recorded {lecture_04['updated']})")
else:
    print(f"lecture 04 has recorded no run at scale {SCALE} here: run it to compare")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Fashion-MNIST
#
# The same architecture on clothes. Fashion-MNIST images are grey-level textures, and as in the
# keras.io example we train with the binary cross-entropy against the grey levels $x_j\in[0,1]$. That is a
# fine *loss* but **not** a log-likelihood: the Bernoulli formula $\lambda^{x}(1-\lambda)^{1-x}$ is a
# distribution over $x\in\{0,1\}$, and as a function of $x\in[0,1]$ it is not a normalised density — its
# integral over $[0,1]$ is $1/C(\lambda)\le\tfrac12$. {cite:t}`loaizaganem2019`
# add the missing normalising constant,
#
# $$p(x\mid\lambda) = C(\lambda)\,\lambda^{x}(1-\lambda)^{1-x},\qquad C(\lambda)=\frac{2\operatorname{artanh}(1-2\lambda)}{1-2\lambda}\quad\big(C(\tfrac12)=2\big),$$
#
# the **continuous Bernoulli**, a proper density on $[0,1]$ (whose mean is not $\lambda$); a VAE trained
# with it, and read through that mean, gives better reconstructions and sharper samples in their
# experiments. We keep the plain (unnormalised) objective of the keras.io example and report it as
# "−BCE − KL", never as nats of likelihood. Our yardstick for it is the same objective for the base-rate
# model (independent pixels, each $\lambda_j$ the mean grey level of pixel $j$).
#
# **Getting Fashion-MNIST.** This lecture does not download it unasked: `lib.data` looks for the four files in
# `data/fashion-mnist/` (or `$COURSE_DATA_DIR/fashion-mnist/`) and in `/usr/share/datasets/fashion-mnist/`,
# where Debian's package `dataset-fashion-mnist` installs them (`sudo apt install dataset-fashion-mnist`).
# Without them this section prints a note and skips its training, figures and check, and Exercise 7 needs
# them too. To download them instead (about 30 MB, once, into `data/`), change `allow_download=False` to
# `True` in the next cell.

# %% slideshow={"slide_type": "subslide"}
try:
    f_train_u8, f_train_labels = data.load_mnist("train", kind="fashion", allow_download=False)
    f_test_u8, f_test_labels = data.load_mnist("test", kind="fashion", allow_download=False)
except data.DatasetUnavailable as exc:
    print("Fashion-MNIST not installed; skipping this section.", str(exc).splitlines()[0])
    f_train_u8 = None

if f_train_u8 is not None:
    CLASSES = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
    fx_train = data.to_float(f_train_u8[:N_FASHION])[..., None]  # (N, 28, 28, 1) grey levels in [0, 1]
    fx_test = data.to_float(f_test_u8[:2000])[..., None]  # (2000, 28, 28, 1)
    print(f"Fashion-MNIST: {len(fx_train)} training and {len(fx_test)} test images")
    f_mean = np.clip(fx_train.mean(0), 1e-3, 1 - 1e-3)  # (28, 28, 1) mean grey level of each pixel
    f_base = float(
        (fx_test * np.log(f_mean) + (1 - fx_test) * np.log1p(-f_mean)).sum(axis=(1, 2, 3)).mean()
    )  # −BCE of the base-rate model

    def train_fashion(model):
        t0 = time.perf_counter()
        fit = model.fit(
            data.to_tf_dataset(fx_train, batch_size=BATCH_SIZE, seed=SEED),
            epochs=config.training_steps(EPOCHS_FASHION),
            steps_per_epoch=1 if config.untrained() else None,  # untrained scale: a single update
            verbose=0,
            shuffle=False,
            callbacks=[TqdmEpochs(config.training_steps(EPOCHS_FASHION), "conv VAE on Fashion-MNIST")],
        )
        return {**fit.history, "seconds": time.perf_counter() - t0}

    fashion, f_history = cache.cached_keras(
        "05_fashion_vae", build=lambda: build_vae(name="fashion_vae"), train=train_fashion
    )
    f_terms = evaluate(fashion, fx_test, n_samples=1)
    f_objective = f_terms["rec"] - f_terms["kl"]  # −BCE − KL: the ELBO's formula, not an ELBO here
    print(
        f"Fashion-MNIST test objective (−BCE − KL per image): {f_objective:.1f}; "
        f"base-rate model (−BCE): {f_base:.1f}"
    )
    results.record(
        "fashion_test_neg_bce_minus_kl",
        f_objective,
        unit="nats-like (not a likelihood)",
        n_train=len(fx_train),
        epochs=EPOCHS_FASHION,
    )
    results.record("fashion_base_rate_neg_bce", f_base, unit="nats-like (not a likelihood)")

    def decode_fashion(z):
        return ops.convert_to_numpy(ops.sigmoid(fashion.decoder(z, training=False)))

    fz, _, _ = fashion.encoder.predict(fx_test, batch_size=500, verbose=0)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    plotting.latent_scatter(
        fz, f_test_labels[:2000], ax=axes[0], title="Fashion-MNIST codes", class_names=CLASSES
    )
    plotting.manifold_figure(decode_fashion, n=15, ax=axes[1], title="decoded quantile grid")
    fig.tight_layout()

# %% tags=["learning-check"]
# The Fashion VAE beats the base-rate model on the same (unnormalised) objective and the same test images.
if f_train_u8 is not None:
    checks.above(
        "fashion_over_base_rate",
        f_objective - f_base,
        config.scaled(smoke=60, lecture=70, full=80),
        "Fashion-MNIST test −BCE − KL of the VAE minus the base rate's −BCE",
    )

# %% [markdown]
# Look for classes that get a region of their own (trousers, bags and footwear usually do) and those that
# share one (the tops: T-shirts, pullovers, coats, shirts): in two dimensions the model spends its code on
# the coarse silhouette.
#
# ## Conclusion
#
# * In Keras, an objective that needs more than `(y_true, y_pred)` — here the encoder's $\mu,\ell$ — goes
#   into a custom `train_step`; `fit`, callbacks, validation and the metric history still work.
# * The reparameterisation trick is one small layer; the closed-form KL is the same function as in
#   PyTorch (`lib.vae.gaussian_kl` accepts TensorFlow tensors).
# * The measurements do not care about the framework: log-weights from TensorFlow go into the same
#   `lib.vae` estimator, samples into the same `lib.metrics` classifier as the PyTorch models.

# %%
results.record("wall_time", time.time() - T_START, unit="s")
print(f"notebook ran in {time.time() - T_START:.0f} s at scale {SCALE}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# The first three are **checked**: fill in the cell marked `...`, run it, then run the `check`
# line below it, which measures your answer against an independent reference (the Gaussian
# densities evaluated directly, the β-objective maximised numerically, the density integrated by
# quadrature) and says what disagrees. They need no training: the first two use a model small
# enough to be solved exactly, one latent variable and a linear decoder. The others are open:
# write your answer, then compare it with the model answer. In the book each solution is folded:
# try first.

# %%
from lib.exercises import check

# %% [raw]
# # BEGIN QUESTION
# name: ex05_1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: Importance weights where $\log p(x)$ is known
#
# The log-weights of §6 can be tested on a model whose evidence is known exactly: one latent
# variable and one observed number, with the prior $p(z)=\mathcal N(0,1)$ and the linear decoder
# $p_\theta(x\mid z)=\mathcal N(x;\,wz,\,s^2)$, so that $p_\theta(x)=\mathcal N(x;\,0,\,w^2+s^2)$. Take
# an encoder's output $q_\phi(z\mid x)=\mathcal N(\mu,e^{\ell})$ and draw $z_i=\mu+e^{\ell/2}\varepsilon_i$
# with $\varepsilon_i\sim\mathcal N(0,1)$. Write `log_weights(x, eps, mu, logvar, w, s)`, returning
# the log-weights $\log w_i=\log p_\theta(x\mid z_i)+\log\mathcal N(z_i;0,1)-\log\mathcal N(z_i;\mu,e^{\ell})$
# as a NumPy array shaped like `eps` (a 1-D array of the $\varepsilon_i$; the other arguments are
# numbers, `logvar` is $\ell$), with $\log q_\phi$ in the $\varepsilon$-form of §6. For which $\mu$
# and $\ell$ are all the weights equal, and to what? What is $\hat{\mathcal L}_k$ then, for every $k$?


# %% tags=["hide-input"]
def log_weights(x: float, eps: np.ndarray, mu: float, logvar: float, w: float, s: float) -> np.ndarray:
    """log p(x|z_i) + log N(z_i; 0, 1) − log N(z_i; mu, e^logvar) at z_i = mu + exp(logvar/2) eps_i."""
    # BEGIN SOLUTION
    log_2pi = np.log(2 * np.pi)
    z = mu + np.exp(0.5 * logvar) * eps  # (k,)
    log_px_z = -0.5 * ((x - w * z) ** 2 / s**2 + log_2pi + np.log(s**2))
    log_pz = -0.5 * (z**2 + log_2pi)
    log_qz = -0.5 * (eps**2 + log_2pi + logvar)  # log N(ε; 0, 1) − log σ: the Jacobian of z = μ + σε
    # p(x, z)/q(z) = p(x) p(z|x)/q(z): all weights are p(x) iff q is the exact posterior,
    # μ = w x/(w² + s²), e^ℓ = s²/(w² + s²); then L_k = log p(x) for every k, without noise.
    return log_px_z + log_pz - log_qz
    # END SOLUTION


# %%
check("05.1", log_weights)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex05_2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: What β does to the posterior
#
# §3's `train_step` maximises, averaged over the images of a batch,
# $\mathcal F_\beta(q)=\mathbb E_q[\log p_\theta(x\mid z)]-\beta\,\mathrm{KL}(q\,\|\,p(z))$ (estimated with
# one draw of $z$). Take the model of Exercise 1 with its decoder ($w$, $s$) fixed, and a Gaussian
# $q=\mathcal N(m,v)$: both terms then have closed forms. Maximise $\mathcal F_\beta$ over $m$ and
# $v>0$, and write `beta_posterior(x, w, s, beta)`, returning the pair `(m, v)` of the maximiser
# ($v$ a variance, not a log-variance). What is it at $\beta=1$? Which decoder noise variance would
# make your β-optimal $q$ that decoder's exact posterior? Which way do $m$ and $v$ move as β grows?


# %% tags=["hide-input"]
def beta_posterior(x: float, w: float, s: float, beta: float) -> tuple[float, float]:
    """Mean and variance of the Gaussian q that maximises E_q[log N(x; w z, s²)] − β KL(q ‖ N(0, 1))."""
    # BEGIN SOLUTION
    # E_q log p(x|z) = −[(x − w m)² + w² v]/(2 s²) + const and KL = (v + m² − 1 − log v)/2, so
    # ∂/∂m: w (x − w m)/s² − β m = 0 and ∂/∂v: −w²/(2 s²) − β (1 − 1/v)/2 = 0.
    # This is the exact posterior of a decoder with noise variance β s²: for β > 1, m shrinks
    # towards 0 and v grows towards 1, the prior's; β = 1 gives p(z|x) itself.
    m = w * x / (w**2 + beta * s**2)
    v = beta * s**2 / (w**2 + beta * s**2)
    return m, v
    # END SOLUTION


# %%
check("05.2", beta_posterior)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex05_3

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: The continuous Bernoulli's constant and mean
#
# In §7, $p(x\mid\lambda)=C(\lambda)\,\lambda^x(1-\lambda)^{1-x}$ on $x\in[0,1]$. With
# $\eta=\log\frac{\lambda}{1-\lambda}$, write $\lambda^x(1-\lambda)^{1-x}=(1-\lambda)\,e^{\eta x}$, integrate
# over $[0,1]$ to find $C(\lambda)$, check it against §7's formula, and show that $C(\lambda)\ge2$. The
# mean follows from $Z(\eta)=\int_0^1e^{\eta x}\,dx$ as $\mathbb E[x]=\frac{d}{d\eta}\log Z(\eta)$. Write
# `cb_log_norm(lam)`, returning $\log C(\lambda)$, and `cb_mean(lam)`, returning $\mathbb E[x]$, both
# elementwise for a NumPy array `lam` of values in $(0,1)$. Both must be finite and accurate (to
# $10^{-7}$) at $\lambda=\tfrac12$, where the closed forms are $0/0$, and next to it too, where a closed
# form can lose its precision to cancellation: expand in $\eta$ there. Is the mean $\lambda$? Where does it
# lie?


# %% tags=["hide-input"]
def cb_log_norm(lam: np.ndarray) -> np.ndarray:
    """log C(λ) of the continuous Bernoulli, elementwise for λ in (0, 1)."""
    # BEGIN SOLUTION
    # ∫₀¹ (1 − λ) e^(ηx) dx = (1 − λ)(e^η − 1)/η = (2λ − 1)/η, and 2λ − 1 = tanh(η/2), so
    # C = η/tanh(η/2) = 2 artanh(1 − 2λ)/(1 − 2λ) = 2 (1 + η²/12 − η⁴/720 + …) ≥ 2, as |tanh y| ≤ |y|.
    eta = np.log(lam) - np.log1p(-lam)
    small = np.abs(eta) < 1e-4
    safe = np.where(small, 1.0, eta)  # no 0/0 in the branch that np.where discards
    return np.where(small, np.log(2.0) + eta**2 / 12, np.log(safe / np.tanh(safe / 2)))
    # END SOLUTION


def cb_mean(lam: np.ndarray) -> np.ndarray:
    """Mean of the continuous Bernoulli, elementwise for λ in (0, 1)."""
    # BEGIN SOLUTION
    # log Z = log(e^η − 1) − log η, so E[x] = 1/(1 − e^(−η)) − 1/η = 1/2 + η/12 − η³/720 + …,
    # that is λ/(2λ − 1) + 1/(2 artanh(1 − 2λ)): between λ and 1/2, not λ.
    eta = np.log(lam) - np.log1p(-lam)
    small = np.abs(eta) < 1e-4
    safe = np.where(small, 1.0, eta)
    return np.where(small, 0.5 + eta / 12, 1 / (1 - np.exp(-safe)) - 1 / safe)
    # END SOLUTION


# %%
check("05.3", cb_log_norm, cb_mean)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex05_4
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: Where is the bottleneck?
#
# (a) Set `LATENT_DIM = 16` in the set-up cell and rerun the notebook from the top (`build_encoder`
# and `build_decoder` take `LATENT_DIM` as a default argument, fixed when they are defined: setting
# it in a later cell would build 2-D models and then fail on 16-D codes). The latent scatter and the
# manifold of §5 (and §7) draw a 2-D code space: skip them, or draw the first two principal
# components of the codes instead. How much do the ELBO and the IW estimate improve? The FCD?
#
# (b) Back at `LATENT_DIM = 2`, restore keras.io's sizes: 32/64 channels in the encoder, 64/32 in
# the decoder, and a 16-unit dense layer. Is the likelihood better? Time the IW evaluation. Which of
# the two changes helps the likelihood more, and what does that say about where this model's
# bottleneck is?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# (a) Expect the ELBO and the IW estimate to rise, with the reconstruction term gaining more than
# the KL term costs. The bound of §6 (the code carries at most the rate) holds in any dimension,
# and the rate is whatever training makes it; what the extra dimensions change in practice is how
# cheaply detail can be coded. With a smooth decoder and posteriors of finite width, two coordinates
# must place every digit on one 2-D sheet of images, and what does not fit on it (stroke width,
# slant, the style within a class) is paid for in the reconstruction term; sixteen coordinates can
# code such detail side by side. Expect a larger KL term and a better reconstruction term. The FCD
# need not follow: prior samples are good only where the codes of the training digits, $q(z)$, fill
# the prior, and in 16 dimensions there is more room for regions of $\mathcal N(0,I)$ that no code
# occupies. The likelihood and the quality of samples are different measures {cite:p}`theis2016`:
# read both off the run. The IW evaluation costs about the same: the decoder's cost depends on $d$
# only through its first dense layer.
#
# (b) Count the multiply–adds of one decoder pass (a transposed convolution costs input positions
# × 9 × input channels × output channels): about 1.5 million here, about 5.7 million with keras.io's
# sizes, almost four times as many. The IW evaluation, $k$ decoder passes per test image, should
# take up to about four times as long (less where fixed overheads dominate). At $d=2$ the wider
# networks can draw sharper images on the same 2-D sheet, but the code is still two numbers and the
# 16-unit layer narrows the encoder: expect the gain, if any, to be smaller than in (a). If the
# latent dimension helps much more than the width, the bottleneck is the code, not the networks.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex05_5
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5: Training with β
#
# Train with `build_vae(beta=4.0)` and `build_vae(beta=0.25)` (the loss curves then show the
# β-objective, not the −ELBO). Predict first, from Exercise 2, what β does to each image's code.
# Describe the latent scatter and the manifold. Which one has the better *test ELBO* (`evaluate`
# computes it with β = 1)?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Exercise 2 gives the direction for a fixed decoder: a larger β pulls each posterior towards the
# prior (its mean shrinks, its variance grows towards 1), as if the decoder were noisier: in Exercise
# 2's model exactly as if its noise variance were $\beta s^2$, and in general $\mathcal F_\beta$ is β times
# the ELBO's formula with the likelihood raised to the power $1/\beta$, flatter for β > 1. A smaller β
# does the reverse. Training adapts the decoder as well, but expect the same picture. With β = 4 the KL term falls, the codes of different digits overlap more
# and fill the prior's disk more evenly, and the manifold becomes smoother and blurrier, with some
# digits sharing a region or missing from it; a latent direction may stop carrying information at
# all (its KL term near zero, a partial posterior collapse). With β = 0.25 the KL term rises, the
# posteriors narrow and the codes spread out, reconstructions sharpen, and parts of the prior's disk
# may be left without codes, where prior samples decode to poor images. The loss curves show
# $-(\text{rec}-\beta\,\mathrm{KL}) = -\mathcal L - (1-\beta)\,\mathrm{KL}$: above the model's own −ELBO for
# β = 4, below it for β = 0.25 (whose objective is no bound on $\log p_\theta(x)$, lecture 04, §3), so
# they cannot be compared with the β = 1 run's curves.
#
# The test ELBO: β = 1 trains the ELBO itself, while the others trade reconstruction against KL at
# another rate. For a fixed decoder the ELBO is $\log p_\theta(x)-\mathrm{KL}(q\,\|\,p_\theta(z\mid x))$, so
# the β = 1 encoder is the best one, and in Exercise 2's model any other β loses exactly
# $\mathrm{KL}(q_\beta\,\|\,p_\theta(z\mid x))$. Expect β = 1 to have the best test ELBO of the three. For
# trained models this is an expectation, not a theorem (the decoders differ, and optimisation noise
# or over-fitting can reorder close values): check it on the numbers.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex05_6
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6: Backend independence
#
# Keras 3 also runs on JAX and PyTorch (chosen by the environment variable `KERAS_BACKEND`, set
# before Keras is first imported, so in a fresh kernel). Read the Keras guide "Customizing what
# happens in `fit()`" for the JAX and the PyTorch versions of a custom `train_step`: which lines of
# `VAE.train_step` would change, and what would the `Sampling` layer need on JAX (§1)? The rest of
# this notebook (`tf.function`, `tf.data`) is TensorFlow's, and JAX is not installed in the course
# environment, so this one is for reading, not running.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# What changes is how the gradient is taken, the `tf.GradientTape` block and `tape.gradient`, and on
# JAX also how the weights and the metrics are updated. The loss itself, written with `keras.ops`,
# stays.
#
# *PyTorch*: no tape. `train_step(self, data)` calls `self.zero_grad()`, computes the loss as now,
# calls `loss.backward()`, collects the gradients `[v.value.grad for v in self.trainable_weights]`
# and applies them with `self.optimizer.apply(gradients, self.trainable_weights)` inside
# `torch.no_grad()`. The metric trackers are updated as now.
#
# *JAX*: the step must be a pure function of the model's state. `train_step(self, state, data)`
# receives the trainable, non-trainable, optimizer and metric variables, computes the loss and its
# gradient with `jax.value_and_grad` of a function that runs the model through
# `self.stateless_call(trainable_variables, non_trainable_variables, x)` (so `call` would have to
# return $\mu$ and $\ell$ with the logits, or the encoder and decoder be called statelessly one after
# the other), updates the weights with `self.optimizer.stateless_apply`, updates the metrics
# statelessly, and returns the logs together with the new state. `lib.vae.gaussian_kl` recognises
# NumPy, PyTorch and TensorFlow arrays only, and a traced JAX array cannot become a NumPy one: on
# JAX the KL would be written with `keras.ops`. The `Sampling` layer needs an explicit random
# state, as §1 says: a `keras.random.SeedGenerator` created in `__init__` and passed as
# `seed=self.seed_generator` to `keras.random.normal`, so that each call draws fresh noise from a
# state that JAX can carry through the compiled step.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex05_7
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7: A likelihood for Fashion-MNIST
#
# (Needs Fashion-MNIST, §7.) Binarize Fashion-MNIST stochastically and train with the Bernoulli
# likelihood; now the objective *is* an ELBO in nats. Compare the IW estimate with MNIST's: which
# dataset is "harder", and is that a fair comparison?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Binarize with `data.binarize(f_train_u8[:N_FASHION], "stochastic", seed=0)[..., None]` (and the test
# images once, with another seed), train `build_vae()` on them, and compute the IW estimate as in §6 with the
# Fashion model in place of `model`. Expect a much lower log-likelihood than on MNIST, but most
# of the difference is not about clothes being harder to model. Stochastic binarization draws each
# pixel independently, $x_j\sim\mathrm{Bernoulli}(g_j)$ given the grey image $g$, and that noise cannot
# be predicted by any model: for every model, $-\mathbb E\log p(x)\ge H(x)\ge H(x\mid g)=\mathbb E\sum_j h(g_j)$,
# with $h(g)=-g\log g-(1-g)\log(1-g)$ the binary entropy, so no model's expected log-likelihood
# exceeds the ceiling $-\mathbb E\sum_j h(g_j)$. Fashion-MNIST is full of mid-grey textures, where $h$ is
# close to its maximum $\log 2$, while MNIST's pixels are mostly near 0 or 1: expect this ceiling to
# lie far lower for Fashion-MNIST. Nats per image compare the datasets' entropies as much as the
# models. Fairer yardsticks are each model's gain over its own dataset's base rate, and its distance
# to this ceiling (estimated from the grey levels of the test images); even these compare different
# data, so "harder" is only defined relative to a stated yardstick.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
