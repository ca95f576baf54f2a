"""Run configuration shared by every notebook: scale, seeds, device and paths.

Every notebook starts with the same set-up cell::

    from lib import config
    SCALE = config.setup("01_rbm_pytorch", seed=0)

and picks its sizes with one line per hyper-parameter::

    N_EPOCHS = config.scaled(smoke=1, lecture=10, full=100)

The scale is read from the environment variable ``COURSE_SCALE``
(``smoke`` for CI, ``lecture`` by default, ``full`` for paper-level runs).
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "BUILD_DIR",
    "DATA_DIR",
    "REPO_ROOT",
    "SCALES",
    "current_notebook",
    "get_scale",
    "scaled",
    "seed_everything",
    "setup",
    "torch_device",
]

T = TypeVar("T")

#: The valid values of ``COURSE_SCALE``, from cheapest to most expensive.
SCALES: tuple[str, ...] = ("smoke", "lecture", "full")
DEFAULT_SCALE = "lecture"

#: The repository checkout that holds this package (``lib`` is installed editable).
REPO_ROOT: Path = Path(__file__).resolve().parent.parent
#: Where downloaded datasets and trained helper models are cached.
DATA_DIR: Path = REPO_ROOT / "data"
#: Where executed notebooks and recorded results go (``COURSE_BUILD_DIR`` overrides it).
BUILD_DIR: Path = Path(os.environ.get("COURSE_BUILD_DIR", REPO_ROOT / "build"))

_notebook: str | None = None


def get_scale() -> str:
    """Return the run scale named by ``COURSE_SCALE`` (default ``"lecture"``).

    Raises:
        ValueError: if the variable holds anything but ``smoke``, ``lecture`` or ``full``.
    """
    value = os.environ.get("COURSE_SCALE", DEFAULT_SCALE).strip().lower() or DEFAULT_SCALE
    if value not in SCALES:
        raise ValueError(
            f"COURSE_SCALE={os.environ.get('COURSE_SCALE')!r} is not a valid scale; "
            f"use one of {', '.join(SCALES)} (default: {DEFAULT_SCALE})."
        )
    return value


def scaled(*, smoke: T, lecture: T, full: T) -> T:
    """Pick the value for the current scale, e.g. ``scaled(smoke=1, lecture=10, full=100)``."""
    return {"smoke": smoke, "lecture": lecture, "full": full}[get_scale()]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy, and PyTorch / TensorFlow if they are already imported
    or importable.

    A framework that the notebook has not imported is only seeded when it can be imported
    cheaply *and* the notebook uses it: we never import TensorFlow into a PyTorch notebook
    (or the reverse) just to seed it.  Call this after importing your framework.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global RNG is what scikit-learn & co. use
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.manual_seed(seed)
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        tf.random.set_seed(seed)
    if "keras" in sys.modules:
        keras = sys.modules["keras"]
        utils = getattr(keras, "utils", None)
        if utils is not None and hasattr(utils, "set_random_seed"):
            utils.set_random_seed(seed)


def torch_device(verbose: bool = True) -> Any:
    """Return the best available ``torch.device`` (CUDA, then Apple MPS, then CPU).

    Prints which one it chose unless ``verbose`` is false.
    """
    import torch

    if torch.cuda.is_available():
        device = torch.device("cuda")
        name = torch.cuda.get_device_name(0)
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = torch.device("mps")
        name = "Apple Metal (MPS)"
    else:
        device = torch.device("cpu")
        name = f"CPU, {torch.get_num_threads()} threads"
    if verbose:
        print(f"torch device: {device} ({name})")
    return device


def current_notebook() -> str | None:
    """The notebook name given to :func:`setup`, used by :mod:`lib.results`."""
    return _notebook


def setup(notebook: str, *, seed: int = 0, quiet: bool = False) -> str:
    """The common first cell of every notebook.

    Validates ``COURSE_SCALE``, seeds every random generator, remembers the notebook's name
    for :func:`lib.results.record` (and clears what an earlier run of it recorded), and prints a
    one-line summary. Returns the scale.
    """
    global _notebook
    if not notebook or not isinstance(notebook, str):
        raise ValueError("setup() needs the notebook's name, e.g. setup('01_rbm_pytorch')")
    scale = get_scale()
    _notebook = notebook
    seed_everything(seed)
    from . import results  # a fresh run records afresh: no stale numbers from an earlier run

    results.reset(notebook)
    if not quiet:
        data_dir = os.environ.get("COURSE_DATA_DIR", str(DATA_DIR))
        print(f"notebook {notebook}: scale={scale}, seed={seed}, data={data_dir}")
    return scale
