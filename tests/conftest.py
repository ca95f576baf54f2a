"""Shared fixtures: small synthetic IDX datasets and a throw-away data cache."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import lib.config as config


@pytest.fixture
def one_torch_thread():
    """Small tensors: one PyTorch thread avoids OpenMP contention when the tests run in parallel
    (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file (magic 0x0000 08 <rank>, big-endian dims)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_split(folder: Path, split: str, images: np.ndarray, labels: np.ndarray, gz: bool = True) -> None:
    """Write one split's two IDX files into ``folder`` (gzipped unless ``gz`` is false)."""
    folder.mkdir(parents=True, exist_ok=True)
    stems = {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }[split]
    for stem, arr in zip(stems, (images, labels)):
        raw = idx_bytes(arr)
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)


def fake_split(n: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """No COURSE_DATA_DIR, an empty repo cache in tmp, no system datasets: nothing is found."""
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_MNIST_MIRRORS", raising=False)
    monkeypatch.delenv("COURSE_FASHION_MIRRORS", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setattr(config, "DATA_DIR", cache)
    import lib.data as data

    monkeypatch.setattr(data, "SYSTEM_DIRS", {"digits": [], "fashion": []})
    return cache
