"""The IDX file format of MNIST and Fashion-MNIST: reading, with structural checks.

Local files are checked for structure (magic number, data type, rank, a length that agrees
with the header's dimensions, 28×28 images, as many labels as images), not for the canonical
checksums, so a smaller real split (as in ``../shared/data``) loads fine. Gzipped and plain
files are both read. :mod:`lib.data` finds the files and downloads them.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["FILES", "CorruptDataError", "DataError", "read_idx", "read_split"]

#: The file names (without ``.gz``) of each split: (images, labels).
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_IDX_DTYPES = {0x08: np.uint8}


class DataError(Exception):
    """Base class of the dataset errors: ``except DataError`` handles a missing dataset
    (:class:`lib.data.DatasetUnavailable`) and a corrupt file (:class:`CorruptDataError`) alike."""


class CorruptDataError(DataError, ValueError):
    """A dataset file exists but its content is not a valid IDX file of the expected kind."""


def _open_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as exc:  # truncated or not gzip at all
        raise CorruptDataError(
            f"{path}: cannot be decompressed ({exc}). The file is truncated or corrupt; "
            "delete it and load again (or re-download it)."
        ) from exc


def read_idx(path: str | os.PathLike[str], expected_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a ``uint8`` array after structural checks.

    Raises:
        CorruptDataError: bad magic number, unsupported type, wrong number of dimensions, or
            a length that disagrees with the header's dimensions.
    """
    path = Path(path)
    raw = _open_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise CorruptDataError(
            f"{path}: bad magic number {raw[:4].hex() or '(empty file)'}; expected an IDX file "
            "starting with 0x0000 followed by type and rank bytes (e.g. 00000803 for images)."
        )
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code not in _IDX_DTYPES:
        raise CorruptDataError(f"{path}: IDX data type 0x{dtype_code:02x} is not unsigned bytes (0x08).")
    if expected_ndim is not None and ndim != expected_ndim:
        raise CorruptDataError(
            f"{path}: IDX rank {ndim}, expected {expected_ndim} "
            f"({'images N×28×28' if expected_ndim == 3 else 'labels N'})."
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptDataError(f"{path}: file ends inside its header ({len(raw)} bytes).")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != expected:
        raise CorruptDataError(
            f"{path}: header says dimensions {dims} ({expected} bytes of data) but the file holds "
            f"{len(raw) - header} bytes; it is truncated or corrupt."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _find_file(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def read_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``(images, labels)`` of one split from the IDX files in ``directory``, or ``None`` when
    either file is missing. Raises :class:`CorruptDataError` when a file is malformed."""
    image_stem, label_stem = FILES[split]
    image_path = _find_file(directory, image_stem)
    label_path = _find_file(directory, label_stem)
    if image_path is None or label_path is None:
        return None
    images = read_idx(image_path, expected_ndim=3)
    labels = read_idx(label_path, expected_ndim=1)
    if images.shape[1:] != (28, 28):
        raise CorruptDataError(f"{image_path}: images are {images.shape[1:]}, expected 28×28.")
    if len(images) != len(labels):
        raise CorruptDataError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels; "
            "the two files must come from the same split."
        )
    if labels.size and labels.max() > 9:
        raise CorruptDataError(f"{label_path}: labels must be 0..9, found {labels.max()}.")
    return images, labels
