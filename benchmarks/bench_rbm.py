"""Seconds per training epoch of the course's PyTorch RBM (:func:`lib.rbm_torch.train`, CD-1 and
PCD-1) against scikit-learn's ``BernoulliRBM`` (persistent CD-1), on the same data.

    COURSE_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/bench_rbm.py \\
        [--hidden 25 500] [--threads 1 2] [--epochs 2] [--repeats 5]

Same data (the first 8000 MNIST training images, binarized stochastically with seed 0, float32 for
both), batch size 64, hidden sizes 25 and 500, and the same thread budget for both contestants
(``torch.set_num_threads`` for PyTorch and MKL, ``threadpoolctl`` for NumPy's BLAS). Each timing is
a whole ``train(...)`` / ``fit(...)`` call of ``--epochs`` epochs (input checks, set-up, and our
per-epoch reconstruction-error monitor included) divided by the number of epochs. Ours and
scikit-learn's runs are interleaved within every repeat so that a change in the machine's load hits
both, and the fastest of the repeats is reported, for each contestant (with the spread max/min):
the machine's noise only ever adds time, and a run takes about 0.1 s at 25 hidden units, where
one late thread wake-up on two threads moved the median by a third from one run of this script
to the next (the advice of Python's ``timeit``: the minimum is the estimate of the cost itself).
No measurement starts after ``--max-seconds`` (default 150): on an idle machine the whole run
takes about half a minute; on an overloaded one, multi-threaded runs crawl and what was not
measured is reported as skipped.

Prints a table, then one machine-readable line per comparison::

    RATIO rbm_cd1_h25_t1 0.84      # ours / scikit-learn seconds per epoch (< 1: ours is faster)

scikit-learn's ``BernoulliRBM`` does PCD-1 (plain SGD, no momentum, no shuffling, no monitoring),
so both our CD-1 and our PCD-1 are compared with it. Timings depend on the machine and its load:
this script reports, it never asserts.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch
from sklearn.neural_network import BernoulliRBM
from threadpoolctl import threadpool_limits

from lib import data, rbm_torch

N_IMAGES = 8000
BATCH_SIZE = 64


#: Who is timed, in the order of the first repeat: our CD-1, scikit-learn, our PCD-1.
CONTESTANTS = ["cd", "sklearn", "pcd"]


def time_ours(v_train: np.ndarray, n_hidden: int, method: str, epochs: int, seed: int) -> float:
    """Seconds per epoch of ``lib.rbm_torch.train`` (CD-1 or PCD-1), the call as the lectures make it."""
    torch.manual_seed(seed)
    model = rbm_torch.RBM(v_train.shape[1], n_hidden)
    start = time.perf_counter()
    rbm_torch.train(
        model,
        v_train,
        method=method,
        k=1,
        epochs=epochs,
        lr=0.03,
        batch_size=BATCH_SIZE,
        seed=seed,
        progress=False,
    )
    return (time.perf_counter() - start) / epochs


def time_sklearn(v_train: np.ndarray, n_hidden: int, epochs: int, seed: int) -> float:
    """Seconds per epoch of scikit-learn's ``BernoulliRBM.fit`` (PCD-1)."""
    model = BernoulliRBM(
        n_components=n_hidden, learning_rate=0.05, batch_size=BATCH_SIZE, n_iter=epochs, random_state=seed
    )
    start = time.perf_counter()
    model.fit(v_train)
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[25, 500])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed call")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed calls per contestant (the fastest counts)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=150.0,
        help="start no new measurement after this many seconds",
    )
    args = parser.parse_args()

    images, _ = data.load_mnist("train")
    v_train = data.binarize(images[:N_IMAGES], "stochastic", seed=0).reshape(-1, 784)  # float32 0/1
    print(
        f"{len(v_train)} images, batch {BATCH_SIZE}, {args.epochs} epochs per call, "
        f"fastest of up to {args.repeats} interleaved repeats; seconds per epoch; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    configs = [(threads, n_hidden) for threads in args.threads for n_hidden in args.hidden]
    times = {cfg: {"cd": [], "pcd": [], "sklearn": []} for cfg in configs}
    bench_start = time.perf_counter()
    for threads in args.threads:  # warm-up (thread pools, allocator), not timed
        torch.set_num_threads(threads)
        with threadpool_limits(threads):
            time_ours(v_train[:640], 25, "cd", 1, seed=0)
            time_sklearn(v_train[:640], 25, 1, seed=0)
    # Repeats are the outer loop and ours / scikit-learn alternate inside it, in an order that
    # turns from repeat to repeat: a change in the machine's load hits every contestant alike. Past
    # the time budget no new measurement starts (an overloaded machine makes multi-threaded runs
    # crawl); what was not measured is reported as skipped, with RATIO nan.
    for repeat in range(args.repeats):
        for threads, n_hidden in configs:
            if time.perf_counter() - bench_start > args.max_seconds:
                break
            torch.set_num_threads(threads)
            with threadpool_limits(threads):  # the same budget for NumPy's BLAS (scikit-learn)
                t = times[(threads, n_hidden)]
                # The order turns with every repeat: each contestant follows each other as often
                # (right after scikit-learn, NumPy's BLAS threads still spin for a moment, which
                # slowed whichever of ours ran next on two threads).
                turn = repeat % len(CONTESTANTS)
                names = CONTESTANTS[turn:] + CONTESTANTS[:turn]
                for name in names:
                    if name == "sklearn":
                        t[name].append(time_sklearn(v_train, n_hidden, args.epochs, seed=repeat))
                    else:
                        t[name].append(time_ours(v_train, n_hidden, name, args.epochs, seed=repeat))
    rows, ratios = [], {}
    for (threads, n_hidden), t in times.items():
        if not t["cd"]:
            rows.append((threads, n_hidden, None, t))
            ratios.update({f"rbm_{name}1_h{n_hidden}_t{threads}": math.nan for name in ("cd", "pcd")})
            continue
        best = {name: min(ts) for name, ts in t.items()}  # the fastest repeat of each contestant
        for name in ("cd", "pcd"):
            ratios[f"rbm_{name}1_h{n_hidden}_t{threads}"] = best[name] / best["sklearn"]
        rows.append((threads, n_hidden, best, t))

    print(
        f"{'threads':>7} | {'hidden':>6} | {'ours CD-1':>9} | {'ours PCD-1':>10} | {'sklearn':>8} "
        f"| {'CD-1/sk':>7} | {'PCD-1/sk':>8} | spread (max/min over repeats: CD, PCD, sk)"
    )
    for threads, n_hidden, best, t in rows:
        if best is None:
            print(f"{threads:>7} | {n_hidden:>6} | skipped: the time budget (--max-seconds) ran out")
            continue
        spread = ", ".join(f"{max(ts) / min(ts):.2f}" for ts in (t["cd"], t["pcd"], t["sklearn"]))
        print(
            f"{threads:>7} | {n_hidden:>6} | {best['cd']:9.3f} | {best['pcd']:10.3f} | {best['sklearn']:8.3f} "
            f"| {best['cd'] / best['sklearn']:7.2f} | {best['pcd'] / best['sklearn']:8.2f} | {spread}"
        )
    print(f"(benchmark took {time.perf_counter() - bench_start:.0f} s)")
    for name, value in ratios.items():
        print(f"RATIO {name} {value:.3f}")


if __name__ == "__main__":
    main()
