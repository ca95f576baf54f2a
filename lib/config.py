"""Run configuration shared by every notebook: scale, seeds, device and paths.

Every notebook starts with the same set-up cell::

    from lib import config
    SCALE = config.setup("01_rbm_pytorch", seed=0)

and picks its sizes with one line per hyper-parameter::

    N_EPOCHS = config.scaled(smoke=1, lecture=10, full=100)

The scale is read from the environment variable ``COURSE_SCALE``: ``smoke`` for CI,
``lecture`` by default, ``full`` for paper-level runs, and ``untrained``, the negative control.
``untrained`` is ``smoke`` in every size, but every training loop stops after its first
optimizer update and no trained model is loaded from disk: a cell that asserts what training
achieved (tagged ``learning-check``) must then fail. Training loops say so with
:func:`training`::

    for epoch in tqdm(config.training(range(N_EPOCHS))):
        for batch in config.training(loader):
            ...  # one update

A PyTorch lecture gets its device from :func:`torch_device`: CUDA, else Apple's MPS, else the
CPU; a lecture that needs float64 or an operator MPS lacks says so and gets the CPU instead of
MPS. ``COURSE_DEVICE`` (``cpu``, ``cuda`` or ``mps``) forces the choice.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import random
import sys
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: a TensorFlow lecture never loads it
    import torch

__all__ = [
    "DATA_DIR",
    "DEVICES",
    "REPO_ROOT",
    "SCALES",
    "build_dir",
    "current_notebook",
    "default_seed",
    "get_scale",
    "import_tensorflow",
    "run_id",
    "scaled",
    "seed",
    "seed_everything",
    "setup",
    "threads",
    "torch_device",
    "training",
    "training_steps",
    "untrained",
]

T = TypeVar("T")

#: The valid values of ``COURSE_SCALE``, from cheapest to most expensive.
SCALES: tuple[str, ...] = ("smoke", "lecture", "full", "untrained")
DEFAULT_SCALE = "lecture"
#: The valid values of ``COURSE_DEVICE`` (empty or unset: the automatic choice of :func:`torch_device`).
DEVICES: tuple[str, ...] = ("cpu", "cuda", "mps")

#: The repository checkout that holds this package (``lib`` is installed editable).
REPO_ROOT: Path = Path(__file__).resolve().parent.parent
#: Where downloaded datasets and trained helper models are cached.
DATA_DIR: Path = REPO_ROOT / "data"

_notebook: str | None = None
_run_id: str | None = None
_seed: int | None = None
_default_seed: int | None = None


def get_scale() -> str:
    """Return the run scale named by ``COURSE_SCALE`` (default ``"lecture"``).

    Raises:
        ValueError: if the variable holds anything but one of :data:`SCALES`.
    """
    value = os.environ.get("COURSE_SCALE", DEFAULT_SCALE).strip().lower() or DEFAULT_SCALE
    if value not in SCALES:
        raise ValueError(
            f"COURSE_SCALE={os.environ.get('COURSE_SCALE')!r} is not a valid scale; "
            f"use one of {', '.join(SCALES)} (default: {DEFAULT_SCALE})."
        )
    return value


def scaled(*, smoke: T, lecture: T, full: T) -> T:
    """Pick the value for the current scale, e.g. ``scaled(smoke=1, lecture=10, full=100)``.

    ``untrained`` takes the ``smoke`` value: the negative control differs from ``smoke`` only in
    its training loops (see :func:`training`).
    """
    scale = get_scale()
    return {"smoke": smoke, "lecture": lecture, "full": full, "untrained": smoke}[scale]


def build_dir() -> Path:
    """Where executed notebooks, recorded results and checkpoints go: ``$COURSE_BUILD_DIR``
    (default ``build``). A relative value is taken against the repository root, not the working
    directory, since nbval and Jupyter run notebooks from ``notebooks/``."""
    return REPO_ROOT / os.environ.get("COURSE_BUILD_DIR", "build")


def untrained() -> bool:
    """True for the negative control ``COURSE_SCALE=untrained``: train one update, load nothing."""
    return get_scale() == "untrained"


def training(iterable: Iterable[T]) -> Iterable[T] | Iterator[T]:
    """Wrap a training loop: every item, or only the first one when :func:`untrained`.

    Wrap each level of a nested loop (epochs and batches), so that the negative control makes
    exactly one optimizer update::

        for epoch in config.training(range(EPOCHS)):
            for batch in config.training(loader):
                ...
    """
    return itertools.islice(iterable, 1) if untrained() else iterable


def training_steps(n: int) -> int:
    """``n``, or 1 when :func:`untrained`: for loop counts given to a framework
    (``model.fit(epochs=...)``, scikit-learn's ``n_iter``)."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"a number of training steps must be a positive integer, got {n!r}")
    return 1 if untrained() else int(n)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator, and PyTorch / TensorFlow / Keras
    when the notebook has already imported them.

    A framework that is not imported yet is not seeded (nor imported: a PyTorch notebook never
    pulls in TensorFlow to seed it), so call this after importing your framework. Python's
    string hashing is not seeded: ``PYTHONHASHSEED`` only acts when the interpreter starts.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global RNG is what scikit-learn & co. use
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


def threads(wanted: int | None = None) -> int:
    """How many threads a notebook may use: ``wanted`` (default: every core), at most the budget.

    The budget is ``COURSE_THREADS`` when set: ``make run`` (``book/run.py``) runs several
    notebooks at once and gives each its share of the cores, since two notebooks that each spin
    two threads on two cores slow each other down many times over. Without it, the budget is the
    machine's core count.

    Raises:
        ValueError: ``wanted`` or ``COURSE_THREADS`` is not a positive integer.
    """
    cores = os.cpu_count() or 1
    raw = os.environ.get("COURSE_THREADS", "").strip()
    try:
        budget = int(raw) if raw else cores
    except ValueError:
        budget = 0
    if budget < 1:
        raise ValueError(
            f"COURSE_THREADS must be a positive integer, got {raw!r}; unset it to use every core"
        )
    if wanted is not None and (isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1):
        raise ValueError(f"threads(wanted) needs a positive integer, got {wanted!r}")
    return min(budget, cores if wanted is None else wanted)


def _mps_available(torch: Any) -> bool:
    """Whether this PyTorch build has Apple's MPS backend and the machine can use it."""
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and bool(mps.is_available())


def torch_device(
    verbose: bool = True, *, float64: bool = False, mps_unsupported: str | None = None
) -> torch.device:
    """Return the ``torch.device`` a PyTorch lecture runs on, and print which one and why.

    The automatic choice is CUDA when PyTorch sees an NVIDIA GPU, else Apple's MPS (Metal, on
    Apple Silicon), else the CPU. MPS has no float64 and lacks some operators, so a lecture that
    moves either onto the device says so, and gets the CPU on a machine whose only accelerator
    is MPS (with a line saying why)::

        DEVICE = config.torch_device()  # float32 throughout
        DEVICE = config.torch_device(float64=True)  # float64 tensors live on DEVICE
        DEVICE = config.torch_device(mps_unsupported="<the operator MPS lacks>")

    ``COURSE_DEVICE`` overrides the automatic choice: ``cpu``, ``cuda`` or ``mps`` (any case;
    empty or unset: automatic), e.g. ``COURSE_DEVICE=cpu`` to compare a GPU run with a CPU one.

    Args:
        verbose: print the chosen device (``torch device: cpu (CPU, 4 threads)``) and, on a
            fallback from MPS, why; false prints nothing.
        float64: the lecture moves float64 tensors onto the device (MPS cannot hold them).
        mps_unsupported: names what the lecture runs on the device that MPS lacks (an operator,
            a dtype), for the message; ``None`` when there is nothing.

    Raises:
        ValueError: ``COURSE_DEVICE`` is not one of :data:`DEVICES`, names a device this machine
            or PyTorch build does not have, or names MPS for a lecture that cannot run there;
            or ``mps_unsupported`` is an empty string.
    """
    import torch

    if mps_unsupported is not None and (not isinstance(mps_unsupported, str) or not mps_unsupported.strip()):
        raise ValueError(
            f"mps_unsupported names what MPS lacks (an operator's name), got {mps_unsupported!r} "
            "(leave it None when the lecture runs on MPS)"
        )
    lacking = (["float64"] if float64 else []) + ([mps_unsupported] if mps_unsupported else [])
    lacks = " and no ".join(lacking)  # "" when the lecture runs on MPS

    raw = os.environ.get("COURSE_DEVICE", "")
    wanted = raw.strip().lower()
    if wanted and wanted not in DEVICES:
        raise ValueError(
            f"COURSE_DEVICE={raw!r} is not a device: use one of {', '.join(DEVICES)}, or leave it empty "
            "(or unset it) for the automatic choice: CUDA, then Apple MPS, then the CPU."
        )
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "COURSE_DEVICE=cuda, but PyTorch sees no CUDA GPU here (torch.cuda.is_available() is "
            "false: no NVIDIA GPU or driver, or a CPU-only PyTorch build). Set COURSE_DEVICE=cpu, "
            "or unset it for the automatic choice."
        )
    if wanted == "mps" and not _mps_available(torch):
        raise ValueError(
            "COURSE_DEVICE=mps, but Apple MPS is not available here (it needs a Mac with Apple "
            "Silicon and a PyTorch build with MPS). Set COURSE_DEVICE=cpu, or unset it for the "
            "automatic choice."
        )
    if wanted == "mps" and lacks:
        raise ValueError(
            f"COURSE_DEVICE=mps, but Apple MPS has no {lacks}, which this lecture needs. "
            "Set COURSE_DEVICE=cpu, or unset it for the automatic choice (the CPU here)."
        )

    note = None
    if wanted == "cuda" or (not wanted and torch.cuda.is_available()):
        device = torch.device("cuda")
        name = torch.cuda.get_device_name(0)
    elif wanted == "mps" or (not wanted and _mps_available(torch) and not lacks):
        device = torch.device("mps")
        name = "Apple Metal (MPS)"
    else:
        if not wanted and _mps_available(torch):
            note = f"Apple MPS is available but has no {lacks}, which this lecture needs: using the CPU"
        device = torch.device("cpu")
        name = f"CPU, {torch.get_num_threads()} threads"
    if verbose:
        if note:
            print(note)
        print(f"torch device: {device} ({name})")
    return device


def import_tensorflow() -> tuple[Any, Any]:
    """Import TensorFlow and Keras, and return both: ``tf, keras = config.import_tensorflow()``.

    On import, TensorFlow's C++ core writes notices to the process's stderr (absl's "All log
    messages before absl::InitializeLog() ..." and "oneDNN custom operations are on ...", each
    twice) before any setting can silence them; a notebook shows them as a red stderr box that a
    student reads as an error. They say nothing about the run, so stderr is pointed at the null
    device while the two modules load, and TensorFlow's later informational logs are turned off
    (``TF_CPP_MIN_LOG_LEVEL=2``, unless set; absl's Python logs at ERROR). An import error itself
    still shows: it is raised as usual.

    On Python 3.13, PyTorch's ``torch._dynamo`` (which the first ``torch.optim`` optimiser imports)
    crashes the process with a segmentation fault when TensorFlow 2.21 was imported before it
    (PyTorch 2.13's Linux build; 3.11 is unaffected). Lectures use both: 02 compares with PyTorch's
    optimiser, and the Fréchet scorer's classifier trains with one. So there, where PyTorch is
    installed, it is imported first (tests/test_frameworks.py).
    """
    if sys.version_info >= (3, 13) and importlib.util.find_spec("torch") is not None:
        import torch._dynamo  # noqa: F401  (before TensorFlow: see above)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import keras
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    return tf, keras


def current_notebook() -> str | None:
    """The notebook name given to :func:`setup`, used by :mod:`lib.results`."""
    return _notebook


def seed() -> int:
    """The seed of this run: :func:`setup`'s ``seed``, or ``COURSE_SEED`` when set. Pass it to
    every seeded call (model initialisation, data order, samplers), so that ``COURSE_SEED``
    reruns the whole notebook with another seed.

    Raises:
        RuntimeError: before :func:`setup` has run.
    """
    if _seed is None:
        raise RuntimeError("no seed yet: call lib.config.setup('<notebook>', seed=...) first")
    return _seed


def default_seed() -> int | None:
    """The seed the notebook gives :func:`setup` (before ``COURSE_SEED``), or None before it."""
    return _default_seed


def run_id() -> str | None:
    """A token that :func:`setup` draws afresh for every run of a notebook. :mod:`lib.results`
    keeps it with what it records, so that a new run never mixes with an earlier run's numbers."""
    return _run_id


def setup(notebook: str, *, seed: int = 0, quiet: bool = False) -> str:
    """The common first cell of every notebook.

    Validates ``COURSE_SCALE``, seeds every random generator, remembers the notebook's name
    for :func:`lib.results.record` and starts a new run (:func:`run_id`: what an earlier run
    recorded is replaced, never mixed in), and prints a one-line summary. Returns the scale.

    ``COURSE_SEED``, when set, replaces ``seed``: rerun a notebook with several seeds to see how
    far its results move before choosing an assert's margin.
    """
    global _notebook, _run_id, _seed, _default_seed
    if not notebook or not isinstance(notebook, str):
        raise ValueError("setup() needs the notebook's name, e.g. setup('01_rbm_pytorch')")
    scale = get_scale()
    _default_seed = seed
    if os.environ.get("COURSE_SEED", "").strip():  # to check that a result holds across seeds
        try:
            seed = int(os.environ["COURSE_SEED"])
        except ValueError:
            raise ValueError(f"COURSE_SEED={os.environ['COURSE_SEED']!r} is not an integer seed") from None
    _notebook = notebook
    _run_id = uuid.uuid4().hex
    _seed = seed
    seed_everything(seed)
    if not quiet:
        data_dir = os.environ.get("COURSE_DATA_DIR", str(DATA_DIR))
        print(f"notebook {notebook}: scale={scale}, seed={seed}, data={data_dir}")
    return scale
