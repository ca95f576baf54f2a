"""Langevin steps per second for the MNIST EBM's batch (lecture 03): :func:`lib.samplers.langevin`
against the shortest hand-written loop that does the same (autograd gradient, clipped step,
noise, clamp), on the same network and batch::

    .venv/bin/python benchmarks/bench_langevin.py [--batch 64] [--steps 60] [--repeats 3]

The network has the shape of lecture 03's ``ConvEnergy`` (four strided convolutions with Swish,
two linear layers; spectral normalisation left out: it is cached during sampling). Prints steps
per second and ``RATIO langevin_over_minimal_loop <seconds ours / seconds minimal>`` (the overhead
of the library's checks and options). Reports, never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from lib import samplers

LANGEVIN = {"grad_step": 10.0, "noise_std": 0.005, "clamp": (-1.0, 1.0), "grad_clip": 0.03}


def conv_energy(c: int = 16) -> nn.Module:  # lecture 03: CHANNELS = 16
    act = nn.SiLU  # Swish
    return nn.Sequential(
        nn.Conv2d(1, c, 5, stride=2, padding=4), act(),  # (B, c, 16, 16)
        nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), act(),  # (B, 2c, 8, 8)
        nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), act(),  # (B, 4c, 4, 4)
        nn.Conv2d(4 * c, 4 * c, 3, stride=2, padding=1), act(),  # (B, 4c, 2, 2)
        nn.Flatten(), nn.Linear(16 * c, 4 * c), act(), nn.Linear(4 * c, 1), nn.Flatten(0),
    )  # fmt: skip


def minimal_loop(energy: nn.Module, x: torch.Tensor, n_steps: int) -> torch.Tensor:
    for _ in range(n_steps):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(x).sum(), x)
        step = (LANGEVIN["grad_step"] * grad).clamp(-LANGEVIN["grad_clip"], LANGEVIN["grad_clip"])
        x = (x - step + LANGEVIN["noise_std"] * torch.randn_like(x)).clamp(*LANGEVIN["clamp"])
    return x.detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    energy = conv_energy()
    for p in energy.parameters():
        p.requires_grad_(False)
    x0 = 2 * torch.rand(args.batch, 1, 28, 28) - 1
    ours, peer = [], []
    for _ in range(args.repeats):  # interleaved, so that a change of load hits both
        start = time.perf_counter()
        samplers.langevin(energy, x0, n_steps=args.steps, **LANGEVIN)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        minimal_loop(energy, x0, args.steps)
        peer.append(time.perf_counter() - start)
    t_ours, t_peer = statistics.median(ours), statistics.median(peer)
    print(f"Langevin on the MNIST EBM, batch {args.batch}, {args.steps} steps, {args.threads} thread(s):")
    print(f"  lib.samplers.langevin  {args.steps / t_ours:8.1f} steps/s")
    print(f"  minimal loop           {args.steps / t_peer:8.1f} steps/s")
    print(f"RATIO langevin_over_minimal_loop {t_ours / t_peer:.3f}")


if __name__ == "__main__":
    main()
