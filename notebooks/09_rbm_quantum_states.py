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
# Quantum spin chains are the ideal test, because they can be solved exactly. Every number in
# this lecture is measured against an exact one: a closed form, or exact diagonalisation.
#
# **What you will learn**
# - the transverse-field Ising chain, its two phases and its quantum critical point;
# - the variational principle, and the RBM wavefunction obtained by tracing out hidden units;
# - why real, positive amplitudes suffice for this model ("stoquastic"), and where they do not;
# - variational Monte Carlo (VMC): Metropolis sampling of $|\psi|^2$, the local energy, the energy
#   gradient from log-derivatives, error bars from independent chains, autocorrelation times;
# - stochastic reconfiguration (natural gradient) against Adam;
# - the relative energy error against system size, hidden-unit density and field, and
#   spin-spin correlations with error bars against exact diagonalisation;
# - the Heisenberg chain, whose ground state has signs, made positive by the Marshall sign rule.
#
# **Prerequisites:** lecture 01 (RBMs, free energy), lecture 07 (Metropolis, autocorrelation
# times). From quantum mechanics: states as vectors, Hamiltonians as Hermitian matrices, Pauli
# matrices, the ground state as the lowest eigenvector. No quantum many-body theory is assumed.

# %% slideshow={"slide_type": "subslide"}
import functools
import math
import time

import numpy as np
import matplotlib.pyplot as plt
import scipy.sparse.linalg as sla
from IPython.display import Markdown, display
from tqdm.auto import tqdm

from lib import cache, checks, config, ising_mc, nqs, results, spin_chains

SCALE = config.setup("09_rbm_quantum_states", seed=0)
SEED = config.seed()

J = 1.0  # the Ising coupling sets the unit of energy
N_MAIN = config.scaled(smoke=8, lecture=20, full=20)  # chain of the first run, SR vs Adam
N_SIZES = config.scaled(smoke=[8], lecture=[10, 20, 40], full=[20, 40, 80])  # relative error vs n
N_ALPHA = config.scaled(smoke=8, lecture=20, full=80)  # chain of the α and field scans
ALPHAS = [1, 2, 4]  # hidden units per spin, α = M / n
ALPHA_MAIN = 2
FIELDS = [0.5, 1.0, 2.0]  # h / J: ordered, critical, disordered
N_ED_MAX = config.scaled(smoke=12, lecture=16, full=16)  # largest exact diagonalisation
N_CORR = config.scaled(smoke=8, lecture=16, full=16)  # correlations against exact diagonalisation
HEIS_RUNS = config.scaled(  # (n, α) of the Heisenberg runs
    smoke=[(8, 1), (8, 2)], lecture=[(16, 2), (22, 1), (22, 2)], full=[(16, 2), (22, 1), (22, 2), (22, 4)]
)
STEPS = config.scaled(smoke=150, lecture=300, full=1000)  # optimisation steps of every run
N_CHAINS = config.scaled(smoke=500, lecture=1000, full=2000)  # Markov chains = samples per step
BURN_IN = 10  # sweeps from random states before the first step (ψ ≈ uniform there)
FINAL_BURN_IN = 30  # sweeps before the final estimate of a trained ψ
FINAL_PER_CHAIN = config.scaled(smoke=20, lecture=50, full=100)  # final estimate: samples per chain
THIN = 3  # final estimate: sweeps between samples
TAU_CHAINS = 200  # chains for measuring autocorrelation times
TAU_SWEEPS = config.scaled(smoke=100, lecture=200, full=400)  # their length, one sample per sweep
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
# $$H = -J\sum_{i=0}^{n-1} \sigma^z_i \sigma^z_{i+1} \;-\; h\sum_{i=0}^{n-1} \sigma^x_i , \qquad J, h > 0.$$
#
# In the basis of $\sigma^z$ eigenstates $|s\rangle = |s_0 \dots s_{n-1}\rangle$, $s_i = \pm 1$, the
# first term is diagonal: it is the classical Ising energy of lecture 07 in one dimension. The
# second is not: $\sigma^x_i$ flips spin $i$, so $h$ lets the spins tunnel. $H$ is a
# $2^n \times 2^n$ matrix, and its lowest eigenvector, the **ground state** $|\psi_0\rangle$ with
# energy $E_0$, is what we want.
#
# - For $h \ll J$ the spins align along $z$: the ground state is close to
#   $(|{\uparrow\uparrow\cdots}\rangle + |{\downarrow\downarrow\cdots}\rangle)/\sqrt2$, with
#   long-range order, $\langle \sigma^z_0 \sigma^z_r\rangle \to m^2 > 0$ at large $r$ ($m$ the
#   spontaneous magnetisation per spin).
# - For $h \gg J$ every spin points along $x$: the ground state is close to the uniform
#   superposition of all $2^n$ configurations, and correlations decay exponentially.
# - At $h = J$ the chain has a **quantum phase transition**. The energy gap closes, and the
#   correlations decay as a power law, $\langle \sigma^z_0 \sigma^z_r\rangle \sim r^{-1/4}$, with
#   no finite correlation length. One expects this to be the hardest case for a variational
#   wavefunction; section 6 puts that expectation to the test.
#
# **The exact solution.** The Jordan–Wigner transformation maps the spins onto fermions that do
# not interact, which makes the chain exactly solvable {cite:p}`pfeuty1970`. In outline: each spin
# becomes a fermion mode times a string of $\sigma^x$ over the sites before it; the strings cancel
# between neighbours, so $H$ becomes quadratic in the fermion operators, and a Fourier and a
# Bogoliubov transformation turn it into independent modes of momentum $q$, each costing
# $2\varepsilon(q)$, $\varepsilon(q) = \sqrt{J^2 + h^2 - 2Jh\cos q}$; the ground state leaves every
# mode empty. We take the details as given: Pfeuty's paper derives them, and the treatment of a
# finite ring by parity sectors goes back to {cite:t}`lieb1961`. The parity
# $P = \prod_i \sigma^x_i$ commutes with $H$; in its even sector the fermion momenta are
# $q_\ell = (2\ell-1)\pi/n$, and there
#
# $$E_0 = -\sum_{\ell=1}^{n} \sqrt{J^2 + h^2 - 2Jh\cos q_\ell}, \qquad q_\ell = \frac{(2\ell-1)\pi}{n}.$$
#
# The ground state lies in that sector for every $n$ (it is positive, section 2, and $P$ only
# permutes the basis states, so $P\psi_0 = +\psi_0$). `spin_chains.tfim_ground_energy` evaluates
# the formula. We check it, for even and odd $n$, against **exact diagonalisation**:
# `spin_chains.tfim_hamiltonian` builds $H$ as a sparse matrix (spin $i$ is bit $n-1-i$ of the
# basis index, a bit value 0 meaning spin up, so $\sigma^x_i$ maps index $x$ to
# $x \oplus 2^{\,n-1-i}$) and the Lanczos algorithm (`scipy.sparse.linalg.eigsh`) finds its lowest
# eigenvalue.

# %%
check_rows = []
for n in range(3, N_ED_MAX + 1, 3):
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
    """Lowest eigenvalue and eigenvector, its sign fixed by its largest component (made positive)."""
    w, v = sla.eigsh(H, k=1, which="SA")
    psi = v[:, 0]
    return w[0], psi * np.sign(psi[np.argmax(np.abs(psi))])


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
    axes[1].plot(phase_corr[h], "o-", label=f"h = {h:.2f}")
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
# with equality exactly when $\psi$ lies in the ground eigenspace (expand $\psi$ in eigenvectors of
# $H$). So we choose a family $\psi_\theta$ with parameters $\theta = (\theta_k)$ and minimise
# $E[\psi_\theta]$ over $\theta$. The family decides everything: it must be rich enough to contain
# a good approximation of $\psi_0$, and cheap to evaluate one amplitude $\psi_\theta(s)$ at a time,
# since we can never store all $2^n$ of them.
#
# **The RBM amplitude.** Take lecture 01's energy, with visible spins $s_i = \pm1$ and $M$ hidden
# units $z_j = \pm 1$, $\mathcal E(s, z) = -\sum_i a_i s_i - \sum_j b_j z_j - \sum_{ij} s_i W_{ij} z_j$,
# and trace out the hidden units as we did for the free energy. Each $z_j$ appears in one factor,
# and $\sum_{z_j = \pm1} e^{z_j \chi} = 2\cosh \chi$, so
#
# $$\psi(s) = \sum_{z} e^{-\mathcal E(s,z)} = e^{\sum_i a_i s_i} \prod_{j=1}^{M} 2\cosh \chi_j(s),
# \qquad \chi_j(s) = b_j + \sum_i W_{ij} s_i .$$
#
# (Lecture 01's visible biases $b$, hidden biases $c$ and hidden units $h$ are here $a$, $b$ and $z$,
# as in {cite:t}`carleo2017`, since $h$ is now the field. Lecture 01's $\{0,1\}$ units give
# $1 + e^{\chi}= 2e^{\chi/2}\cosh(\chi/2)$ instead: the same family of functions after a change of
# parameters.) The difference with lecture 01 is the
# interpretation: this marginal is now the **amplitude**, and the probability of a configuration
# is the Born rule, $p(s) = |\psi(s)|^2 / \sum_{s'} |\psi(s')|^2$. The density of hidden units
# $\alpha = M/n$ controls the expressiveness, like the number of hidden units of lecture 01. Each
# hidden unit couples all spins: an RBM can carry correlations at any distance, which a product
# state or a short-range ansatz cannot.
#
# **Why real, positive amplitudes suffice here.** In the $\sigma^z$ basis every off-diagonal
# element of $H$ is $-h < 0$ or zero: the Hamiltonian is **stoquastic**. Then $e^{-\tau H}$ has
# non-negative entries, and since single flips connect all configurations (this needs $h > 0$),
# the Perron–Frobenius theorem makes the ground state unique, with strictly positive amplitudes
# $\psi_0(s) > 0$. A real RBM ($2\cosh > 0$) is positive everywhere, so it loses nothing by having
# no signs. This fails for **frustrated** magnets (e.g. the antiferromagnet on a triangular
# lattice) and for **fermions** in more than one dimension, whose antisymmetry forces signs that no
# known general change of basis removes (in one dimension the Jordan–Wigner transformation removes
# them for nearest-neighbour hopping: on an open chain entirely, on a ring up to a boundary term whose
# sign depends on the fermion parity).
# There the amplitude needs complex parameters or an explicit sign structure. The sampling itself
# stays easy, since $|\psi|^2 \ge 0$ always: VMC has no sign problem in its Monte Carlo, the
# difficulty is to represent and learn the signs. Section 7 treats a middle case.
#
# **Translation invariance.** The ring is invariant under the translation $T$ by one site, which
# commutes with $H$. A *non-degenerate* ground state is then an eigenvector of $T$, $T\psi_0 =
# e^{iq}\psi_0$ for some momentum $q$; here $T$ only permutes the configurations, so $T\psi_0$ is
# positive too, and $e^{iq} = 1$: $\psi_0$ is translation invariant. {cite:t}`carleo2017` build
# this in: $\alpha$ filters $w_f$ of $n$ weights, each applied at all $n$ positions,
# $W_{i, (f,t)} = w_f[(i - t) \bmod n]$, $b_{(f,t)} = b_f$, $a_i = a$. This is still an RBM with
# $M = \alpha n$ hidden units, but with $\alpha n + \alpha + 1$ parameters instead of $n + M + nM$
# (`nqs.SymmetricRBM`, parameters `a`, `b[f]`, `w[f]`; `nqs.RBM` is the unconstrained one). Below
# we check that the formula above, written out in one line, is what the library evaluates.

# %%
rng_demo = np.random.default_rng(SEED)
demo = nqs.SymmetricRBM.random(6, 2, scale=0.5, seed=rng_demo)
a_vec, b_vec, W = demo.dense()  # the equivalent unconstrained RBM: a (n,), b (M,), W (n, M)
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
# The **local energy** needs only ratios of amplitudes (no normalisation), and each row of $H$ has
# at most $n+1$ non-zero elements. For our chain
#
# $$E_{\text{loc}}(s) = -J\sum_i s_i s_{i+1} - h \sum_i \frac{\psi(s^{(i)})}{\psi(s)},$$
#
# with $s^{(i)}$ = $s$ with spin $i$ flipped (`spin_chains.local_energy`). So $E$ is the average of
# $E_{\text{loc}}$ over samples of $|\psi|^2$. If $\psi$ is an eigenstate of $H$ (any eigenstate,
# not only the ground state), $E_{\text{loc}}(s)$ is its eigenvalue for every $s$: the variance of
# the local energy vanishes (the **zero-variance principle**), so the better the wavefunction, the
# smaller the statistical error. We will watch that variance.
#
# **Sampling $|\psi|^2$.** As for the Ising model of lecture 07: Metropolis with single-spin
# flips, accepted with probability $\min(1, |\psi(s')/\psi(s)|^2)$, run on `N_CHAINS` independent
# chains at once (one row of a matrix each; `nqs.metropolis`). One *sweep* is $n$ proposals. The
# chains persist from one optimisation step to the next (like persistent CD in lecture 01): each
# step moves them one sweep under the slightly changed $\psi$. Consecutive gradient estimates are
# then correlated, which stochastic gradient descent tolerates as long as the chains keep track of
# $|\psi|^2$ as it changes.
#
# **Error bars from independent chains.** The final estimate of a trained $\psi$ takes
# `FINAL_PER_CHAIN` samples from each chain, `THIN` sweeps apart, after `FINAL_BURN_IN` sweeps.
# Samples along a chain are correlated, but the chains are independent: each chain's mean is one
# independent estimate, and the error of the overall mean is the standard deviation of the
# `N_CHAINS` chain means over $\sqrt{N_{\text{chains}}}$. This needs no autocorrelation time, but it
# does not cover the bias of chains that fail to move between separated regions of $|\psi|^2$
# (section 4 shows why). Section 4 also measures the autocorrelation times, which say how many of
# those samples are effectively independent.
#
# **The gradient.** With the log-derivatives $O_k(s) = \partial_{\theta_k}\log\psi(s)$ (for the
# RBM: $s_i$, $\tanh\chi_j$ and $s_i\tanh\chi_j$), and for a real $\psi$ and a real symmetric $H$,
# $\partial_k\psi(s) = O_k(s)\psi(s)$ and $\sum_{s'} H_{ss'}\psi(s') = E_{\text{loc}}(s)\psi(s)$ give
# $\langle\psi|H|\partial_k\psi\rangle = \langle\partial_k\psi|H|\psi\rangle = \sum_s O_k(s)\psi(s)\,E_{\text{loc}}(s)\psi(s)$
# ($H$ symmetric) and $\langle\psi|\partial_k\psi\rangle = \sum_s O_k(s)\psi(s)^2$, so
#
# $$\partial_k E = \frac{2\langle\psi|H|\partial_k\psi\rangle}{\langle\psi|\psi\rangle}
# - \frac{2E\,\langle\psi|\partial_k\psi\rangle}{\langle\psi|\psi\rangle}
# = 2\sum_s p(s)\,O_k(s)E_{\text{loc}}(s) - 2E\sum_s p(s)\,O_k(s)
# = 2\left(\langle O_k E_{\text{loc}}\rangle - \langle O_k\rangle\langle E_{\text{loc}}\rangle\right) \equiv 2g_k ,$$
#
# a covariance over $p = |\psi|^2/\sum|\psi|^2$: again only samples are needed. We call $g$ the
# *half-gradient* (in the VMC literature {cite:p}`sorella1998` the *generalised force* is
# $f_k = -g_k$). The cell below checks the formula on a ring of 6 spins, where the average over
# $|\psi|^2$ can be taken exactly, against finite differences of the exact energy.

# %%
grad_model = nqs.SymmetricRBM.random(6, 2, scale=0.5, seed=SEED)
grad_states = spin_chains.spin_states(6)
grad_H = spin_chains.tfim_hamiltonian(6, 1.0, J)
grad_formula = nqs.energy_gradient(
    grad_model.log_derivatives(grad_states),
    spin_chains.local_energy(grad_model, grad_states, 1.0, J),
    weights=np.exp(2 * grad_model.log_psi(grad_states)),  # |ψ|², normalised inside
)
grad_theta, fd_eps = grad_model.params, 1e-6
grad_fd = []
for fd_step in fd_eps * np.eye(len(grad_theta)):
    fd_energies = []
    for fd_sign in (1, -1):
        grad_model.set_params(grad_theta + fd_sign * fd_step)
        fd_energies.append(spin_chains.exact_energy(grad_model, grad_H, grad_states))
    grad_fd.append((fd_energies[0] - fd_energies[1]) / (2 * fd_eps))
grad_model.set_params(grad_theta)
print(f"largest difference between 2g and finite differences: {np.max(np.abs(grad_formula - grad_fd)):.1e}")
assert np.allclose(grad_formula, grad_fd, atol=1e-6)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Stochastic reconfiguration** {cite:p}`sorella1998`. Plain gradient descent treats all parameters
# alike, but a small change of one parameter can change $\psi$ a lot and of another hardly at all.
# SR measures steps by how much they change the *state*: the metric is the covariance of the
# log-derivatives, and the step, with a learning rate $\eta$ (`SR_LR`) and a diagonal shift $\lambda$, is
#
# $$S_{kl} = \langle O_k O_l\rangle - \langle O_k\rangle\langle O_l\rangle, \qquad
# \delta\theta = -\eta\,(S + \lambda\,\mathbb 1)^{-1} g .$$
#
# For a real $\psi$, $\partial_k \log p(s) = 2(O_k(s) - \langle O_k\rangle)$, so $S$ is a quarter of
# the Fisher information of $p_\theta = |\psi_\theta|^2/\sum|\psi_\theta|^2$, and SR is
# **natural-gradient descent**. (For a complex $\psi$ the metric is the quantum geometric tensor
# $S_{kl} = \langle O_k^* O_l\rangle - \langle O_k^*\rangle\langle O_l\rangle$, which also measures
# changes of the phase; exercises 2 and 5.) Equivalently, SR is the best approximation within the family
# of a step of imaginary-time evolution $\psi \to (1 - \eta H)\psi$, which converges to the ground
# state. The **diagonal shift** $\lambda$ regularises the noisy, nearly singular $S$. From a tiny
# initialisation some $O_k$ hardly fluctuate (e.g. $O_{b_f} = \sum_t \tanh\chi_{f,t}$ when all
# $\chi \approx 0$), so $S^{-1}$ would amplify their noisy gradients into huge first steps; a large
# $\lambda$ makes those steps gradient-like (rate $\eta/2\lambda$). We start at $\lambda_0 = 1$ and
# decay it geometrically to $10^{-3}$.
#
# The loop below is the whole method: sample, local energies, log-derivatives, update. Then the
# final estimate, as described above.


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


def random_states(n, rng, zero_magnetisation=False):
    """N_CHAINS random ±1 starting configurations (with Σ s = 0 for the exchange moves of section 7)."""
    if zero_magnetisation:
        return rng.permuted(np.tile(np.repeat([1.0, -1.0], n // 2), (N_CHAINS, 1)), axis=1)
    return rng.choice([-1.0, 1.0], size=(N_CHAINS, n))


def vmc(model, local_energy, rng, optimizer="sr", move="flip"):
    """Minimise <E_loc> over |ψ|² by SR (or Adam) for STEPS steps; returns the chains and the history."""
    s = random_states(model.n_visible, rng, zero_magnetisation=move == "exchange")
    s, lp, _ = nqs.metropolis(model, s, BURN_IN, rng=rng, move=move)
    adam = Adam(model.n_params, ADAM_LR)
    hist = {"step_energy": [], "step_error": [], "step_variance": [], "acceptance": [], "seconds": []}
    for p in tqdm(config.training(range(STEPS)), desc=f"VMC n={model.n_visible} {optimizer}", leave=False):
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
        hist["step_energy"].append(e.mean())
        hist["step_error"].append(e.std() / math.sqrt(len(e)))  # one sample from each independent chain
        hist["step_variance"].append(e.var())
        hist["acceptance"].append(acc)
    return s, {k: np.asarray(v) for k, v in hist.items()}


def final_estimate(model, local_energy, s, rng, move="flip"):
    """FINAL_PER_CHAIN samples per chain, THIN sweeps apart, after FINAL_BURN_IN sweeps. Returns each
    chain's mean of E_loc, of C(r) = <s_0 s_r> (averaged over the n translations) and of |m| = |Σ s|/n:
    N_CHAINS independent estimates of each, and the chains' last states."""
    res = nqs.sample(model, s, FINAL_PER_CHAIN, thin=THIN, burn_in=FINAL_BURN_IN, rng=rng, move=move)
    x = res.samples  # (FINAL_PER_CHAIN, N_CHAINS, n)
    return {
        "e_loc": np.mean([local_energy(model, xt) for xt in x], axis=0),
        "corr": np.stack(
            [np.mean(x * np.roll(x, -r, axis=2), axis=(0, 2)) for r in range(x.shape[2] // 2 + 1)], 1
        ),
        "abs_m": np.abs(x.mean(axis=2)).mean(axis=0),
        "chains": res.state,
    }


def train_and_measure(n, alpha, local_energy, seed, optimizer="sr", move="flip"):
    """Train the translation-invariant RBM with α filters on a ring of n spins, then its final estimate."""
    rng = np.random.default_rng(seed)
    model = nqs.SymmetricRBM.random(n, alpha, scale=INIT_SCALE, seed=rng)
    init = model.params
    chains, hist = vmc(model, local_energy, rng, optimizer, move)
    return {
        "params": model.params,
        "params_init": init,
        **hist,
        **final_estimate(model, local_energy, chains, rng, move),
    }


def mean_and_error(per_chain):
    """Mean over the chains and its standard error, from the (N_CHAINS, ...) per-chain means."""
    return per_chain.mean(axis=0), per_chain.std(axis=0, ddof=1) / math.sqrt(len(per_chain))


def summary(out, n, alpha, e0):
    """A run as a dict: its arrays, the trained model (and the untrained one), the final estimate
    of the energy ± its error, and the relative errors (E − E0)/|E0|."""
    energy, error = mean_and_error(out["e_loc"])
    run = out | {
        "n": n,
        "alpha": alpha,
        "model": nqs.SymmetricRBM.from_params(n, alpha, out["params"]),
        "model_init": nqs.SymmetricRBM.from_params(n, alpha, out["params_init"]),
        "E0": e0,
        "energy": energy,
        "error": error,
        "rel": (energy - e0) / abs(e0),
        "rel_error": error / abs(e0),
        "rel_init": (out["step_energy"][0] - e0) / abs(e0),
    }
    # The variational principle: an estimate may lie below E0 only within its statistical error.
    assert run["rel"] >= -4 * run["rel_error"], (n, alpha, run["rel"], run["rel_error"])
    return run


@functools.cache  # the scans below share runs: each is trained (or read back) once per session
def tfim_run(n, alpha, h, optimizer="sr"):
    """The RBM with α filters trained on the ring (n, h) by SR (or Adam), and its final estimate."""
    local_energy = lambda model, s: spin_chains.local_energy(model, s, h, J)
    seed = [SEED, n, alpha, round(100 * h)]  # SR and Adam start from the same parameters and chains
    out = cache.cached_arrays(
        f"09_tfim_n{n}_alpha{alpha}_h{h}_{optimizer}",
        compute=lambda: train_and_measure(n, alpha, local_energy, seed, optimizer),
    )
    return summary(out, n, alpha, spin_chains.tfim_ground_energy(n, h, J)) | {
        "h": h,
        "local_energy": local_energy,
    }


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The first ground state: the critical chain, SR against Adam
#
# We train the translation-invariant RBM with $\alpha = 2$ at the critical point $h = J$ on a ring
# of `N_MAIN` spins, once with SR and once with Adam (learning rate `ADAM_LR`, not tuned): the same
# number of samples per step, the same number of steps, the same initial parameters and chains.
# The relative error $\epsilon_{\text{rel}} = (E - E_0)/|E_0|$ is measured against the closed form.
# A ring this small also lets us compute the energy of each trained $\psi$ exactly, from all its
# $2^n$ amplitudes (`spin_chains.tfim_energy_by_enumeration`): a comparison of the two optimisers
# free of sampling noise.

# %%
main_sr = tfim_run(N_MAIN, ALPHA_MAIN, 1.0)
main_adam = tfim_run(N_MAIN, ALPHA_MAIN, 1.0, "adam")
E0_main = main_sr["E0"]
exact_rel = {}  # relative errors of the exact energies of the wavefunctions, by enumeration
for name, model in [
    ("untrained", main_sr["model_init"]),
    ("SR", main_sr["model"]),
    ("Adam", main_adam["model"]),
]:
    e_psi = spin_chains.tfim_energy_by_enumeration(model, N_MAIN, 1.0, J)
    exact_rel[name] = (e_psi - E0_main) / abs(E0_main)
    assert exact_rel[name] >= -1e-12, (name, exact_rel[name])  # the variational principle, exactly
for name, r in [("SR", main_sr), ("Adam", main_adam)]:
    print(
        f"{name:4s}: E = {r['energy']:.6f} ± {r['error']:.6f} (E0 = {E0_main:.6f}), relative error "
        f"{r['rel']:.2e} ± {r['rel_error']:.1e}; exact energy of ψ: relative error {exact_rel[name]:.2e}"
    )
print(f"the RBM before training: relative error {exact_rel['untrained']:.2e} (exact)")
sec_per_step = float(np.median(main_sr["seconds"]))
print(f"time per SR step at n = {N_MAIN}, {N_CHAINS} chains: {1000 * sec_per_step:.1f} ms")

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for name, r, c in [("SR", main_sr, "C0"), ("Adam", main_adam, "C1")]:
    steps = np.arange(len(r["step_energy"]))
    rel = (r["step_energy"] - E0_main) / abs(E0_main)
    band = r["step_error"] / abs(E0_main)
    axes[0].plot(steps, rel, color=c, lw=1, label=name)
    axes[0].fill_between(steps, rel - band, rel + band, color=c, alpha=0.25)
    axes[1].semilogy(steps, r["step_variance"], color=c, label=name)
axes[0].axhline(0, color="gray", lw=0.8)
axes[0].set_yscale("symlog", linthresh=1e-4)  # logarithmic above 1e-4, linear around 0: the sign shows
axes[0].set(xlabel="step", ylabel=r"$(E - E_0)/|E_0|$", title=f"energy per step ± its error, n = {N_MAIN}")
axes[1].set(xlabel="step", ylabel=r"Var $E_{\rm loc}$", title="zero-variance principle")
for ax in axes:
    ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Which optimiser reaches the lower energy in the same number of steps, with these settings? The
# exact energies printed above answer without sampling noise; the plot shows the path. Watch the
# variance of the local energy drop together with the energy error: the variance is a built-in,
# reference-free measure of how close $\psi$ is to an eigenstate.
#
# **How correlated are the samples?** We measure the integrated autocorrelation time
# $\tau_{\text{int}}$ (lecture 07; `ising_mc.integrated_autocorrelation_time`) of the local energy
# and of $m^2 = (\sum_i s_i/n)^2$ along `TAU_CHAINS` chains of the trained $\psi$, one sample per
# sweep, continuing the final estimate's chains. Samples $2\tau_{\text{int}}$ sweeps apart are
# effectively independent: compare with the final estimate's `THIN`. A burn-in is governed by the
# slowest mode of the chain (the exponential autocorrelation time, at least as long as any
# $\tau_{\text{int}}$), which we do not measure: the final estimate's chains start where training
# left them, sampling a $\psi$ that hardly changed in the last steps, and then run `FINAL_BURN_IN`
# sweeps; compare that with the times printed below.


# %% slideshow={"slide_type": "subslide"}
def autocorrelation(run):
    """E_loc and m² along TAU_CHAINS chains of the trained ψ (one sample per sweep, continuing the
    final estimate's chains), and their integrated autocorrelation times in sweeps."""
    rng = np.random.default_rng([SEED, run["n"], run["alpha"], 99])
    res = nqs.sample(run["model"], run["chains"][:TAU_CHAINS], TAU_SWEEPS, rng=rng)
    e = np.stack([run["local_energy"](run["model"], x) for x in res.samples])  # (TAU_SWEEPS, TAU_CHAINS)
    m2 = res.samples.mean(axis=2) ** 2
    return {
        "e_loc": e,
        "tau_e": ising_mc.integrated_autocorrelation_time(e),
        "tau_m2": ising_mc.integrated_autocorrelation_time(m2),
        "acceptance": res.acceptance,
    }


ac = autocorrelation(main_sr)
print(f"acceptance {ac['acceptance']:.2f}; τ_int in sweeps: E_loc {ac['tau_e']:.2f}, m² {ac['tau_m2']:.2f}")
print(
    f"final estimates: samples THIN = {THIN} sweeps apart (2 τ_int = {2 * max(ac['tau_e'], ac['tau_m2']):.1f}), "
)
print(
    f"after FINAL_BURN_IN = {FINAL_BURN_IN} sweeps ({FINAL_BURN_IN / max(ac['tau_e'], ac['tau_m2']):.0f} τ_int)"
)
e_series = ac["e_loc"]
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

# %% [markdown] slideshow={"slide_type": "subslide"}
# The magnetisation can decorrelate more slowly than the energy (compare the two times printed
# above). Near a critical point one expects its $\tau_{\text{int}}$ to grow with the length of the
# chain (critical slowing down, as at $T_c$ in lecture 07): section 6 measures it at each size.
# Deep in the ordered phase, $h < J$, the sign of the magnetisation is the slow variable: to
# reverse it, a chain must grow a domain of about $n/2$ reversed spins, bounded by two domain
# walls, whose weight under $|\psi|^2$ falls exponentially with $n$, so single flips rarely get
# there. $m^2$ and $|m|$ do not care about the sign and still mix. The error bar does not cover what
# the sign does. The RBM's biases break the symmetry $s \to -s$, so a trained $\psi$ gives the two
# signs of $m$ weights $w$ and $1 - w$ that need not be equal. Chains that rarely change sign keep
# the signs they happened to reach, a fraction $f \ne w$ of them positive, and every average that
# differs between the two signs (the energy too, when $\psi(-s) \ne \psi(s)$) is biased in
# proportion to $f - w$. The spread of the chain means does not reveal it: the bias stays as the
# number of chains grows, while the error bar shrinks as $1/\sqrt{N_{\text{chains}}}$. With 1000
# chains a sector bias $|f - w| = 0.05$ is already about three standard errors of the fraction. To
# detect it, look at the distribution of the per-chain means of $m$ (bimodal? what fraction has
# $m > 0$?); to remove it, add the global flip of exercise 6.

# %% tags=["learning-check"]
# SR's trained ψ: its exact energy (by enumeration) against the closed-form E0, relative.
checks.below(
    "sr_relative_error",
    exact_rel["SR"],
    config.scaled(smoke=1e-4, lecture=2e-4, full=2e-4),
    "SR's relative energy error (E[ψ] − E0)/|E0| at h = J, E[ψ] exact by enumeration, E0 from the closed form",
)

# %% tags=["learning-check"]
# Adam learned too: its exact relative error over the untrained RBM's.
checks.below(
    "adam_over_untrained",
    exact_rel["Adam"] / exact_rel["untrained"],
    config.scaled(smoke=0.1, lecture=0.1, full=0.1),
    "Adam's relative energy error over the same RBM's before training, both exact by enumeration",
)

# %% tags=["learning-check"]
# SR beats Adam with these settings: Adam's exact relative error over SR's (same steps, same number of samples).
checks.above(
    "adam_over_sr",
    exact_rel["Adam"] / exact_rel["SR"],
    config.scaled(smoke=10, lecture=3, full=3),
    "Adam's relative energy error over SR's, both exact by enumeration, same initialisation and budget",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Correlations against exact diagonalisation
#
# The energy is the quantity we optimised; a more demanding test is an observable we did not. On a
# ring of `N_CORR` spins, small enough for exact diagonalisation, we compare the VMC estimates of
# $C(r) = \langle\sigma^z_0\sigma^z_r\rangle$ and $\langle|\sum_i\sigma^z_i|\rangle/n$ at $h = J$
# with the exact ground state's. Each VMC estimate is the mean of the chains' means (each averaged
# over the $n$ translations within each sample), with its error bar from their spread.
#
# On so small a system we can also check the sampler itself: the VMC estimate of the energy of the
# trained $\psi$ must agree, within its error bar, with $\langle\psi|H|\psi\rangle/\langle\psi|\psi\rangle$
# computed by enumerating all $2^n$ amplitudes (`spin_chains.exact_energy`).

# %% slideshow={"slide_type": "subslide"}
corr_run = tfim_run(N_CORR, ALPHA_MAIN, 1.0)
corr_states = spin_chains.spin_states(N_CORR)
H_corr = spin_chains.tfim_hamiltonian(N_CORR, 1.0, J)
_, psi0_corr = exact_ground_state(H_corr)
corr_exact, mag_exact = diagonal_observables(corr_states, psi0_corr**2)
corr_vmc, corr_err = mean_and_error(corr_run["corr"])  # (r,) each
mag_vmc, mag_err = mean_and_error(corr_run["abs_m"])
corr_dev = np.abs(corr_vmc - corr_exact)
print(" r   exact C(r)   VMC C(r)            |dev|/σ")  # (C(0) = 1 for every configuration)
for r in range(1, N_CORR // 2 + 1):
    print(
        f"{r:2d}   {corr_exact[r]:.5f}     {corr_vmc[r]:.5f} ± {corr_err[r]:.5f}   {corr_dev[r] / corr_err[r]:.1f}"
    )
print(f"<|m|>: exact {mag_exact:.5f}, VMC {mag_vmc:.5f} ± {mag_err:.5f}")
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
plt.errorbar(r_axis, corr_vmc, yerr=corr_err, fmt="o", ms=4, capsize=3, label="RBM, VMC")
plt.xlabel("distance r")
plt.ylabel(r"$\langle\sigma^z_0\sigma^z_r\rangle$")
plt.title(f"critical chain, n = {N_CORR}, α = {ALPHA_MAIN}")
plt.legend()
plt.tight_layout()
plt.show()

# %% tags=["learning-check"]
# The trained RBM's C(r) and <|m|> match the exact ground state's: the largest deviation beyond 4 error bars.
# (C(0) = 1 for every configuration: r = 0 is left out.)
checks.below(
    "correlations_beyond_4_sigma",
    {"corr": np.max((corr_dev - 4 * corr_err)[1:]), "abs_m": abs(mag_vmc - mag_exact) - 4 * mag_err},
    config.scaled(smoke=0.01, lecture=0.005, full=0.005),
    "largest |VMC − exact diagonalisation| minus 4 standard errors, of C(r ≥ 1) and of <|m|> at h = J",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. How good is the RBM? Size, hidden-unit density and field
#
# {cite:t}`carleo2017` (Fig. 2) studied how the relative energy error of this RBM depends on
# $\alpha$. We measure the relative error of our final estimates
#
# - against $n$ at $h = J$, $\alpha = 2$ (`N_SIZES`);
# - against $\alpha \in \{1, 2, 4\}$ at $h = J$, $n$ = `N_ALPHA`;
# - against $h \in \{0.5, 1, 2\}$ at $\alpha = 2$, $n$ = `N_ALPHA`.
#
# Runs with the same $(n, \alpha, h)$ are one run: the $\alpha = 2$ run of the $\alpha$ scan is the
# $h = J$ run of the field scan, and when `N_ALPHA` or `N_MAIN` is one of the sizes, the size scan
# shares that run too (at the `lecture` scale, $n = 20$ is the run of section 4 in all three
# scans). The closed form gives $E_0$ at every size, so the comparison does not stop where exact
# diagonalisation does. At each size we also measure the autocorrelation times of section 4.

# %% slideshow={"slide_type": "subslide"}
size_runs = {n: tfim_run(n, ALPHA_MAIN, 1.0) for n in N_SIZES}
alpha_runs = {alpha: tfim_run(N_ALPHA, alpha, 1.0) for alpha in ALPHAS}
field_runs = {h: tfim_run(N_ALPHA, ALPHA_MAIN, h) for h in FIELDS}

lines = [
    "| scan | n | α | h/J | E | E₀ (exact) | relative error | before training |",
    "|---|---|---|---|---|---|---|---|",
]
for label, runs in [("size", size_runs), ("α", alpha_runs), ("field", field_runs)]:
    for r in runs.values():
        lines.append(
            f"| {label} | {r['n']} | {r['alpha']} | {r['h']} | {r['energy']:.5f} ± {r['error']:.5f} "
            f"| {r['E0']:.5f} | {r['rel']:.2e} ± {r['rel_error']:.1e} | {r['rel_init']:.2e} |"
        )
display(Markdown("\n".join(lines)))

size_tau = {n: autocorrelation(r) for n, r in size_runs.items()}
print("at h = J, α = 2:   n   τ_int(E_loc)   τ_int(m²)   (sweeps)")
for n, ac_n in size_tau.items():
    print(f"                 {n:3d}   {ac_n['tau_e']:8.2f}   {ac_n['tau_m2']:9.2f}")

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), sharey=True)
for ax, runs, xlabel in [
    (axes[0], size_runs, "n"),
    (axes[1], alpha_runs, r"$\alpha = M/n$"),
    (axes[2], field_runs, "$h/J$"),
]:
    rel, err = [r["rel"] for r in runs.values()], [r["rel_error"] for r in runs.values()]
    ax.errorbar(list(runs), rel, yerr=err, fmt="o-", capsize=3)
    ax.axhline(0, color="gray", lw=0.8)
    ax.set(xlabel=xlabel)
    ax.set_yscale("symlog", linthresh=1e-6)  # logarithmic above 1e-6, linear around 0: the sign shows
axes[0].set(ylabel=r"$(E - E_0) / |E_0|$", title=f"vs size (h = J, α = {ALPHA_MAIN})")
axes[1].set(title=f"vs α (h = J, n = {N_ALPHA})")
axes[2].set(title=f"vs field (α = {ALPHA_MAIN}, n = {N_ALPHA})")
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the table with its error bars: an estimate below $E_0$ (a negative relative error) is
# allowed only within its statistical error, since the variational principle holds for the exact
# energy of $\psi$ (asserted for every run). Then three questions that the printed numbers answer
# for your run:
#
# - Is the critical point the hardest field for this RBM? Away from $h = J$ the *connected*
#   correlations decay with a finite correlation length; the ordered phase ($h < J$) still has
#   long-range order, $C(r) \to m^2$, which the RBM has to represent as well.
# - In the $\alpha$ scan: is a single filter ($\alpha = 1$) enough, and what does each doubling of
#   the hidden layer buy?
# - Does $\tau_{\text{int}}$ grow with $n$ at $h = J$, as critical slowing down suggests?

# %% tags=["learning-check"]
# The key result: at h = J, the relative energy error plus three standard errors at every size, against the closed-form E0.
checks.below(
    "relative_error_h1",
    {f"n{n}": r["rel"] + 3 * r["rel_error"] for n, r in size_runs.items()},
    config.scaled(smoke=1e-3, lecture=3e-4, full=3e-4),
    "relative energy error (E − E0)/|E0| plus 3 standard errors at h = J, α = 2, E0 from the closed form",
)

# %% tags=["learning-check"]
# Every RBM of the α and field scans learned: its relative error (plus three standard errors) over the untrained RBM's.
checks.below(
    "scans_over_untrained",
    {f"alpha{a}": (r["rel"] + 3 * r["rel_error"]) / r["rel_init"] for a, r in alpha_runs.items()}
    | {f"h{h}": (r["rel"] + 3 * r["rel_error"]) / r["rel_init"] for h, r in field_runs.items()},
    config.scaled(smoke=0.1, lecture=0.1, full=0.1),
    "relative energy error plus 3 standard errors over the same RBM's before training",
)

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
results.record("sr_exact_relative_energy_error", exact_rel["SR"], n=N_MAIN)
results.record("adam_exact_relative_energy_error", exact_rel["Adam"], n=N_MAIN)
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
# The antiferromagnetic Heisenberg chain, with $\sigma^\pm = (\sigma^x \pm i\sigma^y)/2$ the
# operators that raise and lower one spin,
#
# $$H = \sum_{i} \boldsymbol\sigma_i\cdot\boldsymbol\sigma_{i+1}
#     = \sum_i \Big(\sigma^z_i\sigma^z_{i+1} + 2\,(\sigma^+_i\sigma^-_{i+1} + \sigma^-_i\sigma^+_{i+1})\Big),$$
#
# (Pauli matrices, periodic) is the harder case {cite:t}`carleo2017` also solved. Its off-diagonal
# elements exchange an antiparallel neighbouring pair with amplitude $+2 > 0$: $H$ is *not*
# stoquastic in this basis, and its ground state does have signs (checked below). On a bipartite
# ring (even $n$) Marshall's rule {cite:p}`marshall1955` fixes them:
# $\psi_0(s) = (-1)^{N_\uparrow(A)}\,|\psi_0(s)|$, with $N_\uparrow(A)$ the number of up spins on the
# even sites, up to one global sign. Rotating the spins of one sublattice by $\pi$ about $z$
# removes that sign: in the rotated basis the exchange amplitude becomes $-2$, the Hamiltonian is
# stoquastic, and a positive, real RBM applies again
# (`spin_chains.heisenberg_local_energy(..., marshall=True)`).
#
# The sign rule also fixes the momentum. A translation by one site exchanges the sublattices, so in
# the sector $\sum_i s_i = 0$ it turns $N_\uparrow(A)$ into $n/2 - N_\uparrow(A)$, and the
# ground state in the original basis picks up $(-1)^{n/2}$: momentum $\pi$ when $n \equiv 2 \bmod 4$
# (e.g. $n = 22$). No translation-invariant ansatz ($\psi(Ts) = \psi(s)$) can represent that state;
# in the rotated basis the ground state is positive, hence translation invariant (section 2), and
# `nqs.SymmetricRBM` applies.
#
# Two more changes:
#
# - $H$ conserves $\sum_i\sigma^z_i$, and the ground state has $\sum_i s_i = 0$. The chains start
#   in that sector and stay there with **exchange moves**: swap the spins of two random sites
#   (`move="exchange"`), a symmetric proposal accepted with probability $\min(1, |\psi'/\psi|^2)$.
#   The final estimates use the thinning and burn-in of the Ising chain; exchange moves on another
#   Hamiltonian may decorrelate at another rate, but the error bars, from the spread of
#   independent chains, do not depend on it.
# - An exactly zero initialisation never trains: at $W = b = 0$ every $\tanh\chi_j = 0$, so the
#   log-derivatives with respect to $b$ and $W$, hence their gradients, vanish, and
#   $O_a = \sum_i s_i = 0$ in the sector. We start from small random weights (`INIT_SCALE`).
#
# **Exact references.** Lanczos in the zero-magnetisation sector, built from integer bit strings,
# for every chain we train ($n = 22$: 705,432 configurations). For comparison, the Bethe-ansatz
# energy per spin of the infinite chain is $1 - 4\ln 2$ in these units {cite:p}`hulthen1938`, and
# conformal field theory adds $-\pi^2/(3n^2)$ at leading order for a ring of $n$ spins. First the
# sign rule and the momentum, checked on exact ground states:

# %% slideshow={"slide_type": "subslide"}
for n in sorted({6, 8, 10} | {n for n, _ in HEIS_RUNS if n <= 16}):
    H_orig, sector = spin_chains.heisenberg_hamiltonian(n, magnetization=0)
    H_rot, _ = spin_chains.heisenberg_hamiltonian(n, marshall=True, magnetization=0)
    e_orig, psi_orig = exact_ground_state(H_orig)
    e_rot, psi_rot = exact_ground_state(H_rot)
    marshall = spin_chains.marshall_sign(sector)
    marshall_signs = np.array_equal(np.sign(psi_orig), marshall * marshall[np.argmax(np.abs(psi_orig))])
    translated = np.searchsorted(
        spin_chains.basis_index(sector), spin_chains.basis_index(np.roll(sector, 1, axis=1))
    )
    momentum_sign = psi_orig[translated] @ psi_orig  # <ψ0|T|ψ0> = ±1 for a translation eigenstate
    print(
        f"n = {n:2d}: {len(sector):5d} states, E0 = {e_orig:.10f}; rotated ground state positive: "
        f"{bool(np.all(psi_rot > 0))}; original signs = Marshall signs: {marshall_signs}; "
        f"<T> = {momentum_sign:+.6f}"
    )
    assert np.all(psi_rot > 0) and marshall_signs  # Marshall's rule
    assert abs(momentum_sign - (-1) ** (n // 2)) < 1e-8  # momentum π when n ≡ 2 mod 4


def heisenberg_e0(n):
    """The ground-state energy of the Heisenberg ring of n spins (Lanczos in the sector Σ s = 0)."""
    H, _ = spin_chains.heisenberg_hamiltonian(n, marshall=True, magnetization=0)
    return float(sla.eigsh(H, k=1, which="SA")[0][0])


HEIS_E0 = {}
for n in sorted({n for n, _ in HEIS_RUNS}):
    HEIS_E0[n] = cache.cached_json(f"09_heisenberg_e0_n{n}", compute=lambda n=n: heisenberg_e0(n))
    bethe = 1 - 4 * math.log(2) - math.pi**2 / (3 * n**2)
    print(
        f"n = {n}: E0 = {HEIS_E0[n]:.10f}, E0/n = {HEIS_E0[n] / n:.6f} (Bethe ansatz + 1/n² term: {bethe:.6f})"
    )


# %% slideshow={"slide_type": "subslide"}
def heisenberg_run(n, alpha):
    """The RBM with α filters trained on the Heisenberg ring of n spins (Marshall basis, exchange moves)."""
    local_energy = lambda model, s: spin_chains.heisenberg_local_energy(model, s, marshall=True)
    seed = [SEED, n, alpha]
    out = cache.cached_arrays(
        f"09_heisenberg_n{n}_alpha{alpha}",
        compute=lambda: train_and_measure(n, alpha, local_energy, seed, "sr", "exchange"),
    )
    return summary(out, n, alpha, HEIS_E0[n])


heis_runs = {(n, alpha): heisenberg_run(n, alpha) for n, alpha in HEIS_RUNS}
for (n, alpha), r in heis_runs.items():
    print(
        f"n = {n}, α = {alpha}: E = {r['energy']:.5f} ± {r['error']:.5f} (exact {r['E0']:.5f}), relative error "
        f"{r['rel']:.2e} ± {r['rel_error']:.1e}, before training {r['rel_init']:.2e}; "
        f"acceptance {r['acceptance'][-1]:.2f}"
    )

fig, ax = plt.subplots(figsize=(7, 3.8))
for (n, alpha), r in heis_runs.items():
    ax.plot((r["step_energy"] - r["E0"]) / abs(r["E0"]), lw=1, label=f"n = {n}, α = {alpha}")
ax.axhline(0, color="gray", lw=0.8)
ax.set_yscale("symlog", linthresh=1e-4)
ax.set(xlabel="step", ylabel=r"$(E - E_0)/|E_0|$", title="Heisenberg chain, SR, Marshall basis")
ax.legend()
plt.tight_layout()
plt.show()

# %% tags=["learning-check"]
# Every Heisenberg RBM learned: its relative error (plus three standard errors) over the untrained RBM's.
checks.below(
    "heisenberg_over_untrained",
    {f"n{n}_alpha{a}": (r["rel"] + 3 * r["rel_error"]) / r["rel_init"] for (n, a), r in heis_runs.items()},
    config.scaled(smoke=0.1, lecture=0.1, full=0.1),
    "relative energy error plus 3 standard errors over the same RBM's before training (Lanczos E0)",
)

# %% tags=["learning-check"]
# The largest-α RBM at the largest n: its relative error plus three standard errors, against the Lanczos E0.
n_h = max(n for n, _ in HEIS_RUNS)
best = heis_runs[(n_h, max(a for n, a in HEIS_RUNS if n == n_h))]
checks.below(
    "heisenberg_relative_error",
    best["rel"] + 3 * best["rel_error"],
    config.scaled(smoke=1e-3, lecture=3e-4, full=3e-4),
    "relative energy error (E − E0)/|E0| plus 3 standard errors of the largest Heisenberg RBM, E0 by Lanczos",
)

# %%
for (n, alpha), r in heis_runs.items():
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
# - An RBM with its hidden units traced out is a wavefunction: $\psi(s) = e^{a\cdot s}\prod_j 2\cosh\chi_j(s)$.
#   Trained by variational Monte Carlo it needs no data: it samples its own Born distribution,
#   and the Hamiltonian supplies the loss through the local energy.
# - The variational principle makes the energy an honest yardstick: an estimate may lie below
#   $E_0$ only within its error bar (asserted for every run), and the variance of the local energy
#   measures how close $\psi$ is to an eigenstate without any reference.
# - Stochastic reconfiguration, for a real $\psi$ natural-gradient descent in the Fisher metric of
#   $|\psi|^2$, reached a lower energy than Adam here, with these settings and the same number of
#   samples per step (asserted on exact energies); its diagonal shift tames the first steps.
# - Against exact results (closed form, exact diagonalisation) the RBM reaches the accuracy
#   asserted above at the critical point of the Ising chain, and, with the Marshall sign rule, on
#   the Heisenberg chain.
# - Positive real amplitudes work because both Hamiltonians are (or can be rotated to be)
#   stoquastic. For frustrated magnets and for fermions beyond one dimension no general rotation
#   is known: there the signs must be learned, the open frontier of neural quantum states.
#
# **Further reading.** {cite:t}`carleo2017`; {cite:t}`sorella1998` (stochastic reconfiguration);
# {cite:t}`pfeuty1970` and {cite:t}`lieb1961` (the exact solution); {cite:t}`marshall1955`
# (the sign rule); the NetKet library (netket.org) for production VMC.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# The first three are **checked**: fill in the cell marked `...`, run it, then run the `check`
# line below it, which measures your answer against an independent reference (the Hamiltonian of
# exact diagonalisation applied to all $2^n$ amplitudes, finite differences of the exact energy,
# enumeration of all configurations) and says what disagrees. The others are open: write your
# answer, then compare it with the model answer. In the book each solution is folded: try first.

# %%
from lib.exercises import check

# %% [raw]
# # BEGIN QUESTION
# name: ex09_1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: The local energy on a square lattice
#
# On a periodic lattice of $L_r \times L_c$ sites ($L_r, L_c \ge 3$; row $r$ and column $c$ give
# site $i = rL_c + c$, and $n = L_rL_c$) the transverse-field Ising model is
#
# $$H = -J\sum_{\langle ij\rangle}\sigma^z_i\sigma^z_j - h\sum_{i=0}^{n-1}\sigma^x_i ,$$
#
# the first sum over the $2n$ nearest-neighbour bonds, each counted once (every site with its
# right neighbour and the one below it, wrapping around at the edges). Write
# `square_local_energy(log_psi, s, h, J, rows, cols)`, the local energy
# $E_{\text{loc}}(s) = \sum_{s'} H_{ss'}\,\psi(s')/\psi(s)$ of section 3 for a batch `s` of shape
# `(B, n)` with entries $\pm1$, where `log_psi` is any function that maps such a batch to the real
# log-amplitudes $\log\psi$, shape `(B,)`, and `rows`, `cols` are $L_r, L_c$. Return shape `(B,)`.
# Use NumPy, not `spin_chains.local_energy`, which takes a list of bonds and is the lecture's
# answer. Which of the two terms of $E_{\text{loc}}$ depends on the lattice?


# %% tags=["hide-input"]
def square_local_energy(log_psi, s: np.ndarray, h: float, J: float, rows: int, cols: int) -> np.ndarray:
    """E_loc(s) of the transverse-field Ising model on the periodic rows × cols lattice (site r·cols + c)."""
    # BEGIN SOLUTION
    B, n = s.shape
    grid = s.reshape(B, rows, cols)
    # each bond once: every site with its right neighbour and with the one below, both periodic
    right = np.sum(grid * np.roll(grid, -1, axis=2), axis=(1, 2))
    down = np.sum(grid * np.roll(grid, -1, axis=1), axis=(1, 2))
    flipped = np.repeat(s[:, None, :], n, axis=1)  # copy i of each row has spin i flipped
    flipped[:, np.arange(n), np.arange(n)] *= -1
    log_ratio = log_psi(flipped.reshape(B * n, n)).reshape(B, n) - log_psi(s)[:, None]
    return -J * (right + down) - h * np.exp(log_ratio).sum(axis=1)  # the flip term: the same on any lattice
    # END SOLUTION


# %%
check("09.1", square_local_energy)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex09_2

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: The energy gradient of complex parameters
#
# A wavefunction with signs or phases needs complex parameters. Let $\log\psi_\theta(s)$ be an
# analytic function of complex parameters $\theta_k$ (as for the RBM of section 2 with complex
# $a, b, W$), with complex log-derivatives $O_k(s) = \partial\log\psi_\theta(s)/\partial\theta_k$,
# and complex local energies $E_{\text{loc}}(s)$. The energy $E = \langle\psi|H|\psi\rangle/\langle\psi|\psi\rangle$
# is real, a function of the real parameters $\mathrm{Re}\,\theta_k$ and $\mathrm{Im}\,\theta_k$.
# With averages over $p = |\psi|^2/\sum|\psi|^2$, show that
#
# $$g_k = \langle O_k^* E_{\text{loc}}\rangle - \langle O_k^*\rangle\langle E_{\text{loc}}\rangle$$
#
# gives $\partial E/\partial\,\mathrm{Re}\,\theta_k = 2\,\mathrm{Re}\,g_k$ and
# $\partial E/\partial\,\mathrm{Im}\,\theta_k = 2\,\mathrm{Im}\,g_k$ (hint: compute
# $\partial E/\partial\theta_k^*$ with $\theta_k$ and $\theta_k^*$ as independent variables). Write
# `complex_gradient(O, e_loc, weights)`: `O` of shape `(B, P)` and `e_loc` of shape `(B,)`, both
# complex, evaluated on $B$ configurations whose probabilities are proportional to the
# non-negative `weights` (shape `(B,)`: $|\psi|^2$ on all configurations for an exact average, or
# ones for samples of $|\psi|^2$); return the complex array of shape `(P,)` with entries
# $\partial E/\partial\,\mathrm{Re}\,\theta_k + i\,\partial E/\partial\,\mathrm{Im}\,\theta_k$.
# What goes wrong with the formula of section 3, without the complex conjugate?


# %% tags=["hide-input"]
def complex_gradient(O: np.ndarray, e_loc: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """∂E/∂Re θ_k + i ∂E/∂Im θ_k for a log ψ analytic in complex θ, from O_k and E_loc weighted by |ψ|²."""
    # BEGIN SOLUTION
    # ∂E/∂θ* = <O* E_loc> − <O*><E_loc> = g (only ψ* depends on θ*), and E is real, so
    # ∂E/∂Re θ = ∂E/∂θ + ∂E/∂θ* = 2 Re g and ∂E/∂Im θ = i (∂E/∂θ − ∂E/∂θ*) = 2 Im g. Without the
    # conjugate, ⟨O E_loc⟩ − ⟨O⟩⟨E_loc⟩ is g with Im O_k (the change of the phase) replaced by −Im O_k:
    # every term in which the phase enters has the wrong sign, so it is the gradient only for real O_k
    p = weights / weights.sum()
    O_centred = O - p @ O
    e_centred = e_loc - p @ e_loc
    return 2 * (O_centred.conj().T @ (p * e_centred))
    # END SOLUTION


# %%
check("09.2", complex_gradient)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex09_3

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: The RBM without hidden units is mean-field theory
#
# With no hidden units ($M = 0$) and all visible biases equal to a real $a$, the RBM of section 2 is
# the product state $\psi_a(s) = e^{a\sum_i s_i}$. On the ring of section 1 ($n \ge 3$ spins,
# $J, h > 0$), show that its Born distribution makes the spins independent with
# $m = \langle s_i\rangle = \tanh 2a$, and that its energy per spin $e(a) = E[\psi_a]/n$ does not
# depend on $n$: $e(a) = -Jm^2 - h\sqrt{1 - m^2}$. Write `product_state_energy(a, h, J)`, returning
# $e(a)$, and `mean_field_energy(h, J)`, returning $\min_a e(a)$. Up to which field does the best
# product state order ($m \ne 0$)? At $h = J$, compare it with the exact energy per spin of the
# infinite chain, $-4J/\pi$ (the closed form of section 1 as $n \to \infty$). What does
# $\psi_a$ lack that the hidden units supply?


# %% tags=["hide-input"]
def product_state_energy(a: float, h: float, J: float) -> float:
    """Energy per spin E[ψ_a]/n of the product state ψ_a(s) = exp(a Σ_i s_i) on the Ising ring."""
    # BEGIN SOLUTION
    # |ψ_a|² ∝ Π_i exp(2a s_i): independent spins, <s_i s_{i+1}> = m², m = tanh 2a; the flip term
    # averages ψ(s^(i))/ψ(s) = exp(−2a s_i) to 2/(2 cosh 2a) = √(1 − m²)
    return float(-J * np.tanh(2 * a) ** 2 - h / np.cosh(2 * a))
    # END SOLUTION


def mean_field_energy(h: float, J: float) -> float:
    """min over a of the product state's energy per spin, for h, J > 0."""
    # BEGIN SOLUTION
    # de/dm = m (−2J + h/√(1 − m²)) = 0: m = 0 (e = −h), or √(1 − m²) = h/(2J), possible for h < 2J,
    # where e = −J − h²/(4J) = −h − (J − h/2)²/J lies lower. So it orders up to h = 2J, twice the exact
    # critical field, and at h = J gives −5J/4 > −4J/π ≈ −1.273 J. ψ_a lacks correlations: under it
    # ⟨s_i s_j⟩ = m² at every distance; summing out a hidden unit couples the spins it sees
    return float(-J - h**2 / (4 * J)) if h < 2 * J else float(-h)
    # END SOLUTION


# %%
check("09.3", product_state_energy, mean_field_energy)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex09_4
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: Training on the square lattice
#
# On the $4\times4$ periodic lattice of exercise 1 (16 spins, site $4r + c$) the bonds are
# `bonds = [(4*r + c, 4*r + (c+1) % 4) for r in range(4) for c in range(4)] + [(4*r + c, 4*((r+1) % 4) + c) for r in range(4) for c in range(4)]`.
# `spin_chains.tfim_hamiltonian(16, h, J, bonds=bonds)` builds $H$ for exact diagonalisation, and
# `spin_chains.local_energy(model, s, h, J, bonds=bonds)` is the local energy of exercise 1 (given
# the RBM object itself, it uses the RBM's cheaper flip ratios). `nqs.SymmetricRBM` is translation
# invariant along a ring only, so train an unconstrained `nqs.RBM.random(16, M, scale=INIT_SCALE, seed=rng)`
# with $M = 16, 32$ (the `vmc` function of section 3 accepts it) near the 2-D critical field
# $h \approx 3.04\,J$ {cite:p}`blote2002`. Is the relative error larger than on the ring of 16 spins
# (section 5 at the `lecture` scale)?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# The local energy changes only in its diagonal part, now $2n = 32$ bonds; $E_0$ comes from Lanczos
# on the $2^{16}$ states, as in section 1. Compare at the same budget (`STEPS`, `N_CHAINS`) and check,
# as in section 5, that the VMC energy agrees within its error bar with the exact energy of the
# trained $\psi$ (`spin_chains.exact_energy(model, H, spin_chains.spin_states(16))`) and never lies
# below $E_0$ beyond it. Expect a larger relative error in 2-D, for two reasons worth separating.
# The ansatz: an unconstrained RBM has $n + M + nM$ parameters (288 at $M = 16$, 560 at
# $M = 32$, against $\alpha n + \alpha + 1 = 35$ for the ring's symmetric RBM at $\alpha = 2$), all
# estimated from the same number of samples, so the SR steps are noisier, and the translation
# invariance of the ground state has to be learned instead of built in (a translation-invariant
# RBM on the torus, each filter applied at all 16 translations, restores it). The physics: each
# spin has four neighbours, and the correlations at the critical point spread in two directions;
# on a $4\times4$ lattice the transition is strongly rounded, so $3.04\,J$, the critical field of
# the infinite lattice, is only roughly the hardest field here. To separate the two, train the
# unconstrained RBM on the ring of 16 spins as well.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex09_5
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 5: Complex parameters without the sign rule
#
# Train the Heisenberg chain in the original basis (`marshall=False`), where the ground state has
# signs, with a complex RBM: complex $a, b, W$, its `log_psi` written with `nqs.log_cosh2` (which
# takes complex arguments), its log-derivatives $s_i$, $\tanh\chi_j$, $s_i\tanh\chi_j$ as for real
# parameters. `nqs.metropolis`, `nqs.sample` and `spin_chains.heisenberg_local_energy` (given the
# `log_psi` function) accept complex log-amplitudes; `nqs.RBM`, `nqs.SymmetricRBM`,
# `nqs.energy_gradient` and `nqs.sr_update` are for real parameters only and refuse complex input.
# Use the gradient of exercise 2 and the SR step $\delta\theta = -\eta\,(S + \lambda\mathbb 1)^{-1}g$
# with the quantum geometric tensor $S_{kl} = \langle O_k^* O_l\rangle - \langle O_k^*\rangle\langle O_l\rangle$
# (a complex linear solve). Show that treating $\mathrm{Re}\,\theta$ and $\mathrm{Im}\,\theta$ as
# separate real parameters, with log-derivatives $O_k$ and $iO_k$, gives the same step with the
# real metric and half-gradient of those log-derivatives. Use $n \equiv 0 \bmod 4$ (e.g. 16 or
# 20) with a translation-invariant ansatz, or an unconstrained RBM: for $n \equiv 2 \bmod 4$ the
# ground state has momentum $\pi$ in this basis (section 7). Does it find the Marshall signs, and
# how many steps does it need compared with section 7?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# For a real parameter $x$ the SR metric and half-gradient are the real parts of the same
# covariances, $\mathrm{Re}\,\langle\tilde O_\mu^*\tilde O_\nu\rangle_c$ and
# $\mathrm{Re}\,\langle\tilde O_\mu^* E_{\text{loc}}\rangle_c$. With $\tilde O = (O, iO)$ for
# $(\mathrm{Re}\,\theta, \mathrm{Im}\,\theta)$ the metric has the blocks
# $\begin{pmatrix}\mathrm{Re}\,S & -\mathrm{Im}\,S\\ \mathrm{Im}\,S & \mathrm{Re}\,S\end{pmatrix}$ and
# the half-gradient is $(\mathrm{Re}\,g, \mathrm{Im}\,g)$, as in exercise 2; the real and imaginary
# parts of $(S + \lambda\mathbb 1)\,\delta\theta = -\eta\, g$ with $\delta\theta = \delta x + i\,\delta y$
# are exactly these two block equations. The signs are within reach: with
# $N_\uparrow(A) = n/4 + \tfrac12\sum_{i\,\text{even}} s_i$, the Marshall sign is
# $(-1)^{N_\uparrow(A)} = e^{i\pi n/4}\, e^{i\frac{\pi}{2}\sum_{i\,\text{even}} s_i}$, so visible
# biases $a_i = i\pi/2$ on the even sites and $0$ on the odd ones give it exactly, up to a global
# phase. A translation-invariant ansatz has a single $a$, and $a\sum_i s_i$ is constant in the
# sector $\sum_i s_i = 0$: there the phases must come from the hidden units. Measure the sign
# structure by $|\langle e^{i\arg\psi(s)}(-1)^{N_\uparrow(A)}\rangle|$ under $|\psi|^2$, which is 1
# exactly when the phases of $\psi$ are the Marshall signs up to a global phase (at $n = 16$ the
# exact ground state gives the same test without sampling). Take $\mathrm{Re}\,\langle E_{\text{loc}}\rangle$
# as the energy: the imaginary part of the mean averages to zero, since $H$ is Hermitian, and
# its size is a check of the noise. Expect training from small random parameters to be slower and
# less reliable than in the Marshall basis: the phases start near zero, far from the sign rule,
# and a run may settle where the signs are right only on the most probable configurations, with
# an error well above section 7's. How many steps it needs, if it gets there, depends on the
# initialisation and the learning rate: your runs decide.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex09_6
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 6: A global move
#
# At $h = 0.5\,J$ measure $\tau_{\text{int}}$ of $m = \sum_i s_i/n$ (not $m^2$) along the chains.
# Write a global spin-flip proposal $s \to -s$, accepted with probability
# $\min(1, |\psi(-s)/\psi(s)|^2)$, and apply it between sweeps (`nqs.metropolis` has only the
# moves `"flip"` and `"exchange"`). What happens to $\tau_{\text{int}}(m)$, and why is it
# legitimate?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Legitimate: the proposal is its own inverse, $q(-s \mid s) = q(s \mid -s) = 1$, so it is
# symmetric, and the Metropolis acceptance $\min(1, |\psi(-s)|^2/|\psi(s)|^2)$ satisfies detailed
# balance with respect to $|\psi|^2$. A sweep of single flips and the global move each leave
# $|\psi|^2$ invariant, hence so does their alternation, and the single flips alone already make
# the chain ergodic. The move is also a symmetry of the physics: $P = \prod_i\sigma^x_i$ maps $s$ to
# $-s$ and commutes with $H$, and $P\psi_0 = +\psi_0$ (section 1), so $\psi_0(-s) = \psi_0(s)$ and a
# good $\psi$ accepts the move almost always (the acceptance measures how much the trained biases
# break the symmetry). At $h = 0.5\,J$ the sign of $m$ is the slow variable (section 4): expect
# $\tau_{\text{int}}(m)$ without the move to be long, possibly beyond what chains of `TAU_SWEEPS`
# sweeps can measure, and with it to drop to about one sweep: $m$ then changes sign at almost every
# move, its autocorrelation function alternates in sign, and $1/2 + \sum_{t\ge1}\rho(t)$ can come out
# at or below $1/2$ (where `ising_mc.integrated_autocorrelation_time` returns its floor, $1/2$).
# $\tau_{\text{int}}(m^2)$ should not change, since $m^2$ is invariant under the move. The move
# also removes the sector bias of section 4: every chain now moves between the two signs, so the
# fraction of time it spends at either approaches that sign's weight under $|\psi|^2$, $w$ or $1 - w$.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex09_7
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 7: Plain gradient descent
#
# Replace SR by gradient descent with a constant rate, $\delta\theta = -\eta\,\partial E/\partial\theta$,
# and by SR with a constant shift $\lambda = 10^{-3}$ from the first step. Which of them reaches
# the SR error of section 4 in the same number of steps, and what goes wrong in the first steps?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# :::{dropdown} Model answer
# Near the initialisation both have a problem, of opposite kinds. At $a = 0$, $W = b = 0$ the gradient
# vanishes (the log-derivatives of $b$ and $W$ do, section 7, and that of $a$ averages to zero
# against the local energy of the uniform state, by the symmetry $s \to -s$): the tiny random
# start sits next to a stationary point, the uniform state, whose energy is $-nh$ (every flip
# ratio is 1 and $\langle s_i s_{i+1}\rangle = 0$). Plain gradient descent leaves it at a speed set
# by the gradient itself: expect a plateau near $-nh$ before the energy falls. A constant rate must
# also be small enough for the stiffest direction of the landscape, and is then slow along the
# flat ones; a larger rate shortens the plateau but makes later steps unstable. SR with a constant
# $\lambda = 10^{-3}$ has the opposite problem: $S$ is nearly singular at the start (the
# log-derivatives of the hidden units hardly fluctuate), so $(S + \lambda\mathbb 1)^{-1}$ multiplies
# their noisy half-gradients by up to $1/\lambda = 1000$: expect huge, erratic first steps, the
# energy jumping up, the acceptance collapsing as $|\psi|^2$ concentrates on a few configurations,
# and possibly a run that does not recover. The decaying shift of section 4 takes gradient-like
# steps (rate $\eta/2\lambda$) while $S$ is unreliable and natural-gradient steps later. Which
# variant, if any, reaches section 4's error in `STEPS` steps your runs decide; compare the exact
# energies by enumeration, as section 4 does.
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex09_8
# manual: true

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 8: What α = 1 misses
#
# The trained models are in the runs: `alpha_runs[1]["model"].w` is the filter of the $\alpha = 1$
# RBM (shape $(1, n)$), `alpha_runs[2]["model"].w` the two filters of $\alpha = 2$ (a
# `SymmetricRBM` holds the scalar `a`, `b` of shape $(\alpha,)$ and `w` of shape $(\alpha, n)$).
# Compare them at $h = J$. Then start an $\alpha = 2$ optimisation from the trained $\alpha = 1$ RBM
# `m` plus a second small random filter,
# `nqs.SymmetricRBM(m.a, np.append(m.b, 0.0), np.vstack([m.w, 0.01 * rng.standard_normal(m.n_visible)]))`,
# with `vmc`: how does the error evolve?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown] slideshow={"slide_type": "subslide"}
# :::{dropdown} Model answer
# Symmetries first. The ground state of the ring is unique, so it is invariant under every
# symmetry of $H$ that permutes the configurations: translations, the reflection $i \to -i$ and
# the global flip $s \to -s$. Since $\log 2\cosh$ is even, the RBM with $a = 0$ and $b = 0$ is even
# under $s \to -s$: expect the trained $a$ and $b$ to be small next to the weights. A filter
# enters only through its sum over all $n$ positions, so a filter and any cyclic shift of it
# describe the same $\psi$: compare filters after shifting each to centre its largest weight, and
# expect a roughly symmetric profile about that centre, as the reflection symmetry suggests.
# Since $\log 2\cosh\chi$ is even and convex, a hidden unit whose weights share a sign rewards
# configurations in which the spins under its filter are aligned, either way: ferromagnetic
# correlations over the filter's range. Expect weights that decay with the distance from the
# centre; with two filters, look for a division of labour (for instance a short-range and a
# longer-range filter), or for two copies of one profile. The warm start begins at the
# $\alpha = 1$ wavefunction, almost unchanged: the new hidden units add
# $\log 2\cosh\chi \approx \log 2 + \chi^2/2$ with $\chi$ of order $0.01\sqrt n$. It also begins next
# to a stationary point in the new filter's direction, since at $b = 0$, $w = 0$ its
# log-derivatives vanish (section 7). Expect the error to start at the $\alpha = 1$ value and to
# stay there while the new filter grows from its small start, then to fall towards the
# $\alpha = 2$ error of section 6; whether it gets there within `STEPS` steps, and sooner than from
# scratch, the run tells (`vmc` restarts the shift at $\lambda_0 = 1$ and the chains from random
# states).
# :::

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
