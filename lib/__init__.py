"""``lib``: the shared code of the course *Deep generative models for the physical sciences*.

Submodules are imported on first use, so ``import lib`` is cheap and never pulls in PyTorch
or TensorFlow::

    import lib
    lib.config.scaled(smoke=1, lecture=10, full=100)
    from lib import data, plotting
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {
    "atomic", "autoregressive", "cache", "cache_key", "cache_store", "checks", "cli", "comparison", "config", "data", "diffusion",
    "divergences", "exercises", "flows", "gan", "idx", "ising", "ising_mc", "memorisation", "metrics", "neural_samplers",
    "nqs", "phi4", "plotting", "rbm", "rbm_torch", "results", "samplers", "spin_chains", "toy2d", "vae",
}  # fmt: skip

__all__ = sorted(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'lib' has no attribute {name!r}")
