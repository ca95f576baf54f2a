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
# # 02 · The same RBM in TensorFlow/Keras, held to the same likelihood
#
# Notebook 01 built a restricted Boltzmann machine in PyTorch and measured it by its test
# log-likelihood. Here we write the same model the TensorFlow 2 / Keras 3 way, in the spirit of
# chapter 4 of *Generative AI with Python and TensorFlow 2* {cite:p}`babcock2021`:
#
# 1. the RBM as a `keras.layers.Layer` inside a `keras.Model`;
# 2. a CD-k training step compiled into a graph with `tf.function`, with the gradient written
#    explicitly as *data term minus model term*;
# 3. evaluation with the very same framework-free `lib.rbm` functions (weights → NumPy), and a check
#    that Keras and PyTorch reach the same exact test log-likelihood, within a few nats (4 at the
#    smoke scale, 3 at the lecture scale), at the same settings.
#
# **Prerequisites:** notebook 01 (the theory: energy, free energy, conditionals, CD-k, exact
# $\log Z$ and AIS). Basic TensorFlow (`tf.function`).

# %% slideshow={"slide_type": "subslide"}
import time

import numpy as np
import matplotlib.pyplot as plt
import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from lib import cache, config, data, plotting, rbm_torch, results
from lib import rbm as rbmlib

tf, keras = config.import_tensorflow()  # import tensorflow, keras (without their C++ start-up notices)

# Small matrices (batches of 64 × 784): one thread per framework is as fast as several and does not
# collapse when the CPU is shared. Must be set before TensorFlow runs its first operation.
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
torch.set_num_threads(1)
threadpool_limits(1)

SCALE = config.setup("02_rbm_keras", seed=0)
SEED = config.seed()  # 0, or COURSE_SEED when set: for every model
print(f"TensorFlow {tf.__version__}, Keras {keras.__version__} (backend: {keras.backend.backend()})")

# The same settings as the small-model table of notebook 01 (CD-1 row).
N_TRAIN = config.scaled(smoke=2000, lecture=8000, full=60000)
BATCH_SIZE = 64
LEARNING_RATE = 0.03  # SGD with momentum 0.5, decayed linearly to 0, as in 01
MOMENTUM = 0.5
N_HIDDEN = config.scaled(smoke=12, lecture=20, full=25)  # small enough for the exact log Z
CD_K = 1
EPOCHS = config.scaled(smoke=10, lecture=10, full=100)
SAMPLE_STEPS = config.scaled(smoke=200, lecture=1000, full=5000)
# What training must achieve (asserted in the learning-check cells): nats above the base-rate
# model, and the largest Keras - PyTorch difference; how they were chosen is written beside each.
MARGIN = config.scaled(smoke=7.0, lecture=30.0, full=50.0)
TOLERANCE = config.scaled(smoke=4.0, lecture=3.0, full=3.0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Data and the baseline
#
# Same data as notebook 01: MNIST, **stochastically binarized** with the course-wide fixed seeds
# (`seed=0` for the training images, `seed=1` for the test images), and the independent-pixel
# (base-rate) model as the baseline every RBM must beat.

# %%
train_images, _ = data.load_mnist("train")
test_images, _ = data.load_mnist("test")
v_train = data.binarize(train_images[:N_TRAIN], "stochastic", seed=0).reshape(-1, 784)  # (N, 784)
v_test = data.binarize(test_images, "stochastic", seed=1).reshape(-1, 784)  # (N_test, 784)
base_bias = rbmlib.base_rate_bias(v_train)  # (784,)
LL_BASE = rbmlib.base_rate_log_likelihood(v_test, base_bias)
print(f"train {v_train.shape}, test {v_test.shape}; base-rate model: {LL_BASE:.2f} nats")
results.describe(
    dataset="MNIST, stochastically binarized (train seed 0, test seed 1)",
    n_train=len(v_train),
    n_test=len(v_test),
    n_hidden=N_HIDDEN,
    method=f"CD-{CD_K}",
    epochs=EPOCHS,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The RBM as a Keras layer
#
# Recall from 01: $E(v,h) = -b^\top v - c^\top h - v^\top W h$, free energy
# $F(v) = -b^\top v - \sum_j \operatorname{softplus}(c_j + (v^\top W)_j)$, and factorised conditionals
# $p(h_j{=}1\mid v) = \sigma(c_j + (v^\top W)_j)$, $p(v_i{=}1\mid h) = \sigma(b_i + (Wh)_i)$.
# The layer owns $W$ (784 × H), $b$, $c$ as Keras weights; calling it returns $F(v)$.


# %%
class RBMLayer(keras.layers.Layer):
    def __init__(self, n_visible: int, n_hidden: int, visible_bias=None, **kwargs):
        super().__init__(**kwargs)
        self.W = self.add_weight(
            shape=(n_visible, n_hidden),
            initializer=keras.initializers.RandomNormal(stddev=0.01, seed=SEED),
            name="W",
        )
        b_init = (
            "zeros"
            if visible_bias is None
            else keras.initializers.Constant(np.asarray(visible_bias, np.float32))
        )
        self.b = self.add_weight(shape=(n_visible,), initializer=b_init, name="b")
        self.c = self.add_weight(shape=(n_hidden,), initializer="zeros", name="c")

    def prob_h(self, v):  # (B, D) -> p(h=1|v) (B, H)
        return tf.sigmoid(tf.matmul(v, self.W) + self.c)

    def prob_v(self, h):  # (B, H) -> p(v=1|h) (B, D)
        return tf.sigmoid(tf.matmul(h, self.W, transpose_b=True) + self.b)

    @staticmethod
    def bernoulli(p):
        return tf.cast(tf.random.uniform(tf.shape(p)) < p, p.dtype)

    def gibbs(self, v, k: int = 1):  # k block-Gibbs steps v -> h -> v
        for _ in range(k):
            v = self.bernoulli(self.prob_v(self.bernoulli(self.prob_h(v))))
        return v

    def free_energy(self, v):  # (B, D) -> (B,)
        return -tf.linalg.matvec(v, self.b) - tf.reduce_sum(
            tf.nn.softplus(tf.matmul(v, self.W) + self.c), axis=1
        )

    def call(self, v):
        return self.free_energy(v)


class KerasRBM(keras.Model):
    """A Keras model wrapping the RBM layer, with a compiled CD-k training step."""

    def __init__(
        self, n_visible: int, n_hidden: int, visible_bias=None, k: int = 1, total_updates: int = 1000
    ):
        super().__init__()
        self.rbm = RBMLayer(n_visible, n_hidden, visible_bias)
        self.k = k
        # the learning rate decays linearly to 0 over the whole run, as in notebook 01
        schedule = keras.optimizers.schedules.PolynomialDecay(
            LEARNING_RATE, decay_steps=total_updates, end_learning_rate=0.0
        )
        self.cd_optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=MOMENTUM)

    def call(self, v):
        return self.rbm(v)

    @tf.function  # traced once per input signature, then runs as a TensorFlow graph
    def train_step_cd(self, v0):
        rbm = self.rbm
        ph0 = rbm.prob_h(v0)  # data term statistics (B, H)
        vk = rbm.gibbs(v0, self.k)  # CD-k negative samples, chain started at the data (B, D)
        phk = rbm.prob_h(vk)  # model term statistics (B, H)
        n = tf.cast(tf.shape(v0)[0], tf.float32)
        # ∂ log p / ∂θ ≈ <·>_data - <·>_model ; the optimiser minimises, so we pass minus that
        dW = (tf.matmul(v0, ph0, transpose_a=True) - tf.matmul(vk, phk, transpose_a=True)) / n  # (D, H)
        db = tf.reduce_mean(v0 - vk, axis=0)  # (D,)
        dc = tf.reduce_mean(ph0 - phk, axis=0)  # (H,)
        self.cd_optimizer.apply_gradients([(-dW, rbm.W), (-db, rbm.b), (-dc, rbm.c)])
        recon = rbm.prob_v(rbm.bernoulli(ph0))  # one-step mean reconstruction (B, D)
        return tf.reduce_mean(tf.reduce_sum(tf.square(v0 - recon), axis=1))

    def numpy_params(self):
        """(W, b, c) as float64 NumPy arrays, for lib.rbm."""
        return tuple(
            np.asarray(keras.ops.convert_to_numpy(x), np.float64)
            for x in (self.rbm.W, self.rbm.b, self.rbm.c)
        )


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Training with the compiled CD-k step
#
# The gradient is written out: for a batch of $B$ data vectors $v^{(0)}$ and their CD-k samples
# $v^{(k)}$,
#
# $$\Delta W = \frac1B\sum \left(v^{(0)} \sigma(c + v^{(0)\top} W)^\top - v^{(k)} \sigma(c + v^{(k)\top} W)^\top\right),\quad
# \Delta b = \overline{v^{(0)} - v^{(k)}},\quad \Delta c = \overline{\sigma(\cdot)^{(0)} - \sigma(\cdot)^{(k)}},$$
#
# the closed form of the gradient of the free-energy surrogate that notebook 01 checks against
# autograd (its `lib.rbm_torch.cd_gradients`). Keras' SGD with momentum then applies it (we hand it
# $-\Delta$ because optimisers minimise), with the learning rate decaying linearly to zero as in 01.
# The first call traces `train_step_cd` into a graph; later calls run the graph without Python
# overhead.
#
# **The cache.** The trained model is stored under `build/cache/` with its training history, keyed
# by the code, the settings, the data and the seed that define it: a rerun loads it (and prints what
# it loaded, with the original training time) instead of retraining. To retrain, run with
# `COURSE_CACHE=off` (ignore the cache) or `COURSE_CACHE=refresh` (retrain and replace the entry).

# %% slideshow={"slide_type": "subslide"}
TOTAL_UPDATES = EPOCHS * int(np.ceil(len(v_train) / BATCH_SIZE))
n_epochs = config.training_steps(EPOCHS)


def build_keras_rbm():
    """The untrained model, built (called once) with its optimizer built, as the cache needs."""
    model = KerasRBM(784, N_HIDDEN, base_bias, k=CD_K, total_updates=TOTAL_UPDATES)
    model(tf.zeros((1, 784)))  # creates the weights
    model.cd_optimizer.build(model.trainable_variables)
    return model


def train_keras_rbm(model):
    """CD-k training with the compiled step; returns the history (recon_error per epoch, seconds)."""
    dataset = data.to_tf_dataset(v_train, batch_size=BATCH_SIZE, seed=SEED)
    history = {"recon_error": []}
    start = time.perf_counter()
    # config.training: every epoch and batch, or only the first update at COURSE_SCALE=untrained
    for _epoch in tqdm(config.training(range(EPOCHS)), total=n_epochs, desc=f"Keras CD-{CD_K}, H={N_HIDDEN}"):
        errors = [float(model.train_step_cd(v)) for v in config.training(dataset)]
        history["recon_error"].append(float(np.mean(errors)))
    history["seconds"] = time.perf_counter() - start
    return history


# What defines both trainings (Keras here, the PyTorch reference in section 5), for the cache key.
TRAINING_PARAMS = {
    "n_hidden": N_HIDDEN,
    "k": CD_K,
    "lr": LEARNING_RATE,
    "momentum": MOMENTUM,
    "batch_size": BATCH_SIZE,
    "epochs": EPOCHS,
}
model, history = cache.cached_keras(
    "02_keras_rbm",
    build=build_keras_rbm,
    train=train_keras_rbm,
    code=[RBMLayer, KerasRBM, build_keras_rbm, train_keras_rbm, data.to_tf_dataset],
    params={**TRAINING_PARAMS, "total_updates": TOTAL_UPDATES, "seed": SEED},
    data={"v_train": v_train, "base_bias": base_bias},
    seed=SEED,
)
keras_seconds = history["seconds"]  # the original training's wall time when loaded
print(
    f"trained {n_epochs} epochs in {keras_seconds:.1f} s ({keras_seconds / n_epochs:.2f} s/epoch, first includes tracing)"
)
plotting.plot_history({"recon_error": history["recon_error"]}, xlabel="epoch")
plt.show()

# %% [markdown]
# Filters and samples. With only a few hidden units and CD-1, long Gibbs chains from noise may all
# fall into one or two blurry prototypes: CD-1 chains start at the data and never visit the spurious
# modes far from it, so training does not push them down. Notebook 01's PCD-trained large model is
# the one to look at for varied samples.

# %% slideshow={"slide_type": "subslide"}
W_np, b_np, c_np = model.numpy_params()
lim = np.abs(W_np).max()
plotting.image_grid(W_np.T, ncols=10, vrange=(-lim, lim), title=f"the {N_HIDDEN} filters (columns of W)")
plt.show()

v = tf.cast(tf.random.uniform((16, 784)) < 0.5, tf.float32)  # (16, 784) noise
gibbs_step = tf.function(lambda v: model.rbm.gibbs(v, 1))
for _ in tqdm(range(SAMPLE_STEPS), desc="Gibbs chains", leave=False):
    v = gibbs_step(v)
plotting.image_grid(
    model.rbm.prob_v(model.rbm.bernoulli(model.rbm.prob_h(v))),
    ncols=8,
    title=f"mean p(v|h) after {SAMPLE_STEPS} Gibbs steps from noise",
)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The exact test log-likelihood, by `lib.rbm`
#
# With $H$ = `N_HIDDEN` hidden units, $\log Z = \log\sum_h e^{c^\top h}\prod_i(1+e^{b_i+(Wh)_i})$ is an
# exact sum of $2^H$ terms, computed by the same framework-free function as in 01; the weights simply
# leave TensorFlow as NumPy arrays.

# %%
log_z_keras = rbmlib.log_partition_exact(W_np, b_np, c_np)
ll_keras = rbmlib.log_likelihood(v_test, W_np, b_np, c_np, log_z_keras)
print(
    f"Keras CD-{CD_K}, H={N_HIDDEN}: exact test log-likelihood {ll_keras:.2f} nats (base rate {LL_BASE:.2f})"
)
results.record(
    f"keras_exact_test_log_likelihood_h{N_HIDDEN}",
    ll_keras,
    unit="nats",
    key=f"Keras CD-{CD_K}, {N_HIDDEN} hidden, exact test LL",
    seconds_per_epoch=keras_seconds / n_epochs,
)

# %% tags=["learning-check"]
# Reference: the base-rate model (W = 0), which the initial RBM matches. Smoke, seeds 0-2
# (COURSE_CACHE=off): 11.3-13.1 nats above it (seeds 0-4 before: 9.6-13.1); untrained (one
# update): 0.08. Lecture, one run (README): 38 nats.
assert ll_keras > LL_BASE + MARGIN, (
    f"training should beat the base-rate model: {ll_keras:.2f} vs {LL_BASE:.2f}"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Same settings in PyTorch: do the two frameworks agree?
#
# So that this notebook stands alone, we train the course's PyTorch RBM, `lib.rbm_torch` (lecture 01's
# `RBM` and its trainer `rbm_torch.train`, which applies the same explicit gradient as the Keras
# step), with *identical* settings (data, initialisation scheme, CD-k, SGD with momentum, learning
# rate, batch size, epochs), and evaluate it with the same `lib.rbm` call. Its weights are cached
# like the Keras model. Different random
# streams make the two runs differ by run-to-run noise only, while a bug in either framework's model
# (a transposed $W$, a wrong sign) would cost about as much as training gains, or more. The notebook
# asserts that the two agree within `TOLERANCE` nats, and that the PyTorch reference, too, beats the
# base-rate model by `MARGIN` nats.


# %% slideshow={"slide_type": "subslide"}
def train_torch_reference():
    """lib.rbm_torch's RBM trained by rbm_torch.train with this notebook's settings: its (W, b, c)
    and the training time, cached under build/cache/."""

    def compute():
        torch_model = rbm_torch.RBM(784, N_HIDDEN, base_bias)  # W from the seeded global generator
        hist = rbm_torch.train(
            torch_model, v_train, method="cd", k=CD_K, epochs=EPOCHS, lr=LEARNING_RATE,
            batch_size=BATCH_SIZE, momentum=MOMENTUM, seed=SEED, desc=f"PyTorch CD-{CD_K}, H={N_HIDDEN}",
        )  # fmt: skip
        W, b, c = torch_model.numpy_params()
        return {"W": W, "b": b, "c": c, "seconds": np.float64(hist["seconds"])}

    return cache.cached_arrays(
        "02_torch_reference",
        compute=compute,
        code=[train_torch_reference, rbm_torch],
        params=TRAINING_PARAMS,
        data={"v_train": v_train, "base_bias": base_bias},
        seed=SEED,
        frameworks=["torch"],
    )


reference = train_torch_reference()
W_t, b_t, c_t = reference["W"], reference["b"], reference["c"]
torch_seconds = float(reference["seconds"])  # the original training's wall time when loaded
ll_torch = rbmlib.log_likelihood(v_test, W_t, b_t, c_t, rbmlib.log_partition_exact(W_t, b_t, c_t))
difference = ll_keras - ll_torch
print(f"exact test log-likelihood, CD-{CD_K}, H={N_HIDDEN}, {n_epochs} epochs:")
print(f"  Keras     {ll_keras:8.2f} nats  ({keras_seconds / n_epochs:.2f} s/epoch)")
print(f"  PyTorch   {ll_torch:8.2f} nats  ({torch_seconds / n_epochs:.2f} s/epoch)")
print(f"  base rate {LL_BASE:8.2f} nats")
print(f"  difference Keras - PyTorch: {difference:+.2f} nats")
results.record(f"torch_reference_exact_test_log_likelihood_h{N_HIDDEN}", ll_torch, unit="nats")
results.record(
    "keras_minus_torch_log_likelihood", difference, unit="nats", key="Keras − PyTorch, same settings"
)

# %% tags=["learning-check"]
# Reference: the base-rate model, and the Keras model above. Smoke, seeds 0-2 (COURSE_CACHE=off):
# the PyTorch reference (lib.rbm_torch) 10.4-12.6 nats above the base rate; Keras - PyTorch from
# -0.15 to +1.20 nats. Untrained (one update each): -0.04 above the base rate. Lecture, one run
# with the earlier hand-written PyTorch loop (README): 37.5 and +0.8 nats; not re-measured with
# lib.rbm_torch. A transposed W or a wrong sign in either model would cost about as much as
# training gains.
assert ll_torch > LL_BASE + MARGIN, (
    f"the PyTorch reference should beat the base rate: {ll_torch:.2f} vs {LL_BASE:.2f}"
)
assert abs(difference) < TOLERANCE, f"Keras and PyTorch disagree by {difference:+.2f} nats"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Conclusion
#
# - The RBM fits naturally into Keras as a layer holding $W, b, c$ with methods for the two
#   conditionals, Gibbs sampling and the free energy; the model wraps it with a training step.
# - `tf.function` compiles the whole CD-k update (Gibbs chain, statistics, optimiser) into one graph.
#   Writing the gradient explicitly as data statistics minus model statistics shows there is no
#   back-propagation in CD: the "loss" of an RBM is never evaluated, only its gradient is estimated.
# - Measured by the *same* exact log-likelihood code, Keras and PyTorch agree at the same settings
#   within the asserted `TOLERANCE` (4 nats at smoke scale, 3 at lecture scale), while both beat the
#   base-rate model by at least `MARGIN` nats (7 at smoke scale, 30 at lecture scale).
# - The comparison with published numbers ({cite:t}`salakhutdinov2008`, full MNIST: ≈ −143 nats for
#   25 hidden units evaluated exactly) is discussed in notebook 01: its numbers are expected to be
#   lower because of the small offline training set, few epochs and a harder test subset.
#
# ## Exercises
#
# 1. Turn `train_step_cd` into PCD: keep a `tf.Variable` of fantasy particles in the model, advance it
#    inside the compiled step, and compare the exact log-likelihood with the PCD-1 row of notebook 01
#    (run at the same scale).
# 2. Replace the explicit gradient by `tf.GradientTape` on the surrogate
#    $\overline{F(v^{(0)})} - \overline{F(\text{stop\_gradient}(v^{(k)}))}$ and check that the
#    weights after one step agree with the explicit version to float precision.
# 3. Remove `@tf.function` and time an epoch. Where does the time go?
# 4. Train with CD-10 (`k=10`): how do the likelihood and the time per epoch change?
