"""AIS for a 784×500 RBM (:func:`lib.rbm.log_partition_ais`, 10,000 intermediate distributions,
100 runs): its seconds, and how close they come to the hardware limit, i.e. to the time of the
two matrix products that every intermediate distribution needs, measured alone on this machine::

    .venv/bin/python benchmarks/bench_ais.py [--betas 10000] [--runs 100]

Per β, AIS multiplies the (runs × 784) visible states by W (784 × 500) and the (runs × 500) hidden
states by Wᵀ; the rest (sigmoids, random numbers, log-weights) is overhead. Prints
``RATIO ais_784x500_over_matmul <seconds of AIS / seconds of the products alone>`` (≥ 1; the
closer to 1 the closer to the limit). Reports, never asserts.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from lib import rbm

N_VISIBLE, N_HIDDEN = 784, 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--betas", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    W = 0.05 * rng.standard_normal((N_VISIBLE, N_HIDDEN))
    b, c = 0.1 * rng.standard_normal(N_VISIBLE), 0.1 * rng.standard_normal(N_HIDDEN)
    with threadpool_limits(args.threads):
        start = time.perf_counter()
        res = rbm.log_partition_ais(W, b, c, n_betas=args.betas, n_runs=args.runs, seed=0)
        ais_seconds = time.perf_counter() - start
        W32 = W.astype(np.float32)
        WT32 = np.ascontiguousarray(W32.T)
        v = (rng.random((args.runs, N_VISIBLE)) < 0.5).astype(np.float32)
        h = (rng.random((args.runs, N_HIDDEN)) < 0.5).astype(np.float32)
        start = time.perf_counter()
        for _ in range(args.betas - 1):
            v @ W32
            h @ WT32
        matmul_seconds = time.perf_counter() - start
    ratio = ais_seconds / matmul_seconds
    print(f"AIS {N_VISIBLE}×{N_HIDDEN}, {args.betas} betas × {args.runs} runs, {args.threads} thread(s):")
    print(f"  AIS                 {ais_seconds:7.2f} s   (log Z = {res.log_z:.2f})")
    print(f"  its matrix products {matmul_seconds:7.2f} s   (measured alone)")
    print(f"  AIS / products      {ratio:7.2f}")
    print(f"RATIO ais_{N_VISIBLE}x{N_HIDDEN}_over_matmul {ratio:.3f}")


if __name__ == "__main__":
    main()
