"""Wolff cluster updates against checkerboard Metropolis at T_c (:func:`lib.ising_mc.sample`), in
seconds per effectively independent sample: seconds per sweep × 2 τ_int of |M|::

    .venv/bin/python benchmarks/bench_ising.py [--sizes 16 32] [--sweeps 4000]

One chain per algorithm and size, ``--sweeps`` recorded sweeps after a burn-in; τ_int from
:func:`lib.ising_mc.integrated_autocorrelation_time`. Near T_c Metropolis suffers critical
slowing down (τ grows like L^2.17) while Wolff does not, so the ratio falls with L. Prints
``RATIO ising_wolff_over_metropolis_L<L> <value>``. Reports, never asserts.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lib import ising, ising_mc


def seconds_per_independent_sample(L: int, algorithm: str, sweeps: int) -> tuple[float, float, float]:
    start = time.perf_counter()
    chain = ising_mc.sample(L, ising.ONSAGER_TC, sweeps, algorithm=algorithm, n_chains=1, n_between=1, seed=0)
    seconds = time.perf_counter() - start
    abs_m = np.abs(ising.magnetization(chain))
    tau = ising_mc.integrated_autocorrelation_time(abs_m)
    per_sweep = seconds / sweeps  # the burn-in is charged too: an upper bound, as a user pays it
    return per_sweep, tau, per_sweep * 2 * tau


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--sweeps", type=int, default=4000)
    args = parser.parse_args()
    ratios = {}
    print(f"Ising at T_c, {args.sweeps} sweeps per chain: seconds per effectively independent sample")
    print(f"{'L':>4} | {'algorithm':>10} | {'s / sweep':>10} | {'tau_int |M|':>11} | {'s / indep.':>10}")
    for L in args.sizes:
        out = {}
        for algorithm in ("metropolis", "wolff"):
            out[algorithm] = seconds_per_independent_sample(L, algorithm, args.sweeps)
            s, tau, ind = out[algorithm]
            print(f"{L:>4} | {algorithm:>10} | {s:10.2e} | {tau:11.1f} | {ind:10.2e}")
        ratios[L] = out["wolff"][2] / out["metropolis"][2]
    for L, r in ratios.items():
        print(f"RATIO ising_wolff_over_metropolis_L{L} {r:.3f}")


if __name__ == "__main__":
    main()
