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
# # 07 — Generative models that learn the 2D Ising model
#
# Until now our generative models learned *images*, and we judged them with proxies: a
# log-likelihood on held-out digits, a Fréchet distance in a classifier's feature space. Physics
# offers something better: distributions whose every property we can compute. The 2D Ising model
# is the "MNIST of statistical physics": simple to state, exactly solved on the infinite lattice
# {cite:p}`onsager1944`, exactly *enumerable* on a small one, and with a phase transition at which a
# generative model has to reproduce long-range, scale-free fluctuations.
#
# {cite:t}`torlai2016` trained restricted Boltzmann machines on Monte Carlo configurations and asked whether the
# RBM's *own samples* reproduce the thermodynamics. We do the same, and we check it exactly.
#
# **What you will learn**
# - the Ising model, its phases, the critical temperature $T_c$ and the observables
#   (energy, magnetization, specific heat, susceptibility);
# - Monte Carlo as ground truth: checkerboard Metropolis and the Wolff cluster algorithm, and
#   why the latter beats critical slowing down;
# - learning $p(s)\propto e^{-E(s)/T}$ from samples only, with an RBM trained by contrastive
#   divergence;
# - **exact** model evaluation: on a $4\times4$ lattice we enumerate all 65,536 states and
#   compute $\mathrm{KL}(p_{\text{Boltzmann}}\,\|\,p_{\text{RBM}})$ as training proceeds and as the
#   hidden layer grows;
# - a VAE on the same spins, and what each model family gets right and wrong near $T_c$.
#
# **Prerequisites**: `01_rbm_pytorch` (RBMs, free energy, contrastive divergence, exact $\log Z$
# by enumeration) and `04_vae_pytorch` (the ELBO, importance-weighted likelihoods).
#
# **Data.** No MNIST today: every training set is generated here by Monte Carlo. (The RBM and VAE
# lectures binarize MNIST stochastically once with fixed seeds — `data.binarize(train,
# "stochastic", seed=0)`, `seed=1` for test — so their nats are comparable; Ising spins are
# already binary and need no binarization.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import logsumexp
from torch import nn
from tqdm.auto import tqdm

from lib import cache, config, divergences, ising, ising_mc, plotting, rbm, rbm_torch, results, vae

# The models here are tiny (at most 256×256 weights): one thread is as fast as several, and on a
# busy machine PyTorch's spinning worker threads can make every step many times slower.
torch.set_num_threads(1)
SCALE = config.setup("07_ising_generative", seed=0)
# The run's seed (COURSE_SEED when that is set). Every seed below (Monte Carlo data, initial
# weights, minibatch order, Gibbs chains) is derived from SEED, so a rerun with another COURSE_SEED
# changes all of them and shows how far the results move.
SEED = config.seed()
DEVICE = config.torch_device()
T_START = time.time()
TC = ising.ONSAGER_TC

# Part A: the 4×4 lattice, where everything is exact
L_SMALL = 4
T_SMALL = TC  # hardest place: the critical point
N_TRAIN_SMALL = config.scaled(smoke=2000, lecture=20000, full=100000)
HIDDEN_SIZES = config.scaled(smoke=[4, 16], lecture=[2, 4, 8, 16, 32], full=[2, 4, 8, 16, 32, 64])
EPOCHS_SMALL = config.scaled(smoke=20, lecture=20, full=100)
TEMPS_SMALL_AWAY = config.scaled(smoke=[1.8, 3.0], lecture=[1.8, 3.0], full=[1.5, 1.8, 2.0, 2.6, 3.0, 3.5])

# Part B: a larger lattice, temperatures across T_c, Monte Carlo as the reference
L_BIG = config.scaled(smoke=6, lecture=8, full=16)
TEMPS = config.scaled(
    smoke=[1.8, 2.3, 3.0],
    lecture=[1.5, 1.9, 2.1, 2.27, 2.45, 2.8, 3.5],
    full=[1.5, 1.7, 1.9, 2.0, 2.1, 2.2, 2.27, 2.35, 2.45, 2.6, 2.8, 3.1, 3.5],
)
N_TRAIN_BIG = config.scaled(smoke=2000, lecture=10000, full=50000)
EPOCHS_BIG = config.scaled(smoke=20, lecture=15, full=100)
N_GEN = config.scaled(smoke=500, lecture=2000, full=10000)  # samples drawn from each model
GIBBS_STEPS = config.scaled(smoke=200, lecture=2000, full=20000)  # RBM Gibbs sweeps per sample

# Training hyper-parameters shared by all RBMs (CD-k with SGD + momentum) and VAEs (Adam)
CD_K = 10
BATCH_SIZE = config.scaled(smoke=100, lecture=200, full=200)
RBM_LR = 0.1  # initial learning rate, decayed linearly to 0
RBM_MOMENTUM = 0.9
RBM_WEIGHT_SCALE = 0.05  # standard deviation of the initial weights
VAE_LATENT = 2
VAE_HIDDEN = 128
VAE_LR = 2e-3

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The Ising model
#
# Spins $s_i\in\{-1,+1\}$ sit on an $L\times L$ square lattice with periodic boundaries
# ($N=L^2$ spins). With coupling $J=1$ and no field, the energy counts aligned neighbours,
#
# $$E(s) = -\sum_{\langle ij\rangle} s_i s_j = -\sum_i s_i\big(s_{\text{right}(i)} + s_{\text{down}(i)}\big),$$
#
# and at temperature $T$ (in units of $J/k_B$, $\beta=1/T$) configurations follow the
# Boltzmann distribution
#
# $$p_T(s) = \frac{e^{-E(s)/T}}{Z(T)},\qquad Z(T)=\sum_{s} e^{-E(s)/T}.$$
#
# Low $T$ favours order (all spins aligned, $E/N=-2$); high $T$ favours entropy (random spins,
# $E/N\to0$). On the infinite lattice the two regimes are separated by a continuous phase
# transition at Onsager's
#
# $$T_c = \frac{2}{\ln(1+\sqrt2)} \approx 2.269 .$$
#
# The observables we will ask every model to reproduce (per spin, with $M=\sum_i s_i$):
#
# $$e = \frac{\langle E\rangle}{N},\quad m = \frac{\langle |M|\rangle}{N},\quad
#   c = \frac{\langle E^2\rangle-\langle E\rangle^2}{N T^2},\quad
#   \chi = \frac{\langle M^2\rangle-\langle |M|\rangle^2}{N T}.$$
#
# We use $|M|$ because on a finite lattice $\langle M\rangle=0$ exactly (the two ordered states
# are equally likely). The fluctuations $c$ and $\chi$ peak near $T_c$; on the infinite lattice
# they diverge. Onsager's exact results for $L\to\infty$ are
#
# $$e_\infty(T) = -\coth(2\beta)\Big[1+\tfrac{2}{\pi}\big(2\tanh^2(2\beta)-1\big)K(q)\Big],\quad
#   q=\frac{2\sinh 2\beta}{\cosh^2 2\beta},\qquad
#   m_\infty(T) = \big(1-\sinh^{-4}(2\beta)\big)^{1/8}\ (T<T_c),$$
#
# with $K$ the complete elliptic integral of the first kind. For $L\le4$ we do not need
# Onsager: `ising.exact` sums over all $2^{L^2}$ states. The model lives in `lib/ising.py`, its Monte Carlo in `lib/ising_mc.py`
# (vectorised NumPy; tested against hand-computed values and brute force in `tests/test_ising.py`).

# %% slideshow={"slide_type": "subslide"}
temps_fine = np.linspace(1.2, 4.0, 57)
exact_small = [ising.exact(L_SMALL, T) for T in temps_fine]

fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
for ax, key, label in zip(
    axes,
    ["energy_per_spin", "abs_magnetization_per_spin", "specific_heat_per_spin", "susceptibility_per_spin"],
    ["energy $e$", "magnetization $m$", "specific heat $c$", r"susceptibility $\chi$"],
):
    ax.plot(temps_fine, [d[key] for d in exact_small], "k-", label=f"exact, L={L_SMALL}")
    ax.axvline(TC, color="grey", ls=":", lw=1)
    ax.set_xlabel("T")
    ax.set_title(label)
axes[0].plot(temps_fine, ising.onsager_energy_per_spin(temps_fine), "C3--", label="Onsager, L=∞")
axes[1].plot(temps_fine, ising.onsager_magnetization(temps_fine), "C3--", label="Onsager, L=∞")
axes[0].legend()
axes[1].legend()
fig.suptitle(
    "The 2D Ising model: exact enumeration of all 65,536 states of a 4×4 lattice vs the infinite lattice"
)
fig.tight_layout()

# %% [markdown]
# The small lattice already shows the transition, smeared out: the specific heat peaks near
# $T_c$ rather than diverging, and $m$ stays large above $T_c$ because 16 spins are never
# really disordered. Finite-size effects are part of the physics the models must learn.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Monte Carlo: the ground truth for lattices we cannot enumerate
#
# For $L=8$ there are $2^{64}\approx 10^{19}$ states; we *sample* instead, with Markov chains
# whose stationary distribution is $p_T$.
#
# **Metropolis.** Propose flipping spin $i$; the energy changes by
# $\Delta E = 2 s_i h_i$ with $h_i$ the sum of its four neighbours; accept with probability
# $\min(1, e^{-\Delta E/T})$. Spins of one colour of a checkerboard have all their neighbours
# in the other colour, so half the lattice (and many chains at once) can be updated in one
# vectorised step. One *sweep* = one attempt per spin.
#
# **Critical slowing down.** Near $T_c$ the correlation length $\xi$ grows to the lattice size;
# local moves need $\tau\sim L^{z}$ sweeps ($z\approx2.17$) to decorrelate.
#
# **Wolff's algorithm** {cite:p}`wolff1989`. Pick a random seed spin; grow a cluster by adding each *aligned* neighbour of
# a cluster spin with probability $p_{\text{add}} = 1-e^{-2\beta}$ (each bond tested once); flip
# the whole cluster. This satisfies detailed balance with acceptance 1, and near $T_c$ the
# clusters are as large as the correlated regions, so $z\approx0.25$. Our implementation grows
# the clusters of all chains together, breadth first. One Wolff cluster flips anything from one
# spin to the whole lattice, so to compare the two algorithms per unit of work, one Wolff
# *sweep* is $\lceil N/\langle|C|\rangle\rceil$ cluster flips, with $\langle|C|\rangle$ the mean
# cluster size measured during burn-in: a sweep of either algorithm touches about $N$ spins.
#
# We measure how correlated successive configurations are with the **integrated
# autocorrelation time** of an observable $x_t$ recorded after every sweep,
# $\tau_{\text{int}} = \tfrac12 + \sum_{t\ge1}\rho(t)$ with $\rho$ the normalised autocorrelation
# function of $x$. A run of $n$ correlated samples carries the information of
# $n/(2\tau_{\text{int}})$ independent ones, so honest error bars are
# $\sigma\sqrt{2\tau_{\text{int}}/n}$. Below, $x_t = |M_t|/N$, the magnetization per spin: a
# global quantity, which a local algorithm can change only by moving domain walls across the lattice.
#
# The Monte Carlo runs, every training and the RBM's Gibbs chains below go through `lib.cache`:
# a rerun in which nothing they depend on has changed loads them from `build/cache/` (each prints
# `cache: loaded ...`) instead of recomputing; run with `COURSE_CACHE=off` to recompute without
# the cache, or `COURSE_CACHE=refresh` to recompute and replace the stored entries.

# %% slideshow={"slide_type": "subslide"}
L_TAU, N_CHAINS_TAU, TAU_BURN = 16, 16, 300
TAU_STEPS = config.scaled(smoke=150, lecture=600, full=3000)


def magnetization_series(seed):
    """|M| per spin after every sweep at T_c, (time, chain), for Metropolis and Wolff."""
    out = {}
    for algorithm in ["metropolis", "wolff"]:
        spins = ising_mc.sample(
            L_TAU,
            TC,
            N_CHAINS_TAU * TAU_STEPS,
            algorithm=algorithm,
            n_chains=N_CHAINS_TAU,
            n_burn=TAU_BURN,
            n_between=1,
            seed=seed,
        )
        # undo the random output sign with abs
        out[algorithm] = np.abs(ising.magnetization(spins) / L_TAU**2).reshape(TAU_STEPS, N_CHAINS_TAU)
    return out


m_series = cache.cached_arrays(
    "mc_tau",
    compute=lambda: magnetization_series(SEED + 1),
    code=[magnetization_series, ising_mc, ising],
    params={"L": L_TAU, "T": TC, "chains": N_CHAINS_TAU, "steps": TAU_STEPS, "burn": TAU_BURN},
    seed=SEED + 1,
)
tau = {}
for algorithm in m_series:
    tau[algorithm] = ising_mc.integrated_autocorrelation_time(m_series[algorithm])
    print(f"{algorithm:>10}: τ_int(|M|) = {tau[algorithm]:6.2f} sweeps at T_c on a {L_TAU}×{L_TAU} lattice")

fig, ax = plt.subplots(figsize=(9, 2.6))
for algorithm in m_series:
    ax.plot(m_series[algorithm][:150, 0], label=f"{algorithm} (τ_int ≈ {tau[algorithm]:.1f})")
ax.set_xlabel("sweep")
ax.set_ylabel("|M| / N")
ax.legend()
ax.set_title(f"one chain at $T_c$, L = {L_TAU}")
# A check of the Monte Carlo (not of a trained model): at T_c, Wolff must decorrelate |M| at least
# twice as fast per sweep as Metropolis (smoke, COURSE_SEED=0,1,2: ratio τ_M / τ_W of 4.4 to 5.7).
assert tau["wolff"] < 0.5 * tau["metropolis"], tau

# %% [markdown]
# Now the training data of part B: `N_TRAIN_BIG` configurations of the $L$ = `L_BIG` lattice
# at each temperature, Wolff within 0.5 of $T_c$ and checkerboard Metropolis further away (where
# Wolff's clusters become tiny and local moves are cheaper). Every configuration is also
# multiplied by a random global sign — an exact symmetry of $p_T$ — so both ordered states appear.


# %% slideshow={"slide_type": "subslide"}
def monte_carlo(L, temps, n, seed):
    """n configurations (n, L, L) int8 at each temperature: Wolff near T_c, Metropolis further away."""
    out = {}
    for T in tqdm(temps, desc=f"Monte Carlo L={L}"):
        algorithm = "wolff" if abs(T - TC) < 0.5 else "metropolis"
        kw = {} if algorithm == "wolff" else {"n_burn": 500, "n_between": 20}
        out[f"T{T}"] = ising_mc.sample(L, T, n, algorithm=algorithm, seed=seed + int(100 * T), **kw)
    return out


mc_arrays = cache.cached_arrays(
    f"mc_L{L_BIG}",
    compute=lambda: monte_carlo(L_BIG, TEMPS, N_TRAIN_BIG, SEED),
    code=[monte_carlo, ising_mc],
    params={"L": L_BIG, "temperatures": TEMPS, "n": N_TRAIN_BIG},
    seed=SEED,
)
mc = {T: mc_arrays[f"T{T}"] for T in TEMPS}  # (n, L, L) int8 per temperature
mc_obs = {T: ising_mc.observables(mc[T], T) for T in TEMPS}
for T in TEMPS:
    o = mc_obs[T]
    print(
        f"T={T:4.2f}  e={o['energy_per_spin']:+.4f}±{o['energy_per_spin_err']:.4f}  "
        f"m={o['abs_magnetization_per_spin']:.4f}±{o['abs_magnetization_per_spin_err']:.4f}  "
        f"(Onsager L=∞: e={ising.onsager_energy_per_spin(T):+.4f})"
    )

SPIN_VRANGE = (-1.8, 1.0)  # spins −1 drawn grey, so the black padding separates the lattices
show = [TEMPS[0], min(TEMPS, key=lambda t: abs(t - TC)), TEMPS[-1]]
fig, axes = plt.subplots(1, 3, figsize=(12, 2.6))
for ax, T in zip(axes, show):
    plotting.image_grid(mc[T][:8], ncols=8, side=L_BIG, vrange=SPIN_VRANGE, ax=ax, title=f"T = {T:.2f}")
fig.suptitle(f"Monte Carlo configurations, L = {L_BIG} (white = +1, grey = −1)")

# %%
# Sanity: far below T_c finite-size effects are tiny, so Monte Carlo must agree with Onsager.
T_low = TEMPS[0]
assert abs(mc_obs[T_low]["energy_per_spin"] - ising.onsager_energy_per_spin(T_low)) < 0.01, mc_obs[T_low]
results.describe(
    dataset="2D Ising configurations from Monte Carlo (Wolff / checkerboard Metropolis)",
    n_train=N_TRAIN_BIG,
    L_small=L_SMALL,
    L_big=L_BIG,
    temperatures=TEMPS,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. An RBM that learns the Boltzmann distribution from samples
#
# Map spins to binary units, $v_i=(s_i+1)/2$. The RBM of lecture 01 has $n_h$ hidden units $h_j$
# and the energy $E_\theta(v,h) = -b^\top v - c^\top h - v^\top W h$; summing out $h$,
#
# $$p_\theta(v) = \frac{e^{-F_\theta(v)}}{Z_\theta},\qquad
#   F_\theta(v) = -b^\top v - \sum_{j=1}^{n_h}\log\big(1+e^{\,c_j + (v^\top W)_j}\big).$$
#
# Compare with the target $p_T(s)\propto e^{-E(s)/T}$: the RBM must learn a free energy
# $F_\theta$ equal to $E(s)/T$ up to a constant. The Ising energy is a sum of *pairwise* terms; an
# RBM builds effective interactions between visible units by summing out hidden ones (each
# softplus is non-linear in $v$), so with enough hidden units it can represent any such $E$.
# The model never sees $E$, only Monte Carlo configurations.
#
# The log-likelihood gradient is a difference of two expectations (lecture 01),
#
# $$\nabla_\theta \,\mathbb{E}_{\text{data}}\log p_\theta(v)
#   = -\,\mathbb{E}_{\text{data}}\big[\nabla_\theta F_\theta(v)\big]
#     + \mathbb{E}_{p_\theta}\big[\nabla_\theta F_\theta(v)\big],$$
#
# and we estimate the second with **CD-$k$**: $k$ steps of block Gibbs sampling
# $h\sim p(h\mid v)=\sigma(c+W^\top v)$, $v\sim p(v\mid h)=\sigma(b+Wh)$ started at the data.
# (Persistent chains, PCD, are less biased, but below and at $T_c$ the target has two modes,
# $\pm$ magnetization, and a persistent chain that stays in one mode estimates the model term
# from that mode only. Starting from the data, which contains both modes, avoids that; exercise 2
# lets you try PCD.)
#
# The RBM is lecture 01's: the class `RBM` of `lib/rbm_torch.py` (parameters `W` of shape
# $(n_v, n_h)$, `b`, `c`; methods `sample_h`, `sample_v`, `free_energy`, `gibbs`), trained by
# `rbm_torch.train`. Lecture 01 introduced the surrogate loss
# $\mathcal L = \overline{F_\theta(v_{\text{data}})} - \overline{F_\theta(v_{\text{model}})}$
# (minibatch means, the model samples held fixed), whose gradient is *minus* the log-likelihood
# gradient above, and checked that autograd on it gives the closed form that `rbm_torch.train`
# uses,
#
# $$-\nabla_W\mathcal L = \overline{v\,\sigma(c+W^\top v)^\top}^{\,\text{data}} -
#   \overline{v\,\sigma(c+W^\top v)^\top}^{\,\text{model}},\qquad
#   {-\nabla_b\mathcal L} = \bar v^{\,\text{data}} - \bar v^{\,\text{model}},\qquad
#   {-\nabla_c\mathcal L} = \overline{\sigma(c+W^\top v)}^{\,\text{data}} - \overline{\sigma(c+W^\top v)}^{\,\text{model}},$$
#
# and follows this ascent direction with SGD, momentum 0.9 and a learning rate that decays linearly to 0 over the
# run. Every RBM below starts from weights $W_{ij}\sim\mathcal N(0, 0.05^2)$ and zero biases
# (zero visible bias: the spins are $\pm$ symmetric) and is trained with the same settings:

# %%
CD = {"method": "cd", "k": CD_K, "lr": RBM_LR, "batch_size": BATCH_SIZE, "momentum": RBM_MOMENTUM}
print(f"RBM training: {CD}, initial weights N(0, {RBM_WEIGHT_SCALE}²)")


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Exactness where it is possible: the 4×4 lattice at $T_c$
#
# With 16 visible units we can evaluate the RBM's full distribution: for each of the
# $2^{16}=65{,}536$ states (in the order of `ising.all_states`) compute $F_\theta(v)$ with
# `lib.rbm.free_energy`, and normalise, $\log Z_\theta = \log\sum_v e^{-F_\theta(v)}$ (cross-checked
# against `lib.rbm.log_partition_exact`, which sums over the hidden layer instead). Then the
# Kullback–Leibler divergence from the true Boltzmann distribution is exact:
#
# $$\mathrm{KL}(p_T\,\|\,p_\theta) = \sum_{s} p_T(s)\,\big[\log p_T(s) - \log p_\theta(s)\big] \;\ge 0,$$
#
# which is (up to the constant entropy of $p_T$) the expected negative log-likelihood on
# infinitely many fresh Monte Carlo samples — the quantity maximum-likelihood training minimises.
# In nats; 0 means perfect.

# %% slideshow={"slide_type": "subslide"}
exact_T = ising.exact(L_SMALL, T_SMALL)
P_TRUE = exact_T["probabilities"]  # (65536,)
STATES = ising.all_states(L_SMALL)  # (65536, 4, 4) int8
V_ALL = ising.spins_to_bits(STATES).astype(np.float64)  # (65536, 16) in {0, 1}
E_ALL = exact_T["energies"] / L_SMALL**2  # (65536,) energy per spin


def rbm_log_probs(model):
    """log p_θ(v) of all 2^16 states, exactly: −F(v) − log Z with Z summed over the visible states."""
    W, b, c = model.numpy_params()
    neg_f = -rbm.free_energy(V_ALL, W, b, c)  # (65536,)
    return neg_f - logsumexp(neg_f)


def kl_to_boltzmann(log_q):  # exact: no floor on q (eps=0)
    return divergences.kl_divergence(P_TRUE, np.exp(log_q), eps=0.0)


def monte_carlo_small(seed):
    """N_TRAIN_SMALL Wolff configurations of the 4×4 lattice at T_c and at TEMPS_SMALL_AWAY."""
    return {
        f"T{T}": ising_mc.sample(L_SMALL, T, N_TRAIN_SMALL, seed=seed + int(100 * T))
        for T in [T_SMALL, *TEMPS_SMALL_AWAY]
    }


mc_small = cache.cached_arrays(
    "mc_4x4",
    compute=lambda: monte_carlo_small(SEED + 4),
    code=[monte_carlo_small, ising_mc],
    params={"L": L_SMALL, "temperatures": [T_SMALL, *TEMPS_SMALL_AWAY], "n": N_TRAIN_SMALL},
    seed=SEED + 4,
)
small_train = ising.spins_to_bits(mc_small[f"T{T_SMALL}"])  # (N, 16) in {0, 1}
print(
    f"{len(small_train)} Monte Carlo samples of the 4×4 lattice at T_c; "
    f"{len(np.unique(small_train @ 2 ** np.arange(16)))} distinct states among 65,536"
)


def train_with_exact_kl(model, v_train, *, seed, desc):
    """CD-k training that records the exact KL(Boltzmann‖RBM) before training and after each epoch."""
    kl = [kl_to_boltzmann(rbm_log_probs(model))]  # the same RBM before training (epoch 0)
    history = rbm_torch.train(
        model,
        v_train,
        epochs=EPOCHS_SMALL,
        seed=seed,
        desc=desc,
        callback=lambda epoch, m: kl.append(kl_to_boltzmann(rbm_log_probs(m))),
        **CD,
    )
    return {**history, "kl": kl}


kl_curves, small_models = {}, {}
for n_hidden in HIDDEN_SIZES:
    small_models[n_hidden], history = cache.cached_torch(
        f"rbm_4x4_h{n_hidden}",
        build=lambda h=n_hidden: rbm_torch.RBM(16, h, weight_scale=RBM_WEIGHT_SCALE).to(DEVICE),
        train=lambda m, h=n_hidden: train_with_exact_kl(m, small_train, seed=SEED + h, desc=f"RBM n_h={h}"),
        code=[train_with_exact_kl, rbm_log_probs, kl_to_boltzmann, rbm_torch, rbm, divergences],
        params={
            **CD,
            "epochs": EPOCHS_SMALL,
            "n_hidden": n_hidden,
            "weight_scale": RBM_WEIGHT_SCALE,
            "T": T_SMALL,
        },
        data=small_train,
        seed=SEED + n_hidden,
    )
    kl_curves[n_hidden] = curve = history["kl"]
    print(f"n_hidden={n_hidden:3d}: KL(Boltzmann || RBM) = {curve[0]:.3f} -> {curve[-1]:.4f} nats")

# Cross-check the normalisation with lib.rbm's exact log Z (enumerates the smaller layer).
W, b, c = small_models[HIDDEN_SIZES[-1]].numpy_params()
neg_f = -rbm.free_energy(V_ALL, W, b, c)
assert abs(logsumexp(neg_f) - rbm.log_partition_exact(W, b, c)) < 1e-5 * abs(logsumexp(neg_f))

# %% [markdown]
# What is a good KL? Two baselines: the **independent-spin** model that matches each spin's
# marginal (here $p(s_i=\pm1)=\tfrac12$, i.e. the uniform distribution), and the **empirical
# distribution** of the training set itself, which puts zero mass on the states it never saw
# and so has infinite KL — a generative model must *generalise* to states it was not shown.

# %% slideshow={"slide_type": "subslide"}
kl_uniform = kl_to_boltzmann(np.full(65536, -16 * np.log(2.0)))
best_h = HIDDEN_SIZES[-1]
kl_final = {h: kl_curves[h][-1] for h in HIDDEN_SIZES}

fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
for h in HIDDEN_SIZES:
    axes[0].plot(range(len(kl_curves[h])), kl_curves[h], "o-", ms=3, label=f"$n_h$={h}")
axes[0].axhline(kl_uniform, color="grey", ls="--", label="uniform (independent spins)")
axes[0].set_yscale("log")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("KL (nats)")
axes[0].set_title(f"exact KL(Boltzmann‖RBM) during training, 4×4 at T={T_SMALL:.3f}")
axes[0].legend(fontsize=8)
axes[1].plot(HIDDEN_SIZES, [kl_final[h] for h in HIDDEN_SIZES], "o-")
axes[1].set_xscale("log", base=2)
axes[1].set_yscale("log")
axes[1].set_xlabel("hidden units $n_h$")
axes[1].set_ylabel("final KL (nats)")
axes[1].set_title("KL vs hidden layer size")
# Where does the best RBM put its probability? Exact log p of every state, against its energy.
log_q = rbm_log_probs(small_models[best_h])
axes[2].scatter(E_ALL, log_q, s=4, color="C1", alpha=0.3, label=f"RBM $n_h$={best_h}")
axes[2].scatter(E_ALL, np.log(P_TRUE), s=6, color="k", label="Boltzmann (exact)")
axes[2].set_xlabel("energy per spin of the state")
axes[2].set_ylabel("log p(state)")
axes[2].set_title("all 65,536 states")
axes[2].legend()
fig.tight_layout()

results.record(
    "kl_exact_L4",
    kl_final[best_h],
    unit="nats",
    n_hidden=best_h,
    T=T_SMALL,
    n_train=N_TRAIN_SMALL,
    per_hidden_size={str(h): kl_final[h] for h in HIDDEN_SIZES},
    uniform_baseline=kl_uniform,
    key="exact KL(Boltzmann ‖ RBM), 4×4 at T_c",
)
print(f"uniform baseline KL = {kl_uniform:.3f} nats; best RBM (n_h={best_h}): {kl_final[best_h]:.4f} nats")

# Where the RBM is wrong, and what it costs: log p_RBM(s) − log p_T(s), and each state's share of the KL
excess = log_q - np.log(P_TRUE)  # (65536,)
kl_terms = -P_TRUE * excess  # (65536,) they sum to the KL
checker = E_ALL == E_ALL.max()  # the two checkerboard states, E/N = +2
print(
    f"checkerboards (E/N = +2): Boltzmann probability {P_TRUE[checker].sum():.1e}, the RBM gives them "
    f"e^{excess[checker].mean():.1f} times that; their share of the KL {kl_terms[checker].sum():+.1e} nats"
)
bands = {"E/N ≤ −1": E_ALL <= -1, "−1 < E/N ≤ 0": (E_ALL > -1) & (E_ALL <= 0), "E/N > 0": E_ALL > 0}
for label, band in bands.items():
    print(
        f"states with {label:13s}: Boltzmann mass {P_TRUE[band].sum():.4f}, RBM mass "
        f"{np.exp(log_q[band]).sum():.4f}, share of the KL {kl_terms[band].sum():+.4f} nats"
    )

# %% [markdown]
# The right panel is the whole story in one picture: $\log p_T(s) = -E(s)/T - \log Z$ is a
# straight line in the energy; the RBM's exact log-probabilities scatter around that line. Look
# at where the scatter is largest (the high-energy states, which are rare or absent in the
# data) and at the printed lines: how much too much probability the RBM gives the two
# checkerboards at $E/N=+2$, and how little that costs in KL, because their Boltzmann probability
# is tiny. The KL is a $p_T$-weighted average, so it is decided by the states where $p_T$ puts
# its mass (compare the printed shares of the KL per energy band with the Boltzmann masses).
#
# The observables of the RBM are exact sums too, e.g. $e_\theta = \sum_s p_\theta(s)E(s)/N$:

# %%
p_q = np.exp(log_q)
small_rbm_obs = {
    "energy_per_spin": float(p_q @ E_ALL),
    "abs_magnetization_per_spin": float(p_q @ np.abs(exact_T["magnetizations"]) / 16),
}
for key, value in small_rbm_obs.items():
    print(
        f"{key:28s} RBM {value:.4f}   exact {exact_T[key]:.4f}   ({100 * (value / exact_T[key] - 1):+.2f} %)"
    )

# %% tags=["learning-check"]
# Training must have lowered the exact KL far below that of the same RBM before training (whose
# small random weights make it close to the independent-spin model, KL = kl_uniform), for every
# hidden size; the largest RBM must reach a small fraction of kl_uniform and beat the smallest.
# Measured at smoke, COURSE_SEED=0,1,2: final / initial KL 0.048–0.095 over both hidden sizes;
# kl_final[16] / kl_uniform 0.048–0.051; kl_final[16] / kl_final[4] 0.51–0.75.
# Untrained (one update): final / initial KL ≈ 1.00, kl_final[16] / kl_uniform ≈ 1.005.
print(
    "final / initial KL: "
    + ", ".join(f"n_h={h} {kl_curves[h][-1] / kl_curves[h][0]:.3f}" for h in HIDDEN_SIZES)
    + f"; KL(n_h={best_h}) / KL(uniform) {kl_final[best_h] / kl_uniform:.3f}; "
    f"KL(n_h={best_h}) / KL(n_h={HIDDEN_SIZES[0]}) {kl_final[best_h] / kl_final[HIDDEN_SIZES[0]]:.3f}"
)
for h in HIDDEN_SIZES:
    assert kl_curves[h][-1] < 0.2 * kl_curves[h][0], (h, kl_curves[h])
assert kl_final[best_h] < config.scaled(smoke=0.1, lecture=0.02, full=0.0075) * kl_uniform, (
    kl_final,
    kl_uniform,
)
assert kl_final[best_h] < kl_final[HIDDEN_SIZES[0]], kl_final

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Away from $T_c$
#
# Is the critical point really the hardest place? Train the same RBM ($n_h$ = `best_h`) on
# 4×4 Monte Carlo data below and above $T_c$ and evaluate it exactly again. Two extra exact
# numbers help to read the result. The Boltzmann distribution is symmetric under flipping every
# spin, so it puts exactly half of the mass of the states with $M\neq0$ on $M>0$; we print the
# RBM's share $p_\theta(M>0)/p_\theta(M\neq0)$. And we print the KL of the *symmetrised* RBM,
# $\bar p_\theta(s) = \tfrac12[p_\theta(s)+p_\theta(-s)]$: the difference between the two KLs is
# what the RBM loses by splitting its mass unevenly between $s$ and $-s$ (it is $\ge0$, by the
# convexity of $-\log$).

# %% slideshow={"slide_type": "subslide"}
codes = (V_ALL @ 2 ** np.arange(16)).astype(np.int64)  # each state's bit pattern as an integer
position = np.empty(65536, dtype=np.int64)
position[codes] = np.arange(65536)
FLIPPED = position[65535 - codes]  # index of the state -s, for each state s
M_ALL = exact_T["magnetizations"]  # (65536,) total magnetization M of each state


def exact_summary(log_q, ex):
    """Exact KL, energy and ± split of a model log p over all 4×4 states, against ising.exact(4, T)."""
    p_true, q = ex["probabilities"], np.exp(log_q)
    log_q_sym = np.logaddexp(log_q, log_q[FLIPPED]) - np.log(2)
    return {
        "kl": divergences.kl_divergence(p_true, q, eps=0.0),
        "kl_symmetrised": divergences.kl_divergence(p_true, np.exp(log_q_sym), eps=0.0),
        "kl_independent": divergences.kl_divergence(p_true, np.full(len(q), 2.0**-16), eps=0.0),
        "share_positive": float(q[M_ALL > 0].sum() / q[M_ALL != 0].sum()),
        "energy_per_spin": float(q @ ex["energies"] / 16),
        "exact_energy": ex["energy_per_spin"],
    }


small_by_T = {T_SMALL: exact_summary(log_q, exact_T)}
for T in TEMPS_SMALL_AWAY:
    v_train = ising.spins_to_bits(mc_small[f"T{T}"])  # (N, 16)
    model, _ = cache.cached_torch(
        f"rbm_4x4_T{T}",
        build=lambda: rbm_torch.RBM(16, best_h, weight_scale=RBM_WEIGHT_SCALE).to(DEVICE),
        train=lambda m, v=v_train, T=T: rbm_torch.train(
            m, v, epochs=EPOCHS_SMALL, seed=SEED + best_h, desc=f"RBM 4×4 T={T:.2f}", **CD
        ),
        code=[rbm_torch],
        params={**CD, "epochs": EPOCHS_SMALL, "n_hidden": best_h, "weight_scale": RBM_WEIGHT_SCALE},
        data=v_train,
        seed=SEED + best_h,
    )
    small_by_T[T] = exact_summary(rbm_log_probs(model), ising.exact(L_SMALL, T))
for T in sorted(small_by_T):
    d = small_by_T[T]
    d["energy_rel_dev"] = d["energy_per_spin"] / d["exact_energy"] - 1
    print(
        f"T={T:.3f}: exact KL = {d['kl']:.4f} nats (symmetrised {d['kl_symmetrised']:.4f}; independent "
        f"spins {d['kl_independent']:.3f}), share of M>0 {d['share_positive']:.3f}, energy per spin "
        f"RBM {d['energy_per_spin']:+.4f} vs exact {d['exact_energy']:+.4f} ({100 * d['energy_rel_dev']:+.2f} %)"
    )
results.record(
    "rbm_L4_energy_max_abs_rel_dev_away_from_tc",
    max(abs(small_by_T[T]["energy_rel_dev"]) for T in TEMPS_SMALL_AWAY),
    unit="fraction",
    key="4×4 RBM: largest error of its exact energy away from T_c",
    n_hidden=best_h,
    per_temperature={f"{T:.3f}": small_by_T[T] for T in sorted(small_by_T)},
)

# %% [markdown]
# Two different difficulties can show up; read the printed lines with them in mind. Below $T_c$
# almost all the probability sits in the two ordered states. CD-$k$ starts its chains at data
# points, and $k$ block-Gibbs steps do not carry a chain from one ordered state to the other, so
# the training signal barely constrains how the model splits its mass between them. The printed
# share of $M>0$ says how uneven the split is, and the gap between the KL and the KL of the
# symmetrised model is what it costs: when the split is far from ½, that gap is most of the KL,
# even if the energy is close to exact. This is why the check below bounds the symmetrised KL
# (together with the energy), not the raw one. Above $T_c$ the correlations are weak; a model that
# has not finished learning them is "too random", which shows as an energy less negative than
# the exact one. The check below asserts, at every temperature, an energy within a bound of the
# exact one and a symmetrised KL that is a small fraction of the independent-spin model's.

# %% tags=["learning-check"]
# Away from T_c the RBM's exact energy must be close to the exact one (the independent-spin model,
# and the RBM before training, have e ≈ 0: a relative deviation ≈ −100 %), and the KL of the
# symmetrised RBM must be a small fraction of the independent-spin model's (the raw KL below T_c
# mostly measures the uneven split between ±M, see above).
# Measured at smoke, COURSE_SEED=0,1,2: |energy rel. dev.| 6.2–8.7 % at T=1.8, 18.5–20.6 % at
# T=3.0; symmetrised KL / independent-spin KL 0.022–0.026 at T=1.8, 0.125–0.137 at T=3.0.
# Untrained: energy rel. dev. −100 %, KL ratios ≈ 1.00.
for T in TEMPS_SMALL_AWAY:
    d = small_by_T[T]
    print(
        f"T={T}: |energy rel. dev.| {abs(d['energy_rel_dev']):.3f}, "
        f"symmetrised KL / independent-spin KL {d['kl_symmetrised'] / d['kl_independent']:.3f}"
    )
    assert abs(d["energy_rel_dev"]) < config.scaled(smoke=0.3, lecture=0.06, full=0.02), (T, d)
    assert d["kl_symmetrised"] < config.scaled(smoke=0.2, lecture=0.1, full=0.05) * d["kl_independent"], (
        T,
        d,
    )

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. A VAE on the same 4×4 spins
#
# The VAE of lecture 04 is a *directed* model: $z\sim\mathcal N(0,I)$, then each spin
# independently, $p_\theta(v\mid z)=\prod_i \mathrm{Bernoulli}\big(v_i;\sigma(g_\theta(z))_i\big)$,
# trained by maximising the ELBO
#
# $$\log p_\theta(v) \;\ge\; \mathbb E_{q_\phi(z\mid v)}\big[\log p_\theta(v\mid z)\big]
#   - \mathrm{KL}\big(q_\phi(z\mid v)\,\|\,\mathcal N(0,I)\big).$$
#
# Its likelihood $p_\theta(v)=\int p_\theta(v\mid z)\,\mathcal N(z;0,I)\,dz$ has no closed form, but
# with a 2-dimensional latent space we do not need the importance-weighted bounds of lecture 04:
# we integrate numerically on a grid $z_g$ with weights $w_g\propto\mathcal N(z_g;0,I)$,
#
# $$p_\theta(v)\approx\sum_g w_g\,p_\theta(v\mid z_g),\qquad \sum_g w_g = 1,$$
#
# which is normalised over the 65,536 states by construction (each $p_\theta(\cdot\mid z_g)$ is),
# and converges as the grid is refined (we compare two grids). The structural difference to
# remember: given $z$ the spins are **independent**, so all correlations between spins must be
# carried by the few
# latent dimensions.


# %% slideshow={"slide_type": "subslide"}
class VAE(nn.Module):
    def __init__(self, n_visible, latent=VAE_LATENT, hidden=VAE_HIDDEN):
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(nn.Linear(n_visible, hidden), nn.Tanh(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, n_visible))

    def encode(self, v):  # v: (B, n_visible) -> mu, logvar (B, d)
        return self.encoder(2 * v - 1).chunk(2, dim=-1)  # (the network sees spins ±1)

    def log_px_given_z(self, v, z):  # (..., n_visible), (..., d) -> (...)
        return -F.binary_cross_entropy_with_logits(
            self.decoder(z), v.expand(*z.shape[:-1], -1), reduction="none"
        ).sum(-1)

    def elbo(self, v):  # (B,) single-sample ELBO
        mu, logvar = self.encode(v)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # reparameterisation
        return self.log_px_given_z(v, z) - vae.gaussian_kl(mu, logvar)

    @torch.no_grad()
    def sample(self, n):  # (n, n_visible) in {0, 1}
        return torch.bernoulli(torch.sigmoid(self.decoder(torch.randn(n, self.latent))))


def train_vae(model, v_train, epochs, *, seed, desc="VAE"):
    """Train `model` in place by maximising the single-sample ELBO with Adam; `seed` fixes the
    minibatch order and the reparameterisation noise. Returns the history: the mean −ELBO of
    each epoch (nats per configuration)."""
    v_train = torch.as_tensor(v_train)
    opt = torch.optim.Adam(model.parameters(), lr=VAE_LR)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    history = {"neg_elbo": []}
    for _ in tqdm(config.training(range(epochs)), desc=desc, leave=False):
        perm = torch.randperm(len(v_train), generator=gen)
        losses = []
        for i in config.training(range(len(v_train) // BATCH_SIZE)):
            loss = -model.elbo(v_train[perm[i * BATCH_SIZE : (i + 1) * BATCH_SIZE]]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        history["neg_elbo"].append(float(np.mean(losses)))
    return history


# everything the VAE's training depends on besides the data and the seed
VAE_PARAMS = {"latent": VAE_LATENT, "hidden": VAE_HIDDEN, "lr": VAE_LR, "batch_size": BATCH_SIZE}


@torch.no_grad()
def vae_log_probs(model, v_all, n_grid):
    """log p_θ(v) of all states by quadrature on an n_grid × n_grid grid over [-5, 5]² (2-D latent)."""
    g = torch.linspace(-5, 5, n_grid)
    z = torch.cartesian_prod(g, g)  # (G, 2)
    log_w = torch.log_softmax(-0.5 * (z**2).sum(-1), dim=0)  # (G,) normalised prior weights
    logits = model.decoder(z)  # (G, n_visible)
    log_on, log_off = F.logsigmoid(logits), F.logsigmoid(-logits)  # log p(v_i = 1 | z), log p(v_i = 0 | z)
    # log p(v | z_g) + log w_g = v·(log_on − log_off)_g + Σ_i log_off_gi + log w_g: one matrix product
    slope, offset = (log_on - log_off).T.contiguous(), log_off.sum(-1) + log_w  # (n_visible, G), (G,)
    out = []
    for v in torch.as_tensor(v_all, dtype=torch.float32).split(4096):  # (b, n_visible)
        out.append(torch.logsumexp(torch.addmm(offset, v, slope), dim=1))  # (b,)
    return torch.cat(out).double().numpy()


assert VAE_LATENT == 2, "the quadrature below assumes a 2-D latent space"


def train_vae_small(model):
    """The 4×4 VAE's training, recording the exact KL of the same VAE before training (its
    decoder hardly depends on z yet: a coarse grid is enough)."""
    kl_before = kl_to_boltzmann(vae_log_probs(model, V_ALL, 30))
    history = train_vae(model, small_train, 2 * EPOCHS_SMALL, seed=SEED + 6, desc="VAE 4×4")
    return {**history, "kl_before": kl_before}


vae_small, history = cache.cached_torch(
    "vae_4x4",
    build=lambda: VAE(16),
    train=train_vae_small,
    code=[VAE, train_vae, train_vae_small, vae_log_probs, kl_to_boltzmann, vae, divergences],
    params={**VAE_PARAMS, "epochs": 2 * EPOCHS_SMALL, "T": T_SMALL},
    data=small_train,
    seed=SEED + 6,
)
kl_vae_init = history["kl_before"]
# The quadrature over 65,536 states × 10,000 grid points takes seconds: cached, keyed by the weights.
vae_log_q = cache.cached_arrays(
    "vae_4x4_log_probs",
    compute=lambda: {f"grid{n}": vae_log_probs(vae_small, V_ALL, n) for n in (50, 100)},
    code=[vae_log_probs, VAE],
    data=vae_small.state_dict(),
    seed=None,
)
log_q_vae = vae_log_q["grid100"]  # (65536,)
kl_vae = kl_to_boltzmann(log_q_vae)
kl_vae_coarse = kl_to_boltzmann(vae_log_q["grid50"])
mass_vae = float(np.exp(log_q_vae).sum())
print(
    f"VAE (latent {VAE_LATENT}): KL(Boltzmann || VAE) = {kl_vae_init:.3f} before training -> {kl_vae:.4f} nats "
    f"(grid 100², {kl_vae_coarse:.4f} on 50²); Σ_s p(s) = {mass_vae:.6f};  RBM n_h={best_h}: "
    f"{kl_final[best_h]:.4f} nats; independent spins {kl_uniform:.3f} nats"
)
p_vae = np.exp(log_q_vae)
print(
    f"VAE energy per spin {p_vae @ E_ALL:.4f} (exact {exact_T['energy_per_spin']:.4f}), "
    f"|m| {p_vae @ np.abs(exact_T['magnetizations']) / 16:.4f} (exact {exact_T['abs_magnetization_per_spin']:.4f})"
)
results.record(
    "kl_vae_L4",
    kl_vae,
    unit="nats",
    key="KL(Boltzmann ‖ VAE), 4×4 at T_c (latent quadrature)",
    latent=VAE_LATENT,
    method="quadrature on a 100x100 latent grid",
    before_training=kl_vae_init,
)
# A check of the quadrature, not of training (it holds for any decoder): normalised, and converged
# in the grid.
assert abs(mass_vae - 1) < 1e-4 and abs(kl_vae - kl_vae_coarse) < 0.05 * kl_vae + 1e-3, (
    mass_vae,
    kl_vae,
    kl_vae_coarse,
)

# %% tags=["learning-check"]
# The trained VAE's KL must be a small fraction of the same VAE's before training and of the
# independent-spin model's. Measured at smoke, COURSE_SEED=0,1,2: KL 0.301–0.306 nats, i.e.
# 0.046 of kl_uniform (6.61 nats; the VAE before training: 6.70–6.81). Untrained: 6.55 nats (0.99).
print(
    f"KL of the VAE {kl_vae:.3f} nats; / min(before training, independent spins) {kl_vae / min(kl_vae_init, kl_uniform):.3f}"
)
assert kl_vae < 0.1 * min(kl_vae_init, kl_uniform), (kl_vae, kl_vae_init, kl_uniform)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Across the transition: RBM and VAE on the larger lattice
#
# Now the Torlai–Melko experiment proper: at each temperature train one RBM
# ($n_h = n_v = L^2$ hidden units) and one VAE on the Monte Carlo configurations of the
# $L$ = `L_BIG` lattice, then let each model **generate** configurations and measure the four
# observables on them. The RBM generates by block Gibbs sampling from random initial states
# (`GIBBS_STEPS` steps; the chains never saw the data); the VAE by ancestral sampling,
# $z\sim\mathcal N(0,I)$ then $v\sim p_\theta(v\mid z)$. Error bars are jackknife errors over
# the generated configurations (`ising_mc.observables`), which are independent chains.
#
# As a reference that has learned nothing we also measure the observables of **independent
# spins**, each $\pm1$ with probability ½ (the independent-spin model of section 4): $e\approx0$,
# and $m$ only as large as the random imbalance of $N$ coin flips. An RBM or a VAE before
# training generates nearly that.


# %% slideshow={"slide_type": "subslide"}
def gibbs_from_noise(model, n, steps, seed):
    """n configurations (n, L, L) int8: block Gibbs chains started from uniform random spins."""
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    v0 = torch.bernoulli(torch.full((n, model.n_visible), 0.5, device=DEVICE), generator=gen)
    return ising.bits_to_spins(model.gibbs(v0, steps, gen))


gen_obs = {"RBM": {}, "VAE": {}}
gen_samples = {"RBM": {}, "VAE": {}}
rbm_models = {}
for T in tqdm(TEMPS, desc="temperatures"):
    v_train = ising.spins_to_bits(mc[T])  # (N, L²)
    model, _ = cache.cached_torch(
        f"rbm_L{L_BIG}_T{T}",
        build=lambda: rbm_torch.RBM(L_BIG**2, L_BIG**2, weight_scale=RBM_WEIGHT_SCALE).to(DEVICE),
        train=lambda m, v=v_train, T=T: rbm_torch.train(
            m, v, epochs=EPOCHS_BIG, seed=SEED + 7, desc=f"RBM T={T:.2f}", **CD
        ),
        code=[rbm_torch],
        params={**CD, "epochs": EPOCHS_BIG, "n_hidden": L_BIG**2, "weight_scale": RBM_WEIGHT_SCALE},
        data=v_train,
        seed=SEED + 7,
    )
    rbm_models[T] = model
    gen_samples["RBM"][T] = cache.cached_arrays(  # keyed by the trained weights
        f"rbm_gibbs_L{L_BIG}_T{T}",
        compute=lambda m=model: {"spins": gibbs_from_noise(m, N_GEN, GIBBS_STEPS, SEED + 10)},
        code=[gibbs_from_noise, rbm_torch, ising],
        params={"n": N_GEN, "steps": GIBBS_STEPS},
        data=model.state_dict(),
        seed=SEED + 10,
    )["spins"]
    model, _ = cache.cached_torch(
        f"vae_L{L_BIG}_T{T}",
        build=lambda: VAE(L_BIG**2),
        train=lambda m, v=v_train, T=T: train_vae(m, v, 2 * EPOCHS_BIG, seed=SEED + 8, desc=f"VAE T={T:.2f}"),
        code=[VAE, train_vae, vae],
        params={**VAE_PARAMS, "epochs": 2 * EPOCHS_BIG},
        data=v_train,
        seed=SEED + 8,
    )
    gen_samples["VAE"][T] = ising.bits_to_spins(model.sample(N_GEN).numpy())  # ancestral: cheap
    for name in gen_obs:
        gen_obs[name][T] = ising_mc.observables(gen_samples[name][T], T)

rng = np.random.default_rng(SEED + 9)
independent_obs = {
    T: ising_mc.observables(rng.choice(np.array([-1, 1], np.int8), size=(N_GEN, L_BIG, L_BIG)), T)
    for T in TEMPS
}

# %% slideshow={"slide_type": "subslide"}
KEYS = ["energy_per_spin", "abs_magnetization_per_spin", "specific_heat_per_spin", "susceptibility_per_spin"]
LABELS = ["energy $e$", "magnetization $m$", "specific heat $c$", r"susceptibility $\chi$"]
fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
for ax, key, label in zip(axes, KEYS, LABELS):
    for name, style in [("Monte Carlo", "ko-"), ("RBM", "C1s--"), ("VAE", "C0^:")]:
        obs = mc_obs if name == "Monte Carlo" else gen_obs[name]
        ax.errorbar(
            TEMPS,
            [obs[T][key] for T in TEMPS],
            yerr=[obs[T][key + "_err"] for T in TEMPS],
            fmt=style,
            ms=4,
            capsize=2,
            label=name,
        )
    ax.axvline(TC, color="grey", ls=":", lw=1)
    ax.set_xlabel("T")
    ax.set_title(label)
axes[0].plot(temps_fine, ising.onsager_energy_per_spin(temps_fine), color="C3", lw=0.8, label="Onsager L=∞")
axes[0].legend(fontsize=8)
axes[2].set_yscale("log")  # the VAE's fluctuations can be orders of magnitude too large
axes[3].set_yscale("log")
fig.suptitle(f"Observables of generated {L_BIG}×{L_BIG} configurations vs Monte Carlo")
fig.tight_layout()

# %% slideshow={"slide_type": "subslide"}
T_near = min(TEMPS, key=lambda t: abs(t - TC))
fig, axes = plt.subplots(3, 1, figsize=(8, 3.6))
for ax, (name, spins) in zip(
    axes,
    [("Monte Carlo", mc[T_near]), ("RBM", gen_samples["RBM"][T_near]), ("VAE", gen_samples["VAE"][T_near])],
):
    plotting.image_grid(
        spins[:12], ncols=12, side=L_BIG, vrange=SPIN_VRANGE, ax=ax, title=f"{name}, T = {T_near:.2f}"
    )
fig.tight_layout()

# %% [markdown]
# Per observable, the deviation from Monte Carlo in units of the combined error bar, and the
# relative deviation:


# %% slideshow={"slide_type": "subslide"}
def deviations(name):
    rel, z = {}, {}
    for key in KEYS:
        r = [gen_obs[name][T][key] / mc_obs[T][key] - 1 for T in TEMPS]
        s = [
            (gen_obs[name][T][key] - mc_obs[T][key])
            / np.hypot(gen_obs[name][T][key + "_err"], mc_obs[T][key + "_err"])
            for T in TEMPS
        ]
        rel[key], z[key] = np.array(r), np.array(s)
    return rel, z


dev = {name: deviations(name) for name in gen_obs}
# the independent-spin reference, relative deviation only
indep_rel = {key: np.array([independent_obs[T][key] / mc_obs[T][key] - 1 for T in TEMPS]) for key in KEYS}
print("relative deviation from Monte Carlo (model / MC − 1)")
print("T:                          " + " ".join(f"{T:8.2f}" for T in TEMPS))
for name in [*gen_obs, "indep. spins"]:
    for key in KEYS:
        rel = indep_rel[key] if name == "indep. spins" else dev[name][0][key]
        print(f"{name:12s} {key[:15]:15s} " + " ".join(f"{100 * x:+7.1f}%" for x in rel))
print("\ndeviation from Monte Carlo in units of the combined error bar, (model − MC) / σ")
print("T:                          " + " ".join(f"{T:8.2f}" for T in TEMPS))
for name in gen_obs:
    for key in KEYS:
        print(f"{name:12s} {key[:15]:15s} " + " ".join(f"{x:+8.1f}" for x in dev[name][1][key]))
for name in gen_obs:
    for key in KEYS:
        rel = dev[name][0][key]
        results.record(
            f"{name.lower()}_large_lattice_{key}_mean_abs_rel_dev",
            float(np.mean(np.abs(rel))),
            unit="fraction",
            L=L_BIG,
            vs="Monte Carlo",
            per_temperature=dict(zip([f"{T:.2f}" for T in TEMPS], rel.tolist())),
        )
rbm_e, vae_e = np.abs(dev["RBM"][0]["energy_per_spin"]), np.abs(dev["VAE"][0]["energy_per_spin"])
rbm_m = np.abs(dev["RBM"][0]["abs_magnetization_per_spin"])
vae_m = np.abs(dev["VAE"][0]["abs_magnetization_per_spin"])
rbm_c_low, vae_c_low = (abs(dev[name][0]["specific_heat_per_spin"][0]) for name in ["RBM", "VAE"])
results.record(
    "rbm_large_lattice_energy_rel_dev_far_from_tc",
    float(max(abs(dev["RBM"][0]["energy_per_spin"][0]), abs(dev["RBM"][0]["energy_per_spin"][-1]))),
    unit="fraction",
    L=L_BIG,
    temperatures=[TEMPS[0], TEMPS[-1]],
)

# %% tags=["learning-check"] slideshow={"slide_type": "subslide"}
# The generated configurations must reproduce the Monte Carlo energy and |m| at every temperature
# far better than independent spins (relative deviation of e: −100 %; of |m|: −70 % to −87 %); the
# RBM must get the (local) energy clearly closer than the VAE at every temperature; and at the
# lowest temperature the VAE's independent pixel noise must show as a specific heat several times
# too large, with a relative error several times the RBM's.
# Measured at smoke (L=6), COURSE_SEED=0,1,2, largest |rel. dev.| over T: e RBM 0.20–0.23,
# VAE 0.41–0.44; |m| RBM 0.03–0.09, VAE 0.17–0.19; RBM / VAE energy error ≤ 0.58 at every T; at
# T=1.8, c of the VAE 11.2–12.3 × Monte Carlo's, its relative error 19–39 × the RBM's.
# Untrained: e ≈ −100 %, |m| ≈ −86 % for both models, VAE / RBM c error 0.7.
print(
    f"largest |rel. dev.| of e: RBM {rbm_e.max():.3f}, VAE {vae_e.max():.3f}; "
    f"of |m|: RBM {rbm_m.max():.3f}, VAE {vae_m.max():.3f}; largest RBM / VAE energy error "
    f"{(rbm_e / vae_e).max():.2f}; at T={TEMPS[0]}: |rel. dev.| of c VAE {vae_c_low:.2f}, "
    f"{vae_c_low / rbm_c_low:.1f} × the RBM's"
)
assert np.all(rbm_e < config.scaled(smoke=0.35, lecture=0.25, full=0.1)), rbm_e
assert np.all(rbm_m < config.scaled(smoke=0.15, lecture=0.1, full=0.05)), rbm_m
assert np.all(vae_e < config.scaled(smoke=0.6, lecture=0.8, full=0.8)), vae_e
assert np.all(vae_m < 0.3), vae_m
assert np.all(rbm_e < 0.8 * vae_e), (rbm_e, vae_e)
assert vae_c_low > 2 and vae_c_low > 5 * rbm_c_low, (vae_c_low, rbm_c_low)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. What each family gets right and wrong near $T_c$
#
# Read the figure and the printed deviations from left to right; the check above asserts the
# bounds quoted here.
#
# - **Energy.** The energy is a sum of nearest-neighbour products: a *local* two-point statistic.
#   The RBM's hidden units create effective couplings between visible units, and its energy
#   must be within the asserted bound of Monte Carlo at every temperature and closer than the
#   VAE's (by at least a factor 0.8) at every temperature. The VAE's spins are independent given
#   $z$, so the correlation between neighbours has to be carried by a 2-dimensional $z$; what it
#   cannot carry comes out as "salt-and-pepper" noise, i.e. broken bonds and an energy that is too
#   high (look at the samples). If the RBM's energy is too high somewhere as well, that is
#   under-training: as on the 4×4 lattice, weak correlations are learned slowest.
# - **Magnetization.** A global, one-number summary, exactly what a low-dimensional latent is
#   good at: both models must get $m$ within the asserted bounds, while independent spins miss it
#   badly (printed). Compare the printed deviations of the VAE across temperatures: its pixel
#   noise flips isolated spins, which lowers $|m|$ most where the true configurations are most
#   ordered. The RBM's Gibbs chains, started from noise, find the ordered states.
# - **Fluctuations** $c$ and $\chi$ (log scale!) are the hard part: they are *variances*, so they
#   need the tails of the distribution. The VAE's independent noise adds variance that the ordered
#   phase does not have: the check asserts that at the lowest temperature its specific heat is
#   more than three times the Monte Carlo value, with a relative error more than five times the
#   RBM's. At high $T$, where the truth is closest to independent spins, the VAE has least to
#   miss. {cite:t}`torlai2016` found that RBM samples follow the peak of $c$ near $T_c$; the RBM rows of
#   the printed deviations show how close this run comes.
# - **Sampling near $T_c$.** The RBM pays at generation time, though not because its moves are
#   local: block Gibbs sampling resamples *every* visible unit at once given $h$. The bottleneck
#   is the hidden layer. Everything the next $v$ knows about the current one passes
#   through $h\sim p(h\mid v)$, and $h$ drawn from a magnetised $v$ encodes that magnetisation, so
#   the next $v$ is magnetised the same way; to reverse the sign of $m$ the chain has to pass
#   through configurations with $m\approx0$, which the trained model makes improbable near and
#   below $T_c$. The next cell measures, along the chains, $\tau_{\text{int}}$ of $|m|$ (how fast
#   the magnitude of the magnetization decorrelates, whatever its sign) and counts the sign
#   changes of $m$; the check after it asserts that at the lowest temperature sign changes are at
#   least ten times rarer than at the highest. The RBM knows nothing of Wolff clusters; the VAE
#   samples in one shot.

# %% slideshow={"slide_type": "subslide"}
# Mixing of the RBM's block Gibbs chains, started from the generated (already burnt-in)
# configurations, recording the magnetization m per spin after each v -> h -> v step.
TAU_GIBBS_STEPS = config.scaled(smoke=500, lecture=2000, full=5000)
N_TAU_CHAINS = 100


def gibbs_magnetization(model, spins, steps, seed):
    """m per spin after each of `steps` block Gibbs steps of chains started at `spins`: (time, chain)."""
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    v = torch.as_tensor(ising.spins_to_bits(spins), device=DEVICE)
    m_t = np.empty((steps, len(v)))
    for t in range(steps):
        v = model.gibbs(v, 1, gen)
        m_t[t] = (2 * v - 1).mean(1).cpu().numpy()
    return m_t


tau_gibbs, flip_rate = {}, {}
for T in TEMPS:
    start = gen_samples["RBM"][T][:N_TAU_CHAINS]
    m_t = cache.cached_arrays(  # keyed by the trained weights and the starting configurations
        f"rbm_mixing_L{L_BIG}_T{T}",
        compute=lambda T=T, start=start: {
            "m": gibbs_magnetization(rbm_models[T], start, TAU_GIBBS_STEPS, SEED + 11)
        },
        code=[gibbs_magnetization, rbm_torch, ising],
        params={"steps": TAU_GIBBS_STEPS},
        data={"weights": rbm_models[T].state_dict(), "start": start},
        seed=SEED + 11,
    )["m"]  # (time, chain)
    tau_gibbs[T] = ising_mc.integrated_autocorrelation_time(np.abs(m_t))
    flips = [np.count_nonzero(np.diff(np.sign(c[c != 0]))) for c in m_t.T]
    flip_rate[T] = 1000 * np.mean(flips) / TAU_GIBBS_STEPS
    print(
        f"T={T:4.2f}: τ_int(|m|) = {tau_gibbs[T]:6.2f} Gibbs steps; sign changes of m per 1000 steps "
        f"{flip_rate[T]:7.2f} (chains that never changed sign: {np.mean(np.array(flips) == 0):.0%})"
    )

# %% tags=["learning-check"]
# A trained RBM has learned the two ordered states, and its Gibbs chain then rarely crosses between
# them: sign changes of m at the lowest temperature must be at least ten times rarer than at the
# highest. (An RBM that learned nothing generates nearly independent spins, whose m changes sign
# about as often at every temperature.) Measured at smoke, COURSE_SEED=0,1,2: 0 sign changes per
# 1000 steps at T=1.8, 77–81 at T=3.0. Untrained: 421–430 at every temperature.
assert flip_rate[TEMPS[0]] < 0.1 * flip_rate[TEMPS[-1]], flip_rate

# %% [markdown]
# On the 4×4 lattice the same comparison can be made with (numerically) exact numbers:

# %%
elapsed = time.time() - T_START
print(
    f"KL(Boltzmann||RBM, n_h={best_h}) = {kl_final[best_h]:.4f} nats (exact);  "
    f"KL(Boltzmann||VAE) = {kl_vae:.4f} nats (latent quadrature)"
)
print(f"notebook wall time: {elapsed:.0f} s at scale {SCALE}")
results.record("wall_time", round(elapsed, 1), unit="s")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# - Monte Carlo gives us ground truth for the Ising model at any size; Wolff cluster updates
#   defeat critical slowing down (the notebook asserts $\tau_{\text{int}}$ of Wolff below half
#   that of Metropolis at $T_c$; compare the two printed values).
# - An RBM trained only on samples learns $p_T(s)\propto e^{-E(s)/T}$: on the 4×4 lattice its
#   *exact* KL divergence from the Boltzmann distribution falls during training to a small
#   fraction of the independent-spin model's, the larger hidden layer does better, and away from
#   $T_c$ its exact energy is within the asserted bound.
# - On the larger lattice, the RBM's own samples reproduce energy and magnetization across the
#   transition within the asserted bounds; the fluctuations ($c$, $\chi$) are where every model
#   struggles, and block Gibbs sampling rarely crosses between the two ordered states.
# - A VAE with a factorised decoder gets global features (magnetization) and misses local
#   correlations (energy): the independence of pixels given $z$ is visible as broken bonds.
#   For physics, the model's structure matters more than its flexibility.
#
# ## Exercises
#
# 1. **Hidden units as couplings.** Show that one binary hidden unit with weights $w$ on spins
#    $i$ and $j$ only produces, after summing it out, an effective coupling $J_{ij}s_is_j$ (plus
#    fields). How many hidden units does an RBM need to represent the $4\times4$ Ising model
#    *exactly*? Compare with the KL-vs-$n_h$ curve.
# 2. **PCD and two modes.** Replace CD-$k$ by persistent chains (`method="pcd"` in
#    `rbm_torch.train`). Plot the exact KL per epoch at $T_c$ and at $T=3.5$. Does PCD converge
#    below $T_c$, and how does the share of $M>0$ behave? Adding globally flipped copies of the
#    persistent chains to the negative samples would restore the $\pm$ symmetry: when is that
#    legitimate?
# 3. **Temperature as a parameter.** Train one RBM on all temperatures with $T$ as an extra input
#    (a conditional RBM: make the hidden bias depend on $T$). Can it interpolate to a
#    temperature it was not trained on?
# 4. **A larger latent space.** Repeat section 6 with `VAE_LATENT = 8` and 32. Does the energy
#    improve? What would an autoregressive decoder (spins sampled one by one) change?
# 5. **Critical exponents from a model.** At $T_c$ the magnetization scales as $m\sim L^{-1/8}$.
#    Train RBMs at $T_c$ for $L = 4, 6, 8, 12$ and fit the exponent from their samples.
# 6. **Mixing.** Measure $\tau_{\text{int}}$ of the energy along the RBM's Gibbs chain at each
#    temperature (`ising_mc.integrated_autocorrelation_time`) and compare with Metropolis and Wolff
#    on the same lattice. Add a global spin flip ($v\to1-v$, accepted with the Metropolis
#    probability of the RBM's free energy) to the Gibbs chain: how do the sign-change rates change?
