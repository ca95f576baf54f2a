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
#   why the latter nearly removes critical slowing down;
# - learning $p(s)\propto e^{-E(s)/T}$ from samples only, with an RBM trained by contrastive
#   divergence;
# - **exact** model evaluation: on a $4\times4$ lattice we enumerate all 65,536 states and
#   compute $\mathrm{KL}(p_{\text{Boltzmann}}\,\|\,p_{\text{RBM}})$ as training proceeds and as the
#   hidden layer grows;
# - a VAE on the same spins, and what each model family gets right and wrong.
#
# **Prerequisites**: `01_rbm_pytorch` (RBMs, free energy, contrastive divergence, exact $\log Z$
# by enumeration) and `04_vae_pytorch` (the ELBO, importance-weighted likelihoods).
#
# **Data.** No MNIST today: every training set is generated here by Monte Carlo.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.special import logsumexp
from torch import nn
from tqdm.auto import tqdm

from lib import cache, checks, config, divergences, ising, ising_mc, plotting, rbm, rbm_torch, results, vae

torch.set_num_threads(1)
SCALE = config.setup("07_ising_generative", seed=0)
# The run's seed (COURSE_SEED when that is set). Every seed below (Monte Carlo data, initial
# weights, minibatch order, Gibbs chains) is derived from SEED, so a rerun with another COURSE_SEED
# changes all of them and shows how far the results move.
SEED = config.seed()
DEVICE = str(config.torch_device())  # "cpu", "cuda" or "mps"
T_START = time.time()
TC = ising.ONSAGER_TC

# Part A: the 4×4 lattice, where everything is exact
L_SMALL = 4
T_SMALL = TC  # Onsager's critical temperature (of the infinite lattice)
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
VAE_EPOCHS_SMALL, VAE_EPOCHS_BIG = 2 * EPOCHS_SMALL, 2 * EPOCHS_BIG  # why twice: section 5

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
#   c_V = \frac{\langle E^2\rangle-\langle E\rangle^2}{N T^2},\quad
#   \chi' = \frac{\langle M^2\rangle-\langle |M|\rangle^2}{N T}.$$
#
# We use $|M|$ because on a finite lattice $\langle M\rangle=0$ exactly (the two ordered states
# are equally likely). The prime on $\chi'$ tells it from the susceptibility
# $\chi = (\langle M^2\rangle-\langle M\rangle^2)/(NT) = \langle M^2\rangle/(NT)$, which on a finite
# lattice below $T_c$ grows with $N$, because it counts the jumps between $+M$ and $-M$ as
# fluctuations; $\chi'$, with $\langle|M|\rangle$ in place of $\langle M\rangle$, is the finite-lattice
# susceptibility of Monte Carlo studies. The fluctuations $c_V$ and $\chi'$ peak near $T_c$; on the
# infinite lattice they diverge. For $L\to\infty$ the energy is Onsager's {cite:p}`onsager1944` and the spontaneous
# magnetization Yang's {cite:p}`yang1952`,
#
# $$e_\infty(T) = -\coth(2\beta)\Big[1+\tfrac{2}{\pi}\big(2\tanh^2(2\beta)-1\big)K(q)\Big],\quad
#   q=\frac{2\sinh 2\beta}{\cosh^2 2\beta},\qquad
#   m_\infty(T) = \big(1-\sinh^{-4}(2\beta)\big)^{1/8}\ (T<T_c),$$
#
# with $K$ the complete elliptic integral of the first kind. For $L\le4$ we do not need
# them: `ising.exact` sums over all $2^{L^2}$ states. The model lives in `lib/ising.py`, its Monte Carlo in `lib/ising_mc.py`
# (vectorised NumPy; tested against hand-computed values and brute force in `tests/test_ising.py`).

# %% slideshow={"slide_type": "subslide"}
temps_fine = np.linspace(1.2, 4.0, 57)
exact_small = [ising.exact(L_SMALL, T) for T in temps_fine]

fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
for ax, key, label in zip(
    axes,
    ["energy_per_spin", "abs_magnetization_per_spin", "specific_heat_per_spin", "susceptibility_per_spin"],
    ["energy $e$", "magnetization $m$", "specific heat $c_V$", r"susceptibility $\chi'$"],
):
    ax.plot(temps_fine, [d[key] for d in exact_small], "k-", label=f"exact, L={L_SMALL}")
    ax.axvline(TC, color="grey", ls=":", lw=1)
    ax.set_xlabel("T")
    ax.set_title(label)
axes[0].plot(temps_fine, ising.onsager_energy_per_spin(temps_fine), "C3--", label="Onsager, L=∞")
axes[1].plot(temps_fine, ising.onsager_magnetization(temps_fine), "C3--", label="Yang, L=∞")
axes[0].legend()
axes[1].legend()
fig.suptitle(
    "The 2D Ising model: exact enumeration of all 65,536 states of a 4×4 lattice vs the infinite lattice"
)
fig.tight_layout()

c_small = [d["specific_heat_per_spin"] for d in exact_small]
# T = ∞: every state equally likely, i.e. independent fair spins
m_random = np.abs(ising.magnetization(ising.all_states(L_SMALL))).mean() / L_SMALL**2
print(
    f"4×4: the specific heat peaks at T ≈ {temps_fine[np.argmax(c_small)]:.2f} (T_c = {TC:.3f}); "
    f"m = {exact_small[-1]['abs_magnetization_per_spin']:.3f} at T = {temps_fine[-1]:.1f}; independent "
    f"random spins: m = {m_random:.3f} (√(2/(πN)) = {np.sqrt(2 / (np.pi * L_SMALL**2)):.3f})"
)

# %% [markdown]
# The small lattice shows the transition smeared out and shifted: the specific heat has a finite
# peak, above $T_c$ (printed), instead of a divergence at $T_c$. And $m$ stays far from zero above
# $T_c$, partly by plain counting: $|M|$ of $N$ independent random spins is of order $\sqrt N$, and
# $\langle|M|\rangle/N\approx\sqrt{2/(\pi N)}$, about 0.2 for $N=16$ (printed, exactly). Finite-size
# effects are part of the physics the models must learn.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Monte Carlo: the ground truth for lattices we cannot enumerate
#
# For $L=8$ there are $2^{64}\approx 10^{19}$ states; we *sample* instead, with Markov chains
# whose stationary distribution is $p_T$.
#
# **Metropolis.** Propose flipping spin $i$; the energy changes by
# $\Delta E = 2 s_i \sum_{j\sim i} s_j$, the sum running over its four neighbours; accept with probability
# $\min(1, e^{-\Delta E/T})$. Spins of one colour of a checkerboard have all their neighbours
# in the other colour, so half the lattice (and many chains at once) can be updated in one
# vectorised step. One *sweep* = one attempt per spin.
#
# **Critical slowing down.** Near $T_c$ the correlation length $\xi$ grows to the lattice size;
# local moves then need $\tau\sim L^{z_{\text{dyn}}}$ sweeps to decorrelate, with a *dynamic
# exponent* $z_{\text{dyn}}$. For single-spin-flip dynamics of the 2D Ising model,
# {cite:t}`nightingale1996` find $z_{\text{dyn}}\approx2.17$ for the slowest relaxation time of
# the chain (its exponential autocorrelation time); the autocorrelation time of one particular
# observable may grow with a somewhat different exponent.
#
# **Wolff's algorithm** {cite:p}`wolff1989`. Pick a random seed spin; grow a cluster by adding each *aligned* neighbour of
# a cluster spin with probability $p_{\text{add}} = 1-e^{-2\beta}$ (each bond tested once); flip
# the whole cluster. This satisfies detailed balance with acceptance 1, and near $T_c$ the
# clusters are as large as the correlated regions, so $\tau$ grows far more slowly with $L$:
# {cite:t}`coddington1992` find $z_{\text{dyn}}\approx0.25$ in two dimensions for the integrated
# autocorrelation time of the energy, in sweeps. Our implementation grows
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
# $\sigma\sqrt{2\tau_{\text{int}}/n}$. From a finite run the sum must be cut off: far out, the
# estimated $\rho(t)$ is noise, and summing all of it would swamp the signal.
# `ising_mc.integrated_autocorrelation_time` sums up to Sokal's self-consistent window, the first
# $W\ge5\,\tau_{\text{int}}(W)$ {cite:p}`sokal1997`. Even so, a run only a few $\tau$ long
# underestimates $\tau$, so the runs below are many times longer than the $\tau$ they measure.
#
# Below, $x_t = |M_t|/N$, the magnetization per spin: a global quantity, which a local algorithm
# can change only by moving domain walls across the lattice. We take its absolute value because
# `ising_mc.sample` multiplies every configuration it returns by a random global sign (an exact
# symmetry of $p_T$, explained with the training data below), which would hide how $M$ itself
# evolves; $|M|$ is unchanged by it. We measure at $T_c$ on several lattice sizes, to see how
# $\tau$ grows with $L$.

# %% slideshow={"slide_type": "subslide"}
TAU_SIZES = config.scaled(smoke=[8, 16], lecture=[8, 16, 32], full=[8, 16, 32, 64])
N_CHAINS_TAU, TAU_BURN = 16, 300
TAU_STEPS = config.scaled(smoke=600, lecture=2000, full=5000)  # sweeps recorded per chain


def magnetization_series(seed):
    """|M| per spin after every sweep at T_c, (time, chain), for each algorithm and lattice size."""
    out = {}
    for L in TAU_SIZES:
        for algorithm in ["metropolis", "wolff"]:
            spins = ising_mc.sample(
                L,
                TC,
                N_CHAINS_TAU * TAU_STEPS,
                algorithm=algorithm,
                n_chains=N_CHAINS_TAU,
                n_burn=TAU_BURN,
                n_between=1,
                seed=seed + L,
            )
            m = np.abs(ising.magnetization(spins)) / L**2
            out[f"{algorithm}_L{L}"] = m.reshape(TAU_STEPS, N_CHAINS_TAU)  # time-major output
    return out


m_series = cache.cached_arrays("mc_tau", compute=lambda: magnetization_series(SEED + 1))
tau = {key: ising_mc.integrated_autocorrelation_time(x) for key, x in m_series.items()}
tau_ratio = {L: tau[f"metropolis_L{L}"] / tau[f"wolff_L{L}"] for L in TAU_SIZES}
for L in TAU_SIZES:
    print(
        f"L = {L:2d}: τ_int(|M|) at T_c = {tau[f'metropolis_L{L}']:6.2f} sweeps (Metropolis), "
        f"{tau[f'wolff_L{L}']:5.2f} sweeps (Wolff); Metropolis / Wolff {tau_ratio[L]:5.1f}"
        f"  (runs of {TAU_STEPS} sweeps × {N_CHAINS_TAU} chains)"
    )

fig, axes = plt.subplots(1, 2, figsize=(13, 3), gridspec_kw={"width_ratios": [2, 1]})
L_show = 16
for algorithm in ["metropolis", "wolff"]:
    axes[0].plot(m_series[f"{algorithm}_L{L_show}"][:150, 0], label=algorithm)
axes[0].set_xlabel("sweep")
axes[0].set_ylabel("|M| / N")
axes[0].legend()
axes[0].set_title(f"one chain at $T_c$, L = {L_show}")
L_grid = np.array(TAU_SIZES, dtype=float)
for algorithm, z_dyn, color in [("metropolis", 2.17, "C0"), ("wolff", 0.25, "C1")]:
    measured = [tau[f"{algorithm}_L{L}"] for L in TAU_SIZES]
    axes[1].plot(L_grid, measured, "o-", color=color, label=algorithm)
    axes[1].plot(
        L_grid, measured[0] * (L_grid / L_grid[0]) ** z_dyn, ":", color=color, label=f"$L^{{{z_dyn}}}$"
    )
axes[1].set_xscale("log", base=2)
axes[1].set_yscale("log")
axes[1].set_xlabel("L")
axes[1].set_ylabel("τ_int(|M|), sweeps")
axes[1].set_title("critical slowing down")
axes[1].legend(fontsize=8)
fig.tight_layout()
# A check of the Monte Carlo (not of a trained model): at T_c Wolff decorrelates |M| at least twice
# as fast per sweep as Metropolis on the largest lattice, and its advantage grows with L.
assert tau_ratio[TAU_SIZES[-1]] > 2 and tau_ratio[TAU_SIZES[-1]] > 1.5 * tau_ratio[TAU_SIZES[0]], tau_ratio

# %% [markdown] slideshow={"slide_type": "subslide"}
# Per sweep, Wolff decorrelates $|M|$ faster, and the gap widens with $L$ (both asserted). Compare
# the measured slopes with the dotted lines, which have the cited exponents $z_{\text{dyn}}$. Those
# belong to other quantities than our $\tau_{\text{int}}(|M|)$ (the slowest relaxation time for
# local moves, the energy's integrated autocorrelation time for Wolff), and two or three small
# lattices and finite runs give only rough exponents, so expect rough agreement at best. Wolff
# *nearly* removes critical slowing down: its $\tau$ still grows with $L$, but far more slowly.
#
# Now the training data of part B: `N_TRAIN_BIG` configurations of the $L$ = `L_BIG` lattice
# at each temperature: Wolff within 0.5 of $T_c$, where local moves suffer critical slowing
# down, and checkerboard Metropolis further away, where the correlation length is short and local
# moves decorrelate quickly. There Wolff gains little: far above $T_c$ its clusters are tiny;
# far below, a cluster covers on average a fraction $\langle M^2\rangle/N^2\approx m^2$ of the
# lattice (the mean size of the cluster of a random seed spin is exactly $\langle M^2\rangle/N$;
# `tests/test_ising.py` checks this against exact enumeration), so a flip is nearly a flip of
# every spin. That global flip is added anyway: every configuration is multiplied by a random
# global sign — an exact symmetry of $p_T$ — so both ordered states appear.


# %% slideshow={"slide_type": "subslide"}
def algorithm_at(T):
    return "wolff" if abs(T - TC) < 0.5 else "metropolis"


def monte_carlo(L, temps, n, seed):
    """n configurations (n, L, L) int8 at each temperature: Wolff near T_c, Metropolis further away."""
    out = {}
    for T in tqdm(temps, desc=f"Monte Carlo L={L}"):
        kw = {} if algorithm_at(T) == "wolff" else {"n_burn": 500, "n_between": 20}
        out[f"T{T}"] = ising_mc.sample(L, T, n, algorithm=algorithm_at(T), seed=seed + int(100 * T), **kw)
    return out


mc_arrays = cache.cached_arrays(f"mc_L{L_BIG}", compute=lambda: monte_carlo(L_BIG, TEMPS, N_TRAIN_BIG, SEED))
mc = {T: mc_arrays[f"T{T}"] for T in TEMPS}  # (n, L, L) int8 per temperature
mc_obs = {T: ising_mc.observables(mc[T], T) for T in TEMPS}
for T in TEMPS:
    o = mc_obs[T]
    m2 = np.mean(ising.magnetization(mc[T]).astype(np.float64) ** 2) / L_BIG**4
    print(
        f"T={T:4.2f} ({algorithm_at(T):>10})  e={o['energy_per_spin']:+.4f}±{o['energy_per_spin_err']:.4f}  "
        f"m={o['abs_magnetization_per_spin']:.4f}±{o['abs_magnetization_per_spin_err']:.4f}  "
        f"⟨M²⟩/N² = {m2:.3f}  (Onsager L=∞: e={ising.onsager_energy_per_spin(T):+.4f})"
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
# softplus is non-linear in $v$), and with enough hidden units an RBM can approximate any
# distribution over binary vectors as closely as we like {cite:p}`leroux2008` (exercises 1 and 2
# build one that represents the Ising model exactly). The model never sees $E$, only Monte Carlo
# configurations.
#
# The log-likelihood gradient is a difference of two expectations (lecture 01),
#
# $$\nabla_\theta \,\mathbb{E}_{\text{data}}\log p_\theta(v)
#   = -\,\mathbb{E}_{\text{data}}\big[\nabla_\theta F_\theta(v)\big]
#     + \mathbb{E}_{p_\theta}\big[\nabla_\theta F_\theta(v)\big],$$
#
# and we estimate the second with **CD-$k$**: $k$ steps of block Gibbs sampling
# $h\sim p(h\mid v)=\sigma(c+W^\top v)$, $v\sim p(v\mid h)=\sigma(b+Wh)$ started at the data.
# Below $T_c$ the target has two modes, $\pm$ magnetization, of exactly equal weight, and neither
# CD nor persistent chains (PCD, exercise 5) see how the model splits its mass between them. CD's
# chains start at data points, and below $T_c$ $k$ steps rarely carry a chain from one ordered
# state to the other (at $T_c$ on the $4\times4$ lattice, where the two are less separated, ten
# Gibbs steps may; no cell measures it), so there the model
# term has the data's even split, whatever the model's own split; a
# persistent chain that stays in one mode estimates the model term from that mode only. Section 4
# measures the split. The remedies are symmetrisation (adding globally flipped copies of the
# negative samples, or a parametrisation symmetric under $s\to-s$, exercise 3), or evaluating the
# symmetrised model, as section 4 does.
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
# run. Every RBM below starts from weights $W_{ij}\sim\mathcal N(0, 0.05^2)$ and zero biases. With
# $W\approx0$, a visible bias $b=0$ gives $\langle v_i\rangle=\sigma(0)=\tfrac12$, the data's value,
# since $p_T$ is symmetric under flipping every spin. (The model itself is not symmetric: in 0/1
# units the flip $v\to1-v$ changes $F_\theta$ even with $b=0$.) All RBMs are trained with the same settings:

# %%
CD = {"method": "cd", "k": CD_K, "lr": RBM_LR, "batch_size": BATCH_SIZE, "momentum": RBM_MOMENTUM}
print(f"RBM training: {CD}, initial weights N(0, {RBM_WEIGHT_SCALE}²)")


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Exactness where it is possible: the 4×4 lattice at $T_c$
#
# With 16 visible units we can evaluate the RBM's full distribution: for each of the
# $2^{16}=65{,}536$ states (in the order of `ising.all_states`) compute $F_\theta(v)$ with
# `lib.rbm.free_energy`, and normalise, $\log Z_\theta = \log\sum_v e^{-F_\theta(v)}$ (cross-checked,
# for the smallest hidden layer, against `lib.rbm.log_partition_exact`, which sums over the
# $2^{n_h}$ hidden states instead). Then the Kullback–Leibler divergence from the true Boltzmann
# distribution is exact:
#
# $$\mathrm{KL}(p_T\,\|\,p_\theta) = \sum_{s} p_T(s)\,\big[\log p_T(s) - \log p_\theta(s)\big] \;\ge 0,$$
#
# which is (up to the constant entropy of $p_T$) the expected negative log-likelihood on
# infinitely many fresh Monte Carlo samples — the quantity maximum-likelihood training minimises.
# In nats; 0 means perfect. We train RBMs of several hidden-layer sizes on Monte Carlo samples at
# $T_c$ and record the exact KL, and the exact energy, after every epoch.

# %% slideshow={"slide_type": "subslide"}
exact_T = ising.exact(L_SMALL, T_SMALL)
P_TRUE = exact_T["probabilities"]  # (65536,)
STATES = ising.all_states(L_SMALL)  # (65536, 4, 4) int8
V_ALL = ising.spins_to_bits(STATES).astype(np.float64)  # (65536, 16) in {0, 1}
E_ALL = exact_T["energies"] / L_SMALL**2  # (65536,) energy per spin of each state
M_ALL = exact_T["magnetizations"]  # (65536,) total magnetization M of each state
H_MIN, H_MAX = min(HIDDEN_SIZES), max(HIDDEN_SIZES)


def rbm_log_probs(model):
    """log p_θ(v) of all 2^16 states, exactly: −F(v) − log Z with Z summed over the visible states."""
    W, b, c = model.numpy_params()
    neg_f = -rbm.free_energy(V_ALL, W, b, c)  # (65536,)
    return neg_f - logsumexp(neg_f)


def kl_to_boltzmann(log_q, T=T_SMALL):  # exact: no floor on q (eps=0)
    return divergences.kl_divergence(ising.exact(L_SMALL, T)["probabilities"], np.exp(log_q), eps=0.0)


def monte_carlo_small(seed):
    """N_TRAIN_SMALL Wolff configurations of the 4×4 lattice at T_c and at TEMPS_SMALL_AWAY."""
    return {
        f"T{T}": ising_mc.sample(L_SMALL, T, N_TRAIN_SMALL, seed=seed + int(100 * T))
        for T in [T_SMALL, *TEMPS_SMALL_AWAY]
    }


mc_small = cache.cached_arrays("mc_4x4", compute=lambda: monte_carlo_small(SEED + 4))
small_train = ising.spins_to_bits(mc_small[f"T{T_SMALL}"])  # (N, 16) in {0, 1}
print(
    f"{len(small_train)} Monte Carlo samples of the 4×4 lattice at T_c; "
    f"{len(np.unique(small_train @ 2 ** np.arange(16)))} distinct states among 65,536"
)


def train_rbm_4x4(model, v_train, T, *, seed, desc):
    """CD-k training that records the exact KL(Boltzmann‖RBM) at temperature T and the RBM's exact
    energy per spin before training (epoch 0) and after each epoch."""
    exact = {"kl": [], "energy": []}

    def measure(epoch, m):
        log_q = rbm_log_probs(m)
        exact["kl"].append(kl_to_boltzmann(log_q, T))
        exact["energy"].append(float(np.exp(log_q) @ E_ALL))

    measure(0, model)
    history = rbm_torch.train(
        model, v_train, epochs=EPOCHS_SMALL, seed=seed, desc=desc, callback=measure, **CD
    )
    return {**history, **exact}


small_models, small_histories = {}, {}
for n_hidden in HIDDEN_SIZES:
    small_models[n_hidden], small_histories[n_hidden] = cache.cached_torch(
        f"rbm_4x4_h{n_hidden}",
        build=lambda h=n_hidden: rbm_torch.RBM(16, h, weight_scale=RBM_WEIGHT_SCALE).to(DEVICE),
        train=lambda m, h=n_hidden: train_rbm_4x4(
            m, small_train, T_SMALL, seed=SEED + h, desc=f"RBM n_h={h}"
        ),
    )
kl_curves = {h: small_histories[h]["kl"] for h in HIDDEN_SIZES}
for h in HIDDEN_SIZES:
    print(f"n_hidden={h:3d}: KL(Boltzmann || RBM) = {kl_curves[h][0]:.3f} -> {kl_curves[h][-1]:.4f} nats")

# Cross-check the normalisation on the smallest RBM, whose exact log Z lib.rbm sums over the hidden states.
W, b, c = small_models[H_MIN].numpy_params()
neg_f = -rbm.free_energy(V_ALL, W, b, c)
assert abs(logsumexp(neg_f) - rbm.log_partition_exact(W, b, c)) < 1e-5, "log Z disagrees"

# %% [markdown]
# What is a good KL? Two baselines: the **independent-spin** model that matches each spin's
# marginal (here $p(s_i=\pm1)=\tfrac12$, i.e. the uniform distribution), and the **empirical
# distribution** of the training set itself, which puts zero mass on the states it never saw
# and so has infinite KL — a generative model must *generalise* to states it was not shown.

# %% slideshow={"slide_type": "subslide"}
kl_uniform = kl_to_boltzmann(np.full(65536, -16 * np.log(2.0)))
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
# Where does the largest RBM put its probability? Exact log p of every state, against its energy.
log_q = rbm_log_probs(small_models[H_MAX])
axes[2].scatter(E_ALL, log_q, s=4, color="C1", alpha=0.3, label=f"RBM $n_h$={H_MAX}")
axes[2].scatter(E_ALL, np.log(P_TRUE), s=6, color="k", label="Boltzmann (exact)")
axes[2].set_xlabel("energy per spin of the state")
axes[2].set_ylabel("log p(state)")
axes[2].set_title("all 65,536 states")
axes[2].legend()
fig.tight_layout()

results.record(
    "kl_exact_L4",
    kl_final[H_MAX],
    unit="nats",
    n_hidden=H_MAX,
    T=T_SMALL,
    n_train=N_TRAIN_SMALL,
    per_hidden_size={str(h): kl_final[h] for h in HIDDEN_SIZES},
    uniform_baseline=kl_uniform,
    key="exact KL(Boltzmann ‖ RBM), 4×4 at T_c",
)
print(f"uniform baseline KL = {kl_uniform:.3f} nats; largest RBM (n_h={H_MAX}): {kl_final[H_MAX]:.4f} nats")

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
    "abs_magnetization_per_spin": float(p_q @ np.abs(M_ALL) / 16),
}
for key, value in small_rbm_obs.items():
    print(
        f"{key:28s} RBM {value:.4f}   exact {exact_T[key]:.4f}   ({100 * (value / exact_T[key] - 1):+.2f} %)"
    )
print(
    "final / initial KL: "
    + ", ".join(f"n_h={h} {kl_curves[h][-1] / kl_curves[h][0]:.3f}" for h in HIDDEN_SIZES)
    + f"; KL(n_h={H_MAX}) / KL(independent spins) {kl_final[H_MAX] / kl_uniform:.4f}; "
    f"KL(n_h={H_MAX}) / KL(n_h={H_MIN}) {kl_final[H_MAX] / kl_final[H_MIN]:.3f}"
)

# %% tags=["learning-check"]
# Training lowers every RBM's exact KL far below that of the same RBM before training.
checks.below(
    "kl_trained_over_untrained",
    {f"n_h={h}": kl_curves[h][-1] / kl_curves[h][0] for h in HIDDEN_SIZES},
    config.scaled(smoke=0.3, lecture=0.15, full=0.15),
    "exact KL(Boltzmann ‖ RBM) after training / the same RBM's before training, 4×4 at T_c",
)

# %% tags=["learning-check"]
# The largest RBM's exact KL is a small fraction of the independent-spin model's.
checks.below(
    "kl_largest_over_independent",
    kl_final[H_MAX] / kl_uniform,
    config.scaled(smoke=0.1, lecture=0.02, full=0.01),
    "exact KL of the largest RBM / exact KL of independent fair spins, 4×4 at T_c",
)

# %% tags=["learning-check"]
# More hidden units help: the largest RBM's exact KL is well below the smallest one's.
checks.below(
    "kl_largest_over_smallest",
    kl_final[H_MAX] / kl_final[H_MIN],
    config.scaled(smoke=0.9, lecture=0.5, full=0.5),
    "exact KL of the largest RBM / exact KL of the smallest, 4×4 at T_c",
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Away from $T_c$
#
# Is the critical point really the hardest place? Train the same RBM ($n_h$ = `H_MAX`, the same
# initial weights) on 4×4 Monte Carlo data below and above $T_c$ and evaluate it exactly again,
# after every epoch. Besides the KL we print, for each temperature, the entropy
# $S=-\sum_s p_T(s)\log p_T(s)$ of the target and the number of distinct states among the
# training configurations, and two exact numbers about the symmetry $s\to-s$. The Boltzmann
# distribution is symmetric under flipping every spin, so it puts exactly half of the mass of the
# states with $M\neq0$ on $M>0$; we print the RBM's share $p_\theta(M>0)/p_\theta(M\neq0)$. And we
# print the KL of the *symmetrised* RBM, $\bar p_\theta(s) = \tfrac12[p_\theta(s)+p_\theta(-s)]$:
# the difference between the two KLs is what the RBM loses by splitting its mass unevenly between
# $s$ and $-s$. It is $\ge0$: since $p_T(-s) = p_T(s)$ and $\bar p_\theta(-s) = \bar p_\theta(s)$, we may
# average each term over $s$ and $-s$,
# $\mathrm{KL}(p_T\|p_\theta) - \mathrm{KL}(p_T\|\bar p_\theta) = \sum_s p_T(s)\log\frac{\bar p_\theta(s)}{p_\theta(s)}
# = -\sum_s p_T(s)\,\tfrac12\big[\log a_s + \log b_s\big]$ with $a_s = p_\theta(s)/\bar p_\theta(s)$,
# $b_s = p_\theta(-s)/\bar p_\theta(s)$; and $\tfrac12(\log a + \log b) \le \log\tfrac{a+b}{2} = \log 1 = 0$,
# by the concavity of $\log$.

# %% slideshow={"slide_type": "subslide"}
codes = (V_ALL @ 2 ** np.arange(16)).astype(np.int64)  # each state's bit pattern as an integer
position = np.empty(65536, dtype=np.int64)
position[codes] = np.arange(65536)
FLIPPED = position[65535 - codes]  # index of the state -s, for each state s


def exact_summary(log_q, T):
    """Exact KLs, observables and ± split of a model's log p over all 4×4 states, against ising.exact(4, T)."""
    ex = ising.exact(L_SMALL, T)
    p_true, q = ex["probabilities"], np.exp(log_q)
    log_q_sym = np.logaddexp(log_q, log_q[FLIPPED]) - np.log(2)
    return {
        "kl": divergences.kl_divergence(p_true, q, eps=0.0),
        "kl_symmetrised": divergences.kl_divergence(p_true, np.exp(log_q_sym), eps=0.0),
        "kl_independent": divergences.kl_divergence(p_true, np.full(len(q), 2.0**-16), eps=0.0),
        "share_positive": float(q[M_ALL > 0].sum() / q[M_ALL != 0].sum()),
        "energy_per_spin": float(q @ E_ALL),
        "exact_energy": ex["energy_per_spin"],
        "energy_rel_dev": float(q @ E_ALL) / ex["energy_per_spin"] - 1,
        "abs_m_rel_dev": float(q @ np.abs(M_ALL)) / 16 / ex["abs_magnetization_per_spin"] - 1,
        "entropy": float(-(p_true * np.log(np.where(p_true > 0, p_true, 1.0))).sum()),
        "aligned": float(p_true[np.abs(M_ALL) == L_SMALL**2].sum()),  # the two fully aligned states
    }


SMALL_TEMPS = sorted([T_SMALL, *TEMPS_SMALL_AWAY])
small_by_T_models = {T_SMALL: small_models[H_MAX]}
small_by_T_histories = {T_SMALL: small_histories[H_MAX]}
for T in TEMPS_SMALL_AWAY:
    v_train = ising.spins_to_bits(mc_small[f"T{T}"])  # (N, 16)
    small_by_T_models[T], small_by_T_histories[T] = cache.cached_torch(
        f"rbm_4x4_T{T}",
        build=lambda: rbm_torch.RBM(16, H_MAX, weight_scale=RBM_WEIGHT_SCALE).to(DEVICE),
        train=lambda m, v=v_train, T=T: train_rbm_4x4(m, v, T, seed=SEED + H_MAX, desc=f"RBM 4×4 T={T:.2f}"),
    )
small_by_T = {T: exact_summary(rbm_log_probs(small_by_T_models[T]), T) for T in SMALL_TEMPS}
print(
    "T      S(p_T)  e^S     P(aligned)  distinct states  KL      KL sym.  KL indep.  share M>0  e RBM    "
    "e exact  (rel.)"
)
for T in SMALL_TEMPS:
    d = small_by_T[T]
    distinct = len(np.unique(ising.spins_to_bits(mc_small[f"T{T}"]) @ 2 ** np.arange(16)))
    print(
        f"{T:5.3f}  {d['entropy']:6.2f}  {np.exp(d['entropy']):6.0f}  {d['aligned']:10.3f}  {distinct:15d}  "
        f"{d['kl']:.4f}  "
        f"{d['kl_symmetrised']:.4f}   "
        f"{d['kl_independent']:.3f}      {d['share_positive']:.3f}  {d['energy_per_spin']:+.4f}  "
        f"{d['exact_energy']:+.4f}  ({100 * d['energy_rel_dev']:+.1f} %)"
    )
rank = sorted(SMALL_TEMPS, key=lambda T: -small_by_T[T]["kl_symmetrised"]).index(T_SMALL) + 1
print(f"T_c has the {rank}. largest symmetrised KL of the {len(SMALL_TEMPS)} temperatures")

fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
for T in SMALL_TEMPS:
    history = small_by_T_histories[T]
    exact_e = small_by_T[T]["exact_energy"]
    axes[0].plot(history["kl"], "o-", ms=3, label=f"T = {T:.2f}")
    axes[1].plot(np.array(history["energy"]) / exact_e - 1, "o-", ms=3, label=f"T = {T:.2f}")
axes[0].set_yscale("log")
axes[0].set_ylabel("exact KL (nats)")
axes[1].axhline(0, color="grey", lw=0.8)
axes[1].set_ylabel("exact e_RBM / e − 1")
for ax in axes:
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8)
fig.suptitle(f"RBM, n_h = {H_MAX}, on the 4×4 lattice: exact KL and energy during training")
fig.tight_layout()
results.record(
    "rbm_L4_energy_max_abs_rel_dev_away_from_tc",
    max(abs(small_by_T[T]["energy_rel_dev"]) for T in TEMPS_SMALL_AWAY),
    unit="fraction",
    key="4×4 RBM: largest error of its exact energy away from T_c",
    n_hidden=H_MAX,
    per_temperature={f"{T:.3f}": small_by_T[T] for T in SMALL_TEMPS},
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Is $T_c$ the hardest place?** Read the table and the printed rank: on this lattice the critical
# point need not stand out, and there is no reason it should. What makes $T_c$ hard on a large
# lattice is the correlation length, which diverges there, so that a model must reproduce
# correlations on every scale up to $L$; {cite:t}`torlai2016` found that the number of hidden units
# an RBM needs for accurate thermodynamics grows as $T$ approaches $T_c$. On a $4\times4$ lattice
# the correlation length is capped by $L$ at every temperature; nothing diverges, and the specific
# heat peaks above $T_c$ (section 1). Other things change strongly with $T$ here:
#
# - **Above $T_c$** the distribution is spread out: its entropy $S$ grows with $T$, and a training
#   set of fixed size covers a smaller part of the states it needs (compare $e^S$ with the printed
#   number of distinct training states). The correlations to learn are weaker but more of the
#   distribution is unseen. A model that has not captured them is "too random", which shows as an
#   energy less negative than the exact one.
# - **Below $T_c$** most of the probability sits in the two ordered sectors, $M>0$ and $M<0$, near
#   full alignment (the column P(aligned) is the exact probability of the two fully aligned
#   states alone), and, as section 3
#   explained, CD-$k$ barely constrains how the model splits its mass between them. The printed
#   share of $M>0$ says how uneven the split is, and the gap between the KL and the KL of the
#   symmetrised model is what it costs: when the split is far from ½, that gap is most of the KL,
#   even if the energy is close to exact. This is why the check below bounds the symmetrised KL
#   (together with the energy), not the raw one.
#
# The energy curves show, for each temperature, whether the error left at the end of training was
# still shrinking (more epochs would help) or had levelled off (more data, more hidden units or a
# less biased gradient would be needed).

# %% tags=["learning-check"]
# At every temperature the RBM's exact energy is close to the exact one (independent spins, like the
# RBM before training, have e ≈ 0: a relative error of 1).
checks.below(
    "energy_error_4x4",
    {f"T={T:.2f}": abs(small_by_T[T]["energy_rel_dev"]) for T in SMALL_TEMPS},
    config.scaled(smoke=0.3, lecture=0.08, full=0.05),
    "|exact e of the RBM / exact e − 1| on the 4×4 lattice",
)

# %% tags=["learning-check"]
# At every temperature the symmetrised RBM's exact KL is a small fraction of the independent-spin model's.
checks.below(
    "kl_symmetrised_over_independent",
    {f"T={T:.2f}": small_by_T[T]["kl_symmetrised"] / small_by_T[T]["kl_independent"] for T in SMALL_TEMPS},
    config.scaled(smoke=0.2, lecture=0.05, full=0.05),
    "exact KL of the symmetrised RBM / exact KL of independent fair spins, 4×4",
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
# which is normalised over the 65,536 states by construction (each $p_\theta(\cdot\mid z_g)$ is).
# Whether the grid is fine enough depends on how sharply the decoder varies with $z$: we compare
# two grids. The structural difference to remember: given $z$ the spins are **independent**, so
# all correlations between spins must be carried by the few latent dimensions.
#
# The VAEs train for twice as many epochs as the RBMs, so that under-training does not decide the
# comparison between the two families: the printed $-$ELBO (after half, all and twice the RBMs'
# epochs) shows how much the second half of training still gains.


# %% slideshow={"slide_type": "subslide"}
class VAE(nn.Module):
    def __init__(self, n_visible, latent, hidden):
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(nn.Linear(n_visible, hidden), nn.Tanh(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, n_visible))

    def encode(self, v):  # v: (B, n_visible) -> mu, logvar (B, d)
        return self.encoder(2 * v - 1).chunk(2, dim=-1)  # (the network sees spins ±1)

    def log_px_given_z(self, v, z):  # (..., n_visible), (..., d) -> (...)
        return -nn.functional.binary_cross_entropy_with_logits(
            self.decoder(z), v.expand(*z.shape[:-1], -1), reduction="none"
        ).sum(-1)

    def elbo(self, v):  # (B,) single-sample ELBO
        mu, logvar = self.encode(v)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # reparameterisation
        return self.log_px_given_z(v, z) - vae.gaussian_kl(mu, logvar)

    @torch.no_grad()
    def sample(self, n, generator):  # (n, n_visible) in {0, 1}, ancestral: z, then v given z
        z = torch.randn(n, self.latent, generator=generator)
        return torch.bernoulli(torch.sigmoid(self.decoder(z)), generator=generator)


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


@torch.no_grad()
def vae_log_probs(model, v_all, n_grid):
    """log p_θ(v) of all states by quadrature on an n_grid × n_grid grid over [-5, 5]² (2-D latent)."""
    g = torch.linspace(-5, 5, n_grid)
    z = torch.cartesian_prod(g, g)  # (G, 2)
    log_w = torch.log_softmax(-0.5 * (z**2).sum(-1), dim=0)  # (G,) normalised prior weights
    logits = model.decoder(z)  # (G, n_visible)
    # log p(v_i = 1 | z), log p(v_i = 0 | z)
    log_on, log_off = nn.functional.logsigmoid(logits), nn.functional.logsigmoid(-logits)
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
    history = train_vae(model, small_train, VAE_EPOCHS_SMALL, seed=SEED + 6, desc="VAE 4×4")
    return {**history, "kl_before": kl_before}


vae_small, vae_history = cache.cached_torch(
    "vae_4x4", build=lambda: VAE(16, VAE_LATENT, VAE_HIDDEN), train=train_vae_small
)
vae_log_q = cache.cached_arrays(
    "vae_4x4_log_probs", compute=lambda: {f"grid{n}": vae_log_probs(vae_small, V_ALL, n) for n in (50, 100)}
)
log_q_vae = vae_log_q["grid100"]  # (65536,)
kl_vae_init = vae_history["kl_before"]
kl_vae = kl_to_boltzmann(log_q_vae)
kl_vae_coarse = kl_to_boltzmann(vae_log_q["grid50"])
neg_elbo = vae_history["neg_elbo"]
print(
    "VAE −ELBO (nats per configuration) after "
    + ", ".join(
        f"{e} epochs {neg_elbo[e - 1]:.3f}"
        for e in (EPOCHS_SMALL // 2, EPOCHS_SMALL, VAE_EPOCHS_SMALL)
        if e <= len(neg_elbo)
    )
)
print(
    f"VAE (latent {VAE_LATENT}): KL(Boltzmann || VAE) = {kl_vae_init:.3f} before training -> {kl_vae:.4f} nats "
    f"(grid 100², {kl_vae_coarse:.4f} on 50²); independent spins {kl_uniform:.3f} nats"
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
# A check of the quadrature, not of training: the KL must not change between a 50² and a 100² grid.
assert abs(kl_vae - kl_vae_coarse) < 0.05 * kl_vae + 1e-3, (kl_vae, kl_vae_coarse)

# %% tags=["learning-check"]
# The trained VAE's exact KL is a small fraction of the independent-spin model's (the VAE before
# training is close to that model: its KL is printed above).
checks.below(
    "vae_kl_over_independent",
    kl_vae / kl_uniform,
    config.scaled(smoke=0.1, lecture=0.08, full=0.08),
    "exact KL(Boltzmann ‖ VAE) / exact KL of independent fair spins, 4×4 at T_c",
)

# %% [markdown]
# Both models are exact here, so we can compare them on the same footing: their KL, that of their
# symmetrised versions, and the relative errors of their energy and magnetization.

# %%
vae_small_summary = exact_summary(log_q_vae, T_SMALL)
print(f"4×4 at T = {T_SMALL:.3f}, exact:   KL      KL sym.  e: rel. error  |m|: rel. error")
for name, d in [
    (f"RBM, n_h = {H_MAX}", small_by_T[T_SMALL]),
    (f"VAE, latent {VAE_LATENT}", vae_small_summary),
]:
    print(
        f"{name:20s}  {d['kl']:.4f}  {d['kl_symmetrised']:.4f}  {100 * d['energy_rel_dev']:+11.1f} %  "
        f"{100 * d['abs_m_rel_dev']:+13.1f} %"
    )
print(
    "VAE / RBM: "
    + ", ".join(
        f"{label} {abs(vae_small_summary[k] / small_by_T[T_SMALL][k]):.1f}×"
        for label, k in [("KL", "kl"), ("energy error", "energy_rel_dev"), ("|m| error", "abs_m_rel_dev")]
    )
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Compare the two rows and the printed ratios: the KL and an observable need not rank two models
# alike, nor by the same factor. The KL averages $\log p_T/p_\theta$ over all states, weighted by
# $p_T$; the energy is one statistic.
#
# Nothing in the VAE's structure forces its energy to one side: a decoder that answered
# $\sigma(g_\theta(z))_i = 0$ or $1$ would generate fully ordered states, with $e=-2$. What pushes
# it up is the objective. Maximum likelihood minimises $\mathrm{KL}(p_T\,\|\,p_\theta)$, which
# punishes a model hard for giving almost no probability to states that $p_T$ gives some
# ($\log p_\theta\to-\infty$ there), and little for putting probability where $p_T$ has little: it
# is *mass-covering*. The fluctuations of $p_T$ (a few flipped spins, small flipped domains) must
# be covered. With spins independent given $z$ and only two latent dimensions, the cheap way to
# cover them is to let every spin flip independently with some probability; the same flips then
# also produce isolated flipped spins, each breaking all four of its bonds, where the Boltzmann
# distribution flips spins together in domains that break only the bonds on their boundary.
# Whether the energy comes out too high (a negative relative error in the table) is an
# observation of your run, not a theorem. Section 7 shows a second cause, in the latent space.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Across the transition: RBM and VAE on the larger lattice
#
# Now the Torlai–Melko experiment proper: at each temperature train one RBM
# ($n_h = n_v = L^2$ hidden units) and one VAE on the Monte Carlo configurations of the
# $L$ = `L_BIG` lattice, then let each model **generate** configurations and measure the four
# observables on them. The RBM generates by block Gibbs sampling from random initial states
# (`GIBBS_STEPS` steps; the chains never saw the data); the VAE by ancestral sampling,
# $z\sim\mathcal N(0,I)$ then $v\sim p_\theta(v\mid z)$.
#
# Error bars are jackknife errors over 20 blocks of consecutive configurations
# (`ising_mc.observables`), which are honest when the blocks are independent of each other. They
# are here: every RBM configuration is the end of a Gibbs chain of its own, every VAE configuration
# an independent draw, and the Monte Carlo configurations come from up to 1,000 independent chains,
# stored time-major (all chains at one time, then all at the next), so a block holds distinct
# chains, and the configurations one chain contributes are several autocorrelation times apart.
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
    return ising.bits_to_spins(model.gibbs(v0, steps, gen).cpu().numpy())


gen_obs = {"RBM": {}, "VAE": {}}
gen_samples = {"RBM": {}, "VAE": {}}
rbm_models, vae_models = {}, {}
for T in tqdm(TEMPS, desc="temperatures"):
    v_train = ising.spins_to_bits(mc[T])  # (N, L²)
    rbm_models[T], _ = cache.cached_torch(
        f"rbm_L{L_BIG}_T{T}",
        build=lambda: rbm_torch.RBM(L_BIG**2, L_BIG**2, weight_scale=RBM_WEIGHT_SCALE).to(DEVICE),
        train=lambda m, v=v_train, T=T: rbm_torch.train(
            m, v, epochs=EPOCHS_BIG, seed=SEED + 7, desc=f"RBM T={T:.2f}", **CD
        ),
    )
    gen_samples["RBM"][T] = cache.cached_arrays(
        f"rbm_gibbs_L{L_BIG}_T{T}",
        compute=lambda m=rbm_models[T]: {"spins": gibbs_from_noise(m, N_GEN, GIBBS_STEPS, SEED + 10)},
    )["spins"]
    vae_models[T], _ = cache.cached_torch(
        f"vae_L{L_BIG}_T{T}",
        build=lambda: VAE(L_BIG**2, VAE_LATENT, VAE_HIDDEN),
        train=lambda m, v=v_train, T=T: train_vae(m, v, VAE_EPOCHS_BIG, seed=SEED + 8, desc=f"VAE T={T:.2f}"),
    )
    vae_bits = vae_models[T].sample(N_GEN, torch.Generator().manual_seed(SEED + 10))  # ancestral: cheap
    gen_samples["VAE"][T] = ising.bits_to_spins(vae_bits.numpy())
    for name in gen_obs:
        gen_obs[name][T] = ising_mc.observables(gen_samples[name][T], T)

rng = np.random.default_rng(SEED + 9)
independent_obs = {
    T: ising_mc.observables(rng.choice(np.array([-1, 1], np.int8), size=(N_GEN, L_BIG, L_BIG)), T)
    for T in TEMPS
}

# %% slideshow={"slide_type": "subslide"}
KEYS = ["energy_per_spin", "abs_magnetization_per_spin", "specific_heat_per_spin", "susceptibility_per_spin"]
LABELS = ["energy $e$", "magnetization $m$", "specific heat $c_V$", r"susceptibility $\chi'$"]
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
axes[2].set_yscale("log")  # the VAE's fluctuations can be many times too large
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
print("\nenergy per spin, model − Monte Carlo (positive: too high)")
print("T:                          " + " ".join(f"{T:8.2f}" for T in TEMPS))
for name in gen_obs:
    de = np.array([gen_obs[name][T]["energy_per_spin"] - mc_obs[T]["energy_per_spin"] for T in TEMPS])
    print(
        f"{name:12s} {'e − e_MC':15s} " + " ".join(f"{x:+8.3f}" for x in de) + f"   (too high at "
        f"{np.count_nonzero(de > 0)} of {len(TEMPS)} temperatures)"
    )
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
results.record(
    "rbm_large_lattice_energy_rel_dev_far_from_tc",
    float(max(abs(dev["RBM"][0]["energy_per_spin"][0]), abs(dev["RBM"][0]["energy_per_spin"][-1]))),
    unit="fraction",
    L=L_BIG,
    temperatures=[TEMPS[0], TEMPS[-1]],
)


def rel_error(name, key):
    """|model / Monte Carlo − 1| of one observable of a model's samples, per temperature."""
    return {f"T={T:.2f}": abs(x) for T, x in zip(TEMPS, dev[name][0][key])}


# %% tags=["learning-check"]
# At every temperature the energy of the RBM's samples is close to Monte Carlo's (independent spins: 1).
checks.below(
    "rbm_energy_error",
    rel_error("RBM", "energy_per_spin"),
    config.scaled(smoke=0.35, lecture=0.3, full=0.2),
    "|e of the RBM's samples / Monte Carlo e − 1|",
)

# %% tags=["learning-check"]
# At every temperature |m| of the RBM's samples is close to Monte Carlo's (independent spins: 0.6 to 0.9).
checks.below(
    "rbm_abs_m_error",
    rel_error("RBM", "abs_magnetization_per_spin"),
    config.scaled(smoke=0.2, lecture=0.15, full=0.1),
    "|m of the RBM's samples / Monte Carlo m − 1|",
)

# %% tags=["learning-check"]
# Averaged over the temperatures, the energy of the VAE's samples is far closer to Monte Carlo's than
# independent spins' (1); at high temperature it is not far from it (printed above).
vae_e = rel_error("VAE", "energy_per_spin")
checks.below(
    "vae_energy_error_mean",
    np.mean(list(vae_e.values())),
    config.scaled(smoke=0.55, lecture=0.55, full=0.55),
    "|e of the VAE's samples / Monte Carlo e − 1|, mean over the temperatures",
)

# %% tags=["learning-check"]
# At every temperature |m| of the VAE's samples is far closer to Monte Carlo's than independent spins'.
checks.below(
    "vae_abs_m_error",
    rel_error("VAE", "abs_magnetization_per_spin"),
    config.scaled(smoke=0.3, lecture=0.3, full=0.3),
    "|m of the VAE's samples / Monte Carlo m − 1|",
)

# %% tags=["learning-check"]
# At every temperature the RBM's energy error is clearly smaller than the VAE's.
rbm_e = rel_error("RBM", "energy_per_spin")
checks.below(
    "rbm_over_vae_energy_error",
    {row: rbm_e[row] / vae_e[row] for row in rbm_e},
    config.scaled(smoke=0.7, lecture=0.5, full=0.5),
    "relative energy error of the RBM's samples / that of the VAE's",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. What each family gets right and wrong
#
# Read the figure and the printed deviations; what is called asserted below is checked above.
#
# - **Energy.** The energy per spin is $e = -2\langle s_is_j\rangle_{\text{nn}}$, minus twice the
#   mean product of nearest neighbours, so a relative error $e_\theta/e - 1$ is the fraction of
#   the nearest-neighbour correlation that a model misses (negative) or adds (positive). The RBM's
#   hidden units create effective couplings between visible units; its energy is within the
#   asserted bound of Monte Carlo at every temperature, and closer than the VAE's. The bound is
#   loose: look at the printed rows, at how the RBM's error changes with $T$ and on which side of
#   Monte Carlo it lies. The VAE's spins are independent given $z$; what its latent space does not
#   carry comes out as broken bonds (look at the samples), mass-covering (section 5) pushes its
#   energy up, and below $T_c$ the bridge of the next cells adds disordered configurations. A
#   relative error that grows with $T$ need not be a larger error per spin: $|e|$ shrinks as $T$
#   grows, so the same $e_\theta - e$ is a larger fraction of it (compare the printed rows of
#   $e - e_{\text{MC}}$). Where the RBM's energy is too high as well, the 4×4 energy curves
#   of section 4 are the place to see whether more training would have helped.
# - **Magnetization.** A global, one-number summary: one might expect a low-dimensional latent to
#   capture it easily. The VAE does get $m$ far better than independent spins (asserted), but
#   compare its row with the RBM's below and near $T_c$, where the true configurations are
#   ordered. The next cell takes the VAE's $|m|$ apart at the lowest temperature.
# - **Fluctuations** $c_V$ and $\chi'$ (log scale!) are the hard part: they are *variances*, so
#   they need the tails of the distribution. Look at the VAE's rows at low temperature; the next
#   cell also says where the VAE's extra variance comes from. At high $T$, where the truth is
#   closest to independent spins, the VAE has least to miss. {cite:t}`torlai2016` found that RBMs
#   need more hidden units to reproduce the thermodynamics the closer $T$ is to $T_c$; ours have
#   $n_h = N$ at every temperature: compare the RBM rows of $c_V$ and $\chi'$ near $T_c$ with
#   those away from it.

# %% [markdown] slideshow={"slide_type": "subslide"}
# The VAE at the lowest temperature, taken apart: fresh prior draws $z$, the magnetization per
# spin that the decoder aims at, $\bar m(z) = \mathbb{E}[m\mid z] = \frac1N\sum_i(2\sigma(g_\theta(z))_i - 1)$,
# and one configuration drawn given each $z$. The cell prints the share of configurations with
# $|m| < \tfrac12$ (disordered, for a lattice that should be ordered) for Monte Carlo, the RBM and
# the VAE; splits the VAE's deficit in $m$ between the latent points that aim at a magnetization
# below what Monte Carlo shows ($|\bar m(z)|$ below the first percentile of Monte Carlo's $|m|$:
# the band between the ordered regions and its edges) and the others; and splits the variances
# behind $\chi'$ and $c_V$ (law of total variance) into the noise given $z$ and the spread of the
# decoder's means over the prior. For $M$ the noise given $z$ is exactly
# $\mathrm{Var}(M\mid z) = \sum_i(1 - \mathbb{E}[s_i\mid z]^2)$ (the spins are independent given
# $z$, and $\mathrm{Var}(s_i\mid z) = 1 - \mathbb{E}[s_i\mid z]^2$ since $s_i^2 = 1$), and
# $\mathbb{E}_z\mathrm{Var}(M\mid z)$ bounds the part of $\mathrm{Var}(|M|)$ that the noise given $z$
# can explain: $\mathrm{Var}(|M|\mid z) = \mathbb{E}[M^2\mid z] - \mathbb{E}[|M|\mid z]^2 \le
# \mathbb{E}[M^2\mid z] - \mathbb{E}[M\mid z]^2 = \mathrm{Var}(M\mid z)$, because
# $|\mathbb{E}[M\mid z]| \le \mathbb{E}[|M|\mid z]$. For $E$ the decoder's mean,
# $\mathbb{E}[E\mid z] = -\sum_{\langle ij\rangle}\mathbb{E}[s_i\mid z]\,\mathbb{E}[s_j\mid z]$, is exact (again
# by independence given $z$), and
# its spread over the prior, $\mathrm{Var}_z\,\mathbb{E}[E\mid z]$, is the part of $\mathrm{Var}(E)$
# between latent points.
# The right panel maps $\bar m(z)$ over the latent plane, with circles at one and two standard
# deviations of the prior.

# %% slideshow={"slide_type": "subslide"}
vae_low = vae_models[T_low]  # T_low = TEMPS[0]
gen_low = torch.Generator().manual_seed(SEED + 13)
z_low = torch.randn(N_GEN, VAE_LATENT, generator=gen_low)  # (N_GEN, 2) from the prior
with torch.no_grad():
    p_on = torch.sigmoid(vae_low.decoder(z_low))  # (N_GEN, N): p(v_i = 1 | z)
    s_low = (2 * torch.bernoulli(p_on, generator=gen_low) - 1).numpy().reshape(-1, L_BIG, L_BIG)
mean_s = (2 * p_on.double() - 1).numpy().reshape(-1, L_BIG, L_BIG)  # E[s_i | z]
m_bar = mean_s.mean((1, 2))  # (N_GEN,) E[m | z]
abs_m_low = {
    "Monte Carlo": np.abs(ising.magnetization(mc[T_low])) / L_BIG**2,
    "RBM": np.abs(ising.magnetization(gen_samples["RBM"][T_low])) / L_BIG**2,
    "VAE": np.abs(ising.magnetization(s_low)) / L_BIG**2,
}
disordered = {name: float(np.mean(x < 0.5)) for name, x in abs_m_low.items()}
print(
    f"T = {T_low}: share of configurations with |m| < 1/2: "
    + ", ".join(f"{k} {v:.3f}" for k, v in disordered.items())
)

m_rare = np.quantile(abs_m_low["Monte Carlo"], 0.01)  # Monte Carlo's |m| is below this 1% of the time
bridge = np.abs(m_bar) < m_rare  # latent points that aim below what Monte Carlo shows
m_mc, m_vae = abs_m_low["Monte Carlo"].mean(), abs_m_low["VAE"].mean()
part = {
    "bridge": bridge.mean() * (m_mc - abs_m_low["VAE"][bridge].mean()) if bridge.any() else 0.0,
    "ordered": (~bridge).mean() * (m_mc - abs_m_low["VAE"][~bridge].mean()),
}
print(
    f"VAE: prior mass with |E[m|z]| < 1/2: {np.mean(np.abs(m_bar) < 0.5):.3f}; with |E[m|z]| < {m_rare:.3f}, "
    f"Monte Carlo's 1st percentile of |m|: {bridge.mean():.3f}"
)
print(
    f"VAE: m = {m_vae:.3f} against Monte Carlo's {m_mc:.3f}, a deficit of {m_mc - m_vae:.3f}: "
    f"{part['bridge']:.3f} from those latent points, {part['ordered']:.3f} from the others (the mean |m| of their samples: "
    f"{abs_m_low['VAE'][~bridge].mean():.3f})"
)
M_vae = ising.magnetization(s_low).astype(np.float64)
noise_M = (1 - mean_s**2).sum((1, 2)).mean()  # E_z Var(M | z)
var_abs_M = {"VAE": np.var(np.abs(M_vae)), "Monte Carlo": np.var(np.abs(ising.magnetization(mc[T_low])))}
E_vae = ising.energy(s_low).astype(np.float64)
mean_E = -(mean_s * (np.roll(mean_s, 1, 1) + np.roll(mean_s, 1, 2))).sum((1, 2))  # E[E | z]
print(
    f"Var(|M|): VAE {var_abs_M['VAE']:.1f}, Monte Carlo {var_abs_M['Monte Carlo']:.1f}; noise given z, "
    f"E_z Var(M|z) = {noise_M:.1f}: at most {noise_M / var_abs_M['VAE']:.0%} of the VAE's Var(|M|)"
)
print(
    f"Var(E): VAE {np.var(E_vae):.1f}, Monte Carlo {np.var(ising.energy(mc[T_low])):.1f}; spread of E[E|z] "
    f"over the prior {np.var(mean_E):.1f} = {np.var(mean_E) / np.var(E_vae):.0%} of the VAE's Var(E)"
)

fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
for (name, x), color in zip(abs_m_low.items(), ["k", "C1", "C0"]):
    axes[0].hist(
        x,
        bins=(np.arange(L_BIG**2 // 2 + 2) - 0.5) * 2 / L_BIG**2,  # one bin per value of |M|
        histtype="step",
        color=color,
        density=True,
        label=name,
    )
axes[0].set_yscale("log")
axes[0].set_xlabel("|m| of a configuration")
axes[0].set_ylabel("density")
axes[0].set_title(f"|m| of the samples, T = {T_low}")
axes[0].legend(fontsize=8)
z_axis = torch.linspace(-3.5, 3.5, 141)
zz = torch.cartesian_prod(z_axis, z_axis)  # (141², 2), z_1 slowest
with torch.no_grad():
    m_map = (2 * torch.sigmoid(vae_low.decoder(zz)) - 1).mean(-1).reshape(len(z_axis), len(z_axis)).numpy()
im = axes[1].imshow(m_map.T, origin="lower", extent=(-3.5, 3.5, -3.5, 3.5), cmap="RdBu", vmin=-1, vmax=1)
for r in (1, 2):
    axes[1].add_patch(plt.Circle((0, 0), r, fill=False, color="k", ls=":", lw=0.8))
axes[1].contour(z_axis.numpy(), z_axis.numpy(), np.abs(m_map.T), levels=[0.5], colors="k", linewidths=0.8)
axes[1].set_xlabel("$z_1$")
axes[1].set_ylabel("$z_2$")
axes[1].set_title(r"the decoder's $\bar m(z)$ (solid: $|\bar m| = 1/2$; dotted: prior, 1 and 2 s.d.)")
fig.colorbar(im, ax=axes[1])
fig.tight_layout()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **A bridge between the ordered states.** The VAE's prior is one connected Gaussian, and its
# decoder a continuous function of $z$. The data below $T_c$ lie in two separate ordered sectors,
# so the decoder must send one region of the latent plane to $\bar m\approx +m$ and another to
# $\bar m\approx -m$ (the map). A continuous $\bar m(z)$ that is positive in one region and
# negative in the other is zero on a curve between them, and small in a band around that curve;
# the prior puts probability on that band. And a decoder whose spins are independent given $z$
# cannot split one latent point between $+m$ and $-m$: the band decodes to configurations with
# $m\approx0$, which the Boltzmann distribution below $T_c$ almost never produces. So the VAE's
# missing magnetization has two possible sources, and the printed split says how much each
# contributes in your run: latent points on the bridge and its edges, which aim below what Monte
# Carlo shows, and independent flips of single spins at latent points inside the ordered regions.
# The bridge also inflates the fluctuations: the spread of the decoder's means over the prior adds
# to the variances behind $\chi'$ and $c_V$ what the noise given $z$ does not explain (the printed
# shares). Training can only make the band narrow, not remove it; exercise 7 asks what a richer
# decoder would change.
#
# The RBM has no such bridge: the probability it gives a configuration between the ordered states
# is set by its free energy, and nothing forces that free energy to be low (the probability high)
# there, as the continuity of the decoder does for the VAE. The check asserts that at the
# lowest temperature the RBM's samples are about as rarely disordered as Monte Carlo's.

# %% tags=["learning-check"]
# At the lowest temperature the RBM's samples, like Monte Carlo's, are ordered: the share with |m| < 1/2,
# against Monte Carlo's (independent spins, like an RBM before training: nearly 1).
checks.below(
    "rbm_disordered_share_lowest_T",
    disordered["RBM"] - disordered["Monte Carlo"],
    config.scaled(smoke=0.05, lecture=0.05, full=0.05),
    "share of the RBM's samples with |m| < 1/2 minus Monte Carlo's, at the lowest temperature",
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Sampling.** The RBM generates by a Markov chain, block Gibbs sampling, which resamples *every*
# visible unit at once given $h$. How fast does it decorrelate? The next cell runs the chains on
# from the generated (already burnt-in) configurations and measures, along them,
# $\tau_{\text{int}}$ of $|m|$ and of the energy, and counts the sign changes of $m$; for
# comparison it measures the same autocorrelation times for Metropolis and Wolff on the same
# lattice, at the temperature closest to $T_c$. A Gibbs step, like a sweep, updates every spin
# once (at the cost of two products with the $N\times n_h$ weight matrix). Near $T_c$, compare the
# RBM's line with Monte Carlo's: block Gibbs sampling need not decorrelate faster than local
# Metropolis, let alone Wolff, although it resamples every spin at once.
#
# Below $T_c$, look at how rarely $m$ changes sign. A block Gibbs step could reverse it at once,
# since the next $v$ is drawn from $p(v\mid h)$ alone; but $h$ drawn from a magnetised $v$ encodes
# that magnetisation, and $p(v\mid h)$ then favours the same sign again. The bottleneck is in the
# hidden layer: to reverse $m$ the chain needs hidden configurations that favour neither sign,
# which a trained model makes improbable below $T_c$. Rare sign changes are therefore a property
# of the sampler, not a defect of the model: the same RBM with a global-flip move (exercise 9)
# would change sign whenever that move is accepted, and the observables here, all even under
# $s\to-s$, do not depend on the sign. That is why the sign changes are printed as a diagnostic
# and not checked. The VAE samples in one shot.

# %% slideshow={"slide_type": "subslide"}
# Block Gibbs chains of each RBM, started from its generated configurations, recording the
# magnetization and energy per spin after each v -> h -> v step.
TAU_GIBBS_STEPS = config.scaled(smoke=500, lecture=2000, full=5000)
N_TAU_CHAINS = 100


def gibbs_series(model, spins, steps, seed):
    """m and e per spin after each of `steps` block Gibbs steps of chains started at `spins`: (time, chain)."""
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    v = torch.as_tensor(ising.spins_to_bits(spins), device=DEVICE)
    m_t, e_t = np.empty((steps, len(v))), np.empty((steps, len(v)))
    for t in range(steps):
        v = model.gibbs(v, 1, gen)
        s = ising.bits_to_spins(v.cpu().numpy().reshape(spins.shape))
        m_t[t], e_t[t] = ising.magnetization(s) / s[0].size, ising.energy(s) / s[0].size
    return {"m": m_t, "e": e_t}


tau_gibbs, flip_rate = {}, {}
for T in TEMPS:
    series = cache.cached_arrays(
        f"rbm_mixing_L{L_BIG}_T{T}",
        compute=lambda m=rbm_models[T], start=gen_samples["RBM"][T][:N_TAU_CHAINS]: gibbs_series(
            m, start, TAU_GIBBS_STEPS, SEED + 11
        ),
    )
    m_t = series["m"]  # (time, chain)
    tau_gibbs[T] = {
        "|m|": ising_mc.integrated_autocorrelation_time(np.abs(m_t)),
        "e": ising_mc.integrated_autocorrelation_time(series["e"]),
    }
    flips = [np.count_nonzero(np.diff(np.sign(c[c != 0]))) for c in m_t.T]
    flip_rate[T] = 1000 * np.mean(flips) / TAU_GIBBS_STEPS
    print(
        f"T={T:4.2f}: τ_int(|m|) = {tau_gibbs[T]['|m|']:6.2f}, τ_int(e) = {tau_gibbs[T]['e']:6.2f} Gibbs steps; "
        f"sign changes of m per 1000 steps {flip_rate[T]:7.2f} "
        f"(chains that never changed sign: {np.mean(np.array(flips) == 0):.0%})"
    )


def monte_carlo_series(T, seed):
    """|m| and e per spin after every sweep of Metropolis and Wolff on the L_BIG lattice: (time, chain)."""
    out = {}
    for algorithm in ["metropolis", "wolff"]:
        spins = ising_mc.sample(
            L_BIG,
            T,
            N_CHAINS_TAU * TAU_GIBBS_STEPS,
            algorithm=algorithm,
            n_chains=N_CHAINS_TAU,
            n_burn=TAU_BURN,
            n_between=1,
            seed=seed,
        )
        out[f"{algorithm}_m"] = (np.abs(ising.magnetization(spins)) / L_BIG**2).reshape(TAU_GIBBS_STEPS, -1)
        out[f"{algorithm}_e"] = (ising.energy(spins) / L_BIG**2).reshape(TAU_GIBBS_STEPS, -1)
    return out


mc_near = cache.cached_arrays(f"mc_mixing_L{L_BIG}", compute=lambda: monte_carlo_series(T_near, SEED + 12))
for algorithm in ["metropolis", "wolff"]:
    print(
        f"Monte Carlo at T={T_near:4.2f}, {algorithm:>10}: "
        f"τ_int(|m|) = {ising_mc.integrated_autocorrelation_time(mc_near[f'{algorithm}_m']):6.2f}, "
        f"τ_int(e) = {ising_mc.integrated_autocorrelation_time(mc_near[f'{algorithm}_e']):6.2f} sweeps"
    )

# %%
elapsed = time.time() - T_START
print(f"notebook wall time: {elapsed:.0f} s at scale {SCALE}")
results.record("wall_time", round(elapsed, 1), unit="s")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# - Monte Carlo gives us ground truth for the Ising model at any size. At $T_c$, Wolff's
#   cluster updates decorrelate the magnetization faster per sweep than local Metropolis moves,
#   and their advantage grows with the lattice size: they nearly remove critical slowing down.
# - An RBM trained only on samples learns $p_T(s)\propto e^{-E(s)/T}$: on the 4×4 lattice its
#   *exact* KL divergence from the Boltzmann distribution falls during training to a small
#   fraction of the independent-spin model's, the larger hidden layer does better, and its exact
#   energy is within the asserted bound at every temperature. On so small a lattice the critical
#   point need not be where learning is hardest: the correlation length is capped by $L$.
# - Neither CD nor persistent chains constrain how the model splits its mass between the two
#   ordered states; the symmetrised model shows what that costs.
# - On the larger lattice, the RBM's own samples reproduce energy and magnetization across the
#   transition within the asserted bounds, loose ones for the energy (read how its error changes
#   with $T$, and its sign, in the printed rows); its samples below $T_c$ are ordered. The
#   fluctuations ($c_V$, $\chi'$) are where every model struggles. Block Gibbs sampling rarely
#   changes the sign of $m$ below $T_c$: a property of the sampler, not of the model.
# - A VAE with a factorised decoder misses correlations that its latent space cannot carry, and
#   maximum likelihood makes it cover the data's fluctuations with independent flips. A continuous
#   decoder maps its connected Gaussian prior onto the two separate ordered states, so the prior
#   mass between them decodes to disordered configurations: a deficit of magnetization and excess
#   fluctuations where the truth is ordered. The exact KL and the observables need not rank two
#   models by the same factor (section 5): for physics, judge a model on the observables you need;
#   its structure matters more than its flexibility.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# The first four are **checked**: fill in the cell marked `...`, run it, then run the `check`
# line below it, which measures your answer against an independent reference (the four states of
# a bond enumerated, the exact Boltzmann distribution of every state of a small lattice, the free
# energy of every visible state, the lattice's energy before and after a cluster flip) and says
# what disagrees. The others are open: write your answer, then compare it with the model answer.
# In the book each solution is folded: try first. Below, $\operatorname{sp}(x) = \log(1+e^x)$ is
# the softplus of section 3.

# %%
from lib.exercises import check

# %% [raw]
# # BEGIN QUESTION
# name: ex07_1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: Hidden units as couplings
#
# Take the RBM's convention of section 3: visible units $v_i\in\{0,1\}$, and a hidden unit
# $h\in\{0,1\}$ with bias $c$ and the same weight $w$ on $v_i$ and on $v_j$, none on the other
# visible units. Summing $h$ out adds $\operatorname{sp}(c + wv_i + wv_j)$ to $-F_\theta$. In spins,
# $v = (1+s)/2$, this is $J s_is_j + h_0(s_i+s_j) + K$ for every $(s_i, s_j)$: write
# `effective_coupling(c, w)`, returning the pair $(J, h_0)$. Then show that $J\ge0$ for every $c$
# and $w$, and that $J = \tfrac12\ln\cosh(w/2)$, $h_0 = w/4$ when $c = -w$. Which weights on
# $v_i$ and $v_j$ would give an antiferromagnetic coupling, $J<0$?


# %% tags=["hide-input"]
def effective_coupling(c: float, w: float) -> tuple[float, float]:
    """(J, h0) with sp(c + w v_i + w v_j) = J s_i s_j + h0 (s_i + s_j) + K, where v = (1 + s)/2."""
    # BEGIN SOLUTION
    f00, f01, f11 = np.logaddexp(0, c), np.logaddexp(0, c + w), np.logaddexp(0, c + 2 * w)
    # (s_i, s_j) = (−,−): J − 2h0 + K = f00;  (+,−) and (−,+): −J + K = f01;  (+,+): J + 2h0 + K = f11.
    # J ≥ 0: sp is convex, so sp(c + w) ≤ [sp(c) + sp(c + 2w)]/2. At c = −w: sp(w) + sp(−w) = ln(2 + 2cosh w)
    # = ln 4 + 2 ln cosh(w/2), so J = ½ ln cosh(w/2), and h0 = [sp(w) − sp(−w)]/4 = w/4. Weights w and −w give
    # J = [2 sp(c) − sp(c + w) − sp(c − w)]/4 ≤ 0, by the same convexity.
    return (f00 + f11 - 2 * f01) / 4, (f11 - f00) / 4
    # END SOLUTION


# %%
check("07.1", effective_coupling)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex07_2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: The Ising model as an RBM, exactly
#
# By exercise 1, a hidden unit with weight $w$ on $v_i$ and $v_j$ and bias $c=-w$ adds
# $Js_is_j + h_0(s_i+s_j)$ + const to $-F_\theta$, with $J=\tfrac12\ln\cosh(w/2)$ and $h_0=w/4$.
# Build an RBM whose marginal $p_\theta(v)$ is exactly the Boltzmann distribution $p_T(s)$ of the
# periodic $L\times L$ lattice of section 1: one hidden unit for each of the $2N$ terms
# $s_is_{\text{right}(i)}$ and $s_is_{\text{down}(i)}$ of $E(s)$, with weight $w$ on its two sites
# and bias $-w$, where $w>0$ makes $J = 1/T$; and visible biases $b$ that cancel the fields of the
# hidden units ($b_iv_i = \tfrac12 b_is_i$ + const). Write `ising_rbm(L, T)`, returning NumPy arrays
# `(W, b, c)` of shapes $(N, 2N)$, $(N,)$ and $(2N,)$, with site $i$ = `row * L + col` as in
# `ising.spins_to_bits`. How many hidden units does the $4\times4$ lattice of section 4 need
# this way, and what keeps a *trained* RBM with that many from a KL of 0?


# %% tags=["hide-input"]
def ising_rbm(L: int, T: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W, b, c) of an RBM whose p(v) is the Boltzmann distribution of the periodic L×L Ising model at T."""
    # BEGIN SOLUTION
    n = L * L
    w = 2 * np.arccosh(np.exp(2 / T))  # ½ ln cosh(w/2) = 1/T
    W = np.zeros((n, 2 * n))
    for r in range(L):
        for col in range(L):
            i = r * L + col
            for k, j in enumerate([r * L + (col + 1) % L, ((r + 1) % L) * L + col]):  # right, down
                W[i, 2 * i + k] += w
                W[j, 2 * i + k] += w
    # Each spin is in the 4 units of its 4 bonds, each giving it the field w/4: b/2 = −w cancels them.
    # The 4×4 lattice needs 2N = 32 units. Section 4's RBMs are trained, not built: a finite training set,
    # CD-k's biased gradient and a finite number of epochs keep their KL above 0 whatever n_h.
    return W, np.full(n, -2 * w), np.full(2 * n, -w)
    # END SOLUTION


# %%
check("07.2", ising_rbm)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex07_3

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: A flip-symmetric RBM
#
# The Boltzmann distribution is symmetric under flipping every spin, $s\to-s$, that is
# $v\to1-v$; an RBM in 0/1 units is not, even with $b=0$ (section 3). For given weights $W$
# ($n_v\times n_h$), find the biases $b$ and $c$ for which $F_\theta(1-v) = F_\theta(v)$ for every
# $v$, and write `symmetric_biases(W)`, returning the NumPy arrays `(b, c)` of shapes $(n_v,)$ and
# $(n_h,)$. Hint: write $c_j + (v^\top W)_j$ in spins, and use
# $\operatorname{sp}(y) - \operatorname{sp}(-y) = y$. Is the RBM of exercise 2 of this form?


# %% tags=["hide-input"]
def symmetric_biases(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Biases (b, c) that make the RBM with weights W, (n_v, n_h), symmetric under v → 1 − v."""
    # BEGIN SOLUTION
    # c_j + (vᵀW)_j = a_j + y_j with a_j = c_j + ½ Σ_i W_ij and y_j = ½ (sᵀW)_j, odd in s; b·v = ½ b·1 + ½ b·s.
    # With a = 0: −F(s) + F(−s) = b·s + Σ_j [sp(y_j) − sp(−y_j)] = s·(b + ½ W1), zero for every s iff b = −½ W1.
    # Exercise 2's RBM: W1 = 4w per site and Wᵀ1 = 2w per unit, so b = −2w and c = −w: it is of this form.
    return -W.sum(axis=1) / 2, -W.sum(axis=0) / 2
    # END SOLUTION


# %%
check("07.3", symmetric_biases)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex07_4

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: Why Wolff's clusters are always accepted
#
# Grow a cluster $C$ in the configuration $s$ as Wolff's algorithm does (section 2), but with any
# bond probability $p\in(0,1)$: from a seed spin drawn uniformly, add each aligned neighbour of a
# cluster spin with probability $p$, each bond tested once; the proposal $s'$ is $s$ with every spin
# of $C$ flipped, and $q(s'\mid s)$ is its probability. Let $n_a$ and $n_b$ be the numbers of bonds
# between $C$ and the rest of the lattice that are aligned, respectively anti-aligned, in $s$. A
# Metropolis–Hastings test accepts $s'$ with probability $\min(1,\alpha)$,
# $\alpha = p_T(s')\,q(s\mid s')\,/\,\big[p_T(s)\,q(s'\mid s)\big]$. Write
# `wolff_log_acceptance(p, T, n_aligned, n_anti)`, returning $\ln\alpha$ for $n_a$ = `n_aligned`
# and $n_b$ = `n_anti`. Hint: which bond tests differ between growing exactly $C$ in $s$ and in
# $s'$? For which $p$ is $\alpha=1$ for every cluster?


# %% tags=["hide-input"]
def wolff_log_acceptance(p: float, T: float, n_aligned: int, n_anti: int) -> float:
    """ln α of flipping a cluster grown with bond probability p, with n_aligned aligned and n_anti
    anti-aligned bonds between the cluster and the rest."""
    # BEGIN SOLUTION
    # ΔE = 2 (n_aligned − n_anti): each aligned boundary bond goes from −1 to +1, each anti-aligned one from +1
    # to −1. Growth stops at exactly C in s when its n_aligned aligned boundary bonds are all rejected,
    # (1 − p)^n_aligned; in s' the aligned boundary bonds are the n_anti others, (1 − p)^n_anti; the bonds
    # inside C are aligned in both, and so is the seed's chance to fall in C. So
    # ln α = (n_anti − n_aligned) (2/T + ln(1 − p)), zero for every cluster iff p = 1 − e^(−2/T).
    return (n_anti - n_aligned) * (2 / T + np.log(1 - p))
    # END SOLUTION


# %%
check("07.4", wolff_log_acceptance)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex07_5
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5: PCD and two modes
#
# Replace CD-$k$ by persistent chains (`method="pcd"` in `rbm_torch.train`) in section 4, and plot
# the exact KL per epoch at $T_c$ and at $T=1.8$. Does PCD converge below $T_c$, and how does the
# share of $M>0$ behave? Adding globally flipped copies of the persistent chains to the negative
# samples would restore the $\pm$ symmetry: when is that legitimate?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# PCD estimates the model term from persistent chains that follow the model as its parameters change
# {cite:p}`tieleman2008` (in `rbm_torch.train` they start from uniform noise); the estimate is right
# only as far as the chains are in equilibrium with the current model. At $T_c$ on the $4\times4$
# lattice ten Gibbs steps can carry a chain from one ordered state to the other (section 3), so the
# chains follow the model's split between $M>0$ and $M<0$, the update sees it, and the exact KL
# should fall much as with CD. At $T=1.8$ a chain that has settled in an ordered state rarely leaves
# it: the chains' split is the one they fell into early in training, not the model's. The visible
# biases then move by $\propto\bar v^{\,\text{data}}-\bar v^{\,\text{chains}}$, lowering the
# probability of the side that holds more chains and raising the other's, whatever the model's
# split, for as long as the chains stay where they are: the split is corrected only through chains
# that cross, late and possibly with overshoot. Expect the share of $M>0$ to drift or swing from
# epoch to epoch rather than settle at $\tfrac12$, and the raw KL at $T=1.8$ to converge less
# smoothly than at $T_c$; the symmetrised KL, which ignores the split, is the fairer comparison with
# CD. The learning rate's decay to 0 freezes whatever split the last epochs leave.
#
# Flipped copies of the *training data* are always legitimate: $p_T$ is exactly symmetric.
# Flipped copies of model samples are samples of $p_\theta(-s)$, not of $p_\theta(s)$: with them
# the model term becomes an average over the symmetrised model $\bar p_\theta$, and the update is
# the log-likelihood gradient only if $p_\theta$ is itself symmetric, $F_\theta(1-v)=F_\theta(v)$,
# as with exercise 3's biases kept tied to $W$ during training. For an unconstrained RBM the update
# is no longer the likelihood gradient, and since $\bar p_\theta$ is the same whatever the split of
# $p_\theta$, it no longer sees the split at all: the negative statistics are symmetric, but the
# model's own split is left uncorrected, which is why one then evaluates the symmetrised model, as
# section 4 does.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex07_6
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6: Temperature as a parameter
#
# Train one RBM on all temperatures with $T$ as an extra input (a conditional RBM: make the hidden
# bias depend on $T$). Can it interpolate to a temperature it was not trained on? Exercise 1's
# $J(c, w)$ says what a hidden bias can do.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# At fixed $w>0$, exercise 1's
# $J = \tfrac14[\operatorname{sp}(c)+\operatorname{sp}(c+2w)-2\operatorname{sp}(c+w)]$ is an even
# function of $c+w$ (use $\operatorname{sp}(-y) = \operatorname{sp}(y) - y$), largest,
# $\tfrac12\ln\cosh(w/2)$, at $c=-w$, and it falls to 0 as $|c+w|\to\infty$: shifting a hidden bias
# tunes the coupling between 0 and that maximum without touching $W$. The field
# $h_0=\tfrac14[\operatorname{sp}(c+2w)-\operatorname{sp}(c)]$ moves with $c$ too, but a second unit
# with weights $-w$ and bias $c+2w$ gives the same $J$ and the opposite $h_0$. So pairs of such
# units, with hidden biases $-w+x(T)$ and $w+x(T)$, give each bond the coupling $2J$ and no field: a
# conditional RBM whose hidden biases all shift by the same $x(T)$ represents the Ising model
# exactly at every $T$ with $1/T \le \ln\cosh(w/2)$. But $x(T)$ must solve $2J = 1/T$, a non-linear
# function of $T$: hidden biases linear in $T$ or in $1/T$ are exact at isolated temperatures only,
# and a small network for $c(T)$ lifts that. Whether training finds such a solution is what the
# experiment shows. Expect interpolation between neighbouring training temperatures to work best
# where the observables change slowly with $T$, and worst where they change fastest, near the
# specific-heat peak; outside the trained range nothing constrains $c(T)$, so do not expect
# extrapolation.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex07_7
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7: A larger latent space
#
# Repeat section 6 with latent spaces of 8 and 32 dimensions: build the VAEs there as
# `VAE(L_BIG**2, 8, VAE_HIDDEN)` (leave `VAE_LATENT` at 2: the quadrature of section 5 needs a
# 2-dimensional latent space). Does the energy improve? What would an autoregressive decoder (spins
# sampled one by one) change?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# More latent dimensions let the decoder carry more of a configuration's large-scale structure
# (domains, the sign and size of $m$), so expect the energy and $m$ to improve, most where the
# configurations are ordered or strongly correlated. What they cannot change is that the spins are
# independent given $z$: every correlation must pass through $z$, and the short-range fluctuations
# that the latent space does not carry still come out as independent flips, each breaking all four
# bonds of its spin (section 5). Some dimensions may also stay unused, their KL term near 0, so
# that the latent space in use is smaller than its nominal size. The bridge of section 7 survives
# in any dimension: the prior on $\mathbb R^d$ is connected and $\bar m(z)$ continuous, so if
# $\bar m$ is near $+m$ on one set of positive prior mass and near $-m$ on another, it vanishes on
# a hypersurface between them and is small on a neighbourhood of it, which has positive prior
# mass; training can make that mass small, not zero.
#
# An autoregressive decoder, $p_\theta(v\mid z)=\prod_i p_\theta(v_i\mid v_{<i}, z)$, removes the
# independence given $z$: it can represent any distribution over $v$, so it can draw correlated
# domains, and split one latent point between $+m$ and $-m$ (the first spins drawn decide the
# sign); the bridge then need not decode to disordered configurations. The price is $N$ sequential
# steps per sample, and a decoder this powerful may ignore $z$ altogether (posterior collapse,
# {cite:t}`bowman2016`), which costs little here: an autoregressive model without $z$ is itself a
# generative model with an exact, normalised likelihood.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex07_8
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 8: Critical exponents from a model
#
# At $T_c$ the susceptibility grows as $\chi'\sim L^{\gamma/\nu} = L^{7/4}$ and the magnetization
# falls as $m\sim L^{-\beta/\nu} = L^{-1/8}$. Train RBMs at $T_c$ for $L = 4, 6, 8, 12$, measure
# both from their samples and from Monte Carlo, and fit the exponents. Which of the two can the
# RBMs' samples decide? From $L=4$ to $L=12$ the whole change of $m$ is a factor
# $3^{-1/8}\approx0.87$, of the size of the error on $m$ that the checks of section 6 tolerate
# (10 to 20 %, by scale), while $\chi'$ changes by a factor $3^{7/4}\approx6.8$.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# At $T_c$ finite-size scaling gives $\langle|m|\rangle\propto L^{-\beta/\nu}$ and
# $\langle m^2\rangle\propto L^{-2\beta/\nu}$, $\beta/\nu=1/8$, so
# $\chi' = N(\langle m^2\rangle-\langle|m|\rangle^2)/T\propto L^{2-2\beta/\nu}=L^{\gamma/\nu}$,
# $\gamma/\nu=7/4$ (the ratio $\langle|m|\rangle^2/\langle m^2\rangle$ tends to a constant below 1
# at $T_c$, so the difference scales as either term). Fit straight lines to $\ln m$ and $\ln\chi'$
# against $\ln L$; on lattices this small expect corrections to scaling to bend even Monte Carlo's
# slopes a little away from the exponents, whatever its error bars. For $m$ the whole signal is the
# factor 0.87: a relative error of the model's $m$ that differs by 5 % between $L=4$ and $L=12$
# moves the slope of a fit through those two sizes by about $0.05/\ln3\approx0.046$, a sizeable
# fraction of $1/8$, so the RBMs' samples cannot decide $\beta/\nu$ unless their errors on $m$ are
# far below the checks' tolerance and nearly the same at every $L$. For $\chi'$ the signal is a
# factor 6.8: errors that differ by 20 % between the two sizes move the slope by about
# $0.2/\ln3\approx0.18$, a tenth of $7/4$, so its exponent is within reach. The risk there is
# systematic: the fluctuations are where the RBMs struggle (section 7), and at a fixed training
# budget the error may grow with $L$ (the RBM on $L=12$ has $144^2$ weights), which tilts the fit.
# Compare both fits with Monte Carlo's on the same sizes, not with the exponents alone.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex07_9
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9: Mixing
#
# Measure $\tau_{\text{int}}$ of Metropolis and Wolff at every temperature of section 6 (the
# function `monte_carlo_series`) and compare with the RBM's Gibbs chains. Add a global spin flip
# ($v\to1-v$, accepted with the Metropolis probability of the RBM's free energy) to the Gibbs
# chain: how do the sign-change rates change?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Far above $T_c$ the correlation length is short, and every algorithm decorrelates $|m|$ and $e$
# within a few sweeps or steps; near $T_c$ Metropolis slows down and Wolff much less (section 2).
# Well below $T_c$, $|m|$ and $e$ change only through small local excitations, which local moves
# relax quickly, while Wolff's clusters cover a fraction of about $m^2$ of the lattice and mostly
# flip the global sign, which changes neither. So expect Wolff's advantage to be largest near
# $T_c$; compare the RBM's Gibbs steps with both, step for sweep.
#
# The global flip is its own inverse, so the proposal is symmetric, and accepting it with
# probability $\min\big(1, e^{F_\theta(v)-F_\theta(1-v)}\big)=\min\big(1, p_\theta(1-v)/p_\theta(v)\big)$
# satisfies detailed balance with respect to $p_\theta$: the chain still samples the RBM. The flip
# changes neither $|m|$ nor $e$, both even under $s\to-s$, so their $\tau_{\text{int}}$ stays as it
# was; what changes is the sign of $m$, which every accepted flip reverses (when $M\neq0$).
# Proposed after every Gibbs step, the flip makes $m$ change sign at about the mean acceptance rate,
# up to once per step, so below $T_c$ the count of sign changes jumps and stops measuring mixing.
# The acceptance measures how symmetric the trained RBM is: near 1 where
# $F_\theta(1-v)\approx F_\theta(v)$ on the states the chain visits, lower out of the side that the
# RBM favours when its split is uneven (the share of $M>0$ of section 4), and exactly 1 for a
# flip-symmetric RBM (exercise 3).
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
