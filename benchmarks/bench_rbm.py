"""Time one training epoch of our PyTorch RBM (CD-1 and PCD-1) against scikit-learn's
BernoulliRBM (persistent CD-1) on the same data, hidden size and batch size, in the same run.

    COURSE_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/bench_rbm.py [--hidden 25 500] [--repeats 3]

Prints seconds per epoch (best of ``--repeats``) and the ratio ours / scikit-learn. Timings
depend on the machine and its load; this is a script to read, never a test that asserts.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neural_network import BernoulliRBM
from threadpoolctl import threadpool_limits

from lib import data


def torch_epoch(
    v_train: np.ndarray, n_hidden: int, *, persistent: bool, batch_size: int, seed: int = 0
) -> float:
    """Seconds for one epoch of CD-1 / PCD-1 with the free-energy surrogate, as in notebook 01."""
    torch.manual_seed(seed)
    W = (0.01 * torch.randn(784, n_hidden)).requires_grad_()
    b = torch.zeros(784, requires_grad=True)
    c = torch.zeros(n_hidden, requires_grad=True)
    opt = torch.optim.SGD([W, b, c], lr=0.03, momentum=0.5)
    loader = data.to_torch_loader(v_train, batch_size=batch_size, seed=seed)
    chains = torch.bernoulli(torch.full((batch_size, 784), 0.5))

    def free_energy(v):
        return -(v @ b) - F.softplus(v @ W + c).sum(1)

    def gibbs(v):
        with torch.no_grad():
            h = torch.bernoulli(torch.sigmoid(v @ W + c))
            return torch.bernoulli(torch.sigmoid(h @ W.T + b))

    start = time.perf_counter()
    for v in loader:
        if persistent:
            chains = gibbs(chains)
            v_model = chains[: len(v)]
        else:
            v_model = gibbs(v)
        loss = free_energy(v).mean() - free_energy(v_model).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def sklearn_epoch(v_train: np.ndarray, n_hidden: int, *, batch_size: int, seed: int = 0) -> float:
    model = BernoulliRBM(
        n_components=n_hidden, learning_rate=0.05, batch_size=batch_size, n_iter=1, random_state=seed
    )
    start = time.perf_counter()
    model.fit(v_train)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[25, 500])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--threads", type=int, default=1, help="threads for torch and for NumPy's BLAS (scikit-learn)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)  # same thread budget for both contestants

    images, _ = data.load_mnist("train")
    v_train = data.binarize(images, "stochastic", seed=0).reshape(-1, 784)
    print(
        f"{len(v_train)} images, batch {args.batch_size}, torch threads {args.threads}, best of {args.repeats}"
    )
    print(
        f"{'hidden':>6} | {'ours CD-1 s':>11} | {'ours PCD-1 s':>12} | {'sklearn s':>9} | CD-1/sk | PCD-1/sk"
    )
    for n_hidden in args.hidden:
        cd = min(
            torch_epoch(v_train, n_hidden, persistent=False, batch_size=args.batch_size)
            for _ in range(args.repeats)
        )
        pcd = min(
            torch_epoch(v_train, n_hidden, persistent=True, batch_size=args.batch_size)
            for _ in range(args.repeats)
        )
        sk = min(sklearn_epoch(v_train, n_hidden, batch_size=args.batch_size) for _ in range(args.repeats))
        print(f"{n_hidden:>6} | {cd:11.3f} | {pcd:12.3f} | {sk:9.3f} | {cd / sk:7.2f} | {pcd / sk:8.2f}")


if __name__ == "__main__":
    main()
