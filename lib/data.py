"""MNIST and Fashion-MNIST: offline-first loading, verified downloads, and the small
transformations (binarization, scaling, framework adapters) that the notebooks share.

Where :func:`load_mnist` looks, in order:

1. ``data_dir`` if given;
2. the directory named by ``COURSE_DATA_DIR``;
3. the repository's ``data/`` cache;
4. for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist/``
   (``apt-get install dataset-fashion-mnist``; not on Windows).

Inside a directory the four standard IDX files (``train-images-idx3-ubyte.gz`` …) are
expected in a subfolder ``mnist/`` or ``fashion-mnist/``, gzipped or not, and read by
:mod:`lib.idx`, which checks their structure, not the canonical checksums (so a smaller real
split, as in ``../shared/data``, loads fine). ``read_idx`` and the error classes are
re-exported here.

If nothing is found and ``allow_download`` is true, the files are fetched from public mirrors in
turn, each verified against its canonical SHA-256, written to a temporary file and renamed
into ``data/`` only when complete and verified.

**Three splits.** The official training file is cut in two: a fixed random sixth of it is the
``"validation"`` split (10,000 of MNIST's 60,000; 1,333 of the offline subset's 8,000), and
``"train"`` is the rest. No model of the course and not the classifier behind the Fréchet
distance train on the validation digits, which are drawn like the training digits: they give the
FCD's ``unseen_real`` reference point (what unseen real digits of the training distribution score:
a reference, not a floor, since a model that reproduces its training images scores below it) and
measure over-fitting (train against validation, one distribution) apart from the test digits, which
can come from another distribution (the offline subset's test digits are harder). ``"test"`` is the
official test file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypedDict, Unpack

import numpy as np

from . import config
from .atomic import write_atomic
from .idx import FILES, CorruptDataError, DataError, read_idx, read_split

__all__ = [
    "MIRRORS",
    "SHA256",
    "BatchOptions",
    "CorruptDataError",
    "DataError",
    "DatasetUnavailable",
    "binarize",
    "likelihood_test_set",
    "load_mnist",
    "read_idx",
    "to_float",
    "to_tf_dataset",
    "to_torch_loader",
    "validation_size",
]

Kind = Literal["digits", "fashion"]
Split = Literal["train", "validation", "test"]
#: The part of the official training file held out as the validation split, drawn at random with
#: a fixed seed.
VALIDATION_FRACTION = 1 / 6
VALIDATION_SEED = 0

#: Subfolder of a data directory for each kind.
SUBDIRS: dict[str, str] = {"digits": "mnist", "fashion": "fashion-mnist"}
#: System directories that may hold a dataset directly (no subfolder): Debian's package on POSIX
#: systems only (on Windows ``/usr/...`` would name a folder on the current drive).
SYSTEM_DIRS: dict[str, list[Path]] = {
    "digits": [],
    "fashion": [Path("/usr/share/datasets/fashion-mnist")] if os.name == "posix" else [],
}

#: Canonical SHA-256 of the official gzipped files.
SHA256: dict[str, dict[str, str]] = {
    "digits": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

#: Public mirrors, tried in order. For digits: torchvision's mirror, the Google mirror used by
#: TensorFlow, and the original site; for Fashion-MNIST: Zalando's bucket and the Google mirror
#: used by Keras. Override with ``mirrors=`` or ``COURSE_MNIST_MIRRORS`` (space-separated URLs).
MIRRORS: dict[str, list[str]] = {
    "digits": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ],
}


class DatasetUnavailable(DataError, FileNotFoundError):
    """The dataset is not on disk and could not be downloaded."""


# --------------------------------------------------------------------------- finding


def search_dirs(kind: Kind, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The directories :func:`load_mnist` searches, in order, for a dataset kind."""
    _check_kind(kind)
    sub = SUBDIRS[kind]
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir))
    if os.environ.get("COURSE_DATA_DIR"):
        roots.append(Path(os.environ["COURSE_DATA_DIR"]))
    roots.append(config.DATA_DIR)
    dirs = [root / sub for root in roots]
    dirs.extend(SYSTEM_DIRS[kind])
    return dirs


# --------------------------------------------------------------------------- downloading


def _mirrors(kind: str, mirrors: Sequence[str] | None) -> list[str]:
    if mirrors is not None:
        return list(mirrors)
    env = os.environ.get("COURSE_MNIST_MIRRORS" if kind == "digits" else "COURSE_FASHION_MIRRORS")
    if env:
        return env.split()
    return MIRRORS[kind]


def _download_file(url: str, target: Path, sha256: str, timeout: float) -> None:
    """Download ``url`` to ``target`` atomically, verifying its SHA-256.

    Writes to a temporary file in the target's folder and renames it into place only when
    the download is complete and its checksum matches; on any failure nothing is left.
    """

    def fetch(out: BinaryIO) -> None:
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=timeout) as response:
            expected_length = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
        if expected_length is not None and received != int(expected_length):
            raise OSError(f"incomplete download: {received} of {expected_length} bytes")
        if digest.hexdigest() != sha256:
            raise OSError(f"SHA-256 mismatch: got {digest.hexdigest()}, expected {sha256}")

    write_atomic(target, fetch)


def download(
    kind: Kind = "digits",
    split: Split | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download a dataset's IDX files (one split, or both) into ``<data_dir>/<subfolder>/``.

    Each file is tried on every mirror in turn until one delivers it with the canonical
    SHA-256. Returns the folder. Raises :class:`DatasetUnavailable` listing every URL tried
    and why it failed.
    """
    _check_kind(kind)
    folder = Path(data_dir if data_dir is not None else config.DATA_DIR) / SUBDIRS[kind]
    splits = [split] if split is not None else ["train", "test"]
    failures: list[str] = []
    for s in splits:
        for stem in FILES[_check_split(s)]:
            name = stem + ".gz"
            target = folder / name
            if target.is_file():
                continue
            for base in _mirrors(kind, mirrors):
                url = base.rstrip("/") + "/" + name
                try:
                    _download_file(url, target, SHA256[kind][name], timeout)
                    break
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    failures.append(f"  {url}: {exc}")
            else:
                raise DatasetUnavailable(
                    f"could not download {name} ({kind}) from any mirror:\n"
                    + "\n".join(failures)
                    + "\nCheck your internet connection, pass mirrors=[...] or set "
                    "COURSE_MNIST_MIRRORS / COURSE_FASHION_MIRRORS, or put the IDX files in "
                    f"{folder} by hand."
                )
    return folder


# --------------------------------------------------------------------------- public loader


def _check_kind(kind: str) -> str:
    if kind not in SUBDIRS:
        raise ValueError(f"kind must be one of {sorted(SUBDIRS)}, got {kind!r}")
    return kind


def _check_split(split: str) -> str:
    if split not in ("train", "validation", "test"):
        raise ValueError(f"split must be 'train', 'validation' or 'test', got {split!r}")
    return split


def validation_size(n_official_train: int) -> int:
    """How many of the official training file's ``n`` images the validation split holds: a sixth,
    rounded down (10,000 of 60,000)."""
    return int(n_official_train * VALIDATION_FRACTION)


def _cut(found: tuple[np.ndarray, np.ndarray], split: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``split`` part of the official file's ``(images, labels)`` (``test``: all of it). The
    validation images are a fixed random sixth of the training file (drawn with a fixed seed, so
    that they are drawn like the training images whatever the file's order: the offline subset's
    training digits come from two NIST collections one after the other); each part keeps the
    file's order."""
    if split == "test":
        return found
    images, labels = found
    held = np.zeros(len(images), dtype=bool)
    held[np.random.default_rng(VALIDATION_SEED).permutation(len(images))[: validation_size(len(images))]] = (
        True
    )
    part = held if split == "validation" else ~held
    return images[part], labels[part]


def load_mnist(
    split: Split,
    *,
    kind: Kind = "digits",
    data_dir: str | os.PathLike[str] | None = None,
    allow_download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST digits or Fashion-MNIST.

    Args:
        split: ``"train"``, ``"validation"`` (a fixed random sixth of the official training file,
            on which nothing in the course trains) or ``"test"`` (the official test file).
        kind: ``"digits"`` (MNIST) or ``"fashion"`` (Fashion-MNIST).
        data_dir: a directory searched first (files in its ``mnist/`` or ``fashion-mnist/``).
        allow_download: fetch from the public mirrors when no local copy exists.
        mirrors: base URLs to download from instead of :data:`MIRRORS`.

    Returns:
        ``(images, labels)``: ``uint8`` arrays shaped ``(N, 28, 28)`` and ``(N,)``.

    Raises:
        DatasetUnavailable: nowhere on disk and the download is off or failed everywhere.
        CorruptDataError: a file was found but is not a valid IDX file of that split.
    """
    _check_split(split)
    official = "test" if split == "test" else "train"
    dirs = search_dirs(kind, data_dir)
    for directory in dirs:
        found = read_split(directory, official)
        if found is not None:
            return _cut(found, split)
    searched = "\n".join(f"  {d}" for d in dirs)
    hint = (
        "Set COURSE_DATA_DIR to a folder with a mnist/ or fashion-mnist/ subfolder holding the "
        "IDX files (for the offline fixture: COURSE_DATA_DIR=../shared/data)"
        + (", or install Debian's dataset-fashion-mnist" if kind == "fashion" else "")
        + "."
    )
    if not allow_download:
        raise DatasetUnavailable(
            f"{kind} ({split}) not found; searched:\n{searched}\nDownloading is off. {hint}"
        )
    try:
        folder = download(kind, official, data_dir=data_dir, mirrors=mirrors)
    except DatasetUnavailable as exc:
        raise DatasetUnavailable(
            f"{kind} ({split}) not found; searched:\n{searched}\n{exc}\n{hint}"
        ) from None
    found = read_split(folder, official)
    assert found is not None
    return _cut(found, split)


def likelihood_test_set() -> np.ndarray:
    """The images every test log-likelihood of the course is measured on: every test digit,
    binarized stochastically once with seed 1 (Salakhutdinov & Murray's convention, a fixed draw),
    flattened: ``(N, 784)`` float32 in {0, 1}. Likelihoods of different models on these images
    are comparable (:func:`lib.comparison.record_model` checks it by their fingerprint)."""
    images, _ = load_mnist("test")
    return binarize(images, "stochastic", seed=1).reshape(len(images), -1)


# --------------------------------------------------------------------------- transformations


def to_float(images: np.ndarray, range: Literal["unit", "symmetric"] = "unit") -> np.ndarray:
    """Scale ``uint8`` pixels to ``float32`` in [0, 1] (``"unit"``) or [-1, 1] (``"symmetric"``)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels (0..255), got dtype {images.dtype}")
    x = images.astype(np.float32) / 255.0
    if range == "unit":
        return x
    if range == "symmetric":
        return 2.0 * x - 1.0
    raise ValueError(f"range must be 'unit' or 'symmetric', got {range!r}")


def binarize(
    images: np.ndarray,
    method: Literal["threshold", "stochastic"] = "threshold",
    *,
    threshold: float = 0.5,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Binarize images to ``float32`` 0/1.

    ``"threshold"``: pixel intensity (in [0, 1]) above ``threshold``. ``"stochastic"``: each
    pixel is 1 with probability equal to its intensity, drawn once with ``seed``, as in
    Salakhutdinov & Murray (2008). (This is a fixed stochastic binarization. *Dynamic*
    binarization, as in Burda et al. (2016), draws a fresh binary image every epoch: call this
    function once per epoch with a new seed for that.) ``uint8`` input is scaled by 1/255 first.
    """
    x = np.asarray(images)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise ValueError("binarize expects uint8 pixels or floats in [0, 1]")
    if method == "threshold":
        return (x > threshold).astype(np.float32)
    if method == "stochastic":
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)
    raise ValueError(f"method must be 'threshold' or 'stochastic', got {method!r}")


class BatchOptions(TypedDict, total=False):
    """The keyword arguments of :func:`to_torch_loader` and :func:`to_tf_dataset`."""

    batch_size: int  # default 64
    shuffle: bool  # reshuffle every epoch (default True)
    seed: int | None  # of the shuffling (default 0; None: unseeded)
    drop_last: bool  # drop a last, smaller batch (default False)


_BATCH_DEFAULTS: BatchOptions = {"batch_size": 64, "shuffle": True, "seed": 0, "drop_last": False}


def _batching(arrays: Sequence[np.ndarray], options: BatchOptions, who: str) -> BatchOptions:
    """The options with their defaults, after checking them and that the arrays have one length."""
    if not arrays:
        raise ValueError(f"{who} needs at least one array")
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"arrays must have the same length, got {[len(a) for a in arrays]}")
    unknown = sorted(set(options) - set(_BATCH_DEFAULTS))
    if unknown:
        raise TypeError(f"{who} got unknown option(s) {unknown}; the options are {sorted(_BATCH_DEFAULTS)}")
    return {**_BATCH_DEFAULTS, **options}


def to_torch_loader(*arrays: np.ndarray, **options: Unpack[BatchOptions]) -> Any:
    """Wrap NumPy arrays in a ``torch.utils.data.DataLoader`` (``num_workers=0``).

    Yields tuples of tensors (or a single tensor when one array is given). The options are
    :class:`BatchOptions`. PyTorch is imported here, not at module import.
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    opt = _batching(arrays, options, "to_torch_loader")
    tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
    seed = opt["seed"]
    loader = DataLoader(
        TensorDataset(*tensors),
        batch_size=opt["batch_size"],
        shuffle=opt["shuffle"],
        drop_last=opt["drop_last"],
        num_workers=0,
        generator=torch.Generator().manual_seed(seed) if seed is not None else None,
    )
    if len(arrays) == 1:
        return _Unwrap(loader)
    return loader


class _Unwrap:
    """A DataLoader over one tensor that yields the tensor itself instead of a 1-tuple."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.dataset = loader.dataset
        self.batch_size = loader.batch_size

    def __iter__(self) -> Iterator[Any]:
        for (batch,) in self.loader:
            yield batch

    def __len__(self) -> int:
        return len(self.loader)


def to_tf_dataset(*arrays: np.ndarray, **options: Unpack[BatchOptions]) -> Any:
    """Wrap NumPy arrays in a batched ``tf.data.Dataset`` (TensorFlow imported lazily); the options
    are :class:`BatchOptions`."""
    import tensorflow as tf

    opt = _batching(arrays, options, "to_tf_dataset")
    ds = tf.data.Dataset.from_tensor_slices(arrays[0] if len(arrays) == 1 else tuple(arrays))
    if opt["shuffle"]:
        ds = ds.shuffle(len(arrays[0]), seed=opt["seed"], reshuffle_each_iteration=True)
    return ds.batch(opt["batch_size"], drop_remainder=opt["drop_last"]).prefetch(tf.data.AUTOTUNE)
