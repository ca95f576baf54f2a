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
# # 11 — Neural samplers: variational free energies, importance sampling and Markov chains, checked against Kaufman's exact solution
#
# Lectures 01–10 learned a distribution from data. Statistical physics often has the opposite
# problem: the Boltzmann weight $e^{-\beta E(s)}$ is known exactly, no samples exist, and Markov
# chains slow down near critical points (lecture 07). Since 2019, generative models whose likelihood
# is exact (lecture 10) have been trained *from the energy alone*, as variational approximations and
# as independent samplers: variational autoregressive networks for spin models
# {cite:p}`wu2019`, flows for lattice field theory {cite:p}`albergo2019`, Boltzmann generators for
# molecules {cite:p}`noe2019`.
#
# The 2D Ising model on a finite periodic lattice is the ideal test: {cite:t}`kaufman1949` computed
# its partition function in closed form for every $L$, so a variational free energy can be measured
# against the exact one on every lattice size, to any precision. Every number in this lecture is set
# beside an exact one: Kaufman's, exact enumeration at $L=4$, the Gaussian integral of a free field,
# or a Monte Carlo reference within its error bars.
#
# **What you will learn**
# - the variational free energy $F_q\ge F$ (Gibbs–Bogoliubov), derived from $\mathrm{KL}(q\,\|\,p)\ge0$,
#   and how to minimise it without data: the score-function (REINFORCE) gradient with a baseline;
# - Kaufman's exact $\ln Z$ of the $L\times L$ torus and Onsager's infinite-lattice limit, as references;
# - a variational autoregressive network (VAN) trained at $T_c$, with $\beta$ annealed, measured against
#   the exact free energy, within a bound that a learning check asserts;
# - neural importance sampling: an estimate of $F$ that converges to the exact value, its bias and its
#   direction, the effective sample size;
# - neural MCMC: independent Metropolis–Hastings with the network as the proposal, exact whatever the
#   network, against lecture 07's Metropolis and Wolff, and how its acceptance falls with $L$;
# - symmetry and mode collapse: the $T\ln2$ error of a $q$ that picks one ordered state, and its fix;
# - a normalizing flow for the $\varphi^4$ lattice field theory, checked against the exact free field
#   and against Hybrid Monte Carlo at an interacting point.
#
# **Prerequisites:** lecture 07 (the Ising model, Metropolis and Wolff, autocorrelation times),
# lecture 10 (MADE and its incremental sampler, affine couplings and RealNVP) and lecture 04 (the KL
# divergence; the score-function gradient of its exercise 3).
#
# **Data.** None: every model below is trained from the energy.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Set-up

# %%
import copy
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.special import ndtr
from tqdm.auto import tqdm

from lib import cache, checks, config, ising, ising_mc, neural_samplers, phi4, results
from lib.autoregressive import MADE

torch.set_num_threads(1)  # small networks: one thread per notebook
SCALE = config.setup("11_neural_samplers", seed=0)
SEED = config.seed()  # 0, or COURSE_SEED when set: every seed below derives from it
DEVICE = str(config.torch_device(float64=True))  # the estimates are made in float64
T_START = time.time()
TC = ising.ONSAGER_TC

# Sections 3-5: variational autoregressive networks (VANs) at T_c, one recipe for every lattice size
L_MAIN = config.scaled(smoke=4, lecture=8, full=16)  # the lattice of the headline numbers
L_SIZES = config.scaled(smoke=[3, 4], lecture=[4, 6, 8], full=[4, 8, 16, 32])  # VANs at T_c
STEPS = config.scaled(smoke=600, lecture=3000, full=3000)  # Adam steps per VAN
BATCH = config.scaled(smoke=500, lecture=1000, full=1000)  # samples of q per step
LR = 4e-3  # Adam's learning rate for the first half of training, then a cosine decay to 0
ANNEAL = 0.3  # β rises linearly from 0 to 1/T over this fraction of the steps
N_EVAL = config.scaled(smoke=20_000, lecture=100_000, full=100_000)  # fresh samples of each trained VAN
# Section 5: lecture 07's Monte Carlo, as the reference and the competition
MC_CHAINS = 16  # chains of Metropolis and of Wolff
MC_SWEEPS = config.scaled(smoke=1_000, lecture=4_000, full=10_000)  # sweeps recorded per chain
# Section 6: across T, and without annealing
L_SCAN = config.scaled(smoke=4, lecture=6, full=8)  # the lattice of the temperature scan
TEMPS_SCAN = config.scaled(  # one annealed VAN at each
    smoke=[2.0, TC, 3.0],
    lecture=[1.6, 2.0, TC, 2.6, 3.2],
    full=[1.5, 1.8, 2.0, 2.1, 2.2, TC, 2.4, 2.6, 3.0, 3.5],
)
T_COLLAPSE = 2.0  # below T_c: one more VAN, trained at fixed β (no annealing)
STEPS_SCAN = config.scaled(smoke=600, lecture=1500, full=3000)  # Adam steps per VAN of the scan
BATCH_SCAN = config.scaled(smoke=500, lecture=500, full=1000)  # samples of q per step
N_EVAL_SCAN = config.scaled(smoke=10_000, lecture=20_000, full=100_000)  # fresh samples of each
# Section 7: the φ⁴ lattice field theory, a RealNVP flow
L_PHI = config.scaled(smoke=4, lecture=8, full=16)  # the lattice of the field (even: checkerboards)
M2_FREE = 1.0  # the free field (λ = 0)
M2, LAM = -4.0, 8.0  # the interacting point
FLOW_LAYERS, FLOW_HIDDEN = 8, 16  # affine couplings; width of each conditioner's hidden layers
FLOW_STEPS = config.scaled(smoke=1000, lecture=2000, full=5000)  # Adam steps per flow
FLOW_BATCH = 128  # samples of q per step
FLOW_LR = 8e-3  # then a cosine decay to 0 over the second half, as for the VANs
N_FLOW = config.scaled(smoke=20_000, lecture=50_000, full=100_000)  # proposals of each trained flow
HMC_CHAINS = 64  # chains of the Hybrid Monte Carlo reference
N_HMC = config.scaled(smoke=12_800, lecture=64_000, full=256_000)  # HMC configurations, the reference

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The variational free energy, and how to minimise it without data
#
# The Ising model of lecture 07: spins $s_i=\pm1$ on an $L\times L$ torus, $N=L^2$,
# $E(s)=-\sum_{\langle ij\rangle}s_is_j$ (each of the $2N$ bonds once, $J=1$), and at temperature
# $T=1/\beta$ the Boltzmann distribution $p(s)=e^{-\beta E(s)}/Z$ with the free energy $F=-T\ln Z$.
#
# **Gibbs–Bogoliubov.** Take any normalised distribution $q$ over the $2^N$ configurations. Then
#
# $$0\;\le\;\mathrm{KL}(q\,\|\,p)=\sum_s q(s)\ln\frac{q(s)}{p(s)}
#   =\sum_s q(s)\big[\ln q(s)+\beta E(s)+\ln Z\big]=\beta F_q-\beta F,$$
#
# $$F_q\;\equiv\;\langle E\rangle_q+T\langle\ln q\rangle_q\;=\;\langle E\rangle_q-TS_q\;\ge\;F,$$
#
# with equality if and only if $q=p$ (the KL divergence vanishes only there). $F_q$ is the free
# energy that $q$ would have if it were a Boltzmann distribution: its energy minus $T$ times its
# entropy. Mean-field theory is this inequality with a product distribution $q$ (exercise 1); here
# $q$ is a neural network.
#
# Minimising $F_q$ is minimising the *reverse* KL divergence $\mathrm{KL}(q\,\|\,p)$. Lecture 07 minimised
# the forward one, $\mathrm{KL}(p\,\|\,q)$, by maximum likelihood on Monte Carlo samples of $p$. The
# reverse one needs no samples of $p$: only samples of $q$, their exact $\ln q(s)$, and $E(s)$. A model
# with an exact, normalised likelihood that it can sample (lecture 10) is exactly what that takes.
#
# **The gradient.** For a discrete $s$ the samples cannot be differentiated (no reparameterisation
# as in lecture 04), so differentiate the sum. With $R(s)=\beta E(s)+\ln q_\theta(s)$, a per-sample
# estimate of $\beta F_q$,
#
# $$\nabla_\theta\,\beta F_q=\sum_s\nabla_\theta q_\theta(s)\,R(s)+\sum_s q_\theta(s)\,\nabla_\theta\ln q_\theta(s)
#   =\mathbb E_{q}\big[R(s)\,\nabla_\theta\ln q_\theta(s)\big],$$
#
# because the second sum is $\sum_s\nabla_\theta q_\theta(s)=\nabla_\theta 1=0$, and
# $\nabla q=q\,\nabla\ln q$ in the first. This is the score-function or REINFORCE estimator
# {cite:p}`williams1992`. For the same reason any constant $b$ may be subtracted from $R$:
# $\mathbb E_q[b\,\nabla\ln q]=b\,\nabla\sum_sq=0$. A good $b$ (close to $\beta F_q$) reduces the
# variance. In a batch of $B$ samples we take the batch mean $\bar R$. It depends on sample $i$
# itself, but only weakly: $R_i-\bar R=\frac{B-1}{B}(R_i-b_i)$ with $b_i$ the mean of the *other*
# $B-1$ values, which is independent of sample $i$. So
# $\frac1B\sum_i(R_i-\bar R)\nabla\ln q(s_i)$ is exactly $\frac{B-1}{B}$ times an unbiased estimate of
# the gradient: a rescaled learning rate, not a bias. Near the optimum the estimator is also quiet:
# when $q=p$, $R(s)=\ln q(s)+\beta E(s)=-\ln Z$ for every $s$, and $R-\bar R=0$ (the *zero-variance
# property*).
#
# In code this is the loss $\frac1B\sum_i\big(R_i-\bar R\big)_{\text{no grad}}\ln q_\theta(s_i)$, whose
# autograd gradient is the estimator; section 3 writes it out.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The exact references
#
# **Kaufman's partition function.** For the $L\times L$ torus with $K=\beta J$,
# {cite:t}`kaufman1949` found
#
# $$Z=\tfrac12(2\sinh2K)^{N/2}\Big[\prod_{r=0}^{L-1}2\cosh\tfrac L2\gamma_{2r+1}+\prod_{r=0}^{L-1}2\sinh\tfrac L2\gamma_{2r+1}
#   +\prod_{r=0}^{L-1}2\cosh\tfrac L2\gamma_{2r}+\prod_{r=0}^{L-1}2\sinh\tfrac L2\gamma_{2r}\Big],$$
#
# $$\cosh\gamma_k=\cosh2K\coth2K-\cos\frac{\pi k}{L}\quad(k\ne0,\ \gamma_k>0),\qquad \gamma_0=2K+\ln\tanh K.$$
#
# The sign of $\gamma_0$ matters: it is positive below $T_c$, zero at $T_c$ and *negative* above it,
# where the last product, which contains the factor $2\sinh(L\gamma_0/2)<0$, is subtracted. An
# $\operatorname{arccosh}$ would return $|\gamma_0|$ and be wrong above $T_c$. `ising.kaufman_log_partition(L, T)`
# evaluates the formula in log space (nothing overflows at $L=128$), and
# `ising.kaufman_energy_per_spin(L, T)` its exact derivative $\langle E\rangle/N=-\frac1N\partial_\beta\ln Z$.
# `tests/test_ising.py` holds both against enumeration, a transfer matrix and 50-digit arithmetic; the next
# cells check them once more against the $2^{L^2}$ states of $L=2,3,4$, on both sides of $T_c$, and against
# Onsager's free energy of the infinite lattice {cite:p}`onsager1944` as $L$ grows.

# %% slideshow={"slide_type": "subslide"}
rows = []  # (L, T, ln Z Kaufman, ln Z enumerated, e Kaufman, e enumerated)
for L in (2, 3, 4):
    for T in (1.5, 2.0, TC, 2.5, 3.5):
        ex = ising.exact(L, T)
        kaufman = ising.kaufman_log_partition(L, T), ising.kaufman_energy_per_spin(L, T)
        rows.append((L, T, kaufman[0], ex["log_partition"], kaufman[1], ex["energy_per_spin"]))
print(" L     T      ln Z Kaufman       ln Z enumerated    |difference|   e Kaufman − e enumerated")
for L, T, lz, lz_ex, e, e_ex in rows:
    print(f"{L:2d}  {T:5.3f}  {lz:17.12f}  {lz_ex:17.12f}  {abs(lz - lz_ex):10.1e}    {e - e_ex:+.1e}")
worst_log_z = max(abs(r[2] - r[3]) for r in rows)
worst_energy = max(abs(r[4] - r[5]) for r in rows)
# the closed form and the enumeration agree to round-off (a check of lib, not of training)
assert worst_log_z < 1e-10 and worst_energy < 1e-10, (worst_log_z, worst_energy)

# the exact energy against a central difference of ln Z in β on the lattice of the headline numbers
h = 1e-5
for T in (2.0, TC, 3.0):
    fd = -(
        ising.kaufman_log_partition(L_MAIN, 1 / (1 / T + h))
        - ising.kaufman_log_partition(L_MAIN, 1 / (1 / T - h))
    )
    fd /= 2 * h * L_MAIN**2
    e = ising.kaufman_energy_per_spin(L_MAIN, T)
    print(f"L = {L_MAIN}, T = {T:.3f}: e = {e:.10f}, finite difference of ln Z {fd:.10f}")
    assert abs(e - fd) < 1e-7, (T, e, fd)

# %% [markdown]
# As $L$ grows, $f_L=-T\ln Z_L/N$ approaches Onsager's $f_\infty$. Above $T_c$ the difference falls
# exponentially in $L$. Below $T_c$ it does not vanish as fast: the finite torus has *two* ordered
# states, $+$ and $-$, and $Z_L$ counts both, so $\ln Z_L\approx N(-\beta f_\infty)+\ln2$ and
# $N(f_\infty-f_L)\to T\ln2$. The figure shows $N(f_\infty-f_L)/T$: it tends to $\ln2$ below $T_c$ and
# to 0 above; at $T_c$ itself it settles at a third value, between the two. This $T\ln2$, a single bit,
# comes back in section 6.

# %% slideshow={"slide_type": "subslide"}
L_GRID = [4, 6, 8, 12, 16, 24, 32, 48, 64]
T_GRID = [1.8, 2.0, TC, 2.6, 3.0]
fig, ax = plt.subplots(figsize=(6.5, 3.6))
for T in T_GRID:
    f_inf = ising.onsager_free_energy_per_spin(T)
    gap = [L * L * (f_inf + T * ising.kaufman_log_partition(L, T) / L**2) / T for L in L_GRID]
    ax.plot(L_GRID, gap, "o-", ms=3, label=f"T = {T:.3f}")
ax.axhline(math.log(2), color="grey", ls=":", label="ln 2")
ax.set_xscale("log", base=2)
ax.set_xlabel("L")
ax.set_ylabel(r"$N\,(f_\infty - f_L)\,/\,T$")
ax.set_title("Kaufman's finite torus against Onsager's infinite lattice")
ax.legend(fontsize=8)
fig.tight_layout()
for T in (1.8, 3.0):
    L = L_GRID[-1]
    gap = L * L * (ising.onsager_free_energy_per_spin(T) + T * ising.kaufman_log_partition(L, T) / L**2) / T
    print(f"T = {T}: N (f_∞ − f_L) / T at L = {L} is {gap:.10f} (ln 2 = {math.log(2):.10f})")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. A variational autoregressive network at $T_c$
#
# **The model.** By the chain rule, any distribution over the spins is
# $q(s)=\prod_{i=1}^{N}q(s_i\mid s_{<i})$ in any ordering (here row by row). A MADE (lecture 10,
# `lib.autoregressive.MADE`) computes all $N$ conditionals $q(s_i=+1\mid s_{<i})=\sigma(\mathrm{logit}_i)$
# ($\sigma$ the logistic function) in one masked forward pass, so $\ln q(s)$ is exact and normalised. {cite:t}`wu2019` called such a
# network, trained on $F_q$, a *variational autoregressive network*. Ours has one hidden layer of
# $H$ ReLU units and direct (masked) connections from the inputs to the logits, on the bits
# $x_i=(s_i+1)/2$. With one hidden layer, drawing a sample costs about one forward pass: lecture 10's
# incremental sampler adds a rank-one term to the hidden pre-activation for each spin drawn
# (`MADE.sample_incremental`).
#
# **Training.** Each step draws `BATCH` samples of $q$, computes $R=\beta E+\ln q$, and follows the
# score-function gradient of section 1 with Adam. One recipe serves every lattice size: $H=4N$ hidden units
# up to $L=8$ (256 at $L=8$) and $2N$ beyond, `STEPS` steps, the learning rate `LR` for the first half and a
# cosine decay to 0 over the second. **$\beta$ is annealed**: it rises linearly from almost 0 to $1/T$
# over the first `ANNEAL` fraction of the steps. At high temperature $p$ is nearly uniform and easy; as
# $\beta$ grows the model follows it, instead of facing the rugged target at once (section 6 shows
# what happens without annealing). The public code of {cite:t}`wu2019` anneals $\beta$ too (an option, used in
# its reproduction script), as $\beta(1-0.998^{\text{step}})$, and uses the same batch-mean baseline.


# %% slideshow={"slide_type": "subslide"}
def ising_energy(x, L):
    """E(s) of bits x (B, L²) with s = 2x − 1, as lib.ising.energy: periodic, J = 1, each bond once. (B,)"""
    s = (2 * x - 1).view(-1, L, L)
    return -(s * (s.roll(-1, 1) + s.roll(-1, 2))).sum((1, 2))


def hidden_units(L):
    """The hidden layer of the VAN on an L × L lattice: 4N units up to L = 8, 2N beyond."""
    return 4 * L * L if L <= 8 else 2 * L * L


def beta_at(step, steps, T, anneal=True):
    """β at `step`: a linear ramp from 1/(ANNEAL·steps·T) to 1/T over the first ANNEAL·steps steps."""
    return min(1.0, (step + 1) / (ANNEAL * steps)) / T if anneal else 1.0 / T


def lr_at(step, steps, lr):
    """`lr` for the first half of the steps, then a cosine decay to 0."""
    half = steps / 2
    return lr if step < half else lr * 0.5 * (1 + math.cos(math.pi * (step - half) / half))


def train_van(model, L, T, steps, batch, *, seed, anneal=True, desc="VAN"):
    """Minimise the variational free energy of `model` (a MADE on L² bits) at temperature T by the
    score-function gradient with the batch mean as baseline. Returns, per step, β and the batch mean of
    E + ln q / β, the estimate of F_q at that step's temperature."""
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    history = {"beta": [], "free_energy": []}
    for step in tqdm(config.training(range(steps)), desc=desc, leave=False):
        beta = beta_at(step, steps, T, anneal)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, LR)
        x = model.sample_incremental(batch, gen)  # (batch, N) bits: s ~ q, no gradient flows through them
        log_q = model.log_prob(x)  # (batch,) the exact ln q(s), differentiable in the parameters
        with torch.no_grad():
            r = beta * ising_energy(x, L) + log_q  # (batch,) R(s) = βE + ln q: its mean estimates βF_q
        loss = ((r - r.mean()) * log_q).mean()  # autograd of this is the REINFORCE estimate, baseline R̄
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["beta"].append(beta)
        history["free_energy"].append(r.mean().item() / beta)
    return history


# ising_energy agrees with lib.ising.energy (a check of the code above, not of training)
rng = np.random.default_rng(SEED)
spins = rng.choice(np.array([-1, 1], np.int8), size=(100, 5, 5))
x = torch.as_tensor(ising.spins_to_bits(spins), dtype=torch.float64)
assert np.array_equal(ising_energy(x, 5).numpy(), ising.energy(spins))

# %% [markdown]
# One VAN per lattice size in `L_SIZES`, each at $T_c$ (Onsager's, of the infinite lattice: on a finite
# torus it is simply a temperature near the specific-heat peak, where the correlation length is of
# the order of $L$). Trained models are cached (`cache.cached_torch`, explained in lecture 00): a rerun
# loads them.

# %% slideshow={"slide_type": "subslide"}
van_models, van_histories = {}, {}
for L in L_SIZES:
    van_models[L], van_histories[L] = cache.cached_torch(
        f"van_L{L}_Tc",
        build=lambda L=L: MADE(L * L, [hidden_units(L)], direct=True).to(DEVICE),
        train=lambda m, L=L: train_van(m, L, TC, STEPS, BATCH, seed=SEED + L, desc=f"VAN L={L}"),
    )

F_EXACT = {L: -TC * ising.kaufman_log_partition(L, TC) for L in L_SIZES}  # Kaufman's F at T_c
fig, ax = plt.subplots(figsize=(7, 3.4))
for L in L_SIZES:
    hist = van_histories[L]
    f_exact_t = np.array([-ising.kaufman_log_partition(L, 1 / b) / b for b in hist["beta"]])
    rel = (np.array(hist["free_energy"]) - f_exact_t) / np.abs(f_exact_t)
    ax.plot(np.arange(1, len(rel) + 1), rel, lw=0.7, label=f"L = {L}")
ax.axvline(ANNEAL * STEPS, color="grey", ls=":", lw=1, label="end of the β ramp")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel(r"$(F_q - F)/|F|$ at the step's β")
ax.set_title("VAN training: the batch estimate of F_q against Kaufman's F at the current temperature")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# **Sampling made cheap.** The naive sampler runs the whole network once per spin; the incremental
# one updates the hidden pre-activation by one column per spin. Both turn the same uniforms into the
# same samples (lecture 10); the cell times them on the trained network of `L_MAIN`.

# %%
timing_model = copy.deepcopy(van_models[L_MAIN]).double()
u = torch.rand(1000, L_MAIN**2, generator=torch.Generator().manual_seed(SEED), dtype=torch.float64).to(DEVICE)
t0 = time.perf_counter()
x_naive = timing_model.sample(1000, uniforms=u)
t_naive = time.perf_counter() - t0
t0 = time.perf_counter()
x_incremental = timing_model.sample_incremental(1000, uniforms=u)
t_incremental = time.perf_counter() - t0
n_differ = int((x_naive != x_incremental).sum())
print(
    f"1000 samples at L = {L_MAIN} (H = {hidden_units(L_MAIN)}): naive {t_naive:.3f} s, incremental "
    f"{t_incremental:.3f} s ({t_naive / t_incremental:.0f}× faster); bits that differ: {n_differ} of {x_naive.numel()}"
)
assert n_differ <= 1e-4 * x_naive.numel()  # the same samples, up to round-off exactly at a threshold

# %% [markdown]
# **Measuring $F_q$.** `N_EVAL` fresh samples of each trained network give $F_q$ as the mean of
# $E+T\ln q$, with its standard error (`neural_samplers.variational_free_energy`), set beside Kaufman's
# $F$. The variational inequality says $F_q\ge F$. A measured $F_q$ more than about three standard
# errors *below* $F$ would not be a very good model: it would be a bug. Either the samples do not come
# from the $q$ whose $\ln q$ we evaluate (a sampler and a density that disagree), or $q$ is not normalised,
# or the energy or the reference is computed with another convention (bonds counted twice, the wrong
# sign of $\gamma_0$), or, with probability about $10^{-3}$, a fluctuation. On the $4\times4$ lattice
# there is no sampling at all: $\ln q$ of all 65,536 states gives $F_q$ and $\mathrm{KL}(q\,\|\,p)$
# exactly.


# %% slideshow={"slide_type": "subslide"}
@torch.no_grad()
def draw(model, L, n, seed, chunk=10_000):
    """n fresh samples of a VAN, in float64: spins (n, L, L) int8, energies (n,), ln q (n,), and the
    seconds the drawing took (sampling and ln q)."""
    m = copy.deepcopy(model).double()
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    spins, energies, log_q = [], [], []
    t0 = time.perf_counter()
    for start in range(0, n, chunk):
        x = m.sample_incremental(min(chunk, n - start), gen)
        log_q.append(m.log_prob(x).cpu().numpy())
        energies.append(ising_energy(x, L).cpu().numpy())
        spins.append((2 * x - 1).to(torch.int8).view(-1, L, L).cpu().numpy())
    seconds = time.perf_counter() - t0
    return np.concatenate(spins), np.concatenate(energies), np.concatenate(log_q), seconds


van = {}
for L in L_SIZES:
    s, e, log_q, seconds = draw(van_models[L], L, N_EVAL, seed=SEED + 1000 + L)
    f_q, f_q_err = neural_samplers.variational_free_energy(e, log_q, TC)
    van[L] = {"spins": s, "energy": e, "log_q": log_q, "seconds": seconds, "F_q": f_q, "F_q_err": f_q_err}
print(f"T = T_c = {TC:.6f}, {N_EVAL} samples per lattice")
print(" L     H    F exact (Kaufman)    F_q ± error               (F_q − F)/|F|        (F_q − F)/σ")
for L in L_SIZES:
    d, F = van[L], F_EXACT[L]
    print(
        f"{L:2d}  {hidden_units(L):4d}  {F:17.8f}  {d['F_q']:17.8f} ± {d['F_q_err']:.2e}  "
        f"{(d['F_q'] - F) / abs(F):+.2e} ± {d['F_q_err'] / abs(F):.1e}  {(d['F_q'] - F) / d['F_q_err']:+8.1f}"
    )
    # the variational inequality, within the statistical error
    assert d["F_q"] >= F - 3 * d["F_q_err"], (L, d["F_q"], F, d["F_q_err"])

# The 4 × 4 lattice exactly: ln q and E of every state
STATES_4 = ising.all_states(4)  # (65536, 4, 4)
X_4 = torch.as_tensor(ising.spins_to_bits(STATES_4), dtype=torch.float64, device=DEVICE)
with torch.no_grad():
    log_q_4 = copy.deepcopy(van_models[4]).double().log_prob(X_4).cpu().numpy()
exact_4 = ising.exact(4, TC)
E_4 = exact_4["energies"].astype(np.float64)
q_4 = np.exp(log_q_4)
f_q_4 = float(q_4 @ (E_4 + TC * log_q_4))
kl_4 = float(q_4 @ (log_q_4 - np.log(exact_4["probabilities"])))
print(
    f"L = 4, exactly: Σq = {q_4.sum():.12f}, F_q = {f_q_4:.10f}, F = {F_EXACT[4]:.10f} (enumeration "
    f"{-TC * exact_4['log_partition']:.10f}), KL(q‖p) = {kl_4:.2e} nats = (F_q − F)/T = {(f_q_4 - F_EXACT[4]) / TC:.2e}"
)
assert f_q_4 >= F_EXACT[4] - 1e-9  # exact: no sampling error

# %% tags=["learning-check"]
# The VAN's F_q at T_c on the lattice of the headline numbers, against Kaufman's exact F.
fq_rel_error = (van[L_MAIN]["F_q"] - F_EXACT[L_MAIN]) / abs(F_EXACT[L_MAIN])
checks.below(
    "fq_relative_error",
    fq_rel_error,
    config.scaled(smoke=1e-3, lecture=3e-4, full=1e-3),
    "(F_q − F)/|F| of the VAN at T_c on L_MAIN (F_q from N_EVAL samples; F from Kaufman's closed form)",
)

# %% tags=["learning-check"]
# On the 4 × 4 lattice, the exact KL(q‖p), summed over all 65,536 states.
checks.below(
    "kl_exact_L4",
    kl_4,
    config.scaled(smoke=0.01, lecture=0.005, full=0.005),
    "exact KL(q‖p) of the 4 × 4 VAN at T_c, nats (enumeration of all states)",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Neural importance sampling: an estimate of $F$ that converges to the exact value
#
# $F_q$ is an upper bound, off by $T\,\mathrm{KL}(q\,\|\,p)$ however many samples we draw. Importance
# sampling removes that bias in the limit. With the weights $w(s)=e^{-\beta E(s)}/q(s)$,
#
# $$\mathbb E_q[w]=\sum_sq(s)\frac{e^{-\beta E(s)}}{q(s)}=Z,\qquad
#   \hat Z_n=\frac1n\sum_{i=1}^nw(s_i),\qquad \hat F_n=-T\ln\hat Z_n ,$$
#
# exact as $n\to\infty$ for any $q$ that is positive wherever $p$ is {cite:p}`nicoli2020`. For finite $n$,
# $\hat Z_n$ is unbiased but $\hat F_n$ is not: $\ln$ is concave, so by Jensen's inequality
# $\mathbb E[\ln\hat Z_n]\le\ln\mathbb E[\hat Z_n]=\ln Z$, and
#
# $$\mathbb E[\hat F_n]\;\ge\;F,\qquad \mathbb E[\hat F_n]-F\approx\frac{T}{2n}\,\frac{\mathrm{Var}_q(w)}{Z^2}=\frac{T}{2n}\Big(\frac1{\mathrm{ESS}}-1\Big)$$
#
# (with $\delta=\hat Z_n/Z-1$: $\ln\hat Z_n=\ln Z+\ln(1+\delta)\approx\ln Z+\delta-\delta^2/2$, $\mathbb E\,\delta=0$ and
# $\mathbb E\,\delta^2=\mathrm{Var}_q(w)/(nZ^2)$; ESS is the effective sample size defined below, whose
# population value is $Z^2/\mathbb E_q[w^2]$): biased *upwards*, like $F_q$, but by $O(1/n)$. Exercise 4 computes
# the bias exactly on a small system. On every set of samples, moreover, $\ln\frac1n\sum w_i\ge\frac1n\sum\ln w_i$
# (Jensen again, for the empirical average), that is $\hat F_n\le\hat F_q\equiv\frac1n\sum_i\big[E(s_i)+T\ln q(s_i)\big]$: the importance-sampling
# estimate never lies above the same samples' estimate of $F_q$.
#
# The **effective sample size** $\mathrm{ESS}=(\sum_iw_i)^2/(n\sum_iw_i^2)$, a fraction of $n$, estimates
# $Z^2/\mathbb E_q[w^2]$: 1 when $q=p$, small when a few weights dominate. Observables come from the
# self-normalised average $\langle O\rangle_p\approx\sum_iw_iO(s_i)/\sum_iw_i$, consistent with an $O(1/n)$
# bias (`neural_samplers.self_normalised`, with its delta-method error).
#
# A warning that section 6 makes concrete: all of these, the error bars and the ESS included, are computed
# from the weights that were drawn. A region of configurations that $q$ almost never visits contributes
# nothing to them, whatever its weight under $p$.

# %% slideshow={"slide_type": "subslide"}
E_EXACT = {L: ising.kaufman_energy_per_spin(L, TC) for L in L_SIZES}
for L in L_SIZES:
    d = van[L]
    d["log_w"] = -d["energy"] / TC - d["log_q"]
    d["F_nis"], d["F_nis_err"] = neural_samplers.nis_free_energy(d["log_w"], TC)
    d["ess"] = neural_samplers.effective_sample_size(d["log_w"])
    n_spins = L * L
    obs = np.stack([d["energy"] / n_spins, np.abs(d["spins"].sum((1, 2))) / n_spins], 1)  # (n, 2): e, |m|
    (d["e_nis"], d["m_nis"]), (d["e_nis_err"], d["m_nis_err"]) = neural_samplers.self_normalised(
        d["log_w"], obs
    )
print(" L    ESS      (F_NIS − F)/|F|         (F_NIS − F)/σ   bias T(1/ESS − 1)/(2n)   e_NIS − e (σ)")
for L in L_SIZES:
    d, F = van[L], F_EXACT[L]
    bias = TC * (1 / d["ess"] - 1) / (2 * N_EVAL)
    print(
        f"{L:2d}  {d['ess']:.4f}  {(d['F_nis'] - F) / abs(F):+.2e} ± {d['F_nis_err'] / abs(F):.1e}  "
        f"{(d['F_nis'] - F) / d['F_nis_err']:+8.1f}        {bias / abs(F):.1e} (relative)        "
        f"{d['e_nis'] - E_EXACT[L]:+.1e} ({(d['e_nis'] - E_EXACT[L]) / d['e_nis_err']:+.1f})"
    )
    assert d["F_nis"] <= d["F_q"] + 1e-9  # log-mean ≥ mean-log on the same samples

# %% [markdown]
# The energy has Kaufman's exact reference; $\langle|M|\rangle$ on a finite torus has no closed form.
# On the $4\times4$ lattice enumeration gives it; on `L_MAIN` the reference is lecture 07's Wolff
# algorithm: `MC_CHAINS` chains of `MC_SWEEPS` sweeps each at $T_c$, with error bars from the
# integrated autocorrelation time. The same runs, and their twins with local Metropolis, are the
# competition of section 5, so they are recorded one configuration per sweep.


# %% slideshow={"slide_type": "subslide"}
def monte_carlo_series(L, seed):
    """|m| and e per spin after every sweep of Metropolis and of Wolff at T_c: (MC_SWEEPS, MC_CHAINS)
    each, and the seconds per sweep and chain (burn-in included)."""
    out = {}
    for algorithm in ["metropolis", "wolff"]:
        n_burn = 300
        t0 = time.perf_counter()
        spins = ising_mc.sample(
            L,
            TC,
            MC_CHAINS * MC_SWEEPS,
            algorithm=algorithm,
            n_chains=MC_CHAINS,
            n_burn=n_burn,
            n_between=1,
            seed=seed,
        )
        out[f"{algorithm}_seconds"] = np.array(
            (time.perf_counter() - t0) / (MC_CHAINS * (MC_SWEEPS + n_burn))
        )
        out[f"{algorithm}_m"] = (np.abs(ising.magnetization(spins)) / L**2).reshape(MC_SWEEPS, MC_CHAINS)
        out[f"{algorithm}_e"] = (ising.energy(spins) / L**2).reshape(MC_SWEEPS, MC_CHAINS)
    return out


def mean_and_error(series):
    """Mean of a (time, chain) series and its error σ √(2 τ_int / n), with τ_int (in steps) too."""
    tau = ising_mc.integrated_autocorrelation_time(series)
    return float(series.mean()), float(series.std() * math.sqrt(2 * tau / series.size)), tau


mc = cache.cached_arrays(f"mc_series_L{L_MAIN}", compute=lambda: monte_carlo_series(L_MAIN, SEED + 7))
m_ref, m_ref_err, _ = mean_and_error(mc["wolff_m"])
e_ref, e_ref_err, _ = mean_and_error(mc["wolff_e"])
d = van[L_MAIN]
print(
    f"L = {L_MAIN}: e  NIS {d['e_nis']:.5f} ± {d['e_nis_err']:.5f}, Wolff {e_ref:.5f} ± {e_ref_err:.5f}, "
    f"Kaufman {E_EXACT[L_MAIN]:.5f}"
)
print(
    f"L = {L_MAIN}: |m| NIS {d['m_nis']:.5f} ± {d['m_nis_err']:.5f}, Wolff {m_ref:.5f} ± {m_ref_err:.5f}: "
    f"difference {(d['m_nis'] - m_ref) / math.hypot(d['m_nis_err'], m_ref_err):+.1f} combined σ"
)
if 4 in L_SIZES:
    p4 = exact_4["probabilities"]
    m_exact_4 = float(p4 @ np.abs(exact_4["magnetizations"])) / 16
    print(f"L = 4: |m| NIS {van[4]['m_nis']:.5f} ± {van[4]['m_nis_err']:.5f}, exact {m_exact_4:.5f}")

# %% tags=["learning-check"]
# The importance-sampling estimate of F at T_c on L_MAIN, against Kaufman's exact F.
nis_rel_error = abs(van[L_MAIN]["F_nis"] - F_EXACT[L_MAIN]) / abs(F_EXACT[L_MAIN])
checks.below(
    "nis_relative_error",
    nis_rel_error,
    config.scaled(smoke=5e-4, lecture=3e-5, full=1e-4),
    "|F_NIS − F|/|F| at T_c on L_MAIN: −T ln of the mean weight over N_EVAL samples, against Kaufman",
)

# %% tags=["learning-check"]
# The effective sample size of the weights on L_MAIN (1 would be q = p; an untrained VAN gives almost 0).
checks.above(
    "effective_sample_size",
    van[L_MAIN]["ess"],
    config.scaled(smoke=0.9, lecture=0.9, full=0.5),
    "ESS = (Σw)²/(n Σw²) of the VAN's importance weights at T_c on L_MAIN, as a fraction of n",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Neural MCMC: independent Metropolis–Hastings
#
# A third use of the same samples: as *proposals* of a Markov chain. From the current state $s$,
# propose $s'\sim q$, independently of $s$, and accept with
#
# $$A(s\to s')=\min\Big(1,\frac{p(s')\,q(s)}{p(s)\,q(s')}\Big)=\min\Big(1,\frac{w(s')}{w(s)}\Big),$$
#
# in which $Z$ cancels. Detailed balance holds for *any* $q$:
# $p(s)\,q(s')\,A(s\to s')=\min\big(p(s)q(s'),\,p(s')q(s)\big)$ is symmetric in $s\leftrightarrow s'$. So,
# provided $q$ is positive wherever $p$ is (then every state can be reached), the chain converges to $p$
# exactly, however poorly $q$ is trained; training only sets how often it moves.
# With $q=p$ every proposal is accepted and the chain is a sequence of independent samples. Unlike
# importance sampling, the result is a set of unweighted configurations. Exercise 5 gives the
# acceptance when $\ln w$ is Gaussian under $q$ with variance $\sigma^2$: $2\Phi(-\sigma/\sqrt2)$, with
# $\Phi$ the standard normal distribution function and $\mathrm{KL}(q\,\|\,p)=\sigma^2/2$, so about
# $2\Phi(-\sqrt{\mathrm{KL}})$. If $q$ errs by a similar amount on every part of the lattice, $\mathrm{KL}$
# grows like $N$, and since $\Phi(-x)<e^{-x^2/2}/2$ the acceptance falls below $e^{-\mathrm{KL}/2}$:
# exponentially with the number of spins: that is the honest limit of neural samplers.
#
# Here the chain runs through the `N_EVAL` samples of section 4 in the order they were drawn
# (`neural_samplers.independent_metropolis`). We measure the integrated autocorrelation time of $|m|=|M|/N$
# ($M=\sum_is_i$) and $e=E/N$ along it, in proposals, and compare with lecture 07's local Metropolis and Wolff on the same
# lattice at $T_c$, in sweeps: per step, and per second of this machine. The seconds compare our
# implementations on one CPU thread (vectorised NumPy for the Monte Carlo over `MC_CHAINS` chains,
# PyTorch in float64 for the network, `sample_incremental` and `log_prob`), not the algorithms in
# general.

# %% slideshow={"slide_type": "subslide"}
for L in L_SIZES:
    d = van[L]
    d["index"], d["acceptance"] = neural_samplers.independent_metropolis(d["log_w"], seed=SEED + 2000 + L)
    chain_m = np.abs(d["spins"].sum((1, 2)))[d["index"]] / L**2  # |m| along the chain
    chain_e = d["energy"][d["index"]] / L**2
    d["imh_m"], d["imh_m_err"], d["tau_m"] = mean_and_error(chain_m)
    d["imh_e"], d["imh_e_err"], d["tau_e"] = mean_and_error(chain_e)
    d["kl_estimate"] = (d["F_q"] - d["F_nis"]) / TC  # KL(q‖p) with F estimated by NIS

d = van[L_MAIN]
print(
    f"L = {L_MAIN}, independent Metropolis over {N_EVAL} proposals: acceptance {d['acceptance']:.3f}; "
    f"e = {d['imh_e']:.5f} ± {d['imh_e_err']:.5f} (Kaufman {E_EXACT[L_MAIN]:.5f}, "
    f"{(d['imh_e'] - E_EXACT[L_MAIN]) / d['imh_e_err']:+.1f} σ); |m| = {d['imh_m']:.5f} ± {d['imh_m_err']:.5f} "
    f"(Wolff {m_ref:.5f} ± {m_ref_err:.5f})"
)
rows = [("VAN + independent MH", "proposal", d["tau_m"], d["tau_e"], d["seconds"] / N_EVAL)]
for algorithm in ["metropolis", "wolff"]:
    tau_m = ising_mc.integrated_autocorrelation_time(mc[f"{algorithm}_m"])
    tau_e = ising_mc.integrated_autocorrelation_time(mc[f"{algorithm}_e"])
    rows.append((algorithm, "sweep", tau_m, tau_e, float(mc[f"{algorithm}_seconds"])))
print(
    f"\nL = {L_MAIN} at T_c     one step   τ_int(|m|)  τ_int(e)   seconds per step   independent samples per second (|m|)"
)
for name, step, tau_m, tau_e, sec in rows:
    print(
        f"{name:22s} {step:9s} {tau_m:9.2f} {tau_e:9.2f}   {sec:.2e}          {1 / (2 * tau_m * sec):10.0f}"
    )
tau = {name: (tau_m, tau_e) for name, _, tau_m, tau_e, _ in rows}

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
sizes = np.array(L_SIZES)
acc = np.array([van[L]["acceptance"] for L in L_SIZES])
ess = np.array([van[L]["ess"] for L in L_SIZES])
predicted = np.array([2 * ndtr(-math.sqrt(max(van[L]["kl_estimate"], 0.0))) for L in L_SIZES])
axes[0].plot(sizes**2, acc, "o-", label="acceptance of independent MH")
axes[0].plot(sizes**2, ess, "s--", label="ESS / n")
axes[0].plot(sizes**2, predicted, "k:", marker="x", label=r"$2\Phi(-\sqrt{\mathrm{KL}})$ (exercise 5)")
axes[0].set_xlabel("N = L²")
axes[0].set_ylabel("fraction")
axes[0].set_title("VANs at $T_c$, one recipe: acceptance against lattice size")
axes[0].legend(fontsize=8)
lags = np.arange(0, 41)
series = {
    "VAN + independent MH": (np.abs(van[L_MAIN]["spins"].sum((1, 2)))[van[L_MAIN]["index"]] / L_MAIN**2)[
        :, None
    ],
    "metropolis": mc["metropolis_m"],
    "wolff": mc["wolff_m"],
}
for name, x in series.items():
    xc = x - x.mean(0)
    acf = [1.0] + [float(np.mean(xc[k:] * xc[:-k]) / np.mean(xc * xc)) for k in lags[1:]]
    axes[1].plot(lags, acf, label=name)
axes[1].axhline(0, color="grey", lw=0.8)
axes[1].set_xlabel("lag (proposals, or sweeps)")
axes[1].set_ylabel("autocorrelation of |m|")
axes[1].set_title(f"L = {L_MAIN} at $T_c$")
axes[1].legend(fontsize=8)
fig.tight_layout()
print(" L   acceptance   ESS     KL estimate (nats)   2Φ(−√KL)")
for L, a, e_, p_ in zip(L_SIZES, acc, ess, predicted):
    print(f"{L:2d}   {a:.4f}     {e_:.4f}   {van[L]['kl_estimate']:.2e}            {p_:.4f}")

# %% [markdown]
# Read the table and the figure. Independent proposals have no memory of the chain's state, so the
# autocorrelation along the chain comes only from rejections: a run of $k$ rejections repeats one
# configuration $k+1$ times. The local Metropolis chain carries its state along and decorrelates
# $|m|$ only as domains move (lecture 07). Per step, compare the three $\tau_{\text{int}}$; per second,
# the last column, remembering what the seconds compare. Then the left panel: the acceptance at each
# lattice size with the recipe fixed, and the log-normal prediction from the measured KL.

# %% tags=["learning-check"]
# The acceptance rate of independent Metropolis–Hastings with the trained VAN as proposal, on L_MAIN.
checks.above(
    "imh_acceptance",
    van[L_MAIN]["acceptance"],
    config.scaled(smoke=0.85, lecture=0.8, full=0.5),
    "acceptance rate of independent MH with the VAN's samples as proposals, T_c, L_MAIN",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Symmetry and mode collapse
#
# The Boltzmann distribution is symmetric under flipping every spin: $p(-s)=p(s)$. Below $T_c$ it puts
# almost all its mass on two ordered states, $m=M/N\approx\pm m_0$ ($m_0>0$ the spontaneous
# magnetisation per spin), separated by configurations with a
# domain wall, which are exponentially rare in $L$. Reverse KL is *mode-seeking*:
# $\mathrm{KL}(q\,\|\,p)=\mathbb E_q[\ln q/p]$ costs nothing where $q$ puts no mass, so a $q$ that
# describes one ordered state well and ignores the other is a local optimum that training can settle
# in. Suppose $q$ has collapsed onto the states with $M>0$, and there equals $p$ renormalised:
# $q(s)=2p(s)$ for $M>0$, $0$ otherwise (by the symmetry $p$ gives $M>0$ probability ½, ignoring the
# states with $M=0$, exponentially rare below $T_c$).
# Then, with $\ln p(s)=-\beta E(s)-\ln Z$,
#
# $$F_q=\mathbb E_q\big[E+T\ln(2p)\big]=\mathbb E_q\big[E-E-T\ln Z\big]+T\ln2=F+T\ln2 .$$
#
# One bit of entropy is missing: an error of $T\ln2$ in total, $T\ln2/|F|$ relative, which shrinks like
# $1/N$ but does not vanish on any finite lattice. Importance sampling cannot repair it: every weight is
# $w=e^{-\beta E}/(2p)=Z/2$, so $\hat F=F+T\ln2$ *with an ESS of 1 and no error bar*, and independent
# Metropolis accepts every proposal and never visits $M<0$. (For the observables that are even in $s$, such
# as $|m|$ and $E$, the chain is still right; for $F$ and for anything odd in $s$ it is not.)
#
# **The fix** is to impose the symmetry: $q_{\text{sym}}(s)=\tfrac12[q(s)+q(-s)]$. It is normalised,
# exact to evaluate (two passes of the network) and to sample (draw $s\sim q$, then flip all spins with
# probability ½). The public code of {cite:t}`wu2019` offers it as an option, in sampling and in the loss,
# and their scripts for the ferromagnet on the square lattice use it. Since $p$ is symmetric and the KL divergence is convex in $q$,
# $\mathrm{KL}(q_{\text{sym}}\,\|\,p)\le\tfrac12\mathrm{KL}(q\,\|\,p)+\tfrac12\mathrm{KL}(q(-\cdot)\,\|\,p)=\mathrm{KL}(q\,\|\,p)$:
# symmetrising never hurts, and for the collapsed $q$ above it gives back the missing $\ln2$ exactly.
#
# Does reverse KL collapse in practice? It depends on the training. Below, one VAN per temperature in
# `TEMPS_SCAN` on the `L_SCAN` lattice, with $\beta$ annealed as before, and one more at
# `T_COLLAPSE` $<T_c$ trained at the target $\beta$ from the first step. For each we print the share of
# $q$'s samples with $M>0$ (among $M\ne0$; $\tfrac12$ for $p$), and the relative errors of $F_q$, of
# the importance-sampling estimate, and of both for $q_{\text{sym}}$.


# %% slideshow={"slide_type": "subslide"}
def symmetrised(model, L, n, seed):
    """n samples of q and of q_sym, with the exact ln q and ln q_sym: dicts of spins, energies, ln q."""
    m = copy.deepcopy(model).double()
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    with torch.no_grad():
        x = m.sample_incremental(n, gen)
        flip = torch.rand(n, 1, generator=gen, device=DEVICE, dtype=torch.float64) < 0.5
        x_sym = torch.where(flip, 1 - x, x)  # s → −s with probability ½: a sample of q_sym
        log_q_sym = torch.logaddexp(m.log_prob(x_sym), m.log_prob(1 - x_sym)) - math.log(2)
        out = {}
        for name, bits, lq in [("q", x, m.log_prob(x)), ("q_sym", x_sym, log_q_sym)]:
            out[name] = {
                "spins": (2 * bits - 1).to(torch.int8).view(-1, L, L).cpu().numpy(),
                "energy": ising_energy(bits, L).cpu().numpy(),
                "log_q": lq.cpu().numpy(),
            }
    return out


def scan_summary(model, L, T, seed):
    """Relative errors of F_q and F_NIS for q and q_sym against Kaufman, and q's share of M > 0."""
    F = -T * ising.kaufman_log_partition(L, T)
    out = {"F": F}
    for name, d in symmetrised(model, L, N_EVAL_SCAN, seed).items():
        f_q, f_q_err = neural_samplers.variational_free_energy(d["energy"], d["log_q"], T)
        log_w = -d["energy"] / T - d["log_q"]
        f_nis, f_nis_err = neural_samplers.nis_free_energy(log_w, T)
        M = d["spins"].sum((1, 2))
        out[name] = {
            "fq_rel": (f_q - F) / abs(F),
            "fq_rel_err": f_q_err / abs(F),
            "nis_rel": (f_nis - F) / abs(F),
            "nis_rel_err": f_nis_err / abs(F),
            "ess": neural_samplers.effective_sample_size(log_w),
            "share_positive": float(np.sum(M > 0) / max(np.sum(M != 0), 1)),
            "M": M,
        }
    return out


scan = {}
for T in TEMPS_SCAN:
    model, _ = cache.cached_torch(
        f"van_L{L_SCAN}_T{T:.4f}",
        build=lambda: MADE(L_SCAN**2, [hidden_units(L_SCAN)], direct=True).to(DEVICE),
        train=lambda m, T=T: train_van(
            m, L_SCAN, T, STEPS_SCAN, BATCH_SCAN, seed=SEED + 3, desc=f"VAN T={T:.2f}"
        ),
    )
    scan[T] = scan_summary(model, L_SCAN, T, seed=SEED + 4)
collapsed_model, _ = cache.cached_torch(
    f"van_L{L_SCAN}_T{T_COLLAPSE}_no_annealing",
    build=lambda: MADE(L_SCAN**2, [hidden_units(L_SCAN)], direct=True).to(DEVICE),
    train=lambda m: train_van(
        m, L_SCAN, T_COLLAPSE, STEPS_SCAN, BATCH_SCAN, seed=SEED + 3, anneal=False, desc="VAN, fixed β"
    ),
)
collapsed = scan_summary(collapsed_model, L_SCAN, T_COLLAPSE, seed=SEED + 4)

print(f"L = {L_SCAN}; relative errors against Kaufman's F; T ln2/|F| is the error of a fully collapsed q")
print(
    "  T      training     share M>0   F_q           F_NIS         ESS     F_q (q_sym)   F_NIS (q_sym)  T ln2/|F|"
)
for label, T, d in [*(("annealed", T, scan[T]) for T in TEMPS_SCAN), ("fixed β", T_COLLAPSE, collapsed)]:
    q, qs = d["q"], d["q_sym"]
    print(
        f"{T:5.3f}  {label:10s}   {q['share_positive']:.3f}      {q['fq_rel']:+.2e}     {q['nis_rel']:+.2e}     "
        f"{q['ess']:.3f}   {qs['fq_rel']:+.2e}     {qs['nis_rel']:+.2e}      {T * math.log(2) / abs(d['F']):.2e}"
    )
collapse_in_bits = (collapsed["q"]["fq_rel"] * abs(collapsed["F"])) / (T_COLLAPSE * math.log(2))
sym_in_bits = (collapsed["q_sym"]["fq_rel"] * abs(collapsed["F"])) / (T_COLLAPSE * math.log(2))
print(
    f"fixed β at T = {T_COLLAPSE}: F_q − F = {collapse_in_bits:.3f} T ln 2; after symmetrisation {sym_in_bits:.3f} T ln 2"
)

# %% slideshow={"slide_type": "subslide"}
T_fine = np.linspace(min(TEMPS_SCAN) - 0.1, max(TEMPS_SCAN) + 0.1, 60)
F_fine = np.array([-T * ising.kaufman_log_partition(L_SCAN, T) for T in T_fine])
fig, axes = plt.subplots(1, 3, figsize=(16, 3.8))
axes[0].plot(T_fine, F_fine / L_SCAN**2, "k-", lw=1, label=f"Kaufman, L = {L_SCAN}")
axes[0].plot(T_fine, ising.onsager_free_energy_per_spin(T_fine), "C3--", lw=1, label="Onsager, L = ∞")
axes[0].plot(
    TEMPS_SCAN,
    [scan[T]["F"] * (1 + scan[T]["q"]["fq_rel"]) / L_SCAN**2 for T in TEMPS_SCAN],
    "o",
    label="VAN F_q (annealed)",
)
axes[0].set_xlabel("T")
axes[0].set_ylabel("free energy per spin")
axes[0].legend(fontsize=8)
axes[0].set_title("F_q against the exact curve")
axes[1].plot(T_fine, T_fine * math.log(2) / np.abs(F_fine), "k:", label=r"$T\ln2/|F|$ (one bit)")
for key, marker, label in [("fq_rel", "o", "F_q"), ("nis_rel", "s", "F_NIS")]:
    axes[1].errorbar(
        TEMPS_SCAN,
        [abs(scan[T]["q"][key]) for T in TEMPS_SCAN],
        yerr=[scan[T]["q"][key + "_err"] for T in TEMPS_SCAN],
        fmt=marker,
        capsize=2,
        label=f"|{label} − F|/|F|, annealed",
    )
axes[1].plot([T_COLLAPSE], [abs(collapsed["q"]["fq_rel"])], "rv", ms=9, label="F_q, fixed β")
axes[1].plot([T_COLLAPSE], [abs(collapsed["q"]["nis_rel"])], "r^", ms=7, mfc="none", label="F_NIS, fixed β")
axes[1].plot([T_COLLAPSE], [abs(collapsed["q_sym"]["fq_rel"])], "g*", ms=11, label="F_q of q_sym, fixed β")
axes[1].axvline(TC, color="grey", ls=":", lw=1)
axes[1].set_yscale("log")
axes[1].set_xlabel("T")
axes[1].set_ylabel("relative error")
axes[1].legend(fontsize=7)
axes[1].set_title(f"relative errors, L = {L_SCAN}")
mc_low = ising_mc.sample(L_SCAN, T_COLLAPSE, 5000, seed=SEED + 5)  # Wolff, with the random global sign
bins = (np.arange(L_SCAN**2 + 2) * 2 - L_SCAN**2 - 1) / L_SCAN**2  # one bin per value of M
axes[2].hist(
    ising.magnetization(mc_low) / L_SCAN**2,
    bins=bins,
    density=True,
    histtype="step",
    color="k",
    label="Wolff (p)",
)
axes[2].hist(
    collapsed["q"]["M"] / L_SCAN**2, bins=bins, density=True, histtype="step", color="r", label="q, fixed β"
)
axes[2].hist(
    collapsed["q_sym"]["M"] / L_SCAN**2,
    bins=bins,
    density=True,
    histtype="step",
    color="g",
    ls="--",
    label="q_sym, fixed β",
)
axes[2].set_xlabel("m = M / N")
axes[2].set_title(f"magnetization at T = {T_COLLAPSE}, L = {L_SCAN}")
axes[2].legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# Read the printed table. With $\beta$ annealed from high temperature the network meets the symmetric,
# nearly uniform $p$ first: compare its share of $M>0$ with ½ at every temperature, to see whether it
# kept both ordered states as they formed. Trained at the target $\beta$ from the start, at `T_COLLAPSE`, compare
# the share, and the error of $F_q$ measured in units of $T\ln2$. Look at the importance-sampling
# estimate of that model too, and at its ESS: the weights cannot tell that half the configurations are
# missing. The symmetrised $q_{\text{sym}}$ of the same network, with no retraining, gives back what the
# collapse cost (the star in the middle panel). What remains is the error *within* the ordered state
# that the network learned.

# %% tags=["learning-check"]
# Annealed VANs at every temperature of the scan: F_q against Kaufman.
checks.below(
    "scan_fq_relative_error",
    {f"T={T:.3f}": scan[T]["q"]["fq_rel"] for T in TEMPS_SCAN},
    config.scaled(smoke=1.5e-3, lecture=1e-3, full=1e-3),
    "(F_q − F)/|F| of the annealed VAN at each temperature of the scan, L_SCAN, F from Kaufman",
)

# %% tags=["learning-check"]
# The VAN trained without annealing below T_c, symmetrised: what is left of its error, in units of T ln 2.
checks.below(
    "symmetrised_error_in_bits",
    sym_in_bits,
    config.scaled(smoke=0.5, lecture=0.3, full=0.3),
    "(F_q_sym − F)/(T ln 2) of the VAN trained at fixed β at T_COLLAPSE, after symmetrisation",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. A flow for lattice field theory
#
# The same ideas work for continuous fields, with a normalizing flow in place of the autoregressive
# network {cite:p}`albergo2019`. A real field $\varphi_x$ on the $L\times L$ torus ($V=L^2$ sites) has
# the Euclidean action
#
# $$S(\varphi)=\sum_x\Big[\sum_{\mu=1,2}(\varphi_{x+\hat\mu}-\varphi_x)^2+m^2\varphi_x^2+\lambda\varphi_x^4\Big],
#   \qquad p(\varphi)=\frac{e^{-S(\varphi)}}{Z},$$
#
# in the normalisation of the introductory code of {cite:t}`albergo2021` (`phi4.action`). Here $\beta=1$:
# the action plays the part of $\beta E$, and the free energy is $-\ln Z$.
#
# **The free field** ($\lambda=0$, $m^2>0$) is exactly solvable. The action is a quadratic form,
# $S=\varphi^{\top}K\varphi$ with $K=-\Delta+m^2$ ($\Delta$ the lattice Laplacian: the kinetic sum is
# $\varphi^{\top}(-\Delta)\varphi$), and plane waves $e^{ik\cdot x}$, $k=2\pi n/L$, diagonalise $K$ with
# eigenvalues $m^2+\hat p^2(k)$, $\hat p^2=4\sin^2\frac{k_1}2+4\sin^2\frac{k_2}2$. The Gaussian integral
# $\int d^V\varphi\,e^{-\varphi^\top K\varphi}=\pi^{V/2}(\det K)^{-1/2}$ then gives
#
# $$\ln Z=\frac V2\ln\pi-\frac12\sum_k\ln\big(m^2+\hat p^2(k)\big)\qquad(\texttt{phi4.free\_log\_partition}),$$
#
# and the field is Gaussian with covariance $(2K)^{-1}$ (`phi4.free_propagator`; both are tested against
# the matrix read off the action in `tests/test_phi4.py`).
#
# **The flow.** RealNVP (lecture 10, `lib.flows`): `FLOW_LAYERS` affine couplings with alternating
# checkerboard masks, so that each layer transforms one colour of sites given the other, on a standard
# normal base. Each coupling's scale and shift at a site come from one small network shared by all sites
# (`phi4.LocalConditioner`), which reads the frozen field at the four nearest neighbours and the eight
# sites a knight's move away: a convolution in effect, as in the convolutional couplings of
# {cite:t}`albergo2021`, so the flow respects the lattice's translations (those that keep the
# checkerboard). A flow's sample is a differentiable function of the base noise,
# $\varphi=f^{-1}(z)$, so the reverse KL needs no score function here:
#
# $$\mathrm{KL}(q\,\|\,p)-\ln Z=\mathbb E_{z}\big[\ln q(f^{-1}(z))+S(f^{-1}(z))\big],$$
#
# estimated on a batch and differentiated through the samples: the reparameterisation of lecture 04.


# %% slideshow={"slide_type": "subslide"}
def train_flow(flow, L, m2, lam, *, seed, desc="flow"):
    """Minimise E_q[ln q + S] = KL(q‖p) − ln Z over the flow's parameters, gradients through the
    samples. Returns the loss per step."""
    opt = torch.optim.Adam(flow.parameters(), lr=FLOW_LR)
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    history = {"loss": []}
    for step in tqdm(config.training(range(FLOW_STEPS)), desc=desc, leave=False):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, FLOW_STEPS, FLOW_LR)
        phi, log_q = flow.sample(FLOW_BATCH, gen)  # φ = f⁻¹(z) and its exact ln q, both differentiable
        loss = (log_q + phi4.action(phi.view(-1, L, L), m2, lam)).mean()  # the reverse-KL loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
    return history


@torch.no_grad()
def draw_flow(flow, L, m2, lam, n, seed, chunk=5_000):
    """n fields of a trained flow in float64: φ (n, L, L), the action S (n,), ln q (n,)."""
    f = copy.deepcopy(flow).double()
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    fields, log_qs = [], []
    for start in range(0, n, chunk):
        phi, log_q = f.sample(min(chunk, n - start), gen)
        fields.append(phi.view(-1, L, L).cpu().numpy())
        log_qs.append(log_q.cpu().numpy())
    phi = np.concatenate(fields)
    return phi, phi4.action(phi, m2, lam), np.concatenate(log_qs)


flows_trained = {}
for name, m2, lam in [("free", M2_FREE, 0.0), ("interacting", M2, LAM)]:
    flows_trained[name] = cache.cached_torch(
        f"flow_phi4_L{L_PHI}_{name}",
        build=lambda: phi4.make_flow(L_PHI, FLOW_LAYERS, FLOW_HIDDEN).to(DEVICE),
        train=lambda f, m2=m2, lam=lam, name=name: train_flow(
            f, L_PHI, m2, lam, seed=SEED + 6, desc=f"flow, {name}"
        ),
    )

phi_free, s_free, log_q_free = draw_flow(flows_trained["free"][0], L_PHI, M2_FREE, 0.0, N_FLOW, SEED + 8)
exact_free = -phi4.free_log_partition(L_PHI, M2_FREE)  # −ln Z, the free energy at β = 1
fq_free, fq_free_err = neural_samplers.variational_free_energy(s_free, log_q_free, 1.0)
nis_free, nis_free_err = neural_samplers.nis_free_energy(-s_free - log_q_free, 1.0)
kl_free = fq_free - exact_free
ess_free = neural_samplers.effective_sample_size(-s_free - log_q_free)
print(
    f"free field, L = {L_PHI}, m² = {M2_FREE}: −ln Z exact {exact_free:.5f}; F_q = {fq_free:.5f} ± {fq_free_err:.5f} "
    f"(KL(q‖p) = {kl_free:.4f} nats); NIS {nis_free:.5f} ± {nis_free_err:.5f}; ESS {ess_free:.3f}"
)
assert fq_free >= exact_free - 3 * fq_free_err  # the variational inequality
G = phi4.free_propagator(L_PHI, M2_FREE)
print(
    f"free field: ⟨φ²⟩ from the flow's samples {np.mean(phi_free**2):.5f} (unweighted), exact {G[0, 0]:.5f}; "
    f"⟨φ_x φ_x+1⟩ {np.mean(phi_free * np.roll(phi_free, 1, 2)):.5f}, exact {G[0, 1]:.5f}"
)

fig, ax = plt.subplots(figsize=(6.5, 3.4))
for name, (_, hist) in flows_trained.items():
    ax.plot(hist["loss"], lw=0.6, label=f"{name}: batch mean of ln q + S")
ax.axhline(exact_free, color="C0", ls=":", label="free: −ln Z exact")
ax.set_yscale("symlog", linthresh=10)
ax.set_xlabel("step")
ax.set_title(f"flows on the L = {L_PHI} lattice: the reverse-KL loss")
ax.legend(fontsize=8)
fig.tight_layout()

# %% tags=["learning-check"]
# The free field: the flow's F_q against the exact Gaussian free energy.
checks.below(
    "free_field_kl",
    kl_free,
    config.scaled(smoke=0.3, lecture=0.5, full=1.0),
    "F_q − F = KL(q‖p), nats, of the flow on the free field (m² = M2_FREE), F from the exact Gaussian integral",
)

# %% [markdown]
# **An interacting point.** At $m^2=-4$, $\lambda=8$, the point of the introductory code of
# {cite:t}`albergo2021` on $L=8$, the quadratic terms on a site cancel ($4+m^2=0$: the kinetic sum
# puts $4\varphi_x^2$ on each site), and each site feels only $\lambda\varphi_x^4$ and its four
# neighbours, $-2\varphi_x\sum_{\pm\mu}\varphi_{x\pm\hat\mu}$. No closed form exists. The reference is Hybrid Monte Carlo
# {cite:p}`duane1987` (`phi4.hmc`): `HMC_CHAINS` chains, leapfrog trajectories of length about 1 with
# a Metropolis test at the end, exact for any step size. We compare, within their combined errors, the
# action per site, $\langle\varphi^2\rangle$, $\langle M^2\rangle/V$ and $\langle|M|\rangle/V$ ($M=\sum_x\varphi_x$)
# from HMC with those from independent Metropolis on the flow's `N_FLOW` proposals (errors from the
# integrated autocorrelation time along each chain), and report the ESS and the acceptance.


# %% slideshow={"slide_type": "subslide"}
def hmc_reference(seed):
    """HMC at (M2, LAM) on L_PHI: the observables per configuration, (time, chain) each, and the acceptance."""
    phi, acceptance = phi4.hmc(
        L_PHI,
        M2,
        LAM,
        N_HMC,
        n_chains=HMC_CHAINS,
        n_burn=300,
        step_size=0.1,
        n_leapfrog=10,
        seed=seed,
        progress=True,
    )
    return {**phi4_observables(phi), "acceptance": np.array(acceptance)}


def phi4_observables(phi):
    """Per configuration: the action per site, the mean of φ², M²/V and |M|/V; each (n,)."""
    V = phi.shape[1] * phi.shape[2]
    M = phi.sum((1, 2))
    return {
        "action": phi4.action(phi, M2, LAM) / V,
        "phi2": (phi * phi).mean((1, 2)),
        "M2": M * M / V,
        "absM": np.abs(M) / V,
    }


hmc_ref = cache.cached_arrays(f"hmc_phi4_L{L_PHI}", compute=lambda: hmc_reference(SEED + 9))
phi_int, s_int, log_q_int = draw_flow(flows_trained["interacting"][0], L_PHI, M2, LAM, N_FLOW, SEED + 10)
log_w_int = -s_int - log_q_int
ess_int = neural_samplers.effective_sample_size(log_w_int)
index_int, acc_int = neural_samplers.independent_metropolis(log_w_int, seed=SEED + 11)
flow_obs = phi4_observables(phi_int)
fq_int, fq_int_err = neural_samplers.variational_free_energy(s_int, log_q_int, 1.0)
nis_int, nis_int_err = neural_samplers.nis_free_energy(log_w_int, 1.0)
print(
    f"interacting, L = {L_PHI}, m² = {M2}, λ = {LAM}: ESS {ess_int:.3f}, independent MH acceptance {acc_int:.3f}, "
    f"HMC acceptance {float(hmc_ref['acceptance']):.3f}"
)
print(
    f"F_q = {fq_int:.4f} ± {fq_int_err:.4f}, NIS {nis_int:.4f} ± {nis_int_err:.4f}: KL(q‖p) ≈ {fq_int - nis_int:.3f} nats"
)
print(
    "observable   HMC                    flow + independent MH    difference / combined σ    τ_int HMC  τ_int flow"
)
z_scores = {}
for key in ["action", "phi2", "M2", "absM"]:
    h_mean, h_err, h_tau = mean_and_error(hmc_ref[key].reshape(-1, HMC_CHAINS))
    f_mean, f_err, f_tau = mean_and_error(flow_obs[key][index_int])
    z_scores[key] = (f_mean - h_mean) / math.hypot(h_err, f_err)
    print(
        f"{key:10s}  {h_mean:.5f} ± {h_err:.5f}     {f_mean:.5f} ± {f_err:.5f}       {z_scores[key]:+6.2f}"
        f"                  {h_tau:6.2f}     {f_tau:6.2f}"
    )

# %% tags=["learning-check"]
# The flow's importance weights at the interacting point: the effective sample size.
checks.above(
    "phi4_effective_sample_size",
    ess_int,
    config.scaled(smoke=0.1, lecture=0.05, full=0.02),
    "ESS / n of the flow's importance weights at m² = −4, λ = 8, L_PHI",
)

# %% tags=["learning-check"]
# Flow-based independent Metropolis against HMC: every observable within its combined error.
checks.below(
    "phi4_imh_vs_hmc",
    max(abs(z) for z in z_scores.values()),
    config.scaled(smoke=4.0, lecture=4.0, full=4.0),
    "largest |difference| / combined σ of four observables, flow + independent MH against HMC",
)

# %% [markdown]
# Read the table: the observables of the flow's Markov chain and of HMC agree within their errors, as
# they must whatever the flow, since independent Metropolis is exact; training decides how large the
# errors are for a given number of proposals, through the acceptance. Exact holds in the limit of a
# long chain. A finite chain inherits the tails of the weights: a region that $q$ rarely proposes but
# $p$ weighs heavily is visited rarely, and then the chain stays there for long, so the error bar
# computed from one chain can miss part of the spread. That is why the check allows 4 combined standard
# errors for the largest of the four deviations. The ESS and the acceptance tell
# how much of the flow's output is usable. A careful comparison would also put the two samplers on one
# budget, and go to larger $L$, where the flow's KL grows with the volume and the acceptance falls
# (section 5), while HMC's cost per independent sample grows too, with the correlation length.

# %% slideshow={"slide_type": "subslide"}
d = van[L_MAIN]
results.describe(
    dataset="none: every model trained from the energy (2D Ising at T_c; φ⁴ on the lattice)",
    L_main=L_MAIN,
    L_sizes=L_SIZES,
    n_eval=N_EVAL,
    L_scan=L_SCAN,
    L_phi4=L_PHI,
)
results.record(
    f"van_fq_relative_error_L{L_MAIN}",
    fq_rel_error,
    unit="fraction",
    error=d["F_q_err"] / abs(F_EXACT[L_MAIN]),
    key=f"VAN (F_q − F)/|F| at T_c, L = {L_MAIN}",
    n_samples=N_EVAL,
)
results.record(
    f"nis_relative_error_L{L_MAIN}",
    (d["F_nis"] - F_EXACT[L_MAIN]) / abs(F_EXACT[L_MAIN]),
    unit="fraction",
    error=d["F_nis_err"] / abs(F_EXACT[L_MAIN]),
    key=f"importance sampling (F̂ − F)/|F|, L = {L_MAIN}",
    n_samples=N_EVAL,
)
results.record(f"ess_L{L_MAIN}", d["ess"], unit="fraction of n", key=f"ESS, L = {L_MAIN}")
results.record(
    f"imh_acceptance_L{L_MAIN}",
    d["acceptance"],
    unit="fraction",
    key=f"independent MH acceptance, L = {L_MAIN}",
    per_L={str(L): van[L]["acceptance"] for L in L_SIZES},
)
results.record(
    f"tau_int_abs_m_L{L_MAIN}",
    tau["VAN + independent MH"][0],
    unit="proposals",
    metropolis_sweeps=tau["metropolis"][0],
    wolff_sweeps=tau["wolff"][0],
)
for L in L_SIZES:
    results.record(
        f"van_L{L}",
        (van[L]["F_q"] - F_EXACT[L]) / abs(F_EXACT[L]),
        unit="fraction",
        error=van[L]["F_q_err"] / abs(F_EXACT[L]),
        nis=(van[L]["F_nis"] - F_EXACT[L]) / abs(F_EXACT[L]),
        nis_error=van[L]["F_nis_err"] / abs(F_EXACT[L]),
        ess=van[L]["ess"],
        acceptance=van[L]["acceptance"],
        tau_abs_m=van[L]["tau_m"],
    )
results.record("kl_exact_L4", kl_4, unit="nats")
results.record("collapse_fixed_beta_in_bits", collapse_in_bits, unit="T ln 2", symmetrised=sym_in_bits)
results.record("phi4_free_kl", kl_free, unit="nats", L=L_PHI, m2=M2_FREE)
results.record("phi4_ess", ess_int, unit="fraction of n", key=f"φ⁴ flow ESS (m² = −4, λ = 8, L = {L_PHI})")
results.record("phi4_imh_acceptance", acc_int, unit="fraction", L=L_PHI)
elapsed = time.time() - T_START
print(f"notebook wall time: {elapsed:.0f} s at scale {SCALE}")
results.record("wall_time", round(elapsed, 1), unit="s")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# - Any normalised $q$ gives an upper bound $F_q\ge F$ (Gibbs–Bogoliubov), and minimising it is reverse-KL
#   training from the energy alone. For discrete spins the gradient is the score-function estimator;
#   the batch mean as baseline rescales it by $(B-1)/B$ and does not bias it.
# - Kaufman's closed form gives $F$ exactly on every finite torus: on the lattice of the headline numbers
#   the VAN's $F_q$ is within the asserted bound of it, and above it within the error, as the inequality
#   demands; on $4\times4$ the KL is exact.
# - Importance sampling with the same samples gives an estimate that converges to $F$, biased upwards by
#   $O(1/n)$, and the ESS says how much the weights are worth. Independent Metropolis–Hastings turns the
#   samples into an exact Markov chain whatever $q$, with no critical slowing down of its own; its price
#   is an acceptance that falls as the lattice grows, since the KL grows with the number of spins.
# - None of these estimates sees what $q$ does not sample. Reverse KL can collapse onto one ordered state
#   (compare the run without annealing in section 6), which costs $T\ln2$ when the collapse is complete;
#   the ESS cannot reveal it, being computed from the weights that were drawn; imposing the symmetry, $q_{\text{sym}}(s)=\frac12[q(s)+q(-s)]$, repairs it.
# - For a continuous field a flow does the same with a reparameterised gradient: checked against the free
#   field's exact Gaussian free energy, and, at an interacting point, exact as an independent-Metropolis
#   proposal against Hybrid Monte Carlo.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# The first five are **checked**: fill in the cell marked `...`, run it, then run the `check` line below
# it, which measures your answer against an independent reference (the four states of two spins summed,
# `lib.ising.exact`'s enumeration of all 65,536 states, the energies of both models evaluated directly,
# the estimator's expectation summed over every tuple of draws, a numerical integral) and says what
# disagrees. The others are open: write your answer, then compare it with the model answer. In the book
# each solution is folded: try first.

# %%
import itertools

from lib.exercises import check

# %% [raw]
# # BEGIN QUESTION
# name: ex11_1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: Gibbs–Bogoliubov by hand, on two spins
#
# Two spins with $E(s_1,s_2)=-Js_1s_2-h(s_1+s_2)$ at temperature $T$, and the product distribution
# $q(s_1,s_2)=q_1(s_1)\,q_2(s_2)$ with $q_i(\pm1)=(1\pm m_i)/2$, so that $\langle s_i\rangle_q=m_i$.
# Derive $F_q=\langle E\rangle_q-TS_q$ in closed form and write
# `mean_field_free_energy(m1, m2, J, h, T)` for $|m_i|<1$. Then, at $J=1$, $h=0.5$, $T=1$, minimise it
# over $m_1=m_2=m$: which equation does the minimum satisfy, and how far is the minimum above the
# exact $F=-T\ln\sum_se^{-E(s)/T}$?


# %% tags=["hide-input"]
def mean_field_free_energy(m1: float, m2: float, J: float, h: float, T: float) -> float:
    """F_q of independent spins with means m1, m2 for E = −J s1 s2 − h (s1 + s2) at temperature T."""

    # BEGIN SOLUTION
    # Under q the spins are independent: ⟨s1 s2⟩ = m1 m2, so ⟨E⟩ = −J m1 m2 − h (m1 + m2); the entropy is the
    # sum of the two spins' entropies. At m1 = m2 = m, ∂F_q/∂m = 0 gives −2Jm − 2h + 2T artanh(m) = 0, the
    # mean-field equation m = tanh((Jm + h)/T); its F_q stays above F by T·KL(q‖p).
    def entropy(m: float) -> float:
        a, b = (1 + m) / 2, (1 - m) / 2
        return -(a * np.log(a) + b * np.log(b))

    return -J * m1 * m2 - h * (m1 + m2) - T * (entropy(m1) + entropy(m2))
    # END SOLUTION


# %%
check("11.1", mean_field_free_energy)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex11_2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: The 4×4 lattice, exactly
#
# On the $4\times4$ torus every distribution is a table of 65,536 numbers. Write
# `exact_free_energies(log_q, T)`: given $\ln q$ of every state in the order of `ising.all_states(4)`
# (a normalised $q$), return the pair $(F_q,\ \mathrm{KL}(q\,\|\,p))$ at temperature $T$, both exact
# sums over the states (use `ising.exact(4, T)` for $p$ and the energies). Which identity links the two
# numbers and $F$, and why can $F_q-F$ never be negative?


# %% tags=["hide-input"]
def exact_free_energies(log_q: np.ndarray, T: float) -> tuple[float, float]:
    """(F_q, KL(q‖p)) of a distribution q over the 4 × 4 states, given ln q in ising.all_states order."""
    # BEGIN SOLUTION
    # F_q − F = T KL(q‖p) (section 1), and KL ≥ 0 (Gibbs' inequality: −KL = Σ q ln(p/q) ≤ ln Σ q (p/q) = 0).
    ex = ising.exact(4, T)
    q = np.exp(log_q)
    f_q = float(q @ (ex["energies"] + T * log_q))
    kl = float(q @ (log_q - np.log(ex["probabilities"])))
    return f_q, kl
    # END SOLUTION


# %%
check("11.2", exact_free_energies)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex11_3

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: The antiferromagnet has the same free energy
#
# The antiferromagnet on the same torus has $E_{\text{AF}}(s)=+\sum_{\langle ij\rangle}s_is_j=-E(s)$: its
# ground states are the two checkerboards. Write `to_ferromagnet(spins)`, mapping a batch of
# configurations `(n, L, L)` for even $L$ to configurations of the ferromagnet with the same energy,
# $E\big(\texttt{to\_ferromagnet}(s)\big)=E_{\text{AF}}(s)$, one to one. Why does that make
# $Z_{\text{AF}}(T)=Z(T)$, so that Kaufman's formula gives the antiferromagnet's $F$ too? What goes wrong
# for odd $L$?


# %% tags=["hide-input"]
def to_ferromagnet(spins: np.ndarray) -> np.ndarray:
    """The configurations (n, L, L), L even, with one sublattice of the checkerboard flipped."""
    # BEGIN SOLUTION
    # Every bond joins the two sublattices of the checkerboard, so flipping one sublattice changes the sign of
    # every s_i s_j: E(εs) = −E(s) = E_AF(s) with ε_i = (−1)^(row + col). The map is its own inverse, a
    # bijection, so Z_AF = Σ_s e^{−E_AF(s)/T} = Σ_s e^{−E(εs)/T} = Z: the same F at every T. For odd L the
    # periodic lattice is not bipartite (a row is a ring of odd length): no such ε exists, and the
    # antiferromagnet is frustrated.
    L = spins.shape[1]
    sign = np.where(np.add.outer(np.arange(L), np.arange(L)) % 2 == 0, 1, -1)
    return spins * sign
    # END SOLUTION


# %%
check("11.3", to_ferromagnet)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex11_4

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: The bias of the importance-sampling estimate, exactly
#
# A system with $K$ states of energies `energies` and a proposal $q$ (an array of $K$ probabilities):
# write `expected_nis_free_energy(energies, q, n, T)`, the exact expectation of
# $\hat F_n=-T\ln\big(\frac1n\sum_{i=1}^nw(s_i)\big)$, $w=e^{-E/T}/q$, over $n$ independent draws
# $s_i\sim q$. (Hint: sum over all $K^n$ tuples with `itertools.product`.) Compare it with $F$ for
# $n=1,2,3$: in which direction is the estimate biased, and how does the bias change with $n$? What is
# $\mathbb E[\hat F_1]$?


# %% tags=["hide-input"]
def expected_nis_free_energy(energies: np.ndarray, q: np.ndarray, n: int, T: float) -> float:
    """E[−T ln((1/n) Σ w(s_i))] over n independent draws s_i ~ q, summed over every tuple of draws."""
    # BEGIN SOLUTION
    # By Jensen's inequality E ln Ẑ ≤ ln E Ẑ = ln Z: the estimate is biased upwards, by about T(1/ESS − 1)/(2n),
    # and E[F̂_n] falls with n (the mean of n + 1 weights averages n-subsets). E[F̂_1] = E_q[E + T ln q] = F_q.
    log_w = -np.asarray(energies) / T - np.log(q)
    total = 0.0
    for tup in itertools.product(range(len(q)), repeat=n):
        idx = np.array(tup)
        z_hat = np.mean(np.exp(log_w[idx]))
        total += np.prod(q[idx]) * -T * np.log(z_hat)
    return float(total)
    # END SOLUTION


# %%
check("11.4", expected_nis_free_energy)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex11_5

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5: The acceptance of independent Metropolis–Hastings for log-normal weights
#
# Suppose that under $q$ the log-weight $\ln w(s)$ is Gaussian with mean $\mu$ and variance $\sigma^2$
# (approximately true for a sum of many small local errors, by the central limit theorem). In
# equilibrium the chain's current state follows $p$ and the proposal follows $q$. Show that under $p$,
# $\ln w$ is Gaussian with mean $\mu+\sigma^2$ (hint: $p(s)=q(s)w(s)/Z$), and write
# `lognormal_acceptance(sigma)`, the mean acceptance $\mathbb E[\min(1,w'/w)]$. Show also that
# $\mathrm{KL}(q\,\|\,p)=\sigma^2/2$ and that the ESS tends to $e^{-\sigma^2}$: how do the acceptance and
# the ESS fall when the KL grows in proportion to $N$?


# %% tags=["hide-input"]
def lognormal_acceptance(sigma: float) -> float:
    """The equilibrium acceptance of independent Metropolis when ln w ~ N(μ, σ²) under the proposal q."""
    # BEGIN SOLUTION
    # Under p the density of a = ln w is ∝ e^a N(a; μ, σ²) = N(a; μ + σ², σ²) × const. The difference
    # X = ln w' − ln w is N(−σ², 2σ²), and E[min(1, e^X)] = P(X > 0) + E[e^X; X < 0] = 2Φ(−σ/√2).
    # ln Z = ln E_q[w] = μ + σ²/2, so KL(q‖p) = ln Z − E_q ln w = σ²/2, and E_q[w²]/Z² = e^{σ²}. With KL ∝ N,
    # the acceptance 2Φ(−√KL) and the ESS e^{−2 KL} fall exponentially with the number of spins.
    return float(2 * ndtr(-sigma / np.sqrt(2)))
    # END SOLUTION


# %%
check("11.5", lognormal_acceptance)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex11_6
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6: What symmetrisation does, measured exactly
#
# (a) For a $p$ symmetric under $s\to-s$, show that $\mathrm{KL}(q_{\text{sym}}\,\|\,p)\le\mathrm{KL}(q\,\|\,p)$,
# and that the difference is exactly $\ln2$ when $q(s)\,q(-s)=0$ for every $s$. (b) Train a VAN on the
# $4\times4$ lattice at $T=2.0$ without annealing (`train_van(..., anneal=False)`), compute $\ln q$ of all
# 65,536 states as in section 3, and from it $\mathrm{KL}(q\,\|\,p)$ and $\mathrm{KL}(q_{\text{sym}}\,\|\,p)$
# exactly. How close is their difference to $\ln2$, and what decides the remainder?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# (a) Write $\tilde q(s)=q(-s)$. Since $p(-s)=p(s)$, relabelling $s\to-s$ gives
# $\mathrm{KL}(\tilde q\,\|\,p)=\mathrm{KL}(q\,\|\,p)$. The KL divergence is jointly convex, so
# $\mathrm{KL}(\tfrac12q+\tfrac12\tilde q\,\|\,p)\le\tfrac12\mathrm{KL}(q\,\|\,p)+\tfrac12\mathrm{KL}(\tilde q\,\|\,p)=\mathrm{KL}(q\,\|\,p)$.
# If the supports of $q$ and $\tilde q$ are disjoint, then on the support of $q$, $q_{\text{sym}}=q/2$, and on
# that of $\tilde q$, $q_{\text{sym}}=\tilde q/2$; the two halves contribute equally, and
# $\mathrm{KL}(q_{\text{sym}}\,\|\,p)=\sum_sq(s)\ln\frac{q(s)/2}{p(s)}=\mathrm{KL}(q\,\|\,p)-\ln2$.
#
# (b) The difference is $\ln2$ minus what the overlap of $q$ and $\tilde q$ costs. A collapsed network
# gives the states with $M<0$ a small but non-zero probability, and the states with $M=0$ (and small $|M|$)
# belong to both halves, so the difference comes out a little below $\ln2$. The remainder,
# $\mathrm{KL}(q_{\text{sym}}\,\|\,p)$, measures how well the network describes the ordered state it
# chose; with the exact tables both numbers have no statistical error at all.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex11_7
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7: A VAN for the antiferromagnet
#
# Train the VAN of section 3 on the antiferromagnet, $E_{\text{AF}}=-E$, at $T_c$ on the lattice
# `L_MAIN` (replace `ising_energy(x, L)` by its negative in `train_van`). Before you run it: what $F_q$ do
# you expect, and can the same MADE describe the antiferromagnet's Boltzmann distribution as well as the
# ferromagnet's? Does the training itself behave the same way?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Exercise 3 gives $p_{\text{AF}}(s)=p(\varepsilon s)$ with $\varepsilon_i=(-1)^{r+c}$ and the same $F$.
# The MADE can follow the change of variables exactly. In bits, flipping spin $i$ is $x_i\to1-x_i$, an
# affine map of each input, which the first layer absorbs (the columns $i$ of the masked input weights and
# of the direct weights change sign, and the biases shift by those columns); and
# $q_{\text{AF}}(s_i=+1\mid s_{<i})=q(\varepsilon_is_i=+1\mid\ldots)$ flips the sign of logit $i$ where
# $\varepsilon_i=-1$ (the output weights and bias of row $i$ change sign). The masks are untouched, since
# the ordering is the same. So for every ferromagnetic network there is an antiferromagnetic one with the
# same $F_q-F$, and the best achievable $F_q$ is the same. The training runs are not identical: the map
# maps the initial network of one run to a network that is not the initial network of the other (its
# biases are shifted), so the runs differ as two seeds do; expect the same accuracy within the spread
# between seeds.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex11_8
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 8: Forward against reverse KL
#
# Train the same MADE by maximum likelihood on Wolff samples at $T_c$ (lecture 07's forward KL,
# $\mathrm{KL}(p\,\|\,q)$; `ising_mc.sample`), and compare its $F_q$, its ESS and its acceptance as a
# proposal with those of section 3, at the same number of network evaluations. Which objective gives the
# better sampler, and which gives the better bound? What does each need that the other does not?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Forward KL is *mass-covering*: a $q$ that misses a region where $p$ has mass pays $-\ln q\to\infty$
# there, so it spreads over both ordered states and over the fluctuations, and tends to be broader than
# $p$. Broad proposals are what importance sampling and independent Metropolis need: the weights
# $w=p/q$ stay bounded where $q$ is broader, while a $q$ narrower than $p$ produces rare huge weights. So
# expect the forward-KL model to make the more robust proposal, and the reverse-KL model the tighter bound
# $F_q$, since that is the quantity it minimises (at equal capacity and effort; check both). Forward KL
# needs samples of $p$, which is what the sampler was meant to provide: near $T_c$ they come from a Monte
# Carlo run, with its own autocorrelations, and its error is limited by their number. Reverse KL needs
# only $E$, but it can collapse onto a mode (section 6). In practice the two are combined, for instance
# forward KL on a few Monte Carlo samples to start, then reverse KL.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex11_9
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 9: The flow on a larger lattice
#
# Train the interacting $\varphi^4$ flow of section 7 on $L=16$ with the same recipe (`L_PHI = 16`).
# Before you run it, predict how the KL, the ESS and the acceptance change, using exercise 5. What would
# you have to change to keep the acceptance, and what happens to HMC's cost per independent sample?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# The couplings are local and the flow treats every site alike, so if it is as good per site on the larger
# lattice, its KL grows in proportion to the volume, four times larger at $L=16$; by exercise 5 the
# acceptance $2\Phi(-\sqrt{\mathrm{KL}})$ and the ESS $e^{-2\mathrm{KL}}$ then fall sharply (from an ESS of
# 0.5 at $L=8$, say, to about $0.5^4\approx0.06$). Long-wavelength modes make it worse: the conditioner
# reads a 5×5 neighbourhood per layer, and correlations longer than the receptive field of the stack need
# more layers. To keep the acceptance the KL per site must fall as $1/V$: more layers, wider conditioners,
# longer training, all of which cost more per sample. HMC's cost grows too: a trajectory costs $O(V)$, and
# its autocorrelation time grows with the correlation length, strongly near a critical point. Whether the
# flow pays off depends on where the comparison is made; {cite:t}`albergo2019` compare the integrated
# autocorrelation times of flow-based, HMC and local-Metropolis chains as the lattice grows; a fair
# comparison also weighs the cost of one step of each, and the flow's training.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
