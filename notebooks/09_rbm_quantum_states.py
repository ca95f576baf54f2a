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
# # 09 · Boltzmann machines as quantum wavefunctions: variational Monte Carlo against the exact ground state
#
# So far a Boltzmann machine has modelled a *probability distribution*: of digits (lectures 01,
# 02) or of Ising configurations (lecture 07), learned from samples. {cite:t}`carleo2017` used
# the same RBM for something else: as the **amplitude** $\psi(s)$ of a quantum state of $n$ spins.
# There are no data. The RBM is trained to minimise the energy of a Hamiltonian, from samples it
# draws from its own Born distribution $|\psi(s)|^2$: a generative model that learns a quantum
# mechanical probability distribution by itself.
#
# Quantum spin chains are the ideal test, because two of them are exactly solvable. Every number
# in this lecture is measured against an exact one: a closed form, exact diagonalisation, or a
# published exact energy.
#
# **What you will learn**
# - the transverse-field Ising chain, its two phases and its quantum critical point;
# - the variational principle, and the RBM wavefunction obtained by tracing out hidden units;
# - why real, positive amplitudes suffice for this model ("stoquastic"), and where they fail;
# - variational Monte Carlo (VMC): Metropolis sampling of $|\psi|^2$ with a measured
#   autocorrelation time, the local energy, the energy gradient from log-derivatives;
# - stochastic reconfiguration (natural gradient in the Fisher metric) against Adam;
# - the relative energy error against system size, hidden-unit density and field, and
#   spin-spin correlations with error bars against exact diagonalisation;
# - the Heisenberg chain, whose ground state has signs, made positive by the Marshall sign rule.
#
# **Prerequisites:** lecture 01 (RBMs, free energy), lecture 07 (Metropolis, autocorrelation
# times). From quantum mechanics: states as vectors, Hamiltonians as Hermitian matrices, Pauli
# matrices, the ground state as the lowest eigenvector. No quantum many-body theory is assumed.

# %% slideshow={"slide_type": "subslide"}
import math
import time

import numpy as np
import matplotlib.pyplot as plt
import scipy.sparse.linalg as sla
from IPython.display import Markdown, display
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from lib import cache, config, ising_mc, nqs, results, spin_chains

SCALE = config.setup("09_rbm_quantum_states", seed=0)
# Small matrices (a few thousand configurations × ~100 parameters): one BLAS thread is as fast as
# several, and does not collapse when the CPU is shared.
threadpool_limits(1)

J = 1.0  # the Ising coupling sets the unit of energy
N_MAIN = config.scaled(smoke=8, lecture=20, full=40)  # chain of the first run, SR vs Adam
N_SIZES = config.scaled(smoke=[8], lecture=[10, 20, 40], full=[20, 40, 80])  # relative error vs n
N_ALPHA = config.scaled(smoke=8, lecture=20, full=80)  # chain of the α scan
ALPHAS = [1, 2, 4]  # hidden units per spin, α = n_hidden / n
ALPHA_MAIN = 2
FIELDS = [0.5, 1.0, 2.0]  # h / J: ordered, critical, disordered
N_ED_MAX = config.scaled(smoke=12, lecture=16, full=16)  # largest exact diagonalisation
N_CORR = config.scaled(smoke=8, lecture=16, full=16)  # correlations against exact diagonalisation
HEIS_RUNS = config.scaled(  # (n, α) of the Heisenberg runs
    smoke=[(8, 1), (8, 2)], lecture=[(16, 2), (22, 1), (22, 2)], full=[(16, 2), (22, 1), (22, 2), (22, 4)]
)
STEPS = config.scaled(smoke=150, lecture=300, full=1000)  # optimisation steps of every run
N_CHAINS = config.scaled(smoke=500, lecture=1000, full=2000)  # Markov chains = samples per step
FINAL_PER_CHAIN = config.scaled(smoke=20, lecture=50, full=100)  # final estimate: samples per chain
BURN_IN = 10  # sweeps from random states before the first step (ψ ≈ uniform there); see section 4
SR_LR = 0.1  # stochastic reconfiguration: learning rate η
SHIFT0, SHIFT_DECAY, SHIFT_MIN = 1.0, 0.95, 1e-3  # diagonal shift λ_p = max(λ0 · 0.95^p, 1e-3)
ADAM_LR = 0.01
INIT_SCALE = 0.01  # initial parameters ~ N(0, 0.01²): small, but not zero (section 7)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The transverse-field Ising chain
#
# $n$ spins-½ on a ring ($\sigma_{n} \equiv \sigma_0$), with the Pauli matrices $\sigma^x, \sigma^z$
# acting on each:
#
# $$H = -J\sum_{i=0}^{n-1} \sigma^z_i \sigma^z_{i+1} \;-\; h\sum_{i=0}^{n-1} \sigma^x_i .$$
#
# In the basis of $\sigma^z$ eigenstates $|s\rangle = |s_0 \dots s_{n-1}\rangle$, $s_i = \pm 1$, the
# first term is diagonal: it is the classical Ising energy of lecture 07 in one dimension. The
# second is not: $\sigma^x_i$ flips spin $i$, so $h$ lets the spins tunnel. $H$ is a
# $2^n \times 2^n$ matrix, and its lowest eigenvector, the **ground state** $|\psi_0\rangle$ with
# energy $E_0$, is what we want.
#
# - For $h \ll J$ the spins align along $z$: the ground state is close to
#   $(|{\uparrow\uparrow\cdots}\rangle + |{\downarrow\downarrow\cdots}\rangle)/\sqrt2$, with
#   long-range order, $\langle \sigma^z_0 \sigma^z_r\rangle \to m^2 > 0$ at large $r$.
# - For $h \gg J$ every spin points along $x$: the ground state is close to the uniform
#   superposition of all $2^n$ configurations, and correlations decay exponentially.
# - At $h = J$ the chain has a **quantum phase transition**. The energy gap closes, and the
#   correlations decay as a power law, $\langle \sigma^z_0 \sigma^z_r\rangle \sim r^{-1/4}$. This
#   critical point is the hardest case for a variational wavefunction.
#
# **The exact solution.** A Jordan–Wigner transformation maps the chain onto free fermions
# {cite:p}`pfeuty1970`. For even $n$ the ground state lies in the sector with antiperiodic fermion
# momenta, and
#
# $$E_0 = -\sum_{m=1}^{n} \sqrt{J^2 + h^2 - 2Jh\cos k_m}, \qquad k_m = \frac{(2m-1)\pi}{n}.$$
#
# `spin_chains.tfim_ground_energy` evaluates it (and refuses odd $n$, whose ground state lies in the other
# sector). We check it against **exact diagonalisation**: `spin_chains.tfim_hamiltonian` builds $H$ as a
# sparse matrix (spin $i$ is bit $n-1-i$ of the basis index, bit 0 = spin up) and the Lanczos
# algorithm (`scipy.sparse.linalg.eigsh`) finds its lowest eigenvalue up to $n = 16$
# (65,536 states).

# %%
check_rows = []
for n in range(4, N_ED_MAX + 1, 4):
    for h in FIELDS:
        e_lanczos = sla.eigsh(spin_chains.tfim_hamiltonian(n, h, J), k=1, which="SA")[0][0]
        check_rows.append((n, h, e_lanczos, spin_chains.tfim_ground_energy(n, h, J)))
worst = max(abs(a - b) for _, _, a, b in check_rows)
print(" n    h      Lanczos E0     closed form E0")
for n, h, a, b in check_rows:
    print(f"{n:2d}  {h:3.1f}  {a:14.10f}  {b:14.10f}")
print(f"largest difference: {worst:.1e}")
assert worst < 1e-8, check_rows  # the closed form and the sparse Hamiltonian agree

# %% [markdown]
# The two phases are visible even on a small ring. From the exact ground state $\psi_0$ we
# compute two observables, both diagonal in $s$ and hence averages over $|\psi_0(s)|^2$: the
# magnetisation $\langle |\sum_i \sigma^z_i| \rangle / n$ and the correlation function
# $C(r) = \langle \sigma^z_0 \sigma^z_r \rangle$.


# %% slideshow={"slide_type": "subslide"}
def exact_ground_state(H):
    """Lowest eigenvalue and eigenvector (sign fixed so that its sum is positive)."""
    w, v = sla.eigsh(H, k=1, which="SA")
    return w[0], v[:, 0] * np.sign(v[:, 0].sum())


def diagonal_observables(states, prob):
    """C(r) = <s_0 s_r> (averaged over translations) and <|Σ s|>/n under the weights prob."""
    n = states.shape[1]
    corr = np.array([prob @ np.mean(states * np.roll(states, -r, axis=1), axis=1) for r in range(n // 2 + 1)])
    return corr, prob @ np.abs(states.mean(axis=1))


n_phase = N_ED_MAX - 2
phase_states = spin_chains.spin_states(n_phase)
h_grid = np.linspace(0.1, 2.5, config.scaled(smoke=9, lecture=17, full=25))
phase_mag, phase_corr = [], {}
for h in tqdm(h_grid, desc="exact diagonalisation"):
    _, psi0 = exact_ground_state(spin_chains.tfim_hamiltonian(n_phase, h, J))
    corr, mag = diagonal_observables(phase_states, psi0**2)
    phase_mag.append(mag)
    phase_corr[h] = corr

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].plot(h_grid, phase_mag, "o-")
axes[0].axvline(J, color="gray", ls="--", label="$h = J$")
axes[0].set(
    xlabel="$h/J$", ylabel=r"$\langle|\sum_i\sigma^z_i|\rangle/n$", title=f"magnetisation, n = {n_phase}"
)
axes[0].legend()
for h in h_grid[:: max(1, len(h_grid) // 5)]:
    axes[1].plot(phase_corr[h], "o-", label=f"h = {h:.1f}")
axes[1].set(xlabel="distance r", ylabel=r"$\langle\sigma^z_0\sigma^z_r\rangle$", title="correlations (exact)")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The variational principle and the RBM wavefunction
#
# For any state $\psi$, the energy expectation bounds the ground-state energy from above:
#
# $$E[\psi] = \frac{\langle\psi|H|\psi\rangle}{\langle\psi|\psi\rangle} \;\ge\; E_0,$$
#
# with equality only for the ground state (expand $\psi$ in eigenvectors of $H$). So we choose a
# family $\psi_\theta$ and minimise $E[\psi_\theta]$ over $\theta$. The family decides everything:
# it must be rich enough to contain a good approximation of $\psi_0$, and cheap to evaluate one
# amplitude $\psi_\theta(s)$ at a time, since we can never store all $2^n$ of them.
#
# **The RBM amplitude.** Take lecture 01's energy, with visible spins $s_i = \pm1$ and hidden
# units $h_j = \pm 1$ (instead of $\{0,1\}$), $E(s, h) = -\sum_i a_i s_i - \sum_j b_j h_j -
# \sum_{ij} s_i W_{ij} h_j$, and trace out the hidden units as we did for the free energy. Each
# $h_j$ appears in one factor, and $\sum_{h_j = \pm1} e^{h_j x} = 2\cosh x$, so
#
# $$\psi(s) = \sum_{h} e^{-E(s,h)} = e^{\sum_i a_i s_i} \prod_{j=1}^{m} 2\cosh\Big(b_j + \sum_i W_{ij} s_i\Big).$$
#
# The difference with lecture 01 is the interpretation: this marginal is now the **amplitude**,
# and the probability of a configuration is the Born rule, $p(s) = |\psi(s)|^2 / \sum_{s'}
# |\psi(s')|^2$. The density of hidden units $\alpha = m/n$ controls the expressiveness, like the
# number of hidden units of lecture 01. Each hidden unit couples all spins: an RBM can carry
# correlations at any distance, which a product state or a short-range ansatz cannot.
#
# **Translation invariance.** The ring is invariant under translations, so the ground state is
# too. {cite:t}`carleo2017` build this in: $\alpha$ filters $w_f$ of $n$ weights, each applied at all
# $n$ positions, $W_{i, (f,t)} = w_f[(i - t) \bmod n]$, $b_{(f,t)} = b_f$, $a_i = a$. This is
# still an RBM with $m = \alpha n$ hidden units, but with $\alpha n + \alpha + 1$ parameters instead
# of $n + m + nm$ (`nqs.SymmetricRBM`; `nqs.RBM` is the unconstrained one). Below we check that
# the formula above, written out in one line, is what the library evaluates.
#
# **Why real, positive parameters suffice here.** In the $\sigma^z$ basis every off-diagonal
# element of $H$ is $-h \le 0$: the Hamiltonian is **stoquastic**. Then $e^{-\tau H}$ has
# non-negative entries, and since single flips connect all configurations, the Perron–Frobenius
# theorem makes the ground state unique with strictly positive amplitudes $\psi_0(s) > 0$. A
# real RBM ($2\cosh > 0$) is positive everywhere, so it loses nothing by having no signs. This
# fails for **frustrated** magnets (e.g. the antiferromagnet on a triangular lattice) and for
# **fermions**, whose antisymmetry forces signs that no simple rotation removes: there the
# amplitude needs complex parameters or an explicit sign structure, and the optimisation is much
# harder (the "sign problem" of quantum Monte Carlo reappears). Section 7 treats a middle case.

# %%
rng_demo = np.random.default_rng(config.seed())
demo = nqs.SymmetricRBM.random(6, 2, scale=0.5, seed=config.seed())
a_vec, b_vec, W = demo.dense()  # the equivalent unconstrained RBM: a (n,), b (m,), W (n, m)
s_demo = rng_demo.choice([-1.0, 1.0], size=(5, 6))
by_hand = s_demo @ a_vec + np.log(2 * np.cosh(s_demo @ W + b_vec)).sum(axis=1)
print("log ψ by the formula:", np.round(by_hand, 6))
print("log ψ by lib.nqs:    ", np.round(demo.log_psi(s_demo), 6))
print(f"parameters: {demo.n_params} (translation-invariant) vs {demo.to_rbm().n_params} (unconstrained)")
assert np.allclose(by_hand, demo.log_psi(s_demo))
assert np.allclose(demo.log_psi(s_demo), demo.log_psi(np.roll(s_demo, 2, axis=1)))  # translation invariant

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Variational Monte Carlo
#
# **The energy as an average.** Insert $\sum_{s}|s\rangle\langle s|$ into $E[\psi]$:
#
# $$E[\psi] = \sum_s \frac{|\psi(s)|^2}{\sum_{s'}|\psi(s')|^2}\, E_{\text{loc}}(s), \qquad
# E_{\text{loc}}(s) = \sum_{s'} H_{s s'}\frac{\psi(s')}{\psi(s)} .$$
#
# The **local energy** needs only ratios of amplitudes (no normalisation), and $H$ has $n+1$
# non-zero elements per row. For our chain
#
# $$E_{\text{loc}}(s) = -J\sum_i s_i s_{i+1} - h \sum_i \frac{\psi(s^{(i)})}{\psi(s)},$$
#
# with $s^{(i)}$ = $s$ with spin $i$ flipped (`spin_chains.local_energy`). So $E$ is the average of
# $E_{\text{loc}}$ over samples of $|\psi|^2$. If $\psi$ is an eigenstate, $E_{\text{loc}}(s) = E$
# for every $s$: the variance of the local energy vanishes (the **zero-variance principle**), so
# the better the wavefunction, the smaller the statistical error. We will watch that variance.
#
# **Sampling $|\psi|^2$.** As for the Ising model of lecture 07: Metropolis with single-spin
# flips, accepted with probability $\min(1, |\psi(s')/\psi(s)|^2)$, run on `N_CHAINS` independent
# chains at once (one row of a matrix each; `nqs.metropolis`). One *sweep* is $n$ proposals. The
# chains persist from one optimisation step to the next (like persistent CD in lecture 01): each
# step moves them one sweep under the slightly changed $\psi$. Section 4 measures the
# autocorrelation time that justifies one sweep between steps and the burn-in.
#
# **The gradient.** With the log-derivatives $O_k(s) = \partial_{\theta_k}\log\psi(s)$ (for the
# RBM: $s_i$, $\tanh\theta_j$ and $s_i\tanh\theta_j$, with $\theta_j = b_j + \sum_i W_{ij}s_i$),
#
# $$\frac{\partial E}{\partial\theta_k} = 2\left(\langle O_k E_{\text{loc}}\rangle - \langle O_k\rangle\langle E_{\text{loc}}\rangle\right) = 2F_k ,$$
#
# a covariance over $|\psi|^2$ (real parameters): again only samples are needed.
#
# **Stochastic reconfiguration** {cite:p}`sorella1998`. Plain gradient descent treats all parameters
# alike, but a small change of one parameter can change $\psi$ a lot and of another hardly at all.
# SR measures steps by how much they change the *state*: the metric is the covariance of the
# log-derivatives,
#
# $$S_{kl} = \langle O_k O_l\rangle - \langle O_k\rangle\langle O_l\rangle, \qquad
# \delta\theta = -\eta\,(S + \lambda\,\mathbb 1)^{-1} F .$$
#
# $S$ is the Fisher information of $|\psi_\theta|^2$ (up to a factor 4; the quantum geometric
# tensor of the normalised state), so SR is **natural-gradient descent**; equivalently, it is the
# best approximation within the family of a step of imaginary-time evolution
# $\psi \to (1 - \eta H)\psi$, which converges to the ground state. The **diagonal shift**
# $\lambda$ regularises the noisy, nearly singular $S$. From a tiny initialisation some $O_k$
# hardly fluctuate (e.g. $O_{b_f} = \sum_t \tanh\theta_{f,t}$ when all $\theta \approx 0$), so
# $S^{-1}$ would amplify their noisy forces into huge first steps; a large $\lambda$ makes those
# steps gradient-like (rate $\eta/2\lambda$). We start at $\lambda_0 = 1$ and decay it
# geometrically to $10^{-3}$.
#
# The loop below is the whole method: sample, local energies, log-derivatives, update.


# %% slideshow={"slide_type": "subslide"}
class Adam:
    """Adam (Kingma & Ba 2015) on a flat parameter vector: the comparison for SR."""

    def __init__(self, n_params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m, self.v, self.t = np.zeros(n_params), np.zeros(n_params), 0

    def step(self, grad):
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1 - self.beta2) * grad**2
        m_hat = self.m / (1 - self.beta1**self.t)
        v_hat = self.v / (1 - self.beta2**self.t)
        return -self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def random_states(n, n_chains, rng, zero_magnetisation=False):
    """Random ±1 starting configurations (with Σ s = 0 for the exchange moves of section 7)."""
    if zero_magnetisation:
        return rng.permuted(np.tile(np.repeat([1.0, -1.0], n // 2), (n_chains, 1)), axis=1)
    return rng.choice([-1.0, 1.0], size=(n_chains, n))


def vmc(model, local_energy, n_steps, *, seed, optimizer="sr", move="flip", desc="VMC"):
    """Minimise <E_loc> over |ψ|² by SR (or Adam); returns the chains' states and the history."""
    rng = np.random.default_rng(seed)
    s = random_states(model.n_visible, N_CHAINS, rng, zero_magnetisation=move == "exchange")
    s, lp, _ = nqs.metropolis(model, s, BURN_IN, rng=rng, move=move)
    adam = Adam(model.n_params, ADAM_LR)
    hist = {"energy": [], "error": [], "variance": [], "acceptance": [], "seconds": []}
    for p in tqdm(config.training(range(n_steps)), desc=desc, leave=False):
        t0 = time.perf_counter()
        s, lp, acc = nqs.metropolis(model, s, 1, rng=rng, move=move, log_psi_s=lp)  # one sweep
        e = local_energy(model, s)  # (N_CHAINS,)
        O = model.log_derivatives(s)  # (N_CHAINS, n_params)
        if optimizer == "sr":
            shift = max(SHIFT0 * SHIFT_DECAY**p, SHIFT_MIN)
            delta = nqs.sr_update(O, e, learning_rate=SR_LR, diag_shift=shift)
        else:
            delta = adam.step(nqs.energy_gradient(O, e))
        model.set_params(model.params + delta)
        lp = model.log_psi(s)
        hist["seconds"].append(time.perf_counter() - t0)
        hist["energy"].append(e.mean())
        hist["error"].append(e.std() / math.sqrt(len(e)))  # the chains are independent
        hist["variance"].append(e.var())
        hist["acceptance"].append(acc)
    return s, {k: np.asarray(v) for k, v in hist.items()}


def measure(model, local_energy, s, *, seed, move="flip", thin=1, per_chain=FINAL_PER_CHAIN):
    """The final estimate: BURN_IN_FINAL sweeps (section 4), then per_chain samples per chain,
    thin sweeps apart.
    The error bar uses the integrated autocorrelation time τ (in samples) of E_loc along the chains."""
    rng = np.random.default_rng(seed)
    res = nqs.sample(model, s, per_chain, thin=thin, burn_in=BURN_IN_FINAL, rng=rng, move=move)
    e = np.stack([local_energy(model, x) for x in res.samples])  # (per_chain, N_CHAINS)
    tau = ising_mc.integrated_autocorrelation_time(e)
    err = e.std() * math.sqrt(2 * tau / e.size)
    return {"energy": e.mean(), "error": err, "tau": tau, "n_samples": e.size, "samples": res.samples}


VMC_SETTINGS = {
    "steps": STEPS, "chains": N_CHAINS, "burn_in": BURN_IN, "sr_lr": SR_LR,
    "shift": [SHIFT0, SHIFT_DECAY, SHIFT_MIN], "adam_lr": ADAM_LR,
}  # fmt: skip
CODE = [vmc, measure, Adam, random_states, nqs, spin_chains]  # what defines a run, for the cache


def cached_vmc(hamiltonian, model, local_energy, *, seed, optimizer="sr", move="flip", desc="VMC"):
    """vmc(...), cached by everything that defines the run (hamiltonian names the local energy,
    e.g. "tfim h=1"): a rerun loads the optimised parameters into model, the chains and the history."""

    def compute():
        s, hist = vmc(model, local_energy, STEPS, seed=seed, optimizer=optimizer, move=move, desc=desc)
        return {"params": model.params, "chains": s, **{f"hist_{k}": v for k, v in hist.items()}}

    out = cache.cached_arrays(
        f"09_vmc_n{model.n_visible}",
        compute=compute,
        code=CODE,
        params=VMC_SETTINGS | {"hamiltonian": hamiltonian, "optimizer": optimizer, "move": move},
        data=model.params,  # the initial parameters
        seed=seed,
    )
    model.set_params(out["params"])
    return out["chains"], {k.removeprefix("hist_"): v for k, v in out.items() if k.startswith("hist_")}


def cached_measure(hamiltonian, model, local_energy, s, *, seed, move="flip", thin=1):
    """measure(...), cached by the model's parameters and the chains it starts from."""

    def compute():
        est = measure(model, local_energy, s, seed=seed, move=move, thin=thin)
        return est | {"samples": est["samples"].astype(np.int8)}  # ±1 spins

    out = cache.cached_arrays(
        f"09_measure_n{model.n_visible}",
        compute=compute,
        code=CODE,
        params={
            "hamiltonian": hamiltonian,
            "move": move,
            "thin": thin,
            "per_chain": FINAL_PER_CHAIN,
            "burn_in": BURN_IN_FINAL,
        },
        data=[model.params, s],
        seed=seed,
    )
    est = {k: v.item() if v.ndim == 0 else v for k, v in out.items()}
    return est | {"samples": out["samples"].astype(np.float64)}


def run_seed(*key):
    """A seed for one run, derived from the notebook's seed (COURSE_SEED) and the run's settings."""
    return int(np.random.SeedSequence([config.seed(), *[round(1000 * k) for k in key]]).generate_state(1)[0])


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The first ground state: the critical chain, SR against Adam
#
# We train the translation-invariant RBM with $\alpha = 2$ at the critical point $h = J$ on a ring
# of `N_MAIN` spins, once with SR and once with Adam: the same samples per step, the same number of
# steps, the same initialisation. For each run `TFIM_RUNS` keeps the model, the training history
# and the final estimate of the energy from `N_CHAINS × FINAL_PER_CHAIN` fresh samples. The
# relative error $\epsilon_{\text{rel}} = (E - E_0)/|E_0|$ is measured against the closed form.

# %%
TFIM_RUNS = {}


def tfim_train(n, alpha, h, optimizer="sr"):
    """Train (once) the translation-invariant RBM for the chain (n, h) with α filters."""
    key = (n, alpha, h, optimizer)
    if key not in TFIM_RUNS:
        seed = run_seed(n, alpha, h)  # SR and Adam start from the same parameters and chains
        model = nqs.SymmetricRBM.random(n, alpha, scale=INIT_SCALE, seed=seed)
        eloc = lambda m, s: spin_chains.local_energy(m, s, h, J)
        s, hist = cached_vmc(
            f"tfim h={h} J={J}",
            model,
            eloc,
            seed=seed,
            optimizer=optimizer,
            desc=f"n={n} α={alpha} h={h} {optimizer}",
        )
        e0 = spin_chains.tfim_ground_energy(n, h, J)
        TFIM_RUNS[key] = {"model": model, "eloc": eloc, "hist": hist, "chains": s, "E0": e0, "seed": seed,
                          "rel_init": (hist["energy"][0] - e0) / abs(e0)}  # fmt: skip
    return TFIM_RUNS[key]


def tfim_run(n, alpha, h, optimizer="sr"):
    """Train (once) and add the final estimate, THIN sweeps between samples."""
    r = tfim_train(n, alpha, h, optimizer)
    if "energy" not in r:
        r.update(
            cached_measure(
                f"tfim h={h} J={J}", r["model"], r["eloc"], r["chains"], seed=r["seed"] + 1, thin=THIN
            )
        )
        r["rel"] = (r["energy"] - r["E0"]) / abs(r["E0"])
        r["rel_error"] = r["error"] / abs(r["E0"])
    return r


main_sr = tfim_train(N_MAIN, ALPHA_MAIN, 1.0, "sr")
main_adam = tfim_train(N_MAIN, ALPHA_MAIN, 1.0, "adam")
sec_per_step = float(np.median(main_sr["hist"]["seconds"]))
for name, r in [("SR", main_sr), ("Adam", main_adam)]:
    e_last = r["hist"]["energy"][-1]
    print(f"{name:4s}: last step E = {e_last:.5f} ± {r['hist']['error'][-1]:.5f} (E0 = {r['E0']:.5f}); "
          f"relative error before training {r['rel_init']:.2e}")  # fmt: skip
print(f"time per SR step at n = {N_MAIN}, {N_CHAINS} chains: {1000 * sec_per_step:.1f} ms")

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for name, r, c in [("SR", main_sr, "C0"), ("Adam", main_adam, "C1")]:
    steps = np.arange(len(r["hist"]["energy"]))
    rel = (r["hist"]["energy"] - r["E0"]) / abs(r["E0"])
    band = r["hist"]["error"] / abs(r["E0"])
    axes[0].plot(steps, np.abs(rel), color=c, lw=1, label=name)
    axes[0].fill_between(steps, np.maximum(np.abs(rel) - band, 1e-7), np.abs(rel) + band, color=c, alpha=0.25)
    axes[1].semilogy(steps, r["hist"]["variance"], color=c, label=name)
axes[0].set(
    yscale="log",
    xlabel="step",
    ylabel=r"$|E - E_0|/|E_0|$",
    title=f"energy per step ± its error, n = {N_MAIN}",
)
axes[1].set(xlabel="step", ylabel=r"Var $E_{\rm loc}$", title="zero-variance principle")
for ax in axes:
    ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Both optimisers start from the same state with the same samples per step. Look for the order of
# magnitude between their final errors, and for the variance of the local energy dropping
# together with the energy error: the variance is a built-in, reference-free measure of how close
# $\psi$ is to an eigenstate.
#
# **How long must the chains run?** We measure the integrated autocorrelation time
# $\tau_{\text{int}}$ (lecture 07; `ising_mc.integrated_autocorrelation_time`) of the local energy
# and of $m^2 = (\sum_i s_i/n)^2$ along chains of the trained $\psi$, one sample per sweep. The
# error of a mean of $N$ correlated samples is $\sigma\sqrt{2\tau_{\text{int}}/N}$; samples
# $2\tau_{\text{int}}$ sweeps apart are effectively independent.

# %% slideshow={"slide_type": "subslide"}
rng_ac = np.random.default_rng(run_seed(N_MAIN, 99))
ac_chains = min(N_CHAINS, 200)
ac = nqs.sample(main_sr["model"], main_sr["chains"][:ac_chains], config.scaled(smoke=100, lecture=200, full=400),
                thin=1, burn_in=BURN_IN, rng=rng_ac)  # fmt: skip
e_series = np.stack(
    [spin_chains.local_energy(main_sr["model"], x, 1.0, J) for x in ac.samples]
)  # (T, chains)
m2_series = ac.samples.mean(axis=2) ** 2
tau_e = ising_mc.integrated_autocorrelation_time(e_series)
tau_m2 = ising_mc.integrated_autocorrelation_time(m2_series)
TAU_MAX = max(tau_e, tau_m2)
THIN = max(1, math.ceil(2 * TAU_MAX - 1e-9))  # samples 2 τ_int apart
BURN_IN_FINAL = max(BURN_IN, math.ceil(10 * TAU_MAX))  # before a final estimate: 10 τ_int
print(f"acceptance {ac.acceptance:.2f}; τ_int in sweeps: E_loc {tau_e:.2f}, m² {tau_m2:.2f}")
print(f"so: thinning {THIN} sweep(s) between samples, burn-in {BURN_IN_FINAL} sweeps before a final estimate")
lags = np.arange(1, 11)
acf = [
    np.mean((e_series[:-k] - e_series.mean()) * (e_series[k:] - e_series.mean())) / e_series.var()
    for k in lags
]
plt.figure(figsize=(5, 3.2))
plt.plot(lags, acf, "o-")
plt.axhline(0, color="gray", lw=0.8)
plt.xlabel("lag (sweeps)")
plt.ylabel(r"autocorrelation of $E_{\rm loc}$")
plt.title(f"trained ψ, n = {N_MAIN}, h = J")
plt.tight_layout()
plt.show()

# %% [markdown]
# The final estimates of both runs, from fresh samples `THIN` sweeps apart:

# %%
main_sr = tfim_run(N_MAIN, ALPHA_MAIN, 1.0, "sr")
main_adam = tfim_run(N_MAIN, ALPHA_MAIN, 1.0, "adam")
for name, r in [("SR", main_sr), ("Adam", main_adam)]:
    print(
        f"{name:4s}: E = {r['energy']:.5f} ± {r['error']:.5f} (E0 = {r['E0']:.5f}), relative error "
        f"{r['rel']:.2e} ± {r['rel_error']:.1e} from {r['n_samples']} samples (τ_int {r['tau']:.2f} samples)"
    )

# %% [markdown]
# A single-spin-flip Metropolis chain decorrelates the local energy within about a sweep at
# $h = J$ (printed above), so one sweep between optimisation steps suffices for the gradient;
# the final estimates take samples `THIN` $\ge 2\tau_{\text{int}}$ sweeps apart after a burn-in of
# `BURN_IN_FINAL` $\ge 10\,\tau_{\text{int}}$ sweeps (on top of the whole training run, during which
# the chains followed the slowly changing $\psi$), and their error bars use the
# $\tau_{\text{int}}$ measured again on their own samples. The magnetisation can decorrelate more
# slowly than the energy (compare the two times printed above), and at $h = J$ its
# $\tau_{\text{int}}$ grows with the length of the chain (critical slowing down, as at $T_c$ in
# lecture 07): that is why the burn-in and the thinning are measured, not fixed. (Deep in the ordered phase, $h < J$, it is different: to reverse
# the sign of the magnetisation a chain must cross a configuration with a domain wall through
# the whole ring, which single flips rarely do. $m^2$ and $|m|$ do not care about the sign, so
# they still mix; exercise 3 asks for a global flip move.)

# %% tags=["learning-check"]
# SR must bring the energy of the critical chain to within REL_MAIN of the exact E0, far below the
# same RBM before training (which is close to the uniform state, relative error ≈ 0.2), and beat
# Adam on the same budget; Adam must also have learned. Measured at smoke (n=8), COURSE_SEED=0,1,2:
# |SR relative error| 1e-6–1.1e-5; Adam 2.5e-4–7.4e-3 (SR/Adam ≤ 0.024); initial 0.219–0.224.
# Untrained (one update): both ≈ 0.2.
REL_MAIN = config.scaled(smoke=1e-3, lecture=1e-4, full=3e-4)
print(f"SR {main_sr['rel']:.2e}, Adam {main_adam['rel']:.2e}, initial {main_sr['rel_init']:.2e}")
assert abs(main_sr["rel"]) <= REL_MAIN, main_sr["rel"]
assert abs(main_sr["rel"]) <= 0.01 * main_sr["rel_init"], (main_sr["rel"], main_sr["rel_init"])
assert abs(main_adam["rel"]) <= 0.1 * main_adam["rel_init"], (main_adam["rel"], main_adam["rel_init"])
assert abs(main_sr["rel"]) < abs(main_adam["rel"]) / 3, (main_sr["rel"], main_adam["rel"])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Correlations against exact diagonalisation
#
# The energy is the quantity we optimised; a more demanding test is an observable we did not. On a
# ring of `N_CORR` spins, small enough for exact diagonalisation, we compare the VMC estimates of
# $C(r) = \langle\sigma^z_0\sigma^z_r\rangle$ and $\langle|\sum_i\sigma^z_i|\rangle/n$ at $h = J$
# with the exact ground state's. Each VMC estimate is an average over the final samples (averaged
# over the $n$ translations within each sample), with an autocorrelation-aware error bar.
#
# On so small a system we can also check the sampler itself: the VMC estimate of the energy of the
# trained $\psi$ must agree, within its error bar, with $\langle\psi|H|\psi\rangle/\langle\psi|\psi\rangle$
# computed by enumerating all $2^n$ amplitudes (`spin_chains.exact_energy`).

# %% slideshow={"slide_type": "subslide"}
corr_run = tfim_run(N_CORR, ALPHA_MAIN, 1.0, "sr")
corr_states = spin_chains.spin_states(N_CORR)
H_corr = spin_chains.tfim_hamiltonian(N_CORR, 1.0, J)
_, psi0_corr = exact_ground_state(H_corr)
corr_exact, mag_exact = diagonal_observables(corr_states, psi0_corr**2)


def mean_and_error(series):
    """Mean and autocorrelation-aware error of a (T, chains) series."""
    tau = ising_mc.integrated_autocorrelation_time(series)
    return series.mean(), series.std() * math.sqrt(2 * tau / series.size)


x = corr_run["samples"]  # (T, chains, n)
corr_vmc = np.array(
    [mean_and_error(np.mean(x * np.roll(x, -r, axis=2), axis=2)) for r in range(N_CORR // 2 + 1)]
)  # (r, 2): mean, error
mag_vmc = mean_and_error(np.abs(x.mean(axis=2)))
corr_dev = np.abs(corr_vmc[:, 0] - corr_exact)
corr_sigma = corr_dev / np.maximum(corr_vmc[:, 1], 1e-12)
print(" r   exact C(r)   VMC C(r)            |dev|/σ")
for r in range(N_CORR // 2 + 1):
    print(
        f"{r:2d}   {corr_exact[r]:.5f}     {corr_vmc[r, 0]:.5f} ± {corr_vmc[r, 1]:.5f}   {corr_sigma[r]:.1f}"
    )
print(f"<|m|>: exact {mag_exact:.5f}, VMC {mag_vmc[0]:.5f} ± {mag_vmc[1]:.5f}")
e_enum = spin_chains.exact_energy(corr_run["model"], H_corr, corr_states)
print(
    f"energy of the trained ψ: VMC {corr_run['energy']:.6f} ± {corr_run['error']:.6f}, "
    f"enumeration {e_enum:.6f}; exact E0 {corr_run['E0']:.6f}"
)
# The sampler and the estimator are right whatever ψ is (this holds for an untrained ψ as well).
assert abs(corr_run["energy"] - e_enum) < 5 * corr_run["error"], (
    corr_run["energy"],
    e_enum,
    corr_run["error"],
)

r_axis = np.arange(N_CORR // 2 + 1)
plt.figure(figsize=(6, 3.8))
plt.plot(r_axis, corr_exact, "k-", label="exact diagonalisation")
plt.errorbar(r_axis, corr_vmc[:, 0], yerr=corr_vmc[:, 1], fmt="o", ms=4, capsize=3, label="RBM, VMC")
plt.xlabel("distance r")
plt.ylabel(r"$\langle\sigma^z_0\sigma^z_r\rangle$")
plt.title(f"critical chain, n = {N_CORR}, α = {ALPHA_MAIN}")
plt.legend()
plt.tight_layout()
plt.show()

# %% tags=["learning-check"]
# The VMC correlations and magnetisation of the trained RBM must match the exact ground state's
# within 4 error bars plus a small systematic tolerance (the RBM is not exact). The RBM before
# training is close to the uniform state (C(r ≥ 1) ≈ 0, exact C(r) ≥ 0.4 at these sizes).
# Measured at smoke (n=8), COURSE_SEED=0,1,2: max |dev| of C 0.0019–0.0125 (at most 2.8 σ, allowed
# 4 σ + 0.01 ≈ 0.03), of |m| 0.0002–0.0059. Untrained: C(r ≥ 1) ≈ 0, max |dev| ≈ 0.5.
CORR_TOL = config.scaled(smoke=0.01, lecture=0.005, full=0.005)
print(f"max |C_VMC − C_exact| = {corr_dev.max():.4f}; |m| deviation {abs(mag_vmc[0] - mag_exact):.4f}")
assert np.all(corr_dev <= 4 * corr_vmc[:, 1] + CORR_TOL), (corr_dev, corr_vmc[:, 1])
assert abs(mag_vmc[0] - mag_exact) <= 4 * mag_vmc[1] + CORR_TOL, (mag_vmc, mag_exact)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. How good is the RBM? Size, hidden-unit density and field
#
# {cite:t}`carleo2017` (Fig. 2) reported relative energy errors of order $10^{-4}$ or less for
# this chain with $n = 80$ spins, decreasing systematically as $\alpha$ grows. We measure the
# relative error of our final estimates
#
# - against $n$ at $h = J$, $\alpha = 2$ (`N_SIZES`);
# - against $\alpha \in \{1, 2, 4\}$ at $h = J$, $n$ = `N_ALPHA`;
# - against $h \in \{0.5, 1, 2\}$ at $\alpha = 2$, $n$ = `N_ALPHA`.
#
# The closed form gives $E_0$ at every size, so the comparison does not stop where exact
# diagonalisation does. What the notebook asserts (next cells): at `lecture`, at $h = J$, a
# relative error $\le 10^{-4}$ at $n = 20$ and $\le 3\cdot10^{-4}$ at $n = 40$, each with a
# statistical error at most a third of its bound.

# %% slideshow={"slide_type": "subslide"}
size_runs = {n: tfim_run(n, ALPHA_MAIN, 1.0) for n in N_SIZES}
alpha_runs = {alpha: tfim_run(N_ALPHA, alpha, 1.0) for alpha in ALPHAS}
field_runs = {h: tfim_run(N_ALPHA, ALPHA_MAIN, h) for h in FIELDS}

lines = [
    "| run | n | α | h/J | E | E₀ (exact) | relative error | τ_int (samples) |",
    "|---|---|---|---|---|---|---|---|",
]
for label, runs in [("size", size_runs), ("α", alpha_runs), ("field", field_runs)]:
    for r in runs.values():
        n, alpha, h, _ = next(k for k, v in TFIM_RUNS.items() if v is r)
        lines.append(
            f"| {label} | {n} | {alpha} | {h} | {r['energy']:.5f} ± {r['error']:.5f} | {r['E0']:.5f} "
            f"| {r['rel']:.2e} ± {r['rel_error']:.1e} | {r['tau']:.2f} |"
        )
display(Markdown("\n".join(lines)))

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), sharey=True)
for ax, runs, xlabel in [
    (axes[0], size_runs, "n"),
    (axes[1], alpha_runs, r"$\alpha = m/n$"),
    (axes[2], field_runs, "$h/J$"),
]:
    xs = list(runs)
    ys = [max(abs(r["rel"]), 1e-9) for r in runs.values()]
    es = [r["rel_error"] for r in runs.values()]
    ax.errorbar(xs, ys, yerr=es, fmt="o-", capsize=3)
    ax.axhline(1e-4, color="gray", ls="--", lw=1, label="$10^{-4}$")
    ax.set(xlabel=xlabel, yscale="log")
    ax.legend()
axes[0].set(ylabel=r"$|E - E_0| / |E_0|$", title="vs size (h = J, α = 2)")
axes[1].set(title=f"vs α (h = J, n = {N_ALPHA})")
axes[2].set(title=f"vs field (α = 2, n = {N_ALPHA})")
plt.tight_layout()
plt.show()
display(
    Markdown(
        "Against Carleo & Troyer's order of magnitude, $10^{-4}$: "
        + ", ".join(f"n = {n}: {abs(r['rel']) / 1e-4:.2g} × 10⁻⁴" for n, r in size_runs.items())
        + f" (α = {ALPHA_MAIN}, h = J, {STEPS} steps of {N_CHAINS} samples)."
    )
)

# %% [markdown]
# Read the table with the error bars: an estimate below $E_0$ (a negative relative error) is
# allowed only within its statistical error, since the variational principle holds for the exact
# energy of $\psi$. The field scan shows where the critical point sits in difficulty: away from
# $h = J$ the ground state has short-range correlations, and a small RBM represents it almost
# exactly. In the $\alpha$ scan, look at whether a single filter ($\alpha = 1$) is enough, and what
# each doubling of the hidden layer buys.

# %% tags=["learning-check"]
# The key result. At h = J the relative energy error must be within the bound at each asserted
# size, with a statistical error (autocorrelation-aware, ≥ N_CHAINS × FINAL_PER_CHAIN samples) at
# most a third of the bound. Measured at smoke (n=8), COURSE_SEED=0,1,2: |relative error| ≤ 1.1e-5,
# statistical error 1.3e-5–2.3e-5 (bound 1e-3). Untrained: ≈ 0.2.
REL_BOUNDS = config.scaled(smoke={8: 1e-3}, lecture={20: 1e-4, 40: 3e-4}, full={20: 1e-4, 40: 3e-4, 80: 3e-4})
for n, bound in REL_BOUNDS.items():
    r = size_runs[n]
    print(f"n = {n}: relative error {r['rel']:.2e} ± {r['rel_error']:.1e} (bound {bound:.0e})")
    assert abs(r["rel"]) <= bound, (n, r["rel"], bound)
    assert r["rel_error"] <= bound / 3, (n, r["rel_error"], bound)

# %% tags=["learning-check"]
# Every model of the α and field scans must have learned: its relative error at most a tenth of
# the same RBM's before training. Measured at smoke (n=8), COURSE_SEED=0,1,2: largest ratio 0.03
# (α = 1, relative error 6.2e-3, which every seed reaches); all others ≤ 1.2e-4 / ≥ 0.056 (h = 2).
# Untrained: ratios ≈ 1.
for label, runs in [("alpha", alpha_runs), ("h", field_runs)]:
    for k, r in runs.items():
        print(f"{label} = {k}: relative error {r['rel']:.2e}, before training {r['rel_init']:.2e}")
        assert abs(r["rel"]) <= 0.1 * abs(r["rel_init"]), (label, k, r["rel"], r["rel_init"])

# %% slideshow={"slide_type": "subslide"}
largest = max(N_SIZES)
results.describe(
    model="translation-invariant RBM wavefunction (Carleo & Troyer 2017), VMC with stochastic reconfiguration",
    steps=STEPS,
    samples_per_step=N_CHAINS,
    final_samples=N_CHAINS * FINAL_PER_CHAIN,
)
for n, r in size_runs.items():
    results.record(
        f"tfim_relative_energy_error_n{n}",
        r["rel"],
        error=r["rel_error"],
        energy=r["energy"],
        exact=r["E0"],
        key=f"TFIM chain (h = J, α = 2, n = {n}): relative energy error" if n == largest else None,
    )
for alpha, r in alpha_runs.items():
    results.record(f"tfim_relative_energy_error_alpha{alpha}_n{N_ALPHA}", r["rel"], error=r["rel_error"])
for h, r in field_runs.items():
    results.record(f"tfim_relative_energy_error_h{h}_n{N_ALPHA}", r["rel"], error=r["rel_error"])
results.record("adam_relative_energy_error", main_adam["rel"], n=N_MAIN, error=main_adam["rel_error"])
results.record(
    "seconds_per_sr_step",
    sec_per_step,
    unit="s",
    n=N_MAIN,
    chains=N_CHAINS,
    key=f"time per SR step (n = {N_MAIN})",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. The Heisenberg chain: a ground state with signs
#
# The antiferromagnetic Heisenberg chain,
#
# $$H = \sum_{i} \boldsymbol\sigma_i\cdot\boldsymbol\sigma_{i+1}
#     = \sum_i \Big(\sigma^z_i\sigma^z_{i+1} + 2\,(\sigma^+_i\sigma^-_{i+1} + \sigma^-_i\sigma^+_{i+1})\Big),$$
#
# (Pauli matrices, periodic) is the harder case {cite:t}`carleo2017` also solved. Its off-diagonal
# elements exchange an antiparallel neighbouring pair with amplitude $+2 > 0$: $H$ is *not*
# stoquastic, and the ground state has signs. On a bipartite ring (even $n$) Marshall's rule
# fixes them: $\psi_0(s) = (-1)^{N_\uparrow(A)}\,|\psi_0(s)|$, with $N_\uparrow(A)$ the number of
# up spins on the even sites. Rotating the spins of one sublattice by $\pi$ about $z$ removes that
# sign: in the rotated basis the exchange amplitude becomes $-2$, the Hamiltonian is stoquastic,
# and a positive, real RBM applies again (`spin_chains.heisenberg_local_energy(..., marshall=True)`).
#
# Two more changes:
#
# - $H$ conserves $\sum_i\sigma^z_i$, and the ground state has $\sum_i s_i = 0$. The chains start
#   in that sector and stay there with **exchange moves**: swap the spins of two random sites
#   (`move="exchange"`), a symmetric proposal accepted with probability $\min(1, |\psi'/\psi|^2)$.
# - An exactly zero initialisation never trains: at $W = b = 0$ every $\tanh\theta_j = 0$, so the
#   log-derivatives with respect to $b$ and $W$, hence their gradients, vanish, and
#   $O_a = \sum_i s_i = 0$ in the sector. We start from small random weights (`INIT_SCALE`).
#
# **Exact references.** Lanczos in the zero-magnetisation sector up to $n = 16$ (12,870
# configurations), and the published exact energy for $n = 22$,
# $E_0 = -39.14752260706246$ (by Lanczos; the reference value of NetKet's ground-state tutorial).
# First the sign rule itself, checked on the exact ground state:

# %%
HEIS_REFERENCE = {22: spin_chains.HEISENBERG_E0_22}
for n in sorted({n for n, _ in HEIS_RUNS if n <= 16}):
    H_rot, sector = spin_chains.heisenberg_hamiltonian(n, marshall=True, magnetization=0)
    H_orig, _ = spin_chains.heisenberg_hamiltonian(n, marshall=False, magnetization=0)
    e_rot, psi_rot = exact_ground_state(H_rot)
    e_orig, psi_orig = exact_ground_state(H_orig)
    HEIS_REFERENCE[n] = e_rot
    signs = np.sign(psi_orig) * np.sign(psi_orig @ spin_chains.marshall_sign(sector))
    print(
        f"n = {n}: {len(sector)} states in the sector; E0 = {e_rot:.10f} (rotated) = {e_orig:.10f} (original); "
        f"rotated ground state positive: {bool(np.all(psi_rot > 0))}; original signs = Marshall signs: "
        f"{bool(np.array_equal(signs, spin_chains.marshall_sign(sector)))}"
    )
    assert abs(e_rot - e_orig) < 1e-9 and np.all(psi_rot > 0)  # Marshall's theorem

# %% slideshow={"slide_type": "subslide"}
HEIS_RUNS_DONE = {}
for n, alpha in HEIS_RUNS:
    seed = run_seed(n, alpha, 7)
    model = nqs.SymmetricRBM.random(n, alpha, scale=INIT_SCALE, seed=seed)
    eloc = lambda m, s: spin_chains.heisenberg_local_energy(m, s, marshall=True)
    s, hist = cached_vmc(
        "heisenberg marshall", model, eloc, seed=seed, move="exchange", desc=f"Heisenberg n={n} α={alpha}"
    )
    est = cached_measure("heisenberg marshall", model, eloc, s, seed=seed + 1, move="exchange", thin=THIN)
    e0 = HEIS_REFERENCE[n]
    HEIS_RUNS_DONE[(n, alpha)] = {
        "hist": hist,
        **est,
        "E0": e0,
        "rel": (est["energy"] - e0) / abs(e0),
        "rel_error": est["error"] / abs(e0),
        "rel_init": (hist["energy"][0] - e0) / abs(e0),
    }
    r = HEIS_RUNS_DONE[(n, alpha)]
    print(
        f"n = {n}, α = {alpha}: E = {r['energy']:.5f} ± {r['error']:.5f} (exact {e0:.5f}), relative error "
        f"{r['rel']:.2e} ± {r['rel_error']:.1e} from {r['n_samples']} samples (τ_int {r['tau']:.2f}); "
        f"acceptance {hist['acceptance'][-1]:.2f}"
    )
    assert r["n_samples"] >= config.scaled(smoke=N_CHAINS * FINAL_PER_CHAIN, lecture=20_000, full=20_000)

fig, ax = plt.subplots(figsize=(7, 3.8))
for (n, alpha), r in HEIS_RUNS_DONE.items():
    ax.plot(np.abs(r["hist"]["energy"] - r["E0"]) / abs(r["E0"]), lw=1, label=f"n = {n}, α = {alpha}")
ax.set(yscale="log", xlabel="step", ylabel=r"$|E - E_0|/|E_0|$", title="Heisenberg chain, SR, Marshall basis")
ax.legend()
plt.tight_layout()
plt.show()

# %% tags=["learning-check"]
# Every Heisenberg RBM must have learned (relative error ≤ a tenth of its value before training),
# and the largest-α RBM at the largest n must be within HEIS_BOUND of the exact energy with a
# statistical error at most a third of it. Measured at smoke (n=8), COURSE_SEED=0,1,2: α = 1
# 4e-6–1.9e-4, α = 2 2e-8–4.4e-4 (statistical error ≤ 1.4e-4); before training 0.28–0.32.
# Untrained: ≈ 0.3.
HEIS_BOUND = config.scaled(smoke=1e-3, lecture=3e-4, full=3e-4)
n_h = max(n for n, _ in HEIS_RUNS)
best = HEIS_RUNS_DONE[(n_h, max(a for n, a in HEIS_RUNS if n == n_h))]
for key, r in HEIS_RUNS_DONE.items():
    print(f"{key}: relative error {r['rel']:.2e} ± {r['rel_error']:.1e}, before training {r['rel_init']:.2e}")
    assert abs(r["rel"]) <= 0.1 * abs(r["rel_init"]), (key, r["rel"], r["rel_init"])
assert abs(best["rel"]) <= HEIS_BOUND, (best["rel"], HEIS_BOUND)
assert best["rel_error"] <= HEIS_BOUND / 3, (best["rel_error"], HEIS_BOUND)

# %%
for (n, alpha), r in HEIS_RUNS_DONE.items():
    results.record(
        f"heisenberg_relative_energy_error_n{n}_alpha{alpha}",
        r["rel"],
        error=r["rel_error"],
        energy=r["energy"],
        exact=r["E0"],
        key=f"Heisenberg chain (n = {n}, α = {alpha}): relative energy error" if r is best else None,
    )

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion
#
# - An RBM with its hidden units traced out is a wavefunction: $\psi(s) = e^{a\cdot s}\prod_j 2\cosh\theta_j(s)$.
#   Trained by variational Monte Carlo it needs no data: it samples its own Born distribution,
#   and the Hamiltonian supplies the loss through the local energy.
# - The variational principle makes the energy an honest yardstick: every estimate lies above
#   $E_0$ up to its error bar, and the variance of the local energy measures how close $\psi$ is
#   to an eigenstate without any reference.
# - Stochastic reconfiguration, natural gradient in the Fisher metric of $|\psi|^2$, converges
#   far faster than Adam on the same samples; its diagonal shift tames the first steps.
# - Against exact results (closed form, exact diagonalisation, published energies) the RBM
#   reaches the accuracy asserted above at the critical point of the Ising chain, and, with the
#   Marshall sign rule, on the Heisenberg chain.
# - Positive real amplitudes work because both Hamiltonians are (or can be rotated to be)
#   stoquastic. Frustrated magnets and fermions have no such rotation: there the signs must be
#   learned, the open frontier of neural quantum states.
#
# **Further reading.** {cite:t}`carleo2017`; {cite:t}`sorella1998` (stochastic reconfiguration);
# {cite:t}`pfeuty1970` (the exact solution); {cite:t}`marshall1955` (the sign rule); the NetKet library
# (netket.org) for production VMC.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# 1. **The 2-D transverse-field Ising model.** Write the local energy of
#    $H = -J\sum_{\langle ij\rangle}\sigma^z_i\sigma^z_j - h\sum_i\sigma^x_i$ on a $4\times4$
#    periodic lattice (16 spins: exact diagonalisation is still possible with the bit-flip trick of
#    `spin_chains.tfim_hamiltonian`). Train an unconstrained `nqs.RBM` with $\alpha = 1, 2$ near the 2-D
#    critical field $h \approx 3.04\,J$. Is the relative error larger than in 1-D at the same $n$?
# 2. **Complex parameters without the sign rule.** Train the Heisenberg chain in the original basis
#    (`marshall=False`), where the ground state has signs. Write a complex RBM (complex $a, b, W$;
#    `log_psi` returns complex numbers, which `spin_chains.heisenberg_local_energy` and `nqs.metropolis`
#    accept), use $O_k^*$ in the force and in $S$, and take the real part of the update for
#    $\mathrm{Re}\,\theta$ and $\mathrm{Im}\,\theta$ separately. Does it find the Marshall signs,
#    and how many steps does it need compared with section 7?
# 3. **A global move.** At $h = 0.5\,J$ measure $\tau_{\text{int}}$ of $m = \sum_i s_i/n$ (not $m^2$)
#    along the chains. Add a global spin-flip proposal $s \to -s$, accepted with probability
#    $\min(1, |\psi(-s)/\psi(s)|^2)$. What happens to $\tau_{\text{int}}(m)$, and why is it
#    legitimate?
# 4. **Plain gradient descent.** Replace SR by gradient descent with a constant rate and by SR with a
#    constant shift $\lambda = 10^{-3}$ from the first step. Which of them reaches the SR error of
#    section 4 in the same number of steps, and what goes wrong in the first steps?
# 5. **What α = 1 misses.** Compare the filter $w_1$ of the $\alpha = 1$ RBM with the two filters of
#    $\alpha = 2$ at $h = J$. Starting the $\alpha = 2$ optimisation from a trained $\alpha = 1$
#    RBM (plus a second small random filter), how does the error evolve?
